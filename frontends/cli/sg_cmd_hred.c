/* sg_cmd_hred.c — the dialogue tasks: `seqgrad dialogues` (the generated
 * corpus), `train hred|vhred` (and the previous-utterance baseline, `train
 * hred --prev-only`), `eval` and `generate` from their checkpoints, and the
 * probes of `gradcheck hred|vhred` and `graph hred|vhred`.
 *
 * Evaluation (one function for train, eval and the table in docs/hred.md),
 * on a split of whole dialogues:
 *   perplexity   exp(CE / T) over the real target tokens; VHRED: the bound
 *                exp((CE + KL) / T) with one posterior sample (seeded), and
 *                KL / T separately
 *   exact match  greedy replies (VHRED: z = the prior's mean) equal to the
 *                target, over the replies tagged 'c' (context-dependent), and
 *                over all replies
 *   distinct-n   distinct n-grams / n-grams, n = 1, 2, of the replies to
 *                the turns tagged 'm' (several valid answers): sampled
 *                (temperature 1; VHRED: z drawn from the prior), greedy
 *                (VHRED: z drawn from the prior, so its variety is z's), and
 *                the data's own replies to those turns
 * Without a tags file every reply counts as 'c' and as 'm'. */
#include "frontends/cellfile/sg_cellfile.h"
#include "frontends/cli/sg_cli_progress.h"
#include "frontends/cli/sg_cli_settings.h"
#include "frontends/cli/sg_cli_task.h"

#include "graph/core/sg_alloc.h"
#include "graph/format/sg_checkpoint.h"
#include "graph/optim/sg_optim.h"
#include "graph/util/sg_file.h"
#include "graph/util/sg_util.h"
#include "models/hred/sg_hred.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- seqgrad dialogues ------------------------------------------------------------ */

int sg_cmd_dialogues(sg_cli_args *a)
{
    const char *out = sg_cli_opt(a, "output");
    size_t n, seed;
    if (!sg_cli_opt_size_in(a, "dialogues", 20000, 1, 100000000, &n) || !sg_cli_opt_size(a, "seed", 1, &seed) ||
        !sg_cli_check_all_used(a))
        return SG_EXIT_USAGE;
    if (!out) {
        sg_cli_error("usage: seqgrad dialogues -o FILE [--dialogues N] [--seed S] (also writes FILE.tags)");
        return SG_EXIT_USAGE;
    }
    char tags_path[4096], err[4096];
    snprintf(tags_path, sizeof tags_path, "%s.tags", out);
    sg_file_tmp f, t;
    if (sg_file_tmp_open(&f, out, "dialogue file", err, sizeof err) != SG_OK) {
        sg_cli_error("%s", err);
        return SG_EXIT_FAIL;
    }
    if (sg_file_tmp_open(&t, tags_path, "tags file", err, sizeof err) != SG_OK) {
        sg_file_tmp_abort(&f);
        sg_cli_error("%s", err);
        return SG_EXIT_FAIL;
    }
    if (sg_dialog_synth(f.f, t.f, n, seed) != SG_OK) {
        sg_file_tmp_abort(&f);
        sg_file_tmp_abort(&t);
        sg_cli_error("cannot write '%s'", out);
        return SG_EXIT_FAIL;
    }
    if (sg_file_tmp_commit(&f, err, sizeof err) != SG_OK) {
        sg_file_tmp_abort(&t);
        sg_cli_error("%s", err);
        return SG_EXIT_FAIL;
    }
    if (sg_file_tmp_commit(&t, err, sizeof err) != SG_OK) {
        sg_cli_error("%s", err);
        return SG_EXIT_FAIL;
    }
    printf("wrote %zu dialogues to %s and their tags to %s (seed %zu)\n", n, out, tags_path, seed);
    return SG_EXIT_OK;
}

/* ---- a run's settings ---------------------------------------------------------------- */

typedef struct sg_hd_settings {
    sg_hred_config cfg; /* vocab 0 until the data or the vocabulary is known */
    size_t batch, bucket, seed, min_count, max_turns, truncate, kl_anneal;
    double clip, valid_frac, test_frac, word_dropout;
} sg_hd_settings;

static const sg_cli_setting sg_hd_setting_list[] = {{"cell", false, true},          {"embed", false, true},
                                                    {"hidden", false, true},        {"context-hidden", false, true},
                                                    {"latent", false, true},        {"mlp", false, true},
                                                    {"bidirectional", true, false}, {"no-context-input", true, false},
                                                    {"prev-only", true, false},     {"batch", false, false},
                                                    {"seed", false, false},         {"clip", false, false},
                                                    {"valid-frac", false, false},   {"test-frac", false, false},
                                                    {"min-count", false, false},    {"max-turns", false, false},
                                                    {"bucket", false, false},       {"truncate", false, false},
                                                    {"kl-anneal", false, false},    {"word-dropout", false, false}};
enum { SG_HD_N_SETTINGS = sizeof sg_hd_setting_list / sizeof sg_hd_setting_list[0] };

/* The cell as reports name it: the built-in kind, or the cell file or plugin. */
static const char *sg_hd_cell_label(const sg_hred_config *c)
{
    return c->make_ctx ? sg_cellfile_name(c->make_ctx) : sg_cell_kind_name(c->kind);
}

/* The model options (also the probes'): kind is SG_HRED or SG_VHRED (the task). */
static bool sg_hd_parse_model(sg_cli_args *a, sg_hred_kind kind, sg_hred_config *c, size_t def_embed, size_t def_hidden)
{
    memset(c, 0, sizeof *c);
    const char *cell = sg_cli_opt(a, "cell");
    c->kind = SG_CELL_GRU;
    if (sg_cli_cell_is_file(cell) || (cell && strcmp(cell, "custom") == 0))
        c->kind = SG_CELL_CUSTOM; /* the caller loads the file, or takes a checkpoint's, and sets make */
    else if (cell && sg_cell_kind_parse(cell, &c->kind) != SG_OK) {
        sg_cli_error("--cell must be rnn, lstm, peephole or gru, not '%s'", cell);
        return false;
    }
    if (!sg_cli_opt_size_in(a, "embed", def_embed, 1, 65536, &c->embed) ||
        !sg_cli_opt_size_in(a, "hidden", def_hidden, 1, 65536, &c->hidden) ||
        !sg_cli_opt_size_in(a, "context-hidden", c->hidden, 1, 65536, &c->context) ||
        !sg_cli_opt_size_in(a, "latent", kind == SG_VHRED ? (def_hidden + 1) / 2 : 0, 0, 65536, &c->latent) ||
        !sg_cli_opt_size_in(a, "mlp", kind == SG_VHRED ? c->context : 0, 0, 65536, &c->mlp))
        return false;
    c->bidirectional = sg_cli_flag(a, "bidirectional");
    c->context_input = !sg_cli_flag(a, "no-context-input");
    c->model = sg_cli_flag(a, "prev-only") ? SG_HRED_PREV : kind;
    if (kind == SG_VHRED && c->model == SG_HRED_PREV) {
        sg_cli_error("--prev-only is the baseline of `train hred`: VHRED always has its context RNN");
        return false;
    }
    if (kind == SG_VHRED && (!c->latent || !c->mlp)) {
        sg_cli_error("VHRED needs --latent and --mlp of 1 or more");
        return false;
    }
    if (kind != SG_VHRED && (c->latent || c->mlp)) {
        sg_cli_error("--latent and --mlp size VHRED's latent variable: `train vhred`, not `train hred`");
        return false;
    }
    return true;
}

static bool sg_hd_parse_settings(sg_cli_args *a, sg_hred_kind kind, sg_hd_settings *s)
{
    memset(s, 0, sizeof *s);
    sg_dialog_opts o = sg_dialog_opts_defaults();
    if (!sg_hd_parse_model(a, kind, &s->cfg, 64, 128) || !sg_cli_opt_size_in(a, "batch", 64, 1, 100000, &s->batch) ||
        !sg_cli_opt_size_in(a, "bucket", 1, 1, 100000, &s->bucket) || !sg_cli_opt_size(a, "seed", 1, &s->seed) ||
        !sg_cli_opt_size_in(a, "min-count", 1, 1, SIZE_MAX, &s->min_count) ||
        !sg_cli_opt_size_in(a, "max-turns", o.max_turns, 2, 100000, &s->max_turns) ||
        !sg_cli_opt_size_in(a, "truncate", 0, 0, 100000, &s->truncate) ||
        !sg_cli_opt_size(a, "kl-anneal", 0, &s->kl_anneal) ||
        !sg_cli_opt_double_in(a, "clip", 1.0, 0, 1e6, false, &s->clip) ||
        !sg_cli_opt_double_in(a, "valid-frac", o.valid_frac, 0, 0.9, false, &s->valid_frac) ||
        !sg_cli_opt_double_in(a, "test-frac", o.test_frac, 0, 0.9, false, &s->test_frac) ||
        !sg_cli_opt_double_in(a, "word-dropout", 0.0, 0, 0.99, false, &s->word_dropout))
        return false;
    if (s->truncate == 1 || (s->truncate && s->cfg.model == SG_HRED_PREV)) {
        sg_cli_error(
            "--truncate N cuts the context RNN's gradient every N utterances: N >= 2, and not with --prev-only");
        return false;
    }
    if (s->kl_anneal && kind != SG_VHRED) {
        sg_cli_error("--kl-anneal weighs VHRED's KL term: `train vhred`");
        return false;
    }
    return true;
}

static void sg_hd_settings_format(const sg_hd_settings *s, sg_cli_setting_value *v)
{
    _Static_assert(SG_HD_N_SETTINGS == 20, "sg_hd_settings_format writes one string per setting of the list");
    const sg_hred_config *c = &s->cfg;
    const size_t sizes[] = {c->embed, c->hidden, c->context, c->latent, c->mlp};
    const bool flags[] = {c->bidirectional, !c->context_input, c->model == SG_HRED_PREV};
    const size_t rest[] = {s->batch, s->seed};
    snprintf(v[0], SG_CLI_SETTING_CAP, "%s", sg_cell_kind_name(c->kind));
    for (int i = 0; i < 5; i++)
        snprintf(v[1 + i], SG_CLI_SETTING_CAP, "%zu", sizes[i]);
    for (int i = 0; i < 3; i++)
        snprintf(v[6 + i], SG_CLI_SETTING_CAP, "%s", flags[i] ? "1" : "0");
    for (int i = 0; i < 2; i++)
        snprintf(v[9 + i], SG_CLI_SETTING_CAP, "%zu", rest[i]);
    sg_fmt_double(v[11], s->clip);
    sg_fmt_double(v[12], s->valid_frac);
    sg_fmt_double(v[13], s->test_frac);
    const size_t more[] = {s->min_count, s->max_turns, s->bucket, s->truncate, s->kl_anneal};
    for (int i = 0; i < 5; i++)
        snprintf(v[14 + i], SG_CLI_SETTING_CAP, "%zu", more[i]);
    sg_fmt_double(v[19], s->word_dropout);
}

static sg_dialog_opts sg_hd_data_opts(const sg_hd_settings *s)
{
    sg_dialog_opts o = sg_dialog_opts_defaults();
    o.seed = s->seed;
    o.valid_frac = s->valid_frac;
    o.test_frac = s->test_frac;
    o.min_count = s->min_count;
    o.max_turns = s->max_turns;
    return o;
}

/* ---- evaluation ------------------------------------------------------------------------ */

typedef struct sg_hd_metrics {
    double ce, kl;           /* sums */
    size_t tokens;           /* T */
    size_t ctx_right, ctx_n; /* exact match on the replies tagged 'c' */
    size_t all_right, all_n; /* exact match on every reply */
    double distinct[3][2];   /* distinct-1 and -2 of the replies to the turns tagged 'm': sampled (T = 1),
                              * greedy (VHRED: z drawn from the prior), and the data's own replies */
} sg_hd_metrics;

enum { SG_HD_SAMPLED = 0, SG_HD_GREEDY = 1, SG_HD_DATA = 2 };

static double sg_ratio(size_t a, size_t b) { return b ? (double)a / (double)b : 0.0; }

static int sg_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The unigrams and bigrams of a set of replies (bigram = two ids in one key). */
typedef struct sg_ngrams {
    uint64_t *uni, *bi; /* (cap) each */
    size_t n_uni, n_bi;
} sg_ngrams;

/* Adds the n ids w[0], w[stride], ... */
static void sg_ngrams_add(sg_ngrams *c, const int32_t *w, size_t n, size_t stride)
{
    for (size_t k = 0; k < n; k++) {
        c->uni[c->n_uni++] = (uint64_t)w[k * stride];
        if (k)
            c->bi[c->n_bi++] = (uint64_t)w[(k - 1) * stride] << 32 | (uint64_t)w[k * stride];
    }
}

/* Distinct values of v (n) over n, sorting v. */
static double sg_distinct(uint64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, sg_cmp_u64);
    size_t d = 0;
    for (size_t i = 0; i < n; i++)
        d += i == 0 || v[i] != v[i - 1];
    return sg_ratio(d, n);
}

/* Whether reply row r (the reply after utterance u of dialogue ex) matches
 * utterance u + 1. */
static bool sg_hd_same(const sg_dialog_set *s, size_t ex, size_t u, const int32_t *out, size_t R, size_t r, size_t len)
{
    size_t n;
    const int32_t *w = sg_dialog_words(s, ex, u + 1, &n);
    if (len != n)
        return false;
    for (size_t t = 0; t < n; t++)
        if (out[t * R + r] != w[t])
            return false;
    return true;
}

/* Evaluates m on the set in batches of B (see the header comment).  seed
 * fixes VHRED's posterior and prior samples and the sampled replies. */
static bool sg_hd_evaluate(sg_graph *g, const sg_hred *m, const sg_dialog_set *s, size_t B, uint64_t seed,
                           sg_hd_metrics *mt)
{
    memset(mt, 0, sizeof *mt);
    if (!s->n)
        return true;
    sg_dialog_batcher it;
    char err[512];
    const size_t max_len = s->max_words + 1, R = s->max_utts * B;
    const bool vh = m->cfg.model == SG_VHRED;
    int32_t *out = sg_malloc(max_len * R * sizeof *out);
    size_t *lens = sg_malloc(R * sizeof *lens), cap = 0;
    for (size_t i = 0; i < s->n; i++)
        cap += (sg_dialog_utts(s, i) - 1) * max_len;
    sg_ngrams ng[3] = {{0}};
    bool ok = out && lens;
    for (int k = 0; k < 3; k++) {
        ng[k].uni = sg_malloc((cap ? cap : 1) * sizeof *ng[k].uni);
        ng[k].bi = sg_malloc((cap ? cap : 1) * sizeof *ng[k].bi);
        ok = ok && ng[k].uni && ng[k].bi;
    }
    if (!ok || sg_dialog_batcher_init(&it, s, B, 0, err, sizeof err) != SG_OK) {
        ok = false;
        sg_cli_error("out of memory for the evaluation");
        goto done;
    }
    sg_rng rng;
    sg_rng_seed(&rng, seed);
    const bool was = sg_graph_grad_enabled(g);
    sg_dialog_batch b;
    while (ok && sg_dialog_batcher_next(&it, &b)) {
        const size_t Rb = b.utts * b.batch;
        sg_graph_reset(g);
        sg_graph_set_grad_enabled(g, false);
        sg_hred_terms t;
        sg_hred_loss_opts lo = {.rng = &rng};
        ok = sg_hred_loss(g, m, &b, &lo, &t);
        sg_graph_set_grad_enabled(g, was);
        if (!ok) {
            sg_cli_error("evaluation failed: %s", sg_graph_error(g));
            break;
        }
        mt->ce += sg_tensor_get(t.ce, 0);
        mt->kl += t.kl ? sg_tensor_get(t.kl, 0) : 0;
        mt->tokens += t.tokens;
        /* pass 0: greedy with VHRED's prior mean (exact match; and the greedy
         * replies of the deterministic models); 1: sampled; 2: VHRED greedy
         * with z drawn */
        for (int pass = 0; pass < (vh ? 3 : 2) && ok; pass++) {
            sg_status st = sg_hred_decode(g, m, &b, max_len, pass == 1 ? 1.0 : 0.0, pass ? &rng : NULL, out, lens);
            if (st != SG_OK) {
                sg_cli_error("decoding failed: %s", sg_graph_error(g));
                ok = false;
                break;
            }
            for (size_t j = 0; j < b.batch; j++)
                for (size_t u = 0; u + 1 < b.n_utts[j]; u++) {
                    const size_t ex = b.example[j], r = u * b.batch + j;
                    const size_t len = lens[r] < max_len ? lens[r] : max_len;
                    const char tag = s->tag ? s->tag[s->utt_off[ex] + u + 1] : 0;
                    const bool several = !tag || tag == 'm';
                    if (pass == 0) {
                        bool same = sg_hd_same(s, ex, u, out, Rb, r, lens[r]);
                        mt->all_right += same;
                        mt->all_n++;
                        if (!tag || tag == 'c') {
                            mt->ctx_right += same;
                            mt->ctx_n++;
                        }
                        if (several) {
                            size_t n; /* set by sg_dialog_words before it is read */
                            const int32_t *w = sg_dialog_words(s, ex, u + 1, &n);
                            sg_ngrams_add(&ng[SG_HD_DATA], w, n, 1);
                        }
                    }
                    if (several && pass == 1)
                        sg_ngrams_add(&ng[SG_HD_SAMPLED], out + r, len, Rb);
                    if (several && pass == (vh ? 2 : 0))
                        sg_ngrams_add(&ng[SG_HD_GREEDY], out + r, len, Rb);
                }
        }
    }
    for (int k = 0; k < 3; k++) {
        mt->distinct[k][0] = sg_distinct(ng[k].uni, ng[k].n_uni);
        mt->distinct[k][1] = sg_distinct(ng[k].bi, ng[k].n_bi);
    }
    sg_dialog_batcher_free(&it);
done:
    for (int k = 0; k < 3; k++) {
        sg_free(ng[k].uni);
        sg_free(ng[k].bi);
    }
    sg_free(out);
    sg_free(lens);
    return ok;
}

/* One line of the table (docs/hred.md): model, ppl, KL/T, exact matches, distinct. */
static void sg_hd_print(const char *what, const sg_hred *m, const sg_hd_metrics *mt)
{
    const double T = mt->tokens ? (double)mt->tokens : 1.0;
    printf("%s: perplexity%s %.3f", what, m->cfg.model == SG_VHRED ? " (bound)" : "", exp((mt->ce + mt->kl) / T));
    if (m->cfg.model == SG_VHRED)
        printf(" (reconstruction %.3f, KL %.4f nats/token)", exp(mt->ce / T), mt->kl / T);
    const double(*d)[2] = mt->distinct;
    printf("  context replies %.2f%% (%zu)  all replies %.2f%% (%zu)  distinct-1/2 sampled %.4f %.4f, greedy %.4f "
           "%.4f (the data's %.4f %.4f)\n",
           100 * sg_ratio(mt->ctx_right, mt->ctx_n), mt->ctx_n, 100 * sg_ratio(mt->all_right, mt->all_n), mt->all_n,
           d[0][0], d[0][1], d[1][0], d[1][1], d[2][0], d[2][1]);
}

/* ---- checkpoints ---------------------------------------------------------------------- */

static const char *sg_hd_task(sg_hred_kind k) { return k == SG_VHRED ? "vhred" : "hred"; }

static bool sg_hd_save(const char *path, const sg_params *ps, const sg_hd_settings *s, const sg_vocab *v,
                       const sg_optim *opt, const sg_rng *rng, size_t epoch)
{
    sg_cli_setting_value vals[SG_HD_N_SETTINGS];
    sg_hd_settings_format(s, vals);
    return sg_cli_settings_save(path, ps, sg_hd_task(s->cfg.model), "hred", sg_hd_setting_list, SG_HD_N_SETTINGS, vals,
                                v, s->cfg.make_ctx, opt, rng, epoch, 1);
}

/* A trained model, rebuilt from its checkpoint. */
typedef struct sg_hd_loaded {
    sg_hd_settings set;
    sg_cellfile *cell; /* owned: the checkpoint's cell file or plugin (NULL: built-in); m's cells borrow it */
    sg_hred m;
    sg_params *ps;
    sg_vocab *vocab;
} sg_hd_loaded;

static void sg_hd_loaded_free(sg_hd_loaded *l)
{
    if (l->ps)
        sg_hred_free(&l->m);
    sg_cellfile_free(l->cell);
    sg_params_free(l->ps);
    sg_vocab_free(l->vocab);
    memset(l, 0, sizeof *l);
}

typedef struct sg_hd_read_ctx {
    sg_hred_kind kind;
    sg_hd_settings *set;
} sg_hd_read_ctx;

static bool sg_hd_read_parse(sg_cli_args *ca, void *ctx)
{
    sg_hd_read_ctx *c = ctx;
    return sg_hd_parse_settings(ca, c->kind, c->set);
}

static int sg_hd_load(const char *path, sg_hred_kind kind, sg_hd_loaded *l)
{
    char err[4096];
    sg_checkpoint ck;
    sg_checkpoint_init(&ck);
    memset(l, 0, sizeof *l);
    sg_status st = sg_checkpoint_read_meta(path, &ck, err, sizeof err);
    if (st != SG_OK) {
        sg_cli_error("%s", err);
        return sg_cli_exit_for(st);
    }
    sg_hd_read_ctx rc_ctx = {kind, &l->set};
    int rc = sg_cli_settings_read(&ck, path, sg_hd_task(kind), "hred", sg_hd_setting_list, SG_HD_N_SETTINGS,
                                  sg_hd_read_parse, &rc_ctx, NULL);
    if (rc == SG_EXIT_OK && !(l->vocab = sg_cli_settings_vocab(&ck, "hred", path)))
        rc = SG_EXIT_INPUT;
    if (rc == SG_EXIT_OK)
        rc = sg_cli_cell_from_checkpoint(&ck, path, l->set.cfg.kind, &l->cell, &l->set.cfg.make, &l->set.cfg.make_ctx);
    sg_checkpoint_free(&ck);
    if (rc != SG_EXIT_OK) {
        sg_vocab_free(l->vocab);
        sg_cellfile_free(l->cell);
        memset(l, 0, sizeof *l);
        return rc;
    }
    sg_hred_config cfg = l->set.cfg;
    cfg.vocab = sg_vocab_size(l->vocab);
    sg_params *ps = sg_params_new(SG_F32);
    if (!ps || sg_hred_init(&l->m, ps, &cfg) != SG_OK) {
        sg_params_free(ps);
        sg_vocab_free(l->vocab);
        sg_cellfile_free(l->cell);
        memset(l, 0, sizeof *l);
        sg_cli_error("'%s': the model it describes cannot be built", path);
        return SG_EXIT_FAIL;
    }
    l->ps = ps;
    if ((st = sg_checkpoint_load(path, ps, NULL, err, sizeof err)) != SG_OK) {
        sg_cli_error("%s", err);
        sg_hd_loaded_free(l);
        return sg_cli_exit_for(st);
    }
    return SG_EXIT_OK;
}

/* ---- train -------------------------------------------------------------------------------- */

static int sg_hd_train(sg_cli_args *a, sg_hred_kind kind)
{
    sg_hd_settings set;
    const char *data = sg_cli_opt(a, "data"), *tags = sg_cli_opt(a, "tags"), *save = sg_cli_opt(a, "save");
    const char *log = sg_cli_opt(a, "log");
    size_t epochs, threads, max_batches;
    double lr;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (!sg_hd_parse_settings(a, kind, &set) || !sg_cli_opt_size_in(a, "epochs", 10, 1, 100000, &epochs) ||
        !sg_cli_opt_size(a, "max-batches", 0, &max_batches) ||
        !sg_cli_opt_size_in(a, "threads", ncpu > 0 ? (size_t)ncpu : 1, 1, 1024, &threads) ||
        !sg_cli_opt_double_in(a, "lr", 0.001, 0, 1e4, true, &lr) || !sg_cli_check_all_used(a))
        return SG_EXIT_USAGE;
    if (!data) {
        sg_cli_error("--data FILE is needed: one dialogue per line, utterances separated by \"__eou__\" "
                     "(`seqgrad dialogues -o FILE` writes one)");
        return SG_EXIT_USAGE;
    }
    int trc = sg_cli_set_threads(threads);
    if (trc != SG_EXIT_OK)
        return trc;
    sg_cellfile *cellfile = NULL; /* --cell FILE.cell or LIB.so:FUNCTION */
    int lrc = sg_cli_cell_from_args(sg_cli_opt(a, "cell"), set.cfg.kind, &cellfile, &set.cfg.make, &set.cfg.make_ctx);
    if (lrc != SG_EXIT_OK)
        return lrc;
    char err[4096];
    sg_dialog_data d;
    sg_dialog_opts dopt = sg_hd_data_opts(&set);
    sg_status st = sg_dialog_data_load(&d, data, tags, &dopt, err, sizeof err);
    if (st != SG_OK) {
        sg_cli_error("%s", err);
        sg_cellfile_free(cellfile);
        return st == SG_ERR_ARG ? SG_EXIT_USAGE : st == SG_ERR_NOMEM ? SG_EXIT_FAIL : SG_EXIT_INPUT;
    }
    sg_hred_config cfg = set.cfg;
    cfg.vocab = sg_vocab_size(d.vocab);
    sg_params *ps = sg_params_new(SG_F32);
    sg_graph *g = sg_graph_new(SG_F32);
    sg_hred m = {0};
    bool m_ready = false;
    sg_dialog_batcher it = {0};
    int rc = SG_EXIT_FAIL;
    sg_rng rng;
    sg_rng_seed(&rng, set.seed);
    sg_optim opt;
    sg_adam_config ac = sg_adam_defaults();
    ac.lr = lr;
    double *ctx_h = NULL, *ctx_c = NULL;
    if (!ps || !g || sg_hred_init(&m, ps, &cfg) != SG_OK) {
        sg_cli_error("could not build the model");
        goto done;
    }
    m_ready = true;
    ctx_h = sg_calloc(set.batch * cfg.context, sizeof *ctx_h);
    ctx_c = sg_calloc(set.batch * cfg.context, sizeof *ctx_c);
    if (!ctx_h || !ctx_c || sg_hred_reset_parameters(&m, &rng) != SG_OK || sg_optim_init_adam(&opt, &ac) != SG_OK ||
        sg_dialog_batcher_init(&it, &d.split[SG_PAIRS_TRAIN], set.batch, set.bucket, err, sizeof err) != SG_OK) {
        sg_cli_error("could not set up training: %s", err);
        goto done;
    }
    printf("%s: %s cells, E %zu, H %zu, context %zu%s%s", sg_hred_kind_name(cfg.model), sg_hd_cell_label(&cfg),
           cfg.embed, cfg.hidden, cfg.context, cfg.bidirectional ? ", bidirectional encoder" : "",
           cfg.context_input ? ", context fed at every step" : "");
    if (cfg.model == SG_VHRED)
        printf(", z %zu, MLP %zu", cfg.latent, cfg.mlp);
    printf(", vocabulary %zu, %zu parameters\n", cfg.vocab, sg_params_numel(ps));
    printf("data: %s, %zu train / %zu valid / %zu test dialogues (split with seed %zu); batch %zu, Adam lr %g, "
           "clip %g",
           data, d.split[0].n, d.split[1].n, d.split[2].n, set.seed, set.batch, lr, set.clip);
    if (set.truncate)
        printf(", truncated every %zu utterances", set.truncate);
    if (set.kl_anneal)
        printf(", KL weight 0 -> 1 over %zu steps", set.kl_anneal);
    if (set.word_dropout > 0)
        printf(", word dropout %g", set.word_dropout);
    printf("\n");
    fflush(stdout);
    size_t step = 0;
    double t_start = sg_cli_now();
    for (size_t epoch = 1; epoch <= epochs; epoch++) {
        char label[64];
        snprintf(label, sizeof label, "epoch %2zu/%zu", epoch, epochs);
        sg_cli_progress bar;
        size_t n_batches = max_batches && max_batches < it.n_batches ? max_batches : it.n_batches;
        sg_cli_progress_init(&bar, label, n_batches);
        sg_dialog_batcher_epoch(&it, &rng);
        sg_dialog_batch b;
        double ce = 0, kl = 0;
        size_t n = 0, tokens = 0;
        while (n < n_batches && sg_dialog_batcher_next(&it, &b)) {
            const size_t K = set.truncate ? set.truncate : b.utts;
            for (size_t first = 0; first < b.utts; first += K) {
                const double w = set.kl_anneal ? fmin(1.0, (double)step / (double)set.kl_anneal) : 1.0;
                sg_hred_loss_opts lo = {.first = first,
                                        .end = first + K < b.utts ? first + K : b.utts,
                                        .ctx_h = first ? ctx_h : NULL,
                                        .ctx_c = first ? ctx_c : NULL,
                                        .kl_weight = w,
                                        .word_dropout = set.word_dropout,
                                        .rng = &rng};
                sg_graph_reset(g);
                sg_params_zero_grad(ps);
                sg_hred_terms t;
                bool ok = sg_hred_loss(g, &m, &b, &lo, &t);
                double l = ok ? sg_tensor_get(t.loss, 0) : NAN;
                if (!ok || !isfinite(l) || sg_backward(g, t.loss) != SG_OK) {
                    sg_cli_progress_end(&bar);
                    sg_cli_error("epoch %zu batch %zu: %s", epoch, n + 1,
                                 ok && !isfinite(l) ? "the loss is not finite; training stops" : sg_graph_error(g));
                    goto done;
                }
                if (set.clip > 0)
                    sg_params_clip_grad_norm(ps, set.clip);
                if (sg_optim_step(&opt, ps) != SG_OK) {
                    sg_cli_progress_end(&bar);
                    sg_cli_error("optimizer step failed");
                    goto done;
                }
                if (set.truncate && lo.end < b.utts) { /* the state the next chunk starts from (no gradient) */
                    sg_tensor_copy_out_f64(t.ctx.h, ctx_h);
                    if (t.ctx.c)
                        sg_tensor_copy_out_f64(t.ctx.c, ctx_c);
                }
                ce += sg_tensor_get(t.ce, 0);
                kl += t.kl ? sg_tensor_get(t.kl, 0) : 0;
                tokens += t.tokens;
                step++;
            }
            n++;
            const double T = tokens ? (double)tokens : 1.0;
            sg_cli_progress_update(&bar, n, "ppl %.3f  KL %.4f  %6.0f tok/s", exp(ce / T), kl / T,
                                   (double)tokens / (sg_cli_now() - bar.t0));
        }
        double secs = sg_cli_now() - bar.t0;
        sg_cli_progress_end(&bar);
        sg_hd_metrics mt;
        if (!sg_hd_evaluate(g, &m, &d.split[SG_PAIRS_VALID], 256, set.seed, &mt))
            goto done;
        const double T = tokens ? (double)tokens : 1.0, Tv = mt.tokens ? (double)mt.tokens : 1.0;
        printf("epoch %zu: train ppl %.3f KL %.4f  %.0f tok/s  %.1f s\n", epoch, exp(ce / T), kl / T,
               (double)tokens / secs, secs);
        sg_hd_print("  valid", &m, &mt);
        fflush(stdout);
        sg_cli_log_field row[] = {{"epoch", (double)epoch},
                                  {"train_ppl", exp(ce / T)},
                                  {"train_kl_per_token", kl / T},
                                  {"valid_ppl", exp((mt.ce + mt.kl) / Tv)},
                                  {"valid_kl_per_token", mt.kl / Tv},
                                  {"valid_context_accuracy", sg_ratio(mt.ctx_right, mt.ctx_n)},
                                  {"valid_distinct_1", mt.distinct[SG_HD_SAMPLED][0]},
                                  {"valid_distinct_2", mt.distinct[SG_HD_SAMPLED][1]},
                                  {"tokens_per_s", (double)tokens / secs},
                                  {"seconds", secs}};
        if (log && !sg_cli_log_append(log, row, sizeof row / sizeof row[0]))
            goto done;
        if (save && !sg_hd_save(save, ps, &set, d.vocab, &opt, &rng, epoch))
            goto done;
    }
    sg_hd_metrics mt;
    if (!sg_hd_evaluate(g, &m, &d.split[SG_PAIRS_TEST], 256, set.seed, &mt))
        goto done;
    sg_hd_print("test", &m, &mt);
    printf("trained in %.1f s\n", sg_cli_now() - t_start);
    rc = SG_EXIT_OK;
done:
    sg_free(ctx_h);
    sg_free(ctx_c);
    sg_dialog_batcher_free(&it);
    if (m_ready)
        sg_hred_free(&m);
    sg_graph_free(g);
    sg_params_free(ps);
    sg_dialog_data_free(&d);
    sg_cellfile_free(cellfile);
    return rc;
}

int sg_cmd_train_hred(sg_cli_args *a) { return sg_hd_train(a, SG_HRED); }
int sg_cmd_train_vhred(sg_cli_args *a) { return sg_hd_train(a, SG_VHRED); }

/* ---- eval ---------------------------------------------------------------------------------- */

static int sg_hd_eval(sg_cli_args *a, sg_hred_kind kind)
{
    const char *load = sg_cli_opt(a, "load"), *data = sg_cli_opt(a, "data"), *tags = sg_cli_opt(a, "tags");
    const char *split = sg_cli_opt(a, "split");
    size_t threads, seed;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    const bool seed_given = sg_cli_given(a, "seed"); /* else the checkpoint's, as training evaluated */
    if (!sg_cli_opt_size_in(a, "threads", ncpu > 0 ? (size_t)ncpu : 1, 1, 1024, &threads) ||
        !sg_cli_opt_size(a, "seed", 1, &seed) || !sg_cli_check_all_used(a))
        return SG_EXIT_USAGE;
    if (!load || !data) {
        sg_cli_error("usage: seqgrad eval %s --load CKPT --data FILE [--tags FILE] [--split valid|test]",
                     sg_hd_task(kind));
        return SG_EXIT_USAGE;
    }
    if (split && strcmp(split, "valid") != 0 && strcmp(split, "test") != 0) {
        sg_cli_error("--split must be valid or test, not '%s'", split);
        return SG_EXIT_USAGE;
    }
    int which = split && strcmp(split, "valid") == 0 ? SG_PAIRS_VALID : SG_PAIRS_TEST;
    int trc = sg_cli_set_threads(threads);
    if (trc != SG_EXIT_OK)
        return trc;
    sg_hd_loaded l;
    int rc = sg_hd_load(load, kind, &l);
    if (rc != SG_EXIT_OK)
        return rc;
    if (!seed_given)
        seed = l.set.seed;
    char err[4096];
    sg_dialog_data d;
    sg_dialog_opts dopt = sg_hd_data_opts(&l.set);
    sg_status st = sg_dialog_data_load(&d, data, tags, &dopt, err, sizeof err);
    if (st != SG_OK) {
        sg_cli_error("%s", err);
        sg_hd_loaded_free(&l);
        return st == SG_ERR_NOMEM ? SG_EXIT_FAIL : SG_EXIT_INPUT;
    }
    sg_graph *g = sg_graph_new(SG_F32);
    sg_hd_metrics mt;
    rc = SG_EXIT_INPUT;
    if (sg_cli_same_vocab(d.vocab, l.vocab, data, load)) {
        rc = SG_EXIT_FAIL;
        if (!g)
            sg_cli_error("out of memory");
        else if (sg_hd_evaluate(g, &l.m, &d.split[which], 256, seed, &mt)) {
            char what[64];
            snprintf(what, sizeof what, "%s %s (%zu dialogues)", sg_hred_kind_name(l.m.cfg.model),
                     which == SG_PAIRS_VALID ? "valid" : "test", d.split[which].n);
            sg_hd_print(what, &l.m, &mt);
            rc = SG_EXIT_OK;
        }
    }
    sg_graph_free(g);
    sg_dialog_data_free(&d);
    sg_hd_loaded_free(&l);
    return rc;
}

int sg_cmd_eval_hred(sg_cli_args *a) { return sg_hd_eval(a, SG_HRED); }
int sg_cmd_eval_vhred(sg_cli_args *a) { return sg_hd_eval(a, SG_VHRED); }

/* ---- generate ------------------------------------------------------------------------------- */

enum { SG_HD_MAX_REPLY = 256 };

static int sg_hd_generate(sg_cli_args *a, sg_hred_kind kind)
{
    const char *load = sg_cli_opt(a, "load"), *context = sg_cli_opt(a, "context");
    size_t samples, seed, max_len;
    double temperature;
    if (!sg_cli_opt_size_in(a, "samples", 1, 1, 1000, &samples) || !sg_cli_opt_size(a, "seed", 1, &seed) ||
        !sg_cli_opt_double_in(a, "temperature", 0.0, 0, 1e3, false, &temperature) ||
        !sg_cli_opt_size_in(a, "max-len", 64, 1, SG_HD_MAX_REPLY, &max_len) || !sg_cli_check_all_used(a))
        return SG_EXIT_USAGE;
    if (!load || !context) {
        sg_cli_error("usage: seqgrad generate %s --load CKPT --context \"hi __eou__ ...\" [--samples N] "
                     "[--temperature T] [--seed S] [--max-len N]",
                     sg_hd_task(kind));
        return SG_EXIT_USAGE;
    }
    sg_hd_loaded l;
    int rc = sg_hd_load(load, kind, &l);
    if (rc != SG_EXIT_OK)
        return rc;
    int32_t *ids = NULL, *enc_in = NULL, *out = NULL;
    size_t *offs = NULL, n_utts = 0, *lens = NULL;
    double *enc_mask = NULL, *utt_mask = NULL;
    sg_graph *g = sg_graph_new(SG_F32);
    char err[512];
    rc = SG_EXIT_FAIL;
    sg_status st = sg_dialog_parse_context(l.vocab, context, &ids, &offs, &n_utts, err, sizeof err);
    if (st != SG_OK) {
        sg_cli_error("%s", err);
        rc = st == SG_ERR_NOMEM ? SG_EXIT_FAIL : SG_EXIT_INPUT;
        goto done;
    }
    if (n_utts >= l.set.max_turns) {
        sg_cli_error("--context holds %zu utterances: the model was set for dialogues of at most %zu turns "
                     "(--max-turns), so it takes at most %zu before its reply",
                     n_utts, l.set.max_turns, l.set.max_turns - 1);
        rc = SG_EXIT_INPUT;
        goto done;
    }
    /* the context, once per sample: B = samples dialogues of U utterances */
    const size_t U = n_utts, B = samples, R = U * B;
    size_t L = 1;
    for (size_t u = 0; u < U; u++)
        L = offs[u + 1] - offs[u] + 1 > L ? offs[u + 1] - offs[u] + 1 : L;
    enc_in = sg_malloc(L * R * sizeof *enc_in);
    enc_mask = sg_malloc(L * R * sizeof *enc_mask);
    utt_mask = sg_malloc(R * sizeof *utt_mask);
    out = sg_malloc(max_len * R * sizeof *out);
    lens = sg_malloc(R * sizeof *lens);
    if (!g || !enc_in || !enc_mask || !utt_mask || !out || !lens) {
        sg_cli_error("out of memory");
        goto done;
    }
    for (size_t u = 0; u < U; u++)
        for (size_t j = 0; j < B; j++) {
            size_t r = u * B + j, n = offs[u + 1] - offs[u];
            utt_mask[r] = 1.0;
            for (size_t t = 0; t < L; t++) {
                enc_in[t * R + r] = t < n ? ids[offs[u] + t] : SG_PAIRS_PAD_ID;
                enc_mask[t * R + r] = t < n ? 1.0 : 0.0;
            }
        }
    sg_dialog_batch b = {
        .batch = B, .utts = U, .steps = L, .enc_in = enc_in, .enc_mask = enc_mask, .utt_mask = utt_mask};
    sg_rng rng;
    sg_rng_seed(&rng, seed);
    const bool draws = temperature > 0 || l.m.cfg.model == SG_VHRED;
    if (sg_hred_decode(g, &l.m, &b, max_len, temperature, draws ? &rng : NULL, out, lens) != SG_OK) {
        sg_cli_error("decoding failed: %s", sg_graph_error(g));
        goto done;
    }
    for (size_t j = 0; j < B; j++) {
        size_t r = (U - 1) * B + j, len = lens[r] < max_len ? lens[r] : max_len;
        for (size_t t = 0; t < len; t++)
            printf("%s%s", t ? " " : "", sg_vocab_word(l.vocab, out[t * R + r]));
        printf("\n");
    }
    rc = SG_EXIT_OK;
done:
    sg_graph_free(g);
    sg_free(ids);
    sg_free(offs);
    sg_free(enc_in);
    sg_free(enc_mask);
    sg_free(utt_mask);
    sg_free(out);
    sg_free(lens);
    sg_hd_loaded_free(&l);
    return rc;
}

int sg_cmd_generate_hred(sg_cli_args *a) { return sg_hd_generate(a, SG_HRED); }
int sg_cmd_generate_vhred(sg_cli_args *a) { return sg_hd_generate(a, SG_VHRED); }

/* ---- the probes: three-utterance dialogues ---------------------------------------------- */

typedef struct sg_hd_probe {
    sg_cellfile *cellfile; /* owned: --cell FILE, which the model's cells borrow */
    sg_hred m;
    sg_dialog_data d;
    sg_dialog_batcher it;
    sg_dialog_batch b;
    uint64_t seed; /* VHRED's eps: the same draw at every pass */
    sg_rng rng;
} sg_hd_probe;

static sg_tensor *sg_hd_probe_loss(sg_graph *g, void *self)
{
    sg_hd_probe *p = self;
    sg_rng_seed(&p->rng, p->seed);
    sg_hred_loss_opts lo = {.kl_weight = 1.0, .rng = &p->rng};
    sg_hred_terms t;
    return sg_hred_loss(g, &p->m, &p->b, &lo, &t) ? t.loss : NULL;
}

static void sg_hd_probe_free(void *self)
{
    sg_hd_probe *p = self;
    sg_hred_free(&p->m);
    sg_cellfile_free(p->cellfile);
    sg_dialog_batcher_free(&p->it);
    sg_dialog_data_free(&p->d);
    sg_free(p);
}

static int sg_hd_make_probe(sg_cli_args *a, sg_dtype dtype, bool for_check, sg_cli_probe *out, sg_hred_kind kind)
{
    memset(out, 0, sizeof *out);
    sg_hred_config cfg;
    size_t seed;
    if (!sg_hd_parse_model(a, kind, &cfg, for_check ? 3 : 8, for_check ? 3 : 8) ||
        !sg_cli_opt_size(a, "seed", 1, &seed))
        return SG_EXIT_USAGE;
    sg_cellfile *cellfile = NULL;
    int lrc = sg_cli_cell_from_args(sg_cli_opt(a, "cell"), cfg.kind, &cellfile, &cfg.make, &cfg.make_ctx);
    if (lrc != SG_EXIT_OK)
        return lrc;
    static const char text[] = "hi , i am bob __eou__ hello there __eou__ what is my name ?\n"
                               "i like plums __eou__ me too __eou__ what do i like ?\n";
    const size_t n_dialogues = for_check ? 2 : 1;
    sg_hd_probe *p = sg_calloc(1, sizeof *p);
    sg_params *ps = sg_params_new(dtype);
    char err[512];
    sg_dialog_opts o = sg_dialog_opts_defaults();
    o.valid_frac = o.test_frac = 0;
    if (!p || !ps ||
        sg_dialog_data_parse(&p->d, text, sizeof text - 1, "probe", NULL, 0, NULL, &o, err, sizeof err) != SG_OK) {
        sg_free(p);
        sg_params_free(ps);
        sg_cellfile_free(cellfile);
        sg_cli_error("out of memory");
        return SG_EXIT_FAIL;
    }
    p->cellfile = cellfile;
    p->seed = seed;
    sg_rng rng;
    sg_rng_seed(&rng, seed);
    cfg.vocab = sg_vocab_size(p->d.vocab);
    if (sg_hred_init(&p->m, ps, &cfg) != SG_OK || sg_hred_reset_parameters(&p->m, &rng) != SG_OK ||
        sg_dialog_batcher_init(&p->it, &p->d.split[SG_PAIRS_TRAIN], n_dialogues, 0, err, sizeof err) != SG_OK ||
        !sg_dialog_batcher_next(&p->it, &p->b)) {
        sg_cli_error("could not build the model");
        sg_hd_probe_free(p);
        sg_params_free(ps);
        return SG_EXIT_FAIL;
    }
    *out =
        (sg_cli_probe){.ps = ps, .owns_ps = true, .self = p, .loss = sg_hd_probe_loss, .free_self = sg_hd_probe_free};
    snprintf(out->title, sizeof out->title,
             "%s: %s utterance encoder, context RNN and decoder, %zu units, %zu utterances of up to %zu steps",
             sg_hred_kind_name(cfg.model), sg_hd_cell_label(&cfg), cfg.hidden, p->b.utts, p->b.steps);
    snprintf(out->describe, sizeof out->describe,
             "%s with %s cells (f64, E %zu, H %zu, C %zu%s, %zu dialogues of %zu utterances, %zu parameters)",
             sg_hred_kind_name(cfg.model), sg_hd_cell_label(&cfg), cfg.embed, cfg.hidden, cfg.context,
             cfg.model == SG_VHRED ? ", fixed eps" : "", p->b.batch, p->b.utts, sg_params_numel(ps));
    return SG_EXIT_OK;
}

int sg_task_hred_probe(sg_cli_args *a, sg_dtype dtype, bool for_check, sg_cli_probe *out)
{
    return sg_hd_make_probe(a, dtype, for_check, out, SG_HRED);
}

int sg_task_vhred_probe(sg_cli_args *a, sg_dtype dtype, bool for_check, sg_cli_probe *out)
{
    return sg_hd_make_probe(a, dtype, for_check, out, SG_VHRED);
}
