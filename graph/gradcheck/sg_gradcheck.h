/* sg_gradcheck.h — numerical gradient checking, a feature of the library.
 *
 * Two modes, both in f64 (the graph and the parameter set must be SG_F64):
 *
 *  - Model mode (sg_gradcheck_model): central differences of a scalar loss
 *    built by a caller's function, over every parameter element and every
 *    element of every input made with requires_grad, compared with what
 *    backward gives.  Reports the worst error and where it is (parameter name
 *    and element, or input name, scope and element).
 *
 *  - Per-op mode (sg_gradcheck_tape): for each op node on the recorded tape,
 *    the VJP applied to a random seed r is compared with central differences
 *    of <r, op(inputs)> with that op alone re-run.  The input gradients the
 *    VJP adds into are first filled with random values, and its contribution
 *    is what changed: a VJP that assigns instead of adding is caught.  Stops at the first node
 *    whose VJP is wrong and names it (op, scope, tape index, input, element).
 *
 * Numerical derivatives are central differences with steps h and h/2
 * combined by Richardson extrapolation (error O(h^4)); per-op mode sums
 * r_i (y+_i - y-_i) so untouched outputs cancel exactly.
 *
 * Verdict, per element (a analytic, n numeric):
 *     |a - n| <= tol * max(|a|, |n|, floor) + allowance
 * In per-op mode the allowance is 0.  In model mode it is what the difference
 * quotient cannot resolve: the rounding noise sigma of the loss is MEASURED
 * before the check (6th differences of L at 9 points spaced 1e-7 apart along
 * random directions, after More and Wild), a Richardson-combined central
 * difference with final step h carries 1.9 sigma / h of it, and 50 such
 * deviations are allowed (the largest of 10^4 Gaussian draws is about 4.4:
 * a margin of 10x for correct models).  So a long sequence, whose loss is
 * larger and noisier, is judged against its own noise, not against a fixed
 * guess.  Derivatives below the allowance (report->n_unresolved) cannot be
 * verified by any finite difference at this precision; the others must agree
 * to tol relatively.  report->max_ratio is the worst |a - n| / allowed: the
 * check passes when it is <= 1, and 1 / max_ratio is the margin.
 * docs/gradcheck.md derives the constants and lists the limits.
 */
#ifndef SG_GRADCHECK_H
#define SG_GRADCHECK_H

#include "graph/core/sg_graph.h"
#include "graph/core/sg_param.h"

/* One compared element, handed to opts->on_element (for per-parameter and
 * per-scope summaries; the strings live only during the call). */
typedef struct sg_gradcheck_element {
    const char *tensor; /* the parameter's or input's name; per-op mode: the op's name */
    const char *scope;  /* "" for the root; per-op mode: the node's scope (e.g. "rnn.l0/t57") */
    size_t tape_index;  /* per-op mode: the node; SIZE_MAX in model mode */
    size_t input;       /* per-op mode: which input of the node */
    size_t element;
    double analytic, numeric, allowed; /* allowed: the largest |analytic - numeric| that passes */
} sg_gradcheck_element;
typedef void (*sg_gradcheck_element_fn)(void *ctx, const sg_gradcheck_element *e);

typedef struct sg_gradcheck_opts {
    double eps;                         /* central-difference step h (Richardson with h and h/2) */
    double tol;                         /* largest relative error that passes */
    double floor;                       /* denominator floor of the relative error */
    size_t max_per_tensor;              /* elements checked per tensor, sampled (0 = all) */
    uint64_t seed;                      /* for sampling and per-op seeds */
    sg_gradcheck_element_fn on_element; /* called for every compared element (may be NULL) */
    void *on_element_ctx;
} sg_gradcheck_opts;

/* eps 1e-2 (halved as needed), tol 1e-6, floor 1e-6, every element, seed 1. */
sg_gradcheck_opts sg_gradcheck_defaults(void);

typedef struct sg_gradcheck_report {
    bool passed;
    size_t n_checked; /* elements compared */
    double max_abs_err;
    double max_rel_err;    /* over resolved elements (above the allowance) */
    double worst_analytic; /* at the worst relative error */
    double worst_numeric;
    char where[512]; /* the worst element, described */
    /* per-op mode: the first failing node (valid when !passed) */
    size_t bad_tape_index;
    const char *bad_op; /* static op name, or NULL */
    char bad_scope[256];
    double floor_used;    /* the relative-error floor applied */
    double max_ratio;     /* worst |a - n| / allowed; <= 1 passes */
    double worst_allowed; /* what was allowed at the worst element */
    double noise;         /* model mode: measured rounding noise (sigma) of the loss */
    double resolution;    /* model mode: the allowance at the nominal step eps */
    size_t n_unresolved;  /* elements whose derivative lies below the allowance */
} sg_gradcheck_report;

/* Builds the graph of one loss evaluation on g (already reset) and returns
 * the scalar loss, or NULL after an error (left in g). */
typedef sg_tensor *(*sg_loss_fn)(sg_graph *g, void *ctx);

/* Model mode.  Resets g many times; leaves it holding one final evaluation
 * with gradients.  Parameter gradients are zeroed first and hold the analytic
 * gradient afterwards.  Returns SG_OK when the check ran (see report->passed),
 * or an error (graph error, dtype, memory). */
SG_NODISCARD sg_status sg_gradcheck_model(sg_graph *g, sg_params *ps, sg_loss_fn fn, void *ctx,
                                          const sg_gradcheck_opts *opts, sg_gradcheck_report *report);

/* Per-op mode over the op nodes now on g's tape that require grad.  Leaves
 * every value and gradient as it found them. */
SG_NODISCARD sg_status sg_gradcheck_tape(sg_graph *g, const sg_gradcheck_opts *opts, sg_gradcheck_report *report);

/* Per-op mode for a single node. */
SG_NODISCARD sg_status sg_gradcheck_node(sg_graph *g, sg_tensor *node, const sg_gradcheck_opts *opts,
                                         sg_gradcheck_report *report);

/* ---- f32 kernels against f64 ---------------------------------------------
 * The f32 paths of the ops are separate code (sg_kernel.h: one macro body per
 * dtype, BLAS sgemm vs dgemm, fast exp), so a bug can live in f32 alone.
 * These checks run the same computation in both dtypes and compare: every
 * value v32 with its f64 counterpart v64 must satisfy
 *     |v32 - v64| <= 16 (1 + sqrt(m)) eps32 (|v64| + max |v64|)
 * over the tensor, m the node's largest input (a proxy for the longest sum).
 * The first node beyond it is named (op, scope, output or input gradient,
 * element) in report->bad_op / bad_scope / where; report->max_ratio is the
 * worst error as a fraction of its bound. */

/* g32 (f32) and g64 (f64) hold tapes recorded by the same construction (same
 * ops in the same order, e.g. an op's example built from the same seed, or a
 * loss function run in both).  The f64 graph's input and constant leaves are
 * rounded to f32 values and its ops re-run; then, node by node, the f32 op is
 * run on the rounded f64 inputs and compared (forward), and both VJPs of the
 * same random seed are compared (input gradients).  g32 is left as it was;
 * g64 keeps the rounded leaves.  SG_ERR_STATE when the tapes differ. */
SG_NODISCARD sg_status sg_gradcheck_precision(sg_graph *g32, sg_graph *g64, const sg_gradcheck_opts *opts,
                                              sg_gradcheck_report *report);

/* The whole model: ps (f64) is rounded to f32 values (its values change), the
 * loss and its gradient are computed in f64 and, with ps converted to f32, in
 * f32; every parameter's gradient is compared with the bound above, with
 * max |v| taken over the whole gradient (norm-wise: one parameter's gradient
 * can be a sum that cancels) and m = the tape's length, then each op locally
 * (sg_gradcheck_precision) so that a failure names the first op whose f32
 * result is off.  ps is f64 again afterwards. */
SG_NODISCARD sg_status sg_gradcheck_f32_model(sg_params *ps, sg_loss_fn fn, void *ctx, const sg_gradcheck_opts *opts,
                                              sg_gradcheck_report *report);

#endif
