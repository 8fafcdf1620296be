/* test_word2vec.c — word2vec's data and model (models/data/sg_w2v_data.h,
 * models/word2vec): the corpus conventions of word2vec.c, the alias sampler's
 * frequencies, the batcher's windows and sentences, gradient checks in f64 of
 * skip-gram and CBOW (model and per-op mode), the row-sparse gradients of both
 * tables, and a tiny corpus learned so that words of one group are each
 * other's nearest neighbours.  Data is generated here. */
#include "sg_test.h"

#include "graph/optim/sg_optim.h"
#include "models/word2vec/sg_word2vec.h"

#include <math.h>

/* Example options for the tests: no subsampling, so that every word counts. */
static sg_w2v_opts example_opts(sg_w2v_arch arch, size_t window, size_t negative, size_t batch, size_t iters)
{
    sg_w2v_opts o = sg_w2v_opts_defaults();
    o.arch = arch;
    o.window = window;
    o.negative = negative;
    o.sample = 0;
    o.batch = batch;
    o.iters = iters;
    return o;
}

static void test_corpus_conventions(void **state)
{
    (void)state;
    const char *text = "b a b c\nc b rare\n\nb\n";
    sg_w2v_corpus c;
    char err[256];
    assert_int_equal(sg_w2v_corpus_parse(&c, text, strlen(text), "t", 2, err, sizeof err), SG_OK);
    /* "</s>" first (4 line ends), then by count: b 4, c 2; a and rare dropped */
    assert_int_equal(sg_vocab_size(c.vocab), 3);
    assert_string_equal(sg_vocab_word(c.vocab, 0), "</s>");
    assert_string_equal(sg_vocab_word(c.vocab, 1), "b");
    assert_string_equal(sg_vocab_word(c.vocab, 2), "c");
    static const int32_t want[] = {1, 1, 2, 0, 2, 1, 0, 0, 1, 0};
    assert_int_equal(c.n, 10);
    assert_memory_equal(c.ids, want, sizeof want);
    assert_int_equal(c.train_words, 10);
    sg_w2v_corpus_free(&c);
    assert_int_equal(sg_w2v_corpus_parse(&c, "a b\n", 4, "t", 5, err, sizeof err), SG_ERR_FORMAT);
    assert_true(sg_contains(err, "--min-count"));
    assert_int_equal(sg_w2v_corpus_parse(&c, "a\0b\n", 4, "t", 1, err, sizeof err), SG_ERR_FORMAT);
}

static void test_alias_frequencies(void **state)
{
    (void)state;
    const double w[5] = {1, 0, 3, 0.5, 5.5};
    sg_alias a;
    assert_int_equal(sg_alias_init(&a, w, 5), SG_OK);
    sg_rng rng;
    sg_rng_seed(&rng, 9);
    size_t count[5] = {0};
    const size_t n = 400000;
    for (size_t i = 0; i < n; i++)
        count[sg_alias_draw(&a, &rng)]++;
    for (int i = 0; i < 5; i++) /* within 5 standard deviations */
        SG_ASSERT_NEAR((double)count[i] / n, w[i] / 10.0, 5 * sqrt(w[i] / 10.0 * (1 - w[i] / 10.0) / n) + 1e-12);
    assert_int_equal(count[1], 0);
    sg_alias_free(&a);
    const double bad[2] = {0, 0};
    assert_int_equal(sg_alias_init(&a, bad, 2), SG_ERR_ARG);
}

/* Sentences of distinct words, so that an example's words say where they are. */
static void test_batcher_windows(void **state)
{
    (void)state;
    char text[4096], *p = text;
    for (int s = 0; s < 20; s++) {
        for (int k = 0; k < 8; k++)
            p += sprintf(p, "w%d ", s * 8 + k);
        *p++ = '\n';
    }
    *p = '\0';
    sg_w2v_corpus c;
    char err[256];
    assert_int_equal(sg_w2v_corpus_parse(&c, text, strlen(text), "t", 1, err, sizeof err), SG_OK);
    for (int arch = 0; arch < 2; arch++) {
        sg_w2v_opts o = example_opts((sg_w2v_arch)arch, 3, 4, 7, 2);
        sg_w2v_batcher it;
        assert_int_equal(sg_w2v_batcher_init(&it, &c, &o, err, sizeof err), SG_OK);
        sg_rng rng;
        sg_rng_seed(&rng, 3);
        sg_w2v_batch b;
        size_t examples = 0;
        uint64_t last = 0;
        while (sg_w2v_batcher_next(&it, &rng, &b)) {
            assert_true(b.n >= 1 && b.n <= 7 && b.words_done >= last);
            last = b.words_done;
            for (size_t i = 0; i < b.n; i++) {
                const char *t = sg_vocab_word(c.vocab, b.target[i * 5]);
                int tw = atoi(t + 1);
                if (arch == SG_W2V_SKIPGRAM) {
                    int cw = atoi(sg_vocab_word(c.vocab, b.center[i]) + 1);
                    assert_true(cw / 8 == tw / 8 && cw != tw && abs(cw - tw) <= 3); /* same sentence, in the window */
                } else {
                    size_t m = 0;
                    for (size_t k = 0; k < 6; k++)
                        if (b.ctx_mask[i * 6 + k] > 0) {
                            int cw = atoi(sg_vocab_word(c.vocab, b.context[i * 6 + k]) + 1);
                            assert_true(cw / 8 == tw / 8 && cw != tw && abs(cw - tw) <= 3);
                            m++;
                        }
                    assert_true(m >= 1);
                    SG_ASSERT_NEAR(b.ctx_scale[i], 1.0 / (double)m, 1e-15);
                }
                for (size_t k = 1; k <= 4; k++)
                    assert_true(b.target[i * 5 + k] >= 0 && (size_t)b.target[i * 5 + k] < sg_vocab_size(c.vocab));
            }
            examples += b.n;
        }
        assert_int_equal(last, 2 * c.train_words);
        if (arch == SG_W2V_CBOW)
            assert_int_equal(examples, 2 * 160); /* one per word, two passes */
        else
            assert_true(examples > 2 * 160 && examples <= 2 * 160 * 6);
        sg_w2v_batcher_free(&it);
    }
    sg_w2v_corpus_free(&c);
}

/* Shards: T batchers over shards 0..T-1 read every word once a pass
 * between them (CBOW: one example per word), each shard starting at a
 * sentence start; words_done and the total count their own shard. */
static void test_batcher_shards(void **state)
{
    (void)state;
    char text[4096], *p = text;
    for (int s = 0; s < 20; s++) {
        for (int k = 0; k < 2 + s % 5; k++)
            p += sprintf(p, "w%d ", s * 8 + k);
        *p++ = '\n';
    }
    *p = '\0';
    sg_w2v_corpus c;
    char err[256];
    assert_int_equal(sg_w2v_corpus_parse(&c, text, strlen(text), "t", 1, err, sizeof err), SG_OK);
    for (size_t T = 1; T <= 4; T++) {
        size_t examples = 0;
        uint64_t words = 0;
        size_t next_begin = 0;
        for (size_t t = 0; t < T; t++) {
            sg_w2v_opts o = example_opts(SG_W2V_CBOW, 2, 2, 5, 2);
            sg_w2v_batcher it;
            assert_int_equal(sg_w2v_batcher_init(&it, &c, &o, err, sizeof err), SG_OK);
            assert_int_equal(sg_w2v_batcher_shard(&it, t, T), SG_OK);
            assert_int_equal(it.begin, next_begin); /* the shards tile the text */
            assert_true(it.begin == 0 || c.ids[it.begin - 1] == 0);
            next_begin = it.end;
            sg_rng rng;
            sg_rng_seed(&rng, 3);
            sg_w2v_batch b;
            while (sg_w2v_batcher_next(&it, &rng, &b))
                examples += b.n;
            assert_int_equal(it.words_done, 2 * (it.end - it.begin));
            assert_int_equal(sg_w2v_total_words(&it), T == 1 ? 2 * c.train_words : 2 * (it.end - it.begin));
            words += it.words_done;
            sg_w2v_batcher_free(&it);
        }
        assert_int_equal(next_begin, c.n);
        assert_int_equal(words, 2 * c.train_words);
        assert_int_equal(examples, 2 * (c.train_words - 20)); /* every word but the 20 "</s>", twice */
    }
    sg_w2v_batcher it;
    sg_w2v_opts o = example_opts(SG_W2V_CBOW, 2, 2, 5, 2);
    assert_int_equal(sg_w2v_batcher_init(&it, &c, &o, err, sizeof err), SG_OK);
    assert_int_equal(sg_w2v_batcher_shard(&it, 2, 2), SG_ERR_ARG);
    sg_w2v_batcher_free(&it);
    sg_w2v_corpus_free(&c);
}

typedef struct probe {
    const sg_word2vec *m;
    const sg_w2v_batch *b;
} probe;

static sg_tensor *loss_fn(sg_graph *g, void *ctx)
{
    const probe *p = ctx;
    return sg_word2vec_loss(g, p->m, p->b);
}

static void test_gradcheck_both(void **state)
{
    (void)state;
    const char *text = "a b c d e\nb c a\nd e a b\n";
    sg_w2v_corpus c;
    char err[256];
    assert_int_equal(sg_w2v_corpus_parse(&c, text, strlen(text), "t", 1, err, sizeof err), SG_OK);
    for (int arch = 0; arch < 2; arch++) {
        sg_w2v_opts o = example_opts((sg_w2v_arch)arch, 2, 3, 6, 1);
        sg_w2v_batcher it;
        assert_int_equal(sg_w2v_batcher_init(&it, &c, &o, err, sizeof err), SG_OK);
        sg_rng rng;
        sg_rng_seed(&rng, 5);
        sg_w2v_batch b;
        assert_true(sg_w2v_batcher_next(&it, &rng, &b));
        sg_params *ps = sg_params_new(SG_F64);
        sg_word2vec m;
        assert_int_equal(sg_word2vec_init(&m, ps, o.arch, sg_vocab_size(c.vocab), 4, 3, 2), SG_OK);
        for (size_t i = 0; i < m.in->numel; i++) { /* both tables random: W_out = 0 would hide W_in's gradient */
            sg_param_set(m.in, i, sg_rng_range(&rng, -0.8, 0.8));
            sg_param_set(m.out, i, sg_rng_range(&rng, -0.8, 0.8));
        }
        probe pr = {&m, &b};
        sg_graph *g = sg_graph_new(SG_F64);
        sg_gradcheck_opts go = sg_gradcheck_defaults();
        sg_gradcheck_report r, t;
        assert_int_equal(sg_gradcheck_model(g, ps, loss_fn, &pr, &go, &r), SG_OK);
        assert_int_equal(sg_gradcheck_tape(g, &go, &t), SG_OK);
        if (!r.passed)
            fail_msg("%s: model mode, worst %.3g at %s", arch ? "cbow" : "skipgram", r.max_ratio, r.where);
        if (!t.passed)
            fail_msg("%s: per-op mode, first wrong op %s", arch ? "cbow" : "skipgram", t.bad_op);
        print_message("  %-9s margin %5.0fx (model), tape %zu nodes\n", arch ? "cbow" : "skip-gram", 1 / r.max_ratio,
                      sg_graph_tape_len(g));
        /* after a plain backward both tables' gradients are lists of the
         * gathered rows (the tables untouched); flushed, they are row-sparse
         * and the bytes of the backward without lists */
        sg_params_zero_grad(ps);
        sg_graph_reset(g);
        assert_int_equal(sg_backward(g, sg_word2vec_loss(g, &m, &b)), SG_OK);
        assert_true(m.in->grad_list && m.out->grad_list);
        assert_int_equal(m.in->grad_extent, SG_GRAD_ROWS);
        assert_int_equal(m.out->grad_extent, SG_GRAD_ROWS);
        assert_int_equal(m.out->n_grad_rows, 0);
        sg_params_grad_flush_lists(ps);
        assert_true(m.out->n_grad_rows > 0 && m.out->n_grad_rows <= sg_vocab_size(c.vocab));
        double *listed = malloc(2 * m.in->numel * sizeof *listed);
        assert_non_null(listed);
        memcpy(listed, m.in->grad, m.in->numel * sizeof *listed);
        memcpy(listed + m.in->numel, m.out->grad, m.in->numel * sizeof *listed);
        sg_param_set_grad_listed(m.in, false);
        sg_param_set_grad_listed(m.out, false);
        sg_params_zero_grad(ps);
        sg_graph_reset(g);
        assert_int_equal(sg_backward(g, sg_word2vec_loss(g, &m, &b)), SG_OK);
        assert_null(m.in->grad_list);
        assert_memory_equal(listed, m.in->grad, m.in->numel * sizeof *listed);
        assert_memory_equal(listed + m.in->numel, m.out->grad, m.in->numel * sizeof *listed);
        assert_true(m.out->n_grad_rows > 0 && m.out->n_grad_rows <= sg_vocab_size(c.vocab));
        free(listed);
        sg_graph_free(g);
        sg_params_free(ps);
        sg_w2v_batcher_free(&it);
    }
    sg_w2v_corpus_free(&c);
}

/* word2vec.c's CBOW update: the same loss, the same W_out gradient, and each
 * context row's W_in gradient m times the exact one (m context words). */
static void test_cbow_word2vec_update(void **state)
{
    (void)state;
    const char *text = "a b c d e f g\n";
    sg_w2v_corpus c;
    char err[256];
    assert_int_equal(sg_w2v_corpus_parse(&c, text, strlen(text), "t", 1, err, sizeof err), SG_OK);
    sg_w2v_opts o = example_opts(SG_W2V_CBOW, 2, 2, 1, 1);
    sg_w2v_batcher it;
    assert_int_equal(sg_w2v_batcher_init(&it, &c, &o, err, sizeof err), SG_OK);
    sg_rng rng;
    sg_rng_seed(&rng, 2);
    sg_w2v_batch b;
    for (int k = 0; k < 4; k++) /* the 4th center has 2 + 2 context words */
        assert_true(sg_w2v_batcher_next(&it, &rng, &b));
    double m = 1.0 / b.ctx_scale[0];
    assert_true(m == 4.0);
    double loss[2];
    double *gin[2], *gout[2];
    for (int u = 0; u < 2; u++) {
        sg_params *ps = sg_params_new(SG_F64);
        sg_word2vec w;
        assert_int_equal(sg_word2vec_init(&w, ps, SG_W2V_CBOW, sg_vocab_size(c.vocab), 3, 2, 2), SG_OK);
        w.cbow_word2vec_update = u == 1;
        sg_rng r;
        sg_rng_seed(&r, 7);
        for (size_t i = 0; i < w.in->numel; i++) {
            sg_param_set(w.in, i, sg_rng_range(&r, -0.5, 0.5));
            sg_param_set(w.out, i, sg_rng_range(&r, -0.5, 0.5));
        }
        sg_graph *g = sg_graph_new(SG_F64);
        sg_params_zero_grad(ps);
        sg_tensor *l = sg_word2vec_loss(g, &w, &b);
        SG_ASSERT_GRAPH_OK(g);
        loss[u] = sg_tensor_get(l, 0);
        assert_int_equal(sg_backward(g, l), SG_OK);
        gin[u] = malloc(w.in->numel * sizeof(double));
        gout[u] = malloc(w.out->numel * sizeof(double));
        memcpy(gin[u], w.in->grad, w.in->numel * sizeof(double));
        memcpy(gout[u], w.out->grad, w.out->numel * sizeof(double));
        sg_graph_free(g);
        sg_params_free(ps);
    }
    SG_ASSERT_NEAR(loss[1], loss[0], 1e-12);
    for (size_t i = 0; i < sg_vocab_size(c.vocab) * 3; i++) {
        SG_ASSERT_NEAR(gout[1][i], gout[0][i], 1e-12);
        SG_ASSERT_NEAR(gin[1][i], m * gin[0][i], 1e-12);
    }
    for (int u = 0; u < 2; u++) {
        free(gin[u]);
        free(gout[u]);
    }
    sg_w2v_batcher_free(&it);
    sg_w2v_corpus_free(&c);
}

/* Two groups of words that never share a sentence: after training, every
 * word's nearest neighbour (cosine, W_in) is in its own group. */
static void test_learns_groups(void **state)
{
    (void)state;
    sg_rng gen;
    sg_rng_seed(&gen, 4);
    size_t cap = 200000, n = 0;
    char *text = malloc(cap);
    for (int line = 0; line < 3000; line++) {
        int group = line % 2;
        for (int k = 0; k < 6; k++)
            n += (size_t)snprintf(text + n, cap - n, "%c%d ", group ? 'x' : 'y', (int)sg_rng_below(&gen, 6));
        text[n++] = '\n';
    }
    for (int arch = 0; arch < 2; arch++) {
        sg_w2v_corpus c;
        char err[256];
        assert_int_equal(sg_w2v_corpus_parse(&c, text, n, "t", 1, err, sizeof err), SG_OK);
        sg_w2v_opts o = sg_w2v_opts_defaults();
        o.arch = (sg_w2v_arch)arch;
        o.batch = 64;
        o.iters = 3;
        o.sample = 0;
        sg_w2v_batcher it;
        assert_int_equal(sg_w2v_batcher_init(&it, &c, &o, err, sizeof err), SG_OK);
        sg_params *ps = sg_params_new(SG_F32);
        sg_word2vec m;
        const size_t V = sg_vocab_size(c.vocab), D = 8;
        assert_int_equal(sg_word2vec_init(&m, ps, o.arch, V, D, o.negative, o.window), SG_OK);
        sg_rng rng;
        sg_rng_seed(&rng, 1);
        sg_word2vec_reset_parameters(&m, &rng);
        sg_optim opt;
        sg_sgd_config sc = sg_sgd_defaults();
        sc.lr = 0.025;
        assert_int_equal(sg_optim_init_sgd(&opt, &sc), SG_OK);
        sg_graph *g = sg_graph_new(SG_F32);
        sg_w2v_batch b;
        while (sg_w2v_batcher_next(&it, &rng, &b)) {
            sg_graph_reset(g);
            sg_params_zero_grad(ps);
            sg_tensor *l = sg_word2vec_loss(g, &m, &b);
            SG_ASSERT_GRAPH_OK(g);
            assert_int_equal(sg_backward(g, l), SG_OK);
            opt.lr = sg_w2v_rate(&it, &b, 0.025);
            assert_int_equal(sg_optim_step(&opt, ps), SG_OK);
        }
        size_t right = 0;
        for (size_t a = 1; a < V; a++) {
            double best = -2;
            size_t arg = 0;
            for (size_t bw = 1; bw < V; bw++) {
                if (bw == a)
                    continue;
                double dot = 0, na = 0, nb = 0;
                for (size_t d = 0; d < D; d++) {
                    double x = sg_param_get(m.in, a * D + d), y = sg_param_get(m.in, bw * D + d);
                    dot += x * y;
                    na += x * x;
                    nb += y * y;
                }
                double cs = dot / sqrt(na * nb + 1e-30);
                if (cs > best) {
                    best = cs;
                    arg = bw;
                }
            }
            right += sg_vocab_word(c.vocab, (int32_t)a)[0] == sg_vocab_word(c.vocab, (int32_t)arg)[0];
        }
        print_message("  %-9s nearest neighbour in the same group for %zu of %zu words\n", arch ? "cbow" : "skip-gram",
                      right, V - 1);
        assert_int_equal(right, V - 1);
        sg_graph_free(g);
        sg_params_free(ps);
        sg_w2v_batcher_free(&it);
        sg_w2v_corpus_free(&c);
    }
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_conventions), cmocka_unit_test(test_alias_frequencies),
        cmocka_unit_test(test_batcher_windows),    cmocka_unit_test(test_batcher_shards),
        cmocka_unit_test(test_gradcheck_both),     cmocka_unit_test(test_cbow_word2vec_update),
        cmocka_unit_test(test_learns_groups),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
