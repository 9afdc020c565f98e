/*
 * test_devpath — GPU machine only (label gpu): frames that stay on the GPU (fp_devpath.h) give what the
 * host path gives.
 *   key twin:   fp_key_apply_cuda equals fp_key_apply to the bit on random RGB (NCHW and NHWC, 3 and 4
 *               channels, hard and soft edges);
 *   transcode:  NVDEC + device path vs CPU decode + host path on the same clip (320x240 H.264, within
 *               NVDEC's minimum size): plain FFV1 (frames, timestamps, pixels identical), crop + scale
 *               and the key (frames, timestamps, every plane within 1 code value: the colour and key
 *               kernels are bit-equal twins of the CPU ones, NV12 on the device vs yuv420p on the host
 *               read the same decoded samples), pinned frames bounded;
 *   decode only: `-o null` with NVDEC counts every frame without downloading it.
 * Exits 77 (skipped) without a CUDA device or NVDEC.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>

#include "fp_test.h"
#include "media/fp_encpool.h"
#include "media/fp_input.h"
#include "media/fp_key.h"
#include "media/fp_transcode.h"

static uint32_t rng = 12345;
static float frand(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (rng >> 8) / 16777216.0f;
}

static void test_key_twin(void)
{
    static const struct { int w, h, ch; fp_layout lay; float tol, soft; } cs[] = {
        { 64, 48, 3, FP_LAYOUT_NCHW, 0.1f, 0.05f }, { 257, 131, 4, FP_LAYOUT_NHWC, 0.2f, 0.0f },
        { 1920, 1080, 3, FP_LAYOUT_NCHW, 0.15f, 0.1f }, { 33, 7, 3, FP_LAYOUT_NHWC, 0.0f, 1.0f },
    };
    for (size_t c = 0; c < sizeof(cs) / sizeof(cs[0]); c++) {
        size_t plane = (size_t)cs[c].w * cs[c].h, nrgb = plane * cs[c].ch * 2; /* batch of 2, slot 1 */
        float *h_rgb = malloc(nrgb * 4), *h_a = calloc(plane * 2, 4), *g_a = calloc(plane * 2, 4);
        float *d_rgb = NULL, *d_a = NULL;
        fp_key k = { { 0.1f, 0.9f, 0.2f }, cs[c].tol, cs[c].soft };
        fp_planar rgb = { 0 }, al = { 0 };
        fp_err e;
        int r1, r2;
        fp_err_clear(&e);
        for (size_t i = 0; i < nrgb; i++)
            h_rgb[i] = frand() * 1.2f - 0.1f; /* a little outside [0,1] too */
        /* a third of the pixels near the key colour, so both sides of the ramp are exercised */
        for (size_t i = 0; i < plane; i += 3)
            for (int ch = 0; ch < 3; ch++) {
                size_t at = cs[c].lay == FP_LAYOUT_NCHW ? plane * cs[c].ch + ch * plane + i
                                                        : (plane + i) * cs[c].ch + ch;
                h_rgb[at] = k.rgb[ch] + (frand() - 0.5f) * 0.3f;
            }
        cudaMalloc((void **)&d_rgb, nrgb * 4);
        cudaMalloc((void **)&d_a, plane * 2 * 4);
        cudaMemcpy(d_rgb, h_rgb, nrgb * 4, cudaMemcpyHostToDevice);
        cudaMemset(d_a, 0, plane * 2 * 4);
        rgb.data = h_rgb;
        rgb.layout = cs[c].lay;
        rgb.dtype = FP_DTYPE_F32;
        rgb.channels = cs[c].ch;
        rgb.width = cs[c].w;
        rgb.height = cs[c].h;
        rgb.n = 1;
        al = rgb;
        al.channels = 1;
        al.data = h_a;
        r1 = fp_key_apply(&k, &rgb, &al, &e);
        rgb.data = d_rgb;
        rgb.on_device = 1;
        al.data = d_a;
        al.on_device = 1;
        r2 = fp_key_apply_cuda(&k, &rgb, &al, NULL, &e);
        cudaDeviceSynchronize();
        cudaMemcpy(g_a, d_a, plane * 2 * 4, cudaMemcpyDeviceToHost);
        CHECK_MSG(r1 == 0 && r2 == 0, "key %zu: %s", c, e.msg);
        {
            size_t diff = 0, zeros = 0, ones = 0;
            for (size_t i = 0; i < plane * 2; i++) {
                diff += memcmp(&h_a[i], &g_a[i], 4) != 0;
                zeros += i >= plane && h_a[i] == 0.0f;
                ones += i >= plane && h_a[i] == 1.0f;
            }
            CHECK_MSG(diff == 0, "key %zu (%dx%d): %zu of %zu alpha values differ from the CPU's", c, cs[c].w,
                      cs[c].h, diff, plane);
            /* a hard or narrow ramp must produce both ends; the wide ramp of case 3 (tolerance 0, softness
             * 1) reaches neither, and must still vary */
            if (cs[c].soft < 0.5f)
                CHECK_MSG(zeros > 0 && ones > 0, "key %zu: the random input did not reach both ends (%zu, %zu)",
                          c, zeros, ones);
            else
                CHECK_MSG(h_a[plane] != h_a[plane + 1] || h_a[plane + 1] != h_a[plane + 2],
                          "key %zu: constant alpha", c);
        }
        /* host planes are refused by the device twin */
        rgb.on_device = 0;
        CHECK(fp_key_apply_cuda(&k, &rgb, &al, NULL, &e) == FP_EINVAL);
        cudaFree(d_rgb);
        cudaFree(d_a);
        free(h_rgb);
        free(h_a);
        free(g_a);
    }
}

static int key_host(void *opaque, const fp_planar *rgb, const fp_planar *alpha, int64_t pts, fp_err *e)
{
    (void)pts;
    return fp_key_apply(opaque, rgb, alpha, e);
}

static int key_dev(void *opaque, const fp_planar *rgb, const fp_planar *alpha, int64_t pts, void *stream,
                   fp_err *e)
{
    (void)pts;
    return fp_key_apply_cuda(opaque, rgb, alpha, stream, e);
}

static int run(const char *in, const char *out, fp_decode_mode mode, const fp_transcode_opts *base,
               fp_transcode_stats *st)
{
    fp_transcode_opts o = *base;
    fp_transcode *t = NULL;
    fp_err e;
    int ret;
    fp_err_clear(&e);
    o.input = in;
    o.output = out;
    o.in.decode = mode;
    o.copy_audio = 0;
    ret = fp_transcode_open(&t, &o, &e);
    if (ret == 0)
        ret = fp_transcode_run(t, &e);
    if (t)
        *st = *fp_transcode_get_stats(t);
    if (ret < 0)
        fprintf(stderr, "  %s (%s decode): %s\n", out, mode == FP_DECODE_GPU ? "gpu" : "cpu", e.msg);
    fp_transcode_freep(&t);
    return ret;
}

/* Reads both files frame by frame (CPU decode): counts, pts and the largest sample difference. */
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
                        if (v > *maxd)
                            *maxd = v;
                    }
            }
        }
        av_frame_unref(fa);
        av_frame_unref(fb);
    }
    if (ra != rb)
        *frames = -*frames - 1; /* one file has more frames */
    av_frame_free(&fa);
    av_frame_free(&fb);
    fp_input_freep(&ia);
    fp_input_freep(&ib);
    return 0;
}

static void pair(const char *name, const char *in, const char *dir, const fp_transcode_opts *o, int nframes,
                 int tol)
{
    char g[600], c[600];
    fp_transcode_stats sg = { 0 }, sc = { 0 };
    int frames, pd, maxd;
    snprintf(g, sizeof(g), "%s/dev_%s_gpu.mkv", dir, name);
    snprintf(c, sizeof(c), "%s/dev_%s_cpu.mkv", dir, name);
    CHECK_MSG(run(in, g, FP_DECODE_GPU, o, &sg) == 0, "%s: device run", name);
    CHECK_MSG(run(in, c, FP_DECODE_CPU, o, &sc) == 0, "%s: host run", name);
    CHECK_MSG(sg.gpu_decode == 1 && sg.device_path == 1, "%s: NVDEC %d, device path %d", name, sg.gpu_decode,
              sg.device_path);
    CHECK_MSG(sc.gpu_decode == 0 && sc.device_path == 0, "%s: the CPU run used the GPU", name);
    /* flat memory: the pinned pool stays within the pipeline's and the encoder pool's queues */
    CHECK_MSG(sg.pinned_frames >= 1 && sg.pinned_frames <= 12 + sg.encoders * (FP_ENCPOOL_QUEUE + 2),
              "%s: %d pinned frames with %d encoders", name, sg.pinned_frames, sg.encoders);
    if (compare(g, c, &frames, &pd, &maxd) == 0) {
        CHECK_MSG(frames == nframes, "%s: %d frames compared, %d expected", name, frames, nframes);
        CHECK_MSG(pd == 0, "%s: %d timestamps differ", name, pd);
        CHECK_MSG(maxd <= tol, "%s: largest sample difference %d, tolerance %d", name, maxd, tol);
        printf("  %s: %d frames, timestamps equal, max difference %d (tolerance %d), %d pinned frames\n", name,
               frames, maxd, tol, sg.pinned_frames);
    } else {
        CHECK_MSG(0, "%s: outputs unreadable", name);
    }
}

int main(void)
{
    const char *dir = getenv("FP_TEST_TMP") ? getenv("FP_TEST_TMP") : "/tmp";
    char cmd[1400], clip[512], green[512], why[256];
    int ndev = 0;
    fp_transcode_opts o;
    fp_key key;

    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
        fprintf(stderr, "SKIP: no CUDA device\n");
        return 77;
    }
    test_key_twin();

    snprintf(clip, sizeof(clip), "%s/devpath_h264.mp4", dir);
    snprintf(green, sizeof(green), "%s/devpath_green.mp4", dir);
    snprintf(cmd, sizeof(cmd),
             "mkdir -p %s && ffmpeg -nostdin -y -v error -f lavfi -i testsrc2=size=320x240:rate=25:duration=2 "
             "-c:v libx264 -pix_fmt yuv420p -g 25 %s && ffmpeg -nostdin -y -v error -f lavfi -i "
             "color=c=0x00FF00:size=320x240:rate=25:duration=1 -vf "
             "drawbox=x=80:y=60:w=160:h=120:color=0xFF0000:t=fill,format=yuv420p -c:v libx264 -qp 0 %s",
             dir, clip, green);
    if (system(cmd) != 0) {
        SKIP("no ffmpeg CLI with libx264 to make the clips");
        return fp_test_finish("gpu.test_devpath");
    }
    {
        AVFormatContext *f = NULL;
        int nv = -1;
        if (avformat_open_input(&f, clip, NULL, NULL) == 0 && avformat_find_stream_info(f, NULL) >= 0)
            nv = fp_decode_path_choose(f->streams[0]->codecpar, FP_DECODE_GPU, NULL, why, sizeof(why));
        avformat_close_input(&f);
        if (nv != 1) {
            fprintf(stderr, "SKIP: NVDEC cannot decode the test clip: %s\n", why);
            fp_test_finish("gpu.test_devpath");
            return fp_test_failed ? 1 : 77;
        }
    }

    fp_transcode_opts_default(&o);
    o.vcodec = "ffv1";
    pair("plain", clip, dir, &o, 50, 0);

    fp_transcode_opts_default(&o);
    o.vcodec = "ffv1";
    o.crop = (fp_rect){ 11, 7, 250, 170 };
    o.scale_w = 160;
    o.scale_h = 120;
    pair("crop_scale", clip, dir, &o, 50, 1);

    fp_transcode_opts_default(&o);
    o.vcodec = "ffv1";
    memset(&key, 0, sizeof(key));
    fp_key_parse_color("00FF00", key.rgb);
    key.tolerance = 0.1f;
    key.softness = 0.05f;
    {
        fp_process_stage st = { "key", 1, key_host, &key, key_dev };
        o.stage = &st;
        pair("key", green, dir, &o, 25, 1);
    }

    /* decode only: -o null with NVDEC counts frames without downloading or encoding them */
    {
        fp_transcode_stats s = { 0 };
        fp_transcode_opts_default(&o);
        CHECK(run(clip, "null", FP_DECODE_GPU, &o, &s) == 0);
        CHECK_MSG(s.frames_out == 50 && s.gpu_decode == 1 && s.device_path == 0,
                  "decode only: %lld frames, NVDEC %d, device path %d", (long long)s.frames_out, s.gpu_decode,
                  s.device_path);
    }
    return fp_test_finish("gpu.test_devpath");
}
