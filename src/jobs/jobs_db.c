/*
 * jobs_db — SQLite and PostgreSQL behind one exec/transaction interface. See jobs_db.h.
 *
 * Owns: the connection handles and the translation of each engine's status into FP_EDB plus a
 * "retryable" flag. Does not own any SQL text beyond BEGIN/COMMIT/ROLLBACK.
 */
#include "jobs/jobs_db.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>
#ifdef FP_JOBS_HAVE_PG
#include <libpq-fe.h>
#else
/* Built without libpq: a postgres:// URL is refused at open (pg_connect below), so no connection ever
 * exists and the PostgreSQL paths that remain are unreachable; these keep them compiling. */
typedef struct fp_no_pgconn PGconn;
enum { CONNECTION_OK, CONNECTION_BAD };
static int PQstatus(const PGconn *c) { return CONNECTION_BAD; }
static void PQfinish(PGconn *c) { }
#endif

struct fp_db {
    int engine;
    char *url;
    sqlite3 *lite;
    PGconn *pg;
    int retryable;
    int in_txn;
    char listening[64]; /* channel LISTENed on this connection ("" none; a reconnect forgets it) */
};

int fp_db_engine_of(const fp_db *db) { return db->engine; }
const char *fp_db_url(const fp_db *db) { return db->url; }
int fp_db_retryable(const fp_db *db) { return db->retryable; }

/* The database clock for SQLite is the clock of the machine that holds the file; workers on other
 * machines would need PostgreSQL anyway (SQLite over NFS is not supported for concurrent writers). */
static void lite_now(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    sqlite3_result_double(ctx, (double)ts.tv_sec + ts.tv_nsec / 1e9);
}

#ifdef FP_JOBS_HAVE_PG
static void pg_quiet(void *arg, const char *msg) { }

static int pg_connect(fp_db *db, fp_err *e)
{
    if (db->pg)
        PQfinish(db->pg);
    db->pg = PQconnectdb(db->url);
    if (PQstatus(db->pg) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(db->pg));
        msg[strcspn(msg, "\n")] = 0;
        db->retryable = 1;
        return fp_errorf(e, FP_EDB, "queue: connect: %s", msg);
    }
    PQsetNoticeProcessor(db->pg, pg_quiet, NULL);
    /* A worker that dies inside a transaction must not hold row locks for long; the queue itself
     * never leaves a transaction idle (no work happens inside one). */
    PGresult *r = PQexec(db->pg, "SET idle_in_transaction_session_timeout = '30s'");
    PQclear(r);
    db->in_txn = 0;
    return 0;
}
#else
static int pg_connect(fp_db *db, fp_err *e)
{
    return fp_errorf(e, FP_EUNSUPPORTED,
                     "%s: queue: this framepipe was built without PostgreSQL support (libpq); use sqlite:PATH",
                     db->url);
}
#endif

int fp_db_open(fp_db **out, const char *url, fp_err *e)
{
    *out = NULL;
    fp_db *db = calloc(1, sizeof(*db));
    if (!db || !(db->url = strdup(url))) {
        free(db);
        return fp_errorf(e, FP_ENOMEM, "queue: open: out of memory");
    }
    if (!strncmp(url, "postgres://", 11) || !strncmp(url, "postgresql://", 13)) {
        db->engine = FP_DB_POSTGRES;
        int ret = pg_connect(db, e);
        if (ret < 0) {
            fp_db_freep(&db);
            return ret;
        }
    } else {
        const char *path = url;
        if (!strncmp(url, "sqlite:", 7))
            path = url + 7;
        else if (strstr(url, "://"))
            return free(db->url), free(db),
                   fp_errorf(e, FP_EINVAL, "%s: queue: unknown queue URL (want sqlite:PATH or postgres://...)", url);
        if (!*path) {
            free(db->url);
            free(db);
            return fp_errorf(e, FP_EINVAL, "queue: empty sqlite path");
        }
        db->engine = FP_DB_SQLITE;
        if (sqlite3_open_v2(path, &db->lite, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                            NULL) != SQLITE_OK) {
            fp_errorf(e, FP_EDB, "%s: queue: open: %s", path, db->lite ? sqlite3_errmsg(db->lite) : "out of memory");
            fp_db_freep(&db);
            return FP_EDB;
        }
        /* Many worker processes share the file: wait for the write lock rather than fail, and use WAL
         * so status readers never block claimers. */
        sqlite3_busy_timeout(db->lite, 30000);
        sqlite3_exec(db->lite, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
                     NULL, NULL, NULL);
        sqlite3_create_function(db->lite, "fp_now", 0, SQLITE_UTF8, NULL, lite_now, NULL, NULL);
    }
    *out = db;
    return 0;
}

void fp_db_freep(fp_db **pdb)
{
    fp_db *db = pdb ? *pdb : NULL;
    if (!db)
        return;
    if (db->lite)
        sqlite3_close_v2(db->lite);
    if (db->pg)
        PQfinish(db->pg);
    free(db->url);
    free(db);
    *pdb = NULL;
}

int fp_db_reconnect(fp_db *db, fp_err *e)
{
    if (db->engine != FP_DB_POSTGRES)
        return 0;
    if (db->pg && PQstatus(db->pg) == CONNECTION_OK && !db->in_txn)
        return 0;
    db->listening[0] = 0;
    return pg_connect(db, e);
}

int fp_db_notify(fp_db *db, const char *channel, fp_err *e)
{
    if (db->engine != FP_DB_POSTGRES)
        return 0;
    fp_dbv p[] = { FP_DB_S(channel) };
    return fp_db_exec(db, "SELECT pg_notify($1, '')", p, 1, NULL, NULL, NULL, e);
}

int fp_db_wait(fp_db *db, const char *channel, double timeout_s)
{
    if (db->engine != FP_DB_POSTGRES || !db->pg || PQstatus(db->pg) != CONNECTION_OK || db->in_txn) {
        struct timespec ts = { (time_t)timeout_s, (long)((timeout_s - (time_t)timeout_s) * 1e9) };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
            ;
        return 0;
    }
#ifdef FP_JOBS_HAVE_PG
    if (strcmp(db->listening, channel)) {
        char sql[128];
        fp_err e = { 0 };
        snprintf(sql, sizeof(sql), "LISTEN %s", channel);
        if (fp_db_exec(db, sql, NULL, 0, NULL, NULL, NULL, &e) == 0)
            snprintf(db->listening, sizeof(db->listening), "%s", channel);
    }
    /* Notifications that arrived during earlier statements are already queued in libpq. */
    int got = 0;
    for (PGnotify *n; (n = PQnotifies(db->pg)); PQfreemem(n))
        got = 1;
    if (got)
        return 1;
    struct pollfd pfd = { PQsocket(db->pg), POLLIN, 0 };
    if (pfd.fd < 0 || poll(&pfd, 1, (int)(timeout_s * 1000)) <= 0)
        return 0;
    if (!PQconsumeInput(db->pg))
        return 0; /* broken: the next statement reports it and the queue reconnects */
    for (PGnotify *n; (n = PQnotifies(db->pg)); PQfreemem(n))
        got = 1;
    return got;
#else
    return 0;
#endif
}

static int lite_exec(fp_db *db, const char *sql, const fp_dbv *params, int nparams, fp_db_row_fn row,
                     void *opaque, int64_t *changed, fp_err *e)
{
    const char *tail = sql;
    int64_t total = 0;
    while (tail && *tail) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db->lite, tail, -1, &st, &tail);
        if (rc != SQLITE_OK)
            goto fail;
        if (!st)
            break; /* trailing whitespace or comment */
        for (int i = 0; i < nparams; i++) {
            char name[16];
            snprintf(name, sizeof(name), "$%d", i + 1);
            int idx = sqlite3_bind_parameter_index(st, name);
            if (!idx)
                continue;
            switch (params[i].type) {
            case FP_DBV_INT:  sqlite3_bind_int64(st, idx, params[i].i); break;
            case FP_DBV_REAL: sqlite3_bind_double(st, idx, params[i].d); break;
            case FP_DBV_TEXT: sqlite3_bind_text(st, idx, params[i].s, -1, SQLITE_TRANSIENT); break;
            default:          sqlite3_bind_null(st, idx); break;
            }
        }
        int stop = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (!row || stop)
                continue;
            int n = sqlite3_column_count(st);
            const char *vals[64];
            if (n > 64)
                n = 64;
            for (int c = 0; c < n; c++)
                vals[c] = (const char *)sqlite3_column_text(st, c);
            stop = row(opaque, n, vals);
        }
        if (rc != SQLITE_DONE) {
            sqlite3_finalize(st);
            goto fail;
        }
        total += sqlite3_changes(db->lite);
        sqlite3_finalize(st);
    }
    if (changed)
        *changed = total;
    return 0;
fail: {
        int code = sqlite3_extended_errcode(db->lite) & 0xff;
        db->retryable = code == SQLITE_BUSY || code == SQLITE_LOCKED;
        return fp_errorf(e, FP_EDB, "%s: queue: sqlite: %s", db->url, sqlite3_errmsg(db->lite));
    }
}

#ifdef FP_JOBS_HAVE_PG
static int pg_fail(fp_db *db, PGresult *r, fp_err *e)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    char msg[512];
    snprintf(msg, sizeof(msg), "%s", r && PQresultErrorMessage(r)[0] ? PQresultErrorMessage(r) : PQerrorMessage(db->pg));
    msg[strcspn(msg, "\n")] = 0;
    db->retryable = PQstatus(db->pg) != CONNECTION_OK ||
                    (state && (!strncmp(state, "08", 2) || !strcmp(state, "57P01") || !strcmp(state, "40001") ||
                               !strcmp(state, "40P01") || !strcmp(state, "25P03")));
    PQclear(r);
    return fp_errorf(e, FP_EDB, "queue: postgres: %s", msg);
}

static int pg_exec(fp_db *db, const char *sql, const fp_dbv *params, int nparams, fp_db_row_fn row,
                   void *opaque, int64_t *changed, fp_err *e)
{
    PGresult *r;
    if (nparams == 0) {
        r = PQexec(db->pg, sql);
    } else {
        char buf[64][32];
        const char *vals[64];
        if (nparams > 64)
            return fp_errorf(e, FP_EINTERNAL, "queue: too many parameters");
        for (int i = 0; i < nparams; i++) {
            switch (params[i].type) {
            case FP_DBV_INT:  snprintf(buf[i], sizeof(buf[i]), "%" PRId64, params[i].i); vals[i] = buf[i]; break;
            case FP_DBV_REAL: snprintf(buf[i], sizeof(buf[i]), "%.17g", params[i].d); vals[i] = buf[i]; break;
            case FP_DBV_TEXT: vals[i] = params[i].s; break;
            default:          vals[i] = NULL; break;
            }
        }
        r = PQexecParams(db->pg, sql, nparams, NULL, vals, NULL, NULL, 0);
    }
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
        return pg_fail(db, r, e);
    int n = PQnfields(r), rows = PQntuples(r);
    if (n > 64)
        n = 64;
    for (int i = 0; row && i < rows; i++) {
        const char *vals[64];
        for (int c = 0; c < n; c++)
            vals[c] = PQgetisnull(r, i, c) ? NULL : PQgetvalue(r, i, c);
        if (row(opaque, n, vals))
            break;
    }
    if (changed) {
        const char *t = PQcmdTuples(r);
        *changed = t && *t ? strtoll(t, NULL, 10) : rows;
    }
    PQclear(r);
    return 0;
}
#else
static int pg_exec(fp_db *db, const char *sql, const fp_dbv *params, int nparams, fp_db_row_fn row,
                   void *opaque, int64_t *changed, fp_err *e)
{
    return fp_errorf(e, FP_EUNSUPPORTED, "queue: built without PostgreSQL support");
}
#endif

int fp_db_exec(fp_db *db, const char *sql, const fp_dbv *params, int nparams, fp_db_row_fn row, void *opaque,
               int64_t *changed, fp_err *e)
{
    db->retryable = 0;
    if (db->engine == FP_DB_SQLITE)
        return lite_exec(db, sql, params, nparams, row, opaque, changed, e);
    if (!db->pg || PQstatus(db->pg) != CONNECTION_OK) {
        db->retryable = 1;
        return fp_errorf(e, FP_EDB, "queue: postgres: connection lost");
    }
    return pg_exec(db, sql, params, nparams, row, opaque, changed, e);
}

int fp_db_begin(fp_db *db, fp_err *e)
{
    int ret = fp_db_exec(db, db->engine == FP_DB_SQLITE ? "BEGIN IMMEDIATE" : "BEGIN", NULL, 0, NULL, NULL, NULL, e);
    if (ret == 0)
        db->in_txn = 1;
    return ret;
}

int fp_db_commit(fp_db *db, fp_err *e)
{
    int ret = fp_db_exec(db, "COMMIT", NULL, 0, NULL, NULL, NULL, e);
    if (ret < 0)
        fp_db_rollback(db);
    db->in_txn = 0;
    return ret;
}

void fp_db_rollback(fp_db *db)
{
    int keep = db->retryable;
    if (db->engine == FP_DB_SQLITE) {
        if (!sqlite3_get_autocommit(db->lite))
            sqlite3_exec(db->lite, "ROLLBACK", NULL, NULL, NULL);
    }
#ifdef FP_JOBS_HAVE_PG
    else if (db->pg && PQstatus(db->pg) == CONNECTION_OK && PQtransactionStatus(db->pg) != PQTRANS_IDLE) {
        PQclear(PQexec(db->pg, "ROLLBACK"));
    }
#endif
    db->in_txn = 0;
    db->retryable = keep;
}

static int scalar_row(void *opaque, int n, const char *const *v)
{
    *(int64_t *)opaque = n > 0 && v[0] ? strtoll(v[0], NULL, 10) : 0;
    return 1;
}

int fp_db_scalar(fp_db *db, const char *sql, const fp_dbv *params, int nparams, int64_t *out, fp_err *e)
{
    *out = 0;
    return fp_db_exec(db, sql, params, nparams, scalar_row, out, NULL, e);
}
