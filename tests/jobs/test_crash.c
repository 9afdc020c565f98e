/*
 * test_crash — reliability under process death and pauses, on one engine.
 *
 * usage: test_crash ENGINE crash KILLS BATCH  workers SIGKILLed at random points (>= KILLS kills over
 *                                             batches of BATCH small jobs), respawned; then every chunk must be
 *                                             completed exactly once (audit table), every job done, and
 *                                             every output identical to an uninterrupted run.
 *        test_crash ENGINE zombie             a worker SIGSTOPped past its lease and resumed cannot
 *                                             complete or overwrite the chunk another worker took over.
 *        test_crash postgres dbfaults PGSTATE  pg_terminate_backend on worker connections, a server
 *                                             restart mid-run, and an idle-in-transaction session
 *                                             holding a task row lock: nothing lost, claims go on.
 * Workers are forked processes running fp_worker_run; FP_JOBS_FAULT_SLEEP_MS widens the windows
 * between steps so kills land inside claims, work, uploads and completions, not only in idle polls.
 */
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "fp_test.h"
#include "jobs/jobs_queue.h"
#include "jobs/jobs_worker.h"
#include "jobs_testutil.h"

static char url[1024], work[512], store[600], clip[512];
static const char *tasks[2] = { "remux", "packetmd5" };
static const char *exts[2] = { "mp4", "jsonl" };
static char ref[2][600];

static pid_t spawn_worker(double lease, double beat, const char *name)
{
    pid_t pid = fork();
    if (pid == 0) {
        fp_worker_opts o = { .queue_url = url, .name = name, .workdir = work, .poll_s = 0.03, .beat_s = beat,
                             .qopts = { lease, 0.02, 0.2, 1000 } };
        fp_err e = { 0 };
        int ret = fp_worker_run(&o, NULL, &e);
        if (ret < 0)
            fprintf(stderr, "worker %d: %s\n", getpid(), e.msg);
        _exit(ret < 0 ? 1 : 0);
    }
    return pid;
}

static int64_t scalar(const char *sql)
{
    fp_jobq *q = NULL;
    fp_err e = { 0 };
    int64_t v = -1;
    if (fp_jobq_open(&q, url, NULL, &e) < 0 || fp_db_scalar(q->db, sql, NULL, 0, &v, &e) < 0)
        fprintf(stderr, "%s: %s\n", sql, e.msg);
    fp_jobq_freep(&q);
    return v;
}

static int same_file(const char *a, const char *b)
{
    char cmd[1400];
    snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", a, b);
    return system(cmd) == 0;
}

static int setup(const char *engine, const char *name)
{
    const char *u = tu_fresh_queue(engine, name);
    if (!u)
        return -1;
    snprintf(url, sizeof(url), "%s", u);
    snprintf(work, sizeof(work), "%s/work", tu_tmpdir());
    snprintf(store, sizeof(store), "file://%s/store", tu_tmpdir());
    snprintf(clip, sizeof(clip), "%s/clip.mp4", tu_tmpdir());
    mkdir(work, 0700);
    if (tu_make_clip(clip, 2, 5) < 0)
        return -2;
    /* references: the uninterrupted, single-chunk runs */
    for (int t = 0; t < 2; t++) {
        snprintf(ref[t], sizeof(ref[t]), "%s/ref.%s", tu_tmpdir(), exts[t]);
        fp_job_spec s = { (char *)tasks[t], clip, ref[t], NULL, 1000, -1, (char *)"{}" };
        fp_err e = { 0 };
        int ret = fp_jobs_run_local(&s, 1, &e);
        CHECK_MSG(ret == 0, "reference %s: %s", tasks[t], e.msg);
    }
    return 0;
}

static int64_t submit(int t, const char *out, double chunk_s)
{
    fp_job_spec s = { (char *)tasks[t], clip, (char *)out, store, chunk_s, -1, (char *)"{}" };
    fp_err e = { 0 };
    int64_t id = 0;
    fp_jobq_opts qo = { 0, 0, 0, 1000 };
    int ret = fp_jobs_submit(url, &s, &qo, &id, &e);
    CHECK_MSG(ret == 0, "submit: %s", e.msg);
    return id;
}

static void audit(int njobs, int64_t expect_tasks)
{
    int64_t tasks_n = scalar("SELECT count(*) FROM tasks");
    int64_t done = scalar("SELECT count(*) FROM tasks WHERE state = 'done'");
    int64_t comp = scalar("SELECT count(*) FROM completions");
    int64_t distinct = scalar("SELECT count(DISTINCT task_id) FROM completions");
    int64_t wrong_attempt = scalar("SELECT count(*) FROM completions c JOIN tasks t ON t.id = c.task_id"
                                   " WHERE c.attempt <> t.attempt OR c.result_key <> t.result_key");
    int64_t attempts = scalar("SELECT sum(attempt) FROM tasks");
    int64_t jobs_done = scalar("SELECT count(*) FROM jobs WHERE state = 'done'");
    printf("audit: %lld tasks, %lld done, %lld completions (%lld distinct), %lld attempts in all, %lld/%d jobs done\n",
           (long long)tasks_n, (long long)done, (long long)comp, (long long)distinct, (long long)attempts,
           (long long)jobs_done, njobs);
    CHECK_EQ_INT(tasks_n, expect_tasks);
    CHECK_EQ_INT(done, expect_tasks);       /* zero lost */
    CHECK_EQ_INT(comp, expect_tasks);       /* zero completed twice */
    CHECK_EQ_INT(distinct, expect_tasks);
    CHECK_EQ_INT(wrong_attempt, 0);         /* the recorded key is the completing attempt's */
    CHECK_EQ_INT(jobs_done, njobs);
}

static int wait_all_done(int njobs, double timeout)
{
    double t0 = tu_now();
    while (tu_now() - t0 < timeout) {
        if (scalar("SELECT count(*) FROM jobs WHERE state = 'done'") == njobs)
            return 0;
        tu_sleep(0.2);
    }
    return -1;
}

static void stop_workers(pid_t *pids, int n)
{
    for (int i = 0; i < n; i++)
        if (pids[i] > 0)
            kill(pids[i], SIGKILL);
    for (int i = 0; i < n; i++)
        if (pids[i] > 0)
            waitpid(pids[i], NULL, 0);
}

static void test_crash(int kills_wanted, int batch)
{
    enum { NW = 3, MAXJOBS = 512 };
    static char outs[MAXJOBS][600];
    int njobs = 0;
    /* Jobs come in batches: whenever the queue drains before enough kills have landed, another
     * batch is submitted, so every kill hits a busy system. */
#define SUBMIT_BATCH()                                                                        \
    for (int b_ = 0; b_ < batch && njobs < MAXJOBS; b_++, njobs++) {                          \
        snprintf(outs[njobs], sizeof(outs[njobs]), "%s/out-%d.%s", tu_tmpdir(), njobs, exts[njobs % 2]); \
        submit(njobs % 2, outs[njobs], 0.2);                                                  \
    }
    SUBMIT_BATCH();
    setenv("FP_JOBS_FAULT_SLEEP_MS", "40", 1);
    pid_t pids[NW];
    char names[NW][32];
    for (int i = 0; i < NW; i++) {
        snprintf(names[i], sizeof(names[i]), "crash-w%d", i);
        pids[i] = spawn_worker(0.5, 0.1, names[i]);
    }
    unsigned seed = 12345;
    printf("crash: seed %u, batches of %d jobs, %d workers\n", seed, batch, NW);
    int kills = 0;
    double t0 = tu_now();
    while (kills < kills_wanted && tu_now() - t0 < 600) {
        tu_sleep((10 + rand_r(&seed) % 90) / 1000.0);
        int i = rand_r(&seed) % NW;
        kill(pids[i], SIGKILL);
        waitpid(pids[i], NULL, 0);
        kills++;
        pids[i] = spawn_worker(0.5, 0.1, names[i]);
        if (kills % 10 == 0 && scalar("SELECT count(*) FROM jobs WHERE state <> 'done'") == 0)
            SUBMIT_BATCH();
    }
    int ok = wait_all_done(njobs, 300);
    stop_workers(pids, NW);
    int64_t expect = scalar("SELECT count(*) FROM tasks WHERE kind = 'chunk'") + njobs; /* + one aggregate per job */
    printf("crash: %d SIGKILLs over %d jobs in %.1fs\n", kills, njobs, tu_now() - t0);
    CHECK_MSG(ok == 0, "jobs not all done");
    CHECK_MSG(kills >= kills_wanted, "only %d kills", kills);
    audit(njobs, expect);
    int same = 0;
    for (int j = 0; j < njobs; j++)
        same += same_file(outs[j], ref[j % 2]);
    printf("crash: %d/%d outputs identical to the uninterrupted run\n", same, njobs);
    CHECK_EQ_INT(same, njobs);
    unsetenv("FP_JOBS_FAULT_SLEEP_MS");
#undef SUBMIT_BATCH
}

/* Wait until sql counts want rows, polling; -1 after timeout seconds. The zombie test waits on
 * states it can observe in the database instead of sleeping for guessed times, so a loaded machine
 * (2 cores shared by several builds; PostgreSQL connections slow to open) only makes it slower. */
static int wait_count(const char *sql, int64_t want, double timeout)
{
    double t0 = tu_now();
    while (tu_now() - t0 < timeout) {
        if (scalar(sql) == want)
            return 0;
        tu_sleep(0.01);
    }
    return -1;
}

static void test_zombie(void)
{
    char out[600], sql[400];
    snprintf(out, sizeof(out), "%s/zombie.jsonl", tu_tmpdir());
    int64_t job = submit(1, out, 1000); /* one chunk */
    int64_t expect = 2;
    /* the zombie sleeps exactly 1.5 s between steps, so it is stopped inside its task */
    setenv("FP_JOBS_FAULT_SLEEP_MS", "=1500", 1);
    pid_t z = spawn_worker(0.6, 0.1, "zombie");
    unsetenv("FP_JOBS_FAULT_SLEEP_MS");
    int held = wait_count("SELECT count(*) FROM tasks WHERE state = 'running' AND worker = 'zombie'", 1, 120);
    kill(z, SIGSTOP);
    CHECK_MSG(held == 0, "the zombie never held the chunk");
    printf("zombie: stopped while holding the chunk\n");
    CHECK_EQ_INT(scalar("SELECT count(*) FROM completions"), 0); /* stopped before it could finish */
    /* its lease (0.6 s, no heartbeat while stopped) runs out by the database's clock */
    CHECK_MSG(wait_count("SELECT count(*) FROM tasks WHERE state = 'running' AND worker = 'zombie'"
                         " AND lease_until < fp_now()", 1, 120) == 0, "the zombie's lease did not expire");
    pid_t w = spawn_worker(0.6, 0.1, "rescuer");
    int ok = wait_all_done(1, 180);
    CHECK_MSG(ok == 0, "job not done after the rescue");
    kill(w, SIGKILL);
    waitpid(w, NULL, 0);
    int64_t comp_before = scalar("SELECT count(*) FROM completions");
    int64_t woke_ms = scalar("SELECT CAST(fp_now() * 1000 AS BIGINT)");
    kill(z, SIGCONT);
    /* The zombie wakes, its heartbeat/complete is refused, it deletes its own key, and only then goes
     * back to polling: an idle poll after the wake-up (task_id 0) means it is through with the chunk. */
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM workers WHERE name = 'zombie' AND task_id = 0 AND seen_at * 1000 > %lld",
             (long long)woke_ms);
    CHECK_MSG(wait_count(sql, 1, 180) == 0, "the zombie did not finish with its chunk after SIGCONT");
    kill(z, SIGKILL);
    waitpid(z, NULL, 0);
    CHECK_EQ_INT(scalar("SELECT count(*) FROM completions"), comp_before);
    CHECK_EQ_INT(scalar("SELECT count(*) FROM completions c JOIN tasks t ON t.id = c.task_id"
                        " WHERE t.kind = 'chunk' AND c.worker = 'rescuer' AND c.attempt = 2"), 1);
    CHECK_EQ_INT(scalar("SELECT count(*) FROM completions WHERE worker = 'zombie'"), 0);
    audit(1, expect);
    CHECK(same_file(out, ref[1]));
    /* the zombie's own chunk object (attempt 1) is not what the database points at, and it removed it */
    char cmd[800];
    snprintf(cmd, sizeof(cmd), "test ! -e '%s/store/jobs/%lld/chunk-00000-a1.jsonl'", tu_tmpdir(), (long long)job);
    CHECK_MSG(system(cmd) == 0, "zombie's chunk object left behind");
}

/* PostgreSQL only: connection kills, a restart, and an idle-in-transaction lock holder. */
#ifdef FP_JOBS_HAVE_PG
static void test_dbfaults(const char *pgstate)
{
    enum { NW = 3, NJOBS = 8 };
    char outs[NJOBS][600];
    for (int j = 0; j < NJOBS; j++) {
        snprintf(outs[j], sizeof(outs[j]), "%s/db-%d.%s", tu_tmpdir(), j, exts[j % 2]);
        submit(j % 2, outs[j], 0.2);
    }
    int64_t expect = scalar("SELECT count(*) FROM tasks") + NJOBS;
    /* an idle-in-transaction session holds a row lock on the first chunk of job 1 */
    PGconn *idle = PQconnectdb(url);
    PQclear(PQexec(idle, "BEGIN"));
    PGresult *r = PQexec(idle, "SELECT id FROM tasks WHERE job_id = 1 AND idx = 0 FOR UPDATE");
    CHECK(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1);
    PQclear(r);
    setenv("FP_JOBS_FAULT_SLEEP_MS", "30", 1);
    pid_t pids[NW];
    for (int i = 0; i < NW; i++)
        pids[i] = spawn_worker(2, 0.2, NULL);
    /* claims must go on around the locked row */
    double t0 = tu_now();
    while (scalar("SELECT count(*) FROM completions") < 5 && tu_now() - t0 < 30)
        tu_sleep(0.05);
    printf("dbfaults: %lld completions within %.1fs while a session sat idle in transaction on a task row\n",
           (long long)scalar("SELECT count(*) FROM completions"), tu_now() - t0);
    CHECK(scalar("SELECT count(*) FROM completions") >= 5);
    PQclear(PQexec(idle, "ROLLBACK"));
    PQfinish(idle);

    PGconn *admin = PQconnectdb(url);
    int terminated = 0;
    for (int round = 0; round < 10; round++) {
        tu_sleep(0.15);
        r = PQexec(admin, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                          " WHERE datname = current_database() AND pid <> pg_backend_pid()");
        if (PQresultStatus(r) == PGRES_TUPLES_OK)
            terminated += atoi(PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    PQfinish(admin);
    printf("dbfaults: %d worker connections terminated\n", terminated);
    CHECK(terminated >= 10);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "'%s/pg_fixture.sh' restart '%s' /dev/null 2", FP_JOBS_TEST_DIR, pgstate);
    int rc = system(cmd);
    CHECK_MSG(rc == 0, "restart failed");
    printf("dbfaults: server restarted (immediate stop, 2 s down)\n");
    int ok = wait_all_done(NJOBS, 240);
    int alive = 0;
    for (int i = 0; i < NW; i++)
        alive += waitpid(pids[i], NULL, WNOHANG) == 0;
    printf("dbfaults: %d/%d workers survived the faults\n", alive, NW);
    CHECK_EQ_INT(alive, NW);
    stop_workers(pids, NW);
    unsetenv("FP_JOBS_FAULT_SLEEP_MS");
    CHECK_MSG(ok == 0, "jobs not all done after database faults");
    audit(NJOBS, expect);
    int same = 0;
    for (int j = 0; j < NJOBS; j++)
        same += same_file(outs[j], ref[j % 2]);
    CHECK_EQ_INT(same, NJOBS);
}
#else
static void test_dbfaults(const char *pgstate) { }
#endif

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_crash ENGINE crash KILLS JOBS | zombie | dbfaults PGSTATE\n");
        return 2;
    }
    const char *engine = argv[1], *mode = argv[2];
    int r = setup(engine, mode);
    if (r == -1) {
        printf("test_crash %s: engine not available: skipped\n", engine);
        return FP_TEST_SKIP_CODE;
    }
    if (r == -2) {
        printf("test_crash: ffmpeg with libx264 missing: skipped\n");
        return FP_TEST_SKIP_CODE;
    }
    if (!strcmp(mode, "crash"))
        test_crash(argc > 3 ? atoi(argv[3]) : 100, argc > 4 ? atoi(argv[4]) : 4);
    else if (!strcmp(mode, "zombie"))
        test_zombie();
    else if (!strcmp(mode, "dbfaults") && argc > 3)
        test_dbfaults(argv[3]);
    else {
        fprintf(stderr, "test_crash: unknown mode %s\n", mode);
        return 2;
    }
    tu_rmtmp();
    char name[96];
    snprintf(name, sizeof(name), "test_crash %s %s", engine, mode);
    return fp_test_finish(name);
}
