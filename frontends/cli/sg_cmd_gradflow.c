/* sg_cmd_gradflow.c — `seqgrad gradflow`: how far back a gradient reaches in
 * each cell.  For every chosen cell, one backward pass of a loss at the last
 * step gives ||dL/dh_t|| for every step t, averaged over a few seeded random
 * inputs; all cells go into one picture on a log scale (the simple RNN's
 * vanishing gradient against the LSTM's carried one).
 *
 * The measurement: T steps of the cell from h_0 = 0 over inputs x_t ~ N(0, 1)
 * (B, I), the loss L = sum(h_T * r) with r ~ N(0, 1) (B, H) fixed, and
 * ||dL/dh_t|| the Frobenius norm of the gradient the tape leaves on h_t
 * (B, H), divided by the norm at t = T-1, so that every cell starts at 1.
 * The cells are built as everywhere (PyTorch's initialization); --gain g
 * multiplies every recurrent weight matrix W_h by g.
 *
 * --explode: the exploding configuration, a tanh RNN with --gain 4 unless
 * given, drawn as above, and a second picture "<name>-clip.<ext>": the
 * training loss of that RNN on a regression (the mean of the inputs' first
 * feature, read from h_T by a linear layer; SGD at --lr 0.2, a fresh batch
 * per step) without and with global-norm clipping at --clip 1. */
#include "frontends/cli/sg_cli.h"
#include "frontends/cellfile/sg_cellfile.h"
#include "frontends/plot/sg_plot.h"

#include "graph/core/sg_alloc.h"
#include "graph/core/sg_init.h"
#include "graph/optim/sg_optim.h"
#include "models/rnn/sg_cell.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

enum { SG_GF_MAX_CELLS = 16 };
/* A training run has diverged once its loss is this many times its first. */
#define SG_GF_DIVERGED 1e6

typedef struct sg_gf_cell {
    const char *spec; /* as given: "rnn", "lstm", "rnn-relu", "mgu.cell", ... */
    sg_cell_kind kind;
    sg_activation act;
    sg_cellfile *file; /* owned: a cell file, or NULL */
} sg_gf_cell;

typedef struct sg_gf_opts {
    size_t steps, hidden, input, batch, seeds, seed;
    double gain;
} sg_gf_opts;

/* A cell of the chosen kind with its parameters in ps, initialized from rng,
 * W_h scaled by gain. */
static bool sg_gf_cell_make(sg_cell *c, sg_params *ps, const sg_gf_cell *k, const sg_gf_opts *o, sg_rng *rng)
{
    if ((k->file ? sg_cellfile_make(c, ps, "cell", o->input, o->hidden, k->file)
                 : sg_cell_init_kind(c, ps, "cell", k->kind, k->act, o->input, o->hidden)) != SG_OK)
        return false;
    if (sg_cell_reset_parameters(c, rng, NULL) != SG_OK) {
        sg_cell_free(c);
        return false;
    }
    for (size_t i = 0; c->W_h && i < c->W_h->numel; i++)
        sg_param_set(c->W_h, i, o->gain * sg_param_get(c->W_h, i));
    return true;
}

/* Inputs x_t (T of them, (B, I)) drawn from rng, run through the cell:
 * hs[t] receives h_t.  Returns false on error (see g). */
static bool sg_gf_unroll(sg_graph *g, const sg_cell *c, const sg_gf_opts *o, sg_rng *rng, double *xbuf, sg_tensor **hs)
{
    sg_cell_state st;
    if (!sg_cell_state_zeros(g, c, o->batch, &st))
        return false;
    for (size_t t = 0; t < o->steps; t++) {
        for (size_t i = 0; i < o->batch * o->input; i++)
            xbuf[i] = sg_rng_normal(rng);
        sg_tensor *x = sg_input_f64(g, "x", SG_SHAPE(o->batch, o->input), xbuf, false);
        sg_cell_state next = {0};
        sg_scope_push(g, "t%zu", t);
        bool ok = x && sg_cell_step(g, c, x, &st, &next);
        sg_scope_pop(g);
        if (!ok)
            return false;
        st = (sg_cell_state){.h = next.h, .c = next.c};
        hs[t] = next.h;
    }
    return true;
}

static double sg_gf_grad_norm(const sg_tensor *t)
{
    double s = 0;
    for (size_t i = 0; i < t->numel; i++) {
        double v = sg_tensor_grad_get(t, i);
        s += v * v;
    }
    return sqrt(s);
}

/* norms (T): ||dL/dh_t|| / ||dL/dh_{T-1}||, averaged over o->seeds inputs. */
static bool sg_gf_measure(const sg_gf_cell *k, const sg_gf_opts *o, double *norms)
{
    sg_params *ps = sg_params_new(SG_F64);
    sg_graph *g = sg_graph_new(SG_F64);
    sg_tensor **hs = sg_calloc(o->steps, sizeof *hs);
    double *xbuf = sg_malloc(o->batch * (o->input > o->hidden ? o->input : o->hidden) * sizeof *xbuf);
    sg_cell c = {0};
    sg_rng rng;
    sg_rng_seed(&rng, o->seed);
    bool ok = ps && g && hs && xbuf && sg_gf_cell_make(&c, ps, k, o, &rng);
    for (size_t t = 0; t < o->steps; t++)
        norms[t] = 0;
    for (size_t s = 0; ok && s < o->seeds; s++) {
        sg_graph_reset(g);
        sg_params_zero_grad(ps);
        ok = sg_gf_unroll(g, &c, o, &rng, xbuf, hs);
        for (size_t i = 0; ok && i < o->batch * o->hidden; i++)
            xbuf[i] = sg_rng_normal(&rng);
        sg_tensor *r = ok ? sg_input_f64(g, "r", SG_SHAPE(o->batch, o->hidden), xbuf, false) : NULL;
        sg_tensor *loss = r ? sg_sum_all(g, sg_hadamard(g, hs[o->steps - 1], r)) : NULL;
        ok = loss && sg_backward(g, loss) == SG_OK;
        double last = ok ? sg_gf_grad_norm(hs[o->steps - 1]) : 0;
        for (size_t t = 0; ok && t < o->steps; t++)
            norms[t] += (last > 0 ? sg_gf_grad_norm(hs[t]) / last : 0) / (double)o->seeds;
    }
    if (!ok)
        sg_cli_error("gradflow %s: %s", k->spec, g ? sg_graph_error(g) : "out of memory");
    sg_cell_free(&c);
    sg_free(hs);
    sg_free(xbuf);
    sg_graph_free(g);
    sg_params_free(ps);
    return ok;
}

/* The exploding RNN trained n_steps on the regression, clip 0 = none:
 * loss (n_steps) per step; the run stops when the loss is not finite or
 * SG_GF_DIVERGED times its first, which is the last value recorded (the
 * rest are NaN). */
static bool sg_gf_train(const sg_gf_cell *k, const sg_gf_opts *o, double lr, double clip, size_t n_steps,
                        double *loss_out)
{
    sg_params *ps = sg_params_new(SG_F64);
    sg_graph *g = sg_graph_new(SG_F64);
    sg_tensor **hs = sg_calloc(o->steps, sizeof *hs);
    double *x = sg_malloc(o->steps * o->batch * o->input * sizeof *x), *y = sg_malloc(o->batch * sizeof *y);
    sg_cell c = {0};
    sg_linear out = {0};
    sg_optim opt;
    sg_sgd_config sc = sg_sgd_defaults();
    sc.lr = lr;
    sg_rng rng;
    sg_rng_seed(&rng, o->seed);
    bool ok = ps && g && hs && x && y && sg_gf_cell_make(&c, ps, k, o, &rng) &&
              sg_linear_init(&out, ps, "out", o->hidden, 1, true) == SG_OK &&
              sg_linear_reset_xavier(&out, &rng, 0.0) == SG_OK && sg_optim_init_sgd(&opt, &sc) == SG_OK;
    for (size_t s = 0; s < n_steps; s++)
        loss_out[s] = NAN;
    bool diverged = false;
    for (size_t s = 0; ok && !diverged && s < n_steps; s++) {
        sg_graph_reset(g);
        sg_params_zero_grad(ps);
        for (size_t j = 0; j < o->batch; j++)
            y[j] = 0;
        for (size_t i = 0; i < o->steps * o->batch * o->input; i++) {
            x[i] = sg_rng_normal(&rng);
            if (i % o->input == 0)
                y[(i / o->input) % o->batch] += x[i] / (double)o->steps;
        }
        sg_cell_state st;
        ok = sg_cell_state_zeros(g, &c, o->batch, &st);
        for (size_t t = 0; ok && t < o->steps; t++) {
            sg_tensor *xt = sg_input_f64(g, "x", SG_SHAPE(o->batch, o->input), x + t * o->batch * o->input, false);
            sg_cell_state next = {0};
            ok = xt && sg_cell_step(g, &c, xt, &st, &next);
            st = (sg_cell_state){.h = next.h, .c = next.c};
        }
        sg_tensor *pred = ok ? sg_reshape(g, sg_linear_forward(g, &out, st.h), SG_SHAPE(o->batch)) : NULL;
        sg_tensor *loss =
            pred ? sg_loss_mse(g, pred, sg_input_f64(g, "y", SG_SHAPE(o->batch), y, false), SG_REDUCE_MEAN) : NULL;
        ok = loss != NULL;
        double l = ok ? sg_tensor_get(loss, 0) : NAN;
        loss_out[s] = l;
        if (!ok || !isfinite(l) || (s > 0 && l > SG_GF_DIVERGED * loss_out[0])) {
            diverged = ok; /* the run stops there: every later step is NaN (and not drawn) */
            break;
        }
        ok = sg_backward(g, loss) == SG_OK;
        double norm = ok ? sg_params_grad_norm(ps) : NAN;
        if (ok && !isfinite(norm)) {
            diverged = true;
            break;
        }
        if (ok && clip > 0)
            sg_params_clip_grad_norm(ps, clip);
        ok = ok && sg_optim_step(&opt, ps) == SG_OK;
    }
    if (!ok)
        sg_cli_error("gradflow training: %s", g ? sg_graph_error(g) : "out of memory");
    sg_cell_free(&c);
    sg_free(hs);
    sg_free(x);
    sg_free(y);
    sg_graph_free(g);
    sg_params_free(ps);
    return ok;
}

/* "<stem>-clip.<ext>" for "<stem>.<ext>". */
static void sg_gf_clip_path(const char *path, char *buf, size_t cap)
{
    const char *dot = strrchr(path, '.');
    size_t stem = dot ? (size_t)(dot - path) : strlen(path);
    snprintf(buf, cap, "%.*s-clip%s", (int)stem, path, dot ? dot : "");
}

int sg_cmd_gradflow(sg_cli_args *a)
{
    const char *specs[SG_GF_MAX_CELLS];
    size_t n_cells = sg_cli_opt_all(a, "cell", specs, SG_GF_MAX_CELLS);
    const char *out = sg_cli_opt(a, "output");
    const bool json = sg_cli_flag(a, "json"), explode = sg_cli_flag(a, "explode");
    sg_gf_opts o;
    double lr, clip;
    size_t train_steps;
    if (!sg_cli_opt_size_in(a, "steps", 50, 2, 100000, &o.steps) ||
        !sg_cli_opt_size_in(a, "hidden", 64, 1, 65536, &o.hidden) ||
        !sg_cli_opt_size_in(a, "batch", 8, 1, 65536, &o.batch) ||
        !sg_cli_opt_size_in(a, "seeds", 5, 1, 10000, &o.seeds) || !sg_cli_opt_size(a, "seed", 1, &o.seed) ||
        !sg_cli_opt_double_in(a, "gain", explode ? 4.0 : 1.0, 0, 1e3, true, &o.gain) ||
        !sg_cli_opt_double_in(a, "lr", 0.2, 0, 1e4, true, &lr) ||
        !sg_cli_opt_double_in(a, "clip", 1.0, 0, 1e6, true, &clip) ||
        !sg_cli_opt_size_in(a, "train-steps", 200, 1, 1000000, &train_steps) || !sg_cli_check_all_used(a))
        return SG_EXIT_USAGE;
    o.input = 16;
    if (n_cells > SG_GF_MAX_CELLS) {
        sg_cli_error("at most %d --cell options", SG_GF_MAX_CELLS);
        return SG_EXIT_USAGE;
    }
    static const char *const defaults[] = {"rnn", "lstm", "gru"};
    if (!n_cells) {
        n_cells = explode ? 1 : 3;
        for (size_t i = 0; i < n_cells; i++)
            specs[i] = explode ? "rnn" : defaults[i];
    }
    if (!out && !json) {
        sg_cli_error("usage: seqgrad gradflow [--cell KIND]... [--steps 50] -o flow.png [--json] [--explode]");
        return SG_EXIT_USAGE;
    }
    sg_gf_cell cells[SG_GF_MAX_CELLS] = {{0}};
    int rc = SG_EXIT_USAGE;
    for (size_t i = 0; i < n_cells; i++) {
        cells[i].spec = specs[i];
        int lrc = sg_cli_load_cell(specs[i], &cells[i].file);
        if (lrc != SG_EXIT_OK) {
            rc = lrc;
            goto out;
        }
        if (!cells[i].file && !sg_cli_parse_cell(specs[i], &cells[i].kind, &cells[i].act))
            goto out;
    }
    rc = SG_EXIT_FAIL;
    double *norms = sg_calloc(n_cells * o.steps, sizeof *norms);
    double *xs = sg_malloc(o.steps * sizeof *xs), *curves = sg_malloc(2 * train_steps * sizeof *curves);
    double *steps_x = sg_malloc(train_steps * sizeof *steps_x);
    char err[1024];
    if (!norms || !xs || !curves || !steps_x) {
        sg_cli_error("out of memory");
        goto done;
    }
    for (size_t t = 0; t < o.steps; t++)
        xs[t] = (double)t;
    for (size_t i = 0; i < n_cells; i++)
        if (!sg_gf_measure(&cells[i], &o, norms + i * o.steps))
            goto done;
    if (explode) {
        for (size_t s = 0; s < train_steps; s++)
            steps_x[s] = (double)(s + 1);
        if (!sg_gf_train(&cells[0], &o, lr, 0.0, train_steps, curves) ||
            !sg_gf_train(&cells[0], &o, lr, clip, train_steps, curves + train_steps))
            goto done;
    }
    if (out) {
        sg_plot_series series[SG_GF_MAX_CELLS];
        for (size_t i = 0; i < n_cells; i++)
            series[i] = (sg_plot_series){.name = cells[i].spec, .x = xs, .y = norms + i * o.steps, .n = o.steps};
        char title[256];
        char gain[32] = "";
        if (o.gain != 1.0)
            snprintf(gain, sizeof gain, ", W_h x %g", o.gain);
        snprintf(title, sizeof title, "||dL/dh_t|| / ||dL/dh_%zu||, L at the last step (H %zu, mean of %zu inputs%s)",
                 o.steps - 1, o.hidden, o.seeds, gain);
        if (sg_plot_curves(out, title, "step t", "relative gradient norm (log)", series, n_cells, true, err,
                           sizeof err) != SG_OK) {
            sg_cli_error("%s", err);
            goto done;
        }
        printf("wrote %s (%zu cells, %zu steps)\n", out, n_cells, o.steps);
        if (explode) {
            char path[4096];
            sg_gf_clip_path(out, path, sizeof path);
            char name[2][64];
            snprintf(name[0], sizeof name[0], "no clipping");
            snprintf(name[1], sizeof name[1], "global-norm clip %g", clip);
            sg_plot_series tr[2] = {{name[0], steps_x, curves, train_steps},
                                    {name[1], steps_x, curves + train_steps, train_steps}};
            snprintf(title, sizeof title, "%s, W_h x %g, %zu steps: training loss (SGD lr %g)", cells[0].spec, o.gain,
                     o.steps, lr);
            if (sg_plot_curves(path, title, "training step", "MSE (log)", tr, 2, true, err, sizeof err) != SG_OK) {
                sg_cli_error("%s", err);
                goto done;
            }
            printf("wrote %s (the training loss without and with clipping)\n", path);
        }
    }
    if (json) {
        cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "cells");
        cJSON_AddNumberToObject(root, "steps", (double)o.steps);
        cJSON_AddNumberToObject(root, "gain", o.gain);
        for (size_t i = 0; i < n_cells; i++) {
            cJSON *c = cJSON_CreateObject();
            cJSON_AddStringToObject(c, "cell", cells[i].spec);
            cJSON_AddItemToObject(c, "relative_grad_norm", cJSON_CreateDoubleArray(norms + i * o.steps, (int)o.steps));
            cJSON_AddItemToArray(arr, c);
        }
        if (explode) {
            cJSON_AddItemToObject(root, "loss_no_clip", cJSON_CreateDoubleArray(curves, (int)train_steps));
            cJSON_AddItemToObject(root, "loss_clip", cJSON_CreateDoubleArray(curves + train_steps, (int)train_steps));
        }
        char *text = cJSON_PrintUnformatted(root);
        if (text)
            printf("%s\n", text);
        cJSON_free(text);
        cJSON_Delete(root);
    }
    rc = SG_EXIT_OK;
done:
    sg_free(norms);
    sg_free(xs);
    sg_free(curves);
    sg_free(steps_x);
out:
    for (size_t i = 0; i < n_cells; i++)
        sg_cellfile_free(cells[i].file);
    return rc;
}
