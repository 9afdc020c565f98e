/*
 * test_e2e — whole jobs through real workers on one engine (argv[1]): a clip is cut into chunks,
 * two worker threads run them, the aggregate joins them, and the result is compared with the
 * single-chunk (single-process) run and with the input itself: same video and audio packets, same
 * timestamps, byte-identical files. Also the bad-input paths: unknown task and input missing at
 * claim time fail their job with a clear error and leave the other jobs alone; fp_jobs_run_local.
 */
#include <pthread.h>
#include <sys/stat.h>

#include <libavformat/avformat.h>
#include <libavutil/md5.h>

#include "fp_test.h"
#include "jobs/jobs_queue.h"
#include "jobs/jobs_task.h"
#include "jobs/jobs_worker.h"
#include "jobs_testutil.h"

/* All packets of a file as text lines "stream pts dts flags md5" (per stream type order kept). */
static char *packet_dump(const char *path, enum AVMediaType only)
{
    AVFormatContext *f = NULL;
    AVPacket *p = av_packet_alloc();
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    if (avformat_open_input(&f, path, NULL, NULL) < 0 || avformat_find_stream_info(f, NULL) < 0) {
        free(out);
        av_packet_free(&p);
        return NULL;
    }
    while (av_read_frame(f, p) >= 0) {
        AVStream *st = f->streams[p->stream_index];
        if (st->codecpar->codec_type == only) {
            uint8_t s[16];
            av_md5_sum(s, p->data, p->size);
            if (n + 128 > cap)
                out = realloc(out, cap *= 2);
            /* timestamps in seconds x 1e6: containers may pick different time bases */
            n += snprintf(out + n, cap - n, "%lld %lld %d %02x%02x%02x%02x%02x%02x%02x%02x\n",
                          (long long)av_rescale_q(p->pts, st->time_base, (AVRational){ 1, 1000000 }),
                          (long long)av_rescale_q(p->dts, st->time_base, (AVRational){ 1, 1000000 }),
                          p->flags & AV_PKT_FLAG_KEY, s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]);
        }
        av_packet_unref(p);
    }
    avformat_close_input(&f);
    av_packet_free(&p);
    out[n] = 0;
    return out;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(n + 1);
    *len = fread(b, 1, n, f);
    b[*len] = 0;
    fclose(f);
    return b;
}

static int same_file(const char *a, const char *b)
{
    size_t la = 0, lb = 0;
    char *x = slurp(a, &la), *y = slurp(b, &lb);
    int same = x && y && la == lb && !memcmp(x, y, la);
    free(x);
    free(y);
    return same;
}

typedef struct wt {
    pthread_t t;
    fp_worker_opts o;
    fp_worker_stats st;
    fp_err e;
    int ret;
} wt;

static void *wt_main(void *arg)
{
    wt *w = arg;
    w->ret = fp_worker_run(&w->o, &w->st, &w->e);
    return NULL;
}

static void run_workers(const char *url, int n)
{
    wt w[4];
    char work[512];
    snprintf(work, sizeof(work), "%s/work", tu_tmpdir());
    mkdir(work, 0700);
    for (int i = 0; i < n; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].o = (fp_worker_opts){ .queue_url = url, .workdir = work, .poll_s = 0.05, .beat_s = 1,
                                   .qopts = { 30, 0.05, 0.2, 3 }, .exit_when_idle = 1 };
        pthread_create(&w[i].t, NULL, wt_main, &w[i]);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(w[i].t, NULL);
        CHECK_MSG(w[i].ret == 0, "worker %d: %s", i, w[i].e.msg);
    }
}

static const char *storage_kind = "file";

static int64_t submit(const char *url, const char *task, const char *in, const char *out, double chunk_s)
{
    char store[600];
    if (!strcmp(storage_kind, "s3"))
        snprintf(store, sizeof(store), "s3://fp-test/e2e-%ld", (long)getpid());
    else
        snprintf(store, sizeof(store), "file://%s/store", tu_tmpdir());
    fp_job_spec s = { (char *)task, (char *)in, (char *)out, store, chunk_s, -1, (char *)"{}" };
    fp_err e = { 0 };
    int64_t id = 0;
    int ret = fp_jobs_submit(url, &s, NULL, &id, &e);
    CHECK_MSG(ret == 0, "submit %s: %s", task, e.msg);
    return id;
}

static void job_state(fp_jobq *q, int64_t id, const char *state, const char *err_part)
{
    fp_job_info j;
    fp_err e = { 0 };
    CHECK_EQ_INT(fp_jobq_job(q, id, &j, &e), 0);
    CHECK_MSG(!strcmp(j.state, state), "job %lld is %s (%s), expected %s", (long long)id, j.state, j.error, state);
    if (err_part)
        CHECK_MSG(strstr(j.error, err_part) != NULL, "job %lld error \"%s\" lacks \"%s\"", (long long)id, j.error,
                  err_part);
}

/* Text output of a shell command (ffmpeg/ffprobe) into a malloc'd string. */
static char *run_cmd(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    if (!p || !out) {
        free(out);
        if (p)
            pclose(p);
        return NULL;
    }
    size_t r;
    while ((r = fread(out + n, 1, cap - n - 1, p)) > 0) {
        n += r;
        if (n + 1 >= cap)
            out = realloc(out, cap *= 2);
    }
    out[n] = 0;
    if (pclose(p) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

/* The media module's transcode as chunk work: chunked (0.4 s) and single-chunk runs with a lossless
 * intra encoder must decode to identical frames with identical timestamps, and have the input's
 * frame count and timestamps. */
static void test_transcode(const char *url, const char *clip)
{
    if (!fp_task_find("transcode")) {
        SKIP("transcode task not built (no media module)");
        return;
    }
    char o[2][600], cmd[1400];
    for (int i = 0; i < 2; i++)
        snprintf(o[i], sizeof(o[i]), "%s/transcode-%d.mkv", tu_tmpdir(), i);
    char store[600];
    snprintf(store, sizeof(store), "file://%s/store", tu_tmpdir());
    int64_t id[2];
    for (int i = 0; i < 2; i++) {
        fp_job_spec s = { (char *)"transcode", (char *)clip, o[i], store, i ? 1000 : 0.4, -1,
                          (char *)"{\"vcodec\":\"ffv1\"}" };
        fp_err e = { 0 };
        CHECK_MSG(fp_jobs_submit(url, &s, NULL, &id[i], &e) == 0, "%s", e.msg);
    }
    run_workers(url, 2);
    fp_jobq *q = NULL;
    fp_err e = { 0 };
    CHECK_EQ_INT(fp_jobq_open(&q, url, NULL, &e), 0);
    for (int i = 0; i < 2; i++) {
        fp_job_info j;
        CHECK_EQ_INT(fp_jobq_job(q, id[i], &j, &e), 0);
        CHECK_MSG(!strcmp(j.state, "done"), "transcode job %d: %s %s", i, j.state, j.error);
        if (i == 0)
            CHECK_MSG(j.n_chunks == 8, "%d chunks", j.n_chunks);
        /* per-stage throughput comes from the chunks' own stats: every frame counted once */
        fp_task_stats ts;
        CHECK_EQ_INT(fp_jobq_stage_stats(q, id[i], &ts, &e), 0);
        CHECK_MSG(ts.frames == 75, "stage stats count %lld frames", (long long)ts.frames);
        CHECK(ts.decode_s > 0 && ts.wall_s >= ts.decode_s);
        if (i == 0)
            printf("test_e2e: transcode stage stats: %lld frames, decode %.1f fps, process %.1f fps, overall %.1f fps\n",
                   (long long)ts.frames, ts.frames / ts.decode_s, ts.process_s > 0 ? ts.frames / ts.process_s : 0,
                   ts.frames / ts.wall_s);
    }
    fp_jobq_freep(&q);
    char *f[2], *pts[3];
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -v error -i '%s' -map 0:v -f framemd5 - | grep -v '^#'", o[i]);
        f[i] = run_cmd(cmd);
        snprintf(cmd, sizeof(cmd), "ffprobe -v error -select_streams v -show_entries packet=pts_time -of csv=p=0 '%s' | sort -n",
                 o[i]);
        pts[i] = run_cmd(cmd);
    }
    snprintf(cmd, sizeof(cmd), "ffprobe -v error -select_streams v -show_entries packet=pts_time -of csv=p=0 '%s' | sort -n",
             clip);
    pts[2] = run_cmd(cmd);
    CHECK(f[0] && f[1] && strlen(f[0]) > 1000);
    CHECK_MSG(f[0] && f[1] && !strcmp(f[0], f[1]), "chunked transcode frames differ from the single-process run");
    CHECK(pts[0] && pts[2]);
    /* Matroska stores milliseconds: compare as numbers. Relative to the first frame: the muxer shifts
     * every stream by the same amount so the AAC priming's negative start becomes 0 (the single-chunk
     * run shows the same shift; compared exactly above). */
    int same = pts[0] && pts[2];
    double x0 = same ? strtod(pts[0], NULL) : 0, y0 = same ? strtod(pts[2], NULL) : 0;
    for (char *a = pts[0], *b = pts[2]; same && *a && *b;) {
        char *ea, *eb;
        double x = strtod(a, &ea) - x0, y = strtod(b, &eb) - y0;
        same = fabs(x - y) < 0.0015 && ea != a && eb != b;
        a = ea + (*ea == '\n');
        b = eb + (*eb == '\n');
        if (!*a || !*b)
            same = same && !*a && !*b;
    }
    CHECK_MSG(same, "chunked transcode timestamps differ from the input's");
    int audio = 0;
    snprintf(cmd, sizeof(cmd), "ffprobe -v error -select_streams a -show_entries stream=codec_name -of csv=p=0 '%s'", o[0]);
    char *a = run_cmd(cmd);
    audio = a && strstr(a, "aac") != NULL;
    CHECK_MSG(audio, "audio not muxed from the source");
    free(a);
    for (int i = 0; i < 2; i++)
        free(f[i]);
    for (int i = 0; i < 3; i++)
        free(pts[i]);
}

/* Whole decoded video of a file as raw yuva444p planes, the outputs' own format, so no colour
 * conversion widens a difference (ffmpeg), malloc'd; *n its size. */
static unsigned char *rgba_frames(const char *path, size_t *n)
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -v error -i '%s' -map 0:v -f rawvideo -pix_fmt yuva444p -", path);
    FILE *p = popen(cmd, "r");
    size_t cap = 1 << 20, len = 0, r;
    unsigned char *out = malloc(cap);
    if (!p || !out) {
        free(out);
        if (p)
            pclose(p);
        return NULL;
    }
    while ((r = fread(out + len, 1, cap - len, p)) > 0)
        if ((len += r) == cap)
            out = realloc(out, cap *= 2);
    if (pclose(p) != 0) {
        free(out);
        return NULL;
    }
    *n = len;
    return out;
}

/* key and matte as chunk tasks: chunked (cut every 0.4 s) vs single-chunk, both through workers.
 * key is stateless: frames identical. matte carries recurrent state: each chunk warms up on the
 * planner's warm-up frames (8 by default, not written); docs/matte.md's tolerance is one 8-bit code
 * value against a sequential run; without warm-up it must be worse (so the test can fail). */
static void test_key_matte(const char *url)
{
    if (!fp_task_find("key") || !fp_task_find("matte")) {
        SKIP("key/matte tasks not built (no media/tasks module)");
        return;
    }
    /* the small test model takes 96x72 only (fixed src shape) */
    char clip[600], cmd[1400];
    snprintf(clip, sizeof(clip), "%s/clip96.mp4", tu_tmpdir());
    snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -v error -y -f lavfi -i testsrc=size=96x72:rate=25 -t 2 -c:v libx264 "
             "-preset ultrafast -g 10 -keyint_min 10 -sc_threshold 0 -bf 2 '%s'", clip);
    CHECK_MSG(system(cmd) == 0, "%s", cmd);
    const size_t fsize = (size_t)96 * 72 * 4 * 50;
    char store[600], o[5][600], params[1200];
    snprintf(store, sizeof(store), "file://%s/store", tu_tmpdir());
    snprintf(params, sizeof(params), "{\"model\":\"%s/rvm_mobilenetv3/model.onnx\",\"backend\":\"cpu\",\"threads\":1,"
             "\"vcodec\":\"ffv1\",\"pix_fmt\":\"yuva444p\"}", FP_TEST_MODELS_DIR);
    const char *names[5] = { "key-chunked.mkv", "key-single.mkv", "matte-chunked.mkv", "matte-single.mkv",
                             "matte-nowarm.mkv" };
    int64_t id[5];
    for (int i = 0; i < 5; i++) {
        snprintf(o[i], sizeof(o[i]), "%s/%s", tu_tmpdir(), names[i]);
        fp_job_spec s = { (char *)(i < 2 ? "key" : "matte"), (char *)clip, o[i], store, i % 2 == 0 ? 0.4 : 1000,
                          i == 4 ? 0 : -1,
                          i < 2 ? (char *)"{\"color\":\"00ff00\",\"tolerance\":0.2,\"vcodec\":\"ffv1\",\"pix_fmt\":\"yuva444p\"}"
                                : params };
        if (i == 4)
            s.chunk_seconds = 0.4;
        fp_err e = { 0 };
        CHECK_MSG(fp_jobs_submit(url, &s, NULL, &id[i], &e) == 0, "%s: %s", names[i], e.msg);
    }
    double t0 = tu_now();
    run_workers(url, 2);
    printf("test_e2e: key/matte jobs in %.2fs\n", tu_now() - t0);
    fp_jobq *q = NULL;
    fp_err e = { 0 };
    CHECK_EQ_INT(fp_jobq_open(&q, url, NULL, &e), 0);
    for (int i = 0; i < 5; i++)
        job_state(q, id[i], "done", NULL);
    fp_jobq_freep(&q);
    unsigned char *f[5];
    size_t n[5] = { 0 };
    for (int i = 0; i < 5; i++)
        f[i] = rgba_frames(o[i], &n[i]);
    CHECK_MSG(f[0] && f[1] && n[0] == fsize, "key output: %zu bytes of YUVA, expected %zu", n[0], fsize);
    CHECK_MSG(f[0] && f[1] && n[0] == n[1] && !memcmp(f[0], f[1], n[0]), "chunked key differs from the single run");
    int maxd[2] = { 0, 0 };
    for (int k = 0; k < 2; k++) {
        unsigned char *a = f[2 + 2 * k], *b = f[3];
        CHECK(a && b && n[2 + 2 * k] == n[3] && n[3] == fsize);
        for (size_t i = 0; a && b && n[2 + 2 * k] == n[3] && i < n[3]; i++) {
            int d = abs((int)a[i] - (int)b[i]);
            maxd[k] = d > maxd[k] ? d : maxd[k];
        }
    }
    printf("test_e2e: matte chunked vs single, max |diff| (8-bit YUVA planes): %d with warm-up 8, %d without\n", maxd[0],
           maxd[1]);
    CHECK_MSG(maxd[0] <= 1, "chunked matte with warm-up differs by %d (> 1 code value)", maxd[0]);
    CHECK_MSG(maxd[1] > maxd[0], "warm-up made no difference (%d vs %d): the test cannot tell", maxd[1], maxd[0]);
    for (int i = 0; i < 5; i++)
        free(f[i]);
}

int main(int argc, char **argv)
{
    const char *engine = argc > 1 ? argv[1] : "sqlite";
    if (argc > 2 && !strcmp(argv[2], "s3")) {
        /* chunk storage on the S3 test server (fixture) instead of the local disk */
        char ep[256] = "";
        const char *f = getenv("FP_TEST_S3_FILE");
        FILE *fp = f ? fopen(f, "r") : NULL;
        if (fp) {
            if (!fgets(ep, sizeof(ep), fp))
                ep[0] = 0;
            fclose(fp);
        }
        ep[strcspn(ep, "\n")] = 0;
        if (!ep[0]) {
            printf("test_e2e: no S3 server: skipped\n");
            return FP_TEST_SKIP_CODE;
        }
        storage_kind = "s3";
        setenv("FP_S3_ENDPOINT", ep, 1);
        setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
        setenv("AWS_SECRET_ACCESS_KEY", "S3RVER", 1);
    }
    const char *url0 = tu_fresh_queue(engine, "e2e");
    if (!url0) {
        printf("test_e2e %s: engine not available: skipped\n", engine);
        return FP_TEST_SKIP_CODE;
    }
    char url[1024];
    snprintf(url, sizeof(url), "%s", url0);
    const char *d = tu_tmpdir();
    char clip[512], gone[512], o[6][600];
    snprintf(clip, sizeof(clip), "%s/clip.mp4", d);
    snprintf(gone, sizeof(gone), "%s/gone.mp4", d);
    if (tu_make_clip(clip, 3, 10) < 0 || tu_make_clip(gone, 1, 10) < 0) {
        printf("test_e2e: ffmpeg with libx264 missing: skipped\n");
        return FP_TEST_SKIP_CODE;
    }
    const char *names[6] = { "chunked.mp4", "single.mp4", "chunked.jsonl", "single.jsonl", "chunked.mkv", "gone.mp4" };
    for (int i = 0; i < 6; i++)
        snprintf(o[i], sizeof(o[i]), "%s/out-%s", d, names[i]);
    int64_t j0 = submit(url, "remux", clip, o[0], 0.4);
    int64_t j1 = submit(url, "remux", clip, o[1], 100);
    int64_t j2 = submit(url, "packetmd5", clip, o[2], 0.4);
    int64_t j3 = submit(url, "packetmd5", clip, o[3], 100);
    int64_t j4 = submit(url, "remux", clip, o[4], 1);
    int64_t j5 = submit(url, "remux", gone, o[5], 0.4);
    unlink(gone); /* input missing at claim time */

    fp_jobq *q = NULL;
    fp_err e = { 0 };
    CHECK_EQ_INT(fp_jobq_open(&q, url, NULL, &e), 0);
    /* a job whose task is unknown to the workers (submitted past the CLI's check) */
    fp_chunk ch = { 0, INT64_MAX, 0, 75 };
    int64_t j6 = 0;
    CHECK_EQ_INT(fp_jobq_submit(q, "nosuchtask", clip, o[0], "file:///tmp", "{\"task\":\"nosuchtask\",\"input\":\"x\","
                                 "\"output\":\"y\"}", &ch, 1, &j6, &e), 0);
    /* fp_jobs_submit refuses an unknown task up front */
    fp_job_spec bad = { (char *)"nosuchtask", clip, o[0], (char *)"file:///tmp", 1, -1, (char *)"{}" };
    int64_t jb = 0;
    fp_err be = { 0 };
    CHECK_EQ_INT(fp_jobs_submit(url, &bad, NULL, &jb, &be), FP_EINVAL);
    CHECK(strstr(be.msg, "unknown task \"nosuchtask\"") != NULL);

    double t0 = tu_now();
    run_workers(url, 2);
    printf("test_e2e %s: 7 jobs in %.2fs\n", engine, tu_now() - t0);

    job_state(q, j0, "done", NULL);
    job_state(q, j1, "done", NULL);
    job_state(q, j2, "done", NULL);
    job_state(q, j3, "done", NULL);
    job_state(q, j4, "done", NULL);
    job_state(q, j5, "failed", "input missing");
    job_state(q, j6, "failed", "unknown task \"nosuchtask\"");
    fp_job_info ji;
    CHECK_EQ_INT(fp_jobq_job(q, j0, &ji, &e), 0);
    CHECK_MSG(ji.n_chunks == 8, "chunked job has %d chunks", ji.n_chunks);

    /* chunked == single-process, byte for byte */
    CHECK_MSG(same_file(o[0], o[1]), "%s differs from %s", o[0], o[1]);
    CHECK_MSG(same_file(o[2], o[3]), "%s differs from %s", o[2], o[3]);
    /* and the packets are the input's: video and audio, timestamps and data */
    for (int t = 0; t < 2; t++) {
        enum AVMediaType mt = t ? AVMEDIA_TYPE_AUDIO : AVMEDIA_TYPE_VIDEO;
        char *a = packet_dump(clip, mt), *b = packet_dump(o[0], mt), *c = packet_dump(o[4], mt);
        CHECK(a && b && c && strlen(a) > 100);
        CHECK_MSG(a && b && !strcmp(a, b), "%s packets differ from the input's", t ? "audio" : "video");
        /* Matroska rounds timestamps to 1 ms: compare the data column only */
        int lines_a = 0, lines_c = 0;
        for (char *p = a; p && *p; p++)
            lines_a += *p == '\n';
        for (char *p = c; p && *p; p++)
            lines_c += *p == '\n';
        CHECK_EQ_INT(lines_a, lines_c);
        free(a), free(b), free(c);
    }
    size_t len = 0;
    char *jl = slurp(o[2], &len);
    int lines = 0;
    for (size_t i = 0; jl && i < len; i++)
        lines += jl[i] == '\n';
    CHECK_EQ_INT(lines, 75);
    free(jl);
    /* no output for the failed jobs */
    CHECK(access(o[5], F_OK) != 0);
    fp_jobq_freep(&q);

    test_transcode(url, clip);
    if (!strcmp(engine, "sqlite") && !strcmp(storage_kind, "file"))
        test_key_matte(url);

    if (!strcmp(engine, "sqlite")) {
        /* the one-machine entry point: temporary queue and store, 2 workers, output published */
        char lo[600];
        snprintf(lo, sizeof(lo), "%s/local.jsonl", d);
        fp_job_spec ls = { (char *)"packetmd5", clip, lo, NULL, 0.4, -1, (char *)"{}" };
        fp_err le = { 0 };
        CHECK_EQ_INT(fp_jobs_run_local(&ls, 2, &le), 0);
        CHECK_MSG(same_file(lo, o[3]), "run_local output differs");
        fp_job_spec lm = { (char *)"packetmd5", gone, lo, NULL, 0.4, -1, (char *)"{}" };
        fp_err me = { 0 };
        CHECK_EQ_INT(fp_jobs_run_local(&lm, 2, &me), FP_EINPUT);
        CHECK_MSG(strstr(me.msg, "gone.mp4: plan: cannot open") != NULL, "%s", me.msg);
    }
    tu_rmtmp();
    char name[64];
    snprintf(name, sizeof(name), "test_e2e %s %s", engine, storage_kind);
    return fp_test_finish(name);
}
