/* sg_addition.c — binary addition with the simple RNN cell (see sg_addition.h).
 * Op calls only: the backward pass comes from the tape. */
#include "models/addition/sg_addition.h"

#include "graph/core/sg_init.h"

#include <string.h>

sg_status sg_addition_init(sg_addition *m, sg_params *ps, size_t bits, size_t hidden, sg_activation f)
{
    memset(m, 0, sizeof *m);
    if (bits < 2 || bits > 31)
        return SG_ERR_ARG;
    m->bits = bits;
    sg_status st = sg_cell_init_rnn(&m->cell, ps, "rnn", 2, hidden, f);
    if (st == SG_OK && (st = sg_linear_init(&m->out, ps, "out", hidden, 1, true)) != SG_OK)
        sg_cell_free(&m->cell);
    return st;
}

void sg_addition_free(sg_addition *m)
{
    sg_cell_free(&m->cell);
    memset(m, 0, sizeof *m);
}

sg_status sg_addition_reset_parameters(sg_addition *m, sg_rng *rng)
{
    /* relu: a small positive bias keeps units active at the start and keeps
     * pre-activations off the kink at exactly 0 (zero input, zero state),
     * where the VJP's subgradient and finite differences disagree. */
    double bias = m->cell.act == SG_ACT_RELU ? 0.005 : 0.0;
    sg_status st = SG_OK;
    sg_param *w[] = {m->cell.W_x, m->cell.W_h}, *b[] = {m->cell.b_x, m->cell.b_h};
    for (size_t i = 0; i < 2 && st == SG_OK; i++)
        st = sg_init_xavier_uniform(w[i], rng);
    for (size_t i = 0; i < 2 && st == SG_OK; i++)
        st = sg_init_constant(b[i], bias);
    return st == SG_OK ? sg_linear_reset_xavier(&m->out, rng, 0.0) : st;
}

/* The inputs x (T, n, 2) and, when s is not NULL, the sum bits s (T, n, 1). */
static void sg_addition_bits(const uint32_t *a, const uint32_t *b, size_t n, size_t T, float *x, float *s)
{
    for (size_t t = 0; t < T; t++)
        for (size_t i = 0; i < n; i++) {
            x[(t * n + i) * 2] = (float)((a[i] >> t) & 1u);
            x[(t * n + i) * 2 + 1] = (float)((b[i] >> t) & 1u);
            if (s)
                s[t * n + i] = (float)(((a[i] + b[i]) >> t) & 1u);
        }
}

/* The logits (T, n, 1); *sums (T, n, 1) receives the targets when asked. */
static sg_tensor *sg_addition_logits(sg_graph *g, const sg_addition *m, const uint32_t *a, const uint32_t *b, size_t n,
                                     sg_tensor **sums)
{
    size_t T = m->bits;
    float *x = sg_graph_alloc(g, T * n * 2 * sizeof *x);           /* (T, n, 2) */
    float *s = sums ? sg_graph_alloc(g, T * n * sizeof *s) : NULL; /* (T, n, 1) */
    if (!x || (sums && !s))
        return NULL;
    sg_addition_bits(a, b, n, T, x, s);
    sg_tensor *xs = sg_input_f32(g, "x", SG_SHAPE(T, n, 2), x, false);
    sg_tensor *hs = sg_seq_run(g, "rnn", &m->cell, xs, NULL, NULL); /* (T, n, H) */
    sg_scope_push(g, "out");
    sg_tensor *l = sg_linear_forward(g, &m->out, hs); /* (T, n, 1) */
    if (sums)
        *sums = sg_input_f32(g, "s", SG_SHAPE(T, n, 1), s, false);
    sg_scope_pop(g);
    return l;
}

sg_tensor *sg_addition_loss(sg_graph *g, const sg_addition *m, const uint32_t *a, const uint32_t *b, size_t n,
                            sg_tensor **logits)
{
    sg_tensor *s = NULL;
    sg_tensor *l = sg_addition_logits(g, m, a, b, n, &s);
    if (logits)
        *logits = l;
    sg_scope_push(g, "loss");
    sg_tensor *loss = sg_loss_bce_logits(g, l, s, SG_REDUCE_MEAN); /* mean over (T, n) */
    sg_scope_pop(g);
    return loss;
}

size_t sg_addition_count_correct(sg_graph *g, const sg_addition *m, const uint32_t *a, const uint32_t *b, size_t n)
{
    sg_graph_reset(g);
    bool was = sg_graph_grad_enabled(g);
    sg_graph_set_grad_enabled(g, false);
    sg_tensor *l = sg_addition_logits(g, m, a, b, n, NULL); /* (T, n, 1) */
    sg_graph_set_grad_enabled(g, was);
    if (!l)
        return SIZE_MAX;
    size_t correct = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t sum = a[i] + b[i], pred = 0;
        for (size_t t = 0; t < m->bits; t++)
            if (sg_tensor_get(l, t * n + i) > 0.0) /* sigmoid(l) > 0.5 */
                pred |= 1u << t;
        correct += pred == (sum & ((1u << m->bits) - 1u));
    }
    return correct;
}
