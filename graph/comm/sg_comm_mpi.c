/* sg_comm_mpi.c — sg_comm over MPI: MPI_COMM_WORLD duplicated (so seqgrad's
 * collectives never mix with a caller's), MPI_Allreduce / MPI_Iallreduce in
 * place, one MPI_Request per slot. */
#include "graph/comm/sg_comm_mpi.h"

#include "graph/core/sg_alloc.h"

#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sg_mpi {
    MPI_Comm comm;
    MPI_Request *req; /* (n_slots) */
    size_t n_slots;
    bool finalize; /* this communicator initialised MPI */
} sg_mpi;

bool sg_comm_mpi_available(void) { return true; }

/* SG_ERR_IO with "what: MPI's message" in c->err, for an MPI error code. */
static sg_status sg_mpi_fail(sg_comm *c, const char *what, int code)
{
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    if (MPI_Error_string(code, msg, &len) != MPI_SUCCESS)
        snprintf(msg, sizeof msg, "error %d", code);
    snprintf(c->err, sizeof c->err, "MPI (rank %zu of %zu): %s: %s", c->rank, c->size, what, msg);
    return SG_ERR_IO;
}

static bool sg_mpi_types(sg_comm_type type, sg_comm_op op, MPI_Datatype *dt, MPI_Op *mop)
{
    switch (type) {
    case SG_COMM_F32: *dt = MPI_FLOAT; break;
    case SG_COMM_F64: *dt = MPI_DOUBLE; break;
    case SG_COMM_U64: *dt = MPI_UINT64_T; break;
    default: return false;
    }
    switch (op) {
    case SG_COMM_SUM: *mop = MPI_SUM; break;
    case SG_COMM_MIN: *mop = MPI_MIN; break;
    case SG_COMM_MAX: *mop = MPI_MAX; break;
    default: return false;
    }
    return true;
}

static size_t sg_mpi_type_size(sg_comm_type type) { return type == SG_COMM_F32 ? 4 : 8; }

static sg_status sg_mpi_allreduce(sg_comm *c, void *buf, size_t n, sg_comm_type type, sg_comm_op op)
{
    sg_mpi *m = c->impl;
    MPI_Datatype dt;
    MPI_Op mop;
    if (!sg_mpi_types(type, op, &dt, &mop))
        return SG_ERR_ARG;
    for (size_t at = 0; at < n;) { /* MPI counts are int: long buffers go in pieces */
        size_t k = n - at < (size_t)INT_MAX ? n - at : (size_t)INT_MAX;
        int rc = MPI_Allreduce(MPI_IN_PLACE, (char *)buf + at * sg_mpi_type_size(type), (int)k, dt, mop, m->comm);
        if (rc != MPI_SUCCESS)
            return sg_mpi_fail(c, "allreduce", rc);
        at += k;
    }
    return SG_OK;
}

static sg_status sg_mpi_reserve(sg_comm *c, size_t n_slots)
{
    sg_mpi *m = c->impl;
    if (n_slots <= m->n_slots)
        return SG_OK;
    for (size_t s = 0; s < m->n_slots; s++)
        if (m->req[s] != MPI_REQUEST_NULL) {
            snprintf(c->err, sizeof c->err, "reserve: slot %zu is still in flight", s);
            return SG_ERR_STATE;
        }
    MPI_Request *r = sg_realloc(m->req, n_slots * sizeof *r);
    if (!r) {
        snprintf(c->err, sizeof c->err, "out of memory for %zu requests", n_slots);
        return SG_ERR_NOMEM;
    }
    for (size_t s = m->n_slots; s < n_slots; s++)
        r[s] = MPI_REQUEST_NULL;
    m->req = r;
    m->n_slots = n_slots;
    return SG_OK;
}

static sg_status sg_mpi_iallreduce(sg_comm *c, size_t slot, void *buf, size_t n, sg_comm_type type, sg_comm_op op)
{
    sg_mpi *m = c->impl;
    MPI_Datatype dt;
    MPI_Op mop;
    if (!sg_mpi_types(type, op, &dt, &mop))
        return SG_ERR_ARG;
    if (slot >= m->n_slots || m->req[slot] != MPI_REQUEST_NULL || n > (size_t)INT_MAX) {
        snprintf(c->err, sizeof c->err, "iallreduce: slot %zu is %s, or %zu values are more than one call takes", slot,
                 slot >= m->n_slots ? "not reserved" : "busy", n);
        return SG_ERR_ARG;
    }
    int rc = MPI_Iallreduce(MPI_IN_PLACE, buf, (int)n, dt, mop, m->comm, &m->req[slot]);
    return rc == MPI_SUCCESS ? SG_OK : sg_mpi_fail(c, "iallreduce", rc);
}

static sg_status sg_mpi_test(sg_comm *c, size_t slot, bool *done)
{
    sg_mpi *m = c->impl;
    if (slot >= m->n_slots)
        return SG_ERR_ARG;
    int flag = 1;
    int rc = m->req[slot] == MPI_REQUEST_NULL ? MPI_SUCCESS : MPI_Test(&m->req[slot], &flag, MPI_STATUS_IGNORE);
    *done = flag != 0;
    return rc == MPI_SUCCESS ? SG_OK : sg_mpi_fail(c, "test", rc);
}

static sg_status sg_mpi_wait(sg_comm *c, size_t slot)
{
    sg_mpi *m = c->impl;
    if (slot >= m->n_slots)
        return SG_ERR_ARG;
    int rc = m->req[slot] == MPI_REQUEST_NULL ? MPI_SUCCESS : MPI_Wait(&m->req[slot], MPI_STATUS_IGNORE);
    return rc == MPI_SUCCESS ? SG_OK : sg_mpi_fail(c, "wait", rc);
}

static void sg_mpi_abort(sg_comm *c, int code)
{
    sg_mpi *m = c->impl;
    (void)MPI_Abort(m && m->comm != MPI_COMM_NULL ? m->comm : MPI_COMM_WORLD, code);
}

static void sg_mpi_free(sg_comm *c)
{
    sg_mpi *m = c->impl;
    if (!m)
        return;
    for (size_t s = 0; s < m->n_slots; s++)
        if (m->req[s] != MPI_REQUEST_NULL)
            (void)MPI_Wait(&m->req[s], MPI_STATUS_IGNORE); /* a buffer is never left to MPI */
    if (m->comm != MPI_COMM_NULL)
        (void)MPI_Comm_free(&m->comm);
    if (m->finalize)
        (void)MPI_Finalize();
    sg_free(m->req);
    sg_free(m);
    c->impl = NULL;
}

static const sg_comm_ops sg_mpi_ops = {
    .name = "mpi",
    .allreduce = sg_mpi_allreduce,
    .reserve = sg_mpi_reserve,
    .iallreduce = sg_mpi_iallreduce,
    .test = sg_mpi_test,
    .wait = sg_mpi_wait,
    .abort = sg_mpi_abort,
    .free = sg_mpi_free,
};

sg_comm *sg_comm_mpi_new(char *err, size_t errcap)
{
    sg_comm *c = sg_calloc(1, sizeof *c);
    sg_mpi *m = sg_calloc(1, sizeof *m);
    if (!c || !m) {
        snprintf(err, errcap, "out of memory");
        sg_free(c);
        sg_free(m);
        return NULL;
    }
    m->comm = MPI_COMM_NULL;
    int inited = 0, provided = 0, rc;
    MPI_Initialized(&inited);
    if (!inited) {
        /* Open MPI's non-blocking allreduce picks a binomial tree or recursive
         * doubling for few ranks, 2.3x slower here on 18.6 MB than its ring
         * (docs/distributed.md); the ring, which is bandwidth-optimal at any
         * rank count, unless the user chose (the value is kept as given). */
        if (setenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "1", 0) != 0) {
            snprintf(err, errcap, "cannot set the environment before MPI starts");
            sg_free(c);
            sg_free(m);
            return NULL;
        }
        if ((rc = MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided)) != MPI_SUCCESS) {
            snprintf(err, errcap, "MPI does not start (MPI_Init_thread returned %d)", rc);
            sg_free(c);
            sg_free(m);
            return NULL;
        }
        m->finalize = true;
    }
    c->ops = &sg_mpi_ops;
    c->impl = m;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int rank = 0, size = 1, local = 1;
    MPI_Comm shm = MPI_COMM_NULL;
    if ((rc = MPI_Comm_dup(MPI_COMM_WORLD, &m->comm)) != MPI_SUCCESS ||
        (rc = MPI_Comm_set_errhandler(m->comm, MPI_ERRORS_RETURN)) != MPI_SUCCESS ||
        (rc = MPI_Comm_rank(m->comm, &rank)) != MPI_SUCCESS || (rc = MPI_Comm_size(m->comm, &size)) != MPI_SUCCESS ||
        (rc = MPI_Comm_split_type(m->comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &shm)) != MPI_SUCCESS ||
        (rc = MPI_Comm_size(shm, &local)) != MPI_SUCCESS) {
        sg_mpi_fail(c, "setting up the communicator", rc);
        snprintf(err, errcap, "%s", c->err);
        if (shm != MPI_COMM_NULL)
            MPI_Comm_free(&shm);
        sg_comm_free(c);
        return NULL;
    }
    MPI_Comm_free(&shm);
    c->rank = (size_t)rank;
    c->size = (size_t)size;
    c->local_size = (size_t)local;
    return c;
}
