/*
 * jobs_cli — what the job commands (submit, worker, status, cancel, redrive, serve) share: the
 * queue URL default, job id parsing and the option table type they parse with.
 *
 * Owns: the FP_QUEUE / FP_STORAGE environment defaults and a small table-driven option parser
 * (one row per option: name, argument or not, help), so --help and parsing come from one place.
 * Does not own any command's behaviour.
 */
#ifndef FP_JOBS_CLI_H
#define FP_JOBS_CLI_H

#include <stdint.h>
#include <stdio.h>

typedef struct fp_cli_opt {
    const char *name; /* without leading dashes */
    const char *arg;  /* NULL for a flag, else the argument's name for --help */
    const char *help;
    const char **value; /* where the argument (or "1" for a flag) is stored */
} fp_cli_opt;

/* Parse argv[1..] against opts. Positionals are collected into pos (up to maxpos). Returns 0,
 * 1 when --help was printed, or -1 after printing one line about the bad option. */
int fp_jobs_cli_parse(const char *cmd, const char *usage, const fp_cli_opt *opts, int argc, char **argv,
                 const char **pos, int maxpos, int *npos);
void fp_jobs_cli_help(FILE *f, const char *cmd, const char *usage, const fp_cli_opt *opts);

/* --queue default: $FP_QUEUE, else sqlite:framepipe-queue.db in the current directory. */
const char *fp_cli_default_queue(void);

/* Parse a positive job id; -1 on garbage. */
int64_t fp_cli_job_id(const char *s);

#endif
