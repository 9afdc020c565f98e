/*
 * task_media — the processing commands' stages as chunk work: `key` (chroma key, media module) and
 * `matte` (the RVM-style model, src/tasks). Each chunk runs fp_transcode over its frame-exact range
 * into a chunk file of the output's container (video only, one encoder: the workers are the
 * parallelism); the aggregate is task_remux.c's join (video packets in order, audio/subtitles from
 * the source).
 *
 * Owns: mapping job params onto the stages' options, and the warm-up of stateful tasks: matte
 * decodes from the planner's warmup_pts and runs those frames through the model without writing
 * them (fp_transcode_opts.emit_from_pts), so each chunk's recurrent state has settled by its first
 * written frame. Does not own the key maths (media/fp_key.h), the model (tasks/matte.h) nor the join.
 *
 * Params (job JSON "params"), common to transcode, key and matte: "vcodec", "pix_fmt", "enc_opts"
 * (object of encoder options as strings, FFmpeg names: {"crf":"30"}), "decode" (auto|gpu|cpu);
 * the join reads "no_audio"/"no_subs" (booleans). Per task:
 *   key:   "color" (RRGGBB, required), "tolerance" (0..1, 0.1), "softness" (0..1, 0.05)
 *   matte: "model" (ONNX path, required), "backend" (auto|cpu|cuda), "precision" (auto|fp16|fp32), "mode"
 *          (rgba|composite|alpha|foreground, default rgba), "alpha_mode" (straight|premultiplied),
 *          "bg" (RRGGBB for composite, default 00ff00), "downsample_ratio" (0 = automatic),
 *          "threads" (CPU threads per model, 0 = all)
 * The GPU index of the worker thread (`worker --gpus`) becomes matte's device id.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <libavutil/dict.h>

#include "jobs/jobs_task.h"
#include "media/fp_key.h"
#include "media/fp_transcode.h"
#ifdef FP_JOBS_HAVE_TASKS
#include "tasks/matte.h"
#include "tasks/matte_chunks.h"
#include "tasks/matte_stage.h"
#endif

/* The task's stop flag, polled by fp_transcode's decode stage (which may run on its own thread, so
 * the flag travels as the hook's argument, not through a thread-local). */
static int stopped(void *arg) { atomic_int *stop = arg; return stop && atomic_load(stop); }

static const char *pstr(const cJSON *p, const char *k, char *buf, size_t n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, k);
    if (!cJSON_IsString(v))
        return NULL;
    snprintf(buf, n, "%s", v->valuestring);
    return buf;
}

static int pnum(const cJSON *p, const char *k, double lo, double hi, double *out, fp_err *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, k);
    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi)
        return fp_errorf(e, FP_EINVAL, "params.%s: expected a number in [%g, %g]", k, lo, hi);
    *out = v->valuedouble;
    return 0;
}

/* The media params every task shares: encoder, pixel format, encoder options (FFmpeg names, string
 * values, as the plain commands pass them through) and the decode path. *enc is the caller's to free
 * (av_dict_free), also after an error. */
static int media_params(const fp_task_ctx *ctx, char *vcodec, size_t nv, char *pix_fmt, size_t np,
                        AVDictionary **enc, fp_decode_mode *decode, fp_err *e)
{
    char mode[16] = "";
    int ret = 0;
    cJSON *p = cJSON_Parse(ctx->params ? ctx->params : "{}");
    if (!p)
        return fp_errorf(e, FP_EINVAL, "%s: params are not JSON", ctx->input);
    pstr(p, "vcodec", vcodec, nv);
    pstr(p, "pix_fmt", pix_fmt, np);
    if (pstr(p, "decode", mode, sizeof(mode)) && fp_decode_mode_parse(mode, decode) < 0)
        ret = fp_errorf(e, FP_EINVAL, "%s: params.decode: expected auto|gpu|cpu", ctx->input);
    const cJSON *eo = cJSON_GetObjectItemCaseSensitive(p, "enc_opts"), *it;
    if (ret == 0 && eo && !cJSON_IsObject(eo))
        ret = fp_errorf(e, FP_EINVAL, "%s: params.enc_opts: expected an object of strings", ctx->input);
    if (ret < 0)
        eo = NULL;
    cJSON_ArrayForEach(it, eo)
    {
        if (!cJSON_IsString(it)) {
            ret = fp_errorf(e, FP_EINVAL, "%s: params.enc_opts.%s: expected a string", ctx->input, it->string);
            break;
        }
        if (av_dict_set(enc, it->string, it->valuestring, 0) < 0) {
            ret = fp_errorf(e, FP_ENOMEM, "%s: params: out of memory", ctx->input);
            break;
        }
    }
    cJSON_Delete(p);
    return ret;
}

int fp_task_run_range(const fp_task_ctx *ctx, const char *out, const fp_process_stage *stage, int64_t from_pts,
                      AVDictionary *meta, fp_err *e)
{
    fp_transcode_opts o;
    fp_transcode *t = NULL;
    char vcodec[64] = "", pix_fmt[32] = "";
    AVDictionary *enc = NULL;
    fp_transcode_opts_default(&o);
    if (media_params(ctx, vcodec, sizeof(vcodec), pix_fmt, sizeof(pix_fmt), &enc, &o.in.decode, e) < 0) {
        av_dict_free(&enc);
        return e->code;
    }
    o.input = ctx->input;
    o.output = out;
    o.vcodec = vcodec[0] ? vcodec : NULL;
    o.pix_fmt = pix_fmt[0] ? pix_fmt : NULL;
    o.enc_opts = enc;
    o.copy_audio = o.copy_subs = o.copy_data = 0;
    o.encoders = 1;
    o.stage = stage;
    o.video_metadata = meta;
    o.in.start_pts = from_pts;
    o.in.end_pts = ctx->chunk->end_pts == INT64_MAX ? AV_NOPTS_VALUE : ctx->chunk->end_pts;
    o.emit_from_pts = from_pts < ctx->chunk->start_pts ? ctx->chunk->start_pts : AV_NOPTS_VALUE;
    o.interrupted_arg_fn = stopped;
    o.interrupted_arg = ctx->stop;
    int ret = fp_transcode_open(&t, &o, e);
    if (ret == 0)
        ret = fp_transcode_run(t, e);
    if (ret == 0) {
        const fp_transcode_stats *st = fp_transcode_get_stats(t);
        if (ctx->chunk->nframes && st->frames_out != ctx->chunk->nframes)
            ret = fp_errorf(e, FP_EINPUT, "%s: %s: chunk wrote %lld frames, the plan said %d", ctx->input,
                            stage ? stage->name : "transcode", (long long)st->frames_out, ctx->chunk->nframes);
        if (ctx->stats)
            *ctx->stats = (fp_task_stats){ st->frames_out, st->decode_s, st->process_s, st->seconds };
    }
    fp_transcode_freep(&t);
    av_dict_free(&enc);
    return ret;
}

static int key_stage(void *opaque, const fp_planar *rgb, const fp_planar *alpha, int64_t pts, fp_err *e)
{
    return fp_key_apply(opaque, rgb, alpha, e);
}

static int key_chunk(const fp_task_ctx *ctx, const char *out, fp_err *e)
{
    fp_key k = { { 0 }, 0.1f, 0.05f };
    char color[32];
    double tol = k.tolerance, soft = k.softness;
    int ret;
    cJSON *p = cJSON_Parse(ctx->params ? ctx->params : "{}");
    if (!p)
        return fp_errorf(e, FP_EINVAL, "%s: key: params are not JSON", ctx->input);
    if (!pstr(p, "color", color, sizeof(color)) || fp_key_parse_color(color, k.rgb) < 0)
        ret = fp_errorf(e, FP_EINVAL, "%s: key: params.color: expected RRGGBB", ctx->input);
    else if ((ret = pnum(p, "tolerance", 0, 1, &tol, e)) == 0)
        ret = pnum(p, "softness", 0, 1, &soft, e);
    cJSON_Delete(p);
    if (ret < 0)
        return ret;
    k.tolerance = (float)tol;
    k.softness = (float)soft;
    fp_process_stage stage = { "key", 1, key_stage, &k };
    /* The key is per pixel, stateless: no warm-up. */
    return fp_task_run_range(ctx, out, &stage, ctx->chunk->start_pts, NULL, e);
}

const fp_task_desc fp_task_key = {
    "key", "chroma key each chunk to alpha video (params: color, tolerance, softness, vcodec, pix_fmt)", 0, NULL,
    key_chunk, fp_task_join_chunks,
};

#ifdef FP_JOBS_HAVE_TASKS
static int matte_chunk(const fp_task_ctx *ctx, const char *out, fp_err *e)
{
    static const char *const modes[] = { "rgba", "composite", "alpha", "foreground" };
    char model[4096] = "", backend[16] = "auto", mode[16] = "rgba", amode[16] = "straight", bg[32] = "00ff00",
         precision[16] = "auto";
    double ratio = 0, threads = 0;
    fp_matte_opts mo;
    fp_matte *m = NULL;
    fp_matte_stage s = { 0 };
    AVDictionary *meta = NULL;
    int ret = 0, imode = -1;
    cJSON *p = cJSON_Parse(ctx->params ? ctx->params : "{}");
    if (!p)
        return fp_errorf(e, FP_EINVAL, "%s: matte: params are not JSON", ctx->input);
    pstr(p, "model", model, sizeof(model));
    pstr(p, "backend", backend, sizeof(backend));
    pstr(p, "mode", mode, sizeof(mode));
    pstr(p, "alpha_mode", amode, sizeof(amode));
    pstr(p, "bg", bg, sizeof(bg));
    pstr(p, "precision", precision, sizeof(precision));
    if ((ret = pnum(p, "downsample_ratio", 0, 1, &ratio, e)) == 0)
        ret = pnum(p, "threads", 0, 1024, &threads, e);
    cJSON_Delete(p);
    if (ret < 0)
        return ret;
    for (int i = 0; i < 4; i++)
        if (!strcmp(mode, modes[i]))
            imode = i;
    if (!model[0])
        return fp_errorf(e, FP_EINVAL, "%s: matte: params.model: required (ONNX file)", ctx->input);
    if (imode < 0)
        return fp_errorf(e, FP_EINVAL, "%s: matte: params.mode: expected rgba|composite|alpha|foreground", ctx->input);
    if (strcmp(amode, "straight") && strcmp(amode, "premultiplied"))
        return fp_errorf(e, FP_EINVAL, "%s: matte: params.alpha_mode: expected straight|premultiplied", ctx->input);
    if (strcmp(precision, "auto") && strcmp(precision, "fp16") && strcmp(precision, "fp32"))
        return fp_errorf(e, FP_EINVAL, "%s: matte: params.precision: expected auto|fp16|fp32", ctx->input);
    fp_matte_opts_default(&mo);
    mo.fp16 = !strcmp(precision, "fp16") ? 1 : !strcmp(precision, "fp32") ? 0 : -1;
    mo.model = model;
    mo.backend = backend;
    mo.downsample_ratio = ratio;
    mo.threads = (int)threads;
    if (ctx->gpu >= 0)
        mo.device_id = ctx->gpu;
    s.mode = (fp_matte_mode)imode;
    s.premultiplied = !strcmp(amode, "premultiplied");
    if (fp_key_parse_color(bg, s.bg_rgb) < 0)
        return fp_errorf(e, FP_EINVAL, "%s: matte: params.bg: expected RRGGBB", ctx->input);
    if ((ret = fp_matte_open(&m, &mo, e)) < 0)
        return ret;
    s.m = m;
    if (s.mode == FP_MATTE_MODE_RGBA)
        av_dict_set(&meta, "alpha_type", s.premultiplied ? "premultiplied" : "straight", 0);
    fp_process_stage stage = { "matte", s.mode == FP_MATTE_MODE_RGBA, fp_matte_stage_process, &s };
    /* The recurrent state starts from zero at warmup_pts: the frames before start_pts settle it and
     * are not written. */
    ret = fp_task_run_range(ctx, out, &stage, ctx->chunk->warmup_pts, meta, e);
    av_dict_free(&meta);
    fp_matte_stage_uninit(&s);
    fp_matte_freep(&m);
    return ret;
}

const fp_task_desc fp_task_matte = {
    "matte", "RVM-style matting per chunk with warm-up frames (params: model, backend, mode, ...)",
    FP_MATTE_WARMUP_DEFAULT, NULL, matte_chunk, fp_task_join_chunks,
};
#endif
