/* sg_ops_shape.c — shape ops: they move elements and compute nothing.  y is the
 * output, gy its gradient, gx the input's gradient (gx_k for input k).  Copies
 * run in blocks: a tensor seen around one axis is (outer, D, inner), where
 * outer is the product of the dims before the axis and inner of those after it,
 * so a piece of the axis is `outer` contiguous runs of (piece length * inner).
 *
 *   transpose  y[b, j, i] = x[b, i, j]            gx[b, i, j] += gy[b, j, i]
 *              (last two axes; b = the leading axes, 0 to 2 of them)
 *   reshape    y[f] = x[f] (flat, same numel)     gx[f] += gy[f]     (a view: no copy)
 *   slice      y[o, a, r] = x[o, start + a, r]    gx[o, start + a, r] += gy[o, a, r]
 *              (a in [0, len); other elements of gx untouched; a view when outer = 1)
 *   concat     y[o, off_k + a, r] = x_k[o, a, r]  gx_k[o, a, r] += gy[o, off_k + a, r]
 *              (off_k = sum of the axis lengths of inputs 0..k-1)
 *   split      one node per part p: the slice y_p = x[:, off_p : off_p + n_p, :]
 *              with the slice's VJP; backward sums the parts' gradients into gx.
 *
 * Node args:
 *   transpose  -
 *   reshape    i[0..3] = new dims, f[0] = new ndim
 *   slice      i[0] = axis, i[1] = start, i[2] = len
 *   concat     i[0] = axis
 *   split      i[0] = axis, i[1] = offset of the part, i[2] = its size,
 *              i[3] = index of the part, f[0] = number of parts
 * Sizes travel in args as long and are converted back to size_t.
 */
#include "ops/sg_kernel.h"
#include "ops/sg_op_table.h"

#include <string.h>

/* Normalizes an axis stored as long; -1 when out of range. */
static int sg_arg_axis(long axis, int ndim)
{
    if (axis < -SG_MAX_DIMS || axis >= SG_MAX_DIMS)
        return -1;
    return sg_axis_norm((int)axis, ndim);
}

/* Products of the dims before and after axis. */
static void sg_axis_blocks(sg_shape s, int axis, size_t *outer, size_t *inner)
{
    size_t o = 1, in = 1;
    for (int i = 0; i < axis; i++)
        o *= s.d[i];
    for (int i = axis + 1; i < s.ndim; i++)
        in *= s.d[i];
    *outer = o;
    *inner = in;
}

/* ---- transpose ----------------------------------------------------------- */

static sg_status transpose_shape(sg_tensor *node, char *msg, size_t cap)
{
    sg_status st = sg_check_float_inputs(node, msg, cap);
    if (st != SG_OK)
        return st;
    sg_shape s = node->src[0]->shape;
    if (s.ndim < 2) {
        snprintf(msg, cap, "needs at least 2 dimensions to swap the last two, got %d", s.ndim);
        return SG_ERR_SHAPE;
    }
    size_t t = s.d[s.ndim - 1];
    s.d[s.ndim - 1] = s.d[s.ndim - 2];
    s.d[s.ndim - 2] = t;
    node->shape = s;
    return SG_OK;
}

enum { SG_TRANSPOSE_BLOCK = 32 };

/* Inside a ranged kernel (sg_kernel.h), whose units are the rows of x as
 * (batch * M, N): for every row r = b*M + i in [lo, hi) and every j < N,
 * visited in square blocks so both sides stay in cache, runs STMT with
 * xi = flat index of x[b, i, j] and yi = flat index of y[b, j, i]. */
#define SG_TRANSPOSE_LOOP(STMT)                                                                                        \
    sg_shape xs = node->src[0]->shape;                                                                                 \
    size_t M = xs.d[xs.ndim - 2], N = xs.d[xs.ndim - 1];                                                               \
    for (size_t r0 = lo; r0 < hi;) {                                                                                   \
        size_t b = r0 / M, i0 = r0 % M, base = b * M * N;                                                              \
        size_t i1 = i0 + SG_TRANSPOSE_BLOCK < M ? i0 + SG_TRANSPOSE_BLOCK : M;                                         \
        i1 = i1 - i0 < hi - r0 ? i1 : i0 + (hi - r0);                                                                  \
        for (size_t j0 = 0; j0 < N; j0 += SG_TRANSPOSE_BLOCK) {                                                        \
            size_t j1 = j0 + SG_TRANSPOSE_BLOCK < N ? j0 + SG_TRANSPOSE_BLOCK : N;                                     \
            for (size_t i = i0; i < i1; i++)                                                                           \
                for (size_t j = j0; j < j1; j++) {                                                                     \
                    size_t xi = base + i * N + j, yi = base + j * M + i;                                               \
                    STMT;                                                                                              \
                }                                                                                                      \
        }                                                                                                              \
        r0 += i1 - i0;                                                                                                 \
    }

/* The rows of x as (batch * M, N). */
static size_t sg_transpose_rows(const sg_tensor *node)
{
    const sg_shape *xs = &node->src[0]->shape;
    size_t N = xs->d[xs->ndim - 1];
    return N ? node->numel / N : 0;
}

/* clang-format off */
SG_KERNEL_RANGED(transpose_forward, sg_transpose_rows(node), SG_TRANSPOSE_BLOCK,
    const T *x = node->src[0]->data; /* (..., M, N) */
    T *y = node->data;               /* (..., N, M) */
    SG_TRANSPOSE_LOOP(y[yi] = x[xi]))

SG_KERNEL_RANGED(transpose_vjp, sg_transpose_rows(node), SG_TRANSPOSE_BLOCK,
    const T *gy = node->grad; /* (..., N, M) */
    T *gx = node->src[0]->grad; /* (..., M, N) */
    if (!gx)
        return;
    SG_TRANSPOSE_LOOP(gx[xi] += gy[yi]))
/* clang-format on */

sg_tensor *sg_transpose(sg_graph *g, sg_tensor *x) { return sg_op_apply(g, &sg_op_transpose, &x, 1, NULL); }

static sg_tensor *transpose_example(sg_graph *g, sg_rng *rng, int variant)
{
    sg_shape s;
    /* clang-format off */
    switch (variant) {
    case 0: s = SG_SHAPE(3, 4); break;
    case 1: s = SG_SHAPE(2, 3, 4); break;
    case 2: s = SG_SHAPE(2, 3, 4, 5); break;
    case 3: s = SG_SHAPE(1, 5); break;
    default: s = SG_SHAPE(3, 1, 1); break;
    }
    /* clang-format on */
    return sg_transpose(g, sg_example_input(g, rng, "x", s, -2.0, 2.0));
}

const sg_op sg_op_transpose = {.name = "transpose",
                               .arity = 1,
                               .shape = transpose_shape,
                               .forward = transpose_forward,
                               .vjp = transpose_vjp,
                               .example = transpose_example,
                               .n_variants = 5};

/* ---- reshape ------------------------------------------------------------- */

static sg_status reshape_shape(sg_tensor *node, char *msg, size_t cap)
{
    sg_status st = sg_check_float_inputs(node, msg, cap);
    if (st != SG_OK)
        return st;
    double fnd = node->args.f[0];
    if (!(fnd >= 0 && fnd <= SG_MAX_DIMS) || fnd != (double)(int)fnd) {
        snprintf(msg, cap, "the new shape must have 0 to %d dimensions", SG_MAX_DIMS);
        return SG_ERR_SHAPE;
    }
    sg_shape s = {.ndim = (int)fnd};
    size_t n = 1;
    for (int i = 0; i < s.ndim; i++) {
        s.d[i] = (size_t)node->args.i[i];
        if (s.d[i] == 0 || n > SIZE_MAX / s.d[i]) {
            snprintf(msg, cap, "new dimension %d is %ld (dimensions must be >= 1 and the size must fit)", i,
                     node->args.i[i]);
            return SG_ERR_SHAPE;
        }
        n *= s.d[i];
    }
    if (n != node->src[0]->numel) {
        char buf[96];
        snprintf(msg, cap, "cannot reshape %zu elements into %s (%zu elements)", node->src[0]->numel,
                 sg_shape_str(s, buf, sizeof buf), n);
        return SG_ERR_SHAPE;
    }
    node->shape = s;
    return SG_OK;
}

/* A reshape is a view: its output is its input's elements in the same order. */
static bool reshape_view(const sg_tensor *node, size_t *offset)
{
    (void)node;
    *offset = 0;
    return true;
}

/* Never called for a view (sg_op_forward points the data instead); kept so
 * that the descriptor has a forward like every op. */
static void reshape_forward(sg_tensor *node) { node->data = node->src[0]->data; }

/* clang-format off */
SG_KERNEL_RANGED(reshape_vjp, node->numel, 16,
    const T *gy = node->grad;
    T *gx = node->src[0]->grad;
    if (!gx)
        return;
    const bool fresh = node->src[0]->grad_fresh;
    for (size_t i = lo; i < hi; i++)
        SG_GRAD_ACC(gx[i], fresh, gy[i]);)
/* clang-format on */

sg_tensor *sg_reshape(sg_graph *g, sg_tensor *x, sg_shape shape)
{
    sg_op_args args = {.f = {(double)shape.ndim}};
    if (shape.ndim < 0 || shape.ndim > SG_MAX_DIMS)
        args.f[0] = -1; /* rejected by the shape rule */
    else
        for (int i = 0; i < shape.ndim; i++)
            args.i[i] = (long)shape.d[i];
    return sg_op_apply(g, &sg_op_reshape, &x, 1, &args);
}

static sg_tensor *reshape_example(sg_graph *g, sg_rng *rng, int variant)
{
    sg_shape in, out;
    /* clang-format off */
    switch (variant) {
    case 0: in = SG_SHAPE(2, 3, 4); out = SG_SHAPE(6, 4); break;
    case 1: in = SG_SHAPE(12); out = SG_SHAPE(3, 1, 4); break;
    case 2: in = SG_SHAPE(1, 1); out = SG_SCALAR; break;
    case 3: in = SG_SCALAR; out = SG_SHAPE(1, 1, 1, 1); break;
    default: in = SG_SHAPE(4, 6); out = SG_SHAPE(2, 2, 3, 2); break;
    }
    /* clang-format on */
    return sg_reshape(g, sg_example_input(g, rng, "x", in, -2.0, 2.0), out);
}

const sg_op sg_op_reshape = {.name = "reshape",
                             .arity = 1,
                             .shape = reshape_shape,
                             .forward = reshape_forward,
                             .vjp = reshape_vjp,
                             .example = reshape_example,
                             .vjp_assigns = true,
                             .view = reshape_view,
                             .n_variants = 5};

/* ---- slice (and split, whose nodes are slices) ---------------------------- */

static sg_status slice_shape(sg_tensor *node, char *msg, size_t cap)
{
    sg_status st = sg_check_float_inputs(node, msg, cap);
    if (st != SG_OK)
        return st;
    sg_shape s = node->src[0]->shape;
    int axis = sg_arg_axis(node->args.i[0], s.ndim);
    if (axis < 0) {
        snprintf(msg, cap, "axis %ld is out of range for %d dimensions", node->args.i[0], s.ndim);
        return SG_ERR_AXIS;
    }
    size_t start = (size_t)node->args.i[1], len = (size_t)node->args.i[2], dim = s.d[axis];
    if (len == 0) {
        snprintf(msg, cap, "the length must be >= 1");
        return SG_ERR_SHAPE;
    }
    if (start > dim || len > dim - start) { /* start + len > dim, without overflow */
        snprintf(msg, cap, "start %zu + length %zu runs past the end of axis %d (length %zu)", start, len, axis, dim);
        return SG_ERR_SHAPE;
    }
    s.d[axis] = len;
    node->shape = s;
    return SG_OK;
}

/* Inside a ranged kernel whose units are the outer blocks: for every outer
 * block o in [lo, hi), the run of len*inner elements that starts at xo in x
 * (at [o, start, 0]) and at yo in y; STMT handles the run. */
#define SG_SLICE_LOOP(STMT)                                                                                            \
    sg_shape xs = node->src[0]->shape;                                                                                 \
    int axis = sg_arg_axis(node->args.i[0], xs.ndim);                                                                  \
    size_t start = (size_t)node->args.i[1], len = (size_t)node->args.i[2], dim = xs.d[axis];                           \
    size_t outer, inner;                                                                                               \
    sg_axis_blocks(xs, axis, &outer, &inner);                                                                          \
    size_t run = len * inner;                                                                                          \
    for (size_t o = lo; o < hi; o++) {                                                                                 \
        size_t xo = (o * dim + start) * inner, yo = o * run;                                                           \
        STMT;                                                                                                          \
    }

/* clang-format off */
/* The blocks before the axis of a slice's input or a concat's output. */
static size_t sg_outer_blocks(sg_shape s, long axis_arg)
{
    size_t outer, inner;
    sg_axis_blocks(s, sg_arg_axis(axis_arg, s.ndim), &outer, &inner);
    return outer;
}

SG_KERNEL_RANGED(slice_forward, sg_outer_blocks(node->src[0]->shape, node->args.i[0]), 1,
    const T *x = node->src[0]->data; /* (outer, dim, inner) */
    T *y = node->data;               /* (outer, len, inner) */
    SG_SLICE_LOOP(memcpy(y + yo, x + xo, run * sizeof(T))))

SG_KERNEL_RANGED(slice_vjp, sg_outer_blocks(node->src[0]->shape, node->args.i[0]), 1,
    const T *gy = node->grad;   /* (outer, len, inner) */
    T *gx = node->src[0]->grad; /* (outer, dim, inner) */
    if (!gx)
        return;
    SG_SLICE_LOOP(for (size_t r = 0; r < run; r++) gx[xo + r] += gy[yo + r]))
/* clang-format on */

/* A slice with one outer block (every axis before the sliced one of size 1:
 * rows of a matrix, steps of a time-major sequence) is one contiguous run of
 * its input, so a view from element start * inner on. */
static bool slice_view(const sg_tensor *node, size_t *offset)
{
    sg_shape xs = node->src[0]->shape;
    size_t outer, inner;
    sg_axis_blocks(xs, sg_arg_axis(node->args.i[0], xs.ndim), &outer, &inner);
    *offset = (size_t)node->args.i[1] * inner;
    return outer == 1;
}

sg_tensor *sg_slice(sg_graph *g, sg_tensor *x, int axis, size_t start, size_t len)
{
    sg_op_args args = {.i = {axis, (long)start, (long)len}};
    return sg_op_apply(g, &sg_op_slice, &x, 1, &args);
}

static sg_tensor *slice_example(sg_graph *g, sg_rng *rng, int variant)
{
    sg_shape s;
    int axis;
    size_t start, len;
    /* clang-format off */
    switch (variant) {
    case 0: s = SG_SHAPE(5, 3); axis = 0; start = 1; len = 3; break;
    case 1: s = SG_SHAPE(3, 6); axis = -1; start = 2; len = 4; break;
    case 2: s = SG_SHAPE(2, 5, 3); axis = 1; start = 1; len = 2; break;
    case 3: s = SG_SHAPE(4, 3, 2); axis = 2; start = 1; len = 1; break;
    case 4: s = SG_SHAPE(7); axis = 0; start = 0; len = 7; break;
    default: s = SG_SHAPE(2, 3, 4, 2); axis = -2; start = 3; len = 1; break;
    }
    /* clang-format on */
    return sg_slice(g, sg_example_input(g, rng, "x", s, -2.0, 2.0), axis, start, len);
}

const sg_op sg_op_slice = {.name = "slice",
                           .arity = 1,
                           .shape = slice_shape,
                           .forward = slice_forward,
                           .vjp = slice_vjp,
                           .example = slice_example,
                           .view = slice_view,
                           .n_variants = 6};

/* ---- concat -------------------------------------------------------------- */

static sg_status concat_shape(sg_tensor *node, char *msg, size_t cap)
{
    sg_status st = sg_check_float_inputs(node, msg, cap);
    if (st != SG_OK)
        return st;
    sg_shape s = node->src[0]->shape;
    if (s.ndim < 1) {
        snprintf(msg, cap, "inputs need at least 1 dimension");
        return SG_ERR_SHAPE;
    }
    int axis = sg_arg_axis(node->args.i[0], s.ndim);
    if (axis < 0) {
        snprintf(msg, cap, "axis %ld is out of range for %d dimensions", node->args.i[0], s.ndim);
        return SG_ERR_AXIS;
    }
    size_t total = 0;
    for (size_t k = 0; k < node->n_src; k++) {
        sg_shape sk = node->src[k]->shape;
        if (sk.ndim != s.ndim) {
            snprintf(msg, cap, "input %zu has %d dimensions but input 0 has %d", k, sk.ndim, s.ndim);
            return SG_ERR_SHAPE;
        }
        for (int i = 0; i < s.ndim; i++) {
            if (i != axis && sk.d[i] != s.d[i]) {
                snprintf(msg, cap, "input %zu has %zu on axis %d but input 0 has %zu (only axis %d may differ)", k,
                         sk.d[i], i, s.d[i], axis);
                return SG_ERR_SHAPE;
            }
        }
        if (sk.d[axis] > SIZE_MAX - total) {
            snprintf(msg, cap, "the concatenated axis is too long");
            return SG_ERR_SHAPE;
        }
        total += sk.d[axis];
    }
    s.d[axis] = total;
    node->shape = s;
    return SG_OK;
}

/* Inside a ranged kernel whose units are the outer blocks: for every outer
 * block o in [lo, hi) and input k, the run of d_k*inner elements at xo in
 * input k and at yo in y; STMT handles it with K = the input's index. */
#define SG_CONCAT_LOOP(STMT)                                                                                           \
    int axis = sg_arg_axis(node->args.i[0], node->shape.ndim);                                                         \
    size_t outer, inner;                                                                                               \
    sg_axis_blocks(node->shape, axis, &outer, &inner);                                                                 \
    size_t yo = lo * node->shape.d[axis] * inner;                                                                      \
    for (size_t o = lo; o < hi; o++) {                                                                                 \
        for (size_t K = 0; K < node->n_src; K++) {                                                                     \
            size_t run = node->src[K]->shape.d[axis] * inner, xo = o * run;                                            \
            STMT;                                                                                                      \
            yo += run;                                                                                                 \
        }                                                                                                              \
    }

/* clang-format off */
SG_KERNEL_RANGED(concat_forward, sg_outer_blocks(node->shape, node->args.i[0]), 1,
    T *y = node->data; /* (outer, sum_k d_k, inner) */
    SG_CONCAT_LOOP(memcpy(y + yo, (const T *)node->src[K]->data + xo, run * sizeof(T))))

SG_KERNEL_RANGED(concat_vjp, sg_outer_blocks(node->shape, node->args.i[0]), 1,
    const T *gy = node->grad; /* (outer, sum_k d_k, inner) */
    SG_CONCAT_LOOP(
        T *gx = node->src[K]->grad; /* (outer, d_K, inner) */
        const bool fresh = node->src[K]->grad_fresh;
        if (gx)
            for (size_t r = 0; r < run; r++)
                SG_GRAD_ACC(gx[xo + r], fresh, gy[yo + r]);))
/* clang-format on */

sg_tensor *sg_concat(sg_graph *g, sg_tensor *const *xs, size_t n, int axis)
{
    sg_op_args args = {.i = {axis}};
    return sg_op_apply(g, &sg_op_concat, xs, n, &args);
}

static sg_tensor *concat_example(sg_graph *g, sg_rng *rng, int variant)
{
    sg_shape s[3];
    size_t n;
    int axis;
    switch (variant) {
    case 0: /* three inputs of different sizes on the last axis ([x_t, h, c]) */
        s[0] = SG_SHAPE(2, 1);
        s[1] = SG_SHAPE(2, 3);
        s[2] = SG_SHAPE(2, 2);
        n = 3;
        axis = -1;
        break;
    case 1:
        s[0] = SG_SHAPE(1, 3);
        s[1] = SG_SHAPE(2, 3);
        n = 2;
        axis = 0;
        break;
    case 2: /* middle axis of 3-D */
        s[0] = SG_SHAPE(2, 1, 3);
        s[1] = SG_SHAPE(2, 2, 3);
        s[2] = SG_SHAPE(2, 3, 3);
        n = 3;
        axis = 1;
        break;
    case 3:
        s[0] = SG_SHAPE(4);
        n = 1;
        axis = 0;
        break;
    default: /* size-1 pieces */
        s[0] = SG_SHAPE(3, 1);
        s[1] = SG_SHAPE(3, 1);
        n = 2;
        axis = 1;
        break;
    }
    sg_tensor *xs[3];
    for (size_t k = 0; k < n; k++)
        xs[k] = sg_example_input(g, rng, "x", s[k], -2.0, 2.0);
    return sg_concat(g, xs, n, axis);
}

const sg_op sg_op_concat = {.name = "concat",
                            .arity = -1,
                            .shape = concat_shape,
                            .forward = concat_forward,
                            .vjp = concat_vjp,
                            .example = concat_example,
                            .vjp_assigns = true,
                            .n_variants = 5};

/* ---- split --------------------------------------------------------------- */

/* Records an error for a split that fails before any part is made, in the
 * engine's format: op, scope, message, input shapes. */
static sg_status split_fail(sg_graph *g, sg_tensor *x, sg_status st, const char *what)
{
    return sg_graph_fail_op(g, st, "split", &x, 1, "%s", what);
}

/* Checks the whole split of x before any part is made: n equal parts when
 * `equal`, else parts of sizes[0..n-1].  *dim gets the axis length. */
static sg_status split_check(sg_graph *g, sg_tensor *x, int axis, bool equal, const size_t *sizes, size_t n,
                             size_t *dim)
{
    char what[256];
    int ax = sg_axis_norm(axis, x->shape.ndim);
    if (ax < 0) {
        snprintf(what, sizeof what, "axis %d is out of range for %d dimensions", axis, x->shape.ndim);
        return split_fail(g, x, SG_ERR_AXIS, what);
    }
    *dim = x->shape.d[ax];
    if (n == 0)
        return split_fail(g, x, SG_ERR_ARG, "needs at least 1 part");
    if (equal) {
        if (*dim % n != 0) {
            snprintf(what, sizeof what, "axis %d of length %zu does not divide into %zu equal parts", ax, *dim, n);
            return split_fail(g, x, SG_ERR_SHAPE, what);
        }
        return SG_OK;
    }
    if (!sizes)
        return split_fail(g, x, SG_ERR_ARG, "the sizes array is NULL");
    size_t sum = 0; /* stays <= *dim, so it cannot overflow */
    for (size_t p = 0; p < n; p++) {
        if (sizes[p] == 0) {
            snprintf(what, sizeof what, "part %zu has size 0 (sizes must be >= 1)", p);
            return split_fail(g, x, SG_ERR_SHAPE, what);
        }
        if (sizes[p] > *dim - sum) {
            snprintf(what, sizeof what, "the sizes sum to more than the length %zu of axis %d (from part %zu on)", *dim,
                     ax, p);
            return split_fail(g, x, SG_ERR_SHAPE, what);
        }
        sum += sizes[p];
    }
    if (sum != *dim) {
        snprintf(what, sizeof what, "the sizes sum to %zu but axis %d has length %zu", sum, ax, *dim);
        return split_fail(g, x, SG_ERR_SHAPE, what);
    }
    return SG_OK;
}

/* Both public splits.  On any error every out[p] is NULL. */
static sg_status split_impl(sg_graph *g, sg_tensor *x, int axis, bool equal, const size_t *sizes, size_t n,
                            sg_tensor **out)
{
    if (!g)
        return SG_ERR_ARG;
    if (out)
        for (size_t p = 0; p < n; p++)
            out[p] = NULL;
    if (sg_graph_status(g) != SG_OK)
        return sg_graph_status(g);
    if (!x || x->graph != g) {
        sg_op_apply(g, &sg_op_split, &x, 1, NULL); /* records the engine's NULL / foreign input error */
        return sg_graph_status(g);
    }
    if (!out)
        return split_fail(g, x, SG_ERR_ARG, "the output array is NULL");
    size_t dim = 0;
    sg_status st = split_check(g, x, axis, equal, sizes, n, &dim);
    if (st != SG_OK)
        return st;
    size_t off = 0;
    for (size_t p = 0; p < n; p++) {
        size_t len = equal ? dim / n : sizes[p];
        sg_op_args args = {.i = {axis, (long)off, (long)len, (long)p}, .f = {(double)n}};
        out[p] = sg_op_apply(g, &sg_op_split, &x, 1, &args);
        if (!out[p]) {
            for (size_t q = 0; q < p; q++)
                out[q] = NULL;
            return sg_graph_status(g);
        }
        off += len;
    }
    return SG_OK;
}

sg_status sg_split(sg_graph *g, sg_tensor *x, int axis, size_t n, sg_tensor **out)
{
    return split_impl(g, x, axis, true, NULL, n, out);
}

sg_status sg_split_sizes(sg_graph *g, sg_tensor *x, int axis, const size_t *sizes, size_t n, sg_tensor **out)
{
    return split_impl(g, x, axis, false, sizes, n, out);
}

static sg_tensor *split_example(sg_graph *g, sg_rng *rng, int variant)
{
    sg_tensor *parts[4] = {NULL};
    size_t n = 0;
    sg_status st;
    switch (variant) {
    case 0: /* LSTM gates: (B, 4H) into 4 */
        n = 4;
        st = sg_split(g, sg_example_input(g, rng, "x", SG_SHAPE(2, 8), -2.0, 2.0), -1, n, parts);
        break;
    case 1: { /* uneven sizes on axis 0 */
        static const size_t sizes[] = {1, 3, 1};
        n = 3;
        st = sg_split_sizes(g, sg_example_input(g, rng, "x", SG_SHAPE(5, 3), -2.0, 2.0), 0, sizes, n, parts);
        break;
    }
    case 2: /* middle axis of 3-D */
        n = 3;
        st = sg_split(g, sg_example_input(g, rng, "x", SG_SHAPE(2, 6, 3), -2.0, 2.0), 1, n, parts);
        break;
    case 3: /* size-1 pieces */
        n = 4;
        st = sg_split(g, sg_example_input(g, rng, "x", SG_SHAPE(3, 4), -2.0, 2.0), 1, n, parts);
        break;
    default: { /* uneven, last axis of 4-D */
        static const size_t sizes[] = {2, 1};
        n = 2;
        st = sg_split_sizes(g, sg_example_input(g, rng, "x", SG_SHAPE(2, 1, 2, 3), -2.0, 2.0), -1, sizes, n, parts);
        break;
    }
    }
    /* every part is a split node on the tape; the per-op check covers them all */
    return st == SG_OK ? parts[n - 1] : NULL;
}

const sg_op sg_op_split = {.name = "split",
                           .arity = 1,
                           .shape = slice_shape,
                           .forward = slice_forward,
                           .vjp = slice_vjp,
                           .example = split_example,
                           .n_variants = 5};
