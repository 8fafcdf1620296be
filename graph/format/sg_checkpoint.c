/* sg_checkpoint.c — safetensors checkpoints (see sg_checkpoint.h and
 * docs/checkpoints.md).
 *
 * Writing: the tensors to save are collected and sorted by name, given
 * contiguous offsets, described in a cJSON header (integers printed by us as
 * raw JSON so they are exact), and streamed through a sink (a FILE or a memory
 * buffer), every element encoded little-endian byte by byte.
 * Reading: the header is parsed with cJSON from a NUL-terminated copy, every
 * tensor entry and the metadata are validated, the tensors are matched to the
 * parameter set, and only then is anything written (all-or-nothing).
 *
 * Dimension legend: P = a parameter's shape; numel = its element count;
 * T = number of tensors in a file; M = number of metadata entries.
 */
#include "graph/format/sg_checkpoint.h"

#include "graph/core/sg_alloc.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- common helpers ------------------------------------------------------- */

static pthread_once_t sg_ck_hooks_once = PTHREAD_ONCE_INIT;
/* Set when an allocation made by cJSON in this thread failed (cJSON reports
 * out of memory and malformed input alike, by returning NULL). */
static _Thread_local bool sg_ck_json_oom;

static void *sg_ck_json_malloc(size_t bytes)
{
    void *p = sg_malloc(bytes);
    if (!p)
        sg_ck_json_oom = true;
    return p;
}

static void sg_ck_hooks_install(void)
{
    cJSON_Hooks h = {.malloc_fn = sg_ck_json_malloc, .free_fn = sg_free};
    cJSON_InitHooks(&h);
}

/* Points cJSON at sg_malloc/sg_free (once per process). */
static void sg_ck_hooks(void) { pthread_once(&sg_ck_hooks_once, sg_ck_hooks_install); }

/* Whether the n bytes at s are well-formed UTF-8 (no overlongs, no surrogates,
 * nothing above U+10FFFF). */
static bool sg_utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        unsigned lo = 0x80, hi = 0xBF;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            k = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            k = 2;
            if (c == 0xE0)
                lo = 0xA0;
            if (c == 0xED)
                hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3;
            if (c == 0xF0)
                lo = 0x90;
            if (c == 0xF4)
                hi = 0x8F;
        } else {
            return false;
        }
        if (n - i <= k)
            return false;
        for (size_t j = 1; j <= k; j++) {
            unsigned d = s[i + j];
            if (d < (j == 1 ? lo : 0x80) || d > (j == 1 ? hi : 0xBF))
                return false;
        }
        i += k + 1;
    }
    return true;
}

static bool sg_str_utf8(const char *s) { return sg_utf8_valid((const unsigned char *)s, strlen(s)); }

static char *sg_ck_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = sg_malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

static bool sg_starts_with(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

static const char sg_ck_reserved_prefix[] = "seqgrad.";

/* ---- the checkpoint struct ------------------------------------------------ */

void sg_checkpoint_init(sg_checkpoint *ck)
{
    if (!ck)
        return;
    memset(ck, 0, sizeof *ck);
}

void sg_checkpoint_free(sg_checkpoint *ck)
{
    if (!ck)
        return;
    for (size_t i = 0; i < ck->n_strings; i++) {
        sg_free(ck->strings[i].key);
        sg_free(ck->strings[i].value);
    }
    sg_free(ck->strings);
    sg_checkpoint_init(ck);
}

/* Index of key in the sorted strings, or where it would go (*found false). */
static size_t sg_ck_string_pos(const sg_checkpoint *ck, const char *key, bool *found)
{
    size_t lo = 0, hi = ck->n_strings;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(ck->strings[mid].key, key);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

sg_status sg_checkpoint_set_string(sg_checkpoint *ck, const char *key, const char *value)
{
    if (!ck || !key || !value || sg_starts_with(key, sg_ck_reserved_prefix) || strcmp(key, "__metadata__") == 0 ||
        !sg_str_utf8(key) || !sg_str_utf8(value))
        return SG_ERR_ARG;
    bool found;
    size_t pos = sg_ck_string_pos(ck, key, &found);
    char *v = sg_ck_strdup(value);
    if (!v)
        return SG_ERR_NOMEM;
    if (found) {
        sg_free(ck->strings[pos].value);
        ck->strings[pos].value = v;
        return SG_OK;
    }
    char *k = sg_ck_strdup(key);
    if (!k) {
        sg_free(v);
        return SG_ERR_NOMEM;
    }
    if (ck->n_strings == ck->cap_strings) {
        size_t cap = ck->cap_strings ? ck->cap_strings * 2 : 8;
        sg_checkpoint_string *s = sg_realloc(ck->strings, cap * sizeof *s);
        if (!s) {
            sg_free(k);
            sg_free(v);
            return SG_ERR_NOMEM;
        }
        ck->strings = s;
        ck->cap_strings = cap;
    }
    memmove(ck->strings + pos + 1, ck->strings + pos, (ck->n_strings - pos) * sizeof *ck->strings);
    ck->strings[pos] = (sg_checkpoint_string){.key = k, .value = v};
    ck->n_strings++;
    return SG_OK;
}

const char *sg_checkpoint_get_string(const sg_checkpoint *ck, const char *key)
{
    if (!ck || !key)
        return NULL;
    bool found;
    size_t pos = sg_ck_string_pos(ck, key, &found);
    return found ? ck->strings[pos].value : NULL;
}

/* ---- numbers as metadata strings (locale-independent) --------------------- */

static bool sg_ck_parse_double(const char *s, double *out);

/* The shortest of "%.15g", "%.16g", "%.17g" that reads back as v, with '.' as
 * the radix whatever the locale: exact for every finite double ("0.9", not
 * "0.90000000000000002"). */
static void sg_ck_fmt_double(char *buf, size_t cap, double v)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, v);
        for (char *c = buf; *c; c++)
            if (!((*c >= '0' && *c <= '9') || *c == '-' || *c == '+' || *c == 'e' || *c == 'E'))
                *c = '.';
        double back;
        if (sg_ck_parse_double(buf, &back) && back == v)
            return;
    }
}

/* Parses a whole string as a finite double written by sg_ck_fmt_double (or any
 * C-locale decimal/exponent form).  false when malformed or not finite. */
static bool sg_ck_parse_double(const char *s, double *out)
{
    char buf[64];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof buf)
        return false;
    const char *radix = localeconv()->decimal_point;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            c = radix && radix[0] && !radix[1] ? radix[0] : '.';
        } else if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == 'e' || c == 'E')) {
            return false; /* no spaces, hex, inf or nan */
        }
        buf[i] = c;
    }
    buf[n] = '\0';
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (*end != '\0' || end == buf || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* Parses a whole string of decimal digits into a uint64_t. */
static bool sg_ck_parse_u64(const char *s, uint64_t *out)
{
    if (!*s)
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

/* ---- safetensors dtypes and little-endian encoding ------------------------ */

typedef struct sg_st_dtype {
    const char *name;
    size_t size; /* bytes per element */
} sg_st_dtype;

static const sg_st_dtype sg_st_dtypes[] = {
    {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2},
    {"BF16", 2}, {"I32", 4}, {"U32", 4}, {"F32", 4},     {"I64", 8},     {"U64", 8}, {"F64", 8},
};
enum { SG_ST_NDTYPES = sizeof sg_st_dtypes / sizeof sg_st_dtypes[0] };

/* Index of the dtype called name, or -1. */
static int sg_st_dtype_find(const char *name)
{
    for (int i = 0; i < SG_ST_NDTYPES; i++)
        if (strcmp(sg_st_dtypes[i].name, name) == 0)
            return i;
    return -1;
}

static void sg_le_put32(unsigned char *b, uint32_t u)
{
    for (int k = 0; k < 4; k++)
        b[k] = (unsigned char)(u >> (8 * k));
}

static void sg_le_put64(unsigned char *b, uint64_t u)
{
    for (int k = 0; k < 8; k++)
        b[k] = (unsigned char)(u >> (8 * k));
}

static uint32_t sg_le_get32(const unsigned char *b)
{
    uint32_t u = 0;
    for (int k = 0; k < 4; k++)
        u |= (uint32_t)b[k] << (8 * k);
    return u;
}

static uint64_t sg_le_get64(const unsigned char *b)
{
    uint64_t u = 0;
    for (int k = 0; k < 8; k++)
        u |= (uint64_t)b[k] << (8 * k);
    return u;
}

static float sg_le_getf32(const unsigned char *b)
{
    uint32_t u = sg_le_get32(b);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static double sg_le_getf64(const unsigned char *b)
{
    uint64_t u = sg_le_get64(b);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

/* "(2, 3)" for up to SG_MAX_DIMS dims, "(rank n)" above (for messages). */
static char *sg_ck_shape_str(int ndim, const size_t *d, char *buf, size_t cap)
{
    if (ndim > SG_MAX_DIMS) {
        snprintf(buf, cap, "(rank %d)", ndim);
        return buf;
    }
    sg_shape s = {.ndim = ndim};
    for (int i = 0; i < ndim; i++)
        s.d[i] = d[i];
    return sg_shape_str(s, buf, cap);
}

/* ---- writing -------------------------------------------------------------- */

enum { SG_CK_ROLE_PARAM = 0, SG_CK_ROLE_M, SG_CK_ROLE_V, SG_CK_ROLE_RNG };

/* One tensor to write. */
typedef struct sg_ck_wtensor {
    const char *name; /* points at owned_name or the parameter's name */
    char *owned_name; /* owned, or NULL */
    const void *data; /* (numel) elements: the set's dtype, or uint64_t for the RNG */
    int role;
    sg_shape shape;
    size_t numel;
    size_t elsize;     /* bytes per element in the file */
    size_t begin, end; /* offsets in the data section */
} sg_ck_wtensor;

/* Everything a save needs: tensors with offsets and the printed header. */
typedef struct sg_ck_plan {
    sg_ck_wtensor *t; /* (n) owned, sorted by name */
    size_t n;
    sg_dtype dtype;    /* the set's dtype */
    char *header;      /* owned (cJSON allocation), NUL-terminated JSON */
    size_t header_len; /* strlen(header) */
    size_t padded_len; /* header_len rounded up to a multiple of 8 */
    size_t data_len;   /* bytes of the data section */
} sg_ck_plan;

static void sg_ck_plan_free(sg_ck_plan *pl)
{
    for (size_t i = 0; i < pl->n; i++)
        sg_free(pl->t[i].owned_name);
    sg_free(pl->t);
    if (pl->header)
        cJSON_free(pl->header);
    memset(pl, 0, sizeof *pl);
}

static int sg_ck_wtensor_cmp(const void *a, const void *b)
{
    return strcmp(((const sg_ck_wtensor *)a)->name, ((const sg_ck_wtensor *)b)->name);
}

static int sg_ck_string_cmp(const void *a, const void *b)
{
    return strcmp(((const sg_checkpoint_string *)a)->key, ((const sg_checkpoint_string *)b)->key);
}

/* A moment name "optim/<param>/<suffix>", owned; NULL when out of memory. */
static char *sg_ck_moment_name(const char *param, const char *suffix)
{
    size_t n = strlen("optim/") + strlen(param) + 1 + strlen(suffix) + 1;
    char *s = sg_malloc(n);
    if (s)
        snprintf(s, n, "optim/%s/%s", param, suffix);
    return s;
}

/* The library's metadata as (key, value) pairs into kv (capacity 32), values
 * written into vals (32 x 40 chars).  Returns the count. */
static size_t sg_ck_library_meta(const sg_ck_plan *pl, const sg_checkpoint *ck, sg_checkpoint_string *kv,
                                 char (*vals)[40])
{
    size_t n = 0;
#define SG_KV_STR(k, v) (kv[n].key = (char *)(k), kv[n].value = (char *)(v), n++)
#define SG_KV_U64(k, v) (snprintf(vals[n], 40, "%llu", (unsigned long long)(v)), SG_KV_STR(k, vals[n]))
#define SG_KV_DBL(k, v) (sg_ck_fmt_double(vals[n], 40, (v)), SG_KV_STR(k, vals[n]))
    SG_KV_STR("seqgrad.version", "1");
    SG_KV_STR("seqgrad.dtype", pl->dtype == SG_F64 ? "f64" : "f32");
    if (ck) {
        SG_KV_U64("seqgrad.epoch", ck->epoch);
        SG_KV_U64("seqgrad.step", ck->step);
    }
    if (ck && ck->has_optim) {
        const sg_optim *o = &ck->optim;
        SG_KV_STR("seqgrad.optim.kind", o->kind == SG_OPTIM_ADAM ? "adam" : "sgd");
        SG_KV_U64("seqgrad.optim.t", o->t);
        SG_KV_DBL("seqgrad.optim.lr", o->lr);
        SG_KV_DBL("seqgrad.optim.base_lr", o->base_lr);
        SG_KV_DBL("seqgrad.optim.decay", o->decay);
        SG_KV_U64("seqgrad.optim.decay_start", (uint64_t)o->decay_start);
        if (o->kind == SG_OPTIM_ADAM) {
            SG_KV_DBL("seqgrad.optim.config.lr", o->adam.lr);
            SG_KV_DBL("seqgrad.optim.config.beta1", o->adam.beta1);
            SG_KV_DBL("seqgrad.optim.config.beta2", o->adam.beta2);
            SG_KV_DBL("seqgrad.optim.config.eps", o->adam.eps);
            SG_KV_DBL("seqgrad.optim.config.weight_decay", o->adam.weight_decay);
        } else {
            SG_KV_DBL("seqgrad.optim.config.lr", o->sgd.lr);
            SG_KV_DBL("seqgrad.optim.config.momentum", o->sgd.momentum);
            SG_KV_DBL("seqgrad.optim.config.weight_decay", o->sgd.weight_decay);
        }
    }
#undef SG_KV_STR
#undef SG_KV_U64
#undef SG_KV_DBL
    return n;
}

/* Adds a raw JSON array of integers "[a,b,...]" under key to obj. */
static bool sg_ck_add_int_array(cJSON *obj, const char *key, const size_t *v, int n)
{
    char buf[2 + SG_MAX_DIMS * 22];
    size_t off = 0;
    buf[off++] = '[';
    for (int i = 0; i < n; i++)
        off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%zu", i ? "," : "", v[i]);
    buf[off++] = ']';
    buf[off] = '\0';
    cJSON *raw = cJSON_CreateRaw(buf);
    if (!raw)
        return false;
    if (!cJSON_AddItemToObject(obj, key, raw)) {
        cJSON_Delete(raw);
        return false;
    }
    return true;
}

/* Builds the header JSON of pl (tensors already placed) plus metadata. */
static sg_status sg_ck_plan_header(sg_ck_plan *pl, const sg_checkpoint *ck, char *err, size_t errcap)
{
    sg_checkpoint_string lib[32];
    char vals[32][40];
    size_t n_lib = sg_ck_library_meta(pl, ck, lib, vals);
    size_t n_user = ck ? ck->n_strings : 0;
    sg_checkpoint_string *meta = sg_malloc((n_lib + n_user) * sizeof *meta);
    cJSON *root = cJSON_CreateObject();
    cJSON *md = cJSON_CreateObject();
    bool ok = meta && root && md;
    if (ok) {
        memcpy(meta, lib, n_lib * sizeof *meta);
        if (n_user)
            memcpy(meta + n_lib, ck->strings, n_user * sizeof *meta);
        qsort(meta, n_lib + n_user, sizeof *meta, sg_ck_string_cmp);
        for (size_t i = 0; ok && i < n_lib + n_user; i++)
            ok = cJSON_AddStringToObject(md, meta[i].key, meta[i].value) != NULL;
    }
    if (ok) {
        ok = cJSON_AddItemToObject(root, "__metadata__", md);
        if (ok)
            md = NULL; /* root owns it now */
    }
    for (size_t i = 0; ok && i < pl->n; i++) {
        const sg_ck_wtensor *t = &pl->t[i];
        cJSON *e = cJSON_CreateObject();
        const char *dt = t->role == SG_CK_ROLE_RNG ? "U64" : pl->dtype == SG_F64 ? "F64" : "F32";
        size_t offs[2] = {t->begin, t->end};
        ok = e && cJSON_AddStringToObject(e, "dtype", dt) &&
             sg_ck_add_int_array(e, "shape", t->shape.d, t->shape.ndim) &&
             sg_ck_add_int_array(e, "data_offsets", offs, 2) && cJSON_AddItemToObject(root, t->name, e);
        if (!ok)
            cJSON_Delete(e); /* not attached to root (cJSON_Delete(NULL) is a no-op) */
    }
    if (ok) {
        pl->header = cJSON_PrintUnformatted(root);
        ok = pl->header != NULL;
    }
    cJSON_Delete(md);
    cJSON_Delete(root);
    sg_free(meta);
    if (!ok)
        return sg_error_format(err, errcap, SG_ERR_NOMEM, "checkpoint: out of memory while building the header");
    pl->header_len = strlen(pl->header);
    pl->padded_len = pl->header_len + (8 - pl->header_len % 8) % 8;
    return SG_OK;
}

/* Whether o passes the checks a load applies (so a saved file loads). */
static bool sg_ck_optim_valid(const sg_optim *o)
{
    sg_optim tmp;
    sg_status st = o->kind == SG_OPTIM_ADAM  ? sg_optim_init_adam(&tmp, &o->adam)
                   : o->kind == SG_OPTIM_SGD ? sg_optim_init_sgd(&tmp, &o->sgd)
                                             : SG_ERR_ARG;
    return st == SG_OK && o->decay_start >= 0 && sg_optim_set_schedule(&tmp, o->decay, o->decay_start) == SG_OK &&
           sg_optim_set_lr(&tmp, o->lr) == SG_OK && isfinite(o->base_lr) && o->base_lr >= 0;
}

/* Collects, sorts and places every tensor of ps (and ck's RNG), then prints
 * the header.  On failure pl is freed. */
static sg_status sg_ck_plan_make(sg_ck_plan *pl, const sg_params *ps, const sg_checkpoint *ck, char *err, size_t errcap)
{
    memset(pl, 0, sizeof *pl);
    if (!ps)
        return sg_error_format(err, errcap, SG_ERR_ARG, "checkpoint: the parameter set is NULL");
    if (ps->dtype != SG_F32 && ps->dtype != SG_F64)
        return sg_error_format(err, errcap, SG_ERR_ARG, "checkpoint: the parameter set has dtype %s (need f32 or f64)",
                          sg_dtype_name(ps->dtype));
    if (ck && ck->has_optim && !sg_ck_optim_valid(&ck->optim))
        return sg_error_format(err, errcap, SG_ERR_ARG,
                          "checkpoint: the optimizer state cannot be saved: unknown kind, or a configuration, rate or "
                          "schedule that sg_optim_init_*, sg_optim_set_lr or sg_optim_set_schedule would refuse (it "
                          "could not be loaded)");
    pl->dtype = ps->dtype;
    size_t cap = 3 * ps->n + 1;
    pl->t = sg_calloc(cap, sizeof *pl->t);
    if (!pl->t)
        return sg_error_format(err, errcap, SG_ERR_NOMEM, "checkpoint: out of memory");
    sg_status st = SG_OK;
    size_t es = sg_dtype_size(ps->dtype);
    for (size_t i = 0; i < ps->n && st == SG_OK; i++) {
        const sg_param *p = ps->items[i];
        if (p->dtype != ps->dtype) {
            st = sg_error_format(err, errcap, SG_ERR_ARG, "checkpoint: parameter '%s' has dtype %s, its set %s", p->name,
                            sg_dtype_name(p->dtype), sg_dtype_name(ps->dtype));
            break;
        }
        if (!sg_str_utf8(p->name) || strcmp(p->name, "__metadata__") == 0 || strcmp(p->name, "rng/state") == 0 ||
            sg_starts_with(p->name, "optim/")) {
            st = sg_error_format(err, errcap, SG_ERR_ARG,
                            "checkpoint: parameter name '%s' is reserved or not UTF-8 (\"__metadata__\", "
                            "\"rng/state\" and names starting with \"optim/\" are taken)",
                            p->name);
            break;
        }
        bool optim = ck && ck->has_optim; /* moments are optimizer state */
        const void *bufs[3] = {p->value, optim ? p->m : NULL, optim ? p->v : NULL};
        for (int r = 0; r < 3; r++) {
            if (!bufs[r])
                continue;
            sg_ck_wtensor *t = &pl->t[pl->n];
            if (r == 0) {
                t->name = p->name;
            } else if (!(t->owned_name = sg_ck_moment_name(p->name, r == 1 ? "m" : "v"))) {
                st = sg_error_format(err, errcap, SG_ERR_NOMEM, "checkpoint: out of memory");
                break;
            } else {
                t->name = t->owned_name;
            }
            t->data = bufs[r];
            t->role = r;
            t->shape = p->shape;
            t->numel = p->numel;
            t->elsize = es;
            pl->n++;
        }
    }
    if (st == SG_OK && ck && ck->has_rng) {
        sg_ck_wtensor *t = &pl->t[pl->n++];
        t->name = "rng/state";
        t->data = ck->rng.s;
        t->role = SG_CK_ROLE_RNG;
        t->shape = SG_SHAPE(4);
        t->numel = 4;
        t->elsize = 8;
    }
    if (st == SG_OK) {
        qsort(pl->t, pl->n, sizeof *pl->t, sg_ck_wtensor_cmp);
        size_t off = 0;
        for (size_t i = 0; i < pl->n; i++) {
            size_t bytes = pl->t[i].numel * pl->t[i].elsize; /* numel <= SIZE_MAX / 16 (sg_params_add) */
            if (off > SIZE_MAX - bytes) {
                st = sg_error_format(err, errcap, SG_ERR_ARG, "checkpoint: the data section would exceed SIZE_MAX bytes");
                break;
            }
            pl->t[i].begin = off;
            pl->t[i].end = off += bytes;
        }
        pl->data_len = off;
    }
    if (st == SG_OK)
        st = sg_ck_plan_header(pl, ck, err, errcap);
    if (st == SG_OK && pl->data_len > SIZE_MAX - 8 - pl->padded_len)
        st = sg_error_format(err, errcap, SG_ERR_ARG, "checkpoint: the file would exceed SIZE_MAX bytes");
    if (st != SG_OK)
        sg_ck_plan_free(pl);
    return st;
}

/* Where the bytes go: a FILE, or a preallocated buffer. */
typedef struct sg_ck_sink {
    FILE *f;
    unsigned char *mem; /* (cap) */
    size_t len, cap;
} sg_ck_sink;

static bool sg_ck_sink_write(sg_ck_sink *s, const void *bytes, size_t n)
{
    if (s->f)
        return fwrite(bytes, 1, n, s->f) == n;
    if (n > s->cap - s->len)
        return false;
    memcpy(s->mem + s->len, bytes, n);
    s->len += n;
    return true;
}

/* Streams the whole file of pl into s (little-endian, in chunks). */
static bool sg_ck_plan_write(const sg_ck_plan *pl, sg_ck_sink *s)
{
    unsigned char chunk[4096];
    sg_le_put64(chunk, (uint64_t)pl->padded_len);
    if (!sg_ck_sink_write(s, chunk, 8) || !sg_ck_sink_write(s, pl->header, pl->header_len))
        return false;
    memset(chunk, ' ', 8);
    if (!sg_ck_sink_write(s, chunk, pl->padded_len - pl->header_len))
        return false;
    for (size_t i = 0; i < pl->n; i++) {
        const sg_ck_wtensor *t = &pl->t[i];
        size_t fill = 0;
        for (size_t j = 0; j < t->numel; j++) {
            if (t->role == SG_CK_ROLE_RNG) {
                sg_le_put64(chunk + fill, ((const uint64_t *)t->data)[j]);
            } else if (pl->dtype == SG_F64) {
                uint64_t u;
                memcpy(&u, (const double *)t->data + j, 8);
                sg_le_put64(chunk + fill, u);
            } else {
                uint32_t u;
                memcpy(&u, (const float *)t->data + j, 4);
                sg_le_put32(chunk + fill, u);
            }
            fill += t->elsize;
            if (fill + 8 > sizeof chunk || j + 1 == t->numel) {
                if (!sg_ck_sink_write(s, chunk, fill))
                    return false;
                fill = 0;
            }
        }
    }
    return true;
}

sg_status sg_checkpoint_save_mem(const sg_params *ps, const sg_checkpoint *ck, unsigned char **out, size_t *out_len,
                                 char *err, size_t errcap)
{
    if (!out || !out_len)
        return sg_error_format(err, errcap, SG_ERR_ARG, "checkpoint: NULL output pointer");
    *out = NULL;
    *out_len = 0;
    sg_ck_hooks();
    sg_ck_plan pl;
    sg_status st = sg_ck_plan_make(&pl, ps, ck, err, errcap);
    if (st != SG_OK)
        return st;
    size_t total = 8 + pl.padded_len + pl.data_len;
    sg_ck_sink s = {.mem = sg_malloc(total), .cap = total};
    if (!s.mem) {
        sg_ck_plan_free(&pl);
        return sg_error_format(err, errcap, SG_ERR_NOMEM, "checkpoint: out of memory for %zu bytes", total);
    }
    bool ok = sg_ck_plan_write(&pl, &s);
    sg_ck_plan_free(&pl);
    if (!ok || s.len != total) { /* cannot happen: the plan sized the buffer */
        sg_free(s.mem);
        return sg_error_format(err, errcap, SG_ERR_STATE, "checkpoint: internal size mismatch");
    }
    *out = s.mem;
    *out_len = total;
    return SG_OK;
}

/* The directory part of path ("." when none), owned; NULL when out of memory. */
static char *sg_ck_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return sg_ck_strdup(".");
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *dir = sg_malloc(n + 1);
    if (dir) {
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    return dir;
}

/* fsyncs directory dir (after the rename of path into it).  File systems that
 * cannot sync directories (EINVAL) are not a failure. */
static sg_status sg_ck_sync_dir(const char *path, const char *dir, char *err, size_t errcap)
{
    sg_status st = SG_OK;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL && errno != EROFS)) {
        int e = errno;
        st = sg_error_format(err, errcap, SG_ERR_IO, "checkpoint '%s' was written, but syncing directory '%s' failed: %s",
                        path, dir, strerror(e));
    }
    if (fd >= 0)
        close(fd);
    return st;
}

sg_status sg_checkpoint_save(const char *path, const sg_params *ps, const sg_checkpoint *ck, char *err, size_t errcap)
{
    if (!path || !*path)
        return sg_error_format(err, errcap, SG_ERR_ARG, "checkpoint: no path given");
    sg_ck_hooks();
    sg_ck_plan pl;
    sg_status st = sg_ck_plan_make(&pl, ps, ck, err, errcap);
    if (st != SG_OK)
        return st;
    size_t tn = strlen(path) + 32;
    char *tmp = sg_malloc(tn);
    char *dir = sg_ck_dirname(path); /* made now: nothing is allocated after the rename */
    FILE *f = NULL;
    if (!tmp || !dir) {
        st = sg_error_format(err, errcap, SG_ERR_NOMEM, "checkpoint '%s': out of memory", path);
        goto done;
    }
    snprintf(tmp, tn, "%s.tmp.%ld", path, (long)getpid());

    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        int e = errno;
        st = sg_error_format(err, errcap, SG_ERR_IO, "checkpoint '%s': cannot create temporary file '%s': %s", path, tmp,
                        strerror(e));
        goto done;
    }
    const char *what = NULL;
    int e = 0;
    if (!(f = fdopen(fd, "wb"))) {
        e = errno;
        close(fd);
        what = "opening";
    } else {
        sg_ck_sink s = {.f = f};
        errno = 0;
        if (!sg_ck_plan_write(&pl, &s))
            what = "writing";
        else if (fflush(f) != 0)
            what = "flushing";
        else if (fsync(fd) != 0)
            what = "syncing";
        e = errno;
        if (fclose(f) != 0 && !what) {
            what = "closing";
            e = errno;
        }
    }
    if (!what && rename(tmp, path) != 0) {
        what = "renaming";
        e = errno;
    }
    if (what) {
        unlink(tmp);
        st = sg_error_format(err, errcap, SG_ERR_IO,
                        "checkpoint '%s': %s temporary file '%s' failed: %s (the file at '%s', if any, is unchanged)",
                        path, what, tmp, e ? strerror(e) : "unknown error", path);
    } else {
        st = sg_ck_sync_dir(path, dir, err, errcap);
    }
done:
    sg_free(tmp);
    sg_free(dir);
    sg_ck_plan_free(&pl);
    return st;
}

/* ---- reading -------------------------------------------------------------- */

/* One tensor entry of a file, validated. */
typedef struct sg_ck_rtensor {
    const char *name; /* points into the cJSON tree */
    int dt;           /* index into sg_st_dtypes */
    int ndim;         /* may exceed SG_MAX_DIMS (then d holds the first dims) */
    size_t d[SG_MAX_DIMS];
    size_t numel;
    size_t begin, end;
    int role;     /* SG_CK_ROLE_* */
    size_t param; /* index in the set (PARAM, M, V) */
} sg_ck_rtensor;

/* Reads a JSON number that must be an exact integer in [0, 2^53]. */
static bool sg_ck_json_size(const cJSON *j, size_t *out)
{
    if (!cJSON_IsNumber(j))
        return false;
    double v = j->valuedouble;
    if (!(v >= 0 && v <= 9007199254740992.0) || v != floor(v))
        return false;
    if (v > (double)SIZE_MAX)
        return false;
    *out = (size_t)v;
    return true;
}

static int sg_ck_name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Finds a duplicate among n names (sorted in place); NULL when none. */
static const char *sg_ck_find_duplicate(const char **names, size_t n)
{
    qsort(names, n, sizeof *names, sg_ck_name_cmp);
    for (size_t i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            return names[i];
    return NULL;
}

/* Validates the entry of tensor `name` and fills t (role not yet set). */
static sg_status sg_ck_read_entry(const cJSON *e, const char *name, size_t data_len, sg_ck_rtensor *t, char *err,
                                  size_t errcap)
{
    memset(t, 0, sizeof *t);
    t->name = name;
    if (!cJSON_IsObject(e))
        return sg_error_format(err, errcap, SG_ERR_FORMAT, "tensor '%s': its header entry is not a JSON object", name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt))
        return sg_error_format(err, errcap, SG_ERR_FORMAT, "tensor '%s': \"dtype\" is missing or not a string", name);
    t->dt = sg_st_dtype_find(dt->valuestring);
    if (t->dt < 0)
        return sg_error_format(err, errcap, SG_ERR_FORMAT,
                          "tensor '%s': dtype '%s' is not a safetensors dtype (F32, F64, I32, I64, U8, U64, ...)", name,
                          dt->valuestring);
    if (!cJSON_IsArray(sh))
        return sg_error_format(err, errcap, SG_ERR_FORMAT, "tensor '%s': \"shape\" is missing or not an array", name);
    size_t numel = 1;
    bool too_big = false;
    int ndim = 0;
    for (const cJSON *c = sh->child; c; c = c->next, ndim++) {
        size_t v;
        if (ndim == 64)
            return sg_error_format(err, errcap, SG_ERR_FORMAT, "tensor '%s': shape has more than 64 dimensions", name);
        if (!sg_ck_json_size(c, &v))
            return sg_error_format(err, errcap, SG_ERR_FORMAT, "tensor '%s': shape[%d] is not a non-negative integer", name,
                              ndim);
        if (ndim < SG_MAX_DIMS)
            t->d[ndim] = v;
        if (v && numel > SIZE_MAX / v)
            too_big = true;
        else
            numel *= v;
    }
    t->ndim = ndim;
    size_t es = sg_st_dtypes[t->dt].size;
    if (too_big || (numel && numel > SIZE_MAX / es))
        return sg_error_format(err, errcap, SG_ERR_FORMAT, "tensor '%s': shape is too large (more than SIZE_MAX bytes)",
                          name);
    t->numel = numel;
    if (!cJSON_IsArray(of) || !of->child || !of->child->next || of->child->next->next ||
        !sg_ck_json_size(of->child, &t->begin) || !sg_ck_json_size(of->child->next, &t->end))
        return sg_error_format(err, errcap, SG_ERR_FORMAT,
                          "tensor '%s': \"data_offsets\" is missing or not two non-negative integers [begin, end]",
                          name);
    if (t->begin > t->end)
        return sg_error_format(err, errcap, SG_ERR_FORMAT, "tensor '%s': data_offsets [%zu, %zu] run backwards", name,
                          t->begin, t->end);
    if (t->end > data_len)
        return sg_error_format(
            err, errcap, SG_ERR_FORMAT,
            "data is truncated: tensor '%s' has data_offsets [%zu, %zu], but the data section has only %zu "
            "bytes",
            name, t->begin, t->end, data_len);
    if (t->end - t->begin != numel * es) {
        char sb[96];
        return sg_error_format(err, errcap, SG_ERR_FORMAT,
                          "tensor '%s': data_offsets [%zu, %zu] hold %zu bytes, but shape %s of %s needs %zu", name,
                          t->begin, t->end, t->end - t->begin, sg_ck_shape_str(ndim, t->d, sb, sizeof sb),
                          sg_st_dtypes[t->dt].name, numel * es);
    }
    return SG_OK;
}

static int sg_ck_rt_offset_cmp(const void *a, const void *b)
{
    const sg_ck_rtensor *x = *(const sg_ck_rtensor *const *)a, *y = *(const sg_ck_rtensor *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int sg_ck_rt_name_cmp(const void *a, const void *b)
{
    return strcmp(((const sg_ck_rtensor *)a)->name, ((const sg_ck_rtensor *)b)->name);
}

/* The tensors must tile [0, data_len) exactly: no overlap, no hole. */
static sg_status sg_ck_check_tiling(sg_ck_rtensor *t, size_t n, size_t data_len, char *err, size_t errcap)
{
    const sg_ck_rtensor **order = sg_malloc((n ? n : 1) * sizeof *order);
    if (!order)
        return sg_error_format(err, errcap, SG_ERR_NOMEM, "checkpoint: out of memory");
    for (size_t i = 0; i < n; i++)
        order[i] = &t[i];
    qsort(order, n, sizeof *order, sg_ck_rt_offset_cmp);
    sg_status st = SG_OK;
    size_t pos = 0;
    const sg_ck_rtensor *prev = NULL;
    for (size_t i = 0; i < n && st == SG_OK; i++) {
        const sg_ck_rtensor *c = order[i];
        if (c->begin < pos)
            st = sg_error_format(err, errcap, SG_ERR_FORMAT,
                            "tensors '%s' and '%s' overlap: data_offsets [%zu, %zu] and [%zu, %zu]", prev->name,
                            c->name, prev->begin, prev->end, c->begin, c->end);
        else if (c->begin > pos)
            st = sg_error_format(err, errcap, SG_ERR_FORMAT,
                            "the data section has a hole: bytes [%zu, %zu) belong to no tensor (next is '%s')", pos,
                            c->begin, c->name);
        pos = c->end;
        prev = c;
    }
    if (st == SG_OK && pos != data_len)
        st = sg_error_format(err, errcap, SG_ERR_FORMAT,
                        "the data section has %zu bytes after the last tensor (it has %zu bytes, tensors end at %zu)",
                        data_len - pos, data_len, pos);
    sg_free(order);
    return st;
}

/* Index of the parameter whose name is the n bytes at s, or SIZE_MAX. */
static size_t sg_ck_param_index(const sg_params *ps, const char *s, size_t n)
{
    for (size_t i = 0; i < ps->n; i++)
        if (strlen(ps->items[i]->name) == n && memcmp(ps->items[i]->name, s, n) == 0)
            return i;
    return SIZE_MAX;
}

/* "rng/state" must be U64 (4). */
static sg_status sg_ck_check_rng(const sg_ck_rtensor *t, char *err, size_t errcap)
{
    char sb[96];
    if (strcmp(sg_st_dtypes[t->dt].name, "U64") != 0 || t->ndim != 1 || t->d[0] != 4)
        return sg_error_format(err, errcap, SG_ERR_FORMAT, "tensor 'rng/state': %s %s in the file, U64 (4) expected",
                          sg_st_dtypes[t->dt].name, sg_ck_shape_str(t->ndim, t->d, sb, sizeof sb));
    return SG_OK;
}

/* Sets t->role and t->param, and checks its dtype and shape against its use. */
static sg_status sg_ck_classify(const sg_params *ps, sg_ck_rtensor *t, char *err, size_t errcap)
{
    const char *nm = t->name;
    size_t len = strlen(nm);
    char sb[96], pb[96];
    if (strcmp(nm, "rng/state") == 0) {
        t->role = SG_CK_ROLE_RNG;
        return sg_ck_check_rng(t, err, errcap);
    }
    size_t pi = sg_ck_param_index(ps, nm, len);
    const char *what = "parameter";
    t->role = SG_CK_ROLE_PARAM;
    if (pi == SIZE_MAX && len > strlen("optim/") + 2 && sg_starts_with(nm, "optim/") && nm[len - 2] == '/' &&
        (nm[len - 1] == 'm' || nm[len - 1] == 'v')) {
        pi = sg_ck_param_index(ps, nm + 6, len - 8);
        t->role = nm[len - 1] == 'm' ? SG_CK_ROLE_M : SG_CK_ROLE_V;
        what = "optimizer moment of parameter";
    }
    if (pi == SIZE_MAX)
        return sg_error_format(err, errcap, SG_ERR_FORMAT,
                          "unexpected tensor '%s': not a parameter of the set, an optimizer moment 'optim/<param>/m|v' "
                          "of one, or 'rng/state'",
                          nm);
    t->param = pi;
    const sg_param *p = ps->items[pi];
    const char *dn = sg_st_dtypes[t->dt].name;
    if (strcmp(dn, "F32") != 0 && strcmp(dn, "F64") != 0)
        return sg_error_format(err, errcap, SG_ERR_DTYPE,
                          "tensor '%s' (%s '%s'): dtype %s cannot be loaded, F32 or F64 expected", nm, what, p->name,
                          dn);
    bool same = t->ndim == p->shape.ndim;
    for (int k = 0; same && k < t->ndim; k++)
        same = t->d[k] == p->shape.d[k];
    if (!same)
        return sg_error_format(err, errcap, SG_ERR_SHAPE, "tensor '%s' (%s '%s'): shape %s in the file, %s expected", nm,
                          what, p->name, sg_ck_shape_str(t->ndim, t->d, sb, sizeof sb),
                          sg_shape_str(p->shape, pb, sizeof pb));
    return SG_OK;
}

/* Checks that every F64 value of t fits an f32 set (finite values up to FLT_MAX). */
static sg_status sg_ck_check_f32_range(const sg_ck_rtensor *t, const unsigned char *data, char *err, size_t errcap)
{
    const unsigned char *b = data + t->begin;
    for (size_t i = 0; i < t->numel; i++) {
        double v = sg_le_getf64(b + 8 * i);
        if (isfinite(v) && fabs(v) > FLT_MAX)
            return sg_error_format(err, errcap, SG_ERR_DTYPE,
                              "tensor '%s': element %zu is %g, too large for the f32 parameter set", t->name, i, v);
    }
    return SG_OK;
}

/* Decodes t's elements into dst (numel elements of dtype). */
static void sg_ck_decode(const sg_ck_rtensor *t, const unsigned char *data, void *dst, sg_dtype dtype)
{
    const unsigned char *b = data + t->begin;
    bool f64 = strcmp(sg_st_dtypes[t->dt].name, "F64") == 0;
    for (size_t i = 0; i < t->numel; i++) {
        if (dtype == SG_F64)
            ((double *)dst)[i] = f64 ? sg_le_getf64(b + 8 * i) : (double)sg_le_getf32(b + 4 * i);
        else
            ((float *)dst)[i] = f64 ? (float)sg_le_getf64(b + 8 * i) : sg_le_getf32(b + 4 * i);
    }
}

/* The library metadata keys and whether each one was seen. */
static const char *const sg_ck_lib_keys[] = {
    "seqgrad.version",
    "seqgrad.dtype",
    "seqgrad.epoch",
    "seqgrad.step",
    "seqgrad.optim.kind",
    "seqgrad.optim.t",
    "seqgrad.optim.lr",
    "seqgrad.optim.base_lr",
    "seqgrad.optim.decay",
    "seqgrad.optim.decay_start",
    "seqgrad.optim.config.lr",
    "seqgrad.optim.config.momentum",
    "seqgrad.optim.config.weight_decay",
    "seqgrad.optim.config.beta1",
    "seqgrad.optim.config.beta2",
    "seqgrad.optim.config.eps",
};
enum { SG_CK_NLIB = sizeof sg_ck_lib_keys / sizeof sg_ck_lib_keys[0] };

/* The metadata being read: (key, value) pairs pointing into the cJSON tree. */
typedef struct sg_ck_meta {
    const char **key;   /* (n) sorted */
    const char **value; /* (n) */
    size_t n;
    bool used[SG_CK_NLIB];
} sg_ck_meta;

/* Value of a library key (marks it used), or NULL. */
static const char *sg_ck_meta_get(sg_ck_meta *m, const char *key)
{
    for (int i = 0; i < SG_CK_NLIB; i++)
        if (strcmp(sg_ck_lib_keys[i], key) == 0)
            m->used[i] = true;
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->key[mid], key);
        if (c == 0)
            return m->value[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static sg_status sg_ck_bad_meta(char *err, size_t errcap, const char *key, const char *value, const char *want)
{
    return sg_error_format(err, errcap, SG_ERR_FORMAT, "metadata '%s' is \"%.60s\", %s expected", key, value, want);
}

/* Reads a required double key. */
static sg_status sg_ck_meta_double(sg_ck_meta *m, const char *key, double *out, char *err, size_t errcap)
{
    const char *v = sg_ck_meta_get(m, key);
    if (!v)
        return sg_error_format(err, errcap, SG_ERR_FORMAT, "metadata '%s' is missing (needed with seqgrad.optim.kind)", key);
    if (!sg_ck_parse_double(v, out))
        return sg_ck_bad_meta(err, errcap, key, v, "a finite decimal number");
    return SG_OK;
}

/* Reads the optimizer keys into ck->optim. */
static sg_status sg_ck_read_optim(sg_ck_meta *m, const char *kind, sg_checkpoint *ck, char *err, size_t errcap)
{
    double lr, base_lr, decay, clr, a, b, c, wd;
    const char *ts = sg_ck_meta_get(m, "seqgrad.optim.t");
    const char *ds = sg_ck_meta_get(m, "seqgrad.optim.decay_start");
    uint64_t t, dstart;
    sg_status st;
    if (!ts || !ds)
        return sg_error_format(err, errcap, SG_ERR_FORMAT, "metadata '%s' is missing (needed with seqgrad.optim.kind)",
                          !ts ? "seqgrad.optim.t" : "seqgrad.optim.decay_start");
    if (!sg_ck_parse_u64(ts, &t))
        return sg_ck_bad_meta(err, errcap, "seqgrad.optim.t", ts, "a decimal integer");
    if (!sg_ck_parse_u64(ds, &dstart) || dstart > INT32_MAX)
        return sg_ck_bad_meta(err, errcap, "seqgrad.optim.decay_start", ds, "a decimal integer up to 2^31-1");
    if ((st = sg_ck_meta_double(m, "seqgrad.optim.lr", &lr, err, errcap)) != SG_OK ||
        (st = sg_ck_meta_double(m, "seqgrad.optim.base_lr", &base_lr, err, errcap)) != SG_OK ||
        (st = sg_ck_meta_double(m, "seqgrad.optim.decay", &decay, err, errcap)) != SG_OK ||
        (st = sg_ck_meta_double(m, "seqgrad.optim.config.lr", &clr, err, errcap)) != SG_OK ||
        (st = sg_ck_meta_double(m, "seqgrad.optim.config.weight_decay", &wd, err, errcap)) != SG_OK)
        return st;
    sg_optim o;
    if (strcmp(kind, "adam") == 0) {
        if ((st = sg_ck_meta_double(m, "seqgrad.optim.config.beta1", &a, err, errcap)) != SG_OK ||
            (st = sg_ck_meta_double(m, "seqgrad.optim.config.beta2", &b, err, errcap)) != SG_OK ||
            (st = sg_ck_meta_double(m, "seqgrad.optim.config.eps", &c, err, errcap)) != SG_OK)
            return st;
        sg_adam_config cfg = {.lr = clr, .beta1 = a, .beta2 = b, .eps = c, .weight_decay = wd};
        if (sg_optim_init_adam(&o, &cfg) != SG_OK)
            return sg_error_format(
                err, errcap, SG_ERR_FORMAT,
                "metadata: the Adam configuration (lr %g, beta1 %g, beta2 %g, eps %g, weight decay %g) is "
                "out of range",
                clr, a, b, c, wd);
    } else if (strcmp(kind, "sgd") == 0) {
        if ((st = sg_ck_meta_double(m, "seqgrad.optim.config.momentum", &a, err, errcap)) != SG_OK)
            return st;
        sg_sgd_config cfg = {.lr = clr, .momentum = a, .weight_decay = wd};
        if (sg_optim_init_sgd(&o, &cfg) != SG_OK)
            return sg_error_format(err, errcap, SG_ERR_FORMAT,
                              "metadata: the SGD configuration (lr %g, momentum %g, weight decay %g) is out of range",
                              clr, a, wd);
    } else {
        return sg_ck_bad_meta(err, errcap, "seqgrad.optim.kind", kind, "\"sgd\" or \"adam\"");
    }
    if (sg_optim_set_schedule(&o, decay, (int)dstart) != SG_OK)
        return sg_error_format(err, errcap, SG_ERR_FORMAT, "metadata 'seqgrad.optim.decay' is %g, a factor > 0 expected",
                          decay);
    if (!(base_lr >= 0) || sg_optim_set_lr(&o, lr) != SG_OK)
        return sg_error_format(err, errcap, SG_ERR_FORMAT, "metadata: learning rates lr %g, base_lr %g must be >= 0", lr,
                          base_lr);
    o.base_lr = base_lr;
    o.t = t;
    ck->has_optim = true;
    ck->optim = o;
    return SG_OK;
}

static int sg_ck_item_cmp(const void *a, const void *b)
{
    return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* Reads the metadata object md (may be NULL) into ck (empty on entry). */
static sg_status sg_ck_read_meta(const cJSON *md, sg_checkpoint *ck, char *err, size_t errcap)
{
    if (md && !cJSON_IsObject(md))
        return sg_error_format(err, errcap, SG_ERR_FORMAT, "\"__metadata__\" is not a JSON object");
    size_t n = 0;
    for (const cJSON *c = md ? md->child : NULL; c; c = c->next) {
        if (!cJSON_IsString(c))
            return sg_error_format(err, errcap, SG_ERR_FORMAT, "metadata '%s' is not a string", c->string);
        n++;
    }
    sg_ck_meta m = {0};
    sg_status st = SG_OK;
    const cJSON **items = sg_malloc((n ? n : 1) * sizeof *items);
    m.key = sg_malloc((n ? n : 1) * sizeof *m.key);
    m.value = sg_malloc((n ? n : 1) * sizeof *m.value);
    if (!items || !m.key || !m.value) {
        st = sg_error_format(err, errcap, SG_ERR_NOMEM, "checkpoint: out of memory");
        goto done;
    }
    for (const cJSON *c = md ? md->child : NULL; c; c = c->next)
        items[m.n++] = c;
    qsort(items, m.n, sizeof *items, sg_ck_item_cmp);
    for (size_t i = 0; i < m.n; i++) {
        m.key[i] = items[i]->string;
        m.value[i] = items[i]->valuestring;
        if (i && strcmp(m.key[i - 1], m.key[i]) == 0) {
            st = sg_error_format(err, errcap, SG_ERR_FORMAT, "metadata key '%s' appears twice", m.key[i]);
            goto done;
        }
    }
    const char *v;
    if ((v = sg_ck_meta_get(&m, "seqgrad.version")) && strcmp(v, "1") != 0) {
        st = sg_ck_bad_meta(err, errcap, "seqgrad.version", v, "\"1\" (a newer seqgrad wrote this file?)");
        goto done;
    }
    if ((v = sg_ck_meta_get(&m, "seqgrad.dtype")) && strcmp(v, "f32") != 0 && strcmp(v, "f64") != 0) {
        st = sg_ck_bad_meta(err, errcap, "seqgrad.dtype", v, "\"f32\" or \"f64\"");
        goto done;
    }
    if ((v = sg_ck_meta_get(&m, "seqgrad.epoch")) && !sg_ck_parse_u64(v, &ck->epoch)) {
        st = sg_ck_bad_meta(err, errcap, "seqgrad.epoch", v, "a decimal integer");
        goto done;
    }
    if ((v = sg_ck_meta_get(&m, "seqgrad.step")) && !sg_ck_parse_u64(v, &ck->step)) {
        st = sg_ck_bad_meta(err, errcap, "seqgrad.step", v, "a decimal integer");
        goto done;
    }
    if ((v = sg_ck_meta_get(&m, "seqgrad.optim.kind")) && (st = sg_ck_read_optim(&m, v, ck, err, errcap)) != SG_OK)
        goto done;
    /* any other "seqgrad." key is unknown (or belongs to an absent/other optimizer) */
    for (size_t i = 0; i < m.n; i++) {
        if (!sg_starts_with(m.key[i], sg_ck_reserved_prefix))
            continue;
        bool known = false;
        for (int k = 0; k < SG_CK_NLIB && !known; k++)
            known = m.used[k] && strcmp(sg_ck_lib_keys[k], m.key[i]) == 0;
        if (!known) {
            st = sg_error_format(err, errcap, SG_ERR_FORMAT,
                            "metadata '%s' is not a key of this seqgrad version (or does not fit seqgrad.optim.kind)",
                            m.key[i]);
            goto done;
        }
    }
    /* the caller's strings, already sorted and unique */
    if (m.n) {
        ck->strings = sg_calloc(m.n, sizeof *ck->strings);
        if (!ck->strings) {
            st = sg_error_format(err, errcap, SG_ERR_NOMEM, "checkpoint: out of memory");
            goto done;
        }
        ck->cap_strings = m.n;
    }
    for (size_t i = 0; i < m.n; i++) {
        if (sg_starts_with(m.key[i], sg_ck_reserved_prefix))
            continue;
        sg_checkpoint_string *s = &ck->strings[ck->n_strings];
        s->key = sg_ck_strdup(m.key[i]);
        s->value = sg_ck_strdup(m.value[i]);
        ck->n_strings++;
        if (!s->key || !s->value) {
            st = sg_error_format(err, errcap, SG_ERR_NOMEM, "checkpoint: out of memory");
            goto done;
        }
    }
done:
    sg_free(items);
    sg_free(m.key);
    sg_free(m.value);
    return st;
}

/* Checks the 8-byte header length hn of a file of len bytes; *n = hn. */
static sg_status sg_ck_check_lengths(size_t len, uint64_t hn, size_t *n, char *err, size_t errcap)
{
    if (len < 8)
        return sg_error_format(err, errcap, SG_ERR_FORMAT,
                          "file is %zu bytes, too short for the 8-byte header length (truncated?)", len);
    if (hn > len - 8)
        return sg_error_format(err, errcap, SG_ERR_FORMAT,
                          "header length %llu is larger than the %zu bytes that follow it (truncated or not a "
                          "safetensors file)",
                          (unsigned long long)hn, len - 8);
    if (hn < 2)
        return sg_error_format(err, errcap, SG_ERR_FORMAT, "header length %llu is too small for a JSON object",
                          (unsigned long long)hn);
    *n = (size_t)hn;
    return SG_OK;
}

/* A parsed and validated header. */
typedef struct sg_ck_parsed {
    char *text;        /* owned: the header, NUL-terminated */
    cJSON *root;       /* owned */
    sg_ck_rtensor *ts; /* (nt) owned, sorted by name; names point into root */
    size_t nt;
    const cJSON *md; /* "__metadata__" in root, or NULL */
} sg_ck_parsed;

static void sg_ck_parsed_free(sg_ck_parsed *pp)
{
    sg_free(pp->ts);
    cJSON_Delete(pp->root);
    sg_free(pp->text);
    memset(pp, 0, sizeof *pp);
}

/* Parses the n header bytes at hdr for a data section of data_len bytes:
 * valid JSON object, unique keys, every tensor entry valid, the tensors tiling
 * the data section.  pp is always initialized (free it with
 * sg_ck_parsed_free, also on failure). */
static sg_status sg_ck_parse_header(const unsigned char *hdr, size_t n, size_t data_len, sg_ck_parsed *pp, char *err,
                                    size_t errcap)
{
    memset(pp, 0, sizeof *pp);
    sg_status st = SG_OK;
    const char **names = NULL;
    pp->text = sg_malloc(n + 1);
    if (!pp->text)
        return sg_error_format(err, errcap, SG_ERR_NOMEM, "checkpoint: out of memory for a %zu-byte header", n);
    memcpy(pp->text, hdr, n);
    pp->text[n] = '\0';
    const char *text = pp->text, *end = NULL;
    sg_ck_json_oom = false;
    pp->root = cJSON_ParseWithOpts(text, &end, 0);
    if (!pp->root && sg_ck_json_oom)
        return sg_error_format(err, errcap, SG_ERR_NOMEM, "checkpoint: out of memory while parsing the header");
    if (!pp->root) {
        size_t at = end && end >= text && end <= text + n ? (size_t)(end - text) : 0;
        return sg_error_format(err, errcap, SG_ERR_FORMAT, "header is not valid JSON (parse error at byte %zu of %zu)", at,
                          n);
    }
    for (const char *c = end; c < text + n; c++)
        if (*c != ' ' && *c != '\t' && *c != '\n' && *c != '\r')
            return sg_error_format(err, errcap, SG_ERR_FORMAT,
                              "header has bytes after its JSON value (at byte %zu of %zu; only spaces may pad it)",
                              (size_t)(c - text), n);
    if (!cJSON_IsObject(pp->root))
        return sg_error_format(err, errcap, SG_ERR_FORMAT,
                          "header is not a JSON object (it must map tensor names to entries)");

    /* every entry: unique names, metadata apart, tensors validated */
    size_t n_items = 0;
    for (const cJSON *c = pp->root->child; c; c = c->next)
        n_items++;
    names = sg_malloc((n_items ? n_items : 1) * sizeof *names);
    pp->ts = sg_malloc((n_items ? n_items : 1) * sizeof *pp->ts);
    if (!names || !pp->ts) {
        st = sg_error_format(err, errcap, SG_ERR_NOMEM, "checkpoint: out of memory");
        goto done;
    }
    size_t k = 0;
    for (const cJSON *c = pp->root->child; c; c = c->next)
        names[k++] = c->string;
    const char *dup = sg_ck_find_duplicate(names, n_items);
    if (dup) {
        st = sg_error_format(err, errcap, SG_ERR_FORMAT, "header has the key '%s' twice", dup);
        goto done;
    }
    for (const cJSON *c = pp->root->child; c; c = c->next) {
        if (strcmp(c->string, "__metadata__") == 0) {
            pp->md = c;
            continue;
        }
        if ((st = sg_ck_read_entry(c, c->string, data_len, &pp->ts[pp->nt], err, errcap)) != SG_OK)
            goto done;
        pp->nt++;
    }
    if ((st = sg_ck_check_tiling(pp->ts, pp->nt, data_len, err, errcap)) != SG_OK)
        goto done;
    qsort(pp->ts, pp->nt, sizeof *pp->ts, sg_ck_rt_name_cmp); /* deterministic messages later */
done:
    sg_free(names);
    return st;
}

/* The training state of a parsed file into *out (all-or-nothing): metadata
 * and, when rng is not NULL, the 4 state words from its 32 little-endian bytes. */
static sg_status sg_ck_state_into(const sg_ck_parsed *pp, const unsigned char *rng, sg_checkpoint *out, char *err,
                                  size_t errcap)
{
    sg_checkpoint ck;
    sg_checkpoint_init(&ck);
    sg_status st = sg_ck_read_meta(pp->md, &ck, err, errcap);
    if (st != SG_OK) {
        sg_checkpoint_free(&ck);
        return st;
    }
    if (rng) {
        ck.has_rng = true;
        for (int w = 0; w < 4; w++)
            ck.rng.s[w] = sg_le_get64(rng + 8 * (size_t)w);
    }
    sg_checkpoint_free(out);
    *out = ck;
    return SG_OK;
}

/* The "rng/state" tensor of pp (validated), or NULL when absent (*st set on error). */
static const sg_ck_rtensor *sg_ck_find_rng(const sg_ck_parsed *pp, sg_status *st, char *err, size_t errcap)
{
    *st = SG_OK;
    for (size_t i = 0; i < pp->nt; i++)
        if (strcmp(pp->ts[i].name, "rng/state") == 0) {
            *st = sg_ck_check_rng(&pp->ts[i], err, errcap);
            return *st == SG_OK ? &pp->ts[i] : NULL;
        }
    return NULL;
}

sg_status sg_checkpoint_read_meta_mem(const void *buf, size_t len, sg_checkpoint *out, char *err, size_t errcap)
{
    if ((!buf && len) || !out)
        return sg_error_format(err, errcap, SG_ERR_ARG, "checkpoint: NULL buffer or output");
    sg_ck_hooks();
    const unsigned char *b = buf;
    size_t n = 0;
    sg_status st = sg_ck_check_lengths(len, len >= 8 ? sg_le_get64(b) : 0, &n, err, errcap);
    if (st != SG_OK)
        return st;
    sg_ck_parsed pp;
    if ((st = sg_ck_parse_header(b + 8, n, len - 8 - n, &pp, err, errcap)) == SG_OK) {
        const sg_ck_rtensor *r = sg_ck_find_rng(&pp, &st, err, errcap);
        if (st == SG_OK)
            st = sg_ck_state_into(&pp, r ? b + 8 + n + r->begin : NULL, out, err, errcap);
    }
    sg_ck_parsed_free(&pp);
    return st;
}

/* Reads exactly n bytes at offset off of fd; false on error or end of file. */
static bool sg_ck_pread_all(int fd, unsigned char *dst, size_t n, size_t off)
{
    size_t got = 0;
    errno = 0;
    while (got < n) {
        ssize_t r = pread(fd, dst + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

/* Opens path for reading as a regular file; *size = its length.  -1 + message on failure. */
static int sg_ck_open_read(const char *path, size_t *size, char *err, size_t errcap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        sg_error_format(err, errcap, SG_ERR_IO, "checkpoint '%s': cannot open: %s", path, strerror(e));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        sg_error_format(err, errcap, SG_ERR_IO, "checkpoint '%s': not a regular file", path);
        return -1;
    }
    if ((uintmax_t)sb.st_size > SIZE_MAX - 1) {
        close(fd);
        sg_error_format(err, errcap, SG_ERR_IO, "checkpoint '%s': too large for memory", path);
        return -1;
    }
    *size = (size_t)sb.st_size;
    return fd;
}

sg_status sg_checkpoint_read_meta(const char *path, sg_checkpoint *out, char *err, size_t errcap)
{
    if (!path || !out)
        return sg_error_format(err, errcap, SG_ERR_ARG, "checkpoint: no path or output given");
    sg_ck_hooks();
    size_t size = 0, n = 0;
    int fd = sg_ck_open_read(path, &size, err, errcap);
    if (fd < 0)
        return SG_ERR_IO;
    char msg[512];
    unsigned char lenb[8], rng[32];
    unsigned char *hdr = NULL;
    sg_ck_parsed pp;
    memset(&pp, 0, sizeof pp);
    sg_status st = SG_OK;
    if (size >= 8 && !sg_ck_pread_all(fd, lenb, 8, 0)) {
        st = SG_ERR_IO;
        goto done;
    }
    if ((st = sg_ck_check_lengths(size, size >= 8 ? sg_le_get64(lenb) : 0, &n, msg, sizeof msg)) != SG_OK)
        goto done;
    if (!(hdr = sg_malloc(n))) {
        st = sg_error_format(msg, sizeof msg, SG_ERR_NOMEM, "out of memory for a %zu-byte header", n);
        goto done;
    }
    if (!sg_ck_pread_all(fd, hdr, n, 8)) {
        st = SG_ERR_IO;
        goto done;
    }
    if ((st = sg_ck_parse_header(hdr, n, size - 8 - n, &pp, msg, sizeof msg)) != SG_OK)
        goto done;
    const sg_ck_rtensor *r = sg_ck_find_rng(&pp, &st, msg, sizeof msg);
    if (st != SG_OK)
        goto done;
    if (r && !sg_ck_pread_all(fd, rng, 32, 8 + n + r->begin)) {
        st = SG_ERR_IO;
        goto done;
    }
    st = sg_ck_state_into(&pp, r ? rng : NULL, out, msg, sizeof msg);
done:
    if (st == SG_ERR_IO)
        snprintf(msg, sizeof msg, "read failed: %s", errno ? strerror(errno) : "unexpected end of file");
    if (st != SG_OK)
        sg_error_format(err, errcap, st, "checkpoint '%s': %s", path, msg);
    sg_ck_parsed_free(&pp);
    sg_free(hdr);
    close(fd);
    return st;
}

sg_status sg_checkpoint_load_mem(const void *buf, size_t len, sg_params *ps, sg_checkpoint *out, char *err,
                                 size_t errcap)
{
    if (!buf && len)
        return sg_error_format(err, errcap, SG_ERR_ARG, "checkpoint: NULL buffer");
    if (!ps)
        return sg_error_format(err, errcap, SG_ERR_ARG, "checkpoint: the parameter set is NULL");
    if (ps->dtype != SG_F32 && ps->dtype != SG_F64)
        return sg_error_format(err, errcap, SG_ERR_ARG, "checkpoint: the parameter set has dtype %s (need f32 or f64)",
                          sg_dtype_name(ps->dtype));
    for (size_t i = 0; i < ps->n; i++)
        if (ps->items[i]->dtype != ps->dtype)
            return sg_error_format(err, errcap, SG_ERR_ARG, "checkpoint: parameter '%s' has dtype %s, its set %s",
                              ps->items[i]->name, sg_dtype_name(ps->items[i]->dtype), sg_dtype_name(ps->dtype));
    sg_ck_hooks();
    const unsigned char *b = buf;
    size_t n = 0;
    sg_status st = sg_ck_check_lengths(len, len >= 8 ? sg_le_get64(b) : 0, &n, err, errcap);
    if (st != SG_OK)
        return st;
    const unsigned char *data = b + 8 + n;
    size_t data_len = len - 8 - n;

    sg_ck_parsed pp;
    size_t *slot = NULL; /* (3 * ps->n) tensor index + 1 per (param, role); 0 = absent */
    void **fresh = NULL; /* (2 * ps->n) newly allocated moment buffers */
    const sg_ck_rtensor *rng_t = NULL;
    sg_checkpoint ck;
    sg_checkpoint_init(&ck);
    if ((st = sg_ck_parse_header(b + 8, n, data_len, &pp, err, errcap)) != SG_OK)
        goto done;
    slot = sg_calloc(3 * ps->n + 1, sizeof *slot);
    fresh = sg_calloc(2 * ps->n + 1, sizeof *fresh);
    if (!slot || !fresh) {
        st = sg_error_format(err, errcap, SG_ERR_NOMEM, "checkpoint: out of memory");
        goto done;
    }
    sg_ck_rtensor *ts = pp.ts;
    size_t nt = pp.nt;

    /* match tensors to the set, in name order (deterministic messages) */
    for (size_t i = 0; i < nt; i++) {
        if ((st = sg_ck_classify(ps, &ts[i], err, errcap)) != SG_OK)
            goto done;
        if (ts[i].role == SG_CK_ROLE_RNG)
            rng_t = &ts[i];
        else
            slot[3 * ts[i].param + (size_t)ts[i].role] = i + 1;
    }
    for (size_t i = 0; i < ps->n; i++)
        if (!slot[3 * i]) {
            char sb[96];
            st = sg_error_format(err, errcap, SG_ERR_FORMAT, "parameter '%s' %s is missing from the checkpoint",
                            ps->items[i]->name, sg_shape_str(ps->items[i]->shape, sb, sizeof sb));
            goto done;
        }
    if (ps->dtype == SG_F32)
        for (size_t i = 0; i < nt; i++)
            if (ts[i].role != SG_CK_ROLE_RNG && strcmp(sg_st_dtypes[ts[i].dt].name, "F64") == 0 &&
                (st = sg_ck_check_f32_range(&ts[i], data, err, errcap)) != SG_OK)
                goto done;

    /* the training state, then the moment buffers the set lacks */
    if ((st = sg_ck_state_into(&pp, rng_t ? data + rng_t->begin : NULL, &ck, err, errcap)) != SG_OK)
        goto done;
    size_t es = sg_dtype_size(ps->dtype);
    for (size_t i = 0; i < ps->n; i++) {
        const sg_param *p = ps->items[i];
        for (int r = 0; r < 2; r++) {
            bool have = r == 0 ? p->m != NULL : p->v != NULL;
            if (slot[3 * i + 1 + (size_t)r] && !have && !(fresh[2 * i + (size_t)r] = sg_malloc(p->numel * es))) {
                st =
                    sg_error_format(err, errcap, SG_ERR_NOMEM, "checkpoint: out of memory for the moments of '%s'", p->name);
                goto done;
            }
        }
    }

    /* commit: nothing below can fail */
    for (size_t i = 0; i < ps->n; i++) {
        sg_param *p = ps->items[i];
        if (fresh[2 * i])
            p->m = fresh[2 * i];
        if (fresh[2 * i + 1])
            p->v = fresh[2 * i + 1];
        fresh[2 * i] = fresh[2 * i + 1] = NULL;
        void *dst[3] = {p->value, p->m, p->v};
        for (int r = 0; r < 3; r++) {
            size_t s = slot[3 * i + (size_t)r];
            if (s)
                sg_ck_decode(&ts[s - 1], data, dst[r], ps->dtype);
            else if (dst[r])
                memset(dst[r], 0, p->numel * es);
        }
    }
    if (out) {
        sg_checkpoint_free(out);
        *out = ck;
        sg_checkpoint_init(&ck);
    }

done:
    if (fresh)
        for (size_t i = 0; i < 2 * ps->n; i++)
            sg_free(fresh[i]);
    sg_free(fresh);
    sg_free(slot);
    sg_ck_parsed_free(&pp);
    sg_checkpoint_free(&ck);
    return st;
}

sg_status sg_checkpoint_load(const char *path, sg_params *ps, sg_checkpoint *out, char *err, size_t errcap)
{
    if (!path)
        return sg_error_format(err, errcap, SG_ERR_ARG, "checkpoint: no path given");
    size_t size;
    int fd = sg_ck_open_read(path, &size, err, errcap);
    if (fd < 0)
        return SG_ERR_IO;
    unsigned char *buf = sg_malloc(size ? size : 1);
    if (!buf) {
        close(fd);
        return sg_error_format(err, errcap, SG_ERR_NOMEM, "checkpoint '%s': out of memory for %zu bytes", path, size);
    }
    bool ok = sg_ck_pread_all(fd, buf, size, 0);
    int e = errno;
    close(fd);
    if (!ok) {
        sg_free(buf);
        return sg_error_format(err, errcap, SG_ERR_IO, "checkpoint '%s': read failed: %s", path,
                          e ? strerror(e) : "unexpected end of file");
    }
    char msg[512];
    sg_status st = sg_checkpoint_load_mem(buf, size, ps, out, msg, sizeof msg);
    sg_free(buf);
    if (st != SG_OK)
        sg_error_format(err, errcap, st, "checkpoint '%s': %s", path, msg);
    return st;
}
