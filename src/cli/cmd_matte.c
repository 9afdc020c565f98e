/*
 * framepipe matte — background removal: an RVM-style matting model (tasks/matte.h) run as the
 * processing stage of the transcode path, writing transparent video (or a composite, or the matte).
 *
 * Owns: the command's option table (parsing, --help, validation and defaults all come from it), the
 * choice of output mode from the flags, the background for --composite (tasks/matte_bg.h), the extra passes
 * for --foreground/--alpha, and the summary. Does not own the model, the compose (tasks/) or any
 * media handling (media/): the container and codec follow -o's extension as for `framepipe transcode`.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <dirent.h>
#include <strings.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/dict.h>
#include <libavutil/imgutils.h>
#include <libswscale/swscale.h>

#include "core/fp_error.h"
#include "core/fp_log.h"
#include "media/fp_key.h"
#include "media/fp_transcode.h"
#include "pipeline/fp_signals.h"
#include "tasks/matte.h"
#include "tasks/matte_chunks.h"
#include "pipeline/fp_autoconf.h"
#include "pipeline/fp_gpuinfo.h"
#ifdef FP_HAVE_JOBS
#include "tasks/matte_many.h"
#endif
#include "tasks/matte_bg.h"
#include "tasks/matte_stage.h"

typedef struct matte_args {
    const char *input;
    const char *output;
    const char *model;
    const char *backend;
    const char *precision;
    double ratio;
    const char *composite;
    int alpha_only;
    int no_audio, no_subs;
    const char *foreground;
    const char *alpha;
    const char *alpha_mode;
    const char *vcodec;
    const char *pix_fmt;
    int threads;
    int encoders;
    int chunks;
    int batch;
    const char *batch_tail;
    int queue_decoded, queue_converted; /* not options: from the auto-configuration */
    const char *announce;                /* the auto-configuration line, printed once when the pass opened */
    int warmup;
    const char *gpus;
    const char *ext;
    double chunk_seconds;
    int help;
} matte_args;

enum opt_type { OPT_FLAG, OPT_STRING, OPT_INT, OPT_DOUBLE, OPT_CHOICE };

typedef struct matte_opt {
    const char *name;     /* long name without dashes */
    const char *alias;    /* short spelling, or NULL */
    enum opt_type type;
    size_t offset;        /* into matte_args */
    const char *def;      /* default as text (NULL: none) */
    double min, max;      /* OPT_INT / OPT_DOUBLE range */
    const char *choices;  /* OPT_CHOICE: "a|b|c" */
    const char *help;
} matte_opt;

#define OFF(f) offsetof(matte_args, f)
static const matte_opt matte_opts[] = {
    { "output", "o", OPT_STRING, OFF(output), NULL, 0, 0, NULL,
      "output file; the extension picks the container: .webm VP9 with alpha (default choice), .mov ProRes 4444 "
      "with alpha, .mkv FFV1 with alpha, DIR/%05d.png an RGBA PNG sequence (numbered from 1)" },
    { "model", NULL, OPT_STRING, OFF(model), NULL, 0, 0, NULL,
      "RVM-style ONNX model (inputs src, r1i..r4i, downsample_ratio; outputs fgr, pha, r1o..r4o), fp32 or fp16" },
    { "downsample-ratio", NULL, OPT_DOUBLE, OFF(ratio), "0", 0, 1, NULL,
      "model's downsample_ratio; 0 = automatic: " FP_MATTE_AUTO_RATIO_RULE " (0.25 at 1080p, 0.125 at 4K)" },
    { "backend", NULL, OPT_CHOICE, OFF(backend), "auto", 0, 0, "auto|cpu|cuda",
      "where the model runs; auto = CUDA when built and usable, else the CPU" },
    { "precision", NULL, OPT_CHOICE, OFF(precision), "auto", 0, 0, "auto|fp16|fp32",
      "compute precision; auto = fp16 on CUDA, fp32 on the CPU (which only computes fp32)" },
    { "composite", NULL, OPT_STRING, OFF(composite), NULL, 0, 0, NULL,
      "write a flat video: the foreground over COLOR (RRGGBB), an IMAGE or a VIDEO file (scaled to the frame; a "
      "video is mapped by time and looped when shorter)" },
    { "alpha-only", NULL, OPT_FLAG, OFF(alpha_only), "0", 0, 1, NULL, "write the matte as a grey video" },
    { "foreground", NULL, OPT_STRING, OFF(foreground), NULL, 0, 0, NULL,
      "also write the model's foreground colours (no alpha) to this file (one more pass)" },
    { "alpha", NULL, OPT_STRING, OFF(alpha), NULL, 0, 0, NULL,
      "also write the matte as grey video to this file (one more pass)" },
    { "alpha-mode", NULL, OPT_CHOICE, OFF(alpha_mode), "straight", 0, 0, "straight|premultiplied",
      "colour of transparent output: straight (foreground colour as is) or premultiplied by alpha; stated in "
      "the video stream's tag alpha_type" },
    { "codec", "c:v", OPT_STRING, OFF(vcodec), NULL, 0, 0, NULL, "FFmpeg encoder name (default: from -o)" },
    { "pix-fmt", NULL, OPT_STRING, OFF(pix_fmt), NULL, 0, 0, NULL, "encoder pixel format (default: chosen)" },
    { "chunks", NULL, OPT_INT, OFF(chunks), "1", 0, 256, NULL,
      "cut the video into this many chunks matted at once (own state each, joined without re-encoding); "
      "0 = automatic: fp_autoconf's batch for the GPU's free memory and the frame size (1 on the CPU)" },
    { "batch", NULL, OPT_INT, OFF(batch), "0", 0, 256, NULL,
      "with --chunks: chunks matted in one model call, each with its own recurrent state row; 0 = all chunks at "
      "once; 1 = one model instance per chunk on its own thread (also used for a model with a fixed batch of 1)" },
    { "batch-tail", NULL, OPT_CHOICE, OFF(batch_tail), "auto", 0, 0, "auto|shrink|pad",
      "with --chunks: when chunks end at different times the batch shrinks (a new runtime plan and activation "
      "arena per size) or is padded (ended chunks' rows rerun their last frame, dropped: one plan); auto = pad on "
      "CUDA, shrink on the CPU" },
    { "warmup-frames", NULL, OPT_INT, OFF(warmup), "8", 0, 1000, NULL,
      "with --chunks: frames run before each chunk's first written frame so its state settles" },
    { "gpus", NULL, OPT_STRING, OFF(gpus), "1", 0, 0, NULL,
      "many inputs (IN is a directory or a glob, -o a directory): workers pulling files from the queue, "
      "'all' = one per GPU (one on a machine without)" },
    { "ext", NULL, OPT_CHOICE, OFF(ext), "webm", 0, 0, "webm|mov|mkv",
      "many inputs: the outputs' container, OUTDIR/NAME.EXT" },
    { "chunk-seconds", NULL, OPT_DOUBLE, OFF(chunk_seconds), "30", 0, 86400, NULL,
      "many inputs: cut each file at keyframes into chunks of about this length, all files' chunks in one queue "
      "(a long file spreads over every worker; --warmup-frames before each chunk); 0 = one piece of work per file. "
      "A --composite image or video always runs whole files" },
    { "threads", NULL, OPT_INT, OFF(threads), "0", 0, 1024, NULL, "CPU threads of the model; 0 = all cores" },
    { "encoders", NULL, OPT_INT, OFF(encoders), "0", 0, 64, NULL, "encoder pool size; 0 = automatic" },
    { "no-audio", "an", OPT_FLAG, OFF(no_audio), "0", 0, 1, NULL,
      "do not copy audio (e.g. AAC into .webm, which holds only Opus/Vorbis: refused otherwise)" },
    { "no-subtitles", "sn", OPT_FLAG, OFF(no_subs), "0", 0, 1, NULL, "do not copy subtitles" },
    { "help", "h", OPT_FLAG, OFF(help), "0", 0, 1, NULL, "this help" },
};
#define N_OPTS (int)(sizeof(matte_opts) / sizeof(matte_opts[0]))

static int set_opt(matte_args *a, const matte_opt *o, const char *v, fp_err *e)
{
    char *end;
    void *p = (char *)a + o->offset;
    switch (o->type) {
    case OPT_FLAG:
        *(int *)p = atoi(v);
        return 0;
    case OPT_STRING:
        *(const char **)p = v;
        return 0;
    case OPT_CHOICE: {
        size_t n = strlen(v);
        for (const char *c = o->choices; c && *c;) {
            const char *bar = strchr(c, '|');
            size_t len = bar ? (size_t)(bar - c) : strlen(c);
            if (len == n && !strncmp(c, v, n)) {
                *(const char **)p = v;
                return 0;
            }
            c = bar ? bar + 1 : NULL;
        }
        return fp_errorf(e, FP_EINVAL, "--%s must be one of %s (not '%s')", o->name, o->choices, v);
    }
    case OPT_INT: {
        long l;
        errno = 0;
        l = strtol(v, &end, 10);
        if (errno || end == v || *end || l < o->min || l > o->max)
            return fp_errorf(e, FP_EINVAL, "--%s must be an integer in [%g, %g] (not '%s')", o->name, o->min, o->max,
                             v);
        *(int *)p = (int)l;
        return 0;
    }
    case OPT_DOUBLE: {
        double d = strtod(v, &end);
        if (end == v || *end || !(d >= o->min && d <= o->max))
            return fp_errorf(e, FP_EINVAL, "--%s must be a number in [%g, %g] (not '%s')", o->name, o->min, o->max,
                             v);
        *(double *)p = d;
        return 0;
    }
    }
    return FP_EINTERNAL;
}

static int parse(int argc, char **argv, matte_args *a, fp_err *e)
{
    int ret;
    memset(a, 0, sizeof(*a));
    for (int i = 0; i < N_OPTS; i++)
        if (matte_opts[i].def && (ret = set_opt(a, &matte_opts[i], matte_opts[i].def, e)) < 0)
            return ret;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i], *name, *val = NULL, *eq;
        const matte_opt *o = NULL;
        size_t len;
        if (s[0] != '-' || !s[1]) {
            if (a->input)
                return fp_errorf(e, FP_EINVAL, "one input only ('%s' and '%s')", a->input, s);
            a->input = s;
            continue;
        }
        name = s + 1 + (s[1] == '-');
        eq = strchr(name, '=');
        len = eq ? (size_t)(eq - name) : strlen(name);
        for (int k = 0; k < N_OPTS && !o; k++)
            if ((strlen(matte_opts[k].name) == len && !strncmp(matte_opts[k].name, name, len)) ||
                (matte_opts[k].alias && strlen(matte_opts[k].alias) == len && !strncmp(matte_opts[k].alias, name, len)))
                o = &matte_opts[k];
        if (!o)
            return fp_errorf(e, FP_EINVAL, "unknown option '%s' (see framepipe matte --help)", s);
        if (o->type == OPT_FLAG) {
            if (eq)
                return fp_errorf(e, FP_EINVAL, "--%s takes no value", o->name);
            val = "1";
        } else if (eq) {
            val = eq + 1;
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            return fp_errorf(e, FP_EINVAL, "--%s needs a value", o->name);
        }
        if ((ret = set_opt(a, o, val, e)) < 0)
            return ret;
    }
    return 0;
}

static void help(FILE *f)
{
    fprintf(f, "usage: framepipe matte IN -o OUT --model M.onnx [options]\n\n"
               "Removes the background of a video with an RVM-style matting model and writes transparent video\n"
               "(or, with --composite / --alpha-only, a flat one). Audio, subtitles and metadata are copied; the\n"
               "frame count and frame times equal the input's. Ctrl-C leaves no partial output.\n\noptions:\n");
    for (int i = 0; i < N_OPTS; i++) {
        const matte_opt *o = &matte_opts[i];
        char left[64];
        static const char *tn[] = { "", " TEXT", " N", " X", "" };
        snprintf(left, sizeof(left), "%s%s%s--%s%s%s", o->alias ? "-" : "", o->alias ? o->alias : "",
                 o->alias ? ", " : "", o->name, o->type == OPT_CHOICE ? " " : tn[o->type],
                 o->type == OPT_CHOICE ? o->choices : "");
        fprintf(f, "  %-40s %s", left, o->help);
        if (o->def && o->type != OPT_FLAG)
            fprintf(f, " [default %s]", o->def);
        if (o->type == OPT_INT || o->type == OPT_DOUBLE)
            fprintf(f, " [range %g..%g]", o->min, o->max);
        fputc('\n', f);
    }
    fprintf(f, "\nmany files: framepipe matte DIR_OR_GLOB -o OUTDIR --model M.onnx [--gpus all|N] [--ext webm|mov|mkv]\n"
               "  goes through a temporary SQLite job queue; a failing file never stops the others; the exit code\n"
               "  is 0 when every file succeeded, else the first failed file's.\n");
    fprintf(f, "\nexit codes: 0 ok, 2 usage, 3 bad input, 4 unsupported, 5 output, 6 model invalid or "
               "incompatible,\n            7 GPU error, 130 interrupted\n");
}

/* ---- one pass: input -> model -> one output ----------------------------------------------------- */

typedef struct pass_result {
    fp_transcode_stats st;
    double model_s;
} pass_result;

static int interrupted(void) { return fp_interrupted() != 0; }

static int run_pass(const matte_args *a, fp_matte *m, const char *output, fp_matte_mode mode, pass_result *r,
                    fp_err *e)
{
    fp_matte_stage s = { 0 };
    fp_matte_bg_stage bs = { &s, NULL, { 0, 1 }, AV_NOPTS_VALUE };
    fp_process_stage stage = { "matte", mode == FP_MATTE_MODE_RGBA, fp_matte_stage_process, &s };
    fp_transcode_opts o;
    fp_transcode *t = NULL;
    AVDictionary *meta = NULL, *mux = NULL;
    int ret;

    fp_matte_reset(m);
    s.m = m;
    s.mode = mode;
    s.premultiplied = !strcmp(a->alpha_mode, "premultiplied");
    if (mode == FP_MATTE_MODE_COMPOSITE) {
        if (fp_key_parse_color(a->composite, s.bg_rgb) < 0) {
            struct stat sb;
            if (stat(a->composite, &sb) != 0)
                return fp_errorf(e, FP_EINVAL, "--composite '%s' is neither a colour (RRGGBB) nor an image or video "
                                 "file", a->composite);
            if ((ret = fp_matte_bg_open(&bs.bg, a->composite, e)) < 0)
                return ret;
            stage.process = fp_matte_bg_stage_process;
            stage.opaque = &bs;
        }
    }
    /* NVDEC frames stay on the GPU into a CUDA model (fp_devpath.h); the image composite keeps the host path */
    if (stage.opaque == &s)
        stage.process_cuda = fp_matte_stage_device_fn(m);
    stage.prefer_device = stage.process_cuda != NULL; /* CPU-decoded frames: one upload, then the same path */
    fp_transcode_opts_default(&o);
    o.input = a->input;
    o.output = output;
    o.vcodec = output == a->output ? a->vcodec : NULL;
    o.pix_fmt = output == a->output ? a->pix_fmt : NULL;
    o.encoders = a->encoders;
    o.queue_decoded = a->queue_decoded;
    o.queue_converted = a->queue_converted;
    o.copy_audio = !a->no_audio;
    o.copy_subs = !a->no_subs;
    o.stage = &stage;
    o.interrupted = interrupted;
    if (mode == FP_MATTE_MODE_RGBA)
        av_dict_set(&meta, "alpha_type", s.premultiplied ? "premultiplied" : "straight", 0);
    o.video_metadata = meta;
    if (mode == FP_MATTE_MODE_RGBA && fp_matte_is_mov(output)) {
        /* MOV keeps no stream tags: the alpha type goes to the file level as an mdta key */
        o.format_metadata = meta;
        av_dict_set(&mux, "movflags", "use_metadata_tags", 0);
        o.mux_opts = mux;
    }
    ret = fp_transcode_open(&t, &o, e);
    if (ret >= 0) {
        /* The model sees the decoded size (matte has no --crop/--scale): check it before any decoding. */
        int w = fp_input_decoder(fp_transcode_input(t))->width, h = fp_input_decoder(fp_transcode_input(t))->height;
        AVStream *vs = fp_input_video_stream(fp_transcode_input(t));
        bs.time_base = vs->time_base;
        bs.start_pts = vs->start_time;
        ret = fp_matte_check_size(m, w, h, e);
        if (ret >= 0 && a->announce && output == a->output)
            fprintf(stderr, "%s\n", a->announce);
        if (ret >= 0) {
            fp_log(FP_LOG_INFO, "matte", "%s: model %s on %s (%s%s), downsample_ratio %.4g", output, a->model,
                   fp_matte_backend(m), fp_matte_model_fp16(m) ? "fp16 model" : "fp32 model",
                   fp_matte_compute_fp16(m) ? ", fp16 compute" : "", fp_matte_ratio_for(m, w, h));
            ret = fp_transcode_run(t, e);
        }
    }
    if (t)
        r->st = *fp_transcode_get_stats(t);
    r->model_s = s.model_s;
    fp_transcode_freep(&t);
    av_dict_free(&meta);
    av_dict_free(&mux);
    fp_matte_stage_uninit(&s);
    fp_matte_bg_freep(&bs.bg);
    return ret;
}

#ifdef FP_HAVE_JOBS
/* ---- many files: each through its own model instance on the worker's device -------------------- */

typedef struct many_ctx {
    const matte_args *a;
    fp_matte_opts mo;
    fp_matte_mode mode;
} many_ctx;

static int many_file(void *opaque, const char *in, const char *out, int device, fp_matte_file_result *fr, fp_err *e)
{
    many_ctx *c = opaque;
    matte_args a = *c->a;
    fp_matte_opts mo = c->mo;
    fp_matte *m = NULL;
    pass_result r;
    int ret;
    a.input = in;
    a.output = out;
    mo.device_id = device;
    if ((ret = fp_matte_open(&m, &mo, e)) < 0)
        return ret;
    memset(&r, 0, sizeof(r));
    ret = run_pass(&a, m, out, c->mode, &r, e);
    fr->frames = r.st.frames_out;
    fr->seconds = r.st.seconds;
    fp_matte_freep(&m);
    return ret;
}

static int run_many(const matte_args *a, fp_matte *m, fp_err *e)
{
    char **files = NULL;
    int n = 0, ret, devices = 1, workers = 1;
    many_ctx c = { a };
    fp_matte_many_opts o = { 0 };
    fp_matte_many_stats st;
    char *tp = NULL;
    float bg[3];

    if (a->chunks > 1 || a->foreground || a->alpha)
        return fp_errorf(e, FP_EUNSUPPORTED, "%s: configure: --chunks, --foreground and --alpha take one input file",
                         a->input);
    if (!strcmp(fp_matte_backend(m), "cuda")) {
        fp_gpuinfo *gi = NULL;
        if (fp_gpuinfo_query(&gi, 0) == 0 && gi->nb_devices > 0)
            devices = gi->nb_devices;
        fp_gpuinfo_freep(&gi);
    }
    if (!strcmp(a->gpus, "all")) {
        workers = devices;
    } else {
        char *end;
        long v = strtol(a->gpus, &end, 10);
        if (*end || v < 1 || v > 64)
            return fp_errorf(e, FP_EINVAL, "--gpus must be 'all' or a number of workers in [1, 64] (not '%s')",
                             a->gpus);
        workers = (int)v;
    }
    if ((ret = fp_matte_list_inputs(a->input, &files, &n, e)) < 0)
        return ret;
    c.mo.model = a->model;
    c.mo.backend = fp_matte_backend(m); /* what the validation load resolved "auto" to */
    c.mo.fp16 = !strcmp(a->precision, "fp16") ? 1 : !strcmp(a->precision, "fp32") ? 0 : -1;
    c.mo.downsample_ratio = a->ratio;
    c.mo.threads = a->threads;
    c.mode = a->composite ? FP_MATTE_MODE_COMPOSITE : a->alpha_only ? FP_MATTE_MODE_ALPHA : FP_MATTE_MODE_RGBA;
    o.inputs = (const char *const *)files;
    o.n = n;
    o.outdir = a->output;
    o.ext = a->ext;
    o.workers = workers;
    o.devices = devices;
    o.run_file = many_file;
    o.opaque = &c;
    o.report = stderr;
    fp_log(FP_LOG_INFO, "matte", "%d file(s) from %s, %d worker(s) on %d %s device(s)", n, a->input, workers, devices,
           fp_matte_backend(m));
    /* Chunked through the queue's matte task when it can express the run: it knows a colour
     * composite but no background file (matte_bg.c is not a task parameter). */
    if (a->chunk_seconds > 0 && (!a->composite || fp_key_parse_color(a->composite, bg) == 0)) {
        fp_matte_task_extra x = { a->alpha_mode, a->vcodec, a->pix_fmt, a->no_audio, a->no_subs };
        /* the task parses the colour with the same fp_key_parse_color */
        tp = fp_matte_many_task_params_ex(&c.mo, a->composite ? "composite" : a->alpha_only ? "alpha" : "rgba",
                                          a->composite, &x);
        if (!tp) {
            fp_matte_list_free(&files, n);
            return fp_errorf(e, FP_ENOMEM, "matte: out of memory");
        }
        o.task_params = tp;
        o.chunk_seconds = a->chunk_seconds;
        o.warmup_frames = a->warmup;
        fp_log(FP_LOG_INFO, "matte", "files cut into chunks of about %g s in the queue", a->chunk_seconds);
    }
    ret = fp_matte_many_run(&o, &st, e);
    free(tp);
    if (ret >= 0 && st.failed)
        ret = fp_errorf(e, st.first_error, "matte: %d of %d files failed (see above)", st.failed, n);
    fp_matte_list_free(&files, n);
    return ret;
}
#endif

/* ---- auto-configuration: fp_autoconf() once for the input's frame size on this machine (GPU 0's
 * free memory on CUDA), applied to what the user left at 0, logged once in one line:
 *  --chunks 0   -> fp_autoconf's batch on CUDA (1 on the CPU);
 *  --batch 0    -> with chunks: min(chunks, fp_autoconf's batch) on CUDA, all chunks on the CPU (no
 *                  device memory to bound; one call over N frames beat N threads there);
 *  queues       -> the pass's decode->process queue: fp_autoconf's GPU queue depth, its process->
 *                  encode queue: its host queue depth; with C chunks at once each gets 1/C (at least 2);
 * The encoder count stays the transcode path's own choice (--encoders 0; one per chunk with chunks). */

typedef struct matte_auto {
    int queue_decoded, queue_converted;
    char line[512]; /* printed once, when the pass (or the first chunk) has opened: a refusal stays one line */
} matte_auto;

static void autoconfigure(matte_args *a, const fp_matte *m, matte_auto *ma)
{
    AVFormatContext *fc = NULL;
    fp_autoconf_in ai = { 0 };
    fp_autoconf_out ao;
    fp_gpuinfo *gi = NULL;
    int vs, cuda = !strcmp(fp_matte_backend(m), "cuda"), par;
    const char *where = "CPU";

    memset(ma, 0, sizeof(*ma));
    if (avformat_open_input(&fc, a->input, NULL, NULL) < 0 || avformat_find_stream_info(fc, NULL) < 0 ||
        (vs = av_find_best_stream(fc, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0)) < 0) {
        avformat_close_input(&fc);
        if (!a->chunks)
            a->chunks = 1;
        return; /* the pass reports the unreadable input in its own words */
    }
    ai.width = fc->streams[vs]->codecpar->width;
    ai.height = fc->streams[vs]->codecpar->height;
    ai.bit_depth = fc->streams[vs]->codecpar->bits_per_raw_sample > 8 ? 10 : 8;
    avformat_close_input(&fc);
    if (cuda && fp_gpuinfo_query(&gi, 0) == 0 && gi->nb_devices > 0) {
        ai.gpu = &gi->devices[0];
        where = gi->devices[0].name;
    }
    if (fp_autoconf(&ai, &ao) < 0) {
        fp_gpuinfo_freep(&gi);
        if (!a->chunks)
            a->chunks = 1;
        return;
    }
    if (!a->chunks)
        a->chunks = cuda && ai.gpu ? ao.batch : 1;
    if (a->chunks > 1 && !a->batch)
        a->batch = cuda && ai.gpu ? (ao.batch < a->chunks ? ao.batch : a->chunks) : a->chunks;
    par = a->chunks > 1 ? (a->batch > 1 ? a->batch : a->chunks) : 1;
    if (ai.gpu)
        ma->queue_decoded = ao.gpu_queue_depth / par > 2 ? ao.gpu_queue_depth / par : 2;
    ma->queue_converted = ao.host_queue_depth / par > 2 ? ao.host_queue_depth / par : 2;
    snprintf(ma->line, sizeof(ma->line),
           "matte: auto-configuration for %dx%d on %s: chunks %d, batch %d, queues %d decoded + %d converted frames%s "
           "(%s)",
           ai.width, ai.height, where, a->chunks, a->chunks > 1 ? (a->batch > 1 ? a->batch : 1) : 1,
           ma->queue_decoded ? ma->queue_decoded : 4, ma->queue_converted, par > 1 ? " per chunk" : "", ao.why);
    fp_gpuinfo_freep(&gi);
}

/* ---- PNG sequence (-o DIR/%05d.png) --------------------------------------------------------------
 * The matte is written losslessly (FFV1 gbrap, no YUV step) to a temporary directory beside the
 * output, then decoded and written as RGBA PNGs numbered from 1 in that directory, and the PNGs are
 * renamed into place only when every frame is done; on failure or Ctrl-C the temporary directory is
 * removed. Each file appears complete; the set appears at the end. Audio and timestamps do not exist
 * in a PNG sequence. */

static int is_png_pattern(const char *out)
{
    size_t n = strlen(out);
    return strchr(out, '%') && n > 4 && !strcasecmp(out + n - 4, ".png");
}

static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char p[PATH_MAX];
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

static int write_pngs(const char *mkv, const char *tmpdir, const char *pattern, int64_t *nout, fp_err *e)
{
    AVFormatContext *fc = NULL;
    AVCodecContext *dc = NULL, *ec = NULL;
    AVPacket *pkt = av_packet_alloc(), *op = av_packet_alloc();
    AVFrame *fr = av_frame_alloc(), *rgba = av_frame_alloc();
    struct SwsContext *sws = NULL;
    const AVCodec *png = avcodec_find_encoder(AV_CODEC_ID_PNG);
    int ret = FP_EINTERNAL, eof = 0, vs;
    int64_t n = 0;

    if (!pkt || !op || !fr || !rgba || !png) {
        ret = fp_errorf(e, FP_EUNSUPPORTED, "%s: output: no PNG encoder in this FFmpeg", pattern);
        goto end;
    }
    if (avformat_open_input(&fc, mkv, NULL, NULL) < 0 || avformat_find_stream_info(fc, NULL) < 0 ||
        (vs = av_find_best_stream(fc, AVMEDIA_TYPE_VIDEO, -1, -1, NULL, 0)) < 0) {
        ret = fp_errorf(e, FP_EINTERNAL, "%s: output: cannot read the intermediate file back", pattern);
        goto end;
    }
    {
        const AVCodec *c = avcodec_find_decoder(fc->streams[vs]->codecpar->codec_id);
        if (!c || !(dc = avcodec_alloc_context3(c)) ||
            avcodec_parameters_to_context(dc, fc->streams[vs]->codecpar) < 0 || avcodec_open2(dc, c, NULL) < 0) {
            ret = fp_errorf(e, FP_EINTERNAL, "%s: output: cannot decode the intermediate file", pattern);
            goto end;
        }
    }
    while (!eof) {
        int r = av_read_frame(fc, pkt);
        if (r < 0) {
            avcodec_send_packet(dc, NULL);
            eof = 1;
        } else {
            if (pkt->stream_index == vs)
                avcodec_send_packet(dc, pkt);
            av_packet_unref(pkt);
        }
        while (avcodec_receive_frame(dc, fr) >= 0) {
            char name[PATH_MAX], path[PATH_MAX + 64];
            const char *base = strrchr(pattern, '/');
            FILE *f;
            if (fp_interrupted()) {
                av_frame_unref(fr);
                ret = fp_errorf(e, FP_EINTR, "%s: interrupted; no output written", pattern);
                goto end;
            }
            if (!ec) {
                if (!(ec = avcodec_alloc_context3(png))) {
                    ret = fp_errorf(e, FP_ENOMEM, "%s: output: out of memory", pattern);
                    goto end;
                }
                ec->width = fr->width;
                ec->height = fr->height;
                ec->pix_fmt = AV_PIX_FMT_RGBA;
                ec->time_base = (AVRational){ 1, 25 };
                if (avcodec_open2(ec, png, NULL) < 0) {
                    ret = fp_errorf(e, FP_EUNSUPPORTED, "%s: output: cannot open the PNG encoder", pattern);
                    goto end;
                }
                rgba->format = AV_PIX_FMT_RGBA;
                rgba->width = fr->width;
                rgba->height = fr->height;
                if (av_frame_get_buffer(rgba, 0) < 0 ||
                    !(sws = sws_getContext(fr->width, fr->height, fr->format, fr->width, fr->height, AV_PIX_FMT_RGBA,
                                           SWS_POINT, NULL, NULL, NULL))) {
                    ret = fp_errorf(e, FP_ENOMEM, "%s: output: out of memory", pattern);
                    goto end;
                }
            }
            sws_scale(sws, (const uint8_t *const *)fr->data, fr->linesize, 0, fr->height, rgba->data, rgba->linesize);
            av_frame_unref(fr);
            if (avcodec_send_frame(ec, rgba) < 0 || avcodec_receive_packet(ec, op) < 0) {
                ret = fp_errorf(e, FP_EINTERNAL, "%s: output: PNG encoding failed", pattern);
                goto end;
            }
            n++;
            if (av_get_frame_filename2(name, sizeof(name), base ? base + 1 : pattern, (int)n, 0) < 0) {
                av_packet_unref(op);
                ret = fp_errorf(e, FP_EINVAL, "%s: output: not a frame-number pattern (use e.g. %%05d)", pattern);
                goto end;
            }
            snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
            f = fopen(path, "wb");
            if (!f || fwrite(op->data, 1, op->size, f) != (size_t)op->size || fclose(f) != 0) {
                av_packet_unref(op);
                ret = fp_errorf(e, FP_EIO, "%s: output: write failed (disk full or I/O error)", path);
                goto end;
            }
            av_packet_unref(op);
        }
    }
    *nout = n;
    ret = 0;
end:
    sws_freeContext(sws);
    av_frame_free(&fr);
    av_frame_free(&rgba);
    av_packet_free(&pkt);
    av_packet_free(&op);
    avcodec_free_context(&dc);
    avcodec_free_context(&ec);
    avformat_close_input(&fc);
    return ret;
}

static int run_png_sequence(const matte_args *a, fp_matte *m, fp_matte_mode mode, fp_err *e)
{
    char dir[PATH_MAX], tmpdir[PATH_MAX + 32], mkv[PATH_MAX + 64];
    const char *slash = strrchr(a->output, '/');
    matte_args b = *a;
    pass_result r;
    int64_t n = 0;
    int ret;
    struct stat sb;

    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - a->output) : 1, slash ? a->output : ".");
    if (stat(dir, &sb) != 0 && mkdir(dir, 0777) != 0)
        return fp_errorf(e, FP_EOUTPUT, "%s: output: cannot create the directory: %s", dir, strerror(errno));
    snprintf(tmpdir, sizeof(tmpdir), "%s/.fp-png-%d", dir, (int)getpid());
    if (mkdir(tmpdir, 0777) != 0)
        return fp_errorf(e, FP_EOUTPUT, "%s: output: cannot create a temporary directory: %s", tmpdir,
                         strerror(errno));
    snprintf(mkv, sizeof(mkv), "%s/.frames.mkv", tmpdir); /* hidden: not published */
    b.vcodec = "ffv1";
    b.pix_fmt = mode == FP_MATTE_MODE_RGBA ? "gbrap" : "gbrp"; /* written from float RGB without a YUV step */
    memset(&r, 0, sizeof(r));
    ret = run_pass(&b, m, mkv, mode, &r, e);
    if (ret >= 0)
        ret = write_pngs(mkv, tmpdir, a->output, &n, e);
    if (ret >= 0) {
        /* publish: every frame is done; move each file into place */
        DIR *d = opendir(tmpdir);
        struct dirent *de;
        char from[PATH_MAX * 2], to[PATH_MAX * 2];
        while (d && (de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            snprintf(from, sizeof(from), "%s/%s", tmpdir, de->d_name);
            snprintf(to, sizeof(to), "%s/%s", dir, de->d_name);
            if (rename(from, to) != 0 && ret >= 0)
                ret = fp_errorf(e, FP_EOUTPUT, "%s: output: cannot publish: %s", to, strerror(errno));
        }
        if (d)
            closedir(d);
        if (ret >= 0)
            fprintf(stderr, "%s: %lld PNG frames (RGBA%s) in %s\n", a->output, (long long)n,
                    mode == FP_MATTE_MODE_RGBA ? "" : ", opaque", dir);
    }
    rm_tree(tmpdir);
    return ret;
}

static void summary(const char *output, const pass_result *r)
{
    const fp_transcode_stats *st = &r->st;
    double fps = st->seconds > 0 ? st->frames_out / st->seconds : 0;
    fprintf(stderr, "%s: %lld frames in %.2f s (%.2f fps), %s %s x%d, decode %s\n", output,
            (long long)st->frames_out, st->seconds, fps, st->encoder, st->pix_fmt, st->encoders,
            st->gpu_decode ? "NVDEC" : "CPU");
    fprintf(stderr, "  stage     time_s   fps\n");
    fprintf(stderr, "  decode   %7.2f  %7.1f\n", st->decode_s, st->decode_s > 0 ? st->frames_in / st->decode_s : 0);
    fprintf(stderr, "  model    %7.2f  %7.1f\n", r->model_s, r->model_s > 0 ? st->frames_in / r->model_s : 0);
    fprintf(stderr, "  convert  %7.2f  %7.1f  (pre/postprocess + compose)\n", st->process_s - r->model_s,
            st->process_s - r->model_s > 0 ? st->frames_in / (st->process_s - r->model_s) : 0);
    fprintf(stderr, "  encode-wait %4.2f           (time the pipeline waited on the encoder pool)\n",
            st->encode_wait_s);
}

int fp_cmd_matte(int argc, char **argv)
{
    matte_args a;
    fp_matte_opts mo;
    fp_matte *m = NULL;
    fp_err e;
    fp_matte_mode mode;
    pass_result r;
    matte_auto ma;
    int ret;

    fp_err_clear(&e);
    if (parse(argc, argv, &a, &e) < 0) {
        fprintf(stderr, "framepipe: matte: %s\n", e.msg);
        return FP_EXIT_USAGE;
    }
    if (a.help) {
        help(stdout);
        return FP_EXIT_OK;
    }
    if (!a.input || !a.output || !a.model) {
        fprintf(stderr, "framepipe: matte: IN, -o OUT and --model M.onnx are required (see --help)\n");
        return FP_EXIT_USAGE;
    }
    if (a.composite && a.alpha_only) {
        fprintf(stderr, "framepipe: matte: --composite and --alpha-only exclude each other\n");
        return FP_EXIT_USAGE;
    }
    mode = a.composite ? FP_MATTE_MODE_COMPOSITE : a.alpha_only ? FP_MATTE_MODE_ALPHA : FP_MATTE_MODE_RGBA;

    fp_matte_opts_default(&mo);
    mo.model = a.model;
    mo.backend = a.backend;
    mo.fp16 = !strcmp(a.precision, "fp16") ? 1 : !strcmp(a.precision, "fp32") ? 0 : -1;
    mo.downsample_ratio = a.ratio;
    mo.threads = a.threads;
    if ((ret = fp_matte_open(&m, &mo, &e)) < 0)
        goto end;
    fp_signals_install();

    memset(&r, 0, sizeof(r));
#ifdef FP_HAVE_JOBS
    if (fp_matte_is_many(a.input)) {
        ret = run_many(&a, m, &e);
        goto end;
    }
#endif
    if (is_png_pattern(a.output)) {
        if (a.chunks > 1 || a.foreground || a.alpha) {
            ret = fp_errorf(&e, FP_EUNSUPPORTED, "%s: configure: a PNG sequence takes no --chunks/--foreground/--alpha",
                            a.output);
            goto end;
        }
        ret = run_png_sequence(&a, m, mode, &e);
        goto end;
    }
    autoconfigure(&a, m, &ma);
    a.queue_decoded = ma.queue_decoded;
    a.queue_converted = ma.queue_converted;
    a.announce = ma.line[0] ? ma.line : NULL;
    if (a.chunks > 1) {
        fp_matte_chunk_opts co = { 0 };
        fp_matte_chunk_stats cs;
        AVDictionary *meta = NULL;
        if (a.foreground || a.alpha) {
            ret = fp_errorf(&e, FP_EUNSUPPORTED, "%s: configure: --foreground/--alpha are not written with --chunks",
                            a.output);
            goto end;
        }
        co.input = a.input;
        co.output = a.output;
        co.model = mo;
        co.mode = mode;
        co.premultiplied = !strcmp(a.alpha_mode, "premultiplied");
        co.vcodec = a.vcodec;
        co.pix_fmt = a.pix_fmt;
        co.chunks = a.chunks;
        co.batch = a.batch;
        co.batch_tail = !strcmp(a.batch_tail, "pad") ? FP_MATTE_TAIL_PAD
                      : !strcmp(a.batch_tail, "shrink") ? FP_MATTE_TAIL_SHRINK : FP_MATTE_TAIL_AUTO;
        co.queue_decoded = a.queue_decoded;
        co.queue_converted = a.queue_converted;
        co.announce = a.announce;
        co.no_audio = a.no_audio;
        co.no_subs = a.no_subs;
        co.warmup_frames = a.warmup;
        co.interrupted = interrupted;
        if (mode == FP_MATTE_MODE_COMPOSITE && fp_key_parse_color(a.composite, co.bg_rgb) < 0) {
            struct stat sb;
            if (stat(a.composite, &sb) != 0) {
                ret = fp_errorf(&e, FP_EINVAL, "--composite '%s' is neither a colour (RRGGBB) nor an image or video "
                                "file", a.composite);
                goto end;
            }
            co.bg_path = a.composite; /* each chunk opens its own decoder of it */
        }
        if (mode == FP_MATTE_MODE_RGBA)
            av_dict_set(&meta, "alpha_type", co.premultiplied ? "premultiplied" : "straight", 0);
        co.video_metadata = meta;
        fp_matte_freep(&m); /* each chunk loads its own instance; this one only validated the model */
        ret = fp_matte_run_chunked(&co, &cs, &e);
        av_dict_free(&meta);
        if (ret < 0)
            goto end;
        fprintf(stderr, "%s: %lld frames in %d chunks (+%lld warm-up frames) in %.2f s (%.2f fps), model %.2f s\n",
                a.output, (long long)cs.frames, cs.chunks, (long long)cs.warmup_frames_run, cs.seconds,
                cs.seconds > 0 ? cs.frames / cs.seconds : 0, cs.model_s);
        if (cs.batch > 0)
            fprintf(stderr, "  batch %d: %lld model calls, %.2f frames per call%s (+%lld padded rows)\n", cs.batch,
                    (long long)cs.model_calls, cs.mean_rows, cs.padded_rows ? ", padded tail" : ", shrinking tail",
                    (long long)cs.padded_rows);
        else
            fprintf(stderr, "  no tensor batch: one model instance per chunk on its own thread; %d of %d chunks on the "
                    "device path\n", cs.device_chunks, cs.chunks);
        goto end;
    }
    if ((ret = run_pass(&a, m, a.output, mode, &r, &e)) < 0)
        goto end;
    summary(a.output, &r);
    if (a.foreground) {
        memset(&r, 0, sizeof(r));
        if ((ret = run_pass(&a, m, a.foreground, FP_MATTE_MODE_FOREGROUND, &r, &e)) < 0)
            goto end;
        summary(a.foreground, &r);
    }
    if (a.alpha) {
        memset(&r, 0, sizeof(r));
        if ((ret = run_pass(&a, m, a.alpha, FP_MATTE_MODE_ALPHA, &r, &e)) < 0)
            goto end;
        summary(a.alpha, &r);
    }
end:
    fp_matte_freep(&m);
    if (ret < 0) {
        fprintf(stderr, "framepipe: %s\n", e.code ? e.msg : fp_strerror(ret));
        return fp_exit_code(e.code ? e.code : ret);
    }
    return FP_EXIT_OK;
}
