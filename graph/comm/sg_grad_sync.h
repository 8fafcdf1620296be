/* sg_grad_sync.h — data-parallel gradients: every rank's parameter
 * gradients summed over the ranks, the reductions overlapping the reverse
 * pass, as PyTorch's DDP does.
 *
 * Buckets: the parameters in the order the first step's reverse pass
 * finished them (rank 0's, sent to every rank; the first step itself uses
 * reverse registration order, the order a model that registers its layers
 * from input to output finishes them in), each cut into pieces of at most
 * bucket_bytes: as DDP rebuilds its buckets after the first iteration.  During backward
 * (sg_graph_set_grad_ready) a parameter whose gradient is final has its
 * pieces reduced at once, in place in its gradient (MPI_Iallreduce), in
 * bucket order, so every rank starts the same reductions in the same
 * order.  sg_grad_sync_end waits for them and reduces what is left (the
 * parameters the reverse pass reports as it ends, or never: those the tape
 * did not use, whose gradients are what zero_grad left) with blocking
 * reductions (nothing is left to overlap them with, and they need no
 * polling).  With overlap off, every piece is reduced after backward,
 * blocking.  Every rank must use the same bucket size and overlap setting.
 *
 * A sum, not a mean: for an average over ranks (or over examples when
 * shards differ in size) each rank seeds its backward with its weight,
 * sg_backward_seed(g, loss, &w), which scales its gradients at no cost.
 * The result is the same bytes on every rank (the communicator's sum; for
 * two ranks a + b).  Listed gradients (sg_param_set_grad_listed) are added
 * into the gradient table first, and every gradient is dense afterwards
 * (the other ranks touched other rows).  Allocates only in
 * sg_grad_sync_new.
 *
 * Ownership: the caller's (sg_grad_sync_free), borrowing c and ps, which
 * must outlive it; a graph given to sg_grad_sync_begin is hooked until
 * sg_grad_sync_end, and the gradients belong to the communicator between
 * the two (nothing but backward may touch them). */
#ifndef SG_GRAD_SYNC_H
#define SG_GRAD_SYNC_H

#include "graph/comm/sg_comm.h"
#include "graph/core/sg_graph.h"
#include "graph/core/sg_param.h"

typedef struct sg_grad_sync_config {
    size_t bucket_bytes; /* > 0: the largest piece reduced in one call; 4 MiB by default */
    bool overlap;        /* reduce during backward (true by default) */
} sg_grad_sync_config;

sg_grad_sync_config sg_grad_sync_defaults(void);

typedef struct sg_grad_sync sg_grad_sync;

/* NULL with the reason in err (out of memory, an empty set, bucket_bytes 0,
 * a replica set). */
SG_NODISCARD sg_grad_sync *sg_grad_sync_new(sg_comm *c, sg_params *ps, const sg_grad_sync_config *cfg, char *err,
                                            size_t errcap);
void sg_grad_sync_free(sg_grad_sync *s);

/* Starts a step whose backward runs on g (hooks it).  Call before the
 * backward, after zero_grad. */
SG_NODISCARD sg_status sg_grad_sync_begin(sg_grad_sync *s, sg_graph *g);
/* Ends the step after backward: every gradient is its sum over the ranks.
 * Unhooks g.  SG_OK, or the communicator's error (message in
 * sg_grad_sync_error).  A rank whose backward failed cannot take part
 * (the others started reductions it cannot match): it ends the job. */
SG_NODISCARD sg_status sg_grad_sync_end(sg_grad_sync *s);
const char *sg_grad_sync_error(const sg_grad_sync *s);

/* The buckets, and how many the last step started before backward ended. */
size_t sg_grad_sync_buckets(const sg_grad_sync *s);
size_t sg_grad_sync_overlapped(const sg_grad_sync *s);
/* Wall seconds, summed over all steps so far: in the backward hook
 * (copies in, starting buckets, polling) and in sg_grad_sync_end (the rest
 * started, waiting, copies out): the time communication adds to a step. */
void sg_grad_sync_seconds(const sg_grad_sync *s, double *in_hook, double *in_end);

#endif
