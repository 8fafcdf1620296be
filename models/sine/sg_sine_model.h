/* sg_sine_model.h — the sine-wave prediction task of the course notes: a
 * recurrent cell reads a window of W past values and a linear layer predicts
 * the next one.  Op calls only.
 *
 *   h_W = cell unrolled over x_1 .. x_W        x_t (B, 1), h (B, H)
 *   y^ = h_W W + b                             (B, 1)
 *   loss = mean (y^ - y)^2
 *
 * Dimension legend: W window, B batch, H hidden units.  Parameter names:
 * "sine.W_x", ... (the cell, docs/cells.md), "head.W" (H, 1), "head.b" (1).
 *
 * Ownership: the parameters belong to the set given to init; the model owns
 * its cell (sg_sine_model_free); returned tensors belong to g (valid until
 * sg_graph_reset).
 */
#ifndef SG_SINE_MODEL_H
#define SG_SINE_MODEL_H

#include "models/rnn/sg_cell.h"

typedef struct sg_sine_model {
    sg_cell cell;   /* I = 1, H */
    sg_linear head; /* (H) -> (1): "head.W" (H, 1), "head.b" (1) */
} sg_sine_model;

/* A cell of `kind` (act for simple RNNs) with H units and the linear head,
 * parameters added to ps.  Pair with sg_sine_model_free. */
SG_NODISCARD sg_status sg_sine_model_init(sg_sine_model *m, sg_params *ps, sg_cell_kind kind, sg_activation act,
                                          size_t hidden);
void sg_sine_model_free(sg_sine_model *m);
/* Runs the model on windows xs (W, B, 1) (scopes "sine/t<k>" and "head").
 * Returns the predictions (B, 1), or, when y (B, 1) is given, the mean
 * squared error (a scalar) with the predictions in *pred (if pred is not
 * NULL).  NULL on error (see g). */
sg_tensor *sg_sine_model_forward(sg_graph *g, const sg_sine_model *m, sg_tensor *xs /* (W, B, 1) */,
                                 sg_tensor *y /* (B, 1) or NULL */, sg_tensor **pred);

#endif
