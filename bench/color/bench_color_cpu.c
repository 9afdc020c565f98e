/*
 * bench_color_cpu — times the CPU pre/postprocess (fp_color_cpu.c) on one thread: the row path
 * (default) and the per-pixel reference loops, in ns per output pixel (preprocess: tensor pixels;
 * postprocess: frame pixels). Runs on the build machine; docs/benchmarks.md has the numbers.
 *
 * Times are thread CPU time (CLOCK_THREAD_CPUTIME_ID), so a loaded machine inflates them less than
 * wall time would (caches and SMT siblings are still shared); the wall time is printed too.
 *
 * Usage: bench_color_cpu [iterations of the row path]   (default 10; the reference runs 1/5 as many)
 */
#include "gpu/fp_color_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void frame_alloc(fp_image *im, fp_pixfmt f, int w, int h)
{
    int b = fp_pixfmt_bit_depth(f) > 8 ? 2 : 1, nv = f == FP_PIX_NV12 || f == FP_PIX_P010;
    int sub = f == FP_PIX_YUV420P || f == FP_PIX_YUV420P10 || f == FP_PIX_YUVA420P || nv;
    int cw = sub ? (w + 1) / 2 : w, chh = sub ? (h + 1) / 2 : h;
    memset(im, 0, sizeof(*im));
    im->fmt = f;
    im->width = w;
    im->height = h;
    for (int i = 0; i < 4; i++) {
        int rb = 0, rows = h;
        if (i == 0)
            rb = w * b;
        else if (i == 1 && nv)
            rb = 2 * cw * b, rows = chh;
        else if ((i == 1 || i == 2) && !nv)
            rb = cw * b, rows = chh;
        else if (i == 3 && fp_pixfmt_has_alpha(f))
            rb = w * b;
        if (!rb)
            continue;
        im->linesize[i] = (rb + 63) & ~63;
        size_t n = (size_t)im->linesize[i] * rows;
        im->data[i] = malloc(n);
        for (size_t k = 0; k < n; k++) /* mid-range codes, some variation; 10-bit stays legal */
            im->data[i][k] = (uint8_t)(b == 2 && (k & 1) ? (k >> 7) & 3 : 64 + ((k * 2654435761u) >> 25));
    }
}

static void frame_free(fp_image *im)
{
    for (int i = 0; i < 4; i++)
        free(im->data[i]);
}

typedef struct pre_case {
    const char *name;
    fp_pixfmt f;
    int w, h, dw, dh;
    fp_resize_mode mode;
    fp_sample_type dt;
} pre_case;

static const pre_case pre_cases[] = {
    {"nv12 1080p -> fp32 nchw", FP_PIX_NV12, 1920, 1080, 1920, 1080, FP_RESIZE_BILINEAR, FP_DTYPE_F32},
    {"nv12 1080p -> fp16 nchw", FP_PIX_NV12, 1920, 1080, 1920, 1080, FP_RESIZE_BILINEAR, FP_DTYPE_F16},
    {"yuv420p 1080p -> fp32 nchw", FP_PIX_YUV420P, 1920, 1080, 1920, 1080, FP_RESIZE_BILINEAR, FP_DTYPE_F32},
    {"yuv420p10 1080p -> fp16 nchw", FP_PIX_YUV420P10, 1920, 1080, 1920, 1080, FP_RESIZE_BILINEAR, FP_DTYPE_F16},
    {"nv12 1080p -> 512x288 bilinear fp32", FP_PIX_NV12, 1920, 1080, 512, 288, FP_RESIZE_BILINEAR, FP_DTYPE_F32},
    {"nv12 1080p -> 512x288 area fp32", FP_PIX_NV12, 1920, 1080, 512, 288, FP_RESIZE_AREA, FP_DTYPE_F32},
    {"nv12 1080p -> 1280x720 bilinear fp16", FP_PIX_NV12, 1920, 1080, 1280, 720, FP_RESIZE_BILINEAR, FP_DTYPE_F16},
    {"nv12 1080p -> 1280x720 area fp16", FP_PIX_NV12, 1920, 1080, 1280, 720, FP_RESIZE_AREA, FP_DTYPE_F16},
    {"yuv420p 960x540 -> 1920x1080 bilinear fp32", FP_PIX_YUV420P, 960, 540, 1920, 1080, FP_RESIZE_BILINEAR, FP_DTYPE_F32},
};

typedef struct post_case {
    const char *name;
    fp_pixfmt f;
    fp_sample_type dt;
    int sep_alpha;
} post_case;

static const post_case post_cases[] = {
    {"fp32 nchw rgb+alpha -> yuva420p 1080p", FP_PIX_YUVA420P, FP_DTYPE_F32, 1},
    {"fp32 nchw rgb -> yuv420p 1080p", FP_PIX_YUV420P, FP_DTYPE_F32, 0},
    {"fp16 nchw rgb -> nv12 1080p", FP_PIX_NV12, FP_DTYPE_F16, 0},
    {"fp32 nchw rgb+alpha -> yuva444p10 1080p", FP_PIX_YUVA444P10, FP_DTYPE_F32, 1},
    {"fp32 nchw rgb -> yuv444p10 1080p", FP_PIX_YUV444P10, FP_DTYPE_F32, 0},
    {"fp32 nchw rgb+alpha -> gbrap 1080p", FP_PIX_GBRAP, FP_DTYPE_F32, 1},
};

/* Runs fn `it` times; prints ns per pixel (thread CPU and wall). Returns CPU ns/pixel. */
#define TIME(it, pixels, call, out_cpu, out_wall)                                                   \
    do {                                                                                        \
        double c0 = now(CLOCK_THREAD_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);                    \
        for (int i_ = 0; i_ < (it); i_++)                                                      \
            if ((call) < 0) {                                                                   \
                fprintf(stderr, "bench_color_cpu: %s\n", e.msg);                                \
                exit(1);                                                                        \
            }                                                                                   \
        out_cpu = (now(CLOCK_THREAD_CPUTIME_ID) - c0) * 1e9 / ((double)(it) * (pixels));        \
        out_wall = (now(CLOCK_MONOTONIC) - w0) * 1e9 / ((double)(it) * (pixels));               \
    } while (0)

int main(int argc, char **argv)
{
    int it = argc > 1 ? atoi(argv[1]) : 10, rit = it / 5 > 0 ? it / 5 : 1;
    fp_err e = {0};
    fp_color_cpu_set_threads(1);
    printf("%-44s %12s %12s %12s %8s\n", "case (1 thread)", "row ns/px", "ref ns/px", "row wall", "speedup");
    for (size_t k = 0; k < sizeof(pre_cases) / sizeof(pre_cases[0]); k++) {
        const pre_case *c = &pre_cases[k];
        fp_image im;
        frame_alloc(&im, c->f, c->w, c->h);
        size_t n = (size_t)3 * c->dw * c->dh * (c->dt == FP_DTYPE_F16 ? 2 : 4);
        void *out = malloc(n);
        fp_planar d = {out, FP_LAYOUT_NCHW, c->dt, 3, c->dw, c->dh, 0, 0};
        fp_preprocess p;
        fp_preprocess_init(&p);
        p.resize = c->mode;
        double px = (double)c->dw * c->dh, rc, rw, fc, fw;
        fp_color_cpu_use_reference(1);
        TIME(rit, px, fp_preprocess_cpu(&im, &p, &d, &e), rc, rw);
        fp_color_cpu_use_reference(0);
        fp_preprocess_cpu(&im, &p, &d, &e); /* warm */
        TIME(it, px, fp_preprocess_cpu(&im, &p, &d, &e), fc, fw);
        (void)rw;
        printf("%-44s %12.2f %12.2f %12.2f %7.1fx\n", c->name, fc, rc, fw, rc / fc);
        free(out);
        frame_free(&im);
    }
    for (size_t k = 0; k < sizeof(post_cases) / sizeof(post_cases[0]); k++) {
        const post_case *c = &post_cases[k];
        int w = 1920, h = 1080;
        fp_image im;
        frame_alloc(&im, c->f, w, h);
        size_t es = c->dt == FP_DTYPE_F16 ? 2 : 4, cnt = (size_t)3 * w * h;
        uint8_t *rgb = malloc(cnt * es), *al = malloc((size_t)w * h * es);
        for (size_t i = 0; i < cnt; i++) {
            float v = (float)((i * 2654435761u) >> 8 & 0xffff) / 60000.0f;
            if (es == 4)
                ((float *)rgb)[i] = v;
            else
                ((uint16_t *)rgb)[i] = fp_f32_to_f16_host(v);
            if (i < (size_t)w * h) {
                if (es == 4)
                    ((float *)al)[i] = v;
                else
                    ((uint16_t *)al)[i] = fp_f32_to_f16_host(v);
            }
        }
        fp_planar t = {rgb, FP_LAYOUT_NCHW, c->dt, 3, w, h, 0, 0};
        fp_planar a = {al, FP_LAYOUT_NCHW, c->dt, 1, w, h, 0, 0};
        fp_colorspace cs = {FP_MATRIX_BT709, 0};
        double px = (double)w * h, rc, rw, fc, fw;
        fp_color_cpu_use_reference(1);
        TIME(rit, px, fp_postprocess_cpu(&t, c->sep_alpha ? &a : NULL, &im, &cs, &e), rc, rw);
        fp_color_cpu_use_reference(0);
        fp_postprocess_cpu(&t, c->sep_alpha ? &a : NULL, &im, &cs, &e);
        TIME(it, px, fp_postprocess_cpu(&t, c->sep_alpha ? &a : NULL, &im, &cs, &e), fc, fw);
        (void)rw;
        printf("%-44s %12.2f %12.2f %12.2f %7.1fx\n", c->name, fc, rc, fw, rc / fc);
        free(rgb);
        free(al);
        frame_free(&im);
    }
    return 0;
}
