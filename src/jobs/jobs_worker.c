/*
 * jobs_worker — claim, heartbeat, run, upload, complete. See jobs_worker.h.
 *
 * Owns: the per-task sequence and its failure policy. Permanent failures (the task is dead at once):
 * unknown task, malformed spec, input missing at claim time, unsupported combination. Everything
 * else is retried by the queue with backoff. A lost lease stops the task and writes nothing: the
 * next attempt owns the chunk.
 *
 * Fault injection for the reliability tests: FP_JOBS_FAULT_SLEEP_MS=N sleeps a random 0..N ms at
 * each step boundary (after claim, after the work, after the upload), widening the windows in which a
 * SIGKILL or SIGSTOP lands; "=N" sleeps exactly N ms (deterministic windows for the zombie test).
 * It changes timing only, never results.
 */
#include "jobs/jobs_worker.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/fp_log.h"
#include "jobs/jobs_plan.h"
#include "jobs/jobs_store.h"
#include "jobs/jobs_task.h"

static void sleep_s(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static void fault_sleep(unsigned *seed)
{
    /* Read at every step, not cached: a test process that ran tasks itself before forking its
     * workers (reference runs) would otherwise hand them its cached "no sleep" (the zombie test's
     * stop then raced a worker that never paused, and lost under load). */
    const char *v = getenv("FP_JOBS_FAULT_SLEEP_MS");
    int fixed = v && v[0] == '=', ms = v ? atoi(v + fixed) : 0;
    if (ms > 0)
        sleep_s((fixed ? ms : rand_r(seed) % ms) / 1000.0);
}

typedef struct beat {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int quit;
    fp_jobq *q;
    const fp_claim *c;
    double interval;
    atomic_int stop;  /* tells the task to stop */
    atomic_int lost;  /* the lease is gone */
    atomic_int release; /* shutting down and the task would overrun the grace period: give it back */
    _Atomic double progress;
    atomic_int *shutdown; /* the worker's stop flag (SIGTERM) */
    double grace_s, started, shutdown_at;
} beat;

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Shutdown policy, checked by the heartbeat thread: finish when the task's own progress says it
 * ends within what is left of the grace period, else release. Without progress yet (0) the
 * estimate is unknown, so the task gets the grace period and is released when it runs out. */
static void check_shutdown(beat *b, double now)
{
    if (!b->shutdown || !atomic_load(b->shutdown) || atomic_load(&b->release) || b->grace_s < 0)
        return;
    if (b->shutdown_at == 0)
        b->shutdown_at = now;
    double left = b->grace_s - (now - b->shutdown_at), p = atomic_load(&b->progress);
    double need = p > 0 && p < 1 ? (now - b->started) * (1 - p) / p : p >= 1 ? 0 : left + 1;
    if (left <= 0 || (p > 0 && need > left)) {
        fp_log(FP_LOG_INFO, "worker", "job %lld chunk %d: shutting down, %s; releasing it", (long long)b->c->job_id,
               b->c->idx, left <= 0 ? "grace period over" : "it would not finish within the grace period");
        atomic_store(&b->release, 1);
        atomic_store(&b->stop, 1);
    }
}

static void *beat_main(void *arg)
{
    beat *b = arg;
    double next = mono_now() + b->interval;
    pthread_mutex_lock(&b->lock);
    while (!b->quit) {
        /* Wake at least every 100 ms to see a shutdown request; beat every interval. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double wait = next - mono_now();
        double t = ts.tv_sec + ts.tv_nsec / 1e9 + (wait < 0.1 ? (wait > 0 ? wait : 0) : 0.1);
        ts.tv_sec = (time_t)t;
        ts.tv_nsec = (long)((t - (time_t)t) * 1e9);
        pthread_cond_timedwait(&b->cond, &b->lock, &ts);
        if (b->quit)
            break;
        double now = mono_now();
        check_shutdown(b, now);
        if (now < next)
            continue;
        next = now + b->interval;
        pthread_mutex_unlock(&b->lock);
        fp_err e = { 0 };
        int ret = fp_jobq_heartbeat(b->q, b->c, atomic_load(&b->progress), &e);
        if (ret == FP_ELOST) {
            fp_log(FP_LOG_WARN, "worker", "%s; stopping this attempt", e.msg);
            atomic_store(&b->lost, 1);
            atomic_store(&b->stop, 1);
        } else if (ret < 0) {
            /* The database is unreachable: keep working and keep trying. If the lease runs out
             * meanwhile, the fenced complete refuses this attempt's result. */
            fp_log(FP_LOG_WARN, "worker", "heartbeat: %s", e.msg);
        }
        pthread_mutex_lock(&b->lock);
    }
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

static int beat_start(beat *b, fp_jobq *q, const fp_claim *c, double interval, atomic_int *shutdown,
                      double grace_s)
{
    memset(b, 0, sizeof(*b));
    b->q = q;
    b->c = c;
    b->interval = interval;
    b->shutdown = shutdown;
    b->grace_s = grace_s;
    b->started = mono_now();
    pthread_mutex_init(&b->lock, NULL);
    pthread_cond_init(&b->cond, NULL);
    if (pthread_create(&b->thread, NULL, beat_main, b)) {
        pthread_mutex_destroy(&b->lock);
        pthread_cond_destroy(&b->cond);
        return FP_ENOMEM;
    }
    return 0;
}

static void beat_stop(beat *b)
{
    pthread_mutex_lock(&b->lock);
    b->quit = 1;
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->lock);
    pthread_join(b->thread, NULL);
    pthread_mutex_destroy(&b->lock);
    pthread_cond_destroy(&b->cond);
}

static const char *ext_of(const char *path)
{
    const char *slash = strrchr(path, '/'), *dot = strrchr(path, '.');
    return dot && (!slash || dot > slash) && dot[1] ? dot + 1 : "out";
}

/* Run one claimed task. Returns 0 or the task's error (already recorded in the queue unless it is
 * FP_ELOST or the queue itself failed). */
static int run_task(fp_jobq *q, fp_jobq *hbq, const fp_worker_opts *o, const char *workdir, fp_claim *c,
                    fp_worker_stats *st, unsigned *seed)
{
    fp_err e = { 0 };
    fp_job_spec spec = { 0 };
    fp_store *store = NULL;
    const fp_task_desc *td = fp_task_find(c->task);
    char out[PATH_MAX], key[600];
    char **keys = NULL, **locals = NULL;
    int nkeys = 0, permanent = 0, ret = 0, have_beat = 0;
    beat b;
    fp_task_stats tstats = { 0 };
    memset(&b, 0, sizeof(b));
    out[0] = 0;
    key[0] = 0;

    fault_sleep(seed);
    if (!td) {
        ret = fp_errorf(&e, FP_EINVAL, "job %lld: unknown task \"%s\"", (long long)c->job_id, c->task);
        permanent = 1;
        goto fail;
    }
    if ((ret = fp_job_spec_parse(&spec, c->spec, strlen(c->spec), "queue", &e)) < 0) {
        permanent = 1;
        goto fail;
    }
    const char *input = fp_store_local_path(c->input);
    if (access(input, R_OK) < 0) {
        ret = fp_errorf(&e, FP_EINPUT, "%s: claim: input missing or unreadable: %s", input, strerror(errno));
        permanent = 1;
        goto fail;
    }
    if ((ret = fp_store_open(&store, c->storage, &e)) < 0) {
        permanent = ret == FP_EINVAL || ret == FP_EUNSUPPORTED;
        goto fail;
    }
    if ((ret = beat_start(&b, hbq, c, o->beat_s, o->stop, o->grace_s)) < 0) {
        fp_errorf(&e, ret, "worker: cannot start heartbeat thread");
        goto fail;
    }
    have_beat = 1;
    fp_task_ctx ctx = { input, spec.params, c->kind == FP_TASK_CHUNK ? &c->chunk : NULL, &b.stop, &b.progress,
                       o->has_gpu ? o->gpu : -1, &tstats };

    if (c->kind == FP_TASK_CHUNK) {
        const char *cext = td->chunk_ext ? td->chunk_ext : ext_of(fp_store_local_path(c->output));
        snprintf(out, sizeof(out), "%s/fp-j%lld-c%d-a%d.%s", workdir, (long long)c->job_id, c->idx, c->attempt, cext);
        /* Each attempt writes its own key; only the completing attempt's key is recorded. */
        snprintf(key, sizeof(key), "jobs/%lld/chunk-%05d-a%d.%s", (long long)c->job_id, c->idx, c->attempt, cext);
        if ((ret = td->run_chunk(&ctx, out, &e)) < 0)
            goto fail;
        fault_sleep(seed);
        if ((ret = fp_store_put_file(store, key, out, &e)) < 0)
            goto fail;
        fault_sleep(seed);
    } else {
        if ((ret = fp_jobq_chunk_keys(q, c->job_id, &keys, &nkeys, &e)) < 0)
            goto fail;
        if (!(locals = calloc(nkeys + 1, sizeof(char *)))) {
            ret = fp_errorf(&e, FP_ENOMEM, "worker: out of memory");
            goto fail;
        }
        for (int i = 0; i < nkeys; i++) {
            char tmp[PATH_MAX];
            snprintf(tmp, sizeof(tmp), "%s/fp-j%lld-a%d-in%05d.%s", workdir, (long long)c->job_id, c->attempt, i,
                     ext_of(keys[i]));
            if (!(locals[i] = strdup(tmp))) {
                ret = fp_errorf(&e, FP_ENOMEM, "worker: out of memory");
                goto fail;
            }
            if ((ret = fp_store_get_file(store, keys[i], locals[i], &e)) < 0)
                goto fail;
            if (atomic_load(&b.stop)) {
                ret = fp_errorf(&e, FP_EINTR, "worker: stopped");
                goto fail;
            }
        }
        snprintf(out, sizeof(out), "%s/fp-j%lld-out-a%d.%s", workdir, (long long)c->job_id, c->attempt,
                 ext_of(fp_store_local_path(c->output)));
        if ((ret = td->aggregate(&ctx, (const char *const *)locals, nkeys, out, &e)) < 0)
            goto fail;
        fault_sleep(seed);
        if (atomic_load(&b.stop)) {
            ret = fp_errorf(&e, FP_EINTR, "worker: stopped");
            goto fail;
        }
        /* Publish, then complete. A superseded aggregate attempt can publish the same bytes again
         * (aggregation is deterministic) but can never mark the job done. */
        if ((ret = fp_store_publish(c->output, out, &e)) < 0) {
            permanent = ret == FP_EUNSUPPORTED || ret == FP_EINVAL;
            goto fail;
        }
        snprintf(key, sizeof(key), "%s", c->output);
    }
    beat_stop(&b);
    have_beat = 0;
    if (atomic_load(&b.lost)) {
        ret = FP_ELOST;
        goto lost;
    }
    if ((ret = fp_jobq_complete_stats(q, c, key, c->kind == FP_TASK_CHUNK ? &tstats : NULL, &e)) < 0) {
        if (ret == FP_ELOST)
            goto lost;
        fp_log(FP_LOG_ERROR, "worker", "%s", e.msg);
        goto cleanup;
    }
    st->completed++;
    fp_log(FP_LOG_VERBOSE, "worker", "job %lld %s %d attempt %d done", (long long)c->job_id,
           c->kind == FP_TASK_CHUNK ? "chunk" : "aggregate", c->idx, c->attempt);
    goto cleanup;

lost:
    st->lost++;
    fp_log(FP_LOG_WARN, "worker", "job %lld chunk %d attempt %d: lease lost, result discarded", (long long)c->job_id,
           c->idx, c->attempt);
    if (c->kind == FP_TASK_CHUNK && store && key[0]) {
        fp_err ign = { 0 };
        fp_store_delete(store, key, &ign);
    }
    goto cleanup;

fail:
    if (have_beat) {
        beat_stop(&b);
        have_beat = 0;
        if (atomic_load(&b.lost)) {
            ret = FP_ELOST;
            goto lost;
        }
    }
    if (c->kind == FP_TASK_CHUNK && store && key[0]) {
        fp_err ign = { 0 };
        fp_store_delete(store, key, &ign);
    }
    if (atomic_load(&b.release) && ret == FP_EINTR) {
        fp_err re = { 0 };
        int rr = fp_jobq_release(q, c, &re);
        if (rr < 0) {
            /* Not released: the lease expires and the reaper requeues it, as after a kill. */
            fp_log(FP_LOG_WARN, "worker", "%s", re.msg);
        } else {
            st->released++;
            fp_log(FP_LOG_INFO, "worker", "job %lld %s %d attempt %d released", (long long)c->job_id,
                   c->kind == FP_TASK_CHUNK ? "chunk" : "aggregate", c->idx, c->attempt);
        }
        goto cleanup;
    }
    {
        fp_err fe = { 0 };
        int fr = fp_jobq_fail(q, c, permanent, e.msg[0] ? e.msg : fp_strerror(ret), &fe);
        fp_log(FP_LOG_WARN, "worker", "job %lld %s %d attempt %d failed%s: %s", (long long)c->job_id,
               c->kind == FP_TASK_CHUNK ? "chunk" : "aggregate", c->idx, c->attempt, permanent ? " (permanent)" : "",
               e.msg);
        if (fr < 0 && fr != FP_ELOST)
            fp_log(FP_LOG_ERROR, "worker", "%s", fe.msg);
    }
    st->failed++;

cleanup:
    if (out[0])
        unlink(out);
    for (int i = 0; locals && i < nkeys; i++)
        if (locals[i]) {
            unlink(locals[i]);
            free(locals[i]);
        }
    free(locals);
    fp_jobq_keys_free(&keys, nkeys);
    fp_store_freep(&store);
    fp_job_spec_clear(&spec);
    return ret;
}

static int job_finished(fp_jobq *q, int64_t id)
{
    fp_job_info info;
    fp_err e = { 0 };
    if (fp_jobq_job(q, id, &info, &e) < 0)
        return 1;
    return strcmp(info.state, "queued") && strcmp(info.state, "running");
}

int fp_worker_run(const fp_worker_opts *o, fp_worker_stats *stats, fp_err *e)
{
    static atomic_int counter;
    fp_worker_stats local = { 0 };
    fp_worker_stats *st = stats ? stats : &local;
    fp_jobq *q = NULL, *hbq = NULL;
    fp_worker_opts opts = *o;
    char name[256], host[128] = "localhost";
    unsigned seed;
    if (opts.poll_s <= 0)
        opts.poll_s = 1;
    if (opts.beat_s <= 0)
        opts.beat_s = 10;
    if (opts.grace_s == 0)
        opts.grace_s = 30;
    const char *workdir = opts.workdir ? opts.workdir : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    gethostname(host, sizeof(host) - 1);
    if (opts.name)
        snprintf(name, sizeof(name), "%s", opts.name);
    else
        snprintf(name, sizeof(name), "%s:%ld:%d", host, (long)getpid(), atomic_fetch_add(&counter, 1));
    seed = (unsigned)time(NULL) ^ (unsigned)getpid() ^ (unsigned)(uintptr_t)&seed;

    int ret = fp_jobq_open(&q, opts.queue_url, &opts.qopts, e);
    /* The heartbeat has its own connection: a libpq connection is not shared between threads. */
    if (ret == 0)
        ret = fp_jobq_open(&hbq, opts.queue_url, &opts.qopts, e);
    if (ret < 0)
        goto done;
    fp_log(FP_LOG_INFO, "worker", "%s: polling %s", name, opts.queue_url);
    while (!(opts.stop && atomic_load(opts.stop))) {
        fp_claim c;
        fp_err ce = { 0 };
        if (opts.until_job > 0 && job_finished(q, opts.until_job))
            break;
        ret = fp_jobq_claim(q, name, &c, &ce);
        if (ret == FP_EAGAIN) {
            ret = 0;
            if (opts.exit_when_idle)
                break;
            fp_err ie = { 0 };
            fp_jobq_worker_seen(q, name, 0, &ie);
            /* Poll with jitter; on PostgreSQL a NOTIFY ends the wait early (plus a little jitter
             * so woken workers do not all claim at the same instant). */
            if (fp_jobq_wait(q, opts.poll_s * (0.5 + rand_r(&seed) / (double)RAND_MAX)))
                sleep_s(0.02 * rand_r(&seed) / (double)RAND_MAX);
            continue;
        }
        if (ret < 0) {
            /* Retries inside the queue already rode out a minute of outage: give up loudly. */
            fp_errorf(e, ret, "%s", ce.msg);
            goto done;
        }
        st->claimed++;
        fp_err ie = { 0 };
        fp_jobq_worker_seen(q, name, c.task_id, &ie);
        run_task(q, hbq, &opts, workdir, &c, st, &seed);
        fp_claim_clear(&c);
    }
    ret = 0;
done:
    fp_jobq_freep(&hbq);
    fp_jobq_freep(&q);
    return ret;
}

static char *abs_path(const char *p)
{
    if (strstr(p, "://"))
        return strdup(p);
    if (p[0] == '/')
        return strdup(p);
    char cwd[PATH_MAX], *out;
    if (!getcwd(cwd, sizeof(cwd)))
        return NULL;
    size_t n = strlen(cwd) + strlen(p) + 2;
    if ((out = malloc(n)))
        snprintf(out, n, "%s/%s", cwd, p);
    return out;
}

int fp_jobs_submit(const char *queue_url, const fp_job_spec *in, const fp_jobq_opts *qopts, int64_t *job_id,
                   fp_err *e)
{
    fp_job_spec spec = *in;
    fp_plan plan = { 0 };
    fp_jobq *q = NULL;
    char *json = NULL, *input = NULL, *output = NULL, *storage = NULL;
    int ret;
    *job_id = 0;
    const fp_task_desc *td = fp_task_find(in->task);
    if (!td)
        return fp_errorf(e, FP_EINVAL, "submit: unknown task \"%s\" (see framepipe submit --help)", in->task);
    if (!in->storage)
        return fp_errorf(e, FP_EINVAL, "submit: no chunk storage given (--storage file:///dir or s3://bucket)");
    if (fp_store_url_supported(in->storage, e) < 0 || fp_store_url_supported(in->output, e) < 0)
        return e->code;
    if (strncmp(in->input, "file://", 7) && strstr(in->input, "://"))
        return fp_errorf(e, FP_EUNSUPPORTED, "%s: submit: only local inputs are supported", in->input);
    input = abs_path(fp_store_local_path(in->input));
    output = abs_path(in->output);
    storage = strdup(in->storage);
    if (!input || !output || !storage) {
        ret = fp_errorf(e, FP_ENOMEM, "submit: out of memory");
        goto done;
    }
    spec.input = input;
    spec.output = output;
    spec.storage = storage;
    if ((ret = fp_plan_make(input, spec.chunk_seconds, spec.warmup_frames >= 0 ? spec.warmup_frames : td->warmup_frames,
                            &plan, e)) < 0)
        goto done;
    if (!(json = fp_job_spec_json(&spec))) {
        ret = fp_errorf(e, FP_ENOMEM, "submit: out of memory");
        goto done;
    }
    if ((ret = fp_jobq_open(&q, queue_url, qopts, e)) < 0)
        goto done;
    ret = fp_jobq_submit(q, spec.task, input, output, storage, json, plan.chunks, plan.nchunks, job_id, e);
    if (ret == 0)
        fp_log(FP_LOG_VERBOSE, "submit", "job %lld: %d chunks, %lld frames", (long long)*job_id, plan.nchunks,
               (long long)plan.nframes);
done:
    fp_jobq_freep(&q);
    fp_plan_clear(&plan);
    free(json);
    free(input);
    free(output);
    free(storage);
    return ret;
}

typedef struct local_worker {
    pthread_t t;
    fp_worker_opts o;
    fp_err e;
    int ret;
} local_worker;

static void *local_main(void *arg)
{
    local_worker *w = arg;
    w->ret = fp_worker_run(&w->o, NULL, &w->e);
    return NULL;
}

static void rm_tree(const char *dir)
{
    char cmd[PATH_MAX + 32];
    /* Our own mkdtemp directory only; the name comes from mkdtemp, no shell metacharacters. */
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fp_log(FP_LOG_WARN, "jobs", "%s: could not remove temporary directory", dir);
}

int fp_jobs_run_local(const fp_job_spec *in, int nworkers, fp_err *e)
{
    fp_local_opts lo = { nworkers, NULL };
    return fp_jobs_run_local_ex(in, &lo, NULL, e);
}

int fp_jobs_run_local_ex(const fp_job_spec *in, const fp_local_opts *lo, fp_local_stats *st, fp_err *e)
{
    char dir[PATH_MAX], url[PATH_MAX + 16], store[PATH_MAX + 16], work[PATH_MAX + 8];
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    double t0 = mono_now();
    int nworkers = lo->workers < 1 ? 1 : lo->workers;
    if (st)
        memset(st, 0, sizeof(*st));
    snprintf(dir, sizeof(dir), "%s/framepipe-chunks-XXXXXX", tmp);
    if (!mkdtemp(dir))
        return fp_errorf(e, FP_EIO, "%s: chunks: cannot create temporary directory: %s", tmp, strerror(errno));
    snprintf(url, sizeof(url), "sqlite:%s/queue.db", dir);
    snprintf(store, sizeof(store), "file://%s/store", dir);
    snprintf(work, sizeof(work), "%s/work", dir);
    mkdir(work, 0700);
    fp_job_spec spec = *in;
    spec.storage = store;
    int64_t job = 0;
    fp_jobq_opts qo = { .lease_s = 60, .max_attempts = 3, .backoff_base_s = 0.5, .backoff_max_s = 10 };
    int ret = fp_jobs_submit(url, &spec, &qo, &job, e);
    if (ret < 0)
        goto done;
    local_worker *w = calloc(nworkers, sizeof(*w));
    if (!w) {
        ret = fp_errorf(e, FP_ENOMEM, "chunks: out of memory");
        goto done;
    }
    int started = 0;
    for (int i = 0; i < nworkers; i++) {
        /* A stop (Ctrl-C) releases the running chunks at once: grace is the smallest positive time,
         * the aggregate is not published (it checks the stop flag before publishing). */
        w[i].o = (fp_worker_opts){ .queue_url = url, .workdir = work, .poll_s = 0.2, .beat_s = 10, .qopts = qo,
                                   .until_job = job, .stop = lo->stop, .grace_s = 1e-6 };
        if (pthread_create(&w[i].t, NULL, local_main, &w[i]) == 0)
            started++;
        else
            w[i].ret = 1;
    }
    for (int i = 0; i < nworkers; i++)
        if (w[i].ret != 1)
            pthread_join(w[i].t, NULL);
    for (int i = 0; i < nworkers; i++)
        if (w[i].ret < 0 && w[i].ret != 1) {
            ret = fp_errorf(e, w[i].ret, "%s", w[i].e.msg);
            break;
        }
    free(w);
    if (ret == 0 && !started)
        ret = fp_errorf(e, FP_ENOMEM, "chunks: cannot start worker threads");
    if (ret == 0) {
        fp_jobq *q = NULL;
        fp_job_info info;
        fp_task_stats ts = { 0 };
        ret = fp_jobq_open(&q, url, &qo, e);
        if (ret == 0)
            ret = fp_jobq_job(q, job, &info, e);
        if (ret == 0 && st && fp_jobq_stage_stats(q, job, &ts, e) == 0) {
            st->chunks = info.n_chunks;
            st->frames = ts.frames;
        }
        fp_jobq_freep(&q);
        if (ret == 0 && !strcmp(info.state, "done"))
            ;
        else if (ret == 0 && lo->stop && atomic_load(lo->stop))
            ret = fp_errorf(e, FP_EINTR, "%s: chunks: interrupted; %d of %d chunks done, nothing published",
                            in->output, info.n_done, info.n_chunks);
        else if (ret == 0)
            ret = fp_errorf(e, FP_EINPUT, "%s: chunks: job %s: %s", in->input, info.state, info.error);
    }
done:
    rm_tree(dir);
    if (st)
        st->seconds = mono_now() - t0;
    return ret;
}
