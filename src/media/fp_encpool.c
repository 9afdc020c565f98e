/*
 * fp_encpool — segment-parallel encoding. See fp_encpool.h.
 *
 * Shape: segments form a list in output order. The caller's thread (producer) appends frames to the
 * newest segment and, while it waits for room, drains finished segments from the head of the list to
 * the sink. Workers take the oldest unassigned segment, open a fresh encoder, encode its frames as
 * they arrive, flush, and park the packets on the segment until the producer drains them. One lock,
 * one condition variable: the traffic is a few events per frame, not worth finer locking.
 */
#include "media/fp_encpool.h"

#include <pthread.h>
#include <string.h>

#include "core/fp_log.h"

typedef struct seg {
    int index;
    AVFrame *q[FP_ENCPOOL_QUEUE];
    int head, count;
    int frames;      /* frames appended so far */
    int closed;      /* no more frames will be appended */
    int assigned, done;
    AVPacket **pkts;
    int npkts, cap;
    struct seg *next;
} seg;

struct fp_encpool {
    fp_encoder_cfg cfg;
    AVDictionary *opts;
    int n, seg_frames;
    fp_encpool_sink sink;
    void *opaque;

    pthread_mutex_t lk;
    pthread_cond_t cv;
    pthread_t *threads;
    int nthreads;
    seg *head, *tail; /* segments not yet drained, in order */
    int live;         /* segments in the list */
    int next_index;
    int stop;
    int err;
    fp_err werr;      /* first worker error */

    int64_t last_dts;
    int64_t frames, packets;
};

static void seg_free(seg *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->count; i++)
        av_frame_free(&s->q[(s->head + i) % FP_ENCPOOL_QUEUE]);
    for (int i = 0; i < s->npkts; i++)
        av_packet_free(&s->pkts[i]);
    av_free(s->pkts);
    av_free(s);
}

static int seg_add_packet(seg *s, AVPacket *pkt)
{
    if (s->npkts == s->cap) {
        int cap = s->cap ? s->cap * 2 : 64;
        AVPacket **n = av_realloc_array(s->pkts, cap, sizeof(*n));
        if (!n)
            return FP_ENOMEM;
        s->pkts = n;
        s->cap = cap;
    }
    s->pkts[s->npkts] = av_packet_clone(pkt);
    if (!s->pkts[s->npkts])
        return FP_ENOMEM;
    s->npkts++;
    return 0;
}

/* Encode one frame (or flush with NULL) and collect the packets. */
static int encode_into(AVCodecContext *ctx, AVFrame *f, AVPacket *pkt, seg *s, fp_err *e)
{
    int ret = avcodec_send_frame(ctx, f);
    if (ret < 0) {
        char buf[128];
        av_strerror(ret, buf, sizeof(buf));
        return fp_errorf(e, fp_err_from_averror(ret) == FP_ENOMEM ? FP_ENOMEM : FP_EINTERNAL,
                         "encode: %s: segment %d: %s", ctx->codec->name, s->index, buf);
    }
    for (;;) {
        ret = avcodec_receive_packet(ctx, pkt);
        if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
            return 0;
        if (ret < 0) {
            char buf[128];
            av_strerror(ret, buf, sizeof(buf));
            return fp_errorf(e, FP_EINTERNAL, "encode: %s: segment %d: %s", ctx->codec->name, s->index, buf);
        }
        ret = seg_add_packet(s, pkt);
        av_packet_unref(pkt);
        if (ret < 0)
            return fp_errorf(e, ret, "encode: out of memory");
    }
}

static void *worker_main(void *arg)
{
    fp_encpool *p = arg;
    AVPacket *pkt = av_packet_alloc();
    pthread_mutex_lock(&p->lk);
    for (;;) {
        seg *s;
        AVCodecContext *ctx = NULL;
        fp_err e;
        int ret;

        if (p->stop)
            break;
        for (s = p->head; s && s->assigned; s = s->next)
            ;
        if (!s) {
            pthread_cond_wait(&p->cv, &p->lk);
            continue;
        }
        s->assigned = 1;
        pthread_mutex_unlock(&p->lk);

        fp_err_clear(&e);
        ret = pkt ? fp_encoder_open(&ctx, &p->cfg, &e) : fp_errorf(&e, FP_ENOMEM, "encode: out of memory");
        for (;;) {
            AVFrame *f = NULL;
            pthread_mutex_lock(&p->lk);
            while (!s->count && !s->closed && !p->stop)
                pthread_cond_wait(&p->cv, &p->lk);
            if (s->count && !p->stop) { /* stopping: queued frames are dropped, not encoded */
                f = s->q[s->head];
                s->q[s->head] = NULL;
                s->head = (s->head + 1) % FP_ENCPOOL_QUEUE;
                s->count--;
                pthread_cond_broadcast(&p->cv);
            }
            pthread_mutex_unlock(&p->lk);
            if (!f)
                break; /* closed and empty, or stopping */
            if (ret >= 0)
                ret = encode_into(ctx, f, pkt, s, &e);
            av_frame_free(&f);
        }
        if (ret >= 0 && !p->stop)
            ret = encode_into(ctx, NULL, pkt, s, &e);
        fp_encoder_closep(&ctx, 1);

        pthread_mutex_lock(&p->lk);
        if (ret < 0 && !p->err) {
            p->err = ret;
            p->werr = e;
        }
        s->done = 1;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->lk);
    av_packet_free(&pkt);
    return NULL;
}

int fp_encpool_open(fp_encpool **pp, const fp_encoder_cfg *cfg, int n, int seg_frames, fp_encpool_sink sink,
                    void *opaque, fp_err *e)
{
    fp_encpool *p;
    *pp = NULL;
    if (n < 1 || (n > 1 && seg_frames < 1))
        return fp_errorf(e, FP_EINVAL, "encode: pool of %d encoders with %d-frame segments", n, seg_frames);
    p = av_mallocz(sizeof(*p));
    if (!p)
        return fp_errorf(e, FP_ENOMEM, "encode: out of memory");
    p->cfg = *cfg;
    av_dict_copy(&p->opts, cfg->opts, 0);
    p->cfg.opts = p->opts;
    p->n = n;
    p->seg_frames = n > 1 ? seg_frames : 0;
    p->sink = sink;
    p->opaque = opaque;
    p->last_dts = AV_NOPTS_VALUE;
    pthread_mutex_init(&p->lk, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->threads = av_calloc(n, sizeof(*p->threads));
    if (!p->threads) {
        fp_encpool_freep(&p);
        return fp_errorf(e, FP_ENOMEM, "encode: out of memory");
    }
    for (int i = 0; i < n; i++) {
        if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) {
            fp_encpool_freep(&p);
            return fp_errorf(e, FP_EINTERNAL, "encode: cannot start encoder thread %d", i);
        }
        p->nthreads++;
    }
    *pp = p;
    return 0;
}

/* Hand finished head segments to the sink. Called with the lock held; releases it around the sink. */
static int drain_locked(fp_encpool *p, fp_err *e)
{
    while (p->head && p->head->done && !p->err) {
        seg *s = p->head;
        int ret = 0;
        p->head = s->next;
        if (!p->head)
            p->tail = NULL;
        p->live--;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->lk);
        for (int i = 0; i < s->npkts && ret >= 0; i++) {
            AVPacket *pkt = s->pkts[i];
            /* A B-frame encoder starts each segment with dts a few frames before its first pts; the
             * join must still be strictly increasing, and dts may never pass pts. */
            if (pkt->dts != AV_NOPTS_VALUE && p->last_dts != AV_NOPTS_VALUE && pkt->dts <= p->last_dts) {
                pkt->dts = p->last_dts + 1;
                if (pkt->pts != AV_NOPTS_VALUE && pkt->dts > pkt->pts) {
                    ret = fp_errorf(e, FP_EINTERNAL,
                                    "encode: segment %d cannot be joined: dts %lld would pass pts %lld "
                                    "(use longer segments, fewer B-frames or --encoders 1)",
                                    s->index, (long long)pkt->dts, (long long)pkt->pts);
                    break;
                }
            }
            if (pkt->dts != AV_NOPTS_VALUE)
                p->last_dts = pkt->dts;
            ret = p->sink(p->opaque, pkt);
            p->packets++;
        }
        seg_free(s);
        pthread_mutex_lock(&p->lk);
        if (ret < 0) {
            if (!p->err)
                p->err = ret;
            return ret;
        }
    }
    if (p->err) {
        if (e && !e->code && p->werr.code)
            *e = p->werr;
        return p->err;
    }
    return 0;
}

int fp_encpool_send(fp_encpool *p, const AVFrame *frame, fp_err *e)
{
    AVFrame *f = av_frame_clone(frame);
    int ret;
    if (!f)
        return fp_errorf(e, FP_ENOMEM, "encode: out of memory");
    pthread_mutex_lock(&p->lk);
    /* Start a new segment when the current one is full (pool) or none exists yet. */
    if (!p->tail || (p->seg_frames && p->tail->frames >= p->seg_frames)) {
        seg *s;
        if (p->tail) {
            p->tail->closed = 1;
            pthread_cond_broadcast(&p->cv);
        }
        while (!p->err && p->live >= p->n + 1) {
            if ((ret = drain_locked(p, e)) < 0)
                goto out;
            if (p->live >= p->n + 1)
                pthread_cond_wait(&p->cv, &p->lk);
        }
        s = av_mallocz(sizeof(*s));
        if (!s) {
            ret = fp_errorf(e, FP_ENOMEM, "encode: out of memory");
            goto out;
        }
        s->index = p->next_index++;
        if (p->tail)
            p->tail->next = s;
        else
            p->head = s;
        p->tail = s;
        p->live++;
        pthread_cond_broadcast(&p->cv);
    }
    for (;;) {
        if ((ret = drain_locked(p, e)) < 0)
            goto out;
        if (p->tail->count < FP_ENCPOOL_QUEUE)
            break;
        pthread_cond_wait(&p->cv, &p->lk);
    }
    {
        seg *s = p->tail;
        s->q[(s->head + s->count) % FP_ENCPOOL_QUEUE] = f;
        s->count++;
        s->frames++;
        f = NULL;
        p->frames++;
        pthread_cond_broadcast(&p->cv);
    }
    ret = 0;
out:
    pthread_mutex_unlock(&p->lk);
    av_frame_free(&f);
    return ret;
}

int fp_encpool_finish(fp_encpool *p, fp_err *e)
{
    int ret = 0;
    pthread_mutex_lock(&p->lk);
    if (p->tail) {
        p->tail->closed = 1;
        pthread_cond_broadcast(&p->cv);
    }
    while (p->head) {
        if ((ret = drain_locked(p, e)) < 0)
            break;
        if (p->head)
            pthread_cond_wait(&p->cv, &p->lk);
    }
    pthread_mutex_unlock(&p->lk);
    return ret;
}

void fp_encpool_freep(fp_encpool **pp)
{
    fp_encpool *p = *pp;
    if (!p)
        return;
    pthread_mutex_lock(&p->lk);
    p->stop = 1;
    for (seg *s = p->head; s; s = s->next)
        s->closed = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->lk);
    for (int i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    while (p->head) {
        seg *s = p->head;
        p->head = s->next;
        seg_free(s);
    }
    av_free(p->threads);
    av_dict_free(&p->opts);
    pthread_mutex_destroy(&p->lk);
    pthread_cond_destroy(&p->cv);
    av_freep(pp);
}

int64_t fp_encpool_frames(const fp_encpool *p) { return p->frames; }
int64_t fp_encpool_packets(const fp_encpool *p) { return p->packets; }
