/*
 * nn_cuda — private header of the CUDA backend (C++/CUDA only; never included by C code).
 *
 * Owns: the backend instance (nn_backend_ctx: device, stream, cuDNN/cuBLAS handles, shared
 * workspace, CUDA-graph cache), the per-node state every op gets (cu_node: constants uploaded in the
 * node's storage dtype, host copies of value inputs), the op table entry type (cu_op), error macros
 * that turn CUDA/cuDNN/cuBLAS status codes into FP_EDEVICE messages naming the node, and the
 * device-side load/store helpers that give every kernel fp32 arithmetic over float/half/bf16 storage.
 * Does not own any op: each op family lives in its own .cu file and exports its cu_op entries.
 *
 * Storage rule (docs/cuda.md): a tensor's dtype is the truth about its bytes. The backend computes
 * in fp32 registers whatever the storage (float, float16, bfloat16); reductions, Softmax and
 * normalisations accumulate in fp32. The runtime chooses float16/bfloat16 storage for float values
 * when nn_backend_opts.precision asks for it and converts at graph boundaries with Cast (which this
 * backend runs on the device).
 */
#ifndef NN_CUDA_H
#define NN_CUDA_H

#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#include <cudnn.h>
#include <cublas_v2.h>
#include <stdint.h>

extern "C" {
#include "core/fp_error.h"
#include "nn/nn_backend.h"
#include "nn/nn_op.h"
#include "nn/nn_tensor.h"
}

#define CU_MAX_IN 16
#define CU_GRAPH_CACHE 16

typedef struct cu_graph_entry {
    uint64_t key;
    uint64_t gen;                /* ctx->prep_gen when captured */
    cudaGraphExec_t exec;
} cu_graph_entry;

struct nn_backend_ctx {
    int device;
    nn_precision precision;
    cudaStream_t stream;
    int own_stream;
    cudnnHandle_t cudnn;
    cublasHandle_t cublas;
    void *cublas_ws;             /* fixed cuBLAS workspace: graph capture forbids cuBLAS allocating */
    size_t cublas_ws_size;
    void *ws;                    /* shared op workspace (cuDNN), grown in prepare_node only */
    size_t ws_size;
    int use_graph;
    int capturing;               /* run_begin started a capture that run_end must finish */
    uint64_t capture_key;
    cu_graph_entry graphs[CU_GRAPH_CACHE];
    int ngraphs;
    int graph_next;              /* round-robin eviction slot */
    uint64_t prep_gen;           /* bumped by every prepare_node: plans may have changed */
    /* per-node profile (nn_cuda_profile_enable): event pairs of node runs not yet read back */
    cudaEvent_t *prof_ev;        /* 2 per slot */
    const nn_node **prof_node;
    int prof_cap, prof_n;
    int *prof_gate;              /* mapped host flag holding the stream until a run is enqueued */
    int prof_gated;              /* a gate kernel is waiting on prof_gate */
};

/* Per-node, per-plan state (n->backend_data is a list of them, one per signature). Everything here
 * is created in prepare_node, outside any graph capture, and freed in release_node. */
typedef struct cu_node {
    const struct cu_op *op;
    uint64_t sig;                /* dtypes/shapes (and value-input values) this state was made for */
    struct cu_node *next;        /* the same node prepared for other plans */
    void *cdev[CU_MAX_IN];       /* device copy of constant input i in the node's storage dtype */
    nn_dtype cdt[CU_MAX_IN];     /* dtype of cdev[i] */
    nn_tensor host[CU_MAX_IN];   /* host copy of constant input i (owned data), dtype as given */
    int has_host[CU_MAX_IN];
    void *priv;                  /* op-private state */
    void (*priv_free)(nn_backend_ctx *ctx, void *priv);
} cu_node;

/* One op of this backend. supports: 1/0 (+why). prepare: optional extra work after the generic
 * constant upload (cuDNN descriptors, algorithm choice). run: enqueue kernels on ctx->stream only. */
typedef struct cu_op {
    const char *op_type;
    int (*supports)(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                    nn_tensor *const *out, int nout, const char **why);
    int (*prepare)(nn_backend_ctx *ctx, nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                   nn_tensor *const *out, int nout, fp_err *e);
    int (*run)(nn_backend_ctx *ctx, const nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
               nn_tensor **out, int nout, fp_err *e);
    /* Bit i set: input i's value is needed on the host (shape, axes, pads...); it must be constant. */
    unsigned value_inputs;
} cu_op;

/* Op tables exported by the op files (NULL-terminated op_type). */
extern const cu_op cu_ops_elementwise[];
extern const cu_op cu_ops_shape[];
extern const cu_op cu_ops_conv[];
extern const cu_op cu_ops_gemm[];
extern const cu_op cu_ops_pool[];
extern const cu_op cu_ops_reduce[];
extern const cu_op cu_ops_resize[];
extern const cu_op cu_ops_gridsample[];
extern const cu_op cu_ops_topk[];

/* ---- errors ---- */
int cu_err_cuda(fp_err *e, const nn_node *n, cudaError_t st, const char *what);
int cu_err_cudnn(fp_err *e, const nn_node *n, cudnnStatus_t st, const char *what);
int cu_err_cublas(fp_err *e, const nn_node *n, cublasStatus_t st, const char *what);

#define CU_CHECK(e, n, call)                                                              \
    do {                                                                                  \
        cudaError_t cu_st_ = (call);                                                      \
        if (cu_st_ != cudaSuccess)                                                        \
            return cu_err_cuda((e), (n), cu_st_, #call);                                  \
    } while (0)
#define CUDNN_CHECK(e, n, call)                                                           \
    do {                                                                                  \
        cudnnStatus_t cu_st_ = (call);                                                    \
        if (cu_st_ != CUDNN_STATUS_SUCCESS)                                               \
            return cu_err_cudnn((e), (n), cu_st_, #call);                                 \
    } while (0)
#define CUBLAS_CHECK(e, n, call)                                                          \
    do {                                                                                  \
        cublasStatus_t cu_st_ = (call);                                                   \
        if (cu_st_ != CUBLAS_STATUS_SUCCESS)                                              \
            return cu_err_cublas((e), (n), cu_st_, #call);                                \
    } while (0)
/* After a kernel launch: launch-configuration errors surface here, without synchronising. */
#define CU_LAUNCH_CHECK(e, n) CU_CHECK(e, n, cudaGetLastError())

/* ---- per-node helpers (nn_backend_cuda.cu) ---- */
/* Device pointer of input i: the uploaded constant if there is one, else the tensor's data. */
static inline const void *cu_in(const cu_node *cn, nn_tensor *const *in, int i)
{
    if (cn && i < CU_MAX_IN && cn->cdev[i])
        return cn->cdev[i];
    return in[i] ? in[i]->data : NULL;
}
/* Dtype the kernel sees for input i (a constant may have been converted at upload). */
static inline nn_dtype cu_dt(const cu_node *cn, nn_tensor *const *in, int i)
{
    if (cn && i < CU_MAX_IN && cn->cdev[i])
        return cn->cdt[i];
    return in[i] ? in[i]->dtype : NN_DT_UNDEFINED;
}
/* Is input i a constant given on the host (prepare/supports time)? */
static inline int cu_is_const(nn_tensor *const *in, int nin, int i)
{
    return i < nin && in[i] && in[i]->device == NN_DEV_HOST && in[i]->data;
}
/* Float storage dtype of the node: the first non-constant float input's, else the output's, else
 * float. Constant float inputs are converted to it at upload. */
nn_dtype cu_node_float_dt(nn_tensor *const *in, int nin, nn_tensor *const *out, int nout);
/* The dtype input i will have at run time (after constant conversion). */
nn_dtype cu_eff_dt(nn_tensor *const *in, int nin, nn_tensor *const *out, int nout, int i);
/* Host copy of a value input (NULL if the input was not constant at prepare time). */
static inline const nn_tensor *cu_host(const cu_node *cn, int i)
{
    if (!cn || i >= CU_MAX_IN || !cn->has_host[i])
        return NULL;
    return &cn->host[i];
}
/* The workspace for this node, grown to at least bytes (prepare_node only). */
int cu_ws_reserve(nn_backend_ctx *ctx, const nn_node *n, size_t bytes, fp_err *e);
/* Is dt a float storage type this backend computes in? */
static inline int cu_is_float(nn_dtype dt)
{
    return dt == NN_DT_FLOAT || dt == NN_DT_FLOAT16 || dt == NN_DT_BFLOAT16;
}
/* Grid size for n elements at 256 threads, capped (kernels use grid-stride loops). */
static inline unsigned cu_grid(int64_t n)
{
    int64_t b = (n + 255) / 256;
    if (b < 1)
        b = 1;
    if (b > 65535LL * 16)
        b = 65535LL * 16;
    return (unsigned)b;
}
/* Contiguous strides of t (in elements). */
static inline void cu_strides(const nn_tensor *t, int64_t *s)
{
    int64_t acc = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        s[d] = acc;
        acc *= t->dims[d];
    }
}

/* ---- dtype-generic device load/store: arithmetic is always fp32 ---- */
__device__ __forceinline__ float cu_ld(const float *p) { return *p; }
__device__ __forceinline__ float cu_ld(const __half *p) { return __half2float(*p); }
__device__ __forceinline__ float cu_ld(const __nv_bfloat16 *p) { return __bfloat162float(*p); }
__device__ __forceinline__ void cu_st(float *p, float v) { *p = v; }
__device__ __forceinline__ void cu_st(__half *p, float v) { *p = __float2half_rn(v); }
__device__ __forceinline__ void cu_st(__nv_bfloat16 *p, float v) { *p = __float2bfloat16_rn(v); }

/* Run `body` with T bound to the storage type of float dtype dt; evaluates to FP_EUNSUPPORTED for
 * other dtypes. */
#define CU_FLOAT_SWITCH(dt, T, body)                                                      \
    ([&]() -> int {                                                                       \
        switch (dt) {                                                                     \
        case NN_DT_FLOAT: { typedef float T; body; return 0; }                            \
        case NN_DT_FLOAT16: { typedef __half T; body; return 0; }                         \
        case NN_DT_BFLOAT16: { typedef __nv_bfloat16 T; body; return 0; }                 \
        default: return FP_EUNSUPPORTED;                                                  \
        }                                                                                 \
    }())

/* Convert n elements between dtypes on ctx->stream (Cast, constant upload). Supported: float,
 * float16, bfloat16, int32, int64, int8, uint8, bool in any combination. */
int cu_convert(nn_backend_ctx *ctx, const nn_node *n, void *dst, nn_dtype dt_dst, const void *src,
               nn_dtype dt_src, int64_t count, fp_err *e);
int cu_convert_supported(nn_dtype t);

/* Strided copy of a region (shared by Transpose, Slice, Concat, Split, Expand, DepthToSpace...):
 * for every index c of dims[0..ndim), dst[dst_off + sum c_k*dst_st_k] = src[src_off + sum c_k*src_st_k],
 * element size esize (1, 2, 4 or 8 bytes). Dims are merged where both sides are contiguous. */
int cu_strided_copy(nn_backend_ctx *ctx, const nn_node *n, void *dst, const void *src, int esize,
                    int ndim, const int64_t *dims, const int64_t *dst_st, int64_t dst_off,
                    const int64_t *src_st, int64_t src_off, fp_err *e);

#endif
