/*
 * fp_queue — bounded blocking MPMC pointer queue. See fp_queue.h for the state machine.
 *
 * One mutex and two condition variables (not_full for producers, not_empty for consumers), both on
 * CLOCK_MONOTONIC. Waiting time is measured only when a call actually blocks, so an uncontended
 * queue costs one lock/unlock per item and no clock reads.
 */
#include "pipeline/fp_queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fp_error.h"
#include "pipeline/fp_clock.h"

struct fp_queue {
    pthread_mutex_t lock;
    pthread_cond_t not_full, not_empty;
    void **items;
    size_t cap, head, count, max_count;
    int producers;      /* registered producers not yet closed */
    int closed;
    int abort_code;     /* 0 or negative */
    void (*item_free)(void *item);
    uint64_t pushed, popped;
    int64_t wait_push_ns, wait_pop_ns;
    char name[64];
};

static int cond_init_monotonic(pthread_cond_t *c)
{
    pthread_condattr_t a;
    int r;
    if (pthread_condattr_init(&a))
        return FP_ENOMEM;
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    r = pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
    return r ? FP_ENOMEM : 0;
}

int fp_queue_alloc(fp_queue **pq, size_t capacity, const char *name, void (*item_free)(void *item))
{
    fp_queue *q;
    *pq = NULL;
    if (capacity == 0)
        return FP_EINVAL;
    q = calloc(1, sizeof(*q));
    if (!q)
        return FP_ENOMEM;
    q->items = calloc(capacity, sizeof(*q->items));
    if (!q->items) {
        free(q);
        return FP_ENOMEM;
    }
    q->cap = capacity;
    q->item_free = item_free;
    snprintf(q->name, sizeof(q->name), "%s", name ? name : "queue");
    pthread_mutex_init(&q->lock, NULL);
    if (cond_init_monotonic(&q->not_full) < 0 || cond_init_monotonic(&q->not_empty) < 0) {
        free(q->items);
        free(q);
        return FP_ENOMEM;
    }
    *pq = q;
    return 0;
}

void fp_queue_freep(fp_queue **pq)
{
    fp_queue *q = pq ? *pq : NULL;
    if (!q)
        return;
    for (size_t i = 0; i < q->count; i++) {
        void *it = q->items[(q->head + i) % q->cap];
        if (q->item_free)
            q->item_free(it);
    }
    pthread_cond_destroy(&q->not_full);
    pthread_cond_destroy(&q->not_empty);
    pthread_mutex_destroy(&q->lock);
    free(q->items);
    free(q);
    *pq = NULL;
}

/* Wait on c until pred-changing broadcast or deadline. Returns 0 or ETIMEDOUT. */
static int wait_on(fp_queue *q, pthread_cond_t *c, const struct timespec *deadline)
{
    if (!deadline) {
        pthread_cond_wait(c, &q->lock);
        return 0;
    }
    return pthread_cond_timedwait(c, &q->lock, deadline) == ETIMEDOUT ? ETIMEDOUT : 0;
}

int fp_queue_push_timed(fp_queue *q, void *item, double timeout_s)
{
    struct timespec dl;
    int64_t t0 = 0;
    int ret = 0;
    if (!item)
        return FP_EINVAL;
    if (timeout_s >= 0)
        dl = fp_clock_deadline(timeout_s);
    pthread_mutex_lock(&q->lock);
    while (!q->abort_code && !q->closed && q->count == q->cap) {
        if (!t0)
            t0 = fp_clock_ns();
        if (timeout_s == 0 || wait_on(q, &q->not_full, timeout_s > 0 ? &dl : NULL) == ETIMEDOUT) {
            if (!q->abort_code && !q->closed && q->count == q->cap)
                ret = FP_EAGAIN;
            break;
        }
    }
    if (t0)
        q->wait_push_ns += fp_clock_ns() - t0;
    if (q->abort_code)
        ret = q->abort_code;
    else if (q->closed)
        ret = FP_EOF;
    if (!ret) {
        q->items[(q->head + q->count) % q->cap] = item;
        q->count++;
        q->pushed++;
        if (q->count > q->max_count)
            q->max_count = q->count;
        pthread_cond_signal(&q->not_empty);
    }
    pthread_mutex_unlock(&q->lock);
    return ret;
}

int fp_queue_pop_timed(fp_queue *q, void **item, double timeout_s)
{
    struct timespec dl;
    int64_t t0 = 0;
    int ret = 0;
    *item = NULL;
    if (timeout_s >= 0)
        dl = fp_clock_deadline(timeout_s);
    pthread_mutex_lock(&q->lock);
    while (!q->abort_code && !q->closed && q->count == 0) {
        if (!t0)
            t0 = fp_clock_ns();
        if (timeout_s == 0 || wait_on(q, &q->not_empty, timeout_s > 0 ? &dl : NULL) == ETIMEDOUT) {
            if (!q->abort_code && !q->closed && q->count == 0)
                ret = FP_EAGAIN;
            break;
        }
    }
    if (t0)
        q->wait_pop_ns += fp_clock_ns() - t0;
    if (q->abort_code)
        ret = q->abort_code;
    else if (!ret && q->count == 0)
        ret = FP_EOF; /* closed and drained */
    if (!ret) {
        *item = q->items[q->head];
        q->items[q->head] = NULL;
        q->head = (q->head + 1) % q->cap;
        q->count--;
        q->popped++;
        pthread_cond_signal(&q->not_full);
    }
    pthread_mutex_unlock(&q->lock);
    return ret;
}

int fp_queue_push(fp_queue *q, void *item) { return fp_queue_push_timed(q, item, -1); }
int fp_queue_pop(fp_queue *q, void **item) { return fp_queue_pop_timed(q, item, -1); }

void fp_queue_add_producer(fp_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->producers++;
    pthread_mutex_unlock(&q->lock);
}

void fp_queue_close(fp_queue *q)
{
    pthread_mutex_lock(&q->lock);
    if (q->producers > 0)
        q->producers--;
    if (q->producers == 0 && !q->closed) {
        q->closed = 1;
        pthread_cond_broadcast(&q->not_full);
        pthread_cond_broadcast(&q->not_empty);
    }
    pthread_mutex_unlock(&q->lock);
}

void fp_queue_abort(fp_queue *q, int code)
{
    pthread_mutex_lock(&q->lock);
    if (!q->abort_code) {
        q->abort_code = code < 0 ? code : FP_EINTR;
        pthread_cond_broadcast(&q->not_full);
        pthread_cond_broadcast(&q->not_empty);
    }
    pthread_mutex_unlock(&q->lock);
}

int fp_queue_aborted(const fp_queue *cq)
{
    fp_queue *q = (fp_queue *)cq;
    int r;
    pthread_mutex_lock(&q->lock);
    r = q->abort_code;
    pthread_mutex_unlock(&q->lock);
    return r;
}

size_t fp_queue_size(const fp_queue *cq)
{
    fp_queue *q = (fp_queue *)cq;
    size_t n;
    pthread_mutex_lock(&q->lock);
    n = q->count;
    pthread_mutex_unlock(&q->lock);
    return n;
}

const char *fp_queue_name(const fp_queue *q) { return q->name; }

void fp_queue_get_stats(const fp_queue *cq, fp_queue_stats *st)
{
    fp_queue *q = (fp_queue *)cq;
    pthread_mutex_lock(&q->lock);
    st->pushed = q->pushed;
    st->popped = q->popped;
    st->capacity = q->cap;
    st->size = q->count;
    st->max_size = q->max_count;
    st->wait_push_s = q->wait_push_ns * 1e-9;
    st->wait_pop_s = q->wait_pop_ns * 1e-9;
    pthread_mutex_unlock(&q->lock);
}
