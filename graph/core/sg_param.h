/* sg_param.h — parameters: named tensors that outlive the step arena.
 *
 * A parameter set owns its parameters; each parameter owns its value, its
 * gradient accumulator and its optimizer state, all on the heap, made once.
 * Inside a step, sg_param_use() gives the parameter's leaf in a graph: the leaf
 * shares the parameter's value and gradient buffers, so backward accumulates
 * straight into the parameter (+=, summed over every use and time step).
 *
 * Element type: a set is f32 (training) or f64 (gradient checks); the graph that
 * uses a parameter must have the same dtype.  sg_params_set_dtype converts a
 * whole set in place (f32 -> f64 -> f32 is exact), so the same model code can
 * be gradient-checked in f64 and trained in f32.
 */
#ifndef SG_PARAM_H
#define SG_PARAM_H

#include "graph/core/sg_tensor.h"

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
};

typedef struct sg_params {
    sg_param **items; /* (n) owned */
    size_t n, cap;
    sg_dtype dtype;
} sg_params;

/* Makes an empty set of dtype SG_F32 or SG_F64; NULL when out of memory. */
SG_NODISCARD sg_params *sg_params_new(sg_dtype dtype);
/* Frees the set and every parameter in it; leaves made from them dangle. */
void sg_params_free(sg_params *ps);
/* Adds a zero-filled parameter.  NULL when out of memory, the name is taken,
 * or the shape is invalid. */
sg_param *sg_params_add(sg_params *ps, const char *name, sg_shape shape);
sg_param *sg_params_find(const sg_params *ps, const char *name);
/* Total number of scalars. */
size_t sg_params_numel(const sg_params *ps);
void sg_params_zero_grad(sg_params *ps);
/* Converts every value, gradient and optimizer moment to dtype.  On
 * SG_ERR_NOMEM each parameter is either wholly converted or untouched, the set's
 * dtype is unchanged, and calling again (or converting back) repairs it. */
SG_NODISCARD sg_status sg_params_set_dtype(sg_params *ps, sg_dtype dtype);

double sg_param_get(const sg_param *p, size_t i);
void sg_param_set(sg_param *p, size_t i, double v);
double sg_param_grad_get(const sg_param *p, size_t i);

typedef struct sg_graph sg_graph;
/* The leaf of p in g (made on first use in the current step, then reused, so a
 * parameter is one node however often it is used).  Parameter leaves have no
 * scope.  NULL + graph error if dtypes differ or memory runs out. */
sg_tensor *sg_param_use(sg_graph *g, sg_param *p);

#endif
