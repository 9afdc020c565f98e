/*
 * fp_color_cpu — the CPU reference of pre- and postprocessing: loops over output pixels (or chroma
 * blocks) calling the shared per-pixel code of fp_color_core.h. Used when there is no GPU and as
 * the reference the CUDA twins are tested against.
 *
 * Owns: the CPU loops and their threading. Rows are split into fixed bands, one per thread; every
 * output value is computed by exactly one thread from inputs nobody writes, so the result is the
 * same for any thread count (tested). Does not own validation (fp_color_setup.c) or arithmetic.
 */
#include "gpu/fp_color_priv.h"

#include <pthread.h>
#include <stdlib.h>

static int cpu_threads = 1;

void fp_color_cpu_set_threads(int n)
{
    cpu_threads = n < 1 ? 1 : n > 64 ? 64 : n;
}

typedef struct band {
    const fp_pre_args *pre;
    const fp_tap *xtaps;     /* preprocess: taps of every output column */
    const fp_post_args *post;
    int y0, y1, w;
} band;

static void *band_run(void *arg)
{
    const band *b = arg;
    for (int y = b->y0; y < b->y1; y++) {
        if (b->pre) {
            const fp_pre_args *a = b->pre;
            fp_tap ty = fp_axis_tap(a->mode, y, a->ch, a->d.h);
            for (int x = 0; x < b->w; x++)
                fp_pre_pixel_taps(a, &a->s, &a->d, x, y, b->xtaps[x], ty);
        } else {
            for (int x = 0; x < b->w; x++)
                fp_post_block(b->post, x, y);
        }
    }
    return NULL;
}

/* Runs rows [0, h) in up to cpu_threads bands. A thread that cannot be created leaves its band to
 * the calling thread, so the work is always done and done identically. */
static void run_bands(const fp_pre_args *pre, const fp_tap *xtaps, const fp_post_args *post, int w, int h)
{
    int n = cpu_threads;
    if (n > h)
        n = h;
    if (n <= 1) {
        band b = {pre, xtaps, post, 0, h, w};
        band_run(&b);
        return;
    }
    band bands[64];
    pthread_t tid[64];
    int started[64] = {0};
    for (int i = 0; i < n; i++) {
        bands[i] = (band){pre, xtaps, post, (int)((long long)h * i / n), (int)((long long)h * (i + 1) / n), w};
        if (i > 0)
            started[i] = pthread_create(&tid[i], NULL, band_run, &bands[i]) == 0;
    }
    band_run(&bands[0]);
    for (int i = 1; i < n; i++) {
        if (started[i])
            pthread_join(tid[i], NULL);
        else
            band_run(&bands[i]);
    }
}

int fp_preprocess_cpu(const fp_image *src, const fp_preprocess *p, const fp_planar *dst, fp_err *e)
{
    fp_pre_args a;
    int ret = fp_pre_setup(src, p, dst, 0, &a, e);
    if (ret < 0)
        return ret;
    /* column taps once per call: the per-pixel 64-bit divisions were half the CPU time */
    fp_tap *xtaps = malloc((size_t)a.d.w * sizeof(*xtaps));
    if (!xtaps)
        return fp_errorf(e, FP_ENOMEM, "preprocess: out of memory (%d column taps)", a.d.w);
    for (int x = 0; x < a.d.w; x++)
        xtaps[x] = fp_axis_tap(a.mode, x, a.cw, a.d.w);
    run_bands(&a, xtaps, NULL, a.d.w, a.d.h);
    free(xtaps);
    return 0;
}

int fp_postprocess_cpu(const fp_planar *rgb, const fp_planar *alpha, fp_image *dst,
                       const fp_colorspace *cs, fp_err *e)
{
    fp_post_args a;
    int ret = fp_post_setup(rgb, alpha, dst, cs, 0, &a, e);
    if (ret < 0)
        return ret;
    int bw = (a.d.w + (1 << a.d.ssx) - 1) >> a.d.ssx, bh = (a.d.h + (1 << a.d.ssy) - 1) >> a.d.ssy;
    run_bands(NULL, NULL, &a, bw, bh);
    return 0;
}
