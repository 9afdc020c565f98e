/*
 * color_util — test helpers for the colour kernels: host frames with guard bytes, a seeded PRNG,
 * random frame content, the fp_pixfmt -> AVPixelFormat map and a swscale reference conversion
 * configured to the semantics fp_image.h documents (MPEG-2 chroma siting, accurate rounding, full
 * chroma interpolation). Shared by tests/color and tests/gpu. Header-only; every allocation is
 * freed by the matching *_free, which accepts NULL.
 */
#ifndef COLOR_UTIL_H
#define COLOR_UTIL_H

#include "gpu/fp_image.h"

#include <libavutil/opt.h>
#include <math.h>
#include <libavutil/pixfmt.h>
#include <libswscale/swscale.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CU_GUARD 64
#define CU_GUARD_BYTE 0xA5

/* xorshift64*: fixed seeds, same sequence on every machine. */
static uint64_t cu_rng_state = 0x9E3779B97F4A7C15ull;
static inline void cu_seed(uint64_t s) { cu_rng_state = s ? s : 1; }
static inline uint32_t cu_rand(void)
{
    cu_rng_state ^= cu_rng_state >> 12;
    cu_rng_state ^= cu_rng_state << 25;
    cu_rng_state ^= cu_rng_state >> 27;
    return (uint32_t)((cu_rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}
static inline float cu_randf(void) { return (float)(cu_rand() >> 8) / 16777216.0f; }

static inline enum AVPixelFormat cu_av_fmt(fp_pixfmt f)
{
    switch (f) {
    case FP_PIX_YUV420P: return AV_PIX_FMT_YUV420P;
    case FP_PIX_YUV420P10: return AV_PIX_FMT_YUV420P10LE;
    case FP_PIX_YUV422P: return AV_PIX_FMT_YUV422P;
    case FP_PIX_YUV422P10: return AV_PIX_FMT_YUV422P10LE;
    case FP_PIX_YUV444P: return AV_PIX_FMT_YUV444P;
    case FP_PIX_YUV444P10: return AV_PIX_FMT_YUV444P10LE;
    case FP_PIX_NV12: return AV_PIX_FMT_NV12;
    case FP_PIX_P010: return AV_PIX_FMT_P010LE;
    case FP_PIX_YUVA420P: return AV_PIX_FMT_YUVA420P;
    case FP_PIX_YUVA444P10: return AV_PIX_FMT_YUVA444P10LE;
    case FP_PIX_GBRP: return AV_PIX_FMT_GBRP;
    case FP_PIX_GBRAP: return AV_PIX_FMT_GBRAP;
    case FP_PIX_GBRP10: return AV_PIX_FMT_GBRP10LE;
    case FP_PIX_GBRAP10: return AV_PIX_FMT_GBRAP10LE;
    case FP_PIX_RGB24: return AV_PIX_FMT_RGB24;
    case FP_PIX_RGBA: return AV_PIX_FMT_RGBA;
    case FP_PIX_YUV444P16: return AV_PIX_FMT_YUV444P16LE;
    default: return AV_PIX_FMT_NONE;
    }
}

static inline int cu_is_yuv(fp_pixfmt f)
{
    return (f >= FP_PIX_YUV420P && f <= FP_PIX_YUVA444P10) || f == FP_PIX_YUV444P16;
}
static inline int cu_is_nv(fp_pixfmt f) { return f == FP_PIX_NV12 || f == FP_PIX_P010; }
static inline int cu_bytes(fp_pixfmt f) { return fp_pixfmt_bit_depth(f) > 8 ? 2 : 1; }
static inline int cu_ssx(fp_pixfmt f)
{
    return f == FP_PIX_YUV420P || f == FP_PIX_YUV420P10 || f == FP_PIX_YUV422P ||
           f == FP_PIX_YUV422P10 || f == FP_PIX_NV12 || f == FP_PIX_P010 || f == FP_PIX_YUVA420P;
}
static inline int cu_ssy(fp_pixfmt f)
{
    return f == FP_PIX_YUV420P || f == FP_PIX_YUV420P10 || f == FP_PIX_NV12 || f == FP_PIX_P010 ||
           f == FP_PIX_YUVA420P;
}

/* Plane geometry: row bytes and rows of plane i (0 when absent). */
static inline void cu_plane_geom(fp_pixfmt f, int w, int h, int i, int *rowbytes, int *rows)
{
    int b = cu_bytes(f), cw = (w + cu_ssx(f)) >> cu_ssx(f), ch = (h + cu_ssy(f)) >> cu_ssy(f);
    *rowbytes = *rows = 0;
    if (f == FP_PIX_RGB24 || f == FP_PIX_RGBA) {
        if (i == 0) {
            *rowbytes = w * (f == FP_PIX_RGB24 ? 3 : 4);
            *rows = h;
        }
        return;
    }
    if (i == 0) {
        *rowbytes = w * b;
        *rows = h;
    } else if (i == 1 && cu_is_nv(f)) {
        *rowbytes = 2 * cw * b;
        *rows = ch;
    } else if (i == 1 || i == 2) {
        if (cu_is_nv(f))
            return;
        *rowbytes = (cu_is_yuv(f) ? cw : w) * b;
        *rows = cu_is_yuv(f) ? ch : h;
    } else if (i == 3 && fp_pixfmt_has_alpha(f)) {
        *rowbytes = w * b;
        *rows = h;
    }
}

/* Host frame whose planes each sit in their own buffer with CU_GUARD guard bytes before and
 * after, and `pad` extra bytes per row (pitched like NVDEC output). */
typedef struct cu_frame {
    fp_image img;
    uint8_t *buf[4];
    size_t size[4];
} cu_frame;

static inline cu_frame *cu_frame_alloc(fp_pixfmt f, int w, int h, int pad)
{
    cu_frame *fr = (cu_frame *)calloc(1, sizeof(*fr));
    if (!fr)
        return NULL;
    fr->img.fmt = f;
    fr->img.width = w;
    fr->img.height = h;
    for (int i = 0; i < 4; i++) {
        int rb, rows;
        cu_plane_geom(f, w, h, i, &rb, &rows);
        if (!rb)
            continue;
        int ls = (rb + pad + 1) & ~1;
        fr->size[i] = (size_t)ls * rows;
        fr->buf[i] = (uint8_t *)malloc(fr->size[i] + 2 * CU_GUARD);
        memset(fr->buf[i], CU_GUARD_BYTE, fr->size[i] + 2 * CU_GUARD);
        memset(fr->buf[i] + CU_GUARD, 0, fr->size[i]);
        fr->img.data[i] = fr->buf[i] + CU_GUARD;
        fr->img.linesize[i] = ls;
    }
    return fr;
}

static inline void cu_frame_free(cu_frame **p)
{
    if (!*p)
        return;
    for (int i = 0; i < 4; i++)
        free((*p)->buf[i]);
    free(*p);
    *p = NULL;
}

/* Guard bytes around every plane intact? */
static inline int cu_frame_guards_ok(const cu_frame *fr)
{
    for (int i = 0; i < 4; i++) {
        if (!fr->buf[i])
            continue;
        for (int k = 0; k < CU_GUARD; k++)
            if (fr->buf[i][k] != CU_GUARD_BYTE || fr->buf[i][CU_GUARD + fr->size[i] + k] != CU_GUARD_BYTE)
                return 0;
    }
    return 1;
}

static inline int cu_get(const fp_image *im, int plane, int x, int y)
{
    const uint8_t *row = im->data[plane] + (ptrdiff_t)y * im->linesize[plane];
    if (cu_bytes(im->fmt) == 1)
        return row[x];
    return ((const uint16_t *)row)[x] >> (im->fmt == FP_PIX_P010 ? 6 : 0);
}

static inline void cu_put(fp_image *im, int plane, int x, int y, int v)
{
    uint8_t *row = im->data[plane] + (ptrdiff_t)y * im->linesize[plane];
    if (cu_bytes(im->fmt) == 1)
        row[x] = (uint8_t)v;
    else
        ((uint16_t *)row)[x] = (uint16_t)(v << (im->fmt == FP_PIX_P010 ? 6 : 0));
}

/* Random samples: uniform noise over the legal code range of each plane (limited range keeps
 * luma in 16..235 and chroma in 16..240, scaled for 10 bit), or smooth gradients plus mild noise
 * when `smooth` (resize and round-trip tests want in-gamut, low-frequency content). */
static inline void cu_frame_fill(cu_frame *fr, int full_range, int smooth)
{
    fp_image *im = &fr->img;
    int d = fp_pixfmt_bit_depth(im->fmt), s = 1 << (d - 8), maxv = (1 << d) - 1;
    float ph[4] = {cu_randf() * 6.f, cu_randf() * 6.f, cu_randf() * 6.f, cu_randf() * 6.f};
    for (int i = 0; i < 4; i++) {
        int rb, rows;
        cu_plane_geom(im->fmt, im->width, im->height, i, &rb, &rows);
        if (!rb)
            continue;
        int n = rb / cu_bytes(im->fmt);
        for (int y = 0; y < rows; y++)
            for (int x = 0; x < n; x++) {
                int lo = 0, hi = maxv;
                int chroma = cu_is_yuv(im->fmt) && (i == 1 || i == 2);
                if (cu_is_yuv(im->fmt) && !full_range && i < 3) {
                    lo = 16 * s;
                    hi = (chroma ? 240 : 235) * s;
                }
                int v;
                if (smooth) {
                    float t = 0.5f + 0.35f * sinf(0.11f * x + 0.07f * y + ph[i]) + 0.1f * (cu_randf() - 0.5f);
                    if (chroma) /* keep chroma near neutral so RGB stays in gamut */
                        t = 0.5f + 0.3f * (t - 0.5f);
                    v = lo + (int)(t * (hi - lo) + 0.5f);
                } else {
                    v = lo + (int)(cu_rand() % (uint32_t)(hi - lo + 1));
                }
                cu_put(im, i, x, y, v);
            }
    }
}

static int cu_hpos = 0, cu_vpos = 128;

/* swscale configured like fp_image.h's semantics. Returns NULL when swscale refuses. */
static inline struct SwsContext *cu_sws(fp_pixfmt sf, int sw, int sh, enum AVPixelFormat df, int dw,
                                        int dh, int flags, fp_colorspace cs)
{
    static const int cs_id[3] = {SWS_CS_ITU601, SWS_CS_ITU709, SWS_CS_BT2020};
    struct SwsContext *c = sws_alloc_context();
    if (!c)
        return NULL;
    av_opt_set_int(c, "srcw", sw, 0);
    av_opt_set_int(c, "srch", sh, 0);
    av_opt_set_int(c, "src_format", cu_av_fmt(sf), 0);
    av_opt_set_int(c, "dstw", dw, 0);
    av_opt_set_int(c, "dsth", dh, 0);
    av_opt_set_int(c, "dst_format", df, 0);
    av_opt_set_int(c, "sws_flags", flags, 0);
    /* MPEG-2 siting: chroma co-sited with even luma columns, halfway between rows. swscale counts
     * in 1/256 of a luma pixel from the top-left luma sample; set only on the subsampled side (the
     * other side's default is its pixel centre). */
    if (cu_ssx(sf) || cu_ssy(sf)) {
        av_opt_set_int(c, "src_h_chr_pos", cu_hpos, 0);
        av_opt_set_int(c, "src_v_chr_pos", cu_ssy(sf) ? cu_vpos : 0, 0);
    }
    if (df == AV_PIX_FMT_YUV420P || df == AV_PIX_FMT_YUVA420P || df == AV_PIX_FMT_YUV420P10LE ||
        df == AV_PIX_FMT_NV12 || df == AV_PIX_FMT_P010LE) {
        av_opt_set_int(c, "dst_h_chr_pos", cu_hpos, 0);
        av_opt_set_int(c, "dst_v_chr_pos", cu_vpos, 0);
    }
    if (sws_init_context(c, NULL, NULL) < 0) {
        sws_freeContext(c);
        return NULL;
    }
    const int *coef = sws_getCoefficients(cs_id[cs.matrix]);
    int src_full = cu_is_yuv(sf) ? cs.full_range : 1;
    int dst_full = cs.full_range;
    sws_setColorspaceDetails(c, coef, src_full, coef, dst_full, 0, 1 << 16, 1 << 16);
    return c;
}

#endif
