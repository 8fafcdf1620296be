/* test_ops_reduce_index.c — forward values, hand-checked gradients and error
 * messages of the reduce family (sum, mean, softmax, log_softmax) and the index
 * family (gather_rows, cross_entropy), in f32 and f64 graphs.  Gradients in
 * general are covered by test_ops_gradcheck; here they are compared with
 * numbers worked out by hand. */
#include "sg_test.h"

static const sg_dtype k_dtypes[] = {SG_F32, SG_F64};
enum { N_DTYPES = 2 };

/* Tolerance for values of size ~1 in a graph of dtype t. */
static double tol_of(sg_dtype t) { return t == SG_F32 ? 2e-6 : 1e-13; }

/* An input built from doubles (converted to the graph's dtype). */
static sg_tensor *in(sg_graph *g, sg_shape s, const double *v, bool rg) { return sg_input_f64(g, "x", s, v, rg); }

static void assert_shape(const sg_tensor *t, sg_shape s)
{
    char a[96], b[96];
    if (!sg_shape_equal(t->shape, s))
        fail_msg("shape %s, expected %s", sg_shape_str(t->shape, a, sizeof a), sg_shape_str(s, b, sizeof b));
}

static void assert_values(const sg_tensor *t, const double *want, size_t n, double tol)
{
    assert_non_null(t);
    assert_int_equal(t->numel, n);
    for (size_t i = 0; i < n; i++) {
        double got = sg_tensor_get(t, i);
        if (!(fabs(got - want[i]) <= tol * (1.0 + fabs(want[i]))))
            fail_msg("element %zu = %.17g, expected %.17g", i, got, want[i]);
    }
}

static void assert_grads(const sg_tensor *t, const double *want, size_t n, double tol)
{
    assert_non_null(t);
    assert_non_null(t->grad);
    assert_int_equal(t->numel, n);
    for (size_t i = 0; i < n; i++) {
        double got = sg_tensor_grad_get(t, i);
        if (!(fabs(got - want[i]) <= tol * (1.0 + fabs(want[i]))))
            fail_msg("grad element %zu = %.17g, expected %.17g", i, got, want[i]);
    }
}

/* Backward from out with a seed given as doubles (converted to the dtype). */
static void backward_seed(sg_graph *g, sg_tensor *out, const double *seed)
{
    float s32[64];
    assert_true(out->numel <= 64);
    for (size_t i = 0; i < out->numel; i++)
        s32[i] = (float)seed[i];
    sg_status st = sg_backward_seed(g, out, sg_graph_dtype(g) == SG_F32 ? (const void *)s32 : (const void *)seed);
    if (st != SG_OK)
        fail_msg("backward: %s", sg_graph_error(g));
}

/* ---- sum and mean ------------------------------------------------------- */

static void test_sum_mean_values(void **state)
{
    (void)state;
    for (int d = 0; d < N_DTYPES; d++) {
        sg_graph *g = sg_graph_new(k_dtypes[d]);
        double tol = tol_of(k_dtypes[d]);
        const double x23[] = {1, 2, 3, 4, 5, 6}; /* (2, 3) */
        sg_tensor *x = in(g, SG_SHAPE(2, 3), x23, false);

        sg_tensor *y = sg_sum(g, x, 0);
        assert_shape(y, SG_SHAPE(3));
        assert_values(y, (const double[]){5, 7, 9}, 3, tol);
        y = sg_sum(g, x, -1);
        assert_shape(y, SG_SHAPE(2));
        assert_values(y, (const double[]){6, 15}, 2, tol);
        y = sg_mean(g, x, 0);
        assert_values(y, (const double[]){2.5, 3.5, 4.5}, 3, tol);
        y = sg_mean(g, x, -1);
        assert_values(y, (const double[]){2, 5}, 2, tol);
        y = sg_sum_all(g, x);
        assert_int_equal(y->shape.ndim, 0);
        assert_values(y, (const double[]){21}, 1, tol);
        y = sg_mean_all(g, x);
        assert_int_equal(y->shape.ndim, 0);
        assert_values(y, (const double[]){3.5}, 1, tol);

        /* middle axis of a 3-D tensor: x[a, b, c] = 6a + 2b + c */
        double x322[12];
        for (int i = 0; i < 12; i++)
            x322[i] = i;
        sg_tensor *x3 = in(g, SG_SHAPE(2, 3, 2), x322, false);
        y = sg_sum(g, x3, 1);
        assert_shape(y, SG_SHAPE(2, 2));
        assert_values(y, (const double[]){6, 9, 24, 27}, 4, tol);
        y = sg_mean(g, x3, -2);
        assert_values(y, (const double[]){2, 3, 8, 9}, 4, tol);
        y = sg_sum(g, x3, 2);
        assert_shape(y, SG_SHAPE(2, 3));
        assert_values(y, (const double[]){1, 5, 9, 13, 17, 21}, 6, tol);

        /* size-1 axis: the values pass through */
        sg_tensor *x31 = in(g, SG_SHAPE(3, 1), (const double[]){-1, 0.5, 2}, false);
        y = sg_mean(g, x31, 1);
        assert_shape(y, SG_SHAPE(3));
        assert_values(y, (const double[]){-1, 0.5, 2}, 3, tol);

        /* 1-D -> 0-d */
        sg_tensor *x4 = in(g, SG_SHAPE(4), (const double[]){1, 2, 3, 4.5}, false);
        y = sg_sum(g, x4, 0);
        assert_int_equal(y->shape.ndim, 0);
        assert_values(y, (const double[]){10.5}, 1, tol);
        y = sg_mean(g, x4, -1);
        assert_values(y, (const double[]){2.625}, 1, tol);
        SG_ASSERT_GRAPH_OK(g);
        sg_graph_free(g);
    }
}

static void test_sum_mean_grads(void **state)
{
    (void)state;
    for (int d = 0; d < N_DTYPES; d++) {
        sg_graph *g = sg_graph_new(k_dtypes[d]);
        double tol = tol_of(k_dtypes[d]);
        const double x23[] = {1, 2, 3, 4, 5, 6};

        sg_tensor *x = in(g, SG_SHAPE(2, 3), x23, true);
        backward_seed(g, sg_sum(g, x, 0), (const double[]){1, 2, 3});
        assert_grads(x, (const double[]){1, 2, 3, 1, 2, 3}, 6, tol);

        sg_graph_reset(g);
        x = in(g, SG_SHAPE(2, 3), x23, true);
        backward_seed(g, sg_mean(g, x, -1), (const double[]){3, -6});
        assert_grads(x, (const double[]){1, 1, 1, -2, -2, -2}, 6, tol);

        sg_graph_reset(g);
        x = in(g, SG_SHAPE(2, 3), x23, true);
        assert_int_equal(sg_backward(g, sg_sum_all(g, x)), SG_OK);
        assert_grads(x, (const double[]){1, 1, 1, 1, 1, 1}, 6, tol);

        sg_graph_reset(g);
        x = in(g, SG_SHAPE(2, 3), x23, true);
        assert_int_equal(sg_backward(g, sg_mean_all(g, x)), SG_OK);
        const double sixth = 1.0 / 6.0;
        assert_grads(x, (const double[]){sixth, sixth, sixth, sixth, sixth, sixth}, 6, tol);

        /* middle axis: gx[a, b, c] = gy[a, c] / 3 */
        sg_graph_reset(g);
        sg_tensor *x3 = in(g, SG_SHAPE(2, 3, 2), NULL, true);
        backward_seed(g, sg_mean(g, x3, 1), (const double[]){3, 6, 9, 12});
        assert_grads(x3, (const double[]){1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4}, 12, tol);
        sg_graph_free(g);
    }
}

/* ---- softmax and log_softmax ------------------------------------------- */

static const double k_sm123[] = {0.09003057317038046, 0.24472847105479767, 0.6652409557748219};
static const double k_lsm123[] = {-2.40760596444438, -1.4076059644443801, -0.40760596444438013};

static void test_softmax_values(void **state)
{
    (void)state;
    for (int d = 0; d < N_DTYPES; d++) {
        sg_graph *g = sg_graph_new(k_dtypes[d]);
        double tol = tol_of(k_dtypes[d]);

        /* rows [1, 2, 3] and [11, 12, 13] (shift invariance) along the last axis */
        sg_tensor *x = in(g, SG_SHAPE(2, 3), (const double[]){1, 2, 3, 11, 12, 13}, false);
        sg_tensor *y = sg_softmax(g, x, -1);
        assert_shape(y, SG_SHAPE(2, 3));
        double want[6];
        for (int i = 0; i < 6; i++)
            want[i] = k_sm123[i % 3];
        assert_values(y, want, 6, tol);
        y = sg_log_softmax(g, x, 1);
        for (int i = 0; i < 6; i++)
            want[i] = k_lsm123[i % 3];
        assert_values(y, want, 6, tol);

        /* axis 0: columns [0, log 3] -> [1/4, 3/4] and [1, 1] -> [1/2, 1/2] */
        x = in(g, SG_SHAPE(2, 2), (const double[]){0, 1, log(3.0), 1}, false);
        y = sg_softmax(g, x, 0);
        assert_values(y, (const double[]){0.25, 0.5, 0.75, 0.5}, 4, tol);
        y = sg_log_softmax(g, x, -2);
        assert_values(y, (const double[]){log(0.25), log(0.5), log(0.75), log(0.5)}, 4, tol);

        /* middle axis of (1, 3, 2): lanes [1, 2, 3] and [3, 3, 3] */
        x = in(g, SG_SHAPE(1, 3, 2), (const double[]){1, 3, 2, 3, 3, 3}, false);
        y = sg_softmax(g, x, 1);
        const double third = 1.0 / 3.0;
        assert_values(y, (const double[]){k_sm123[0], third, k_sm123[1], third, k_sm123[2], third}, 6, tol);

        /* size-1 axis: softmax 1, log_softmax 0 */
        x = in(g, SG_SHAPE(3, 1), (const double[]){-5, 0, 7}, false);
        assert_values(sg_softmax(g, x, -1), (const double[]){1, 1, 1}, 3, tol);
        assert_values(sg_log_softmax(g, x, -1), (const double[]){0, 0, 0}, 3, tol);

        /* 1-D */
        x = in(g, SG_SHAPE(3), (const double[]){1, 2, 3}, false);
        assert_values(sg_softmax(g, x, 0), k_sm123, 3, tol);
        SG_ASSERT_GRAPH_OK(g);
        sg_graph_free(g);
    }
}

/* Rows of a softmax sum to 1 and stay finite for inputs like +-1000. */
static void test_softmax_stable(void **state)
{
    (void)state;
    for (int d = 0; d < N_DTYPES; d++) {
        sg_graph *g = sg_graph_new(k_dtypes[d]);
        double tol = tol_of(k_dtypes[d]);
        const double xv[] = {1000, -1000, 0, 1000, 1000, 999, -1000, -1000, -1001}; /* (3, 3) */
        sg_tensor *x = in(g, SG_SHAPE(3, 3), xv, true);
        sg_tensor *y = sg_softmax(g, x, -1);
        SG_ASSERT_GRAPH_OK(g);
        for (size_t r = 0; r < 3; r++) {
            double s = 0;
            for (size_t c = 0; c < 3; c++) {
                double v = sg_tensor_get(y, 3 * r + c);
                assert_true(isfinite(v));
                assert_true(v >= 0 && v <= 1);
                s += v;
            }
            SG_ASSERT_NEAR(s, 1.0, 4 * tol);
        }
        SG_ASSERT_NEAR(sg_tensor_get(y, 0), 1.0, tol);
        SG_ASSERT_NEAR(sg_tensor_get(y, 1), 0.0, tol);
        double e1 = exp(-1.0);
        SG_ASSERT_NEAR(sg_tensor_get(y, 3), 1.0 / (2 + e1), tol);
        SG_ASSERT_NEAR(sg_tensor_get(y, 5), e1 / (2 + e1), tol);
        SG_ASSERT_NEAR(sg_tensor_get(y, 6), 1.0 / (2 + e1), tol);

        sg_tensor *ly = sg_log_softmax(g, x, 1);
        const double lse2 = log(2 + e1);
        const double want[] = {0, -2000, -1000, -lse2, -lse2, -1 - lse2, -lse2, -lse2, -1 - lse2};
        for (size_t i = 0; i < 9; i++) {
            assert_true(isfinite(sg_tensor_get(ly, i)));
            SG_ASSERT_NEAR(sg_tensor_get(ly, i), want[i], tol * (1 + fabs(want[i])));
        }
        /* gradients stay finite as well */
        const double seed[9] = {1, -2, 0.5, 0.25, 1, -1, 3, 0, 1};
        backward_seed(g, ly, seed);
        for (size_t i = 0; i < 9; i++)
            assert_true(isfinite(sg_tensor_grad_get(x, i)));
        SG_ASSERT_NEAR(sg_tensor_grad_get(x, 0), 1 - 1 * (1 - 2 + 0.5), tol); /* gy - p * sum(gy), p = 1 */
        SG_ASSERT_NEAR(sg_tensor_grad_get(x, 1), -2, tol);                    /* p = 0 */
        sg_graph_free(g);
    }
}

/* VJPs against the formulas worked through on row [1, 2, 3]. */
static void test_softmax_grads(void **state)
{
    (void)state;
    for (int d = 0; d < N_DTYPES; d++) {
        sg_graph *g = sg_graph_new(k_dtypes[d]);
        double tol = tol_of(k_dtypes[d]);
        const double gy[] = {0.5, -1, 2};
        const double *p = k_sm123;

        sg_tensor *x = in(g, SG_SHAPE(3), (const double[]){1, 2, 3}, true);
        backward_seed(g, sg_softmax(g, x, 0), gy);
        double dot = gy[0] * p[0] + gy[1] * p[1] + gy[2] * p[2];
        double want[3];
        for (int i = 0; i < 3; i++)
            want[i] = p[i] * (gy[i] - dot);
        assert_grads(x, want, 3, tol);
        double s = 0;
        for (size_t i = 0; i < 3; i++)
            s += sg_tensor_grad_get(x, i);
        SG_ASSERT_NEAR(s, 0.0, 4 * tol); /* softmax is shift invariant */

        sg_graph_reset(g);
        x = in(g, SG_SHAPE(3), (const double[]){1, 2, 3}, true);
        backward_seed(g, sg_log_softmax(g, x, -1), gy);
        double sg = gy[0] + gy[1] + gy[2];
        for (int i = 0; i < 3; i++)
            want[i] = gy[i] - p[i] * sg;
        assert_grads(x, want, 3, tol);
        sg_graph_free(g);
    }
}

/* ---- cross_entropy ------------------------------------------------------ */

static void test_cross_entropy_values(void **state)
{
    (void)state;
    for (int d = 0; d < N_DTYPES; d++) {
        sg_graph *g = sg_graph_new(k_dtypes[d]);
        double tol = tol_of(k_dtypes[d]);
        /* rows [1, 2, 3] (target 2), [0, 0, 0] (target 0), [0.5, -1, 2] (target 1) */
        const double lv[] = {1, 2, 3, 0, 0, 0, 0.5, -1, 2};
        const int32_t tv[] = {2, 0, 1};
        sg_tensor *logits = in(g, SG_SHAPE(3, 3), lv, false);
        sg_tensor *targets = sg_ids(g, "t", SG_SHAPE(3), tv);
        /* -log softmax[target], by hand */
        double l0 = -k_lsm123[2], l1 = log(3.0);
        double m = 2, l2 = m + log(exp(0.5 - m) + exp(-1 - m) + exp(2 - m)) - (-1);
        sg_tensor *y = sg_cross_entropy(g, logits, targets, SG_REDUCE_NONE);
        assert_shape(y, SG_SHAPE(3));
        assert_values(y, (const double[]){l0, l1, l2}, 3, tol);
        y = sg_cross_entropy(g, logits, targets, SG_REDUCE_SUM);
        assert_int_equal(y->shape.ndim, 0);
        assert_values(y, (const double[]){l0 + l1 + l2}, 1, tol);
        y = sg_cross_entropy(g, logits, targets, SG_REDUCE_MEAN);
        assert_int_equal(y->shape.ndim, 0);
        assert_values(y, (const double[]){(l0 + l1 + l2) / 3}, 1, tol);

        /* zero logits: log C for every row and on average */
        sg_tensor *z = in(g, SG_SHAPE(4, 5), NULL, false);
        sg_tensor *zt = sg_ids(g, "t", SG_SHAPE(4), (const int32_t[]){4, 0, 2, 2});
        assert_values(sg_cross_entropy(g, z, zt, SG_REDUCE_MEAN), (const double[]){log(5.0)}, 1, tol);
        const double l5 = log(5.0);
        assert_values(sg_cross_entropy(g, z, zt, SG_REDUCE_NONE), (const double[]){l5, l5, l5, l5}, 4, tol);

        /* stable for huge logits */
        sg_tensor *h = in(g, SG_SHAPE(2, 2), (const double[]){1000, -1000, -1000, 1000}, false);
        sg_tensor *ht = sg_ids(g, "t", SG_SHAPE(2), (const int32_t[]){1, 1});
        y = sg_cross_entropy(g, h, ht, SG_REDUCE_NONE);
        assert_true(isfinite(sg_tensor_get(y, 0)));
        SG_ASSERT_NEAR(sg_tensor_get(y, 0), 2000.0, 2000.0 * tol);
        SG_ASSERT_NEAR(sg_tensor_get(y, 1), 0.0, tol);

        /* N = 1 and C = 1 edges */
        sg_tensor *one = in(g, SG_SHAPE(1, 3), (const double[]){1, 2, 3}, false);
        y = sg_cross_entropy(g, one, sg_ids(g, "t", SG_SHAPE(1), (const int32_t[]){0}), SG_REDUCE_MEAN);
        assert_values(y, (const double[]){-k_lsm123[0]}, 1, tol);
        sg_tensor *c1 = in(g, SG_SHAPE(2, 1), (const double[]){5, -7}, false);
        y = sg_cross_entropy(g, c1, sg_ids(g, "t", SG_SHAPE(2), (const int32_t[]){0, 0}), SG_REDUCE_SUM);
        assert_values(y, (const double[]){0}, 1, tol);
        SG_ASSERT_GRAPH_OK(g);
        sg_graph_free(g);
    }
}

/* dlogits = g * (softmax - onehot), scaled by 1/count for MEAN. */
static void test_cross_entropy_grads(void **state)
{
    (void)state;
    for (int d = 0; d < N_DTYPES; d++) {
        sg_graph *g = sg_graph_new(k_dtypes[d]);
        double tol = tol_of(k_dtypes[d]);
        const double lv[] = {1, 2, 3, 0, 0, 0};
        const int32_t tv[] = {2, 0};
        const double *p = k_sm123, q = 1.0 / 3.0;

        sg_tensor *x = in(g, SG_SHAPE(2, 3), lv, true);
        assert_int_equal(sg_backward(g, sg_cross_entropy(g, x, sg_ids(g, "t", SG_SHAPE(2), tv), SG_REDUCE_MEAN)),
                         SG_OK);
        assert_grads(x, (const double[]){p[0] / 2, p[1] / 2, (p[2] - 1) / 2, (q - 1) / 2, q / 2, q / 2}, 6, tol);

        sg_graph_reset(g);
        x = in(g, SG_SHAPE(2, 3), lv, true);
        assert_int_equal(sg_backward(g, sg_cross_entropy(g, x, sg_ids(g, "t", SG_SHAPE(2), tv), SG_REDUCE_SUM)), SG_OK);
        assert_grads(x, (const double[]){p[0], p[1], p[2] - 1, q - 1, q, q}, 6, tol);

        sg_graph_reset(g);
        x = in(g, SG_SHAPE(2, 3), lv, true);
        sg_tensor *targets = sg_ids(g, "t", SG_SHAPE(2), tv);
        backward_seed(g, sg_cross_entropy(g, x, targets, SG_REDUCE_NONE), (const double[]){2, -1});
        assert_grads(x, (const double[]){2 * p[0], 2 * p[1], 2 * (p[2] - 1), -(q - 1), -q, -q}, 6, tol);
        assert_null(targets->grad); /* ids are not differentiated */

        /* C = 1: the loss is constant, its gradient zero */
        sg_graph_reset(g);
        x = in(g, SG_SHAPE(2, 1), (const double[]){5, -7}, true);
        assert_int_equal(sg_backward(g, sg_cross_entropy(g, x, sg_ids(g, "t", SG_SHAPE(2), (const int32_t[]){0, 0}),
                                                         SG_REDUCE_MEAN)),
                         SG_OK);
        assert_grads(x, (const double[]){0, 0}, 2, tol);
        sg_graph_free(g);
    }
}

/* An ignored row changes nothing: losses and gradients equal those of the
 * other rows alone; MEAN counts only the rows not ignored. */
static void test_cross_entropy_ignore(void **state)
{
    (void)state;
    for (int d = 0; d < N_DTYPES; d++) {
        sg_graph *g = sg_graph_new(k_dtypes[d]);
        double tol = tol_of(k_dtypes[d]);
        const double full[] = {0.3, -1, 2, 0.5, 9, 9, 9, 9, 1, 0, -0.5, 2}; /* (3, 4), row 1 ignored */
        const double sub[] = {0.3, -1, 2, 0.5, 1, 0, -0.5, 2};              /* rows 0 and 2 */
        for (int red = SG_REDUCE_MEAN; red <= SG_REDUCE_NONE; red++) {
            sg_graph_reset(g);
            sg_tensor *xf = in(g, SG_SHAPE(3, 4), full, true);
            sg_tensor *yf =
                sg_cross_entropy(g, xf, sg_ids(g, "t", SG_SHAPE(3), (const int32_t[]){1, -1, 3}), (sg_reduction)red);
            sg_tensor *xs = in(g, SG_SHAPE(2, 4), sub, true);
            sg_tensor *ys =
                sg_cross_entropy(g, xs, sg_ids(g, "t", SG_SHAPE(2), (const int32_t[]){1, 3}), (sg_reduction)red);
            SG_ASSERT_GRAPH_OK(g);
            if (red == SG_REDUCE_NONE) {
                SG_ASSERT_NEAR(sg_tensor_get(yf, 0), sg_tensor_get(ys, 0), tol);
                SG_ASSERT_NEAR(sg_tensor_get(yf, 1), 0.0, 0.0);
                SG_ASSERT_NEAR(sg_tensor_get(yf, 2), sg_tensor_get(ys, 1), tol);
                backward_seed(g, yf, (const double[]){1, 5, 1});
                backward_seed(g, ys, (const double[]){1, 1});
            } else {
                SG_ASSERT_NEAR(sg_tensor_get(yf, 0), sg_tensor_get(ys, 0), tol);
                assert_int_equal(sg_backward(g, yf), SG_OK);
                assert_int_equal(sg_backward(g, ys), SG_OK);
            }
            for (size_t c = 0; c < 4; c++) {
                SG_ASSERT_NEAR(sg_tensor_grad_get(xf, c), sg_tensor_grad_get(xs, c), tol);
                SG_ASSERT_NEAR(sg_tensor_grad_get(xf, 4 + c), 0.0, 0.0);
                SG_ASSERT_NEAR(sg_tensor_grad_get(xf, 8 + c), sg_tensor_grad_get(xs, 4 + c), tol);
            }
        }
        /* every row ignored: MEAN is 0 (the divisor is at least 1), gradient 0 */
        sg_graph_reset(g);
        sg_tensor *x = in(g, SG_SHAPE(2, 3), (const double[]){1, 2, 3, 4, 5, 6}, true);
        sg_tensor *y = sg_cross_entropy(g, x, sg_ids(g, "t", SG_SHAPE(2), (const int32_t[]){-1, -1}), SG_REDUCE_MEAN);
        assert_values(y, (const double[]){0}, 1, 0);
        assert_int_equal(sg_backward(g, y), SG_OK);
        assert_grads(x, (const double[]){0, 0, 0, 0, 0, 0}, 6, 0);
        sg_graph_free(g);
    }
}

/* ---- gather_rows -------------------------------------------------------- */

static void test_gather_rows(void **state)
{
    (void)state;
    for (int d = 0; d < N_DTYPES; d++) {
        sg_graph *g = sg_graph_new(k_dtypes[d]);
        double tol = tol_of(k_dtypes[d]);
        const double tv[] = {0, 1, 10, 11, 20, 21}; /* (3, 2) */

        /* ids {2, 2, 0}: rows picked; row 2 of the gradient = 2 x the seed row */
        sg_tensor *table = in(g, SG_SHAPE(3, 2), tv, true);
        sg_tensor *ids = sg_ids(g, "ids", SG_SHAPE(3), (const int32_t[]){2, 2, 0});
        sg_tensor *y = sg_gather_rows(g, table, ids);
        assert_shape(y, SG_SHAPE(3, 2));
        assert_values(y, (const double[]){20, 21, 20, 21, 0, 1}, 6, tol);
        backward_seed(g, y, (const double[]){1.5, -2, 1.5, -2, 5, 7});
        assert_grads(table, (const double[]){5, 7, 0, 0, 3, -4}, 6, tol);
        assert_null(ids->grad);
        /* a second backward accumulates into the leaf */
        backward_seed(g, y, (const double[]){1, 1, 1, 1, 1, 1});
        assert_grads(table, (const double[]){6, 8, 0, 0, 5, -2}, 6, tol);

        /* 2-D ids (B, T) = (2, 2) -> (2, 2, D) */
        sg_graph_reset(g);
        table = in(g, SG_SHAPE(3, 2), tv, true);
        y = sg_gather_rows(g, table, sg_ids(g, "ids", SG_SHAPE(2, 2), (const int32_t[]){1, 0, 2, 1}));
        assert_shape(y, SG_SHAPE(2, 2, 2));
        assert_values(y, (const double[]){10, 11, 0, 1, 20, 21, 10, 11}, 8, tol);
        assert_int_equal(sg_backward(g, sg_sum_all(g, y)), SG_OK);
        assert_grads(table, (const double[]){1, 1, 2, 2, 1, 1}, 6, tol);

        /* a single id, as (1) and as a 0-d tensor */
        sg_graph_reset(g);
        table = in(g, SG_SHAPE(3, 2), tv, false);
        y = sg_gather_rows(g, table, sg_ids(g, "ids", SG_SHAPE(1), (const int32_t[]){1}));
        assert_shape(y, SG_SHAPE(1, 2));
        assert_values(y, (const double[]){10, 11}, 2, tol);
        y = sg_gather_rows(g, table, sg_ids(g, "ids", SG_SCALAR, (const int32_t[]){2}));
        assert_shape(y, SG_SHAPE(2));
        assert_values(y, (const double[]){20, 21}, 2, tol);

        /* V = 1 */
        sg_tensor *t1 = in(g, SG_SHAPE(1, 3), (const double[]){4, 5, 6}, false);
        y = sg_gather_rows(g, t1, sg_ids(g, "ids", SG_SHAPE(2), (const int32_t[]){0, 0}));
        assert_values(y, (const double[]){4, 5, 6, 4, 5, 6}, 6, tol);
        SG_ASSERT_GRAPH_OK(g);
        sg_graph_free(g);
    }
}

/* ---- errors ------------------------------------------------------------- */

/* The graph is in error with status st, and the message holds every needle. */
static void assert_error(sg_graph *g, const sg_tensor *out, sg_status st, const char *const *needles)
{
    assert_null(out);
    if (sg_graph_status(g) != st)
        fail_msg("status %s, expected %s (%s)", sg_status_str(sg_graph_status(g)), sg_status_str(st),
                 sg_graph_error(g));
    for (const char *const *n = needles; *n; n++)
        assert_true(sg_contains(sg_graph_error(g), *n));
    sg_graph_reset(g);
}

#define NEEDLES(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_errors(void **state)
{
    (void)state;
    sg_graph *g = sg_graph_new(SG_F32);
    const double x6[] = {1, 2, 3, 4, 5, 6};

    /* reduce family: bad axes */
    sg_tensor *x = in(g, SG_SHAPE(2, 3), x6, false);
    assert_error(g, sg_sum(g, x, 2), SG_ERR_AXIS, NEEDLES("'sum'", "axis 2", "(2, 3)"));
    x = in(g, SG_SHAPE(2, 3), x6, false);
    assert_error(g, sg_mean(g, x, -3), SG_ERR_AXIS, NEEDLES("'mean'", "axis -3", "(2, 3)"));
    x = in(g, SG_SHAPE(4), x6, false);
    assert_error(g, sg_softmax(g, x, 1), SG_ERR_AXIS, NEEDLES("'softmax'", "axis 1", "(4)"));
    x = in(g, SG_SHAPE(2, 3), x6, false);
    assert_error(g, sg_log_softmax(g, x, -5), SG_ERR_AXIS, NEEDLES("'log_softmax'", "axis -5", "(2, 3)"));
    x = in(g, SG_SCALAR, x6, false);
    assert_error(g, sg_sum(g, x, 0), SG_ERR_AXIS, NEEDLES("'sum'", "0-d", "()"));
    /* a 0-d input is fine for the all-axes form */
    x = in(g, SG_SCALAR, x6, false);
    assert_non_null(sg_sum_all(g, x));
    /* the wrong float dtype */
    sg_tensor *ids = sg_ids(g, "ids", SG_SHAPE(2), (const int32_t[]){0, 1});
    assert_error(g, sg_sum_all(g, ids), SG_ERR_DTYPE, NEEDLES("'sum'", "i32", "(2)"));

    /* errors are sticky: the next op returns NULL at once */
    x = in(g, SG_SHAPE(2, 3), x6, false);
    assert_null(sg_softmax(g, x, 7));
    assert_null(sg_sum_all(g, x));
    assert_true(sg_contains(sg_graph_error(g), "'softmax'"));
    sg_graph_reset(g);
    /* a NULL input */
    assert_null(sg_sum(g, NULL, 0));
    assert_int_not_equal(sg_graph_status(g), SG_OK);
    sg_graph_reset(g);

    /* gather_rows: ids out of range name the id, its position and V */
    sg_tensor *table = in(g, SG_SHAPE(5, 2), NULL, true);
    ids = sg_ids(g, "ids", SG_SHAPE(2, 2), (const int32_t[]){0, 4, 1, 7});
    assert_error(g, sg_gather_rows(g, table, ids), SG_ERR_INDEX,
                 NEEDLES("'gather_rows'", "id 7", "position 3", "[1, 1]", "V = 5", "(5, 2)", "(2, 2) i32"));
    table = in(g, SG_SHAPE(5, 2), NULL, true);
    ids = sg_ids(g, "ids", SG_SHAPE(3), (const int32_t[]){-1, 0, 0});
    assert_error(g, sg_gather_rows(g, table, ids), SG_ERR_INDEX,
                 NEEDLES("'gather_rows'", "id -1", "position 0", "V = 5"));
    table = in(g, SG_SHAPE(5, 2), NULL, true);
    ids = sg_ids(g, "ids", SG_SHAPE(1), (const int32_t[]){5});
    assert_error(g, sg_gather_rows(g, table, ids), SG_ERR_INDEX, NEEDLES("id 5", "V = 5"));
    /* ids must be i32 */
    table = in(g, SG_SHAPE(5, 2), NULL, true);
    x = in(g, SG_SHAPE(3), x6, false);
    assert_error(g, sg_gather_rows(g, table, x), SG_ERR_DTYPE, NEEDLES("'gather_rows'", "i32", "f32", "(3)"));
    /* the table must be 2-D */
    table = in(g, SG_SHAPE(6), x6, true);
    ids = sg_ids(g, "ids", SG_SHAPE(1), (const int32_t[]){0});
    assert_error(g, sg_gather_rows(g, table, ids), SG_ERR_SHAPE, NEEDLES("'gather_rows'", "2-D", "(6)"));
    /* ids of 4 dimensions would need a 5-d output */
    table = in(g, SG_SHAPE(2, 2), NULL, true);
    ids = sg_ids(g, "ids", SG_SHAPE(1, 1, 1, 2), (const int32_t[]){0, 1});
    assert_error(g, sg_gather_rows(g, table, ids), SG_ERR_SHAPE, NEEDLES("'gather_rows'", "(1, 1, 1, 2)"));

    /* cross_entropy */
    sg_tensor *logits = in(g, SG_SHAPE(2, 3), x6, true);
    sg_tensor *t = sg_ids(g, "t", SG_SHAPE(2), (const int32_t[]){0, 3});
    assert_error(g, sg_cross_entropy(g, logits, t, SG_REDUCE_MEAN), SG_ERR_INDEX,
                 NEEDLES("'cross_entropy'", "target 3", "row 1", "C = 3", "(2, 3)"));
    logits = in(g, SG_SHAPE(2, 3), x6, true);
    t = sg_ids(g, "t", SG_SHAPE(2), (const int32_t[]){-2, 0});
    assert_error(g, sg_cross_entropy(g, logits, t, SG_REDUCE_SUM), SG_ERR_INDEX,
                 NEEDLES("'cross_entropy'", "target -2", "row 0"));
    logits = in(g, SG_SHAPE(2, 3), x6, true);
    t = sg_ids(g, "t", SG_SHAPE(3), (const int32_t[]){0, 0, 0});
    assert_error(g, sg_cross_entropy(g, logits, t, SG_REDUCE_NONE), SG_ERR_SHAPE,
                 NEEDLES("'cross_entropy'", "(2, 3) f32", "(3) i32"));
    logits = in(g, SG_SHAPE(6), x6, true);
    t = sg_ids(g, "t", SG_SHAPE(6), (const int32_t[]){0, 0, 0, 0, 0, 0});
    assert_error(g, sg_cross_entropy(g, logits, t, SG_REDUCE_NONE), SG_ERR_SHAPE,
                 NEEDLES("'cross_entropy'", "2-D", "(6) f32"));
    logits = in(g, SG_SHAPE(2, 3), x6, true);
    x = in(g, SG_SHAPE(2), x6, false);
    assert_error(g, sg_cross_entropy(g, logits, x, SG_REDUCE_MEAN), SG_ERR_DTYPE,
                 NEEDLES("'cross_entropy'", "i32", "(2) f32"));
    logits = in(g, SG_SHAPE(2, 3), x6, true);
    t = sg_ids(g, "t", SG_SHAPE(2), (const int32_t[]){0, 1});
    assert_error(g, sg_cross_entropy(g, logits, t, (sg_reduction)7), SG_ERR_ARG,
                 NEEDLES("'cross_entropy'", "reduction 7"));
    sg_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sum_mean_values),     cmocka_unit_test(test_sum_mean_grads),
        cmocka_unit_test(test_softmax_values),      cmocka_unit_test(test_softmax_stable),
        cmocka_unit_test(test_softmax_grads),       cmocka_unit_test(test_cross_entropy_values),
        cmocka_unit_test(test_cross_entropy_grads), cmocka_unit_test(test_cross_entropy_ignore),
        cmocka_unit_test(test_gather_rows),         cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests_name("ops_reduce_index", tests, NULL, NULL);
}
