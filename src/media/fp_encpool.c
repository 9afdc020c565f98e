/*
 * fp_encpool — segment-parallel encoding. See fp_encpool.h.
 *
 * Shape: segments form a list in output order. The caller's thread (producer) appends frames to the
 * newest segment and, while it waits for room, hands packets from the head of the list to the sink.
 * Workers take the oldest unassigned segment, open a fresh encoder, encode its frames as they arrive
 * and flush. The head segment's packets go to the sink as they come; a later segment's wait on it
 * until it becomes the head (at most a segment's worth of compressed data each). One lock,
 * one condition variable: the traffic is a few events per frame, not worth finer locking.
 *
 * Why each segment can hold all its frames: the producer delivers frames in order, so segment k+1
 * gets its first frame only after segment k got its last. If a segment's queue were short (it was 8
 * frames), the producer would wait on segment k's encoder for the whole segment and the pool would run
 * at one encoder's speed. With room for a whole segment, the producer fills segment k at decode speed
 * and moves on while k's encoder works through its backlog: N encoders busy at once. The memory that
 * costs (n x seg_frames frames at most) is bounded by the caller's plan (fp_encpool_plan_make).
 */
#include "media/fp_encpool.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/fp_log.h"

typedef struct seg {
    int index;
    AVFrame **q;     /* ring of cap frames */
    int cap, head, count;
    int frames;      /* frames appended so far */
    int closed;      /* no more frames will be appended */
    int assigned, done;
    AVPacket **pkts;
    int npkts, pcap;
    int sent;        /* packets [0, sent) already went to the sink (head segment only) */
    struct seg *next;
} seg;

struct fp_encpool {
    fp_encoder_cfg cfg;
    AVDictionary *opts;
    int n, seg_frames;
    int max_queued;   /* frames queued over all segments at most (the memory bound) */
    fp_encpool_sink sink;
    void *opaque;
    int (*stop_fn)(void *);
    void *stop_arg;

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

    int queued, peak_queued;

    int64_t last_dts;
    int64_t frames, packets;
};

static void seg_free(seg *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->count; i++)
        av_frame_free(&s->q[(s->head + i) % s->cap]);
    av_free(s->q);
    for (int i = s->sent; i < s->npkts; i++)
        av_packet_free(&s->pkts[i]);
    av_free(s->pkts);
    av_free(s);
}

/* Parks a packet on its segment (the reference is moved; pkt is left blank). Called with the lock held:
 * the producer takes packets off the head segment while its encoder is still adding to it. */
static int seg_add_packet(seg *s, AVPacket *pkt)
{
    if (s->npkts == s->pcap) {
        int cap = s->pcap ? s->pcap * 2 : 64;
        AVPacket **n = av_realloc_array(s->pkts, cap, sizeof(*n));
        if (!n)
            return FP_ENOMEM;
        s->pkts = n;
        s->pcap = cap;
    }
    if (!(s->pkts[s->npkts] = av_packet_alloc()))
        return FP_ENOMEM;
    av_packet_move_ref(s->pkts[s->npkts], pkt);
    s->npkts++;
    return 0;
}

/* Encode one frame (or flush with NULL) and collect the packets. */
static int encode_into(fp_encpool *p, AVCodecContext *ctx, AVFrame *f, AVPacket *pkt, seg *s, fp_err *e)
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
        pthread_mutex_lock(&p->lk);
        ret = seg_add_packet(s, pkt);
        pthread_cond_broadcast(&p->cv); /* the head segment's packets go out while it is encoding */
        pthread_mutex_unlock(&p->lk);
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
                s->head = (s->head + 1) % s->cap;
                s->count--;
                p->queued--;
                pthread_cond_broadcast(&p->cv);
            }
            pthread_mutex_unlock(&p->lk);
            if (!f)
                break; /* closed and empty, or stopping */
            if (ret >= 0)
                ret = encode_into(p, ctx, f, pkt, s, &e);
            av_frame_free(&f);
        }
        if (ret >= 0 && !p->stop)
            ret = encode_into(p, ctx, NULL, pkt, s, &e);
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
    p->max_queued = n > 1 ? n * seg_frames : FP_ENCPOOL_QUEUE;
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

void fp_encpool_set_stop(fp_encpool *p, int (*stop)(void *arg), void *arg)
{
    p->stop_fn = stop;
    p->stop_arg = arg;
}

/* The producer's wait for the workers (lock held): with a stop hook, in 100 ms slices. */
static int wait_workers(fp_encpool *p)
{
    struct timespec ts;
    if (!p->stop_fn) {
        pthread_cond_wait(&p->cv, &p->lk);
        return 0;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 100 * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&p->cv, &p->lk, &ts);
    return p->stop_fn(p->stop_arg) ? FP_EINTR : 0;
}

/* One packet to the sink, in order: the dts join. */
static int deliver(fp_encpool *p, int index, AVPacket *pkt, fp_err *e)
{
    /* A B-frame encoder starts each segment with dts a few frames before its first pts; the join must
     * still be strictly increasing, and dts may never pass pts. */
    if (pkt->dts != AV_NOPTS_VALUE && p->last_dts != AV_NOPTS_VALUE && pkt->dts <= p->last_dts) {
        pkt->dts = p->last_dts + 1;
        if (pkt->pts != AV_NOPTS_VALUE && pkt->dts > pkt->pts)
            return fp_errorf(e, FP_EINTERNAL,
                             "encode: segment %d cannot be joined: dts %lld would pass pts %lld "
                             "(use longer segments, fewer B-frames or --encoders 1)",
                             index, (long long)pkt->dts, (long long)pkt->pts);
    }
    if (pkt->dts != AV_NOPTS_VALUE)
        p->last_dts = pkt->dts;
    p->packets++;
    return p->sink(p->opaque, pkt);
}

/* Hands the head segment's packets to the sink as they are produced (a single encoder's whole output
 * is one segment: parking it until the end would hold the whole file in memory), and drops head
 * segments that are done and empty. Called with the lock held; releases it around the sink. */
static int drain_locked(fp_encpool *p, fp_err *e)
{
    while (p->head && !p->err) {
        seg *s = p->head;
        if (s->sent < s->npkts) {
            AVPacket *pkt = s->pkts[s->sent];
            int index = s->index, ret;
            s->pkts[s->sent++] = NULL;
            if (s->sent == s->npkts)
                s->sent = s->npkts = 0;
            pthread_mutex_unlock(&p->lk);
            ret = deliver(p, index, pkt, e);
            av_packet_free(&pkt);
            pthread_mutex_lock(&p->lk);
            if (ret < 0) {
                if (!p->err)
                    p->err = ret;
                return ret;
            }
            continue;
        }
        if (!s->done)
            break;
        p->head = s->next;
        if (!p->head)
            p->tail = NULL;
        p->live--;
        seg_free(s);
        pthread_cond_broadcast(&p->cv);
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
            if (p->live >= p->n + 1 && (ret = wait_workers(p)) < 0)
                goto out;
        }
        s = av_mallocz(sizeof(*s));
        if (s) {
            s->cap = p->seg_frames ? p->seg_frames : FP_ENCPOOL_QUEUE;
            s->q = av_calloc(s->cap, sizeof(*s->q));
        }
        if (!s || !s->q) {
            seg_free(s);
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
        if (p->tail->count < p->tail->cap && p->queued < p->max_queued)
            break;
        if ((ret = wait_workers(p)) < 0)
            goto out;
    }
    {
        seg *s = p->tail;
        s->q[(s->head + s->count) % s->cap] = f;
        s->count++;
        if (++p->queued > p->peak_queued)
            p->peak_queued = p->queued;
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
        if (p->head && (ret = wait_workers(p)) < 0)
            break;
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
int fp_encpool_peak_queued(const fp_encpool *p) { return p->peak_queued; }

/* Frames a segment may take before its encoder sees them is the pool's whole point (see the top of
 * this file); the plan keeps n x seg x frame_bytes inside the budget. Order of concessions: the
 * segment length first (when the caller did not fix it), down to min_seg; then the number of
 * encoders. Threads per instance: cores / n (at least 1), so the pool does not oversubscribe. */
int fp_encpool_plan_make(fp_encpool_plan *pl, int cores, int n, int seg, int seg_fixed, int min_seg,
                         int64_t frame_bytes, int64_t budget_bytes)
{
    int64_t fit;
    memset(pl, 0, sizeof(*pl));
    if (cores < 1)
        cores = 1;
    if (n < 1 || seg < 1 || frame_bytes < 1 || budget_bytes < 1)
        return FP_EINVAL;
    if (min_seg < 1)
        min_seg = 1;
    if (min_seg > seg)
        min_seg = seg;
    fit = budget_bytes / frame_bytes; /* frames the budget holds */
    if (fit < 1)
        fit = 1;
    if (n > 1 && (int64_t)n * seg > fit) {
        int n0 = n, seg0 = seg;
        if (!seg_fixed && fit / n >= min_seg) {
            seg = (int)(fit / n);
        } else {
            if (!seg_fixed)
                seg = min_seg;
            n = (int)(fit / seg);
            if (n < 1)
                n = 1;
        }
        snprintf(pl->note, sizeof(pl->note), "%d x %d-frame segments of %.1f MiB frames exceed the %.0f MiB "
                 "buffer: %d x %d (raise --encode-buffer)", n0, seg0, frame_bytes / 1048576.0,
                 budget_bytes / 1048576.0, n, seg);
    }
    pl->n = n;
    pl->seg_frames = seg;
    pl->threads = n > 1 ? (cores / n > 0 ? cores / n : 1) : cores;
    pl->buffer_frames = n > 1 ? (int64_t)n * seg : FP_ENCPOOL_QUEUE;
    pl->buffer_bytes = pl->buffer_frames * frame_bytes;
    return 0;
}
