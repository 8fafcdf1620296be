/* sg_graph.h — the graph: an arena, a tape, a scope stack and an error state.
 *
 * Define-by-run: every op computes its value at once and, when gradients are
 * enabled, appends its node to the tape.  sg_backward walks the tape in reverse
 * (a loop, never recursion) and accumulates gradients with +=, so a parameter
 * used at every time step receives the sum over steps and fan-out just works.
 *
 * Errors are sticky, as in cairo: the first failing call stores a message that
 * names the op, the scope and the shapes; every later op on the graph returns
 * NULL at once.  Model code can therefore chain op calls and check
 * sg_graph_status() once.  Nothing aborts.
 *
 * Ownership: the graph owns every tensor made on it.  sg_graph_reset rewinds the
 * arena (all tensors of the previous step become invalid) but keeps its memory,
 * the tape's capacity and the scope stack's capacity, so steady-state steps do
 * not touch the heap.
 */
#ifndef SG_GRAPH_H
#define SG_GRAPH_H

#include "graph/core/sg_op.h"
#include "graph/core/sg_tensor.h"

#include <stdarg.h>

/* Makes an empty graph whose floating tensors have element type dtype
 * (SG_F32 or SG_F64).  NULL when out of memory. */
SG_NODISCARD sg_graph *sg_graph_new(sg_dtype dtype);
void sg_graph_free(sg_graph *g);
/* Forgets every tensor, the tape, the scopes and the error; keeps memory. */
void sg_graph_reset(sg_graph *g);

sg_dtype sg_graph_dtype(const sg_graph *g);
/* SG_OK, or the status of the first error since the last reset/clear. */
SG_NODISCARD sg_status sg_graph_status(const sg_graph *g);
/* The first error's message ("" when none).  Owned by g; valid until reset. */
const char *sg_graph_error(const sg_graph *g);
void sg_graph_clear_error(sg_graph *g);
/* Records an error (first one wins) with a printf-style message; returns s. */
sg_status sg_graph_fail(sg_graph *g, sg_status s, const char *fmt, ...);

/* Records an error about op `op_name` applied to inputs src[0..n-1], in the
 * format of every op error: "op 'NAME' in scope 'PATH': MESSAGE; inputs:
 * (2, 3) f32, (4) i32".  For ops that validate before calling sg_op_apply
 * (split).  Returns s. */
sg_status sg_graph_fail_op(sg_graph *g, sg_status s, const char *op_name, sg_tensor *const *src, size_t n,
                           const char *fmt, ...);

/* Gradient recording.  With it off ("no-grad"), ops still compute but nothing
 * goes on the tape and no output requires grad (inference, evaluation). */
void sg_graph_set_grad_enabled(sg_graph *g, bool on);
bool sg_graph_grad_enabled(const sg_graph *g);
/* Anomaly mode: the first op whose output (forward) or input gradient
 * (backward) holds a NaN or Inf becomes the graph's error, named with scope. */
void sg_graph_set_anomaly(sg_graph *g, bool on);

/* The tape: every recorded node, leaves included, in creation order. */
size_t sg_graph_tape_len(const sg_graph *g);
sg_tensor *sg_graph_tape_at(const sg_graph *g, size_t i);

/* Arena statistics (bytes). */
size_t sg_graph_arena_used(const sg_graph *g);
size_t sg_graph_arena_reserved(const sg_graph *g);
/* Arena memory for op kernels and models (zeroed); NULL + graph error on OOM. */
void *sg_graph_alloc(sg_graph *g, size_t bytes);

/* ---- scopes ------------------------------------------------------------ */
/* Pushes a scope named by a printf format ("lstm.l0", "t%zu").  Nodes made until
 * the matching pop remember it; the DOT export clusters or collapses by it. */
void sg_scope_push(sg_graph *g, const char *fmt, ...);
void sg_scope_pop(sg_graph *g);
const sg_scope *sg_scope_current(const sg_graph *g);
const sg_scope *sg_scope_parent(const sg_scope *s);
const char *sg_scope_name(const sg_scope *s);
size_t sg_scope_depth(const sg_scope *s); /* root children have depth 1 */
size_t sg_scope_id(const sg_scope *s);    /* unique within a graph step */
/* Writes the full path "lstm.l0/t3" ("" for NULL); returns buf. */
char *sg_scope_path(const sg_scope *s, char *buf, size_t cap);
/* The ancestor of s at depth `depth` (s itself if shallower or equal). */
const sg_scope *sg_scope_at_depth(const sg_scope *s, size_t depth);

/* ---- leaves ------------------------------------------------------------ */
/* An input tensor of the graph's float dtype, filled from data converted from
 * f32 or f64 (NULL data: zeros).  requires_grad makes backward fill t->grad;
 * gradient checks perturb such inputs. */
sg_tensor *sg_input_f32(sg_graph *g, const char *name, sg_shape shape, const float *data, bool requires_grad);
sg_tensor *sg_input_f64(sg_graph *g, const char *name, sg_shape shape, const double *data, bool requires_grad);
/* A constant filled with value (never differentiated). */
sg_tensor *sg_const_fill(sg_graph *g, const char *name, sg_shape shape, double value);
/* An int32 id tensor (embedding rows, class targets); copied. */
sg_tensor *sg_ids(sg_graph *g, const char *name, sg_shape shape, const int32_t *ids);
/* Stop-gradient: a constant leaf sharing x's data (for truncated BPTT). */
sg_tensor *sg_detach(sg_graph *g, sg_tensor *x);

/* ---- backward ---------------------------------------------------------- */
/* Reverse pass from a scalar loss (seed 1).  Gradients of leaves (parameters,
 * inputs with requires_grad) accumulate across calls; gradients of op nodes are
 * recomputed by each call.  Returns SG_OK or the graph's error. */
SG_NODISCARD sg_status sg_backward(sg_graph *g, sg_tensor *loss);
/* Reverse pass from any recorded output with a seed gradient of its shape
 * (seed holds out->numel values of the graph dtype). */
SG_NODISCARD sg_status sg_backward_seed(sg_graph *g, sg_tensor *out, const void *seed);

/* A hook into the reverse pass, for work that can start before it ends (a
 * data-parallel gradient reduction, graph/comm/sg_grad_sync.h).  While set,
 * sg_backward and sg_backward_seed call fn(ctx, p, left) for every
 * parameter p used on the tape, right after the VJP of its first use on
 * the tape (the last one the reverse pass visits): from then on p->grad
 * holds its whole gradient of this pass (and its list, when listed); left
 * is the number of nodes the pass has still to visit down to the last one
 * with a VJP to run (0: no work is left).  After every node they also call
 * fn(ctx, NULL, left), so the hook
 * can make progress on work it started.  fn must not touch the graph.
 * Parameters that the tape does not use are never reported.  NULL fn
 * clears it; a reset keeps it. */
typedef void (*sg_grad_ready_fn)(void *ctx, sg_param *p, size_t left);
void sg_graph_set_grad_ready(sg_graph *g, sg_grad_ready_fn fn, void *ctx);

#endif
