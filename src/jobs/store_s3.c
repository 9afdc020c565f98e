/*
 * store_s3 — the s3:// store: S3-compatible object storage over HTTP(S) with libcurl, signed with
 * AWS Signature Version 4 (CURLOPT_AWS_SIGV4).
 *
 * Owns: path-style URLs (endpoint/bucket/prefix/key), the payload hash header, single PUT for small
 * objects and multipart upload (initiate, parts, complete; abort on any failure, so no orphaned
 * parts are left), retries of failed requests with backoff, and mapping HTTP status to FP codes.
 * Does not own key validation (jobs_store.c) or credentials storage: they come from the environment:
 *   FP_S3_ENDPOINT (default https://s3.REGION.amazonaws.com), AWS_REGION (default us-east-1),
 *   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, FP_S3_PART_SIZE (bytes, default 8 MiB; multipart above).
 *
 * curl 7.88 (Debian 12) signs what it is given: it neither adds x-amz-content-sha256 nor sorts the
 * query string, so this file sends the header itself (SHA-256 of the body) and writes every query
 * string with its parameters already in canonical (sorted) order, with "=" after valueless ones.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <curl/curl.h>
#include <libavutil/mem.h>
#include <libavutil/sha.h>
#include <unistd.h>

#include "core/fp_log.h"
#include "jobs/jobs_store.h"

#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct s3_priv {
    char endpoint[512], bucket[256], prefix[512], region[64];
    char userpwd[512];
    size_t part_size;
} s3_priv;

typedef struct buf {
    char *p;
    size_t n, cap;
} buf;

static size_t buf_write(char *data, size_t size, size_t nmemb, void *opaque)
{
    buf *b = opaque;
    size_t n = size * nmemb;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *np = realloc(b->p, cap);
        if (!np)
            return 0;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
    b->p[b->n] = 0;
    return n;
}

static size_t hdr_etag(char *data, size_t size, size_t nmemb, void *opaque)
{
    size_t n = size * nmemb;
    if (n > 5 && !strncasecmp(data, "ETag:", 5)) {
        char *out = opaque;
        const char *v = data + 5;
        while (*v == ' ')
            v++;
        size_t len = n - (v - data);
        while (len && (v[len - 1] == '\r' || v[len - 1] == '\n'))
            len--;
        if (len > 127)
            len = 127;
        memcpy(out, v, len);
        out[len] = 0;
    }
    return n;
}

static void sha256_hex(const uint8_t *data, size_t n, char out[65])
{
    struct AVSHA *sha = av_sha_alloc();
    uint8_t d[32];
    av_sha_init(sha, 256);
    av_sha_update(sha, data, n);
    av_sha_final(sha, d);
    av_free(sha);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

typedef struct req {
    const char *method;
    const char *key;      /* object key below the prefix */
    const char *query;    /* canonical-ordered query string without '?', or NULL */
    const uint8_t *body;  /* request body (may be NULL) */
    size_t body_len;
    FILE *sink;           /* GET: write the body here */
    buf *resp;            /* otherwise: response body collected here (may be NULL) */
    char etag[128];
    long status;
} req;

/* One request, retried on connection errors and 5xx/429 with backoff. Returns 0 (2xx) or the FP
 * code for the final outcome; the message names the object and the S3 error. */
static int s3_do(fp_store *s, req *r, fp_err *e)
{
    s3_priv *p = s->priv;
    char url[2048], hash[65], hdr[128];
    snprintf(url, sizeof(url), "%s/%s/%s%s%s%s%s", p->endpoint, p->bucket, p->prefix, p->prefix[0] ? "/" : "",
             r->key, r->query ? "?" : "", r->query ? r->query : "");
    if (r->body)
        sha256_hex(r->body, r->body_len, hash);
    else
        snprintf(hash, sizeof(hash), "%s", EMPTY_SHA256);
    snprintf(hdr, sizeof(hdr), "x-amz-content-sha256: %s", hash);
    char sigv4[128];
    snprintf(sigv4, sizeof(sigv4), "aws:amz:%s:s3", p->region);
    CURLcode cc = CURLE_OK;
    for (int attempt = 0; attempt < 4; attempt++) {
        CURL *c = curl_easy_init();
        struct curl_slist *h = NULL;
        buf local = { 0 };
        buf *resp = r->resp ? r->resp : &local;
        if (!c)
            return fp_errorf(e, FP_ENOMEM, "%s: s3: out of memory", s->url);
        if (r->sink) {
            rewind(r->sink);
            if (ftruncate(fileno(r->sink), 0) < 0) {}
        }
        resp->n = 0;
        h = curl_slist_append(h, hdr);
        /* No "Expect:" override: curl 7.88 would sign the empty header it then never sends. */
        /* curl 7.88 signs the headers it was given, then adds its default form Content-Type for a
         * request body; the server then sees an unsigned header and rejects the signature. Giving
         * the type ourselves puts it among the signed headers. */
        if (r->body || strcmp(r->method, "GET"))
            h = curl_slist_append(h, "Content-Type: application/octet-stream");
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
        curl_easy_setopt(c, CURLOPT_USERPWD, p->userpwd);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 60L);
        if (r->body || strcmp(r->method, "GET")) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, r->body ? (const char *)r->body : "");
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
        }
        if (!strcmp(r->method, "HEAD"))
            curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, hdr_etag);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, r->etag);
        if (r->sink) {
            curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, (curl_write_callback)fwrite);
            curl_easy_setopt(c, CURLOPT_WRITEDATA, r->sink);
        } else {
            curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, buf_write);
            curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
        }
        cc = curl_easy_perform(c);
        r->status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
        curl_slist_free_all(h);
        curl_easy_cleanup(c);
        int transient = cc != CURLE_OK || r->status >= 500 || r->status == 429;
        if (!transient) {
            if (r->status >= 200 && r->status < 300) {
                free(local.p);
                return 0;
            }
            /* with a sink (GET) the error document went to the file; the status says enough */
            const char *code = resp->p ? strstr(resp->p, "<Code>") : NULL;
            char why[128] = "";
            if (code)
                sscanf(code + 6, "%127[^<]", why);
            int fp = r->status == 404 ? FP_EINPUT : (r->status == 403 || r->status == 401) ? FP_EOUTPUT : FP_EIO;
            fp_errorf(e, fp, "%s: s3: %s %s/%s: HTTP %ld%s%s", s->url, r->method, p->prefix, r->key, r->status,
                      why[0] ? " " : "", why);
            free(local.p);
            return fp;
        }
        free(local.p);
        fp_log(FP_LOG_VERBOSE, "s3", "%s %s: %s (HTTP %ld), retrying", r->method, r->key,
               cc != CURLE_OK ? curl_easy_strerror(cc) : "server error", r->status);
        struct timespec ts = { 0, (long)(100000000L << attempt) };
        nanosleep(&ts, NULL);
    }
    return fp_errorf(e, FP_EIO, "%s: s3: %s %s: %s (HTTP %ld) after 4 tries", s->url, r->method, r->key,
                     cc != CURLE_OK ? curl_easy_strerror(cc) : "server error", r->status);
}

static int s3_open(fp_store *s, const char *rest, fp_err *e)
{
    static int curl_ready;
    s3_priv *p = calloc(1, sizeof(*p));
    if (!p)
        return fp_errorf(e, FP_ENOMEM, "store: out of memory");
    if (!curl_ready) {
        curl_global_init(CURL_GLOBAL_DEFAULT); /* first open happens before worker threads start */
        curl_ready = 1;
    }
    const char *slash = strchr(rest, '/');
    size_t blen = slash ? (size_t)(slash - rest) : strlen(rest);
    if (blen == 0 || blen >= sizeof(p->bucket)) {
        free(p);
        return fp_errorf(e, FP_EINVAL, "%s: store: s3 URL needs a bucket (s3://bucket/prefix)", s->url);
    }
    memcpy(p->bucket, rest, blen);
    snprintf(p->prefix, sizeof(p->prefix), "%s", slash ? slash + 1 : "");
    size_t n = strlen(p->prefix);
    while (n && p->prefix[n - 1] == '/')
        p->prefix[--n] = 0;
    if (p->prefix[0] && !fp_store_key_ok(p->prefix)) {
        free(p);
        return fp_errorf(e, FP_EINVAL, "%s: store: refused prefix (relative, no '..')", s->url);
    }
    const char *region = getenv("AWS_REGION"), *ep = getenv("FP_S3_ENDPOINT");
    const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
    snprintf(p->region, sizeof(p->region), "%s", region && *region ? region : "us-east-1");
    if (ep && *ep)
        snprintf(p->endpoint, sizeof(p->endpoint), "%s", ep);
    else
        snprintf(p->endpoint, sizeof(p->endpoint), "https://s3.%s.amazonaws.com", p->region);
    if (!id || !secret) {
        free(p);
        return fp_errorf(e, FP_EINVAL, "%s: store: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set", s->url);
    }
    snprintf(p->userpwd, sizeof(p->userpwd), "%s:%s", id, secret);
    const char *ps = getenv("FP_S3_PART_SIZE");
    p->part_size = ps && atol(ps) > 0 ? (size_t)atol(ps) : 8u << 20;
    s->priv = p;
    return 0;
}

static void s3_close(fp_store *s)
{
    if (s->priv)
        memset(((s3_priv *)s->priv)->userpwd, 0, sizeof(((s3_priv *)s->priv)->userpwd));
    free(s->priv);
}

static uint8_t *read_part(FILE *f, size_t max, size_t *n)
{
    uint8_t *b = malloc(max ? max : 1);
    if (!b)
        return NULL;
    *n = fread(b, 1, max, f);
    return b;
}

static int s3_multipart(fp_store *s, const char *key, FILE *f, off_t size, fp_err *e)
{
    s3_priv *p = s->priv;
    buf resp = { 0 };
    char upload_id[512] = "", query[1024];
    req r = { "POST", key, "uploads=", NULL, 0, NULL, &resp };
    int ret = s3_do(s, &r, e);
    if (ret < 0)
        goto done;
    const char *u = resp.p ? strstr(resp.p, "<UploadId>") : NULL;
    if (!u || sscanf(u + 10, "%511[^<]", upload_id) != 1) {
        ret = fp_errorf(e, FP_EIO, "%s: s3: initiate multipart %s: no UploadId in the reply", s->url, key);
        goto done;
    }
    int nparts = (int)((size + p->part_size - 1) / p->part_size);
    char (*etags)[128] = calloc(nparts, sizeof(*etags));
    if (!etags) {
        ret = fp_errorf(e, FP_ENOMEM, "%s: s3: out of memory", s->url);
        goto abort;
    }
    for (int i = 0; i < nparts; i++) {
        size_t n = 0;
        uint8_t *part = read_part(f, p->part_size, &n);
        if (!part || (n == 0 && size > 0)) {
            free(part);
            free(etags);
            ret = fp_errorf(e, FP_EINPUT, "%s: s3: cannot read part %d of the local file", s->url, i + 1);
            goto abort;
        }
        /* canonical order: partNumber < uploadId */
        snprintf(query, sizeof(query), "partNumber=%d&uploadId=%s", i + 1, upload_id);
        req pr = { "PUT", key, query, part, n, NULL, NULL };
        ret = s3_do(s, &pr, e);
        free(part);
        if (ret < 0 || !pr.etag[0]) {
            free(etags);
            if (ret == 0)
                ret = fp_errorf(e, FP_EIO, "%s: s3: part %d of %s: no ETag", s->url, i + 1, key);
            goto abort;
        }
        snprintf(etags[i], sizeof(etags[i]), "%s", pr.etag);
    }
    size_t cap = 128 + nparts * 200, len = 0;
    char *xml = malloc(cap);
    if (!xml) {
        free(etags);
        ret = fp_errorf(e, FP_ENOMEM, "%s: s3: out of memory", s->url);
        goto abort;
    }
    len += snprintf(xml + len, cap - len, "<CompleteMultipartUpload>");
    for (int i = 0; i < nparts; i++)
        len += snprintf(xml + len, cap - len, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", i + 1,
                        etags[i]);
    len += snprintf(xml + len, cap - len, "</CompleteMultipartUpload>");
    free(etags);
    snprintf(query, sizeof(query), "uploadId=%s", upload_id);
    resp.n = 0;
    req cr = { "POST", key, query, (const uint8_t *)xml, len, NULL, &resp };
    ret = s3_do(s, &cr, e);
    free(xml);
    /* S3 can answer 200 with an <Error> body for a complete that failed late */
    if (ret == 0 && resp.p && strstr(resp.p, "<Error>"))
        ret = fp_errorf(e, FP_EIO, "%s: s3: complete multipart %s failed: %.200s", s->url, key, resp.p);
    if (ret == 0)
        goto done;
abort: {
        /* abort so the parts do not linger (and cost) on the server */
        snprintf(query, sizeof(query), "uploadId=%s", upload_id);
        req ar = { "DELETE", key, query, NULL, 0, NULL, NULL };
        fp_err ae = { 0 };
        if (s3_do(s, &ar, &ae) < 0)
            fp_log(FP_LOG_WARN, "s3", "abort of multipart upload %s failed: %s", upload_id, ae.msg);
    }
done:
    free(resp.p);
    return ret;
}

static int s3_put(fp_store *s, const char *key, const char *local, fp_err *e)
{
    s3_priv *p = s->priv;
    struct stat st;
    FILE *f = fopen(local, "rb");
    if (!f || fstat(fileno(f), &st) < 0) {
        if (f)
            fclose(f);
        return fp_errorf(e, FP_EINPUT, "%s: store: cannot read: %s", local, strerror(errno));
    }
    int ret;
    if ((size_t)st.st_size > p->part_size) {
        ret = s3_multipart(s, key, f, st.st_size, e);
    } else {
        size_t n = 0;
        uint8_t *body = read_part(f, st.st_size, &n);
        if (!body || n != (size_t)st.st_size)
            ret = fp_errorf(e, FP_EINPUT, "%s: store: short read", local);
        else {
            req r = { "PUT", key, NULL, body, n, NULL, NULL };
            ret = s3_do(s, &r, e);
        }
        free(body);
    }
    fclose(f);
    return ret;
}

static int s3_get(fp_store *s, const char *key, const char *local, fp_err *e)
{
    FILE *f = fopen(local, "w+b");
    if (!f)
        return fp_errorf(e, FP_EIO, "%s: store: cannot create: %s", local, strerror(errno));
    req r = { "GET", key, NULL, NULL, 0, f, NULL };
    int ret = s3_do(s, &r, e);
    if (fclose(f) != 0 && ret == 0)
        ret = fp_errorf(e, FP_EIO, "%s: store: write failed", local);
    if (ret < 0)
        remove(local);
    return ret;
}

static int s3_del(fp_store *s, const char *key, fp_err *e)
{
    req r = { "DELETE", key, NULL, NULL, 0, NULL, NULL };
    int ret = s3_do(s, &r, e);
    return ret == FP_EINPUT ? 0 : ret; /* already gone */
}

const fp_store_backend fp_store_s3 = { "s3", s3_open, s3_close, s3_put, s3_get, s3_del };
