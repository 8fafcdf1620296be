/* sg_cell.h — recurrent cells behind one interface, written only with op calls.
 *
 * A cell is one time step: (parameters, x_t, state) -> new state.  Its step
 * function records op calls on the graph; backpropagation through time comes
 * from the tape, so no cell carries backward code.  The sequence runner
 * (sg_seq.h) unrolls any cell over T steps.
 *
 * Dimension legend: B batch, I input features, H hidden units, G gates (a
 * cell's input projection has G*H columns), T time steps.
 *
 * Input projection.  A cell may declare G > 0: it then owns W_x (I, G*H) and
 * b_x (G*H), and the runner computes x_t W_x + b_x for ALL T steps with one
 * matmul; the step receives that projected (B, G*H) slice instead of x_t, so
 * its per-step work is only the recurrent part.  A cell with G = 0 receives the
 * raw x_t (B, I).
 *
 * Built-in cells (gate orders as in PyTorch, so weights exchange directly:
 * W_x = weight_ih^T, W_h = weight_hh^T, b_x = bias_ih, b_h = bias_hh):
 *   RNN   (G = 1): h' = f(x W_x + b_x + h W_h + b_h),   f = tanh, sigmoid or relu
 *   LSTM  (G = 4): [a_i a_f a_g a_o] = x W_x + b_x + h W_h + b_h
 *                  i, f, o = sigmoid(a_i, a_f, a_o);  g = tanh(a_g)
 *                  c' = f*c + i*g;  h' = o*tanh(c')
 *   peephole LSTM (G = 4, Gers & Schmidhuber): as LSTM but
 *                  i = sigmoid(a_i + p_i*c), f = sigmoid(a_f + p_f*c),
 *                  o = sigmoid(a_o + p_o*c')          (p_* (H), diagonal)
 *   GRU   (G = 3, exactly torch.nn.GRU): [x_r x_z x_n] = x W_x + b_x,
 *                  [h_r h_z h_n] = h W_h + b_h
 *                  r = sigmoid(x_r + h_r), z = sigmoid(x_z + h_z)
 *                  n = tanh(x_n + r*h_n);  h' = (1 - z)*n + z*h = n + z*(h - n)
 * Parameter names: "<prefix>.W_x" (I, G*H), "<prefix>.b_x" (G*H),
 * "<prefix>.W_h" (H, G*H), "<prefix>.b_h" (G*H), and for the peephole LSTM
 * "<prefix>.p_i", "<prefix>.p_f", "<prefix>.p_o" (H).  docs/cells.md has the
 * full reference and a user-defined cell.
 *
 * Ownership: a cell owns its name and its parameter LIST (heap, freed by
 * sg_cell_free); the parameters themselves belong to the sg_params set they
 * were added to.  Tensors in sg_cell_state live in the graph's arena.
 */
#ifndef SG_CELL_H
#define SG_CELL_H

#include "graph/core/sg_graph.h"
#include "graph/core/sg_param.h"
#include "graph/core/sg_rng.h"
#include "models/nn/sg_nn.h" /* sg_activation, sg_affine */

typedef enum sg_cell_kind {
    SG_CELL_RNN = 0,      /* simple RNN, G = 1 */
    SG_CELL_LSTM = 1,     /* G = 4, gates i, f, g, o */
    SG_CELL_PEEPHOLE = 2, /* LSTM with diagonal peepholes, G = 4 */
    SG_CELL_GRU = 3,      /* G = 3, gates r, z, n */
    SG_CELL_CUSTOM = 4    /* user-defined step */
} sg_cell_kind;

/* "rnn", "lstm", "peephole", "gru" (parse refuses "custom": SG_ERR_ARG). */
const char *sg_cell_kind_name(sg_cell_kind k);
SG_NODISCARD sg_status sg_cell_kind_parse(const char *name, sg_cell_kind *out);

/* The recurrent state between two steps.  Arena tensors (the graph owns them). */
typedef struct sg_cell_state {
    sg_tensor *h;     /* (B, H) hidden state (the cell's output) */
    sg_tensor *c;     /* (B, H) memory cell; NULL for cells without one */
    sg_tensor *h_rec; /* (B, H) in `prev` only: h as the RECURRENT INPUT, i.e. the
                       * tensor to multiply by recurrent weights.  It is h itself,
                       * or h times a variational dropout mask.  The runner and
                       * sg_cell_step always set it; a step ignores it in `next`. */
} sg_cell_state;

typedef struct sg_cell sg_cell;

/* One step of a cell, op calls only.
 *   x_t   (B, G*H) the projected input x_t W_x + b_x when cell->gates > 0,
 *         (B, I)   the raw input when cell->gates == 0;
 *   prev  the state before the step (h, c when cell->has_c, h_rec);
 *   next  receives the new h (B, H) and, when cell->has_c, c (B, H).
 * Returns false on error (normally an op failed and the graph holds the
 * message).  The step must not keep pointers beyond the graph step. */
typedef bool (*sg_cell_step_fn)(sg_graph *g, const sg_cell *cell, sg_tensor *x_t, const sg_cell_state *prev,
                                sg_cell_state *next);

struct sg_cell {
    sg_cell_kind kind;
    char *name;                /* "<prefix>", owned; parameter names start with it */
    size_t input, hidden;      /* I, H */
    size_t gates;              /* G; 0 = no input projection (the step gets raw x_t) */
    bool has_c;                /* the state carries a memory cell c */
    sg_activation act;         /* SG_CELL_RNN: the nonlinearity f */
    sg_param *W_x;             /* (I, G*H) when G > 0, else NULL */
    sg_param *b_x;             /* (G*H)    when G > 0, else NULL */
    sg_param *W_h;             /* (H, G*H) built-in cells; custom cells may set it */
    sg_param *b_h;             /* (G*H)    built-in cells; custom cells may set it */
    sg_param *p_i, *p_f, *p_o; /* (H) each, peephole LSTM only */
    sg_param **params;         /* (n_params) every parameter of the cell, in creation
                            * order; the array is owned, the parameters are not */
    size_t n_params, cap_params;
    sg_params *ps;        /* borrowed: the set sg_cell_add_param adds to */
    sg_cell_step_fn step; /* the step (built-in or user-defined) */
    void *user;           /* borrowed: user data for custom steps */
    /* NULL, or a custom cell's own initializers, run by sg_cell_reset_parameters
     * after the uniform draw (a cell file's zeros and ones) */
    sg_status (*reset)(sg_cell *cell);
};

/* ---- making cells -------------------------------------------------------
 * Each init fills *cell (previous contents are overwritten, not freed) and adds
 * the cell's parameters, zero-filled, to ps under "<prefix>.<name>".  Errors:
 * SG_ERR_ARG for a NULL argument, a size of 0, or a parameter name already in
 * ps (checked before anything is added); SG_ERR_NOMEM.  On error the cell holds
 * nothing to free.  Pair every successful init with sg_cell_free. */
SG_NODISCARD sg_status sg_cell_init_rnn(sg_cell *cell, sg_params *ps, const char *prefix, size_t input, size_t hidden,
                                        sg_activation f);
SG_NODISCARD sg_status sg_cell_init_lstm(sg_cell *cell, sg_params *ps, const char *prefix, size_t input, size_t hidden);
SG_NODISCARD sg_status sg_cell_init_peephole(sg_cell *cell, sg_params *ps, const char *prefix, size_t input,
                                             size_t hidden);
SG_NODISCARD sg_status sg_cell_init_gru(sg_cell *cell, sg_params *ps, const char *prefix, size_t input, size_t hidden);
/* Any built-in kind (act is used by SG_CELL_RNN only); SG_ERR_ARG for SG_CELL_CUSTOM. */
SG_NODISCARD sg_status sg_cell_init_kind(sg_cell *cell, sg_params *ps, const char *prefix, sg_cell_kind kind,
                                         sg_activation act, size_t input, size_t hidden);

/* A user-defined cell: `step` is called at every time step; gates = G > 0 adds
 * "<prefix>.W_x" (I, G*H) and "<prefix>.b_x" (G*H) and makes the runner project
 * the input (the step then gets (B, G*H)); gates = 0 passes the raw x_t.
 * has_c: the state carries c (zeros at the start, masked like h).  Add the
 * recurrent parameters with sg_cell_add_param.  user is borrowed. */
SG_NODISCARD sg_status sg_cell_init_custom(sg_cell *cell, sg_params *ps, const char *prefix, size_t input,
                                           size_t hidden, size_t gates, bool has_c, sg_cell_step_fn step, void *user);

/* Adds a zero-filled parameter "<cell name>.<suffix>" to the cell's set and to
 * its list; returns it (owned by the set), or NULL when the name is taken or
 * memory runs out. */
sg_param *sg_cell_add_param(sg_cell *cell, const char *suffix, sg_shape shape);

/* Frees the name and the parameter list (not the parameters); cell is zeroed.
 * NULL and zeroed cells are fine. */
void sg_cell_free(sg_cell *cell);

/* ---- initialization ----------------------------------------------------- */
typedef struct sg_cell_init_opts {
    double lo, hi;        /* every parameter ~ U[lo, hi); lo == hi == 0 means
                           * k = 1/sqrt(H), U[-k, k) (PyTorch's rule) */
    bool set_forget_bias; /* LSTM kinds: after the draw, the forget-gate slice
                           * [H, 2H) of b_x is set to forget_bias and that of b_h
                           * to 0, so the total forget bias is forget_bias */
    double forget_bias;
} sg_cell_init_opts;

/* PyTorch's range, forget bias set to 1.0. */
sg_cell_init_opts sg_cell_init_defaults(void);
/* Draws every parameter of the cell's list in order (one sg_rng draw per
 * element, sg_init_uniform), then applies the forget bias, then the cell's
 * reset hook when it has one.  o NULL: defaults.
 * SG_ERR_ARG for NULL cell/rng or a bad range. Allocates nothing. */
SG_NODISCARD sg_status sg_cell_reset_parameters(sg_cell *cell, sg_rng *rng, const sg_cell_init_opts *o);
/* LSTM kinds: b_x[H:2H] = v, b_h[H:2H] = 0.  SG_ERR_ARG for other kinds. */
SG_NODISCARD sg_status sg_cell_set_forget_bias(sg_cell *cell, double v);

/* ---- running ------------------------------------------------------------ */
/* Zeros (B, H) for h (and c when the cell has one), as constants "h0"/"c0";
 * h_rec = h.  Returns false on error (see g). */
bool sg_cell_state_zeros(sg_graph *g, const sg_cell *cell, size_t batch, sg_cell_state *state);

/* The input projection x W_x + b_x for x (..., I) -> (..., G*H), one matmul
 * whatever the leading axes.  NULL on error, or when the cell has no projection
 * (graph error SG_ERR_ARG). */
sg_tensor *sg_cell_project(sg_graph *g, const sg_cell *cell, sg_tensor *x);

/* One step with a RAW input x_t (B, I): projects it when G > 0, sets
 * prev->h_rec to prev->h if it is NULL, runs the step and checks the new
 * state's shapes.  For decoders that feed back their own output (for whole
 * sequences use sg_seq_run, which projects all steps at once).  Returns false
 * with a graph error naming the cell on any failure. */
bool sg_cell_step(sg_graph *g, const sg_cell *cell, sg_tensor *x_t, const sg_cell_state *prev, sg_cell_state *next);

/* As sg_cell_step for a cell with G > 0 whose input the caller has projected:
 * p_t (B, G*H) in place of x_t W_x + b_x (for inputs joined from parts, one
 * of them the same at every step: a peeky decoder's summary).  A graph error
 * (SG_ERR_ARG) for a cell with G = 0. */
bool sg_cell_step_projected(sg_graph *g, const sg_cell *cell, sg_tensor *p_t, const sg_cell_state *prev,
                            sg_cell_state *next);

/* The built-in cells' steps (the sg_cell_step_fn of each kind, as set by the
 * inits; the LSTM's also serves the peephole LSTM), for callers that name a
 * step directly: the op registry (frontends/registry). x_t is the PROJECTED
 * input (B, G*H); prev->h_rec must be set. */
bool sg_cell_step_rnn(sg_graph *g, const sg_cell *cell, sg_tensor *x_t, const sg_cell_state *prev, sg_cell_state *next);
bool sg_cell_step_lstm(sg_graph *g, const sg_cell *cell, sg_tensor *x_t, const sg_cell_state *prev,
                       sg_cell_state *next);
bool sg_cell_step_gru(sg_graph *g, const sg_cell *cell, sg_tensor *x_t, const sg_cell_state *prev, sg_cell_state *next);

/* Checks that a step produced a valid state for a batch of B rows; on failure
 * records a graph error "layer '<layer>' at step t<t>: ..." (t = SIZE_MAX:
 * "cell '<layer>': ...") and returns false.  False at once if g is in error. */
bool sg_cell_check_state(sg_graph *g, const sg_cell *cell, const char *layer, size_t t, size_t batch,
                         const sg_cell_state *next);

#endif
