/* sg_cli_settings.h — a run's settings kept in its checkpoint as the command
 * line they came from.  Each setting is one option of the option table; a
 * checkpoint holds it as the string "<prefix>.<option>" (a flag as "1" or
 * "0"), and reading a checkpoint turns those strings back into an argument
 * list that the task's own option parser reads, so a model is rebuilt
 * (eval, generate) exactly as it was trained, by the code that parsed the
 * training run's command line. */
#ifndef SG_CLI_SETTINGS_H
#define SG_CLI_SETTINGS_H

#include "frontends/cli/sg_cli.h"
#include "graph/format/sg_checkpoint.h"
#include "graph/optim/sg_optim.h"

typedef struct sg_cli_setting {
    const char *name; /* the option, without "--" */
    bool flag;        /* an on/off option */
    bool required;    /* part of the model's shape: a checkpoint without it is refused */
} sg_cli_setting;

enum { SG_CLI_SETTING_CAP = 40 };
typedef char sg_cli_setting_value[SG_CLI_SETTING_CAP];

/* Stores values[i] (n of them, list's order) as "<prefix>.<list[i].name>". */
SG_NODISCARD sg_status sg_cli_settings_store(sg_checkpoint *ck, const char *prefix, const sg_cli_setting *list,
                                             size_t n, const sg_cli_setting_value *values);

/* Reads the settings of ck (read from path) with the task's parser: they are
 * turned into a command line, parse(ca, ctx) reads it (returning false after
 * a message when a value cannot be used), and every setting must have been
 * taken.  The checkpoint must say it was written by `task` and hold every
 * required setting, and each flag must be "1" or "0".  Returns an exit code:
 * SG_EXIT_INPUT after a message naming path when the settings are not
 * usable.  *n_missing (may be NULL) counts the settings ck lacks. */
int sg_cli_settings_read(const sg_checkpoint *ck, const char *path, const char *task, const char *prefix,
                         const sg_cli_setting *list, size_t n, bool (*parse)(sg_cli_args *ca, void *ctx), void *ctx,
                         size_t *n_missing);

/* Saves a training checkpoint at path (atomically): ps, the optimizer's and
 * the RNG's state, the epoch, the string "task", the settings (values, as
 * sg_cli_settings_store under prefix) and the vocabulary v as
 * "<prefix>.vocab" (sg_cli_vocab_json), and the model's cell file or
 * plugin when cell is not NULL (sg_cli_cell_store), and the ranks that
 * trained it as "dist.ranks" (sg_cli_dist_resume_ranks).  false after a
 * message. */
bool sg_cli_settings_save(const char *path, const sg_params *ps, const char *task, const char *prefix,
                          const sg_cli_setting *list, size_t n, const sg_cli_setting_value *values, const sg_vocab *v,
                          const sg_cellfile *cell, const sg_optim *opt, const sg_rng *rng, size_t epoch, size_t ranks);

/* The vocabulary a checkpoint keeps as "<prefix>.vocab" (a JSON array of
 * strings, the four specials of sg_pairs.h first), new and the caller's, or
 * NULL after a message naming path. */
sg_vocab *sg_cli_settings_vocab(const sg_checkpoint *ck, const char *prefix, const char *path);

/* Whether data's vocabulary is the checkpoint's (saved); false after a
 * message naming both files and the first token that differs. */
bool sg_cli_same_vocab(const sg_vocab *data, const sg_vocab *saved, const char *data_path, const char *ck_path);

/* ---- a cell file or a plugin cell, kept in a checkpoint ----------------------
 * Keys: "cell.name" (the cell as the command line named it), "cell.source"
 * (a cell file's whole text, or a plugin's declaration string) and, for a
 * plugin only, "cell.plugin" (LIBRARY.so:FUNCTION, the library by its
 * absolute path).  A cell file travels whole inside the checkpoint: the file
 * may be edited or deleted afterwards.  A plugin's code cannot travel: its
 * library must still be at that path and declare the same cell. */

/* Writes cf's keys into ck (each status returned: SG_ERR_ARG for a text that
 * is not UTF-8, SG_ERR_NOMEM). */
SG_NODISCARD sg_status sg_cli_cell_store(sg_checkpoint *ck, const sg_cellfile *cf);

/* The cell ck holds, rebuilt: *out is new and the caller's (sg_cellfile_free),
 * or NULL when ck holds no cell (a built-in one).  Returns an exit code: after
 * a message naming path when the stored text no longer compiles, the plugin
 * cannot be loaded, or it declares another cell than the one saved. */
int sg_cli_cell_restore(const sg_checkpoint *ck, const char *path, sg_cellfile **out);

/* --resume with a cell file: *cell (the run's --cell FILE, may be NULL) must
 * be the checkpoint's cell.  When it is NULL and ck holds a cell, the
 * checkpoint's is restored into *cell (the caller's); a given cell whose
 * text differs from the saved one, or one given when ck holds none, is
 * refused.  Returns an exit code after a message. */
int sg_cli_cell_resume(const sg_checkpoint *ck, const char *path, sg_cellfile **cell);

/* The cell of a model of kind rebuilt from its checkpoint: for SG_CELL_CUSTOM
 * the checkpoint's cell is restored into *cf (the caller's; NULL otherwise),
 * then sg_cli_bind_cell.  Returns an exit code after a message naming path
 * (SG_EXIT_INPUT for a custom kind whose checkpoint holds no cell). */
int sg_cli_cell_from_checkpoint(const sg_checkpoint *ck, const char *path, sg_cell_kind kind, sg_cellfile **cf,
                                sg_cell_make_fn *make, void **make_ctx);

#endif
