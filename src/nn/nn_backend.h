/*
 * nn_backend — the small interface every execution backend implements (ggml-style struct of function
 * pointers). The runtime (nn_runtime.c) asks supports_op() for every node of a plan; an unsupported
 * node fails the load with the op's name, or, with allow_cpu_fallback, runs on the CPU reference with
 * one warning. Never silently skipped.
 *
 * Owns: the interface only. Implementations: backends/cpu (nn_backend_cpu.c), cuda (src/nn/cuda/).
 *
 * Tensors passed to a backend live in that backend's memory (nn_tensor.device). The runtime copies at
 * graph boundaries only (inputs/outputs given in another device's memory, CPU-fallback islands).
 */
#ifndef NN_BACKEND_H
#define NN_BACKEND_H

#include "core/fp_error.h"
#include "nn/nn_op.h"

typedef enum nn_precision {
    NN_PREC_FP32 = 0,
    NN_PREC_FP16 = 1,   /* fp16 storage, fp32 accumulation */
    NN_PREC_BF16 = 2,
} nn_precision;

typedef struct nn_backend_opts {
    int threads;               /* CPU: worker threads (0 = cores) */
    int device_id;             /* CUDA: device ordinal */
    nn_precision precision;    /* CUDA: compute precision of float tensors */
    void *cuda_stream;         /* CUDA: caller's cudaStream_t to run on (NULL = backend creates one) */
    int use_cuda_graph;        /* CUDA: capture a fixed-shape run as a graph and replay it */
} nn_backend_opts;

typedef struct nn_backend_ctx nn_backend_ctx; /* backend-private */

typedef struct nn_backend {
    const char *name;          /* "cpu", "cuda" */
    nn_device device;

    /* Create/destroy a backend instance. free(NULL) is a no-op. */
    int (*init)(nn_backend_ctx **ctx, const nn_backend_opts *opts, fp_err *e);
    void (*free)(nn_backend_ctx *ctx);

    /* Can this backend run node n with these input/output dtypes and shapes? Returns 1 or 0; when 0,
     * *why (static string) may say why ("dtype int8", "mode cubic"). */
    int (*supports_op)(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                       nn_tensor *const *out, int nout, const char **why);

    /* Device memory. alloc returns 0 or FP_ENOMEM/FP_EDEVICE; free(NULL) is a no-op. */
    int (*alloc)(nn_backend_ctx *ctx, size_t bytes, void **ptr, fp_err *e);
    void (*free_mem)(nn_backend_ctx *ctx, void *ptr);
    /* Copy bytes between host and this backend's memory (dst_dev/src_dev say which side is which).
     * Asynchronous on the backend's stream; sync() waits. */
    int (*copy)(nn_backend_ctx *ctx, void *dst, nn_device dst_dev, const void *src, nn_device src_dev,
                size_t bytes, fp_err *e);

    /* Called once per (node, plan) after shapes are known, before the first run of that plan (and again
     * whenever the runtime switches to another cached plan, since backend_data is per node): pick
     * algorithms, convert/upload weights (constant inputs are host tensors: device NN_DEV_HOST with
     * data; every other tensor is in this backend's memory), size workspaces. May store state in
     * n->backend_data (released by release_node). Optional. */
    int (*prepare_node)(nn_backend_ctx *ctx, nn_node *n, nn_tensor *const *in, int nin,
                        nn_tensor *const *out, int nout, fp_err *e);
    void (*release_node)(nn_backend_ctx *ctx, nn_node *n);

    /* Run one node. Inputs/outputs are in this backend's memory with shapes set. */
    int (*run_node)(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                    nn_tensor **out, int nout, fp_err *e);

    /* Optional: begin/end capture of a whole run (CUDA graph). begin returns 1 if a captured graph was
     * replayed instead (the caller then skips run_node calls), 0 to record, <0 on error. */
    int (*run_begin)(nn_backend_ctx *ctx, uint64_t plan_key, fp_err *e);
    int (*run_end)(nn_backend_ctx *ctx, uint64_t plan_key, fp_err *e);

    /* Wait for all queued work. */
    int (*sync)(nn_backend_ctx *ctx, fp_err *e);
} nn_backend;

extern const nn_backend nn_backend_cpu;
#ifdef FP_HAVE_CUDA
extern const nn_backend nn_backend_cuda;
#endif

/* Find a backend by name ("cpu", "cuda", or one registered below); NULL if not built in. */
const nn_backend *nn_backend_find(const char *name);
/* Make an out-of-tree backend findable by name (tests use a simulated device backend). be must outlive
 * its use. Returns 0, or FP_ENOMEM when the table (8) is full. */
int nn_backend_register(const nn_backend *be);

#endif
