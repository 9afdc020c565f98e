/*
 * jobs_cli — shared option parsing for the job commands. See jobs_cli.h.
 */
#include "jobs/jobs_cli.h"

#include <stdlib.h>
#include <string.h>

void fp_jobs_cli_help(FILE *f, const char *cmd, const char *usage, const fp_cli_opt *opts)
{
    fprintf(f, "usage: framepipe %s %s\n\noptions:\n", cmd, usage);
    for (const fp_cli_opt *o = opts; o->name; o++) {
        char left[64];
        snprintf(left, sizeof(left), "%s%s%s%s", o->name[1] ? "--" : "-", o->name, o->arg ? " " : "",
                 o->arg ? o->arg : "");
        fprintf(f, "  %-26s %s\n", left, o->help);
    }
}

int fp_jobs_cli_parse(const char *cmd, const char *usage, const fp_cli_opt *opts, int argc, char **argv,
                 const char **pos, int maxpos, int *npos)
{
    *npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fp_jobs_cli_help(stdout, cmd, usage, opts);
            return 1;
        }
        if (a[0] != '-' || a[1] == 0) {
            if (*npos >= maxpos) {
                fprintf(stderr, "framepipe %s: unexpected argument '%s'\n", cmd, a);
                return -1;
            }
            pos[(*npos)++] = a;
            continue;
        }
        const char *name = a + (a[1] == '-' ? 2 : 1);
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const fp_cli_opt *o;
        for (o = opts; o->name; o++)
            if (strlen(o->name) == len && !strncmp(o->name, name, len))
                break;
        if (!o->name) {
            fprintf(stderr, "framepipe %s: unknown option '%s' (see --help)\n", cmd, a);
            return -1;
        }
        if (!o->arg) {
            *o->value = "1";
        } else if (eq) {
            *o->value = eq + 1;
        } else if (i + 1 < argc) {
            *o->value = argv[++i];
        } else {
            fprintf(stderr, "framepipe %s: option --%s needs %s\n", cmd, o->name, o->arg);
            return -1;
        }
    }
    return 0;
}

const char *fp_cli_default_queue(void)
{
    const char *q = getenv("FP_QUEUE");
    return q && *q ? q : "sqlite:framepipe-queue.db";
}

int64_t fp_cli_job_id(const char *s)
{
    char *end;
    long long v = s ? strtoll(s, &end, 10) : -1;
    return s && *s && !*end && v > 0 ? v : -1;
}
