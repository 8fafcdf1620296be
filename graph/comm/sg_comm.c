/* sg_comm.c — the communicator's dispatch and the one-rank communicator. */
#include "graph/comm/sg_comm.h"

#include "graph/core/sg_alloc.h"

#include <stdio.h>
#include <string.h>

/* ---- one rank: every reduction is the identity ---------------------------- */

static sg_status sg_local_allreduce(sg_comm *c, void *buf, size_t n, sg_comm_type type, sg_comm_op op)
{
    (void)c, (void)buf, (void)n, (void)type, (void)op;
    return SG_OK;
}

static sg_status sg_local_reserve(sg_comm *c, size_t n_slots)
{
    (void)c, (void)n_slots;
    return SG_OK;
}

static sg_status sg_local_iallreduce(sg_comm *c, size_t slot, void *buf, size_t n, sg_comm_type type, sg_comm_op op)
{
    (void)c, (void)slot, (void)buf, (void)n, (void)type, (void)op;
    return SG_OK;
}

static sg_status sg_local_test(sg_comm *c, size_t slot, bool *done)
{
    (void)c, (void)slot;
    *done = true;
    return SG_OK;
}

static sg_status sg_local_wait(sg_comm *c, size_t slot)
{
    (void)c, (void)slot;
    return SG_OK;
}

static void sg_local_abort(sg_comm *c, int code) { (void)c, (void)code; }

static void sg_local_free(sg_comm *c) { (void)c; }

static const sg_comm_ops sg_local_ops = {
    .name = "local",
    .allreduce = sg_local_allreduce,
    .reserve = sg_local_reserve,
    .iallreduce = sg_local_iallreduce,
    .test = sg_local_test,
    .wait = sg_local_wait,
    .abort = sg_local_abort,
    .free = sg_local_free,
};

sg_comm *sg_comm_local_new(void)
{
    sg_comm *c = sg_calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->ops = &sg_local_ops;
    c->rank = 0;
    c->size = c->local_size = 1;
    return c;
}

void sg_comm_free(sg_comm *c)
{
    if (!c)
        return;
    c->ops->free(c);
    sg_free(c);
}

/* ---- dispatch ------------------------------------------------------------- */

sg_status sg_comm_allreduce(sg_comm *c, void *buf, size_t n, sg_comm_type type, sg_comm_op op)
{
    if (!c || (n && !buf))
        return SG_ERR_ARG;
    return n ? c->ops->allreduce(c, buf, n, type, op) : SG_OK;
}

sg_status sg_comm_reserve(sg_comm *c, size_t n_slots) { return c ? c->ops->reserve(c, n_slots) : SG_ERR_ARG; }

sg_status sg_comm_iallreduce(sg_comm *c, size_t slot, void *buf, size_t n, sg_comm_type type, sg_comm_op op)
{
    if (!c || !buf || !n)
        return SG_ERR_ARG;
    return c->ops->iallreduce(c, slot, buf, n, type, op);
}

sg_status sg_comm_test(sg_comm *c, size_t slot, bool *done)
{
    return c && done ? c->ops->test(c, slot, done) : SG_ERR_ARG;
}

sg_status sg_comm_wait(sg_comm *c, size_t slot) { return c ? c->ops->wait(c, slot) : SG_ERR_ARG; }

void sg_comm_abort(sg_comm *c, int code)
{
    if (c)
        c->ops->abort(c, code);
}

const char *sg_comm_error(const sg_comm *c) { return c && c->err[0] ? c->err : "no error"; }

int sg_comm_agree(sg_comm *c, int rc, int fallback)
{
    uint64_t v = rc < 0 ? 0 : (uint64_t)rc;
    if (sg_comm_allreduce(c, &v, 1, SG_COMM_U64, SG_COMM_MAX) != SG_OK)
        return fallback;
    return (int)v;
}
