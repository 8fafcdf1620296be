/* sg_optim.c — SGD (momentum), Adam, gradient clipping, step lr schedule.
 *
 * Formulas (see sg_optim.h), per element, in double:
 *   g = grad + wd * w
 *   SGD:       w -= lr * g                         (momentum 0)
 *              m = mu * m + g;  w -= lr * m         (momentum mu > 0)
 *   Adam:      m = b1 * m + (1 - b1) * g
 *              v = b2 * v + (1 - b2) * g^2
 *              w -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 *   clipping:  n = sqrt(sum of grad^2 over all params); if n > c: grad *= c / n
 *   schedule:  lr(e) = base * decay^max(0, e - start)
 * Each update kernel is written once as a macro over the element type T.
 */
#include "graph/optim/sg_optim.h"

#include "graph/core/sg_alloc.h"

#include <math.h>
#include <string.h>

sg_sgd_config sg_sgd_defaults(void) { return (sg_sgd_config){.lr = 1.0, .momentum = 0.0, .weight_decay = 0.0}; }

sg_adam_config sg_adam_defaults(void)
{
    return (sg_adam_config){.lr = 1e-3, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.0};
}

/* x is finite and x >= 0 (false for NaN). */
static bool sg_nonneg(double x) { return isfinite(x) && x >= 0.0; }
/* x in [0, 1) (false for NaN). */
static bool sg_unit(double x) { return x >= 0.0 && x < 1.0; }

static void sg_optim_init_common(sg_optim *opt, sg_optim_kind kind, double lr)
{
    memset(opt, 0, sizeof *opt);
    opt->kind = kind;
    opt->base_lr = lr;
    opt->lr = lr;
    opt->decay = 1.0;
    opt->decay_start = 0;
    opt->t = 0;
}

sg_status sg_optim_init_sgd(sg_optim *opt, const sg_sgd_config *cfg)
{
    if (!opt || !cfg || !sg_nonneg(cfg->lr) || !sg_unit(cfg->momentum) || !sg_nonneg(cfg->weight_decay))
        return SG_ERR_ARG;
    sg_optim_init_common(opt, SG_OPTIM_SGD, cfg->lr);
    opt->sgd = *cfg;
    return SG_OK;
}

sg_status sg_optim_init_adam(sg_optim *opt, const sg_adam_config *cfg)
{
    if (!opt || !cfg || !sg_nonneg(cfg->lr) || !sg_unit(cfg->beta1) || !sg_unit(cfg->beta2) ||
        !(isfinite(cfg->eps) && cfg->eps > 0.0) || !sg_nonneg(cfg->weight_decay))
        return SG_ERR_ARG;
    sg_optim_init_common(opt, SG_OPTIM_ADAM, cfg->lr);
    opt->adam = *cfg;
    return SG_OK;
}

double sg_optim_lr(const sg_optim *opt) { return opt ? opt->lr : 0.0; }

sg_status sg_optim_set_lr(sg_optim *opt, double lr)
{
    if (!opt || !sg_nonneg(lr))
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

/* w -= lr * (grad + wd * w); w, grad: (n) of T */
#define SG_SGD_PLAIN(T, p, lr, wd)                                                                                     \
    do {                                                                                                               \
        T *w_ = (T *)(p)->value;        /* (numel) */                                                                  \
        const T *g_ = (const T *)(p)->grad; /* (numel) */                                                              \
        for (size_t i_ = 0; i_ < (p)->numel; i_++) {                                                                   \
            double w = (double)w_[i_];                                                                                 \
            double g = (double)g_[i_] + (wd) * w;                                                                      \
            w_[i_] = (T)(w - (lr) * g);                                                                                \
        }                                                                                                              \
    } while (0)

/* m = mu * m + (grad + wd * w); w -= lr * m */
#define SG_SGD_MOMENTUM(T, p, lr, mu, wd)                                                                              \
    do {                                                                                                               \
        T *w_ = (T *)(p)->value;        /* (numel) */                                                                  \
        const T *g_ = (const T *)(p)->grad; /* (numel) */                                                              \
        T *m_ = (T *)(p)->m;            /* (numel) */                                                                  \
        for (size_t i_ = 0; i_ < (p)->numel; i_++) {                                                                   \
            double w = (double)w_[i_];                                                                                 \
            double g = (double)g_[i_] + (wd) * w;                                                                      \
            double m = (mu) * (double)m_[i_] + g;                                                                      \
            m_[i_] = (T)m;                                                                                             \
            w_[i_] = (T)(w - (lr) * m);                                                                                \
        }                                                                                                              \
    } while (0)

/* Adam with bias corrections c1 = 1 - b1^t, c2 = 1 - b2^t */
#define SG_ADAM(T, p, lr, b1, b2, eps, wd, c1, c2)                                                                     \
    do {                                                                                                               \
        T *w_ = (T *)(p)->value;        /* (numel) */                                                                  \
        const T *g_ = (const T *)(p)->grad; /* (numel) */                                                              \
        T *m_ = (T *)(p)->m;            /* (numel) */                                                                  \
        T *v_ = (T *)(p)->v;            /* (numel) */                                                                  \
        for (size_t i_ = 0; i_ < (p)->numel; i_++) {                                                                   \
            double w = (double)w_[i_];                                                                                 \
            double g = (double)g_[i_] + (wd) * w;                                                                      \
            double m = (b1) * (double)m_[i_] + (1.0 - (b1)) * g;                                                       \
            double v = (b2) * (double)v_[i_] + (1.0 - (b2)) * g * g;                                                   \
            m_[i_] = (T)m;                                                                                             \
            v_[i_] = (T)v;                                                                                             \
            w_[i_] = (T)(w - (lr) * (m / (c1)) / (sqrt(v / (c2)) + (eps)));                                            \
        }                                                                                                              \
    } while (0)

/* Makes sure every parameter has the moments the optimizer needs (zeroed).
 * Allocates only when a moment is still NULL, i.e. on the first step. */
static sg_status sg_optim_ensure_state(sg_params *ps, bool need_m, bool need_v)
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

static bool sg_optim_valid(const sg_optim *opt)
{
    if (!sg_nonneg(opt->lr))
        return false;
    if (opt->kind == SG_OPTIM_SGD)
        return sg_unit(opt->sgd.momentum) && sg_nonneg(opt->sgd.weight_decay);
    if (opt->kind == SG_OPTIM_ADAM)
        return sg_unit(opt->adam.beta1) && sg_unit(opt->adam.beta2) && isfinite(opt->adam.eps) &&
               opt->adam.eps > 0.0 && sg_nonneg(opt->adam.weight_decay);
    return false;
}

sg_status sg_optim_step(sg_optim *opt, sg_params *ps)
{
    if (!opt || !ps || !sg_optim_valid(opt))
        return SG_ERR_ARG;
    if (ps->dtype != SG_F32 && ps->dtype != SG_F64)
        return SG_ERR_DTYPE;
    for (size_t k = 0; k < ps->n; k++)
        if (ps->items[k]->dtype != ps->dtype)
            return SG_ERR_DTYPE;

    const double lr = opt->lr;
    if (opt->kind == SG_OPTIM_SGD) {
        const double mu = opt->sgd.momentum, wd = opt->sgd.weight_decay;
        if (mu > 0.0) {
            sg_status st = sg_optim_ensure_state(ps, true, false);
            if (st != SG_OK)
                return st;
        }
        for (size_t k = 0; k < ps->n; k++) {
            sg_param *p = ps->items[k];
            if (mu > 0.0) {
                if (p->dtype == SG_F32)
                    SG_SGD_MOMENTUM(float, p, lr, mu, wd);
                else
                    SG_SGD_MOMENTUM(double, p, lr, mu, wd);
            } else {
                if (p->dtype == SG_F32)
                    SG_SGD_PLAIN(float, p, lr, wd);
                else
                    SG_SGD_PLAIN(double, p, lr, wd);
            }
        }
        opt->t++;
        return SG_OK;
    }

    /* Adam */
    sg_status st = sg_optim_ensure_state(ps, true, true);
    if (st != SG_OK)
        return st;
    opt->t++;
    const double b1 = opt->adam.beta1, b2 = opt->adam.beta2, eps = opt->adam.eps, wd = opt->adam.weight_decay;
    const double c1 = 1.0 - pow(b1, (double)opt->t); /* > 0 since b1 < 1, t >= 1 */
    const double c2 = 1.0 - pow(b2, (double)opt->t);
    for (size_t k = 0; k < ps->n; k++) {
        sg_param *p = ps->items[k];
        if (p->dtype == SG_F32)
            SG_ADAM(float, p, lr, b1, b2, eps, wd, c1, c2);
        else
            SG_ADAM(double, p, lr, b1, b2, eps, wd, c1, c2);
    }
    return SG_OK;
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

/* ---- clipping ------------------------------------------------------------ */

/* Sum over all gradients of (g / scale)^2, in double. */
static double sg_grad_sumsq(const sg_params *ps, double scale)
{
    double ss = 0.0;
    for (size_t k = 0; k < ps->n; k++) {
        const sg_param *p = ps->items[k];
        for (size_t i = 0; i < p->numel; i++) {
            double g = (p->dtype == SG_F32 ? (double)((const float *)p->grad)[i] : ((const double *)p->grad)[i]) / scale;
            ss += g * g;
        }
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

double sg_params_clip_grad_norm(sg_params *ps, double max_norm)
{
    double norm = sg_params_grad_norm(ps);
    if (!ps || !isfinite(norm) || !(max_norm > 0.0) || !(norm > max_norm))
        return norm;
    const double scale = max_norm / norm;
    for (size_t k = 0; k < ps->n; k++) {
        sg_param *p = ps->items[k];
        if (p->dtype == SG_F32) {
            float *g = (float *)p->grad; /* (numel) */
            for (size_t i = 0; i < p->numel; i++)
                g[i] = (float)((double)g[i] * scale);
        } else {
            double *g = (double *)p->grad; /* (numel) */
            for (size_t i = 0; i < p->numel; i++)
                g[i] *= scale;
        }
    }
    return norm;
}
