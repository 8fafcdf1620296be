/* test_lm.c — the word-level language model (models/sg_lm.c): f64 gradient
 * checks (LSTM, GRU, tied weights, 2 layers, T = 5), state carried across
 * windows equals one long window, it learns a generated corpus, and a
 * steady-state training step allocates nothing. */
#include "sg_test.h"

#include "graph/core/sg_alloc.h"
#include "graph/optim/sg_optim.h"
#include "models/lm/sg_lm.h"
#include "models/lm/sg_lm_io.h"

#include <stdlib.h>
#include <unistd.h>

enum { V = 7, T = 5, B = 2 };

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

static void gradcheck_lm(sg_cell_kind kind, bool tied, size_t layers)
{
    sg_params *ps = sg_params_new(SG_F64);
    sg_lm m;
    sg_lm_config cfg = {.vocab = V, .embed = 4, .hidden = 4, .layers = layers, .kind = kind, .tie_weights = tied};
    assert_int_equal(sg_lm_init(&m, ps, &cfg), SG_OK);
    sg_rng rng;
    sg_rng_seed(&rng, 9);
    assert_int_equal(sg_lm_reset_parameters(&m, ps, &rng, 0.5, 1.0), SG_OK);
    sg_lm_state st;
    assert_int_equal(sg_lm_state_init(&st, &m, B), SG_OK);
    ctx c = {&m, &st, {0}, {0}};
    for (int i = 0; i < T * B; i++) {
        c.x[i] = (int32_t)((i * 3 + 1) % V);
        c.y[i] = (int32_t)((i * 5 + 2) % V);
    }
    c.x[3] = c.x[7]; /* a repeated id: embedding rows accumulate */
    sg_graph *g = sg_graph_new(SG_F64);
    sg_gradcheck_report r, t;
    assert_int_equal(sg_gradcheck_model(g, ps, loss_fn, &c, NULL, &r), SG_OK);
    if (!r.passed)
        fail_msg("%s tied=%d N=%zu: model mode %.3g at %s", sg_cell_kind_name(kind), tied, layers, r.max_rel_err,
                 r.where);
    assert_int_equal(r.n_checked, sg_params_numel(ps));
    assert_int_equal(sg_gradcheck_tape(g, NULL, &t), SG_OK);
    if (!t.passed)
        fail_msg("%s: per-op %.3g at %s", sg_cell_kind_name(kind), t.max_rel_err, t.where);
    print_message("  %-8s tied=%d N=%zu: %zu params, model %.2e, per-op %.2e\n", sg_cell_kind_name(kind), tied, layers,
                  r.n_checked, r.max_rel_err, t.max_rel_err);
    sg_graph_free(g);
    sg_lm_state_free(&st);
    sg_lm_free(&m);
    sg_params_free(ps);
}

static void test_gradcheck_lstm(void **s)
{
    (void)s;
    gradcheck_lm(SG_CELL_LSTM, false, 2);
}
static void test_gradcheck_gru_tied(void **s)
{
    (void)s;
    gradcheck_lm(SG_CELL_GRU, true, 1);
}
static void test_gradcheck_rnn_tied_2(void **s)
{
    (void)s;
    gradcheck_lm(SG_CELL_RNN, true, 2);
}

/* Two windows of 3 steps with the state carried = one window of 6 steps. */
static void test_state_carry(void **s)
{
    (void)s;
    sg_params *ps = sg_params_new(SG_F64);
    sg_lm m;
    sg_lm_config cfg = {.vocab = V, .embed = 3, .hidden = 5, .layers = 2, .kind = SG_CELL_LSTM};
    assert_int_equal(sg_lm_init(&m, ps, &cfg), SG_OK);
    sg_rng rng;
    sg_rng_seed(&rng, 4);
    assert_int_equal(sg_lm_reset_parameters(&m, ps, &rng, 0.4, -1), SG_OK);
    sg_lm_state st;
    assert_int_equal(sg_lm_state_init(&st, &m, B), SG_OK);
    int32_t x[6 * B], y[6 * B];
    for (int i = 0; i < 6 * B; i++) {
        x[i] = (int32_t)((i * 2 + 1) % V);
        y[i] = (int32_t)((i + 3) % V);
    }
    sg_graph *g = sg_graph_new(SG_F64);
    double whole, a, b;
    assert_non_null(sg_lm_forward(g, &m, x, y, 6, B, &st, NULL, &whole));
    double h_whole = st.h[st.n_cells * B * 5 - 1];
    sg_lm_state_zero(&st);
    sg_graph_reset(g);
    assert_non_null(sg_lm_forward(g, &m, x, y, 3, B, &st, NULL, &a));
    sg_graph_reset(g);
    assert_non_null(sg_lm_forward(g, &m, x + 3 * B, y + 3 * B, 3, B, &st, NULL, &b));
    SG_ASSERT_NEAR(a + b, whole, 1e-12);
    SG_ASSERT_NEAR(st.h[st.n_cells * B * 5 - 1], h_whole, 1e-14);
    /* the wrong batch for the state is an error, not a crash */
    sg_graph_reset(g);
    assert_null(sg_lm_forward(g, &m, x, y, 2, 3, &st, NULL, NULL));
    assert_true(sg_contains(sg_graph_error(g), "streams"));
    sg_graph_free(g);
    sg_lm_state_free(&st);
    sg_lm_free(&m);
    sg_params_free(ps);
}

/* A corpus where the next word is a function of the current one: the model
 * must drive perplexity from ~V to near 1; and the step allocates nothing. */
static void test_learns_and_no_alloc(void **s)
{
    (void)s;
    enum { W = 10, TT = 8, BB = 4 };
    sg_params *ps = sg_params_new(SG_F32);
    sg_lm m;
    sg_lm_config cfg = {.vocab = W, .embed = 16, .hidden = 16, .layers = 2, .kind = SG_CELL_LSTM};
    assert_int_equal(sg_lm_init(&m, ps, &cfg), SG_OK);
    sg_rng rng;
    sg_rng_seed(&rng, 1);
    assert_int_equal(sg_lm_reset_parameters(&m, ps, &rng, 0.1, -1), SG_OK);
    sg_lm_state st;
    assert_int_equal(sg_lm_state_init(&st, &m, BB), SG_OK);
    sg_optim opt;
    sg_adam_config ac = sg_adam_defaults();
    ac.lr = 0.02;
    assert_int_equal(sg_optim_init_adam(&opt, &ac), SG_OK);
    sg_graph *g = sg_graph_new(SG_F32);
    int32_t x[TT * BB], y[TT * BB];
    sg_lm_run run = {.training = true, .dropout = 0.1, .rng = &rng};
    double ppl = 0;
    size_t before = 0;
    for (int step = 0; step < 300; step++) {
        if (step == 3)
            before = sg_alloc_count();
        for (int t = 0; t < TT; t++)
            for (int b = 0; b < BB; b++) {
                int w = (step * TT + t + 3 * b) % W;
                x[t * BB + b] = (int32_t)((w * 3) % W);
                y[t * BB + b] = (int32_t)(((w + 1) * 3) % W); /* next word of the cycle */
            }
        sg_graph_reset(g);
        sg_params_zero_grad(ps);
        double nll;
        sg_tensor *loss = sg_lm_forward(g, &m, x, y, TT, BB, &st, &run, &nll);
        SG_ASSERT_GRAPH_OK(g);
        assert_int_equal(sg_backward(g, loss), SG_OK);
        sg_params_clip_grad_norm(ps, 5.0);
        assert_int_equal(sg_optim_step(&opt, ps), SG_OK);
        ppl = exp(nll / (TT * BB));
    }
    size_t allocs = sg_alloc_count() - before;
    print_message("  training perplexity after 300 steps: %.3f; steady-state allocations: %zu\n", ppl, allocs);
    assert_true(ppl < 1.5);
    assert_int_equal(allocs, 0);
    sg_graph_free(g);
    sg_lm_state_free(&st);
    sg_lm_free(&m);
    sg_params_free(ps);
}

/* A custom cell that is the built-in GRU (for the custom-cell checkpoint). */
static sg_status gru_as_custom(sg_cell *cell, sg_params *ps, const char *prefix, size_t input, size_t hidden, void *ctx)
{
    (void)ctx;
    return sg_cell_init_gru(cell, ps, prefix, input, hidden);
}

/* sg_lm_save / sg_lm_load: the model a checkpoint describes comes back whole
 * (settings, vocabulary, every parameter), and files that are not LM
 * checkpoints are refused with a named reason. */
static void test_save_load(void **s)
{
    (void)s;
    const char *text = "the cat sat\nthe dog sat on the mat\n";
    sg_vocab *v = NULL;
    char err[512];
    assert_int_equal(sg_vocab_build_text(text, strlen(text), 1, &v, err, sizeof err), SG_OK);
    sg_params *ps = sg_params_new(SG_F32);
    sg_lm m;
    sg_lm_config cfg = {.vocab = sg_vocab_size(v), .embed = 3, .hidden = 5, .layers = 2, .kind = SG_CELL_GRU};
    assert_int_equal(sg_lm_init(&m, ps, &cfg), SG_OK);
    sg_rng rng;
    sg_rng_seed(&rng, 4);
    assert_int_equal(sg_lm_reset_parameters(&m, ps, &rng, 0.3, -1), SG_OK);
    char dir[] = "/tmp/sg_lm_io_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], plain[256];
    snprintf(path, sizeof path, "%s/lm.st", dir);
    snprintf(plain, sizeof plain, "%s/plain.st", dir);
    assert_int_equal(sg_lm_save(path, &m, ps, v, NULL, err, sizeof err), SG_OK);

    sg_lm m2;
    sg_params *ps2 = NULL;
    sg_vocab *v2 = NULL;
    sg_checkpoint state;
    sg_checkpoint_init(&state);
    assert_int_equal(sg_lm_load(path, SG_F64, &m2, &ps2, &v2, &state, err, sizeof err), SG_OK);
    assert_int_equal(m2.cfg.kind, SG_CELL_GRU);
    assert_int_equal(m2.cfg.layers, 2);
    assert_int_equal(m2.cfg.hidden, 5);
    assert_int_equal(m2.cfg.embed, 3);
    assert_int_equal(m2.cfg.vocab, sg_vocab_size(v));
    assert_int_equal(sg_vocab_size(v2), sg_vocab_size(v));
    for (int32_t i = 0; i < (int32_t)sg_vocab_size(v); i++)
        assert_string_equal(sg_vocab_word(v2, i), sg_vocab_word(v, i));
    assert_int_equal(sg_params_numel(ps2), sg_params_numel(ps));
    assert_string_equal(sg_checkpoint_get_string(&state, "lm.cell"), "gru");
    size_t n_params = ps->n;
    for (size_t k = 0; k < n_params; k++) {
        sg_param *p = ps->items[k], *q = sg_params_find(ps2, p->name);
        assert_non_null(q);
        for (size_t i = 0; i < p->numel; i++)
            assert_true(sg_param_get(q, i) == sg_param_get(p, i)); /* f32 -> f64 is exact */
    }
    /* a plain parameter file is not a language-model checkpoint */
    assert_int_equal(sg_checkpoint_save(plain, ps, NULL, err, sizeof err), SG_OK);
    sg_lm m3;
    sg_params *ps3 = (sg_params *)1;
    sg_vocab *v3 = (sg_vocab *)1;
    assert_int_equal(sg_lm_load(plain, SG_F32, &m3, &ps3, &v3, NULL, err, sizeof err), SG_ERR_FORMAT);
    assert_true(sg_contains(err, "not a language-model checkpoint"));
    assert_null(ps3);
    assert_null(v3);
    /* a missing file is an I/O error naming the path */
    assert_int_equal(sg_lm_load("/nonexistent/lm.st", SG_F32, &m3, &ps3, &v3, NULL, err, sizeof err), SG_ERR_IO);
    assert_true(sg_contains(err, "/nonexistent/lm.st"));
    /* a custom cell is saved as lm.cell "custom": sg_lm_load refuses it, and
     * sg_lm_load_cell with the cell's make brings back the same parameters */
    sg_lm_config custom = cfg;
    custom.kind = SG_CELL_CUSTOM;
    custom.make = gru_as_custom;
    sg_lm mc;
    sg_params *psc = sg_params_new(SG_F32);
    assert_int_equal(sg_lm_init(&mc, psc, &custom), SG_OK);
    for (size_t k = 0; k < psc->n; k++) /* the same names as the built-in GRU's */
        for (size_t i = 0; i < psc->items[k]->numel; i++)
            sg_param_set(psc->items[k], i, sg_param_get(sg_params_find(ps, psc->items[k]->name), i));
    char cpath[256];
    snprintf(cpath, sizeof cpath, "%s/custom.st", dir);
    assert_int_equal(sg_lm_save(cpath, &mc, psc, v, NULL, err, sizeof err), SG_OK);
    sg_lm m4;
    sg_params *ps4 = (sg_params *)1;
    sg_vocab *v4 = (sg_vocab *)1;
    assert_int_equal(sg_lm_load(cpath, SG_F32, &m4, &ps4, &v4, NULL, err, sizeof err), SG_ERR_FORMAT);
    assert_true(sg_contains(err, "its cell is custom"));
    assert_null(ps4);
    assert_null(v4);
    assert_int_equal(sg_lm_load_cell(cpath, SG_F32, gru_as_custom, NULL, &m4, &ps4, &v4, NULL, err, sizeof err), SG_OK);
    assert_int_equal(m4.cfg.kind, SG_CELL_CUSTOM);
    assert_int_equal(ps4->n, psc->n);
    for (size_t k = 0; k < psc->n; k++)
        for (size_t i = 0; i < psc->items[k]->numel; i++)
            assert_true(sg_param_get(sg_params_find(ps4, psc->items[k]->name), i) == sg_param_get(psc->items[k], i));
    remove(cpath);
    sg_lm_free(&m4);
    sg_params_free(ps4);
    sg_vocab_free(v4);
    sg_lm_free(&mc);
    sg_params_free(psc);
    sg_checkpoint_free(&state);
    remove(path);
    remove(plain);
    rmdir(dir);
    sg_lm_free(&m2);
    sg_params_free(ps2);
    sg_vocab_free(v2);
    sg_lm_free(&m);
    sg_params_free(ps);
    sg_vocab_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradcheck_lstm),       cmocka_unit_test(test_gradcheck_gru_tied),
        cmocka_unit_test(test_gradcheck_rnn_tied_2), cmocka_unit_test(test_state_carry),
        cmocka_unit_test(test_learns_and_no_alloc),  cmocka_unit_test(test_save_load),
    };
    return cmocka_run_group_tests_name("lm", tests, NULL, NULL);
}
