/* sg_w2v_vectors.c — the word2vec vector formats and cosine neighbours (see
 * sg_w2v_vectors.h). */
#include "models/word2vec/sg_w2v_vectors.h"

#include "graph/core/sg_alloc.h"
#include "graph/util/sg_file.h"
#include "graph/util/sg_util.h"
#include "models/data/sg_text.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool sg_vec_blank(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

sg_status sg_w2v_vectors_save(const char *path, const char *const *words, const float *x, size_t V, size_t D,
                              bool binary, char *err, size_t errcap)
{
    for (size_t i = 0; i < V; i++) {
        const char *w = words[i];
        bool bad = !w || !*w;
        for (const char *p = w; !bad && *p; p++)
            bad = sg_vec_blank((unsigned char)*p) || *p == '\n';
        if (bad)
            return sg_error_format(err, errcap, SG_ERR_ARG, "%s: word %zu is empty or holds a blank", path, i);
    }
    sg_file_tmp t;
    sg_status st = sg_file_tmp_open(&t, path, "vectors", err, errcap);
    if (st != SG_OK)
        return st;
    bool ok = fprintf(t.f, "%zu %zu\n", V, D) > 0;
    for (size_t i = 0; ok && i < V; i++) {
        ok = fputs(words[i], t.f) >= 0 && fputc(' ', t.f) != EOF;
        if (binary) {
            for (size_t d = 0; ok && d < D; d++) { /* little-endian float32, whatever the host */
                uint32_t u;
                memcpy(&u, &x[i * D + d], 4);
                unsigned char b[4] = {(unsigned char)u, (unsigned char)(u >> 8), (unsigned char)(u >> 16),
                                      (unsigned char)(u >> 24)};
                ok = fwrite(b, 1, 4, t.f) == 4;
            }
        } else {
            for (size_t d = 0; ok && d < D; d++) {
                char num[SG_FMT_DOUBLE_CAP];
                sg_fmt_float(num, x[i * D + d]);
                ok = fputs(num, t.f) >= 0 && (d + 1 == D || fputc(' ', t.f) != EOF);
            }
        }
        ok = ok && fputc('\n', t.f) != EOF;
    }
    if (!ok) {
        sg_file_tmp_abort(&t);
        return sg_error_format(err, errcap, SG_ERR_IO, "%s: cannot write the vectors: %s", path, strerror(errno));
    }
    return sg_file_tmp_commit(&t, err, errcap);
}

void sg_w2v_vectors_free(sg_w2v_vectors *v)
{
    if (!v)
        return;
    for (size_t i = 0; v->words && i < v->V; i++)
        sg_free(v->words[i]);
    sg_free(v->words);
    sg_free(v->x);
    sg_free(v->unit);
    sg_vocab_free(v->index);
    memset(v, 0, sizeof *v);
}

/* The next blank-separated token on the current line: [*s, *s + *n); false at
 * the end of the line (the '\n' is not consumed) or of the buffer. */
static bool sg_vec_token(const unsigned char *buf, size_t len, size_t *pos, size_t *s, size_t *n)
{
    while (*pos < len && sg_vec_blank(buf[*pos]))
        (*pos)++;
    if (*pos >= len || buf[*pos] == '\n')
        return false;
    *s = *pos;
    while (*pos < len && buf[*pos] != '\n' && !sg_vec_blank(buf[*pos]))
        (*pos)++;
    *n = *pos - *s;
    return true;
}

/* The rest of the line must be blank; the '\n' (if any) is consumed. */
static bool sg_vec_end_line(const unsigned char *buf, size_t len, size_t *pos)
{
    while (*pos < len && sg_vec_blank(buf[*pos]))
        (*pos)++;
    if (*pos < len && buf[*pos] != '\n')
        return false;
    if (*pos < len)
        (*pos)++;
    return true;
}

static bool sg_vec_size(const unsigned char *p, size_t n, size_t *out)
{
    char tmp[32];
    uint64_t v;
    if (n == 0 || n >= sizeof tmp)
        return false;
    memcpy(tmp, p, n);
    tmp[n] = '\0';
    if (!sg_parse_u64(tmp, &v) || v > (uint64_t)SIZE_MAX)
        return false;
    *out = (size_t)v;
    return true;
}

sg_status sg_w2v_vectors_parse(sg_w2v_vectors *v, const unsigned char *buf, size_t len, const char *name, bool binary,
                               char *err, size_t errcap)
{
    memset(v, 0, sizeof *v);
    size_t pos = 0, s, n, V, D, cells;
    bool head = sg_vec_token(buf, len, &pos, &s, &n) && sg_vec_size(buf + s, n, &V) &&
                sg_vec_token(buf, len, &pos, &s, &n) && sg_vec_size(buf + s, n, &D) && sg_vec_end_line(buf, len, &pos);
    if (!head || !V || !D || D > 100000 || !sg_size_mul(V, D, &cells) || V > len)
        return sg_error_format(err, errcap, SG_ERR_FORMAT,
                               "%s:1: the first line must be the word count and the dimension (\"V D\", both >= 1)",
                               name);
    v->words = sg_calloc(V, sizeof *v->words);
    v->x = sg_malloc(cells * sizeof *v->x);
    v->unit = sg_malloc(cells * sizeof *v->unit);
    if (!v->words || !v->x || !v->unit) {
        sg_w2v_vectors_free(v);
        return sg_error_format(err, errcap, SG_ERR_NOMEM, "%s: out of memory for %zu x %zu vectors", name, V, D);
    }
    v->V = V;
    v->D = D;
    sg_status st = SG_OK;
    for (size_t i = 0; i < V && st == SG_OK; i++) {
        size_t line = i + 2;
        while (binary && pos < len && buf[pos] == '\n') /* word2vec.c ends each record with '\n' */
            pos++;
        if (!sg_vec_token(buf, len, &pos, &s, &n)) {
            st = sg_error_format(err, errcap, SG_ERR_FORMAT, "%s: %s %zu: missing (the header says %zu words)", name,
                                 binary ? "record" : "line", binary ? i + 1 : line, V);
            break;
        }
        if (!(v->words[i] = sg_str_ndup((const char *)buf + s, n))) {
            st = sg_error_format(err, errcap, SG_ERR_NOMEM, "%s: out of memory", name);
            break;
        }
        if (binary) {
            if (pos < len && buf[pos] == ' ')
                pos++;
            if (len - pos < 4 * D) {
                st = sg_error_format(err, errcap, SG_ERR_FORMAT,
                                     "%s: record %zu ('%s'): %zu bytes of vector, %zu needed", name, i + 1, v->words[i],
                                     len - pos, 4 * D);
                break;
            }
            for (size_t d = 0; d < D; d++, pos += 4) {
                uint32_t u = (uint32_t)buf[pos] | (uint32_t)buf[pos + 1] << 8 | (uint32_t)buf[pos + 2] << 16 |
                             (uint32_t)buf[pos + 3] << 24;
                memcpy(&v->x[i * D + d], &u, 4);
                if (!isfinite(v->x[i * D + d])) {
                    st = sg_error_format(err, errcap, SG_ERR_FORMAT, "%s: record %zu ('%s'): value %zu is not finite",
                                         name, i + 1, v->words[i], d + 1);
                    break;
                }
            }
            continue;
        }
        for (size_t d = 0; d < D && st == SG_OK; d++) {
            char tmp[64];
            double x;
            if (!sg_vec_token(buf, len, &pos, &s, &n))
                st = sg_error_format(err, errcap, SG_ERR_FORMAT, "%s:%zu: '%s' has %zu values, the header says %zu",
                                     name, line, v->words[i], d, D);
            else if (n >= sizeof tmp || (memcpy(tmp, buf + s, n), tmp[n] = '\0', !sg_parse_double(tmp, &x)) ||
                     !isfinite((float)x))
                st = sg_error_format(err, errcap, SG_ERR_FORMAT, "%s:%zu: value %zu of '%s' is not a finite number",
                                     name, line, d + 1, v->words[i]);
            else
                v->x[i * D + d] = (float)x;
        }
        if (st == SG_OK && !sg_vec_end_line(buf, len, &pos))
            st = sg_error_format(err, errcap, SG_ERR_FORMAT, "%s:%zu: '%s' has more than the %zu values of the header",
                                 name, line, v->words[i], D);
    }
    if (st == SG_OK) { /* the words' index; a word given twice is refused */
        char why[512];
        if ((st = sg_vocab_from_words((const char *const *)v->words, V, &v->index, why, sizeof why)) != SG_OK)
            st = sg_error_format(err, errcap, st, "%s: %s", name, why);
    }
    if (st != SG_OK) {
        sg_w2v_vectors_free(v);
        return st;
    }
    for (size_t i = 0; i < V; i++) {
        double ss = 0;
        for (size_t d = 0; d < D; d++)
            ss += (double)v->x[i * D + d] * v->x[i * D + d];
        double inv = ss > 0 ? 1 / sqrt(ss) : 0;
        for (size_t d = 0; d < D; d++)
            v->unit[i * D + d] = (float)(v->x[i * D + d] * inv);
    }
    return SG_OK;
}

sg_status sg_w2v_vectors_load(sg_w2v_vectors *v, const char *path, bool binary, char *err, size_t errcap)
{
    memset(v, 0, sizeof *v);
    unsigned char *buf = NULL;
    size_t len = 0;
    sg_status st = sg_file_read_all(path, "vectors", &buf, &len, err, errcap);
    if (st != SG_OK)
        return st;
    st = sg_w2v_vectors_parse(v, buf, len, path, binary, err, errcap);
    sg_free(buf);
    return st;
}

long sg_w2v_vectors_find(const sg_w2v_vectors *v, const char *word) { return sg_vocab_id(v->index, word); }

size_t sg_w2v_vectors_nearest(const sg_w2v_vectors *v, const float *q, size_t k, const long *exclude, size_t n_exclude,
                              long *out_rows, double *out_cos)
{
    size_t found = 0;
    for (size_t i = 0; k && i < v->V; i++) {
        bool skip = false;
        for (size_t e = 0; e < n_exclude && !skip; e++)
            skip = exclude[e] == (long)i;
        if (skip)
            continue;
        double c = 0;
        for (size_t d = 0; d < v->D; d++)
            c += (double)q[d] * v->unit[i * v->D + d];
        if (found == k && !(c > out_cos[k - 1]))
            continue;
        size_t at = found < k ? found++ : k - 1; /* insert, keeping the list sorted, best first */
        while (at > 0 && out_cos[at - 1] < c) {
            out_cos[at] = out_cos[at - 1];
            out_rows[at] = out_rows[at - 1];
            at--;
        }
        out_cos[at] = c;
        out_rows[at] = (long)i;
    }
    return found;
}
