/*
 * fp_autoconf — the settings framepipe chooses when the user does not: queue depths, model batch
 * size, encoder count. One function, so `framepipe doctor` shows exactly what a task would use.
 *
 * Owns: the policy (below) and its one-line explanation. Does not own discovering the machine
 * (fp_gpuinfo.h, fp_mem.h) nor applying the settings (media, tasks).
 *
 * Policy (estimates, stated so they can be checked against measurements and changed in one place):
 *  - GPU budget = 70 % of the GPU's free memory minus 1 GiB (context, cuDNN/cuBLAS workspaces).
 *  - One frame in flight on the GPU costs: the decoded surface (NV12/P010: w*h*1.5 * bytes/sample),
 *    the model input (planar RGB fp16: w*h*3*2) and activations (model_act_factor x the input,
 *    default 24: a recurrent matting network at full resolution keeps about that many input-sized
 *    fp16 tensors alive under our memory plan), and the output RGBA (w*h*4).
 *  - batch = the largest power of two <= 16 whose frames fit in half the budget; at least 1.
 *  - GPU-side queues (decode -> model) hold 2 batches, capped by what is left of the budget, 2..32.
 *  - host queues (model -> encoders) hold RGBA frames: 2 per encoder, 4..8, within min(25 % of available
 *    RAM, 512 MiB) and at least 2 (the encoder pool buffers segments itself, --encode-buffer).
 *  - encoders = cores - 1 (one core for demux/decode-feed/mux), or cores - 2 with a GPU (one more
 *    feeds it), at least 1, at most 16. On the CPU path the model runs with batch 1 and its own
 *    threads, so encoders = max(1, cores / 2).
 */
#ifndef FP_AUTOCONF_H
#define FP_AUTOCONF_H

#include <stdint.h>

#include "pipeline/fp_gpuinfo.h"

typedef struct fp_autoconf_in {
    int width, height;              /* frame size processed (0: 1920x1080) */
    int bit_depth;                  /* 8 or 10 (0: 8) */
    int cpu_cores;                  /* 0: online cores of this machine */
    uint64_t host_mem_available;    /* bytes; 0: MemAvailable of this machine */
    const fp_gpu_device *gpu;       /* NULL: CPU-only */
    double model_act_factor;        /* 0: 24 (see above) */
} fp_autoconf_in;

typedef struct fp_autoconf_out {
    int batch;
    int gpu_queue_depth;            /* decode -> preprocess -> model */
    int host_queue_depth;           /* model -> encoders */
    int encoders;
    uint64_t gpu_budget;            /* bytes framepipe plans to use on the GPU (0 on CPU) */
    uint64_t gpu_frame_bytes;       /* per frame in flight on the GPU */
    uint64_t host_frame_bytes;      /* per RGBA frame on the host */
    char why[256];                  /* one line: what limited the choice */
} fp_autoconf_out;

/* Fill out from in. Returns 0, or FP_EINVAL for a negative/absurd size (then out is zeroed). */
int fp_autoconf(const fp_autoconf_in *in, fp_autoconf_out *out);

#endif
