/*
 * fp_devpath — NVDEC frame -> device kernels -> one pinned download. See fp_devpath.h.
 *
 * Why one contiguous device image with the host frame's exact layout: the download is then a single
 * cudaMemcpyAsync (one DMA) instead of one 2-D copy per plane, and the host frame's linesizes are the
 * 64-byte-aligned ones FFmpeg's encoders like.
 */
#include "media/fp_devpath.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libavutil/buffer.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>

#ifdef FP_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

#define DEVPATH_ALIGN 64

fp_pixfmt fp_devpath_pixfmt(enum AVPixelFormat f)
{
    switch (f) {
    case AV_PIX_FMT_YUV420P: case AV_PIX_FMT_YUVJ420P: return FP_PIX_YUV420P;
    case AV_PIX_FMT_YUV420P10LE: return FP_PIX_YUV420P10;
    case AV_PIX_FMT_YUV422P: case AV_PIX_FMT_YUVJ422P: return FP_PIX_YUV422P;
    case AV_PIX_FMT_YUV422P10LE: return FP_PIX_YUV422P10;
    case AV_PIX_FMT_YUV444P: case AV_PIX_FMT_YUVJ444P: return FP_PIX_YUV444P;
    case AV_PIX_FMT_YUV444P10LE: return FP_PIX_YUV444P10;
    case AV_PIX_FMT_YUV444P16LE: return FP_PIX_YUV444P16;
    case AV_PIX_FMT_NV12: return FP_PIX_NV12;
    case AV_PIX_FMT_P010LE: return FP_PIX_P010;
    case AV_PIX_FMT_YUVA420P: return FP_PIX_YUVA420P;
    case AV_PIX_FMT_YUVA444P10LE: return FP_PIX_YUVA444P10;
    case AV_PIX_FMT_GBRP: return FP_PIX_GBRP;
    case AV_PIX_FMT_GBRAP: return FP_PIX_GBRAP;
    case AV_PIX_FMT_GBRP10LE: return FP_PIX_GBRP10;
    case AV_PIX_FMT_GBRAP10LE: return FP_PIX_GBRAP10;
    case AV_PIX_FMT_RGB24: return FP_PIX_RGB24;
    case AV_PIX_FMT_RGBA: return FP_PIX_RGBA;
    default: return FP_PIX_NONE;
    }
}

int fp_devpath_check(const fp_devpath_cfg *c, char *why, size_t n)
{
#ifndef FP_HAVE_CUDA
    (void)c;
    snprintf(why, n, "built without CUDA");
    return 0;
#else
    if (c->upload && !c->float_path) {
        snprintf(why, n, "nothing to compute on the GPU");
        return 0;
    }
    if (!c->float_path) {
        if (!av_pix_fmt_desc_get(c->sw_fmt) || (av_pix_fmt_desc_get(c->sw_fmt)->flags & AV_PIX_FMT_FLAG_HWACCEL)) {
            snprintf(why, n, "unknown decoded format");
            return 0;
        }
        return 1;
    }
    if (fp_devpath_pixfmt(c->sw_fmt) == FP_PIX_NONE) {
        snprintf(why, n, "the colour kernels do not read %s", av_get_pix_fmt_name(c->sw_fmt));
        return 0;
    }
    {
        fp_pixfmt o = fp_devpath_pixfmt(c->out_fmt);
        if (o == FP_PIX_NONE || o == FP_PIX_YUV444P16) {
            snprintf(why, n, "the colour kernels do not write %s (the host path converts it with swscale)",
                     av_get_pix_fmt_name(c->out_fmt));
            return 0;
        }
    }
    if (c->stage && !c->stage->process_cuda) {
        snprintf(why, n, "the %s stage has no device twin", c->stage->name ? c->stage->name : "processing");
        return 0;
    }
    return 1;
#endif
}

#ifdef FP_HAVE_CUDA

struct fp_devpath {
    fp_devpath_cfg c;
    cudaStream_t stream;
    float *rgb;              /* device: 3 planes RGB + 1 plane alpha, fp32 NCHW */
    uint8_t *img;            /* device: the encoder-format image, host frame layout */
    uint8_t *up;             /* device: the uploaded source frame (cfg.upload) */
    int up_size;
    int img_size;
    AVBufferPool *pool;      /* pinned host frames */
    int pool_size;
    int pinned;              /* buffers the pool created (the peak in use) */
    fp_devpath_stats st;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cuda_fail(fp_err *e, cudaError_t err, const char *what)
{
    return fp_errorf(e, err == cudaErrorMemoryAllocation ? FP_ENOMEM : FP_EDEVICE, "process: %s: %s", what,
                     cudaGetErrorString(err));
}

static void pinned_free(void *opaque, uint8_t *data)
{
    (void)opaque;
    cudaFreeHost(data);
}

/* Called by av_buffer_pool_get on the process thread when no returned buffer is free. */
static AVBufferRef *pinned_alloc(void *opaque, size_t size)
{
    fp_devpath *d = opaque;
    void *p = NULL;
    AVBufferRef *b;
    if (cudaMallocHost(&p, size) != cudaSuccess)
        return NULL;
    b = av_buffer_create(p, size, pinned_free, NULL, 0);
    if (!b) {
        cudaFreeHost(p);
        return NULL;
    }
    d->pinned++;
    if (d->pinned > d->st.pinned_alive_max)
        d->st.pinned_alive_max = d->pinned;
    return b;
}

int fp_devpath_open(fp_devpath **pd, const fp_devpath_cfg *cfg, fp_err *e)
{
    fp_devpath *d;
    char why[256];
    cudaError_t err;
    enum AVPixelFormat host_fmt = cfg->float_path ? cfg->out_fmt : cfg->sw_fmt;
    int hw = cfg->float_path ? cfg->out_w : cfg->in_w, hh = cfg->float_path ? cfg->out_h : cfg->in_h;

    *pd = NULL;
    if (!fp_devpath_check(cfg, why, sizeof(why)))
        return fp_errorf(e, FP_EUNSUPPORTED, "process: device path: %s", why);
    if ((err = cudaSetDevice(cfg->device)) != cudaSuccess)
        return cuda_fail(e, err, "cannot use the CUDA device");
    if (!(d = calloc(1, sizeof(*d))))
        return fp_errorf(e, FP_ENOMEM, "process: out of memory");
    d->c = *cfg;
    /* A blocking stream: it orders itself after FFmpeg's copies of decoded surfaces, which run on the
     * legacy default stream of the same context. */
    if ((err = cudaStreamCreate(&d->stream)) != cudaSuccess) {
        fp_devpath_freep(&d);
        return cuda_fail(e, err, "cannot create a CUDA stream");
    }
    d->pool_size = av_image_get_buffer_size(host_fmt, hw, hh, DEVPATH_ALIGN);
    if (d->pool_size <= 0) {
        fp_devpath_freep(&d);
        return fp_errorf(e, FP_EINVAL, "process: device path: bad frame size %dx%d", hw, hh);
    }
    if (cfg->float_path) {
        size_t plane = (size_t)cfg->out_w * cfg->out_h;
        d->img_size = d->pool_size;
        if ((err = cudaMalloc((void **)&d->rgb, plane * 4 * sizeof(float))) != cudaSuccess ||
            (err = cudaMalloc((void **)&d->img, d->img_size)) != cudaSuccess) {
            fp_devpath_freep(&d);
            return cuda_fail(e, err, "cannot allocate device frames");
        }
    }
    if (cfg->upload) {
        d->up_size = av_image_get_buffer_size(cfg->sw_fmt, cfg->in_w, cfg->in_h, DEVPATH_ALIGN);
        if (d->up_size <= 0) {
            fp_devpath_freep(&d);
            return fp_errorf(e, FP_EINVAL, "process: device path: bad source frame");
        }
        if ((err = cudaMalloc((void **)&d->up, d->up_size)) != cudaSuccess) {
            fp_devpath_freep(&d);
            return cuda_fail(e, err, "cannot allocate the upload frame");
        }
    }
    if (!(d->pool = av_buffer_pool_init2(d->pool_size, d, pinned_alloc, NULL))) {
        fp_devpath_freep(&d);
        return fp_errorf(e, FP_ENOMEM, "process: out of memory");
    }
    *pd = d;
    return 0;
}

static fp_colorspace frame_cs(const AVFrame *f)
{
    fp_colorspace cs;
    cs.matrix = f->colorspace == AVCOL_SPC_BT709                                       ? FP_MATRIX_BT709
                : f->colorspace == AVCOL_SPC_BT2020_NCL || f->colorspace == AVCOL_SPC_BT2020_CL ? FP_MATRIX_BT2020
                                                                                        : FP_MATRIX_BT601;
    cs.full_range = f->color_range == AVCOL_RANGE_JPEG;
    return cs;
}

/* A pinned host frame of fmt w x h, laid out like the device image. */
static int pinned_frame(fp_devpath *d, AVFrame *dst, enum AVPixelFormat fmt, int w, int h, fp_err *e)
{
    dst->buf[0] = av_buffer_pool_get(d->pool);
    if (!dst->buf[0])
        return fp_errorf(e, FP_ENOMEM, "process: cannot allocate pinned host memory");
    dst->format = fmt;
    dst->width = w;
    dst->height = h;
    if (av_image_fill_arrays(dst->data, dst->linesize, dst->buf[0]->data, fmt, w, h, DEVPATH_ALIGN) < 0) {
        av_frame_unref(dst);
        return fp_errorf(e, FP_EINTERNAL, "process: cannot lay out a %s frame", av_get_pix_fmt_name(fmt));
    }
    dst->extended_data = dst->data;
    return 0;
}

static int finish(fp_devpath *d, AVFrame *dst, fp_err *e)
{
    double t0 = now_s();
    cudaError_t err = cudaStreamSynchronize(d->stream);
    d->st.gpu_s += now_s() - t0;
    if (err != cudaSuccess) {
        av_frame_unref(dst);
        return cuda_fail(e, err, "device path");
    }
    d->st.frames++;
    return 0;
}

/* Plain transcode: the decoded planes as they are, one 2-D copy per plane into pinned memory. */
static int download(fp_devpath *d, const AVFrame *src, AVFrame *dst, fp_err *e)
{
    const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(d->c.sw_fmt);
    int ret, planes = av_pix_fmt_count_planes(d->c.sw_fmt);
    if ((ret = pinned_frame(d, dst, d->c.sw_fmt, src->width, src->height, e)) < 0)
        return ret;
    for (int p = 0; p < planes; p++) {
        int rows = (p == 1 || p == 2) ? AV_CEIL_RSHIFT(src->height, desc->log2_chroma_h) : src->height;
        int bytes = av_image_get_linesize(d->c.sw_fmt, src->width, p);
        cudaError_t err = cudaMemcpy2DAsync(dst->data[p], dst->linesize[p], src->data[p], src->linesize[p], bytes,
                                            rows, cudaMemcpyDeviceToHost, d->stream);
        if (err != cudaSuccess) {
            av_frame_unref(dst);
            return cuda_fail(e, err, "download");
        }
    }
    return finish(d, dst, e);
}

static int process(fp_devpath *d, const AVFrame *src, int64_t pts, AVFrame *dst, fp_err *e)
{
    const fp_devpath_cfg *c = &d->c;
    size_t plane = (size_t)c->out_w * c->out_h;
    fp_image in = { 0 }, out = { 0 };
    fp_preprocess pp;
    fp_planar rgb = { 0 }, alpha;
    fp_colorspace cs = frame_cs(src);
    int ret, has_alpha = c->stage && c->stage->makes_alpha;
    cudaError_t err;

    in.fmt = fp_devpath_pixfmt(c->sw_fmt);
    in.width = src->width;
    in.height = src->height;
    in.on_device = 1;
    for (int i = 0; i < 4; i++) {
        in.data[i] = src->data[i];
        in.linesize[i] = src->linesize[i];
    }
    if (c->upload) {
        /* CPU decode, GPU work: one upload per plane into the device copy of the frame. */
        const AVPixFmtDescriptor *desc = av_pix_fmt_desc_get(c->sw_fmt);
        if (av_image_fill_arrays(in.data, in.linesize, d->up, c->sw_fmt, src->width, src->height, DEVPATH_ALIGN) < 0)
            return fp_errorf(e, FP_EINTERNAL, "process: cannot lay out the upload frame");
        for (int p = 0; p < av_pix_fmt_count_planes(c->sw_fmt); p++) {
            int rows = (p == 1 || p == 2) ? AV_CEIL_RSHIFT(src->height, desc->log2_chroma_h) : src->height;
            if ((err = cudaMemcpy2DAsync(in.data[p], in.linesize[p], src->data[p], src->linesize[p],
                                         av_image_get_linesize(c->sw_fmt, src->width, p), rows,
                                         cudaMemcpyHostToDevice, d->stream)) != cudaSuccess)
                return cuda_fail(e, err, "upload");
        }
    }
    fp_preprocess_init(&pp);
    pp.cs = cs;
    pp.crop = c->crop;
    pp.resize = FP_RESIZE_BILINEAR;
    rgb.data = d->rgb;
    rgb.layout = FP_LAYOUT_NCHW;
    rgb.dtype = FP_DTYPE_F32;
    rgb.channels = 3;
    rgb.width = c->out_w;
    rgb.height = c->out_h;
    rgb.on_device = 1;
    alpha = rgb;
    alpha.data = d->rgb + 3 * plane;
    alpha.channels = 1;
    if ((ret = fp_preprocess_cuda(&in, &pp, &rgb, d->stream, e)) < 0)
        return ret;
    if (c->stage && (ret = c->stage->process_cuda(c->stage->opaque, &rgb, &alpha, pts, d->stream, e)) < 0)
        return ret;
    out.fmt = fp_devpath_pixfmt(c->out_fmt);
    out.width = c->out_w;
    out.height = c->out_h;
    out.on_device = 1;
    if (av_image_fill_arrays(out.data, out.linesize, d->img, c->out_fmt, c->out_w, c->out_h, DEVPATH_ALIGN) < 0)
        return fp_errorf(e, FP_EINTERNAL, "process: cannot lay out a %s frame", av_get_pix_fmt_name(c->out_fmt));
    if ((ret = fp_postprocess_cuda(&rgb, has_alpha ? &alpha : NULL, &out, &cs, d->stream, e)) < 0)
        return ret;
    if ((ret = pinned_frame(d, dst, c->out_fmt, c->out_w, c->out_h, e)) < 0)
        return ret;
    if ((err = cudaMemcpyAsync(dst->buf[0]->data, d->img, d->img_size, cudaMemcpyDeviceToHost, d->stream)) !=
        cudaSuccess) {
        av_frame_unref(dst);
        return cuda_fail(e, err, "download");
    }
    return finish(d, dst, e);
}

int fp_devpath_convert(fp_devpath *d, const AVFrame *src, int64_t pts, AVFrame *dst, fp_err *e)
{
    int ret;
    cudaError_t err;
    if ((err = cudaSetDevice(d->c.device)) != cudaSuccess)
        return cuda_fail(e, err, "cannot use the CUDA device");
    if ((src->format == AV_PIX_FMT_CUDA) == !!d->c.upload ||
        (d->c.upload && (src->format != d->c.sw_fmt || src->width != d->c.in_w || src->height != d->c.in_h)))
        return fp_errorf(e, FP_EINVAL, "process: device path: the frame is not what the path was opened for");
    ret = d->c.float_path ? process(d, src, pts, dst, e) : download(d, src, dst, e);
    if (ret < 0)
        return ret;
    /* av_frame_copy_props keeps pts and the colour tags; format and size are the new frame's. */
    if (av_frame_copy_props(dst, src) < 0) {
        av_frame_unref(dst);
        return fp_errorf(e, FP_ENOMEM, "process: out of memory");
    }
    return 0;
}

void fp_devpath_freep(fp_devpath **pd)
{
    fp_devpath *d = *pd;
    if (!d)
        return;
    cudaSetDevice(d->c.device);
    if (d->stream) {
        cudaStreamSynchronize(d->stream);
        cudaStreamDestroy(d->stream);
    }
    cudaFree(d->rgb);
    cudaFree(d->img);
    cudaFree(d->up);
    /* Frames still held by the encoder pool keep their buffers; the pool goes with the last one. The
     * allocator's opaque (d) is not used after this: no new buffer is taken from an uninited pool. */
    av_buffer_pool_uninit(&d->pool);
    free(d);
    *pd = NULL;
}

int fp_devpath_current_device(void)
{
    int dev = 0;
    return cudaGetDevice(&dev) == cudaSuccess ? dev : 0;
}

#else /* !FP_HAVE_CUDA */

int fp_devpath_current_device(void)
{
    return 0;
}

struct fp_devpath {
    fp_devpath_stats st;
};

int fp_devpath_open(fp_devpath **pd, const fp_devpath_cfg *cfg, fp_err *e)
{
    (void)cfg;
    *pd = NULL;
    return fp_errorf(e, FP_EUNSUPPORTED, "process: device path: built without CUDA");
}

int fp_devpath_convert(fp_devpath *d, const AVFrame *src, int64_t pts, AVFrame *dst, fp_err *e)
{
    (void)d;
    (void)src;
    (void)pts;
    (void)dst;
    return fp_errorf(e, FP_EUNSUPPORTED, "process: device path: built without CUDA");
}

void fp_devpath_freep(fp_devpath **pd)
{
    *pd = NULL;
}

#endif

const fp_devpath_stats *fp_devpath_get_stats(const fp_devpath *d)
{
    return &d->st;
}
