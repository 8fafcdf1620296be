/* sg_rnn.h — the simple (Elman) recurrent cell, written only with op calls.
 *
 *   u_t = x_t W_in + z_{t-1} W + b        z_t = f(u_t),  f in {tanh, sigmoid, relu}
 *
 * Dimension legend: B batch, I input features, H hidden units.
 * No backward code: backpropagation through time comes from the tape.
 */
#ifndef SG_RNN_H
#define SG_RNN_H

#include "graph/sg_graph.h"
#include "graph/sg_param.h"
#include "graph/sg_rng.h"

typedef enum sg_activation { SG_ACT_TANH = 0, SG_ACT_SIGMOID = 1, SG_ACT_RELU = 2 } sg_activation;

/* "tanh", "sigmoid" or "relu" -> *out; SG_ERR_ARG for anything else. */
sg_status sg_activation_parse(const char *name, sg_activation *out);
const char *sg_activation_name(sg_activation a);
/* f(x) through the matching op. */
sg_tensor *sg_activate(sg_graph *g, sg_activation f, sg_tensor *x);

typedef struct sg_elman {
    size_t input, hidden;  /* I, H */
    sg_activation f;
    sg_param *W_in;        /* (I, H) */
    sg_param *W;           /* (H, H) */
    sg_param *b;           /* (H) */
} sg_elman;

/* Adds "<prefix>.W_in", "<prefix>.W", "<prefix>.b" to ps (zero-filled).
 * SG_ERR_ARG if a name is taken or a size is 0; SG_ERR_NOMEM. */
sg_status sg_elman_init(sg_elman *cell, sg_params *ps, const char *prefix, size_t input, size_t hidden,
                        sg_activation f);
/* Glorot-uniform weights; bias 0 (0.01 with relu, to start off the kink). */
void sg_elman_reset_parameters(sg_elman *cell, sg_rng *rng);
/* One step: x (B, I), z_prev (B, H) -> z (B, H).  NULL on error (see g). */
sg_tensor *sg_elman_step(sg_graph *g, const sg_elman *cell, sg_tensor *x, sg_tensor *z_prev);

#endif
