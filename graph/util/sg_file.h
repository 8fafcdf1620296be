/* sg_file.h — files written so that nothing saved is ever lost, and files
 * read whole, for every format of libseqgrad (safetensors, DOT, plots, ...).
 *
 * Saving: sg_file_tmp_open creates "<path>.tmp.<pid>" in the directory of
 * path; the caller writes it through t->f; sg_file_tmp_commit flushes, fsyncs
 * and closes it, renames it over path and fsyncs the directory.  Until the
 * rename succeeds an existing file at path is untouched; a failed or aborted
 * save removes the temporary file.  A crash leaves at most a stray
 * "<path>.tmp.<pid>" beside an intact path, and the next save of path removes
 * every such file whose process is gone.  When "<name>.tmp.<pid>" would not
 * fit NAME_MAX the temporary file is "<dir>/.sg-<hash of name>.tmp.<pid>".
 *
 * `what` names the kind of file in messages ("checkpoint", "plot", ...):
 * every error reads "<what> '<path>': <what went wrong>: <strerror>".
 * Errors: SG_ERR_ARG (NULL or empty path), SG_ERR_NOMEM, SG_ERR_IO.
 */
#ifndef SG_FILE_H
#define SG_FILE_H

#include "graph/core/sg_tensor.h"

#include <stddef.h>
#include <stdio.h>

/* A save in progress.  All fields are owned by it. */
typedef struct sg_file_tmp {
    char *path;     /* the destination */
    char *tmp_path; /* "<path>.tmp.<pid>" */
    char *dir;      /* the directory of path, synced after the rename */
    const char *what;
    FILE *f; /* open for writing ("wb") */
} sg_file_tmp;

/* Creates the temporary file of path.  On failure t owns nothing. */
SG_NODISCARD sg_status sg_file_tmp_open(sg_file_tmp *t, const char *path, const char *what, char *err, size_t errcap);
/* Finishes the save (see above); t owns nothing afterwards, on success and on
 * failure alike.  A write error seen on t->f (ferror) fails the commit. */
SG_NODISCARD sg_status sg_file_tmp_commit(sg_file_tmp *t, char *err, size_t errcap);
/* Gives up: closes and removes the temporary file; t owns nothing afterwards. */
void sg_file_tmp_abort(sg_file_tmp *t);

/* Opens path for reading; it must be a regular file.  *size = its length.
 * Returns the descriptor (the caller closes it), or -1 with err filled. */
int sg_file_open_read(const char *path, const char *what, size_t *size, char *err, size_t errcap);
/* Reads exactly n bytes at offset off of fd (retrying short reads and EINTR);
 * false on an error (errno set) or a premature end of file (errno 0). */
bool sg_file_pread_all(int fd, void *dst, size_t n, size_t off);
/* Reads the whole file: *out (caller-owned, sg_free; NUL-terminated one byte
 * past the end, for text parsers) holds *len bytes.  On failure *out is NULL. */
SG_NODISCARD sg_status sg_file_read_all(const char *path, const char *what, unsigned char **out, size_t *len, char *err,
                                        size_t errcap);

#endif
