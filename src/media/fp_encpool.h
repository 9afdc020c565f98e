/*
 * fp_encpool — N instances of one encoder working on GOP-aligned segments of the frame sequence, with
 * the packets handed back in order, as if one encoder had produced them.
 *
 * Owns: the worker threads, one fresh encoder instance per segment (so every segment starts with a
 * keyframe), the per-segment frame queues (each in-flight segment can take all its frames, so the
 * producer never waits on one encoder while others are idle; at most n x seg_frames frames queued in
 * all, a bound the caller sizes with fp_encpool_plan_make) and the ordering of packets for the muxer, including the
 * dts rebase that keeps dts strictly increasing across segment joins (B-frame encoders start each
 * segment with dts < pts). Does not own the encoder settings (fp_encoder.h) or the muxer: packets go
 * to the sink, always on the thread that calls fp_encpool_send/finish.
 *
 * With n == 1 there is one encoder for the whole sequence (the single-encoder reference run).
 */
#ifndef FP_ENCPOOL_H
#define FP_ENCPOOL_H

#include <libavcodec/avcodec.h>

#include "core/fp_error.h"
#include "media/fp_encoder.h"

#define FP_ENCPOOL_QUEUE 8            /* frames queued for a single encoder (n == 1) */
#define FP_ENCPOOL_BUFFER_MIB 2048     /* default budget for frames queued in a pool (--encode-buffer) */

/* How many encoders, how long their segments, how many threads each, for a memory budget. */
typedef struct fp_encpool_plan {
    int n;                 /* encoders */
    int seg_frames;        /* frames per segment */
    int threads;           /* threads per instance (cores / n, at least 1); -threads given by the user wins */
    int64_t buffer_frames; /* frames that may be queued at once: n x seg_frames (FP_ENCPOOL_QUEUE for n == 1) */
    int64_t buffer_bytes;
    char note[256];        /* non-empty when n or seg_frames was lowered to fit the budget: say it once */
} fp_encpool_plan;

/* Fits n encoders x seg frames of frame_bytes into budget_bytes: lowers seg (not below min_seg, and
 * only when !seg_fixed: the user gave -g or --segment-frames), then n. Returns 0 or FP_EINVAL. */
int fp_encpool_plan_make(fp_encpool_plan *pl, int cores, int n, int seg, int seg_fixed, int min_seg,
                         int64_t frame_bytes, int64_t budget_bytes);

/* Receives each packet (encoder time base) in output order; takes nothing (ref what you keep).
 * Returns 0 or a negative FP_E* code, which fails the pool. */
typedef int (*fp_encpool_sink)(void *opaque, AVPacket *pkt);

typedef struct fp_encpool fp_encpool;

/* Starts n workers (n >= 1) for segments of seg_frames frames (ignored when n == 1). cfg and its
 * opts are copied. The caller must already have opened one instance of cfg successfully (that is
 * where option errors are reported). On error *pp is NULL. */
int fp_encpool_open(fp_encpool **pp, const fp_encoder_cfg *cfg, int n, int seg_frames, fp_encpool_sink sink,
                    void *opaque, fp_err *e);

/* Queues a frame (a new reference is taken; the caller keeps its own). May block while the pool is
 * full, delivering finished segments to the sink meanwhile. Returns 0 or the first worker/sink error. */
int fp_encpool_send(fp_encpool *p, const AVFrame *frame, fp_err *e);

/* Flushes every instance and delivers all remaining packets. Returns 0 or the first error. */
int fp_encpool_finish(fp_encpool *p, fp_err *e);

/* A stop request polled (every 100 ms) while send/finish wait on the encoders: the final flush of a
 * slow pool can take minutes, and Ctrl-C must not wait for it. stop(arg) != 0 makes the waiting call
 * return FP_EINTR (no message: the caller says what stopped it). Set before the first send. */
void fp_encpool_set_stop(fp_encpool *p, int (*stop)(void *arg), void *arg);

/* Stops the workers (discarding queued work) and frees everything. NULL-safe. */
void fp_encpool_freep(fp_encpool **pp);

/* Frames sent and packets delivered so far. */
int64_t fp_encpool_frames(const fp_encpool *p);
int64_t fp_encpool_packets(const fp_encpool *p);
/* Most frames that were queued at once (memory check; segment parallelism shows as > seg_frames). */
int fp_encpool_peak_queued(const fp_encpool *p);

#endif
