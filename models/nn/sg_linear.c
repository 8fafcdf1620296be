/* sg_linear.c — the affine layer y = x W + b (see sg_nn.h).  Op calls only. */
#include "models/nn/sg_nn.h"

#include "graph/core/sg_init.h"

#include <stdio.h>
#include <string.h>

sg_status sg_linear_init(sg_linear *l, sg_params *ps, const char *name, size_t in, size_t out, bool bias)
{
    if (!l)
        return SG_ERR_ARG;
    memset(l, 0, sizeof *l);
    if (!ps || !name || in == 0 || out == 0)
        return SG_ERR_ARG;
    char wn[256], bn[256];
    if ((size_t)snprintf(wn, sizeof wn, "%s.W", name) >= sizeof wn ||
        (size_t)snprintf(bn, sizeof bn, "%s.b", name) >= sizeof bn)
        return SG_ERR_ARG;
    if (sg_params_find(ps, wn) || (bias && sg_params_find(ps, bn)))
        return SG_ERR_ARG; /* checked before anything is added */
    l->W = sg_params_add(ps, wn, SG_SHAPE(in, out));
    if (!l->W)
        return SG_ERR_NOMEM;
    if (bias && !(l->b = sg_params_add(ps, bn, SG_SHAPE(out))))
        return SG_ERR_NOMEM;
    l->in = in;
    l->out = out;
    return SG_OK;
}

sg_status sg_linear_reset_xavier(sg_linear *l, sg_rng *rng, double bias_value)
{
    if (!l || !l->W || !rng)
        return SG_ERR_ARG;
    sg_status st = sg_init_xavier_uniform(l->W, rng);
    if (st == SG_OK && l->b)
        st = sg_init_constant(l->b, bias_value);
    return st;
}

/* x op(W) + b: one addmm node for a bias vector b (O), else matmul then a
 * broadcasting add (any other bias shape), or matmul alone without b. */
static sg_tensor *sg_affine_any(sg_graph *g, sg_tensor *x, sg_tensor *W, sg_tensor *b, bool trans_w)
{
    if (b && x && W && b->shape.ndim == 1 && W->shape.ndim == 2 && x->shape.ndim >= 2 &&
        b->shape.d[0] == W->shape.d[trans_w ? 0 : 1])
        return sg_addmm(g, x, W, b, trans_w);            /* (..., O) */
    sg_tensor *y = sg_matmul_t(g, x, W, false, trans_w); /* (..., O) */
    return b ? sg_add(g, y, b) : y;
}

sg_tensor *sg_affine(sg_graph *g, sg_tensor *x, sg_tensor *W, sg_tensor *b) { return sg_affine_any(g, x, W, b, false); }

sg_tensor *sg_affine_t(sg_graph *g, sg_tensor *x, sg_tensor *W, sg_tensor *b)
{
    return sg_affine_any(g, x, W, b, true);
}

sg_tensor *sg_linear_forward(sg_graph *g, const sg_linear *l, sg_tensor *x)
{
    if (!l || !l->W) {
        if (g && !sg_graph_status(g))
            sg_graph_fail(g, SG_ERR_ARG, "linear layer: not initialized");
        return NULL;
    }
    return sg_affine(g, x, sg_param_use(g, l->W), l->b ? sg_param_use(g, l->b) : NULL);
}
