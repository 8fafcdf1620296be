/* sg_arena.c — chained bump allocator (see sg_arena.h). */
#include "graph/core/sg_arena.h"

#include "graph/core/sg_alloc.h"

#include <stdint.h>
#include <string.h>

enum { SG_ARENA_ALIGN = 64 };

struct sg_arena_block {
    sg_arena_block *next;
    size_t size; /* usable bytes in mem */
    size_t off;  /* next free offset */
    unsigned char *mem;
};

void sg_arena_init(sg_arena *a, size_t block_size)
{
    memset(a, 0, sizeof *a);
    a->block_size = block_size ? block_size : (size_t)1 << 20;
}

void sg_arena_free(sg_arena *a)
{
    sg_arena_block *b = a->first;
    while (b) {
        sg_arena_block *next = b->next;
        sg_free(b);
        b = next;
    }
    a->first = a->cur = NULL;
    a->used = a->reserved = 0;
}

static size_t sg_align_up(size_t n) { return (n + SG_ARENA_ALIGN - 1) & ~(size_t)(SG_ARENA_ALIGN - 1); }
static sg_arena_block *sg_arena_block_new(size_t size);

void sg_arena_reset(sg_arena *a)
{
    /* A chain of blocks means some step outgrew the first block: a request
     * that did not fit left the rest of its block unused, and steps whose
     * shapes vary (length-bucketed batches) kept appending blocks.  Trade the
     * chain for one block that holds the largest step seen, with an eighth
     * to spare, so that the steady state is one block bump-allocated from its
     * start and the heap is not touched again.  If that block cannot be had
     * the arena is left empty, which is valid (the next allocation retries). */
    if (a->first && a->first->next) {
        size_t want = sg_align_up(a->high_water + a->high_water / 8);
        if (want < a->block_size)
            want = a->block_size;
        for (sg_arena_block *b = a->first; b;) {
            sg_arena_block *next = b->next;
            sg_free(b);
            b = next;
        }
        a->first = sg_arena_block_new(want);
        a->reserved = a->first ? want : 0;
    }
    for (sg_arena_block *b = a->first; b; b = b->next)
        b->off = 0;
    a->cur = a->first;
    a->used = 0;
}

static sg_arena_block *sg_arena_block_new(size_t size)
{
    if (size > SIZE_MAX - sizeof(sg_arena_block) - SG_ARENA_ALIGN)
        return NULL;
    sg_arena_block *b = sg_malloc(sizeof *b + size + SG_ARENA_ALIGN);
    if (!b)
        return NULL;
    b->next = NULL;
    b->size = size;
    b->off = 0;
    uintptr_t base = (uintptr_t)(b + 1);
    b->mem = (unsigned char *)((base + SG_ARENA_ALIGN - 1) & ~(uintptr_t)(SG_ARENA_ALIGN - 1));
    return b;
}

void *sg_arena_alloc(sg_arena *a, size_t bytes)
{
    if (bytes > SIZE_MAX / 2)
        return NULL;
    size_t need = sg_align_up(bytes ? bytes : 1);
    /* Walk the blocks we own from the current one; take a new one at the end. */
    sg_arena_block *prev = NULL;
    for (sg_arena_block *b = a->cur; b; prev = b, b = b->next) {
        if (b->size - b->off >= need) {
            void *p = b->mem + b->off;
            b->off += need;
            a->cur = b;
            a->used += need;
            if (a->used > a->high_water)
                a->high_water = a->used;
            return p;
        }
    }
    size_t size = need > a->block_size ? need : a->block_size;
    sg_arena_block *b = sg_arena_block_new(size);
    if (!b)
        return NULL;
    a->reserved += size;
    if (prev)
        prev->next = b; /* the walk ended at the last block */
    else
        a->first = b; /* the arena owned no block yet */
    b->off = need;
    a->cur = b;
    a->used += need;
    if (a->used > a->high_water)
        a->high_water = a->used;
    return b->mem;
}

void *sg_arena_calloc(sg_arena *a, size_t bytes)
{
    void *p = sg_arena_alloc(a, bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}
