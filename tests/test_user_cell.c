/* test_user_cell.c — the user-defined cell of docs/cells.md (a coupled
 * input-forget gate LSTM, copied verbatim), used as the cell of a 2-layer
 * language model with no backward code anywhere: gradient-checked in f64,
 * trained until it predicts a generated corpus, and drawn (DOT export, one node
 * per cell per step). */
#include "sg_test.h"

#include "graph/export/sg_dot.h"
#include "graph/optim/sg_optim.h"
#include "models/lm/sg_lm.h"

#include <stdlib.h>
#include <unistd.h>

/* ---- docs/cells.md, "A user-defined cell" ---- */
/* [a_f a_u a_o] = x W_x + b_x + h W_h;  f, o = σ, u = tanh;  c' = u + f(c - u);  h' = o tanh(c') */
static bool cifg_step(sg_graph *g, const sg_cell *cell, sg_tensor *xp /* (B, 3H) */, const sg_cell_state *prev,
                      sg_cell_state *next)
{
    sg_tensor *a[3]; /* (B, H) each */
    sg_tensor *pre = sg_add(g, xp, sg_matmul(g, prev->h_rec, sg_param_use(g, cell->W_h)));
    if (sg_split(g, pre, 1, 3, a) != SG_OK)
        return false;
    sg_tensor *f = sg_sigmoid(g, a[0]), *u = sg_tanh(g, a[1]), *o = sg_sigmoid(g, a[2]);
    next->c = sg_add(g, u, sg_hadamard(g, f, sg_sub(g, prev->c, u)));
    next->h = sg_hadamard(g, o, sg_tanh(g, next->c));
    return next->h != NULL; /* errors are sticky: one check */
}

/* Has the signature of sg_cell_make_fn, so sg_seq_layers can stack it. */
static sg_status cifg_make(sg_cell *cell, sg_params *ps, const char *prefix, size_t I, size_t H, void *ctx)
{
    (void)ctx;
    sg_status st = sg_cell_init_custom(cell, ps, prefix, I, H, 3, true, cifg_step, NULL);
    if (st == SG_OK && !(cell->W_h = sg_cell_add_param(cell, "W_h", SG_SHAPE(H, 3 * H)))) {
        sg_cell_free(cell);
        st = SG_ERR_ARG;
    }
    return st;
}
/* ---- end of the documented cell ---- */

enum { V = 9, T = 6, B = 3 };

static sg_lm_config cifg_lm(size_t H)
{
    return (sg_lm_config){.vocab = V, .embed = H, .hidden = H, .layers = 2, .kind = SG_CELL_CUSTOM, .make = cifg_make};
}

static void corpus(int step, int32_t *x, int32_t *y)
{
    for (int t = 0; t < T; t++)
        for (int b = 0; b < B; b++) {
            int w = (step * T + t + 2 * b) % V;
            x[t * B + b] = (int32_t)w;
            y[t * B + b] = (int32_t)((w + 1) % V);
        }
}

typedef struct ctx {
    sg_lm *m;
    sg_lm_state *st;
    int32_t x[T * B], y[T * B];
} ctx;

static sg_tensor *loss_fn(sg_graph *g, void *p)
{
    ctx *c = p;
    sg_lm_state_zero(c->st);
    return sg_lm_forward(g, c->m, c->x, c->y, T, B, c->st, NULL, NULL);
}

static void test_user_cell_gradcheck_train_draw(void **state)
{
    (void)state;
    /* gradient check, f64 */
    sg_params *ps = sg_params_new(SG_F64);
    sg_lm m;
    sg_lm_config cfg = cifg_lm(4);
    assert_int_equal(sg_lm_init(&m, ps, &cfg), SG_OK);
    sg_rng rng;
    sg_rng_seed(&rng, 5);
    assert_int_equal(sg_lm_reset_parameters(&m, ps, &rng, 0.5, -1), SG_OK);
    sg_lm_state st;
    assert_int_equal(sg_lm_state_init(&st, &m, B), SG_OK);
    ctx c = {&m, &st, {0}, {0}};
    corpus(0, c.x, c.y);
    sg_graph *g = sg_graph_new(SG_F64);
    sg_gradcheck_report r, t;
    assert_int_equal(sg_gradcheck_model(g, ps, loss_fn, &c, NULL, &r), SG_OK);
    if (!r.passed)
        fail_msg("model mode %.3g at %s", r.max_rel_err, r.where);
    assert_int_equal(sg_gradcheck_tape(g, NULL, &t), SG_OK);
    assert_true(t.passed);
    print_message("  gradient check: %zu parameters, model %.2e, per-op %.2e\n", r.n_checked, r.max_rel_err,
                  t.max_rel_err);
    /* drawn: one node per cell per step when collapsed */
    sg_export_opts eo = sg_export_defaults();
    eo.collapse_depth = 2;
    sg_export_stats stats;
    char err[256], path[] = "/tmp/sg_user_cell_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char dot[64];
    snprintf(dot, sizeof dot, "%s.dot", path);
    assert_int_equal(sg_graph_export(g, dot, &eo, err, sizeof err), SG_OK);
    assert_int_equal(sg_graph_export_stats(g, &eo, &stats, err, sizeof err), SG_OK);
    assert_int_equal(stats.n_collapsed, 2 * T); /* 2 layers x T steps */
    remove(dot);
    remove(path);
    sg_graph_free(g);
    sg_lm_state_free(&st);
    sg_lm_free(&m);
    sg_params_free(ps);

    /* trained, f32: learns the next word of the cycle */
    ps = sg_params_new(SG_F32);
    cfg = cifg_lm(16);
    assert_int_equal(sg_lm_init(&m, ps, &cfg), SG_OK);
    assert_int_equal(sg_lm_reset_parameters(&m, ps, &rng, 0.1, -1), SG_OK);
    assert_int_equal(sg_lm_state_init(&st, &m, B), SG_OK);
    sg_optim opt;
    sg_adam_config ac = sg_adam_defaults();
    ac.lr = 0.02;
    assert_int_equal(sg_optim_init_adam(&opt, &ac), SG_OK);
    g = sg_graph_new(SG_F32);
    double ppl = 0;
    for (int step = 0; step < 300; step++) {
        corpus(step, c.x, c.y);
        sg_graph_reset(g);
        sg_params_zero_grad(ps);
        double nll;
        sg_tensor *loss = sg_lm_forward(g, &m, c.x, c.y, T, B, &st, NULL, &nll);
        assert_int_equal(sg_backward(g, loss), SG_OK);
        sg_params_clip_grad_norm(ps, 5.0);
        assert_int_equal(sg_optim_step(&opt, ps), SG_OK);
        ppl = exp(nll / (T * B));
    }
    print_message("  trained: perplexity %.3f after 300 steps (chance: %d)\n", ppl, V);
    assert_true(ppl < 1.5);
    sg_graph_free(g);
    sg_lm_state_free(&st);
    sg_lm_free(&m);
    sg_params_free(ps);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_user_cell_gradcheck_train_draw)};
    return cmocka_run_group_tests_name("user_cell", tests, NULL, NULL);
}
