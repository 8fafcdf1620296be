/* test_sine.c — the sine-wave task data (models/sg_sine.h): the series values,
 * window inputs and targets at exact positions in the (W, B, 1) / (B, 1)
 * layout, the time split, batches in time order with a shorter last one,
 * noise reproducible from a seed, and argument errors. */
#include "sg_test.h"

#include "graph/core/sg_alloc.h"
#include "models/data/sg_sine_data.h"

static double wave(double omega, double phase, double amp, size_t t) { return amp * sin(omega * (double)t + phase); }

static void test_series_and_windows(void **state)
{
    (void)state;
    sg_sine_opts o = sg_sine_defaults();
    o.n_points = 20;
    o.window = 4;
    o.omega = 0.5;
    o.phase = 0.1;
    o.amplitude = 2.0;
    o.train_frac = 0.75;
    sg_sine s;
    char err[256];
    assert_int_equal(sg_sine_init(&s, &o, NULL, err, sizeof err), SG_OK);
    assert_int_equal(s.n_points, 20);
    assert_int_equal(s.n_windows, 16);
    assert_int_equal(s.n_train, 12);
    assert_int_equal(sg_sine_split_size(&s, SG_SINE_TRAIN), 12);
    assert_int_equal(sg_sine_split_size(&s, SG_SINE_TEST), 4);
    assert_int_equal(sg_sine_split_window(&s, SG_SINE_TEST, 0), 12);
    for (size_t t = 0; t < 20; t++)
        SG_ASSERT_NEAR(s.series[t], wave(0.5, 0.1, 2.0, t), 1e-15);
    SG_ASSERT_NEAR(s.series[0], 2.0 * sin(0.1), 1e-15);
    SG_ASSERT_NEAR(s.series[3], 2.0 * sin(1.6), 1e-15);

    /* Windows 3, 0, 15 (the last): x[w B + b] = y_{i_b + w}, y[b] = y_{i_b + W}. */
    const size_t idx[3] = {3, 0, 15};
    double x[4 * 3], y[3];
    assert_int_equal(sg_sine_fill_f64(&s, idx, 3, x, y), SG_OK);
    for (size_t w = 0; w < 4; w++)
        for (size_t b = 0; b < 3; b++)
            SG_ASSERT_NEAR(x[w * 3 + b], wave(0.5, 0.1, 2.0, idx[b] + w), 1e-15);
    SG_ASSERT_NEAR(x[0], 2.0 * sin(1.6), 1e-15);         /* window 3, step 0 = y_3 */
    SG_ASSERT_NEAR(x[3 * 3 + 1], 2.0 * sin(1.6), 1e-15); /* window 0, step 3 = y_3 */
    SG_ASSERT_NEAR(y[0], wave(0.5, 0.1, 2.0, 7), 1e-15);
    SG_ASSERT_NEAR(y[1], wave(0.5, 0.1, 2.0, 4), 1e-15);
    SG_ASSERT_NEAR(y[2], wave(0.5, 0.1, 2.0, 19), 1e-15); /* the last point */
    float xf[4 * 3], yf[3];
    assert_int_equal(sg_sine_fill_f32(&s, idx, 3, xf, yf), SG_OK);
    for (size_t i = 0; i < 12; i++)
        assert_true(xf[i] == (float)x[i]);
    for (size_t i = 0; i < 3; i++)
        assert_true(yf[i] == (float)y[i]);
    const size_t bad[2] = {0, 16};
    x[0] = 123.0;
    assert_int_equal(sg_sine_fill_f64(&s, bad, 2, x, y), SG_ERR_INDEX);
    assert_true(x[0] == 123.0); /* nothing written */
    sg_sine_free(&s);
    assert_null(s.series);
}

/* Batches of a split in time order, the last one shorter and packed with B_k. */
static void test_batches(void **state)
{
    (void)state;
    sg_sine_opts o = sg_sine_defaults();
    o.n_points = 30;
    o.window = 3;
    o.omega = 0.3;
    o.train_frac = 0.5; /* 27 windows: 13 train, 14 test */
    sg_sine s;
    assert_int_equal(sg_sine_init(&s, &o, NULL, NULL, 0), SG_OK);
    assert_int_equal(sg_sine_split_size(&s, SG_SINE_TRAIN), 13);
    assert_int_equal(sg_sine_split_size(&s, SG_SINE_TEST), 14);
    float x[3 * 5], y[5];
    size_t before = sg_alloc_count();
    /* test split, B = 5: windows 13..17, 18..22, 23..26 (B_k = 4) */
    const size_t want_bk[3] = {5, 5, 4};
    for (size_t k = 0; k < 3; k++) {
        size_t Bk = sg_sine_batch_f32(&s, SG_SINE_TEST, k, 5, x, y);
        assert_int_equal(Bk, want_bk[k]);
        for (size_t b = 0; b < Bk; b++) {
            size_t i = 13 + 5 * k + b;
            for (size_t w = 0; w < 3; w++)
                assert_true(x[w * Bk + b] == (float)wave(0.3, 0.0, 1.0, i + w));
            assert_true(y[b] == (float)wave(0.3, 0.0, 1.0, i + 3));
        }
    }
    assert_int_equal(sg_sine_batch_f32(&s, SG_SINE_TEST, 3, 5, x, y), 0);
    assert_int_equal(sg_sine_batch_f32(&s, SG_SINE_TEST, 0, 0, x, y), 0);
    /* train split: windows 0..12; targets y_3 .. y_15, never a test target */
    size_t n = 0, Bk;
    for (size_t k = 0; (Bk = sg_sine_batch_f32(&s, SG_SINE_TRAIN, k, 5, x, y)) > 0; k++) {
        for (size_t b = 0; b < Bk; b++, n++)
            assert_true(y[b] == (float)wave(0.3, 0.0, 1.0, n + 3));
    }
    assert_int_equal(n, 13);
    assert_int_equal(sg_alloc_count(), before);
    sg_sine_free(&s);
}

/* Noise: one sg_rng_normal per point in time order, scaled by noise_std. */
static void test_noise(void **state)
{
    (void)state;
    sg_sine_opts o = sg_sine_defaults();
    o.n_points = 50;
    o.window = 5;
    o.noise_std = 0.1;
    sg_rng r1, r2, ref;
    sg_rng_seed(&r1, 9);
    sg_rng_seed(&r2, 9);
    sg_rng_seed(&ref, 9);
    sg_sine a, b;
    assert_int_equal(sg_sine_init(&a, &o, &r1, NULL, 0), SG_OK);
    assert_int_equal(sg_sine_init(&b, &o, &r2, NULL, 0), SG_OK);
    assert_memory_equal(a.series, b.series, 50 * sizeof(double));
    double max_dev = 0.0;
    for (size_t t = 0; t < 50; t++) {
        double want = wave(o.omega, 0.0, 1.0, t) + 0.1 * sg_rng_normal(&ref);
        SG_ASSERT_NEAR(a.series[t], want, 1e-15);
        double dev = fabs(a.series[t] - wave(o.omega, 0.0, 1.0, t));
        max_dev = dev > max_dev ? dev : max_dev;
    }
    assert_true(max_dev > 0.0 && max_dev < 0.5);
    sg_sine_free(&a);
    sg_sine_free(&b);
}

static void test_errors(void **state)
{
    (void)state;
    sg_sine s;
    char err[256];
    sg_sine_opts o = sg_sine_defaults();
    o.n_points = 5;
    o.window = 5;
    assert_int_equal(sg_sine_init(&s, &o, NULL, err, sizeof err), SG_ERR_ARG);
    assert_true(sg_contains(err, "N > W"));
    assert_null(s.series);
    o = sg_sine_defaults();
    o.window = 0;
    assert_int_equal(sg_sine_init(&s, &o, NULL, err, sizeof err), SG_ERR_ARG);
    o = sg_sine_defaults();
    o.train_frac = 1.5;
    assert_int_equal(sg_sine_init(&s, &o, NULL, err, sizeof err), SG_ERR_ARG);
    assert_true(sg_contains(err, "train_frac"));
    o = sg_sine_defaults();
    o.omega = NAN;
    assert_int_equal(sg_sine_init(&s, &o, NULL, err, sizeof err), SG_ERR_ARG);
    o = sg_sine_defaults();
    o.noise_std = 0.2;
    assert_int_equal(sg_sine_init(&s, &o, NULL, err, sizeof err), SG_ERR_ARG);
    assert_true(sg_contains(err, "needs an rng"));
    o = sg_sine_defaults();
    o.noise_std = -1.0;
    assert_int_equal(sg_sine_init(&s, &o, NULL, err, sizeof err), SG_ERR_ARG);
    /* train_frac 0 and 1 are valid: one split is empty. */
    o = sg_sine_defaults();
    o.train_frac = 1.0;
    assert_int_equal(sg_sine_init(&s, &o, NULL, err, sizeof err), SG_OK);
    assert_int_equal(sg_sine_split_size(&s, SG_SINE_TEST), 0);
    assert_int_equal(sg_sine_split_size(&s, SG_SINE_TRAIN), 980);
    float x[20], y[1];
    assert_int_equal(sg_sine_batch_f32(&s, SG_SINE_TEST, 0, 1, x, y), 0);
    sg_sine_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_series_and_windows),
        cmocka_unit_test(test_batches),
        cmocka_unit_test(test_noise),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
