/* sg_pool.c — the engine's worker pool (see sg_pool.h).
 *
 * A job is one 64-bit word, `claim` = (generation << 32) | next task index,
 * beside its fields fn, ctx and n_tasks.  Posting a job: close the word
 * (the new generation with index SG_POOL_CLOSED), write the fields, open it
 * (index 0).  Anyone (workers and the caller) takes task i by a compare-and-
 * swap of (g, i) to (g, i + 1) after reading the fields, and counts `done`
 * when the task is finished; the caller returns when done == n_tasks.  So the
 * caller never waits for a worker that has nothing to do (one asleep, or not
 * scheduled because there are more threads than cores): if no worker comes,
 * it runs every task itself.  A worker that read the fields of a newer job
 * (the caller rewrites them only after closing the word) fails its swap,
 * since the generation moved; sequentially consistent atomics throughout make
 * that argument hold, and cost nothing next to a job's microseconds.
 *
 * Sleeping: a worker that has spun SG_POOL_SPINS times without a new job
 * registers in `sleepers` under the mutex and re-checks the word before it
 * waits; the caller opens the word, then broadcasts if it sees a sleeper.
 * Either the worker sees the new job or the caller sees the sleeper, so no
 * wake-up is lost.
 */
#include "graph/exec/sg_pool.h"

#include "graph/core/sg_alloc.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SG_POOL_RELAX() _mm_pause()
#else
#define SG_POOL_RELAX() ((void)0)
#endif

enum { SG_POOL_SPINS = 1 << 14 }; /* a few hundred microseconds of pause instructions */
#define SG_POOL_CLOSED UINT32_MAX /* the task index of a job being written */

typedef struct sg_pool {
    size_t n_threads;       /* jobs run on this many threads, the caller included */
    pthread_t *workers;     /* (n_threads - 1) */
    _Atomic uint64_t claim; /* (generation << 32) | next task index */
    _Atomic(sg_pool_task_fn) fn;
    _Atomic(void *) ctx;
    atomic_size_t n_tasks;
    atomic_size_t done; /* tasks of the current job finished */
    atomic_int sleepers;
    atomic_bool stop;
    atomic_flag busy; /* a caller owns the pool */
    pthread_mutex_t mu;
    pthread_cond_t cv;
} sg_pool;

static sg_pool sg_the_pool = {
    .n_threads = 1, .busy = ATOMIC_FLAG_INIT, .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static uint32_t sg_claim_gen(uint64_t c) { return (uint32_t)(c >> 32); }
static uint32_t sg_claim_index(uint64_t c) { return (uint32_t)c; }

/* Takes and runs tasks of job generation g until none is left or the job
 * is no longer g. */
static void sg_pool_drain(sg_pool *p, uint32_t g)
{
    for (;;) {
        uint64_t c = atomic_load(&p->claim);
        if (sg_claim_gen(c) != g || sg_claim_index(c) == SG_POOL_CLOSED)
            return;
        sg_pool_task_fn fn = atomic_load(&p->fn);
        void *ctx = atomic_load(&p->ctx);
        size_t n = atomic_load(&p->n_tasks);
        size_t i = sg_claim_index(c);
        if (i >= n)
            return;
        if (!atomic_compare_exchange_weak(&p->claim, &c, c + 1))
            continue; /* another thread took task i, or the job changed */
        fn(ctx, i, n);
        atomic_fetch_add(&p->done, 1);
    }
}

/* Whether the word holds an open job other than generation seen. */
static bool sg_pool_news(sg_pool *p, uint32_t seen, uint32_t *g)
{
    uint64_t c = atomic_load(&p->claim);
    *g = sg_claim_gen(c);
    return *g != seen && sg_claim_index(c) != SG_POOL_CLOSED;
}

/* Waits for an open job other than generation seen (or stop); returns it. */
static uint32_t sg_pool_await(sg_pool *p, uint32_t seen)
{
    uint32_t g;
    for (unsigned spins = 0; spins < SG_POOL_SPINS; spins++) {
        if (sg_pool_news(p, seen, &g) || atomic_load(&p->stop))
            return g;
        SG_POOL_RELAX();
    }
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->sleepers, 1);
    while (!sg_pool_news(p, seen, &g) && !atomic_load(&p->stop))
        pthread_cond_wait(&p->cv, &p->mu);
    atomic_fetch_sub(&p->sleepers, 1);
    pthread_mutex_unlock(&p->mu);
    return g;
}

static void *sg_pool_worker(void *arg)
{
    sg_pool *p = arg;
    uint32_t seen = sg_claim_gen(atomic_load(&p->claim)); /* a job already open is drained below */
    if (sg_claim_index(atomic_load(&p->claim)) != SG_POOL_CLOSED)
        sg_pool_drain(p, seen);
    for (;;) {
        seen = sg_pool_await(p, seen);
        if (atomic_load(&p->stop))
            return NULL;
        sg_pool_drain(p, seen);
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
    if (p->n_threads <= 1 || n_tasks == 1 || n_tasks >= SG_POOL_CLOSED || atomic_flag_test_and_set(&p->busy)) {
        for (size_t i = 0; i < n_tasks; i++)
            fn(ctx, i, n_tasks);
        return;
    }
    uint32_t g = sg_claim_gen(atomic_load(&p->claim)) + 1;
    atomic_store(&p->claim, ((uint64_t)g << 32) | SG_POOL_CLOSED);
    atomic_store(&p->fn, fn);
    atomic_store(&p->ctx, ctx);
    atomic_store(&p->n_tasks, n_tasks);
    atomic_store(&p->done, 0);
    atomic_store(&p->claim, (uint64_t)g << 32); /* open: task 0 is next */
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    sg_pool_drain(p, g);
    for (unsigned spins = 0; atomic_load(&p->done) < n_tasks; spins++) {
        SG_POOL_RELAX();
        if (spins >= 256)
            sched_yield(); /* a worker holding a task may be waiting for this core */
    }
    atomic_flag_clear(&p->busy);
}

void sg_pool_share(size_t count, size_t align, size_t i, size_t n, size_t *begin, size_t *end)
{
    if (align == 0)
        align = 1;
    /* blocks of align items, q each and the first r tasks one more: no
     * product here exceeds blocks, so nothing overflows for any count */
    size_t blocks = count / align + (count % align != 0), q = blocks / n, r = blocks % n;
    size_t b0 = q * i + (i < r ? i : r), b1 = b0 + q + (i < r);
    size_t lo = b0 < blocks ? b0 * align : count, hi = i + 1 == n || b1 >= blocks ? count : b1 * align;
    *begin = lo < count ? lo : count;
    *end = hi < count ? hi : count;
}
