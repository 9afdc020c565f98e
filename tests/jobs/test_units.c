/*
 * test_units — job JSON validation, store keys, the file:// store (including a full disk), and the
 * planner on generated clips (cuts at keyframes only, frame counts add up, warm-up, bad inputs).
 */
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "fp_test.h"
#include "jobs/jobs_plan.h"
#include "jobs/jobs_queue.h"
#include "jobs/jobs_spec.h"
#include "jobs/jobs_store.h"
#include "jobs_testutil.h"

static int parse(const char *json, fp_err *e)
{
    fp_job_spec s;
    fp_err_clear(e);
    int ret = fp_job_spec_parse(&s, json, strlen(json), "t.json", e);
    fp_job_spec_clear(&s);
    return ret;
}

static void test_spec(void)
{
    fp_err e;
    fp_job_spec s;
    const char *ok = "{\"task\":\"remux\",\"input\":\"in.mp4\",\"output\":\"o.mp4\",\"chunk_seconds\":2.5,"
                     "\"warmup_frames\":4,\"params\":{\"a\":[1,2]}}";
    CHECK_EQ_INT(fp_job_spec_parse(&s, ok, strlen(ok), "t.json", &e), 0);
    CHECK(s.task && !strcmp(s.task, "remux"));
    CHECK_NEAR(s.chunk_seconds, 2.5, 0);
    CHECK_EQ_INT(s.warmup_frames, 4);
    CHECK(s.params && !strcmp(s.params, "{\"a\":[1,2]}"));
    CHECK(s.storage == NULL);
    char *back = fp_job_spec_json(&s);
    fp_job_spec s2;
    CHECK(back && fp_job_spec_parse(&s2, back, strlen(back), "roundtrip", &e) == 0);
    CHECK(s2.input && !strcmp(s2.input, "in.mp4") && s2.warmup_frames == 4);
    fp_job_spec_clear(&s2);
    free(back);
    fp_job_spec_clear(&s);
    fp_job_spec_clear(&s); /* twice is fine */

    static const struct {
        const char *json, *expect;
    } bad[] = {
        { "", "malformed JSON" },
        { "{\"task\":\"remux\"", "malformed JSON" },
        { "[1,2]", "top level must be an object" },
        { "{\"input\":\"a\",\"output\":\"b\"}", "missing \"task\"" },
        { "{\"task\":\"remux\",\"output\":\"b\"}", "missing \"input\"" },
        { "{\"task\":7,\"input\":\"a\",\"output\":\"b\"}", "\"task\" must be a string" },
        { "{\"task\":\"\",\"input\":\"a\",\"output\":\"b\"}", "\"task\" must be a string" },
        { "{\"task\":\"Re mux\",\"input\":\"a\",\"output\":\"b\"}", "may use only" },
        { "{\"task\":\"remux\",\"input\":\"a\",\"output\":\"b\",\"chunk_second\":3}", "unknown field \"chunk_second\"" },
        { "{\"task\":\"remux\",\"input\":\"a\",\"output\":\"b\",\"chunk_seconds\":0}", "\"chunk_seconds\" must be" },
        { "{\"task\":\"remux\",\"input\":\"a\",\"output\":\"b\",\"chunk_seconds\":\"5\"}", "\"chunk_seconds\" must be" },
        { "{\"task\":\"remux\",\"input\":\"a\",\"output\":\"b\",\"warmup_frames\":1.5}", "must be an integer" },
        { "{\"task\":\"remux\",\"input\":\"a\",\"output\":\"b\",\"params\":[]}", "\"params\" must be an object" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int ret = parse(bad[i].json, &e);
        CHECK_MSG(ret == FP_EINVAL, "case %zu: %d", i, ret);
        CHECK_MSG(strstr(e.msg, bad[i].expect) && !strncmp(e.msg, "t.json: job: ", 13), "case %zu: %s", i, e.msg);
    }
    /* not NUL-terminated input: the length is honoured */
    char buf[64];
    memcpy(buf, "{\"task\":\"remux\",\"input\":\"a\",\"output\":\"b\"}XXXX", 45);
    CHECK_EQ_INT(fp_job_spec_parse(&s, buf, 41, "t.json", &e), 0);
    fp_job_spec_clear(&s);
}

static void test_keys(void)
{
    CHECK(fp_store_key_ok("jobs/1/chunk-00001-a1.pkt"));
    CHECK(fp_store_key_ok("a"));
    const char *bad[] = { "", "/abs", "../x", "a/../b", "a/..", "a//b", "a/./b", ".", "a b", "a\\b", "a/b/" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK_MSG(!fp_store_key_ok(bad[i]), "accepted \"%s\"", bad[i]);
    char longkey[600];
    memset(longkey, 'a', 599);
    longkey[599] = 0;
    CHECK(!fp_store_key_ok(longkey));
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void test_file_store(void)
{
    char url[600], src[512], got[512], root[400];
    fp_err e = { 0 };
    fp_store *s = NULL;
    snprintf(root, sizeof(root), "%s/store", tu_tmpdir());
    snprintf(url, sizeof(url), "file://%s", root);
    snprintf(src, sizeof(src), "%s/src.txt", tu_tmpdir());
    snprintf(got, sizeof(got), "%s/got.txt", tu_tmpdir());
    write_file(src, "hello chunk\n");
    CHECK_EQ_INT(fp_store_open(&s, url, &e), 0);
    CHECK_EQ_INT(fp_store_put_file(s, "jobs/7/chunk-0-a1.txt", src, &e), 0);
    CHECK_EQ_INT(fp_store_get_file(s, "jobs/7/chunk-0-a1.txt", got, &e), 0);
    FILE *f = fopen(got, "r");
    char line[64] = "";
    if (f) {
        if (!fgets(line, sizeof(line), f))
            line[0] = 0;
        fclose(f);
    }
    CHECK(!strcmp(line, "hello chunk\n"));
    fp_err ke = { 0 };
    CHECK_EQ_INT(fp_store_put_file(s, "../escape.txt", src, &ke), FP_EINVAL);
    CHECK(strstr(ke.msg, "refused key") != NULL);
    char esc[600];
    snprintf(esc, sizeof(esc), "%s/../escape.txt", root);
    CHECK(access(esc, F_OK) != 0);
    fp_err ge = { 0 };
    CHECK_EQ_INT(fp_store_get_file(s, "jobs/7/missing", got, &ge), FP_EINPUT);
    CHECK_EQ_INT(fp_store_delete(s, "jobs/7/chunk-0-a1.txt", &e), 0);
    CHECK_EQ_INT(fp_store_delete(s, "jobs/7/chunk-0-a1.txt", &e), 0); /* missing is fine */
    fp_err ge2 = { 0 };
    CHECK_EQ_INT(fp_store_get_file(s, "jobs/7/chunk-0-a1.txt", got, &ge2), FP_EINPUT);
    fp_store_freep(&s);
    fp_store_freep(&s);
    fp_err ue = { 0 };
    CHECK_EQ_INT(fp_store_open(&s, "ftp://x/y", &ue), FP_EUNSUPPORTED);
    fp_err re = { 0 };
    CHECK_EQ_INT(fp_store_open(&s, "file://relative/dir", &re), FP_EINVAL);

    /* Full disk: a child limited to 4 KiB file size (SIGXFSZ ignored: writes fail with EFBIG, as they
     * would with ENOSPC) must fail the put cleanly and leave no object and no temp file behind. */
    char big[512];
    snprintf(big, sizeof(big), "%s/big.bin", tu_tmpdir());
    f = fopen(big, "wb");
    for (int i = 0; i < 64 * 1024; i++)
        fputc(i & 0xff, f);
    fclose(f);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = { 4096, 4096 };
        setrlimit(RLIMIT_FSIZE, &rl);
        fp_store *cs = NULL;
        fp_err ce = { 0 };
        if (fp_store_open(&cs, url, &ce) < 0)
            _exit(10);
        int ret = fp_store_put_file(cs, "jobs/8/full.bin", big, &ce);
        fprintf(stderr, "full disk: %s\n", ce.msg);
        _exit(ret == FP_EIO && strstr(ce.msg, "write failed") ? 0 : 11);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "test -z \"$(ls -A '%s/jobs/8' 2>/dev/null)\"", root);
    CHECK_MSG(system(cmd) == 0, "leftover files in %s/jobs/8", root);

    /* publish: the destination appears complete or not at all */
    char dest[512];
    snprintf(dest, sizeof(dest), "%s/final.txt", tu_tmpdir());
    CHECK_EQ_INT(fp_store_publish(dest, src, &e), 0);
    CHECK(access(dest, F_OK) == 0);
    fp_err pe = { 0 };
    CHECK_EQ_INT(fp_store_publish("/nonexistent-dir/x.mp4", src, &pe), FP_EOUTPUT);
    CHECK(strstr(pe.msg, "/nonexistent-dir") != NULL);
}

static void test_plan(void)
{
    char clip[512];
    fp_err e = { 0 };
    fp_plan p;
    snprintf(clip, sizeof(clip), "%s/clip.mp4", tu_tmpdir());
    if (tu_make_clip(clip, 4, 12) < 0) {
        SKIP("ffmpeg (with libx264) could not generate the test clip");
        return;
    }
    CHECK_EQ_INT(fp_plan_make(clip, 1.0, 0, &p, &e), 0);
    CHECK_EQ_INT(p.nframes, 100);
    /* keyframes every 12 frames (0.48 s): a chunk of >= 1 s starts at 0, 24? no: at 0, 36, 72 */
    CHECK_EQ_INT(p.nchunks, 3);
    int64_t frames = 0;
    double fps_tb = (double)p.tb_den / p.tb_num / 25.0; /* ticks per frame */
    for (int i = 0; i < p.nchunks; i++) {
        frames += p.chunks[i].nframes;
        CHECK_EQ_INT(p.chunks[i].warmup_pts, p.chunks[i].start_pts);
        /* every cut is on a keyframe: a multiple of 12 frames from the first frame */
        int64_t fi = (int64_t)((p.chunks[i].start_pts - p.chunks[0].start_pts) / fps_tb + 0.5);
        CHECK_MSG(fi % 12 == 0, "chunk %d starts at frame %lld", i, (long long)fi);
        if (i + 1 < p.nchunks)
            CHECK_EQ_INT(p.chunks[i].end_pts, p.chunks[i + 1].start_pts);
    }
    CHECK(p.chunks[p.nchunks - 1].end_pts == INT64_MAX);
    CHECK_EQ_INT(frames, 100);
    fp_plan_clear(&p);

    CHECK_EQ_INT(fp_plan_make(clip, 0.1, 5, &p, &e), 0);
    CHECK_EQ_INT(p.nchunks, 9); /* every keyframe: 100 frames / 12 */
    CHECK_EQ_INT(p.chunks[0].warmup_pts, p.chunks[0].start_pts);
    int64_t w = (int64_t)((p.chunks[1].start_pts - p.chunks[1].warmup_pts) / fps_tb + 0.5);
    CHECK_EQ_INT(w, 5);
    fp_plan_clear(&p);

    CHECK_EQ_INT(fp_plan_make(clip, 100, 0, &p, &e), 0);
    CHECK_EQ_INT(p.nchunks, 1);
    CHECK_EQ_INT(p.chunks[0].nframes, 100);
    fp_plan_clear(&p);

    fp_err me = { 0 };
    CHECK_EQ_INT(fp_plan_make("/nonexistent/clip.mp4", 1, 0, &p, &me), FP_EINPUT);
    CHECK(strstr(me.msg, "/nonexistent/clip.mp4: plan: cannot open") != NULL);
    char junk[512];
    snprintf(junk, sizeof(junk), "%s/junk.mp4", tu_tmpdir());
    write_file(junk, "this is not a video at all");
    fp_err je = { 0 };
    CHECK_EQ_INT(fp_plan_make(junk, 1, 0, &p, &je), FP_EINPUT);
    CHECK_MSG(strstr(je.msg, "junk.mp4: plan:") != NULL, "%s", je.msg);
    /* audio only: no video stream */
    char audio[512], cmd[1024];
    snprintf(audio, sizeof(audio), "%s/a.m4a", tu_tmpdir());
    snprintf(cmd, sizeof(cmd), "ffmpeg -nostdin -v error -y -f lavfi -i sine -t 0.5 -c:a aac '%s'", audio);
    if (system(cmd) == 0) {
        fp_err ae = { 0 };
        CHECK_EQ_INT(fp_plan_make(audio, 1, 0, &p, &ae), FP_EINPUT);
        CHECK(strstr(ae.msg, "no video stream") != NULL);
    }
}

/* The optional parts (PostgreSQL, S3): a build without one refuses its URLs with one clear line,
 * FP_EUNSUPPORTED (exit 4); a build with it does not (the engine tests cover what it then does). */
static void test_optional(void)
{
    fp_jobq *q = NULL;
    fp_store *s = NULL;
    fp_err e = { 0 };
    int r = fp_jobq_open(&q, "postgres://nobody@127.0.0.1:1/none", NULL, &e);
#ifdef FP_JOBS_HAVE_PG
    printf("optional: PostgreSQL built in\n");
    CHECK(r != FP_EUNSUPPORTED);
#else
    printf("optional: PostgreSQL not built: checking the refusal\n");
    CHECK_EQ_INT(r, FP_EUNSUPPORTED);
    CHECK(strstr(e.msg, "postgres://nobody@127.0.0.1:1/none: queue: this framepipe was built without PostgreSQL") != NULL);
    CHECK_EQ_INT(fp_exit_code(r), FP_EXIT_UNSUPPORTED);
#endif
    fp_jobq_freep(&q);
    memset(&e, 0, sizeof(e));
    setenv("FP_S3_ENDPOINT", "http://127.0.0.1:1", 1);
    r = fp_store_open(&s, "s3://bucket/prefix", &e);
#ifdef FP_JOBS_HAVE_S3
    printf("optional: S3 built in\n");
    CHECK(r != FP_EUNSUPPORTED);
#else
    printf("optional: S3 not built: checking the refusal\n");
    CHECK_EQ_INT(r, FP_EUNSUPPORTED);
    CHECK(strstr(e.msg, "s3://bucket/prefix: store: this framepipe was built without S3 support") != NULL);
    memset(&e, 0, sizeof(e));
    CHECK_EQ_INT(fp_store_publish("s3://bucket/key.mp4", "/dev/null", &e), FP_EUNSUPPORTED);
#endif
    fp_store_freep(&s);
    unsetenv("FP_S3_ENDPOINT");
}

int main(void)
{
    test_optional();
    test_spec();
    test_keys();
    test_file_store();
    test_plan();
    tu_rmtmp();
    return fp_test_finish("test_units");
}
