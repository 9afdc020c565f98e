/*
 * task_remux — two chunkable tasks that need no decoder, so chunking can be tested end to end on
 * real media before the processing tasks exist:
 *   remux     : stream-copy the video of a chunk; aggregation joins the chunks into one file of the
 *               output's container and muxes audio and subtitles from the source. The joined video
 *               has exactly the input's packets and timestamps.
 *   packetmd5 : one JSON line per video frame (pts, dts, key, size, md5 of the packet); aggregation
 *               merges the chunks' lines in presentation order.
 * Owns: chunk packet selection (by the planner's pts range) and the join. Does not own planning.
 *
 * Chunk results of remux are "packet files" (below): the video packets with their pts, dts,
 * duration and flags, in the source stream's time base. Containers were tried and rejected: NUT
 * rescales the time base and drops leading dts, Matroska rounds to milliseconds; either breaks the
 * "exactly the input's timestamps" rule. The codec parameters come from the source at join time.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <libavformat/avformat.h>
#include <libavutil/avstring.h>
#include <libavutil/intreadwrite.h>
#include <libavutil/md5.h>

#include "jobs/jobs_task.h"

typedef struct chunk_reader {
    AVFormatContext *fmt;
    int vs;
    int64_t start, end;
    int done;
} chunk_reader;

static void chunk_reader_close(chunk_reader *r) { avformat_close_input(&r->fmt); }

static int chunk_reader_open(chunk_reader *r, const char *path, const fp_chunk *ch, fp_err *e)
{
    int ret;
    memset(r, 0, sizeof(*r));
    if ((ret = avformat_open_input(&r->fmt, path, NULL, NULL)) < 0)
        return fp_errorf(e, FP_EINPUT, "%s: chunk: cannot open: %s", path, av_err2str(ret));
    if ((ret = avformat_find_stream_info(r->fmt, NULL)) < 0 ||
        (r->vs = av_find_best_stream(r->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0)) < 0) {
        chunk_reader_close(r);
        return fp_errorf(e, FP_EINPUT, "%s: chunk: no readable video stream", path);
    }
    r->start = ch ? ch->start_pts : INT64_MIN;
    r->end = ch ? ch->end_pts : INT64_MAX;
    /* The planner cut at a keyframe with pts == start; seeking to it backwards lands on it (or
     * earlier, which the pts filter below handles). A failed seek only costs reading from 0. */
    if (ch && ch->start_pts != INT64_MIN)
        av_seek_frame(r->fmt, r->vs, ch->start_pts, AVSEEK_FLAG_BACKWARD);
    return 0;
}

/* Next video packet of the chunk in decode order; FP_EOF at the end. The cut is clean (planner), so
 * every packet before the next chunk's keyframe in decode order belongs to this chunk or earlier. */
static int chunk_reader_next(chunk_reader *r, AVPacket *pkt, const char *path, fp_err *e)
{
    while (!r->done) {
        int ret = av_read_frame(r->fmt, pkt);
        if (ret == AVERROR_EOF)
            break;
        if (ret < 0)
            return fp_errorf(e, FP_EINPUT, "%s: chunk: read failed: %s", path, av_err2str(ret));
        if (pkt->stream_index != r->vs) {
            av_packet_unref(pkt);
            continue;
        }
        int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
        if (ts >= r->end && (pkt->flags & AV_PKT_FLAG_KEY) && ts == r->end) {
            av_packet_unref(pkt);
            r->done = 1;
            break;
        }
        if (ts < r->start || ts >= r->end) {
            av_packet_unref(pkt);
            continue;
        }
        return 0;
    }
    r->done = 1;
    return FP_EOF;
}

static double chunk_progress(const chunk_reader *r, const AVPacket *pkt)
{
    if (r->end == INT64_MAX || r->end <= r->start)
        return 0.5;
    return (double)(pkt->pts - r->start) / (double)(r->end - r->start);
}

/* ---- packet files --------------------------------------------------------------------------- */

/* Layout: "FPPKT1\n\0", then per packet a 32-byte little-endian header (pts, dts, duration: int64;
 * flags, size: int32) followed by size bytes. AV_NOPTS_VALUE is stored as is. */
static const char pkt_magic[8] = "FPPKT1\n";

static int pkt_write(FILE *f, const AVPacket *p)
{
    uint8_t h[32];
    AV_WL64(h, (uint64_t)p->pts);
    AV_WL64(h + 8, (uint64_t)p->dts);
    AV_WL64(h + 16, (uint64_t)p->duration);
    AV_WL32(h + 24, (uint32_t)p->flags);
    AV_WL32(h + 28, (uint32_t)p->size);
    return fwrite(h, 1, 32, f) == 32 && fwrite(p->data, 1, p->size, f) == (size_t)p->size ? 0 : -1;
}

/* 0 with a packet, FP_EOF at a clean end, FP_EINPUT on a truncated or corrupt file. */
static int pkt_read(FILE *f, AVPacket *p, const char *path, fp_err *e)
{
    uint8_t h[32];
    size_t r = fread(h, 1, 32, f);
    if (r == 0 && feof(f))
        return FP_EOF;
    if (r != 32)
        return fp_errorf(e, FP_EINPUT, "%s: join: truncated packet header", path);
    int32_t size = (int32_t)AV_RL32(h + 28);
    if (size < 0 || size > (1 << 28) || av_new_packet(p, size) < 0)
        return fp_errorf(e, FP_EINPUT, "%s: join: corrupt packet size %d", path, size);
    p->pts = (int64_t)AV_RL64(h);
    p->dts = (int64_t)AV_RL64(h + 8);
    p->duration = (int64_t)AV_RL64(h + 16);
    p->flags = (int)AV_RL32(h + 24);
    if (fread(p->data, 1, size, f) != (size_t)size) {
        av_packet_unref(p);
        return fp_errorf(e, FP_EINPUT, "%s: join: truncated packet data", path);
    }
    return 0;
}

/* ---- remux ------------------------------------------------------------------------------------ */

static int remux_chunk(const fp_task_ctx *ctx, const char *out, fp_err *e)
{
    chunk_reader r;
    AVPacket *pkt = av_packet_alloc();
    FILE *f = NULL;
    int ret;
    if (!pkt)
        return fp_errorf(e, FP_ENOMEM, "%s: remux: out of memory", ctx->input);
    if ((ret = chunk_reader_open(&r, ctx->input, ctx->chunk, e)) < 0) {
        av_packet_free(&pkt);
        return ret;
    }
    if (!(f = fopen(out, "wb")) || fwrite(pkt_magic, 1, 8, f) != 8) {
        ret = fp_errorf(e, FP_EIO, "%s: remux: cannot create chunk file", out);
        goto done;
    }
    int64_t n = 0;
    while ((ret = chunk_reader_next(&r, pkt, ctx->input, e)) == 0) {
        if (atomic_load(ctx->stop)) {
            av_packet_unref(pkt);
            ret = fp_errorf(e, FP_EINTR, "%s: remux: stopped", ctx->input);
            goto done;
        }
        atomic_store(ctx->progress, chunk_progress(&r, pkt));
        if (pkt_write(f, pkt) < 0) {
            av_packet_unref(pkt);
            ret = fp_errorf(e, FP_EIO, "%s: remux: write failed", out);
            goto done;
        }
        av_packet_unref(pkt);
        n++;
    }
    if (ret != FP_EOF)
        goto done;
    if (ctx->chunk && ctx->chunk->nframes && n != ctx->chunk->nframes) {
        ret = fp_errorf(e, FP_EINPUT, "%s: remux: chunk has %" PRId64 " frames, the plan said %d (input changed?)",
                        ctx->input, n, ctx->chunk->nframes);
        goto done;
    }
    ret = fflush(f) || ferror(f) ? fp_errorf(e, FP_EIO, "%s: remux: write failed", out) : 0;
    if (fclose(f) && ret == 0)
        ret = fp_errorf(e, FP_EIO, "%s: remux: write failed", out);
    f = NULL;
done:
    if (f)
        fclose(f);
    chunk_reader_close(&r);
    av_packet_free(&pkt);
    return ret;
}

/* One input of the join: the chunks' packet files read one after another (video), or the source for
 * its other streams. Holds one packet of look-ahead for the dts merge. */
typedef struct join_src {
    const char *const *paths;
    int npaths, cur;
    FILE *pf;             /* video: current packet file */
    AVFormatContext *cf;  /* video: current chunk container file (containers = 1) */
    int containers;       /* chunks are media files (transcode), not packet files (remux) */
    AVRational vtb;       /* time base video packets are returned in */
    AVFormatContext *fmt; /* source */
    int video;
    int skip_stream;
    AVPacket *pkt;
    int have, eof;
    const int *map; /* source stream -> output stream (-1 dropped) */
} join_src;

static int join_fill(join_src *s, fp_err *e)
{
    while (!s->have && !s->eof) {
        if (s->video && s->containers) {
            if (!s->cf) {
                if (s->cur >= s->npaths) {
                    s->eof = 1;
                    break;
                }
                int ret = avformat_open_input(&s->cf, s->paths[s->cur], NULL, NULL);
                if (ret < 0 || (ret = avformat_find_stream_info(s->cf, NULL)) < 0)
                    return fp_errorf(e, FP_EINPUT, "%s: join: cannot open chunk: %s", s->paths[s->cur],
                                     av_err2str(ret));
            }
            int ret = av_read_frame(s->cf, s->pkt);
            if (ret == AVERROR_EOF) {
                avformat_close_input(&s->cf);
                s->cur++;
                continue;
            }
            if (ret < 0)
                return fp_errorf(e, FP_EINPUT, "%s: join: read failed: %s", s->paths[s->cur], av_err2str(ret));
            if (s->cf->streams[s->pkt->stream_index]->codecpar->codec_type != AVMEDIA_TYPE_VIDEO) {
                av_packet_unref(s->pkt);
                continue;
            }
            av_packet_rescale_ts(s->pkt, s->cf->streams[s->pkt->stream_index]->time_base, s->vtb);
            s->have = 1;
            break;
        }
        if (s->video) {
            if (!s->pf) {
                char magic[8];
                if (s->cur >= s->npaths) {
                    s->eof = 1;
                    break;
                }
                if (!(s->pf = fopen(s->paths[s->cur], "rb")) || fread(magic, 1, 8, s->pf) != 8 ||
                    memcmp(magic, pkt_magic, 8))
                    return fp_errorf(e, FP_EINPUT, "%s: join: not a chunk packet file", s->paths[s->cur]);
            }
            int ret = pkt_read(s->pf, s->pkt, s->paths[s->cur], e);
            if (ret == FP_EOF) {
                fclose(s->pf);
                s->pf = NULL;
                s->cur++;
                continue;
            }
            if (ret < 0)
                return ret;
            s->have = 1;
            break;
        }
        int ret = av_read_frame(s->fmt, s->pkt);
        if (ret == AVERROR_EOF) {
            s->eof = 1;
            break;
        }
        if (ret < 0)
            return fp_errorf(e, FP_EINPUT, "%s: join: read failed: %s", s->paths[0], av_err2str(ret));
        if (s->pkt->stream_index == s->skip_stream || s->map[s->pkt->stream_index] < 0) {
            av_packet_unref(s->pkt);
            continue;
        }
        s->have = 1;
    }
    return 0;
}

/* params.no_audio / params.no_subs (the commands' -an / -sn): 1 when that boolean is true. */
static int param_true(const char *params, const char *k)
{
    cJSON *p = params ? cJSON_Parse(params) : NULL;
    int v = p && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, k));
    cJSON_Delete(p);
    return v;
}

static int join(const fp_task_ctx *ctx, const char *const *chunks, int n, const char *out, int containers,
                fp_err *e)
{
    const int no_audio = param_true(ctx->params, "no_audio"), no_subs = param_true(ctx->params, "no_subs");
    AVFormatContext *src = NULL, *o = NULL, *first = NULL;
    join_src v = { .paths = chunks, .npaths = n, .video = 1, .skip_stream = -1, .pkt = av_packet_alloc(),
                   .containers = containers };
    join_src a = { .paths = &ctx->input, .npaths = 1, .pkt = av_packet_alloc() };
    int *map = NULL, ret, vs, out_vs = 0;
    if (!v.pkt || !a.pkt) {
        ret = fp_errorf(e, FP_ENOMEM, "%s: join: out of memory", out);
        goto done;
    }
    if ((ret = avformat_open_input(&src, ctx->input, NULL, NULL)) < 0 ||
        (ret = avformat_find_stream_info(src, NULL)) < 0) {
        ret = fp_errorf(e, FP_EINPUT, "%s: join: cannot read source: %s", ctx->input, av_err2str(ret));
        goto done;
    }
    if ((vs = av_find_best_stream(src, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0)) < 0) {
        ret = fp_errorf(e, FP_EINPUT, "%s: join: no video stream", ctx->input);
        goto done;
    }
    /* Re-encoded chunks: the output's video parameters (codec, extradata) are the chunks', read from
     * the first one; every chunk was made by the same encoder settings. */
    AVStream *fvs = NULL;
    if (containers) {
        int fv;
        if (n < 1 || (ret = avformat_open_input(&first, chunks[0], NULL, NULL)) < 0 ||
            (ret = avformat_find_stream_info(first, NULL)) < 0 ||
            (fv = av_find_best_stream(first, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0)) < 0) {
            ret = fp_errorf(e, FP_EINPUT, "%s: join: first chunk has no readable video", n ? chunks[0] : out);
            goto done;
        }
        fvs = first->streams[fv];
    }
    if ((ret = avformat_alloc_output_context2(&o, NULL, NULL, out)) < 0) {
        ret = fp_errorf(e, FP_EUNSUPPORTED, "%s: join: no container for this file name: %s", out, av_err2str(ret));
        goto done;
    }
    if (!(map = malloc(src->nb_streams * sizeof(int)))) {
        ret = fp_errorf(e, FP_ENOMEM, "%s: join: out of memory", out);
        goto done;
    }
    /* Output streams in the source's order: the video where it was, audio/subtitles copied, other
     * streams (data, attachments) dropped because most containers cannot carry them. */
    for (unsigned i = 0; i < src->nb_streams; i++) {
        AVStream *is = src->streams[i];
        enum AVMediaType t = is->codecpar->codec_type;
        map[i] = -1;
        if ((int)i != vs && t != AVMEDIA_TYPE_AUDIO && t != AVMEDIA_TYPE_SUBTITLE)
            continue;
        if ((t == AVMEDIA_TYPE_AUDIO && no_audio) || (t == AVMEDIA_TYPE_SUBTITLE && no_subs))
            continue;
        /* the video is the chunks' (re-encoded), not the source's codec */
        const AVStream *ps = (int)i == vs && fvs ? fvs : is;
        if (avformat_query_codec(o->oformat, ps->codecpar->codec_id, 0 /* FF_COMPLIANCE_NORMAL */) == 0) {
            ret = fp_errorf(e, FP_EUNSUPPORTED, "%s: join: the %s container cannot hold %s stream %u (%s)", out,
                            o->oformat->name, av_get_media_type_string(t), i, avcodec_get_name(ps->codecpar->codec_id));
            goto done;
        }
        AVStream *os = avformat_new_stream(o, NULL);
        if (!os || avcodec_parameters_copy(os->codecpar, ps->codecpar) < 0) {
            ret = fp_errorf(e, FP_ENOMEM, "%s: join: out of memory", out);
            goto done;
        }
        os->codecpar->codec_tag = 0;
        os->time_base = ps->time_base;
        os->disposition = is->disposition;
        av_dict_copy(&os->metadata, is->metadata, 0);
        if (ps == fvs) {
            /* The encoder's tags win (ALPHA_MODE: without it a VP9 decoder ignores the alpha side
             * data; the matte task's alpha type); the demuxer's DURATION is the chunk's, not ours. */
            const AVDictionaryEntry *t = NULL;
            while ((t = av_dict_get(fvs->metadata, "", t, AV_DICT_IGNORE_SUFFIX)))
                if (av_strcasecmp(t->key, "DURATION"))
                    av_dict_set(&os->metadata, t->key, t->value, 0);
        }
        map[i] = os->index;
        if ((int)i == vs)
            out_vs = os->index;
    }
    av_dict_copy(&o->metadata, src->metadata, 0);
    a.map = map;
    a.fmt = src;
    a.skip_stream = vs;
    if (!(o->oformat->flags & AVFMT_NOFILE) && (ret = avio_open(&o->pb, out, AVIO_FLAG_WRITE)) < 0) {
        ret = fp_errorf(e, FP_EIO, "%s: join: cannot create: %s", out, av_err2str(ret));
        goto done;
    }
    if ((ret = avformat_write_header(o, NULL)) < 0) {
        ret = fp_errorf(e, FP_EUNSUPPORTED, "%s: join: cannot write header: %s", out, av_err2str(ret));
        goto done;
    }
    AVRational vtb = fvs ? fvs->time_base : src->streams[vs]->time_base;
    AVRational fr = src->streams[vs]->avg_frame_rate.num ? src->streams[vs]->avg_frame_rate : src->streams[vs]->r_frame_rate;
    int64_t fdur = fr.num > 0 && fr.den > 0 ? av_rescale_q(1, av_inv_q(fr), vtb) : 0;
    v.vtb = vtb;
    for (;;) {
        if (atomic_load(ctx->stop)) {
            ret = fp_errorf(e, FP_EINTR, "%s: join: stopped", out);
            goto done;
        }
        if ((ret = join_fill(&v, e)) < 0 || (ret = join_fill(&a, e)) < 0)
            goto done;
        if (!v.have && !a.have)
            break;
        join_src *pick;
        if (!a.have)
            pick = &v;
        else if (!v.have)
            pick = &a;
        else {
            AVStream *as = src->streams[a.pkt->stream_index];
            int64_t vd = v.pkt->dts != AV_NOPTS_VALUE ? v.pkt->dts : v.pkt->pts;
            int64_t ad = a.pkt->dts != AV_NOPTS_VALUE ? a.pkt->dts : a.pkt->pts;
            pick = av_compare_ts(vd, vtb, ad, as->time_base) <= 0 ? &v : &a;
        }
        AVPacket *p = pick->pkt;
        AVRational itb;
        if (pick == &v) {
            itb = vtb;
            p->stream_index = out_vs;
            /* FFmpeg 5.1's MP4 demuxer returns the chunks' packets without durations; the MP4 muxer
             * ends the edit list at the last packet's pts + duration, so a zero there would mark the
             * output's last frame as discarded. One frame at the source's rate, as the encoder set it
             * in the plain run. */
            if (containers && p->duration <= 0 && fdur > 0)
                p->duration = fdur;
        } else {
            itb = src->streams[p->stream_index]->time_base;
            p->stream_index = map[p->stream_index];
        }
        av_packet_rescale_ts(p, itb, o->streams[p->stream_index]->time_base);
        p->pos = -1;
        pick->have = 0;
        if ((ret = av_interleaved_write_frame(o, p)) < 0) {
            ret = fp_errorf(e, FP_EIO, "%s: join: write failed: %s", out, av_err2str(ret));
            goto done;
        }
    }
    if ((ret = av_write_trailer(o)) < 0) {
        ret = fp_errorf(e, FP_EIO, "%s: join: cannot finish: %s", out, av_err2str(ret));
        goto done;
    }
    ret = 0;
done:
    if (o && !(o->oformat->flags & AVFMT_NOFILE))
        avio_closep(&o->pb);
    avformat_free_context(o);
    avformat_close_input(&src);
    if (v.pf)
        fclose(v.pf);
    avformat_close_input(&v.cf);
    avformat_close_input(&first);
    av_packet_free(&v.pkt);
    av_packet_free(&a.pkt);
    free(map);
    return ret;
}

static int remux_aggregate(const fp_task_ctx *ctx, const char *const *chunks, int n, const char *out, fp_err *e)
{
    return join(ctx, chunks, n, out, 0, e);
}

/* The join of chunk media files (one video stream each) with the source's audio and subtitles; used
 * by task_transcode.c. */
int fp_task_join_chunks(const fp_task_ctx *ctx, const char *const *chunks, int n, const char *out, fp_err *e)
{
    return join(ctx, chunks, n, out, 1, e);
}

/* ---- packetmd5 ------------------------------------------------------------------------------- */

typedef struct line {
    int64_t pts;
    char text[192];
} line;

static int cmp_line(const void *x, const void *y)
{
    const line *a = x, *b = y;
    return a->pts < b->pts ? -1 : a->pts > b->pts;
}

static int md5_chunk(const fp_task_ctx *ctx, const char *out, fp_err *e)
{
    chunk_reader r;
    AVPacket *pkt = av_packet_alloc();
    line *lines = NULL;
    size_t n = 0, cap = 0;
    int ret;
    if (!pkt)
        return fp_errorf(e, FP_ENOMEM, "%s: packetmd5: out of memory", ctx->input);
    if ((ret = chunk_reader_open(&r, ctx->input, ctx->chunk, e)) < 0) {
        av_packet_free(&pkt);
        return ret;
    }
    while ((ret = chunk_reader_next(&r, pkt, ctx->input, e)) == 0) {
        if (atomic_load(ctx->stop)) {
            av_packet_unref(pkt);
            ret = fp_errorf(e, FP_EINTR, "%s: packetmd5: stopped", ctx->input);
            goto done;
        }
        atomic_store(ctx->progress, chunk_progress(&r, pkt));
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            line *nl = realloc(lines, cap * sizeof(*lines));
            if (!nl) {
                av_packet_unref(pkt);
                ret = fp_errorf(e, FP_ENOMEM, "%s: packetmd5: out of memory", ctx->input);
                goto done;
            }
            lines = nl;
        }
        uint8_t sum[16];
        char hex[33];
        av_md5_sum(sum, pkt->data, pkt->size);
        for (int i = 0; i < 16; i++)
            snprintf(hex + 2 * i, 3, "%02x", sum[i]);
        lines[n].pts = pkt->pts;
        snprintf(lines[n].text, sizeof(lines[n].text),
                 "{\"pts\":%" PRId64 ",\"dts\":%" PRId64 ",\"key\":%d,\"size\":%d,\"md5\":\"%s\"}\n", pkt->pts,
                 pkt->dts, !!(pkt->flags & AV_PKT_FLAG_KEY), pkt->size, hex);
        n++;
        av_packet_unref(pkt);
    }
    if (ret != FP_EOF)
        goto done;
    qsort(lines, n, sizeof(*lines), cmp_line);
    FILE *f = fopen(out, "w");
    if (!f) {
        ret = fp_errorf(e, FP_EIO, "%s: packetmd5: cannot create", out);
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        fputs(lines[i].text, f);
    ret = (ferror(f) | fclose(f)) ? fp_errorf(e, FP_EIO, "%s: packetmd5: write failed", out) : 0;
done:
    free(lines);
    chunk_reader_close(&r);
    av_packet_free(&pkt);
    return ret;
}

/* Chunks cover disjoint, increasing pts ranges and each is sorted, so concatenation in chunk order is
 * the merge in presentation order. */
static int md5_aggregate(const fp_task_ctx *ctx, const char *const *chunks, int n, const char *out, fp_err *e)
{
    FILE *o = fopen(out, "w");
    char buf[1 << 15];
    if (!o)
        return fp_errorf(e, FP_EIO, "%s: packetmd5: cannot create", out);
    for (int i = 0; i < n; i++) {
        FILE *in = fopen(chunks[i], "r");
        if (!in) {
            fclose(o);
            return fp_errorf(e, FP_EINPUT, "%s: packetmd5: cannot read chunk result", chunks[i]);
        }
        size_t r;
        while ((r = fread(buf, 1, sizeof(buf), in)) > 0)
            fwrite(buf, 1, r, o);
        fclose(in);
    }
    return (ferror(o) | fclose(o)) ? fp_errorf(e, FP_EIO, "%s: packetmd5: write failed", out) : 0;
}

const fp_task_desc fp_task_remux = {
    "remux", "stream-copy the video in chunks and join it, audio/subtitles from the source", 0, "pkt",
    remux_chunk, remux_aggregate,
};

const fp_task_desc fp_task_packetmd5 = {
    "packetmd5", "JSON Lines of every video packet (pts, dts, key, size, md5) in presentation order", 0, "jsonl",
    md5_chunk, md5_aggregate,
};
