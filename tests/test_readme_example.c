/* test_readme_example.c — the new-cell example shown in README.md, compiled
 * and checked: a minimal gated unit written only with op calls, unrolled over
 * 6 steps, gradient-checked in f64 (model mode and per-op mode). */
#include "sg_test.h"

#include "graph/core/sg_init.h"

/* ---- README example begins ---- */
/* Minimal gated unit: z = sigmoid(x Wz + h Uz + bz)
 *                     n = tanh(x Wn + (z*h) Un + bn)
 *                     h' = h + z*(n - h)           -- no backward code anywhere */
typedef struct mgu {
    sg_param *Wz, *Wn; /* (I, H) */
    sg_param *Uz, *Un; /* (H, H) */
    sg_param *bz, *bn; /* (H) */
} mgu;

static sg_tensor *affine(sg_graph *g, sg_tensor *x, sg_param *W, sg_tensor *h, sg_param *U, sg_param *b)
{
    return sg_add(g, sg_add(g, sg_matmul(g, x, sg_param_use(g, W)), sg_matmul(g, h, sg_param_use(g, U))),
                  sg_param_use(g, b));
}

static sg_tensor *mgu_step(sg_graph *g, const mgu *c, sg_tensor *x /* (B, I) */, sg_tensor *h /* (B, H) */)
{
    sg_tensor *z = sg_sigmoid(g, affine(g, x, c->Wz, h, c->Uz, c->bz));
    sg_tensor *n = sg_tanh(g, affine(g, x, c->Wn, sg_hadamard(g, z, h), c->Un, c->bn));
    return sg_add(g, h, sg_hadamard(g, z, sg_sub(g, n, h)));
}
/* ---- README example ends ---- */

enum { B = 2, I = 3, H = 4, T = 6 };

static sg_tensor *loss_fn(sg_graph *g, void *p)
{
    const mgu *c = p;
    double xs[B * I];
    sg_tensor *h = sg_const_fill(g, "h0", SG_SHAPE(B, H), 0.0);
    for (int t = 0; t < T; t++) {
        sg_scope_push(g, "mgu/t%d", t);
        for (int i = 0; i < B * I; i++)
            xs[i] = sin(0.7 * t + 0.3 * i);
        h = mgu_step(g, c, sg_input_f64(g, "x", SG_SHAPE(B, I), xs, true), h);
        sg_scope_pop(g);
    }
    return sg_mean_all(g, sg_hadamard(g, h, h));
}

static void test_readme_cell_gradchecks(void **state)
{
    (void)state;
    sg_params *ps = sg_params_new(SG_F64);
    mgu c = {sg_params_add(ps, "Wz", SG_SHAPE(I, H)), sg_params_add(ps, "Wn", SG_SHAPE(I, H)),
             sg_params_add(ps, "Uz", SG_SHAPE(H, H)), sg_params_add(ps, "Un", SG_SHAPE(H, H)),
             sg_params_add(ps, "bz", SG_SHAPE(H)),    sg_params_add(ps, "bn", SG_SHAPE(H))};
    sg_rng rng;
    sg_rng_seed(&rng, 3);
    assert_int_equal(sg_params_init_uniform(ps, &rng, -0.5, 0.5), SG_OK);
    sg_graph *g = sg_graph_new(SG_F64);
    sg_gradcheck_report r, t;
    assert_int_equal(sg_gradcheck_model(g, ps, loss_fn, &c, NULL, &r), SG_OK);
    if (!r.passed)
        fail_msg("model mode: %.3g at %s", r.max_rel_err, r.where);
    assert_int_equal(r.n_checked, sg_params_numel(ps) + (size_t)(T * B * I)); /* params + inputs */
    assert_int_equal(sg_gradcheck_tape(g, NULL, &t), SG_OK);
    if (!t.passed)
        fail_msg("per-op: %.3g at %s", t.max_rel_err, t.where);
    print_message("  model max rel err %.2e, per-op %.2e\n", r.max_rel_err, t.max_rel_err);
    sg_graph_free(g);
    sg_params_free(ps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_readme_cell_gradchecks)};
    return cmocka_run_group_tests_name("readme_example", tests, NULL, NULL);
}
