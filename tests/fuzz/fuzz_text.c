/* fuzz_text.c — libFuzzer target for the parsers of user text files
 * (models/data/sg_text.h, models/data/sg_pairs.h): the corpus vocabulary
 * builder and tokenizer, vocabulary serialization, and the seq2seq pair
 * parser with its batcher.  Any input must be refused with a status or
 * parsed; never a crash, a leak or an out-of-bounds access (ASan, UBSan,
 * LSan).  When parsing succeeds, properties must hold, else abort():
 *   - every token id is in [0, V); every line ends in an "<eos>";
 *   - a serialized vocabulary reads back as the same words in the same order;
 *   - the pair batcher yields every training example exactly once per epoch,
 *     with masks that match the examples' lengths.
 * See tests/fuzz/README.md. */
#include "graph/core/sg_alloc.h"
#include "models/data/sg_pairs.h"
#include "models/data/sg_text.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fz_check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_text: property broken: %s\n", what);
        abort();
    }
}

static void fz_text(const char *text, size_t len)
{
    char err[256];
    sg_vocab *v = NULL;
    if (sg_vocab_build_text(text, len, 1 + len % 3, &v, err, sizeof err) != SG_OK) {
        fz_check(v == NULL, "a failed build returns no vocabulary");
        return;
    }
    sg_tokens t;
    if (sg_tokens_from_text(&t, v, text, len, err, sizeof err) == SG_OK) {
        size_t eos = 0;
        for (size_t i = 0; i < t.n; i++) {
            fz_check(t.ids[i] >= 0 && (size_t)t.ids[i] < sg_vocab_size(v), "token ids in range");
            eos += t.ids[i] == sg_vocab_eos(v);
        }
        fz_check(eos >= t.n_lines, "an <eos> for every line (a literal \"<eos>\" word is one too)");
        sg_tokens_free(&t);
    }
    char *ser = NULL;
    size_t slen = 0;
    if (sg_vocab_serialize(v, &ser, &slen) == SG_OK) {
        sg_vocab *back = NULL;
        fz_check(sg_vocab_deserialize(ser, slen, &back, err, sizeof err) == SG_OK,
                 "a serialized vocabulary reads back");
        fz_check(sg_vocab_first_difference(v, back) < 0, "the same words in the same order");
        sg_vocab_free(back);
    }
    sg_free(ser);
    sg_vocab_free(v);
}

static void fz_pairs(const char *text, size_t len, sg_tokenizer kind)
{
    char err[256];
    sg_pair_data d;
    sg_pair_opts o = sg_pair_opts_defaults();
    o.tokenizer = kind;
    o.valid_frac = 0.25;
    o.test_frac = 0;
    if (sg_pair_data_parse(&d, text, len, "fuzz", &o, err, sizeof err) != SG_OK) {
        fz_check(d.vocab == NULL, "a failed parse owns nothing");
        return;
    }
    const sg_pair_set *s = &d.split[SG_PAIRS_TRAIN];
    for (size_t i = 0; i < s->src_off[s->n]; i++)
        fz_check(s->src[i] >= 0 && (size_t)s->src[i] < sg_vocab_size(d.vocab), "source ids in range");
    sg_pair_batcher it;
    if (sg_pair_batcher_init(&it, s, 1 + len % 5, 2, err, sizeof err) == SG_OK) {
        sg_rng rng;
        sg_rng_seed(&rng, len);
        sg_pair_batcher_epoch(&it, &rng);
        unsigned char *seen = calloc(s->n ? s->n : 1, 1);
        sg_pair_batch b;
        while (sg_pair_batcher_next(&it, &b))
            for (size_t j = 0; j < b.batch; j++) {
                size_t e = b.example[j];
                fz_check(e < s->n && !seen[e], "each example once");
                seen[e] = 1;
                size_t ls = s->src_off[e + 1] - s->src_off[e], real = 0;
                for (size_t t = 0; t < b.src_steps; t++)
                    real += b.src_mask[t * b.batch + j] == 1.0;
                fz_check(real == ls, "the mask matches the source length");
            }
        for (size_t e = 0; e < s->n; e++)
            fz_check(seen[e], "every example in the epoch");
        free(seen);
        sg_pair_batcher_free(&it);
    }
    sg_pair_data_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    fz_text(text, size);
    fz_pairs(text, size, SG_TOKENIZE_CHARS);
    fz_pairs(text, size, SG_TOKENIZE_WORDS);
    return 0;
}
