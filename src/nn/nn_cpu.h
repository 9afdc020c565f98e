/*
 * nn_cpu — creation and lifetime of the CPU execution context (nn_cpu_ctx) that op kernels receive:
 * a persistent worker-thread pool and a per-kernel scratch arena.
 *
 * Owns: the pool threads and the scratch buffer. Does not own what kernels compute; the accessors
 * kernels use (threads, scratch, parallel_for) are declared in nn_op.h.
 * Not thread-safe: one context runs one kernel at a time (the runtime serialises runs per model).
 */
#ifndef NN_CPU_H
#define NN_CPU_H

#include "core/fp_error.h"
#include "nn/nn_op.h"

/* Create a context with `threads` workers (0 = online cores, capped at 64). *ctx owned by the caller,
 * freed with nn_cpu_ctx_freep(). On failure *ctx is NULL and nothing leaks. */
int nn_cpu_ctx_create(nn_cpu_ctx **ctx, int threads, fp_err *e);
/* Join the workers, free scratch, set *ctx to NULL. NULL or *ctx == NULL is a no-op. */
void nn_cpu_ctx_freep(nn_cpu_ctx **ctx);
/* Mark scratch as free again (called by the backend after each kernel). */
void nn_cpu_ctx_scratch_reset(nn_cpu_ctx *ctx);
/* Test aid: when on, every scratch block handed out is filled with 0xff bytes (NaN as float), so a
 * kernel that reads scratch before writing it shows up in its tests. Off by default. */
void nn_cpu_ctx_set_poison(nn_cpu_ctx *ctx, int on);
/* Keep the BLAS library (OpenBLAS, process-global) single-threaded: GEMMs are cut into blocks by
 * shape and spread over this context's threads (opsb_sgemm), so --threads / fp_model_opts.threads
 * bounds every thread a run uses and results do not depend on it. Called by the CPU backend before
 * each kernel (and by nn_cpu_ctx_create); a no-op once set, or when built without OpenBLAS. */
void nn_cpu_ctx_bind_blas(const nn_cpu_ctx *ctx);

#endif
