/* test_nn.c — the layer level (models/nn): each layer's values against a
 * direct computation, and each layer gradient-checked in f64 (model mode:
 * central differences of the whole loss against backward) with fixed seeds;
 * errors are named. */
#include "sg_test.h"

#include "graph/core/sg_init.h"
#include "models/nn/sg_nn.h"

/* One case: parameters set up once, a loss built on every evaluation. */
typedef struct nn_case {
    sg_linear lin;
    sg_embedding emb;
    double x[24]; /* inputs, up to (2, 3, 4) */
    double t[24]; /* targets or second inputs */
    int32_t ids[6];
    int which;
} nn_case;

enum { NN_LINEAR3D, NN_EMBED_CE, NN_EMBED_CE_WEIGHTED, NN_BCE, NN_MSE, NN_KL, NN_KL_STD, NN_AFFINE_T };

static sg_tensor *nn_loss(sg_graph *g, void *ctx)
{
    nn_case *c = ctx;
    switch (c->which) {
    case NN_LINEAR3D: { /* (2, 3, 4) -> (2, 3, 5), then sum of squares */
        sg_tensor *x = sg_input_f64(g, "x", SG_SHAPE(2, 3, 4), c->x, true);
        sg_tensor *y = sg_linear_forward(g, &c->lin, x);
        return sg_sum_all(g, sg_hadamard(g, y, y));
    }
    case NN_EMBED_CE:
    case NN_EMBED_CE_WEIGHTED: { /* ids (6) -> (6, 4) -> logits (6, 5) -> CE */
        sg_tensor *e = sg_embedding_lookup(g, &c->emb, SG_SHAPE(6), c->ids);
        sg_tensor *l = sg_linear_forward(g, &c->lin, e);
        int32_t tg[6] = {0, 4, SG_IGNORE_TARGET, 2, 2, 1};
        sg_tensor *tt = sg_ids(g, "y", SG_SHAPE(6), tg);
        sg_tensor *w = c->which == NN_EMBED_CE ? NULL : sg_input_f64(g, "w", SG_SHAPE(6), c->t, false);
        return sg_loss_cross_entropy(g, l, tt, w, SG_REDUCE_MEAN);
    }
    case NN_BCE: {
        sg_tensor *l = sg_input_f64(g, "l", SG_SHAPE(3, 4), c->x, true);
        sg_tensor *s = sg_input_f64(g, "s", SG_SHAPE(3, 4), c->t, false);
        return sg_loss_bce_logits(g, l, s, SG_REDUCE_MEAN);
    }
    case NN_MSE: {
        sg_tensor *p = sg_input_f64(g, "p", SG_SHAPE(3, 4), c->x, true);
        sg_tensor *y = sg_input_f64(g, "y", SG_SHAPE(3, 4), c->t, true);
        return sg_loss_mse(g, p, y, SG_REDUCE_SUM);
    }
    case NN_KL:
    case NN_KL_STD: { /* q and p each (2, 3): mu and log-variance */
        sg_tensor *mq = sg_input_f64(g, "mu_q", SG_SHAPE(2, 3), c->x, true);
        sg_tensor *vq = sg_input_f64(g, "lv_q", SG_SHAPE(2, 3), c->x + 6, true);
        sg_tensor *mp = c->which == NN_KL ? sg_input_f64(g, "mu_p", SG_SHAPE(2, 3), c->t, true) : NULL;
        sg_tensor *vp = c->which == NN_KL ? sg_input_f64(g, "lv_p", SG_SHAPE(2, 3), c->t + 6, true) : NULL;
        return sg_loss_kl_gaussian(g, mq, vq, mp, vp, SG_REDUCE_MEAN);
    }
    case NN_AFFINE_T: { /* tied output: x (3, 4) E^T (E (5, 4)) + b */
        sg_tensor *x = sg_input_f64(g, "x", SG_SHAPE(3, 4), c->x, true);
        sg_tensor *l = sg_affine_t(g, x, sg_param_use(g, c->emb.E), sg_param_use(g, c->lin.b));
        int32_t tg[3] = {1, 0, 4};
        return sg_loss_cross_entropy(g, l, sg_ids(g, "y", SG_SHAPE(3), tg), NULL, SG_REDUCE_SUM);
    }
    }
    return NULL;
}

static void nn_setup(nn_case *c, sg_params *ps, sg_rng *rng, int which)
{
    memset(c, 0, sizeof *c);
    c->which = which;
    assert_int_equal(sg_linear_init(&c->lin, ps, "lin", 4, 5, true), SG_OK);
    assert_int_equal(sg_embedding_init(&c->emb, ps, "emb", 5, 4), SG_OK);
    assert_int_equal(sg_params_init_uniform(ps, rng, -0.8, 0.8), SG_OK);
    for (size_t i = 0; i < 24; i++) {
        c->x[i] = sg_rng_range(rng, -1.5, 1.5);
        c->t[i] = sg_rng_uniform(rng); /* in [0, 1): BCE targets, CE weights, KL p */
    }
    int32_t ids[6] = {3, 0, 4, 4, 1, 2};
    memcpy(c->ids, ids, sizeof ids);
}

static void test_layers_gradcheck(void **s)
{
    (void)s;
    static const char *names[] = {
        "linear (T, B, I)", "embedding + CE", "embedding + weighted CE", "BCE on logits", "MSE", "KL(q || p)",
        "KL(q || N(0, I))", "tied affine"};
    for (int which = NN_LINEAR3D; which <= NN_AFFINE_T; which++) {
        sg_params *ps = sg_params_new(SG_F64);
        sg_rng rng;
        sg_rng_seed(&rng, 1234 + (uint64_t)which);
        nn_case c;
        nn_setup(&c, ps, &rng, which);
        sg_graph *g = sg_graph_new(SG_F64);
        sg_gradcheck_report r;
        assert_int_equal(sg_gradcheck_model(g, ps, nn_loss, &c, NULL, &r), SG_OK);
        if (!r.passed)
            fail_msg("%s: max rel err %.3g at %s", names[which], r.max_rel_err, r.where);
        assert_true(r.n_checked > 0);
        /* per-op mode on the recorded tape */
        assert_int_equal(sg_gradcheck_tape(g, NULL, &r), SG_OK);
        if (!r.passed)
            fail_msg("%s per-op: %s in %s", names[which], r.bad_op ? r.bad_op : "?", r.bad_scope);
        sg_graph_free(g);
        sg_params_free(ps);
    }
}

/* Values against direct formulas. */
static void test_layer_values(void **s)
{
    (void)s;
    sg_params *ps = sg_params_new(SG_F64);
    sg_rng rng;
    sg_rng_seed(&rng, 7);
    nn_case c;
    nn_setup(&c, ps, &rng, NN_BCE);
    sg_graph *g = sg_graph_new(SG_F64);

    /* linear on (2, 3, 4) equals the per-row affine map */
    sg_tensor *x = sg_input_f64(g, "x", SG_SHAPE(2, 3, 4), c.x, false);
    sg_tensor *y = sg_linear_forward(g, &c.lin, x);
    SG_ASSERT_GRAPH_OK(g);
    assert_int_equal(y->shape.ndim, 3);
    assert_int_equal(y->shape.d[2], 5);
    for (size_t r = 0; r < 6; r++)
        for (size_t o = 0; o < 5; o++) {
            double want = sg_param_get(c.lin.b, o);
            for (size_t i = 0; i < 4; i++)
                want += c.x[r * 4 + i] * sg_param_get(c.lin.W, i * 5 + o);
            SG_ASSERT_NEAR(sg_tensor_get(y, r * 5 + o), want, 1e-12);
        }

    /* BCE: softplus(l) - s l, mean */
    sg_tensor *l = sg_input_f64(g, "l", SG_SHAPE(12), c.x, false);
    sg_tensor *t = sg_input_f64(g, "t", SG_SHAPE(12), c.t, false);
    double want = 0;
    for (size_t i = 0; i < 12; i++)
        want += log1p(exp(c.x[i])) - c.t[i] * c.x[i];
    sg_tensor *bce = sg_loss_bce_logits(g, l, t, SG_REDUCE_MEAN);
    SG_ASSERT_GRAPH_OK(g);
    SG_ASSERT_NEAR(sg_tensor_get(bce, 0), want / 12, 1e-12);

    /* MSE */
    want = 0;
    for (size_t i = 0; i < 12; i++)
        want += (c.x[i] - c.t[i]) * (c.x[i] - c.t[i]);
    SG_ASSERT_NEAR(sg_tensor_get(sg_loss_mse(g, l, t, SG_REDUCE_MEAN), 0), want / 12, 1e-12);

    /* KL of two diagonal Gaussians, per row, against the closed form */
    sg_tensor *mq = sg_input_f64(g, "mq", SG_SHAPE(2, 3), c.x, false);
    sg_tensor *vq = sg_input_f64(g, "vq", SG_SHAPE(2, 3), c.x + 6, false);
    sg_tensor *mp = sg_input_f64(g, "mp", SG_SHAPE(2, 3), c.t, false);
    sg_tensor *vp = sg_input_f64(g, "vp", SG_SHAPE(2, 3), c.t + 6, false);
    sg_tensor *kl = sg_loss_kl_gaussian(g, mq, vq, mp, vp, SG_REDUCE_NONE);
    SG_ASSERT_GRAPH_OK(g);
    assert_int_equal(kl->numel, 2);
    for (size_t b = 0; b < 2; b++) {
        double k = 0;
        for (size_t z = 0; z < 3; z++) {
            double sq = exp(0.5 * c.x[6 + b * 3 + z]), sp = exp(0.5 * c.t[6 + b * 3 + z]);
            double d = c.x[b * 3 + z] - c.t[b * 3 + z];
            k += log(sp / sq) + (sq * sq + d * d) / (2 * sp * sp) - 0.5;
        }
        SG_ASSERT_NEAR(sg_tensor_get(kl, b), k, 1e-12);
    }
    /* a missing input is an error on the graph, whatever the reduction */
    sg_graph *ge = sg_graph_new(SG_F64);
    assert_null(
        sg_loss_kl_gaussian(ge, NULL, sg_input_f64(ge, "vq", SG_SHAPE(2, 3), c.x, false), NULL, NULL, SG_REDUCE_NONE));
    assert_int_equal(sg_graph_status(ge), SG_ERR_ARG);
    sg_graph_free(ge);
    /* KL(q || q) = 0 */
    SG_ASSERT_NEAR(sg_tensor_get(sg_loss_kl_gaussian(g, mq, vq, mq, vq, SG_REDUCE_SUM), 0), 0.0, 1e-14);

    /* weighted CE with 0/1 weights equals CE with those rows ignored */
    double w01[6] = {1, 0, 1, 1, 0, 1};
    int32_t tg[6] = {0, 3, 3, 2, 2, 1}, tg_ign[6] = {0, SG_IGNORE_TARGET, 3, 2, SG_IGNORE_TARGET, 1};
    sg_tensor *logits = sg_input_f64(g, "logits", SG_SHAPE(6, 4), c.x, false);
    double a = sg_tensor_get(sg_loss_cross_entropy(g, logits, sg_ids(g, "t", SG_SHAPE(6), tg),
                                                   sg_input_f64(g, "w", SG_SHAPE(6), w01, false), SG_REDUCE_MEAN),
                             0);
    double b =
        sg_tensor_get(sg_loss_cross_entropy(g, logits, sg_ids(g, "t", SG_SHAPE(6), tg_ign), NULL, SG_REDUCE_MEAN), 0);
    SG_ASSERT_GRAPH_OK(g);
    SG_ASSERT_NEAR(a, b, 1e-12);
    sg_graph_free(g);
    sg_params_free(ps);
}

static void test_dropout(void **s)
{
    (void)s;
    sg_graph *g = sg_graph_new(SG_F64);
    sg_rng rng;
    sg_rng_seed(&rng, 3);
    double ones[2 * 50 * 20];
    for (size_t i = 0; i < sizeof ones / sizeof ones[0]; i++)
        ones[i] = 1.0;
    sg_tensor *x = sg_input_f64(g, "x", SG_SHAPE(2, 50, 20), ones, false);
    /* evaluation mode and p = 0: x itself, no draw */
    sg_rng before = rng;
    assert_ptr_equal(sg_dropout(g, x, 0.5, false, &rng), x);
    assert_ptr_equal(sg_dropout_variational(g, x, 0.0, true, &rng), x);
    assert_memory_equal(&before, &rng, sizeof rng);
    /* variational: one (B, F) mask for both steps, entries 0 or 1/(1-p) */
    sg_tensor *v = sg_dropout_variational(g, x, 0.25, true, &rng);
    SG_ASSERT_GRAPH_OK(g);
    size_t kept = 0;
    for (size_t i = 0; i < 1000; i++) {
        double a = sg_tensor_get(v, i), b = sg_tensor_get(v, 1000 + i);
        assert_true(a == b);
        assert_true(a == 0.0 || fabs(a - 1.0 / 0.75) < 1e-15);
        kept += a != 0.0;
    }
    assert_true(kept > 680 && kept < 820); /* 750 expected */
    /* plain: fresh per element, so the two steps differ */
    sg_tensor *d = sg_dropout(g, x, 0.25, true, &rng);
    size_t differ = 0;
    for (size_t i = 0; i < 1000; i++)
        differ += sg_tensor_get(d, i) != sg_tensor_get(d, 1000 + i);
    assert_true(differ > 200);
    /* bad rate and missing rng are errors, not silent changes */
    assert_null(sg_dropout(g, x, 1.0, true, &rng));
    assert_true(sg_contains(sg_graph_error(g), "p must be in [0, 1)"));
    sg_graph_clear_error(g);
    assert_null(sg_dropout(g, x, 0.5, true, NULL));
    assert_true(sg_contains(sg_graph_error(g), "rng"));
    sg_graph_clear_error(g);
    assert_null(sg_dropout_variational(g, sg_input_f64(g, "x2", SG_SHAPE(4), ones, false), 0.5, true, &rng));
    assert_true(sg_contains(sg_graph_error(g), "(T, B, F)"));
    sg_graph_free(g);
}

static void test_init_errors(void **s)
{
    (void)s;
    sg_params *ps = sg_params_new(SG_F64);
    sg_linear l;
    sg_embedding e;
    assert_int_equal(sg_linear_init(&l, ps, "a", 0, 3, true), SG_ERR_ARG);
    assert_int_equal(sg_linear_init(&l, ps, "a", 2, 3, true), SG_OK);
    assert_int_equal(sg_linear_init(&l, ps, "a", 2, 3, false), SG_ERR_ARG); /* "a.W" taken */
    size_t n = sg_params_numel(ps);
    assert_int_equal(sg_linear_init(&l, ps, "b", 2, 3, false), SG_OK);
    assert_null(l.b);
    assert_int_equal(sg_params_numel(ps), n + 6);
    assert_int_equal(sg_embedding_init(&e, ps, "a.W", 4, 2), SG_ERR_ARG);
    assert_int_equal(sg_embedding_init(&e, ps, "E", 4, 0), SG_ERR_ARG);
    sg_activation act;
    assert_int_equal(sg_activation_parse("relu", &act), SG_OK);
    assert_int_equal(act, SG_ACT_RELU);
    assert_int_equal(sg_activation_parse("gelu", &act), SG_ERR_ARG);
    /* an uninitialized layer is an error on the graph */
    sg_graph *g = sg_graph_new(SG_F64);
    sg_linear none = {0};
    assert_null(sg_linear_forward(g, &none, sg_const_fill(g, "x", SG_SHAPE(1, 2), 1.0)));
    assert_true(sg_contains(sg_graph_error(g), "linear layer"));
    sg_graph_free(g);
    sg_params_free(ps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layers_gradcheck),
        cmocka_unit_test(test_layer_values),
        cmocka_unit_test(test_dropout),
        cmocka_unit_test(test_init_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
