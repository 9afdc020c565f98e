/*
 * matte_parity — the two numerical claims of the chunked/batched matte path, for any model and backend
 * (the GPU machine runs it with the full-size exports on CUDA: scripts/gpu/matte.sh test; CI runs it
 * with the small model on the CPU as tasks.matte_parity):
 *  1. warm-up table: max |chunk - sequential| over fgr and pha for frames A..A+C-1 when the chunk
 *     starts W frames before A from the zero state, W = 0, 2, 4, 8, 16, 32 (the sequential pass runs
 *     from frame 0);
 *  2. batched vs alone: S streams of unequal length in fp_matte_run_batch calls (the batch shrinking
 *     as they end) against each stream run alone with fp_matte_run.
 * Frames are a synthetic moving scene (a disc crossing gradients) at W x H.
 *
 * Usage: matte_parity MODEL cpu|cuda WIDTH HEIGHT [fp32|fp16] [--ratio R] [--batch-tol T] [--warm-tol T]
 *   --batch-tol T : fail (exit 1) when batched vs alone exceeds T
 *   --warm-tol T  : fail when warm-up 8 (FP_MATTE_WARMUP_DEFAULT) exceeds T, or warm-up 0 does not
 * Prints one line per measurement and a final "matte_parity: N passed, N failed".
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fp_test.h"
#include "tasks/matte.h"
#include "tasks/matte_chunks.h"

enum { A = 40, C = 8, S = 4 };

static void scene(float *rgb, int w, int h, int t)
{
    size_t n = (size_t)w * h;
    float r = h / 4.0f, cx = w * (0.1f + 0.02f * t), cy = h * 0.5f + h * 0.1f * sinf(t * 0.3f);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float d = (x - cx) * (x - cx) + (y - cy) * (y - cy), in = d < r * r;
            size_t i = (size_t)y * w + x;
            rgb[i] = in ? 0.9f : (float)x / w;
            rgb[n + i] = in ? 0.75f : (float)y / h;
            rgb[2 * n + i] = in ? 0.6f : 0.5f * (x + y) / (w + h);
        }
}

static double maxdiff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= m))
            m = isnan(d) ? INFINITY : d;
    }
    return m;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    fp_matte_opts o;
    fp_matte *m = NULL;
    fp_err e;
    int w, h, ret;
    double batch_tol = -1, warm_tol = -1, d0 = -1, d8 = -1, t0;
    size_t n;
    float *rgb = NULL, *seq = NULL, *out = NULL, *src = NULL, *ref = NULL, *bf = NULL, *bp = NULL;
    static const int warms[] = { 0, 2, 4, 8, 16, 32 };
    static const int len[S] = { 12, 7, 10, 4 };

    if (argc < 5) {
        fprintf(stderr, "usage: matte_parity MODEL cpu|cuda WIDTH HEIGHT [fp32|fp16] [--ratio R] [--batch-tol T] "
                        "[--warm-tol T]\n");
        return 2;
    }
    fp_matte_opts_default(&o);
    o.model = argv[1];
    o.backend = argv[2];
    w = atoi(argv[3]);
    h = atoi(argv[4]);
    for (int i = 5; i < argc; i++) {
        if (!strcmp(argv[i], "fp16") || !strcmp(argv[i], "fp32"))
            o.fp16 = !strcmp(argv[i], "fp16");
        else if (!strcmp(argv[i], "--ratio") && i + 1 < argc)
            o.downsample_ratio = atof(argv[++i]);
        else if (!strcmp(argv[i], "--batch-tol") && i + 1 < argc)
            batch_tol = atof(argv[++i]);
        else if (!strcmp(argv[i], "--warm-tol") && i + 1 < argc)
            warm_tol = atof(argv[++i]);
        else {
            fprintf(stderr, "matte_parity: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (w <= 0 || h <= 0)
        return 2;
    n = (size_t)w * h;
    fp_err_clear(&e);
    if ((ret = fp_matte_open(&m, &o, &e)) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    printf("model %s on %s (%s), %dx%d, downsample_ratio %.4g\n", argv[1], fp_matte_backend(m),
           fp_matte_compute_fp16(m) ? "fp16 compute" : "fp32 compute", w, h, fp_matte_ratio_for(m, w, h));
    rgb = malloc(3 * n * sizeof(float));
    seq = malloc((size_t)C * 4 * n * sizeof(float));
    out = malloc(4 * n * sizeof(float));
    src = malloc((size_t)S * 3 * n * sizeof(float));
    bf = malloc((size_t)S * 3 * n * sizeof(float));
    bp = malloc((size_t)S * n * sizeof(float));
    ref = malloc((size_t)S * 12 * 4 * n * sizeof(float));
    if (!rgb || !seq || !out || !src || !ref || !bf || !bp) {
        CHECK(!"out of memory");
        goto end;
    }

    /* 1. the warm-up table */
    t0 = now_s();
    for (int t = 0; t < A + C; t++) {
        float *dst = t >= A ? seq + (size_t)(t - A) * 4 * n : out;
        scene(rgb, w, h, t);
        if (fp_matte_run(m, rgb, w, h, dst, dst + 3 * n, &e) < 0) {
            CHECK_MSG(0, "%s", e.msg);
            goto end;
        }
    }
    printf("sequential: %d frames in %.2f s\n", A + C, now_s() - t0);
    for (size_t k = 0; k < sizeof(warms) / sizeof(warms[0]); k++) {
        double worst = 0;
        fp_matte_reset(m);
        for (int t = A - warms[k]; t < A + C; t++) {
            scene(rgb, w, h, t);
            if (fp_matte_run(m, rgb, w, h, out, out + 3 * n, &e) < 0) {
                CHECK_MSG(0, "%s", e.msg);
                goto end;
            }
            if (t >= A) {
                double d = maxdiff(out, seq + (size_t)(t - A) * 4 * n, 4 * n);
                worst = d > worst || isnan(d) ? d : worst;
            }
        }
        printf("warm-up %2d frames: max |chunk - sequential| (fgr, pha) over frames %d..%d = %.3g\n", warms[k], A,
               A + C - 1, worst);
        if (warms[k] == 0)
            d0 = worst;
        if (warms[k] == FP_MATTE_WARMUP_DEFAULT)
            d8 = worst;
    }
    if (warm_tol >= 0) {
        CHECK_MSG(d0 > warm_tol, "warm-up 0 already within %g (%.3g): the table cannot show anything", warm_tol, d0);
        CHECK_MSG(d8 <= warm_tol, "warm-up %d: %.3g > %g", FP_MATTE_WARMUP_DEFAULT, d8, warm_tol);
    }

    /* 2. batched vs alone: S streams (offsets 0, 9, 18, 27), lengths 12, 7, 10, 4 */
    for (int i = 0; i < S; i++) {
        fp_matte_reset(m);
        for (int t = 0; t < len[i]; t++) {
            float *r = ref + ((size_t)i * 12 + t) * 4 * n;
            scene(rgb, w, h, 9 * i + t);
            if (fp_matte_run(m, rgb, w, h, r, r + 3 * n, &e) < 0) {
                CHECK_MSG(0, "%s", e.msg);
                goto end;
            }
        }
    }
    {
        int live[S], nlive = S, calls = 0;
        double worst = 0, tb = now_s();
        fp_matte_reset(m);
        for (int i = 0; i < S; i++)
            live[i] = i;
        for (int t = 0; nlive; t++) {
            fp_tensor ts = { .dtype = FP_DTYPE_FLOAT32, .ndim = 4, .dims = { nlive, 3, h, w }, .data = src };
            fp_tensor tf = { .dtype = FP_DTYPE_FLOAT32, .ndim = 4, .dims = { nlive, 3, h, w }, .data = bf };
            fp_tensor tp = { .dtype = FP_DTYPE_FLOAT32, .ndim = 4, .dims = { nlive, 1, h, w }, .data = bp };
            int keep[S], nk = 0;
            for (int j = 0; j < nlive; j++)
                scene(src + (size_t)j * 3 * n, w, h, 9 * live[j] + t);
            if (fp_matte_run_batch(m, &ts, &tf, &tp, &e) < 0) {
                CHECK_MSG(0, "batched step %d: %s", t, e.msg);
                goto end;
            }
            calls++;
            for (int j = 0; j < nlive; j++) {
                const float *r = ref + ((size_t)live[j] * 12 + t) * 4 * n;
                double d1 = maxdiff(bf + (size_t)j * 3 * n, r, 3 * n), d2 = maxdiff(bp + (size_t)j * n, r + 3 * n, n);
                worst = d1 > worst || isnan(d1) ? d1 : worst;
                worst = d2 > worst || isnan(d2) ? d2 : worst;
            }
            for (int j = 0; j < nlive; j++)
                if (t + 1 < len[live[j]])
                    keep[nk++] = j;
            if (nk != nlive && fp_matte_keep_rows(m, keep, nk, &e) < 0) {
                CHECK_MSG(0, "%s", e.msg);
                goto end;
            }
            for (int j = 0; j < nk; j++)
                live[j] = live[keep[j]];
            nlive = nk;
        }
        printf("batched (%d streams of 12/7/10/4 frames, %d calls, %.2f s) vs each alone: max |difference| (fgr, pha) "
               "= %.3g\n", S, calls, now_s() - tb, worst);
        if (batch_tol >= 0)
            CHECK_MSG(worst <= batch_tol, "batched vs alone: %.3g > %g", worst, batch_tol);
    }
end:
    fp_matte_freep(&m);
    free(rgb);
    free(seq);
    free(out);
    free(src);
    free(ref);
    free(bf);
    free(bp);
    return fp_test_finish("matte_parity");
}
