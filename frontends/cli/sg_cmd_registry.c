/* sg_cmd_registry.c — `seqgrad registry`: the op registry
 * (frontends/registry) as C prototypes, one a line, grouped (op, leaf,
 * layer, loss, cell), or as JSON (--json) with each argument's type. */
#include "frontends/cli/sg_cli.h"
#include "frontends/registry/sg_registry.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

int sg_cmd_registry(sg_cli_args *a)
{
    const bool json = sg_cli_flag(a, "json");
    if (!sg_cli_check_all_used(a))
        return SG_EXIT_USAGE;
    if (!json) {
        const char *group = "";
        for (size_t i = 0; i < sg_registry_count(); i++) {
            const sg_reg_fn *e = sg_registry_at(i);
            char proto[512];
            sg_reg_fn_prototype(e, proto, sizeof proto);
            if (strcmp(group, e->group) != 0)
                printf("%s# %s\n", i ? "\n" : "", group = e->group);
            printf("%s;\n", proto);
        }
        return SG_EXIT_OK;
    }
    cJSON *root = cJSON_CreateArray();
    for (size_t i = 0; root && i < sg_registry_count(); i++) {
        const sg_reg_fn *e = sg_registry_at(i);
        cJSON *o = cJSON_CreateObject(), *args = cJSON_AddArrayToObject(o, "args");
        cJSON_AddStringToObject(o, "name", e->name);
        cJSON_AddStringToObject(o, "group", e->group);
        cJSON_AddStringToObject(o, "returns", sg_reg_type_name(e->ret));
        const char *p = e->arg_names;
        for (size_t k = 0; k < e->n_args; k++) {
            while (*p == ' ')
                p++;
            size_t len = strcspn(p, " ");
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)len, p);
            p += len;
            cJSON *arg = cJSON_CreateObject();
            cJSON_AddStringToObject(arg, "name", name);
            cJSON_AddStringToObject(arg, "type", sg_reg_type_name(e->args[k]));
            cJSON_AddItemToArray(args, arg);
        }
        cJSON_AddItemToArray(root, o);
    }
    char *text = root ? cJSON_Print(root) : NULL;
    if (!text) {
        cJSON_Delete(root);
        sg_cli_error("out of memory");
        return SG_EXIT_FAIL;
    }
    printf("%s\n", text);
    cJSON_free(text);
    cJSON_Delete(root);
    return SG_EXIT_OK;
}
