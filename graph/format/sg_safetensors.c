/* sg_safetensors.c — the generic safetensors reader and writer (see
 * sg_safetensors.h and docs/checkpoints.md).
 *
 * Reading: the header is copied NUL-terminated and parsed with cJSON; every
 * entry is validated and the tensors' extents must tile the data section; the
 * metadata strings are collected and sorted.  Names and values point into the
 * cJSON tree, which the file keeps.
 * Writing: tensors sorted by name get contiguous offsets, the header is built
 * with cJSON (integers printed by us as raw JSON so they are exact), and the
 * bytes are streamed through a sink (a FILE or a memory buffer), every element
 * encoded little-endian byte by byte.
 *
 * Dimension legend: T = tensors in a file, M = metadata entries, numel = a
 * tensor's element count.
 */
#include "graph/format/sg_safetensors.h"

#include "graph/core/sg_alloc.h"
#include "graph/util/sg_file.h"
#include "graph/util/sg_util.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- cJSON through sg_alloc ---------------------------------------------- */

static pthread_once_t sg_st_hooks_once = PTHREAD_ONCE_INIT;
/* Set when an allocation made by cJSON in this thread failed (cJSON reports
 * out of memory and malformed input alike, by returning NULL). */
static _Thread_local bool sg_st_json_oom;

static void *sg_st_json_malloc(size_t bytes)
{
    void *p = sg_malloc(bytes);
    if (!p)
        sg_st_json_oom = true;
    return p;
}

static void sg_st_hooks_install(void)
{
    cJSON_Hooks h = {.malloc_fn = sg_st_json_malloc, .free_fn = sg_free};
    cJSON_InitHooks(&h);
}

/* Points cJSON at sg_malloc/sg_free (once per process). */
static void sg_st_hooks(void) { pthread_once(&sg_st_hooks_once, sg_st_hooks_install); }

/* ---- dtypes and little-endian encoding ------------------------------------ */

static const struct {
    const char *name;
    size_t size;
} sg_st_dtypes[SG_ST_NDTYPES] = {
    [SG_ST_BOOL] = {"BOOL", 1},       [SG_ST_U8] = {"U8", 1},           [SG_ST_I8] = {"I8", 1},
    [SG_ST_F8_E5M2] = {"F8_E5M2", 1}, [SG_ST_F8_E4M3] = {"F8_E4M3", 1}, [SG_ST_I16] = {"I16", 2},
    [SG_ST_U16] = {"U16", 2},         [SG_ST_F16] = {"F16", 2},         [SG_ST_BF16] = {"BF16", 2},
    [SG_ST_I32] = {"I32", 4},         [SG_ST_U32] = {"U32", 4},         [SG_ST_F32] = {"F32", 4},
    [SG_ST_I64] = {"I64", 8},         [SG_ST_U64] = {"U64", 8},         [SG_ST_F64] = {"F64", 8},
};

const char *sg_st_dtype_name(sg_st_dtype dt) { return (unsigned)dt < SG_ST_NDTYPES ? sg_st_dtypes[dt].name : "?"; }

size_t sg_st_dtype_size(sg_st_dtype dt) { return (unsigned)dt < SG_ST_NDTYPES ? sg_st_dtypes[dt].size : 0; }

/* The dtype called name, or -1. */
static int sg_st_dtype_find(const char *name)
{
    for (int i = 0; i < SG_ST_NDTYPES; i++)
        if (strcmp(sg_st_dtypes[i].name, name) == 0)
            return i;
    return -1;
}

/* The es-byte little-endian unsigned integer at b. */
static uint64_t sg_le_get(const unsigned char *b, size_t es)
{
    uint64_t u = 0;
    for (size_t k = 0; k < es; k++)
        u |= (uint64_t)b[k] << (8 * k);
    return u;
}

static void sg_le_put(unsigned char *b, uint64_t u, size_t es)
{
    for (size_t k = 0; k < es; k++)
        b[k] = (unsigned char)(u >> (8 * k));
}

/* The host element i of es bytes at p, as an unsigned integer of its bits. */
static uint64_t sg_host_bits(const void *p, size_t i, size_t es)
{
    const unsigned char *b = (const unsigned char *)p + i * es;
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    switch (es) {
    case 1: memcpy(&u8, b, 1); return u8;
    case 2: memcpy(&u16, b, 2); return u16;
    case 4: memcpy(&u32, b, 4); return u32;
    default: memcpy(&u64, b, 8); return u64;
    }
}

static double sg_le_f64(const unsigned char *b)
{
    uint64_t u = sg_le_get(b, 8);
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static float sg_le_f32(const unsigned char *b)
{
    uint32_t u = (uint32_t)sg_le_get(b, 4);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

bool sg_st_decode(sg_st_dtype from, const unsigned char *raw, size_t numel, sg_st_dtype to, void *dst)
{
    bool ffrom = from == SG_ST_F32 || from == SG_ST_F64, fto = to == SG_ST_F32 || to == SG_ST_F64;
    if (ffrom && fto) {
        for (size_t i = 0; i < numel; i++) {
            double v = from == SG_ST_F64 ? sg_le_f64(raw + 8 * i) : (double)sg_le_f32(raw + 4 * i);
            if (to == SG_ST_F64)
                ((double *)dst)[i] = v;
            else
                ((float *)dst)[i] = from == SG_ST_F32 ? sg_le_f32(raw + 4 * i) : (float)v;
        }
        return true;
    }
    if (from != to || ffrom || (unsigned)from >= SG_ST_NDTYPES)
        return false;
    size_t es = sg_st_dtypes[from].size;
    unsigned char *d = dst;
    for (size_t i = 0; i < numel; i++) {
        uint64_t u = sg_le_get(raw + es * i, es);
        uint8_t u8 = (uint8_t)u;
        uint16_t u16 = (uint16_t)u;
        uint32_t u32 = (uint32_t)u;
        /* clang-format off */
        switch (es) {
        case 1: memcpy(d + i, &u8, 1); break;
        case 2: memcpy(d + 2 * i, &u16, 2); break;
        case 4: memcpy(d + 4 * i, &u32, 4); break;
        default: memcpy(d + 8 * i, &u, 8); break;
        }
        /* clang-format on */
    }
    return true;
}

size_t sg_st_fits_f32(const unsigned char *raw, size_t numel)
{
    for (size_t i = 0; i < numel; i++) {
        double v = sg_le_f64(raw + 8 * i);
        if (isfinite(v) && fabs(v) > FLT_MAX)
            return i;
    }
    return numel;
}

/* "(2, 3)" for a shape (truncated with "..." past what fits), for messages. */
static const char *sg_st_shape_str(int ndim, const size_t *d, char *buf, size_t cap)
{
    size_t off = 0;
    off += (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < ndim && off < cap; i++)
        off += (size_t)snprintf(buf + off, cap - off, "%s%zu", i ? ", " : "", d[i]);
    if (off < cap)
        snprintf(buf + off, cap - off, ")");
    if (off >= cap - 1 && cap > 4)
        memcpy(buf + cap - 5, "...)", 5);
    return buf;
}

/* ---- reading -------------------------------------------------------------- */

static void sg_st_file_zero(sg_st_file *f)
{
    memset(f, 0, sizeof *f);
    f->fd_ = -1;
}

void sg_st_file_free(sg_st_file *f)
{
    if (!f)
        return;
    cJSON_Delete(f->json_);
    sg_free(f->text_);
    sg_free(f->dims_);
    sg_free(f->tensors_);
    sg_free(f->meta_);
    sg_free(f->owned_);
    if (f->fd_ >= 0)
        close(f->fd_);
    sg_st_file_zero(f);
}

/* Reads a JSON number that must be an exact integer in [0, 2^53]. */
static bool sg_st_json_size(const cJSON *j, size_t *out)
{
    if (!cJSON_IsNumber(j))
        return false;
    double v = j->valuedouble;
    if (!(v >= 0 && v <= 9007199254740992.0) || v != floor(v) || v > (double)SIZE_MAX)
        return false;
    *out = (size_t)v;
    return true;
}

static int sg_st_str_ptr_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Validates the entry e of tensor name and fills t; its dims go to dims
 * (SG_ST_MAX_DIMS slots). */
static sg_status sg_st_read_entry(const cJSON *e, const char *name, size_t data_len, sg_st_tensor *t, size_t *dims,
                                  char *err, size_t errcap)
{
    memset(t, 0, sizeof *t);
    t->name = name;
    t->shape = dims;
    if (!cJSON_IsObject(e))
        return sg_error_format(err, errcap, SG_ERR_FORMAT, "tensor '%s': its header entry is not a JSON object", name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt))
        return sg_error_format(err, errcap, SG_ERR_FORMAT, "tensor '%s': \"dtype\" is missing or not a string", name);
    int dti = sg_st_dtype_find(dt->valuestring);
    if (dti < 0)
        return sg_error_format(err, errcap, SG_ERR_FORMAT,
                               "tensor '%s': dtype '%s' is not a safetensors dtype (F32, F64, I32, I64, U8, U64, ...)",
                               name, dt->valuestring);
    t->dtype = (sg_st_dtype)dti;
    if (!cJSON_IsArray(sh))
        return sg_error_format(err, errcap, SG_ERR_FORMAT, "tensor '%s': \"shape\" is missing or not an array", name);
    size_t numel = 1;
    bool too_big = false;
    int ndim = 0;
    for (const cJSON *c = sh->child; c; c = c->next, ndim++) {
        size_t v;
        if (ndim == SG_ST_MAX_DIMS)
            return sg_error_format(err, errcap, SG_ERR_FORMAT, "tensor '%s': shape has more than %d dimensions", name,
                                   SG_ST_MAX_DIMS);
        if (!sg_st_json_size(c, &v))
            return sg_error_format(err, errcap, SG_ERR_FORMAT, "tensor '%s': shape[%d] is not a non-negative integer",
                                   name, ndim);
        dims[ndim] = v;
        if (!sg_size_mul(numel, v, &numel))
            too_big = true;
    }
    t->ndim = ndim;
    size_t es = sg_st_dtypes[t->dtype].size, bytes = 0;
    if (too_big || !sg_size_mul(numel, es, &bytes))
        return sg_error_format(err, errcap, SG_ERR_FORMAT, "tensor '%s': shape is too large (more than SIZE_MAX bytes)",
                               name);
    t->numel = numel;
    if (!cJSON_IsArray(of) || !of->child || !of->child->next || of->child->next->next ||
        !sg_st_json_size(of->child, &t->begin) || !sg_st_json_size(of->child->next, &t->end))
        return sg_error_format(err, errcap, SG_ERR_FORMAT,
                               "tensor '%s': \"data_offsets\" is missing or not two non-negative integers [begin, end]",
                               name);
    if (t->begin > t->end)
        return sg_error_format(err, errcap, SG_ERR_FORMAT, "tensor '%s': data_offsets [%zu, %zu] run backwards", name,
                               t->begin, t->end);
    if (t->end > data_len)
        return sg_error_format(err, errcap, SG_ERR_FORMAT,
                               "data is truncated: tensor '%s' has data_offsets [%zu, %zu], but the data section has "
                               "only %zu bytes",
                               name, t->begin, t->end, data_len);
    if (t->end - t->begin != bytes) {
        char sb[96];
        return sg_error_format(err, errcap, SG_ERR_FORMAT,
                               "tensor '%s': data_offsets [%zu, %zu] hold %zu bytes, but shape %s of %s needs %zu",
                               name, t->begin, t->end, t->end - t->begin, sg_st_shape_str(ndim, dims, sb, sizeof sb),
                               sg_st_dtypes[t->dtype].name, bytes);
    }
    return SG_OK;
}

static int sg_st_offset_cmp(const void *a, const void *b)
{
    const sg_st_tensor *x = *(const sg_st_tensor *const *)a, *y = *(const sg_st_tensor *const *)b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int sg_st_name_cmp(const void *a, const void *b)
{
    return strcmp(((const sg_st_tensor *)a)->name, ((const sg_st_tensor *)b)->name);
}

static int sg_st_meta_cmp(const void *a, const void *b)
{
    return strcmp(((const sg_st_meta *)a)->key, ((const sg_st_meta *)b)->key);
}

/* The tensors must tile [0, data_len) exactly: no overlap, no hole. */
static sg_status sg_st_check_tiling(const sg_st_tensor *t, size_t n, size_t data_len, char *err, size_t errcap)
{
    const sg_st_tensor **order = sg_malloc((n ? n : 1) * sizeof *order);
    if (!order)
        return sg_error_format(err, errcap, SG_ERR_NOMEM, "safetensors: out of memory");
    for (size_t i = 0; i < n; i++)
        order[i] = &t[i];
    qsort(order, n, sizeof *order, sg_st_offset_cmp);
    sg_status st = SG_OK;
    size_t pos = 0;
    const sg_st_tensor *prev = NULL;
    for (size_t i = 0; i < n && st == SG_OK; i++) {
        const sg_st_tensor *c = order[i];
        if (c->begin < pos)
            st = sg_error_format(err, errcap, SG_ERR_FORMAT,
                                 "tensors '%s' and '%s' overlap: data_offsets [%zu, %zu] and [%zu, %zu]", prev->name,
                                 c->name, prev->begin, prev->end, c->begin, c->end);
        else if (c->begin > pos)
            st = sg_error_format(err, errcap, SG_ERR_FORMAT,
                                 "the data section has a hole: bytes [%zu, %zu) belong to no tensor (next is '%s')",
                                 pos, c->begin, c->name);
        pos = c->end;
        prev = c;
    }
    if (st == SG_OK && pos != data_len)
        st = sg_error_format(err, errcap, SG_ERR_FORMAT,
                             "the data section has %zu bytes after the last tensor (it has %zu bytes, tensors end at "
                             "%zu)",
                             data_len - pos, data_len, pos);
    sg_free(order);
    return st;
}

/* The metadata object md (may be NULL) into f->meta_, sorted, keys unique. */
static sg_status sg_st_read_meta(sg_st_file *f, const cJSON *md, char *err, size_t errcap)
{
    if (!md)
        return SG_OK;
    if (!cJSON_IsObject(md))
        return sg_error_format(err, errcap, SG_ERR_FORMAT, "\"__metadata__\" is not a JSON object");
    size_t n = 0;
    for (const cJSON *c = md->child; c; c = c->next) {
        if (!cJSON_IsString(c))
            return sg_error_format(err, errcap, SG_ERR_FORMAT, "metadata '%s' is not a string", c->string);
        /* escapes (\u....) can spell what the raw bytes may not */
        if (!sg_utf8_valid_str(c->string) || !sg_utf8_valid_str(c->valuestring))
            return sg_error_format(err, errcap, SG_ERR_FORMAT, "metadata '%.60s' is not valid UTF-8", c->string);
        n++;
    }
    if (!(f->meta_ = sg_malloc((n ? n : 1) * sizeof *f->meta_)))
        return sg_error_format(err, errcap, SG_ERR_NOMEM, "safetensors: out of memory");
    for (const cJSON *c = md->child; c; c = c->next)
        f->meta_[f->n_meta++] = (sg_st_meta){c->string, c->valuestring};
    qsort(f->meta_, f->n_meta, sizeof *f->meta_, sg_st_meta_cmp);
    for (size_t i = 1; i < f->n_meta; i++)
        if (strcmp(f->meta_[i - 1].key, f->meta_[i].key) == 0)
            return sg_error_format(err, errcap, SG_ERR_FORMAT, "metadata key '%s' appears twice", f->meta_[i].key);
    f->meta = f->meta_;
    return SG_OK;
}

/* Checks the 8-byte header length hn of a file of len bytes; *n = hn. */
static sg_status sg_st_check_lengths(size_t len, uint64_t hn, size_t *n, char *err, size_t errcap)
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

/* Parses the n header bytes at hdr for a data section of data_len bytes into f
 * (zeroed on entry). */
static sg_status sg_st_parse_header(sg_st_file *f, const unsigned char *hdr, size_t n, size_t data_len, char *err,
                                    size_t errcap)
{
    sg_st_hooks();
    f->data_len = data_len;
    if (!(f->text_ = sg_str_ndup((const char *)hdr, n)))
        return sg_error_format(err, errcap, SG_ERR_NOMEM, "safetensors: out of memory for a %zu-byte header", n);
    const char *text = f->text_, *end = NULL;
    sg_st_json_oom = false;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 0);
    f->json_ = root;
    if (!root && sg_st_json_oom)
        return sg_error_format(err, errcap, SG_ERR_NOMEM, "safetensors: out of memory while parsing the header");
    if (!root) {
        size_t at = end && end >= text && end <= text + n ? (size_t)(end - text) : 0;
        return sg_error_format(err, errcap, SG_ERR_FORMAT, "header is not valid JSON (parse error at byte %zu of %zu)",
                               at, n);
    }
    for (const char *c = end; c < text + n; c++)
        if (*c != ' ' && *c != '\t' && *c != '\n' && *c != '\r')
            return sg_error_format(err, errcap, SG_ERR_FORMAT,
                                   "header has bytes after its JSON value (at byte %zu of %zu; only spaces may pad it)",
                                   (size_t)(c - text), n);
    for (size_t i = 0; i < n;) { /* JSON is UTF-8: anything else is not a safetensors header */
        size_t k = sg_utf8_seq_len((const unsigned char *)text + i, n - i);
        if (!k)
            return sg_error_format(err, errcap, SG_ERR_FORMAT, "header is not valid UTF-8 (at byte %zu of %zu)", i, n);
        i += k;
    }
    if (!cJSON_IsObject(root))
        return sg_error_format(err, errcap, SG_ERR_FORMAT,
                               "header is not a JSON object (it must map tensor names to entries)");

    size_t n_items = 0;
    for (const cJSON *c = root->child; c; c = c->next)
        n_items++;
    size_t dims_n;
    const char **names = sg_malloc((n_items ? n_items : 1) * sizeof *names);
    f->tensors_ = sg_malloc((n_items ? n_items : 1) * sizeof *f->tensors_);
    f->dims_ =
        sg_size_mul(n_items ? n_items : 1, SG_ST_MAX_DIMS, &dims_n) ? sg_malloc(dims_n * sizeof *f->dims_) : NULL;
    sg_status st = SG_OK;
    if (!names || !f->tensors_ || !f->dims_) {
        st = sg_error_format(err, errcap, SG_ERR_NOMEM, "safetensors: out of memory");
        goto done;
    }
    size_t k = 0;
    for (const cJSON *c = root->child; c; c = c->next) {
        if (!sg_utf8_valid_str(c->string)) {
            st = sg_error_format(err, errcap, SG_ERR_FORMAT, "header has a key that is not valid UTF-8");
            goto done;
        }
        names[k++] = c->string;
    }
    qsort(names, n_items, sizeof *names, sg_st_str_ptr_cmp);
    for (size_t i = 1; i < n_items; i++)
        if (strcmp(names[i - 1], names[i]) == 0) {
            st = sg_error_format(err, errcap, SG_ERR_FORMAT, "header has the key '%s' twice", names[i]);
            goto done;
        }
    const cJSON *md = NULL;
    for (const cJSON *c = root->child; c; c = c->next) {
        if (strcmp(c->string, "__metadata__") == 0) {
            md = c;
            continue;
        }
        size_t *dims = f->dims_ + f->n_tensors * SG_ST_MAX_DIMS;
        if ((st = sg_st_read_entry(c, c->string, data_len, &f->tensors_[f->n_tensors], dims, err, errcap)) != SG_OK)
            goto done;
        f->n_tensors++;
    }
    if ((st = sg_st_check_tiling(f->tensors_, f->n_tensors, data_len, err, errcap)) != SG_OK)
        goto done;
    qsort(f->tensors_, f->n_tensors, sizeof *f->tensors_, sg_st_name_cmp);
    f->tensors = f->tensors_;
    st = sg_st_read_meta(f, md, err, errcap);
done:
    sg_free(names);
    return st;
}

sg_status sg_st_file_parse(sg_st_file *f, const void *buf, size_t len, char *err, size_t errcap)
{
    if (!f)
        return sg_error_format(err, errcap, SG_ERR_ARG, "safetensors: NULL file");
    sg_st_file_zero(f);
    if (!buf && len)
        return sg_error_format(err, errcap, SG_ERR_ARG, "safetensors: NULL buffer");
    const unsigned char *b = buf;
    size_t n = 0;
    sg_status st = sg_st_check_lengths(len, len >= 8 ? sg_le_get(b, 8) : 0, &n, err, errcap);
    if (st == SG_OK)
        st = sg_st_parse_header(f, b + 8, n, len - 8 - n, err, errcap);
    if (st == SG_OK)
        f->data = b + 8 + n;
    f->data_offset_ = 8 + n;
    return st;
}

sg_status sg_st_file_read(sg_st_file *f, const char *path, const char *what, char *err, size_t errcap)
{
    if (!f)
        return sg_error_format(err, errcap, SG_ERR_ARG, "safetensors: NULL file");
    sg_st_file_zero(f);
    what = what ? what : "file";
    unsigned char *buf;
    size_t len;
    sg_status st = sg_file_read_all(path, what, &buf, &len, err, errcap);
    if (st != SG_OK)
        return st;
    char msg[512];
    st = sg_st_file_parse(f, buf, len, msg, sizeof msg);
    f->owned_ = buf; /* after parse, which zeroes f */
    if (st != SG_OK)
        sg_error_format(err, errcap, st, "%s '%s': %s", what, path, msg);
    return st;
}

sg_status sg_st_file_read_header(sg_st_file *f, const char *path, const char *what, char *err, size_t errcap)
{
    if (!f)
        return sg_error_format(err, errcap, SG_ERR_ARG, "safetensors: NULL file");
    sg_st_file_zero(f);
    what = what ? what : "file";
    size_t size = 0, n = 0;
    int fd = sg_file_open_read(path, what, &size, err, errcap);
    if (fd < 0)
        return path ? SG_ERR_IO : SG_ERR_ARG;
    f->fd_ = fd;
    char msg[512];
    unsigned char lenb[8];
    unsigned char *hdr = NULL;
    sg_status st = SG_OK;
    if (size >= 8 && !sg_file_pread_all(fd, lenb, 8, 0)) {
        st = SG_ERR_IO;
        goto done;
    }
    if ((st = sg_st_check_lengths(size, size >= 8 ? sg_le_get(lenb, 8) : 0, &n, msg, sizeof msg)) != SG_OK)
        goto done;
    if (!(hdr = sg_malloc(n))) {
        st = sg_error_format(msg, sizeof msg, SG_ERR_NOMEM, "out of memory for a %zu-byte header", n);
        goto done;
    }
    if (!sg_file_pread_all(fd, hdr, n, 8)) {
        st = SG_ERR_IO;
        goto done;
    }
    st = sg_st_parse_header(f, hdr, n, size - 8 - n, msg, sizeof msg);
    f->data_offset_ = 8 + n;
done:
    if (st == SG_ERR_IO)
        snprintf(msg, sizeof msg, "read failed: %s", errno ? strerror(errno) : "unexpected end of file");
    if (st != SG_OK)
        sg_error_format(err, errcap, st, "%s '%s': %s", what, path, msg);
    sg_free(hdr);
    return st;
}

const sg_st_tensor *sg_st_file_find(const sg_st_file *f, const char *name)
{
    size_t lo = 0, hi = f->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(f->tensors[mid].name, name);
        if (c == 0)
            return &f->tensors[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

size_t sg_st_file_meta_index(const sg_st_file *f, const char *key)
{
    size_t lo = 0, hi = f->n_meta;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(f->meta[mid].key, key);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return SIZE_MAX;
}

const char *sg_st_file_meta(const sg_st_file *f, const char *key)
{
    size_t i = sg_st_file_meta_index(f, key);
    return i == SIZE_MAX ? NULL : f->meta[i].value;
}

sg_status sg_st_file_bytes(const sg_st_file *f, const sg_st_tensor *t, void *dst, char *err, size_t errcap)
{
    size_t n = t->end - t->begin;
    if (f->data) {
        memcpy(dst, f->data + t->begin, n);
        return SG_OK;
    }
    if (f->fd_ < 0)
        return sg_error_format(err, errcap, SG_ERR_STATE, "safetensors: the file holds no data to read");
    if (!sg_file_pread_all(f->fd_, dst, n, f->data_offset_ + t->begin)) {
        int e = errno;
        return sg_error_format(err, errcap, SG_ERR_IO, "tensor '%s': read failed: %s", t->name,
                               e ? strerror(e) : "unexpected end of file");
    }
    return SG_OK;
}

/* ---- writing -------------------------------------------------------------- */

/* One tensor to write. */
typedef struct sg_st_wtensor {
    char *name; /* owned */
    sg_st_dtype dtype;
    int ndim;
    size_t shape[SG_ST_MAX_DIMS];
    size_t numel;
    const void *data; /* (numel) host elements, borrowed */
} sg_st_wtensor;

void sg_st_writer_init(sg_st_writer *w) { memset(w, 0, sizeof *w); }

void sg_st_writer_free(sg_st_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_tensors; i++)
        sg_free(w->tensors[i].name);
    for (size_t i = 0; i < w->n_meta; i++) {
        sg_free((char *)w->meta[i].key);
        sg_free((char *)w->meta[i].value);
    }
    sg_free(w->tensors);
    sg_free(w->meta);
    sg_st_writer_init(w);
}

sg_status sg_st_writer_add(sg_st_writer *w, const char *name, sg_st_dtype dtype, int ndim, const size_t *shape,
                           const void *data, char *err, size_t errcap)
{
    if (!w || !name || (ndim && !shape) || ndim < 0 || ndim > SG_ST_MAX_DIMS || (unsigned)dtype >= SG_ST_NDTYPES)
        return sg_error_format(err, errcap, SG_ERR_ARG, "safetensors: bad tensor arguments for '%s'",
                               name ? name : "(null)");
    if (!sg_utf8_valid_str(name) || strcmp(name, "__metadata__") == 0)
        return sg_error_format(err, errcap, SG_ERR_ARG, "safetensors: tensor name '%s' is reserved or not UTF-8", name);
    size_t numel = 1, bytes;
    for (int i = 0; i < ndim; i++)
        if (!sg_size_mul(numel, shape[i], &numel))
            numel = SIZE_MAX;
    if (numel == SIZE_MAX || !sg_size_mul(numel, sg_st_dtypes[dtype].size, &bytes))
        return sg_error_format(err, errcap, SG_ERR_ARG, "safetensors: tensor '%s' is too large", name);
    if (numel && !data)
        return sg_error_format(err, errcap, SG_ERR_ARG, "safetensors: tensor '%s' has no data", name);
    void *items = w->tensors;
    char *copy = sg_str_dup(name);
    if (!copy || !sg_array_reserve(&items, &w->cap_tensors, w->n_tensors + 1, sizeof *w->tensors)) {
        sg_free(copy);
        return sg_error_format(err, errcap, SG_ERR_NOMEM, "safetensors: out of memory");
    }
    w->tensors = items;
    sg_st_wtensor *t = &w->tensors[w->n_tensors++];
    memset(t, 0, sizeof *t);
    t->name = copy;
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->shape[i] = shape[i];
    t->numel = numel;
    t->data = data;
    return SG_OK;
}

sg_status sg_st_writer_meta(sg_st_writer *w, const char *key, const char *value, char *err, size_t errcap)
{
    if (!w || !key || !value)
        return sg_error_format(err, errcap, SG_ERR_ARG, "safetensors: NULL metadata key or value");
    if (!sg_utf8_valid_str(key) || !sg_utf8_valid_str(value))
        return sg_error_format(err, errcap, SG_ERR_ARG, "safetensors: metadata '%.60s' is not valid UTF-8", key);
    char *v = sg_str_dup(value);
    if (!v)
        return sg_error_format(err, errcap, SG_ERR_NOMEM, "safetensors: out of memory");
    for (size_t i = 0; i < w->n_meta; i++)
        if (strcmp(w->meta[i].key, key) == 0) {
            sg_free((char *)w->meta[i].value);
            w->meta[i].value = v;
            return SG_OK;
        }
    void *items = w->meta;
    char *k = sg_str_dup(key);
    if (!k || !sg_array_reserve(&items, &w->cap_meta, w->n_meta + 1, sizeof *w->meta)) {
        sg_free(k);
        sg_free(v);
        return sg_error_format(err, errcap, SG_ERR_NOMEM, "safetensors: out of memory");
    }
    w->meta = items;
    w->meta[w->n_meta++] = (sg_st_meta){k, v};
    return SG_OK;
}

/* Everything a save needs: the order of the tensors, their offsets and the
 * printed header. */
typedef struct sg_st_plan {
    const sg_st_wtensor **order; /* (T) sorted by name */
    size_t *begin;               /* (T) offsets in the data section, in order */
    char *header;                /* owned (cJSON allocation), NUL-terminated JSON */
    size_t header_len, padded_len, data_len;
} sg_st_plan;

static void sg_st_plan_free(sg_st_plan *pl)
{
    sg_free(pl->order);
    sg_free(pl->begin);
    if (pl->header)
        cJSON_free(pl->header);
    memset(pl, 0, sizeof *pl);
}

static int sg_st_wt_cmp(const void *a, const void *b)
{
    return strcmp((*(const sg_st_wtensor *const *)a)->name, (*(const sg_st_wtensor *const *)b)->name);
}

static int sg_st_meta_ptr_cmp(const void *a, const void *b)
{
    return strcmp((*(const sg_st_meta *const *)a)->key, (*(const sg_st_meta *const *)b)->key);
}

/* Adds a raw JSON array of integers "[a,b,...]" under key to obj. */
static bool sg_st_add_int_array(cJSON *obj, const char *key, const size_t *v, int n)
{
    char buf[2 + SG_ST_MAX_DIMS * 22];
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

static sg_status sg_st_plan_make(sg_st_plan *pl, const sg_st_writer *w, char *err, size_t errcap)
{
    memset(pl, 0, sizeof *pl);
    if (!w)
        return sg_error_format(err, errcap, SG_ERR_ARG, "safetensors: NULL writer");
    sg_st_hooks();
    size_t n = w->n_tensors;
    const sg_st_meta **meta = sg_malloc((w->n_meta ? w->n_meta : 1) * sizeof *meta);
    pl->order = sg_malloc((n ? n : 1) * sizeof *pl->order);
    pl->begin = sg_malloc((n ? n : 1) * sizeof *pl->begin);
    cJSON *root = cJSON_CreateObject();
    cJSON *md = NULL;
    sg_status st = SG_OK;
    if (!meta || !pl->order || !pl->begin || !root) {
        st = sg_error_format(err, errcap, SG_ERR_NOMEM, "safetensors: out of memory while building the header");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        pl->order[i] = &w->tensors[i];
    qsort(pl->order, n, sizeof *pl->order, sg_st_wt_cmp);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        const sg_st_wtensor *t = pl->order[i];
        if (i && strcmp(pl->order[i - 1]->name, t->name) == 0) {
            st = sg_error_format(err, errcap, SG_ERR_ARG, "safetensors: tensor '%s' is added twice", t->name);
            goto done;
        }
        size_t bytes = t->numel * sg_st_dtypes[t->dtype].size; /* checked by sg_st_writer_add */
        if (!sg_size_add(off, bytes, &off)) {
            st = sg_error_format(err, errcap, SG_ERR_ARG, "safetensors: the data section would exceed SIZE_MAX bytes");
            goto done;
        }
        pl->begin[i] = off - bytes;
    }
    pl->data_len = off;

    bool ok = true;
    if (w->n_meta) {
        for (size_t i = 0; i < w->n_meta; i++)
            meta[i] = &w->meta[i];
        qsort(meta, w->n_meta, sizeof *meta, sg_st_meta_ptr_cmp);
        ok = (md = cJSON_CreateObject()) != NULL;
        for (size_t i = 0; ok && i < w->n_meta; i++)
            ok = cJSON_AddStringToObject(md, meta[i]->key, meta[i]->value) != NULL;
        if (ok && (ok = cJSON_AddItemToObject(root, "__metadata__", md)))
            md = NULL; /* root owns it now */
    }
    for (size_t i = 0; ok && i < n; i++) {
        const sg_st_wtensor *t = pl->order[i];
        cJSON *e = cJSON_CreateObject();
        size_t offs[2] = {pl->begin[i], pl->begin[i] + t->numel * sg_st_dtypes[t->dtype].size};
        ok = e && cJSON_AddStringToObject(e, "dtype", sg_st_dtypes[t->dtype].name) &&
             sg_st_add_int_array(e, "shape", t->shape, t->ndim) && sg_st_add_int_array(e, "data_offsets", offs, 2) &&
             cJSON_AddItemToObject(root, t->name, e);
        if (!ok)
            cJSON_Delete(e); /* not attached to root (cJSON_Delete(NULL) is a no-op) */
    }
    if (ok)
        ok = (pl->header = cJSON_PrintUnformatted(root)) != NULL;
    if (!ok) {
        st = sg_error_format(err, errcap, SG_ERR_NOMEM, "safetensors: out of memory while building the header");
        goto done;
    }
    pl->header_len = strlen(pl->header);
    pl->padded_len = pl->header_len + (8 - pl->header_len % 8) % 8;
    if (pl->data_len > SIZE_MAX - 8 - pl->padded_len)
        st = sg_error_format(err, errcap, SG_ERR_ARG, "safetensors: the file would exceed SIZE_MAX bytes");
done:
    cJSON_Delete(md);
    cJSON_Delete(root);
    sg_free(meta);
    if (st != SG_OK)
        sg_st_plan_free(pl);
    return st;
}

/* Where the bytes go: a FILE, or a preallocated buffer. */
typedef struct sg_st_sink {
    FILE *f;
    unsigned char *mem; /* (cap) */
    size_t len, cap;
} sg_st_sink;

static bool sg_st_sink_write(sg_st_sink *s, const void *bytes, size_t n)
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
static bool sg_st_plan_write(const sg_st_plan *pl, size_t n, sg_st_sink *s)
{
    unsigned char chunk[4096];
    sg_le_put(chunk, (uint64_t)pl->padded_len, 8);
    if (!sg_st_sink_write(s, chunk, 8) || !sg_st_sink_write(s, pl->header, pl->header_len))
        return false;
    memset(chunk, ' ', 8);
    if (!sg_st_sink_write(s, chunk, pl->padded_len - pl->header_len))
        return false;
    for (size_t i = 0; i < n; i++) {
        const sg_st_wtensor *t = pl->order[i];
        size_t es = sg_st_dtypes[t->dtype].size, fill = 0;
        for (size_t j = 0; j < t->numel; j++) {
            sg_le_put(chunk + fill, sg_host_bits(t->data, j, es), es);
            fill += es;
            if (fill + 8 > sizeof chunk || j + 1 == t->numel) {
                if (!sg_st_sink_write(s, chunk, fill))
                    return false;
                fill = 0;
            }
        }
    }
    return true;
}

sg_status sg_st_writer_to_mem(const sg_st_writer *w, unsigned char **out, size_t *out_len, char *err, size_t errcap)
{
    if (!out || !out_len)
        return sg_error_format(err, errcap, SG_ERR_ARG, "safetensors: NULL output pointer");
    *out = NULL;
    *out_len = 0;
    sg_st_plan pl;
    sg_status st = sg_st_plan_make(&pl, w, err, errcap);
    if (st != SG_OK)
        return st;
    size_t total = 8 + pl.padded_len + pl.data_len;
    sg_st_sink s = {.mem = sg_malloc(total), .cap = total};
    if (!s.mem) {
        sg_st_plan_free(&pl);
        return sg_error_format(err, errcap, SG_ERR_NOMEM, "safetensors: out of memory for %zu bytes", total);
    }
    bool ok = sg_st_plan_write(&pl, w->n_tensors, &s);
    sg_st_plan_free(&pl);
    if (!ok || s.len != total) { /* cannot happen: the plan sized the buffer */
        sg_free(s.mem);
        return sg_error_format(err, errcap, SG_ERR_STATE, "safetensors: internal size mismatch");
    }
    *out = s.mem;
    *out_len = total;
    return SG_OK;
}

sg_status sg_st_writer_save(const sg_st_writer *w, const char *path, const char *what, char *err, size_t errcap)
{
    if (!what)
        what = "file";
    if (!path || !*path)
        return sg_error_format(err, errcap, SG_ERR_ARG, "%s: no path given", what);
    sg_st_plan pl;
    sg_status st = sg_st_plan_make(&pl, w, err, errcap);
    if (st != SG_OK)
        return st;
    sg_file_tmp tmp;
    if ((st = sg_file_tmp_open(&tmp, path, what, err, errcap)) == SG_OK) {
        sg_st_sink s = {.f = tmp.f};
        /* a failed fwrite sets the stream's error flag, which the commit reports */
        if (sg_st_plan_write(&pl, w->n_tensors, &s) || ferror(tmp.f)) {
            st = sg_file_tmp_commit(&tmp, err, errcap);
        } else {
            sg_file_tmp_abort(&tmp);
            st = sg_error_format(err, errcap, SG_ERR_IO, "%s '%s': writing failed", what, path);
        }
    }
    sg_st_plan_free(&pl);
    return st;
}
