/* sg_addition.h — the binary-addition task: a simple RNN reads two numbers bit
 * by bit (least significant first) and emits the bits of their sum.
 *
 *   x_t = (a_t, b_t)                          (B, 2)   bit t of a and of b
 *   h_t = f(x_t W_x + b_x + h_{t-1} W_h + b_h) (B, H)  the RNN cell (models/rnn)
 *   l_t = h_t W + b                           (B, 1)   logit that bit t of a+b is 1
 *
 * Training minimizes the binary cross-entropy of the logits (sg_loss_bce_logits),
 * averaged over batch and time.  Operands have bits-1 bits, so their sum fits
 * in `bits` bits (default 8: 128 x 128 = 16,384 pairs).
 * Dimension legend: B batch, T = bits time steps, H hidden units.
 * Parameter names: "rnn.W_x" (2, H), "rnn.b_x" (H), "rnn.W_h" (H, H),
 * "rnn.b_h" (H), "out.W" (H, 1), "out.b" (1).
 */
#ifndef SG_ADDITION_H
#define SG_ADDITION_H

#include "models/rnn/sg_seq.h"

typedef struct sg_addition {
    size_t bits;   /* T */
    sg_cell cell;  /* SG_CELL_RNN, I = 2, H */
    sg_linear out; /* (H) -> (1) */
} sg_addition;

/* Adds the model's parameters to ps.  bits in 2..31.  Pair with sg_addition_free. */
SG_NODISCARD sg_status sg_addition_init(sg_addition *m, sg_params *ps, size_t bits, size_t hidden, sg_activation f)
    __attribute__((warn_unused_result));
/* Frees the cell m owns (its parameters stay in ps) and zeroes m. */
void sg_addition_free(sg_addition *m);
/* Glorot-uniform weights, zero biases (0.01 with relu, to start off the kink). */
SG_NODISCARD sg_status sg_addition_reset_parameters(sg_addition *m, sg_rng *rng) __attribute__((warn_unused_result));

/* Records the unrolled model for the pairs (a[i], b[i]), i < n, on g (each
 * step in scope "rnn/t<k>", the output layer in "out") and returns the mean
 * loss, a scalar.  If logits is not NULL it receives the logits (T, n, 1).
 * Both belong to g (valid until sg_graph_reset); a and b are borrowed.
 * NULL on error. */
sg_tensor *sg_addition_loss(sg_graph *g, const sg_addition *m, const uint32_t *a, const uint32_t *b, size_t n,
                            sg_tensor **logits);

/* Number of pairs whose every sum bit is predicted right (y_t > 0.5), evaluated
 * in no-grad mode on g (which is reset).  Returns SIZE_MAX on error. */
size_t sg_addition_count_correct(sg_graph *g, const sg_addition *m, const uint32_t *a, const uint32_t *b, size_t n);

#endif
