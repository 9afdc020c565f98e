/*
 * jobs_serve — the HTTP API of the queue (libmicrohttpd): submit, list, status, cancel (JSON), a
 * status page for browsers and Prometheus metrics.
 *
 * Owns: routing, bearer-token authentication, the allowed input/output roots (a submitted path must
 * resolve inside a configured root; s3:// outputs must name a configured bucket), JSON and HTML
 * rendering. Does not own planning or queue logic (jobs_worker.c, jobs_queue.c).
 *
 * Routes (all need "Authorization: Bearer TOKEN"; the HTML page also takes ?token=TOKEN so a
 * browser can open it):
 *   GET  /api/jobs              newest jobs            POST /api/jobs            submit (job JSON)
 *   GET  /api/jobs/ID           one job + its tasks    POST /api/jobs/ID/cancel  cancel
 *   GET  /                      status page            GET  /metrics             Prometheus text
 */
#ifndef FP_JOBS_SERVE_H
#define FP_JOBS_SERVE_H

#include "core/fp_error.h"

typedef struct fp_serve_opts {
    const char *queue_url;
    const char *storage;            /* chunk storage for submitted jobs without "storage" */
    const char *token;              /* required bearer token (non-empty) */
    const char *const *input_roots; /* NULL-terminated list of directories */
    const char *const *output_roots;
    const char *const *buckets;     /* NULL-terminated list of allowed s3 buckets (may be NULL) */
    const char *address;            /* bind address (default 127.0.0.1) */
    int port;                       /* 0: any free port */
} fp_serve_opts;

typedef struct fp_serve fp_serve;

/* Start serving in a background thread. *out receives the server (fp_serve_stop frees it). */
int fp_serve_start(fp_serve **out, const fp_serve_opts *o, fp_err *e);
int fp_serve_port(const fp_serve *s);
void fp_serve_stop(fp_serve **s);

/* Path policy, exposed for tests: 1 when path resolves inside one of roots (the file for inputs,
 * its directory for outputs, must exist). Any ".." component is refused before resolving. */
int fp_serve_path_allowed(const char *path, const char *const *roots, int is_output);

#endif
