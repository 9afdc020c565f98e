/*
 * test_serve — the HTTP API over real HTTP (libcurl client): authentication, submit inside and
 * outside the allowed roots (traversal, symlink escape, absolute paths elsewhere), malformed bodies,
 * job status and list JSON, cancel, the HTML page and Prometheus metrics.
 */
#include <curl/curl.h>
#include <sys/stat.h>

#include "fp_test.h"
#include "jobs/jobs_queue.h"
#include "jobs/jobs_serve.h"
#include "jobs_testutil.h"

typedef struct resp {
    char body[65536];
    size_t n;
    long status;
} resp;

static size_t on_data(char *d, size_t s, size_t n, void *o)
{
    resp *r = o;
    size_t len = s * n;
    if (r->n + len >= sizeof(r->body))
        len = sizeof(r->body) - 1 - r->n;
    memcpy(r->body + r->n, d, len);
    r->n += len;
    r->body[r->n] = 0;
    return s * n;
}

static int port;

static resp *http(const char *method, const char *path, const char *token, const char *body)
{
    static resp r;
    char url[512], auth[256];
    memset(&r, 0, sizeof(r));
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    if (token) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        h = curl_slist_append(h, auth);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    if (curl_easy_perform(c) != CURLE_OK)
        r.status = -1;
    else
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    return &r;
}

int main(void)
{
    const char *d = tu_tmpdir();
    char in_root[512], out_root[512], clip[600], store[600], url[600], body[2048], outside[600], link[600];
    snprintf(in_root, sizeof(in_root), "%s/in", d);
    snprintf(out_root, sizeof(out_root), "%s/out", d);
    mkdir(in_root, 0700);
    mkdir(out_root, 0700);
    snprintf(clip, sizeof(clip), "%s/clip.mp4", in_root);
    snprintf(outside, sizeof(outside), "%s/secret.mp4", d);
    snprintf(link, sizeof(link), "%s/link.mp4", in_root);
    if (tu_make_clip(clip, 1, 10) < 0 || tu_make_clip(outside, 1, 10) < 0) {
        printf("test_serve: ffmpeg with libx264 missing: skipped\n");
        return FP_TEST_SKIP_CODE;
    }
    if (symlink(outside, link) < 0)
        perror("symlink");
    snprintf(store, sizeof(store), "file://%s/store", d);
    snprintf(url, sizeof(url), "sqlite:%s/q.db", d);
    const char *ir[] = { in_root, NULL }, *orr[] = { out_root, NULL }, *bk[] = { "fp-bucket", NULL };
    fp_serve_opts o = { url, store, "s3cret-token", ir, orr, bk, "127.0.0.1", 0 };
    fp_serve *s = NULL;
    fp_err e = { 0 };
    CHECK_EQ_INT(fp_serve_start(&s, &o, &e), 0);
    if (!s) {
        printf("%s\n", e.msg);
        return fp_test_finish("test_serve");
    }
    port = fp_serve_port(s);
    CHECK(port > 0);
    const char *tok = "s3cret-token";

    CHECK_EQ_INT(http("GET", "/api/jobs", NULL, NULL)->status, 401);
    CHECK_EQ_INT(http("GET", "/api/jobs", "wrong-token!", NULL)->status, 401);
    CHECK_EQ_INT(http("GET", "/metrics", NULL, NULL)->status, 401);
    resp *r = http("GET", "/api/jobs", tok, NULL);
    CHECK_EQ_INT(r->status, 200);
    CHECK(!strcmp(r->body, "[]"));

    /* submit inside the roots */
    snprintf(body, sizeof(body), "{\"task\":\"packetmd5\",\"input\":\"%s\",\"output\":\"%s/o.jsonl\",\"chunk_seconds\":0.2}",
             clip, out_root);
    r = http("POST", "/api/jobs", tok, body);
    CHECK_MSG(r->status == 201 && strstr(r->body, "\"id\":1"), "%ld %s", r->status, r->body);

    /* refused: outside, traversal, symlink escape, relative, bad output, client-chosen storage, s3 bucket */
    static const struct { const char *in, *out; int status; } bad[] = {
        { "%s/../secret.mp4", "%s/o.jsonl", 403 },
        { "SECRET", "%s/o.jsonl", 403 },
        { "LINK", "%s/o.jsonl", 403 },
        { "clip.mp4", "%s/o.jsonl", 403 },
        { "CLIP", "/tmp/elsewhere.jsonl", 403 },
        { "CLIP", "%s/../o.jsonl", 403 },
        { "CLIP", "s3://other-bucket/x.jsonl", 403 },
        { "CLIP", "http://example.com/x", 403 },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char in[700], out[700];
        if (!strcmp(bad[i].in, "SECRET"))
            snprintf(in, sizeof(in), "%s", outside);
        else if (!strcmp(bad[i].in, "LINK"))
            snprintf(in, sizeof(in), "%s", link);
        else if (!strcmp(bad[i].in, "CLIP"))
            snprintf(in, sizeof(in), "%s", clip);
        else
            snprintf(in, sizeof(in), bad[i].in, in_root);
        snprintf(out, sizeof(out), bad[i].out, out_root);
        snprintf(body, sizeof(body), "{\"task\":\"packetmd5\",\"input\":\"%s\",\"output\":\"%s\"}", in, out);
        r = http("POST", "/api/jobs", tok, body);
        CHECK_MSG(r->status == bad[i].status, "case %zu (%s -> %s): %ld %s", i, in, out, r->status, r->body);
    }
    CHECK(fp_serve_path_allowed(clip, ir, 0));
    CHECK(!fp_serve_path_allowed(link, ir, 0));
    snprintf(body, sizeof(body), "{\"task\":\"packetmd5\",\"input\":\"%s\",\"output\":\"%s/o.jsonl\",\"storage\":\"file:///\"}",
             clip, out_root);
    CHECK_EQ_INT(http("POST", "/api/jobs", tok, body)->status, 403);
    r = http("POST", "/api/jobs", tok, "{\"task\":");
    CHECK_MSG(r->status == 400 && strstr(r->body, "malformed JSON"), "%ld %s", r->status, r->body);
    snprintf(body, sizeof(body), "{\"task\":\"nosuch\",\"input\":\"%s\",\"output\":\"%s/o.jsonl\"}", clip, out_root);
    r = http("POST", "/api/jobs", tok, body);
    CHECK_MSG(r->status == 400 && strstr(r->body, "unknown task"), "%ld %s", r->status, r->body);
    char *huge = malloc(70000);
    memset(huge, ' ', 69999);
    huge[69999] = 0;
    CHECK_EQ_INT(http("POST", "/api/jobs", tok, huge)->status, 413);
    free(huge);

    /* only the good job exists */
    r = http("GET", "/api/jobs", tok, NULL);
    CHECK_MSG(r->status == 200 && strstr(r->body, "\"id\":1") && !strstr(r->body, "\"id\":2"), "%s", r->body);
    r = http("GET", "/api/jobs/1", tok, NULL);
    CHECK_MSG(r->status == 200 && strstr(r->body, "\"chunks\":3") && strstr(r->body, "\"tasks\":["), "%s", r->body);
    CHECK_EQ_INT(http("GET", "/api/jobs/99", tok, NULL)->status, 404);
    CHECK_EQ_INT(http("GET", "/api/nothing", tok, NULL)->status, 404);
    r = http("GET", "/metrics", tok, NULL);
    CHECK_MSG(r->status == 200 && strstr(r->body, "framepipe_tasks{state=\"queued\"} 3") &&
                  strstr(r->body, "framepipe_jobs{state=\"queued\"} 1"), "%s", r->body);
    /* per-stage throughput on the page, from a completed chunk's stats (10 frames; decode 0.5 s,
     * process 1 s, whole chunk 2 s) */
    fp_jobq *qq = NULL;
    CHECK_EQ_INT(fp_jobq_open(&qq, url, NULL, &e), 0);
    fp_claim cl;
    CHECK_EQ_INT(fp_jobq_claim(qq, "t", &cl, &e), 0);
    fp_task_stats ts = { 10, 0.5, 1.0, 2.0 };
    CHECK_EQ_INT(fp_jobq_complete_stats(qq, &cl, "k", &ts, &e), 0);
    fp_claim_clear(&cl);
    fp_jobq_freep(&qq);
    char q[128];
    snprintf(q, sizeof(q), "/?token=%s", tok);
    r = http("GET", q, NULL, NULL);
    CHECK_MSG(r->status == 200 && strstr(r->body, "<table>") && strstr(r->body, "packetmd5"), "%ld", r->status);
    CHECK_MSG(strstr(r->body, "10 frames &middot; decode 20.0 fps &middot; process 10.0 fps &middot; overall 5.0 fps"),
              "no stage throughput on the page: %s", r->body);
    CHECK_EQ_INT(http("GET", "/?token=nope", NULL, NULL)->status, 401);
    CHECK_EQ_INT(http("GET", "/api/jobs/1/cancel", tok, NULL)->status, 405);
    r = http("POST", "/api/jobs/1/cancel", tok, "");
    CHECK_MSG(r->status == 200 && strstr(r->body, "\"state\":\"cancelled\""), "%s", r->body);
    fp_serve_stop(&s);
    fp_serve_stop(&s);
    tu_rmtmp();
    return fp_test_finish("test_serve");
}
