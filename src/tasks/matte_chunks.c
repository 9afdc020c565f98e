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
#include "tasks/matte_bg.h"
#ifdef FP_HAVE_CUDA
#include <cuda_runtime_api.h>

#include "tasks/matte_cuda.h"
#endif

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
    atomic_int announced;
    int threads_per_model;
    int device_batch;             /* the batch's device twin (FP_MATTE_DEVICE_BATCH=1, CUDA) */
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

/* ---- the batch: one frame of each chunk of a round in one model call ---------------------------
 * Every chunk of a round runs its own fp_transcode (decode, convert, encode) on its own thread; its
 * stage hands each frame to gang_submit, which blocks until every chunk still running has handed one
 * in, and the last one to arrive runs fp_matte_run_batch over all of them (call k holds frame k of
 * each chunk, row = chunk order) and wakes the others. A chunk that ends leaves; the next call keeps
 * the state rows of the chunks still running (fp_matte_keep_rows), so the batch shrinks. Chunks
 * cannot join a round mid-way (their state row would start from zero among carried ones). */

typedef struct gang_member {
    int active;                   /* in the round and not yet left */
    int waiting;                  /* handed in a frame for the next call */
    int row;                      /* its state row after the last call; -1 before its first */
    const float *rgb;
    float *fgr, *pha;
    int w, h;
    int ret;
    fp_err err;
} gang_member;

typedef struct gang {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    fp_matte *m;                  /* borrowed: one instance for the round */
    gang_member *mb;
    int n, nactive, nwaiting;
    uint64_t gen;                 /* model calls made: a waiter wakes when it moves */
    float *src, *fgr;             /* staging: src [rows,3,H,W]; fgr [rows,3,H,W] then pha [rows,1,H,W] */
    size_t cap;                   /* frames the staging holds */
    double model_s;
    int64_t calls, rows_run, rows_padded;
    int max_rows;
    int pad;                      /* ended chunks keep their rows (one plan) instead of shrinking the batch */
    int fault_max_rows;           /* test hook: calls of more rows fail as out of GPU memory (0: off) */
    /* device twin (CUDA model, frames on the GPU): each member writes its row of d_src on its own
     * stream and synchronises before it waits; the call reads d_src and writes d_fgr/d_pha rows (the
     * model's dtype); each member composes its row on its stream. Rows = every member (pad): the
     * device state has no row compaction. Allocated by the first frame, freed by run_gangs. */
    int device;
    void *d_src, *d_fgr, *d_pha;
    int d_w, d_h;
} gang;

typedef struct gang_ref {
    gang *g;
    int i;
} gang_ref;

static void gang_fail_waiting(gang *g, int ret, const fp_err *err)
{
    for (int i = 0; i < g->n; i++)
        if (g->mb[i].waiting) {
            g->mb[i].ret = ret;
            g->mb[i].err = *err;
        }
}

/* Lock held. Runs the call when every active member waits; wakes them all. */
static void gang_try_run(gang *g)
{
    int list[256], keep[256], nl = 0, nk = 0, w = 0, h = 0, ret = 0, rows;
    size_t n;
    fp_err err;
    double t0;

    if (!g->nactive || g->nwaiting != g->nactive)
        return;
    fp_err_clear(&err);
    for (int i = 0; i < g->n; i++)
        if (g->mb[i].waiting) {
            list[nl++] = i;
            w = g->mb[i].w;
            h = g->mb[i].h;
        }
    n = (size_t)w * h;
    /* shrink: the rows are the waiting chunks, in order; pad: every chunk of the round keeps its row
     * (member i = row i), an ended chunk's row runs on its last frame and its outputs are dropped */
    rows = g->pad ? g->n : nl;
    for (int j = 0; j < nl && !ret; j++) {
        gang_member *mb = &g->mb[list[j]];
        if (mb->w != w || mb->h != h)
            ret = fp_errorf(&err, FP_EINVAL, "matte: batch: chunks of different frame sizes (%dx%d, %dx%d)", mb->w,
                            mb->h, w, h);
        else if (!g->pad && fp_matte_state_rows(g->m) && mb->row < 0)
            ret = fp_errorf(&err, FP_EINTERNAL, "matte: batch: chunk %d joined a running batch", list[j]);
        else if (mb->row >= 0)
            keep[nk++] = mb->row;
    }
    if (!ret && g->fault_max_rows > 0 && rows > g->fault_max_rows)
        ret = fp_errorf(&err, FP_EDEVICE, "matte: batch: out of GPU memory (injected by FP_MATTE_TEST_MAX_ROWS=%d "
                        "for a batch of %d)", g->fault_max_rows, rows);
    if (!ret && !g->pad && nk != fp_matte_state_rows(g->m))
        ret = fp_matte_keep_rows(g->m, keep, nk, &err);
    if (!ret && g->device) {
#ifdef FP_HAVE_CUDA
        t0 = now_s();
        ret = fp_matte_run_device_batch(g->m, g->d_src, rows, w, h, g->d_fgr, g->d_pha, &err);
        g->model_s += now_s() - t0;
        if (!ret) {
            for (int j = 0; j < nl; j++) {
                g->mb[list[j]].row = list[j];
                g->mb[list[j]].ret = 0;
            }
            g->calls++;
            g->rows_run += nl;
            g->rows_padded += rows - nl;
            g->max_rows = rows > g->max_rows ? rows : g->max_rows;
        }
#else
        ret = fp_errorf(&err, FP_EUNSUPPORTED, "matte: batch: device rows need a CUDA build");
#endif
    }
    if (!ret && !g->device && g->cap < (size_t)rows * n) {
        float *a = realloc(g->src, (size_t)rows * 3 * n * sizeof(float)), *b;
        if (a) {
            /* pad rows that never had a frame (a chunk that failed before its first) stay defined */
            memset(a + g->cap * 3, 0, ((size_t)rows * n - g->cap) * 3 * sizeof(float));
            g->src = a;
        }
        b = a ? realloc(g->fgr, (size_t)rows * 4 * n * sizeof(float)) : NULL;
        if (b) {
            g->fgr = b;
            g->cap = (size_t)rows * n;
        } else {
            ret = fp_errorf(&err, FP_ENOMEM, "matte: batch: out of memory");
        }
    }
    if (!ret && !g->device) {
        float *pha = g->fgr + (size_t)rows * 3 * n;
        fp_tensor ts = { .dtype = FP_DTYPE_FLOAT32, .ndim = 4, .dims = { rows, 3, h, w }, .data = g->src };
        fp_tensor tf = { .dtype = FP_DTYPE_FLOAT32, .ndim = 4, .dims = { rows, 3, h, w }, .data = g->fgr };
        fp_tensor tp = { .dtype = FP_DTYPE_FLOAT32, .ndim = 4, .dims = { rows, 1, h, w }, .data = pha };
        for (int j = 0; j < nl; j++)
            memcpy(g->src + (size_t)(g->pad ? list[j] : j) * 3 * n, g->mb[list[j]].rgb, 3 * n * sizeof(float));
        t0 = now_s();
        ret = fp_matte_run_batch(g->m, &ts, &tf, &tp, &err);
        g->model_s += now_s() - t0;
        if (!ret) {
            for (int j = 0; j < nl; j++) {
                gang_member *mb = &g->mb[list[j]];
                int r = g->pad ? list[j] : j;
                memcpy(mb->fgr, g->fgr + (size_t)r * 3 * n, 3 * n * sizeof(float));
                memcpy(mb->pha, pha + (size_t)r * n, n * sizeof(float));
                mb->row = r;
                mb->ret = 0;
            }
            g->calls++;
            g->rows_run += nl;
            g->rows_padded += rows - nl;
            g->max_rows = rows > g->max_rows ? rows : g->max_rows;
        }
    }
    if (ret)
        gang_fail_waiting(g, ret, &err);
    for (int j = 0; j < nl; j++)
        g->mb[list[j]].waiting = 0;
    g->nwaiting = 0;
    g->gen++;
    pthread_cond_broadcast(&g->cv);
}

/* The stage's run hook: fp_matte_run's contract, through the batch. */
static int gang_submit(void *opaque, const float *rgb, int w, int h, float *fgr, float *pha, fp_err *e)
{
    gang_ref *ref = opaque;
    gang *g = ref->g;
    gang_member *mb = &g->mb[ref->i];
    uint64_t gen;
    int ret;

    pthread_mutex_lock(&g->mu);
    mb->rgb = rgb;
    mb->fgr = fgr;
    mb->pha = pha;
    mb->w = w;
    mb->h = h;
    mb->waiting = 1;
    g->nwaiting++;
    gen = g->gen;
    gang_try_run(g);
    while (g->gen == gen)
        pthread_cond_wait(&g->cv, &g->mu);
    ret = mb->ret;
    if (ret < 0)
        fp_errorf(e, mb->err.code ? mb->err.code : ret, "%s", mb->err.code ? mb->err.msg : "matte: batch failed");
    pthread_mutex_unlock(&g->mu);
    return ret;
}

static void gang_leave(gang *g, int i)
{
    pthread_mutex_lock(&g->mu);
    if (g->mb[i].active) {
        g->mb[i].active = 0;
        g->nactive--;
        gang_try_run(g); /* the others may all be waiting for this one */
    }
    pthread_mutex_unlock(&g->mu);
}

/* Whether the chunks should run on threads with the device stage instead of the host-staged batch: a
 * CUDA model whose device path is usable, no background file (its stage is host-only), and the host
 * path not forced (FP_HOST_PATH=1, the A/B switch fp_transcode also reads). */
static int device_path_wins(const fp_matte_chunk_opts *o, const fp_matte *m)
{
    const char *hp = getenv("FP_HOST_PATH");
    if (hp && atoi(hp))
        return 0;
    if (o->mode == FP_MATTE_MODE_COMPOSITE && o->bg_path)
        return 0;
    return fp_matte_stage_device_fn(m) != NULL;
}

#ifdef FP_HAVE_CUDA
typedef struct gang_dev {
    gang_ref *ref;
    fp_matte_stage *s;            /* mode, alpha, colour; its timing */
} gang_dev;

static int dev_err(fp_err *e, cudaError_t err, const char *what)
{
    return fp_errorf(e, err == cudaErrorMemoryAllocation ? FP_ENOMEM : FP_EDEVICE, "matte: batch: %s: %s", what,
                     cudaGetErrorString(err));
}

/* Lock held. The device rows, allocated for every member by the first frame of the round; zeroed so a
 * member that never handed a frame in pads with a defined row. */
static int gang_device_alloc(gang *g, int w, int h, size_t esz, fp_err *e)
{
    size_t n = (size_t)w * h, rows = (size_t)g->n;
    cudaError_t err;
    if (g->d_src)
        return g->d_w == w && g->d_h == h ? 0 : fp_errorf(e, FP_EINVAL, "matte: batch: chunks of different frame "
                                                          "sizes (%dx%d, %dx%d)", w, h, g->d_w, g->d_h);
    if ((err = cudaMalloc(&g->d_src, rows * 3 * n * esz)) != cudaSuccess ||
        (err = cudaMemset(g->d_src, 0, rows * 3 * n * esz)) != cudaSuccess ||
        (err = cudaMalloc(&g->d_fgr, rows * 3 * n * esz)) != cudaSuccess ||
        (err = cudaMalloc(&g->d_pha, rows * n * esz)) != cudaSuccess ||
        (err = cudaDeviceSynchronize()) != cudaSuccess) { /* the memset is done before any member's stream copies */
        cudaFree(g->d_src);
        cudaFree(g->d_fgr);
        g->d_src = g->d_fgr = NULL;
        return dev_err(e, err, "device rows");
    }
    g->d_w = w;
    g->d_h = h;
    return 0;
}

static int dev_f32(const fp_planar *p, int c, int w, int h)
{
    return p && p->data && p->on_device && p->dtype == FP_DTYPE_F32 && p->layout == FP_LAYOUT_NCHW &&
           p->channels == c && p->width == w && p->height == h;
}

/* fp_process_stage.process_cuda of a batch member: its frame becomes row i of the device input, the
 * batcher runs the call when every member has handed one in, and the member composes row i of fgr/pha
 * into its planes like fp_matte_stage_process_cuda. Synchronised on `stream` before the wait (the
 * batcher reads the row from the runtime's stream) and after the compose (the next call rewrites
 * d_fgr/d_pha). */
static int gang_process_cuda(void *opaque, const fp_planar *rgb, const fp_planar *alpha, int64_t pts, void *stream,
                             fp_err *e)
{
    gang_dev *gd = opaque;
    gang *g = gd->ref->g;
    fp_matte_stage *s = gd->s;
    int i = gd->ref->i, w = rgb->width, h = rgb->height, f16 = fp_matte_model_fp16(g->m), ret;
    size_t n = (size_t)w * h, esz = f16 ? 2 : 4;
    float *px, *pa = NULL;
    char *row;
    cudaError_t err;
    double t0;

    (void)pts;
    if (!dev_f32(rgb, 3, w, h))
        return fp_errorf(e, FP_EINVAL, "matte: batch: expects device fp32 NCHW RGB planes");
    if (s->mode == FP_MATTE_MODE_RGBA && !dev_f32(alpha, 1, w, h))
        return fp_errorf(e, FP_EINVAL, "matte: batch: expects a device fp32 alpha plane of the frame's size");
    px = (float *)rgb->data + (size_t)rgb->n * 3 * n;
    if (s->mode == FP_MATTE_MODE_RGBA)
        pa = (float *)alpha->data + (size_t)alpha->n * n;
    pthread_mutex_lock(&g->mu);
    ret = gang_device_alloc(g, w, h, esz, e);
    pthread_mutex_unlock(&g->mu);
    if (ret < 0)
        return ret;
    /* no call runs while this member is active and not waiting: row i is ours to write */
    row = (char *)g->d_src + (size_t)i * 3 * n * esz;
    if (f16)
        ret = fp_matte_cast_f16_cuda(px, row, 3 * n, stream, e);
    else if ((err = cudaMemcpyAsync(row, px, 3 * n * 4, cudaMemcpyDeviceToDevice, (cudaStream_t)stream)) != cudaSuccess)
        ret = dev_err(e, err, "row copy");
    if (ret < 0)
        return ret;
    if ((err = cudaStreamSynchronize((cudaStream_t)stream)) != cudaSuccess)
        return dev_err(e, err, "preprocess");
    t0 = now_s();
    ret = gang_submit(gd->ref, NULL, w, h, NULL, NULL, e);
    s->model_s += now_s() - t0;
    if (ret < 0)
        return ret;
    s->frames++;
    ret = fp_matte_compose_cuda((char *)g->d_fgr + (size_t)i * 3 * n * esz, (char *)g->d_pha + (size_t)i * n * esz, f16,
                                n, s->mode, s->premultiplied, s->bg_rgb, NULL, px, pa, stream, e);
    if (ret < 0)
        return ret;
    if ((err = cudaStreamSynchronize((cudaStream_t)stream)) != cudaSuccess)
        return dev_err(e, err, "compose");
    return 0;
}

/* A host frame cannot join the device rows (prefer_device makes every frame a device frame). */
static int gang_process_host(void *opaque, const fp_planar *rgb, const fp_planar *alpha, int64_t pts, fp_err *e)
{
    (void)opaque; (void)rgb; (void)alpha; (void)pts;
    return fp_errorf(e, FP_EINTERNAL, "matte: batch: a host frame in the device batch");
}
#endif

/* One chunk through fp_transcode. ref NULL: with its own model instance (threads mode); else as a
 * member of ref's batch (the model is the batch's), leaving the batch whatever happens. */
static int run_one(runner *r, chunk *c, gang_ref *ref, fp_err *e)
{
    const fp_matte_chunk_opts *o = r->o;
    fp_matte_opts mo = o->model;
    fp_matte *m = NULL;
    fp_matte_stage s = { 0 };
    fp_process_stage stage = { "matte", o->mode == FP_MATTE_MODE_RGBA, fp_matte_stage_process, &s };
    fp_matte_bg_stage bs = { &s, NULL, { 0, 1 }, AV_NOPTS_VALUE };
    fp_transcode_opts to;
    fp_transcode *t = NULL;
    int ret;
#ifdef FP_HAVE_CUDA
    gang_dev gd = { ref, &s };
#endif

    if (ref) {
        s.m = ref->g->m;
        s.run = gang_submit;
        s.run_opaque = ref;
    } else {
        if (!mo.threads)
            mo.threads = r->threads_per_model;
        if ((ret = fp_matte_open(&m, &mo, e)) < 0)
            return ret;
        s.m = m;
    }
    if (o->mode == FP_MATTE_MODE_COMPOSITE && o->bg_path) {
        if ((ret = fp_matte_bg_open(&bs.bg, o->bg_path, e)) < 0)
            goto end;
        stage.process = fp_matte_bg_stage_process;
        stage.opaque = &bs;
    }
    /* Threads mode on a CUDA model: the chunk's frames stay on the GPU like a single pass (NVDEC or one
     * upload -> preprocess -> model with device state -> compose -> one download); a background file
     * keeps the host path. The batch has no device twin (run_chunked picks threads for it). */
    if (!ref && stage.opaque == &s) {
        stage.process_cuda = fp_matte_stage_device_fn(m);
        stage.prefer_device = stage.process_cuda != NULL;
    }
#ifdef FP_HAVE_CUDA
    if (ref && ref->g->device) {
        stage.process = gang_process_host;
        stage.process_cuda = gang_process_cuda;
        stage.opaque = &gd;
        stage.prefer_device = 1;
    }
#endif
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
    to.queue_decoded = o->queue_decoded;
    to.queue_converted = o->queue_converted;
    to.copy_audio = to.copy_subs = to.copy_data = 0; /* the join copies them once from the source */
    to.interrupted = o->interrupted;
    to.video_metadata = o->video_metadata;
    to.in.start_pts = c->warmup_pts;
    to.in.end_pts = c->end_pts;
    to.emit_from_pts = c->start_pts;
    if ((ret = fp_transcode_open(&t, &to, e)) >= 0) {
        fp_input *in = fp_transcode_input(t);
        bs.time_base = fp_input_video_stream(in)->time_base;
        bs.start_pts = fp_input_video_stream(in)->start_time; /* the stream's, so every chunk maps alike */
        ret = fp_matte_check_size(s.m, fp_input_decoder(in)->width, fp_input_decoder(in)->height, e);
        if (ret >= 0 && o->announce && !atomic_exchange(&r->announced, 1))
            fprintf(stderr, "%s\n", o->announce);
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
end:
    if (ref)
        gang_leave(ref->g, ref->i);
    fp_matte_bg_freep(&bs.bg);
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
        r->c[i].ret = run_one(r, &r->c[i], NULL, &r->c[i].err);
        if (r->c[i].ret < 0)
            atomic_store(&r->failed, 1);
        else
            r->c[i].done = 1;
    }
    return NULL;
}

typedef struct gang_arg {
    runner *r;
    chunk *c;
    gang_ref ref;
} gang_arg;

static void *gang_worker(void *arg)
{
    gang_arg *a = arg;
    fp_err_clear(&a->c->err);
    a->c->ret = run_one(a->r, a->c, &a->ref, &a->c->err);
    if (a->c->ret >= 0)
        a->c->done = 1;
    return NULL;
}

typedef struct gang_totals {
    double model_s;
    int64_t calls, rows, padded;
    int max_rows;
} gang_totals;

/* Batch mode: the chunks not done, in rounds of up to `batch` chunks started together, each round one
 * batch over one model instance (opened here, reset per round). Chunk results land in c[]; returns
 * the model's open error, FP_ENOMEM, or 0 (then see c[].ret). A failed round ends the run. */
static int run_gangs(runner *r, int batch, gang_totals *gt, fp_err *e)
{
    fp_matte_opts mo = r->o->model;
    fp_matte *m = NULL;
    pthread_t th[256];
    gang_arg args[256];
    gang_member *mb = calloc(256, sizeof(*mb)); /* 256 error buffers: not on a thread's stack */
    int ret;

    if (!mb)
        return fp_errorf(e, FP_ENOMEM, "matte: out of memory");
    if ((ret = fp_matte_open(&m, &mo, e)) < 0) {
        free(mb);
        return ret;
    }
    for (int next = 0; next < r->n;) {
        gang g;
        int idx[256], nm = 0, started = 0, failed = 0;
        for (; next < r->n && nm < batch; next++)
            if (!r->c[next].done)
                idx[nm++] = next;
        if (!nm)
            break;
        memset(&g, 0, sizeof(g));
        memset(mb, 0, 256 * sizeof(*mb));
        pthread_mutex_init(&g.mu, NULL);
        pthread_cond_init(&g.cv, NULL);
        g.m = m;
        g.mb = mb;
        /* Fault injection for the CPU tests of the OOM retry (no GPU in CI): FP_MATTE_TEST_MAX_ROWS=N
         * makes every call of more than N rows fail as CUDA out of memory would. */
        g.fault_max_rows = getenv("FP_MATTE_TEST_MAX_ROWS") ? atoi(getenv("FP_MATTE_TEST_MAX_ROWS")) : 0;
        g.pad = r->o->batch_tail == FP_MATTE_TAIL_PAD ||
                (r->o->batch_tail == FP_MATTE_TAIL_AUTO && !strcmp(fp_matte_backend(m), "cuda"));
        g.device = r->device_batch;
        if (g.device)
            g.pad = 1; /* the device state has no row compaction (fp_matte_keep_rows is host-only) */
        g.n = g.nactive = nm;
        for (int j = 0; j < nm; j++) {
            mb[j].active = 1;
            mb[j].row = -1;
        }
        fp_matte_reset(m);
        for (int j = 0; j < nm; j++) {
            args[j] = (gang_arg){ r, &r->c[idx[j]], { &g, j } };
            if (pthread_create(&th[j], NULL, gang_worker, &args[j]) != 0)
                break;
            started++;
        }
        for (int j = started; j < nm; j++) {
            /* not started: out of the batch, reported as such */
            r->c[idx[j]].ret = fp_errorf(&r->c[idx[j]].err, FP_ENOMEM, "matte: cannot start a chunk thread");
            gang_leave(&g, j);
        }
        for (int j = 0; j < started; j++)
            pthread_join(th[j], NULL);
        gt->model_s += g.model_s;
        gt->calls += g.calls;
        gt->rows += g.rows_run;
        gt->padded += g.rows_padded;
        gt->max_rows = g.max_rows > gt->max_rows ? g.max_rows : gt->max_rows;
        free(g.src);
        free(g.fgr);
#ifdef FP_HAVE_CUDA
        cudaFree(g.d_src);
        cudaFree(g.d_fgr);
        cudaFree(g.d_pha);
#endif
        pthread_cond_destroy(&g.cv);
        pthread_mutex_destroy(&g.mu);
        for (int j = 0; j < nm; j++)
            failed |= r->c[idx[j]].ret < 0;
        if (failed)
            break;
    }
    fp_matte_freep(&m);
    free(mb);
    return 0;
}

/* ---- join ------------------------------------------------------------------------------------ */

/* fp_audio's packets (audio the container cannot hold, transcoded at the join). */
static int join_write(void *opaque, AVPacket *pkt)
{
    return av_interleaved_write_frame(opaque, pkt) < 0 ? FP_EIO : 0;
}

int fp_matte_is_mov(const char *output)
{
    const AVOutputFormat *f = av_guess_format(NULL, output, NULL);
    return f && !strcmp(f->name, "mov");
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
    AVDictionary *mux = NULL;

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
    if (fp_matte_is_mov(o->output)) {
        av_dict_copy(&out->metadata, o->video_metadata, 0); /* MOV: the alpha type at the file level */
        av_dict_set(&mux, "movflags", "use_metadata_tags", 0);
    }
    if (!(out->oformat->flags & AVFMT_NOFILE) && avio_open(&out->pb, fp_output_tmp_path(po), AVIO_FLAG_WRITE) < 0) {
        ret = fp_errorf(e, FP_EOUTPUT, "%s: output: cannot create the output file", o->output);
        goto end;
    }
    if (avformat_write_header(out, &mux) < 0) {
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
    av_dict_free(&mux);
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
    int k = o->chunks, par, batch, ret, started = 0, device_batch = 0;
    gang_totals gt = { 0 };
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
    /* batch mode: par is the batch (chunks per model call and at once) */
    batch = o->batch == 1 ? 1 : o->batch > 1 && o->batch < par ? o->batch : par;
    batch = batch > 256 ? 256 : batch;
    if (batch > 1) {
        fp_matte *probe = NULL;
        fp_matte_opts mo = o->model;
        if ((ret = fp_matte_open(&probe, &mo, e)) < 0)
            goto end;
        if (fp_matte_max_batch(probe) < batch) {
            fp_log(FP_LOG_INFO, "matte", "%s: the model takes a batch of %d only; chunks run on threads, one model "
                   "instance each", o->model.model, fp_matte_max_batch(probe));
            batch = 1;
        } else if (device_path_wins(o, probe)) {
            /* The host batch stages its rows on the host (fp32 copies in and out of every call); the
             * device path keeps every frame on the GPU and measured 70 fps vs 11 host-staged for one
             * 1080p pass (docs/matte.md). Its batched twin (gang_process_cuda) is new and not yet run
             * on a GPU: opt-in with FP_MATTE_DEVICE_BATCH=1; the default is one device path per chunk. */
            const char *db = getenv("FP_MATTE_DEVICE_BATCH");
            device_batch = db && atoi(db) > 0;
            if (device_batch) {
                fp_log(FP_LOG_INFO, "matte", "%s: CUDA model: the batch of %d on the device (FP_MATTE_DEVICE_BATCH)",
                       o->model.model, batch);
            } else {
                fp_log(FP_LOG_INFO, "matte", "%s: CUDA model: chunks run on the device path, one model instance per "
                       "chunk on its own thread (FP_MATTE_DEVICE_BATCH=1: the batch of %d on the device; "
                       "FP_HOST_PATH=1: the host batch)", o->model.model, batch);
                batch = 1;
            }
        }
        fp_matte_freep(&probe);
    }
    if (batch > 1)
        par = batch;
    memset(&r, 0, sizeof(r));
    r.o = o;
    r.c = c;
    r.n = k;
    r.threads_per_model = cores > par ? (int)(cores / par) : 1;
    r.device_batch = device_batch;
    if (!(th = calloc(par, sizeof(*th)))) {
        ret = fp_errorf(e, FP_ENOMEM, "matte: out of memory");
        goto end;
    }
    for (;;) {
        int oom = 0, failed = 0, first = -1;
        atomic_store(&r.next, 0);
        atomic_store(&r.failed, 0);
        r.threads_per_model = cores > par ? (int)(cores / par) : 1;
        if (batch > 1) {
            if ((ret = run_gangs(&r, par, &gt, e)) < 0)
                goto end;
        } else {
            for (started = 0; started < par; started++)
                if (pthread_create(&th[started], NULL, worker, &r) != 0)
                    break;
            if (!started) {
                ret = fp_errorf(e, FP_ENOMEM, "matte: cannot start a chunk thread");
                goto end;
            }
            for (int i = 0; i < started; i++)
                pthread_join(th[i], NULL);
        }
        for (int i = 0; i < k; i++) {
            if (!c[i].done && c[i].ret < 0) {
                failed = 1;
                oom |= c[i].ret == FP_EDEVICE;
                first = first < 0 ? i : first;
            }
        }
        /* Out of GPU memory with several chunks at once (threads: each holds its own model and
         * activations; batch: one call holds them all): retry the chunks not done with half as many at
         * once / half the batch, down to one, instead of failing. */
        if (!failed || !oom || par == 1)
            break;
        fp_log(FP_LOG_WARN, "matte", "%s: GPU error with %s %d (%s); retrying with %d", o->output,
               batch > 1 ? "a batch of" : "chunks at once:", par, c[first].err.code ? c[first].err.msg : "no message",
               par / 2);
        par /= 2;
        if (batch > 1)
            batch = par > 1 ? par : 2; /* a batch of 1 is still the batch path: one model, one row */
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
            st->device_chunks += c[i].st.device_path;
        }
        st->batch = batch > 1 ? par : 0;
        if (batch > 1) {
            st->model_s = gt.model_s;
            st->model_calls = gt.calls;
            st->mean_rows = gt.calls ? (double)gt.rows / gt.calls : 0;
            st->padded_rows = gt.padded;
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
