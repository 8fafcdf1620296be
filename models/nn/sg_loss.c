/* sg_loss.c — losses as op calls (see sg_nn.h).  Dimension legend: N rows,
 * C classes, B batch, Z latent size. */
#include "models/nn/sg_nn.h"

/* Reduces elementwise terms: MEAN over all elements, SUM, or NONE. */
static sg_tensor *sg_loss_reduce(sg_graph *g, sg_tensor *terms, sg_reduction red)
{
    switch (red) {
    case SG_REDUCE_MEAN: return sg_mean_all(g, terms);
    case SG_REDUCE_SUM: return sg_sum_all(g, terms);
    case SG_REDUCE_NONE: return terms;
    }
    if (!sg_graph_status(g))
        sg_graph_fail(g, SG_ERR_ARG, "loss: unknown reduction %d", (int)red);
    return NULL;
}

sg_tensor *sg_loss_cross_entropy(sg_graph *g, sg_tensor *logits, sg_tensor *targets, sg_tensor *weights,
                                 sg_reduction red)
{
    if (!weights)
        return sg_cross_entropy(g, logits, targets, red);
    sg_tensor *rows = sg_hadamard(g, sg_cross_entropy(g, logits, targets, SG_REDUCE_NONE), weights); /* (N) */
    if (red != SG_REDUCE_MEAN)
        return sg_loss_reduce(g, rows, red);
    /* the weight sum is data, not a function of the parameters */
    double wsum = 0.0;
    for (size_t i = 0; i < weights->numel; i++)
        wsum += sg_tensor_get(weights, i);
    return sg_scale(g, sg_sum_all(g, rows), 1.0 / (wsum > 0.0 ? wsum : 1.0));
}

sg_tensor *sg_loss_bce_logits(sg_graph *g, sg_tensor *logits, sg_tensor *targets, sg_reduction red)
{
    return sg_loss_reduce(g, sg_sub(g, sg_softplus(g, logits), sg_hadamard(g, targets, logits)), red);
}

sg_tensor *sg_loss_mse(sg_graph *g, sg_tensor *pred, sg_tensor *target, sg_reduction red)
{
    sg_tensor *d = sg_sub(g, pred, target);
    return sg_loss_reduce(g, sg_hadamard(g, d, d), red);
}

sg_tensor *sg_loss_kl_gaussian(sg_graph *g, sg_tensor *mu_q, sg_tensor *logvar_q, sg_tensor *mu_p, sg_tensor *logvar_p,
                               sg_reduction red)
{
    /* (a NULL mu_q or logvar_q is recorded by the first op that gets it) */
    /* lv_p - lv_q + (e^lv_q + (mu_q - mu_p)^2) e^-lv_p - 1, per element (B, Z) */
    sg_tensor *d = mu_p ? sg_sub(g, mu_q, mu_p) : mu_q;
    sg_tensor *num = sg_add(g, sg_exp(g, logvar_q), sg_hadamard(g, d, d));
    sg_tensor *t =
        logvar_p ? sg_add(g, sg_sub(g, logvar_p, logvar_q), sg_hadamard(g, num, sg_exp(g, sg_scale(g, logvar_p, -1.0))))
                 : sg_add(g, sg_scale(g, logvar_q, -1.0), num);
    sg_tensor *one = sg_const_fill(g, "one", SG_SCALAR, 1.0);
    sg_tensor *rows = sg_scale(g, sg_sum(g, sg_sub(g, t, one), -1), 0.5); /* (B) */
    return sg_loss_reduce(g, rows, red);
}
