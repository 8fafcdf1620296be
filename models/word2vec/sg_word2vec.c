/* sg_word2vec.c — the negative-sampling loss of skip-gram and CBOW (see
 * sg_word2vec.h for the equations and the legend).  Op calls only. */
#include "models/word2vec/sg_word2vec.h"

#include "graph/core/sg_init.h"
#include "ops/sg_ops.h"

#include <string.h>

sg_status sg_word2vec_init(sg_word2vec *m, sg_params *ps, sg_w2v_arch arch, size_t V, size_t D, size_t K, size_t window)
{
    memset(m, 0, sizeof *m);
    if (!ps || !V || !D || !K || !window || (arch != SG_W2V_SKIPGRAM && arch != SG_W2V_CBOW))
        return SG_ERR_ARG;
    *m = (sg_word2vec){.arch = arch, .V = V, .D = D, .K = K, .window = window};
    m->in = sg_params_add(ps, "w2v.in", SG_SHAPE(V, D));
    m->out = m->in ? sg_params_add(ps, "w2v.out", SG_SHAPE(V, D)) : NULL;
    if (!m->out)
        return SG_ERR_NOMEM;
    /* both tables are read only through row gathers: backward lists the
     * gathered rows' gradients and plain SGD applies them to the rows */
    sg_param_set_grad_listed(m->in, true);
    sg_param_set_grad_listed(m->out, true);
    return SG_OK;
}

void sg_word2vec_reset_parameters(sg_word2vec *m, sg_rng *rng)
{
    const double r = 0.5 / (double)m->D;
    for (size_t i = 0; i < m->in->numel; i++) {
        sg_param_set(m->in, i, sg_rng_range(rng, -r, r));
        sg_param_set(m->out, i, 0.0);
    }
}

sg_tensor *sg_word2vec_loss(sg_graph *g, const sg_word2vec *m, const sg_w2v_batch *b)
{
    const size_t N = b->n, K = m->K, C = 2 * m->window;
    double *sign = sg_graph_alloc(g, (K + 1) * sizeof *sign); /* +1 for the positive, -1 for negatives */
    if (!sign || !N)
        return NULL;
    for (size_t k = 0; k <= K; k++)
        sign[k] = k ? -1.0 : 1.0;
    sg_tensor *W_in = sg_param_use(g, m->in), *W_out = sg_param_use(g, m->out);
    sg_tensor *v; /* (N, D) */
    if (m->arch == SG_W2V_SKIPGRAM) {
        v = sg_gather_rows(g, W_in, sg_ids(g, "center", SG_SHAPE(N), b->center));
    } else {
        sg_tensor *ctx = sg_ids(g, "context", SG_SHAPE(N, C), b->context);                    /* padded with 0 */
        sg_tensor *mask = sg_input_f64(g, "ctx_mask", SG_SHAPE(N, C), b->ctx_mask, false);    /* copied */
        sg_tensor *scale = sg_input_f64(g, "ctx_scale", SG_SHAPE(N, 1), b->ctx_scale, false); /* 1 / real slots */
        if (m->cbow_word2vec_update) {                        /* the mean's value, the sum's gradient */
            sg_tensor *S = sg_gather_sum(g, W_in, ctx, mask); /* (N, D) the sum of the real slots */
            v = sg_add(g, S, sg_detach(g, sg_sub(g, sg_hadamard(g, S, scale), S)));
        } else {
            v = sg_gather_sum(g, W_in, ctx, sg_hadamard(g, mask, scale)); /* (N, D) their mean */
        }
    }
    sg_tensor *tgt = sg_ids(g, "target", SG_SHAPE(N, K + 1), b->target);
    sg_tensor *s = sg_gather_dot(g, W_out, tgt, v); /* (N, K+1) the scores */
    s = sg_hadamard(g, s, sg_input_f64(g, "sign", SG_SHAPE(1, K + 1), sign, false));
    return sg_scale(g, sg_sum_all(g, sg_log_sigmoid(g, s)), -1.0);
}
