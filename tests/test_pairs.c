/* test_pairs.c — seq2seq data (models/data/sg_pairs.h): tokenizers, pair
 * files in both separator styles with padding, errors that name the line, the
 * seeded split, the vocabulary's specials, and the bucketed batcher (layout,
 * masks, every example once per epoch, less padding than no bucketing, no
 * allocation after init).  All data is generated here. */
#include "sg_test.h"

#include "graph/core/sg_alloc.h"
#include "models/data/sg_pairs.h"

static void test_tokenizers(void **state)
{
    (void)state;
    const char *s = "a\xc3\xa9 b\xff";
    size_t pos = 0, tl, n = 0;
    const char *t;
    size_t lens[8];
    while (sg_token_next(SG_TOKENIZE_CHARS, s, strlen(s), &pos, &t, &tl))
        lens[n++] = tl;
    assert_int_equal(n, 5); /* a, é (2 bytes), space, b, a stray byte */
    assert_int_equal(lens[1], 2);
    assert_int_equal(lens[2], 1);
    assert_int_equal(lens[4], 1);
    pos = n = 0;
    const char *w = "  to be\tor  ";
    while (sg_token_next(SG_TOKENIZE_WORDS, w, strlen(w), &pos, &t, &tl))
        n++;
    assert_int_equal(n, 3);
}

/* "a+b  _c  " lines for i in [0, n), the course's format. */
static char *addition_text(size_t n)
{
    char *buf = malloc(n * 32 + 1), *p = buf;
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%zu+%zu  _%zu  \n", i % 97, i % 13, i % 97 + i % 13);
    return buf;
}

static void test_parse_split_vocab(void **state)
{
    (void)state;
    char err[256];
    char *text = addition_text(200);
    sg_pair_data d;
    sg_pair_opts o = sg_pair_opts_defaults();
    assert_int_equal(sg_pair_data_parse(&d, text, strlen(text), "add", &o, err, sizeof err), SG_OK);
    assert_int_equal(d.split[SG_PAIRS_VALID].n, 20);
    assert_int_equal(d.split[SG_PAIRS_TEST].n, 20);
    assert_int_equal(d.split[SG_PAIRS_TRAIN].n, 160);
    assert_string_equal(sg_vocab_word(d.vocab, SG_PAIRS_PAD_ID), "<pad>");
    assert_string_equal(sg_vocab_word(d.vocab, SG_PAIRS_BOS_ID), "<bos>");
    assert_string_equal(sg_vocab_word(d.vocab, SG_PAIRS_EOS_ID), "<eos>");
    assert_int_equal(sg_vocab_unk(d.vocab), SG_PAIRS_UNK_ID);
    assert_int_equal(sg_vocab_size(d.vocab), 4 + 11); /* 0-9 and '+'; the padding spaces are no tokens */
    assert_int_equal(sg_vocab_id(d.vocab, " "), -1);
    /* example: its source decodes to "a+b" of its own line */
    const sg_pair_set *tr = &d.split[SG_PAIRS_TRAIN];
    size_t i = 7, line = tr->line[i], k = line - 1;
    char want[32], got[32] = "";
    snprintf(want, sizeof want, "%zu+%zu", k % 97, k % 13);
    for (size_t j = tr->src_off[i]; j < tr->src_off[i + 1]; j++)
        strcat(got, sg_vocab_word(d.vocab, tr->src[j]));
    assert_string_equal(got, want);
    size_t max_src = 0;
    for (size_t e = 0; e < tr->n; e++)
        if (tr->src_off[e + 1] - tr->src_off[e] > max_src)
            max_src = tr->src_off[e + 1] - tr->src_off[e];
    assert_int_equal(tr->max_src, max_src);

    /* the same seed gives the same split; another seed another */
    sg_pair_data d2, d3;
    assert_int_equal(sg_pair_data_parse(&d2, text, strlen(text), "add", &o, err, sizeof err), SG_OK);
    o.seed = 2;
    assert_int_equal(sg_pair_data_parse(&d3, text, strlen(text), "add", &o, err, sizeof err), SG_OK);
    assert_memory_equal(d.split[0].line, d2.split[0].line, 160 * sizeof(size_t));
    assert_memory_not_equal(d.split[0].line, d3.split[0].line, 160 * sizeof(size_t));
    sg_pair_data_free(&d);
    sg_pair_data_free(&d2);
    sg_pair_data_free(&d3);
    free(text);

    /* tabs separate first (a '_' is then part of the text); words; unseen tokens */
    const char *tabbed = "the cat_sat\tle chat\nthe dog\tle chien\n\n";
    o = sg_pair_opts_defaults();
    o.tokenizer = SG_TOKENIZE_WORDS;
    o.valid_frac = 0.5;
    o.test_frac = 0;
    assert_int_equal(sg_pair_data_parse(&d, tabbed, strlen(tabbed), "tab", &o, err, sizeof err), SG_OK);
    assert_int_equal(d.split[SG_PAIRS_TRAIN].n + d.split[SG_PAIRS_VALID].n, 2);
    const sg_pair_set *v = &d.split[SG_PAIRS_VALID];
    bool unk = false;
    for (size_t j = 0; j < v->src_off[1]; j++)
        unk = unk || v->src[j] == SG_PAIRS_UNK_ID; /* "cat_sat" or "dog" was never seen in training */
    assert_true(unk);
    sg_pair_data_free(&d);
}

static void test_parse_errors_name_the_line(void **state)
{
    (void)state;
    char err[256];
    sg_pair_data d;
    const char *nosep = "1+1_2\n2+2 4\n";
    assert_int_equal(sg_pair_data_parse(&d, nosep, strlen(nosep), "f.txt", NULL, err, sizeof err), SG_ERR_FORMAT);
    assert_true(sg_contains(err, "f.txt:2: no separator"));
    const char *empty = "1+1_2\n\n3+3_   \n";
    assert_int_equal(sg_pair_data_parse(&d, empty, strlen(empty), "f.txt", NULL, err, sizeof err), SG_ERR_FORMAT);
    assert_true(sg_contains(err, "f.txt:3: the target is empty"));
    const char *latin1 = "caf\xc3\xa9_ok\ncaf\xe9_bad\n"; /* line 1 UTF-8, line 2 Latin-1 */
    assert_int_equal(sg_pair_data_parse(&d, latin1, strlen(latin1), "f.txt", NULL, err, sizeof err), SG_ERR_FORMAT);
    assert_true(sg_contains(err, "f.txt:2: the line is not valid UTF-8"));
    assert_int_equal(sg_pair_data_parse(&d, "\n \n", 3, "f.txt", NULL, err, sizeof err), SG_ERR_FORMAT);
    assert_true(sg_contains(err, "holds no examples"));
    assert_null(d.vocab);
    sg_pair_opts o = sg_pair_opts_defaults();
    o.valid_frac = 0.6;
    o.test_frac = 0.5;
    assert_int_equal(sg_pair_data_parse(&d, "a_b\n", 4, "f", &o, err, sizeof err), SG_ERR_ARG);
    o.valid_frac = 0.5;
    o.test_frac = 0.0;
    assert_int_equal(sg_pair_data_parse(&d, "a_b\n", 4, "f", &o, err, sizeof err), SG_ERR_ARG);
    assert_true(sg_contains(err, "none for training"));
    assert_int_equal(sg_pair_data_load(&d, "/nonexistent/pairs.txt", NULL, err, sizeof err), SG_ERR_IO);
}

/* Sum of padded source cells over an epoch. */
static size_t epoch_padding(sg_pair_batcher *it, sg_rng *rng)
{
    sg_pair_batch b;
    size_t pad = 0;
    sg_pair_batcher_epoch(it, rng);
    while (sg_pair_batcher_next(it, &b))
        for (size_t c = 0; c < b.src_steps * b.batch; c++)
            pad += b.src_mask[c] == 0.0;
    return pad;
}

static void test_batcher(void **state)
{
    (void)state;
    char err[256];
    char *text = addition_text(103);
    sg_pair_data d;
    sg_pair_opts o = sg_pair_opts_defaults();
    o.valid_frac = o.test_frac = 0;
    assert_int_equal(sg_pair_data_parse(&d, text, strlen(text), "add", &o, err, sizeof err), SG_OK);
    const sg_pair_set *s = &d.split[SG_PAIRS_TRAIN];
    sg_pair_batcher it, flat;
    assert_int_equal(sg_pair_batcher_init(&it, s, 8, 4, err, sizeof err), SG_OK);
    assert_int_equal(sg_pair_batcher_init(&flat, s, 8, 0, err, sizeof err), SG_OK);
    assert_int_equal(it.n_batches, 13); /* 12 of 8 and one of 7 */

    sg_rng rng;
    sg_rng_seed(&rng, 5);
    size_t allocs = sg_alloc_count();
    sg_pair_batcher_epoch(&it, &rng);
    int *seen = calloc(s->n, sizeof *seen);
    sg_pair_batch b;
    size_t batches = 0, small = 0;
    while (sg_pair_batcher_next(&it, &b)) {
        batches++;
        small += b.batch < 8;
        for (size_t j = 0; j < b.batch; j++) {
            size_t e = b.example[j], ls = s->src_off[e + 1] - s->src_off[e], lt = s->tgt_off[e + 1] - s->tgt_off[e];
            seen[e]++;
            for (size_t t = 0; t < b.src_steps; t++) {
                int32_t id = b.src[t * b.batch + j];
                assert_int_equal(id, t < ls ? s->src[s->src_off[e] + t] : SG_PAIRS_PAD_ID);
                assert_true(b.src_mask[t * b.batch + j] == (t < ls ? 1.0 : 0.0));
            }
            assert_int_equal(b.dec_in[j], SG_PAIRS_BOS_ID);
            for (size_t t = 0; t < b.tgt_steps; t++) {
                int32_t out = b.dec_out[t * b.batch + j];
                assert_int_equal(out, t < lt ? s->tgt[s->tgt_off[e] + t] : t == lt ? SG_PAIRS_EOS_ID : SG_PAIRS_PAD_ID);
                if (t + 1 < b.tgt_steps && t < lt)
                    assert_int_equal(b.dec_in[(t + 1) * b.batch + j], out); /* teacher forcing: shifted by one */
                assert_true(b.tgt_mask[t * b.batch + j] == (t <= lt ? 1.0 : 0.0));
            }
        }
    }
    assert_int_equal(sg_alloc_count(), allocs); /* epochs and batches allocate nothing */
    assert_int_equal(batches, 13);
    assert_int_equal(small, 1);
    for (size_t e = 0; e < s->n; e++)
        assert_int_equal(seen[e], 1);
    free(seen);

    /* bucketing pads less than the file order (lengths 3 to 5 mixed) */
    size_t bucketed = epoch_padding(&it, &rng), plain = epoch_padding(&flat, NULL);
    assert_true(bucketed < plain);
    /* the order without bucketing is the set's */
    sg_pair_batcher_epoch(&flat, NULL);
    assert_true(sg_pair_batcher_next(&flat, &b));
    for (size_t j = 0; j < b.batch; j++)
        assert_int_equal(b.example[j], j);

    sg_pair_batcher_free(&it);
    assert_int_equal(sg_pair_batcher_init(&it, s, 0, 1, err, sizeof err), SG_ERR_ARG);
    sg_pair_batcher_free(&flat);
    sg_pair_data_free(&d);
    free(text);
}

static void test_vocab_counter(void **state)
{
    (void)state;
    char err[256];
    sg_vocab *c = sg_vocab_counter_new(), *v;
    const char *toks[] = {"x", "y", "x", " ", "z", "x", "y"};
    for (size_t i = 0; i < 7; i++)
        assert_int_equal(sg_vocab_counter_add(c, toks[i], strlen(toks[i])), SG_OK);
    assert_int_equal(sg_vocab_counter_add(c, "a\0b", 3), SG_ERR_ARG);
    assert_int_equal(sg_vocab_counter_add(c, "", 0), SG_ERR_ARG);
    const char *sp[] = {"<pad>", "<unk>", "y"};
    assert_int_equal(sg_vocab_counter_finish(c, sp, 3, 2, &v, err, sizeof err), SG_OK);
    assert_int_equal(sg_vocab_size(v), 4); /* <pad> <unk> y x; " " and z dropped (count 1 < 2) */
    assert_int_equal(sg_vocab_id(v, "y"), 2);
    assert_int_equal(sg_vocab_id(v, "x"), 3);
    assert_int_equal(sg_vocab_count(v, 1), 2); /* <unk> took the dropped occurrences */
    assert_int_equal(sg_vocab_count(v, 2), 2);
    assert_int_equal(sg_vocab_unk(v), 1);
    assert_int_equal(sg_vocab_eos(v), -1);
    sg_vocab_free(v);
    assert_int_equal(sg_vocab_counter_finish(c, sp, 3, 0, &v, err, sizeof err), SG_OK);
    char *out;
    assert_int_equal(sg_vocab_serialize(v, &out, NULL), SG_ERR_ARG); /* " " would not read back */
    sg_vocab_free(v);
    const char *dup[] = {"<pad>", "<pad>"};
    assert_int_equal(sg_vocab_counter_finish(c, dup, 2, 0, &v, err, sizeof err), SG_ERR_ARG);
    assert_true(sg_contains(err, "'<pad>' is given twice"));
    assert_null(v);
    sg_vocab_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokenizers),
        cmocka_unit_test(test_parse_split_vocab),
        cmocka_unit_test(test_parse_errors_name_the_line),
        cmocka_unit_test(test_batcher),
        cmocka_unit_test(test_vocab_counter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
