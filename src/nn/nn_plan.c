/*
 * nn_plan — greedy best-fit arena placement (see nn_plan.h).
 *
 * Buffers are placed largest first (ties: earlier first step), each into the smallest gap between
 * already-placed buffers whose lifetimes overlap its own, or at the top of those. This is the usual
 * "greedy by size" heuristic of TFLite/ONNX Runtime's planners: within a few percent of the lower bound
 * (the largest sum of sizes live at one step) on real CNNs, O(n^2) in the number of buffers.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>

#include "nn/nn_plan.h"

typedef struct placed {
    size_t off, end;
} placed;

static int by_size_desc(const void *a, const void *b, void *ctx)
{
    const nn_buf_req *base = ctx;
    const nn_buf_req *x = &base[*(const int *)a], *y = &base[*(const int *)b];
    if (x->size != y->size)
        return x->size > y->size ? -1 : 1;
    if (x->first != y->first)
        return x->first < y->first ? -1 : 1;
    return *(const int *)a - *(const int *)b;
}

static int by_off(const void *a, const void *b)
{
    const placed *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

static size_t align64(size_t x)
{
    return (x + 63) & ~(size_t)63;
}

long long nn_plan_arena(nn_buf_req *req, int n)
{
    if (n <= 0)
        return 0;
    int *order = malloc((size_t)n * sizeof(int));
    int *done = calloc((size_t)n, sizeof(int));
    placed *live = malloc((size_t)n * sizeof(placed));
    if (!order || !done || !live) {
        free(order);
        free(done);
        free(live);
        return -1;
    }
    for (int i = 0; i < n; i++)
        order[i] = i;
    qsort_r(order, (size_t)n, sizeof(int), by_size_desc, req);
    size_t total = 0;
    for (int oi = 0; oi < n; oi++) {
        nn_buf_req *r = &req[order[oi]];
        size_t sz = align64(r->size ? r->size : 1);
        int nl = 0;
        for (int pj = 0; pj < oi; pj++) {
            const nn_buf_req *p = &req[order[pj]];
            if (p->first <= r->last && r->first <= p->last)
                live[nl++] = (placed){ p->offset, p->offset + align64(p->size ? p->size : 1) };
        }
        qsort(live, (size_t)nl, sizeof(placed), by_off);
        size_t best = SIZE_MAX, best_gap = SIZE_MAX, cur = 0;
        for (int k = 0; k < nl; k++) {
            if (live[k].off > cur) {
                size_t gap = live[k].off - cur;
                if (gap >= sz && gap < best_gap) {
                    best_gap = gap;
                    best = cur;
                }
            }
            if (live[k].end > cur)
                cur = live[k].end;
        }
        if (best == SIZE_MAX)
            best = cur;
        r->offset = best;
        done[order[oi]] = 1;
        if (best + sz > total)
            total = best + sz;
    }
    free(order);
    free(done);
    free(live);
    return (long long)total;
}
