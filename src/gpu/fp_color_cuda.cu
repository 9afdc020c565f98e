/*
 * fp_color_cuda — the CUDA twins of fp_color_cpu.c: one fused kernel per direction. The preprocess
 * kernel does conversion + crop + resize + normalise + layout + precision in one pass, one thread
 * per output pixel, for one frame or a batch of frames (blockIdx.z); the postprocess kernel does
 * clamp + conversion + chroma decimation + alpha, one thread per chroma block.
 *
 * Owns: the kernels and their launch on the caller's stream. Does not own the arithmetic (the
 * shared fp_color_core.h, so results equal the CPU reference), validation (fp_color_setup.c), nor
 * any memory: all pointers are the caller's device memory, nothing is allocated or synchronised.
 * Built with -fmad=false (src/gpu/CMakeLists.txt): contraction would make the twins differ.
 */
extern "C" {
#include "core/fp_error.h"
#include "gpu/fp_image.h"
}
#include "gpu/fp_color_priv.h"

#include <cuda_runtime.h>

/* Per-frame planes of a batch; everything else (format, size, coefficients) is shared. */
struct fp_batch_frames {
    uint8_t *data[FP_COLOR_MAX_BATCH][4];
    ptrdiff_t linesize[FP_COLOR_MAX_BATCH][4];
};

enum { PRE_BX = 32, PRE_BY = 8, POST_BX = 32, POST_BY = 4 };

/*
 * Source-format specialisations: SPEC_NV12/SPEC_P010 overwrite the format fields of the local frame
 * description with constants, so after inlining the compiler folds every format branch of the
 * shared core code (fewer registers and instructions) while running the very same float operations
 * as the generic kernel and the CPU reference. NVDEC delivers exactly these two formats.
 */
enum { SPEC_GENERIC = 0, SPEC_NV12 = 1, SPEC_P010 = 2 };

template <int SPEC>
__global__ void fp_pre_kernel(const __grid_constant__ fp_pre_args a,
                              const __grid_constant__ fp_batch_frames fr, size_t slot_bytes)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
    int z = blockIdx.z;
    if (x >= a.d.w || y >= a.d.h)
        return;
    fp_frame_desc f = a.s;
    fp_tensor_desc d = a.d;
    for (int i = 0; i < 4; i++) {
        f.data[i] = fr.data[z][i];
        f.linesize[i] = fr.linesize[z][i];
    }
    if (SPEC != SPEC_GENERIC) {
        f.kind = FP_KIND_YUV;
        f.bytes = SPEC == SPEC_P010 ? 2 : 1;
        f.shift = SPEC == SPEC_P010 ? 6 : 0;
        f.maxv = SPEC == SPEC_P010 ? 1023 : 255;
        f.ssx = f.ssy = 1;
        f.nv = 1;
        f.alpha = 0;
        f.step = 0;
    }
    d.data = (uint8_t *)a.d.data + slot_bytes * z;
    fp_pre_pixel(&a, &f, &d, x, y);
}

static int force_generic;

extern "C" void fp_color_cuda_force_generic(int on)
{
    force_generic = on;
}

__global__ void fp_post_kernel(const __grid_constant__ fp_post_args a, int bw, int bh)
{
    int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x < bw && y < bh)
        fp_post_block(&a, x, y);
}

static int launch_error(const char *stage, fp_err *e)
{
    cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess)
        return fp_errorf(e, FP_EDEVICE, "%s: kernel launch: %s", stage, cudaGetErrorString(err));
    return 0;
}

extern "C" int fp_preprocess_cuda_batch(const fp_image *src, int count, const fp_preprocess *p,
                                        const fp_planar *dst, void *stream, fp_err *e)
{
    if (!src || count < 1)
        return fp_errorf(e, FP_EINVAL, "preprocess: batch of %d frames", count);
    if (!dst)
        return fp_errorf(e, FP_EINVAL, "preprocess: no output tensor data");
    for (int base = 0; base < count; base += FP_COLOR_MAX_BATCH) {
        int n = count - base < FP_COLOR_MAX_BATCH ? count - base : FP_COLOR_MAX_BATCH;
        fp_pre_args a;
        fp_batch_frames fr;
        fp_planar slot = *dst;
        slot.n = dst->n + base;
        int ret = fp_pre_setup(&src[base], p, &slot, 1, &a, e);
        if (ret < 0)
            return ret;
        memset(&fr, 0, sizeof(fr));
        for (int k = 0; k < n; k++) {
            const fp_image *s = &src[base + k];
            if (k > 0) {
                /* every frame is validated like a single call; the batch shares format and size */
                fp_pre_args ak;
                fp_planar sk = *dst;
                sk.n = dst->n + base + k;
                if (s->fmt != src[base].fmt || s->width != src[base].width || s->height != src[base].height)
                    return fp_errorf(e, FP_EINVAL, "preprocess: batch frame %d is %s %dx%d, frame 0 is %s %dx%d",
                                     base + k, fp_pixfmt_name(s->fmt), s->width, s->height,
                                     fp_pixfmt_name(src[base].fmt), src[base].width, src[base].height);
                if ((ret = fp_pre_setup(s, p, &sk, 1, &ak, e)) < 0)
                    return ret;
            }
            for (int i = 0; i < 4; i++) {
                fr.data[k][i] = a.s.data[i] ? s->data[i] : NULL;
                fr.linesize[k][i] = a.s.data[i] ? s->linesize[i] : 0;
            }
        }
        size_t slot_bytes = (size_t)a.d.c * a.d.w * a.d.h * (a.d.dtype == FP_DTYPE_F16 ? 2 : 4);
        dim3 block(PRE_BX, PRE_BY), grid((a.d.w + PRE_BX - 1) / PRE_BX, (a.d.h + PRE_BY - 1) / PRE_BY, n);
        cudaStream_t st = (cudaStream_t)stream;
        if (!force_generic && src[base].fmt == FP_PIX_NV12)
            fp_pre_kernel<SPEC_NV12><<<grid, block, 0, st>>>(a, fr, slot_bytes);
        else if (!force_generic && src[base].fmt == FP_PIX_P010)
            fp_pre_kernel<SPEC_P010><<<grid, block, 0, st>>>(a, fr, slot_bytes);
        else
            fp_pre_kernel<SPEC_GENERIC><<<grid, block, 0, st>>>(a, fr, slot_bytes);
        if ((ret = launch_error("preprocess", e)) < 0)
            return ret;
    }
    return 0;
}

extern "C" int fp_preprocess_cuda(const fp_image *src, const fp_preprocess *p, const fp_planar *dst,
                                  void *stream, fp_err *e)
{
    return fp_preprocess_cuda_batch(src, 1, p, dst, stream, e);
}

extern "C" int fp_postprocess_cuda(const fp_planar *rgb, const fp_planar *alpha, fp_image *dst,
                                   const fp_colorspace *cs, void *stream, fp_err *e)
{
    return fp_postprocess_compose_cuda(rgb, alpha, NULL, dst, cs, stream, e);
}

extern "C" int fp_postprocess_compose_cuda(const fp_planar *rgb, const fp_planar *alpha, const fp_compose *comp,
                                           fp_image *dst, const fp_colorspace *cs, void *stream, fp_err *e)
{
    fp_post_args a;
    int ret = fp_post_setup(rgb, alpha, comp, dst, cs, 1, &a, e);
    if (ret < 0)
        return ret;
    int bw = (a.d.w + (1 << a.d.ssx) - 1) >> a.d.ssx, bh = (a.d.h + (1 << a.d.ssy) - 1) >> a.d.ssy;
    dim3 block(POST_BX, POST_BY), grid((bw + POST_BX - 1) / POST_BX, (bh + POST_BY - 1) / POST_BY);
    fp_post_kernel<<<grid, block, 0, (cudaStream_t)stream>>>(a, bw, bh);
    return launch_error("postprocess", e);
}
