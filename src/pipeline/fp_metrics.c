/*
 * fp_metrics — the end-of-run table and the bottleneck verdict. See fp_pipeline.h.
 *
 * The verdict: in a chain of stages joined by bounded queues, throughput is set by the stage that is
 * busy the largest share of its time; the stages before it wait on their output (back-pressure) and
 * those after it wait on their input. So the bottleneck is the stage with the highest busy fraction,
 * and the waits of the others are the evidence printed next to it. If no stage is busy most of the
 * time, nothing is saturated and the run is limited by something outside the stages (I/O, a lock).
 */
#include <string.h>

#include "pipeline/fp_mem.h"
#include "pipeline/fp_pipeline.h"

const char *fp_stage_hint_internal(const fp_pipeline *p, int i);
const char *fp_stage_io_name_internal(const fp_pipeline *p, int i, int output);

#define SATURATED 0.5  /* busy fraction under which no stage is called the bottleneck */

static double busy_frac(const fp_stage_stats *s) { return s->wall_s > 0 ? s->busy_s / s->wall_s : 0; }

int fp_metrics_bottleneck(const fp_pipeline *p, char *buf, size_t size)
{
    int n = fp_pipeline_nb_stages(p), best = -1;
    fp_stage_stats b, s;
    size_t len;
    const char *hint;
    buf[0] = '\0';
    for (int i = 0; i < n; i++) {
        fp_pipeline_stage_stats(p, i, &s);
        if (best < 0 || busy_frac(&s) > busy_frac(&b)) {
            best = i;
            b = s;
        }
    }
    if (best < 0)
        return -1;
    if (busy_frac(&b) < SATURATED) {
        snprintf(buf, size, "no stage is saturated (busiest: %s, %.0f%% busy): the run waits on "
                 "something outside the stages (disk, network, a lock)", b.name, 100 * busy_frac(&b));
        return best;
    }
    hint = fp_stage_hint_internal(p, best);
    snprintf(buf, size, "bottleneck: %s (busy %.0f%% of %.2f s): %s", b.name, 100 * busy_frac(&b),
             b.wall_s, hint[0] ? hint : "give this stage more threads or a faster setting");
    /* evidence: who waited because of it */
    for (int i = 0; i < n; i++) {
        const char *q;
        if (i == best)
            continue;
        fp_pipeline_stage_stats(p, i, &s);
        len = strlen(buf);
        if (s.wall_s <= 0 || len + 1 >= size)
            continue;
        if (s.wait_out_s > 0.2 * s.wall_s) {
            q = fp_stage_io_name_internal(p, i, 1);
            snprintf(buf + len, size - len, "; %s waited %.0f%% of its time on its output%s%s%s", s.name,
                     100 * s.wait_out_s / s.wall_s, q ? " '" : "", q ? q : "", q ? "'" : "");
        } else if (s.wait_in_s > 0.2 * s.wall_s) {
            q = fp_stage_io_name_internal(p, i, 0);
            snprintf(buf + len, size - len, "; %s waited %.0f%% of its time on its input%s%s%s", s.name,
                     100 * s.wait_in_s / s.wall_s, q ? " '" : "", q ? q : "", q ? "'" : "");
        }
    }
    return best;
}

void fp_metrics_table_print(const fp_pipeline *p, FILE *f)
{
    char verdict[1024];
    int n = fp_pipeline_nb_stages(p);
    uint64_t rss = fp_mem_peak_rss();
    fprintf(f, "%-16s %9s %9s %9s %6s %10s %10s %9s\n", "stage", "frames", "time s", "busy s", "busy",
            "wait in s", "wait out s", "fps");
    for (int i = 0; i < n; i++) {
        fp_stage_stats s;
        fp_pipeline_stage_stats(p, i, &s);
        fprintf(f, "%-16s %9lld %9.2f %9.2f %5.0f%% %10.2f %10.2f %9.1f\n", s.name, (long long)s.frames,
                s.wall_s, s.busy_s, 100 * busy_frac(&s), s.wait_in_s, s.wait_out_s, s.fps);
    }
    if (fp_metrics_bottleneck(p, verdict, sizeof(verdict)) >= 0)
        fprintf(f, "%s\n", verdict);
    if (rss)
        fprintf(f, "peak RSS: %.1f MiB\n", rss / 1048576.0);
}
