/*
 * test_encoder — the encoder table, the pixel-format decision and its refusals (alpha into an
 * encoder/container that cannot hold it, 10-bit into an 8-bit-only encoder), option pass-through
 * spelling, and opening an instance with an unknown option.
 */
#include "media/fp_encoder.h"

#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

#include "fp_test.h"

static int choose(const char *enc, const char *file, enum AVPixelFormat src, enum AVPixelFormat forced,
                  enum AVPixelFormat *out, fp_err *e)
{
    const AVCodec *c = avcodec_find_encoder_by_name(enc);
    const AVOutputFormat *of = av_guess_format(NULL, file, NULL);
    fp_err_clear(e);
    if (!c || !of)
        return -1000;
    return fp_encoder_choose_format(c, of, src, forced, file, out, e);
}

int main(void)
{
    enum AVPixelFormat f = AV_PIX_FMT_NONE;
    fp_err e;
    AVDictionary *d = NULL;

    CHECK(fp_encoder_desc_find("libvpx-vp9") && fp_encoder_desc_find("libvpx-vp9")->poolable);
    CHECK(fp_encoder_desc_find("h264_nvenc") && !strcmp(fp_encoder_desc_find("h264_nvenc")->fallback, "libx264"));
    CHECK(fp_encoder_desc_find("nosuch") == NULL);
    CHECK(!strcmp(fp_encoder_default("webm", 1), "libvpx-vp9"));
    CHECK(!strcmp(fp_encoder_default("mov", 0), "prores_ks"));
    CHECK(!strcmp(fp_encoder_default("matroska", 1), "ffv1"));
    CHECK(!strcmp(fp_encoder_default("mp4", 0), "libx264"));

    /* plain 8-bit stays as it is */
    CHECK(choose("libx264", "o.mp4", AV_PIX_FMT_YUV420P, AV_PIX_FMT_NONE, &f, &e) == 0 && f == AV_PIX_FMT_YUV420P);
    /* alpha: VP9 in WebM keeps it as yuva420p; ProRes in MOV as yuva444p10 */
    CHECK(choose("libvpx-vp9", "o.webm", AV_PIX_FMT_YUVA420P, AV_PIX_FMT_NONE, &f, &e) == 0 && f == AV_PIX_FMT_YUVA420P);
    CHECK(choose("prores_ks", "o.mov", AV_PIX_FMT_YUVA444P12LE, AV_PIX_FMT_NONE, &f, &e) == 0 &&
          f == AV_PIX_FMT_YUVA444P10LE);
    CHECK(choose("ffv1", "o.mkv", AV_PIX_FMT_YUVA420P, AV_PIX_FMT_NONE, &f, &e) == 0 && f == AV_PIX_FMT_YUVA420P);
    /* alpha refused: H.264 cannot encode it; VP9 alpha in MP4 is lost */
    CHECK(choose("libx264", "o.mp4", AV_PIX_FMT_YUVA420P, AV_PIX_FMT_NONE, &f, &e) == FP_EUNSUPPORTED);
    CHECK_MSG(strstr(e.msg, "o.mp4: configure:") && strstr(e.msg, "libvpx-vp9"), "%s", e.msg);
    CHECK(choose("libvpx-vp9", "o.mp4", AV_PIX_FMT_YUVA420P, AV_PIX_FMT_NONE, &f, &e) == FP_EUNSUPPORTED);
    CHECK_MSG(strstr(e.msg, ".webm"), "%s", e.msg);
    CHECK(choose("prores_ks", "o.mp4", AV_PIX_FMT_YUVA444P10LE, AV_PIX_FMT_NONE, &f, &e) == FP_EUNSUPPORTED);
    /* an explicit --pix-fmt without alpha is the user's decision to drop it */
    CHECK(choose("libx264", "o.mp4", AV_PIX_FMT_YUVA420P, AV_PIX_FMT_YUV420P, &f, &e) == 0 && f == AV_PIX_FMT_YUV420P);
    /* 10-bit: kept by x265, refused by VP8 (8-bit only), accepted with an explicit --pix-fmt */
    CHECK(choose("libx265", "o.mkv", AV_PIX_FMT_YUV420P10LE, AV_PIX_FMT_NONE, &f, &e) == 0 &&
          f == AV_PIX_FMT_YUV420P10LE);
    CHECK(choose("libvpx", "o.webm", AV_PIX_FMT_YUV420P10LE, AV_PIX_FMT_NONE, &f, &e) == FP_EUNSUPPORTED);
    CHECK_MSG(strstr(e.msg, "10-bit") && strstr(e.msg, "--pix-fmt"), "%s", e.msg);
    CHECK(choose("libvpx", "o.webm", AV_PIX_FMT_YUV420P10LE, AV_PIX_FMT_YUV420P, &f, &e) == 0);
    /* ProRes takes 8-bit 4:2:0 as 10-bit 4:2:2 (no loss) */
    CHECK(choose("prores_ks", "o.mov", AV_PIX_FMT_YUV420P, AV_PIX_FMT_NONE, &f, &e) == 0 && f == AV_PIX_FMT_YUV422P10LE);
    /* a --pix-fmt the encoder does not take */
    CHECK(choose("libx264", "o.mp4", AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUVA420P, &f, &e) == FP_EUNSUPPORTED);

    /* option spelling: -b:v -> b, -crf -> crf */
    CHECK(fp_encoder_opt_add(&d, "-b:v", "1M", NULL) == 0 && av_dict_get(d, "b", NULL, 0));
    CHECK(fp_encoder_opt_add(&d, "-crf", "30", NULL) == 0 && !strcmp(av_dict_get(d, "crf", NULL, 0)->value, "30"));
    CHECK(fp_encoder_opt_add(&d, "-", "x", NULL) == FP_EINVAL);

    /* opening: a known option works, an unknown one fails naming it, nothing leaks (ASan) */
    {
        fp_encoder_cfg c = { 0 };
        AVCodecContext *ctx = NULL;
        c.codec = avcodec_find_encoder_by_name("ffv1");
        c.width = 64;
        c.height = 48;
        c.pix_fmt = AV_PIX_FMT_YUV420P;
        c.time_base = (AVRational){ 1, 25 };
        c.framerate = (AVRational){ 25, 1 };
        c.sar = (AVRational){ 1, 1 };
        av_dict_free(&d);
        av_dict_set(&d, "slices", "4", 0);
        c.opts = d;
        fp_err_clear(&e);
        CHECK(fp_encoder_open(&ctx, &c, &e) == 0 && ctx);
        fp_encoder_closep(&ctx, 0);
        av_dict_set(&d, "nosuchoption", "1", 0);
        c.opts = d;
        CHECK(fp_encoder_open(&ctx, &c, &e) == FP_EINVAL && ctx == NULL);
        CHECK_MSG(strstr(e.msg, "-nosuchoption"), "%s", e.msg);
        /* ProRes picks the 4444 profile by itself for alpha */
        c.codec = avcodec_find_encoder_by_name("prores_ks");
        c.pix_fmt = AV_PIX_FMT_YUVA444P10LE;
        c.opts = NULL;
        fp_err_clear(&e);
        CHECK(fp_encoder_open(&ctx, &c, &e) == 0 && ctx);
        if (ctx) {
            int64_t prof = -1;
            av_opt_get_int(ctx->priv_data, "profile", 0, &prof);
            CHECK_EQ_INT(prof, 4);
        }
        fp_encoder_closep(&ctx, 0);
    }
    av_dict_free(&d);
    return fp_test_finish("media.encoder");
}
