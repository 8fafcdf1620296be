/* sg_pool.c — the engine's worker pool (see sg_pool.h).
 *
 * A job is posted by bumping `generation` after writing fn, ctx and n_tasks;
 * workers (and the caller) take task indices from `next` until it passes
 * n_tasks, then each worker checks out by incrementing `finished`.  The
 * caller returns when all workers have checked out, so no worker can still
 * be reading a job's fields when the next job overwrites them.  Sequentially
 * consistent atomics throughout: a job is microseconds of work, the fences
 * cost nothing next to it, and the reasoning stays simple.
 *
 * Sleeping: a worker that has spun SG_POOL_SPINS times without a new job
 * registers in `sleepers` under the mutex and re-checks the generation before
 * it waits; the caller bumps the generation, then broadcasts if it sees a
 * sleeper.  Either the worker sees the new generation or the caller sees the
 * sleeper, so no wake-up is lost.
 */
#include "graph/exec/sg_pool.h"

#include "graph/core/sg_alloc.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SG_POOL_RELAX() _mm_pause()
#else
#define SG_POOL_RELAX() ((void)0)
#endif

enum { SG_POOL_SPINS = 1 << 17 }; /* ~ 1 ms of pause instructions */

typedef struct sg_pool {
    size_t n_threads;   /* jobs run on this many threads, the caller included */
    pthread_t *workers; /* (n_threads - 1) */
    atomic_uint generation;
    unsigned born;          /* the generation when the workers were made: each waits for the next */
    atomic_size_t next;     /* next task index of the current job */
    atomic_size_t finished; /* workers checked out of the current job */
    atomic_int sleepers;
    atomic_bool stop;
    atomic_flag busy; /* a caller owns the pool */
    sg_pool_task_fn fn;
    void *ctx;
    size_t n_tasks;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} sg_pool;

static sg_pool sg_the_pool = {
    .n_threads = 1, .busy = ATOMIC_FLAG_INIT, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* Takes and runs tasks of the current job until none is left. */
static void sg_pool_drain(sg_pool *p)
{
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->n_tasks)
            return;
        p->fn(p->ctx, i, p->n_tasks);
    }
}

/* Waits until the generation differs from seen (or stop); returns it. */
static unsigned sg_pool_await(sg_pool *p, unsigned seen)
{
    for (unsigned spins = 0; spins < SG_POOL_SPINS; spins++) {
        unsigned g = atomic_load(&p->generation);
        if (g != seen || atomic_load(&p->stop))
            return g;
        SG_POOL_RELAX();
    }
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->sleepers, 1);
    unsigned g;
    while ((g = atomic_load(&p->generation)) == seen && !atomic_load(&p->stop))
        pthread_cond_wait(&p->cv, &p->mu);
    atomic_fetch_sub(&p->sleepers, 1);
    pthread_mutex_unlock(&p->mu);
    return g;
}

static void *sg_pool_worker(void *arg)
{
    sg_pool *p = arg;
    unsigned seen = p->born; /* not the generation now: a job may already be waiting */
    for (;;) {
        seen = sg_pool_await(p, seen);
        if (atomic_load(&p->stop))
            return NULL;
        sg_pool_drain(p);
        atomic_fetch_add(&p->finished, 1);
    }
}

/* Stops and joins every worker; the pool then has one thread. */
static void sg_pool_join_all(sg_pool *p)
{
    if (p->n_threads <= 1)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, true);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (size_t w = 0; w + 1 < p->n_threads; w++)
        pthread_join(p->workers[w], NULL);
    sg_free(p->workers);
    p->workers = NULL;
    p->n_threads = 1;
    atomic_store(&p->stop, false);
}

sg_status sg_pool_set_threads(size_t n)
{
    sg_pool *p = &sg_the_pool;
    if (n == 0 || n > SG_POOL_MAX_THREADS)
        return SG_ERR_ARG;
    if (n == p->n_threads)
        return SG_OK;
    pthread_t *workers = n > 1 ? sg_calloc(n - 1, sizeof *workers) : NULL;
    if (n > 1 && !workers)
        return SG_ERR_NOMEM;
    sg_pool_join_all(p);
    p->workers = workers;
    p->born = atomic_load(&p->generation); /* pthread_create publishes it to the worker */
    for (size_t w = 0; w + 1 < n; w++) {
        if (pthread_create(&workers[w], NULL, sg_pool_worker, p) != 0) {
            p->n_threads = w + 1; /* join the ones that started */
            sg_pool_join_all(p);
            return SG_ERR_STATE;
        }
        p->n_threads = w + 2;
    }
    return SG_OK;
}

size_t sg_pool_threads(void) { return sg_the_pool.n_threads; }

void sg_pool_run(sg_pool_task_fn fn, void *ctx, size_t n_tasks)
{
    sg_pool *p = &sg_the_pool;
    if (n_tasks == 0)
        return;
    if (p->n_threads <= 1 || n_tasks == 1 || atomic_flag_test_and_set(&p->busy)) {
        for (size_t i = 0; i < n_tasks; i++)
            fn(ctx, i, n_tasks);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store(&p->next, 0);
    atomic_store(&p->finished, 0);
    atomic_fetch_add(&p->generation, 1);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    sg_pool_drain(p);
    size_t workers = p->n_threads - 1;
    for (unsigned spins = 0; atomic_load(&p->finished) < workers; spins++) {
        SG_POOL_RELAX();
        if (spins >= SG_POOL_SPINS)
            sched_yield(); /* more threads than cores: let the late worker run */
    }
    atomic_flag_clear(&p->busy);
}

void sg_pool_share(size_t count, size_t align, size_t i, size_t n, size_t *begin, size_t *end)
{
    if (align == 0)
        align = 1;
    size_t blocks = (count + align - 1) / align;
    size_t b0 = blocks * i / n, b1 = blocks * (i + 1) / n;
    size_t lo = b0 * align, hi = i + 1 == n ? count : b1 * align;
    *begin = lo < count ? lo : count;
    *end = hi < count ? hi : count;
}
