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

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_expf_vec_accuracy)};
    return cmocka_run_group_tests_name("kernels", tests, NULL, NULL);
}
