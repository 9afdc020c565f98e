/*
 * matte_many — files through the jobs queue. See matte_many.h.
 *
 * Each worker thread opens its own queue connection (SQLite connections are not shared between
 * threads) and loops claim -> run -> complete/fail. When a job's only chunk completes, the queue
 * enqueues its aggregate task; the output was already published by the chunk, so aggregation only
 * completes it. The run ends when every job is terminal (counted in-process).
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

#include "core/fp_log.h"
#include "jobs/jobs_queue.h"

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
        if ((ret = fp_jobq_submit(q, "matte", o->inputs[i], m.rows[i].out, "local", "{}", &whole, 1,
                                   &m.rows[i].job_id, e)) < 0)
            goto end;
    }
    fp_jobq_freep(&q);
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
    rmdir(tmpl);
    pthread_mutex_destroy(&m.lock);
    return ret;
}
