/*
 * fp_cliopts — option table, parser and runner shared by `transcode` and `key`. See fp_cliopts.h.
 */
#include "media/fp_cliopts.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavutil/parseutils.h>

#include "core/fp_log.h"
#include "media/fp_encoder.h"
#include "pipeline/fp_signals.h"

enum opt_id {
    O_OUT = 1, O_CROP, O_SCALE, O_FPS, O_CODEC, O_PIXFMT, O_ENCODERS, O_SEGMENT, O_ENCBUF, O_DECODE, O_MAXERR,
    O_WATCHDOG, O_PROGRESS, O_AN, O_SN, O_DN, O_START, O_END, O_ACODEC, O_ABITRATE, O_COLOR, O_TOL, O_SOFT, O_HELP,
};

static const struct cli_opt {
    const char *name, *arg, *help;
    int id;
    int cmds; /* bit mask of enum fp_cli_cmd */
} opts[] = {
    { "-o",               "OUT",       "output file; the container comes from the extension", O_OUT, 3 },
    { "--crop",           "WxH+X+Y",   "crop before scaling (source pixels)", O_CROP, 3 },
    { "--scale",          "WxH",       "scale to this size (bilinear)", O_SCALE, 3 },
    { "--fps",            "N",         "constant output rate (e.g. 25, 30000/1001); default keeps source timestamps", O_FPS, 3 },
    { "-c:v",             "ENCODER",   "libvpx-vp9, prores_ks, ffv1, libx264, libx265, libsvtav1, h264_nvenc, hevc_nvenc...", O_CODEC, 3 },
    { "--pix-fmt",        "FMT",       "encoder pixel format (explicitly accepting a conversion)", O_PIXFMT, 3 },
    { "--encoders",       "N",         "encoder instances on GOP segments (default: half the cores)", O_ENCODERS, 3 },
    { "--segment-frames", "N",         "frames per pool segment (default: -g, else 2 s)", O_SEGMENT, 3 },
    { "--encode-buffer",  "MiB",       "memory for frames queued in the encoder pool (default 2048, at most 1/4 of RAM)", O_ENCBUF, 3 },
    { "--decode",         "auto|gpu|cpu", "decode path (default auto: NVDEC when the GPU supports the stream)", O_DECODE, 3 },
    { "--max-errors",     "N",         "corrupt packets tolerated before failing (default 0; -1 unlimited)", O_MAXERR, 3 },
    { "--watchdog",       "SECONDS",   "a demux/decode call stalled this long fails with exit 8 (default 30, 0 off)", O_WATCHDOG, 3 },
    { "--progress",       "json",      "JSON progress lines on stderr", O_PROGRESS, 3 },
    { "--start",          "SECONDS",   "first frame at or after this time", O_START, 3 },
    { "--end",            "SECONDS",   "stop before the first frame at or after this time", O_END, 3 },
    { "-c:a",             "copy|ENC",  "audio: default copies, and transcodes what the container cannot hold (WebM: Opus, MP4/MOV: AAC); copy refuses instead", O_ACODEC, 3 },
    { "-b:a",             "RATE",      "audio bitrate when transcoding (e.g. 128k)", O_ABITRATE, 3 },
    { "-an",              NULL,        "do not copy audio", O_AN, 3 },
    { "-sn",              NULL,        "do not copy subtitles", O_SN, 3 },
    { "-dn",              NULL,        "do not copy data streams", O_DN, 3 },
    { "--color",          "RRGGBB",    "key colour (e.g. 00FF00)", O_COLOR, 2 },
    { "--tolerance",      "T",         "chroma distance keyed fully transparent, 0..1 (default 0.1)", O_TOL, 2 },
    { "--softness",       "S",         "ramp to opaque above the tolerance, 0..1 (default 0.05)", O_SOFT, 2 },
    { "--help",           NULL,        "this help", O_HELP, 3 },
};

void fp_cli_help(FILE *f, int cmd)
{
    if (cmd == FP_CLI_KEY)
        fprintf(f, "usage: framepipe key IN -o OUT --color RRGGBB [--tolerance T] [--softness S] [options]\n"
                   "Chroma key to real alpha video (default VP9 with alpha in WebM).\n\noptions:\n");
    else
        fprintf(f, "usage: framepipe transcode IN -o OUT [options] [-<encoder option> VALUE ...]\n"
                   "Decode, crop/scale/resample, encode; audio, subtitles, chapters and metadata are copied.\n\n"
                   "options:\n");
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
        if (opts[i].cmds & cmd)
            fprintf(f, "  %-16s %-13s %s\n", opts[i].name, opts[i].arg ? opts[i].arg : "", opts[i].help);
    fprintf(f, "  -<opt> VALUE                   any encoder option in FFmpeg spelling: -crf 30, -b:v 2M,\n"
               "                                 -preset fast, -cpu-used 4, -row-mt 1, -g 48\n"
               "\nexit codes: 0 ok, 2 usage, 3 bad input, 4 unsupported/refused, 5 output not written,\n"
               "            7 GPU error, 8 stalled (watchdog), 130 interrupted\n");
}

static int parse_int(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end)
        return FP_EINVAL;
    *out = (int)v;
    return 0;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    *out = strtod(s, &end);
    return (!*s || *end) ? FP_EINVAL : 0;
}

int fp_cli_parse(int cmd, int argc, char **argv, fp_cli_parsed *p, fp_err *e)
{
    memset(p, 0, sizeof(*p));
    fp_transcode_opts_default(&p->o);
    p->key.tolerance = 0.1f;
    p->key.softness = 0.05f;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        const struct cli_opt *o = NULL;
        double d;
        for (size_t k = 0; k < sizeof(opts) / sizeof(opts[0]); k++)
            if ((opts[k].cmds & cmd) && !strcmp(a, opts[k].name))
                o = &opts[k];
        if (!o && a[0] == '-' && a[1] == '-')
            return fp_errorf(e, FP_EINVAL, "unknown option '%s' (see --help)", a);
        if (!o && a[0] == '-' && a[1]) {
            if (i + 1 >= argc)
                return fp_errorf(e, FP_EINVAL, "encoder option '%s' needs a value", a);
            if (fp_encoder_opt_add(&p->enc_opts, a, argv[++i], e) < 0)
                return FP_EINVAL;
            continue;
        }
        if (!o) {
            if (p->o.input)
                return fp_errorf(e, FP_EINVAL, "unexpected argument '%s' (one input only)", a);
            p->o.input = a;
            continue;
        }
        if (o->arg) {
            if (i + 1 >= argc)
                return fp_errorf(e, FP_EINVAL, "option %s needs %s", o->name, o->arg);
            v = argv[++i];
        }
        switch (o->id) {
        case O_OUT: p->o.output = v; break;
        case O_CROP:
            if (sscanf(v, "%dx%d+%d+%d", &p->o.crop.w, &p->o.crop.h, &p->o.crop.x, &p->o.crop.y) != 4 ||
                p->o.crop.w <= 0 || p->o.crop.h <= 0)
                return fp_errorf(e, FP_EINVAL, "--crop '%s': expected WxH+X+Y", v);
            break;
        case O_SCALE:
            if (sscanf(v, "%dx%d", &p->o.scale_w, &p->o.scale_h) != 2 || p->o.scale_w <= 0 || p->o.scale_h <= 0)
                return fp_errorf(e, FP_EINVAL, "--scale '%s': expected WxH", v);
            break;
        case O_FPS:
            if (av_parse_video_rate(&p->o.fps, v) < 0 || p->o.fps.num <= 0)
                return fp_errorf(e, FP_EINVAL, "--fps '%s': expected a rate such as 25 or 30000/1001", v);
            break;
        case O_CODEC: p->o.vcodec = v; break;
        case O_PIXFMT: p->o.pix_fmt = v; break;
        case O_ENCODERS:
            if (parse_int(v, &p->o.encoders) < 0 || p->o.encoders < 1 || p->o.encoders > 256)
                return fp_errorf(e, FP_EINVAL, "--encoders '%s': expected 1..256", v);
            break;
        case O_SEGMENT:
            if (parse_int(v, &p->o.seg_frames) < 0 || p->o.seg_frames < 1)
                return fp_errorf(e, FP_EINVAL, "--segment-frames '%s': expected a positive count", v);
            break;
        case O_ACODEC: p->o.audio.codec = v; break;
        case O_ABITRATE:
            if (fp_audio_parse_bitrate(v, &p->o.audio.bitrate) < 0)
                return fp_errorf(e, FP_EINVAL, "-b:a '%s': expected a bitrate such as 128k", v);
            break;
        case O_ENCBUF:
            if (parse_int(v, &p->o.encode_buffer_mib) < 0 || p->o.encode_buffer_mib < 1)
                return fp_errorf(e, FP_EINVAL, "--encode-buffer '%s': expected MiB, a positive count", v);
            break;
        case O_DECODE:
            if (fp_decode_mode_parse(v, &p->o.in.decode) < 0)
                return fp_errorf(e, FP_EINVAL, "--decode '%s': expected auto, gpu or cpu", v);
            break;
        case O_MAXERR:
            if (parse_int(v, &p->o.in.max_errors) < 0 || p->o.in.max_errors < -1)
                return fp_errorf(e, FP_EINVAL, "--max-errors '%s': expected -1 or a count", v);
            break;
        case O_WATCHDOG:
            if (parse_double(v, &p->o.in.watchdog_s) < 0 || p->o.in.watchdog_s < 0)
                return fp_errorf(e, FP_EINVAL, "--watchdog '%s': expected seconds", v);
            break;
        case O_PROGRESS:
            if (strcmp(v, "json"))
                return fp_errorf(e, FP_EINVAL, "--progress '%s': only 'json' is supported", v);
            p->o.progress_json = 1;
            break;
        case O_START:
            if (parse_double(v, &d) < 0 || d < 0)
                return fp_errorf(e, FP_EINVAL, "--start '%s': expected seconds", v);
            p->o.in.start_s = d;
            break;
        case O_END:
            if (parse_double(v, &d) < 0 || d < 0)
                return fp_errorf(e, FP_EINVAL, "--end '%s': expected seconds", v);
            p->o.in.end_s = d;
            break;
        case O_AN: p->o.copy_audio = 0; break;
        case O_SN: p->o.copy_subs = 0; break;
        case O_DN: p->o.copy_data = 0; break;
        case O_COLOR:
            if (fp_key_parse_color(v, p->key.rgb) < 0)
                return fp_errorf(e, FP_EINVAL, "--color '%s': expected RRGGBB", v);
            p->have_color = 1;
            break;
        case O_TOL:
            if (parse_double(v, &d) < 0 || d < 0 || d > 1)
                return fp_errorf(e, FP_EINVAL, "--tolerance '%s': expected 0..1", v);
            p->key.tolerance = (float)d;
            break;
        case O_SOFT:
            if (parse_double(v, &d) < 0 || d < 0 || d > 1)
                return fp_errorf(e, FP_EINVAL, "--softness '%s': expected 0..1", v);
            p->key.softness = (float)d;
            break;
        case O_HELP: p->help = 1; return 0;
        }
    }
    if (!p->o.input)
        return fp_errorf(e, FP_EINVAL, "missing input file (see --help)");
    if (!p->o.output)
        return fp_errorf(e, FP_EINVAL, "missing -o OUT (see --help)");
    if (cmd == FP_CLI_KEY && !p->have_color)
        return fp_errorf(e, FP_EINVAL, "missing --color RRGGBB (see --help)");
    if (p->o.in.start_s >= 0 && p->o.in.end_s >= 0 && p->o.in.end_s <= p->o.in.start_s)
        return fp_errorf(e, FP_EINVAL, "--end must be after --start");
    p->o.enc_opts = p->enc_opts;
    return 0;
}

void fp_cli_parsed_free(fp_cli_parsed *p)
{
    av_dict_free(&p->enc_opts);
}

static void summary(const fp_transcode *t)
{
    const fp_transcode_stats *s = fp_transcode_get_stats(t);
    if (fp_log_get_level() < FP_LOG_WARN)
        return;
    fprintf(stderr, "framepipe: %lld frames in, %lld out in %.2f s; %s %s x%d; decode %s%s; %d corrupt\n",
            (long long)s->frames_in, (long long)s->frames_out, s->seconds, s->encoder, s->pix_fmt, s->encoders,
            s->gpu_decode ? "NVDEC" : "CPU", s->device_path ? " (frames on the GPU, one pinned download)" : "",
            s->corrupt);
    fp_transcode_print_metrics(t, stderr);
}

int fp_cli_run_transcode(fp_cli_parsed *p)
{
    fp_transcode *t = NULL;
    fp_err e;
    int ret;

    fp_err_clear(&e);
    /* First Ctrl-C: stop at the next frame, abort the output; second: unlink temporaries and exit. */
    fp_signals_install();
    p->o.interrupted = fp_interrupted;
    ret = fp_transcode_open(&t, &p->o, &e);
    if (ret >= 0)
        ret = fp_transcode_run(t, &e);
    if (t)
        summary(t);
    fp_transcode_freep(&t);
    if (ret < 0) {
        fprintf(stderr, "framepipe: %s\n", e.code ? e.msg : fp_strerror(ret));
        return fp_exit_code(e.code ? e.code : ret);
    }
    return 0;
}
