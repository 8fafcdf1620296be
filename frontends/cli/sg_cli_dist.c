/* sg_cli_dist.c — data-parallel runs of the train commands (sg_cli_dist.h). */
#include "frontends/cli/sg_cli_dist.h"

#include "graph/comm/sg_comm_mpi.h"
#include "graph/util/sg_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef NDEBUG
#define SG_SYNC_CHECK_DEFAULT 0
#else
#define SG_SYNC_CHECK_DEFAULT 100
#endif

size_t sg_cli_default_threads(void)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    size_t cores = ncpu > 0 ? (size_t)ncpu : 1, local = 1;
    const char *v = getenv("OMPI_COMM_WORLD_LOCAL_SIZE"); /* known before MPI starts */
    uint64_t n;
    if (v && sg_parse_u64(v, &n) && n > 0)
        local = (size_t)n;
    return cores / local > 0 ? cores / local : 1;
}

int sg_cli_dist_open(sg_cli_args *a, sg_cli_dist *d)
{
    memset(d, 0, sizeof *d);
    d->cfg = sg_grad_sync_defaults();
    double mb;
    if (!sg_cli_opt_double_in(a, "bucket-mb", 4.0, 0, 1 << 20, true, &mb) ||
        !sg_cli_opt_size(a, "sync-check", SG_SYNC_CHECK_DEFAULT, &d->sync_check))
        return SG_EXIT_USAGE;
    d->cfg.bucket_bytes = (size_t)(mb * 1048576.0) > 0 ? (size_t)(mb * 1048576.0) : 1;
    d->cfg.overlap = !sg_cli_flag(a, "no-overlap");
    size_t launched = 0;
    char err[1024];
    if (sg_comm_mpi_launched(&launched) && launched > 1) {
        d->comm = sg_comm_mpi_new(err, sizeof err);
        if (!d->comm) {
            sg_cli_error("started by an MPI launcher with %zu ranks, but %s", launched, err);
            return SG_EXIT_FAIL;
        }
    } else if (!(d->comm = sg_comm_local_new())) {
        sg_cli_error("out of memory");
        return SG_EXIT_FAIL;
    }
    d->rank = d->comm->rank;
    d->size = d->comm->size;
    sg_cli_error_set_rank(d->rank, d->size);
    if (d->rank != 0 && !freopen("/dev/null", "w", stdout)) { /* rank 0 alone prints */
        sg_cli_error("cannot silence this rank's output");
        return SG_EXIT_FAIL;
    }
    return SG_EXIT_OK;
}

/* A hash of every parameter's bytes, the same on every rank iff the values are. */
static uint64_t sg_cli_params_hash(const sg_params *ps)
{
    uint64_t h = 0;
    for (size_t k = 0; k < ps->n; k++)
        h = h * 0x100000001b3ull ^
            sg_hash_bytes(ps->items[k]->value, ps->items[k]->numel * sg_dtype_size(ps->items[k]->dtype));
    return h;
}

/* Every rank has the same parameter bytes and sync settings (ranks that
 * bucket differently would pair reductions of different pieces); an exit
 * code, agreed on. */
static int sg_cli_dist_check_params(sg_cli_dist *d, const sg_params *ps)
{
    uint64_t h = sg_cli_params_hash(ps) ^ (d->cfg.bucket_bytes * 0x9E3779B97F4A7C15ull) ^ (uint64_t)d->cfg.overlap;
    uint64_t v[2] = {h, ~h};
    if (sg_comm_allreduce(d->comm, v, 2, SG_COMM_U64, SG_COMM_MAX) != SG_OK) {
        sg_cli_error("%s", sg_comm_error(d->comm));
        return SG_EXIT_FAIL;
    }
    if (v[0] != ~v[1]) { /* max(h) != min(h) */
        if (d->rank == 0)
            sg_cli_error(
                "the ranks' parameters (or --bucket-mb, --no-overlap) differ after %zu steps (checksums %016llx "
                ".. %016llx): the job stops",
                d->step, (unsigned long long)~v[1], (unsigned long long)v[0]);
        d->agreed = true;
        return SG_EXIT_FAIL;
    }
    return SG_EXIT_OK;
}

int sg_cli_dist_bind(sg_cli_dist *d, sg_params *ps)
{
    if (d->size <= 1)
        return SG_EXIT_OK;
    char err[1024];
    int rc = SG_EXIT_OK;
    if (!(d->sync = sg_grad_sync_new(d->comm, ps, &d->cfg, err, sizeof err))) {
        sg_cli_error("data-parallel gradients: %s", err);
        rc = SG_EXIT_FAIL;
    }
    if (!sg_cli_dist_agree(d, &rc))
        return rc;
    return sg_cli_dist_check_params(d, ps);
}

bool sg_cli_dist_agree(sg_cli_dist *d, int *rc)
{
    if (d->size <= 1)
        return *rc == SG_EXIT_OK;
    uint64_t v[2] = {(uint64_t)(*rc > 0 ? *rc : 0), *rc ? d->rank + 1 : 0};
    if (sg_comm_allreduce(d->comm, v, 2, SG_COMM_U64, SG_COMM_MAX) != SG_OK) {
        sg_cli_error("%s", sg_comm_error(d->comm));
        *rc = SG_EXIT_FAIL;
        d->agreed = false;
        return false;
    }
    if (v[0] && d->rank == 0 && *rc == SG_EXIT_OK)
        sg_cli_error("rank %llu failed (its message is above): all %zu ranks stop", (unsigned long long)v[1] - 1,
                     d->size);
    *rc = (int)v[0];
    d->agreed = *rc != SG_EXIT_OK;
    return *rc == SG_EXIT_OK;
}

void sg_cli_dist_columns(void *dst, const void *src, size_t steps, size_t B, size_t lo, size_t n, size_t esize)
{
    for (size_t t = 0; t < steps; t++)
        memcpy((char *)dst + t * n * esize, (const char *)src + (t * B + lo) * esize, n * esize);
}

sg_status sg_cli_dist_ranks_store(sg_checkpoint *ck, size_t ranks)
{
    char nr[32];
    snprintf(nr, sizeof nr, "%zu", ranks);
    return sg_checkpoint_set_string(ck, "dist.ranks", nr);
}

void sg_cli_dist_print_setup(const sg_cli_dist *d, const char *share)
{
    if (d->size > 1)
        printf("data-parallel: %zu ranks, %s, %zu gradient buckets%s\n", d->size, share, sg_grad_sync_buckets(d->sync),
               d->cfg.overlap ? " reduced during backward" : " reduced after it");
}

void sg_cli_dist_rows(const sg_cli_dist *d, size_t B, size_t *lo, size_t *n)
{
    size_t q = B / d->size, r = B % d->size;
    *lo = d->rank * q + (d->rank < r ? d->rank : r);
    *n = q + (d->rank < r);
}

int sg_cli_dist_step_begin(sg_cli_dist *d, sg_graph *g)
{
    if (!d->sync)
        return SG_EXIT_OK;
    if (sg_grad_sync_begin(d->sync, g) != SG_OK) {
        sg_cli_error("data-parallel gradients: a step began inside a step");
        return SG_EXIT_FAIL;
    }
    return SG_EXIT_OK;
}

int sg_cli_dist_sum(sg_cli_dist *d, double *v, size_t n)
{
    if (sg_comm_allreduce(d->comm, v, n, SG_COMM_F64, SG_COMM_SUM) != SG_OK) {
        sg_cli_error("%s", sg_comm_error(d->comm));
        d->agreed = false;
        return SG_EXIT_FAIL;
    }
    return SG_EXIT_OK;
}

int sg_cli_dist_step_end(sg_cli_dist *d, sg_params *ps, double *v, size_t n)
{
    if (!d->sync)
        return SG_EXIT_OK;
    if (sg_grad_sync_end(d->sync) != SG_OK) {
        sg_cli_error("data-parallel gradients: %s", sg_grad_sync_error(d->sync));
        return SG_EXIT_FAIL;
    }
    int rc = sg_cli_dist_sum(d, v, n);
    if (rc != SG_EXIT_OK)
        return rc;
    d->step++;
    if (d->sync_check && d->step % d->sync_check == 0)
        return sg_cli_dist_check_params(d, ps);
    return SG_EXIT_OK;
}

int sg_cli_dist_resume_ranks(const sg_cli_dist *d, const sg_checkpoint *ck, const char *path, bool reshard)
{
    const char *kr = sg_checkpoint_get_string(ck, "dist.ranks");
    uint64_t saved = 1;
    if (kr && (!sg_parse_u64(kr, &saved) || saved == 0)) {
        sg_cli_error("the checkpoint '%s' has a bad dist.ranks '%s'", path, kr);
        return SG_EXIT_INPUT;
    }
    if (saved != d->size && !reshard) {
        sg_cli_error("the checkpoint '%s' was saved by a run over %llu rank%s, and this run has %zu: resume with "
                     "mpirun -np %llu, or give --reshard to go on over %zu (the same global batch, cut anew; "
                     "sums over the ranks then round differently)",
                     path, (unsigned long long)saved, saved == 1 ? "" : "s", d->size, (unsigned long long)saved,
                     d->size);
        return SG_EXIT_USAGE;
    }
    if (saved != d->size)
        printf("re-sharding: the checkpoint's %llu rank%s become %zu\n", (unsigned long long)saved,
               saved == 1 ? "" : "s", d->size);
    return SG_EXIT_OK;
}

int sg_cli_dist_close(sg_cli_dist *d, int rc)
{
    if (!d->comm)
        return rc;
    if (rc != SG_EXIT_OK && !d->agreed && d->size > 1) {
        fflush(stdout);
        fflush(stderr);
        sg_comm_abort(d->comm, rc); /* the others may be waiting for this rank: end the job */
    }
    sg_grad_sync_free(d->sync);
    sg_comm_free(d->comm);
    memset(d, 0, sizeof *d);
    return rc;
}
