/* sg_addition.h — the binary-addition task: an Elman RNN reads two numbers bit by
 * bit (least significant first) and emits the bits of their sum.
 *
 *   x_t = (a_t, b_t)                          (B, 2)   bit t of a and of b
 *   z_t = f(x_t W_in + z_{t-1} W + b)         (B, H)
 *   y_t = sigmoid(z_t W_out + c)              (B, 1)   probability that bit t of a+b is 1
 *
 * Training minimizes the binary cross-entropy of y_t, computed from the logits
 * as softplus(l) - s*l (stable), averaged over batch and time.  Operands have
 * bits-1 bits, so their sum fits in `bits` bits (default 8: 128 x 128 = 16,384
 * pairs).  Dimension legend: B batch, T = bits time steps, H hidden units.
 */
#ifndef SG_ADDITION_H
#define SG_ADDITION_H

#include "models/sg_rnn.h"

typedef struct sg_addition {
    size_t bits;      /* T */
    sg_elman cell;    /* I = 2, H */
    sg_param *W_out;  /* (H, 1) */
    sg_param *c;      /* (1) */
} sg_addition;

/* Adds the model's parameters ("rnn.W_in", "rnn.W", "rnn.b", "out.W", "out.c")
 * to ps.  bits in 2..31. */
sg_status sg_addition_init(sg_addition *m, sg_params *ps, size_t bits, size_t hidden, sg_activation f);
void sg_addition_reset_parameters(sg_addition *m, sg_rng *rng);

/* Records the unrolled model for the pairs (a[i], b[i]), i < n, on g (each
 * step in scope "rnn/t<k>") and returns the mean loss, a scalar.  If logits is
 * not NULL it receives the T output logit tensors (B, 1).  NULL on error. */
sg_tensor *sg_addition_loss(sg_graph *g, const sg_addition *m, const uint32_t *a, const uint32_t *b, size_t n,
                            sg_tensor **logits);

/* Number of pairs whose every sum bit is predicted right (y_t > 0.5), evaluated
 * in no-grad mode on g (which is reset).  Returns SIZE_MAX on error. */
size_t sg_addition_count_correct(sg_graph *g, const sg_addition *m, const uint32_t *a, const uint32_t *b, size_t n);

#endif
