/* sg_cmd_sine.c — `seqgrad train sine`: the sine-wave prediction task.  A
 * simple RNN (or any built-in cell) reads W past values and predicts the next;
 * Adam on mini-batches of training windows; reports train and test MSE and
 * draws the one-step predictions against the true curve over the test range. */
#include "frontends/cli/sg_cli_task.h"

#include "graph/core/sg_alloc.h"
#include "graph/core/sg_init.h"
#include "graph/optim/sg_optim.h"
#include "graph/core/sg_rng.h"
#include "models/data/sg_sine_data.h"
#include "models/sine/sg_sine_model.h"
#include "frontends/plot/sg_plot.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Mean squared error over a whole split, and optionally its predictions. */
static bool sg_sine_eval(sg_graph *g, const sg_sine_model *m, const sg_sine *data, sg_sine_split split, size_t B,
                         float *x, float *y, double *mse, double *pred_out)
{
    size_t n = sg_sine_split_size(data, split), done = 0, k = 0, bk;
    double total = 0;
    sg_graph_set_grad_enabled(g, false);
    while ((bk = sg_sine_batch_f32(data, split, k++, B, x, y)) > 0) {
        sg_graph_reset(g);
        sg_tensor *pred = NULL;
        sg_tensor *xs = sg_input_f32(g, "x", SG_SHAPE(data->window, bk, 1), x, false);
        sg_tensor *ys = sg_input_f32(g, "y", SG_SHAPE(bk, 1), y, false);
        sg_tensor *loss = sg_sine_model_forward(g, m, xs, ys, &pred);
        if (!loss) {
            sg_cli_error("%s", sg_graph_error(g));
            sg_graph_set_grad_enabled(g, true);
            return false;
        }
        total += sg_tensor_get(loss, 0) * (double)bk;
        for (size_t i = 0; pred_out && i < bk; i++)
            pred_out[done + i] = sg_tensor_get(pred, i);
        done += bk;
    }
    sg_graph_set_grad_enabled(g, true);
    *mse = total / (double)(n ? n : 1);
    return true;
}

int sg_cmd_train_sine(sg_cli_args *a)
{
    size_t hidden, window, steps, batch, seed;
    double lr, noise;
    const char *cell = sg_cli_opt(a, "cell");
    const char *out = sg_cli_opt(a, "out");
    if (!sg_cli_opt_size_in(a, "hidden", 16, 1, 65536, &hidden) ||
        !sg_cli_opt_size_in(a, "window", 20, 1, 100000, &window) ||
        !sg_cli_opt_size_in(a, "steps", 1500, 1, 100000000, &steps) ||
        !sg_cli_opt_size_in(a, "batch", 32, 1, 1000000, &batch) || !sg_cli_opt_size(a, "seed", 1, &seed) ||
        !sg_cli_opt_double_in(a, "lr", 0.01, 0, 1e4, true, &lr) ||
        !sg_cli_opt_double_in(a, "noise", 0.0, 0, 1e3, false, &noise) || !sg_cli_check_all_used(a))
        return 2;
    sg_cell_kind kind = SG_CELL_RNN;
    if (cell && sg_cell_kind_parse(cell, &kind) != SG_OK) {
        sg_cli_error("--cell must be rnn, lstm, peephole or gru, not '%s'", cell);
        return 2;
    }
    if (!hidden || !window || !batch || !(lr > 0)) {
        sg_cli_error("--hidden, --window, --batch and --lr must be positive");
        return 2;
    }
    if (!out)
        out = "seqgrad-sine";
    if (!sg_cli_ensure_dir(out))
        return 1;
    sg_rng rng;
    sg_rng_seed(&rng, seed);
    sg_sine data;
    sg_sine_opts so = sg_sine_defaults();
    so.window = window;
    so.noise_std = noise;
    char err[4096];
    if (sg_sine_init(&data, &so, &rng, err, sizeof err) != SG_OK) {
        sg_cli_error("%s", err);
        return 1;
    }
    int rc = 1;
    sg_params *ps = sg_params_new(SG_F32);
    sg_graph *g = sg_graph_new(SG_F32);
    sg_sine_model m = {0};
    bool m_ready = false;
    size_t n_test = sg_sine_split_size(&data, SG_SINE_TEST), n_train = sg_sine_split_size(&data, SG_SINE_TRAIN);
    float *x = sg_malloc(window * batch * sizeof *x), *y = sg_malloc(batch * sizeof *y);
    size_t *idx = sg_malloc((n_train ? n_train : 1) * sizeof *idx);
    double *pred = sg_malloc((n_test ? n_test : 1) * sizeof *pred), *tx = sg_malloc((n_test ? n_test : 1) * sizeof *tx);
    double *ty = sg_malloc((n_test ? n_test : 1) * sizeof *ty);
    if (!ps || !g || !x || !y || !idx || !pred || !tx || !ty) {
        sg_cli_error("out of memory");
        goto done;
    }
    if (sg_sine_model_init(&m, ps, kind, SG_ACT_TANH, hidden) != SG_OK) {
        sg_cli_error("could not build the model");
        goto done;
    }
    m_ready = true;
    sg_optim opt;
    sg_adam_config ac = sg_adam_defaults();
    ac.lr = lr;
    if (sg_params_init_uniform(ps, &rng, -0.3, 0.3) != SG_OK || sg_optim_init_adam(&opt, &ac) != SG_OK) {
        sg_cli_error("could not initialize the model and the optimizer (--lr %g)", lr);
        goto done;
    }
    for (size_t i = 0; i < n_train; i++)
        idx[i] = sg_sine_split_window(&data, SG_SINE_TRAIN, i);
    printf("sine-wave prediction: %s cell, %zu units, window %zu, %zu train / %zu test windows, Adam lr %g\n",
           sg_cell_kind_name(kind), hidden, window, n_train, n_test, lr);
    size_t pos = n_train;
    for (size_t step = 1; step <= steps; step++) {
        if (pos + batch > n_train) {
            sg_rng_shuffle(&rng, idx, n_train);
            pos = 0;
        }
        size_t bk = batch < n_train ? batch : n_train;
        if (sg_sine_fill_f32(&data, idx + pos, bk, x, y) != SG_OK) {
            sg_cli_error("could not assemble training batch %zu", step);
            goto done;
        }
        pos += bk;
        sg_graph_reset(g);
        sg_params_zero_grad(ps);
        sg_tensor *xs = sg_input_f32(g, "x", SG_SHAPE(window, bk, 1), x, false);
        sg_tensor *ys = sg_input_f32(g, "y", SG_SHAPE(bk, 1), y, false);
        sg_tensor *loss = sg_sine_model_forward(g, &m, xs, ys, NULL);
        if (!loss || sg_backward(g, loss) != SG_OK) {
            sg_cli_error("%s", sg_graph_error(g));
            goto done;
        }
        sg_params_clip_grad_norm(ps, 1.0);
        if (sg_optim_step(&opt, ps) != SG_OK) {
            sg_cli_error("optimizer step %zu failed", step);
            goto done;
        }
        if (step % (steps / 5 ? steps / 5 : 1) == 0)
            printf("  step %5zu  batch mse %.2e\n", step, sg_tensor_get(loss, 0));
    }
    double train_mse, test_mse;
    if (!sg_sine_eval(g, &m, &data, SG_SINE_TRAIN, batch, x, y, &train_mse, NULL) ||
        !sg_sine_eval(g, &m, &data, SG_SINE_TEST, batch, x, y, &test_mse, pred))
        goto done;
    printf("train mse %.3e  test mse %.3e (signal variance %.3f)\n", train_mse, test_mse,
           0.5 * so.amplitude * so.amplitude);
    for (size_t j = 0; j < n_test; j++) {
        size_t w = sg_sine_split_window(&data, SG_SINE_TEST, j);
        tx[j] = (double)(w + window); /* the time step predicted */
        ty[j] = data.series[w + window];
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/sine.png", out);
    sg_plot_series series[2] = {{.name = "true curve", .x = tx, .y = ty, .n = n_test},
                                {.name = "one-step prediction", .x = tx, .y = pred, .n = n_test}};
    if (sg_plot_curves(path, "seqgrad: simple RNN predicting a sine wave (test range)", "time step", "value", series, 2,
                       false, err, sizeof err) != 0) {
        sg_cli_error("could not draw '%s': %s", path, err);
        goto done;
    }
    printf("wrote %s (prediction against the true curve)\n", path);
    rc = 0;
done:
    if (m_ready)
        sg_sine_model_free(&m);
    sg_graph_free(g);
    sg_params_free(ps);
    sg_sine_free(&data);
    sg_free(x);
    sg_free(y);
    sg_free(idx);
    sg_free(pred);
    sg_free(tx);
    sg_free(ty);
    return rc;
}

/* ---- the probe: one batch of two windows of a clean sine ------------------ */

typedef struct sg_sine_probe {
    sg_sine_model m;
    size_t window;
    float x[2 * 64], y[2]; /* (W, 2, 1), (2, 1); W <= 64 */
} sg_sine_probe;

static sg_tensor *sg_sine_probe_loss(sg_graph *g, void *self)
{
    sg_sine_probe *p = self;
    sg_tensor *xs = sg_input_f32(g, "x", SG_SHAPE(p->window, 2, 1), p->x, false);
    sg_tensor *ys = sg_input_f32(g, "y", SG_SHAPE(2, 1), p->y, false);
    return sg_sine_model_forward(g, &p->m, xs, ys, NULL);
}

static void sg_sine_probe_free(void *self)
{
    sg_sine_probe *p = self;
    sg_sine_model_free(&p->m);
    sg_free(p);
}

int sg_task_sine_probe(sg_cli_args *a, sg_dtype dtype, bool for_check, sg_cli_probe *out)
{
    memset(out, 0, sizeof *out);
    size_t hidden, window, seed;
    const char *cell = sg_cli_opt(a, "cell");
    if (!sg_cli_opt_size_in(a, "hidden", for_check ? 4 : 16, 1, 65536, &hidden) ||
        !sg_cli_opt_size_in(a, "window", for_check ? 6 : 20, 1, 64, &window) || !sg_cli_opt_size(a, "seed", 1, &seed))
        return SG_EXIT_USAGE;
    sg_cell_kind kind = SG_CELL_RNN;
    if (cell && sg_cell_kind_parse(cell, &kind) != SG_OK) {
        sg_cli_error("--cell must be rnn, lstm, peephole or gru, not '%s'", cell);
        return SG_EXIT_USAGE;
    }
    if (!hidden || !window || window > 64) {
        sg_cli_error("--hidden must be positive and --window between 1 and 64 for a picture or check");
        return SG_EXIT_USAGE;
    }
    sg_sine_probe *p = sg_calloc(1, sizeof *p);
    sg_params *ps = sg_params_new(dtype);
    if (!p || !ps || sg_sine_model_init(&p->m, ps, kind, SG_ACT_TANH, hidden) != SG_OK) {
        sg_cli_error("could not build the model");
        sg_free(p);
        sg_params_free(ps);
        return SG_EXIT_FAIL;
    }
    sg_rng rng;
    sg_rng_seed(&rng, seed);
    if (sg_params_init_uniform(ps, &rng, -0.3, 0.3) != SG_OK) {
        sg_cli_error("could not initialize the model");
        sg_sine_probe_free(p);
        sg_params_free(ps);
        return SG_EXIT_FAIL;
    }
    p->window = window;
    for (size_t t = 0; t <= window; t++)
        for (size_t b = 0; b < 2; b++) {
            float v = (float)sin(0.3 * (double)(t + 5 * b));
            if (t < window)
                p->x[t * 2 + b] = v;
            else
                p->y[b] = v;
        }
    *out = (sg_cli_probe){
        .ps = ps, .owns_ps = true, .self = p, .loss = sg_sine_probe_loss, .free_self = sg_sine_probe_free};
    snprintf(out->title, sizeof out->title, "%s sine predictor, %zu units, window %zu", sg_cell_kind_name(kind), hidden,
             window);
    snprintf(out->describe, sizeof out->describe, "the %s sine predictor (f64, H %zu, W %zu, B 2, %zu parameters)",
             sg_cell_kind_name(kind), hidden, window, sg_params_numel(ps));
    return SG_EXIT_OK;
}
