/* sg_cmd_lm.c — `seqgrad train lm`, `seqgrad eval`, `seqgrad generate`: the
 * word-level language model of Zaremba et al. on a text directory (Penn
 * Treebank by default layout).  The defaults are the "small" configuration:
 * 2-layer LSTM, 200 units, bptt 20, batch 20, init U[-0.1, 0.1], SGD lr 1
 * halved each epoch after the 4th, 13 epochs, global-norm clip 5, no dropout;
 * the loss of a window is the cross-entropy averaged over the batch and summed
 * over the steps.  Checkpoints (safetensors) are written atomically at the end
 * of every epoch; --resume continues bit for bit (same thread count).
 * Under `mpirun -np N`, data-parallel: rank r trains on its rows of every
 * window of the --batch streams (sg_cli_dist.h; docs/distributed.md). */
#include "frontends/cli/sg_cli_dist.h"
#include "frontends/cli/sg_cli_progress.h"
#include "frontends/cli/sg_cli_task.h"

#include "graph/core/sg_alloc.h"
#include "graph/format/sg_checkpoint.h"
#include "graph/export/sg_dot.h"
#include "graph/gradcheck/sg_gradcheck.h"
#include "graph/optim/sg_optim.h"
#include "graph/util/sg_util.h"
#include "graph/core/sg_rng.h"
#include "models/lm/sg_lm.h"
#include "models/lm/sg_lm_io.h"
#include "models/data/sg_text.h"
#include "models/decode/sg_decode.h"

#include "frontends/cellfile/sg_cellfile.h"
#include "frontends/cli/sg_cli_settings.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct sg_lm_opts {
    const char *data, *save, *resume, *log, *load;
    sg_lm_config model;
    size_t bptt, batch, epochs, seed, threads, min_count, max_windows, decay_start;
    double lr, clip, dropout, init, decay, forget_bias;
    bool adam, reshard;
    bool lr_given, optim_given, bptt_given, batch_given, cell_given; /* for refusing what a resume would ignore */
    sg_cellfile *cellfile; /* owned: --cell FILE.cell (model.make_ctx points at it) */
    int parse_rc;          /* the exit code when parsing failed: usage, or a bad cell file (input) */
} sg_lm_opts;

static void sg_lm_opts_free(sg_lm_opts *o)
{
    sg_cellfile_free(o->cellfile);
    o->cellfile = NULL;
}

/* The cell as reports name it: the built-in kind, or the cell file. */
static const char *sg_lm_cell_label(const sg_lm_opts *o)
{
    return o->cellfile ? sg_cellfile_name(o->cellfile) : sg_cell_kind_name(o->model.kind);
}

/* ---- options ------------------------------------------------------------ */

static bool sg_lm_parse_model(sg_cli_args *a, sg_lm_opts *o)
{
    const char *cell = sg_cli_opt(a, "cell");
    size_t embed;
    if (!sg_cli_opt_size_in(a, "hidden", 200, 1, 65536, &o->model.hidden) ||
        !sg_cli_opt_size_in(a, "layers", 2, 1, 1024, &o->model.layers) ||
        !sg_cli_opt_size_in(a, "embed", 0, 0, 65536, &embed))
        return false;
    o->model.embed = embed ? embed : o->model.hidden;
    o->model.tie_weights = sg_cli_flag(a, "tie");
    int rc = sg_cli_load_cell(cell, &o->cellfile);
    if (rc != SG_EXIT_OK) {
        o->parse_rc = rc;
        return false;
    }
    if (o->cellfile) { /* a cell file or a plugin cell */
        o->model.kind = SG_CELL_CUSTOM;
        o->model.make = sg_cellfile_make;
        o->model.make_ctx = o->cellfile;
    } else if (!sg_cli_parse_cell(cell, &o->model.kind, &o->model.act))
        return false;
    if (o->model.tie_weights && o->model.embed != o->model.hidden) {
        sg_cli_error("--tie needs --embed equal to --hidden");
        return false;
    }
    return true;
}

static bool sg_lm_parse(sg_cli_args *a, sg_lm_opts *o, bool training)
{
    memset(o, 0, sizeof *o);
    const char *optim = sg_cli_opt(a, "optim");
    o->data = sg_cli_opt(a, "data");
    o->save = sg_cli_opt(a, "save");
    o->resume = sg_cli_opt(a, "resume");
    o->log = sg_cli_opt(a, "log");
    o->load = sg_cli_opt(a, "load");
    o->reshard = training && sg_cli_flag(a, "reshard");
    o->lr_given = sg_cli_given(a, "lr");
    o->optim_given = optim != NULL;
    o->bptt_given = sg_cli_given(a, "bptt");
    o->batch_given = sg_cli_given(a, "batch");
    o->cell_given = sg_cli_given(a, "cell");
    if (!sg_lm_parse_model(a, o) || !sg_cli_opt_size_in(a, "bptt", 20, 1, 1000000, &o->bptt) ||
        !sg_cli_opt_size_in(a, "batch", 20, 1, 1000000, &o->batch) ||
        !sg_cli_opt_size_in(a, "epochs", 13, 0, 1000000, &o->epochs) || !sg_cli_opt_size(a, "seed", 1, &o->seed) ||
        !sg_cli_opt_size_in(a, "threads", sg_cli_default_threads(), 1, 1024, &o->threads) ||
        !sg_cli_opt_size(a, "min-count", 1, &o->min_count) || !sg_cli_opt_size(a, "max-windows", 0, &o->max_windows) ||
        !sg_cli_opt_size_in(a, "decay-start", 4, 0, INT32_MAX, &o->decay_start) ||
        !sg_cli_opt_double_in(a, "lr", -1, 0, 1e4, true, &o->lr) ||
        !sg_cli_opt_double_in(a, "clip", 5.0, 0, 1e6, false, &o->clip) ||
        !sg_cli_opt_double_in(a, "dropout", 0.0, 0, 0.99, false, &o->dropout) ||
        !sg_cli_opt_double_in(a, "init", 0.1, 0, 100, true, &o->init) ||
        !sg_cli_opt_double_in(a, "decay", 0.5, 0, 1e6, true, &o->decay) ||
        !sg_cli_opt_double_in(a, "forget-bias", -1.0, -1e3, 1e3, false, &o->forget_bias))
        return false;
    if (optim && strcmp(optim, "adam") != 0 && strcmp(optim, "sgd") != 0) {
        sg_cli_error("--optim must be sgd or adam, not '%s'", optim);
        return false;
    }
    o->adam = optim && strcmp(optim, "adam") == 0;
    if (!o->lr_given)
        o->lr = o->adam ? 0.002 : 1.0;
    if (training && !o->data) {
        sg_cli_error("--data DIR is needed (train.txt/valid.txt/test.txt or ptb.train.txt/...)");
        return false;
    }
    size_t cells;
    if (!sg_size_mul(o->bptt, o->batch, &cells) || cells > ((size_t)1 << 28)) {
        sg_cli_error("--bptt %zu x --batch %zu is too large (at most 2^28 ids in one window)", o->bptt, o->batch);
        return false;
    }
    return true;
}

/* ---- model from options or checkpoint ------------------------------------ */

/* The model (sg_lm_checkpoint_describe), its cell file or plugin and the
 * training run's window into ck's strings.  err receives the reason, or ""
 * when only the status tells it. */
static sg_status sg_lm_ck_describe(sg_checkpoint *ck, const sg_lm_opts *o, const sg_lm_config *cfg, const sg_vocab *v,
                                   char *err, size_t errcap)
{
    char buf[32];
    err[0] = '\0';
    sg_status st = sg_lm_checkpoint_describe(ck, cfg, v, err, errcap);
    if (st == SG_OK && o->cellfile && (st = sg_cli_cell_store(ck, o->cellfile)) != SG_OK)
        snprintf(err, errcap, "the cell file '%s' cannot be kept in a checkpoint (its text must be UTF-8)",
                 sg_cellfile_name(o->cellfile));
    snprintf(buf, sizeof buf, "%zu", o->bptt);
    if (st == SG_OK && (st = sg_checkpoint_set_string(ck, "lm.bptt", buf)) == SG_OK) {
        snprintf(buf, sizeof buf, "%zu", o->batch);
        st = sg_checkpoint_set_string(ck, "lm.batch", buf);
    }
    return st;
}

/* The training run's settings beside the model's (sg_lm_ck_describe); false after a message. */
static bool sg_lm_ck_put(sg_checkpoint *ck, const sg_lm_opts *o, const sg_lm_config *cfg, const sg_vocab *v)
{
    char err[4096];
    sg_status st = sg_lm_ck_describe(ck, o, cfg, v, err, sizeof err);
    if (st)
        sg_cli_error("cannot describe the model in the checkpoint: %s", err[0] ? err : sg_status_str(st));
    return st == SG_OK;
}

typedef struct sg_lm_session {
    sg_params *ps;
    sg_cellfile *cell; /* owned: a checkpoint's cell file or plugin, which m's cells borrow (NULL: built-in) */
    sg_lm m;
    bool m_ready;
    sg_lm_state st;
    sg_graph *g;
    int32_t *x, *y;   /* (T, b) window buffers: this rank's rows */
    int32_t *gx, *gy; /* (T, B) the whole window, when the batch is shared by ranks; else NULL */
    size_t lo, b, B;  /* this rank's rows [lo, lo + b) of the B rows */
} sg_lm_session;

static void sg_lm_session_free(sg_lm_session *s)
{
    if (s->m_ready)
        sg_lm_free(&s->m);
    sg_cellfile_free(s->cell);
    sg_lm_state_free(&s->st);
    sg_graph_free(s->g);
    sg_params_free(s->ps);
    sg_free(s->x);
    sg_free(s->y);
    sg_free(s->gx);
    sg_free(s->gy);
    memset(s, 0, sizeof *s);
}

/* The graph, window buffers and carried state of a session whose model is built. */
static bool sg_lm_session_buffers(sg_lm_session *s, size_t batch, size_t bptt)
{
    s->g = sg_graph_new(SG_F32);
    size_t cells, bytes;
    if (!sg_size_mul(bptt, batch, &cells) || !sg_size_mul(cells, sizeof *s->x, &bytes)) {
        sg_cli_error("a window of --bptt %zu x --batch %zu does not fit in memory", bptt, batch);
        return false;
    }
    s->x = sg_malloc(bytes);
    s->y = sg_malloc(bytes);
    if (!s->g || !s->x || !s->y || sg_lm_state_init(&s->st, &s->m, batch) != SG_OK) {
        sg_cli_error("out of memory");
        return false;
    }
    s->lo = 0;
    s->b = s->B = batch;
    return true;
}

/* A session whose rows are rows [lo, lo + b) of windows of B rows: the
 * whole windows' buffers (the sizes fit: B x bptt was checked). */
static bool sg_lm_session_share(sg_lm_session *s, size_t B, size_t lo, size_t b, size_t bptt)
{
    s->gx = sg_malloc(B * bptt * sizeof *s->gx);
    s->gy = sg_malloc(B * bptt * sizeof *s->gy);
    if (!s->gx || !s->gy) {
        sg_cli_error("out of memory");
        return false;
    }
    s->lo = lo;
    s->b = b;
    s->B = B;
    return true;
}

/* The next window into s->x, s->y (this rank's rows of it); its length. */
static size_t sg_lm_session_next(sg_lm_session *s, sg_text_batcher *it)
{
    if (!s->gx)
        return sg_text_batcher_next(it, s->x, s->y);
    size_t T = sg_text_batcher_next(it, s->gx, s->gy);
    sg_cli_dist_columns(s->x, s->gx, T, s->B, s->lo, s->b, sizeof *s->x);
    sg_cli_dist_columns(s->y, s->gy, T, s->B, s->lo, s->b, sizeof *s->y);
    return T;
}

static bool sg_lm_session_init(sg_lm_session *s, const sg_lm_opts *o, size_t vocab, size_t batch, size_t bptt)
{
    memset(s, 0, sizeof *s);
    sg_lm_config cfg = o->model;
    cfg.vocab = vocab;
    s->ps = sg_params_new(SG_F32);
    if (!s->ps || sg_lm_init(&s->m, s->ps, &cfg) != SG_OK) {
        sg_cli_error("could not build the model (out of memory or bad sizes)");
        return false;
    }
    s->m_ready = true;
    return sg_lm_session_buffers(s, batch, bptt);
}

/* Perplexity of a token stream (no-grad, state carried, every window), in
 * windows of batch rows; a shared session (d) reads its rows and sums
 * over the ranks. */
static bool sg_lm_evaluate(sg_lm_session *s, const sg_tokens *tok, size_t batch, size_t bptt, sg_cli_dist *d,
                           double *ppl)
{
    sg_text_batcher it;
    char err[4096];
    if (sg_text_batcher_init(&it, tok->ids, tok->n, batch, bptt, false, err, sizeof err) != SG_OK) {
        sg_cli_error("evaluation data: %s", err);
        return false;
    }
    sg_lm_state_zero(&s->st);
    double total = 0;
    size_t count = 0, Tk;
    sg_graph_set_grad_enabled(s->g, false);
    while ((Tk = sg_lm_session_next(s, &it)) > 0) {
        sg_graph_reset(s->g);
        double nll;
        if (!sg_lm_forward(s->g, &s->m, s->x, s->y, Tk, s->b, &s->st, NULL, &nll)) {
            sg_cli_error("%s", sg_graph_error(s->g));
            sg_graph_set_grad_enabled(s->g, true);
            return false;
        }
        total += nll;
        count += Tk * s->b;
    }
    sg_graph_set_grad_enabled(s->g, true);
    double sums[2] = {total, (double)count};
    if (d && d->size > 1 && sg_cli_dist_sum(d, sums, 2) != SG_EXIT_OK)
        return false;
    *ppl = exp(sums[0] / sums[1]);
    return true;
}

/* What a resume would silently ignore or get wrong is refused: a flag that
 * contradicts the checkpoint (optimizer, rate, window), an epoch at or past
 * --epochs, another vocabulary.  Returns an exit code. */
static int sg_lm_resume_check(const sg_lm_opts *o, const sg_checkpoint *ck, const sg_vocab *data_vocab)
{
    const char *path = o->resume;
    bool ck_adam = ck->optim.kind == SG_OPTIM_ADAM;
    if (o->optim_given && o->adam != ck_adam) {
        sg_cli_error("--optim %s contradicts the checkpoint '%s', which trains with %s: drop --optim to resume, or "
                     "start a new run",
                     o->adam ? "adam" : "sgd", path, ck_adam ? "adam" : "sgd");
        return SG_EXIT_USAGE;
    }
    if (o->lr_given && o->lr != ck->optim.base_lr) {
        sg_cli_error("--lr %g contradicts the checkpoint '%s' (its rate is %g, scheduled from %g): drop --lr to "
                     "resume",
                     o->lr, path, sg_optim_lr(&ck->optim), ck->optim.base_lr);
        return SG_EXIT_USAGE;
    }
    const char *kb = sg_checkpoint_get_string(ck, "lm.bptt"), *kn = sg_checkpoint_get_string(ck, "lm.batch");
    uint64_t cb, cn;
    if (kb && sg_parse_u64(kb, &cb) && o->bptt != cb) {
        sg_cli_error("--bptt %zu contradicts the checkpoint '%s' (trained with --bptt %s)%s", o->bptt, path, kb,
                     o->bptt_given ? "" : ": give --bptt to match it");
        return SG_EXIT_USAGE;
    }
    if (kn && sg_parse_u64(kn, &cn) && o->batch != cn) {
        sg_cli_error("--batch %zu contradicts the checkpoint '%s' (trained with --batch %s)%s", o->batch, path, kn,
                     o->batch_given ? "" : ": give --batch to match it");
        return SG_EXIT_USAGE;
    }
    if (ck->epoch >= o->epochs) {
        sg_cli_error("the checkpoint '%s' is after epoch %llu, and --epochs is %zu: nothing is left to train", path,
                     (unsigned long long)ck->epoch, o->epochs);
        return SG_EXIT_USAGE;
    }
    sg_lm_config cfg;
    sg_vocab *v = NULL;
    char err[4096];
    if (sg_lm_checkpoint_config(ck, &cfg, &v, err, sizeof err) == SG_OK) {
        int32_t diff = sg_vocab_first_difference(data_vocab, v);
        sg_vocab_free(v);
        if (diff >= 0) {
            sg_cli_error("the data in '%s' is not what '%s' was trained on (the vocabularies differ at id %d)", o->data,
                         path, diff);
            return SG_EXIT_INPUT;
        }
    }
    return SG_EXIT_OK;
}

/* Everything that can be checked before an epoch of work: the checkpoint
 * and log can be written, the held-out splits fit the batch.  Returns an exit
 * code. */
static int sg_lm_preflight(const sg_lm_opts *o, const sg_text_corpus *c)
{
    char err[4096];
    if (o->save) {
        if (!o->epochs) {
            sg_cli_error("--epochs 0 trains nothing: there is nothing to save in '%s'", o->save);
            return SG_EXIT_USAGE;
        }
        /* the model's description, as the save will write it (the vocabulary must be UTF-8) */
        sg_checkpoint probe;
        sg_checkpoint_init(&probe);
        sg_lm_config cfg = o->model;
        cfg.vocab = sg_vocab_size(c->vocab);
        sg_status st = sg_lm_ck_describe(&probe, o, &cfg, c->vocab, err, sizeof err);
        sg_checkpoint_free(&probe);
        if (st != SG_OK) {
            sg_cli_error("'%s': %s; --save is refused before training", c->path[SG_TEXT_TRAIN],
                         err[0] ? err : sg_status_str(st));
            return sg_cli_exit_for(st);
        }
        if (!sg_cli_can_write(o->save, "checkpoint"))
            return SG_EXIT_FAIL;
    }
    if (o->log && !sg_cli_can_append(o->log))
        return SG_EXIT_FAIL;
    static const char *const names[] = {"validation", "test"};
    for (int k = 0; k < 2; k++) {
        sg_text_batcher it;
        const sg_tokens *t = &c->split[k == 0 ? SG_TEXT_VALID : SG_TEXT_TEST];
        if (sg_text_batcher_init(&it, t->ids, t->n, o->batch, o->bptt, false, err, sizeof err) != SG_OK) {
            sg_cli_error("the %s split (%s) is too short for --batch %zu: %s", names[k], c->path[k + 1], o->batch, err);
            return SG_EXIT_INPUT;
        }
    }
    return SG_EXIT_OK;
}

/* --resume: the run's cell is the checkpoint's.  A cell file or plugin is
 * taken from the checkpoint when --cell is not given (and must be the same
 * text when it is); a built-in cell must be the one --cell names.  Returns
 * an exit code. */
static int sg_lm_resume_cell(sg_lm_opts *o)
{
    sg_checkpoint meta;
    sg_checkpoint_init(&meta);
    char err[4096];
    sg_status st = sg_checkpoint_read_meta(o->resume, &meta, err, sizeof err);
    if (st != SG_OK) {
        sg_cli_error("cannot resume: %s", err);
        return sg_cli_exit_for(st);
    }
    const char *kc = sg_checkpoint_get_string(&meta, "lm.cell");
    int rc = SG_EXIT_OK;
    if (kc && strcmp(kc, "custom") == 0) {
        const char *name = sg_checkpoint_get_string(&meta, "cell.name");
        if (o->cell_given && !o->cellfile) {
            sg_cli_error("--cell %s contradicts the checkpoint '%s', which was trained with the cell %s: drop --cell "
                         "to resume",
                         sg_cell_kind_name(o->model.kind), o->resume, name ? name : "of its own");
            rc = SG_EXIT_USAGE;
        } else if ((rc = sg_cli_cell_resume(&meta, o->resume, &o->cellfile)) == SG_EXIT_OK) {
            o->model.kind = SG_CELL_CUSTOM;
            if (!sg_cli_bind_cell(SG_CELL_CUSTOM, o->cellfile, o->resume, &o->model.make, &o->model.make_ctx))
                rc = SG_EXIT_INPUT; /* the checkpoint says custom and holds no cell */
        }
    } else if (kc && o->cellfile) {
        rc = sg_cli_cell_resume(&meta, o->resume, &o->cellfile);
    } else if (kc && strcmp(kc, sg_cell_kind_name(o->model.kind)) != 0) {
        sg_cli_error("--cell %s contradicts the checkpoint '%s' (trained with --cell %s)%s",
                     sg_cell_kind_name(o->model.kind), o->resume, kc, o->cell_given ? "" : ": give --cell to match it");
        rc = SG_EXIT_USAGE;
    }
    sg_checkpoint_free(&meta);
    return rc;
}

/* The dropout stream of a step of a data-parallel run: per rank and step,
 * from the run's generator (the same on every rank, and not drawn from
 * while ranks share the batch, so a checkpoint's state is every rank's). */
static void sg_lm_step_rng(sg_rng *out, const sg_rng *run, size_t rank, uint64_t step)
{
    sg_rng_seed(out, run->s[0] ^ (step + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)(rank + 1) * 0xD1B54A32D192ED03ull);
}

int sg_cmd_train_lm(sg_cli_args *a)
{
    sg_lm_opts o;
    sg_cli_dist d;
    if (!sg_lm_parse(a, &o, true)) {
        sg_lm_opts_free(&o);
        return o.parse_rc ? o.parse_rc : SG_EXIT_USAGE;
    }
    int rc = sg_cli_dist_open(a, &d);
    if (rc == SG_EXIT_OK && !sg_cli_check_all_used(a))
        rc = SG_EXIT_USAGE;
    if (rc == SG_EXIT_OK && o.batch < d.size) {
        sg_cli_error("--batch %zu cannot be shared by %zu ranks (each needs a row at least)", o.batch, d.size);
        rc = SG_EXIT_USAGE;
    }
    if (rc == SG_EXIT_OK)
        rc = sg_cli_set_threads(o.threads);
    if (rc == SG_EXIT_OK && o.resume)
        rc = sg_lm_resume_cell(&o);
    if (d.rank != 0) /* rank 0 alone writes */
        o.save = o.log = NULL;
    char err[4096];
    sg_text_corpus corpus;
    bool corpus_ready = false;
    if (rc == SG_EXIT_OK) {
        if (sg_text_corpus_load(&corpus, o.data, o.min_count, err, sizeof err) == SG_OK)
            corpus_ready = true;
        else {
            sg_cli_error("%s", err);
            rc = SG_EXIT_INPUT;
        }
    }
    if (rc == SG_EXIT_OK)
        rc = sg_lm_preflight(&o, &corpus);
    sg_lm_session s = {0};
    sg_checkpoint ck;
    sg_checkpoint_init(&ck);
    if (!sg_cli_dist_agree(&d, &rc)) /* every rank read its data, or every rank stops */
        goto done;
    size_t V = sg_vocab_size(corpus.vocab), lo, b;
    sg_cli_dist_rows(&d, o.batch, &lo, &b);
    rc = SG_EXIT_FAIL;
    sg_optim opt;
    sg_rng rng, step_rng;
    size_t start_epoch = 1;
    if (!sg_lm_session_init(&s, &o, V, b, o.bptt) || (d.size > 1 && !sg_lm_session_share(&s, o.batch, lo, b, o.bptt)))
        goto agree;
    sg_rng_seed(&rng, o.seed);
    if (sg_lm_reset_parameters(&s.m, s.ps, &rng, o.init, o.forget_bias) != SG_OK) {
        sg_cli_error("bad --init range");
        goto agree;
    }
    sg_adam_config ac = sg_adam_defaults();
    sg_sgd_config sc = sg_sgd_defaults();
    ac.lr = sc.lr = o.lr;
    if ((o.adam ? sg_optim_init_adam(&opt, &ac) : sg_optim_init_sgd(&opt, &sc)) != SG_OK) {
        sg_cli_error("the optimizer refuses --lr %g", o.lr);
        goto agree;
    }
    if (sg_optim_set_schedule(&opt, o.decay, (int)o.decay_start) != SG_OK) {
        sg_cli_error("bad learning-rate schedule");
        goto agree;
    }
    if (o.resume) {
        sg_status lst = sg_checkpoint_load(o.resume, s.ps, &ck, err, sizeof err);
        if (lst != SG_OK) {
            sg_cli_error("cannot resume: %s", err);
            rc = sg_cli_exit_for(lst);
            goto agree;
        }
        if (!ck.has_optim || !ck.has_rng) {
            sg_cli_error("checkpoint '%s' has no optimizer or RNG state to resume from", o.resume);
            rc = SG_EXIT_INPUT;
            goto agree;
        }
        if ((rc = sg_lm_resume_check(&o, &ck, corpus.vocab)) != SG_EXIT_OK ||
            (rc = sg_cli_dist_resume_ranks(&d, &ck, o.resume, o.reshard)) != SG_EXIT_OK)
            goto agree;
        rc = SG_EXIT_FAIL;
        opt = ck.optim;
        rng = ck.rng;
        start_epoch = (size_t)ck.epoch + 1;
        printf("resumed from %s after epoch %zu: %s lr %g from the checkpoint\n", o.resume, (size_t)ck.epoch,
               opt.kind == SG_OPTIM_ADAM ? "Adam" : "SGD", sg_optim_lr(&opt));
        o.adam = opt.kind == SG_OPTIM_ADAM;
        o.lr = opt.base_lr;
    }
    rc = SG_EXIT_OK;
agree:
    if (!sg_cli_dist_agree(&d, &rc) || (rc = sg_cli_dist_bind(&d, s.ps)) != SG_EXIT_OK)
        goto done;
    rc = SG_EXIT_FAIL;
    printf("language model: %s, %zu layers x %zu units, vocabulary %zu, %zu parameters\n", sg_lm_cell_label(&o),
           o.model.layers, o.model.hidden, V, sg_params_numel(s.ps));
    printf("data: %s (%zu / %zu / %zu tokens); batch %zu, bptt %zu, %s lr %g, clip %g, dropout %g, %zu threads\n",
           o.data, corpus.split[SG_TEXT_TRAIN].n, corpus.split[SG_TEXT_VALID].n, corpus.split[SG_TEXT_TEST].n, o.batch,
           o.bptt, o.adam ? "Adam" : "SGD", o.lr, o.clip, o.dropout, o.threads);
    char share_text[64];
    snprintf(share_text, sizeof share_text, "%zu rows each (at most)", b);
    sg_cli_dist_print_setup(&d, share_text);
    fflush(stdout);

    sg_text_batcher it;
    if (sg_text_batcher_init(&it, corpus.split[SG_TEXT_TRAIN].ids, corpus.split[SG_TEXT_TRAIN].n, o.batch, o.bptt, true,
                             err, sizeof err) != SG_OK) {
        sg_cli_error("training data: %s", err);
        goto done;
    }
    size_t n_windows = it.n_windows;
    if (o.max_windows && o.max_windows < n_windows)
        n_windows = o.max_windows;
    sg_lm_run run = {.training = true, .dropout = o.dropout, .rng = d.size > 1 ? &step_rng : &rng};
    float share = (float)((double)b / (double)o.batch); /* this rank's part of the global batch's loss */
    double valid_ppl = 0;
    for (size_t epoch = start_epoch; epoch <= o.epochs; epoch++) {
        if (sg_optim_set_epoch(&opt, (int)epoch) != SG_OK) {
            sg_cli_error("bad learning-rate schedule at epoch %zu", epoch);
            goto done;
        }
        sg_text_batcher_rewind(&it);
        sg_lm_state_zero(&s.st);
        char label[64];
        snprintf(label, sizeof label, "epoch %2zu/%zu", epoch, o.epochs);
        sg_cli_progress bar;
        sg_cli_progress_init(&bar, label, n_windows);
        double total = 0;
        size_t count = 0;
        for (size_t w = 0; w < n_windows; w++) {
            size_t Tk = sg_lm_session_next(&s, &it);
            sg_graph_reset(s.g);
            sg_params_zero_grad(s.ps);
            if (d.size > 1)
                sg_lm_step_rng(&step_rng, &rng, d.rank, (uint64_t)(epoch - 1) * n_windows + w);
            if ((rc = sg_cli_dist_step_begin(&d, s.g)) != SG_EXIT_OK)
                goto done;
            rc = SG_EXIT_FAIL;
            double nll = 0;
            sg_tensor *loss = sg_lm_forward(s.g, &s.m, s.x, s.y, Tk, b, &s.st, &run, &nll);
            if (!loss || sg_backward_seed(s.g, loss, &share) != SG_OK) {
                sg_cli_progress_end(&bar);
                sg_cli_error("epoch %zu window %zu: %s", epoch, w, sg_graph_error(s.g));
                goto done;
            }
            double sums[1] = {nll}; /* the window's loss over all rows */
            if ((rc = sg_cli_dist_step_end(&d, s.ps, sums, 1)) != SG_EXIT_OK)
                goto done;
            rc = SG_EXIT_FAIL;
            nll = sums[0];
            if (!isfinite(nll)) {
                sg_cli_progress_end(&bar);
                if (d.rank == 0)
                    sg_cli_error("epoch %zu window %zu: the loss is %g; training stops (the last checkpoint, if any, "
                                 "is kept; try a smaller --lr or --init)",
                                 epoch, w, nll);
                d.agreed = true; /* every rank saw the same sum */
                goto done;
            }
            if (o.clip > 0)
                sg_params_clip_grad_norm(s.ps, o.clip);
            if (sg_optim_step(&opt, s.ps) != SG_OK) {
                sg_cli_progress_end(&bar);
                sg_cli_error("optimizer step failed");
                goto done;
            }
            total += nll;
            count += Tk * o.batch;
            double mean = total / (double)count;
            sg_cli_progress_update(&bar, w + 1, "loss %.3f  ppl %7.2f  %6.0f tok/s", mean, exp(mean),
                                   (double)count / (sg_cli_now() - bar.t0));
        }
        double secs = sg_cli_now() - bar.t0, train_ppl = exp(total / (double)count), tps = (double)count / secs;
        sg_cli_progress_end(&bar);
        if (!sg_lm_evaluate(&s, &corpus.split[SG_TEXT_VALID], o.batch, o.bptt, &d, &valid_ppl))
            goto done;
        printf("epoch %zu: lr %g  train ppl %.2f  valid ppl %.2f  %.0f tok/s  %.0f s\n", epoch, sg_optim_lr(&opt),
               train_ppl, valid_ppl, tps, secs);
        if (d.sync) {
            double th, te;
            sg_grad_sync_seconds(d.sync, &th, &te);
            printf("data-parallel: %zu of %zu gradient buckets reduced during backward; per step %.2f ms in the "
                   "backward hook, %.2f ms after backward (rank 0, averaged over the run)\n",
                   sg_grad_sync_overlapped(d.sync), sg_grad_sync_buckets(d.sync), 1e3 * th / (double)d.step,
                   1e3 * te / (double)d.step);
        }
        fflush(stdout);
        sg_cli_log_field row[] = {{"epoch", (double)epoch}, {"train_ppl", train_ppl},  {"valid_ppl", valid_ppl},
                                  {"tokens_per_s", tps},    {"lr", sg_optim_lr(&opt)}, {"seconds", secs}};
        int wrc = SG_EXIT_OK;
        if (o.log && !sg_cli_log_append(o.log, row, sizeof row / sizeof row[0]))
            wrc = SG_EXIT_FAIL;
        if (o.save && wrc == SG_EXIT_OK) {
            sg_checkpoint_free(&ck);
            sg_checkpoint_init(&ck);
            ck.has_optim = true;
            ck.optim = opt;
            ck.has_rng = true;
            ck.rng = rng;
            ck.epoch = epoch;
            ck.step = epoch * n_windows;
            if (!sg_lm_ck_put(&ck, &o, &s.m.cfg, corpus.vocab))
                wrc = SG_EXIT_FAIL;
            else if (sg_cli_dist_ranks_store(&ck, d.size) != SG_OK) {
                sg_cli_error("out of memory");
                wrc = SG_EXIT_FAIL;
            } else if (sg_checkpoint_save(o.save, s.ps, &ck, err, sizeof err) != SG_OK) {
                sg_cli_error("%s", err);
                wrc = SG_EXIT_FAIL;
            }
        }
        if (!sg_cli_dist_agree(&d, &wrc)) { /* rank 0's log and save */
            rc = wrc;
            goto done;
        }
    }
    double test_ppl;
    if (!sg_lm_evaluate(&s, &corpus.split[SG_TEXT_TEST], o.batch, o.bptt, &d, &test_ppl))
        goto done;
    if (start_epoch <= o.epochs)
        printf("test perplexity %.2f (valid %.2f)\n", test_ppl, valid_ppl);
    else
        printf("test perplexity %.2f (no epoch trained)\n", test_ppl);
    if (o.save)
        printf("checkpoint: %s\n", o.save);
    rc = 0;
done:
    sg_checkpoint_free(&ck);
    sg_lm_session_free(&s);
    if (corpus_ready)
        sg_text_corpus_free(&corpus);
    sg_lm_opts_free(&o);
    return sg_cli_dist_close(&d, rc);
}

/* Loads a checkpoint's model (settings, vocabulary, parameters) with
 * sg_lm_load into the session s (zeroed).  Returns SG_EXIT_OK, or the exit
 * code after a message. */
static int sg_lm_load_model(const char *path, sg_lm_opts *o, sg_vocab **vocab, sg_lm_session *s, size_t batch,
                            size_t bptt)
{
    char err[4096];
    sg_checkpoint meta;
    sg_checkpoint_init(&meta);
    sg_status st = sg_checkpoint_read_meta(path, &meta, err, sizeof err);
    if (st) {
        sg_cli_error("%s", err);
        return sg_cli_exit_for(st);
    }
    int crc = sg_cli_cell_restore(&meta, path, &s->cell);
    sg_checkpoint_free(&meta);
    if (crc != SG_EXIT_OK)
        return crc;
    st = sg_lm_load_cell(path, SG_F32, s->cell ? sg_cellfile_make : NULL, s->cell, &s->m, &s->ps, vocab, NULL, err,
                         sizeof err);
    if (st) {
        sg_cli_error("%s", err); /* the message names the file */
        return sg_cli_exit_for(st);
    }
    s->m_ready = true;
    o->model = s->m.cfg;
    return sg_lm_session_buffers(s, batch, bptt) ? SG_EXIT_OK : SG_EXIT_FAIL;
}

/* The options of a command that takes its model from a checkpoint (eval,
 * generate): the checkpoint says the cell (a built-in one, or the cell file
 * or plugin it holds), so --cell is refused.  Returns an exit code. */
static int sg_lm_parse_for_checkpoint(sg_cli_args *a, sg_lm_opts *o)
{
    bool parsed = sg_lm_parse(a, o, false);
    if (parsed && o->cell_given) {
        sg_cli_error("--cell: the checkpoint says which cell the model has (a cell file travels inside it)");
        parsed = false;
    }
    sg_lm_opts_free(o);
    return parsed ? SG_EXIT_OK : o->parse_rc ? o->parse_rc : SG_EXIT_USAGE;
}

int sg_cmd_eval_lm(sg_cli_args *a)
{
    sg_lm_opts o;
    int prc = sg_lm_parse_for_checkpoint(a, &o);
    if (prc != SG_EXIT_OK)
        return prc;
    const char *split = sg_cli_opt(a, "split");
    if (!sg_cli_check_all_used(a))
        return 2;
    if (!o.load || !o.data) {
        sg_cli_error("usage: seqgrad eval --load CKPT --data DIR [--split valid|test]");
        return 2;
    }
    int which = !split || strcmp(split, "test") == 0 ? SG_TEXT_TEST : strcmp(split, "valid") == 0 ? SG_TEXT_VALID : -1;
    if (which < 0) {
        sg_cli_error("--split must be valid or test");
        return 2;
    }
    int trc = sg_cli_set_threads(o.threads);
    if (trc != SG_EXIT_OK)
        return trc;
    sg_vocab *vocab = NULL;
    sg_lm_session s = {0};
    int rc = 1;
    char err[4096];
    sg_text_corpus corpus;
    memset(&corpus, 0, sizeof corpus);
    if ((rc = sg_lm_load_model(o.load, &o, &vocab, &s, o.batch, o.bptt)) != SG_EXIT_OK)
        goto done;
    rc = SG_EXIT_FAIL; /* until the end is reached */
    /* The checkpoint's vocabulary must match the data's (same training file). */
    if (sg_text_corpus_load(&corpus, o.data, o.min_count, err, sizeof err) != SG_OK) {
        sg_cli_error("%s", err);
        rc = SG_EXIT_INPUT;
        goto done;
    }
    int32_t diff = sg_vocab_first_difference(corpus.vocab, vocab);
    if (diff >= 0) {
        sg_cli_error("the data in '%s' is not what the checkpoint was trained on: its vocabulary (%zu words) differs "
                     "from the checkpoint's (%zu) at id %d ('%s' vs '%s')",
                     o.data, sg_vocab_size(corpus.vocab), sg_vocab_size(vocab), diff,
                     sg_vocab_word(corpus.vocab, diff) ? sg_vocab_word(corpus.vocab, diff) : "-",
                     sg_vocab_word(vocab, diff) ? sg_vocab_word(vocab, diff) : "-");
        rc = SG_EXIT_INPUT;
        goto done;
    }
    double ppl;
    if (!sg_lm_evaluate(&s, &corpus.split[which], o.batch, o.bptt, NULL, &ppl))
        goto done;
    printf("%s perplexity %.2f (%zu tokens)\n", which == SG_TEXT_TEST ? "test" : "valid", ppl, corpus.split[which].n);
    rc = 0;
done:
    sg_text_corpus_free(&corpus);
    sg_vocab_free(vocab);
    sg_lm_session_free(&s);
    return rc;
}

int sg_cmd_generate_lm(sg_cli_args *a)
{
    sg_lm_opts o;
    int prc = sg_lm_parse_for_checkpoint(a, &o);
    if (prc != SG_EXIT_OK)
        return prc;
    size_t n_words;
    double temperature;
    const char *prime = sg_cli_opt(a, "prime");
    bool greedy = sg_cli_flag(a, "greedy");
    if (!sg_cli_opt_size_in(a, "words", 50, 0, 10000000, &n_words) ||
        !sg_cli_opt_double_in(a, "temperature", 1.0, 0, 1e6, false, &temperature) || !sg_cli_check_all_used(a))
        return 2;
    if (!o.load) {
        sg_cli_error(
            "usage: seqgrad generate --load CKPT [--words N] [--temperature T | --greedy] [--prime \"words\"]");
        return 2;
    }
    if (greedy)
        temperature = 0;
    sg_vocab *vocab = NULL;
    sg_lm_session s = {0};
    int rc = sg_lm_load_model(o.load, &o, &vocab, &s, 1, 1);
    if (rc != SG_EXIT_OK)
        goto done;
    rc = SG_EXIT_FAIL; /* until the end is reached */
    sg_rng rng;
    sg_rng_seed(&rng, o.seed);
    sg_lm_state_zero(&s.st);
    sg_graph_set_grad_enabled(s.g, false);
    size_t V = sg_vocab_size(vocab);
    double *logits = sg_malloc(V * sizeof *logits);
    if (!logits) {
        sg_cli_error("out of memory");
        goto done;
    }
    /* feed "<eos>" then the prime words; then sample */
    int32_t cur = (int32_t)sg_vocab_eos(vocab);
    char *pbuf = prime ? sg_malloc(strlen(prime) + 1) : NULL;
    if (prime && pbuf)
        strcpy(pbuf, prime);
    char *save = NULL;
    static const char blanks[] = " \t\r\n\v\f"; /* as the corpus is split */
    char *word = pbuf ? strtok_r(pbuf, blanks, &save) : NULL;
    bool ok = true;
    for (size_t k = 0; ok && k < n_words;) {
        sg_graph_reset(s.g);
        sg_tensor *l = sg_lm_forward(s.g, &s.m, &cur, NULL, 1, 1, &s.st, NULL, NULL);
        if (!l) {
            sg_cli_error("%s", sg_graph_error(s.g));
            ok = false;
            break;
        }
        if (word) { /* still priming: the next input is the prime word */
            cur = sg_vocab_lookup(vocab, word);
            printf("%s ", sg_vocab_word(vocab, cur));
            word = strtok_r(NULL, blanks, &save);
            continue;
        }
        sg_tensor_copy_out_f64(l, logits);
        size_t id;
        bool finite = true;
        for (size_t i = 0; i < V && finite; i++)
            finite = !isnan(logits[i]) && logits[i] != INFINITY;
        if (!finite) {
            sg_cli_error("the model's scores are not finite (the checkpoint's weights hold NaN or infinity)");
            ok = false;
            break;
        }
        if (sg_sample_logits(logits, V, temperature, &rng, &id) != SG_OK) {
            sg_cli_error("sampling failed at temperature %g", temperature);
            ok = false;
            break;
        }
        cur = (int32_t)id;
        const char *w = sg_vocab_word(vocab, cur);
        printf("%s", strcmp(w, "<eos>") == 0 ? "\n" : w);
        if (strcmp(w, "<eos>") != 0)
            printf(" ");
        k++;
    }
    printf("\n");
    sg_free(pbuf);
    sg_free(logits);
    rc = ok ? 0 : 1;
done:
    sg_vocab_free(vocab);
    sg_lm_session_free(&s);
    return rc;
}

/* ---- graph lm / gradcheck lm: a small synthetic-vocabulary model --------- */

/* Builds an LM of the options' shape over V words on g (dtype of ps) and one
 * window of T x B ids; returns the loss.  Ids are a fixed pattern. */
typedef struct sg_lm_probe {
    sg_cellfile *cellfile; /* owned: the cell file the model's cells borrow */
    sg_lm *m;
    sg_lm_state *st;
    int32_t *x, *y;
    size_t T, B;
} sg_lm_probe;

static sg_tensor *sg_lm_probe_loss(sg_graph *g, void *ctx)
{
    sg_lm_probe *p = ctx;
    sg_lm_state_zero(p->st);
    return sg_lm_forward(g, p->m, p->x, p->y, p->T, p->B, p->st, NULL, NULL);
}

static bool sg_lm_probe_init(sg_lm_probe *p, sg_lm_opts *o, sg_params *ps, size_t V, size_t B)
{
    sg_lm_config cfg = o->model;
    cfg.vocab = V;
    p->T = o->bptt;
    p->B = B;
    p->m = sg_calloc(1, sizeof *p->m);
    p->st = sg_calloc(1, sizeof *p->st);
    p->x = sg_malloc(p->T * B * sizeof *p->x);
    p->y = sg_malloc(p->T * B * sizeof *p->y);
    if (!p->m || !p->st || !p->x || !p->y || sg_lm_init(p->m, ps, &cfg) != SG_OK ||
        sg_lm_state_init(p->st, p->m, B) != SG_OK) {
        sg_cli_error("could not build the model");
        return false;
    }
    for (size_t i = 0; i < p->T * B; i++) {
        p->x[i] = (int32_t)((i * 7 + 3) % V);
        p->y[i] = (int32_t)((i * 7 + 10) % V);
    }
    sg_rng rng;
    sg_rng_seed(&rng, o->seed);
    return sg_lm_reset_parameters(p->m, ps, &rng, o->init > 0 ? o->init : 0.1, o->forget_bias) == SG_OK;
}

static void sg_lm_probe_free(sg_lm_probe *p)
{
    if (p->m)
        sg_lm_free(p->m);
    sg_cellfile_free(p->cellfile);
    if (p->st)
        sg_lm_state_free(p->st);
    sg_free(p->m);
    sg_free(p->st);
    sg_free(p->x);
    sg_free(p->y);
}

static void sg_lm_probe_free_self(void *self)
{
    sg_lm_probe_free(self);
    sg_free(self);
}

int sg_task_lm_probe(sg_cli_args *a, sg_dtype dtype, bool for_check, sg_cli_probe *out)
{
    memset(out, 0, sizeof *out);
    sg_lm_opts o;
    size_t V, B;
    /* a check defaults to a smaller vocabulary and two streams */
    if (!sg_lm_parse(a, &o, false) || !sg_cli_opt_size_in(a, "vocab", for_check ? 11 : 50, 1, 1000000, &V) ||
        !sg_cli_opt_size_in(a, "graph-batch", for_check ? 2 : 1, 1, 100000, &B)) {
        sg_lm_opts_free(&o);
        return o.parse_rc ? o.parse_rc : SG_EXIT_USAGE;
    }
    V = V ? V : 1;
    B = B ? B : 1;
    sg_lm_probe *p = sg_calloc(1, sizeof *p);
    sg_params *ps = sg_params_new(dtype);
    if (p) {
        p->cellfile = o.cellfile; /* the probe owns it now */
        o.cellfile = NULL;
    }
    sg_lm_opts_free(&o);
    if (!p || !ps || !sg_lm_probe_init(p, &o, ps, V, B)) {
        if (p)
            sg_lm_probe_free_self(p);
        sg_params_free(ps);
        return SG_EXIT_FAIL;
    }
    *out = (sg_cli_probe){
        .ps = ps, .owns_ps = true, .self = p, .loss = sg_lm_probe_loss, .free_self = sg_lm_probe_free_self};
    const char *kind = p->cellfile ? sg_cellfile_name(p->cellfile) : sg_cell_kind_name(o.model.kind);
    snprintf(out->title, sizeof out->title, "%zu-layer %s language model, %zu units, unrolled over %zu steps",
             o.model.layers, kind, o.model.hidden, o.bptt);
    snprintf(out->describe, sizeof out->describe,
             "a %zu-layer %s language model (f64, V %zu, H %zu, T %zu, B %zu, %zu parameters)", o.model.layers, kind, V,
             o.model.hidden, o.bptt, B, sg_params_numel(ps));
    return SG_EXIT_OK;
}
