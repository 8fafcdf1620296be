/* sg_cell.c — the cell interface and the built-in cells (see sg_cell.h).
 *
 * Op calls only: every step is recorded on the tape and differentiated by it.
 * Dimension legend: B batch, I input features, H hidden units, G gates.
 */
#include "models/rnn/sg_cell.h"

#include "graph/core/sg_alloc.h"
#include "graph/core/sg_init.h"
#include "ops/sg_ops.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

const char *sg_cell_kind_name(sg_cell_kind k)
{
    switch (k) {
    case SG_CELL_RNN: return "rnn";
    case SG_CELL_LSTM: return "lstm";
    case SG_CELL_PEEPHOLE: return "peephole";
    case SG_CELL_GRU: return "gru";
    case SG_CELL_CUSTOM: return "custom";
    }
    return "?";
}

sg_status sg_cell_kind_parse(const char *name, sg_cell_kind *out)
{
    static const sg_cell_kind kinds[] = {SG_CELL_RNN, SG_CELL_LSTM, SG_CELL_PEEPHOLE, SG_CELL_GRU};
    if (!name || !out)
        return SG_ERR_ARG;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(name, sg_cell_kind_name(kinds[i])) == 0) {
            *out = kinds[i];
            return SG_OK;
        }
    return SG_ERR_ARG;
}

/* "<a>.<b>" on the heap (the caller frees it with sg_free); NULL when out of memory. */
static char *sg_cell_join(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *s = sg_malloc(na + 1 + nb + 1);
    if (!s)
        return NULL;
    memcpy(s, a, na);
    s[na] = '.';
    memcpy(s + na + 1, b, nb + 1);
    return s;
}

/* Whether "<prefix>.<suffix>" is already a parameter of ps (false when out of
 * memory: the add that follows then fails and reports it). */
static bool sg_cell_name_taken(const sg_params *ps, const char *prefix, const char *suffix)
{
    char *full = sg_cell_join(prefix, suffix);
    bool taken = full && sg_params_find(ps, full) != NULL;
    sg_free(full);
    return taken;
}

sg_param *sg_cell_add_param(sg_cell *cell, const char *suffix, sg_shape shape)
{
    if (!cell || !cell->ps || !cell->name || !suffix)
        return NULL;
    void *items = cell->params;
    if (!sg_array_reserve(&items, &cell->cap_params, cell->n_params + 1, sizeof *cell->params))
        return NULL;
    cell->params = items;
    char *full = sg_cell_join(cell->name, suffix);
    sg_param *p = full ? sg_params_add(cell->ps, full, shape) : NULL;
    sg_free(full);
    if (p)
        cell->params[cell->n_params++] = p;
    return p;
}

void sg_cell_free(sg_cell *cell)
{
    if (!cell)
        return;
    sg_free(cell->name);
    sg_free(cell->params);
    memset(cell, 0, sizeof *cell);
}

/* Fills the common fields and adds W_x, b_x when gates > 0.  On error the cell
 * is freed.  `extra` lists the suffixes the caller will add next, so that a
 * taken name is refused before anything is added. */
static sg_status sg_cell_begin(sg_cell *cell, sg_params *ps, const char *prefix, sg_cell_kind kind, size_t input,
                               size_t hidden, size_t gates, bool has_c, const char *const *extra, size_t n_extra)
{
    if (!cell)
        return SG_ERR_ARG;
    memset(cell, 0, sizeof *cell);
    if (!ps || !prefix || input == 0 || hidden == 0)
        return SG_ERR_ARG;
    if (gates > 0 && (sg_cell_name_taken(ps, prefix, "W_x") || sg_cell_name_taken(ps, prefix, "b_x")))
        return SG_ERR_ARG;
    for (size_t i = 0; i < n_extra; i++)
        if (sg_cell_name_taken(ps, prefix, extra[i]))
            return SG_ERR_ARG;
    size_t n = strlen(prefix) + 1;
    cell->name = sg_malloc(n);
    if (!cell->name)
        return SG_ERR_NOMEM;
    memcpy(cell->name, prefix, n);
    cell->kind = kind;
    cell->input = input;
    cell->hidden = hidden;
    cell->gates = gates;
    cell->has_c = has_c;
    cell->ps = ps;
    if (gates > 0) {
        cell->W_x = sg_cell_add_param(cell, "W_x", SG_SHAPE(input, gates * hidden));
        cell->b_x = sg_cell_add_param(cell, "b_x", SG_SHAPE(gates * hidden));
        if (!cell->W_x || !cell->b_x) {
            sg_cell_free(cell);
            return SG_ERR_NOMEM;
        }
    }
    return SG_OK;
}

/* ---- built-in steps ------------------------------------------------------ */

/* h_rec W_h + b_h -> (B, G*H). */
static sg_tensor *sg_cell_recurrent(sg_graph *g, const sg_cell *cell, const sg_cell_state *prev)
{
    sg_tensor *hr = prev->h_rec ? prev->h_rec : prev->h; /* (B, H) */
    return sg_affine(g, hr, sg_param_use(g, cell->W_h), sg_param_use(g, cell->b_h));
}

/* h' = f(xp + h W_h + b_h);  xp (B, H). */
bool sg_cell_step_rnn(sg_graph *g, const sg_cell *cell, sg_tensor *xp, const sg_cell_state *prev, sg_cell_state *next)
{
    next->h = sg_activate(g, cell->act, sg_add(g, xp, sg_cell_recurrent(g, cell, prev))); /* (B, H) */
    return next->h != NULL;
}

/* LSTM and peephole LSTM; xp (B, 4H), gate order i, f, g, o. */
bool sg_cell_step_lstm(sg_graph *g, const sg_cell *cell, sg_tensor *xp, const sg_cell_state *prev, sg_cell_state *next)
{
    sg_tensor *pre = sg_add(g, xp, sg_cell_recurrent(g, cell, prev)); /* (B, 4H) */
    sg_tensor *a[4];                                                  /* (B, H) each: a_i a_f a_g a_o */
    if (sg_split(g, pre, 1, 4, a) != SG_OK)
        return false;
    bool peep = cell->kind == SG_CELL_PEEPHOLE;
    sg_tensor *c = prev->c; /* (B, H) */
    if (peep) {
        a[0] = sg_add(g, a[0], sg_hadamard(g, c, sg_param_use(g, cell->p_i)));
        a[1] = sg_add(g, a[1], sg_hadamard(g, c, sg_param_use(g, cell->p_f)));
    }
    sg_tensor *i = sg_sigmoid(g, a[0]), *f = sg_sigmoid(g, a[1]), *u = sg_tanh(g, a[2]);
    next->c = sg_add(g, sg_hadamard(g, f, c), sg_hadamard(g, i, u)); /* (B, H) */
    if (peep)
        a[3] = sg_add(g, a[3], sg_hadamard(g, next->c, sg_param_use(g, cell->p_o)));
    sg_tensor *o = sg_sigmoid(g, a[3]);
    next->h = sg_hadamard(g, o, sg_tanh(g, next->c)); /* (B, H) */
    return next->h != NULL;
}

/* GRU as torch.nn.GRU; xp (B, 3H), gate order r, z, n. */
bool sg_cell_step_gru(sg_graph *g, const sg_cell *cell, sg_tensor *xp, const sg_cell_state *prev, sg_cell_state *next)
{
    sg_tensor *xg[3], *hg[3]; /* (B, H) each: r, z, n parts of x W_x + b_x and h W_h + b_h */
    if (sg_split(g, xp, 1, 3, xg) != SG_OK || sg_split(g, sg_cell_recurrent(g, cell, prev), 1, 3, hg) != SG_OK)
        return false;
    sg_tensor *r = sg_sigmoid(g, sg_add(g, xg[0], hg[0]));
    sg_tensor *z = sg_sigmoid(g, sg_add(g, xg[1], hg[1]));
    sg_tensor *n = sg_tanh(g, sg_add(g, xg[2], sg_hadamard(g, r, hg[2])));
    next->h = sg_add(g, n, sg_hadamard(g, z, sg_sub(g, prev->h, n))); /* (1 - z) n + z h */
    return next->h != NULL;
}

/* ---- built-in inits ------------------------------------------------------ */

static sg_status sg_cell_init_builtin(sg_cell *cell, sg_params *ps, const char *prefix, sg_cell_kind kind,
                                      sg_activation act, size_t input, size_t hidden)
{
    static const char *const names[] = {"W_h", "b_h", "p_i", "p_f", "p_o"};
    size_t gates = kind == SG_CELL_RNN ? 1 : kind == SG_CELL_GRU ? 3 : 4;
    bool peep = kind == SG_CELL_PEEPHOLE;
    bool has_c = kind == SG_CELL_LSTM || peep;
    sg_status st = sg_cell_begin(cell, ps, prefix, kind, input, hidden, gates, has_c, names, peep ? 5 : 2);
    if (st)
        return st;
    cell->act = act;
    cell->step = kind == SG_CELL_RNN ? sg_cell_step_rnn : kind == SG_CELL_GRU ? sg_cell_step_gru : sg_cell_step_lstm;
    cell->W_h = sg_cell_add_param(cell, "W_h", SG_SHAPE(hidden, gates * hidden));
    cell->b_h = sg_cell_add_param(cell, "b_h", SG_SHAPE(gates * hidden));
    bool ok = cell->W_h && cell->b_h;
    if (ok && peep) {
        cell->p_i = sg_cell_add_param(cell, "p_i", SG_SHAPE(hidden));
        cell->p_f = sg_cell_add_param(cell, "p_f", SG_SHAPE(hidden));
        cell->p_o = sg_cell_add_param(cell, "p_o", SG_SHAPE(hidden));
        ok = cell->p_i && cell->p_f && cell->p_o;
    }
    if (!ok) {
        sg_cell_free(cell);
        return SG_ERR_NOMEM;
    }
    return SG_OK;
}

sg_status sg_cell_init_kind(sg_cell *cell, sg_params *ps, const char *prefix, sg_cell_kind kind, sg_activation act,
                            size_t input, size_t hidden)
{
    if (kind != SG_CELL_RNN && kind != SG_CELL_LSTM && kind != SG_CELL_PEEPHOLE && kind != SG_CELL_GRU) {
        if (cell)
            memset(cell, 0, sizeof *cell);
        return SG_ERR_ARG;
    }
    if (kind == SG_CELL_RNN && act != SG_ACT_TANH && act != SG_ACT_SIGMOID && act != SG_ACT_RELU) {
        if (cell)
            memset(cell, 0, sizeof *cell);
        return SG_ERR_ARG;
    }
    return sg_cell_init_builtin(cell, ps, prefix, kind, act, input, hidden);
}

sg_status sg_cell_init_rnn(sg_cell *cell, sg_params *ps, const char *prefix, size_t input, size_t hidden,
                           sg_activation f)
{
    return sg_cell_init_kind(cell, ps, prefix, SG_CELL_RNN, f, input, hidden);
}

sg_status sg_cell_init_lstm(sg_cell *cell, sg_params *ps, const char *prefix, size_t input, size_t hidden)
{
    return sg_cell_init_kind(cell, ps, prefix, SG_CELL_LSTM, SG_ACT_TANH, input, hidden);
}

sg_status sg_cell_init_peephole(sg_cell *cell, sg_params *ps, const char *prefix, size_t input, size_t hidden)
{
    return sg_cell_init_kind(cell, ps, prefix, SG_CELL_PEEPHOLE, SG_ACT_TANH, input, hidden);
}

sg_status sg_cell_init_gru(sg_cell *cell, sg_params *ps, const char *prefix, size_t input, size_t hidden)
{
    return sg_cell_init_kind(cell, ps, prefix, SG_CELL_GRU, SG_ACT_TANH, input, hidden);
}

sg_status sg_cell_init_custom(sg_cell *cell, sg_params *ps, const char *prefix, size_t input, size_t hidden,
                              size_t gates, bool has_c, sg_cell_step_fn step, void *user)
{
    if (!step) {
        if (cell)
            memset(cell, 0, sizeof *cell);
        return SG_ERR_ARG;
    }
    sg_status st = sg_cell_begin(cell, ps, prefix, SG_CELL_CUSTOM, input, hidden, gates, has_c, NULL, 0);
    if (st)
        return st;
    cell->step = step;
    cell->user = user;
    return SG_OK;
}

/* ---- initialization ----------------------------------------------------- */

sg_cell_init_opts sg_cell_init_defaults(void)
{
    return (sg_cell_init_opts){.lo = 0.0, .hi = 0.0, .set_forget_bias = true, .forget_bias = 1.0};
}

sg_status sg_cell_set_forget_bias(sg_cell *cell, double v)
{
    if (!cell || (cell->kind != SG_CELL_LSTM && cell->kind != SG_CELL_PEEPHOLE) || !cell->b_x || !cell->b_h ||
        !isfinite(v))
        return SG_ERR_ARG;
    size_t H = cell->hidden;
    for (size_t j = H; j < 2 * H; j++) {
        sg_param_set(cell->b_x, j, v);
        sg_param_set(cell->b_h, j, 0.0);
    }
    return SG_OK;
}

sg_status sg_cell_reset_parameters(sg_cell *cell, sg_rng *rng, const sg_cell_init_opts *o)
{
    sg_cell_init_opts d = sg_cell_init_defaults();
    if (!o)
        o = &d;
    if (!cell || !rng || cell->hidden == 0)
        return SG_ERR_ARG;
    double lo = o->lo, hi = o->hi;
    if (lo == 0.0 && hi == 0.0) {
        hi = 1.0 / sqrt((double)cell->hidden);
        lo = -hi;
    }
    if (!isfinite(lo) || !isfinite(hi) || lo > hi || (o->set_forget_bias && !isfinite(o->forget_bias)))
        return SG_ERR_ARG;
    for (size_t k = 0; k < cell->n_params; k++) {
        sg_status st = sg_init_uniform(cell->params[k], rng, lo, hi);
        if (st)
            return st;
    }
    if (o->set_forget_bias && (cell->kind == SG_CELL_LSTM || cell->kind == SG_CELL_PEEPHOLE))
        return sg_cell_set_forget_bias(cell, o->forget_bias);
    return cell->reset ? cell->reset(cell) : SG_OK;
}

/* ---- running ------------------------------------------------------------ */

bool sg_cell_state_zeros(sg_graph *g, const sg_cell *cell, size_t batch, sg_cell_state *state)
{
    if (!g || !state)
        return false;
    memset(state, 0, sizeof *state);
    if (!cell || batch == 0) {
        sg_graph_fail(g, SG_ERR_ARG, "sg_cell_state_zeros: %s", cell ? "the batch size is 0" : "the cell is NULL");
        return false;
    }
    state->h = sg_const_fill(g, "h0", SG_SHAPE(batch, cell->hidden), 0.0);
    if (cell->has_c)
        state->c = sg_const_fill(g, "c0", SG_SHAPE(batch, cell->hidden), 0.0);
    state->h_rec = state->h;
    return state->h && (!cell->has_c || state->c);
}

sg_tensor *sg_cell_project(sg_graph *g, const sg_cell *cell, sg_tensor *x)
{
    if (!g || sg_graph_status(g))
        return NULL;
    if (!cell || cell->gates == 0 || !cell->W_x || !cell->b_x) {
        sg_graph_fail(g, SG_ERR_ARG, "cell '%s': it has no input projection (G = 0)",
                      cell && cell->name ? cell->name : "?");
        return NULL;
    }
    return sg_affine(g, x, sg_param_use(g, cell->W_x), sg_param_use(g, cell->b_x));
}

/* Whether t is (rows, cols). */
static bool sg_cell_is_2d(const sg_tensor *t, size_t rows, size_t cols)
{
    return t && t->shape.ndim == 2 && t->shape.d[0] == rows && t->shape.d[1] == cols;
}

bool sg_cell_check_state(sg_graph *g, const sg_cell *cell, const char *layer, size_t t, size_t batch,
                         const sg_cell_state *next)
{
    if (sg_graph_status(g))
        return false;
    char sb[64];
    size_t H = cell->hidden;
    const char *what = NULL;
    const sg_tensor *bad = NULL;
    if (!next->h)
        what = "the cell's step returned no h";
    else if (!sg_cell_is_2d(next->h, batch, H))
        what = "the new h has the wrong shape", bad = next->h;
    else if (cell->has_c && !next->c)
        what = "the cell's step returned no c";
    else if (cell->has_c && !sg_cell_is_2d(next->c, batch, H))
        what = "the new c has the wrong shape", bad = next->c;
    if (!what)
        return true;
    char where[320];
    if (t == SIZE_MAX)
        snprintf(where, sizeof where, "cell '%s'", layer);
    else
        snprintf(where, sizeof where, "layer '%s' at step t%zu", layer, t);
    if (bad)
        sg_graph_fail(g, SG_ERR_SHAPE, "%s: %s: %s, expected (B, H) = (%zu, %zu)", where, what,
                      sg_shape_str(bad->shape, sb, sizeof sb), batch, H);
    else
        sg_graph_fail(g, SG_ERR_STATE, "%s: %s", where, what);
    return false;
}

/* sg_cell_step (projected false: x_t (B, I), projected here when G > 0) and
 * sg_cell_step_projected (x_t (B, G*H), G > 0). */
static bool sg_cell_step_any(sg_graph *g, const sg_cell *cell, sg_tensor *x_t, bool projected,
                             const sg_cell_state *prev, sg_cell_state *next)
{
    if (!g)
        return false;
    if (next)
        memset(next, 0, sizeof *next);
    if (sg_graph_status(g))
        return false;
    if (!cell || !cell->step || !prev || !next) {
        sg_graph_fail(g, SG_ERR_ARG, "sg_cell_step: %s is NULL",
                      !cell         ? "the cell"
                      : !cell->step ? "the cell's step"
                      : !prev       ? "prev"
                                    : "next");
        return false;
    }
    if (projected && cell->gates == 0) {
        sg_graph_fail(g, SG_ERR_ARG,
                      "cell '%s': it has no input projection (G = 0), so its input cannot be given projected",
                      cell->name);
        return false;
    }
    const size_t width = projected ? cell->gates * cell->hidden : cell->input;
    char sb[64];
    if (!x_t || !prev->h || (cell->has_c && !prev->c)) {
        sg_graph_fail(g, SG_ERR_ARG, "cell '%s': %s is NULL", cell->name,
                      !x_t       ? "the input x_t"
                      : !prev->h ? "prev->h"
                                 : "prev->c");
        return false;
    }
    size_t B = prev->h->shape.d[0];
    if (!sg_cell_is_2d(x_t, x_t->shape.d[0], width) || !sg_cell_is_2d(prev->h, B, cell->hidden) ||
        x_t->shape.d[0] != B || (cell->has_c && !sg_cell_is_2d(prev->c, B, cell->hidden))) {
        char sh[64], sc[64];
        sg_graph_fail(g, SG_ERR_SHAPE,
                      "cell '%s': x_t must be (B, %s) with %s = %zu and the state (B, H) with H = %zu; "
                      "got x_t %s, h %s%s%s",
                      cell->name, projected ? "G*H" : "I", projected ? "G*H" : "I", width, cell->hidden,
                      sg_shape_str(x_t->shape, sb, sizeof sb), sg_shape_str(prev->h->shape, sh, sizeof sh),
                      cell->has_c ? ", c " : "", cell->has_c ? sg_shape_str(prev->c->shape, sc, sizeof sc) : "");
        return false;
    }
    sg_cell_state p = *prev;
    if (!p.h_rec)
        p.h_rec = p.h;
    sg_tensor *x = cell->gates > 0 && !projected ? sg_cell_project(g, cell, x_t) : x_t; /* (B, G*H) or (B, I) */
    if (!x)
        return false;
    bool ok = cell->step(g, cell, x, &p, next);
    if (!ok && !sg_graph_status(g))
        sg_graph_fail(g, SG_ERR_STATE, "cell '%s': the step failed without a message", cell->name);
    return sg_cell_check_state(g, cell, cell->name, SIZE_MAX, B, next);
}

bool sg_cell_step(sg_graph *g, const sg_cell *cell, sg_tensor *x_t, const sg_cell_state *prev, sg_cell_state *next)
{
    return sg_cell_step_any(g, cell, x_t, false, prev, next);
}

bool sg_cell_step_projected(sg_graph *g, const sg_cell *cell, sg_tensor *p_t, const sg_cell_state *prev,
                            sg_cell_state *next)
{
    return sg_cell_step_any(g, cell, p_t, true, prev, next);
}
