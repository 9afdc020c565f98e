/*
 * cli_chunks — the `--chunks [N]` and `--chunk-seconds S` options of `framepipe transcode` and
 * `framepipe key`, taken out of argv before the media option table sees it (that table belongs to the
 * media module and knows nothing of jobs).
 *
 * Owns: recognising and removing the two options, and the help lines. Does not own the chunked run
 * (jobs/jobs_chunked.h, built only with the jobs module; without it the commands say so).
 */
#ifndef FP_CLI_CHUNKS_H
#define FP_CLI_CHUNKS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fp_chunks_arg {
    int on;               /* --chunks given */
    int workers;          /* N, 0: one per core */
    double chunk_seconds; /* 0: chosen from the duration and the workers */
} fp_chunks_arg;

static inline int fp_chunks_is_count(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    return *s && !*end && v >= 0;
}

/* Removes the options from argv in place (argv[0] is the command). Returns 0, or -1 with a usage
 * message in msg. */
static inline int fp_chunks_take(int *argc, char **argv, fp_chunks_arg *a, char *msg, size_t n)
{
    int o = 1;
    memset(a, 0, sizeof(*a));
    for (int i = 1; i < *argc; i++) {
        if (!strcmp(argv[i], "--chunks")) {
            a->on = 1;
            if (i + 1 < *argc && fp_chunks_is_count(argv[i + 1])) {
                a->workers = atoi(argv[++i]);
                if (a->workers < 1 || a->workers > 1024) {
                    snprintf(msg, n, "--chunks: expected 1..1024 workers, got %s", argv[i]);
                    return -1;
                }
            }
        } else if (!strcmp(argv[i], "--chunk-seconds")) {
            char *end;
            if (i + 1 >= *argc || (a->chunk_seconds = strtod(argv[i + 1], &end)) <= 0 || *end) {
                snprintf(msg, n, "--chunk-seconds: expected a positive number of seconds");
                return -1;
            }
            i++;
        } else
            argv[o++] = argv[i];
    }
    if (a->chunk_seconds > 0 && !a->on) {
        snprintf(msg, n, "--chunk-seconds goes with --chunks");
        return -1;
    }
    *argc = o;
    argv[o] = NULL;
    return 0;
}

static inline void fp_chunks_help(FILE *f)
{
    fprintf(f, "  --chunks [N]             cut at keyframes, run the chunks on N local workers (default: one per\n"
               "                           core) through the jobs queue, join without re-encoding\n"
               "  --chunk-seconds S        chunk length with --chunks (default: about three chunks per worker,\n"
               "                           1..30 s)\n");
}

#endif
