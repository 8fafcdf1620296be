/* sg_grad_sync.c — bucketed gradient reduction over a communicator.
 *
 * Dimensions: P parameters, N = their total elements, E = elements per
 * bucket, K = ceil(N / E) buckets. */
#include "graph/comm/sg_grad_sync.h"

#include "graph/core/sg_alloc.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One MPI call takes at most INT_MAX values; a bucket stays below 2^30. */
#define SG_SYNC_MAX_BUCKET ((size_t)1 << 30)

typedef struct sg_sync_slot {
    sg_param *p; /* the parameter */
    size_t off;  /* its first element in flat */
    bool ready;  /* copied in this step */
} sg_sync_slot;

struct sg_grad_sync {
    sg_comm *comm;
    sg_params *ps;
    sg_comm_type type;
    size_t esize;
    sg_sync_slot *slots;   /* (P) in flat order: reverse parameter order */
    sg_sync_slot **by_ptr; /* (P) the slots sorted by parameter address, for the hook */
    size_t n_slots;
    void *flat;        /* (N) the gradients in bucket layout */
    size_t numel;      /* N */
    size_t per_bucket; /* E */
    size_t n_buckets;  /* K */
    size_t *pending;   /* (K) parameters not yet in, per bucket, this step */
    size_t *pending0;  /* (K) the same at the start of a step */
    size_t next_start; /* the first bucket not started */
    size_t next_done;  /* the first bucket not known finished */
    size_t overlapped; /* buckets started inside backward, this step */
    bool overlap, active, in_backward;
    double weight;
    sg_graph *g;
    sg_status status; /* the first error of the step */
    char err[512];
};

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
    for (size_t b = 0; b < s->n_buckets; b++)
        if (sg_comm_wait(s->comm, b) != SG_OK) /* the buffer is never left to the communicator */
            continue;
    sg_free(s->slots);
    sg_free(s->by_ptr);
    sg_free(s->flat);
    sg_free(s->pending);
    sg_free(s->pending0);
    sg_free(s);
}

/* The buckets [first, last] that elements [off, off + n) of flat fall in. */
static void sg_sync_bucket_span(const sg_grad_sync *s, size_t off, size_t n, size_t *first, size_t *last)
{
    *first = off / s->per_bucket;
    *last = (off + n - 1) / s->per_bucket;
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
    s->slots = sg_calloc(ps->n, sizeof *s->slots);
    s->by_ptr = sg_calloc(ps->n, sizeof *s->by_ptr);
    if (!s->slots || !s->by_ptr)
        goto nomem;
    for (size_t k = 0; k < ps->n; k++) {
        sg_sync_slot *sl = &s->slots[k];
        sl->p = ps->items[ps->n - 1 - k];
        sl->off = s->numel;
        if (sl->p->numel > SIZE_MAX / s->esize - s->numel)
            goto nomem;
        s->numel += sl->p->numel;
        s->by_ptr[k] = sl;
    }
    qsort(s->by_ptr, s->n_slots, sizeof *s->by_ptr, sg_slot_ptr_cmp);
    size_t e = cfg->bucket_bytes / s->esize;
    if (!cfg->overlap || e > s->numel)
        e = s->numel; /* one bucket, cut only below */
    if (e < 1)
        e = 1;
    if (e > SG_SYNC_MAX_BUCKET)
        e = SG_SYNC_MAX_BUCKET;
    s->per_bucket = e;
    s->n_buckets = (s->numel + e - 1) / e;
    s->flat = sg_malloc(s->numel * s->esize);
    s->pending = sg_calloc(s->n_buckets, sizeof *s->pending);
    s->pending0 = sg_calloc(s->n_buckets, sizeof *s->pending0);
    if (!s->flat || !s->pending || !s->pending0)
        goto nomem;
    for (size_t k = 0; k < s->n_slots; k++) {
        size_t b0, b1;
        sg_sync_bucket_span(s, s->slots[k].off, s->slots[k].p->numel, &b0, &b1);
        for (size_t b = b0; b <= b1; b++)
            s->pending0[b]++;
    }
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

/* Starts every bucket from next_start on whose parameters are all in. */
static void sg_sync_start_ready(sg_grad_sync *s)
{
    while (s->status == SG_OK && s->next_start < s->n_buckets && s->pending[s->next_start] == 0) {
        size_t b = s->next_start, off = b * s->per_bucket;
        size_t n = s->numel - off < s->per_bucket ? s->numel - off : s->per_bucket;
        sg_status st = sg_comm_iallreduce(s->comm, b, (char *)s->flat + off * s->esize, n, s->type, SG_COMM_SUM);
        if (st != SG_OK) {
            sg_sync_fail(s, st);
            return;
        }
        if (s->in_backward)
            s->overlapped++;
        s->next_start++;
    }
}

/* Copies slot sl's gradient (times the weight) into flat and counts it in. */
static void sg_sync_take(sg_grad_sync *s, sg_sync_slot *sl)
{
    sg_param *p = sl->p;
    if (p->grad_listed)
        sg_param_grad_flush_list(p);
    if (s->type == SG_COMM_F32) {
        float *dst = (float *)s->flat + sl->off, w = (float)s->weight;
        const float *g = p->grad;
        for (size_t i = 0; i < p->numel; i++)
            dst[i] = w * g[i];
    } else {
        double *dst = (double *)s->flat + sl->off, w = s->weight;
        const double *g = p->grad;
        for (size_t i = 0; i < p->numel; i++)
            dst[i] = w * g[i];
    }
    sl->ready = true;
    size_t b0, b1;
    sg_sync_bucket_span(s, sl->off, p->numel, &b0, &b1);
    for (size_t b = b0; b <= b1; b++)
        s->pending[b]--;
}

/* The reverse pass's hook: p's gradient is final (or, for NULL, a node
 * went by: let the communicator progress on the oldest started bucket). */
static void sg_sync_hook(void *ctx, sg_param *p)
{
    sg_grad_sync *s = ctx;
    if (s->status != SG_OK)
        return;
    if (!p) {
        if (s->next_done < s->next_start) {
            bool done = false;
            sg_status st = sg_comm_test(s->comm, s->next_done, &done);
            if (st != SG_OK)
                sg_sync_fail(s, st);
            else if (done)
                s->next_done++;
        }
        return;
    }
    sg_sync_slot key = {.p = p}, *kp = &key;
    sg_sync_slot **hit = bsearch(&kp, s->by_ptr, s->n_slots, sizeof *s->by_ptr, sg_slot_ptr_cmp);
    if (!hit || (*hit)->ready)
        return; /* a parameter of another set, or reported twice */
    sg_sync_take(s, *hit);
    if (s->overlap)
        sg_sync_start_ready(s);
}

sg_status sg_grad_sync_begin(sg_grad_sync *s, sg_graph *g, double weight)
{
    if (!s || !g || s->active)
        return SG_ERR_STATE;
    memcpy(s->pending, s->pending0, s->n_buckets * sizeof *s->pending);
    for (size_t k = 0; k < s->n_slots; k++)
        s->slots[k].ready = false;
    s->next_start = s->next_done = s->overlapped = 0;
    s->weight = weight;
    s->status = SG_OK;
    s->err[0] = '\0';
    s->g = g;
    s->active = s->in_backward = true;
    sg_graph_set_grad_ready(g, sg_sync_hook, s);
    return SG_OK;
}

sg_status sg_grad_sync_end(sg_grad_sync *s)
{
    if (!s || !s->active)
        return SG_ERR_STATE;
    sg_graph_set_grad_ready(s->g, NULL, NULL);
    s->g = NULL;
    s->in_backward = false;
    for (size_t k = 0; k < s->n_slots && s->status == SG_OK; k++)
        if (!s->slots[k].ready)
            sg_sync_take(s, &s->slots[k]);
    if (s->status == SG_OK)
        sg_sync_start_ready(s);
    for (size_t b = 0; b < s->next_start; b++) { /* every started bucket is waited for, even after an error */
        sg_status st = sg_comm_wait(s->comm, b);
        if (st != SG_OK)
            sg_sync_fail(s, st);
    }
    s->active = false;
    if (s->status != SG_OK)
        return s->status;
    for (size_t k = 0; k < s->n_slots; k++) {
        sg_param *p = s->slots[k].p;
        sg_param_grad_note_dense(p);
        memcpy(p->grad, (char *)s->flat + s->slots[k].off * s->esize, p->numel * s->esize);
    }
    return SG_OK;
}

const char *sg_grad_sync_error(const sg_grad_sync *s) { return s && s->err[0] ? s->err : "no error"; }

size_t sg_grad_sync_buckets(const sg_grad_sync *s) { return s ? s->n_buckets : 0; }

size_t sg_grad_sync_overlapped(const sg_grad_sync *s) { return s ? s->overlapped : 0; }
