/*
 * jobs_testutil — helpers the job tests share: which queue URL a test runs against (SQLite file in a
 * temp dir, or the PostgreSQL server the ctest fixture started), fresh databases per test, and small
 * generated clips (ffmpeg CLI).
 */
#ifndef FP_JOBS_TESTUTIL_H
#define FP_JOBS_TESTUTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#ifdef FP_JOBS_HAVE_PG
#include <libpq-fe.h>
#endif

#define FP_TEST_SKIP_CODE 77

static inline double tu_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return tv.tv_sec + tv.tv_usec / 1e6;
}

static inline void tu_sleep(double s) { usleep((useconds_t)(s * 1e6)); }

/* A temp directory for this test run (created once). */
static inline const char *tu_tmpdir(void)
{
    static char dir[256];
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "%s/fp-jobs-test-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            exit(1);
        }
    }
    return dir;
}

static inline void tu_rmtmp(void)
{
    char cmd[512];
    if (getenv("FP_TEST_KEEP")) { /* keep the files for a post-mortem */
        fprintf(stderr, "kept %s\n", tu_tmpdir());
        return;
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tu_tmpdir());
    if (system(cmd)) {}
}

/* PostgreSQL URL written by the fixture (tests/jobs/pg_fixture.sh), or NULL when none runs. */
static inline const char *tu_pg_base(void)
{
    static char url[512];
    const char *f = getenv("FP_TEST_PG_URL_FILE");
    FILE *fp = f ? fopen(f, "r") : NULL;
    if (!fp)
        return NULL;
    if (!fgets(url, sizeof(url), fp))
        url[0] = 0;
    fclose(fp);
    url[strcspn(url, "\n")] = 0;
    return url[0] ? url : NULL;
}

/* A fresh, empty queue URL of the given engine ("sqlite" or "postgres"); NULL if the engine is not
 * available (PostgreSQL fixture not running). Each call makes a new database. */
static inline const char *tu_fresh_queue(const char *engine, const char *name)
{
    static char url[1024];
    if (!strcmp(engine, "sqlite")) {
        snprintf(url, sizeof(url), "sqlite:%s/%s.db", tu_tmpdir(), name);
        return url;
    }
#ifndef FP_JOBS_HAVE_PG
    return NULL; /* built without libpq: the PostgreSQL variants skip */
#else
    const char *base = tu_pg_base();
    if (!base)
        return NULL;
    PGconn *c = PQconnectdb(base);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "postgres fixture unreachable: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    char db[128], sql[512];
    snprintf(db, sizeof(db), "fp_%s_%ld", name, (long)getpid());
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
    PQclear(PQexec(c, sql));
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", db);
    PGresult *r = PQexec(c, sql);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "create database: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    if (!ok)
        return NULL;
    /* base is postgres://user@host:port/dbname: replace the database name */
    const char *slash = strrchr(base, '/');
    snprintf(url, sizeof(url), "%.*s/%s", (int)(slash - base), base, db);
    return url;
#endif
}

/* Generate a clip with ffmpeg: seconds long, 64x48 at 25 fps, H.264 with B-frames and keyframes
 * every gop frames, AAC audio. Returns 0 or -1. */
static inline int tu_make_clip(const char *path, double seconds, int gop)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "ffmpeg -nostdin -v error -y -f lavfi -i testsrc=size=64x48:rate=25 -f lavfi -i sine=frequency=440 "
             "-t %g -c:v libx264 -preset ultrafast -g %d -keyint_min %d -sc_threshold 0 -bf 2 -c:a aac -shortest '%s'",
             seconds, gop, gop, path);
    return system(cmd) == 0 ? 0 : -1;
}

#endif
