/*
 * test_matte — the matte core (tasks/matte.h) against the small RVM reference model's PyTorch float64
 * outputs: frame 0 from the zero state, frame 1 with the state carried from frame 0, and frame 0 again
 * after a reset. Also the automatic downsample_ratio rule and the refusals (missing, malformed, wrong
 * interface) that must all be FP_EMODEL with one line naming the model.
 *
 * Usage: test_matte MODELS_DIR TMPDIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fp_test.h"
#include "nn/nn_npy.h"
#include "tasks/matte.h"
#include "tasks/matte_bg.h"
#include "tasks/matte_chunks.h"

static const char *mdir;

static int load_npy(const char *name, nn_tensor *t)
{
    char p[1024];
    fp_err e;
    fp_err_clear(&e);
    snprintf(p, sizeof(p), "%s/rvm_mobilenetv3/%s.npy", mdir, name);
    if (nn_npy_read(p, t, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return -1;
    }
    return 0;
}

/* Max |a - ref| over n values, NaN counts as infinite. */
static double max_err(const float *a, const nn_tensor *ref, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs(a[i] - nn_tensor_get_f64(ref, i));
        if (!(d <= m))
            m = isnan(d) ? INFINITY : d;
    }
    return m;
}

static void reference_steps(const char *model, double tol, int want_fp16)
{
    nn_tensor src[2] = { 0 }, fgr[2] = { 0 }, pha[2] = { 0 }, ratio = { 0 };
    fp_matte_opts o;
    fp_matte *m = NULL;
    fp_err e;
    int h, w;

    if (load_npy("step0_in_src", &src[0]) || load_npy("step1_in_src", &src[1]) || load_npy("step0_out_fgr", &fgr[0]) ||
        load_npy("step1_out_fgr", &fgr[1]) || load_npy("step0_out_pha", &pha[0]) ||
        load_npy("step1_out_pha", &pha[1]) || load_npy("step0_in_downsample_ratio", &ratio)) {
        CHECK(!"reference files readable");
        return;
    }
    h = (int)src[0].dims[2];
    w = (int)src[0].dims[3];
    fp_matte_opts_default(&o);
    o.model = model;
    o.backend = "cpu";
    o.downsample_ratio = nn_tensor_get_f64(&ratio, 0);
    fp_err_clear(&e);
    CHECK_MSG(fp_matte_open(&m, &o, &e) == 0, "%s", e.msg);
    if (m) {
        size_t n = (size_t)w * h;
        float *rgb = malloc(3 * n * sizeof(float)), *f = malloc(3 * n * sizeof(float)), *a = malloc(n * sizeof(float));
        double ef, ea;
        CHECK(!strcmp(fp_matte_backend(m), "cpu"));
        CHECK_EQ_INT(fp_matte_model_fp16(m), want_fp16);
        for (int step = 0; step < 3; step++) {
            int s = step == 1 ? 1 : 0; /* step 2: frame 0 again after a reset */
            if (step == 2)
                fp_matte_reset(m);
            for (size_t i = 0; i < 3 * n; i++)
                rgb[i] = (float)nn_tensor_get_f64(&src[s], i);
            fp_err_clear(&e);
            CHECK_MSG(fp_matte_run(m, rgb, w, h, f, a, &e) == 0, "%s", e.msg);
            ef = max_err(f, &fgr[s], 3 * n);
            ea = max_err(a, &pha[s], n);
            printf("step %d (ref %d): max |fgr - ref| %.3g, max |pha - ref| %.3g\n", step, s, ef, ea);
            CHECK_MSG(ef <= tol && ea <= tol, "step %d: fgr %.3g pha %.3g > %g", step, ef, ea, tol);
        }
        /* A wrong state would show here: frame 1 run from the zero state must not match frame 1's
         * reference (else the state test above could not fail). */
        fp_matte_reset(m);
        for (size_t i = 0; i < 3 * n; i++)
            rgb[i] = (float)nn_tensor_get_f64(&src[1], i);
        CHECK(fp_matte_run(m, rgb, w, h, f, a, &e) == 0);
        ea = max_err(a, &pha[1], n) + max_err(f, &fgr[1], 3 * n);
        printf("frame 1 from zero state vs its reference: %.3g (must exceed %g)\n", ea, tol);
        CHECK(ea > tol);
        CHECK_EQ_INT(fp_matte_frames(m), 1);
        free(rgb);
        free(f);
        free(a);
    }
    fp_matte_freep(&m);
    fp_matte_freep(&m); /* NULL-safe */
    for (int i = 0; i < 2; i++) {
        nn_tensor_free(&src[i]);
        nn_tensor_free(&fgr[i]);
        nn_tensor_free(&pha[i]);
    }
    nn_tensor_free(&ratio);
}

static void auto_ratio(void)
{
    CHECK_NEAR(fp_matte_auto_ratio(1920, 1080), 0.25, 0);
    CHECK_NEAR(fp_matte_auto_ratio(3840, 2160), 0.125, 0);
    CHECK_NEAR(fp_matte_auto_ratio(1280, 720), 0.375, 0);
    CHECK_NEAR(fp_matte_auto_ratio(5760, 2880), 0.0625, 0);
    CHECK_NEAR(fp_matte_auto_ratio(8192, 4096), 0.0625, 0);
    CHECK_NEAR(fp_matte_auto_ratio(512, 288), 1.0, 0);
    CHECK_NEAR(fp_matte_auto_ratio(64, 48), 1.0, 0);
    CHECK_NEAR(fp_matte_auto_ratio(1080, 1920), 0.25, 0); /* portrait: the long side counts */
}

static void refusal(const char *path, const char *backend, int want, const char *needle)
{
    fp_matte_opts o;
    fp_matte *m = (fp_matte *)1;
    fp_err e;
    int ret;
    fp_matte_opts_default(&o);
    o.model = path;
    o.backend = backend;
    fp_err_clear(&e);
    ret = fp_matte_open(&m, &o, &e);
    printf("%s: %d \"%s\"\n", path, ret, e.msg);
    CHECK_EQ_INT(ret, want);
    CHECK(m == NULL);
    CHECK_MSG(strstr(e.msg, path) == e.msg, "message does not start with the model path: %s", e.msg);
    CHECK_MSG(!needle || strstr(e.msg, needle), "'%s' not in: %s", needle, e.msg);
    CHECK(!strchr(e.msg, '\n'));
}

static void refusals(const char *tmp)
{
    char p[1024], bad[1024];
    FILE *f;
    snprintf(p, sizeof(p), "%s/no-such-model.onnx", tmp);
    refusal(p, "cpu", FP_EMODEL, NULL);
    refusal(p, "auto", FP_EMODEL, NULL);
    snprintf(bad, sizeof(bad), "%s/garbage.onnx", tmp);
    f = fopen(bad, "wb");
    if (f) {
        fputs("this is not a protobuf \x01\x02\xff\xfe model", f);
        fclose(f);
    }
    refusal(bad, "cpu", FP_EMODEL, NULL);
    /* A valid ONNX model with another interface (the pair classifier: input 'pair'). */
    snprintf(p, sizeof(p), "%s/pairclass/model.onnx", mdir);
    refusal(p, "cpu", FP_EMODEL, "interface");
    {
        fp_matte_opts o;
        fp_matte *m = NULL;
        fp_err e;
        fp_matte_opts_default(&o);
        snprintf(p, sizeof(p), "%s/rvm_mobilenetv3/model.onnx", mdir);
        o.model = p;
        o.backend = "tpu";
        fp_err_clear(&e);
        CHECK_EQ_INT(fp_matte_open(&m, &o, &e), FP_EINVAL);
        o.backend = "cpu";
        o.downsample_ratio = 1.5;
        fp_err_clear(&e);
        CHECK_EQ_INT(fp_matte_open(&m, &o, &e), FP_EINVAL);
        CHECK(m == NULL);
    }
}

static int system_ok(const char *script, const char *in, const char *out)
{
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 '%s' '%s' '%s'", script, in, out);
    return system(cmd) == 0;
}

/* A moving scene: a bright disc crossing a gradient, frame t of 96x72. */
static void scene(float *rgb, int w, int h, int t)
{
    size_t n = (size_t)w * h;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float cx = 10 + 3.0f * t, cy = 36, d = (x - cx) * (x - cx) + (y - cy) * (y - cy);
            float in = d < 200 ? 1.f : 0.f;
            rgb[(size_t)y * w + x] = in ? 0.9f : x / (float)w;
            rgb[n + (size_t)y * w + x] = in ? 0.8f : y / (float)h;
            rgb[2 * n + (size_t)y * w + x] = in ? 0.7f : 0.5f * (x + y) / (w + h);
        }
}

/* The warm-up claim at float precision: a chunk that starts W frames before frame A from the zero
 * state, against the sequential pass from frame 0. Without warm-up the first frames of the chunk
 * differ measurably (so this test can fail); with FP_MATTE_WARMUP_DEFAULT frames they must be within
 * WARM_TOL of the sequential pass over the next frames. */
#define WARM_TOL 2e-3
static void warmup(void)
{
    enum { W = 96, H = 72, A = 16, CHECKED = 6, NMAX = A + CHECKED };
    char model[1024];
    fp_matte_opts o;
    fp_matte *m = NULL;
    fp_err e;
    size_t n = (size_t)W * H;
    /* fgr and pha together (4 planes): this small model's pha is almost all clamped to 0, its fgr is not */
    float *rgb = malloc(3 * n * sizeof(float)), *seq = malloc((size_t)NMAX * 4 * n * sizeof(float)),
          *a = malloc(4 * n * sizeof(float));
    double d0 = -1, dw = -1;

    snprintf(model, sizeof(model), "%s/rvm_mobilenetv3/model.onnx", mdir);
    fp_matte_opts_default(&o);
    o.model = model;
    o.backend = "cpu";
    o.downsample_ratio = 0.5; /* as the reference steps */
    fp_err_clear(&e);
    if (!rgb || !seq || !a || fp_matte_open(&m, &o, &e) < 0) {
        CHECK_MSG(0, "%s", e.msg);
        goto end;
    }
    for (int t = 0; t < NMAX; t++) {
        scene(rgb, W, H, t);
        CHECK(fp_matte_run(m, rgb, W, H, seq + (size_t)t * 4 * n, seq + (size_t)t * 4 * n + 3 * n, &e) == 0);
    }
    for (int warm = 0; warm <= 16; warm = warm ? warm * 2 : 1) {
        double worst = 0;
        fp_matte_reset(m);
        for (int t = A - warm; t < NMAX; t++) {
            scene(rgb, W, H, t);
            CHECK(fp_matte_run(m, rgb, W, H, a, a + 3 * n, &e) == 0);
            if (t >= A)
                for (size_t i = 0; i < 4 * n; i++) {
                    double d = fabs(a[i] - seq[(size_t)t * 4 * n + i]);
                    if (d > worst || isnan(d))
                        worst = isnan(d) ? INFINITY : d;
                }
        }
        printf("warm-up %2d frames: max |chunk - sequential| (fgr, pha) over frames %d..%d = %.3g\n", warm, A,
               NMAX - 1, worst);
        if (warm == 0)
            d0 = worst;
        if (warm == FP_MATTE_WARMUP_DEFAULT)
            dw = worst;
    }
    CHECK_MSG(d0 > WARM_TOL, "without warm-up the chunk already matches (%.3g): this test could not fail", d0);
    CHECK_MSG(dw >= 0 && dw <= WARM_TOL, "with %d warm-up frames: %.3g > %g", FP_MATTE_WARMUP_DEFAULT, dw, WARM_TOL);
end:
    fp_matte_freep(&m);
    free(rgb);
    free(seq);
    free(a);
}

/* fp_matte_run_batch: three streams of unequal length (6, 10 and 8 frames, each its own part of the
 * scene) in one model call per step, the batch shrinking as streams end (fp_matte_keep_rows), against
 * each stream run alone with fp_matte_run. Rows are independent images to every op, so the only
 * difference allowed is summation order: BATCH_TOL. Also: the refusals (a run with another N while
 * the state holds rows, rows out of order) and that row state is carried (a later frame from the zero
 * state does not match). */
#define BATCH_TOL 1e-5
static void batched(void)
{
    enum { W = 96, H = 72, S = 3, TMAX = 10 };
    static const int len[S] = { 6, 10, 8 }, off[S] = { 0, 5, 11 };
    char model[1024];
    fp_matte_opts o;
    fp_matte *m = NULL, *one = NULL;
    fp_err e;
    size_t n = (size_t)W * H;
    float *src = malloc(S * 3 * n * sizeof(float)), *fgr = malloc(S * 3 * n * sizeof(float)),
          *pha = malloc(S * n * sizeof(float)), *ref = malloc((size_t)S * TMAX * 4 * n * sizeof(float));
    int live[S], nlive = S;
    double worst = 0, carried;

    snprintf(model, sizeof(model), "%s/rvm_mobilenetv3/model.onnx", mdir);
    fp_matte_opts_default(&o);
    o.model = model;
    o.backend = "cpu";
    o.downsample_ratio = 0.5;
    fp_err_clear(&e);
    if (!src || !fgr || !pha || !ref || fp_matte_open(&m, &o, &e) < 0 || fp_matte_open(&one, &o, &e) < 0) {
        CHECK_MSG(0, "%s", e.msg);
        goto end;
    }
    CHECK(fp_matte_max_batch(m) > S);
    /* each stream alone */
    for (int i = 0; i < S; i++) {
        fp_matte_reset(one);
        for (int t = 0; t < len[i]; t++) {
            float *r = ref + ((size_t)i * TMAX + t) * 4 * n;
            scene(src, W, H, off[i] + t);
            CHECK(fp_matte_run(one, src, W, H, r, r + 3 * n, &e) == 0);
        }
    }
    for (int i = 0; i < S; i++)
        live[i] = i;
    for (int t = 0; nlive; t++) {
        fp_tensor ts = { .dtype = FP_DTYPE_FLOAT32, .ndim = 4, .dims = { nlive, 3, H, W }, .data = src };
        fp_tensor tf = { .dtype = FP_DTYPE_FLOAT32, .ndim = 4, .dims = { nlive, 3, H, W }, .data = fgr };
        fp_tensor tp = { .dtype = FP_DTYPE_FLOAT32, .ndim = 4, .dims = { nlive, 1, H, W } };
        int keep[S], nkeep = 0, ret;
        for (int j = 0; j < nlive; j++)
            scene(src + (size_t)j * 3 * n, W, H, off[live[j]] + t);
        fp_err_clear(&e);
        /* pha through the hand-over path (data NULL: the runtime's tensor, owned) */
        ret = fp_matte_run_batch(m, &ts, &tf, &tp, &e);
        CHECK_MSG(ret == 0, "step %d: %s", t, e.msg);
        if (ret < 0)
            break;
        CHECK(tp.owned && tp.dims[0] == nlive && tp.dtype == FP_DTYPE_FLOAT32);
        CHECK_EQ_INT(fp_matte_state_rows(m), nlive);
        for (int j = 0; j < nlive; j++) {
            const float *r = ref + ((size_t)live[j] * TMAX + t) * 4 * n;
            for (size_t k = 0; k < 3 * n; k++) {
                double d = fabs(fgr[(size_t)j * 3 * n + k] - r[k]);
                worst = d > worst || isnan(d) ? (isnan(d) ? INFINITY : d) : worst;
            }
            for (size_t k = 0; k < n; k++) {
                double d = fabs(((const float *)tp.data)[(size_t)j * n + k] - r[3 * n + k]);
                worst = d > worst || isnan(d) ? (isnan(d) ? INFINITY : d) : worst;
            }
        }
        fp_tensor_free(&tp);
        for (int j = 0; j < nlive; j++)
            if (t + 1 < len[live[j]])
                keep[nkeep++] = j;
        if (nkeep != nlive) {
            if (nkeep >= 2) {
                int bad[2] = { keep[1], keep[0] };
                CHECK_EQ_INT(fp_matte_keep_rows(m, bad, 2, &e), FP_EINVAL);
            }
            if (nkeep) {
                /* another N before keep_rows: refused, the state is untouched */
                ts.dims[0] = tf.dims[0] = tp.dims[0] = nkeep;
                tp.data = NULL;
                fp_err_clear(&e);
                CHECK_EQ_INT(fp_matte_run_batch(m, &ts, &tf, &tp, &e), FP_EINVAL);
                CHECK_EQ_INT(fp_matte_state_rows(m), nlive);
            }
            CHECK(fp_matte_keep_rows(m, keep, nkeep, &e) == 0);
            for (int j = 0; j < nkeep; j++)
                live[j] = live[keep[j]];
            nlive = nkeep;
            CHECK_EQ_INT(fp_matte_state_rows(m), nlive);
        }
    }
    printf("batched (3 streams, 6/10/8 frames, shrinking) vs each alone: max |difference| (fgr, pha) %.3g\n", worst);
    CHECK_MSG(worst <= BATCH_TOL, "batched vs alone: %.3g > %g", worst, BATCH_TOL);
    /* the state test could fail: stream 1's frame 9 from the zero state differs from its carried one */
    fp_matte_reset(one);
    scene(src, W, H, off[1] + 9);
    CHECK(fp_matte_run(one, src, W, H, fgr, pha, &e) == 0);
    carried = 0;
    for (size_t k = 0; k < 3 * n; k++) {
        double d = fabs(fgr[k] - ref[((size_t)1 * TMAX + 9) * 4 * n + k]);
        carried = d > carried ? d : carried;
    }
    printf("stream 1 frame 9 from the zero state vs carried: %.3g (must exceed %g)\n", carried, BATCH_TOL);
    CHECK(carried > BATCH_TOL);
end:
    fp_matte_freep(&m);
    fp_matte_freep(&one);
    free(src);
    free(fgr);
    free(pha);
    free(ref);
}

/* matte_bg: a 5 s, 5 fps background whose frame k has luma 8k + 16 (FFV1, all intra), asked at times
 * that exercise each path: in order, a jump of more than 2 s (seek), a jump back (reopen), beyond the
 * end (the length is found, the time wraps), and a picture (one frame for every time). The frame shown
 * must be the one on screen at t mod 5 s: k = floor(5 t'). */
static int bg_index(const float *rgb)
{
    return (int)lround(rgb[0] * 219.0 / 8.0); /* limited-range Y = 8k + 16 -> RGB 8k/219 */
}

static void background(const char *tmp)
{
    char vid[1024], pic[1024], cmd[3000];
    static const double ts[] = { 0.0, 0.1, 0.35, 3.05, 3.3, 1.0, 4.99, 6.3, 9.5, 12.41, 0.2 };
    fp_matte_bg *b = NULL;
    fp_err e;
    const float *rgb;
    snprintf(vid, sizeof(vid), "%s/bgidx.mkv", tmp);
    snprintf(pic, sizeof(pic), "%s/bgpic.png", tmp);
    snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -v error -y -f lavfi -i \"color=black:s=16x16:r=5:d=5,format=yuv420p,"
             "geq=lum='N*8+16':cb=128:cr=128\" -c:v ffv1 '%s' && ffmpeg -nostdin -v error -y -f lavfi -i "
             "color=c=white:s=8x8 -frames:v 1 '%s'", vid, pic);
    if (system(cmd) != 0) {
        CHECK(!"ffmpeg can make the background clips");
        return;
    }
    fp_err_clear(&e);
    CHECK_MSG(fp_matte_bg_open(&b, vid, &e) == 0, "%s", e.msg);
    for (size_t i = 0; b && i < sizeof(ts) / sizeof(ts[0]); i++) {
        int want = (int)floor(fmod(ts[i], 5.0) * 5.0 + 1e-9), got;
        fp_err_clear(&e);
        CHECK_MSG(fp_matte_bg_at(b, ts[i], 12, 10, &rgb, &e) == 0, "%s", e.msg);
        got = bg_index(rgb) ;
        printf("background at %.2f s: frame %d (expected %d)\n", ts[i], got, want);
        CHECK_EQ_INT(got, want);
        CHECK(fabs(rgb[12 * 10 * 2 + 5] - rgb[5]) < 0.01); /* grey: B == R, scaled to 12x10 */
    }
    if (b)
        CHECK_NEAR(fp_matte_bg_length(b), 5.0, 1e-6);
    fp_matte_bg_freep(&b);
    fp_matte_bg_freep(&b); /* NULL-safe */
    CHECK(fp_matte_bg_open(&b, pic, &e) == 0);
    for (int i = 0; b && i < 3; i++) {
        CHECK(fp_matte_bg_at(b, i * 7.5, 4, 4, &rgb, &e) == 0);
        CHECK_MSG(rgb[0] > 0.99f && rgb[16] > 0.99f && rgb[32] > 0.99f, "picture at %.1f s: %g", i * 7.5, rgb[0]);
    }
    fp_matte_bg_freep(&b);
    fp_err_clear(&e);
    snprintf(vid, sizeof(vid), "%s/no-such-background.mkv", tmp);
    CHECK_EQ_INT(fp_matte_bg_open(&b, vid, &e), FP_EINPUT);
    CHECK(b == NULL && strstr(e.msg, vid) == e.msg && strstr(e.msg, "composite"));
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_matte MODELS_DIR TMPDIR\n");
        return 2;
    }
    mdir = argv[1];
    auto_ratio();
    {
        char model[1024], f16[1024];
        snprintf(model, sizeof(model), "%s/rvm_mobilenetv3/model.onnx", mdir);
        /* The CPU runtime matches PyTorch to ~1e-7 here; 1e-4 absolute on values in [0,1] leaves room for
         * summation order, not for a wrong state. */
        reference_steps(model, 1e-4, 0);
        /* fp16 interface (src, state and outputs in fp16): fp16 rounding of the input, the carried state
         * and the outputs (2^-11 relative each): measured 6e-4 on fgr; 2e-3 absolute. */
        snprintf(f16, sizeof(f16), "%s/rvm_fp16.onnx", argv[2]);
        if (argc > 3 && system_ok(argv[3], model, f16)) {
            printf("fp16-interface model:\n");
            reference_steps(f16, 2e-3, 1);
        } else {
            SKIP("no fp16-interface model (needs /usr/bin/python3 with onnx: python3-onnx)");
        }
    }
    refusals(argv[2]);
    warmup();
    batched();
    background(argv[2]);
    return fp_test_finish("test_matte");
}
