/* sg_prefetch.h — sg_prefetch: ask the memory system for bytes a loop will
 * read or write a few iterations from now.  For loops that jump between rows
 * of a large table by id (row gathers, listed row updates), where the
 * hardware prefetcher cannot guess the next address: a row that another core
 * wrote last (data-parallel word2vec) or that fell out of L2 arrives while
 * the current row is being worked on.  A hint only: it changes no value, and
 * compiles to nothing where the compiler has no __builtin_prefetch.
 */
#ifndef SG_PREFETCH_H
#define SG_PREFETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* x86: PREFETCHW (GCC emits it for __builtin_prefetch only when built for
 * a CPU that has it; every x86-64 CPU decodes it, as a no-op where absent). */
#if defined(__GNUC__) && defined(__x86_64__)
#define SG_PREFETCH_WRITE(c) __asm__ volatile("prefetchw %0" : : "m"(*(const char *)(c)))
#elif defined(__GNUC__)
#define SG_PREFETCH_WRITE(c) __builtin_prefetch((c), 1, 3)
#endif

/* The cache lines of [p, p + bytes), for reading or for writing (write: the
 * line is fetched exclusive, saving the second trip a store would make). */
static inline void sg_prefetch(const void *p, size_t bytes, bool write)
{
#if defined(__GNUC__)
    const char *c = p, *end = c + bytes;
    c -= (uintptr_t)c % 64; /* from the line p is in, so the last line is not missed */
    for (; c < end; c += 64) {
        if (write)
            SG_PREFETCH_WRITE(c);
        else
            __builtin_prefetch(c, 0, 3);
    }
#else
    (void)p, (void)bytes, (void)write;
#endif
}

#endif
