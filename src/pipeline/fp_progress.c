/*
 * fp_progress — terminal line and JSON Lines progress. See fp_progress.h.
 *
 * fps is measured over the whole run (frames / elapsed), not a sliding window: it is what the ETA
 * needs and it does not jump around when a queue fills or drains.
 */
#include "pipeline/fp_progress.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fp_error.h"
#include "core/fp_json.h"
#include "pipeline/fp_clock.h"
#include "pipeline/fp_pipeline.h"

struct fp_progress {
    fp_progress_mode mode;
    FILE *f;
    int64_t total;
    int64_t start_ns, last_ns;
    double interval_s;
    int line_len, finished;
};

int fp_progress_mode_parse(const char *s, fp_progress_mode *mode)
{
    static const struct { const char *name; fp_progress_mode mode; } modes[] = {
        { "auto", FP_PROGRESS_AUTO }, { "none", FP_PROGRESS_NONE },
        { "line", FP_PROGRESS_LINE }, { "json", FP_PROGRESS_JSON },
    };
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
        if (s && !strcmp(s, modes[i].name)) {
            *mode = modes[i].mode;
            return 0;
        }
    return FP_EINVAL;
}

int fp_progress_alloc(fp_progress **pp, fp_progress_mode mode, FILE *f, int64_t total_frames)
{
    fp_progress *pr = calloc(1, sizeof(*pr));
    *pp = NULL;
    if (!pr)
        return FP_ENOMEM;
    pr->f = f ? f : stderr;
    if (mode == FP_PROGRESS_AUTO)
        mode = isatty(fileno(pr->f)) ? FP_PROGRESS_LINE : FP_PROGRESS_NONE;
    pr->mode = mode;
    pr->total = total_frames > 0 ? total_frames : 0;
    pr->start_ns = fp_clock_ns();
    pr->interval_s = mode == FP_PROGRESS_JSON ? 1.0 : 0.25;
    *pp = pr;
    return 0;
}

void fp_progress_freep(fp_progress **pp)
{
    if (!pp || !*pp)
        return;
    free(*pp);
    *pp = NULL;
}

void fp_progress_set_interval(fp_progress *pr, double seconds) { pr->interval_s = seconds; }

static void fmt_duration(char *buf, size_t n, double s)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else
        snprintf(buf, n, "%ld:%02ld", t / 60, t % 60);
}

static void emit_line(fp_progress *pr, int64_t frames, double elapsed, double fps)
{
    char line[256], eta[32] = "", el[32];
    int n;
    fmt_duration(el, sizeof(el), elapsed);
    if (pr->total && fps > 0 && frames <= pr->total) {
        char e[24];
        fmt_duration(e, sizeof(e), (pr->total - frames) / fps);
        snprintf(eta, sizeof(eta), "  ETA %s", e);
    }
    if (pr->total)
        n = snprintf(line, sizeof(line), "frame %lld/%lld (%.1f%%)  %.1f fps  %s%s",
                     (long long)frames, (long long)pr->total, 100.0 * frames / pr->total, fps, el, eta);
    else
        n = snprintf(line, sizeof(line), "frame %lld  %.1f fps  %s", (long long)frames, fps, el);
    /* pad over the previous, longer line */
    fprintf(pr->f, "\r%s%*s", line, pr->line_len > n ? pr->line_len - n : 0, "");
    pr->line_len = n;
    fflush(pr->f);
}

static void emit_json(fp_progress *pr, int64_t frames, double elapsed, double fps,
                      const fp_pipeline *pl, int done)
{
    FILE *f = pr->f;
    fprintf(f, "{\"event\":\"%s\",\"frames\":%lld,\"total\":", done ? "done" : "progress",
            (long long)frames);
    if (pr->total)
        fprintf(f, "%lld", (long long)pr->total);
    else
        fputs("null", f);
    fprintf(f, ",\"fps\":%.3f,\"eta_s\":", fps);
    if (pr->total && fps > 0 && frames <= pr->total)
        fprintf(f, "%.3f", done ? 0.0 : (pr->total - frames) / fps);
    else
        fputs("null", f);
    fprintf(f, ",\"elapsed_s\":%.3f,\"stages\":[", elapsed);
    for (int i = 0; pl && i < fp_pipeline_nb_stages(pl); i++) {
        fp_stage_stats s;
        fp_pipeline_stage_stats(pl, i, &s);
        fputs(i ? ",{\"name\":" : "{\"name\":", f);
        fp_json_str(f, s.name);
        fprintf(f, ",\"frames\":%lld,\"busy_s\":%.3f,\"wait_in_s\":%.3f,\"wait_out_s\":%.3f,\"fps\":%.3f}",
                (long long)s.frames, s.busy_s, s.wait_in_s, s.wait_out_s, s.fps);
    }
    fputs("]}\n", f);
    fflush(f);
}

void fp_progress_update(fp_progress *pr, int64_t frames, const fp_pipeline *pl)
{
    int64_t now = fp_clock_ns();
    double elapsed, fps;
    if (!pr || pr->mode == FP_PROGRESS_NONE || pr->finished)
        return;
    if (pr->last_ns && (now - pr->last_ns) * 1e-9 < pr->interval_s)
        return;
    pr->last_ns = now;
    elapsed = (now - pr->start_ns) * 1e-9;
    fps = elapsed > 0 ? frames / elapsed : 0;
    if (pr->mode == FP_PROGRESS_JSON)
        emit_json(pr, frames, elapsed, fps, pl, 0);
    else
        emit_line(pr, frames, elapsed, fps);
}

void fp_progress_finish(fp_progress *pr, int64_t frames, const fp_pipeline *pl)
{
    double elapsed, fps;
    if (!pr || pr->mode == FP_PROGRESS_NONE || pr->finished)
        return;
    pr->finished = 1;
    elapsed = (fp_clock_ns() - pr->start_ns) * 1e-9;
    fps = elapsed > 0 ? frames / elapsed : 0;
    if (pr->mode == FP_PROGRESS_JSON) {
        emit_json(pr, frames, elapsed, fps, pl, 1);
    } else {
        emit_line(pr, frames, elapsed, fps);
        fputc('\n', pr->f);
        fflush(pr->f);
    }
}
