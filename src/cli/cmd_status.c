/*
 * framepipe status — jobs at a glance, or one job's chunks with progress, ETA and errors.
 *
 * Owns: the text layout of status (and --watch redrawing every second). Does not own the numbers
 * (jobs_queue.c reads them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fp_error.h"
#include "jobs/jobs_cli.h"
#include "jobs/jobs_queue.h"

static void print_task(void *opaque, const fp_task_info *t)
{
    char extra[700] = "";
    if (!strcmp(t->state, "running"))
        snprintf(extra, sizeof(extra), "%3.0f%%  %s  lease %.0fs", t->progress * 100, t->worker, t->lease_left);
    else if (!strcmp(t->state, "done"))
        snprintf(extra, sizeof(extra), "%.2fs", t->finished_at - t->started_at);
    if (t->error[0] && strcmp(t->state, "done"))
        snprintf(extra + strlen(extra), sizeof(extra) - strlen(extra), "%s%s", extra[0] ? "  " : "", t->error);
    printf("  %-9s %5d  %-9s try %d (attempt %d)  %s\n", t->kind, t->idx, t->state, t->tries, t->attempt, extra);
}

static int show_job(fp_jobq *q, int64_t id, fp_err *e)
{
    fp_job_info j;
    int ret = fp_jobq_job(q, id, &j, e);
    if (ret < 0)
        return ret;
    printf("job %lld  %s  task %s  chunks %d/%d done  (%d queued, %d running, %d dead)\n", (long long)j.id, j.state,
           j.task, j.n_done, j.n_chunks, j.n_queued, j.n_running, j.n_dead);
    printf("  input  %s\n  output %s\n", j.input, j.output);
    double elapsed = (j.finished_at > 0 ? j.finished_at : j.now) - j.created_at;
    if (!strcmp(j.state, "running") && j.n_done > 0 && j.n_done < j.n_chunks)
        printf("  elapsed %.1fs, ETA %.1fs\n", elapsed, elapsed / j.n_done * (j.n_chunks - j.n_done));
    else
        printf("  elapsed %.1fs\n", elapsed);
    if (j.error[0])
        printf("  error: %s\n", j.error);
    return fp_jobq_tasks(q, id, print_task, NULL, e);
}

static int show_all(fp_jobq *q, fp_err *e)
{
    fp_job_info *v = NULL;
    int n = 0, ret = fp_jobq_jobs(q, 50, &v, &n, e);
    if (ret < 0)
        return ret;
    printf("%6s  %-10s %-10s %9s  %s\n", "JOB", "STATE", "TASK", "CHUNKS", "INPUT");
    for (int i = 0; i < n; i++)
        printf("%6lld  %-10s %-10s %4d/%-4d  %s%s%s\n", (long long)v[i].id, v[i].state, v[i].task, v[i].n_done,
               v[i].n_chunks, v[i].input, v[i].error[0] ? "  error: " : "", v[i].error);
    free(v);
    return 0;
}

int fp_cmd_status(int argc, char **argv)
{
    const char *queue = NULL, *watch = NULL;
    const fp_cli_opt opts[] = {
        { "queue", "URL", "sqlite:PATH or postgres://... (default $FP_QUEUE or sqlite:framepipe-queue.db)", &queue },
        { "watch", NULL, "redraw every second until the job (or all jobs) finish", &watch },
        { NULL },
    };
    const char *pos[1];
    int npos, r = fp_jobs_cli_parse("status", "[JOB] [options]", opts, argc, argv, pos, 1, &npos);
    if (r)
        return r > 0 ? FP_EXIT_OK : FP_EXIT_USAGE;
    int64_t id = npos ? fp_cli_job_id(pos[0]) : 0;
    if (id < 0) {
        fprintf(stderr, "framepipe status: '%s' is not a job id\n", pos[0]);
        return FP_EXIT_USAGE;
    }
    fp_jobq *q = NULL;
    fp_err e = { 0 };
    int ret = fp_jobq_open(&q, queue ? queue : fp_cli_default_queue(), NULL, &e);
    while (ret == 0) {
        if (watch)
            printf("\033[H\033[2J");
        ret = id ? show_job(q, id, &e) : show_all(q, &e);
        fflush(stdout);
        if (!watch || ret < 0)
            break;
        if (id) {
            fp_job_info j;
            if (fp_jobq_job(q, id, &j, &e) == 0 && strcmp(j.state, "queued") && strcmp(j.state, "running"))
                break;
        }
        sleep(1);
    }
    fp_jobq_freep(&q);
    if (ret < 0) {
        fprintf(stderr, "framepipe: %s\n", e.msg);
        return fp_exit_code(ret == FP_EINVAL ? FP_EDB : ret);
    }
    return FP_EXIT_OK;
}
