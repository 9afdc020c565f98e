/*
 * matte_many — files through the jobs queue. See matte_many.h.
 *
 * Each worker thread opens its own queue connection (SQLite connections are not shared between
 * threads) and loops claim -> run -> complete/fail. When a job's only chunk completes, the queue
 * enqueues its aggregate task; the output was already published by the chunk, so aggregation only
 * completes it. The run ends when every job is terminal (counted in-process).
 *
 * With task_params the files go through the jobs module's own worker loop (fp_worker_run) and the
 * "matte" task instead: planned chunks with warm-up, a file store in the temporary directory, one
 * attempt per chunk (a corrupt file does not get better on retry: its job fails, the others go on),
 * workers that leave when nothing is runnable, and a watcher that turns Ctrl-C (fp_interrupted) into
 * the workers' stop flag (running chunks are released, nothing more is published).
 */
#include "tasks/matte_many.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/fp_log.h"
#include "jobs/jobs_queue.h"
#include "jobs/jobs_worker.h"
#include "pipeline/fp_signals.h"
#include "tasks/matte.h"

typedef struct file_row {
    int64_t job_id;
    char *out;
    int ok;
    int done;
    fp_matte_file_result r;
    fp_err err;
} file_row;

typedef struct many {
    const fp_matte_many_opts *o;
    char url[1100];
    file_row *rows;
    atomic_int finished;
    pthread_mutex_t lock;
    int run_error;
    fp_err run_err;
} many;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int fp_matte_is_many(const char *arg)
{
    struct stat sb;
    return strpbrk(arg, "*?[") != NULL || (stat(arg, &sb) == 0 && S_ISDIR(sb.st_mode));
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void fp_matte_list_free(char ***list, int n)
{
    if (!*list)
        return;
    for (int i = 0; i < n; i++)
        free((*list)[i]);
    free(*list);
    *list = NULL;
}

int fp_matte_list_inputs(const char *arg, char ***out, int *n, fp_err *e)
{
    struct stat sb;
    char **v = NULL;
    int cnt = 0, cap = 0;
    *out = NULL;
    *n = 0;
    if (stat(arg, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(arg);
        struct dirent *de;
        if (!d)
            return fp_errorf(e, FP_EINPUT, "%s: input: cannot read the directory: %s", arg, strerror(errno));
        while ((de = readdir(d))) {
            char *p;
            if (de->d_name[0] == '.')
                continue;
            if (!(p = malloc(strlen(arg) + strlen(de->d_name) + 2)))
                break;
            sprintf(p, "%s/%s", arg, de->d_name);
            if (stat(p, &sb) != 0 || !S_ISREG(sb.st_mode)) {
                free(p);
                continue;
            }
            if (cnt == cap) {
                char **nv = realloc(v, (cap = cap ? 2 * cap : 16) * sizeof(*v));
                if (!nv) {
                    free(p);
                    break;
                }
                v = nv;
            }
            v[cnt++] = p;
        }
        closedir(d);
    } else {
        glob_t g;
        if (glob(arg, 0, NULL, &g) == 0) {
            v = calloc(g.gl_pathc ? g.gl_pathc : 1, sizeof(*v));
            for (size_t i = 0; v && i < g.gl_pathc; i++)
                if (stat(g.gl_pathv[i], &sb) == 0 && S_ISREG(sb.st_mode) && (v[cnt] = strdup(g.gl_pathv[i])))
                    cnt++;
        }
        globfree(&g);
    }
    if (!cnt) {
        free(v);
        return fp_errorf(e, FP_EINPUT, "%s: input: no files", arg);
    }
    qsort(v, cnt, sizeof(*v), cmp_str);
    *out = v;
    *n = cnt;
    return 0;
}

static int row_of(many *m, int64_t job_id)
{
    for (int i = 0; i < m->o->n; i++)
        if (m->rows[i].job_id == job_id)
            return i;
    return -1;
}

static void *worker(void *arg)
{
    void **a = arg;
    many *m = a[0];
    int idx = (int)(intptr_t)a[1];
    const fp_matte_many_opts *o = m->o;
    fp_jobq_opts qo = { .lease_s = 86400, .max_attempts = 1 };
    fp_jobq *q = NULL;
    fp_err e;
    char name[64];
    snprintf(name, sizeof(name), "matte-%d:%d", (int)getpid(), idx);
    fp_err_clear(&e);
    if (fp_jobq_open(&q, m->url, &qo, &e) < 0)
        goto fail;
    while (atomic_load(&m->finished) < o->n) {
        fp_claim c = { 0 };
        int ret = fp_jobq_claim(q, name, &c, &e);
        if (ret == FP_EAGAIN) {
            struct timespec ts = { 0, 20 * 1000000 };
            fp_err_clear(&e);
            nanosleep(&ts, NULL);
            continue;
        }
        if (ret < 0)
            goto fail;
        if (c.kind == FP_TASK_AGGREGATE) {
            /* the chunk published the file; the job is done once this completes */
            int i = row_of(m, c.job_id);
            ret = fp_jobq_complete(q, &c, c.output, &e);
            if (i >= 0) {
                m->rows[i].ok = ret == 0;
                if (ret < 0)
                    m->rows[i].err = e;
                m->rows[i].done = 1;
                atomic_fetch_add(&m->finished, 1);
            }
            fp_claim_clear(&c);
            fp_err_clear(&e);
            continue;
        }
        {
            int i = row_of(m, c.job_id);
            fp_err fe;
            fp_err_clear(&fe);
            ret = i < 0 ? fp_errorf(&fe, FP_EINTERNAL, "queue: unknown job %lld", (long long)c.job_id)
                        : o->run_file(o->opaque, c.input, c.output, idx % (o->devices > 0 ? o->devices : 1),
                                      &m->rows[i].r, &fe);
            if (ret < 0) {
                /* permanent: a corrupt file or a refused combination does not improve on retry */
                fp_jobq_fail(q, &c, 1, fe.code ? fe.msg : fp_strerror(ret), &e);
                fp_err_clear(&e);
                if (i >= 0) {
                    m->rows[i].err = fe;
                    m->rows[i].ok = 0;
                    m->rows[i].done = 1;
                    atomic_fetch_add(&m->finished, 1);
                }
                if (ret == FP_EINTR) {
                    /* Ctrl-C: the remaining files are not started */
                    atomic_store(&m->finished, o->n);
                }
            } else if (fp_jobq_complete(q, &c, c.output, &e) < 0) {
                fp_claim_clear(&c);
                goto fail;
            }
        }
        fp_claim_clear(&c);
    }
    fp_jobq_freep(&q);
    return NULL;
fail:
    pthread_mutex_lock(&m->lock);
    if (!m->run_error) {
        m->run_error = e.code ? e.code : FP_EDB;
        m->run_err = e;
    }
    pthread_mutex_unlock(&m->lock);
    atomic_store(&m->finished, o->n);
    fp_jobq_freep(&q);
    return NULL;
}

char *fp_matte_many_task_params(const fp_matte_opts *mo, const char *mode, const char *bg_hex)
{
    return fp_matte_many_task_params_ex(mo, mode, bg_hex, NULL);
}

char *fp_matte_many_task_params_ex(const fp_matte_opts *mo, const char *mode, const char *bg_hex,
                                   const fp_matte_task_extra *x)
{
    cJSON *j = cJSON_CreateObject();
    char *s;
    if (!j)
        return NULL;
    cJSON_AddStringToObject(j, "model", mo->model ? mo->model : "");
    cJSON_AddStringToObject(j, "backend", mo->backend ? mo->backend : "auto");
    cJSON_AddStringToObject(j, "precision", mo->fp16 < 0 ? "auto" : mo->fp16 ? "fp16" : "fp32");
    cJSON_AddStringToObject(j, "mode", mode ? mode : "rgba");
    if (bg_hex)
        cJSON_AddStringToObject(j, "bg", bg_hex);
    cJSON_AddNumberToObject(j, "downsample_ratio", mo->downsample_ratio);
    cJSON_AddNumberToObject(j, "threads", mo->threads);
    if (x && x->alpha_mode)
        cJSON_AddStringToObject(j, "alpha_mode", x->alpha_mode);
    if (x && x->vcodec)
        cJSON_AddStringToObject(j, "vcodec", x->vcodec);
    if (x && x->pix_fmt)
        cJSON_AddStringToObject(j, "pix_fmt", x->pix_fmt);
    if (x && x->no_audio)
        cJSON_AddTrueToObject(j, "no_audio");
    if (x && x->no_subs)
        cJSON_AddTrueToObject(j, "no_subs");
    s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

typedef struct qworker {
    pthread_t t;
    fp_worker_opts o;
    fp_worker_stats st;
    fp_err e;
    int ret, started;
    atomic_int *left;
} qworker;

static void *qworker_main(void *arg)
{
    qworker *w = arg;
    w->ret = fp_worker_run(&w->o, &w->st, &w->e);
    atomic_fetch_sub(w->left, 1);
    return NULL;
}

typedef struct chunk_count {
    int chunks;
    char workers[64][128];
    int nworkers;
} chunk_count;

/* Chunks of a job and the distinct workers that completed them (the summary shows the spread). */
static void count_chunk(void *opaque, const fp_task_info *t)
{
    chunk_count *c = opaque;
    if (strcmp(t->kind, "chunk"))
        return;
    c->chunks++;
    if (strcmp(t->state, "done"))
        return;
    for (int i = 0; i < c->nworkers; i++)
        if (!strcmp(c->workers[i], t->worker))
            return;
    if (c->nworkers < 64)
        snprintf(c->workers[c->nworkers++], sizeof(c->workers[0]), "%s", t->worker);
}

/* The task_params path: see the file comment. Fills st and writes the report. */
static int run_queued(const fp_matte_many_opts *o, many *m, const char *dir, fp_matte_many_stats *st, fp_err *e)
{
    char store[1100], work[1100];
    fp_jobq_opts qo = { .lease_s = 600, .max_attempts = 1 };
    atomic_int stop = 0, left = 0;
    qworker *w = NULL;
    fp_jobq *q = NULL;
    int ret = 0, submitted = 0, interrupted = 0;
    double t0 = now_s();

    snprintf(store, sizeof(store), "file://%s/store", dir);
    snprintf(work, sizeof(work), "%s/work", dir);
    if (mkdir(work, 0700) != 0)
        return fp_errorf(e, FP_EOUTPUT, "%s: queue: cannot make the work directory: %s", work, strerror(errno));
    /* Plan and submit every file first: a file that cannot be planned (not a video, unreadable) is
     * failed here and the others go on. */
    for (int i = 0; i < o->n; i++) {
        fp_job_spec js = { "matte", (char *)o->inputs[i], m->rows[i].out, store,
                           o->chunk_seconds > 0 ? o->chunk_seconds : 30, o->warmup_frames, (char *)o->task_params };
        fp_err fe;
        fp_err_clear(&fe);
        int r = fp_jobs_submit(m->url, &js, &qo, &m->rows[i].job_id, &fe);
        if (r == FP_EDB || r == FP_ENOMEM) {
            ret = fp_errorf(e, r, "%s", fe.msg);
            goto end;
        }
        if (r < 0) {
            m->rows[i].job_id = 0;
            m->rows[i].err = fe;
            m->rows[i].done = 1;
        } else
            submitted++;
    }
    if (submitted) {
        if (!(w = calloc(o->workers, sizeof(*w)))) {
            ret = fp_errorf(e, FP_ENOMEM, "matte: out of memory");
            goto end;
        }
        for (int i = 0; i < o->workers; i++) {
            w[i].o = (fp_worker_opts){ .queue_url = m->url, .workdir = work, .poll_s = 0.05, .beat_s = 5,
                                       .qopts = qo, .exit_when_idle = 1, .stop = &stop, .has_gpu = 1,
                                       .gpu = i % (o->devices > 0 ? o->devices : 1), .grace_s = 1e-6 };
            w[i].left = &left;
            atomic_fetch_add(&left, 1);
            if (pthread_create(&w[i].t, NULL, qworker_main, &w[i]) == 0)
                w[i].started = 1;
            else
                atomic_fetch_sub(&left, 1);
        }
        /* Ctrl-C (fp_signals, installed by the command) becomes the workers' stop flag. */
        while (atomic_load(&left) > 0) {
            struct timespec ts = { 0, 50 * 1000000 };
            if (!interrupted && fp_interrupted()) {
                interrupted = 1;
                atomic_store(&stop, 1);
            }
            nanosleep(&ts, NULL);
        }
        for (int i = 0; i < o->workers; i++)
            if (w[i].started) {
                pthread_join(w[i].t, NULL);
                if (w[i].ret < 0 && !ret)
                    ret = fp_errorf(e, w[i].ret, "%s", w[i].e.msg);
            }
    }
    if (ret < 0)
        goto end;
    if ((ret = fp_jobq_open(&q, m->url, &qo, e)) < 0)
        goto end;
    st->seconds = now_s() - t0;
    for (int i = 0; i < o->n; i++) {
        file_row *r = &m->rows[i];
        fp_job_info info;
        fp_task_stats ts = { 0 };
        chunk_count cc;
        fp_err qe;
        fp_err_clear(&qe);
        memset(&cc, 0, sizeof(cc));
        if (!r->job_id) {
            st->failed++;
            if (!st->first_error)
                st->first_error = r->err.code ? r->err.code : FP_EINPUT;
            fprintf(o->report, "FAILED  %s: %s\n", o->inputs[i], r->err.msg);
            continue;
        }
        if ((ret = fp_jobq_job(q, r->job_id, &info, e)) < 0 || (ret = fp_jobq_stage_stats(q, r->job_id, &ts, e)) < 0 ||
            (ret = fp_jobq_tasks(q, r->job_id, count_chunk, &cc, e)) < 0)
            goto end;
        if (!strcmp(info.state, "done")) {
            st->ok++;
            st->frames += ts.frames;
            fprintf(o->report, "ok      %s -> %s: %lld frames in %d chunk(s) on %d worker(s), %.2f s of chunk work, %.2f fps\n",
                    o->inputs[i], r->out, (long long)ts.frames, cc.chunks, cc.nworkers, ts.wall_s,
                    ts.wall_s > 0 ? ts.frames / ts.wall_s : 0);
        } else {
            st->failed++;
            if (!st->first_error)
                st->first_error = interrupted ? FP_EINTR : FP_EINPUT;
            if (!strcmp(info.state, "failed"))
                fprintf(o->report, "FAILED  %s: %s\n", o->inputs[i], info.error);
            else
                fprintf(o->report, "FAILED  %s: not finished (%s, %d of %d chunks done)%s\n", o->inputs[i], info.state,
                        info.n_done, info.n_chunks, interrupted ? ": interrupted" : "");
        }
    }
    fprintf(o->report, "matte: %d files: %d ok, %d failed; %lld frames in %.2f s (%.2f fps overall), %d worker(s)\n",
            o->n, st->ok, st->failed, (long long)st->frames, st->seconds,
            st->seconds > 0 ? st->frames / st->seconds : 0, o->workers);
    ret = 0;
end:
    fp_jobq_freep(&q);
    free(w);
    return ret;
}

int fp_matte_many_run(const fp_matte_many_opts *o, fp_matte_many_stats *st, fp_err *e)
{
    char tmpl[] = "/tmp/fp-matte-queue-XXXXXX", dbp[1100];
    many m;
    fp_jobq *q = NULL;
    pthread_t *th = NULL;
    void *(*args)[2] = NULL;
    int ret = 0, started = 0;
    double t0 = now_s();
    struct stat sb;

    memset(st, 0, sizeof(*st));
    memset(&m, 0, sizeof(m));
    m.o = o;
    pthread_mutex_init(&m.lock, NULL);
    if (stat(o->outdir, &sb) != 0 && mkdir(o->outdir, 0777) != 0)
        return fp_errorf(e, FP_EOUTPUT, "%s: output: cannot create the directory: %s", o->outdir, strerror(errno));
    if (!mkdtemp(tmpl))
        return fp_errorf(e, FP_EOUTPUT, "%s: queue: cannot make a temporary directory: %s", tmpl, strerror(errno));
    snprintf(dbp, sizeof(dbp), "%s/queue.db", tmpl);
    snprintf(m.url, sizeof(m.url), "sqlite:%s", dbp);
    m.rows = calloc(o->n, sizeof(*m.rows));
    th = calloc(o->workers, sizeof(*th));
    args = calloc(o->workers, sizeof(*args));
    if (!m.rows || !th || !args) {
        ret = fp_errorf(e, FP_ENOMEM, "matte: out of memory");
        goto end;
    }
    {
        fp_jobq_opts qo = { .lease_s = 86400, .max_attempts = 1 };
        if ((ret = fp_jobq_open(&q, m.url, &qo, e)) < 0)
            goto end;
    }
    for (int i = 0; i < o->n; i++) {
        const char *base = strrchr(o->inputs[i], '/'), *dot;
        fp_chunk whole = { .start_pts = INT64_MIN, .end_pts = INT64_MAX, .warmup_pts = INT64_MIN, .nframes = 0 };
        size_t len;
        base = base ? base + 1 : o->inputs[i];
        dot = strrchr(base, '.');
        len = dot && dot != base ? (size_t)(dot - base) : strlen(base);
        if (!(m.rows[i].out = malloc(strlen(o->outdir) + len + strlen(o->ext) + 3))) {
            ret = fp_errorf(e, FP_ENOMEM, "matte: out of memory");
            goto end;
        }
        sprintf(m.rows[i].out, "%s/%.*s.%s", o->outdir, (int)len, base, o->ext);
        if (o->task_params)
            continue; /* planned and submitted by run_queued */
        if ((ret = fp_jobq_submit(q, "matte", o->inputs[i], m.rows[i].out, "local", "{}", &whole, 1,
                                   &m.rows[i].job_id, e)) < 0)
            goto end;
    }
    fp_jobq_freep(&q);
    if (o->task_params) {
        ret = run_queued(o, &m, tmpl, st, e);
        goto end;
    }
    for (; started < o->workers; started++) {
        args[started][0] = &m;
        args[started][1] = (void *)(intptr_t)started;
        if (pthread_create(&th[started], NULL, worker, args[started]) != 0)
            break;
    }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    if (!started)
        ret = fp_errorf(e, FP_ENOMEM, "matte: cannot start a worker thread");
    else if (m.run_error)
        ret = fp_errorf(e, m.run_error, "%s", m.run_err.msg[0] ? m.run_err.msg : "queue: worker failed");

    st->seconds = now_s() - t0;
    for (int i = 0; i < o->n; i++) {
        file_row *r = &m.rows[i];
        if (r->ok) {
            st->ok++;
            st->frames += r->r.frames;
            fprintf(o->report, "ok      %s -> %s: %lld frames, %.2f s, %.2f fps\n", o->inputs[i], r->out,
                    (long long)r->r.frames, r->r.seconds, r->r.seconds > 0 ? r->r.frames / r->r.seconds : 0);
        } else {
            st->failed++;
            if (!st->first_error)
                st->first_error = r->err.code ? r->err.code : FP_EINTERNAL;
            fprintf(o->report, "FAILED  %s: %s\n", o->inputs[i],
                    r->done ? (r->err.code ? r->err.msg : "failed") : "not run (interrupted or queue error)");
        }
    }
    fprintf(o->report, "matte: %d files: %d ok, %d failed; %lld frames in %.2f s (%.2f fps overall), %d worker(s)\n",
            o->n, st->ok, st->failed, (long long)st->frames, st->seconds,
            st->seconds > 0 ? st->frames / st->seconds : 0, o->workers);
end:
    fp_jobq_freep(&q);
    if (m.rows)
        for (int i = 0; i < o->n; i++)
            free(m.rows[i].out);
    free(m.rows);
    free(th);
    free(args);
    unlink(dbp);
    {
        /* SQLite's side files (-wal, -shm, -journal) */
        static const char *const sfx[] = { "-wal", "-shm", "-journal" };
        for (int i = 0; i < 3; i++) {
            char p[1200];
            snprintf(p, sizeof(p), "%s%s", dbp, sfx[i]);
            unlink(p);
        }
    }
    if (o->task_params) {
        /* the file store and work directory too; our own mkdtemp name, no shell metacharacters */
        char cmd[1200];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpl);
        if (system(cmd) != 0)
            fp_log(FP_LOG_WARN, "matte", "%s: could not remove the temporary directory", tmpl);
    }
    rmdir(tmpl);
    pthread_mutex_destroy(&m.lock);
    return ret;
}
