/* sg_alloc.h — the one route by which libseqgrad takes memory from the heap.
 *
 * Every heap allocation in the library goes through sg_malloc / sg_calloc /
 * sg_realloc and is released with sg_free.  Routing them through one place lets
 * tests count allocations (to prove that a steady-state training step allocates
 * nothing) and make the n-th allocation fail (to prove that out-of-memory is an
 * error the caller can read, never a crash).
 *
 * Ownership: whatever these return belongs to the caller, who gives it back with
 * sg_free.  sg_free(NULL) is a no-op.  A failed sg_realloc leaves the old block
 * untouched and still owned by the caller.
 */
#ifndef SG_ALLOC_H
#define SG_ALLOC_H

#include "graph/core/sg_tensor.h"

#include <stdbool.h>
#include <stddef.h>

SG_NODISCARD void *sg_malloc(size_t bytes);
SG_NODISCARD void *sg_calloc(size_t count, size_t size);
SG_NODISCARD void *sg_realloc(void *ptr, size_t bytes);
void sg_free(void *ptr);

/* Makes the array *items (of *cap elements of elem_size bytes, possibly NULL
 * with *cap 0) hold at least need elements, doubling the capacity (from 16) so
 * that n appends cost O(n).  The existing elements are kept; *items may move.
 * false (nothing changed, *items still valid and owned by the caller) when out
 * of memory or the size would exceed SIZE_MAX. */
SG_NODISCARD bool sg_array_reserve(void **items, size_t *cap, size_t need, size_t elem_size);

/* Number of successful heap allocations (malloc, calloc, and realloc) made
 * through this module since the program started.  Monotonic; thread-safe. */
size_t sg_alloc_count(void);

#endif
