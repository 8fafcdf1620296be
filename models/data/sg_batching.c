/* sg_batching.c — the seeded split and the bucketed epoch (sg_batching.h). */
#include "models/data/sg_batching.h"

#include <math.h>
#include <stdlib.h>

sg_status sg_split_seeded(size_t *idx, size_t n, uint64_t seed, double valid_frac, double test_frac, size_t *n_valid,
                          size_t *n_test, const char *name, const char *what, char *err, size_t errcap)
{
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    sg_rng rng;
    sg_rng_seed(&rng, seed);
    sg_rng_shuffle(&rng, idx, n);
    *n_valid = (size_t)llround(valid_frac * (double)n);
    *n_test = (size_t)llround(test_frac * (double)n);
    if (*n_valid + *n_test >= n)
        return sg_error_format(err, errcap, SG_ERR_ARG, "%s: %zu %s leave none for training (%zu validation, %zu test)",
                               name, n, what, *n_valid, *n_test);
    return SG_OK;
}

void sg_bucket_epoch(size_t *order, size_t n, size_t *batch_start, size_t n_batches, size_t B, size_t bucket,
                     sg_rng *rng, int (*by_length)(const void *, const void *))
{
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t k = 0; k < n_batches; k++)
        batch_start[k] = k * B;
    if (!bucket || !rng)
        return;
    sg_rng_shuffle(rng, order, n);
    size_t pool = bucket > SIZE_MAX / B ? n : bucket * B;
    for (size_t p = 0; p < n; p += pool)
        qsort(order + p, n - p < pool ? n - p : pool, sizeof *order, by_length);
    sg_rng_shuffle(rng, batch_start, n_batches);
}
