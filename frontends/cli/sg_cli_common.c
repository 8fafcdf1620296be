/* sg_cli_common.c — what every seqgrad command shares: exit codes for
 * library errors, output directories, vocabularies as JSON for checkpoints. */
#include "frontends/cli/sg_cli.h"
#include "frontends/cellfile/sg_cellfile.h"

#include "graph/core/sg_alloc.h"
#include "graph/core/sg_rng.h"
#include "graph/util/sg_file.h"
#include "ops/sg_threads.h"

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

bool sg_cli_parse_cell(const char *name, sg_cell_kind *kind, sg_activation *act)
{
    *act = SG_ACT_TANH;
    if (!name || strcmp(name, "lstm") == 0)
        *kind = SG_CELL_LSTM;
    else if (strcmp(name, "gru") == 0)
        *kind = SG_CELL_GRU;
    else if (strcmp(name, "peephole") == 0 || strcmp(name, "peephole-lstm") == 0)
        *kind = SG_CELL_PEEPHOLE;
    else if (strcmp(name, "rnn") == 0 || strcmp(name, "rnn-tanh") == 0)
        *kind = SG_CELL_RNN;
    else if (strcmp(name, "rnn-relu") == 0 || strcmp(name, "rnn-sigmoid") == 0) {
        *kind = SG_CELL_RNN;
        *act = name[4] == 'r' ? SG_ACT_RELU : SG_ACT_SIGMOID;
    } else {
        sg_cli_error("--cell must be lstm, gru, peephole, rnn, rnn-relu or rnn-sigmoid, not '%s'", name);
        return false;
    }
    return true;
}

bool sg_cli_cell_is_file(const char *spec)
{
    size_t n = spec ? strlen(spec) : 0;
    return (n > 5 && strcmp(spec + n - 5, ".cell") == 0) || (spec && strstr(spec, ".so:") != NULL);
}

int sg_cli_load_cell(const char *spec, sg_cellfile **out)
{
    *out = NULL;
    if (!sg_cli_cell_is_file(spec))
        return SG_EXIT_OK;
    const bool plugin = strstr(spec, ".so:") != NULL;
    char err[4096];
    sg_status st =
        plugin ? sg_cellfile_plugin(spec, out, err, sizeof err) : sg_cellfile_load(spec, out, err, sizeof err);
    if (st != SG_OK) {
        sg_cli_error("%s", err);
        return st == SG_ERR_NOMEM ? SG_EXIT_FAIL : SG_EXIT_INPUT;
    }
    return SG_EXIT_OK;
}

bool sg_cli_bind_cell(sg_cell_kind kind, sg_cellfile *cf, const char *from, sg_cell_make_fn *make, void **make_ctx)
{
    if (kind == SG_CELL_CUSTOM && !cf) {
        if (from)
            sg_cli_error("'%s' says its cell is custom but does not hold it (no \"cell.source\")", from);
        else
            sg_cli_error("--cell custom names the cell a checkpoint holds: give a FILE.cell or LIBRARY.so:FUNCTION");
        return false;
    }
    *make = cf ? sg_cellfile_make : NULL;
    *make_ctx = cf;
    return true;
}

int sg_cli_cell_from_args(const char *spec, sg_cell_kind kind, sg_cellfile **cf, sg_cell_make_fn *make, void **make_ctx)
{
    int rc = sg_cli_load_cell(spec, cf);
    if (rc != SG_EXIT_OK)
        return rc;
    return sg_cli_bind_cell(kind, *cf, NULL, make, make_ctx) ? SG_EXIT_OK : SG_EXIT_USAGE;
}

bool sg_cli_can_write(const char *path, const char *what)
{
    char err[4096];
    sg_file_tmp t;
    if (sg_file_tmp_open(&t, path, what, err, sizeof err) != SG_OK) {
        sg_cli_error("%s (checked before training)", err);
        return false;
    }
    sg_file_tmp_abort(&t);
    return true;
}

bool sg_cli_can_append(const char *path)
{
    FILE *f = fopen(path, "a");
    if (!f || fclose(f) != 0) {
        sg_cli_error("cannot append to log '%s': %s (checked before training)", path, strerror(errno));
        return false;
    }
    return true;
}

int sg_cli_set_threads(size_t n)
{
    sg_status st = sg_threads_set(n);
    if (st != SG_OK) {
        sg_cli_error("cannot run on %zu threads: %s", n, sg_status_str(st));
        return SG_EXIT_FAIL;
    }
    return SG_EXIT_OK;
}
