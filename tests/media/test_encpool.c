/*
 * test_encpool — the segment pool against the single-encoder run on synthetic frames (no colour
 * conversion involved): same packet count and pts set, a keyframe at every segment start, strictly
 * increasing dts across joins (x264 with B-frames), byte-identical packets for an intra codec (FFV1,
 * where each segment's keyframe grid equals the single run's), and a sink error stopping the pool
 * without a hang or a leak. Fixed content: frame i is a gradient shifted by i.
 */
#include "media/fp_encpool.h"

#include <libavutil/md5.h>

#include "fp_test.h"

#define W 96
#define H 64
#define N 61 /* not a multiple of the segment length: the last segment is short */
#define MAXP 512

/* frames sent and pool size of compare()'s pool run (the long-segment case changes them) */
static int nframes = N, npool = 3;

typedef struct got {
    int n;
    int64_t pts[MAXP], dts[MAXP];
    int key[MAXP];
    uint8_t md5[MAXP][16];
    int peak_queued;
    int before_finish; /* packets delivered before fp_encpool_finish */
    int fail_at; /* sink returns FP_EIO at this packet (0: never) */
} got;

static int sink(void *opaque, AVPacket *pkt)
{
    got *g = opaque;
    if (g->fail_at && g->n + 1 == g->fail_at)
        return FP_EIO;
    if (g->n < MAXP) {
        g->pts[g->n] = pkt->pts;
        g->dts[g->n] = pkt->dts;
        g->key[g->n] = !!(pkt->flags & AV_PKT_FLAG_KEY);
        av_md5_sum(g->md5[g->n], pkt->data, pkt->size);
    }
    g->n++;
    return 0;
}

static AVFrame *make_frame(int i)
{
    AVFrame *f = av_frame_alloc();
    f->format = AV_PIX_FMT_YUV420P;
    f->width = W;
    f->height = H;
    av_frame_get_buffer(f, 0);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            f->data[0][y * f->linesize[0] + x] = (uint8_t)(x * 2 + y + i * 3);
    for (int p = 1; p < 3; p++)
        for (int y = 0; y < H / 2; y++)
            memset(f->data[p] + y * f->linesize[p], 128 + (i % 16) * (p == 1 ? 1 : -1), W / 2);
    f->pts = 1000 + i * 2; /* time base 1/50, 25 fps, not starting at 0 */
    return f;
}

static int run(const char *enc, AVDictionary *opts, int n, int seg, got *g, fp_err *e)
{
    fp_encoder_cfg c = { 0 };
    fp_encpool *p = NULL;
    int ret;
    c.codec = avcodec_find_encoder_by_name(enc);
    c.width = W;
    c.height = H;
    c.pix_fmt = AV_PIX_FMT_YUV420P;
    c.time_base = (AVRational){ 1, 50 };
    c.framerate = (AVRational){ 25, 1 };
    c.sar = (AVRational){ 1, 1 };
    c.opts = opts;
    c.gop = seg;
    c.threads = 1;
    if (!c.codec)
        return -1000;
    ret = fp_encpool_open(&p, &c, n, seg, sink, g, e);
    for (int i = 0; ret >= 0 && i < nframes; i++) {
        AVFrame *f = make_frame(i);
        ret = fp_encpool_send(p, f, e);
        av_frame_free(&f);
    }
    g->before_finish = g->n;
    if (ret >= 0)
        ret = fp_encpool_finish(p, e);
    if (p)
        g->peak_queued = fp_encpool_peak_queued(p);
    fp_encpool_freep(&p);
    return ret;
}

int stopper(void *arg);
int stopper(void *arg) { return *(int *)arg; }

static int cmp64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void compare(const char *enc, AVDictionary *opts, int seg, int intra)
{
    static got one, many;
    fp_err e;
    memset(&one, 0, sizeof(one));
    memset(&many, 0, sizeof(many));
    fp_err_clear(&e);
    CHECK_MSG(run(enc, opts, 1, seg, &one, &e) == 0, "%s single: %s", enc, e.msg);
    fp_err_clear(&e);
    CHECK_MSG(run(enc, opts, npool, seg, &many, &e) == 0, "%s pool: %s", enc, e.msg);
    CHECK_MSG(one.n == nframes && many.n == nframes, "%s: packets %d / %d, want %d", enc, one.n, many.n, nframes);
    /* memory bound: never more than n x seg frames queued (1 encoder: its small queue) */
    CHECK_MSG(many.peak_queued >= 1 && many.peak_queued <= npool * seg, "%s: %d frames queued at once, bound %d",
              enc, many.peak_queued, npool * seg);
    /* packets flow while encoding (a single encoder's output is one segment: holding it until the end
     * would keep the whole file in memory). FFV1 makes a packet per frame at once, and the producer
     * waits for the encoder every FP_ENCPOOL_QUEUE frames, so most packets are out before finish. */
    if (intra)
        CHECK_MSG(one.before_finish >= nframes - 2 * FP_ENCPOOL_QUEUE, "%s: only %d of %d packets delivered "
                  "before finish", enc, one.before_finish, nframes);
    CHECK_MSG(one.peak_queued >= 1 && one.peak_queued <= FP_ENCPOOL_QUEUE, "%s: single encoder queued %d", enc,
              one.peak_queued);
    for (int i = 1; i < many.n; i++)
        CHECK_MSG(many.dts[i] > many.dts[i - 1], "%s: dts %lld after %lld at packet %d", enc,
                  (long long)many.dts[i], (long long)many.dts[i - 1], i);
    for (int i = 0; i < many.n; i++)
        CHECK_MSG(many.dts[i] <= many.pts[i], "%s: dts > pts at %d", enc, i);
    /* every segment starts with a keyframe: the packet holding pts of frame k*seg */
    for (int i = 0; i < many.n; i++)
        if ((many.pts[i] - 1000) / 2 % seg == 0)
            CHECK_MSG(many.key[i], "%s: frame %lld starts a segment but is not a keyframe", enc,
                      (long long)(many.pts[i] - 1000) / 2);
    qsort(one.pts, one.n, sizeof(int64_t), cmp64);
    qsort(many.pts, many.n, sizeof(int64_t), cmp64);
    for (int i = 0; i < nframes && i < one.n && i < many.n; i++)
        CHECK_MSG(one.pts[i] == many.pts[i] && one.pts[i] == 1000 + 2 * i, "%s: pts %d: %lld vs %lld", enc, i,
                  (long long)one.pts[i], (long long)many.pts[i]);
    if (intra)
        for (int i = 0; i < nframes && i < MAXP; i++)
            CHECK_MSG(!memcmp(one.md5[i], many.md5[i], 16), "%s: packet %d differs between 1 and 3 encoders", enc,
                      i);
}

int main(void)
{
    AVDictionary *x264 = NULL;
    av_dict_set(&x264, "preset", "veryfast", 0);
    av_dict_set(&x264, "bf", "3", 0);
    av_dict_set(&x264, "sc_threshold", "0", 0);

    compare("libx264", x264, 10, 0);
    compare("ffv1", NULL, 8, 1);

    /* Long segments, more than two encoders (the 1080p VP9 case in small): 4 x 40-frame segments.
     * Segment parallelism means the producer (this loop: a clone per frame, far faster than libvpx)
     * fills a segment and moves on while its encoder works, so more than one segment's frames are
     * queued at once. With a short per-segment queue the producer waits on the current segment's
     * encoder and never has more than a segment's worth queued: the pool runs at one encoder's speed. */
    {
        AVDictionary *vp9 = NULL;
        av_dict_set(&vp9, "deadline", "good", 0);
        av_dict_set(&vp9, "cpu-used", "4", 0);
        av_dict_set(&vp9, "b", "200k", 0);
        nframes = 170; /* 4 full segments and a short one */
        npool = 4;
        compare("libvpx-vp9", vp9, 40, 0);
        {
            static got g;
            fp_err e;
            memset(&g, 0, sizeof(g));
            fp_err_clear(&e);
            CHECK_MSG(run("libvpx-vp9", vp9, 4, 40, &g, &e) == 0, "vp9 pool: %s", e.msg);
            CHECK_MSG(g.peak_queued > 40, "vp9 pool of 4 x 40: at most %d frames queued at once: segments were "
                      "not fed in parallel", g.peak_queued);
        }
        nframes = N;
        npool = 3;
        av_dict_free(&vp9);
    }

    /* a stop request ends finish's wait for the encoders with FP_EINTR (Ctrl-C during a long final
     * flush); freeing afterwards discards the rest without a hang */
    {
        static int stop_now;
        fp_encoder_cfg c = { 0 };
        fp_encpool *p = NULL;
        AVDictionary *slow = NULL;
        got g;
        fp_err e;
        int ret;
        memset(&g, 0, sizeof(g));
        fp_err_clear(&e);
        /* about 0.5 s of work per 80-frame segment here: several times the 100 ms poll */
        av_dict_set(&slow, "deadline", "best", 0);
        av_dict_set(&slow, "cpu-used", "0", 0);
        c.codec = avcodec_find_encoder_by_name("libvpx-vp9");
        c.width = W;
        c.height = H;
        c.pix_fmt = AV_PIX_FMT_YUV420P;
        c.time_base = (AVRational){ 1, 50 };
        c.framerate = (AVRational){ 25, 1 };
        c.sar = (AVRational){ 1, 1 };
        c.opts = slow;
        c.gop = 80;
        c.threads = 1;
        ret = fp_encpool_open(&p, &c, 2, 80, sink, &g, &e);
        CHECK(ret == 0);
        if (ret == 0) {
            fp_encpool_set_stop(p, stopper, &stop_now);
            for (int i = 0; ret >= 0 && i < 160; i++) {
                AVFrame *f = make_frame(i);
                ret = fp_encpool_send(p, f, &e);
                av_frame_free(&f);
            }
            CHECK(ret == 0); /* 160 frames fit 2 x 80: no wait, so no stop yet */
            stop_now = 1;
            CHECK_MSG((ret = fp_encpool_finish(p, &e)) == FP_EINTR, "finish with a stop request: %d", ret);
            CHECK(g.n < 160);
        }
        fp_encpool_freep(&p);
        av_dict_free(&slow);
    }

    /* the plan: encoders x segment frames fit the buffer budget */
    {
        fp_encpool_plan pl;
        int64_t fb = 1920 * 1080 * 5 / 2; /* yuva420p 1080p */
        CHECK(fp_encpool_plan_make(&pl, 16, 8, 60, 0, 30, fb, (int64_t)4096 << 20) == 0);
        CHECK(pl.n == 8 && pl.seg_frames == 60 && pl.threads == 2 && !pl.note[0]);
        CHECK(pl.buffer_frames == 480 && pl.buffer_bytes == 480 * fb);
        /* 2 GiB holds 414 such frames: the segment shrinks first (not below 30) */
        CHECK(fp_encpool_plan_make(&pl, 16, 8, 60, 0, 30, fb, (int64_t)2048 << 20) == 0);
        CHECK(pl.n == 8 && pl.seg_frames == 51 && pl.note[0]);
        CHECK(pl.buffer_bytes <= (int64_t)2048 << 20);
        /* a segment fixed by the user (-g / --segment-frames): fewer encoders instead */
        CHECK(fp_encpool_plan_make(&pl, 16, 8, 60, 1, 30, fb, (int64_t)2048 << 20) == 0);
        CHECK(pl.n == 6 && pl.seg_frames == 60 && pl.threads == 2 && pl.note[0]);
        /* shrinking below min_seg: min_seg, then fewer encoders */
        CHECK(fp_encpool_plan_make(&pl, 16, 16, 60, 0, 30, fb, (int64_t)512 << 20) == 0);
        CHECK(pl.seg_frames == 30 && pl.n == 3 && pl.threads == 5);
        CHECK(pl.buffer_bytes <= (int64_t)512 << 20);
        /* one encoder: no segment buffering, all cores */
        CHECK(fp_encpool_plan_make(&pl, 16, 1, 60, 0, 30, fb, 1) == 0);
        CHECK(pl.n == 1 && pl.threads == 16 && pl.buffer_frames == FP_ENCPOOL_QUEUE);
        /* more encoders than cores: one thread each */
        CHECK(fp_encpool_plan_make(&pl, 2, 4, 10, 0, 5, 1000, (int64_t)1 << 30) == 0);
        CHECK(pl.n == 4 && pl.threads == 1);
        CHECK(fp_encpool_plan_make(&pl, 2, 0, 10, 0, 5, 1000, 1 << 20) == FP_EINVAL);
    }

    /* a sink error stops the pool: returned, no hang */
    {
        got g;
        fp_err e;
        memset(&g, 0, sizeof(g));
        g.fail_at = 12;
        fp_err_clear(&e);
        CHECK(run("ffv1", NULL, 3, 5, &g, &e) == FP_EIO);
        CHECK(g.n == 11);
    }
    /* bad arguments */
    {
        fp_encpool *p = (fp_encpool *)1;
        fp_encoder_cfg c = { 0 };
        CHECK(fp_encpool_open(&p, &c, 0, 10, sink, NULL, NULL) == FP_EINVAL && p == NULL);
        fp_encpool_freep(&p);
    }
    av_dict_free(&x264);
    return fp_test_finish("media.encpool");
}
