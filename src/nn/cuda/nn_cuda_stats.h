/*
 * nn_cuda_stats — process-wide counters of the CUDA backend, for benches and logs: how many node runs
 * stored their float output in fp32, fp16 or bf16 (so a bench can say which precision really ran), and
 * how many runs were replayed from CUDA graphs. C-callable; counters only grow.
 *
 * Owns: the counters. Does not own timing or memory accounting (the bench measures those itself).
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

#ifdef __cplusplus
}
#endif

#endif
