/* sg_adam.c — Adam: its update and its saved configuration.
 *
 *   g = grad + wd * w;  t = t + 1
 *   m = b1 * m + (1 - b1) * g
 *   v = b2 * v + (1 - b2) * g^2
 *   w -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 * Saved keys: config.lr, config.weight_decay, config.beta1, config.beta2,
 * config.eps.
 */
#include "graph/exec/sg_clones.h"
#include "graph/optim/sg_optim_kind.h"

#include <math.h>

sg_adam_config sg_adam_defaults(void)
{
    return (sg_adam_config){.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.0};
}

static bool sg_adam_config_valid(const sg_adam_config *c)
{
    return sg_optim_nonneg(c->lr) && sg_optim_unit(c->beta1) && sg_optim_unit(c->beta2) && isfinite(c->eps) &&
           c->eps > 0.0 && sg_optim_nonneg(c->weight_decay);
}

sg_status sg_optim_init_adam(sg_optim *opt, const sg_adam_config *cfg)
{
    if (!opt || !cfg || !sg_adam_config_valid(cfg))
        return SG_ERR_ARG;
    sg_optim_init_base(opt, SG_OPTIM_ADAM, cfg->lr);
    opt->adam = *cfg;
    return SG_OK;
}

/* Adam with bias corrections c1 = 1 - b1^t, c2 = 1 - b2^t */
#define SG_ADAM(T, p, lr, b1, b2, eps, wd, c1, c2, b, e)                                                               \
    do {                                                                                                               \
        T *w_ = (T *)(p)->value;            /* (numel) */                                                              \
        const T *g_ = (const T *)(p)->grad; /* (numel) */                                                              \
        T *m_ = (T *)(p)->m;                /* (numel) */                                                              \
        T *v_ = (T *)(p)->v;                /* (numel) */                                                              \
        for (size_t i_ = (b); i_ < (e); i_++) {                                                                        \
            double w = (double)w_[i_];                                                                                 \
            double g = (double)g_[i_] + (wd)*w;                                                                        \
            double m = (b1) * (double)m_[i_] + (1.0 - (b1)) * g;                                                       \
            double v = (b2) * (double)v_[i_] + (1.0 - (b2)) * g * g;                                                   \
            m_[i_] = (T)m;                                                                                             \
            v_[i_] = (T)v;                                                                                             \
            w_[i_] = (T)(w - (lr) * (m / (c1)) / (sqrt(v / (c2)) + (eps)));                                            \
        }                                                                                                              \
    } while (0)

typedef struct sg_adam_rates {
    double lr, b1, b2, eps, wd, c1, c2;
} sg_adam_rates;

/* The update of [begin, end) of p (every element's is its own). */
SG_CLONES static void sg_adam_piece(void *ctx, size_t task, sg_param *p, size_t off, size_t begin, size_t end)
{
    (void)task;
    (void)off;
    const sg_adam_rates *r = ctx;
    if (p->dtype == SG_F32)
        SG_ADAM(float, p, r->lr, r->b1, r->b2, r->eps, r->wd, r->c1, r->c2, begin, end);
    else
        SG_ADAM(double, p, r->lr, r->b1, r->b2, r->eps, r->wd, r->c1, r->c2, begin, end);
}

static sg_status sg_adam_step(sg_optim *opt, sg_params *ps)
{
    sg_status st = sg_optim_ensure_state(ps, true, true);
    if (st != SG_OK)
        return st;
    opt->t++;
    const double b1 = opt->adam.beta1, b2 = opt->adam.beta2;
    sg_adam_rates r = {.lr = opt->lr,
                       .b1 = b1,
                       .b2 = b2,
                       .eps = opt->adam.eps,
                       .wd = opt->adam.weight_decay,
                       .c1 = 1.0 - pow(b1, (double)opt->t), /* > 0 since b1 < 1, t >= 1 */
                       .c2 = 1.0 - pow(b2, (double)opt->t)};
    sg_optim_walk(ps, true, sg_adam_piece, &r);
    return SG_OK;
}

static bool sg_adam_valid(const sg_optim *o) { return sg_adam_config_valid(&o->adam); }

static sg_status sg_adam_save(const sg_optim *o, const sg_state_io *io)
{
    const sg_adam_config *c = &o->adam;
    sg_status st;
    if ((st = sg_optim_put_double(io, "config.lr", c->lr)) != SG_OK ||
        (st = sg_optim_put_double(io, "config.beta1", c->beta1)) != SG_OK ||
        (st = sg_optim_put_double(io, "config.beta2", c->beta2)) != SG_OK ||
        (st = sg_optim_put_double(io, "config.eps", c->eps)) != SG_OK)
        return st;
    return sg_optim_put_double(io, "config.weight_decay", c->weight_decay);
}

static sg_status sg_adam_load(sg_optim *o, const sg_state_io *io)
{
    sg_adam_config c;
    sg_status st;
    if ((st = sg_optim_get_double(io, "config.lr", &c.lr)) != SG_OK ||
        (st = sg_optim_get_double(io, "config.weight_decay", &c.weight_decay)) != SG_OK ||
        (st = sg_optim_get_double(io, "config.beta1", &c.beta1)) != SG_OK ||
        (st = sg_optim_get_double(io, "config.beta2", &c.beta2)) != SG_OK ||
        (st = sg_optim_get_double(io, "config.eps", &c.eps)) != SG_OK)
        return st;
    if (sg_optim_init_adam(o, &c) != SG_OK)
        return sg_error_format(io->err, io->errcap, SG_ERR_FORMAT,
                               "metadata: the Adam configuration (lr %g, beta1 %g, beta2 %g, eps %g, weight decay %g) "
                               "is out of range",
                               c.lr, c.beta1, c.beta2, c.eps, c.weight_decay);
    return SG_OK;
}

const sg_optim_kind_ops sg_optim_adam_ops = {"adam", sg_adam_valid, sg_adam_step, sg_adam_save, sg_adam_load};
