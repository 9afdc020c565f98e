/*
 * fp_signals — Ctrl-C and SIGTERM for a program that writes outputs under temporary names.
 *
 * Owns: the SIGINT/SIGTERM handlers and the "interrupted" flag. The first signal only sets the flag:
 * the pipeline polls fp_interrupted(), stops its stages, aborts outputs (their temporaries are
 * removed by fp_output_abort()) and the command exits with 130. A second signal means the user is not
 * waiting for that: the handler unlinks every registered temporary file (fp_output's registry, with
 * unlink(2) only, which is async-signal-safe) and calls _exit(130). Does not own the registry itself
 * (fp_output.c) nor any cleanup beyond it.
 */
#ifndef FP_SIGNALS_H
#define FP_SIGNALS_H

/* Install the handlers (idempotent). Returns 0 or FP_EINTERNAL if sigaction failed. */
int fp_signals_install(void);

/* 0, or the number of the first signal received since install / fp_signals_reset(). */
int fp_interrupted(void);

/* Clear the flag (tests; a long-running worker that handled one interruption). */
void fp_signals_reset(void);

/* "SIGINT", "SIGTERM", or "signal N" for the value fp_interrupted() returned. */
const char *fp_signal_name(int signo);

#endif
