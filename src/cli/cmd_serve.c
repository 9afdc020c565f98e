/*
 * framepipe serve — run the HTTP API (jobs_serve.h) until SIGINT/SIGTERM.
 *
 * Owns: the command line: token from --token-file or $FP_SERVE_TOKEN (never from argv, where `ps`
 * would show it), comma-separated roots and buckets. Does not own any route.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fp_error.h"
#include "jobs/jobs_cli.h"
#ifdef FP_JOBS_HAVE_SERVE
#include "jobs/jobs_serve.h"
#else
/* Built without libmicrohttpd: the command stays in the table and says so (exit 4). */
int fp_cmd_serve(int argc, char **argv)
{
    fprintf(stderr, "framepipe serve: not built (this framepipe was built without libmicrohttpd)\n");
    return FP_EXIT_UNSUPPORTED;
}
#endif
#ifdef FP_JOBS_HAVE_SERVE

static volatile sig_atomic_t quit;
static void on_signal(int sig) { quit = 1; }

/* Split a comma list into a NULL-terminated array (strings point into the copy). */
static const char **split(const char *list, char **copy)
{
    if (!list)
        return NULL;
    *copy = strdup(list);
    int n = 1;
    for (const char *p = list; *p; p++)
        n += *p == ',';
    const char **v = calloc(n + 1, sizeof(char *));
    if (!*copy || !v)
        return NULL;
    int i = 0;
    for (char *save = NULL, *t = strtok_r(*copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        v[i++] = t;
    return v;
}

int fp_cmd_serve(int argc, char **argv)
{
    const char *queue = NULL, *storage = NULL, *token_file = NULL, *in_roots = NULL, *out_roots = NULL,
               *buckets = NULL, *addr = NULL, *port = NULL;
    const fp_cli_opt opts[] = {
        { "queue", "URL", "sqlite:PATH or postgres://... (default $FP_QUEUE or sqlite:framepipe-queue.db)", &queue },
        { "storage", "URL", "chunk storage for submitted jobs (file:///dir or s3://bucket/prefix)", &storage },
        { "token-file", "FILE", "file holding the bearer token (else $FP_SERVE_TOKEN)", &token_file },
        { "input-roots", "DIRS", "comma-separated directories inputs must lie in", &in_roots },
        { "output-roots", "DIRS", "comma-separated directories outputs must lie in", &out_roots },
        { "buckets", "NAMES", "comma-separated S3 buckets outputs may go to", &buckets },
        { "address", "IP", "bind address (default 127.0.0.1)", &addr },
        { "port", "N", "port (default 8080)", &port },
        { NULL },
    };
    const char *pos[1];
    int npos, r = fp_jobs_cli_parse("serve", "--storage URL --input-roots DIRS --output-roots DIRS [options]", opts, argc,
                               argv, pos, 0, &npos);
    if (r)
        return r > 0 ? FP_EXIT_OK : FP_EXIT_USAGE;
    char token[256] = "";
    if (token_file) {
        FILE *f = fopen(token_file, "r");
        if (!f || !fgets(token, sizeof(token), f)) {
            fprintf(stderr, "framepipe: %s: serve: cannot read the token\n", token_file);
            if (f)
                fclose(f);
            return FP_EXIT_USAGE;
        }
        fclose(f);
        token[strcspn(token, "\r\n")] = 0;
    } else if (getenv("FP_SERVE_TOKEN")) {
        snprintf(token, sizeof(token), "%s", getenv("FP_SERVE_TOKEN"));
    }
    if (!in_roots || !out_roots || !storage) {
        fprintf(stderr, "framepipe serve: --storage, --input-roots and --output-roots are required\n");
        return FP_EXIT_USAGE;
    }
    char *c1 = NULL, *c2 = NULL, *c3 = NULL;
    const char **ir = split(in_roots, &c1), **orr = split(out_roots, &c2), **bk = split(buckets, &c3);
    fp_serve_opts so = { queue ? queue : fp_cli_default_queue(), storage, token, ir, orr, bk, addr,
                         port ? atoi(port) : 8080 };
    fp_serve *s = NULL;
    fp_err e = { 0 };
    int ret = fp_serve_start(&s, &so, &e);
    if (ret == 0) {
        struct sigaction sa = { 0 };
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        fprintf(stderr, "framepipe: serve: listening on %s:%d\n", addr ? addr : "127.0.0.1", fp_serve_port(s));
        while (!quit)
            pause();
        fp_serve_stop(&s);
    } else {
        fprintf(stderr, "framepipe: %s\n", e.msg);
    }
    free(ir), free(orr), free(bk), free(c1), free(c2), free(c3);
    return fp_exit_code(ret);
}
#endif /* FP_JOBS_HAVE_SERVE */
