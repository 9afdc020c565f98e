/*
 * fp_error — framepipe's one error convention.
 *
 * Owns: the error codes every module returns (0 or a negative FP_E* code), the error context that
 * carries the first human-readable message ("FILE: stage: cause"), and the mapping from codes to the
 * documented process exit codes. Does not own logging (fp_log.h) or any recovery policy.
 *
 * Rule: a function that fails returns a negative code and, if it was given an fp_err, fills it via
 * fp_errorf(). The first message written wins: outer layers add context with fp_err_prefix() instead
 * of overwriting the cause found deeper down.
 */
#ifndef FP_ERROR_H
#define FP_ERROR_H

#include <stdarg.h>
#include <stddef.h>

enum fp_errcode {
    FP_OK = 0,
    FP_EINVAL = -1,       /* bad argument or option (usage) */
    FP_ENOMEM = -2,       /* allocation failed */
    FP_EIO = -3,          /* read/write failed (includes disk full) */
    FP_EINPUT = -4,       /* input file missing, unreadable, not a video, truncated, corrupt */
    FP_EUNSUPPORTED = -5, /* valid but unsupported: codec, pixel format, combination, op */
    FP_EOUTPUT = -6,      /* output cannot be created or published */
    FP_EMODEL = -7,       /* model file malformed or model/input mismatch */
    FP_EDEVICE = -8,      /* GPU/CUDA/driver failure, or out of device memory */
    FP_EINTR = -9,        /* interrupted by a signal (Ctrl-C, SIGTERM) */
    FP_ETIMEOUT = -10,    /* a stage stalled past its watchdog */
    FP_EDB = -11,         /* queue database error */
    FP_ELOST = -12,       /* lease lost / attempt superseded (jobs) */
    FP_EINTERNAL = -13,   /* a bug: invariant broken */
    FP_EOF = -14,         /* end of stream: not an error, a return value kept apart from errors */
    FP_EAGAIN = -15,      /* try again (queue empty, resource busy) */
    FP_ERRCODE_COUNT = 16
};

/* Documented exit codes of the framepipe command (README "Exit codes", --help). */
enum fp_exit {
    FP_EXIT_OK = 0,
    FP_EXIT_FAILURE = 1,     /* internal error / anything not listed below */
    FP_EXIT_USAGE = 2,       /* bad command line */
    FP_EXIT_INPUT = 3,       /* bad or unreadable input */
    FP_EXIT_UNSUPPORTED = 4, /* refused combination or unsupported format/codec/op */
    FP_EXIT_OUTPUT = 5,      /* output could not be written (permissions, disk full) */
    FP_EXIT_MODEL = 6,       /* model invalid or incompatible */
    FP_EXIT_DEVICE = 7,      /* GPU error */
    FP_EXIT_TIMEOUT = 8,     /* stalled stage (watchdog) */
    FP_EXIT_QUEUE = 9,       /* job queue / storage error */
    FP_EXIT_INTERRUPTED = 130
};

#define FP_ERR_MSG_MAX 1024

typedef struct fp_err {
    int code;                     /* 0 while no error has been recorded */
    char msg[FP_ERR_MSG_MAX];     /* first error's message, NUL-terminated */
} fp_err;

/* Reset e to "no error". e may be NULL. */
void fp_err_clear(fp_err *e);

/* Record an error if e holds none yet (first error wins) and return code, so callers can write
 * `return fp_errorf(e, FP_EINPUT, "%s: decode: %s", path, why);`. e may be NULL. */
int fp_errorf(fp_err *e, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int fp_verrorf(fp_err *e, int code, const char *fmt, va_list ap);

/* Prepend context ("in.mp4: ") to the recorded message, if any. */
void fp_err_prefix(fp_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Short static name of a code ("input error"); never NULL. */
const char *fp_strerror(int code);

/* Process exit code for an error code (FP_OK -> 0). */
int fp_exit_code(int code);

/* Translate an FFmpeg AVERROR into an FP code (the nearest class). */
int fp_err_from_averror(int averr);

#endif
