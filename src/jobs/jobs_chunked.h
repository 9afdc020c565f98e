/*
 * jobs_chunked — `framepipe transcode|key IN -o OUT --chunks [N]`: the plain commands' options turned
 * into a job (task "transcode" or "key") that fp_jobs_run_local_ex() runs on N local worker threads
 * through a temporary SQLite queue, with Ctrl-C handling and a summary line.
 *
 * Owns: mapping the parsed media options onto task params (and refusing, before anything runs, the
 * options a chunk cannot honour: crop/scale/fps/range/pool settings), the chunk length when none is
 * given, and the signal handling of the chunked run. Does not own the option table (media/fp_cliopts.h)
 * nor the queue, workers or join (jobs_worker.h, task_*.c). Built only with the jobs and media modules.
 */
#ifndef FP_JOBS_CHUNKED_H
#define FP_JOBS_CHUNKED_H

struct fp_cli_parsed;

/* Run p's transcode (task "transcode") or key (task "key") chunked. workers 0: one per core;
 * chunk_seconds 0: chosen from the input's duration. Prints errors and the summary on stderr and
 * returns the process exit code (130 after Ctrl-C, with nothing left behind). */
int fp_jobs_cli_chunked(const char *task, struct fp_cli_parsed *p, int workers, double chunk_seconds);

/* The chunk length used when none is given: about three chunks per worker, within [1, 30] s (30 when
 * the duration is unknown). */
double fp_jobs_auto_chunk_seconds(const char *input, int workers);

#endif
