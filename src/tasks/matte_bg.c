/*
 * matte_bg — background picture or video for --composite. See matte_bg.h.
 *
 * Two decoded frames are kept: `cur` (on screen at the last asked time) and `next` (decoded ahead,
 * not yet due). The float RGB of `cur` is converted once per new frame (or new size).
 */
#include "tasks/matte_bg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>

struct fp_matte_bg {
    char *path;
    AVFormatContext *fc;
    AVCodecContext *cc;
    AVPacket *pkt;
    AVFrame *cur, *next;
    int si;
    AVRational tb;
    double first_t;               /* time of the first frame (its pts), NAN until decoded */
    double cur_t, next_t, frame_dur;
    int have_cur, have_next, eof;
    double length;                /* loop length; 0 until the end was seen */
    int64_t decoded, nframes_pass; /* decoded in all, and in this pass over the file */
    /* converted */
    struct SwsContext *sws;
    float *rgb;
    int rgb_w, rgb_h;
    int64_t rgb_serial, cur_serial;
};

static void close_file(fp_matte_bg *b)
{
    avcodec_free_context(&b->cc);
    avformat_close_input(&b->fc);
    av_frame_unref(b->cur);
    av_frame_unref(b->next);
    b->have_cur = b->have_next = b->eof = 0;
    b->nframes_pass = 0;
}

static int open_file(fp_matte_bg *b, fp_err *e)
{
    const AVCodec *c;
    AVStream *st;
    if (avformat_open_input(&b->fc, b->path, NULL, NULL) < 0 || avformat_find_stream_info(b->fc, NULL) < 0 ||
        (b->si = av_find_best_stream(b->fc, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0)) < 0)
        return fp_errorf(e, FP_EINPUT, "%s: composite: not a readable picture or video", b->path);
    st = b->fc->streams[b->si];
    if (!(c = avcodec_find_decoder(st->codecpar->codec_id)) || !(b->cc = avcodec_alloc_context3(c)) ||
        avcodec_parameters_to_context(b->cc, st->codecpar) < 0 || avcodec_open2(b->cc, c, NULL) < 0)
        return fp_errorf(e, FP_EINPUT, "%s: composite: cannot decode the background (%s)", b->path,
                         avcodec_get_name(st->codecpar->codec_id));
    b->tb = st->time_base;
    b->frame_dur = st->avg_frame_rate.num > 0 ? av_q2d(av_inv_q(st->avg_frame_rate))
                 : st->r_frame_rate.num > 0   ? av_q2d(av_inv_q(st->r_frame_rate))
                                              : 0.04;
    return 0;
}

int fp_matte_bg_open(fp_matte_bg **pb, const char *path, fp_err *e)
{
    fp_matte_bg *b = calloc(1, sizeof(*b));
    int ret;
    *pb = NULL;
    if (!b || !(b->path = strdup(path)) || !(b->pkt = av_packet_alloc()) || !(b->cur = av_frame_alloc()) ||
        !(b->next = av_frame_alloc())) {
        fp_matte_bg_freep(&b);
        return fp_errorf(e, FP_ENOMEM, "%s: composite: out of memory", path);
    }
    b->first_t = NAN;
    if ((ret = open_file(b, e)) < 0) {
        fp_matte_bg_freep(&b);
        return ret;
    }
    *pb = b;
    return 0;
}

void fp_matte_bg_freep(fp_matte_bg **pb)
{
    fp_matte_bg *b = *pb;
    if (!b)
        return;
    close_file(b);
    av_packet_free(&b->pkt);
    av_frame_free(&b->cur);
    av_frame_free(&b->next);
    sws_freeContext(b->sws);
    free(b->rgb);
    free(b->path);
    free(b);
    *pb = NULL;
}

int64_t fp_matte_bg_decoded(const fp_matte_bg *b) { return b->decoded; }
double fp_matte_bg_length(const fp_matte_bg *b) { return b->length; }

/* Decode the next frame into b->next. 1: got one, 0: end of file, < 0: error. */
static int decode_next(fp_matte_bg *b, fp_err *e)
{
    for (;;) {
        int r = avcodec_receive_frame(b->cc, b->next);
        if (r >= 0) {
            int64_t p = b->next->best_effort_timestamp != AV_NOPTS_VALUE ? b->next->best_effort_timestamp
                                                                          : b->next->pts;
            double t = p != AV_NOPTS_VALUE ? p * av_q2d(b->tb) : (b->have_cur ? b->cur_t + b->frame_dur : 0);
            if (isnan(b->first_t))
                b->first_t = t;
            b->next_t = t - b->first_t;
            b->have_next = 1;
            b->decoded++;
            b->nframes_pass++;
            return 1;
        }
        if (r == AVERROR_EOF)
            return 0;
        if (r != AVERROR(EAGAIN))
            return fp_errorf(e, FP_EINPUT, "%s: composite: decode error", b->path);
        if (b->eof)
            return 0;
        r = av_read_frame(b->fc, b->pkt);
        if (r < 0) {
            b->eof = 1;
            avcodec_send_packet(b->cc, NULL);
            continue;
        }
        if (b->pkt->stream_index == b->si && avcodec_send_packet(b->cc, b->pkt) < 0) {
            av_packet_unref(b->pkt);
            return fp_errorf(e, FP_EINPUT, "%s: composite: decode error", b->path);
        }
        av_packet_unref(b->pkt);
    }
}

static int restart(fp_matte_bg *b, fp_err *e)
{
    close_file(b);
    return open_file(b, e);
}

/* Make cur the frame on screen at `target` seconds since the first frame (target < length). */
static int seek_to(fp_matte_bg *b, double target, fp_err *e)
{
    int ret;
    if (b->have_cur && target + 1e-6 < b->cur_t) {
        if ((ret = restart(b, e)) < 0)
            return ret;
    } else if (b->have_cur && target > b->cur_t + 2.0 && !isnan(b->first_t)) {
        /* far ahead: seek to the keyframe before it instead of decoding everything between */
        int64_t ts = (int64_t)((target + b->first_t) / av_q2d(b->tb));
        if (av_seek_frame(b->fc, b->si, ts, AVSEEK_FLAG_BACKWARD) >= 0) {
            avcodec_flush_buffers(b->cc);
            av_frame_unref(b->next);
            b->have_next = b->eof = 0;
        }
    }
    for (;;) {
        if (!b->have_next) {
            if ((ret = decode_next(b, e)) < 0)
                return ret;
            if (!ret) {
                if (!b->have_cur)
                    return fp_errorf(e, FP_EINPUT, "%s: composite: no picture in the background", b->path);
                return 0; /* the last frame stays on screen */
            }
        }
        if (b->have_cur && b->next_t > target + 1e-6)
            return 0;
        /* next is due (or there is no cur yet: the first frame covers everything before it) */
        av_frame_unref(b->cur);
        av_frame_move_ref(b->cur, b->next);
        b->cur_t = b->next_t;
        b->have_cur = 1;
        b->have_next = 0;
        b->cur_serial++;
    }
}

static int to_rgb(fp_matte_bg *b, int w, int h, fp_err *e)
{
    AVFrame *f = b->cur;
    uint8_t *dst[4] = { 0 };
    int dls[4];
    const int *coef;
    if (b->rgb && b->rgb_w == w && b->rgb_h == h && b->rgb_serial == b->cur_serial)
        return 0;
    if (!b->rgb || b->rgb_w != w || b->rgb_h != h) {
        float *p = realloc(b->rgb, (size_t)w * h * 3 * sizeof(float));
        if (!p)
            return fp_errorf(e, FP_ENOMEM, "%s: composite: out of memory", b->path);
        b->rgb = p;
        b->rgb_w = w;
        b->rgb_h = h;
    }
    b->sws = sws_getCachedContext(b->sws, f->width, f->height, f->format, w, h, AV_PIX_FMT_GBRPF32LE, SWS_BICUBIC,
                                  NULL, NULL, NULL);
    if (!b->sws || av_image_alloc(dst, dls, w, h, AV_PIX_FMT_GBRPF32LE, 64) < 0) {
        av_freep(&dst[0]);
        return fp_errorf(e, FP_ENOMEM, "%s: composite: cannot scale the background", b->path);
    }
    /* the background's own YUV matrix and range (swscale assumes BT.601 limited otherwise) */
    coef = sws_getCoefficients(f->colorspace == AVCOL_SPC_BT709 ? SWS_CS_ITU709
                               : f->colorspace == AVCOL_SPC_BT2020_NCL || f->colorspace == AVCOL_SPC_BT2020_CL
                                   ? SWS_CS_BT2020
                                   : SWS_CS_DEFAULT);
    sws_setColorspaceDetails(b->sws, coef, f->color_range == AVCOL_RANGE_JPEG, sws_getCoefficients(SWS_CS_DEFAULT), 1,
                             0, 1 << 16, 1 << 16);
    sws_scale(b->sws, (const uint8_t *const *)f->data, f->linesize, 0, f->height, dst, dls);
    /* GBRP planes are G, B, R: reorder into planar R, G, B */
    for (int c = 0; c < 3; c++) {
        int plane = c == 0 ? 2 : c == 1 ? 0 : 1;
        for (int y = 0; y < h; y++) {
            const float *row = (const float *)(dst[plane] + (size_t)y * dls[plane]);
            float *o = b->rgb + (size_t)c * w * h + (size_t)y * w;
            for (int x = 0; x < w; x++)
                o[x] = row[x] < 0 ? 0 : row[x] > 1 ? 1 : row[x];
        }
    }
    av_freep(&dst[0]);
    b->rgb_serial = b->cur_serial;
    return 0;
}

int fp_matte_bg_at(fp_matte_bg *b, double t, int w, int h, const float **rgb, fp_err *e)
{
    int ret;
    double target;
    if (w <= 0 || h <= 0)
        return fp_errorf(e, FP_EINVAL, "%s: composite: empty frame size", b->path);
    if (t < 0)
        t = 0;
    for (;;) {
        target = b->length > 0 ? fmod(t, b->length) : t;
        if ((ret = seek_to(b, target, e)) < 0)
            return ret;
        if (b->length > 0 || !b->eof || b->have_next)
            break;
        /* the end of the background: its length is the last frame's time plus its duration */
        b->length = b->cur_t + b->frame_dur;
        if (b->nframes_pass <= 1 && b->cur_t == 0)
            break; /* one picture: on screen for every frame, nothing to reopen */
        if (t < b->length)
            break;
    }
    if ((ret = to_rgb(b, w, h, e)) < 0)
        return ret;
    *rgb = b->rgb;
    return 0;
}

int fp_matte_bg_stage_process(void *opaque, const fp_planar *rgb, const fp_planar *alpha, int64_t pts, fp_err *e)
{
    fp_matte_bg_stage *bs = opaque;
    const float *bg;
    int64_t start = bs->start_pts == AV_NOPTS_VALUE ? 0 : bs->start_pts;
    double t = pts == AV_NOPTS_VALUE ? 0 : (pts - start) * av_q2d(bs->time_base);
    int ret;
    if ((ret = fp_matte_bg_at(bs->bg, t, rgb->width, rgb->height, &bg, e)) < 0)
        return ret;
    bs->s->bg_image = bg;
    bs->s->bg_w = rgb->width;
    bs->s->bg_h = rgb->height;
    return fp_matte_stage_process(bs->s, rgb, alpha, pts, e);
}
