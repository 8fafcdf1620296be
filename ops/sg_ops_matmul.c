/* sg_ops_matmul.c — matrix product through cblas gemm (row-major).
 *
 *   matmul  C = op(A) op(B)          op(X) = X or X^T (args.i[0] = trans_a, i[1] = trans_b)
 *           A (..., M, K) or (..., K, M) when transposed; B (..., K, N) or (..., N, K);
 *           C (..., M, N).
 *   VJP     d op(A) = G op(B)^T      so  dA += G op(B)^T     (dA += op(B) G^T when trans_a)
 *           d op(B) = op(A)^T G      so  dB += op(A)^T G     (dB += G^T op(A) when trans_b)
 *           every product is one gemm with beta = 1, which accumulates.
 *
 * Batching: the leading (batch) axes of A and B are equal and each batch is one
 * product, or B is 2-D and shared by every batch (a weight matrix); then dB is
 * the sum over the batch.  With a shared B and no trans_a, the batch is folded
 * into M: a (T, B, K) sequence times W (K, N) is ONE gemm of (T*B, K) x (K, N),
 * and its VJP two more.
 */
#include "ops/sg_kernel.h"
#include "ops/sg_op_table.h"
#include "graph/exec/sg_pool.h"
#include "ops/sg_threads.h"
#include "ops/sg_gemm_packed.h"

#include <cblas.h>
#include <limits.h>

/* The sizes of one product, read from the node's inputs and flags. */
typedef struct sg_mm {
    bool ta, tb;
    size_t batch;   /* product of the leading axes of a */
    bool shared_b;  /* b is 2-D and a has batch axes */
    size_t m, k, n; /* op(A) (m, k), op(B) (k, n) */
} sg_mm;

static void sg_mm_dims(const sg_tensor *node, sg_mm *mm)
{
    const sg_shape *sa = &node->src[0]->shape, *sb = &node->src[1]->shape;
    mm->ta = node->args.i[0] != 0;
    mm->tb = node->args.i[1] != 0;
    size_t ar = sa->d[sa->ndim - 2], ac = sa->d[sa->ndim - 1];
    size_t br = sb->d[sb->ndim - 2], bc = sb->d[sb->ndim - 1];
    mm->m = mm->ta ? ac : ar;
    mm->k = mm->ta ? ar : ac;
    mm->n = mm->tb ? br : bc;
    mm->batch = 1;
    for (int i = 0; i < sa->ndim - 2; i++)
        mm->batch *= sa->d[i];
    mm->shared_b = sa->ndim > 2 && sb->ndim == 2;
}

static sg_status sg_shape_matmul(sg_tensor *node, char *msg, size_t cap)
{
    sg_status st = sg_check_float_inputs(node, msg, cap);
    if (st != SG_OK)
        return st;
    const sg_shape *sa = &node->src[0]->shape, *sb = &node->src[1]->shape;
    if (sa->ndim < 2 || sb->ndim < 2) {
        snprintf(msg, cap, "both inputs need at least 2 dimensions (a has %d, b has %d)", sa->ndim, sb->ndim);
        return SG_ERR_SHAPE;
    }
    if (sb->ndim > 2) {
        if (sb->ndim != sa->ndim) {
            snprintf(msg, cap, "batched b must have a's rank (a has %d dimensions, b has %d); or pass a 2-D b",
                     sa->ndim, sb->ndim);
            return SG_ERR_SHAPE;
        }
        for (int i = 0; i < sa->ndim - 2; i++) {
            if (sa->d[i] != sb->d[i]) {
                snprintf(msg, cap, "batch dimension %d differs: a has %zu, b has %zu", i, sa->d[i], sb->d[i]);
                return SG_ERR_SHAPE;
            }
        }
    }
    sg_mm mm;
    sg_mm_dims(node, &mm);
    size_t kb = mm.tb ? sb->d[sb->ndim - 1] : sb->d[sb->ndim - 2];
    if (mm.k != kb) {
        snprintf(msg, cap,
                 "inner dimensions differ: K = %zu from a, %zu from b (op(a) is (%zu, %zu)%s, op(b) is "
                 "(%zu, %zu)%s)",
                 mm.k, kb, mm.m, mm.k, mm.ta ? " with a transposed" : "", kb, mm.n, mm.tb ? " with b transposed" : "");
        return SG_ERR_SHAPE;
    }
    /* cblas takes int sizes; the folded M of a shared b is batch * m. */
    if (mm.m > INT_MAX || mm.n > INT_MAX || mm.k > INT_MAX || mm.batch > INT_MAX / mm.m) {
        snprintf(msg, cap, "dimensions exceed the BLAS int range");
        return SG_ERR_SHAPE;
    }
    node->shape = *sa;
    node->shape.d[sa->ndim - 2] = mm.m;
    node->shape.d[sa->ndim - 1] = mm.n;
    return SG_OK;
}

/* Products this small (m * n * k multiply-adds) are computed by the loops
 * below: a BLAS call costs more in dispatch and packing than the arithmetic
 * (the batched dot products of word2vec, (K+1, D) x (D, 1), and of
 * attention scores).  Larger ones go to cblas. */
enum { SG_GEMM_SMALL = 8192 };

/* The small product in loops, for T = float or double.  With strides
 * A(i, p) = A[i*sai + p*sap], B(p, j) = B[p*sbp + j*sbj], C(i, j) = C[i*ldc + j]
 * the loop is chosen so that the innermost one runs over contiguous memory
 * and vectorizes:
 *   n = 1, rows of A and the column of B contiguous: a dot product per row
 *          (SG_DOT, sg_kernel.h);
 *   n = 1, columns of A contiguous (a transposed A), C a column: C += b_p A_p
 *          over p, an axpy down the column;
 *   rows of B contiguous: C_i += A(i, p) B_p over p, an axpy along the row;
 *   rows of A and columns of B contiguous (a transposed B): a dot product
 *          per element of C, as above;
 *   else one multiply-add at a time.
 * The choice depends only on the shapes and flags, and every sum runs over p
 * in a fixed order, so the result depends only on the operands. */
#define SG_GEMM_SMALL_FN(NAME, T)                                                                                      \
    SG_ALWAYS_INLINE static inline void NAME##_axpy(T *restrict c, T alpha, const T *restrict x, size_t n)             \
    {                                                                                                                  \
        for (size_t j = 0; j < n; j++)                                                                                 \
            c[j] += alpha * x[j];                                                                                      \
    }                                                                                                                  \
    SG_CLONES static void NAME(bool ta, bool tb, size_t m, size_t n, size_t k, const T *A, size_t lda, const T *B,     \
                               size_t ldb, double beta, T *C, size_t ldc)                                              \
    {                                                                                                                  \
        const size_t sai = ta ? 1 : lda, sap = ta ? lda : 1, sbp = tb ? 1 : ldb, sbj = tb ? ldb : 1;                   \
        if (beta != 1.0) /* 1: accumulate into C as it is */                                                           \
            for (size_t i = 0; i < m; i++)                                                                             \
                for (size_t j = 0; j < n; j++)                                                                         \
                    C[i * ldc + j] = beta == 0.0 ? (T)0 : (T)(beta * C[i * ldc + j]);                                  \
        if (n == 1 && sap == 1 && sbp == 1) {                                                                          \
            for (size_t i = 0; i < m; i++)                                                                             \
                C[i * ldc] += SG_DOT(A + i * sai, B, k);                                                               \
        } else if (n == 1 && sai == 1 && ldc == 1) {                                                                   \
            for (size_t p = 0; p < k; p++)                                                                             \
                NAME##_axpy(C, B[p * sbp], A + p * sap, m);                                                            \
        } else if (sbj == 1) {                                                                                         \
            for (size_t i = 0; i < m; i++)                                                                             \
                for (size_t p = 0; p < k; p++)                                                                         \
                    NAME##_axpy(C + i * ldc, A[i * sai + p * sap], B + p * sbp, n);                                    \
        } else if (sap == 1 && sbp == 1) { /* a transposed B: a dot product per element */                             \
            for (size_t i = 0; i < m; i++)                                                                             \
                for (size_t j = 0; j < n; j++)                                                                         \
                    C[i * ldc + j] += SG_DOT(A + i * sai, B + j * sbj, k);                                             \
        } else {                                                                                                       \
            for (size_t i = 0; i < m; i++)                                                                             \
                for (size_t p = 0; p < k; p++)                                                                         \
                    for (size_t j = 0; j < n; j++)                                                                     \
                        C[i * ldc + j] += A[i * sai + p * sap] * B[p * sbp + j * sbj];                                 \
        }                                                                                                              \
    }
SG_GEMM_SMALL_FN(sg_gemm_small_f32, float)
SG_GEMM_SMALL_FN(sg_gemm_small_f64, double)

/* C (m, n) = op(A) op(B) + beta C, row-major, in the node's dtype, in the
 * calling thread.  lda/ldb/ldc are the row lengths of A, B, C as stored. */
static void sg_gemm_serial(sg_dtype dt, bool ta, bool tb, size_t m, size_t n, size_t k, const void *A, size_t lda,
                           const void *B, size_t ldb, double beta, void *C, size_t ldc)
{
    if (m <= SG_GEMM_SMALL && n <= SG_GEMM_SMALL && k <= SG_GEMM_SMALL && m * n * k <= SG_GEMM_SMALL) {
        if (dt == SG_F64)
            sg_gemm_small_f64(ta, tb, m, n, k, A, lda, B, ldb, beta, C, ldc);
        else
            sg_gemm_small_f32(ta, tb, m, n, k, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    enum CBLAS_TRANSPOSE opa = ta ? CblasTrans : CblasNoTrans, opb = tb ? CblasTrans : CblasNoTrans;
    if (dt == SG_F64)
        cblas_dgemm(CblasRowMajor, opa, opb, (int)m, (int)n, (int)k, 1.0, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
    else
        cblas_sgemm(CblasRowMajor, opa, opb, (int)m, (int)n, (int)k, 1.0f, A, (int)lda, B, (int)ldb, (float)beta, C,
                    (int)ldc);
}

/* Products of at least this many multiply-adds are split over the pool
 * (graph/exec/sg_pool.h): about 10 microseconds of one core's work, against
 * about one for a job's hand-off. */
enum { SG_GEMM_PARALLEL = 1 << 18 };

/* One product cut into pool tasks: by rows of C when it has at least as many
 * rows as columns, else by columns; each task is a product of its own rows or
 * columns of C (pieces of 8 rows or 16 columns, so no two tasks write the same
 * cache line of a row), with the same K, so every element of C is the same
 * dot product as in the uncut product. */
typedef struct sg_gemm_job {
    sg_dtype dt;
    bool ta, tb, by_rows;
    size_t m, n, k, lda, ldb, ldc;
    const char *A, *B;
    char *C;
    double beta;
} sg_gemm_job;

static void sg_gemm_task(void *ctx, size_t i, size_t n_tasks)
{
    const sg_gemm_job *j = ctx;
    size_t esz = sg_dtype_size(j->dt), lo, hi;
    if (j->by_rows) {
        sg_pool_share(j->m, 8, i, n_tasks, &lo, &hi);
        if (lo < hi)
            sg_gemm_serial(j->dt, j->ta, j->tb, hi - lo, j->n, j->k, j->A + (j->ta ? lo : lo * j->lda) * esz, j->lda,
                           j->B, j->ldb, j->beta, j->C + lo * j->ldc * esz, j->ldc);
    } else {
        sg_pool_share(j->n, 16, i, n_tasks, &lo, &hi);
        if (lo < hi)
            sg_gemm_serial(j->dt, j->ta, j->tb, j->m, hi - lo, j->k, j->A, j->lda,
                           j->B + (j->tb ? lo * j->ldb : lo) * esz, j->ldb, j->beta, j->C + lo * esz, j->ldc);
    }
}

/* C (m, n) = op(A) op(B) + beta C: sg_gemm_serial, or cut over the pool when
 * the pool has threads and the product is large. */
static void sg_gemm(sg_dtype dt, bool ta, bool tb, size_t m, size_t n, size_t k, const void *A, size_t lda,
                    const void *B, size_t ldb, double beta, void *C, size_t ldc)
{
    size_t threads = sg_pool_threads();
    bool large = m >= 8 && n >= 16 && (double)m * (double)n * (double)k >= (double)SG_GEMM_PARALLEL;
    if (threads <= 1 || !large) {
        sg_gemm_serial(dt, ta, tb, m, n, k, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    sg_gemm_job job = {.dt = dt,
                       .ta = ta,
                       .tb = tb,
                       .by_rows = m >= n,
                       .m = m,
                       .n = n,
                       .k = k,
                       .lda = lda,
                       .ldb = ldb,
                       .ldc = ldc,
                       .A = A,
                       .B = B,
                       .C = C,
                       .beta = beta};
    sg_pool_run(sg_gemm_task, &job, threads);
}

/* A product against the panels of a parameter (ops/sg_gemm_packed.h), cut
 * over the pool by blocks of 10 rows when there are enough rows, else by
 * whole panels: every element is the same sum whatever the cut, so the bytes
 * are the same at every thread count. */
typedef struct sg_packed_job {
    size_t m, n, k, lda, ldc;
    const float *A, *P;
    float beta;
    float *C;
    bool by_rows;
} sg_packed_job;

static void sg_packed_task(void *ctx, size_t i, size_t n_tasks)
{
    const sg_packed_job *j = ctx;
    size_t lo, hi;
    if (j->by_rows) {
        sg_pool_share(j->m, SG_PANEL_ROWS, i, n_tasks, &lo, &hi);
        if (lo < hi)
            sg_gemm_packed_cols(hi - lo, 0, j->n, j->k, j->A + lo * j->lda, j->lda, j->P, j->beta, j->C + lo * j->ldc,
                                j->ldc);
    } else {
        sg_pool_share(j->n, SG_PANEL, i, n_tasks, &lo, &hi);
        if (lo < hi)
            sg_gemm_packed_cols(j->m, lo, hi, j->k, j->A, j->lda, j->P, j->beta, j->C, j->ldc);
    }
}

/* C (m, n) = A (m, k) op(W) + beta C, f32, with op(W) (k, n) = W, or W^T
 * when w_trans: through the panels of W when it is a parameter, m is small
 * and the CPU runs the packed kernel (sg_gemm_packed.h); false when it did
 * nothing (the caller then calls sg_gemm).  A is not transposed. */
static bool sg_gemm_by_panels(const sg_tensor *node, sg_tensor *W, bool w_trans, size_t m, size_t n, size_t k,
                              const void *A, size_t lda, double beta, void *C, size_t ldc)
{
    if (node->dtype != SG_F32 || m > SG_PANEL_MAX_ROWS ||
        (double)m * (double)n * (double)k < (double)SG_PANEL_MIN_WORK || !sg_gemm_packed_on())
        return false;
    const float *P = sg_gemm_packed_panels(W, w_trans, k, n);
    if (!P)
        return false;
    size_t panels = sg_gemm_panel_count(n), blocks = (m + SG_PANEL_ROWS - 1) / SG_PANEL_ROWS;
    size_t threads = sg_pool_threads();
    sg_packed_job job = {.m = m, .n = n, .k = k, .lda = lda, .ldc = ldc, .A = A, .P = P, .beta = (float)beta, .C = C};
    job.by_rows = blocks >= threads;
    size_t pieces = job.by_rows ? blocks : panels;
    bool large = (double)m * (double)n * (double)k >= (double)SG_GEMM_PARALLEL && pieces >= 2;
    sg_pool_run(sg_packed_task, &job, large ? (threads < pieces ? threads : pieces) : 1);
    return true;
}

sg_status sg_threads_set(size_t n)
{
    sg_status st = sg_pool_set_threads(n);
    if (st == SG_OK)
        openblas_set_num_threads(1);
    return st;
}

const char *sg_blas_core(void)
{
    const char *name = openblas_get_corename();
    return name ? name : "unknown";
}

/* Element i of buffer base (elements of esz bytes). */
static inline void *sg_at(void *base, size_t i, size_t esz) { return (char *)base + i * esz; }

/* Products [i0, i1) of a batched matmul's forward (the batch not folded). */
static void sg_matmul_forward_batches(const sg_tensor *node, const sg_mm *mm, size_t i0, size_t i1)
{
    size_t esz = sg_dtype_size(node->dtype);
    void *a = node->src[0]->data, *b = node->src[1]->data, *c = node->data;
    size_t lda = mm->ta ? mm->m : mm->k, ldb = mm->tb ? mm->k : mm->n;
    size_t sa = mm->m * mm->k, sb = mm->shared_b ? 0 : mm->k * mm->n, sc = mm->m * mm->n; /* per-batch strides */
    for (size_t i = i0; i < i1; i++)
        sg_gemm(node->dtype, mm->ta, mm->tb, mm->m, mm->n, mm->k, sg_at(a, i * sa, esz), lda, sg_at(b, i * sb, esz),
                ldb, 0.0, sg_at(c, i * sc, esz), mm->n);
}

/* The VJP of products [i0, i1); m and batch as the caller folded them;
 * dA only when with_da (the caller may have made it already). */
static void sg_matmul_vjp_batches(const sg_tensor *node, const sg_mm *mm, size_t m, size_t i0, size_t i1, bool with_da)
{
    sg_dtype dt = node->dtype;
    size_t esz = sg_dtype_size(dt);
    void *a = node->src[0]->data, *b = node->src[1]->data, *g = node->grad;
    void *ga = with_da ? node->src[0]->grad : NULL, *gb = node->src[1]->grad;
    size_t lda = mm->ta ? mm->m : mm->k, ldb = mm->tb ? mm->k : mm->n, ldg = mm->n;
    size_t sa = m * mm->k, sb = mm->shared_b ? 0 : mm->k * mm->n, sg = m * mm->n; /* per-batch strides */
    for (size_t i = i0; i < i1; i++) {
        void *ai = sg_at(a, i * sa, esz), *bi = sg_at(b, i * sb, esz), *gi = sg_at(g, i * sg, esz);
        if (ga) {
            if (!mm->ta) /* dA (m, k) += G (m, n) op(B)^T (n, k) */
                sg_gemm(dt, false, !mm->tb, m, mm->k, mm->n, gi, ldg, bi, ldb, 1.0, sg_at(ga, i * sa, esz), mm->k);
            else /* dA (k, m) += op(B) (k, n) G^T (n, m) */
                sg_gemm(dt, mm->tb, true, mm->k, m, mm->n, bi, ldb, gi, ldg, 1.0, sg_at(ga, i * sa, esz), m);
        }
        if (gb) {
            if (!mm->tb) /* dB (k, n) += op(A)^T (k, m) G (m, n) */
                sg_gemm(dt, !mm->ta, false, mm->k, mm->n, m, ai, lda, gi, ldg, 1.0, sg_at(gb, i * sb, esz), mm->n);
            else /* dB (n, k) += G^T (n, m) op(A) (m, k) */
                sg_gemm(dt, true, mm->ta, mm->n, mm->k, m, gi, ldg, ai, lda, 1.0, sg_at(gb, i * sb, esz), mm->k);
        }
    }
}

/* A batch of products cut over the pool: each task takes whole products
 * (the attention scores and contexts: 128 small products per step). */
typedef struct sg_batch_job {
    const sg_tensor *node;
    sg_mm mm;
    bool vjp;
} sg_batch_job;

static void sg_matmul_batch_task(void *ctx, size_t i, size_t n)
{
    const sg_batch_job *j = ctx;
    size_t i0, i1;
    sg_pool_share(j->mm.batch, 1, i, n, &i0, &i1);
    if (j->vjp)
        sg_matmul_vjp_batches(j->node, &j->mm, j->mm.m, i0, i1, true);
    else
        sg_matmul_forward_batches(j->node, &j->mm, i0, i1);
}

/* Tasks for a batch of products: the pool's threads when there are several
 * products with enough work in all (about 2^16 multiply-adds). */
static size_t sg_matmul_batch_tasks(const sg_mm *mm)
{
    double work = (double)mm->batch * (double)mm->m * (double)mm->n * (double)mm->k;
    return mm->batch > 1 && work >= (double)(SG_GEMM_PARALLEL / 4) ? sg_pool_threads() : 1;
}

static void matmul_forward(sg_tensor *node)
{
    sg_mm mm;
    sg_mm_dims(node, &mm);
    if (mm.shared_b && !mm.ta) {
        /* (batch*m, k) x (k, n): one gemm for the whole batch */
        size_t lda = mm.k, ldb = mm.tb ? mm.k : mm.n;
        if (!sg_gemm_by_panels(node, node->src[1], mm.tb, mm.batch * mm.m, mm.n, mm.k, node->src[0]->data, lda, 0.0,
                               node->data, mm.n))
            sg_gemm(node->dtype, false, mm.tb, mm.batch * mm.m, mm.n, mm.k, node->src[0]->data, lda, node->src[1]->data,
                    ldb, 0.0, node->data, mm.n);
        return;
    }
    sg_batch_job job = {node, mm, false};
    sg_pool_run(sg_matmul_batch_task, &job, sg_matmul_batch_tasks(&mm));
}

static void matmul_vjp(sg_tensor *node)
{
    sg_mm mm;
    sg_mm_dims(node, &mm);
    if (mm.shared_b && !mm.ta) { /* shared b without trans_a: the batch folded into m, one gemm per gradient */
        size_t m = mm.batch * mm.m;
        void *ga = node->src[0]->grad;
        /* dA (m, k) += G (m, n) op(B)^T: through the panels of op(B)^T when b is a parameter */
        bool da_done =
            ga && sg_gemm_by_panels(node, node->src[1], !mm.tb, m, mm.k, mm.n, node->grad, mm.n, 1.0, ga, mm.k);
        sg_matmul_vjp_batches(node, &mm, m, 0, 1, !da_done);
        return;
    }
    /* products write their own slices of dA and dB, except a shared b's dB,
     * which sums over the batch: that one stays in one thread, in order */
    sg_batch_job job = {node, mm, true};
    bool shared_sum = mm.shared_b && node->src[1]->grad;
    sg_pool_run(sg_matmul_batch_task, &job, shared_sum ? 1 : sg_matmul_batch_tasks(&mm));
}

sg_tensor *sg_matmul_t(sg_graph *g, sg_tensor *a, sg_tensor *b, bool trans_a, bool trans_b)
{
    sg_tensor *src[2] = {a, b};
    sg_op_args args = {.i = {trans_a, trans_b}};
    return sg_op_apply(g, &sg_op_matmul, src, 2, &args);
}

sg_tensor *sg_matmul(sg_graph *g, sg_tensor *a, sg_tensor *b) { return sg_matmul_t(g, a, b, false, false); }

/* Examples: every flag combination, batched, shared b, vector-like edges. */
static sg_tensor *matmul_example(sg_graph *g, sg_rng *rng, int variant)
{
    sg_shape sa, sb;
    bool ta = false, tb = false;
    /* clang-format off */
    switch (variant) {
    case 0: sa = SG_SHAPE(3, 4); sb = SG_SHAPE(4, 5); break;
    case 1: sa = SG_SHAPE(4, 3); sb = SG_SHAPE(4, 5); ta = true; break;
    case 2: sa = SG_SHAPE(3, 4); sb = SG_SHAPE(5, 4); tb = true; break;
    case 3: sa = SG_SHAPE(4, 3); sb = SG_SHAPE(5, 4); ta = tb = true; break;
    case 4: sa = SG_SHAPE(2, 3, 4); sb = SG_SHAPE(2, 4, 5); break;                  /* batched */
    case 5: sa = SG_SHAPE(2, 2, 3, 2); sb = SG_SHAPE(2, 2, 4, 3); ta = tb = true; break;
    case 6: sa = SG_SHAPE(3, 2, 4); sb = SG_SHAPE(4, 5); break;                     /* shared b, folded */
    case 7: sa = SG_SHAPE(2, 4, 3); sb = SG_SHAPE(5, 4); ta = tb = true; break;     /* shared b, looped */
    case 8: sa = SG_SHAPE(1, 4); sb = SG_SHAPE(4, 1); break;                        /* (1,K) x (K,1) */
    case 9: sa = SG_SHAPE(3, 1); sb = SG_SHAPE(1, 5); break;                        /* (M,1) x (1,N) */
    /* above SG_GEMM_SMALL: the cblas path (24 * 24 * 20 = 11520 multiply-adds a product) */
    case 10: sa = SG_SHAPE(2, 24, 20); sb = SG_SHAPE(2, 20, 24); break;
    default: sa = SG_SHAPE(20, 24); sb = SG_SHAPE(24, 20); ta = tb = true; break;
    }
    /* clang-format on */
    return sg_matmul_t(g, sg_example_input(g, rng, "a", sa, -1.0, 1.0), sg_example_input(g, rng, "b", sb, -1.0, 1.0),
                       ta, tb);
}

const sg_op sg_op_matmul = {.name = "matmul",
                            .arity = 2,
                            .shape = sg_shape_matmul,
                            .forward = matmul_forward,
                            .vjp = matmul_vjp,
                            .example = matmul_example,
                            .n_variants = 12};

/* ---- addmm: x op(W) + b in one pass -------------------------------------------------- */

/* addmm  Y (..., N) = X (..., K) op(W) + b      W (K, N), or (N, K) with trans_w; b (N)
 * VJP    dX += G op(W)^T;  dW += X^T G (dW += G^T X with trans_w);  db += sum over rows of G
 * The affine layer's product and bias in one node: the rows of Y start as b and the product
 * accumulates onto them (gemm with beta 1), which saves the add's pass over Y in the forward and
 * its pass over G in the VJP, and the gemm's pass that zeroes Y. */
static sg_status sg_shape_addmm(sg_tensor *node, char *msg, size_t cap)
{
    sg_status st = sg_check_float_inputs(node, msg, cap);
    if (st != SG_OK)
        return st;
    const sg_shape *sx = &node->src[0]->shape, *sw = &node->src[1]->shape, *sb = &node->src[2]->shape;
    bool tw = node->args.i[0] != 0;
    if (sx->ndim < 2 || sw->ndim != 2 || sb->ndim != 1) {
        snprintf(msg, cap, "x needs at least 2 dimensions, W 2 and b 1 (x has %d, W %d, b %d)", sx->ndim, sw->ndim,
                 sb->ndim);
        return SG_ERR_SHAPE;
    }
    size_t K = sx->d[sx->ndim - 1], kw = tw ? sw->d[1] : sw->d[0], N = tw ? sw->d[0] : sw->d[1];
    if (K != kw || sb->d[0] != N) {
        snprintf(msg, cap, "x's last dimension %zu must be W's %s (%zu) and b's size %zu its %s (%zu)", K,
                 tw ? "columns" : "rows", kw, sb->d[0], tw ? "rows" : "columns", N);
        return SG_ERR_SHAPE;
    }
    size_t M = 1;
    for (int i = 0; i < sx->ndim - 1; i++)
        M *= sx->d[i];
    if (M > INT_MAX || N > INT_MAX || K > INT_MAX) {
        snprintf(msg, cap, "dimensions exceed the BLAS int range");
        return SG_ERR_SHAPE;
    }
    node->shape = *sx;
    node->shape.d[sx->ndim - 1] = N;
    return SG_OK;
}

/* M (the rows of x, every leading axis folded), K, N and the flag of an addmm node. */
static void sg_addmm_dims(const sg_tensor *node, size_t *M, size_t *K, size_t *N, bool *tw)
{
    const sg_shape *sx = &node->src[0]->shape, *sw = &node->src[1]->shape;
    *tw = node->args.i[0] != 0;
    *K = sx->d[sx->ndim - 1];
    *N = *tw ? sw->d[0] : sw->d[1];
    *M = node->src[0]->numel / (*K ? *K : 1);
}

static size_t sg_addmm_rows(const sg_tensor *node)
{
    size_t M, K, N;
    bool tw;
    sg_addmm_dims(node, &M, &K, &N, &tw);
    return M;
}

/* Rows [lo, hi) of y = b (the forward's start) and columns [lo, hi) of
 * db += the column sums of G (the bias's VJP, over the rows in order, as the
 * add's broadcast VJP sums); cut over the pool when y is large (sg_kernel.h). */
/* clang-format off */
SG_KERNEL_RANGED(sg_addmm_fill_rows, sg_addmm_rows(node), 1,
    const T *b = node->src[2]->data; /* (N) */
    T *y = node->data;               /* (M, N) */
    size_t N = node->src[2]->numel;
    for (size_t i = lo; i < hi; i++)
        memcpy(y + i * N, b, N * sizeof(T));)
SG_KERNEL_RANGED(sg_addmm_bias_cols, node->src[2]->numel, 16,
    T *gb = node->src[2]->grad; /* (N) */
    const T *g = node->grad;    /* (M, N) */
    size_t M = sg_addmm_rows(node), N = node->src[2]->numel;
    for (size_t i = 0; i < M; i++)
        for (size_t j = lo; j < hi; j++)
            gb[j] += g[i * N + j];)
/* clang-format on */

static void addmm_forward(sg_tensor *node)
{
    size_t M, K, N;
    bool tw;
    sg_addmm_dims(node, &M, &K, &N, &tw);
    sg_addmm_fill_rows(node);
    if (!sg_gemm_by_panels(node, node->src[1], tw, M, N, K, node->src[0]->data, K, 1.0, node->data, N))
        sg_gemm(node->dtype, false, tw, M, N, K, node->src[0]->data, K, node->src[1]->data, tw ? K : N, 1.0, node->data,
                N);
}

static void addmm_vjp(sg_tensor *node)
{
    size_t M, K, N;
    bool tw;
    sg_addmm_dims(node, &M, &K, &N, &tw);
    sg_dtype dt = node->dtype;
    const void *x = node->src[0]->data, *w = node->src[1]->data, *g = node->grad;
    void *gx = node->src[0]->grad, *gw = node->src[1]->grad;
    size_t ldw = tw ? K : N;
    if (gx && !sg_gemm_by_panels(node, node->src[1], !tw, M, K, N, g, N, 1.0, gx, K)) /* dX (M, K) += G op(W)^T */
        sg_gemm(dt, false, !tw, M, K, N, g, N, w, ldw, 1.0, gx, K);
    if (gw) {
        if (!tw) /* dW (K, N) += X^T (K, M) G (M, N) */
            sg_gemm(dt, true, false, K, N, M, x, K, g, N, 1.0, gw, N);
        else /* dW (N, K) += G^T (N, M) X (M, K) */
            sg_gemm(dt, true, false, N, K, M, g, N, x, K, 1.0, gw, K);
    }
    if (node->src[2]->grad)
        sg_addmm_bias_cols(node);
}

sg_tensor *sg_addmm(sg_graph *g, sg_tensor *x, sg_tensor *W, sg_tensor *b, bool trans_w)
{
    sg_tensor *src[3] = {x, W, b};
    sg_op_args args = {.i = {trans_w}};
    return sg_op_apply(g, &sg_op_addmm, src, 3, &args);
}

/* Examples: 2-D and 3-D x, W transposed, and one above the small-product limit. */
static sg_tensor *addmm_example(sg_graph *g, sg_rng *rng, int variant)
{
    sg_shape sx, sw;
    bool tw = false;
    size_t N;
    /* clang-format off */
    switch (variant) {
    case 0: sx = SG_SHAPE(3, 4); sw = SG_SHAPE(4, 5); N = 5; break;
    case 1: sx = SG_SHAPE(2, 3, 4); sw = SG_SHAPE(4, 5); N = 5; break;
    case 2: sx = SG_SHAPE(3, 4); sw = SG_SHAPE(5, 4); N = 5; tw = true; break;
    case 3: sx = SG_SHAPE(1, 1); sw = SG_SHAPE(1, 1); N = 1; break;
    default: sx = SG_SHAPE(2, 12, 20); sw = SG_SHAPE(24, 20); N = 24; tw = true; break; /* 24 * 24 * 20 */
    }
    /* clang-format on */
    return sg_addmm(g, sg_example_input(g, rng, "x", sx, -1.0, 1.0), sg_example_input(g, rng, "W", sw, -1.0, 1.0),
                    sg_example_input(g, rng, "b", SG_SHAPE(N), -1.0, 1.0), tw);
}

const sg_op sg_op_addmm = {.name = "addmm",
                           .arity = 3,
                           .shape = sg_shape_addmm,
                           .forward = addmm_forward,
                           .vjp = addmm_vjp,
                           .example = addmm_example,
                           .n_variants = 5};
