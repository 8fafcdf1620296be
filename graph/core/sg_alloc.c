/* sg_alloc.c — counted heap allocation with failure injection (see sg_alloc.h). */
#include "graph/core/sg_alloc_testing.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

static atomic_size_t g_alloc_count;
static atomic_long g_fail_after = -1;

/* Returns 1 when this allocation must be made to fail (failure injection). */
static int sg_alloc_should_fail(void)
{
    long n = atomic_load(&g_fail_after);
    while (n >= 0) {
        if (atomic_compare_exchange_weak(&g_fail_after, &n, n - 1))
            return n == 0;
    }
    return 0;
}

void *sg_malloc(size_t bytes)
{
    if (sg_alloc_should_fail())
        return NULL;
    void *p = malloc(bytes ? bytes : 1);
    if (p)
        atomic_fetch_add(&g_alloc_count, 1);
    return p;
}

void *sg_calloc(size_t count, size_t size)
{
    if (sg_alloc_should_fail())
        return NULL;
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (p)
        atomic_fetch_add(&g_alloc_count, 1);
    return p;
}

void *sg_realloc(void *ptr, size_t bytes)
{
    if (sg_alloc_should_fail())
        return NULL;
    void *p = realloc(ptr, bytes ? bytes : 1);
    if (p)
        atomic_fetch_add(&g_alloc_count, 1);
    return p;
}

void sg_free(void *ptr) { free(ptr); }

size_t sg_alloc_count(void) { return atomic_load(&g_alloc_count); }

void sg_alloc_fail_after(long n) { atomic_store(&g_fail_after, n < 0 ? -1 : n); }

bool sg_array_reserve(void **items, size_t *cap, size_t need, size_t elem_size)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c = c > SIZE_MAX / 2 ? need : 2 * c;
    if (elem_size && c > SIZE_MAX / elem_size)
        return false;
    void *q = sg_realloc(*items, c * elem_size);
    if (!q)
        return false;
    *items = q;
    *cap = c;
    return true;
}
