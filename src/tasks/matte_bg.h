/*
 * matte_bg — the background of `--composite IMAGE|VIDEO`: a picture or a video decoded alongside the
 * input, scaled to the frame size, looped when shorter, and mapped to the input's frames by time.
 *
 * Owns: opening and decoding the background file (libavformat/libavcodec, CPU), the time mapping, the
 * loop, the scale and conversion to planar float RGB (swscale, bicubic, the frame's own YUV matrix and
 * range), and a processing stage that sets the matte stage's background for each frame and calls it.
 * Does not own the compose (matte_stage.h) nor the input's decoding (fp_transcode.h).
 *
 * Time mapping: input frame at time t (seconds since the input video stream's start) shows the
 * background frame that is on screen at t' = t mod D since the background's own first frame, where D
 * is the background's length (its last frame's time + that frame's duration, found at its end). The
 * background's frame rate does not matter: each input frame takes the latest background frame at or
 * before t'. A single picture (or a one-frame video) is shown for every frame.
 *
 * Threads: one fp_matte_bg is used by one thread (a chunk opens its own).
 */
#ifndef FP_TASKS_MATTE_BG_H
#define FP_TASKS_MATTE_BG_H

#include <stdint.h>

#include <libavutil/rational.h>

#include "core/fp_error.h"
#include "gpu/fp_image.h"
#include "tasks/matte_stage.h"

typedef struct fp_matte_bg fp_matte_bg;

/* Open the background file (nothing decoded yet). On success *pb is the caller's (fp_matte_bg_freep).
 * FP_EINPUT with one line "FILE: composite: cause" when it is not a readable picture or video. */
int fp_matte_bg_open(fp_matte_bg **pb, const char *path, fp_err *e);
void fp_matte_bg_freep(fp_matte_bg **pb);

/* The background at t seconds (see the mapping above) as planar RGB fp32 in [0,1], w x h, in *rgb
 * (owned by b, valid until the next call). Decodes forward; a jump back (the loop) reopens the file, a
 * jump ahead of more than 2 s seeks. FP_EINPUT when the file has no decodable picture. */
int fp_matte_bg_at(fp_matte_bg *b, double t, int w, int h, const float **rgb, fp_err *e);

/* Background frames decoded so far, and the loop length in seconds (0 until the end was seen). */
int64_t fp_matte_bg_decoded(const fp_matte_bg *b);
double fp_matte_bg_length(const fp_matte_bg *b);

/* A processing stage (fp_process_stage.process) that composites over the background: opaque is a
 * fp_matte_bg_stage; the input frame's time is (pts - start_pts) * time_base. */
typedef struct fp_matte_bg_stage {
    fp_matte_stage *s;            /* borrowed; its mode is FP_MATTE_MODE_COMPOSITE */
    fp_matte_bg *bg;              /* borrowed */
    AVRational time_base;         /* of the input video stream */
    int64_t start_pts;            /* the stream's start (AV_NOPTS_VALUE: 0) */
} fp_matte_bg_stage;

int fp_matte_bg_stage_process(void *opaque, const fp_planar *rgb, const fp_planar *alpha, int64_t pts, fp_err *e);

#endif
