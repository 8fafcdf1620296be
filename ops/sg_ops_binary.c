/* sg_ops_binary.c — elementwise binary ops with NumPy broadcasting.  y is the
 * output, gy its gradient, ga/gb the inputs' gradients; a and b are read at the
 * broadcast position of each output element.
 *
 *   add       y = a + b        ga += gy        gb += gy
 *   sub       y = a - b        ga += gy        gb -= gy
 *   hadamard  y = a * b        ga += gy * b    gb += gy * a
 *
 * Broadcasting: shapes are aligned at the trailing dimension; a missing
 * dimension counts as 1 and a dimension of 1 is repeated to the other's size.
 * The VJP of a repeated dimension is the sum of gy over its repetitions.
 *
 * Iteration plan (sg_bplan): the output is walked as rows x inner, where inner
 * is the last dimension that remains after dropping size-1 dimensions and
 * merging neighbours that are contiguous in both inputs.  This turns the hot
 * cases into plain loops without special code for each:
 *   same shape            (N) + (N)          -> 1 row of N, strides (1, 1)
 *   bias row              (T, B, H) + (H)    -> T*B rows of H, b's row stride 0
 *   scalar                (2, 3) + ()        -> 1 row of 6, b's stride 0
 * and everything else, e.g. (3, 1) + (1, 4) or (2, 1, 3) * (4, 1), goes through
 * the same rows loop with an odometer over up to three outer dimensions.  After
 * merging, the inner stride of each input is 0 (repeated) or 1 (contiguous).
 * hadamard(x, x) works: both contributions are added into x's one gradient.
 */
#include "ops/sg_kernel.h"
#include "ops/sg_op_table.h"

/* ---- shape rule ---------------------------------------------------------- */

static sg_status sg_shape_broadcast(sg_tensor *node, char *msg, size_t cap)
{
    sg_status st = sg_check_float_inputs(node, msg, cap);
    if (st != SG_OK)
        return st;
    sg_shape sa = node->src[0]->shape, sb = node->src[1]->shape;
    int nd = sa.ndim > sb.ndim ? sa.ndim : sb.ndim;
    sg_shape out = {.ndim = nd};
    for (int i = 0; i < nd; i++) {
        /* i-th output dimension; the inputs' aligned dims (missing = 1) */
        int ia = i - (nd - sa.ndim), ib = i - (nd - sb.ndim);
        size_t da = ia >= 0 ? sa.d[ia] : 1, db = ib >= 0 ? sb.d[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            snprintf(msg, cap,
                     "cannot broadcast: a's dimension %d (size %zu) and b's dimension %d (size %zu) are aligned "
                     "(output axis %d) and neither is 1",
                     ia, da, ib, db, i);
            return SG_ERR_SHAPE;
        }
        out.d[i] = da == 1 ? db : da;
    }
    node->shape = out;
    return SG_OK;
}

/* ---- iteration plan ------------------------------------------------------ */

/* The output as rows x n[3]: n[0..2] are outer dimensions (leading ones 1),
 * sa/sb the element strides of a and b per dimension (0 = repeated). */
typedef struct sg_bplan {
    size_t n[4];
    size_t sa[4];
    size_t sb[4];
} sg_bplan;

/* Strides of x in the dimensions of out (0 where x is broadcast). */
static void sg_bstrides(const sg_shape *x, const sg_shape *out, size_t *st /* (out->ndim) */)
{
    size_t s = 1;
    for (int i = out->ndim - 1; i >= 0; i--) {
        int ix = i - (out->ndim - x->ndim);
        size_t dx = ix >= 0 ? x->d[ix] : 1;
        st[i] = dx == 1 ? 0 : s;
        s *= dx;
    }
}

static void sg_bplan_make(const sg_tensor *node, sg_bplan *p)
{
    const sg_shape *out = &node->shape;
    size_t sa[SG_MAX_DIMS], sb[SG_MAX_DIMS];
    sg_bstrides(&node->src[0]->shape, out, sa);
    sg_bstrides(&node->src[1]->shape, out, sb);

    /* Kept dimensions, outermost first: size-1 dims dropped, mergeable merged. */
    size_t kn[SG_MAX_DIMS], ka[SG_MAX_DIMS], kb[SG_MAX_DIMS];
    int k = 0;
    for (int i = 0; i < out->ndim; i++) {
        size_t n = out->d[i];
        if (n == 1)
            continue;
        if (k > 0 && ka[k - 1] == sa[i] * n && kb[k - 1] == sb[i] * n) {
            kn[k - 1] *= n; /* outer dim continues the inner one in both inputs */
            ka[k - 1] = sa[i];
            kb[k - 1] = sb[i];
            continue;
        }
        kn[k] = n;
        ka[k] = sa[i];
        kb[k] = sb[i];
        k++;
    }
    for (int i = 0; i < 4; i++) {
        p->n[i] = 1;
        p->sa[i] = p->sb[i] = 0;
    }
    if (k == 0) { /* a single element */
        p->sa[3] = p->sb[3] = 1;
        return;
    }
    for (int i = 0; i < k; i++) {
        p->n[4 - k + i] = kn[i];
        p->sa[4 - k + i] = ka[i];
        p->sb[4 - k + i] = kb[i];
    }
}

/* Moves the offsets oa/ob to the next row (odometer over dims 0..2). */
static inline void sg_bplan_next_row(const sg_bplan *p, size_t idx[3], size_t *oa, size_t *ob)
{
    for (int d = 2; d >= 0; d--) {
        idx[d]++;
        *oa += p->sa[d];
        *ob += p->sb[d];
        if (idx[d] < p->n[d])
            return;
        *oa -= p->sa[d] * p->n[d];
        *ob -= p->sb[d] * p->n[d];
        idx[d] = 0;
    }
}

/* Sets idx and the offsets oa/ob to row r (0 <= r < rows). */
static inline void sg_bplan_seek(const sg_bplan *p, size_t r, size_t idx[3], size_t *oa, size_t *ob)
{
    *oa = *ob = 0;
    for (int d = 2; d >= 0; d--) {
        idx[d] = r % p->n[d];
        r /= p->n[d];
        *oa += idx[d] * p->sa[d];
        *ob += idx[d] * p->sb[d];
    }
}

/* The units a pass is cut in over the pool (sg_kernel.h): the rows, or the
 * elements of the one row when there is a single row. */
static size_t sg_binary_units(const sg_tensor *node)
{
    sg_bplan p;
    sg_bplan_make(node, &p);
    size_t rows = p.n[0] * p.n[1] * p.n[2];
    return rows > 1 ? rows : p.n[3];
}

/* Parts of whole rows, or of 16 elements (a cache line of f32) in one row. */
static size_t sg_binary_align(const sg_tensor *node) { return sg_binary_units(node) == node->numel ? 16 : 1; }

/* The VJP is cut only when it is one flat pass (same shapes: each gradient
 * element is written by one unit); with broadcasting, a repeated input's
 * gradient sums over rows or over the row, so it stays one task. */
static size_t sg_binary_vjp_units(const sg_tensor *node)
{
    sg_bplan p;
    sg_bplan_make(node, &p);
    bool flat = p.n[0] * p.n[1] * p.n[2] == 1 && p.sa[3] && p.sb[3];
    return flat ? p.n[3] : 1;
}

/* ---- kernels -------------------------------------------------------------- */

/* Forward: y = expr(va, vb) over the units [lo, hi) of sg_binary_units: rows
 * lo..hi-1 whole, or elements lo..hi-1 of a single row. */
#define SG_BINARY_FWD(expr)                                                                                            \
    sg_bplan p;                                                                                                        \
    sg_bplan_make(node, &p);                                                                                           \
    const T *a = node->src[0]->data;                                                                                   \
    const T *b = node->src[1]->data;                                                                                   \
    T *y = node->data;                                                                                                 \
    size_t inner = p.n[3], rows = p.n[0] * p.n[1] * p.n[2];                                                            \
    size_t r0 = rows > 1 ? lo : 0, r1 = rows > 1 ? hi : 1;                                                             \
    size_t j0 = rows > 1 ? 0 : lo, j1 = rows > 1 ? inner : hi;                                                         \
    size_t idx[3], oa, ob;                                                                                             \
    sg_bplan_seek(&p, r0, idx, &oa, &ob);                                                                              \
    for (size_t r = r0; r < r1; r++) {                                                                                 \
        const T *ar = a + oa; /* (inner) or one repeated element */                                                    \
        const T *br = b + ob;                                                                                          \
        T *yr = y + r * inner; /* (inner) */                                                                           \
        if (p.sa[3] && p.sb[3]) {                                                                                      \
            for (size_t j = j0; j < j1; j++) {                                                                         \
                T va = ar[j], vb = br[j];                                                                              \
                yr[j] = (expr);                                                                                        \
            }                                                                                                          \
        } else if (p.sa[3]) {                                                                                          \
            T vb = br[0];                                                                                              \
            for (size_t j = j0; j < j1; j++) {                                                                         \
                T va = ar[j];                                                                                          \
                yr[j] = (expr);                                                                                        \
            }                                                                                                          \
        } else {                                                                                                       \
            T va = ar[0];                                                                                              \
            for (size_t j = j0; j < j1; j++) {                                                                         \
                T vb = br[j];                                                                                          \
                yr[j] = (expr);                                                                                        \
            }                                                                                                          \
        }                                                                                                              \
        sg_bplan_next_row(&p, idx, &oa, &ob);                                                                          \
    }

/* VJP into one input x (a or b): gx += gexpr(gv, va, vb), summed over the
 * repetitions of x.  ox is x's offset and sx its inner stride (0 or 1); the
 * inner strides of (a, b) are (1, 1), (1, 0) or (0, 1) (see the plan).  Separate
 * passes for a and b keep hadamard(x, x) right: both add into one gradient. */
#define SG_BINARY_VJP_INTO(gx, ox, sx, gexpr)                                                                          \
    if (gx) {                                                                                                          \
        size_t idx[3] = {0, 0, 0}, oa = 0, ob = 0;                                                                     \
        for (size_t r = 0; r < rows; r++) {                                                                            \
            const T *gr = gy + r * inner; /* (inner) */                                                                \
            const T *ar = a + oa;                                                                                      \
            const T *br = b + ob;                                                                                      \
            T *gxr = gx + (ox);                                                                                        \
            if (p.sa[3] && p.sb[3]) { /* both contiguous: the hot case */                                              \
                for (size_t j = 0; j < inner; j++) {                                                                   \
                    T gv = gr[j], va = ar[j], vb = br[j];                                                              \
                    (void)va;                                                                                          \
                    (void)vb;                                                                                          \
                    gxr[j] += (gexpr);                                                                                 \
                }                                                                                                      \
            } else if ((sx) == 0) { /* x repeated along the row: sum */                                                \
                T acc = 0;                                                                                             \
                if (p.sa[3]) {                                                                                         \
                    T vb = br[0];                                                                                      \
                    for (size_t j = 0; j < inner; j++) {                                                               \
                        T gv = gr[j], va = ar[j];                                                                      \
                        (void)va;                                                                                      \
                        acc += (gexpr);                                                                                \
                    }                                                                                                  \
                    (void)vb;                                                                                          \
                } else {                                                                                               \
                    T va = ar[0];                                                                                      \
                    for (size_t j = 0; j < inner; j++) {                                                               \
                        T gv = gr[j], vb = br[j];                                                                      \
                        (void)vb;                                                                                      \
                        acc += (gexpr);                                                                                \
                    }                                                                                                  \
                    (void)va;                                                                                          \
                }                                                                                                      \
                gxr[0] += acc;                                                                                         \
            } else if (p.sa[3]) { /* x = a contiguous, b repeated */                                                   \
                T vb = br[0];                                                                                          \
                for (size_t j = 0; j < inner; j++) {                                                                   \
                    T gv = gr[j], va = ar[j];                                                                          \
                    (void)va;                                                                                          \
                    gxr[j] += (gexpr);                                                                                 \
                }                                                                                                      \
                (void)vb;                                                                                              \
            } else { /* x = b contiguous, a repeated */                                                                \
                T va = ar[0];                                                                                          \
                for (size_t j = 0; j < inner; j++) {                                                                   \
                    T gv = gr[j], vb = br[j];                                                                          \
                    (void)vb;                                                                                          \
                    gxr[j] += (gexpr);                                                                                 \
                }                                                                                                      \
                (void)va;                                                                                              \
            }                                                                                                          \
            sg_bplan_next_row(&p, idx, &oa, &ob);                                                                      \
        }                                                                                                              \
    }

#define SG_BINARY_VJP(ga_expr, gb_expr)                                                                                \
    sg_bplan p;                                                                                                        \
    sg_bplan_make(node, &p);                                                                                           \
    const T *a = node->src[0]->data;                                                                                   \
    const T *b = node->src[1]->data;                                                                                   \
    const T *gy = node->grad;                                                                                          \
    T *ga = node->src[0]->grad;                                                                                        \
    T *gb = node->src[1]->grad;                                                                                        \
    size_t inner = p.n[3], rows = p.n[0] * p.n[1] * p.n[2];                                                            \
    if (rows == 1 && p.sa[3] && p.sb[3]) {                                                                             \
        /* same shape: one flat pass over the elements [lo, hi) (ga may be gb: x op x, never fresh) */                 \
        const bool fa = node->src[0]->grad_fresh, fb = node->src[1]->grad_fresh;                                       \
        for (size_t j = lo; j < hi; j++) {                                                                             \
            T gv = gy[j], va = a[j], vb = b[j];                                                                        \
            (void)va;                                                                                                  \
            (void)vb;                                                                                                  \
            if (ga)                                                                                                    \
                SG_GRAD_ACC(ga[j], fa, (ga_expr));                                                                     \
            if (gb)                                                                                                    \
                SG_GRAD_ACC(gb[j], fb, (gb_expr));                                                                     \
        }                                                                                                              \
        return;                                                                                                        \
    }                                                                                                                  \
    /* broadcasting (one task): a fresh gradient is zeroed, then summed into */                                        \
    if (ga && node->src[0]->grad_fresh)                                                                                \
        memset(ga, 0, node->src[0]->numel * sizeof(T));                                                                \
    if (gb && node->src[1]->grad_fresh)                                                                                \
        memset(gb, 0, node->src[1]->numel * sizeof(T));                                                                \
    SG_BINARY_VJP_INTO(ga, oa, p.sa[3], ga_expr)                                                                       \
    SG_BINARY_VJP_INTO(gb, ob, p.sb[3], gb_expr)

/* ---- examples ------------------------------------------------------------- */

/* Variant v: shapes of a and b, and whether b is a itself. */
enum { SG_BINARY_VARIANTS = 10 };

static sg_tensor *sg_binary_example(sg_graph *g, sg_rng *rng, int variant,
                                    sg_tensor *(*fn)(sg_graph *, sg_tensor *, sg_tensor *))
{
    sg_shape sa, sb;
    /* clang-format off */
    switch (variant) {
    case 0: sa = SG_SHAPE(3, 4); sb = SG_SHAPE(3, 4); break;          /* same shape */
    case 1: sa = SG_SHAPE(2, 3, 4); sb = SG_SHAPE(4); break;          /* bias row */
    case 2: sa = SG_SHAPE(3, 2, 4); sb = SG_SHAPE(2, 4); break;       /* (T, B, H) + (B, H) */
    case 3: sa = SG_SHAPE(3, 1); sb = SG_SHAPE(1, 4); break;          /* column x row */
    case 4: sa = SG_SCALAR; sb = SG_SHAPE(2, 3); break;               /* scalar, a broadcast */
    case 5: sa = SG_SHAPE(1, 3); sb = SG_SHAPE(4, 3); break;          /* a broadcast */
    case 6: sa = SG_SHAPE(2, 1, 3); sb = SG_SHAPE(4, 1); break;       /* both broadcast */
    case 7: sa = SG_SHAPE(1); sb = SG_SHAPE(1, 1); break;             /* size-1 edges */
    case 8: sa = SG_SHAPE(2, 1, 3, 1); sb = SG_SHAPE(1, 2, 1, 2); break; /* 4-D */
    default: sa = SG_SHAPE(2, 3); sb = sa; break;                     /* x op x */
    }
    /* clang-format on */
    sg_tensor *a = sg_example_input(g, rng, "a", sa, -2.0, 2.0);
    sg_tensor *b = variant == SG_BINARY_VARIANTS - 1 ? a : sg_example_input(g, rng, "b", sb, -2.0, 2.0);
    return fn(g, a, b);
}

/* ---- the ops -------------------------------------------------------------- */

#define SG_BINARY_OP(op_name, fwd_expr, ga_expr, gb_expr)                                                              \
    SG_KERNEL_RANGED(op_name##_forward, sg_binary_units(node), sg_binary_align(node), SG_BINARY_FWD(fwd_expr))         \
    SG_KERNEL_RANGED(op_name##_vjp, sg_binary_vjp_units(node), 16, SG_BINARY_VJP(ga_expr, gb_expr))                    \
    sg_tensor *sg_##op_name(sg_graph *g, sg_tensor *a, sg_tensor *b)                                                   \
    {                                                                                                                  \
        sg_tensor *src[2] = {a, b};                                                                                    \
        return sg_op_apply(g, &sg_op_##op_name, src, 2, NULL);                                                         \
    }                                                                                                                  \
    static sg_tensor *op_name##_example(sg_graph *g, sg_rng *rng, int variant)                                         \
    {                                                                                                                  \
        return sg_binary_example(g, rng, variant, sg_##op_name);                                                       \
    }                                                                                                                  \
    const sg_op sg_op_##op_name = {.name = #op_name,                                                                   \
                                   .arity = 2,                                                                         \
                                   .shape = sg_shape_broadcast,                                                        \
                                   .forward = op_name##_forward,                                                       \
                                   .vjp = op_name##_vjp,                                                               \
                                   .example = op_name##_example,                                                       \
                                   .vjp_assigns = true,                                                                \
                                   .n_variants = SG_BINARY_VARIANTS};

/*           name      forward   ga term   gb term */
/* clang-format off */
SG_BINARY_OP(add,      va + vb,  gv,       gv)
SG_BINARY_OP(sub,      va - vb,  gv,       -gv)
SG_BINARY_OP(hadamard, va * vb,  gv * vb,  gv * va)
/* clang-format on */
