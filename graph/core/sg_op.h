/* sg_op.h — the op interface the graph engine calls.  The graph knows ops only
 * through this descriptor; the descriptors themselves, one file per op family,
 * live in ops/ and are listed in the one op table (ops/sg_op_table.c).
 *
 * The life of a node:
 *   1. sg_op_apply() allocates the node, stores inputs and args, and calls
 *      `shape`, which validates the inputs and sets the output dtype and shape
 *      (and aux_bytes if the VJP needs saved state).  On failure it writes what
 *      was expected into msg; the engine adds op name, scope and input shapes.
 *   2. The engine allocates data (and aux) in the arena and calls `forward`,
 *      which must compute node->data (and node->aux) from the inputs alone, so
 *      that it can be re-run (per-op gradient check); or, for a view (the
 *      `view` field), points node->data into the input's data.
 *   3. On backward, `vjp` is called with node->grad set; for every input k that
 *      requires grad, src[k]->grad exists (zeroed or holding earlier sums) and
 *      the VJP ADDS its contribution (+=); for an op with vjp_assigns, a
 *      gradient just made for the call is instead left unzeroed and marked
 *      grad_fresh, and the VJP writes all of it (= value + 0).  It must leave
 *      node->data unchanged.
 *
 * Inputs marked in nondiff_inputs (bit k = input k; bit 31 = all inputs from
 * the 32nd on) are never differentiated: integer ids, targets.
 *
 * Ownership: a descriptor (sg_op) is static and never freed; sg_op_apply's
 * node belongs to g (valid until sg_graph_reset or sg_graph_free); src is
 * borrowed for the call and its tensors must belong to g.
 */
#ifndef SG_OP_H
#define SG_OP_H

#include "graph/core/sg_tensor.h"

typedef struct sg_rng sg_rng;
typedef struct sg_grad_list_entry sg_grad_list_entry; /* graph/core/sg_param.h */

typedef sg_status (*sg_op_shape_fn)(sg_tensor *node, char *msg, size_t cap);
typedef void (*sg_op_kernel_fn)(sg_tensor *node);
/* Builds a random example of the op for gradient checking: variant v of
 * n_variants (shapes incl. broadcasting and size-1 edges), inputs drawn from rng
 * and created with requires_grad; returns the op's output or NULL on error. */
typedef sg_tensor *(*sg_op_example_fn)(sg_graph *g, sg_rng *rng, int variant);

struct sg_op {
    const char *name;         /* public name, e.g. "matmul" */
    int arity;                /* number of inputs; -1 = any number >= 1 */
    unsigned nondiff_inputs;  /* bit k: input k is not differentiable */
    sg_op_shape_fn shape;     /* validate inputs, set out dtype/shape/aux_bytes */
    sg_op_kernel_fn forward;  /* node->data (+aux) from inputs */
    sg_op_kernel_fn vjp;      /* src[k]->grad += J_k^T node->grad */
    sg_op_example_fn example; /* gradient-check case */
    /* NULL, or: the rows of input k (a table) that the VJP writes, n of them
     * (NULL when it writes all of input k).  Lets a parameter used only this
     * way keep a row-sparse gradient (sg_param.h). */
    const int32_t *(*vjp_rows)(const sg_tensor *node, size_t k, size_t *n);
    /* NULL, or (with vjp_rows): the VJP of input k adds to each of the rows
     * only a multiple of a row that already exists (row i of node->grad for
     * a gather; weight x a row of the other input or of node->grad for the
     * weighted gathers) and does nothing else, so backward can, for a
     * parameter that keeps its gradient as a list (sg_param.h), fill *e
     * (rows, grad, n, group, weight; everything in the graph's arena or the
     * inputs) instead of running the VJP for that input. */
    void (*vjp_list)(const sg_tensor *node, size_t k, sg_grad_list_entry *e);
    /* The VJP honours src[k]->grad_fresh for every input: a gradient marked
     * fresh (allocated for this call, not zeroed) gets every element written
     * as value + 0, the bytes an accumulation into zeros gives, so backward
     * need not zero it first.  An input that appears twice among the inputs
     * is never marked. */
    bool vjp_assigns;
    /* NULL, or: whether this node's output is input 0's elements from element
     * *offset on, in the same order (a reshape; a slice of contiguous rows).
     * Then the output is a view: the engine points node->data into
     * src[0]->data instead of allocating and computing it, and forward is
     * never called for the node (sg_op_forward re-points it instead).  The
     * VJP is unchanged.  A view's values change with its input's, so no code
     * may write into an op's input after using it (none does: leaves are
     * filled when made). */
    bool (*view)(const sg_tensor *node, size_t *offset);
    int n_variants; /* number of example variants (>= 1) */
    /* Per-op finite differences are unreliable near kinks (relu at 0); an op may
     * keep its examples away from them; nothing else is relaxed. */
};

/* Applies op to inputs in graph g (see "the life of a node" above).  Returns
 * the output node, or NULL if the graph is already in error, an input is NULL,
 * or the shape rule fails; the error is then readable with sg_graph_error(g).
 * args may be NULL (all zeros).  Inputs must belong to g. */
sg_tensor *sg_op_apply(sg_graph *g, const sg_op *op, sg_tensor *const *src, size_t n_src, const sg_op_args *args);

/* Computes node->data again from its inputs' current data: forward, or for a
 * view (op->view) points node->data into src[0]->data again, so that it
 * follows an input whose data pointer was swapped (the precision check). */
void sg_op_forward(sg_tensor *node);

/* Whether input k of op is differentiable. */
bool sg_op_input_differentiable(const sg_op *op, size_t k);

#endif
