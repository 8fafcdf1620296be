/* sg_seq.c — the sequence runner and recurrent layers (see sg_seq.h).
 *
 * Op calls only.  Dimension legend: T time steps, B batch, I input features,
 * H hidden units, G gates, N layers, D directions, F a layer's input features.
 */
#include "models/rnn/sg_seq.h"

#include "graph/core/sg_alloc.h"
#include "ops/sg_ops.h"

#include <stdio.h>
#include <string.h>

/* Pops every scope opened since `outer` was current (nothing if a push failed). */
static void sg_seq_scope_restore(sg_graph *g, const sg_scope *outer)
{
    while (sg_scope_current(g) && sg_scope_current(g) != outer)
        sg_scope_pop(g);
}

/* Whether t is (rows, cols). */
static bool sg_seq_is_2d(const sg_tensor *t, size_t rows, size_t cols)
{
    return t && t->shape.ndim == 2 && t->shape.d[0] == rows && t->shape.d[1] == cols;
}

/* Checks xs (T, B, I) against the cell; *T, *B from xs.  Graph error naming the layer. */
static bool sg_seq_check_input(sg_graph *g, const char *layer, const sg_cell *cell, sg_tensor *xs, size_t *T, size_t *B)
{
    char sb[64];
    if (!xs) {
        sg_graph_fail(g, SG_ERR_ARG, "layer '%s': the input sequence xs is NULL", layer);
        return false;
    }
    if (xs->graph != g) {
        sg_graph_fail(g, SG_ERR_ARG, "layer '%s': the input sequence xs belongs to another graph", layer);
        return false;
    }
    if (xs->shape.ndim != 3 || xs->shape.d[2] != cell->input) {
        sg_graph_fail(g, SG_ERR_SHAPE,
                      "layer '%s': the input must be time-major (T, B, I) with I = %zu features, got %s", layer,
                      cell->input, sg_shape_str(xs->shape, sb, sizeof sb));
        return false;
    }
    *T = xs->shape.d[0];
    *B = xs->shape.d[1];
    return true;
}

/* Checks the run options against T, B, H. */
static bool sg_seq_check_run_opts(sg_graph *g, const char *layer, const sg_cell *cell, const sg_seq_run_opts *o,
                                  size_t T, size_t B)
{
    char sb[64];
    size_t H = cell->hidden;
    if (o->mask && !sg_seq_is_2d(o->mask, T, B)) {
        sg_graph_fail(g, SG_ERR_SHAPE, "layer '%s': the mask must be (T, B) = (%zu, %zu), got %s", layer, T, B,
                      sg_shape_str(o->mask->shape, sb, sizeof sb));
        return false;
    }
    if (o->init.h && !sg_seq_is_2d(o->init.h, B, H)) {
        sg_graph_fail(g, SG_ERR_SHAPE, "layer '%s': the initial h must be (B, H) = (%zu, %zu), got %s", layer, B, H,
                      sg_shape_str(o->init.h->shape, sb, sizeof sb));
        return false;
    }
    if (o->init.c && !cell->has_c) {
        sg_graph_fail(g, SG_ERR_ARG, "layer '%s': an initial c was given but the cell has no memory cell", layer);
        return false;
    }
    if (o->init.c && !sg_seq_is_2d(o->init.c, B, H)) {
        sg_graph_fail(g, SG_ERR_SHAPE, "layer '%s': the initial c must be (B, H) = (%zu, %zu), got %s", layer, B, H,
                      sg_shape_str(o->init.c->shape, sb, sizeof sb));
        return false;
    }
    if (o->rec_mask && !sg_seq_is_2d(o->rec_mask, B, H)) {
        sg_graph_fail(g, SG_ERR_SHAPE, "layer '%s': the recurrent dropout mask must be (B, H) = (%zu, %zu), got %s",
                      layer, B, H, sg_shape_str(o->rec_mask->shape, sb, sizeof sb));
        return false;
    }
    return true;
}

/* The unrolled loop, inside the layer's scope. */
static sg_tensor *sg_seq_unroll(sg_graph *g, const char *layer, const sg_cell *cell, sg_tensor *xs,
                                const sg_seq_run_opts *o, size_t T, size_t B, sg_cell_state *final)
{
    size_t H = cell->hidden;
    sg_tensor **outs = sg_graph_alloc(g, T * sizeof *outs); /* (T) step outputs (B, H) */
    if (!outs)
        return NULL;
    /* every step's input as rows of one (T*B, width) tensor */
    sg_tensor *seq = xs; /* (T, B, I) */
    size_t width = cell->input;
    if (cell->gates > 0) {
        seq = sg_cell_project(g, cell, xs); /* (T, B, G*H): one matmul for all steps */
        width = cell->gates * H;
    }
    sg_tensor *rows = sg_reshape(g, seq, SG_SHAPE(T * B, width));                   /* (T*B, width) */
    sg_tensor *mrows = o->mask ? sg_reshape(g, o->mask, SG_SHAPE(T * B, 1)) : NULL; /* (T*B, 1) */
    sg_cell_state st = o->init;
    if (!st.h || (cell->has_c && !st.c)) {
        sg_cell_state z;
        if (!sg_cell_state_zeros(g, cell, B, &z))
            return NULL;
        if (!st.h)
            st.h = z.h;
        if (cell->has_c && !st.c)
            st.c = z.c;
    }
    if (!rows || (o->mask && !mrows))
        return NULL;
    for (size_t k = 0; k < T; k++) {
        size_t t = o->reverse ? T - 1 - k : k;
        const sg_scope *outer = sg_scope_current(g);
        sg_scope_push(g, "t%zu", t);
        sg_tensor *x_t = sg_slice(g, rows, 0, t * B, B); /* (B, G*H) or (B, I) */
        sg_cell_state prev = st, next = {0};
        prev.h_rec = o->rec_mask ? sg_hadamard(g, st.h, o->rec_mask) : st.h; /* (B, H) */
        bool ok = x_t && prev.h_rec && cell->step(g, cell, x_t, &prev, &next);
        if (!ok && !sg_graph_status(g))
            sg_graph_fail(g, SG_ERR_STATE, "layer '%s' at step t%zu: the cell's step failed without a message", layer,
                          t);
        if (!sg_cell_check_state(g, cell, layer, t, B, &next)) {
            sg_seq_scope_restore(g, outer);
            return NULL;
        }
        if (mrows) {
            sg_tensor *m = sg_slice(g, mrows, 0, t * B, B);                     /* (B, 1) */
            st.h = sg_add(g, st.h, sg_hadamard(g, m, sg_sub(g, next.h, st.h))); /* (B, H) */
            if (cell->has_c)
                st.c = sg_add(g, st.c, sg_hadamard(g, m, sg_sub(g, next.c, st.c)));
            outs[t] = sg_hadamard(g, st.h, m);
        } else {
            st.h = next.h;
            st.c = cell->has_c ? next.c : NULL;
            outs[t] = st.h;
        }
        sg_seq_scope_restore(g, outer);
        if (!outs[t])
            return NULL;
    }
    sg_tensor *y = sg_reshape(g, sg_concat(g, outs, T, 0), SG_SHAPE(T, B, H)); /* (T, B, H) */
    if (y && final) {
        final->h = st.h;
        final->c = cell->has_c ? st.c : NULL;
        final->h_rec = st.h;
    }
    return y;
}

sg_tensor *sg_seq_run(sg_graph *g, const char *name, const sg_cell *cell, sg_tensor *xs, const sg_seq_run_opts *o,
                      sg_cell_state *final)
{
    if (final)
        memset(final, 0, sizeof *final);
    if (!g || sg_graph_status(g))
        return NULL;
    if (!cell || !cell->step) {
        sg_graph_fail(g, SG_ERR_ARG, "layer '%s': %s", name ? name : "?",
                      cell ? "the cell has no step" : "the cell is NULL");
        return NULL;
    }
    const char *layer = name ? name : cell->name;
    sg_seq_run_opts d = {0};
    if (!o)
        o = &d;
    size_t T, B;
    if (!sg_seq_check_input(g, layer, cell, xs, &T, &B) || !sg_seq_check_run_opts(g, layer, cell, o, T, B))
        return NULL;
    const sg_scope *outer = sg_scope_current(g);
    sg_scope_push(g, "%s", layer);
    sg_tensor *y = sg_seq_unroll(g, layer, cell, xs, o, T, B, final);
    sg_seq_scope_restore(g, outer);
    if (!y && final)
        memset(final, 0, sizeof *final);
    return y;
}

sg_tensor *sg_seq_mask_from_lengths(sg_graph *g, const size_t *lengths, size_t T, size_t B)
{
    if (!g || sg_graph_status(g))
        return NULL;
    if (!lengths) {
        sg_graph_fail(g, SG_ERR_ARG, "padding mask: the lengths are NULL");
        return NULL;
    }
    for (size_t b = 0; b < B; b++)
        if (lengths[b] > T) {
            sg_graph_fail(g, SG_ERR_ARG, "padding mask: length %zu of sequence %zu is longer than T = %zu", lengths[b],
                          b, T);
            return NULL;
        }
    sg_tensor *m = sg_const_fill(g, "mask", SG_SHAPE(T, B), 0.0); /* (T, B) */
    if (!m)
        return NULL;
    for (size_t t = 0; t < T; t++)
        for (size_t b = 0; b < B; b++)
            if (t < lengths[b])
                sg_tensor_set(m, t * B + b, 1.0);
    return m;
}

/* ---- layers ------------------------------------------------------------- */

/* printf into a fresh heap string (the caller frees it); NULL when out of memory. */
static char *sg_seq_format(const char *fmt, const char *name, size_t l)
{
    int n = snprintf(NULL, 0, fmt, name, l);
    if (n < 0)
        return NULL;
    char *s = sg_malloc((size_t)n + 1);
    if (s)
        snprintf(s, (size_t)n + 1, fmt, name, l);
    return s;
}

void sg_seq_layers_free(sg_seq_layers *s)
{
    if (!s)
        return;
    if (s->cells)
        for (size_t k = 0; k < s->n_layers * s->n_dirs; k++)
            sg_cell_free(&s->cells[k]);
    sg_free(s->cells);
    sg_free(s->name);
    memset(s, 0, sizeof *s);
}

sg_status sg_seq_layers_init(sg_seq_layers *s, sg_params *ps, const char *name, const sg_seq_config *cfg)
{
    if (!s)
        return SG_ERR_ARG;
    memset(s, 0, sizeof *s);
    if (!ps || !name || !cfg || cfg->input == 0 || cfg->hidden == 0 || cfg->layers == 0 ||
        (cfg->kind == SG_CELL_CUSTOM && !cfg->make))
        return SG_ERR_ARG;
    size_t D = cfg->bidirectional ? 2 : 1;
    size_t n = strlen(name) + 1;
    s->name = sg_malloc(n);
    s->cells = sg_calloc(cfg->layers * D, sizeof *s->cells);
    if (!s->name || !s->cells) {
        sg_free(s->name);
        sg_free(s->cells);
        memset(s, 0, sizeof *s);
        return SG_ERR_NOMEM;
    }
    memcpy(s->name, name, n);
    s->n_layers = cfg->layers;
    s->n_dirs = D;
    s->input = cfg->input;
    s->hidden = cfg->hidden;
    for (size_t l = 0; l < cfg->layers; l++)
        for (size_t d = 0; d < D; d++) {
            char *prefix = sg_seq_format(d ? "%s.l%zu_reverse" : "%s.l%zu", name, l);
            size_t in = l == 0 ? cfg->input : D * cfg->hidden;
            sg_cell *c = &s->cells[l * D + d];
            sg_status st = !prefix ? SG_ERR_NOMEM
                                   : sg_cell_init_made(c, ps, prefix, cfg->kind, cfg->act, cfg->make, cfg->make_ctx, in,
                                                       cfg->hidden);
            sg_free(prefix);
            if (st == SG_OK && (c->input != in || c->hidden != cfg->hidden || !c->step))
                st = SG_ERR_ARG; /* a custom maker that ignored the sizes */
            if (st) {
                sg_seq_layers_free(s);
                return st;
            }
        }
    return SG_OK;
}

sg_status sg_seq_layers_reset_parameters(sg_seq_layers *s, sg_rng *rng, const sg_cell_init_opts *o)
{
    if (!s || !s->cells || !rng)
        return SG_ERR_ARG;
    for (size_t k = 0; k < s->n_layers * s->n_dirs; k++) {
        sg_status st = sg_cell_reset_parameters(&s->cells[k], rng, o);
        if (st)
            return st;
    }
    return SG_OK;
}

size_t sg_seq_layers_output_size(const sg_seq_layers *s) { return s ? s->n_dirs * s->hidden : 0; }

size_t sg_seq_layers_params(const sg_seq_layers *s, sg_param **out, size_t cap)
{
    size_t n = 0;
    if (!s || !s->cells)
        return 0;
    for (size_t k = 0; k < s->n_layers * s->n_dirs; k++)
        for (size_t j = 0; j < s->cells[k].n_params; j++, n++)
            if (out && n < cap)
                out[n] = s->cells[k].params[j];
    return n;
}

sg_seq_opts sg_seq_opts_defaults(void) { return (sg_seq_opts){0}; }

/* Whether p is a dropout rate in [0, 1). */
static bool sg_seq_rate_ok(double p) { return p >= 0.0 && p < 1.0; }

/* One layer of the stack: input dropouts, D runs, concat.  x (T, B, F). */
static sg_tensor *sg_seq_layer(sg_graph *g, const sg_seq_layers *s, size_t l, sg_tensor *x, const sg_seq_opts *o,
                               sg_cell_state *final)
{
    size_t D = s->n_dirs, B = x->shape.d[1], H = s->hidden;
    const sg_cell *c0 = &s->cells[l * D];
    const sg_scope *outer = sg_scope_current(g);
    sg_scope_push(g, "%s", c0->name);
    if (l > 0)
        x = sg_dropout(g, x, o->dropout, o->training, o->rng);           /* fresh per step */
    x = sg_dropout_variational(g, x, o->var_input, o->training, o->rng); /* one per sequence */
    sg_seq_scope_restore(g, outer);
    if (!x)
        return NULL;
    sg_tensor *outs[2] = {NULL, NULL}; /* (T, B, H) per direction */
    for (size_t d = 0; d < D; d++) {
        const sg_cell *cell = &s->cells[l * D + d];
        sg_seq_run_opts ro = {.mask = o->mask, .reverse = d == 1};
        if (o->init)
            ro.init = o->init[l * D + d];
        if (o->training && o->var_recurrent > 0.0) {
            sg_scope_push(g, "%s", cell->name);
            ro.rec_mask = sg_dropout_mask(g, o->rng, SG_SHAPE(B, H), o->var_recurrent);
            sg_seq_scope_restore(g, outer);
            if (!ro.rec_mask)
                return NULL;
        }
        outs[d] = sg_seq_run(g, cell->name, cell, x, &ro, final ? &final[l * D + d] : NULL);
        if (!outs[d])
            return NULL;
    }
    if (D == 1)
        return outs[0];
    sg_scope_push(g, "%s", c0->name);
    sg_tensor *y = sg_concat(g, outs, 2, 2); /* (T, B, 2H) */
    sg_seq_scope_restore(g, outer);
    return y;
}

sg_tensor *sg_seq_layers_forward(sg_graph *g, const sg_seq_layers *s, sg_tensor *xs, const sg_seq_opts *o,
                                 sg_cell_state *final)
{
    if (!g || sg_graph_status(g))
        return NULL;
    if (!s || !s->cells || s->n_layers == 0 || s->n_dirs == 0) {
        sg_graph_fail(g, SG_ERR_ARG, "sg_seq_layers_forward: the layers are NULL or not initialized");
        return NULL;
    }
    if (final)
        memset(final, 0, s->n_layers * s->n_dirs * sizeof *final);
    sg_seq_opts d = sg_seq_opts_defaults();
    if (!o)
        o = &d;
    if (!sg_seq_rate_ok(o->dropout) || !sg_seq_rate_ok(o->var_input) || !sg_seq_rate_ok(o->var_recurrent) ||
        !sg_seq_rate_ok(o->var_output)) {
        sg_graph_fail(g, SG_ERR_ARG,
                      "layer '%s': dropout rates must be in [0, 1) (dropout %g, variational input %g, "
                      "recurrent %g, output %g)",
                      s->name, o->dropout, o->var_input, o->var_recurrent, o->var_output);
        return NULL;
    }
    bool drops = o->dropout > 0.0 || o->var_input > 0.0 || o->var_recurrent > 0.0 || o->var_output > 0.0;
    if (o->training && drops && !o->rng) {
        sg_graph_fail(g, SG_ERR_ARG, "layer '%s': dropout in training mode needs an rng (sg_seq_opts.rng)", s->name);
        return NULL;
    }
    size_t T, B;
    if (!sg_seq_check_input(g, s->cells[0].name, &s->cells[0], xs, &T, &B))
        return NULL;
    sg_tensor *x = xs; /* (T, B, F) */
    for (size_t l = 0; l < s->n_layers && x; l++)
        x = sg_seq_layer(g, s, l, x, o, final);
    if (x && o->training && o->var_output > 0.0) {
        const sg_scope *outer = sg_scope_current(g);
        sg_scope_push(g, "%s", s->cells[(s->n_layers - 1) * s->n_dirs].name);
        x = sg_dropout_variational(g, x, o->var_output, true, o->rng); /* one (B, D*H) mask */
        sg_seq_scope_restore(g, outer);
    }
    if (!x && final)
        memset(final, 0, s->n_layers * s->n_dirs * sizeof *final);
    return x;
}

sg_status sg_cell_init_made(sg_cell *cell, sg_params *ps, const char *prefix, sg_cell_kind kind, sg_activation act,
                            sg_cell_make_fn make, void *make_ctx, size_t input, size_t hidden)
{
    if (kind != SG_CELL_CUSTOM)
        return sg_cell_init_kind(cell, ps, prefix, kind, act, input, hidden);
    return make ? make(cell, ps, prefix, input, hidden, make_ctx) : SG_ERR_ARG;
}
