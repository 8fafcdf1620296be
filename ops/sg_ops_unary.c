/* sg_ops_unary.c — elementwise unary ops.  Each op's forward kernel and its VJP
 * sit side by side; y is the output, gy its gradient, gx the input's gradient.
 *
 *   sigmoid     y = 1/(1+e^-x)          gx += gy * y * (1 - y)
 *   tanh        y = tanh x              gx += gy * (1 - y^2)
 *   (sigmoid, tanh and softplus: vectorizable f32 versions from sg_kernel.h, libm in f64)
 *   relu        y = max(x, 0)           gx += gy * [x > 0]
 *   exp         y = e^x                 gx += gy * y
 *   log         y = log x               gx += gy / x
 *   softplus    y = log(1 + e^x)        gx += gy * sigmoid(x)
 *   log_sigmoid y = -softplus(-x)       gx += gy * sigmoid(-x)
 *   scale       y = c x                 gx += gy * c        (c = args.f[0])
 */
#include "ops/sg_kernel.h"
#include "ops/sg_op_table.h"

/* Output has the input's shape; the input must be a float of the graph dtype. */
static sg_status sg_shape_same(sg_tensor *node, char *msg, size_t cap)
{
    node->shape = node->src[0]->shape;
    return sg_check_float_inputs(node, msg, cap);
}

/* Loop helpers: x, y, gy, gx as T pointers, over the elements [lo, hi) of a
 * ranged kernel (sg_kernel.h: large nodes are cut over the worker pool). */
#define SG_UNARY_FWD(expr)                                                                                             \
    const T *x = node->src[0]->data;                                                                                   \
    T *y = node->data;                                                                                                 \
    for (size_t i = lo; i < hi; i++) {                                                                                 \
        T xi = x[i];                                                                                                   \
        y[i] = (expr);                                                                                                 \
    }
#define SG_UNARY_VJP(expr)                                                                                             \
    const T *x = node->src[0]->data;                                                                                   \
    const T *y = node->data;                                                                                           \
    const T *gy = node->grad;                                                                                          \
    T *gx = node->src[0]->grad;                                                                                        \
    if (!gx)                                                                                                           \
        return;                                                                                                        \
    const bool fresh = node->src[0]->grad_fresh;                                                                       \
    for (size_t i = lo; i < hi; i++) {                                                                                 \
        T xi = x[i], yi = y[i];                                                                                        \
        (void)xi;                                                                                                      \
        (void)yi;                                                                                                      \
        SG_GRAD_ACC(gx[i], fresh, gy[i] * (expr));                                                                     \
    }

/* Examples: inputs in a safe range (away from relu's kink and log's pole). */
static sg_shape sg_unary_example_shape(int variant)
{
    switch (variant) {
    case 0: return SG_SHAPE(3, 4);
    case 1: return SG_SHAPE(1);
    case 2: return SG_SHAPE(2, 1, 3);
    default: return SG_SCALAR;
    }
}

/* Variant 4 of every unary example: inputs of both signs, 0.1 to 1 away from 0
 * (covers both sides of relu's kink; log is skipped, it needs x > 0). */
static sg_tensor *sg_unary_signed_example(sg_graph *g, sg_rng *rng, sg_tensor *(*op)(sg_graph *, sg_tensor *))
{
    double v[12]; /* (3, 4) */
    for (size_t i = 0; i < 12; i++)
        v[i] = (i % 2 ? -1.0 : 1.0) * sg_rng_range(rng, 0.1, 1.0);
    bool positive_only = op == sg_log;
    for (size_t i = 0; positive_only && i < 12; i++)
        v[i] = fabs(v[i]) + 0.1;
    return op(g, sg_input_f64(g, "x", SG_SHAPE(3, 4), v, true));
}

#define SG_UNARY_OP(op_name, fwd_expr, vjp_expr, lo, hi)                                                               \
    SG_KERNEL_RANGED(op_name##_forward, node->numel, 16, SG_UNARY_FWD(fwd_expr))                                       \
    SG_KERNEL_RANGED(op_name##_vjp, node->numel, 16, SG_UNARY_VJP(vjp_expr))                                           \
    static sg_tensor *op_name##_example(sg_graph *g, sg_rng *rng, int variant)                                         \
    {                                                                                                                  \
        if (variant == 4)                                                                                              \
            return sg_unary_signed_example(g, rng, sg_##op_name);                                                      \
        return sg_##op_name(g, sg_example_input(g, rng, "x", sg_unary_example_shape(variant), lo, hi));                \
    }                                                                                                                  \
    const sg_op sg_op_##op_name = {.name = #op_name,                                                                   \
                                   .arity = 1,                                                                         \
                                   .shape = sg_shape_same,                                                             \
                                   .forward = op_name##_forward,                                                       \
                                   .vjp = op_name##_vjp,                                                               \
                                   .example = op_name##_example,                                                       \
                                   .vjp_assigns = true,                                                                \
                                   .n_variants = 5};                                                                   \
    sg_tensor *sg_##op_name(sg_graph *g, sg_tensor *x) { return sg_op_apply(g, &sg_op_##op_name, &x, 1, NULL); }

/*          name         forward                      VJP factor (times gy)       example range */
/* clang-format off */
SG_UNARY_OP(sigmoid,     SG_SIGMOID_T(xi),            yi * ((T)1 - yi),           -4.0, 4.0)
/* clang-format on */
#ifdef SG_PLANT_BAD_VJP
/* Test builds only: a deliberately wrong VJP (1 - y instead of 1 - y^2) that
 * the per-op gradient check must catch and name. */
/* clang-format off */
SG_UNARY_OP(tanh,        tanh(xi),                    (T)1 - yi,                  -2.0, 2.0)
/* clang-format on */
#else
/* clang-format off */
SG_UNARY_OP(tanh,        SG_TANH_T(xi),               (T)1 - yi * yi,             -2.0, 2.0)
/* clang-format on */
#endif
/* clang-format off */
SG_UNARY_OP(relu,        xi > 0 ? xi : (T)0,          xi > 0 ? (T)1 : (T)0,       0.1, 1.0)
SG_UNARY_OP(exp,         exp(xi),                     yi,                         -2.0, 2.0)
SG_UNARY_OP(log,         log(xi),                     (T)1 / xi,                  0.2, 3.0)
SG_UNARY_OP(softplus,    SG_SOFTPLUS_T(xi),           SG_SIGMOID_T(xi),           -5.0, 5.0)
SG_UNARY_OP(log_sigmoid, -SG_SOFTPLUS_T(-xi),         SG_SIGMOID_T(-xi),          -5.0, 5.0)
/* clang-format on */

/* scale: the constant travels in args.f[0]. */
/* clang-format off */
SG_KERNEL_RANGED(scale_forward, node->numel, 16,
    const T *x = node->src[0]->data;
    T *y = node->data;
    T c = (T)node->args.f[0];
    for (size_t i = lo; i < hi; i++)
        y[i] = c * x[i];)
SG_KERNEL_RANGED(scale_vjp, node->numel, 16,
    const T *gy = node->grad;
    T *gx = node->src[0]->grad;
    T c = (T)node->args.f[0];
    if (!gx)
        return;
    for (size_t i = lo; i < hi; i++)
        gx[i] += c * gy[i];)
/* clang-format on */

sg_tensor *sg_scale(sg_graph *g, sg_tensor *x, double c)
{
    sg_op_args args = {.f = {c}};
    return sg_op_apply(g, &sg_op_scale, &x, 1, &args);
}

static sg_tensor *scale_example(sg_graph *g, sg_rng *rng, int variant)
{
    return sg_scale(g, sg_example_input(g, rng, "x", sg_unary_example_shape(variant), -2.0, 2.0), -1.75);
}

const sg_op sg_op_scale = {.name = "scale",
                           .arity = 1,
                           .shape = sg_shape_same,
                           .forward = scale_forward,
                           .vjp = scale_vjp,
                           .example = scale_example,
                           .n_variants = 4};
