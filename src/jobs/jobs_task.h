/*
 * jobs_task — the table of chunkable tasks: name -> run one chunk, aggregate the chunks.
 *
 * Owns: the task descriptor and the registry. Does not own claiming, storage or retries (the worker
 * does that around these functions). A task function only reads local files and writes one local
 * file; it must poll ctx->stop (set when the lease is lost or the worker is told to stop) and return
 * FP_EINTR promptly when it is set.
 */
#ifndef FP_JOBS_TASK_H
#define FP_JOBS_TASK_H

#include <signal.h>
#include <stdatomic.h>

#include "core/fp_error.h"
#include "jobs/jobs_queue.h"

typedef struct fp_task_ctx {
    const char *input;       /* local input path */
    const char *params;      /* task parameters, JSON object text */
    const fp_chunk *chunk;   /* NULL for aggregation */
    atomic_int *stop;        /* non-zero: stop now, return FP_EINTR */
    _Atomic double *progress; /* 0..1, read by the heartbeat */
    int gpu;                 /* GPU index of this worker thread (worker --gpus), -1: none given */
    fp_task_stats *stats;    /* run_chunk may fill it (stage seconds, frames); owned by the worker */
} fp_task_ctx;

typedef struct fp_task_desc {
    const char *name;
    const char *help;
    int warmup_frames; /* frames of state warm-up this task needs before a chunk (0: stateless) */
    const char *chunk_ext; /* extension of chunk result files; NULL: the final output's (the chunk is
                            * a media file in the output's container) */
    /* Process ctx->chunk of ctx->input into the local file out. */
    int (*run_chunk)(const fp_task_ctx *ctx, const char *out, fp_err *e);
    /* Join the chunk results (local files, in chunk order) into the local file out. out's extension
     * is the final output's (it picks the container). */
    int (*aggregate)(const fp_task_ctx *ctx, const char *const *chunks, int n, const char *out, fp_err *e);
} fp_task_desc;

/* NULL when no task has that name. */
const fp_task_desc *fp_task_find(const char *name);
/* i-th registered task, NULL past the end (for --help listings). */
const fp_task_desc *fp_task_at(int i);

/* ---- shared by the task implementations (task_*.c) ---- */
struct fp_process_stage;
struct AVDictionary;
/* The media tasks' aggregate: join chunk files without re-encoding, audio/subtitles from the source
 * (task_remux.c). */
int fp_task_join_chunks(const fp_task_ctx *ctx, const char *const *chunks, int n, const char *out, fp_err *e);
/* Run fp_transcode (with stage, NULL for none) over ctx's chunk into out: decoding starts at from_pts
 * (earlier than the chunk's start_pts for warm-up frames, which are processed but not written),
 * writing at start_pts; no audio/subtitles (the join copies them). The encoder, pixel format, encoder
 * options and decode path come from ctx->params ("vcodec", "pix_fmt", "enc_opts", "decode"). Checks
 * the frame count against the plan and fills ctx->stats. Stops with FP_EINTR when ctx->stop is set
 * (task_media.c). */
int fp_task_run_range(const fp_task_ctx *ctx, const char *out, const struct fp_process_stage *stage,
                      int64_t from_pts, struct AVDictionary *meta, fp_err *e);

#endif
