/* sg_cli_settings.c — settings stored as option strings, read back as a
 * command line (see sg_cli_settings.h). */
#include "frontends/cli/sg_cli_settings.h"
#include "frontends/cli/sg_cli_dist.h"

#include "frontends/cellfile/sg_cellfile.h"
#include "graph/core/sg_alloc.h"

#include <cjson/cJSON.h>

#include <stdio.h>
#include <string.h>

sg_status sg_cli_settings_store(sg_checkpoint *ck, const char *prefix, const sg_cli_setting *list, size_t n,
                                const sg_cli_setting_value *values)
{
    sg_status st = SG_OK;
    for (size_t i = 0; st == SG_OK && i < n; i++) {
        char key[128];
        snprintf(key, sizeof key, "%s.%s", prefix, list[i].name);
        st = sg_checkpoint_set_string(ck, key, values[i]);
    }
    return st;
}

int sg_cli_settings_read(const sg_checkpoint *ck, const char *path, const char *task, const char *prefix,
                         const sg_cli_setting *list, size_t n, bool (*parse)(sg_cli_args *ca, void *ctx), void *ctx,
                         size_t *n_missing)
{
    char(*names)[48] = sg_calloc(n ? n : 1, sizeof *names);
    char **argv = sg_calloc(2 * n + 1, sizeof *argv);
    if (!names || !argv) {
        sg_free(names);
        sg_free(argv);
        sg_cli_error("out of memory");
        return SG_EXIT_FAIL;
    }
    int argc = 0;
    size_t missing = 0;
    const char *t = sg_checkpoint_get_string(ck, "task");
    bool shaped = t && strcmp(t, task) == 0;
    for (size_t i = 0; i < n; i++) {
        char key[128];
        snprintf(key, sizeof key, "%s.%s", prefix, list[i].name);
        const char *v = sg_checkpoint_get_string(ck, key);
        if (!v) {
            missing++;
            shaped = shaped && !list[i].required;
            continue;
        }
        snprintf(names[i], sizeof names[i], "--%s", list[i].name);
        if (list[i].flag) {
            if (strcmp(v, "1") == 0)
                argv[argc++] = names[i];
            else if (strcmp(v, "0") != 0)
                shaped = false;
        } else {
            argv[argc++] = names[i];
            argv[argc++] = (char *)v;
        }
    }
    int rc = SG_EXIT_INPUT;
    if (!shaped)
        sg_cli_error("'%s' is not a %s checkpoint (its task or model settings are missing or malformed)", path, task);
    else {
        sg_cli_args ca;
        rc = sg_cli_args_init(&ca, "train", argc, argv);
        if (rc == SG_EXIT_USAGE)
            rc = SG_EXIT_INPUT;
        if (rc == SG_EXIT_OK) {
            if (!parse(&ca, ctx) || !sg_cli_check_all_used(&ca)) {
                sg_cli_error("'%s': the settings above are the checkpoint's, and they cannot be used", path);
                rc = SG_EXIT_INPUT;
            }
            sg_cli_args_free(&ca);
        }
    }
    sg_free(names);
    sg_free(argv);
    if (rc == SG_EXIT_OK && n_missing)
        *n_missing = missing;
    return rc;
}

bool sg_cli_settings_save(const char *path, const sg_params *ps, const char *task, const char *prefix,
                          const sg_cli_setting *list, size_t n, const sg_cli_setting_value *values, const sg_vocab *v,
                          const sg_cellfile *cell, const sg_optim *opt, const sg_rng *rng, size_t epoch, size_t ranks)
{
    sg_checkpoint ck;
    sg_checkpoint_init(&ck);
    ck.has_optim = true;
    ck.optim = *opt;
    ck.has_rng = true;
    ck.rng = *rng;
    ck.epoch = epoch;
    char *vj = sg_cli_vocab_json(v), key[128], err[4096];
    snprintf(key, sizeof key, "%s.vocab", prefix);
    sg_status st = vj ? sg_checkpoint_set_string(&ck, "task", task) : SG_ERR_NOMEM;
    if (st == SG_OK)
        st = sg_checkpoint_set_string(&ck, key, vj);
    if (st == SG_OK)
        st = sg_cli_settings_store(&ck, prefix, list, n, values);
    if (st == SG_OK && cell)
        st = sg_cli_cell_store(&ck, cell);
    if (st == SG_OK)
        st = sg_cli_dist_ranks_store(&ck, ranks);
    if (st == SG_OK)
        st = sg_checkpoint_save(path, ps, &ck, err, sizeof err);
    else
        snprintf(err, sizeof err, "cannot describe the model: %s", sg_status_str(st));
    if (st != SG_OK)
        sg_cli_error("%s", err);
    cJSON_free(vj);
    sg_checkpoint_free(&ck);
    return st == SG_OK;
}

sg_vocab *sg_cli_settings_vocab(const sg_checkpoint *ck, const char *prefix, const char *path)
{
    char key[128];
    snprintf(key, sizeof key, "%s.vocab", prefix);
    const char *vj = sg_checkpoint_get_string(ck, key);
    cJSON *words = vj ? cJSON_Parse(vj) : NULL;
    size_t n = cJSON_IsArray(words) ? (size_t)cJSON_GetArraySize(words) : 0;
    const char **list = n ? sg_calloc(n, sizeof *list) : NULL;
    bool ok = list != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        const cJSON *w = cJSON_GetArrayItem(words, (int)i);
        list[i] = cJSON_IsString(w) ? w->valuestring : NULL; /* empty and repeated words: sg_vocab_from_words */
        ok = list[i] != NULL;
    }
    char err[512] = "";
    sg_vocab *v = NULL;
    if (!ok || n < 4 || sg_vocab_from_words(list, n, &v, err, sizeof err) != SG_OK)
        sg_cli_error("'%s': its vocabulary (\"%s\") is missing or malformed%s%s", path, key, err[0] ? ": " : "", err);
    sg_free(list);
    cJSON_Delete(words);
    return v;
}

bool sg_cli_same_vocab(const sg_vocab *data, const sg_vocab *saved, const char *data_path, const char *ck_path)
{
    int32_t d = sg_vocab_first_difference(data, saved);
    if (d < 0)
        return true;
    if ((size_t)d >= sg_vocab_size(data) || (size_t)d >= sg_vocab_size(saved))
        sg_cli_error("'%s' gives a vocabulary of %zu tokens, the checkpoint '%s' has %zu: not the data it was "
                     "trained on",
                     data_path, sg_vocab_size(data), ck_path, sg_vocab_size(saved));
    else
        sg_cli_error("'%s' is not the data the checkpoint '%s' was trained on: token %d is '%s' there, '%s' here",
                     data_path, ck_path, (int)d, sg_vocab_word(saved, d), sg_vocab_word(data, d));
    return false;
}

/* ---- a cell file or a plugin cell, kept in a checkpoint ------------------------------ */

sg_status sg_cli_cell_store(sg_checkpoint *ck, const sg_cellfile *cf)
{
    sg_status st = sg_checkpoint_set_string(ck, "cell.name", sg_cellfile_name(cf));
    if (st == SG_OK)
        st = sg_checkpoint_set_string(ck, "cell.source", sg_cellfile_source(cf));
    if (st == SG_OK && sg_cellfile_spec(cf))
        st = sg_checkpoint_set_string(ck, "cell.plugin", sg_cellfile_spec(cf));
    return st;
}

int sg_cli_cell_restore(const sg_checkpoint *ck, const char *path, sg_cellfile **out)
{
    *out = NULL;
    const char *name = sg_checkpoint_get_string(ck, "cell.name");
    const char *source = sg_checkpoint_get_string(ck, "cell.source");
    const char *plugin = sg_checkpoint_get_string(ck, "cell.plugin");
    if (!name && !source && !plugin)
        return SG_EXIT_OK;
    if (!name || !source) {
        sg_cli_error("'%s': its cell is incomplete (it needs both \"cell.name\" and \"cell.source\")", path);
        return SG_EXIT_INPUT;
    }
    char err[4096];
    sg_status st;
    if (plugin) {
        st = sg_cellfile_plugin(plugin, out, err, sizeof err);
        if (st == SG_OK && strcmp(sg_cellfile_source(*out), source) != 0) {
            sg_cellfile_free(*out);
            *out = NULL;
            sg_cli_error("'%s' was trained with the plugin cell '%s', whose library now declares another cell (its "
                         "%s_decl differs from the saved one)",
                         path, plugin, strrchr(plugin, ':') + 1);
            return SG_EXIT_INPUT;
        }
    } else {
        st = sg_cellfile_parse(source, strlen(source), name, out, err, sizeof err);
    }
    if (st != SG_OK) {
        sg_cli_error("'%s': its %s cannot be rebuilt: %s", path, plugin ? "plugin cell" : "cell file", err);
        return st == SG_ERR_NOMEM ? SG_EXIT_FAIL : SG_EXIT_INPUT;
    }
    return SG_EXIT_OK;
}

int sg_cli_cell_resume(const sg_checkpoint *ck, const char *path, sg_cellfile **cell)
{
    if (!*cell)
        return sg_cli_cell_restore(ck, path, cell);
    const char *source = sg_checkpoint_get_string(ck, "cell.source");
    const char *saved = sg_checkpoint_get_string(ck, "cell.name");
    if (!source) {
        sg_cli_error("--cell %s contradicts the checkpoint '%s', which was trained with a built-in cell: drop it to "
                     "resume",
                     sg_cellfile_name(*cell), path);
        return SG_EXIT_USAGE;
    }
    if (strcmp(source, sg_cellfile_source(*cell)) != 0) {
        sg_cli_error("--cell %s is not the cell the checkpoint '%s' was trained with (%s: the text differs): drop "
                     "--cell to resume with the checkpoint's own copy",
                     sg_cellfile_name(*cell), path, saved ? saved : "?");
        return SG_EXIT_USAGE;
    }
    return SG_EXIT_OK;
}

int sg_cli_cell_from_checkpoint(const sg_checkpoint *ck, const char *path, sg_cell_kind kind, sg_cellfile **cf,
                                sg_cell_make_fn *make, void **make_ctx)
{
    *cf = NULL;
    int rc = kind == SG_CELL_CUSTOM ? sg_cli_cell_restore(ck, path, cf) : SG_EXIT_OK;
    if (rc == SG_EXIT_OK && !sg_cli_bind_cell(kind, *cf, path, make, make_ctx))
        rc = SG_EXIT_INPUT;
    return rc;
}
