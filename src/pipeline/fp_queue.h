/*
 * fp_queue — a bounded, blocking, multi-producer multi-consumer queue of pointers: the link between
 * two pipeline stages.
 *
 * Owns: the ring of item pointers, the blocking (push waits while full, pop waits while empty), the
 * end-of-stream and abort states, and per-side waiting-time totals. Does not own what the items
 * point to, except at fp_queue_freep() time where items still queued are released with the item_free
 * callback given at allocation (so an aborted pipeline does not leak frames).
 *
 * States, in the GStreamer habit of keeping end-of-stream apart from errors:
 *  - open: push/pop block as needed.
 *  - closed (fp_queue_close() by every producer): push returns FP_EOF; pop drains what is queued,
 *    then returns FP_EOF.
 *  - aborted (fp_queue_abort(code)): push and pop return `code` at once (not draining); used when a
 *    stage failed or the user interrupted. Abort wins over close.
 * Producer counting: each fp_queue_add_producer() raises the number of fp_queue_close() calls needed
 * to close the queue; with no producer registered a single close closes it. fp_stage_add_output()
 * registers its stage as a producer, so a queue fed by N encoder stages closes when the last finishes.
 *
 * Thread-safety: every function may be called from any thread, except fp_queue_freep().
 */
#ifndef FP_QUEUE_H
#define FP_QUEUE_H

#include <stddef.h>
#include <stdint.h>

typedef struct fp_queue fp_queue;

typedef struct fp_queue_stats {
    uint64_t pushed, popped;
    size_t capacity, size, max_size;  /* max_size: highest fill seen */
    double wait_push_s;               /* total time producers were blocked (queue full) */
    double wait_pop_s;                /* total time consumers were blocked (queue empty) */
} fp_queue_stats;

/* Allocate a queue holding at most `capacity` (>= 1) items. name (copied, may be NULL) appears in
 * logs and error messages. item_free (may be NULL) releases items left in the queue at free time.
 * Returns 0, FP_EINVAL (capacity 0) or FP_ENOMEM; on error *pq is NULL. The caller frees with
 * fp_queue_freep(). */
int fp_queue_alloc(fp_queue **pq, size_t capacity, const char *name, void (*item_free)(void *item));

/* Free the queue and every item still in it (through item_free). No thread may be using it.
 * *pq is set to NULL; NULL or *pq == NULL is a no-op. */
void fp_queue_freep(fp_queue **pq);

/* Push item, blocking while the queue is full. Returns 0 (the queue now owns item), FP_EOF (queue
 * closed) or the abort code; on any non-zero return the caller still owns item. NULL items are
 * refused with FP_EINVAL (NULL would be ambiguous for consumers). */
int fp_queue_push(fp_queue *q, void *item);

/* Pop the oldest item into *item, blocking while empty. Returns 0 (caller owns *item), FP_EOF (closed
 * and drained) or the abort code; *item is NULL on any non-zero return. */
int fp_queue_pop(fp_queue *q, void **item);

/* Timed variants: give up after timeout_s seconds with FP_EAGAIN (timeout_s < 0 waits forever,
 * 0 only tries). Used by watchdog-aware loops and tests. */
int fp_queue_push_timed(fp_queue *q, void *item, double timeout_s);
int fp_queue_pop_timed(fp_queue *q, void **item, double timeout_s);

/* Register one more producer (see the header comment). */
void fp_queue_add_producer(fp_queue *q);

/* One producer is done. When every registered producer has closed (or none was registered), the
 * queue is closed and every waiter wakes. */
void fp_queue_close(fp_queue *q);

/* Abort: push and pop return `code` (a negative FP_E* code; 0 or positive becomes FP_EINTR) from
 * now on, waking every waiter. The first abort code is kept. Items stay queued until freep. */
void fp_queue_abort(fp_queue *q, int code);

/* 0 while open or closed-not-aborted, else the abort code. */
int fp_queue_aborted(const fp_queue *q);

size_t fp_queue_size(const fp_queue *q);
const char *fp_queue_name(const fp_queue *q);
void fp_queue_get_stats(const fp_queue *q, fp_queue_stats *st);

#endif
