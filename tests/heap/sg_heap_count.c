/* sg_heap_count.c — an interposed allocator for tests, loaded with
 * LD_PRELOAD=libsg_heap_count.so: it defines malloc, calloc, realloc and the
 * aligned allocators, so every heap allocation of the process goes through
 * them — seqgrad's, libc's own, OpenBLAS's inside its threads — and counts
 * each before handing it to glibc's allocator (__libc_malloc and friends);
 * free stays glibc's.  At exit it writes the count, as a decimal line, to the
 * file named by SG_HEAP_COUNT_OUT (nothing when that is unset).
 *
 * tests/cli_heap.sh runs a training command for N and for 2N steps: equal
 * counts mean steps N+1 to 2N allocated nothing.  Not for sanitizer builds,
 * whose runtimes interpose the same functions. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_size_t sg_heap_calls;

/* SG_HEAP_COUNT_TRAP=K (read once) raises SIGTRAP at the K-th allocation
 * (from 1), so that under gdb the stack shows who made it. */
static long sg_heap_trap = -1;

static void sg_heap_note(void)
{
    size_t k = atomic_fetch_add_explicit(&sg_heap_calls, 1, memory_order_relaxed) + 1;
    if (sg_heap_trap > 0 && k == (size_t)sg_heap_trap)
        raise(SIGTRAP);
}

__attribute__((constructor)) static void sg_heap_init(void)
{
    const char *trap = getenv("SG_HEAP_COUNT_TRAP");
    if (trap)
        sg_heap_trap = strtol(trap, NULL, 10);
}

/* Writes the count at exit with open/write only (no allocation of its own). */
__attribute__((destructor)) static void sg_heap_report(void)
{
    const char *path = getenv("SG_HEAP_COUNT_OUT");
    if (!path)
        return;
    char line[32];
    int n = snprintf(line, sizeof line, "%zu\n", atomic_load(&sg_heap_calls));
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || n <= 0)
        return;
    ssize_t w = write(fd, line, (size_t)n);
    (void)w;
    close(fd);
}

void *malloc(size_t n)
{
    sg_heap_note();
    return __libc_malloc(n);
}

void *calloc(size_t count, size_t size)
{
    sg_heap_note();
    return __libc_calloc(count, size);
}

void *realloc(void *p, size_t n)
{
    sg_heap_note();
    return __libc_realloc(p, n);
}

void *memalign(size_t align, size_t n)
{
    sg_heap_note();
    return __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    sg_heap_note();
    return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    if (align % sizeof(void *) != 0 || (align & (align - 1)) != 0)
        return EINVAL;
    sg_heap_note();
    void *p = __libc_memalign(align, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

void *valloc(size_t n)
{
    sg_heap_note();
    return __libc_memalign(4096, n);
}
