/*
 * matte_chunks — plan, run on threads, join. See matte_chunks.h.
 *
 * Chunk files are written beside the output as ".NAME.chunkI-PID.EXT" (same container as the output,
 * so the join only copies packets) and removed whatever happens. Threads share nothing but the claim
 * counter and the first error; each owns its fp_matte, stage and fp_transcode.
 */
#include "tasks/matte_chunks.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libavformat/avformat.h>

#include "media/fp_transcode.h"
#include "core/fp_log.h"
#include "pipeline/fp_output.h"

typedef struct chunk {
    int64_t warmup_pts, start_pts, end_pts; /* end AV_NOPTS_VALUE: to the end */
    int64_t nframes, nwarm;
    char *path;
    int ret;
    int done;
    fp_err err;
    fp_transcode_stats st;
    double model_s;
} chunk;

typedef struct runner {
    const fp_matte_chunk_opts *o;
    chunk *c;
    int n;
    atomic_int next;
    atomic_int failed;
    int threads_per_model;
} runner;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Presentation times of every video packet, sorted (no decoding). */
static int read_pts(const char *path, int64_t **out, int64_t *n, fp_err *e)
{
    AVFormatContext *fc = NULL;
    AVPacket *pkt = av_packet_alloc();
    int64_t *v = NULL, cap = 0, cnt = 0;
    int vs, ret;
    if (!pkt)
        return fp_errorf(e, FP_ENOMEM, "%s: plan: out of memory", path);
    if (avformat_open_input(&fc, path, NULL, NULL) < 0 || avformat_find_stream_info(fc, NULL) < 0) {
        ret = fp_errorf(e, FP_EINPUT, "%s: plan: cannot read the input", path);
        goto end;
    }
    if ((vs = av_find_best_stream(fc, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0)) < 0) {
        ret = fp_errorf(e, FP_EINPUT, "%s: plan: no video stream", path);
        goto end;
    }
    while (av_read_frame(fc, pkt) >= 0) {
        if (pkt->stream_index == vs) {
            if (pkt->pts == AV_NOPTS_VALUE) {
                av_packet_unref(pkt);
                ret = fp_errorf(e, FP_EINPUT, "%s: plan: video packets without timestamps cannot be chunked", path);
                goto end;
            }
            if (cnt == cap) {
                int64_t *nv = realloc(v, (cap = cap ? 2 * cap : 1024) * sizeof(*v));
                if (!nv) {
                    av_packet_unref(pkt);
                    ret = fp_errorf(e, FP_ENOMEM, "%s: plan: out of memory", path);
                    goto end;
                }
                v = nv;
            }
            v[cnt++] = pkt->pts;
        }
        av_packet_unref(pkt);
    }
    if (!cnt) {
        ret = fp_errorf(e, FP_EINPUT, "%s: plan: no video frames", path);
        goto end;
    }
    qsort(v, cnt, sizeof(*v), cmp_i64);
    *out = v;
    *n = cnt;
    v = NULL;
    ret = 0;
end:
    free(v);
    av_packet_free(&pkt);
    avformat_close_input(&fc);
    return ret;
}

static int run_one(runner *r, chunk *c, fp_err *e)
{
    const fp_matte_chunk_opts *o = r->o;
    fp_matte_opts mo = o->model;
    fp_matte *m = NULL;
    fp_matte_stage s = { 0 };
    fp_process_stage stage = { "matte", o->mode == FP_MATTE_MODE_RGBA, fp_matte_stage_process, &s };
    fp_transcode_opts to;
    fp_transcode *t = NULL;
    int ret;

    if (!mo.threads)
        mo.threads = r->threads_per_model;
    if ((ret = fp_matte_open(&m, &mo, e)) < 0)
        return ret;
    s.m = m;
    s.mode = o->mode;
    s.premultiplied = o->premultiplied;
    memcpy(s.bg_rgb, o->bg_rgb, sizeof(s.bg_rgb));
    fp_transcode_opts_default(&to);
    to.input = o->input;
    to.output = c->path;
    to.vcodec = o->vcodec;
    to.pix_fmt = o->pix_fmt;
    to.stage = &stage;
    to.encoders = 1;
    to.copy_audio = to.copy_subs = to.copy_data = 0; /* the join copies them once from the source */
    to.interrupted = o->interrupted;
    to.video_metadata = o->video_metadata;
    to.in.start_pts = c->warmup_pts;
    to.in.end_pts = c->end_pts;
    to.emit_from_pts = c->start_pts;
    if ((ret = fp_transcode_open(&t, &to, e)) >= 0) {
        fp_input *in = fp_transcode_input(t);
        ret = fp_matte_check_size(m, fp_input_decoder(in)->width, fp_input_decoder(in)->height, e);
        if (ret >= 0)
            ret = fp_transcode_run(t, e);
    }
    if (t)
        c->st = *fp_transcode_get_stats(t);
    c->model_s = s.model_s;
    if (ret >= 0 && c->st.frames_out != c->nframes)
        ret = fp_errorf(e, FP_EINTERNAL, "%s: chunk wrote %lld frames, planned %lld", c->path,
                        (long long)c->st.frames_out, (long long)c->nframes);
    fp_transcode_freep(&t);
    fp_matte_stage_uninit(&s);
    fp_matte_freep(&m);
    return ret;
}

static void *worker(void *arg)
{
    runner *r = arg;
    for (;;) {
        int i = atomic_fetch_add(&r->next, 1);
        if (i >= r->n || atomic_load(&r->failed))
            break;
        if (r->c[i].done)
            continue;
        fp_err_clear(&r->c[i].err);
        r->c[i].ret = run_one(r, &r->c[i], &r->c[i].err);
        if (r->c[i].ret < 0)
            atomic_store(&r->failed, 1);
        else
            r->c[i].done = 1;
    }
    return NULL;
}

/* ---- join ------------------------------------------------------------------------------------ */

/* fp_audio's packets (audio the container cannot hold, transcoded at the join). */
static int join_write(void *opaque, AVPacket *pkt)
{
    return av_interleaved_write_frame(opaque, pkt) < 0 ? FP_EIO : 0;
}

static int join(const fp_matte_chunk_opts *o, chunk *c, int n, fp_err *e)
{
    AVFormatContext *src = NULL, *out = NULL, *cur = NULL;
    AVPacket *vp = av_packet_alloc(), *ap = av_packet_alloc();
    fp_output *po = NULL;
    int *map = NULL, vs, ret, ci = 0, have_v = 0, have_a = 0, v_eof = 0, a_eof = 0, out_v = -1;
    AVRational vtb = { 0, 1 };
    fp_audio **aenc = NULL; /* source stream -> its audio transcoder (fp_audio.h); NULL: copied */
    unsigned naenc = 0;

    if (!vp || !ap) {
        ret = fp_errorf(e, FP_ENOMEM, "%s: join: out of memory", o->output);
        goto end;
    }
    if ((ret = fp_output_begin(&po, o->output, e)) < 0)
        goto end;
    if (avformat_open_input(&src, o->input, NULL, NULL) < 0 || avformat_find_stream_info(src, NULL) < 0 ||
        (vs = av_find_best_stream(src, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0)) < 0) {
        ret = fp_errorf(e, FP_EINPUT, "%s: join: cannot read the source again", o->input);
        goto end;
    }
    if (avformat_open_input(&cur, c[0].path, NULL, NULL) < 0 || avformat_find_stream_info(cur, NULL) < 0 ||
        cur->nb_streams < 1) {
        ret = fp_errorf(e, FP_EINPUT, "%s: join: cannot read chunk 0", c[0].path);
        goto end;
    }
    if (avformat_alloc_output_context2(&out, av_guess_format(NULL, o->output, NULL), NULL,
                                       fp_output_tmp_path(po)) < 0 ||
        !(map = malloc(src->nb_streams * sizeof(*map))) || !(aenc = calloc(naenc = src->nb_streams, sizeof(*aenc)))) {
        ret = fp_errorf(e, FP_ENOMEM, "%s: join: out of memory", o->output);
        goto end;
    }
    for (unsigned i = 0; i < src->nb_streams; i++) {
        AVStream *is = src->streams[i], *os;
        enum AVMediaType t = is->codecpar->codec_type;
        map[i] = -1;
        if ((int)i == vs) {
            AVStream *cs = cur->streams[0];
            if (!(os = avformat_new_stream(out, NULL)) || avcodec_parameters_copy(os->codecpar, cs->codecpar) < 0) {
                ret = fp_errorf(e, FP_ENOMEM, "%s: join: out of memory", o->output);
                goto end;
            }
            os->time_base = cs->time_base;
            os->avg_frame_rate = cs->avg_frame_rate;
            os->sample_aspect_ratio = cs->sample_aspect_ratio;
            av_dict_copy(&os->metadata, cs->metadata, 0);
            vtb = cs->time_base;
            out_v = os->index;
            continue;
        }
        if ((t != AVMEDIA_TYPE_AUDIO && t != AVMEDIA_TYPE_SUBTITLE) || (is->disposition & AV_DISPOSITION_ATTACHED_PIC))
            continue;
        if ((t == AVMEDIA_TYPE_AUDIO && o->no_audio) || (t == AVMEDIA_TYPE_SUBTITLE && o->no_subs))
            continue;
        if (t == AVMEDIA_TYPE_AUDIO) {
            /* audio the container cannot hold is transcoded, as in a single-pass run */
            if ((ret = fp_audio_open(&aenc[i], is, out, NULL, o->input, o->output, e)) < 0)
                goto end;
            if (ret > 0) {
                map[i] = fp_audio_stream_index(aenc[i]);
                continue;
            }
        }
        if (avformat_query_codec(out->oformat, is->codecpar->codec_id, FF_COMPLIANCE_NORMAL) != 1) {
            ret = fp_errorf(e, FP_EUNSUPPORTED, "%s: configure: the %s container cannot hold %s stream #%u (%s)",
                            o->output, out->oformat->name, av_get_media_type_string(t), i,
                            avcodec_get_name(is->codecpar->codec_id));
            goto end;
        }
        if (!(os = avformat_new_stream(out, NULL)) || avcodec_parameters_copy(os->codecpar, is->codecpar) < 0) {
            ret = fp_errorf(e, FP_ENOMEM, "%s: join: out of memory", o->output);
            goto end;
        }
        os->codecpar->codec_tag = 0;
        os->time_base = is->time_base;
        os->disposition = is->disposition;
        av_dict_copy(&os->metadata, is->metadata, 0);
        map[i] = os->index;
    }
    av_dict_copy(&out->metadata, src->metadata, 0);
    if (!(out->oformat->flags & AVFMT_NOFILE) && avio_open(&out->pb, fp_output_tmp_path(po), AVIO_FLAG_WRITE) < 0) {
        ret = fp_errorf(e, FP_EOUTPUT, "%s: output: cannot create the output file", o->output);
        goto end;
    }
    if (avformat_write_header(out, NULL) < 0) {
        ret = fp_errorf(e, FP_EOUTPUT, "%s: output: cannot write the header", o->output);
        goto end;
    }
    for (;;) {
        AVPacket *p;
        AVRational itb;
        while (!have_v && !v_eof) {
            if (av_read_frame(cur, vp) >= 0) {
                if (vp->stream_index == 0)
                    have_v = 1;
                else
                    av_packet_unref(vp);
                continue;
            }
            avformat_close_input(&cur);
            if (++ci >= n) {
                v_eof = 1;
                break;
            }
            if (avformat_open_input(&cur, c[ci].path, NULL, NULL) < 0) {
                ret = fp_errorf(e, FP_EINPUT, "%s: join: cannot read chunk %d", c[ci].path, ci);
                goto end;
            }
            if (av_cmp_q(cur->streams[0]->time_base, vtb)) {
                /* rescaled below per packet; only the codec must match */
            }
        }
        while (!have_a && !a_eof) {
            if (av_read_frame(src, ap) < 0) {
                a_eof = 1;
                break;
            }
            if (map[ap->stream_index] >= 0)
                have_a = 1;
            else
                av_packet_unref(ap);
        }
        if (!have_v && !have_a)
            break;
        if (have_v && have_a) {
            int64_t vd = vp->dts != AV_NOPTS_VALUE ? vp->dts : vp->pts;
            int64_t ad = ap->dts != AV_NOPTS_VALUE ? ap->dts : ap->pts;
            p = av_compare_ts(vd, cur->streams[0]->time_base, ad, src->streams[ap->stream_index]->time_base) <= 0
                    ? vp
                    : ap;
        } else {
            p = have_v ? vp : ap;
        }
        if (p == vp) {
            itb = cur->streams[0]->time_base;
            p->stream_index = out_v;
            have_v = 0;
        } else {
            have_a = 0;
            if (aenc[p->stream_index]) {
                ret = fp_audio_send(aenc[p->stream_index], p, join_write, out, e);
                av_packet_unref(p);
                if (ret < 0) {
                    if (!e->code)
                        fp_errorf(e, ret, "%s: output: write failed (disk full or I/O error)", o->output);
                    goto end;
                }
                continue;
            }
            itb = src->streams[p->stream_index]->time_base;
            p->stream_index = map[p->stream_index];
        }
        av_packet_rescale_ts(p, itb, out->streams[p->stream_index]->time_base);
        p->pos = -1;
        if (av_interleaved_write_frame(out, p) < 0) {
            ret = fp_errorf(e, FP_EIO, "%s: output: write failed (disk full or I/O error)", o->output);
            goto end;
        }
    }
    for (unsigned i = 0; i < src->nb_streams; i++)
        if (aenc[i] && (ret = fp_audio_send(aenc[i], NULL, join_write, out, e)) < 0) {
            if (!e->code)
                fp_errorf(e, ret, "%s: output: write failed (disk full or I/O error)", o->output);
            goto end;
        }
    if (av_write_trailer(out) < 0 || (out->pb && out->pb->error < 0)) {
        ret = fp_errorf(e, FP_EIO, "%s: output: write failed (disk full or I/O error)", o->output);
        goto end;
    }
    if (!(out->oformat->flags & AVFMT_NOFILE))
        avio_closep(&out->pb);
    ret = fp_output_commit(&po, e);
end:
    if (out && out->pb && !(out->oformat->flags & AVFMT_NOFILE))
        avio_closep(&out->pb);
    avformat_free_context(out);
    avformat_close_input(&cur);
    avformat_close_input(&src);
    av_packet_free(&vp);
    av_packet_free(&ap);
    for (unsigned i = 0; aenc && i < naenc; i++)
        fp_audio_freep(&aenc[i]);
    free(aenc);
    free(map);
    fp_output_abort(&po);
    return ret;
}

int fp_matte_run_chunked(const fp_matte_chunk_opts *o, fp_matte_chunk_stats *st, fp_err *e)
{
    int64_t *pts = NULL, n = 0;
    chunk *c = NULL;
    runner r;
    pthread_t *th = NULL;
    int k = o->chunks, par, ret, started = 0;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    double t0 = now_s();
    const char *slash = strrchr(o->output, '/'), *dot;

    if (k < 1 || o->warmup_frames < 0)
        return fp_errorf(e, FP_EINVAL, "matte: --chunks must be >= 1 and --warmup-frames >= 0");
    if ((ret = read_pts(o->input, &pts, &n, e)) < 0)
        return ret;
    if (k > n)
        k = (int)n;
    if (!(c = calloc(k, sizeof(*c)))) {
        free(pts);
        return fp_errorf(e, FP_ENOMEM, "matte: out of memory");
    }
    dot = strrchr(o->output, '.');
    if (!dot || (slash && dot < slash))
        dot = "";
    for (int i = 0; i < k; i++) {
        int64_t a = n * i / k, b = n * (i + 1) / k, w = a - o->warmup_frames < 0 ? 0 : a - o->warmup_frames;
        size_t len = strlen(o->output) + 64;
        c[i].start_pts = pts[a];
        c[i].end_pts = i + 1 < k ? pts[b] : AV_NOPTS_VALUE;
        c[i].warmup_pts = pts[w];
        c[i].nframes = b - a;
        c[i].nwarm = a - w;
        if (!(c[i].path = malloc(len))) {
            ret = fp_errorf(e, FP_ENOMEM, "matte: out of memory");
            goto end;
        }
        snprintf(c[i].path, len, "%.*s.%.*s.chunk%d-%d%s", slash ? (int)(slash - o->output + 1) : 0, o->output,
                 (int)(strlen(slash ? slash + 1 : o->output) - strlen(dot)), slash ? slash + 1 : o->output, i,
                 (int)getpid(), dot);
    }
    par = o->parallel > 0 && o->parallel < k ? o->parallel : k;
    memset(&r, 0, sizeof(r));
    r.o = o;
    r.c = c;
    r.n = k;
    r.threads_per_model = cores > par ? (int)(cores / par) : 1;
    if (!(th = calloc(par, sizeof(*th)))) {
        ret = fp_errorf(e, FP_ENOMEM, "matte: out of memory");
        goto end;
    }
    for (;;) {
        int oom = 0, failed = 0, first = -1;
        atomic_store(&r.next, 0);
        atomic_store(&r.failed, 0);
        r.threads_per_model = cores > par ? (int)(cores / par) : 1;
        for (started = 0; started < par; started++)
            if (pthread_create(&th[started], NULL, worker, &r) != 0)
                break;
        if (!started) {
            ret = fp_errorf(e, FP_ENOMEM, "matte: cannot start a chunk thread");
            goto end;
        }
        for (int i = 0; i < started; i++)
            pthread_join(th[i], NULL);
        for (int i = 0; i < k; i++) {
            if (!c[i].done && c[i].ret < 0) {
                failed = 1;
                oom |= c[i].ret == FP_EDEVICE;
                first = first < 0 ? i : first;
            }
        }
        /* Out of GPU memory with several chunks at once: retry the chunks not done with half as many
         * at once (each holds its own model and activations), down to one, instead of failing. */
        if (!failed || !oom || par == 1)
            break;
        fp_log(FP_LOG_WARN, "matte", "%s: GPU error with %d chunks at once (%s); retrying with %d", o->output, par,
               c[first].err.code ? c[first].err.msg : "no message", par / 2);
        par /= 2;
        for (int i = 0; i < k; i++)
            if (!c[i].done) {
                c[i].ret = 0;
                fp_err_clear(&c[i].err);
            }
    }
    ret = 0;
    for (int i = 0; i < k && !ret; i++)
        if (c[i].ret < 0) {
            /* the first failed chunk's message; an interruption anywhere reads as an interruption */
            fp_errorf(e, c[i].err.code ? c[i].err.code : c[i].ret, "%s", c[i].err.code ? c[i].err.msg : "chunk failed");
            ret = c[i].ret;
        }
    for (int i = 0; i < k && !ret; i++)
        if (!c[i].done)
            ret = fp_errorf(e, FP_EINTERNAL, "matte: chunk %d did not run", i);
    if (!ret)
        ret = join(o, c, k, e);
    if (st) {
        memset(st, 0, sizeof(*st));
        st->chunks = k;
        for (int i = 0; i < k; i++) {
            st->frames += c[i].st.frames_out;
            st->warmup_frames_run += c[i].nwarm;
            st->model_s += c[i].model_s;
        }
        st->seconds = now_s() - t0;
    }
end:
    for (int i = 0; i < k; i++) {
        if (c[i].path)
            unlink(c[i].path);
        free(c[i].path);
    }
    free(c);
    free(th);
    free(pts);
    return ret;
}
