/* test_models.c — the Elman RNN and the binary-addition model, built only
 * from op calls: the model gradient-checks in f64 (model mode and per-op mode)
 * with each activation, it learns the task, and a steady-state training step
 * allocates nothing from the heap (counted through sg_alloc). */
#include "sg_test.h"

#include "graph/core/sg_alloc.h"
#include "graph/optim/sg_optim.h"
#include "models/addition/sg_addition.h"

typedef struct ctx {
    const sg_addition *m;
    uint32_t a[4], b[4];
} ctx;

static sg_tensor *loss_fn(sg_graph *g, void *p)
{
    ctx *c = p;
    return sg_addition_loss(g, c->m, c->a, c->b, 4, NULL);
}

static void gradcheck_with(sg_activation f)
{
    sg_params *ps = sg_params_new(SG_F64);
    sg_addition m;
    assert_int_equal(sg_addition_init(&m, ps, 6, 7, f), SG_OK);
    sg_rng rng;
    sg_rng_seed(&rng, 11);
    assert_int_equal(sg_addition_reset_parameters(&m, &rng), SG_OK);
    sg_graph *g = sg_graph_new(SG_F64);
    ctx c = {&m, {3, 17, 29, 8}, {12, 30, 1, 8}};
    sg_gradcheck_report r;
    assert_int_equal(sg_gradcheck_model(g, ps, loss_fn, &c, NULL, &r), SG_OK);
    if (!r.passed)
        fail_msg("%s: model mode max rel err %.3g at %s (analytic %.10g numeric %.10g)", sg_activation_name(f),
                 r.max_rel_err, r.where, r.worst_analytic, r.worst_numeric);
    assert_int_equal(r.n_checked, sg_params_numel(ps));
    sg_gradcheck_report t;
    assert_int_equal(sg_gradcheck_tape(g, NULL, &t), SG_OK);
    if (!t.passed)
        fail_msg("%s: per-op max rel err %.3g at %s", sg_activation_name(f), t.max_rel_err, t.where);
    print_message("  %s: model max rel err %.2e (%zu elems), per-op %.2e (%zu elems)\n", sg_activation_name(f),
                  r.max_rel_err, r.n_checked, t.max_rel_err, t.n_checked);
    sg_graph_free(g);
    sg_addition_free(&m);
    sg_params_free(ps);
}

static void test_gradcheck_tanh(void **s)
{
    (void)s;
    gradcheck_with(SG_ACT_TANH);
}
static void test_gradcheck_sigmoid(void **s)
{
    (void)s;
    gradcheck_with(SG_ACT_SIGMOID);
}
static void test_gradcheck_relu(void **s)
{
    (void)s;
    gradcheck_with(SG_ACT_RELU);
}

/* Inputs with requires_grad are checked too, and reported with their scope. */
static sg_tensor *input_loss_fn(sg_graph *g, void *p)
{
    const sg_param *w = p;
    double xv[6] = {0.3, -0.2, 0.5, 0.1, -0.4, 0.8};
    sg_scope_push(g, "enc");
    sg_scope_push(g, "t%d", 2);
    sg_tensor *x = sg_input_f64(g, "x", SG_SHAPE(2, 3), xv, true);
    sg_tensor *y = sg_tanh(g, sg_matmul(g, x, sg_param_use(g, (sg_param *)w)));
    sg_scope_pop(g);
    sg_scope_pop(g);
    return sg_sum_all(g, sg_hadamard(g, y, y));
}

static void test_gradcheck_inputs(void **s)
{
    (void)s;
    sg_params *ps = sg_params_new(SG_F64);
    sg_param *w = sg_params_add(ps, "w", SG_SHAPE(3, 2));
    for (size_t i = 0; i < 6; i++)
        sg_param_set(w, i, 0.1 * (double)i - 0.2);
    sg_graph *g = sg_graph_new(SG_F64);
    sg_gradcheck_report r;
    assert_int_equal(sg_gradcheck_model(g, ps, input_loss_fn, w, NULL, &r), SG_OK);
    assert_true(r.passed);
    assert_int_equal(r.n_checked, 6 + 6); /* 6 parameter + 6 input elements */
    /* f32 graphs are refused: checks run in f64 */
    sg_graph *g32 = sg_graph_new(SG_F32);
    assert_int_equal(sg_gradcheck_model(g32, ps, input_loss_fn, w, NULL, &r), SG_ERR_DTYPE);
    sg_graph_free(g32);
    sg_graph_free(g);
    sg_params_free(ps);
}

/* Trains the addition RNN; returns the number of pairs right, and the heap
 * allocations made by the training steps after the first `warm` ones. */
static size_t train(size_t steps, size_t warm, size_t *steady_allocs)
{
    sg_params *ps = sg_params_new(SG_F32);
    sg_addition m;
    assert_int_equal(sg_addition_init(&m, ps, 8, 16, SG_ACT_TANH), SG_OK);
    sg_rng rng;
    sg_rng_seed(&rng, 1);
    assert_int_equal(sg_addition_reset_parameters(&m, &rng), SG_OK);
    sg_optim opt;
    sg_adam_config cfg = sg_adam_defaults();
    cfg.lr = 0.01;
    assert_int_equal(sg_optim_init_adam(&opt, &cfg), SG_OK);
    sg_graph *g = sg_graph_new(SG_F32);
    uint32_t a[32], b[32];
    size_t before = 0;
    for (size_t step = 0; step < steps; step++) {
        if (step == warm)
            before = sg_alloc_count();
        for (size_t i = 0; i < 32; i++) {
            a[i] = (uint32_t)sg_rng_below(&rng, 128);
            b[i] = (uint32_t)sg_rng_below(&rng, 128);
        }
        sg_graph_reset(g);
        sg_params_zero_grad(ps);
        sg_tensor *loss = sg_addition_loss(g, &m, a, b, 32, NULL);
        SG_ASSERT_GRAPH_OK(g);
        assert_int_equal(sg_backward(g, loss), SG_OK);
        sg_params_clip_grad_norm(ps, 5.0);
        assert_int_equal(sg_optim_step(&opt, ps), SG_OK);
    }
    *steady_allocs = sg_alloc_count() - before;
    /* exact-match accuracy on all 128 x 128 pairs */
    uint32_t *aa = sg_malloc(16384 * sizeof *aa), *bb = sg_malloc(16384 * sizeof *bb);
    for (size_t i = 0; i < 16384; i++) {
        aa[i] = (uint32_t)(i / 128);
        bb[i] = (uint32_t)(i % 128);
    }
    sg_graph *eg = sg_graph_new(SG_F32);
    size_t correct = sg_addition_count_correct(eg, &m, aa, bb, 16384);
    sg_free(aa);
    sg_free(bb);
    sg_graph_free(eg);
    sg_graph_free(g);
    sg_addition_free(&m);
    sg_params_free(ps);
    return correct;
}

static void test_learns_addition(void **s)
{
    (void)s;
    size_t allocs;
    size_t correct = train(1000, 2, &allocs);
    print_message("  %zu / 16384 pairs right after 1000 steps\n", correct);
    assert_int_equal(correct, 16384);
}

/* After the first steps, a training step (reset, forward, backward, clip, Adam)
 * takes nothing from the heap: the arena and the tape are reused. */
static void test_steady_state_allocates_nothing(void **s)
{
    (void)s;
    size_t allocs;
    train(50, 2, &allocs);
    assert_int_equal(allocs, 0);
    /* the counter itself works: one allocation is seen */
    size_t c0 = sg_alloc_count();
    void *p = sg_malloc(16);
    assert_int_equal(sg_alloc_count(), c0 + 1);
    sg_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradcheck_tanh),  cmocka_unit_test(test_gradcheck_sigmoid),
        cmocka_unit_test(test_gradcheck_relu),  cmocka_unit_test(test_gradcheck_inputs),
        cmocka_unit_test(test_learns_addition), cmocka_unit_test(test_steady_state_allocates_nothing),
    };
    return cmocka_run_group_tests_name("models", tests, NULL, NULL);
}
