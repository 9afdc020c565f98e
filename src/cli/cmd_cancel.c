/*
 * framepipe cancel — stop a job: queued and running tasks become cancelled; a running worker
 * learns it at its next heartbeat, stops and writes nothing.
 *
 * Owns: the command line only; the transition lives in jobs_queue.c.
 */
#include <stdio.h>

#include "core/fp_error.h"
#include "jobs/jobs_cli.h"
#include "jobs/jobs_queue.h"

int fp_cmd_cancel(int argc, char **argv)
{
    const char *queue = NULL;
    const fp_cli_opt opts[] = {
        { "queue", "URL", "sqlite:PATH or postgres://... (default $FP_QUEUE or sqlite:framepipe-queue.db)", &queue },
        { NULL },
    };
    const char *pos[1];
    int npos, r = fp_jobs_cli_parse("cancel", "JOB [options]", opts, argc, argv, pos, 1, &npos);
    if (r)
        return r > 0 ? FP_EXIT_OK : FP_EXIT_USAGE;
    int64_t id = npos ? fp_cli_job_id(pos[0]) : -1;
    if (id < 0) {
        fprintf(stderr, "framepipe cancel: needs a job id (see framepipe status)\n");
        return FP_EXIT_USAGE;
    }
    fp_jobq *q = NULL;
    fp_err e = { 0 };
    int n = 0, ret = fp_jobq_open(&q, queue ? queue : fp_cli_default_queue(), NULL, &e);
    if (ret == 0)
        ret = fp_jobq_cancel(q, id, &e);
    fp_jobq_freep(&q);
    if (ret < 0) {
        fprintf(stderr, "framepipe: %s\n", e.msg);
        return fp_exit_code(ret == FP_EINVAL ? FP_EDB : ret);
    }
    printf("job %lld cancelled\\n", (long long)id);
    (void)n;
    return FP_EXIT_OK;
}
