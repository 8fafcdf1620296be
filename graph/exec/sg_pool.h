/* sg_pool.h — the engine's own worker threads: one process-wide pool that
 * kernels split their work over (a large matmul by rows or columns, a
 * cross-entropy by rows).
 *
 * Why its own pool: BLAS threading (OpenBLAS's) allocates from the heap on
 * every threaded call and only threads inside one GEMM; the pool is made once,
 * allocates nothing per job, and also runs the engine's own loops.  When the
 * pool has more than one thread, BLAS is called single-threaded from each task.
 *
 * Determinism: a job is n_tasks independent tasks; task i writes only its own
 * part of the output and the way a kernel cuts its work depends on n_tasks
 * (derived from sg_pool_threads()) alone, never on which thread runs a task.
 * So the same thread count gives the same bytes, and a job that finds the pool
 * busy (a second caller thread, or a task that itself calls sg_pool_run) runs
 * its tasks in the calling thread, with the same result.
 *
 * Workers spin for a short while after a job (the next one usually follows
 * within microseconds), then sleep on a condition variable.
 *
 * Ownership: the pool is process state, made by sg_pool_set_threads and
 * released by sg_pool_set_threads(1) or at exit by the operating system; ctx
 * passed to sg_pool_run is borrowed for the call.  Not for use from a signal
 * handler.
 */
#ifndef SG_POOL_H
#define SG_POOL_H

#include "graph/core/sg_tensor.h"

#include <stddef.h>

/* Task i of n (0 <= i < n) of a job; ctx is the caller's. */
typedef void (*sg_pool_task_fn)(void *ctx, size_t i, size_t n);

/* Makes the pool run jobs on n threads: the calling thread and n - 1 workers
 * (n = 1: no workers; the existing ones are joined).  SG_ERR_ARG when n is 0
 * or above SG_POOL_MAX_THREADS, SG_ERR_OOM / SG_ERR_IO when memory or a thread
 * cannot be had (the pool then keeps its previous size).  Must not be called
 * while a job runs. */
#define SG_POOL_MAX_THREADS 1024
SG_NODISCARD sg_status sg_pool_set_threads(size_t n);

/* The number of threads jobs run on (1 until sg_pool_set_threads). */
size_t sg_pool_threads(void);

/* Runs fn(ctx, i, n_tasks) for every i in [0, n_tasks) and returns when all
 * have finished.  Tasks run concurrently on the pool's threads (including the
 * caller's), or all in the caller when the pool has one thread or is busy.
 * Allocates nothing. */
void sg_pool_run(sg_pool_task_fn fn, void *ctx, size_t n_tasks);

/* [*begin, *end): the share of task i of n in a range of `count` items cut in
 * pieces that are multiples of `align` items (the last one takes the rest). */
void sg_pool_share(size_t count, size_t align, size_t i, size_t n, size_t *begin, size_t *end);

#endif
