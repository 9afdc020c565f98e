/*
 * test_nvdec — GPU machine only (label gpu): NVDEC through FFmpeg's CUDA hwaccel. An H.264 clip
 * decodes on the GPU with frames in device memory (AV_PIX_FMT_CUDA, NV12 underneath), framepipe can
 * reach FFmpeg's CUcontext, the frame count equals the CPU decode, and the downloaded luma equals the
 * CPU decoder's bit for bit (H.264 decoding is exact). AV1 on Hopper falls back with a reason.
 */
#include "media/fp_input.h"

#include <libavutil/hwcontext.h>

#include "fp_test.h"

static int decode_all(const char *path, fp_decode_mode mode, uint32_t *luma_sum, int *gpu, void **cuctx)
{
    fp_input_opts o;
    fp_input *in = NULL;
    fp_err e;
    AVFrame *f = av_frame_alloc(), *sw = av_frame_alloc();
    int n = 0, ret;
    fp_input_opts_default(&o);
    o.decode = mode;
    fp_err_clear(&e);
    if (fp_input_open(&in, path, &o, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return -1;
    }
    *gpu = fp_input_uses_gpu(in);
    *cuctx = fp_input_cuda_context(in);
    *luma_sum = 0;
    while ((ret = fp_input_read_frame(in, f, &e)) == 0) {
        AVFrame *src = f;
        if (f->format == AV_PIX_FMT_CUDA) {
            av_frame_unref(sw);
            if (av_hwframe_transfer_data(sw, f, 0) < 0)
                break;
            src = sw;
        }
        for (int y = 0; y < src->height; y++)
            for (int x = 0; x < src->width; x++)
                *luma_sum = *luma_sum * 31 + src->data[0][y * src->linesize[0] + x];
        n++;
        av_frame_unref(f);
    }
    av_frame_free(&f);
    av_frame_free(&sw);
    fp_input_freep(&in);
    return n;
}

int main(int argc, char **argv)
{
    char cmd[1024];
    const char *dir = getenv("FP_TEST_TMP") ? getenv("FP_TEST_TMP") : "/tmp";
    char h264[512], av1[512];
    uint32_t s_gpu = 0, s_cpu = 0;
    int gpu = 0, cpu = 0;
    void *ctx = NULL, *ctx_cpu = NULL;

    snprintf(h264, sizeof(h264), "%s/nvdec_h264.mp4", dir);
    snprintf(av1, sizeof(av1), "%s/nvdec_av1.mkv", dir);
    snprintf(cmd, sizeof(cmd), "mkdir -p %s && ffmpeg -nostdin -y -v error -f lavfi -i testsrc2=size=320x240:rate=25:duration=2 "
             "-c:v libx264 -pix_fmt yuv420p %s", dir, h264);
    if (system(cmd) != 0) {
        SKIP("no ffmpeg CLI to make the clip");
        return fp_test_finish("media.nvdec");
    }
    {
        int n_gpu = decode_all(h264, FP_DECODE_GPU, &s_gpu, &gpu, &ctx);
        int n_cpu = decode_all(h264, FP_DECODE_CPU, &s_cpu, &cpu, &ctx_cpu);
        CHECK_MSG(n_gpu == 50 && n_cpu == 50, "frames gpu %d cpu %d", n_gpu, n_cpu);
        CHECK(gpu == 1 && cpu == 0);
        CHECK(ctx != NULL && ctx_cpu == NULL);
        CHECK_MSG(s_gpu == s_cpu, "NVDEC luma differs from the CPU decoder's");
    }
    /* AV1: Hopper's NVDEC has no AV1; auto falls back with a reason, gpu refuses */
    snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -y -v error -f lavfi -i testsrc2=size=320x240:rate=25:duration=1 "
             "-c:v libsvtav1 %s 2>/dev/null", av1);
    if (system(cmd) == 0) {
        AVFormatContext *f = NULL;
        char why[256];
        if (avformat_open_input(&f, av1, NULL, NULL) == 0 && avformat_find_stream_info(f, NULL) >= 0) {
            int r = fp_decode_path_choose(f->streams[0]->codecpar, FP_DECODE_AUTO, NULL, why, sizeof(why));
            printf("av1: %s (%s)\n", r > 0 ? "NVDEC" : "CPU", why);
            CHECK(r >= 0 && why[0]);
        }
        avformat_close_input(&f);
    } else {
        SKIP("no AV1 encoder on this machine");
    }
    return fp_test_finish("media.nvdec");
}
