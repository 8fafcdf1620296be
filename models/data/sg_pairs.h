/* sg_pairs.h — parallel examples for sequence-to-sequence tasks: tokenizers
 * (characters or words), a file of (source, target) pairs, a seeded split,
 * one vocabulary shared by both sides, and padded, length-bucketed batches
 * with masks.  Pure data code: no ops, no graph.
 *
 * File format: one example per line.  Source and target are separated by the
 * first tab or, on a line without a tab, by the first '_' (the format of the
 * addition and date sets in ../shared/data/seq2seq).  Blanks at the end of
 * either side are padding, not tokens (so is the '\r' of a CRLF line end).
 * Empty lines are skipped; a line without a separator, with an empty side, or
 * with a NUL byte is an error naming the line.
 *
 * Split: the examples are shuffled with the seed, then the first
 * round(valid_frac N) are validation, the next round(test_frac N) test, the
 * rest training.  The vocabulary counts the training examples only; tokens of
 * validation and test examples that it lacks become "<unk>".
 *
 * Ids: "<pad>" 0, "<bos>" 1, "<eos>" 2, "<unk>" 3, then the training tokens by
 * descending count (ties by byte order); see sg_vocab_counter_finish.
 *
 * Dimension legend: N examples, B batch (examples in one batch), S source
 * steps (the longest source of the batch), T target steps (the longest target
 * of the batch + 1).  Batches are TIME-MAJOR like sg_seq.h:
 *     src      (S, B)  source ids, "<pad>" after the end
 *     src_mask (S, B)  1 at real tokens, 0 at padding
 *     dec_in   (T, B)  "<bos>" y_1 .. y_n, then "<pad>"   (teacher forcing)
 *     dec_out  (T, B)  y_1 .. y_n "<eos>", then "<pad>"   (the targets)
 *     tgt_mask (T, B)  1 where dec_out is real (eos included), 0 at padding
 */
#ifndef SG_PAIRS_H
#define SG_PAIRS_H

#include "graph/core/sg_rng.h"
#include "graph/core/sg_tensor.h"
#include "models/data/sg_text.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SG_PAIRS_PAD "<pad>"
#define SG_PAIRS_BOS "<bos>"
#define SG_PAIRS_EOS "<eos>"
#define SG_PAIRS_UNK "<unk>"
enum { SG_PAIRS_PAD_ID = 0, SG_PAIRS_BOS_ID = 1, SG_PAIRS_EOS_ID = 2, SG_PAIRS_UNK_ID = 3 };

/* ---- tokenizers ----------------------------------------------------------- */

typedef enum sg_tokenizer { SG_TOKENIZE_CHARS = 0, SG_TOKENIZE_WORDS = 1 } sg_tokenizer;

/* The next token of s[*pos .. len), advancing *pos past it: one UTF-8
 * character (CHARS: blanks are tokens too; a byte that starts no well-formed
 * sequence is a token of its own), or a maximal run of non-blank bytes
 * (WORDS: blanks are skipped).  false when there is none left. */
bool sg_token_next(sg_tokenizer kind, const char *s, size_t len, size_t *pos, const char **tok, size_t *tok_len);

/* ---- examples --------------------------------------------------------------- */

/* N examples as id sequences (no "<bos>"/"<eos>": those are added by the
 * batcher).  Example i: src[src_off[i] .. src_off[i + 1]), likewise tgt. */
typedef struct sg_pair_set {
    size_t n;        /* N */
    int32_t *src;    /* owned */
    size_t *src_off; /* (N + 1) owned */
    int32_t *tgt;    /* owned */
    size_t *tgt_off; /* (N + 1) owned */
    size_t max_src;  /* longest source */
    size_t max_tgt;  /* longest target */
    size_t *line;    /* (N) owned: the 1-based line of each example in the file */
} sg_pair_set;

enum { SG_PAIRS_TRAIN = 0, SG_PAIRS_VALID = 1, SG_PAIRS_TEST = 2 };

typedef struct sg_pair_opts {
    sg_tokenizer tokenizer;
    double valid_frac; /* in [0, 1) */
    double test_frac;  /* in [0, 1), valid_frac + test_frac < 1 */
    uint64_t seed;     /* of the shuffle before the split */
    size_t min_count;  /* training tokens seen fewer times become "<unk>" (0 or 1: keep all) */
} sg_pair_opts;

/* Character tokens, 10% validation, 10% test, seed 1, keep every token. */
sg_pair_opts sg_pair_opts_defaults(void);

typedef struct sg_pair_data {
    sg_vocab *vocab;        /* owned: the specials, then the training tokens */
    sg_pair_set split[3];   /* SG_PAIRS_TRAIN, SG_PAIRS_VALID, SG_PAIRS_TEST */
    sg_tokenizer tokenizer; /* how the text was cut */
} sg_pair_data;

/* Parses text (len bytes; name is used in messages), splits it and builds the
 * vocabulary.  On error d is zeroed and owns nothing; on success free it with
 * sg_pair_data_free.  SG_ERR_FORMAT: a malformed line, or no examples;
 * SG_ERR_ARG: bad options, or fewer than one training example; SG_ERR_NOMEM. */
SG_NODISCARD sg_status sg_pair_data_parse(sg_pair_data *d, const char *text, size_t len, const char *name,
                                          const sg_pair_opts *o, char *err, size_t errcap);
/* The same from a file (SG_ERR_IO when it cannot be read). */
SG_NODISCARD sg_status sg_pair_data_load(sg_pair_data *d, const char *path, const sg_pair_opts *o, char *err,
                                         size_t errcap);
/* Frees the vocabulary and the splits d owns and zeroes d (a loaded batcher
 * over a split dangles).  NULL is a no-op. */
void sg_pair_data_free(sg_pair_data *d);

/* ---- batches ---------------------------------------------------------------- */

/* One batch (see the legend); every buffer belongs to the batcher and is
 * overwritten by the next call. */
typedef struct sg_pair_batch {
    size_t batch;          /* B (the last batch of an epoch may be smaller) */
    size_t src_steps;      /* S */
    size_t tgt_steps;      /* T */
    const size_t *example; /* (B) the examples' indices in the set */
    const int32_t *src;    /* (S, B) */
    const double *src_mask;
    const int32_t *dec_in;  /* (T, B) */
    const int32_t *dec_out; /* (T, B) */
    const double *tgt_mask;
} sg_pair_batch;

/* Bucketing: each epoch the examples are shuffled, cut into pools of
 * bucket x B examples, each pool is sorted by (source length, target length),
 * cut into batches, and the batches of the epoch are shuffled, so that a batch
 * holds examples of similar lengths (little padding) in a random order.
 * bucket 0 keeps the set's order (no shuffle, no sorting: for evaluation). */
typedef struct sg_pair_batcher {
    const sg_pair_set *set; /* borrowed: must outlive the batcher */
    size_t batch, bucket;   /* B, pool size in batches */
    size_t *order;          /* (N) example indices, in batch order */
    size_t *batch_start;    /* (n_batches) index into order of each batch */
    size_t n_batches, next;
    int32_t *src, *dec_in, *dec_out; /* (max_src B), (max_tgt + 1) B */
    double *src_mask, *tgt_mask;
} sg_pair_batcher;

/* Allocates everything the epochs need (none of the later calls allocate).
 * SG_ERR_ARG: B is 0 or the set is empty; SG_ERR_NOMEM. */
SG_NODISCARD sg_status sg_pair_batcher_init(sg_pair_batcher *it, const sg_pair_set *set, size_t batch, size_t bucket,
                                            char *err, size_t errcap);
/* Starts an epoch: with bucket > 0 reorders as described, drawing from rng
 * (which may be NULL only when bucket is 0); then the first batch is next. */
void sg_pair_batcher_epoch(sg_pair_batcher *it, sg_rng *rng);
/* Fills b with the next batch; false when the epoch is over. */
bool sg_pair_batcher_next(sg_pair_batcher *it, sg_pair_batch *b);
/* Frees the batcher's order and batch buffers (a batch it filled dangles);
 * the set it reads stays the caller's.  NULL is a no-op. */
void sg_pair_batcher_free(sg_pair_batcher *it);

#endif
