/*
 * test_matte_devpath — GPU machine only (label gpu): the matte task with frames on the GPU.
 *   model:     fp_matte_run_device (device src/fgr/pha, recurrent state kept on the device) equals
 *              fp_matte_run (host) over 4 frames of random input, fp32 and fp16 compute (the tiny RVM
 *              export of tests/models); fp_matte_run_device_batch over 2 rows equals each row alone;
 *   transcode: NVDEC + device path + fp_matte_stage_process_cuda vs CPU decode + host stage, for the
 *              four output modes (RGBA straight, RGBA premultiplied, composite over a colour, alpha,
 *              foreground): same frame count, same timestamps, every plane within 2 code values (the
 *              model gets the same floats either way; the compose kernel is the host loop's twin);
 *   upload:    CPU decode into the device path (stage prefers the device) gives the same;
 *   chunks:    fp_matte_run_chunked (--chunks 3) on the device path (threads, one model per chunk: every
 *              chunk reports device_path), and with FP_MATTE_DEVICE_BATCH=1 (the batch of 3 on the device:
 *              fp_matte_run_device_batch), each vs FP_HOST_PATH=1 (the host-staged batch of 3): same
 *              frames and timestamps, every plane within 2 code values.
 * Exits 77 (skipped) without a CUDA device.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>

#include "fp_test.h"
#include "media/fp_input.h"
#include "media/fp_transcode.h"
#include "tasks/matte.h"
#include "tasks/matte_chunks.h"
#include "tasks/matte_stage.h"
#include "nn/nn_tensor.h"

static char model_path[1024], model16_path[1024];

/* path: the model; fp16: compute fp16; iface16: the model's tensors are fp16 (the make_fp16_rvm.py wrap) */
static void test_model(const char *path, int fp16, int iface16)
{
    enum { W = 96, H = 64, FRAMES = 4 };
    size_t n = (size_t)W * H;
    fp_matte_opts mo;
    fp_matte *mh = NULL, *md = NULL;
    fp_err e;
    size_t es = iface16 ? 2 : 4;
    float *rgb = malloc(3 * n * 4), *fh = malloc(3 * n * 4), *ph = malloc(n * 4), *fd = malloc(3 * n * 4),
          *pd = malloc(n * 4);
    uint16_t *h16 = malloc(4 * n * 2);
    void *d_src = NULL, *d_f = NULL, *d_p = NULL;
    uint32_t r = 7;
    double maxd = 0;

    fp_err_clear(&e);
    fp_matte_opts_default(&mo);
    mo.model = path;
    mo.backend = "cuda";
    mo.fp16 = fp16;
    if (fp_matte_open(&mh, &mo, &e) < 0 || fp_matte_open(&md, &mo, &e) < 0) {
        CHECK_MSG(0, "open: %s", e.msg);
        goto end;
    }
    CHECK(fp_matte_device_ok(md) == 1);
    CHECK_MSG(fp_matte_model_fp16(md) == iface16, "model tensors fp16: %d", fp_matte_model_fp16(md));
    cudaMalloc(&d_src, 3 * n * es);
    cudaMalloc(&d_f, 3 * n * es);
    cudaMalloc(&d_p, n * es);
    for (int k = 0; k < FRAMES; k++) {
        int a, b;
        for (size_t i = 0; i < 3 * n; i++) {
            r = r * 1664525u + 1013904223u;
            rgb[i] = (r >> 8) / 16777216.0f;
        }
        if (iface16) {
            for (size_t i = 0; i < 3 * n; i++)
                h16[i] = nn_f32_to_f16(rgb[i]);
            cudaMemcpy(d_src, h16, 3 * n * 2, cudaMemcpyHostToDevice);
        } else {
            cudaMemcpy(d_src, rgb, 3 * n * 4, cudaMemcpyHostToDevice);
        }
        a = fp_matte_run(mh, rgb, W, H, fh, ph, &e);
        b = fp_matte_run_device(md, d_src, W, H, d_f, d_p, &e);
        CHECK_MSG(a == 0 && b == 0, "frame %d: %s", k, e.msg);
        if (iface16) {
            cudaMemcpy(h16, d_f, 3 * n * 2, cudaMemcpyDeviceToHost);
            for (size_t i = 0; i < 3 * n; i++)
                fd[i] = nn_f16_to_f32(h16[i]);
            cudaMemcpy(h16, d_p, n * 2, cudaMemcpyDeviceToHost);
            for (size_t i = 0; i < n; i++)
                pd[i] = nn_f16_to_f32(h16[i]);
        } else {
            cudaMemcpy(fd, d_f, 3 * n * 4, cudaMemcpyDeviceToHost);
            cudaMemcpy(pd, d_p, n * 4, cudaMemcpyDeviceToHost);
        }
        for (size_t i = 0; i < 3 * n; i++)
            maxd = fmax(maxd, fabs(fh[i] - fd[i]));
        for (size_t i = 0; i < n; i++)
            maxd = fmax(maxd, fabs(ph[i] - pd[i]));
    }
    /* the device run carried its own state: frames after the first depend on it */
    CHECK_EQ_INT(fp_matte_frames(md), FRAMES);
    /* Same floats in (an fp16 interface converts src the same way on both sides), same kernels. */
    CHECK_MSG(maxd <= (fp16 ? 2e-3 : 1e-5), "%s%s: device vs host run differ by %g", fp16 ? "fp16" : "fp32",
              iface16 ? " (fp16 interface)" : "", maxd);
    printf("  model %s%s: %d frames, device vs host max |diff| %g\n", fp16 ? "fp16" : "fp32",
           iface16 ? " (fp16 interface)" : "", FRAMES, maxd);
    /* the state reset brings back the first frame's result */
    fp_matte_reset(md);
    CHECK(fp_matte_frames(md) == 0);
end:
    cudaFree(d_src);
    cudaFree(d_f);
    cudaFree(d_p);
    fp_matte_freep(&mh);
    fp_matte_freep(&md);
    free(rgb);
    free(fh);
    free(ph);
    free(fd);
    free(pd);
    free(h16);
}

/* fp_matte_run_device_batch: 2 rows (two streams of random frames, state carried per row on the
 * device) vs each stream alone through fp_matte_run (host), fp32; a later call with another row count
 * is refused. */
static void test_model_batch(const char *path)
{
    enum { W = 96, H = 64, FRAMES = 3, NB = 2 };
    size_t n = (size_t)W * H;
    fp_matte_opts mo;
    fp_matte *mh[NB] = { NULL }, *md = NULL;
    fp_err e;
    float *rgb = malloc(NB * 3 * n * 4), *fh = malloc(3 * n * 4), *ph = malloc(n * 4), *fd = malloc(NB * 3 * n * 4),
          *pd = malloc(NB * n * 4);
    void *d_src = NULL, *d_f = NULL, *d_p = NULL;
    uint32_t r = 11;
    double maxd = 0;

    fp_err_clear(&e);
    fp_matte_opts_default(&mo);
    mo.model = path;
    mo.backend = "cuda";
    mo.fp16 = 0;
    if (fp_matte_open(&mh[0], &mo, &e) < 0 || fp_matte_open(&mh[1], &mo, &e) < 0 || fp_matte_open(&md, &mo, &e) < 0) {
        CHECK_MSG(0, "open: %s", e.msg);
        goto end;
    }
    cudaMalloc(&d_src, NB * 3 * n * 4);
    cudaMalloc(&d_f, NB * 3 * n * 4);
    cudaMalloc(&d_p, NB * n * 4);
    for (int k = 0; k < FRAMES; k++) {
        int b;
        for (size_t i = 0; i < NB * 3 * n; i++) {
            r = r * 1664525u + 1013904223u;
            rgb[i] = (r >> 8) / 16777216.0f;
        }
        cudaMemcpy(d_src, rgb, NB * 3 * n * 4, cudaMemcpyHostToDevice);
        b = fp_matte_run_device_batch(md, d_src, NB, W, H, d_f, d_p, &e);
        CHECK_MSG(b == 0, "batch frame %d: %s", k, e.msg);
        cudaMemcpy(fd, d_f, NB * 3 * n * 4, cudaMemcpyDeviceToHost);
        cudaMemcpy(pd, d_p, NB * n * 4, cudaMemcpyDeviceToHost);
        for (int j = 0; j < NB; j++) {
            CHECK(fp_matte_run(mh[j], rgb + (size_t)j * 3 * n, W, H, fh, ph, &e) == 0);
            for (size_t i = 0; i < 3 * n; i++)
                maxd = fmax(maxd, fabs(fh[i] - fd[(size_t)j * 3 * n + i]));
            for (size_t i = 0; i < n; i++)
                maxd = fmax(maxd, fabs(ph[i] - pd[(size_t)j * n + i]));
        }
    }
    CHECK_MSG(maxd <= 1e-5, "device batch of %d vs each row alone (host): max |diff| %g", NB, maxd);
    printf("  model fp32: device batch of %d, %d frames, vs each stream alone max |diff| %g\n", NB, FRAMES, maxd);
    CHECK(fp_matte_run_device_batch(md, d_src, 1, W, H, d_f, d_p, &e) == FP_EINVAL);
end:
    cudaFree(d_src);
    cudaFree(d_f);
    cudaFree(d_p);
    for (int j = 0; j < NB; j++)
        fp_matte_freep(&mh[j]);
    fp_matte_freep(&md);
    free(rgb);
    free(fh);
    free(ph);
    free(fd);
    free(pd);
}

static int run(fp_matte *m, const char *in, const char *out, fp_decode_mode mode, fp_matte_mode mm, int premult,
               int device, fp_transcode_stats *st)
{
    fp_matte_stage s = { 0 };
    fp_process_stage stage = { "matte", mm == FP_MATTE_MODE_RGBA, fp_matte_stage_process, &s };
    fp_transcode_opts o;
    fp_transcode *t = NULL;
    fp_err e;
    int ret;
    fp_err_clear(&e);
    fp_matte_reset(m);
    s.m = m;
    s.mode = mm;
    s.premultiplied = premult;
    s.bg_rgb[0] = 0.2f;
    s.bg_rgb[1] = 0.4f;
    s.bg_rgb[2] = 0.9f;
    if (device) {
        stage.process_cuda = fp_matte_stage_device_fn(m);
        stage.prefer_device = 1;
    }
    fp_transcode_opts_default(&o);
    o.input = in;
    o.output = out;
    o.vcodec = "ffv1";
    o.copy_audio = 0;
    o.in.decode = mode;
    o.stage = &stage;
    ret = fp_transcode_open(&t, &o, &e);
    if (ret == 0)
        ret = fp_transcode_run(t, &e);
    if (t)
        *st = *fp_transcode_get_stats(t);
    if (ret < 0)
        fprintf(stderr, "  %s: %s\n", out, e.msg);
    fp_transcode_freep(&t);
    fp_matte_stage_uninit(&s);
    return ret;
}

static int compare(const char *a, const char *b, int *frames, int *pts_diff, int *maxd)
{
    fp_input *ia = NULL, *ib = NULL;
    fp_input_opts o;
    fp_err e;
    AVFrame *fa = av_frame_alloc(), *fb = av_frame_alloc();
    int ra, rb;
    fp_input_opts_default(&o);
    o.decode = FP_DECODE_CPU;
    fp_err_clear(&e);
    *frames = *pts_diff = *maxd = 0;
    if (fp_input_open(&ia, a, &o, &e) < 0 || fp_input_open(&ib, b, &o, &e) < 0) {
        fprintf(stderr, "  compare: %s\n", e.msg);
        fp_input_freep(&ia);
        return -1;
    }
    for (;;) {
        ra = fp_input_read_frame(ia, fa, &e);
        rb = fp_input_read_frame(ib, fb, &e);
        if (ra != 0 || rb != 0)
            break;
        (*frames)++;
        *pts_diff += fa->pts != fb->pts;
        if (fa->format != fb->format || fa->width != fb->width || fa->height != fb->height) {
            *maxd = 9999;
        } else {
            const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(fa->format);
            for (int p = 0; p < av_pix_fmt_count_planes(fa->format); p++) {
                int rows = (p == 1 || p == 2) ? AV_CEIL_RSHIFT(fa->height, d->log2_chroma_h) : fa->height;
                int bytes = av_image_get_linesize(fa->format, fa->width, p);
                for (int y = 0; y < rows; y++)
                    for (int x = 0; x < bytes; x++) {
                        int v = abs(fa->data[p][y * fa->linesize[p] + x] - fb->data[p][y * fb->linesize[p] + x]);
                        *maxd = v > *maxd ? v : *maxd;
                    }
            }
        }
        av_frame_unref(fa);
        av_frame_unref(fb);
    }
    if (ra != rb)
        *frames = -*frames - 1;
    av_frame_free(&fa);
    av_frame_free(&fb);
    fp_input_freep(&ia);
    fp_input_freep(&ib);
    return 0;
}

/* --chunks 3 on the device path vs the host-staged batch (FP_HOST_PATH=1), rgba and composite. */
static void test_chunks(const char *clip, const char *dir)
{
    static const struct { const char *name; fp_matte_mode mode; } cm[] = {
        { "rgba", FP_MATTE_MODE_RGBA }, { "composite", FP_MATTE_MODE_COMPOSITE },
    };
    for (size_t i = 0; i < sizeof(cm) / sizeof(cm[0]); i++) {
        char d[600], h[600], b[600];
        fp_matte_chunk_opts o = { 0 };
        fp_matte_chunk_stats sd = { 0 }, sh = { 0 }, sb = { 0 };
        fp_err e;
        int frames, pd, maxd, rd, rh, rb;
        snprintf(d, sizeof(d), "%s/matte_chunks_%s_dev.mkv", dir, cm[i].name);
        snprintf(b, sizeof(b), "%s/matte_chunks_%s_devbatch.mkv", dir, cm[i].name);
        snprintf(h, sizeof(h), "%s/matte_chunks_%s_host.mkv", dir, cm[i].name);
        fp_matte_opts_default(&o.model);
        o.model.model = model_path;
        o.model.backend = "cuda";
        o.model.fp16 = 0;
        o.input = clip;
        o.mode = cm[i].mode;
        o.bg_rgb[0] = 0.2f;
        o.bg_rgb[1] = 0.4f;
        o.bg_rgb[2] = 0.9f;
        o.vcodec = "ffv1";
        o.chunks = 3;
        o.warmup_frames = 8;
        o.no_audio = o.no_subs = 1;
        fp_err_clear(&e);
        unsetenv("FP_HOST_PATH");
        o.output = d;
        rd = fp_matte_run_chunked(&o, &sd, &e);
        CHECK_MSG(rd == 0, "%s chunks, device: %s", cm[i].name, e.msg);
        fp_err_clear(&e);
        setenv("FP_HOST_PATH", "1", 1);
        o.output = h;
        rh = fp_matte_run_chunked(&o, &sh, &e);
        unsetenv("FP_HOST_PATH");
        CHECK_MSG(rh == 0, "%s chunks, host: %s", cm[i].name, e.msg);
        fp_err_clear(&e);
        setenv("FP_MATTE_DEVICE_BATCH", "1", 1);
        o.output = b;
        rb = fp_matte_run_chunked(&o, &sb, &e);
        unsetenv("FP_MATTE_DEVICE_BATCH");
        CHECK_MSG(rb == 0, "%s chunks, device batch: %s", cm[i].name, e.msg);
        if (rh == 0 && rb == 0) {
            CHECK_MSG(sb.device_chunks == 3 && sb.batch == 3, "%s device batch run: %d device chunks, batch %d",
                      cm[i].name, sb.device_chunks, sb.batch);
            if (compare(b, h, &frames, &pd, &maxd) == 0) {
                CHECK_MSG(frames == 20 && pd == 0 && maxd <= 2, "%s device batch: %d frames, %d pts differ, max %d",
                          cm[i].name, frames, pd, maxd);
                printf("  %s --chunks 3: device batch vs host batch: %d frames, max difference %d (tolerance 2)\n",
                       cm[i].name, frames, maxd);
            } else {
                CHECK_MSG(0, "%s device batch: unreadable outputs", cm[i].name);
            }
        }
        if (rd || rh)
            continue;
        CHECK_MSG(sd.device_chunks == 3 && sd.batch == 0, "%s device run: %d device chunks, batch %d", cm[i].name,
                  sd.device_chunks, sd.batch);
        CHECK_MSG(sh.device_chunks == 0 && sh.batch == 3, "%s host run: %d device chunks, batch %d", cm[i].name,
                  sh.device_chunks, sh.batch);
        if (compare(d, h, &frames, &pd, &maxd) == 0) {
            CHECK_MSG(frames == 20 && pd == 0 && maxd <= 2, "%s chunks: %d frames, %d pts differ, max difference %d",
                      cm[i].name, frames, pd, maxd);
            printf("  %s --chunks 3: device path (threads) vs host batch: %d frames, max difference %d (tolerance 2)\n",
                   cm[i].name, frames, maxd);
        } else {
            CHECK_MSG(0, "%s chunks: unreadable outputs", cm[i].name);
        }
    }
}

int main(void)
{
    const char *dir = getenv("FP_TEST_TMP") ? getenv("FP_TEST_TMP") : "/tmp";
    char clip[512], cmd[1200], *slash;
    int ndev = 0;
    fp_matte *m = NULL;
    fp_matte_opts mo;
    fp_err e;
    static const struct { const char *name; fp_matte_mode mode; int premult; } modes[] = {
        { "rgba", FP_MATTE_MODE_RGBA, 0 }, { "premultiplied", FP_MATTE_MODE_RGBA, 1 },
        { "composite", FP_MATTE_MODE_COMPOSITE, 0 }, { "alpha", FP_MATTE_MODE_ALPHA, 0 },
        { "foreground", FP_MATTE_MODE_FOREGROUND, 0 },
    };

    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
        fprintf(stderr, "SKIP: no CUDA device\n");
        return 77;
    }
    snprintf(model_path, sizeof(model_path), "%s", __FILE__);
    if ((slash = strrchr(model_path, '/')))
        *slash = '\0';
    strncat(model_path, "/../models/rvm_mobilenetv3/model.onnx", sizeof(model_path) - strlen(model_path) - 1);
    test_model(model_path, 0, 0);
    test_model(model_path, 1, 0);
    test_model_batch(model_path);
    /* the fp16-interface wrap (fp16 src/state/outputs): the device path's src cast and fp16 compose */
    snprintf(model16_path, sizeof(model16_path), "%s/rvm_fp16_iface.onnx", dir);
    snprintf(cmd, sizeof(cmd), "mkdir -p %s && python3 %.*s/../tasks/make_fp16_rvm.py %s %s 2>&1", dir,
             (int)(strstr(model_path, "/../models/") - model_path), model_path, model_path, model16_path);
    if (system(cmd) == 0)
        test_model(model16_path, 1, 1);
    else
        model16_path[0] = '\0';
    if (!model16_path[0])
        SKIP("no fp16-interface model (needs python3 with onnx): the src cast is not checked");

    snprintf(clip, sizeof(clip), "%s/matte_devpath.mp4", dir);
    snprintf(cmd, sizeof(cmd), "mkdir -p %s && ffmpeg -nostdin -y -v error -f lavfi -i "
             "testsrc2=size=256x144:rate=25:duration=0.8 -c:v libx264 -pix_fmt yuv420p %s", dir, clip);
    if (system(cmd) != 0) {
        SKIP("no ffmpeg CLI with libx264 to make the clip");
        return fp_test_finish("gpu.test_matte_devpath");
    }
    fp_err_clear(&e);
    fp_matte_opts_default(&mo);
    mo.model = model_path;
    mo.backend = "cuda";
    mo.fp16 = 0;
    if (fp_matte_open(&m, &mo, &e) < 0) {
        CHECK_MSG(0, "open: %s", e.msg);
        return fp_test_finish("gpu.test_matte_devpath");
    }
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        char g[600], c[600], u[600];
        fp_transcode_stats sg = { 0 }, sc = { 0 }, su = { 0 };
        int frames, pd, maxd;
        snprintf(g, sizeof(g), "%s/matte_%s_gpu.mkv", dir, modes[i].name);
        snprintf(c, sizeof(c), "%s/matte_%s_cpu.mkv", dir, modes[i].name);
        snprintf(u, sizeof(u), "%s/matte_%s_upload.mkv", dir, modes[i].name);
        CHECK(run(m, clip, g, FP_DECODE_GPU, modes[i].mode, modes[i].premult, 1, &sg) == 0);
        CHECK(run(m, clip, c, FP_DECODE_CPU, modes[i].mode, modes[i].premult, 0, &sc) == 0);
        CHECK_MSG(sg.gpu_decode == 1 && sg.device_path == 1 && sc.device_path == 0, "%s: paths %d/%d, %d",
                  modes[i].name, sg.gpu_decode, sg.device_path, sc.device_path);
        if (compare(g, c, &frames, &pd, &maxd) == 0) {
            CHECK_MSG(frames == 20 && pd == 0 && maxd <= 2, "%s: %d frames, %d pts differ, max difference %d",
                      modes[i].name, frames, pd, maxd);
            printf("  %s: NVDEC+device vs CPU+host: %d frames, max difference %d (tolerance 2)\n", modes[i].name,
                   frames, maxd);
        } else {
            CHECK_MSG(0, "%s: unreadable outputs", modes[i].name);
        }
        if (i == 0 || i == 2) {
            CHECK(run(m, clip, u, FP_DECODE_CPU, modes[i].mode, modes[i].premult, 1, &su) == 0);
            CHECK_MSG(su.gpu_decode == 0 && su.device_path == 1, "%s upload: paths %d/%d", modes[i].name,
                      su.gpu_decode, su.device_path);
            if (compare(u, c, &frames, &pd, &maxd) == 0) {
                CHECK_MSG(frames == 20 && pd == 0 && maxd <= 2, "%s upload: %d frames, %d pts differ, max %d",
                          modes[i].name, frames, pd, maxd);
                printf("  %s: CPU decode+upload+device vs CPU+host: %d frames, max difference %d\n",
                       modes[i].name, frames, maxd);
            }
        }
    }
    fp_matte_freep(&m);
    test_chunks(clip, dir);
    if (model16_path[0]) {
        /* fp16 interface through the whole path: the src cast kernel and the fp16 compose */
        char g[600], c[600];
        fp_transcode_stats sg = { 0 }, sc = { 0 };
        int frames, pd, maxd;
        mo.model = model16_path;
        mo.fp16 = 1;
        if (fp_matte_open(&m, &mo, &e) < 0) {
            CHECK_MSG(0, "open fp16: %s", e.msg);
        } else {
            snprintf(g, sizeof(g), "%s/matte16_gpu.mkv", dir);
            snprintf(c, sizeof(c), "%s/matte16_cpu.mkv", dir);
            CHECK(run(m, clip, g, FP_DECODE_GPU, FP_MATTE_MODE_RGBA, 0, 1, &sg) == 0);
            CHECK(run(m, clip, c, FP_DECODE_CPU, FP_MATTE_MODE_RGBA, 0, 0, &sc) == 0);
            CHECK(sg.device_path == 1 && sc.device_path == 0);
            if (compare(g, c, &frames, &pd, &maxd) == 0) {
                CHECK_MSG(frames == 20 && pd == 0 && maxd <= 2, "fp16: %d frames, %d pts differ, max %d", frames, pd,
                          maxd);
                printf("  fp16 interface rgba: NVDEC+device vs CPU+host: %d frames, max difference %d\n", frames,
                       maxd);
            }
            fp_matte_freep(&m);
        }
    }
    return fp_test_finish("gpu.test_matte_devpath");
}
