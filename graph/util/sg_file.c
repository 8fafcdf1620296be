/* sg_file.c — atomic saves (temporary file, fsync, rename, directory fsync)
 * and whole-file reads (see sg_file.h). */
#include "graph/util/sg_file.h"

#include "graph/core/sg_alloc.h"
#include "graph/util/sg_util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The directory part of path ("." when none), owned; NULL when out of memory. */
static char *sg_file_dirname(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return sg_str_dup(".");
    return sg_str_ndup(path, slash == path ? 1 : (size_t)(slash - path));
}

static void sg_file_tmp_release(sg_file_tmp *t)
{
    sg_free(t->path);
    sg_free(t->tmp_path);
    sg_free(t->dir);
    memset(t, 0, sizeof *t);
}

sg_status sg_file_tmp_open(sg_file_tmp *t, const char *path, const char *what, char *err, size_t errcap)
{
    memset(t, 0, sizeof *t);
    if (!what)
        what = "file";
    if (!path || !*path)
        return sg_error_format(err, errcap, SG_ERR_ARG, "%s: no path given", what);
    t->what = what;
    size_t n = strlen(path) + 32;
    t->path = sg_str_dup(path);
    t->tmp_path = sg_malloc(n);
    t->dir = sg_file_dirname(path); /* made now: nothing is allocated after the rename */
    if (!t->path || !t->tmp_path || !t->dir) {
        sg_file_tmp_release(t);
        return sg_error_format(err, errcap, SG_ERR_NOMEM, "%s '%s': out of memory", what, path);
    }
    snprintf(t->tmp_path, n, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(t->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd >= 0 && !(t->f = fdopen(fd, "wb"))) {
        int e = errno;
        close(fd);
        unlink(t->tmp_path);
        errno = e;
    }
    if (!t->f) {
        int e = errno;
        sg_error_format(err, errcap, SG_ERR_IO, "%s '%s': cannot create temporary file '%s': %s", what, path,
                        t->tmp_path, strerror(e));
        sg_file_tmp_release(t);
        return SG_ERR_IO;
    }
    return SG_OK;
}

void sg_file_tmp_abort(sg_file_tmp *t)
{
    if (t->f) {
        fclose(t->f);
        unlink(t->tmp_path);
    }
    sg_file_tmp_release(t);
}

sg_status sg_file_tmp_commit(sg_file_tmp *t, char *err, size_t errcap)
{
    if (!t->f)
        return sg_error_format(err, errcap, SG_ERR_ARG, "file: commit without an open temporary file");
    const char *step = NULL;
    int e = 0;
    errno = 0;
    if (ferror(t->f))
        step = "writing";
    else if (fflush(t->f) != 0)
        step = "flushing";
    else if (fsync(fileno(t->f)) != 0)
        step = "syncing";
    if (step)
        e = errno;
    if (fclose(t->f) != 0 && !step) {
        step = "closing";
        e = errno;
    }
    t->f = NULL;
    if (!step && rename(t->tmp_path, t->path) != 0) {
        step = "renaming";
        e = errno;
    }
    sg_status st = SG_OK;
    if (step) {
        unlink(t->tmp_path);
        st = sg_error_format(err, errcap, SG_ERR_IO,
                             "%s '%s': %s temporary file '%s' failed: %s (the file at '%s', if any, is unchanged)",
                             t->what, t->path, step, t->tmp_path, e ? strerror(e) : "unknown error", t->path);
    } else {
        /* file systems that cannot sync directories (EINVAL, EROFS) are not a failure */
        int fd = open(t->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || (fsync(fd) != 0 && errno != EINVAL && errno != EROFS)) {
            e = errno;
            st = sg_error_format(err, errcap, SG_ERR_IO, "%s '%s' was written, but syncing directory '%s' failed: %s",
                                 t->what, t->path, t->dir, strerror(e));
        }
        if (fd >= 0)
            close(fd);
    }
    sg_file_tmp_release(t);
    return st;
}

int sg_file_open_read(const char *path, const char *what, size_t *size, char *err, size_t errcap)
{
    if (!what)
        what = "file";
    if (!path) {
        sg_error_format(err, errcap, SG_ERR_ARG, "%s: no path given", what);
        return -1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        sg_error_format(err, errcap, SG_ERR_IO, "%s '%s': cannot open: %s", what, path, strerror(e));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        bool dir = S_ISDIR(sb.st_mode);
        close(fd);
        sg_error_format(err, errcap, SG_ERR_IO, "%s '%s': %snot a regular file", what, path,
                        dir ? "it is a directory, " : "");
        return -1;
    }
    if ((uintmax_t)sb.st_size > SIZE_MAX - 1) {
        close(fd);
        sg_error_format(err, errcap, SG_ERR_IO, "%s '%s': too large for memory", what, path);
        return -1;
    }
    *size = (size_t)sb.st_size;
    return fd;
}

bool sg_file_pread_all(int fd, void *dst, size_t n, size_t off)
{
    unsigned char *d = dst;
    size_t got = 0;
    errno = 0;
    while (got < n) {
        ssize_t r = pread(fd, d + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

sg_status sg_file_read_all(const char *path, const char *what, unsigned char **out, size_t *len, char *err,
                           size_t errcap)
{
    if (!what)
        what = "file";
    if (!out || !len)
        return sg_error_format(err, errcap, SG_ERR_ARG, "%s: NULL output pointer", what);
    *out = NULL;
    *len = 0;
    size_t size = 0;
    int fd = sg_file_open_read(path, what, &size, err, errcap);
    if (fd < 0)
        return path ? SG_ERR_IO : SG_ERR_ARG;
    unsigned char *buf = sg_malloc(size + 1);
    if (!buf) {
        close(fd);
        return sg_error_format(err, errcap, SG_ERR_NOMEM, "%s '%s': out of memory for %zu bytes", what, path, size);
    }
    bool ok = sg_file_pread_all(fd, buf, size, 0);
    int e = errno;
    close(fd);
    if (!ok) {
        sg_free(buf);
        return sg_error_format(err, errcap, SG_ERR_IO, "%s '%s': read failed: %s", what, path,
                               e ? strerror(e) : "unexpected end of file");
    }
    buf[size] = '\0';
    *out = buf;
    *len = size;
    return SG_OK;
}
