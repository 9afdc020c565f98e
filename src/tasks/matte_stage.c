/*
 * matte_stage — fp_matte as a processing stage. See matte_stage.h.
 *
 * The model always runs on the frame the decoder gave (after the pipeline's crop/scale), so the
 * alpha written is the model's pha at that size; values are clamped to [0,1] because an fp16 export
 * may overshoot by an ulp and the encoders' converters do not clamp.
 */
#include "tasks/matte_stage.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef FP_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "tasks/matte_cuda.h"
#endif

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static float clamp01(float v) { return v < 0.f ? 0.f : v > 1.f ? 1.f : v; }

static int host_f32_nchw(const fp_planar *p)
{
    return p && p->data && !p->on_device && p->dtype == FP_DTYPE_F32 && p->layout == FP_LAYOUT_NCHW;
}

int fp_matte_stage_process(void *opaque, const fp_planar *rgb, const fp_planar *alpha, int64_t pts, fp_err *e)
{
    fp_matte_stage *s = opaque;
    int w = rgb->width, h = rgb->height, ret;
    size_t n = (size_t)w * h;
    float *px, *pa = NULL;
    double t0;

    if (!host_f32_nchw(rgb) || rgb->channels != 3)
        return fp_errorf(e, FP_EINVAL, "matte: stage: expects host fp32 NCHW RGB planes");
    if (s->mode == FP_MATTE_MODE_RGBA && (!host_f32_nchw(alpha) || alpha->channels != 1 || alpha->width != w ||
                                          alpha->height != h))
        return fp_errorf(e, FP_EINVAL, "matte: stage: expects a host fp32 alpha plane of the frame's size");
    if (s->mode == FP_MATTE_MODE_COMPOSITE && s->bg_image && (s->bg_w != w || s->bg_h != h))
        return fp_errorf(e, FP_EINVAL, "matte: stage: background image is %dx%d, frames are %dx%d", s->bg_w,
                         s->bg_h, w, h);
    if (s->cap < n) {
        float *f = realloc(s->fgr, 4 * n * sizeof(float));
        if (!f)
            return fp_errorf(e, FP_ENOMEM, "matte: stage: out of memory");
        s->fgr = f;
        s->pha = f + 3 * n;
        s->cap = n;
    }
    px = (float *)rgb->data + (size_t)rgb->n * 3 * n;
    if (s->mode == FP_MATTE_MODE_RGBA)
        pa = (float *)alpha->data + (size_t)alpha->n * n;

    t0 = now_s();
    ret = s->run ? s->run(s->run_opaque, px, w, h, s->fgr, s->pha, e)
                 : fp_matte_run(s->m, px, w, h, s->fgr, s->pha, e);
    s->model_s += now_s() - t0;
    if (ret < 0)
        return ret;
    s->frames++;

    for (size_t i = 0; i < n; i++) {
        float a = clamp01(s->pha[i]);
        for (int c = 0; c < 3; c++) {
            float f = clamp01(s->fgr[c * n + i]), v;
            switch (s->mode) {
            case FP_MATTE_MODE_RGBA: v = s->premultiplied ? f * a : f; break;
            case FP_MATTE_MODE_COMPOSITE: {
                float b = s->bg_image ? s->bg_image[c * n + i] : s->bg_rgb[c];
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
    return 0;
}

#ifdef FP_HAVE_CUDA
static int dev_f32_nchw(const fp_planar *p)
{
    return p && p->data && p->on_device && p->dtype == FP_DTYPE_F32 && p->layout == FP_LAYOUT_NCHW;
}

static int cuda_err(fp_err *e, cudaError_t err, const char *what)
{
    return fp_errorf(e, err == cudaErrorMemoryAllocation ? FP_ENOMEM : FP_EDEVICE, "matte: stage: %s: %s", what,
                     cudaGetErrorString(err));
}

int fp_matte_stage_process_cuda(void *opaque, const fp_planar *rgb, const fp_planar *alpha, int64_t pts,
                                void *stream, fp_err *e)
{
    fp_matte_stage *s = opaque;
    int w = rgb->width, h = rgb->height, ret, f16 = fp_matte_model_fp16(s->m);
    size_t n = (size_t)w * h, esz = f16 ? 2 : 4;
    float *px, *pa = NULL;
    const void *src;
    cudaError_t err;
    double t0;

    (void)pts;
    if (!dev_f32_nchw(rgb) || rgb->channels != 3)
        return fp_errorf(e, FP_EINVAL, "matte: stage: expects device fp32 NCHW RGB planes");
    if (s->mode == FP_MATTE_MODE_RGBA && (!dev_f32_nchw(alpha) || alpha->channels != 1 || alpha->width != w ||
                                          alpha->height != h))
        return fp_errorf(e, FP_EINVAL, "matte: stage: expects a device fp32 alpha plane of the frame's size");
    if (s->mode == FP_MATTE_MODE_COMPOSITE && s->bg_image && (s->bg_w != w || s->bg_h != h))
        return fp_errorf(e, FP_EINVAL, "matte: stage: background image is %dx%d, frames are %dx%d", s->bg_w,
                         s->bg_h, w, h);
    if (s->d_cap < n) {
        cudaFree(s->d_fgr);
        cudaFree(s->d_pha);
        cudaFree(s->d_src16);
        cudaFree(s->d_bg);
        s->d_fgr = s->d_pha = s->d_src16 = NULL;
        s->d_bg = NULL;
        s->d_cap = 0;
        if ((err = cudaMalloc(&s->d_fgr, 3 * n * esz)) != cudaSuccess ||
            (err = cudaMalloc(&s->d_pha, n * esz)) != cudaSuccess ||
            (f16 && (err = cudaMalloc(&s->d_src16, 3 * n * 2)) != cudaSuccess))
            return cuda_err(e, err, "device scratch");
        s->d_cap = n;
    }
    if (s->mode == FP_MATTE_MODE_COMPOSITE && s->bg_image && !s->d_bg) {
        if ((err = cudaMalloc((void **)&s->d_bg, 3 * n * sizeof(float))) != cudaSuccess ||
            (err = cudaMemcpy(s->d_bg, s->bg_image, 3 * n * sizeof(float), cudaMemcpyHostToDevice)) != cudaSuccess)
            return cuda_err(e, err, "background upload");
    }
    px = (float *)rgb->data + (size_t)rgb->n * 3 * n;
    if (s->mode == FP_MATTE_MODE_RGBA)
        pa = (float *)alpha->data + (size_t)alpha->n * n;
    src = px;
    if (f16) {
        if ((ret = fp_matte_cast_f16_cuda(px, s->d_src16, 3 * n, stream, e)) < 0)
            return ret;
        src = s->d_src16;
    }
    /* The model runs on the runtime's stream: what the preprocess (and the cast) queued must be done. */
    if ((err = cudaStreamSynchronize((cudaStream_t)stream)) != cudaSuccess)
        return cuda_err(e, err, "preprocess");
    t0 = now_s();
    ret = fp_matte_run_device(s->m, src, w, h, s->d_fgr, s->d_pha, e);
    s->model_s += now_s() - t0;
    if (ret < 0)
        return ret;
    s->frames++;
    return fp_matte_compose_cuda(s->d_fgr, s->d_pha, f16, n, s->mode, s->premultiplied, s->bg_rgb,
                                 s->mode == FP_MATTE_MODE_COMPOSITE ? s->d_bg : NULL, px, pa, stream, e);
}
#endif

fp_matte_stage_cuda_fn fp_matte_stage_device_fn(const fp_matte *m)
{
#ifdef FP_HAVE_CUDA
    return fp_matte_device_ok(m) ? fp_matte_stage_process_cuda : NULL;
#else
    (void)m;
    return NULL;
#endif
}

void fp_matte_stage_uninit(fp_matte_stage *s)
{
    free(s->fgr);
    s->fgr = s->pha = NULL;
    s->cap = 0;
#ifdef FP_HAVE_CUDA
    cudaFree(s->d_fgr);
    cudaFree(s->d_pha);
    cudaFree(s->d_src16);
    cudaFree(s->d_bg);
#endif
    s->d_fgr = s->d_pha = s->d_src16 = NULL;
    s->d_bg = NULL;
    s->d_cap = 0;
}
