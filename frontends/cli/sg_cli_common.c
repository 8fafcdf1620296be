/* sg_cli_common.c — option parsing and task setup for the seqgrad CLI. */
#include "frontends/cli/sg_cli.h"

#include "graph/core/sg_alloc.h"
#include "graph/core/sg_rng.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sg_cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("seqgrad: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

bool sg_cli_args_init(sg_cli_args *a, int argc, char **argv)
{
    a->argc = argc;
    a->argv = argv;
    a->used = sg_calloc((size_t)(argc > 0 ? argc : 1), sizeof *a->used);
    return a->used != NULL;
}

void sg_cli_args_free(sg_cli_args *a) { sg_free(a->used); }

/* Matches argv[i] against --name / --name=value; sets *value. */
static bool sg_cli_match(const char *arg, const char *name, const char **value)
{
    if (strncmp(arg, "--", 2) != 0)
        return false;
    size_t n = strlen(name);
    if (strncmp(arg + 2, name, n) != 0)
        return false;
    if (arg[2 + n] == '\0') {
        *value = NULL;
        return true;
    }
    if (arg[2 + n] == '=') {
        *value = arg + 3 + n;
        return true;
    }
    return false;
}

const char *sg_cli_opt(sg_cli_args *a, const char *name, const char *short_name)
{
    for (int i = 0; i < a->argc; i++) {
        const char *v;
        bool is_short = short_name && strcmp(a->argv[i], short_name) == 0;
        if (is_short || sg_cli_match(a->argv[i], name, &v)) {
            a->used[i] = true;
            if (is_short || !v) {
                if (i + 1 >= a->argc) {
                    sg_cli_error("option --%s needs a value", name);
                    return NULL;
                }
                a->used[i + 1] = true;
                return a->argv[i + 1];
            }
            return v;
        }
    }
    return NULL;
}

bool sg_cli_flag(sg_cli_args *a, const char *name)
{
    for (int i = 0; i < a->argc; i++) {
        const char *v;
        if (sg_cli_match(a->argv[i], name, &v) && !v) {
            a->used[i] = true;
            return true;
        }
    }
    return false;
}

bool sg_cli_opt_size(sg_cli_args *a, const char *name, size_t def, size_t *out)
{
    const char *v = sg_cli_opt(a, name, NULL);
    if (!v) {
        *out = def;
        return true;
    }
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-') {
        sg_cli_error("option --%s expects a non-negative integer, got '%s'", name, v);
        return false;
    }
    *out = (size_t)x;
    return true;
}

bool sg_cli_opt_double(sg_cli_args *a, const char *name, double def, double *out)
{
    const char *v = sg_cli_opt(a, name, NULL);
    if (!v) {
        *out = def;
        return true;
    }
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end) {
        sg_cli_error("option --%s expects a number, got '%s'", name, v);
        return false;
    }
    *out = x;
    return true;
}

const char *sg_cli_positional(sg_cli_args *a)
{
    for (int i = 0; i < a->argc; i++) {
        if (!a->used[i] && a->argv[i][0] != '-') {
            a->used[i] = true;
            return a->argv[i];
        }
    }
    return NULL;
}

bool sg_cli_check_all_used(sg_cli_args *a)
{
    for (int i = 0; i < a->argc; i++) {
        if (!a->used[i]) {
            sg_cli_error("unknown argument '%s' (see 'seqgrad help')", a->argv[i]);
            return false;
        }
    }
    return true;
}

bool sg_cli_addition_cfg(sg_cli_args *a, sg_addition_cfg *cfg)
{
    if (!sg_cli_opt_size(a, "bits", 8, &cfg->bits) || !sg_cli_opt_size(a, "hidden", 16, &cfg->hidden) ||
        !sg_cli_opt_size(a, "seed", 1, &cfg->seed))
        return false;
    const char *act = sg_cli_opt(a, "activation", NULL);
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
