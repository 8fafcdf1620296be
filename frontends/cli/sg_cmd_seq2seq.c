/* sg_cmd_seq2seq.c — `seqgrad train seq2seq`: an encoder-decoder on a file of
 * (source, target) pairs (models/data/sg_pairs.h), with the options the
 * textbook compares (reversed source, peeky decoder, attention).  Adam on
 * length-bucketed batches, gradient-norm clip; after every epoch the
 * validation exact-match accuracy (greedy decoding of the whole target);
 * at the end the test accuracy.  Also the task's probe for gradcheck/graph. */
#include "frontends/cli/sg_cli_progress.h"
#include "frontends/cli/sg_cli_task.h"

#include "graph/core/sg_alloc.h"
#include "graph/format/sg_checkpoint.h"
#include "graph/optim/sg_optim.h"
#include "graph/util/sg_util.h"
#include "models/seq2seq/sg_seq2seq.h"

#include <cblas.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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
    if (cell && sg_cell_kind_parse(cell, &c->kind) != SG_OK) {
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
    return true;
}

/* Exact matches of greedy decodes over a split, in batches of B. */
static bool sg_s2s_accuracy(sg_graph *g, const sg_seq2seq *m, const sg_pair_set *s, size_t B, double *acc)
{
    *acc = 0;
    if (!s->n)
        return true;
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
    size_t right = 0;
    sg_pair_batch b;
    bool ok = true;
    while (ok && sg_pair_batcher_next(&it, &b)) {
        if (sg_seq2seq_decode(g, m, &b, max_len, 0.0, NULL, out, lens, NULL) != SG_OK) {
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
    *acc = (double)right / (double)s->n;
    return ok;
}

/* The vocabulary as a JSON array of its words in id order (characters may be
 * blanks, which the LM's one-word-per-line format cannot hold). */
static char *sg_s2s_vocab_json(const sg_vocab *v)
{
    cJSON *arr = cJSON_CreateArray();
    for (int32_t i = 0; arr && (size_t)i < sg_vocab_size(v); i++) {
        cJSON *w = cJSON_CreateString(sg_vocab_word(v, i));
        if (!w || !cJSON_AddItemToArray(arr, w)) {
            cJSON_Delete(w);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    char *s = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    return s;
}

static bool sg_s2s_save(const char *path, const sg_params *ps, const sg_seq2seq_config *c, const sg_vocab *v,
                        const sg_optim *opt, const sg_rng *rng, size_t epoch)
{
    sg_checkpoint ck;
    sg_checkpoint_init(&ck);
    ck.has_optim = true;
    ck.optim = *opt;
    ck.has_rng = true;
    ck.rng = *rng;
    ck.epoch = epoch;
    char buf[3][32];
    snprintf(buf[0], 32, "%zu", c->embed);
    snprintf(buf[1], 32, "%zu", c->hidden);
    snprintf(buf[2], 32, "%zu", c->layers);
    char *vj = sg_s2s_vocab_json(v);
    char err[4096];
    sg_status st = vj ? SG_OK : SG_ERR_NOMEM;
    const char *kv[][2] = {{"task", "seq2seq"},
                           {"seq2seq.cell", sg_cell_kind_name(c->kind)},
                           {"seq2seq.attention", sg_attention_name(c->attention)},
                           {"seq2seq.embed", buf[0]},
                           {"seq2seq.hidden", buf[1]},
                           {"seq2seq.layers", buf[2]},
                           {"seq2seq.reverse", c->reverse_source ? "1" : "0"},
                           {"seq2seq.peeky", c->peeky ? "1" : "0"},
                           {"seq2seq.bidirectional", c->bidirectional ? "1" : "0"},
                           {"seq2seq.vocab", vj ? vj : ""}};
    for (size_t i = 0; st == SG_OK && i < sizeof kv / sizeof kv[0]; i++)
        st = sg_checkpoint_set_string(&ck, kv[i][0], kv[i][1]);
    if (st == SG_OK)
        st = sg_checkpoint_save(path, ps, &ck, err, sizeof err);
    else
        snprintf(err, sizeof err, "cannot describe the model: %s", sg_status_str(st));
    if (st != SG_OK)
        sg_cli_error("%s", err);
    cJSON_free(vj);
    sg_checkpoint_free(&ck);
    return st == SG_OK;
}

int sg_cmd_train_seq2seq(sg_cli_args *a)
{
    sg_seq2seq_config cfg;
    const char *data = sg_cli_opt(a, "data"), *save = sg_cli_opt(a, "save"), *log = sg_cli_opt(a, "log");
    const char *tokens = sg_cli_opt(a, "tokens");
    size_t batch, epochs, seed, threads;
    double lr, clip;
    sg_pair_opts po = sg_pair_opts_defaults();
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    if (!sg_s2s_parse_model(a, &cfg, 16, 128) || !sg_cli_opt_size_in(a, "batch", 128, 1, 100000, &batch) ||
        !sg_cli_opt_size_in(a, "epochs", 10, 1, 100000, &epochs) || !sg_cli_opt_size(a, "seed", 1, &seed) ||
        !sg_cli_opt_size_in(a, "threads", ncpu > 0 ? (size_t)ncpu : 1, 1, 1024, &threads) ||
        !sg_cli_opt_double_in(a, "lr", 0.001, 0, 1e4, true, &lr) ||
        !sg_cli_opt_double_in(a, "clip", 5.0, 0, 1e6, false, &clip) ||
        !sg_cli_opt_double_in(a, "valid-frac", po.valid_frac, 0, 0.9, false, &po.valid_frac) ||
        !sg_cli_opt_double_in(a, "test-frac", po.test_frac, 0, 0.9, false, &po.test_frac) || !sg_cli_check_all_used(a))
        return SG_EXIT_USAGE;
    if (!data) {
        sg_cli_error("--data FILE is needed: one source_target pair per line (a tab or the first '_' separates them)");
        return SG_EXIT_USAGE;
    }
    if (tokens && strcmp(tokens, "chars") != 0 && strcmp(tokens, "words") != 0) {
        sg_cli_error("--tokens must be chars or words, not '%s'", tokens);
        return SG_EXIT_USAGE;
    }
    po.tokenizer = tokens && strcmp(tokens, "words") == 0 ? SG_TOKENIZE_WORDS : SG_TOKENIZE_CHARS;
    po.seed = seed;
    openblas_set_num_threads((int)threads);
    char err[4096];
    sg_pair_data d;
    sg_status st = sg_pair_data_load(&d, data, &po, err, sizeof err);
    if (st != SG_OK) {
        sg_cli_error("%s", err);
        return st == SG_ERR_ARG ? SG_EXIT_USAGE : st == SG_ERR_NOMEM ? SG_EXIT_FAIL : SG_EXIT_INPUT;
    }
    cfg.vocab = sg_vocab_size(d.vocab);
    sg_params *ps = sg_params_new(SG_F32);
    sg_graph *g = sg_graph_new(SG_F32);
    sg_seq2seq m = {0};
    bool m_ready = false;
    sg_pair_batcher it = {0};
    int rc = SG_EXIT_FAIL;
    sg_rng rng;
    sg_rng_seed(&rng, seed);
    sg_optim opt;
    sg_adam_config ac = sg_adam_defaults();
    ac.lr = lr;
    if (!ps || !g || sg_seq2seq_init(&m, ps, &cfg) != SG_OK) {
        sg_cli_error("could not build the model");
        goto done;
    }
    m_ready = true;
    if (sg_seq2seq_reset_parameters(&m, &rng) != SG_OK || sg_optim_init_adam(&opt, &ac) != SG_OK ||
        sg_pair_batcher_init(&it, &d.split[SG_PAIRS_TRAIN], batch, 20, err, sizeof err) != SG_OK) {
        sg_cli_error("could not set up training: %s", err);
        goto done;
    }
    printf("seq2seq: %s, %s attention%s%s%s, E %zu, H %zu, %zu encoder layers, vocabulary %zu, %zu parameters\n",
           sg_cell_kind_name(cfg.kind), sg_attention_name(cfg.attention), cfg.reverse_source ? ", reversed source" : "",
           cfg.peeky ? ", peeky" : "", cfg.bidirectional ? ", bidirectional" : "", cfg.embed, cfg.hidden, cfg.layers,
           cfg.vocab, sg_params_numel(ps));
    printf("data: %s, %zu train / %zu valid / %zu test pairs (split with seed %zu); batch %zu, Adam lr %g, clip %g\n",
           data, d.split[0].n, d.split[1].n, d.split[2].n, seed, batch, lr, clip);
    fflush(stdout);
    for (size_t epoch = 1; epoch <= epochs; epoch++) {
        char label[64];
        snprintf(label, sizeof label, "epoch %2zu/%zu", epoch, epochs);
        sg_cli_progress bar;
        sg_cli_progress_init(&bar, label, it.n_batches);
        sg_pair_batcher_epoch(&it, &rng);
        sg_pair_batch b;
        double total = 0;
        size_t n = 0, tokens_seen = 0;
        while (sg_pair_batcher_next(&it, &b)) {
            sg_graph_reset(g);
            sg_params_zero_grad(ps);
            sg_tensor *loss = sg_seq2seq_loss(g, &m, &b);
            double l = loss ? sg_tensor_get(loss, 0) : NAN;
            if (!loss || !isfinite(l) || sg_backward(g, loss) != SG_OK) {
                sg_cli_progress_end(&bar);
                sg_cli_error("epoch %zu batch %zu: %s", epoch, n + 1,
                             loss && !isfinite(l) ? "the loss is not finite; training stops" : sg_graph_error(g));
                goto done;
            }
            if (clip > 0)
                sg_params_clip_grad_norm(ps, clip);
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
        if (!sg_s2s_accuracy(g, &m, &d.split[SG_PAIRS_VALID], 256, &acc))
            goto done;
        printf("epoch %zu: loss %.4f  valid exact match %.2f%%  %.0f target tok/s  %.1f s\n", epoch,
               total / (double)(n ? n : 1), 100 * acc, (double)tokens_seen / secs, secs);
        fflush(stdout);
        sg_cli_log_field row[] = {{"epoch", (double)epoch},
                                  {"loss", total / (double)(n ? n : 1)},
                                  {"valid_accuracy", acc},
                                  {"tokens_per_s", (double)tokens_seen / secs},
                                  {"seconds", secs}};
        if (log && !sg_cli_log_append(log, row, sizeof row / sizeof row[0]))
            goto done;
        if (save && !sg_s2s_save(save, ps, &cfg, d.vocab, &opt, &rng, epoch))
            goto done;
    }
    double test_acc;
    if (!sg_s2s_accuracy(g, &m, &d.split[SG_PAIRS_TEST], 256, &test_acc))
        goto done;
    printf("test exact match %.2f%% (%zu pairs)\n", 100 * test_acc, d.split[SG_PAIRS_TEST].n);
    rc = SG_EXIT_OK;
done:
    sg_pair_batcher_free(&it);
    if (m_ready)
        sg_seq2seq_free(&m);
    sg_graph_free(g);
    sg_params_free(ps);
    sg_pair_data_free(&d);
    return rc;
}

/* ---- the probe: a tiny reversal batch ------------------------------------ */

typedef struct sg_s2s_probe {
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
        sg_cli_error("out of memory");
        return SG_EXIT_FAIL;
    }
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
             sg_cell_kind_name(cfg.kind), sg_attention_name(cfg.attention), cfg.hidden, p->b.src_steps, p->b.tgt_steps);
    snprintf(out->describe, sizeof out->describe,
             "a %s seq2seq with %s attention (f64, E %zu, H %zu, B 4, S %zu, T %zu, %zu parameters)",
             sg_cell_kind_name(cfg.kind), sg_attention_name(cfg.attention), cfg.embed, cfg.hidden, p->b.src_steps,
             p->b.tgt_steps, sg_params_numel(ps));
    return SG_EXIT_OK;
}

/* ---- generate from a checkpoint ----------------------------------------------- */

/* A "0"/"1" setting of the checkpoint (absent: off). */
static bool sg_s2s_flag(const sg_checkpoint *ck, const char *key)
{
    const char *v = sg_checkpoint_get_string(ck, key);
    return v && strcmp(v, "1") == 0;
}

/* The model a seq2seq checkpoint describes, loaded: m, ps (f32) and the
 * vocabulary.  Returns an exit code after a message. */
static int sg_s2s_load(const char *path, sg_seq2seq *m, sg_params **ps, sg_vocab **vocab)
{
    char err[4096];
    sg_checkpoint ck;
    sg_checkpoint_init(&ck);
    *ps = NULL;
    *vocab = NULL;
    sg_status st = sg_checkpoint_read_meta(path, &ck, err, sizeof err);
    if (st != SG_OK) {
        sg_cli_error("%s", err);
        return sg_cli_exit_for(st);
    }
    int rc = SG_EXIT_INPUT;
    const char *task = sg_checkpoint_get_string(&ck, "task");
    const char *vj = sg_checkpoint_get_string(&ck, "seq2seq.vocab");
    sg_seq2seq_config cfg = {.act = SG_ACT_TANH};
    uint64_t e = 0, h = 0, l = 0;
    const char *get[] = {"seq2seq.embed", "seq2seq.hidden", "seq2seq.layers"};
    uint64_t *dst[] = {&e, &h, &l};
    bool ok = task && strcmp(task, "seq2seq") == 0 && vj;
    for (int i = 0; ok && i < 3; i++) {
        const char *v = sg_checkpoint_get_string(&ck, get[i]);
        ok = v && sg_parse_u64(v, dst[i]) && *dst[i] >= 1 && *dst[i] <= 65536;
    }
    const char *cell = sg_checkpoint_get_string(&ck, "seq2seq.cell"),
               *att = sg_checkpoint_get_string(&ck, "seq2seq.attention");
    ok = ok && cell && att && sg_cell_kind_parse(cell, &cfg.kind) == SG_OK &&
         sg_attention_parse(att, &cfg.attention) == SG_OK;
    cJSON *words = ok ? cJSON_Parse(vj) : NULL;
    size_t n = cJSON_IsArray(words) ? (size_t)cJSON_GetArraySize(words) : 0;
    const char **list = n ? sg_calloc(n, sizeof *list) : NULL;
    for (size_t i = 0; list && i < n; i++) {
        const cJSON *w = cJSON_GetArrayItem(words, (int)i);
        list[i] = cJSON_IsString(w) && w->valuestring[0] ? w->valuestring : NULL;
        ok = ok && list[i];
    }
    sg_vocab *empty = sg_vocab_counter_new();
    if (!ok || !list || !empty || n < 4 ||
        sg_vocab_counter_finish(empty, list, n, 0, vocab, err, sizeof err) != SG_OK) {
        sg_cli_error("'%s' is not a seq2seq checkpoint (task, settings or vocabulary missing or malformed)", path);
        goto done;
    }
    cfg.embed = e;
    cfg.hidden = h;
    cfg.layers = l;
    cfg.vocab = n;
    cfg.reverse_source = sg_s2s_flag(&ck, "seq2seq.reverse");
    cfg.peeky = sg_s2s_flag(&ck, "seq2seq.peeky");
    cfg.bidirectional = sg_s2s_flag(&ck, "seq2seq.bidirectional");
    *ps = sg_params_new(SG_F32);
    if (!*ps || sg_seq2seq_init(m, *ps, &cfg) != SG_OK) {
        sg_cli_error("'%s': the model it describes cannot be built", path);
        goto done;
    }
    if ((st = sg_checkpoint_load(path, *ps, NULL, err, sizeof err)) != SG_OK) {
        sg_cli_error("%s", err);
        sg_seq2seq_free(m);
        rc = sg_cli_exit_for(st);
        goto done;
    }
    rc = SG_EXIT_OK;
done:
    if (rc != SG_EXIT_OK) {
        sg_params_free(*ps);
        *ps = NULL;
        sg_vocab_free(*vocab);
        *vocab = NULL;
    }
    sg_vocab_free(empty);
    sg_free(list);
    cJSON_Delete(words);
    sg_checkpoint_free(&ck);
    return rc;
}

int sg_cmd_generate_seq2seq(sg_cli_args *a)
{
    const char *load = sg_cli_opt(a, "load"), *input = sg_cli_opt(a, "input"), *tokens = sg_cli_opt(a, "tokens");
    size_t beam;
    if (!sg_cli_opt_size_in(a, "beam", 1, 1, 256, &beam) || !sg_cli_check_all_used(a))
        return SG_EXIT_USAGE;
    if (!load || !input) {
        sg_cli_error("usage: seqgrad generate seq2seq --load CKPT --input TEXT [--beam K] [--tokens chars|words]");
        return SG_EXIT_USAGE;
    }
    sg_tokenizer kind = tokens && strcmp(tokens, "words") == 0 ? SG_TOKENIZE_WORDS : SG_TOKENIZE_CHARS;
    sg_seq2seq m = {0};
    sg_params *ps;
    sg_vocab *v;
    int rc = sg_s2s_load(load, &m, &ps, &v);
    if (rc != SG_EXIT_OK)
        return rc;
    rc = SG_EXIT_INPUT;
    size_t n = strlen(input), pos = 0, S = 0, tl;
    int32_t *src = sg_malloc((n ? n : 1) * sizeof *src);
    double *mask = sg_malloc((n ? n : 1) * sizeof *mask);
    int32_t *out = sg_malloc(256 * sizeof *out);
    const char *t;
    sg_graph *g = sg_graph_new(SG_F32);
    if (!src || !mask || !out || !g) {
        sg_cli_error("out of memory");
        rc = SG_EXIT_FAIL;
        goto done;
    }
    while (sg_token_next(kind, input, n, &pos, &t, &tl)) {
        int32_t id = sg_vocab_id_n(v, t, tl);
        if (id < 4) {
            sg_cli_error("--input: token '%.*s' at position %zu is not in the model's vocabulary", (int)tl, t, S + 1);
            goto done;
        }
        src[S] = id;
        mask[S++] = 1.0;
    }
    if (!S) {
        sg_cli_error("--input holds no tokens");
        rc = SG_EXIT_USAGE;
        goto done;
    }
    sg_pair_batch b = {.batch = 1, .src_steps = S, .src = src, .src_mask = mask};
    size_t len;
    double score;
    if (sg_seq2seq_beam(g, &m, &b, beam, 0.6, 64, out, &len, &score) != SG_OK) {
        sg_cli_error("decoding failed: %s", sg_graph_error(g));
        rc = SG_EXIT_FAIL;
        goto done;
    }
    for (size_t i = 0; i < len; i++)
        printf("%s%s", i && kind == SG_TOKENIZE_WORDS ? " " : "", sg_vocab_word(v, out[i]));
    printf("\n");
    rc = SG_EXIT_OK;
done:
    sg_graph_free(g);
    sg_free(src);
    sg_free(mask);
    sg_free(out);
    sg_seq2seq_free(&m);
    sg_params_free(ps);
    sg_vocab_free(v);
    return rc;
}
