/*
 * fp_output — temporary-name outputs and the registry of live temporaries. See fp_output.h.
 *
 * The registry is a fixed array of slots, each a path buffer and an atomic state, so the signal
 * handler can walk it without locks or allocation: a slot's path is written before its state
 * becomes LIVE and the state leaves LIVE before the slot is reused. Slot allocation among threads
 * takes a mutex (never touched by the handler).
 */
#include "pipeline/fp_output.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline/fp_clock.h"

#define REG_SLOTS 256
enum { SLOT_FREE, SLOT_LIVE };

static struct {
    atomic_int state;
    char path[PATH_MAX];
} reg[REG_SLOTS];
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static int reg_atexit;

struct fp_output {
    int slot;
    char *final_path;
    char *tmp_path;
    char *dir;
};

static atomic_int reg_pid; /* process that registered the temporaries */

void fp_output_unlink_all_signal_safe(void)
{
    /* a forked child that calls exit() runs our atexit handler too: the files are not its to remove */
    if (getpid() != atomic_load(&reg_pid))
        return;
    for (int i = 0; i < REG_SLOTS; i++)
        if (atomic_load(&reg[i].state) == SLOT_LIVE)
            unlink(reg[i].path);
}

static void at_exit_cleanup(void) { fp_output_unlink_all_signal_safe(); }

int fp_output_live_count(void)
{
    int n = 0;
    for (int i = 0; i < REG_SLOTS; i++)
        n += atomic_load(&reg[i].state) == SLOT_LIVE;
    return n;
}

static int reg_add(const char *path)
{
    int slot = -1;
    pthread_mutex_lock(&reg_lock);
    atomic_store(&reg_pid, (int)getpid());
    if (!reg_atexit) {
        atexit(at_exit_cleanup);
        reg_atexit = 1;
    }
    for (int i = 0; i < REG_SLOTS && slot < 0; i++)
        if (atomic_load(&reg[i].state) == SLOT_FREE) {
            snprintf(reg[i].path, sizeof(reg[i].path), "%s", path);
            atomic_store(&reg[i].state, SLOT_LIVE);
            slot = i;
        }
    pthread_mutex_unlock(&reg_lock);
    return slot;
}

static void reg_remove(int slot)
{
    if (slot < 0)
        return;
    pthread_mutex_lock(&reg_lock);
    atomic_store(&reg[slot].state, SLOT_FREE);
    pthread_mutex_unlock(&reg_lock);
}

const char *fp_output_strerror(int errnum)
{
    switch (errnum) {
    case ENOENT: return "directory does not exist";
    case ENOTDIR: return "a parent of the path is not a directory";
    case EACCES: case EPERM: return "permission denied (directory not writable)";
    case EROFS: return "read-only file system";
    case ENOSPC: return "no space left on device";
    case EDQUOT: return "disk quota exceeded";
    case EFBIG: return "file too large (file-size limit reached)";
    case ENAMETOOLONG: return "file name too long";
    case EISDIR: return "is a directory";
    case EIO: return "I/O error on the device";
    default: return strerror(errnum);
    }
}

static void output_free(fp_output *o)
{
    if (!o)
        return;
    free(o->final_path);
    free(o->tmp_path);
    free(o->dir);
    free(o);
}

/* Split path into a malloc'ed directory ("." if none) and a pointer to the base name. */
static char *dir_of(const char *path, const char **base)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        *base = path;
        return strdup(".");
    }
    *base = slash + 1;
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

int fp_output_begin(fp_output **po, const char *final_path, fp_err *err)
{
    fp_output *o;
    const char *base, *ext;
    struct stat sb;
    size_t len;
    int fd = -1, e = 0;
    static atomic_uint counter;

    *po = NULL;
    if (!final_path || !final_path[0])
        return fp_errorf(err, FP_EINVAL, "output: empty output path");
    if (stat(final_path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return fp_errorf(err, FP_EINVAL, "%s: output: is a directory, expected a file name", final_path);
    o = calloc(1, sizeof(*o));
    if (!o || !(o->final_path = strdup(final_path)) || !(o->dir = dir_of(final_path, &base)))
        goto nomem;
    if (!base[0]) {
        output_free(o);
        return fp_errorf(err, FP_EINVAL, "%s: output: path ends with '/', expected a file name", final_path);
    }
    ext = strrchr(base, '.');
    if (!ext || ext == base)
        ext = "";
    len = strlen(o->dir) + strlen(base) + strlen(ext) + 64;
    if (!(o->tmp_path = malloc(len)))
        goto nomem;
    if (len >= PATH_MAX) {
        output_free(o);
        return fp_errorf(err, FP_EOUTPUT, "%s: output: %s", final_path, fp_output_strerror(ENAMETOOLONG));
    }
    for (int attempt = 0; attempt < 16; attempt++) {
        unsigned rnd = (unsigned)(fp_clock_ns() ^ ((uint64_t)atomic_fetch_add(&counter, 1) * 2654435761u));
        snprintf(o->tmp_path, len, "%s/.%s.tmp-%ld-%08x%s", o->dir, base, (long)getpid(), rnd & 0xffffffffu,
                 ext);
        fd = open(o->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            break;
    }
    if (fd < 0) {
        e = errno;
        output_free(o);
        if (e == ENOENT || e == EACCES || e == EPERM || e == ENOTDIR)
            return fp_errorf(err, FP_EOUTPUT, "%s: output: %s", final_path, fp_output_strerror(e));
        return fp_errorf(err, FP_EOUTPUT, "%s: output: cannot create a file there: %s", final_path,
                         fp_output_strerror(e));
    }
    close(fd);
    o->slot = reg_add(o->tmp_path);
    if (o->slot < 0) {
        unlink(o->tmp_path);
        output_free(o);
        return fp_errorf(err, FP_EOUTPUT, "%s: output: more than %d outputs open at once", final_path,
                         REG_SLOTS);
    }
    *po = o;
    return 0;
nomem:
    output_free(o);
    return fp_errorf(err, FP_ENOMEM, "%s: output: out of memory", final_path);
}

const char *fp_output_tmp_path(const fp_output *o) { return o->tmp_path; }
const char *fp_output_final_path(const fp_output *o) { return o->final_path; }

void fp_output_abort(fp_output **po)
{
    fp_output *o = po ? *po : NULL;
    if (!o)
        return;
    unlink(o->tmp_path);
    reg_remove(o->slot);
    output_free(o);
    *po = NULL;
}

int fp_output_commit(fp_output **po, fp_err *err)
{
    fp_output *o = *po;
    int fd, ret = 0, e;
    if (!o)
        return FP_EINVAL;
    fd = open(o->tmp_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        e = errno;
        ret = fp_errorf(err, FP_EOUTPUT, "%s: output: temporary file %s vanished before publishing: %s",
                        o->final_path, o->tmp_path, strerror(e));
        goto fail;
    }
    if (fsync(fd) < 0) {
        e = errno;
        close(fd);
        ret = fp_errorf(err, FP_EIO, "%s: output: cannot flush to disk: %s", o->final_path,
                        fp_output_strerror(e));
        goto fail;
    }
    close(fd);
    if (rename(o->tmp_path, o->final_path) < 0) {
        e = errno;
        ret = fp_errorf(err, FP_EOUTPUT, "%s: output: cannot publish (rename): %s", o->final_path,
                        e == EISDIR ? "a directory has that name" : fp_output_strerror(e));
        goto fail;
    }
    reg_remove(o->slot);
    /* make the rename itself durable; failure here does not unpublish, so it is not an error */
    if ((fd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        fsync(fd);
        close(fd);
    }
    output_free(o);
    *po = NULL;
    return 0;
fail:
    fp_output_abort(po);
    return ret;
}
