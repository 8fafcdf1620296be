/* sg_w2v_vectors.h — word vectors in the word2vec formats (the ones
 * word2vec.c writes and gensim's KeyedVectors.load_word2vec_format reads),
 * and what is done with them: cosine neighbours and analogies.
 *
 *   text    "V D\n", then V lines "word x_1 ... x_D\n" (blank-separated)
 *   binary  "V D\n", then V records "word " + D little-endian float32 + "\n"
 *
 * Dimension legend: V words, D vector size.
 * Errors: a one-line message in err naming the file and line (text) or
 * record (binary); SG_ERR_FORMAT for a malformed file, SG_ERR_IO, SG_ERR_NOMEM.
 */
#ifndef SG_W2V_VECTORS_H
#define SG_W2V_VECTORS_H

#include "graph/core/sg_tensor.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct sg_w2v_vectors {
    size_t V, D;
    char **words;           /* (V) owned, each owned */
    float *x;               /* (V, D) owned, row-major */
    float *unit;            /* (V, D) owned: each row scaled to length 1 (0 rows stay 0) */
    struct sg_vocab *index; /* owned: word -> row */
} sg_w2v_vectors;

/* Writes V vectors x (V, D) with their words, atomically (a temporary file,
 * then a rename).  SG_ERR_ARG for a word that is empty or holds a blank. */
SG_NODISCARD sg_status sg_w2v_vectors_save(const char *path, const char *const *words, const float *x, size_t V,
                                           size_t D, bool binary, char *err, size_t errcap);
/* Reads a file in either format (binary when asked).  A word given twice is
 * refused (SG_ERR_FORMAT).  Pair with
 * sg_w2v_vectors_free; on error nothing is left to free. */
SG_NODISCARD sg_status sg_w2v_vectors_load(sg_w2v_vectors *v, const char *path, bool binary, char *err, size_t errcap);
SG_NODISCARD sg_status sg_w2v_vectors_parse(sg_w2v_vectors *v, const unsigned char *buf, size_t len, const char *name,
                                            bool binary, char *err, size_t errcap);
/* Frees the words and the rows v owns and zeroes v.  NULL is a no-op. */
void sg_w2v_vectors_free(sg_w2v_vectors *v);
/* The row of word, or -1. */
long sg_w2v_vectors_find(const sg_w2v_vectors *v, const char *word);

/* The k rows nearest to the unit query q (D) by cosine, best first, skipping
 * the rows in exclude (n_exclude of them): out_rows and out_cos (k) are the
 * caller's; returns how many were found (fewer than k when V is small). */
size_t sg_w2v_vectors_nearest(const sg_w2v_vectors *v, const float *q, size_t k, const long *exclude, size_t n_exclude,
                              long *out_rows, double *out_cos);

#endif
