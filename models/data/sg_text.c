/* sg_text.c — word-level text for language modelling (see sg_text.h).
 *
 * The vocabulary keeps every word once in a character pool (id order) and
 * finds words through an open-addressing hash table: FNV-1a 64-bit hashes,
 * linear probing, a power-of-two slot count kept at least twice the number of
 * words, each slot holding an id or -1.  Building counts the training text in
 * one such table, then re-inserts the kept words in id order into a fresh one.
 *
 * Dimension legend: V vocabulary size, n tokens, B streams, L = n / B tokens
 * per stream, T window steps.  Pure data code: no ops, no graph.
 */
#include "models/data/sg_text.h"

#include "graph/core/sg_alloc.h"
#include "graph/util/sg_file.h"
#include "graph/util/sg_util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- messages ------------------------------------------------------------- */

static void sg_text_err_clear(char *err, size_t errcap)
{
    if (err && errcap)
        err[0] = '\0';
}

/* ---- the vocabulary and its hash table ------------------------------------ */

struct sg_vocab {
    char *pool; /* (pool_len) every word followed by a NUL, in id order; owned */
    size_t pool_len, pool_cap;
    size_t *off;      /* (V) offset of word id in pool; owned */
    size_t *len;      /* (V) byte length of word id; owned */
    uint64_t *hash;   /* (V) FNV-1a hash of word id; owned */
    uint64_t *count;  /* (V) training count of word id; owned */
    size_t n, cap;    /* V, capacity of the per-id arrays */
    int32_t *slots;   /* (n_slots) an id or -1 (empty); owned */
    size_t n_slots;   /* a power of two, >= 2 V */
    int32_t unk, eos; /* ids of "<unk>" and "<eos>" (-1 while building) */
};

/* An empty vocabulary with room for about `words` words; NULL on OOM.
 * Owned by the caller (sg_vocab_free). */
static sg_vocab *sg_vocab_new(size_t words)
{
    sg_vocab *v = sg_calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->unk = v->eos = -1;
    v->cap = words < 16 ? 16 : words;
    v->n_slots = 32;
    while (v->n_slots < 2 * v->cap)
        v->n_slots *= 2;
    v->pool_cap = 8 * v->cap;
    v->pool = sg_malloc(v->pool_cap);
    v->off = sg_malloc(v->cap * sizeof *v->off);
    v->len = sg_malloc(v->cap * sizeof *v->len);
    v->hash = sg_malloc(v->cap * sizeof *v->hash);
    v->count = sg_malloc(v->cap * sizeof *v->count);
    v->slots = sg_malloc(v->n_slots * sizeof *v->slots);
    if (!v->pool || !v->off || !v->len || !v->hash || !v->count || !v->slots) {
        sg_vocab_free(v);
        return NULL;
    }
    memset(v->slots, 0xff, v->n_slots * sizeof *v->slots); /* every slot -1 */
    return v;
}

void sg_vocab_free(sg_vocab *v)
{
    if (!v)
        return;
    sg_free(v->pool);
    sg_free(v->off);
    sg_free(v->len);
    sg_free(v->hash);
    sg_free(v->count);
    sg_free(v->slots);
    sg_free(v);
}

/* The id of the word (w, len) with hash h, or -1. */
static int32_t sg_vocab_find(const sg_vocab *v, const char *w, size_t len, uint64_t h)
{
    size_t mask = v->n_slots - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        int32_t id = v->slots[i];
        if (id < 0)
            return -1;
        if (v->hash[id] == h && v->len[id] == len && memcmp(v->pool + v->off[id], w, len) == 0)
            return id;
    }
}

/* Puts id into the first free slot of its probe sequence. */
static void sg_vocab_place(sg_vocab *v, int32_t id)
{
    size_t mask = v->n_slots - 1;
    size_t i = (size_t)v->hash[id] & mask;
    while (v->slots[i] >= 0)
        i = (i + 1) & mask;
    v->slots[i] = id;
}

/* Appends the word (w, len) with hash h, known to be absent, as id V; count 0.
 * SG_ERR_NOMEM (v unchanged) or SG_ERR_ARG (no int32 id left). */
static sg_status sg_vocab_append(sg_vocab *v, const char *w, size_t len, uint64_t h, int32_t *id)
{
    if (v->n >= (size_t)INT32_MAX)
        return SG_ERR_ARG;
    if (v->n == v->cap) {
        size_t c = 2 * v->cap;
        size_t *off = sg_realloc(v->off, c * sizeof *off);
        if (!off)
            return SG_ERR_NOMEM;
        v->off = off;
        size_t *ln = sg_realloc(v->len, c * sizeof *ln);
        if (!ln)
            return SG_ERR_NOMEM;
        v->len = ln;
        uint64_t *hs = sg_realloc(v->hash, c * sizeof *hs);
        if (!hs)
            return SG_ERR_NOMEM;
        v->hash = hs;
        uint64_t *cn = sg_realloc(v->count, c * sizeof *cn);
        if (!cn)
            return SG_ERR_NOMEM;
        v->count = cn;
        v->cap = c;
    }
    if (2 * (v->n + 1) > v->n_slots) { /* keep the load factor <= 1/2 */
        size_t ns = 2 * v->n_slots;
        int32_t *slots = sg_malloc(ns * sizeof *slots);
        if (!slots)
            return SG_ERR_NOMEM;
        sg_free(v->slots);
        v->slots = slots;
        v->n_slots = ns;
        memset(v->slots, 0xff, ns * sizeof *slots);
        for (size_t i = 0; i < v->n; i++)
            sg_vocab_place(v, (int32_t)i);
    }
    void *pool = v->pool;
    if (!sg_array_reserve(&pool, &v->pool_cap, v->pool_len + len + 1, 1))
        return SG_ERR_NOMEM;
    v->pool = pool;
    memcpy(v->pool + v->pool_len, w, len);
    v->pool[v->pool_len + len] = '\0';
    int32_t nid = (int32_t)v->n;
    v->off[nid] = v->pool_len;
    v->len[nid] = len;
    v->hash[nid] = h;
    v->count[nid] = 0;
    v->pool_len += len + 1;
    v->n++;
    sg_vocab_place(v, nid);
    *id = nid;
    return SG_OK;
}

/* The id of (w, len), appended if absent. */
static sg_status sg_vocab_intern(sg_vocab *v, const char *w, size_t len, int32_t *id)
{
    uint64_t h = sg_hash_bytes(w, len);
    int32_t found = sg_vocab_find(v, w, len, h);
    if (found >= 0) {
        *id = found;
        return SG_OK;
    }
    return sg_vocab_append(v, w, len, h, id);
}

size_t sg_vocab_size(const sg_vocab *v) { return v ? v->n : 0; }

const char *sg_vocab_word(const sg_vocab *v, int32_t id)
{
    if (!v || id < 0 || (size_t)id >= v->n)
        return NULL;
    return v->pool + v->off[id];
}

uint64_t sg_vocab_count(const sg_vocab *v, int32_t id)
{
    if (!v || id < 0 || (size_t)id >= v->n)
        return 0;
    return v->count[id];
}

int32_t sg_vocab_id_n(const sg_vocab *v, const char *word, size_t len)
{
    if (!v || !word)
        return -1;
    return sg_vocab_find(v, word, len, sg_hash_bytes(word, len));
}

int32_t sg_vocab_id(const sg_vocab *v, const char *word) { return word ? sg_vocab_id_n(v, word, strlen(word)) : -1; }

int32_t sg_vocab_lookup(const sg_vocab *v, const char *word)
{
    int32_t id = sg_vocab_id(v, word);
    return id >= 0 ? id : sg_vocab_unk(v);
}

int32_t sg_vocab_unk(const sg_vocab *v) { return v ? v->unk : -1; }

int32_t sg_vocab_first_difference(const sg_vocab *a, const sg_vocab *b)
{
    size_t n = a->n < b->n ? a->n : b->n;
    for (size_t i = 0; i < n; i++)
        if (a->len[i] != b->len[i] || memcmp(a->pool + a->off[i], b->pool + b->off[i], a->len[i]) != 0)
            return (int32_t)i;
    return a->n == b->n ? -1 : (int32_t)n;
}
int32_t sg_vocab_eos(const sg_vocab *v) { return v ? v->eos : -1; }

/* ---- scanning text ---------------------------------------------------------- */

static bool sg_is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

typedef struct sg_scan {
    const char *start, *p, *end;
    bool line_open; /* a word has been seen since the last '\n' */
} sg_scan;

enum { SG_SCAN_END, SG_SCAN_WORD, SG_SCAN_EOL, SG_SCAN_NUL };

/* The next item: a word (*w, *len), a line end, a NUL byte (at p), or the end.
 * A last line without '\n' that holds a word ends with one SG_SCAN_EOL. */
static int sg_scan_next(sg_scan *s, const char **w, size_t *len)
{
    for (;;) {
        if (s->p == s->end) {
            if (s->line_open) {
                s->line_open = false;
                return SG_SCAN_EOL;
            }
            return SG_SCAN_END;
        }
        char c = *s->p;
        if (c == '\n') {
            s->p++;
            s->line_open = false;
            return SG_SCAN_EOL;
        }
        if (c == '\0')
            return SG_SCAN_NUL;
        if (sg_is_blank(c)) {
            s->p++;
            continue;
        }
        const char *b = s->p;
        while (s->p < s->end && *s->p != '\n' && *s->p != '\0' && !sg_is_blank(*s->p))
            s->p++;
        *w = b;
        *len = (size_t)(s->p - b);
        s->line_open = true;
        return SG_SCAN_WORD;
    }
}

static sg_status sg_nul_error(const sg_scan *s, const char *name, char *err, size_t errcap)
{
    return sg_error_format(err, errcap, SG_ERR_FORMAT, "'%s': NUL byte at offset %zu (not a text file?)", name,
                           (size_t)(s->p - s->start));
}

/* ---- reading files ---------------------------------------------------------- */

/* Reads the whole file into *buf (sg_malloc, owned by the caller, NUL-appended)
 * and its length into *len. */
static sg_status sg_read_file(const char *path, char **buf, size_t *len, char *err, size_t errcap)
{
    *buf = NULL;
    *len = 0;
    if (!path)
        return sg_error_format(err, errcap, SG_ERR_ARG, "no file name given");
    unsigned char *b;
    size_t n;
    sg_status st = sg_file_read_all(path, "text file", &b, &n, err, errcap);
    if (st != SG_OK)
        return st;
    if (n == 0) {
        sg_free(b);
        return sg_error_format(err, errcap, SG_ERR_FORMAT, "'%s' is empty", path);
    }
    *buf = (char *)b;
    *len = n;
    return SG_OK;
}

/* ---- building a vocabulary -------------------------------------------------- */

typedef struct sg_vocab_entry {
    uint64_t count;
    const char *w;
    size_t len;
} sg_vocab_entry;

/* Descending count, then byte order (a proper prefix first). */
static int sg_vocab_entry_cmp(const void *pa, const void *pb)
{
    const sg_vocab_entry *a = pa, *b = pb;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    size_t m = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->w, b->w, m);
    if (c)
        return c;
    return a->len < b->len ? -1 : a->len > b->len ? 1 : 0;
}

static sg_status sg_vocab_build_named(const char *text, size_t len, size_t min_count, const char *name, sg_vocab **out,
                                      char *err, size_t errcap)
{
    *out = NULL;
    sg_vocab *cv = sg_vocab_new(1024); /* the counting table */
    if (!cv)
        return sg_error_format(err, errcap, SG_ERR_NOMEM, "out of memory building a vocabulary from '%s'", name);
    sg_scan s = {text, text, text + len, false};
    size_t words = 0, lines = 0;
    sg_status st = SG_OK;
    for (;;) {
        const char *w = NULL;
        size_t wl = 0;
        int k = sg_scan_next(&s, &w, &wl);
        if (k == SG_SCAN_END)
            break;
        if (k == SG_SCAN_NUL) {
            sg_vocab_free(cv);
            return sg_nul_error(&s, name, err, errcap);
        }
        if (k == SG_SCAN_EOL) {
            lines++;
            continue;
        }
        int32_t id;
        if ((st = sg_vocab_intern(cv, w, wl, &id)) != SG_OK)
            goto fail;
        cv->count[id]++;
        words++;
    }
    if (words == 0) {
        sg_vocab_free(cv);
        return sg_error_format(err, errcap, SG_ERR_FORMAT, "'%s' contains no words", name);
    }
    int32_t unk, eos;
    if ((st = sg_vocab_intern(cv, SG_TEXT_UNK, strlen(SG_TEXT_UNK), &unk)) != SG_OK ||
        (st = sg_vocab_intern(cv, SG_TEXT_EOS, strlen(SG_TEXT_EOS), &eos)) != SG_OK)
        goto fail;
    cv->count[eos] += lines;

    sg_vocab_entry *e = sg_malloc(cv->n * sizeof *e); /* (V_seen) the kept words */
    if (!e) {
        st = SG_ERR_NOMEM;
        goto fail;
    }
    size_t kept = 0, unk_index = 0;
    uint64_t dropped = 0; /* occurrences of words below min_count */
    for (size_t i = 0; i < cv->n; i++) {
        bool special = (int32_t)i == unk || (int32_t)i == eos;
        if (!special && cv->count[i] < min_count) {
            dropped += cv->count[i];
            continue;
        }
        if ((int32_t)i == unk)
            unk_index = kept;
        e[kept++] = (sg_vocab_entry){cv->count[i], cv->pool + cv->off[i], cv->len[i]};
    }
    e[unk_index].count += dropped;
    qsort(e, kept, sizeof *e, sg_vocab_entry_cmp);

    sg_vocab *v = sg_vocab_new(kept);
    if (!v) {
        sg_free(e);
        st = SG_ERR_NOMEM;
        goto fail;
    }
    for (size_t i = 0; i < kept; i++) {
        int32_t id;
        if ((st = sg_vocab_append(v, e[i].w, e[i].len, sg_hash_bytes(e[i].w, e[i].len), &id)) != SG_OK) {
            sg_free(e);
            sg_vocab_free(v);
            goto fail;
        }
        v->count[id] = e[i].count;
    }
    sg_free(e);
    sg_vocab_free(cv);
    v->unk = sg_vocab_id(v, SG_TEXT_UNK);
    v->eos = sg_vocab_id(v, SG_TEXT_EOS);
    *out = v;
    sg_text_err_clear(err, errcap);
    return SG_OK;

fail:
    sg_vocab_free(cv);
    if (st == SG_ERR_ARG)
        return sg_error_format(err, errcap, st, "'%s' has more than %d distinct words", name, INT32_MAX);
    return sg_error_format(err, errcap, st, "out of memory building a vocabulary from '%s'", name);
}

sg_vocab *sg_vocab_counter_new(void) { return sg_vocab_new(256); }

sg_status sg_vocab_counter_add(sg_vocab *counter, const char *tok, size_t len)
{
    if (!counter || !tok || !len || memchr(tok, '\0', len))
        return SG_ERR_ARG;
    int32_t id;
    sg_status st = sg_vocab_intern(counter, tok, len, &id);
    if (st == SG_OK)
        counter->count[id]++;
    return st;
}

sg_status sg_vocab_counter_finish(const sg_vocab *counter, const char *const *specials, size_t n_special,
                                  size_t min_count, sg_vocab **out, char *err, size_t errcap)
{
    if (!out)
        return sg_error_format(err, errcap, SG_ERR_ARG, "sg_vocab_counter_finish: out is NULL");
    *out = NULL;
    if (!counter || (n_special && !specials))
        return sg_error_format(err, errcap, SG_ERR_ARG, "sg_vocab_counter_finish: NULL counter or specials");
    sg_vocab *v = sg_vocab_new(counter->n + n_special);
    sg_vocab_entry *e = sg_malloc((counter->n ? counter->n : 1) * sizeof *e); /* (V_seen) */
    sg_status st = v && e ? SG_OK : SG_ERR_NOMEM;
    for (size_t i = 0; st == SG_OK && i < n_special; i++) {
        size_t len = strlen(specials[i]);
        uint64_t h = sg_hash_bytes(specials[i], len);
        int32_t id, seen = sg_vocab_find(counter, specials[i], len, h);
        if (sg_vocab_find(v, specials[i], len, h) >= 0) {
            sg_vocab_free(v);
            sg_free(e);
            return sg_error_format(err, errcap, SG_ERR_ARG, "special word '%s' is given twice", specials[i]);
        }
        if ((st = sg_vocab_append(v, specials[i], len, h, &id)) == SG_OK)
            v->count[id] = seen >= 0 ? counter->count[seen] : 0;
    }
    size_t kept = 0;
    uint64_t dropped = 0;
    for (size_t i = 0; st == SG_OK && i < counter->n; i++) {
        const char *w = counter->pool + counter->off[i];
        if (sg_vocab_find(v, w, counter->len[i], counter->hash[i]) >= 0)
            continue; /* a special */
        if (counter->count[i] < min_count)
            dropped += counter->count[i];
        else
            e[kept++] = (sg_vocab_entry){counter->count[i], w, counter->len[i]};
    }
    if (st == SG_OK)
        qsort(e, kept, sizeof *e, sg_vocab_entry_cmp);
    for (size_t i = 0; st == SG_OK && i < kept; i++) {
        int32_t id;
        if ((st = sg_vocab_append(v, e[i].w, e[i].len, sg_hash_bytes(e[i].w, e[i].len), &id)) == SG_OK)
            v->count[id] = e[i].count;
    }
    sg_free(e);
    if (st != SG_OK) {
        sg_vocab_free(v);
        if (st == SG_ERR_ARG)
            return sg_error_format(err, errcap, st, "more than %d distinct tokens", INT32_MAX);
        return sg_error_format(err, errcap, st, "out of memory building a vocabulary");
    }
    v->unk = sg_vocab_id(v, SG_TEXT_UNK);
    v->eos = sg_vocab_id(v, SG_TEXT_EOS);
    if (v->unk >= 0)
        v->count[v->unk] += dropped;
    *out = v;
    sg_text_err_clear(err, errcap);
    return SG_OK;
}

sg_status sg_vocab_build_text(const char *text, size_t len, size_t min_count, sg_vocab **out, char *err, size_t errcap)
{
    if (!out)
        return sg_error_format(err, errcap, SG_ERR_ARG, "sg_vocab_build_text: out is NULL");
    *out = NULL;
    if (!text && len)
        return sg_error_format(err, errcap, SG_ERR_ARG, "sg_vocab_build_text: text is NULL");
    return sg_vocab_build_named(text ? text : "", len, min_count, "text", out, err, errcap);
}

sg_status sg_vocab_build_file(const char *path, size_t min_count, sg_vocab **out, char *err, size_t errcap)
{
    if (!out)
        return sg_error_format(err, errcap, SG_ERR_ARG, "sg_vocab_build_file: out is NULL");
    *out = NULL;
    char *buf;
    size_t len;
    sg_status st = sg_read_file(path, &buf, &len, err, errcap);
    if (st)
        return st;
    st = sg_vocab_build_named(buf, len, min_count, path, out, err, errcap);
    sg_free(buf);
    return st;
}

/* ---- serialization ---------------------------------------------------------- */

sg_status sg_vocab_serialize(const sg_vocab *v, char **out, size_t *len)
{
    if (!out)
        return SG_ERR_ARG;
    *out = NULL;
    if (len)
        *len = 0;
    if (!v)
        return SG_ERR_ARG;
    for (size_t i = 0; i < v->n; i++)
        if (memchr(v->pool + v->off[i], '\n', v->len[i]) || strpbrk(v->pool + v->off[i], " \t\r\v\f"))
            return SG_ERR_ARG; /* a blank or newline would not read back */
    /* The pool already holds the words in id order, each followed by a NUL. */
    char *s = sg_malloc(v->pool_len + 1);
    if (!s)
        return SG_ERR_NOMEM;
    memcpy(s, v->pool, v->pool_len);
    for (size_t i = 0; i < v->n; i++)
        s[v->off[i] + v->len[i]] = '\n';
    s[v->pool_len] = '\0';
    *out = s;
    if (len)
        *len = v->pool_len;
    return SG_OK;
}

sg_status sg_vocab_from_words(const char *const *words, size_t n, sg_vocab **out, char *err, size_t errcap)
{
    if (!out)
        return sg_error_format(err, errcap, SG_ERR_ARG, "sg_vocab_from_words: out is NULL");
    *out = NULL;
    if (!words && n)
        return sg_error_format(err, errcap, SG_ERR_ARG, "sg_vocab_from_words: words is NULL");
    sg_vocab *v = sg_vocab_new(n ? n : 1);
    if (!v)
        return sg_error_format(err, errcap, SG_ERR_NOMEM, "out of memory for a vocabulary of %zu words", n);
    sg_status st = SG_OK;
    for (size_t i = 0; st == SG_OK && i < n; i++) {
        size_t len = words[i] ? strlen(words[i]) : 0;
        if (!len) {
            st = sg_error_format(err, errcap, SG_ERR_FORMAT, "word %zu is empty", i + 1);
            break;
        }
        uint64_t h = sg_hash_bytes(words[i], len);
        int32_t prev = sg_vocab_find(v, words[i], len, h), id;
        if (prev >= 0)
            st = sg_error_format(err, errcap, SG_ERR_FORMAT, "word '%s' is given twice (words %d and %zu)", words[i],
                                 (int)prev + 1, i + 1);
        else if ((st = sg_vocab_append(v, words[i], len, h, &id)) != SG_OK)
            sg_error_format(err, errcap, st,
                            st == SG_ERR_NOMEM ? "out of memory for a vocabulary" : "more than 2^31 - 1 words");
    }
    if (st != SG_OK) {
        sg_vocab_free(v);
        return st;
    }
    v->unk = sg_vocab_id(v, SG_TEXT_UNK);
    v->eos = sg_vocab_id(v, SG_TEXT_EOS);
    *out = v;
    sg_text_err_clear(err, errcap);
    return SG_OK;
}

sg_status sg_vocab_deserialize(const char *text, size_t len, sg_vocab **out, char *err, size_t errcap)
{
    if (!out)
        return sg_error_format(err, errcap, SG_ERR_ARG, "sg_vocab_deserialize: out is NULL");
    *out = NULL;
    if (!text && len)
        return sg_error_format(err, errcap, SG_ERR_ARG, "sg_vocab_deserialize: text is NULL");
    sg_vocab *v = sg_vocab_new(len / 8 + 16);
    if (!v)
        return sg_error_format(err, errcap, SG_ERR_NOMEM, "out of memory reading a vocabulary");
    size_t pos = 0, line = 0;
    sg_status st = SG_OK;
    while (pos < len) {
        line++;
        const char *w = text + pos;
        const char *nl = memchr(w, '\n', len - pos);
        size_t wl = nl ? (size_t)(nl - w) : len - pos;
        pos += wl + (nl ? 1 : 0);
        if (wl == 0) {
            st = sg_error_format(err, errcap, SG_ERR_FORMAT, "vocabulary line %zu is empty", line);
            goto fail;
        }
        for (size_t i = 0; i < wl; i++) {
            if (w[i] == '\0' || sg_is_blank(w[i])) {
                st = sg_error_format(err, errcap, SG_ERR_FORMAT,
                                     "vocabulary line %zu: the word has a %s at byte %zu (words hold no blanks)", line,
                                     w[i] ? "blank" : "NUL byte", i + 1);
                goto fail;
            }
        }
        uint64_t h = sg_hash_bytes(w, wl);
        int32_t prev = sg_vocab_find(v, w, wl, h);
        if (prev >= 0) {
            st = sg_error_format(err, errcap, SG_ERR_FORMAT, "vocabulary line %zu: duplicate word '%s' (also line %zu)",
                                 line, sg_vocab_word(v, prev), (size_t)prev + 1);
            goto fail;
        }
        int32_t id;
        if ((st = sg_vocab_append(v, w, wl, h, &id)) != SG_OK) {
            sg_error_format(err, errcap, st,
                            st == SG_ERR_NOMEM ? "out of memory reading a vocabulary"
                                               : "vocabulary has more than 2^31 - 1 words");
            goto fail;
        }
    }
    v->unk = sg_vocab_id(v, SG_TEXT_UNK);
    v->eos = sg_vocab_id(v, SG_TEXT_EOS);
    if (v->unk < 0 || v->eos < 0) {
        st = sg_error_format(err, errcap, SG_ERR_FORMAT, "vocabulary of %zu words has no '%s'", v->n,
                             v->unk < 0 ? SG_TEXT_UNK : SG_TEXT_EOS);
        goto fail;
    }
    *out = v;
    sg_text_err_clear(err, errcap);
    return SG_OK;
fail:
    sg_vocab_free(v);
    return st;
}

/* ---- token streams ---------------------------------------------------------- */

void sg_tokens_free(sg_tokens *t)
{
    if (!t)
        return;
    sg_free(t->ids);
    memset(t, 0, sizeof *t);
}

static sg_status sg_tokens_named(sg_tokens *t, const sg_vocab *v, const char *text, size_t len, const char *name,
                                 char *err, size_t errcap)
{
    memset(t, 0, sizeof *t);
    size_t cap = len / 5 + 64; /* a guess (PTB: about 5.5 bytes a token); grows by doubling */
    int32_t *ids = sg_malloc(cap * sizeof *ids);
    if (!ids)
        return sg_error_format(err, errcap, SG_ERR_NOMEM, "out of memory reading '%s'", name);
    sg_scan s = {text, text, text + len, false};
    size_t n = 0, lines = 0, unk = 0, words = 0;
    for (;;) {
        const char *w = NULL;
        size_t wl = 0;
        int k = sg_scan_next(&s, &w, &wl);
        if (k == SG_SCAN_END)
            break;
        if (k == SG_SCAN_NUL) {
            sg_free(ids);
            return sg_nul_error(&s, name, err, errcap);
        }
        if (n == cap) {
            void *p = ids;
            if (!sg_array_reserve(&p, &cap, n + 1, sizeof *ids)) {
                sg_free(ids);
                return sg_error_format(err, errcap, SG_ERR_NOMEM, "out of memory reading '%s'", name);
            }
            ids = p;
        }
        int32_t id;
        if (k == SG_SCAN_EOL) {
            id = v->eos;
            lines++;
        } else {
            id = sg_vocab_find(v, w, wl, sg_hash_bytes(w, wl));
            if (id < 0) {
                id = v->unk;
                unk++;
            }
            words++;
        }
        ids[n++] = id;
    }
    if (words == 0) {
        sg_free(ids);
        return sg_error_format(err, errcap, SG_ERR_FORMAT, "'%s' contains no words", name);
    }
    if (cap - n > n / 8 + 64) { /* give back a generous guess; keeping it is fine if this fails */
        int32_t *fit = sg_realloc(ids, (n ? n : 1) * sizeof *ids);
        if (fit)
            ids = fit;
    }
    t->ids = ids;
    t->n = n;
    t->n_lines = lines;
    t->n_unk = unk;
    sg_text_err_clear(err, errcap);
    return SG_OK;
}

sg_status sg_tokens_from_text(sg_tokens *t, const sg_vocab *v, const char *text, size_t len, char *err, size_t errcap)
{
    if (!t)
        return sg_error_format(err, errcap, SG_ERR_ARG, "sg_tokens_from_text: t is NULL");
    memset(t, 0, sizeof *t);
    if (!v || (!text && len))
        return sg_error_format(err, errcap, SG_ERR_ARG, "sg_tokens_from_text: %s is NULL", v ? "text" : "vocabulary");
    return sg_tokens_named(t, v, text ? text : "", len, "text", err, errcap);
}

sg_status sg_tokens_read_file(sg_tokens *t, const sg_vocab *v, const char *path, char *err, size_t errcap)
{
    if (!t)
        return sg_error_format(err, errcap, SG_ERR_ARG, "sg_tokens_read_file: t is NULL");
    memset(t, 0, sizeof *t);
    if (!v)
        return sg_error_format(err, errcap, SG_ERR_ARG, "sg_tokens_read_file: vocabulary is NULL");
    char *buf;
    size_t len;
    sg_status st = sg_read_file(path, &buf, &len, err, errcap);
    if (st)
        return st;
    st = sg_tokens_named(t, v, buf, len, path, err, errcap);
    sg_free(buf);
    return st;
}

/* ---- batching ------------------------------------------------------------- */

sg_status sg_text_batcher_init(sg_text_batcher *it, const int32_t *ids, size_t n, size_t batch, size_t steps,
                               bool drop_last, char *err, size_t errcap)
{
    if (!it)
        return sg_error_format(err, errcap, SG_ERR_ARG, "sg_text_batcher_init: it is NULL");
    memset(it, 0, sizeof *it);
    if (!ids && n)
        return sg_error_format(err, errcap, SG_ERR_ARG, "sg_text_batcher_init: ids is NULL");
    if (batch == 0 || steps == 0)
        return sg_error_format(err, errcap, SG_ERR_ARG, "batching needs B >= 1 and T >= 1 (got B = %zu, T = %zu)",
                               batch, steps);
    size_t L = n / batch;
    if (L < 2)
        return sg_error_format(err, errcap, SG_ERR_ARG,
                               "a stream of n = %zu tokens cut into B = %zu streams gives L = %zu tokens each; "
                               "a window needs L >= 2",
                               n, batch, L);
    size_t full = (L - 1) / steps, n_windows = full + ((L - 1) % steps && !drop_last ? 1 : 0);
    if (n_windows == 0)
        return sg_error_format(err, errcap, SG_ERR_ARG,
                               "n = %zu tokens in B = %zu streams of L = %zu: no full window of T = %zu steps "
                               "(L - 1 < T) and the shorter one is dropped",
                               n, batch, L, steps);
    it->ids = ids;
    it->batch = batch;
    it->steps = steps;
    it->stream_len = L;
    it->n_windows = n_windows;
    it->next = 0;
    sg_text_err_clear(err, errcap);
    return SG_OK;
}

size_t sg_text_batcher_next(sg_text_batcher *it, int32_t *x, int32_t *y)
{
    if (!it || it->next >= it->n_windows)
        return 0;
    size_t B = it->batch, L = it->stream_len, s = it->next * it->steps;
    size_t Tk = L - 1 - s < it->steps ? L - 1 - s : it->steps;
    for (size_t b = 0; b < B; b++) {
        const int32_t *src = it->ids + b * L + s; /* stream b from offset s */
        for (size_t t = 0; t < Tk; t++) {
            x[t * B + b] = src[t];
            y[t * B + b] = src[t + 1];
        }
    }
    it->next++;
    return Tk;
}

void sg_text_batcher_rewind(sg_text_batcher *it)
{
    if (it)
        it->next = 0;
}

/* ---- data directory --------------------------------------------------------- */

static const char *const sg_text_names[2][3] = {
    {"train.txt", "valid.txt", "test.txt"},
    {"ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"},
};

/* dir + "/" + name in a new sg_malloc string (owned by the caller); NULL on OOM. */
static char *sg_path_join(const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    bool slash = dl > 0 && dir[dl - 1] != '/';
    char *p = sg_malloc(dl + slash + nl + 1);
    if (!p)
        return NULL;
    memcpy(p, dir, dl);
    if (slash)
        p[dl] = '/';
    memcpy(p + dl + slash, name, nl + 1);
    return p;
}

static bool sg_is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

void sg_text_corpus_free(sg_text_corpus *c)
{
    if (!c)
        return;
    sg_vocab_free(c->vocab);
    for (int i = 0; i < 3; i++) {
        sg_tokens_free(&c->split[i]);
        sg_free(c->path[i]);
    }
    memset(c, 0, sizeof *c);
}

sg_status sg_text_corpus_load(sg_text_corpus *c, const char *dir, size_t min_count, char *err, size_t errcap)
{
    if (!c)
        return sg_error_format(err, errcap, SG_ERR_ARG, "sg_text_corpus_load: c is NULL");
    memset(c, 0, sizeof *c);
    if (!dir || !dir[0])
        return sg_error_format(err, errcap, SG_ERR_ARG, "no data directory given");
    struct stat st;
    int rc = stat(dir, &st);
    if (rc != 0 || !S_ISDIR(st.st_mode))
        return sg_error_format(err, errcap, SG_ERR_IO,
                               "data directory '%s': %s; it should hold train.txt, valid.txt, test.txt or "
                               "ptb.train.txt, ptb.valid.txt, ptb.test.txt",
                               dir, rc != 0 ? strerror(errno) : "not a directory");
    /* Find the first complete naming scheme, noting which files exist. */
    int scheme = -1;
    char found[256] = "";
    for (int s = 0; s < 2 && scheme < 0; s++) {
        char *p[3] = {NULL, NULL, NULL};
        bool all = true;
        for (int i = 0; i < 3; i++) {
            p[i] = sg_path_join(dir, sg_text_names[s][i]);
            if (!p[i]) {
                for (int j = 0; j < i; j++)
                    sg_free(p[j]);
                return sg_error_format(err, errcap, SG_ERR_NOMEM, "out of memory");
            }
            if (sg_is_file(p[i])) {
                size_t fl = strlen(found);
                snprintf(found + fl, sizeof found - fl, "%s%s", fl ? ", " : "", sg_text_names[s][i]);
            } else {
                all = false;
            }
        }
        if (all) {
            scheme = s;
            for (int i = 0; i < 3; i++)
                c->path[i] = p[i];
        } else {
            for (int i = 0; i < 3; i++)
                sg_free(p[i]);
        }
    }
    if (scheme < 0)
        return sg_error_format(err, errcap, SG_ERR_IO,
                               "no text corpus in '%s': looked for train.txt, valid.txt, test.txt or ptb.train.txt, "
                               "ptb.valid.txt, ptb.test.txt (all three of one naming); found: %s",
                               dir, found[0] ? found : "none of them");

    /* The training file is read once: vocabulary, then tokens. */
    char *buf;
    size_t len;
    sg_status s = sg_read_file(c->path[SG_TEXT_TRAIN], &buf, &len, err, errcap);
    if (!s) {
        s = sg_vocab_build_named(buf, len, min_count, c->path[SG_TEXT_TRAIN], &c->vocab, err, errcap);
        if (!s)
            s = sg_tokens_named(&c->split[SG_TEXT_TRAIN], c->vocab, buf, len, c->path[SG_TEXT_TRAIN], err, errcap);
        sg_free(buf);
    }
    for (int i = SG_TEXT_VALID; i <= SG_TEXT_TEST && !s; i++)
        s = sg_tokens_read_file(&c->split[i], c->vocab, c->path[i], err, errcap);
    if (s) {
        sg_text_corpus_free(c);
        return s;
    }
    return SG_OK;
}
