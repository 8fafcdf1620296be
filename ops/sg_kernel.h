/* sg_kernel.h — helpers for writing op kernels (ops/ only; not public API).
 *
 * SG_KERNEL(name, body) writes the body once and makes three functions:
 * name_f32 and name_f64, in which `T` is float or double, and `name`, which
 * dispatches on node->dtype.  The f32 one is also compiled for AVX2 and picked
 * at load time where the CPU has it (graph/exec/sg_clones.h).  With <tgmath.h>, exp/log/tanh in the body pick
 * the float or double version from the argument's type.  A kernel has the
 * signature void (sg_tensor *node).
 */
#ifndef SG_KERNEL_H
#define SG_KERNEL_H

#include "graph/core/sg_graph.h"
#include "graph/core/sg_rng.h"
#include "graph/exec/sg_clones.h"
#include "graph/exec/sg_pool.h"
#include "ops/sg_ops.h"

#include <stdio.h>
#include <string.h>
#include <tgmath.h>

#define SG_KERNEL(name, ...)                                                                                           \
    SG_CLONES static void name##_f32(sg_tensor *node)                                                                  \
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

/* SG_KERNEL_RANGED(name, count, align, body) is a kernel whose body works on a
 * part [lo, hi) of `count` units (an expression of node: its elements, or its
 * rows), so that name(node) can cut a large node over the worker pool
 * (graph/exec/sg_pool.h) in parts that are multiples of `align` units.  The
 * body must write, for the units of its part, what the whole pass would, and
 * nothing outside them, so the result is the same bytes at any thread count.
 * It makes name##_f32 and name##_f64 (node, lo, hi), and name(node), which
 * runs one task per pool thread when the node or one of its inputs has at
 * least SG_KERNEL_PARALLEL_MIN elements and count is at least 2, else the
 * whole range in the calling thread. */
enum { SG_KERNEL_PARALLEL_MIN = 1 << 15 }; /* about 10 us of a pass: 10x a job's hand-off */

static inline size_t sg_kernel_tasks(const sg_tensor *node, size_t count)
{
    size_t size = node->numel; /* the largest of the node and its inputs (a loss reads (N, C)) */
    for (size_t k = 0; k < node->n_src; k++)
        size = node->src[k]->numel > size ? node->src[k]->numel : size;
    return size >= SG_KERNEL_PARALLEL_MIN && count >= 2 ? sg_pool_threads() : 1;
}

#define SG_KERNEL_RANGED(name, count, align, ...)                                                                      \
    SG_CLONES static void name##_f32(const sg_tensor *node, size_t lo, size_t hi)                                      \
    {                                                                                                                  \
        typedef float T;                                                                                               \
        (void)sizeof(T);                                                                                               \
        __VA_ARGS__                                                                                                    \
    }                                                                                                                  \
    static void name##_f64(const sg_tensor *node, size_t lo, size_t hi)                                                \
    {                                                                                                                  \
        typedef double T;                                                                                              \
        (void)sizeof(T);                                                                                               \
        __VA_ARGS__                                                                                                    \
    }                                                                                                                  \
    static size_t name##_count(const sg_tensor *node) { return (count); }                                              \
    static void name##_task(void *ctx, size_t i, size_t n)                                                             \
    {                                                                                                                  \
        const sg_tensor *node = ctx;                                                                                   \
        size_t lo, hi;                                                                                                 \
        sg_pool_share(name##_count(node), (align), i, n, &lo, &hi);                                                    \
        if (lo >= hi)                                                                                                  \
            return;                                                                                                    \
        if (node->dtype == SG_F64)                                                                                     \
            name##_f64(node, lo, hi);                                                                                  \
        else                                                                                                           \
            name##_f32(node, lo, hi);                                                                                  \
    }                                                                                                                  \
    static void name(sg_tensor *node) { sg_pool_run(name##_task, node, sg_kernel_tasks(node, name##_count(node))); }

/* exp for f32 softmax-like kernels, written so the compiler can vectorize it
 * (no calls, no branches): x = n ln2 + r with |r| <= ln2/2, exp(r) by its
 * degree-6 Taylor polynomial (truncation < 1.3e-7 relative), 2^n put into the
 * exponent bits.  Relative error below 2.5e-7 (about 4 ulp; tested in
 * tests/test_kernels.c) for x in [-87.3, 88.3]; x is clamped to
 * that range (below it the true value is < 1.3e-38, which these kernels add to
 * a sum >= 1).  Not for general use: NaN inputs are not propagated. */
static inline float sg_expf_vec(float x)
{
    x = x > -87.3f ? x : -87.3f; /* the forms of SSE maxps / minps, so they vectorize */
    x = x < 88.3f ? x : 88.3f;
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    float n = (x * 1.44269504088896341f + magic) - magic;
    float r = x - n * 0.693359375f; /* ln2 split in two for an exact product */
    r = r - n * -2.12194440e-4f;
    float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720))))));
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* sigmoid for f32 kernels, vectorizable: 1 / (1 + e^-x) with sg_expf_vec.
 * Within 3.3 ulp of the exact value wherever that is above 1e-30 (tested in
 * tests/test_kernels.c); saturates to 1 above x = 87.3 and to about 5e-39
 * below x = -88.3 (the true value is smaller still); NaN stays NaN. */
static inline float sg_sigmoidf_vec(float x)
{
    float y = 1.0f / (1.0f + sg_expf_vec(-x));
    return x == x ? y : x;
}

/* tanh for f32 kernels, vectorizable (both branches computed, one kept): for
 * |x| < 0.625 the odd Taylor series to x^21 (its next term is below 2e-9
 * relative there); above, 1 - 2 / (e^{2|x|} + 1) with sg_expf_vec, whose
 * cancellation costs less than a bit from 0.625 on.  Within 1.7 ulp of the
 * exact value for every float (tested in tests/test_kernels.c); +-1 for
 * |x| > 44 and for infinities; NaN stays NaN. */
static inline float sg_tanhf_vec(float x)
{
    float a = fabsf(x), x2 = a * a;
    float small = 9.691537957e-05f;
    small = -2.391291142e-04f + x2 * small;
    small = 5.900274409e-04f + x2 * small;
    small = -1.455834387e-03f + x2 * small;
    small = 3.592128037e-03f + x2 * small;
    small = -8.863235530e-03f + x2 * small;
    small = 2.186948854e-02f + x2 * small;
    small = -5.396825397e-02f + x2 * small;
    small = 1.333333333e-01f + x2 * small;
    small = -3.333333333e-01f + x2 * small;
    small = a + a * x2 * small;
    float big = 1.0f - 2.0f / (sg_expf_vec(2.0f * a) + 1.0f);
    float t = a < 0.625f ? small : big;
    t = copysignf(t, x);
    return x == x ? t : x;
}

/* softplus log(1 + e^x) for f32 kernels, vectorizable: max(x, 0) +
 * log1p(t) with t = e^-|x| in (0, 1] (sg_expf_vec), and log1p(t) =
 * 2 atanh(s) with s = t / (2 + t) in (0, 1/3], as the odd series
 * 2 s (1 + s^2/3 + ... + s^16/17) (next term below 2e-9 relative), so there
 * is no cancellation near t = 0.  Within 4 ulp of the exact value wherever
 * that is above 1e-30 (tested in tests/test_kernels.c); about 1e-38 below
 * x = -87.3 (the true value is smaller still); +inf stays +inf, NaN NaN. */
static inline float sg_softplusf_vec(float x)
{
    float m = x > 0.0f ? x : 0.0f;
    float t = sg_expf_vec(-fabsf(x));
    float s = t / (2.0f + t), z = s * s;
    float p = 1.0f / 17;
    p = 1.0f / 15 + z * p;
    p = 1.0f / 13 + z * p;
    p = 1.0f / 11 + z * p;
    p = 1.0f / 9 + z * p;
    p = 1.0f / 7 + z * p;
    p = 1.0f / 5 + z * p;
    p = 1.0f / 3 + z * p;
    p = 1.0f + z * p;
    float y = m + 2.0f * s * p;
    return x == x ? y : x;
}

/* exp in a kernel body: the vectorizable f32 version, libm's exp for f64. */
static inline double sg_exp_f64_(double x) { return exp(x); }
#define SG_EXP(x) _Generic((x), float : sg_expf_vec, default : sg_exp_f64_)(x)
/* sigmoid and tanh in a kernel body: the vectorizable f32 versions above,
 * libm-based (exp, tanh) for f64, so f64 checks keep libm's accuracy. */
static inline double sg_sigmoid_f64_(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }
static inline double sg_tanh_f64_(double x) { return tanh(x); }
#define SG_SIGMOID_T(x) _Generic((x), float : sg_sigmoidf_vec, default : sg_sigmoid_f64_)(x)
#define SG_TANH_T(x) _Generic((x), float : sg_tanhf_vec, default : sg_tanh_f64_)(x)
/* softplus in a kernel body: sg_softplusf_vec for f32, libm's log1p and exp
 * for f64. */
static inline double sg_softplus_f64_(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
#define SG_SOFTPLUS_T(x) _Generic((x), float : sg_softplusf_vec, default : sg_softplus_f64_)(x)

/* The maximum of x[0..n-1] (n >= 1, contiguous), in two vectors of 32
 * bytes (GCC/clang vector types: a compare and a bitwise select per vector,
 * which the plain `?:` loop did not become; it ran one element at a time).
 * A max does not depend on the order it is taken in, so this is the plain
 * loop's value, NaN included (a NaN never wins a >, and x[0] starts every
 * lane), up to the sign of a zero maximum, which x - m does not see. */
#define SG_ROW_MAX_FN(NAME, T, TI)                                                                                     \
    SG_ALWAYS_INLINE static inline T NAME(const T *x, size_t n)                                                        \
    {                                                                                                                  \
        typedef T vec __attribute__((vector_size(32)));                                                                \
        typedef TI mask __attribute__((vector_size(32)));                                                              \
        enum { L = 32 / sizeof(T) };                                                                                   \
        vec a, b;                                                                                                      \
        for (size_t l = 0; l < L; l++)                                                                                 \
            a[l] = x[0];                                                                                               \
        b = a;                                                                                                         \
        size_t c = 0;                                                                                                  \
        for (; c + 2 * L <= n; c += 2 * L) {                                                                           \
            vec u, v;                                                                                                  \
            memcpy(&u, x + c, sizeof u);                                                                               \
            memcpy(&v, x + c + L, sizeof v);                                                                           \
            mask gu = u > a, gv = v > b; /* all ones where the new element wins */                                     \
            a = (vec)((gu & (mask)u) | (~gu & (mask)a));                                                               \
            b = (vec)((gv & (mask)v) | (~gv & (mask)b));                                                               \
        }                                                                                                              \
        T m = a[0];                                                                                                    \
        for (size_t l = 0; l < L; l++) {                                                                               \
            m = a[l] > m ? a[l] : m;                                                                                   \
            m = b[l] > m ? b[l] : m;                                                                                   \
        }                                                                                                              \
        for (; c < n; c++)                                                                                             \
            m = x[c] > m ? x[c] : m;                                                                                   \
        return m;                                                                                                      \
    }
SG_ROW_MAX_FN(sg_row_max_f32_, float, int32_t)
SG_ROW_MAX_FN(sg_row_max_f64_, double, int64_t)
#define SG_ROW_MAX(x, n) _Generic((x), const float * : sg_row_max_f32_, default : sg_row_max_f64_)((x), (n))

/* The dot product of a[0..k-1] and b[0..k-1] (contiguous) in 8 partial sums
 * that the compiler vectorizes, added in a fixed order at the end: the same
 * bytes for the same operands wherever it is called. */
#define SG_DOT_FN(NAME, T)                                                                                             \
    SG_ALWAYS_INLINE static inline T NAME(const T *restrict a, const T *restrict b, size_t k)                          \
    {                                                                                                                  \
        T acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                                                           \
        size_t p = 0;                                                                                                  \
        for (; p + 8 <= k; p += 8)                                                                                     \
            for (size_t l = 0; l < 8; l++)                                                                             \
                acc[l] += a[p + l] * b[p + l];                                                                         \
        for (; p < k; p++)                                                                                             \
            acc[p % 8] += a[p] * b[p];                                                                                 \
        return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));                      \
    }
SG_DOT_FN(sg_dot_f32_, float)
SG_DOT_FN(sg_dot_f64_, double)
#define SG_DOT(a, b, k)                                                                                                \
    _Generic((a), const float * : sg_dot_f32_, float * : sg_dot_f32_, default : sg_dot_f64_)((a), (b), (k))

/* A VJP's write into a gradient: dst += v, or, for a gradient the engine
 * left unzeroed for the call (fresh: sg_op.vjp_assigns), dst = 0 + v, the
 * bytes of the add into zeros it replaces.  fresh is loop-invariant, so the
 * compiler makes a copy of the loop for each case (-O3 unswitching). */
#define SG_GRAD_ACC(dst, fresh, v) ((dst) = ((fresh) ? (T)0 : (dst)) + (v))

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
static inline sg_tensor *sg_example_input(sg_graph *g, sg_rng *rng, const char *name, sg_shape s, double lo, double hi)
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
