/*
 * test_color_rowpath — the CPU row path (default) against the per-pixel reference loops
 * (fp_color_cpu_use_reference(1), the code the CUDA kernels run): the output must be the same
 * bytes. Random frames (full-range noise, so out-of-gamut values hit the clamps) of every format,
 * awkward sizes, pitched planes, random crops at odd offsets, every resize mode up and down,
 * NCHW/NHWC, fp32/fp16, 3/4 channels, random mean/std, 1 and 3 threads; postprocess from random
 * tensors with out-of-range values and NaN into every format, alpha in-tensor or separate, every
 * compose mode.
 * Guard bytes around every output. Also times nothing: bench/color/bench_color_cpu does that.
 */
#include "color_util.h"
#include "fp_test.h"

#include "gpu/fp_color_priv.h"

static const fp_pixfmt ALL[] = {FP_PIX_YUV420P, FP_PIX_YUV420P10, FP_PIX_YUV422P, FP_PIX_YUV422P10,
                                FP_PIX_YUV444P, FP_PIX_YUV444P10, FP_PIX_NV12, FP_PIX_P010,
                                FP_PIX_YUVA420P, FP_PIX_YUVA444P10, FP_PIX_GBRP, FP_PIX_GBRAP,
                                FP_PIX_GBRP10, FP_PIX_GBRAP10, FP_PIX_RGB24, FP_PIX_RGBA,
                                FP_PIX_YUV444P16};
#define NFMT (int)(sizeof(ALL) / sizeof(ALL[0]))
#define GUARD 64

static int rnd(int lo, int hi) { return lo + (int)(cu_rand() % (uint32_t)(hi - lo + 1)); }

/* Buffer with GUARD 0xA5 bytes on both sides; the payload pre-filled with `fill`. */
static uint8_t *gbuf(size_t n, int fill)
{
    uint8_t *b = malloc(n + 2 * GUARD);
    memset(b, 0xA5, n + 2 * GUARD);
    memset(b + GUARD, fill, n);
    return b;
}

static int pre_case(int *nsame)
{
    fp_pixfmt f = ALL[rnd(0, NFMT - 1)];
    static const int sizes[] = {1, 2, 3, 7, 16, 33, 129, 130};
    int w = sizes[rnd(0, 7)], h = sizes[rnd(0, 7)];
    cu_frame *fr = cu_frame_alloc(f, w, h, rnd(0, 3) ? 0 : rnd(1, 77));
    cu_frame_fill(fr, 1, rnd(0, 1));
    fp_preprocess p;
    fp_preprocess_init(&p);
    p.cs.matrix = (fp_matrix)rnd(0, 2);
    p.cs.full_range = rnd(0, 1);
    p.resize = (fp_resize_mode)rnd(0, 2);
    if (rnd(0, 1)) {
        p.crop.w = rnd(1, w);
        p.crop.h = rnd(1, h);
        p.crop.x = rnd(0, w - p.crop.w);
        p.crop.y = rnd(0, h - p.crop.h);
    }
    int cw = p.crop.w ? p.crop.w : w, ch = p.crop.h ? p.crop.h : h;
    int dw = rnd(0, 2) ? rnd(1, 2 * cw + 3) : cw, dh = rnd(0, 2) ? rnd(1, 2 * ch + 3) : ch;
    for (int c = 0; c < 3 && rnd(0, 1); c++) {
        p.mean[c] = cu_randf();
        p.std[c] = 0.1f + cu_randf();
    }
    fp_planar d = {NULL, (fp_layout)rnd(0, 1), (fp_sample_type)rnd(0, 1), rnd(3, 4), dw, dh, rnd(0, 1), 0};
    size_t slot = (size_t)d.channels * dw * dh * (d.dtype == FP_DTYPE_F16 ? 2 : 4), n = slot * (d.n + 1);
    uint8_t *ref = gbuf(n, 0x5A), *row = gbuf(n, 0x5A);
    fp_err e = {0};
    int threads = rnd(0, 1) ? 1 : 3, ok = 1;
    fp_color_cpu_set_threads(threads);
    fp_color_cpu_use_reference(1);
    d.data = ref + GUARD;
    int r1 = fp_preprocess_cpu(&fr->img, &p, &d, &e);
    fp_color_cpu_use_reference(0);
    d.data = row + GUARD;
    int r2 = fp_preprocess_cpu(&fr->img, &p, &d, &e);
    if (r1 != 0 || r2 != 0 || memcmp(ref, row, n + 2 * GUARD)) {
        ok = 0;
        size_t i = 0;
        while (i < n + 2 * GUARD && ref[i] == row[i])
            i++;
        fprintf(stderr, "pre %s %dx%d crop %dx%d+%d+%d -> %dx%d mode %d layout %d dtype %d c %d n %d threads %d: "
                "ret %d/%d, first differing byte %zd\n", fp_pixfmt_name(f), w, h, p.crop.w, p.crop.h, p.crop.x,
                p.crop.y, dw, dh, p.resize, d.layout, d.dtype, d.channels, d.n, threads, r1, r2,
                (ssize_t)i - GUARD);
    }
    *nsame += ok;
    free(ref);
    free(row);
    cu_frame_free(&fr);
    fp_color_cpu_set_threads(1);
    return ok;
}

static void fill_tensor(uint8_t *t, fp_sample_type dt, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        float v = cu_randf() * 1.2f - 0.1f;
        if (cu_rand() % 97 == 0)
            v = NAN;
        if (dt == FP_DTYPE_F32)
            ((float *)t)[i] = v;
        else
            ((uint16_t *)t)[i] = fp_f32_to_f16_host(v);
    }
}

static int post_case(int *nsame)
{
    fp_pixfmt f = ALL[rnd(0, NFMT - 2)]; /* the last, yuv444p16le, is a source-only format */
    static const int sizes[] = {1, 2, 3, 7, 16, 33, 129, 130};
    int w = sizes[rnd(0, 7)], h = sizes[rnd(0, 7)], pad = rnd(0, 1) ? 0 : rnd(1, 40);
    fp_planar rgb = {NULL, (fp_layout)rnd(0, 1), (fp_sample_type)rnd(0, 1), rnd(3, 4), w, h, rnd(0, 1), 0};
    fp_planar al = {NULL, (fp_layout)rnd(0, 1), (fp_sample_type)rnd(0, 1), 1, w, h, 0, 0};
    int sep = rnd(0, 2) == 0;
    size_t esz = rgb.dtype == FP_DTYPE_F16 ? 2 : 4, cnt = (size_t)rgb.channels * w * h * (rgb.n + 1);
    uint8_t *rt = malloc(cnt * esz), *at = malloc((size_t)w * h * 4);
    fill_tensor(rt, rgb.dtype, cnt);
    fill_tensor(at, al.dtype, (size_t)w * h);
    rgb.data = rt;
    al.data = at;
    fp_colorspace cs = {(fp_matrix)rnd(0, 2), rnd(0, 1)};
    /* compose: none, flat colour (out of range too), background image (NaN too), premultiply */
    fp_planar bgt = {NULL, (fp_layout)rnd(0, 1), (fp_sample_type)rnd(0, 1), rnd(3, 4), w, h, 0, 0};
    size_t bcnt = (size_t)bgt.channels * w * h;
    uint8_t *bt = malloc(bcnt * 4);
    fill_tensor(bt, bgt.dtype, bcnt);
    bgt.data = bt;
    fp_compose comp = {(fp_compose_mode)rnd(0, 3), {cu_randf() * 1.4f - 0.2f, cu_randf(), cu_randf()}, &bgt};
    cu_frame *a = cu_frame_alloc(f, w, h, pad), *b = cu_frame_alloc(f, w, h, pad);
    fp_err e = {0};
    int threads = rnd(0, 1) ? 1 : 3, ok = 1;
    fp_color_cpu_set_threads(threads);
    fp_color_cpu_use_reference(1);
    int r1 = fp_postprocess_compose_cpu(&rgb, sep ? &al : NULL, &comp, &a->img, &cs, &e);
    fp_color_cpu_use_reference(0);
    int r2 = fp_postprocess_compose_cpu(&rgb, sep ? &al : NULL, &comp, &b->img, &cs, &e);
    ok = r1 == 0 && r2 == 0 && cu_frame_guards_ok(b);
    for (int i = 0; i < 4; i++)
        if (a->buf[i] && memcmp(a->buf[i], b->buf[i], a->size[i] + 2 * CU_GUARD))
            ok = 0;
    if (!ok)
        fprintf(stderr, "post %s %dx%d pad %d layout %d dtype %d c %d n %d sep %d compose %d threads %d: ret %d/%d"
                " differ\n", fp_pixfmt_name(f), w, h, pad, rgb.layout, rgb.dtype, rgb.channels, rgb.n, sep,
                comp.mode, threads, r1, r2);
    *nsame += ok;
    free(rt);
    free(at);
    free(bt);
    cu_frame_free(&a);
    cu_frame_free(&b);
    fp_color_cpu_set_threads(1);
    return ok;
}

int main(int argc, char **argv)
{
    uint64_t seed = argc > 1 ? strtoull(argv[1], NULL, 10) : 20261122;
    int cases = argc > 2 ? atoi(argv[2]) : 600, same_pre = 0, same_post = 0;
    printf("test_color_rowpath: seed %llu, %d cases each\n", (unsigned long long)seed, cases);
    cu_seed(seed);
    for (int i = 0; i < cases; i++)
        CHECK(pre_case(&same_pre));
    for (int i = 0; i < cases; i++)
        CHECK(post_case(&same_post));
    printf("preprocess: %d/%d bit-identical; postprocess: %d/%d\n", same_pre, cases, same_post, cases);
    return fp_test_finish("test_color_rowpath");
}
