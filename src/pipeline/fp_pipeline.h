/*
 * fp_pipeline — stages on threads joined by fp_queues, with error propagation, a watchdog,
 * interruption, and the per-stage time accounting behind the end-of-run table.
 *
 * Owns: the stage threads, the queues created through fp_pipeline_queue(), the first error of the
 * run (fp_err), aborting every queue when a stage fails / the watchdog fires / a signal arrives, and
 * each stage's counters (busy time, time waiting on input, time waiting on output, frames). Does not
 * own what flows through the queues (the stages do, plus each queue's item_free at the end), nor the
 * progress display (fp_progress.h, which the waiting thread drives) nor signal handlers (fp_signals.h:
 * the pipeline only polls fp_interrupted()).
 *
 * Life cycle (libvips habit: set up everything, then run):
 *     fp_pipeline_alloc(&p, "transcode");
 *     fp_pipeline_queue(p, "decoded", 8, av_frame_free_cb, &q1);          // the pipeline owns q1
 *     fp_pipeline_add_stage(p, "decode", decode_fn, dec_ctx, &s_dec);
 *     fp_stage_add_output(s_dec, q1);  fp_stage_add_input(s_enc, q1);     // wiring, for close + report
 *     fp_pipeline_start(p);  ret = fp_pipeline_wait(p, &opts);            // ret: 0 or first error
 *     fp_metrics_table_print(p, stderr);  fp_pipeline_freep(&p);
 *
 * A stage function loops: fp_stage_pop() from its inputs, work, fp_stage_push() to its outputs, and
 * returns 0 once its input reported FP_EOF (or its source ran dry). It must return promptly with the
 * code it got when a pop/push returns anything else (aborted). On return 0 the pipeline closes the
 * stage's outputs; on a negative return it records the stage's error (first error wins) and aborts
 * every queue, so every other stage unblocks and stops.
 *
 * Time accounting: wait_in = time blocked in fp_stage_pop(), wait_out = time blocked in
 * fp_stage_push() (back-pressure), busy = wall - wait_in - wait_out.
 *
 * Watchdog: a stage that is busy (not blocked on a queue) and reports no progress (pop, push,
 * fp_stage_add_frames, fp_stage_set_position or fp_stage_heartbeat) for opts.watchdog_s seconds fails
 * the run with FP_ETIMEOUT: "<name>: <stage>: no progress for N s (at <position>)". A stage stuck
 * inside a library call cannot be cancelled; after a grace period wait() returns anyway and the stuck
 * thread is detached (the pipeline's memory is freed by whichever of the owner or the last thread
 * lets go last), so a stalled decoder never hangs the program.
 */
#ifndef FP_PIPELINE_H
#define FP_PIPELINE_H

#include <stdint.h>
#include <stdio.h>

#include "core/fp_error.h"
#include "pipeline/fp_queue.h"

typedef struct fp_pipeline fp_pipeline;
typedef struct fp_stage fp_stage;
struct fp_progress;

/* A stage's loop. Returns 0 when done, or a negative FP_E* code (fill fp_stage_err(st) first, or use
 * fp_stage_fail(), so the user gets "FILE: stage: cause"). */
typedef int (*fp_stage_fn)(fp_stage *st, void *opaque);

#define FP_STAGE_MAX_IO 16

typedef struct fp_stage_stats {
    const char *name;       /* valid while the pipeline lives */
    int64_t frames;
    double wall_s;          /* start to end of the stage thread (or to now while running) */
    double busy_s, wait_in_s, wait_out_s;
    double fps;             /* frames / wall_s */
    int ret;                /* the stage function's return (0 while running) */
    int running;
} fp_stage_stats;

typedef struct fp_pipeline_opts {
    double watchdog_s;              /* 0: no watchdog */
    double stuck_grace_s;           /* how long wait() waits for stages to stop after a failure
                                     * before detaching them; 0 means 2 s */
    struct fp_progress *progress;   /* may be NULL; updated from the waiting thread */
    fp_stage *progress_stage;       /* whose frames count as progress; NULL: the last stage added */
    int ignore_signals;             /* do not poll fp_interrupted() (tests, embedded use) */
} fp_pipeline_opts;

/* Allocate an empty pipeline. name (copied) prefixes error messages when a stage gave none.
 * Returns 0 or FP_ENOMEM. Free with fp_pipeline_freep(). */
int fp_pipeline_alloc(fp_pipeline **pp, const char *name);

/* Free the pipeline, its stages and the queues it created. If stages are still running they are
 * aborted and joined first (a stage stuck after the grace period is detached; see above).
 * NULL-safe; sets *pp to NULL. */
void fp_pipeline_freep(fp_pipeline **pp);

/* Create a queue owned by the pipeline (freed by fp_pipeline_freep(), aborted on failure).
 * Returns 0, FP_EINVAL or FP_ENOMEM. Only before fp_pipeline_start(). */
int fp_pipeline_queue(fp_pipeline *p, const char *name, size_t depth, void (*item_free)(void *),
                      fp_queue **pq);

/* Register a queue the caller allocated so it is aborted with the others on failure; the caller still
 * frees it, after fp_pipeline_freep(). Only before fp_pipeline_start(). */
int fp_pipeline_watch_queue(fp_pipeline *p, fp_queue *q);

/* Add a stage (name copied, <= 31 chars shown). opaque stays the caller's. *pst (may be NULL) gets the
 * stage, owned by the pipeline. Only before fp_pipeline_start(). Returns 0, FP_EINVAL, FP_ENOMEM. */
int fp_pipeline_add_stage(fp_pipeline *p, const char *name, fp_stage_fn fn, void *opaque, fp_stage **pst);

/* Wiring: outputs are closed when the stage returns 0 (and the stage counts as one of the queue's
 * producers); inputs are used to name what a stage waited on in the report. Returns 0 or FP_EINVAL
 * (more than FP_STAGE_MAX_IO). */
int fp_stage_add_output(fp_stage *st, fp_queue *q);
int fp_stage_add_input(fp_stage *st, fp_queue *q);

/* What to tell the user when this stage is the bottleneck, e.g. "raise --encoders". Copied. */
void fp_stage_set_hint(fp_stage *st, const char *hint);

/* Start every stage thread. Returns 0, or FP_ENOMEM/FP_EINTERNAL if a thread could not be created
 * (stages already started are aborted; call fp_pipeline_wait() or freep to collect them). */
int fp_pipeline_start(fp_pipeline *p);

/* Block until every stage finished; meanwhile poll signals, run the watchdog and drive progress.
 * opts may be NULL. Returns 0 or the first error (its message in fp_pipeline_err()). */
int fp_pipeline_wait(fp_pipeline *p, const fp_pipeline_opts *opts);

/* Fail the run from outside (another thread, a callback): records the error if it is the first and
 * aborts every queue. Returns code. */
int fp_pipeline_fail(fp_pipeline *p, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The run's first error (code 0 when none). Valid while p lives. */
const fp_err *fp_pipeline_err(const fp_pipeline *p);
const char *fp_pipeline_name(const fp_pipeline *p);

int fp_pipeline_nb_stages(const fp_pipeline *p);
/* Stats of stage i (0-based, in the order added); safe while running. */
void fp_pipeline_stage_stats(const fp_pipeline *p, int i, fp_stage_stats *out);

/* ---- used from inside a stage function ---- */

/* Pop from an input, timed as waiting on input. Same returns as fp_queue_pop(). */
int fp_stage_pop(fp_stage *st, fp_queue *q, void **item);
/* Push to an output, timed as waiting on output. Same ownership as fp_queue_push(): on a non-zero
 * return the caller still owns item. Returns 0 or the abort code; FP_EINTERNAL (with the stage's
 * error filled) if q is not one of the stage's outputs or was closed under it (a wiring bug that
 * would otherwise lose frames silently). */
int fp_stage_push(fp_stage *st, fp_queue *q, void *item);
/* Bracket any other blocking wait (a reorder buffer waiting for segment N, a GPU event) so it is
 * counted as waiting on input (output = 0) or output (output = 1) and the watchdog does not take it
 * for a stall. Inside a stage use fp_stage_pop/push rather than fp_queue_pop/push for the same reason. */
void fp_stage_wait_begin(fp_stage *st, int output);
void fp_stage_wait_end(fp_stage *st);
/* Count n frames done (the table, the progress line, and the watchdog's notion of progress). */
void fp_stage_add_frames(fp_stage *st, int64_t n);
/* Where the stage is, for a watchdog message ("stream 0, pts 12.480 s"). Also counts as progress. */
void fp_stage_set_position(fp_stage *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Progress without a frame (a long model load, a slow seek). */
void fp_stage_heartbeat(fp_stage *st);
/* Non-zero once the run is failing or interrupted: a long loop that neither pops nor pushes should
 * poll it and return its value. */
int fp_stage_should_stop(const fp_stage *st);
/* The stage's own error context (fill it before returning a negative code). */
fp_err *fp_stage_err(fp_stage *st);
/* fp_errorf() into the stage's context; returns code. */
int fp_stage_fail(fp_stage *st, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char *fp_stage_name(const fp_stage *st);
void *fp_stage_opaque(const fp_stage *st);

/* ---- the end-of-run table ---- */

/* Print the per-stage table (frames, time, busy, waits, fps) and one line naming the bottleneck and
 * what to change. Safe at any time; meant for after fp_pipeline_wait(). */
void fp_metrics_table_print(const fp_pipeline *p, FILE *f);

/* The bottleneck verdict alone, as printed by fp_metrics_table_print() (without the trailing newline),
 * into buf. Returns the bottleneck stage's index, or -1 if there are no stages. */
int fp_metrics_bottleneck(const fp_pipeline *p, char *buf, size_t size);

#endif
