/*
 * test_color_resize — crop/resize/normalise/layout/precision of the CPU preprocess.
 *
 * References: (1) swscale's SWS_BILINEAR for upscaling (same half-pixel-centre bilinear; swscale
 * uses 14-bit filter coefficients and 8-bit output), tolerance max 2/255, mean 0.5/255; (2) a
 * double-precision resize written here (bilinear, area, nearest) applied to the full-resolution
 * float RGB of the same frame (whose conversion test_color_sws checks), tolerance 4e-6 — this is
 * the strong check, over awkward sizes (1, 3, 7, 129, odd, 1919x1079 -> 320x180) and odd crops.
 * fp16/NHWC outputs are compared with the fp32/NCHW output of the same call (half an fp16 ulp).
 */
#include "color_util.h"
#include "fp_test.h"
#include "gpu/fp_color_core.h" /* fp16 host conversion */

/* Full-resolution float RGBA (NCHW) of the whole frame, no resize. */
static float *full_rgba(const fp_image *im, fp_colorspace cs)
{
    size_t np = (size_t)im->width * im->height;
    float *o = malloc(np * 4 * sizeof(float));
    fp_planar d = {o, FP_LAYOUT_NCHW, FP_DTYPE_F32, 4, im->width, im->height, 0, 0};
    fp_preprocess p;
    fp_preprocess_init(&p);
    p.cs = cs;
    p.resize = FP_RESIZE_NEAREST;
    fp_err e = {0};
    if (fp_preprocess_cpu(im, &p, &d, &e) < 0) {
        fprintf(stderr, "full_rgba: %s\n", e.msg);
        free(o);
        return NULL;
    }
    return o;
}

/* Double-precision resize of channel c of `full` (W x H) restricted to crop r, output (ox, oy). */
static double ref_resize(const float *full, int W, int H, fp_rect r, int dw, int dh, int mode, int c, int ox,
                         int oy)
{
    const float *pl = full + (size_t)c * W * H;
#define AT(xx, yy) (double)pl[(size_t)(r.y + (yy)) * W + r.x + (xx)]
    double sx = (double)r.w / dw, sy = (double)r.h / dh;
    if (mode == FP_RESIZE_NEAREST) {
        int x = (int)floor((ox + 0.5) * sx), y = (int)floor((oy + 0.5) * sy);
        return AT(x < r.w ? x : r.w - 1, y < r.h ? y : r.h - 1);
    }
    if (mode == FP_RESIZE_BILINEAR) {
        double fx = fmin(fmax((ox + 0.5) * sx - 0.5, 0), r.w - 1), fy = fmin(fmax((oy + 0.5) * sy - 0.5, 0), r.h - 1);
        int x0 = (int)floor(fx), y0 = (int)floor(fy), x1 = x0 + 1 < r.w ? x0 + 1 : x0, y1 = y0 + 1 < r.h ? y0 + 1 : y0;
        double wx = fx - x0, wy = fy - y0;
        return (1 - wy) * ((1 - wx) * AT(x0, y0) + wx * AT(x1, y0)) + wy * ((1 - wx) * AT(x0, y1) + wx * AT(x1, y1));
    }
    /* area: exact coverage of [ox*sx, (ox+1)*sx) x [oy*sy, (oy+1)*sy) */
    double x0 = ox * sx, x1 = (ox + 1) * sx, y0 = oy * sy, y1 = (oy + 1) * sy, acc = 0, wsum = 0;
    for (int y = (int)floor(y0); y < r.h && y < y1; y++)
        for (int x = (int)floor(x0); x < r.w && x < x1; x++) {
            double w = (fmin(x + 1, x1) - fmax(x, x0)) * (fmin(y + 1, y1) - fmax(y, y0));
            acc += w * AT(x, y);
            wsum += w;
        }
#undef AT
    return acc / wsum;
}

static const char *MODE[3] = {"bilinear", "area", "nearest"};

/* One configuration against the double reference, fp32 NCHW, then fp16 NHWC against fp32. */
static void check_resize(fp_pixfmt f, int W, int H, fp_rect crop, int dw, int dh, int mode, int nc)
{
    fp_colorspace cs = {FP_MATRIX_BT709, 0};
    cu_frame *fr = cu_frame_alloc(f, W, H, 3);
    cu_frame_fill(fr, 0, 0);
    float *full = full_rgba(&fr->img, cs);
    fp_rect r = crop;
    if (!r.w || !r.h)
        r = (fp_rect){0, 0, W, H};
    size_t no = (size_t)dw * dh;
    /* guard words around the output */
    float *buf = malloc((no * nc + 32) * sizeof(float));
    for (size_t i = 0; i < no * nc + 32; i++)
        buf[i] = -12345.0f;
    float *out = buf + 16;
    fp_planar d = {out, FP_LAYOUT_NCHW, FP_DTYPE_F32, nc, dw, dh, 0, 0};
    fp_preprocess p;
    fp_preprocess_init(&p);
    p.cs = cs;
    p.crop = crop;
    p.resize = (fp_resize_mode)mode;
    p.mean[0] = 0.485f, p.mean[1] = 0.456f, p.mean[2] = 0.406f;
    p.std[0] = 0.229f, p.std[1] = 0.224f, p.std[2] = 0.225f;
    fp_err e = {0};
    int ret = fp_preprocess_cpu(&fr->img, &p, &d, &e);
    CHECK_MSG(ret == 0, "%s", e.msg);
    int guards = 1;
    for (int i = 0; i < 16; i++)
        guards &= buf[i] == -12345.0f && out[no * nc + i] == -12345.0f;
    CHECK_MSG(guards, "output guard words overwritten");
    double worst = 0;
    for (int c = 0; c < nc; c++)
        for (int y = 0; y < dh; y++)
            for (int x = 0; x < dw; x++) {
                double ref = ref_resize(full, W, H, r, dw, dh, mode, c, x, y);
                if (c < 3)
                    ref = (ref - p.mean[c]) / p.std[c];
                double v = out[(size_t)c * no + (size_t)y * dw + x];
                double dd = isnan(v) ? INFINITY : fabs(v - ref);
                worst = fmax(worst, dd);
            }
    /* values are up to ~2.6 after normalisation: 1e-5 relative-ish headroom for float */
    CHECK_MSG(worst <= 4e-6, "%s %dx%d crop %dx%d+%d+%d -> %dx%d %s c%d: max |ours - double| %g", fp_pixfmt_name(f), W,
              H, r.w, r.h, r.x, r.y, dw, dh, MODE[mode], nc, worst);

    /* same call, fp16 NHWC */
    uint16_t *h16 = malloc(no * nc * sizeof(uint16_t));
    fp_planar d16 = {h16, FP_LAYOUT_NHWC, FP_DTYPE_F16, nc, dw, dh, 0, 0};
    ret = fp_preprocess_cpu(&fr->img, &p, &d16, &e);
    CHECK_MSG(ret == 0, "%s", e.msg);
    int bad16 = 0;
    for (int c = 0; c < nc; c++)
        for (size_t i = 0; i < no; i++) {
            float ref = out[(size_t)c * no + i], v = fp_f16_to_f32_host(h16[i * nc + c]);
            /* RNE: within half an ulp (2^-11 relative), subnormal spacing 2^-24 */
            if (!(fabsf(v - ref) <= fabsf(ref) * (1.0f / 2048.0f) + 3e-8f))
                bad16++;
        }
    CHECK_MSG(bad16 == 0, "%s -> %dx%d %s fp16 NHWC: %d values off fp32", fp_pixfmt_name(f), dw, dh, MODE[mode], bad16);
    free(h16);
    free(buf);
    free(full);
    cu_frame_free(&fr);
}

/* Bilinear upscale vs swscale SWS_BILINEAR, GBRP -> GBRP (no colour conversion on either side). */
static void check_vs_sws(int W, int H, int dw, int dh)
{
    cu_frame *fr = cu_frame_alloc(FP_PIX_GBRP, W, H, 0);
    cu_frame_fill(fr, 1, 1);
    cu_frame *sf = cu_frame_alloc(FP_PIX_GBRP, dw, dh, 0);
    size_t no = (size_t)dw * dh;
    float *out = malloc(no * 3 * sizeof(float));
    fp_planar d = {out, FP_LAYOUT_NCHW, FP_DTYPE_F32, 3, dw, dh, 0, 0};
    fp_preprocess p;
    fp_preprocess_init(&p);
    fp_err e = {0};
    CHECK(fp_preprocess_cpu(&fr->img, &p, &d, &e) == 0);
    fp_colorspace cs = {FP_MATRIX_BT709, 1};
    struct SwsContext *c = cu_sws(FP_PIX_GBRP, W, H, AV_PIX_FMT_GBRP, dw, dh,
                                  SWS_BILINEAR | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT | SWS_BITEXACT, cs);
    CHECK(c != NULL);
    if (c) {
        sws_scale(c, (const uint8_t *const *)fr->img.data, fr->img.linesize, 0, H, sf->img.data, sf->img.linesize);
        sws_freeContext(c);
        double mx = 0, mean = 0;
        static const int plane_of[3] = {2, 0, 1};
        for (int ch = 0; ch < 3; ch++)
            for (int y = 0; y < dh; y++)
                for (int x = 0; x < dw; x++) {
                    double dd = fabs(out[ch * no + (size_t)y * dw + x] * 255.0 - cu_get(&sf->img, plane_of[ch], x, y));
                    mx = fmax(mx, dd);
                    mean += dd;
                }
        mean /= 3.0 * no;
        CHECK_MSG(mx <= 2.0 && mean <= 0.5, "bilinear %dx%d -> %dx%d vs swscale: max %.3f/255 mean %.3f/255", W, H, dw,
                  dh, mx, mean);
    }
    free(out);
    cu_frame_free(&fr);
    cu_frame_free(&sf);
}

/* The tap arithmetic alone, at sizes no frame test reaches: the 64-bit fallback of fp_udiv
 * (products >= 2^31) must agree with the 32-bit path and with the rational definition. */
static void check_taps(void)
{
    static const int dims[][2] = {{3, 7}, {1919, 320}, {70001, 100000}, {100000, 70001}, {65535, 3}, {2, 65535}};
    int bad = 0;
    for (int k = 0; k < 6; k++) {
        int n_in = dims[k][0], n_out = dims[k][1];
        for (int j = 0; j < 64; j++) {
            int o = j < 32 ? j : n_out - 1 - (j - 32);
            if (o < 0 || o >= n_out)
                continue;
            fp_tap b = fp_axis_tap(FP_RESIZE_BILINEAR, o, n_in, n_out);
            double s = fmin(fmax((o + 0.5) * n_in / n_out - 0.5, 0), n_in - 1);
            bad += b.i0 != (int)floor(s) || fabs(b.i0 + b.w - s) > 1e-6 * (1 + s) ||
                   (b.w > 0 ? b.i1 != b.i0 + 1 : (b.i1 != b.i0 && b.i1 != b.i0 + 1)) || b.i1 >= n_in;
            fp_tap nn = fp_axis_tap(FP_RESIZE_NEAREST, o, n_in, n_out);
            int want = (int)floor((o + 0.5) * n_in / n_out);
            bad += nn.i0 != (want < n_in ? want : n_in - 1);
            fp_tap ar = fp_axis_tap(FP_RESIZE_AREA, o, n_in, n_out);
            bad += ar.i0 != (int)floor((double)o * n_in / n_out) || ar.i1 != (int)ceil((double)(o + 1) * n_in / n_out) - 1;
        }
    }
    CHECK_EQ_INT(bad, 0);
}

int main(int argc, char **argv)
{
    uint64_t seed = 77;
    printf("test_color_resize: seed %llu\n", (unsigned long long)seed);
    cu_seed(seed);
    if (argc > 1 && !strcmp(argv[1], "large")) {
        /* a 1919x1079 frame (odd, like a badly encoded 1080p) down to model size; ctest label
         * "slow" (minutes under ASan) */
        check_resize(FP_PIX_NV12, 1919, 1079, (fp_rect){0, 0, 0, 0}, 320, 180, FP_RESIZE_AREA, 3);
        check_resize(FP_PIX_NV12, 1919, 1079, (fp_rect){1, 1, 1917, 1077}, 311, 173, FP_RESIZE_BILINEAR, 3);
        return fp_test_finish("test_color_resize large");
    }

    check_taps();
    check_vs_sws(64, 48, 150, 101);
    check_vs_sws(33, 17, 129, 67);
    check_vs_sws(20, 16, 61, 47);

    static const struct { int W, H, dw, dh; } sz[] = {
        {1, 1, 1, 1}, {1, 1, 3, 7}, {3, 3, 1, 1}, {7, 5, 3, 3}, {7, 5, 129, 67}, {129, 67, 7, 3},
        {129, 67, 64, 33}, {64, 48, 64, 48}, {33, 17, 100, 9}, {130, 66, 43, 29}};
    static const fp_pixfmt fmts[] = {FP_PIX_NV12, FP_PIX_YUV420P10, FP_PIX_YUVA420P, FP_PIX_YUV444P, FP_PIX_RGBA,
                                     FP_PIX_P010, FP_PIX_YUV422P};
    for (size_t i = 0; i < sizeof(sz) / sizeof(sz[0]); i++)
        for (int mode = 0; mode < 3; mode++)
            for (size_t f = 0; f < sizeof(fmts) / sizeof(fmts[0]); f++)
                check_resize(fmts[f], sz[i].W, sz[i].H, (fp_rect){0, 0, 0, 0}, sz[i].dw, sz[i].dh, mode, (f & 1) ? 4 : 3);
    /* odd crops: offsets and sizes not multiples of the chroma subsampling */
    static const fp_rect crops[] = {{1, 1, 5, 3}, {3, 2, 1, 1}, {17, 9, 99, 41}, {0, 0, 129, 67}, {128, 66, 1, 1}};
    for (size_t i = 0; i < sizeof(crops) / sizeof(crops[0]); i++)
        for (int mode = 0; mode < 3; mode++) {
            check_resize(FP_PIX_NV12, 129, 67, crops[i], 13, 7, mode, 3);
            check_resize(FP_PIX_YUV420P10, 129, 67, crops[i], crops[i].w * 2 + 1, crops[i].h + 2, mode, 4);
        }
    /* the same odd shape, smaller, for the sanitizer pass */
    check_resize(FP_PIX_NV12, 319, 179, (fp_rect){0, 0, 0, 0}, 64, 36, FP_RESIZE_AREA, 3);
    check_resize(FP_PIX_P010, 319, 179, (fp_rect){1, 1, 317, 177}, 61, 37, FP_RESIZE_BILINEAR, 4);
    return fp_test_finish("test_color_resize");
}
