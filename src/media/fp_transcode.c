/*
 * fp_transcode — configure-then-run of one file or frame range. See fp_transcode.h.
 *
 * Threads: three fp_pipeline stages (decode | process | encode) with bounded queues; the encode stage
 * feeds the encoder pool, whose own threads (fp_encpool.c) are where the time goes for CPU encoders.
 * Copied and transcoded audio (fp_audio.c) is muxed from the decode stage, under mux_lock. Progress
 * lines and the per-stage table are the pipeline module's (fp_progress, fp_metrics).
 *
 * Output safety is fp_output's (pipeline module): everything is written under a temporary name beside
 * the output and renamed over the final name only after the trailer is written and the file closed
 * without error; on any failure, interruption or watchdog stall the temporary file is removed.
 */
#include "media/fp_transcode.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libavutil/avstring.h>
#include <libavutil/hwcontext.h>
#include <libavutil/imgutils.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>

#include "core/fp_log.h"
#include "media/fp_devpath.h"
#include "media/fp_encoder.h"
#include "pipeline/fp_output.h"
#include "pipeline/fp_pipeline.h"
#include "pipeline/fp_progress.h"
#include "media/fp_encpool.h"

struct fp_transcode {
    fp_transcode_opts o;
    fp_input *in;
    AVStream *ist;

    AVFormatContext *out;
    fp_output *outp;     /* the temporary file; NULL once published or aborted */
    int header_written;
    int *smap;        /* input stream index -> output stream index, -1: not copied */
    fp_audio **aenc;  /* input stream index -> its audio transcoder; NULL: copied as it is */
    fp_err aerr;      /* an audio transcoding error (raised inside the demuxer's packet callback) */
    int vout;

    const AVCodec *codec;
    fp_encoder_cfg cfg;
    AVDictionary *opts;
    AVRational enc_tb;
    int nenc, seg_frames;
    fp_encpool *pool;
    fp_pipeline *pl;
    fp_queue *q_dec, *q_conv;
    pthread_mutex_t mux_lock; /* the muxer is fed from the decode stage (copies) and the encode stage */

    enum AVPixelFormat src_fmt;   /* decoded software format */
    int out_w, out_h;
    int float_path;
    struct SwsContext *sws;
    int sws_w, sws_h, sws_fmt;   /* the source the conversion context was made for */
    AVFrame *sw, *conv;
    fp_devpath_cfg dev_cfg;
    fp_devpath *dev;     /* NVDEC frames stay on the GPU (fp_devpath.h); opened at the first CUDA frame */
    int dev_off;         /* the device path was found unusable for this run (one line said why) */
    int decode_only;     /* -o null, NVDEC, nothing to process: frames are counted, never downloaded */
    int cuda_device;     /* the opening thread's CUDA device (the input's and the model's) */

    /* --fps: output frame k is the latest input frame at or before t0 + k / fps */
    AVFrame *held;
    int64_t t0_us, next_k;

    fp_transcode_stats st;
    struct timespec t_start;
};

void fp_transcode_opts_default(fp_transcode_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->copy_audio = o->copy_subs = o->copy_data = 1;
    o->emit_from_pts = AV_NOPTS_VALUE;
    fp_input_opts_default(&o->in);
}

int fp_transcode_have_float_path(void)
{
#ifdef FP_HAVE_FP_IMAGE
    return 1;
#else
    return 0;
#endif
}

/* ---- watchdog: the stuck call cannot be cancelled; remove the temporaries and let the process end */

void fp_transcode_remove_partial(void)
{
    fp_output_unlink_all_signal_safe();
}

static void on_stall(void *opaque, const char *msg)
{
    (void)opaque;
    fp_transcode_remove_partial();
}

/* ---- stream copy ---------------------------------------------------------------------------- */

static int64_t range_us(const fp_transcode *t, int64_t pts)
{
    return pts == AV_NOPTS_VALUE ? AV_NOPTS_VALUE : av_rescale_q(pts, t->ist->time_base, AV_TIME_BASE_Q);
}

/* fp_audio's packets (already in the output stream's time base), muxed beside the video. */
static int audio_write(void *opaque, AVPacket *pkt)
{
    fp_transcode *t = opaque;
    int ret;
    pthread_mutex_lock(&t->mux_lock);
    ret = av_interleaved_write_frame(t->out, pkt);
    pthread_mutex_unlock(&t->mux_lock);
    if (ret < 0)
        return fp_err_from_averror(ret) == FP_EINPUT ? FP_EOUTPUT : FP_EIO;
    t->st.packets_copied++;
    return 0;
}

static int copy_packet(void *opaque, AVPacket *pkt)
{
    fp_transcode *t = opaque;
    AVFormatContext *ifmt = fp_input_format(t->in);
    AVStream *is = ifmt->streams[pkt->stream_index];
    int oi = t->smap[pkt->stream_index], ret;
    int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
    AVPacket *cp;

    if (oi < 0)
        return 0;
    if (ts != AV_NOPTS_VALUE) {
        int64_t us = av_rescale_q(ts, is->time_base, AV_TIME_BASE_Q);
        int64_t s, e;
        fp_input_range(t->in, &s, &e);
        s = range_us(t, s);
        e = range_us(t, e);
        if ((s != AV_NOPTS_VALUE && us < s) || (e != AV_NOPTS_VALUE && us >= e))
            return 0;
    }
    if (t->aenc && t->aenc[pkt->stream_index]) {
        ret = fp_audio_send(t->aenc[pkt->stream_index], pkt, audio_write, t, &t->aerr);
        return ret < 0 && !t->aerr.code ? fp_errorf(&t->aerr, ret, "%s: output: write failed", t->o.output) : ret;
    }
    cp = av_packet_clone(pkt);
    if (!cp)
        return FP_ENOMEM;
    av_packet_rescale_ts(cp, is->time_base, t->out->streams[oi]->time_base);
    cp->stream_index = oi;
    cp->pos = -1;
    pthread_mutex_lock(&t->mux_lock);
    ret = av_interleaved_write_frame(t->out, cp);
    pthread_mutex_unlock(&t->mux_lock);
    av_packet_free(&cp);
    if (ret < 0)
        return fp_err_from_averror(ret) == FP_EINPUT ? FP_EOUTPUT : FP_EIO;
    t->st.packets_copied++;
    return 0;
}

static int video_packet(void *opaque, AVPacket *pkt)
{
    fp_transcode *t = opaque;
    AVStream *os = t->out->streams[t->vout];
    int ret;
    av_packet_rescale_ts(pkt, t->enc_tb, os->time_base);
    pkt->stream_index = t->vout;
    pthread_mutex_lock(&t->mux_lock);
    ret = av_interleaved_write_frame(t->out, pkt);
    pthread_mutex_unlock(&t->mux_lock);
    if (ret < 0)
        return FP_EIO;
    t->st.frames_out++;
    return 0;
}

static int copy_chapters(AVFormatContext *in, AVFormatContext *out)
{
    if (!in->nb_chapters)
        return 0;
    out->chapters = av_calloc(in->nb_chapters, sizeof(*out->chapters));
    if (!out->chapters)
        return FP_ENOMEM;
    for (unsigned i = 0; i < in->nb_chapters; i++) {
        const AVChapter *c = in->chapters[i];
        AVChapter *n = av_mallocz(sizeof(*n));
        if (!n)
            return FP_ENOMEM;
        n->id = c->id;
        n->time_base = c->time_base;
        n->start = c->start;
        n->end = c->end;
        av_dict_copy(&n->metadata, c->metadata, 0);
        out->chapters[out->nb_chapters++] = n;
    }
    return 0;
}

/* ---- configure ------------------------------------------------------------------------------ */

static const char *out_muxer_short(const AVOutputFormat *f, char *buf, size_t n)
{
    size_t len = strcspn(f->name, ",");
    snprintf(buf, n, "%.*s", (int)len, f->name);
    return buf;
}

static int cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* Encoders, segment length and threads per instance for the pool (fp_encpool_plan_make): the
 * frames queued for the pool (encoders x segment) fit --encode-buffer, and encoders x threads is about
 * the core count. Uses t->codec, t->cfg.framerate and t->o; sets t->nenc, t->seg_frames,
 * t->cfg.threads. say: log the plan (once per configure; the fallback encoder re-plans silently). */
static void plan_pool(fp_transcode *t, int w, int h, enum AVPixelFormat fmt, int say)
{
    const fp_transcode_opts *o = &t->o;
    const fp_encoder_desc *d = fp_encoder_desc_find(t->codec->name);
    AVDictionaryEntry *g = av_dict_get(o->enc_opts, "g", NULL, 0);
    AVRational fr = t->cfg.framerate.num ? t->cfg.framerate : (AVRational){ 25, 1 };
    int poolable = d && d->poolable, n, seg, ncores = cores();
    int64_t frame_bytes = av_image_get_buffer_size(fmt, w, h, 64), budget;
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    fp_encpool_plan pl;

    seg = o->seg_frames > 0 ? o->seg_frames : g ? atoi(g->value) : (int)(2 * av_q2d(fr) + 0.5);
    if (seg < 1)
        seg = 1;
    n = o->encoders > 0 ? o->encoders : poolable ? (ncores >= 4 ? ncores / 2 : 1) : 1;
    if (!poolable && n > 1) {
        if (say)
            fp_log(FP_LOG_WARN, "encode", "%s: %s is not run as a pool; using one encoder", o->output,
                   t->codec->name);
        n = 1;
    }
    budget = (int64_t)(o->encode_buffer_mib > 0 ? o->encode_buffer_mib : FP_ENCPOOL_BUFFER_MIB) << 20;
    /* The default must not be what exhausts a small machine; an explicit --encode-buffer is obeyed. */
    if (o->encode_buffer_mib <= 0 && pages > 0 && psz > 0 && budget > (int64_t)pages * psz / 4)
        budget = (int64_t)pages * psz / 4;
    if (frame_bytes <= 0)
        frame_bytes = (int64_t)w * h * 4;
    /* Segments shorter than 1 s cost compression (a keyframe each) before fewer encoders cost speed. */
    if (fp_encpool_plan_make(&pl, ncores, n, seg, o->seg_frames > 0 || g, (int)(av_q2d(fr) + 0.5), frame_bytes,
                             budget) < 0) {
        pl.n = 1;
        pl.seg_frames = seg;
        pl.threads = ncores;
    }
    t->nenc = pl.n;
    t->seg_frames = pl.seg_frames;
    t->cfg.threads = pl.threads; /* -threads N in enc_opts overrides (applied after, in fp_encoder_open) */
    if (say && pl.note[0])
        fp_log(FP_LOG_WARN, "encode", "%s: %s", o->output, pl.note);
    if (say && pl.n > 1)
        fp_log(FP_LOG_INFO, "encode", "%s: pool of %d x %s, %d threads each, %d-frame segments, up to %.0f MiB "
               "of queued frames (--encode-buffer)", o->output, pl.n, t->codec->name, pl.threads, pl.seg_frames,
               pl.buffer_bytes / 1048576.0);
}

static int open_output(fp_transcode *t, fp_err *e)
{
    const char *path = t->o.output;
    const char *tmp;
    int ret;
    const AVOutputFormat *of = av_guess_format(NULL, path, NULL);

    if (!strcmp(path, "null")) {
        /* Benchmarks and checks: decode + process + "encode" (wrapped_avframe), nothing written. */
        of = av_guess_format("null", NULL, NULL);
        ret = avformat_alloc_output_context2(&t->out, of, NULL, NULL);
        return ret < 0 ? fp_errorf(e, FP_ENOMEM, "null: output: cannot allocate the null muxer") : 0;
    }
    if (!of)
        return fp_errorf(e, FP_EUNSUPPORTED,
                         "%s: configure: no container for this file name extension (use .mp4, .mov, .mkv, .webm)",
                         path);
    /* Reserving the temporary proves now, before decoding, that the directory exists and is writable. */
    if ((ret = fp_output_begin(&t->outp, path, e)) < 0)
        return ret;
    tmp = fp_output_tmp_path(t->outp);
    ret = avformat_alloc_output_context2(&t->out, of, NULL, tmp);
    if (ret < 0)
        return fp_errorf(e, FP_ENOMEM, "%s: output: cannot allocate the muxer", path);
    if (!(of->flags & AVFMT_NOFILE)) {
        ret = avio_open(&t->out->pb, tmp, AVIO_FLAG_WRITE);
        if (ret < 0) {
            char buf[128];
            av_strerror(ret, buf, sizeof(buf));
            return fp_errorf(e, FP_EOUTPUT, "%s: output: cannot create the output file: %s", path, buf);
        }
    }
    return 0;
}

static int setup_copy_streams(fp_transcode *t, fp_err *e)
{
    AVFormatContext *ifmt = fp_input_format(t->in);
    char mux[32];
    out_muxer_short(t->out->oformat, mux, sizeof(mux));
    t->smap = av_malloc_array(ifmt->nb_streams, sizeof(*t->smap));
    if (!t->smap)
        return fp_errorf(e, FP_ENOMEM, "%s: output: out of memory", t->o.output);
    for (unsigned i = 0; i < ifmt->nb_streams; i++) {
        AVStream *is = ifmt->streams[i], *os;
        enum AVMediaType type = is->codecpar->codec_type;
        int want = (type == AVMEDIA_TYPE_AUDIO && t->o.copy_audio) ||
                   (type == AVMEDIA_TYPE_SUBTITLE && t->o.copy_subs) ||
                   (type == AVMEDIA_TYPE_DATA && t->o.copy_data);
        t->smap[i] = -1;
        if (i == (unsigned)t->ist->index) {
            t->smap[i] = -2;
            continue;
        }
        if (!want || (is->disposition & AV_DISPOSITION_ATTACHED_PIC))
            continue;
        if (type == AVMEDIA_TYPE_AUDIO) {
            fp_audio *a = NULL;
            int r;
            if (!t->aenc && !(t->aenc = av_calloc(ifmt->nb_streams, sizeof(*t->aenc))))
                return fp_errorf(e, FP_ENOMEM, "%s: output: out of memory", t->o.output);
            if ((r = fp_audio_open(&a, is, t->out, &t->o.audio, t->o.input, t->o.output, e)) < 0)
                return r;
            if (r > 0) {
                t->aenc[i] = a;
                t->smap[i] = fp_audio_stream_index(a);
                continue;
            }
        }
        if (avformat_query_codec(t->out->oformat, is->codecpar->codec_id, FF_COMPLIANCE_NORMAL) == 0) {
            static const char *flag[] = { [AVMEDIA_TYPE_AUDIO] = "-an", [AVMEDIA_TYPE_SUBTITLE] = "-sn",
                                          [AVMEDIA_TYPE_DATA] = "-dn" };
            return fp_errorf(e, FP_EUNSUPPORTED,
                             "%s: configure: the %s container cannot hold %s stream #%u (%s) of %s; use %s to "
                             "leave it out, or a .mkv output",
                             t->o.output, mux, av_get_media_type_string(type), i,
                             avcodec_get_name(is->codecpar->codec_id), t->o.input, flag[type]);
        }
        os = avformat_new_stream(t->out, NULL);
        if (!os || avcodec_parameters_copy(os->codecpar, is->codecpar) < 0)
            return fp_errorf(e, FP_ENOMEM, "%s: output: out of memory", t->o.output);
        os->codecpar->codec_tag = 0;
        os->time_base = is->time_base;
        os->disposition = is->disposition;
        av_dict_copy(&os->metadata, is->metadata, 0);
        t->smap[i] = os->index;
    }
    return 0;
}

int fp_transcode_open(fp_transcode **pt, const fp_transcode_opts *o, fp_err *e)
{
    fp_transcode *t;
    fp_input_opts io;
    AVCodecContext *probe = NULL;
    AVCodecContext *dec;
    AVStream *os;
    enum AVPixelFormat forced = AV_PIX_FMT_NONE, enc_fmt;
    char mux[32];
    int alpha_src, ret, w, h;

    *pt = NULL;
    fp_media_log_init();
    if (!o->input || !o->output)
        return fp_errorf(e, FP_EINVAL, "transcode: input and output are required");
    t = av_mallocz(sizeof(*t));
    if (!t)
        return fp_errorf(e, FP_ENOMEM, "transcode: out of memory");
    t->o = *o;
    pthread_mutex_init(&t->mux_lock, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t->t_start);

    io = o->in;
    io.on_stall = on_stall;
    io.stall_opaque = t;
    io.on_packet = (o->copy_audio || o->copy_subs || o->copy_data) ? copy_packet : NULL;
    io.packet_opaque = t;
    /* NVDEC surfaces held downstream: the decoded queue, the frame in the process stage and the one
     * being queued (matte's auto-configuration asks for up to 32 decoded frames; with FFmpeg's default
     * pool the H100 run of 2026-11-22 15:26 failed "corrupt packet" at frame 11). */
    /* FFmpeg's NVDEC ties each output frame to a decode surface and NVDEC caps the surfaces near 32
     * (the DPB takes up to 17): at most 8 extra, so the decoded queue is at most 6 on NVDEC (decoding
     * is fast there; a deeper queue buys nothing). */
    if (io.frames_held <= 0)
        io.frames_held = FFMIN((o->queue_decoded > 0 ? o->queue_decoded : 4) + 2, 8);
    if ((ret = fp_input_open(&t->in, o->input, &io, e)) < 0)
        goto fail;
    t->ist = fp_input_video_stream(t->in);
    dec = fp_input_decoder(t->in);
    t->st.gpu_decode = fp_input_uses_gpu(t->in);
    t->src_fmt = fp_input_sw_format(t->in);
    if (t->src_fmt == AV_PIX_FMT_NONE) {
        ret = fp_errorf(e, FP_EINPUT, "%s: decode: unknown pixel format (truncated or corrupt header)", o->input);
        goto fail;
    }

    /* geometry */
    w = dec->width;
    h = dec->height;
    if (o->crop.w > 0) {
        if (o->crop.x < 0 || o->crop.y < 0 || o->crop.x + o->crop.w > w || o->crop.y + o->crop.h > h) {
            ret = fp_errorf(e, FP_EINVAL, "%s: configure: --crop %dx%d+%d+%d is outside the %dx%d frame", o->input,
                            o->crop.w, o->crop.h, o->crop.x, o->crop.y, w, h);
            goto fail;
        }
        w = o->crop.w;
        h = o->crop.h;
    }
    if (o->scale_w > 0) {
        w = o->scale_w;
        h = o->scale_h;
    }
    t->out_w = w;
    t->out_h = h;
    t->float_path = o->crop.w > 0 || o->scale_w > 0 || o->stage;
    if (t->float_path && !fp_transcode_have_float_path()) {
        ret = fp_errorf(e, FP_EUNSUPPORTED,
                        "%s: configure: --crop/--scale/key need the colour kernels (src/gpu), not in this build",
                        o->input);
        goto fail;
    }

    if ((ret = open_output(t, e)) < 0)
        goto fail;
    out_muxer_short(t->out->oformat, mux, sizeof(mux));

    /* encoder and pixel format, refusals first */
    alpha_src = (av_pix_fmt_desc_get(t->src_fmt)->flags & AV_PIX_FMT_FLAG_ALPHA) ||
                (o->stage && o->stage->makes_alpha);
    {
        const char *name = o->vcodec ? o->vcodec : fp_encoder_default(mux, alpha_src);
        const fp_encoder_desc *d = fp_encoder_desc_find(name);
        t->codec = avcodec_find_encoder_by_name(name);
        if (!t->codec) {
            ret = fp_errorf(e, FP_EUNSUPPORTED, "%s: configure: no encoder '%s' in this FFmpeg", o->output, name);
            goto fail;
        }
        if (t->codec->type != AVMEDIA_TYPE_VIDEO) {
            ret = fp_errorf(e, FP_EINVAL, "%s: configure: '%s' is not a video encoder", o->output, name);
            goto fail;
        }
        (void)d;
    }
    if (avformat_query_codec(t->out->oformat, t->codec->id, FF_COMPLIANCE_NORMAL) == 0) {
        ret = fp_errorf(e, FP_EUNSUPPORTED, "%s: configure: the %s container cannot hold %s video", o->output, mux,
                        t->codec->name);
        goto fail;
    }
    if (o->pix_fmt && (forced = av_get_pix_fmt(o->pix_fmt)) == AV_PIX_FMT_NONE) {
        ret = fp_errorf(e, FP_EINVAL, "%s: configure: unknown --pix-fmt '%s'", o->output, o->pix_fmt);
        goto fail;
    }
    {
        /* The source as the encoder will see it: the stage may add alpha. */
        enum AVPixelFormat src = t->src_fmt;
        if (o->stage && o->stage->makes_alpha && !(av_pix_fmt_desc_get(src)->flags & AV_PIX_FMT_FLAG_ALPHA))
            src = av_pix_fmt_desc_get(src)->comp[0].depth > 8 ? AV_PIX_FMT_YUVA444P10 : AV_PIX_FMT_YUVA420P;
        if ((ret = fp_encoder_choose_format(t->codec, t->out->oformat, src, forced, o->output, &enc_fmt, e)) < 0)
            goto fail;
    }
    {
        const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(enc_fmt);
        if (((w & ((1 << d->log2_chroma_w) - 1)) || (h & ((1 << d->log2_chroma_h) - 1))) && t->float_path == 0 &&
            !strcmp(t->codec->name, "libx264")) {
            /* libx264 refuses odd sizes for subsampled chroma; ffmpeg would fail deep in the encoder. */
            ret = fp_errorf(e, FP_EUNSUPPORTED,
                            "%s: configure: %dx%d is odd but %s needs even dimensions for %s; use --crop %dx%d+0+0 "
                            "or --scale %dx%d, or -c:v ffv1",
                            o->output, w, h, t->codec->name, av_get_pix_fmt_name(enc_fmt), w & ~1, h & ~1, w & ~1,
                            h & ~1);
            goto fail;
        }
    }

    /* timing */
    if (o->fps.num > 0) {
        t->enc_tb = av_inv_q(o->fps);
        t->cfg.framerate = o->fps;
    } else {
        t->enc_tb = t->ist->time_base;
        t->cfg.framerate = t->ist->avg_frame_rate.num ? t->ist->avg_frame_rate : t->ist->r_frame_rate;
    }
    plan_pool(t, w, h, enc_fmt, 1);

    t->cfg.codec = t->codec;
    t->cfg.width = w;
    t->cfg.height = h;
    t->cfg.pix_fmt = enc_fmt;
    t->cfg.time_base = t->enc_tb;
    t->cfg.sar = t->ist->sample_aspect_ratio.num ? t->ist->sample_aspect_ratio : dec->sample_aspect_ratio;
    if (o->crop.w > 0 || o->scale_w > 0)
        t->cfg.sar = (AVRational){ 1, 1 };
    t->cfg.colorspace = dec->colorspace;
    /* An RGB source written in a YUV format was converted with BT.601 (fp_image's and swscale's default
     * for RGB); tagging it RGB would make VP9 write an invalid profile-0 stream. */
    if (dec->colorspace == AVCOL_SPC_RGB && !(av_pix_fmt_desc_get(enc_fmt)->flags & AV_PIX_FMT_FLAG_RGB))
        t->cfg.colorspace = AVCOL_SPC_BT470BG;
    t->cfg.color_range = dec->color_range;
    t->cfg.color_primaries = dec->color_primaries;
    t->cfg.color_trc = dec->color_trc;
    av_dict_copy(&t->opts, o->enc_opts, 0);
    t->cfg.opts = t->opts;
    t->cfg.global_header = !!(t->out->oformat->flags & AVFMT_GLOBALHEADER);
    /* Same keyframe grid for one encoder and for the pool, so both runs are comparable frame for frame. */
    t->cfg.gop = av_dict_get(o->enc_opts, "g", NULL, 0) ? 0 : t->seg_frames;

    /* One instance now: validates every option and gives the muxer its extradata. A hardware encoder
     * that cannot open (no NVENC on this GPU, e.g. H100, or no GPU) falls back to its CPU twin. */
    if ((ret = fp_encoder_open(&probe, &t->cfg, e)) < 0) {
        const fp_encoder_desc *d = fp_encoder_desc_find(t->codec->name);
        const AVCodec *fb = d && d->fallback ? avcodec_find_encoder_by_name(d->fallback) : NULL;
        if (fb && ret != FP_EINVAL) {
            fp_log(FP_LOG_WARN, "encode", "%s: %s unavailable (%s); using %s", o->output, t->codec->name, e->msg,
                   fb->name);
            fp_err_clear(e);
            t->codec = fb;
            t->cfg.codec = fb;
            if ((ret = fp_encoder_choose_format(fb, t->out->oformat, t->src_fmt, forced, o->output,
                                                &t->cfg.pix_fmt, e)) < 0)
                goto fail;
            enc_fmt = t->cfg.pix_fmt;
            plan_pool(t, w, h, enc_fmt, 0);
            t->cfg.gop = av_dict_get(o->enc_opts, "g", NULL, 0) ? 0 : t->seg_frames;
            ret = fp_encoder_open(&probe, &t->cfg, e);
        }
        if (ret < 0) {
            fp_err_prefix(e, "%s: ", o->output);
            goto fail;
        }
    }
    os = avformat_new_stream(t->out, NULL);
    if (!os) {
        ret = fp_errorf(e, FP_ENOMEM, "%s: output: out of memory", o->output);
        goto fail;
    }
    t->vout = os->index;
    ret = avcodec_parameters_from_context(os->codecpar, probe);
    os->time_base = t->enc_tb;
    os->avg_frame_rate = t->cfg.framerate;
    os->sample_aspect_ratio = t->cfg.sar;
    av_dict_copy(&os->metadata, t->ist->metadata, 0);
    av_dict_set(&os->metadata, "alpha_mode", NULL, 0);
    if (av_pix_fmt_desc_get(enc_fmt)->flags & AV_PIX_FMT_FLAG_ALPHA)
        av_dict_set(&os->metadata, "alpha_mode", "1", 0);
    av_dict_copy(&os->metadata, o->video_metadata, 0);
    fp_encoder_closep(&probe, 0);
    if (ret < 0) {
        ret = fp_errorf(e, FP_ENOMEM, "%s: output: out of memory", o->output);
        goto fail;
    }
    if ((ret = setup_copy_streams(t, e)) < 0)
        goto fail;
    av_dict_copy(&t->out->metadata, fp_input_format(t->in)->metadata, 0);
    av_dict_copy(&t->out->metadata, o->format_metadata, 0);
    if (copy_chapters(fp_input_format(t->in), t->out) < 0) {
        ret = fp_errorf(e, FP_ENOMEM, "%s: output: out of memory", o->output);
        goto fail;
    }
    /* What `ffmpeg -hwaccel cuda -hwaccel_output_format cuda -f null` measures: decode alone. */
    t->decode_only = t->st.gpu_decode && !t->float_path && !strcmp(o->output, "null");
    if (t->st.gpu_decode && t->o.queue_decoded > io.frames_held - 2)
        t->o.queue_decoded = io.frames_held - 2; /* the surfaces NVDEC was given (above) */
    if (t->st.gpu_decode || (o->stage && o->stage->prefer_device))
        t->cuda_device = fp_devpath_current_device();
    t->st.encoders = t->nenc;
    snprintf(t->st.encoder, sizeof(t->st.encoder), "%s", t->codec->name);
    snprintf(t->st.pix_fmt, sizeof(t->st.pix_fmt), "%s", av_get_pix_fmt_name(enc_fmt));
    *pt = t;
    return 0;
fail:
    fp_encoder_closep(&probe, 0);
    fp_transcode_freep(&t);
    return ret;
}

/* ---- run ------------------------------------------------------------------------------------ */

#ifdef FP_HAVE_FP_IMAGE
static fp_pixfmt to_fp_pixfmt(enum AVPixelFormat f)
{
    switch (f) {
    case AV_PIX_FMT_YUV420P: case AV_PIX_FMT_YUVJ420P: return FP_PIX_YUV420P;
    case AV_PIX_FMT_YUV420P10LE: return FP_PIX_YUV420P10;
    case AV_PIX_FMT_YUV422P: case AV_PIX_FMT_YUVJ422P: return FP_PIX_YUV422P;
    case AV_PIX_FMT_YUV422P10LE: return FP_PIX_YUV422P10;
    case AV_PIX_FMT_YUV444P: case AV_PIX_FMT_YUVJ444P: return FP_PIX_YUV444P;
    case AV_PIX_FMT_YUV444P10LE: return FP_PIX_YUV444P10;
    case AV_PIX_FMT_NV12: return FP_PIX_NV12;
    case AV_PIX_FMT_P010LE: return FP_PIX_P010;
    case AV_PIX_FMT_YUVA420P: return FP_PIX_YUVA420P;
    case AV_PIX_FMT_YUVA444P10LE: return FP_PIX_YUVA444P10;
    case AV_PIX_FMT_GBRP: return FP_PIX_GBRP;
    case AV_PIX_FMT_GBRAP: return FP_PIX_GBRAP;
    case AV_PIX_FMT_GBRP10LE: return FP_PIX_GBRP10;
    case AV_PIX_FMT_GBRAP10LE: return FP_PIX_GBRAP10;
    case AV_PIX_FMT_RGB24: return FP_PIX_RGB24;
    case AV_PIX_FMT_RGBA: return FP_PIX_RGBA;
    default: return FP_PIX_NONE;
    }
}

static fp_colorspace frame_cs(const AVFrame *f)
{
    fp_colorspace cs;
    cs.matrix = f->colorspace == AVCOL_SPC_BT709                                       ? FP_MATRIX_BT709
                : f->colorspace == AVCOL_SPC_BT2020_NCL || f->colorspace == AVCOL_SPC_BT2020_CL ? FP_MATRIX_BT2020
                                                                                        : FP_MATRIX_BT601;
    cs.full_range = f->color_range == AVCOL_RANGE_JPEG;
    return cs;
}

/* Converts the source into a format fp_image reads (swscale only for formats it does not know). */
static int to_known_format(fp_transcode *t, AVFrame *src, AVFrame **out, fp_err *e)
{
    if (to_fp_pixfmt(src->format) != FP_PIX_NONE) {
        *out = src;
        return 0;
    }
    {
        const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(src->format);
        enum AVPixelFormat mid = d->comp[0].depth > 8 ? AV_PIX_FMT_YUV444P10LE : AV_PIX_FMT_YUV444P;
        AVFrame *m = av_frame_alloc();
        int ret;
        if (d->flags & AV_PIX_FMT_FLAG_ALPHA)
            mid = AV_PIX_FMT_YUVA444P10LE;
        if (!m)
            return fp_errorf(e, FP_ENOMEM, "process: out of memory");
        m->format = mid;
        m->width = src->width;
        m->height = src->height;
        m->colorspace = src->colorspace;
        m->color_range = src->color_range;
        ret = av_frame_get_buffer(m, 0);
        if (ret >= 0)
            ret = sws_scale_frame(t->sws ? t->sws : (t->sws = sws_getContext(src->width, src->height, src->format,
                                                                              src->width, src->height, mid,
                                                                              SWS_POINT, NULL, NULL, NULL)),
                                  m, src);
        if (ret < 0) {
            av_frame_free(&m);
            return fp_errorf(e, FP_EUNSUPPORTED, "process: cannot convert %s", av_get_pix_fmt_name(src->format));
        }
        *out = m;
        return 0;
    }
}

/* Decoded frame -> float RGB -> stage -> encoder format. */
static int float_process(fp_transcode *t, AVFrame *src, AVFrame *dst, fp_err *e)
{
    AVFrame *k = NULL;
    fp_image in = { 0 }, out = { 0 };
    fp_preprocess pp = { 0 };
    fp_planar rgb = { 0 }, alpha = { 0 };
    fp_colorspace cs = frame_cs(src);
    size_t plane = (size_t)t->out_w * t->out_h;
    float *buf = av_malloc(plane * 4 * sizeof(float));
    int ret, has_alpha = t->o.stage && t->o.stage->makes_alpha;
    fp_pixfmt ofmt = to_fp_pixfmt(dst->format);
    AVFrame *mid = NULL;

    if (!buf)
        return fp_errorf(e, FP_ENOMEM, "process: out of memory");
    if ((ret = to_known_format(t, src, &k, e)) < 0)
        goto end;
    in.fmt = to_fp_pixfmt(k->format);
    in.width = k->width;
    in.height = k->height;
    for (int i = 0; i < 4; i++) {
        in.data[i] = k->data[i];
        in.linesize[i] = k->linesize[i];
    }
    pp.cs = cs;
    pp.crop = t->o.crop;
    pp.resize = FP_RESIZE_BILINEAR;
    pp.std[0] = pp.std[1] = pp.std[2] = 1.0f;
    rgb.data = buf;
    rgb.layout = FP_LAYOUT_NCHW;
    rgb.dtype = FP_DTYPE_F32;
    rgb.channels = 3;
    rgb.width = t->out_w;
    rgb.height = t->out_h;
    alpha = rgb;
    alpha.data = buf + 3 * plane;
    alpha.channels = 1;
    if ((ret = fp_preprocess_cpu(&in, &pp, &rgb, e)) < 0)
        goto end;
    if (t->o.stage && (ret = t->o.stage->process(t->o.stage->opaque, &rgb, &alpha, src->pts, e)) < 0)
        goto end;
    if (ofmt == FP_PIX_NONE) {
        /* The encoder's format is not one fp_image writes: write a wide one and let swscale finish. */
        mid = av_frame_alloc();
        if (!mid) {
            ret = fp_errorf(e, FP_ENOMEM, "process: out of memory");
            goto end;
        }
        mid->format = has_alpha ? AV_PIX_FMT_YUVA444P10LE : AV_PIX_FMT_YUV444P10LE;
        mid->width = t->out_w;
        mid->height = t->out_h;
        if (av_frame_get_buffer(mid, 0) < 0) {
            ret = fp_errorf(e, FP_ENOMEM, "process: out of memory");
            goto end;
        }
        ofmt = to_fp_pixfmt(mid->format);
    }
    {
        AVFrame *w = mid ? mid : dst;
        out.fmt = ofmt;
        out.width = t->out_w;
        out.height = t->out_h;
        for (int i = 0; i < 4; i++) {
            out.data[i] = w->data[i];
            out.linesize[i] = w->linesize[i];
        }
        if ((ret = fp_postprocess_cpu(&rgb, has_alpha ? &alpha : NULL, &out, &cs, e)) < 0)
            goto end;
    }
    if (mid) {
        struct SwsContext *s = sws_getContext(t->out_w, t->out_h, mid->format, t->out_w, t->out_h, dst->format,
                                              SWS_POINT, NULL, NULL, NULL);
        ret = s ? sws_scale_frame(s, dst, mid) : AVERROR(ENOMEM);
        sws_freeContext(s);
        if (ret < 0) {
            ret = fp_errorf(e, FP_EINTERNAL, "process: swscale to %s failed", av_get_pix_fmt_name(dst->format));
            goto end;
        }
    }
    ret = 0;
end:
    if (k && k != src)
        av_frame_free(&k);
    av_frame_free(&mid);
    av_free(buf);
    return ret;
}
#endif

/* A swscale context that splits rows over threads (swscale's own slice threads, FFmpeg >= 5.0, used
 * by sws_scale_frame). Why: this conversion runs on the one process-stage thread, and at 1080p it
 * costs tens of ms a frame (ProRes 4444 10-bit -> yuva420p: ~35-70 ms on this 2-core machine), which
 * would cap a pool of 16 encoders below what they can take. Half the cores, at most 8: the encoders
 * need the rest. NULL on failure. */
static struct SwsContext *sws_threaded(int sw, int sh, enum AVPixelFormat sf, int dw, int dh, enum AVPixelFormat df,
                                       int flags)
{
    struct SwsContext *c = sws_alloc_context();
    int n = cores() / 2;
    if (!c)
        return NULL;
    n = n < 1 ? 1 : n > 8 ? 8 : n;
    av_opt_set_int(c, "srcw", sw, 0);
    av_opt_set_int(c, "srch", sh, 0);
    av_opt_set_int(c, "src_format", sf, 0);
    av_opt_set_int(c, "dstw", dw, 0);
    av_opt_set_int(c, "dsth", dh, 0);
    av_opt_set_int(c, "dst_format", df, 0);
    av_opt_set_int(c, "sws_flags", flags, 0);
    av_opt_set_int(c, "threads", n, 0); /* an older swscale without the option stays single-threaded */
    if (sws_init_context(c, NULL, NULL) < 0) {
        sws_freeContext(c);
        return NULL;
    }
    return c;
}

/*
 * The device path's hook: a CUDA frame goes through fp_devpath (kernels on the GPU, one pinned
 * download). Opened at the first CUDA frame, when the decoded format is known (before decoding the
 * decoder reports the stream's software format, not NVDEC's), and again if the frame size or format
 * changes. Returns 1 when t->conv holds the encoder-ready frame, 2 when t->sw holds the pinned download
 * of the decoded planes (plain transcode: the host path converts them), 0 when the host path must
 * download itself (device path unusable: said once), or a negative error.
 */
static int devpath_frame(fp_transcode *t, AVFrame *dec, fp_err *e)
{
    const AVHWFramesContext *hf = dec->hw_frames_ctx ? (const AVHWFramesContext *)dec->hw_frames_ctx->data : NULL;
    fp_devpath_cfg c = { 0 };
    int ret;

    if (t->dev_off || (dec->format == AV_PIX_FMT_CUDA && !hf))
        return 0;
    if (getenv("FP_HOST_PATH") && atoi(getenv("FP_HOST_PATH"))) {
        /* A/B knob for benchmarks and bisecting: the host path even where the device path would run. */
        fp_log(FP_LOG_INFO, "process", "%s: FP_HOST_PATH set: frames are processed on the host", t->o.input);
        t->dev_off = 1;
        return 0;
    }
    c.upload = dec->format != AV_PIX_FMT_CUDA;
    c.sw_fmt = c.upload ? dec->format : hf->sw_format;
    c.in_w = dec->width;
    c.in_h = dec->height;
    c.crop = t->o.crop;
    c.out_w = t->out_w;
    c.out_h = t->out_h;
    c.out_fmt = t->cfg.pix_fmt;
    c.float_path = t->float_path;
    c.stage = t->o.stage;
    c.device = t->cuda_device;
    if (t->dev) {
        const fp_devpath_stats *ds = fp_devpath_get_stats(t->dev);
        if (ds->pinned_alive_max > t->st.pinned_frames)
            t->st.pinned_frames = ds->pinned_alive_max;
    }
    /* Only the decoded format and size can change within a run (the rest is the run's configuration). */
    if (!t->dev || c.sw_fmt != t->dev_cfg.sw_fmt || c.in_w != t->dev_cfg.in_w || c.in_h != t->dev_cfg.in_h ||
        c.upload != t->dev_cfg.upload) {
        char why[256];
        fp_devpath_freep(&t->dev);
        if (!fp_devpath_check(&c, why, sizeof(why))) {
            fp_log(FP_LOG_INFO, "process", "%s: frames are downloaded before processing: %s", t->o.input, why);
            t->dev_off = 1;
            return 0;
        }
        if ((ret = fp_devpath_open(&t->dev, &c, e)) < 0) {
            fp_log(FP_LOG_WARN, "process", "%s: device path unavailable (%s); processing on the host", t->o.input,
                   e->msg);
            fp_err_clear(e);
            t->dev_off = 1;
            return 0;
        }
        t->dev_cfg = c;
        t->st.device_path = 1;
    }
    if (t->float_path) {
        av_frame_unref(t->conv);
        if ((ret = fp_devpath_convert(t->dev, dec, dec->pts, t->conv, e)) < 0) {
            fp_err_prefix(e, "%s: ", t->o.input);
            return ret;
        }
        t->conv->sample_aspect_ratio = t->cfg.sar;
        return 1;
    }
    av_frame_unref(t->sw);
    if ((ret = fp_devpath_convert(t->dev, dec, dec->pts, t->sw, e)) < 0) {
        fp_err_prefix(e, "%s: ", t->o.input);
        return ret;
    }
    return 2;
}

/* Converts one decoded frame into t->conv (encoder format and size). */
static int convert(fp_transcode *t, AVFrame *dec, fp_err *e)
{
    AVFrame *src = dec;
    int ret;

    /* NVDEC frames, and CPU-decoded frames for a stage that computes on the GPU anyway (uploaded once) */
    if ((dec->format == AV_PIX_FMT_CUDA ||
         (t->float_path && t->o.stage && t->o.stage->prefer_device && t->o.stage->process_cuda)) &&
        (ret = devpath_frame(t, dec, e)) != 0) {
        if (ret < 0 || ret == 1)
            return ret < 0 ? ret : 0;
        src = t->sw;
    } else if (dec->format == AV_PIX_FMT_CUDA) {
        /* Download: the fused GPU conversion path takes over here once the CUDA twins of fp_image
         * are integrated; until then the CPU path reads NV12/P010 from host memory. */
        av_frame_unref(t->sw);
        ret = av_hwframe_transfer_data(t->sw, dec, 0);
        if (ret < 0)
            return fp_errorf(e, FP_EDEVICE, "%s: decode: cannot copy a frame from the GPU", t->o.input);
        av_frame_copy_props(t->sw, dec);
        src = t->sw;
    }
    av_frame_unref(t->conv);
    t->conv->format = t->cfg.pix_fmt;
    t->conv->width = t->out_w;
    t->conv->height = t->out_h;
    if (av_frame_get_buffer(t->conv, 0) < 0)
        return fp_errorf(e, FP_ENOMEM, "process: out of memory");
    av_frame_copy_props(t->conv, src);
    t->conv->sample_aspect_ratio = t->cfg.sar;
    if (t->float_path) {
#ifdef FP_HAVE_FP_IMAGE
        ret = float_process(t, src, t->conv, e);
        if (ret < 0)
            fp_err_prefix(e, "%s: ", t->o.input);
        return ret;
#else
        return fp_errorf(e, FP_EINTERNAL, "process: float path not built");
#endif
    }
    if (src->format == t->cfg.pix_fmt && src->width == t->out_w && src->height == t->out_h) {
        av_frame_unref(t->conv);
        return av_frame_ref(t->conv, src) < 0 ? fp_errorf(e, FP_ENOMEM, "process: out of memory") : 0;
    }
    if (!t->sws || t->sws_w != src->width || t->sws_h != src->height || t->sws_fmt != src->format) {
        sws_freeContext(t->sws);
        t->sws = sws_threaded(src->width, src->height, src->format, t->out_w, t->out_h, t->cfg.pix_fmt,
                              SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT);
        t->sws_w = src->width;
        t->sws_h = src->height;
        t->sws_fmt = src->format;
    }
    if (!t->sws)
        return fp_errorf(e, FP_EUNSUPPORTED, "%s: process: no conversion from %s to %s", t->o.input,
                         av_get_pix_fmt_name(src->format), av_get_pix_fmt_name(t->cfg.pix_fmt));
    ret = sws_scale_frame(t->sws, t->conv, src);
    if (ret < 0)
        return fp_errorf(e, FP_EINTERNAL, "%s: process: swscale failed", t->o.input);
    return 0;
}

/*
 * The per-frame work, driven by three pipeline stages (decode | process | encode, on threads, bounded
 * queues; fp_pipeline.h), which also give the progress line (fp_progress) and the per-stage table.
 */

/* Hand a converted frame to the encode stage with its output pts (a new reference through the queue). */
static int emit(fp_transcode *t, fp_stage *st, AVFrame *f, int64_t pts, fp_err *e)
{
    AVFrame *c = av_frame_clone(f);
    int ret;
    if (!c)
        return fp_errorf(e, FP_ENOMEM, "%s: process: out of memory", t->o.input);
    c->pts = pts;
    c->pict_type = AV_PICTURE_TYPE_NONE;
    ret = fp_stage_push(st, t->q_conv, c);
    if (ret < 0)
        av_frame_free(&c);
    return ret;
}

/* --fps: emit the held frame for every output tick before `until_us`. */
static int fps_emit_until(fp_transcode *t, fp_stage *st, int64_t until_us, fp_err *e)
{
    int ret;
    if (!t->held)
        return 0;
    for (;;) {
        int64_t tk = t->t0_us + av_rescale_q(t->next_k, t->enc_tb, AV_TIME_BASE_Q);
        if (tk >= until_us)
            return 0;
        if ((ret = emit(t, st, t->held, t->next_k, e)) < 0)
            return ret;
        t->next_k++;
    }
}

/* One decoded frame: download (NVDEC), convert / float processing, frame-rate conversion. */
static int process_one(fp_transcode *t, fp_stage *st, AVFrame *f, fp_err *e)
{
    int ret;
    if (t->decode_only) {
        t->st.frames_out++;
        return 0;
    }
    ret = convert(t, f, e);
    if (ret < 0)
        return ret;
    if (t->o.emit_from_pts != AV_NOPTS_VALUE && f->pts != AV_NOPTS_VALUE && f->pts < t->o.emit_from_pts)
        return 0; /* warm-up frame: the stage has seen it (its state advanced); nothing is written */
    if (t->o.fps.num <= 0)
        return emit(t, st, t->conv, f->pts, e);
    {
        int64_t us = av_rescale_q(f->pts, t->ist->time_base, AV_TIME_BASE_Q);
        if (!t->held) {
            t->t0_us = us;
            if (!(t->held = av_frame_alloc()))
                return fp_errorf(e, FP_ENOMEM, "%s: process: out of memory", t->o.input);
        } else if ((ret = fps_emit_until(t, st, us, e)) < 0) {
            return ret;
        }
        av_frame_unref(t->held);
        if (av_frame_ref(t->held, t->conv) < 0)
            return fp_errorf(e, FP_ENOMEM, "%s: process: out of memory", t->o.input);
        t->held->pkt_duration = f->pkt_duration;
        t->held->pts = us; /* microseconds of the held frame, for the end */
    }
    return 0;
}

/* End of input: the last held frame lasts its duration (--fps). */
static int process_flush(fp_transcode *t, fp_stage *st, fp_err *e)
{
    int64_t dur;
    if (!t->held)
        return 0;
    dur = t->held->pkt_duration > 0 ? av_rescale_q(t->held->pkt_duration, t->ist->time_base, AV_TIME_BASE_Q)
          : t->ist->avg_frame_rate.num ? av_rescale_q(1, av_inv_q(t->ist->avg_frame_rate), AV_TIME_BASE_Q)
                                       : 0;
    return fps_emit_until(t, st, t->held->pts + dur, e);
}

static int stop_requested(void *opaque)
{
    const fp_transcode *t = opaque;
    return (t->o.interrupted && t->o.interrupted()) ||
           (t->o.interrupted_arg_fn && t->o.interrupted_arg_fn(t->o.interrupted_arg));
}

/* Next decoded frame; stream-copy write failures surface here (the copy runs inside the read). */
static int decode_one(fp_transcode *t, AVFrame *f, fp_err *e)
{
    int ret;
    if (stop_requested(t))
        return fp_errorf(e, FP_EINTR, "%s: interrupted; no output written", t->o.output);
    ret = fp_input_read_frame(t->in, f, e);
    if (ret == FP_EIO || ret == FP_EOUTPUT)
        return fp_errorf(e, FP_EIO, "%s: output: write failed (disk full or I/O error)", t->o.output);
    if (ret == 0)
        t->st.frames_in++;
    return ret;
}

static int pool_finish(fp_transcode *t, fp_err *e)
{
    int ret = fp_encpool_finish(t->pool, e);
    if (ret == FP_EINTR)
        return fp_errorf(e, FP_EINTR, "%s: interrupted; no output written", t->o.output);
    if (ret == FP_EIO)
        fp_errorf(e, FP_EIO, "%s: output: write failed (disk full or I/O error)", t->o.output);
    return ret;
}

static void frame_free_cb(void *p)
{
    AVFrame *f = p;
    av_frame_free(&f);
}

static int decode_stage(fp_stage *st, void *opaque)
{
    fp_transcode *t = opaque;
    for (;;) {
        AVFrame *f;
        int ret;
        if ((ret = fp_stage_should_stop(st)))
            return ret;
        if (!(f = av_frame_alloc()))
            return fp_stage_fail(st, FP_ENOMEM, "%s: decode: out of memory", t->o.input);
        ret = decode_one(t, f, fp_stage_err(st));
        if (ret == FP_EOF) {
            av_frame_free(&f);
            return 0;
        }
        if (ret < 0) {
            av_frame_free(&f);
            return ret;
        }
        fp_stage_set_position(st, "stream #%d, %.3f s", t->ist->index,
                              f->pts == AV_NOPTS_VALUE ? 0 : f->pts * av_q2d(t->ist->time_base));
        fp_stage_add_frames(st, 1);
        if ((ret = fp_stage_push(st, t->q_dec, f)) < 0) {
            av_frame_free(&f);
            return ret;
        }
    }
}

static int process_stage(fp_stage *st, void *opaque)
{
    fp_transcode *t = opaque;
    void *item;
    int ret;
    while ((ret = fp_stage_pop(st, t->q_dec, &item)) == 0) {
        AVFrame *f = item;
        ret = process_one(t, st, f, fp_stage_err(st));
        av_frame_free(&f);
        if (ret < 0)
            return ret;
        fp_stage_add_frames(st, 1);
    }
    if (ret != FP_EOF)
        return ret;
    return process_flush(t, st, fp_stage_err(st));
}

/* The encoder pool; its packets are muxed from this thread (sink), under mux_lock. */
static int encode_stage(fp_stage *st, void *opaque)
{
    fp_transcode *t = opaque;
    void *item;
    int ret;
    while ((ret = fp_stage_pop(st, t->q_conv, &item)) == 0) {
        AVFrame *f = item;
        ret = fp_encpool_send(t->pool, f, fp_stage_err(st)); /* polls stop_requested (set_stop) */
        av_frame_free(&f);
        if (ret < 0) {
            if (ret == FP_EIO)
                fp_stage_fail(st, FP_EIO, "%s: output: write failed (disk full or I/O error)", t->o.output);
            if (ret == FP_EINTR)
                fp_stage_fail(st, FP_EINTR, "%s: interrupted; no output written", t->o.output);
            return ret;
        }
        fp_stage_add_frames(st, 1);
    }
    if (ret != FP_EOF)
        return ret;
    fp_stage_heartbeat(st);
    if ((ret = pool_finish(t, fp_stage_err(st))) < 0)
        return ret;
    /* a stop that landed after the last packet: still nothing is published */
    if (stop_requested(t))
        return fp_stage_fail(st, FP_EINTR, "%s: interrupted; no output written", t->o.output);
    return 0;
}

static int run_pipeline(fp_transcode *t, fp_err *e)
{
    fp_stage *s_dec, *s_proc, *s_enc;
    fp_pipeline_opts po = { 0 };
    fp_progress *prog = NULL;
    AVFormatContext *ifmt = fp_input_format(t->in);
    int ret;

    /* Queue depths: a few frames each; memory stays flat whatever the input length. */
    if ((ret = fp_pipeline_alloc(&t->pl, "transcode")) < 0 ||
        (ret = fp_pipeline_queue(t->pl, "decoded", t->o.queue_decoded > 0 ? t->o.queue_decoded : 4, frame_free_cb,
                                 &t->q_dec)) < 0 ||
        (ret = fp_pipeline_queue(t->pl, "converted", t->o.queue_converted > 0 ? t->o.queue_converted : 4,
                                 frame_free_cb, &t->q_conv)) < 0 ||
        (ret = fp_pipeline_add_stage(t->pl, "decode", decode_stage, t, &s_dec)) < 0 ||
        (ret = fp_pipeline_add_stage(t->pl, "process", process_stage, t, &s_proc)) < 0 ||
        (ret = fp_pipeline_add_stage(t->pl, "encode", encode_stage, t, &s_enc)) < 0)
        return fp_errorf(e, ret, "transcode: cannot set up the pipeline");
    fp_stage_add_output(s_dec, t->q_dec);
    fp_stage_add_input(s_proc, t->q_dec);
    fp_stage_add_output(s_proc, t->q_conv);
    fp_stage_add_input(s_enc, t->q_conv);
    fp_stage_set_hint(s_dec, t->st.gpu_decode ? "decode several files at once" : "--decode gpu where a GPU is present");
    fp_stage_set_hint(s_proc, "a smaller --scale, or the GPU path");
    fp_stage_set_hint(s_enc, "raise --encoders, or a faster preset / -cpu-used");

    if (t->o.progress_json || isatty(2)) {
        double dur = ifmt->duration > 0 ? ifmt->duration / (double)AV_TIME_BASE : 0;
        AVRational fr = t->ist->avg_frame_rate;
        int64_t total = dur > 0 && fr.num ? (int64_t)(dur * av_q2d(fr) + 0.5) : 0;
        if (fp_progress_alloc(&prog, t->o.progress_json ? FP_PROGRESS_JSON : FP_PROGRESS_AUTO, stderr, total) < 0)
            prog = NULL;
    }
    /* The decoder's own watchdog (fp_input) covers stalls inside FFmpeg; the pipeline's would take a
     * long final flush of a slow encoder for a stall, so it stays off here. */
    po.watchdog_s = 0;
    /* After a failure the other stages get this long to notice: a model stage in the middle of an 8K
     * frame (seconds) is working, not stuck, and a stage left behind would use what the caller frees
     * next (a 2026-11-22 segfault at 8192x4096). Stalls inside FFmpeg are the input watchdog's. */
    po.stuck_grace_s = 120;
    po.progress = prog;
    po.progress_stage = s_enc;
    po.ignore_signals = 1; /* o->interrupted is polled by the decode stage */
    if ((ret = fp_pipeline_start(t->pl)) >= 0)
        ret = fp_pipeline_wait(t->pl, &po);
    if (prog && ret >= 0)
        fp_progress_finish(prog, t->st.frames_out, t->pl);
    fp_progress_freep(&prog);
    {
        fp_stage_stats ss;
        fp_pipeline_stage_stats(t->pl, 0, &ss);
        t->st.decode_s = ss.busy_s;
        fp_pipeline_stage_stats(t->pl, 1, &ss);
        t->st.process_s = ss.busy_s;
        fp_pipeline_stage_stats(t->pl, 2, &ss);
        t->st.encode_wait_s = ss.wait_out_s;
    }
    if (ret < 0) {
        const fp_err *pe = fp_pipeline_err(t->pl);
        if (pe->code && e && !e->code)
            *e = *pe;
    }
    return ret;
}

int fp_transcode_run(fp_transcode *t, fp_err *e)
{
    int ret;

    t->sw = av_frame_alloc();
    t->conv = av_frame_alloc();
    if (!t->sw || !t->conv)
        return fp_errorf(e, FP_ENOMEM, "transcode: out of memory");
    {
        AVDictionary *mo = NULL;
        av_dict_copy(&mo, t->o.mux_opts, 0);
        ret = avformat_write_header(t->out, &mo);
        av_dict_free(&mo);
    }
    if (ret < 0) {
        char buf[128];
        av_strerror(ret, buf, sizeof(buf));
        return fp_errorf(e, FP_EOUTPUT, "%s: output: cannot write the header: %s", t->o.output, buf);
    }
    t->header_written = 1;
    if ((ret = fp_encpool_open(&t->pool, &t->cfg, t->nenc, t->seg_frames, video_packet, t, e)) < 0)
        return ret;
    fp_encpool_set_stop(t->pool, stop_requested, t);
    fp_log(FP_LOG_INFO, "transcode", "%s -> %s: %s %s, %d encoder(s), %d-frame segments, decode %s", t->o.input,
           t->o.output, t->codec->name, t->st.pix_fmt, t->nenc, t->seg_frames, t->st.gpu_decode ? "NVDEC" : "CPU");

    ret = run_pipeline(t, e);
    /* the audio transcoders' last frames, before the trailer */
    for (unsigned i = 0; ret >= 0 && t->aenc && i < fp_input_format(t->in)->nb_streams; i++)
        if (t->aenc[i] && (ret = fp_audio_send(t->aenc[i], NULL, audio_write, t, &t->aerr)) < 0 && !t->aerr.code)
            fp_errorf(&t->aerr, ret, "%s: output: write failed", t->o.output);
    if (ret < 0 && t->aerr.code) {
        fp_err_clear(e);
        *e = t->aerr; /* the root cause, not the stage that carried it */
    }
    if (ret < 0)
        goto end;
    ret = av_write_trailer(t->out);
    if (ret >= 0 && t->out->pb)
        ret = t->out->pb->error;
    if (ret >= 0 && !(t->out->oformat->flags & AVFMT_NOFILE))
        ret = avio_closep(&t->out->pb);
    if (ret < 0) {
        char buf[128];
        av_strerror(ret, buf, sizeof(buf));
        ret = fp_errorf(e, FP_EIO, "%s: output: write failed: %s", t->o.output, buf);
        goto end;
    }
    if (t->st.frames_out == 0) {
        ret = fp_errorf(e, FP_EINPUT, "%s: decode: no frame could be decoded (truncated or empty video)",
                        t->o.input);
        goto end;
    }
    if (t->outp && (ret = fp_output_commit(&t->outp, e)) < 0)
        goto end;
    ret = 0;
end:
    if (t->dev && fp_devpath_get_stats(t->dev)->pinned_alive_max > t->st.pinned_frames)
        t->st.pinned_frames = fp_devpath_get_stats(t->dev)->pinned_alive_max;
    t->st.corrupt = fp_input_errors(t->in);
    {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        t->st.seconds = (now.tv_sec - t->t_start.tv_sec) + (now.tv_nsec - t->t_start.tv_nsec) * 1e-9;
    }
    return ret;
}

void fp_transcode_print_metrics(const fp_transcode *t, FILE *f)
{
    if (t->pl)
        fp_metrics_table_print(t->pl, f);
}

const fp_transcode_stats *fp_transcode_get_stats(const fp_transcode *t) { return &t->st; }
fp_input *fp_transcode_input(fp_transcode *t) { return t->in; }

void fp_transcode_freep(fp_transcode **pt)
{
    fp_transcode *t = *pt;
    if (!t)
        return;
    /* Stages first (they use the pool and the muxer), then the pool. */
    fp_pipeline_freep(&t->pl);
    fp_encpool_freep(&t->pool);
    fp_devpath_freep(&t->dev); /* before the input: FFmpeg's device holds the context it runs on */
    if (t->out) {
        if (t->out->pb && !(t->out->oformat->flags & AVFMT_NOFILE))
            avio_closep(&t->out->pb);
        avformat_free_context(t->out);
    }
    fp_output_abort(&t->outp);
    for (unsigned i = 0; t->aenc && t->in && i < fp_input_format(t->in)->nb_streams; i++)
        fp_audio_freep(&t->aenc[i]);
    av_free(t->aenc);
    fp_input_freep(&t->in);
    sws_freeContext(t->sws);
    av_frame_free(&t->sw);
    av_frame_free(&t->conv);
    av_frame_free(&t->held);
    av_dict_free(&t->opts);
    av_free(t->smap);
    pthread_mutex_destroy(&t->mux_lock);
    av_freep(pt);
}
