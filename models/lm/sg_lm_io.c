/* sg_lm_io.c — a language model's checkpoint: settings, vocabulary and
 * parameters (see sg_lm_io.h). */
#include "models/lm/sg_lm_io.h"

#include "graph/core/sg_alloc.h"
#include "graph/util/sg_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static sg_status sg_lm_io_put(sg_checkpoint *ck, const char *key, const char *value, char *err, size_t errcap)
{
    sg_status st = sg_checkpoint_set_string(ck, key, value);
    return st ? sg_error_format(err, errcap, st, "cannot store '%s' in the checkpoint: %s", key, sg_status_str(st))
              : SG_OK;
}

static sg_status sg_lm_io_put_size(sg_checkpoint *ck, const char *key, size_t v, char *err, size_t errcap)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%zu", v);
    return sg_lm_io_put(ck, key, buf, err, errcap);
}

sg_status sg_lm_checkpoint_describe(sg_checkpoint *ck, const sg_lm_config *cfg, const sg_vocab *v, char *err,
                                    size_t errcap)
{
    if (!ck || !cfg || !v)
        return sg_error_format(err, errcap, SG_ERR_ARG, "language model checkpoint: NULL argument");
    for (int32_t id = 0; (size_t)id < sg_vocab_size(v); id++) /* metadata strings are UTF-8 */
        if (!sg_utf8_valid_str(sg_vocab_word(v, id)))
            return sg_error_format(err, errcap, SG_ERR_FORMAT,
                                   "the vocabulary's word %d is not UTF-8, and a checkpoint stores the vocabulary as "
                                   "UTF-8 text (convert the corpus, e.g. with iconv)",
                                   id);
    char *text = NULL;
    sg_status st = sg_vocab_serialize(v, &text, NULL);
    if (st)
        return sg_error_format(err, errcap, st, "cannot serialize the vocabulary: %s", sg_status_str(st));
    if (!(st = sg_lm_io_put(ck, "task", "lm", err, errcap)) &&
        !(st = sg_lm_io_put(ck, "lm.cell", sg_cell_kind_name(cfg->kind), err, errcap)) &&
        !(st = sg_lm_io_put(ck, "lm.activation", sg_activation_name(cfg->act), err, errcap)) &&
        !(st = sg_lm_io_put_size(ck, "lm.hidden", cfg->hidden, err, errcap)) &&
        !(st = sg_lm_io_put_size(ck, "lm.embed", cfg->embed, err, errcap)) &&
        !(st = sg_lm_io_put_size(ck, "lm.layers", cfg->layers, err, errcap)) &&
        !(st = sg_lm_io_put(ck, "lm.tie", cfg->tie_weights ? "1" : "0", err, errcap)))
        st = sg_lm_io_put(ck, "lm.vocab", text, err, errcap);
    sg_free(text);
    return st;
}

/* A positive decimal size under key; false when absent or malformed. */
static bool sg_lm_io_size(const sg_checkpoint *ck, const char *key, size_t *out)
{
    const char *s = sg_checkpoint_get_string(ck, key);
    if (!s || s[0] < '0' || s[0] > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v == 0 || v > SIZE_MAX)
        return false;
    *out = (size_t)v;
    return true;
}

sg_status sg_lm_checkpoint_config(const sg_checkpoint *ck, sg_lm_config *cfg, sg_vocab **vocab, char *err,
                                  size_t errcap)
{
    if (!ck || !cfg || !vocab)
        return sg_error_format(err, errcap, SG_ERR_ARG, "language model checkpoint: NULL argument");
    *vocab = NULL;
    memset(cfg, 0, sizeof *cfg);
    const char *cell = sg_checkpoint_get_string(ck, "lm.cell");
    const char *act = sg_checkpoint_get_string(ck, "lm.activation");
    const char *tie = sg_checkpoint_get_string(ck, "lm.tie");
    const char *vtext = sg_checkpoint_get_string(ck, "lm.vocab");
    static const char *const keys[] = {"lm.cell", "lm.activation", "lm.tie", "lm.vocab"};
    const char *vals[] = {cell, act, tie, vtext};
    for (size_t i = 0; i < 4; i++)
        if (!vals[i])
            return sg_error_format(err, errcap, SG_ERR_FORMAT, "not a language-model checkpoint: no '%s' metadata",
                                   keys[i]);
    if (strcmp(cell, "custom") == 0)
        cfg->kind = SG_CELL_CUSTOM; /* the caller's cell: sg_lm_load_cell */
    else if (sg_cell_kind_parse(cell, &cfg->kind) != SG_OK)
        return sg_error_format(err, errcap, SG_ERR_FORMAT, "bad lm.cell '%s'", cell);
    if (sg_activation_parse(act, &cfg->act) != SG_OK)
        return sg_error_format(err, errcap, SG_ERR_FORMAT, "bad lm.activation '%s'", act);
    if (strcmp(tie, "0") != 0 && strcmp(tie, "1") != 0)
        return sg_error_format(err, errcap, SG_ERR_FORMAT, "bad lm.tie '%s' (expected 0 or 1)", tie);
    cfg->tie_weights = tie[0] == '1';
    static const char *const sizes[] = {"lm.hidden", "lm.embed", "lm.layers"};
    size_t *dst[] = {&cfg->hidden, &cfg->embed, &cfg->layers};
    for (size_t i = 0; i < 3; i++)
        if (!sg_lm_io_size(ck, sizes[i], dst[i]))
            return sg_error_format(err, errcap, SG_ERR_FORMAT, "missing or bad '%s' (a positive integer)", sizes[i]);
    char verr[256];
    sg_status st = sg_vocab_deserialize(vtext, strlen(vtext), vocab, verr, sizeof verr);
    if (st)
        return sg_error_format(err, errcap, SG_ERR_FORMAT, "bad vocabulary: %s", verr);
    cfg->vocab = sg_vocab_size(*vocab);
    return SG_OK;
}

sg_status sg_lm_save(const char *path, const sg_lm *m, const sg_params *ps, const sg_vocab *v, sg_checkpoint *state,
                     char *err, size_t errcap)
{
    if (!path || !m || !ps || !v)
        return sg_error_format(err, errcap, SG_ERR_ARG, "sg_lm_save: NULL argument");
    if (sg_vocab_size(v) != m->cfg.vocab)
        return sg_error_format(err, errcap, SG_ERR_ARG, "sg_lm_save: the vocabulary has %zu words, the model %zu",
                               sg_vocab_size(v), m->cfg.vocab);
    sg_checkpoint local;
    sg_checkpoint_init(&local);
    sg_checkpoint *ck = state ? state : &local;
    sg_status st = sg_lm_checkpoint_describe(ck, &m->cfg, v, err, errcap);
    if (st == SG_OK)
        st = sg_checkpoint_save(path, ps, ck, err, errcap);
    sg_checkpoint_free(&local);
    return st;
}

sg_status sg_lm_load(const char *path, sg_dtype dtype, sg_lm *m, sg_params **ps, sg_vocab **vocab, sg_checkpoint *state,
                     char *err, size_t errcap)
{
    return sg_lm_load_cell(path, dtype, NULL, NULL, m, ps, vocab, state, err, errcap);
}

sg_status sg_lm_load_cell(const char *path, sg_dtype dtype, sg_cell_make_fn make, void *make_ctx, sg_lm *m,
                          sg_params **ps, sg_vocab **vocab, sg_checkpoint *state, char *err, size_t errcap)
{
    if (!path || !m || !ps || !vocab)
        return sg_error_format(err, errcap, SG_ERR_ARG, "sg_lm_load: NULL argument");
    *ps = NULL;
    *vocab = NULL;
    memset(m, 0, sizeof *m);
    sg_checkpoint meta;
    sg_checkpoint_init(&meta);
    char inner[4096];
    sg_status st = sg_checkpoint_read_meta(path, &meta, inner, sizeof inner);
    if (st) {
        sg_checkpoint_free(&meta);
        return sg_error_format(err, errcap, st, "%s", inner);
    }
    sg_lm_config cfg;
    st = sg_lm_checkpoint_config(&meta, &cfg, vocab, inner, sizeof inner);
    sg_checkpoint_free(&meta);
    if (st)
        return sg_error_format(err, errcap, st, "checkpoint '%s': %s", path, inner);
    if (cfg.kind == SG_CELL_CUSTOM && !make) {
        sg_vocab_free(*vocab);
        *vocab = NULL;
        return sg_error_format(err, errcap, SG_ERR_FORMAT,
                               "checkpoint '%s': its cell is custom (lm.cell 'custom'): load it with sg_lm_load_cell "
                               "and the cell's make function",
                               path);
    }
    cfg.make = make;
    cfg.make_ctx = make_ctx;
    sg_params *set = sg_params_new(dtype);
    if (!set || (st = sg_lm_init(m, set, &cfg)) != SG_OK) {
        sg_params_free(set);
        sg_vocab_free(*vocab);
        *vocab = NULL;
        return sg_error_format(err, errcap, set ? st : SG_ERR_NOMEM, "checkpoint '%s': cannot build its model", path);
    }
    sg_checkpoint tmp;
    sg_checkpoint_init(&tmp);
    st = sg_checkpoint_load(path, set, state ? state : &tmp, err, errcap);
    sg_checkpoint_free(&tmp);
    if (st) {
        sg_lm_free(m);
        sg_params_free(set);
        sg_vocab_free(*vocab);
        *vocab = NULL;
        return st;
    }
    *ps = set;
    return SG_OK;
}
