/*
 * matte_many — many input files through the chunked-jobs queue: one SQLite queue in a temporary
 * directory, one job per file, N worker threads (one per GPU) claiming files (work stealing, not
 * round-robin), and a per-file and overall summary. A failing file is recorded as failed in the queue
 * (permanently: a corrupt input does not get better on retry) and never stops the others.
 *
 * Owns: the file list (a directory's regular files or a glob), the queue's lifetime, the workers and
 * the summary. Two ways to run a file:
 *   - run_file (task_params NULL): the caller's callback (the matte pass of cmd_matte.c) writes one
 *     output and publishes it itself; each file is one piece of work.
 *   - the queue's "matte" task (task_params set): each file is planned into chunks of about
 *     chunk_seconds at clean keyframes, each chunk runs with warm-up frames before its first written
 *     frame (its own recurrent state), and the chunks are joined without re-encoding (task_media.c,
 *     task_remux.c). All files' chunks are in the one queue, so a huge file's chunks spread over every
 *     worker instead of leaving the others idle once the small files are done. Files shorter than
 *     chunk_seconds are one chunk.
 * --chunks inside one file without the queue is matte_chunks.h.
 *
 * The lease is set far longer than any file (24 h): the workers are threads of this process, so a
 * crash takes the whole run with it and no other worker could take a file over.
 */
#ifndef FP_TASKS_MATTE_MANY_H
#define FP_TASKS_MATTE_MANY_H

#include <stdint.h>
#include <stdio.h>

#include "core/fp_error.h"

typedef struct fp_matte_file_result {
    int64_t frames;
    double seconds;
} fp_matte_file_result;

typedef struct fp_matte_many_opts {
    const char *const *inputs;  /* n paths (borrowed) */
    int n;
    const char *outdir;         /* outputs are OUTDIR/<input name without extension>.<ext> */
    const char *ext;            /* "webm", "mov", "mkv" */
    int workers;                /* >= 1; worker i uses device i % devices */
    int devices;                /* >= 1 */
    /* One file: write out (published complete or not at all). Called on worker threads. */
    int (*run_file)(void *opaque, const char *in, const char *out, int device, fp_matte_file_result *r, fp_err *e);
    void *opaque;
    FILE *report;               /* summary lines (stderr) */
    /* Chunked files through the queue's "matte" task (see above); NULL: run_file. JSON object text,
     * e.g. from fp_matte_many_task_params(); borrowed. */
    const char *task_params;
    double chunk_seconds;       /* with task_params: target chunk length (<= 0: 30) */
    int warmup_frames;          /* with task_params: < 0: the task's default (FP_MATTE_WARMUP_DEFAULT) */
} fp_matte_many_opts;

typedef struct fp_matte_many_stats {
    int ok, failed;
    int64_t frames;
    double seconds;
    int first_error;            /* FP_E* of the first failed file (0 if none) */
} fp_matte_many_stats;

/* Expand arg into a sorted list of files: a directory's regular, non-hidden files, or a glob's
 * matches. *out is an array of n strings; free with fp_matte_list_free. FP_EINPUT when nothing
 * matches or the directory cannot be read. */
int fp_matte_list_inputs(const char *arg, char ***out, int *n, fp_err *e);
void fp_matte_list_free(char ***list, int n);

/* Whether arg names many inputs (an existing directory, or a pattern with * ? [). */
int fp_matte_is_many(const char *arg);

/* The "matte" task's params for files matted with mo's model settings (model, backend, precision,
 * downsample ratio, threads; not device_id: each worker's GPU is its own) in mode "rgba", "composite"
 * or "alpha"; bg_hex "RRGGBB" is the composite colour (NULL: the task's default). Returns JSON text the
 * caller frees with free(), NULL on out of memory. Only with the jobs module (FP_HAVE_JOBS). */
struct fp_matte_opts;
char *fp_matte_many_task_params(const struct fp_matte_opts *mo, const char *mode, const char *bg_hex);

/* The rest of the command line the "matte" task understands (all optional: NULL/0 = the task's
 * default). Strings borrowed. */
typedef struct fp_matte_task_extra {
    const char *alpha_mode;     /* "straight" | "premultiplied" */
    const char *vcodec;         /* FFmpeg encoder name */
    const char *pix_fmt;        /* encoder pixel format */
    int no_audio, no_subs;      /* the join drops audio / subtitles */
} fp_matte_task_extra;

/* fp_matte_many_task_params plus x's settings (x may be NULL). Same ownership: free() the result. */
char *fp_matte_many_task_params_ex(const struct fp_matte_opts *mo, const char *mode, const char *bg_hex,
                                   const fp_matte_task_extra *x);

/* Run every file. Returns 0 when the queue worked (files may still have failed: see st), or a
 * negative code for the run itself (FP_EDB, FP_EOUTPUT for OUTDIR, FP_ENOMEM). */
int fp_matte_many_run(const fp_matte_many_opts *o, fp_matte_many_stats *st, fp_err *e);

#endif
