/* sg_registry.h — the op registry: every public op, leaf maker, layer, loss
 * and cell step with its C signature (name, return type, argument types and
 * names), and a generic caller that calls any of them through libffi from
 * that signature (ffi_prep_cif once, ffi_call per call).  Cell files and
 * plugin cells call the library only this way: there is no wrapper per op.
 *
 * The list is frontends/registry/sg_registry_list.h; each line is checked at
 * compile time against the function's own type.  Part of the frontends: the
 * library knows nothing of it.
 *
 * Ownership: entries are static and live forever; a prepared call
 * (sg_reg_call) owns nothing on the heap and needs no free.
 */
#ifndef SG_REGISTRY_H
#define SG_REGISTRY_H

#include "graph/core/sg_graph.h"
#include "models/nn/sg_nn.h"
#include "models/rnn/sg_cell.h"
#include "ops/sg_ops.h"

#include <ffi.h>
#include <stdbool.h>
#include <stddef.h>

typedef enum sg_reg_type {
    SG_REG_GRAPH,       /* sg_graph * */
    SG_REG_TENSOR,      /* sg_tensor * */
    SG_REG_INT,         /* int */
    SG_REG_SIZE,        /* size_t */
    SG_REG_DOUBLE,      /* double */
    SG_REG_BOOL,        /* bool */
    SG_REG_SHAPE,       /* sg_shape, by value */
    SG_REG_STRING,      /* const char * */
    SG_REG_TENSORS,     /* sg_tensor *const * (with a SIZE count) */
    SG_REG_TENSORS_OUT, /* sg_tensor ** (outputs) */
    SG_REG_SIZES,       /* const size_t * */
    SG_REG_DOUBLES,     /* const double * */
    SG_REG_IDS,         /* const int32_t * */
    SG_REG_REDUCTION,   /* sg_reduction */
    SG_REG_ACTIVATION,  /* sg_activation */
    SG_REG_STATUS,      /* sg_status */
    SG_REG_PARAM,       /* sg_param * */
    SG_REG_RNG,         /* sg_rng * */
    SG_REG_LINEAR,      /* const sg_linear * */
    SG_REG_EMBEDDING,   /* const sg_embedding * */
    SG_REG_CELL,        /* const sg_cell * */
    SG_REG_STATE_IN,    /* const sg_cell_state * */
    SG_REG_STATE_OUT,   /* sg_cell_state * */
    SG_REG_N_TYPES
} sg_reg_type;

/* The type's name as the list spells it ("TENSOR"), and as C does ("sg_tensor *"). */
const char *sg_reg_type_name(sg_reg_type t);
const char *sg_reg_type_c(sg_reg_type t);

enum { SG_REG_MAX_ARGS = 16 };

typedef struct sg_reg_fn {
    const char *name;  /* "matmul": the C function is sg_matmul */
    const char *group; /* "op", "leaf", "layer", "loss", "cell" */
    void (*fn)(void);  /* the function, to be called through libffi */
    sg_reg_type ret;
    size_t n_args;
    const sg_reg_type *args; /* (n_args) */
    const char *arg_names;   /* "g a b": one name per argument, blank-separated */
} sg_reg_fn;

/* The registry: count, entry i (NULL past the end), entry by name (NULL when
 * there is none). */
size_t sg_registry_count(void);
const sg_reg_fn *sg_registry_at(size_t i);
const sg_reg_fn *sg_registry_find(const char *name);
/* The entry's C prototype, e.g. "sg_tensor *sg_matmul(sg_graph *g, sg_tensor
 * *a, sg_tensor *b)", into buf (cap bytes, truncated and NUL-terminated). */
void sg_reg_fn_prototype(const sg_reg_fn *e, char *buf, size_t cap);

/* One value of any registered type. */
typedef union sg_reg_value {
    void *p;  /* every pointer type */
    int i;    /* INT, REDUCTION, ACTIVATION, STATUS */
    size_t z; /* SIZE */
    double f; /* DOUBLE */
    bool b;   /* BOOL */
    sg_shape shape;
} sg_reg_value;

/* A call prepared once (ffi_prep_cif over the entry's types), made many
 * times.  Self-contained: it may be copied, and holds no heap memory. */
typedef struct sg_reg_call {
    const sg_reg_fn *fn;
    ffi_cif cif;
    ffi_type *arg_types[SG_REG_MAX_ARGS];
} sg_reg_call;

/* Prepares a call of e.  SG_ERR_ARG (message in err) when libffi refuses
 * the signature. */
SG_NODISCARD sg_status sg_reg_call_prepare(sg_reg_call *c, const sg_reg_fn *e, char *err, size_t errcap);
/* Calls the function with args (c->fn->n_args values, each in the member
 * its type names) and stores the result in *ret (may be NULL).  Allocates
 * nothing. */
void sg_reg_call_invoke(const sg_reg_call *c, sg_reg_value *args, sg_reg_value *ret);

#endif
