/*
 * store_file — the file:// store: objects are files under a root directory.
 *
 * Owns: temp-name-then-rename publication, directory creation for keys, disk-full and permission
 * errors surfacing as FP_EIO with the OS's reason. Does not own key validation (jobs_store.c checks
 * keys before calling in).
 */
#include "jobs/jobs_store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct file_priv {
    char root[PATH_MAX];
} file_priv;

static int mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        int r = mkdir(path, 0777);
        *p = '/';
        if (r < 0 && errno != EEXIST)
            return -1;
    }
    return 0;
}

int fp_file_copy(const char *src, const char *dst, fp_err *e)
{
    char buf[1 << 16];
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return fp_errorf(e, FP_EINPUT, "%s: store: cannot read: %s", src, strerror(errno));
    int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        int err = errno;
        close(in);
        return fp_errorf(e, FP_EIO, "%s: store: cannot create: %s", dst, strerror(err));
    }
    for (;;) {
        ssize_t r = read(in, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int err = errno;
            close(in), close(out);
            return fp_errorf(e, FP_EINPUT, "%s: store: read failed: %s", src, strerror(err));
        }
        if (r == 0)
            break;
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(out, buf + off, r - off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0) {
                int err = errno;
                close(in), close(out);
                return fp_errorf(e, FP_EIO, "%s: store: write failed: %s", dst, strerror(err));
            }
            off += w;
        }
    }
    close(in);
    /* fsync before rename: a crash must never publish a name that points at missing data. */
    if (fsync(out) < 0 || close(out) < 0)
        return fp_errorf(e, FP_EIO, "%s: store: flush failed: %s", dst, strerror(errno));
    return 0;
}

static int file_open(fp_store *s, const char *rest, fp_err *e)
{
    file_priv *p = calloc(1, sizeof(*p));
    if (!p)
        return fp_errorf(e, FP_ENOMEM, "store: out of memory");
    if (rest[0] != '/' || strlen(rest) + 2 >= sizeof(p->root)) {
        free(p);
        return fp_errorf(e, FP_EINVAL, "%s: store: file:// needs an absolute directory (file:///dir)", s->url);
    }
    snprintf(p->root, sizeof(p->root), "%s", rest);
    size_t n = strlen(p->root);
    while (n > 1 && p->root[n - 1] == '/')
        p->root[--n] = 0;
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s/", p->root);
    if (mkdirs(tmp) < 0) {
        int err = errno;
        free(p);
        return fp_errorf(e, FP_EIO, "%s: store: cannot create directory: %s", s->url, strerror(err));
    }
    s->priv = p;
    return 0;
}

static void file_close(fp_store *s) { free(s->priv); }

static int file_put(fp_store *s, const char *key, const char *local, fp_err *e)
{
    file_priv *p = s->priv;
    char dst[PATH_MAX + 600], tmp[PATH_MAX + 700];
    snprintf(dst, sizeof(dst), "%s/%s", p->root, key);
    snprintf(tmp, sizeof(tmp), "%s.tmp-%ld-%d", dst, (long)getpid(), rand());
    if (mkdirs(dst) < 0)
        return fp_errorf(e, FP_EIO, "%s: store: cannot create directory: %s", dst, strerror(errno));
    int ret = fp_file_copy(local, tmp, e);
    if (ret == 0 && rename(tmp, dst) < 0)
        ret = fp_errorf(e, FP_EIO, "%s: store: rename failed: %s", dst, strerror(errno));
    if (ret < 0)
        unlink(tmp);
    return ret;
}

static int file_get(fp_store *s, const char *key, const char *local, fp_err *e)
{
    file_priv *p = s->priv;
    char src[PATH_MAX + 600];
    snprintf(src, sizeof(src), "%s/%s", p->root, key);
    if (access(src, F_OK) < 0)
        return fp_errorf(e, FP_EINPUT, "%s: store: no object %s: %s", s->url, key, strerror(errno));
    return fp_file_copy(src, local, e);
}

static int file_del(fp_store *s, const char *key, fp_err *e)
{
    file_priv *p = s->priv;
    char path[PATH_MAX + 600];
    snprintf(path, sizeof(path), "%s/%s", p->root, key);
    if (unlink(path) < 0 && errno != ENOENT)
        return fp_errorf(e, FP_EIO, "%s: store: delete failed: %s", path, strerror(errno));
    return 0;
}

const fp_store_backend fp_store_file = { "file", file_open, file_close, file_put, file_get, file_del };
