/*
 * fp_key_cuda — the device twin of fp_key_apply: one thread per pixel, the maths of fp_key_core.h.
 * Owns only the kernel and its launch on the caller's stream; all memory is the caller's. Built with
 * -fmad=false (src/media/CMakeLists.txt) so the result equals the CPU's to the bit.
 */
extern "C" {
#include "core/fp_error.h"
#include "gpu/fp_image.h"
#include "media/fp_key.h"
}
#include "media/fp_key_core.h"

#include <cuda_runtime.h>

__global__ void fp_key_kernel(const float *rgb, float *alpha, size_t plane, int channels, int nhwc, float kcb,
                              float kcr, float tol, float soft)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    float r, g, b;
    if (i >= plane)
        return;
    if (!nhwc) {
        r = rgb[i];
        g = rgb[plane + i];
        b = rgb[2 * plane + i];
    } else {
        r = rgb[i * channels];
        g = rgb[i * channels + 1];
        b = rgb[i * channels + 2];
    }
    alpha[i] = fp_key_alpha(r, g, b, kcb, kcr, tol, soft);
}

extern "C" int fp_key_apply_cuda(const fp_key *k, const fp_planar *rgb, const fp_planar *alpha, void *stream,
                                 fp_err *e)
{
    const size_t plane = (size_t)rgb->width * rgb->height;
    float kcb, kcr;
    cudaError_t err;
    if (rgb->dtype != FP_DTYPE_F32 || alpha->dtype != FP_DTYPE_F32 || !rgb->on_device || !alpha->on_device ||
        rgb->channels < 3 || alpha->channels != 1 || rgb->width != alpha->width || rgb->height != alpha->height ||
        rgb->layout != alpha->layout || !rgb->data || !alpha->data)
        return fp_errorf(e, FP_EINVAL, "key: unsupported planes (need device fp32 RGB and alpha of one size)");
    if (plane == 0)
        return 0;
    fp_key_chroma(k->rgb[0], k->rgb[1], k->rgb[2], &kcb, &kcr);
    const float *src = (const float *)rgb->data + (size_t)rgb->n * rgb->channels * plane;
    float *dst = (float *)alpha->data + (size_t)alpha->n * plane;
    unsigned blocks = (unsigned)((plane + 255) / 256);
    fp_key_kernel<<<blocks, 256, 0, (cudaStream_t)stream>>>(src, dst, plane, rgb->channels,
                                                             rgb->layout == FP_LAYOUT_NHWC, kcb, kcr, k->tolerance,
                                                             k->softness);
    if ((err = cudaGetLastError()) != cudaSuccess)
        return fp_errorf(e, FP_EDEVICE, "key: kernel launch: %s", cudaGetErrorString(err));
    return 0;
}
