/* sg_init.c — parameter initializers (formulas in sg_init.h).
 * Values are made in double and stored with sg_param_set (rounded for f32). */
#include "graph/core/sg_init.h"

#include <math.h>

void sg_init_fans(sg_shape s, double *fan_in, double *fan_out)
{
    double in = 1.0, out = 1.0;
    if (s.ndim == 1) {
        in = out = (double)s.d[0];
    } else if (s.ndim >= 2) {
        double rest = 1.0;
        for (int i = 2; i < s.ndim && i < SG_MAX_DIMS; i++)
            rest *= (double)s.d[i];
        in = (double)s.d[0] * rest;
        out = (double)s.d[1] * rest;
    }
    if (fan_in)
        *fan_in = in;
    if (fan_out)
        *fan_out = out;
}

double sg_init_xavier_bound(const sg_param *p)
{
    if (!p)
        return 0.0;
    double fi, fo;
    sg_init_fans(p->shape, &fi, &fo);
    return sqrt(6.0 / (fi + fo));
}

sg_status sg_init_uniform(sg_param *p, sg_rng *r, double lo, double hi)
{
    if (!p || !r || !isfinite(lo) || !isfinite(hi) || lo > hi)
        return SG_ERR_ARG;
    for (size_t i = 0; i < p->numel; i++)
        sg_param_set(p, i, sg_rng_range(r, lo, hi));
    return SG_OK;
}

sg_status sg_init_xavier_uniform(sg_param *p, sg_rng *r)
{
    if (!p || !r)
        return SG_ERR_ARG;
    double a = sg_init_xavier_bound(p);
    return sg_init_uniform(p, r, -a, a);
}

sg_status sg_init_normal(sg_param *p, sg_rng *r, double mean, double std)
{
    if (!p || !r || !isfinite(mean) || !isfinite(std) || std < 0.0)
        return SG_ERR_ARG;
    for (size_t i = 0; i < p->numel; i++)
        sg_param_set(p, i, mean + std * sg_rng_normal(r));
    return SG_OK;
}

sg_status sg_init_constant(sg_param *p, double c)
{
    if (!p)
        return SG_ERR_ARG;
    for (size_t i = 0; i < p->numel; i++)
        sg_param_set(p, i, c);
    return SG_OK;
}

sg_status sg_init_zeros(sg_param *p) { return sg_init_constant(p, 0.0); }

sg_status sg_params_init_uniform(sg_params *ps, sg_rng *r, double lo, double hi)
{
    if (!ps || !r || !isfinite(lo) || !isfinite(hi) || lo > hi)
        return SG_ERR_ARG;
    for (size_t k = 0; k < ps->n; k++) {
        sg_status st = sg_init_uniform(ps->items[k], r, lo, hi);
        if (st != SG_OK)
            return st;
    }
    return SG_OK;
}
