/* sg_util.c — strings, UTF-8, hashing, growing arrays, checked sizes and
 * locale-independent numbers (see sg_util.h). */
#include "graph/util/sg_util.h"

#include "graph/core/sg_alloc.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- strings -------------------------------------------------------------- */

char *sg_str_ndup(const char *s, size_t n)
{
    if (!s || n == SIZE_MAX)
        return NULL;
    char *d = sg_malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

char *sg_str_dup(const char *s) { return s ? sg_str_ndup(s, strlen(s)) : NULL; }

bool sg_str_starts_with(const char *s, const char *prefix) { return strncmp(s, prefix, strlen(prefix)) == 0; }

size_t sg_utf8_seq_len(const unsigned char *p, size_t n)
{
    if (n == 0)
        return 0;
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0; /* no overlong forms */
        if (c == 0xED)
            hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F; /* <= U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return len;
}

bool sg_utf8_valid(const void *s, size_t n)
{
    const unsigned char *p = s;
    for (size_t i = 0; i < n;) {
        size_t k = sg_utf8_seq_len(p + i, n - i);
        if (!k)
            return false;
        i += k;
    }
    return true;
}

bool sg_utf8_valid_str(const char *s) { return s && sg_utf8_valid(s, strlen(s)); }

uint64_t sg_hash_bytes(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* ---- sizes and arrays ----------------------------------------------------- */

bool sg_size_mul(size_t a, size_t b, size_t *out)
{
    if (a && b > SIZE_MAX / a)
        return false;
    *out = a * b;
    return true;
}

bool sg_size_add(size_t a, size_t b, size_t *out)
{
    if (b > SIZE_MAX - a)
        return false;
    *out = a + b;
    return true;
}

/* ---- numbers as text ------------------------------------------------------ */

void sg_fmt_double(char *buf, double v)
{
    if (!isfinite(v)) {
        snprintf(buf, SG_FMT_DOUBLE_CAP, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, SG_FMT_DOUBLE_CAP, "%.*g", prec, v);
        for (char *c = buf; *c; c++) /* the locale's radix, whatever it is, becomes '.' */
            if (!((*c >= '0' && *c <= '9') || *c == '-' || *c == '+' || *c == 'e' || *c == 'E'))
                *c = '.';
        double back;
        if (sg_parse_double(buf, &back) && back == v)
            return;
    }
}

void sg_fmt_float(char *buf, float v)
{
    if (!isfinite(v)) {
        snprintf(buf, SG_FMT_DOUBLE_CAP, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
        return;
    }
    snprintf(buf, SG_FMT_DOUBLE_CAP, "%.9g", (double)v);
    for (char *c = buf; *c; c++) /* the locale's radix, whatever it is, becomes '.' */
        if (!((*c >= '0' && *c <= '9') || *c == '-' || *c == '+' || *c == 'e' || *c == 'E'))
            *c = '.';
}

bool sg_parse_double(const char *s, double *out)
{
    char buf[64];
    size_t n = strlen(s);
    if (n == 0 || n >= sizeof buf)
        return false;
    const char *radix = localeconv()->decimal_point;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.')
            c = radix && radix[0] && !radix[1] ? radix[0] : '.';
        else if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == 'e' || c == 'E'))
            return false;
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

bool sg_parse_u64(const char *s, uint64_t *out)
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
