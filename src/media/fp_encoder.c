/*
 * fp_encoder — encoder table, pixel-format decision and refusals, instance opening. See
 * fp_encoder.h. Does not schedule instances (fp_encpool.c) or mux.
 */
#include "media/fp_encoder.h"

#include <stdio.h>
#include <string.h>

#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>

#include "core/fp_log.h"

static const fp_encoder_desc encoders[] = {
    /* name          pool  alpha muxers        fallback   profile alpha/4:4:4, default */
    { "libvpx-vp9",  1,    "webm,matroska",    NULL,      NULL,   NULL },
    { "prores_ks",   1,    "mov,matroska",     NULL,      "4444", "hq" },
    { "ffv1",        1,    "matroska,mov,avi", NULL,      NULL,   NULL },
    { "libx264",     1,    NULL,               NULL,      NULL,   NULL },
    { "libx265",     1,    NULL,               NULL,      NULL,   NULL },
    { "libsvtav1",   1,    NULL,               NULL,      NULL,   NULL },
    { "h264_nvenc",  0,    NULL,               "libx264", NULL,   NULL },
    { "hevc_nvenc",  0,    NULL,               "libx265", NULL,   NULL },
    { "wrapped_avframe", 0, "null",             NULL,      NULL,   NULL }, /* -o null: no encoding */
};

const fp_encoder_desc *fp_encoder_desc_find(const char *name)
{
    for (size_t i = 0; i < sizeof(encoders) / sizeof(encoders[0]); i++)
        if (!strcmp(encoders[i].name, name))
            return &encoders[i];
    return NULL;
}

const char *fp_encoder_default(const char *muxer, int alpha)
{
    static const struct { const char *muxer; const char *plain, *alpha; } t[] = {
        { "webm", "libvpx-vp9", "libvpx-vp9" },
        { "mov", "prores_ks", "prores_ks" },
        { "matroska", "libx264", "ffv1" },
        { "mp4", "libx264", "libx264" }, /* refused later with options if alpha */
        { "nut", "ffv1", "ffv1" },
        { "avi", "ffv1", "ffv1" },
        { "null", "wrapped_avframe", "wrapped_avframe" },
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (muxer && !strncmp(muxer, t[i].muxer, strlen(t[i].muxer)))
            return alpha ? t[i].alpha : t[i].plain;
    return "libx264";
}

static int in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        if (len == n && !strncmp(p, name, n))
            return 1;
        p = c ? c + 1 : NULL;
    }
    return 0;
}

/* First name of a muxer's comma list ("mov,mp4,m4a,..." -> "mov"). */
static void muxer_name(const AVOutputFormat *f, char *buf, size_t n)
{
    size_t len = strcspn(f->name, ",");
    if (len >= n)
        len = n - 1;
    memcpy(buf, f->name, len);
    buf[len] = '\0';
}

static int pix_alpha(enum AVPixelFormat f)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f);
    return d && (d->flags & AV_PIX_FMT_FLAG_ALPHA);
}

static int pix_depth(enum AVPixelFormat f)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f);
    return d ? d->comp[0].depth : 0;
}

/* Deepest format of the encoder; with alpha, returns -1 when the encoder has high-bit-depth formats
 * but none with alpha (VP9: 10-bit or alpha, not both), which is a limit of the codec and not a
 * choice the user could make differently with this encoder. */
static int encoder_max_depth(const AVCodec *c, int alpha)
{
    int any = 0, with_alpha = 0;
    if (!c->pix_fmts)
        return 16;
    for (const enum AVPixelFormat *p = c->pix_fmts; *p != AV_PIX_FMT_NONE; p++) {
        int d = pix_depth(*p);
        any = d > any ? d : any;
        if (pix_alpha(*p))
            with_alpha = d > with_alpha ? d : with_alpha;
    }
    if (alpha && any > 8 && with_alpha <= 8)
        return -1;
    return alpha ? with_alpha : any;
}

int fp_encoder_choose_format(const AVCodec *codec, const AVOutputFormat *ofmt, enum AVPixelFormat src,
                             enum AVPixelFormat forced, const char *out_path, enum AVPixelFormat *out,
                             fp_err *e)
{
    const fp_encoder_desc *d = fp_encoder_desc_find(codec->name);
    int alpha = pix_alpha(src), depth = pix_depth(src), loss = 0;
    char mux[32];
    enum AVPixelFormat best;

    muxer_name(ofmt, mux, sizeof(mux));
    if (forced != AV_PIX_FMT_NONE) {
        int ok = !codec->pix_fmts;
        for (const enum AVPixelFormat *p = codec->pix_fmts; p && *p != AV_PIX_FMT_NONE; p++)
            ok |= *p == forced;
        if (!ok)
            return fp_errorf(e, FP_EUNSUPPORTED, "%s: configure: encoder %s does not take --pix-fmt %s",
                             out_path, codec->name, av_get_pix_fmt_name(forced));
        alpha = pix_alpha(forced);
        depth = pix_depth(forced);
        best = forced;
    } else if (!codec->pix_fmts) {
        best = src;
    } else {
        best = avcodec_find_best_pix_fmt_of_list(codec->pix_fmts, src, alpha, &loss);
    }

    if (alpha && !pix_alpha(best))
        return fp_errorf(e, FP_EUNSUPPORTED,
                         "%s: configure: the video has alpha but %s cannot encode it (alpha would be lost); "
                         "use -c:v libvpx-vp9 (.webm), -c:v prores_ks (.mov) or -c:v ffv1 (.mkv), "
                         "or --pix-fmt %s to drop alpha",
                         out_path, codec->name, depth > 8 ? "yuv420p10le" : "yuv420p");
    if (alpha && (!d || !d->alpha_muxers || !in_list(d->alpha_muxers, mux)))
        return fp_errorf(e, FP_EUNSUPPORTED,
                         "%s: configure: the %s container cannot hold %s alpha; use %s",
                         out_path, mux, codec->name,
                         d && d->alpha_muxers && strstr(d->alpha_muxers, "webm") ? ".webm or .mkv"
                         : d && d->alpha_muxers                                   ? ".mov or .mkv"
                                                                                  : ".webm with -c:v libvpx-vp9");
    /* Only the drop to 8 bits is refused: 12-bit ProRes 4444 decodes re-encoding as 10-bit is the
     * format's own precision, not a loss anyone asked to be protected from. */
    if (depth > 8 && pix_depth(best) <= 8 && forced == AV_PIX_FMT_NONE && encoder_max_depth(codec, alpha) < 0)
        fp_log(FP_LOG_WARN, "encode",
               "%s: %s has no >8-bit format with alpha: the %d-bit input is encoded at 8 bits "
               "(-c:v prores_ks or -c:v ffv1 keep both)", out_path, codec->name, depth);
    else if (depth > 8 && pix_depth(best) <= 8 && forced == AV_PIX_FMT_NONE)
        return fp_errorf(e, FP_EUNSUPPORTED,
                         "%s: configure: the input is %d-bit but %s encodes at most %d bits here (precision "
                         "would be lost); use -c:v libx265, -c:v prores_ks, -c:v ffv1 or -c:v libsvtav1, "
                         "or --pix-fmt yuv420p to convert to 8 bits",
                         out_path, depth, codec->name, pix_depth(best));
    if (loss & FF_LOSS_CHROMA)
        fp_log(FP_LOG_INFO, "encode", "%s: %s takes %s, not %s: chroma is subsampled", out_path, codec->name,
               av_get_pix_fmt_name(best), av_get_pix_fmt_name(src));
    *out = best;
    return 0;
}

int fp_encoder_opt_add(AVDictionary **d, const char *name, const char *value, fp_err *e)
{
    char key[128];
    size_t n;
    while (*name == '-')
        name++;
    n = strlen(name);
    if (n == 0 || n >= sizeof(key))
        return fp_errorf(e, FP_EINVAL, "encoder option '%s': bad name", name);
    memcpy(key, name, n + 1);
    if (n > 2 && !strcmp(key + n - 2, ":v"))
        key[n - 2] = '\0';
    if (av_dict_set(d, key, value, 0) < 0)
        return fp_errorf(e, FP_ENOMEM, "encoder option '%s': out of memory", name);
    return 0;
}

int fp_encoder_open(AVCodecContext **out, const fp_encoder_cfg *c, fp_err *e)
{
    const fp_encoder_desc *d = fp_encoder_desc_find(c->codec->name);
    AVCodecContext *ctx = avcodec_alloc_context3(c->codec);
    AVDictionary *opts = NULL;
    AVDictionaryEntry *t;
    int ret;

    *out = NULL;
    if (!ctx)
        return fp_errorf(e, FP_ENOMEM, "encode: out of memory");
    ctx->width = c->width;
    ctx->height = c->height;
    ctx->pix_fmt = c->pix_fmt;
    ctx->time_base = c->time_base;
    ctx->framerate = c->framerate;
    ctx->sample_aspect_ratio = c->sar;
    ctx->colorspace = c->colorspace;
    ctx->color_range = c->color_range;
    ctx->color_primaries = c->color_primaries;
    ctx->color_trc = c->color_trc;
    if (c->threads > 0)
        ctx->thread_count = c->threads;
    if (c->gop > 0)
        ctx->gop_size = c->gop;
    if (c->global_header)
        ctx->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    av_dict_copy(&opts, c->opts, 0);
    /* libx265 ignores thread_count and sizes its pool to every core: N instances of it would each
     * start a thread per core. pools=N caps it, unless the user's x265-params already say. */
    if (c->threads > 0 && !strcmp(c->codec->name, "libx265")) {
        AVDictionaryEntry *xp = av_dict_get(opts, "x265-params", NULL, 0);
        if (!xp || !strstr(xp->value, "pools")) {
            char buf[512];
            snprintf(buf, sizeof(buf), "%s%spools=%d", xp ? xp->value : "", xp ? ":" : "", c->threads);
            av_dict_set(&opts, "x265-params", buf, 0);
        }
    }
    if (d && d->profile_default && !av_dict_get(opts, "profile", NULL, 0)) {
        const AVPixFmtDescriptor *pd = av_pix_fmt_desc_get(c->pix_fmt);
        int full = pix_alpha(c->pix_fmt) || (pd && pd->log2_chroma_w == 0);
        av_dict_set(&opts, "profile", full ? d->profile_alpha : d->profile_default, 0);
    }
    ret = avcodec_open2(ctx, c->codec, &opts);
    if (ret < 0) {
        char buf[128];
        av_strerror(ret, buf, sizeof(buf));
        avcodec_free_context(&ctx);
        av_dict_free(&opts);
        return fp_errorf(e, ret == AVERROR(EINVAL) ? FP_EINVAL : fp_err_from_averror(ret),
                         "encode: cannot open %s %dx%d %s: %s", c->codec->name, c->width, c->height,
                         av_get_pix_fmt_name(c->pix_fmt), buf);
    }
    if ((t = av_dict_get(opts, "", NULL, AV_DICT_IGNORE_SUFFIX))) {
        ret = fp_errorf(e, FP_EINVAL, "encode: %s has no option -%s", c->codec->name, t->key);
        avcodec_free_context(&ctx);
        av_dict_free(&opts);
        return ret;
    }
    av_dict_free(&opts);
    *out = ctx;
    return 0;
}

void fp_encoder_closep(AVCodecContext **pctx, int fed)
{
    AVCodecContext *ctx = *pctx;
    if (!ctx)
        return;
    if (!fed && avcodec_is_open(ctx) && !strcmp(ctx->codec->name, "libsvtav1")) {
        AVFrame *f = av_frame_alloc();
        if (f) {
            f->format = ctx->pix_fmt;
            f->width = ctx->width;
            f->height = ctx->height;
            f->pts = 0;
            if (av_frame_get_buffer(f, 0) >= 0) {
                const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(ctx->pix_fmt);
                for (int i = 0; i < 4 && f->buf[i]; i++)
                    memset(f->buf[i]->data, d->comp[0].depth > 8 ? 0x02 : 0x80, f->buf[i]->size);
                fed = avcodec_send_frame(ctx, f) >= 0;
            }
            av_frame_free(&f);
        }
    }
    if (fed && avcodec_is_open(ctx) && avcodec_send_frame(ctx, NULL) >= 0) {
        AVPacket *pkt = av_packet_alloc();
        while (pkt && avcodec_receive_packet(ctx, pkt) >= 0)
            av_packet_unref(pkt);
        av_packet_free(&pkt);
    }
    avcodec_free_context(pctx);
}
