/*
 * jobs_plan — keyframe-aligned chunk planning from packet headers. See jobs_plan.h.
 *
 * Owns: the packet scan and the cut rule. Reads every packet of the file once (headers and payload
 * pass through libavformat, nothing is decoded); memory is 17 bytes per video frame.
 */
#include "jobs/jobs_plan.h"

#include <stdlib.h>
#include <string.h>

#include <libavformat/avformat.h>

typedef struct pkt_meta {
    int64_t pts;
    uint8_t key;
} pkt_meta;

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

void fp_plan_clear(fp_plan *p)
{
    free(p->chunks);
    memset(p, 0, sizeof(*p));
}

int fp_plan_make(const char *path, double chunk_seconds, int warmup_frames, fp_plan *plan, fp_err *e)
{
    AVFormatContext *fmt = NULL;
    AVPacket *pkt = av_packet_alloc();
    pkt_meta *m = NULL;
    int64_t *sorted = NULL, *cuts = NULL;
    size_t n = 0, cap = 0;
    int ret, vs;
    memset(plan, 0, sizeof(*plan));
    if (!pkt)
        return fp_errorf(e, FP_ENOMEM, "%s: plan: out of memory", path);
    if ((ret = avformat_open_input(&fmt, path, NULL, NULL)) < 0) {
        ret = fp_errorf(e, FP_EINPUT, "%s: plan: cannot open: %s", path, av_err2str(ret));
        goto done;
    }
    if ((ret = avformat_find_stream_info(fmt, NULL)) < 0) {
        ret = fp_errorf(e, FP_EINPUT, "%s: plan: cannot read stream info: %s", path, av_err2str(ret));
        goto done;
    }
    vs = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0);
    if (vs < 0) {
        ret = fp_errorf(e, FP_EINPUT, "%s: plan: no video stream", path);
        goto done;
    }
    AVStream *st = fmt->streams[vs];
    while ((ret = av_read_frame(fmt, pkt)) >= 0) {
        if (pkt->stream_index == vs) {
            int64_t ts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
            if (ts == AV_NOPTS_VALUE) {
                av_packet_unref(pkt);
                ret = fp_errorf(e, FP_EINPUT, "%s: plan: video packet %zu has no timestamp", path, n);
                goto done;
            }
            if (n == cap) {
                cap = cap ? cap * 2 : 1024;
                pkt_meta *nm = realloc(m, cap * sizeof(*m));
                if (!nm) {
                    av_packet_unref(pkt);
                    ret = fp_errorf(e, FP_ENOMEM, "%s: plan: out of memory", path);
                    goto done;
                }
                m = nm;
            }
            m[n++] = (pkt_meta){ ts, !!(pkt->flags & AV_PKT_FLAG_KEY) };
        }
        av_packet_unref(pkt);
    }
    if (ret != AVERROR_EOF) {
        ret = fp_errorf(e, FP_EINPUT, "%s: plan: read failed after %zu video packets: %s", path, n, av_err2str(ret));
        goto done;
    }
    if (n == 0) {
        ret = fp_errorf(e, FP_EINPUT, "%s: plan: the video stream has no frames", path);
        goto done;
    }
    if (!(sorted = malloc(n * sizeof(*sorted))) || !(cuts = malloc((n + 1) * sizeof(*cuts)))) {
        ret = fp_errorf(e, FP_ENOMEM, "%s: plan: out of memory", path);
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        sorted[i] = m[i].pts;
    qsort(sorted, n, sizeof(*sorted), cmp_i64);
    for (size_t i = 1; i < n; i++)
        if (sorted[i] == sorted[i - 1]) {
            ret = fp_errorf(e, FP_EINPUT, "%s: plan: two video frames share pts %lld", path, (long long)sorted[i]);
            goto done;
        }

    /* Clean cut points: suffix minimum of pts from K on equals pts[K], prefix maximum before K is
     * below it. Walk backwards for the suffix minimum, forwards for the prefix. */
    {
        int64_t *sufmin = malloc(n * sizeof(int64_t));
        if (!sufmin) {
            ret = fp_errorf(e, FP_ENOMEM, "%s: plan: out of memory", path);
            goto done;
        }
        sufmin[n - 1] = m[n - 1].pts;
        for (size_t i = n - 1; i-- > 0;)
            sufmin[i] = m[i].pts < sufmin[i + 1] ? m[i].pts : sufmin[i + 1];
        double tb = av_q2d(st->time_base);
        int64_t prefmax = INT64_MIN, last_cut = m[0].pts;
        size_t ncuts = 0;
        cuts[ncuts++] = sorted[0];
        for (size_t i = 0; i < n; i++) {
            if (i > 0 && m[i].key && sufmin[i] == m[i].pts && prefmax < m[i].pts &&
                (m[i].pts - last_cut) * tb >= chunk_seconds * (1 - 1e-9)) {
                cuts[ncuts++] = m[i].pts;
                last_cut = m[i].pts;
            }
            if (m[i].pts > prefmax)
                prefmax = m[i].pts;
        }
        free(sufmin);
        plan->chunks = calloc(ncuts, sizeof(fp_chunk));
        if (!plan->chunks) {
            ret = fp_errorf(e, FP_ENOMEM, "%s: plan: out of memory", path);
            goto done;
        }
        size_t f = 0;
        for (size_t c = 0; c < ncuts; c++) {
            fp_chunk *ch = &plan->chunks[c];
            ch->start_pts = cuts[c];
            ch->end_pts = c + 1 < ncuts ? cuts[c + 1] : INT64_MAX;
            size_t first = f;
            while (f < n && sorted[f] < ch->end_pts)
                f++;
            ch->nframes = (int)(f - first);
            size_t w = first >= (size_t)warmup_frames ? first - warmup_frames : 0;
            ch->warmup_pts = sorted[w];
        }
        plan->nchunks = (int)ncuts;
        plan->stream_index = vs;
        plan->tb_num = st->time_base.num;
        plan->tb_den = st->time_base.den;
        plan->nframes = (int64_t)n;
        plan->duration_s = (sorted[n - 1] - sorted[0]) * tb;
    }
    ret = 0;
done:
    free(m);
    free(sorted);
    free(cuts);
    av_packet_free(&pkt);
    avformat_close_input(&fmt);
    if (ret < 0)
        fp_plan_clear(plan);
    return ret;
}
