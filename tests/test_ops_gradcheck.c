/* test_ops_gradcheck.c — walks the one op table: every op must have a VJP for
 * each differentiable input and a gradient-check case, and every case must
 * pass the per-op check in f64 (max relative error <= 1e-6) over all its
 * variants, each with two fixed seeds. */
#include "sg_test.h"

static void test_table_is_complete(void **state)
{
    (void)state;
    assert_true(sg_op_table_len > 0);
    for (size_t i = 0; i < sg_op_table_len; i++) {
        const sg_op *op = sg_op_table[i];
        assert_non_null(op->name);
        assert_non_null(op->shape);
        assert_non_null(op->forward);
        bool all_nondiff = op->arity >= 0 && op->arity <= 31 && op->nondiff_inputs == (1u << op->arity) - 1u;
        if (!op->vjp && !all_nondiff)
            fail_msg("op '%s' has differentiable inputs but no VJP", op->name);
        if (!op->example || op->n_variants < 1)
            fail_msg("op '%s' has no gradient-check case", op->name);
        /* names are unique: the table is the one registry */
        for (size_t j = 0; j < i; j++)
            if (strcmp(sg_op_table[j]->name, op->name) == 0)
                fail_msg("op name '%s' is registered twice", op->name);
        assert_ptr_equal(sg_op_find(op->name), op);
    }
}

static void test_every_op_gradchecks(void **state)
{
    (void)state;
    sg_graph *g = sg_graph_new(SG_F64);
    assert_non_null(g);
    sg_gradcheck_opts o = sg_gradcheck_defaults();
    for (size_t i = 0; i < sg_op_table_len; i++) {
        const sg_op *op = sg_op_table[i];
        for (int v = 0; v < op->n_variants; v++) {
            for (uint64_t seed = 1; seed <= 2; seed++) {
                sg_graph_reset(g);
                sg_rng rng;
                sg_rng_seed(&rng, 1000 * seed + (uint64_t)v);
                sg_tensor *out = op->example(g, &rng, v);
                if (!out)
                    fail_msg("op '%s' variant %d: example failed: %s", op->name, v, sg_graph_error(g));
                size_t n_op_nodes = 0;
                bool found = false;
                for (size_t k = 0; k < sg_graph_tape_len(g); k++) {
                    sg_tensor *t = sg_graph_tape_at(g, k);
                    if (t->kind == SG_KIND_OP)
                        n_op_nodes++;
                    if (t->op == op)
                        found = true;
                }
                if (!found)
                    fail_msg("op '%s' variant %d: the example does not record the op", op->name, v);
                sg_gradcheck_report rep;
                assert_int_equal(sg_gradcheck_tape(g, &o, &rep), SG_OK);
                if (!rep.passed || rep.n_checked == 0)
                    fail_msg("op '%s' variant %d seed %d: max rel err %.3g at %s (analytic %.12g, numeric %.12g), "
                             "%zu checked",
                             op->name, v, (int)seed, rep.max_rel_err, rep.where, rep.worst_analytic, rep.worst_numeric,
                             rep.n_checked);
                print_message("  %-14s variant %d seed %d: %3zu elements, max rel err %.2e\n", op->name, v, (int)seed,
                              rep.n_checked, rep.max_rel_err);
                (void)n_op_nodes;
            }
        }
    }
    sg_graph_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_is_complete),
        cmocka_unit_test(test_every_op_gradchecks),
    };
    return cmocka_run_group_tests_name("ops_gradcheck", tests, NULL, NULL);
}
