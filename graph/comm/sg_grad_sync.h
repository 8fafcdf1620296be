/* sg_grad_sync.h — data-parallel gradients: every rank's parameter
 * gradients summed over the ranks (each scaled by the rank's weight first),
 * with the reductions overlapping the reverse pass, as PyTorch's DDP does.
 *
 * Layout: the gradients of the set, in reverse order of the parameters
 * (the order a reverse pass finishes them in for a model that registers its
 * parameters from input to output), are one flat buffer, cut into buckets
 * of bucket_bytes.  During backward (sg_graph_set_grad_ready) each
 * parameter's gradient, once final, is copied into its place (times the
 * weight); a bucket whose parameters are all in is reduced at once
 * (sg_comm_iallreduce), in bucket order, so every rank starts the same
 * reductions in the same order.  sg_grad_sync_end starts what is left (the
 * buckets of parameters the tape did not use, whose gradients are zero or
 * what zero_grad left), waits for all, and writes the sums back into the
 * gradients (dense: the other ranks touched other rows).  With overlap off,
 * nothing starts before sg_grad_sync_end, and the whole buffer is one
 * bucket (cut only where one MPI call cannot take more).
 *
 * The result on every rank is the same bytes (the communicator's sum; for
 * two ranks a + b).  Listed gradients (sg_param_set_grad_listed) are added
 * into the gradient table first.  Allocates only in sg_grad_sync_new.
 *
 * Ownership: the caller's (sg_grad_sync_free), borrowing c and ps, which
 * must outlive it; a graph given to sg_grad_sync_begin is hooked until
 * sg_grad_sync_end. */
#ifndef SG_GRAD_SYNC_H
#define SG_GRAD_SYNC_H

#include "graph/comm/sg_comm.h"
#include "graph/core/sg_graph.h"
#include "graph/core/sg_param.h"

typedef struct sg_grad_sync_config {
    size_t bucket_bytes; /* > 0; 4 MiB by default */
    bool overlap;        /* reduce buckets during backward (true by default) */
} sg_grad_sync_config;

sg_grad_sync_config sg_grad_sync_defaults(void);

typedef struct sg_grad_sync sg_grad_sync;

/* NULL with the reason in err (out of memory, an empty set, bucket_bytes 0,
 * a replica set). */
SG_NODISCARD sg_grad_sync *sg_grad_sync_new(sg_comm *c, sg_params *ps, const sg_grad_sync_config *cfg, char *err,
                                            size_t errcap);
void sg_grad_sync_free(sg_grad_sync *s);

/* Starts a step whose backward runs on g: this rank's gradients will be
 * added in times weight (1/size for a plain average; local examples over
 * global examples for shards of unequal size).  Call before sg_backward. */
SG_NODISCARD sg_status sg_grad_sync_begin(sg_grad_sync *s, sg_graph *g, double weight);
/* Ends the step: after backward, or in place of it when this rank's
 * forward failed (its gradients then count as they are: call
 * sg_params_zero_grad first to send zeros), since every rank must take part
 * in every reduction.  Unhooks g.  SG_OK, or the communicator's error
 * (message in sg_grad_sync_error). */
SG_NODISCARD sg_status sg_grad_sync_end(sg_grad_sync *s);
const char *sg_grad_sync_error(const sg_grad_sync *s);

/* The buckets, and how many the last step started before backward ended. */
size_t sg_grad_sync_buckets(const sg_grad_sync *s);
size_t sg_grad_sync_overlapped(const sg_grad_sync *s);

#endif
