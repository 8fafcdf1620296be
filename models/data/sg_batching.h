/* sg_batching.h — what the batchers of examples share (sg_pairs.h, sg_dialog.h):
 * the seeded split into validation, test and training, and the order of an
 * epoch's batches, bucketed by length.  Pure data code: no ops, no graph. */
#ifndef SG_BATCHING_H
#define SG_BATCHING_H

#include "graph/core/sg_rng.h"
#include "graph/core/sg_tensor.h"

#include <stddef.h>
#include <stdint.h>

/* idx (n) receives 0 .. n-1 shuffled with seed: the first *n_valid =
 * round(valid_frac n) are validation, the next *n_test = round(test_frac n)
 * test, the rest training.  SG_ERR_ARG, with a message naming name and the
 * examples (what: "examples", "dialogues"), when none is left for training. */
SG_NODISCARD sg_status sg_split_seeded(size_t *idx, size_t n, uint64_t seed, double valid_frac, double test_frac,
                                       size_t *n_valid, size_t *n_test, const char *name, const char *what, char *err,
                                       size_t errcap);

/* Starts an epoch over n examples in batches of B: order (n) becomes the
 * examples in batch order, batch_start (n_batches) each batch's first index
 * into order.  bucket 0 (or rng NULL) keeps the set's order; otherwise the
 * examples are shuffled, cut into pools of bucket x B, each pool sorted with
 * by_length (a qsort comparator of example indices, which must be a total
 * order), and the batches shuffled: batches of alike lengths in a random
 * order. */
void sg_bucket_epoch(size_t *order, size_t n, size_t *batch_start, size_t n_batches, size_t B, size_t bucket,
                     sg_rng *rng, int (*by_length)(const void *, const void *));

#endif
