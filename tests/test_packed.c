/* test_packed.c — the packed small-row products (ops/sg_gemm_packed.h):
 * addmm and the folded matmul, forward and the input's gradient, with the
 * weight as stored and transposed, at edge sizes (rows not a multiple of
 * the 10-row block, columns not a multiple of the 32-column panel), against
 * an f64 product; the same bytes at 1, 2 and 3 threads; panels that follow
 * the leaf's data pointer.  Skipped on CPUs without AVX-512F. */
#include "sg_test.h"

#include "graph/core/sg_param.h"
#include "ops/sg_gemm_packed.h"
#include "ops/sg_ops.h"
#include "ops/sg_threads.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct sg_pk_case {
    size_t m, k, n; /* x (m, k) [or (2, m/2, k) for the matmul], W (k, n) or (n, k) when tw */
    bool tw, matmul;
} sg_pk_case;

static const sg_pk_case sg_pk_cases[] = {
    {20, 200, 800, false, false}, {20, 200, 800, true, false}, {7, 33, 161, false, false}, {13, 64, 31, true, false},
    {128, 40, 65, false, false},  {1, 300, 257, true, false},  {20, 50, 96, false, true},  {24, 70, 45, true, true},
};

static float sg_pk_value(size_t i, unsigned salt)
{
    return (float)((double)((i * 2654435761u + salt) % 2001) / 1000.0 - 1.0);
}

/* Runs the case: y = x op(W) + b (addmm) or x op(W) (matmul), loss = sum(y .* r);
 * copies y and dx out.  threads and packed on or off as given. */
static void sg_pk_run(const sg_pk_case *c, bool packed, size_t threads, float *y_out, float *dx_out)
{
    sg_gemm_packed_enable(packed);
    assert_int_equal(sg_threads_set(threads), SG_OK);
    sg_params *ps = sg_params_new(SG_F32);
    assert_non_null(ps);
    sg_param *W = sg_params_add(ps, "W", c->tw ? SG_SHAPE(c->n, c->k) : SG_SHAPE(c->k, c->n));
    sg_param *b = sg_params_add(ps, "b", SG_SHAPE(c->n));
    assert_non_null(W);
    assert_non_null(b);
    float *wv = W->value, *bv = b->value;
    for (size_t i = 0; i < c->k * c->n; i++)
        wv[i] = sg_pk_value(i, 7);
    for (size_t i = 0; i < c->n; i++)
        bv[i] = sg_pk_value(i, 11);
    float *xv = malloc(c->m * c->k * sizeof *xv), *rv = malloc(c->m * c->n * sizeof *rv);
    assert_non_null(xv);
    assert_non_null(rv);
    for (size_t i = 0; i < c->m * c->k; i++)
        xv[i] = sg_pk_value(i, 3);
    for (size_t i = 0; i < c->m * c->n; i++)
        rv[i] = sg_pk_value(i, 5);
    sg_graph *g = sg_graph_new(SG_F32);
    assert_non_null(g);
    sg_tensor *x, *y, *r;
    if (c->matmul) {
        x = sg_input_f32(g, "x", SG_SHAPE(2, c->m / 2, c->k), xv, true);
        y = sg_matmul_t(g, x, sg_param_use(g, W), false, c->tw);
        r = sg_input_f32(g, "r", SG_SHAPE(2, c->m / 2, c->n), rv, false);
    } else {
        x = sg_input_f32(g, "x", SG_SHAPE(c->m, c->k), xv, true);
        y = sg_addmm(g, x, sg_param_use(g, W), sg_param_use(g, b), c->tw);
        r = sg_input_f32(g, "r", SG_SHAPE(c->m, c->n), rv, false);
    }
    sg_tensor *loss = sg_sum_all(g, sg_hadamard(g, y, r));
    SG_ASSERT_GRAPH_OK(g);
    assert_int_equal(sg_backward(g, loss), SG_OK);
    memcpy(y_out, y->data, c->m * c->n * sizeof *y_out);
    memcpy(dx_out, x->grad, c->m * c->k * sizeof *dx_out);
    sg_graph_free(g);
    sg_params_free(ps);
    free(xv);
    free(rv);
    sg_gemm_packed_enable(true);
    assert_int_equal(sg_threads_set(1), SG_OK);
}

/* |got - want| <= 1e-5 of the sum of the magnitudes of the products. */
static void sg_pk_check(const char *what, const sg_pk_case *c, const float *got, const double *want, const double *mag,
                        size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - want[i]) <= 1e-5 * mag[i] + 1e-30))
            fail_msg("%s of m %zu k %zu n %zu tw %d matmul %d, element %zu: %.9g, f64 %.9g", what, c->m, c->k, c->n,
                     c->tw, c->matmul, i, (double)got[i], want[i]);
}

/* The f64 values (and sums of magnitudes) of y = x op(W) + b (of_dx false:
 * rows m, columns n, over k) or dx = r op(W)^T (rows m, columns k, over n). */
static void sg_pk_ref(const sg_pk_case *c, bool of_dx, double *want, double *mag)
{
    size_t cols = of_dx ? c->k : c->n, inner = of_dx ? c->n : c->k;
    for (size_t i = 0; i < c->m; i++)
        for (size_t j = 0; j < cols; j++) {
            double s = of_dx || c->matmul ? 0.0 : (double)sg_pk_value(j, 11), a = fabs(s);
            for (size_t t = 0; t < inner; t++) {
                size_t q = of_dx ? j : t, col = of_dx ? t : j; /* W's element (q, col) of op(W) (k, n) */
                double w = (double)sg_pk_value(c->tw ? col * c->k + q : q * c->n + col, 7);
                double p = (double)sg_pk_value(i * inner + t, of_dx ? 5u : 3u) * w;
                s += p;
                a += fabs(p);
            }
            want[i * cols + j] = s;
            mag[i * cols + j] = a;
        }
}

static void test_packed_matches_f64(void **state)
{
    (void)state;
    if (!sg_gemm_packed_on())
        skip();
    for (size_t t = 0; t < sizeof sg_pk_cases / sizeof sg_pk_cases[0]; t++) {
        const sg_pk_case *c = &sg_pk_cases[t];
        size_t m = c->m, k = c->k, n = c->n;
        float *y = malloc(m * n * sizeof *y), *dx = malloc(m * k * sizeof *dx);
        float *yb = malloc(m * n * sizeof *yb), *dxb = malloc(m * k * sizeof *dxb);
        double *wy = calloc(m * n, sizeof *wy), *my = calloc(m * n, sizeof *my);
        double *wdx = calloc(m * k, sizeof *wdx), *mdx = calloc(m * k, sizeof *mdx);
        assert_true(y && dx && yb && dxb && wy && my && wdx && mdx);
        sg_pk_run(c, true, 1, y, dx);
        sg_pk_run(c, false, 1, yb, dxb);
        sg_pk_ref(c, false, wy, my);
        sg_pk_ref(c, true, wdx, mdx);
        sg_pk_check("packed y", c, y, wy, my, m * n);
        sg_pk_check("packed dx", c, dx, wdx, mdx, m * k);
        sg_pk_check("BLAS y", c, yb, wy, my, m * n);
        sg_pk_check("BLAS dx", c, dxb, wdx, mdx, m * k);
        free(y), free(dx), free(yb), free(dxb), free(wy), free(my), free(wdx), free(mdx);
    }
}

static void test_packed_same_bytes_any_threads(void **state)
{
    (void)state;
    if (!sg_gemm_packed_on())
        skip();
    for (size_t t = 0; t < sizeof sg_pk_cases / sizeof sg_pk_cases[0]; t++) {
        const sg_pk_case *c = &sg_pk_cases[t];
        size_t ny = c->m * c->n, nx = c->m * c->k;
        float *y1 = malloc(ny * sizeof *y1), *x1 = malloc(nx * sizeof *x1);
        float *yt = malloc(ny * sizeof *yt), *xt = malloc(nx * sizeof *xt);
        assert_true(y1 && x1 && yt && xt);
        sg_pk_run(c, true, 1, y1, x1);
        for (size_t threads = 2; threads <= 3; threads++) {
            sg_pk_run(c, true, threads, yt, xt);
            assert_memory_equal(y1, yt, ny * sizeof *y1);
            assert_memory_equal(x1, xt, nx * sizeof *x1);
        }
        free(y1), free(x1), free(yt), free(xt);
    }
}

/* A product re-run after the leaf's data pointer moved (the precision
 * check swaps buffers so) packs the new data, and using the weight twice
 * in a graph gives the same values both times. */
static void test_packed_follows_data(void **state)
{
    (void)state;
    if (!sg_gemm_packed_on())
        skip();
    size_t m = 20, k = 64, n = 96;
    sg_params *ps = sg_params_new(SG_F32);
    sg_param *W = ps ? sg_params_add(ps, "W", SG_SHAPE(k, n)) : NULL;
    assert_non_null(W);
    float *w1 = W->value, *w2 = malloc(k * n * sizeof *w2), *xv = malloc(m * k * sizeof *xv);
    assert_true(w2 && xv);
    for (size_t i = 0; i < k * n; i++) {
        w1[i] = sg_pk_value(i, 1);
        w2[i] = -2.0f * w1[i];
    }
    for (size_t i = 0; i < m * k; i++)
        xv[i] = sg_pk_value(i, 2);
    sg_graph *g = sg_graph_new(SG_F32);
    assert_non_null(g);
    sg_tensor *x = sg_input_f32(g, "x", SG_SHAPE(1, m, k), xv, false);
    sg_tensor *Wl = sg_param_use(g, W);
    sg_tensor *y = sg_matmul(g, x, Wl), *y2 = sg_matmul(g, x, Wl);
    SG_ASSERT_GRAPH_OK(g);
    assert_non_null(Wl->panels[0]);
    assert_memory_equal(y->data, y2->data, m * n * sizeof(float));
    float *before = malloc(m * n * sizeof *before);
    assert_non_null(before);
    memcpy(before, y->data, m * n * sizeof *before);
    Wl->data = w2;
    sg_op_forward(y);
    const float *after = y->data;
    for (size_t i = 0; i < m * n; i++) /* -2 w: every value is -2 times the first, exactly (a power of two) */
        if (after[i] != -2.0f * before[i])
            fail_msg("element %zu: %.9g after the data moved, want %.9g", i, (double)after[i], -2.0 * before[i]);
    Wl->data = w1;
    sg_graph_free(g);
    sg_params_free(ps);
    free(w2), free(xv), free(before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_packed_matches_f64),
                                       cmocka_unit_test(test_packed_same_bytes_any_threads),
                                       cmocka_unit_test(test_packed_follows_data)};
    return cmocka_run_group_tests_name("packed", tests, NULL, NULL);
}
