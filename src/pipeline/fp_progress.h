/*
 * fp_progress — what the user (or a supervising program) sees while a run is going.
 *
 * Owns: the single-line terminal display ("\r" rewrites of frames, fps, ETA; only when the stream is
 * a TTY, throttled to 4 updates/s) and the JSON Lines mode for machines (one object per second:
 * frames, total, fps, eta_s, elapsed_s and each stage's counters, then a final object with
 * "done":true). Does not own the counters themselves (fp_pipeline) nor the end-of-run table
 * (fp_metrics_table_print).
 *
 * JSON line fields: {"event":"progress"|"done","frames":N,"total":N|null,"fps":x,"eta_s":x|null,
 * "elapsed_s":x,"stages":[{"name":s,"frames":N,"busy_s":x,"wait_in_s":x,"wait_out_s":x,"fps":x}]}
 */
#ifndef FP_PROGRESS_H
#define FP_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

struct fp_pipeline;
typedef struct fp_progress fp_progress;

typedef enum fp_progress_mode {
    FP_PROGRESS_AUTO = 0,   /* line on a TTY, nothing otherwise */
    FP_PROGRESS_NONE,
    FP_PROGRESS_LINE,       /* the \r line, even if not a TTY (tests) */
    FP_PROGRESS_JSON,
} fp_progress_mode;

/* Parse "auto", "none", "line" or "json" (the --progress option's values). Returns 0 or FP_EINVAL. */
int fp_progress_mode_parse(const char *s, fp_progress_mode *mode);

/* Allocate a progress reporter writing to f (NULL: stderr). total_frames <= 0 means unknown (no
 * ETA). Returns 0 or FP_ENOMEM. Free with fp_progress_freep(); f stays the caller's. */
int fp_progress_alloc(fp_progress **pp, fp_progress_mode mode, FILE *f, int64_t total_frames);
void fp_progress_freep(fp_progress **pp);

/* Seconds between updates (default 0.25 for the line, 1.0 for JSON). */
void fp_progress_set_interval(fp_progress *pr, double seconds);

/* Report `frames` done so far; prints only when the interval elapsed. pl (may be NULL) supplies stage
 * counters for JSON. */
void fp_progress_update(fp_progress *pr, int64_t frames, const struct fp_pipeline *pl);

/* Final report: ends the terminal line with a newline, or emits the "done" JSON object. Idempotent. */
void fp_progress_finish(fp_progress *pr, int64_t frames, const struct fp_pipeline *pl);

#endif
