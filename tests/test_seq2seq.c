/* test_seq2seq.c — the encoder-decoder (models/seq2seq): gradient checks in
 * f64 of every variant (cells x attention x reversed/peeky/bidirectional) on
 * a padded batch of examples of different lengths, the mask (padding changes
 * nothing), and a small task learned to exact match with greedy decoding.
 * Data is generated here. */
#include "sg_test.h"

#include "graph/optim/sg_optim.h"
#include "models/seq2seq/sg_seq2seq.h"

/* Pairs "abc_cba": reverse a string of 1..4 letters from a 5-letter alphabet. */
static char *reverse_task(size_t n, uint64_t seed)
{
    sg_rng r;
    sg_rng_seed(&r, seed);
    char *buf = malloc(n * 12 + 1), *p = buf;
    for (size_t i = 0; i < n; i++) {
        size_t len = 1 + (size_t)sg_rng_below(&r, 4);
        char w[5];
        for (size_t k = 0; k < len; k++)
            w[k] = (char)('a' + sg_rng_below(&r, 5));
        for (size_t k = 0; k < len; k++)
            *p++ = w[k];
        *p++ = '_';
        for (size_t k = len; k-- > 0;)
            *p++ = w[k];
        *p++ = '\n';
    }
    *p = '\0';
    return buf;
}

typedef struct probe {
    const sg_seq2seq *m;
    const sg_pair_batch *b;
} probe;

static sg_tensor *loss_fn(sg_graph *g, void *ctx)
{
    const probe *p = ctx;
    return sg_seq2seq_loss(g, p->m, p->b);
}

enum { REV = 1, PEEKY = 2, BI = 4, FEED = 8 };

static void check_variant(const sg_pair_data *d, sg_cell_kind kind, sg_attention att, unsigned flags)
{
    sg_params *ps = sg_params_new(SG_F64);
    sg_seq2seq m;
    sg_seq2seq_config cfg = {.vocab = sg_vocab_size(d->vocab),
                             .embed = 3,
                             .hidden = 4,
                             .layers = flags & BI ? 1 : 2,
                             .kind = kind,
                             .act = SG_ACT_TANH,
                             .bidirectional = flags & BI,
                             .peeky = flags & PEEKY,
                             .reverse_source = flags & REV,
                             .attention = att,
                             .input_feeding = flags & FEED};
    assert_int_equal(sg_seq2seq_init(&m, ps, &cfg), SG_OK);
    sg_rng rng;
    sg_rng_seed(&rng, 3);
    assert_int_equal(sg_seq2seq_reset_parameters(&m, &rng), SG_OK);
    sg_pair_batcher it;
    char err[256];
    assert_int_equal(sg_pair_batcher_init(&it, &d->split[SG_PAIRS_TRAIN], 3, 0, err, sizeof err), SG_OK);
    sg_pair_batch b;
    assert_true(sg_pair_batcher_next(&it, &b));
    probe p = {&m, &b};
    sg_graph *g = sg_graph_new(SG_F64);
    sg_gradcheck_opts o = sg_gradcheck_defaults();
    sg_gradcheck_report r, t;
    assert_int_equal(sg_gradcheck_model(g, ps, loss_fn, &p, &o, &r), SG_OK);
    assert_int_equal(sg_gradcheck_tape(g, &o, &t), SG_OK);
    char label[96];
    snprintf(label, sizeof label, "%s %s%s%s%s%s", sg_cell_kind_name(kind), sg_attention_name(att),
             flags & REV ? " reversed" : "", flags & PEEKY ? " peeky" : "", flags & BI ? " bidirectional" : "",
             flags & FEED ? " input-feeding" : "");
    if (!r.passed)
        fail_msg("%s: model mode, worst %.3g of allowed at %s", label, r.max_ratio, r.where);
    if (!t.passed)
        fail_msg("%s: per-op mode, first wrong op %s in %s", label, t.bad_op, t.bad_scope);
    print_message("  %-32s %4zu params, margin %6.0fx (model), tape %zu nodes\n", label, r.n_checked, 1 / r.max_ratio,
                  sg_graph_tape_len(g));
    sg_graph_free(g);
    sg_pair_batcher_free(&it);
    sg_seq2seq_free(&m);
    sg_params_free(ps);
}

static void test_gradcheck_every_variant(void **state)
{
    (void)state;
    char *text = reverse_task(12, 1);
    sg_pair_data d;
    sg_pair_opts po = sg_pair_opts_defaults();
    po.valid_frac = po.test_frac = 0;
    char err[256];
    assert_int_equal(sg_pair_data_parse(&d, text, strlen(text), "rev", &po, err, sizeof err), SG_OK);
    static const sg_cell_kind kinds[] = {SG_CELL_RNN, SG_CELL_LSTM, SG_CELL_GRU};
    for (size_t k = 0; k < 3; k++)
        for (int a = SG_ATTN_NONE; a <= SG_ATTN_ADDITIVE; a++)
            check_variant(&d, kinds[k], (sg_attention)a, 0);
    check_variant(&d, SG_CELL_LSTM, SG_ATTN_NONE, REV | PEEKY);
    check_variant(&d, SG_CELL_LSTM, SG_ATTN_DOT, REV | PEEKY | BI);
    check_variant(&d, SG_CELL_GRU, SG_ATTN_ADDITIVE, PEEKY | BI);
    check_variant(&d, SG_CELL_PEEPHOLE, SG_ATTN_GENERAL, REV | BI);
    check_variant(&d, SG_CELL_LSTM, SG_ATTN_DOT, FEED);
    check_variant(&d, SG_CELL_LSTM, SG_ATTN_GENERAL, REV | FEED);
    check_variant(&d, SG_CELL_GRU, SG_ATTN_ADDITIVE, PEEKY | BI | FEED);
    /* input feeding feeds the attentional state: without attention it is refused */
    sg_params *ps = sg_params_new(SG_F64);
    sg_seq2seq m;
    sg_seq2seq_config bad = {.vocab = sg_vocab_size(d.vocab),
                             .embed = 3,
                             .hidden = 4,
                             .layers = 1,
                             .kind = SG_CELL_LSTM,
                             .input_feeding = true};
    assert_int_equal(sg_seq2seq_init(&m, ps, &bad), SG_ERR_ARG);
    assert_int_equal(sg_params_numel(ps), 0);
    sg_params_free(ps);
    sg_pair_data_free(&d);
    free(text);
}

/* Padding is inert: the loss of an example alone equals its loss in a padded
 * batch beside a longer one (the mean over real tokens, per example). */
static void test_padding_changes_nothing(void **state)
{
    (void)state;
    const char *text = "ab_ba\nabcd_dcba\n";
    sg_pair_data d;
    sg_pair_opts po = sg_pair_opts_defaults();
    po.valid_frac = po.test_frac = 0;
    char err[256];
    assert_int_equal(sg_pair_data_parse(&d, text, strlen(text), "pad", &po, err, sizeof err), SG_OK);
    for (int a = SG_ATTN_NONE; a <= SG_ATTN_ADDITIVE; a++) {
        sg_params *ps = sg_params_new(SG_F64);
        sg_seq2seq m;
        sg_seq2seq_config cfg = {.vocab = sg_vocab_size(d.vocab),
                                 .embed = 3,
                                 .hidden = 5,
                                 .layers = 1,
                                 .kind = SG_CELL_LSTM,
                                 .attention = (sg_attention)a,
                                 .reverse_source = true};
        assert_int_equal(sg_seq2seq_init(&m, ps, &cfg), SG_OK);
        sg_rng rng;
        sg_rng_seed(&rng, 5);
        assert_int_equal(sg_seq2seq_reset_parameters(&m, &rng), SG_OK);
        sg_pair_batcher both, one;
        assert_int_equal(sg_pair_batcher_init(&both, &d.split[0], 2, 0, err, sizeof err), SG_OK);
        assert_int_equal(sg_pair_batcher_init(&one, &d.split[0], 1, 0, err, sizeof err), SG_OK);
        sg_pair_batch b2, b1a, b1b;
        assert_true(sg_pair_batcher_next(&both, &b2));
        sg_graph *g = sg_graph_new(SG_F64);
        double l2 = sg_tensor_get(sg_seq2seq_loss(g, &m, &b2), 0) * (3 + 5); /* sum over the 8 real tokens */
        double l1 = 0;
        for (int k = 0; k < 2; k++) {
            assert_true(sg_pair_batcher_next(&one, k ? &b1b : &b1a));
            sg_graph_reset(g);
            sg_tensor *l = sg_seq2seq_loss(g, &m, k ? &b1b : &b1a);
            SG_ASSERT_GRAPH_OK(g);
            l1 += sg_tensor_get(l, 0) * (double)(k ? b1b.tgt_steps : b1a.tgt_steps);
        }
        SG_ASSERT_NEAR(l2, l1, 1e-12 * fabs(l1));
        sg_graph_free(g);
        sg_pair_batcher_free(&both);
        sg_pair_batcher_free(&one);
        sg_seq2seq_free(&m);
        sg_params_free(ps);
    }
    sg_pair_data_free(&d);
}

/* Reversing strings: attention learns it to exact match on held-out pairs. */
static void test_learns_to_reverse(void **state)
{
    (void)state;
    char *text = reverse_task(600, 7);
    sg_pair_data d;
    sg_pair_opts po = sg_pair_opts_defaults();
    char err[256];
    assert_int_equal(sg_pair_data_parse(&d, text, strlen(text), "rev", &po, err, sizeof err), SG_OK);
    sg_params *ps = sg_params_new(SG_F32);
    sg_seq2seq m;
    sg_seq2seq_config cfg = {.vocab = sg_vocab_size(d.vocab),
                             .embed = 8,
                             .hidden = 32,
                             .layers = 1,
                             .kind = SG_CELL_LSTM,
                             .attention = SG_ATTN_DOT};
    assert_int_equal(sg_seq2seq_init(&m, ps, &cfg), SG_OK);
    sg_rng rng;
    sg_rng_seed(&rng, 1);
    assert_int_equal(sg_seq2seq_reset_parameters(&m, &rng), SG_OK);
    sg_optim opt;
    sg_adam_config ac = sg_adam_defaults();
    ac.lr = 0.01;
    assert_int_equal(sg_optim_init_adam(&opt, &ac), SG_OK);
    sg_pair_batcher it;
    assert_int_equal(sg_pair_batcher_init(&it, &d.split[SG_PAIRS_TRAIN], 32, 4, err, sizeof err), SG_OK);
    sg_graph *g = sg_graph_new(SG_F32);
    for (int epoch = 0; epoch < 25; epoch++) {
        sg_pair_batcher_epoch(&it, &rng);
        sg_pair_batch b;
        while (sg_pair_batcher_next(&it, &b)) {
            sg_graph_reset(g);
            sg_params_zero_grad(ps);
            sg_tensor *l = sg_seq2seq_loss(g, &m, &b);
            SG_ASSERT_GRAPH_OK(g);
            assert_int_equal(sg_backward(g, l), SG_OK);
            sg_params_clip_grad_norm(ps, 5.0);
            assert_int_equal(sg_optim_step(&opt, ps), SG_OK);
        }
    }
    sg_pair_batcher ev;
    const sg_pair_set *vs = &d.split[SG_PAIRS_VALID];
    assert_int_equal(sg_pair_batcher_init(&ev, vs, 64, 0, err, sizeof err), SG_OK);
    size_t right = 0;
    sg_pair_batch b;
    int32_t out[8 * 64];
    size_t lens[64];
    while (sg_pair_batcher_next(&ev, &b)) {
        assert_int_equal(sg_seq2seq_decode(g, &m, &b, 6, 0.0, NULL, out, lens, NULL), SG_OK);
        for (size_t j = 0; j < b.batch; j++) {
            size_t e = b.example[j], lt = vs->tgt_off[e + 1] - vs->tgt_off[e];
            bool ok = lens[j] == lt;
            for (size_t t = 0; ok && t < lt; t++)
                ok = out[t * b.batch + j] == vs->tgt[vs->tgt_off[e] + t];
            right += ok;
        }
    }
    print_message("  reverse task: %zu / %zu held-out pairs exactly right\n", right, vs->n);
    assert_true(right * 10 >= vs->n * 9); /* 90% or more */

    /* beam search: width 1 is greedy; width 4 is right at least as often */
    sg_pair_batcher one;
    assert_int_equal(sg_pair_batcher_init(&one, vs, 1, 0, err, sizeof err), SG_OK);
    size_t right4 = 0, same1 = 0;
    while (sg_pair_batcher_next(&one, &b)) {
        int32_t g1[8], bw[8];
        size_t l1, lb, lg;
        double sc;
        assert_int_equal(sg_seq2seq_decode(g, &m, &b, 6, 0.0, NULL, out, &lg, NULL), SG_OK);
        assert_int_equal(sg_seq2seq_beam(g, &m, &b, 1, 0.0, 6, g1, &l1, &sc), SG_OK);
        same1 += l1 == lg && memcmp(g1, out, l1 * sizeof *g1) == 0;
        assert_int_equal(sg_seq2seq_beam(g, &m, &b, 4, 0.6, 6, bw, &lb, &sc), SG_OK);
        assert_true(sc <= 0 && isfinite(sc));
        size_t e = b.example[0], lt = vs->tgt_off[e + 1] - vs->tgt_off[e];
        right4 += lb == lt && memcmp(bw, vs->tgt + vs->tgt_off[e], lt * sizeof *bw) == 0;
    }
    print_message("  beam 4: %zu / %zu right; beam 1 equals greedy on %zu\n", right4, vs->n, same1);
    assert_int_equal(same1, vs->n);
    assert_true(right4 >= right);
    sg_pair_batcher_free(&one);

    /* sampling: a tiny temperature is greedy; a seed repeats its draws; a hot
     * temperature strays from greedy; a negative one is refused */
    sg_pair_batcher_free(&ev);
    assert_int_equal(sg_pair_batcher_init(&ev, vs, 64, 0, err, sizeof err), SG_OK);
    assert_true(sg_pair_batcher_next(&ev, &b));
    int32_t greedy[8 * 64], s1[8 * 64], s2[8 * 64];
    size_t lg[64], ls[64];
    assert_int_equal(sg_seq2seq_decode(g, &m, &b, 6, 0.0, NULL, greedy, lg, NULL), SG_OK);
    sg_rng r1, r2;
    sg_rng_seed(&r1, 11);
    assert_int_equal(sg_seq2seq_decode(g, &m, &b, 6, 1e-4, &r1, s1, ls, NULL), SG_OK);
    assert_memory_equal(s1, greedy, 6 * b.batch * sizeof *s1);
    sg_rng_seed(&r1, 12);
    sg_rng_seed(&r2, 12);
    assert_int_equal(sg_seq2seq_decode(g, &m, &b, 6, 3.0, &r1, s1, ls, NULL), SG_OK);
    assert_int_equal(sg_seq2seq_decode(g, &m, &b, 6, 3.0, &r2, s2, ls, NULL), SG_OK);
    assert_memory_equal(s1, s2, 6 * b.batch * sizeof *s1);
    assert_true(memcmp(s1, greedy, 6 * b.batch * sizeof *s1) != 0);
    assert_int_equal(sg_seq2seq_decode(g, &m, &b, 6, -1.0, &r1, s1, ls, NULL), SG_ERR_ARG);
    assert_int_equal(sg_seq2seq_decode(g, &m, &b, 6, 1.0, NULL, s1, ls, NULL), SG_ERR_ARG);
    sg_graph_free(g);
    sg_pair_batcher_free(&ev);
    sg_pair_batcher_free(&it);
    sg_seq2seq_free(&m);
    sg_params_free(ps);
    sg_pair_data_free(&d);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradcheck_every_variant),
        cmocka_unit_test(test_padding_changes_nothing),
        cmocka_unit_test(test_learns_to_reverse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
