/*
 * fp_output — output safety: a result appears under its final name complete, or not at all.
 *
 * Owns: choosing a temporary name next to the final file (same directory, so the publishing rename is
 * atomic on one filesystem), reserving it with O_CREAT|O_EXCL (which also proves early, before any
 * decoding, that the directory exists and is writable), publishing with fsync + rename + fsync of the
 * directory, removing the temporary on abort, and a process-wide registry of live temporaries that is
 * emptied on exit (atexit) and on a second Ctrl-C (fp_signals.c, from the signal handler).
 * Does not own writing the data: the caller (e.g. FFmpeg's muxer via avio_open) opens and writes the
 * temporary path itself.
 *
 * The temporary name keeps the final extension so FFmpeg can still guess the container from it:
 * "dir/clip.webm" -> "dir/.clip.webm.tmp-<pid>-<rand>.webm".
 * Errors read "OUT: output: cause" (cause from errno: "directory does not exist", "permission denied",
 * "no space left on device", ...) with code FP_EOUTPUT, or FP_EIO for a failing write-back (fsync).
 */
#ifndef FP_OUTPUT_H
#define FP_OUTPUT_H

#include "core/fp_error.h"

typedef struct fp_output fp_output;

/* Reserve a temporary file for final_path (an empty file is created). *po receives the handle and
 * owns the temporary: it must end in fp_output_commit() or fp_output_abort(). Returns 0, FP_EINVAL
 * (empty path, or a path naming a directory), FP_EOUTPUT (directory missing or not writable...), or
 * FP_ENOMEM; on error *po is NULL and nothing was created. err may be NULL. */
int fp_output_begin(fp_output **po, const char *final_path, fp_err *err);

/* The temporary path to write to; valid until commit/abort. */
const char *fp_output_tmp_path(const fp_output *o);
const char *fp_output_final_path(const fp_output *o);

/* Publish: fsync the temporary, rename it over the final path, fsync the directory. Frees *po and
 * sets it to NULL in every case; on failure the temporary is removed and the final path untouched.
 * Returns 0, FP_EIO (fsync failed: e.g. disk full at write-back) or FP_EOUTPUT (rename failed). */
int fp_output_commit(fp_output **po, fp_err *err);

/* Remove the temporary and free *po (sets it to NULL). NULL-safe. Never touches the final path. */
void fp_output_abort(fp_output **po);

/* Describe an errno value as the cause part of "OUT: output: cause" (static string). */
const char *fp_output_strerror(int errnum);

/* Unlink every registered temporary. Async-signal-safe (only unlink(2) and atomic loads); called by
 * the second-signal handler and at exit. */
void fp_output_unlink_all_signal_safe(void);

/* Number of live temporaries (tests). */
int fp_output_live_count(void);

#endif
