/*
 * jobs_store — where chunk results and final outputs live: file:// (local disk, NFS) and s3://
 * (S3-compatible, AWS SigV4 through libcurl).
 *
 * Owns: key validation (no "..", no absolute keys), atomic publication (an object is visible under
 * its key only once complete: temp name + rename on disk; a single PUT or a completed multipart
 * upload on S3, with abort on failure), and the backends' error messages. Does not own key naming
 * policy (the worker names keys per attempt) or which key won (the queue records that).
 */
#ifndef FP_JOBS_STORE_H
#define FP_JOBS_STORE_H

#include <stdint.h>

#include "core/fp_error.h"

typedef struct fp_store fp_store;

typedef struct fp_store_backend {
    const char *scheme; /* "file", "s3" */
    int (*open)(fp_store *s, const char *rest, fp_err *e);
    void (*close)(fp_store *s);
    int (*put_file)(fp_store *s, const char *key, const char *local, fp_err *e);
    int (*get_file)(fp_store *s, const char *key, const char *local, fp_err *e);
    int (*del)(fp_store *s, const char *key, fp_err *e);
} fp_store_backend;

struct fp_store {
    const fp_store_backend *be;
    char *url;
    void *priv;
};

/* Open a store from "file:///abs/dir" or "s3://bucket[/prefix]" (S3 endpoint, region and keys from
 * FP_S3_ENDPOINT, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY). *out is NULL on failure. */
int fp_store_open(fp_store **out, const char *url, fp_err *e);
void fp_store_freep(fp_store **s);

/* 1 when key is a safe relative object key: [A-Za-z0-9._-] segments separated by '/', no empty,
 * "." or ".." segment, at most 512 bytes. */
int fp_store_key_ok(const char *key);

/* Upload local under key; the object appears only when complete. FP_EIO/FP_EOUTPUT on failure
 * (nothing is left under key; a partial temp object is removed). */
int fp_store_put_file(fp_store *s, const char *key, const char *local, fp_err *e);
/* Download key into the local path (overwritten). FP_EINPUT when the key does not exist. */
int fp_store_get_file(fp_store *s, const char *key, const char *local, fp_err *e);
/* Remove key; a missing key is not an error. */
int fp_store_delete(fp_store *s, const char *key, fp_err *e);

/* Publish a finished local file as the job's final output: dest is a path, file:///path or
 * s3://bucket/key. On disk it is copied to a hidden temp name in the destination directory and
 * renamed, so a reader sees the old file, or the complete new one. */
int fp_store_publish(const char *dest, const char *local, fp_err *e);

/* Copy a file, fsyncing the destination. Errors: FP_EINPUT (source), FP_EIO (destination). */
int fp_file_copy(const char *src, const char *dst, fp_err *e);

/* Strip "file://" from a URL; returns a pointer into s. */
const char *fp_store_local_path(const char *s);

extern const fp_store_backend fp_store_file;
extern const fp_store_backend fp_store_s3;   /* only in builds with libcurl (FP_JOBS_HAVE_S3) */

/* 0, or FP_EUNSUPPORTED with a one-line reason when url is s3:// and this build has no S3 support. */
int fp_store_url_supported(const char *url, fp_err *e);

#endif
