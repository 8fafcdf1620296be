/* sg_ops_index.c — ops driven by int32 ids: embedding lookup and the softmax
 * cross-entropy loss.  The id input of each op is not differentiable
 * (nondiff_inputs = 1u << 1).  Ids are range-checked in the shape rule (the
 * inputs' data already exists then), so kernels may index with them.
 *
 *   gather_rows    table (V, D), ids (S...) in [0, V)  ->  y (S..., D)
 *                  y[k, :] = table[ids[k], :]
 *                  gtable[ids[k], :] += gy[k, :]     (repeated ids accumulate)
 *
 *   gather_sum     table (V, D), ids (N, C) in [0, V), w (N, C)  ->  y (N, D)
 *                  y[n, :] = sum_c w[n, c] table[ids[n, c], :]   (slots with w = 0 are skipped)
 *                  gtable[ids[n, c], :] += w[n, c] gy[n, :]      (w is not differentiated)
 *                  (an embedding bag: CBOW's context sum without the (N, C, D) copy)
 *
 *   gather_dot     table (V, D), ids (N, J) in [0, V), v (N, D)  ->  y (N, J)
 *                  y[n, j] = table[ids[n, j], :] . v[n, :]
 *                  gv[n, :] += sum_j gy[n, j] table[ids[n, j], :]
 *                  gtable[ids[n, j], :] += gy[n, j] v[n, :]
 *                  (word2vec's scores of a target and its negatives without the (N, J, D) copy)
 *
 * All three may keep a parameter table's gradient as a list (vjp_list,
 * graph/core/sg_param.h): gather_rows lists gy's rows, gather_sum gy's rows
 * weighted by w, gather_dot v's rows weighted by gy.
 *
 *   cross_entropy  logits (N, C), targets (N) in [0, C) or -1 (ignored)
 *                  m_n = max_c x[n, c],  lse_n = m_n + log(sum_c e^(x[n, c] - m_n))
 *                  p[n, c] = e^(x[n, c] - m_n) / sum_c e^(x[n, c] - m_n)  (m_n and the
 *                  inverse sum saved in aux, p computed again by the VJP)
 *                  l_n = lse_n - x[n, t_n]  (= -log p[n, t_n]),  0 where t_n = -1
 *                  NONE: y = l (N);  SUM: y = sum_n l_n;  MEAN: y = sum_n l_n / max(count, 1)
 *                  with count = the number of targets that are not -1.
 *                  gx[n, c] += g_n * (p[n, c] - [c == t_n])  for rows with t_n != -1,
 *                  g_n = gy[n] (NONE), gy (SUM), gy / max(count, 1) (MEAN).
 *                  reduction in args.i[0] (sg_reduction).
 */
#include "graph/core/sg_param.h"
#include "graph/exec/sg_prefetch.h"
#include "ops/sg_kernel.h"
#include "ops/sg_op_table.h"

#include <string.h>

/* Writes "[i0, i1, ...]", the multi-index of flat position k in shape s. */
static void sg_index_str(sg_shape s, size_t k, char *buf, size_t cap)
{
    size_t idx[SG_MAX_DIMS] = {0};
    for (int a = s.ndim; a-- > 0;) {
        idx[a] = k % s.d[a];
        k /= s.d[a];
    }
    size_t off = 0;
    int w = snprintf(buf, cap, "[");
    off = w > 0 ? (size_t)w : 0;
    for (int a = 0; a < s.ndim && off < cap; a++) {
        w = snprintf(buf + off, cap - off, a ? ", %zu" : "%zu", idx[a]);
        if (w > 0)
            off += (size_t)w;
    }
    if (off < cap)
        snprintf(buf + off, cap - off, "]");
}

/* Checks that input k of node is an int32 id tensor. */
static sg_status sg_check_ids(const sg_tensor *node, size_t k, const char *what, char *msg, size_t cap)
{
    if (node->src[k]->dtype != SG_I32) {
        snprintf(msg, cap, "%s (input %zu) must be i32, not %s", what, k, sg_dtype_name(node->src[k]->dtype));
        return SG_ERR_DTYPE;
    }
    return SG_OK;
}

/* Checks that input k of node has the graph's float dtype. */
static sg_status sg_check_float_input(const sg_tensor *node, size_t k, const char *what, char *msg, size_t cap)
{
    sg_dtype want = sg_graph_dtype(node->graph);
    if (node->src[k]->dtype != want) {
        snprintf(msg, cap, "%s (input %zu) must be %s (the graph's dtype), not %s", what, k, sg_dtype_name(want),
                 sg_dtype_name(node->src[k]->dtype));
        return SG_ERR_DTYPE;
    }
    return SG_OK;
}

/* Checks that every id of input k of node is in [0, V). */
static sg_status sg_check_id_range(const sg_tensor *node, size_t k, size_t V, char *msg, size_t cap)
{
    const sg_tensor *ids = node->src[k];
    const int32_t *id = ids->data;
    for (size_t i = 0; i < ids->numel; i++) {
        if (id[i] < 0 || (size_t)id[i] >= V) {
            char pos[96], sbuf[96];
            sg_index_str(ids->shape, i, pos, sizeof pos);
            snprintf(msg, cap,
                     "id %ld at position %zu (index %s of ids %s) is out of range: the table has V = %zu "
                     "rows (ids must be in [0, %zu))",
                     (long)id[i], i, pos, sg_shape_str(ids->shape, sbuf, sizeof sbuf), V, V);
            return SG_ERR_INDEX;
        }
    }
    return SG_OK;
}

/* The table's part of the dense VJP of an op that can list it (vjp_list):
 * the entry backward would list, added into the table's gradient by the
 * scatter a flushed list uses (sg_grad_list_entry_add), so the dense and the
 * listed gradient are the same bytes.  Ids may repeat: one pass, in order. */
static void sg_table_vjp(const sg_tensor *node, void (*list)(const sg_tensor *, size_t, sg_grad_list_entry *))
{
    const sg_tensor *table = node->src[0]; /* (V, D) */
    if (!table->grad)
        return;
    sg_grad_list_entry e = {.rows = node->src[1]->data, .n = node->src[1]->numel, .group = 1};
    list(node, 0, &e);
    sg_grad_list_entry_add(&e, node->dtype, table->grad, table->shape.d[0], table->shape.d[1]);
}

/* ---- gather_rows -------------------------------------------------------- */

static sg_status gather_rows_shape(sg_tensor *node, char *msg, size_t cap)
{
    const sg_tensor *table = node->src[0]; /* (V, D) */
    const sg_tensor *ids = node->src[1];   /* (S...) */
    sg_status st = sg_check_float_input(node, 0, "the table", msg, cap);
    if (st == SG_OK)
        st = sg_check_ids(node, 1, "ids", msg, cap);
    if (st != SG_OK)
        return st;
    if (table->shape.ndim != 2) {
        snprintf(msg, cap, "the table must be 2-D (V, D), not %d-d", table->shape.ndim);
        return SG_ERR_SHAPE;
    }
    if (ids->shape.ndim > SG_MAX_DIMS - 1) {
        snprintf(msg, cap, "ids may have at most %d dimensions (the output adds one), not %d", SG_MAX_DIMS - 1,
                 ids->shape.ndim);
        return SG_ERR_SHAPE;
    }
    st = sg_check_id_range(node, 1, table->shape.d[0], msg, cap);
    if (st != SG_OK)
        return st;
    sg_shape out = ids->shape;
    out.d[out.ndim++] = table->shape.d[1];
    node->shape = out;
    return SG_OK;
}

/* clang-format off */
SG_KERNEL(gather_rows_forward,
    const sg_tensor *tt = node->src[0];
    const sg_tensor *it = node->src[1];
    size_t V = tt->shape.d[0], D = tt->shape.d[1];
    const T *table = tt->data;  /* (V, D) */
    const int32_t *id = it->data; /* (S) */
    T *y = node->data;          /* (S, D) */
    for (size_t k = 0; k < it->numel; k++) {
        if (id[k] >= 0 && (size_t)id[k] < V) /* checked by the shape rule */
            memcpy(y + k * D, table + (size_t)id[k] * D, D * sizeof(T));
        else
            memset(y + k * D, 0, D * sizeof(T));
    })
/* clang-format on */

/* The VJP writes only the gathered rows of the table: a parameter used only
 * here keeps a row-sparse gradient (graph/core/sg_param.h). */
static const int32_t *gather_rows_vjp_rows(const sg_tensor *node, size_t k, size_t *n)
{
    if (k != 0)
        return NULL;
    *n = node->src[1]->numel;
    return node->src[1]->data;
}

/* List row i is gy's row i (the defaults of the entry: group 1, no weight). */
static void gather_rows_vjp_list(const sg_tensor *node, size_t k, sg_grad_list_entry *e)
{
    (void)k;
    e->grad = node->grad;
}

/* gtable[ids[k]] += gy[k] */
static void gather_rows_vjp(sg_tensor *node) { sg_table_vjp(node, gather_rows_vjp_list); }

sg_tensor *sg_gather_rows(sg_graph *g, sg_tensor *table, sg_tensor *ids)
{
    sg_tensor *src[2] = {table, ids};
    return sg_op_apply(g, &sg_op_gather_rows, src, 2, NULL);
}

/* Examples: ids with repeats, 2-D ids (B, T), a single id (1-D and 0-d), V = 1. */
static sg_tensor *gather_rows_example(sg_graph *g, sg_rng *rng, int variant)
{
    size_t V, D;
    sg_shape s;
    /* clang-format off */
    switch (variant) {
    case 0: V = 5; D = 3; s = SG_SHAPE(4); break;
    case 1: V = 6; D = 2; s = SG_SHAPE(2, 3); break;
    case 2: V = 4; D = 3; s = SG_SHAPE(1); break;
    case 3: V = 3; D = 2; s = SG_SCALAR; break;
    default: V = 1; D = 4; s = SG_SHAPE(3); break;
    }
    /* clang-format on */
    int32_t id[8];
    size_t n = sg_shape_numel(s);
    for (size_t k = 0; k < n; k++)
        id[k] = (int32_t)sg_rng_below(rng, V);
    if (variant == 0) { /* make sure of a repeat */
        id[2] = id[0];
    }
    sg_tensor *table = sg_example_input(g, rng, "table", SG_SHAPE(V, D), -2.0, 2.0);
    return sg_gather_rows(g, table, sg_ids(g, "ids", s, id));
}

const sg_op sg_op_gather_rows = {.name = "gather_rows",
                                 .arity = 2,
                                 .nondiff_inputs = 1u << 1,
                                 .shape = gather_rows_shape,
                                 .forward = gather_rows_forward,
                                 .vjp = gather_rows_vjp,
                                 .vjp_rows = gather_rows_vjp_rows,
                                 .vjp_list = gather_rows_vjp_list,
                                 .example = gather_rows_example,
                                 .n_variants = 5};

/* ---- gather_sum and gather_dot: gathers fused with what reads them -------- */

/* The checks both share: table (V, D) of the graph's float dtype, ids (N, C)
 * i32 in [0, V), and input 2 (what) of the float dtype, (N, C) when
 * per_slot (gather_sum's weights), else (N, D) (gather_dot's v). */
static sg_status sg_gather2_shape(sg_tensor *node, const char *what, bool per_slot, char *msg, size_t cap)
{
    const sg_tensor *table = node->src[0], *ids = node->src[1], *x = node->src[2];
    sg_status st = sg_check_float_input(node, 0, "the table", msg, cap);
    if (st == SG_OK)
        st = sg_check_ids(node, 1, "ids", msg, cap);
    if (st == SG_OK)
        st = sg_check_float_input(node, 2, what, msg, cap);
    if (st != SG_OK)
        return st;
    char a[96], b[96];
    if (table->shape.ndim != 2 || ids->shape.ndim != 2) {
        snprintf(msg, cap, "the table must be 2-D (V, D) and ids 2-D (N, C), not %s and %s",
                 sg_shape_str(table->shape, a, sizeof a), sg_shape_str(ids->shape, b, sizeof b));
        return SG_ERR_SHAPE;
    }
    size_t N = ids->shape.d[0], cols = per_slot ? ids->shape.d[1] : table->shape.d[1];
    if (x->shape.ndim != 2 || x->shape.d[0] != N || x->shape.d[1] != cols) {
        snprintf(msg, cap, "%s must be (%zu, %zu) (%s), not %s", what, N, cols,
                 per_slot ? "one per id" : "N rows of the table's D", sg_shape_str(x->shape, a, sizeof a));
        return SG_ERR_SHAPE;
    }
    return sg_check_id_range(node, 1, table->shape.d[0], msg, cap);
}

static sg_status gather_sum_shape(sg_tensor *node, char *msg, size_t cap)
{
    sg_status st = sg_gather2_shape(node, "the weights", true, msg, cap);
    if (st == SG_OK)
        node->shape = SG_SHAPE(node->src[1]->shape.d[0], node->src[0]->shape.d[1]);
    return st;
}

/* clang-format off */
/* y[n] = sum_c w[n, c] table[ids[n, c]], rows [lo, hi) of y. */
SG_KERNEL_RANGED(gather_sum_forward, node->shape.d[0], 1,
    size_t D = node->src[0]->shape.d[1], C = node->src[1]->shape.d[1];
    const T *table = node->src[0]->data; /* (V, D) */
    const int32_t *id = node->src[1]->data; /* (N, C) */
    const T *w = node->src[2]->data;     /* (N, C) */
    T *y = node->data;                   /* (N, D) */
    for (size_t n = lo; n < hi; n++) {
        T *yn = y + n * D;
        for (size_t d = 0; d < D; d++)
            yn[d] = 0;
        for (size_t c = 0; c < C; c++) {
            T wc = w[n * C + c];
            if (wc == 0)
                continue;
            const T *row = table + (size_t)id[n * C + c] * D;
            for (size_t d = 0; d < D; d++)
                yn[d] += wc * row[d];
        }
    })
/* clang-format on */

/* List row i (slot c of row n) is w[i] times gy's row n. */
static void gather_sum_vjp_list(const sg_tensor *node, size_t k, sg_grad_list_entry *e)
{
    (void)k;
    e->grad = node->grad;
    e->group = node->src[1]->shape.d[1];
    e->weight = node->src[2]->data;
}

/* gtable[ids[n, c]] += w[n, c] gy[n] */
static void gather_sum_vjp(sg_tensor *node) { sg_table_vjp(node, gather_sum_vjp_list); }

sg_tensor *sg_gather_sum(sg_graph *g, sg_tensor *table, sg_tensor *ids, sg_tensor *weights)
{
    sg_tensor *src[3] = {table, ids, weights};
    return sg_op_apply(g, &sg_op_gather_sum, src, 3, NULL);
}

/* Examples: repeated ids (one twice in a row), zero weights, C = 1, N = 1. */
static sg_tensor *gather_sum_example(sg_graph *g, sg_rng *rng, int variant)
{
    size_t V, D, N, C;
    /* clang-format off */
    switch (variant) {
    case 0: V = 5; D = 3; N = 3; C = 4; break;
    case 1: V = 4; D = 2; N = 2; C = 1; break;
    default: V = 3; D = 4; N = 1; C = 3; break;
    }
    /* clang-format on */
    int32_t id[12];
    double w[12];
    for (size_t k = 0; k < N * C; k++) {
        id[k] = (int32_t)sg_rng_below(rng, V);
        w[k] = sg_rng_range(rng, -1.5, 1.5);
    }
    if (variant == 0) {
        id[1] = id[0]; /* the same row twice for one n */
        id[5] = id[0]; /* and again for another */
        w[3] = 0;      /* a skipped slot */
    }
    sg_tensor *table = sg_example_input(g, rng, "table", SG_SHAPE(V, D), -2.0, 2.0);
    return sg_gather_sum(g, table, sg_ids(g, "ids", SG_SHAPE(N, C), id),
                         sg_input_f64(g, "weights", SG_SHAPE(N, C), w, false));
}

const sg_op sg_op_gather_sum = {.name = "gather_sum",
                                .arity = 3,
                                .nondiff_inputs = 1u << 1 | 1u << 2,
                                .shape = gather_sum_shape,
                                .forward = gather_sum_forward,
                                .vjp = gather_sum_vjp,
                                .vjp_rows = gather_rows_vjp_rows,
                                .vjp_list = gather_sum_vjp_list,
                                .example = gather_sum_example,
                                .n_variants = 3};

static sg_status gather_dot_shape(sg_tensor *node, char *msg, size_t cap)
{
    sg_status st = sg_gather2_shape(node, "v", false, msg, cap);
    if (st == SG_OK)
        node->shape = node->src[1]->shape;
    return st;
}

/* clang-format off */
/* y[n, j] = table[ids[n, j]] . v[n], rows [lo, hi) of y. */
SG_KERNEL_RANGED(gather_dot_forward, node->shape.d[0], 1,
    size_t D = node->src[0]->shape.d[1], J = node->shape.d[1];
    const T *table = node->src[0]->data; /* (V, D) */
    const int32_t *id = node->src[1]->data; /* (N, J) */
    const T *v = node->src[2]->data;     /* (N, D) */
    T *y = node->data;                   /* (N, J) */
    for (size_t n = lo; n < hi; n++) {
        if (n + 1 < hi) /* the next example's rows, scattered over the table */
            for (size_t j = 0; j < J; j++)
                sg_prefetch(table + (size_t)id[(n + 1) * J + j] * D, D * sizeof(T), false);
        for (size_t j = 0; j < J; j++)
            y[n * J + j] = SG_DOT(table + (size_t)id[n * J + j] * D, v + n * D, D);
    })

/* gv[n] += sum_j gy[n, j] table[ids[n, j]], rows [lo, hi) of v. */
SG_KERNEL_RANGED(gather_dot_vjp_v, node->shape.d[0], 1,
    size_t D = node->src[0]->shape.d[1], J = node->shape.d[1];
    const T *table = node->src[0]->data;
    const int32_t *id = node->src[1]->data;
    const T *gy = node->grad; /* (N, J) */
    T *gv = node->src[2]->grad; /* (N, D) */
    for (size_t n = lo; n < hi; n++)
        for (size_t j = 0; j < J; j++) {
            T s = gy[n * J + j];
            const T *row = table + (size_t)id[n * J + j] * D;
            for (size_t d = 0; d < D; d++)
                gv[n * D + d] += s * row[d];
        })
/* clang-format on */

/* List row i (target j of row n) is gy[n, j] times v's row n. */
static void gather_dot_vjp_list(const sg_tensor *node, size_t k, sg_grad_list_entry *e)
{
    (void)k;
    e->grad = node->src[2]->data;
    e->group = node->shape.d[1];
    e->weight = node->grad;
}

/* v's part first, then the table's: with v gathered from the same table
 * the two write different buffers (v's gradient is its node's). */
static void gather_dot_vjp(sg_tensor *node)
{
    if (node->src[2]->grad)
        gather_dot_vjp_v(node);
    sg_table_vjp(node, gather_dot_vjp_list); /* gtable[ids[n, j]] += gy[n, j] v[n] */
}

sg_tensor *sg_gather_dot(sg_graph *g, sg_tensor *table, sg_tensor *ids, sg_tensor *v)
{
    sg_tensor *src[3] = {table, ids, v};
    return sg_op_apply(g, &sg_op_gather_dot, src, 3, NULL);
}

/* Examples: repeated ids, J = 1, N = 1, and v gathered from the table itself
 * (word2vec with one table), where both gradients land in one table. */
static sg_tensor *gather_dot_example(sg_graph *g, sg_rng *rng, int variant)
{
    size_t V, D, N, J;
    /* clang-format off */
    switch (variant) {
    case 0: V = 5; D = 3; N = 3; J = 4; break;
    case 1: V = 4; D = 9; N = 2; J = 1; break;
    case 2: V = 3; D = 4; N = 1; J = 3; break;
    default: V = 4; D = 3; N = 2; J = 3; break;
    }
    /* clang-format on */
    int32_t id[12], center[2];
    for (size_t k = 0; k < N * J; k++)
        id[k] = (int32_t)sg_rng_below(rng, V);
    if (variant == 0)
        id[4] = id[0];
    sg_tensor *table = sg_example_input(g, rng, "table", SG_SHAPE(V, D), -1.5, 1.5);
    sg_tensor *v;
    if (variant == 3) {
        center[0] = id[0];
        center[1] = (int32_t)sg_rng_below(rng, V);
        v = sg_gather_rows(g, table, sg_ids(g, "center", SG_SHAPE(N), center));
    } else {
        v = sg_example_input(g, rng, "v", SG_SHAPE(N, D), -1.5, 1.5);
    }
    return sg_gather_dot(g, table, sg_ids(g, "ids", SG_SHAPE(N, J), id), v);
}

const sg_op sg_op_gather_dot = {.name = "gather_dot",
                                .arity = 3,
                                .nondiff_inputs = 1u << 1,
                                .shape = gather_dot_shape,
                                .forward = gather_dot_forward,
                                .vjp = gather_dot_vjp,
                                .vjp_rows = gather_rows_vjp_rows,
                                .vjp_list = gather_dot_vjp_list,
                                .example = gather_dot_example,
                                .n_variants = 4};

/* ---- cross_entropy ------------------------------------------------------ */

static sg_status cross_entropy_shape(sg_tensor *node, char *msg, size_t cap)
{
    const sg_tensor *logits = node->src[0];  /* (N, C) */
    const sg_tensor *targets = node->src[1]; /* (N) */
    sg_status st = sg_check_float_input(node, 0, "the logits", msg, cap);
    if (st == SG_OK)
        st = sg_check_ids(node, 1, "the targets", msg, cap);
    if (st != SG_OK)
        return st;
    long red = node->args.i[0];
    if (red != SG_REDUCE_MEAN && red != SG_REDUCE_SUM && red != SG_REDUCE_NONE) {
        snprintf(msg, cap, "reduction %ld is not one of MEAN (%d), SUM (%d), NONE (%d)", red, SG_REDUCE_MEAN,
                 SG_REDUCE_SUM, SG_REDUCE_NONE);
        return SG_ERR_ARG;
    }
    if (logits->shape.ndim != 2) {
        snprintf(msg, cap, "the logits must be 2-D (N, C), not %d-d", logits->shape.ndim);
        return SG_ERR_SHAPE;
    }
    size_t N = logits->shape.d[0], C = logits->shape.d[1];
    if (targets->shape.ndim != 1 || targets->shape.d[0] != N) {
        char sbuf[96];
        snprintf(msg, cap, "the targets must have shape (%zu) to match the logits' N = %zu, not %s", N, N,
                 sg_shape_str(targets->shape, sbuf, sizeof sbuf));
        return SG_ERR_SHAPE;
    }
    const int32_t *t = targets->data;
    for (size_t n = 0; n < N; n++) {
        if (t[n] != SG_IGNORE_TARGET && (t[n] < 0 || (size_t)t[n] >= C)) {
            snprintf(msg, cap,
                     "target %ld at row %zu is out of range: C = %zu classes (targets must be in [0, %zu) "
                     "or %d to ignore the row)",
                     (long)t[n], n, C, C, SG_IGNORE_TARGET);
            return SG_ERR_INDEX;
        }
    }
    node->shape = red == SG_REDUCE_NONE ? SG_SHAPE(N) : SG_SCALAR;
    /* each row's max m (N), 1 / sum exp(x - m) (N) and loss (N): the VJP computes the softmax
     * again from them, p = exp(x - m) * inv, the bytes the forward had, instead of keeping an
     * (N, C) copy of it that is written, and read back, through memory */
    node->aux_bytes = 3 * N * sg_dtype_size(node->dtype);
    return SG_OK;
}

/* The number of targets that are not ignored, at least 1 (the MEAN divisor). */
static size_t sg_target_count(const sg_tensor *targets)
{
    const int32_t *t = targets->data;
    size_t count = 0;
    for (size_t n = 0; n < targets->numel; n++)
        if (t[n] != SG_IGNORE_TARGET)
            count++;
    return count ? count : 1;
}

/* Whether target tn is a valid class index for C classes (not ignored). */
static bool sg_target_valid(int32_t tn, size_t C) { return tn >= 0 && (size_t)tn < C; }

/* The rows [lo, hi) of the forward: each row's max, inverse sum and loss into
 * aux; and of the VJP.  Rows are independent, so a large (N, C) is cut by rows
 * over the pool (sg_kernel.h) and the result does not depend on the cut.  The
 * exponentials go through a small buffer, SG_CE_CHUNK at a time (a multiple
 * of 8), so that they vectorize apart from the sum, which keeps its order. */
#define SG_CE_CHUNK 512
/* clang-format off */
SG_KERNEL_RANGED(sg_ce_forward_rows, node->src[0]->shape.d[0], 1,
    const sg_tensor *lt = node->src[0];
    size_t N = lt->shape.d[0], C = lt->shape.d[1];
    const T *x = lt->data;                 /* (N, C) */
    const int32_t *t = node->src[1]->data; /* (N) */
    T *mx = node->aux, *inv = mx + N;      /* (N) each: the row's max, 1 / sum exp(x - max) */
    T *loss = inv + N;                     /* (N) each row's loss */
    T e[SG_CE_CHUNK];
    for (size_t n = lo; n < hi; n++) {
        const T *xr = x + n * C;
        T m = SG_ROW_MAX(xr, C);
        double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0}; /* 8 running sums in a fixed order */
        size_t c8 = C - C % 8;
        for (size_t c0 = 0; c0 < c8; c0 += SG_CE_CHUNK) {
            size_t len = c8 - c0 < SG_CE_CHUNK ? c8 - c0 : SG_CE_CHUNK;
            for (size_t c = 0; c < len; c++) /* vectorizable: no reduction here */
                e[c] = SG_EXP((T)(xr[c0 + c] - m));
            for (size_t c = 0; c < len; c += 8)
                for (size_t k = 0; k < 8; k++)
                    acc[k] += (double)e[c + k];
        }
        double s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        for (size_t c = c8; c < C; c++)
            s += (double)SG_EXP((T)(xr[c] - m));
        mx[n] = m;
        inv[n] = (T)(1.0 / s); /* s >= 1 */
        loss[n] = sg_target_valid(t[n], C) ? (T)log(s) - (xr[t[n]] - m) : (T)0; /* lse - x[t] */
    })
SG_KERNEL_RANGED(sg_ce_vjp_rows, node->src[0]->shape.d[0], 1,
    const sg_tensor *lt = node->src[0], *tt = node->src[1];
    T *gx = lt->grad; /* (N, C) */
    size_t C = lt->shape.d[1];
    const int32_t *t = tt->data; /* (N) */
    size_t N = lt->shape.d[0];
    const T *x = lt->data;                        /* (N, C) */
    const T *mx = node->aux, *inv = mx + N;       /* (N) each, from the forward */
    const T *gy = node->grad;                     /* (N) for NONE, else () */
    long red = node->args.i[0];
    T scale = red == SG_REDUCE_MEAN ? (T)(1.0 / (double)sg_target_count(tt)) : (T)1;
    const bool fresh = lt->grad_fresh; /* unzeroed: every element is written (an ignored row as 0) */
    for (size_t n = lo; n < hi; n++) {
        T *gr = gx + n * C;
        if (!sg_target_valid(t[n], C)) {
            if (fresh)
                for (size_t c = 0; c < C; c++)
                    gr[c] = (T)0;
            continue;
        }
        T gn = (red == SG_REDUCE_NONE ? gy[n] : gy[0]) * scale;
        const T *xr = x + n * C;
        const T m = mx[n], in = inv[n];
        for (size_t c = 0; c < C; c++) /* p = exp(x - m) * inv, as the forward had it */
            SG_GRAD_ACC(gr[c], fresh, gn * (SG_EXP((T)(xr[c] - m)) * in));
        gr[t[n]] -= gn;
    })
/* clang-format on */

/* clang-format off */
SG_KERNEL(cross_entropy_reduce,
    size_t N = node->src[0]->shape.d[0];
    const T *loss = (const T *)node->aux + 2 * N; /* (N), after the maxima and inverse sums */
    T *y = node->data; /* (N) for NONE, else () */
    long red = node->args.i[0];
    double total = 0.0;
    for (size_t n = 0; n < N; n++) { /* in row order: the sum does not depend on the cut */
        if (red == SG_REDUCE_NONE)
            y[n] = loss[n];
        total += (double)loss[n];
    }
    if (red == SG_REDUCE_SUM)
        y[0] = (T)total;
    else if (red == SG_REDUCE_MEAN)
        y[0] = (T)(total / (double)sg_target_count(node->src[1]));)
/* clang-format on */

static void cross_entropy_forward(sg_tensor *node)
{
    sg_ce_forward_rows(node);
    cross_entropy_reduce(node);
}

static void cross_entropy_vjp(sg_tensor *node)
{
    if (node->src[0]->grad)
        sg_ce_vjp_rows(node);
}

sg_tensor *sg_cross_entropy(sg_graph *g, sg_tensor *logits, sg_tensor *targets, sg_reduction red)
{
    sg_tensor *src[2] = {logits, targets};
    sg_op_args args = {.i = {(long)red}};
    return sg_op_apply(g, &sg_op_cross_entropy, src, 2, &args);
}

/* Examples: each reduction, with ignored targets, N = 1, C = 1, all ignored. */
static sg_tensor *cross_entropy_example(sg_graph *g, sg_rng *rng, int variant)
{
    size_t N, C, n_ignored = 0;
    sg_reduction red;
    /* clang-format off */
    switch (variant) {
    case 0: N = 4; C = 5; red = SG_REDUCE_MEAN; n_ignored = 1; break;
    case 1: N = 3; C = 4; red = SG_REDUCE_SUM; break;
    case 2: N = 4; C = 3; red = SG_REDUCE_NONE; n_ignored = 1; break;
    case 3: N = 1; C = 3; red = SG_REDUCE_MEAN; break;
    case 4: N = 3; C = 1; red = SG_REDUCE_SUM; break;
    default: N = 2; C = 3; red = SG_REDUCE_MEAN; n_ignored = 2; break; /* every row ignored */
    }
    /* clang-format on */
    int32_t t[8];
    for (size_t n = 0; n < N; n++)
        t[n] = n < n_ignored ? SG_IGNORE_TARGET : (int32_t)sg_rng_below(rng, C);
    sg_tensor *logits = sg_example_input(g, rng, "logits", SG_SHAPE(N, C), -2.0, 2.0);
    return sg_cross_entropy(g, logits, sg_ids(g, "targets", SG_SHAPE(N), t), red);
}

const sg_op sg_op_cross_entropy = {.name = "cross_entropy",
                                   .arity = 2,
                                   .nondiff_inputs = 1u << 1,
                                   .shape = cross_entropy_shape,
                                   .forward = cross_entropy_forward,
                                   .vjp = cross_entropy_vjp,
                                   .vjp_assigns = true,
                                   .example = cross_entropy_example,
                                   .n_variants = 6};
