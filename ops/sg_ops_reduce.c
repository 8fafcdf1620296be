/* sg_ops_reduce.c — reductions and normalizations along one axis.  Each op's
 * forward kernel and its VJP sit side by side; y is the output, gy its
 * gradient, gx the input's gradient.  An input viewed along the axis is
 * (outer, n, inner): n elements x[o, j, i] (j = 0..n-1) form one "lane".
 *
 *   sum          y[o, i] = sum_j x[o, j, i]            gx[o, j, i] += gy[o, i]
 *   mean         y[o, i] = (1/n) sum_j x[o, j, i]      gx[o, j, i] += gy[o, i] / n
 *     The axis is removed.  args.i[0] = axis (negative counts from the end),
 *     args.i[1] = 1 reduces over all axes instead (sum_all / mean_all: a 0-d
 *     scalar, the whole tensor being one lane with n = numel).
 *   softmax      m = max_j x_j,  y_j = e^(x_j - m) / sum_k e^(x_k - m)
 *                gx_j += y_j * (gy_j - sum_k gy_k y_k)
 *   log_softmax  y_j = x_j - m - log(sum_k e^(x_k - m))
 *                gx_j += gy_j - e^(y_j) * sum_k gy_k     (e^y = softmax(x))
 *     Per lane, along args.i[0]; the shape is kept.  Subtracting the lane's
 *     max keeps every exponent <= 0, so inputs like +-1000 stay finite.
 * Lane sums are accumulated in double for both dtypes.
 */
#include "ops/sg_kernel.h"
#include "ops/sg_op_table.h"

/* Normalizes the axis argument against ndim without narrowing first (a long
 * outside int's range must not wrap into a valid axis); -1 when out of range. */
static int sg_reduce_axis_arg(long axis, int ndim)
{
    if (axis < -(long)ndim || axis >= (long)ndim)
        return -1;
    return sg_axis_norm((int)axis, ndim);
}

/* The (outer, n, inner) view of shape s along axis ax. */
static void sg_lane_dims(sg_shape s, int ax, size_t *outer, size_t *n, size_t *inner)
{
    size_t o = 1, in = 1;
    for (int k = 0; k < ax; k++)
        o *= s.d[k];
    for (int k = ax + 1; k < s.ndim; k++)
        in *= s.d[k];
    *outer = o;
    *n = s.d[ax];
    *inner = in;
}

/* The lane view of node's input: the reduced (or normalized) axis, or the whole
 * tensor as one lane when args.i[1] asks for all axes.  Valid after the shape
 * rule has accepted the node. */
static void sg_node_lanes(const sg_tensor *node, bool all_allowed, size_t *outer, size_t *n, size_t *inner)
{
    const sg_tensor *x = node->src[0];
    if (all_allowed && node->args.i[1]) {
        *outer = 1;
        *n = x->numel;
        *inner = 1;
        return;
    }
    sg_lane_dims(x->shape, sg_reduce_axis_arg(node->args.i[0], x->shape.ndim), outer, n, inner);
}

/* Writes the "axis out of range" message for input shape s. */
static sg_status sg_axis_error(long axis, int ndim, const char *what, char *msg, size_t cap)
{
    if (ndim == 0)
        snprintf(msg, cap, "%s needs an axis, but the input is 0-d (axis %ld)", what, axis);
    else
        snprintf(msg, cap, "axis %ld is out of range for a %d-d input (valid: %d to %d)", axis, ndim, -ndim, ndim - 1);
    return SG_ERR_AXIS;
}

/* ---- sum and mean ------------------------------------------------------- */

/* x float of the graph dtype.  All axes (args.i[1] = 1): a 0-d output.  One
 * axis: that axis removed (a 1-D input gives a 0-d output). */
static sg_status sg_reduce_shape(sg_tensor *node, char *msg, size_t cap)
{
    sg_status st = sg_check_float_inputs(node, msg, cap);
    if (st != SG_OK)
        return st;
    const sg_tensor *x = node->src[0];
    if (node->args.i[1] != 0 && node->args.i[1] != 1) {
        snprintf(msg, cap, "the all-axes flag (args.i[1]) must be 0 or 1, not %ld", node->args.i[1]);
        return SG_ERR_ARG;
    }
    if (node->args.i[1]) {
        node->shape = SG_SCALAR;
        return SG_OK;
    }
    int ax = sg_reduce_axis_arg(node->args.i[0], x->shape.ndim);
    if (ax < 0)
        return sg_axis_error(node->args.i[0], x->shape.ndim, "reducing along one axis", msg, cap);
    sg_shape out = {.ndim = x->shape.ndim - 1};
    for (int k = 0, o = 0; k < x->shape.ndim; k++)
        if (k != ax)
            out.d[o++] = x->shape.d[k];
    node->shape = out;
    return SG_OK;
}

/* 1 for sum, 1/n for mean. */
static double sg_reduce_scale(const sg_tensor *node, size_t n)
{
    return node->op == &sg_op_mean ? 1.0 / (double)n : 1.0;
}

/* clang-format off */
SG_KERNEL(sg_reduce_forward,
    size_t outer, n, inner;
    sg_node_lanes(node, true, &outer, &n, &inner);
    double c = sg_reduce_scale(node, n);
    const T *x = node->src[0]->data; /* (outer, n, inner) */
    T *y = node->data;               /* (outer, inner) */
    for (size_t o = 0; o < outer; o++) {
        for (size_t i = 0; i < inner; i++) {
            double acc = 0.0;
            for (size_t j = 0; j < n; j++)
                acc += (double)x[(o * n + j) * inner + i];
            y[o * inner + i] = (T)(c * acc);
        }
    })

SG_KERNEL(sg_reduce_vjp,
    T *gx = node->src[0]->grad; /* (outer, n, inner) */
    if (!gx)
        return;
    size_t outer, n, inner;
    sg_node_lanes(node, true, &outer, &n, &inner);
    T c = (T)sg_reduce_scale(node, n);
    const T *gy = node->grad; /* (outer, inner) */
    for (size_t o = 0; o < outer; o++)
        for (size_t j = 0; j < n; j++)
            for (size_t i = 0; i < inner; i++)
                gx[(o * n + j) * inner + i] += c * gy[o * inner + i];)
/* clang-format on */

static sg_tensor *sg_reduce_apply(sg_graph *g, const sg_op *op, sg_tensor *x, long axis, long all)
{
    sg_op_args args = {.i = {axis, all}};
    return sg_op_apply(g, op, &x, 1, &args);
}

sg_tensor *sg_sum(sg_graph *g, sg_tensor *x, int axis) { return sg_reduce_apply(g, &sg_op_sum, x, axis, 0); }
sg_tensor *sg_mean(sg_graph *g, sg_tensor *x, int axis) { return sg_reduce_apply(g, &sg_op_mean, x, axis, 0); }
sg_tensor *sg_sum_all(sg_graph *g, sg_tensor *x) { return sg_reduce_apply(g, &sg_op_sum, x, 0, 1); }
sg_tensor *sg_mean_all(sg_graph *g, sg_tensor *x) { return sg_reduce_apply(g, &sg_op_mean, x, 0, 1); }

/* Examples shared by sum and mean: axis 0, axis -1, a middle axis of a 3-D
 * tensor, size-1 axes, a 1-D input (-> 0-d), and the all-axes forms. */
enum { SG_REDUCE_VARIANTS = 8 };

static sg_tensor *sg_reduce_example(sg_graph *g, sg_rng *rng, int variant, const sg_op *op)
{
    sg_shape s;
    long axis = 0, all = 0;
    /* clang-format off */
    switch (variant) {
    case 0: s = SG_SHAPE(3, 4); axis = 0; break;
    case 1: s = SG_SHAPE(3, 4); axis = -1; break;
    case 2: s = SG_SHAPE(2, 3, 4); axis = 1; break;
    case 3: s = SG_SHAPE(3, 1, 2); axis = -2; break; /* size-1 middle axis */
    case 4: s = SG_SHAPE(1, 5); axis = 0; break;     /* size-1 leading axis */
    case 5: s = SG_SHAPE(5); axis = -1; break;       /* 1-D -> 0-d */
    case 6: s = SG_SHAPE(2, 3, 2); all = 1; break;   /* sum_all / mean_all */
    default: s = SG_SCALAR; all = 1; break;          /* all axes of a 0-d input */
    }
    /* clang-format on */
    return sg_reduce_apply(g, op, sg_example_input(g, rng, "x", s, -2.0, 2.0), axis, all);
}

static sg_tensor *sum_example(sg_graph *g, sg_rng *rng, int variant)
{
    return sg_reduce_example(g, rng, variant, &sg_op_sum);
}

static sg_tensor *mean_example(sg_graph *g, sg_rng *rng, int variant)
{
    return sg_reduce_example(g, rng, variant, &sg_op_mean);
}

const sg_op sg_op_sum = {.name = "sum",
                         .arity = 1,
                         .shape = sg_reduce_shape,
                         .forward = sg_reduce_forward,
                         .vjp = sg_reduce_vjp,
                         .example = sum_example,
                         .n_variants = SG_REDUCE_VARIANTS};
const sg_op sg_op_mean = {.name = "mean",
                          .arity = 1,
                          .shape = sg_reduce_shape,
                          .forward = sg_reduce_forward,
                          .vjp = sg_reduce_vjp,
                          .example = mean_example,
                          .n_variants = SG_REDUCE_VARIANTS};

/* ---- softmax and log_softmax -------------------------------------------- */

/* x float of the graph dtype with at least one axis; the shape is kept. */
static sg_status sg_softmax_shape(sg_tensor *node, char *msg, size_t cap)
{
    sg_status st = sg_check_float_inputs(node, msg, cap);
    if (st != SG_OK)
        return st;
    const sg_tensor *x = node->src[0];
    if (sg_reduce_axis_arg(node->args.i[0], x->shape.ndim) < 0)
        return sg_axis_error(node->args.i[0], x->shape.ndim, "normalizing along an axis", msg, cap);
    node->shape = x->shape;
    return SG_OK;
}

/* Element j of lane (o, i) in an (outer, n, inner) buffer. */
#define SG_LANE(o, j, i) (((o)*n + (j)) * inner + (i))

/* The stable first phase shared by softmax and log_softmax, on lane (o, i) of
 * x into y: m = max_j x_j, y_j = exp(x_j - m), s = sum_j y_j (in double). */
#define SG_LANE_EXP(o, i, m, s)                                                                                        \
    do {                                                                                                               \
        (m) = x[SG_LANE(o, 0, i)];                                                                                     \
        for (size_t j_ = 1; j_ < n; j_++)                                                                              \
            if (x[SG_LANE(o, j_, i)] > (m))                                                                            \
                (m) = x[SG_LANE(o, j_, i)];                                                                            \
        (s) = 0.0;                                                                                                     \
        for (size_t j_ = 0; j_ < n; j_++) {                                                                            \
            y[SG_LANE(o, j_, i)] = exp(x[SG_LANE(o, j_, i)] - (m));                                                    \
            (s) += (double)y[SG_LANE(o, j_, i)];                                                                       \
        }                                                                                                              \
    } while (0)

/* clang-format off */
SG_KERNEL(softmax_forward,
    size_t outer, n, inner;
    sg_node_lanes(node, false, &outer, &n, &inner);
    const T *x = node->src[0]->data; /* (outer, n, inner) */
    T *y = node->data;               /* (outer, n, inner) */
    for (size_t o = 0; o < outer; o++) {
        for (size_t i = 0; i < inner; i++) {
            T m;
            double s;
            SG_LANE_EXP(o, i, m, s);
            T inv = (T)(1.0 / s); /* s >= 1: the max contributes e^0 */
            for (size_t j = 0; j < n; j++)
                y[SG_LANE(o, j, i)] *= inv;
        }
    })

SG_KERNEL(softmax_vjp,
    T *gx = node->src[0]->grad; /* (outer, n, inner) */
    if (!gx)
        return;
    size_t outer, n, inner;
    sg_node_lanes(node, false, &outer, &n, &inner);
    const T *y = node->data;  /* (outer, n, inner) */
    const T *gy = node->grad; /* (outer, n, inner) */
    for (size_t o = 0; o < outer; o++) {
        for (size_t i = 0; i < inner; i++) {
            double dot = 0.0;
            for (size_t j = 0; j < n; j++)
                dot += (double)gy[SG_LANE(o, j, i)] * (double)y[SG_LANE(o, j, i)];
            for (size_t j = 0; j < n; j++)
                gx[SG_LANE(o, j, i)] += y[SG_LANE(o, j, i)] * (gy[SG_LANE(o, j, i)] - (T)dot);
        }
    })

SG_KERNEL(log_softmax_forward,
    size_t outer, n, inner;
    sg_node_lanes(node, false, &outer, &n, &inner);
    const T *x = node->src[0]->data; /* (outer, n, inner) */
    T *y = node->data;               /* (outer, n, inner) */
    for (size_t o = 0; o < outer; o++) {
        for (size_t i = 0; i < inner; i++) {
            T m;
            double s;
            SG_LANE_EXP(o, i, m, s); /* y is overwritten below */
            T lse = (T)log(s); /* >= 0 */
            for (size_t j = 0; j < n; j++)
                y[SG_LANE(o, j, i)] = (x[SG_LANE(o, j, i)] - m) - lse;
        }
    })

SG_KERNEL(log_softmax_vjp,
    T *gx = node->src[0]->grad; /* (outer, n, inner) */
    if (!gx)
        return;
    size_t outer, n, inner;
    sg_node_lanes(node, false, &outer, &n, &inner);
    const T *y = node->data;  /* (outer, n, inner) */
    const T *gy = node->grad; /* (outer, n, inner) */
    for (size_t o = 0; o < outer; o++) {
        for (size_t i = 0; i < inner; i++) {
            double sg = 0.0;
            for (size_t j = 0; j < n; j++)
                sg += (double)gy[SG_LANE(o, j, i)];
            for (size_t j = 0; j < n; j++)
                gx[SG_LANE(o, j, i)] += gy[SG_LANE(o, j, i)] - exp(y[SG_LANE(o, j, i)]) * (T)sg;
        }
    })
/* clang-format on */

#undef SG_LANE_EXP
#undef SG_LANE

sg_tensor *sg_softmax(sg_graph *g, sg_tensor *x, int axis)
{
    sg_op_args args = {.i = {axis}};
    return sg_op_apply(g, &sg_op_softmax, &x, 1, &args);
}

sg_tensor *sg_log_softmax(sg_graph *g, sg_tensor *x, int axis)
{
    sg_op_args args = {.i = {axis}};
    return sg_op_apply(g, &sg_op_log_softmax, &x, 1, &args);
}

/* Examples shared by softmax and log_softmax: last axis, axis 0, a middle
 * axis of a 3-D tensor, a size-1 axis (output constant), 1-D, one row. */
enum { SG_SOFTMAX_VARIANTS = 6 };

static sg_tensor *sg_softmax_example(sg_graph *g, sg_rng *rng, int variant,
                                     sg_tensor *(*fn)(sg_graph *, sg_tensor *, int))
{
    sg_shape s;
    int axis;
    /* clang-format off */
    switch (variant) {
    case 0: s = SG_SHAPE(3, 4); axis = -1; break;
    case 1: s = SG_SHAPE(3, 4); axis = 0; break;
    case 2: s = SG_SHAPE(2, 3, 4); axis = 1; break;
    case 3: s = SG_SHAPE(4, 1); axis = -1; break; /* size-1 axis */
    case 4: s = SG_SHAPE(5); axis = 0; break;     /* 1-D */
    default: s = SG_SHAPE(1, 3); axis = 1; break; /* one row */
    }
    /* clang-format on */
    return fn(g, sg_example_input(g, rng, "x", s, -3.0, 3.0), axis);
}

static sg_tensor *softmax_example(sg_graph *g, sg_rng *rng, int variant)
{
    return sg_softmax_example(g, rng, variant, sg_softmax);
}

static sg_tensor *log_softmax_example(sg_graph *g, sg_rng *rng, int variant)
{
    return sg_softmax_example(g, rng, variant, sg_log_softmax);
}

const sg_op sg_op_softmax = {.name = "softmax",
                             .arity = 1,
                             .shape = sg_softmax_shape,
                             .forward = softmax_forward,
                             .vjp = softmax_vjp,
                             .example = softmax_example,
                             .n_variants = SG_SOFTMAX_VARIANTS};
const sg_op sg_op_log_softmax = {.name = "log_softmax",
                                 .arity = 1,
                                 .shape = sg_softmax_shape,
                                 .forward = log_softmax_forward,
                                 .vjp = log_softmax_vjp,
                                 .example = log_softmax_example,
                                 .n_variants = SG_SOFTMAX_VARIANTS};
