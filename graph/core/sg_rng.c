/* sg_rng.c — xoshiro256** with splitmix64 seeding (see sg_rng.h). */
#include "graph/core/sg_rng.h"

#include <math.h>

static uint64_t sg_splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void sg_rng_seed(sg_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = sg_splitmix64(&x);
}

static uint64_t sg_rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t sg_rng_next(sg_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = sg_rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = sg_rotl(s[3], 45);
    return result;
}

double sg_rng_uniform(sg_rng *r) { return (double)(sg_rng_next(r) >> 11) * 0x1.0p-53; }

double sg_rng_range(sg_rng *r, double lo, double hi) { return lo + (hi - lo) * sg_rng_uniform(r); }

uint64_t sg_rng_below(sg_rng *r, uint64_t n)
{
    if (n <= 1)
        return 0;
    uint64_t limit = UINT64_MAX - UINT64_MAX % n; /* reject the biased tail */
    uint64_t x;
    do
        x = sg_rng_next(r);
    while (x >= limit);
    return x % n;
}

double sg_rng_normal(sg_rng *r)
{
    double u1 = 1.0 - sg_rng_uniform(r); /* (0, 1] so log is finite */
    double u2 = sg_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

void sg_rng_shuffle(sg_rng *r, size_t *v, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)sg_rng_below(r, i);
        size_t t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}
