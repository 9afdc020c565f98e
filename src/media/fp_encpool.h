/*
 * fp_encpool — N instances of one encoder working on GOP-aligned segments of the frame sequence, with
 * the packets handed back in order, as if one encoder had produced them.
 *
 * Owns: the worker threads, one fresh encoder instance per segment (so every segment starts with a
 * keyframe), the per-segment bounded frame queues (flat memory: at most N segments in flight, each
 * holding at most FP_ENCPOOL_QUEUE frames) and the ordering of packets for the muxer, including the
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

#define FP_ENCPOOL_QUEUE 8

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

/* Stops the workers (discarding queued work) and frees everything. NULL-safe. */
void fp_encpool_freep(fp_encpool **pp);

/* Frames sent and packets delivered so far. */
int64_t fp_encpool_frames(const fp_encpool *p);
int64_t fp_encpool_packets(const fp_encpool *p);

#endif
