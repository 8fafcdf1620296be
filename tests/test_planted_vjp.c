/* test_planted_vjp.c — linked against the test build of the library in which
 * the tanh VJP is deliberately wrong (SG_PLANT_BAD_VJP).  The per-op gradient
 * check must catch it and name the op and where it sits; model mode must fail
 * too.  (In the normal build the same checks pass: test_models.c.) */
#include "sg_test.h"

#include "models/addition/sg_addition.h"

typedef struct ctx {
    const sg_addition *m;
    uint32_t a[3], b[3];
} ctx;

static sg_tensor *loss_fn(sg_graph *g, void *p)
{
    ctx *c = p;
    return sg_addition_loss(g, c->m, c->a, c->b, 3, NULL);
}

static void test_per_op_check_names_planted_op(void **state)
{
    (void)state;
    sg_params *ps = sg_params_new(SG_F64);
    sg_addition m;
    assert_int_equal(sg_addition_init(&m, ps, 4, 5, SG_ACT_TANH), SG_OK);
    sg_rng rng;
    sg_rng_seed(&rng, 7);
    assert_int_equal(sg_addition_reset_parameters(&m, &rng), SG_OK);
    sg_graph *g = sg_graph_new(SG_F64);
    ctx c = {&m, {3, 5, 7}, {1, 6, 2}};
    sg_tensor *loss = loss_fn(g, &c);
    assert_non_null(loss);
    assert_int_equal(sg_backward(g, loss), SG_OK);

    sg_gradcheck_report r;
    assert_int_equal(sg_gradcheck_tape(g, NULL, &r), SG_OK);
    assert_false(r.passed);
    assert_non_null(r.bad_op);
    assert_string_equal(r.bad_op, "tanh");
    assert_true(sg_contains(r.bad_scope, "rnn/t0")); /* the first tanh is at step 0 */
    assert_true(sg_contains(r.where, "op 'tanh'"));
    assert_true(r.max_rel_err > 1e-3);

    sg_gradcheck_report mr;
    assert_int_equal(sg_gradcheck_model(g, ps, loss_fn, &c, NULL, &mr), SG_OK);
    assert_false(mr.passed);
    sg_graph_free(g);
    sg_addition_free(&m);
    sg_params_free(ps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_per_op_check_names_planted_op)};
    return cmocka_run_group_tests_name("planted_vjp", tests, NULL, NULL);
}
