/* sg_pairs.c — tokenizers, (source, target) pair files, the seeded split and
 * the length-bucketed batcher (see sg_pairs.h).
 *
 * Parsing makes two passes over the text: the first finds the examples'
 * spans (and counts their tokens), the second, after the split, counts the
 * training tokens into a vocabulary counter and then maps every example to
 * ids.  Dimension legend as in sg_pairs.h.
 */
#include "models/data/sg_pairs.h"

#include "models/data/sg_batching.h"

#include "graph/core/sg_alloc.h"
#include "graph/util/sg_file.h"
#include "graph/util/sg_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- tokenizers ----------------------------------------------------------- */

static bool sg_is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f'; }

bool sg_token_next(sg_tokenizer kind, const char *s, size_t len, size_t *pos, const char **tok, size_t *tok_len)
{
    size_t i = *pos;
    if (kind == SG_TOKENIZE_WORDS) {
        while (i < len && sg_is_blank(s[i]))
            i++;
        size_t start = i;
        while (i < len && !sg_is_blank(s[i]))
            i++;
        *pos = i;
        if (i == start)
            return false;
        *tok = s + start;
        *tok_len = i - start;
        return true;
    }
    if (i >= len)
        return false;
    size_t n = sg_utf8_seq_len((const unsigned char *)s + i, len - i);
    *tok = s + i;
    *tok_len = n ? n : 1;
    *pos = i + *tok_len;
    return true;
}

/* ---- parsing ---------------------------------------------------------------- */

sg_pair_opts sg_pair_opts_defaults(void)
{
    return (sg_pair_opts){
        .tokenizer = SG_TOKENIZE_CHARS, .valid_frac = 0.1, .test_frac = 0.1, .seed = 1, .min_count = 0};
}

/* One example's two sides, as spans of the text (padding trimmed). */
typedef struct sg_pair_span {
    const char *src, *tgt;
    size_t src_len, tgt_len;
    size_t line;
} sg_pair_span;

static size_t sg_trim_right(const char *s, size_t n)
{
    while (n && sg_is_blank(s[n - 1]))
        n--;
    return n;
}

static size_t sg_count_tokens(sg_tokenizer k, const char *s, size_t len)
{
    size_t pos = 0, n = 0, tl;
    const char *t;
    while (sg_token_next(k, s, len, &pos, &t, &tl))
        n++;
    return n;
}

/* Finds every example of text; *out (owned by the caller) holds *n spans. */
static sg_status sg_pairs_scan(const char *text, size_t len, const char *name, sg_tokenizer k, sg_pair_span **out,
                               size_t *n, char *err, size_t errcap)
{
    *out = NULL;
    *n = 0;
    sg_pair_span *sp = NULL;
    size_t cap = 0, count = 0, line = 0;
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - text) : len;
        const char *l = text + i;
        size_t ll = end - i;
        line++;
        i = end + 1;
        if (sg_trim_right(l, ll) == 0)
            continue; /* an empty line */
        if (memchr(l, '\0', ll)) {
            sg_free(sp);
            return sg_error_format(err, errcap, SG_ERR_FORMAT, "%s:%zu: NUL byte in the line", name, line);
        }
        if (!sg_utf8_valid(l, ll)) { /* a vocabulary must be saved as UTF-8: refuse it before any training */
            sg_free(sp);
            return sg_error_format(err, errcap, SG_ERR_FORMAT, "%s:%zu: the line is not valid UTF-8", name, line);
        }
        const char *sep = memchr(l, '\t', ll);
        if (!sep)
            sep = memchr(l, '_', ll);
        if (!sep) {
            sg_free(sp);
            return sg_error_format(err, errcap, SG_ERR_FORMAT,
                                   "%s:%zu: no separator (a tab, or '_') between source and target", name, line);
        }
        sg_pair_span s = {.src = l, .src_len = sg_trim_right(l, (size_t)(sep - l)), .tgt = sep + 1, .line = line};
        s.tgt_len = sg_trim_right(s.tgt, (size_t)(l + ll - s.tgt));
        if (!sg_count_tokens(k, s.src, s.src_len) || !sg_count_tokens(k, s.tgt, s.tgt_len)) {
            sg_free(sp);
            return sg_error_format(err, errcap, SG_ERR_FORMAT, "%s:%zu: the %s is empty", name, line,
                                   sg_count_tokens(k, s.src, s.src_len) ? "target" : "source");
        }
        void *p = sp;
        if (!sg_array_reserve(&p, &cap, count + 1, sizeof *sp)) {
            sg_free(sp);
            return sg_error_format(err, errcap, SG_ERR_NOMEM, "%s: out of memory", name);
        }
        sp = p;
        sp[count++] = s;
    }
    if (!count) {
        sg_free(sp);
        return sg_error_format(err, errcap, SG_ERR_FORMAT, "%s holds no examples", name);
    }
    *out = sp;
    *n = count;
    return SG_OK;
}

static void sg_pair_set_free(sg_pair_set *s)
{
    sg_free(s->src);
    sg_free(s->src_off);
    sg_free(s->tgt);
    sg_free(s->tgt_off);
    sg_free(s->line);
    memset(s, 0, sizeof *s);
}

/* Maps the spans sp[idx[0..n)] to ids with v into s. */
static sg_status sg_pair_set_make(sg_pair_set *s, const sg_pair_span *sp, const size_t *idx, size_t n,
                                  const sg_vocab *v, sg_tokenizer k)
{
    memset(s, 0, sizeof *s);
    size_t ns = 0, nt = 0;
    for (size_t i = 0; i < n; i++) {
        ns += sg_count_tokens(k, sp[idx[i]].src, sp[idx[i]].src_len);
        nt += sg_count_tokens(k, sp[idx[i]].tgt, sp[idx[i]].tgt_len);
    }
    s->n = n;
    s->src = sg_malloc((ns ? ns : 1) * sizeof *s->src);
    s->tgt = sg_malloc((nt ? nt : 1) * sizeof *s->tgt);
    s->src_off = sg_malloc((n + 1) * sizeof *s->src_off);
    s->tgt_off = sg_malloc((n + 1) * sizeof *s->tgt_off);
    s->line = sg_malloc((n ? n : 1) * sizeof *s->line);
    if (!s->src || !s->tgt || !s->src_off || !s->tgt_off || !s->line) {
        sg_pair_set_free(s);
        return SG_ERR_NOMEM;
    }
    size_t a = 0, b = 0;
    for (size_t i = 0; i < n; i++) {
        const sg_pair_span *p = &sp[idx[i]];
        s->src_off[i] = a;
        s->tgt_off[i] = b;
        s->line[i] = p->line;
        for (int side = 0; side < 2; side++) {
            const char *txt = side ? p->tgt : p->src;
            size_t tl, pos = 0, len = side ? p->tgt_len : p->src_len;
            const char *t;
            while (sg_token_next(k, txt, len, &pos, &t, &tl)) {
                int32_t id = sg_vocab_id_n(v, t, tl);
                if (id < 0)
                    id = SG_PAIRS_UNK_ID;
                if (side)
                    s->tgt[b++] = id;
                else
                    s->src[a++] = id;
            }
        }
        size_t ls = a - s->src_off[i], lt = b - s->tgt_off[i];
        s->max_src = ls > s->max_src ? ls : s->max_src;
        s->max_tgt = lt > s->max_tgt ? lt : s->max_tgt;
    }
    s->src_off[n] = a;
    s->tgt_off[n] = b;
    return SG_OK;
}

void sg_pair_data_free(sg_pair_data *d)
{
    if (!d)
        return;
    sg_vocab_free(d->vocab);
    for (int i = 0; i < 3; i++)
        sg_pair_set_free(&d->split[i]);
    memset(d, 0, sizeof *d);
}

sg_status sg_pair_data_parse(sg_pair_data *d, const char *text, size_t len, const char *name, const sg_pair_opts *o,
                             char *err, size_t errcap)
{
    if (!d)
        return sg_error_format(err, errcap, SG_ERR_ARG, "sg_pair_data_parse: d is NULL");
    memset(d, 0, sizeof *d);
    if (!name)
        name = "text";
    sg_pair_opts def = sg_pair_opts_defaults();
    if (!o)
        o = &def;
    if ((!text && len) || (o->tokenizer != SG_TOKENIZE_CHARS && o->tokenizer != SG_TOKENIZE_WORDS) ||
        !(o->valid_frac >= 0 && o->test_frac >= 0 && o->valid_frac + o->test_frac < 1))
        return sg_error_format(err, errcap, SG_ERR_ARG,
                               "%s: bad options (tokenizer %d, valid %g, test %g: fractions >= 0 with a sum < 1)", name,
                               (int)o->tokenizer, o->valid_frac, o->test_frac);
    sg_pair_span *sp;
    size_t n;
    sg_status st = sg_pairs_scan(text ? text : "", len, name, o->tokenizer, &sp, &n, err, errcap);
    if (st != SG_OK)
        return st;
    size_t *idx = sg_malloc(n * sizeof *idx);
    sg_vocab *counter = sg_vocab_counter_new();
    if (!idx || !counter) {
        st = sg_error_format(err, errcap, SG_ERR_NOMEM, "%s: out of memory", name);
        goto done;
    }
    size_t n_valid, n_test;
    if ((st = sg_split_seeded(idx, n, o->seed, o->valid_frac, o->test_frac, &n_valid, &n_test, name, "examples", err,
                              errcap)) != SG_OK)
        goto done;
    const size_t *tr = idx + n_valid + n_test; /* the training examples */
    size_t n_train = n - n_valid - n_test;
    for (size_t i = 0; i < n_train && st == SG_OK; i++)
        for (int side = 0; side < 2 && st == SG_OK; side++) {
            const sg_pair_span *p = &sp[tr[i]];
            const char *txt = side ? p->tgt : p->src, *t;
            size_t tl, pos = 0, l = side ? p->tgt_len : p->src_len;
            while (st == SG_OK && sg_token_next(o->tokenizer, txt, l, &pos, &t, &tl))
                st = sg_vocab_counter_add(counter, t, tl);
        }
    if (st != SG_OK) {
        st = sg_error_format(err, errcap, st, "%s: out of memory counting tokens", name);
        goto done;
    }
    static const char *const specials[] = {SG_PAIRS_PAD, SG_PAIRS_BOS, SG_PAIRS_EOS, SG_PAIRS_UNK};
    if ((st = sg_vocab_counter_finish(counter, specials, 4, o->min_count, &d->vocab, err, errcap)) != SG_OK)
        goto done;
    const size_t *part[3] = {tr, idx, idx + n_valid};
    const size_t count[3] = {n_train, n_valid, n_test};
    for (int k = 0; k < 3 && st == SG_OK; k++)
        if ((st = sg_pair_set_make(&d->split[k], sp, part[k], count[k], d->vocab, o->tokenizer)) != SG_OK)
            st = sg_error_format(err, errcap, st, "%s: out of memory", name);
    d->tokenizer = o->tokenizer;
done:
    sg_vocab_free(counter);
    sg_free(idx);
    sg_free(sp);
    if (st != SG_OK)
        sg_pair_data_free(d);
    return st;
}

sg_status sg_pair_data_load(sg_pair_data *d, const char *path, const sg_pair_opts *o, char *err, size_t errcap)
{
    if (d)
        memset(d, 0, sizeof *d);
    unsigned char *buf;
    size_t len;
    sg_status st = sg_file_read_all(path, "pair file", &buf, &len, err, errcap);
    if (st != SG_OK)
        return st;
    st = sg_pair_data_parse(d, (const char *)buf, len, path, o, err, errcap);
    sg_free(buf);
    return st;
}

/* ---- batches ---------------------------------------------------------------- */

void sg_pair_batcher_free(sg_pair_batcher *it)
{
    if (!it)
        return;
    sg_free(it->order);
    sg_free(it->batch_start);
    sg_free(it->src);
    sg_free(it->dec_in);
    sg_free(it->dec_out);
    sg_free(it->src_mask);
    sg_free(it->tgt_mask);
    memset(it, 0, sizeof *it);
}

sg_status sg_pair_batcher_init(sg_pair_batcher *it, const sg_pair_set *set, size_t batch, size_t bucket, char *err,
                               size_t errcap)
{
    if (!it)
        return sg_error_format(err, errcap, SG_ERR_ARG, "pair batcher: NULL batcher");
    memset(it, 0, sizeof *it);
    if (!set || !set->n || !batch)
        return sg_error_format(err, errcap, SG_ERR_ARG, "pair batcher: batch %zu over %zu examples (both must be > 0)",
                               batch, set ? set->n : 0);
    size_t s_cells, t_cells;
    if (!sg_size_mul(set->max_src, batch, &s_cells) || !sg_size_mul(set->max_tgt + 1, batch, &t_cells) ||
        s_cells > SIZE_MAX / sizeof(double) || t_cells > SIZE_MAX / sizeof(double))
        return sg_error_format(err, errcap, SG_ERR_ARG, "pair batcher: batch %zu is too large", batch);
    it->set = set;
    it->batch = batch;
    it->bucket = bucket;
    it->n_batches = (set->n + batch - 1) / batch;
    it->order = sg_malloc(set->n * sizeof *it->order);
    it->batch_start = sg_malloc(it->n_batches * sizeof *it->batch_start);
    it->src = sg_malloc(s_cells * sizeof *it->src);
    it->src_mask = sg_malloc(s_cells * sizeof *it->src_mask);
    it->dec_in = sg_malloc(t_cells * sizeof *it->dec_in);
    it->dec_out = sg_malloc(t_cells * sizeof *it->dec_out);
    it->tgt_mask = sg_malloc(t_cells * sizeof *it->tgt_mask);
    if (!it->order || !it->batch_start || !it->src || !it->src_mask || !it->dec_in || !it->dec_out || !it->tgt_mask) {
        sg_pair_batcher_free(it);
        return sg_error_format(err, errcap, SG_ERR_NOMEM, "pair batcher: out of memory");
    }
    sg_pair_batcher_epoch(it, NULL);
    return SG_OK;
}

/* qsort has no context argument: the set being sorted, per thread. */
static _Thread_local const sg_pair_set *sg_sort_set;

static int sg_by_length(const void *pa, const void *pb)
{
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    const sg_pair_set *s = sg_sort_set;
    size_t sa = s->src_off[a + 1] - s->src_off[a], sb = s->src_off[b + 1] - s->src_off[b];
    if (sa != sb)
        return sa < sb ? -1 : 1;
    size_t ta = s->tgt_off[a + 1] - s->tgt_off[a], tb = s->tgt_off[b + 1] - s->tgt_off[b];
    if (ta != tb)
        return ta < tb ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0; /* a total order: the same on every libc */
}

void sg_pair_batcher_epoch(sg_pair_batcher *it, sg_rng *rng)
{
    it->next = 0;
    sg_sort_set = it->set;
    sg_bucket_epoch(it->order, it->set->n, it->batch_start, it->n_batches, it->batch, it->bucket, rng, sg_by_length);
}

bool sg_pair_batcher_next(sg_pair_batcher *it, sg_pair_batch *b)
{
    if (it->next >= it->n_batches)
        return false;
    const sg_pair_set *s = it->set;
    size_t start = it->batch_start[it->next++];
    size_t B = s->n - start < it->batch ? s->n - start : it->batch;
    const size_t *ex = it->order + start;
    size_t S = 0, T = 0;
    for (size_t j = 0; j < B; j++) {
        size_t ls = s->src_off[ex[j] + 1] - s->src_off[ex[j]], lt = s->tgt_off[ex[j] + 1] - s->tgt_off[ex[j]];
        S = ls > S ? ls : S;
        T = lt + 1 > T ? lt + 1 : T;
    }
    for (size_t j = 0; j < B; j++) {
        const int32_t *x = s->src + s->src_off[ex[j]], *y = s->tgt + s->tgt_off[ex[j]];
        size_t ls = s->src_off[ex[j] + 1] - s->src_off[ex[j]], lt = s->tgt_off[ex[j] + 1] - s->tgt_off[ex[j]];
        for (size_t t = 0; t < S; t++) {
            it->src[t * B + j] = t < ls ? x[t] : SG_PAIRS_PAD_ID;
            it->src_mask[t * B + j] = t < ls ? 1.0 : 0.0;
        }
        for (size_t t = 0; t < T; t++) {
            it->dec_in[t * B + j] = t == 0 ? SG_PAIRS_BOS_ID : t <= lt ? y[t - 1] : SG_PAIRS_PAD_ID;
            it->dec_out[t * B + j] = t < lt ? y[t] : t == lt ? SG_PAIRS_EOS_ID : SG_PAIRS_PAD_ID;
            it->tgt_mask[t * B + j] = t <= lt ? 1.0 : 0.0;
        }
    }
    *b = (sg_pair_batch){.batch = B,
                         .src_steps = S,
                         .tgt_steps = T,
                         .example = ex,
                         .src = it->src,
                         .src_mask = it->src_mask,
                         .dec_in = it->dec_in,
                         .dec_out = it->dec_out,
                         .tgt_mask = it->tgt_mask};
    return true;
}
