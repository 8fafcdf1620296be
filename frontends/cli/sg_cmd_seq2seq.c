/* sg_cmd_seq2seq.c — `seqgrad train seq2seq`: an encoder-decoder on a file of
 * (source, target) pairs (models/data/sg_pairs.h), with the options the
 * textbook compares (reversed source, peeky decoder, attention).  Adam on
 * length-bucketed batches, gradient-norm clip; after every epoch the
 * validation exact-match accuracy (greedy decoding of the whole target);
 * at the end the test accuracy.  Also the task's probe for gradcheck/graph. */
#include "frontends/cli/sg_cli_dist.h"
#include "frontends/cli/sg_cli_progress.h"
#include "frontends/cellfile/sg_cellfile.h"
#include "frontends/cli/sg_cli_settings.h"
#include "frontends/cli/sg_cli_task.h"

#include "graph/core/sg_alloc.h"
#include "graph/format/sg_checkpoint.h"
#include "graph/optim/sg_optim.h"
#include "frontends/plot/sg_plot.h"
#include "graph/util/sg_util.h"
#include "models/seq2seq/sg_seq2seq.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* ---- a run's settings ----------------------------------------------------------- */

/* What a run is: the model and what decides its data and batches.  Each is
 * one command-line option, and a checkpoint keeps each as the string
 * "seq2seq.<option>": the checkpoint's settings are read back as the command
 * line they came from, by the same parser, so a model is rebuilt (eval,
 * generate, attention) or continued (--resume) exactly as it was trained. */
typedef struct sg_s2s_settings {
    sg_seq2seq_config cfg; /* vocab is 0 until the data or vocabulary is known */
    sg_tokenizer tokenizer;
    size_t batch, bucket, seed;
    double clip, valid_frac, test_frac;
} sg_s2s_settings;

static const sg_cli_setting sg_s2s_setting_list[] = {
    {"cell", false, true},    {"attention", false, true},     {"embed", false, true},
    {"hidden", false, true},  {"layers", false, true},        {"reverse", true, false},
    {"peeky", true, false},   {"bidirectional", true, false}, {"input-feeding", true, false},
    {"tokens", false, false}, {"batch", false, false},        {"seed", false, false},
    {"clip", false, false},   {"valid-frac", false, false},   {"test-frac", false, false},
    {"bucket", false, false}};
enum { SG_S2S_N_SETTINGS = sizeof sg_s2s_setting_list / sizeof sg_s2s_setting_list[0] };
typedef sg_cli_setting_value sg_s2s_strings[SG_S2S_N_SETTINGS];

/* The cell as reports name it: the built-in kind, or the cell file or plugin. */
static const char *sg_s2s_cell_label(const sg_seq2seq_config *c)
{
    return c->make_ctx ? sg_cellfile_name(c->make_ctx) : sg_cell_kind_name(c->kind);
}

/* The model options every seq2seq command reads. */
static bool sg_s2s_parse_model(sg_cli_args *a, sg_seq2seq_config *c, size_t def_embed, size_t def_hidden)
{
    const char *cell = sg_cli_opt(a, "cell"), *att = sg_cli_opt(a, "attention");
    memset(c, 0, sizeof *c);
    if (!sg_cli_opt_size_in(a, "hidden", def_hidden, 1, 65536, &c->hidden) ||
        !sg_cli_opt_size_in(a, "embed", def_embed, 1, 65536, &c->embed) ||
        !sg_cli_opt_size_in(a, "layers", 1, 1, 64, &c->layers))
        return false;
    c->kind = SG_CELL_LSTM;
    c->act = SG_ACT_TANH;
    if (sg_cli_cell_is_file(cell) || (cell && strcmp(cell, "custom") == 0))
        c->kind = SG_CELL_CUSTOM; /* the caller loads the file, or takes a checkpoint's, and sets make */
    else if (cell && sg_cell_kind_parse(cell, &c->kind) != SG_OK) {
        sg_cli_error("--cell must be rnn, lstm, peephole or gru, not '%s'", cell);
        return false;
    }
    if (att && sg_attention_parse(att, &c->attention) != SG_OK) {
        sg_cli_error("--attention must be none, dot, general or additive, not '%s'", att);
        return false;
    }
    c->reverse_source = sg_cli_flag(a, "reverse");
    c->peeky = sg_cli_flag(a, "peeky");
    c->bidirectional = sg_cli_flag(a, "bidirectional");
    c->input_feeding = sg_cli_flag(a, "input-feeding");
    if (c->input_feeding && c->attention == SG_ATTN_NONE) {
        sg_cli_error("--input-feeding feeds the attentional state back: it needs --attention dot, general or additive");
        return false;
    }
    return true;
}

/* Every setting of a run, with the training defaults. */
static bool sg_s2s_parse_settings(sg_cli_args *a, sg_s2s_settings *s)
{
    memset(s, 0, sizeof *s);
    sg_pair_opts po = sg_pair_opts_defaults();
    const char *tokens = sg_cli_opt(a, "tokens");
    if (!sg_s2s_parse_model(a, &s->cfg, 16, 128) || !sg_cli_opt_size_in(a, "batch", 128, 1, 100000, &s->batch) ||
        !sg_cli_opt_size_in(a, "bucket", 1, 1, 100000, &s->bucket) || !sg_cli_opt_size(a, "seed", 1, &s->seed) ||
        !sg_cli_opt_double_in(a, "clip", 5.0, 0, 1e6, false, &s->clip) ||
        !sg_cli_opt_double_in(a, "valid-frac", po.valid_frac, 0, 0.9, false, &s->valid_frac) ||
        !sg_cli_opt_double_in(a, "test-frac", po.test_frac, 0, 0.9, false, &s->test_frac))
        return false;
    if (tokens && strcmp(tokens, "chars") != 0 && strcmp(tokens, "words") != 0) {
        sg_cli_error("--tokens must be chars or words, not '%s'", tokens);
        return false;
    }
    s->tokenizer = tokens && strcmp(tokens, "words") == 0 ? SG_TOKENIZE_WORDS : SG_TOKENIZE_CHARS;
    return true;
}

/* The settings as their option strings, in sg_s2s_setting_list's order
 * (flags "1" or "0"; numbers exact). */
static void sg_s2s_settings_format(const sg_s2s_settings *s, sg_s2s_strings v)
{
    _Static_assert(SG_S2S_N_SETTINGS == 16, "sg_s2s_settings_format writes one string per setting of the list");
    const sg_seq2seq_config *c = &s->cfg;
    const bool flags[] = {c->reverse_source, c->peeky, c->bidirectional, c->input_feeding};
    snprintf(v[0], SG_CLI_SETTING_CAP, "%s", sg_cell_kind_name(c->kind));
    snprintf(v[1], SG_CLI_SETTING_CAP, "%s", sg_attention_name(c->attention));
    snprintf(v[2], SG_CLI_SETTING_CAP, "%zu", c->embed);
    snprintf(v[3], SG_CLI_SETTING_CAP, "%zu", c->hidden);
    snprintf(v[4], SG_CLI_SETTING_CAP, "%zu", c->layers);
    for (int i = 0; i < 4; i++)
        snprintf(v[5 + i], SG_CLI_SETTING_CAP, "%s", flags[i] ? "1" : "0");
    snprintf(v[9], SG_CLI_SETTING_CAP, "%s", s->tokenizer == SG_TOKENIZE_WORDS ? "words" : "chars");
    snprintf(v[10], SG_CLI_SETTING_CAP, "%zu", s->batch);
    snprintf(v[11], SG_CLI_SETTING_CAP, "%zu", s->seed);
    sg_fmt_double(v[12], s->clip);
    sg_fmt_double(v[13], s->valid_frac);
    sg_fmt_double(v[14], s->test_frac);
    snprintf(v[15], SG_CLI_SETTING_CAP, "%zu", s->bucket);
}

static bool sg_s2s_read_parse(sg_cli_args *ca, void *ctx) { return sg_s2s_parse_settings(ca, ctx); }

/* The settings a checkpoint holds, read back as the command line they came
 * from (sg_cli_settings.h).  *n_missing (may be NULL) counts the absent ones.
 * Returns an exit code after a message. */
static int sg_s2s_settings_read(const sg_checkpoint *ck, const char *path, sg_s2s_settings *s, size_t *n_missing)
{
    return sg_cli_settings_read(ck, path, "seq2seq", "seq2seq", sg_s2s_setting_list, SG_S2S_N_SETTINGS,
                                sg_s2s_read_parse, s, n_missing);
}

/* The pair-file options the settings fix (the same split in train and eval). */
static sg_pair_opts sg_s2s_pair_opts(const sg_s2s_settings *s)
{
    sg_pair_opts po = sg_pair_opts_defaults();
    po.tokenizer = s->tokenizer;
    po.seed = s->seed;
    po.valid_frac = s->valid_frac;
    po.test_frac = s->test_frac;
    return po;
}

/* Beam search ranks hypotheses by log-probability / length^alpha, alpha 0.6 (a common choice). */
#define SG_S2S_LENGTH_ALPHA 0.6

/* Exact matches over a split: greedy decodes in batches of B, or (beam > 1)
 * beam search one example at a time.  With d (more than one rank), rank r
 * decodes the batches k with k mod ranks = r and the counts are summed. */
static bool sg_s2s_accuracy(sg_graph *g, const sg_seq2seq *m, const sg_pair_set *s, size_t B, size_t beam,
                            sg_cli_dist *d, double *acc)
{
    *acc = 0;
    if (!s->n)
        return true;
    if (beam > 1)
        B = 1;
    sg_pair_batcher it;
    char err[512];
    size_t max_len = s->max_tgt + 1;
    int32_t *out = sg_malloc(max_len * B * sizeof *out);
    size_t *lens = sg_malloc(B * sizeof *lens);
    if (!out || !lens || sg_pair_batcher_init(&it, s, B, 0, err, sizeof err) != SG_OK) {
        sg_free(out);
        sg_free(lens);
        sg_cli_error("out of memory for the evaluation");
        return false;
    }
    size_t right = 0, k = 0;
    sg_pair_batch b;
    bool ok = true;
    while (ok && sg_pair_batcher_next(&it, &b)) {
        if (d && k++ % d->size != d->rank)
            continue;
        double score;
        sg_status st = beam > 1 ? sg_seq2seq_beam(g, m, &b, beam, SG_S2S_LENGTH_ALPHA, max_len, out, lens, &score)
                                : sg_seq2seq_decode(g, m, &b, max_len, 0.0, NULL, out, lens, NULL);
        if (st != SG_OK) {
            sg_cli_error("decoding failed: %s", sg_graph_error(g));
            ok = false;
            break;
        }
        for (size_t j = 0; j < b.batch; j++) {
            size_t e = b.example[j], lt = s->tgt_off[e + 1] - s->tgt_off[e];
            bool same = lens[j] == lt;
            for (size_t t = 0; same && t < lt; t++)
                same = out[t * b.batch + j] == s->tgt[s->tgt_off[e] + t];
            right += same;
        }
    }
    sg_pair_batcher_free(&it);
    sg_free(out);
    sg_free(lens);
    double sum = (double)right;
    if (ok && d && d->size > 1 && sg_cli_dist_sum(d, &sum, 1) != SG_EXIT_OK)
        ok = false;
    *acc = sum / (double)s->n;
    return ok;
}

/* A rank's share of a global batch: its columns [lo, lo + n) of every
 * (steps, B) array, in buffers of the batcher's largest batch. */
typedef struct sg_s2s_shard {
    int32_t *src, *dec_in, *dec_out; /* (S, n), (T, n) */
    double *src_mask, *tgt_mask;
} sg_s2s_shard;

static void sg_s2s_shard_free(sg_s2s_shard *sh)
{
    sg_free(sh->src);
    sg_free(sh->dec_in);
    sg_free(sh->dec_out);
    sg_free(sh->src_mask);
    sg_free(sh->tgt_mask);
    memset(sh, 0, sizeof *sh);
}

static bool sg_s2s_shard_init(sg_s2s_shard *sh, const sg_pair_set *set, size_t B)
{
    size_t S = set->max_src * B, T = (set->max_tgt + 1) * B; /* the sizes the batcher checked */
    sh->src = sg_malloc(S * sizeof *sh->src);
    sh->src_mask = sg_malloc(S * sizeof *sh->src_mask);
    sh->dec_in = sg_malloc(T * sizeof *sh->dec_in);
    sh->dec_out = sg_malloc(T * sizeof *sh->dec_out);
    sh->tgt_mask = sg_malloc(T * sizeof *sh->tgt_mask);
    return sh->src && sh->src_mask && sh->dec_in && sh->dec_out && sh->tgt_mask;
}

/* out: columns [lo, lo + n) of b (n >= 1). */
static void sg_s2s_shard_take(sg_s2s_shard *sh, const sg_pair_batch *b, size_t lo, size_t n, sg_pair_batch *out)
{
    sg_cli_dist_columns(sh->src, b->src, b->src_steps, b->batch, lo, n, sizeof *sh->src);
    sg_cli_dist_columns(sh->src_mask, b->src_mask, b->src_steps, b->batch, lo, n, sizeof *sh->src_mask);
    sg_cli_dist_columns(sh->dec_in, b->dec_in, b->tgt_steps, b->batch, lo, n, sizeof *sh->dec_in);
    sg_cli_dist_columns(sh->dec_out, b->dec_out, b->tgt_steps, b->batch, lo, n, sizeof *sh->dec_out);
    sg_cli_dist_columns(sh->tgt_mask, b->tgt_mask, b->tgt_steps, b->batch, lo, n, sizeof *sh->tgt_mask);
    *out = (sg_pair_batch){.batch = n,
                           .src_steps = b->src_steps,
                           .tgt_steps = b->tgt_steps,
                           .example = b->example + lo,
                           .src = sh->src,
                           .src_mask = sh->src_mask,
                           .dec_in = sh->dec_in,
                           .dec_out = sh->dec_out,
                           .tgt_mask = sh->tgt_mask};
}

/* The sum of a mask's values over columns [lo, lo + n) of (steps, B). */
static double sg_s2s_mask_sum(const double *mask, size_t steps, size_t B, size_t lo, size_t n)
{
    double sum = 0;
    for (size_t t = 0; t < steps; t++)
        for (size_t j = lo; j < lo + n; j++)
            sum += mask[t * B + j];
    return sum;
}

static bool sg_s2s_save(const char *path, const sg_params *ps, const sg_s2s_settings *s, const sg_vocab *v,
                        const sg_optim *opt, const sg_rng *rng, size_t epoch, size_t ranks)
{
    sg_s2s_strings vals;
    sg_s2s_settings_format(s, vals);
    return sg_cli_settings_save(path, ps, "seq2seq", "seq2seq", sg_s2s_setting_list, SG_S2S_N_SETTINGS, vals, v,
                                s->cfg.make_ctx, opt, rng, epoch, ranks);
}

/* --resume: the run's settings become the checkpoint's.  A setting given on
 * the command line that contradicts it is refused (nothing a resume would
 * ignore passes silently), as is a --lr other than the checkpoint's, a run
 * already at --epochs, or a checkpoint without optimizer and RNG state.
 * ck receives the checkpoint's strings and state.  Returns an exit code. */
static int sg_s2s_resume_settings(sg_cli_args *a, const char *path, sg_s2s_settings *s, double lr, size_t epochs,
                                  sg_checkpoint *ck)
{
    char err[4096];
    sg_status st = sg_checkpoint_read_meta(path, ck, err, sizeof err);
    if (st != SG_OK) {
        sg_cli_error("cannot resume: %s", err);
        return sg_cli_exit_for(st);
    }
    sg_s2s_settings from;
    size_t missing;
    int rc = sg_s2s_settings_read(ck, path, &from, &missing);
    if (rc != SG_EXIT_OK)
        return rc;
    if (missing || !ck->has_optim || !ck->has_rng) {
        sg_cli_error("'%s' cannot be resumed: it lacks %s", path,
                     missing ? "some of the run's settings (it was written before --resume)"
                             : "the optimizer's or the RNG's state");
        return SG_EXIT_INPUT;
    }
    sg_s2s_strings given, saved;
    sg_s2s_settings_format(s, given);
    sg_s2s_settings_format(&from, saved);
    for (size_t i = 0; i < SG_S2S_N_SETTINGS; i++) {
        const char *name = sg_s2s_setting_list[i].name;
        if (strcmp(given[i], saved[i]) == 0 || !sg_cli_given(a, name))
            continue;
        if (sg_s2s_setting_list[i].flag)
            sg_cli_error("--%s contradicts the checkpoint '%s', which was trained without it: drop it to resume", name,
                         path);
        else
            sg_cli_error("--%s %s contradicts the checkpoint '%s' (trained with --%s %s): drop it to resume", name,
                         sg_cli_opt(a, name), path, name, saved[i]);
        return SG_EXIT_USAGE;
    }
    if (sg_cli_given(a, "lr") && lr != ck->optim.base_lr) {
        sg_cli_error("--lr %g contradicts the checkpoint '%s' (trained with --lr %g): drop --lr to resume", lr, path,
                     ck->optim.base_lr);
        return SG_EXIT_USAGE;
    }
    if (ck->optim.kind != SG_OPTIM_ADAM) {
        sg_cli_error("'%s' was not written by seq2seq training (its optimizer is not Adam)", path);
        return SG_EXIT_INPUT;
    }
    if (ck->epoch >= epochs) {
        sg_cli_error("the checkpoint '%s' is after epoch %llu, and --epochs is %zu: nothing is left to train", path,
                     (unsigned long long)ck->epoch, epochs);
        return SG_EXIT_USAGE;
    }
    *s = from;
    return SG_EXIT_OK;
}

int sg_cmd_train_seq2seq(sg_cli_args *a)
{
    sg_s2s_settings set;
    const char *data = sg_cli_opt(a, "data"), *save = sg_cli_opt(a, "save"), *log = sg_cli_opt(a, "log");
    const char *resume = sg_cli_opt(a, "resume");
    size_t epochs, threads, max_batches, beam, decay_start;
    double lr, decay;
    if (!sg_s2s_parse_settings(a, &set) || !sg_cli_opt_size_in(a, "epochs", 10, 1, 100000, &epochs) ||
        !sg_cli_opt_size_in(a, "beam", 1, 1, 256, &beam) ||
        !sg_cli_opt_double_in(a, "decay", 1.0, 0, 1, true, &decay) ||
        !sg_cli_opt_size_in(a, "decay-start", 0, 0, 100000, &decay_start) ||
        !sg_cli_opt_size(a, "max-batches", 0, &max_batches) ||
        !sg_cli_opt_size_in(a, "threads", sg_cli_default_threads(), 1, 1024, &threads) ||
        !sg_cli_opt_double_in(a, "lr", 0.001, 0, 1e4, true, &lr))
        return SG_EXIT_USAGE;
    bool reshard = sg_cli_flag(a, "reshard");
    sg_cli_dist dd; /* data-parallel under mpirun: rank r trains on its columns of every batch */
    int orc = sg_cli_dist_open(a, &dd);
    if (orc == SG_EXIT_OK && !sg_cli_check_all_used(a))
        orc = SG_EXIT_USAGE;
    if (orc == SG_EXIT_OK && !data) {
        sg_cli_error("--data FILE is needed: one source_target pair per line (a tab or the first '_' separates them)");
        orc = SG_EXIT_USAGE;
    }
    if (orc == SG_EXIT_OK && set.batch < dd.size) {
        sg_cli_error("--batch %zu cannot be shared by %zu ranks (each needs an example at least)", set.batch, dd.size);
        orc = SG_EXIT_USAGE;
    }
    if (orc == SG_EXIT_OK)
        orc = sg_cli_set_threads(threads);
    sg_cellfile *cellfile = NULL; /* --cell FILE.cell or LIB.so:FUNCTION */
    if (orc == SG_EXIT_OK)
        orc = sg_cli_load_cell(sg_cli_opt(a, "cell"), &cellfile);
    if (!sg_cli_dist_agree(&dd, &orc))
        return sg_cli_dist_close(&dd, orc);
    if (dd.rank != 0) /* rank 0 alone writes */
        save = log = NULL;
    sg_checkpoint ck;
    sg_checkpoint_init(&ck);
    sg_vocab *saved_vocab = NULL;
    if (resume) {
        int rrc = sg_s2s_resume_settings(a, resume, &set, lr, epochs, &ck);
        if (rrc == SG_EXIT_OK && set.cfg.kind == SG_CELL_CUSTOM) /* the checkpoint's cell, or the same text */
            rrc = sg_cli_cell_resume(&ck, resume, &cellfile);
        if (rrc == SG_EXIT_OK && !(saved_vocab = sg_cli_settings_vocab(&ck, "seq2seq", resume)))
            rrc = SG_EXIT_INPUT;
        if (rrc == SG_EXIT_OK)
            rrc = sg_cli_dist_resume_ranks(&dd, &ck, resume, reshard);
        if (!sg_cli_dist_agree(&dd, &rrc)) {
            sg_checkpoint_free(&ck);
            sg_cellfile_free(cellfile);
            return sg_cli_dist_close(&dd, rrc);
        }
        lr = ck.optim.base_lr;
    }
    char err[4096];
    sg_pair_data d;
    sg_pair_opts po = sg_s2s_pair_opts(&set);
    int drc = SG_EXIT_OK;
    sg_status st = SG_OK;
    bool d_ready = false;
    if (!sg_cli_bind_cell(set.cfg.kind, cellfile, resume, &set.cfg.make, &set.cfg.make_ctx))
        drc = SG_EXIT_USAGE;
    else if ((st = sg_pair_data_load(&d, data, &po, err, sizeof err)) != SG_OK) {
        sg_cli_error("%s", err);
        drc = st == SG_ERR_ARG ? SG_EXIT_USAGE : st == SG_ERR_NOMEM ? SG_EXIT_FAIL : SG_EXIT_INPUT;
    } else
        d_ready = true;
    if (!sg_cli_dist_agree(&dd, &drc)) { /* every rank read its data, or every rank stops */
        if (d_ready)
            sg_pair_data_free(&d); /* this rank read it; another did not */
        sg_vocab_free(saved_vocab);
        sg_checkpoint_free(&ck);
        sg_cellfile_free(cellfile);
        return sg_cli_dist_close(&dd, drc);
    }
    sg_seq2seq_config cfg = set.cfg;
    cfg.vocab = sg_vocab_size(d.vocab);
    sg_params *ps = sg_params_new(SG_F32);
    sg_graph *g = sg_graph_new(SG_F32);
    sg_seq2seq m = {0};
    bool m_ready = false;
    sg_pair_batcher it = {0};
    sg_s2s_shard shard = {0};
    int rc = SG_EXIT_FAIL;
    size_t start_epoch = 1;
    sg_rng rng;
    sg_rng_seed(&rng, set.seed);
    sg_optim opt;
    sg_adam_config ac = sg_adam_defaults();
    ac.lr = lr;
    if (saved_vocab && !sg_cli_same_vocab(d.vocab, saved_vocab, data, resume)) {
        rc = SG_EXIT_INPUT;
        goto done;
    }
    if (!ps || !g || sg_seq2seq_init(&m, ps, &cfg) != SG_OK) {
        sg_cli_error("could not build the model");
        goto done;
    }
    m_ready = true;
    if (sg_seq2seq_reset_parameters(&m, &rng) != SG_OK || sg_optim_init_adam(&opt, &ac) != SG_OK ||
        sg_optim_set_schedule(&opt, decay, (int)decay_start) != SG_OK ||
        sg_pair_batcher_init(&it, &d.split[SG_PAIRS_TRAIN], set.batch, set.bucket, err, sizeof err) != SG_OK) {
        sg_cli_error("could not set up training: %s", err);
        goto done;
    }
    if (resume) {
        if ((st = sg_checkpoint_load(resume, ps, &ck, err, sizeof err)) != SG_OK) {
            sg_cli_error("cannot resume: %s", err);
            rc = sg_cli_exit_for(st);
            goto done;
        }
        if ((sg_cli_given(a, "decay") && decay != ck.optim.decay) ||
            (sg_cli_given(a, "decay-start") && (int)decay_start != ck.optim.decay_start)) {
            sg_cli_error("--decay %g --decay-start %zu contradict the checkpoint '%s' (trained with --decay %g "
                         "--decay-start %d): drop them to resume",
                         decay, decay_start, resume, ck.optim.decay, ck.optim.decay_start);
            rc = SG_EXIT_USAGE;
            goto done;
        }
        opt = ck.optim;
        rng = ck.rng;
        start_epoch = (size_t)ck.epoch + 1;
        printf("resumed from %s after epoch %zu (its settings, Adam state and RNG)\n", resume, (size_t)ck.epoch);
    }
    if (dd.size > 1 && !sg_s2s_shard_init(&shard, &d.split[SG_PAIRS_TRAIN], set.batch)) {
        sg_cli_error("out of memory");
        goto done;
    }
    if ((rc = sg_cli_dist_bind(&dd, ps)) != SG_EXIT_OK)
        goto done;
    rc = SG_EXIT_FAIL;
    printf("seq2seq: %s, %s attention%s%s%s%s, E %zu, H %zu, %zu encoder layers, vocabulary %zu, %zu parameters\n",
           sg_s2s_cell_label(&cfg), sg_attention_name(cfg.attention), cfg.input_feeding ? ", input feeding" : "",
           cfg.reverse_source ? ", reversed source" : "", cfg.peeky ? ", peeky" : "",
           cfg.bidirectional ? ", bidirectional" : "", cfg.embed, cfg.hidden, cfg.layers, cfg.vocab,
           sg_params_numel(ps));
    printf("data: %s, %zu train / %zu valid / %zu test pairs (split with seed %zu); batch %zu, Adam lr %g, clip %g",
           data, d.split[0].n, d.split[1].n, d.split[2].n, set.seed, set.batch, lr, set.clip);
    if (opt.decay != 1.0)
        printf(", lr x %g per epoch after epoch %d", opt.decay, opt.decay_start);
    printf("\n");
    sg_cli_dist_print_setup(&dd, "each its columns of every batch");
    fflush(stdout);
    for (size_t epoch = start_epoch; epoch <= epochs; epoch++) {
        char label[64];
        snprintf(label, sizeof label, "epoch %2zu/%zu", epoch, epochs);
        sg_cli_progress bar;
        if (sg_optim_set_epoch(&opt, (int)epoch) != SG_OK) {
            sg_cli_error("the learning-rate schedule refuses epoch %zu", epoch);
            goto done;
        }
        size_t n_batches = max_batches && max_batches < it.n_batches ? max_batches : it.n_batches;
        sg_cli_progress_init(&bar, label, n_batches);
        sg_pair_batcher_epoch(&it, &rng);
        sg_pair_batch b;
        double total = 0;
        size_t n = 0, tokens_seen = 0;
        while (n < n_batches && sg_pair_batcher_next(&it, &b)) {
            sg_graph_reset(g);
            sg_params_zero_grad(ps);
            sg_pair_batch mine = b;
            float share = 1.0f; /* this rank's part of the batch's mean loss: its target tokens over all */
            if (dd.size > 1) {
                size_t lo, cols;
                sg_cli_dist_rows(&dd, b.batch, &lo, &cols);
                double all = sg_s2s_mask_sum(b.tgt_mask, b.tgt_steps, b.batch, 0, b.batch);
                /* a last batch smaller than the ranks: a rank without a column runs column 0 with share 0, so
                 * that every rank records the same tape and starts the same reductions */
                share = cols ? (float)(sg_s2s_mask_sum(b.tgt_mask, b.tgt_steps, b.batch, lo, cols) / all) : 0.0f;
                sg_s2s_shard_take(&shard, &b, cols ? lo : 0, cols ? cols : 1, &mine);
            }
            if ((rc = sg_cli_dist_step_begin(&dd, g)) != SG_EXIT_OK)
                goto done;
            rc = SG_EXIT_FAIL;
            sg_tensor *loss = sg_seq2seq_loss(g, &m, &mine);
            double l = loss ? sg_tensor_get(loss, 0) : NAN;
            if (!loss || sg_backward_seed(g, loss, &share) != SG_OK) {
                sg_cli_progress_end(&bar);
                sg_cli_error("epoch %zu batch %zu: %s", epoch, n + 1, sg_graph_error(g));
                goto done;
            }
            double sums[1] = {share * l}; /* the batch's mean loss */
            if ((rc = sg_cli_dist_step_end(&dd, ps, sums, 1)) != SG_EXIT_OK)
                goto done;
            rc = SG_EXIT_FAIL;
            l = sums[0];
            if (!isfinite(l)) {
                sg_cli_progress_end(&bar);
                if (dd.rank == 0)
                    sg_cli_error("epoch %zu batch %zu: the loss is not finite; training stops", epoch, n + 1);
                dd.agreed = true; /* every rank saw the same sum */
                goto done;
            }
            if (set.clip > 0)
                sg_params_clip_grad_norm(ps, set.clip);
            if (sg_optim_step(&opt, ps) != SG_OK) {
                sg_cli_progress_end(&bar);
                sg_cli_error("optimizer step failed");
                goto done;
            }
            total += l;
            n++;
            for (size_t c = 0; c < b.tgt_steps * b.batch; c++)
                tokens_seen += b.tgt_mask[c] > 0;
            sg_cli_progress_update(&bar, n, "loss %.4f  %6.0f tok/s", total / (double)n,
                                   (double)tokens_seen / (sg_cli_now() - bar.t0));
        }
        double secs = sg_cli_now() - bar.t0;
        sg_cli_progress_end(&bar);
        double acc;
        if (!sg_s2s_accuracy(g, &m, &d.split[SG_PAIRS_VALID], 256, beam, &dd, &acc))
            goto done;
        printf("epoch %zu: loss %.4f  valid exact match %.2f%%  %.0f target tok/s  %.1f s\n", epoch,
               total / (double)(n ? n : 1), 100 * acc, (double)tokens_seen / secs, secs);
        fflush(stdout);
        sg_cli_log_field row[] = {{"epoch", (double)epoch},  {"loss", total / (double)(n ? n : 1)},
                                  {"valid_accuracy", acc},   {"tokens_per_s", (double)tokens_seen / secs},
                                  {"lr", sg_optim_lr(&opt)}, {"seconds", secs}};
        int wrc = SG_EXIT_OK;
        if ((log && !sg_cli_log_append(log, row, sizeof row / sizeof row[0])) ||
            (save && !sg_s2s_save(save, ps, &set, d.vocab, &opt, &rng, epoch, dd.size)))
            wrc = SG_EXIT_FAIL;
        if (!sg_cli_dist_agree(&dd, &wrc)) { /* rank 0's log and save */
            rc = wrc;
            goto done;
        }
    }
    double test_acc;
    if (!sg_s2s_accuracy(g, &m, &d.split[SG_PAIRS_TEST], 256, beam, &dd, &test_acc))
        goto done;
    printf("test exact match %.2f%% (%zu pairs%s)\n", 100 * test_acc, d.split[SG_PAIRS_TEST].n,
           beam > 1 ? ", beam search" : "");
    rc = SG_EXIT_OK;
done:
    sg_s2s_shard_free(&shard);
    sg_pair_batcher_free(&it);
    if (m_ready)
        sg_seq2seq_free(&m);
    sg_graph_free(g);
    sg_params_free(ps);
    sg_pair_data_free(&d);
    sg_vocab_free(saved_vocab);
    sg_checkpoint_free(&ck);
    sg_cellfile_free(cellfile);
    return sg_cli_dist_close(&dd, rc);
}

/* ---- the probe: a tiny reversal batch ------------------------------------ */

typedef struct sg_s2s_probe {
    sg_cellfile *cellfile; /* owned: --cell FILE, which the model's cells borrow */
    sg_seq2seq m;
    sg_pair_data d;
    sg_pair_batcher it;
    sg_pair_batch b;
} sg_s2s_probe;

static sg_tensor *sg_s2s_probe_loss(sg_graph *g, void *self)
{
    sg_s2s_probe *p = self;
    return sg_seq2seq_loss(g, &p->m, &p->b);
}

static void sg_s2s_probe_free(void *self)
{
    sg_s2s_probe *p = self;
    sg_seq2seq_free(&p->m);
    sg_cellfile_free(p->cellfile);
    sg_pair_batcher_free(&p->it);
    sg_pair_data_free(&p->d);
    sg_free(p);
}

int sg_task_seq2seq_probe(sg_cli_args *a, sg_dtype dtype, bool for_check, sg_cli_probe *out)
{
    memset(out, 0, sizeof *out);
    sg_seq2seq_config cfg;
    size_t seed;
    if (!sg_s2s_parse_model(a, &cfg, for_check ? 3 : 16, for_check ? 4 : 32) || !sg_cli_opt_size(a, "seed", 1, &seed))
        return SG_EXIT_USAGE;
    sg_cellfile *cellfile = NULL;
    int lrc = sg_cli_cell_from_args(sg_cli_opt(a, "cell"), cfg.kind, &cellfile, &cfg.make, &cfg.make_ctx);
    if (lrc != SG_EXIT_OK)
        return lrc;
    static const char text[] = "abc_cba\nba_ab\ncabd_dbac\nd_d\n";
    sg_s2s_probe *p = sg_calloc(1, sizeof *p);
    sg_params *ps = sg_params_new(dtype);
    char err[512];
    sg_pair_opts po = sg_pair_opts_defaults();
    po.valid_frac = po.test_frac = 0;
    sg_rng rng;
    sg_rng_seed(&rng, seed);
    if (!p || !ps || sg_pair_data_parse(&p->d, text, sizeof text - 1, "probe", &po, err, sizeof err) != SG_OK) {
        sg_free(p);
        sg_params_free(ps);
        sg_cellfile_free(cellfile);
        sg_cli_error("out of memory");
        return SG_EXIT_FAIL;
    }
    p->cellfile = cellfile;
    cfg.vocab = sg_vocab_size(p->d.vocab);
    if (sg_seq2seq_init(&p->m, ps, &cfg) != SG_OK || sg_seq2seq_reset_parameters(&p->m, &rng) != SG_OK ||
        sg_pair_batcher_init(&p->it, &p->d.split[SG_PAIRS_TRAIN], 4, 0, err, sizeof err) != SG_OK ||
        !sg_pair_batcher_next(&p->it, &p->b)) {
        sg_cli_error("could not build the model");
        sg_s2s_probe_free(p);
        sg_params_free(ps);
        return SG_EXIT_FAIL;
    }
    *out =
        (sg_cli_probe){.ps = ps, .owns_ps = true, .self = p, .loss = sg_s2s_probe_loss, .free_self = sg_s2s_probe_free};
    snprintf(out->title, sizeof out->title,
             "seq2seq: %s encoder and decoder, %s attention, %zu units, %zu source x %zu target steps",
             sg_s2s_cell_label(&cfg), sg_attention_name(cfg.attention), cfg.hidden, p->b.src_steps, p->b.tgt_steps);
    snprintf(out->describe, sizeof out->describe,
             "a %s seq2seq with %s attention (f64, E %zu, H %zu, B 4, S %zu, T %zu, %zu parameters)",
             sg_s2s_cell_label(&cfg), sg_attention_name(cfg.attention), cfg.embed, cfg.hidden, p->b.src_steps,
             p->b.tgt_steps, sg_params_numel(ps));
    return SG_EXIT_OK;
}

/* ---- working from a checkpoint ---------------------------------------------- */

/* A trained model, rebuilt from its checkpoint. */
typedef struct sg_s2s_loaded {
    sg_s2s_settings set;
    sg_cellfile *cell; /* owned: the checkpoint's cell file or plugin (NULL: built-in); m's cells borrow it */
    sg_seq2seq m;
    sg_params *ps; /* f32 */
    sg_vocab *vocab;
} sg_s2s_loaded;

static void sg_s2s_loaded_free(sg_s2s_loaded *l)
{
    if (l->ps)
        sg_seq2seq_free(&l->m);
    sg_cellfile_free(l->cell);
    sg_params_free(l->ps);
    sg_vocab_free(l->vocab);
    memset(l, 0, sizeof *l);
}

/* Loads the model a seq2seq checkpoint describes.  Returns an exit code after
 * a message; on failure nothing is left to free. */
static int sg_s2s_load(const char *path, sg_s2s_loaded *l)
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
    int rc = sg_s2s_settings_read(&ck, path, &l->set, NULL);
    if (rc == SG_EXIT_OK && !(l->vocab = sg_cli_settings_vocab(&ck, "seq2seq", path)))
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
    sg_seq2seq_config cfg = l->set.cfg;
    cfg.vocab = sg_vocab_size(l->vocab);
    sg_params *ps = sg_params_new(SG_F32);
    if (!ps || sg_seq2seq_init(&l->m, ps, &cfg) != SG_OK) {
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
        sg_s2s_loaded_free(l);
        return sg_cli_exit_for(st);
    }
    return SG_EXIT_OK;
}

/* Tokens of text as ids of the model's vocabulary: *src and *mask (S) are the
 * caller's (sg_free).  Returns an exit code after a message (a token outside
 * the vocabulary, no token at all). */
static int sg_s2s_encode_text(const sg_s2s_loaded *l, const char *text, int32_t **src, double **mask, size_t *S)
{
    size_t n = strlen(text), pos = 0, tl;
    const char *t;
    *S = 0;
    *src = sg_malloc((n ? n : 1) * sizeof **src);
    *mask = sg_malloc((n ? n : 1) * sizeof **mask);
    if (!*src || !*mask) {
        sg_cli_error("out of memory");
        return SG_EXIT_FAIL;
    }
    while (sg_token_next(l->set.tokenizer, text, n, &pos, &t, &tl)) {
        int32_t id = sg_vocab_id_n(l->vocab, t, tl);
        if (id < 4) {
            sg_cli_error("--input: token '%.*s' at position %zu is not in the model's vocabulary", (int)tl, t, *S + 1);
            return SG_EXIT_INPUT;
        }
        (*src)[*S] = id;
        (*mask)[(*S)++] = 1.0;
    }
    if (!*S) {
        sg_cli_error("--input holds no tokens");
        return SG_EXIT_USAGE;
    }
    return SG_EXIT_OK;
}

/* The longest output decoded from one input. */
enum { SG_S2S_MAX_OUTPUT = 256 };

/* The decoded ids (n) as text: characters joined, words with a space between.
 * A string to sg_free, or NULL when out of memory. */
static char *sg_s2s_detokenize(const sg_s2s_loaded *l, const int32_t *ids, size_t n)
{
    const bool words = l->set.tokenizer == SG_TOKENIZE_WORDS;
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(sg_vocab_word(l->vocab, ids[i])) + (words && i);
    char *text = sg_malloc(len), *p = text;
    for (size_t i = 0; text && i < n; i++) {
        const char *w = sg_vocab_word(l->vocab, ids[i]);
        if (words && i)
            *p++ = ' ';
        memcpy(p, w, strlen(w));
        p += strlen(w);
    }
    if (text)
        *p = '\0';
    return text;
}

int sg_cmd_generate_seq2seq(sg_cli_args *a)
{
    const char *load = sg_cli_opt(a, "load"), *input = sg_cli_opt(a, "input");
    size_t beam, seed, max_len;
    double temperature;
    if (!sg_cli_opt_size_in(a, "beam", 1, 1, 256, &beam) || !sg_cli_opt_size(a, "seed", 1, &seed) ||
        !sg_cli_opt_double_in(a, "temperature", 0.0, 0, 1e3, false, &temperature) ||
        !sg_cli_opt_size_in(a, "max-len", 64, 1, SG_S2S_MAX_OUTPUT, &max_len) || !sg_cli_check_all_used(a))
        return SG_EXIT_USAGE;
    if (!load || !input) {
        sg_cli_error("usage: seqgrad generate seq2seq --load CKPT --input TEXT [--beam K | --temperature T [--seed N]] "
                     "[--max-len N]");
        return SG_EXIT_USAGE;
    }
    if (beam > 1 && temperature > 0) {
        sg_cli_error("--beam %zu and --temperature %g are two ways of decoding: give one", beam, temperature);
        return SG_EXIT_USAGE;
    }
    sg_s2s_loaded l;
    int rc = sg_s2s_load(load, &l);
    if (rc != SG_EXIT_OK)
        return rc;
    int32_t *src = NULL, *out = sg_malloc(SG_S2S_MAX_OUTPUT * sizeof *out);
    double *mask = NULL;
    size_t S, len;
    sg_graph *g = sg_graph_new(SG_F32);
    if (!out || !g) {
        sg_cli_error("out of memory");
        rc = SG_EXIT_FAIL;
        goto done;
    }
    if ((rc = sg_s2s_encode_text(&l, input, &src, &mask, &S)) != SG_EXIT_OK)
        goto done;
    sg_pair_batch b = {.batch = 1, .src_steps = S, .src = src, .src_mask = mask};
    sg_rng rng;
    sg_rng_seed(&rng, seed);
    double score;
    sg_status st = beam > 1 ? sg_seq2seq_beam(g, &l.m, &b, beam, SG_S2S_LENGTH_ALPHA, max_len, out, &len, &score)
                            : sg_seq2seq_decode(g, &l.m, &b, max_len, temperature, &rng, out, &len, NULL);
    if (st != SG_OK) {
        sg_cli_error("decoding failed: %s", sg_graph_error(g));
        rc = SG_EXIT_FAIL;
        goto done;
    }
    char *text = sg_s2s_detokenize(&l, out, len);
    if (!text) {
        sg_cli_error("out of memory");
        rc = SG_EXIT_FAIL;
        goto done;
    }
    printf("%s\n", text);
    sg_free(text);
    rc = SG_EXIT_OK;
done:
    sg_graph_free(g);
    sg_free(src);
    sg_free(mask);
    sg_free(out);
    sg_s2s_loaded_free(&l);
    return rc;
}

int sg_cmd_eval_seq2seq(sg_cli_args *a)
{
    const char *load = sg_cli_opt(a, "load"), *data = sg_cli_opt(a, "data"), *split = sg_cli_opt(a, "split");
    size_t beam, threads;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (!sg_cli_opt_size_in(a, "beam", 1, 1, 256, &beam) ||
        !sg_cli_opt_size_in(a, "threads", ncpu > 0 ? (size_t)ncpu : 1, 1, 1024, &threads) || !sg_cli_check_all_used(a))
        return SG_EXIT_USAGE;
    if (!load || !data) {
        sg_cli_error("usage: seqgrad eval seq2seq --load CKPT --data FILE [--split valid|test] [--beam K]");
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
    sg_s2s_loaded l;
    int rc = sg_s2s_load(load, &l);
    if (rc != SG_EXIT_OK)
        return rc;
    char err[4096];
    sg_pair_data d;
    sg_pair_opts po = sg_s2s_pair_opts(&l.set);
    sg_status st = sg_pair_data_load(&d, data, &po, err, sizeof err);
    if (st != SG_OK) {
        sg_cli_error("%s", err);
        sg_s2s_loaded_free(&l);
        return st == SG_ERR_NOMEM ? SG_EXIT_FAIL : SG_EXIT_INPUT;
    }
    sg_graph *g = sg_graph_new(SG_F32);
    double acc;
    rc = SG_EXIT_INPUT;
    if (sg_cli_same_vocab(d.vocab, l.vocab, data, load)) {
        rc = SG_EXIT_FAIL;
        if (!g)
            sg_cli_error("out of memory");
        else if (sg_s2s_accuracy(g, &l.m, &d.split[which], 256, beam, NULL, &acc)) {
            printf("%s exact match %.2f%% (%zu pairs, split with seed %zu; %s)\n",
                   which == SG_PAIRS_VALID ? "valid" : "test", 100 * acc, d.split[which].n, l.set.seed,
                   beam > 1 ? "beam search" : "greedy");
            rc = SG_EXIT_OK;
        }
    }
    sg_graph_free(g);
    sg_pair_data_free(&d);
    sg_s2s_loaded_free(&l);
    return rc;
}

/* ---- seqgrad attention: one decode, its weights as a heatmap ---------------- */

/* A token as a label: a blank shows as U+2423 (open box), so the axis shows it. */
static char *sg_s2s_label(const char *tok) { return sg_str_dup(strcmp(tok, " ") == 0 ? "\xe2\x90\xa3" : tok); }

int sg_cmd_attention(sg_cli_args *a)
{
    const char *load = sg_cli_opt(a, "load"), *input = sg_cli_opt(a, "input"), *dir = sg_cli_opt(a, "out");
    size_t max_len;
    if (!sg_cli_opt_size_in(a, "max-len", 64, 1, SG_S2S_MAX_OUTPUT, &max_len) || !sg_cli_check_all_used(a))
        return SG_EXIT_USAGE;
    if (!load || !input) {
        sg_cli_error("usage: seqgrad attention --load CKPT --input TEXT [--out DIR] [--max-len N]");
        return SG_EXIT_USAGE;
    }
    if (!dir)
        dir = "seqgrad-attention";
    sg_s2s_loaded l;
    int rc = sg_s2s_load(load, &l);
    if (rc != SG_EXIT_OK)
        return rc;
    int32_t *src = NULL, *out = sg_malloc(max_len * sizeof *out);
    double *mask = NULL, *w = NULL, *grid = NULL;
    char **rows = NULL, **cols = NULL, *decoded = NULL;
    size_t S = 0, len = 0, n_rows = 0;
    sg_graph *g = sg_graph_new(SG_F32);
    if (l.set.cfg.attention == SG_ATTN_NONE) {
        sg_cli_error("'%s' has no attention (it was trained with --attention none): there are no weights to draw",
                     load);
        rc = SG_EXIT_USAGE;
        goto done;
    }
    if (!out || !g) {
        sg_cli_error("out of memory");
        rc = SG_EXIT_FAIL;
        goto done;
    }
    if ((rc = sg_s2s_encode_text(&l, input, &src, &mask, &S)) != SG_EXIT_OK)
        goto done;
    rc = SG_EXIT_FAIL;
    w = sg_malloc(max_len * S * sizeof *w);
    grid = sg_malloc(max_len * S * sizeof *grid);
    rows = sg_calloc(max_len, sizeof *rows);
    cols = sg_calloc(S, sizeof *cols);
    if (!w || !grid || !rows || !cols) {
        sg_cli_error("out of memory");
        goto done;
    }
    sg_pair_batch b = {.batch = 1, .src_steps = S, .src = src, .src_mask = mask};
    if (sg_seq2seq_decode(g, &l.m, &b, max_len, 0.0, NULL, out, &len, w) != SG_OK) {
        sg_cli_error("decoding failed: %s", sg_graph_error(g));
        goto done;
    }
    /* rows: the output tokens and the "<eos>" that ended them; columns: the
     * source in reading order (a reversed encoder's step s is token S-1-s) */
    n_rows = len < max_len ? len + 1 : max_len;
    for (size_t r = 0; r < n_rows; r++) {
        rows[r] = sg_s2s_label(sg_vocab_word(l.vocab, out[r]));
        for (size_t c = 0; c < S; c++)
            grid[r * S + c] = w[r * S + (l.set.cfg.reverse_source ? S - 1 - c : c)];
    }
    for (size_t c = 0; c < S; c++)
        cols[c] = sg_s2s_label(sg_vocab_word(l.vocab, src[c]));
    for (size_t r = 0; r < n_rows; r++)
        if (!rows[r])
            goto nomem;
    for (size_t c = 0; c < S; c++)
        if (!cols[c])
            goto nomem;
    if (!(decoded = sg_s2s_detokenize(&l, out, len)))
        goto nomem;
    printf("%s -> %s\n", input, decoded);
    if (!sg_cli_ensure_dir(dir))
        goto done;
    char title[1024];
    snprintf(title, sizeof title, "%s attention: \"%.200s\" -> \"%.200s\"", sg_attention_name(l.set.cfg.attention),
             input, decoded);
    static const char *const exts[] = {"png", "svg"};
    for (int e = 0; e < 2; e++) {
        char path[4096], err[1024];
        snprintf(path, sizeof path, "%s/attention.%s", dir, exts[e]);
        if (sg_plot_heatmap(path, title, "source token", "output token", grid, n_rows, S, (const char *const *)rows,
                            (const char *const *)cols, err, sizeof err) != SG_OK) {
            sg_cli_error("%s", err);
            goto done;
        }
        printf("wrote %s (%zu output x %zu source tokens)\n", path, n_rows, S);
    }
    rc = SG_EXIT_OK;
    goto done;
nomem:
    sg_cli_error("out of memory");
done:
    for (size_t r = 0; rows && r < n_rows; r++)
        sg_free(rows[r]);
    for (size_t c = 0; cols && c < S; c++)
        sg_free(cols[c]);
    sg_free(rows);
    sg_free(cols);
    sg_free(decoded);
    sg_free(w);
    sg_free(grid);
    sg_graph_free(g);
    sg_free(src);
    sg_free(mask);
    sg_free(out);
    sg_s2s_loaded_free(&l);
    return rc;
}
