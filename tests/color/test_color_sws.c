/*
 * test_color_sws — colour conversion of the CPU reference against two independent references:
 * swscale (SWS_BILINEAR | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT | SWS_BITEXACT, MPEG-2 chroma
 * siting, the same matrix/range through sws_setColorspaceDetails) and a double-precision
 * formula written here from the BT.601/709/2020 definitions.
 *
 * Tolerances (stated in docs/color.md):
 * - YUV/RGB -> float RGB vs double formula: max 1e-5 (float rounding only).
 * - vs swscale (its float output is built from ~8-bit-exact intermediates for 8-bit and limited-
 *   range input): max 1.02/255, mean 0.6/255 per channel.
 * - float RGB -> YUV/RGB codes vs double formula: at most 1 code, and only where the exact value is
 *   within 1e-3 of a rounding boundary.
 * - vs swscale: 4:4:4/RGB outputs and luma max 1 code; 4:2:0 chroma (swscale's bilinear
 *   downscale is a wider filter than our 1/4,1/2,1/4 x 1/2,1/2) max 3 codes (8-bit) on smooth input.
 * - fp16: within half an fp16 ulp of the fp32 result (RNE).
 */
#include "color_util.h"
#include "fp_test.h"
#include "gpu/fp_color_core.h" /* fp16 host conversion under test */

#include <libavutil/pixdesc.h>

#define FLAGS (SWS_BILINEAR | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT | SWS_BITEXACT)

static const double KR[3] = {0.299, 0.2126, 0.2627}, KB[3] = {0.114, 0.0722, 0.0593};
static const char *MNAME[3] = {"bt601", "bt709", "bt2020"};

/* Independent double reference of one source pixel, written from the definitions. */
static void ref_pixel(const fp_image *im, fp_colorspace cs, int x, int y, double rgba[4])
{
    fp_pixfmt f = im->fmt;
    int d = fp_pixfmt_bit_depth(f);
    double maxv = (1 << d) - 1, s = 1 << (d - 8);
    rgba[3] = 1.0;
    if (f == FP_PIX_RGB24 || f == FP_PIX_RGBA) {
        const uint8_t *p = im->data[0] + y * im->linesize[0] + x * (f == FP_PIX_RGB24 ? 3 : 4);
        for (int c = 0; c < 3; c++)
            rgba[c] = p[c] / 255.0;
        if (f == FP_PIX_RGBA)
            rgba[3] = p[3] / 255.0;
        return;
    }
    if (!cu_is_yuv(f)) {
        rgba[0] = cu_get(im, 2, x, y) / maxv;
        rgba[1] = cu_get(im, 0, x, y) / maxv;
        rgba[2] = cu_get(im, 1, x, y) / maxv;
        if (fp_pixfmt_has_alpha(f))
            rgba[3] = cu_get(im, 3, x, y) / maxv;
        return;
    }
    /* chroma position in chroma-sample coordinates: MPEG-2 siting */
    int cw = (im->width + cu_ssx(f)) >> cu_ssx(f), ch = (im->height + cu_ssy(f)) >> cu_ssy(f);
    double cxf = cu_ssx(f) ? x / 2.0 : x, cyf = cu_ssy(f) ? y / 2.0 - 0.25 : y;
    cxf = fmin(fmax(cxf, 0), cw - 1);
    cyf = fmin(fmax(cyf, 0), ch - 1);
    int i0 = (int)floor(cxf), j0 = (int)floor(cyf), i1 = i0 + 1 < cw ? i0 + 1 : i0, j1 = j0 + 1 < ch ? j0 + 1 : j0;
    double fx = cxf - i0, fy = cyf - j0, uv[2];
    for (int k = 0; k < 2; k++) {
#define C(i, j) (cu_is_nv(f) ? cu_get(im, 1, 2 * (i) + k, j) : cu_get(im, 1 + k, i, j))
        uv[k] = (1 - fy) * ((1 - fx) * C(i0, j0) + fx * C(i1, j0)) + fy * ((1 - fx) * C(i0, j1) + fx * C(i1, j1));
#undef C
    }
    double yn, cb, cr, kr = KR[cs.matrix], kb = KB[cs.matrix], kg = 1 - kr - kb;
    if (cs.full_range) {
        yn = cu_get(im, 0, x, y) / maxv;
        cb = (uv[0] - 128 * s) / maxv;
        cr = (uv[1] - 128 * s) / maxv;
    } else {
        yn = (cu_get(im, 0, x, y) - 16 * s) / (219 * s);
        cb = (uv[0] - 128 * s) / (224 * s);
        cr = (uv[1] - 128 * s) / (224 * s);
    }
    double r = yn + 2 * (1 - kr) * cr, b = yn + 2 * (1 - kb) * cb, g = (yn - kr * r - kb * b) / kg;
    rgba[0] = fmin(fmax(r, 0), 1);
    rgba[1] = fmin(fmax(g, 0), 1);
    rgba[2] = fmin(fmax(b, 0), 1);
    if (fp_pixfmt_has_alpha(f))
        rgba[3] = cu_get(im, 3, x, y) / maxv;
}

static const fp_pixfmt ALL[] = {FP_PIX_YUV420P, FP_PIX_YUV420P10, FP_PIX_YUV422P, FP_PIX_YUV422P10,
                                FP_PIX_YUV444P, FP_PIX_YUV444P10, FP_PIX_NV12, FP_PIX_P010,
                                FP_PIX_YUVA420P, FP_PIX_YUVA444P10, FP_PIX_GBRP, FP_PIX_GBRAP,
                                FP_PIX_GBRP10, FP_PIX_GBRAP10, FP_PIX_RGB24, FP_PIX_RGBA,
                                FP_PIX_YUV444P16};
#define NFMT (int)(sizeof(ALL) / sizeof(ALL[0]))

/* Source -> float RGBA (NCHW, f32) vs the double formula and vs swscale. */
static void test_pre(fp_pixfmt f, fp_colorspace cs, int w, int h, int pad)
{
    cu_frame *fr = cu_frame_alloc(f, w, h, pad);
    cu_frame_fill(fr, cs.full_range, 0);
    size_t np = (size_t)w * h;
    float *out = malloc(np * 4 * sizeof(float)), *g = malloc(np * 3 * sizeof(float));
    fp_planar d = {out, FP_LAYOUT_NCHW, FP_DTYPE_F32, 4, w, h, 0, 0};
    fp_preprocess p;
    fp_preprocess_init(&p);
    p.cs = cs;
    fp_err e = {0};
    int ret = fp_preprocess_cpu(&fr->img, &p, &d, &e);
    CHECK_MSG(ret == 0, "%s: %s", fp_pixfmt_name(f), e.msg);
    CHECK(cu_frame_guards_ok(fr));

    double mref = 0, msws[3] = {0}, mean[3] = {0};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double r[4];
            ref_pixel(&fr->img, cs, x, y, r);
            for (int c = 0; c < 4; c++) {
                double v = out[c * np + y * w + x];
                double dd = isnan(v) ? INFINITY : fabs(v - r[c]);
                if (dd > mref)
                    mref = dd;
            }
        }
    CHECK_MSG(mref <= 1e-5, "%s %s %s %dx%d: max |ours - double| = %g", fp_pixfmt_name(f),
              MNAME[cs.matrix], cs.full_range ? "full" : "limited", w, h, mref);

    /* swscale's filters are not meant for frames a few pixels wide: compare from 16x16 up. For odd
     * sizes of subsampled formats swscale scales chroma by ceil(w/2)/w instead of 1/2 (a drift of
     * up to half a chroma sample), so those are checked against the double formula only. */
    int sws_ok = w >= 16 && h >= 16 && !((w & 1) && cu_ssx(f)) && !((h & 1) && cu_ssy(f));
    struct SwsContext *c = sws_ok ? cu_sws(f, w, h, AV_PIX_FMT_GBRPF32LE, w, h, FLAGS, cs) : NULL;
    CHECK(c != NULL || !sws_ok);
    if (c) {
        uint8_t *dp[4] = {(uint8_t *)g, (uint8_t *)(g + np), (uint8_t *)(g + 2 * np), NULL};
        int dl[4] = {w * 4, w * 4, w * 4, 0};
        sws_scale(c, (const uint8_t *const *)fr->img.data, fr->img.linesize, 0, h, dp, dl);
        sws_freeContext(c);
        static const int plane_of[3] = {2, 0, 1}; /* R,G,B in GBR planes */
        for (int ch = 0; ch < 3; ch++)
            for (size_t i = 0; i < np; i++) {
                double dd = fabs((double)out[ch * np + i] - g[plane_of[ch] * np + i]);
                if (isnan(out[ch * np + i]))
                    dd = INFINITY;
                msws[ch] = fmax(msws[ch], dd);
                mean[ch] += dd;
            }
        for (int ch = 0; ch < 3; ch++) {
            mean[ch] /= np;
            double tmax = cu_is_yuv(f) ? 1.02 : 1.2, tmean = cu_is_yuv(f) ? 0.6 : 0.7;
            CHECK_MSG(msws[ch] <= tmax / 255 && mean[ch] <= tmean / 255,
                      "%s %s %s %dx%d ch %d vs swscale: max %.3f/255 mean %.3f/255", fp_pixfmt_name(f),
                      MNAME[cs.matrix], cs.full_range ? "full" : "limited", w, h, ch, msws[ch] * 255,
                      mean[ch] * 255);
        }
    }
    free(out);
    free(g);
    cu_frame_free(&fr);
}

/* Exact code value of float RGB(A) -> format, double precision, our documented filters. */
static double ref_code(fp_pixfmt f, fp_colorspace cs, const float *rgb, int nc, int w, int h, int plane,
                       int x, int y)
{
    int d = fp_pixfmt_bit_depth(f);
    double maxv = (1 << d) - 1, s = 1 << (d - 8);
    size_t np = (size_t)w * h;
#define P(c, xx, yy) fmin(fmax((double)rgb[(c) * np + (size_t)(yy) * w + (xx)], 0.0), 1.0)
    if (!cu_is_yuv(f)) {
        int c = plane == 3 ? 3 : (plane == 0 ? 1 : plane == 1 ? 2 : 0);
        if (c == 3 && nc < 4)
            return maxv;
        return P(c, x, y) * maxv;
    }
    if (plane == 3)
        return nc < 4 ? maxv : P(3, x, y) * maxv;
    double kr = KR[cs.matrix], kb = KB[cs.matrix], kg = 1 - kr - kb, r = 0, g = 0, b = 0;
    if (plane == 0 || (!cu_ssx(f) && !cu_ssy(f))) {
        r = P(0, x, y);
        g = P(1, x, y);
        b = P(2, x, y);
    } else { /* chroma sample (x, y): taps 1/4,1/2,1/4 on columns 2x-1..2x+1, rows 2y, 2y+1 */
        for (int j = 0; j < (cu_ssy(f) ? 2 : 1); j++)
            for (int i = -1; i <= 1; i++) {
                int xx = 2 * x + i, yy = (cu_ssy(f) ? 2 * y : y) + j;
                xx = xx < 0 ? 0 : xx >= w ? w - 1 : xx;
                yy = yy >= h ? h - 1 : yy;
                double wgt = (i == 0 ? 0.5 : 0.25) * (cu_ssy(f) ? 0.5 : 1.0);
                r += wgt * P(0, xx, yy);
                g += wgt * P(1, xx, yy);
                b += wgt * P(2, xx, yy);
            }
    }
#undef P
    double yy = kr * r + kg * g + kb * b, yr = cs.full_range ? maxv : 219 * s, cr = cs.full_range ? maxv : 224 * s;
    if (plane == 0)
        return (cs.full_range ? 0 : 16 * s) + yr * yy;
    if (plane == 1)
        return 128 * s + cr * (b - yy) / (2 * (1 - kb));
    return 128 * s + cr * (r - yy) / (2 * (1 - kr));
}

static int get_code(const fp_image *im, int plane, int x, int y)
{
    if (cu_is_nv(im->fmt) && plane > 0)
        return cu_get(im, 1, 2 * x + plane - 1, y);
    if (im->fmt == FP_PIX_RGB24 || im->fmt == FP_PIX_RGBA) {
        int c = plane == 0 ? 1 : plane == 1 ? 2 : plane == 2 ? 0 : 3; /* present as G,B,R,A */
        return im->data[0][y * im->linesize[0] + x * (im->fmt == FP_PIX_RGB24 ? 3 : 4) + c];
    }
    return cu_get(im, plane, x, y);
}

/* Float RGB(A) -> every format vs the double formula and vs swscale (GBRPF32 input). */
static void test_post(fp_pixfmt f, fp_colorspace cs, int w, int h, int nc, int smooth)
{
    size_t np = (size_t)w * h;
    float *rgb = malloc(np * 4 * sizeof(float));
    for (int c = 0; c < 4; c++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                float v = smooth ? 0.5f + 0.45f * sinf(0.13f * x + 0.05f * y + c) : cu_randf() * 1.2f - 0.1f;
                rgb[c * np + (size_t)y * w + x] = v; /* noise also probes clamping (-0.1..1.1) */
            }
    if (!smooth)
        rgb[0] = NAN; /* NaN must become 0, never garbage */
    cu_frame *fr = cu_frame_alloc(f, w, h, 5);
    fp_planar t = {rgb, FP_LAYOUT_NCHW, FP_DTYPE_F32, nc, w, h, 0, 0};
    fp_err e = {0};
    int ret = fp_postprocess_cpu(&t, NULL, &fr->img, &cs, &e);
    CHECK_MSG(ret == 0, "%s: %s", fp_pixfmt_name(f), e.msg);
    CHECK(cu_frame_guards_ok(fr));
    if (!smooth)
        rgb[0] = 0.0f;

    int bad = 0, nplanes = 3;
    if (fp_pixfmt_has_alpha(f))
        nplanes = 4;
    double worst = 0;
    for (int pl = 0; pl < nplanes; pl++) {
        int sub = cu_is_yuv(f) && (pl == 1 || pl == 2);
        int pw = sub ? (w + cu_ssx(f)) >> cu_ssx(f) : w, ph = sub ? (h + cu_ssy(f)) >> cu_ssy(f) : h;
        for (int y = 0; y < ph; y++)
            for (int x = 0; x < pw; x++) {
                double ex = ref_code(f, cs, rgb, nc, w, h, pl, x, y);
                int got = get_code(&fr->img, pl, x, y), want = (int)floor(ex + 0.5);
                double frac = ex - floor(ex);
                if (got != want && !(abs(got - want) == 1 && fabs(frac - 0.5) < 1e-3))
                    bad++;
                worst = fmax(worst, fabs(got - ex));
            }
    }
    CHECK_MSG(bad == 0, "%s %s %s %dx%d c%d: %d codes off the double formula (worst %.3f)", fp_pixfmt_name(f),
              MNAME[cs.matrix], cs.full_range ? "full" : "limited", w, h, nc, bad, worst);

    if (smooth) {
        cu_frame *sf = cu_frame_alloc(f, w, h, 0);
        /* swscale: GBRPF32 (GBRAPF32) -> f */
        struct SwsContext *sc = sws_alloc_context();
        av_opt_set_int(sc, "srcw", w, 0);
        av_opt_set_int(sc, "srch", h, 0);
        av_opt_set_int(sc, "src_format", nc == 4 ? AV_PIX_FMT_GBRAPF32LE : AV_PIX_FMT_GBRPF32LE, 0);
        av_opt_set_int(sc, "dstw", w, 0);
        av_opt_set_int(sc, "dsth", h, 0);
        av_opt_set_int(sc, "dst_format", cu_av_fmt(f), 0);
        av_opt_set_int(sc, "sws_flags", FLAGS, 0);
        if (cu_ssx(f)) {
            av_opt_set_int(sc, "dst_h_chr_pos", 0, 0);
            av_opt_set_int(sc, "dst_v_chr_pos", cu_ssy(f) ? 128 : 0, 0);
        }
        int ok = sws_init_context(sc, NULL, NULL) >= 0;
        if (!ok) {
            SKIP("swscale refuses this conversion");
        } else {
            static const int cs_id[3] = {SWS_CS_ITU601, SWS_CS_ITU709, SWS_CS_BT2020};
            const int *coef = sws_getCoefficients(cs_id[cs.matrix]);
            sws_setColorspaceDetails(sc, coef, 1, coef, cu_is_yuv(f) ? cs.full_range : 1, 0, 1 << 16, 1 << 16);
            const uint8_t *sp[4] = {(uint8_t *)(rgb + np), (uint8_t *)(rgb + 2 * np), (uint8_t *)rgb,
                                    nc == 4 ? (uint8_t *)(rgb + 3 * np) : NULL};
            int sl[4] = {w * 4, w * 4, w * 4, nc == 4 ? w * 4 : 0};
            sws_scale(sc, sp, sl, 0, h, sf->img.data, sf->img.linesize);
            int maxd_l = 0, maxd_c = 0;
            for (int pl = 0; pl < nplanes; pl++) {
                int sub = cu_is_yuv(f) && (pl == 1 || pl == 2);
                int pw = sub ? (w + cu_ssx(f)) >> cu_ssx(f) : w, ph = sub ? (h + cu_ssy(f)) >> cu_ssy(f) : h;
                for (int y = 0; y < ph; y++)
                    for (int x = 0; x < pw; x++) {
                        int dd = abs(get_code(&fr->img, pl, x, y) - get_code(&sf->img, pl, x, y));
                        if (sub && (cu_ssx(f) || cu_ssy(f)))
                            maxd_c = dd > maxd_c ? dd : maxd_c;
                        else
                            maxd_l = dd > maxd_l ? dd : maxd_l;
                    }
            }
            int lim_l = fp_pixfmt_bit_depth(f) > 8 ? 4 : 1, lim_c = fp_pixfmt_bit_depth(f) > 8 ? 12 : 3;
            CHECK_MSG(maxd_l <= lim_l && maxd_c <= lim_c, "%s %s %s vs swscale: max diff %d codes (luma/444), %d (subsampled chroma)",
                      fp_pixfmt_name(f), MNAME[cs.matrix], cs.full_range ? "full" : "limited", maxd_l, maxd_c);
        }
        sws_freeContext(sc);
        cu_frame_free(&sf);
    }
    free(rgb);
    cu_frame_free(&fr);
}

/* fp16 host conversion on known values. */
static void test_f16(void)
{
    static const struct { float f; uint16_t h; } v[] = {
        {0.0f, 0x0000}, {-0.0f, 0x8000}, {1.0f, 0x3c00}, {-2.0f, 0xc000}, {65504.0f, 0x7bff},
        {65520.0f, 0x7c00}, {1.0f / 3.0f, 0x3555}, {5.9604645e-8f, 0x0001}, {2.9802322e-8f, 0x0000},
        {6.1035156e-5f, 0x0400}, {1.00048828125f, 0x3c00} /* tie -> even */, {1.00146484375f, 0x3c02},
        {INFINITY, 0x7c00}};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        uint16_t h = fp_f32_to_f16_host(v[i].f);
        CHECK_MSG(h == v[i].h, "f16(%g) = 0x%04x, want 0x%04x", v[i].f, h, v[i].h);
        if (v[i].f == v[i].f && fabsf(v[i].f) <= 65504.0f && h != 0x0000 && h != 0x8000 && v[i].h == h &&
            fabsf(v[i].f) >= 6.1035156e-5f)
            CHECK_NEAR(fp_f16_to_f32_host(h), v[i].f, fabsf(v[i].f) / 1024.0f);
    }
    CHECK(isnan(fp_f16_to_f32_host(fp_f32_to_f16_host(NAN))));
    CHECK(fp_f16_to_f32_host(0x0001) == 5.9604645e-8f);
    /* every finite half converts to float and back unchanged */
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00)
            continue;
        if (fp_f32_to_f16_host(fp_f16_to_f32_host((uint16_t)h)) != h)
            bad++;
    }
    CHECK_EQ_INT(bad, 0);
}

int main(void)
{
    uint64_t seed = 20261122;
    printf("test_color_sws: seed %llu\n", (unsigned long long)seed);
    cu_seed(seed);
    test_f16();
    static const int sizes[][3] = {{64, 48, 0}, {33, 17, 7}, {1, 1, 0}, {3, 5, 3}, {7, 2, 0}, {130, 66, 2}};
    for (int i = 0; i < NFMT; i++)
        for (int m = 0; m < 3; m++)
            for (int r = 0; r < 2; r++) {
                fp_colorspace cs = {(fp_matrix)m, r};
                if (!cu_is_yuv(ALL[i]) && (m || r))
                    continue;
                for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
                    test_pre(ALL[i], cs, sizes[s][0], sizes[s][1], sizes[s][2]);
                if (ALL[i] == FP_PIX_YUV444P16) /* source-only format */
                    continue;
                test_post(ALL[i], cs, 64, 48, 3, 0);
                test_post(ALL[i], cs, 33, 17, 4, 0);
                test_post(ALL[i], cs, 64, 48, fp_pixfmt_has_alpha(ALL[i]) ? 4 : 3, 1);
            }
    return fp_test_finish("test_color_sws");
}
