/*
 * jobs_spec — the job description: what a job runs (task), on what (input), to where (output,
 * storage) and how it is cut (chunk_seconds, warmup_frames), as JSON stored in jobs.spec.
 *
 * Owns: parsing and validating job JSON (from `submit`, the HTTP API and the database) and writing it
 * back. Does not own task-specific parameters beyond carrying them as a JSON object ("params"), nor
 * path policy (allowed roots: jobs_paths.h).
 */
#ifndef FP_JOBS_SPEC_H
#define FP_JOBS_SPEC_H

#include "core/fp_error.h"

typedef struct fp_job_spec {
    char *task;           /* registered task name */
    char *input;          /* local path or file:// URL */
    char *output;         /* local path, file:// or s3:// URL of the final output */
    char *storage;        /* chunk storage: file:///dir or s3://bucket/prefix */
    double chunk_seconds; /* target chunk length (default 30) */
    int warmup_frames;    /* -1 = task default */
    char *params;         /* JSON object text of task parameters ("{}" when none) */
} fp_job_spec;

/* Parse and validate job JSON of len bytes (need not be NUL-terminated). On success spec owns its
 * strings (fp_job_spec_clear frees them, also after a failure). Errors are FP_EINVAL with a message
 * naming the field, prefixed with what (e.g. "job.json" or "HTTP body"). */
int fp_job_spec_parse(fp_job_spec *spec, const char *json, size_t len, const char *what, fp_err *e);

/* Serialise to a newly allocated JSON string the caller frees with free(); NULL on out of memory. */
char *fp_job_spec_json(const fp_job_spec *spec);

void fp_job_spec_clear(fp_job_spec *spec);

#endif
