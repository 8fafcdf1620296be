/* sg_gemm_packed.c — the packed small-row product (see sg_gemm_packed.h).
 *
 * Panel p of a (k, n) operand holds its columns [32p, 32p + 32) as k rows of
 * 32 floats (columns past n are zeros).  The kernel runs over the panels; in
 * each, over blocks of up to 10 rows of C: 20 accumulators (10 rows x two
 * 16-float halves), and for every k two loads of the panel row and ten
 * broadcasts of A.
 */
#include "ops/sg_gemm_packed.h"

#include "graph/core/sg_graph.h"
#include "graph/exec/sg_pool.h"
#include "ops/sg_kernel.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SG_PACKED_X86 1
#endif

#define SG_PACKED_RB SG_PANEL_ROWS

static bool sg_packed_enabled = true;

void sg_gemm_packed_enable(bool on) { sg_packed_enabled = on; }

bool sg_gemm_packed_on(void)
{
#ifdef SG_PACKED_X86
    return sg_packed_enabled && __builtin_cpu_supports("avx512f"); /* the CPU and the OS run AVX-512F */
#else
    return false;
#endif
}

typedef struct sg_packed_fill_job {
    const float *W;
    bool trans;
    size_t k, n;
    float *P;
} sg_packed_fill_job;

/* Packs the panels [p0, p1) of op(W) (k, n) at P. */
static void sg_packed_fill(const float *W, bool trans, size_t k, size_t n, float *P, size_t p0, size_t p1)
{
    for (size_t p = p0; p < p1; p++) {
        float *dst = P + p * k * SG_PANEL; /* (k, 32) */
        size_t c0 = p * SG_PANEL, w = n - c0 < SG_PANEL ? n - c0 : SG_PANEL;
        if (!trans) { /* W (k, n): each panel row is a piece of a row of W */
            for (size_t r = 0; r < k; r++) {
                memcpy(dst + r * SG_PANEL, W + r * n + c0, w * sizeof *W);
                memset(dst + r * SG_PANEL + w, 0, (SG_PANEL - w) * sizeof *W);
            }
        } else { /* W (n, k): panel column j is row c0 + j of W */
            for (size_t j = 0; j < w; j++) {
                const float *row = W + (c0 + j) * k;
                for (size_t r = 0; r < k; r++)
                    dst[r * SG_PANEL + j] = row[r];
            }
            for (size_t j = w; j < SG_PANEL; j++)
                for (size_t r = 0; r < k; r++)
                    dst[r * SG_PANEL + j] = 0.0f;
        }
    }
}

static void sg_packed_fill_task(void *ctx, size_t i, size_t n_tasks)
{
    const sg_packed_fill_job *j = ctx;
    size_t p0, p1;
    sg_pool_share(sg_gemm_panel_count(j->n), 1, i, n_tasks, &p0, &p1);
    sg_packed_fill(j->W, j->trans, j->k, j->n, j->P, p0, p1);
}

const float *sg_gemm_packed_panels(sg_tensor *W, bool trans, size_t k, size_t n)
{
    if (!W || W->kind != SG_KIND_PARAM || W->dtype != SG_F32 || W->shape.ndim != 2 || !W->data)
        return NULL;
    size_t rows = trans ? n : k, cols = trans ? k : n;
    if (W->shape.d[0] != rows || W->shape.d[1] != cols)
        return NULL;
    int form = trans ? 1 : 0;
    if (W->panels[form] && W->panels_of[form] == W->data)
        return W->panels[form];
    size_t panels = sg_gemm_panel_count(n);
    if (k == 0 || panels > SIZE_MAX / SG_PANEL / k / sizeof(float))
        return NULL;
    float *P = sg_graph_alloc(W->graph, panels * SG_PANEL * k * sizeof *P);
    if (!P)
        return NULL;
    sg_packed_fill_job job = {W->data, trans, k, n, P};
    sg_pool_run(sg_packed_fill_task, &job, sg_kernel_tasks(W, panels)); /* a copy: the same bytes however cut */
    W->panels[form] = P;
    W->panels_of[form] = W->data;
    return P;
}

#ifdef SG_PACKED_X86
/* rb (<= 10) rows of C, A and C at their first row, times one panel pp:
 * the panel's 32 columns, w of them inside C.  A full block has its own,
 * unrolled loop, so that its 20 accumulators stay in registers. */
__attribute__((target("avx512f"))) static void sg_packed_block(size_t rb, size_t k, const float *A, size_t lda,
                                                               const float *pp, float beta, float *C, size_t ldc,
                                                               size_t w)
{
    __m512 acc[SG_PACKED_RB][2];
#pragma GCC unroll 10
    for (size_t r = 0; r < SG_PACKED_RB; r++)
        acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    if (rb == SG_PACKED_RB) {
        for (size_t q = 0; q < k; q++) {
            __m512 b0 = _mm512_loadu_ps(pp + q * SG_PANEL), b1 = _mm512_loadu_ps(pp + q * SG_PANEL + 16);
#pragma GCC unroll 10
            for (size_t r = 0; r < SG_PACKED_RB; r++) {
                __m512 a = _mm512_set1_ps(A[r * lda + q]);
                acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
                acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
            }
        }
    } else {
        for (size_t q = 0; q < k; q++) {
            __m512 b0 = _mm512_loadu_ps(pp + q * SG_PANEL), b1 = _mm512_loadu_ps(pp + q * SG_PANEL + 16);
            for (size_t r = 0; r < rb; r++) {
                __m512 a = _mm512_set1_ps(A[r * lda + q]);
                acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
                acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
            }
        }
    }
    __mmask16 m0 = w >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << w) - 1u);
    __mmask16 m1 = w >= 32 ? (__mmask16)0xFFFF : w > 16 ? (__mmask16)((1u << (w - 16)) - 1u) : (__mmask16)0;
    __m512 vb = _mm512_set1_ps(beta);
    for (size_t r = 0; r < rb; r++) {
        float *c = C + r * ldc;
        __m512 c0 = acc[r][0], c1 = acc[r][1];
        if (beta != 0.0f) { /* beta C + AB, as BLAS: C is read only when beta is not 0 */
            c0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, c), c0);
            c1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, c + 16), c1);
        }
        _mm512_mask_storeu_ps(c, m0, c0);
        _mm512_mask_storeu_ps(c + 16, m1, c1);
    }
}
#endif

void sg_gemm_packed_cols(size_t m, size_t n0, size_t n1, size_t k, const float *A, size_t lda, const float *P,
                         float beta, float *C, size_t ldc)
{
#ifdef SG_PACKED_X86
    for (size_t c0 = n0; c0 < n1; c0 += SG_PANEL) {
        const float *pp = P + c0 / SG_PANEL * k * SG_PANEL;
        size_t w = n1 - c0 < SG_PANEL ? n1 - c0 : SG_PANEL;
        for (size_t r0 = 0; r0 < m; r0 += SG_PACKED_RB) {
            size_t rb = m - r0 < SG_PACKED_RB ? m - r0 : SG_PACKED_RB;
            sg_packed_block(rb, k, A + r0 * lda, lda, pp, beta, C + r0 * ldc + c0, ldc, w);
        }
    }
#else
    (void)m, (void)n0, (void)n1, (void)k, (void)A, (void)lda, (void)P, (void)beta, (void)C, (void)ldc;
#endif
}
