/* sg_checkpoint.c — seqgrad's training checkpoints: a schema on the generic
 * safetensors container (sg_safetensors.h; the layout is in sg_checkpoint.h
 * and docs/checkpoints.md).
 *
 * Saving: the parameters, the moments and the RNG words become tensors of a
 * writer, the library's scalars and the optimizer's own state
 * (sg_optim_state_save, keys under "seqgrad.optim.") and the caller's strings
 * become its metadata.
 * Loading: the container is parsed and validated by sg_safetensors.c; here
 * every tensor is matched to the set (a parameter, a moment of one, or the RNG
 * state), the library keys are read (every "seqgrad." key must be one that was
 * asked for), and only then is anything written (all-or-nothing).
 *
 * Dimension legend: P = a parameter's shape; numel = its element count.
 */
#include "graph/format/sg_checkpoint.h"

#include "graph/core/sg_alloc.h"
#include "graph/format/sg_safetensors.h"
#include "graph/util/sg_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char sg_ck_reserved_prefix[] = "seqgrad.";
static const char sg_ck_optim_prefix[] = "seqgrad.optim.";

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
    if (!ck || !key || !value || sg_str_starts_with(key, sg_ck_reserved_prefix) || strcmp(key, "__metadata__") == 0 ||
        !sg_utf8_valid_str(key) || !sg_utf8_valid_str(value))
        return SG_ERR_ARG;
    bool found;
    size_t pos = sg_ck_string_pos(ck, key, &found);
    char *v = sg_str_dup(value);
    if (!v)
        return SG_ERR_NOMEM;
    if (found) {
        sg_free(ck->strings[pos].value);
        ck->strings[pos].value = v;
        return SG_OK;
    }
    char *k = sg_str_dup(key);
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

/* ---- saving --------------------------------------------------------------- */

static sg_st_dtype sg_ck_st_dtype(sg_dtype dt) { return dt == SG_F64 ? SG_ST_F64 : SG_ST_F32; }

/* The tensor name "optim/<param>/<suffix>" into buf (cap bytes); false when it
 * does not fit. */
static bool sg_ck_moment_name(char *buf, size_t cap, const char *param, const char *suffix)
{
    int n = snprintf(buf, cap, "optim/%s/%s", param, suffix);
    return n >= 0 && (size_t)n < cap;
}

/* put for sg_state_io: "seqgrad.optim.<key>" into the writer. */
typedef struct sg_ck_put_ctx {
    sg_st_writer *w;
    char *err;
    size_t errcap;
} sg_ck_put_ctx;

static sg_status sg_ck_put_optim(void *ctx, const char *key, const char *value)
{
    sg_ck_put_ctx *c = ctx;
    char full[128];
    if (snprintf(full, sizeof full, "%s%s", sg_ck_optim_prefix, key) >= (int)sizeof full)
        return sg_error_format(c->err, c->errcap, SG_ERR_ARG, "checkpoint: optimizer key '%s' is too long", key);
    return sg_st_writer_meta(c->w, full, value, c->err, c->errcap);
}

static sg_status sg_ck_put_u64(sg_st_writer *w, const char *key, uint64_t v, char *err, size_t errcap)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)v);
    return sg_st_writer_meta(w, key, buf, err, errcap);
}

/* Fills w with everything a save of (ps, ck) writes.  Tensor data is
 * borrowed from ps and ck. */
static sg_status sg_ck_fill(sg_st_writer *w, const sg_params *ps, const sg_checkpoint *ck, char *err, size_t errcap)
{
    if (!ps)
        return sg_error_format(err, errcap, SG_ERR_ARG, "checkpoint: the parameter set is NULL");
    if (ps->dtype != SG_F32 && ps->dtype != SG_F64)
        return sg_error_format(err, errcap, SG_ERR_ARG, "checkpoint: the parameter set has dtype %s (need f32 or f64)",
                               sg_dtype_name(ps->dtype));
    char msg[512];
    sg_status st;
    if ((st = sg_st_writer_meta(w, "seqgrad.version", "1", err, errcap)) != SG_OK ||
        (st = sg_st_writer_meta(w, "seqgrad.dtype", ps->dtype == SG_F64 ? "f64" : "f32", err, errcap)) != SG_OK)
        return st;
    if (ck && ((st = sg_ck_put_u64(w, "seqgrad.epoch", ck->epoch, err, errcap)) != SG_OK ||
               (st = sg_ck_put_u64(w, "seqgrad.step", ck->step, err, errcap)) != SG_OK))
        return st;
    if (ck && ck->has_optim) {
        sg_ck_put_ctx pc = {w, msg, sizeof msg};
        sg_state_io io = {
            .ctx = &pc, .put = sg_ck_put_optim, .prefix = sg_ck_optim_prefix, .err = msg, .errcap = sizeof msg};
        if ((st = sg_optim_state_save(&ck->optim, &io)) != SG_OK)
            return sg_error_format(err, errcap, st, "checkpoint: %s", msg);
    }
    for (size_t i = 0; ck && i < ck->n_strings; i++)
        if ((st = sg_st_writer_meta(w, ck->strings[i].key, ck->strings[i].value, err, errcap)) != SG_OK)
            return st;

    sg_st_dtype dt = sg_ck_st_dtype(ps->dtype);
    for (size_t i = 0; i < ps->n; i++) {
        const sg_param *p = ps->items[i];
        if (p->dtype != ps->dtype)
            return sg_error_format(err, errcap, SG_ERR_ARG, "checkpoint: parameter '%s' has dtype %s, its set %s",
                                   p->name, sg_dtype_name(p->dtype), sg_dtype_name(ps->dtype));
        if (!sg_utf8_valid_str(p->name) || strcmp(p->name, "__metadata__") == 0 || strcmp(p->name, "rng/state") == 0 ||
            sg_str_starts_with(p->name, "optim/"))
            return sg_error_format(err, errcap, SG_ERR_ARG,
                                   "checkpoint: parameter name '%s' is reserved or not UTF-8 (\"__metadata__\", "
                                   "\"rng/state\" and names starting with \"optim/\" are taken)",
                                   p->name);
        bool optim = ck && ck->has_optim; /* moments are optimizer state */
        const void *bufs[3] = {p->value, optim ? p->m : NULL, optim ? p->v : NULL};
        static const char *const suffix[3] = {NULL, "m", "v"};
        for (int r = 0; r < 3; r++) {
            if (!bufs[r])
                continue;
            char name[512];
            if (r && !sg_ck_moment_name(name, sizeof name, p->name, suffix[r]))
                return sg_error_format(err, errcap, SG_ERR_ARG, "checkpoint: parameter name '%.60s...' is too long",
                                       p->name);
            if ((st = sg_st_writer_add(w, r ? name : p->name, dt, p->shape.ndim, p->shape.d, bufs[r], err, errcap)) !=
                SG_OK)
                return st;
        }
    }
    if (ck && ck->has_rng) {
        size_t four = 4;
        if ((st = sg_st_writer_add(w, "rng/state", SG_ST_U64, 1, &four, ck->rng.s, err, errcap)) != SG_OK)
            return st;
    }
    return SG_OK;
}

sg_status sg_checkpoint_save_mem(const sg_params *ps, const sg_checkpoint *ck, unsigned char **out, size_t *out_len,
                                 char *err, size_t errcap)
{
    if (!out || !out_len)
        return sg_error_format(err, errcap, SG_ERR_ARG, "checkpoint: NULL output pointer");
    *out = NULL;
    *out_len = 0;
    sg_st_writer w;
    sg_st_writer_init(&w);
    sg_status st = sg_ck_fill(&w, ps, ck, err, errcap);
    if (st == SG_OK)
        st = sg_st_writer_to_mem(&w, out, out_len, err, errcap);
    sg_st_writer_free(&w);
    return st;
}

sg_status sg_checkpoint_save(const char *path, const sg_params *ps, const sg_checkpoint *ck, char *err, size_t errcap)
{
    if (!path || !*path)
        return sg_error_format(err, errcap, SG_ERR_ARG, "checkpoint: no path given");
    sg_st_writer w;
    sg_st_writer_init(&w);
    sg_status st = sg_ck_fill(&w, ps, ck, err, errcap);
    if (st == SG_OK)
        st = sg_st_writer_save(&w, path, "checkpoint", err, errcap);
    sg_st_writer_free(&w);
    return st;
}

/* ---- loading -------------------------------------------------------------- */

enum { SG_CK_ROLE_PARAM = 0, SG_CK_ROLE_M, SG_CK_ROLE_V, SG_CK_ROLE_RNG };

/* "(2, 3)" for a file tensor's shape, "(rank n)" above SG_MAX_DIMS. */
static const char *sg_ck_shape_str(const sg_st_tensor *t, char *buf, size_t cap)
{
    if (t->ndim > SG_MAX_DIMS) {
        snprintf(buf, cap, "(rank %d)", t->ndim);
        return buf;
    }
    sg_shape s = {.ndim = t->ndim};
    for (int i = 0; i < t->ndim; i++)
        s.d[i] = t->shape[i];
    return sg_shape_str(s, buf, cap);
}

/* "rng/state" must be U64 (4). */
static sg_status sg_ck_check_rng(const sg_st_tensor *t, char *err, size_t errcap)
{
    char sb[96];
    if (t->dtype != SG_ST_U64 || t->ndim != 1 || t->shape[0] != 4)
        return sg_error_format(err, errcap, SG_ERR_FORMAT, "tensor 'rng/state': %s %s in the file, U64 (4) expected",
                               sg_st_dtype_name(t->dtype), sg_ck_shape_str(t, sb, sizeof sb));
    return SG_OK;
}

/* Index of the parameter whose name is the n bytes at s, or SIZE_MAX. */
static size_t sg_ck_param_index(const sg_params *ps, const char *s, size_t n)
{
    for (size_t i = 0; i < ps->n; i++)
        if (strlen(ps->items[i]->name) == n && memcmp(ps->items[i]->name, s, n) == 0)
            return i;
    return SIZE_MAX;
}

/* What tensor t is for the set: *role and *param; checks its dtype and shape. */
static sg_status sg_ck_classify(const sg_params *ps, const sg_st_tensor *t, int *role, size_t *param, char *err,
                                size_t errcap)
{
    const char *nm = t->name;
    size_t len = strlen(nm);
    char sb[96], pb[96];
    if (strcmp(nm, "rng/state") == 0) {
        *role = SG_CK_ROLE_RNG;
        return sg_ck_check_rng(t, err, errcap);
    }
    size_t pi = sg_ck_param_index(ps, nm, len);
    const char *what = "parameter";
    *role = SG_CK_ROLE_PARAM;
    if (pi == SIZE_MAX && len > strlen("optim/") + 2 && sg_str_starts_with(nm, "optim/") && nm[len - 2] == '/' &&
        (nm[len - 1] == 'm' || nm[len - 1] == 'v')) {
        pi = sg_ck_param_index(ps, nm + 6, len - 8);
        *role = nm[len - 1] == 'm' ? SG_CK_ROLE_M : SG_CK_ROLE_V;
        what = "optimizer moment of parameter";
    }
    if (pi == SIZE_MAX)
        return sg_error_format(err, errcap, SG_ERR_FORMAT,
                               "unexpected tensor '%s': not a parameter of the set, an optimizer moment "
                               "'optim/<param>/m|v' of one, or 'rng/state'",
                               nm);
    *param = pi;
    const sg_param *p = ps->items[pi];
    if (t->dtype != SG_ST_F32 && t->dtype != SG_ST_F64)
        return sg_error_format(err, errcap, SG_ERR_DTYPE,
                               "tensor '%s' (%s '%s'): dtype %s cannot be loaded, F32 or F64 expected", nm, what,
                               p->name, sg_st_dtype_name(t->dtype));
    bool same = t->ndim == p->shape.ndim;
    for (int k = 0; same && k < t->ndim; k++)
        same = t->shape[k] == p->shape.d[k];
    if (!same)
        return sg_error_format(err, errcap, SG_ERR_SHAPE, "tensor '%s' (%s '%s'): shape %s in the file, %s expected",
                               nm, what, p->name, sg_ck_shape_str(t, sb, sizeof sb),
                               sg_shape_str(p->shape, pb, sizeof pb));
    return SG_OK;
}

/* get for sg_state_io: "seqgrad.optim.<key>" from the file, marking it used. */
typedef struct sg_ck_get_ctx {
    const sg_st_file *f;
    bool *used; /* (n_meta) */
} sg_ck_get_ctx;

static const char *sg_ck_meta_use(const sg_st_file *f, bool *used, const char *key)
{
    size_t i = sg_st_file_meta_index(f, key);
    if (i == SIZE_MAX)
        return NULL;
    used[i] = true;
    return f->meta[i].value;
}

static const char *sg_ck_get_optim(void *ctx, const char *key)
{
    sg_ck_get_ctx *c = ctx;
    char full[128];
    if (snprintf(full, sizeof full, "%s%s", sg_ck_optim_prefix, key) >= (int)sizeof full)
        return NULL;
    return sg_ck_meta_use(c->f, c->used, full);
}

static sg_status sg_ck_bad_meta(char *err, size_t errcap, const char *key, const char *value, const char *want)
{
    return sg_error_format(err, errcap, SG_ERR_FORMAT, "metadata '%s' is \"%.60s\", %s expected", key, value, want);
}

/* The training state of f into *out (all-or-nothing): the library keys, the
 * optimizer, the caller's strings and, when rng is not NULL, the 4 state
 * words from its 32 little-endian bytes. */
static sg_status sg_ck_state_from(const sg_st_file *f, const unsigned char *rng, sg_checkpoint *out, char *err,
                                  size_t errcap)
{
    sg_checkpoint ck;
    sg_checkpoint_init(&ck);
    bool *used = sg_calloc(f->n_meta ? f->n_meta : 1, sizeof *used);
    sg_status st = SG_OK;
    const char *v;
    if (!used) {
        st = sg_error_format(err, errcap, SG_ERR_NOMEM, "checkpoint: out of memory");
        goto done;
    }
    if ((v = sg_ck_meta_use(f, used, "seqgrad.version")) && strcmp(v, "1") != 0) {
        st = sg_ck_bad_meta(err, errcap, "seqgrad.version", v, "\"1\" (a newer seqgrad wrote this file?)");
        goto done;
    }
    if ((v = sg_ck_meta_use(f, used, "seqgrad.dtype")) && strcmp(v, "f32") != 0 && strcmp(v, "f64") != 0) {
        st = sg_ck_bad_meta(err, errcap, "seqgrad.dtype", v, "\"f32\" or \"f64\"");
        goto done;
    }
    if ((v = sg_ck_meta_use(f, used, "seqgrad.epoch")) && !sg_parse_u64(v, &ck.epoch)) {
        st = sg_ck_bad_meta(err, errcap, "seqgrad.epoch", v, "a decimal integer");
        goto done;
    }
    if ((v = sg_ck_meta_use(f, used, "seqgrad.step")) && !sg_parse_u64(v, &ck.step)) {
        st = sg_ck_bad_meta(err, errcap, "seqgrad.step", v, "a decimal integer");
        goto done;
    }
    if (sg_st_file_meta(f, "seqgrad.optim.kind")) {
        sg_ck_get_ctx gc = {f, used};
        sg_state_io io = {
            .ctx = &gc, .get = sg_ck_get_optim, .prefix = sg_ck_optim_prefix, .err = err, .errcap = errcap};
        if ((st = sg_optim_state_load(&ck.optim, &io)) != SG_OK)
            goto done;
        ck.has_optim = true;
    }
    /* any other "seqgrad." key is unknown (or belongs to an absent/other optimizer) */
    size_t n_user = 0;
    for (size_t i = 0; i < f->n_meta; i++) {
        if (!sg_str_starts_with(f->meta[i].key, sg_ck_reserved_prefix)) {
            n_user++;
        } else if (!used[i]) {
            st = sg_error_format(err, errcap, SG_ERR_FORMAT,
                                 "metadata '%s' is not a key of this seqgrad version (or does not fit "
                                 "seqgrad.optim.kind)",
                                 f->meta[i].key);
            goto done;
        }
    }
    /* the caller's strings, already sorted and unique */
    if (n_user && !(ck.strings = sg_calloc(n_user, sizeof *ck.strings))) {
        st = sg_error_format(err, errcap, SG_ERR_NOMEM, "checkpoint: out of memory");
        goto done;
    }
    ck.cap_strings = n_user;
    for (size_t i = 0; i < f->n_meta; i++) {
        if (sg_str_starts_with(f->meta[i].key, sg_ck_reserved_prefix))
            continue;
        sg_checkpoint_string *s = &ck.strings[ck.n_strings++];
        s->key = sg_str_dup(f->meta[i].key);
        s->value = sg_str_dup(f->meta[i].value);
        if (!s->key || !s->value) {
            st = sg_error_format(err, errcap, SG_ERR_NOMEM, "checkpoint: out of memory");
            goto done;
        }
    }
    if (rng) {
        ck.has_rng = true;
        sg_st_decode(SG_ST_U64, rng, 4, SG_ST_U64, ck.rng.s);
    }
done:
    sg_free(used);
    if (st == SG_OK) {
        sg_checkpoint_free(out);
        *out = ck;
    } else {
        sg_checkpoint_free(&ck);
    }
    return st;
}

/* The "rng/state" tensor of f (validated), or NULL when absent (*st set on error). */
static const sg_st_tensor *sg_ck_find_rng(const sg_st_file *f, sg_status *st, char *err, size_t errcap)
{
    const sg_st_tensor *t = sg_st_file_find(f, "rng/state");
    *st = t ? sg_ck_check_rng(t, err, errcap) : SG_OK;
    return *st == SG_OK ? t : NULL;
}

/* The training state of a parsed file (with or without its data in memory). */
static sg_status sg_ck_meta_of(const sg_st_file *f, sg_checkpoint *out, char *err, size_t errcap)
{
    sg_status st;
    const sg_st_tensor *r = sg_ck_find_rng(f, &st, err, errcap);
    if (st != SG_OK)
        return st;
    unsigned char rng[32];
    if (r && (st = sg_st_file_bytes(f, r, rng, err, errcap)) != SG_OK)
        return st;
    return sg_ck_state_from(f, r ? rng : NULL, out, err, errcap);
}

sg_status sg_checkpoint_read_meta_mem(const void *buf, size_t len, sg_checkpoint *out, char *err, size_t errcap)
{
    if ((!buf && len) || !out)
        return sg_error_format(err, errcap, SG_ERR_ARG, "checkpoint: NULL buffer or output");
    sg_st_file f;
    sg_status st = sg_st_file_parse(&f, buf, len, err, errcap);
    if (st == SG_OK)
        st = sg_ck_meta_of(&f, out, err, errcap);
    sg_st_file_free(&f);
    return st;
}

sg_status sg_checkpoint_read_meta(const char *path, sg_checkpoint *out, char *err, size_t errcap)
{
    if (!path || !out)
        return sg_error_format(err, errcap, SG_ERR_ARG, "checkpoint: no path or output given");
    sg_st_file f;
    sg_status st = sg_st_file_read_header(&f, path, "checkpoint", err, errcap);
    if (st == SG_OK) {
        char msg[512];
        if ((st = sg_ck_meta_of(&f, out, msg, sizeof msg)) != SG_OK)
            sg_error_format(err, errcap, st, "checkpoint '%s': %s", path, msg);
    }
    sg_st_file_free(&f);
    return st;
}

/* Loads the parsed file f (data in memory) into ps and out. */
static sg_status sg_ck_load_file(const sg_st_file *f, sg_params *ps, sg_checkpoint *out, char *err, size_t errcap)
{
    size_t *slot = sg_calloc(3 * ps->n + 1, sizeof *slot);  /* (3 * ps->n) tensor index + 1 per (param, role) */
    void **fresh = sg_calloc(2 * ps->n + 1, sizeof *fresh); /* (2 * ps->n) newly allocated moment buffers */
    const sg_st_tensor *rng_t = NULL;
    sg_checkpoint ck;
    sg_checkpoint_init(&ck);
    sg_status st = SG_OK;
    if (!slot || !fresh) {
        st = sg_error_format(err, errcap, SG_ERR_NOMEM, "checkpoint: out of memory");
        goto done;
    }
    /* match tensors to the set, in name order (deterministic messages) */
    for (size_t i = 0; i < f->n_tensors; i++) {
        int role;
        size_t param = 0;
        if ((st = sg_ck_classify(ps, &f->tensors[i], &role, &param, err, errcap)) != SG_OK)
            goto done;
        if (role == SG_CK_ROLE_RNG)
            rng_t = &f->tensors[i];
        else
            slot[3 * param + (size_t)role] = i + 1;
    }
    for (size_t i = 0; i < ps->n; i++)
        if (!slot[3 * i]) {
            char sb[96];
            st = sg_error_format(err, errcap, SG_ERR_FORMAT, "parameter '%s' %s is missing from the checkpoint",
                                 ps->items[i]->name, sg_shape_str(ps->items[i]->shape, sb, sizeof sb));
            goto done;
        }
    if (ps->dtype == SG_F32)
        for (size_t i = 0; i < f->n_tensors; i++) {
            const sg_st_tensor *t = &f->tensors[i];
            size_t bad;
            if (t != rng_t && t->dtype == SG_ST_F64 &&
                (bad = sg_st_fits_f32(f->data + t->begin, t->numel)) < t->numel) {
                double v;
                sg_st_decode(SG_ST_F64, f->data + t->begin + 8 * bad, 1, SG_ST_F64, &v);
                st = sg_error_format(err, errcap, SG_ERR_DTYPE,
                                     "tensor '%s': element %zu is %g, too large for the f32 parameter set", t->name,
                                     bad, v);
                goto done;
            }
        }

    /* the training state, then the moment buffers the set lacks */
    if ((st = sg_ck_state_from(f, rng_t ? f->data + rng_t->begin : NULL, &ck, err, errcap)) != SG_OK)
        goto done;
    size_t es = sg_dtype_size(ps->dtype);
    for (size_t i = 0; i < ps->n; i++) {
        const sg_param *p = ps->items[i];
        for (int r = 0; r < 2; r++) {
            bool have = r == 0 ? p->m != NULL : p->v != NULL;
            if (slot[3 * i + 1 + (size_t)r] && !have && !(fresh[2 * i + (size_t)r] = sg_malloc(p->numel * es))) {
                st = sg_error_format(err, errcap, SG_ERR_NOMEM, "checkpoint: out of memory for the moments of '%s'",
                                     p->name);
                goto done;
            }
        }
    }

    /* commit: nothing below can fail */
    sg_st_dtype to = sg_ck_st_dtype(ps->dtype);
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
            if (s) {
                const sg_st_tensor *t = &f->tensors[s - 1];
                sg_st_decode(t->dtype, f->data + t->begin, t->numel, to, dst[r]); /* F32/F64: checked above */
            } else if (dst[r]) {
                memset(dst[r], 0, p->numel * es);
            }
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
    sg_checkpoint_free(&ck);
    return st;
}

/* The set must be loadable into: f32 or f64, every parameter of its dtype. */
static sg_status sg_ck_check_set(const sg_params *ps, char *err, size_t errcap)
{
    if (!ps)
        return sg_error_format(err, errcap, SG_ERR_ARG, "checkpoint: the parameter set is NULL");
    if (ps->dtype != SG_F32 && ps->dtype != SG_F64)
        return sg_error_format(err, errcap, SG_ERR_ARG, "checkpoint: the parameter set has dtype %s (need f32 or f64)",
                               sg_dtype_name(ps->dtype));
    for (size_t i = 0; i < ps->n; i++)
        if (ps->items[i]->dtype != ps->dtype)
            return sg_error_format(err, errcap, SG_ERR_ARG, "checkpoint: parameter '%s' has dtype %s, its set %s",
                                   ps->items[i]->name, sg_dtype_name(ps->items[i]->dtype), sg_dtype_name(ps->dtype));
    return SG_OK;
}

sg_status sg_checkpoint_load_mem(const void *buf, size_t len, sg_params *ps, sg_checkpoint *out, char *err,
                                 size_t errcap)
{
    if (!buf && len)
        return sg_error_format(err, errcap, SG_ERR_ARG, "checkpoint: NULL buffer");
    sg_status st = sg_ck_check_set(ps, err, errcap);
    if (st != SG_OK)
        return st;
    sg_st_file f;
    if ((st = sg_st_file_parse(&f, buf, len, err, errcap)) == SG_OK)
        st = sg_ck_load_file(&f, ps, out, err, errcap);
    sg_st_file_free(&f);
    return st;
}

sg_status sg_checkpoint_load(const char *path, sg_params *ps, sg_checkpoint *out, char *err, size_t errcap)
{
    if (!path)
        return sg_error_format(err, errcap, SG_ERR_ARG, "checkpoint: no path given");
    sg_status st = sg_ck_check_set(ps, err, errcap);
    if (st != SG_OK)
        return st;
    sg_st_file f;
    if ((st = sg_st_file_read(&f, path, "checkpoint", err, errcap)) == SG_OK) {
        char msg[512];
        if ((st = sg_ck_load_file(&f, ps, out, msg, sizeof msg)) != SG_OK)
            sg_error_format(err, errcap, st, "checkpoint '%s': %s", path, msg);
    }
    sg_st_file_free(&f);
    return st;
}
