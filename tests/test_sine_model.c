/* test_sine_model.c — the sine-wave predictor (models/sg_sine_model.c):
 * gradient-checked in f64 (simple RNN and LSTM, window 6, parameters and the
 * input window), and it learns the noiseless task (test MSE < 1e-3). */
#include "sg_test.h"

#include "graph/core/sg_init.h"
#include "graph/optim/sg_optim.h"
#include "models/data/sg_sine_data.h"
#include "models/sine/sg_sine_model.h"

typedef struct ctx {
    sg_sine_model *m;
    double x[6 * 3], y[3];
} ctx;

static sg_tensor *loss_fn(sg_graph *g, void *p)
{
    ctx *c = p;
    return sg_sine_model_forward(g, c->m, sg_input_f64(g, "x", SG_SHAPE(6, 3, 1), c->x, true),
                                 sg_input_f64(g, "y", SG_SHAPE(3, 1), c->y, false), NULL);
}

static void check(sg_cell_kind kind)
{
    sg_params *ps = sg_params_new(SG_F64);
    sg_sine_model m;
    assert_int_equal(sg_sine_model_init(&m, ps, kind, SG_ACT_TANH, 5), SG_OK);
    sg_rng rng;
    sg_rng_seed(&rng, 2);
    assert_int_equal(sg_params_init_uniform(ps, &rng, -0.5, 0.5), SG_OK);
    ctx c = {&m, {0}, {0.1, -0.4, 0.7}};
    for (int i = 0; i < 18; i++)
        c.x[i] = sin(0.3 * i);
    sg_graph *g = sg_graph_new(SG_F64);
    sg_gradcheck_report r, t;
    assert_int_equal(sg_gradcheck_model(g, ps, loss_fn, &c, NULL, &r), SG_OK);
    assert_int_equal(r.n_checked, sg_params_numel(ps) + 18);
    if (!r.passed)
        fail_msg("%s: %.3g at %s", sg_cell_kind_name(kind), r.max_rel_err, r.where);
    assert_int_equal(sg_gradcheck_tape(g, NULL, &t), SG_OK);
    assert_true(t.passed);
    print_message("  %s: model %.2e, per-op %.2e\n", sg_cell_kind_name(kind), r.max_rel_err, t.max_rel_err);
    sg_graph_free(g);
    sg_sine_model_free(&m);
    sg_params_free(ps);
}

static void test_gradcheck_rnn(void **s)
{
    (void)s;
    check(SG_CELL_RNN);
}
static void test_gradcheck_lstm(void **s)
{
    (void)s;
    check(SG_CELL_LSTM);
}

static void test_learns(void **s)
{
    (void)s;
    sg_rng rng;
    sg_rng_seed(&rng, 1);
    sg_sine data;
    sg_sine_opts so = sg_sine_defaults();
    so.window = 20;
    char err[256];
    assert_int_equal(sg_sine_init(&data, &so, &rng, err, sizeof err), SG_OK);
    sg_params *ps = sg_params_new(SG_F32);
    sg_sine_model m;
    assert_int_equal(sg_sine_model_init(&m, ps, SG_CELL_RNN, SG_ACT_TANH, 16), SG_OK);
    assert_int_equal(sg_params_init_uniform(ps, &rng, -0.3, 0.3), SG_OK);
    sg_optim opt;
    sg_adam_config ac = sg_adam_defaults();
    ac.lr = 0.01;
    assert_int_equal(sg_optim_init_adam(&opt, &ac), SG_OK);
    sg_graph *g = sg_graph_new(SG_F32);
    float x[20 * 32], y[32];
    size_t n_train = sg_sine_split_size(&data, SG_SINE_TRAIN), nb = (n_train + 31) / 32;
    for (size_t step = 0; step < 800; step++) {
        size_t bk = sg_sine_batch_f32(&data, SG_SINE_TRAIN, step % nb, 32, x, y);
        sg_graph_reset(g);
        sg_params_zero_grad(ps);
        sg_tensor *loss = sg_sine_model_forward(g, &m, sg_input_f32(g, "x", SG_SHAPE(20, bk, 1), x, false),
                                                sg_input_f32(g, "y", SG_SHAPE(bk, 1), y, false), NULL);
        assert_int_equal(sg_backward(g, loss), SG_OK);
        sg_params_clip_grad_norm(ps, 1.0);
        assert_int_equal(sg_optim_step(&opt, ps), SG_OK);
    }
    double total = 0;
    size_t n = 0, bk, k = 0;
    while ((bk = sg_sine_batch_f32(&data, SG_SINE_TEST, k++, 32, x, y)) > 0) {
        sg_graph_reset(g);
        sg_tensor *loss = sg_sine_model_forward(g, &m, sg_input_f32(g, "x", SG_SHAPE(20, bk, 1), x, false),
                                                sg_input_f32(g, "y", SG_SHAPE(bk, 1), y, false), NULL);
        total += sg_tensor_get(loss, 0) * (double)bk;
        n += bk;
    }
    print_message("  test mse %.3e over %zu windows\n", total / (double)n, n);
    assert_true(total / (double)n < 1e-3);
    sg_graph_free(g);
    sg_sine_model_free(&m);
    sg_params_free(ps);
    sg_sine_free(&data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_gradcheck_rnn), cmocka_unit_test(test_gradcheck_lstm),
                                       cmocka_unit_test(test_learns)};
    return cmocka_run_group_tests_name("sine_model", tests, NULL, NULL);
}
