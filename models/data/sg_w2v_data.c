/* sg_w2v_data.c — word2vec's corpus, alias sampler and example batcher (see
 * sg_w2v_data.h for the conventions and the dimension legend). */
#include "models/data/sg_w2v_data.h"

#include "graph/core/sg_alloc.h"
#include "graph/util/sg_file.h"
#include "graph/util/sg_util.h"

#include <math.h>
#include <string.h>

enum { SG_W2V_MAX_SENTENCE = 1000 }; /* word2vec.c cuts longer lines into sentences of this length */

static bool sg_w2v_blank(char ch) { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' || ch == '\f'; }

/* Calls fn(word, len, ctx) for every word of text, "</s>" for every '\n';
 * false as soon as fn returns false. */
static bool sg_w2v_each_word(const char *text, size_t len, bool (*fn)(const char *, size_t, void *), void *ctx)
{
    for (size_t i = 0; i < len;) {
        if (text[i] == '\n') {
            if (!fn("</s>", 4, ctx))
                return false;
            i++;
        } else if (sg_w2v_blank(text[i])) {
            i++;
        } else {
            size_t j = i;
            while (j < len && text[j] != '\n' && !sg_w2v_blank(text[j]))
                j++;
            if (!fn(text + i, j - i, ctx))
                return false;
            i = j;
        }
    }
    return true;
}

static bool sg_w2v_count(const char *w, size_t n, void *ctx) { return sg_vocab_counter_add(ctx, w, n) == SG_OK; }

typedef struct sg_w2v_fill {
    sg_w2v_corpus *c;
    size_t cap;
} sg_w2v_fill;

static bool sg_w2v_append(const char *w, size_t n, void *ctx)
{
    sg_w2v_fill *f = ctx;
    int32_t id = sg_vocab_id_n(f->c->vocab, w, n);
    if (id < 0)
        return true; /* a dropped word */
    void *p = f->c->ids;
    if (!sg_array_reserve(&p, &f->cap, f->c->n + 1, sizeof *f->c->ids))
        return false;
    f->c->ids = p;
    f->c->ids[f->c->n++] = id;
    return true;
}

void sg_w2v_corpus_free(sg_w2v_corpus *c)
{
    if (!c)
        return;
    sg_vocab_free(c->vocab);
    sg_free(c->ids);
    memset(c, 0, sizeof *c);
}

sg_status sg_w2v_corpus_parse(sg_w2v_corpus *c, const char *text, size_t len, const char *name, size_t min_count,
                              char *err, size_t errcap)
{
    memset(c, 0, sizeof *c);
    if (memchr(text, '\0', len))
        return sg_error_format(err, errcap, SG_ERR_FORMAT, "%s: NUL byte in the text", name);
    sg_vocab *counter = sg_vocab_counter_new();
    if (!counter || !sg_w2v_each_word(text, len, sg_w2v_count, counter)) {
        sg_vocab_free(counter);
        return sg_error_format(err, errcap, SG_ERR_NOMEM, "%s: out of memory counting words", name);
    }
    static const char *const specials[] = {"</s>"};
    sg_status st = sg_vocab_counter_finish(counter, specials, 1, min_count, &c->vocab, err, errcap);
    sg_vocab_free(counter);
    if (st != SG_OK)
        return st;
    if (sg_vocab_size(c->vocab) < 2) {
        sg_w2v_corpus_free(c);
        return sg_error_format(err, errcap, SG_ERR_FORMAT, "%s: no word is seen %zu times (--min-count)", name,
                               min_count);
    }
    sg_w2v_fill f = {c, 0};
    if (!sg_w2v_each_word(text, len, sg_w2v_append, &f)) {
        sg_w2v_corpus_free(c);
        return sg_error_format(err, errcap, SG_ERR_NOMEM, "%s: out of memory reading the text", name);
    }
    c->train_words = c->n;
    return SG_OK;
}

sg_status sg_w2v_corpus_load(sg_w2v_corpus *c, const char *path, size_t min_count, char *err, size_t errcap)
{
    memset(c, 0, sizeof *c);
    unsigned char *buf = NULL;
    size_t len = 0;
    sg_status st = sg_file_read_all(path, "corpus", &buf, &len, err, errcap);
    if (st != SG_OK)
        return st;
    st = sg_w2v_corpus_parse(c, (const char *)buf, len, path, min_count, err, errcap);
    sg_free(buf);
    return st;
}

/* ---- the alias table ------------------------------------------------------------- */

void sg_alias_free(sg_alias *a)
{
    if (!a)
        return;
    sg_free(a->cell);
    memset(a, 0, sizeof *a);
}

sg_status sg_alias_init(sg_alias *a, const double *w, size_t n)
{
    memset(a, 0, sizeof *a);
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(w[i] >= 0) || !isfinite(w[i]))
            return SG_ERR_ARG;
        total += w[i];
    }
    if (!n || !(total > 0) || n > INT32_MAX)
        return SG_ERR_ARG;
    double *prob = sg_malloc(n * sizeof *prob);
    a->cell = sg_malloc(n * sizeof *a->cell);
    size_t *small = sg_malloc(n * sizeof *small), *large = sg_malloc(n * sizeof *large);
    if (!prob || !a->cell || !small || !large) {
        sg_free(prob);
        sg_free(small);
        sg_free(large);
        sg_alias_free(a);
        return SG_ERR_NOMEM;
    }
    a->n = n;
    size_t ns = 0, nl = 0;
    for (size_t i = 0; i < n; i++) {
        prob[i] = w[i] * (double)n / total; /* mean 1 */
        a->cell[i].alias = (int32_t)i;
        if (prob[i] < 1.0)
            small[ns++] = i;
        else
            large[nl++] = i;
    }
    /* pair each under-full outcome with an over-full one, which gives it the rest */
    while (ns && nl) {
        size_t s = small[--ns], l = large[nl - 1];
        a->cell[s].alias = (int32_t)l;
        prob[l] -= 1.0 - prob[s];
        if (prob[l] < 1.0) {
            nl--;
            small[ns++] = l;
        }
    }
    while (nl) /* rounding leaves these at (about) 1; their alias is themselves */
        prob[large[--nl]] = 1.0;
    while (ns)
        prob[small[--ns]] = 1.0;
    for (size_t i = 0; i < n; i++) { /* the probability as a threshold on 32 random bits */
        double t = prob[i] * 0x1p32;
        a->cell[i].keep = t >= 0x1p32 - 1 ? UINT32_MAX : t > 0 ? (uint32_t)t : 0;
    }
    sg_free(prob);
    sg_free(small);
    sg_free(large);
    return SG_OK;
}

int32_t sg_alias_draw(const sg_alias *a, sg_rng *rng)
{
    uint64_t x = sg_rng_next(rng);
    size_t i = (size_t)(((x >> 32) * (uint64_t)a->n) >> 32); /* < n */
    sg_alias_cell c = a->cell[i];
    return (uint32_t)x < c.keep ? (int32_t)i : c.alias;
}

/* ---- the batcher ------------------------------------------------------------------- */

sg_w2v_opts sg_w2v_opts_defaults(void)
{
    return (sg_w2v_opts){.arch = SG_W2V_SKIPGRAM, .window = 5, .negative = 5, .sample = 1e-3, .batch = 128, .iters = 5};
}

void sg_w2v_batcher_free(sg_w2v_batcher *it)
{
    if (!it)
        return;
    sg_alias_free(&it->neg);
    sg_free(it->keep);
    sg_free(it->sent);
    sg_free(it->center);
    sg_free(it->target);
    sg_free(it->context);
    sg_free(it->ctx_mask);
    sg_free(it->ctx_scale);
    memset(it, 0, sizeof *it);
}

sg_status sg_w2v_batcher_init(sg_w2v_batcher *it, const sg_w2v_corpus *c, const sg_w2v_opts *o, char *err,
                              size_t errcap)
{
    memset(it, 0, sizeof *it);
    if (!o->window || !o->negative || !o->batch || !o->iters || !(o->sample >= 0) || !isfinite(o->sample) ||
        o->window > 1000 || o->negative > 1000)
        return sg_error_format(err, errcap, SG_ERR_ARG,
                               "word2vec: window (1..1000), negative (1..1000), batch and passes must be positive, "
                               "the sample threshold finite and >= 0");
    it->c = c;
    it->o = *o;
    it->begin = 0;
    it->end = c->n;
    const size_t V = sg_vocab_size(c->vocab), N = o->batch, K = o->negative, C = 2 * o->window;
    double *w = sg_malloc(V * sizeof *w);
    it->keep = sg_malloc(V * sizeof *it->keep);
    it->center = sg_malloc(N * sizeof *it->center);
    it->target = sg_malloc(N * (K + 1) * sizeof *it->target);
    it->context = sg_malloc(N * C * sizeof *it->context);
    it->ctx_mask = sg_malloc(N * C * sizeof *it->ctx_mask);
    it->ctx_scale = sg_malloc(N * sizeof *it->ctx_scale);
    it->sent = sg_malloc(SG_W2V_MAX_SENTENCE * sizeof *it->sent);
    sg_status st = w && it->keep && it->center && it->target && it->context && it->ctx_mask && it->ctx_scale && it->sent
                       ? SG_OK
                       : SG_ERR_NOMEM;
    const double T = (double)c->train_words, s = o->sample;
    for (size_t i = 0; st == SG_OK && i < V; i++) {
        double f = (double)sg_vocab_count(c->vocab, (int32_t)i);
        w[i] = pow(f, 0.75);
        double keep = s > 0 && f > 0 ? (sqrt(f / (s * T)) + 1) * (s * T) / f : 1.0;
        it->keep[i] = keep < 1.0 ? keep : 1.0;
    }
    if (st == SG_OK && (st = sg_alias_init(&it->neg, w, V)) != SG_OK)
        st = st == SG_ERR_NOMEM ? st : SG_ERR_FORMAT; /* no counts at all */
    sg_free(w);
    if (st != SG_OK) {
        sg_w2v_batcher_free(it);
        return sg_error_format(err, errcap, st, "word2vec: %s",
                               st == SG_ERR_NOMEM ? "out of memory for the batches" : "the corpus has no counts");
    }
    return SG_OK;
}

uint64_t sg_w2v_total_words(const sg_w2v_batcher *it) { return (uint64_t)it->o.iters * (it->end - it->begin); }

/* The first sentence start at or after position p (the text's end at most). */
static size_t sg_w2v_sentence_start(const sg_w2v_corpus *c, size_t p)
{
    if (p == 0 || p >= c->n)
        return p < c->n ? p : c->n;
    while (p < c->n && c->ids[p - 1] != 0)
        p++;
    return p;
}

sg_status sg_w2v_batcher_shard(sg_w2v_batcher *it, size_t t, size_t T)
{
    if (!it || !it->c || !T || t >= T)
        return SG_ERR_ARG;
    const size_t n = it->c->n;
    /* the ends t * n / T and (t + 1) * n / T, the products checked */
    size_t lo, hi;
    if (!sg_size_mul(t, n, &lo) || !sg_size_mul(t + 1, n, &hi))
        return SG_ERR_ARG;
    it->begin = sg_w2v_sentence_start(it->c, lo / T);
    it->end = sg_w2v_sentence_start(it->c, hi / T);
    it->pos = it->begin;
    it->iter = 0;
    it->words_done = 0;
    it->sent_len = it->at = 0;
    return SG_OK;
}

double sg_w2v_rate(const sg_w2v_batcher *it, const sg_w2v_batch *b, double lr0)
{
    return lr0 * fmax(1e-4, 1.0 - (double)b->words_done / (double)(sg_w2v_total_words(it) + 1));
}

/* Reads the next sentence into it->sent (subsampled); false after the last pass. */
static bool sg_w2v_read_sentence(sg_w2v_batcher *it, sg_rng *rng)
{
    for (;;) {
        if (it->pos >= it->end) {
            if (++it->iter >= it->o.iters)
                return false;
            it->pos = it->begin;
        }
        it->sent_len = 0;
        while (it->pos < it->end && it->sent_len < SG_W2V_MAX_SENTENCE) {
            int32_t id = it->c->ids[it->pos++];
            it->words_done++;
            if (id == 0)
                break; /* "</s>" ends the sentence */
            if (it->keep[id] < 1.0 && !(it->keep[id] >= sg_rng_uniform(rng)))
                continue;
            it->sent[it->sent_len++] = id;
        }
        if (it->sent_len >= 2)
            return true;
    }
}

/* The negatives of example i, none equal to its positive target[i][0] (a
 * draw equal to it is drawn again, up to 16 times). */
static void sg_w2v_negatives(sg_w2v_batcher *it, sg_rng *rng, size_t i)
{
    const size_t K = it->o.negative;
    int32_t *t = it->target + i * (K + 1);
    for (size_t k = 1; k <= K; k++) {
        int32_t d = sg_alias_draw(&it->neg, rng);
        for (int tries = 0; d == t[0] && tries < 16; tries++)
            d = sg_alias_draw(&it->neg, rng);
        t[k] = d;
    }
}

bool sg_w2v_batcher_next(sg_w2v_batcher *it, sg_rng *rng, sg_w2v_batch *b)
{
    const size_t N = it->o.batch, K = it->o.negative, C = 2 * it->o.window;
    size_t fill = 0;
    while (fill < N) {
        if (it->at >= it->sent_len) { /* the next sentence, and its first center */
            if (!sg_w2v_read_sentence(it, rng))
                break;
            it->at = 0;
            it->ctx_b = 1 + (size_t)sg_rng_below(rng, it->o.window);
            it->ctx_k = 0;
        }
        const size_t at = it->at, eff = it->ctx_b, lo = at >= eff ? at - eff : 0;
        const size_t hi = at + eff < it->sent_len ? at + eff : it->sent_len - 1;
        if (it->o.arch == SG_W2V_SKIPGRAM) {
            /* one example per context word: positions lo..hi except at, from ctx_k on */
            size_t j = lo + it->ctx_k;
            if (j == at)
                j++, it->ctx_k++;
            if (j <= hi) {
                it->center[fill] = it->sent[at];
                it->target[fill * (K + 1)] = it->sent[j];
                sg_w2v_negatives(it, rng, fill);
                fill++;
                it->ctx_k++;
                continue;
            }
        } else {
            size_t m = 0;
            for (size_t j = lo; j <= hi; j++)
                if (j != at) {
                    it->context[fill * C + m] = it->sent[j];
                    it->ctx_mask[fill * C + m++] = 1.0;
                }
            for (size_t j = m; j < C; j++) {
                it->context[fill * C + j] = 0;
                it->ctx_mask[fill * C + j] = 0.0;
            }
            it->ctx_scale[fill] = 1.0 / (double)m; /* m >= 1: a sentence has 2 words or more */
            it->target[fill * (K + 1)] = it->sent[at];
            sg_w2v_negatives(it, rng, fill);
            fill++;
        }
        /* the next center, with its own window */
        it->at++;
        it->ctx_b = 1 + (size_t)sg_rng_below(rng, it->o.window);
        it->ctx_k = 0;
    }
    *b = (sg_w2v_batch){.n = fill,
                        .center = it->center,
                        .target = it->target,
                        .context = it->context,
                        .ctx_mask = it->ctx_mask,
                        .ctx_scale = it->ctx_scale,
                        .words_done = it->words_done};
    return fill > 0;
}
