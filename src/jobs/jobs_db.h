/*
 * jobs_db — the two SQL engines behind the job queue (SQLite file, PostgreSQL via libpq).
 *
 * Owns: connections, parameter binding, transactions, reconnecting after a lost PostgreSQL
 * connection, and the one SQL dialect the queue writes in (named parameters $1..$n, fp_now() for the
 * database clock in seconds since the epoch). Does not own the schema or any queue logic
 * (jobs_queue.c); it knows nothing about jobs or tasks.
 *
 * Why one dialect: the queue's statements are written once and run on both engines, so the two
 * engines cannot drift apart. SQLite accepts "$1" as a named parameter; PostgreSQL gets fp_now()
 * from migration 1, SQLite from an application function registered on open.
 */
#ifndef FP_JOBS_DB_H
#define FP_JOBS_DB_H

#include <stdint.h>

#include "core/fp_error.h"

enum fp_db_engine { FP_DB_SQLITE, FP_DB_POSTGRES };

enum fp_dbv_type { FP_DBV_NULL, FP_DBV_INT, FP_DBV_REAL, FP_DBV_TEXT };

/* One bound parameter. Text is borrowed for the duration of the call. */
typedef struct fp_dbv {
    int type;
    int64_t i;
    double d;
    const char *s;
} fp_dbv;

#define FP_DB_I(v) ((fp_dbv){ .type = FP_DBV_INT, .i = (v) })
#define FP_DB_D(v) ((fp_dbv){ .type = FP_DBV_REAL, .d = (v) })
#define FP_DB_S(v) ((fp_dbv){ .type = (v) ? FP_DBV_TEXT : FP_DBV_NULL, .s = (v) })

/* Row callback: vals[i] is NULL for SQL NULL, else text valid only during the call. Return non-zero
 * to stop reading rows (not an error). */
typedef int (*fp_db_row_fn)(void *opaque, int ncols, const char *const *vals);

typedef struct fp_db fp_db;

/* Open "sqlite:PATH" (or a plain path ending in .db) or "postgres://..." / "postgresql://...".
 * On success *out owns a connection, freed with fp_db_freep(). On failure *out is NULL. */
int fp_db_open(fp_db **out, const char *url, fp_err *e);
void fp_db_freep(fp_db **db);

int fp_db_engine_of(const fp_db *db);
const char *fp_db_url(const fp_db *db);

/* Run one statement. rows_changed (may be NULL) receives the number of rows changed (or returned
 * for a RETURNING statement on PostgreSQL). Returns 0, or FP_EDB with the engine's message in e.
 * Does not retry: a lost connection is reported as FP_EDB and noted so fp_db_reconnect() can act. */
int fp_db_exec(fp_db *db, const char *sql, const fp_dbv *params, int nparams,
               fp_db_row_fn row, void *opaque, int64_t *rows_changed, fp_err *e);

/* Transactions. begin_write takes the write lock up front on SQLite (BEGIN IMMEDIATE) so two
 * claimers serialize at BEGIN instead of deadlocking on upgrade; on PostgreSQL it is a plain BEGIN
 * (row locks do the work). rollback never fails visibly and is a no-op outside a transaction. */
int fp_db_begin(fp_db *db, fp_err *e);
int fp_db_commit(fp_db *db, fp_err *e);
void fp_db_rollback(fp_db *db);

/* Non-zero when the last error was a broken connection (PostgreSQL) or a busy/locked database
 * (SQLite): the whole operation may be retried after fp_db_reconnect(). */
int fp_db_retryable(const fp_db *db);
/* Re-establish a PostgreSQL connection (no-op for SQLite). Returns 0 or FP_EDB. */
int fp_db_reconnect(fp_db *db, fp_err *e);

/* Wake-up hints (PostgreSQL LISTEN/NOTIFY; SQLite has none). fp_db_notify sends a notification on
 * channel (inside a transaction it is delivered at commit). fp_db_wait LISTENs on channel (once per
 * connection) and waits up to timeout_s for a notification: 1 when one arrived, 0 on timeout; on
 * SQLite or without a usable connection it just sleeps timeout_s. A hint only: callers still poll. */
int fp_db_notify(fp_db *db, const char *channel, fp_err *e);
int fp_db_wait(fp_db *db, const char *channel, double timeout_s);

/* Convenience: first column of the first row as int64 (0 when no row). */
int fp_db_scalar(fp_db *db, const char *sql, const fp_dbv *params, int nparams, int64_t *out, fp_err *e);

#endif
