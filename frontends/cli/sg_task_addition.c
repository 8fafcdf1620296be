/* sg_task_addition.c — the binary-addition task for the CLI: its options,
 * model setup, operand pairs, and its probe (one example 45 + 83 for pictures,
 * a few seeded random pairs for gradient checks). */
#include "frontends/cli/sg_cli_task.h"

#include "graph/core/sg_alloc.h"
#include "graph/core/sg_rng.h"

#include <stdio.h>
#include <string.h>

bool sg_cli_addition_cfg(sg_cli_args *a, sg_addition_cfg *cfg)
{
    if (!sg_cli_opt_size(a, "bits", 8, &cfg->bits) || !sg_cli_opt_size(a, "hidden", 16, &cfg->hidden) ||
        !sg_cli_opt_size(a, "seed", 1, &cfg->seed))
        return false;
    const char *act = sg_cli_opt(a, "activation");
    if (sg_activation_parse(act ? act : "tanh", &cfg->act) != SG_OK) {
        sg_cli_error("--activation must be tanh, sigmoid or relu, not '%s'", act);
        return false;
    }
    if (cfg->bits < 2 || cfg->bits > 16) {
        sg_cli_error("--bits must be between 2 and 16, not %zu", cfg->bits);
        return false;
    }
    if (cfg->hidden < 1 || cfg->hidden > 4096) {
        sg_cli_error("--hidden must be between 1 and 4096, not %zu", cfg->hidden);
        return false;
    }
    return true;
}

sg_params *sg_cli_addition_new(const sg_addition_cfg *cfg, sg_dtype dtype, sg_addition *m)
{
    sg_params *ps = sg_params_new(dtype);
    if (!ps || sg_addition_init(m, ps, cfg->bits, cfg->hidden, cfg->act) != SG_OK) {
        sg_cli_error("could not build the model (out of memory?)");
        sg_params_free(ps);
        return NULL;
    }
    sg_rng rng;
    sg_rng_seed(&rng, cfg->seed);
    if (sg_addition_reset_parameters(m, &rng) != SG_OK) {
        sg_cli_error("could not initialize the model");
        sg_addition_free(m);
        sg_params_free(ps);
        return NULL;
    }
    return ps;
}

bool sg_cli_addition_pairs(size_t bits, uint32_t **a, uint32_t **b, size_t *n)
{
    size_t side = (size_t)1 << (bits - 1);
    *n = side * side;
    *a = sg_malloc(*n * sizeof **a);
    *b = sg_malloc(*n * sizeof **b);
    if (!*a || !*b) {
        sg_free(*a);
        sg_free(*b);
        sg_cli_error("out of memory for %zu pairs", *n);
        return false;
    }
    for (size_t i = 0; i < *n; i++) {
        (*a)[i] = (uint32_t)(i / side);
        (*b)[i] = (uint32_t)(i % side);
    }
    return true;
}

/* ---- the probe ------------------------------------------------------------- */

enum { SG_ADDITION_MAX_PAIRS = 64 };

typedef struct sg_addition_probe {
    sg_addition m;
    bool owns_model; /* false when the model is the caller's (the demo) */
    uint32_t a[SG_ADDITION_MAX_PAIRS], b[SG_ADDITION_MAX_PAIRS];
    size_t n;
} sg_addition_probe;

static sg_tensor *sg_addition_probe_loss(sg_graph *g, void *self)
{
    const sg_addition_probe *p = self;
    return sg_addition_loss(g, &p->m, p->a, p->b, p->n, NULL);
}

static void sg_addition_probe_free(void *self)
{
    sg_addition_probe *p = self;
    if (p->owns_model)
        sg_addition_free(&p->m);
    sg_free(p);
}

bool sg_task_addition_probe_of(const sg_addition *m, sg_params *ps, bool owns, bool for_check, size_t n_pairs,
                               size_t seed, sg_cli_probe *out)
{
    memset(out, 0, sizeof *out);
    sg_addition_probe *p = sg_calloc(1, sizeof *p);
    if (!p) {
        sg_cli_error("out of memory");
        return false;
    }
    p->m = *m;
    p->owns_model = owns;
    if (for_check) {
        p->n = n_pairs < 1 ? 1 : n_pairs > SG_ADDITION_MAX_PAIRS ? SG_ADDITION_MAX_PAIRS : n_pairs;
        sg_rng rng;
        sg_rng_seed(&rng, seed + 12345);
        uint32_t side = 1u << (m->bits - 1);
        for (size_t i = 0; i < p->n; i++) {
            p->a[i] = (uint32_t)sg_rng_below(&rng, side);
            p->b[i] = (uint32_t)sg_rng_below(&rng, side);
        }
    } else {
        p->n = 1;
        p->a[0] = 45; /* one example: 45 + 83 = 128 */
        p->b[0] = 83;
    }
    out->ps = ps;
    out->owns_ps = owns;
    out->self = p;
    out->loss = sg_addition_probe_loss;
    out->free_self = sg_addition_probe_free;
    snprintf(out->title, sizeof out->title, "Elman RNN, binary addition %u + %u, unrolled over %zu steps", p->a[0],
             p->b[0], m->bits);
    snprintf(out->describe, sizeof out->describe, "the addition RNN (f64, %zu pairs, %zu steps, %zu parameters)", p->n,
             m->bits, sg_params_numel(ps));
    return true;
}

int sg_task_addition_probe(sg_cli_args *a, sg_dtype dtype, bool for_check, sg_cli_probe *out)
{
    sg_addition_cfg cfg;
    size_t pairs = 4;
    if (!sg_cli_addition_cfg(a, &cfg) || (for_check && !sg_cli_opt_size_in(a, "pairs", 4, 1, 64, &pairs)))
        return SG_EXIT_USAGE;
    sg_addition m;
    sg_params *ps = sg_cli_addition_new(&cfg, dtype, &m);
    if (!ps)
        return SG_EXIT_FAIL;
    if (!sg_task_addition_probe_of(&m, ps, true, for_check, pairs, cfg.seed, out)) {
        sg_addition_free(&m);
        sg_params_free(ps);
        return SG_EXIT_FAIL;
    }
    return SG_EXIT_OK;
}
