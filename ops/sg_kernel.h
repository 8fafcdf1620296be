/* sg_kernel.h — helpers for writing op kernels (ops/ only; not public API).
 *
 * SG_KERNEL(name, body) writes the body once and makes three functions:
 * name_f32 and name_f64, in which `T` is float or double, and `name`, which
 * dispatches on node->dtype.  With <tgmath.h>, exp/log/tanh in the body pick
 * the float or double version from the argument's type.  A kernel has the
 * signature void (sg_tensor *node).
 */
#ifndef SG_KERNEL_H
#define SG_KERNEL_H

#include "../graph/sg_graph.h"
#include "../graph/sg_rng.h"
#include "sg_ops.h"

#include <stdio.h>
#include <tgmath.h>

#define SG_KERNEL(name, ...)                                                                                           \
    static void name##_f32(sg_tensor *node)                                                                            \
    {                                                                                                                  \
        typedef float T;                                                                                               \
        (void)sizeof(T);                                                                                               \
        __VA_ARGS__                                                                                                    \
    }                                                                                                                  \
    static void name##_f64(sg_tensor *node)                                                                            \
    {                                                                                                                  \
        typedef double T;                                                                                              \
        (void)sizeof(T);                                                                                               \
        __VA_ARGS__                                                                                                    \
    }                                                                                                                  \
    static void name(sg_tensor *node)                                                                                  \
    {                                                                                                                  \
        if (node->dtype == SG_F64)                                                                                     \
            name##_f64(node);                                                                                          \
        else                                                                                                           \
            name##_f32(node);                                                                                          \
    }

/* Normalizes a possibly negative axis against ndim; returns -1 if out of range. */
static inline int sg_axis_norm(int axis, int ndim)
{
    if (axis < 0)
        axis += ndim;
    return (axis >= 0 && axis < ndim) ? axis : -1;
}

/* Checks that every input of node is a float tensor of the graph's dtype. */
static inline sg_status sg_check_float_inputs(const sg_tensor *node, char *msg, size_t cap)
{
    for (size_t k = 0; k < node->n_src; k++) {
        if (node->src[k]->dtype != sg_graph_dtype(node->graph)) {
            snprintf(msg, cap, "input %zu must be %s (the graph's dtype), not %s", k,
                     sg_dtype_name(sg_graph_dtype(node->graph)), sg_dtype_name(node->src[k]->dtype));
            return SG_ERR_DTYPE;
        }
    }
    return SG_OK;
}

/* A random input for gradient-check examples: uniform in [lo, hi), requires grad. */
static inline sg_tensor *sg_example_input(sg_graph *g, sg_rng *rng, const char *name, sg_shape s, double lo,
                                          double hi)
{
    size_t n = sg_shape_numel(s);
    double *buf = sg_graph_alloc(g, n * sizeof *buf);
    if (!buf)
        return NULL;
    for (size_t i = 0; i < n; i++)
        buf[i] = sg_rng_range(rng, lo, hi);
    return sg_input_f64(g, name, s, buf, true);
}

#endif
