/* test_ops_shape.c — shape ops (transpose, reshape, slice, concat, split):
 * forward values by hand in f32 and f64 graphs (reshapes and row slices are
 * views of their input, other slices copies), exact split/concat round trips
 * (values and gradients), and every error case: the op returns NULL (split:
 * an error status and NULL outputs) and the graph's error names the op and
 * the input shape. */
#include "sg_test.h"

/* A graph per dtype: every forward test runs in both. */
static const sg_dtype sg_dtypes[] = {SG_F32, SG_F64};

/* 0, 1, 2, ... as an input of the given shape (exact in f32 too). */
static sg_tensor *iota(sg_graph *g, const char *name, sg_shape s, double base, bool rg)
{
    size_t n = sg_shape_numel(s);
    double buf[256];
    assert_true(n <= 256);
    for (size_t i = 0; i < n; i++)
        buf[i] = base + (double)i;
    return sg_input_f64(g, name, s, buf, rg);
}

static void assert_values(const sg_tensor *t, sg_shape s, const double *want)
{
    assert_non_null(t);
    assert_true(sg_shape_equal(t->shape, s));
    for (size_t i = 0; i < t->numel; i++)
        if (sg_tensor_get(t, i) != want[i])
            fail_msg("element %zu = %g, expected %g", i, sg_tensor_get(t, i), want[i]);
}

/* ---- forward values ------------------------------------------------------ */

static void test_transpose_forward(void **state)
{
    (void)state;
    for (size_t d = 0; d < 2; d++) {
        sg_graph *g = sg_graph_new(sg_dtypes[d]);
        assert_non_null(g);
        /* (2, 3) [[0 1 2] [3 4 5]] -> (3, 2) [[0 3] [1 4] [2 5]] */
        sg_tensor *y = sg_transpose(g, iota(g, "x", SG_SHAPE(2, 3), 0, false));
        assert_values(y, SG_SHAPE(3, 2), (const double[]){0, 3, 1, 4, 2, 5});
        /* (2, 2, 3): each batch transposed on its own */
        y = sg_transpose(g, iota(g, "x3", SG_SHAPE(2, 2, 3), 0, false));
        assert_values(y, SG_SHAPE(2, 3, 2), (const double[]){0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11});
        /* 4-D (2, 1, 2, 2): batches of 2x2 */
        y = sg_transpose(g, iota(g, "x4", SG_SHAPE(2, 1, 2, 2), 0, false));
        assert_values(y, SG_SHAPE(2, 1, 2, 2), (const double[]){0, 2, 1, 3, 4, 6, 5, 7});
        /* larger than one 32x32 block: y[j, i] = x[i, j] */
        size_t M = 37, N = 41;
        double *buf = sg_graph_alloc(g, M * N * sizeof *buf);
        for (size_t i = 0; i < M * N; i++)
            buf[i] = (double)i;
        y = sg_transpose(g, sg_input_f64(g, "big", SG_SHAPE(M, N), buf, false));
        assert_non_null(y);
        assert_true(sg_shape_equal(y->shape, SG_SHAPE(N, M)));
        for (size_t i = 0; i < M; i++)
            for (size_t j = 0; j < N; j++)
                assert_true(sg_tensor_get(y, j * M + i) == (double)(i * N + j));
        SG_ASSERT_GRAPH_OK(g);
        sg_graph_free(g);
    }
}

static void test_reshape_forward(void **state)
{
    (void)state;
    for (size_t d = 0; d < 2; d++) {
        sg_graph *g = sg_graph_new(sg_dtypes[d]);
        sg_tensor *x = iota(g, "x", SG_SHAPE(2, 3), 1, false);
        sg_tensor *y = sg_reshape(g, x, SG_SHAPE(3, 1, 2));
        assert_values(y, SG_SHAPE(3, 1, 2), (const double[]){1, 2, 3, 4, 5, 6});
        assert_ptr_equal(y->data, x->data); /* a view: the input's elements, not a copy */
        sg_tensor_set(x, 0, 42);
        assert_true(sg_tensor_get(y, 0) == 42);
        sg_tensor_set(x, 0, 1);
        y = sg_reshape(g, iota(g, "one", SG_SHAPE(1, 1), 7, false), SG_SCALAR);
        assert_values(y, SG_SCALAR, (const double[]){7});
        y = sg_reshape(g, y, SG_SHAPE(1, 1, 1, 1));
        assert_values(y, SG_SHAPE(1, 1, 1, 1), (const double[]){7});
        SG_ASSERT_GRAPH_OK(g);
        sg_graph_free(g);
    }
}

static void test_slice_forward(void **state)
{
    (void)state;
    for (size_t d = 0; d < 2; d++) {
        sg_graph *g = sg_graph_new(sg_dtypes[d]);
        sg_tensor *x = iota(g, "x", SG_SHAPE(3, 4), 0, false); /* rows 0-3, 4-7, 8-11 */
        assert_values(sg_slice(g, x, 0, 1, 2), SG_SHAPE(2, 4), (const double[]){4, 5, 6, 7, 8, 9, 10, 11});
        assert_values(sg_slice(g, x, -1, 1, 2), SG_SHAPE(3, 2), (const double[]){1, 2, 5, 6, 9, 10});
        assert_values(sg_slice(g, x, 1, 3, 1), SG_SHAPE(3, 1), (const double[]){3, 7, 11});
        assert_values(sg_slice(g, x, 0, 0, 3), SG_SHAPE(3, 4), (const double[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
        /* middle axis of (2, 3, 2): x[o, a, r] = 6o + 2a + r */
        sg_tensor *x3 = iota(g, "x3", SG_SHAPE(2, 3, 2), 0, false);
        sg_tensor *mid = sg_slice(g, x3, 1, 1, 2);
        assert_values(mid, SG_SHAPE(2, 2, 2), (const double[]){2, 3, 4, 5, 8, 9, 10, 11});
        /* rows (one outer block) are a view of the input from the first row on;
         * a slice of columns or of a middle axis (outer > 1) is a copy */
        sg_tensor *rows = sg_slice(g, x, 0, 1, 2), *cols = sg_slice(g, x, 1, 1, 2);
        size_t esz = sg_dtypes[d] == SG_F64 ? sizeof(double) : sizeof(float);
        assert_ptr_equal(rows->data, (char *)x->data + 4 * esz);
        assert_true((char *)cols->data < (char *)x->data || (char *)cols->data >= (char *)x->data + 12 * esz);
        assert_true((char *)mid->data < (char *)x3->data || (char *)mid->data >= (char *)x3->data + 12 * esz);
        sg_tensor *lead = sg_slice(g, sg_reshape(g, x3, SG_SHAPE(1, 6, 2)), 1, 2, 3); /* outer 1: a view */
        assert_ptr_equal(lead->data, (char *)x3->data + 4 * esz);
        assert_values(lead, SG_SHAPE(1, 3, 2), (const double[]){4, 5, 6, 7, 8, 9});
        SG_ASSERT_GRAPH_OK(g);
        sg_graph_free(g);
    }
}

static void test_concat_forward(void **state)
{
    (void)state;
    for (size_t d = 0; d < 2; d++) {
        sg_graph *g = sg_graph_new(sg_dtypes[d]);
        sg_tensor *a = iota(g, "a", SG_SHAPE(2, 1), 0, false);  /* [0] [1] */
        sg_tensor *b = iota(g, "b", SG_SHAPE(2, 3), 10, false); /* [10 11 12] [13 14 15] */
        sg_tensor *c = iota(g, "c", SG_SHAPE(2, 2), 20, false); /* [20 21] [22 23] */
        sg_tensor *xs[] = {a, b, c};
        assert_values(sg_concat(g, xs, 3, -1), SG_SHAPE(2, 6),
                      (const double[]){0, 10, 11, 12, 20, 21, 1, 13, 14, 15, 22, 23});
        sg_tensor *ys[] = {b, iota(g, "r", SG_SHAPE(1, 3), 30, false)};
        assert_values(sg_concat(g, ys, 2, 0), SG_SHAPE(3, 3), (const double[]){10, 11, 12, 13, 14, 15, 30, 31, 32});
        /* middle axis of 3-D: (2, 1, 2) ++ (2, 2, 2) on axis 1 */
        sg_tensor *zs[] = {iota(g, "p", SG_SHAPE(2, 1, 2), 0, false), iota(g, "q", SG_SHAPE(2, 2, 2), 10, false)};
        assert_values(sg_concat(g, zs, 2, 1), SG_SHAPE(2, 3, 2),
                      (const double[]){0, 1, 10, 11, 12, 13, 2, 3, 14, 15, 16, 17});
        /* a single input is a copy */
        assert_values(sg_concat(g, &a, 1, 0), SG_SHAPE(2, 1), (const double[]){0, 1});
        SG_ASSERT_GRAPH_OK(g);
        sg_graph_free(g);
    }
}

static void test_split_forward(void **state)
{
    (void)state;
    for (size_t d = 0; d < 2; d++) {
        sg_graph *g = sg_graph_new(sg_dtypes[d]);
        /* LSTM gates: (2, 8) into 4 of (2, 2) */
        sg_tensor *x = iota(g, "x", SG_SHAPE(2, 8), 0, false);
        sg_tensor *p[4];
        assert_int_equal(sg_split(g, x, -1, 4, p), SG_OK);
        for (size_t k = 0; k < 4; k++) {
            double w[] = {2.0 * k, 2.0 * k + 1, 8 + 2.0 * k, 8 + 2.0 * k + 1};
            assert_values(p[k], SG_SHAPE(2, 2), w);
            assert_string_equal(p[k]->op->name, "split");
        }
        /* uneven sizes on axis 0 of (4, 2) */
        sg_tensor *q[3];
        assert_int_equal(sg_split_sizes(g, iota(g, "y", SG_SHAPE(4, 2), 0, false), 0, (const size_t[]){1, 2, 1}, 3, q),
                         SG_OK);
        assert_values(q[0], SG_SHAPE(1, 2), (const double[]){0, 1});
        assert_values(q[1], SG_SHAPE(2, 2), (const double[]){2, 3, 4, 5});
        assert_values(q[2], SG_SHAPE(1, 2), (const double[]){6, 7});
        /* one part: a copy */
        assert_int_equal(sg_split(g, x, 0, 1, q), SG_OK);
        assert_true(sg_shape_equal(q[0]->shape, x->shape));
        SG_ASSERT_GRAPH_OK(g);
        sg_graph_free(g);
    }
}

/* ---- round trips --------------------------------------------------------- */

static void test_split_concat_round_trip(void **state)
{
    (void)state;
    for (size_t d = 0; d < 2; d++) {
        sg_graph *g = sg_graph_new(sg_dtypes[d]);
        sg_rng rng;
        sg_rng_seed(&rng, 7);
        double buf[2 * 9 * 3], seed[2 * 9 * 3];
        for (size_t i = 0; i < 54; i++) {
            buf[i] = sg_rng_range(&rng, -3, 3);
            seed[i] = sg_rng_range(&rng, -3, 3);
        }
        sg_tensor *x = sg_input_f64(g, "x", SG_SHAPE(2, 9, 3), buf, true);
        sg_tensor *p[5];
        assert_int_equal(sg_split_sizes(g, x, 1, (const size_t[]){2, 1, 4, 1, 1}, 5, p), SG_OK);
        sg_tensor *y = sg_concat(g, p, 5, 1);
        assert_non_null(y);
        for (size_t i = 0; i < x->numel; i++)
            assert_true(sg_tensor_get(y, i) == sg_tensor_get(x, i));
        /* gradient of the round trip is the seed, exactly */
        float seed32[54];
        for (size_t i = 0; i < 54; i++)
            seed32[i] = (float)seed[i];
        assert_int_equal(sg_backward_seed(g, y, sg_dtypes[d] == SG_F64 ? (const void *)seed : (const void *)seed32),
                         SG_OK);
        for (size_t i = 0; i < x->numel; i++)
            assert_true(sg_tensor_grad_get(x, i) == (sg_dtypes[d] == SG_F64 ? seed[i] : (double)seed32[i]));

        /* equal split on the last axis, concat back: the same */
        sg_graph_reset(g);
        x = sg_input_f64(g, "x", SG_SHAPE(3, 8), buf, true);
        sg_tensor *gates[4];
        assert_int_equal(sg_split(g, x, -1, 4, gates), SG_OK);
        y = sg_concat(g, gates, 4, -1);
        assert_non_null(y);
        for (size_t i = 0; i < x->numel; i++)
            assert_true(sg_tensor_get(y, i) == sg_tensor_get(x, i));
        assert_int_equal(sg_backward_seed(g, y, sg_dtypes[d] == SG_F64 ? (const void *)seed : (const void *)seed32),
                         SG_OK);
        for (size_t i = 0; i < x->numel; i++)
            assert_true(sg_tensor_grad_get(x, i) == (sg_dtypes[d] == SG_F64 ? seed[i] : (double)seed32[i]));

        /* transpose twice and reshape there and back are identities */
        sg_tensor *t = sg_transpose(g, sg_transpose(g, x));
        sg_tensor *r = sg_reshape(g, sg_reshape(g, x, SG_SHAPE(2, 2, 6)), SG_SHAPE(3, 8));
        for (size_t i = 0; i < x->numel; i++) {
            assert_true(sg_tensor_get(t, i) == sg_tensor_get(x, i));
            assert_true(sg_tensor_get(r, i) == sg_tensor_get(x, i));
        }
        SG_ASSERT_GRAPH_OK(g);
        sg_graph_free(g);
    }
}

/* Gradients by hand: slice scatters into its window, transpose transposes back,
 * and fan-out through two slices of one input accumulates. */
static void test_gradients_by_hand(void **state)
{
    (void)state;
    sg_graph *g = sg_graph_new(SG_F64);
    sg_tensor *x = iota(g, "x", SG_SHAPE(2, 3), 0, true);
    sg_tensor *a = sg_slice(g, x, 1, 0, 2); /* (2, 2) */
    sg_tensor *b = sg_slice(g, x, 1, 1, 2); /* (2, 2) overlapping column 1 */
    sg_tensor *xs[] = {a, b};
    sg_tensor *y = sg_transpose(g, sg_concat(g, xs, 2, 0)); /* (4, 2) -> (2, 4) */
    assert_non_null(y);
    double seed[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    /* concat (4, 2) gets seed^T: rows [1 5] [2 6] [3 7] [4 8]; a = rows 0-1, b = rows 2-3 */
    assert_int_equal(sg_backward_seed(g, y, seed), SG_OK);
    /* gx[:, 0:2] += a-grad [[1 5] [2 6]]; gx[:, 1:3] += b-grad [[3 7] [4 8]] */
    double want[6] = {1, 5 + 3, 7, 2, 6 + 4, 8};
    for (size_t i = 0; i < 6; i++)
        SG_ASSERT_NEAR(sg_tensor_grad_get(x, i), want[i], 0);
    sg_graph_free(g);
}

/* ---- errors -------------------------------------------------------------- */

/* The graph is in error with status st, and the message names op and shape. */
static void assert_error(sg_graph *g, sg_status st, const char *op, const char *shape)
{
    assert_int_equal(sg_graph_status(g), st);
    char quoted[64];
    snprintf(quoted, sizeof quoted, "'%s'", op);
    assert_true(sg_contains(sg_graph_error(g), quoted));
    assert_true(sg_contains(sg_graph_error(g), shape));
    sg_graph_clear_error(g);
}

static void test_errors(void **state)
{
    (void)state;
    sg_graph *g = sg_graph_new(SG_F64);
    sg_tensor *x = iota(g, "x", SG_SHAPE(2, 3), 0, true);
    sg_tensor *v = iota(g, "v", SG_SHAPE(3), 0, true);
    sg_tensor *p[4] = {x, x, x, x};

    /* bad axis */
    assert_null(sg_slice(g, x, 2, 0, 1));
    assert_error(g, SG_ERR_AXIS, "slice", "(2, 3)");
    assert_null(sg_slice(g, x, -3, 0, 1));
    assert_error(g, SG_ERR_AXIS, "slice", "(2, 3)");
    assert_null(sg_concat(g, &x, 1, 5));
    assert_error(g, SG_ERR_AXIS, "concat", "(2, 3)");
    assert_int_equal(sg_split(g, x, 2, 1, p), SG_ERR_AXIS);
    assert_null(p[0]);
    assert_error(g, SG_ERR_AXIS, "split", "(2, 3)");

    /* slice past the end, incl. start + len overflowing size_t; empty slice */
    assert_null(sg_slice(g, x, 1, 2, 2));
    assert_error(g, SG_ERR_SHAPE, "slice", "(2, 3)");
    assert_null(sg_slice(g, x, 1, 4, 1));
    assert_error(g, SG_ERR_SHAPE, "slice", "(2, 3)");
    assert_null(sg_slice(g, x, 1, 2, SIZE_MAX));
    assert_error(g, SG_ERR_SHAPE, "slice", "(2, 3)");
    assert_null(sg_slice(g, x, 1, SIZE_MAX, 2));
    assert_error(g, SG_ERR_SHAPE, "slice", "(2, 3)");
    assert_null(sg_slice(g, x, 0, 1, 0));
    assert_error(g, SG_ERR_SHAPE, "slice", "(2, 3)");

    /* concat: mismatched other dims, mismatched ndim, 0-d inputs */
    sg_tensor *y = iota(g, "y", SG_SHAPE(3, 3), 0, true);
    sg_tensor *xy[] = {x, y};
    assert_null(sg_concat(g, xy, 2, 1));
    assert_error(g, SG_ERR_SHAPE, "concat", "(2, 3)");
    sg_tensor *xv[] = {x, v};
    assert_null(sg_concat(g, xv, 2, 0));
    assert_error(g, SG_ERR_SHAPE, "concat", "(2, 3) f64, (3) f64");
    sg_tensor *s = iota(g, "s", SG_SCALAR, 0, true);
    assert_null(sg_concat(g, &s, 1, 0));
    assert_error(g, SG_ERR_SHAPE, "concat", "()");
    assert_null(sg_concat(g, xy, 0, 0));
    assert_int_not_equal(sg_graph_status(g), SG_OK);
    sg_graph_clear_error(g);

    /* split not dividing; sizes not summing (short, long, zero part); no parts */
    p[0] = p[1] = p[2] = x;
    assert_int_equal(sg_split(g, x, 1, 2, p), SG_ERR_SHAPE);
    assert_null(p[0]);
    assert_null(p[1]);
    assert_error(g, SG_ERR_SHAPE, "split", "(2, 3)");
    p[0] = p[1] = p[2] = x;
    assert_int_equal(sg_split_sizes(g, x, -1, (const size_t[]){1, 1}, 2, p), SG_ERR_SHAPE);
    assert_null(p[0]);
    assert_null(p[1]);
    assert_error(g, SG_ERR_SHAPE, "split", "(2, 3)");
    assert_int_equal(sg_split_sizes(g, x, -1, (const size_t[]){2, 2}, 2, p), SG_ERR_SHAPE);
    assert_error(g, SG_ERR_SHAPE, "split", "(2, 3)");
    assert_int_equal(sg_split_sizes(g, x, -1, (const size_t[]){SIZE_MAX, 4}, 2, p), SG_ERR_SHAPE);
    assert_error(g, SG_ERR_SHAPE, "split", "(2, 3)");
    assert_int_equal(sg_split_sizes(g, x, -1, (const size_t[]){3, 0}, 2, p), SG_ERR_SHAPE);
    assert_error(g, SG_ERR_SHAPE, "split", "(2, 3)");
    assert_int_equal(sg_split(g, x, 0, 0, p), SG_ERR_ARG);
    assert_error(g, SG_ERR_ARG, "split", "(2, 3)");
    assert_int_equal(sg_split_sizes(g, x, 0, NULL, 2, p), SG_ERR_ARG);
    assert_error(g, SG_ERR_ARG, "split", "(2, 3)");
    assert_int_equal(sg_split(g, x, 0, 2, NULL), SG_ERR_ARG);
    assert_error(g, SG_ERR_ARG, "split", "(2, 3)");

    /* reshape numel mismatch, a 0 dimension, too many dimensions */
    assert_null(sg_reshape(g, x, SG_SHAPE(4, 2)));
    assert_error(g, SG_ERR_SHAPE, "reshape", "(2, 3)");
    assert_null(sg_reshape(g, x, SG_SHAPE(6, 0)));
    assert_error(g, SG_ERR_SHAPE, "reshape", "(2, 3)");
    assert_null(sg_reshape(g, x, (sg_shape){.ndim = 5, .d = {1, 2, 3, 1}}));
    assert_error(g, SG_ERR_SHAPE, "reshape", "(2, 3)");

    /* transpose of a 1-D tensor */
    assert_null(sg_transpose(g, v));
    assert_error(g, SG_ERR_SHAPE, "transpose", "(3)");

    /* ids are not floats */
    sg_tensor *ids = sg_ids(g, "ids", SG_SHAPE(2, 3), (const int32_t[]){0, 1, 2, 3, 4, 5});
    assert_null(sg_transpose(g, ids));
    assert_error(g, SG_ERR_DTYPE, "transpose", "(2, 3)");

    /* NULL inputs (an earlier failure) give NULL, and split NULL outputs */
    assert_null(sg_slice(g, NULL, 0, 0, 1));
    sg_graph_clear_error(g);
    p[0] = x;
    assert_int_not_equal(sg_split(g, NULL, 0, 1, p), SG_OK);
    assert_null(p[0]);
    assert_true(sg_contains(sg_graph_error(g), "'split'"));
    /* the sticky error: later calls return the first error and NULL outputs */
    sg_status first = sg_graph_status(g);
    p[0] = x;
    assert_int_equal(sg_split(g, x, 0, 1, p), first);
    assert_null(p[0]);
    assert_null(sg_concat(g, &x, 1, 0));
    sg_graph_free(g);
}

/* Errors name the scope too. */
static void test_error_names_scope(void **state)
{
    (void)state;
    sg_graph *g = sg_graph_new(SG_F32);
    sg_tensor *x = iota(g, "x", SG_SHAPE(2, 3), 0, false);
    sg_scope_push(g, "lstm.l%d", 0);
    sg_tensor *p[2];
    assert_int_equal(sg_split(g, x, -1, 2, p), SG_ERR_SHAPE);
    sg_scope_pop(g);
    assert_true(sg_contains(sg_graph_error(g), "lstm.l0"));
    assert_true(sg_contains(sg_graph_error(g), "(2, 3)"));
    sg_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transpose_forward), cmocka_unit_test(test_reshape_forward),
        cmocka_unit_test(test_slice_forward),     cmocka_unit_test(test_concat_forward),
        cmocka_unit_test(test_split_forward),     cmocka_unit_test(test_split_concat_round_trip),
        cmocka_unit_test(test_gradients_by_hand), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_error_names_scope),
    };
    return cmocka_run_group_tests_name("ops_shape", tests, NULL, NULL);
}
