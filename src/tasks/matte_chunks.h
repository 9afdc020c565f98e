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
 * the transcode path. On the CPU the "batch" is chunks run concurrently on threads; a single model
 * call over [N,3,H,W] with N states (one tensor batch) is the GPU path's job and not done here.
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

typedef struct fp_matte_chunk_opts {
    const char *input, *output;
    fp_matte_opts model;          /* each chunk opens its own instance from this */
    fp_matte_mode mode;
    int premultiplied;
    float bg_rgb[3];
    const char *vcodec, *pix_fmt; /* NULL: from the output's extension */
    int chunks;                   /* >= 1 */
    int warmup_frames;            /* >= 0 */
    int parallel;                 /* chunks run at once; 0: all */
    int (*interrupted)(void);
    const AVDictionary *video_metadata;
    int no_audio, no_subs;         /* the join leaves the source's audio / subtitles out */
} fp_matte_chunk_opts;

typedef struct fp_matte_chunk_stats {
    int64_t frames;               /* frames written */
    int64_t warmup_frames_run;    /* extra frames the model ran for warm-up */
    int chunks;
    double seconds, model_s;
} fp_matte_chunk_stats;

/* Run o->input in o->chunks chunks and publish o->output. On failure nothing exists under the output
 * name and the chunk files are removed; e holds the first chunk's error ("FILE: stage: cause").
 * st may be NULL. Errors: those of fp_matte_open / fp_transcode_open/run, FP_EINPUT (no video,
 * packets without timestamps), FP_EOUTPUT/FP_EIO (join), FP_EINTR. */
int fp_matte_run_chunked(const fp_matte_chunk_opts *o, fp_matte_chunk_stats *st, fp_err *e);

#endif
