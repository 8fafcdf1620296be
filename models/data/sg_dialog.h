/* sg_dialog.h — multi-turn dialogues for the hierarchical models (HRED,
 * VHRED, models/hred): a file of dialogues, a seeded split, one word
 * vocabulary, and padded batches of whole dialogues with masks.  Pure data
 * code: no ops, no graph.
 *
 * File format (the Ubuntu Dialogue Corpus convention): one dialogue per line,
 * words separated by blanks, utterances separated by the word "__eou__"; one
 * "__eou__" at the end of the line is allowed.  Empty lines are skipped.  A
 * line with a NUL byte or invalid UTF-8, an empty utterance (two separators in
 * a row, or one at the start), a single utterance (nothing to answer) or more
 * than max_turns utterances is an error naming the file and line.
 *
 * Tags (optional, for evaluation): a second file with one line per line of
 * the dialogue file, holding one character per utterance of that line's
 * dialogue (blank lines for blank lines).  seqgrad's generated corpus uses
 * '-' (the first utterance: no target), 'c' (a reply that depends on an
 * utterance at least two turns back), 'm' (one of several equally valid
 * replies) and 'o' (anything else); any printable byte is accepted.
 *
 * Split and vocabulary as in sg_pairs.h: the dialogues are shuffled with the
 * seed, the first round(valid_frac N) are validation, the next
 * round(test_frac N) test, the rest training; the vocabulary counts training
 * words (min_count as there); ids "<pad>" 0, "<bos>" 1, "<eos>" 2, "<unk>" 3
 * (the SG_PAIRS_* constants), then the training words by descending count.
 *
 * Dimension legend: N dialogues, B batch (dialogues), U utterances (the most
 * of the batch's dialogues), L steps (the longest utterance of the batch + 1),
 * R = U*B utterance rows (row u*B + j is utterance u of dialogue j).
 * Batches are TIME-MAJOR over the rows:
 *     enc_in   (L, R)  the utterance's words, "<pad>" after its end
 *     enc_mask (L, R)  1 at its words
 *     dec_in   (L, R)  "<bos>" w_1 .. w_n, then "<pad>"   (teacher forcing)
 *     dec_out  (L, R)  w_1 .. w_n "<eos>", then "<pad>"   (the targets)
 *     dec_mask (L, R)  1 where dec_out is real ("<eos>" included)
 *     utt_mask (U, B)  1 where dialogue j has an utterance u
 * A missing utterance (u >= the dialogue's count) is all "<pad>" with zero masks.
 *
 * Ownership: a loaded sg_dialog_data owns its sets, arrays and vocabulary
 * (sg_dialog_data_free); sg_dialog_words returns a pointer into its set,
 * valid until that free; a batcher borrows the set, which must outlive it,
 * and owns its batch buffers (sg_dialog_batcher_free).
 */
#ifndef SG_DIALOG_H
#define SG_DIALOG_H

#include "graph/core/sg_rng.h"
#include "graph/core/sg_tensor.h"
#include "models/data/sg_pairs.h"
#include "models/data/sg_text.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SG_DIALOG_EOU "__eou__"

/* N dialogues as id sequences.  Dialogue i holds the utterances
 * utt_off[i] .. utt_off[i + 1]); utterance k holds tok[tok_off[k] ..
 * tok_off[k + 1]).  All arrays are owned. */
typedef struct sg_dialog_set {
    size_t n;         /* N */
    size_t *utt_off;  /* (N + 1) */
    size_t *tok_off;  /* (utterances + 1) */
    int32_t *tok;     /* (tokens) */
    char *tag;        /* (utterances) the tags, or NULL without a tags file */
    size_t *line;     /* (N) 1-based line of each dialogue in the file */
    size_t max_utts;  /* most utterances of a dialogue */
    size_t max_words; /* longest utterance */
} sg_dialog_set;

/* Utterances of dialogue i, and the words of its utterance u. */
size_t sg_dialog_utts(const sg_dialog_set *s, size_t i);
const int32_t *sg_dialog_words(const sg_dialog_set *s, size_t i, size_t u, size_t *n);

typedef struct sg_dialog_opts {
    double valid_frac; /* in [0, 1) */
    double test_frac;  /* in [0, 1), valid_frac + test_frac < 1 */
    uint64_t seed;     /* of the shuffle before the split */
    size_t min_count;  /* rarer training words become "<unk>" (0 or 1: keep all) */
    size_t max_turns;  /* most utterances a dialogue may have (>= 2) */
} sg_dialog_opts;

/* 10% validation, 10% test, seed 1, min-count 1, 32 turns. */
sg_dialog_opts sg_dialog_opts_defaults(void);

typedef struct sg_dialog_data {
    sg_vocab *vocab;        /* owned */
    sg_dialog_set split[3]; /* SG_PAIRS_TRAIN, SG_PAIRS_VALID, SG_PAIRS_TEST */
} sg_dialog_data;

/* Parses text (len bytes; name for messages) and, when tags is not NULL, its
 * tags (tags_len bytes; tags_name), splits and builds the vocabulary.  On
 * error d is zeroed and owns nothing (message in err).  SG_ERR_FORMAT: a
 * malformed line, no dialogues, tags that do not match; SG_ERR_ARG: bad
 * options, no training dialogue; SG_ERR_NOMEM.  Pair with sg_dialog_data_free. */
SG_NODISCARD sg_status sg_dialog_data_parse(sg_dialog_data *d, const char *text, size_t len, const char *name,
                                            const char *tags, size_t tags_len, const char *tags_name,
                                            const sg_dialog_opts *o, char *err, size_t errcap);
/* The same from files (tags_path may be NULL).  SG_ERR_IO: unreadable. */
SG_NODISCARD sg_status sg_dialog_data_load(sg_dialog_data *d, const char *path, const char *tags_path,
                                           const sg_dialog_opts *o, char *err, size_t errcap);
void sg_dialog_data_free(sg_dialog_data *d);

/* A context typed by a user ("hi __eou__ how are you"), parsed like one line
 * of a dialogue file, as ids of v: utterance k is the ids from index
 * (*offs)[k] up to (*offs)[k + 1] of *ids.  *ids and *offs (n_utts + 1) are
 * the caller's (sg_free).
 * A word v lacks is SG_ERR_FORMAT naming it (a model cannot read it), as are
 * an empty utterance and an empty context. */
SG_NODISCARD sg_status sg_dialog_parse_context(const sg_vocab *v, const char *text, int32_t **ids, size_t **offs,
                                               size_t *n_utts, char *err, size_t errcap);

/* ---- batches ------------------------------------------------------------------ */

/* One batch (see the legend); buffers belong to the batcher and are
 * overwritten by the next call. */
typedef struct sg_dialog_batch {
    size_t batch, utts, steps; /* B, U, L */
    const size_t *example;     /* (B) the dialogues' indices in the set */
    const size_t *n_utts;      /* (B) utterances of each dialogue */
    const int32_t *enc_in;     /* (L, R) */
    const double *enc_mask;    /* (L, R) */
    const int32_t *dec_in;     /* (L, R) */
    const int32_t *dec_out;    /* (L, R) */
    const double *dec_mask;    /* (L, R) */
    const double *utt_mask;    /* (U, B) */
} sg_dialog_batch;

/* Bucketing as in sg_pair_batcher: each epoch the dialogues are shuffled, cut
 * into pools of bucket x B, each pool sorted by (utterances, longest
 * utterance), cut into batches, and the batches shuffled.  bucket 0 keeps the
 * set's order (evaluation). */
typedef struct sg_dialog_batcher {
    const sg_dialog_set *set; /* borrowed */
    size_t batch, bucket;
    size_t *order, *batch_start, *n_utts;
    size_t n_batches, next;
    int32_t *enc_in, *dec_in, *dec_out;
    double *enc_mask, *dec_mask, *utt_mask;
} sg_dialog_batcher;

/* Allocates everything (the later calls allocate nothing).  SG_ERR_ARG: B is
 * 0, the set is empty, or the buffers' size overflows; SG_ERR_NOMEM. */
SG_NODISCARD sg_status sg_dialog_batcher_init(sg_dialog_batcher *it, const sg_dialog_set *set, size_t batch,
                                              size_t bucket, char *err, size_t errcap);
/* Starts an epoch (rng may be NULL only with bucket 0). */
void sg_dialog_batcher_epoch(sg_dialog_batcher *it, sg_rng *rng);
/* Fills b with the next batch; false when the epoch is over. */
bool sg_dialog_batcher_next(sg_dialog_batcher *it, sg_dialog_batch *b);
/* Fills the batcher's buffers with the given dialogues (idx (B), B <= the
 * batcher's batch) and b with them: for evaluation in any order. */
void sg_dialog_batcher_make(sg_dialog_batcher *it, const size_t *idx, size_t B, sg_dialog_batch *b);
void sg_dialog_batcher_free(sg_dialog_batcher *it);

/* ---- a generated corpus --------------------------------------------------------- */

/* Writes n dialogues drawn with seed (models/data/sg_dialog_synth.c) to f and
 * their tags to tags_f (same lines).  The corpus and its rules are described
 * in docs/hred.md.  SG_ERR_IO when a write fails. */
SG_NODISCARD sg_status sg_dialog_synth(FILE *f, FILE *tags_f, size_t n, uint64_t seed);

#endif
