/* sg_cli_task.h — the CLI's task registry, on the pattern of the op table: a
 * task (addition, lm, sine; later seq2seq, hred, word2vec, cell files)
 * declares how to build a small instance of its model with a loss over one
 * fixed example batch (a "probe"), and which of train / eval / generate it
 * supports.  `gradcheck <task>` and `graph <task>` are written once, over
 * probes; `train <task>` dispatches through the table; the gradient-check
 * report and the picture export are each written once here.
 *
 * Adding a task: write its probe (read the task's options with sg_cli_opt*,
 * build the model in the given dtype, fill the probe) and its optional
 * commands, then add one row to sg_cli_tasks (sg_cli_tasks.c) and its options'
 * "where" fields in the option table (sg_cli_args.c).
 */
#ifndef SG_CLI_TASK_H
#define SG_CLI_TASK_H

#include "frontends/cli/sg_cli.h"
#include "graph/gradcheck/sg_gradcheck.h"

/* A model instance for checking and drawing.  Everything is owned by the
 * probe (unless owns_ps is false) and released by sg_cli_probe_free. */
typedef struct sg_cli_probe {
    sg_params *ps;
    bool owns_ps;                                /* false: ps (and the model) belong to the caller */
    void *self;                                  /* the task's model and its example batch */
    sg_tensor *(*loss)(sg_graph *g, void *self); /* records one forward pass, returns a scalar */
    void (*free_self)(void *self);               /* frees self (not ps) */
    char title[256];                             /* for pictures: what the graph shows */
    char describe[256];                          /* for reports: model, sizes, dtype */
} sg_cli_probe;

void sg_cli_probe_free(sg_cli_probe *p);

typedef struct sg_cli_task {
    const char *name;
    const char *summary;
    /* Reads the task's options from a (the caller checks that all were used
     * afterwards) and builds a probe of dtype into *out.  Returns an exit code:
     * 0, SG_EXIT_USAGE (a message was printed) or SG_EXIT_FAIL. */
    int (*probe)(sg_cli_args *a, sg_dtype dtype, bool for_check, sg_cli_probe *out);
    /* The task's commands; NULL when the task does not have one.  eval and
     * generate work from a checkpoint (--load) that the task's train wrote. */
    sg_cli_command_fn train;
    sg_cli_command_fn eval;
    sg_cli_command_fn generate;
} sg_cli_task;

/* The task called name, or NULL. */
const sg_cli_task *sg_cli_task_find(const char *name);
/* "addition, lm, sine": the tasks that have a probe (with_train: a train command). */
const char *sg_cli_task_names(bool with_train);

/* Gradient-checks the probe (which must be f64) in model mode and per-op mode
 * and prints the one report.  Returns 0 when both pass, 1 when a check
 * failed or could not run. */
int sg_cli_gradcheck_probe(sg_cli_probe *p, const sg_gradcheck_opts *opts, bool json);
/* Records the probe's loss, runs backward (for --grad-norms) and writes the
 * picture at path; prints what was written.  Returns an exit code. */
int sg_cli_export_probe(sg_cli_probe *p, const char *path, size_t collapse_depth, bool grad_norms);
/* --collapse none|scope|N -> depth (0 = op mode, SIZE_MAX = deepest scope). */
bool sg_cli_parse_collapse(const char *v, size_t *depth);

/* Deepest scope depth on g's tape (0 when nothing is scoped). */
size_t sg_max_scope_depth(const sg_graph *g);

/* Probes of the built-in tasks (sg_task_addition.c, sg_cmd_lm.c, sg_cmd_sine.c). */
/* A probe over an existing addition model m with parameters ps (owns: the
 * probe takes both; otherwise both stay the caller's): one example for
 * pictures, or n_pairs random pairs drawn from seed for checks. */
bool sg_task_addition_probe_of(const sg_addition *m, sg_params *ps, bool owns, bool for_check, size_t n_pairs,
                               size_t seed, sg_cli_probe *out);
int sg_task_addition_probe(sg_cli_args *a, sg_dtype dtype, bool for_check, sg_cli_probe *out);
int sg_task_lm_probe(sg_cli_args *a, sg_dtype dtype, bool for_check, sg_cli_probe *out);
int sg_task_sine_probe(sg_cli_args *a, sg_dtype dtype, bool for_check, sg_cli_probe *out);
int sg_task_seq2seq_probe(sg_cli_args *a, sg_dtype dtype, bool for_check, sg_cli_probe *out);
int sg_task_word2vec_probe(sg_cli_args *a, sg_dtype dtype, bool for_check, sg_cli_probe *out);
int sg_task_hred_probe(sg_cli_args *a, sg_dtype dtype, bool for_check, sg_cli_probe *out);
int sg_task_vhred_probe(sg_cli_args *a, sg_dtype dtype, bool for_check, sg_cli_probe *out);

#endif
