/* sg_seq.h — the sequence runner and recurrent layers: any cell (sg_cell.h)
 * unrolled over T steps on the tape, stacked, bidirectional, with padding masks
 * and dropout.  Op calls only; BPTT comes from the tape.
 *
 * Dimension legend: T time steps, B batch, I input features, H hidden units,
 * G gates, N layers, D directions (1, or 2 when bidirectional).
 * Sequences are TIME-MAJOR: xs is (T, B, I), outputs are (T, B, H).
 *
 * One run of a cell (sg_seq_run), in scope "<name>" with step t in scope
 * "<name>/t<t>" (t is the position in the sequence, also when reversed):
 *   1. when the cell has an input projection (G > 0): P = xs W_x + b_x, ONE
 *      matmul (T, B, I) x (I, G*H) -> (T, B, G*H) for all steps; step t gets
 *      the rows of P for time t (B, G*H);  cells with G = 0 get xs[t] (B, I);
 *   2. per step: the cell's step (for built-in cells: one matmul h W_h);
 *   3. with a mask m (T, B): h_t = h_{t-1} + m_t * (h_new - h_{t-1}) (same for
 *      c), so padded steps change nothing, and the output is m_t * h_t (zero
 *      at padded steps);
 *   3'. packed, with lengths (B) instead of a mask (pack_padded_sequence):
 *      rows sorted longest first, step t runs the cell only on the rows still
 *      real, a prefix of the batch (slices, views), so padding costs neither
 *      products nor blends; the same values as 3 (final states at each row's
 *      last real step, zero outputs at padding).  Lengths in any order:
 *      unsorted rows are sorted (one row gather of xs and the initial states
 *      before, of the output and the final states after), once per stack by
 *      sg_seq_layers_forward (in scopes "<name>.pack" and "<name>.unpack");
 *   4. outputs: the T step outputs concatenated into (T, B, H), in position
 *      order (a reversed run's output at t is the state after reading t..T-1).
 *
 * Layers (sg_seq_layers): N layers x D directions of cells named
 * "<name>.l<l>" (forward) and "<name>.l<l>_reverse" (backward direction), the
 * input of layer l being the output of layer l-1 (T, B, D*H); the two
 * directions' outputs are concatenated on the feature axis.
 *
 * Dropout (training only, masks drawn from the caller's sg_rng, inverted: kept
 * units are scaled by 1/(1-p)); each mask is a constant tensor applied with
 * sg_hadamard:
 *   dropout        on the input of layers 1..N-1 (between layers), a fresh
 *                  mask for every step (one (T, B, F) mask);
 *   var_input      on the input of every layer, one (B, F) mask per sequence
 *                  reused at every step (variational, Gal & Ghahramani);
 *   var_recurrent  on h_{t-1} as the recurrent input (prev->h_rec), one
 *                  (B, H) mask per sequence, layer and direction;
 *   var_output     on the top layer's output, one (B, D*H) mask per sequence.
 * Draw order: per layer l: [dropout (T, B, F) if l > 0] [var_input (B, F)]
 * then per direction [var_recurrent (B, H)]; at the end [var_output].  Each
 * element takes one sg_rng_uniform, row-major; kept when u >= p.
 *
 * Truncated BPTT: pass the returned final states as the next chunk's initial
 * states.  Within one graph step, sg_detach(g, final.h) (and .c) cuts the
 * gradient.  Across steps (sg_graph_reset invalidates every tensor), copy the
 * states out (sg_tensor_copy_out_f64 into caller buffers) and bring them back
 * next step with sg_input_f64(g, "h0", shape, buf, false): an input without
 * requires_grad is a leaf, so no gradient flows into the previous chunk.
 *
 * Memory: everything a run makes (tensors, masks, pointer arrays) is in the
 * graph's arena (sg_graph_alloc), so a steady-state step allocates nothing
 * from the heap.  A sg_seq_layers owns its name and its cells (heap).
 *
 * Errors: bad shapes, a bad mask or initial state, a bad option give a
 * sticky graph error naming the layer ("layer 'lstm.l0': ..."); an op that
 * fails inside a step names the scope "<layer>/t<t>".  Nothing aborts.
 */
#ifndef SG_SEQ_H
#define SG_SEQ_H

#include "models/rnn/sg_cell.h"

/* Options of one run of one cell. */
typedef struct sg_seq_run_opts {
    sg_tensor *mask;       /* (T, B) 1 = real step, 0 = padding; NULL = all real */
    const size_t *lengths; /* (B) packed instead of masked (3'): row j is real for
                              * t < lengths[j], in any order; NULL = not packed */
    sg_cell_state init;    /* initial state; a NULL h (or c) means zeros */
    bool reverse;          /* process t = T-1 down to 0 */
    sg_tensor *rec_mask;   /* (B, H) multiplied into h_{t-1} to give prev->h_rec
                           * (variational recurrent dropout); NULL = none */
} sg_seq_run_opts;

/* Runs `cell` over xs (T, B, I) (see the header comment).  name: the layer
 * name for scopes and errors (NULL: the cell's name).  o NULL: defaults (all
 * zero).  Returns the outputs (T, B, H), arena-owned; when final is not NULL
 * it receives the state after the last step processed (after t = T-1, or after
 * t = 0 when reversed; with a mask, the state at each row's last real step).
 * NULL on error (see sg_graph_error). */
sg_tensor *sg_seq_run(sg_graph *g, const char *name, const sg_cell *cell, sg_tensor *xs, const sg_seq_run_opts *o,
                      sg_cell_state *final);

/* Dropout masks: sg_dropout_mask (models/nn/sg_nn.h). */

/* A padding mask (T, B) from lengths (B): m[t, b] = 1 if t < lengths[b] else
 * 0.  Each length in [0, T].  A constant leaf in g's arena. */
sg_tensor *sg_seq_mask_from_lengths(sg_graph *g, const size_t *lengths, size_t T, size_t B);

/* The lengths (B) of a (T, B) padding mask (row-major, t * B + b) that is
 * real steps then padding in every column (1s then 0s exactly: what packing
 * needs),
 * written to lengths (the caller's); false, lengths unspecified, when a
 * column has a real step after padding (then use the mask).  Host data only. */
bool sg_seq_lengths_from_mask(const double *mask, size_t T, size_t B, size_t *lengths);

/* ---- layers ------------------------------------------------------------- */

/* Builds one cell of a stack: the same contract as sg_cell_init_custom
 * (fill *cell, add its parameters to ps under prefix).  ctx is the config's. */
typedef sg_status (*sg_cell_make_fn)(sg_cell *cell, sg_params *ps, const char *prefix, size_t input, size_t hidden,
                                     void *ctx);

/* A cell of a built-in kind (sg_cell_init_kind, act for SG_CELL_RNN), or for
 * SG_CELL_CUSTOM the one make(make_ctx) builds (SG_ERR_ARG when make is NULL). */
SG_NODISCARD sg_status sg_cell_init_made(sg_cell *cell, sg_params *ps, const char *prefix, sg_cell_kind kind,
                                         sg_activation act, sg_cell_make_fn make, void *make_ctx, size_t input,
                                         size_t hidden);

typedef struct sg_seq_config {
    sg_cell_kind kind;    /* a built-in kind, or SG_CELL_CUSTOM with `make` */
    sg_activation act;    /* SG_CELL_RNN only */
    size_t input;         /* I of layer 0 */
    size_t hidden;        /* H of every layer */
    size_t layers;        /* N >= 1 */
    bool bidirectional;   /* D = 2 */
    sg_cell_make_fn make; /* SG_CELL_CUSTOM: makes each cell */
    void *make_ctx;       /* borrowed, passed to make */
} sg_seq_config;

typedef struct sg_seq_layers {
    char *name;           /* owned */
    size_t n_layers;      /* N */
    size_t n_dirs;        /* D */
    size_t input, hidden; /* I, H */
    sg_cell *cells;       /* (N * D) owned; cells[l * D + d], d = 1 is the reversed direction */
} sg_seq_layers;

/* Makes the N x D cells (layer l's input size is I for l = 0, else D*H) and
 * adds their parameters to ps.  SG_ERR_ARG for a bad config or a taken name,
 * SG_ERR_NOMEM; on error nothing is left to free (parameters already added
 * stay in ps).  Pair with sg_seq_layers_free. */
SG_NODISCARD sg_status sg_seq_layers_init(sg_seq_layers *s, sg_params *ps, const char *name, const sg_seq_config *cfg);
/* Frees the name and the cells (not the parameters); s is zeroed. */
void sg_seq_layers_free(sg_seq_layers *s);
/* sg_cell_reset_parameters on every cell, in order [l * D + d]. */
SG_NODISCARD sg_status sg_seq_layers_reset_parameters(sg_seq_layers *s, sg_rng *rng, const sg_cell_init_opts *o);
/* D * H, the feature size of the output. */
size_t sg_seq_layers_output_size(const sg_seq_layers *s);
/* Every parameter of every cell, in order (for counting or checkpoints):
 * writes up to cap pointers to out (the caller's array; the parameters
 * belong to their set) and returns the total number. */
size_t sg_seq_layers_params(const sg_seq_layers *s, sg_param **out, size_t cap);

typedef struct sg_seq_opts {
    sg_tensor *mask;           /* (T, B) padding mask, or NULL */
    const size_t *lengths;     /* (B) or NULL: packed (3'), lengths in any order;
                                 * not with mask */
    const sg_cell_state *init; /* (N * D) initial states [l * D + d], or NULL = zeros
                                 * (an entry's NULL h or c is zeros too) */
    bool training;             /* dropout is applied only when true */
    sg_rng *rng;               /* caller-owned; needed when training with any p > 0 */
    double dropout;            /* between layers, a fresh mask per step; [0, 1) */
    double var_input;          /* variational: every layer's input; [0, 1) */
    double var_recurrent;      /* variational: h_{t-1}; [0, 1) */
    double var_output;         /* variational: the top layer's output; [0, 1) */
} sg_seq_opts;

/* Everything off: no mask, zero states, evaluation mode. */
sg_seq_opts sg_seq_opts_defaults(void);

/* Runs the stack over xs (T, B, I).  Returns the top layer's output
 * (T, B, D*H), arena-owned.  final (N * D entries, or NULL) receives every
 * cell's final state [l * D + d].  o NULL: defaults.  NULL on error. */
sg_tensor *sg_seq_layers_forward(sg_graph *g, const sg_seq_layers *s, sg_tensor *xs, const sg_seq_opts *o,
                                 sg_cell_state *final);

#endif
