/*
 * matte_cuda — the matte task's device kernels. See matte_cuda.h. The compose is the loop of
 * matte_stage.c, written again with the same operations in the same order.
 */
extern "C" {
#include "tasks/matte_cuda.h"
#include "tasks/matte_stage.h"
}

#include <cuda_fp16.h>
#include <cuda_runtime.h>

__global__ void matte_cast_kernel(const float *src, __half *dst, size_t n)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        dst[i] = __float2half_rn(src[i]);
}

__device__ static inline float clamp01(float v) { return v < 0.f ? 0.f : v > 1.f ? 1.f : v; }

template <int F16>
__device__ static inline float ld(const void *p, size_t i)
{
    return F16 ? __half2float(((const __half *)p)[i]) : ((const float *)p)[i];
}

template <int F16>
__global__ void matte_compose_kernel(const void *fgr, const void *pha, size_t n, int mode, int premultiplied,
                                     float b0, float b1, float b2, const float *bg_image, float *px, float *pa)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n)
        return;
    float a = clamp01(ld<F16>(pha, i));
    for (int c = 0; c < 3; c++) {
        float f = clamp01(ld<F16>(fgr, c * n + i)), v;
        switch (mode) {
        case FP_MATTE_MODE_RGBA: v = premultiplied ? f * a : f; break;
        case FP_MATTE_MODE_COMPOSITE: {
            float b = bg_image ? bg_image[c * n + i] : (c == 0 ? b0 : c == 1 ? b1 : b2);
            v = f * a + b * (1.f - a);
            break;
        }
        case FP_MATTE_MODE_ALPHA: v = a; break;
        default: v = f; break;
        }
        px[c * n + i] = v;
    }
    if (pa)
        pa[i] = a;
}

static int launched(const char *what, fp_err *e)
{
    cudaError_t err = cudaGetLastError();
    return err == cudaSuccess ? 0 : fp_errorf(e, FP_EDEVICE, "matte: %s: kernel launch: %s", what,
                                              cudaGetErrorString(err));
}

extern "C" int fp_matte_cast_f16_cuda(const float *src, void *dst, size_t n, void *stream, fp_err *e)
{
    if (!n)
        return 0;
    matte_cast_kernel<<<(unsigned)((n + 255) / 256), 256, 0, (cudaStream_t)stream>>>(src, (__half *)dst, n);
    return launched("cast", e);
}

extern "C" int fp_matte_compose_cuda(const void *fgr, const void *pha, int f16, size_t n, int mode, int premultiplied,
                                     const float bg_rgb[3], const float *bg_image, float *rgb_out, float *alpha_out,
                                     void *stream, fp_err *e)
{
    unsigned blocks = (unsigned)((n + 255) / 256);
    if (!n)
        return 0;
    if (f16)
        matte_compose_kernel<1><<<blocks, 256, 0, (cudaStream_t)stream>>>(
            fgr, pha, n, mode, premultiplied, bg_rgb[0], bg_rgb[1], bg_rgb[2], bg_image, rgb_out, alpha_out);
    else
        matte_compose_kernel<0><<<blocks, 256, 0, (cudaStream_t)stream>>>(
            fgr, pha, n, mode, premultiplied, bg_rgb[0], bg_rgb[1], bg_rgb[2], bg_image, rgb_out, alpha_out);
    return launched("compose", e);
}
