/* sg_text.h — word-level text for language modelling (Penn Treebank style).
 *
 * Text format: one sentence per line, words separated by blanks (space, tab,
 * CR, VT, FF); every '\n' ends a line and yields the word "<eos>" (a last line
 * without '\n' that holds a word yields one too).  Rare words are "<unk>".
 * A NUL byte makes the text malformed (SG_ERR_FORMAT): words are C strings.
 *
 *   vocabulary    words <-> int32 ids, built from a training text; lookup by
 *                 an open-addressing hash table (FNV-1a, linear probing)
 *   tokens        a text turned into one int32 id stream (n)
 *   batcher       the Zaremba et al. contiguous layout: the stream is cut into
 *                 B parallel streams of L = n / B tokens (the tail n mod B is
 *                 dropped); window k holds x (T_k, B) and targets y (T_k, B),
 *                 y[t][b] = x[t][b] + one token
 *   corpus        a data directory: train/valid/test files, one vocabulary
 *
 * Dimension legend: V vocabulary size, n tokens in a stream, B parallel
 * streams (batch), L = n / B tokens per stream, T window steps, T_k steps of
 * window k (T, or fewer for a shorter final window).
 *
 * Id order: ids are given by descending training count, ties broken by byte
 * order of the words (memcmp; a proper prefix first).  Counts are those of the
 * training token stream after mapping: "<eos>" counts the lines, "<unk>" counts
 * its literal occurrences plus every occurrence of a word dropped by the
 * min-count rule.  "<unk>" and "<eos>" are always in the vocabulary, with count
 * 0 if they never occur.  The order depends only on the text.
 *
 * Errors: every function that can fail returns an sg_status and, when err is
 * not NULL, writes a one-line message into err (errcap bytes, NUL-terminated).
 * Nothing aborts.  Pure data code: no ops, no graph.
 *
 * Ownership: what a function makes is the caller's and has a matching free
 * (sg_vocab_free, sg_tokens_free, sg_text_corpus_free); strings a vocabulary
 * returns are its own, valid until sg_vocab_free; inputs are borrowed.
 */
#ifndef SG_TEXT_H
#define SG_TEXT_H

#include "graph/core/sg_rng.h"
#include "graph/core/sg_tensor.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SG_TEXT_UNK "<unk>"
#define SG_TEXT_EOS "<eos>"

/* ---- vocabulary ----------------------------------------------------------- */

typedef struct sg_vocab sg_vocab; /* opaque; owns its words, counts and hash table */

/* Builds a vocabulary from the text (len bytes, need not be NUL-terminated).
 * Words seen fewer than min_count times map to "<unk>" (0 or 1: keep every
 * word).  On success *out is a new vocabulary owned by the caller
 * (sg_vocab_free); on error *out is NULL.  SG_ERR_FORMAT: no words, NUL byte;
 * SG_ERR_ARG: more than INT32_MAX words; SG_ERR_NOMEM. */
SG_NODISCARD sg_status sg_vocab_build_text(const char *text, size_t len, size_t min_count, sg_vocab **out, char *err,
                                           size_t errcap);
/* The same from a file.  SG_ERR_IO: cannot open or read (message has the path
 * and the system's reason); SG_ERR_FORMAT: empty (no words) or NUL byte. */
SG_NODISCARD sg_status sg_vocab_build_file(const char *path, size_t min_count, sg_vocab **out, char *err,
                                           size_t errcap);
void sg_vocab_free(sg_vocab *v);

size_t sg_vocab_size(const sg_vocab *v); /* V */
/* The word of id (owned by v, valid until sg_vocab_free); NULL if out of range. */
const char *sg_vocab_word(const sg_vocab *v, int32_t id);
/* Training count of id (0 for a deserialized vocabulary or an id out of range). */
uint64_t sg_vocab_count(const sg_vocab *v, int32_t id);
/* The id of word (NUL-terminated, or len bytes); -1 when absent. */
int32_t sg_vocab_id(const sg_vocab *v, const char *word);
int32_t sg_vocab_id_n(const sg_vocab *v, const char *word, size_t len);
/* The id of word, or the id of "<unk>" when absent. */
int32_t sg_vocab_lookup(const sg_vocab *v, const char *word);
int32_t sg_vocab_unk(const sg_vocab *v);
/* The first id whose word differs between a and b (ids beyond the shorter
 * one count as different); -1 when both hold the same words in the same order. */
int32_t sg_vocab_first_difference(const sg_vocab *a, const sg_vocab *b);
int32_t sg_vocab_eos(const sg_vocab *v);

/* Building from any tokens (characters, words, ...), for data other than
 * running text.  A counter is a vocabulary that only counts: add every
 * training token once per occurrence, then finish it into the vocabulary
 * proper.  sg_vocab_counter_new returns NULL when out of memory. */
SG_NODISCARD sg_vocab *sg_vocab_counter_new(void);
/* Counts one occurrence of the token (len > 0 bytes, no NUL byte; otherwise
 * SG_ERR_ARG). */
SG_NODISCARD sg_status sg_vocab_counter_add(sg_vocab *counter, const char *tok, size_t len);
/* The vocabulary of counter: the n_special words of specials first, at ids 0
 * .. n_special - 1 in the order given (whether counted or not), then every
 * other token counted at least min_count times, by descending count, ties by
 * byte order.  The occurrences of dropped tokens are added to "<unk>" when it
 * is one of the specials.  sg_vocab_unk / sg_vocab_eos give the ids of
 * "<unk>" / "<eos>", -1 when they are not specials.  counter is not changed.
 * *out is owned by the caller (NULL on error).  SG_ERR_ARG: a special given
 * twice; SG_ERR_NOMEM. */
SG_NODISCARD sg_status sg_vocab_counter_finish(const sg_vocab *counter, const char *const *specials, size_t n_special,
                                               size_t min_count, sg_vocab **out, char *err, size_t errcap);

/* Serializes v as one word per line, '\n' after each, in id order (so line i
 * holds id i), for a checkpoint's metadata.  *out is a NUL-terminated string
 * from sg_malloc, owned by the caller (sg_free); *len its length without the
 * NUL (len may be NULL).  SG_ERR_ARG when a word holds a blank or a
 * newline (it would not read back: character vocabularies with a space need
 * another encoding); SG_ERR_NOMEM. */
SG_NODISCARD sg_status sg_vocab_serialize(const sg_vocab *v, char **out, size_t *len);
/* Rebuilds a vocabulary from that format (a final '\n' is optional).  Rejects
 * (SG_ERR_FORMAT, message with the line number) an empty line, a word with a
 * blank or NUL in it, a duplicate word, and a list without "<unk>" or "<eos>".
 * Counts are 0.  *out is owned by the caller (sg_vocab_free); NULL on error. */
SG_NODISCARD sg_status sg_vocab_deserialize(const char *text, size_t len, sg_vocab **out, char *err, size_t errcap);

/* A vocabulary of the n words in the order given (word i gets id i, counts
 * 0), for vocabularies stored as word lists (JSON arrays, vector files);
 * words may hold blanks.  SG_ERR_FORMAT for an empty word or a word given
 * twice (the message names it and both 1-based positions), SG_ERR_NOMEM.
 * *out is owned by the caller (sg_vocab_free); NULL on error. */
SG_NODISCARD sg_status sg_vocab_from_words(const char *const *words, size_t n, sg_vocab **out, char *err,
                                           size_t errcap);

/* ---- token streams -------------------------------------------------------- */

typedef struct sg_tokens {
    int32_t *ids;   /* (n) owned (sg_malloc); every id in [0, V) */
    size_t n;       /* tokens, one "<eos>" per line included */
    size_t n_lines; /* lines = number of "<eos>" tokens */
    size_t n_unk;   /* words not in the vocabulary (mapped to "<unk>"); a literal "<unk>" is not counted */
} sg_tokens;

/* Turns text into ids with v (words not in v -> "<unk>").  t is overwritten
 * (not freed first); on success the caller owns t->ids (sg_tokens_free); on
 * error t is zeroed.  SG_ERR_FORMAT: no words at all, or a NUL byte. */
SG_NODISCARD sg_status sg_tokens_from_text(sg_tokens *t, const sg_vocab *v, const char *text, size_t len, char *err,
                                           size_t errcap);
/* The same from a file (SG_ERR_IO: cannot open or read). */
SG_NODISCARD sg_status sg_tokens_read_file(sg_tokens *t, const sg_vocab *v, const char *path, char *err, size_t errcap);
/* Frees t->ids and zeroes t. */
void sg_tokens_free(sg_tokens *t);

/* ---- contiguous-stream batching (Zaremba et al.) -------------------------- */

/* Stream b is ids[b L .. b L + L - 1].  Window k starts at offset s = k T of
 * every stream and has T_k = min(T, L - 1 - s) steps:
 *   x[t B + b] = ids[b L + s + t]        (T_k, B)
 *   y[t B + b] = ids[b L + s + t + 1]    (T_k, B)
 * so consecutive windows continue each stream (carry the hidden state across
 * windows for truncated BPTT).  The iterator borrows ids, owns nothing and
 * never allocates. */
typedef struct sg_text_batcher {
    const int32_t *ids; /* (B L) borrowed; must outlive the batcher */
    size_t batch;       /* B */
    size_t steps;       /* T */
    size_t stream_len;  /* L = n / B */
    size_t n_windows;   /* ceil((L - 1) / T), or floor((L - 1) / T) with drop_last */
    size_t next;        /* index of the next window */
} sg_text_batcher;

/* Sets up it over ids[0..n-1].  drop_last = true drops a shorter final window,
 * as Zaremba et al. do ((L - 1) / T full windows); false keeps it.
 * SG_ERR_ARG: B or T is 0, or no window fits (L < 2, or drop_last and
 * L - 1 < T); the message gives n, B, T and L. */
SG_NODISCARD sg_status sg_text_batcher_init(sg_text_batcher *it, const int32_t *ids, size_t n, size_t batch,
                                            size_t steps, bool drop_last, char *err, size_t errcap);
/* Fills x and y (caller buffers of at least T B ids, layout (T_k, B)) with the
 * next window and returns T_k; returns 0 (buffers untouched) when every window
 * has been given. */
size_t sg_text_batcher_next(sg_text_batcher *it, int32_t *x, int32_t *y);
/* Starts again from window 0. */
void sg_text_batcher_rewind(sg_text_batcher *it);

/* ---- data directory ------------------------------------------------------- */

enum { SG_TEXT_TRAIN = 0, SG_TEXT_VALID = 1, SG_TEXT_TEST = 2 };

typedef struct sg_text_corpus {
    sg_vocab *vocab;    /* owned; built from the training file */
    sg_tokens split[3]; /* SG_TEXT_TRAIN, SG_TEXT_VALID, SG_TEXT_TEST, owned */
    char *path[3];      /* owned (sg_malloc): the files that were read */
} sg_text_corpus;

/* Loads DIR: the first naming scheme whose three files all exist, in this
 * order: train.txt valid.txt test.txt, then ptb.train.txt ptb.valid.txt
 * ptb.test.txt.  The vocabulary comes from train (min_count as in
 * sg_vocab_build_text); valid and test map unseen words to "<unk>".
 * SG_ERR_IO when no scheme is complete (the message lists every name looked
 * for and which of them exist) or a file cannot be read; errors of
 * sg_vocab_build_file / sg_tokens_read_file otherwise.  On error c is zeroed
 * and owns nothing; on success free it with sg_text_corpus_free. */
SG_NODISCARD sg_status sg_text_corpus_load(sg_text_corpus *c, const char *dir, size_t min_count, char *err,
                                           size_t errcap);
void sg_text_corpus_free(sg_text_corpus *c);

/* Decoding (argmax, sampling): models/decode/sg_decode.h. */

#endif
