/* sg_arena.h — bump allocator made of a chain of blocks.
 *
 * Allocation bumps an offset in the current block; when it does not fit, the
 * arena moves on to the next block it already owns, or takes a new one from the
 * heap (at least `block_size`, or the request rounded up).  sg_arena_reset
 * rewinds to the first block; when the last steps needed more than one block
 * it first replaces the chain by one block of the largest step's size (plus
 * an eighth), so a workload that repeats the same allocations (a training
 * step), or varies them within that size, touches the heap only while it is
 * still growing.
 *
 * Ownership: the arena owns its blocks; pointers it hands out stay valid until
 * sg_arena_reset or sg_arena_free, which invalidate all of them.
 */
#ifndef SG_ARENA_H
#define SG_ARENA_H

#include <stddef.h>

typedef struct sg_arena_block sg_arena_block;

typedef struct sg_arena {
    sg_arena_block *first;
    sg_arena_block *cur;
    size_t block_size; /* default size of a new block, bytes */
    size_t used;       /* bytes handed out since the last reset (incl. padding) */
    size_t high_water; /* largest `used` seen */
    size_t reserved;   /* bytes owned in all blocks */
} sg_arena;

void sg_arena_init(sg_arena *a, size_t block_size);
void sg_arena_free(sg_arena *a);
void sg_arena_reset(sg_arena *a);
/* `bytes` bytes aligned to 64; NULL if the heap refuses a new block. */
void *sg_arena_alloc(sg_arena *a, size_t bytes);
/* Same, zero-filled. */
void *sg_arena_calloc(sg_arena *a, size_t bytes);

#endif
