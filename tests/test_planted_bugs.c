/* test_planted_bugs.c — the gradient checker against bugs planted on purpose:
 * copies of real ops (their own shape rules) whose VJP or f32 kernel is wrong
 * in one of the ways real VJPs go wrong, two of each kind:
 *   wrong saved value        tanh and sigmoid VJPs that use x instead of y
 *   shape op, wrong offset   slice's VJP one column over; concat's second
 *                            input reading the first input's rows
 *   matmul layout            dA of a transposed A written untransposed; dW of
 *                            a batched product with a shared W from one batch
 *   broadcast reduction      add and hadamard whose broadcast operand's
 *                            gradient takes the first row or the mean, not the sum
 *   assign instead of add    add and tanh VJPs that write gx = ... (+= is right)
 *   f32 only                 tanh and matmul whose f32 forward is off, f64 right
 * Each bug sits at scope "plant/t3" between correct ops; every one must be
 * caught and named by op and scope (per-op mode for the VJP bugs, the f32
 * check for the f32 ones), and the unplanted copies must pass.
 * Dimension legend: R rows, C columns, K inner, M, N (matmul), Bt batch. */
#include "sg_test.h"

#include "graph/core/sg_op.h"
#include "ops/sg_op_table.h"

#include <math.h>

/* ---- the planted kernels (f64 unless noted; test shapes only) ------------- */

static void tanh_vjp_saved_input(sg_tensor *t) /* gx += gy (1 - x^2): x where y belongs */
{
    const double *x = t->src[0]->data, *gy = t->grad;
    double *gx = t->src[0]->grad;
    for (size_t i = 0; gx && i < t->numel; i++)
        gx[i] += gy[i] * (1 - x[i] * x[i]);
}

static void sigmoid_vjp_saved_input(sg_tensor *t) /* gx += gy x (1 - x) */
{
    const double *x = t->src[0]->data, *gy = t->grad;
    double *gx = t->src[0]->grad;
    for (size_t i = 0; gx && i < t->numel; i++)
        gx[i] += gy[i] * x[i] * (1 - x[i]);
}

static void slice_vjp_off_by_one(sg_tensor *t) /* x (R, C), axis 1: writes one column to the right */
{
    size_t R = t->src[0]->shape.d[0], C = t->src[0]->shape.d[1], start = (size_t)t->args.i[1];
    size_t len = (size_t)t->args.i[2];
    const double *gy = t->grad;
    double *gx = t->src[0]->grad;
    for (size_t r = 0; gx && r < R; r++)
        for (size_t a = 0; a < len; a++)
            gx[r * C + start + a + 1] += gy[r * len + a];
}

static void concat_vjp_wrong_offset(sg_tensor *t) /* 2 inputs on axis 0: the second reads from row 0 */
{
    size_t C = t->shape.d[1], off = 0;
    const double *gy = t->grad;
    for (size_t k = 0; k < 2; k++) {
        sg_tensor *s = t->src[k];
        double *gx = s->grad;
        for (size_t i = 0; gx && i < s->numel; i++)
            gx[i] += gy[i + (k == 0 ? off : 0)];
        off += s->shape.d[0] * C;
    }
}

/* C = A^T B with A (K, M), B (K, N): dA (K, M) = B G^T, dB = A G. */
static void matmul_ta_vjp_untransposed(sg_tensor *t)
{
    const sg_tensor *A = t->src[0], *B = t->src[1];
    size_t K = A->shape.d[0], M = A->shape.d[1], N = B->shape.d[1];
    const double *a = A->data, *b = B->data, *g = t->grad;
    double *ga = t->src[0]->grad, *gb = t->src[1]->grad;
    for (size_t m = 0; ga && m < M; m++)
        for (size_t k = 0; k < K; k++) {
            double s = 0;
            for (size_t n = 0; n < N; n++)
                s += g[m * N + n] * b[k * N + n];
            ga[m * K + k] += s; /* laid out as (M, K): the planted bug */
        }
    for (size_t k = 0; gb && k < K; k++)
        for (size_t n = 0; n < N; n++) {
            double s = 0;
            for (size_t m = 0; m < M; m++)
                s += a[k * M + m] * g[m * N + n];
            gb[k * N + n] += s;
        }
}

/* Y = X W with X (Bt, M, K), W (K, N) shared: dW summed over one batch only. */
static void matmul_shared_vjp_one_batch(sg_tensor *t)
{
    const sg_tensor *X = t->src[0], *W = t->src[1];
    size_t Bt = X->shape.d[0], M = X->shape.d[1], K = X->shape.d[2], N = W->shape.d[1];
    const double *x = X->data, *w = W->data, *g = t->grad;
    double *gx = t->src[0]->grad, *gw = t->src[1]->grad;
    for (size_t b = 0; gx && b < Bt; b++)
        for (size_t m = 0; m < M; m++)
            for (size_t k = 0; k < K; k++) {
                double s = 0;
                for (size_t n = 0; n < N; n++)
                    s += g[(b * M + m) * N + n] * w[k * N + n];
                gx[(b * M + m) * K + k] += s;
            }
    for (size_t k = 0; gw && k < K; k++)
        for (size_t n = 0; n < N; n++) {
            double s = 0;
            for (size_t m = 0; m < M; m++) /* b = 0 only */
                s += x[m * K + k] * g[m * N + n];
            gw[k * N + n] += s;
        }
}

/* a (R, C) op b (C), broadcast over rows */
static void add_bcast_vjp_first_row(sg_tensor *t)
{
    size_t R = t->shape.d[0], C = t->shape.d[1];
    const double *gy = t->grad;
    double *ga = t->src[0]->grad, *gb = t->src[1]->grad;
    for (size_t i = 0; ga && i < R * C; i++)
        ga[i] += gy[i];
    for (size_t c = 0; gb && c < C; c++)
        gb[c] += gy[c]; /* row 0 only */
}

static void hadamard_bcast_vjp_mean(sg_tensor *t)
{
    size_t R = t->shape.d[0], C = t->shape.d[1];
    const double *a = t->src[0]->data, *b = t->src[1]->data, *gy = t->grad;
    double *ga = t->src[0]->grad, *gb = t->src[1]->grad;
    for (size_t r = 0; r < R; r++)
        for (size_t c = 0; c < C; c++) {
            if (ga)
                ga[r * C + c] += gy[r * C + c] * b[c];
            if (gb)
                gb[c] += gy[r * C + c] * a[r * C + c] / (double)R; /* a mean, not a sum */
        }
}

static void add_vjp_assign(sg_tensor *t)
{
    const double *gy = t->grad;
    for (size_t k = 0; k < 2; k++)
        for (size_t i = 0; t->src[k]->grad && i < t->numel; i++)
            ((double *)t->src[k]->grad)[i] = gy[i];
}

static void tanh_vjp_assign(sg_tensor *t)
{
    const double *y = t->data, *gy = t->grad;
    double *gx = t->src[0]->grad;
    for (size_t i = 0; gx && i < t->numel; i++)
        gx[i] = gy[i] * (1 - y[i] * y[i]);
}

/* f32-only bugs: the f64 path is the real op's. */
static void tanh_forward_f32_off(sg_tensor *t)
{
    if (t->dtype == SG_F64) {
        sg_op_tanh.forward(t);
        return;
    }
    const float *x = t->src[0]->data;
    float *y = t->data;
    for (size_t i = 0; i < t->numel; i++)
        y[i] = tanhf(x[i]) * (1.0f + 1e-3f); /* a cheap approximation gone wrong */
}

static void matmul_forward_f32_short(sg_tensor *t) /* A (M, K) B (K, N), f32 drops the last k */
{
    if (t->dtype == SG_F64) {
        sg_op_matmul.forward(t);
        return;
    }
    size_t M = t->src[0]->shape.d[0], K = t->src[0]->shape.d[1], N = t->src[1]->shape.d[1];
    const float *a = t->src[0]->data, *b = t->src[1]->data;
    float *c = t->data;
    for (size_t m = 0; m < M; m++)
        for (size_t n = 0; n < N; n++) {
            float s = 0;
            for (size_t k = 0; k + 1 < K; k++)
                s += a[m * K + k] * b[k * N + n];
            c[m * N + n] = s;
        }
}

/* ---- the cases -------------------------------------------------------------- */

/* A random input requiring grad, uniform in [-1.5, 1.5). */
static sg_tensor *rand_input(sg_graph *g, sg_rng *rng, const char *name, sg_shape s)
{
    double buf[64];
    size_t n = sg_shape_numel(s);
    for (size_t i = 0; i < n && i < 64; i++)
        buf[i] = sg_rng_range(rng, -1.5, 1.5);
    return sg_input_f64(g, name, s, buf, true);
}

typedef enum {
    SHAPE_UNARY,
    SHAPE_SLICE,
    SHAPE_CONCAT,
    SHAPE_MATMUL_TA,
    SHAPE_MATMUL_SHARED,
    SHAPE_BCAST,
    SHAPE_SAME,
    SHAPE_MATMUL
} case_shape;

typedef struct planted {
    const char *kind;
    const sg_op *real;
    sg_op_kernel_fn forward, vjp; /* NULL: the real op's */
    case_shape shape;
    bool f32_only;
} planted;

/* Records  sum(op(...) * 1)  with the op in scope "plant/t3" between correct
 * ops (a tanh before it on every input, a sum after); returns the loss. */
static sg_tensor *build(sg_graph *g, const sg_op *op, case_shape shape, uint64_t seed)
{
    sg_rng rng;
    sg_rng_seed(&rng, seed);
    sg_shape sa, sb = SG_SCALAR;
    int n_in = 2;
    sg_op_args args = {0};
    switch (shape) {
    case SHAPE_UNARY:
        sa = SG_SHAPE(3, 4);
        n_in = 1;
        break;
    case SHAPE_SLICE:
        sa = SG_SHAPE(3, 6);
        n_in = 1;
        args.i[0] = 1;
        args.i[1] = 1;
        args.i[2] = 3;
        break;
    case SHAPE_CONCAT:
        sa = SG_SHAPE(2, 4);
        sb = SG_SHAPE(3, 4);
        break;
    case SHAPE_MATMUL_TA:
        sa = SG_SHAPE(3, 5);
        sb = SG_SHAPE(3, 4);
        args.i[0] = 1;
        break; /* A (K=3, M=5) */
    case SHAPE_MATMUL_SHARED:
        sa = SG_SHAPE(3, 2, 4);
        sb = SG_SHAPE(4, 5);
        break;
    case SHAPE_BCAST:
        sa = SG_SHAPE(4, 3);
        sb = SG_SHAPE(3);
        break;
    case SHAPE_SAME:
        sa = SG_SHAPE(3, 4);
        sb = SG_SHAPE(3, 4);
        break;
    default:
        sa = SG_SHAPE(3, 7);
        sb = SG_SHAPE(7, 2);
        break; /* SHAPE_MATMUL */
    }
    sg_tensor *in[2] = {sg_tanh(g, rand_input(g, &rng, "a", sa)), NULL};
    if (n_in == 2)
        in[1] = sg_tanh(g, rand_input(g, &rng, "b", sb));
    sg_scope_push(g, "plant");
    sg_scope_push(g, "t3");
    sg_tensor *y = sg_op_apply(g, op, in, (size_t)n_in, &args);
    sg_scope_pop(g);
    sg_scope_pop(g);
    sg_tensor *w = y ? sg_tanh(g, y) : NULL;
    return w ? sg_sum_all(g, w) : NULL;
}

static void check_case(const planted *c, bool plant)
{
    sg_op op = *c->real;
    if (plant) {
        if (c->forward)
            op.forward = c->forward;
        if (c->vjp)
            op.vjp = c->vjp;
    }
    sg_gradcheck_report r;
    if (!c->f32_only) {
        sg_graph *g = sg_graph_new(SG_F64);
        sg_tensor *loss = build(g, &op, c->shape, 11);
        SG_ASSERT_GRAPH_OK(g);
        assert_int_equal(sg_backward(g, loss), SG_OK);
        assert_int_equal(sg_gradcheck_tape(g, NULL, &r), SG_OK);
        sg_graph_free(g);
    } else {
        sg_graph *g64 = sg_graph_new(SG_F64), *g32 = sg_graph_new(SG_F32);
        sg_tensor *l64 = build(g64, &op, c->shape, 11), *l32 = build(g32, &op, c->shape, 11);
        SG_ASSERT_GRAPH_OK(g64);
        SG_ASSERT_GRAPH_OK(g32);
        assert_int_equal(sg_backward(g64, l64), SG_OK);
        assert_int_equal(sg_backward(g32, l32), SG_OK);
        assert_int_equal(sg_gradcheck_precision(g32, g64, NULL, &r), SG_OK);
        sg_graph_free(g64);
        sg_graph_free(g32);
    }
    if (!plant) {
        if (!r.passed)
            fail_msg("%s: the unplanted %s fails: %s", c->kind, c->real->name, r.where);
        return;
    }
    if (r.passed)
        fail_msg("%s (%s) was not caught (worst %.3g of allowed at %s)", c->kind, c->real->name, r.max_ratio, r.where);
    assert_non_null(r.bad_op);
    if (strcmp(r.bad_op, c->real->name) != 0)
        fail_msg("%s: blamed op '%s', planted in '%s'", c->kind, r.bad_op, c->real->name);
    if (strcmp(r.bad_scope, "plant/t3") != 0)
        fail_msg("%s: blamed scope '%s', planted in 'plant/t3'", c->kind, r.bad_scope);
    print_message("  caught %-24s %-9s in %s: %s\n", c->kind, c->real->name, r.bad_scope, r.where);
}

static const planted k_cases[] = {
    {"wrong saved value", &sg_op_tanh, NULL, tanh_vjp_saved_input, SHAPE_UNARY, false},
    {"wrong saved value", &sg_op_sigmoid, NULL, sigmoid_vjp_saved_input, SHAPE_UNARY, false},
    {"shape op, wrong offset", &sg_op_slice, NULL, slice_vjp_off_by_one, SHAPE_SLICE, false},
    {"shape op, wrong offset", &sg_op_concat, NULL, concat_vjp_wrong_offset, SHAPE_CONCAT, false},
    {"matmul layout (transposed)", &sg_op_matmul, NULL, matmul_ta_vjp_untransposed, SHAPE_MATMUL_TA, false},
    {"matmul layout (batched)", &sg_op_matmul, NULL, matmul_shared_vjp_one_batch, SHAPE_MATMUL_SHARED, false},
    {"broadcast reduction", &sg_op_add, NULL, add_bcast_vjp_first_row, SHAPE_BCAST, false},
    {"broadcast reduction", &sg_op_hadamard, NULL, hadamard_bcast_vjp_mean, SHAPE_BCAST, false},
    {"assign instead of add", &sg_op_add, NULL, add_vjp_assign, SHAPE_SAME, false},
    {"assign instead of add", &sg_op_tanh, NULL, tanh_vjp_assign, SHAPE_UNARY, false},
    {"f32 only", &sg_op_tanh, tanh_forward_f32_off, NULL, SHAPE_UNARY, true},
    {"f32 only", &sg_op_matmul, matmul_forward_f32_short, NULL, SHAPE_MATMUL, true},
};

static void test_unplanted_copies_pass(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++)
        check_case(&k_cases[i], false);
}

static void test_every_planted_bug_is_caught_and_named(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof k_cases / sizeof k_cases[0]; i++)
        check_case(&k_cases[i], true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unplanted_copies_pass),
        cmocka_unit_test(test_every_planted_bug_is_caught_and_named),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
