/* sg_grad_sync.c — bucketed gradient reduction over a communicator, in
 * place in the parameters' gradients.
 *
 * Dimensions: P parameters; K buckets (pieces of at most E elements of one
 * parameter each), in reverse parameter order. */
#include "graph/comm/sg_grad_sync.h"

#include "graph/core/sg_alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One MPI call takes at most INT_MAX values; a piece stays below 2^30. */
#define SG_SYNC_MAX_BUCKET ((size_t)1 << 30)

typedef struct sg_sync_slot {
    sg_param *p;
    size_t first_bucket; /* its pieces are buckets [first_bucket, first_bucket + n_buckets) */
    size_t n_buckets;
    bool ready; /* its gradient is final this step */
} sg_sync_slot;

typedef struct sg_sync_bucket {
    size_t slot;  /* the parameter's slot */
    size_t begin; /* its elements [begin, begin + n) of the gradient */
    size_t n;
} sg_sync_bucket;

struct sg_grad_sync {
    sg_comm *comm;
    sg_params *ps;
    sg_comm_type type;
    size_t esize;
    sg_sync_slot *slots;   /* (P) reverse parameter order */
    sg_sync_slot **by_ptr; /* (P) the slots sorted by parameter address, for the hook */
    size_t n_slots;
    sg_sync_bucket *buckets; /* (K) */
    size_t n_buckets;
    size_t per_bucket; /* E */
    /* the first step's order of readiness, from which the buckets are laid out again */
    sg_sync_slot *scratch; /* (P) */
    uint64_t *seen;        /* (P) slot indices in the order the first reverse pass reported them */
    unsigned char *used;   /* (P) */
    size_t n_seen, steps;
    size_t next_start; /* the first bucket not started */
    size_t next_done;  /* the first started bucket not known finished */
    size_t overlapped; /* buckets started inside backward, this step */
    bool overlap, active;
    sg_graph *g;
    double t_hook, t_end; /* seconds in the hook and in end, over all steps */
    sg_status status;     /* the first error of the step */
    char err[512];
};

static double sg_sync_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

sg_grad_sync_config sg_grad_sync_defaults(void)
{
    return (sg_grad_sync_config){.bucket_bytes = (size_t)4 << 20, .overlap = true};
}

static int sg_slot_ptr_cmp(const void *a, const void *b)
{
    const sg_param *x = (*(sg_sync_slot *const *)a)->p, *y = (*(sg_sync_slot *const *)b)->p;
    return x < y ? -1 : x > y;
}

void sg_grad_sync_free(sg_grad_sync *s)
{
    if (!s)
        return;
    if (s->g)
        sg_graph_set_grad_ready(s->g, NULL, NULL);
    for (size_t b = 0; b < s->next_start; b++)
        if (sg_comm_wait(s->comm, b) != SG_OK) /* a gradient is never left to the communicator */
            continue;
    sg_free(s->slots);
    sg_free(s->by_ptr);
    sg_free(s->buckets);
    sg_free(s->scratch);
    sg_free(s->seen);
    sg_free(s->used);
    sg_free(s);
}

/* Numbers the buckets of the slots in their order, each slot's pieces of
 * at most per_bucket elements, and indexes the slots by address. */
static void sg_sync_layout(sg_grad_sync *s)
{
    size_t nb = 0;
    for (size_t k = 0; k < s->n_slots; k++) {
        sg_sync_slot *sl = &s->slots[k];
        size_t numel = sl->p->numel, e = s->per_bucket;
        sl->first_bucket = nb;
        sl->n_buckets = numel / e + (numel % e != 0);
        for (size_t j = 0; j < sl->n_buckets; j++)
            s->buckets[nb + j] =
                (sg_sync_bucket){.slot = k, .begin = j * e, .n = numel - j * e < e ? numel - j * e : e};
        nb += sl->n_buckets;
        s->by_ptr[k] = sl;
    }
    qsort(s->by_ptr, s->n_slots, sizeof *s->by_ptr, sg_slot_ptr_cmp);
}

sg_grad_sync *sg_grad_sync_new(sg_comm *c, sg_params *ps, const sg_grad_sync_config *cfg, char *err, size_t errcap)
{
    sg_grad_sync_config d = sg_grad_sync_defaults();
    if (!cfg)
        cfg = &d;
    if (!c || !ps || !ps->n || ps->master || !cfg->bucket_bytes) {
        snprintf(err, errcap,
                 "gradient sync needs a communicator, a non-empty set that is not a replica, and a "
                 "bucket size above 0");
        return NULL;
    }
    sg_grad_sync *s = sg_calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errcap, "out of memory");
        return NULL;
    }
    s->comm = c;
    s->ps = ps;
    s->type = ps->dtype == SG_F64 ? SG_COMM_F64 : SG_COMM_F32;
    s->esize = ps->dtype == SG_F64 ? 8 : 4;
    s->overlap = cfg->overlap;
    s->n_slots = ps->n;
    size_t e = cfg->bucket_bytes / s->esize;
    if (e < 1)
        e = 1;
    if (e > SG_SYNC_MAX_BUCKET)
        e = SG_SYNC_MAX_BUCKET;
    s->per_bucket = e;
    s->slots = sg_calloc(ps->n, sizeof *s->slots);
    s->by_ptr = sg_calloc(ps->n, sizeof *s->by_ptr);
    s->scratch = sg_calloc(ps->n, sizeof *s->scratch);
    s->seen = sg_calloc(ps->n, sizeof *s->seen);
    s->used = sg_calloc(ps->n, sizeof *s->used);
    if (!s->slots || !s->by_ptr || !s->scratch || !s->seen || !s->used)
        goto nomem;
    for (size_t k = 0; k < ps->n; k++) {
        s->slots[k].p = ps->items[ps->n - 1 - k]; /* until the first step tells the order */
        s->n_buckets += ps->items[k]->numel / e + (ps->items[k]->numel % e != 0);
    }
    s->buckets = sg_calloc(s->n_buckets, sizeof *s->buckets);
    if (!s->buckets)
        goto nomem;
    sg_sync_layout(s);
    if (sg_comm_reserve(c, s->n_buckets) != SG_OK) {
        snprintf(err, errcap, "%s", sg_comm_error(c));
        sg_grad_sync_free(s);
        return NULL;
    }
    return s;
nomem:
    snprintf(err, errcap, "out of memory for the gradient buckets of %zu parameters", ps->n);
    sg_grad_sync_free(s);
    return NULL;
}

static void sg_sync_fail(sg_grad_sync *s, sg_status st)
{
    if (s->status == SG_OK) {
        s->status = st;
        snprintf(s->err, sizeof s->err, "%s", sg_comm_error(s->comm));
    }
}

static void *sg_sync_bucket_data(const sg_grad_sync *s, const sg_sync_bucket *b)
{
    return (char *)s->slots[b->slot].p->grad + b->begin * s->esize;
}

/* Starts every bucket from next_start on whose parameter is ready. */
static void sg_sync_start_ready(sg_grad_sync *s)
{
    while (s->status == SG_OK && s->next_start < s->n_buckets && s->slots[s->buckets[s->next_start].slot].ready) {
        const sg_sync_bucket *b = &s->buckets[s->next_start];
        sg_status st =
            sg_comm_iallreduce(s->comm, s->next_start, sg_sync_bucket_data(s, b), b->n, s->type, SG_COMM_SUM);
        if (st != SG_OK) {
            sg_sync_fail(s, st);
            return;
        }
        s->overlapped++;
        s->next_start++;
    }
}

/* A parameter's gradient is final: its list into the table, then it is ready. */
static void sg_sync_take(sg_sync_slot *sl)
{
    if (sl->p->grad_listed)
        sg_param_grad_flush_list(sl->p);
    sl->ready = true;
}

/* The reverse pass's hook: p's gradient is final (or, for NULL, a node
 * went by: let the communicator progress on the oldest started bucket).
 * With no node left, nothing can overlap: the buckets are left for the
 * blocking reductions of sg_grad_sync_end. */
static void sg_sync_hook(void *ctx, sg_param *p, size_t left)
{
    sg_grad_sync *s = ctx;
    if (s->status != SG_OK)
        return;
    double t0 = sg_sync_now();
    if (!p) {
        if (s->next_done < s->next_start) {
            bool done = false;
            sg_status st = sg_comm_test(s->comm, s->next_done, &done);
            if (st != SG_OK)
                sg_sync_fail(s, st);
            else if (done)
                s->next_done++;
        }
    } else {
        sg_sync_slot key = {.p = p}, *kp = &key;
        sg_sync_slot **hit = bsearch(&kp, s->by_ptr, s->n_slots, sizeof *s->by_ptr, sg_slot_ptr_cmp);
        if (hit && !(*hit)->ready) { /* else a parameter of another set, or reported twice */
            if (s->steps == 0)
                s->seen[s->n_seen++] = (uint64_t)(*hit - s->slots);
            sg_sync_take(*hit);
            if (s->overlap && left > 0)
                sg_sync_start_ready(s);
        }
    }
    s->t_hook += sg_sync_now() - t0;
}

sg_status sg_grad_sync_begin(sg_grad_sync *s, sg_graph *g)
{
    if (!s || !g || s->active)
        return SG_ERR_STATE;
    for (size_t k = 0; k < s->n_slots; k++)
        s->slots[k].ready = false;
    s->next_start = s->next_done = s->overlapped = 0;
    if (s->steps == 0)
        s->n_seen = 0;
    s->status = SG_OK;
    s->err[0] = '\0';
    s->g = g;
    s->active = true;
    sg_graph_set_grad_ready(g, sg_sync_hook, s);
    return SG_OK;
}

/* After the first step: the slots in the order its reverse pass reported
 * them (rank 0's, sent to every rank, so that all lay out the same
 * buckets even if a tape differed), then the unreported in their order;
 * the buckets laid out again.  As DDP rebuilds its buckets after the first
 * iteration.  Allocates nothing. */
static void sg_sync_reorder(sg_grad_sync *s)
{
    size_t P = s->n_slots;
    for (size_t k = 0; k < P; k++)
        s->scratch[k] = s->slots[k];
    unsigned char *used = s->used;
    memset(used, 0, P * sizeof *used);
    size_t n = 0;
    for (size_t i = 0; i < s->n_seen; i++)
        if (!used[s->seen[i]]) {
            used[s->seen[i]] = 1;
            s->seen[n++] = s->seen[i];
        }
    for (size_t k = 0; k < P; k++)
        if (!used[k])
            s->seen[n++] = k;
    /* rank 0's order: the others send zeros, the sum is rank 0's */
    if (s->comm->rank != 0)
        memset(s->seen, 0, P * sizeof *s->seen);
    sg_status st = sg_comm_allreduce(s->comm, s->seen, P, SG_COMM_U64, SG_COMM_SUM);
    if (st != SG_OK) {
        sg_sync_fail(s, st);
        return;
    }
    memset(used, 0, P * sizeof *used);
    for (size_t k = 0; k < P; k++) { /* a permutation, or the order is kept */
        if (s->seen[k] >= P || used[s->seen[k]]) {
            for (size_t j = 0; j < P; j++)
                s->slots[j] = s->scratch[j];
            sg_sync_layout(s);
            return;
        }
        used[s->seen[k]] = 1;
    }
    for (size_t k = 0; k < P; k++)
        s->slots[k] = s->scratch[s->seen[k]];
    sg_sync_layout(s);
}

sg_status sg_grad_sync_end(sg_grad_sync *s)
{
    if (!s || !s->active)
        return SG_ERR_STATE;
    double t0 = sg_sync_now();
    sg_graph_set_grad_ready(s->g, NULL, NULL);
    s->g = NULL;
    for (size_t b = s->next_done; b < s->next_start; b++) { /* every started bucket, even after an error */
        sg_status st = sg_comm_wait(s->comm, b);
        if (st != SG_OK)
            sg_sync_fail(s, st);
    }
    /* the rest, blocking: nothing is left to overlap them with */
    for (size_t k = 0; k < s->n_slots; k++)
        if (!s->slots[k].ready)
            sg_sync_take(&s->slots[k]);
    for (size_t b = s->next_start; b < s->n_buckets && s->status == SG_OK; b++) {
        const sg_sync_bucket *bk = &s->buckets[b];
        sg_status st = sg_comm_allreduce(s->comm, sg_sync_bucket_data(s, bk), bk->n, s->type, SG_COMM_SUM);
        if (st != SG_OK)
            sg_sync_fail(s, st);
    }
    s->next_start = s->next_done = 0;
    s->active = false;
    for (size_t k = 0; k < s->n_slots; k++)
        sg_param_grad_note_dense(s->slots[k].p);
    if (s->status == SG_OK && s->steps++ == 0)
        sg_sync_reorder(s);
    s->t_end += sg_sync_now() - t0;
    return s->status;
}

const char *sg_grad_sync_error(const sg_grad_sync *s) { return s && s->err[0] ? s->err : "no error"; }

size_t sg_grad_sync_buckets(const sg_grad_sync *s) { return s ? s->n_buckets : 0; }

size_t sg_grad_sync_overlapped(const sg_grad_sync *s) { return s ? s->overlapped : 0; }

void sg_grad_sync_seconds(const sg_grad_sync *s, double *in_hook, double *in_end)
{
    *in_hook = s ? s->t_hook : 0;
    *in_end = s ? s->t_end : 0;
}
