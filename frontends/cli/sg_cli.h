/* sg_cli.h — shared pieces of the seqgrad command-line tool: option parsing,
 * messages, and the tasks the subcommands know ("addition"). */
#ifndef SG_CLI_H
#define SG_CLI_H

#include "graph/core/sg_graph.h"
#include "graph/core/sg_param.h"
#include "models/addition/sg_addition.h"

#include <stdbool.h>
#include <stddef.h>

/* Parsed "--name value" / "--name=value" / "--flag" options and positionals. */
typedef struct sg_cli_args {
    int argc;
    char **argv;
    bool *used;          /* (argc) which argv entries were consumed */
} sg_cli_args;

/* Prints "seqgrad: <message>" to stderr. */
void sg_cli_error(const char *fmt, ...);

bool sg_cli_args_init(sg_cli_args *a, int argc, char **argv);
void sg_cli_args_free(sg_cli_args *a);
/* The value of --name (or -short if given), or NULL. */
const char *sg_cli_opt(sg_cli_args *a, const char *name, const char *short_name);
bool sg_cli_flag(sg_cli_args *a, const char *name);
/* Numeric option with default; false (and a message) if malformed. */
bool sg_cli_opt_size(sg_cli_args *a, const char *name, size_t def, size_t *out);
bool sg_cli_opt_double(sg_cli_args *a, const char *name, double def, double *out);
/* The next unused positional argument, or NULL. */
const char *sg_cli_positional(sg_cli_args *a);
/* False (and a message naming it) if any argument was not consumed. */
bool sg_cli_check_all_used(sg_cli_args *a);

/* The addition task's settings, from --bits --hidden --activation --seed. */
typedef struct sg_addition_cfg {
    size_t bits, hidden;
    sg_activation act;
    size_t seed;
} sg_addition_cfg;
bool sg_cli_addition_cfg(sg_cli_args *a, sg_addition_cfg *cfg);
/* A parameter set of dtype holding a freshly initialized addition model for
 * cfg (seeded with cfg->seed) in *m; NULL (with a message) when out of memory. */
sg_params *sg_cli_addition_new(const sg_addition_cfg *cfg, sg_dtype dtype, sg_addition *m);
/* The 2^(bits-1) x 2^(bits-1) operand pairs: *a and *b (owned by caller,
 * sg_free) and their count. */
bool sg_cli_addition_pairs(size_t bits, uint32_t **a, uint32_t **b, size_t *n);

/* Subcommands; each returns the process exit code. */
int sg_cmd_demo(sg_cli_args *a);
int sg_cmd_gradcheck(sg_cli_args *a);
int sg_cmd_graph(sg_cli_args *a);
int sg_cmd_train(sg_cli_args *a);
int sg_cmd_train_sine(sg_cli_args *a);
int sg_cmd_eval(sg_cli_args *a);
int sg_cmd_generate(sg_cli_args *a);
/* `graph lm` / `gradcheck lm`: a small language model of the given shape. */
int sg_cmd_graph_lm(sg_cli_args *a, const char *out, size_t collapse_depth, bool grad_norms);
int sg_cmd_gradcheck_lm(sg_cli_args *a);
/* Deepest scope depth on g's tape (0 when nothing is scoped). */
size_t sg_max_scope_depth(const sg_graph *g);

/* Gradient-checks the addition model in f64 on a few pairs: model mode and
 * per-op mode.  Prints the results; returns true when both pass. */
bool sg_cli_addition_gradcheck(sg_addition *m, sg_params *ps, size_t n_pairs, size_t seed, bool verbose);

/* Exports the unrolled addition graph for one example to path (collapse
 * depth 0 = every op, SIZE_MAX = the deepest scope); verbose prints counts. */
bool sg_cli_addition_export(sg_addition *m, const char *path, size_t collapse_depth, bool grad_norms, bool verbose);

#endif
