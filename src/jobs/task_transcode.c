/*
 * task_transcode — the media module's processing path as chunk work: each chunk runs
 * fp_transcode over its frame-exact range [start_pts, end_pts) of the input into a chunk file of the
 * output's container, without audio/subtitles (the join takes those from the source once); the
 * aggregate joins the chunks' video packets without re-encoding (task_remux.c's join).
 *
 * Owns: mapping a chunk and the job's params onto fp_transcode_opts. Params (job JSON "params"):
 *   "vcodec"  : FFmpeg encoder name (default: the media module's default for the container)
 *   "pix_fmt" : encoder pixel format
 * Does not own encoding (src/media) or joining (task_remux.c).
 *
 * With a lossless or intra-only deterministic encoder (ffv1) the joined output's frames are
 * identical to a single-process run; with a lossy inter-frame encoder each chunk starts a new GOP at
 * the cut, so frames differ in the encoder's noise but count and timestamps are identical.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "jobs/jobs_task.h"
#include "media/fp_transcode.h"

int fp_task_join_chunks(const fp_task_ctx *ctx, const char *const *chunks, int n, const char *out, fp_err *e);

/* The task's stop flag, polled by fp_transcode's decode stage (which may run on its own thread, so
 * the flag travels as the hook's argument, not through a thread-local). */
static int stopped(void *arg) { atomic_int *stop = arg; return stop && atomic_load(stop); }

static int transcode_chunk(const fp_task_ctx *ctx, const char *out, fp_err *e)
{
    fp_transcode_opts o;
    fp_transcode *t = NULL;
    char vcodec[64] = "", pix_fmt[32] = "";
    cJSON *p = cJSON_Parse(ctx->params ? ctx->params : "{}");
    if (p) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, "vcodec");
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(p, "pix_fmt");
        if (cJSON_IsString(v))
            snprintf(vcodec, sizeof(vcodec), "%s", v->valuestring);
        if (cJSON_IsString(f))
            snprintf(pix_fmt, sizeof(pix_fmt), "%s", f->valuestring);
        cJSON_Delete(p);
    }
    fp_transcode_opts_default(&o);
    o.input = ctx->input;
    o.output = out;
    o.vcodec = vcodec[0] ? vcodec : NULL;
    o.pix_fmt = pix_fmt[0] ? pix_fmt : NULL;
    o.copy_audio = o.copy_subs = o.copy_data = 0;
    o.encoders = 1; /* the workers are the parallelism */
    o.in.start_pts = ctx->chunk->start_pts;
    o.in.end_pts = ctx->chunk->end_pts == INT64_MAX ? AV_NOPTS_VALUE : ctx->chunk->end_pts;
    o.interrupted_arg_fn = stopped;
    o.interrupted_arg = ctx->stop;
    int ret = fp_transcode_open(&t, &o, e);
    if (ret == 0)
        ret = fp_transcode_run(t, e);
    if (ret == 0) {
        const fp_transcode_stats *st = fp_transcode_get_stats(t);
        if (ctx->chunk->nframes && st->frames_out != ctx->chunk->nframes)
            ret = fp_errorf(e, FP_EINPUT, "%s: transcode: chunk wrote %lld frames, the plan said %d", ctx->input,
                            (long long)st->frames_out, ctx->chunk->nframes);
        if (ctx->stats)
            *ctx->stats = (fp_task_stats){ st->frames_out, st->decode_s, st->process_s, st->seconds };
    }
    fp_transcode_freep(&t);
    return ret;
}

const fp_task_desc fp_task_transcode = {
    "transcode", "decode and re-encode each chunk (media module), join without re-encoding", 0, NULL,
    transcode_chunk, fp_task_join_chunks,
};
