/* test_ops_binary_matmul.c — add/sub/hadamard with broadcasting and matmul:
 * forward values against hand-computed numbers in f32 and f64 graphs,
 * broadcast gradient sums, batched and shared-weight products against a naive
 * loop, and error messages (op name, both input shapes, sticky NULL). */
#include "sg_test.h"

static const sg_dtype dtypes[2] = {SG_F32, SG_F64};

static double tol_for(sg_dtype t) { return t == SG_F32 ? 1e-4 : 1e-12; }

static sg_tensor *in(sg_graph *g, const char *name, sg_shape s, const double *v, bool rg)
{
    return sg_input_f64(g, name, s, v, rg);
}

static void expect_values(const sg_tensor *t, sg_shape s, const double *want, double tol)
{
    assert_non_null(t);
    assert_true(sg_shape_equal(t->shape, s));
    for (size_t i = 0; i < t->numel; i++)
        SG_ASSERT_NEAR(sg_tensor_get(t, i), want[i], tol * (1 + fabs(want[i])));
}

static void expect_grad(const sg_tensor *t, const double *want, double tol)
{
    assert_non_null(t->grad);
    for (size_t i = 0; i < t->numel; i++)
        SG_ASSERT_NEAR(sg_tensor_grad_get(t, i), want[i], tol * (1 + fabs(want[i])));
}

/* Backward from out with a seed of ones (in the graph's dtype). */
static void backward_ones(sg_graph *g, sg_tensor *out)
{
    size_t esz = g && sg_graph_dtype(g) == SG_F32 ? sizeof(float) : sizeof(double);
    void *seed = sg_graph_alloc(g, out->numel * esz);
    assert_non_null(seed);
    for (size_t i = 0; i < out->numel; i++) {
        if (esz == sizeof(float))
            ((float *)seed)[i] = 1.0f;
        else
            ((double *)seed)[i] = 1.0;
    }
    assert_int_equal(sg_backward_seed(g, out, seed), SG_OK);
}

/* ---- binary forward ------------------------------------------------------- */

static void test_add_forward(void **state)
{
    (void)state;
    for (int d = 0; d < 2; d++) {
        sg_graph *g = sg_graph_new(dtypes[d]);
        double tol = tol_for(dtypes[d]);
        const double a6[] = {1, 2, 3, 4, 5, 6}, b6[] = {10, 20, 30, 40, 50, 60};

        /* same shape (2, 3) + (2, 3) */
        const double same[] = {11, 22, 33, 44, 55, 66};
        expect_values(sg_add(g, in(g, "a", SG_SHAPE(2, 3), a6, false), in(g, "b", SG_SHAPE(2, 3), b6, false)),
                      SG_SHAPE(2, 3), same, tol);
        /* row bias (2, 3) + (3) */
        const double row[] = {11, 22, 33, 14, 25, 36};
        expect_values(sg_add(g, in(g, "x", SG_SHAPE(2, 3), a6, false), in(g, "bias", SG_SHAPE(3), b6, false)),
                      SG_SHAPE(2, 3), row, tol);
        /* (T, B, H) + (B, H): (2, 2, 3) + (2, 3) */
        const double tbh[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
        const double tbh_want[] = {11, 22, 33, 44, 55, 66, 17, 28, 39, 50, 61, 72};
        expect_values(sg_add(g, in(g, "x", SG_SHAPE(2, 2, 3), tbh, false), in(g, "h", SG_SHAPE(2, 3), b6, false)),
                      SG_SHAPE(2, 2, 3), tbh_want, tol);
        /* column x row (3, 1) + (1, 4) -> (3, 4) */
        const double col[] = {1, 2, 3}, r4[] = {10, 20, 30, 40};
        const double cr[] = {11, 21, 31, 41, 12, 22, 32, 42, 13, 23, 33, 43};
        expect_values(sg_add(g, in(g, "c", SG_SHAPE(3, 1), col, false), in(g, "r", SG_SHAPE(1, 4), r4, false)),
                      SG_SHAPE(3, 4), cr, tol);
        /* scalar + (2, 3) (a is the broadcast one) */
        const double five[] = {5};
        const double sc[] = {15, 25, 35, 45, 55, 65};
        expect_values(sg_add(g, in(g, "s", SG_SCALAR, five, false), in(g, "b", SG_SHAPE(2, 3), b6, false)),
                      SG_SHAPE(2, 3), sc, tol);
        /* size-1 edges: (1) + (1, 1) -> (1, 1) */
        const double one_a[] = {2.5}, one_b[] = {-1};
        const double one_want[] = {1.5};
        expect_values(sg_add(g, in(g, "a", SG_SHAPE(1), one_a, false), in(g, "b", SG_SHAPE(1, 1), one_b, false)),
                      SG_SHAPE(1, 1), one_want, tol);
        SG_ASSERT_GRAPH_OK(g);
        sg_graph_free(g);
    }
}

static void test_sub_hadamard_forward(void **state)
{
    (void)state;
    for (int d = 0; d < 2; d++) {
        sg_graph *g = sg_graph_new(dtypes[d]);
        double tol = tol_for(dtypes[d]);
        const double a3[] = {1, 2, 3}, b6[] = {10, 20, 30, 40, 50, 60};

        /* a broadcast: (3) - (2, 3) */
        const double sub_want[] = {-9, -18, -27, -39, -48, -57};
        expect_values(sg_sub(g, in(g, "a", SG_SHAPE(3), a3, false), in(g, "b", SG_SHAPE(2, 3), b6, false)),
                      SG_SHAPE(2, 3), sub_want, tol);
        /* b broadcast as a column: (2, 3) - (2, 1) */
        const double c2[] = {1, 2};
        const double sub2_want[] = {9, 19, 29, 38, 48, 58};
        expect_values(sg_sub(g, in(g, "a", SG_SHAPE(2, 3), b6, false), in(g, "c", SG_SHAPE(2, 1), c2, false)),
                      SG_SHAPE(2, 3), sub2_want, tol);
        /* hadamard same shape */
        const double a6[] = {1, 2, 3, 4, 5, 6};
        const double h_want[] = {10, 40, 90, 160, 250, 360};
        expect_values(sg_hadamard(g, in(g, "a", SG_SHAPE(2, 3), a6, false), in(g, "b", SG_SHAPE(2, 3), b6, false)),
                      SG_SHAPE(2, 3), h_want, tol);
        /* (2, 1, 3) * (4, 1) -> (2, 4, 3): y[i][j][k] = a[i][k] * b[j] */
        const double b4[] = {1, -2, 0.5, 3};
        sg_tensor *y = sg_hadamard(g, in(g, "a", SG_SHAPE(2, 1, 3), a6, false), in(g, "b", SG_SHAPE(4, 1), b4, false));
        double w[24];
        for (size_t i = 0; i < 2; i++)
            for (size_t j = 0; j < 4; j++)
                for (size_t k = 0; k < 3; k++)
                    w[(i * 4 + j) * 3 + k] = a6[i * 3 + k] * b4[j];
        expect_values(y, SG_SHAPE(2, 4, 3), w, tol);
        /* 4-D: (2, 1, 3, 1) * (1, 2, 1, 2) -> (2, 2, 3, 2) */
        y = sg_hadamard(g, in(g, "a", SG_SHAPE(2, 1, 3, 1), a6, false), in(g, "b", SG_SHAPE(1, 2, 1, 2), b4, false));
        for (size_t i = 0; i < 2; i++)
            for (size_t j = 0; j < 2; j++)
                for (size_t k = 0; k < 3; k++)
                    for (size_t l = 0; l < 2; l++)
                        w[((i * 2 + j) * 3 + k) * 2 + l] = a6[i * 3 + k] * b4[j * 2 + l];
        expect_values(y, SG_SHAPE(2, 2, 3, 2), w, tol);
        SG_ASSERT_GRAPH_OK(g);
        sg_graph_free(g);
    }
}

/* ---- binary gradients ----------------------------------------------------- */

static void test_broadcast_grad_sums(void **state)
{
    (void)state;
    for (int d = 0; d < 2; d++) {
        sg_graph *g = sg_graph_new(dtypes[d]);
        double tol = tol_for(dtypes[d]);
        double xv[12], bv[3] = {0.1, 0.2, 0.3};
        for (int i = 0; i < 12; i++)
            xv[i] = 0.5 * i - 2;

        /* (B=4, H=3) + bias (3): bias grad = B for each element, x grad = 1 */
        sg_tensor *x = in(g, "x", SG_SHAPE(4, 3), xv, true), *bias = in(g, "bias", SG_SHAPE(3), bv, true);
        backward_ones(g, sg_add(g, x, bias));
        const double fours[] = {4, 4, 4}, ones[12] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
        expect_grad(bias, fours, tol);
        expect_grad(x, ones, tol);

        /* (T=2, B=2, H=3) - (B, H): the subtrahend's grad is -T */
        sg_graph_reset(g);
        x = in(g, "x", SG_SHAPE(2, 2, 3), xv, true);
        sg_tensor *h = in(g, "h", SG_SHAPE(2, 3), xv, true);
        backward_ones(g, sg_sub(g, x, h));
        const double minus2[] = {-2, -2, -2, -2, -2, -2};
        expect_grad(h, minus2, tol);
        expect_grad(x, ones, tol);

        /* (3, 1) + (1, 4): each column entry is repeated 4 times, each row entry 3 times */
        sg_graph_reset(g);
        sg_tensor *c = in(g, "c", SG_SHAPE(3, 1), xv, true), *r = in(g, "r", SG_SHAPE(1, 4), xv, true);
        backward_ones(g, sg_add(g, c, r));
        const double four3[] = {4, 4, 4}, three4[] = {3, 3, 3, 3};
        expect_grad(c, four3, tol);
        expect_grad(r, three4, tol);

        /* hadamard (4, 3) * (3): gb[j] = sum_i x[i][j], gx[i][j] = b[j] */
        sg_graph_reset(g);
        x = in(g, "x", SG_SHAPE(4, 3), xv, true);
        bias = in(g, "b", SG_SHAPE(3), bv, true);
        backward_ones(g, sg_hadamard(g, x, bias));
        double gb[3] = {0, 0, 0}, gx[12];
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 3; j++) {
                gb[j] += xv[i * 3 + j];
                gx[i * 3 + j] = bv[j];
            }
        expect_grad(bias, gb, tol);
        expect_grad(x, gx, tol);

        /* scalar * (2, 3): the scalar's grad is the sum of the other input */
        sg_graph_reset(g);
        const double sv[] = {1.5};
        sg_tensor *s = in(g, "s", SG_SCALAR, sv, true);
        x = in(g, "x", SG_SHAPE(2, 3), xv, true);
        backward_ones(g, sg_hadamard(g, x, s));
        double sum = 0;
        for (int i = 0; i < 6; i++)
            sum += xv[i];
        expect_grad(s, &sum, tol);
        SG_ASSERT_GRAPH_OK(g);
        sg_graph_free(g);
    }
}

/* The same tensor twice: both VJP contributions land in its one gradient. */
static void test_same_tensor_twice(void **state)
{
    (void)state;
    for (int d = 0; d < 2; d++) {
        sg_graph *g = sg_graph_new(dtypes[d]);
        double tol = tol_for(dtypes[d]);
        const double xv[] = {1, -2, 0.5, 3};
        sg_tensor *x = in(g, "x", SG_SHAPE(2, 2), xv, true);
        sg_tensor *y = sg_hadamard(g, x, x);
        const double sq[] = {1, 4, 0.25, 9};
        expect_values(y, SG_SHAPE(2, 2), sq, tol);
        backward_ones(g, y);
        const double twice[] = {2, -4, 1, 6};
        expect_grad(x, twice, tol);

        sg_graph_reset(g);
        x = in(g, "x", SG_SHAPE(2, 2), xv, true);
        backward_ones(g, sg_add(g, x, x));
        const double twos[] = {2, 2, 2, 2};
        expect_grad(x, twos, tol);

        sg_graph_reset(g);
        x = in(g, "x", SG_SHAPE(2, 2), xv, true);
        backward_ones(g, sg_sub(g, x, x));
        const double zeros[] = {0, 0, 0, 0};
        expect_grad(x, zeros, tol);
        SG_ASSERT_GRAPH_OK(g);
        sg_graph_free(g);
    }
}

/* ---- matmul --------------------------------------------------------------- */

static void test_matmul_forward_2d(void **state)
{
    (void)state;
    for (int d = 0; d < 2; d++) {
        sg_graph *g = sg_graph_new(dtypes[d]);
        double tol = tol_for(dtypes[d]);
        const double A[] = {1, 2, 3, 4, 5, 6};     /* (2, 3) */
        const double At[] = {1, 4, 2, 5, 3, 6};    /* A^T stored (3, 2) */
        const double B[] = {7, 8, 9, 10, 11, 12};  /* (3, 2) */
        const double Bt[] = {7, 9, 11, 8, 10, 12}; /* B^T stored (2, 3) */
        const double C[] = {58, 64, 139, 154};     /* A B (2, 2) */
        sg_tensor *a = in(g, "a", SG_SHAPE(2, 3), A, false), *at = in(g, "at", SG_SHAPE(3, 2), At, false);
        sg_tensor *b = in(g, "b", SG_SHAPE(3, 2), B, false), *bt = in(g, "bt", SG_SHAPE(2, 3), Bt, false);
        expect_values(sg_matmul(g, a, b), SG_SHAPE(2, 2), C, tol);
        expect_values(sg_matmul_t(g, at, b, true, false), SG_SHAPE(2, 2), C, tol);
        expect_values(sg_matmul_t(g, a, bt, false, true), SG_SHAPE(2, 2), C, tol);
        expect_values(sg_matmul_t(g, at, bt, true, true), SG_SHAPE(2, 2), C, tol);
        /* B A = (3, 2)(2, 3) -> (3, 3) */
        const double BA[] = {39, 54, 69, 49, 68, 87, 59, 82, 105};
        expect_values(sg_matmul(g, b, a), SG_SHAPE(3, 3), BA, tol);

        /* vector-like edges: (1, 3)(3, 1) is a dot product, (2, 1)(1, 3) an outer product */
        const double u[] = {1, 2, 3}, v[] = {4, 5, 6}, dot[] = {32};
        expect_values(sg_matmul(g, in(g, "u", SG_SHAPE(1, 3), u, false), in(g, "v", SG_SHAPE(3, 1), v, false)),
                      SG_SHAPE(1, 1), dot, tol);
        const double outer[] = {4, 5, 6, 8, 10, 12};
        expect_values(sg_matmul(g, in(g, "u", SG_SHAPE(2, 1), u, false), in(g, "v", SG_SHAPE(1, 3), v, false)),
                      SG_SHAPE(2, 3), outer, tol);
        SG_ASSERT_GRAPH_OK(g);
        sg_graph_free(g);
    }
}

/* Naive batched product with flags: a stored (nb, m, k) or (nb, k, m), b stored
 * (nb or 1, k, n) or (.., n, k).  Fills c (nb, m, n), and with a seed gy, the
 * gradients ga, gb (stored layouts; gb summed over the batch when shared). */
static void naive_matmul(const double *a, const double *b, size_t nb, bool shared, size_t m, size_t k, size_t n,
                         bool ta, bool tb, const double *gy, double *c, double *ga, double *gb)
{
    for (size_t t = 0; t < nb; t++) {
        const double *at = a + t * m * k, *bt = b + (shared ? 0 : t * k * n);
        double *gat = ga + t * m * k, *gbt = gb + (shared ? 0 : t * k * n);
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                double s = 0, gv = gy[(t * m + i) * n + j];
                for (size_t p = 0; p < k; p++) {
                    size_t ia = ta ? p * m + i : i * k + p, ib = tb ? j * k + p : p * n + j;
                    s += at[ia] * bt[ib];
                    gat[ia] += gv * bt[ib];
                    gbt[ib] += gv * at[ia];
                }
                c[(t * m + i) * n + j] = s;
            }
    }
}

typedef struct mm_case {
    sg_shape sa, sb;
    bool ta, tb;
} mm_case;

static void test_matmul_batched_naive(void **state)
{
    (void)state;
    const mm_case cases[] = {
        {SG_SHAPE(3, 4, 5), SG_SHAPE(3, 5, 2), false, false},     /* batched */
        {SG_SHAPE(2, 3, 5, 4), SG_SHAPE(2, 3, 2, 5), true, true}, /* 4-D batched, both flags */
        {SG_SHAPE(3, 2, 4, 5), SG_SHAPE(5, 6), false, false},     /* shared b (folded) */
        {SG_SHAPE(4, 2, 5), SG_SHAPE(6, 5), false, true},         /* shared b, trans_b (folded) */
        {SG_SHAPE(3, 5, 4), SG_SHAPE(5, 6), true, false},         /* shared b, trans_a (looped) */
        {SG_SHAPE(3, 5), SG_SHAPE(5, 2), false, false},           /* plain */
        /* products above the small-product loops' limit go to cblas: both paths */
        {SG_SHAPE(2, 30, 20), SG_SHAPE(2, 20, 30), false, false}, /* batched, 12000 multiply-adds each */
        {SG_SHAPE(2, 20, 30), SG_SHAPE(2, 30, 20), true, true},   /* batched, both flags */
        {SG_SHAPE(3, 40, 16), SG_SHAPE(24, 16), false, true},     /* shared b folded: (120, 16) x (16, 24) */
        {SG_SHAPE(6, 1, 64), SG_SHAPE(6, 64, 1), false, false},   /* batched dot products (the loops) */
        {SG_SHAPE(6, 64, 1), SG_SHAPE(6, 64, 1), true, false},    /* the same with a transposed */
    };
    sg_rng rng;
    sg_rng_seed(&rng, 7);
    for (int d = 0; d < 2; d++) {
        sg_graph *g = sg_graph_new(dtypes[d]);
        double tol = dtypes[d] == SG_F32 ? 1e-4 : 1e-11;
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            const mm_case *mc = &cases[c];
            sg_graph_reset(g);
            size_t na = sg_shape_numel(mc->sa), nbv = sg_shape_numel(mc->sb);
            size_t r = (size_t)mc->sa.ndim;
            size_t m = mc->ta ? mc->sa.d[r - 1] : mc->sa.d[r - 2], k = mc->ta ? mc->sa.d[r - 2] : mc->sa.d[r - 1];
            size_t rb = (size_t)mc->sb.ndim, n = mc->tb ? mc->sb.d[rb - 2] : mc->sb.d[rb - 1];
            size_t batch = na / (m * k), nc = batch * m * n;
            double *av = sg_graph_alloc(g, na * sizeof *av), *bv = sg_graph_alloc(g, nbv * sizeof *bv);
            double *gy = sg_graph_alloc(g, nc * sizeof *gy), *want = sg_graph_alloc(g, nc * sizeof *want);
            double *ga = sg_graph_alloc(g, na * sizeof *ga), *gb = sg_graph_alloc(g, nbv * sizeof *gb);
            float *gy32 = sg_graph_alloc(g, nc * sizeof *gy32);
            assert_true(av && bv && gy && want && ga && gb && gy32);
            /* values exactly representable in f32, so both dtypes see the same inputs */
            for (size_t i = 0; i < na; i++)
                av[i] = (double)(float)sg_rng_range(&rng, -1, 1);
            for (size_t i = 0; i < nbv; i++)
                bv[i] = (double)(float)sg_rng_range(&rng, -1, 1);
            for (size_t i = 0; i < nc; i++)
                gy32[i] = (float)(gy[i] = (double)(float)sg_rng_range(&rng, -1, 1));
            naive_matmul(av, bv, batch, mc->sb.ndim == 2 && mc->sa.ndim > 2, m, k, n, mc->ta, mc->tb, gy, want, ga, gb);

            sg_tensor *a = in(g, "a", mc->sa, av, true), *b = in(g, "b", mc->sb, bv, true);
            sg_tensor *y = sg_matmul_t(g, a, b, mc->ta, mc->tb);
            assert_non_null(y);
            sg_shape so = mc->sa;
            so.d[r - 2] = m;
            so.d[r - 1] = n;
            expect_values(y, so, want, tol);
            assert_int_equal(sg_backward_seed(g, y, dtypes[d] == SG_F32 ? (const void *)gy32 : (const void *)gy),
                             SG_OK);
            expect_grad(a, ga, tol);
            expect_grad(b, gb, tol);
            SG_ASSERT_GRAPH_OK(g);
        }
        sg_graph_free(g);
    }
}

/* ---- errors --------------------------------------------------------------- */

static void test_binary_errors(void **state)
{
    (void)state;
    const char *names[3] = {"add", "sub", "hadamard"};
    for (int op = 0; op < 3; op++) {
        sg_graph *g = sg_graph_new(SG_F64);
        sg_tensor *a = sg_const_fill(g, "a", SG_SHAPE(2, 3), 1.0), *b = sg_const_fill(g, "b", SG_SHAPE(4, 5), 2.0);
        sg_tensor *y = op == 0 ? sg_add(g, a, b) : op == 1 ? sg_sub(g, a, b) : sg_hadamard(g, a, b);
        assert_null(y);
        assert_int_equal(sg_graph_status(g), SG_ERR_SHAPE);
        const char *msg = sg_graph_error(g);
        assert_true(sg_contains(msg, names[op]));
        assert_true(sg_contains(msg, "(2, 3)"));
        assert_true(sg_contains(msg, "(4, 5)"));
        assert_true(sg_contains(msg, "broadcast"));
        /* sticky: later ops on the errored graph return NULL, the first message stays */
        assert_null(sg_add(g, a, a));
        assert_null(sg_matmul(g, a, sg_const_fill(g, "c", SG_SHAPE(3, 2), 1.0)));
        assert_true(sg_contains(sg_graph_error(g), names[op]));
        sg_graph_free(g);
    }

    /* a clash in a middle dimension is named: (2, 3, 4) + (5, 4) */
    sg_graph *g = sg_graph_new(SG_F32);
    assert_null(sg_add(g, sg_const_fill(g, "a", SG_SHAPE(2, 3, 4), 1.0), sg_const_fill(g, "b", SG_SHAPE(5, 4), 1.0)));
    assert_true(sg_contains(sg_graph_error(g), "size 3"));
    assert_true(sg_contains(sg_graph_error(g), "size 5"));
    assert_true(sg_contains(sg_graph_error(g), "(2, 3, 4)"));
    assert_true(sg_contains(sg_graph_error(g), "(5, 4)"));

    /* an id tensor is not a float input */
    sg_graph_reset(g);
    const int32_t ids[] = {0, 1, 2};
    assert_null(sg_add(g, sg_ids(g, "ids", SG_SHAPE(3), ids), sg_const_fill(g, "x", SG_SHAPE(3), 1.0)));
    assert_int_equal(sg_graph_status(g), SG_ERR_DTYPE);
    assert_true(sg_contains(sg_graph_error(g), "add"));

    /* a NULL input (from an earlier failure) gives NULL */
    sg_graph_reset(g);
    assert_null(sg_hadamard(g, NULL, sg_const_fill(g, "x", SG_SHAPE(3), 1.0)));
    assert_int_not_equal(sg_graph_status(g), SG_OK);
    sg_graph_free(g);
}

static void expect_matmul_error(sg_shape sa, sg_shape sb, bool ta, bool tb, const char *sa_str, const char *sb_str,
                                const char *what)
{
    sg_graph *g = sg_graph_new(SG_F64);
    sg_tensor *a = sg_const_fill(g, "a", sa, 1.0), *b = sg_const_fill(g, "b", sb, 1.0);
    assert_null(sg_matmul_t(g, a, b, ta, tb));
    assert_int_equal(sg_graph_status(g), SG_ERR_SHAPE);
    const char *msg = sg_graph_error(g);
    assert_true(sg_contains(msg, "matmul"));
    assert_true(sg_contains(msg, sa_str));
    assert_true(sg_contains(msg, sb_str));
    assert_true(sg_contains(msg, what));
    assert_null(sg_add(g, a, a)); /* sticky */
    assert_null(sg_matmul(g, a, a));
    sg_graph_free(g);
}

static void test_matmul_errors(void **state)
{
    (void)state;
    expect_matmul_error(SG_SHAPE(2, 3), SG_SHAPE(4, 5), false, false, "(2, 3)", "(4, 5)", "inner");
    expect_matmul_error(SG_SHAPE(2, 3), SG_SHAPE(3, 4), false, true, "(2, 3)", "(3, 4)", "inner");
    expect_matmul_error(SG_SHAPE(2, 3), SG_SHAPE(2, 4), true, true, "(2, 3)", "(2, 4)", "inner");
    expect_matmul_error(SG_SHAPE(3), SG_SHAPE(3, 2), false, false, "(3)", "(3, 2)", "2 dimensions");
    expect_matmul_error(SG_SHAPE(2, 3), SG_SCALAR, false, false, "(2, 3)", "()", "2 dimensions");
    expect_matmul_error(SG_SHAPE(2, 3, 4), SG_SHAPE(3, 4, 5), false, false, "(2, 3, 4)", "(3, 4, 5)", "batch");
    expect_matmul_error(SG_SHAPE(3, 4), SG_SHAPE(2, 4, 5), false, false, "(3, 4)", "(2, 4, 5)", "rank");
    expect_matmul_error(SG_SHAPE(2, 3, 4), SG_SHAPE(4, 5, 6), false, false, "(2, 3, 4)", "(4, 5, 6)", "batch");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_forward),         cmocka_unit_test(test_sub_hadamard_forward),
        cmocka_unit_test(test_broadcast_grad_sums), cmocka_unit_test(test_same_tensor_twice),
        cmocka_unit_test(test_matmul_forward_2d),   cmocka_unit_test(test_matmul_batched_naive),
        cmocka_unit_test(test_binary_errors),       cmocka_unit_test(test_matmul_errors),
    };
    return cmocka_run_group_tests_name("ops_binary_matmul", tests, NULL, NULL);
}
