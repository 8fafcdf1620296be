/* sg_util.h — the small helpers every part of libseqgrad needs and none owns:
 * strings (copies, prefixes, UTF-8), hashing, arrays that grow, checked size
 * arithmetic, and numbers as text that read back exactly in any locale.
 *
 * Everything here allocates through sg_alloc.h (so tests count allocations and
 * inject failures) and never aborts.  Ownership is given per function.
 */
#ifndef SG_UTIL_H
#define SG_UTIL_H

#include "graph/core/sg_tensor.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- strings -------------------------------------------------------------- */

/* A copy of the NUL-terminated s (caller-owned, sg_free); NULL when out of
 * memory or s is NULL. */
SG_NODISCARD char *sg_str_dup(const char *s);
/* A NUL-terminated copy of the n bytes at s (caller-owned); NULL on OOM. */
SG_NODISCARD char *sg_str_ndup(const char *s, size_t n);
/* Whether s begins with prefix. */
bool sg_str_starts_with(const char *s, const char *prefix);

/* Whether the n bytes at s are well-formed UTF-8: no overlong forms, no
 * surrogates, nothing above U+10FFFF (NUL bytes are allowed). */
bool sg_utf8_valid(const void *s, size_t n);
/* sg_utf8_valid over strlen(s) bytes. */
bool sg_utf8_valid_str(const char *s);
/* Length (1..4) of the well-formed UTF-8 sequence that starts at p, of at most
 * n bytes available; 0 when p does not start one (or n is 0). */
size_t sg_utf8_seq_len(const unsigned char *p, size_t n);

/* 64-bit FNV-1a hash of the n bytes at p. */
uint64_t sg_hash_bytes(const void *p, size_t n);

/* ---- sizes and arrays ----------------------------------------------------- */

/* *out = a * b (or a + b); false, *out untouched, when it would exceed SIZE_MAX. */
SG_NODISCARD bool sg_size_mul(size_t a, size_t b, size_t *out);
SG_NODISCARD bool sg_size_add(size_t a, size_t b, size_t *out);

/* (Growing arrays: sg_array_reserve, in graph/core/sg_alloc.h.) */

/* ---- numbers as text ------------------------------------------------------ */

/* Room for any number sg_fmt_double writes, with its NUL. */
enum { SG_FMT_DOUBLE_CAP = 32 };
/* Writes finite v as the shortest of %.15g, %.16g, %.17g that reads back as v
 * exactly ("0.9", not "0.90000000000000002"), with '.' as the radix whatever
 * the locale.  buf must hold SG_FMT_DOUBLE_CAP bytes. */
void sg_fmt_double(char *buf, double v);
/* A float in 9 significant digits (enough that reading it back as a float
 * gives v exactly, FLT_DECIMAL_DIG), '.' as the radix whatever the locale:
 * one snprintf, no trial parses.  buf must hold SG_FMT_DOUBLE_CAP bytes. */
void sg_fmt_float(char *buf, float v);
/* Parses the whole of s as a finite decimal number ('.' radix in any locale,
 * optional sign and exponent; no spaces, hex, inf or nan).  false otherwise. */
bool sg_parse_double(const char *s, double *out);
/* Parses the whole of s as decimal digits that fit a uint64_t (no sign, no
 * spaces).  false otherwise. */
bool sg_parse_u64(const char *s, uint64_t *out);

#endif
