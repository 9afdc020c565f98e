/*
 * matte_cuda — the matte task's device kernels (matte_cuda.cu): the fp32 -> fp16 cast of the model's
 * src input and the compose that turns the model's fgr/pha into the stage's RGB (+ alpha) planes, the
 * device twin of the loop in matte_stage.c (same operations, built with -fmad=false: same floats).
 * Owns no memory: every pointer is the caller's device memory; work is queued on `stream`, nothing is
 * synchronised. Returns 0 or FP_EDEVICE (launch failure). Private to src/tasks; CUDA builds only.
 */
#ifndef FP_TASKS_MATTE_CUDA_H
#define FP_TASKS_MATTE_CUDA_H

#include <stddef.h>

#include "core/fp_error.h"

#ifdef __cplusplus
extern "C" {
#endif

int fp_matte_cast_f16_cuda(const float *src, void *dst, size_t n, void *stream, fp_err *e);

/* mode is fp_matte_mode; fgr (3 planes) and pha are fp16 when f16, else fp32; bg_image (3 planes, fp32)
 * may be NULL (then bg_rgb); alpha_out may be NULL (modes without alpha). n = width * height. */
int fp_matte_compose_cuda(const void *fgr, const void *pha, int f16, size_t n, int mode, int premultiplied,
                          const float bg_rgb[3], const float *bg_image, float *rgb_out, float *alpha_out,
                          void *stream, fp_err *e);

#ifdef __cplusplus
}
#endif

#endif
