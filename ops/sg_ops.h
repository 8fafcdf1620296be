/* sg_ops.h — the public primitive ops.  Every model is written with these calls
 * only; each op computes its value at once and records itself on the tape, so
 * no model carries backward code.
 *
 * Conventions (all ops):
 *   - Inputs must belong to g; floating inputs have the graph's dtype.
 *   - Any failure (bad shapes, axes, ids; NULL inputs; out of memory) returns
 *     NULL and leaves a message in sg_graph_error(g) naming the op and the
 *     scope, and for shape, axis, index and dtype errors the input shapes.
 *     Errors are sticky: once g holds one, every op returns NULL at once, so a
 *     chain of calls needs one check at the end.  A NULL input on a graph not
 *     in error is itself recorded (SG_ERR_ARG).
 *   - sg_log does not check x > 0: log(0) is -inf, log(x < 0) NaN; anomaly
 *     mode (sg_graph_set_anomaly) reports where such values first appear.
 *   - Axes may be negative, counted from the end (-1 = last).
 *   - Broadcasting (add, sub, hadamard) follows NumPy: shapes are aligned at the
 *     trailing dimension and a dimension of 1 (or a missing one) is repeated.
 * The formula and VJP of each op are in docs/ops.md.
 *
 * Ownership: every returned tensor (and each written to out) belongs to g,
 * in its arena: valid until sg_graph_reset or sg_graph_free, which invalidate
 * it and its data and grad buffers.  Inputs and arrays of inputs are borrowed
 * for the call only.
 */
#ifndef SG_OPS_H
#define SG_OPS_H

#include "graph/core/sg_graph.h"

/* ---- elementwise (ops/sg_ops_unary.c) ----------------------------------- */
sg_tensor *sg_sigmoid(sg_graph *g, sg_tensor *x); /* 1 / (1 + e^-x) */
sg_tensor *sg_tanh(sg_graph *g, sg_tensor *x);
sg_tensor *sg_relu(sg_graph *g, sg_tensor *x); /* max(x, 0) */
sg_tensor *sg_exp(sg_graph *g, sg_tensor *x);
sg_tensor *sg_log(sg_graph *g, sg_tensor *x);             /* natural log; x > 0 */
sg_tensor *sg_softplus(sg_graph *g, sg_tensor *x);        /* log(1 + e^x), stable */
sg_tensor *sg_log_sigmoid(sg_graph *g, sg_tensor *x);     /* -softplus(-x), stable */
sg_tensor *sg_scale(sg_graph *g, sg_tensor *x, double c); /* c * x */

/* ---- binary with broadcasting (ops/sg_ops_binary.c) --------------------- */
sg_tensor *sg_add(sg_graph *g, sg_tensor *a, sg_tensor *b);
sg_tensor *sg_sub(sg_graph *g, sg_tensor *a, sg_tensor *b);
sg_tensor *sg_hadamard(sg_graph *g, sg_tensor *a, sg_tensor *b); /* a * b elementwise */

/* ---- matrix product (ops/sg_ops_matmul.c) -------------------------------
 * a (..., M, K) times b (..., K, N) -> (..., M, N) through cblas gemm.  With a
 * transpose flag the last two axes of that input are read swapped.  Batched:
 * leading axes of a and b must be equal, or b may be 2-D (shared by every batch,
 * as a weight matrix is).  2-D x 2-D is the plain product. */
sg_tensor *sg_matmul(sg_graph *g, sg_tensor *a, sg_tensor *b);
sg_tensor *sg_matmul_t(sg_graph *g, sg_tensor *a, sg_tensor *b, bool trans_a, bool trans_b);
/* x (..., M, K) op(W) + b: W (K, N), or (N, K) with trans_w; b (N); y (..., M, N).  The
 * affine layer's product and bias in one node (one pass fewer over y and its
 * gradient than matmul then add). */
sg_tensor *sg_addmm(sg_graph *g, sg_tensor *x, sg_tensor *W, sg_tensor *b, bool trans_w);

/* ---- reductions and normalizations (ops/sg_ops_reduce.c) ---------------- */
sg_tensor *sg_sum(sg_graph *g, sg_tensor *x, int axis);  /* removes the axis */
sg_tensor *sg_mean(sg_graph *g, sg_tensor *x, int axis); /* removes the axis */
sg_tensor *sg_sum_all(sg_graph *g, sg_tensor *x);        /* -> scalar */
sg_tensor *sg_mean_all(sg_graph *g, sg_tensor *x);       /* -> scalar */
sg_tensor *sg_softmax(sg_graph *g, sg_tensor *x, int axis);
sg_tensor *sg_log_softmax(sg_graph *g, sg_tensor *x, int axis);

/* ---- ids: embedding lookup and classification loss (ops/sg_ops_index.c) - */
/* Rows of table (V, D) picked by ids (any shape S, int32 in [0, V)): -> (S..., D).
 * Repeated ids accumulate in the table's gradient. */
sg_tensor *sg_gather_rows(sg_graph *g, sg_tensor *table, sg_tensor *ids);
/* Weighted sums of gathered rows (an embedding bag): table (V, D), ids (N, C)
 * int32 in [0, V), weights (N, C) of the graph's dtype, not differentiated:
 * -> (N, D), row n = sum_c weights[n, c] table[ids[n, c]]; a slot of weight 0
 * is skipped (a padding slot), so 0 x an infinite row is not NaN. */
sg_tensor *sg_gather_sum(sg_graph *g, sg_tensor *table, sg_tensor *ids, sg_tensor *weights);
/* Dot products of gathered rows with one vector per row: table (V, D), ids
 * (N, J) int32 in [0, V), v (N, D) -> (N, J), element (n, j) =
 * table[ids[n, j]] . v[n] (word2vec's scores of a target and its negatives). */
sg_tensor *sg_gather_dot(sg_graph *g, sg_tensor *table, sg_tensor *ids, sg_tensor *v);

typedef enum sg_reduction { SG_REDUCE_MEAN = 0, SG_REDUCE_SUM = 1, SG_REDUCE_NONE = 2 } sg_reduction;
enum { SG_IGNORE_TARGET = -1 };
/* Softmax cross-entropy of logits (N, C) against int32 targets (N) in [0, C),
 * computed stably through log-softmax.  A target of SG_IGNORE_TARGET (-1) adds
 * nothing (padding).  MEAN divides by the number of targets not ignored (at
 * least 1), SUM adds them, NONE returns (N) per-row losses (0 where ignored). */
sg_tensor *sg_cross_entropy(sg_graph *g, sg_tensor *logits, sg_tensor *targets, sg_reduction red);

/* ---- shape ops (ops/sg_ops_shape.c) ------------------------------------- */
sg_tensor *sg_transpose(sg_graph *g, sg_tensor *x);               /* swaps the last two axes */
sg_tensor *sg_reshape(sg_graph *g, sg_tensor *x, sg_shape shape); /* same numel */
sg_tensor *sg_slice(sg_graph *g, sg_tensor *x, int axis, size_t start, size_t len);
/* Concatenates n tensors along axis; all other dimensions must agree. */
sg_tensor *sg_concat(sg_graph *g, sg_tensor *const *xs, size_t n, int axis);
/* Splits x along axis into n equal parts (the axis must divide by n), writing
 * the n outputs to out.  Returns SG_OK or the graph's error. */
SG_NODISCARD sg_status sg_split(sg_graph *g, sg_tensor *x, int axis, size_t n, sg_tensor **out);
/* Splits x along axis into parts of the given sizes (summing to the axis). */
SG_NODISCARD sg_status sg_split_sizes(sg_graph *g, sg_tensor *x, int axis, const size_t *sizes, size_t n,
                                      sg_tensor **out);

#endif
