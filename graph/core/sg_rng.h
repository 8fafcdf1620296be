/* sg_rng.h — a seeded, platform-independent random number generator
 * (xoshiro256** seeded through splitmix64).  Every draw is computed with
 * integer arithmetic and exact conversions, so a seed gives the same stream
 * bit for bit on every platform; used for initialization, dropout masks,
 * data shuffling and gradient-check sampling. */
#ifndef SG_RNG_H
#define SG_RNG_H

#include <stdint.h>
#include <stddef.h>

typedef struct sg_rng {
    uint64_t s[4];
} sg_rng;

void sg_rng_seed(sg_rng *r, uint64_t seed);
uint64_t sg_rng_next(sg_rng *r);
/* Uniform in [0, 1) with 53 random bits. */
double sg_rng_uniform(sg_rng *r);
/* Uniform in [lo, hi). */
double sg_rng_range(sg_rng *r, double lo, double hi);
/* Uniform integer in [0, n) without modulo bias; n >= 1. */
uint64_t sg_rng_below(sg_rng *r, uint64_t n);
/* Standard normal (Box-Muller, both values used in turn is not done: one draw
 * consumes two uniforms, which keeps the stream position simple). */
double sg_rng_normal(sg_rng *r);
/* Fisher-Yates shuffle of n size_t values. */
void sg_rng_shuffle(sg_rng *r, size_t *v, size_t n);

#endif
