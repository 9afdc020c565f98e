/*
 * test_queue — the queue's state machine on one engine (argv[1]: sqlite or postgres): migrations
 * down and up, claim order, attempt fencing, lease expiry and reaping, backoff, dead tasks failing
 * the job, redrive, exactly one aggregate task, cancel, and many threads claiming concurrently with
 * every task completed exactly once.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "fp_test.h"
#include "jobs/jobs_queue.h"
#include "jobs_testutil.h"

static const char *engine;

static fp_chunk chunks3[3] = { { 0, 100, 0, 4 }, { 100, 200, 100, 4 }, { 200, INT64_MAX, 200, 4 } };

static fp_jobq *open_q(const char *url, double lease, double backoff, int attempts)
{
    fp_jobq *q = NULL;
    fp_err e = { 0 };
    fp_jobq_opts o = { lease, backoff, backoff * 4, attempts };
    int ret = fp_jobq_open(&q, url, &o, &e);
    CHECK_MSG(ret == 0, "%s", e.msg);
    return q;
}

static int64_t submit(fp_jobq *q, int n, fp_chunk *ch)
{
    int64_t id = 0;
    fp_err e = { 0 };
    CHECK_EQ_INT(fp_jobq_submit(q, "remux", "/in.mp4", "/out.mp4", "file:///tmp/x", "{}", ch, n, &id, &e), 0);
    return id;
}

static int64_t scalar(fp_jobq *q, const char *sql, int64_t arg)
{
    int64_t v = -1;
    fp_err e = { 0 };
    int ret = fp_db_scalar(q->db, sql, (fp_dbv[]){ FP_DB_I(arg) }, 1, &v, &e);
    CHECK_MSG(ret == 0, "%s: %s", sql, e.msg);
    return v;
}

static void test_migrations(const char *url)
{
    fp_jobq *q = open_q(url, 5, 0.1, 3);
    fp_err e = { 0 };
    int v = -1;
    CHECK_EQ_INT(fp_jobq_schema_version(q, &v, &e), 0);
    CHECK_EQ_INT(v, FP_QUEUE_SCHEMA_VERSION);
    int64_t id = submit(q, 3, chunks3);
    CHECK(id > 0);
    CHECK_EQ_INT(fp_jobq_migrate(q, 1, &e), 0);
    fp_err e2 = { 0 };
    /* version 2's table is gone, version 1's data is kept */
    CHECK(fp_db_exec(q->db, "SELECT count(*) FROM workers", NULL, 0, NULL, NULL, NULL, &e2) == FP_EDB);
    CHECK_EQ_INT(scalar(q, "SELECT count(*) FROM tasks WHERE job_id = $1", id), 3);
    CHECK_EQ_INT(fp_jobq_migrate(q, 0, &e), 0);
    fp_err e3 = { 0 };
    CHECK(fp_db_exec(q->db, "SELECT count(*) FROM jobs", NULL, 0, NULL, NULL, NULL, &e3) == FP_EDB);
    CHECK_EQ_INT(fp_jobq_migrate(q, FP_QUEUE_SCHEMA_VERSION, &e), 0);
    CHECK_EQ_INT(fp_jobq_schema_version(q, &v, &e), 0);
    CHECK_EQ_INT(v, FP_QUEUE_SCHEMA_VERSION);
    CHECK_EQ_INT(scalar(q, "SELECT count(*) FROM jobs WHERE id > $1", 0), 0);
    fp_err e4 = { 0 };
    CHECK_EQ_INT(fp_jobq_migrate(q, 99, &e4), FP_EINVAL);
    fp_jobq_freep(&q);
    fp_jobq_freep(&q); /* freeing NULL is a no-op */
}

static void test_lifecycle(const char *url)
{
    fp_jobq *q = open_q(url, 30, 0.2, 2);
    fp_err e = { 0 };
    int64_t job = submit(q, 3, chunks3);
    fp_claim c[3], x;
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(fp_jobq_claim(q, "w1", &c[i], &e), 0);
        CHECK_EQ_INT(c[i].idx, i);
        CHECK_EQ_INT(c[i].attempt, 1);
        CHECK_EQ_INT(c[i].job_id, job);
        CHECK(c[i].task && !strcmp(c[i].task, "remux"));
    }
    CHECK_EQ_INT(c[1].chunk.start_pts, 100);
    CHECK_EQ_INT(c[1].chunk.end_pts, 200);
    CHECK(c[2].chunk.end_pts == INT64_MAX);
    CHECK_EQ_INT(fp_jobq_claim(q, "w1", &x, &e), FP_EAGAIN);
    CHECK_EQ_INT(fp_jobq_heartbeat(q, &c[0], 0.5, &e), 0);

    /* complete; a second complete of the same attempt is refused */
    CHECK_EQ_INT(fp_jobq_complete(q, &c[0], "k0", &e), 0);
    fp_err le = { 0 };
    CHECK_EQ_INT(fp_jobq_complete(q, &c[0], "k0-again", &le), FP_ELOST);
    CHECK(strstr(le.msg, "lease lost") != NULL);
    CHECK_EQ_INT(scalar(q, "SELECT count(*) FROM completions WHERE task_id = $1", c[0].task_id), 1);

    /* a failure requeues with backoff: not claimable at once, claimable later, tries counts */
    CHECK_EQ_INT(fp_jobq_fail(q, &c[1], 0, "boom", &e), 0);
    CHECK_EQ_INT(fp_jobq_claim(q, "w1", &x, &e), FP_EAGAIN);
    tu_sleep(0.25);
    CHECK_EQ_INT(fp_jobq_claim(q, "w2", &x, &e), 0);
    CHECK_EQ_INT(x.idx, 1);
    CHECK_EQ_INT(x.attempt, 2);
    CHECK_EQ_INT(x.tries, 2);
    /* the old attempt can do nothing any more */
    fp_err oe = { 0 };
    CHECK_EQ_INT(fp_jobq_heartbeat(q, &c[1], 0.9, &oe), FP_ELOST);
    CHECK_EQ_INT(fp_jobq_fail(q, &c[1], 0, "late", &oe), FP_ELOST);
    /* second failure: out of tries (max 2) -> dead, job failed with the chunk's error */
    CHECK_EQ_INT(fp_jobq_fail(q, &x, 0, "disk on fire", &e), 0);
    fp_job_info info;
    CHECK_EQ_INT(fp_jobq_job(q, job, &info, &e), 0);
    CHECK(!strcmp(info.state, "failed"));
    CHECK_MSG(strstr(info.error, "chunk 1: disk on fire") != NULL, "%s", info.error);
    CHECK_EQ_INT(info.n_dead, 1);
    /* a failed job's running chunk loses its lease */
    fp_err he = { 0 };
    CHECK_EQ_INT(fp_jobq_heartbeat(q, &c[2], 0.1, &he), FP_ELOST);

    /* redrive: dead task queued again with a fresh budget, attempt keeps growing */
    int n = 0;
    CHECK_EQ_INT(fp_jobq_redrive(q, job, &n, &e), 0);
    CHECK_EQ_INT(n, 1);
    CHECK_EQ_INT(fp_jobq_job(q, job, &info, &e), 0);
    CHECK(!strcmp(info.state, "running"));
    CHECK(info.error[0] == 0);
    fp_claim_clear(&x);
    CHECK_EQ_INT(fp_jobq_claim(q, "w3", &x, &e), 0);
    CHECK_EQ_INT(x.idx, 1);
    CHECK_EQ_INT(x.attempt, 3);
    CHECK_EQ_INT(fp_jobq_complete(q, &x, "k1", &e), 0);
    /* c[2] still holds its lease (the heartbeat refusal above changed nothing) */
    CHECK_EQ_INT(fp_jobq_heartbeat(q, &c[2], 0.2, &e), 0);
    CHECK_EQ_INT(scalar(q, "SELECT count(*) FROM tasks WHERE job_id = $1 AND kind = 'aggregate'", job), 0);
    CHECK_EQ_INT(fp_jobq_complete(q, &c[2], "k2", &e), 0);
    /* last chunk: exactly one aggregate task */
    CHECK_EQ_INT(scalar(q, "SELECT count(*) FROM tasks WHERE job_id = $1 AND kind = 'aggregate'", job), 1);
    char **keys = NULL;
    int nk = 0;
    CHECK_EQ_INT(fp_jobq_chunk_keys(q, job, &keys, &nk, &e), 0);
    CHECK_EQ_INT(nk, 3);
    if (nk == 3)
        CHECK(!strcmp(keys[0], "k0") && !strcmp(keys[1], "k1") && !strcmp(keys[2], "k2"));
    fp_jobq_keys_free(&keys, nk);
    fp_claim a;
    CHECK_EQ_INT(fp_jobq_claim(q, "w1", &a, &e), 0);
    CHECK_EQ_INT(a.kind, FP_TASK_AGGREGATE);
    CHECK_EQ_INT(fp_jobq_complete(q, &a, "/out.mp4", &e), 0);
    CHECK_EQ_INT(fp_jobq_job(q, job, &info, &e), 0);
    CHECK(!strcmp(info.state, "done"));
    CHECK_EQ_INT(info.n_done, 3);
    CHECK_EQ_INT(scalar(q, "SELECT count(*) FROM completions c JOIN tasks t ON t.id = c.task_id WHERE t.job_id = $1",
                        job), 4);
    for (int i = 0; i < 3; i++)
        fp_claim_clear(&c[i]);
    fp_claim_clear(&x);
    fp_claim_clear(&a);
    CHECK_MSG(e.code == 0, "%s", e.msg);
    fp_jobq_freep(&q);
}

static void test_lease_expiry(const char *url)
{
    /* backoff 0.3 s x 2^(tries-1), jittered to [d/2, d): long enough that a loaded machine (or ASan)
     * cannot pass it between two statements of one transaction */
    fp_jobq *q = open_q(url, 0.4, 0.3, 3);
    fp_err e = { 0 };
    int64_t job = submit(q, 1, chunks3);
    fp_claim a, b;
    CHECK_EQ_INT(fp_jobq_claim(q, "zombie", &a, &e), 0);
    CHECK_EQ_INT(fp_jobq_claim(q, "w2", &b, &e), FP_EAGAIN);
    fp_claim_clear(&b); /* no-op after FP_EAGAIN; frees if the check above failed */
    tu_sleep(0.5);
    /* a claim reaps the expired lease even though the backoff (150..300 ms) keeps the chunk from
     * being claimed in the same transaction: the reap must be committed, not rolled back */
    CHECK_EQ_INT(fp_jobq_claim(q, "w2", &b, &e), FP_EAGAIN);
    fp_claim_clear(&b);
    CHECK_EQ_INT(scalar(q, "SELECT count(*) FROM tasks WHERE id = $1 AND state = 'queued'", a.task_id), 1);
    int reaped = 0;
    CHECK_EQ_INT(fp_jobq_reap(q, &reaped, &e), 0);
    CHECK_EQ_INT(reaped, 0);
    tu_sleep(0.35);
    CHECK_EQ_INT(fp_jobq_claim(q, "w2", &b, &e), 0);
    CHECK_EQ_INT(b.attempt, 2);
    fp_err ze = { 0 };
    CHECK_EQ_INT(fp_jobq_heartbeat(q, &a, 0.5, &ze), FP_ELOST);
    CHECK_EQ_INT(fp_jobq_complete(q, &a, "zombie-key", &ze), FP_ELOST);
    CHECK_EQ_INT(fp_jobq_fail(q, &a, 1, "zombie says no", &ze), FP_ELOST);
    CHECK_EQ_INT(fp_jobq_complete(q, &b, "good-key", &e), 0);
    char **keys = NULL;
    int nk = 0;
    CHECK_EQ_INT(fp_jobq_chunk_keys(q, job, &keys, &nk, &e), 0);
    CHECK(nk == 1 && !strcmp(keys[0], "good-key"));
    fp_jobq_keys_free(&keys, nk);
    fp_claim_clear(&a);
    fp_claim_clear(&b);

    /* finish job 1 (its aggregate task comes first in claim order) */
    fp_claim ag;
    CHECK_EQ_INT(fp_jobq_claim(q, "w2", &ag, &e), 0);
    CHECK_EQ_INT(ag.kind, FP_TASK_AGGREGATE);
    CHECK_EQ_INT(fp_jobq_complete(q, &ag, "/out", &e), 0);
    fp_claim_clear(&ag);

    /* a lease that keeps expiring kills the task after max_attempts and fails the job */
    int64_t job2 = submit(q, 1, chunks3);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(fp_jobq_reap(q, NULL, &e), 0); /* requeues with backoff < 0.6 s (tries <= 2) */
        tu_sleep(0.65);
        fp_claim c;
        int ret = fp_jobq_claim(q, "dies", &c, &e);
        CHECK_EQ_INT(ret, 0);
        if (ret == 0) {
            CHECK_EQ_INT(c.job_id, job2);
            fp_claim_clear(&c);
        }
        tu_sleep(0.45);
    }
    CHECK_EQ_INT(fp_jobq_reap(q, NULL, &e), 0);
    fp_job_info info;
    CHECK_EQ_INT(fp_jobq_job(q, job2, &info, &e), 0);
    CHECK(!strcmp(info.state, "failed"));
    CHECK_MSG(strstr(info.error, "lease expired") != NULL, "%s", info.error);
    fp_jobq_freep(&q);
}

static void test_cancel_and_permanent(const char *url)
{
    fp_jobq *q = open_q(url, 30, 0.05, 3);
    fp_err e = { 0 };
    int64_t job = submit(q, 3, chunks3);
    fp_claim a, b;
    CHECK_EQ_INT(fp_jobq_claim(q, "w", &a, &e), 0);
    CHECK_EQ_INT(fp_jobq_cancel(q, job, &e), 0);
    fp_err ce = { 0 };
    CHECK_EQ_INT(fp_jobq_heartbeat(q, &a, 0.1, &ce), FP_ELOST);
    CHECK_EQ_INT(fp_jobq_claim(q, "w", &b, &e), FP_EAGAIN);
    fp_job_info info;
    CHECK_EQ_INT(fp_jobq_job(q, job, &info, &e), 0);
    CHECK(!strcmp(info.state, "cancelled"));
    fp_err ne = { 0 };
    CHECK_EQ_INT(fp_jobq_cancel(q, 999999, &ne), FP_EINVAL);
    fp_claim_clear(&a);

    int64_t job2 = submit(q, 3, chunks3);
    CHECK_EQ_INT(fp_jobq_claim(q, "w", &a, &e), 0);
    CHECK_EQ_INT(fp_jobq_fail(q, &a, 1, "input missing", &e), 0);
    CHECK_EQ_INT(fp_jobq_job(q, job2, &info, &e), 0);
    CHECK(!strcmp(info.state, "failed"));
    CHECK_EQ_INT(scalar(q, "SELECT tries FROM tasks WHERE id = $1", a.task_id), 1);
    fp_claim_clear(&a);
    fp_jobq_freep(&q);
}

/* Many threads, each with its own connection, drain 4 jobs x 40 chunks. */
#define NTHREADS 6
static const char *conc_url;
static atomic_int conc_done, conc_lost;

static void *conc_main(void *arg)
{
    fp_jobq *q = NULL;
    fp_err e = { 0 };
    fp_jobq_opts o = { 30, 0.01, 0.05, 5 };
    if (fp_jobq_open(&q, conc_url, &o, &e) < 0) {
        fprintf(stderr, "open: %s\n", e.msg);
        return NULL;
    }
    int idle = 0;
    while (idle < 20) {
        fp_claim c;
        fp_err ce = { 0 };
        int ret = fp_jobq_claim(q, "conc", &c, &ce);
        if (ret == FP_EAGAIN) {
            idle++;
            tu_sleep(0.01);
            continue;
        }
        if (ret < 0) {
            fprintf(stderr, "claim: %s\n", ce.msg);
            break;
        }
        idle = 0;
        char key[64];
        snprintf(key, sizeof(key), "k%lld-%d", (long long)c.task_id, c.attempt);
        if (fp_jobq_heartbeat(q, &c, 0.5, &ce) == 0 && fp_jobq_complete(q, &c, key, &ce) == 0)
            atomic_fetch_add(&conc_done, 1);
        else
            atomic_fetch_add(&conc_lost, 1);
        fp_claim_clear(&c);
    }
    fp_jobq_freep(&q);
    return NULL;
}

static void test_concurrent(const char *url)
{
    fp_jobq *q = open_q(url, 30, 0.01, 5);
    fp_chunk ch[40];
    for (int i = 0; i < 40; i++)
        ch[i] = (fp_chunk){ i * 10, i == 39 ? INT64_MAX : (i + 1) * 10, i * 10, 1 };
    for (int j = 0; j < 4; j++)
        submit(q, 40, ch);
    conc_url = url;
    pthread_t t[NTHREADS];
    double t0 = tu_now();
    for (int i = 0; i < NTHREADS; i++)
        pthread_create(&t[i], NULL, conc_main, NULL);
    for (int i = 0; i < NTHREADS; i++)
        pthread_join(t[i], NULL);
    printf("%s: concurrent: %d tasks completed by %d threads in %.2fs, %d lost\n", engine, atomic_load(&conc_done),
           NTHREADS, tu_now() - t0, atomic_load(&conc_lost));
    CHECK_EQ_INT(atomic_load(&conc_done), 4 * 41);
    CHECK_EQ_INT(atomic_load(&conc_lost), 0);
    CHECK_EQ_INT(scalar(q, "SELECT count(*) FROM completions WHERE task_id > $1", 0), 4 * 41);
    CHECK_EQ_INT(scalar(q, "SELECT count(*) FROM jobs WHERE state = 'done' AND id > $1", 0), 4);
    CHECK_EQ_INT(scalar(q, "SELECT count(*) FROM tasks WHERE kind = 'aggregate' AND id > $1", 0), 4);
    fp_jobq_freep(&q);
}

/* LISTEN/NOTIFY as a hint (PostgreSQL): a waiting connection is woken by another's submit long
 * before its timeout, and a plain wait with nothing sent runs to its timeout. SQLite only sleeps.
 * Also release: a released task is runnable at once, its try not counted, its attempt kept. */
static void test_notify_release(const char *url)
{
    fp_jobq *w = open_q(url, 30, 0.05, 3), *s = open_q(url, 30, 0.05, 3);
    if (!w || !s)
        return;
    fp_chunk ch[1] = { { 0, INT64_MAX, 0, 10 } };
    double t0 = tu_now();
    int r0 = fp_jobq_wait(w, 0.3); /* LISTENs, nothing sent */
    double quiet = tu_now() - t0;
    CHECK_EQ_INT(r0, 0);
    CHECK_MSG(quiet >= 0.25, "wait without notification returned after %.3fs", quiet);
    submit(s, 1, ch);
    t0 = tu_now();
    int r1 = fp_jobq_wait(w, 5);
    double woke = tu_now() - t0;
    if (!strcmp(engine, "postgres")) {
        CHECK_EQ_INT(r1, 1);
        CHECK_MSG(woke < 1, "NOTIFY did not shorten the wait (%.3fs)", woke);
        printf("test_queue postgres: woken by NOTIFY after %.1f ms (timeout 5 s)\n", woke * 1000);
    } else {
        CHECK_EQ_INT(r1, 0);
    }
    fp_claim c;
    fp_err e = { 0 };
    CHECK_EQ_INT(fp_jobq_claim(w, "w1", &c, &e), 0);
    CHECK_EQ_INT(c.attempt, 1);
    CHECK_EQ_INT(fp_jobq_release(w, &c, &e), 0);
    CHECK_EQ_INT(fp_jobq_release(w, &c, &e), FP_ELOST); /* no longer ours */
    fp_claim c2;
    CHECK_EQ_INT(fp_jobq_claim(s, "w2", &c2, &e), 0); /* runnable at once: no backoff */
    CHECK_EQ_INT(c2.task_id, c.task_id);
    CHECK_EQ_INT(c2.attempt, 2);
    CHECK_EQ_INT(c2.tries, 1); /* the released try was not counted */
    CHECK_EQ_INT(fp_jobq_complete(w, &c, "k-old", &e), FP_ELOST); /* the fence holds */
    CHECK_EQ_INT(fp_jobq_complete(s, &c2, "k", &e), 0);
    fp_claim_clear(&c);
    fp_claim_clear(&c2);
    fp_jobq_freep(&w);
    fp_jobq_freep(&s);
}

int main(int argc, char **argv)
{
    engine = argc > 1 ? argv[1] : "sqlite";
    const char *url = tu_fresh_queue(engine, "migr");
    if (!url) {
        printf("test_queue %s: engine not available (PostgreSQL fixture not running): skipped\n", engine);
        return FP_TEST_SKIP_CODE;
    }
    test_migrations(url);
    test_lifecycle(tu_fresh_queue(engine, "life"));
    test_lease_expiry(tu_fresh_queue(engine, "lease"));
    test_cancel_and_permanent(tu_fresh_queue(engine, "cancel"));
    test_concurrent(tu_fresh_queue(engine, "conc"));
    test_notify_release(tu_fresh_queue(engine, "notify"));
    tu_rmtmp();
    char name[64];
    snprintf(name, sizeof(name), "test_queue %s", engine);
    return fp_test_finish(name);
}
