/*
 * bench_color — times the fused CUDA pre/postprocess kernels (fp_color_cuda.cu) with CUDA events on
 * NVDEC-like frames (NV12/P010, pitched planes from cudaMallocPitch) at 1080p and 4K.
 *
 * Reports per configuration: ms per frame, frames/s and GB/s, where bytes = source frame bytes
 * (every plane, without pitch padding) + destination bytes (tensor or frame). That is the minimum
 * traffic of a fused pass; for a bilinear downscale the kernel reads fewer source bytes than
 * counted, for area/identity it reads them all. Compare GB/s to the GPU's memory bandwidth
 * (H100 SXM HBM3 ~3.35 TB/s, PCIe ~2.0 TB/s).
 *
 * The NV12/P010 specialised kernels are timed, then a few of the same runs with the generic kernel.
 *
 * Usage: bench_color [iterations]   (default 100; 10 warm-up runs first)
 */
#include "gpu/fp_color_priv.h" /* fp_color_cuda_force_generic */

#include <cuda_runtime_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CK(x)                                                                               \
    do {                                                                                    \
        cudaError_t err_ = (x);                                                             \
        if (err_ != cudaSuccess) {                                                          \
            fprintf(stderr, "bench_color: %s:%d: %s: %s\n", __FILE__, __LINE__, #x,          \
                    cudaGetErrorString(err_));                                              \
            exit(1);                                                                        \
        }                                                                                   \
    } while (0)

/* NV12/P010 device frame with pitched planes, filled with a deterministic pattern. */
static void frame_alloc(fp_image *im, fp_pixfmt f, int w, int h, size_t *bytes)
{
    int b = f == FP_PIX_P010 ? 2 : 1;
    size_t pitch;
    memset(im, 0, sizeof(*im));
    im->fmt = f;
    im->width = w;
    im->height = h;
    im->on_device = 1;
    CK(cudaMallocPitch((void **)&im->data[0], &pitch, (size_t)w * b, h));
    im->linesize[0] = (int)pitch;
    CK(cudaMallocPitch((void **)&im->data[1], &pitch, (size_t)((w + 1) / 2) * 2 * b, (h + 1) / 2));
    im->linesize[1] = (int)pitch;
    size_t n = (size_t)im->linesize[0] * h;
    uint8_t *host = malloc(n);
    for (size_t i = 0; i < n; i++)
        host[i] = (uint8_t)(i * 2654435761u >> 13);
    CK(cudaMemcpy(im->data[0], host, n, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(im->data[1], host, (size_t)im->linesize[1] * ((h + 1) / 2), cudaMemcpyHostToDevice));
    free(host);
    *bytes = (size_t)w * h * b + (size_t)((w + 1) / 2) * 2 * b * ((h + 1) / 2);
}

static void frame_free(fp_image *im)
{
    cudaFree(im->data[0]);
    cudaFree(im->data[1]);
}

typedef struct pre_cfg {
    const char *name;
    fp_pixfmt fmt;
    int w, h, dw, dh;
    fp_resize_mode mode;
    int batch;
} pre_cfg;

static void bench_pre(const pre_cfg *c, int iters, cudaStream_t st)
{
    fp_image src[FP_COLOR_MAX_BATCH];
    size_t src_bytes = 0;
    for (int k = 0; k < c->batch; k++)
        frame_alloc(&src[k], c->fmt, c->w, c->h, &src_bytes);
    size_t dst_bytes = (size_t)3 * c->dw * c->dh * 2;
    void *dst;
    CK(cudaMalloc(&dst, dst_bytes * c->batch));
    fp_planar d = {dst, FP_LAYOUT_NCHW, FP_DTYPE_F16, 3, c->dw, c->dh, 0, 1};
    fp_preprocess p;
    fp_preprocess_init(&p);
    p.resize = c->mode;
    p.mean[0] = 0.485f, p.mean[1] = 0.456f, p.mean[2] = 0.406f;
    p.std[0] = 0.229f, p.std[1] = 0.224f, p.std[2] = 0.225f;
    fp_err e = {0};
    cudaEvent_t t0, t1;
    CK(cudaEventCreate(&t0));
    CK(cudaEventCreate(&t1));
    for (int i = 0; i < 10 + iters; i++) {
        if (i == 10)
            CK(cudaEventRecord(t0, st));
        if (fp_preprocess_cuda_batch(src, c->batch, &p, &d, st, &e) < 0) {
            fprintf(stderr, "bench_color: %s: %s\n", c->name, e.msg);
            exit(1);
        }
    }
    CK(cudaEventRecord(t1, st));
    CK(cudaEventSynchronize(t1));
    float ms;
    CK(cudaEventElapsedTime(&ms, t0, t1));
    double per_call = ms / iters, per_frame = per_call / c->batch;
    double gbs = (double)(src_bytes + dst_bytes) * c->batch / (per_call * 1e-3) / 1e9;
    printf("%-44s %9.4f ms/frame %9.1f fps %8.1f GB/s\n", c->name, per_frame, 1000.0 / per_frame, gbs);
    CK(cudaEventDestroy(t0));
    CK(cudaEventDestroy(t1));
    for (int k = 0; k < c->batch; k++)
        frame_free(&src[k]);
    cudaFree(dst);
}

static void bench_post(const char *name, fp_pixfmt f, int w, int h, int nc, int iters, cudaStream_t st)
{
    size_t np = (size_t)w * h, in_bytes = np * nc * 2;
    void *rgb;
    CK(cudaMalloc(&rgb, in_bytes));
    CK(cudaMemset(rgb, 0x38, in_bytes)); /* fp16 0x3838 ~ 0.53 */
    fp_image im;
    size_t out_bytes;
    memset(&im, 0, sizeof(im));
    im.fmt = f;
    im.width = w;
    im.height = h;
    im.on_device = 1;
    int b = fp_pixfmt_bit_depth(f) > 8 ? 2 : 1;
    size_t pitch;
    if (f == FP_PIX_NV12 || f == FP_PIX_P010) {
        fp_image tmp;
        frame_alloc(&tmp, f, w, h, &out_bytes);
        im = tmp;
    } else { /* yuva420p */
        CK(cudaMallocPitch((void **)&im.data[0], &pitch, (size_t)w * b, h));
        im.linesize[0] = (int)pitch;
        for (int i = 1; i < 3; i++) {
            CK(cudaMallocPitch((void **)&im.data[i], &pitch, (size_t)(w + 1) / 2 * b, (h + 1) / 2));
            im.linesize[i] = (int)pitch;
        }
        CK(cudaMallocPitch((void **)&im.data[3], &pitch, (size_t)w * b, h));
        im.linesize[3] = (int)pitch;
        out_bytes = 2 * np * b + 2 * (size_t)((w + 1) / 2) * ((h + 1) / 2) * b;
    }
    fp_planar t = {rgb, FP_LAYOUT_NCHW, FP_DTYPE_F16, nc, w, h, 0, 1};
    fp_colorspace cs = {FP_MATRIX_BT709, 0};
    fp_err e = {0};
    cudaEvent_t t0, t1;
    CK(cudaEventCreate(&t0));
    CK(cudaEventCreate(&t1));
    for (int i = 0; i < 10 + iters; i++) {
        if (i == 10)
            CK(cudaEventRecord(t0, st));
        if (fp_postprocess_cuda(&t, NULL, &im, &cs, st, &e) < 0) {
            fprintf(stderr, "bench_color: %s: %s\n", name, e.msg);
            exit(1);
        }
    }
    CK(cudaEventRecord(t1, st));
    CK(cudaEventSynchronize(t1));
    float ms;
    CK(cudaEventElapsedTime(&ms, t0, t1));
    double per = ms / iters;
    printf("%-44s %9.4f ms/frame %9.1f fps %8.1f GB/s\n", name, per, 1000.0 / per,
           (double)(in_bytes + out_bytes) / (per * 1e-3) / 1e9);
    for (int i = 0; i < 4; i++)
        cudaFree(im.data[i]);
    cudaFree(rgb);
    CK(cudaEventDestroy(t0));
    CK(cudaEventDestroy(t1));
}

int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 100;
    if (iters < 1)
        iters = 100;
    struct cudaDeviceProp prop;
    int dev = 0;
    CK(cudaGetDevice(&dev));
    CK(cudaGetDeviceProperties(&prop, dev));
    printf("bench_color: %s, %d SMs, %d iterations\n", prop.name, prop.multiProcessorCount, iters);
    cudaStream_t st;
    CK(cudaStreamCreate(&st));
    static const pre_cfg cfg[] = {
        {"pre  1080p nv12 -> 1920x1080 f16 nchw", FP_PIX_NV12, 1920, 1080, 1920, 1080, FP_RESIZE_BILINEAR, 1},
        {"pre  1080p nv12 -> 512x288 bilinear f16", FP_PIX_NV12, 1920, 1080, 512, 288, FP_RESIZE_BILINEAR, 1},
        {"pre  1080p nv12 -> 512x288 area f16", FP_PIX_NV12, 1920, 1080, 512, 288, FP_RESIZE_AREA, 1},
        {"pre  1080p nv12 x8 batch -> 512x288 bil f16", FP_PIX_NV12, 1920, 1080, 512, 288, FP_RESIZE_BILINEAR, 8},
        {"pre  4K nv12 -> 3840x2160 f16 nchw", FP_PIX_NV12, 3840, 2160, 3840, 2160, FP_RESIZE_BILINEAR, 1},
        {"pre  4K nv12 -> 1920x1080 area f16", FP_PIX_NV12, 3840, 2160, 1920, 1080, FP_RESIZE_AREA, 1},
        {"pre  4K nv12 -> 1920x1080 bilinear f16", FP_PIX_NV12, 3840, 2160, 1920, 1080, FP_RESIZE_BILINEAR, 1},
        {"pre  4K p010 -> 3840x2160 f16 nchw", FP_PIX_P010, 3840, 2160, 3840, 2160, FP_RESIZE_BILINEAR, 1},
    };
    for (size_t i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++)
        bench_pre(&cfg[i], iters, st);
    /* the same with the generic (all-format) kernel instead of the NV12/P010 specialisation */
    fp_color_cuda_force_generic(1);
    printf("generic kernel:\n");
    for (size_t i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++)
        if (i == 0 || i == 1 || i == 4)
            bench_pre(&cfg[i], iters, st);
    fp_color_cuda_force_generic(0);
    bench_post("post 1080p f16 rgba -> yuva420p", FP_PIX_YUVA420P, 1920, 1080, 4, iters, st);
    bench_post("post 4K f16 rgb -> nv12", FP_PIX_NV12, 3840, 2160, 3, iters, st);
    bench_post("post 4K f16 rgb -> p010", FP_PIX_P010, 3840, 2160, 3, iters, st);
    CK(cudaStreamDestroy(st));
    return 0;
}
