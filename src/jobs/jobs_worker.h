/*
 * jobs_worker — the worker loop, job submission (plan + insert) and the one-machine entry point
 * fp_jobs_run_local() that processing commands call for --chunks.
 *
 * Owns: claiming, the heartbeat thread, running a task's chunk or aggregation around local temp
 * files, naming result keys per attempt, uploading, completing or failing, and cleaning up local
 * files. Does not own the queue's state machine (jobs_queue.c) or what tasks compute (jobs_task.h).
 */
#ifndef FP_JOBS_WORKER_H
#define FP_JOBS_WORKER_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/fp_error.h"
#include "jobs/jobs_queue.h"
#include "jobs/jobs_spec.h"

typedef struct fp_worker_opts {
    const char *queue_url;
    const char *name;      /* worker name in the queue; NULL: host:pid:n */
    const char *workdir;   /* local scratch directory; NULL: $TMPDIR or /tmp */
    double poll_s;         /* idle poll interval, jittered (default 1) */
    double beat_s;         /* heartbeat interval (default 10) */
    fp_jobq_opts qopts;   /* lease, backoff, attempts (zero fields: defaults) */
    int exit_when_idle;    /* return when nothing is runnable */
    int64_t until_job;     /* > 0: return once this job is done, failed or cancelled */
    atomic_int *stop;      /* set (e.g. by SIGTERM): finish the current task if it is expected to end
                            * within grace_s, else release it (queued again, attempt not counted), then
                            * return */
    int has_gpu, gpu;      /* has_gpu: tasks get gpu as their device (fp_task_ctx.gpu), else -1 */
    double grace_s;        /* shutdown grace period (default 30; < 0: always finish) */
} fp_worker_opts;

typedef struct fp_worker_stats {
    int claimed, completed, failed, lost, released;
} fp_worker_stats;

/* Run the loop until stopped (or idle/until_job). stats may be NULL. Returns 0, or a negative code
 * when the queue cannot be opened or stays unreachable; task failures are recorded in the queue, not
 * returned. */
int fp_worker_run(const fp_worker_opts *o, fp_worker_stats *stats, fp_err *e);

/* Validate spec (task exists, input readable), plan it and insert the job. Relative local paths are
 * made absolute (workers may run elsewhere). *job_id receives the id. Errors: FP_EINVAL (unknown
 * task, bad field), FP_EINPUT (input), FP_EDB. */
int fp_jobs_submit(const char *queue_url, const fp_job_spec *spec, const fp_jobq_opts *qopts, int64_t *job_id,
                   fp_err *e);

/* One machine, one job: a temporary SQLite queue and file store, nworkers worker threads, wait for the
 * job, publish spec->output, remove the temporaries. Returns 0 when the job is done, else the failing
 * chunk's error. */
int fp_jobs_run_local(const fp_job_spec *spec, int nworkers, fp_err *e);

typedef struct fp_local_opts {
    int workers;        /* worker threads (< 1: 1) */
    atomic_int *stop;   /* may be NULL; when set (Ctrl-C) running chunks stop at once, nothing is
                         * published, the temporaries are removed and the call returns FP_EINTR */
} fp_local_opts;

typedef struct fp_local_stats {
    int chunks;         /* chunks the planner made */
    int64_t frames;     /* frames the chunks wrote (their stage stats) */
    double seconds;     /* the whole call: plan, chunks, join, publication, cleanup */
} fp_local_stats;

/* fp_jobs_run_local with a stop flag and statistics (st may be NULL). The error of a failed job names
 * the chunk ("chunk N: ..."). */
int fp_jobs_run_local_ex(const fp_job_spec *spec, const fp_local_opts *o, fp_local_stats *st, fp_err *e);

#endif
