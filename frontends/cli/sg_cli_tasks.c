/* sg_cli_tasks.c — the task table and the commands written once over it:
 * `gradcheck <task>|ops`, `graph <task>`, `train <task>` (see sg_cli_task.h). */
#include "frontends/cli/sg_cli_task.h"

#include "graph/core/sg_alloc.h"
#include "graph/core/sg_rng.h"
#include "graph/export/sg_dot.h"
#include "graph/format/sg_checkpoint.h"
#include "graph/util/sg_util.h"
#include "ops/sg_op_table.h"

#include <cjson/cJSON.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sg_cmd_train_lm(sg_cli_args *a);
int sg_cmd_eval_lm(sg_cli_args *a);
int sg_cmd_train_seq2seq(sg_cli_args *a);
int sg_cmd_generate_seq2seq(sg_cli_args *a);
int sg_cmd_eval_seq2seq(sg_cli_args *a);
int sg_cmd_train_word2vec(sg_cli_args *a);
int sg_cmd_generate_lm(sg_cli_args *a);
int sg_cmd_train_hred(sg_cli_args *a);
int sg_cmd_eval_hred(sg_cli_args *a);
int sg_cmd_generate_hred(sg_cli_args *a);
int sg_cmd_train_vhred(sg_cli_args *a);
int sg_cmd_eval_vhred(sg_cli_args *a);
int sg_cmd_generate_vhred(sg_cli_args *a);

/* The one table of tasks.  A task without a probe cannot be checked or drawn;
 * one without train is not trained from the CLI. */
static const sg_cli_task sg_cli_tasks[] = {
    {"addition", "binary addition with a simple RNN (the demo's task)", sg_task_addition_probe, NULL, NULL, NULL},
    {"lm", "word-level language model (Zaremba et al.)", sg_task_lm_probe, sg_cmd_train_lm, sg_cmd_eval_lm,
     sg_cmd_generate_lm},
    {"sine", "next value of a sine wave from a window", sg_task_sine_probe, sg_cmd_train_sine, NULL, NULL},
    {"seq2seq", "encoder-decoder on source_target pairs, with attention", sg_task_seq2seq_probe, sg_cmd_train_seq2seq,
     sg_cmd_eval_seq2seq, sg_cmd_generate_seq2seq},
    {"word2vec", "word vectors: skip-gram or CBOW with negative sampling", sg_task_word2vec_probe,
     sg_cmd_train_word2vec, NULL, NULL},
    {"hred", "hierarchical dialogue model (and its previous-utterance baseline, --prev-only)", sg_task_hred_probe,
     sg_cmd_train_hred, sg_cmd_eval_hred, sg_cmd_generate_hred},
    {"vhred", "HRED with a latent variable per reply", sg_task_vhred_probe, sg_cmd_train_vhred, sg_cmd_eval_vhred,
     sg_cmd_generate_vhred},
};
enum { SG_CLI_N_TASKS = sizeof sg_cli_tasks / sizeof sg_cli_tasks[0] };

const sg_cli_task *sg_cli_task_find(const char *name)
{
    for (size_t i = 0; name && i < SG_CLI_N_TASKS; i++)
        if (strcmp(sg_cli_tasks[i].name, name) == 0)
            return &sg_cli_tasks[i];
    return NULL;
}

const char *sg_cli_task_names(bool with_train)
{
    static char buf[2][256];
    char *b = buf[with_train];
    b[0] = '\0';
    for (size_t i = 0; i < SG_CLI_N_TASKS; i++) {
        if (with_train ? !sg_cli_tasks[i].train : !sg_cli_tasks[i].probe)
            continue;
        if (b[0])
            strncat(b, ", ", sizeof buf[0] - strlen(b) - 1);
        strncat(b, sg_cli_tasks[i].name, sizeof buf[0] - strlen(b) - 1);
    }
    return b;
}

void sg_cli_probe_free(sg_cli_probe *p)
{
    if (!p)
        return;
    if (p->free_self)
        p->free_self(p->self);
    if (p->owns_ps)
        sg_params_free(p->ps);
    memset(p, 0, sizeof *p);
}

size_t sg_max_scope_depth(const sg_graph *g)
{
    size_t d = 0;
    for (size_t i = 0; i < sg_graph_tape_len(g); i++) {
        size_t k = sg_scope_depth(sg_graph_tape_at(g, i)->scope);
        if (k > d)
            d = k;
    }
    return d;
}

bool sg_cli_parse_collapse(const char *v, size_t *depth)
{
    if (!v || strcmp(v, "none") == 0 || strcmp(v, "op") == 0) {
        *depth = 0;
        return true;
    }
    if (strcmp(v, "scope") == 0) {
        *depth = SIZE_MAX;
        return true;
    }
    char *end;
    unsigned long x = strtoul(v, &end, 10);
    if (end == v || *end || v[0] == '-') {
        sg_cli_error("--collapse expects none, scope or a depth (1, 2, ...), not '%s'", v);
        return false;
    }
    *depth = x;
    return true;
}

/* ---- the one gradient-check report ----------------------------------------- */

static void sg_print_report(const char *mode, const sg_gradcheck_report *r, double tol)
{
    printf("gradcheck %-8s %s: %zu elements, max abs err %.3e, max rel err %.3e (tol %.0e), margin %.3gx\n", mode,
           r->passed ? "passed" : "FAILED", r->n_checked, r->max_abs_err, r->max_rel_err, tol,
           r->max_ratio > 0 ? 1 / r->max_ratio : INFINITY);
    if (r->noise > 0)
        printf("    loss noise %.2e (measured), allowance %.2e at the nominal step; %zu derivatives too small to "
               "resolve to tol, checked against the allowance\n",
               r->noise, r->resolution, r->n_unresolved);
    printf("    worst at %s: analytic %.12g, numeric %.12g, allowed difference %.3g\n", r->where[0] ? r->where : "-",
           r->worst_analytic, r->worst_numeric, r->worst_allowed);
    if (!r->passed && r->bad_op)
        printf("    first wrong VJP: op '%s' at tape node %zu in scope '%s'\n", r->bad_op, r->bad_tape_index,
               r->bad_scope[0] ? r->bad_scope : "(root)");
}

/* Errors summed up per key (a parameter's name, or a scope), for the report's
 * "worst scope" line and for --json. */
typedef struct sg_cli_err_row {
    char *key;
    size_t n;
    double max_abs, max_ratio;
    size_t worst_element;
} sg_cli_err_row;

typedef struct sg_cli_err_table {
    sg_cli_err_row *rows;
    size_t n, cap, last;
    bool by_scope; /* key: the scope (per-op mode), else the tensor's name */
    bool oom;
} sg_cli_err_table;

static void sg_cli_err_add(void *ctx, const sg_gradcheck_element *e)
{
    sg_cli_err_table *t = ctx;
    const char *key = t->by_scope ? (e->scope[0] ? e->scope : "(root)") : e->tensor;
    size_t i = t->last < t->n && strcmp(t->rows[t->last].key, key) == 0 ? t->last : SIZE_MAX;
    for (size_t k = 0; i == SIZE_MAX && k < t->n; k++)
        if (strcmp(t->rows[k].key, key) == 0)
            i = k;
    if (i == SIZE_MAX) {
        void *items = t->rows;
        char *copy = sg_str_dup(key);
        if (!copy || !sg_array_reserve(&items, &t->cap, t->n + 1, sizeof *t->rows)) {
            sg_free(copy);
            t->oom = true;
            return;
        }
        t->rows = items;
        t->rows[t->n] = (sg_cli_err_row){.key = copy};
        i = t->n++;
    }
    t->last = i;
    sg_cli_err_row *r = &t->rows[i];
    double err = fabs(e->analytic - e->numeric), ratio = err / e->allowed;
    r->n++;
    r->max_abs = fmax(r->max_abs, err);
    if (ratio > r->max_ratio || r->n == 1) {
        r->max_ratio = ratio;
        r->worst_element = e->element;
    }
}

static void sg_cli_err_free(sg_cli_err_table *t)
{
    for (size_t i = 0; i < t->n; i++)
        sg_free(t->rows[i].key);
    sg_free(t->rows);
    memset(t, 0, sizeof *t);
}

static const sg_cli_err_row *sg_cli_err_worst(const sg_cli_err_table *t)
{
    const sg_cli_err_row *w = NULL;
    for (size_t i = 0; i < t->n; i++)
        if (!w || t->rows[i].max_ratio > w->max_ratio)
            w = &t->rows[i];
    return w;
}

static cJSON *sg_cli_report_json(const sg_gradcheck_report *r, const sg_cli_err_table *t, const char *rows_name,
                                 double tol)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "passed", r->passed);
    cJSON_AddNumberToObject(o, "elements", (double)r->n_checked);
    cJSON_AddNumberToObject(o, "tol", tol);
    cJSON_AddNumberToObject(o, "max_abs_err", r->max_abs_err);
    cJSON_AddNumberToObject(o, "max_rel_err", r->max_rel_err);
    cJSON_AddNumberToObject(o, "max_ratio", r->max_ratio);
    cJSON_AddNumberToObject(o, "noise", r->noise);
    cJSON_AddNumberToObject(o, "unresolved", (double)r->n_unresolved);
    cJSON_AddStringToObject(o, "worst", r->where);
    if (r->bad_op) {
        cJSON_AddStringToObject(o, "bad_op", r->bad_op);
        cJSON_AddStringToObject(o, "bad_scope", r->bad_scope);
        cJSON_AddNumberToObject(o, "bad_tape_index", (double)r->bad_tape_index);
    }
    cJSON *rows = cJSON_AddArrayToObject(o, rows_name);
    for (size_t i = 0; rows && i < t->n; i++) {
        cJSON *row = cJSON_CreateObject();
        cJSON_AddStringToObject(row, t->by_scope ? "scope" : "name", t->rows[i].key);
        cJSON_AddNumberToObject(row, "elements", (double)t->rows[i].n);
        cJSON_AddNumberToObject(row, "max_abs_err", t->rows[i].max_abs);
        cJSON_AddNumberToObject(row, "max_ratio", t->rows[i].max_ratio);
        cJSON_AddNumberToObject(row, "worst_element", (double)t->rows[i].worst_element);
        cJSON_AddItemToArray(rows, row);
    }
    return o;
}

int sg_cli_gradcheck_probe(sg_cli_probe *p, const sg_gradcheck_opts *opts, bool json)
{
    sg_dtype was = p->ps->dtype;
    if (sg_params_set_dtype(p->ps, SG_F64) != SG_OK) {
        sg_cli_error("out of memory converting the parameters to f64");
        return SG_EXIT_FAIL;
    }
    sg_graph *g = sg_graph_new(SG_F64);
    int rc = SG_EXIT_FAIL;
    sg_gradcheck_opts o = opts ? *opts : sg_gradcheck_defaults();
    sg_cli_err_table by_param = {0}, by_scope = {.by_scope = true};
    sg_gradcheck_report model, perop, f32;
    sg_gradcheck_opts o32 = o; /* the f32 comparison is not per element of a finite difference */
    o.on_element = sg_cli_err_add;
    o.on_element_ctx = &by_param;
    sg_status st = g ? sg_gradcheck_model(g, p->ps, p->loss, p->self, &o, &model) : SG_ERR_NOMEM;
    o.on_element_ctx = &by_scope;
    if (st != SG_OK) {
        sg_cli_error("gradcheck failed to run: %s", g && sg_graph_error(g)[0] ? sg_graph_error(g) : sg_status_str(st));
    } else if ((st = sg_gradcheck_tape(g, &o, &perop)) != SG_OK) { /* g holds one evaluation with gradients */
        sg_cli_error("per-op gradcheck failed to run: %s",
                     sg_graph_error(g)[0] ? sg_graph_error(g) : sg_status_str(st));
    } else if ((st = sg_gradcheck_f32_model(p->ps, p->loss, p->self, &o32, &f32)) != SG_OK) {
        sg_cli_error("f32 gradcheck failed to run: %s", sg_status_str(st));
    } else if (by_param.oom || by_scope.oom) {
        sg_cli_error("out of memory summing up the errors");
    } else if (json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "model_checked", p->describe);
        cJSON_AddNumberToObject(root, "tape_nodes", (double)sg_graph_tape_len(g));
        cJSON_AddItemToObject(root, "model", sg_cli_report_json(&model, &by_param, "parameters", o.tol));
        cJSON_AddItemToObject(root, "per_op", sg_cli_report_json(&perop, &by_scope, "scopes", o.tol));
        sg_cli_err_table none = {0};
        cJSON_AddItemToObject(root, "f32", sg_cli_report_json(&f32, &none, "parameters", o.tol));
        char *text = cJSON_Print(root);
        if (text)
            printf("%s\n", text);
        else
            sg_cli_error("out of memory printing the report");
        cJSON_free(text);
        cJSON_Delete(root);
        rc = text && model.passed && perop.passed && f32.passed ? SG_EXIT_OK : SG_EXIT_FAIL;
    } else {
        printf("gradient check of %s, tape %zu nodes:\n", p->describe, sg_graph_tape_len(g));
        sg_print_report("model", &model, o.tol);
        sg_print_report("per-op", &perop, o.tol);
        printf("gradcheck f32      %s: %zu values, f32 against f64 (gradients, then every op), worst %.3g of its "
               "bound\n",
               f32.passed ? "passed" : "FAILED", f32.n_checked, f32.max_ratio);
        if (!f32.passed) {
            printf("    worst at %s: f32 %.9g, f64 %.12g, bound %.3g\n", f32.where, f32.worst_analytic,
                   f32.worst_numeric, f32.worst_allowed);
            if (f32.bad_op)
                printf("    first op off in f32: '%s' at tape node %zu in scope '%s'\n", f32.bad_op, f32.bad_tape_index,
                       f32.bad_scope[0] ? f32.bad_scope : "(root)");
        }
        const sg_cli_err_row *ws = sg_cli_err_worst(&by_scope), *wp = sg_cli_err_worst(&by_param);
        if (wp)
            printf("    worst parameter: '%s' (error %.3g of allowed)\n", wp->key, wp->max_ratio);
        if (ws)
            printf("    worst scope: '%s' (error %.3g of allowed, %zu elements)\n", ws->key, ws->max_ratio, ws->n);
        rc = model.passed && perop.passed && f32.passed ? SG_EXIT_OK : SG_EXIT_FAIL;
    }
    sg_cli_err_free(&by_param);
    sg_cli_err_free(&by_scope);
    sg_graph_free(g);
    if (sg_params_set_dtype(p->ps, was) != SG_OK) {
        sg_cli_error("out of memory converting the parameters back");
        rc = SG_EXIT_FAIL;
    }
    return rc;
}

/* ---- the one picture export ------------------------------------------------ */

int sg_cli_export_probe(sg_cli_probe *p, const char *path, size_t collapse_depth, bool grad_norms)
{
    sg_graph *g = sg_graph_new(p->ps->dtype);
    if (!g) {
        sg_cli_error("out of memory");
        return SG_EXIT_FAIL;
    }
    int rc = SG_EXIT_FAIL;
    sg_tensor *loss = p->loss(g, p->self);
    if (!loss || sg_backward(g, loss) != SG_OK) {
        sg_cli_error("%s", sg_graph_error(g));
    } else {
        sg_export_opts o = sg_export_defaults();
        o.collapse_depth = collapse_depth == SIZE_MAX ? sg_max_scope_depth(g) : collapse_depth;
        o.grad_norms = grad_norms;
        o.title = p->title;
        char err[4096];
        sg_export_stats stats;
        if (sg_graph_export(g, path, &o, err, sizeof err) != SG_OK ||
            sg_graph_export_stats(g, &o, &stats, err, sizeof err) != SG_OK) {
            sg_cli_error("could not export the graph to '%s': %s", path, err);
        } else {
            printf("wrote %s: tape %zu nodes; drawn %zu nodes (%zu collapsed scopes), %zu edges, %zu clusters\n", path,
                   sg_graph_tape_len(g), stats.n_nodes, stats.n_collapsed, stats.n_edges, stats.n_clusters);
            rc = SG_EXIT_OK;
        }
    }
    sg_graph_free(g);
    return rc;
}

/* ---- commands ----------------------------------------------------------------- */

/* Every op in the table, on its gradient-check examples. */
static int sg_gradcheck_all_ops(void)
{
    sg_graph *g = sg_graph_new(SG_F64), *g32 = sg_graph_new(SG_F32);
    if (!g || !g32) {
        sg_graph_free(g);
        sg_graph_free(g32);
        sg_cli_error("out of memory");
        return SG_EXIT_FAIL;
    }
    sg_gradcheck_opts o = sg_gradcheck_defaults();
    int bad = 0;
    for (size_t i = 0; i < sg_op_table_len; i++) {
        const sg_op *op = sg_op_table[i];
        double worst = 0, worst32 = 0;
        size_t n = 0;
        bool passed = true;
        for (int v = 0; v < op->n_variants; v++) {
            sg_graph_reset(g);
            sg_graph_reset(g32);
            sg_rng rng, rng32;
            sg_rng_seed(&rng, 1000 + (uint64_t)v);
            rng32 = rng;
            sg_gradcheck_report r, r32;
            if (!op->example(g, &rng, v) || sg_gradcheck_tape(g, &o, &r) != SG_OK || !op->example(g32, &rng32, v) ||
                sg_gradcheck_precision(g32, g, &o, &r32) != SG_OK) {
                printf("%-14s ERROR %s%s\n", op->name, sg_graph_error(g), sg_graph_error(g32));
                passed = false;
                break;
            }
            worst32 = fmax(worst32, r32.max_ratio);
            if (!r32.passed) {
                passed = false;
                printf("%-14s f32 FAILED at %s (f32 %.9g, f64 %.12g, bound %.3g)\n", op->name, r32.where,
                       r32.worst_analytic, r32.worst_numeric, r32.worst_allowed);
            }
            n += r.n_checked;
            if (r.max_rel_err > worst)
                worst = r.max_rel_err;
            if (!r.passed) {
                passed = false;
                printf("%-14s FAILED at %s (analytic %.12g, numeric %.12g)\n", op->name, r.where, r.worst_analytic,
                       r.worst_numeric);
            }
        }
        if (passed)
            printf("%-14s ok  %2d variants, %4zu elements, max rel err %.2e; f32 within %.2g of its bound\n", op->name,
                   op->n_variants, n, worst, worst32);
        bad += !passed;
    }
    sg_graph_free(g);
    sg_graph_free(g32);
    printf("%zu ops, %d failed (f64 VJPs by finite differences, f32 kernels against f64)\n", sg_op_table_len, bad);
    return bad ? SG_EXIT_FAIL : SG_EXIT_OK;
}

/* The task named by the first positional, with a usage message when absent
 * or unknown (NULL then). */
static const sg_cli_task *sg_cli_task_arg(sg_cli_args *a, const char *cmd, const char *what, bool need_train)
{
    const char *name = sg_cli_positional(a);
    const sg_cli_task *t = sg_cli_task_find(name);
    if (!t || (need_train && !t->train) || (!need_train && !t->probe)) {
        if (name)
            sg_cli_error("unknown task '%s' for %s (known: %s)", name, cmd, sg_cli_task_names(need_train));
        else
            sg_cli_error("usage: seqgrad %s %s [options] (tasks: %s; see 'seqgrad %s --help')", cmd, what,
                         sg_cli_task_names(need_train), cmd);
        return NULL;
    }
    return t;
}

int sg_cmd_gradcheck(sg_cli_args *a)
{
    /* "ops" is not a task: it checks the op table itself */
    for (size_t i = 0; i < a->n_items; i++)
        if (a->items[i].option < 0 && !a->items[i].used) {
            if (strcmp(a->items[i].value, "ops") == 0) {
                a->items[i].used = true;
                return sg_cli_check_all_used(a) ? sg_gradcheck_all_ops() : SG_EXIT_USAGE;
            }
            break;
        }
    const sg_cli_task *t = sg_cli_task_arg(a, "gradcheck", "TASK|ops", false);
    if (!t)
        return SG_EXIT_USAGE;
    sg_gradcheck_opts o = sg_gradcheck_defaults();
    bool json = sg_cli_flag(a, "json");
    if (!sg_cli_opt_size(a, "sample", 0, &o.max_per_tensor) ||
        !sg_cli_opt_double_in(a, "eps", o.eps, 0, 1, true, &o.eps))
        return SG_EXIT_USAGE;
    sg_cli_probe p;
    int rc = t->probe(a, SG_F64, true, &p);
    if (rc != SG_EXIT_OK)
        return rc;
    rc = sg_cli_check_all_used(a) ? sg_cli_gradcheck_probe(&p, &o, json) : SG_EXIT_USAGE;
    sg_cli_probe_free(&p);
    return rc;
}

int sg_cmd_graph(sg_cli_args *a)
{
    const sg_cli_task *t = sg_cli_task_arg(a, "graph", "TASK -o FILE.(dot|svg|png)", false);
    if (!t)
        return SG_EXIT_USAGE;
    const char *out = sg_cli_opt(a, "output");
    const char *collapse = sg_cli_opt(a, "collapse");
    bool grad_norms = sg_cli_flag(a, "grad-norms");
    size_t depth;
    if (!out) {
        sg_cli_error("usage: seqgrad graph %s -o FILE.(dot|svg|png) [--collapse none|scope|N] [--grad-norms]", t->name);
        return SG_EXIT_USAGE;
    }
    if (!sg_cli_parse_collapse(collapse, &depth))
        return SG_EXIT_USAGE;
    sg_cli_probe p;
    int rc = t->probe(a, SG_F32, false, &p);
    if (rc != SG_EXIT_OK)
        return rc;
    rc = sg_cli_check_all_used(a) ? sg_cli_export_probe(&p, out, depth, grad_norms) : SG_EXIT_USAGE;
    sg_cli_probe_free(&p);
    return rc;
}

int sg_cmd_train(sg_cli_args *a)
{
    const sg_cli_task *t = sg_cli_task_arg(a, "train", "TASK", true);
    return t ? t->train(a) : SG_EXIT_USAGE;
}

/* eval and generate: the task is named, or read from the checkpoint's "task"
 * string (a file with lm.* keys and no "task" is a language model). */
static int sg_cmd_from_checkpoint(sg_cli_args *a, const char *cmd, bool generate)
{
    const char *named = sg_cli_positional(a);
    const char *load = sg_cli_opt(a, "load");
    char task[64] = "";
    if (!named && load) {
        sg_checkpoint ck;
        sg_checkpoint_init(&ck);
        char err[4096];
        sg_status st = sg_checkpoint_read_meta(load, &ck, err, sizeof err);
        if (st != SG_OK) {
            sg_checkpoint_free(&ck);
            sg_cli_error("%s", err);
            return sg_cli_exit_for(st);
        }
        const char *t = sg_checkpoint_get_string(&ck, "task");
        snprintf(task, sizeof task, "%s", t ? t : sg_checkpoint_get_string(&ck, "lm.cell") ? "lm" : "");
        sg_checkpoint_free(&ck);
        if (!task[0]) {
            sg_cli_error("'%s' does not say which task wrote it (no \"task\" string): name the task, e.g. "
                         "'seqgrad %s lm --load %s'",
                         load, cmd, load);
            return SG_EXIT_INPUT;
        }
        named = task;
    }
    const sg_cli_task *t = sg_cli_task_find(named ? named : "lm");
    sg_cli_command_fn run = t ? (generate ? t->generate : t->eval) : NULL;
    if (!run) {
        sg_cli_error("task '%s' has no %s command", named ? named : "lm", cmd);
        return named == task ? SG_EXIT_INPUT : SG_EXIT_USAGE;
    }
    return run(a);
}

int sg_cmd_eval(sg_cli_args *a) { return sg_cmd_from_checkpoint(a, "eval", false); }
int sg_cmd_generate(sg_cli_args *a) { return sg_cmd_from_checkpoint(a, "generate", true); }
