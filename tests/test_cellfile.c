/* test_cellfile.c — cell files (frontends/cellfile): docs/cells/{rnn,lstm,
 * peephole,gru}.cell give the same outputs and gradients as the built-in C
 * cells with the same weights, through the sequence runner (masks, the
 * runner's input projection); the minimal gated unit, which is not built
 * in, passes the f64 gradient checks; every kind of load error names its
 * file, line and column; a shape mismatch found when the cell first runs
 * names its line. */
#include "sg_test.h"

#include "frontends/cellfile/sg_cellfile.h"
#include "models/rnn/sg_seq.h"
#include "graph/core/sg_init.h"

#include <math.h>

#ifndef SG_SOURCE_DIR
#error "SG_SOURCE_DIR: the test reads docs/cells/*.cell"
#endif

static sg_cellfile *load(const char *name)
{
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/docs/cells/%s.cell", SG_SOURCE_DIR, name);
    sg_cellfile *cf;
    if (sg_cellfile_load(path, &cf, err, sizeof err) != SG_OK)
        fail_msg("%s", err);
    return cf;
}

/* A cell file compiled from text named file; fails the test with the
 * parser's message when it is refused. */
static sg_cellfile *parse(const char *text, const char *file)
{
    char err[512];
    sg_cellfile *cf;
    if (sg_cellfile_parse(text, strlen(text), file, &cf, err, sizeof err) != SG_OK)
        fail_msg("%s", err);
    return cf;
}

enum { T = 5, B = 3, I = 4, H = 3 };

/* outputs (T, B, H) of a run, and backward of sum(o^2) + sum(h_T) + sum(c_T)
 * (the gradients stay on the parameters of ps) */
static void run(sg_graph *g, sg_params *ps, const sg_cell *cell, double *out)
{
    sg_graph_reset(g);
    sg_params_zero_grad(ps);
    double xs[T * B * I], mask[T * B];
    for (size_t i = 0; i < T * B * I; i++)
        xs[i] = sin(0.37 * (double)i + 0.2);
    for (size_t t = 0; t < T; t++)
        for (size_t b = 0; b < B; b++)
            mask[t * B + b] = t < T - b ? 1.0 : 0.0; /* rows of length 5, 4, 3 */
    sg_seq_run_opts o = {.mask = sg_input_f64(g, "m", SG_SHAPE(T, B), mask, false)};
    sg_cell_state fin;
    sg_tensor *y = sg_seq_run(g, "cell", cell, sg_input_f64(g, "x", SG_SHAPE(T, B, I), xs, true), &o, &fin);
    if (!y)
        fail_msg("run: %s", sg_graph_error(g));
    sg_tensor *loss = sg_add(g, sg_sum_all(g, sg_hadamard(g, y, y)), sg_sum_all(g, fin.h));
    if (fin.c)
        loss = sg_add(g, loss, sg_sum_all(g, fin.c));
    assert_int_equal(sg_backward(g, loss), SG_OK);
    sg_tensor_copy_out_f64(y, out);
}

static void check_equivalent(const char *file, sg_cell_kind kind, size_t gates)
{
    sg_cellfile *cf = load(file);
    assert_int_equal(sg_cellfile_gates(cf), gates);
    sg_params *pa = sg_params_new(SG_F64), *pb = sg_params_new(SG_F64);
    sg_cell a, b;
    assert_int_equal(sg_cell_init_kind(&a, pa, "c", kind, SG_ACT_TANH, I, H), SG_OK);
    assert_int_equal(sg_cellfile_make(&b, pb, "c", I, H, cf), SG_OK);
    assert_int_equal(pa->n, pb->n);
    sg_rng rng;
    sg_rng_seed(&rng, 11);
    assert_int_equal(sg_cell_reset_parameters(&a, &rng, NULL), SG_OK);
    /* the same weights, copied by name */
    for (size_t p = 0; p < pa->n; p++) {
        sg_param *src = pa->items[p], *dst = sg_params_find(pb, src->name);
        if (!dst)
            fail_msg("%s: the cell file has no parameter '%s'", file, src->name);
        assert_int_equal(dst->numel, src->numel);
        for (size_t i = 0; i < src->numel; i++)
            sg_param_set(dst, i, sg_param_get(src, i));
    }
    size_t n_out = T * B * H, n_par = sg_params_numel(pa);
    double *oa = malloc(n_out * sizeof *oa), *ob = malloc(n_out * sizeof *ob);
    sg_graph *g = sg_graph_new(SG_F64);
    run(g, pa, &a, oa);
    run(g, pb, &b, ob);
    for (size_t i = 0; i < n_out; i++)
        if (fabs(oa[i] - ob[i]) > 1e-14)
            fail_msg("%s: output %zu is %.17g, the built-in gives %.17g", file, i, ob[i], oa[i]);
    /* gradients compared parameter by parameter, by name */
    double worst = 0;
    for (size_t p = 0; p < pa->n; p++) {
        sg_param *x = pa->items[p], *y = sg_params_find(pb, x->name);
        for (size_t i = 0; i < x->numel; i++)
            worst = fmax(worst, fabs(sg_param_grad_get(x, i) - sg_param_grad_get(y, i)));
    }
    if (worst > 1e-13)
        fail_msg("%s: gradients differ from the built-in's by %.3g", file, worst);
    print_message("  %-10s same outputs and gradients as the built-in (%zu parameters, worst %.1e)\n", file, n_par,
                  worst);
    sg_graph_free(g);
    free(oa);
    free(ob);
    sg_cell_free(&a);
    sg_cell_free(&b);
    sg_params_free(pa);
    sg_params_free(pb);
    sg_cellfile_free(cf);
}

static void test_builtin_cells_as_files(void **state)
{
    (void)state;
    check_equivalent("rnn", SG_CELL_RNN, 1);
    check_equivalent("lstm", SG_CELL_LSTM, 4);
    check_equivalent("peephole", SG_CELL_PEEPHOLE, 4);
    check_equivalent("gru", SG_CELL_GRU, 3);
}

typedef struct probe {
    sg_cell *cell;
} probe;

static sg_tensor *mgu_loss(sg_graph *g, void *ctx)
{
    const probe *p = ctx;
    double xs[T * B * I];
    for (size_t i = 0; i < T * B * I; i++)
        xs[i] = cos(0.3 * (double)i);
    sg_tensor *y = sg_seq_run(g, "mgu", p->cell, sg_input_f64(g, "x", SG_SHAPE(T, B, I), xs, false), NULL, NULL);
    return y ? sg_mean_all(g, sg_hadamard(g, y, y)) : NULL;
}

static void test_mgu_gradcheck(void **state)
{
    (void)state;
    sg_cellfile *cf = load("mgu");
    assert_int_equal(sg_cellfile_gates(cf), 2);
    sg_params *ps = sg_params_new(SG_F64);
    sg_cell c;
    assert_int_equal(sg_cellfile_make(&c, ps, "mgu", I, H, cf), SG_OK);
    sg_rng rng;
    sg_rng_seed(&rng, 5);
    assert_int_equal(sg_cell_reset_parameters(&c, &rng, NULL), SG_OK);
    sg_graph *g = sg_graph_new(SG_F64);
    probe p = {&c};
    sg_gradcheck_opts o = sg_gradcheck_defaults();
    sg_gradcheck_report r, t;
    assert_int_equal(sg_gradcheck_model(g, ps, mgu_loss, &p, &o, &r), SG_OK);
    assert_int_equal(sg_gradcheck_tape(g, &o, &t), SG_OK);
    if (!r.passed || !t.passed)
        fail_msg("mgu: model %d (%s), per-op %d (%s)", r.passed, r.where, t.passed, t.bad_op);
    print_message("  mgu.cell: %zu parameters, gradient check margin %.0fx\n", r.n_checked, 1 / r.max_ratio);
    sg_graph_free(g);
    sg_cell_free(&c);
    sg_params_free(ps);
    sg_cellfile_free(cf);
}

/* The head every error case shares. */
#define HEAD "input x I\nstate h H\nparam W (I, H)\nparam U (H, H)\n"

static void expect_error(const char *text, const char *needle)
{
    sg_cellfile *cf = NULL;
    char err[512] = "";
    assert_int_equal(sg_cellfile_parse(text, strlen(text), "t.cell", &cf, err, sizeof err), SG_ERR_FORMAT);
    assert_null(cf);
    if (!strstr(err, needle))
        fail_msg("expected '%s' in: %s", needle, err);
}

static void test_load_errors(void **state)
{
    (void)state;
    expect_error(HEAD "h' = tahn(matmul(x, W))\n", "t.cell:5:6: unknown op 'tahn'");
    expect_error(HEAD "h' = tanh(matmul(x, V))\n", "t.cell:5:21: unknown name 'V'");
    expect_error(HEAD "a = tanh(x)\na = tanh(x)\nh' = a\n", "t.cell:6:1: 'a' is assigned twice (it is assigned above)");
    expect_error(HEAD "W = tanh(x)\n", "t.cell:5:1: 'W' is assigned twice (it is a parameter)");
    expect_error(HEAD "h' = tanh(x, x)\n", "t.cell:5:14: op 'tanh' takes 1 arguments here, not 2");
    expect_error(HEAD "h' = add(x)\n", "op 'add' takes more arguments");
    expect_error(HEAD "h' = scale(x, W)\n", "op 'scale' argument 2 is double: a number, not a tensor");
    expect_error(HEAD "h' = tanh(2)\n", "op 'tanh' argument 1 is a tensor, not a number");
    expect_error(HEAD "h' = sum(x, 1.5)\n", "argument 2 is int: a whole number");
    expect_error(HEAD "a = tanh(matmul(x, W))\n", "t.cell: the state 'h' is never assigned (h' = ...)");
    expect_error(HEAD "h' = tanh(b)\nb = tanh(x)\n", "t.cell:5:11: unknown name 'b'");
    expect_error(HEAD "a, b = split(x, 1, 3)\nh' = tanh(a)\n",
                 "op 'split' makes 3 results here, and 2 names take them");
    expect_error(HEAD "h' = tanh(split(x, 1, 2))\n", "op 'split' has 2 results: assign them");
    expect_error(HEAD "h' = reshape(x, 3)\n", "op 'reshape' takes sg_shape: not available in cell files");
    expect_error(HEAD "x' = tanh(x)\n", "'x'' is not a state");
    expect_error(HEAD "h' = tanh(x)\nh' = tanh(x)\n", "t.cell:6:1: 'h'' is assigned twice");
    expect_error(HEAD "a = tanh(h')\nh' = tanh(x)\n", "t.cell:5:10: unknown name 'h''");
    expect_error("input x I\nstate h H\nparam W (I, 3Q)\n",
                 "t.cell:3:14: a size is made of integers, I and H: unexpected 'Q'");
    expect_error("input x I\nstate h H\nparam W (I, )\n",
                 "t.cell:3:13: a size (an integer, I, H, 3H, I+H, ...) was expected");
    expect_error("input x I\nstate h H\nparam W (I, H) gaussian\n", "t.cell:3:16: initializer 'gaussian'");
    expect_error("state h H\nh' = tanh(h)\n", "t.cell:2:1: declare the input and the state(s) first");
    expect_error(HEAD "h' = tanh(x)\nparam V (H)\n", "t.cell:6:1: declarations (input, state, param) come before");
    expect_error(HEAD "h' = tanh(x) extra\n", "t.cell:5:14: one assignment a line");
    expect_error(HEAD "h' = x\n", "an op call was expected after '='");
    expect_error("input x I\ninput y I\n", "t.cell:2:1: a cell has one input");
    expect_error("input x I\nstate h I\nh' = tanh(x)\n", "the state 'h' must have size H");
    expect_error("", "no input or state declared");
    expect_error("input x I\nstate h H\nparam W (I, 9999999*9999999H)\n", "t.cell:3:21: the size is too large");
    expect_error("input x I\nstate h H\nparam W (I, 99999999999999999999H)\n", "the number is too large for a size");
    expect_error("input x I\nstate h H # caf\xe9\n", "t.cell:2:1: the line is not UTF-8 text");
}

/* The text a cell was compiled from is kept whole (a checkpoint stores it)
 * and compiles again to the same cell; a cell file has no plugin spec. */
static void test_source_kept(void **state)
{
    (void)state;
    static const char text[] = HEAD "# a comment, kept too\nh' = tanh(matmul(x, W))\n";
    sg_cellfile *cf = parse(text, "t.cell");
    assert_string_equal(sg_cellfile_source(cf), text);
    assert_null(sg_cellfile_spec(cf));
    const char *src = sg_cellfile_source(cf);
    sg_cellfile *again = parse(src, "again");
    assert_string_equal(sg_cellfile_source(again), text);
    assert_int_equal(sg_cellfile_gates(again), sg_cellfile_gates(cf));
    sg_cellfile_free(again);
    sg_cellfile_free(cf);
}

/* A shape mismatch is found when the cell first runs, and named by its line. */
static void test_runtime_shape_error(void **state)
{
    (void)state;
    const char *text = "input x I\nstate h H\nparam W (I, 2H)\n# a comment\nh' = add(h, matmul(x, W))\n";
    sg_cellfile *cf = parse(text, "bad.cell");
    assert_int_equal(sg_cellfile_gates(cf), 0); /* W is not W_x: no projection for the runner */
    sg_params *ps = sg_params_new(SG_F64);
    sg_cell c;
    assert_int_equal(sg_cellfile_make(&c, ps, "bad", I, H, cf), SG_OK);
    sg_graph *g = sg_graph_new(SG_F64);
    double xs[T * B * I] = {0};
    assert_null(sg_seq_run(g, "bad", &c, sg_input_f64(g, "x", SG_SHAPE(T, B, I), xs, false), NULL, NULL));
    if (!strstr(sg_graph_error(g), "bad.cell:5: ") || !strstr(sg_graph_error(g), "add"))
        fail_msg("the error should name bad.cell:5 and the op: %s", sg_graph_error(g));
    /* zeros and ones initializers, after the uniform draw */
    const char *init = "input x I\nstate h H\nparam W (I, H) zeros\nparam b (H) ones\nh' = add(matmul(x, W), b)\n";
    sg_cellfile *ci = parse(init, "init.cell");
    sg_cell d;
    assert_int_equal(sg_cellfile_make(&d, ps, "init", I, H, ci), SG_OK);
    sg_rng rng;
    sg_rng_seed(&rng, 1);
    assert_int_equal(sg_cell_reset_parameters(&d, &rng, NULL), SG_OK);
    assert_true(sg_param_get(sg_params_find(ps, "init.W"), 3) == 0.0);
    assert_true(sg_param_get(sg_params_find(ps, "init.b"), 1) == 1.0);
    sg_cell_free(&d);
    sg_cellfile_free(ci);
    sg_graph_free(g);
    sg_cell_free(&c);
    sg_params_free(ps);
    sg_cellfile_free(cf);
}

/* A cell with no parameters is a cell: h' = tanh(x) runs and its gradient
 * reaches x (the fuzzer found memcpy(NULL, ..., 0) here). */
static void test_no_parameters(void **state)
{
    (void)state;
    const char *text = "input x I\nstate h H\nh' = tanh(x)\n";
    sg_cellfile *cf = parse(text, "none.cell");
    sg_params *ps = sg_params_new(SG_F64);
    sg_cell c;
    assert_int_equal(sg_cellfile_make(&c, ps, "none", H, H, cf), SG_OK);
    assert_int_equal(c.n_params, 0);
    assert_int_equal(ps->n, 0);
    sg_graph *g = sg_graph_new(SG_F64);
    double xs[T * B * H], y[T * B * H];
    for (size_t i = 0; i < T * B * H; i++)
        xs[i] = sin(0.37 * (double)i + 0.2);
    sg_tensor *x = sg_input_f64(g, "x", SG_SHAPE(T, B, H), xs, true);
    sg_tensor *out = sg_seq_run(g, "none", &c, x, NULL, NULL);
    if (!out)
        fail_msg("run: %s", sg_graph_error(g));
    assert_int_equal(sg_backward(g, sg_sum_all(g, out)), SG_OK);
    sg_tensor_copy_out_f64(out, y);
    for (size_t i = 0; i < T * B * H; i++) {
        assert_true(y[i] == tanh(xs[i]));
        assert_true(fabs(sg_tensor_grad_get(x, i) - (1 - y[i] * y[i])) < 1e-15);
    }
    sg_graph_free(g);
    sg_cell_free(&c);
    sg_params_free(ps);
    sg_cellfile_free(cf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_cells_as_files),
        cmocka_unit_test(test_mgu_gradcheck),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_source_kept),
        cmocka_unit_test(test_runtime_shape_error),
        cmocka_unit_test(test_no_parameters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
