/* sg_cmd_word2vec.c — `seqgrad train word2vec` (skip-gram or CBOW with
 * negative sampling, plain SGD at word2vec.c's linearly decaying rate, the
 * vectors written in the word2vec text or binary format), `seqgrad similar`
 * (cosine neighbours of a word) and `seqgrad analogy` (the questions-words
 * test), and the task's probe for gradcheck and graph.
 *
 * Training runs on --threads data-parallel workers, each with its shard of
 * the text, its rng, its graph and its replica's gradients; every batch is
 * one tape, and the updates of a step (one batch per worker) are applied
 * after all of them, in an order fixed by the thread count (not example by
 * example, Hogwild-style, as in word2vec.c), so a seed and a thread count
 * give the same vectors every time. */
#include "frontends/cli/sg_cli_progress.h"
#include "frontends/cli/sg_cli_task.h"

#include "graph/core/sg_alloc.h"
#include "graph/format/sg_checkpoint.h"
#include "graph/optim/sg_optim.h"
#include "graph/util/sg_util.h"
#include "models/word2vec/sg_w2v_vectors.h"
#include "models/word2vec/sg_word2vec.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The example options every word2vec command reads. */
static bool sg_w2v_parse_opts(sg_cli_args *a, sg_w2v_opts *o, size_t *dim, bool with_sample)
{
    *o = sg_w2v_opts_defaults();
    const char *arch = sg_cli_opt(a, "arch");
    if (!sg_cli_opt_size_in(a, "dim", 100, 1, 10000, dim) ||
        !sg_cli_opt_size_in(a, "window", o->window, 1, 1000, &o->window) ||
        !sg_cli_opt_size_in(a, "negative", o->negative, 1, 1000, &o->negative) ||
        (with_sample && !sg_cli_opt_double_in(a, "sample", o->sample, 0, 1, false, &o->sample)) ||
        !sg_cli_opt_size_in(a, "batch", o->batch, 1, 1u << 20, &o->batch) ||
        !sg_cli_opt_size_in(a, "iter", o->iters, 1, 100000, &o->iters))
        return false;
    if (arch && strcmp(arch, "skipgram") != 0 && strcmp(arch, "cbow") != 0) {
        sg_cli_error("--arch must be skipgram or cbow, not '%s'", arch);
        return false;
    }
    o->arch = arch && strcmp(arch, "cbow") == 0 ? SG_W2V_CBOW : SG_W2V_SKIPGRAM;
    return true;
}

/* The run as a safetensors checkpoint: both tables ("w2v.in", "w2v.out"),
 * task "word2vec", the settings as strings and the vocabulary as a JSON
 * array in id order. */
static bool sg_w2v_save_checkpoint(const char *path, const sg_params *ps, const sg_vocab *v, const sg_w2v_opts *o,
                                   size_t dim, size_t min_count, double lr)
{
    char *vj = sg_cli_vocab_json(v);
    sg_checkpoint ck;
    sg_checkpoint_init(&ck);
    char num[6][SG_FMT_DOUBLE_CAP];
    snprintf(num[0], sizeof num[0], "%zu", dim);
    snprintf(num[1], sizeof num[1], "%zu", o->window);
    snprintf(num[2], sizeof num[2], "%zu", o->negative);
    sg_fmt_double(num[3], o->sample);
    snprintf(num[4], sizeof num[4], "%zu", min_count);
    sg_fmt_double(num[5], lr);
    const char *kv[][2] = {{"task", "word2vec"},
                           {"word2vec.arch", o->arch == SG_W2V_CBOW ? "cbow" : "skipgram"},
                           {"word2vec.dim", num[0]},
                           {"word2vec.window", num[1]},
                           {"word2vec.negative", num[2]},
                           {"word2vec.sample", num[3]},
                           {"word2vec.min-count", num[4]},
                           {"word2vec.lr", num[5]},
                           {"word2vec.vocab", vj ? vj : ""}};
    sg_status st = vj ? SG_OK : SG_ERR_NOMEM;
    for (size_t i = 0; st == SG_OK && i < sizeof kv / sizeof kv[0]; i++)
        st = sg_checkpoint_set_string(&ck, kv[i][0], kv[i][1]);
    char err[4096] = "out of memory describing the run";
    if (st == SG_OK)
        st = sg_checkpoint_save(path, ps, &ck, err, sizeof err);
    if (st != SG_OK)
        sg_cli_error("%s", err);
    cJSON_free(vj);
    sg_checkpoint_free(&ck);
    return st == SG_OK;
}

/* ---- data-parallel training ---------------------------------------------------------- */

/* A barrier for the T workers that spins before it sleeps: a step is a few
 * hundred microseconds, and waking a thread from a futex (pthread_barrier)
 * costs tens of them.  Sense-reversing: the last arrival resets the count
 * and flips the phase; the others wait for the flip, spinning a while, then
 * yielding the core (more workers than cores must not starve the one they
 * wait for).  The atomics order every write before the barrier before every
 * read after it, as pthread_barrier_wait does. */
typedef struct sg_w2v_barrier {
    atomic_size_t arrived;
    atomic_uint phase;
    size_t n;
} sg_w2v_barrier;

static void sg_w2v_barrier_init(sg_w2v_barrier *b, size_t n)
{
    atomic_init(&b->arrived, 0);
    atomic_init(&b->phase, 0);
    b->n = n;
}

static void sg_w2v_barrier_wait(sg_w2v_barrier *b)
{
    unsigned phase = atomic_load(&b->phase);
    if (atomic_fetch_add(&b->arrived, 1) + 1 == b->n) {
        atomic_store(&b->arrived, 0);
        atomic_store(&b->phase, phase + 1);
        return;
    }
    for (unsigned spins = 0; atomic_load(&b->phase) == phase; spins++)
        if (spins >= 2000)
            sched_yield();
}

/* One of --threads workers: its shard of the text (sg_w2v_batcher_shard),
 * its rng, its graph and its replica of the parameters (sg_params_replica:
 * the master's values, its own gradients). */
typedef struct sg_w2v_worker {
    size_t t;
    struct sg_w2v_run *run;
    sg_graph *g;
    sg_params *ps; /* replica of run->master */
    sg_word2vec m; /* in/out are ps's */
    sg_w2v_batcher it;
    sg_rng rng;
    sg_w2v_batch b;
    bool has_batch, ok, apply_failed;
    double loss;
    char err[512];
    pthread_t thread;
    bool started;
} sg_w2v_worker;

/* What every worker shares.  A step: each worker draws its next batch and
 * runs forward and backward into its replica's gradients (all at once);
 * barrier; T phases in which each worker applies its own replica's update
 * to one part of the rows, part t + p in phase p, a barrier between phases
 * (sg_sgd_apply_replica: every part gets every replica once, in an order
 * fixed by T; each worker reads only the gradients it just made, in its own
 * cache: applying every replica's update to rows t mod T instead read the
 * other workers' gradients and was 3-4x slower); worker 0 reports; barrier.
 * So T workers make one update of T batches computed at the same values,
 * and a seed and a thread count give the same vectors every time. */
typedef struct sg_w2v_run {
    size_t T;
    sg_w2v_worker *w;  /* (T) */
    sg_params *master; /* the model's parameters */
    double *lrs;       /* (T) this step's rate of each worker (0: no batch) */
    double lr0;
    sg_w2v_barrier barrier;
    pthread_mutex_t gate_lock; /* the start gate: go is 1 to start, -1 to stop before any work */
    pthread_cond_t gate;
    int go;
    bool stop; /* set by worker 0 between the barriers: a report failed */
    /* worker 0's report */
    sg_cli_progress bar;
    const char *log;
    uint64_t total, train_words;
    double loss_sum, t_pass;
    size_t examples, pass;
    /* heap allocations after the first pass: the counter then, and what the reports made since */
    size_t allocs_after_pass1, report_allocs;
} sg_w2v_run;

/* Forward and backward of the worker's next batch (none: rate 0). */
static void sg_w2v_worker_compute(sg_w2v_worker *w)
{
    sg_w2v_run *run = w->run;
    w->has_batch = sg_w2v_batcher_next(&w->it, &w->rng, &w->b);
    w->ok = true;
    run->lrs[w->t] = 0.0;
    sg_params_zero_grad(w->ps);
    if (!w->has_batch)
        return;
    sg_graph_reset(w->g);
    sg_tensor *loss = sg_word2vec_loss(w->g, &w->m, &w->b);
    w->loss = loss ? sg_tensor_get(loss, 0) : NAN;
    if (!loss || !isfinite(w->loss) || sg_backward(w->g, loss) != SG_OK) {
        snprintf(w->err, sizeof w->err, "training failed at word %llu of thread %zu: %s",
                 (unsigned long long)w->b.words_done, w->t,
                 loss && !isfinite(w->loss) ? "the loss is not finite" : sg_graph_error(w->g));
        w->ok = false;
        return;
    }
    run->lrs[w->t] = sg_w2v_rate(&w->it, &w->b, run->lr0);
}

/* Worker 0, between the barriers: the progress line and the per-pass log. */
static void sg_w2v_report(sg_w2v_run *run)
{
    const size_t allocs0 = sg_alloc_count(), pass0 = run->pass;
    uint64_t done = 0;
    for (size_t t = 0; t < run->T; t++) {
        const sg_w2v_worker *w = &run->w[t];
        done += w->it.words_done;
        if (w->has_batch) {
            run->loss_sum += w->loss;
            run->examples += w->b.n;
        }
    }
    double now = sg_cli_now(), mean = run->loss_sum / (double)(run->examples ? run->examples : 1);
    sg_cli_progress_update(&run->bar, (size_t)done, "loss %.4f  lr %.5f  %.0f words/s", mean, run->lrs[0],
                           (double)done / (now - run->bar.t0));
    /* a pass is logged each time the shards together have read as many words as the text has (the
     * last one when every shard is done: their words add up to the text's) */
    while (run->train_words && done >= (run->pass + 1) * run->train_words) {
        sg_cli_log_field row[] = {{"pass", (double)(run->pass + 1)},
                                  {"loss", mean},
                                  {"lr", run->lrs[0]},
                                  {"words_per_s", (double)run->train_words / (now - run->t_pass)},
                                  {"seconds", now - run->t_pass}};
        if (run->log && !sg_cli_log_append(run->log, row, sizeof row / sizeof row[0])) {
            run->stop = true;
            return;
        }
        run->pass++;
        run->t_pass = now;
    }
    if (pass0 >= 1) /* the log line (cJSON) and the progress line are not the training step's */
        run->report_allocs += sg_alloc_count() - allocs0;
    else if (run->pass >= 1)
        run->allocs_after_pass1 = sg_alloc_count();
}

/* Every worker's loop (worker 0 on the calling thread). */
static void *sg_w2v_worker_main(void *arg)
{
    sg_w2v_worker *w = arg;
    sg_w2v_run *run = w->run;
    pthread_mutex_lock(&run->gate_lock);
    while (run->go == 0)
        pthread_cond_wait(&run->gate, &run->gate_lock);
    int go = run->go;
    pthread_mutex_unlock(&run->gate_lock);
    if (go < 0)
        return NULL;
    for (;;) {
        sg_w2v_worker_compute(w);
        sg_w2v_barrier_wait(&run->barrier);
        bool any = false, bad = false;
        for (size_t t = 0; t < run->T; t++) {
            any = any || run->w[t].has_batch;
            bad = bad || !run->w[t].ok;
        }
        if (bad || !any) /* every worker decides the same from the same flags */
            break;
        for (size_t p = 0; p < run->T; p++) { /* its own replica, to part t + p: T phases */
            if (sg_sgd_apply_replica(run->master, w->ps, run->lrs[w->t], (w->t + p) % run->T, run->T) != SG_OK &&
                !w->apply_failed) {
                w->apply_failed = true;
                snprintf(w->err, sizeof w->err, "thread %zu could not apply its part of the update", w->t);
            }
            if (p + 1 < run->T)
                sg_w2v_barrier_wait(&run->barrier);
        }
        if (w->t == 0)
            sg_w2v_report(run);
        sg_w2v_barrier_wait(&run->barrier);
        bool failed = run->stop;
        for (size_t t = 0; t < run->T; t++)
            failed = failed || run->w[t].apply_failed;
        if (failed)
            break;
    }
    return NULL;
}

/* Opens the start gate: go 1 starts the workers, -1 sends them home. */
static void sg_w2v_gate_open(sg_w2v_run *run, int go)
{
    pthread_mutex_lock(&run->gate_lock);
    run->go = go;
    pthread_cond_broadcast(&run->gate);
    pthread_mutex_unlock(&run->gate_lock);
}

/* Runs the T workers to the end (worker 0 on this thread); false after a
 * message.  A thread that cannot be started stops the run before any work. */
static bool sg_w2v_train(sg_w2v_run *run)
{
    bool ok = true;
    for (size_t t = 1; t < run->T && ok; t++) {
        int e = pthread_create(&run->w[t].thread, NULL, sg_w2v_worker_main, &run->w[t]);
        if (e != 0) {
            sg_cli_error("cannot start thread %zu of %zu: %s (try a smaller --threads)", t + 1, run->T, strerror(e));
            ok = false;
        } else
            run->w[t].started = true;
    }
    sg_w2v_gate_open(run, ok ? 1 : -1);
    if (ok)
        sg_w2v_worker_main(&run->w[0]);
    for (size_t t = 1; t < run->T; t++)
        if (run->w[t].started)
            pthread_join(run->w[t].thread, NULL);
    for (size_t t = 0; t < run->T && ok; t++)
        if (!run->w[t].ok || run->w[t].apply_failed) {
            sg_cli_error("%s", run->w[t].err);
            ok = false;
        }
    return ok && !run->stop;
}

int sg_cmd_train_word2vec(sg_cli_args *a)
{
    sg_w2v_opts o;
    size_t dim, min_count, seed, threads;
    double lr;
    const char *data = sg_cli_opt(a, "data"), *out = sg_cli_opt(a, "output"), *log = sg_cli_opt(a, "log");
    const char *save = sg_cli_opt(a, "save");
    bool binary = sg_cli_flag(a, "binary");
    const char *upd = sg_cli_opt(a, "cbow-update");
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (upd && strcmp(upd, "word2vec") != 0 && strcmp(upd, "exact") != 0) {
        sg_cli_error("--cbow-update must be word2vec or exact, not '%s'", upd);
        return SG_EXIT_USAGE;
    }
    bool cbow_w2v = !upd || strcmp(upd, "word2vec") == 0; /* word2vec.c's and gensim's, the default */
    if (!sg_w2v_parse_opts(a, &o, &dim, true) || !sg_cli_opt_size(a, "min-count", 5, &min_count) ||
        !sg_cli_opt_size(a, "seed", 1, &seed) ||
        !sg_cli_opt_size_in(a, "threads", ncpu > 0 ? (size_t)ncpu : 1, 1, 256, &threads))
        return SG_EXIT_USAGE;
    double def_lr = o.arch == SG_W2V_CBOW ? 0.05 : 0.025;
    if (!sg_cli_opt_double_in(a, "lr", def_lr, 0, 10, true, &lr) || !sg_cli_check_all_used(a))
        return SG_EXIT_USAGE;
    if (!data || !out) {
        sg_cli_error("usage: seqgrad train word2vec --data FILE -o VECTORS [--arch skipgram|cbow --dim N --window N "
                     "--negative K --sample T --min-count N --iter N --lr X --threads N --binary --save CKPT]");
        return SG_EXIT_USAGE;
    }
    char err[4096];
    /* the files the run will write can be written: checked before any work */
    if (!sg_cli_can_write(out, "vectors") || (save && !sg_cli_can_write(save, "checkpoint")) ||
        (log && !sg_cli_can_append(log)))
        return SG_EXIT_FAIL;
    int trc = sg_cli_set_threads(1); /* the workers are the parallelism; their products are small */
    if (trc != SG_EXIT_OK)
        return trc;
    sg_w2v_corpus c;
    sg_status st = sg_w2v_corpus_load(&c, data, min_count, err, sizeof err);
    if (st != SG_OK) {
        sg_cli_error("%s", err);
        return st == SG_ERR_NOMEM ? SG_EXIT_FAIL : SG_EXIT_INPUT;
    }
    const size_t V = sg_vocab_size(c.vocab);
    sg_params *ps = sg_params_new(SG_F32);
    const char **words = sg_malloc(V * sizeof *words);
    sg_w2v_run run = {.T = threads, .lr0 = lr, .log = log, .train_words = c.train_words};
    run.w = sg_calloc(threads, sizeof *run.w);
    run.lrs = sg_calloc(threads, sizeof *run.lrs);
    bool lock_made = false, gate_made = false;
    sg_word2vec m;
    int rc = SG_EXIT_FAIL;
    if (!ps || !words || !run.w || !run.lrs ||
        sg_word2vec_init(&m, ps, o.arch, V, dim, o.negative, o.window) != SG_OK) {
        sg_cli_error("out of memory for the model (%zu words x %zu)", V, dim);
        goto done;
    }
    m.cbow_word2vec_update = cbow_w2v;
    run.master = ps;
    sg_rng rng;
    sg_rng_seed(&rng, seed);
    sg_word2vec_reset_parameters(&m, &rng);
    for (size_t t = 0; t < threads; t++) {
        sg_w2v_worker *w = &run.w[t];
        w->t = t;
        w->run = &run;
        w->rng = rng; /* worker 0 goes on with the stream the parameters came from */
        if (t)
            sg_rng_seed(&w->rng, seed + t);
        if ((st = sg_w2v_batcher_init(&w->it, &c, &o, err, sizeof err)) != SG_OK ||
            (st = sg_w2v_batcher_shard(&w->it, t, threads)) != SG_OK) {
            sg_cli_error("%s", st == SG_ERR_ARG ? err : "out of memory for the batches");
            rc = st == SG_ERR_ARG ? SG_EXIT_USAGE : SG_EXIT_FAIL;
            goto done;
        }
        w->g = sg_graph_new(SG_F32);
        w->ps = sg_params_replica(ps);
        if (!w->g || !w->ps) {
            sg_cli_error("out of memory for thread %zu's graph and gradients", t);
            goto done;
        }
        w->m = m;
        w->m.in = sg_params_find(w->ps, "w2v.in");
        w->m.out = sg_params_find(w->ps, "w2v.out");
    }
    sg_w2v_barrier_init(&run.barrier, threads);
    lock_made = pthread_mutex_init(&run.gate_lock, NULL) == 0;
    gate_made = lock_made && pthread_cond_init(&run.gate, NULL) == 0;
    if (!gate_made) {
        sg_cli_error("cannot make the threads' start gate");
        goto done;
    }
    printf("word2vec: %s%s, %zu words (min count %zu) of %llu, dimension %zu, window %zu, %zu negatives, sample %g, "
           "%zu passes, lr %g, batch %zu, %zu thread%s\n",
           o.arch == SG_W2V_CBOW ? "CBOW" : "skip-gram",
           o.arch == SG_W2V_CBOW ? (cbow_w2v ? " (word2vec.c's update)" : " (exact gradient)") : "", V, min_count,
           (unsigned long long)c.train_words, dim, o.window, o.negative, o.sample, o.iters, lr, o.batch, threads,
           threads == 1 ? "" : "s");
    fflush(stdout);
    run.total = (uint64_t)o.iters * c.train_words;
    sg_cli_progress_init(&run.bar, "training", (size_t)run.total);
    run.t_pass = run.bar.t0;
    bool trained = sg_w2v_train(&run);
    double secs = sg_cli_now() - run.bar.t0;
    sg_cli_progress_end(&run.bar);
    if (!trained)
        goto done;
    printf("trained: %zu examples, mean loss %.4f, %.1f s, %.0f words/s\n", run.examples,
           run.loss_sum / (double)(run.examples ? run.examples : 1), secs, (double)run.total / secs);
    if (o.iters >= 2) /* the steady state: every step after the first pass */
        printf("heap allocations in passes 2 to %zu: %zu\n", o.iters,
               sg_alloc_count() - run.allocs_after_pass1 - run.report_allocs);
    for (size_t i = 0; i < V; i++)
        words[i] = sg_vocab_word(c.vocab, (int32_t)i);
    if ((st = sg_w2v_vectors_save(out, words, m.in->value, V, dim, binary, err, sizeof err)) != SG_OK) {
        sg_cli_error("%s", err);
        goto done;
    }
    printf("wrote %s (%zu vectors of %zu, %s)\n", out, V, dim, binary ? "binary" : "text");
    if (save && !sg_w2v_save_checkpoint(save, ps, c.vocab, &o, dim, min_count, lr))
        goto done;
    if (save)
        printf("wrote %s (both tables, the settings and the vocabulary)\n", save);
    rc = SG_EXIT_OK;
done:
    if (gate_made)
        pthread_cond_destroy(&run.gate);
    if (lock_made)
        pthread_mutex_destroy(&run.gate_lock);
    for (size_t t = 0; run.w && t < threads; t++) {
        sg_graph_free(run.w[t].g);
        sg_params_free(run.w[t].ps);
        sg_w2v_batcher_free(&run.w[t].it);
    }
    sg_free(run.w);
    sg_free(run.lrs);
    sg_free(words);
    sg_params_free(ps);
    sg_w2v_corpus_free(&c);
    return rc;
}

/* ---- similar and analogy ------------------------------------------------------ */

/* The vectors of --vectors (and --binary), after the caller has taken its
 * own options: anything left unused is refused before the file is read.
 * Returns an exit code after a message. */
static int sg_w2v_load_vectors(sg_cli_args *a, sg_w2v_vectors *v)
{
    const char *path = sg_cli_opt(a, "vectors");
    bool binary = sg_cli_flag(a, "binary");
    if (!sg_cli_check_all_used(a))
        return SG_EXIT_USAGE;
    if (!path) {
        sg_cli_error("--vectors FILE is needed (the word2vec text format, or binary with --binary)");
        return SG_EXIT_USAGE;
    }
    char err[1024];
    sg_status st = sg_w2v_vectors_load(v, path, binary, err, sizeof err);
    if (st != SG_OK) {
        sg_cli_error("%s", err);
        return st == SG_ERR_NOMEM ? SG_EXIT_FAIL : SG_EXIT_INPUT;
    }
    return SG_EXIT_OK;
}

int sg_cmd_similar(sg_cli_args *a)
{
    size_t k;
    sg_w2v_vectors v;
    if (!sg_cli_opt_size_in(a, "top", 10, 1, 10000, &k))
        return SG_EXIT_USAGE;
    const char *word = sg_cli_positional(a);
    if (!word) {
        sg_cli_error("usage: seqgrad similar --vectors FILE WORD [-k N] [--binary]");
        return SG_EXIT_USAGE;
    }
    int rc = sg_w2v_load_vectors(a, &v);
    if (rc != SG_EXIT_OK)
        return rc;
    long row = sg_w2v_vectors_find(&v, word);
    long *rows = sg_malloc(k * sizeof *rows);
    double *cos = sg_malloc(k * sizeof *cos);
    rc = SG_EXIT_FAIL;
    if (row < 0) {
        sg_cli_error("'%s' is not in the vectors' vocabulary", word);
        rc = SG_EXIT_INPUT;
    } else if (!rows || !cos) {
        sg_cli_error("out of memory");
    } else {
        size_t n = sg_w2v_vectors_nearest(&v, v.unit + (size_t)row * v.D, k, &row, 1, rows, cos);
        for (size_t i = 0; i < n; i++)
            printf("%-20s %.4f\n", v.words[rows[i]], cos[i]);
        rc = SG_EXIT_OK;
    }
    sg_free(rows);
    sg_free(cos);
    sg_w2v_vectors_free(&v);
    return rc;
}

/* The questions-words format: ": section" lines, then "a b c d" lines (a is
 * to b as c is to d).  Words are looked up as given, then lowercased.  An
 * answer is right when the nearest word to b - a + c (unit vectors, the
 * three question words excluded) is d.  Questions with a word outside the
 * vocabulary are counted as not covered. */
int sg_cmd_analogy(sg_cli_args *a)
{
    const char *qpath = sg_cli_opt(a, "questions");
    sg_w2v_vectors v;
    if (!qpath) {
        sg_cli_error("usage: seqgrad analogy --vectors FILE --questions FILE [--binary]");
        return SG_EXIT_USAGE;
    }
    int rc = sg_w2v_load_vectors(a, &v);
    if (rc != SG_EXIT_OK)
        return rc;
    FILE *f = fopen(qpath, "r");
    float *q = sg_malloc(v.D * sizeof *q);
    if (!f || !q) {
        sg_cli_error("cannot read '%s'%s", qpath, f ? ": out of memory" : "");
        if (f)
            fclose(f);
        sg_free(q);
        sg_w2v_vectors_free(&v);
        return f ? SG_EXIT_FAIL : SG_EXIT_INPUT;
    }
    char line[4096], section[256] = "(none)";
    size_t sec_right = 0, sec_seen = 0, sec_total = 0, right = 0, seen = 0, total = 0, lineno = 0;
    rc = SG_EXIT_OK;
    for (bool more = true; more;) {
        more = fgets(line, sizeof line, f) != NULL;
        lineno += more;
        if (!more || line[0] == ':') {
            if (sec_total)
                printf("%-28s %5.1f%%  (%zu of %zu covered)\n", section,
                       sec_seen ? 100.0 * (double)sec_right / (double)sec_seen : 0.0, sec_seen, sec_total);
            if (more) {
                const char *name = line + 1 + strspn(line + 1, " \t");
                snprintf(section, sizeof section, "%.*s", (int)strcspn(name, "\r\n"), name);
            }
            sec_right = sec_seen = sec_total = 0;
            continue;
        }
        char w[4][256];
        if (sscanf(line, "%255s %255s %255s %255s", w[0], w[1], w[2], w[3]) != 4) {
            if (strspn(line, " \t\r\n") == strlen(line))
                continue;
            sg_cli_error("%s:%zu: a question is four words", qpath, lineno);
            rc = SG_EXIT_INPUT;
            break;
        }
        long id[4];
        bool all = true;
        for (int k = 0; k < 4; k++) {
            id[k] = sg_w2v_vectors_find(&v, w[k]);
            if (id[k] < 0) {
                for (char *p = w[k]; *p; p++)
                    *p = (char)tolower((unsigned char)*p);
                id[k] = sg_w2v_vectors_find(&v, w[k]);
            }
            all = all && id[k] >= 0;
        }
        sec_total++;
        total++;
        if (!all)
            continue;
        for (size_t d = 0; d < v.D; d++)
            q[d] = v.unit[id[1] * v.D + d] - v.unit[id[0] * v.D + d] + v.unit[id[2] * v.D + d];
        long best;
        double cos;
        sec_seen++;
        seen++;
        if (sg_w2v_vectors_nearest(&v, q, 1, id, 3, &best, &cos) == 1 && best == id[3]) {
            sec_right++;
            right++;
        }
    }
    fclose(f);
    if (rc == SG_EXIT_OK)
        printf("overall: %.2f%% of %zu covered questions right; coverage %.1f%% (%zu of %zu)\n",
               seen ? 100.0 * (double)right / (double)seen : 0.0, seen,
               total ? 100.0 * (double)seen / (double)total : 0, seen, total);
    sg_free(q);
    sg_w2v_vectors_free(&v);
    return rc;
}

/* ---- the probe: a tiny corpus and one batch ---------------------------------------- */

typedef struct sg_w2v_probe {
    sg_word2vec m;
    sg_w2v_corpus c;
    sg_w2v_batcher it;
    sg_w2v_batch b;
} sg_w2v_probe;

static sg_tensor *sg_w2v_probe_loss(sg_graph *g, void *self)
{
    sg_w2v_probe *p = self;
    return sg_word2vec_loss(g, &p->m, &p->b);
}

static void sg_w2v_probe_free(void *self)
{
    sg_w2v_probe *p = self;
    sg_w2v_batcher_free(&p->it);
    sg_w2v_corpus_free(&p->c);
    sg_free(p);
}

int sg_task_word2vec_probe(sg_cli_args *a, sg_dtype dtype, bool for_check, sg_cli_probe *out)
{
    memset(out, 0, sizeof *out);
    sg_w2v_opts o;
    size_t dim, seed;
    if (!sg_w2v_parse_opts(a, &o, &dim, false) || !sg_cli_opt_size(a, "seed", 1, &seed))
        return SG_EXIT_USAGE;
    if (!sg_cli_given(a, "dim"))
        dim = for_check ? 4 : 8;
    if (!sg_cli_given(a, "batch"))
        o.batch = 6;
    o.sample = 0;
    o.iters = 1;
    static const char text[] = "the cat sat on the mat\nthe dog sat on the log\na cat and a dog\n";
    sg_w2v_probe *p = sg_calloc(1, sizeof *p);
    sg_params *ps = sg_params_new(dtype);
    char err[512];
    sg_rng rng;
    sg_rng_seed(&rng, seed);
    if (!p || !ps || sg_w2v_corpus_parse(&p->c, text, sizeof text - 1, "probe", 1, err, sizeof err) != SG_OK ||
        sg_w2v_batcher_init(&p->it, &p->c, &o, err, sizeof err) != SG_OK || !sg_w2v_batcher_next(&p->it, &rng, &p->b) ||
        sg_word2vec_init(&p->m, ps, o.arch, sg_vocab_size(p->c.vocab), dim, o.negative, o.window) != SG_OK) {
        if (p)
            sg_w2v_probe_free(p);
        sg_params_free(ps);
        sg_cli_error("could not build the word2vec probe");
        return SG_EXIT_FAIL;
    }
    for (size_t i = 0; i < p->m.in->numel; i++) { /* both tables random, so both get gradients */
        sg_param_set(p->m.in, i, sg_rng_range(&rng, -0.5, 0.5));
        sg_param_set(p->m.out, i, sg_rng_range(&rng, -0.5, 0.5));
    }
    *out =
        (sg_cli_probe){.ps = ps, .owns_ps = true, .self = p, .loss = sg_w2v_probe_loss, .free_self = sg_w2v_probe_free};
    const char *arch = o.arch == SG_W2V_CBOW ? "CBOW" : "skip-gram";
    snprintf(out->title, sizeof out->title, "word2vec %s: %zu examples, %zu negatives, dimension %zu", arch, p->b.n,
             o.negative, dim);
    snprintf(out->describe, sizeof out->describe, "word2vec %s (%zu words, D %zu, N %zu, K %zu, %zu parameters)", arch,
             sg_vocab_size(p->c.vocab), dim, p->b.n, o.negative, sg_params_numel(ps));
    return SG_EXIT_OK;
}
