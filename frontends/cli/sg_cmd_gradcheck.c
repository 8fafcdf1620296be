/* sg_cmd_gradcheck.c — `seqgrad gradcheck addition|ops`: numerical gradient
 * checks in f64.  Model mode compares backward with central differences of the
 * loss; per-op mode checks each op's VJP on the recorded tape and names the
 * first wrong one. */
#include "frontends/cli/sg_cli.h"

#include "graph/core/sg_alloc.h"
#include "graph/gradcheck/sg_gradcheck.h"
#include "graph/core/sg_rng.h"
#include "ops/sg_op_table.h"

#include <stdio.h>
#include <string.h>

typedef struct sg_addition_ctx {
    const sg_addition *m;
    const uint32_t *a, *b;
    size_t n;
} sg_addition_ctx;

static sg_tensor *sg_addition_loss_fn(sg_graph *g, void *ctx)
{
    const sg_addition_ctx *c = ctx;
    return sg_addition_loss(g, c->m, c->a, c->b, c->n, NULL);
}

static void sg_print_report(const char *mode, const sg_gradcheck_report *r, double tol)
{
    printf("gradcheck %-8s %s: %zu elements, max abs err %.3e, max rel err %.3e (tol %.0e)\n", mode,
           r->passed ? "passed" : "FAILED", r->n_checked, r->max_abs_err, r->max_rel_err, tol);
    printf("    worst at %s: analytic %.12g, numeric %.12g\n", r->where[0] ? r->where : "-", r->worst_analytic,
           r->worst_numeric);
    if (!r->passed && r->bad_op)
        printf("    first wrong VJP: op '%s' at tape node %zu in scope '%s'\n", r->bad_op, r->bad_tape_index,
               r->bad_scope[0] ? r->bad_scope : "(root)");
}

bool sg_cli_addition_gradcheck(sg_addition *m, sg_params *ps, size_t n_pairs, size_t seed, bool verbose)
{
    (void)verbose;
    sg_dtype was = ps->dtype;
    if (sg_params_set_dtype(ps, SG_F64) != SG_OK) {
        sg_cli_error("out of memory converting the parameters to f64");
        return false;
    }
    uint32_t a[64], b[64];
    if (n_pairs > 64)
        n_pairs = 64;
    sg_rng rng;
    sg_rng_seed(&rng, seed + 12345);
    uint32_t side = 1u << (m->bits - 1);
    for (size_t i = 0; i < n_pairs; i++) {
        a[i] = (uint32_t)sg_rng_below(&rng, side);
        b[i] = (uint32_t)sg_rng_below(&rng, side);
    }
    sg_addition_ctx ctx = {m, a, b, n_pairs};
    sg_graph *g = sg_graph_new(SG_F64);
    bool ok = g != NULL;
    sg_gradcheck_opts o = sg_gradcheck_defaults();
    sg_gradcheck_report model, perop;
    if (ok) {
        sg_status st = sg_gradcheck_model(g, ps, sg_addition_loss_fn, &ctx, &o, &model);
        if (st) {
            sg_cli_error("gradcheck failed to run: %s", sg_graph_error(g)[0] ? sg_graph_error(g) : sg_status_str(st));
            ok = false;
        }
    }
    if (ok) {
        /* g holds one evaluation with gradients: check each op on that tape. */
        sg_status st = sg_gradcheck_tape(g, &o, &perop);
        if (st) {
            sg_cli_error("per-op gradcheck failed to run: %s", sg_status_str(st));
            ok = false;
        }
    }
    if (ok) {
        printf("gradient check of the addition RNN (f64, %zu pairs, %zu steps, %zu parameters, tape %zu nodes):\n",
               n_pairs, m->bits, sg_params_numel(ps), sg_graph_tape_len(g));
        sg_print_report("model", &model, o.tol);
        sg_print_report("per-op", &perop, o.tol);
        ok = model.passed && perop.passed;
    }
    sg_graph_free(g);
    if (sg_params_set_dtype(ps, was) != SG_OK) {
        sg_cli_error("out of memory converting the parameters back");
        ok = false;
    }
    return ok;
}

/* Every op in the table, on its gradient-check examples. */
static int sg_gradcheck_all_ops(void)
{
    sg_graph *g = sg_graph_new(SG_F64);
    if (!g) {
        sg_cli_error("out of memory");
        return 1;
    }
    sg_gradcheck_opts o = sg_gradcheck_defaults();
    int bad = 0;
    for (size_t i = 0; i < sg_op_table_len; i++) {
        const sg_op *op = sg_op_table[i];
        double worst = 0;
        size_t n = 0;
        bool passed = true;
        for (int v = 0; v < op->n_variants; v++) {
            sg_graph_reset(g);
            sg_rng rng;
            sg_rng_seed(&rng, 1000 + (uint64_t)v);
            sg_gradcheck_report r;
            if (!op->example(g, &rng, v) || sg_gradcheck_tape(g, &o, &r) != SG_OK) {
                printf("%-14s ERROR %s\n", op->name, sg_graph_error(g));
                passed = false;
                break;
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
            printf("%-14s ok  %2d variants, %4zu elements, max rel err %.2e\n", op->name, op->n_variants, n, worst);
        bad += !passed;
    }
    sg_graph_free(g);
    printf("%zu ops, %d failed\n", sg_op_table_len, bad);
    return bad ? 1 : 0;
}

int sg_cmd_gradcheck(sg_cli_args *a)
{
    const char *what = sg_cli_positional(a);
    if (!what) {
        sg_cli_error("usage: seqgrad gradcheck addition|ops [options]");
        return 2;
    }
    if (strcmp(what, "ops") == 0)
        return sg_cli_check_all_used(a) ? sg_gradcheck_all_ops() : 2;
    if (strcmp(what, "lm") == 0)
        return sg_cmd_gradcheck_lm(a);
    if (strcmp(what, "addition") != 0) {
        sg_cli_error("unknown model '%s' for gradcheck (known: addition, lm, ops)", what);
        return 2;
    }
    sg_addition_cfg cfg;
    size_t pairs;
    if (!sg_cli_addition_cfg(a, &cfg) || !sg_cli_opt_size(a, "pairs", 4, &pairs) || !sg_cli_check_all_used(a))
        return 2;
    sg_addition m;
    sg_params *ps = sg_cli_addition_new(&cfg, SG_F64, &m);
    if (!ps)
        return 1;
    bool ok = sg_cli_addition_gradcheck(&m, ps, pairs ? pairs : 1, cfg.seed, true);
    sg_addition_free(&m);
    sg_params_free(ps);
    return ok ? 0 : 1;
}
