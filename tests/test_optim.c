/* test_optim.c — optimizers, gradient clipping, lr schedule and initializers
 * (graph/sg_optim.h, graph/sg_init.h).  Gradients are written straight into
 * p->grad: no graph is needed to test an update rule. */
#include "sg_test.h"

#include "graph/core/sg_alloc_testing.h"
#include "graph/core/sg_init.h"
#include "graph/optim/sg_optim.h"

/* A set of dtype dt with one parameter "w" of n elements holding w0[i]. */
static sg_params *make_set(sg_dtype dt, size_t n, const double *w0, sg_param **out)
{
    sg_params *ps = sg_params_new(dt);
    assert_non_null(ps);
    sg_param *p = sg_params_add(ps, "w", SG_SHAPE(n));
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        sg_param_set(p, i, w0[i]);
    *out = p;
    return ps;
}

static void set_grad(sg_param *p, size_t i, double g)
{
    if (p->dtype == SG_F32)
        ((float *)p->grad)[i] = (float)g;
    else
        ((double *)p->grad)[i] = g;
}

/* ---- SGD ------------------------------------------------------------------ */

static void test_sgd_plain_matches_hand(void **state)
{
    (void)state;
    const double w0[3] = {1.0, -2.0, 0.5}, g[3] = {0.1, 0.2, -0.3};
    const double lr = 0.1, wd = 0.01;
    sg_param *p;
    sg_params *ps = make_set(SG_F64, 3, w0, &p);
    for (size_t i = 0; i < 3; i++)
        set_grad(p, i, g[i]);
    sg_optim opt;
    assert_int_equal(sg_optim_init_sgd(&opt, &(sg_sgd_config){.lr = lr, .momentum = 0, .weight_decay = wd}), SG_OK);
    assert_int_equal(sg_optim_step(&opt, ps), SG_OK);
    for (size_t i = 0; i < 3; i++) {
        SG_ASSERT_NEAR(sg_param_get(p, i), w0[i] - lr * (g[i] + wd * w0[i]), 1e-15);
        assert_true(sg_param_grad_get(p, i) == g[i]); /* grads are not touched */
    }
    assert_null(p->m); /* plain SGD keeps no state */
    /* literal check of element 0: 1 - 0.1 * (0.1 + 0.01) = 0.989 */
    SG_ASSERT_NEAR(sg_param_get(p, 0), 0.989, 1e-15);
    sg_params_free(ps);
}

static void test_sgd_momentum_two_steps(void **state)
{
    (void)state;
    for (int d = 0; d < 2; d++) {
        sg_dtype dt = d ? SG_F32 : SG_F64;
        double tol = d ? 1e-6 : 1e-15;
        const double w0 = 1.0;
        sg_param *p;
        sg_params *ps = make_set(dt, 1, &w0, &p);
        sg_optim opt;
        assert_int_equal(sg_optim_init_sgd(&opt, &(sg_sgd_config){.lr = 0.1, .momentum = 0.9}), SG_OK);
        /* step 1: g = 0.5 -> m = 0.5, w = 1 - 0.1 * 0.5 = 0.95 */
        set_grad(p, 0, 0.5);
        assert_int_equal(sg_optim_step(&opt, ps), SG_OK);
        SG_ASSERT_NEAR(sg_param_get(p, 0), 0.95, tol);
        /* step 2: g = 0.25 -> m = 0.9 * 0.5 + 0.25 = 0.7, w = 0.95 - 0.07 = 0.88 */
        set_grad(p, 0, 0.25);
        assert_int_equal(sg_optim_step(&opt, ps), SG_OK);
        SG_ASSERT_NEAR(sg_param_get(p, 0), 0.88, tol);
        double m = dt == SG_F32 ? ((float *)p->m)[0] : ((double *)p->m)[0];
        SG_ASSERT_NEAR(m, 0.7, tol);
        sg_params_free(ps);
    }
}

/* ---- Adam ----------------------------------------------------------------- */

/* Two Adam steps (lr 0.1, default betas/eps) on w0 = {1, -0.5} with grads
 * {2, -0.5} then {-1, 0.3}; writes the values after each step. */
static void adam_two_steps(sg_dtype dt, double after[2][2])
{
    const double w0[2] = {1.0, -0.5}, g[2][2] = {{2.0, -0.5}, {-1.0, 0.3}};
    sg_param *p;
    sg_params *ps = make_set(dt, 2, w0, &p);
    sg_optim opt;
    sg_adam_config c = sg_adam_defaults();
    c.lr = 0.1;
    assert_int_equal(sg_optim_init_adam(&opt, &c), SG_OK);
    for (int s = 0; s < 2; s++) {
        for (size_t i = 0; i < 2; i++)
            set_grad(p, i, g[s][i]);
        assert_int_equal(sg_optim_step(&opt, ps), SG_OK);
        for (size_t i = 0; i < 2; i++)
            after[s][i] = sg_param_get(p, i);
    }
    assert_int_equal(opt.t, 2);
    sg_params_free(ps);
}

static void test_adam_two_steps_by_hand(void **state)
{
    (void)state;
    /* Hand computation, element 0 (w0 = 1, b1 = 0.9, b2 = 0.999, eps = 1e-8):
     *   t=1, g=2:  m = 0.2, v = 0.004, mhat = 2, vhat = 4,
     *              w = 1 - 0.1 * 2 / (2 + 1e-8)            = 0.9000000005
     *   t=2, g=-1: m = 0.18 - 0.1 = 0.08, v = 0.003996 + 0.001 = 0.004996,
     *              mhat = 0.08 / 0.19, vhat = 0.004996 / 0.001999,
     *              w = 0.9000000005 - 0.1 * mhat / (sqrt(vhat) + 1e-8)
     *                                                         = 0.8733662967024315
     * Element 1 (w0 = -0.5, g = -0.5 then 0.3): -0.400000002, -0.3808501989417752. */
    const double expect[2][2] = {{0.9000000005, -0.40000000199999997}, {0.8733662967024315, -0.3808501989417752}};
    double a64[2][2], a32[2][2];
    adam_two_steps(SG_F64, a64);
    adam_two_steps(SG_F32, a32);
    for (int s = 0; s < 2; s++)
        for (int i = 0; i < 2; i++) {
            SG_ASSERT_NEAR(a64[s][i], expect[s][i], 1e-13);
            SG_ASSERT_NEAR(a32[s][i], a64[s][i], 1e-6);
        }
}

/* Adam on f(w) = 0.5 * sum c_i (w_i - target_i)^2, grad = c * (w - target). */
static void test_adam_minimizes_quadratic(void **state)
{
    (void)state;
    const double target[4] = {3.0, -1.5, 0.25, 10.0}, curv[4] = {1.0, 4.0, 0.5, 2.0};
    const double w0[4] = {0.0, 0.0, 0.0, 0.0};
    for (int d = 0; d < 2; d++) {
        sg_param *p;
        sg_params *ps = make_set(d ? SG_F32 : SG_F64, 4, w0, &p);
        sg_optim opt;
        sg_adam_config c = sg_adam_defaults();
        c.lr = 0.1;
        assert_int_equal(sg_optim_init_adam(&opt, &c), SG_OK);
        int steps = 0;
        for (; steps < 400; steps++) {
            sg_params_zero_grad(ps);
            for (size_t i = 0; i < 4; i++)
                set_grad(p, i, curv[i] * (sg_param_get(p, i) - target[i]));
            assert_int_equal(sg_optim_step(&opt, ps), SG_OK);
        }
        double worst = 0;
        for (size_t i = 0; i < 4; i++)
            worst = fmax(worst, fabs(sg_param_get(p, i) - target[i]));
        print_message("  adam quadratic (%s): max |w - target| = %.3g after %d steps\n", d ? "f32" : "f64", worst,
                      steps);
        assert_true(worst < 1e-3);
        sg_params_free(ps);
    }
}

static void test_adam_weight_decay_is_l2_in_gradient(void **state)
{
    (void)state;
    /* zero grad, wd 0.5, w0 = 2: g = 1, so the first step is w = 2 - lr * 1/(1 + eps) */
    const double w0 = 2.0;
    sg_param *p;
    sg_params *ps = make_set(SG_F64, 1, &w0, &p);
    sg_optim opt;
    sg_adam_config c = sg_adam_defaults();
    c.lr = 0.01;
    c.weight_decay = 0.5;
    assert_int_equal(sg_optim_init_adam(&opt, &c), SG_OK);
    assert_int_equal(sg_optim_step(&opt, ps), SG_OK);
    SG_ASSERT_NEAR(sg_param_get(p, 0), 2.0 - 0.01 * 1.0 / (1.0 + 1e-8), 1e-15);
    assert_true(sg_param_grad_get(p, 0) == 0.0);
    sg_params_free(ps);
}

static void test_no_allocation_after_first_step(void **state)
{
    (void)state;
    sg_params *ps = sg_params_new(SG_F32);
    assert_non_null(ps);
    sg_param *a = sg_params_add(ps, "a", SG_SHAPE(8, 5));
    sg_param *b = sg_params_add(ps, "b", SG_SHAPE(5));
    assert_non_null(a);
    assert_non_null(b);
    sg_rng r;
    sg_rng_seed(&r, 7);
    assert_int_equal(sg_params_init_uniform(ps, &r, -0.1, 0.1), SG_OK);
    sg_optim adam, sgd;
    sg_adam_config c = sg_adam_defaults();
    c.weight_decay = 1e-4;
    assert_int_equal(sg_optim_init_adam(&adam, &c), SG_OK);
    assert_int_equal(sg_optim_init_sgd(&sgd, &(sg_sgd_config){.lr = 0.1, .momentum = 0.9}), SG_OK);
    for (size_t i = 0; i < a->numel; i++)
        set_grad(a, i, 0.01 * (double)i - 0.2);
    for (size_t i = 0; i < b->numel; i++)
        set_grad(b, i, 0.3);

    size_t before = sg_alloc_count();
    assert_int_equal(sg_optim_step(&adam, ps), SG_OK); /* allocates m and v */
    assert_true(sg_alloc_count() > before);
    assert_non_null(a->m);
    assert_non_null(a->v);
    before = sg_alloc_count();
    for (int s = 0; s < 10; s++) {
        sg_params_clip_grad_norm(ps, 0.5);
        assert_int_equal(sg_optim_step(&adam, ps), SG_OK);
    }
    assert_int_equal(sg_alloc_count(), before);
    /* momentum SGD reuses p->m: no allocation at all */
    for (int s = 0; s < 10; s++)
        assert_int_equal(sg_optim_step(&sgd, ps), SG_OK);
    assert_int_equal(sg_alloc_count(), before);
    sg_params_free(ps); /* frees m and v: ASan reports a leak otherwise */
}

static void test_out_of_memory_changes_nothing(void **state)
{
    (void)state;
    const double w0[2] = {1.0, 2.0};
    for (long k = 0; k <= 4; k++) { /* fail each of the four moment allocations; k = 4: none fails */
        sg_param *p;
        sg_params *ps = make_set(SG_F64, 2, w0, &p);
        sg_param *q = sg_params_add(ps, "q", SG_SHAPE(3));
        assert_non_null(q);
        set_grad(p, 0, 1.0);
        set_grad(p, 1, 1.0);
        sg_optim opt;
        sg_adam_config c = sg_adam_defaults();
        assert_int_equal(sg_optim_init_adam(&opt, &c), SG_OK);
        sg_alloc_fail_after(k);
        sg_status st = sg_optim_step(&opt, ps);
        sg_alloc_fail_after(-1);
        if (k < 4) {
            assert_int_equal(st, SG_ERR_NOMEM);
            assert_true(sg_param_get(p, 0) == 1.0 && sg_param_get(p, 1) == 2.0);
            assert_int_equal(opt.t, 0);
            /* a retry with memory available completes the state and steps */
            assert_int_equal(sg_optim_step(&opt, ps), SG_OK);
        } else {
            assert_int_equal(st, SG_OK);
        }
        assert_int_equal(opt.t, 1);
        assert_true(sg_param_get(p, 0) < 1.0);
        sg_params_free(ps); /* frees partly made state too (ASan: no leak) */
    }
}

static void test_bad_config_is_arg_error(void **state)
{
    (void)state;
    sg_optim opt;
    const double nan = NAN;
    assert_int_equal(sg_optim_init_sgd(&opt, &(sg_sgd_config){.lr = -1}), SG_ERR_ARG);
    assert_int_equal(sg_optim_init_sgd(&opt, &(sg_sgd_config){.lr = nan}), SG_ERR_ARG);
    assert_int_equal(sg_optim_init_sgd(&opt, &(sg_sgd_config){.lr = 1, .momentum = 1.0}), SG_ERR_ARG);
    assert_int_equal(sg_optim_init_sgd(&opt, &(sg_sgd_config){.lr = 1, .weight_decay = -0.1}), SG_ERR_ARG);
    assert_int_equal(sg_optim_init_sgd(NULL, &(sg_sgd_config){.lr = 1}), SG_ERR_ARG);
    assert_int_equal(sg_optim_init_sgd(&opt, NULL), SG_ERR_ARG);
    sg_adam_config c = sg_adam_defaults();
    c.beta1 = 1.0;
    assert_int_equal(sg_optim_init_adam(&opt, &c), SG_ERR_ARG);
    c = sg_adam_defaults();
    c.beta2 = -0.1;
    assert_int_equal(sg_optim_init_adam(&opt, &c), SG_ERR_ARG);
    c = sg_adam_defaults();
    c.eps = 0;
    assert_int_equal(sg_optim_init_adam(&opt, &c), SG_ERR_ARG);
    c = sg_adam_defaults();
    c.lr = INFINITY;
    assert_int_equal(sg_optim_init_adam(&opt, &c), SG_ERR_ARG);

    assert_int_equal(sg_optim_init_adam(&opt, &(sg_adam_config){.lr = 0.1, .beta1 = 0.9, .beta2 = 0.99, .eps = 1e-8}),
                     SG_OK);
    assert_int_equal(sg_optim_set_lr(&opt, -0.5), SG_ERR_ARG);
    assert_int_equal(sg_optim_set_schedule(&opt, 0.0, 4), SG_ERR_ARG);
    assert_int_equal(sg_optim_set_schedule(&opt, 0.5, -1), SG_ERR_ARG);
    assert_int_equal(sg_optim_step(&opt, NULL), SG_ERR_ARG);
    assert_int_equal(sg_optim_step(NULL, NULL), SG_ERR_ARG);
    opt.kind = (sg_optim_kind)42; /* a corrupted optimizer is refused, not run */
    sg_params *ps = sg_params_new(SG_F64);
    assert_int_equal(sg_optim_step(&opt, ps), SG_ERR_ARG);
    sg_params_free(ps);

    sg_param *p;
    const double w0 = 1;
    ps = make_set(SG_F64, 1, &w0, &p);
    sg_rng r;
    sg_rng_seed(&r, 1);
    assert_int_equal(sg_init_uniform(p, &r, 1.0, -1.0), SG_ERR_ARG);
    assert_int_equal(sg_init_uniform(p, &r, -INFINITY, 1.0), SG_ERR_ARG);
    assert_int_equal(sg_init_normal(p, &r, 0.0, -1.0), SG_ERR_ARG);
    assert_int_equal(sg_init_uniform(p, NULL, 0, 1), SG_ERR_ARG);
    assert_int_equal(sg_init_xavier_uniform(NULL, &r), SG_ERR_ARG);
    assert_true(sg_param_get(p, 0) == 1.0); /* untouched by the refused calls */
    sg_params_free(ps);
}

/* ---- clipping ------------------------------------------------------------- */

static void test_clip_grad_norm(void **state)
{
    (void)state;
    for (int d = 0; d < 2; d++) {
        sg_dtype dt = d ? SG_F32 : SG_F64;
        sg_params *ps = sg_params_new(dt);
        sg_param *a = sg_params_add(ps, "a", SG_SHAPE(2));
        sg_param *b = sg_params_add(ps, "b", SG_SHAPE(1, 1));
        assert_non_null(a);
        assert_non_null(b);
        /* grads (3, 0) and (4): global norm 5 */
        set_grad(a, 0, 3.0);
        set_grad(a, 1, 0.0);
        set_grad(b, 0, -4.0);

        /* under (and at) the threshold: returned, nothing changes */
        SG_ASSERT_NEAR(sg_params_clip_grad_norm(ps, 10.0), 5.0, 1e-15);
        SG_ASSERT_NEAR(sg_params_clip_grad_norm(ps, 5.0), 5.0, 1e-15);
        assert_true(sg_param_grad_get(a, 0) == 3.0 && sg_param_grad_get(a, 1) == 0.0);
        assert_true(sg_param_grad_get(b, 0) == -4.0);

        /* over: every grad scaled by max_norm / norm exactly */
        double norm = sg_params_clip_grad_norm(ps, 1.0);
        SG_ASSERT_NEAR(norm, 5.0, 1e-15);
        double scale = 1.0 / 5.0;
        if (dt == SG_F64) {
            assert_true(sg_param_grad_get(a, 0) == 3.0 * scale);
            assert_true(sg_param_grad_get(b, 0) == -4.0 * scale);
        } else {
            assert_true(sg_param_grad_get(a, 0) == (double)(float)(3.0 * scale));
            assert_true(sg_param_grad_get(b, 0) == (double)(float)(-4.0 * scale));
        }
        assert_true(sg_param_grad_get(a, 1) == 0.0);
        SG_ASSERT_NEAR(sg_params_grad_norm(ps), 1.0, d ? 1e-7 : 1e-15);

        /* non-finite gradients: the NaN is reported and nothing is scaled */
        set_grad(a, 1, NAN);
        assert_true(isnan(sg_params_clip_grad_norm(ps, 1e-3)));
        assert_true(sg_param_grad_get(b, 0) == (dt == SG_F64 ? -4.0 * scale : (double)(float)(-4.0 * scale)));
        sg_params_free(ps);
    }
    /* a sum of squares that overflows double still gives the right norm */
    sg_params *ps = sg_params_new(SG_F64);
    sg_param *p = sg_params_add(ps, "p", SG_SHAPE(2));
    set_grad(p, 0, 3e200);
    set_grad(p, 1, 4e200);
    double n = sg_params_clip_grad_norm(ps, 1.0);
    SG_ASSERT_NEAR(n / 5e200, 1.0, 1e-15);
    SG_ASSERT_NEAR(sg_param_grad_get(p, 0), 0.6, 1e-15);
    SG_ASSERT_NEAR(sg_param_grad_get(p, 1), 0.8, 1e-15);
    sg_params_free(ps);
    assert_true(sg_params_clip_grad_norm(NULL, 1.0) == 0.0);
}

/* ---- learning-rate schedule ---------------------------------------------- */

static void test_lr_schedule(void **state)
{
    (void)state;
    /* lr 1, halved each epoch after the 4th (Zaremba et al., 13 epochs) */
    const double expect[13] = {1,      1,       1,        1,         0.5,        0.25,       0.125,
                               0.0625, 0.03125, 0.015625, 0.0078125, 0.00390625, 0.001953125};
    sg_optim opt;
    assert_int_equal(sg_optim_init_sgd(&opt, &(sg_sgd_config){.lr = 1.0}), SG_OK);
    assert_int_equal(sg_optim_set_schedule(&opt, 0.5, 4), SG_OK);
    for (int e = 1; e <= 13; e++) {
        assert_true(sg_lr_schedule_step(1.0, 0.5, 4, e) == expect[e - 1]);
        assert_int_equal(sg_optim_set_epoch(&opt, e), SG_OK);
        assert_true(sg_optim_lr(&opt) == expect[e - 1]);
        assert_true(opt.lr == expect[e - 1]);
    }
    /* the stored lr is what the step uses */
    const double w0 = 1.0;
    sg_param *p;
    sg_params *ps = make_set(SG_F64, 1, &w0, &p);
    set_grad(p, 0, 1.0);
    assert_int_equal(sg_optim_set_epoch(&opt, 6), SG_OK); /* lr 0.25 */
    assert_int_equal(sg_optim_step(&opt, ps), SG_OK);
    assert_true(sg_param_get(p, 0) == 0.75);
    sg_params_free(ps);
    /* other bases and decays; epochs <= start (also 0, negative) give the base */
    SG_ASSERT_NEAR(sg_lr_schedule_step(0.7, 1.0 / 1.15, 6, 10), 0.7 / pow(1.15, 4), 1e-15);
    assert_true(sg_lr_schedule_step(0.7, 0.5, 6, 0) == 0.7);
    assert_true(sg_lr_schedule_step(0.7, 0.5, 6, -3) == 0.7);
    assert_true(sg_lr_schedule_step(2.0, 0.5, 0, 1) == 1.0);
}

/* ---- initializers --------------------------------------------------------- */

static void test_init_xavier_bound(void **state)
{
    (void)state;
    for (int d = 0; d < 2; d++) {
        sg_params *ps = sg_params_new(d ? SG_F32 : SG_F64);
        sg_param *w = sg_params_add(ps, "w", SG_SHAPE(30, 50));
        sg_param *b = sg_params_add(ps, "b", SG_SHAPE(20));
        sg_rng r;
        sg_rng_seed(&r, 3);
        assert_int_equal(sg_init_xavier_uniform(w, &r), SG_OK);
        assert_int_equal(sg_init_xavier_uniform(b, &r), SG_OK);
        double aw = sqrt(6.0 / 80.0), ab = sqrt(6.0 / 40.0);
        SG_ASSERT_NEAR(sg_init_xavier_bound(w), aw, 1e-15);
        SG_ASSERT_NEAR(sg_init_xavier_bound(b), ab, 1e-15);
        if (d) { /* f32: the bound as stored */
            aw = (float)aw;
            ab = (float)ab;
        }
        double mw = 0, mb = 0;
        for (size_t i = 0; i < w->numel; i++)
            mw = fmax(mw, fabs(sg_param_get(w, i)));
        for (size_t i = 0; i < b->numel; i++)
            mb = fmax(mb, fabs(sg_param_get(b, i)));
        assert_true(mw <= aw && mw > 0.95 * aw); /* respected, and the range is used */
        assert_true(mb <= ab && mb > 0.5 * ab);
        sg_params_free(ps);
    }
    double fi, fo;
    sg_init_fans(SG_SHAPE(3, 4, 5), &fi, &fo);
    assert_true(fi == 15 && fo == 20);
    sg_init_fans(SG_SCALAR, &fi, &fo);
    assert_true(fi == 1 && fo == 1);
}

static void test_init_uniform_range(void **state)
{
    (void)state;
    sg_params *ps = sg_params_new(SG_F64);
    sg_param *p = sg_params_add(ps, "p", SG_SHAPE(1000));
    sg_rng r;
    sg_rng_seed(&r, 11);
    assert_int_equal(sg_init_uniform(p, &r, -0.1, 0.3), SG_OK);
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    for (size_t i = 0; i < p->numel; i++) {
        double v = sg_param_get(p, i);
        lo = fmin(lo, v);
        hi = fmax(hi, v);
        sum += v;
    }
    assert_true(lo >= -0.1 && hi < 0.3);
    assert_true(lo < -0.09 && hi > 0.29);
    SG_ASSERT_NEAR(sum / 1000.0, 0.1, 0.02);
    /* degenerate range lo == hi is a constant */
    assert_int_equal(sg_init_uniform(p, &r, 0.5, 0.5), SG_OK);
    assert_true(sg_param_get(p, 0) == 0.5 && sg_param_get(p, 999) == 0.5);
    /* zeros, constant */
    assert_int_equal(sg_init_constant(p, -2.5), SG_OK);
    for (size_t i = 0; i < p->numel; i++)
        assert_true(sg_param_get(p, i) == -2.5);
    assert_int_equal(sg_init_zeros(p), SG_OK);
    for (size_t i = 0; i < p->numel; i++)
        assert_true(sg_param_get(p, i) == 0.0);
    sg_params_free(ps);
}

static void test_init_normal_moments(void **state)
{
    (void)state;
    const size_t n = 100000;
    for (int d = 0; d < 2; d++) {
        sg_params *ps = sg_params_new(d ? SG_F32 : SG_F64);
        sg_param *p = sg_params_add(ps, "p", SG_SHAPE(n));
        sg_rng r;
        sg_rng_seed(&r, 5);
        assert_int_equal(sg_init_normal(p, &r, 2.0, 0.5), SG_OK);
        double s = 0, s2 = 0;
        for (size_t i = 0; i < n; i++)
            s += sg_param_get(p, i);
        double mean = s / (double)n;
        for (size_t i = 0; i < n; i++) {
            double e = sg_param_get(p, i) - mean;
            s2 += e * e;
        }
        double sd = sqrt(s2 / (double)(n - 1));
        print_message("  normal(2, 0.5) %s, 1e5 draws: mean %.5f, std %.5f\n", d ? "f32" : "f64", mean, sd);
        /* standard errors: 0.5/sqrt(n) = 0.0016 for the mean, ~0.0011 for the std */
        SG_ASSERT_NEAR(mean, 2.0, 0.01);
        SG_ASSERT_NEAR(sd, 0.5, 0.01);
        sg_params_free(ps);
    }
}

static void test_init_deterministic(void **state)
{
    (void)state;
    sg_params *ps = sg_params_new(SG_F64);
    sg_params *p32s = sg_params_new(SG_F32);
    sg_param *a = sg_params_add(ps, "a", SG_SHAPE(7, 9));
    sg_param *b = sg_params_add(ps, "b", SG_SHAPE(7, 9));
    sg_param *c = sg_params_add(ps, "c", SG_SHAPE(7, 9));
    sg_param *f = sg_params_add(p32s, "f", SG_SHAPE(7, 9));
    assert_non_null(a);
    assert_non_null(f);
    size_t bytes = a->numel * sizeof(double);
    for (int kind = 0; kind < 3; kind++) {
        sg_param *dst[4] = {a, b, c, f};
        uint64_t seeds[4] = {42, 42, 43, 42};
        for (int k = 0; k < 4; k++) {
            sg_rng r;
            sg_rng_seed(&r, seeds[k]);
            sg_status st = kind == 0   ? sg_init_uniform(dst[k], &r, -1, 1)
                           : kind == 1 ? sg_init_xavier_uniform(dst[k], &r)
                                       : sg_init_normal(dst[k], &r, 0, 1);
            assert_int_equal(st, SG_OK);
        }
        assert_memory_equal(a->value, b->value, bytes);     /* same seed: bit for bit */
        assert_memory_not_equal(a->value, c->value, bytes); /* different seed: different */
        size_t ndiff = 0;
        for (size_t i = 0; i < a->numel; i++) {
            ndiff += sg_param_get(a, i) != sg_param_get(c, i);
            /* f32 holds the f64 value rounded */
            assert_true(((float *)f->value)[i] == (float)((double *)a->value)[i]);
        }
        assert_true(ndiff == a->numel);
    }
    /* sg_params_init_uniform walks the set in order with one stream */
    sg_rng r1, r2;
    sg_rng_seed(&r1, 9);
    sg_rng_seed(&r2, 9);
    assert_int_equal(sg_params_init_uniform(ps, &r1, -0.05, 0.05), SG_OK);
    for (size_t i = 0; i < a->numel; i++)
        assert_true(sg_param_get(a, i) == sg_rng_range(&r2, -0.05, 0.05));
    for (size_t i = 0; i < b->numel; i++)
        assert_true(sg_param_get(b, i) == sg_rng_range(&r2, -0.05, 0.05));
    sg_params_free(ps);
    sg_params_free(p32s);
}

/* Row-sparse gradients: an embedding used only through gather_rows keeps the
 * rows backward wrote; norm, clip, plain SGD and zero_grad visit only those
 * and give bit for bit what the dense loops give; any other use, or weight
 * decay, is dense. */
static void sparse_step(sg_params *ps, sg_param *E, sg_param *W, const int32_t *ids, size_t n, bool dense_use,
                        bool force_dense)
{
    sg_graph *g = sg_graph_new(SG_F64);
    sg_params_zero_grad(ps);
    double r[4 * 3];
    for (size_t i = 0; i < n * 3; i++)
        r[i] = 0.25 * (double)(i + 1) - 1.0;
    sg_tensor *y = sg_gather_rows(g, sg_param_use(g, E), sg_ids(g, "ids", SG_SHAPE(n), ids)); /* (n, 3) */
    sg_tensor *loss = sg_sum_all(g, sg_hadamard(g, y, sg_input_f64(g, "r", SG_SHAPE(n, 3), r, false)));
    sg_tensor *w = sg_param_use(g, W);
    loss = sg_add(g, loss, sg_sum_all(g, sg_hadamard(g, w, w)));
    if (dense_use)
        loss = sg_add(g, loss, sg_sum_all(g, sg_param_use(g, E)));
    SG_ASSERT_GRAPH_OK(g);
    assert_int_equal(sg_backward(g, loss), SG_OK);
    if (force_dense)
        sg_param_grad_note_dense(E);
    sg_graph_free(g);
}

static void test_row_sparse_gradients(void **state)
{
    (void)state;
    sg_params *a = sg_params_new(SG_F64), *b = sg_params_new(SG_F64);
    sg_param *Ea = sg_params_add(a, "E", SG_SHAPE(10, 3)), *Wa = sg_params_add(a, "W", SG_SHAPE(3));
    sg_param *Eb = sg_params_add(b, "E", SG_SHAPE(10, 3)), *Wb = sg_params_add(b, "W", SG_SHAPE(3));
    for (size_t i = 0; i < 30; i++) {
        sg_param_set(Ea, i, 0.1 * (double)i - 1.3);
        sg_param_set(Eb, i, 0.1 * (double)i - 1.3);
    }
    for (size_t i = 0; i < 3; i++) {
        sg_param_set(Wa, i, 0.5 + (double)i);
        sg_param_set(Wb, i, 0.5 + (double)i);
    }
    sg_optim oa, ob;
    sg_sgd_config sc = sg_sgd_defaults();
    sc.lr = 0.1;
    assert_int_equal(sg_optim_init_sgd(&oa, &sc), SG_OK);
    assert_int_equal(sg_optim_init_sgd(&ob, &sc), SG_OK);
    static const int32_t ids1[4] = {7, 2, 7, 9}, ids2[3] = {0, 2, 5};
    for (int step = 0; step < 4; step++) {
        const int32_t *ids = step % 2 ? ids2 : ids1;
        size_t n = step % 2 ? 3 : 4;
        sparse_step(a, Ea, Wa, ids, n, false, false); /* a: row-sparse */
        sparse_step(b, Eb, Wb, ids, n, false, true);  /* b: the same, made dense */
        assert_int_equal(Ea->grad_extent, SG_GRAD_ROWS);
        assert_int_equal(Ea->n_grad_rows, step % 2 ? 3 : 3); /* {7, 2, 9} and {0, 2, 5} */
        assert_int_equal(Wa->grad_extent, SG_GRAD_ALL);
        assert_int_equal(Eb->grad_extent, SG_GRAD_ALL);
        assert_memory_equal(Ea->grad, Eb->grad, 30 * sizeof(double)); /* other rows are 0 in both */
        double na = sg_params_grad_norm(a), nb = sg_params_grad_norm(b);
        assert_memory_equal(&na, &nb, sizeof na); /* bit for bit */
        double ca = sg_params_clip_grad_norm(a, 0.5), cb = sg_params_clip_grad_norm(b, 0.5);
        assert_memory_equal(&ca, &cb, sizeof ca);
        assert_memory_equal(Ea->grad, Eb->grad, 30 * sizeof(double));
        assert_int_equal(sg_optim_step(&oa, a), SG_OK);
        assert_int_equal(sg_optim_step(&ob, b), SG_OK);
        assert_memory_equal(Ea->value, Eb->value, 30 * sizeof(double));
        assert_memory_equal(Wa->value, Wb->value, 3 * sizeof(double));
    }
    /* zero_grad clears exactly what was written: the whole gradient is 0 */
    sg_params_zero_grad(a);
    assert_int_equal(Ea->grad_extent, SG_GRAD_ZEROED);
    for (size_t i = 0; i < 30; i++)
        assert_true(sg_param_grad_get(Ea, i) == 0.0);
    /* a dense use of the same table makes its gradient dense */
    sparse_step(a, Ea, Wa, ids1, 4, true, false);
    assert_int_equal(Ea->grad_extent, SG_GRAD_ALL);
    for (size_t i = 0; i < 30; i++) /* every row got the 1 of sum(E) */
        assert_true(sg_param_grad_get(Ea, i) != 0.0);
    sg_params_zero_grad(a);
    for (size_t i = 0; i < 30; i++)
        assert_true(sg_param_grad_get(Ea, i) == 0.0);
    /* steady state: after the row list has grown, a step allocates nothing for it */
    sparse_step(a, Ea, Wa, ids1, 4, false, false);
    size_t cap = Ea->grad_rows_cap;
    sparse_step(a, Ea, Wa, ids2, 3, false, false);
    assert_int_equal(Ea->grad_rows_cap, cap);
    sg_params_free(a);
    sg_params_free(b);
}

/* Replicas (sg_params_replica) share the master's values and keep their
 * own gradients; sg_sgd_apply_replicas applies each replica's plain-SGD
 * update in replica order, the same values whether it runs as one part or
 * as two (the rows split between two calls), and the same as applying the
 * gradients one after the other with sg_optim_step on a copy. */
static void test_replicas_apply(void **state)
{
    (void)state;
    static const int32_t ids[2][4] = {{7, 2, 7, 9}, {0, 2, 5, 9}};
    static const double lrs[2] = {0.1, 0.05};
    double got[2][30];
    for (int parts = 1; parts <= 2; parts++) {
        sg_params *m = sg_params_new(SG_F64);
        sg_param *E = sg_params_add(m, "E", SG_SHAPE(10, 3)), *W = sg_params_add(m, "W", SG_SHAPE(3));
        for (size_t i = 0; i < 30; i++)
            sg_param_set(E, i, 0.1 * (double)i - 1.3);
        for (size_t i = 0; i < 3; i++)
            sg_param_set(W, i, 0.5 + (double)i);
        sg_params *r[2] = {sg_params_replica(m), sg_params_replica(m)};
        assert_non_null(r[0]);
        assert_non_null(r[1]);
        assert_true(r[0]->items[0]->value == E->value); /* the master's buffer */
        assert_true(r[0]->items[0]->grad != E->grad && r[0]->items[0]->grad != r[1]->items[0]->grad);
        assert_int_equal(sg_params_set_dtype(r[0], SG_F32), SG_ERR_ARG);
        for (int k = 0; k < 2; k++) /* both backward passes at the same values */
            sparse_step(r[k], sg_params_find(r[k], "E"), sg_params_find(r[k], "W"), ids[k], 4, false, false);
        assert_int_equal(r[0]->items[0]->grad_extent, SG_GRAD_ROWS);
        /* the reference: a copy of the master, stepped with each gradient in turn */
        sg_params *c = sg_params_new(SG_F64);
        sg_param *Ec = sg_params_add(c, "E", SG_SHAPE(10, 3)), *Wc = sg_params_add(c, "W", SG_SHAPE(3));
        memcpy(Ec->value, E->value, 30 * sizeof(double));
        memcpy(Wc->value, W->value, 3 * sizeof(double));
        for (int k = 0; k < 2; k++) {
            memcpy(Ec->grad, r[k]->items[0]->grad, 30 * sizeof(double));
            memcpy(Wc->grad, r[k]->items[1]->grad, 3 * sizeof(double));
            sg_optim o;
            sg_sgd_config sc = sg_sgd_defaults();
            sc.lr = lrs[k];
            assert_int_equal(sg_optim_init_sgd(&o, &sc), SG_OK);
            assert_int_equal(sg_optim_step(&o, c), SG_OK);
        }
        for (int part = 0; part < parts; part++)
            assert_int_equal(sg_sgd_apply_replicas(m, r, lrs, 2, (size_t)part, (size_t)parts), SG_OK);
        assert_memory_equal(E->value, Ec->value, 30 * sizeof(double));
        assert_memory_equal(W->value, Wc->value, 3 * sizeof(double));
        memcpy(got[parts - 1], E->value, sizeof got[0]);
        /* a replica of another set, or a part out of range, is refused */
        assert_int_equal(sg_sgd_apply_replicas(c, r, lrs, 2, 0, 1), SG_ERR_ARG);
        assert_int_equal(sg_sgd_apply_replicas(m, r, lrs, 2, 2, 2), SG_ERR_ARG);
        sg_params_free(c);
        sg_params_free(r[0]);
        sg_params_free(r[1]);
        sg_params_free(m); /* after its replicas: they borrow its values */
    }
    assert_memory_equal(got[0], got[1], sizeof got[0]);
}

/* A gathered table's gradient kept as a list (sg_param.h): backward leaves
 * the table alone and lists the gathers (plain, weighted sums, dots), flushing gives the bytes of the
 * ordinary backward, plain SGD applies the listed rows (the same values up to
 * rounding: each row's updates are applied one by one instead of summed
 * first), and replicas apply them in parts with the same bytes at any number
 * of parts.  The graph stays alive until the list is used. */
static sg_graph *listed_backward(sg_params *ps, sg_param *E, sg_param *W, bool dense_use)
{
    static const int32_t ids1[5] = {3, 1, 3, 8, 1}, ids2[3] = {8, 0, 3};
    sg_graph *g = sg_graph_new(SG_F64);
    sg_params_zero_grad(ps);
    double r[9];
    for (size_t i = 0; i < 9; i++)
        r[i] = 0.3 * (double)i - 1.1;
    sg_tensor *e = sg_param_use(g, E), *w = sg_param_use(g, W);
    sg_tensor *y1 = sg_gather_rows(g, e, sg_ids(g, "ids1", SG_SHAPE(5), ids1));
    sg_tensor *y2 = sg_gather_rows(g, e, sg_ids(g, "ids2", SG_SHAPE(3), ids2));
    sg_tensor *loss = sg_add(g, sg_sum_all(g, sg_hadamard(g, y1, y1)),
                             sg_sum_all(g, sg_hadamard(g, y2, sg_input_f64(g, "r", SG_SHAPE(3, 3), r, false))));
    loss = sg_add(g, loss, sg_sum_all(g, sg_hadamard(g, w, w)));
    /* the weighted gathers: repeated ids, a weight-0 slot, v made from the table itself */
    static const int32_t ids3[6] = {1, 3, 1, 5, 0, 3}, ids4[4] = {3, 6, 6, 1};
    static const double wts[6] = {0.5, -1.0, 0.0, 2.0, 0.25, 1.0};
    sg_tensor *y3 = sg_gather_sum(g, e, sg_ids(g, "ids3", SG_SHAPE(2, 3), ids3),
                                  sg_input_f64(g, "wts", SG_SHAPE(2, 3), wts, false)); /* (2, 3) */
    sg_tensor *y4 = sg_gather_dot(g, e, sg_ids(g, "ids4", SG_SHAPE(2, 2), ids4), y3);  /* (2, 2) */
    loss = sg_add(g, loss, sg_add(g, sg_sum_all(g, sg_hadamard(g, y3, y3)), sg_sum_all(g, sg_hadamard(g, y4, y4))));
    if (dense_use)
        loss = sg_add(g, loss, sg_sum_all(g, sg_hadamard(g, e, e)));
    SG_ASSERT_GRAPH_OK(g);
    assert_int_equal(sg_backward(g, loss), SG_OK);
    return g;
}

static sg_params *listed_set(bool listed)
{
    sg_params *ps = sg_params_new(SG_F64);
    sg_param *E = sg_params_add(ps, "E", SG_SHAPE(10, 3)), *W = sg_params_add(ps, "W", SG_SHAPE(3));
    assert_true(E && W);
    for (size_t i = 0; i < 30; i++)
        sg_param_set(E, i, 0.1 * (double)i - 1.3);
    for (size_t i = 0; i < 3; i++)
        sg_param_set(W, i, 0.5 + (double)i);
    sg_param_set_grad_listed(E, listed);
    return ps;
}

static double max_abs_diff(const double *a, const double *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs(a[i] - b[i]));
    return d;
}

static void test_listed_gradients(void **state)
{
    (void)state;
    for (int dense_use = 0; dense_use < 2; dense_use++) {
        sg_params *a = listed_set(false), *b = listed_set(true);
        sg_param *Ea = a->items[0], *Eb = b->items[0];
        sg_graph *ga = listed_backward(a, Ea, a->items[1], dense_use),
                 *gb = listed_backward(b, Eb, b->items[1], dense_use);
        assert_non_null(Eb->grad_list);
        assert_null(Ea->grad_list);
        static const double zeros[30];
        if (!dense_use) /* the table is not touched: the rows are in the list */
            assert_memory_equal(Eb->grad, zeros, sizeof zeros);
        else /* the dense use went to the table */
            assert_true(max_abs_diff(Eb->grad, zeros, 30) > 0);
        sg_params_grad_flush_lists(b);
        assert_null(Eb->grad_list);
        assert_memory_equal(Ea->grad, Eb->grad, 30 * sizeof(double)); /* the ordinary backward's bytes */
        assert_memory_equal(a->items[1]->grad, b->items[1]->grad, 3 * sizeof(double));
        sg_graph_free(ga);
        sg_graph_free(gb);

        /* plain SGD: the listed rows straight to the value */
        ga = listed_backward(a, Ea, a->items[1], dense_use);
        gb = listed_backward(b, Eb, b->items[1], dense_use);
        double before[30];
        memcpy(before, Eb->value, sizeof before);
        sg_optim o;
        assert_int_equal(sg_optim_init_sgd(&o, &(sg_sgd_config){.lr = 0.1}), SG_OK);
        assert_int_equal(sg_optim_step(&o, a), SG_OK);
        assert_int_equal(sg_optim_step(&o, b), SG_OK);
        assert_null(Eb->grad_list);
        double d = max_abs_diff(Ea->value, Eb->value, 30);
        assert_true(d < 1e-14);
        assert_true(max_abs_diff(before, Eb->value, 30) > 0.01); /* the step moved the gathered rows */
        sg_graph_free(ga);
        sg_graph_free(gb);

        /* replicas: listed like their master; one part or two, the same bytes */
        double got[2][30];
        for (int parts = 1; parts <= 2; parts++) {
            sg_params *m = listed_set(true);
            sg_params *r[2] = {sg_params_replica(m), sg_params_replica(m)};
            assert_true(r[0] && r[1] && r[0]->items[0]->grad_listed);
            sg_graph *g0 = listed_backward(r[0], r[0]->items[0], r[0]->items[1], dense_use);
            sg_graph *g1 = listed_backward(r[1], r[1]->items[0], r[1]->items[1], dense_use);
            static const double lrs[2] = {0.1, 0.05};
            for (int part = 0; part < parts; part++)
                assert_int_equal(sg_sgd_apply_replicas(m, r, lrs, 2, (size_t)part, (size_t)parts), SG_OK);
            memcpy(got[parts - 1], m->items[0]->value, sizeof got[0]);
            sg_graph_free(g0);
            sg_graph_free(g1);
            sg_params_free(r[0]);
            sg_params_free(r[1]);
            sg_params_free(m);
        }
        assert_memory_equal(got[0], got[1], sizeof got[0]);
        sg_params_free(a);
        sg_params_free(b);
    }
}

/* sg_sgd_apply_replica in rotation, as the word2vec workers call it: in
 * phase p each replica t updates part (t + p) % 2, so part 0 gets replica
 * 0 then 1 and part 1 gets replica 1 then 0 -- the bytes of
 * sg_sgd_apply_replicas run over part 0 in replica order and over part 1
 * in the swapped order.  Listed rows (gathers, weighted sums, dots) and a
 * dense gradient (the table also used whole, and W). */
static void test_replica_rotation(void **state)
{
    (void)state;
    double got[2][30], gotw[2][3];
    for (int way = 0; way < 2; way++) {
        sg_params *m = listed_set(true);
        sg_params *r[2] = {sg_params_replica(m), sg_params_replica(m)};
        assert_true(r[0] && r[1]);
        double before[30];
        memcpy(before, m->items[0]->value, sizeof before);
        sg_graph *g0 = listed_backward(r[0], r[0]->items[0], r[0]->items[1], way == 0);
        for (size_t i = 0; i < 30; i++) /* replica 1's gradient at other values, so the two differ */
            sg_param_set(m->items[0], i, before[i] * 0.7 + 0.3);
        sg_graph *g1 = listed_backward(r[1], r[1]->items[0], r[1]->items[1], way == 0);
        memcpy(m->items[0]->value, before, sizeof before);
        static const double lrs[2] = {0.1, 0.05};
        /* the rotation */
        for (size_t p = 0; p < 2; p++)
            for (size_t t = 0; t < 2; t++)
                assert_int_equal(sg_sgd_apply_replica(m, r[t], lrs[t], (t + p) % 2, 2), SG_OK);
        memcpy(got[0], m->items[0]->value, sizeof got[0]);
        memcpy(gotw[0], m->items[1]->value, sizeof gotw[0]);
        assert_true(max_abs_diff(before, got[0], 30) > 0.01);
        /* the reference, from the same values */
        memcpy(m->items[0]->value, before, sizeof before);
        for (size_t i = 0; i < 3; i++)
            sg_param_set(m->items[1], i, 0.5 + (double)i);
        sg_params *swapped[2] = {r[1], r[0]};
        const double lrs_swapped[2] = {lrs[1], lrs[0]};
        assert_int_equal(sg_sgd_apply_replicas(m, r, lrs, 2, 0, 2), SG_OK);
        assert_int_equal(sg_sgd_apply_replicas(m, swapped, lrs_swapped, 2, 1, 2), SG_OK);
        memcpy(got[1], m->items[0]->value, sizeof got[1]);
        memcpy(gotw[1], m->items[1]->value, sizeof gotw[1]);
        assert_memory_equal(got[0], got[1], sizeof got[0]);
        assert_memory_equal(gotw[0], gotw[1], sizeof gotw[0]);
        /* refused: a replica of another set, a part out of range, no parts */
        sg_params *other = listed_set(true);
        assert_int_equal(sg_sgd_apply_replica(other, r[0], 0.1, 0, 1), SG_ERR_ARG);
        assert_int_equal(sg_sgd_apply_replica(m, r[0], 0.1, 2, 2), SG_ERR_ARG);
        assert_int_equal(sg_sgd_apply_replica(m, r[0], 0.1, 0, 0), SG_ERR_ARG);
        assert_int_equal(sg_sgd_apply_replica(m, NULL, 0.1, 0, 1), SG_ERR_ARG);
        assert_memory_equal(m->items[0]->value, got[1], sizeof got[1]); /* refusals change nothing */
        sg_params_free(other);
        sg_graph_free(g0);
        sg_graph_free(g1);
        sg_params_free(r[0]);
        sg_params_free(r[1]);
        sg_params_free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgd_plain_matches_hand),
        cmocka_unit_test(test_replica_rotation),
        cmocka_unit_test(test_sgd_momentum_two_steps),
        cmocka_unit_test(test_adam_two_steps_by_hand),
        cmocka_unit_test(test_adam_minimizes_quadratic),
        cmocka_unit_test(test_adam_weight_decay_is_l2_in_gradient),
        cmocka_unit_test(test_no_allocation_after_first_step),
        cmocka_unit_test(test_out_of_memory_changes_nothing),
        cmocka_unit_test(test_bad_config_is_arg_error),
        cmocka_unit_test(test_clip_grad_norm),
        cmocka_unit_test(test_lr_schedule),
        cmocka_unit_test(test_init_xavier_bound),
        cmocka_unit_test(test_init_uniform_range),
        cmocka_unit_test(test_init_normal_moments),
        cmocka_unit_test(test_init_deterministic),
        cmocka_unit_test(test_row_sparse_gradients),
        cmocka_unit_test(test_replicas_apply),
        cmocka_unit_test(test_listed_gradients),
    };
    return cmocka_run_group_tests_name("optim", tests, NULL, NULL);
}
