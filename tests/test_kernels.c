/* test_kernels.c — helpers the op kernels share: the vectorizable f32 exp used
 * by softmax-like kernels stays within 2.5e-7 relative error of exp over the
 * range those kernels use (x <= 0 after subtracting the max) and beyond. */
#include "sg_test.h"

#include "ops/sg_kernel.h"

static void test_expf_vec_accuracy(void **state)
{
    (void)state;
    double worst = 0;
    for (double x = -87.0; x <= 88.0; x += 1.0 / 4096) {
        float a = sg_expf_vec((float)x);
        double t = exp((double)(float)x);
        double rel = fabs((double)a - t) / t;
        if (rel > worst)
            worst = rel;
    }
    print_message("  sg_expf_vec: max relative error %.3g over [-87, 88]\n", worst);
    assert_true(worst < 2.5e-7);
    assert_true(sg_expf_vec(0.0f) == 1.0f);
    /* clamped ends: tiny and finite, never inf or NaN */
    assert_true(sg_expf_vec(-1000.0f) > 0.0f && sg_expf_vec(-1000.0f) < 1.3e-38f);
    assert_true(isfinite(sg_expf_vec(1000.0f)));
}

/* Distance in units in the last place of float between the float a and the
 * double t (the exact value, rounded to double). */
static double ulps(float a, double t)
{
    float tf = (float)t;
    double ulp = (double)nextafterf(fabsf(tf), INFINITY) - (double)fabsf(tf);
    return fabs((double)a - t) / ulp;
}

/* Every float from -10 to 10 at steps of 2^-14, and 2^-40 .. 2^4 on a
 * geometric grid (the small-argument branch), against libm in double. */
static void test_tanhf_sigmoidf_vec_accuracy(void **state)
{
    (void)state;
    double worst_t = 0, worst_s = 0;
    float at_t = 0, at_s = 0;
    for (int pass = 0; pass < 2; pass++)
        for (double u = pass ? -40 : -10; u <= (pass ? 4 : 10); u += pass ? 1.0 / 64 : 1.0 / 16384) {
            float x = pass ? (float)exp2(u) : (float)u;
            for (int sign = 0; sign < 2; sign++, x = -x) {
                double e = ulps(sg_tanhf_vec(x), tanh((double)x));
                if (e > worst_t) {
                    worst_t = e;
                    at_t = x;
                }
                double sx = 1 / (1 + exp(-(double)x));
                e = sx > 1e-30 ? ulps(sg_sigmoidf_vec(x), sx) : 0;
                if (e > worst_s) {
                    worst_s = e;
                    at_s = x;
                }
            }
        }
    print_message("  sg_tanhf_vec: max %.2f ulp (at %g); sg_sigmoidf_vec: max %.2f ulp (at %g)\n", worst_t, at_t,
                  worst_s, at_s);
    assert_true(worst_t <= 1.7);
    assert_true(worst_s <= 3.3);
    /* ends and specials */
    assert_true(sg_tanhf_vec(0.0f) == 0.0f && sg_tanhf_vec(50.0f) == 1.0f && sg_tanhf_vec(-INFINITY) == -1.0f);
    assert_true(sg_sigmoidf_vec(0.0f) == 0.5f && sg_sigmoidf_vec(100.0f) == 1.0f);
    assert_true(sg_sigmoidf_vec(-1000.0f) >= 0.0f && sg_sigmoidf_vec(-1000.0f) < 1e-38f);
    assert_true(isnan(sg_tanhf_vec(NAN)) && isnan(sg_sigmoidf_vec(NAN)));
}

/* softplus against log1p(exp(x)) in double: every float from -30 to 30 at
 * steps of 2^-12, +-2^-40 .. 2^6 on a geometric grid, and values down to
 * -69 (where the result is about 1e-30); the ends and specials. */
static void test_softplusf_vec_accuracy(void **state)
{
    (void)state;
    double worst = 0;
    float at = 0;
    for (int pass = 0; pass < 3; pass++)
        for (double u = pass == 1 ? -40
                        : pass    ? -69
                                  : -30;
             u <= (pass == 1 ? 6
                   : pass    ? -30
                             : 30);
             u += pass == 1 ? 1.0 / 64 : 1.0 / 4096) {
            float x = pass == 1 ? (float)exp2(u) : (float)u;
            for (int sign = 0; sign < (pass == 1 ? 2 : 1); sign++, x = -x) {
                double xd = (double)x, t = xd > 0 ? xd + log1p(exp(-xd)) : log1p(exp(xd));
                double e = t > 1e-30 ? ulps(sg_softplusf_vec(x), t) : 0;
                if (e > worst) {
                    worst = e;
                    at = x;
                }
            }
        }
    print_message("  sg_softplusf_vec: max %.2f ulp (at %g)\n", worst, at);
    assert_true(worst <= 4.0);
    assert_true(sg_softplusf_vec(100.0f) == 100.0f && sg_softplusf_vec(INFINITY) == INFINITY);
    assert_true(sg_softplusf_vec(-1000.0f) >= 0.0f && sg_softplusf_vec(-1000.0f) < 1e-37f);
    assert_true(isnan(sg_softplusf_vec(NAN)));
    assert_true(fabs((double)sg_softplusf_vec(0.0f) - log(2.0)) < 1e-7);
}

/* The f32 kernels run as an AVX2 copy where the CPU has one
 * (graph/exec/sg_clones.h), which must give the bytes of the baseline code:
 * sg_tanh and sg_sigmoid over a million inputs of every magnitude against
 * sg_tanhf_vec / sg_sigmoidf_vec compiled here for the baseline target. */
static void test_clones_same_bytes(void **state)
{
    (void)state;
    enum { N = 1 << 20 };
    static float x[N], y[N];
    sg_rng rng;
    sg_rng_seed(&rng, 5);
    for (size_t i = 0; i < N; i++) { /* sign, exponent 2^-30..2^7 and mantissa at random */
        double mag = exp2(sg_rng_range(&rng, -30.0, 7.0));
        x[i] = (float)(sg_rng_uniform(&rng) < 0.5 ? -mag : mag);
    }
    x[0] = 0.0f;
    x[1] = -0.0f;
    x[2] = INFINITY;
    x[3] = NAN;
    sg_graph *g = sg_graph_new(SG_F32);
    sg_tensor *in = sg_input_f32(g, "x", SG_SHAPE(N), x, false);
    sg_tensor *t = sg_tanh(g, in), *sg = sg_sigmoid(g, in);
    SG_ASSERT_GRAPH_OK(g);
    for (size_t i = 0; i < N; i++)
        y[i] = sg_tanhf_vec(x[i]);
    assert_memory_equal(t->data, y, sizeof y);
    for (size_t i = 0; i < N; i++)
        y[i] = sg_sigmoidf_vec(x[i]);
    assert_memory_equal(sg->data, y, sizeof y);
#if defined(__x86_64__)
    print_message("  tanh and sigmoid kernels: the baseline bytes (this CPU %s AVX2)\n",
                  __builtin_cpu_supports("avx2") ? "has" : "has no");
#endif
    sg_graph_free(g);
}

/* SG_ROW_MAX (two vectors of lanes) is the plain loop's maximum, for every
 * length from 1 to 70 (the tails past the vectors), the maximum at every
 * position, with -inf, NaN in the row (never the answer unless it is x[0],
 * as for the plain loop), in f32 and f64. */
static void test_row_max(void **state)
{
    (void)state;
    sg_rng rng;
    sg_rng_seed(&rng, 3);
    float xf[70];
    double xd[70];
    for (size_t n = 1; n <= 70; n++)
        for (size_t at = 0; at < n; at++)
            for (int kind = 0; kind < 3; kind++) {
                for (size_t i = 0; i < n; i++)
                    xd[i] = sg_rng_range(&rng, -50.0, -1.0);
                xd[at] = 7.5;
                if (kind == 1)
                    xd[(at + 1) % n] = -INFINITY;
                if (kind == 2)
                    xd[(at + 3) % n] = NAN;
                for (size_t i = 0; i < n; i++)
                    xf[i] = (float)xd[i];
                double md = xd[0];
                float mf = xf[0];
                for (size_t i = 1; i < n; i++) {
                    md = xd[i] > md ? xd[i] : md;
                    mf = xf[i] > mf ? xf[i] : mf;
                }
                double gd = SG_ROW_MAX((const double *)xd, n);
                float gf = SG_ROW_MAX((const float *)xf, n);
                if (!(gd == md || (isnan(gd) && isnan(md))) || !(gf == mf || (isnan(gf) && isnan(mf))))
                    fail_msg("n %zu, max at %zu, kind %d: %g / %g, the plain loop %g / %g", n, at, kind, gd, (double)gf,
                             md, (double)mf);
            }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_expf_vec_accuracy),
                                       cmocka_unit_test(test_tanhf_sigmoidf_vec_accuracy),
                                       cmocka_unit_test(test_softplusf_vec_accuracy),
                                       cmocka_unit_test(test_clones_same_bytes), cmocka_unit_test(test_row_max)};
    return cmocka_run_group_tests_name("kernels", tests, NULL, NULL);
}
