/* sg_lm_io.h — saving and loading a language model with everything needed to
 * use it again: its settings and vocabulary travel in the checkpoint's string
 * metadata, its parameters as tensors (graph/format/sg_checkpoint.h), so a
 * library user reloads a trained model without knowing how it was made.
 *
 * Metadata keys (all strings): "task" ("lm": which model family wrote the
 * file, so that a tool can dispatch on it; files without it that have the
 * lm.* keys are language models too), "lm.cell" (rnn|lstm|peephole|gru, or
 * custom: a cell of the caller's, which keeps what it needs to rebuild the
 * cell in its own keys and loads with sg_lm_load_cell),
 * "lm.activation" (tanh|sigmoid|relu), "lm.hidden", "lm.embed", "lm.layers"
 * (decimal), "lm.tie" ("0"|"1"), "lm.vocab" (one word per line in id order,
 * sg_vocab_serialize).  Checkpoints written before this module carry the same
 * keys and load unchanged.  Tensor names: models/lm/sg_lm.h.
 *
 * Errors: sg_status plus a one-line message in err (NUL-terminated, may be
 * NULL): SG_ERR_ARG for a bad argument; SG_ERR_FORMAT from describe/save for a vocabulary word that is
 * not UTF-8; SG_ERR_FORMAT for a checkpoint without (or with bad) lm.* keys or
 * vocabulary; the checkpoint module's errors otherwise.  Nothing aborts.
 */
#ifndef SG_LM_IO_H
#define SG_LM_IO_H

#include "graph/format/sg_checkpoint.h"
#include "models/data/sg_text.h"
#include "models/lm/sg_lm.h"

/* Writes the lm.* keys of cfg and the vocabulary v into ck's strings (each
 * status checked: on failure ck may hold some of the keys). */
SG_NODISCARD sg_status sg_lm_checkpoint_describe(sg_checkpoint *ck, const sg_lm_config *cfg, const sg_vocab *v,
                                                 char *err, size_t errcap) __attribute__((warn_unused_result));
/* Reads the model's settings (vocab size included) and vocabulary back from
 * ck.  *vocab is new, owned by the caller (sg_vocab_free); NULL on error. */
SG_NODISCARD sg_status sg_lm_checkpoint_config(const sg_checkpoint *ck, sg_lm_config *cfg, sg_vocab **vocab, char *err,
                                               size_t errcap) __attribute__((warn_unused_result));

/* Saves m's parameters ps, its settings and vocabulary to path, atomically.
 * state (may be NULL) carries training state (optimizer, RNG, epoch) and the
 * caller's own strings; its lm.* keys are (re)written. */
SG_NODISCARD sg_status sg_lm_save(const char *path, const sg_lm *m, const sg_params *ps, const sg_vocab *v,
                                  sg_checkpoint *state, char *err, size_t errcap) __attribute__((warn_unused_result));

/* Builds the model a checkpoint describes and loads its parameters: on
 * success *m is initialized (sg_lm_free), *ps is a new set of dtype owned by
 * the caller (sg_params_free), *vocab a new vocabulary (sg_vocab_free), and
 * state (may be NULL; must have been initialized) receives the training state.
 * On error nothing is left to free. */
SG_NODISCARD sg_status sg_lm_load(const char *path, sg_dtype dtype, sg_lm *m, sg_params **ps, sg_vocab **vocab,
                                  sg_checkpoint *state, char *err, size_t errcap) __attribute__((warn_unused_result));
/* The same for a model whose cell may be custom: when the checkpoint says
 * lm.cell "custom", make(make_ctx) builds its cells (sg_lm_config.make), and
 * make_ctx must outlive *m.  sg_lm_load is this with make NULL, which refuses
 * a custom cell (SG_ERR_FORMAT). */
SG_NODISCARD sg_status sg_lm_load_cell(const char *path, sg_dtype dtype, sg_cell_make_fn make, void *make_ctx, sg_lm *m,
                                       sg_params **ps, sg_vocab **vocab, sg_checkpoint *state, char *err, size_t errcap)
    __attribute__((warn_unused_result));

#endif
