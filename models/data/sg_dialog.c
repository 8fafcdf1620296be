/* sg_dialog.c — dialogue files, their tags, the seeded split and the batcher
 * of whole dialogues (see sg_dialog.h; the legend is there).
 *
 * Parsing makes two passes like sg_pairs.c: the first finds each dialogue's
 * line and checks its utterances, the second, after the split, counts the
 * training words and maps every dialogue to ids. */
#include "models/data/sg_dialog.h"

#include "models/data/sg_batching.h"

#include "graph/core/sg_alloc.h"
#include "graph/util/sg_file.h"
#include "graph/util/sg_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

size_t sg_dialog_utts(const sg_dialog_set *s, size_t i) { return s->utt_off[i + 1] - s->utt_off[i]; }

const int32_t *sg_dialog_words(const sg_dialog_set *s, size_t i, size_t u, size_t *n)
{
    size_t k = s->utt_off[i] + u;
    *n = s->tok_off[k + 1] - s->tok_off[k];
    return s->tok + s->tok_off[k];
}

sg_dialog_opts sg_dialog_opts_defaults(void)
{
    return (sg_dialog_opts){.valid_frac = 0.1, .test_frac = 0.1, .seed = 1, .min_count = 1, .max_turns = 32};
}

static bool sg_is_eou(const char *t, size_t n)
{
    return n == sizeof SG_DIALOG_EOU - 1 && memcmp(t, SG_DIALOG_EOU, n) == 0;
}

/* One dialogue's line of the text. */
typedef struct sg_dialog_span {
    const char *text;
    size_t len, line, utts, words;
    const char *tag; /* its tags line (utts bytes), or NULL */
} sg_dialog_span;

/* Counts the utterances and words of a line; SG_ERR_FORMAT (message: what is
 * wrong, without the place) for an empty utterance.  A trailing separator is
 * allowed. */
static sg_status sg_dialog_count(const char *l, size_t ll, size_t *utts, size_t *words, char *why, size_t whycap)
{
    size_t pos = 0, tl, in_utt = 0;
    const char *t;
    *utts = *words = 0;
    while (sg_token_next(SG_TOKENIZE_WORDS, l, ll, &pos, &t, &tl)) {
        if (sg_is_eou(t, tl)) {
            if (!in_utt)
                return sg_error_format(why, whycap, SG_ERR_FORMAT,
                                       "utterance %zu is empty (\"%s\" with no words before it)", *utts + 1,
                                       SG_DIALOG_EOU);
            (*utts)++;
            in_utt = 0;
        } else {
            in_utt++;
            (*words)++;
        }
    }
    if (in_utt)
        (*utts)++;
    if (!*utts)
        return sg_error_format(why, whycap, SG_ERR_FORMAT, "no words");
    return SG_OK;
}

/* The next line of text from *i: its start and length (without '\n'). */
static bool sg_next_line(const char *text, size_t len, size_t *i, const char **l, size_t *ll)
{
    if (*i >= len)
        return false;
    const char *nl = memchr(text + *i, '\n', len - *i);
    size_t end = nl ? (size_t)(nl - text) : len;
    *l = text + *i;
    *ll = end - *i;
    *i = end + 1;
    return true;
}

static size_t sg_trim(const char *s, size_t n)
{
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\v' || s[n - 1] == '\f'))
        n--;
    return n;
}

static sg_status sg_dialog_scan(const char *text, size_t len, const char *name, const char *tags, size_t tags_len,
                                const char *tags_name, size_t max_turns, sg_dialog_span **out, size_t *n, char *err,
                                size_t errcap)
{
    *out = NULL;
    *n = 0;
    sg_dialog_span *sp = NULL;
    size_t cap = 0, count = 0, line = 0, i = 0, ti = 0;
    const char *l;
    size_t ll;
    sg_status st = SG_OK;
    while (st == SG_OK && sg_next_line(text, len, &i, &l, &ll)) {
        line++;
        const char *tl = NULL;
        size_t tll = 0;
        if (tags && !sg_next_line(tags, tags_len, &ti, &tl, &tll)) {
            st = sg_error_format(err, errcap, SG_ERR_FORMAT, "%s has %zu lines, fewer than %s", tags_name, line - 1,
                                 name);
            break;
        }
        tll = tl ? sg_trim(tl, tll) : 0;
        if (memchr(l, '\0', ll)) {
            st = sg_error_format(err, errcap, SG_ERR_FORMAT, "%s:%zu: NUL byte in the line", name, line);
            break;
        }
        if (!sg_utf8_valid(l, ll)) {
            st = sg_error_format(err, errcap, SG_ERR_FORMAT, "%s:%zu: the line is not valid UTF-8", name, line);
            break;
        }
        ll = sg_trim(l, ll);
        size_t pos = 0, wl;
        const char *w;
        if (!sg_token_next(SG_TOKENIZE_WORDS, l, ll, &pos, &w, &wl)) {
            if (tll)
                st = sg_error_format(err, errcap, SG_ERR_FORMAT, "%s:%zu: tags for an empty line of %s", tags_name,
                                     line, name);
            continue;
        }
        sg_dialog_span s = {.text = l, .len = ll, .line = line, .tag = tl};
        char why[256];
        if (sg_dialog_count(l, ll, &s.utts, &s.words, why, sizeof why) != SG_OK) {
            st = sg_error_format(err, errcap, SG_ERR_FORMAT, "%s:%zu: %s", name, line, why);
            break;
        }
        if (s.utts < 2) {
            st = sg_error_format(
                err, errcap, SG_ERR_FORMAT,
                "%s:%zu: a dialogue needs two utterances or more (separated by \"%s\"), this one has one", name, line,
                SG_DIALOG_EOU);
            break;
        }
        if (s.utts > max_turns) {
            st = sg_error_format(err, errcap, SG_ERR_FORMAT,
                                 "%s:%zu: %zu utterances, more than the %zu turns the model is set for (--max-turns)",
                                 name, line, s.utts, max_turns);
            break;
        }
        if (tags && tll != s.utts) {
            st = sg_error_format(err, errcap, SG_ERR_FORMAT,
                                 "%s:%zu: %zu tags for a dialogue of %zu utterances (one character per utterance)",
                                 tags_name, line, tll, s.utts);
            break;
        }
        void *p = sp;
        if (!sg_array_reserve(&p, &cap, count + 1, sizeof *sp)) {
            st = sg_error_format(err, errcap, SG_ERR_NOMEM, "%s: out of memory", name);
            break;
        }
        sp = p;
        sp[count++] = s;
    }
    if (st == SG_OK && !count)
        st = sg_error_format(err, errcap, SG_ERR_FORMAT, "%s holds no dialogues", name);
    if (st != SG_OK) {
        sg_free(sp);
        return st;
    }
    *out = sp;
    *n = count;
    return SG_OK;
}

static void sg_dialog_set_free(sg_dialog_set *s)
{
    sg_free(s->utt_off);
    sg_free(s->tok_off);
    sg_free(s->tok);
    sg_free(s->tag);
    sg_free(s->line);
    memset(s, 0, sizeof *s);
}

/* Maps the spans sp[idx[0..n)] to ids of v into s. */
static sg_status sg_dialog_set_make(sg_dialog_set *s, const sg_dialog_span *sp, const size_t *idx, size_t n,
                                    const sg_vocab *v, bool tagged)
{
    memset(s, 0, sizeof *s);
    size_t nu = 0, nw = 0;
    for (size_t i = 0; i < n; i++) {
        nu += sp[idx[i]].utts;
        nw += sp[idx[i]].words;
    }
    s->n = n;
    s->utt_off = sg_malloc((n + 1) * sizeof *s->utt_off);
    s->tok_off = sg_malloc((nu + 1) * sizeof *s->tok_off);
    s->tok = sg_malloc((nw ? nw : 1) * sizeof *s->tok);
    s->line = sg_malloc((n ? n : 1) * sizeof *s->line);
    s->tag = tagged ? sg_malloc(nu ? nu : 1) : NULL;
    if (!s->utt_off || !s->tok_off || !s->tok || !s->line || (tagged && !s->tag)) {
        sg_dialog_set_free(s);
        return SG_ERR_NOMEM;
    }
    size_t u = 0, w = 0;
    for (size_t i = 0; i < n; i++) {
        const sg_dialog_span *p = &sp[idx[i]];
        s->utt_off[i] = u;
        s->line[i] = p->line;
        if (tagged)
            memcpy(s->tag + u, p->tag, p->utts);
        size_t pos = 0, tl, first = u;
        const char *t;
        s->tok_off[u] = w;
        bool open = false;
        while (sg_token_next(SG_TOKENIZE_WORDS, p->text, p->len, &pos, &t, &tl)) {
            if (sg_is_eou(t, tl)) {
                s->tok_off[++u] = w;
                open = false;
                continue;
            }
            int32_t id = sg_vocab_id_n(v, t, tl);
            s->tok[w++] = id < 0 ? SG_PAIRS_UNK_ID : id;
            open = true;
        }
        if (open)
            s->tok_off[++u] = w;
        for (size_t k = first; k < u; k++) {
            size_t len = s->tok_off[k + 1] - s->tok_off[k];
            s->max_words = len > s->max_words ? len : s->max_words;
        }
        s->max_utts = u - first > s->max_utts ? u - first : s->max_utts;
    }
    s->utt_off[n] = u;
    return SG_OK;
}

void sg_dialog_data_free(sg_dialog_data *d)
{
    if (!d)
        return;
    sg_vocab_free(d->vocab);
    for (int i = 0; i < 3; i++)
        sg_dialog_set_free(&d->split[i]);
    memset(d, 0, sizeof *d);
}

sg_status sg_dialog_data_parse(sg_dialog_data *d, const char *text, size_t len, const char *name, const char *tags,
                               size_t tags_len, const char *tags_name, const sg_dialog_opts *o, char *err,
                               size_t errcap)
{
    if (!d)
        return sg_error_format(err, errcap, SG_ERR_ARG, "sg_dialog_data_parse: d is NULL");
    memset(d, 0, sizeof *d);
    if (!name)
        name = "text";
    if (!tags_name)
        tags_name = "tags";
    sg_dialog_opts def = sg_dialog_opts_defaults();
    if (!o)
        o = &def;
    if ((!text && len) || o->max_turns < 2 ||
        !(o->valid_frac >= 0 && o->test_frac >= 0 && o->valid_frac + o->test_frac < 1))
        return sg_error_format(err, errcap, SG_ERR_ARG,
                               "%s: bad options (valid %g, test %g: fractions >= 0 with a sum < 1; max turns %zu >= 2)",
                               name, o->valid_frac, o->test_frac, o->max_turns);
    sg_dialog_span *sp;
    size_t n;
    sg_status st =
        sg_dialog_scan(text ? text : "", len, name, tags, tags_len, tags_name, o->max_turns, &sp, &n, err, errcap);
    if (st != SG_OK)
        return st;
    size_t *idx = sg_malloc(n * sizeof *idx);
    sg_vocab *counter = sg_vocab_counter_new();
    if (!idx || !counter) {
        st = sg_error_format(err, errcap, SG_ERR_NOMEM, "%s: out of memory", name);
        goto done;
    }
    size_t n_valid, n_test;
    if ((st = sg_split_seeded(idx, n, o->seed, o->valid_frac, o->test_frac, &n_valid, &n_test, name, "dialogues", err,
                              errcap)) != SG_OK)
        goto done;
    const size_t *tr = idx + n_valid + n_test;
    size_t n_train = n - n_valid - n_test;
    for (size_t i = 0; i < n_train && st == SG_OK; i++) {
        size_t pos = 0, tl;
        const char *t;
        while (st == SG_OK && sg_token_next(SG_TOKENIZE_WORDS, sp[tr[i]].text, sp[tr[i]].len, &pos, &t, &tl))
            if (!sg_is_eou(t, tl))
                st = sg_vocab_counter_add(counter, t, tl);
    }
    if (st != SG_OK) {
        st = sg_error_format(err, errcap, st, "%s: out of memory counting words", name);
        goto done;
    }
    static const char *const specials[] = {SG_PAIRS_PAD, SG_PAIRS_BOS, SG_PAIRS_EOS, SG_PAIRS_UNK};
    if ((st = sg_vocab_counter_finish(counter, specials, 4, o->min_count, &d->vocab, err, errcap)) != SG_OK)
        goto done;
    const size_t *part[3] = {tr, idx, idx + n_valid};
    const size_t count[3] = {n_train, n_valid, n_test};
    for (int k = 0; k < 3 && st == SG_OK; k++)
        if ((st = sg_dialog_set_make(&d->split[k], sp, part[k], count[k], d->vocab, tags != NULL)) != SG_OK)
            st = sg_error_format(err, errcap, st, "%s: out of memory", name);
done:
    sg_vocab_free(counter);
    sg_free(idx);
    sg_free(sp);
    if (st != SG_OK)
        sg_dialog_data_free(d);
    return st;
}

sg_status sg_dialog_data_load(sg_dialog_data *d, const char *path, const char *tags_path, const sg_dialog_opts *o,
                              char *err, size_t errcap)
{
    if (d)
        memset(d, 0, sizeof *d);
    unsigned char *buf, *tbuf = NULL;
    size_t len, tlen = 0;
    sg_status st = sg_file_read_all(path, "dialogue file", &buf, &len, err, errcap);
    if (st != SG_OK)
        return st;
    if (tags_path && (st = sg_file_read_all(tags_path, "tags file", &tbuf, &tlen, err, errcap)) != SG_OK) {
        sg_free(buf);
        return st;
    }
    st = sg_dialog_data_parse(d, (const char *)buf, len, path, (const char *)tbuf, tlen, tags_path, o, err, errcap);
    sg_free(buf);
    sg_free(tbuf);
    return st;
}

sg_status sg_dialog_parse_context(const sg_vocab *v, const char *text, int32_t **ids, size_t **offs, size_t *n_utts,
                                  char *err, size_t errcap)
{
    *ids = NULL;
    *offs = NULL;
    *n_utts = 0;
    size_t len = strlen(text), utts, words;
    char why[256];
    if (sg_dialog_count(text, len, &utts, &words, why, sizeof why) != SG_OK)
        return sg_error_format(err, errcap, SG_ERR_FORMAT, "the context: %s", why);
    *ids = sg_malloc((words ? words : 1) * sizeof **ids);
    *offs = sg_malloc((utts + 1) * sizeof **offs);
    if (!*ids || !*offs) {
        sg_free(*ids);
        sg_free(*offs);
        *ids = NULL;
        *offs = NULL;
        return sg_error_format(err, errcap, SG_ERR_NOMEM, "out of memory");
    }
    size_t pos = 0, tl, u = 0, w = 0;
    const char *t;
    bool open = false;
    (*offs)[0] = 0;
    while (sg_token_next(SG_TOKENIZE_WORDS, text, len, &pos, &t, &tl)) {
        if (sg_is_eou(t, tl)) {
            (*offs)[++u] = w;
            open = false;
            continue;
        }
        int32_t id = sg_vocab_id_n(v, t, tl);
        if (id < 4) {
            sg_free(*ids);
            sg_free(*offs);
            *ids = NULL;
            *offs = NULL;
            return sg_error_format(err, errcap, SG_ERR_FORMAT,
                                   "the context: word '%.*s' (utterance %zu) is not in the model's vocabulary", (int)tl,
                                   t, u + 1);
        }
        (*ids)[w++] = id;
        open = true;
    }
    if (open)
        (*offs)[++u] = w;
    *n_utts = u;
    return SG_OK;
}

/* ---- batches ------------------------------------------------------------------- */

void sg_dialog_batcher_free(sg_dialog_batcher *it)
{
    if (!it)
        return;
    sg_free(it->order);
    sg_free(it->batch_start);
    sg_free(it->n_utts);
    sg_free(it->enc_in);
    sg_free(it->dec_in);
    sg_free(it->dec_out);
    sg_free(it->enc_mask);
    sg_free(it->dec_mask);
    sg_free(it->utt_mask);
    memset(it, 0, sizeof *it);
}

sg_status sg_dialog_batcher_init(sg_dialog_batcher *it, const sg_dialog_set *set, size_t batch, size_t bucket,
                                 char *err, size_t errcap)
{
    if (!it)
        return sg_error_format(err, errcap, SG_ERR_ARG, "dialogue batcher: NULL batcher");
    memset(it, 0, sizeof *it);
    if (!set || !set->n || !batch)
        return sg_error_format(err, errcap, SG_ERR_ARG,
                               "dialogue batcher: batch %zu over %zu dialogues (both must be > 0)", batch,
                               set ? set->n : 0);
    size_t rows, cells, ub;
    if (!sg_size_mul(set->max_utts, batch, &rows) || !sg_size_mul(set->max_words + 1, rows, &cells) ||
        cells > SIZE_MAX / sizeof(double) || !sg_size_mul(set->max_utts, batch, &ub))
        return sg_error_format(err, errcap, SG_ERR_ARG, "dialogue batcher: batch %zu is too large", batch);
    it->set = set;
    it->batch = batch;
    it->bucket = bucket;
    it->n_batches = (set->n + batch - 1) / batch;
    it->order = sg_malloc(set->n * sizeof *it->order);
    it->batch_start = sg_malloc(it->n_batches * sizeof *it->batch_start);
    it->n_utts = sg_malloc(batch * sizeof *it->n_utts);
    it->enc_in = sg_malloc(cells * sizeof *it->enc_in);
    it->dec_in = sg_malloc(cells * sizeof *it->dec_in);
    it->dec_out = sg_malloc(cells * sizeof *it->dec_out);
    it->enc_mask = sg_malloc(cells * sizeof *it->enc_mask);
    it->dec_mask = sg_malloc(cells * sizeof *it->dec_mask);
    it->utt_mask = sg_malloc(ub * sizeof *it->utt_mask);
    if (!it->order || !it->batch_start || !it->n_utts || !it->enc_in || !it->dec_in || !it->dec_out || !it->enc_mask ||
        !it->dec_mask || !it->utt_mask) {
        sg_dialog_batcher_free(it);
        return sg_error_format(err, errcap, SG_ERR_NOMEM, "dialogue batcher: out of memory");
    }
    sg_dialog_batcher_epoch(it, NULL);
    return SG_OK;
}

/* The sort key of a dialogue: (utterances, longest utterance, index). */
static _Thread_local const sg_dialog_set *sg_sort_dialogs;

static size_t sg_dialog_longest(const sg_dialog_set *s, size_t i)
{
    size_t m = 0;
    for (size_t k = s->utt_off[i]; k < s->utt_off[i + 1]; k++)
        m = s->tok_off[k + 1] - s->tok_off[k] > m ? s->tok_off[k + 1] - s->tok_off[k] : m;
    return m;
}

static int sg_by_shape(const void *pa, const void *pb)
{
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    const sg_dialog_set *s = sg_sort_dialogs;
    size_t ua = sg_dialog_utts(s, a), ub = sg_dialog_utts(s, b);
    if (ua != ub)
        return ua < ub ? -1 : 1;
    size_t la = sg_dialog_longest(s, a), lb = sg_dialog_longest(s, b);
    if (la != lb)
        return la < lb ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
}

void sg_dialog_batcher_epoch(sg_dialog_batcher *it, sg_rng *rng)
{
    it->next = 0;
    sg_sort_dialogs = it->set;
    sg_bucket_epoch(it->order, it->set->n, it->batch_start, it->n_batches, it->batch, it->bucket, rng, sg_by_shape);
}

void sg_dialog_batcher_make(sg_dialog_batcher *it, const size_t *ex, size_t B, sg_dialog_batch *b)
{
    const sg_dialog_set *s = it->set;
    size_t U = 0, L = 0;
    for (size_t j = 0; j < B; j++) {
        size_t nu = sg_dialog_utts(s, ex[j]), lw = sg_dialog_longest(s, ex[j]);
        it->n_utts[j] = nu;
        U = nu > U ? nu : U;
        L = lw + 1 > L ? lw + 1 : L;
    }
    const size_t R = U * B;
    for (size_t u = 0; u < U; u++)
        for (size_t j = 0; j < B; j++) {
            size_t r = u * B + j, n = 0;
            bool real = u < it->n_utts[j];
            const int32_t *w = real ? sg_dialog_words(s, ex[j], u, &n) : NULL;
            it->utt_mask[r] = real ? 1.0 : 0.0;
            for (size_t t = 0; t < L; t++) {
                size_t c = t * R + r;
                it->enc_in[c] = t < n ? w[t] : SG_PAIRS_PAD_ID;
                it->enc_mask[c] = t < n ? 1.0 : 0.0;
                it->dec_in[c] = !real    ? SG_PAIRS_PAD_ID
                                : t == 0 ? SG_PAIRS_BOS_ID
                                : t <= n ? w[t - 1]
                                         : SG_PAIRS_PAD_ID;
                it->dec_out[c] = !real ? SG_PAIRS_PAD_ID : t < n ? w[t] : t == n ? SG_PAIRS_EOS_ID : SG_PAIRS_PAD_ID;
                it->dec_mask[c] = real && t <= n ? 1.0 : 0.0;
            }
        }
    *b = (sg_dialog_batch){.batch = B,
                           .utts = U,
                           .steps = L,
                           .example = ex,
                           .n_utts = it->n_utts,
                           .enc_in = it->enc_in,
                           .enc_mask = it->enc_mask,
                           .dec_in = it->dec_in,
                           .dec_out = it->dec_out,
                           .dec_mask = it->dec_mask,
                           .utt_mask = it->utt_mask};
}

bool sg_dialog_batcher_next(sg_dialog_batcher *it, sg_dialog_batch *b)
{
    if (it->next >= it->n_batches)
        return false;
    size_t start = it->batch_start[it->next++];
    size_t B = it->set->n - start < it->batch ? it->set->n - start : it->batch;
    sg_dialog_batcher_make(it, it->order + start, B, b);
    return true;
}
