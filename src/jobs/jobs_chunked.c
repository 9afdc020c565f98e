/*
 * jobs_chunked — the plain commands' --chunks run. See jobs_chunked.h.
 *
 * Why refuse rather than ignore: an option a chunk cannot honour (crop, scale, a frame rate, a time
 * range, pool settings) would silently make the chunked output differ from the plain run's, which is
 * what --chunks promises to match in frames and timestamps. The first Ctrl-C stops the running chunks
 * (they are released, their files deleted), the temporary queue and store are removed and nothing is
 * published; a second one exits at once (the temporary directory may then remain in $TMPDIR).
 */
#include "jobs/jobs_chunked.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <libavformat/avformat.h>

#include "core/fp_log.h"
#include "jobs/jobs_worker.h"
#include "media/fp_cliopts.h"
#include "media/fp_transcode.h"

static atomic_int g_stop;

static void on_signal(int sig)
{
    (void)sig;
    if (atomic_exchange(&g_stop, 1))
        _exit(130); /* second signal: now */
}

double fp_jobs_auto_chunk_seconds(const char *input, int workers)
{
    AVFormatContext *f = NULL;
    double dur = -1, s;
    if (avformat_open_input(&f, input, NULL, NULL) == 0) {
        if (f->duration <= 0)
            avformat_find_stream_info(f, NULL);
        if (f->duration > 0)
            dur = f->duration / (double)AV_TIME_BASE;
        avformat_close_input(&f);
    }
    if (dur <= 0)
        return 30;
    s = dur / (3.0 * (workers > 0 ? workers : 1));
    return s < 1 ? 1 : s > 30 ? 30 : s;
}

/* The first option given that a chunk cannot honour, or NULL. */
static const char *refused(const fp_transcode_opts *o)
{
    fp_transcode_opts d;
    fp_transcode_opts_default(&d);
    if (o->crop.w)
        return "--crop";
    if (o->scale_w || o->scale_h)
        return "--scale";
    if (o->fps.num)
        return "--fps";
    if (o->in.start_s != d.in.start_s)
        return "--start";
    if (o->in.end_s != d.in.end_s)
        return "--end";
    if (o->encoders)
        return "--encoders (each chunk has one encoder; the workers are the parallelism)";
    if (o->seg_frames)
        return "--segment-frames";
    if (o->in.max_errors != d.in.max_errors)
        return "--max-errors";
    if (o->in.watchdog_s != d.in.watchdog_s)
        return "--watchdog";
    if (o->progress_json)
        return "--progress";
    return NULL;
}

/* Task params as JSON text (caller frees), NULL on out of memory. */
static char *make_params(const char *task, const fp_cli_parsed *p)
{
    static const char *const modes[] = { "auto", "gpu", "cpu" };
    cJSON *j = cJSON_CreateObject(), *eo;
    char *s = NULL;
    const AVDictionaryEntry *t = NULL;
    if (!j)
        return NULL;
    if (p->o.vcodec)
        cJSON_AddStringToObject(j, "vcodec", p->o.vcodec);
    if (p->o.pix_fmt)
        cJSON_AddStringToObject(j, "pix_fmt", p->o.pix_fmt);
    if ((unsigned)p->o.in.decode < 3)
        cJSON_AddStringToObject(j, "decode", modes[p->o.in.decode]);
    if (!p->o.copy_audio)
        cJSON_AddTrueToObject(j, "no_audio");
    if (!p->o.copy_subs)
        cJSON_AddTrueToObject(j, "no_subs");
    if (p->enc_opts && (eo = cJSON_AddObjectToObject(j, "enc_opts")))
        while ((t = av_dict_get(p->enc_opts, "", t, AV_DICT_IGNORE_SUFFIX)))
            cJSON_AddStringToObject(eo, t->key, t->value);
    if (!strcmp(task, "key")) {
        char color[8];
        snprintf(color, sizeof(color), "%02x%02x%02x", (int)(p->key.rgb[0] * 255 + .5f),
                 (int)(p->key.rgb[1] * 255 + .5f), (int)(p->key.rgb[2] * 255 + .5f));
        cJSON_AddStringToObject(j, "color", color);
        cJSON_AddNumberToObject(j, "tolerance", p->key.tolerance);
        cJSON_AddNumberToObject(j, "softness", p->key.softness);
    }
    s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

int fp_jobs_cli_chunked(const char *task, fp_cli_parsed *p, int workers, double chunk_seconds)
{
    struct sigaction sa = { 0 }, old_int, old_term;
    fp_local_stats st;
    fp_err e;
    const char *bad = refused(&p->o);
    char *params;
    int ret;

    fp_err_clear(&e);
    if (bad) {
        fprintf(stderr, "framepipe: %s: %s: configure: --chunks does not take %s\n", task, p->o.input, bad);
        return FP_EXIT_USAGE;
    }
    {
        /* Preflight: the plain run's own open refuses bad combinations (codec, container, pixel
         * format, audio the container cannot hold) with its messages and exit codes, before any
         * chunk runs. Nothing is decoded; the temporary output is removed by freep. */
        fp_transcode *t = NULL;
        ret = fp_transcode_open(&t, &p->o, &e);
        fp_transcode_freep(&t);
        if (ret < 0) {
            fprintf(stderr, "framepipe: %s\n", e.code ? e.msg : fp_strerror(ret));
            return fp_exit_code(e.code ? e.code : ret);
        }
    }
    if (workers <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        workers = n > 0 ? (int)n : 1;
    }
    if (chunk_seconds <= 0)
        chunk_seconds = fp_jobs_auto_chunk_seconds(p->o.input, workers);
    if (!(params = make_params(task, p))) {
        fprintf(stderr, "framepipe: %s: out of memory\n", task);
        return FP_EXIT_FAILURE;
    }
    fp_job_spec spec = { (char *)task, (char *)p->o.input, (char *)p->o.output, NULL, chunk_seconds, -1, params };
    fp_local_opts lo = { workers, &g_stop };
    fp_log(FP_LOG_VERBOSE, task, "--chunks: %d workers, chunks of about %.2f s, params %s", workers, chunk_seconds,
           params);

    atomic_store(&g_stop, 0);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    ret = fp_jobs_run_local_ex(&spec, &lo, &st, &e);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    free(params);

    if (ret < 0) {
        fprintf(stderr, "framepipe: %s: %s\n", task, e.code ? e.msg : fp_strerror(ret));
        return fp_exit_code(e.code ? e.code : ret);
    }
    if (fp_log_get_level() >= FP_LOG_WARN)
        fprintf(stderr, "framepipe: %s: %lld frames in %d chunks on %d workers in %.2f s (%.1f fps)\n", p->o.output,
                (long long)st.frames, st.chunks, workers, st.seconds, st.seconds > 0 ? st.frames / st.seconds : 0);
    return FP_EXIT_OK;
}
