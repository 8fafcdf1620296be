/* sg_cli_common.c — task setup shared by the seqgrad CLI commands. */
#include "frontends/cli/sg_cli.h"

#include "graph/core/sg_alloc.h"
#include "graph/core/sg_rng.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sg_cli_exit_for(sg_status st)
{
    switch (st) {
    case SG_OK: return SG_EXIT_OK;
    case SG_ERR_IO:
    case SG_ERR_FORMAT:
    case SG_ERR_SHAPE:
    case SG_ERR_DTYPE: return SG_EXIT_INPUT;
    default: return SG_EXIT_FAIL;
    }
}

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
