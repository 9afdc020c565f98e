/*
 * Fault injection (SQLite's habit): fail the Nth allocation made while a pipeline is being set up
 * (pipeline, queues, stages, wiring) for every N until set-up succeeds. Each failure must come back
 * as FP_ENOMEM from the call that hit it, fp_pipeline_freep() must then release everything (the ASan
 * build checks for leaks), and the set-up that finally succeeds must run to the right result.
 * malloc/calloc/realloc are wrapped at link time (-Wl,--wrap), so only calls from our objects count.
 */
#include <stdint.h>
#include <stdlib.h>

#include "core/fp_error.h"
#include "fp_test.h"
#include "pipeline/fp_pipeline.h"
#include "pipeline/fp_queue.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);

static int countdown = -1; /* -1: no injection; 0 fails the next allocation */
static int injected;

static int should_fail(void)
{
    if (countdown < 0)
        return 0;
    if (countdown-- == 0) {
        injected++;
        return 1;
    }
    return 0;
}

void *__wrap_malloc(size_t n) { return should_fail() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t m) { return should_fail() ? NULL : __real_calloc(n, m); }
void *__wrap_realloc(void *p, size_t n) { return should_fail() ? NULL : __real_realloc(p, n); }

typedef struct ctx {
    fp_queue *q1, *q2;
    int64_t sum;
} ctx;

static int src_fn(fp_stage *st, void *o)
{
    ctx *c = o;
    for (intptr_t i = 1; i <= 1000; i++) {
        int ret = fp_stage_push(st, c->q1, (void *)i);
        if (ret < 0)
            return ret;
    }
    return 0;
}

static int mid_fn(fp_stage *st, void *o)
{
    ctx *c = o;
    void *it;
    int ret;
    while ((ret = fp_stage_pop(st, c->q1, &it)) == 0)
        if ((ret = fp_stage_push(st, c->q2, it)) < 0)
            return ret;
    return ret;
}

static int sink_fn(fp_stage *st, void *o)
{
    ctx *c = o;
    void *it;
    int ret;
    while ((ret = fp_stage_pop(st, c->q2, &it)) == 0)
        c->sum += (intptr_t)it;
    return ret;
}

/* The set-up sequence a command performs; returns the first error. */
static int setup(fp_pipeline **pp, ctx *c)
{
    fp_stage *s1, *s2, *s2b, *s3;
    int ret;
    if ((ret = fp_pipeline_alloc(pp, "faults.mp4")) < 0)
        return ret;
    if ((ret = fp_pipeline_queue(*pp, "q1", 4, NULL, &c->q1)) < 0 ||
        (ret = fp_pipeline_queue(*pp, "q2", 4, NULL, &c->q2)) < 0 ||
        (ret = fp_pipeline_add_stage(*pp, "src", src_fn, c, &s1)) < 0 ||
        (ret = fp_pipeline_add_stage(*pp, "mid", mid_fn, c, &s2)) < 0 ||
        (ret = fp_pipeline_add_stage(*pp, "mid", mid_fn, c, &s2b)) < 0 ||
        (ret = fp_pipeline_add_stage(*pp, "sink", sink_fn, c, &s3)) < 0 ||
        (ret = fp_stage_add_output(s1, c->q1)) < 0 ||
        (ret = fp_stage_add_input(s2, c->q1)) < 0 ||
        (ret = fp_stage_add_output(s2, c->q2)) < 0 ||
        (ret = fp_stage_add_input(s2b, c->q1)) < 0 ||
        (ret = fp_stage_add_output(s2b, c->q2)) < 0 ||
        (ret = fp_stage_add_input(s3, c->q2)) < 0)
        return ret;
    return 0;
}

int main(void)
{
    int n, failures = 0, wrong_code = 0;
    for (n = 0; n < 200; n++) {
        fp_pipeline *p = NULL;
        ctx c = { 0 };
        int ret;
        injected = 0;
        countdown = n;
        ret = setup(&p, &c);
        countdown = -1;
        if (!injected) {
            /* set-up needed fewer than n+1 allocations: it must work end to end now */
            CHECK_EQ_INT(ret, 0);
            if (!ret) {
                CHECK_EQ_INT(fp_pipeline_start(p), 0);
                CHECK_EQ_INT(fp_pipeline_wait(p, &(fp_pipeline_opts){ .ignore_signals = 1 }), 0);
                CHECK_EQ_INT(c.sum, 1000 * 1001 / 2);
            }
            fp_pipeline_freep(&p);
            break;
        }
        failures++;
        if (ret != FP_ENOMEM)
            wrong_code++;
        fp_pipeline_freep(&p);
    }
    printf("set-up survived %d injected allocation failures before succeeding\n", failures);
    CHECK(failures >= 5);     /* the set-up does allocate: the injection really happened */
    CHECK(n < 200);
    CHECK_EQ_INT(wrong_code, 0);
    return fp_test_finish("test_faults");
}
