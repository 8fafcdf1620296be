/* sg_cli.h — shared pieces of the seqgrad command-line tool: option parsing,
 * messages, exit codes, and the tasks the subcommands know.
 *
 * Exit codes: SG_EXIT_OK 0, SG_EXIT_FAIL 1 (a check failed, or the run could
 * not finish: an output not writable, out of memory), SG_EXIT_USAGE 2, and
 * SG_EXIT_INPUT 3 (an input file missing, unreadable or malformed). */
#ifndef SG_CLI_H
#define SG_CLI_H

#include "graph/core/sg_graph.h"
#include "graph/core/sg_param.h"
#include "models/addition/sg_addition.h"
#include "models/rnn/sg_cell.h"
#include "models/data/sg_text.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum { SG_EXIT_OK = 0, SG_EXIT_FAIL = 1, SG_EXIT_USAGE = 2, SG_EXIT_INPUT = 3 };
/* The exit code for a library error about an input file: SG_EXIT_INPUT when
 * the file is at fault (unreadable, malformed, of the wrong shape or kind),
 * SG_EXIT_FAIL otherwise (out of memory, a bad state). */
int sg_cli_exit_for(sg_status st);
/* Creates the directory dir if it is missing; false with a message when it
 * cannot be made or exists as something else. */
bool sg_cli_ensure_dir(const char *dir);

/* A vocabulary as a JSON array of its words in id order (characters may be
 * blanks, which the LM's one-word-per-line format cannot hold), for a
 * checkpoint's strings; read back with cJSON and sg_vocab_from_words.
 * Returns a string to free with cJSON_free, or NULL when out of memory. */
char *sg_cli_vocab_json(const sg_vocab *v);

/* A built-in cell named on the command line: lstm (also for NULL), gru,
 * peephole, rnn (tanh), rnn-relu, rnn-sigmoid; false after a message. */
bool sg_cli_parse_cell(const char *name, sg_cell_kind *kind, sg_activation *act);
/* --cell as a file: "FILE.cell" (a cell file) or "LIB.so:FUNCTION" (a plugin
 * cell), frontends/cellfile/sg_cellfile.h.  Returns SG_EXIT_OK with *out NULL
 * when spec names neither (a built-in cell: see sg_cli_parse_cell), SG_EXIT_OK
 * with *out the loaded cell (the caller's: sg_cellfile_free), or the exit
 * code after a message (SG_EXIT_INPUT for a bad or missing file). */
typedef struct sg_cellfile sg_cellfile;
int sg_cli_load_cell(const char *spec, sg_cellfile **out);
/* Points a model's cells (*make, *make_ctx) at cf, a cell file or plugin
 * (NULL: the built-in kind).  A custom kind without one ("--cell custom", or
 * a checkpoint that lost its cell) is refused after a message naming from
 * (the checkpoint's path; NULL for the command line). */
bool sg_cli_bind_cell(sg_cell_kind kind, sg_cellfile *cf, const char *from, sg_cell_make_fn *make, void **make_ctx);
/* The command line's cell for a model of kind: sg_cli_load_cell(spec) into *cf
 * (the caller's, sg_cellfile_free; NULL for a built-in cell), then
 * sg_cli_bind_cell.  Returns an exit code after a message (SG_EXIT_USAGE for
 * "--cell custom" with no file). */
int sg_cli_cell_from_args(const char *spec, sg_cell_kind kind, sg_cellfile **cf, sg_cell_make_fn *make,
                          void **make_ctx);
/* Before a run's work, whether the file it will write at path can be written:
 * a temporary file beside it (sg_file_tmp_open, what the atomic save will do)
 * is made and removed; what names the file in the message.  false after a
 * message ending "(checked before training)". */
bool sg_cli_can_write(const char *path, const char *what);
/* The same for a log the run appends to: path opens for appending (it is
 * created empty when missing, as the first line would create it). */
bool sg_cli_can_append(const char *path);
/* Whether spec names a cell file or a plugin cell (not a built-in cell). */
bool sg_cli_cell_is_file(const char *spec);

/* The parsed command line (frontends/cli/sg_cli_args.c): options bound to
 * their values by getopt_long against the one option table, then positionals. */
typedef struct sg_cli_item {
    int option;        /* index in the option table; -1 for a positional */
    const char *value; /* the option's value (NULL for a flag), or the positional */
    bool used;         /* taken by the command */
} sg_cli_item;

typedef struct sg_cli_args {
    const char *cmd;    /* the command name (borrowed) */
    char **argv_copy;   /* (argc + 1) owned copy of the pointer vector */
    sg_cli_item *items; /* (n_items) owned, in command-line order */
    size_t n_items;
    bool help; /* --help or -h was given */
} sg_cli_args;

/* Prints "seqgrad: <message>" to stderr. */
void sg_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Gives every op's kernels n threads (sg_threads_set): SG_EXIT_OK, or
 * SG_EXIT_FAIL after a message when the threads cannot be started. */
int sg_cli_set_threads(size_t n);
/* Error messages from here on name the rank ("seqgrad: rank 1 of 2: ..."), when size > 1. */
void sg_cli_error_set_rank(size_t rank, size_t size);

/* Parses argv[0..argc-1] (the words after the command).  Returns 0, or 2 after
 * printing a usage error (unknown or abbreviated option, missing value), or 1
 * when out of memory.  On success pair with sg_cli_args_free. */
int sg_cli_args_init(sg_cli_args *a, const char *cmd, int argc, char **argv);
void sg_cli_args_free(sg_cli_args *a);
/* A subcommand: returns the process exit code. */
typedef int (*sg_cli_command_fn)(sg_cli_args *a);
/* The command named cmd (from the one command table), or NULL. */
sg_cli_command_fn sg_cli_command_find(const char *cmd);
/* The help of the whole tool (cmd NULL), of a command, or of one of its tasks. */
void sg_cli_help(FILE *f, const char *cmd, const char *task);
/* The value of --name (the last one given, long or short form), or NULL;
 * marks it taken. */
const char *sg_cli_opt(sg_cli_args *a, const char *name);
bool sg_cli_flag(sg_cli_args *a, const char *name);
/* Every value of a repeatable option, in command-line order: writes up to
 * cap of them to out, marks them all taken, and returns how many there are. */
size_t sg_cli_opt_all(sg_cli_args *a, const char *name, const char **out, size_t cap);
/* Numeric option with default; false (and a message) if malformed. */
bool sg_cli_opt_size(sg_cli_args *a, const char *name, size_t def, size_t *out);
bool sg_cli_opt_double(sg_cli_args *a, const char *name, double def, double *out);
/* The same, refused (with a message) outside [lo, hi]; a double must also be
 * finite, and above lo when lo_open.  The default is not checked. */
bool sg_cli_opt_size_in(sg_cli_args *a, const char *name, size_t def, size_t lo, size_t hi, size_t *out);
bool sg_cli_opt_double_in(sg_cli_args *a, const char *name, double def, double lo, double hi, bool lo_open,
                          double *out);
/* Whether --name was given at all (without taking it). */
bool sg_cli_given(sg_cli_args *a, const char *name);
/* The next positional argument not yet taken, or NULL. */
const char *sg_cli_positional(sg_cli_args *a);
/* The same without taking it. */
const char *sg_cli_positional_peek(const sg_cli_args *a);
/* False (and a message naming it) if an option or positional was not taken. */
bool sg_cli_check_all_used(sg_cli_args *a);

/* The addition task's settings, from --bits --hidden --activation --seed
 * (frontends/cli/sg_task_addition.c). */
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

/* Subcommands; each returns the process exit code.  train, gradcheck and
 * graph are generic over the task table (sg_cli_task.h). */
int sg_cmd_demo(sg_cli_args *a);
int sg_cmd_gradcheck(sg_cli_args *a);
int sg_cmd_graph(sg_cli_args *a);
int sg_cmd_train(sg_cli_args *a);
int sg_cmd_eval(sg_cli_args *a);
int sg_cmd_generate(sg_cli_args *a);
/* seqgrad attention (frontends/cli/sg_cmd_seq2seq.c). */
int sg_cmd_attention(sg_cli_args *a);
/* seqgrad similar and analogy (frontends/cli/sg_cmd_word2vec.c). */
int sg_cmd_similar(sg_cli_args *a);
int sg_cmd_analogy(sg_cli_args *a);
/* seqgrad dialogues (frontends/cli/sg_cmd_hred.c). */
int sg_cmd_dialogues(sg_cli_args *a);
/* seqgrad gradflow (frontends/cli/sg_cmd_gradflow.c). */
int sg_cmd_gradflow(sg_cli_args *a);
/* seqgrad registry (frontends/cli/sg_cmd_registry.c). */
int sg_cmd_registry(sg_cli_args *a);
/* The tasks' own training commands (after `train <task>` took the task). */
int sg_cmd_train_lm(sg_cli_args *a);
int sg_cmd_train_sine(sg_cli_args *a);

#endif
