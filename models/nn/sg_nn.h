/* sg_nn.h — the layer level: activations, linear (affine) layers, embeddings,
 * dropout and losses, each written only with op calls (no backward code: the
 * tape differentiates them).  Cells, the sequence runner and every model are
 * built from these.
 *
 * Dimension legend: N rows (any leading axes flattened), I input features,
 * O output features, V vocabulary (table rows), D embedding size, C classes,
 * B batch, Z latent size.
 *
 * Ownership: a layer struct holds borrowed pointers to parameters owned by the
 * sg_params set they were added to; a layer owns nothing and needs no free.
 * Every returned tensor lives in the graph's arena (valid until reset).
 * Errors: NULL returns with a sticky graph error naming the layer (see
 * ops/sg_ops.h); init functions return SG_ERR_ARG (a size of 0, a NULL
 * argument, a parameter name already taken) or SG_ERR_NOMEM.
 *
 * Ownership: layers borrow their parameters from the set they were added
 * to; every returned tensor belongs to g's arena (valid until sg_graph_reset
 * or sg_graph_free); names are static strings.
 */
#ifndef SG_NN_H
#define SG_NN_H

#include "graph/core/sg_graph.h"
#include "graph/core/sg_param.h"
#include "graph/core/sg_rng.h"
#include "ops/sg_ops.h"

/* ---- activations (models/nn/sg_activation.c) ------------------------------ */
typedef enum sg_activation { SG_ACT_TANH = 0, SG_ACT_SIGMOID = 1, SG_ACT_RELU = 2 } sg_activation;

/* "tanh", "sigmoid" or "relu" -> *out; SG_ERR_ARG for anything else. */
SG_NODISCARD sg_status sg_activation_parse(const char *name, sg_activation *out) __attribute__((warn_unused_result));
const char *sg_activation_name(sg_activation a);
/* f(x) through the matching op. */
sg_tensor *sg_activate(sg_graph *g, sg_activation f, sg_tensor *x);

/* ---- linear (models/nn/sg_linear.c) ----------------------------------------
 *   y = x W + b      x (..., I) -> y (..., O); W (I, O), b (O) broadcast
 * One matmul whatever the leading axes (a whole sequence (T, B, I) at once). */
typedef struct sg_linear {
    size_t in, out; /* I, O */
    sg_param *W;    /* (I, O) */
    sg_param *b;    /* (O), or NULL without bias */
} sg_linear;

/* Adds "<name>.W" (I, O) and, with bias, "<name>.b" (O) to ps, zero-filled. */
SG_NODISCARD sg_status sg_linear_init(sg_linear *l, sg_params *ps, const char *name, size_t in, size_t out, bool bias)
    __attribute__((warn_unused_result));
/* W ~ Glorot uniform, b = bias_value (one rng draw per element of W). */
SG_NODISCARD sg_status sg_linear_reset_xavier(sg_linear *l, sg_rng *rng, double bias_value)
    __attribute__((warn_unused_result));
sg_tensor *sg_linear_forward(sg_graph *g, const sg_linear *l, sg_tensor *x);
/* The affine map on tensors already in the graph: x W + b (b may be NULL).
 * For shared weights (a tied output layer uses sg_affine_t with W^T). */
sg_tensor *sg_affine(sg_graph *g, sg_tensor *x, sg_tensor *W, sg_tensor *b);
/* x W^T + b, W (O, I). */
sg_tensor *sg_affine_t(sg_graph *g, sg_tensor *x, sg_tensor *W, sg_tensor *b);

/* ---- embedding (models/nn/sg_embedding.c) ----------------------------------
 *   e = E[ids]       ids (S...) int32 in [0, V) -> (S..., D); E (V, D) */
typedef struct sg_embedding {
    size_t vocab, dim; /* V, D */
    sg_param *E;       /* (V, D) */
} sg_embedding;

/* Adds the table under exactly `name` (V, D), zero-filled. */
SG_NODISCARD sg_status sg_embedding_init(sg_embedding *e, sg_params *ps, const char *name, size_t vocab, size_t dim)
    __attribute__((warn_unused_result));
/* ids: B*... int32 values copied into the graph with the given shape. */
sg_tensor *sg_embedding_lookup(sg_graph *g, const sg_embedding *e, sg_shape shape, const int32_t *ids);
/* The same for an id tensor already in the graph. */
sg_tensor *sg_embedding_forward(sg_graph *g, const sg_embedding *e, sg_tensor *ids);

/* ---- dropout (models/nn/sg_dropout.c) --------------------------------------
 * Inverted dropout: kept units are scaled by 1/(1-p).  Each mask element takes
 * one sg_rng_uniform u (row-major) and is kept when u >= p, so a seed gives the
 * same masks on every machine.  Masks are constants applied with hadamard. */

/* A mask of `shape`: 1/(1-p) with probability 1-p, else 0.  p in [0, 1);
 * NULL + graph error for a bad p or a NULL rng. */
sg_tensor *sg_dropout_mask(sg_graph *g, sg_rng *rng, sg_shape shape, double p);
/* x * mask(x's shape) when training and p > 0; x itself otherwise (no draw). */
sg_tensor *sg_dropout(sg_graph *g, sg_tensor *x, double p, bool training, sg_rng *rng);
/* Variational (Gal & Ghahramani): x (T, B, F) times ONE (B, F) mask shared by
 * all T steps, when training and p > 0; x itself otherwise. */
sg_tensor *sg_dropout_variational(sg_graph *g, sg_tensor *x, double p, bool training, sg_rng *rng);

/* ---- losses (models/nn/sg_loss.c) ------------------------------------------
 * Each returns a scalar (reduced as asked) or, with SG_REDUCE_NONE, the
 * per-row (or per-element) terms. */

/* Softmax cross-entropy of logits (N, C) against targets (N) int32; a target
 * of SG_IGNORE_TARGET (-1) is padding and counts nothing (MEAN divides by the
 * real targets).  weights (N) (float, e.g. a 0/1 mask) or NULL: each row's
 * term is multiplied by its weight, and MEAN divides by the sum of weights. */
sg_tensor *sg_loss_cross_entropy(sg_graph *g, sg_tensor *logits, sg_tensor *targets, sg_tensor *weights,
                                 sg_reduction red);
/* Binary cross-entropy of logits l against targets s in [0, 1] (same shape),
 * computed stably from the logits: softplus(l) - s l per element. */
sg_tensor *sg_loss_bce_logits(sg_graph *g, sg_tensor *logits, sg_tensor *targets, sg_reduction red);
/* (pred - target)^2 per element (same shape). */
sg_tensor *sg_loss_mse(sg_graph *g, sg_tensor *pred, sg_tensor *target, sg_reduction red);
/* KL(q || p) between diagonal Gaussians given by means and log-variances,
 * all (B, Z):  0.5 sum_z [lv_p - lv_q + (e^lv_q + (mu_q - mu_p)^2) / e^lv_p - 1].
 * NONE: (B) per row; SUM: over rows; MEAN: mean over rows (batch mean).
 * mu_p and lv_p may be NULL for the standard normal prior. */
sg_tensor *sg_loss_kl_gaussian(sg_graph *g, sg_tensor *mu_q, sg_tensor *logvar_q, sg_tensor *mu_p, sg_tensor *logvar_p,
                               sg_reduction red);

#endif
