/*
 * Unit tests for fp_queue: FIFO order, bounded blocking on both sides, close/EOF after draining,
 * abort waking blocked waiters, timeouts, producer counting, and many producers/consumers moving
 * every item exactly once (run it under TSan too: the pipeline.tsan test, when enabled).
 */
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

#include "core/fp_error.h"
#include "fp_test.h"
#include "pipeline/fp_clock.h"
#include "pipeline/fp_queue.h"

#define ITEM(i) ((void *)(uintptr_t)(i))

static void test_fifo_and_bounds(void)
{
    fp_queue *q;
    void *it;
    CHECK_EQ_INT(fp_queue_alloc(&q, 0, "zero", NULL), FP_EINVAL);
    CHECK(q == NULL);
    CHECK_EQ_INT(fp_queue_alloc(&q, 3, "fifo", NULL), 0);
    for (int i = 1; i <= 3; i++)
        CHECK_EQ_INT(fp_queue_push_timed(q, ITEM(i), 0), 0);
    CHECK_EQ_INT(fp_queue_size(q), 3);
    /* full: a try-push and a short timed push both give up without taking the item */
    CHECK_EQ_INT(fp_queue_push_timed(q, ITEM(4), 0), FP_EAGAIN);
    int64_t t0 = fp_clock_ns();
    CHECK_EQ_INT(fp_queue_push_timed(q, ITEM(4), 0.05), FP_EAGAIN);
    CHECK((fp_clock_ns() - t0) >= 45000000);
    CHECK_EQ_INT(fp_queue_push(q, NULL), FP_EINVAL);
    for (int i = 1; i <= 3; i++) {
        CHECK_EQ_INT(fp_queue_pop_timed(q, &it, 0), 0);
        CHECK(it == ITEM(i));
    }
    CHECK_EQ_INT(fp_queue_pop_timed(q, &it, 0.02), FP_EAGAIN);
    CHECK(it == NULL);
    fp_queue_stats st;
    fp_queue_get_stats(q, &st);
    CHECK_EQ_INT(st.pushed, 3);
    CHECK_EQ_INT(st.popped, 3);
    CHECK_EQ_INT(st.max_size, 3);
    CHECK(st.wait_push_s >= 0.04);
    CHECK(st.wait_pop_s >= 0.015);
    fp_queue_freep(&q);
    CHECK(q == NULL);
    fp_queue_freep(&q); /* NULL is a no-op */
    fp_queue_freep(NULL);
}

static void test_close_drains_then_eof(void)
{
    fp_queue *q;
    void *it;
    fp_queue_alloc(&q, 4, "close", NULL);
    fp_queue_push(q, ITEM(1));
    fp_queue_push(q, ITEM(2));
    fp_queue_close(q);
    CHECK_EQ_INT(fp_queue_push(q, ITEM(3)), FP_EOF);
    CHECK_EQ_INT(fp_queue_pop(q, &it), 0);
    CHECK(it == ITEM(1));
    CHECK_EQ_INT(fp_queue_pop(q, &it), 0);
    CHECK(it == ITEM(2));
    CHECK_EQ_INT(fp_queue_pop(q, &it), FP_EOF);
    CHECK_EQ_INT(fp_queue_pop(q, &it), FP_EOF); /* stays at EOF */
    fp_queue_freep(&q);
}

static void test_producer_counting(void)
{
    fp_queue *q;
    void *it;
    fp_queue_alloc(&q, 4, "producers", NULL);
    fp_queue_add_producer(q);
    fp_queue_add_producer(q);
    fp_queue_close(q); /* one of two producers done: still open */
    CHECK_EQ_INT(fp_queue_push(q, ITEM(7)), 0);
    CHECK_EQ_INT(fp_queue_pop(q, &it), 0);
    CHECK_EQ_INT(fp_queue_pop_timed(q, &it, 0), FP_EAGAIN);
    fp_queue_close(q);
    CHECK_EQ_INT(fp_queue_pop(q, &it), FP_EOF);
    fp_queue_freep(&q);
}

static int freed_count;
static void count_free(void *it) { (void)it; __atomic_add_fetch(&freed_count, 1, __ATOMIC_SEQ_CST); }

typedef struct blocker {
    fp_queue *q;
    int push;       /* 1: push into a full queue, 0: pop from an empty one */
    int ret;
    void *item;
} blocker;

static void *blocker_main(void *arg)
{
    blocker *b = arg;
    b->ret = b->push ? fp_queue_push(b->q, ITEM(99)) : fp_queue_pop(b->q, &b->item);
    return NULL;
}

static void test_abort_wakes_waiters(void)
{
    fp_queue *full, *empty;
    blocker bp, bc;
    pthread_t tp, tc;
    void *it;
    freed_count = 0;
    fp_queue_alloc(&full, 1, "full", count_free);
    fp_queue_alloc(&empty, 1, "empty", count_free);
    fp_queue_push(full, ITEM(1));
    bp = (blocker){ .q = full, .push = 1, .ret = 1 };
    bc = (blocker){ .q = empty, .push = 0, .ret = 1 };
    pthread_create(&tp, NULL, blocker_main, &bp);
    pthread_create(&tc, NULL, blocker_main, &bc);
    usleep(50000); /* both are blocked now (or about to be: abort is sticky, so either way it returns) */
    fp_queue_abort(full, FP_EINPUT);
    fp_queue_abort(empty, 0); /* non-negative becomes FP_EINTR */
    pthread_join(tp, NULL);
    pthread_join(tc, NULL);
    CHECK_EQ_INT(bp.ret, FP_EINPUT);
    CHECK_EQ_INT(bc.ret, FP_EINTR);
    CHECK(bc.item == NULL);
    /* abort wins over queued items and over close; the first code is kept */
    fp_queue_abort(full, FP_EIO);
    fp_queue_close(full);
    CHECK_EQ_INT(fp_queue_aborted(full), FP_EINPUT);
    CHECK_EQ_INT(fp_queue_pop(full, &it), FP_EINPUT);
    CHECK_EQ_INT(fp_queue_push(full, ITEM(2)), FP_EINPUT);
    fp_queue_freep(&full); /* frees the one item still queued */
    fp_queue_freep(&empty);
    CHECK_EQ_INT(freed_count, 1);
}

static void test_close_wakes_blocked_consumer(void)
{
    fp_queue *q;
    blocker bc;
    pthread_t tc;
    fp_queue_alloc(&q, 2, "wake", NULL);
    bc = (blocker){ .q = q, .push = 0, .ret = 1 };
    pthread_create(&tc, NULL, blocker_main, &bc);
    usleep(30000);
    fp_queue_close(q);
    pthread_join(tc, NULL);
    CHECK_EQ_INT(bc.ret, FP_EOF);
    fp_queue_freep(&q);
}

/* N producers push disjoint ranges, M consumers pop; every value must arrive exactly once and each
 * producer's values in order as seen by any one consumer (FIFO per producer). */
#define NPROD 4
#define NCONS 3
#define PER_PROD 20000
typedef struct mp_ctx {
    fp_queue *q;
    int id;
    unsigned char *seen;       /* shared, one byte per value, set with atomics */
    long long sum;
    int order_errors;
} mp_ctx;

static void *mp_producer(void *arg)
{
    mp_ctx *c = arg;
    for (int i = 0; i < PER_PROD; i++)
        if (fp_queue_push(c->q, ITEM(1 + c->id * PER_PROD + i)) < 0)
            break;
    fp_queue_close(c->q);
    return NULL;
}

static void *mp_consumer(void *arg)
{
    mp_ctx *c = arg;
    int last[NPROD];
    void *it;
    for (int i = 0; i < NPROD; i++)
        last[i] = -1;
    while (fp_queue_pop(c->q, &it) == 0) {
        int v = (int)(uintptr_t)it - 1, prod = v / PER_PROD, idx = v % PER_PROD;
        if (idx <= last[prod])
            c->order_errors++;
        last[prod] = idx;
        __atomic_add_fetch(&c->seen[v], 1, __ATOMIC_RELAXED);
        c->sum += v;
    }
    return NULL;
}

static void test_mpmc(void)
{
    fp_queue *q;
    pthread_t tp[NPROD], tc[NCONS];
    mp_ctx pc[NPROD], cc[NCONS];
    static unsigned char seen[NPROD * PER_PROD];
    long long sum = 0, want = (long long)NPROD * PER_PROD * (NPROD * PER_PROD - 1) / 2;
    int dup = 0, order = 0;
    fp_queue_alloc(&q, 5, "mpmc", NULL);
    for (int i = 0; i < NPROD; i++)
        fp_queue_add_producer(q);
    for (int i = 0; i < NCONS; i++) {
        cc[i] = (mp_ctx){ .q = q, .id = i, .seen = seen };
        pthread_create(&tc[i], NULL, mp_consumer, &cc[i]);
    }
    for (int i = 0; i < NPROD; i++) {
        pc[i] = (mp_ctx){ .q = q, .id = i, .seen = seen };
        pthread_create(&tp[i], NULL, mp_producer, &pc[i]);
    }
    for (int i = 0; i < NPROD; i++)
        pthread_join(tp[i], NULL);
    for (int i = 0; i < NCONS; i++) {
        pthread_join(tc[i], NULL);
        sum += cc[i].sum;
        order += cc[i].order_errors;
    }
    for (int i = 0; i < NPROD * PER_PROD; i++)
        dup += seen[i] != 1;
    CHECK_EQ_INT(dup, 0);
    CHECK_EQ_INT(order, 0);
    CHECK_EQ_INT(sum, want);
    CHECK_EQ_INT(fp_queue_size(q), 0);
    fp_queue_freep(&q);
}

int main(void)
{
    test_fifo_and_bounds();
    test_close_drains_then_eof();
    test_producer_counting();
    test_abort_wakes_waiters();
    test_close_wakes_blocked_consumer();
    test_mpmc();
    return fp_test_finish("test_queue");
}
