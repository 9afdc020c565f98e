/*
 * matte_chunks — one video cut in time into chunks that are matted at once (throughput), each chunk
 * with its own model instance and recurrent state, started FP_MATTE_WARMUP_DEFAULT frames early (the
 * warm-up frames run through the model but are not written), then joined without re-encoding.
 *
 * Owns: the frame-count planner (equal chunks by frame count; the input needs no keyframe at a cut
 * because every chunk is decoded from the keyframe before its warm-up and re-encoded from a fresh
 * encoder, whose first frame is a keyframe), running the chunks on threads, and the join (video
 * packets of the chunk files in order, audio/subtitles stream-copied from the source, published under
 * the final name only when complete). Does not own the model (matte.h), the stage (matte_stage.h) or
 * the transcode path.
 *
 * Batch (default): the chunks of a round (up to `batch`) are decoded and encoded on their own threads
 * and one frame of each goes into one model call [N,3,H,W] with the state batched [N,...] (row i =
 * chunk i, fp_matte_run_batch); the chunks start together (chunk 0 has no warm-up, so it ends first)
 * and the batch shrinks as chunks end (the runtime plans once per shape, each plan with its own
 * activation arena) or is padded (ended chunks keep their rows: one shape; `batch_tail`; by default
 * padded on CUDA, where memory is the limit, shrunk on the CPU, where rows cost time). batch = 1: each chunk
 * its own model instance on its own thread (session 1's path, and the one for a fixed-batch export).
 *
 * Warm-up: RVM's recurrent state forgets its start within a few frames; the default of 8 frames
 * keeps the chunk-boundary difference to a sequential pass below the tolerance tests/e2e states.
 */
#ifndef FP_TASKS_MATTE_CHUNKS_H
#define FP_TASKS_MATTE_CHUNKS_H

#include <stdint.h>

#include <libavutil/dict.h>

#include "core/fp_error.h"
#include "tasks/matte.h"
#include "tasks/matte_stage.h"

#define FP_MATTE_WARMUP_DEFAULT 8

/* What a batch does when its chunks end at different times. */
typedef enum fp_matte_tail {
    FP_MATTE_TAIL_AUTO = 0,       /* pad on CUDA (one plan and arena), shrink on the CPU (no wasted rows) */
    FP_MATTE_TAIL_SHRINK,         /* fewer rows: the runtime plans (and allocates) once per new size */
    FP_MATTE_TAIL_PAD,            /* the rows stay: an ended chunk's row reruns its last frame, dropped */
} fp_matte_tail;

typedef struct fp_matte_chunk_opts {
    const char *input, *output;
    fp_matte_opts model;          /* each chunk opens its own instance from this */
    fp_matte_mode mode;
    int premultiplied;
    float bg_rgb[3];
    const char *bg_path;          /* COMPOSITE over a picture or video (matte_bg.h); NULL: bg_rgb */
    const char *vcodec, *pix_fmt; /* NULL: from the output's extension */
    int chunks;                   /* >= 1 */
    int warmup_frames;            /* >= 0 */
    int parallel;                 /* chunks run at once; 0: all */
    int batch;                    /* chunks in one model call (fp_matte_run_batch; each its own state row,
                                     started together, the batch shrinking as chunks end); 0: as many as
                                     run at once; 1: each chunk its own model instance on its own thread.
                                     A model with a fixed batch of 1 runs as 1, and so does a CUDA model
                                     whose device path is usable (no background file, FP_HOST_PATH unset):
                                     the batch is host-staged, one device path per chunk is faster. */
    fp_matte_tail batch_tail;
    int queue_decoded, queue_converted; /* each chunk's fp_transcode queues; 0: its default */
    const char *announce;         /* a line printed once to stderr when the first chunk has opened (NULL: none) */
    int (*interrupted)(void);
    const AVDictionary *video_metadata;
    int no_audio, no_subs;         /* the join leaves the source's audio / subtitles out */
} fp_matte_chunk_opts;

typedef struct fp_matte_chunk_stats {
    int64_t frames;               /* frames written */
    int64_t warmup_frames_run;    /* extra frames the model ran for warm-up */
    int chunks;
    double seconds, model_s;      /* model_s: batch mode: time in the batched calls */
    int batch;                    /* rows per call at the end (after OOM retries); 0: threads mode */
    int64_t model_calls;          /* batch mode: model calls made, and their mean rows */
    double mean_rows;
    int64_t padded_rows;          /* batch mode, pad: rows run for chunks already ended */
    int device_chunks;            /* chunks whose frames stayed on the GPU (threads mode, CUDA model: the
                                     device path of fp_devpath.h; the batch is host-staged) */
} fp_matte_chunk_stats;

/* Whether the output's container is QuickTime MOV (by extension), whose muxer keeps no stream tags:
 * the alpha type is written at the file level there (movflags use_metadata_tags, an mdta key). */
int fp_matte_is_mov(const char *output);

/* Run o->input in o->chunks chunks and publish o->output. On failure nothing exists under the output
 * name and the chunk files are removed; e holds the first chunk's error ("FILE: stage: cause").
 * st may be NULL. Errors: those of fp_matte_open / fp_transcode_open/run, FP_EINPUT (no video,
 * packets without timestamps), FP_EOUTPUT/FP_EIO (join), FP_EINTR. */
int fp_matte_run_chunked(const fp_matte_chunk_opts *o, fp_matte_chunk_stats *st, fp_err *e);

#endif
