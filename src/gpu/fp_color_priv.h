/*
 * fp_color_priv — argument set-up shared by the CPU reference and the CUDA twins: both validate
 * through the same functions and receive the same resolved argument block (fp_color_core.h), so
 * a bad call fails the same way, with the same message, on either side. Private to src/gpu.
 */
#ifndef FP_COLOR_PRIV_H
#define FP_COLOR_PRIV_H

#include "gpu/fp_image.h"
#include "gpu/fp_color_core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Validates src/p/dst and fills *a. `on_device` is what the caller's twin needs (0 CPU, 1 CUDA):
 * frames and tensors elsewhere are refused. Returns 0 or FP_EINVAL with a "preprocess: ..."
 * message in e. Allocates nothing. */
int fp_pre_setup(const fp_image *src, const fp_preprocess *p, const fp_planar *dst, int on_device,
                 fp_pre_args *a, fp_err *e);

/* Same for postprocess ("postprocess: ..."). */
int fp_post_setup(const fp_planar *rgb, const fp_planar *alpha, const fp_compose *comp, const fp_image *dst,
                  const fp_colorspace *cs, int on_device, fp_post_args *a, fp_err *e);

/* 1: the CPU functions use the per-pixel reference loops (the code the CUDA kernels run) instead
 * of the row path; both give the same bits (tests compare them, the CPU benchmark times both).
 * Process-wide, not synchronised. */
void fp_color_cpu_use_reference(int on);

#ifdef FP_HAVE_CUDA
/* 1: fp_preprocess_cuda* always use the generic kernel instead of the NV12/P010 specialisations
 * (tests compare both with the CPU; the benchmark times both). Process-wide, not synchronised. */
void fp_color_cuda_force_generic(int on);
#endif

#ifdef __cplusplus
}
#endif

#endif
