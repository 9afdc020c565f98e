/*
 * test_matte_many — many files through the queue's chunked "matte" task (fp_matte_many_run with
 * task_params), on the CPU with the tiny RVM model of tests/models: a file long enough to be cut into
 * chunks, one that cannot be planned (truncated MP4) and one whose packets are corrupt mid-file.
 * Checks: the good file's output is published with every frame at the input's timestamps and its
 * alpha flagged (ALPHA_MODE); its chunks ran on both workers (a long file does not leave a worker
 * idle); each bad file fails with its own line (the corrupt one naming its chunk) and stops nothing;
 * nothing but the one output is left in OUTDIR. Then Ctrl-C (SIGINT through fp_signals, as the command
 * installs it) while a chunk runs: the run ends, the file is reported not finished / interrupted
 * (FP_EINTR), OUTDIR stays empty. usage: test_matte_many MODELS_DIR
 */
#include <glob.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fp_test.h"
#include "jobs_testutil.h"
#include "pipeline/fp_signals.h"
#include "tasks/matte.h"
#include "tasks/matte_many.h"

typedef struct bg_run {
    fp_matte_many_opts *o;
    fp_matte_many_stats st;
    fp_err e;
    int ret;
} bg_run;

static void *bg_main(void *arg)
{
    bg_run *r = arg;
    r->ret = fp_matte_many_run(r->o, &r->st, &r->e);
    return NULL;
}

/* Whether a chunk of the queued path has started writing (its work directory holds a file). */
static int chunk_started(void)
{
    /* any name: the encoder writes a hidden temporary first (".[!.]*" skips "." and "..") */
    static const char *const pat[] = { "/tmp/fp-matte-queue-*/work/*", "/tmp/fp-matte-queue-*/work/.[!.]*" };
    int n = 0;
    for (int i = 0; i < 2; i++) {
        glob_t g;
        n += glob(pat[i], 0, NULL, &g) == 0 ? (int)g.gl_pathc : 0;
        globfree(&g);
    }
    return n > 0;
}

static int sh(const char *fmt, const char *a, const char *b)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), fmt, a, b);
    return system(cmd);
}

int main(int argc, char **argv)
{
    const char *dir = tu_tmpdir();
    char in[600], out[600], model[600], cmd[2048];
    snprintf(in, sizeof(in), "%s/in", dir);
    snprintf(out, sizeof(out), "%s/out", dir);
    snprintf(model, sizeof(model), "%s/rvm_mobilenetv3/model.onnx", argc > 1 ? argv[1] : "tests/models");
    sh("mkdir -p '%s' '%s'", in, out);
    /* 3 s, a closed GOP every second: 3 chunks of 1 s */
    if (sh("ffmpeg -nostdin -v error -y -f lavfi -i testsrc=size=96x72:rate=25 -t 3 -c:v libx264 -preset ultrafast"
           " -g 25 -keyint_min 25 -sc_threshold 0 '%s/a_long.mp4'%s", in, "") != 0) {
        printf("test_matte_many: ffmpeg with libx264 missing: skipped\n");
        return FP_TEST_SKIP_CODE;
    }
    /* truncated before its index: cannot be planned */
    sh("head -c 3000 '%s/a_long.mp4' > '%s/b_truncated.mp4'", in, in);
    /* decodable header, packets corrupted at 70%: its chunk fails when decoded */
    sh("ffmpeg -nostdin -v error -y -f lavfi -i testsrc=size=96x72:rate=25 -t 2 -c:v ffv1 -level 3 -slicecrc 1"
       " -g 25 '%s/c_corrupt.mkv'%s", in, "");
    snprintf(cmd, sizeof(cmd),
             "python3 -c \"import sys; p = sys.argv[1]; b = bytearray(open(p, 'rb').read()); n = len(b)\n"
             "for i in range(int(n * 0.7), int(n * 0.7) + 1500): b[i] ^= 0x55\n"
             "open(p, 'wb').write(b)\" '%s/c_corrupt.mkv'", in);
    CHECK(system(cmd) == 0);

    char **files = NULL;
    int n = 0;
    fp_err e = { 0 };
    CHECK_EQ_INT(fp_matte_list_inputs(in, &files, &n, &e), 0);
    CHECK_EQ_INT(n, 3);

    fp_matte_opts mo;
    fp_matte_opts_default(&mo);
    mo.model = model;
    mo.backend = "cpu";
    mo.threads = 1;
    char *params = fp_matte_many_task_params(&mo, "rgba", NULL);
    CHECK(params != NULL);
    char *rep = NULL;
    size_t replen = 0;
    FILE *report = open_memstream(&rep, &replen);
    fp_matte_many_opts o = { 0 };
    fp_matte_many_stats st;
    o.inputs = (const char *const *)files;
    o.n = n;
    o.outdir = out;
    o.ext = "webm";
    o.workers = 2;
    o.devices = 1;
    o.report = report;
    o.task_params = params;
    o.chunk_seconds = 1;
    o.warmup_frames = -1;
    int ret = fp_matte_many_run(&o, &st, &e);
    fclose(report);
    printf("%s", rep ? rep : "");
    CHECK_EQ_INT(ret, 0);
    CHECK_EQ_INT(st.ok, 1);
    CHECK_EQ_INT(st.failed, 2);
    CHECK_EQ_INT(st.frames, 75);
    CHECK_EQ_INT(st.first_error, FP_EINPUT);
    CHECK(rep && strstr(rep, "a_long.webm: 75 frames in 3 chunk(s) on 2 worker(s)"));
    CHECK(rep && strstr(rep, "FAILED  ") && strstr(rep, "b_truncated.mp4: plan: "));
    CHECK(rep && strstr(rep, "c_corrupt.mkv: chunk ") && strstr(rep, "decode: corrupt"));
    CHECK(rep && strstr(rep, "matte: 3 files: 1 ok, 2 failed; 75 frames"));

    /* the one output: every frame at the input's timestamps, alpha flagged for VP9 decoders */
    snprintf(cmd, sizeof(cmd),
             "ffprobe -v error -select_streams v -show_entries frame=pts_time -of compact '%s/a_long.mp4' |"
             " sed -n 's/^frame|pts_time=\\([0-9.]*\\).*/\\1/p' | awk '{ printf \"%%.3f\\n\", $1 }' > '%s/in.pts'", in, dir);
    CHECK(system(cmd) == 0);
    snprintf(cmd, sizeof(cmd),
             "ffprobe -v error -select_streams v -show_entries frame=pts_time -of compact '%s/a_long.webm' |"
             " sed -n 's/^frame|pts_time=\\([0-9.]*\\).*/\\1/p' | awk '{ printf \"%%.3f\\n\", $1 }' > '%s/out.pts'", out, dir);
    CHECK(system(cmd) == 0);
    CHECK_MSG(sh("cmp -s '%s/in.pts' '%s/out.pts'", dir, dir) == 0, "output frame timestamps differ from the input's");
    CHECK(sh("test $(wc -l < '%s/out.pts') = 75%s", dir, "") == 0);
    CHECK(sh("test $(wc -l < '%s/in.pts') = 75%s", dir, "") == 0); /* the comparison is not of two empty lists */
    CHECK_MSG(sh("ffprobe -v error -select_streams v -show_entries stream_tags=alpha_mode -of csv=p=0 '%s/a_long.webm'"
                 " | grep -qx 1%s", out, "") == 0, "ALPHA_MODE missing");
    CHECK_MSG(sh("test \"$(ls -A '%s')\" = a_long.webm%s", out, "") == 0, "OUTDIR holds more than the one output");

    /* Ctrl-C while a chunk runs */
    {
        char in2[700], out2[700], *one = in2;
        snprintf(in2, sizeof(in2), "%s/a_long.mp4", in);
        snprintf(out2, sizeof(out2), "%s/out2", dir);
        char *rep2 = NULL;
        size_t rep2len = 0;
        FILE *report2 = open_memstream(&rep2, &rep2len);
        fp_matte_many_opts o2 = o;
        o2.inputs = (const char *const *)&one;
        o2.n = 1;
        o2.outdir = out2;
        o2.report = report2;
        bg_run r = { &o2 };
        pthread_t t;
        CHECK_EQ_INT(fp_signals_install(), 0);
        /* the worker pauses 300 ms between its steps, so a fast machine cannot finish the chunk
         * before the signal lands (timing only; docs/jobs.md) */
        setenv("FP_JOBS_FAULT_SLEEP_MS", "=300", 1);
        double t0 = tu_now();
        CHECK(pthread_create(&t, NULL, bg_main, &r) == 0);
        while (!chunk_started() && tu_now() - t0 < 120)
            tu_sleep(0.01);
        CHECK_MSG(chunk_started(), "no chunk started");
        kill(getpid(), SIGINT);
        double t1 = tu_now();
        pthread_join(t, NULL);
        unsetenv("FP_JOBS_FAULT_SLEEP_MS");
        fclose(report2);
        printf("interrupted run: stopped %.2f s after SIGINT\n%s", tu_now() - t1, rep2 ? rep2 : "");
        CHECK_EQ_INT(r.ret, 0);
        CHECK_EQ_INT(r.st.ok, 0);
        CHECK_EQ_INT(r.st.failed, 1);
        CHECK_EQ_INT(r.st.first_error, FP_EINTR);
        CHECK(rep2 && strstr(rep2, "a_long.mp4: not finished (") && strstr(rep2, "): interrupted"));
        CHECK_MSG(sh("test -z \"$(ls -A '%s')\"%s", out2, "") == 0, "an interrupted run left something in OUTDIR");
        fp_signals_reset();
        free(rep2);
    }

    free(rep);
    free(params);
    fp_matte_list_free(&files, n);
    tu_rmtmp();
    return fp_test_finish("test_matte_many");
}
