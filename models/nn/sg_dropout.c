/* sg_dropout.c — inverted dropout and variational dropout masks (see sg_nn.h).
 * A mask is a constant leaf; applying it is one hadamard, so the tape
 * differentiates it like any product. */
#include "models/nn/sg_nn.h"

sg_tensor *sg_dropout_mask(sg_graph *g, sg_rng *rng, sg_shape shape, double p)
{
    if (!g || sg_graph_status(g))
        return NULL;
    if (!rng || !(p >= 0.0 && p < 1.0)) {
        sg_graph_fail(g, SG_ERR_ARG, "dropout mask: %s", rng ? "p must be in [0, 1)" : "the rng is NULL");
        return NULL;
    }
    sg_tensor *m = sg_const_fill(g, "dropout_mask", shape, 0.0);
    if (!m)
        return NULL;
    double keep = 1.0 / (1.0 - p);
    for (size_t i = 0; i < m->numel; i++)
        if (sg_rng_uniform(rng) >= p)
            sg_tensor_set(m, i, keep);
    return m;
}

sg_tensor *sg_dropout(sg_graph *g, sg_tensor *x, double p, bool training, sg_rng *rng)
{
    if (!x || !training || p == 0.0)
        return x;
    return sg_hadamard(g, x, sg_dropout_mask(g, rng, x->shape, p));
}

sg_tensor *sg_dropout_variational(sg_graph *g, sg_tensor *x, double p, bool training, sg_rng *rng)
{
    if (!x || !training || p == 0.0)
        return x;
    if (x->shape.ndim != 3) {
        char sb[64];
        if (!sg_graph_status(g))
            sg_graph_fail(g, SG_ERR_SHAPE, "variational dropout: the input must be (T, B, F), got %s",
                          sg_shape_str(x->shape, sb, sizeof sb));
        return NULL;
    }
    /* (B, F) broadcasts over the T axis */
    return sg_hadamard(g, x, sg_dropout_mask(g, rng, SG_SHAPE(x->shape.d[1], x->shape.d[2]), p));
}
