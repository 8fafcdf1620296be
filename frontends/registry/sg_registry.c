/* sg_registry.c — the registry's table, built from sg_registry_list.h with
 * the signature of each line checked against the function's own type at
 * compile time, and the libffi caller (see sg_registry.h). */
#include "frontends/registry/sg_registry.h"

#include <stdio.h>
#include <string.h>

/* ---- the C type of each type code ---------------------------------------------- */
#define SG_REG_C_GRAPH sg_graph *
#define SG_REG_C_TENSOR sg_tensor *
#define SG_REG_C_INT int
#define SG_REG_C_SIZE size_t
#define SG_REG_C_DOUBLE double
#define SG_REG_C_BOOL bool
#define SG_REG_C_SHAPE sg_shape
#define SG_REG_C_STRING const char *
#define SG_REG_C_TENSORS sg_tensor *const *
#define SG_REG_C_TENSORS_OUT sg_tensor **
#define SG_REG_C_SIZES const size_t *
#define SG_REG_C_DOUBLES const double *
#define SG_REG_C_IDS const int32_t *
#define SG_REG_C_REDUCTION sg_reduction
#define SG_REG_C_ACTIVATION sg_activation
#define SG_REG_C_STATUS sg_status
#define SG_REG_C_PARAM sg_param *
#define SG_REG_C_RNG sg_rng *
#define SG_REG_C_LINEAR const sg_linear *
#define SG_REG_C_EMBEDDING const sg_embedding *
#define SG_REG_C_CELL const sg_cell *
#define SG_REG_C_STATE_IN const sg_cell_state *
#define SG_REG_C_STATE_OUT sg_cell_state *

static const char *const sg_reg_names[SG_REG_N_TYPES][2] = {
    [SG_REG_GRAPH] = {"GRAPH", "sg_graph *"},
    [SG_REG_TENSOR] = {"TENSOR", "sg_tensor *"},
    [SG_REG_INT] = {"INT", "int"},
    [SG_REG_SIZE] = {"SIZE", "size_t"},
    [SG_REG_DOUBLE] = {"DOUBLE", "double"},
    [SG_REG_BOOL] = {"BOOL", "bool"},
    [SG_REG_SHAPE] = {"SHAPE", "sg_shape"},
    [SG_REG_STRING] = {"STRING", "const char *"},
    [SG_REG_TENSORS] = {"TENSORS", "sg_tensor *const *"},
    [SG_REG_TENSORS_OUT] = {"TENSORS_OUT", "sg_tensor **"},
    [SG_REG_SIZES] = {"SIZES", "const size_t *"},
    [SG_REG_DOUBLES] = {"DOUBLES", "const double *"},
    [SG_REG_IDS] = {"IDS", "const int32_t *"},
    [SG_REG_REDUCTION] = {"REDUCTION", "sg_reduction"},
    [SG_REG_ACTIVATION] = {"ACTIVATION", "sg_activation"},
    [SG_REG_STATUS] = {"STATUS", "sg_status"},
    [SG_REG_PARAM] = {"PARAM", "sg_param *"},
    [SG_REG_RNG] = {"RNG", "sg_rng *"},
    [SG_REG_LINEAR] = {"LINEAR", "const sg_linear *"},
    [SG_REG_EMBEDDING] = {"EMBEDDING", "const sg_embedding *"},
    [SG_REG_CELL] = {"CELL", "const sg_cell *"},
    [SG_REG_STATE_IN] = {"STATE_IN", "const sg_cell_state *"},
    [SG_REG_STATE_OUT] = {"STATE_OUT", "sg_cell_state *"},
};

const char *sg_reg_type_name(sg_reg_type t) { return (unsigned)t < SG_REG_N_TYPES ? sg_reg_names[t][0] : "?"; }
const char *sg_reg_type_c(sg_reg_type t) { return (unsigned)t < SG_REG_N_TYPES ? sg_reg_names[t][1] : "?"; }

/* ---- a map over the argument codes (1 to 8 of them) ------------------------------ */
#define SG_REG_NARG_(_1, _2, _3, _4, _5, _6, _7, _8, N, ...) N
#define SG_REG_NARG(...) SG_REG_NARG_(__VA_ARGS__, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define SG_REG_CAT_(a, b) a##b
#define SG_REG_CAT(a, b) SG_REG_CAT_(a, b)
#define SG_REG_MAP_1(f, a) f(a)
#define SG_REG_MAP_2(f, a, ...) f(a), SG_REG_MAP_1(f, __VA_ARGS__)
#define SG_REG_MAP_3(f, a, ...) f(a), SG_REG_MAP_2(f, __VA_ARGS__)
#define SG_REG_MAP_4(f, a, ...) f(a), SG_REG_MAP_3(f, __VA_ARGS__)
#define SG_REG_MAP_5(f, a, ...) f(a), SG_REG_MAP_4(f, __VA_ARGS__)
#define SG_REG_MAP_6(f, a, ...) f(a), SG_REG_MAP_5(f, __VA_ARGS__)
#define SG_REG_MAP_7(f, a, ...) f(a), SG_REG_MAP_6(f, __VA_ARGS__)
#define SG_REG_MAP_8(f, a, ...) f(a), SG_REG_MAP_7(f, __VA_ARGS__)
#define SG_REG_MAP(f, ...) SG_REG_CAT(SG_REG_MAP_, SG_REG_NARG(__VA_ARGS__))(f, __VA_ARGS__)
#define SG_REG_CTYPE(code) SG_REG_C_##code
#define SG_REG_CODE(code) SG_REG_##code

/* 1. every line's types are the function's: a mismatch stops the build */
#define SG_REG(name, group, ret, names, ...)                                                                           \
    _Static_assert(__builtin_types_compatible_p(__typeof__(&sg_##name),                                                \
                                                SG_REG_CTYPE(ret) (*)(SG_REG_MAP(SG_REG_CTYPE, __VA_ARGS__))),         \
                   "sg_" #name ": the signature in sg_registry_list.h is not the header's");                           \
    _Static_assert(SG_REG_NARG(__VA_ARGS__) <= SG_REG_MAX_ARGS, "sg_" #name ": too many arguments");
#include "frontends/registry/sg_registry_list.h"
#undef SG_REG

/* 2. the argument codes of each line */
#define SG_REG(name, group, ret, names, ...)                                                                           \
    static const sg_reg_type sg_reg_args_##name[] = {SG_REG_MAP(SG_REG_CODE, __VA_ARGS__)};
#include "frontends/registry/sg_registry_list.h"
#undef SG_REG

/* 3. the table */
static const sg_reg_fn sg_reg_table[] = {
#define SG_REG(name, group, ret, names, ...)                                                                           \
    {#name, #group, (void (*)(void))sg_##name, SG_REG_##ret, SG_REG_NARG(__VA_ARGS__), sg_reg_args_##name, names},
#include "frontends/registry/sg_registry_list.h"
#undef SG_REG
};
enum { SG_REG_N = sizeof sg_reg_table / sizeof sg_reg_table[0] };

size_t sg_registry_count(void) { return SG_REG_N; }
const sg_reg_fn *sg_registry_at(size_t i) { return i < SG_REG_N ? &sg_reg_table[i] : NULL; }

const sg_reg_fn *sg_registry_find(const char *name)
{
    for (size_t i = 0; name && i < SG_REG_N; i++)
        if (strcmp(sg_reg_table[i].name, name) == 0)
            return &sg_reg_table[i];
    return NULL;
}

void sg_reg_fn_prototype(const sg_reg_fn *e, char *buf, size_t cap)
{
    const char *rt = sg_reg_type_c(e->ret);
    size_t n = (size_t)snprintf(buf, cap, "%s%ssg_%s(", rt, rt[strlen(rt) - 1] == '*' ? "" : " ", e->name);
    const char *p = e->arg_names;
    for (size_t i = 0; i < e->n_args && n < cap; i++) {
        while (*p == ' ')
            p++;
        size_t len = strcspn(p, " ");
        const char *ct = sg_reg_type_c(e->args[i]);
        n += (size_t)snprintf(buf + n, cap - n, "%s%s%s%.*s", i ? ", " : "", ct, ct[strlen(ct) - 1] == '*' ? "" : " ",
                              (int)len, p);
        p += len;
    }
    if (n < cap)
        snprintf(buf + n, cap - n, ")");
}

/* ---- calling through libffi ------------------------------------------------------- */

/* sg_shape by value: {int ndim; size_t d[SG_MAX_DIMS]}. */
static ffi_type *sg_reg_shape_elements[] = {&ffi_type_sint,
#if SIZE_MAX == UINT64_MAX
                                            &ffi_type_uint64,
                                            &ffi_type_uint64,
                                            &ffi_type_uint64,
                                            &ffi_type_uint64,
#else
                                            &ffi_type_uint32,
                                            &ffi_type_uint32,
                                            &ffi_type_uint32,
                                            &ffi_type_uint32,
#endif
                                            NULL};
_Static_assert(SG_MAX_DIMS == 4, "sg_reg_shape_elements lists one size_t per dimension");
static ffi_type sg_reg_shape_type = {0, 0, FFI_TYPE_STRUCT, sg_reg_shape_elements};

static ffi_type *sg_reg_ffi_type(sg_reg_type t)
{
    switch (t) {
    case SG_REG_INT:
    case SG_REG_REDUCTION:
    case SG_REG_ACTIVATION:
    case SG_REG_STATUS: return &ffi_type_sint;
    case SG_REG_SIZE: return sizeof(size_t) == 8 ? &ffi_type_uint64 : &ffi_type_uint32;
    case SG_REG_DOUBLE: return &ffi_type_double;
    case SG_REG_BOOL: return &ffi_type_uint8;
    case SG_REG_SHAPE: return &sg_reg_shape_type;
    default: return &ffi_type_pointer;
    }
}

/* Where a value of type t lives in an sg_reg_value. */
static void *sg_reg_slot(sg_reg_value *v, sg_reg_type t)
{
    switch (t) {
    case SG_REG_INT:
    case SG_REG_REDUCTION:
    case SG_REG_ACTIVATION:
    case SG_REG_STATUS: return &v->i;
    case SG_REG_SIZE: return &v->z;
    case SG_REG_DOUBLE: return &v->f;
    case SG_REG_BOOL: return &v->b;
    case SG_REG_SHAPE: return &v->shape;
    default: return &v->p;
    }
}

sg_status sg_reg_call_prepare(sg_reg_call *c, const sg_reg_fn *e, char *err, size_t errcap)
{
    memset(c, 0, sizeof *c);
    if (!e || e->n_args > SG_REG_MAX_ARGS)
        return sg_error_format(err, errcap, SG_ERR_ARG, "registry: no such function, or too many arguments");
    c->fn = e;
    for (size_t i = 0; i < e->n_args; i++)
        c->arg_types[i] = sg_reg_ffi_type(e->args[i]);
    if (ffi_prep_cif(&c->cif, FFI_DEFAULT_ABI, (unsigned)e->n_args, sg_reg_ffi_type(e->ret), c->arg_types) != FFI_OK)
        return sg_error_format(err, errcap, SG_ERR_ARG, "registry: libffi cannot prepare a call of sg_%s", e->name);
    return SG_OK;
}

void sg_reg_call_invoke(const sg_reg_call *c, sg_reg_value *args, sg_reg_value *ret)
{
    void *slots[SG_REG_MAX_ARGS];
    for (size_t i = 0; i < c->fn->n_args; i++)
        slots[i] = sg_reg_slot(&args[i], c->fn->args[i]);
    /* integral results come back widened to ffi_arg */
    union {
        ffi_arg word;
        void *p;
    } r = {0};
    ffi_cif cif = c->cif; /* its type list is this call's own (c may have been copied since prepare) */
    cif.arg_types = (ffi_type **)c->arg_types;
    ffi_call(&cif, c->fn->fn, &r, slots);
    if (!ret)
        return;
    switch (c->fn->ret) {
    case SG_REG_BOOL: ret->b = (uint8_t)r.word != 0; break;
    case SG_REG_STATUS:
    case SG_REG_INT: ret->i = (int)r.word; break;
    default: ret->p = r.p; break;
    }
}
