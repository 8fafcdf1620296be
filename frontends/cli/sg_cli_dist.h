/* sg_cli_dist.h — data-parallel training for the train commands: under
 * `mpirun -np N`, each rank trains on its share of every global batch and
 * the gradients are summed over the ranks (graph/comm/sg_grad_sync.h)
 * before the optimizer's step, so the same command line trains the same
 * model at any N (docs/distributed.md).
 *
 * A run without an MPI launcher (or with one rank) has one rank and costs
 * nothing.  Rank 0 alone prints, logs and saves: the others' stdout goes to
 * /dev/null, and their error messages name their rank.  Failures are
 * agreed on: sg_cli_dist_agree gives every rank the worst exit code, so the
 * job ends with one message and a non-zero exit; a rank that fails where
 * the others cannot hear it ends the job (sg_cli_dist_close). */
#ifndef SG_CLI_DIST_H
#define SG_CLI_DIST_H

#include "frontends/cli/sg_cli.h"
#include "graph/comm/sg_grad_sync.h"
#include "graph/format/sg_checkpoint.h"

typedef struct sg_cli_dist {
    sg_comm *comm;      /* owned */
    sg_grad_sync *sync; /* owned; NULL with one rank */
    size_t rank, size;
    size_t sync_check; /* steps between parameter checksums over the ranks (0: never) */
    sg_grad_sync_config cfg;
    bool agreed; /* the last failure is known to every rank */
    size_t step; /* steps taken (for sync_check) */
} sg_cli_dist;

/* The default --threads: the cores over the ranks on this machine. */
size_t sg_cli_default_threads(void);

/* Reads --bucket-mb, --no-overlap and --sync-check and opens the job's
 * communicator (MPI when an MPI launcher started more than one rank).
 * Returns an exit code after a message. */
int sg_cli_dist_open(sg_cli_args *a, sg_cli_dist *d);
/* After the model is built: the gradient sync of ps (more than one rank),
 * and a first check that every rank starts from the same parameters.
 * Returns an exit code, agreed on by every rank. */
int sg_cli_dist_bind(sg_cli_dist *d, sg_params *ps);
/* Ends the communicator.  rc is the command's exit code: when it is a
 * failure the other ranks do not know of (not agreed), the job is ended
 * with it (MPI_Abort), since they may be waiting for this rank.  Returns
 * rc. */
int sg_cli_dist_close(sg_cli_dist *d, int rc);

/* rc becomes the worst over the ranks; rank 0 says which rank failed when
 * it was not itself.  True when every rank is OK. */
bool sg_cli_dist_agree(sg_cli_dist *d, int *rc);

/* dst (steps, n) receives columns [lo, lo + n) of src (steps, B), elements
 * of esize bytes: a rank's share of a batch laid out time-major. */
void sg_cli_dist_columns(void *dst, const void *src, size_t steps, size_t B, size_t lo, size_t n, size_t esize);
/* The ranks that trained a checkpoint, as "dist.ranks" (what
 * sg_cli_dist_resume_ranks reads). */
SG_NODISCARD sg_status sg_cli_dist_ranks_store(sg_checkpoint *ck, size_t ranks);
/* With more than one rank, prints the run's data-parallel setup (share:
 * what each rank takes of a batch). */
void sg_cli_dist_print_setup(const sg_cli_dist *d, const char *share);

/* This rank's rows [*lo, *lo + *n) of a global batch of B (B >= size). */
void sg_cli_dist_rows(const sg_cli_dist *d, size_t B, size_t *lo, size_t *n);

/* A step's data-parallel part, around backward: begin hooks g (seed the
 * backward with this rank's share of the global loss, sg_backward_seed);
 * end reduces the gradients, then sums v (n values: loss sums, counts),
 * and checks the parameters every sync_check steps.  A rank whose forward
 * or backward failed does not call end: it returns its failure, and
 * sg_cli_dist_close ends the job, since the other ranks are inside the
 * step's reductions.  Both return an exit code after a message. */
int sg_cli_dist_step_begin(sg_cli_dist *d, sg_graph *g);
int sg_cli_dist_step_end(sg_cli_dist *d, sg_params *ps, double *v, size_t n);

/* --resume of a checkpoint saved by a run over ck's "dist.ranks" ranks (1
 * when it has none): an exit code, SG_EXIT_USAGE after a message naming
 * both counts when they differ and reshard (--reshard) is false; with
 * reshard it says that the run re-shards. */
int sg_cli_dist_resume_ranks(const sg_cli_dist *d, const sg_checkpoint *ck, const char *path, bool reshard);

/* v (n values) summed over the ranks; an exit code after a message. */
int sg_cli_dist_sum(sg_cli_dist *d, double *v, size_t n);

#endif
