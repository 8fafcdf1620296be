/* sg_comm.h — the communicator: what data-parallel training needs of a group
 * of processes (ranks), and nothing of how they talk.
 *
 * The engine and the models never include mpi.h: they see this interface.
 * Two implementations: sg_comm_local (one rank, here), and Open MPI
 * (graph/comm/sg_comm_mpi.h, its own part, built only when CMake finds MPI).
 *
 * A communicator has a rank in [0, size) and offers collective reductions
 * (every rank calls the same collectives in the same order, with the same
 * counts) and their non-blocking form in numbered slots, so a reduction can
 * run while the caller computes (sg_grad_sync.h overlaps them with the
 * reverse pass).  Errors are values: a status, and a message in the
 * communicator (sg_comm_error).  Sums of floats are in the order the
 * implementation picks; for two ranks a + b, which is exact to commute, so
 * every rank gets the same bytes.
 *
 * Ownership: the caller owns the communicator (sg_comm_free); a buffer
 * given to sg_comm_iallreduce is the communicator's until the slot's
 * sg_comm_wait or a sg_comm_test that reports it done. */
#ifndef SG_COMM_H
#define SG_COMM_H

#include "graph/core/sg_tensor.h"

#include <stdbool.h>
#include <stddef.h>

typedef enum sg_comm_type { SG_COMM_F32, SG_COMM_F64, SG_COMM_U64 } sg_comm_type;
typedef enum sg_comm_op { SG_COMM_SUM, SG_COMM_MIN, SG_COMM_MAX } sg_comm_op;

typedef struct sg_comm sg_comm;

/* An implementation's table (for sg_comm_mpi.c and tests; callers use the
 * functions below).  Every entry returns SG_OK or an error after writing
 * c->err. */
typedef struct sg_comm_ops {
    const char *name; /* "local", "mpi" */
    sg_status (*allreduce)(sg_comm *c, void *buf, size_t n, sg_comm_type type, sg_comm_op op);
    sg_status (*reserve)(sg_comm *c, size_t n_slots);
    sg_status (*iallreduce)(sg_comm *c, size_t slot, void *buf, size_t n, sg_comm_type type, sg_comm_op op);
    sg_status (*test)(sg_comm *c, size_t slot, bool *done);
    sg_status (*wait)(sg_comm *c, size_t slot);
    void (*abort)(sg_comm *c, int code);
    void (*free)(sg_comm *c);
} sg_comm_ops;

struct sg_comm {
    const sg_comm_ops *ops;
    void *impl;        /* the implementation's state */
    size_t rank, size; /* this process's rank in [0, size) */
    size_t local_size; /* ranks on this machine (for a default thread count) */
    char err[512];     /* the last error */
};

/* A communicator of one rank: reductions copy nothing and return at once.
 * NULL when out of memory. */
SG_NODISCARD sg_comm *sg_comm_local_new(void);
void sg_comm_free(sg_comm *c);

/* buf (n values of type) becomes the reduction over all ranks, in place. */
SG_NODISCARD sg_status sg_comm_allreduce(sg_comm *c, void *buf, size_t n, sg_comm_type type, sg_comm_op op);
/* Makes room for n_slots non-blocking reductions at once (slots 0 to
 * n_slots - 1); allocates, so call it once before the steps. */
SG_NODISCARD sg_status sg_comm_reserve(sg_comm *c, size_t n_slots);
/* Starts the in-place reduction of buf in slot (free: never started, or
 * waited for since). */
SG_NODISCARD sg_status sg_comm_iallreduce(sg_comm *c, size_t slot, void *buf, size_t n, sg_comm_type type,
                                          sg_comm_op op);
/* *done: the slot's reduction has finished (then the slot is free again);
 * also lets the implementation make progress on it. */
SG_NODISCARD sg_status sg_comm_test(sg_comm *c, size_t slot, bool *done);
/* Waits for the slot's reduction (a free slot returns at once). */
SG_NODISCARD sg_status sg_comm_wait(sg_comm *c, size_t slot);
const char *sg_comm_error(const sg_comm *c);

/* Ends every rank of the job with exit status code (MPI_Abort), for a
 * caller whose rank failed where the others may be waiting in a
 * collective that it will never join.  The one-rank communicator returns
 * (the caller then exits as it would alone).  Only the caller decides to
 * end the job; the library never does. */
void sg_comm_abort(sg_comm *c, int code);

/* Every rank's rc agreed on: the largest over the ranks (so any rank's
 * failure is every rank's).  A failed reduction gives fallback. */
int sg_comm_agree(sg_comm *c, int rc, int fallback);

#endif
