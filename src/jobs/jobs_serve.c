/*
 * jobs_serve — libmicrohttpd server for the job API. See jobs_serve.h.
 *
 * Owns: one queue connection used only by the daemon's single polling thread (no locking needed,
 * requests are served one at a time: a submit plans its input inside the request, which is fine for
 * an API whose work happens on workers). Request bodies are capped at 64 KiB.
 */
#include "jobs/jobs_serve.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "jobs/jobs_queue.h"
#include "jobs/jobs_store.h"
#include "jobs/jobs_spec.h"
#include "jobs/jobs_task.h"
#include "jobs/jobs_worker.h"

#define BODY_MAX (64 * 1024)

struct fp_serve {
    struct MHD_Daemon *d;
    fp_serve_opts o;
    fp_jobq *q;
    int port;
};

typedef struct conn {
    char *body;
    size_t n;
    int too_big;
} conn;

/* ---- path policy ------------------------------------------------------------------------------ */

static int has_dotdot(const char *p)
{
    for (const char *s = p; (s = strstr(s, "..")); s += 2)
        if ((s == p || s[-1] == '/') && (s[2] == 0 || s[2] == '/'))
            return 1;
    return 0;
}

static int under(const char *real, const char *root)
{
    char rr[PATH_MAX];
    if (!realpath(root, rr))
        return 0;
    size_t n = strlen(rr);
    return !strncmp(real, rr, n) && (real[n] == '/' || real[n] == 0 || (n == 1 && rr[0] == '/'));
}

int fp_serve_path_allowed(const char *path, const char *const *roots, int is_output)
{
    char real[PATH_MAX], tmp[PATH_MAX];
    if (!path || !roots || path[0] != '/' || has_dotdot(path) || strlen(path) >= sizeof(tmp))
        return 0;
    if (is_output) {
        snprintf(tmp, sizeof(tmp), "%s", path);
        char *slash = strrchr(tmp, '/');
        if (!slash || !slash[1])
            return 0;
        *slash = 0;
        if (!realpath(tmp[0] ? tmp : "/", real))
            return 0;
    } else if (!realpath(path, real)) {
        return 0;
    }
    for (int i = 0; roots[i]; i++)
        if (under(real, roots[i]))
            return 1;
    return 0;
}

static int bucket_allowed(const char *url, const char *const *buckets)
{
    const char *b = url + 5, *slash = strchr(b, '/');
    size_t n = slash ? (size_t)(slash - b) : strlen(b);
    if (has_dotdot(b))
        return 0;
    for (int i = 0; buckets && buckets[i]; i++)
        if (strlen(buckets[i]) == n && !strncmp(buckets[i], b, n))
            return 1;
    return 0;
}

/* ---- responses ---------------------------------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type, char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Cache-Control", "no-store");
    if (status == 401)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"framepipe\"");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned status, cJSON *j)
{
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!text)
        return MHD_NO;
    return reply(c, status, "application/json", text);
}

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "error", msg);
    return reply_json(c, status, j);
}

static cJSON *job_json(const fp_job_info *j)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)j->id);
    cJSON_AddStringToObject(o, "task", j->task);
    cJSON_AddStringToObject(o, "state", j->state);
    cJSON_AddStringToObject(o, "input", j->input);
    cJSON_AddStringToObject(o, "output", j->output);
    cJSON_AddNumberToObject(o, "chunks", j->n_chunks);
    cJSON_AddNumberToObject(o, "chunks_done", j->n_done);
    cJSON_AddNumberToObject(o, "tasks_queued", j->n_queued);
    cJSON_AddNumberToObject(o, "tasks_running", j->n_running);
    cJSON_AddNumberToObject(o, "tasks_dead", j->n_dead);
    cJSON_AddNumberToObject(o, "created_at", j->created_at);
    if (j->finished_at > 0)
        cJSON_AddNumberToObject(o, "finished_at", j->finished_at);
    if (j->error[0])
        cJSON_AddStringToObject(o, "error", j->error);
    return o;
}

static void task_json(void *opaque, const fp_task_info *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "kind", t->kind);
    cJSON_AddNumberToObject(o, "index", t->idx);
    cJSON_AddStringToObject(o, "state", t->state);
    cJSON_AddNumberToObject(o, "attempt", t->attempt);
    cJSON_AddNumberToObject(o, "progress", t->progress);
    if (t->worker[0])
        cJSON_AddStringToObject(o, "worker", t->worker);
    if (t->error[0])
        cJSON_AddStringToObject(o, "error", t->error);
    cJSON_AddItemToArray((cJSON *)opaque, o);
}

/* ---- handlers ------------------------------------------------------------------------------------ */

static int authorized(fp_serve *s, struct MHD_Connection *c, int allow_query)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    size_t n = strlen(s->o.token);
    if (h && !strncmp(h, "Bearer ", 7) && strlen(h + 7) == n) {
        /* constant-time compare: no early exit on the first differing byte */
        unsigned diff = 0;
        for (size_t i = 0; i < n; i++)
            diff |= (unsigned char)h[7 + i] ^ (unsigned char)s->o.token[i];
        return diff == 0;
    }
    if (allow_query) {
        const char *t = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
        if (t && strlen(t) == n) {
            unsigned diff = 0;
            for (size_t i = 0; i < n; i++)
                diff |= (unsigned char)t[i] ^ (unsigned char)s->o.token[i];
            return diff == 0;
        }
    }
    return 0;
}

static enum MHD_Result submit(fp_serve *s, struct MHD_Connection *c, const conn *cc)
{
    fp_job_spec spec;
    fp_err e = { 0 };
    if (fp_job_spec_parse(&spec, cc->body ? cc->body : "", cc->n, "request body", &e) < 0)
        return reply_error(c, 400, "%s", e.msg);
    enum MHD_Result ret;
    const char *in = fp_store_local_path(spec.input);
    if (!fp_task_find(spec.task)) {
        ret = reply_error(c, 400, "unknown task \"%s\"", spec.task);
        goto done;
    }
    if ((strstr(spec.input, "://") && strncmp(spec.input, "file://", 7)) ||
        !fp_serve_path_allowed(in, s->o.input_roots, 0)) {
        ret = reply_error(c, 403, "%s: input outside the allowed roots (or missing)", spec.input);
        goto done;
    }
    if (!strncmp(spec.output, "s3://", 5) ? !bucket_allowed(spec.output, s->o.buckets)
        : (strstr(spec.output, "://") && strncmp(spec.output, "file://", 7)) ||
              !fp_serve_path_allowed(fp_store_local_path(spec.output), s->o.output_roots, 1)) {
        ret = reply_error(c, 403, "%s: output outside the allowed roots", spec.output);
        goto done;
    }
    if (spec.storage) {
        /* the server decides where chunks go: a client must not point workers at arbitrary places */
        ret = reply_error(c, 403, "\"storage\" is set by the server");
        goto done;
    }
    spec.storage = strdup(s->o.storage);
    int64_t id = 0;
    int r = spec.storage ? fp_jobs_submit(s->o.queue_url, &spec, NULL, &id, &e) : FP_ENOMEM;
    if (r < 0) {
        ret = reply_error(c, r == FP_EINPUT || r == FP_EINVAL || r == FP_EUNSUPPORTED ? 400 : 500, "%s",
                          e.msg[0] ? e.msg : fp_strerror(r));
        goto done;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "id", (double)id);
    ret = reply_json(c, 201, j);
done:
    fp_job_spec_clear(&spec);
    return ret;
}

static void html_escape(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static enum MHD_Result page(fp_serve *s, struct MHD_Connection *c)
{
    fp_job_info *v = NULL;
    int n = 0;
    fp_err e = { 0 };
    fp_jobq_counts qc;
    if (fp_jobq_jobs(s->q, 100, &v, &n, &e) < 0 || fp_jobq_counts_get(s->q, &qc, &e) < 0) {
        free(v);
        return reply_error(c, 503, "%s", e.msg);
    }
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) {
        free(v);
        return MHD_NO;
    }
    fprintf(f, "<!doctype html><html><head><meta charset=utf-8><meta http-equiv=refresh content=5>"
               "<title>framepipe jobs</title><style>body{font:14px sans-serif;margin:2em}"
               "table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #ddd;text-align:left}"
               ".bar{background:#eee;width:160px;height:10px}.bar div{background:#4a8;height:10px}"
               ".failed{color:#b00}</style></head><body><h1>framepipe jobs</h1>");
    double rate = qc.chunk_seconds_count ? qc.chunk_seconds_sum / qc.chunk_seconds_count : 0;
    fprintf(f, "<p>tasks: %lld queued, %lld running, %lld done, %lld dead &middot; workers alive: %lld &middot; "
               "mean chunk time %.2fs</p>", (long long)qc.queued, (long long)qc.running, (long long)qc.done,
            (long long)qc.dead, (long long)qc.workers_alive, rate);
    fprintf(f, "<table><tr><th>job</th><th>task</th><th>state</th><th>chunks</th><th></th><th>input</th>"
               "<th>output</th><th>throughput (frames / busy s, per stage, summed over chunks)</th><th>error</th></tr>");
    for (int i = 0; i < n; i++) {
        int pct = v[i].n_chunks ? 100 * v[i].n_done / v[i].n_chunks : 0;
        fprintf(f, "<tr class=\"%s\"><td>%lld</td><td>", v[i].state, (long long)v[i].id);
        html_escape(f, v[i].task);
        fprintf(f, "</td><td>%s</td><td>%d/%d</td><td><div class=bar><div style=\"width:%d%%\"></div></div></td><td>",
                v[i].state, v[i].n_done, v[i].n_chunks, pct);
        html_escape(f, v[i].input);
        fputs("</td><td>", f);
        html_escape(f, v[i].output);
        fputs("</td><td>", f);
        fp_task_stats ts;
        fp_err se = { 0 };
        if (fp_jobq_stage_stats(s->q, v[i].id, &ts, &se) == 0 && ts.frames > 0) {
            fprintf(f, "%lld frames", (long long)ts.frames);
            const char *names[3] = { "decode", "process", "overall" };
            double secs[3] = { ts.decode_s, ts.process_s, ts.wall_s };
            for (int k = 0; k < 3; k++)
                if (secs[k] > 0)
                    fprintf(f, " &middot; %s %.1f fps", names[k], ts.frames / secs[k]);
        }
        fputs("</td><td>", f);
        html_escape(f, v[i].error);
        fputs("</td></tr>", f);
    }
    fputs("</table></body></html>\n", f);
    fclose(f);
    free(v);
    return reply(c, 200, "text/html; charset=utf-8", text);
}

static enum MHD_Result metrics(fp_serve *s, struct MHD_Connection *c)
{
    fp_jobq_counts qc;
    fp_err e = { 0 };
    if (fp_jobq_counts_get(s->q, &qc, &e) < 0)
        return reply_error(c, 503, "%s", e.msg);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return MHD_NO;
    fprintf(f, "# HELP framepipe_tasks Tasks in the queue by state.\n# TYPE framepipe_tasks gauge\n");
    const struct { const char *name; int64_t v; } t[] = {
        { "queued", qc.queued }, { "running", qc.running }, { "done", qc.done }, { "dead", qc.dead },
        { "cancelled", qc.cancelled } };
    for (size_t i = 0; i < 5; i++)
        fprintf(f, "framepipe_tasks{state=\"%s\"} %lld\n", t[i].name, (long long)t[i].v);
    fprintf(f, "# HELP framepipe_jobs Jobs by state.\n# TYPE framepipe_jobs gauge\n");
    const struct { const char *name; int64_t v; } j[] = {
        { "queued", qc.jobs_queued }, { "running", qc.jobs_running }, { "done", qc.jobs_done },
        { "failed", qc.jobs_failed }, { "cancelled", qc.jobs_cancelled } };
    for (size_t i = 0; i < 5; i++)
        fprintf(f, "framepipe_jobs{state=\"%s\"} %lld\n", j[i].name, (long long)j[i].v);
    fprintf(f, "# HELP framepipe_task_completions_total Task completions recorded (audit table).\n"
               "# TYPE framepipe_task_completions_total counter\nframepipe_task_completions_total %lld\n",
            (long long)qc.completions);
    fprintf(f, "# HELP framepipe_workers_alive Workers that heartbeat or polled within one lease period.\n"
               "# TYPE framepipe_workers_alive gauge\nframepipe_workers_alive %lld\n", (long long)qc.workers_alive);
    fprintf(f, "# HELP framepipe_chunk_seconds Wall time of completed chunk tasks.\n"
               "# TYPE framepipe_chunk_seconds summary\nframepipe_chunk_seconds_sum %.6f\n"
               "framepipe_chunk_seconds_count %lld\n", qc.chunk_seconds_sum, (long long)qc.chunk_seconds_count);
    fclose(f);
    return reply(c, 200, "text/plain; version=0.0.4", text);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    fp_serve *s = cls;
    conn *cc = *con_cls;
    if (!cc) {
        if (!(cc = calloc(1, sizeof(*cc))))
            return MHD_NO;
        *con_cls = cc;
        return MHD_YES;
    }
    if (*upload_size) {
        if (cc->n + *upload_size > BODY_MAX) {
            cc->too_big = 1;
        } else {
            char *nb = realloc(cc->body, cc->n + *upload_size + 1);
            if (!nb)
                return MHD_NO;
            cc->body = nb;
            memcpy(cc->body + cc->n, upload, *upload_size);
            cc->n += *upload_size;
            cc->body[cc->n] = 0;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    int is_get = !strcmp(method, "GET"), is_post = !strcmp(method, "POST");
    if (!authorized(s, c, is_get && !strcmp(url, "/")))
        return reply_error(c, 401, "missing or wrong bearer token");
    if (cc->too_big)
        return reply_error(c, 413, "request body over %d bytes", BODY_MAX);
    if (is_get && !strcmp(url, "/"))
        return page(s, c);
    if (is_get && !strcmp(url, "/metrics"))
        return metrics(s, c);
    if (!strcmp(url, "/api/jobs")) {
        if (is_post)
            return submit(s, c, cc);
        if (!is_get)
            return reply_error(c, 405, "GET or POST");
        fp_job_info *v = NULL;
        int n = 0;
        fp_err e = { 0 };
        if (fp_jobq_jobs(s->q, 100, &v, &n, &e) < 0)
            return reply_error(c, 503, "%s", e.msg);
        cJSON *arr = cJSON_CreateArray();
        for (int i = 0; i < n; i++)
            cJSON_AddItemToArray(arr, job_json(&v[i]));
        free(v);
        return reply_json(c, 200, arr);
    }
    if (!strncmp(url, "/api/jobs/", 10)) {
        char *end;
        long long id = strtoll(url + 10, &end, 10);
        int cancel = !strcmp(end, "/cancel");
        if (id <= 0 || (*end && !cancel))
            return reply_error(c, 404, "no such resource");
        fp_err e = { 0 };
        if (cancel) {
            if (!is_post)
                return reply_error(c, 405, "POST");
            int r = fp_jobq_cancel(s->q, id, &e);
            if (r < 0)
                return reply_error(c, r == FP_EINVAL ? 404 : 503, "%s", e.msg);
        } else if (!is_get) {
            return reply_error(c, 405, "GET");
        }
        fp_job_info j;
        int r = fp_jobq_job(s->q, id, &j, &e);
        if (r < 0)
            return reply_error(c, r == FP_EINVAL ? 404 : 503, "%s", e.msg);
        cJSON *o = job_json(&j), *tasks = cJSON_CreateArray();
        fp_jobq_tasks(s->q, id, task_json, tasks, &e);
        cJSON_AddItemToObject(o, "tasks", tasks);
        return reply_json(c, 200, o);
    }
    return reply_error(c, 404, "no such resource");
}

static void done_cb(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
    conn *cc = *con_cls;
    if (cc) {
        free(cc->body);
        free(cc);
    }
    *con_cls = NULL;
}

int fp_serve_start(fp_serve **out, const fp_serve_opts *o, fp_err *e)
{
    *out = NULL;
    if (!o->token || strlen(o->token) < 8)
        return fp_errorf(e, FP_EINVAL, "serve: a bearer token of at least 8 characters is required");
    if (!o->storage)
        return fp_errorf(e, FP_EINVAL, "serve: chunk storage (--storage) is required");
    fp_serve *s = calloc(1, sizeof(*s));
    if (!s)
        return fp_errorf(e, FP_ENOMEM, "serve: out of memory");
    s->o = *o;
    int ret = fp_jobq_open(&s->q, o->queue_url, NULL, e);
    if (ret < 0) {
        free(s);
        return ret;
    }
    struct sockaddr_in sa = { 0 };
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)o->port);
    if (inet_pton(AF_INET, o->address ? o->address : "127.0.0.1", &sa.sin_addr) != 1) {
        fp_jobq_freep(&s->q);
        free(s);
        return fp_errorf(e, FP_EINVAL, "serve: bad bind address %s", o->address);
    }
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handle, s,
                            MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_NOTIFY_COMPLETED, done_cb, NULL,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (!s->d) {
        fp_jobq_freep(&s->q);
        free(s);
        return fp_errorf(e, FP_EIO, "serve: cannot listen on %s:%d", o->address ? o->address : "127.0.0.1", o->port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : o->port;
    *out = s;
    return 0;
}

int fp_serve_port(const fp_serve *s) { return s->port; }

void fp_serve_stop(fp_serve **ps)
{
    fp_serve *s = ps ? *ps : NULL;
    if (!s)
        return;
    MHD_stop_daemon(s->d);
    fp_jobq_freep(&s->q);
    free(s);
    *ps = NULL;
}
