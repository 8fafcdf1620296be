/* test_hred.c — dialogue data (models/data/sg_dialog.h) and the hierarchical
 * models (models/hred): parsing and its errors, the generated corpus,
 * gradient checks in f64 of the baseline, HRED and VHRED (VHRED with a fixed
 * eps: the rng is reseeded at every forward pass), padding that changes
 * nothing, and truncated BPTT whose chunks add up to the whole pass. */
#include "sg_test.h"

#include "graph/core/sg_alloc.h"
#include "graph/optim/sg_optim.h"
#include "models/hred/sg_hred.h"

#include <math.h>

static const char dialogs[] = "a b __eou__ c __eou__ a d b\n"
                              "\n"
                              "c c __eou__ b a __eou__ d __eou__ a b c d __eou__\n"
                              "d __eou__ a\n"
                              "b a c __eou__ d d __eou__\n";

static sg_dialog_data parse_ok(const char *text, const char *tags)
{
    sg_dialog_data d;
    sg_dialog_opts o = sg_dialog_opts_defaults();
    o.valid_frac = o.test_frac = 0;
    char err[256];
    sg_status st =
        sg_dialog_data_parse(&d, text, strlen(text), "dlg", tags, tags ? strlen(tags) : 0, "tags", &o, err, sizeof err);
    if (st != SG_OK)
        fail_msg("parse: %s", err);
    return d;
}

static void expect_error(const char *text, const char *tags, size_t max_turns, const char *needle)
{
    sg_dialog_data d;
    sg_dialog_opts o = sg_dialog_opts_defaults();
    o.valid_frac = o.test_frac = 0;
    o.max_turns = max_turns;
    char err[256] = "";
    assert_int_equal(
        sg_dialog_data_parse(&d, text, strlen(text), "dlg", tags, tags ? strlen(tags) : 0, "tags", &o, err, sizeof err),
        SG_ERR_FORMAT);
    if (!strstr(err, needle))
        fail_msg("expected '%s' in: %s", needle, err);
    assert_null(d.vocab);
}

static void test_parse_and_errors(void **state)
{
    (void)state;
    sg_dialog_data d = parse_ok(dialogs, "-cm\n\n-mmo\n-c\n-m\n");
    const sg_dialog_set *s = &d.split[SG_PAIRS_TRAIN];
    assert_int_equal(s->n, 4);
    assert_int_equal(s->max_utts, 4);
    assert_int_equal(s->max_words, 4);
    size_t total = 0;
    for (size_t i = 0; i < s->n; i++)
        total += sg_dialog_utts(s, i);
    assert_int_equal(total, 3 + 4 + 2 + 2);
    /* the dialogue of line 3 keeps its tags beside its utterances */
    bool seen = false;
    for (size_t i = 0; i < s->n; i++)
        if (s->line[i] == 3) {
            seen = true;
            assert_int_equal(sg_dialog_utts(s, i), 4);
            assert_memory_equal(s->tag + s->utt_off[i], "-mmo", 4);
            size_t n;
            const int32_t *w = sg_dialog_words(s, i, 3, &n);
            assert_int_equal(n, 4);
            assert_string_equal(sg_vocab_word(d.vocab, w[0]), "a");
        }
    assert_true(seen);
    sg_dialog_data_free(&d);
    expect_error("a __eou__ __eou__ b\n", NULL, 32, "dlg:1: utterance 2 is empty");
    expect_error("a b\nc __eou__ d\n", NULL, 32, "dlg:1: a dialogue needs two utterances");
    expect_error("x __eou__ y\n__eou__ a __eou__ b\n", NULL, 32, "dlg:2: utterance 1 is empty");
    expect_error("a __eou__ b __eou__ c\n", NULL, 2, "dlg:1: 3 utterances, more than the 2 turns");
    expect_error("a __eou__ b\n", "-cc\n", 32, "tags:1: 3 tags for a dialogue of 2 utterances");
    expect_error("a __eou__ b\nc __eou__ d\n", "-c\n", 32, "tags has 1 lines");
    expect_error("\n\n", NULL, 32, "holds no dialogues");
    expect_error("a \xff __eou__ b\n", NULL, 32, "dlg:1: the line is not valid UTF-8");
}

/* The generated corpus: the same text for a seed, tags that parse beside it,
 * and context replies that repeat a word said earlier. */
static void test_synth(void **state)
{
    (void)state;
    char *text[2], *tags[2];
    size_t tl[2], gl[2];
    for (int k = 0; k < 2; k++) {
        FILE *f = open_memstream(&text[k], &tl[k]), *t = open_memstream(&tags[k], &gl[k]);
        assert_int_equal(sg_dialog_synth(f, t, 200, 7), SG_OK);
        fclose(f);
        fclose(t);
    }
    assert_int_equal(tl[0], tl[1]);
    assert_memory_equal(text[0], text[1], tl[0]);
    sg_dialog_data d = parse_ok(text[0], tags[0]);
    const sg_dialog_set *s = &d.split[SG_PAIRS_TRAIN];
    size_t n_c = 0, n_m = 0;
    for (size_t i = 0; i < s->n; i++) {
        size_t nu = sg_dialog_utts(s, i);
        assert_true(nu >= 4);
        for (size_t u = 0; u < nu; u++) {
            char tag = s->tag[s->utt_off[i] + u];
            assert_true(u == 0 ? tag == '-' : tag != '-');
            n_m += tag == 'm';
            if (tag != 'c')
                continue;
            n_c++;
            size_t n, n0;
            const int32_t *w = sg_dialog_words(s, i, u, &n), *w0 = sg_dialog_words(s, i, 0, &n0);
            assert_int_equal(w[n - 1], w0[n0 - 1]); /* the last word of the first utterance, two or more turns back */
            assert_true(u >= 3);
        }
    }
    assert_true(n_c > 100 && n_m > 150);
    sg_dialog_data_free(&d);
    for (int k = 0; k < 2; k++) {
        free(text[k]);
        free(tags[k]);
    }
}

typedef struct probe {
    const sg_hred *m;
    const sg_dialog_batch *b;
    sg_hred_loss_opts o;
    uint64_t seed; /* the eps of VHRED: reseeded every pass, so every pass draws the same */
    sg_rng rng;
} probe;

static sg_tensor *loss_fn(sg_graph *g, void *ctx)
{
    probe *p = ctx;
    sg_rng_seed(&p->rng, p->seed);
    p->o.rng = &p->rng;
    sg_hred_terms t;
    return sg_hred_loss(g, p->m, p->b, &p->o, &t) ? t.loss : NULL;
}

enum { BI = 1, FEED = 2 };

static sg_hred_config config(const sg_dialog_data *d, sg_hred_kind kind, sg_cell_kind cell, unsigned flags)
{
    return (sg_hred_config){.model = kind,
                            .vocab = sg_vocab_size(d->vocab),
                            .embed = 3,
                            .hidden = 3,
                            .context = 4,
                            .latent = 2,
                            .mlp = 3,
                            .kind = cell,
                            .bidirectional = flags & BI,
                            .context_input = flags & FEED};
}

static void check_variant(const sg_dialog_data *d, sg_hred_kind kind, sg_cell_kind cell, unsigned flags, size_t first,
                          size_t end)
{
    sg_params *ps = sg_params_new(SG_F64);
    sg_hred m;
    sg_hred_config cfg = config(d, kind, cell, flags);
    assert_int_equal(sg_hred_init(&m, ps, &cfg), SG_OK);
    sg_rng rng;
    sg_rng_seed(&rng, 5);
    assert_int_equal(sg_hred_reset_parameters(&m, &rng), SG_OK);
    sg_dialog_batcher it;
    char err[256];
    assert_int_equal(sg_dialog_batcher_init(&it, &d->split[SG_PAIRS_TRAIN], 3, 0, err, sizeof err), SG_OK);
    sg_dialog_batch b;
    assert_true(sg_dialog_batcher_next(&it, &b));
    double ctx_h[3 * 4], ctx_c[3 * 4];
    for (size_t i = 0; i < 12; i++) {
        ctx_h[i] = sg_rng_range(&rng, -0.5, 0.5);
        ctx_c[i] = sg_rng_range(&rng, -0.5, 0.5);
    }
    probe p = {.m = &m, .b = &b, .seed = 11, .o = {.first = first, .end = end, .kl_weight = 0.7}};
    if (first) {
        p.o.ctx_h = ctx_h;
        p.o.ctx_c = ctx_c;
    }
    sg_graph *g = sg_graph_new(SG_F64);
    sg_gradcheck_opts o = sg_gradcheck_defaults();
    sg_gradcheck_report r, t;
    if (sg_gradcheck_model(g, ps, loss_fn, &p, &o, &r) != SG_OK)
        fail_msg("gradcheck could not run: %s", sg_graph_error(g));
    assert_int_equal(sg_gradcheck_tape(g, &o, &t), SG_OK);
    char label[96];
    snprintf(label, sizeof label, "%s %s%s%s [%zu, %zu)", sg_hred_kind_name(kind), sg_cell_kind_name(cell),
             flags & BI ? " bidirectional" : "", flags & FEED ? " context-input" : "", first, end);
    if (!r.passed)
        fail_msg("%s: model mode, worst %.3g of allowed at %s", label, r.max_ratio, r.where);
    if (!t.passed)
        fail_msg("%s: per-op mode, first wrong op %s in %s", label, t.bad_op, t.bad_scope);
    print_message("  %-40s %4zu params, margin %6.0fx (model), tape %zu nodes\n", label, r.n_checked, 1 / r.max_ratio,
                  sg_graph_tape_len(g));
    sg_graph_free(g);
    sg_dialog_batcher_free(&it);
    sg_hred_free(&m);
    sg_params_free(ps);
}

static void test_gradcheck_every_model(void **state)
{
    (void)state;
    sg_dialog_data d = parse_ok(dialogs, NULL);
    check_variant(&d, SG_HRED_PREV, SG_CELL_GRU, 0, 0, 0);
    check_variant(&d, SG_HRED_PREV, SG_CELL_LSTM, BI | FEED, 0, 0);
    check_variant(&d, SG_HRED, SG_CELL_GRU, 0, 0, 0);
    check_variant(&d, SG_HRED, SG_CELL_LSTM, BI, 0, 0);
    check_variant(&d, SG_HRED, SG_CELL_GRU, FEED, 0, 0);
    check_variant(&d, SG_HRED, SG_CELL_LSTM, FEED, 2, 0); /* a truncated chunk from a carried state */
    check_variant(&d, SG_VHRED, SG_CELL_GRU, FEED, 0, 0);
    check_variant(&d, SG_VHRED, SG_CELL_LSTM, BI, 0, 0);
    check_variant(&d, SG_VHRED, SG_CELL_GRU, BI | FEED, 1, 0);
    /* the baseline has no context state to carry */
    sg_params *ps = sg_params_new(SG_F64);
    sg_hred m;
    sg_hred_config cfg = config(&d, SG_HRED_PREV, SG_CELL_GRU, 0);
    assert_int_equal(sg_hred_init(&m, ps, &cfg), SG_OK);
    sg_dialog_batcher it;
    char err[256];
    assert_int_equal(sg_dialog_batcher_init(&it, &d.split[SG_PAIRS_TRAIN], 3, 0, err, sizeof err), SG_OK);
    sg_dialog_batch b;
    assert_true(sg_dialog_batcher_next(&it, &b));
    sg_graph *g = sg_graph_new(SG_F64);
    sg_hred_terms t;
    sg_hred_loss_opts lo = {.first = 1};
    assert_false(sg_hred_loss(g, &m, &b, &lo, &t));
    assert_non_null(strstr(sg_graph_error(g), "hred: utterances [1, 3) of a batch of 3 (the baseline starts at 0)"));
    sg_graph_free(g);
    sg_dialog_batcher_free(&it);
    sg_hred_free(&m);
    sg_params_free(ps);
    sg_dialog_data_free(&d);
}

/* Sums of one pass, as plain numbers. */
static void pass(sg_graph *g, const sg_hred *m, const sg_dialog_batch *b, const sg_hred_loss_opts *o, double *ce,
                 double *kl, size_t *tokens, double *h, double *c)
{
    sg_graph_reset(g);
    sg_hred_terms t;
    if (!sg_hred_loss(g, m, b, o, &t))
        fail_msg("loss: %s", sg_graph_error(g));
    *ce = sg_tensor_get(t.ce, 0);
    *kl = t.kl ? sg_tensor_get(t.kl, 0) : 0;
    *tokens = t.tokens;
    if (h && t.ctx.h)
        sg_tensor_copy_out_f64(t.ctx.h, h);
    if (c && t.ctx.c)
        sg_tensor_copy_out_f64(t.ctx.c, c);
}

/* Padding is inert: a dialogue's sums alone equal its share in a batch beside
 * longer ones; and truncated chunks carrying the context state add up to the
 * whole pass (the forward computation is the same, only the tape is cut). */
static void test_padding_and_truncation(void **state)
{
    (void)state;
    sg_dialog_data d = parse_ok(dialogs, NULL);
    const sg_dialog_set *s = &d.split[SG_PAIRS_TRAIN];
    for (int kind = SG_HRED; kind <= SG_VHRED; kind++) {
        sg_params *ps = sg_params_new(SG_F64);
        sg_hred m;
        sg_hred_config cfg = config(&d, (sg_hred_kind)kind, SG_CELL_LSTM, FEED);
        assert_int_equal(sg_hred_init(&m, ps, &cfg), SG_OK);
        sg_rng rng;
        sg_rng_seed(&rng, 9);
        assert_int_equal(sg_hred_reset_parameters(&m, &rng), SG_OK);
        sg_dialog_batcher it;
        char err[256];
        assert_int_equal(sg_dialog_batcher_init(&it, s, s->n, 0, err, sizeof err), SG_OK);
        sg_graph *g = sg_graph_new(SG_F64);
        sg_dialog_batch b;
        sg_hred_loss_opts none = {0}; /* eps = 0: VHRED's pass is deterministic */
        double all_ce, all_kl, sum_ce = 0, sum_kl = 0, ce, kl;
        size_t all_tok, sum_tok = 0, tok;
        size_t idx[4] = {0, 1, 2, 3};
        sg_dialog_batcher_make(&it, idx, s->n, &b);
        pass(g, &m, &b, &none, &all_ce, &all_kl, &all_tok, NULL, NULL);
        for (size_t i = 0; i < s->n; i++) {
            sg_dialog_batcher_make(&it, &idx[i], 1, &b);
            pass(g, &m, &b, &none, &ce, &kl, &tok, NULL, NULL);
            sum_ce += ce;
            sum_kl += kl;
            sum_tok += tok;
        }
        assert_int_equal(all_tok, sum_tok);
        assert_true(fabs(all_ce - sum_ce) < 1e-10 * fabs(all_ce));
        assert_true(fabs(all_kl - sum_kl) < 1e-10 * (fabs(all_kl) + 1e-300));
        /* chunks [0, 2) and [2, U) with the state carried: the same sums */
        sg_dialog_batcher_make(&it, idx, s->n, &b);
        double h[4 * 4], c[4 * 4], ce1, kl1, ce2, kl2;
        size_t tok1, tok2;
        sg_hred_loss_opts a = {.first = 0, .end = 2}, z = {.first = 2, .ctx_h = h, .ctx_c = c};
        pass(g, &m, &b, &a, &ce1, &kl1, &tok1, h, c);
        pass(g, &m, &b, &z, &ce2, &kl2, &tok2, NULL, NULL);
        assert_int_equal(tok1 + tok2, all_tok);
        assert_true(fabs(ce1 + ce2 - all_ce) < 1e-10 * fabs(all_ce));
        assert_true(fabs(kl1 + kl2 - all_kl) < 1e-10 * (fabs(all_kl) + 1e-300));
        if (kind == SG_VHRED)
            assert_true(all_kl > 0);
        sg_graph_free(g);
        sg_dialog_batcher_free(&it);
        sg_hred_free(&m);
        sg_params_free(ps);
    }
    sg_dialog_data_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_errors),
        cmocka_unit_test(test_synth),
        cmocka_unit_test(test_gradcheck_every_model),
        cmocka_unit_test(test_padding_and_truncation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
