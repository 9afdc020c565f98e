/*
 * Unit tests for fp_pipeline: a clean run closes queues in order and counts frames; a failing stage
 * stops the others and its message wins over the abort codes they return; the watchdog fails a
 * stalled stage with FP_ETIMEOUT naming it and its position, and gives up on a stage that never
 * returns; a toy pipeline with 1 worker and depth 1 gives exactly the checksum of N workers and other
 * depths (libvips' threading test); the end-of-run table names the slow stage as the bottleneck.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/fp_error.h"
#include "fp_test.h"
#include "pipeline/fp_clock.h"
#include "pipeline/fp_pipeline.h"

/* ---- a toy workload: source -> N workers (hash) -> sink (reorders by sequence, checksums) ---- */

typedef struct item {
    uint64_t seq, value;
} item;

typedef struct toy {
    fp_queue *a, *b;
    uint64_t n;              /* items the source emits */
    uint64_t fail_at;        /* a worker fails at this seq (0: never) */
    int work_us;             /* per-item worker sleep, to make it the bottleneck */
    int sink_extra_us;
    uint64_t checksum, received;
    int sink_ret;
} toy;

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

static int source_fn(fp_stage *st, void *opaque)
{
    toy *t = opaque;
    for (uint64_t i = 0; i < t->n; i++) {
        item *it = malloc(sizeof(*it));
        int ret;
        it->seq = i;
        it->value = i * 2654435761u;
        if ((ret = fp_stage_push(st, t->a, it)) < 0) {
            free(it);
            return ret;
        }
        fp_stage_add_frames(st, 1);
    }
    return 0;
}

static int worker_fn(fp_stage *st, void *opaque)
{
    toy *t = opaque;
    item *it;
    int ret;
    while ((ret = fp_stage_pop(st, t->a, (void **)&it)) == 0) {
        if (t->fail_at && it->seq == t->fail_at) {
            uint64_t seq = it->seq;
            free(it);
            return fp_stage_fail(st, FP_EINPUT, "toy.bin: %s: corrupt item %llu", fp_stage_name(st),
                                 (unsigned long long)seq);
        }
        if (t->work_us)
            usleep(t->work_us);
        it->value = mix(it->value);
        if ((ret = fp_stage_push(st, t->b, it)) < 0) {
            free(it);
            return ret;
        }
        fp_stage_add_frames(st, 1);
    }
    return ret;
}

static int sink_fn(fp_stage *st, void *opaque)
{
    toy *t = opaque;
    uint64_t next = 0, cap = 64;
    item **pending = calloc(cap, sizeof(*pending));
    item *it;
    int ret;
    /* items arrive out of order from several workers: hold them until their turn, as a muxer does */
    while ((ret = fp_stage_pop(st, t->b, (void **)&it)) == 0) {
        while (it->seq - next >= cap) {
            item **np = calloc(cap * 2, sizeof(*np));
            for (uint64_t i = 0; i < cap; i++)
                np[(next + i) % (cap * 2)] = pending[(next + i) % cap];
            free(pending);
            pending = np;
            cap *= 2;
        }
        pending[it->seq % cap] = it;
        while (pending[next % cap]) {
            item *p = pending[next % cap];
            pending[next % cap] = NULL;
            t->checksum = mix(t->checksum ^ p->value) + p->seq;
            free(p);
            next++;
            t->received++;
            fp_stage_add_frames(st, 1);
            if (t->sink_extra_us)
                usleep(t->sink_extra_us);
        }
    }
    for (uint64_t i = 0; i < cap; i++)
        free(pending[i]);
    free(pending);
    t->sink_ret = ret;
    return ret;
}

/* Build and run the toy pipeline; returns the run's result, fills *t. */
static int run_toy(toy *t, int workers, int depth, fp_pipeline **keep)
{
    fp_pipeline *p;
    fp_stage *src, *w, *sink;
    int ret;
    fp_pipeline_alloc(&p, "toy.bin");
    fp_pipeline_queue(p, "items", depth, free, &t->a);
    fp_pipeline_queue(p, "hashed", depth, free, &t->b);
    fp_pipeline_add_stage(p, "source", source_fn, t, &src);
    fp_stage_add_output(src, t->a);
    for (int i = 0; i < workers; i++) {
        fp_pipeline_add_stage(p, "hash", worker_fn, t, &w);
        fp_stage_add_input(w, t->a);
        fp_stage_add_output(w, t->b);
        fp_stage_set_hint(w, "raise --workers");
    }
    fp_pipeline_add_stage(p, "sink", sink_fn, t, &sink);
    fp_stage_add_input(sink, t->b);
    ret = fp_pipeline_start(p);
    if (!ret) {
        fp_pipeline_opts o = { .watchdog_s = 10, .ignore_signals = 1 };
        ret = fp_pipeline_wait(p, &o);
    }
    if (keep)
        *keep = p;
    else
        fp_pipeline_freep(&p);
    return ret;
}

static void test_determinism(void)
{
    static const struct { int workers, depth; } cfg[] = { { 1, 1 }, { 4, 1 }, { 3, 7 }, { 8, 64 }, { 2, 1000 } };
    uint64_t ref = 0;
    for (size_t i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++) {
        toy t = { .n = 5000 };
        int ret = run_toy(&t, cfg[i].workers, cfg[i].depth, NULL);
        CHECK_EQ_INT(ret, 0);
        CHECK_EQ_INT(t.received, 5000);
        CHECK_EQ_INT(t.sink_ret, FP_EOF);
        if (i == 0)
            ref = t.checksum;
        CHECK_MSG(t.checksum == ref, "workers %d depth %d: checksum %016llx != %016llx", cfg[i].workers,
                  cfg[i].depth, (unsigned long long)t.checksum, (unsigned long long)ref);
    }
    CHECK(ref != 0);
}

static void test_error_propagation(void)
{
    fp_pipeline *p;
    toy t = { .n = 100000, .fail_at = 500 };
    int64_t t0 = fp_clock_ns();
    int ret = run_toy(&t, 3, 4, &p);
    CHECK_EQ_INT(ret, FP_EINPUT);
    CHECK_EQ_INT(fp_pipeline_err(p)->code, FP_EINPUT);
    CHECK_MSG(!strcmp(fp_pipeline_err(p)->msg, "toy.bin: hash: corrupt item 500"), "msg '%s'",
              fp_pipeline_err(p)->msg);
    CHECK(t.received < 100000);              /* the sink was stopped, not drained */
    CHECK_EQ_INT(t.sink_ret, FP_EINPUT);     /* it saw the abort code, not an EOF */
    CHECK((fp_clock_ns() - t0) < 5000000000LL);
    /* the failed stage's ret is reported in the stats */
    int failed = 0;
    for (int i = 0; i < fp_pipeline_nb_stages(p); i++) {
        fp_stage_stats s;
        fp_pipeline_stage_stats(p, i, &s);
        failed += s.ret == FP_EINPUT;
        CHECK(!s.running);
    }
    CHECK(failed >= 1);
    fp_pipeline_freep(&p);
    CHECK(p == NULL);
    fp_pipeline_freep(&p);
}

/* A stage that returns a code without filling its error gets a generic message. */
static int bare_fail_fn(fp_stage *st, void *o) { return FP_EDEVICE; }
static int idle_fn(fp_stage *st, void *o)
{
    fp_queue *q = o;
    void *it;
    return fp_stage_pop(st, q, &it); /* blocks until the abort */
}

static void test_generic_message(void)
{
    fp_pipeline *p;
    fp_queue *q;
    fp_pipeline_alloc(&p, "in.mp4");
    fp_pipeline_queue(p, "q", 2, NULL, &q);
    fp_pipeline_add_stage(p, "idle", idle_fn, q, NULL);
    fp_pipeline_add_stage(p, "upload", bare_fail_fn, NULL, NULL);
    fp_pipeline_start(p);
    CHECK_EQ_INT(fp_pipeline_wait(p, NULL), FP_EDEVICE);
    CHECK_MSG(!strcmp(fp_pipeline_err(p)->msg, "in.mp4: upload: GPU error"), "msg '%s'", fp_pipeline_err(p)->msg);
    fp_pipeline_freep(&p);
}

/* two stages fail on their own, 200 ms apart: the earlier message is the one reported */
static int fail_early_fn(fp_stage *st, void *o)
{
    usleep(50000);
    return fp_stage_fail(st, FP_EINPUT, "a.mp4: demux: truncated packet");
}

static int fail_late_fn(fp_stage *st, void *o)
{
    usleep(250000); /* ignores should_stop on purpose */
    return fp_stage_fail(st, FP_EIO, "b.webm: mux: write failed");
}

static void test_first_error_wins(void)
{
    fp_pipeline *p;
    fp_pipeline_alloc(&p, "two");
    fp_pipeline_add_stage(p, "late", fail_late_fn, NULL, NULL);   /* added first, fails second */
    fp_pipeline_add_stage(p, "early", fail_early_fn, NULL, NULL);
    fp_pipeline_start(p);
    CHECK_EQ_INT(fp_pipeline_wait(p, NULL), FP_EINPUT);
    CHECK(!strcmp(fp_pipeline_err(p)->msg, "a.mp4: demux: truncated packet"));
    fp_pipeline_freep(&p);
}

/* pushing into a queue the stage was not wired to is refused with a message, not a silent loss */
static int rogue_fn(fp_stage *st, void *o)
{
    int ret = fp_stage_push(st, (fp_queue *)o, (void *)1);
    return ret;
}

static void test_unwired_push(void)
{
    fp_pipeline *p;
    fp_queue *q;
    fp_pipeline_alloc(&p, "wiring");
    fp_pipeline_queue(p, "frames", 2, NULL, &q);
    fp_pipeline_add_stage(p, "rogue", rogue_fn, q, NULL);
    fp_pipeline_start(p);
    CHECK_EQ_INT(fp_pipeline_wait(p, NULL), FP_EINTERNAL);
    CHECK_MSG(!strcmp(fp_pipeline_err(p)->msg, "wiring: rogue: pushes to queue 'frames' without fp_stage_add_output()"),
              "'%s'", fp_pipeline_err(p)->msg);
    CHECK_EQ_INT(fp_queue_size(q), 0);
    fp_pipeline_freep(&p);
}

/* ---- watchdog ---- */

typedef struct stall {
    fp_queue *q;
    int polite;          /* 1: polls fp_stage_should_stop(); 0: ignores everything for a long time */
    atomic_int returned;
} stall;

static int stall_fn(fp_stage *st, void *opaque)
{
    stall *s = opaque;
    fp_stage_set_position(st, "stream 0, pts %.3f s", 12.48);
    for (int i = 0; i < (s->polite ? 1000 : 60); i++) {
        int stop;
        if (s->polite && (stop = fp_stage_should_stop(st))) {
            atomic_store(&s->returned, 1);
            return stop;
        }
        usleep(s->polite ? 10000 : 50000);
    }
    atomic_store(&s->returned, 1);
    return 0;
}

static int waiter_fn(fp_stage *st, void *opaque)
{
    stall *s = opaque;
    void *it;
    return fp_stage_pop(st, s->q, &it);
}

static void test_watchdog(int polite)
{
    fp_pipeline *p;
    fp_stage *dec;
    stall *s = calloc(1, sizeof(*s)); /* outlives the pipeline if the stage is left behind */
    int64_t t0 = fp_clock_ns();
    double took;
    /* a polite stage gets a long grace so it is always joined, even on a loaded machine */
    fp_pipeline_opts o = { .watchdog_s = 0.3, .stuck_grace_s = polite ? 10 : 0.3, .ignore_signals = 1 };
    int ret;
    s->polite = polite;
    fp_pipeline_alloc(&p, "stall.mkv");
    fp_pipeline_queue(p, "frames", 2, NULL, &s->q);
    fp_pipeline_add_stage(p, "decode", stall_fn, s, &dec);
    fp_stage_add_output(dec, s->q);
    fp_pipeline_add_stage(p, "encode", waiter_fn, s, NULL); /* blocked on input: not blamed */
    fp_pipeline_start(p);
    ret = fp_pipeline_wait(p, &o);
    took = (fp_clock_ns() - t0) * 1e-9;
    CHECK_EQ_INT(ret, FP_ETIMEOUT);
    CHECK_MSG(!strncmp(fp_pipeline_err(p)->msg, "stall.mkv: decode: stalled, no progress for ", 44) &&
                  strstr(fp_pipeline_err(p)->msg, "(at stream 0, pts 12.480 s)"),
              "msg '%s'", fp_pipeline_err(p)->msg);
    CHECK_EQ_INT(fp_exit_code(ret), FP_EXIT_TIMEOUT);
    if (polite) {
        CHECK(atomic_load(&s->returned));
        CHECK_MSG(took < 3.0, "took %.2f s", took);
    } else {
        /* the stuck stage (3 s of sleep) is left behind: wait() returns after watchdog + grace */
        CHECK(!atomic_load(&s->returned));
        CHECK_MSG(took < 2.0, "took %.2f s", took);
    }
    fp_pipeline_freep(&p);
    if (!polite) {
        /* the detached thread still holds the pipeline; let it finish so the process exits clean
         * (and ASan sees the pipeline freed by the last reference) */
        while (!atomic_load(&s->returned))
            usleep(20000);
        usleep(100000);
    }
    free(s);
}

/* a long wait bracketed by fp_stage_wait_begin/end is waiting, not a stall */
static int long_wait_fn(fp_stage *st, void *o)
{
    fp_stage_wait_begin(st, 0);
    usleep(700000);
    fp_stage_wait_end(st);
    fp_stage_add_frames(st, 1);
    return 0;
}

static void test_bracketed_wait(void)
{
    fp_pipeline *p;
    fp_stage_stats s;
    fp_pipeline_opts o = { .watchdog_s = 0.3, .ignore_signals = 1 };
    fp_pipeline_alloc(&p, "wait.mp4");
    fp_pipeline_add_stage(p, "mux", long_wait_fn, NULL, NULL);
    fp_pipeline_start(p);
    CHECK_EQ_INT(fp_pipeline_wait(p, &o), 0);
    fp_pipeline_stage_stats(p, 0, &s);
    CHECK(s.wait_in_s >= 0.65 && s.busy_s < 0.2);
    CHECK_EQ_INT(s.frames, 1);
    fp_pipeline_freep(&p);
}

/* ---- metrics ---- */

static void test_bottleneck(void)
{
    fp_pipeline *p;
    /* 100 x 5 ms of work behind a queue of 16: the source has 80 ms of slack to refill it, which
     * keeps the verdict stable on a loaded 2-core machine under TSan */
    toy t = { .n = 100, .work_us = 5000 };
    char verdict[1024];
    int idx;
    CHECK_EQ_INT(run_toy(&t, 1, 16, &p), 0);
    idx = fp_metrics_bottleneck(p, verdict, sizeof(verdict));
    CHECK_EQ_INT(idx, 1); /* the single hash worker */
    CHECK_MSG(!strncmp(verdict, "bottleneck: hash", 16) && strstr(verdict, "raise --workers") &&
                  strstr(verdict, "source waited") && strstr(verdict, "on its output 'items'"),
              "verdict '%s'", verdict);
    fp_stage_stats s;
    fp_pipeline_stage_stats(p, 1, &s);
    CHECK_EQ_INT(s.frames, 100);
    CHECK(s.busy_s >= 0.5);        /* 100 x 5 ms of sleep count as busy */
    CHECK(s.busy_s / s.wall_s > 0.5);
    CHECK_NEAR(s.busy_s + s.wait_in_s + s.wait_out_s, s.wall_s, 1e-6);
    fp_pipeline_stage_stats(p, 0, &s);
    CHECK(s.wait_out_s / s.wall_s > 0.4); /* back-pressure on the source */
    fp_metrics_table_print(p, stdout);
    fp_pipeline_freep(&p);
}

/* a pool of 3 slow workers is one group in the verdict and in the table */
static void test_pool_grouping(void)
{
    fp_pipeline *p;
    toy t = { .n = 60, .work_us = 5000 };
    char verdict[1024], *table = NULL;
    size_t tlen = 0;
    FILE *f;
    CHECK_EQ_INT(run_toy(&t, 3, 16, &p), 0);
    CHECK_EQ_INT(fp_metrics_bottleneck(p, verdict, sizeof(verdict)), 1);
    CHECK_MSG(!strncmp(verdict, "bottleneck: hash x3 (busy ", 26), "verdict '%s'", verdict);
    f = open_memstream(&table, &tlen);
    fp_metrics_table_print(p, f);
    fclose(f);
    CHECK_MSG(strstr(table, "\nhash x3 ") && strstr(table, "       60 ") &&
                  strstr(table, "queues (most items held / depth): items ") && strstr(table, "/16, hashed "),
              "table:\n%s", table);
    free(table);
    fp_pipeline_freep(&p);
}

int main(void)
{
    test_determinism();
    test_error_propagation();
    test_generic_message();
    test_first_error_wins();
    test_unwired_push();
    test_watchdog(1);
    test_watchdog(0);
    test_bracketed_wait();
    test_bottleneck();
    test_pool_grouping();
    return fp_test_finish("test_pipeline");
}
