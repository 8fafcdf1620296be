/* sg_lm.h — the word-level language model of Zaremba et al. (2014), written
 * only with op calls:
 *
 *   e_t = E[x_t]                          (B, D)      embedding lookup (gather_rows)
 *   h_t = stacked RNN/LSTM/GRU/custom     (B, H)      N layers, sg_seq_layers
 *   l_t = h_t W_out + b_out               (B, V)      or h_t E^T + b_out when tied (D == H)
 *   loss = sum_t mean_b CE(l_t, y_t)                  summed over the T steps of a window
 *
 * Dropout (training only) on the embedding output, between layers and on the
 * top output, as in Zaremba's regularized model.  The recurrent state is
 * carried from window to window through an sg_lm_state (heap buffers made
 * once), so stateful truncated BPTT cuts the graph at window boundaries.
 *
 * Dimension legend: V vocabulary, D embedding size, H hidden units, N layers,
 * T unroll length (bptt), B batch (parallel streams).
 * Parameter names: "embed" (V, D); "<rnn>.l<l>.W_x" ... (docs/cells.md);
 * "out.W" (H, V) unless tied; "out.b" (V).
 *
 * Ownership: the parameters belong to the set given to sg_lm_init; the model
 * owns its layer lists (sg_lm_free) and borrows cfg.make_ctx, which must
 * outlive it.  sg_lm_forward's tensors belong to g (valid until
 * sg_graph_reset); the carried state (sg_lm_state) is the caller's, on the
 * heap, and survives resets.
 */
#ifndef SG_LM_H
#define SG_LM_H

#include "models/rnn/sg_seq.h"

typedef struct sg_lm_config {
    size_t vocab;         /* V */
    size_t embed;         /* D (must equal hidden when tied) */
    size_t hidden;        /* H */
    size_t layers;        /* N */
    sg_cell_kind kind;    /* built-in kind, or SG_CELL_CUSTOM with make */
    sg_activation act;    /* SG_CELL_RNN */
    sg_cell_make_fn make; /* SG_CELL_CUSTOM */
    void *make_ctx;
    bool tie_weights; /* output projection = embedding transposed */
} sg_lm_config;

typedef struct sg_lm {
    sg_lm_config cfg;
    sg_embedding embed; /* "embed" (V, D) */
    sg_seq_layers rnn;  /* N layers, named "rnn" (cells "rnn.l<l>") */
    sg_linear out;      /* "out.W" (H, V), "out.b" (V); out.W NULL when tied */
} sg_lm;

/* Adds the model's parameters to ps.  SG_ERR_ARG for a bad config (zero
 * sizes, tied with D != H), SG_ERR_NOMEM.  Pair with sg_lm_free. */
SG_NODISCARD sg_status sg_lm_init(sg_lm *m, sg_params *ps, const sg_lm_config *cfg);
/* Frees what m owns (not the parameters, which ps owns). */
void sg_lm_free(sg_lm *m);
/* Every parameter ~ U[-r, r) (Zaremba: r = 0.1), in parameter-set order;
 * forget_bias >= 0 sets the LSTM forget-gate bias after the draw (< 0: keep). */
SG_NODISCARD sg_status sg_lm_reset_parameters(sg_lm *m, sg_params *ps, sg_rng *rng, double r, double forget_bias);

/* The carried recurrent state of B streams: N cells x (h, c) x (B, H) doubles,
 * heap, made once; zeroed at the start of every pass over the data. */
typedef struct sg_lm_state {
    size_t batch;   /* B */
    size_t n_cells; /* N */
    size_t hidden;  /* H */
    double *h, *c;  /* (N, B, H) each */
} sg_lm_state;
SG_NODISCARD sg_status sg_lm_state_init(sg_lm_state *st, const sg_lm *m, size_t batch);
void sg_lm_state_free(sg_lm_state *st);
void sg_lm_state_zero(sg_lm_state *st);

typedef struct sg_lm_run {
    bool training;  /* dropout on */
    double dropout; /* embedding output, between layers, top output; [0, 1) */
    sg_rng *rng;    /* for dropout masks (training with dropout > 0) */
} sg_lm_run;

/* One window: ids x (T, B) and targets y (T, B) (y may be NULL: no loss).
 * Starts from the state in st and writes the final state back to st (the
 * window's graph is cut there: the next window starts from constants).
 * Returns the loss sum_t mean_b CE (a scalar), or the logits (T*B, V) when y is
 * NULL; *nll_sum (if not NULL) receives the summed CE over all T*B tokens, for
 * perplexity = exp(total nll / total tokens).  NULL on error (see g). */
sg_tensor *sg_lm_forward(sg_graph *g, const sg_lm *m, const int32_t *x, const int32_t *y, size_t T, size_t B,
                         sg_lm_state *st, const sg_lm_run *run, double *nll_sum);

#endif
