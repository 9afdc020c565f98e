/*
 * jobs_store — backend dispatch, key checks and final-output publication. See jobs_store.h.
 */
#include "jobs/jobs_store.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const fp_store_backend *const backends[] = {
    &fp_store_file,
#ifdef FP_JOBS_HAVE_S3
    &fp_store_s3,
#endif
};

const char *fp_store_local_path(const char *s) { return !strncmp(s, "file://", 7) ? s + 7 : s; }

int fp_store_key_ok(const char *key)
{
    size_t n = strlen(key);
    if (n == 0 || n > 512 || key[0] == '/')
        return 0;
    const char *seg = key;
    for (const char *p = key;; p++) {
        if (*p == '/' || *p == 0) {
            size_t len = p - seg;
            if (len == 0 || (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
                return 0;
            if (!*p)
                break;
            seg = p + 1;
            continue;
        }
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
              *p == '_' || *p == '-'))
            return 0;
    }
    return 1;
}

int fp_store_open(fp_store **out, const char *url, fp_err *e)
{
    *out = NULL;
    const char *sep = strstr(url, "://");
    if (!sep)
        return fp_errorf(e, FP_EINVAL, "%s: store: not a URL (want file:///dir or s3://bucket/prefix)", url);
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        const fp_store_backend *be = backends[i];
        if (strlen(be->scheme) != (size_t)(sep - url) || strncmp(url, be->scheme, sep - url))
            continue;
        fp_store *s = calloc(1, sizeof(*s));
        if (!s || !(s->url = strdup(url))) {
            free(s);
            return fp_errorf(e, FP_ENOMEM, "store: out of memory");
        }
        s->be = be;
        int ret = be->open(s, sep + 3, e);
        if (ret < 0) {
            free(s->url);
            free(s);
            return ret;
        }
        *out = s;
        return 0;
    }
    if (fp_store_url_supported(url, e) < 0)
        return e->code;
    return fp_errorf(e, FP_EUNSUPPORTED, "%s: store: unsupported scheme (file:// and s3:// are)", url);
}

void fp_store_freep(fp_store **ps)
{
    fp_store *s = ps ? *ps : NULL;
    if (!s)
        return;
    s->be->close(s);
    free(s->url);
    free(s);
    *ps = NULL;
}

int fp_store_put_file(fp_store *s, const char *key, const char *local, fp_err *e)
{
    if (!fp_store_key_ok(key))
        return fp_errorf(e, FP_EINVAL, "%s: store: refused key \"%.128s\" (relative, no '..')", s->url, key);
    return s->be->put_file(s, key, local, e);
}

int fp_store_get_file(fp_store *s, const char *key, const char *local, fp_err *e)
{
    if (!fp_store_key_ok(key))
        return fp_errorf(e, FP_EINVAL, "%s: store: refused key \"%.128s\" (relative, no '..')", s->url, key);
    return s->be->get_file(s, key, local, e);
}

int fp_store_delete(fp_store *s, const char *key, fp_err *e)
{
    if (!fp_store_key_ok(key))
        return fp_errorf(e, FP_EINVAL, "%s: store: refused key \"%.128s\" (relative, no '..')", s->url, key);
    return s->be->del(s, key, e);
}

int fp_store_url_supported(const char *url, fp_err *e)
{
#ifndef FP_JOBS_HAVE_S3
    if (url && !strncmp(url, "s3://", 5))
        return fp_errorf(e, FP_EUNSUPPORTED,
                         "%s: store: this framepipe was built without S3 support (libcurl); use file:///dir", url);
#endif
    return 0;
}

int fp_store_publish(const char *dest, const char *local, fp_err *e)
{
    if (!strncmp(dest, "s3://", 5)) {
        /* s3://bucket/key: open the bucket as a store and PUT the key (atomic on S3). */
        char url[1024];
        const char *slash = strchr(dest + 5, '/');
        if (!slash || !slash[1])
            return fp_errorf(e, FP_EINVAL, "%s: publish: s3 output needs a key (s3://bucket/key)", dest);
        snprintf(url, sizeof(url), "%.*s", (int)(slash - dest), dest);
        fp_store *s = NULL;
        int ret = fp_store_open(&s, url, e);
        if (ret == 0)
            ret = fp_store_put_file(s, slash + 1, local, e);
        fp_store_freep(&s);
        return ret;
    }
    if (strstr(dest, "://") && strncmp(dest, "file://", 7))
        return fp_errorf(e, FP_EUNSUPPORTED, "%s: publish: unsupported output URL", dest);
    const char *path = fp_store_local_path(dest);
    char dir[PATH_MAX], base[PATH_MAX], tmp[PATH_MAX * 2];
    snprintf(dir, sizeof(dir), "%s", path);
    snprintf(base, sizeof(base), "%s", path);
    snprintf(tmp, sizeof(tmp), "%s/.%s.fp-tmp-%ld", dirname(dir), basename(base), (long)getpid());
    int ret = fp_file_copy(local, tmp, e);
    if (ret == 0 && rename(tmp, path) < 0)
        ret = fp_errorf(e, FP_EOUTPUT, "%s: publish: rename failed: %s", path, strerror(errno));
    if (ret < 0) {
        unlink(tmp);
        if (e && e->code == FP_EIO)
            e->code = FP_EOUTPUT;
        return FP_EOUTPUT;
    }
    return 0;
}
