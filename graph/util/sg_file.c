/* sg_file.c — atomic saves (temporary file, fsync, rename, directory fsync)
 * and whole-file reads (see sg_file.h). */
#include "graph/util/sg_file.h"

#include "graph/core/sg_alloc.h"
#include "graph/util/sg_util.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
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

/* The temporary name of path for process pid into buf (cap bytes):
 * "<path>.tmp.<pid>", or, when the file name would not fit NAME_MAX,
 * "<dir>/.sg-<hash>.tmp.<pid>" (the hash of the file name, so that each
 * target keeps its own temporary names). */
static void sg_file_tmp_name(const char *path, long pid, char *buf, size_t cap)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char suffix[32];
    snprintf(suffix, sizeof suffix, ".tmp.%ld", pid);
    if (strlen(base) + strlen(suffix) <= NAME_MAX) {
        snprintf(buf, cap, "%s%s", path, suffix);
        return;
    }
    int dir_len = slash ? (int)(slash - path + 1) : 0;
    snprintf(buf, cap, "%.*s.sg-%016llx%s", dir_len, path, (unsigned long long)sg_hash_bytes(base, strlen(base)),
             suffix);
}

/* Removes the temporary files an earlier, killed save of path left behind:
 * its names with the pid of a process that no longer exists. */
static void sg_file_tmp_clean(const char *path, const char *dir)
{
    char probe[PATH_MAX + 64];
    sg_file_tmp_name(path, 0, probe, sizeof probe); /* "<...>.tmp.0": the prefix before the pid */
    const char *pslash = strrchr(probe, '/');
    const char *pbase = pslash ? pslash + 1 : probe;
    size_t prefix = strlen(pbase) - 1; /* without the "0" */
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, pbase, prefix) != 0)
            continue;
        const char *digits = e->d_name + prefix;
        char *end;
        long pid = strtol(digits, &end, 10);
        if (end == digits || *end || pid <= 0 || pid == (long)getpid())
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* that save may still be running */
        char full[PATH_MAX + 64];
        if (snprintf(full, sizeof full, "%s/%s", dir, e->d_name) < (int)sizeof full)
            unlink(full);
    }
    closedir(d);
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
    size_t n = strlen(path) + 48;
    t->path = sg_str_dup(path);
    t->tmp_path = sg_malloc(n);
    t->dir = sg_file_dirname(path); /* made now: nothing is allocated after the rename */
    if (!t->path || !t->tmp_path || !t->dir) {
        sg_file_tmp_release(t);
        return sg_error_format(err, errcap, SG_ERR_NOMEM, "%s '%s': out of memory", what, path);
    }
    sg_file_tmp_name(path, (long)getpid(), t->tmp_path, n);
    sg_file_tmp_clean(path, t->dir);
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
    /* O_NONBLOCK: a FIFO (or a device) must not block the open before the
     * regular-file check below refuses it */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
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
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        int e = errno;
        close(fd);
        sg_error_format(err, errcap, SG_ERR_IO, "%s '%s': cannot read: %s", what, path, strerror(e));
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
