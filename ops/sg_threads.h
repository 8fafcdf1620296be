/* sg_threads.h — how many threads the ops' kernels run on.
 *
 * sg_threads_set(n) gives the engine's pool (graph/exec/sg_pool.h) n threads
 * and makes BLAS single-threaded, so that each large product is cut over the
 * pool (never both at once, which would put two BLAS threads on every core)
 * and no threaded call allocates.  The same n gives the same bytes; another n
 * may round a product differently (tests/test_pool.c bounds it).  Errors as
 * sg_pool_set_threads.  Process-wide: not while a graph is being built or run
 * in another thread.  Defined in ops/sg_ops_matmul.c, beside the BLAS calls.
 *
 * Ownership: nothing is handed out; the pool is process state.
 */
#ifndef SG_THREADS_H
#define SG_THREADS_H

#include "graph/core/sg_tensor.h"

#include <stddef.h>

SG_NODISCARD sg_status sg_threads_set(size_t n);

/* The name of the kernels the BLAS picked for this CPU when it loaded
 * (OpenBLAS's core name, e.g. "Haswell" or "SkylakeX"); a static string. */
const char *sg_blas_core(void);

#endif
