/*
 * test_color_cuda — the CUDA twins (fp_color_cuda.cu) against the CPU reference (fp_color_cpu.c),
 * checkasm/test-backend-ops style: random frames (fixed seed, printed) over awkward sizes (1, 3, 7,
 * 129, odd, 1080p) and pitched planes (NVDEC-like linesizes, separate plane allocations), every
 * source/destination format, modes, layouts, precisions, crops, batches, postprocess compositing
 * (colour, background image, premultiplied). The CPU side is the default row path, itself checked
 * bit-identical to the per-pixel code in tests/color/test_color_rowpath. Device buffers carry guard
 * bytes on both sides; a guard overwritten is a failure. NaN never passes a comparison.
 *
 * Tolerances. Both twins run the same per-pixel code (fp_color_core.h) built without FP
 * contraction, so the expected difference is 0 and the test counts bit-identical values. Allowed:
 * fp32 |gpu - cpu| <= 1e-6 (a real defect — tap, siting, coefficient — is >= 1e-3; 1e-6 only
 * tolerates a stray rounding difference), fp16 <= 1 fp16 ulp of the value (one RNE step),
 * postprocess codes: exact.
 *
 * Exits 77 (ctest: skipped) when no CUDA device is present; prints "N passed, N failed, N skipped".
 */
#include "color_util.h"
#include "fp_test.h"
#include "gpu/fp_color_priv.h" /* host fp16 conversion, fp_color_cuda_force_generic */

#include <cuda_runtime_api.h>

#define CK(x)                                                                               \
    do {                                                                                    \
        cudaError_t err_ = (x);                                                             \
        if (err_ != cudaSuccess) {                                                          \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(err_)); \
            exit(1);                                                                        \
        }                                                                                   \
    } while (0)

/* A device buffer with CU_GUARD guard bytes each side. */
typedef struct dbuf {
    uint8_t *base;
    size_t size;
} dbuf;

static void *dbuf_alloc(dbuf *b, size_t size)
{
    b->size = size;
    CK(cudaMalloc((void **)&b->base, size + 2 * CU_GUARD));
    CK(cudaMemset(b->base, CU_GUARD_BYTE, size + 2 * CU_GUARD));
    return b->base + CU_GUARD;
}

static int dbuf_guards_ok(const dbuf *b)
{
    uint8_t g[2 * CU_GUARD];
    CK(cudaMemcpy(g, b->base, CU_GUARD, cudaMemcpyDeviceToHost));
    CK(cudaMemcpy(g + CU_GUARD, b->base + CU_GUARD + b->size, CU_GUARD, cudaMemcpyDeviceToHost));
    for (int i = 0; i < 2 * CU_GUARD; i++)
        if (g[i] != CU_GUARD_BYTE)
            return 0;
    return 1;
}

static void dbuf_free(dbuf *b)
{
    if (b->base)
        cudaFree(b->base);
    b->base = NULL;
}

/* Device copy of a host frame, same linesizes, each plane its own guarded allocation. */
typedef struct dframe {
    fp_image img;
    dbuf plane[4];
} dframe;

static void dframe_from(dframe *d, const cu_frame *h)
{
    memset(d, 0, sizeof(*d));
    d->img = h->img;
    d->img.on_device = 1;
    for (int i = 0; i < 4; i++) {
        if (!h->buf[i])
            continue;
        d->img.data[i] = dbuf_alloc(&d->plane[i], h->size[i]);
        CK(cudaMemcpy(d->img.data[i], h->img.data[i], h->size[i], cudaMemcpyHostToDevice));
    }
}

static int dframe_guards_ok(const dframe *d)
{
    int ok = 1;
    for (int i = 0; i < 4; i++)
        if (d->plane[i].base)
            ok &= dbuf_guards_ok(&d->plane[i]);
    return ok;
}

static void dframe_free(dframe *d)
{
    for (int i = 0; i < 4; i++)
        dbuf_free(&d->plane[i]);
}

static const fp_pixfmt ALL[] = {FP_PIX_YUV420P, FP_PIX_YUV420P10, FP_PIX_YUV422P, FP_PIX_YUV422P10,
                                FP_PIX_YUV444P, FP_PIX_YUV444P10, FP_PIX_NV12, FP_PIX_P010,
                                FP_PIX_YUVA420P, FP_PIX_YUVA444P10, FP_PIX_GBRP, FP_PIX_GBRAP,
                                FP_PIX_GBRP10, FP_PIX_GBRAP10, FP_PIX_RGB24, FP_PIX_RGBA,
                                FP_PIX_YUV444P16};
#define N(a) (int)(sizeof(a) / sizeof((a)[0]))

static long long n_values, n_exact;
static cudaStream_t g_stream; /* NULL, or a non-blocking stream for the batch cases */

/* Compares a slot of `nel` values; returns the number outside tolerance. */
static int compare_tensor(const void *cpu, const void *gpu, size_t nel, int dtype, double *worst)
{
    int bad = 0;
    for (size_t i = 0; i < nel; i++) {
        double a, b, tol;
        if (dtype == FP_DTYPE_F32) {
            a = ((const float *)cpu)[i];
            b = ((const float *)gpu)[i];
            tol = 1e-6;
            n_exact += !memcmp((const float *)cpu + i, (const float *)gpu + i, 4);
        } else {
            uint16_t ha = ((const uint16_t *)cpu)[i], hb = ((const uint16_t *)gpu)[i];
            a = fp_f16_to_f32_host(ha);
            b = fp_f16_to_f32_host(hb);
            int e = (ha >> 10) & 0x1f;
            tol = ldexp(1.0, (e ? e : 1) - 15 - 10); /* one ulp at this exponent */
            n_exact += ha == hb;
        }
        n_values++;
        double d = fabs(a - b);
        if (!(d <= tol)) { /* NaN fails */
            if (bad < 3)
                fprintf(stderr, "  value %zu: cpu %.9g gpu %.9g\n", i, a, b);
            bad++;
        }
        if (d > *worst || d != d)
            *worst = d;
    }
    return bad;
}

typedef struct pre_case {
    fp_pixfmt fmt;
    int w, h, pad;
    fp_rect crop;
    int dw, dh, mode, nc;
    fp_layout layout;
    fp_sample_type dtype;
    fp_colorspace cs;
    int batch; /* frames in one batched call (1 = fp_preprocess_cuda) */
} pre_case;

static void run_pre(const pre_case *c)
{
    int nb = c->batch < 1 ? 1 : c->batch, slots = nb + 2; /* slot 0 and the last stay untouched */
    size_t esz = c->dtype == FP_DTYPE_F16 ? 2 : 4, slot = (size_t)c->nc * c->dw * c->dh * esz;
    uint8_t *cpu = malloc(slot * slots), *gpu = malloc(slot * slots);
    memset(cpu, 0x7F, slot * slots);
    cu_frame *hf[FP_COLOR_MAX_BATCH + 4];
    fp_image df_img[FP_COLOR_MAX_BATCH + 4];
    dframe df[FP_COLOR_MAX_BATCH + 4];
    fp_preprocess p;
    fp_preprocess_init(&p);
    p.cs = c->cs;
    p.crop = c->crop;
    p.resize = (fp_resize_mode)c->mode;
    p.mean[0] = 0.485f, p.mean[1] = 0.456f, p.mean[2] = 0.406f;
    p.std[0] = 0.229f, p.std[1] = 0.224f, p.std[2] = 0.225f;
    fp_err e = {0};
    for (int k = 0; k < nb; k++) {
        hf[k] = cu_frame_alloc(c->fmt, c->w, c->h, c->pad);
        cu_frame_fill(hf[k], c->cs.full_range, k & 1);
        dframe_from(&df[k], hf[k]);
        df_img[k] = df[k].img;
        fp_planar hd = {cpu, c->layout, c->dtype, c->nc, c->dw, c->dh, 1 + k, 0};
        int ret = fp_preprocess_cpu(&hf[k]->img, &p, &hd, &e);
        CHECK_MSG(ret == 0, "cpu: %s", e.msg);
    }
    dbuf out;
    uint8_t *dout = dbuf_alloc(&out, slot * slots);
    CK(cudaMemset(dout, 0x7F, slot * slots));
    fp_planar dd = {dout, c->layout, c->dtype, c->nc, c->dw, c->dh, 1, 1};
    int ret = c->batch ? fp_preprocess_cuda_batch(df_img, nb, &p, &dd, g_stream, &e)
                       : fp_preprocess_cuda(&df_img[0], &p, &dd, g_stream, &e);
    CHECK_MSG(ret == 0, "cuda: %s", e.msg);
    CK(cudaDeviceSynchronize());
    CK(cudaMemcpy(gpu, dout, slot * slots, cudaMemcpyDeviceToHost));
    CHECK_MSG(dbuf_guards_ok(&out), "output guard bytes overwritten");
    int untouched = 1;
    for (size_t i = 0; i < slot; i++)
        untouched &= gpu[i] == 0x7F && gpu[slot * (slots - 1) + i] == 0x7F;
    CHECK_MSG(untouched, "slots outside the batch written");
    double worst = 0;
    int bad = compare_tensor(cpu + slot, gpu + slot, slot * nb / esz, c->dtype, &worst);
    CHECK_MSG(bad == 0, "pre %s %dx%d pad %d crop %dx%d+%d+%d -> %dx%d mode %d c%d %s %s batch %d: %d bad, worst %g",
              fp_pixfmt_name(c->fmt), c->w, c->h, c->pad, c->crop.w, c->crop.h, c->crop.x, c->crop.y, c->dw, c->dh,
              c->mode, c->nc, c->layout ? "nhwc" : "nchw", c->dtype ? "f16" : "f32", nb, bad, worst);
    for (int k = 0; k < nb; k++) {
        CHECK(dframe_guards_ok(&df[k]));
        dframe_free(&df[k]);
        cu_frame_free(&hf[k]);
    }
    dbuf_free(&out);
    free(cpu);
    free(gpu);
}

/* compose: FP_COMPOSE_* (IMAGE: a 3-channel background of layout `lay` with a NaN; COLOR: a colour
 * partly out of range). */
static void run_post(fp_pixfmt f, int w, int h, int nc, int sep_alpha, fp_colorspace cs, fp_sample_type dt, fp_layout lay,
                     int pad, int compose)
{
    size_t np = (size_t)w * h, esz = dt == FP_DTYPE_F16 ? 2 : 4;
    size_t rbytes = np * nc * esz, abytes = np * esz;
    uint8_t *rgb = malloc(rbytes), *al = malloc(abytes);
    for (size_t i = 0; i < np * nc; i++) {
        float v = cu_randf() * 1.2f - 0.1f;
        if (i == 5)
            v = NAN;
        if (dt == FP_DTYPE_F32)
            ((float *)rgb)[i] = v;
        else
            ((uint16_t *)rgb)[i] = fp_f32_to_f16_host(v);
    }
    for (size_t i = 0; i < np; i++) {
        float v = cu_randf();
        if (dt == FP_DTYPE_F32)
            ((float *)al)[i] = v;
        else
            ((uint16_t *)al)[i] = fp_f32_to_f16_host(v);
    }
    size_t bbytes = np * 3 * esz;
    uint8_t *bgh = malloc(bbytes);
    for (size_t i = 0; i < np * 3; i++) {
        float v = i == 7 ? NAN : cu_randf() * 1.2f - 0.1f;
        if (dt == FP_DTYPE_F32)
            ((float *)bgh)[i] = v;
        else
            ((uint16_t *)bgh)[i] = fp_f32_to_f16_host(v);
    }
    fp_planar ht = {rgb, lay, dt, nc, w, h, 0, 0}, ha = {al, FP_LAYOUT_NCHW, dt, 1, w, h, 0, 0};
    fp_planar hb = {bgh, lay, dt, 3, w, h, 0, 0};
    fp_compose comp = {(fp_compose_mode)compose, {0.2f, 1.5f, -0.25f}, &hb};
    cu_frame *hf = cu_frame_alloc(f, w, h, pad), *back = cu_frame_alloc(f, w, h, pad);
    fp_err e = {0};
    CHECK_MSG(fp_postprocess_compose_cpu(&ht, sep_alpha ? &ha : NULL, &comp, &hf->img, &cs, &e) == 0, "cpu: %s", e.msg);

    dbuf drgb, dal, dbg;
    void *dr = dbuf_alloc(&drgb, rbytes), *da = dbuf_alloc(&dal, abytes), *db = dbuf_alloc(&dbg, bbytes);
    CK(cudaMemcpy(db, bgh, bbytes, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dr, rgb, rbytes, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(da, al, abytes, cudaMemcpyHostToDevice));
    dframe df;
    dframe_from(&df, back); /* zeroed planes, same pitch */
    fp_planar dt_ = {dr, lay, dt, nc, w, h, 0, 1}, da_ = {da, FP_LAYOUT_NCHW, dt, 1, w, h, 0, 1};
    fp_planar db_ = {db, lay, dt, 3, w, h, 0, 1};
    fp_compose dcomp = comp;
    dcomp.background = &db_;
    int ret = compose ? fp_postprocess_compose_cuda(&dt_, sep_alpha ? &da_ : NULL, &dcomp, &df.img, &cs, NULL, &e)
                      : fp_postprocess_cuda(&dt_, sep_alpha ? &da_ : NULL, &df.img, &cs, NULL, &e);
    CHECK_MSG(ret == 0, "cuda: %s", e.msg);
    CK(cudaDeviceSynchronize());
    CHECK(dframe_guards_ok(&df));
    int bad = 0;
    for (int i = 0; i < 4; i++) {
        if (!back->buf[i])
            continue;
        CK(cudaMemcpy(back->img.data[i], df.img.data[i], back->size[i], cudaMemcpyDeviceToHost));
        /* compare only the bytes of each row that belong to the image (padding is not written) */
        int rb, rows;
        cu_plane_geom(f, w, h, i, &rb, &rows);
        for (int y = 0; y < rows; y++)
            bad += memcmp(back->img.data[i] + (size_t)y * back->img.linesize[i],
                          hf->img.data[i] + (size_t)y * hf->img.linesize[i], rb) != 0;
    }
    CHECK_MSG(bad == 0, "post %s %dx%d c%d%s %s %s compose %d: %d rows differ", fp_pixfmt_name(f), w, h, nc,
              sep_alpha ? "+alpha" : "", dt ? "f16" : "f32", lay ? "nhwc" : "nchw", compose, bad);
    CHECK(dbuf_guards_ok(&dbg));
    dframe_free(&df);
    dbuf_free(&dbg);
    dbuf_free(&drgb);
    dbuf_free(&dal);
    cu_frame_free(&hf);
    cu_frame_free(&back);
    free(rgb);
    free(al);
}

/* Every preprocess case; only_nv: just NV12/P010 sources (all of the large and batch cases are). */
static void run_all_pre(int only_nv)
{
    static const int sizes[][3] = {{1, 1, 0}, {3, 3, 0}, {7, 5, 1}, {129, 67, 0}, {33, 17, 61}, {130, 66, 256}};
    static const int dsz[][2] = {{1, 1}, {3, 7}, {129, 65}, {64, 48}};
    /* every format x size x a rotating configuration */
    int k = 0;
    for (int i = 0; i < N(ALL); i++) {
        if (only_nv && !cu_is_nv(ALL[i]))
            continue;
        for (int s = 0; s < N(sizes); s++)
            for (int j = 0; j < 4; j++, k++) {
                pre_case c = {0};
                c.fmt = ALL[i];
                c.w = sizes[s][0];
                c.h = sizes[s][1];
                c.pad = sizes[s][2];
                c.mode = k % 3;
                c.nc = 3 + (k / 3) % 2;
                c.layout = (fp_layout)((k / 2) % 2);
                c.dtype = (fp_sample_type)(k % 2);
                c.cs = (fp_colorspace){(fp_matrix)(k % 3), (k / 3) % 2};
                c.dw = j == 0 ? c.w : dsz[j][0];
                c.dh = j == 0 ? c.h : dsz[j][1];
                if (j == 2 && c.w > 4 && c.h > 4)
                    c.crop = (fp_rect){1, 1, c.w - 3, c.h - 2}; /* odd offsets */
                run_pre(&c);
            }
    }
    /* NVDEC-like 1080p NV12 and P010 with 256-byte-aligned pitch, model-size and full-size outputs */
    {
        pre_case c = {FP_PIX_NV12, 1920, 1080, 256 - (1920 % 256), {0}, 512, 288, FP_RESIZE_BILINEAR, 3,
                      FP_LAYOUT_NCHW, FP_DTYPE_F16, {FP_MATRIX_BT709, 0}, 0};
        run_pre(&c);
        c.mode = FP_RESIZE_AREA;
        run_pre(&c);
        c.fmt = FP_PIX_P010;
        c.cs = (fp_colorspace){FP_MATRIX_BT2020, 0};
        c.dw = 1920, c.dh = 1080, c.mode = FP_RESIZE_BILINEAR, c.dtype = FP_DTYPE_F32;
        run_pre(&c);
        c.fmt = FP_PIX_NV12;
        c.w = 1919, c.h = 1079, c.pad = 129, c.dw = 320, c.dh = 180, c.mode = FP_RESIZE_AREA;
        run_pre(&c);
    }
    /* batches: 1, 3, 16 and 19 (two launches) frames, on a non-blocking stream */
    CK(cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking));
    static const int batches[] = {1, 3, 16, 19};
    for (int b = 0; b < N(batches); b++) {
        pre_case c = {FP_PIX_NV12, 67, 35, 13, {2, 1, 61, 33}, 31, 17, b % 3, 3, (fp_layout)(b & 1),
                      (fp_sample_type)(b >> 1 & 1), {FP_MATRIX_BT601, 1}, batches[b]};
        run_pre(&c);
        c.fmt = FP_PIX_P010;
        run_pre(&c);
    }
    CK(cudaStreamDestroy(g_stream));
    g_stream = NULL;
}

int main(void)
{
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
        printf("test_color_cuda: 0 passed, 0 failed, 1 skipped (no CUDA device)\n");
        return 77;
    }
    fp_color_cpu_set_threads(8); /* the reference is deterministic for any thread count */
    uint64_t seed = 0xC0105EEDull;
    printf("test_color_cuda: seed %llu\n", (unsigned long long)seed);
    cu_seed(seed);

    run_all_pre(0);
    /* the generic kernel too, for the formats that have a specialised one */
    fp_color_cuda_force_generic(1);
    run_all_pre(1);
    fp_color_cuda_force_generic(0);
    /* postprocess: every format, sizes, alpha sources, precisions, layouts */
    static const int psz[][3] = {{1, 1, 0}, {3, 3, 0}, {7, 5, 3}, {129, 67, 64}, {64, 48, 0}};
    int k = 0;
    for (int i = 0; i < N(ALL) - 1; i++) /* the last, yuv444p16le, is a source-only format */
        for (int s = 0; s < N(psz); s++, k++) {
            fp_colorspace cs = {(fp_matrix)(k % 3), (k / 3) % 2};
            run_post(ALL[i], psz[s][0], psz[s][1], 3 + k % 2, (k / 2) % 2, cs, (fp_sample_type)(k % 2),
                     (fp_layout)((k / 4) % 2), psz[s][2], (k / 8) % 4);
        }
    run_post(FP_PIX_YUVA420P, 1920, 1080, 4, 0, (fp_colorspace){FP_MATRIX_BT709, 0}, FP_DTYPE_F16, FP_LAYOUT_NCHW, 0, 0);
    run_post(FP_PIX_P010, 1919, 1079, 3, 0, (fp_colorspace){FP_MATRIX_BT2020, 0}, FP_DTYPE_F32, FP_LAYOUT_NHWC, 130, 0);
    /* compose at full size: over an image, premultiplied, over a colour */
    run_post(FP_PIX_NV12, 1920, 1080, 3, 1, (fp_colorspace){FP_MATRIX_BT709, 0}, FP_DTYPE_F16, FP_LAYOUT_NCHW, 0, 2);
    run_post(FP_PIX_YUVA444P10, 1919, 1079, 4, 0, (fp_colorspace){FP_MATRIX_BT709, 1}, FP_DTYPE_F32, FP_LAYOUT_NHWC, 61, 3);
    run_post(FP_PIX_YUV420P, 1919, 1079, 3, 1, (fp_colorspace){FP_MATRIX_BT601, 0}, FP_DTYPE_F32, FP_LAYOUT_NCHW, 0, 1);

    /* host memory handed to the CUDA twin is refused before any launch */
    {
        cu_frame *hf = cu_frame_alloc(FP_PIX_NV12, 8, 8, 0);
        float out[8 * 8 * 3];
        fp_planar d = {out, FP_LAYOUT_NCHW, FP_DTYPE_F32, 3, 8, 8, 0, 1};
        fp_preprocess p;
        fp_preprocess_init(&p);
        fp_err e = {0};
        CHECK(fp_preprocess_cuda(&hf->img, &p, &d, NULL, &e) == FP_EINVAL && strstr(e.msg, "host memory"));
        cu_frame_free(&hf);
    }
    printf("test_color_cuda: %lld of %lld compared tensor values bit-identical\n", n_exact, n_values);
    printf("test_color_cuda: %d passed, %d failed, %d skipped\n", fp_test_passed, fp_test_failed, fp_test_skipped);
    return fp_test_failed ? 1 : 0;
}
