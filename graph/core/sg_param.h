/* sg_param.h — parameters: named tensors that outlive the step arena.
 *
 * A parameter set owns its parameters; each parameter owns its value, its
 * gradient accumulator and its optimizer state, all on the heap, made once.
 * Inside a step, sg_param_use() gives the parameter's leaf in a graph: the leaf
 * shares the parameter's value and gradient buffers, so backward accumulates
 * straight into the parameter (+=, summed over every use and time step).
 *
 * Row-sparse gradients: when, since the last sg_params_zero_grad, backward
 * wrote a parameter's gradient only through ops that touch listed rows (a row
 * gather: an embedding lookup), the parameter remembers those rows, and
 * zeroing, the gradient norm, clipping and plain SGD visit only them: a step
 * costs O(rows touched x row size), not O(rows x row size).  Any other use
 * makes the gradient dense again until the next zero_grad.  The values are
 * the same either way (the rows are visited in ascending order, so sums are
 * bit for bit those of the dense loops).  Code that writes p->grad by hand
 * after a backward must call sg_param_grad_note_dense(p) first.
 *
 * Element type: a set is f32 (training) or f64 (gradient checks); the graph that
 * uses a parameter must have the same dtype.  sg_params_set_dtype converts a
 * whole set in place (f32 -> f64 -> f32 is exact), so the same model code can
 * be gradient-checked in f64 and trained in f32.
 *
 * Ownership: sg_params_new's set is the caller's (sg_params_free, which
 * frees every parameter and leaves leaves made from them dangling); a
 * parameter from sg_params_add or sg_params_find belongs to its set; the leaf
 * from sg_param_use belongs to the graph (valid until sg_graph_reset) and
 * shares the parameter's buffers.  sg_params_set_dtype reallocates every
 * buffer: pointers into p->data, p->grad, p->m or p->v taken before it are
 * invalidated, as are leaves of the current step.
 */
#ifndef SG_PARAM_H
#define SG_PARAM_H

#include "graph/core/sg_tensor.h"

/* Gradients kept as a list (sg_param_set_grad_listed): a parameter used
 * through ops whose VJP adds multiples of existing rows into it (a row
 * gather, a weighted row sum, a gathered dot: sg_op.vjp_list) can leave its gradient table alone:
 * backward lists such nodes (their ids and gradient rows, both in the
 * graph's arena) instead of running their VJP, and plain SGD without weight
 * decay applies each listed row to the value directly (sg_sgd,
 * sg_sgd_apply_replicas): one pass over a used row instead of three (the
 * scatter-add into grad, the update, the zeroing).  Every other reader of the
 * gradient (norms, clipping, momentum, Adam, gradient checks) first adds the
 * list into grad (sg_params_grad_flush_lists), in the order backward would
 * have: the same bytes as without the list.  Any other use of the parameter
 * still goes to grad as before.  The entries live in the graph they were made
 * on: valid until it is reset or freed; sg_params_zero_grad empties the list,
 * and so does flushing it. */
typedef struct sg_grad_list_entry sg_grad_list_entry;
struct sg_grad_list_entry {
    const int32_t *rows; /* (n) rows of the parameter's first axis */
    const void *grad;    /* (n / group, row) in the parameter's dtype */
    size_t n;
    /* list row i gets weight[i] x grad row i / group: group 1 and weight NULL
     * (a weight of 1) for a gather; a row whose weight is 0 adds nothing and
     * is skipped */
    size_t group;
    const void *weight; /* NULL or (n) in the parameter's dtype */
    struct sg_grad_list_entry *next;
};

/* SG_GRAD_ALL: any element may be nonzero (the default: hand-written grads are
 * safe); SG_GRAD_ZEROED: zeroed and not yet written by backward; SG_GRAD_ROWS:
 * only the rows in grad_rows may be nonzero. */
typedef enum sg_grad_extent { SG_GRAD_ALL = 0, SG_GRAD_ZEROED, SG_GRAD_ROWS } sg_grad_extent;

struct sg_param {
    char *name; /* owned; unique within its set */
    sg_shape shape;
    size_t numel;
    sg_dtype dtype; /* the set's dtype */
    void *value;    /* (numel) owned */
    void *grad;     /* (numel) owned, accumulated by backward */
    void *m;        /* (numel) first moment (Adam) / momentum; NULL until needed */
    void *v;        /* (numel) second moment (Adam); NULL until needed */
    /* leaf cache: the leaf made for graph `leaf_graph` at step `leaf_step` */
    sg_tensor *leaf;
    const sg_graph *leaf_graph;
    uint64_t leaf_step;
    /* what of grad may be nonzero (see "Row-sparse gradients" above) */
    sg_grad_extent grad_extent;
    size_t *grad_rows; /* (n_grad_rows) distinct rows written, owned; sorted when grad_rows_sorted */
    size_t n_grad_rows, grad_rows_cap;
    bool grad_rows_sorted;
    unsigned char *grad_row_seen; /* (shape.d[0]) owned, 1 for a row in grad_rows; NULL until needed */
    bool value_borrowed;          /* a replica's: value is the master parameter's (sg_params_replica) */
    /* the gradient as a list (see above): on, and the entries in backward's order */
    bool grad_listed;
    sg_grad_list_entry *grad_list, *grad_list_tail;
};

typedef struct sg_params {
    sg_param **items; /* (n) owned */
    size_t n, cap;
    sg_dtype dtype;
    const struct sg_params *master; /* a replica's master set (sg_params_replica); NULL otherwise */
} sg_params;

/* Makes an empty set of dtype SG_F32 or SG_F64; NULL when out of memory. */
SG_NODISCARD sg_params *sg_params_new(sg_dtype dtype);
/* Frees the set and every parameter in it; leaves made from them dangle. */
void sg_params_free(sg_params *ps);
/* Adds a zero-filled parameter.  NULL when out of memory, the name is taken,
 * or the shape is invalid. */
sg_param *sg_params_add(sg_params *ps, const char *name, sg_shape shape);
sg_param *sg_params_find(const sg_params *ps, const char *name);
/* A replica of master for data-parallel training: a new set (the caller's,
 * sg_params_free, before master is freed) with a parameter for each of
 * master's, same names, shapes and order, whose value IS the master
 * parameter's buffer (borrowed: reads see every update of master, and
 * writing it writes master) and whose gradient, row bookkeeping and leaf
 * cache are its own.  So one thread per replica can run forward and
 * backward on its own graph at the same time as the others, each
 * accumulating into its own gradients; the updates are then applied to
 * master (sg_sgd_apply_replicas).  A replica has no optimizer state, and
 * its dtype cannot be converted (sg_params_set_dtype refuses it).  NULL
 * when out of memory. */
SG_NODISCARD sg_params *sg_params_replica(const sg_params *master);
/* Total number of scalars. */
size_t sg_params_numel(const sg_params *ps);
void sg_params_zero_grad(sg_params *ps);
/* Converts every value, gradient and optimizer moment to dtype.  On
 * SG_ERR_NOMEM each parameter is either wholly converted or untouched, the set's
 * dtype is unchanged, and calling again (or converting back) repairs it.
 * SG_ERR_ARG for a replica; converting a master invalidates its replicas. */
SG_NODISCARD sg_status sg_params_set_dtype(sg_params *ps, sg_dtype dtype);

double sg_param_get(const sg_param *p, size_t i);
void sg_param_set(sg_param *p, size_t i, double v);
double sg_param_grad_get(const sg_param *p, size_t i);

/* Backward's bookkeeping (also for code that writes gradients itself):
 * note_rows says that rows[0..n-1] (ids in [0, shape.d[0])) are about to be
 * written; note_dense that any element may be.  Neither fails: when the row
 * list cannot grow, or an id is out of range, the gradient becomes dense. */
void sg_param_grad_note_rows(sg_param *p, const int32_t *rows, size_t n);
void sg_param_grad_note_dense(sg_param *p);
/* Turns the list form of p's gradient on or off (off flushes the list into
 * grad first).  A replica made later copies the setting. */
void sg_param_set_grad_listed(sg_param *p, bool on);
/* Backward's: appends e (in the graph's arena) to p's list. */
void sg_param_grad_list_append(sg_param *p, sg_grad_list_entry *e);
/* Adds e's rows into table (rows x row elements of dtype dt), in order:
 * row rows[i] += weight[i] x grad row i / group, rows out of range and
 * weight-0 rows skipped.  The one scatter behind a flushed list and the
 * dense VJPs of the ops that list (ops/sg_ops_index.c), so both give the
 * same bytes. */
void sg_grad_list_entry_add(const sg_grad_list_entry *e, sg_dtype dt, void *table, size_t rows, size_t row);
/* Adds every listed row into grad, in list order, noting the rows (so grad
 * becomes what backward would have written without the list), and empties
 * the list.  The graph the entries were made on must not have been reset. */
void sg_param_grad_flush_list(sg_param *p);
void sg_params_grad_flush_lists(const sg_params *ps); /* the set is not changed, its parameters are */

/* The element ranges of p->grad that may be nonzero, in ascending order: one
 * range [0, numel) when dense, else one per written row (none when zeroed
 * and unwritten counts as dense: SG_GRAD_ZEROED reads as SG_GRAD_ALL, since
 * code may have written by hand).  Range i is [*begin, *begin + *len). */
size_t sg_param_grad_ranges(sg_param *p);
/* The same ranges in the order the rows were written, without sorting: for
 * updates that treat every element on its own (plain SGD), where the order
 * cannot change a value.  Sums over the gradient use sg_param_grad_ranges. */
size_t sg_param_grad_ranges_any(const sg_param *p);
void sg_param_grad_range(const sg_param *p, size_t i, size_t *begin, size_t *len);

typedef struct sg_graph sg_graph;
/* The leaf of p in g (made on first use in the current step, then reused, so a
 * parameter is one node however often it is used).  Parameter leaves have no
 * scope.  NULL + graph error if dtypes differ or memory runs out. */
sg_tensor *sg_param_use(sg_graph *g, sg_param *p);

#endif
