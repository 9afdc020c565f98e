/*
 * nn_cuda_stats — process-wide counters of the CUDA backend, for benches and logs: how many node runs
 * stored their float output in fp32, fp16 or bf16 (so a bench can say which precision really ran), and
 * how many runs were replayed from CUDA graphs. C-callable; counters only grow. Plus an opt-in
 * per-node profile: with it on, every node run outside a graph capture is bracketed by CUDA events
 * and its GPU time is added to a process-wide table (one entry per node name and op type) when the
 * stream is next synchronised. A gate kernel holds the stream until the run is enqueued, so nodes run
 * back to back and host launch latency is not counted as GPU time. Replayed graphs run no nodes one
 * by one: profile with graphs off.
 *
 * Owns: the counters and the profile table. Does not own memory accounting (the bench measures it).
 */
#ifndef NN_CUDA_STATS_H
#define NN_CUDA_STATS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nn_cuda_stats {
    uint64_t nodes_fp32;      /* node runs whose first output was float32 */
    uint64_t nodes_fp16;      /* ... float16 */
    uint64_t nodes_bf16;      /* ... bfloat16 */
    uint64_t nodes_other;     /* integer/bool outputs */
    uint64_t graph_replays;   /* run_begin calls answered by replaying a captured graph */
    uint64_t graph_captures;  /* graphs captured and instantiated */
} nn_cuda_stats;

/* Copy the current counters into *st. Never fails. */
void nn_cuda_stats_get(nn_cuda_stats *st);

typedef struct nn_cuda_prof_entry {
    char name[96];            /* node name (truncated) */
    char op_type[32];
    double ms;                /* GPU time summed over runs */
    uint64_t runs;
} nn_cuda_prof_entry;

/* Turn per-node timing on/off (process-wide; costs two events and a record per node). */
void nn_cuda_profile_enable(int on);
/* Forget what was measured. */
void nn_cuda_profile_reset(void);
/* Copy up to max entries (in first-run order) into out; returns how many there are in all. */
int nn_cuda_profile_get(nn_cuda_prof_entry *out, int max);

#ifdef __cplusplus
}
#endif

#endif
