/* sg_tensor.h — status codes, element types, shapes, and the tensor, which is
 * also the node of the computation graph (ggml-style: one struct holds the value,
 * the gradient, the producing op and its inputs).
 *
 * Tensors are row-major and contiguous, with 0 to SG_MAX_DIMS dimensions (a
 * 0-d tensor is a scalar).  Floating tensors hold f32 or f64, chosen per graph at
 * run time; id tensors (embedding rows, class targets) hold int32.
 *
 * Ownership: a tensor and its data/grad buffers live in the arena of the graph
 * that made them, and are invalidated by sg_graph_reset and sg_graph_free.
 * Parameter leaves are the exception for data and grad: those point at the
 * parameter's own persistent buffers (see sg_param.h).
 */
#ifndef SG_TENSOR_H
#define SG_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* On every function whose result must be looked at: a returned sg_status
 * or an allocation.  With SG_WERROR (CI) ignoring one fails the build. */
#define SG_NODISCARD __attribute__((warn_unused_result))

typedef enum sg_status {
    SG_OK = 0,
    SG_ERR_NOMEM,     /* an allocation failed */
    SG_ERR_SHAPE,     /* input shapes do not fit the op */
    SG_ERR_AXIS,      /* an axis is out of range */
    SG_ERR_INDEX,     /* an id or index is out of range */
    SG_ERR_DTYPE,     /* element types do not fit */
    SG_ERR_ARG,       /* a bad argument (NULL tensor, bad option) */
    SG_ERR_STATE,     /* the call does not fit the current state */
    SG_ERR_NONFINITE, /* anomaly mode saw a NaN or Inf */
    SG_ERR_IO,        /* reading or writing a file failed */
    SG_ERR_FORMAT,    /* a file is malformed */
    SG_ERR_CHECK      /* a gradient check failed */
} sg_status;

/* A short constant name for a status ("shape error", ...). Never NULL. */
const char *sg_status_str(sg_status s);
/* Writes a printf-style message into the caller's buffer err (errcap bytes,
 * always NUL-terminated; nothing when err is NULL or errcap is 0) and returns
 * s: the one way functions without a graph report what went wrong. */
sg_status sg_error_format(char *err, size_t errcap, sg_status s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

typedef enum sg_dtype { SG_F32 = 0, SG_F64 = 1, SG_I32 = 2 } sg_dtype;

size_t sg_dtype_size(sg_dtype t);
const char *sg_dtype_name(sg_dtype t);

enum { SG_MAX_DIMS = 4 };

/* A shape: ndim dimensions d[0..ndim-1], outermost first. */
typedef struct sg_shape {
    int ndim;
    size_t d[SG_MAX_DIMS];
} sg_shape;

/* SG_SHAPE(2, 3) is the shape (2, 3); SG_SHAPE() would be invalid, use SG_SCALAR. */
#define SG_NARGS_(_1, _2, _3, _4, N, ...) N
#define SG_NARGS(...) SG_NARGS_(__VA_ARGS__, 4, 3, 2, 1, 0)
#define SG_SHAPE(...) ((sg_shape){.ndim = SG_NARGS(__VA_ARGS__), .d = {__VA_ARGS__}})
#define SG_SCALAR ((sg_shape){.ndim = 0, .d = {0}})

size_t sg_shape_numel(sg_shape s);
bool sg_shape_equal(sg_shape a, sg_shape b);
/* Writes "(2, 3)" into buf (always NUL-terminated); returns buf. */
char *sg_shape_str(sg_shape s, char *buf, size_t cap);

/* What a tensor is in the graph. */
typedef enum sg_kind {
    SG_KIND_INPUT, /* data given by the caller (may require grad) */
    SG_KIND_PARAM, /* a parameter leaf: data/grad are the parameter's own */
    SG_KIND_CONST, /* constant data, never differentiated (incl. detach) */
    SG_KIND_OP     /* produced by an op */
} sg_kind;

/* Small op parameters stored in the node: axes, flags, offsets, constants. */
typedef struct sg_op_args {
    long i[4];
    double f[2];
} sg_op_args;

typedef struct sg_op sg_op;
typedef struct sg_graph sg_graph;
typedef struct sg_scope sg_scope;
typedef struct sg_param sg_param;
typedef struct sg_tensor sg_tensor;

struct sg_tensor {
    sg_dtype dtype;
    sg_shape shape;
    size_t numel;
    void *data; /* numel elements of dtype */
    void *grad; /* numel elements of dtype; NULL until backward reaches it */
    /* during one VJP call only: grad was just allocated and not zeroed, for
     * an op whose VJP assigns (sg_op.vjp_assigns) */
    bool grad_fresh;
    bool requires_grad;
    sg_kind kind;

    const sg_op *op; /* producing op; NULL for leaves */
    sg_tensor **src; /* (n_src) inputs, arena-owned */
    size_t n_src;
    sg_op_args args;  /* op parameters */
    void *aux;        /* op-private state saved by forward for the VJP (arena) */
    size_t aux_bytes; /* set by the op's shape rule when it needs aux */

    size_t tape_index;     /* position on the tape; SIZE_MAX when not recorded */
    const sg_scope *scope; /* scope the node was made in; NULL = root */
    const char *name;      /* leaves: the given name (arena copy); may be NULL */
    sg_param *param;       /* SG_KIND_PARAM: the parameter */
    size_t first_use;      /* SG_KIND_PARAM, during a backward with a grad-ready hook: the first tape index using it */
    sg_graph *graph;       /* the graph that owns this tensor */
    /* SG_KIND_PARAM, f32: the data packed in column panels for products of
     * few rows (ops/sg_gemm_packed.h), [0] as stored, [1] transposed, in the
     * arena; made by the first product that needs them, each valid while
     * data is still the pointer in panels_of */
    void *panels[2];
    const void *panels_of[2];
};

/* Element i (flat, row-major) as a double; id tensors convert exactly. */
double sg_tensor_get(const sg_tensor *t, size_t i);
/* Gradient element i as a double; 0 when the tensor has no gradient. */
double sg_tensor_grad_get(const sg_tensor *t, size_t i);
/* Sets element i of data (converted to the tensor's dtype). */
void sg_tensor_set(sg_tensor *t, size_t i, double v);
/* Copies the values out as doubles (n must be t->numel). */
void sg_tensor_copy_out_f64(const sg_tensor *t, double *dst);

#endif
