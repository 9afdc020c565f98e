/*
 * matte — the matte task's core: one RobustVideoMatting-style ONNX model run frame after frame with
 * its recurrent state carried between frames.
 *
 * Owns: loading the model and checking its interface (inputs src [1,3,H,W], r1i..r4i [rank 4],
 * downsample_ratio [1]; outputs fgr, pha, r1o..r4o), the fp32/fp16 boundary (an fp16 export takes and
 * returns fp16 tensors: converted here, the caller always sees fp32), the recurrent state (zero
 * [1,1,1,1] tensors at the start, as RVM does), the automatic downsample_ratio, and the backend choice.
 * Does not own decoding, colour conversion, compositing or encoding (media; matte_stage.h adapts this
 * to a fp_transcode processing stage).
 *
 * Automatic downsample_ratio (FP_MATTE_AUTO_RATIO_RULE): r = min(1, 512 / max(W, H)) rounded down to a
 * multiple of 1/16, at least 1/16: 0.25 at 1920x1080, 0.125 at 3840x2160, 0.375 at 1280x720,
 * 0.0625 at 5760x2880 and 8192x4096, 1 up to 512 pixels.
 *
 * Threads: one fp_matte is used by one thread at a time (it owns one model and one state).
 */
#ifndef FP_TASKS_MATTE_H
#define FP_TASKS_MATTE_H

#include <stdint.h>

#include "core/fp_error.h"
#include "framepipe.h"

#define FP_MATTE_AUTO_RATIO_RULE "min(1, 512/max(W,H)) rounded down to a multiple of 1/16 (>= 1/16)"

typedef struct fp_matte_opts {
    const char *model;        /* path of the ONNX file */
    const char *backend;      /* "auto" (CUDA when built and it loads, else CPU), "cpu", "cuda"; NULL = auto */
    int fp16;                 /* -1: by backend (fp16 on CUDA, fp32 on CPU); 0 fp32; 1 fp16 compute (CUDA) */
    double downsample_ratio;  /* 0: automatic (rule above); else in (0, 1] */
    int threads;              /* CPU threads, 0 = all cores */
    int device_id;
} fp_matte_opts;

void fp_matte_opts_default(fp_matte_opts *o);

typedef struct fp_matte fp_matte;

/* Load and check the model. On success *pm is the caller's (fp_matte_freep). On failure *pm is NULL
 * and e holds one line "MODEL: load: cause" or "MODEL: interface: cause"; every failure to use the
 * model (missing, malformed, unsupported op, wrong interface) returns FP_EMODEL so the command exits
 * with 6. FP_EINVAL for bad options, FP_EDEVICE when --backend cuda is asked for and cannot be had. */
int fp_matte_open(fp_matte **pm, const fp_matte_opts *o, fp_err *e);
void fp_matte_freep(fp_matte **pm);

/* The backend in use ("cpu"/"cuda"), whether the model's tensors are fp16, and whether compute is fp16. */
const char *fp_matte_backend(const fp_matte *m);
int fp_matte_model_fp16(const fp_matte *m);
int fp_matte_compute_fp16(const fp_matte *m);

/* The ratio used for a WxH frame: the option if set, else the automatic rule. */
double fp_matte_ratio_for(const fp_matte *m, int w, int h);
double fp_matte_auto_ratio(int w, int h);

/* Configure-time check: FP_EMODEL with one line when the model declares a fixed src size other than
 * WxH (an export without dynamic axes), so a mismatch fails before the first frame is decoded. */
int fp_matte_check_size(const fp_matte *m, int w, int h, fp_err *e);

/* Run one frame. rgb: fp32 planar RGB in [0,1], 3*h*w values (host), read only. fgr (3*h*w, may be
 * NULL) and pha (h*w, may be NULL) are written on success (caller's host buffers). The state is
 * advanced only on success. Errors: FP_EMODEL (shape refused, output of the wrong shape), FP_ENOMEM,
 * FP_EDEVICE (CUDA, including out of memory), FP_EUNSUPPORTED. */
int fp_matte_run(fp_matte *m, const float *rgb, int w, int h, float *fgr, float *pha, fp_err *e);

/* Several independent streams (rows) in one model call — the chunk batcher's call; fp_matte_run is
 * this with one row. Each row has its own recurrent state: row i of r1..r4 belongs to stream i.
 *  src  [N,3,H,W], read only: host float32 planar RGB in [0,1], or FP_DEVICE_CUDA memory of the
 *       model's dtype (fp_matte_model_fp16) on the CUDA backend, written by the caller (no staging).
 *  fgr  [N,3,H,W] and pha [N,1,H,W] descriptors, each may be NULL (not wanted). data NULL: the
 *       runtime's host tensor (model dtype) is handed over, owned (fp_tensor_free). data set on the
 *       host: float32, written (converted from an fp16 model). data set on the device: the model's
 *       dtype, written by the runtime in place.
 * State: after open/reset it is the zero state, good for any N (the network broadcasts it); after a
 * run it holds N rows and a run with another N is refused (FP_EINVAL) until fp_matte_keep_rows says
 * which rows go on. A new stream cannot join mid-way (its row would need a zero row of the carried
 * shape): batches start together. The state advances only on success.
 * Errors: those of fp_matte_run; FP_EUNSUPPORTED when N exceeds fp_matte_max_batch. */
int fp_matte_run_batch(fp_matte *m, const fp_tensor *src, fp_tensor *fgr, fp_tensor *pha, fp_err *e);

/* Keep state rows rows[0..n) (strictly increasing), in that order, as rows 0..n-1: the batch shrinks
 * when streams end. n == 0 resets. A zero state needs nothing. FP_EINVAL for bad indices,
 * FP_EUNSUPPORTED for a state in device memory (not done: the runtime returns host state today). */
int fp_matte_keep_rows(fp_matte *m, const int *rows, int n, fp_err *e);

/* Rows of the carried state (0: zero state) and the largest batch the model takes (1 for an export
 * with a fixed batch of 1, else unbounded: 65536). */
int fp_matte_state_rows(const fp_matte *m);
int fp_matte_max_batch(const fp_matte *m);
/*
 * Device-resident run (CUDA builds, cuda backend): src, fgr and pha are CUDA device pointers in the
 * model's dtype (fp16 when fp_matte_model_fp16, else fp32), [1,3,h,w] / [1,3,h,w] / [1,1,h,w]; src must
 * be complete (the caller synchronised the stream that wrote it), fgr/pha are complete on return. The
 * recurrent state stays on the device (two sets of buffers owned by m, swapped each frame) and is
 * separate from fp_matte_run's: one fp_matte runs one way per sequence (fp_matte_reset between).
 * Errors as fp_matte_run; FP_EUNSUPPORTED on the CPU backend or without CUDA.
 */
int fp_matte_run_device(fp_matte *m, const void *src, int w, int h, void *fgr, void *pha, fp_err *e);

/* fp_matte_run_device over nb rows: src [nb,3,H,W], fgr [nb,3,H,W], pha [nb,1,H,W] (model's dtype, device),
 * the device state [nb,...] (row i = sequence i; the zero state broadcasts over any nb). Every call of a
 * sequence has the same nb (FP_EINVAL otherwise; fp_matte_reset starts over). fp_matte_run_device is nb 1. */
int fp_matte_run_device_batch(fp_matte *m, const void *src, int nb, int w, int h, void *fgr, void *pha, fp_err *e);

/* 1 when fp_matte_run_device can run (CUDA build and cuda backend). */
int fp_matte_device_ok(const fp_matte *m);

/* Forget the recurrent state (next frame starts from zero state, as the first one). */
void fp_matte_reset(fp_matte *m);

/* Frames run since open/reset. */
int64_t fp_matte_frames(const fp_matte *m);

#endif
