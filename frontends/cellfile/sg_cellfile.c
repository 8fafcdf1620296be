/* sg_cellfile.c — the cell-file language: a line tokenizer, a recursive
 * parser of nested calls (over one line: no recursion over the tape or the
 * file), the compiler to a flat list of prepared registry calls, and the
 * step that runs them (see sg_cellfile.h).
 *
 * Program: every value a step handles has a slot: the input, the states,
 * the parameters, every assigned name and every nested call's result.  An
 * instruction is one registry call whose arguments are slots or constants
 * and whose results go to slots.  A step allocates its slot table and the
 * array arguments in the graph's arena: nothing on the heap. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "frontends/cellfile/sg_cellfile.h"

#include "frontends/registry/sg_registry.h"
#include "graph/core/sg_alloc.h"
#include "graph/util/sg_file.h"
#include "graph/util/sg_util.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SG_CF_MAX_NAME = 64, SG_CF_MAX_CALL_ARGS = 16, SG_CF_MAX_OUTS = 16, SG_CF_MAX_DEPTH = 32 };

/* ---- the program ------------------------------------------------------------------ */

typedef enum sg_cf_slot_kind { SG_CF_INPUT, SG_CF_STATE, SG_CF_PARAM, SG_CF_VALUE } sg_cf_slot_kind;

typedef struct sg_cf_slot {
    char name[SG_CF_MAX_NAME]; /* "" for a nested call's result */
    sg_cf_slot_kind kind;
    size_t index;  /* STATE: 0 (h) or 1 (c); PARAM: index in params */
    bool assigned; /* has a value (declared, or computed by an earlier instruction) */
} sg_cf_slot;

/* A parameter's dimension: sum of terms, each a product of factors
 * (integers, I, H). */
typedef struct sg_cf_term {
    long coef; /* integer factor */
    int pow_i; /* how many I factors */
    int pow_h; /* how many H factors */
} sg_cf_term;

typedef struct sg_cf_dim {
    int n_terms;
    sg_cf_term terms[8];
} sg_cf_dim;

typedef enum sg_cf_init { SG_CF_UNIFORM = 0, SG_CF_ZEROS = 1, SG_CF_ONES = 2 } sg_cf_init;

typedef struct sg_cf_param {
    char name[SG_CF_MAX_NAME];
    int ndim;
    sg_cf_dim dims[2];
    sg_cf_init init;
    size_t slot;
    size_t line;
} sg_cf_param;

/* One argument of an instruction. */
typedef struct sg_cf_arg {
    bool is_slot;
    size_t slot;    /* is_slot */
    sg_reg_value v; /* a constant */
} sg_cf_arg;

typedef struct sg_cf_instr {
    sg_reg_call call;
    size_t line;
    size_t n_args; /* syntactic arguments after the graph */
    sg_cf_arg args[SG_CF_MAX_CALL_ARGS];
    size_t tensors_at, n_tensors; /* a TENSORS argument: registry position, and how many tensor args fill it */
    size_t outs_at;               /* a TENSORS_OUT argument's registry position (SIZE_MAX: none) */
    size_t n_outs;                /* results (1 for a single tensor) */
    size_t out_slots[SG_CF_MAX_OUTS];
    bool h_rec; /* matmul(h, ...): the first argument is the recurrent input */
} sg_cf_instr;

struct sg_cellfile {
    char *name;
    char *source; /* the text parsed (a cell file's, or a plugin's declaration), NUL-terminated */
    char *spec;   /* a plugin: "<absolute library path>:<function>"; NULL for a cell file */
    sg_cf_slot *slots;
    size_t n_slots, cap_slots;
    sg_cf_param *params;
    size_t n_params, cap_params;
    sg_cf_instr *code;
    size_t n_code, cap_code;
    size_t input_slot, state_slot[2], new_state_slot[2], n_states;
    char input_size[2], state_size[2]; /* 'I' or 'H' */
    size_t gates;                      /* G when the projection is the runner's */
    size_t proj_instr;                 /* the instruction replaced by the projected input (SIZE_MAX: none) */
    /* a plugin cell (sg_cellfile_plugin, spec set): the declaration's call line */
    void *dl;                           /* the dlopen handle (owned) */
    char call_name[SG_CF_MAX_NAME];     /* the function the call line names */
    size_t call_slots[SG_REG_MAX_ARGS]; /* its arguments after the graph, in order */
    size_t n_call;
    sg_reg_type call_types[SG_REG_MAX_ARGS]; /* GRAPH, TENSOR..., then one out pointer per extra state */
    sg_reg_fn call_fn;                       /* a registry entry made at load, called like any other */
    sg_reg_call call;
};

const char *sg_cellfile_name(const sg_cellfile *cf) { return cf->name; }
const char *sg_cellfile_source(const sg_cellfile *cf) { return cf->source; }
const char *sg_cellfile_spec(const sg_cellfile *cf) { return cf->spec; }
size_t sg_cellfile_gates(const sg_cellfile *cf) { return cf->gates; }

void sg_cellfile_free(sg_cellfile *cf)
{
    if (!cf)
        return;
    if (cf->dl)
        dlclose(cf->dl);
    sg_free(cf->name);
    sg_free(cf->source);
    sg_free(cf->spec);
    sg_free(cf->slots);
    sg_free(cf->params);
    sg_free(cf->code);
    sg_free(cf);
}

/* ---- the parser ------------------------------------------------------------------------ */

typedef struct sg_cf_parser {
    sg_cellfile *cf;
    const char *line; /* the current line (not NUL-terminated) */
    size_t len, pos, lineno;
    char *err;
    size_t errcap;
    sg_status st;
} sg_cf_parser;

static bool sg_cf_fail(sg_cf_parser *p, size_t col, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool sg_cf_fail(sg_cf_parser *p, size_t col, const char *fmt, ...)
{
    if (p->st != SG_OK)
        return false;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->st = sg_error_format(p->err, p->errcap, SG_ERR_FORMAT, "%s:%zu:%zu: %s", p->cf->name, p->lineno, col + 1, msg);
    return false;
}

static void sg_cf_skip(sg_cf_parser *p)
{
    while (p->pos < p->len && (p->line[p->pos] == ' ' || p->line[p->pos] == '\t' || p->line[p->pos] == '\r'))
        p->pos++;
}

static bool sg_cf_at_end(sg_cf_parser *p)
{
    sg_cf_skip(p);
    return p->pos >= p->len || p->line[p->pos] == '#';
}

/* A name [A-Za-z_][A-Za-z0-9_]* (primed: followed by '). */
static bool sg_cf_name(sg_cf_parser *p, char *out, bool *primed)
{
    sg_cf_skip(p);
    size_t s = p->pos;
    if (p->pos >= p->len || !(isalpha((unsigned char)p->line[p->pos]) || p->line[p->pos] == '_'))
        return sg_cf_fail(p, p->pos, "a name was expected");
    while (p->pos < p->len && (isalnum((unsigned char)p->line[p->pos]) || p->line[p->pos] == '_'))
        p->pos++;
    if (p->pos - s >= SG_CF_MAX_NAME)
        return sg_cf_fail(p, s, "the name is longer than %d characters", SG_CF_MAX_NAME - 1);
    memcpy(out, p->line + s, p->pos - s);
    out[p->pos - s] = '\0';
    if (primed) {
        *primed = p->pos < p->len && p->line[p->pos] == '\'';
        if (*primed)
            p->pos++;
    }
    return true;
}

/* Takes c when it comes next (after blanks); false, taking nothing, otherwise. */
static bool sg_cf_accept(sg_cf_parser *p, char c)
{
    sg_cf_skip(p);
    if (p->pos < p->len && p->line[p->pos] == c) {
        p->pos++;
        return true;
    }
    return false;
}

static bool sg_cf_expect(sg_cf_parser *p, char c)
{
    return sg_cf_accept(p, c) || sg_cf_fail(p, p->pos, "'%c' was expected", c);
}

static sg_cf_slot *sg_cf_find(sg_cellfile *cf, const char *name, size_t *at)
{
    for (size_t i = 0; i < cf->n_slots; i++)
        if (cf->slots[i].name[0] && strcmp(cf->slots[i].name, name) == 0) {
            if (at)
                *at = i;
            return &cf->slots[i];
        }
    return NULL;
}

/* One of the program's arrays grown to hold one more element (sg_array_reserve):
 * the array, moved or not, or NULL with the parser's error set (items unchanged). */
static void *sg_cf_grow(sg_cf_parser *p, void *items, size_t *cap, size_t n, size_t elem)
{
    if (sg_array_reserve(&items, cap, n + 1, elem))
        return items;
    p->st = sg_error_format(p->err, p->errcap, SG_ERR_NOMEM, "%s: out of memory", p->cf->name);
    return NULL;
}

static bool sg_cf_new_slot(sg_cf_parser *p, const char *name, sg_cf_slot_kind kind, size_t index, size_t *at)
{
    sg_cellfile *cf = p->cf;
    void *v = sg_cf_grow(p, cf->slots, &cf->cap_slots, cf->n_slots, sizeof *cf->slots);
    if (!v)
        return false;
    cf->slots = v;
    sg_cf_slot *s = &cf->slots[cf->n_slots];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    s->kind = kind;
    s->index = index;
    s->assigned = kind != SG_CF_VALUE;
    *at = cf->n_slots++;
    return true;
}

/* A dimension: TERM (+ TERM)*, TERM = FACTOR (* FACTOR)*, FACTOR = integer,
 * I, H, or an integer directly followed by I or H (3H). */
static bool sg_cf_dim_parse(sg_cf_parser *p, sg_cf_dim *d)
{
    memset(d, 0, sizeof *d);
    for (;;) {
        if (d->n_terms == 8)
            return sg_cf_fail(p, p->pos, "a size of more than 8 terms");
        sg_cf_term *t = &d->terms[d->n_terms++];
        t->coef = 1;
        for (;;) {
            sg_cf_skip(p);
            size_t s = p->pos;
            if (p->pos < p->len && isdigit((unsigned char)p->line[p->pos])) {
                long v = 0;
                while (p->pos < p->len && isdigit((unsigned char)p->line[p->pos])) {
                    if (v > 1000000)
                        return sg_cf_fail(p, s, "the number is too large for a size");
                    v = v * 10 + (p->line[p->pos++] - '0');
                }
                if (v > 0 && t->coef > 10000000 / v) /* a product of factors stays far from overflowing */
                    return sg_cf_fail(p, s, "the size is too large");
                t->coef *= v;
            }
            if (p->pos < p->len && (p->line[p->pos] == 'I' || p->line[p->pos] == 'H')) {
                if (p->line[p->pos] == 'I')
                    t->pow_i++;
                else
                    t->pow_h++;
                p->pos++;
                if (t->pow_i + t->pow_h > 3)
                    return sg_cf_fail(p, p->pos - 1, "a size is a product of at most three of I and H");
            } else if (p->pos == s)
                return sg_cf_fail(p, p->pos, "a size (an integer, I, H, 3H, I+H, ...) was expected");
            if (p->pos < p->len && (isalnum((unsigned char)p->line[p->pos]) || p->line[p->pos] == '_'))
                return sg_cf_fail(p, p->pos, "a size is made of integers, I and H: unexpected '%c'", p->line[p->pos]);
            if (sg_cf_accept(p, '*'))
                continue;
            break;
        }
        if (sg_cf_accept(p, '+'))
            continue;
        return true;
    }
}

static size_t sg_cf_dim_eval(const sg_cf_dim *d, size_t I, size_t H)
{
    double total = 0;
    for (int k = 0; k < d->n_terms; k++) {
        double v = (double)d->terms[k].coef;
        for (int i = 0; i < d->terms[k].pow_i; i++)
            v *= (double)I;
        for (int i = 0; i < d->terms[k].pow_h; i++)
            v *= (double)H;
        total += v;
    }
    return total >= 1 && total < 1e12 ? (size_t)total : 0;
}

/* A dimension that is exactly G*H (one term, no I, one H): G, else 0. */
static size_t sg_cf_dim_gates(const sg_cf_dim *d)
{
    return d->n_terms == 1 && d->terms[0].pow_i == 0 && d->terms[0].pow_h == 1 && d->terms[0].coef > 0
               ? (size_t)d->terms[0].coef
               : 0;
}

static bool sg_cf_dim_is(const sg_cf_dim *d, int pow_i, int pow_h)
{
    return d->n_terms == 1 && d->terms[0].coef == 1 && d->terms[0].pow_i == pow_i && d->terms[0].pow_h == pow_h;
}

/* ---- expressions ---------------------------------------------------------------------------- */

/* What a syntactic argument is, once parsed. */
typedef struct sg_cf_expr {
    bool is_num;
    double num;
    bool num_int; /* written without '.' or exponent */
    size_t slot;  /* a tensor value */
    size_t col;
} sg_cf_expr;

static bool sg_cf_call(sg_cf_parser *p, const char *op, size_t op_col, size_t depth, size_t n_outs,
                       const size_t *out_slots, sg_cf_expr *result);

/* An argument: a number, a name, or a nested call. */
static bool sg_cf_expr_parse(sg_cf_parser *p, size_t depth, sg_cf_expr *e)
{
    sg_cf_skip(p);
    memset(e, 0, sizeof *e);
    e->col = p->pos;
    if (p->pos >= p->len)
        return sg_cf_fail(p, p->pos, "an argument was expected");
    char c = p->line[p->pos];
    if (isdigit((unsigned char)c) || c == '-' || c == '+' || c == '.') {
        char buf[64];
        size_t n = 0;
        while (p->pos < p->len && n < sizeof buf - 1 &&
               (isalnum((unsigned char)p->line[p->pos]) || strchr("+-.", p->line[p->pos])))
            buf[n++] = p->line[p->pos++];
        buf[n] = '\0';
        char *end;
        e->num = strtod(buf, &end);
        if (end == buf || *end || !isfinite(e->num))
            return sg_cf_fail(p, e->col, "'%s' is not a number", buf);
        e->is_num = true;
        e->num_int = !strpbrk(buf, ".eE") && fabs(e->num) < 1e9;
        return true;
    }
    char name[SG_CF_MAX_NAME + 1];
    bool primed;
    if (!sg_cf_name(p, name, &primed))
        return false;
    if (primed) { /* a new state, once assigned, may be read (h' = o * tanh(c')) */
        size_t n = strlen(name);
        name[n] = '\'';
        name[n + 1] = '\0';
    } else {
        sg_cf_skip(p);
        if (p->pos < p->len && p->line[p->pos] == '(')
            return sg_cf_call(p, name, e->col, depth + 1, 1, NULL, e);
    }
    sg_cf_slot *s = sg_cf_find(p->cf, name, &e->slot);
    if (!s)
        return sg_cf_fail(p, e->col, "unknown name '%s'", name);
    if (!s->assigned)
        return sg_cf_fail(p, e->col, "'%s' is used before it is assigned", name);
    return true;
}

/* Whether the registry type is one a cell file can give as a number. */
static bool sg_cf_is_number(sg_reg_type t)
{
    return t == SG_REG_INT || t == SG_REG_SIZE || t == SG_REG_DOUBLE || t == SG_REG_BOOL;
}

/* OP( already read up to '('): parses the arguments, checks them against the
 * registry entry, emits the instruction.  n_outs results go to out_slots
 * (NULL: one new anonymous slot, returned in result). */
static bool sg_cf_call(sg_cf_parser *p, const char *op, size_t op_col, size_t depth, size_t n_outs,
                       const size_t *out_slots, sg_cf_expr *result)
{
    if (depth > SG_CF_MAX_DEPTH)
        return sg_cf_fail(p, op_col, "calls nested more than %d deep", SG_CF_MAX_DEPTH);
    const sg_reg_fn *e = sg_registry_find(op);
    if (!e || strcmp(e->group, "op") != 0)
        return sg_cf_fail(p, op_col, "unknown op '%s' (`seqgrad registry` lists the ops)", op);
    if (!sg_cf_expect(p, '('))
        return false;
    sg_cf_expr args[SG_CF_MAX_CALL_ARGS];
    size_t n = 0;
    if (!sg_cf_accept(p, ')'))
        for (;;) {
            if (n == SG_CF_MAX_CALL_ARGS)
                return sg_cf_fail(p, p->pos, "more than %d arguments", SG_CF_MAX_CALL_ARGS);
            if (!sg_cf_expr_parse(p, depth, &args[n++]))
                return false;
            if (sg_cf_accept(p, ','))
                continue;
            if (!sg_cf_expect(p, ')'))
                return false;
            break;
        }
    /* match the syntactic arguments against the signature (after the graph) */
    sg_cf_instr in;
    memset(&in, 0, sizeof in);
    in.line = p->lineno;
    in.outs_at = SIZE_MAX;
    in.tensors_at = SIZE_MAX;
    char perr[256];
    if (sg_reg_call_prepare(&in.call, e, perr, sizeof perr) != SG_OK)
        return sg_cf_fail(p, op_col, "%s", perr);
    const bool multi = e->ret == SG_REG_STATUS;
    if (!(e->ret == SG_REG_TENSOR || (multi && e->args[e->n_args - 1] == SG_REG_TENSORS_OUT)))
        return sg_cf_fail(p, op_col, "op '%s' returns %s: not available in cell files", op, sg_reg_type_name(e->ret));
    size_t a = 0; /* next syntactic argument */
    char proto[512];
    sg_reg_fn_prototype(e, proto, sizeof proto);
    for (size_t k = 1; k < e->n_args; k++) {
        sg_reg_type t = e->args[k];
        if (t == SG_REG_TENSORS) { /* a run of tensors, counted into the SIZE after it */
            if (k + 1 >= e->n_args || e->args[k + 1] != SG_REG_SIZE)
                return sg_cf_fail(p, op_col, "op '%s': its list argument has no count", op);
            in.tensors_at = k;
            size_t first = a;
            while (a < n && !args[a].is_num) {
                if (in.n_args == SG_CF_MAX_CALL_ARGS)
                    return sg_cf_fail(p, op_col, "too many arguments");
                in.args[in.n_args++] = (sg_cf_arg){.is_slot = true, .slot = args[a++].slot};
            }
            in.n_tensors = a - first;
            if (!in.n_tensors)
                return sg_cf_fail(p, a < n ? args[a].col : p->pos, "op '%s' takes one or more tensors first (%s)", op,
                                  proto);
            k++; /* the count is implied */
            continue;
        }
        if (t == SG_REG_TENSORS_OUT) {
            in.outs_at = k;
            continue;
        }
        if (a >= n)
            return sg_cf_fail(p, p->pos, "op '%s' takes more arguments: %s", op, proto);
        const sg_cf_expr *x = &args[a++];
        if (t == SG_REG_TENSOR) {
            if (x->is_num)
                return sg_cf_fail(p, x->col, "op '%s' argument %zu is a tensor, not a number (%s)", op, a, proto);
            in.args[in.n_args++] = (sg_cf_arg){.is_slot = true, .slot = x->slot};
        } else if (sg_cf_is_number(t)) {
            if (!x->is_num)
                return sg_cf_fail(p, x->col, "op '%s' argument %zu is %s: a number, not a tensor (%s)", op, a,
                                  sg_reg_type_c(t), proto);
            sg_reg_value v = {0};
            if (t == SG_REG_DOUBLE)
                v.f = x->num;
            else if (!x->num_int)
                return sg_cf_fail(p, x->col, "op '%s' argument %zu is %s: a whole number", op, a, sg_reg_type_c(t));
            else if (t == SG_REG_INT)
                v.i = (int)x->num;
            else if (t == SG_REG_BOOL) {
                if (x->num != 0 && x->num != 1)
                    return sg_cf_fail(p, x->col, "op '%s' argument %zu is a flag: 0 or 1", op, a);
                v.b = x->num != 0;
            } else {
                if (x->num < 0)
                    return sg_cf_fail(p, x->col, "op '%s' argument %zu is a size: not negative", op, a);
                v.z = (size_t)x->num;
            }
            in.args[in.n_args++] = (sg_cf_arg){.is_slot = false, .v = v};
        } else
            return sg_cf_fail(p, op_col, "op '%s' takes %s: not available in cell files", op, sg_reg_type_c(t));
    }
    if (a < n)
        return sg_cf_fail(p, args[a].col, "op '%s' takes %zu arguments here, not %zu: %s", op, a, n, proto);
    /* the results */
    if (multi) {
        /* the count is the SIZE argument just before the outputs */
        size_t want = 0;
        for (size_t k = 1, s = 0; k < e->n_args; k++) {
            if (k == in.tensors_at) {
                s += in.n_tensors;
                k++;
                continue;
            }
            if (e->args[k] == SG_REG_TENSORS_OUT)
                break;
            if (e->args[k] == SG_REG_SIZE && k + 1 == in.outs_at)
                want = in.args[s].v.z;
            s++;
        }
        if (!out_slots)
            return sg_cf_fail(p, op_col, "op '%s' has %zu results: assign them (a, b, ... = %s(...))", op, want, op);
        if (want != n_outs)
            return sg_cf_fail(p, op_col, "op '%s' makes %zu results here, and %zu names take them", op, want, n_outs);
    } else if (out_slots && n_outs != 1)
        return sg_cf_fail(p, op_col, "op '%s' has one result, and %zu names take it", op, n_outs);
    in.n_outs = n_outs;
    if (out_slots)
        memcpy(in.out_slots, out_slots, n_outs * sizeof *out_slots);
    else if (!sg_cf_new_slot(p, "", SG_CF_VALUE, 0, &in.out_slots[0]))
        return false;
    /* matmul(h, ...): the recurrent input */
    in.h_rec = strcmp(op, "matmul") == 0 && in.args[0].is_slot && p->cf->slots[in.args[0].slot].kind == SG_CF_STATE &&
               p->cf->slots[in.args[0].slot].index == 0;
    sg_cellfile *cf = p->cf;
    void *v = sg_cf_grow(p, cf->code, &cf->cap_code, cf->n_code, sizeof *cf->code);
    if (!v)
        return false;
    cf->code = v;
    cf->code[cf->n_code++] = in;
    for (size_t i = 0; i < n_outs; i++)
        cf->slots[in.out_slots[i]].assigned = true;
    if (result) {
        memset(result, 0, sizeof *result);
        result->slot = in.out_slots[0];
        result->col = op_col;
    }
    return true;
}

/* ---- lines ---------------------------------------------------------------------------- */

static bool sg_cf_declare(sg_cf_parser *p, const char *what, size_t col)
{
    sg_cellfile *cf = p->cf;
    char name[SG_CF_MAX_NAME];
    size_t ncol = (sg_cf_skip(p), p->pos);
    if (!sg_cf_name(p, name, NULL))
        return false;
    if (sg_cf_find(cf, name, NULL))
        return sg_cf_fail(p, ncol, "'%s' is declared twice", name);
    if (strcmp(what, "input") == 0 || strcmp(what, "state") == 0) {
        bool input = what[0] == 'i';
        char size[SG_CF_MAX_NAME];
        size_t scol = (sg_cf_skip(p), p->pos);
        if (!sg_cf_name(p, size, NULL))
            return false;
        if (strcmp(size, "I") != 0 && strcmp(size, "H") != 0)
            return sg_cf_fail(p, scol, "the size of %s '%s' is I or H, not '%s'", what, name, size);
        if (input) {
            if (cf->input_slot != SIZE_MAX)
                return sg_cf_fail(p, col, "a cell has one input");
            if (!sg_cf_new_slot(p, name, SG_CF_INPUT, 0, &cf->input_slot))
                return false;
            cf->input_size[0] = size[0];
        } else {
            if (cf->n_states == 2)
                return sg_cf_fail(p, col, "a cell has one or two states (h, then c)");
            if (!sg_cf_new_slot(p, name, SG_CF_STATE, cf->n_states, &cf->state_slot[cf->n_states]))
                return false;
            cf->state_size[cf->n_states++] = size[0];
        }
        return true;
    }
    /* param NAME (D1[, D2]) [init] */
    sg_cf_param pr;
    memset(&pr, 0, sizeof pr);
    snprintf(pr.name, sizeof pr.name, "%s", name);
    pr.line = p->lineno;
    if (!sg_cf_expect(p, '('))
        return false;
    for (;;) {
        if (pr.ndim == 2)
            return sg_cf_fail(p, p->pos, "a parameter has one or two dimensions");
        if (!sg_cf_dim_parse(p, &pr.dims[pr.ndim++]))
            return false;
        if (sg_cf_accept(p, ','))
            continue;
        if (!sg_cf_expect(p, ')'))
            return false;
        break;
    }
    if (!sg_cf_at_end(p)) {
        char init[SG_CF_MAX_NAME];
        size_t icol = p->pos;
        if (!sg_cf_name(p, init, NULL))
            return false;
        if (strcmp(init, "uniform") == 0)
            pr.init = SG_CF_UNIFORM;
        else if (strcmp(init, "zeros") == 0)
            pr.init = SG_CF_ZEROS;
        else if (strcmp(init, "ones") == 0)
            pr.init = SG_CF_ONES;
        else
            return sg_cf_fail(p, icol, "initializer '%s': uniform, zeros or ones", init);
    }
    void *v = sg_cf_grow(p, cf->params, &cf->cap_params, cf->n_params, sizeof *cf->params);
    if (!v)
        return false;
    cf->params = v;
    if (!sg_cf_new_slot(p, name, SG_CF_PARAM, cf->n_params, &pr.slot))
        return false;
    cf->params[cf->n_params++] = pr;
    return true;
}

/* NAME[, NAME...] = CALL */
static bool sg_cf_assign(sg_cf_parser *p)
{
    sg_cellfile *cf = p->cf;
    size_t outs[SG_CF_MAX_OUTS], n = 0;
    for (;;) {
        char name[SG_CF_MAX_NAME];
        bool primed;
        size_t col = (sg_cf_skip(p), p->pos);
        if (!sg_cf_name(p, name, &primed))
            return false;
        if (n == SG_CF_MAX_OUTS)
            return sg_cf_fail(p, col, "more than %d names", SG_CF_MAX_OUTS);
        size_t at;
        if (primed) {
            size_t s;
            sg_cf_slot *st = sg_cf_find(cf, name, &s);
            if (!st || st->kind != SG_CF_STATE)
                return sg_cf_fail(p, col, "'%s'' is not a state: only states are primed", name);
            if (cf->new_state_slot[st->index] != SIZE_MAX)
                return sg_cf_fail(p, col, "'%s'' is assigned twice", name);
            char pname[SG_CF_MAX_NAME + 1];
            snprintf(pname, sizeof pname, "%s'", name);
            const size_t which = st->index; /* st dangles once a slot is added */
            if (!sg_cf_new_slot(p, pname, SG_CF_VALUE, 0, &at))
                return false;
            cf->new_state_slot[which] = at;
        } else {
            sg_cf_slot *old = sg_cf_find(cf, name, NULL);
            if (old)
                return sg_cf_fail(p, col, "'%s' is assigned twice (it is %s)", name,
                                  old->kind == SG_CF_VALUE   ? "assigned above"
                                  : old->kind == SG_CF_PARAM ? "a parameter"
                                  : old->kind == SG_CF_STATE ? "a state: assign its new value as "
                                                               "NAME'"
                                                             : "the input");
            for (size_t i = 0; i < n; i++)
                if (strcmp(cf->slots[outs[i]].name, name) == 0)
                    return sg_cf_fail(p, col, "'%s' is named twice", name);
            if (!sg_cf_new_slot(p, name, SG_CF_VALUE, 0, &at))
                return false;
        }
        outs[n++] = at;
        if (sg_cf_accept(p, ','))
            continue;
        break;
    }
    if (!sg_cf_expect(p, '='))
        return false;
    char op[SG_CF_MAX_NAME];
    size_t col = (sg_cf_skip(p), p->pos);
    if (!sg_cf_name(p, op, NULL))
        return false;
    sg_cf_skip(p);
    if (p->pos >= p->len || p->line[p->pos] != '(')
        return sg_cf_fail(p, col, "an op call was expected after '=' (a copy 'a = b' is not needed: use b)");
    if (!sg_cf_call(p, op, col, 0, n, outs, NULL))
        return false;
    if (!sg_cf_at_end(p))
        return sg_cf_fail(p, p->pos, "one assignment a line: unexpected text after the call");
    return true;
}

/* A plugin's declaration: call NAME(ARG, ...), every declared name once. */
static bool sg_cf_call_line(sg_cf_parser *p, size_t col)
{
    sg_cellfile *cf = p->cf;
    if (cf->call_name[0])
        return sg_cf_fail(p, col, "one call line");
    if (!sg_cf_name(p, cf->call_name, NULL) || !sg_cf_expect(p, '('))
        return false;
    for (;;) {
        char name[SG_CF_MAX_NAME];
        size_t at, ncol = (sg_cf_skip(p), p->pos);
        if (!sg_cf_name(p, name, NULL))
            return false;
        if (!sg_cf_find(cf, name, &at))
            return sg_cf_fail(p, ncol, "'%s' is not declared (an input, a state or a parameter)", name);
        for (size_t i = 0; i < cf->n_call; i++)
            if (cf->call_slots[i] == at)
                return sg_cf_fail(p, ncol, "'%s' is passed twice", name);
        if (cf->n_call + 1 + cf->n_states >= SG_REG_MAX_ARGS)
            return sg_cf_fail(p, ncol, "a plugin cell takes at most %d arguments", SG_REG_MAX_ARGS - 2);
        cf->call_slots[cf->n_call++] = at;
        if (sg_cf_accept(p, ','))
            continue;
        return sg_cf_expect(p, ')');
    }
}

/* Hands add(matmul(x, W_x), b_x) to the runner when it is the only use of x. */
static void sg_cf_hoist(sg_cellfile *cf)
{
    cf->proj_instr = SIZE_MAX;
    size_t uses = 0, mm = SIZE_MAX;
    for (size_t k = 0; k < cf->n_code; k++)
        for (size_t a = 0; a < cf->code[k].n_args; a++)
            if (cf->code[k].args[a].is_slot && cf->code[k].args[a].slot == cf->input_slot) {
                uses++;
                mm = k;
            }
    if (uses != 1 || mm + 1 >= cf->n_code)
        return;
    const sg_cf_instr *m = &cf->code[mm], *ad = &cf->code[mm + 1];
    if (strcmp(m->call.fn->name, "matmul") != 0 || !m->args[0].is_slot || m->args[0].slot != cf->input_slot ||
        !m->args[1].is_slot || strcmp(ad->call.fn->name, "add") != 0 || !ad->args[0].is_slot ||
        ad->args[0].slot != m->out_slots[0] || !ad->args[1].is_slot)
        return;
    const sg_cf_slot *w = &cf->slots[m->args[1].slot], *b = &cf->slots[ad->args[1].slot];
    if (w->kind != SG_CF_PARAM || b->kind != SG_CF_PARAM || strcmp(w->name, "W_x") != 0 || strcmp(b->name, "b_x") != 0)
        return;
    /* the matmul's result must feed only the add */
    for (size_t k = 0; k < cf->n_code; k++)
        for (size_t a = 0; a < cf->code[k].n_args; a++)
            if (k != mm + 1 && cf->code[k].args[a].is_slot && cf->code[k].args[a].slot == m->out_slots[0])
                return;
    const sg_cf_param *W = &cf->params[w->index], *B = &cf->params[b->index];
    size_t g = W->ndim == 2 ? sg_cf_dim_gates(&W->dims[1]) : 0;
    if (!g || !sg_cf_dim_is(&W->dims[0], 1, 0) || B->ndim != 1 || sg_cf_dim_gates(&B->dims[0]) != g ||
        cf->input_size[0] != 'I')
        return;
    cf->gates = g;
    cf->proj_instr = mm + 1; /* its result is the projected input; the matmul is skipped too */
}

static sg_status sg_cf_parse(const char *text, size_t len, const char *name, bool plugin, sg_cellfile **out, char *err,
                             size_t errcap)
{
    *out = NULL;
    sg_cellfile *cf = sg_calloc(1, sizeof *cf);
    if (!cf || !(cf->name = sg_str_dup(name ? name : "cell")) || !(cf->source = sg_str_ndup(text, len))) {
        sg_cellfile_free(cf);
        return sg_error_format(err, errcap, SG_ERR_NOMEM, "out of memory");
    }
    cf->input_slot = SIZE_MAX;
    cf->new_state_slot[0] = cf->new_state_slot[1] = SIZE_MAX;
    cf->proj_instr = SIZE_MAX;
    sg_cf_parser p = {.cf = cf, .err = err, .errcap = errcap};
    bool code_started = false;
    for (size_t i = 0; p.st == SG_OK && i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) : len;
        p.line = text + i;
        p.len = end - i;
        p.pos = 0;
        p.lineno++;
        i = end + 1;
        if (memchr(p.line, '\0', p.len)) {
            sg_cf_fail(&p, 0, "NUL byte in the line");
            break;
        }
        if (!sg_utf8_valid(p.line, p.len)) { /* a checkpoint keeps the text, as UTF-8 */
            sg_cf_fail(&p, 0, "the line is not UTF-8 text");
            break;
        }
        if (sg_cf_at_end(&p))
            continue;
        size_t col = p.pos, save = p.pos;
        char word[SG_CF_MAX_NAME];
        if (!sg_cf_name(&p, word, NULL))
            break;
        sg_cf_skip(&p);
        bool decl = (strcmp(word, "input") == 0 || strcmp(word, "state") == 0 || strcmp(word, "param") == 0) &&
                    p.pos < p.len && (isalpha((unsigned char)p.line[p.pos]) || p.line[p.pos] == '_');
        if (decl) {
            if (code_started) {
                sg_cf_fail(&p, col, "declarations (input, state, param) come before the equations");
                break;
            }
            if (sg_cf_declare(&p, word, col) && !sg_cf_at_end(&p))
                sg_cf_fail(&p, p.pos, "unexpected text after the declaration");
        } else if (plugin) {
            if (strcmp(word, "call") != 0) {
                sg_cf_fail(&p, col, "a plugin's declaration has input, state, param and one call line");
                break;
            }
            code_started = true;
            if (sg_cf_call_line(&p, col) && !sg_cf_at_end(&p))
                sg_cf_fail(&p, p.pos, "unexpected text after the call");
        } else {
            if (cf->input_slot == SIZE_MAX || !cf->n_states) {
                sg_cf_fail(&p, col, "declare the input and the state(s) first (input x I, state h H)");
                break;
            }
            code_started = true;
            p.pos = save;
            sg_cf_assign(&p);
        }
    }
    if (p.st == SG_OK) {
        if (cf->input_slot == SIZE_MAX || !cf->n_states)
            p.st = sg_error_format(err, errcap, SG_ERR_FORMAT, "%s: no input or state declared (input x I, state h H)",
                                   cf->name);
        size_t declared = cf->n_slots; /* a plugin's call passes every declared name */
        if (p.st == SG_OK && plugin && !cf->call_name[0])
            p.st =
                sg_error_format(err, errcap, SG_ERR_FORMAT, "%s: no call line (call NAME(params..., x, h))", cf->name);
        else if (p.st == SG_OK && plugin && cf->n_call != declared)
            p.st = sg_error_format(err, errcap, SG_ERR_FORMAT,
                                   "%s: the call passes %zu arguments, and %zu names are declared: pass each once",
                                   cf->name, cf->n_call, declared);
        for (size_t s = 0; p.st == SG_OK && s < cf->n_states; s++) {
            if (!plugin && cf->new_state_slot[s] == SIZE_MAX)
                p.st = sg_error_format(err, errcap, SG_ERR_FORMAT, "%s: the state '%s' is never assigned (%s' = ...)",
                                       cf->name, cf->slots[cf->state_slot[s]].name, cf->slots[cf->state_slot[s]].name);
            else if (cf->state_size[s] != 'H')
                p.st = sg_error_format(err, errcap, SG_ERR_FORMAT, "%s: the state '%s' must have size H", cf->name,
                                       cf->slots[cf->state_slot[s]].name);
        }
        if (p.st == SG_OK && cf->input_size[0] != 'I')
            p.st = sg_error_format(err, errcap, SG_ERR_FORMAT, "%s: the input must have size I", cf->name);
    }
    if (p.st != SG_OK) {
        sg_cellfile_free(cf);
        return p.st;
    }
    if (!plugin)
        sg_cf_hoist(cf);
    *out = cf;
    return SG_OK;
}

sg_status sg_cellfile_parse(const char *text, size_t len, const char *name, sg_cellfile **out, char *err, size_t errcap)
{
    return sg_cf_parse(text, len, name, false, out, err, errcap);
}

sg_status sg_cellfile_plugin(const char *spec, sg_cellfile **out, char *err, size_t errcap)
{
    *out = NULL;
    const char *colon = spec ? strrchr(spec, ':') : NULL;
    if (!colon || colon == spec || !colon[1])
        return sg_error_format(err, errcap, SG_ERR_ARG, "plugin '%s': give it as LIBRARY.so:FUNCTION",
                               spec ? spec : "");
    char path[4096], sym[SG_CF_MAX_NAME], decl_sym[SG_CF_MAX_NAME + 8];
    if ((size_t)(colon - spec) >= sizeof path || strlen(colon + 1) >= sizeof sym)
        return sg_error_format(err, errcap, SG_ERR_ARG, "plugin '%s': the path or the name is too long", spec);
    snprintf(path, sizeof path, "%.*s", (int)(colon - spec), spec);
    snprintf(sym, sizeof sym, "%s", colon + 1);
    snprintf(decl_sym, sizeof decl_sym, "%s_decl", sym);
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl)
        return sg_error_format(err, errcap, SG_ERR_IO, "plugin '%s': cannot load it: %s", path, dlerror());
    void *fn = dlsym(dl, sym);
    const char *decl = dlsym(dl, decl_sym);
    if (!fn || !decl) {
        sg_status st = sg_error_format(err, errcap, SG_ERR_FORMAT,
                                       "plugin '%s' has no symbol '%s': a plugin cell exports its function and its "
                                       "declaration, a string named <function>_decl",
                                       path, fn ? decl_sym : sym);
        dlclose(dl);
        return st;
    }
    sg_cellfile *cf;
    char name[4200];
    snprintf(name, sizeof name, "%s:%s", path, decl_sym);
    sg_status st = sg_cf_parse(decl, strnlen(decl, 65536), name, true, &cf, err, errcap);
    if (st != SG_OK) {
        dlclose(dl);
        return st;
    }
    cf->dl = dl;
    char *shown = sg_str_dup(spec); /* from now on the cell is named as given */
    if (!shown) {
        sg_cellfile_free(cf);
        return sg_error_format(err, errcap, SG_ERR_NOMEM, "out of memory");
    }
    sg_free(cf->name);
    cf->name = shown;
    /* the library by its absolute path, so that a checkpoint can find it again from anywhere */
    char real[PATH_MAX];
    if (!realpath(path, real)) {
        st = sg_error_format(err, errcap, SG_ERR_IO, "plugin '%s': cannot resolve its path: %s", path, strerror(errno));
        sg_cellfile_free(cf);
        return st;
    }
    size_t spec_len = strlen(real) + strlen(sym) + 2; /* both under PATH_MAX and SG_CF_MAX_NAME */
    if (!(cf->spec = sg_malloc(spec_len))) {
        sg_cellfile_free(cf);
        return sg_error_format(err, errcap, SG_ERR_NOMEM, "out of memory");
    }
    snprintf(cf->spec, spec_len, "%s:%s", real, sym);
    if (strcmp(cf->call_name, sym) != 0) {
        st = sg_error_format(err, errcap, SG_ERR_FORMAT, "%s: its call line names '%s', not the function '%s'", name,
                             cf->call_name, sym);
        sg_cellfile_free(cf);
        return st;
    }
    /* the natural signature: sg_tensor *f(sg_graph *, every argument of the
     * call line as sg_tensor *, then sg_tensor ** for each state after h) */
    size_t n = 0;
    cf->call_types[n++] = SG_REG_GRAPH;
    for (size_t i = 0; i < cf->n_call; i++)
        cf->call_types[n++] = SG_REG_TENSOR;
    for (size_t s = 1; s < cf->n_states; s++)
        cf->call_types[n++] = SG_REG_TENSORS_OUT;
    cf->call_fn = (sg_reg_fn){.name = cf->call_name,
                              .group = "plugin",
                              .fn = (void (*)(void))(uintptr_t)fn,
                              .ret = SG_REG_TENSOR,
                              .n_args = n,
                              .args = cf->call_types,
                              .arg_names = ""};
    if ((st = sg_reg_call_prepare(&cf->call, &cf->call_fn, err, errcap)) != SG_OK) {
        sg_cellfile_free(cf);
        return st;
    }
    *out = cf;
    return SG_OK;
}

sg_status sg_cellfile_load(const char *path, sg_cellfile **out, char *err, size_t errcap)
{
    *out = NULL;
    unsigned char *buf;
    size_t len;
    sg_status st = sg_file_read_all(path, "cell file", &buf, &len, err, errcap);
    if (st != SG_OK)
        return st;
    st = sg_cellfile_parse((const char *)buf, len, path, out, err, errcap);
    sg_free(buf);
    return st;
}

/* ---- running ------------------------------------------------------------------------------ */

/* A plugin's step: one call of its function with the natural signature. */
static bool sg_cf_plugin_step(sg_graph *g, const sg_cell *cell, sg_tensor *x_t, const sg_cell_state *prev,
                              sg_cell_state *next)
{
    const sg_cellfile *cf = cell->user;
    sg_reg_value args[SG_REG_MAX_ARGS], ret;
    sg_tensor *c_new = NULL;
    size_t n = 0;
    args[n++].p = g;
    for (size_t i = 0; i < cf->n_call; i++) {
        const sg_cf_slot *s = &cf->slots[cf->call_slots[i]];
        args[n++].p = s->kind == SG_CF_INPUT   ? x_t
                      : s->kind == SG_CF_STATE ? (s->index ? prev->c : prev->h)
                                               : sg_param_use(g, cell->params[s->index]);
    }
    if (cf->n_states > 1)
        args[n++].p = &c_new;
    sg_reg_call_invoke(&cf->call, args, &ret);
    next->h = ret.p;
    next->c = c_new;
    if (next->h && (cf->n_states < 2 || next->c))
        return true;
    if (sg_graph_status(g) == SG_OK)
        sg_graph_fail(g, SG_ERR_ARG, "plugin %s returned no %s", cf->call_name,
                      next->h ? "new c (through its last argument)" : "new h");
    return false;
}

static bool sg_cf_step(sg_graph *g, const sg_cell *cell, sg_tensor *x_t, const sg_cell_state *prev, sg_cell_state *next)
{
    const sg_cellfile *cf = cell->user;
    if (cf->spec) /* a plugin */
        return sg_cf_plugin_step(g, cell, x_t, prev, next);
    sg_tensor **val = sg_graph_alloc(g, cf->n_slots * sizeof *val);

    if (!val)
        return false;
    for (size_t i = 0; i < cf->n_slots; i++) {
        const sg_cf_slot *s = &cf->slots[i];
        val[i] = s->kind == SG_CF_INPUT   ? x_t
                 : s->kind == SG_CF_STATE ? (s->index ? prev->c : prev->h)
                 : s->kind == SG_CF_PARAM ? sg_param_use(g, cell->params[s->index])
                                          : NULL;
    }
    sg_tensor *h_rec = prev->h_rec ? prev->h_rec : prev->h;
    for (size_t k = 0; k < cf->n_code; k++) {
        const sg_cf_instr *in = &cf->code[k];
        if (cf->proj_instr != SIZE_MAX && (k == cf->proj_instr || k + 1 == cf->proj_instr)) {
            if (k == cf->proj_instr)
                val[in->out_slots[0]] = x_t; /* the runner projected it */
            continue;
        }
        const sg_reg_fn *e = in->call.fn;
        sg_reg_value args[SG_REG_MAX_ARGS], ret;
        sg_tensor **list = NULL, **outs = NULL;
        args[0].p = g;
        size_t s = 0;
        for (size_t r = 1; r < e->n_args; r++) {
            if (r == in->tensors_at) {
                list = sg_graph_alloc(g, in->n_tensors * sizeof *list);
                if (!list)
                    return false;
                for (size_t t = 0; t < in->n_tensors; t++)
                    list[t] = val[in->args[s++].slot];
                args[r].p = list;
                args[++r].z = in->n_tensors;
                continue;
            }
            if (r == in->outs_at) {
                outs = sg_graph_alloc(g, in->n_outs * sizeof *outs);
                if (!outs)
                    return false;
                args[r].p = outs;
                continue;
            }
            const sg_cf_arg *a = &in->args[s++];
            if (a->is_slot)
                args[r].p = s == 1 && in->h_rec ? h_rec : val[a->slot];
            else
                args[r] = a->v;
        }
        sg_reg_call_invoke(&in->call, args, &ret);
        bool ok = outs ? ret.i == SG_OK : ret.p != NULL;
        if (ok && outs)
            for (size_t o = 0; o < in->n_outs; o++)
                val[in->out_slots[o]] = outs[o];
        else if (ok)
            val[in->out_slots[0]] = ret.p;
        if (!ok) { /* name the line: the op's message is kept after it */
            char msg[1024];
            sg_status st = sg_graph_status(g);
            snprintf(msg, sizeof msg, "%s", sg_graph_error(g));
            sg_graph_clear_error(g);
            sg_graph_fail(g, st ? st : SG_ERR_ARG, "%s:%zu: %s", cf->name, in->line, msg);
            return false;
        }
    }
    next->h = val[cf->new_state_slot[0]];
    next->c = cf->n_states > 1 ? val[cf->new_state_slot[1]] : NULL;
    return true;
}

/* A cell file's zeros and ones, after the uniform draw. */
static sg_status sg_cf_reset(sg_cell *cell)
{
    const sg_cellfile *cf = cell->user;
    for (size_t i = 0; i < cf->n_params; i++) {
        if (cf->params[i].init == SG_CF_UNIFORM)
            continue;
        sg_param *pp = cell->params[i];
        for (size_t k = 0; k < pp->numel; k++)
            sg_param_set(pp, k, cf->params[i].init == SG_CF_ONES ? 1.0 : 0.0);
    }
    return SG_OK;
}

sg_status sg_cellfile_make(sg_cell *cell, sg_params *ps, const char *prefix, size_t input, size_t hidden, void *ctx)
{
    const sg_cellfile *cf = ctx;
    if (!cf || !cell)
        return SG_ERR_ARG;
    sg_status st =
        sg_cell_init_custom(cell, ps, prefix, input, hidden, cf->gates, cf->n_states > 1, sg_cf_step, (void *)cf);
    if (st)
        return st;
    cell->reset = sg_cf_reset;
    /* parameters in file order, so that cell->params[i] is the file's i-th;
     * with the projection the runner's, W_x and b_x are already there */
    sg_param **made = sg_calloc(cf->n_params ? cf->n_params : 1, sizeof *made);
    if (!made) {
        sg_cell_free(cell);
        return SG_ERR_NOMEM;
    }
    for (size_t i = 0; i < cf->n_params && !st; i++) {
        const sg_cf_param *pr = &cf->params[i];
        size_t d0 = sg_cf_dim_eval(&pr->dims[0], input, hidden);
        size_t d1 = pr->ndim > 1 ? sg_cf_dim_eval(&pr->dims[1], input, hidden) : 1;
        if (!d0 || !d1) {
            st = SG_ERR_ARG;
            break;
        }
        if (cf->gates && strcmp(pr->name, "W_x") == 0)
            made[i] = cell->W_x;
        else if (cf->gates && strcmp(pr->name, "b_x") == 0)
            made[i] = cell->b_x;
        else
            made[i] = sg_cell_add_param(cell, pr->name, pr->ndim > 1 ? SG_SHAPE(d0, d1) : SG_SHAPE(d0));
        if (!made[i])
            st = SG_ERR_ARG;
    }
    /* a cell may have no parameters (h' = tanh(x)): then cell->params is
     * NULL and there is nothing to copy */
    if (!st && cell->n_params == cf->n_params) {
        if (cf->n_params)
            memcpy(cell->params, made, cf->n_params * sizeof *made);
    } else if (!st)
        st = SG_ERR_ARG;
    sg_free(made);
    if (st)
        sg_cell_free(cell);
    return st;
}
