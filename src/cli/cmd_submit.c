/*
 * framepipe submit — plan a job and put it on the queue; prints the job id.
 *
 * Owns: the command line of submit (options table below) and turning it into an fp_job_spec (or
 * reading one from --json). Does not own planning or the queue (src/jobs).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fp_error.h"
#include "jobs/jobs_cli.h"
#include "jobs/jobs_spec.h"
#include "jobs/jobs_task.h"
#include "jobs/jobs_worker.h"

static char *read_all(const char *path, size_t *len)
{
    FILE *f = !strcmp(path, "-") ? stdin : fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0;
    if (!f)
        return NULL;
    for (;;) {
        if (n + 4096 > cap) {
            char *nb = realloc(buf, cap = cap * 2 + 8192);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
        if (n > (1 << 20)) { /* a job description is small; refuse megabytes */
            free(buf);
            buf = NULL;
            break;
        }
    }
    if (f != stdin)
        fclose(f);
    *len = n;
    return buf;
}

int fp_cmd_submit(int argc, char **argv)
{
    const char *task = NULL, *out = NULL, *queue = NULL, *storage = NULL, *chunk_s = NULL, *warmup = NULL,
               *params = NULL, *json = NULL, *attempts = NULL;
    char task_help[256] = "task to run:";
    for (int i = 0; fp_task_at(i); i++)
        snprintf(task_help + strlen(task_help), sizeof(task_help) - strlen(task_help), "%s %s", i ? "," : "",
                 fp_task_at(i)->name);
    const fp_cli_opt opts[] = {
        { "task", "NAME", task_help, &task },
        { "o", "OUT", "final output: path, file:// or s3:// URL", &out },
        { "queue", "URL", "sqlite:PATH or postgres://... (default $FP_QUEUE or sqlite:framepipe-queue.db)", &queue },
        { "storage", "URL", "chunk storage file:///dir or s3://bucket/prefix (default $FP_STORAGE or ./framepipe-chunks)", &storage },
        { "chunk-seconds", "S", "target chunk length (default 30)", &chunk_s },
        { "warmup-frames", "N", "warm-up frames per chunk (default: the task's)", &warmup },
        { "max-attempts", "N", "tries per chunk before it is dead (default 3)", &attempts },
        { "params", "JSON", "task parameters as a JSON object", &params },
        { "json", "FILE", "read the whole job as JSON (- for stdin) instead of the options above", &json },
        { NULL },
    };
    const char *pos[1];
    int npos, r = fp_jobs_cli_parse("submit", "IN --task NAME -o OUT [options]", opts, argc, argv, pos, 1, &npos);
    if (r)
        return r > 0 ? FP_EXIT_OK : FP_EXIT_USAGE;
    fp_job_spec spec = { 0 };
    fp_err e = { 0 };
    int ret;
    char defstore[PATH_MAX + 32];
    if (json) {
        size_t len = 0;
        char *buf = read_all(json, &len);
        if (!buf) {
            fprintf(stderr, "framepipe: %s: submit: cannot read job JSON\n", json);
            return FP_EXIT_INPUT;
        }
        ret = fp_job_spec_parse(&spec, buf, len, json, &e);
        free(buf);
    } else {
        if (npos != 1 || !task || !out) {
            fprintf(stderr, "framepipe submit: needs IN, --task and -o (see --help)\n");
            return FP_EXIT_USAGE;
        }
        /* Build the job as JSON and parse it back: one validator for the command line, the HTTP API
         * and --json. */
        char num[2][64];
        snprintf(num[0], sizeof(num[0]), "%s", chunk_s ? chunk_s : "30");
        snprintf(num[1], sizeof(num[1]), "%s", warmup ? warmup : "-1");
        fp_job_spec tmp = { (char *)task, (char *)pos[0], (char *)out, (char *)storage, atof(num[0]), atoi(num[1]),
                            (char *)(params ? params : "{}") };
        char *end;
        strtod(num[0], &end);
        if (*end || (warmup && (strtol(num[1], &end, 10), *end))) {
            fprintf(stderr, "framepipe submit: --chunk-seconds and --warmup-frames take numbers\n");
            return FP_EXIT_USAGE;
        }
        char *text = fp_job_spec_json(&tmp);
        if (!text) {
            fprintf(stderr, "framepipe submit: bad --params (not a JSON object?)\n");
            return FP_EXIT_USAGE;
        }
        ret = fp_job_spec_parse(&spec, text, strlen(text), "command line", &e);
        free(text);
    }
    if (ret == 0 && !spec.storage) {
        const char *env = getenv("FP_STORAGE");
        char cwd[PATH_MAX];
        if (env && *env)
            snprintf(defstore, sizeof(defstore), "%s", env);
        else
            snprintf(defstore, sizeof(defstore), "file://%s/framepipe-chunks", getcwd(cwd, sizeof(cwd)) ? cwd : "/tmp");
        spec.storage = strdup(defstore);
    }
    fp_jobq_opts qo = { 0 };
    if (attempts)
        qo.max_attempts = atoi(attempts);
    int64_t id = 0;
    if (ret == 0)
        ret = fp_jobs_submit(queue ? queue : fp_cli_default_queue(), &spec, &qo, &id, &e);
    fp_job_spec_clear(&spec);
    if (ret < 0) {
        fprintf(stderr, "framepipe: %s\n", e.msg);
        return fp_exit_code(ret == FP_EINVAL ? FP_EINVAL : ret);
    }
    printf("%lld\n", (long long)id);
    return FP_EXIT_OK;
}
