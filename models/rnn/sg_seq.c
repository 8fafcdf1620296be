/* sg_seq.c — the sequence runner and recurrent layers (see sg_seq.h).
 *
 * Op calls only.  Dimension legend: T time steps, B batch, I input features,
 * H hidden units, G gates, N layers, D directions, F a layer's input features.
 */
#include "models/rnn/sg_seq.h"

#include "graph/core/sg_alloc.h"
#include "ops/sg_ops.h"

#include <stdint.h>
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
    if (o->lengths && o->mask) {
        sg_graph_fail(g, SG_ERR_ARG, "layer '%s': give a padding mask or packed lengths, not both", layer);
        return false;
    }
    if (o->rec_mask && !sg_seq_is_2d(o->rec_mask, B, H)) {
        sg_graph_fail(g, SG_ERR_SHAPE, "layer '%s': the recurrent dropout mask must be (B, H) = (%zu, %zu), got %s",
                      layer, B, H, sg_shape_str(o->rec_mask->shape, sb, sizeof sb));
        return false;
    }
    return true;
}

/* What both loops start from: every step's input as rows of one (T*B, width)
 * tensor (the input projection, ONE matmul for all steps, when the cell has
 * one: width G*H, else the input itself: width I), and in *init the initial
 * state, zeros where the options give none.  NULL on error. */
static sg_tensor *sg_seq_start(sg_graph *g, const sg_cell *cell, sg_tensor *xs, const sg_seq_run_opts *o, size_t T,
                               size_t B, sg_cell_state *init)
{
    sg_tensor *seq = xs; /* (T, B, I) */
    size_t width = cell->input;
    if (cell->gates > 0) {
        seq = sg_cell_project(g, cell, xs); /* (T, B, G*H) */
        width = cell->gates * cell->hidden;
    }
    *init = o->init;
    if (!init->h || (cell->has_c && !init->c)) {
        sg_cell_state z;
        if (!sg_cell_state_zeros(g, cell, B, &z))
            return NULL;
        if (!init->h)
            init->h = z.h;
        if (cell->has_c && !init->c)
            init->c = z.c;
    }
    return sg_reshape(g, seq, SG_SHAPE(T * B, width));
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
    sg_cell_state st;
    sg_tensor *rows = sg_seq_start(g, cell, xs, o, T, B, &st);                      /* (T*B, width) */
    sg_tensor *mrows = o->mask ? sg_reshape(g, o->mask, SG_SHAPE(T * B, 1)) : NULL; /* (T*B, 1) */
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

/* Packing a batch whose lengths are in any order: the rows sorted longest
 * first (stable, so sorted lengths keep their order) and back. */
typedef struct sg_seq_pack {
    size_t *lengths;  /* (B) sorted, longest first */
    sg_tensor *order; /* (B) ids: sorted row j is row order[j]; NULL when already sorted */
    sg_tensor *undo;  /* (B) ids: row i is sorted row undo[i] */
} sg_seq_pack;

/* Sorts the lengths (B) of a (T, B) batch by counting; false with a graph error. */
static bool sg_seq_pack_init(sg_graph *g, const char *layer, const size_t *len, size_t T, size_t B, sg_seq_pack *p)
{
    memset(p, 0, sizeof *p);
    if (B > (size_t)INT32_MAX || T > ((size_t)INT32_MAX - B) / B) {
        sg_graph_fail(g, SG_ERR_ARG, "layer '%s': %zu steps of %zu rows are too many to pack", layer, T, B);
        return false;
    }
    size_t *start = sg_graph_alloc(g, (T + 2) * sizeof *start); /* (T+2) first sorted row of each length */
    int32_t *order = sg_graph_alloc(g, B * sizeof *order), *undo = sg_graph_alloc(g, B * sizeof *undo);
    p->lengths = sg_graph_alloc(g, B * sizeof *p->lengths);
    if (!start || !order || !undo || !p->lengths)
        return false;
    memset(start, 0, (T + 2) * sizeof *start);
    for (size_t j = 0; j < B; j++) {
        if (len[j] > T) {
            sg_graph_fail(g, SG_ERR_ARG, "layer '%s': length %zu of row %zu is longer than T = %zu", layer, len[j], j,
                          T);
            return false;
        }
        start[T - len[j] + 1]++; /* longest first: length T goes to bucket 0 */
    }
    for (size_t k = 1; k <= T + 1; k++)
        start[k] += start[k - 1];
    bool sorted = true;
    for (size_t j = 0; j < B; j++) {
        size_t to = start[T - len[j]]++;
        order[to] = (int32_t)j;
        undo[j] = (int32_t)to;
        p->lengths[to] = len[j];
        sorted = sorted && to == j;
    }
    if (sorted)
        return true;
    p->order = sg_ids(g, "pack_order", SG_SHAPE(B), order);
    p->undo = sg_ids(g, "pack_undo", SG_SHAPE(B), undo);
    return p->order && p->undo;
}

/* Rows of x (B, F) picked by ids (B), or x when ids is NULL (or x is). */
static sg_tensor *sg_seq_pick(sg_graph *g, sg_tensor *x, sg_tensor *ids)
{
    return ids && x ? sg_gather_rows(g, x, ids) : x;
}

/* A state (h, c) with its rows picked by ids (B); h_rec is the picked h. */
static sg_cell_state sg_seq_pick_state(sg_graph *g, const sg_cell_state *s, sg_tensor *ids)
{
    sg_tensor *h = sg_seq_pick(g, s->h, ids);
    return (sg_cell_state){.h = h, .c = sg_seq_pick(g, s->c, ids), .h_rec = h};
}

/* The (T, B, F) sequence x with its batch rows picked by ids (B). */
static sg_tensor *sg_seq_pick_steps(sg_graph *g, sg_tensor *x, const sg_tensor *ids, size_t T, size_t B)
{
    int32_t *all = sg_graph_alloc(g, T * B * sizeof *all); /* (T*B) */
    if (!all || !x)
        return NULL;
    const int32_t *id = ids->data;
    for (size_t t = 0; t < T; t++)
        for (size_t j = 0; j < B; j++)
            all[t * B + j] = (int32_t)(t * B) + id[j];
    size_t F = x->shape.d[2];
    sg_tensor *flat = sg_reshape(g, x, SG_SHAPE(T * B, F));
    return sg_reshape(g, sg_gather_rows(g, flat, sg_ids(g, "pack_steps", SG_SHAPE(T * B), all)), SG_SHAPE(T, B, F));
}

/* Rows [start, start + n) of x (rows, F): x itself when that is all of it,
 * else a slice (a view: rows of a row-major matrix are one block). */
static sg_tensor *sg_seq_rows(sg_graph *g, sg_tensor *x, size_t start, size_t n)
{
    return start == 0 && x && n == x->shape.d[0] ? x : sg_slice(g, x, 0, start, n);
}

/* Joins row blocks top to bottom: the block itself when there is one. */
static sg_tensor *sg_seq_stack(sg_graph *g, sg_tensor **parts, size_t n)
{
    return n == 1 ? parts[0] : sg_concat(g, parts, n, 0);
}

/* The packed loop, inside the layer's scope: rows sorted longest first, step t
 * runs the cell on the a_t = #{j : lengths[j] > t} rows still real, a prefix of
 * the batch, so padding costs nothing.  Forward, rows [a_t, a_{t-1}) end at
 * t - 1 and their final state is the carried state's rows; reversed, rows
 * [a_{t+1}, a_t) start at t from their initial state, joined below the carried
 * rows.  A step's output has zero rows below a_t (a slice of one zero block).
 * The same values as the masked loop, without its per-step blend. */
static sg_tensor *sg_seq_unroll_packed(sg_graph *g, const char *layer, const sg_cell *cell, sg_tensor *xs,
                                       const sg_seq_run_opts *o, size_t T, size_t B, sg_cell_state *final)
{
    const size_t H = cell->hidden, *len = o->lengths;
    size_t *active = sg_graph_alloc(g, T * sizeof *active);       /* (T) a_t */
    sg_tensor **out = sg_graph_alloc(g, T * sizeof *out);         /* (T) step outputs (a_t, H) */
    sg_tensor **parts = sg_graph_alloc(g, 2 * T * sizeof *parts); /* the output's row blocks */
    /* the final state's row blocks, filled from the bottom up: h in fin[T - k], c in fin_c[T - k] */
    sg_tensor **fin = sg_graph_alloc(g, 2 * (T + 1) * sizeof *fin), **fin_c = fin ? fin + T + 1 : NULL;
    if (!active || !out || !parts || !fin)
        return NULL;
    for (size_t t = 0, a = B; t < T; t++) {
        while (a > 0 && len[a - 1] <= t)
            a--;
        active[t] = a;
    }
    sg_cell_state st0;                                          /* (B, H) each */
    sg_tensor *rows = sg_seq_start(g, cell, xs, o, T, B, &st0); /* (T*B, width), padding rows included */
    const bool padded = active[T - 1] < B;                      /* the fewest rows are at the last step */
    sg_tensor *zeros = padded ? sg_const_fill(g, "pad", SG_SHAPE(B, H), 0.0) : NULL;
    if (!rows || (padded && !zeros))
        return NULL;
    sg_cell_state st = o->reverse ? (sg_cell_state){0} : st0;
    size_t have = o->reverse ? 0 : B, n_fin = 0; /* rows in st */
    for (size_t k = 0; k < T; k++) {
        size_t t = o->reverse ? T - 1 - k : k, a = active[t];
        out[t] = NULL;
        if (!o->reverse && a < have) { /* rows [a, have) ended at t - 1, below the rows still going */
            fin[T - n_fin] = sg_seq_rows(g, st.h, a, have - a);
            fin_c[T - n_fin++] = cell->has_c ? sg_seq_rows(g, st.c, a, have - a) : NULL;
        }
        if (a == 0) { /* no row is real here (forward: none from here on; reversed: none yet) */
            have = 0;
            continue;
        }
        const sg_scope *outer = sg_scope_current(g);
        sg_scope_push(g, "t%zu", t);
        sg_cell_state prev = {0}, next = {0};
        if (o->reverse && a > have) { /* rows [have, a) start here */
            sg_tensor *hh[2] = {st.h, sg_seq_rows(g, st0.h, have, a - have)};
            sg_tensor *cc[2] = {st.c, cell->has_c ? sg_seq_rows(g, st0.c, have, a - have) : NULL};
            prev.h = have ? sg_concat(g, hh, 2, 0) : hh[1];
            prev.c = !cell->has_c ? NULL : have ? sg_concat(g, cc, 2, 0) : cc[1];
        } else {
            prev.h = sg_seq_rows(g, st.h, 0, a);
            prev.c = cell->has_c ? sg_seq_rows(g, st.c, 0, a) : NULL;
        }
        prev.h_rec = o->rec_mask ? sg_hadamard(g, prev.h, sg_seq_rows(g, o->rec_mask, 0, a)) : prev.h; /* (a, H) */
        sg_tensor *x_t = sg_slice(g, rows, 0, t * B, a); /* (a, G*H) or (a, I) */
        bool ok = x_t && prev.h_rec && (!cell->has_c || prev.c) && cell->step(g, cell, x_t, &prev, &next);
        if (!ok && !sg_graph_status(g))
            sg_graph_fail(g, SG_ERR_STATE, "layer '%s' at step t%zu: the cell's step failed without a message", layer,
                          t);
        sg_seq_scope_restore(g, outer);
        if (!sg_cell_check_state(g, cell, layer, t, a, &next))
            return NULL;
        st.h = next.h;
        st.c = cell->has_c ? next.c : NULL;
        out[t] = next.h;
        have = a;
    }
    size_t n_parts = 0;
    for (size_t t = 0; t < T; t++) {
        if (out[t])
            parts[n_parts++] = out[t];
        if (active[t] < B)
            parts[n_parts++] = sg_seq_rows(g, zeros, 0, B - active[t]);
    }
    sg_tensor *y = sg_reshape(g, sg_seq_stack(g, parts, n_parts), SG_SHAPE(T, B, H)); /* (T, B, H) */
    if (!y || !final)
        return y;
    /* the rest of the final state, bottom up: reversed, the rows that never
     * started (their initial state) below the state after t = 0; forward, the
     * rows still going at the end, above every block that ended */
    if (o->reverse && have < B) {
        fin[T - n_fin] = sg_seq_rows(g, st0.h, have, B - have);
        fin_c[T - n_fin++] = cell->has_c ? sg_seq_rows(g, st0.c, have, B - have) : NULL;
    }
    if (have) {
        fin[T - n_fin] = st.h;
        fin_c[T - n_fin++] = st.c;
    }
    final->h = sg_seq_stack(g, fin + T + 1 - n_fin, n_fin);
    final->c = cell->has_c ? sg_seq_stack(g, fin_c + T + 1 - n_fin, n_fin) : NULL;
    final->h_rec = final->h;
    return final->h && (!cell->has_c || final->c) ? y : NULL;
}

/* A packed run with the lengths in any order: sorted (the rows of xs, the
 * initial state and the recurrent dropout mask picked in that order), run,
 * and the output and final state put back in the caller's order. */
static sg_tensor *sg_seq_run_packed(sg_graph *g, const char *layer, const sg_cell *cell, sg_tensor *xs,
                                    const sg_seq_run_opts *o, size_t T, size_t B, sg_cell_state *final)
{
    sg_seq_pack pack;
    if (!sg_seq_pack_init(g, layer, o->lengths, T, B, &pack))
        return NULL;
    sg_seq_run_opts so = *o;
    so.lengths = pack.lengths;
    if (!pack.order)
        return sg_seq_unroll_packed(g, layer, cell, xs, &so, T, B, final);
    so.init = sg_seq_pick_state(g, &o->init, pack.order);
    so.rec_mask = sg_seq_pick(g, o->rec_mask, pack.order);
    sg_tensor *x = sg_seq_pick_steps(g, xs, pack.order, T, B);
    sg_cell_state fin = {0};
    sg_tensor *y = x ? sg_seq_unroll_packed(g, layer, cell, x, &so, T, B, final ? &fin : NULL) : NULL;
    y = y ? sg_seq_pick_steps(g, y, pack.undo, T, B) : NULL;
    if (y && final) {
        *final = sg_seq_pick_state(g, &fin, pack.undo);
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
    sg_tensor *y = o->lengths && T > 0 ? sg_seq_run_packed(g, layer, cell, xs, o, T, B, final)
                                       : sg_seq_unroll(g, layer, cell, xs, o, T, B, final);
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

bool sg_seq_lengths_from_mask(const double *mask, size_t T, size_t B, size_t *lengths)
{
    for (size_t b = 0; b < B; b++) {
        size_t n = 0;
        while (n < T && mask[n * B + b] == 1.0)
            n++;
        for (size_t t = n; t < T; t++)
            if (mask[t * B + b] != 0)
                return false;
        lengths[b] = n;
    }
    return true;
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
        sg_seq_run_opts ro = {.mask = o->mask, .lengths = o->lengths, .reverse = d == 1};
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
    sg_seq_pack pack = {0};
    sg_seq_opts po = *o; /* with the lengths sorted and the rows in their order */
    if (o->lengths && o->mask) {
        sg_graph_fail(g, SG_ERR_ARG, "layer '%s': give a padding mask or packed lengths, not both", s->name);
        return NULL;
    }
    if (o->lengths && T > 0) {
        const sg_scope *outer = sg_scope_current(g);
        sg_scope_push(g, "%s.pack", s->name);
        bool ok = sg_seq_pack_init(g, s->name, o->lengths, T, B, &pack);
        po.lengths = pack.lengths;
        if (ok && pack.order) {
            x = sg_seq_pick_steps(g, xs, pack.order, T, B);
            sg_cell_state *init = o->init ? sg_graph_alloc(g, s->n_layers * s->n_dirs * sizeof *init) : NULL;
            for (size_t k = 0; init && k < s->n_layers * s->n_dirs; k++)
                init[k] = sg_seq_pick_state(g, &o->init[k], pack.order);
            ok = x && (!o->init || init);
            po.init = init;
        }
        sg_seq_scope_restore(g, outer);
        if (!ok)
            return NULL;
    }
    for (size_t l = 0; l < s->n_layers && x; l++)
        x = sg_seq_layer(g, s, l, x, &po, final);
    if (x && pack.undo) { /* back to the caller's row order */
        const sg_scope *outer = sg_scope_current(g);
        sg_scope_push(g, "%s.unpack", s->name);
        x = sg_seq_pick_steps(g, x, pack.undo, T, B);
        for (size_t k = 0; x && final && k < s->n_layers * s->n_dirs; k++) {
            final[k] = sg_seq_pick_state(g, &final[k], pack.undo);
            if (!final[k].h || (s->cells[k].has_c && !final[k].c))
                x = NULL;
        }
        sg_seq_scope_restore(g, outer);
    }
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
