/* sg_sgd.c — SGD with momentum: its update and its saved configuration.
 *
 *   g = grad + wd * w
 *   momentum 0:   w -= lr * g
 *   momentum mu:  m = mu * m + g;  w -= lr * m        (m starts at 0)
 * Saved keys: config.lr, config.weight_decay, config.momentum.
 */
#include "graph/exec/sg_clones.h"
#include "graph/exec/sg_prefetch.h"
#include "graph/optim/sg_optim_kind.h"

sg_sgd_config sg_sgd_defaults(void) { return (sg_sgd_config){.lr = 1.0, .momentum = 0.0, .weight_decay = 0.0}; }

static bool sg_sgd_config_valid(const sg_sgd_config *c)
{
    return sg_optim_nonneg(c->lr) && sg_optim_unit(c->momentum) && sg_optim_nonneg(c->weight_decay);
}

sg_status sg_optim_init_sgd(sg_optim *opt, const sg_sgd_config *cfg)
{
    if (!opt || !cfg || !sg_sgd_config_valid(cfg))
        return SG_ERR_ARG;
    sg_optim_init_base(opt, SG_OPTIM_SGD, cfg->lr);
    opt->sgd = *cfg;
    return SG_OK;
}

/* w -= lr * (grad + wd * w) over elements [b, e); w, grad: (numel) of T */
#define SG_SGD_PLAIN(T, p, lr, wd, b, e)                                                                               \
    do {                                                                                                               \
        T *w_ = (T *)(p)->value;            /* (numel) */                                                              \
        const T *g_ = (const T *)(p)->grad; /* (numel) */                                                              \
        for (size_t i_ = (b); i_ < (e); i_++) {                                                                        \
            double w = (double)w_[i_];                                                                                 \
            double g = (double)g_[i_] + (wd)*w;                                                                        \
            w_[i_] = (T)(w - (lr)*g);                                                                                  \
        }                                                                                                              \
    } while (0)

/* m = mu * m + (grad + wd * w); w -= lr * m over elements [b, e) */
#define SG_SGD_MOMENTUM(T, p, lr, mu, wd, b, e)                                                                        \
    do {                                                                                                               \
        T *w_ = (T *)(p)->value;            /* (numel) */                                                              \
        const T *g_ = (const T *)(p)->grad; /* (numel) */                                                              \
        T *m_ = (T *)(p)->m;                /* (numel) */                                                              \
        for (size_t i_ = (b); i_ < (e); i_++) {                                                                        \
            double w = (double)w_[i_];                                                                                 \
            double g = (double)g_[i_] + (wd)*w;                                                                        \
            double m = (mu) * (double)m_[i_] + g;                                                                      \
            m_[i_] = (T)m;                                                                                             \
            w_[i_] = (T)(w - (lr)*m);                                                                                  \
        }                                                                                                              \
    } while (0)

typedef struct sg_sgd_rates {
    double lr, mu, wd;
} sg_sgd_rates;

/* The update of [begin, end) of p: each element's is its own, so the pool's
 * cut (sg_optim_walk) cannot change it. */
SG_CLONES static void sg_sgd_piece(void *ctx, size_t task, sg_param *p, size_t off, size_t begin, size_t end)
{
    (void)task;
    (void)off;
    const sg_sgd_rates *r = ctx;
    if (r->mu > 0.0) {
        if (p->dtype == SG_F32)
            SG_SGD_MOMENTUM(float, p, r->lr, r->mu, r->wd, begin, end);
        else
            SG_SGD_MOMENTUM(double, p, r->lr, r->mu, r->wd, begin, end);
    } else {
        if (p->dtype == SG_F32)
            SG_SGD_PLAIN(float, p, r->lr, r->wd, begin, end);
        else
            SG_SGD_PLAIN(double, p, r->lr, r->wd, begin, end);
    }
}

/* w -= lr * g over len elements (w, g already at the row's start): the one
 * plain-SGD row update of a list entry and of a replica's gradient table. */
SG_CLONES static void sg_sgd_apply_row(sg_dtype dt, void *value, const void *grad, double lr, size_t len)
{
    if (dt == SG_F32) {
        float *w = value;
        const float *g = grad;
        for (size_t i = 0; i < len; i++)
            w[i] = (float)((double)w[i] - lr * (double)g[i]);
    } else {
        double *w = value;
        const double *g = grad;
        for (size_t i = 0; i < len; i++)
            w[i] = w[i] - lr * g[i];
    }
}

/* w -= lr * (c * g) over len elements: a weighted row of a list entry (in f32,
 * w -= (float)(lr * c) * g: rounded differently from the table's (float)(c * g)
 * then the f64 update, by an ulp or so; f64 is exact to the dense step's form). */
SG_CLONES static void sg_sgd_apply_row_scaled(sg_dtype dt, void *value, const void *grad, double lr, double c,
                                              size_t len)
{
    if (dt == SG_F32) {
        float *w = value;
        const float *g = grad;
        const float s = (float)(lr * c); /* in f32 throughout: twice the lanes of the f64 form */
        for (size_t i = 0; i < len; i++)
            w[i] -= s * g[i];
    } else {
        double *w = value;
        const double *g = grad;
        for (size_t i = 0; i < len; i++)
            w[i] = w[i] - lr * (c * g[i]);
    }
}

/* Row r is in range and in part `part` of `nparts` (r % nparts; no
 * division for one part). */
static inline bool sg_sgd_row_in_part(int32_t r, size_t rows, size_t part, size_t nparts)
{
    return r >= 0 && (size_t)r < rows && (nparts == 1 || (size_t)r % nparts == part);
}

/* w[rows[i]] -= lr * g_i for every row i of a list entry whose row is part
 * `part` of `nparts` (row % nparts); e's rows index value's first axis; g_i
 * is weight[i] times grad row i / group (sg_param.h), weight-0 rows skipped. */
static void sg_sgd_apply_entry(sg_dtype dt, void *value, size_t rows, size_t row, const sg_grad_list_entry *e,
                               double lr, size_t part, size_t nparts)
{
    const size_t es = sg_dtype_size(dt), group = e->group ? e->group : 1;
    for (size_t i = 0; i < e->n; i++) {
        /* the row two entries ahead, if it is this call's: a row of another
         * part may be being written by another thread right now */
        if (i + 2 < e->n && sg_sgd_row_in_part(e->rows[i + 2], rows, part, nparts))
            sg_prefetch((char *)value + (size_t)e->rows[i + 2] * row * es, row * es, true);
        if (!sg_sgd_row_in_part(e->rows[i], rows, part, nparts))
            continue;
        void *w = (char *)value + (size_t)e->rows[i] * row * es;
        const void *g = (const char *)e->grad + i / group * row * es;
        if (!e->weight) {
            sg_sgd_apply_row(dt, w, g, lr, row);
            continue;
        }
        double c = dt == SG_F32 ? (double)((const float *)e->weight)[i] : ((const double *)e->weight)[i];
        if (c != 0.0)
            sg_sgd_apply_row_scaled(dt, w, g, lr, c, row);
    }
}

/* Plain SGD of p's listed gradient rows, part `part` of `nparts` of the rows,
 * into value (p's, or its master's): every entry in list order. */
static void sg_sgd_apply_list(const sg_param *p, void *value, double lr, size_t part, size_t nparts)
{
    const size_t rows = p->shape.ndim ? p->shape.d[0] : 1, row = p->numel / rows;
    for (const sg_grad_list_entry *e = p->grad_list; e; e = e->next)
        sg_sgd_apply_entry(p->dtype, value, rows, row, e, lr, part, nparts);
}

static sg_status sg_sgd_step(sg_optim *opt, sg_params *ps)
{
    sg_sgd_rates r = {opt->lr, opt->sgd.momentum, opt->sgd.weight_decay};
    if (r.mu == 0.0 && r.wd == 0.0) /* a listed gradient goes straight to the value */
        for (size_t k = 0; k < ps->n; k++) {
            sg_param *p = ps->items[k];
            if (p->grad_list) {
                sg_sgd_apply_list(p, p->value, r.lr, 0, 1);
                p->grad_list = p->grad_list_tail = NULL;
            }
        }
    if (r.mu > 0.0) {
        sg_status st = sg_optim_ensure_state(ps, true, false);
        if (st != SG_OK)
            return st;
    }
    /* plain SGD without weight decay: a zero gradient changes nothing, so a
     * row-sparse gradient updates only its rows (sg_param.h); momentum and
     * weight decay move every element */
    sg_optim_walk(ps, r.mu > 0.0 || r.wd != 0.0, sg_sgd_piece, &r);
    opt->t++;
    return SG_OK;
}

static bool sg_sgd_valid(const sg_optim *o) { return sg_sgd_config_valid(&o->sgd); }

static sg_status sg_sgd_save(const sg_optim *o, const sg_state_io *io)
{
    sg_status st;
    if ((st = sg_optim_put_double(io, "config.lr", o->sgd.lr)) != SG_OK ||
        (st = sg_optim_put_double(io, "config.momentum", o->sgd.momentum)) != SG_OK)
        return st;
    return sg_optim_put_double(io, "config.weight_decay", o->sgd.weight_decay);
}

static sg_status sg_sgd_load(sg_optim *o, const sg_state_io *io)
{
    sg_sgd_config c;
    sg_status st;
    if ((st = sg_optim_get_double(io, "config.lr", &c.lr)) != SG_OK ||
        (st = sg_optim_get_double(io, "config.weight_decay", &c.weight_decay)) != SG_OK ||
        (st = sg_optim_get_double(io, "config.momentum", &c.momentum)) != SG_OK)
        return st;
    if (sg_optim_init_sgd(o, &c) != SG_OK)
        return sg_error_format(io->err, io->errcap, SG_ERR_FORMAT,
                               "metadata: the SGD configuration (lr %g, momentum %g, weight decay %g) is out of range",
                               c.lr, c.momentum, c.weight_decay);
    return SG_OK;
}

const sg_optim_kind_ops sg_optim_sgd_ops = {"sgd", sg_sgd_valid, sg_sgd_step, sg_sgd_save, sg_sgd_load};

/* ---- data-parallel plain SGD over replicas ------------------------------------------------ */

static bool sg_sgd_is_replica_of(const sg_params *replica, const sg_params *master)
{
    return replica && replica->master == master && replica->n == master->n;
}

/* One replica's update of the rows of part `part` (checked by the callers). */
static void sg_sgd_apply_replica_part(sg_params *master, const sg_params *replica, double lr, size_t part,
                                      size_t nparts)
{
    if (lr == 0.0)
        return;
    for (size_t k = 0; k < master->n; k++) {
        sg_param *mp = master->items[k];
        const sg_param *p = replica->items[k];
        const size_t rows = mp->shape.ndim ? mp->shape.d[0] : 1, row = mp->numel / rows, es = sg_dtype_size(mp->dtype);
        sg_sgd_apply_list(p, mp->value, lr, part, nparts); /* the list is left for zero_grad */
        if (p->grad_extent == SG_GRAD_ROWS) {
            for (size_t i = 0; i < p->n_grad_rows; i++)
                if (p->grad_rows[i] % nparts == part)
                    sg_sgd_apply_row(mp->dtype, (char *)mp->value + p->grad_rows[i] * row * es,
                                     (const char *)p->grad + p->grad_rows[i] * row * es, lr, row);
        } else {
            for (size_t i = part; i < rows; i += nparts)
                sg_sgd_apply_row(mp->dtype, (char *)mp->value + i * row * es, (const char *)p->grad + i * row * es, lr,
                                 row);
        }
    }
}

sg_status sg_sgd_apply_replica(sg_params *master, const sg_params *replica, double lr, size_t part, size_t nparts)
{
    if (!master || !sg_sgd_is_replica_of(replica, master) || !nparts || part >= nparts)
        return SG_ERR_ARG;
    sg_sgd_apply_replica_part(master, replica, lr, part, nparts);
    return SG_OK;
}

sg_status sg_sgd_apply_replicas(sg_params *master, sg_params *const *replicas, const double *lr, size_t n, size_t part,
                                size_t nparts)
{
    if (!master || (n && (!replicas || !lr)) || !nparts || part >= nparts)
        return SG_ERR_ARG;
    for (size_t r = 0; r < n; r++)
        if (!sg_sgd_is_replica_of(replicas[r], master))
            return SG_ERR_ARG;
    /* replica order for every element: the result does not depend on nparts */
    for (size_t r = 0; r < n; r++)
        sg_sgd_apply_replica_part(master, replicas[r], lr[r], part, nparts);
    return SG_OK;
}
