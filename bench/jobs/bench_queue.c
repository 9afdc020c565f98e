/*
 * bench_queue — queue throughput: W worker threads (one connection each) run claim + heartbeat +
 * complete cycles on pre-submitted chunk tasks for D seconds; prints cycles/s and the p50/p99 claim
 * latency. usage: bench_queue QUEUE_URL WORKERS SECONDS
 * Start from an empty database: the bench submits its own jobs (1000 chunks each, as needed).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobs/jobs_queue.h"

static const char *url;
static double deadline;
static atomic_long cycles, errors;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct wstate {
    pthread_t t;
    double *lat;
    size_t n, cap;
} wstate;

static void *run(void *arg)
{
    wstate *w = arg;
    fp_jobq *q = NULL;
    fp_err e = { 0 };
    fp_jobq_opts o = { 60, 1, 10, 3 };
    if (fp_jobq_open(&q, url, &o, &e) < 0) {
        fprintf(stderr, "open: %s\n", e.msg);
        atomic_fetch_add(&errors, 1);
        return NULL;
    }
    char name[32];
    snprintf(name, sizeof(name), "bench-%p", (void *)w);
    while (now() < deadline) {
        fp_claim c;
        fp_err ce = { 0 };
        double t0 = now();
        int ret = fp_jobq_claim(q, name, &c, &ce);
        double t1 = now();
        if (ret == FP_EAGAIN)
            break; /* ran out of tasks: the bench submitted too few */
        if (ret < 0) {
            atomic_fetch_add(&errors, 1);
            continue;
        }
        if (w->n == w->cap) {
            w->cap = w->cap ? 2 * w->cap : 4096;
            w->lat = realloc(w->lat, w->cap * sizeof(double));
        }
        w->lat[w->n++] = t1 - t0;
        if (fp_jobq_heartbeat(q, &c, 0.5, &ce) < 0 || fp_jobq_complete(q, &c, "k", &ce) < 0)
            atomic_fetch_add(&errors, 1);
        else
            atomic_fetch_add(&cycles, 1);
        fp_claim_clear(&c);
    }
    fp_jobq_freep(&q);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_queue QUEUE_URL WORKERS SECONDS\n");
        return 2;
    }
    url = argv[1];
    int nw = atoi(argv[2]);
    double secs = atof(argv[3]);
    fp_jobq *q = NULL;
    fp_err e = { 0 };
    if (fp_jobq_open(&q, url, NULL, &e) < 0) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    static fp_chunk ch[1000];
    for (int i = 0; i < 1000; i++)
        ch[i] = (fp_chunk){ i, i + 1, i, 1 };
    int njobs = atoi(getenv("BENCH_JOBS") ? getenv("BENCH_JOBS") : "20"); /* x 1000 chunk tasks */
    for (int j = 0; j < njobs; j++) {
        int64_t id;
        if (fp_jobq_submit(q, "remux", "/bench", "/bench.out", "file:///tmp", "{}", ch, 1000, &id, &e) < 0) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
    }
    /* Steady state: autovacuum has analyzed the tables. Right after a bulk insert PostgreSQL has no
     * statistics and plans the claim as a sort of every queued task (~800 ms with 20,000). */
    if (fp_db_engine_of(q->db) == FP_DB_POSTGRES && fp_db_exec(q->db, "ANALYZE", NULL, 0, NULL, NULL, NULL, &e) < 0)
        fprintf(stderr, "analyze: %s\n", e.msg);
    fp_jobq_freep(&q);
    wstate *w = calloc(nw, sizeof(*w));
    double t0 = now();
    deadline = t0 + secs;
    for (int i = 0; i < nw; i++)
        pthread_create(&w[i].t, NULL, run, &w[i]);
    size_t total = 0;
    for (int i = 0; i < nw; i++) {
        pthread_join(w[i].t, NULL);
        total += w[i].n;
    }
    double el = now() - t0;
    double *all = malloc((total + 1) * sizeof(double));
    size_t k = 0;
    for (int i = 0; i < nw; i++) {
        memcpy(all + k, w[i].lat, w[i].n * sizeof(double));
        k += w[i].n;
        free(w[i].lat);
    }
    qsort(all, total, sizeof(double), cmp);
    double p50 = total ? all[total / 2] : 0, p99 = total ? all[(size_t)(total * 0.99)] : 0;
    printf("%-8s workers %3d: %8.0f cycles/s (claim+heartbeat+complete), claim p50 %.2f ms, p99 %.2f ms, "
           "%ld errors, %.1fs\n",
           strncmp(url, "postgres", 8) ? "sqlite" : "postgres", nw, atomic_load(&cycles) / el, p50 * 1e3, p99 * 1e3,
           atomic_load(&errors), el);
    free(all);
    free(w);
    return atomic_load(&errors) ? 1 : 0;
}
