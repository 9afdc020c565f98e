/*
 * fp_metrics — the end-of-run table and the bottleneck verdict. See fp_pipeline.h.
 *
 * The verdict: in a chain of stages joined by bounded queues, throughput is set by the stage that is
 * busy the largest share of its time; the stages before it wait on their output (back-pressure) and
 * those after it wait on their input. So the bottleneck is the stage with the highest busy fraction,
 * and the waits of the others are the evidence printed next to it. If no stage is busy most of the
 * time, nothing is saturated and the run is limited by something outside the stages (I/O, a lock).
 *
 * Stages sharing a name (a pool: N encoders, N model workers) are one group: one row with "xN", busy
 * fraction = total busy / total wall, so "encode x8 busy 97%" reads as "more encoders would help".
 */
#include <stdlib.h>
#include <string.h>

#include "pipeline/fp_mem.h"
#include "pipeline/fp_pipeline.h"

const char *fp_stage_hint_internal(const fp_pipeline *p, int i);
const char *fp_stage_io_name_internal(const fp_pipeline *p, int i, int output);
int fp_pipeline_nb_queues_internal(const fp_pipeline *p);
const fp_queue *fp_pipeline_queue_internal(const fp_pipeline *p, int i);

#define SATURATED 0.5  /* busy fraction under which no stage is called the bottleneck */

typedef struct group {
    const char *name;
    int first, count;
    int64_t frames;
    double wall_max, wall_sum, busy, wait_in, wait_out;
} group;

static double frac(double part, double whole) { return whole > 0 ? part / whole : 0; }

/* Group stages by name, in order of first appearance. Returns the number of groups (<= n). */
static int make_groups(const fp_pipeline *p, group *g, int n)
{
    int ng = 0;
    for (int i = 0; i < n; i++) {
        fp_stage_stats s;
        int k;
        fp_pipeline_stage_stats(p, i, &s);
        for (k = 0; k < ng; k++)
            if (!strcmp(g[k].name, s.name))
                break;
        if (k == ng) {
            memset(&g[ng], 0, sizeof(g[ng]));
            g[ng].name = s.name;
            g[ng].first = i;
            ng++;
        }
        g[k].count++;
        g[k].frames += s.frames;
        if (s.wall_s > g[k].wall_max)
            g[k].wall_max = s.wall_s;
        g[k].wall_sum += s.wall_s;
        g[k].busy += s.busy_s;
        g[k].wait_in += s.wait_in_s;
        g[k].wait_out += s.wait_out_s;
    }
    return ng;
}

static void group_label(const group *g, char *buf, size_t n)
{
    if (g->count > 1)
        snprintf(buf, n, "%s x%d", g->name, g->count);
    else
        snprintf(buf, n, "%s", g->name);
}

int fp_metrics_bottleneck(const fp_pipeline *p, char *buf, size_t size)
{
    int n = fp_pipeline_nb_stages(p), ng, best = -1;
    group *g;
    char label[64];
    const char *hint;
    size_t len;
    buf[0] = '\0';
    if (n <= 0)
        return -1;
    if (!(g = calloc((size_t)n, sizeof(*g))))
        return -1;
    ng = make_groups(p, g, n);
    for (int k = 0; k < ng; k++)
        if (best < 0 || frac(g[k].busy, g[k].wall_sum) > frac(g[best].busy, g[best].wall_sum))
            best = k;
    group_label(&g[best], label, sizeof(label));
    if (frac(g[best].busy, g[best].wall_sum) < SATURATED) {
        snprintf(buf, size, "no stage is saturated (busiest: %s, %.0f%% busy): the run waits on "
                 "something outside the stages (disk, network, a lock)", label,
                 100 * frac(g[best].busy, g[best].wall_sum));
    } else {
        hint = fp_stage_hint_internal(p, g[best].first);
        snprintf(buf, size, "bottleneck: %s (busy %.0f%% of %.2f s): %s", label,
                 100 * frac(g[best].busy, g[best].wall_sum), g[best].wall_max,
                 hint[0] ? hint : "give this stage more threads or a faster setting");
        /* evidence: who waited because of it */
        for (int k = 0; k < ng; k++) {
            const char *q;
            if (k == best || g[k].wall_sum <= 0 || (len = strlen(buf)) + 1 >= size)
                continue;
            group_label(&g[k], label, sizeof(label));
            if (g[k].wait_out > 0.2 * g[k].wall_sum) {
                q = fp_stage_io_name_internal(p, g[k].first, 1);
                snprintf(buf + len, size - len, "; %s waited %.0f%% of its time on its output%s%s%s", label,
                         100 * frac(g[k].wait_out, g[k].wall_sum), q ? " '" : "", q ? q : "", q ? "'" : "");
            } else if (g[k].wait_in > 0.2 * g[k].wall_sum) {
                q = fp_stage_io_name_internal(p, g[k].first, 0);
                snprintf(buf + len, size - len, "; %s waited %.0f%% of its time on its input%s%s%s", label,
                         100 * frac(g[k].wait_in, g[k].wall_sum), q ? " '" : "", q ? q : "", q ? "'" : "");
            }
        }
    }
    best = g[best].first;
    free(g);
    return best;
}

void fp_metrics_table_print(const fp_pipeline *p, FILE *f)
{
    char verdict[1024], label[64];
    int n = fp_pipeline_nb_stages(p), ng, nq = fp_pipeline_nb_queues_internal(p);
    uint64_t rss = fp_mem_peak_rss();
    group *g = n > 0 ? calloc((size_t)n, sizeof(*g)) : NULL;
    ng = g ? make_groups(p, g, n) : 0;
    fprintf(f, "%-16s %9s %9s %9s %6s %10s %10s %9s\n", "stage", "frames", "time s", "busy s", "busy",
            "wait in s", "wait out s", "fps");
    /* a pool's times are summed over its instances; its fps is the group's (frames / longest wall) */
    for (int k = 0; k < ng; k++) {
        group_label(&g[k], label, sizeof(label));
        fprintf(f, "%-16s %9lld %9.2f %9.2f %5.0f%% %10.2f %10.2f %9.1f\n", label, (long long)g[k].frames,
                g[k].wall_max, g[k].busy, 100 * frac(g[k].busy, g[k].wall_sum), g[k].wait_in, g[k].wait_out,
                frac((double)g[k].frames, g[k].wall_max));
    }
    free(g);
    if (fp_metrics_bottleneck(p, verdict, sizeof(verdict)) >= 0)
        fprintf(f, "%s\n", verdict);
    if (nq) {
        fprintf(f, "queues (most items held / depth):");
        for (int i = 0; i < nq; i++) {
            fp_queue_stats qs;
            fp_queue_get_stats(fp_pipeline_queue_internal(p, i), &qs);
            fprintf(f, "%s %s %zu/%zu", i ? "," : "", fp_queue_name(fp_pipeline_queue_internal(p, i)),
                    qs.max_size, qs.capacity);
        }
        fputc('\n', f);
    }
    if (rss)
        fprintf(f, "peak RSS: %.1f MiB\n", rss / 1048576.0);
}
