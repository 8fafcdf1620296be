/* test_registry.c — the op registry's generic caller (frontends/registry):
 * for every type code, a registered function called through libffi gives
 * exactly what the direct C call gives (same values, bit for bit, same
 * status), including struct-by-value shapes, arrays in and out, enums,
 * layers and the built-in cells' steps; an unknown name is not found. */
#include "sg_test.h"

#include "frontends/registry/sg_registry.h"
#include "graph/core/sg_init.h"

static sg_reg_call prep(const char *name)
{
    sg_reg_call c;
    char err[256];
    const sg_reg_fn *e = sg_registry_find(name);
    if (!e)
        fail_msg("'%s' is not registered", name);
    if (sg_reg_call_prepare(&c, e, err, sizeof err) != SG_OK)
        fail_msg("%s", err);
    return c;
}

static void same(const sg_tensor *a, const sg_tensor *b)
{
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(a->shape.ndim, b->shape.ndim);
    for (int k = 0; k < a->shape.ndim; k++)
        assert_int_equal(a->shape.d[k], b->shape.d[k]);
    for (size_t i = 0; i < a->numel; i++)
        assert_true(sg_tensor_get(a, i) == sg_tensor_get(b, i));
}

static sg_tensor *rnd(sg_graph *g, sg_rng *r, sg_shape s)
{
    double v[64];
    for (size_t i = 0; i < sg_shape_numel(s); i++)
        v[i] = sg_rng_range(r, -1, 1);
    return sg_input_f64(g, "x", s, v, true);
}

/* f(g, x) for one tensor argument and one extra value. */
static sg_tensor *call(const char *name, sg_reg_value *args)
{
    sg_reg_call c = prep(name);
    sg_reg_value ret;
    sg_reg_call_invoke(&c, args, &ret);
    return ret.p;
}

static void test_every_type_through_libffi(void **state)
{
    (void)state;
    sg_graph *g = sg_graph_new(SG_F64);
    sg_rng r;
    sg_rng_seed(&r, 4);
    sg_tensor *x = rnd(g, &r, SG_SHAPE(2, 6)), *y = rnd(g, &r, SG_SHAPE(2, 6)), *w = rnd(g, &r, SG_SHAPE(6, 3));
    /* GRAPH TENSOR */
    same(call("tanh", (sg_reg_value[]){{.p = g}, {.p = x}}), sg_tanh(g, x));
    same(call("hadamard", (sg_reg_value[]){{.p = g}, {.p = x}, {.p = y}}), sg_hadamard(g, x, y));
    /* DOUBLE, INT, BOOL */
    same(call("scale", (sg_reg_value[]){{.p = g}, {.p = x}, {.f = -2.5}}), sg_scale(g, x, -2.5));
    same(call("sum", (sg_reg_value[]){{.p = g}, {.p = x}, {.i = -1}}), sg_sum(g, x, -1));
    same(call("matmul_t", (sg_reg_value[]){{.p = g}, {.p = x}, {.p = y}, {.b = false}, {.b = true}}),
         sg_matmul_t(g, x, y, false, true));
    same(call("matmul_t", (sg_reg_value[]){{.p = g}, {.p = x}, {.p = y}, {.b = true}, {.b = false}}),
         sg_matmul_t(g, x, y, true, false));
    /* SHAPE by value; INT SIZE SIZE */
    same(call("reshape", (sg_reg_value[]){{.p = g}, {.p = x}, {.shape = SG_SHAPE(3, 1, 4)}}),
         sg_reshape(g, x, SG_SHAPE(3, 1, 4)));
    same(call("slice", (sg_reg_value[]){{.p = g}, {.p = x}, {.i = 1}, {.z = 2}, {.z = 3}}), sg_slice(g, x, 1, 2, 3));
    /* TENSORS in, TENSORS_OUT with a STATUS, SIZES */
    sg_tensor *xs[3] = {x, y, x};
    same(call("concat", (sg_reg_value[]){{.p = g}, {.p = xs}, {.z = 3}, {.i = 0}}), sg_concat(g, xs, 3, 0));
    sg_tensor *out_ffi[3], *out_c[3];
    sg_reg_call c = prep("split");
    sg_reg_value ret;
    sg_reg_call_invoke(&c, (sg_reg_value[]){{.p = g}, {.p = x}, {.i = 1}, {.z = 3}, {.p = out_ffi}}, &ret);
    assert_int_equal(ret.i, SG_OK);
    assert_int_equal(sg_split(g, x, 1, 3, out_c), SG_OK);
    for (int k = 0; k < 3; k++)
        same(out_ffi[k], out_c[k]);
    size_t sizes[2] = {1, 5};
    c = prep("split_sizes");
    sg_reg_call_invoke(&c, (sg_reg_value[]){{.p = g}, {.p = x}, {.i = 1}, {.p = sizes}, {.z = 2}, {.p = out_ffi}},
                       &ret);
    assert_int_equal(ret.i, SG_OK);
    assert_int_equal(sg_split_sizes(g, x, 1, sizes, 2, out_c), SG_OK);
    same(out_ffi[0], out_c[0]);
    same(out_ffi[1], out_c[1]);
    /* a failing call returns the same status and leaves the same sticky error */
    sg_graph *bad = sg_graph_new(SG_F64);
    sg_tensor *bx = rnd(bad, &r, SG_SHAPE(2, 5));
    c = prep("split");
    sg_reg_call_invoke(&c, (sg_reg_value[]){{.p = bad}, {.p = bx}, {.i = 1}, {.z = 3}, {.p = out_ffi}}, &ret);
    assert_int_equal(ret.i, SG_ERR_SHAPE);
    assert_non_null(strstr(sg_graph_error(bad), "split"));
    sg_graph_free(bad);
    /* STRING SHAPE DOUBLES BOOL; IDS; REDUCTION */
    double data[6] = {1, 2, 3, 4, 5, 6};
    same(call("input_f64", (sg_reg_value[]){{.p = g}, {.p = "d"}, {.shape = SG_SHAPE(3, 2)}, {.p = data}, {.b = true}}),
         sg_input_f64(g, "d", SG_SHAPE(3, 2), data, true));
    int32_t ids[2] = {4, 1};
    sg_tensor *t_ids = call("ids", (sg_reg_value[]){{.p = g}, {.p = "y"}, {.shape = SG_SHAPE(2)}, {.p = ids}});
    same(t_ids, sg_ids(g, "y", SG_SHAPE(2), ids));
    same(call("cross_entropy", (sg_reg_value[]){{.p = g}, {.p = x}, {.p = t_ids}, {.i = SG_REDUCE_SUM}}),
         sg_cross_entropy(g, x, t_ids, SG_REDUCE_SUM));
    /* ACTIVATION, PARAM, LINEAR, EMBEDDING, RNG */
    same(call("activate", (sg_reg_value[]){{.p = g}, {.i = SG_ACT_RELU}, {.p = x}}), sg_activate(g, SG_ACT_RELU, x));
    sg_params *ps = sg_params_new(SG_F64);
    sg_linear lin;
    sg_embedding emb;
    assert_int_equal(sg_linear_init(&lin, ps, "lin", 6, 3, true), SG_OK);
    assert_int_equal(sg_embedding_init(&emb, ps, "emb", 5, 4), SG_OK);
    assert_int_equal(sg_params_init_uniform(ps, &r, -1, 1), SG_OK);
    same(call("param_use", (sg_reg_value[]){{.p = g}, {.p = lin.W}}), sg_param_use(g, lin.W));
    same(call("linear_forward", (sg_reg_value[]){{.p = g}, {.p = &lin}, {.p = x}}), sg_linear_forward(g, &lin, x));
    same(call("embedding_forward", (sg_reg_value[]){{.p = g}, {.p = &emb}, {.p = t_ids}}),
         sg_embedding_forward(g, &emb, t_ids));
    sg_rng r1, r2;
    sg_rng_seed(&r1, 9);
    sg_rng_seed(&r2, 9);
    same(call("dropout", (sg_reg_value[]){{.p = g}, {.p = x}, {.f = 0.5}, {.b = true}, {.p = &r1}}),
         sg_dropout(g, x, 0.5, true, &r2));
    same(call("affine", (sg_reg_value[]){{.p = g}, {.p = x}, {.p = w}, {.p = NULL}}), sg_affine(g, x, w, NULL));
    /* CELL STATE_IN STATE_OUT, BOOL returns, SIZE: each built-in cell's step */
    static const sg_cell_kind kinds[] = {SG_CELL_RNN, SG_CELL_LSTM, SG_CELL_PEEPHOLE, SG_CELL_GRU};
    static const char *const steps[] = {"cell_step_rnn", "cell_step_lstm", "cell_step_lstm", "cell_step_gru"};
    for (int k = 0; k < 4; k++) {
        sg_cell cell;
        char prefix[16];
        snprintf(prefix, sizeof prefix, "c%d", k);
        assert_int_equal(sg_cell_init_kind(&cell, ps, prefix, kinds[k], SG_ACT_TANH, 6, 3), SG_OK);
        assert_int_equal(sg_cell_reset_parameters(&cell, &r, NULL), SG_OK);
        sg_cell_state s0, s1 = {0}, a = {0}, b = {0};
        c = prep("cell_state_zeros");
        sg_reg_call_invoke(&c, (sg_reg_value[]){{.p = g}, {.p = &cell}, {.z = 2}, {.p = &s0}}, &ret);
        assert_true(ret.b);
        assert_true(sg_cell_state_zeros(g, &cell, 2, &s1));
        same(s0.h, s1.h);
        c = prep("cell_step");
        sg_reg_call_invoke(&c, (sg_reg_value[]){{.p = g}, {.p = &cell}, {.p = x}, {.p = &s0}, {.p = &a}}, &ret);
        assert_true(ret.b);
        assert_true(sg_cell_step(g, &cell, x, &s1, &b));
        same(a.h, b.h);
        if (cell.has_c)
            same(a.c, b.c);
        /* the kind's own step on the projected input */
        sg_tensor *xp = sg_cell_project(g, &cell, x);
        same(call("cell_project", (sg_reg_value[]){{.p = g}, {.p = &cell}, {.p = x}}), xp);
        sg_cell_state a2 = {0};
        c = prep(steps[k]);
        sg_reg_call_invoke(&c, (sg_reg_value[]){{.p = g}, {.p = &cell}, {.p = xp}, {.p = &s0}, {.p = &a2}}, &ret);
        assert_true(ret.b);
        same(a2.h, b.h);
        sg_cell_free(&cell);
    }
    assert_int_equal(sg_graph_status(g), SG_OK);
    assert_null(sg_registry_find("no_such_op"));
    assert_null(sg_registry_at(sg_registry_count()));
    sg_params_free(ps);
    sg_graph_free(g);
}

/* Every entry prepares (libffi accepts every signature) and prints a prototype. */
static void test_every_entry_prepares(void **state)
{
    (void)state;
    assert_true(sg_registry_count() >= 40);
    for (size_t i = 0; i < sg_registry_count(); i++) {
        const sg_reg_fn *e = sg_registry_at(i);
        sg_reg_call c;
        char err[256], proto[512], want[64];
        assert_int_equal(sg_reg_call_prepare(&c, e, err, sizeof err), SG_OK);
        sg_reg_fn_prototype(e, proto, sizeof proto);
        snprintf(want, sizeof want, "sg_%s(", e->name);
        assert_non_null(strstr(proto, want));
        assert_true(e->n_args >= 1 && e->args[0] == SG_REG_GRAPH);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_type_through_libffi),
        cmocka_unit_test(test_every_entry_prepares),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
