/* test_graph.c — the tape and reverse pass: values and gradients of small
 * graphs against closed forms, fan-out and accumulation over time steps,
 * detach, no-grad, seeds, repeated backward, sticky errors, anomaly mode,
 * scopes, out-of-memory, and a long tape. */
#include "sg_test.h"

#include "graph/core/sg_alloc.h"
#include "graph/core/sg_alloc_testing.h"
#include "graph/core/sg_graph_hooks.h"

static sg_graph *g_new(sg_dtype t)
{
    sg_graph *g = sg_graph_new(t);
    assert_non_null(g);
    return g;
}

/* Two steps of an LSTM-like recurrence in f32 through every assigning op
 * (unary, binary with and without broadcasting, x op x, reshape, concat,
 * cross-entropy with an ignored row) and the ones that accumulate (addmm,
 * split, matmul): the inputs' and the weights' gradients with fresh
 * (unzeroed, assigned) gradients are the bytes of the run that zeroes every
 * gradient first. */
static void fresh_grads_run(bool zeroed, float *out, size_t n_out)
{
    enum { B = 3, H = 5, D = 4 };
    sg_graph *g = g_new(SG_F32);
    sg_graph_set_zeroed_grads(g, zeroed);
    /* a first step fills the arena with values, so that the measured step's
     * unzeroed gradients start as garbage, not as the fresh pages' zeros */
    static double big[4096];
    for (size_t e = 0; e < 4096; e++)
        big[e] = 1e30 * (double)(e % 7 + 1);
    sg_tensor *junk = sg_input_f64(g, "junk", SG_SHAPE(4096), big, true);
    assert_int_equal(sg_backward(g, sg_sum_all(g, sg_tanh(g, sg_scale(g, junk, 3.0)))), SG_OK);
    sg_graph_reset(g);
    sg_rng rng;
    sg_rng_seed(&rng, 11);
    double v[4 * H * (D + H)];
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        v[i] = sg_rng_range(&rng, -1.0, 1.0);
    sg_tensor *W = sg_input_f64(g, "W", SG_SHAPE(D + H, 4 * H), v, true);
    sg_tensor *bias = sg_input_f64(g, "b", SG_SHAPE(4 * H), v + 7, true);
    sg_tensor *x = sg_input_f64(g, "x", SG_SHAPE(2, B, D), v + 3, true);
    sg_tensor *h = sg_scale(g, sg_input_f64(g, "h0", SG_SHAPE(B, H), v + 11, true), 0.5);
    sg_tensor *c = sg_tanh(g, sg_input_f64(g, "c0", SG_SHAPE(B, H), v + 5, true));
    for (size_t t = 0; t < 2; t++) {
        sg_tensor *xt = sg_reshape(g, sg_slice(g, x, 0, t, 1), SG_SHAPE(B, D));
        sg_tensor *in[2] = {xt, h}, *gate[4];
        sg_tensor *z = sg_addmm(g, sg_concat(g, in, 2, 1), W, bias, false); /* (B, 4H) */
        assert_int_equal(sg_split(g, z, 1, 4, gate), SG_OK);
        sg_tensor *i = sg_sigmoid(g, gate[0]), *f = sg_sigmoid(g, gate[1]), *o = sg_log_sigmoid(g, gate[2]);
        c = sg_add(g, sg_hadamard(g, f, c), sg_hadamard(g, i, sg_tanh(g, gate[3])));
        h = sg_hadamard(g, sg_exp(g, o), sg_softplus(g, c));
        h = sg_sub(g, h, sg_hadamard(g, h, h));                                      /* x op x */
        h = sg_add(g, h, sg_reshape(g, sg_slice(g, bias, 0, 0, H), SG_SHAPE(1, H))); /* broadcast */
    }
    /* cross-entropy over the rows of h, the middle one ignored: its logits'
     * gradient is fresh, and the ignored row must be written as zeros */
    int32_t target[B] = {1, SG_IGNORE_TARGET, 4};
    sg_tensor *ce = sg_cross_entropy(g, sg_scale(g, h, 2.0), sg_ids(g, "t", SG_SHAPE(B), target), SG_REDUCE_MEAN);
    sg_tensor *loss = sg_add(g, sg_sum_all(g, sg_matmul_t(g, h, h, false, true)), ce);
    SG_ASSERT_GRAPH_OK(g);
    assert_int_equal(sg_backward(g, loss), SG_OK);
    sg_tensor *leaves[5] = {W, bias, x};
    size_t at = 0;
    for (size_t k = 0; k < 3; k++)
        for (size_t e = 0; e < leaves[k]->numel && at < n_out; e++)
            out[at++] = (float)sg_tensor_grad_get(leaves[k], e);
    assert_int_equal(at, n_out);
    sg_graph_free(g);
}

static void test_fresh_grads_same_bytes(void **state)
{
    (void)state;
    enum { N = 9 * 20 + 20 + 2 * 3 * 4 };
    float fresh[N], zeroed[N];
    fresh_grads_run(false, fresh, N);
    fresh_grads_run(true, zeroed, N);
    assert_memory_equal(fresh, zeroed, sizeof fresh);
    float sum = 0;
    for (size_t i = 0; i < N; i++)
        sum += fabsf(fresh[i]);
    assert_true(sum > 0.1f); /* gradients reached every leaf */
}

/* d/dx tanh(sigmoid(x)) = (1 - tanh^2(s)) s (1 - s), s = sigmoid(x). */
static void test_chain_rule(void **state)
{
    (void)state;
    sg_graph *g = g_new(SG_F64);
    double xv[3] = {-1.5, 0.25, 2.0};
    sg_tensor *x = sg_input_f64(g, "x", SG_SHAPE(3), xv, true);
    sg_tensor *y = sg_sum_all(g, sg_tanh(g, sg_sigmoid(g, x)));
    SG_ASSERT_GRAPH_OK(g);
    assert_int_equal(sg_backward(g, y), SG_OK);
    double expect_y = 0;
    for (int i = 0; i < 3; i++) {
        double s = 1 / (1 + exp(-xv[i])), t = tanh(s);
        expect_y += t;
        SG_ASSERT_NEAR(sg_tensor_grad_get(x, (size_t)i), (1 - t * t) * s * (1 - s), 1e-14);
    }
    SG_ASSERT_NEAR(sg_tensor_get(y, 0), expect_y, 1e-14);
    sg_graph_free(g);
}

/* y = x*x + 3x (x used three times): dy/dx = 2x + 3 — fan-out adds up. */
static void test_fan_out(void **state)
{
    (void)state;
    sg_graph *g = g_new(SG_F64);
    double xv[2] = {0.5, -2.0};
    sg_tensor *x = sg_input_f64(g, "x", SG_SHAPE(2), xv, true);
    sg_tensor *y = sg_sum_all(g, sg_add(g, sg_hadamard(g, x, x), sg_scale(g, x, 3.0)));
    assert_int_equal(sg_backward(g, y), SG_OK);
    SG_ASSERT_NEAR(sg_tensor_grad_get(x, 0), 2 * 0.5 + 3, 1e-14);
    SG_ASSERT_NEAR(sg_tensor_grad_get(x, 1), 2 * -2.0 + 3, 1e-14);
    sg_graph_free(g);
}

/* A parameter used at T time steps: h_t = w * h_{t-1}, h_0 = 1, L = h_T = w^T;
 * dL/dw = T w^(T-1): the sum over time steps, which is what BPTT must give. */
static void test_parameter_over_time(void **state)
{
    (void)state;
    sg_params *ps = sg_params_new(SG_F64);
    sg_param *w = sg_params_add(ps, "w", SG_SHAPE(1, 1));
    sg_param_set(w, 0, 0.9);
    sg_graph *g = g_new(SG_F64);
    sg_tensor *h = sg_const_fill(g, "h0", SG_SHAPE(1, 1), 1.0);
    const int T = 12;
    for (int t = 0; t < T; t++) {
        sg_scope_push(g, "t%d", t);
        h = sg_matmul(g, h, sg_param_use(g, w));
        sg_scope_pop(g);
    }
    SG_ASSERT_GRAPH_OK(g);
    assert_int_equal(sg_backward(g, sg_sum_all(g, h)), SG_OK);
    SG_ASSERT_NEAR(sg_tensor_get(h, 0), pow(0.9, T), 1e-14);
    SG_ASSERT_NEAR(sg_param_grad_get(w, 0), T * pow(0.9, T - 1), 1e-13);
    /* the parameter is one leaf on the tape however often it is used */
    size_t n_param_leaves = 0;
    for (size_t i = 0; i < sg_graph_tape_len(g); i++)
        n_param_leaves += sg_graph_tape_at(g, i)->kind == SG_KIND_PARAM;
    assert_int_equal(n_param_leaves, 1);
    /* a second backward accumulates into the parameter (like PyTorch) */
    sg_graph_reset(g);
    h = sg_const_fill(g, "h0", SG_SHAPE(1, 1), 1.0);
    for (int t = 0; t < T; t++)
        h = sg_matmul(g, h, sg_param_use(g, w));
    sg_tensor *L = sg_sum_all(g, h);
    assert_int_equal(sg_backward(g, L), SG_OK);
    SG_ASSERT_NEAR(sg_param_grad_get(w, 0), 2 * T * pow(0.9, T - 1), 1e-13);
    /* ... and zeroing clears it */
    sg_params_zero_grad(ps);
    assert_true(sg_param_grad_get(w, 0) == 0.0);
    /* backward twice on the same tape: op-node gradients restart, leaves add up */
    assert_int_equal(sg_backward(g, L), SG_OK);
    assert_int_equal(sg_backward(g, L), SG_OK);
    SG_ASSERT_NEAR(sg_param_grad_get(w, 0), 2 * T * pow(0.9, T - 1), 1e-13);
    sg_graph_free(g);
    sg_params_free(ps);
}

/* detach stops the gradient: y = x * detach(x) -> dy/dx = x, not 2x. */
static void test_detach(void **state)
{
    (void)state;
    sg_graph *g = g_new(SG_F64);
    double xv[1] = {3.0};
    sg_tensor *x = sg_input_f64(g, "x", SG_SCALAR, xv, true);
    sg_tensor *d = sg_detach(g, x);
    assert_false(d->requires_grad);
    sg_tensor *y = sg_hadamard(g, x, d);
    assert_int_equal(sg_backward(g, y), SG_OK);
    SG_ASSERT_NEAR(sg_tensor_grad_get(x, 0), 3.0, 0);
    assert_null(d->grad);
    sg_graph_free(g);
}

/* No-grad: values computed, nothing recorded, backward refused. */
static void test_no_grad(void **state)
{
    (void)state;
    sg_graph *g = g_new(SG_F32);
    sg_graph_set_grad_enabled(g, false);
    float xv[2] = {1, 2};
    sg_tensor *x = sg_input_f32(g, "x", SG_SHAPE(2), xv, true);
    sg_tensor *y = sg_sum_all(g, sg_exp(g, x));
    SG_ASSERT_GRAPH_OK(g);
    assert_int_equal(sg_graph_tape_len(g), 0);
    assert_false(y->requires_grad);
    SG_ASSERT_NEAR(sg_tensor_get(y, 0), exp(1.0) + exp(2.0), 1e-5);
    assert_int_not_equal(sg_backward(g, y), SG_OK);
    assert_true(sg_contains(sg_graph_error(g), "not recorded"));
    sg_graph_set_grad_enabled(g, true);
    sg_graph_free(g);
}

/* Backward from a non-scalar output with a seed: grad = seed * dy/dx. */
static void test_seed(void **state)
{
    (void)state;
    sg_graph *g = g_new(SG_F64);
    double xv[3] = {0.1, 0.2, 0.3}, seed[3] = {1.0, -2.0, 0.5};
    sg_tensor *x = sg_input_f64(g, "x", SG_SHAPE(3), xv, true);
    sg_tensor *y = sg_exp(g, x);
    assert_int_equal(sg_backward_seed(g, y, seed), SG_OK);
    for (int i = 0; i < 3; i++)
        SG_ASSERT_NEAR(sg_tensor_grad_get(x, (size_t)i), seed[i] * exp(xv[i]), 1e-15);
    /* backward() itself insists on a single element */
    assert_int_not_equal(sg_backward(g, y), SG_OK);
    assert_true(sg_contains(sg_graph_error(g), "single element"));
    sg_graph_free(g);
}

/* The first error sticks and names op, scope and shapes; later ops return
 * NULL; reset clears it. */
static void test_sticky_error(void **state)
{
    (void)state;
    sg_graph *g = g_new(SG_F32);
    sg_tensor *a = sg_const_fill(g, "a", SG_SHAPE(2, 3), 1.0);
    sg_tensor *b = sg_const_fill(g, "b", SG_SHAPE(4, 5), 1.0);
    sg_scope_push(g, "enc");
    sg_scope_push(g, "t%d", 7);
    sg_tensor *c = sg_matmul(g, a, b);
    assert_null(c);
    assert_int_equal(sg_graph_status(g), SG_ERR_SHAPE);
    const char *msg = sg_graph_error(g);
    assert_true(sg_contains(msg, "matmul"));
    assert_true(sg_contains(msg, "enc/t7"));
    assert_true(sg_contains(msg, "(2, 3)"));
    assert_true(sg_contains(msg, "(4, 5)"));
    /* a chain after the error returns NULL without touching the message */
    assert_null(sg_tanh(g, sg_add(g, c, a)));
    assert_true(sg_contains(sg_graph_error(g), "matmul"));
    sg_graph_reset(g);
    assert_int_equal(sg_graph_status(g), SG_OK);
    assert_string_equal(sg_graph_error(g), "");
    /* a NULL input is an argument error, not a crash */
    assert_null(sg_tanh(g, NULL));
    assert_int_equal(sg_graph_status(g), SG_ERR_ARG);
    sg_graph_free(g);
}

/* Anomaly mode names the first op producing NaN/Inf, forward and backward. */
static void test_anomaly(void **state)
{
    (void)state;
    sg_graph *g = g_new(SG_F64);
    sg_graph_set_anomaly(g, true);
    double xv[2] = {1.0, -1.0};
    sg_scope_push(g, "cell");
    sg_tensor *x = sg_input_f64(g, "x", SG_SHAPE(2), xv, true);
    sg_tensor *y = sg_log(g, sg_exp(g, x)); /* fine */
    SG_ASSERT_GRAPH_OK(g);
    sg_tensor *z = sg_log(g, x); /* log(-1) = NaN */
    assert_null(z);
    assert_int_equal(sg_graph_status(g), SG_ERR_NONFINITE);
    assert_true(sg_contains(sg_graph_error(g), "'log'"));
    assert_true(sg_contains(sg_graph_error(g), "cell"));
    assert_true(sg_contains(sg_graph_error(g), "forward"));
    /* backward: a NaN seed makes the last op's VJP produce NaN */
    sg_graph_reset(g);
    x = sg_input_f64(g, "x", SG_SHAPE(2), xv, true);
    y = sg_tanh(g, sg_exp(g, x));
    double seed[2] = {NAN, 1.0};
    assert_int_equal(sg_backward_seed(g, y, seed), SG_ERR_NONFINITE);
    assert_true(sg_contains(sg_graph_error(g), "backward of op 'tanh'"));
    sg_graph_free(g);
}

static void test_scopes(void **state)
{
    (void)state;
    sg_graph *g = g_new(SG_F32);
    sg_params *ps = sg_params_new(SG_F32);
    sg_param *w = sg_params_add(ps, "w", SG_SHAPE(2));
    sg_scope_push(g, "lstm.l%d", 0);
    sg_scope_push(g, "t%d", 3);
    sg_tensor *x = sg_const_fill(g, "x", SG_SHAPE(2), 0.5);
    sg_tensor *y = sg_hadamard(g, x, sg_param_use(g, w));
    char path[64];
    assert_string_equal(sg_scope_path(y->scope, path, sizeof path), "lstm.l0/t3");
    assert_int_equal(sg_scope_depth(y->scope), 2);
    assert_string_equal(sg_scope_name(sg_scope_at_depth(y->scope, 1)), "lstm.l0");
    assert_null(w->leaf->scope); /* parameters live outside scopes */
    sg_scope_pop(g);
    sg_scope_pop(g);
    assert_null(sg_scope_current(g));
    sg_scope_pop(g); /* one pop too many is an error, not a crash */
    assert_int_equal(sg_graph_status(g), SG_ERR_STATE);
    /* a too-small buffer truncates safely */
    char small[4];
    sg_scope_path(y->scope, small, sizeof small);
    assert_true(strlen(small) < sizeof small);
    sg_graph_free(g);
    sg_params_free(ps);
}

/* Out of memory anywhere in a step is an error, never a crash. */
static void test_out_of_memory(void **state)
{
    (void)state;
    for (long n = 0; n < 6; n++) {
        sg_graph *g = sg_graph_new(SG_F32);
        if (!g)
            continue; /* the graph itself could not be made: NULL, fine */
        sg_alloc_fail_after(n);
        sg_tensor *x = sg_const_fill(g, "x", SG_SHAPE(300, 300), 1.0);
        sg_tensor *y = sg_tanh(g, sg_matmul(g, x, x));
        sg_alloc_fail_after(-1);
        if (!y)
            assert_int_equal(sg_graph_status(g), SG_ERR_NOMEM);
        sg_graph_free(g);
    }
    /* the very first allocation failing: sg_graph_new returns NULL */
    sg_alloc_fail_after(0);
    sg_graph *g = sg_graph_new(SG_F32);
    sg_alloc_fail_after(-1);
    assert_null(g);
}

/* No fixed limits: a 2-layer LSTM unrolled over 200 steps, written with op
 * calls (concat, matmul, split, sigmoid, tanh, hadamard), records over 6000
 * nodes and back-propagates (the reverse pass is a loop, not recursion),
 * twice, the second time in the reused arena. */
static sg_tensor *lstm_step(sg_graph *g, sg_param *W, sg_param *b, sg_tensor *x, sg_tensor **h, sg_tensor **c)
{
    sg_tensor *xh[2] = {x, *h};
    sg_tensor *pre = sg_add(g, sg_matmul(g, sg_concat(g, xh, 2, 1), sg_param_use(g, W)), sg_param_use(g, b));
    sg_tensor *gates[4];
    if (sg_split(g, pre, 1, 4, gates) != SG_OK) /* (B, 4H) -> 4 x (B, H) */
        return NULL;
    sg_tensor *i = sg_sigmoid(g, gates[0]), *f = sg_sigmoid(g, gates[1]);
    sg_tensor *o = sg_sigmoid(g, gates[2]), *u = sg_tanh(g, gates[3]);
    *c = sg_add(g, sg_hadamard(g, f, *c), sg_hadamard(g, i, u));
    *h = sg_hadamard(g, o, sg_tanh(g, *c));
    return *h;
}

static void test_long_tape(void **state)
{
    (void)state;
    enum { B = 4, H = 8, T = 200 };
    sg_params *ps = sg_params_new(SG_F32);
    sg_param *W0 = sg_params_add(ps, "l0.W", SG_SHAPE(2 * H, 4 * H)), *b0 = sg_params_add(ps, "l0.b", SG_SHAPE(4 * H));
    sg_param *W1 = sg_params_add(ps, "l1.W", SG_SHAPE(2 * H, 4 * H)), *b1 = sg_params_add(ps, "l1.b", SG_SHAPE(4 * H));
    sg_rng rng;
    sg_rng_seed(&rng, 5);
    for (size_t k = 0; k < W0->numel; k++) {
        sg_param_set(W0, k, sg_rng_range(&rng, -0.3, 0.3));
        sg_param_set(W1, k, sg_rng_range(&rng, -0.3, 0.3));
    }
    sg_graph *g = g_new(SG_F32);
    float xs[B * H];
    for (int rep = 0; rep < 2; rep++) {
        sg_graph_reset(g);
        sg_params_zero_grad(ps);
        sg_tensor *h0 = sg_const_fill(g, "h", SG_SHAPE(B, H), 0.0), *c0 = h0, *h1 = h0, *c1 = h0;
        for (int t = 0; t < T; t++) {
            for (int k = 0; k < B * H; k++)
                xs[k] = (float)sin(0.1 * t + k);
            sg_scope_push(g, "lstm.l0/t%d", t);
            lstm_step(g, W0, b0, sg_input_f32(g, "x", SG_SHAPE(B, H), xs, false), &h0, &c0);
            sg_scope_pop(g);
            sg_scope_push(g, "lstm.l1/t%d", t);
            lstm_step(g, W1, b1, h0, &h1, &c1);
            sg_scope_pop(g);
        }
        sg_tensor *L = sg_sum_all(g, h1);
        SG_ASSERT_GRAPH_OK(g);
        assert_true(sg_graph_tape_len(g) > 6000); /* ~33 nodes per step */
        assert_int_equal(sg_backward(g, L), SG_OK);
        /* the gradient reached the first layer through all 200 steps */
        double n0 = 0;
        for (size_t k = 0; k < W0->numel; k++)
            n0 += fabs(sg_param_grad_get(W0, k));
        assert_true(isfinite(n0) && n0 > 0);
    }
    sg_graph_free(g);
    sg_params_free(ps);
}

/* Steps that outgrow the arena's first block leave a chain; the next reset
 * trades it for one block of the largest step's size (plus an eighth), after
 * which steps of that size or smaller take nothing from the heap. */
static void test_arena_becomes_one_block(void **state)
{
    (void)state;
    sg_graph *g = sg_graph_new(SG_F32);
    assert_non_null(g);
    size_t largest = 0;
    for (size_t step = 0; step < 3; step++) { /* growing steps: 3, 4, 5 MiB requests */
        sg_graph_reset(g);
        for (int i = 0; i < 6; i++)
            assert_non_null(sg_graph_alloc(g, (3 + step) << 20));
        largest = sg_graph_arena_used(g);
    }
    sg_graph_reset(g);
    size_t reserved = sg_graph_arena_reserved(g);
    assert_true(reserved >= largest && reserved <= largest + largest / 8 + 64);
    size_t before = sg_alloc_count();
    for (int step = 0; step < 4; step++) {
        sg_graph_reset(g);
        for (int i = 0; i < 6; i++) /* smaller and equal requests, in another order */
            assert_non_null(sg_graph_alloc(g, (size_t)(step % 2 ? 5 : 2 + i % 4) << 20));
    }
    assert_int_equal(sg_alloc_count() - before, 0);
    assert_int_equal(sg_graph_arena_reserved(g), reserved);
    sg_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chain_rule),
        cmocka_unit_test(test_fan_out),
        cmocka_unit_test(test_parameter_over_time),
        cmocka_unit_test(test_detach),
        cmocka_unit_test(test_no_grad),
        cmocka_unit_test(test_seed),
        cmocka_unit_test(test_sticky_error),
        cmocka_unit_test(test_fresh_grads_same_bytes),
        cmocka_unit_test(test_anomaly),
        cmocka_unit_test(test_scopes),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_long_tape),
        cmocka_unit_test(test_arena_becomes_one_block),
    };
    return cmocka_run_group_tests_name("graph", tests, NULL, NULL);
}
