/* sg_cmd_demo.c — `seqgrad demo`: the first end-to-end run.  An Elman RNN
 * written only with op calls learns 8-bit binary addition from generated pairs
 * (Adam, mini-batches), until every one of the 16,384 pairs of 7-bit numbers is
 * added exactly; then it is gradient-checked in f64, its unrolled graph is drawn
 * (.dot, .png, op mode and collapsed), and its loss curve is plotted. */
#include "frontends/cli/sg_cli_progress.h"
#include "frontends/cli/sg_cli_task.h"

#include "graph/core/sg_alloc.h"
#include "graph/optim/sg_optim.h"
#include "graph/core/sg_rng.h"
#include "frontends/plot/sg_plot.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct sg_demo_cfg {
    sg_addition_cfg model;
    size_t steps, batch, eval_every;
    double lr;
    const char *out;
} sg_demo_cfg;

static bool sg_demo_parse(sg_cli_args *a, sg_demo_cfg *c)
{
    if (!sg_cli_addition_cfg(a, &c->model) || !sg_cli_opt_size_in(a, "steps", 20000, 1, 100000000, &c->steps) ||
        !sg_cli_opt_size_in(a, "batch", 32, 1, 1000000, &c->batch) ||
        !sg_cli_opt_size_in(a, "eval-every", 25, 1, 100000000, &c->eval_every) ||
        !sg_cli_opt_double_in(a, "lr", 0.01, 0, 1e4, true, &c->lr))
        return false;
    c->out = sg_cli_opt(a, "out");
    if (!c->out)
        c->out = "seqgrad-demo";
    if (c->batch < 1 || c->steps < 1 || c->eval_every < 1 || !(c->lr > 0)) {
        sg_cli_error("--batch, --steps, --eval-every and --lr must be positive");
        return false;
    }
    return sg_cli_check_all_used(a);
}

typedef struct sg_demo_run {
    sg_params *ps;
    sg_addition m;
    sg_graph *g;      /* training graph (f32), reset every step */
    sg_graph *eval_g; /* evaluation graph (no-grad) */
    uint32_t *a, *b;  /* (n_pairs) every operand pair */
    size_t n_pairs;
    size_t *order;                                /* (n_pairs) shuffled each epoch */
    uint32_t *ba, *bb;                            /* (batch) current batch */
    double *curve_x, *curve_loss, *acc_x, *acc_y; /* loss per step, accuracy per eval */
    size_t n_curve, n_acc;
} sg_demo_run;

static void sg_demo_free(sg_demo_run *r)
{
    sg_graph_free(r->g);
    sg_graph_free(r->eval_g);
    sg_addition_free(&r->m);
    sg_params_free(r->ps);
    sg_free(r->a);
    sg_free(r->b);
    sg_free(r->order);
    sg_free(r->ba);
    sg_free(r->bb);
    sg_free(r->curve_x);
    sg_free(r->curve_loss);
    sg_free(r->acc_x);
    sg_free(r->acc_y);
}

static bool sg_demo_plot(const sg_demo_run *r, const char *path)
{
    sg_plot_series s[2] = {
        {.name = "training loss (mean BCE per bit)", .x = r->curve_x, .y = r->curve_loss, .n = r->n_curve},
        {.name = "error rate on all pairs (1 - exact-match accuracy)", .x = r->acc_x, .y = r->acc_y, .n = r->n_acc},
    };
    char err[4096];
    if (sg_plot_curves(path, "seqgrad demo: Elman RNN learning 8-bit binary addition", "training step",
                       "loss / error rate", s, 2, false, err, sizeof err) != 0) {
        sg_cli_error("could not draw the loss curve: %s", err);
        return false;
    }
    return true;
}

int sg_cmd_demo(sg_cli_args *a)
{
    sg_demo_cfg cfg;
    if (!sg_demo_parse(a, &cfg))
        return 2;
    if (!sg_cli_ensure_dir(cfg.out))
        return 1;
    sg_demo_run r = {0};
    int rc = 1;
    bool tty = isatty(STDOUT_FILENO);
    r.ps = sg_cli_addition_new(&cfg.model, SG_F32, &r.m);
    r.g = sg_graph_new(SG_F32);
    r.eval_g = sg_graph_new(SG_F32);
    if (!r.ps || !r.g || !r.eval_g || !sg_cli_addition_pairs(cfg.model.bits, &r.a, &r.b, &r.n_pairs)) {
        sg_cli_error("could not set up the demo (out of memory?)");
        goto done;
    }
    size_t max_evals = cfg.steps / cfg.eval_every + 2;
    r.order = sg_malloc(r.n_pairs * sizeof *r.order);
    r.ba = sg_malloc(cfg.batch * sizeof *r.ba);
    r.bb = sg_malloc(cfg.batch * sizeof *r.bb);
    r.curve_x = sg_malloc(cfg.steps * sizeof(double));
    r.curve_loss = sg_malloc(cfg.steps * sizeof(double));
    r.acc_x = sg_malloc(max_evals * sizeof(double));
    r.acc_y = sg_malloc(max_evals * sizeof(double));
    if (!r.order || !r.ba || !r.bb || !r.curve_x || !r.curve_loss || !r.acc_x || !r.acc_y) {
        sg_cli_error("out of memory");
        goto done;
    }
    sg_rng rng; /* batches; the model was initialized from the same seed */
    sg_rng_seed(&rng, cfg.model.seed);
    for (size_t i = 0; i < r.n_pairs; i++)
        r.order[i] = i;
    sg_adam_config adam = sg_adam_defaults();
    adam.lr = cfg.lr;
    sg_optim opt;
    if (sg_optim_init_adam(&opt, &adam) != SG_OK) {
        sg_cli_error("bad optimizer settings");
        goto done;
    }

    printf("seqgrad demo: Elman RNN (%s, %zu hidden units) learns %zu-bit binary addition\n",
           sg_activation_name(cfg.model.act), cfg.model.hidden, cfg.model.bits);
    printf("  %zu parameters; all %zu pairs of %zu-bit numbers; batch %zu, Adam lr %g, seed %zu\n",
           sg_params_numel(r.ps), r.n_pairs, cfg.model.bits - 1, cfg.batch, cfg.lr, cfg.model.seed);
    fflush(stdout);

    double t0 = sg_cli_now(), loss_avg = 0;
    size_t pos = r.n_pairs, correct = 0, step = 0, allocs_at_warm = 0, warm_step = 0;
    for (step = 1; step <= cfg.steps; step++) {
        if (step == 3) { /* after warm-up, a step must not touch the heap */
            allocs_at_warm = sg_alloc_count();
            warm_step = step;
        }
        if (pos + cfg.batch > r.n_pairs) {
            sg_rng_shuffle(&rng, r.order, r.n_pairs);
            pos = 0;
        }
        size_t bsz = cfg.batch < r.n_pairs ? cfg.batch : r.n_pairs;
        for (size_t i = 0; i < bsz; i++) {
            r.ba[i] = r.a[r.order[pos + i]];
            r.bb[i] = r.b[r.order[pos + i]];
        }
        pos += bsz;
        sg_graph_reset(r.g);
        sg_params_zero_grad(r.ps);
        sg_tensor *loss = sg_addition_loss(r.g, &r.m, r.ba, r.bb, bsz, NULL);
        if (!loss || sg_backward(r.g, loss) != SG_OK || sg_optim_step(&opt, r.ps) != SG_OK) {
            sg_cli_error("training step %zu failed: %s", step, sg_graph_error(r.g));
            goto done;
        }
        double l = sg_tensor_get(loss, 0);
        r.curve_x[r.n_curve] = (double)step;
        r.curve_loss[r.n_curve++] = l;
        loss_avg = step == 1 ? l : 0.98 * loss_avg + 0.02 * l;
        if (step % cfg.eval_every == 0 || step == cfg.steps) {
            size_t allocs_before_eval = sg_alloc_count();
            correct = sg_addition_count_correct(r.eval_g, &r.m, r.a, r.b, r.n_pairs);
            if (correct == SIZE_MAX) {
                sg_cli_error("evaluation failed: %s", sg_graph_error(r.eval_g));
                goto done;
            }
            /* evaluation may grow its own arena the first time: don't count it */
            allocs_at_warm += sg_alloc_count() - allocs_before_eval;
            double acc = (double)correct / (double)r.n_pairs;
            r.acc_x[r.n_acc] = (double)step;
            r.acc_y[r.n_acc++] = 1.0 - acc;
            double el = sg_cli_now() - t0;
            if (tty)
                printf("\r  step %6zu/%zu  loss %.4f  exact-match accuracy %6.2f%%  %5.1fs  ", step, cfg.steps,
                       loss_avg, 100 * acc, el);
            else
                printf("  step %6zu  loss %.4f  exact-match accuracy %6.2f%%  %5.1fs\n", step, loss_avg, 100 * acc, el);
            fflush(stdout);
            if (correct == r.n_pairs)
                break;
        }
    }
    if (step > cfg.steps)
        step = cfg.steps;
    double train_s = sg_cli_now() - t0;
    size_t steady_allocs = sg_alloc_count() - allocs_at_warm;
    if (tty)
        printf("\n");
    printf("trained %zu steps in %.1f s: %zu / %zu pairs exactly right (%.2f%%)\n", step, train_s, correct, r.n_pairs,
           100.0 * (double)correct / (double)r.n_pairs);
    printf("heap allocations in the %zu training steps after warm-up: %zu\n",
           step >= warm_step ? step - warm_step + 1 : 0, steady_allocs);

    sg_cli_probe check, draw;
    bool grad_ok = sg_task_addition_probe_of(&r.m, r.ps, false, true, 4, cfg.model.seed, &check) &&
                   sg_cli_gradcheck_probe(&check, NULL, false) == SG_EXIT_OK;
    sg_cli_probe_free(&check);

    char p_dot[1024], p_png[1024], p_col[1024], p_loss[1024];
    snprintf(p_dot, sizeof p_dot, "%s/addition_graph.dot", cfg.out);
    snprintf(p_png, sizeof p_png, "%s/addition_graph.png", cfg.out);
    snprintf(p_col, sizeof p_col, "%s/addition_graph_collapsed.png", cfg.out);
    snprintf(p_loss, sizeof p_loss, "%s/loss.png", cfg.out);
    bool files_ok = sg_task_addition_probe_of(&r.m, r.ps, false, false, 1, cfg.model.seed, &draw) &&
                    sg_cli_export_probe(&draw, p_dot, 0, false) == SG_EXIT_OK &&
                    sg_cli_export_probe(&draw, p_png, 0, true) == SG_EXIT_OK &&
                    sg_cli_export_probe(&draw, p_col, SIZE_MAX, true) == SG_EXIT_OK && sg_demo_plot(&r, p_loss);
    sg_cli_probe_free(&draw);
    if (files_ok)
        printf("wrote %s (loss curve); the graphs are one example unrolled: every op, then one node per time step\n",
               p_loss);
    if (correct != r.n_pairs)
        sg_cli_error("the RNN did not reach 100%% accuracy in %zu steps (try --steps or another --seed)", cfg.steps);
    rc = (correct == r.n_pairs && grad_ok && files_ok) ? 0 : 1;
done:
    sg_demo_free(&r);
    return rc;
}
