/*
 * nn_plan — the memory planner: given buffers with sizes and lifetimes (first and last step that
 * touches them), place them in one arena so that buffers alive at the same step never overlap.
 *
 * Owns: the placement algorithm only (greedy best-fit, largest buffers first). Does not own the arena's
 * memory (the runtime allocates it on the backend) nor lifetimes (the runtime computes them).
 */
#ifndef NN_PLAN_H
#define NN_PLAN_H

#include <stddef.h>

typedef struct nn_buf_req {
    size_t size;     /* bytes; placed at 64-byte alignment */
    int first, last; /* inclusive step range during which the buffer must stay intact */
    size_t offset;   /* out: byte offset in the arena */
} nn_buf_req;

/* Place n buffers; returns the arena size needed (0 when n == 0). -1 on allocation failure. */
long long nn_plan_arena(nn_buf_req *req, int n);

#endif
