/* sg_gemm_packed.h — products of few rows against a parameter, with the
 * parameter packed once per graph.
 *
 * A recurrent step multiplies a (B, H) state by the same weight W_h at every
 * step, forward (h W_h) and backward (dG W_h^T), with B = 20 rows.  A BLAS
 * gemm packs its operands on every call; with 20 rows, packing the weight
 * costs as much as a large part of the product (OpenBLAS 0.3.21 reaches 45-80
 * GFLOP/s on these shapes on one Zen 4 core, against about 100 for large
 * products).  Here the weight is packed once per graph into column panels
 * (SG_PANEL columns each, K rows of them, zero padded), kept on its leaf, and
 * every product of the graph that uses it runs a register-blocked AVX-512
 * kernel over the panels: 10 rows x 32 columns of C in 20 registers, one
 * fused multiply-add per element per k, k in order.
 *
 * Values: each element of C is the sum over k in order of fused multiply-
 * adds, whatever the cut, so the bytes are the same at every thread count;
 * they differ from BLAS's by rounding (tests/test_packed.c bounds both
 * against an f64 product).  f32 only; CPUs without AVX-512F keep BLAS.
 *
 * Ownership: the panels live in the leaf's graph arena (sg_tensor.panels),
 * made by the first product that needs them and valid until sg_graph_reset;
 * they follow the leaf's data pointer (a product after the pointer moved
 * packs again), and rely on the rule that nothing writes a leaf's data while
 * the graph uses it (graph/core/sg_op.h).
 */
#ifndef SG_GEMM_PACKED_H
#define SG_GEMM_PACKED_H

#include "graph/core/sg_tensor.h"

#include <stdbool.h>
#include <stddef.h>

enum {
    SG_PANEL = 32,              /* columns per panel */
    SG_PANEL_ROWS = 10,         /* rows of C per block of the kernel */
    SG_PANEL_MAX_ROWS = 128,    /* products with more rows of C keep BLAS (it packs once for many rows) */
    SG_PANEL_MIN_WORK = 1 << 15 /* multiply-adds: smaller products keep BLAS or its small loops */
};

/* The number of panels of a (k, n) operand. */
static inline size_t sg_gemm_panel_count(size_t n) { return n / SG_PANEL + (n % SG_PANEL != 0); }

/* Whether products may use the packed kernel: the CPU has AVX-512F and it
 * is not switched off (sg_gemm_packed_enable). */
bool sg_gemm_packed_on(void);

/* Switches the packed kernel off (false) or back on (true, the default);
 * for comparisons and tests.  Process-wide: not while a graph runs. */
void sg_gemm_packed_enable(bool on);

/* The panels of op(W), a (k, n) operand: W itself when !trans (W is (k, n)),
 * or W^T when trans (W is (n, k)); W a 2-D f32 parameter leaf.  Made in W's
 * arena on first use and cached on the leaf; NULL when W does not qualify or
 * the arena is full (then the caller uses BLAS). */
const float *sg_gemm_packed_panels(sg_tensor *W, bool trans, size_t k, size_t n);

/* Columns [n0, n1) of C = A (m, k) P + beta C, with P the panels of a
 * (k, n) operand, n1 <= n; n0 a multiple of SG_PANEL; beta 0 (C is not read) or any
 * other value.  lda and ldc are row lengths. */
void sg_gemm_packed_cols(size_t m, size_t n0, size_t n1, size_t k, const float *A, size_t lda, const float *P,
                         float beta, float *C, size_t ldc);

#endif
