/*
 * fp_log — leveled logging to stderr, naming the component (and instance) that speaks.
 *
 * Owns: the global log level and the line format "framepipe: <component>: message". Does not own
 * progress lines (pipeline) or error propagation (fp_error.h). Thread-safe: each line is written with
 * one fprintf under a lock.
 */
#ifndef FP_LOG_H
#define FP_LOG_H

enum fp_log_level {
    FP_LOG_QUIET = -1,
    FP_LOG_ERROR = 0,
    FP_LOG_WARN = 1,
    FP_LOG_INFO = 2,
    FP_LOG_VERBOSE = 3,
    FP_LOG_DEBUG = 4
};

void fp_log_set_level(int level);
int fp_log_get_level(void);
/* Reads FP_LOG=error|warn|info|verbose|debug from the environment, if set. */
void fp_log_init_from_env(void);

void fp_log(int level, const char *component, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
