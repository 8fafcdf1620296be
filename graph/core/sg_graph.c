/* sg_graph.c — graph, arena use, tape, scopes, leaves, op application and the
 * reverse pass (see sg_graph.h and sg_op.h). */
#include "graph/core/sg_graph.h"
#include "graph/core/sg_graph_hooks.h"

#include "graph/core/sg_alloc.h"
#include "graph/core/sg_arena.h"
#include "graph/core/sg_param.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

enum { SG_ERRMSG_CAP = 1024, SG_ARENA_BLOCK = 4u << 20 };

struct sg_scope {
    const sg_scope *parent;
    const char *name; /* arena copy */
    size_t depth;
    size_t id;
};

struct sg_graph {
    sg_dtype dtype;
    sg_arena arena;
    sg_tensor **tape; /* (tape_len) heap; capacity survives reset */
    size_t tape_len, tape_cap;
    const sg_scope *scope;
    size_t n_scopes; /* scopes pushed since reset */
    uint64_t gen;    /* unique per step of every graph (param leaf cache) */
    bool grad_enabled;
    bool anomaly;
    bool zeroed_grads; /* sg_graph_hooks.h: no fresh gradients */
    sg_status status;
    char errmsg[SG_ERRMSG_CAP];
    /* gradient-check perturbation of the k-th requires-grad input */
    long perturb_k;
    size_t perturb_elem;
    double perturb_delta;
    long n_grad_inputs;
    /* sg_graph_set_grad_ready */
    sg_grad_ready_fn grad_ready;
    void *grad_ready_ctx;
};

static atomic_uint_fast64_t g_next_gen = 1;

/* ---- small tensor and shape helpers ------------------------------------ */

const char *sg_status_str(sg_status s)
{
    switch (s) {
    case SG_OK: return "ok";
    case SG_ERR_NOMEM: return "out of memory";
    case SG_ERR_SHAPE: return "shape error";
    case SG_ERR_AXIS: return "axis error";
    case SG_ERR_INDEX: return "index error";
    case SG_ERR_DTYPE: return "dtype error";
    case SG_ERR_ARG: return "bad argument";
    case SG_ERR_STATE: return "bad state";
    case SG_ERR_NONFINITE: return "non-finite value";
    case SG_ERR_IO: return "i/o error";
    case SG_ERR_FORMAT: return "format error";
    case SG_ERR_CHECK: return "gradient check failed";
    }
    return "unknown error";
}

sg_status sg_error_format(char *err, size_t errcap, sg_status s, const char *fmt, ...)
{
    if (err && errcap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errcap, fmt, ap);
        va_end(ap);
    }
    return s;
}

size_t sg_dtype_size(sg_dtype t)
{
    switch (t) {
    case SG_F32: return sizeof(float);
    case SG_F64: return sizeof(double);
    case SG_I32: return sizeof(int32_t);
    }
    return 0;
}

const char *sg_dtype_name(sg_dtype t)
{
    switch (t) {
    case SG_F32: return "f32";
    case SG_F64: return "f64";
    case SG_I32: return "i32";
    }
    return "?";
}

size_t sg_shape_numel(sg_shape s)
{
    size_t n = 1;
    for (int i = 0; i < s.ndim; i++)
        n *= s.d[i];
    return n;
}

bool sg_shape_equal(sg_shape a, sg_shape b)
{
    if (a.ndim != b.ndim)
        return false;
    for (int i = 0; i < a.ndim; i++)
        if (a.d[i] != b.d[i])
            return false;
    return true;
}

char *sg_shape_str(sg_shape s, char *buf, size_t cap)
{
    if (!cap)
        return buf;
    size_t off = 0;
    int n = snprintf(buf, cap, "(");
    off = n > 0 ? (size_t)n : 0;
    for (int i = 0; i < s.ndim && off < cap; i++) {
        n = snprintf(buf + off, cap - off, i ? ", %zu" : "%zu", s.d[i]);
        if (n > 0)
            off += (size_t)n;
    }
    if (off < cap)
        snprintf(buf + off, cap - off, ")");
    return buf;
}

/* A shape is valid when ndim is 0..4, every dimension is >= 1 and numel fits. */
static bool sg_shape_valid(sg_shape s, size_t elem_size)
{
    if (s.ndim < 0 || s.ndim > SG_MAX_DIMS)
        return false;
    size_t n = 1;
    for (int i = 0; i < s.ndim; i++) {
        if (s.d[i] == 0 || n > SIZE_MAX / s.d[i])
            return false;
        n *= s.d[i];
    }
    return n <= SIZE_MAX / (elem_size ? elem_size : 1);
}

static double sg_buf_get(sg_dtype t, const void *buf, size_t i)
{
    switch (t) {
    case SG_F32: return ((const float *)buf)[i];
    case SG_F64: return ((const double *)buf)[i];
    case SG_I32: return ((const int32_t *)buf)[i];
    }
    return 0;
}

static void sg_buf_set(sg_dtype t, void *buf, size_t i, double v)
{
    /* clang-format off */
    switch (t) {
    case SG_F32: ((float *)buf)[i] = (float)v; break;
    case SG_F64: ((double *)buf)[i] = v; break;
    case SG_I32: ((int32_t *)buf)[i] = (int32_t)v; break;
    }
    /* clang-format on */
}

double sg_tensor_get(const sg_tensor *t, size_t i) { return sg_buf_get(t->dtype, t->data, i); }

double sg_tensor_grad_get(const sg_tensor *t, size_t i) { return t->grad ? sg_buf_get(t->dtype, t->grad, i) : 0.0; }

void sg_tensor_set(sg_tensor *t, size_t i, double v) { sg_buf_set(t->dtype, t->data, i, v); }

void sg_tensor_copy_out_f64(const sg_tensor *t, double *dst)
{
    for (size_t i = 0; i < t->numel; i++)
        dst[i] = sg_buf_get(t->dtype, t->data, i);
}

/* ---- graph lifecycle and errors ---------------------------------------- */

sg_graph *sg_graph_new(sg_dtype dtype)
{
    if (dtype != SG_F32 && dtype != SG_F64)
        return NULL;
    sg_graph *g = sg_calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->dtype = dtype;
    sg_arena_init(&g->arena, SG_ARENA_BLOCK);
    g->grad_enabled = true;
    g->perturb_k = -1;
    g->gen = atomic_fetch_add(&g_next_gen, 1);
    return g;
}

void sg_graph_free(sg_graph *g)
{
    if (!g)
        return;
    sg_arena_free(&g->arena);
    sg_free(g->tape);
    sg_free(g);
}

void sg_graph_reset(sg_graph *g)
{
    sg_arena_reset(&g->arena);
    g->tape_len = 0;
    g->scope = NULL;
    g->n_scopes = 0;
    g->status = SG_OK;
    g->errmsg[0] = '\0';
    g->n_grad_inputs = 0;
    g->gen = atomic_fetch_add(&g_next_gen, 1);
}

sg_dtype sg_graph_dtype(const sg_graph *g) { return g->dtype; }
sg_status sg_graph_status(const sg_graph *g) { return g->status; }
const char *sg_graph_error(const sg_graph *g) { return g->errmsg; }

void sg_graph_clear_error(sg_graph *g)
{
    g->status = SG_OK;
    g->errmsg[0] = '\0';
}

static sg_status sg_graph_vfail(sg_graph *g, sg_status s, const char *fmt, va_list ap)
{
    if (g->status == SG_OK) {
        g->status = s;
        vsnprintf(g->errmsg, sizeof g->errmsg, fmt, ap);
    }
    return s;
}

sg_status sg_graph_fail(sg_graph *g, sg_status s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sg_graph_vfail(g, s, fmt, ap);
    va_end(ap);
    return s;
}

void sg_graph_set_grad_enabled(sg_graph *g, bool on) { g->grad_enabled = on; }
bool sg_graph_grad_enabled(const sg_graph *g) { return g->grad_enabled; }
void sg_graph_set_anomaly(sg_graph *g, bool on) { g->anomaly = on; }
size_t sg_graph_tape_len(const sg_graph *g) { return g->tape_len; }
sg_tensor *sg_graph_tape_at(const sg_graph *g, size_t i) { return i < g->tape_len ? g->tape[i] : NULL; }
size_t sg_graph_arena_used(const sg_graph *g) { return g->arena.used; }
size_t sg_graph_arena_reserved(const sg_graph *g) { return g->arena.reserved; }

void *sg_graph_alloc(sg_graph *g, size_t bytes)
{
    void *p = sg_arena_calloc(&g->arena, bytes);
    if (!p)
        sg_graph_fail(g, SG_ERR_NOMEM, "out of memory: the arena could not take %zu more bytes", bytes);
    return p;
}

static char *sg_graph_strdup(sg_graph *g, const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = sg_arena_alloc(&g->arena, n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* Appends t to the tape (the heap array grows by doubling, and is kept). */
static bool sg_tape_push(sg_graph *g, sg_tensor *t)
{
    if (g->tape_len == g->tape_cap) {
        size_t cap = g->tape_cap ? g->tape_cap * 2 : 1024;
        sg_tensor **nt = sg_realloc(g->tape, cap * sizeof *nt);
        if (!nt) {
            sg_graph_fail(g, SG_ERR_NOMEM, "out of memory: the tape could not grow to %zu nodes", cap);
            return false;
        }
        g->tape = nt;
        g->tape_cap = cap;
    }
    t->tape_index = g->tape_len;
    g->tape[g->tape_len++] = t;
    return true;
}

/* ---- scopes ------------------------------------------------------------ */

void sg_scope_push(sg_graph *g, const char *fmt, ...)
{
    if (g->status)
        return;
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    sg_scope *s = sg_arena_alloc(&g->arena, sizeof *s);
    char *copy = s ? sg_graph_strdup(g, name) : NULL;
    if (!copy) {
        sg_graph_fail(g, SG_ERR_NOMEM, "out of memory pushing scope '%s'", name);
        return;
    }
    s->parent = g->scope;
    s->name = copy;
    s->depth = g->scope ? g->scope->depth + 1 : 1;
    s->id = ++g->n_scopes;
    g->scope = s;
}

void sg_scope_pop(sg_graph *g)
{
    if (!g->scope) {
        sg_graph_fail(g, SG_ERR_STATE, "sg_scope_pop: no scope is open");
        return;
    }
    g->scope = g->scope->parent;
}

const sg_scope *sg_scope_current(const sg_graph *g) { return g->scope; }
const sg_scope *sg_scope_parent(const sg_scope *s) { return s ? s->parent : NULL; }
const char *sg_scope_name(const sg_scope *s) { return s ? s->name : ""; }
size_t sg_scope_depth(const sg_scope *s) { return s ? s->depth : 0; }
size_t sg_scope_id(const sg_scope *s) { return s ? s->id : 0; }

const sg_scope *sg_scope_at_depth(const sg_scope *s, size_t depth)
{
    while (s && s->depth > depth)
        s = s->parent;
    return s;
}

/* The scope path for messages: "(root)" outside any scope. */
static const char *sg_scope_label(const sg_scope *s, char *buf, size_t cap)
{
    sg_scope_path(s, buf, cap);
    return buf[0] ? buf : "(root)";
}

char *sg_scope_path(const sg_scope *s, char *buf, size_t cap)
{
    if (!cap)
        return buf;
    buf[0] = '\0';
    if (!s)
        return buf;
    /* Walk up once to find the total length, then fill from the end. */
    size_t len = 0;
    for (const sg_scope *p = s; p; p = p->parent)
        len += strlen(p->name) + (p->parent ? 1 : 0);
    if (len >= cap) { /* too long: keep the innermost part, marked with "..." */
        snprintf(buf, cap, ".../%s", s->name);
        return buf;
    }
    buf[len] = '\0';
    size_t end = len;
    for (const sg_scope *p = s; p; p = p->parent) {
        size_t n = strlen(p->name);
        end -= n;
        memcpy(buf + end, p->name, n);
        if (p->parent)
            buf[--end] = '/';
    }
    return buf;
}

/* ---- leaves ------------------------------------------------------------ */

static sg_tensor *sg_leaf_new(sg_graph *g, sg_kind kind, const char *name, sg_shape shape, sg_dtype dtype)
{
    if (g->status)
        return NULL;
    char sbuf[96];
    if (!sg_shape_valid(shape, sg_dtype_size(dtype))) {
        char path[256];
        sg_graph_fail(g, SG_ERR_SHAPE, "leaf '%s' in scope '%s': invalid shape %s (0 to 4 dimensions, each >= 1)",
                      name ? name : "?", sg_scope_label(g->scope, path, sizeof path),
                      sg_shape_str(shape, sbuf, sizeof sbuf));
        return NULL;
    }
    sg_tensor *t = sg_arena_calloc(&g->arena, sizeof *t);
    if (!t) {
        sg_graph_fail(g, SG_ERR_NOMEM, "out of memory making leaf '%s'", name ? name : "?");
        return NULL;
    }
    t->dtype = dtype;
    t->shape = shape;
    t->numel = sg_shape_numel(shape);
    t->kind = kind;
    t->graph = g;
    t->tape_index = SIZE_MAX;
    t->scope = kind == SG_KIND_PARAM ? NULL : g->scope;
    t->name = name ? sg_graph_strdup(g, name) : NULL;
    if (name && !t->name) {
        sg_graph_fail(g, SG_ERR_NOMEM, "out of memory making leaf '%s'", name);
        return NULL;
    }
    if (g->grad_enabled && !sg_tape_push(g, t))
        return NULL;
    return t;
}

static sg_tensor *sg_input_new(sg_graph *g, const char *name, sg_shape shape, bool requires_grad)
{
    sg_tensor *t = sg_leaf_new(g, SG_KIND_INPUT, name, shape, g->dtype);
    if (!t)
        return NULL;
    t->data = sg_arena_calloc(&g->arena, t->numel * sg_dtype_size(t->dtype));
    if (!t->data) {
        sg_graph_fail(g, SG_ERR_NOMEM, "out of memory for input '%s'", name ? name : "?");
        return NULL;
    }
    t->requires_grad = requires_grad && g->grad_enabled;
    return t;
}

/* Applies the gradient-check perturbation if this is the chosen input. */
static void sg_input_maybe_perturb(sg_graph *g, sg_tensor *t)
{
    if (!t->requires_grad)
        return;
    long k = g->n_grad_inputs++;
    if (k == g->perturb_k && g->perturb_elem < t->numel)
        sg_buf_set(t->dtype, t->data, g->perturb_elem,
                   sg_buf_get(t->dtype, t->data, g->perturb_elem) + g->perturb_delta);
}

sg_tensor *sg_input_f32(sg_graph *g, const char *name, sg_shape shape, const float *data, bool requires_grad)
{
    sg_tensor *t = sg_input_new(g, name, shape, requires_grad);
    if (!t)
        return NULL;
    if (data) {
        if (t->dtype == SG_F32)
            memcpy(t->data, data, t->numel * sizeof(float));
        else
            for (size_t i = 0; i < t->numel; i++)
                ((double *)t->data)[i] = data[i];
    }
    sg_input_maybe_perturb(g, t);
    return t;
}

sg_tensor *sg_input_f64(sg_graph *g, const char *name, sg_shape shape, const double *data, bool requires_grad)
{
    sg_tensor *t = sg_input_new(g, name, shape, requires_grad);
    if (!t)
        return NULL;
    if (data) {
        if (t->dtype == SG_F64)
            memcpy(t->data, data, t->numel * sizeof(double));
        else
            for (size_t i = 0; i < t->numel; i++)
                ((float *)t->data)[i] = (float)data[i];
    }
    sg_input_maybe_perturb(g, t);
    return t;
}

sg_tensor *sg_const_fill(sg_graph *g, const char *name, sg_shape shape, double value)
{
    sg_tensor *t = sg_leaf_new(g, SG_KIND_CONST, name, shape, g->dtype);
    if (!t)
        return NULL;
    t->data = sg_arena_alloc(&g->arena, t->numel * sg_dtype_size(t->dtype));
    if (!t->data) {
        sg_graph_fail(g, SG_ERR_NOMEM, "out of memory for constant '%s'", name ? name : "?");
        return NULL;
    }
    for (size_t i = 0; i < t->numel; i++)
        sg_buf_set(t->dtype, t->data, i, value);
    return t;
}

sg_tensor *sg_ids(sg_graph *g, const char *name, sg_shape shape, const int32_t *ids)
{
    if (!g->status && !ids) {
        sg_graph_fail(g, SG_ERR_ARG, "sg_ids '%s': ids is NULL", name ? name : "?");
        return NULL;
    }
    sg_tensor *t = sg_leaf_new(g, SG_KIND_CONST, name, shape, SG_I32);
    if (!t)
        return NULL;
    t->data = sg_arena_alloc(&g->arena, t->numel * sizeof(int32_t));
    if (!t->data) {
        sg_graph_fail(g, SG_ERR_NOMEM, "out of memory for ids '%s'", name ? name : "?");
        return NULL;
    }
    memcpy(t->data, ids, t->numel * sizeof(int32_t));
    return t;
}

sg_tensor *sg_detach(sg_graph *g, sg_tensor *x)
{
    if (g->status)
        return NULL;
    if (!x || x->graph != g) {
        sg_graph_fail(g, SG_ERR_ARG, "detach: input is NULL or belongs to another graph");
        return NULL;
    }
    sg_tensor *t = sg_leaf_new(g, SG_KIND_CONST, "detached", x->shape, x->dtype);
    if (t)
        t->data = x->data;
    return t;
}

sg_tensor *sg_param_use(sg_graph *g, sg_param *p)
{
    if (g->status)
        return NULL;
    if (!p) {
        sg_graph_fail(g, SG_ERR_ARG, "sg_param_use: parameter is NULL");
        return NULL;
    }
    if (p->dtype != g->dtype) {
        sg_graph_fail(g, SG_ERR_DTYPE, "parameter '%s' is %s but the graph is %s", p->name, sg_dtype_name(p->dtype),
                      sg_dtype_name(g->dtype));
        return NULL;
    }
    if (p->leaf && p->leaf_graph == g && p->leaf_step == g->gen)
        return p->leaf;
    sg_tensor *t = sg_leaf_new(g, SG_KIND_PARAM, p->name, p->shape, p->dtype);
    if (!t)
        return NULL;
    t->data = p->value;
    t->grad = p->grad;
    t->param = p;
    t->requires_grad = g->grad_enabled;
    p->leaf = t;
    p->leaf_graph = g;
    p->leaf_step = g->gen;
    return t;
}

void sg_graph_set_input_perturbation(sg_graph *g, long k, size_t elem, double delta)
{
    g->perturb_k = k;
    g->perturb_elem = elem;
    g->perturb_delta = delta;
}

void sg_graph_set_zeroed_grads(sg_graph *g, bool on) { g->zeroed_grads = on; }

/* ---- applying ops ------------------------------------------------------ */

bool sg_op_input_differentiable(const sg_op *op, size_t k)
{
    unsigned bit = k < 31 ? (1u << k) : (1u << 31);
    return !(op->nondiff_inputs & bit);
}

/* Index of the first non-finite element of a float buffer, or SIZE_MAX. */
static size_t sg_first_nonfinite(sg_dtype t, const void *buf, size_t n)
{
    if (t == SG_F32) {
        const float *x = buf;
        for (size_t i = 0; i < n; i++)
            if (!isfinite(x[i]))
                return i;
    } else if (t == SG_F64) {
        const double *x = buf;
        for (size_t i = 0; i < n; i++)
            if (!isfinite(x[i]))
                return i;
    }
    return SIZE_MAX;
}

/* Formats the input shapes of a node: "(2, 3) f32, (4) i32". */
static void sg_format_inputs(sg_tensor *const *src, size_t n, char *buf, size_t cap)
{
    size_t off = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < n && off < cap; k++) {
        char s[96];
        int w;
        if (src[k])
            w = snprintf(buf + off, cap - off, "%s%s %s", k ? ", " : "", sg_shape_str(src[k]->shape, s, sizeof s),
                         sg_dtype_name(src[k]->dtype));
        else
            w = snprintf(buf + off, cap - off, "%sNULL", k ? ", " : "");
        if (w > 0)
            off += (size_t)w;
    }
}

sg_status sg_graph_fail_op(sg_graph *g, sg_status s, const char *op_name, sg_tensor *const *src, size_t n,
                           const char *fmt, ...)
{
    if (g->status != SG_OK)
        return s;
    char msg[512], ins[512], path[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sg_format_inputs(src, src ? n : 0, ins, sizeof ins);
    return sg_graph_fail(g, s, "op '%s' in scope '%s': %s; inputs: %s", op_name,
                         sg_scope_label(g->scope, path, sizeof path), msg, ins);
}

/* When t's op says its output is input 0's elements from some offset on, and
 * they fit in input 0, points t->data there and returns true (a view);
 * otherwise leaves t->data alone and returns false. */
static bool sg_op_view_data(sg_tensor *t)
{
    size_t at = 0;
    const sg_tensor *x = t->n_src ? t->src[0] : NULL;
    if (!x || !t->op->view || !t->op->view(t, &at) || t->dtype != x->dtype || at > x->numel || t->numel > x->numel - at)
        return false;
    t->data = (char *)x->data + at * sg_dtype_size(t->dtype);
    return true;
}

void sg_op_forward(sg_tensor *t)
{
    if (!sg_op_view_data(t))
        t->op->forward(t);
}

sg_tensor *sg_op_apply(sg_graph *g, const sg_op *op, sg_tensor *const *src, size_t n_src, const sg_op_args *args)
{
    if (!g || g->status)
        return NULL;
    char path[256];
    const char *opname = op ? op->name : "?";
    if (!op || (op->arity >= 0 && n_src != (size_t)op->arity) || (op->arity < 0 && n_src == 0) || (n_src && !src)) {
        if (op && op->arity < 0)
            sg_graph_fail(g, SG_ERR_ARG, "op '%s' in scope '%s': takes at least 1 input, got %zu", opname,
                          sg_scope_label(g->scope, path, sizeof path), n_src);
        else
            sg_graph_fail(g, SG_ERR_ARG, "op '%s' in scope '%s': takes %d inputs, got %zu", opname,
                          sg_scope_label(g->scope, path, sizeof path), op ? op->arity : 0, n_src);
        return NULL;
    }
    for (size_t k = 0; k < n_src; k++) {
        if (!src[k] || src[k]->graph != g) {
            sg_graph_fail_op(g, SG_ERR_ARG, opname, src, n_src, "input %zu is %s", k,
                             src[k] ? "from another graph" : "NULL");
            return NULL;
        }
    }
    sg_tensor *t = sg_arena_calloc(&g->arena, sizeof *t);
    sg_tensor **srcs = sg_arena_alloc(&g->arena, n_src * sizeof *srcs);
    if (!t || !srcs) {
        sg_graph_fail(g, SG_ERR_NOMEM, "out of memory making op '%s'", opname);
        return NULL;
    }
    memcpy(srcs, src, n_src * sizeof *srcs);
    t->op = op;
    t->src = srcs;
    t->n_src = n_src;
    if (args)
        t->args = *args;
    t->kind = SG_KIND_OP;
    t->graph = g;
    t->scope = g->scope;
    t->tape_index = SIZE_MAX;
    t->dtype = g->dtype;

    char msg[512] = "";
    sg_status st = op->shape(t, msg, sizeof msg);
    if (st == SG_OK && !sg_shape_valid(t->shape, sg_dtype_size(t->dtype))) {
        st = SG_ERR_SHAPE;
        snprintf(msg, sizeof msg, "the output shape would be empty or too large");
    }
    if (st != SG_OK) {
        sg_graph_fail_op(g, st, opname, src, n_src, "%s", msg[0] ? msg : sg_status_str(st));
        return NULL;
    }
    t->numel = sg_shape_numel(t->shape);
    const bool view = sg_op_view_data(t);
    if (!view)
        t->data = sg_arena_alloc(&g->arena, t->numel * sg_dtype_size(t->dtype));
    if (t->aux_bytes)
        t->aux = sg_arena_alloc(&g->arena, t->aux_bytes);
    if (!t->data || (t->aux_bytes && !t->aux)) {
        sg_graph_fail(g, SG_ERR_NOMEM, "out of memory for the output of op '%s' (%zu elements)", opname, t->numel);
        return NULL;
    }
    if (!view)
        op->forward(t);

    bool rg = false;
    if (g->grad_enabled)
        for (size_t k = 0; k < n_src; k++)
            if (src[k]->requires_grad && sg_op_input_differentiable(op, k))
                rg = true;
    t->requires_grad = rg;
    if (g->grad_enabled && !sg_tape_push(g, t))
        return NULL;
    if (g->anomaly) {
        size_t bad = sg_first_nonfinite(t->dtype, t->data, t->numel);
        if (bad != SIZE_MAX) {
            sg_graph_fail(g, SG_ERR_NONFINITE,
                          "anomaly: op '%s' in scope '%s' produced %g at output element %zu (forward)", opname,
                          sg_scope_label(g->scope, path, sizeof path), sg_tensor_get(t, bad), bad);
            return NULL;
        }
    }
    return t;
}

/* ---- backward ---------------------------------------------------------- */

void sg_graph_set_grad_ready(sg_graph *g, sg_grad_ready_fn fn, void *ctx)
{
    if (!g)
        return;
    g->grad_ready = fn;
    g->grad_ready_ctx = fn ? ctx : NULL;
}

/* For the grad-ready hook: each parameter leaf's first_use becomes the
 * first tape index (up to last) that takes it as an input; returns the
 * first index whose node has a VJP to run (the reverse pass's last work). */
static size_t sg_tape_mark_first_uses(sg_graph *g, size_t last)
{
    size_t first_work = last;
    for (size_t i = 0; i <= last; i++) {
        if (g->tape[i]->kind == SG_KIND_OP && g->tape[i]->requires_grad && first_work == last)
            first_work = i;
        for (size_t k = 0; k < g->tape[i]->n_src; k++)
            if (g->tape[i]->src[k]->kind == SG_KIND_PARAM)
                g->tape[i]->src[k]->first_use = SIZE_MAX;
    }
    for (size_t i = 0; i <= last; i++)
        for (size_t k = 0; k < g->tape[i]->n_src; k++) {
            sg_tensor *s = g->tape[i]->src[k];
            if (s->kind == SG_KIND_PARAM && s->first_use == SIZE_MAX)
                s->first_use = i;
        }
    return first_work;
}

/* The hook after node t (tape index i) of the reverse pass: the parameters
 * whose first use it is, each once, then the progress call; left counts
 * the nodes down to the last one with work (first_work). */
static void sg_tape_report_ready(sg_graph *g, const sg_tensor *t, size_t i, size_t first_work)
{
    size_t left = i > first_work ? i - first_work : 0;
    for (size_t k = 0; k < t->n_src; k++) {
        sg_tensor *s = t->src[k];
        if (s->kind == SG_KIND_PARAM && s->param && s->first_use == i) {
            s->first_use = SIZE_MAX - 1; /* reported: a node may take the same leaf twice */
            g->grad_ready(g->grad_ready_ctx, s->param, left);
        }
    }
    g->grad_ready(g->grad_ready_ctx, NULL, left);
}

/* Whether s is only once among t's inputs (then a VJP's writes of its
 * gradient are one writer's: hadamard(x, x) adds twice). */
static bool sg_src_once(const sg_tensor *t, const sg_tensor *s)
{
    size_t n = 0;
    for (size_t k = 0; k < t->n_src; k++)
        n += t->src[k] == s;
    return n == 1;
}

sg_status sg_backward_seed(sg_graph *g, sg_tensor *out, const void *seed)
{
    if (g->status)
        return g->status;
    if (!out || out->graph != g || !seed)
        return sg_graph_fail(g, SG_ERR_ARG, "backward: output or seed is NULL, or the output is from another graph");
    if (out->tape_index == SIZE_MAX || out->tape_index >= g->tape_len || g->tape[out->tape_index] != out)
        return sg_graph_fail(g, SG_ERR_STATE,
                             "backward: the output was not recorded on the tape (made in no-grad mode?)");
    if (!out->requires_grad)
        return sg_graph_fail(g, SG_ERR_STATE, "backward: the output depends on nothing that requires grad");
    if (out->dtype != g->dtype)
        return sg_graph_fail(g, SG_ERR_DTYPE, "backward: the output is not of the graph's float dtype");

    /* Gradients of op nodes are per pass; leaves keep accumulating. */
    for (size_t i = 0; i <= out->tape_index; i++)
        if (g->tape[i]->kind == SG_KIND_OP)
            g->tape[i]->grad = NULL;
    size_t bytes = out->numel * sg_dtype_size(out->dtype);
    out->grad = sg_arena_alloc(&g->arena, bytes);
    if (!out->grad)
        return sg_graph_fail(g, SG_ERR_NOMEM, "out of memory for the seed gradient");
    memcpy(out->grad, seed, bytes);

    size_t first_work = g->grad_ready ? sg_tape_mark_first_uses(g, out->tape_index) : 0;
    char path[256];
    for (size_t i = out->tape_index + 1; i-- > 0;) {
        sg_tensor *t = g->tape[i];
        if (g->grad_ready && i < out->tape_index)
            sg_tape_report_ready(g, g->tape[i + 1], i + 1, first_work);
        if (t->kind != SG_KIND_OP || !t->grad || !t->requires_grad)
            continue;
        for (size_t k = 0; k < t->n_src; k++) {
            sg_tensor *s = t->src[k];
            if (s->requires_grad && !s->grad && sg_op_input_differentiable(t->op, k)) {
                bool fresh = t->op->vjp_assigns && s->kind == SG_KIND_OP && !g->zeroed_grads && sg_src_once(t, s);
                size_t bytes = s->numel * sg_dtype_size(s->dtype);
                s->grad = fresh ? sg_arena_alloc(&g->arena, bytes) : sg_arena_calloc(&g->arena, bytes);
                s->grad_fresh = fresh && s->grad;
                if (!s->grad)
                    return sg_graph_fail(g, SG_ERR_NOMEM, "out of memory for a gradient (%zu elements)", s->numel);
            }
        }
        size_t n_diff = 0, n_listed = 0;
        uint64_t listed = 0;                    /* bit k: input k's gradient goes to its parameter's list (k < 64) */
        for (size_t k = 0; k < t->n_src; k++) { /* what the VJP writes of a parameter's gradient */
            sg_tensor *s = t->src[k];
            if (!s->grad || !s->requires_grad || !sg_op_input_differentiable(t->op, k))
                continue;
            n_diff++;
            if (s->kind != SG_KIND_PARAM || !s->param || s->grad != s->param->grad)
                continue;
            size_t n_rows = 0;
            const int32_t *rows = t->op->vjp_rows ? t->op->vjp_rows(t, k, &n_rows) : NULL;
            if (rows && t->op->vjp_list && s->param->grad_listed && k < 64) {
                sg_grad_list_entry *e = sg_arena_alloc(&g->arena, sizeof *e);
                if (!e)
                    return sg_graph_fail(g, SG_ERR_NOMEM, "out of memory for a gradient list entry");
                *e = (sg_grad_list_entry){.rows = rows, .n = n_rows, .group = 1};
                t->op->vjp_list(t, k, e);
                sg_param_grad_list_append(s->param, e);
                listed |= (uint64_t)1 << k;
                n_listed++;
            } else if (rows) {
                sg_param_grad_note_rows(s->param, rows, n_rows);
            } else {
                sg_param_grad_note_dense(s->param);
            }
        }
        if (n_listed < n_diff) { /* listed inputs are hidden from the VJP for the call */
            for (size_t k = 0; k < t->n_src && k < 64; k++)
                if (listed >> k & 1)
                    t->src[k]->grad = NULL;
            t->op->vjp(t);
            for (size_t k = 0; k < t->n_src && k < 64; k++)
                if (listed >> k & 1)
                    t->src[k]->grad = t->src[k]->param->grad;
        }
        for (size_t k = 0; k < t->n_src; k++) /* written now: later VJPs add to it */
            t->src[k]->grad_fresh = false;
        if (g->anomaly) {
            for (size_t k = 0; k < t->n_src; k++) {
                sg_tensor *s = t->src[k];
                if (!s->grad || !s->requires_grad)
                    continue;
                size_t bad = sg_first_nonfinite(s->dtype, s->grad, s->numel);
                if (bad != SIZE_MAX)
                    return sg_graph_fail(g, SG_ERR_NONFINITE,
                                         "anomaly: backward of op '%s' in scope '%s' produced %g in the gradient of "
                                         "input %zu, element %zu",
                                         t->op->name, sg_scope_label(t->scope, path, sizeof path),
                                         sg_tensor_grad_get(s, bad), k, bad);
            }
        }
    }
    if (g->grad_ready)
        sg_tape_report_ready(g, g->tape[0], 0, first_work);
    return SG_OK;
}

sg_status sg_backward(sg_graph *g, sg_tensor *loss)
{
    if (g->status)
        return g->status;
    if (!loss || loss->numel != 1)
        return sg_graph_fail(g, SG_ERR_SHAPE, "backward: the loss must be a single element (use sg_backward_seed)");
    double one64 = 1.0;
    float one32 = 1.0f;
    return sg_backward_seed(g, loss, g->dtype == SG_F32 ? (const void *)&one32 : (const void *)&one64);
}
