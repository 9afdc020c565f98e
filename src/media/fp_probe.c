/*
 * fp_probe — see fp_probe.h. Reads container headers and the timestamps of the first
 * FP_PROBE_VFR_PACKETS video packets; decodes nothing.
 */
#include "media/fp_probe.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavformat/avformat.h>
#include <libavutil/pixdesc.h>
#include "core/fp_json.h"

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorted presentation timestamps of the first packets: the steps between them are the frame
 * durations whatever the B-frame order. Varying steps (beyond rounding of the time base) = VFR. */
static void scan_rate(AVFormatContext *fmt, int vi, fp_probe_stream *s)
{
    int64_t *pts = av_malloc_array(FP_PROBE_VFR_PACKETS, sizeof(*pts));
    AVPacket *pkt = av_packet_alloc();
    AVStream *st = fmt->streams[vi];
    int n = 0;
    if (!pts || !pkt)
        goto end;
    while (n < FP_PROBE_VFR_PACKETS && av_read_frame(fmt, pkt) >= 0) {
        if (pkt->stream_index == vi && pkt->pts != AV_NOPTS_VALUE)
            pts[n++] = pkt->pts;
        av_packet_unref(pkt);
    }
    if (n >= 3) {
        int64_t dmin = INT64_MAX, dmax = 0;
        qsort(pts, n, sizeof(*pts), cmp_i64);
        for (int i = 1; i < n; i++) {
            int64_t d = pts[i] - pts[i - 1];
            if (d <= 0)
                continue;
            dmin = d < dmin ? d : dmin;
            dmax = d > dmax ? d : dmax;
        }
        /* one tick of slack: 1/30000-style rates do not divide every time base evenly */
        s->vfr = dmax > dmin + 1 + dmin / 100;
        if (s->vfr && pts[n - 1] > pts[0])
            s->fps = (n - 1) / ((pts[n - 1] - pts[0]) * av_q2d(st->time_base));
    }
end:
    av_free(pts);
    av_packet_free(&pkt);
}

int fp_probe_file(const char *path, fp_decode_mode mode, fp_probe_info *info, fp_err *e)
{
    AVFormatContext *fmt = NULL;
    int ret, vi;

    memset(info, 0, sizeof(*info));
    info->video_index = -1;
    fp_media_log_init();
    snprintf(info->path, sizeof(info->path), "%s", path);
    if (access(path, F_OK) != 0)
        return fp_errorf(e, FP_EINPUT, "%s: probe: %s", path, strerror(errno));
    ret = avformat_open_input(&fmt, path, NULL, NULL);
    if (ret >= 0)
        ret = avformat_find_stream_info(fmt, NULL);
    if (ret < 0) {
        char buf[128];
        av_strerror(ret, buf, sizeof(buf));
        avformat_close_input(&fmt);
        return fp_errorf(e, FP_EINPUT, "%s: probe: %s", path,
                         ret == AVERROR_INVALIDDATA ? "not a readable media file (invalid data)" : buf);
    }
    snprintf(info->format, sizeof(info->format), "%s", fmt->iformat->name);
    info->duration = fmt->duration > 0 ? fmt->duration / (double)AV_TIME_BASE : -1;
    info->bit_rate = fmt->bit_rate;
    info->nb_chapters = fmt->nb_chapters;
    info->streams = av_calloc(fmt->nb_streams ? fmt->nb_streams : 1, sizeof(*info->streams));
    if (!info->streams) {
        avformat_close_input(&fmt);
        return fp_errorf(e, FP_ENOMEM, "%s: probe: out of memory", path);
    }
    info->nb_streams = fmt->nb_streams;
    vi = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    for (unsigned i = 0; i < fmt->nb_streams; i++) {
        AVStream *st = fmt->streams[i];
        AVCodecParameters *p = st->codecpar;
        fp_probe_stream *s = &info->streams[i];
        AVDictionaryEntry *t;
        const char *type = av_get_media_type_string(p->codec_type);
        s->index = i;
        snprintf(s->type, sizeof(s->type), "%s", type ? type : "unknown");
        snprintf(s->codec, sizeof(s->codec), "%s", avcodec_get_name(p->codec_id));
        s->duration = st->duration != AV_NOPTS_VALUE ? st->duration * av_q2d(st->time_base) : -1;
        if ((t = av_dict_get(st->metadata, "language", NULL, 0)))
            snprintf(s->language, sizeof(s->language), "%s", t->value);
        if (p->codec_type == AVMEDIA_TYPE_VIDEO) {
            const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(p->format);
            AVDictionaryEntry *am = av_dict_get(st->metadata, "alpha_mode", NULL, 0);
            AVRational r = st->avg_frame_rate.num ? st->avg_frame_rate : st->r_frame_rate;
            s->width = p->width;
            s->height = p->height;
            snprintf(s->pix_fmt, sizeof(s->pix_fmt), "%s", d ? d->name : "unknown");
            s->bit_depth = d ? d->comp[0].depth : 0;
            s->alpha = (d && (d->flags & AV_PIX_FMT_FLAG_ALPHA)) || (am && atoi(am->value));
            if (s->alpha && p->codec_id == AV_CODEC_ID_VP9)
                snprintf(s->pix_fmt, sizeof(s->pix_fmt), "yuva420p");
            s->fps = r.num && r.den ? av_q2d(r) : 0;
        } else if (p->codec_type == AVMEDIA_TYPE_AUDIO) {
            s->sample_rate = p->sample_rate;
            s->channels = p->ch_layout.nb_channels;
        }
    }
    if (vi >= 0) {
        info->video_index = vi;
        scan_rate(fmt, vi, &info->streams[vi]);
        ret = fp_decode_path_choose(fmt->streams[vi]->codecpar, mode, NULL, info->decode_why,
                                    sizeof(info->decode_why));
        if (info->streams[vi].alpha && fmt->streams[vi]->codecpar->codec_id == AV_CODEC_ID_VP9 && ret > 0) {
            ret = 0;
            snprintf(info->decode_why, sizeof(info->decode_why),
                     "VP9 with alpha: libvpx-vp9 on the CPU keeps the alpha plane");
        }
        info->gpu_decode = ret > 0;
        if (ret < 0) {
            ret = fp_errorf(e, ret, "%s: probe: --decode gpu: %s", path, info->decode_why);
            avformat_close_input(&fmt);
            return ret;
        }
    } else {
        snprintf(info->decode_why, sizeof(info->decode_why), "no video stream");
    }
    avformat_close_input(&fmt);
    return 0;
}

void fp_probe_info_free(fp_probe_info *info)
{
    av_freep(&info->streams);
    info->nb_streams = 0;
}

void fp_probe_print(FILE *f, const fp_probe_info *in, int json)
{
    if (!json) {
        fprintf(f, "%s: %s, duration %.3f s, %d stream(s), %d chapter(s)\n", in->path, in->format, in->duration,
                in->nb_streams, in->nb_chapters);
        for (int i = 0; i < in->nb_streams; i++) {
            const fp_probe_stream *s = &in->streams[i];
            fprintf(f, "  #%d %-8s %-10s", s->index, s->type, s->codec);
            if (!strcmp(s->type, "video"))
                fprintf(f, " %dx%d %s %d-bit%s, %.3f fps %s", s->width, s->height, s->pix_fmt, s->bit_depth,
                        s->alpha ? " alpha" : "", s->fps, s->vfr ? "(variable)" : "(constant)");
            else if (!strcmp(s->type, "audio"))
                fprintf(f, " %d Hz, %d ch", s->sample_rate, s->channels);
            if (s->language[0])
                fprintf(f, " [%s]", s->language);
            fputc('\n', f);
        }
        fprintf(f, "decode: %s (%s)\n", in->video_index < 0 ? "none" : in->gpu_decode ? "NVDEC" : "CPU",
                in->decode_why);
        return;
    }
    fprintf(f, "{\"path\":");
    fp_json_str(f, in->path);
    fprintf(f, ",\"format\":");
    fp_json_str(f, in->format);
    fprintf(f, ",\"duration\":%.6f,\"bit_rate\":%lld,\"chapters\":%d,\"streams\":[", in->duration, in->bit_rate,
            in->nb_chapters);
    for (int i = 0; i < in->nb_streams; i++) {
        const fp_probe_stream *s = &in->streams[i];
        fprintf(f, "%s{\"index\":%d,\"type\":", i ? "," : "", s->index);
        fp_json_str(f, s->type);
        fprintf(f, ",\"codec\":");
        fp_json_str(f, s->codec);
        if (!strcmp(s->type, "video")) {
            fprintf(f, ",\"width\":%d,\"height\":%d,\"pix_fmt\":", s->width, s->height);
            fp_json_str(f, s->pix_fmt);
            fprintf(f, ",\"bit_depth\":%d,\"alpha\":%s,\"fps\":%.6f,\"vfr\":%s", s->bit_depth,
                    s->alpha ? "true" : "false", s->fps, s->vfr ? "true" : "false");
        } else if (!strcmp(s->type, "audio")) {
            fprintf(f, ",\"sample_rate\":%d,\"channels\":%d", s->sample_rate, s->channels);
        }
        if (s->language[0]) {
            fprintf(f, ",\"language\":");
            fp_json_str(f, s->language);
        }
        fprintf(f, ",\"duration\":%.6f}", s->duration);
    }
    fprintf(f, "],\"decode\":{\"path\":\"%s\",\"reason\":",
            in->video_index < 0 ? "none" : in->gpu_decode ? "nvdec" : "cpu");
    fp_json_str(f, in->decode_why);
    fprintf(f, "}}\n");
}
