/* test_cells.c — recurrent cells (models/sg_cell.h) and the sequence runner
 * and layers (models/sg_seq.h).
 *
 *  - Gradient checks in f64, T = 5, B = 2..3, I = 3, H = 4, model mode over
 *    parameters AND inputs (and initial states), then per-op mode on the tape:
 *    RNN tanh/sigmoid/relu, LSTM, peephole LSTM, GRU, two user-defined cells
 *    (a coupled-gate LSTM with an input projection, a minimal gated unit on
 *    raw inputs), stacked, bidirectional, bidirectional+stacked, a padding
 *    mask, variational + between-layer dropout (fixed seed per evaluation),
 *    a reversed run from given initial states.
 *  - Semantics: padded steps keep the state and give zero outputs; GRU, LSTM
 *    and peephole LSTM match a hand computation to 1e-12; the input projection
 *    is one matmul for all T steps, and steps on inputs the caller projected
 *    give the same bytes as steps that project them; scopes are "<layer>/t<k>"; dropout masks
 *    (fresh per step vs one per sequence, eval mode off); truncated BPTT with
 *    detach; initializers and parameter names; bad inputs give graph errors
 *    naming the layer; a steady-state 2-layer LSTM training step with Adam
 *    allocates nothing.
 * Dimension legend: T steps, B batch, I inputs, H hidden, N layers, D directions.
 */
#include "sg_test.h"

#include "graph/core/sg_alloc.h"
#include "graph/optim/sg_optim.h"
#include "models/rnn/sg_seq.h"

#include <stdlib.h>

/* ---- user-defined cells (op calls only) ---------------------------------- */

/* Coupled input-forget gate LSTM (G = 3: f, candidate u, o), with the runner's
 * input projection:  [a_f a_u a_o] = x W_x + b_x + h W_h
 *   f = sigmoid(a_f), u = tanh(a_u), o = sigmoid(a_o)
 *   c' = f*c + (1 - f)*u = u + f*(c - u);  h' = o*tanh(c') */
static bool cifg_step(sg_graph *g, const sg_cell *cell, sg_tensor *xp, const sg_cell_state *prev, sg_cell_state *next)
{
    sg_tensor *a[3];                                                                       /* (B, H) each */
    sg_tensor *pre = sg_add(g, xp, sg_matmul(g, prev->h_rec, sg_param_use(g, cell->W_h))); /* (B, 3H) */
    if (sg_split(g, pre, 1, 3, a) != SG_OK)
        return false;
    sg_tensor *f = sg_sigmoid(g, a[0]), *u = sg_tanh(g, a[1]), *o = sg_sigmoid(g, a[2]);
    next->c = sg_add(g, u, sg_hadamard(g, f, sg_sub(g, prev->c, u)));
    next->h = sg_hadamard(g, o, sg_tanh(g, next->c));
    return next->h != NULL;
}

static sg_status cifg_make(sg_cell *cell, sg_params *ps, const char *prefix, size_t in, size_t hid, void *ctx)
{
    (void)ctx;
    sg_status st = sg_cell_init_custom(cell, ps, prefix, in, hid, 3, true, cifg_step, NULL);
    if (st == SG_OK && !(cell->W_h = sg_cell_add_param(cell, "W_h", SG_SHAPE(hid, 3 * hid)))) {
        sg_cell_free(cell);
        st = SG_ERR_ARG;
    }
    return st;
}

/* Minimal gated unit on the RAW input (G = 0), parameters kept in the cell's
 * list: [0] W_f (I, H), [1] U_f (H, H), [2] b_f (H), [3] W_n, [4] U_n, [5] b_n.
 *   f = sigmoid(x W_f + h U_f + b_f);  n = tanh(x W_n + (f*h) U_n + b_n);  h' = h + f*(n - h) */
static sg_tensor *mgu_affine(sg_graph *g, const sg_cell *cell, size_t k, sg_tensor *x, sg_tensor *h)
{
    sg_param *const *p = cell->params + k;
    return sg_add(g, sg_add(g, sg_matmul(g, x, sg_param_use(g, p[0])), sg_matmul(g, h, sg_param_use(g, p[1]))),
                  sg_param_use(g, p[2]));
}

static bool mgu_step(sg_graph *g, const sg_cell *cell, sg_tensor *x, const sg_cell_state *prev, sg_cell_state *next)
{
    sg_tensor *f = sg_sigmoid(g, mgu_affine(g, cell, 0, x, prev->h_rec));
    sg_tensor *n = sg_tanh(g, mgu_affine(g, cell, 3, x, sg_hadamard(g, f, prev->h_rec)));
    next->h = sg_add(g, prev->h, sg_hadamard(g, f, sg_sub(g, n, prev->h)));
    return next->h != NULL;
}

static sg_status mgu_make(sg_cell *cell, sg_params *ps, const char *prefix, size_t in, size_t hid, void *ctx)
{
    (void)ctx;
    sg_status st = sg_cell_init_custom(cell, ps, prefix, in, hid, 0, false, mgu_step, NULL);
    static const char *const names[2][3] = {{"W_f", "U_f", "b_f"}, {"W_n", "U_n", "b_n"}};
    for (int k = 0; k < 2 && st == SG_OK; k++)
        if (!sg_cell_add_param(cell, names[k][0], SG_SHAPE(in, hid)) ||
            !sg_cell_add_param(cell, names[k][1], SG_SHAPE(hid, hid)) ||
            !sg_cell_add_param(cell, names[k][2], SG_SHAPE(hid)))
            st = SG_ERR_NOMEM;
    if (st != SG_OK)
        sg_cell_free(cell);
    return st;
}

/* Identity cell (G = 0, I = H): h' = x_t + h_rec * 0, i.e. the step's output is
 * its input; used to see exactly what the runner feeds a cell. */
static bool ident_step(sg_graph *g, const sg_cell *cell, sg_tensor *x, const sg_cell_state *prev, sg_cell_state *next)
{
    (void)cell;
    next->h = sg_add(g, x, sg_scale(g, prev->h_rec, 0.0));
    return next->h != NULL;
}

static sg_status ident_make(sg_cell *cell, sg_params *ps, const char *prefix, size_t in, size_t hid, void *ctx)
{
    (void)ctx;
    return sg_cell_init_custom(cell, ps, prefix, in, hid, 0, false, ident_step, NULL);
}

/* A broken cell: returns h of the wrong shape. */
static bool bad_step(sg_graph *g, const sg_cell *cell, sg_tensor *x, const sg_cell_state *prev, sg_cell_state *next)
{
    (void)cell;
    (void)prev;
    next->h = sg_scale(g, x, 1.0); /* (B, I), not (B, H) */
    return true;
}

/* ---- gradient-check harness ------------------------------------------------ */

typedef struct gc_case {
    const char *label;
    sg_cell_kind kind;
    sg_activation act;
    sg_cell_make_fn make; /* custom cells */
    size_t layers;        /* N */
    bool bidir;
    size_t B;
    const size_t *lengths; /* (B) padding mask from lengths, or NULL */
    bool packed;           /* the lengths packed (sg_seq_opts.lengths), not a mask */
    bool dropout;          /* training with every dropout kind, fixed seed */
    bool init_inputs;      /* initial states as inputs that require grad */
} gc_case;

enum { T = 5, I = 3, H = 4, MAXB = 3, MAXCELLS = 4 };

typedef struct gc_ctx {
    const gc_case *c;
    sg_seq_layers s;
    double x[T * MAXB * I];         /* (T, B, I) */
    double r[T * MAXB * 2 * H];     /* (T, B, D*H) loss weights */
    double h0[MAXCELLS * MAXB * H]; /* (N*D, B, H) */
    double c0[MAXCELLS * MAXB * H]; /* (N*D, B, H) */
} gc_ctx;

static sg_tensor *gc_loss(sg_graph *g, void *p)
{
    gc_ctx *ctx = p;
    const gc_case *c = ctx->c;
    size_t B = c->B, DH = sg_seq_layers_output_size(&ctx->s), n = ctx->s.n_layers * ctx->s.n_dirs;
    sg_tensor *xs = sg_input_f64(g, "xs", SG_SHAPE(T, B, I), ctx->x, true);
    sg_seq_opts o = sg_seq_opts_defaults();
    sg_cell_state init[MAXCELLS] = {{0}}, final[MAXCELLS];
    if (c->init_inputs) {
        for (size_t k = 0; k < n; k++) {
            init[k].h = sg_input_f64(g, "h0", SG_SHAPE(B, H), ctx->h0 + k * B * H, true);
            if (ctx->s.cells[k].has_c)
                init[k].c = sg_input_f64(g, "c0", SG_SHAPE(B, H), ctx->c0 + k * B * H, true);
        }
        o.init = init;
    }
    if (c->lengths && c->packed)
        o.lengths = c->lengths;
    else if (c->lengths)
        o.mask = sg_seq_mask_from_lengths(g, c->lengths, T, B);
    sg_rng rng;
    if (c->dropout) {
        sg_rng_seed(&rng, 77); /* the same masks at every evaluation */
        o.training = true;
        o.rng = &rng;
        o.dropout = 0.3;
        o.var_input = 0.2;
        o.var_recurrent = 0.25;
        o.var_output = 0.2;
    }
    sg_tensor *y = sg_seq_layers_forward(g, &ctx->s, xs, &o, final); /* (T, B, D*H) */
    if (!y)
        return NULL;
    sg_tensor *R = sg_input_f64(g, "R", SG_SHAPE(T, B, DH), ctx->r, false);
    sg_tensor *loss = sg_sum_all(g, sg_hadamard(g, y, R));
    for (size_t k = 0; k < n; k++) {
        loss = sg_add(g, loss, sg_scale(g, sg_sum_all(g, sg_hadamard(g, final[k].h, final[k].h)), 0.25));
        if (final[k].c)
            loss = sg_add(g, loss, sg_scale(g, sg_sum_all(g, sg_hadamard(g, final[k].c, final[k].c)), 0.125));
    }
    return loss;
}

static void gradcheck_case(const gc_case *c)
{
    sg_params *ps = sg_params_new(SG_F64);
    gc_ctx *ctx = calloc(1, sizeof *ctx);
    assert_non_null(ctx);
    ctx->c = c;
    sg_seq_config cfg = {.kind = c->make ? SG_CELL_CUSTOM : c->kind,
                         .act = c->act,
                         .input = I,
                         .hidden = H,
                         .layers = c->layers,
                         .bidirectional = c->bidir,
                         .make = c->make};
    assert_int_equal(sg_seq_layers_init(&ctx->s, ps, "enc", &cfg), SG_OK);
    assert_true(ctx->s.n_layers * ctx->s.n_dirs <= MAXCELLS);
    sg_rng rng;
    sg_rng_seed(&rng, 1234);
    assert_int_equal(sg_seq_layers_reset_parameters(&ctx->s, &rng, NULL), SG_OK); /* U(-1/2, 1/2), forget bias 1 */
    for (size_t k = 0; k < sizeof ctx->x / sizeof ctx->x[0]; k++)
        ctx->x[k] = sg_rng_range(&rng, -1.0, 1.0);
    for (size_t k = 0; k < sizeof ctx->r / sizeof ctx->r[0]; k++)
        ctx->r[k] = sg_rng_range(&rng, -0.5, 0.5);
    for (size_t k = 0; k < sizeof ctx->h0 / sizeof ctx->h0[0]; k++) {
        ctx->h0[k] = sg_rng_range(&rng, -0.8, 0.8);
        ctx->c0[k] = sg_rng_range(&rng, -0.8, 0.8);
    }
    sg_graph *g = sg_graph_new(SG_F64);
    sg_gradcheck_report r, t;
    sg_status st = sg_gradcheck_model(g, ps, gc_loss, ctx, NULL, &r);
    if (st != SG_OK)
        fail_msg("%s: gradcheck error %s", c->label, sg_graph_error(g));
    if (!r.passed)
        fail_msg("%s: model mode max rel err %.3g at %s (analytic %.12g numeric %.12g)", c->label, r.max_rel_err,
                 r.where, r.worst_analytic, r.worst_numeric);
    size_t n = ctx->s.n_layers * ctx->s.n_dirs, n_state = 0;
    if (c->init_inputs)
        for (size_t k = 0; k < n; k++)
            n_state += c->B * H * (ctx->s.cells[k].has_c ? 2 : 1);
    assert_int_equal(r.n_checked, sg_params_numel(ps) + T * c->B * I + n_state); /* every parameter and input */
    assert_int_equal(sg_gradcheck_tape(g, NULL, &t), SG_OK);
    if (!t.passed)
        fail_msg("%s: per-op check failed at %s in %s: max rel err %.3g at %s", c->label, t.bad_op ? t.bad_op : "?",
                 t.bad_scope, t.max_rel_err, t.where);
    assert_true(t.n_checked > 0);
    print_message("  %-26s model %.2e (%3zu elems, worst: %s)  per-op %.2e (%5zu elems)\n", c->label, r.max_rel_err,
                  r.n_checked, r.where, t.max_rel_err, t.n_checked);
    sg_graph_free(g);
    sg_seq_layers_free(&ctx->s);
    free(ctx);
    sg_params_free(ps);
}

static const size_t lengths3[3] = {5, 3, 1};
static const size_t unsorted3[3] = {2, 5, 0}; /* packing sorts them: rows 1, 0, 2 */

#define GC_TEST(fn, ...)                                                                                               \
    static void fn(void **s)                                                                                           \
    {                                                                                                                  \
        (void)s;                                                                                                       \
        gc_case c = {__VA_ARGS__};                                                                                     \
        gradcheck_case(&c);                                                                                            \
    }

GC_TEST(test_gc_rnn_tanh, .label = "rnn tanh", .kind = SG_CELL_RNN, .act = SG_ACT_TANH, .layers = 1, .B = 2)
GC_TEST(test_gc_rnn_sigmoid, .label = "rnn sigmoid", .kind = SG_CELL_RNN, .act = SG_ACT_SIGMOID, .layers = 1, .B = 2)
GC_TEST(test_gc_rnn_relu, .label = "rnn relu", .kind = SG_CELL_RNN, .act = SG_ACT_RELU, .layers = 1, .B = 3)
GC_TEST(test_gc_lstm, .label = "lstm", .kind = SG_CELL_LSTM, .layers = 1, .B = 2)
GC_TEST(test_gc_peephole, .label = "peephole lstm", .kind = SG_CELL_PEEPHOLE, .layers = 1, .B = 2)
GC_TEST(test_gc_gru, .label = "gru", .kind = SG_CELL_GRU, .layers = 1, .B = 3)
GC_TEST(test_gc_user_cifg, .label = "user cifg (projected)", .make = cifg_make, .layers = 1, .B = 2)
GC_TEST(test_gc_user_mgu, .label = "user mgu (raw input)", .make = mgu_make, .layers = 1, .B = 2)
GC_TEST(test_gc_stacked, .label = "lstm 2 layers", .kind = SG_CELL_LSTM, .layers = 2, .B = 2)
GC_TEST(test_gc_bidir, .label = "gru bidirectional", .kind = SG_CELL_GRU, .layers = 1, .bidir = true, .B = 2)
GC_TEST(test_gc_bidir_stacked, .label = "lstm bidir 2 layers", .kind = SG_CELL_LSTM, .layers = 2, .bidir = true, .B = 2)
GC_TEST(test_gc_user_bidir_stacked, .label = "user cifg bidir 2 layers", .make = cifg_make, .layers = 2, .bidir = true,
        .B = 2)
GC_TEST(test_gc_mask, .label = "lstm masked (5, 3, 1)", .kind = SG_CELL_LSTM, .layers = 1, .B = 3, .lengths = lengths3)
GC_TEST(test_gc_mask_bidir_gru, .label = "gru bidir masked", .kind = SG_CELL_GRU, .layers = 2, .bidir = true, .B = 3,
        .lengths = lengths3)
GC_TEST(test_gc_dropout, .label = "lstm 2 layers dropout", .kind = SG_CELL_LSTM, .layers = 2, .B = 3, .dropout = true)
GC_TEST(test_gc_dropout_bidir_mask, .label = "peephole bidir drop+mask", .kind = SG_CELL_PEEPHOLE, .layers = 2,
        .bidir = true, .B = 3, .dropout = true, .lengths = lengths3)
GC_TEST(test_gc_packed, .label = "lstm packed (5, 3, 1)", .kind = SG_CELL_LSTM, .layers = 1, .B = 3,
        .lengths = lengths3, .packed = true)
GC_TEST(test_gc_packed_unsorted, .label = "lstm bidir packed (2, 5, 0)", .kind = SG_CELL_LSTM, .layers = 2,
        .bidir = true, .B = 3, .lengths = unsorted3, .packed = true, .init_inputs = true)
GC_TEST(test_gc_packed_gru_drop, .label = "gru bidir packed drop", .kind = SG_CELL_GRU, .layers = 2, .bidir = true,
        .B = 3, .lengths = unsorted3, .packed = true, .dropout = true)
GC_TEST(test_gc_packed_user, .label = "user mgu packed (2, 5, 0)", .make = mgu_make, .layers = 1, .bidir = true, .B = 3,
        .lengths = unsorted3, .packed = true)
GC_TEST(test_gc_init_states, .label = "lstm bidir initial states", .kind = SG_CELL_LSTM, .layers = 1, .bidir = true,
        .B = 2, .init_inputs = true)
GC_TEST(test_gc_init_states_rnn, .label = "rnn 2 layers initial states", .kind = SG_CELL_RNN, .act = SG_ACT_TANH,
        .layers = 2, .B = 2, .init_inputs = true)

/* ---- helpers for the semantic tests ----------------------------------------- */

static double sigm(double v) { return 1.0 / (1.0 + exp(-v)); }

/* Fills every parameter of the cell with fixed, distinct values. */
static void fill_params(sg_cell *cell, double scale)
{
    for (size_t k = 0; k < cell->n_params; k++)
        for (size_t i = 0; i < cell->params[k]->numel; i++)
            sg_param_set(cell->params[k], i, scale * sin(1.3 * (double)i + 0.7 * (double)k + 0.1));
}

/* (x W)_j + b_j for one row x (n), W (n, m) row-major. */
static double affine1(const double *x, size_t n, const sg_param *W, const sg_param *b, size_t m, size_t j)
{
    double s = sg_param_get(b, j);
    for (size_t i = 0; i < n; i++)
        s += x[i] * sg_param_get(W, i * m + j);
    return s;
}

/* GRU, B = 1, I = 3, H = 2: one step by hand (scalar loops) vs sg_cell_step and
 * two steps vs sg_seq_run. */
static void test_gru_by_hand(void **s)
{
    (void)s;
    enum { GH = 2 };
    sg_params *ps = sg_params_new(SG_F64);
    sg_cell cell;
    assert_int_equal(sg_cell_init_gru(&cell, ps, "gru", I, GH), SG_OK);
    fill_params(&cell, 0.6);
    double x[2][I] = {{0.5, -1.0, 0.25}, {-0.3, 0.8, 1.1}}, h[GH] = {0.3, -0.6};
    double hh[2][GH]; /* hand-computed h after step 1 and 2 */
    for (int t = 0; t < 2; t++) {
        double hn[GH];
        for (size_t j = 0; j < GH; j++) {
            double r =
                sigm(affine1(x[t], I, cell.W_x, cell.b_x, 3 * GH, j) + affine1(h, GH, cell.W_h, cell.b_h, 3 * GH, j));
            double z = sigm(affine1(x[t], I, cell.W_x, cell.b_x, 3 * GH, GH + j) +
                            affine1(h, GH, cell.W_h, cell.b_h, 3 * GH, GH + j));
            double n = tanh(affine1(x[t], I, cell.W_x, cell.b_x, 3 * GH, 2 * GH + j) +
                            r * affine1(h, GH, cell.W_h, cell.b_h, 3 * GH, 2 * GH + j));
            hn[j] = (1.0 - z) * n + z * h[j];
        }
        memcpy(h, hn, sizeof h);
        memcpy(hh[t], h, sizeof h);
    }
    double h0v[GH] = {0.3, -0.6};
    sg_graph *g = sg_graph_new(SG_F64);
    sg_cell_state prev = {.h = sg_input_f64(g, "h0", SG_SHAPE(1, GH), h0v, false)}, next;
    assert_true(sg_cell_step(g, &cell, sg_input_f64(g, "x", SG_SHAPE(1, I), x[0], false), &prev, &next));
    SG_ASSERT_GRAPH_OK(g);
    assert_null(next.c);
    for (size_t j = 0; j < GH; j++)
        SG_ASSERT_NEAR(sg_tensor_get(next.h, j), hh[0][j], 1e-12);
    /* the runner over T = 2 */
    sg_seq_run_opts o = {.init = prev};
    sg_cell_state fin;
    sg_tensor *y = sg_seq_run(g, NULL, &cell, sg_input_f64(g, "xs", SG_SHAPE(2, 1, I), &x[0][0], false), &o, &fin);
    SG_ASSERT_GRAPH_OK(g);
    for (size_t t = 0; t < 2; t++)
        for (size_t j = 0; j < GH; j++)
            SG_ASSERT_NEAR(sg_tensor_get(y, t * GH + j), hh[t][j], 1e-12);
    for (size_t j = 0; j < GH; j++)
        SG_ASSERT_NEAR(sg_tensor_get(fin.h, j), hh[1][j], 1e-12);
    sg_graph_free(g);
    sg_cell_free(&cell);
    sg_params_free(ps);
}

/* LSTM and peephole LSTM, B = 1, H = 2, one step by hand: gate order i, f, g, o. */
static void lstm_by_hand(bool peep)
{
    enum { LH = 2 };
    sg_params *ps = sg_params_new(SG_F64);
    sg_cell cell;
    assert_int_equal(peep ? sg_cell_init_peephole(&cell, ps, "p", I, LH) : sg_cell_init_lstm(&cell, ps, "l", I, LH),
                     SG_OK);
    fill_params(&cell, 0.5);
    double x[I] = {0.4, -0.7, 0.9}, h[LH] = {-0.2, 0.5}, c[LH] = {0.8, -0.4}, hn[LH], cn[LH];
    for (size_t j = 0; j < LH; j++) {
        double a[4];
        for (size_t q = 0; q < 4; q++)
            a[q] = affine1(x, I, cell.W_x, cell.b_x, 4 * LH, q * LH + j) +
                   affine1(h, LH, cell.W_h, cell.b_h, 4 * LH, q * LH + j);
        double pi = peep ? sg_param_get(cell.p_i, j) : 0, pf = peep ? sg_param_get(cell.p_f, j) : 0;
        double po = peep ? sg_param_get(cell.p_o, j) : 0;
        double ig = sigm(a[0] + pi * c[j]), fg = sigm(a[1] + pf * c[j]), gg = tanh(a[2]);
        cn[j] = fg * c[j] + ig * gg;
        hn[j] = sigm(a[3] + po * cn[j]) * tanh(cn[j]);
    }
    sg_graph *g = sg_graph_new(SG_F64);
    sg_cell_state prev = {.h = sg_input_f64(g, "h", SG_SHAPE(1, LH), h, false),
                          .c = sg_input_f64(g, "c", SG_SHAPE(1, LH), c, false)},
                  next;
    assert_true(sg_cell_step(g, &cell, sg_input_f64(g, "x", SG_SHAPE(1, I), x, false), &prev, &next));
    for (size_t j = 0; j < LH; j++) {
        SG_ASSERT_NEAR(sg_tensor_get(next.h, j), hn[j], 1e-12);
        SG_ASSERT_NEAR(sg_tensor_get(next.c, j), cn[j], 1e-12);
    }
    sg_graph_free(g);
    sg_cell_free(&cell);
    sg_params_free(ps);
}

static void test_lstm_by_hand(void **s)
{
    (void)s;
    lstm_by_hand(false);
}
static void test_peephole_by_hand(void **s)
{
    (void)s;
    lstm_by_hand(true);
}

/* Runs a cell over xs (Tn, B, I) given as doubles; returns outputs, final state. */
static sg_tensor *run_cell(sg_graph *g, const sg_cell *cell, const double *x, size_t Tn, size_t B, sg_tensor *mask,
                           const size_t *lengths, bool reverse, sg_cell_state *fin)
{
    sg_seq_run_opts o = {.mask = mask, .lengths = lengths, .reverse = reverse};
    return sg_seq_run(g, "enc", cell, sg_input_f64(g, "xs", SG_SHAPE(Tn, B, I), x, false), &o, fin);
}

/* Padded steps: the final state is the state at each row's last real step,
 * padded outputs are exactly zero; the same holds reversed (the state after
 * reading the real part backwards); masked, or packed with unsorted lengths. */
static void mask_semantics(sg_cell_kind kind, bool packed)
{
    enum { B = 3 };
    const size_t sorted[B] = {5, 3, 2}, unsorted[B] = {3, 5, 2}, *len = packed ? unsorted : sorted;
    sg_params *ps = sg_params_new(SG_F64);
    sg_cell cell;
    assert_int_equal(sg_cell_init_kind(&cell, ps, "enc", kind, SG_ACT_TANH, I, H), SG_OK);
    sg_rng rng;
    sg_rng_seed(&rng, 9);
    assert_int_equal(sg_cell_reset_parameters(&cell, &rng, NULL), SG_OK);
    double x[T * B * I];
    for (size_t k = 0; k < T * B * I; k++)
        x[k] = sg_rng_range(&rng, -1, 1);
    sg_graph *g = sg_graph_new(SG_F64);
    for (int rev = 0; rev < 2; rev++) {
        sg_graph_reset(g);
        sg_cell_state fin;
        sg_tensor *y = packed ? run_cell(g, &cell, x, T, B, NULL, len, rev, &fin)
                              : run_cell(g, &cell, x, T, B, sg_seq_mask_from_lengths(g, len, T, B), NULL, rev, &fin);
        SG_ASSERT_GRAPH_OK(g);
        for (size_t b = 0; b < B; b++) {
            /* the same rows alone, unmasked, over their real length only */
            double xb[T * I];
            for (size_t t = 0; t < len[b]; t++)
                memcpy(xb + t * I, x + (t * B + b) * I, I * sizeof(double));
            sg_cell_state fb;
            sg_tensor *yb = run_cell(g, &cell, xb, len[b], 1, NULL, NULL, rev, &fb);
            SG_ASSERT_GRAPH_OK(g);
            for (size_t j = 0; j < H; j++) {
                SG_ASSERT_NEAR(sg_tensor_get(fin.h, b * H + j), sg_tensor_get(fb.h, j), 1e-12);
                if (cell.has_c)
                    SG_ASSERT_NEAR(sg_tensor_get(fin.c, b * H + j), sg_tensor_get(fb.c, j), 1e-12);
                /* forward: the final h IS the output at the last real step */
                if (!rev)
                    assert_true(sg_tensor_get(fin.h, b * H + j) == sg_tensor_get(y, ((len[b] - 1) * B + b) * H + j));
            }
            for (size_t t = 0; t < T; t++)
                for (size_t j = 0; j < H; j++) {
                    double v = sg_tensor_get(y, (t * B + b) * H + j);
                    if (t >= len[b])
                        assert_true(v == 0.0); /* padded output */
                    else
                        SG_ASSERT_NEAR(v, sg_tensor_get(yb, t * H + j), 1e-12);
                }
        }
    }
    sg_graph_free(g);
    sg_cell_free(&cell);
    sg_params_free(ps);
}

static void test_mask_lstm(void **s)
{
    (void)s;
    mask_semantics(SG_CELL_LSTM, false);
    mask_semantics(SG_CELL_LSTM, true);
}
static void test_mask_gru(void **s)
{
    (void)s;
    mask_semantics(SG_CELL_GRU, false);
    mask_semantics(SG_CELL_GRU, true);
}

/* Rows of every product (matmul, addmm) on the tape, added up. */
static size_t product_rows(const sg_graph *g)
{
    size_t rows = 0;
    for (size_t i = 0; i < sg_graph_tape_len(g); i++) {
        const sg_tensor *t = sg_graph_tape_at(g, i);
        if (t->op && (strcmp(t->op->name, "matmul") == 0 || strcmp(t->op->name, "addmm") == 0))
            rows += t->shape.ndim == 2 ? t->shape.d[0] : 0;
    }
    return rows;
}

/* Packed lengths in any order give the masked run's outputs, final states and
 * gradients (of the input, the initial states and every parameter) to 1e-12,
 * for LSTM and GRU, stacked and bidirectional; and padding costs no products:
 * the per-step recurrent products have sum(lengths) rows per cell, not T*B. */
static void test_packed_is_masked(void **s)
{
    (void)s;
    enum { B = 4, N = 2, D = 2, NC = N * D };
    const size_t len[B] = {3, 5, 0, 3};
    for (int kind = 0; kind < 2; kind++) {
        sg_params *ps = sg_params_new(SG_F64);
        sg_seq_layers sl;
        sg_seq_config cfg = {
            .kind = kind ? SG_CELL_GRU : SG_CELL_LSTM, .input = I, .hidden = H, .layers = N, .bidirectional = true};
        assert_int_equal(sg_seq_layers_init(&sl, ps, "enc", &cfg), SG_OK);
        sg_rng rng;
        sg_rng_seed(&rng, 31);
        assert_int_equal(sg_seq_layers_reset_parameters(&sl, &rng, NULL), SG_OK);
        double x[T * B * I], h0[NC * B * H], c0[NC * B * H], r[T * B * D * H];
        for (size_t k = 0; k < T * B * I; k++)
            x[k] = sg_rng_range(&rng, -1, 1);
        for (size_t k = 0; k < NC * B * H; k++) {
            h0[k] = sg_rng_range(&rng, -0.8, 0.8);
            c0[k] = sg_rng_range(&rng, -0.8, 0.8);
        }
        for (size_t k = 0; k < T * B * D * H; k++)
            r[k] = sg_rng_range(&rng, -0.5, 0.5);
        double got[2][T * B * D * H + 2 * NC * B * H], grads[2][T * B * I + NC * B * H];
        size_t n_par = sg_params_numel(ps), rows[2] = {0, 0};
        double *pgrad[2] = {calloc(n_par, sizeof(double)), calloc(n_par, sizeof(double))};
        assert_non_null(pgrad[0]);
        assert_non_null(pgrad[1]);
        for (int packed = 0; packed < 2; packed++) {
            sg_graph *g = sg_graph_new(SG_F64);
            sg_params_zero_grad(ps);
            sg_tensor *xs = sg_input_f64(g, "xs", SG_SHAPE(T, B, I), x, true);
            sg_cell_state init[NC] = {{0}}, fin[NC];
            for (size_t k = 0; k < NC; k++) {
                init[k].h = sg_input_f64(g, "h0", SG_SHAPE(B, H), h0 + k * B * H, true);
                if (sl.cells[k].has_c)
                    init[k].c = sg_input_f64(g, "c0", SG_SHAPE(B, H), c0 + k * B * H, false);
            }
            sg_seq_opts o = sg_seq_opts_defaults();
            o.init = init;
            if (packed)
                o.lengths = len;
            else
                o.mask = sg_seq_mask_from_lengths(g, len, T, B);
            sg_tensor *y = sg_seq_layers_forward(g, &sl, xs, &o, fin); /* (T, B, 2H) */
            SG_ASSERT_GRAPH_OK(g);
            rows[packed] = product_rows(g);
            sg_tensor *loss = sg_sum_all(g, sg_hadamard(g, y, sg_input_f64(g, "R", SG_SHAPE(T, B, D * H), r, false)));
            for (size_t k = 0; k < NC; k++)
                loss = sg_add(g, loss, sg_sum_all(g, sg_hadamard(g, fin[k].h, fin[k].h)));
            assert_int_equal(sg_backward(g, loss), SG_OK);
            size_t n = 0;
            for (size_t k = 0; k < y->numel; k++)
                got[packed][n++] = sg_tensor_get(y, k);
            for (size_t k = 0; k < NC; k++)
                for (size_t i = 0; i < B * H; i++) {
                    got[packed][n++] = sg_tensor_get(fin[k].h, i);
                    got[packed][n++] = fin[k].c ? sg_tensor_get(fin[k].c, i) : 0.0;
                }
            n = 0;
            for (size_t k = 0; k < xs->numel; k++)
                grads[packed][n++] = sg_tensor_grad_get(xs, k);
            for (size_t k = 0; k < NC; k++)
                for (size_t i = 0; i < B * H; i++)
                    grads[packed][n++] = sg_tensor_grad_get(init[k].h, i);
            for (size_t k = 0, at = 0; k < ps->n; k++) {
                const sg_param *p = ps->items[k];
                for (size_t i = 0; i < p->numel; i++)
                    pgrad[packed][at++] = sg_param_grad_get(p, i);
            }
            sg_graph_free(g);
        }
        for (size_t k = 0; k < sizeof got[0] / sizeof got[0][0]; k++)
            SG_ASSERT_NEAR(got[1][k], got[0][k], 1e-12);
        for (size_t k = 0; k < sizeof grads[0] / sizeof grads[0][0]; k++)
            SG_ASSERT_NEAR(grads[1][k], grads[0][k], 1e-12);
        for (size_t k = 0; k < n_par; k++)
            SG_ASSERT_NEAR(pgrad[1][k], pgrad[0][k], 1e-12);
        /* the per-step products (the projection is one 3-D product, not
         * counted): masked, T steps of B rows per cell; packed, the real rows
         * only (11 of 20) */
        print_message("  %s: rows of the per-step products masked %zu, packed %zu\n", kind ? "gru" : "lstm", rows[0],
                      rows[1]);
        assert_true(rows[0] > 0 && rows[0] % (NC * T * B) == 0);
        assert_int_equal(rows[1], rows[0] / (T * B) * (3 + 5 + 0 + 3));
        free(pgrad[0]);
        free(pgrad[1]);
        sg_seq_layers_free(&sl);
        sg_params_free(ps);
    }
}

static size_t count_matmuls(const sg_graph *g, size_t *batched)
{
    size_t n = 0;
    *batched = 0;
    for (size_t i = 0; i < sg_graph_tape_len(g); i++) {
        const sg_tensor *t = sg_graph_tape_at(g, i);
        if (t->op && (strcmp(t->op->name, "matmul") == 0 || strcmp(t->op->name, "addmm") == 0)) { /* products */
            n++;
            *batched += t->shape.ndim == 3;
        }
    }
    return n;
}

/* The input projection is ONE matmul for all T steps: 1 + T matmuls per layer
 * and direction, for every built-in kind. */
static void test_projection_one_matmul(void **s)
{
    (void)s;
    const sg_cell_kind kinds[] = {SG_CELL_RNN, SG_CELL_LSTM, SG_CELL_PEEPHOLE, SG_CELL_GRU};
    for (size_t k = 0; k < 4; k++)
        for (int shape = 0; shape < 3; shape++) {
            size_t N = shape == 0 ? 1 : 2, D = shape == 2 ? 2 : 1, B = 2;
            sg_params *ps = sg_params_new(SG_F64);
            sg_seq_layers L;
            sg_seq_config cfg = {.kind = kinds[k], .input = I, .hidden = H, .layers = N, .bidirectional = D == 2};
            assert_int_equal(sg_seq_layers_init(&L, ps, "enc", &cfg), SG_OK);
            sg_graph *g = sg_graph_new(SG_F64);
            sg_tensor *y = sg_seq_layers_forward(g, &L, sg_const_fill(g, "xs", SG_SHAPE(T, B, I), 0.5), NULL, NULL);
            SG_ASSERT_GRAPH_OK(g);
            assert_int_equal(y->shape.ndim, 3);
            assert_int_equal(y->shape.d[2], D * H);
            size_t batched, n = count_matmuls(g, &batched);
            assert_int_equal(n, N * D * (1 + T));
            assert_int_equal(batched, N * D); /* (T, B, I) x (I, G*H): one per layer and direction */
            sg_graph_free(g);
            sg_seq_layers_free(&L);
            sg_params_free(ps);
        }
}

/* Steps on inputs the caller projected are the steps that project them:
 * T steps of sg_cell_step_projected on the rows of P = xs W_x + b_x (one
 * product for all steps) give the same bytes as T steps of sg_cell_step on
 * each x_t; a cell without a projection and a p_t of the wrong width are
 * refused. */
static void test_step_projected(void **s)
{
    (void)s;
    const sg_cell_kind kinds[] = {SG_CELL_LSTM, SG_CELL_GRU, SG_CELL_RNN, SG_CELL_PEEPHOLE};
    const size_t B = 2;
    for (size_t k = 0; k < 4; k++) {
        sg_params *ps = sg_params_new(SG_F64);
        sg_cell cell;
        assert_int_equal(sg_cell_init_kind(&cell, ps, "c", kinds[k], SG_ACT_TANH, I, H), SG_OK);
        sg_rng rng;
        sg_rng_seed(&rng, 5);
        assert_int_equal(sg_cell_reset_parameters(&cell, &rng, NULL), SG_OK);
        double x[T * B * I], h0[B * H];
        for (size_t i = 0; i < T * B * I; i++)
            x[i] = sg_rng_range(&rng, -1.0, 1.0);
        for (size_t i = 0; i < B * H; i++)
            h0[i] = sg_rng_range(&rng, -1.0, 1.0);
        double out[2][T][B * H];
        for (int projected = 0; projected < 2; projected++) {
            sg_graph *g = sg_graph_new(SG_F64);
            sg_tensor *xs = sg_input_f64(g, "xs", SG_SHAPE(T * B, I), x, false);
            sg_tensor *P = projected ? sg_cell_project(g, &cell, xs) : NULL; /* (T*B, G*H) */
            sg_cell_state st;
            assert_true(sg_cell_state_zeros(g, &cell, B, &st)); /* c0 = 0 for the LSTMs */
            st.h = st.h_rec = sg_input_f64(g, "h0", SG_SHAPE(B, H), h0, false);
            for (size_t t = 0; t < T; t++) {
                sg_cell_state next;
                bool ok = projected ? sg_cell_step_projected(g, &cell, sg_slice(g, P, 0, t * B, B), &st, &next)
                                    : sg_cell_step(g, &cell, sg_slice(g, xs, 0, t * B, B), &st, &next);
                assert_true(ok);
                sg_tensor_copy_out_f64(next.h, out[projected][t]);
                st = (sg_cell_state){.h = next.h, .c = next.c, .h_rec = next.h};
            }
            SG_ASSERT_GRAPH_OK(g);
            sg_graph_free(g);
        }
        assert_memory_equal(out[0], out[1], sizeof out[0]);
        /* a p_t of the raw input's width */
        sg_graph *g = sg_graph_new(SG_F64);
        sg_cell_state st0, next;
        assert_true(sg_cell_state_zeros(g, &cell, B, &st0));
        assert_false(sg_cell_step_projected(g, &cell, sg_const_fill(g, "p", SG_SHAPE(B, I), 0.0), &st0, &next));
        assert_int_equal(sg_graph_status(g), SG_ERR_SHAPE);
        assert_true(sg_contains(sg_graph_error(g), "x_t must be (B, G*H)"));
        sg_graph_free(g);
        sg_cell_free(&cell);
        sg_params_free(ps);
    }
    /* a cell without a projection (G = 0) cannot be given projected inputs */
    sg_params *ps = sg_params_new(SG_F64);
    sg_cell mgu;
    assert_int_equal(mgu_make(&mgu, ps, "mgu", I, H, NULL), SG_OK);
    sg_graph *g = sg_graph_new(SG_F64);
    sg_cell_state st0, next;
    assert_true(sg_cell_state_zeros(g, &mgu, 2, &st0));
    assert_false(sg_cell_step_projected(g, &mgu, sg_const_fill(g, "p", SG_SHAPE(2, H), 0.0), &st0, &next));
    assert_int_equal(sg_graph_status(g), SG_ERR_ARG);
    assert_true(sg_contains(sg_graph_error(g), "cell 'mgu': it has no input projection"));
    sg_graph_free(g);
    sg_cell_free(&mgu);
    sg_params_free(ps);
}

/* Every step's nodes are in scope "<layer>/t<k>"; the reversed direction runs
 * t = T-1 first; the projection is in "<layer>". */
static void test_scopes(void **s)
{
    (void)s;
    sg_params *ps = sg_params_new(SG_F64);
    sg_seq_layers L;
    sg_seq_config cfg = {.kind = SG_CELL_LSTM, .input = I, .hidden = H, .layers = 2, .bidirectional = true};
    assert_int_equal(sg_seq_layers_init(&L, ps, "enc", &cfg), SG_OK);
    assert_string_equal(L.cells[0].name, "enc.l0");
    assert_string_equal(L.cells[3].name, "enc.l1_reverse");
    sg_graph *g = sg_graph_new(SG_F64);
    sg_scope_push(g, "model");
    sg_tensor *y = sg_seq_layers_forward(g, &L, sg_const_fill(g, "xs", SG_SHAPE(T, 2, I), 0.5), NULL, NULL);
    sg_scope_pop(g);
    SG_ASSERT_GRAPH_OK(g);
    assert_non_null(y);
    size_t seen[4][T] = {{0}}, first[4][T];
    char path[256], want[64];
    for (size_t i = 0; i < sg_graph_tape_len(g); i++) {
        const sg_tensor *t = sg_graph_tape_at(g, i);
        if (!t->op)
            continue;
        sg_scope_path(t->scope, path, sizeof path);
        assert_true(strncmp(path, "model/enc.l", 11) == 0); /* nothing outside the layers */
        if (strcmp(t->op->name, "matmul") == 0 && t->shape.ndim == 3) {
            assert_int_equal(sg_scope_depth(t->scope), 2); /* the projection: "model/<layer>" */
            continue;
        }
        for (size_t c = 0; c < 4; c++)
            for (size_t k = 0; k < T; k++) {
                snprintf(want, sizeof want, "model/%s/t%zu", L.cells[c].name, k);
                if (strcmp(path, want) == 0) {
                    if (!seen[c][k])
                        first[c][k] = i;
                    seen[c][k]++;
                    assert_string_equal(sg_scope_name(t->scope), want + strlen("model/") + strlen(L.cells[c].name) + 1);
                }
            }
    }
    for (size_t c = 0; c < 4; c++)
        for (size_t k = 0; k < T; k++) {
            assert_true(seen[c][k] >= 10); /* slice, matmul, adds, split, gates, c, h */
            if (k > 0) {
                bool rev = c % 2 == 1;
                assert_true(rev ? first[c][k] < first[c][k - 1] : first[c][k] > first[c][k - 1]);
            }
        }
    sg_graph_free(g);
    sg_seq_layers_free(&L);
    sg_params_free(ps);
}

/* Dropout kinds, seen through identity cells (each step outputs its input):
 * between-layer dropout draws a fresh mask per step, var_input one mask per
 * sequence, var_output one mask; eval mode applies none; masks hold 0 or
 * 1/(1-p) and repeat with the seed. */
static void test_dropout_masks(void **s)
{
    (void)s;
    enum { B = 3, F = 6, TT = 8 };
    sg_params *ps = sg_params_new(SG_F64);
    sg_seq_layers L;
    sg_seq_config cfg = {.kind = SG_CELL_CUSTOM, .make = ident_make, .input = F, .hidden = F, .layers = 2};
    assert_int_equal(sg_seq_layers_init(&L, ps, "id", &cfg), SG_OK);
    sg_graph *g = sg_graph_new(SG_F64);
    sg_rng rng;
    for (int kind = 0; kind < 4; kind++) {
        sg_graph_reset(g);
        sg_rng_seed(&rng, 5);
        sg_seq_opts o = sg_seq_opts_defaults();
        o.training = kind != 3;
        o.rng = &rng;
        double p = 0.5;
        if (kind == 0)
            o.dropout = p;
        else if (kind == 1)
            o.var_input = p;
        else
            o.var_output = p;
        if (kind == 3)
            o.dropout = o.var_input = o.var_recurrent = p; /* eval: all ignored */
        sg_tensor *y = sg_seq_layers_forward(g, &L, sg_const_fill(g, "xs", SG_SHAPE(TT, B, F), 1.0), &o, NULL);
        SG_ASSERT_GRAPH_OK(g);
        size_t zeros = 0, differ = 0;
        for (size_t t = 0; t < TT; t++)
            for (size_t k = 0; k < B * F; k++) {
                double v = sg_tensor_get(y, t * B * F + k), v0 = sg_tensor_get(y, k);
                if (kind == 3)
                    assert_true(v == 1.0);
                else if (kind == 1)
                    assert_true(v == 0.0 || v == 4.0); /* var_input at both layers: 1/(1-p)^2 */
                else
                    assert_true(v == 0.0 || v == 2.0);
                zeros += v == 0.0;
                differ += v != v0;
            }
        if (kind == 0) /* a fresh mask per step */
            assert_true(differ > TT * B * F / 4);
        else /* the same mask at every step */
            assert_int_equal(differ, 0);
        if (kind != 3)
            assert_true(zeros > 0 && zeros < TT * B * F);
    }
    /* masks repeat with the seed and are rejected with a bad p */
    sg_graph_reset(g);
    sg_rng_seed(&rng, 3);
    sg_tensor *m1 = sg_dropout_mask(g, &rng, SG_SHAPE(50, 20), 0.25);
    sg_rng_seed(&rng, 3);
    sg_tensor *m2 = sg_dropout_mask(g, &rng, SG_SHAPE(50, 20), 0.25);
    SG_ASSERT_GRAPH_OK(g);
    size_t kept = 0;
    for (size_t k = 0; k < 1000; k++) {
        assert_true(sg_tensor_get(m1, k) == sg_tensor_get(m2, k));
        kept += sg_tensor_get(m1, k) != 0.0;
        assert_true(sg_tensor_get(m1, k) == 0.0 || fabs(sg_tensor_get(m1, k) - 1.0 / 0.75) < 1e-15);
    }
    assert_true(kept > 700 && kept < 800); /* ~750 */
    assert_null(sg_dropout_mask(g, &rng, SG_SHAPE(2), 1.0));
    assert_int_equal(sg_graph_status(g), SG_ERR_ARG);
    sg_graph_free(g);
    sg_seq_layers_free(&L);
    sg_params_free(ps);
}

/* Recurrent variational dropout multiplies h_{t-1} (as the recurrent input)
 * by one (B, H) mask: with the cell h' = x + 2 h_rec and x = 1, every unit is
 * either 1 at every step (dropped) or follows 1 + 2*2*h. */
static bool dbl_step(sg_graph *g, const sg_cell *cell, sg_tensor *x, const sg_cell_state *prev, sg_cell_state *next)
{
    (void)cell;
    next->h = sg_add(g, x, sg_scale(g, prev->h_rec, 2.0));
    return next->h != NULL;
}

static void test_recurrent_dropout(void **s)
{
    (void)s;
    enum { B = 2, F = 5, TT = 4 };
    sg_params *ps = sg_params_new(SG_F64);
    sg_cell cell;
    assert_int_equal(sg_cell_init_custom(&cell, ps, "dbl", F, F, 0, false, dbl_step, NULL), SG_OK);
    sg_graph *g = sg_graph_new(SG_F64);
    sg_rng rng;
    sg_rng_seed(&rng, 8);
    sg_seq_run_opts o = {.rec_mask = sg_dropout_mask(g, &rng, SG_SHAPE(B, F), 0.5)};
    sg_tensor *y = sg_seq_run(g, NULL, &cell, sg_const_fill(g, "xs", SG_SHAPE(TT, B, F), 1.0), &o, NULL);
    SG_ASSERT_GRAPH_OK(g);
    size_t dropped = 0;
    for (size_t k = 0; k < B * F; k++) {
        double m = sg_tensor_get(o.rec_mask, k), h = 0.0;
        dropped += m == 0.0;
        for (size_t t = 0; t < TT; t++) {
            h = 1.0 + 2.0 * m * h;
            SG_ASSERT_NEAR(sg_tensor_get(y, t * B * F + k), h, 1e-12);
        }
    }
    assert_true(dropped > 0 && dropped < B * F);
    sg_graph_free(g);
    sg_cell_free(&cell);
    sg_params_free(ps);
}

/* Truncated BPTT: chunk 2 started from sg_detach(chunk 1's final state) gets
 * exactly the gradients of chunk 2 run alone from that state copied out and
 * fed back as an input; chunk 1 receives no gradient. */
static void test_truncated_bptt(void **s)
{
    (void)s;
    enum { B = 2, T1 = 3, T2 = 4 };
    sg_params *ps = sg_params_new(SG_F64);
    sg_cell cell;
    assert_int_equal(sg_cell_init_lstm(&cell, ps, "lstm", I, H), SG_OK);
    sg_rng rng;
    sg_rng_seed(&rng, 21);
    assert_int_equal(sg_cell_reset_parameters(&cell, &rng, NULL), SG_OK);
    double x1[T1 * B * I], x2[T2 * B * I];
    for (size_t k = 0; k < T1 * B * I; k++)
        x1[k] = sg_rng_range(&rng, -1, 1);
    for (size_t k = 0; k < T2 * B * I; k++)
        x2[k] = sg_rng_range(&rng, -1, 1);
    size_t np = sg_params_numel(ps);
    double *g1 = calloc(np, sizeof *g1), hc[2][B * H];
    /* one graph: chunk 1, detach, chunk 2 */
    sg_graph *g = sg_graph_new(SG_F64);
    sg_params_zero_grad(ps);
    sg_tensor *xs1 = sg_input_f64(g, "xs1", SG_SHAPE(T1, B, I), x1, true);
    sg_cell_state f1, f2;
    assert_non_null(sg_seq_run(g, "c1", &cell, xs1, NULL, &f1));
    sg_seq_run_opts o = {.init = {.h = sg_detach(g, f1.h), .c = sg_detach(g, f1.c)}};
    sg_tensor *y2 = sg_seq_run(g, "c2", &cell, sg_input_f64(g, "xs2", SG_SHAPE(T2, B, I), x2, false), &o, &f2);
    sg_tensor *loss = sg_add(g, sg_sum_all(g, sg_hadamard(g, y2, y2)), sg_sum_all(g, f2.c));
    SG_ASSERT_GRAPH_OK(g);
    assert_int_equal(sg_backward(g, loss), SG_OK);
    for (size_t k = 0; k < B * I * T1; k++)
        assert_true(sg_tensor_grad_get(xs1, k) == 0.0); /* nothing flowed into chunk 1 */
    sg_tensor_copy_out_f64(f1.h, hc[0]);
    sg_tensor_copy_out_f64(f1.c, hc[1]);
    for (size_t p = 0, n = 0; p < ps->n; p++)
        for (size_t i = 0; i < ps->items[p]->numel; i++)
            g1[n++] = sg_param_grad_get(ps->items[p], i);
    /* a new step: the carried state copied out and fed back as inputs */
    sg_graph_reset(g);
    sg_params_zero_grad(ps);
    sg_seq_run_opts o2 = {.init = {.h = sg_input_f64(g, "h0", SG_SHAPE(B, H), hc[0], false),
                                   .c = sg_input_f64(g, "c0", SG_SHAPE(B, H), hc[1], false)}};
    y2 = sg_seq_run(g, "c2", &cell, sg_input_f64(g, "xs2", SG_SHAPE(T2, B, I), x2, false), &o2, &f2);
    loss = sg_add(g, sg_sum_all(g, sg_hadamard(g, y2, y2)), sg_sum_all(g, f2.c));
    assert_int_equal(sg_backward(g, loss), SG_OK);
    double gn = 0;
    for (size_t p = 0, n = 0; p < ps->n; p++)
        for (size_t i = 0; i < ps->items[p]->numel; i++, n++) {
            SG_ASSERT_NEAR(sg_param_grad_get(ps->items[p], i), g1[n], 1e-13);
            gn += fabs(g1[n]);
        }
    assert_true(gn > 0);
    free(g1);
    sg_graph_free(g);
    sg_cell_free(&cell);
    sg_params_free(ps);
}

/* Parameter names and shapes, PyTorch-style init, the forget bias, the
 * parameter lists. */
static void test_params_and_init(void **s)
{
    (void)s;
    sg_params *ps = sg_params_new(SG_F64);
    sg_cell c;
    assert_int_equal(sg_cell_init_peephole(&c, ps, "pl", I, H), SG_OK);
    const char *names[] = {"pl.W_x", "pl.b_x", "pl.W_h", "pl.b_h", "pl.p_i", "pl.p_f", "pl.p_o"};
    sg_shape shapes[] = {SG_SHAPE(I, 4 * H), SG_SHAPE(4 * H), SG_SHAPE(H, 4 * H), SG_SHAPE(4 * H),
                         SG_SHAPE(H),        SG_SHAPE(H),     SG_SHAPE(H)};
    assert_int_equal(c.n_params, 7);
    for (size_t k = 0; k < 7; k++) {
        sg_param *p = sg_params_find(ps, names[k]);
        assert_non_null(p);
        assert_ptr_equal(p, c.params[k]);
        assert_true(sg_shape_equal(p->shape, shapes[k]));
    }
    sg_rng rng;
    sg_rng_seed(&rng, 4);
    assert_int_equal(sg_cell_reset_parameters(&c, &rng, NULL), SG_OK);
    double k = 1.0 / sqrt((double)H), lo = 0, hi = 0;
    for (size_t q = 0; q < c.n_params; q++)
        for (size_t i = 0; i < c.params[q]->numel; i++) {
            double v = sg_param_get(c.params[q], i);
            bool forget = (c.params[q] == c.b_x || c.params[q] == c.b_h) && i >= H && i < 2 * H;
            if (forget)
                assert_true(v == (c.params[q] == c.b_x ? 1.0 : 0.0));
            else {
                assert_true(v >= -k && v < k);
                lo = fmin(lo, v), hi = fmax(hi, v);
            }
        }
    assert_true(lo < -0.8 * k && hi > 0.8 * k); /* the whole range is used */
    /* a given range, forget bias 0; the same seed gives the same values */
    sg_cell_init_opts o = {.lo = -0.1, .hi = 0.1, .set_forget_bias = true, .forget_bias = 0.0};
    sg_rng_seed(&rng, 4);
    assert_int_equal(sg_cell_reset_parameters(&c, &rng, &o), SG_OK);
    double w0 = sg_param_get(c.W_x, 0);
    assert_true(fabs(w0) < 0.1);
    for (size_t j = H; j < 2 * H; j++)
        assert_true(sg_param_get(c.b_x, j) == 0.0 && sg_param_get(c.b_h, j) == 0.0);
    sg_rng_seed(&rng, 4);
    assert_int_equal(sg_cell_reset_parameters(&c, &rng, &o), SG_OK);
    assert_true(sg_param_get(c.W_x, 0) == w0);
    o.lo = 1, o.hi = -1;
    assert_int_equal(sg_cell_reset_parameters(&c, &rng, &o), SG_ERR_ARG);
    /* a taken name adds nothing */
    size_t n0 = ps->n;
    sg_cell c2;
    assert_int_equal(sg_cell_init_lstm(&c2, ps, "pl", I, H), SG_ERR_ARG);
    assert_int_equal(ps->n, n0);
    assert_int_equal(sg_cell_init_gru(&c2, ps, "gru", I, 0), SG_ERR_ARG);
    assert_int_equal(sg_cell_init_gru(&c2, ps, "gru", I, H), SG_OK);
    assert_int_equal(sg_cell_set_forget_bias(&c2, 1.0), SG_ERR_ARG); /* GRU has no forget gate */
    assert_true(sg_shape_equal(c2.W_x->shape, SG_SHAPE(I, 3 * H)));
    assert_null(c2.p_i);
    assert_false(c2.has_c);
    sg_cell_kind kind;
    assert_int_equal(sg_cell_kind_parse("gru", &kind), SG_OK);
    assert_int_equal(kind, SG_CELL_GRU);
    assert_int_equal(sg_cell_kind_parse("custom", &kind), SG_ERR_ARG);
    /* stacked bidirectional names and shapes; the parameter list */
    sg_seq_layers L;
    sg_seq_config cfg = {.kind = SG_CELL_LSTM, .input = I, .hidden = H, .layers = 2, .bidirectional = true};
    assert_int_equal(sg_seq_layers_init(&L, ps, "enc", &cfg), SG_OK);
    sg_param *W = sg_params_find(ps, "enc.l1_reverse.W_x");
    assert_non_null(W);
    assert_true(sg_shape_equal(W->shape, SG_SHAPE(2 * H, 4 * H)));
    assert_non_null(sg_params_find(ps, "enc.l0.b_h"));
    sg_param *list[16];
    assert_int_equal(sg_seq_layers_params(&L, list, 16), 16);
    assert_ptr_equal(list[12], W);
    sg_seq_layers L2;
    assert_int_equal(sg_seq_layers_init(&L2, ps, "enc", &cfg), SG_ERR_ARG); /* names taken */
    assert_null(L2.cells);
    sg_seq_layers_free(&L);
    sg_cell_free(&c);
    sg_cell_free(&c2);
    sg_params_free(ps);
}

/* Bad inputs give a graph error naming the layer, never a crash. */
static void test_bad_inputs(void **s)
{
    (void)s;
    sg_params *ps = sg_params_new(SG_F64);
    sg_seq_layers L;
    sg_seq_config cfg = {.kind = SG_CELL_LSTM, .input = I, .hidden = H, .layers = 2};
    assert_int_equal(sg_seq_layers_init(&L, ps, "lstm", &cfg), SG_OK);
    sg_graph *g = sg_graph_new(SG_F64);
    /* wrong feature size */
    assert_null(sg_seq_layers_forward(g, &L, sg_const_fill(g, "xs", SG_SHAPE(T, 2, I + 1), 0.0), NULL, NULL));
    assert_int_equal(sg_graph_status(g), SG_ERR_SHAPE);
    assert_true(sg_contains(sg_graph_error(g), "layer 'lstm.l0'"));
    assert_true(sg_contains(sg_graph_error(g), "I = 3"));
    /* not time-major 3-D */
    sg_graph_reset(g);
    assert_null(sg_seq_layers_forward(g, &L, sg_const_fill(g, "xs", SG_SHAPE(2, I), 0.0), NULL, NULL));
    assert_true(sg_contains(sg_graph_error(g), "(T, B, I)"));
    /* mask shape */
    sg_graph_reset(g);
    sg_seq_opts o = sg_seq_opts_defaults();
    o.mask = sg_const_fill(g, "mask", SG_SHAPE(2, T), 1.0);
    assert_null(sg_seq_layers_forward(g, &L, sg_const_fill(g, "xs", SG_SHAPE(T, 2, I), 0.0), &o, NULL));
    assert_int_equal(sg_graph_status(g), SG_ERR_SHAPE);
    assert_true(sg_contains(sg_graph_error(g), "layer 'lstm.l0': the mask must be (T, B) = (5, 2)"));
    /* packed lengths: too long, with a mask as well, too long for one run */
    sg_graph_reset(g);
    const size_t too_long[2] = {2, T + 1}, unsorted[2] = {2, 4};
    o = sg_seq_opts_defaults();
    o.lengths = too_long;
    assert_null(sg_seq_layers_forward(g, &L, sg_const_fill(g, "xs", SG_SHAPE(T, 2, I), 0.0), &o, NULL));
    assert_int_equal(sg_graph_status(g), SG_ERR_ARG);
    assert_true(sg_contains(sg_graph_error(g), "layer 'lstm': length 6 of row 1 is longer than T = 5"));
    sg_graph_reset(g);
    o.lengths = unsorted;
    o.mask = sg_const_fill(g, "mask", SG_SHAPE(T, 2), 1.0);
    assert_null(sg_seq_layers_forward(g, &L, sg_const_fill(g, "xs", SG_SHAPE(T, 2, I), 0.0), &o, NULL));
    assert_true(sg_contains(sg_graph_error(g), "a padding mask or packed lengths, not both"));
    sg_graph_reset(g);
    sg_seq_run_opts ro = {.lengths = too_long};
    assert_null(sg_seq_run(g, "enc", &L.cells[0], sg_const_fill(g, "xs", SG_SHAPE(T, 2, I), 0.0), &ro, NULL));
    assert_int_equal(sg_graph_status(g), SG_ERR_ARG);
    assert_true(sg_contains(sg_graph_error(g), "layer 'enc': length 6 of row 1 is longer than T = 5"));
    /* initial state of the second layer */
    sg_graph_reset(g);
    sg_cell_state init[2] = {{0}};
    init[1].c = sg_const_fill(g, "c0", SG_SHAPE(2, H + 1), 0.0);
    o = sg_seq_opts_defaults();
    o.init = init;
    assert_null(sg_seq_layers_forward(g, &L, sg_const_fill(g, "xs", SG_SHAPE(T, 2, I), 0.0), &o, NULL));
    assert_true(sg_contains(sg_graph_error(g), "layer 'lstm.l1': the initial c"));
    /* dropout without an rng, bad rates */
    sg_graph_reset(g);
    o = sg_seq_opts_defaults();
    o.training = true;
    o.var_recurrent = 0.2;
    assert_null(sg_seq_layers_forward(g, &L, sg_const_fill(g, "xs", SG_SHAPE(T, 2, I), 0.0), &o, NULL));
    assert_int_equal(sg_graph_status(g), SG_ERR_ARG);
    assert_true(sg_contains(sg_graph_error(g), "needs an rng"));
    sg_graph_reset(g);
    o.dropout = 1.5;
    assert_null(sg_seq_layers_forward(g, &L, sg_const_fill(g, "xs", SG_SHAPE(T, 2, I), 0.0), &o, NULL));
    assert_true(sg_contains(sg_graph_error(g), "layer 'lstm'"));
    /* NULL input; a graph in error stays in error and returns NULL */
    sg_graph_reset(g);
    assert_null(sg_seq_run(g, "enc", &L.cells[0], NULL, NULL, NULL));
    assert_int_equal(sg_graph_status(g), SG_ERR_ARG);
    assert_true(sg_contains(sg_graph_error(g), "layer 'enc'"));
    assert_null(sg_seq_layers_forward(g, &L, NULL, NULL, NULL));
    /* an input from another graph */
    sg_graph_reset(g);
    sg_graph *g32 = sg_graph_new(SG_F32);
    assert_null(sg_seq_layers_forward(g, &L, sg_const_fill(g32, "xs", SG_SHAPE(T, 2, I), 0.0), NULL, NULL));
    assert_true(sg_contains(sg_graph_error(g), "another graph"));
    sg_graph_free(g32);
    /* a user cell returning a wrong state */
    sg_graph_reset(g);
    sg_cell bad;
    assert_int_equal(sg_cell_init_custom(&bad, ps, "bad", I, H, 0, false, bad_step, NULL), SG_OK);
    assert_null(sg_seq_run(g, NULL, &bad, sg_const_fill(g, "xs", SG_SHAPE(T, 2, I), 0.0), NULL, NULL));
    assert_int_equal(sg_graph_status(g), SG_ERR_SHAPE);
    assert_true(sg_contains(sg_graph_error(g), "layer 'bad' at step t0: the new h has the wrong shape"));
    assert_null(sg_scope_current(g)); /* the scopes were closed */
    /* an op failing inside a step names "<layer>/t<k>" */
    sg_graph_reset(g);
    sg_cell_state nx,
        st = {.h = sg_const_fill(g, "h", SG_SHAPE(2, H), 0.0), .c = sg_const_fill(g, "c", SG_SHAPE(2, H), 0.0)};
    assert_false(sg_cell_step(g, &L.cells[0], sg_const_fill(g, "x", SG_SHAPE(3, I), 0.0), &st, &nx));
    assert_true(sg_contains(sg_graph_error(g), "cell 'lstm.l0'"));
    sg_graph_reset(g);
    assert_true(sg_seq_layers_forward(g, &L, sg_const_fill(g, "xs", SG_SHAPE(T, 2, I), 0.0), NULL, NULL) != NULL);
    SG_ASSERT_GRAPH_OK(g);
    sg_cell_free(&bad);
    sg_graph_free(g);
    sg_seq_layers_free(&L);
    sg_params_free(ps);
}

/* A 2-layer LSTM trained with Adam (f32; padding mask, between-layer and
 * variational dropout on): after warm-up a step allocates nothing from the
 * heap, and training lowers the evaluation loss. */
enum { ST_T = 12, ST_B = 4, ST_I = 8, ST_H = 16 };

/* Masked mean squared error of the stack's output against tgt; with train,
 * dropout is on and backward runs.  Returns the loss. */
static double st_loss(sg_graph *g, const sg_seq_layers *L, const float *x, const float *tgt, const sg_seq_opts *o,
                      bool train)
{
    static const size_t lens[ST_B] = {12, 9, 12, 5};
    sg_seq_opts oo = *o;
    oo.training = train;
    oo.mask = sg_seq_mask_from_lengths(g, lens, ST_T, ST_B);
    sg_tensor *y = sg_seq_layers_forward(g, L, sg_input_f32(g, "xs", SG_SHAPE(ST_T, ST_B, ST_I), x, false), &oo,
                                         NULL); /* (T, B, H), zero at padding */
    sg_tensor *m = sg_reshape(g, oo.mask, SG_SHAPE(ST_T, ST_B, 1));
    sg_tensor *d = sg_hadamard(g, sg_sub(g, y, sg_input_f32(g, "target", SG_SHAPE(ST_T, ST_B, ST_H), tgt, false)), m);
    sg_tensor *loss = sg_mean_all(g, sg_hadamard(g, d, d));
    if (!loss)
        fail_msg("%s", sg_graph_error(g));
    if (train)
        assert_int_equal(sg_backward(g, loss), SG_OK);
    return sg_tensor_get(loss, 0);
}

static void test_steady_state_allocates_nothing(void **s)
{
    (void)s;
    enum { STEPS = 40, WARM = 3 };
    sg_params *ps = sg_params_new(SG_F32);
    sg_seq_layers L;
    sg_seq_config cfg = {.kind = SG_CELL_LSTM, .input = ST_I, .hidden = ST_H, .layers = 2};
    assert_int_equal(sg_seq_layers_init(&L, ps, "lstm", &cfg), SG_OK);
    sg_rng rng;
    sg_rng_seed(&rng, 2);
    assert_int_equal(sg_seq_layers_reset_parameters(&L, &rng, NULL), SG_OK);
    static float x[ST_T * ST_B * ST_I], tgt[ST_T * ST_B * ST_H];
    for (size_t k = 0; k < ST_T * ST_B * ST_I; k++)
        x[k] = (float)sg_rng_range(&rng, -1, 1);
    for (size_t t = 0; t < ST_T; t++)
        for (size_t k = 0; k < ST_B * ST_H; k++)
            tgt[t * ST_B * ST_H + k] = (float)(0.5 * sin(0.4 * (double)t + (double)k));
    sg_optim opt;
    sg_adam_config ac = sg_adam_defaults();
    ac.lr = 0.01;
    assert_int_equal(sg_optim_init_adam(&opt, &ac), SG_OK);
    sg_seq_opts o = sg_seq_opts_defaults();
    o.rng = &rng;
    o.dropout = 0.1;
    o.var_input = 0.1;
    o.var_recurrent = 0.1;
    o.var_output = 0.1;
    sg_graph *g = sg_graph_new(SG_F32);
    sg_graph_set_grad_enabled(g, false);
    double before_loss = st_loss(g, &L, x, tgt, &o, false);
    sg_graph_set_grad_enabled(g, true);
    size_t before = 0;
    for (size_t step = 0; step < STEPS; step++) {
        if (step == WARM)
            before = sg_alloc_count();
        sg_graph_reset(g);
        sg_params_zero_grad(ps);
        st_loss(g, &L, x, tgt, &o, true);
        sg_params_clip_grad_norm(ps, 5.0);
        assert_int_equal(sg_optim_step(&opt, ps), SG_OK);
    }
    size_t allocs = sg_alloc_count() - before;
    sg_graph_reset(g);
    sg_graph_set_grad_enabled(g, false);
    double after_loss = st_loss(g, &L, x, tgt, &o, false);
    print_message("  heap allocations in %d steady steps: %zu; eval loss %.4f -> %.4f\n", STEPS - WARM, allocs,
                  before_loss, after_loss);
    assert_int_equal(allocs, 0);
    assert_true(after_loss < 0.8 * before_loss);
    sg_graph_free(g);
    sg_seq_layers_free(&L);
    sg_params_free(ps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gc_rnn_tanh),
        cmocka_unit_test(test_gc_rnn_sigmoid),
        cmocka_unit_test(test_gc_rnn_relu),
        cmocka_unit_test(test_gc_lstm),
        cmocka_unit_test(test_gc_peephole),
        cmocka_unit_test(test_gc_gru),
        cmocka_unit_test(test_gc_user_cifg),
        cmocka_unit_test(test_gc_user_mgu),
        cmocka_unit_test(test_gc_stacked),
        cmocka_unit_test(test_gc_bidir),
        cmocka_unit_test(test_gc_bidir_stacked),
        cmocka_unit_test(test_gc_user_bidir_stacked),
        cmocka_unit_test(test_gc_mask),
        cmocka_unit_test(test_gc_mask_bidir_gru),
        cmocka_unit_test(test_gc_dropout),
        cmocka_unit_test(test_gc_dropout_bidir_mask),
        cmocka_unit_test(test_gc_packed),
        cmocka_unit_test(test_gc_packed_unsorted),
        cmocka_unit_test(test_gc_packed_gru_drop),
        cmocka_unit_test(test_gc_packed_user),
        cmocka_unit_test(test_packed_is_masked),
        cmocka_unit_test(test_gc_init_states),
        cmocka_unit_test(test_gc_init_states_rnn),
        cmocka_unit_test(test_gru_by_hand),
        cmocka_unit_test(test_lstm_by_hand),
        cmocka_unit_test(test_peephole_by_hand),
        cmocka_unit_test(test_mask_lstm),
        cmocka_unit_test(test_mask_gru),
        cmocka_unit_test(test_projection_one_matmul),
        cmocka_unit_test(test_step_projected),
        cmocka_unit_test(test_scopes),
        cmocka_unit_test(test_dropout_masks),
        cmocka_unit_test(test_recurrent_dropout),
        cmocka_unit_test(test_truncated_bptt),
        cmocka_unit_test(test_params_and_init),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_steady_state_allocates_nothing),
    };
    return cmocka_run_group_tests_name("cells", tests, NULL, NULL);
}
