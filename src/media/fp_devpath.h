/*
 * fp_devpath — the device-resident part of the transcode path: an NVDEC frame (AV_PIX_FMT_CUDA) is
 * cropped, scaled, converted to float RGB, run through the processing stage's device twin (the key,
 * a model), converted into the encoder's pixel format on the GPU, and downloaded once, asynchronously,
 * into a pinned host AVFrame for the CPU encoder pool. Without processing (plain transcode) it is the
 * pinned download alone (planes copied as they are, so pixels equal the host path's).
 *
 * Owns: one CUDA stream (the process stage's; FFmpeg decodes on the legacy default stream of the same
 * primary context, with which this stream synchronises), the device scratch (float RGB + alpha, the
 * encoder-format image) and the pinned frame pool (flat memory: a buffer returns to the pool when the
 * encoder pool drops its last reference; the number alive is bounded by the pipeline's queues and the
 * encoder pool's, and reported). Does not own the decoder or its CUcontext (fp_input.h: framepipe runs
 * on FFmpeg's, which is the device's primary context, so cudart calls on any thread share it), the
 * colour kernels (src/gpu/fp_image.h), nor the stage (fp_transcode.h, borrowed).
 *
 * Threads: one fp_devpath is used by one thread (the process stage); pinned buffers may be released on
 * any thread. A CPU-only build compiles this file: fp_devpath_check says "built without CUDA" and
 * fp_devpath_open returns FP_EUNSUPPORTED.
 */
#ifndef FP_DEVPATH_H
#define FP_DEVPATH_H

#include <stddef.h>

#include <libavutil/frame.h>
#include <libavutil/pixfmt.h>

#include "core/fp_error.h"
#include "gpu/fp_image.h"
#include "media/fp_transcode.h"

typedef struct fp_devpath_cfg {
    enum AVPixelFormat sw_fmt;   /* the decoded format under AV_PIX_FMT_CUDA (nv12, p010, yuv444p, yuv444p16) */
    int in_w, in_h;
    fp_rect crop;                /* w == 0: whole frame */
    int out_w, out_h;
    enum AVPixelFormat out_fmt;  /* the encoder's */
    int float_path;              /* 1: preprocess -> stage -> postprocess on the device; 0: download only */
    const fp_process_stage *stage; /* borrowed; with float_path it must have process_cuda (or be NULL) */
    int upload;                  /* frames are host frames of sw_fmt (CPU decode): uploaded once, then the
                                    same device path (float_path only) */
    int device;                  /* CUDA device ordinal: made current on the calling thread at open and at
                                    every convert (the process stage is not the thread that opened the input
                                    and the model; see fp_devpath_current_device) */
} fp_devpath_cfg;

typedef struct fp_devpath_stats {
    int64_t frames;
    int pinned_alive_max;        /* most pinned frames alive at once (flat memory check) */
    double gpu_s;                /* seconds the process thread waited for its stream (kernels + copy) */
} fp_devpath_stats;

typedef struct fp_devpath fp_devpath;

/* Whether cfg can run on the device. Returns 1, or 0 with a one-line reason in why (an encoder format
 * the kernels do not write, a stage without a device twin, a decoded format they do not read). */
int fp_devpath_check(const fp_devpath_cfg *cfg, char *why, size_t n);

/* fp_pixfmt for an FFmpeg format the kernels read or write; FP_PIX_NONE otherwise. */
fp_pixfmt fp_devpath_pixfmt(enum AVPixelFormat f);

/* Allocates the stream and the device scratch. On success *pd is the caller's (fp_devpath_freep); on
 * error *pd is NULL and e says why (FP_EUNSUPPORTED per fp_devpath_check, FP_EDEVICE, FP_ENOMEM). */
int fp_devpath_open(fp_devpath **pd, const fp_devpath_cfg *cfg, fp_err *e);

/* One decoded CUDA frame (a host frame of sw_fmt with cfg.upload) -> dst (empty on entry; on success a pinned host frame the caller owns and
 * unrefs: out_fmt at out_w x out_h with float_path, else sw_fmt at the decoded size). src's
 * properties (pts, colour tags) are copied. Returns 0 or FP_EDEVICE / FP_ENOMEM / the stage's error;
 * on error dst is left empty. */
int fp_devpath_convert(fp_devpath *d, const AVFrame *src, int64_t pts, AVFrame *dst, fp_err *e);

/* The CUDA runtime's current device on this thread (the one fp_input hands FFmpeg and the nn runtime
 * runs on when this thread opened them); 0 when there is none or no CUDA. */
int fp_devpath_current_device(void);

const fp_devpath_stats *fp_devpath_get_stats(const fp_devpath *d);

/* Waits for the stream, frees the scratch and the stream; pinned frames still referenced elsewhere
 * stay valid (the pool is freed when the last one returns). NULL-safe. */
void fp_devpath_freep(fp_devpath **pd);

#endif
