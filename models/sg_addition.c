/* sg_addition.c — binary addition with an Elman RNN (see sg_addition.h).
 * Op calls only: the backward pass comes from the tape. */
#include "sg_addition.h"

#include "graph/sg_init.h"
#include "ops/sg_ops.h"

#include <string.h>

sg_status sg_addition_init(sg_addition *m, sg_params *ps, size_t bits, size_t hidden, sg_activation f)
{
    memset(m, 0, sizeof *m);
    if (bits < 2 || bits > 31)
        return SG_ERR_ARG;
    m->bits = bits;
    sg_status st = sg_elman_init(&m->cell, ps, "rnn", 2, hidden, f);
    if (st)
        return st;
    m->W_out = sg_params_add(ps, "out.W", SG_SHAPE(hidden, 1));
    m->c = sg_params_add(ps, "out.c", SG_SHAPE(1));
    return m->W_out && m->c ? SG_OK : SG_ERR_ARG;
}

void sg_addition_reset_parameters(sg_addition *m, sg_rng *rng)
{
    sg_elman_reset_parameters(&m->cell, rng);
    sg_init_xavier_uniform(m->W_out, rng);
    sg_init_zeros(m->c);
}

/* Fills x (n, 2) with bit t of a and b, and s (n, 1) with bit t of a + b. */
static void sg_addition_bits(const uint32_t *a, const uint32_t *b, size_t n, size_t t, float *x, float *s)
{
    for (size_t i = 0; i < n; i++) {
        x[2 * i] = (float)((a[i] >> t) & 1u);
        x[2 * i + 1] = (float)((b[i] >> t) & 1u);
        if (s)
            s[i] = (float)(((a[i] + b[i]) >> t) & 1u);
    }
}

/* Records the T steps; returns the per-step BCE terms (T tensors (n, 1)) in
 * terms when given, the logits in logits when given.  Returns false on error. */
static bool sg_addition_unroll(sg_graph *g, const sg_addition *m, const uint32_t *a, const uint32_t *b, size_t n,
                               sg_tensor **logits, sg_tensor **terms)
{
    float *x = sg_graph_alloc(g, n * 2 * sizeof *x); /* (n, 2) */
    float *s = sg_graph_alloc(g, n * sizeof *s);     /* (n, 1) */
    if (!x || !s)
        return false;
    sg_tensor *z = sg_const_fill(g, "z0", SG_SHAPE(n, m->cell.hidden), 0.0); /* (n, H) */
    sg_scope_push(g, "rnn");
    for (size_t t = 0; t < m->bits; t++) {
        sg_scope_push(g, "t%zu", t);
        sg_addition_bits(a, b, n, t, x, terms ? s : NULL);
        sg_tensor *xt = sg_input_f32(g, "x", SG_SHAPE(n, 2), x, false);
        z = sg_elman_step(g, &m->cell, xt, z);
        sg_tensor *l = sg_add(g, sg_matmul(g, z, sg_param_use(g, m->W_out)), sg_param_use(g, m->c)); /* (n, 1) */
        if (logits)
            logits[t] = l;
        if (terms) {
            sg_tensor *st = sg_input_f32(g, "s", SG_SHAPE(n, 1), s, false);
            terms[t] = sg_sub(g, sg_softplus(g, l), sg_hadamard(g, st, l)); /* BCE from logits */
        }
        sg_scope_pop(g);
    }
    sg_scope_pop(g);
    return sg_graph_status(g) == SG_OK;
}

sg_tensor *sg_addition_loss(sg_graph *g, const sg_addition *m, const uint32_t *a, const uint32_t *b, size_t n,
                            sg_tensor **logits)
{
    sg_tensor **terms = sg_graph_alloc(g, m->bits * sizeof *terms);
    if (!terms || !sg_addition_unroll(g, m, a, b, n, logits, terms))
        return NULL;
    sg_scope_push(g, "loss");
    sg_tensor *loss = sg_mean_all(g, sg_concat(g, terms, m->bits, 1)); /* mean over (n, T) */
    sg_scope_pop(g);
    return loss;
}

size_t sg_addition_count_correct(sg_graph *g, const sg_addition *m, const uint32_t *a, const uint32_t *b, size_t n)
{
    sg_graph_reset(g);
    bool was = sg_graph_grad_enabled(g);
    sg_graph_set_grad_enabled(g, false);
    sg_tensor **logits = sg_graph_alloc(g, m->bits * sizeof *logits);
    bool ok = logits && sg_addition_unroll(g, m, a, b, n, logits, NULL);
    sg_graph_set_grad_enabled(g, was);
    if (!ok)
        return SIZE_MAX;
    size_t correct = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t sum = a[i] + b[i], pred = 0;
        for (size_t t = 0; t < m->bits; t++)
            if (sg_tensor_get(logits[t], i) > 0.0) /* sigmoid(l) > 0.5 */
                pred |= 1u << t;
        correct += pred == (sum & ((1u << m->bits) - 1u));
    }
    return correct;
}
