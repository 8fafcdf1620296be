/* sg_optim.c — what every optimizer shares: dispatch to the kind's update
 * (sg_sgd.c, sg_adam.c), rates and the step schedule, the saved state's
 * common keys, and gradient-norm clipping.
 *
 *   schedule:  lr(e) = base * decay^max(0, e - start)
 *   clipping:  n = sqrt(sum of grad^2 over all params); if n > c: grad *= c / n
 */
#include "graph/exec/sg_clones.h"
#include "graph/optim/sg_optim_kind.h"

#include "graph/core/sg_alloc.h"
#include "graph/exec/sg_pool.h"
#include "graph/util/sg_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void sg_optim_init_base(sg_optim *opt, sg_optim_kind kind, double lr)
{
    memset(opt, 0, sizeof *opt);
    opt->kind = kind;
    opt->base_lr = opt->lr = lr;
    opt->decay = 1.0;
}

bool sg_optim_nonneg(double x) { return isfinite(x) && x >= 0.0; }
bool sg_optim_unit(double x) { return x >= 0.0 && x < 1.0; }

/* The kind's operations, or NULL for a value outside the enum. */
static const sg_optim_kind_ops *sg_optim_ops(sg_optim_kind kind)
{
    switch (kind) {
    case SG_OPTIM_SGD: return &sg_optim_sgd_ops;
    case SG_OPTIM_ADAM: return &sg_optim_adam_ops;
    }
    return NULL;
}

double sg_optim_lr(const sg_optim *opt) { return opt ? opt->lr : 0.0; }

sg_status sg_optim_set_lr(sg_optim *opt, double lr)
{
    if (!opt || !sg_optim_nonneg(lr))
        return SG_ERR_ARG;
    opt->lr = lr;
    return SG_OK;
}

double sg_lr_schedule_step(double base_lr, double decay, int decay_start, int epoch)
{
    if (epoch <= decay_start)
        return base_lr;
    /* epoch - decay_start > 0; computed in double so no int overflow */
    return base_lr * pow(decay, (double)epoch - (double)decay_start);
}

sg_status sg_optim_set_schedule(sg_optim *opt, double decay, int decay_start)
{
    if (!opt || !(isfinite(decay) && decay > 0.0) || decay_start < 0)
        return SG_ERR_ARG;
    opt->decay = decay;
    opt->decay_start = decay_start;
    return SG_OK;
}

sg_status sg_optim_set_epoch(sg_optim *opt, int epoch)
{
    if (!opt)
        return SG_ERR_ARG;
    opt->lr = sg_lr_schedule_step(opt->base_lr, opt->decay, opt->decay_start, epoch);
    return SG_OK;
}

/* ---- updates ------------------------------------------------------------- */

sg_status sg_optim_ensure_state(sg_params *ps, bool need_m, bool need_v)
{
    for (size_t k = 0; k < ps->n; k++) {
        sg_param *p = ps->items[k];
        size_t es = sg_dtype_size(p->dtype);
        if (need_m && !p->m && !(p->m = sg_calloc(p->numel, es)))
            return SG_ERR_NOMEM;
        if (need_v && !p->v && !(p->v = sg_calloc(p->numel, es)))
            return SG_ERR_NOMEM;
    }
    return SG_OK;
}

sg_status sg_optim_step(sg_optim *opt, sg_params *ps)
{
    const sg_optim_kind_ops *ops = opt ? sg_optim_ops(opt->kind) : NULL;
    if (!ops || !ps || !sg_optim_nonneg(opt->lr) || !ops->valid(opt))
        return SG_ERR_ARG;
    if (ps->dtype != SG_F32 && ps->dtype != SG_F64)
        return SG_ERR_DTYPE;
    for (size_t k = 0; k < ps->n; k++)
        if (ps->items[k]->dtype != ps->dtype)
            return SG_ERR_DTYPE;
    return ops->step(opt, ps);
}

void sg_optim_reset(sg_optim *opt, sg_params *ps)
{
    if (opt)
        opt->t = 0;
    if (!ps)
        return;
    for (size_t k = 0; k < ps->n; k++) {
        sg_param *p = ps->items[k];
        size_t bytes = p->numel * sg_dtype_size(p->dtype);
        if (p->m)
            memset(p->m, 0, bytes);
        if (p->v)
            memset(p->v, 0, bytes);
    }
}

/* ---- the saved state ------------------------------------------------------ */

sg_status sg_optim_put_double(const sg_state_io *io, const char *key, double v)
{
    char buf[SG_FMT_DOUBLE_CAP];
    sg_fmt_double(buf, v);
    return io->put(io->ctx, key, buf);
}

static const char *sg_optim_prefix(const sg_state_io *io) { return io->prefix ? io->prefix : ""; }

/* The value of a required key, or NULL with the message written. */
static const char *sg_optim_get_required(const sg_state_io *io, const char *key)
{
    const char *v = io->get(io->ctx, key);
    if (!v)
        sg_error_format(io->err, io->errcap, SG_ERR_FORMAT, "metadata '%s%s' is missing (needed with %skind)",
                        sg_optim_prefix(io), key, sg_optim_prefix(io));
    return v;
}

static sg_status sg_optim_bad(const sg_state_io *io, const char *key, const char *value, const char *want)
{
    return sg_error_format(io->err, io->errcap, SG_ERR_FORMAT, "metadata '%s%s' is \"%.60s\", %s expected",
                           sg_optim_prefix(io), key, value, want);
}

sg_status sg_optim_get_double(const sg_state_io *io, const char *key, double *out)
{
    const char *v = sg_optim_get_required(io, key);
    if (!v)
        return SG_ERR_FORMAT;
    if (!sg_parse_double(v, out))
        return sg_optim_bad(io, key, v, "a finite decimal number");
    return SG_OK;
}

/* Whether o passes the checks a load applies (so a saved state loads). */
static bool sg_optim_loadable(const sg_optim *o)
{
    const sg_optim_kind_ops *ops = sg_optim_ops(o->kind);
    return ops && ops->valid(o) && sg_optim_nonneg(o->lr) && sg_optim_nonneg(o->base_lr) && isfinite(o->decay) &&
           o->decay > 0.0 && o->decay_start >= 0;
}

sg_status sg_optim_state_save(const sg_optim *o, const sg_state_io *io)
{
    if (!o || !io || !io->put)
        return sg_error_format(io ? io->err : NULL, io ? io->errcap : 0, SG_ERR_ARG, "optimizer: NULL state or io");
    if (!sg_optim_loadable(o))
        return sg_error_format(
            io->err, io->errcap, SG_ERR_ARG,
            "the optimizer state cannot be saved: unknown kind, or a configuration, rate or schedule "
            "that sg_optim_init_*, sg_optim_set_lr or sg_optim_set_schedule would refuse (it could "
            "not be loaded)");
    const sg_optim_kind_ops *ops = sg_optim_ops(o->kind);
    char t[24], ds[24];
    snprintf(t, sizeof t, "%llu", (unsigned long long)o->t);
    snprintf(ds, sizeof ds, "%d", o->decay_start);
    sg_status st;
    if ((st = io->put(io->ctx, "kind", ops->name)) != SG_OK || (st = io->put(io->ctx, "t", t)) != SG_OK ||
        (st = sg_optim_put_double(io, "lr", o->lr)) != SG_OK ||
        (st = sg_optim_put_double(io, "base_lr", o->base_lr)) != SG_OK ||
        (st = sg_optim_put_double(io, "decay", o->decay)) != SG_OK ||
        (st = io->put(io->ctx, "decay_start", ds)) != SG_OK)
        return st;
    return ops->save(o, io);
}

sg_status sg_optim_state_load(sg_optim *o, const sg_state_io *io)
{
    if (!o || !io || !io->get)
        return sg_error_format(io ? io->err : NULL, io ? io->errcap : 0, SG_ERR_ARG, "optimizer: NULL state or io");
    const char *kind = sg_optim_get_required(io, "kind");
    if (!kind)
        return SG_ERR_FORMAT;
    const sg_optim_kind_ops *ops = NULL;
    for (int k = SG_OPTIM_SGD; k <= SG_OPTIM_ADAM && !ops; k++)
        if (strcmp(sg_optim_ops((sg_optim_kind)k)->name, kind) == 0)
            ops = sg_optim_ops((sg_optim_kind)k);
    if (!ops)
        return sg_optim_bad(io, "kind", kind, "\"sgd\" or \"adam\"");
    const char *ts = sg_optim_get_required(io, "t");
    const char *ds = ts ? sg_optim_get_required(io, "decay_start") : NULL;
    uint64_t t, dstart;
    double lr, base_lr, decay;
    sg_status st;
    if (!ts || !ds)
        return SG_ERR_FORMAT;
    if (!sg_parse_u64(ts, &t))
        return sg_optim_bad(io, "t", ts, "a decimal integer");
    if (!sg_parse_u64(ds, &dstart) || dstart > INT32_MAX)
        return sg_optim_bad(io, "decay_start", ds, "a decimal integer up to 2^31-1");
    if ((st = sg_optim_get_double(io, "lr", &lr)) != SG_OK ||
        (st = sg_optim_get_double(io, "base_lr", &base_lr)) != SG_OK ||
        (st = sg_optim_get_double(io, "decay", &decay)) != SG_OK)
        return st;
    sg_optim tmp;
    if ((st = ops->load(&tmp, io)) != SG_OK)
        return st;
    if (sg_optim_set_schedule(&tmp, decay, (int)dstart) != SG_OK)
        return sg_error_format(io->err, io->errcap, SG_ERR_FORMAT, "metadata '%sdecay' is %g, a factor > 0 expected",
                               sg_optim_prefix(io), decay);
    if (!(base_lr >= 0) || sg_optim_set_lr(&tmp, lr) != SG_OK)
        return sg_error_format(io->err, io->errcap, SG_ERR_FORMAT,
                               "metadata: learning rates lr %g, base_lr %g must be >= 0", lr, base_lr);
    tmp.base_lr = base_lr;
    tmp.t = t;
    *o = tmp;
    return SG_OK;
}

/* ---- clipping ------------------------------------------------------------ */

/* ---- walking every gradient element over the pool ---------------------- */

typedef struct sg_optim_walk_job {
    const sg_params *ps;
    bool dense;
    size_t chunk, total;
    sg_optim_piece_fn fn;
    void *ctx;
} sg_optim_walk_job;

static void sg_optim_walk_task(void *c, size_t task, size_t n_tasks)
{
    (void)n_tasks;
    const sg_optim_walk_job *w = c;
    size_t lo = task * w->chunk, hi = lo + w->chunk < w->total ? lo + w->chunk : w->total;
    size_t off = 0;
    for (size_t k = 0; k < w->ps->n && off < hi; k++) {
        sg_param *p = w->ps->items[k];
        size_t end = off + p->numel;
        if (end > lo) {
            size_t a = lo > off ? lo - off : 0, b = (hi < end ? hi : end) - off; /* the chunk, in p's indices */
            size_t nr = w->dense ? 1 : sg_param_grad_ranges_any(p);
            for (size_t r = 0; r < nr; r++) {
                size_t rb = 0, len = p->numel;
                if (!w->dense)
                    sg_param_grad_range(p, r, &rb, &len);
                size_t s = rb > a ? rb : a, e = rb + len < b ? rb + len : b;
                if (s < e)
                    w->fn(w->ctx, task, p, off, s, e);
            }
        }
        off = end;
    }
}

size_t sg_optim_walk(const sg_params *ps, bool dense, sg_optim_piece_fn fn, void *ctx)
{
    size_t total = 0;
    sg_params_grad_flush_lists(ps); /* a listed gradient goes into grad first (sg_param.h) */
    for (size_t k = 0; k < ps->n; k++) {
        if (!dense)
            (void)sg_param_grad_ranges(ps->items[k]); /* sorts the rows, before the tasks read them */
        total += ps->items[k]->numel;
    }
    if (total == 0)
        return 0;
    size_t chunk = (size_t)1 << 16; /* elements: ~100 us of work, against ~1 us per hand-off */
    if (total / chunk >= SG_OPTIM_MAX_TASKS)
        chunk = (total / SG_OPTIM_MAX_TASKS + 8) & ~(size_t)7; /* a multiple of 8; (total / chunk) < MAX */
    size_t n_tasks = (total + chunk - 1) / chunk;
    sg_optim_walk_job job = {ps, dense, chunk, total, fn, ctx};
    sg_pool_run(sg_optim_walk_task, &job, n_tasks);
    return n_tasks;
}

/* ---- clipping ------------------------------------------------------------ */

/* Sum over all gradients of (g / scale)^2, in double: element number j (of
 * the whole array, sg_optim_walk) goes to lane j % 8 of its chunk; a chunk's
 * lanes are added in a fixed order, the chunks in order.  Only the ranges that
 * may be nonzero are read, and a skipped element would have added 0 to its
 * lane, so the sum is the dense loop's bit for bit, at any thread count. */
typedef struct sg_sumsq_ctx {
    double scale;
    _Alignas(64) double lanes[SG_OPTIM_MAX_TASKS][8]; /* one cache line per task */
} sg_sumsq_ctx;

#define SG_SUMSQ_PIECE(T)                                                                                              \
    do {                                                                                                               \
        const T *g = (const T *)p->grad; /* (numel) */                                                                 \
        size_t i = begin;                                                                                              \
        for (; i < end && (off + i) % 8 != 0; i++) {                                                                   \
            double x = (double)g[i] / c->scale;                                                                        \
            acc[(off + i) % 8] += x * x;                                                                               \
        }                                                                                                              \
        if (c->scale == 1.0)                                                                                           \
            for (; i + 8 <= end; i += 8)                                                                               \
                for (size_t l = 0; l < 8; l++)                                                                         \
                    acc[l] += (double)g[i + l] * (double)g[i + l];                                                     \
        for (; i < end; i++) {                                                                                         \
            double x = (double)g[i] / c->scale;                                                                        \
            acc[(off + i) % 8] += x * x;                                                                               \
        }                                                                                                              \
    } while (0)

SG_CLONES static void sg_sumsq_piece(void *ctx, size_t task, sg_param *p, size_t off, size_t begin, size_t end)
{
    sg_sumsq_ctx *c = ctx;
    double *acc = c->lanes[task];
    if (p->dtype == SG_F32)
        SG_SUMSQ_PIECE(float);
    else
        SG_SUMSQ_PIECE(double);
}

static double sg_grad_sumsq(const sg_params *ps, double scale)
{
    static _Thread_local sg_sumsq_ctx c; /* 16 KiB: not on the stack of a caller's thread */
    c.scale = scale;
    memset(c.lanes, 0, sizeof c.lanes);
    size_t n_tasks = sg_optim_walk(ps, false, sg_sumsq_piece, &c);
    double ss = 0.0;
    for (size_t t = 0; t < n_tasks; t++) {
        const double *a = c.lanes[t];
        ss += ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    }
    return ss;
}

double sg_params_grad_norm(const sg_params *ps)
{
    if (!ps)
        return 0.0;
    double ss = sg_grad_sumsq(ps, 1.0);
    if (isfinite(ss) || isnan(ss))
        return sqrt(ss);
    /* the sum of squares overflowed: rescale by the largest |g| (Inf stays Inf) */
    double amax = 0.0;
    for (size_t k = 0; k < ps->n; k++) {
        const sg_param *p = ps->items[k];
        for (size_t i = 0; i < p->numel; i++) {
            double g = fabs(p->dtype == SG_F32 ? (double)((const float *)p->grad)[i] : ((const double *)p->grad)[i]);
            if (g > amax)
                amax = g;
        }
    }
    if (!isfinite(amax))
        return amax;
    return amax * sqrt(sg_grad_sumsq(ps, amax));
}

/* grad *= scale over [begin, end) of p */
SG_CLONES static void sg_scale_piece(void *ctx, size_t task, sg_param *p, size_t off, size_t begin, size_t end)
{
    (void)task;
    (void)off;
    const double scale = *(const double *)ctx;
    if (p->dtype == SG_F32) {
        float *g = (float *)p->grad; /* (numel) */
        for (size_t i = begin; i < end; i++)
            g[i] = (float)((double)g[i] * scale);
    } else {
        double *g = (double *)p->grad; /* (numel) */
        for (size_t i = begin; i < end; i++)
            g[i] *= scale;
    }
}

double sg_params_clip_grad_norm(sg_params *ps, double max_norm)
{
    double norm = sg_params_grad_norm(ps);
    if (!ps || !isfinite(norm) || !(max_norm > 0.0) || !(norm > max_norm))
        return norm;
    double scale = max_norm / norm;
    sg_optim_walk(ps, false, sg_scale_piece, &scale);
    return norm;
}
