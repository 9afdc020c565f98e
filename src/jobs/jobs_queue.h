/*
 * jobs_queue — the job queue: schema migrations, submit, claim, heartbeat, complete, fail, reap,
 * cancel, redrive and the read side used by status/serve/aggregation.
 *
 * Owns: every SQL statement about jobs and tasks, the task state machine (docs/jobs.md), attempt
 * fencing (a write from an attempt that is no longer current changes nothing and returns FP_ELOST),
 * retry backoff, and retrying whole operations after a lost database connection. Does not own what a
 * task does (jobs_task.h), storage (jobs_store.h) or the worker loop (jobs_worker.h).
 *
 * Never holds a transaction open across a call: each function below is one short transaction.
 */
#ifndef FP_JOBS_QUEUE_H
#define FP_JOBS_QUEUE_H

#include <stdint.h>

#include "core/fp_error.h"
#include "jobs/jobs_db.h"

#define FP_QUEUE_SCHEMA_VERSION 4

typedef struct fp_jobq_opts {
    double lease_s;        /* lease length; a heartbeat renews it (default 60) */
    double backoff_base_s; /* first retry delay (default 2) */
    double backoff_max_s;  /* cap of the exponential backoff (default 300) */
    int max_attempts;      /* tries before a task is dead (default 3) */
} fp_jobq_opts;

typedef struct fp_jobq {
    fp_db *db;
    fp_jobq_opts opts;
    unsigned seed; /* jitter */
} fp_jobq;

/* One chunk of a plan, as stored in tasks. pts are in the video stream's time base. */
typedef struct fp_chunk {
    int64_t start_pts;  /* first output frame (inclusive) */
    int64_t end_pts;    /* first frame of the next chunk (exclusive); INT64_MAX for the last */
    int64_t warmup_pts; /* first frame to process (== start_pts without warm-up) */
    int nframes;        /* output frames in the chunk */
} fp_chunk;

enum fp_task_kind { FP_TASK_CHUNK, FP_TASK_AGGREGATE };

/* A claimed task: the caller owns the strings (fp_claim_clear frees them). */
typedef struct fp_claim {
    int64_t task_id, job_id;
    int kind;
    int idx;
    int attempt; /* fencing token: passed back on every write */
    int tries;   /* tries so far including this one (backoff exponent) */
    fp_chunk chunk;
    char *task, *input, *output, *storage, *spec;
} fp_claim;

void fp_claim_clear(fp_claim *c);

/* Open the queue at url (see fp_db_open) and migrate it to FP_QUEUE_SCHEMA_VERSION. opts may be NULL
 * (defaults). On failure *out is NULL. Free with fp_jobq_freep(). */
int fp_jobq_open(fp_jobq **out, const char *url, const fp_jobq_opts *opts, fp_err *e);
void fp_jobq_freep(fp_jobq **q);

/* Apply or roll back migrations until the schema is at version target (0 = empty). */
int fp_jobq_migrate(fp_jobq *q, int target, fp_err *e);
int fp_jobq_schema_version(fp_jobq *q, int *version, fp_err *e);

/* Insert a job and its chunk tasks in one transaction; *job_id receives its id. */
int fp_jobq_submit(fp_jobq *q, const char *task, const char *input, const char *output, const char *storage,
                    const char *spec_json, const fp_chunk *chunks, int nchunks, int64_t *job_id, fp_err *e);

/* Requeue expired leases (or mark dead when out of tries), then claim the next runnable task for
 * worker. Returns 0 with *c filled (caller clears), FP_EAGAIN when nothing is runnable, or FP_EDB. */
int fp_jobq_claim(fp_jobq *q, const char *worker, fp_claim *c, fp_err *e);

/* Renew the lease and record progress (0..1). FP_ELOST when this attempt no longer holds the task
 * (lease expired and re-claimed, job cancelled or failed): the caller must stop and write nothing. */
int fp_jobq_heartbeat(fp_jobq *q, const fp_claim *c, double progress, fp_err *e);

/* Mark the task done with result_key (the storage key this attempt wrote). For the last chunk of a
 * job this enqueues the job's single aggregate task in the same transaction; completing the
 * aggregate task marks the job done. FP_ELOST when the attempt is superseded. */
int fp_jobq_complete(fp_jobq *q, const fp_claim *c, const char *result_key, fp_err *e);

/* Per-stage work of one chunk, reported by the task (0 frames: none), summed per job for throughput. */
typedef struct fp_task_stats {
    int64_t frames;                      /* frames written */
    double decode_s, process_s; /* busy seconds of the decode and processing stages */
    double wall_s;              /* the chunk's whole run (encode busy time is not reported alike by
                                 * fp_transcode's serial and pipelined drivers, so none is claimed) */
} fp_task_stats;

/* fp_jobq_complete that also records the chunk's stage stats (st may be NULL). */
int fp_jobq_complete_stats(fp_jobq *q, const fp_claim *c, const char *result_key, const fp_task_stats *st,
                            fp_err *e);

/* Sum of the stage stats of job_id's completed chunks (zeros when none reported them). */
int fp_jobq_stage_stats(fp_jobq *q, int64_t job_id, fp_task_stats *st, fp_err *e);

/* Record a failure: the task is requeued with capped exponential backoff and jitter, or becomes dead
 * (permanent, or out of tries) and fails the job with "chunk N: error". FP_ELOST if superseded. */
int fp_jobq_fail(fp_jobq *q, const fp_claim *c, int permanent, const char *error, fp_err *e);

/* Give the task back unfinished (worker shutting down): queued again at once, runnable now, and
 * the attempt is not counted against max_attempts. FP_ELOST if superseded. */
int fp_jobq_release(fp_jobq *q, const fp_claim *c, fp_err *e);

/* Wait up to timeout_s for a hint that work may be runnable (PostgreSQL NOTIFY on
 * FP_QUEUE_CHANNEL, sent by submit, the last chunk's completion and release): 1 when woken early, 0
 * otherwise. SQLite just sleeps. Never a substitute for polling: notifications are lost while a
 * worker is disconnected, and backoff/lease expiry make tasks runnable without any. */
#define FP_QUEUE_CHANNEL "framepipe_tasks"
int fp_jobq_wait(fp_jobq *q, double timeout_s);

/* Requeue expired leases; *n (may be NULL) receives how many were handled. */
int fp_jobq_reap(fp_jobq *q, int *n, fp_err *e);

int fp_jobq_cancel(fp_jobq *q, int64_t job_id, fp_err *e);
/* Requeue the job's dead tasks with a fresh retry budget and reopen a failed job. *n = tasks requeued. */
int fp_jobq_redrive(fp_jobq *q, int64_t job_id, int *n, fp_err *e);

/* Record that worker is alive (metrics, status). task_id 0 = idle. */
int fp_jobq_worker_seen(fp_jobq *q, const char *worker, int64_t task_id, fp_err *e);

typedef struct fp_job_info {
    int64_t id;
    char task[32], state[16];
    char input[512], output[512];
    char error[512];
    int n_chunks, n_done;
    int n_queued, n_running, n_dead;
    double created_at, updated_at, finished_at, now;
} fp_job_info;

/* Read one job; FP_EINVAL when it does not exist. */
int fp_jobq_job(fp_jobq *q, int64_t job_id, fp_job_info *info, fp_err *e);
/* Read the newest jobs (up to max) into an array the caller frees with free(). */
int fp_jobq_jobs(fp_jobq *q, int max, fp_job_info **out, int *n, fp_err *e);

/* Chunk result keys in chunk order, as recorded by the completing attempts (never a listing).
 * *keys is an array of n strings; free with fp_jobq_keys_free(). FP_EINTERNAL if a chunk is not done. */
int fp_jobq_chunk_keys(fp_jobq *q, int64_t job_id, char ***keys, int *n, fp_err *e);
void fp_jobq_keys_free(char ***keys, int n);

/* Per-task row for status displays; callback per task. */
typedef struct fp_task_info {
    int64_t id;
    char kind[16], state[16], worker[128], error[512];
    int idx, attempt, tries;
    double progress, started_at, finished_at, lease_left;
} fp_task_info;
int fp_jobq_tasks(fp_jobq *q, int64_t job_id, void (*fn)(void *opaque, const fp_task_info *t), void *opaque,
                   fp_err *e);

/* Counts for /metrics: tasks by state, completions, workers seen in the last lease period. */
typedef struct fp_jobq_counts {
    int64_t queued, running, done, dead, cancelled;
    int64_t jobs_queued, jobs_running, jobs_done, jobs_failed, jobs_cancelled;
    int64_t completions, workers_alive;
    double chunk_seconds_sum;
    int64_t chunk_seconds_count;
} fp_jobq_counts;
int fp_jobq_counts_get(fp_jobq *q, fp_jobq_counts *c, fp_err *e);

#endif
