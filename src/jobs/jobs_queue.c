/*
 * jobs_queue — schema and task state machine over jobs_db. See jobs_queue.h and docs/jobs.md.
 *
 * Owns: the migrations table, every queue statement, attempt fencing and the retry-after-reconnect
 * loop. Each public function is one short transaction (or a few statements with no transaction),
 * retried as a whole when the connection broke or SQLite was busy; writes are written so that a
 * retry of an already-committed write is recognised (complete checks its own attempt on FP_ELOST).
 */
#include "jobs/jobs_queue.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- migrations ---------------------------------------------------------------------------- */

typedef struct migration {
    int version;
    const char *up_sqlite, *up_pg;
    const char *down;
} migration;

#define T_ID_LITE "INTEGER PRIMARY KEY"
#define T_ID_PG "BIGSERIAL PRIMARY KEY"
#define JOBS_COLS(ID)                                                                           \
    "CREATE TABLE jobs ("                                                                       \
    " id " ID ", task TEXT NOT NULL, input TEXT NOT NULL, output TEXT NOT NULL,"                \
    " storage TEXT NOT NULL, spec TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'queued',"         \
    " n_chunks INTEGER NOT NULL, n_done INTEGER NOT NULL DEFAULT 0, error TEXT,"                \
    " created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL,"              \
    " finished_at DOUBLE PRECISION);"                                                           \
    "CREATE TABLE tasks ("                                                                      \
    " id " ID ", job_id BIGINT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,"                 \
    " kind TEXT NOT NULL, idx INTEGER NOT NULL, start_pts BIGINT, end_pts BIGINT,"              \
    " warmup_pts BIGINT, nframes INTEGER, state TEXT NOT NULL DEFAULT 'queued',"                \
    " attempt INTEGER NOT NULL DEFAULT 0, tries INTEGER NOT NULL DEFAULT 0,"                    \
    " max_attempts INTEGER NOT NULL, not_before DOUBLE PRECISION NOT NULL DEFAULT 0,"           \
    " lease_until DOUBLE PRECISION, worker TEXT, progress DOUBLE PRECISION NOT NULL DEFAULT 0," \
    " started_at DOUBLE PRECISION, finished_at DOUBLE PRECISION, result_key TEXT,"              \
    " last_error TEXT, UNIQUE (job_id, kind, idx));"                                            \
    "CREATE INDEX tasks_runnable ON tasks (state, not_before);"                                 \
    "CREATE TABLE completions ("                                                                \
    " task_id BIGINT PRIMARY KEY REFERENCES tasks(id) ON DELETE CASCADE,"                       \
    " attempt INTEGER NOT NULL, worker TEXT, result_key TEXT, at DOUBLE PRECISION NOT NULL);"

static const migration migrations[] = {
    { 1,
      JOBS_COLS(T_ID_LITE),
      "CREATE OR REPLACE FUNCTION fp_now() RETURNS DOUBLE PRECISION LANGUAGE sql VOLATILE AS "
      "$$ SELECT extract(epoch FROM clock_timestamp())::double precision $$;" JOBS_COLS(T_ID_PG),
      "DROP TABLE completions; DROP TABLE tasks; DROP TABLE jobs;" },
    { 2,
      "CREATE TABLE workers (name TEXT PRIMARY KEY, task_id BIGINT, started_at DOUBLE PRECISION NOT NULL,"
      " seen_at DOUBLE PRECISION NOT NULL);",
      NULL, "DROP TABLE workers;" },
    /* The claim walks tasks_claim in order (kind 'aggregate' sorts before 'chunk', then job, then
     * chunk index) and stops at the first runnable row instead of sorting every queued task; the
     * (state, not_before) index of version 1 made planners pick it and sort (70 ms per claim with
     * 20,000 queued tasks). The reaper gets (state, lease_until). */
    { 3,
      "DROP INDEX tasks_runnable; CREATE INDEX tasks_claim ON tasks (state, kind, job_id, idx);"
      " CREATE INDEX tasks_lease ON tasks (state, lease_until);",
      NULL,
      "DROP INDEX tasks_lease; DROP INDEX tasks_claim; CREATE INDEX tasks_runnable ON tasks (state, not_before);" },
    /* Per-stage work of each completed chunk (from fp_transcode's stats), summed per job for the
     * status page's throughput. Numeric columns so both engines can SUM them. */
    { 4,
      "ALTER TABLE tasks ADD COLUMN frames BIGINT; ALTER TABLE tasks ADD COLUMN decode_s DOUBLE PRECISION;"
      " ALTER TABLE tasks ADD COLUMN process_s DOUBLE PRECISION; ALTER TABLE tasks ADD COLUMN wall_s DOUBLE PRECISION;",
      NULL,
      "ALTER TABLE tasks DROP COLUMN frames; ALTER TABLE tasks DROP COLUMN decode_s;"
      " ALTER TABLE tasks DROP COLUMN process_s; ALTER TABLE tasks DROP COLUMN wall_s;" },
};
#define N_MIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))
_Static_assert(sizeof(migrations) / sizeof(migrations[0]) == FP_QUEUE_SCHEMA_VERSION,
               "one migration per schema version");

static int exec0(fp_jobq *q, const char *sql, fp_err *e)
{
    return fp_db_exec(q->db, sql, NULL, 0, NULL, NULL, NULL, e);
}

int fp_jobq_schema_version(fp_jobq *q, int *version, fp_err *e)
{
    int64_t v = 0;
    int ret = exec0(q, "CREATE TABLE IF NOT EXISTS fp_schema (version INTEGER PRIMARY KEY,"
                       " applied_at DOUBLE PRECISION NOT NULL)", e);
    if (ret == 0)
        ret = fp_db_scalar(q->db, "SELECT coalesce(max(version), 0) FROM fp_schema", NULL, 0, &v, e);
    *version = (int)v;
    return ret;
}

int fp_jobq_migrate(fp_jobq *q, int target, fp_err *e)
{
    int ret, cur;
    if (target < 0 || target > N_MIGRATIONS)
        return fp_errorf(e, FP_EINVAL, "queue: migrate: no schema version %d", target);
    /* Concurrent openers: on PostgreSQL an advisory lock serialises migrations; on SQLite the
     * write lock taken by BEGIN IMMEDIATE does. */
    if ((ret = fp_db_begin(q->db, e)) < 0)
        return ret;
    if (fp_db_engine_of(q->db) == FP_DB_POSTGRES &&
        (ret = exec0(q, "SELECT pg_advisory_xact_lock(4242)", e)) < 0)
        goto fail;
    if ((ret = fp_jobq_schema_version(q, &cur, e)) < 0)
        goto fail;
    while (cur < target) {
        const migration *m = &migrations[cur];
        const char *sql = fp_db_engine_of(q->db) == FP_DB_POSTGRES && m->up_pg ? m->up_pg : m->up_sqlite;
        if ((ret = exec0(q, sql, e)) < 0)
            goto fail;
        if ((ret = fp_db_exec(q->db, "INSERT INTO fp_schema (version, applied_at) VALUES ($1, fp_now())",
                              (fp_dbv[]){ FP_DB_I(m->version) }, 1, NULL, NULL, NULL, e)) < 0)
            goto fail;
        cur++;
    }
    while (cur > target) {
        const migration *m = &migrations[cur - 1];
        if ((ret = exec0(q, m->down, e)) < 0)
            goto fail;
        if ((ret = fp_db_exec(q->db, "DELETE FROM fp_schema WHERE version = $1", (fp_dbv[]){ FP_DB_I(m->version) },
                              1, NULL, NULL, NULL, e)) < 0)
            goto fail;
        cur--;
    }
    return fp_db_commit(q->db, e);
fail:
    fp_db_rollback(q->db);
    fp_err_prefix(e, "queue: migrate: ");
    return ret;
}

/* ---- open / retry ---------------------------------------------------------------------------- */

int fp_jobq_open(fp_jobq **out, const char *url, const fp_jobq_opts *opts, fp_err *e)
{
    *out = NULL;
    fp_jobq *q = calloc(1, sizeof(*q));
    if (!q)
        return fp_errorf(e, FP_ENOMEM, "queue: out of memory");
    q->opts = (fp_jobq_opts){ 60, 2, 300, 3 };
    if (opts) {
        if (opts->lease_s > 0) q->opts.lease_s = opts->lease_s;
        if (opts->backoff_base_s > 0) q->opts.backoff_base_s = opts->backoff_base_s;
        if (opts->backoff_max_s > 0) q->opts.backoff_max_s = opts->backoff_max_s;
        if (opts->max_attempts > 0) q->opts.max_attempts = opts->max_attempts;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    q->seed = (unsigned)(ts.tv_nsec ^ getpid() * 2654435761u);
    int ret = fp_db_open(&q->db, url, e);
    if (ret == 0)
        ret = fp_jobq_migrate(q, FP_QUEUE_SCHEMA_VERSION, e);
    if (ret < 0) {
        fp_jobq_freep(&q);
        return ret;
    }
    *out = q;
    return 0;
}

void fp_jobq_freep(fp_jobq **pq)
{
    if (!pq || !*pq)
        return;
    fp_db_freep(&(*pq)->db);
    free(*pq);
    *pq = NULL;
}

void fp_claim_clear(fp_claim *c)
{
    free(c->task);
    free(c->input);
    free(c->output);
    free(c->storage);
    free(c->spec);
    memset(c, 0, sizeof(*c));
}

static double jitter01(fp_jobq *q) { return rand_r(&q->seed) / (double)RAND_MAX; }

static void sleep_s(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };
    nanosleep(&ts, NULL);
}

/* Decide whether a failed operation is retried: only database errors the engine marked retryable
 * (lost connection, admin shutdown, busy), for about a minute in total so a PostgreSQL restart is
 * ridden out. */
static int should_retry(fp_jobq *q, int ret, int attempt)
{
    if (ret != FP_EDB || !fp_db_retryable(q->db) || attempt >= 40)
        return 0;
    double d = 0.05 * (1 << (attempt < 5 ? attempt : 5));
    sleep_s(d * (0.5 + jitter01(q)));
    fp_err ignore = { 0 };
    fp_db_reconnect(q->db, &ignore);
    return 1;
}

static int pass_err(fp_err *e, const fp_err *te, int ret)
{
    if (ret < 0 && te->code)
        fp_errorf(e, te->code, "%s", te->msg);
    return ret;
}

#define RETRYING(q, e, call)                                   \
    do {                                                       \
        for (int t_ = 0;; t_++) {                              \
            fp_err te_ = { 0 };                                \
            fp_err *e_ = &te_;                                 \
            int r_ = (call);                                   \
            if (should_retry((q), r_, t_))                     \
                continue;                                      \
            return pass_err((e), &te_, r_);                    \
        }                                                      \
    } while (0)

/* ---- submit -------------------------------------------------------------------------------------- */

static int id_row(void *opaque, int n, const char *const *v)
{
    *(int64_t *)opaque = v[0] ? strtoll(v[0], NULL, 10) : 0;
    return 1;
}

static int submit_once(fp_jobq *q, const char *task, const char *input, const char *output, const char *storage,
                       const char *spec, const fp_chunk *ch, int n, int64_t *job_id, fp_err *e)
{
    int ret;
    *job_id = 0;
    if ((ret = fp_db_begin(q->db, e)) < 0)
        return ret;
    fp_dbv p[] = { FP_DB_S(task), FP_DB_S(input), FP_DB_S(output), FP_DB_S(storage), FP_DB_S(spec), FP_DB_I(n) };
    ret = fp_db_exec(q->db,
                     "INSERT INTO jobs (task, input, output, storage, spec, n_chunks, created_at, updated_at)"
                     " VALUES ($1, $2, $3, $4, $5, $6, fp_now(), fp_now()) RETURNING id",
                     p, 6, id_row, job_id, NULL, e);
    for (int i = 0; ret == 0 && i < n; i++) {
        fp_dbv t[] = { FP_DB_I(*job_id), FP_DB_I(i), FP_DB_I(ch[i].start_pts), FP_DB_I(ch[i].end_pts),
                       FP_DB_I(ch[i].warmup_pts), FP_DB_I(ch[i].nframes), FP_DB_I(q->opts.max_attempts) };
        ret = fp_db_exec(q->db,
                         "INSERT INTO tasks (job_id, kind, idx, start_pts, end_pts, warmup_pts, nframes, max_attempts)"
                         " VALUES ($1, 'chunk', $2, $3, $4, $5, $6, $7)",
                         t, 7, NULL, NULL, NULL, e);
    }
    if (ret == 0 && *job_id <= 0)
        ret = fp_errorf(e, FP_EINTERNAL, "queue: submit: no job id returned");
    if (ret == 0)
        ret = fp_db_notify(q->db, FP_QUEUE_CHANNEL, e); /* delivered at commit */
    if (ret < 0) {
        fp_db_rollback(q->db);
        return ret;
    }
    return fp_db_commit(q->db, e);
}

int fp_jobq_submit(fp_jobq *q, const char *task, const char *input, const char *output, const char *storage,
                    const char *spec, const fp_chunk *chunks, int nchunks, int64_t *job_id, fp_err *e)
{
    if (nchunks < 1)
        return fp_errorf(e, FP_EINVAL, "%s: submit: the plan has no chunks", input);
    RETRYING(q, e, submit_once(q, task, input, output, storage, spec, chunks, nchunks, job_id, e_));
}

/* ---- reap ---------------------------------------------------------------------------------------- */

static double backoff(fp_jobq *q, int tries)
{
    double d = q->opts.backoff_base_s;
    for (int i = 1; i < tries && d < q->opts.backoff_max_s; i++)
        d *= 2;
    if (d > q->opts.backoff_max_s)
        d = q->opts.backoff_max_s;
    /* Jitter in [d/2, d): workers that failed together do not come back together. */
    return d * (0.5 + 0.5 * jitter01(q));
}

typedef struct expired {
    int64_t id, job_id;
    int attempt, tries, max, idx;
} expired;

typedef struct expired_list {
    expired v[64];
    int n;
} expired_list;

static int expired_row(void *opaque, int n, const char *const *v)
{
    expired_list *l = opaque;
    if (l->n < 64)
        l->v[l->n++] = (expired){ strtoll(v[0], NULL, 10), strtoll(v[1], NULL, 10), atoi(v[2]), atoi(v[3]),
                                  atoi(v[4]), atoi(v[5]) };
    return 0;
}

static int fail_job(fp_jobq *q, int64_t job_id, const char *why, fp_err *e)
{
    return fp_db_exec(q->db,
                      "UPDATE jobs SET state = 'failed', error = $2, updated_at = fp_now(), finished_at = fp_now()"
                      " WHERE id = $1 AND state IN ('queued', 'running')",
                      (fp_dbv[]){ FP_DB_I(job_id), FP_DB_S(why) }, 2, NULL, NULL, NULL, e);
}

/* Inside the caller's transaction. */
static int reap_locked(fp_jobq *q, int *count, fp_err *e)
{
    expired_list l = { .n = 0 };
    int pg = fp_db_engine_of(q->db) == FP_DB_POSTGRES;
    int ret = fp_db_exec(q->db,
                         pg ? "SELECT id, job_id, attempt, tries, max_attempts, idx FROM tasks"
                              " WHERE state = 'running' AND lease_until < fp_now() LIMIT 64 FOR UPDATE SKIP LOCKED"
                            : "SELECT id, job_id, attempt, tries, max_attempts, idx FROM tasks"
                              " WHERE state = 'running' AND lease_until < fp_now() LIMIT 64",
                         NULL, 0, expired_row, &l, NULL, e);
    for (int i = 0; ret == 0 && i < l.n; i++) {
        expired *x = &l.v[i];
        int dead = x->tries >= x->max;
        int64_t changed = 0;
        fp_dbv p[] = { FP_DB_I(x->id), FP_DB_I(x->attempt), FP_DB_S(dead ? "dead" : "queued"),
                       FP_DB_D(backoff(q, x->tries)) };
        ret = fp_db_exec(q->db,
                         "UPDATE tasks SET state = $3, not_before = fp_now() + $4, lease_until = NULL,"
                         " last_error = 'lease expired (worker ' || coalesce(worker, '?') || ')', worker = NULL"
                         " WHERE id = $1 AND attempt = $2 AND state = 'running'",
                         p, 4, NULL, NULL, &changed, e);
        if (ret == 0 && dead && changed) {
            char why[160];
            snprintf(why, sizeof(why), "chunk %d: lease expired %d times (worker lost)", x->idx, x->tries);
            ret = fail_job(q, x->job_id, why, e);
        }
    }
    if (count)
        *count = l.n;
    return ret;
}

static int reap_once(fp_jobq *q, int *n, fp_err *e)
{
    int ret = fp_db_begin(q->db, e);
    if (ret == 0)
        ret = reap_locked(q, n, e);
    if (ret < 0) {
        fp_db_rollback(q->db);
        return ret;
    }
    return fp_db_commit(q->db, e);
}

int fp_jobq_reap(fp_jobq *q, int *n, fp_err *e) { RETRYING(q, e, reap_once(q, n, e_)); }

/* ---- claim --------------------------------------------------------------------------------------- */

static char *dupv(const char *s) { return strdup(s ? s : ""); }

static int claim_row(void *opaque, int n, const char *const *v)
{
    fp_claim *c = opaque;
    c->task_id = strtoll(v[0], NULL, 10);
    c->job_id = strtoll(v[1], NULL, 10);
    c->kind = !strcmp(v[2], "aggregate") ? FP_TASK_AGGREGATE : FP_TASK_CHUNK;
    c->idx = atoi(v[3]);
    c->chunk.start_pts = v[4] ? strtoll(v[4], NULL, 10) : 0;
    c->chunk.end_pts = v[5] ? strtoll(v[5], NULL, 10) : INT64_MAX;
    c->chunk.warmup_pts = v[6] ? strtoll(v[6], NULL, 10) : c->chunk.start_pts;
    c->chunk.nframes = v[7] ? atoi(v[7]) : 0;
    c->attempt = atoi(v[8]);
    c->tries = atoi(v[9]);
    return 1;
}

static int job_row(void *opaque, int n, const char *const *v)
{
    fp_claim *c = opaque;
    c->task = dupv(v[0]);
    c->input = dupv(v[1]);
    c->output = dupv(v[2]);
    c->storage = dupv(v[3]);
    c->spec = dupv(v[4]);
    return 1;
}

static const char claim_sql_pg[] =
    "WITH c AS (SELECT t.id FROM tasks t JOIN jobs j ON j.id = t.job_id"
    " WHERE t.state = 'queued' AND t.not_before <= fp_now() AND j.state IN ('queued', 'running')"
    " ORDER BY t.state, t.kind, t.job_id, t.idx"
    " LIMIT 1 FOR UPDATE OF t SKIP LOCKED)"
    " UPDATE tasks SET state = 'running', attempt = tasks.attempt + 1, tries = tasks.tries + 1, worker = $1,"
    " lease_until = fp_now() + $2, started_at = fp_now(), progress = 0"
    " FROM c WHERE tasks.id = c.id"
    " RETURNING tasks.id, tasks.job_id, tasks.kind, tasks.idx, tasks.start_pts, tasks.end_pts, tasks.warmup_pts,"
    " tasks.nframes, tasks.attempt, tasks.tries";

/* SQLite: the write lock from BEGIN IMMEDIATE already makes the select-then-update atomic. */
static const char claim_sql_lite[] =
    "WITH c AS (SELECT t.id FROM tasks t JOIN jobs j ON j.id = t.job_id"
    " WHERE t.state = 'queued' AND t.not_before <= fp_now() AND j.state IN ('queued', 'running')"
    " ORDER BY t.state, t.kind, t.job_id, t.idx LIMIT 1)"
    " UPDATE tasks SET state = 'running', attempt = tasks.attempt + 1, tries = tasks.tries + 1, worker = $1,"
    " lease_until = fp_now() + $2, started_at = fp_now(), progress = 0"
    " FROM c WHERE tasks.id = c.id"
    " RETURNING tasks.id, tasks.job_id, tasks.kind, tasks.idx, tasks.start_pts, tasks.end_pts, tasks.warmup_pts,"
    " tasks.nframes, tasks.attempt, tasks.tries";

static int claim_once(fp_jobq *q, const char *worker, fp_claim *c, fp_err *e)
{
    memset(c, 0, sizeof(*c));
    int ret = fp_db_begin(q->db, e);
    if (ret < 0)
        return ret;
    if ((ret = reap_locked(q, NULL, e)) < 0)
        goto fail;
    fp_dbv p[] = { FP_DB_S(worker), FP_DB_D(q->opts.lease_s) };
    ret = fp_db_exec(q->db, fp_db_engine_of(q->db) == FP_DB_POSTGRES ? claim_sql_pg : claim_sql_lite, p, 2,
                     claim_row, c, NULL, e);
    if (ret < 0)
        goto fail;
    if (!c->task_id) {
        /* Commit, not roll back: the reap above must stick even when nothing is claimable now
         * (a reaped task waits out its backoff). */
        if ((ret = fp_db_commit(q->db, e)) < 0)
            goto fail_nr;
        return FP_EAGAIN;
    }
    if ((ret = fp_db_exec(q->db, "UPDATE jobs SET state = 'running', updated_at = fp_now()"
                                 " WHERE id = $1 AND state = 'queued'",
                          (fp_dbv[]){ FP_DB_I(c->job_id) }, 1, NULL, NULL, NULL, e)) < 0)
        goto fail;
    if ((ret = fp_db_exec(q->db, "SELECT task, input, output, storage, spec FROM jobs WHERE id = $1",
                          (fp_dbv[]){ FP_DB_I(c->job_id) }, 1, job_row, c, NULL, e)) < 0)
        goto fail;
    if (!c->task || !c->input || !c->output || !c->storage || !c->spec) {
        ret = fp_errorf(e, FP_ENOMEM, "queue: claim: out of memory");
        goto fail;
    }
    if ((ret = fp_db_commit(q->db, e)) < 0)
        goto fail_nr;
    return 0;
fail:
    fp_db_rollback(q->db);
fail_nr:
    fp_claim_clear(c);
    return ret;
}

int fp_jobq_claim(fp_jobq *q, const char *worker, fp_claim *c, fp_err *e)
{
    RETRYING(q, e, claim_once(q, worker, c, e_));
}

/* ---- heartbeat / complete / fail ------------------------------------------------------------------ */

static int heartbeat_once(fp_jobq *q, const fp_claim *c, double progress, fp_err *e)
{
    int64_t changed = 0;
    fp_dbv p[] = { FP_DB_I(c->task_id), FP_DB_I(c->attempt), FP_DB_D(q->opts.lease_s), FP_DB_D(progress) };
    int ret = fp_db_exec(q->db,
                         "UPDATE tasks SET lease_until = fp_now() + $3, progress = $4"
                         " WHERE id = $1 AND attempt = $2 AND state = 'running'"
                         " AND EXISTS (SELECT 1 FROM jobs WHERE jobs.id = tasks.job_id"
                         " AND jobs.state IN ('queued', 'running'))",
                         p, 4, NULL, NULL, &changed, e);
    if (ret == 0 && changed != 1)
        return fp_errorf(e, FP_ELOST, "job %lld chunk %d: lease lost (attempt %d superseded, or job stopped)",
                         (long long)c->job_id, c->idx, c->attempt);
    return ret;
}

int fp_jobq_heartbeat(fp_jobq *q, const fp_claim *c, double progress, fp_err *e)
{
    RETRYING(q, e, heartbeat_once(q, c, progress, e_));
}

typedef struct count_pair {
    int64_t a, b;
    int got;
} count_pair;

static int pair_row(void *opaque, int n, const char *const *v)
{
    count_pair *p = opaque;
    p->a = v[0] ? strtoll(v[0], NULL, 10) : 0;
    p->b = n > 1 && v[1] ? strtoll(v[1], NULL, 10) : 0;
    p->got = 1;
    return 1;
}

static int complete_once(fp_jobq *q, const fp_claim *c, const char *key, const fp_task_stats *st, fp_err *e)
{
    int64_t changed = 0;
    int ret = fp_db_begin(q->db, e);
    if (ret < 0)
        return ret;
    int has = st && st->frames > 0;
    fp_dbv p[] = { FP_DB_I(c->task_id), FP_DB_I(c->attempt), FP_DB_S(key),
                   has ? FP_DB_I(st->frames) : FP_DB_S(NULL), has ? FP_DB_D(st->decode_s) : FP_DB_S(NULL),
                   has ? FP_DB_D(st->process_s) : FP_DB_S(NULL), has ? FP_DB_D(st->wall_s) : FP_DB_S(NULL) };
    ret = fp_db_exec(q->db,
                     "UPDATE tasks SET state = 'done', result_key = $3, finished_at = fp_now(), lease_until = NULL,"
                     " progress = 1, frames = $4, decode_s = $5, process_s = $6, wall_s = $7"
                     " WHERE id = $1 AND attempt = $2 AND state = 'running'"
                     " AND EXISTS (SELECT 1 FROM jobs WHERE jobs.id = tasks.job_id"
                     " AND jobs.state IN ('queued', 'running'))",
                     p, 7, NULL, NULL, &changed, e);
    if (ret < 0)
        goto fail;
    if (changed != 1) {
        ret = fp_errorf(e, FP_ELOST, "job %lld chunk %d: lease lost (attempt %d superseded, or job stopped)",
                        (long long)c->job_id, c->idx, c->attempt);
        goto fail;
    }
    /* The audit row: completions.task_id is the primary key, so a second completion of one task
     * cannot commit even if fencing were broken. */
    ret = fp_db_exec(q->db,
                     "INSERT INTO completions (task_id, attempt, worker, result_key, at)"
                     " SELECT id, attempt, worker, result_key, fp_now() FROM tasks WHERE id = $1",
                     p, 1, NULL, NULL, NULL, e);
    if (ret < 0)
        goto fail;
    if (c->kind == FP_TASK_CHUNK) {
        count_pair cp = { 0 };
        ret = fp_db_exec(q->db,
                         "UPDATE jobs SET n_done = n_done + 1, updated_at = fp_now() WHERE id = $1"
                         " RETURNING n_done, n_chunks",
                         (fp_dbv[]){ FP_DB_I(c->job_id) }, 1, pair_row, &cp, NULL, e);
        if (ret == 0 && cp.got && cp.a == cp.b)
            ret = fp_db_exec(q->db,
                             "INSERT INTO tasks (job_id, kind, idx, max_attempts) VALUES ($1, 'aggregate', 0, $2)",
                             (fp_dbv[]){ FP_DB_I(c->job_id), FP_DB_I(q->opts.max_attempts) }, 2, NULL, NULL, NULL, e);
        if (ret == 0 && cp.got && cp.a == cp.b)
            ret = fp_db_notify(q->db, FP_QUEUE_CHANNEL, e); /* delivered at commit */
    } else {
        ret = fp_db_exec(q->db,
                         "UPDATE jobs SET state = 'done', updated_at = fp_now(), finished_at = fp_now()"
                         " WHERE id = $1 AND state = 'running'",
                         (fp_dbv[]){ FP_DB_I(c->job_id) }, 1, NULL, NULL, NULL, e);
    }
    if (ret < 0)
        goto fail;
    return fp_db_commit(q->db, e);
fail:
    fp_db_rollback(q->db);
    return ret;
}

static int done_by_us_row(void *opaque, int n, const char *const *v)
{
    int *ok = opaque;
    *ok = 1;
    return 1;
}

int fp_jobq_complete(fp_jobq *q, const fp_claim *c, const char *key, fp_err *e)
{
    return fp_jobq_complete_stats(q, c, key, NULL, e);
}

int fp_jobq_complete_stats(fp_jobq *q, const fp_claim *c, const char *key, const fp_task_stats *st, fp_err *e)
{
    for (int t = 0;; t++) {
        fp_err te = { 0 };
        int ret = complete_once(q, c, key, st, &te);
        if (should_retry(q, ret, t))
            continue;
        if (ret == FP_ELOST && t > 0) {
            /* A retry after a lost connection: the first try may have committed. It did if the task
             * is done by this very attempt. */
            int ok = 0;
            fp_err ie = { 0 };
            fp_db_exec(q->db, "SELECT 1 FROM completions WHERE task_id = $1 AND attempt = $2",
                       (fp_dbv[]){ FP_DB_I(c->task_id), FP_DB_I(c->attempt) }, 2, done_by_us_row, &ok, NULL, &ie);
            if (ok)
                return 0;
        }
        return pass_err(e, &te, ret);
    }
}

typedef struct fail_result {
    char state[16];
} fail_result;

static int state_row(void *opaque, int n, const char *const *v)
{
    snprintf(((fail_result *)opaque)->state, 16, "%s", v[0] ? v[0] : "");
    return 1;
}

static int fail_once(fp_jobq *q, const fp_claim *c, int permanent, const char *error, fp_err *e)
{
    fail_result fr = { "" };
    int ret = fp_db_begin(q->db, e);
    if (ret < 0)
        return ret;
    fp_dbv p[] = { FP_DB_I(c->task_id), FP_DB_I(c->attempt), FP_DB_I(permanent ? 1 : 0),
                   FP_DB_D(backoff(q, c->tries)), FP_DB_S(error) };
    ret = fp_db_exec(q->db,
                     "UPDATE tasks SET state = CASE WHEN $3 = 1 OR tries >= max_attempts THEN 'dead' ELSE 'queued' END,"
                     " not_before = fp_now() + $4, last_error = $5, worker = NULL, lease_until = NULL"
                     " WHERE id = $1 AND attempt = $2 AND state = 'running' RETURNING state",
                     p, 5, state_row, &fr, NULL, e);
    if (ret < 0)
        goto fail;
    if (!fr.state[0]) {
        ret = fp_errorf(e, FP_ELOST, "job %lld chunk %d: lease lost before the failure was recorded",
                        (long long)c->job_id, c->idx);
        goto fail;
    }
    if (!strcmp(fr.state, "dead")) {
        char why[700];
        if (c->kind == FP_TASK_AGGREGATE)
            snprintf(why, sizeof(why), "aggregate: %s", error);
        else
            snprintf(why, sizeof(why), "chunk %d: %s", c->idx, error);
        if ((ret = fail_job(q, c->job_id, why, e)) < 0)
            goto fail;
    }
    return fp_db_commit(q->db, e);
fail:
    fp_db_rollback(q->db);
    return ret;
}

int fp_jobq_fail(fp_jobq *q, const fp_claim *c, int permanent, const char *error, fp_err *e)
{
    RETRYING(q, e, fail_once(q, c, permanent, error, e_));
}

static int release_once(fp_jobq *q, const fp_claim *c, fp_err *e)
{
    int64_t changed = 0;
    fp_dbv p[] = { FP_DB_I(c->task_id), FP_DB_I(c->attempt) };
    /* tries goes back by one (a release is not a failure); attempt stays, it is the fence. */
    int ret = fp_db_exec(q->db,
                         "UPDATE tasks SET state = 'queued', tries = CASE WHEN tries > 0 THEN tries - 1 ELSE 0 END,"
                         " not_before = 0, worker = NULL, lease_until = NULL, progress = 0"
                         " WHERE id = $1 AND attempt = $2 AND state = 'running'",
                         p, 2, NULL, NULL, &changed, e);
    if (ret == 0 && changed != 1)
        return fp_errorf(e, FP_ELOST, "job %lld chunk %d: lease lost before the release", (long long)c->job_id,
                         c->idx);
    if (ret == 0) {
        fp_err ign = { 0 };
        fp_db_notify(q->db, FP_QUEUE_CHANNEL, &ign); /* a hint: its failure changes nothing */
    }
    return ret;
}

int fp_jobq_release(fp_jobq *q, const fp_claim *c, fp_err *e) { RETRYING(q, e, release_once(q, c, e_)); }

int fp_jobq_wait(fp_jobq *q, double timeout_s) { return fp_db_wait(q->db, FP_QUEUE_CHANNEL, timeout_s); }

/* ---- cancel / redrive ---------------------------------------------------------------------------- */

static int cancel_once(fp_jobq *q, int64_t job_id, fp_err *e)
{
    int64_t changed = 0, exists = 0;
    int ret = fp_db_begin(q->db, e);
    if (ret == 0)
        ret = fp_db_scalar(q->db, "SELECT count(*) FROM jobs WHERE id = $1", (fp_dbv[]){ FP_DB_I(job_id) }, 1,
                           &exists, e);
    if (ret == 0 && !exists)
        ret = fp_errorf(e, FP_EINVAL, "job %lld: cancel: no such job", (long long)job_id);
    if (ret == 0)
        ret = fp_db_exec(q->db,
                         "UPDATE jobs SET state = 'cancelled', updated_at = fp_now(), finished_at = fp_now()"
                         " WHERE id = $1 AND state IN ('queued', 'running')",
                         (fp_dbv[]){ FP_DB_I(job_id) }, 1, NULL, NULL, &changed, e);
    if (ret == 0)
        ret = fp_db_exec(q->db,
                         "UPDATE tasks SET state = 'cancelled', lease_until = NULL"
                         " WHERE job_id = $1 AND state IN ('queued', 'running')",
                         (fp_dbv[]){ FP_DB_I(job_id) }, 1, NULL, NULL, NULL, e);
    if (ret < 0) {
        fp_db_rollback(q->db);
        return ret;
    }
    return fp_db_commit(q->db, e);
}

int fp_jobq_cancel(fp_jobq *q, int64_t job_id, fp_err *e) { RETRYING(q, e, cancel_once(q, job_id, e_)); }

static int redrive_once(fp_jobq *q, int64_t job_id, int *n, fp_err *e)
{
    int64_t changed = 0, exists = 0;
    int ret = fp_db_begin(q->db, e);
    if (ret == 0)
        ret = fp_db_scalar(q->db, "SELECT count(*) FROM jobs WHERE id = $1", (fp_dbv[]){ FP_DB_I(job_id) }, 1,
                           &exists, e);
    if (ret == 0 && !exists)
        ret = fp_errorf(e, FP_EINVAL, "job %lld: redrive: no such job", (long long)job_id);
    /* attempt stays: it is the fencing token and must only grow. tries is the retry budget. */
    if (ret == 0)
        ret = fp_db_exec(q->db,
                         "UPDATE tasks SET state = 'queued', tries = 0, not_before = 0"
                         " WHERE job_id = $1 AND state = 'dead'",
                         (fp_dbv[]){ FP_DB_I(job_id) }, 1, NULL, NULL, &changed, e);
    if (ret == 0 && changed)
        ret = fp_db_exec(q->db,
                         "UPDATE jobs SET state = 'running', error = NULL, finished_at = NULL, updated_at = fp_now()"
                         " WHERE id = $1 AND state = 'failed'",
                         (fp_dbv[]){ FP_DB_I(job_id) }, 1, NULL, NULL, NULL, e);
    if (ret < 0) {
        fp_db_rollback(q->db);
        return ret;
    }
    if (n)
        *n = (int)changed;
    return fp_db_commit(q->db, e);
}

int fp_jobq_redrive(fp_jobq *q, int64_t job_id, int *n, fp_err *e)
{
    RETRYING(q, e, redrive_once(q, job_id, n, e_));
}

static int seen_once(fp_jobq *q, const char *worker, int64_t task_id, fp_err *e)
{
    return fp_db_exec(q->db,
                      "INSERT INTO workers (name, task_id, started_at, seen_at) VALUES ($1, $2, fp_now(), fp_now())"
                      " ON CONFLICT (name) DO UPDATE SET task_id = excluded.task_id, seen_at = excluded.seen_at",
                      (fp_dbv[]){ FP_DB_S(worker), FP_DB_I(task_id) }, 2, NULL, NULL, NULL, e);
}

int fp_jobq_worker_seen(fp_jobq *q, const char *worker, int64_t task_id, fp_err *e)
{
    RETRYING(q, e, seen_once(q, worker, task_id, e_));
}

/* ---- read side ----------------------------------------------------------------------------------- */

#define JOB_SELECT                                                                                    \
    "SELECT id, task, state, input, output, coalesce(error, ''), n_chunks, n_done,"                   \
    " (SELECT count(*) FROM tasks t WHERE t.job_id = jobs.id AND t.state = 'queued'),"                \
    " (SELECT count(*) FROM tasks t WHERE t.job_id = jobs.id AND t.state = 'running'),"               \
    " (SELECT count(*) FROM tasks t WHERE t.job_id = jobs.id AND t.state = 'dead'),"                  \
    " created_at, updated_at, coalesce(finished_at, 0), fp_now() FROM jobs"

typedef struct job_list {
    fp_job_info *v;
    int n, cap;
} job_list;

static int job_info_row(void *opaque, int n, const char *const *v)
{
    job_list *l = opaque;
    if (l->n >= l->cap)
        return 1;
    fp_job_info *j = &l->v[l->n++];
    memset(j, 0, sizeof(*j));
    j->id = strtoll(v[0], NULL, 10);
    snprintf(j->task, sizeof(j->task), "%s", v[1]);
    snprintf(j->state, sizeof(j->state), "%s", v[2]);
    snprintf(j->input, sizeof(j->input), "%s", v[3]);
    snprintf(j->output, sizeof(j->output), "%s", v[4]);
    snprintf(j->error, sizeof(j->error), "%s", v[5]);
    j->n_chunks = atoi(v[6]);
    j->n_done = atoi(v[7]);
    j->n_queued = atoi(v[8]);
    j->n_running = atoi(v[9]);
    j->n_dead = atoi(v[10]);
    j->created_at = atof(v[11]);
    j->updated_at = atof(v[12]);
    j->finished_at = atof(v[13]);
    j->now = atof(v[14]);
    return 0;
}

static int job_once(fp_jobq *q, int64_t id, fp_job_info *info, fp_err *e)
{
    job_list l = { info, 0, 1 };
    int ret = fp_db_exec(q->db, JOB_SELECT " WHERE id = $1", (fp_dbv[]){ FP_DB_I(id) }, 1, job_info_row, &l, NULL, e);
    if (ret == 0 && l.n == 0)
        return fp_errorf(e, FP_EINVAL, "job %lld: no such job", (long long)id);
    return ret;
}

int fp_jobq_job(fp_jobq *q, int64_t id, fp_job_info *info, fp_err *e) { RETRYING(q, e, job_once(q, id, info, e_)); }

static int jobs_once(fp_jobq *q, int max, fp_job_info **out, int *n, fp_err *e)
{
    job_list l = { calloc(max > 0 ? max : 1, sizeof(fp_job_info)), 0, max };
    if (!l.v)
        return fp_errorf(e, FP_ENOMEM, "queue: out of memory");
    int ret = fp_db_exec(q->db, JOB_SELECT " ORDER BY id DESC LIMIT $1", (fp_dbv[]){ FP_DB_I(max) }, 1,
                         job_info_row, &l, NULL, e);
    if (ret < 0) {
        free(l.v);
        return ret;
    }
    *out = l.v;
    *n = l.n;
    return 0;
}

int fp_jobq_jobs(fp_jobq *q, int max, fp_job_info **out, int *n, fp_err *e)
{
    *out = NULL;
    *n = 0;
    RETRYING(q, e, jobs_once(q, max, out, n, e_));
}

typedef struct key_list {
    char **v;
    int n, cap, bad;
} key_list;

static int key_row(void *opaque, int n, const char *const *v)
{
    key_list *l = opaque;
    if (l->n >= l->cap || strcmp(v[1], "done") || !v[2] || atoi(v[0]) != l->n) {
        l->bad = 1;
        return 1;
    }
    if (!(l->v[l->n] = strdup(v[2]))) {
        l->bad = 1;
        return 1;
    }
    l->n++;
    return 0;
}

void fp_jobq_keys_free(char ***keys, int n)
{
    if (!keys || !*keys)
        return;
    for (int i = 0; i < n; i++)
        free((*keys)[i]);
    free(*keys);
    *keys = NULL;
}

static int keys_once(fp_jobq *q, int64_t job_id, char ***keys, int *n, fp_err *e)
{
    int64_t total = 0;
    int ret = fp_db_scalar(q->db, "SELECT n_chunks FROM jobs WHERE id = $1", (fp_dbv[]){ FP_DB_I(job_id) }, 1,
                           &total, e);
    if (ret < 0)
        return ret;
    key_list l = { calloc(total + 1, sizeof(char *)), 0, (int)total, 0 };
    if (!l.v)
        return fp_errorf(e, FP_ENOMEM, "queue: out of memory");
    ret = fp_db_exec(q->db,
                     "SELECT idx, state, result_key FROM tasks WHERE job_id = $1 AND kind = 'chunk' ORDER BY idx",
                     (fp_dbv[]){ FP_DB_I(job_id) }, 1, key_row, &l, NULL, e);
    if (ret == 0 && (l.bad || l.n != total))
        ret = fp_errorf(e, FP_EINTERNAL, "job %lld: aggregate: chunk results incomplete (%d of %lld)",
                        (long long)job_id, l.n, (long long)total);
    if (ret < 0) {
        fp_jobq_keys_free(&l.v, l.n);
        return ret;
    }
    *keys = l.v;
    *n = l.n;
    return 0;
}

int fp_jobq_chunk_keys(fp_jobq *q, int64_t job_id, char ***keys, int *n, fp_err *e)
{
    *keys = NULL;
    *n = 0;
    RETRYING(q, e, keys_once(q, job_id, keys, n, e_));
}

typedef struct task_cb {
    void (*fn)(void *, const fp_task_info *);
    void *opaque;
} task_cb;

static int task_row(void *opaque, int n, const char *const *v)
{
    task_cb *cb = opaque;
    fp_task_info t = { 0 };
    t.id = strtoll(v[0], NULL, 10);
    snprintf(t.kind, sizeof(t.kind), "%s", v[1]);
    t.idx = atoi(v[2]);
    snprintf(t.state, sizeof(t.state), "%s", v[3]);
    t.attempt = atoi(v[4]);
    t.tries = atoi(v[5]);
    snprintf(t.worker, sizeof(t.worker), "%s", v[6] ? v[6] : "");
    t.progress = v[7] ? atof(v[7]) : 0;
    t.started_at = v[8] ? atof(v[8]) : 0;
    t.finished_at = v[9] ? atof(v[9]) : 0;
    t.lease_left = v[10] ? atof(v[10]) : 0;
    snprintf(t.error, sizeof(t.error), "%s", v[11] ? v[11] : "");
    cb->fn(cb->opaque, &t);
    return 0;
}

int fp_jobq_tasks(fp_jobq *q, int64_t job_id, void (*fn)(void *, const fp_task_info *), void *opaque, fp_err *e)
{
    task_cb cb = { fn, opaque };
    return fp_db_exec(q->db,
                      "SELECT id, kind, idx, state, attempt, tries, worker, progress, started_at, finished_at,"
                      " lease_until - fp_now(), last_error FROM tasks WHERE job_id = $1"
                      " ORDER BY CASE WHEN kind = 'chunk' THEN 0 ELSE 1 END, idx",
                      (fp_dbv[]){ FP_DB_I(job_id) }, 1, task_row, &cb, NULL, e);
}

static int counts_row(void *opaque, int n, const char *const *v)
{
    int64_t *out = opaque;
    for (int i = 0; i < n; i++)
        out[i] = v[i] ? strtoll(v[i], NULL, 10) : 0;
    return 1;
}

static int sum_row(void *opaque, int n, const char *const *v)
{
    fp_jobq_counts *c = opaque;
    c->chunk_seconds_sum = v[0] ? atof(v[0]) : 0;
    c->chunk_seconds_count = v[1] ? strtoll(v[1], NULL, 10) : 0;
    return 1;
}

int fp_jobq_counts_get(fp_jobq *q, fp_jobq_counts *c, fp_err *e)
{
    int64_t v[13] = { 0 };
    memset(c, 0, sizeof(*c));
    int ret = fp_db_exec(
        q->db,
        "SELECT (SELECT count(*) FROM tasks WHERE state = 'queued'), (SELECT count(*) FROM tasks WHERE state = 'running'),"
        " (SELECT count(*) FROM tasks WHERE state = 'done'), (SELECT count(*) FROM tasks WHERE state = 'dead'),"
        " (SELECT count(*) FROM tasks WHERE state = 'cancelled'),"
        " (SELECT count(*) FROM jobs WHERE state = 'queued'), (SELECT count(*) FROM jobs WHERE state = 'running'),"
        " (SELECT count(*) FROM jobs WHERE state = 'done'), (SELECT count(*) FROM jobs WHERE state = 'failed'),"
        " (SELECT count(*) FROM jobs WHERE state = 'cancelled'), (SELECT count(*) FROM completions),"
        " (SELECT count(*) FROM workers WHERE seen_at > fp_now() - $1)",
        (fp_dbv[]){ FP_DB_D(q->opts.lease_s) }, 1, counts_row, v, NULL, e);
    if (ret < 0)
        return ret;
    c->queued = v[0], c->running = v[1], c->done = v[2], c->dead = v[3], c->cancelled = v[4];
    c->jobs_queued = v[5], c->jobs_running = v[6], c->jobs_done = v[7], c->jobs_failed = v[8];
    c->jobs_cancelled = v[9], c->completions = v[10], c->workers_alive = v[11];
    return fp_db_exec(q->db,
                      "SELECT sum(finished_at - started_at), count(*) FROM tasks WHERE state = 'done'"
                      " AND kind = 'chunk'",
                      NULL, 0, sum_row, c, NULL, e);
}

static int stage_row(void *opaque, int n, const char *const *v)
{
    fp_task_stats *st = opaque;
    st->frames = v[0] ? strtoll(v[0], NULL, 10) : 0;
    st->decode_s = v[1] ? atof(v[1]) : 0;
    st->process_s = v[2] ? atof(v[2]) : 0;
    st->wall_s = v[3] ? atof(v[3]) : 0;
    return 1;
}

int fp_jobq_stage_stats(fp_jobq *q, int64_t job_id, fp_task_stats *st, fp_err *e)
{
    memset(st, 0, sizeof(*st));
    return fp_db_exec(q->db,
                      "SELECT SUM(frames), SUM(decode_s), SUM(process_s), SUM(wall_s) FROM tasks"
                      " WHERE job_id = $1 AND kind = 'chunk' AND state = 'done' AND frames IS NOT NULL",
                      (fp_dbv[]){ FP_DB_I(job_id) }, 1, stage_row, st, NULL, e);
}
