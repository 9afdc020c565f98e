/*
 * fp_audio — audio transcoding for containers that cannot hold the source's audio. See fp_audio.h.
 *
 * Path: packet -> decoder -> swresample (to the encoder's format, rate and layout) -> sample FIFO ->
 * encoder frames of frame_size samples -> the caller's write function. The FIFO is there because
 * decoders and encoders disagree on frame sizes (AAC 1024, Opus 960 at 48 kHz, PCM anything).
 */
#include "media/fp_audio.h"

#include <string.h>

#include <libavutil/audio_fifo.h>
#include <libavutil/avstring.h>
#include <libavutil/channel_layout.h>
#include <libavutil/eval.h>
#include <libswresample/swresample.h>

#include "core/fp_log.h"

struct fp_audio {
    AVFormatContext *out;   /* borrowed */
    int oindex;
    AVRational in_tb;
    AVCodecContext *dec, *enc;
    SwrContext *swr;
    AVAudioFifo *fifo;
    AVFrame *dframe, *eframe;
    AVPacket *pkt;
    int64_t next_pts;       /* encoder time base (1/sample_rate); AV_NOPTS_VALUE until the first frame */
    int64_t samples, skipped;
    int flushed;
    char out_path[256];
};

int fp_audio_parse_bitrate(const char *s, int64_t *bps)
{
    char *end;
    double v;
    if (!s || !*s)
        return FP_EINVAL;
    v = av_strtod(s, &end); /* FFmpeg's own suffixes: k, M, G (and Ki, Mi) */
    if (*end || v <= 0 || v > 1e9)
        return FP_EINVAL;
    *bps = (int64_t)(v + 0.5);
    return 0;
}

/* The encoder used for a container that cannot hold the source's audio: the first one this FFmpeg
 * build has, from a short list per container family. *tried receives the list for the message. */
static const AVCodec *auto_encoder(const AVOutputFormat *of, const char **tried)
{
    static const char *webm[] = { "libopus", "libvorbis", NULL };
    static const char *mp4[] = { "aac", "libfdk_aac", NULL };
    const char **list = NULL;
    if (!strncmp(of->name, "webm", 4))
        list = webm, *tried = "libopus, libvorbis";
    else if (!strncmp(of->name, "mov", 3) || !strncmp(of->name, "mp4", 3) || !strcmp(of->name, "ipod") ||
             !strcmp(of->name, "3gp"))
        list = mp4, *tried = "aac, libfdk_aac";
    if (list) {
        for (int i = 0; list[i]; i++) {
            const AVCodec *c = avcodec_find_encoder_by_name(list[i]);
            if (c)
                return c;
        }
        return NULL;
    }
    *tried = of->audio_codec != AV_CODEC_ID_NONE ? avcodec_get_name(of->audio_codec) : "(the container names none)";
    return of->audio_codec != AV_CODEC_ID_NONE ? avcodec_find_encoder(of->audio_codec) : NULL;
}

/* Whether the muxer takes this stream as it is. avformat_query_codec is not enough: the MOV muxer lists
 * Opus and then refuses it at the header ("opus only supported in MP4"), AVI likewise; so write a
 * header for the stream alone into a memory buffer and see. */
static int muxer_takes(const AVOutputFormat *of, const AVCodecParameters *par, AVRational tb)
{
    AVFormatContext *c = NULL;
    AVStream *st;
    uint8_t *buf = NULL;
    int ok = 0;
    if (avformat_query_codec(of, par->codec_id, FF_COMPLIANCE_NORMAL) == 0)
        return 0;
    if (avformat_alloc_output_context2(&c, of, NULL, NULL) < 0)
        return 0;
    if ((st = avformat_new_stream(c, NULL)) && avcodec_parameters_copy(st->codecpar, par) >= 0) {
        st->codecpar->codec_tag = 0;
        st->time_base = tb;
        if ((of->flags & AVFMT_NOFILE) || avio_open_dyn_buf(&c->pb) >= 0) {
            ok = avformat_write_header(c, NULL) >= 0;
            if (c->pb)
                avio_close_dyn_buf(c->pb, &buf);
            c->pb = NULL;
            av_free(buf);
        }
    }
    avformat_free_context(c);
    return ok;
}

static int pick_rate(const AVCodec *c, int want)
{
    const int *r = c->supported_samplerates;
    int best = 0;
    if (!r)
        return want;
    for (; *r; r++) {
        if (*r == want)
            return want;
        /* the smallest rate above the source's keeps all of it; else the largest below */
        if ((*r > want && (best < want || *r < best)) || (best < want && *r > best))
            best = *r;
    }
    return best ? best : want;
}

static int pick_layout(const AVCodec *c, const AVChannelLayout *in, AVChannelLayout *out)
{
    const AVChannelLayout *l = c->ch_layouts;
    AVChannelLayout src;
    int ret;
    if (in->order == AV_CHANNEL_ORDER_UNSPEC || in->nb_channels < 1)
        av_channel_layout_default(&src, in->nb_channels > 0 ? in->nb_channels : 2);
    else if ((ret = av_channel_layout_copy(&src, in)) < 0)
        return ret;
    if (!l) {
        *out = src;
        return 0;
    }
    for (; l->nb_channels; l++)
        if (!av_channel_layout_compare(l, &src)) {
            av_channel_layout_uninit(&src);
            return av_channel_layout_copy(out, l);
        }
    for (l = c->ch_layouts; l->nb_channels; l++)
        if (l->nb_channels == src.nb_channels) {
            av_channel_layout_uninit(&src);
            return av_channel_layout_copy(out, l);
        }
    av_channel_layout_uninit(&src);
    return av_channel_layout_copy(out, &(AVChannelLayout)AV_CHANNEL_LAYOUT_STEREO);
}

static enum AVSampleFormat pick_fmt(const AVCodec *c, enum AVSampleFormat want)
{
    const enum AVSampleFormat *f = c->sample_fmts;
    if (!f)
        return want;
    for (; *f != AV_SAMPLE_FMT_NONE; f++)
        if (*f == want)
            return want;
    return c->sample_fmts[0];
}

int fp_audio_open(fp_audio **pa, const AVStream *is, AVFormatContext *out, const fp_audio_opts *ao,
                  const char *in_path, const char *out_path, fp_err *e)
{
    const AVOutputFormat *of = out->oformat;
    const AVCodecParameters *par = is->codecpar;
    const char *want = ao ? ao->codec : NULL;
    const char *tried = "";
    const AVCodec *enc = NULL, *dec;
    int holds = muxer_takes(of, par, is->time_base);
    char mux[32];
    fp_audio *a;
    AVStream *os;
    AVChannelLayout in_layout = { 0 };
    int ret;

    *pa = NULL;
    snprintf(mux, sizeof(mux), "%.*s", (int)strcspn(of->name, ","), of->name);
    if (want && !strcmp(want, "copy")) {
        if (holds)
            return 0;
        return fp_errorf(e, FP_EUNSUPPORTED,
                         "%s: configure: the %s container cannot hold audio stream #%d (%s) of %s and -c:a copy "
                         "was asked; use -c:a %s, -an to leave it out, or a .mkv output",
                         out_path, mux, is->index, avcodec_get_name(par->codec_id), in_path,
                         !strcmp(mux, "webm") ? "libopus" : "aac");
    }
    if (!want && holds)
        return 0;
    if (want) {
        enc = avcodec_find_encoder_by_name(want);
        if (!enc || enc->type != AVMEDIA_TYPE_AUDIO)
            return fp_errorf(e, FP_EINVAL, "%s: configure: -c:a %s: no such audio encoder in this FFmpeg build",
                             out_path, want);
        if (avformat_query_codec(of, enc->id, FF_COMPLIANCE_NORMAL) == 0)
            return fp_errorf(e, FP_EUNSUPPORTED, "%s: configure: the %s container cannot hold %s audio (-c:a %s)",
                             out_path, mux, avcodec_get_name(enc->id), want);
    } else if (!(enc = auto_encoder(of, &tried))) {
        return fp_errorf(e, FP_EUNSUPPORTED,
                         "%s: configure: the %s container cannot hold audio stream #%d (%s) of %s, and this FFmpeg "
                         "build has none of the encoders that would convert it (%s); use -an to leave it out, "
                         "or a .mkv output",
                         out_path, mux, is->index, avcodec_get_name(par->codec_id), in_path, tried);
    }
    if (!(dec = avcodec_find_decoder(par->codec_id)))
        return fp_errorf(e, FP_EUNSUPPORTED,
                         "%s: configure: audio stream #%d (%s) of %s has no decoder in this FFmpeg build; use -an",
                         out_path, is->index, avcodec_get_name(par->codec_id), in_path);

    if (!(a = av_mallocz(sizeof(*a))))
        return fp_errorf(e, FP_ENOMEM, "%s: audio: out of memory", out_path);
    a->out = out;
    a->in_tb = is->time_base;
    a->next_pts = AV_NOPTS_VALUE;
    av_strlcpy(a->out_path, out_path, sizeof(a->out_path));
    a->dec = avcodec_alloc_context3(dec);
    a->enc = avcodec_alloc_context3(enc);
    a->dframe = av_frame_alloc();
    a->eframe = av_frame_alloc();
    a->pkt = av_packet_alloc();
    if (!a->dec || !a->enc || !a->dframe || !a->eframe || !a->pkt ||
        avcodec_parameters_to_context(a->dec, par) < 0) {
        ret = fp_errorf(e, FP_ENOMEM, "%s: audio: out of memory", out_path);
        goto fail;
    }
    a->dec->pkt_timebase = is->time_base;
    if ((ret = avcodec_open2(a->dec, dec, NULL)) < 0) {
        ret = fp_errorf(e, FP_EUNSUPPORTED, "%s: configure: cannot open the %s decoder for audio stream #%d",
                        in_path, dec->name, is->index);
        goto fail;
    }

    a->enc->sample_rate = pick_rate(enc, a->dec->sample_rate > 0 ? a->dec->sample_rate : 48000);
    a->enc->sample_fmt = pick_fmt(enc, a->dec->sample_fmt);
    if ((ret = av_channel_layout_copy(&in_layout, &a->dec->ch_layout)) < 0 ||
        (ret = pick_layout(enc, &in_layout, &a->enc->ch_layout)) < 0) {
        ret = fp_errorf(e, FP_ENOMEM, "%s: audio: out of memory", out_path);
        goto fail;
    }
    a->enc->time_base = (AVRational){ 1, a->enc->sample_rate };
    if (ao && ao->bitrate > 0)
        a->enc->bit_rate = ao->bitrate;
    a->enc->strict_std_compliance = FF_COMPLIANCE_EXPERIMENTAL; /* "-c:a opus" (FFmpeg's own) is experimental */
    if (of->flags & AVFMT_GLOBALHEADER)
        a->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if ((ret = avcodec_open2(a->enc, enc, NULL)) < 0) {
        char buf[128];
        av_strerror(ret, buf, sizeof(buf));
        ret = fp_errorf(e, FP_EUNSUPPORTED, "%s: configure: cannot open the %s audio encoder (%d Hz, %d channels): %s",
                        out_path, enc->name, a->enc->sample_rate, a->enc->ch_layout.nb_channels, buf);
        goto fail;
    }
    if (!(a->fifo = av_audio_fifo_alloc(a->enc->sample_fmt, a->enc->ch_layout.nb_channels, 4096)) ||
        !(os = avformat_new_stream(out, NULL)) || avcodec_parameters_from_context(os->codecpar, a->enc) < 0) {
        ret = fp_errorf(e, FP_ENOMEM, "%s: audio: out of memory", out_path);
        goto fail;
    }
    os->time_base = a->enc->time_base;
    os->disposition = is->disposition;
    av_dict_copy(&os->metadata, is->metadata, 0);
    a->oindex = os->index;
    fp_log(FP_LOG_INFO, "audio", "%s: audio stream #%d: %s -> %s, %d Hz, %d ch%s", out_path, is->index,
           avcodec_get_name(par->codec_id), enc->name, a->enc->sample_rate, a->enc->ch_layout.nb_channels,
           want ? "" : " (the container cannot hold it as it is; -c:a copy refuses, -an leaves it out)");
    av_channel_layout_uninit(&in_layout);
    *pa = a;
    return 1;
fail:
    av_channel_layout_uninit(&in_layout);
    fp_audio_freep(&a);
    return ret;
}

int fp_audio_stream_index(const fp_audio *a) { return a->oindex; }
int64_t fp_audio_samples(const fp_audio *a) { return a->samples; }
int64_t fp_audio_skipped(const fp_audio *a) { return a->skipped; }

/* Sends one encoder frame (NULL: end of stream) and writes what comes out. */
static int encode(fp_audio *a, AVFrame *f, fp_audio_write_fn write, void *opaque, fp_err *e)
{
    int ret = avcodec_send_frame(a->enc, f);
    if (ret < 0 && ret != AVERROR_EOF)
        return fp_errorf(e, FP_EINTERNAL, "%s: audio: %s encoder refused a frame", a->out_path, a->enc->codec->name);
    for (;;) {
        ret = avcodec_receive_packet(a->enc, a->pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret < 0)
            return fp_errorf(e, FP_EINTERNAL, "%s: audio: %s encoder failed", a->out_path, a->enc->codec->name);
        av_packet_rescale_ts(a->pkt, a->enc->time_base, a->out->streams[a->oindex]->time_base);
        a->pkt->stream_index = a->oindex;
        ret = write(opaque, a->pkt);
        av_packet_unref(a->pkt);
        if (ret < 0)
            return ret;
    }
}

/* Encodes whole frames from the FIFO; at the end (last) also the partial rest, padded with silence
 * for encoders that cannot take a short last frame. */
static int drain_fifo(fp_audio *a, int last, fp_audio_write_fn write, void *opaque, fp_err *e)
{
    int fs = a->enc->frame_size > 0 && !(a->enc->codec->capabilities & AV_CODEC_CAP_VARIABLE_FRAME_SIZE)
                 ? a->enc->frame_size
                 : 1024;
    while (av_audio_fifo_size(a->fifo) >= fs || (last && av_audio_fifo_size(a->fifo) > 0)) {
        int n = FFMIN(fs, av_audio_fifo_size(a->fifo)), alloc = n, ret;
        if (n < fs && a->enc->frame_size > 0 &&
            !(a->enc->codec->capabilities & (AV_CODEC_CAP_SMALL_LAST_FRAME | AV_CODEC_CAP_VARIABLE_FRAME_SIZE)))
            alloc = fs;
        av_frame_unref(a->eframe);
        a->eframe->nb_samples = alloc;
        a->eframe->format = a->enc->sample_fmt;
        a->eframe->sample_rate = a->enc->sample_rate;
        if (av_channel_layout_copy(&a->eframe->ch_layout, &a->enc->ch_layout) < 0 ||
            av_frame_get_buffer(a->eframe, 0) < 0)
            return fp_errorf(e, FP_ENOMEM, "%s: audio: out of memory", a->out_path);
        if (av_audio_fifo_read(a->fifo, (void **)a->eframe->data, n) != n)
            return fp_errorf(e, FP_EINTERNAL, "%s: audio: sample FIFO read failed", a->out_path);
        if (alloc > n)
            av_samples_set_silence(a->eframe->data, n, alloc - n, a->enc->ch_layout.nb_channels, a->enc->sample_fmt);
        a->eframe->pts = a->next_pts;
        a->next_pts += n;
        a->samples += n;
        if ((ret = encode(a, a->eframe, write, opaque, e)) < 0)
            return ret;
    }
    return 0;
}

/* Resamples (f NULL: flushes the resampler) into the FIFO. */
static int resample(fp_audio *a, const AVFrame *f, fp_err *e)
{
    int room, got;
    uint8_t **buf = NULL;
    if (!a->swr) {
        AVChannelLayout src;
        if (!f)
            return 0;
        if (f->ch_layout.order == AV_CHANNEL_ORDER_UNSPEC)
            av_channel_layout_default(&src, f->ch_layout.nb_channels);
        else if (av_channel_layout_copy(&src, &f->ch_layout) < 0)
            return fp_errorf(e, FP_ENOMEM, "%s: audio: out of memory", a->out_path);
        if (swr_alloc_set_opts2(&a->swr, &a->enc->ch_layout, a->enc->sample_fmt, a->enc->sample_rate, &src, f->format,
                                f->sample_rate, 0, NULL) < 0 ||
            swr_init(a->swr) < 0) {
            av_channel_layout_uninit(&src);
            return fp_errorf(e, FP_EUNSUPPORTED, "%s: audio: cannot convert %d Hz %d ch to %d Hz %d ch", a->out_path,
                             f->sample_rate, f->ch_layout.nb_channels, a->enc->sample_rate,
                             a->enc->ch_layout.nb_channels);
        }
        av_channel_layout_uninit(&src);
    }
    room = swr_get_out_samples(a->swr, f ? f->nb_samples : 0);
    if (room <= 0)
        return 0;
    if (av_samples_alloc_array_and_samples(&buf, NULL, a->enc->ch_layout.nb_channels, room, a->enc->sample_fmt, 0) < 0)
        return fp_errorf(e, FP_ENOMEM, "%s: audio: out of memory", a->out_path);
    got = swr_convert(a->swr, buf, room, f ? (const uint8_t **)f->extended_data : NULL, f ? f->nb_samples : 0);
    if (got > 0 && av_audio_fifo_write(a->fifo, (void **)buf, got) < got)
        got = FP_ENOMEM;
    av_freep(&buf[0]);
    av_freep(&buf);
    if (got < 0)
        return fp_errorf(e, got == FP_ENOMEM ? FP_ENOMEM : FP_EINTERNAL, "%s: audio: resampling failed", a->out_path);
    return 0;
}

static int decoded(fp_audio *a, fp_audio_write_fn write, void *opaque, fp_err *e)
{
    for (;;) {
        int ret = avcodec_receive_frame(a->dec, a->dframe);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret < 0) {
            a->skipped++; /* a frame the decoder could not make; the next packet may */
            return 0;
        }
        if (a->next_pts == AV_NOPTS_VALUE) {
            /* The first sample keeps its source time; the rest follow by count, so the output lasts
             * exactly as many samples as were decoded (no drift from rounded packet timestamps). */
            int64_t ts = a->dframe->best_effort_timestamp;
            a->next_pts = ts == AV_NOPTS_VALUE ? 0 : av_rescale_q(ts, a->in_tb, a->enc->time_base);
        }
        ret = resample(a, a->dframe, e);
        av_frame_unref(a->dframe);
        if (ret < 0 || (ret = drain_fifo(a, 0, write, opaque, e)) < 0)
            return ret;
    }
}

int fp_audio_send(fp_audio *a, const AVPacket *pkt, fp_audio_write_fn write, void *opaque, fp_err *e)
{
    int ret;
    if (a->flushed)
        return 0;
    if (pkt) {
        ret = avcodec_send_packet(a->dec, pkt);
        if (ret < 0 && ret != AVERROR(EAGAIN)) {
            a->skipped++; /* a corrupt audio packet costs its samples, not the run */
            return 0;
        }
        return decoded(a, write, opaque, e);
    }
    a->flushed = 1;
    avcodec_send_packet(a->dec, NULL);
    if ((ret = decoded(a, write, opaque, e)) < 0 || (ret = resample(a, NULL, e)) < 0 ||
        (ret = drain_fifo(a, 1, write, opaque, e)) < 0)
        return ret;
    return encode(a, NULL, write, opaque, e);
}

void fp_audio_freep(fp_audio **pa)
{
    fp_audio *a = *pa;
    if (!a)
        return;
    avcodec_free_context(&a->dec);
    avcodec_free_context(&a->enc);
    swr_free(&a->swr);
    if (a->fifo)
        av_audio_fifo_free(a->fifo);
    av_frame_free(&a->dframe);
    av_frame_free(&a->eframe);
    av_packet_free(&a->pkt);
    av_freep(pa);
}
