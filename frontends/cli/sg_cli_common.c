/* sg_cli_common.c — what every seqgrad command shares: exit codes for
 * library errors, output directories, vocabularies as JSON for checkpoints. */
#include "frontends/cli/sg_cli.h"

#include "graph/core/sg_alloc.h"
#include "graph/core/sg_rng.h"

#include <cjson/cJSON.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

bool sg_cli_ensure_dir(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return true;
        sg_cli_error("'%s' exists and is not a directory", dir);
        return false;
    }
    if (mkdir(dir, 0777) != 0) {
        sg_cli_error("cannot create directory '%s': %s", dir, strerror(errno));
        return false;
    }
    return true;
}

int sg_cli_exit_for(sg_status st)
{
    switch (st) {
    case SG_OK: return SG_EXIT_OK;
    case SG_ERR_IO:
    case SG_ERR_FORMAT:
    case SG_ERR_SHAPE:
    case SG_ERR_DTYPE: return SG_EXIT_INPUT;
    default: return SG_EXIT_FAIL;
    }
}

char *sg_cli_vocab_json(const sg_vocab *v)
{
    cJSON *arr = cJSON_CreateArray();
    for (int32_t i = 0; arr && (size_t)i < sg_vocab_size(v); i++) {
        cJSON *w = cJSON_CreateString(sg_vocab_word(v, i));
        if (!w || !cJSON_AddItemToArray(arr, w)) {
            cJSON_Delete(w);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    char *s = arr ? cJSON_PrintUnformatted(arr) : NULL;
    cJSON_Delete(arr);
    return s;
}
