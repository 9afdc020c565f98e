/*
 * matte_e2e — `framepipe matte` end to end on the CPU with the small reference model: real files
 * checked with ffprobe-level facts, and the alpha written compared with a direct fp_model_run.
 *
 * Checks: VP9 WebM has alpha (libvpx-vp9 decoder: yuva420p) and the alpha_type tag; ProRes 4444 .mov
 * is yuva444p10le; FFV1 .mkv carries alpha; frame count and every frame's timestamp equal the input's;
 * the audio stream is copied; the FFV1 (lossless) alpha equals the model's pha from a direct
 * fp_model_run over the same decoded frames (state carried by hand) within one 8-bit code value
 * (tolerance 1/255: the pipeline quantises to 8 bits, rounding may land on either side); --chunks 3
 * output within one code value of the sequential one (tests/tasks/test_matte measures the warm-up at
 * float precision); composite
 * and alpha-only outputs have no alpha; Ctrl-C exits 130 and leaves no output or temporary file; a
 * missing, malformed or wrong-interface model exits 6 with one line naming it and writes nothing; a
 * directory of inputs with one corrupt file goes through the queue: the others are written, the
 * summary says "2 ok, 1 failed", the exit code is the failed file's.
 *
 * Usage: matte_e2e FRAMEPIPE MODELS_DIR TMPDIR formats|faults
 *   formats: the outputs and their checks (about 20-50 s on a loaded 2-core machine: ctest label slow)
 *   faults : refusals and Ctrl-C (a few seconds)
 */
#include <dirent.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fp_test.h"
#include "framepipe.h"
#include "tasks/matte.h"

static const char *fpbin, *mdir, *tmp;
static char model[1024];

/* Runs a shell command, returns its exit status (or -1). */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    int st;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    st = system(cmd);
    return st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* stdout of a shell command into buf (trailing newline kept). */
static const char *capture(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static const char *capture(char *buf, size_t n, const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    FILE *p;
    size_t got = 0;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    buf[0] = 0;
    if (!(p = popen(cmd, "r")))
        return buf;
    while (got + 1 < n) {
        size_t r = fread(buf + got, 1, n - 1 - got, p);
        if (!r)
            break;
        got += r;
    }
    buf[got] = 0;
    pclose(p);
    return buf;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *d;
    long n;
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    d = malloc(n + 1);
    if (d && fread(d, 1, n, f) != (size_t)n) {
        free(d);
        d = NULL;
    }
    fclose(f);
    if (d) {
        d[n] = 0;
        *len = n;
    }
    return d;
}

static int exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* Entries of dir (not . and ..) whose name contains needle ("" = all). */
static int count_entries(const char *dir, const char *needle)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    if (!d)
        return -1;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strstr(de->d_name, needle))
            n++;
    closedir(d);
    return n;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static const char *probe_v(const char *file, const char *dec, const char *entry, char *buf, size_t n)
{
    return capture(buf, n, "ffprobe -v error %s%s -select_streams v:0 -show_entries %s -of csv=p=0 '%s'",
                   dec ? "-c:v " : "", dec ? dec : "", entry, file);
}

/* Frame count equal, every frame's timestamp relative to the first equal to the microsecond, and the
 * first within 50 ms: the Matroska/MOV muxers shift the whole file by the copied audio's codec delay
 * (Opus pre-skip, AAC priming), which `framepipe transcode` does identically. */
static void frames_and_times(const char *in, const char *out)
{
    static char a[65536], b[65536];
    double t0a = 0, t0b = 0;
    int na = 0, nb = 0, same = 1;
    char *pa, *pb;
    capture(a, sizeof(a), "ffprobe -v error -select_streams v:0 -show_entries frame=pts_time -of csv=p=0 '%s'", in);
    capture(b, sizeof(b), "ffprobe -v error -select_streams v:0 -show_entries frame=pts_time -of csv=p=0 '%s'", out);
    na = count_lines(a);
    nb = count_lines(b);
    CHECK_MSG(na > 0 && na == nb, "%s: %d frames, input %d", out, nb, na);
    pa = a;
    pb = b;
    for (int i = 0; i < na && i < nb; i++) {
        double ta = strtod(pa, &pa), tb = strtod(pb, &pb);
        if (i == 0) {
            t0a = ta;
            t0b = tb;
            CHECK_MSG(fabs(ta - tb) <= 0.05, "%s: first frame at %.6f, input's at %.6f", out, tb, ta);
        } else if (fabs((ta - t0a) - (tb - t0b)) > 1e-6) {
            same = 0;
        }
        pa += *pa == '\n';
        pb += *pb == '\n';
    }
    CHECK_MSG(same, "%s: frame timestamps (relative to the first) differ from the input's", out);
}

static void audio_copied(const char *out, const char *codec)
{
    char buf[256], want[64];
    snprintf(want, sizeof(want), "%s\n", codec);
    capture(buf, sizeof(buf), "ffprobe -v error -select_streams a -show_entries stream=codec_name -of csv=p=0 '%s'",
            out);
    CHECK_MSG(!strcmp(buf, want), "%s: audio stream: '%s', expected %s", out, buf, codec);
}

/* The FFV1 output's alpha vs a direct run of the model over the same decoded input frames. */
static void alpha_vs_direct(const char *in, const char *out, int w, int h)
{
    char rgbp[1024], ap[1024];
    size_t nrgb = 0, na = 0, fsz = (size_t)w * h;
    unsigned char *rgb8 = NULL, *a8 = NULL;
    fp_model *m = NULL;
    fp_err e;
    int nf;
    double maxd = 0;

    snprintf(rgbp, sizeof(rgbp), "%s/in.gbrp", tmp);
    snprintf(ap, sizeof(ap), "%s/out.alpha", tmp);
    CHECK(sh("ffmpeg -nostdin -v error -y -i '%s' -f rawvideo -pix_fmt gbrp '%s'", in, rgbp) == 0);
    CHECK(sh("ffmpeg -nostdin -v error -y -i '%s' -vf alphaextract -f rawvideo -pix_fmt gray '%s'", out, ap) == 0);
    rgb8 = (unsigned char *)read_file(rgbp, &nrgb);
    a8 = (unsigned char *)read_file(ap, &na);
    CHECK(rgb8 && a8 && nrgb % (3 * fsz) == 0 && na == nrgb / 3);
    fp_err_clear(&e);
    CHECK_MSG(fp_model_load(model, NULL, &m, &e) == 0, "%s", e.msg);
    if (!rgb8 || !a8 || !m || na != nrgb / 3)
        goto end;
    nf = (int)(na / fsz);
    {
        /* Inputs by name, as the model declares them. */
        int nin = fp_model_num_inputs(m), nout = fp_model_num_outputs(m);
        fp_tensor in_t[8], out_t[8], state[4];
        float *src = malloc(3 * fsz * sizeof(float)), zero = 0, ratio = (float)fp_matte_auto_ratio(w, h);
        int opha = -1, ostate[4] = { -1, -1, -1, -1 };
        memset(state, 0, sizeof(state));
        for (int j = 0; j < nout; j++) {
            fp_value_info vi;
            fp_model_output_info(m, j, &vi);
            if (!strcmp(vi.name, "pha"))
                opha = j;
            for (int k = 0; k < 4; k++) {
                char nm[8];
                snprintf(nm, sizeof(nm), "r%do", k + 1);
                if (!strcmp(vi.name, nm))
                    ostate[k] = j;
            }
        }
        for (int f = 0; f < nf; f++) {
            const unsigned char *g = rgb8 + (size_t)f * 3 * fsz, *b = g + fsz, *r = b + fsz;
            for (size_t i = 0; i < fsz; i++) {
                src[i] = r[i] / 255.0f;
                src[fsz + i] = g[i] / 255.0f;
                src[2 * fsz + i] = b[i] / 255.0f;
            }
            memset(in_t, 0, sizeof(in_t));
            memset(out_t, 0, sizeof(out_t));
            for (int i = 0; i < nin; i++) {
                fp_value_info vi;
                fp_model_input_info(m, i, &vi);
                if (!strcmp(vi.name, "src"))
                    in_t[i] = (fp_tensor){ FP_DTYPE_FLOAT32, 4, { 1, 3, h, w }, src };
                else if (!strcmp(vi.name, "downsample_ratio"))
                    in_t[i] = (fp_tensor){ FP_DTYPE_FLOAT32, 1, { 1 }, &ratio };
                else {
                    int k = vi.name[1] - '1';
                    in_t[i] = state[k].data ? state[k] : (fp_tensor){ FP_DTYPE_FLOAT32, 4, { 1, 1, 1, 1 }, &zero };
                    in_t[i].owned = 0;
                }
            }
            fp_err_clear(&e);
            if (fp_model_run(m, in_t, nin, out_t, nout, &e) < 0) {
                CHECK_MSG(0, "direct run: %s", e.msg);
                break;
            }
            for (size_t i = 0; i < fsz; i++) {
                double p = ((float *)out_t[opha].data)[i];
                double d = fabs((p < 0 ? 0 : p > 1 ? 1 : p) - a8[(size_t)f * fsz + i] / 255.0);
                if (d > maxd || isnan(d))
                    maxd = isnan(d) ? INFINITY : d;
            }
            for (int k = 0; k < 4; k++) {
                fp_tensor_free(&state[k]);
                state[k] = out_t[ostate[k]];
                memset(&out_t[ostate[k]], 0, sizeof(fp_tensor));
            }
            for (int j = 0; j < nout; j++)
                fp_tensor_free(&out_t[j]);
        }
        for (int k = 0; k < 4; k++)
            fp_tensor_free(&state[k]);
        free(src);
        printf("alpha: %d frames, max |file alpha - direct pha| = %.5f (tolerance 1/255 = %.5f)\n", nf, maxd,
               1 / 255.0);
        CHECK_MSG(maxd <= 1 / 255.0 + 1e-6, "max alpha difference %.5f", maxd);
    }
end:
    fp_model_freep(&m);
    free(rgb8);
    free(a8);
}

/* Ctrl-C as soon as the temporary output exists: exit 130, nothing left under any name. */
/* chunks > 1: the batched chunk path (three transcodes feeding one model call): every chunk must see
 * the interruption and leave the batch, none may wait for the others forever. */
static void ctrl_c(const char *in, int chunks)
{
    char nch[16];
    char dir[1024], out[1100], err[1100];
    pid_t pid;
    int st = 0, seen = 0;
    snprintf(dir, sizeof(dir), "%s/sigint", tmp);
    sh("rm -rf '%s' && mkdir -p '%s'", dir, dir);
    snprintf(out, sizeof(out), "%s/out.webm", dir);
    snprintf(err, sizeof(err), "%s/../sigint.err", dir);
    pid = fork();
    if (pid == 0) {
        freopen(err, "w", stderr);
        snprintf(nch, sizeof(nch), "%d", chunks);
        execl(fpbin, fpbin, "matte", in, "-o", out, "--model", model, "--backend", "cpu", "--chunks", nch,
              (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 20000 && !seen; i++) {
        struct timespec ts = { 0, 500000 };
        seen = count_entries(dir, "") > 0; /* the temporary output (its name is the media module's) */
        if (!seen)
            nanosleep(&ts, NULL);
        if (waitpid(pid, &st, WNOHANG) == pid) {
            pid = -1;
            break;
        }
    }
    CHECK_MSG(seen, "the temporary output never appeared");
    if (pid > 0) {
        kill(pid, SIGINT);
        waitpid(pid, &st, 0);
    }
    CHECK_MSG(WIFEXITED(st) && WEXITSTATUS(st) == 130, "exit status %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    CHECK_EQ_INT(count_entries(dir, ""), 0);
}

static void bad_model(const char *in, const char *m, const char *needle)
{
    char out[1100], errp[1100], *err;
    size_t n = 0;
    int code;
    snprintf(out, sizeof(out), "%s/badmodel.webm", tmp);
    snprintf(errp, sizeof(errp), "%s/badmodel.err", tmp);
    code = sh("'%s' matte '%s' -o '%s' --model '%s' 2>'%s'", fpbin, in, out, m, errp);
    err = read_file(errp, &n);
    printf("model %s: exit %d: %s", m, code, err ? err : "(no stderr)\n");
    CHECK_EQ_INT(code, 6);
    CHECK(err && count_lines(err) == 1 && strstr(err, m));
    CHECK_MSG(!needle || (err && strstr(err, needle)), "'%s' not in the message", needle);
    CHECK(!exists(out));
    free(err);
}

/* --composite VIDEO: a 1 s background at 5 fps (red for 0.6 s, then blue; 32x24, H.264) behind the
 * 2 s, 10 fps input: frame k (t = k/10 s) must show red where t mod 1 < 0.6, else blue (its own frame
 * rate mapped by time, scaled to 96x72, looped in the second second). Checked on the keyed area:
 * the pixels whose alpha (the --alpha-only output `matte`, lossless) is 0, at least a quarter of the
 * frame. Sequential and --chunks 2 (each chunk its own background decoder, starting mid-way). */
static void composite_video(const char *in, const char *matte)
{
    enum { W = 96, H = 72, NF = 20 };
    char bg[1100], out[1100], rgb[1100], al[1100];
    snprintf(bg, sizeof(bg), "%s/bg.mp4", tmp);
    snprintf(al, sizeof(al), "%s/matte.gray", tmp);
    CHECK(sh("ffmpeg -nostdin -v error -y -filter_complex 'color=c=red:s=32x24:r=5:d=0.6[a];color=c=blue:s=32x24:r=5:"
             "d=0.4[b];[a][b]concat=n=2:v=1:a=0' -c:v libx264 -pix_fmt yuv420p '%s' 2>/dev/null || ffmpeg -nostdin -v "
             "error -y -filter_complex 'color=c=red:s=32x24:r=5:d=0.6[a];color=c=blue:s=32x24:r=5:d=0.4[b];[a][b]"
             "concat=n=2:v=1:a=0' -c:v ffv1 '%s'", bg, bg) == 0);
    CHECK(sh("ffmpeg -nostdin -v error -y -i '%s' -vf extractplanes=r -f rawvideo -pix_fmt gray '%s'", matte, al) == 0);
    for (int chunked = 0; chunked < 2; chunked++) {
        unsigned char *x, *a;
        size_t nx = 0, na = 0;
        int bad = 0, keyed_min = W * H;
        snprintf(out, sizeof(out), "%s/comp_video%d.mkv", tmp, chunked);
        snprintf(rgb, sizeof(rgb), "%s/comp_video%d.rgb", tmp, chunked);
        CHECK(sh("'%s' matte '%s' -o '%s' --model '%s' --backend cpu --composite '%s' -c:v ffv1 %s", fpbin, in, out,
                 model, bg, chunked ? "--chunks 2" : "") == 0);
        frames_and_times(in, out);
        CHECK(sh("ffmpeg -nostdin -v error -y -i '%s' -f rawvideo -pix_fmt rgb24 '%s'", out, rgb) == 0);
        x = (unsigned char *)read_file(rgb, &nx);
        a = (unsigned char *)read_file(al, &na);
        CHECK(x && a && nx == (size_t)NF * W * H * 3 && na == (size_t)NF * W * H);
        for (int k = 0; x && a && nx == (size_t)NF * W * H * 3 && na == (size_t)NF * W * H && k < NF; k++) {
            int red = (k % 10) < 6, keyed = 0;
            double sr = 0, sg = 0, sb = 0;
            for (int i = 0; i < W * H; i++) {
                const unsigned char *p = x + ((size_t)k * W * H + i) * 3;
                if (a[(size_t)k * W * H + i])
                    continue;
                keyed++;
                sr += p[0];
                sg += p[1];
                sb += p[2];
            }
            keyed_min = keyed < keyed_min ? keyed : keyed_min;
            if (keyed) {
                sr /= keyed;
                sg /= keyed;
                sb /= keyed;
            }
            if (!keyed || (red ? !(sr > 200 && sg < 40 && sb < 40) : !(sb > 200 && sr < 40 && sg < 40))) {
                printf("frame %d (t %.1f s): keyed %d px, mean RGB %.0f %.0f %.0f, expected %s\n", k, k / 10.0, keyed,
                       sr, sg, sb, red ? "red" : "blue");
                bad++;
            }
        }
        printf("composite over a video%s: %d of %d frames wrong, keyed area >= %d of %d px per frame\n",
               chunked ? " (2 chunks)" : "", bad, NF, keyed_min, W * H);
        CHECK_EQ_INT(bad, 0);
        CHECK(keyed_min >= W * H / 4);
        free(x);
        free(a);
    }
}

int main(int argc, char **argv)
{
    char in[1024], inaac[1024], inlong[1024], out[1100], buf[4096];
    int formats;
    if (argc < 5) {
        fprintf(stderr, "usage: matte_e2e FRAMEPIPE MODELS_DIR TMPDIR formats|faults\n");
        return 2;
    }
    formats = !strcmp(argv[4], "formats");
    fpbin = argv[1];
    mdir = argv[2];
    tmp = argv[3];
    snprintf(model, sizeof(model), "%s/rvm_mobilenetv3/model.onnx", mdir);
    sh("mkdir -p '%s'", tmp);
    snprintf(in, sizeof(in), "%s/in.mkv", tmp);
    /* Lossless RGB video (so the direct run sees exactly the pipeline's input) with Opus audio. */
    if (sh("ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=96x72:rate=10 -f lavfi "
           "-i sine=frequency=440:sample_rate=48000 -t 2 -c:v ffv1 -pix_fmt gbrp -c:a libopus '%s' 2>/dev/null || "
           "ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=96x72:rate=10 -f lavfi "
           "-i sine=frequency=440:sample_rate=48000 -t 2 -c:v ffv1 -pix_fmt gbrp -c:a opus -strict -2 '%s'", in, in) != 0) {
        CHECK(!"ffmpeg can make the test input");
        return fp_test_finish("matte_e2e");
    }

    if (!formats)
        goto faults;
    /* .webm: VP9 with alpha (default) */
    snprintf(out, sizeof(out), "%s/out.webm", tmp);
    CHECK(sh("'%s' matte '%s' -o '%s' --model '%s' --backend cpu", fpbin, in, out, model) == 0);
    CHECK_MSG(!strcmp(probe_v(out, NULL, "stream=codec_name", buf, sizeof(buf)), "vp9\n"), "webm: %s", buf);
    /* libvpx-vp9 decodes the alpha side data; what it outputs (as rawvideo in NUT) names the format */
    capture(buf, sizeof(buf), "ffmpeg -nostdin -v error -c:v libvpx-vp9 -i '%s' -frames:v 1 -c:v rawvideo -f nut - | "
            "ffprobe -v error -show_entries stream=pix_fmt -of csv=p=0 -", out);
    CHECK_MSG(!strncmp(buf, "yuva420p\n", 9), "webm decoded by libvpx-vp9: %s", buf);
    CHECK_MSG(strstr(probe_v(out, NULL, "stream_tags=alpha_type", buf, sizeof(buf)), "straight"), "webm tag: %s",
              buf);
    frames_and_times(in, out);
    audio_copied(out, "opus");

    /* .mov: ProRes 4444 with alpha, premultiplied (AAC audio: this FFmpeg's mov muxer refuses Opus) */
    snprintf(inaac, sizeof(inaac), "%s/in_aac.mkv", tmp);
    CHECK(sh("ffmpeg -nostdin -v error -y -i '%s' -c:v copy -c:a aac '%s'", in, inaac) == 0);
    snprintf(out, sizeof(out), "%s/out.mov", tmp);
    CHECK(sh("'%s' matte '%s' -o '%s' --model '%s' --backend cpu --alpha-mode premultiplied", fpbin, inaac, out,
             model) == 0);
    /* prores_ks encodes yuva444p10le; FFmpeg's ProRes decoder reports 4444 as yuva444p12le */
    probe_v(out, NULL, "stream=codec_name,profile,pix_fmt", buf, sizeof(buf));
    CHECK_MSG(!strncmp(buf, "prores,4444", 11) && strstr(buf, ",yuva444p1"), "mov: %s", buf);
    frames_and_times(in, out);
    audio_copied(out, "aac");
    /* the MOV muxer keeps no stream tags: the alpha type is a file-level mdta key (use_metadata_tags),
     * single pass and through the chunk join */
    capture(buf, sizeof(buf), "ffprobe -v error -show_entries format_tags=alpha_type -of csv=p=0 '%s'", out);
    CHECK_MSG(!strcmp(buf, "premultiplied\n"), "mov alpha_type (file level): '%s'", buf);
    snprintf(out, sizeof(out), "%s/out_chunks.mov", tmp);
    CHECK(sh("'%s' matte '%s' -o '%s' --model '%s' --backend cpu --alpha-mode premultiplied --chunks 2", fpbin, inaac,
             out, model) == 0);
    capture(buf, sizeof(buf), "ffprobe -v error -show_entries format_tags=alpha_type -of csv=p=0 '%s'", out);
    CHECK_MSG(!strcmp(buf, "premultiplied\n"), "mov alpha_type (file level, chunks): '%s'", buf);
    frames_and_times(in, out);

    /* .mkv: FFV1 with alpha; lossless, so its alpha is compared with a direct model run */
    snprintf(out, sizeof(out), "%s/out.mkv", tmp);
    CHECK(sh("'%s' matte '%s' -o '%s' --model '%s' --backend cpu", fpbin, in, out, model) == 0);
    probe_v(out, NULL, "stream=codec_name,pix_fmt", buf, sizeof(buf));
    CHECK_MSG(!strncmp(buf, "ffv1,yuva", 9) || !strncmp(buf, "ffv1,gbra", 9), "mkv: %s", buf);
    CHECK_MSG(strstr(probe_v(out, NULL, "stream_tags=alpha_type", buf, sizeof(buf)), "straight"), "mkv tag: %s", buf);
    frames_and_times(in, out);
    audio_copied(out, "opus");
    alpha_vs_direct(in, out, 96, 72);
    {
        /* PNG sequence: one RGBA PNG per input frame, numbered from 1, alpha identical to the FFV1 output's
         * (same model, both lossless 8-bit alpha), no temporary directory left */
        char pd[1100], pat[1200], pa[1100], pb[1100];
        size_t nx = 0, ny = 0;
        char *x, *y;
        snprintf(pd, sizeof(pd), "%s/png", tmp);
        sh("rm -rf '%s'", pd);
        snprintf(pat, sizeof(pat), "%s/%%05d.png", pd);
        CHECK(sh("'%s' matte '%s' -o '%s' --model '%s' --backend cpu", fpbin, in, pat, model) == 0);
        CHECK_EQ_INT(count_entries(pd, ""), 20);
        CHECK_EQ_INT(count_entries(pd, ".fp-png"), 0);
        snprintf(pa, sizeof(pa), "%s/00001.png", pd);
        CHECK_MSG(!strcmp(probe_v(pa, NULL, "stream=pix_fmt", buf, sizeof(buf)), "rgba\n"), "png: %s", buf);
        snprintf(pa, sizeof(pa), "%s/png.a", tmp);
        snprintf(pb, sizeof(pb), "%s/mkv.a", tmp);
        CHECK(sh("ffmpeg -nostdin -v error -y -i '%s' -vf alphaextract -f rawvideo -pix_fmt gray '%s' && ffmpeg -nostdin "
                 "-v error -y -i '%s' -vf alphaextract -f rawvideo -pix_fmt gray '%s'", pat, pa, out, pb) == 0);
        x = read_file(pa, &nx);
        y = read_file(pb, &ny);
        CHECK_MSG(x && y && nx == ny && nx > 0 && !memcmp(x, y, nx), "PNG alpha differs from the FFV1 output's");
        free(x);
        free(y);
    }
    {
        /* --foreground and --alpha beside the main output (.nut: FFV1, lossless): the grey alpha file's
         * luma equals the main output's alpha plane within one code value (two more passes of the same
         * deterministic model; RGB -> grey Y rounding); the foreground file has no alpha */
        char fg[1100], al[1100], pa[1100], pb[1100];
        unsigned char *x, *y;
        size_t nx = 0, ny = 0;
        int maxd = 0;
        snprintf(fg, sizeof(fg), "%s/fg.nut", tmp);
        snprintf(al, sizeof(al), "%s/alpha.nut", tmp);
        snprintf(out, sizeof(out), "%s/main2.mkv", tmp);
        CHECK(sh("'%s' matte '%s' -o '%s' --model '%s' --backend cpu --foreground '%s' --alpha '%s'", fpbin, in, out,
                 model, fg, al) == 0);
        frames_and_times(in, fg);
        frames_and_times(in, al);
        probe_v(fg, NULL, "stream=pix_fmt", buf, sizeof(buf));
        CHECK_MSG(!strstr(buf, "yuva") && !strstr(buf, "gbra") && !strstr(buf, "rgba"), "foreground pix_fmt %s", buf);
        snprintf(pa, sizeof(pa), "%s/main2.a", tmp);
        snprintf(pb, sizeof(pb), "%s/alpha.y", tmp);
        CHECK(sh("ffmpeg -nostdin -v error -y -i '%s' -vf alphaextract -f rawvideo -pix_fmt gray '%s' && ffmpeg -nostdin "
                 "-v error -y -i '%s' -vf extractplanes=r -f rawvideo -pix_fmt gray '%s'", out, pa, al, pb) == 0);
        x = (unsigned char *)read_file(pa, &nx);
        y = (unsigned char *)read_file(pb, &ny);
        CHECK(x && y && nx == ny && nx > 0);
        for (size_t i = 0; x && y && nx == ny && i < nx; i++) {
            int d = abs(x[i] - y[i]);
            maxd = d > maxd ? d : maxd;
        }
        printf("--alpha file vs main output's alpha: max difference %d code value(s)\n", maxd);
        CHECK(maxd <= 1);
        free(x);
        free(y);
    }

    /* --chunks 3: frames after each chunk's warm-up within one 8-bit code value of the sequential pass
     * in every plane (Y, U, V, A of the lossless FFV1 files); count, timestamps, audio as the input */
    {
        char ch[1100], pa[1100], pb[1100];
        unsigned char *x, *y;
        size_t nx = 0, ny = 0;
        int maxd = 0;
        snprintf(ch, sizeof(ch), "%s/chunked.mkv", tmp);
        /* the default is one batch: the three chunks' frames in one model call, each its own state row */
        capture(buf, sizeof(buf), "'%s' matte '%s' -o '%s' --model '%s' --backend cpu --chunks 3 2>&1; echo rc=$?", fpbin,
                in, ch, model);
        CHECK_MSG(strstr(buf, "rc=0") && strstr(buf, "batch 3: "), "batched chunks: %s", buf);
        /* the auto-configuration (--batch 0: all 3 chunks in one call on the CPU), logged once */
        {
            const char *ac = strstr(buf, "auto-configuration for 96x72 on CPU: chunks 3, batch 3, queues ");
            CHECK_MSG(ac && !strstr(ac + 1, "auto-configuration"), "auto-configuration line: %s", buf);
        }
        frames_and_times(in, ch);
        audio_copied(ch, "opus");
        CHECK_MSG(strstr(probe_v(ch, NULL, "stream_tags=alpha_type", buf, sizeof(buf)), "straight"), "tag: %s", buf);
        snprintf(pa, sizeof(pa), "%s/seq.yuva", tmp);
        snprintf(pb, sizeof(pb), "%s/chunked.yuva", tmp);
        CHECK(sh("ffmpeg -nostdin -v error -y -i '%s' -f rawvideo '%s' && ffmpeg -nostdin -v error -y -i '%s' -f rawvideo "
                 "'%s'", out, pa, ch, pb) == 0);
        x = (unsigned char *)read_file(pa, &nx);
        y = (unsigned char *)read_file(pb, &ny);
        CHECK(x && y && nx == ny && nx > 0);
        for (size_t i = 0; x && y && nx == ny && i < nx; i++) {
            int d = abs(x[i] - y[i]);
            maxd = d > maxd ? d : maxd;
        }
        printf("chunked (3 chunks, default warm-up) vs sequential: max difference %d code value(s)\n", maxd);
        CHECK(maxd <= 1);
        free(x);
        free(y);
        /* the same chunk plan without the tensor batch (one model per chunk on its own thread), with the
         * batch refused as out of GPU memory (fault injection) so it retries with half the batch, and with
         * a padded tail (ended chunks keep their rows) instead of the CPU's shrinking one: all equal the
         * batched output within one code value (rows are independent images: measured 0) */
        static const char *const vname[3] = { "one model per chunk", "after an injected OOM (retry with half the batch)",
                                              "a padded tail" };
        static const char *const vargs[3] = { "--batch 1", "", "--batch-tail pad" };
        static const char *const vwant[3] = { "no tensor batch", "batch 1: ", "padded tail (+" };
        x = (unsigned char *)read_file(pb, &nx);
        for (int v = 0; v < 3; v++) {
            char o2[1100], pc[1100];
            int d2 = 0;
            snprintf(o2, sizeof(o2), "%s/chunked_%d.mkv", tmp, v);
            snprintf(pc, sizeof(pc), "%s/chunked_%d.yuva", tmp, v);
            capture(buf, sizeof(buf), "%s'%s' matte '%s' -o '%s' --model '%s' --backend cpu --chunks 3 %s 2>&1; "
                    "echo rc=$?", v == 1 ? "FP_MATTE_TEST_MAX_ROWS=2 " : "", fpbin, in, o2, model, vargs[v]);
            CHECK_MSG(strstr(buf, "rc=0") && strstr(buf, vwant[v]), "%s: %s", o2, buf);
            CHECK_MSG(v != 1 || (strstr(buf, "a batch of 3") && strstr(buf, "retrying with 1")), "no OOM retry: %s", buf);
            CHECK_MSG(v != 2 || !strstr(buf, "(+0 padded rows)"), "no padded rows: %s", buf);
            frames_and_times(in, o2);
            CHECK(sh("ffmpeg -nostdin -v error -y -i '%s' -f rawvideo '%s'", o2, pc) == 0);
            y = (unsigned char *)read_file(pc, &ny);
            CHECK(x && y && nx == ny && nx > 0);
            for (size_t i = 0; x && y && nx == ny && i < nx; i++) {
                int d = abs(x[i] - y[i]);
                d2 = d > d2 ? d : d2;
            }
            printf("chunks batched vs %s: max difference %d code value(s)\n", vname[v], d2);
            CHECK(d2 <= 1);
            free(y);
        }
        free(x);
    }

    /* composite over a colour, and the matte as grey: flat video, no alpha */
    snprintf(out, sizeof(out), "%s/comp.mkv", tmp);
    CHECK(sh("'%s' matte '%s' -o '%s' --model '%s' --backend cpu --composite 00ff00 -c:v ffv1", fpbin, in, out,
             model) == 0);
    probe_v(out, NULL, "stream=pix_fmt", buf, sizeof(buf));
    CHECK_MSG(!strchr(buf, 'a') || !strncmp(buf, "gray", 4), "composite pix_fmt %s", buf);
    frames_and_times(in, out);
    {
        /* --composite IMAGE: a red PNG of another size, scaled to the frame: where alpha is 0 the output is
         * the image (red), so the composite's mean red must exceed its mean green by a margin */
        char png[1100];
        double r = 0, g = 0;
        snprintf(png, sizeof(png), "%s/bg.png", tmp);
        CHECK(sh("ffmpeg -nostdin -v error -y -f lavfi -i color=c=red:s=40x30 -frames:v 1 '%s'", png) == 0);
        snprintf(out, sizeof(out), "%s/comp_img.mkv", tmp);
        CHECK(sh("'%s' matte '%s' -o '%s' --model '%s' --backend cpu --composite '%s' -c:v ffv1", fpbin, in, out,
                 model, png) == 0);
        frames_and_times(in, out);
        capture(buf, sizeof(buf), "ffmpeg -nostdin -v error -i '%s' -frames:v 1 -vf format=rgb24,scale=1:1:flags=area "
                "-f rawvideo - | od -An -tu1", out);
        if (sscanf(buf, "%lf %lf", &r, &g) == 2)
            printf("composite over a red image: mean R %.0f, G %.0f\n", r, g);
        CHECK_MSG(r > g + 64, "composite over a red image: '%s'", buf);
    }
    snprintf(out, sizeof(out), "%s/matte.mkv", tmp);
    CHECK(sh("'%s' matte '%s' -o '%s' --model '%s' --backend cpu --alpha-only -c:v ffv1", fpbin, in, out, model) == 0);
    frames_and_times(in, out);
    composite_video(in, out);

    return fp_test_finish("matte_e2e formats");

faults:
    /* refusals: exit 6, one line, nothing written */
    {
        char p[1100];
        snprintf(p, sizeof(p), "%s/missing.onnx", tmp);
        bad_model(in, p, NULL);
        snprintf(p, sizeof(p), "%s/garbage.onnx", tmp);
        sh("printf 'not a model' > '%s'", p);
        bad_model(in, p, NULL);
        snprintf(p, sizeof(p), "%s/pairclass/model.onnx", mdir);
        bad_model(in, p, "interface");
    }
    CHECK_EQ_INT(sh("'%s' matte '%s' -o '%s/x.webm' 2>/dev/null", fpbin, in, tmp), 2); /* no --model */
    CHECK_EQ_INT(sh("'%s' matte '%s' -o '%s/x.webm' --model '%s' --downsample-ratio 2 2>/dev/null", fpbin, in, tmp,
                    model), 2);

#ifdef FP_HAVE_JOBS
    /* many files through the queue: a corrupt one fails alone, the others are written; exit code is the
     * failed file's (3, bad input); per-file and overall summary lines */
    {
        char dir[1100], od[1100], errp[1100], *err;
        size_t n = 0;
        int code;
        snprintf(dir, sizeof(dir), "%s/many", tmp);
        snprintf(od, sizeof(od), "%s/many-out", tmp);
        snprintf(errp, sizeof(errp), "%s/many.err", tmp);
        sh("rm -rf '%s' '%s' && mkdir -p '%s'", dir, od, dir);
        CHECK(sh("for n in a b; do ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=96x72:rate=10 -t 1 -c:v ffv1 "
                 "'%s'/$n.mkv || exit 1; done && head -c 5000 /dev/urandom > '%s/c.mkv'", dir, dir) == 0);
        code = sh("'%s' matte '%s' -o '%s' --model '%s' --backend cpu --gpus 2 2>'%s'", fpbin, dir, od, model, errp);
        err = read_file(errp, &n);
        printf("many: exit %d\n%s", code, err ? err : "");
        CHECK_EQ_INT(code, 3);
        CHECK(err && strstr(err, "3 files: 2 ok, 1 failed"));
        CHECK(err && strstr(err, "FAILED  ") && strstr(err, "c.mkv"));
        for (int i = 0; i < 2; i++) {
            char o[1200];
            snprintf(o, sizeof(o), "%s/%c.webm", od, 'a' + i);
            probe_v(o, NULL, "stream=codec_name", buf, sizeof(buf));
            CHECK_MSG(!strcmp(buf, "vp9\n"), "%s: '%s'", o, buf);
            capture(buf, sizeof(buf), "ffprobe -v error -count_frames -select_streams v:0 -show_entries "
                    "stream=nb_read_frames -of csv=p=0 '%s'", o);
            CHECK_MSG(!strcmp(buf, "10\n"), "%s: %s frames", o, buf);
        }
        snprintf(errp, sizeof(errp), "%s/c.webm", od);
        CHECK(!exists(errp));
        CHECK_EQ_INT(count_entries(od, ""), 2); /* a.webm, b.webm, no temporary */
        free(err);
    }
    /* many files with --chunk-seconds: a 3 s file is cut at keyframes into 3 chunks in the queue (own
     * state and warm-up each, joined without re-encoding), a 1 s file is one chunk; every plane of the
     * lossless FFV1 outputs within one code value of the whole-file pass (--chunk-seconds 0, no queue
     * task), frame count and timestamps as the input; without warm-up they differ (so this can fail);
     * --alpha-mode reaches the task (stream tag) */
    {
        char dir[1100], od[1100], od0[1100], errp[1100], *err;
        size_t n = 0;
        int code;
        snprintf(dir, sizeof(dir), "%s/manyc", tmp);
        snprintf(od, sizeof(od), "%s/manyc-out", tmp);
        snprintf(od0, sizeof(od0), "%s/manyc-whole", tmp);
        snprintf(errp, sizeof(errp), "%s/manyc.err", tmp);
        sh("rm -rf '%s' '%s' '%s' && mkdir -p '%s'", dir, od, od0, dir);
        CHECK(sh("ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=96x72:rate=10 -t 3 -c:v ffv1 '%s/long.mkv' && "
                 "ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=96x72:rate=10 -t 1 -c:v ffv1 '%s/short.mkv'",
                 dir, dir) == 0);
        code = sh("'%s' matte '%s' -o '%s' --model '%s' --backend cpu --gpus 2 --ext mkv --chunk-seconds 1 2>'%s'",
                  fpbin, dir, od, model, errp);
        err = read_file(errp, &n);
        printf("many, chunked: exit %d\n%s", code, err ? err : "");
        CHECK_EQ_INT(code, 0);
        CHECK(err && strstr(err, "2 files: 2 ok, 0 failed"));
        CHECK_MSG(err && strstr(err, "30 frames in 3 chunk(s)"), "long.mkv in 3 chunks");
        CHECK_MSG(err && strstr(err, "10 frames in 1 chunk(s)"), "short.mkv in 1 chunk");
        free(err);
        code = sh("'%s' matte '%s' -o '%s' --model '%s' --backend cpu --ext mkv --chunk-seconds 0 2>'%s'", fpbin, dir,
                  od0, model, errp);
        err = read_file(errp, &n);
        CHECK_MSG(code == 0 && err && !strstr(err, "chunk(s)"), "whole files: exit %d: %s", code, err ? err : "");
        free(err);
        for (int f = 0; f < 2; f++) {
            const char *name = f ? "short" : "long";
            char i1[1200], o1[1200], o0[1200], pa[1200], pb[1200];
            unsigned char *x, *y;
            size_t nx = 0, ny = 0;
            int maxd = 0;
            snprintf(i1, sizeof(i1), "%s/%s.mkv", dir, name);
            snprintf(o1, sizeof(o1), "%s/%s.mkv", od, name);
            snprintf(o0, sizeof(o0), "%s/%s.mkv", od0, name);
            frames_and_times(i1, o1);
            CHECK_MSG(strstr(probe_v(o1, NULL, "stream_tags=alpha_type", buf, sizeof(buf)), "straight"),
                      "%s: tag '%s'", o1, buf);
            snprintf(pa, sizeof(pa), "%s/manyc-%s-0.yuva", tmp, name);
            snprintf(pb, sizeof(pb), "%s/manyc-%s-1.yuva", tmp, name);
            CHECK(sh("ffmpeg -nostdin -v error -y -i '%s' -f rawvideo '%s' && ffmpeg -nostdin -v error -y -i '%s' "
                     "-f rawvideo '%s'", o0, pa, o1, pb) == 0);
            x = (unsigned char *)read_file(pa, &nx);
            y = (unsigned char *)read_file(pb, &ny);
            CHECK(x && y && nx == ny && nx > 0);
            for (size_t i = 0; x && y && nx == ny && i < nx; i++) {
                int d = abs(x[i] - y[i]);
                maxd = d > maxd ? d : maxd;
            }
            printf("many, %s.mkv: chunked in the queue vs whole file: max difference %d code value(s)\n", name, maxd);
            CHECK(maxd <= 1);
            free(x);
            free(y);
        }
        /* so the comparison can fail: without warm-up the 2nd and 3rd chunks start from the zero state */
        {
            char o1[1200], pa[1200], pb[1200];
            unsigned char *x, *y;
            size_t nx = 0, ny = 0;
            int maxd = 0;
            sh("rm -rf '%s'", od);
            code = sh("'%s' matte '%s' -o '%s' --model '%s' --backend cpu --gpus 2 --ext mkv --chunk-seconds 1 "
                      "--warmup-frames 0 2>/dev/null", fpbin, dir, od, model);
            CHECK_EQ_INT(code, 0);
            snprintf(o1, sizeof(o1), "%s/long.mkv", od);
            snprintf(pa, sizeof(pa), "%s/manyc-long-0.yuva", tmp);
            snprintf(pb, sizeof(pb), "%s/manyc-long-w0.yuva", tmp);
            CHECK(sh("ffmpeg -nostdin -v error -y -i '%s' -f rawvideo '%s'", o1, pb) == 0);
            x = (unsigned char *)read_file(pa, &nx);
            y = (unsigned char *)read_file(pb, &ny);
            CHECK(x && y && nx == ny && nx > 0);
            for (size_t i = 0; x && y && nx == ny && i < nx; i++) {
                int d = abs(x[i] - y[i]);
                maxd = d > maxd ? d : maxd;
            }
            printf("many, long.mkv: chunked without warm-up vs whole file: max difference %d code value(s)\n", maxd);
            CHECK(maxd >= 2);
            free(x);
            free(y);
            /* --alpha-mode reaches the queue's task (the small model keys everything, so premultiplied
             * colour is 0: only the tag is checked) */
            sh("rm -rf '%s'", od);
            CHECK_EQ_INT(sh("'%s' matte '%s' -o '%s' --model '%s' --backend cpu --ext mkv --chunk-seconds 1 "
                            "--alpha-mode premultiplied 2>/dev/null", fpbin, dir, od, model), 0);
            CHECK_MSG(strstr(probe_v(o1, NULL, "stream_tags=alpha_type", buf, sizeof(buf)), "premultiplied"),
                      "%s: tag '%s'", o1, buf);
        }
    }
#else
    SKIP("many files: built without the jobs module (FP_JOBS=OFF)");
#endif

    /* Ctrl-C on a longer input */
    snprintf(inlong, sizeof(inlong), "%s/long.mkv", tmp);
    CHECK(sh("ffmpeg -nostdin -v error -y -f lavfi -i testsrc2=size=96x72:rate=25 -t 20 -c:v ffv1 '%s'", inlong) ==
          0);
    ctrl_c(inlong, 1);
    ctrl_c(inlong, 3);
    return fp_test_finish("matte_e2e faults");
}
