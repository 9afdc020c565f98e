/*
 * sigint_child — a tiny framepipe-like program for test_signals: it reserves an output with
 * fp_output_begin(), runs a slow two-stage pipeline that writes into the temporary file, and exits
 * the way the framepipe command does (commit on success; abort + fp_exit_code() on failure).
 *
 * usage: sigint_child MODE OUT
 *   slow      the stages poll fp_stage_should_stop(): one SIGINT stops it (exit 130, nothing left)
 *   stubborn  the writer ignores the stop request for 30 s: only a second SIGINT ends it at once
 *   exit      begin the output then exit(3) without abort: the atexit cleanup must remove it
 *   quick     a short run that commits (control: the final file appears)
 * Prints "tmp <path>" on stdout once the temporary exists and frames are flowing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fp_error.h"
#include "pipeline/fp_output.h"
#include "pipeline/fp_pipeline.h"
#include "pipeline/fp_signals.h"

typedef struct ctx {
    fp_queue *q;
    FILE *f;
    int frames, stubborn;
} ctx;

static int produce(fp_stage *st, void *opaque)
{
    ctx *c = opaque;
    for (int i = 0; i < c->frames; i++) {
        int ret = fp_stage_push(st, c->q, (void *)(long)(i + 1));
        if (ret < 0)
            return ret;
        fp_stage_add_frames(st, 1);
    }
    return 0;
}

static int consume(fp_stage *st, void *opaque)
{
    ctx *c = opaque;
    void *it;
    int ret, n = 0;
    while ((ret = fp_stage_pop(st, c->q, &it)) == 0) {
        fprintf(c->f, "frame %ld\n", (long)it);
        fflush(c->f);
        /* "ready" once frames are in the temporary, and for stubborn only once it has gone deaf, so
         * the test's first SIGINT always lands in the deaf stretch */
        if (++n == (c->stubborn ? 5 : 3)) {
            printf("tmp ready\n");
            fflush(stdout);
        }
        if (c->stubborn && n == 5)
            for (int i = 0; i < 3000; i++) /* deaf to the first Ctrl-C for 30 s */
                usleep(10000);
        usleep(10000);
        fp_stage_add_frames(st, 1);
    }
    return ret;
}

int main(int argc, char **argv)
{
    fp_output *out = NULL;
    fp_pipeline *p = NULL;
    fp_stage *s;
    fp_err e;
    ctx c = { 0 };
    fp_pipeline_opts o = { 0 };
    int ret;
    if (argc != 3)
        return FP_EXIT_USAGE;
    fp_err_clear(&e);
    fp_signals_install();
    if ((ret = fp_output_begin(&out, argv[2], &e)) < 0) {
        fprintf(stderr, "framepipe: %s\n", e.msg);
        return fp_exit_code(ret);
    }
    printf("tmp %s\n", fp_output_tmp_path(out));
    fflush(stdout);
    if (!strcmp(argv[1], "exit"))
        exit(3);
    c.f = fopen(fp_output_tmp_path(out), "w");
    c.frames = !strcmp(argv[1], "quick") ? 20 : 100000;
    c.stubborn = !strcmp(argv[1], "stubborn");
    o.stuck_grace_s = 30;
    fp_pipeline_alloc(&p, argv[2]);
    fp_pipeline_queue(p, "frames", 4, NULL, &c.q);
    fp_pipeline_add_stage(p, "decode", produce, &c, &s);
    fp_stage_add_output(s, c.q);
    fp_pipeline_add_stage(p, "write", consume, &c, &s);
    fp_stage_add_input(s, c.q);
    if ((ret = fp_pipeline_start(p)) == 0)
        ret = fp_pipeline_wait(p, &o);
    if (ret < 0)
        fprintf(stderr, "framepipe: %s\n", fp_pipeline_err(p)->msg);
    fp_pipeline_freep(&p);
    fclose(c.f);
    if (ret < 0) {
        fp_output_abort(&out);
        return fp_exit_code(ret);
    }
    if ((ret = fp_output_commit(&out, &e)) < 0) {
        fprintf(stderr, "framepipe: %s\n", e.msg);
        return fp_exit_code(ret);
    }
    return 0;
}
