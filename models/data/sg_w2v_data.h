/* sg_w2v_data.h — word2vec's data: the corpus as one id stream, subsampling of
 * frequent words, the negative-sampling distribution, and the batches of
 * (center, context, negatives) examples that the model's tape consumes.
 * Pure data code: no ops, no graph.
 *
 * The conventions are those of the original word2vec.c:
 *   - words are separated by blanks; every line break is the word "</s>",
 *     which is word 0 and ends a sentence (windows never cross it);
 *   - words seen fewer than min_count times are dropped (no "<unk>");
 *     the others are ordered by descending count (ties by byte order);
 *   - subsampling keeps an occurrence of word w, of count f_w among T words
 *     in all, with probability min(1, (sqrt(f_w / (s T)) + 1) (s T) / f_w)
 *     (s the threshold, --sample; 0 keeps everything);
 *   - negatives are drawn from the unigram distribution to the power 0.75
 *     (here with Walker's alias method: one uniform draw and one compare);
 *   - the window of each center word is drawn uniformly from 1..window.
 *
 * Dimension legend: V vocabulary, n tokens in the stream, N examples in a
 * batch, K negatives per example, C = 2 * window context slots (CBOW).
 *
 * Errors: functions that can fail return an sg_status and write a one-line
 * message into err (errcap bytes) when err is not NULL.  Nothing aborts.
 */
#ifndef SG_W2V_DATA_H
#define SG_W2V_DATA_H

#include "graph/core/sg_rng.h"
#include "models/data/sg_text.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the corpus ----------------------------------------------------------- */

typedef struct sg_w2v_corpus {
    sg_vocab *vocab; /* owned; word 0 is "</s>" */
    int32_t *ids;    /* (n) owned: the text as ids, dropped words left out */
    size_t n;
    uint64_t train_words; /* words kept, "</s>" included (word2vec.c's train_words) */
} sg_w2v_corpus;

/* Reads the len bytes at text (name: for messages).  SG_ERR_FORMAT: a NUL
 * byte, or no word seen min_count times.  On error nothing is left to free.
 * Pair with sg_w2v_corpus_free. */
SG_NODISCARD sg_status sg_w2v_corpus_parse(sg_w2v_corpus *c, const char *text, size_t len, const char *name,
                                           size_t min_count, char *err, size_t errcap);
/* The same from a file (SG_ERR_IO when it cannot be read). */
SG_NODISCARD sg_status sg_w2v_corpus_load(sg_w2v_corpus *c, const char *path, size_t min_count, char *err,
                                          size_t errcap);
/* Frees the vocabulary and the ids c owns and zeroes c (a batcher over it
 * dangles).  NULL is a no-op. */
void sg_w2v_corpus_free(sg_w2v_corpus *c);

/* ---- the negative-sampling distribution ------------------------------------- */

/* Walker's alias table over V outcomes with weights proportional to w.  A
 * draw is one 64-bit random number: its high half picks cell i (multiply
 * and shift), its low half keeps i when below cell i's threshold, else
 * takes the cell's alias; both halves of a cell in one 8-byte load. */
typedef struct sg_alias_cell {
    uint32_t keep; /* keep i when the low 32 bits are below keep (a full cell aliases itself) */
    int32_t alias;
} sg_alias_cell;

typedef struct sg_alias {
    sg_alias_cell *cell; /* (V) owned */
    size_t n;
} sg_alias;

/* w (n) non-negative, finite, not all zero (else SG_ERR_ARG).  Pair with
 * sg_alias_free. */
SG_NODISCARD sg_status sg_alias_init(sg_alias *a, const double *w, size_t n);
/* Frees the tables a owns and zeroes a.  NULL is a no-op. */
void sg_alias_free(sg_alias *a);
/* One draw: outcome i with probability w[i] / sum(w). */
int32_t sg_alias_draw(const sg_alias *a, sg_rng *rng);

/* ---- batches of examples ---------------------------------------------------------- */

typedef enum sg_w2v_arch { SG_W2V_SKIPGRAM = 0, SG_W2V_CBOW = 1 } sg_w2v_arch;

typedef struct sg_w2v_opts {
    sg_w2v_arch arch;
    size_t window;   /* w: the effective window is drawn from 1..w */
    size_t negative; /* K >= 1 */
    double sample;   /* subsampling threshold s (0: off) */
    size_t batch;    /* N examples per batch */
    size_t iters;    /* passes over the corpus */
} sg_w2v_opts;

sg_w2v_opts sg_w2v_opts_defaults(void); /* skip-gram, 5, 5, 1e-3, 128, 5 */

/* One batch, every buffer owned by the batcher and overwritten by the next.
 * Skip-gram: example i is center[i] predicting target[i][0] (a word of its
 * window), against target[i][1..K] (negatives).  CBOW: the mean of the
 * context words context[i][0..C-1] (ctx_mask 1 for a real slot, 0 for an
 * empty one; ctx_scale[i] = 1 / real slots) predicts target[i][0] (the
 * center), against the negatives. */
typedef struct sg_w2v_batch {
    size_t n;                /* N (the last batch may be smaller) */
    const int32_t *center;   /* (N) skip-gram */
    const int32_t *target;   /* (N, K + 1) */
    const int32_t *context;  /* (N, C) CBOW; padding slots hold word 0 */
    const double *ctx_mask;  /* (N, C) CBOW */
    const double *ctx_scale; /* (N) CBOW */
    uint64_t words_done;     /* corpus words consumed so far, over every pass (for the rate) */
} sg_w2v_batch;

typedef struct sg_w2v_batcher {
    const sg_w2v_corpus *c; /* borrowed */
    sg_w2v_opts o;
    sg_alias neg;
    double *keep; /* (V) subsampling keep probabilities */
    size_t pos, iter;
    size_t begin, end; /* the corpus positions read (a shard: sg_w2v_batcher_shard) */
    uint64_t words_done;
    /* the sentence being read: its kept ids, the center in it, and the
     * center's window examples still to emit (skip-gram) */
    int32_t *sent;
    size_t sent_len, sent_cap, at, ctx_k, ctx_b;
    int32_t *center, *target, *context; /* (N), (N, K+1), (N, C) */
    double *ctx_mask, *ctx_scale;       /* (N, C), (N) */
} sg_w2v_batcher;

/* SG_ERR_ARG for a bad option (window, negative or batch 0, iters 0, sample
 * negative or not finite).  Pair with sg_w2v_batcher_free. */
SG_NODISCARD sg_status sg_w2v_batcher_init(sg_w2v_batcher *it, const sg_w2v_corpus *c, const sg_w2v_opts *o, char *err,
                                           size_t errcap);
/* Frees the batcher's sampling tables and batch buffers (a batch it filled
 * dangles); the corpus stays the caller's.  NULL is a no-op. */
void sg_w2v_batcher_free(sg_w2v_batcher *it);
/* Fills *b with the next batch, drawing from rng (subsampling, windows,
 * negatives); false when every pass is done.  Deterministic for a seed. */
bool sg_w2v_batcher_next(sg_w2v_batcher *it, sg_rng *rng, sg_w2v_batch *b);
/* Makes it read shard t of T: the corpus positions from about t/T to
 * (t+1)/T of the text, both ends moved forward to a sentence start (after
 * a "</s>"), for every pass; a shard can be empty.  Call it after init and
 * before the first batch.  Each of T threads with its own shard and rng
 * reads its part of the text as one batcher would read the whole (shard 0
 * of 1 is the whole text).  SG_ERR_ARG for t >= T. */
SG_NODISCARD sg_status sg_w2v_batcher_shard(sg_w2v_batcher *it, size_t t, size_t T);
/* The total word count of all passes (iters * the words of the shard, the
 * whole corpus's train_words unsharded), for the rate. */
uint64_t sg_w2v_total_words(const sg_w2v_batcher *it);
/* word2vec.c's learning rate for batch b: lr0 decaying linearly over every
 * pass's words, never below lr0 * 1e-4. */
double sg_w2v_rate(const sg_w2v_batcher *it, const sg_w2v_batch *b, double lr0);

#endif
