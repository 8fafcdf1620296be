/* sg_cli_settings.c — settings stored as option strings, read back as a
 * command line (see sg_cli_settings.h). */
#include "frontends/cli/sg_cli_settings.h"

#include "graph/core/sg_alloc.h"

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
