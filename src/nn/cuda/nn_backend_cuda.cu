/*
 * nn_backend_cuda — the CUDA backend instance behind nn_backend (nn_backend.h): device and stream,
 * cuDNN/cuBLAS handles, device memory, the per-node constant upload done in prepare_node, op
 * dispatch, and CUDA-graph capture/replay of whole runs (run_begin/run_end).
 *
 * Owns: nn_backend_cuda, the op lookup over the op files' tables, cu_convert (dtype conversion, also
 * the Cast op) and cu_strided_copy (the one data-movement kernel behind the layout ops). Does not own
 * any op's arithmetic (elementwise.cu, conv.cu, gemm.cu, pool.cu, reduce.cu, resize.cu, shape.cu,
 * gridsample.cu, topk.cu),
 * memory planning (the runtime hands us the arena through alloc), or graph-level rewrites such as
 * folding BatchNorm into Conv (the runtime's graph passes).
 *
 * No host synchronisation happens inside run_node: every kernel, cuDNN and cuBLAS call is enqueued on
 * ctx->stream; errors of asynchronous work surface at sync(). Anything that allocates (workspaces,
 * constants, cuDNN algorithm search) happens in prepare_node, so a run can be captured as a graph.
 */
#include "nn/cuda/nn_cuda.h"
#include "nn/cuda/nn_cuda_stats.h"

#include <pthread.h>
#include <stdio.h>

#include <stdlib.h>
#include <string.h>

static nn_cuda_stats cu_stats; /* updated with __atomic builtins: models may run in several threads */

/* ---- per-node profile: process-wide table, filled at sync from each instance's pending events */
#define CU_PROF_MAX 8192
static int cu_prof_on;
static pthread_mutex_t cu_prof_lock = PTHREAD_MUTEX_INITIALIZER;
static nn_cuda_prof_entry *cu_prof_tab;
static int cu_prof_n;

extern "C" void nn_cuda_profile_enable(int on)
{
    __atomic_store_n(&cu_prof_on, on, __ATOMIC_RELAXED);
}

extern "C" void nn_cuda_profile_reset(void)
{
    pthread_mutex_lock(&cu_prof_lock);
    cu_prof_n = 0;
    pthread_mutex_unlock(&cu_prof_lock);
}

extern "C" int nn_cuda_profile_get(nn_cuda_prof_entry *out, int max)
{
    pthread_mutex_lock(&cu_prof_lock);
    int n = cu_prof_n;
    for (int i = 0; i < n && i < max; i++)
        out[i] = cu_prof_tab[i];
    pthread_mutex_unlock(&cu_prof_lock);
    return n;
}

static void cu_prof_add(const nn_node *n, float ms)
{
    pthread_mutex_lock(&cu_prof_lock);
    if (!cu_prof_tab)
        cu_prof_tab = (nn_cuda_prof_entry *)calloc(CU_PROF_MAX, sizeof(*cu_prof_tab));
    int i = 0;
    /* a linear scan: profiling runs are few, and node order repeats, so start near the last hit */
    static int hint;
    for (int k = 0; cu_prof_tab && k < cu_prof_n; k++) {
        i = (hint + k) % cu_prof_n;
        if (!strncmp(cu_prof_tab[i].name, n->name, sizeof(cu_prof_tab[i].name) - 1) &&
            !strcmp(cu_prof_tab[i].op_type, n->op_type))
            goto found;
    }
    if (!cu_prof_tab || cu_prof_n == CU_PROF_MAX) {
        pthread_mutex_unlock(&cu_prof_lock);
        return;
    }
    i = cu_prof_n++;
    snprintf(cu_prof_tab[i].name, sizeof(cu_prof_tab[i].name), "%s", n->name);
    snprintf(cu_prof_tab[i].op_type, sizeof(cu_prof_tab[i].op_type), "%s", n->op_type);
    cu_prof_tab[i].ms = 0;
    cu_prof_tab[i].runs = 0;
found:
    hint = i + 1;
    cu_prof_tab[i].ms += ms;
    cu_prof_tab[i].runs++;
    pthread_mutex_unlock(&cu_prof_lock);
}

/* Read back the pending event pairs (the stream has been synchronised). */
static void cu_prof_flush(nn_backend_ctx *ctx)
{
    for (int i = 0; i < ctx->prof_n; i++) {
        float ms = 0;
        if (cudaEventElapsedTime(&ms, ctx->prof_ev[2 * i], ctx->prof_ev[2 * i + 1]) == cudaSuccess)
            cu_prof_add(ctx->prof_node[i], ms);
    }
    cudaGetLastError();
    ctx->prof_n = 0;
}

/* Profiling a plain run times each node between two events; when the host enqueues slower than the
 * GPU runs (batch 1: cuDNN's host-side work per call), the GPU idles between nodes and a node's
 * events would measure host latency. So the first profiled node of a run puts a gate kernel in front
 * of it that waits (at most ~2 s) on a mapped host flag; the flag is raised before anything waits on
 * the stream (sync, copy, prepare, capture), by which time the run is enqueued and its nodes run back
 * to back, as in a replayed graph. */
__global__ void cu_gate_kernel(volatile int *flag)
{
    long long t0 = clock64();
    while (!*flag) {
        __nanosleep(1000);
        if (clock64() - t0 > 4000000000LL)
            break;
    }
}

static void cu_gate_open(nn_backend_ctx *ctx)
{
    if (!ctx->prof_gated)
        return;
    __atomic_store_n(ctx->prof_gate, 1, __ATOMIC_SEQ_CST);
    ctx->prof_gated = 0;
}

static void cu_gate_close(nn_backend_ctx *ctx)
{
    if (ctx->prof_gated)
        return;
    if (!ctx->prof_gate) {
        void *p = NULL;
        if (cudaHostAlloc(&p, sizeof(int), cudaHostAllocMapped) != cudaSuccess) {
            cudaGetLastError();
            return; /* profile without the gate */
        }
        ctx->prof_gate = (int *)p;
    }
    int *dev = NULL;
    if (cudaHostGetDevicePointer((void **)&dev, ctx->prof_gate, 0) != cudaSuccess) {
        cudaGetLastError();
        return;
    }
    __atomic_store_n(ctx->prof_gate, 0, __ATOMIC_SEQ_CST);
    cu_gate_kernel<<<1, 1, 0, ctx->stream>>>(dev);
    if (cudaGetLastError() == cudaSuccess)
        ctx->prof_gated = 1;
}

static void cu_prof_free(nn_backend_ctx *ctx)
{
    cu_gate_open(ctx);
    if (ctx->prof_gate)
        cudaFreeHost(ctx->prof_gate);
    ctx->prof_gate = NULL;
    for (int i = 0; i < 2 * ctx->prof_cap; i++)
        cudaEventDestroy(ctx->prof_ev[i]);
    free(ctx->prof_ev);
    free((void *)ctx->prof_node);
    ctx->prof_ev = NULL;
    ctx->prof_node = NULL;
    ctx->prof_cap = ctx->prof_n = 0;
}

/* The next free event pair, growing the pool; -1 when events cannot be made (the node runs unprofiled). */
static int cu_prof_slot(nn_backend_ctx *ctx)
{
    if (ctx->prof_n == ctx->prof_cap) {
        int cap = ctx->prof_cap ? 2 * ctx->prof_cap : 256;
        cudaEvent_t *ev = (cudaEvent_t *)realloc(ctx->prof_ev, 2 * (size_t)cap * sizeof(*ev));
        if (!ev)
            return -1;
        ctx->prof_ev = ev;
        const nn_node **nd = (const nn_node **)realloc((void *)ctx->prof_node, (size_t)cap * sizeof(*nd));
        if (!nd)
            return -1;
        ctx->prof_node = nd;
        for (int i = 2 * ctx->prof_cap; i < 2 * cap; i++)
            if (cudaEventCreate(&ev[i]) != cudaSuccess) {
                cudaGetLastError();
                for (int k = 2 * ctx->prof_cap; k < i; k++)
                    cudaEventDestroy(ev[k]);
                return -1;
            }
        ctx->prof_cap = cap;
    }
    return ctx->prof_n++;
}

extern "C" void nn_cuda_stats_get(nn_cuda_stats *st)
{
    st->nodes_fp32 = __atomic_load_n(&cu_stats.nodes_fp32, __ATOMIC_RELAXED);
    st->nodes_fp16 = __atomic_load_n(&cu_stats.nodes_fp16, __ATOMIC_RELAXED);
    st->nodes_bf16 = __atomic_load_n(&cu_stats.nodes_bf16, __ATOMIC_RELAXED);
    st->nodes_other = __atomic_load_n(&cu_stats.nodes_other, __ATOMIC_RELAXED);
    st->graph_replays = __atomic_load_n(&cu_stats.graph_replays, __ATOMIC_RELAXED);
    st->graph_captures = __atomic_load_n(&cu_stats.graph_captures, __ATOMIC_RELAXED);
}

/* ---------------------------------------------------------------- errors */

int cu_err_cuda(fp_err *e, const nn_node *n, cudaError_t st, const char *what)
{
    if (n)
        return nn_node_error(e, n, FP_EDEVICE, "cuda: %s: %s", what, cudaGetErrorString(st));
    return fp_errorf(e, FP_EDEVICE, "cuda backend: %s: %s", what, cudaGetErrorString(st));
}

int cu_err_cudnn(fp_err *e, const nn_node *n, cudnnStatus_t st, const char *what)
{
    if (n)
        return nn_node_error(e, n, FP_EDEVICE, "cudnn: %s: %s", what, cudnnGetErrorString(st));
    return fp_errorf(e, FP_EDEVICE, "cuda backend: cudnn: %s: %s", what, cudnnGetErrorString(st));
}

int cu_err_cublas(fp_err *e, const nn_node *n, cublasStatus_t st, const char *what)
{
    if (n)
        return nn_node_error(e, n, FP_EDEVICE, "cublas: %s: %s", what, cublasGetStatusString(st));
    return fp_errorf(e, FP_EDEVICE, "cuda backend: cublas: %s: %s", what, cublasGetStatusString(st));
}

/* ---------------------------------------------------------------- dtype conversion */

int cu_convert_supported(nn_dtype t)
{
    switch (t) {
    case NN_DT_FLOAT: case NN_DT_FLOAT16: case NN_DT_BFLOAT16: case NN_DT_DOUBLE:
    case NN_DT_INT32: case NN_DT_INT64: case NN_DT_INT8: case NN_DT_UINT8: case NN_DT_BOOL:
        return 1;
    default:
        return 0;
    }
}

/* Integers travel as int64 so int64<->int32 stays exact; floats as double (exact for every source
 * float, and float->half rounds once because double->float of a float value is exact). */
__device__ __forceinline__ int cu_dt_is_int(int dt)
{
    return dt == NN_DT_INT32 || dt == NN_DT_INT64 || dt == NN_DT_INT8 || dt == NN_DT_UINT8 || dt == NN_DT_BOOL;
}

__device__ __forceinline__ double cu_ld_any(const void *p, int dt, int64_t i)
{
    switch (dt) {
    case NN_DT_FLOAT: return ((const float *)p)[i];
    case NN_DT_FLOAT16: return __half2float(((const __half *)p)[i]);
    case NN_DT_BFLOAT16: return __bfloat162float(((const __nv_bfloat16 *)p)[i]);
    case NN_DT_DOUBLE: return ((const double *)p)[i];
    case NN_DT_INT32: return ((const int32_t *)p)[i];
    case NN_DT_INT8: return ((const int8_t *)p)[i];
    case NN_DT_UINT8: return ((const uint8_t *)p)[i];
    case NN_DT_BOOL: return ((const uint8_t *)p)[i] != 0;
    default: return (double)((const int64_t *)p)[i];
    }
}

__device__ __forceinline__ int64_t cu_ldi_any(const void *p, int dt, int64_t i)
{
    switch (dt) {
    case NN_DT_INT32: return ((const int32_t *)p)[i];
    case NN_DT_INT8: return ((const int8_t *)p)[i];
    case NN_DT_UINT8: return ((const uint8_t *)p)[i];
    case NN_DT_BOOL: return ((const uint8_t *)p)[i] != 0;
    default: return ((const int64_t *)p)[i];
    }
}

__global__ void cu_convert_kernel(void *dst, int dt_dst, const void *src, int dt_src, int64_t count)
{
    int both_int = cu_dt_is_int(dt_dst) && cu_dt_is_int(dt_src);
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < count; i += (int64_t)gridDim.x * blockDim.x) {
        if (both_int) {
            int64_t v = cu_ldi_any(src, dt_src, i);
            switch (dt_dst) {
            case NN_DT_INT32: ((int32_t *)dst)[i] = (int32_t)v; break;
            case NN_DT_INT8: ((int8_t *)dst)[i] = (int8_t)v; break;
            case NN_DT_UINT8: ((uint8_t *)dst)[i] = (uint8_t)v; break;
            case NN_DT_BOOL: ((uint8_t *)dst)[i] = v != 0; break;
            default: ((int64_t *)dst)[i] = v; break;
            }
            continue;
        }
        double v = cu_ld_any(src, dt_src, i);
        switch (dt_dst) {
        case NN_DT_FLOAT: ((float *)dst)[i] = (float)v; break;
        case NN_DT_FLOAT16: ((__half *)dst)[i] = __float2half_rn((float)v); break;
        case NN_DT_BFLOAT16: ((__nv_bfloat16 *)dst)[i] = __float2bfloat16_rn((float)v); break;
        case NN_DT_DOUBLE: ((double *)dst)[i] = v; break;
        /* float -> int: truncation toward zero, NaN -> 0, out of range saturates (the CPU's rule; the
         * hardware conversion already does this for 32/64-bit targets). */
        case NN_DT_INT32: ((int32_t *)dst)[i] = (int32_t)v; break;
        case NN_DT_INT8: ((int8_t *)dst)[i] = v != v ? 0 : (int8_t)fmin(fmax(trunc(v), -128.0), 127.0); break;
        case NN_DT_UINT8: ((uint8_t *)dst)[i] = v != v ? 0 : (uint8_t)fmin(fmax(trunc(v), 0.0), 255.0); break;
        case NN_DT_BOOL: ((uint8_t *)dst)[i] = v != 0.0; break;
        default: ((int64_t *)dst)[i] = (int64_t)v; break;
        }
    }
}

int cu_convert(nn_backend_ctx *ctx, const nn_node *n, void *dst, nn_dtype dt_dst, const void *src,
               nn_dtype dt_src, int64_t count, fp_err *e)
{
    if (count <= 0)
        return 0;
    if (!cu_convert_supported(dt_dst) || !cu_convert_supported(dt_src))
        return nn_node_error(e, n, FP_EUNSUPPORTED, "cuda: cannot convert %s to %s",
                             nn_dtype_name(dt_src), nn_dtype_name(dt_dst));
    if (dt_dst == dt_src) {
        if (dst != src)
            CU_CHECK(e, n, cudaMemcpyAsync(dst, src, (size_t)count * nn_dtype_size(dt_src),
                                           cudaMemcpyDeviceToDevice, ctx->stream));
        return 0;
    }
    cu_convert_kernel<<<cu_grid(count), 256, 0, ctx->stream>>>(dst, dt_dst, src, dt_src, count);
    CU_LAUNCH_CHECK(e, n);
    return 0;
}

/* ---------------------------------------------------------------- strided copy */

typedef struct cu_copy_geom {
    int ndim;
    int small;                   /* all offsets fit int32: 32-bit index arithmetic */
    int64_t dims[NN_MAX_DIMS];
    int64_t dst_st[NN_MAX_DIMS];
    int64_t src_st[NN_MAX_DIMS];
} cu_copy_geom;

template <typename T>
__global__ void cu_strided_copy_kernel(T *dst, const T *src, cu_copy_geom g, int64_t total)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        if (g.small) {
            int32_t r = (int32_t)i, so = 0, d = 0;
            for (int k = g.ndim - 1; k >= 0; k--) {
                int32_t dk = (int32_t)g.dims[k], c = r % dk;
                r /= dk;
                so += c * (int32_t)g.src_st[k];
                d += c * (int32_t)g.dst_st[k];
            }
            dst[d] = src[so];
            continue;
        }
        int64_t r = i, so = 0, d = 0;
        for (int k = g.ndim - 1; k >= 0; k--) {
            int64_t c = r % g.dims[k];
            r /= g.dims[k];
            so += c * g.src_st[k];
            d += c * g.dst_st[k];
        }
        dst[d] = src[so];
    }
}

int cu_strided_copy(nn_backend_ctx *ctx, const nn_node *n, void *dst, const void *src, int esize,
                    int ndim, const int64_t *dims, const int64_t *dst_st, int64_t dst_off,
                    const int64_t *src_st, int64_t src_off, fp_err *e)
{
    cu_copy_geom g;
    int64_t total = 1;
    g.ndim = 0;
    /* Drop size-1 dims and merge neighbours that are contiguous on both sides: fewer divisions per
     * element and, for plain blocks, a single memcpy. */
    for (int k = 0; k < ndim; k++) {
        if (dims[k] == 0)
            return 0;
        total *= dims[k];
        if (dims[k] == 1)
            continue;
        if (g.ndim > 0) {
            int j = g.ndim - 1;
            if (g.dst_st[j] == dst_st[k] * dims[k] && g.src_st[j] == src_st[k] * dims[k]) {
                g.dims[j] *= dims[k];
                g.dst_st[j] = dst_st[k];
                g.src_st[j] = src_st[k];
                continue;
            }
        }
        g.dims[g.ndim] = dims[k];
        g.dst_st[g.ndim] = dst_st[k];
        g.src_st[g.ndim] = src_st[k];
        g.ndim++;
    }
    /* Every partial sum of c_k * stride_k is bounded by the extents below: if those fit int32, so
     * does each offset (negative strides included). */
    int64_t ext_s = 0, ext_d = 0;
    for (int k = 0; k < g.ndim; k++) {
        ext_s += (g.dims[k] - 1) * (g.src_st[k] < 0 ? -g.src_st[k] : g.src_st[k]);
        ext_d += (g.dims[k] - 1) * (g.dst_st[k] < 0 ? -g.dst_st[k] : g.dst_st[k]);
    }
    g.small = total < (1LL << 31) && ext_s < (1LL << 31) && ext_d < (1LL << 31);
    char *d = (char *)dst + dst_off * esize;
    const char *s = (const char *)src + src_off * esize;
    if (g.ndim == 0 || (g.ndim == 1 && g.dst_st[0] == 1 && g.src_st[0] == 1)) {
        if (d != s)
            CU_CHECK(e, n, cudaMemcpyAsync(d, s, (size_t)total * esize, cudaMemcpyDeviceToDevice, ctx->stream));
        return 0;
    }
    /* Rows of one contiguous run each (Concat/Split/Slice on an outer axis: at full resolution a
     * row is megabytes): the copy engine's 2-D memcpy, no index arithmetic per element. Narrow rows
     * stay with the kernel, which is better at many short runs. */
    if (g.ndim == 2 && g.dst_st[1] == 1 && g.src_st[1] == 1 && g.dims[1] * esize >= 512 &&
        g.dst_st[0] >= g.dims[1] && g.src_st[0] >= g.dims[1] && g.dst_st[0] * esize < (1LL << 31) &&
        g.src_st[0] * esize < (1LL << 31)) {
        CU_CHECK(e, n, cudaMemcpy2DAsync(d, (size_t)(g.dst_st[0] * esize), s, (size_t)(g.src_st[0] * esize),
                                         (size_t)(g.dims[1] * esize), (size_t)g.dims[0], cudaMemcpyDeviceToDevice,
                                         ctx->stream));
        return 0;
    }
    unsigned grid = cu_grid(total);
    switch (esize) {
    case 1: cu_strided_copy_kernel<uint8_t><<<grid, 256, 0, ctx->stream>>>((uint8_t *)d, (const uint8_t *)s, g, total); break;
    case 2: cu_strided_copy_kernel<uint16_t><<<grid, 256, 0, ctx->stream>>>((uint16_t *)d, (const uint16_t *)s, g, total); break;
    case 4: cu_strided_copy_kernel<uint32_t><<<grid, 256, 0, ctx->stream>>>((uint32_t *)d, (const uint32_t *)s, g, total); break;
    case 8: cu_strided_copy_kernel<uint64_t><<<grid, 256, 0, ctx->stream>>>((uint64_t *)d, (const uint64_t *)s, g, total); break;
    default: return nn_node_error(e, n, FP_EUNSUPPORTED, "cuda: element size %d", esize);
    }
    CU_LAUNCH_CHECK(e, n);
    return 0;
}

/* ---------------------------------------------------------------- op lookup */

static const cu_op *const *cu_tables(void)
{
    static const cu_op *const tables[] = {
        cu_ops_elementwise, cu_ops_shape, cu_ops_conv, cu_ops_gemm, cu_ops_pool, cu_ops_reduce,
        cu_ops_resize, cu_ops_gridsample, cu_ops_topk, NULL,
    };
    return tables;
}

static const cu_op *cu_op_find(const nn_node *n)
{
    /* com.microsoft's FusedConv is what the runtime's fusion pass makes (src/nn/nn_fuse.c) */
    if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx") != 0 &&
        !(!strcmp(n->domain, "com.microsoft") && !strcmp(n->op_type, "FusedConv")))
        return NULL;
    for (const cu_op *const *t = cu_tables(); *t; t++)
        for (const cu_op *op = *t; op->op_type; op++)
            if (strcmp(op->op_type, n->op_type) == 0)
                return op;
    return NULL;
}

nn_dtype cu_node_float_dt(nn_tensor *const *in, int nin, nn_tensor *const *out, int nout)
{
    for (int i = 0; i < nin; i++)
        if (in[i] && !cu_is_const(in, nin, i) && cu_is_float(in[i]->dtype))
            return in[i]->dtype;
    for (int i = 0; i < nout; i++)
        if (out[i] && cu_is_float(out[i]->dtype))
            return out[i]->dtype;
    return NN_DT_FLOAT;
}

nn_dtype cu_eff_dt(nn_tensor *const *in, int nin, nn_tensor *const *out, int nout, int i)
{
    if (i >= nin || !in[i])
        return NN_DT_UNDEFINED;
    if (cu_is_const(in, nin, i) && cu_is_float(in[i]->dtype))
        return cu_node_float_dt(in, nin, out, nout);
    return in[i]->dtype;
}

/* ---------------------------------------------------------------- backend functions */

static void cu_free(nn_backend_ctx *ctx);

static int cu_init(nn_backend_ctx **pctx, const nn_backend_opts *opts, fp_err *e)
{
    nn_backend_ctx *ctx = (nn_backend_ctx *)calloc(1, sizeof(*ctx));
    cudaError_t st;
    int ndev = 0;
    if (!ctx)
        return fp_errorf(e, FP_ENOMEM, "cuda backend: init: out of memory");
    ctx->device = opts ? opts->device_id : 0;
    ctx->precision = opts ? opts->precision : NN_PREC_FP16;
    ctx->use_graph = opts ? opts->use_cuda_graph : 0;
    if ((st = cudaGetDeviceCount(&ndev)) != cudaSuccess || ndev == 0) {
        free(ctx);
        return fp_errorf(e, FP_EDEVICE, "cuda backend: init: no CUDA device (%s)",
                         st != cudaSuccess ? cudaGetErrorString(st) : "device count 0");
    }
    if (ctx->device < 0 || ctx->device >= ndev) {
        int d = ctx->device;
        free(ctx);
        return fp_errorf(e, FP_EINVAL, "cuda backend: init: device %d does not exist (%d devices)", d, ndev);
    }
    int rc = 0;
    if ((st = cudaSetDevice(ctx->device)) != cudaSuccess) {
        rc = cu_err_cuda(e, NULL, st, "cudaSetDevice");
        goto fail;
    }
    if (opts && opts->cuda_stream) {
        ctx->stream = (cudaStream_t)opts->cuda_stream;
    } else {
        if ((st = cudaStreamCreateWithFlags(&ctx->stream, cudaStreamNonBlocking)) != cudaSuccess) {
            rc = cu_err_cuda(e, NULL, st, "cudaStreamCreate");
            goto fail;
        }
        ctx->own_stream = 1;
    }
    {
        cudnnStatus_t cs = cudnnCreate(&ctx->cudnn);
        if (cs != CUDNN_STATUS_SUCCESS) {
            ctx->cudnn = NULL;
            rc = cu_err_cudnn(e, NULL, cs, "cudnnCreate");
            goto fail;
        }
        if ((cs = cudnnSetStream(ctx->cudnn, ctx->stream)) != CUDNN_STATUS_SUCCESS) {
            rc = cu_err_cudnn(e, NULL, cs, "cudnnSetStream");
            goto fail;
        }
    }
    {
        cublasStatus_t bs = cublasCreate(&ctx->cublas);
        if (bs != CUBLAS_STATUS_SUCCESS) {
            ctx->cublas = NULL;
            rc = cu_err_cublas(e, NULL, bs, "cublasCreate");
            goto fail;
        }
        /* 32 MiB is NVIDIA's recommendation for Hopper; a fixed workspace keeps cuBLAS from allocating
         * inside a graph capture. */
        ctx->cublas_ws_size = 32u << 20;
        if ((st = cudaMalloc(&ctx->cublas_ws, ctx->cublas_ws_size)) != cudaSuccess) {
            ctx->cublas_ws = NULL;
            rc = cu_err_cuda(e, NULL, st, "cudaMalloc(cublas workspace)");
            goto fail;
        }
        if ((bs = cublasSetStream(ctx->cublas, ctx->stream)) != CUBLAS_STATUS_SUCCESS ||
            (bs = cublasSetWorkspace(ctx->cublas, ctx->cublas_ws, ctx->cublas_ws_size)) != CUBLAS_STATUS_SUCCESS ||
            (bs = cublasSetPointerMode(ctx->cublas, CUBLAS_POINTER_MODE_HOST)) != CUBLAS_STATUS_SUCCESS) {
            rc = cu_err_cublas(e, NULL, bs, "cublas setup");
            goto fail;
        }
    }
    *pctx = ctx;
    return 0;
fail:
    cu_free(ctx);
    return rc;
}

static void cu_graphs_clear(nn_backend_ctx *ctx)
{
    for (int i = 0; i < ctx->ngraphs; i++)
        if (ctx->graphs[i].exec)
            cudaGraphExecDestroy(ctx->graphs[i].exec);
    ctx->ngraphs = 0;
    ctx->graph_next = 0;
}

static void cu_free(nn_backend_ctx *ctx)
{
    if (!ctx)
        return;
    cudaSetDevice(ctx->device);
    cu_gate_open(ctx);
    if (ctx->stream)
        cudaStreamSynchronize(ctx->stream);
    cu_graphs_clear(ctx);
    cu_prof_free(ctx);
    if (ctx->cublas)
        cublasDestroy(ctx->cublas);
    if (ctx->cudnn)
        cudnnDestroy(ctx->cudnn);
    cudaFree(ctx->cublas_ws);
    cudaFree(ctx->ws);
    if (ctx->own_stream && ctx->stream)
        cudaStreamDestroy(ctx->stream);
    free(ctx);
}

int cu_ws_reserve(nn_backend_ctx *ctx, const nn_node *n, size_t bytes, fp_err *e)
{
    if (bytes <= ctx->ws_size)
        return 0;
    /* Graphs captured so far point at the old workspace: they must not be replayed. */
    CU_CHECK(e, n, cudaStreamSynchronize(ctx->stream));
    cu_graphs_clear(ctx);
    cudaFree(ctx->ws);
    ctx->ws = NULL;
    ctx->ws_size = 0;
    size_t sz = (bytes + 0xFFFFF) & ~(size_t)0xFFFFF;
    CU_CHECK(e, n, cudaMalloc(&ctx->ws, sz));
    ctx->ws_size = sz;
    return 0;
}

static int cu_supports_op(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                          nn_tensor *const *out, int nout, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    *why = NULL;
    const cu_op *op = cu_op_find(n);
    if (!op) {
        *why = "op not implemented on cuda";
        return 0;
    }
    /* At load the runtime asks with the op alone (no tensors yet): the op exists here; shape- and
     * dtype-dependent refusals come when a plan asks again with tensors. */
    if (!in || !out)
        return 1;
    if (nin > CU_MAX_IN) {
        *why = "too many inputs";
        return 0;
    }
    for (int i = 0; i < nin; i++) {
        if ((op->value_inputs >> i) & 1u) {
            if (in[i] && !cu_is_const(in, nin, i)) {
                *why = "a shape/axes/pads input is not constant at plan time";
                return 0;
            }
        }
    }
    return op->supports(ctx, n, in, nin, out, nout, why);
}

static int cu_alloc(nn_backend_ctx *ctx, size_t bytes, void **ptr, fp_err *e)
{
    cudaError_t st;
    *ptr = NULL;
    if (bytes == 0)
        bytes = 1;
    cudaSetDevice(ctx->device);
    cu_gate_open(ctx);
    if ((st = cudaMalloc(ptr, bytes)) != cudaSuccess) {
        *ptr = NULL;
        cudaGetLastError(); /* clear the sticky-free error so later calls do not see it */
        return fp_errorf(e, st == cudaErrorMemoryAllocation ? FP_EDEVICE : FP_EDEVICE,
                         "cuda backend: alloc %zu bytes: %s", bytes, cudaGetErrorString(st));
    }
    return 0;
}

static void cu_free_mem(nn_backend_ctx *ctx, void *ptr)
{
    if (!ptr)
        return;
    cu_gate_open(ctx); /* cudaFree waits for the device */
    cudaFree(ptr);
}

static int cu_copy(nn_backend_ctx *ctx, void *dst, nn_device dst_dev, const void *src, nn_device src_dev,
                   size_t bytes, fp_err *e)
{
    if (bytes == 0 || dst == src)
        return 0;
    cu_gate_open(ctx); /* a copy from/to pageable memory waits for the stream */
    cudaMemcpyKind kind = dst_dev == NN_DEV_CUDA
        ? (src_dev == NN_DEV_CUDA ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
        : (src_dev == NN_DEV_CUDA ? cudaMemcpyDeviceToHost : cudaMemcpyHostToHost);
    CU_CHECK(e, NULL, cudaMemcpyAsync(dst, src, bytes, kind, ctx->stream));
    return 0;
}

/* The plan this state belongs to, as far as kernels care: every tensor's dtype and shape, and the
 * values of host value inputs (Resize scales...). The runtime caches several plans per model and calls
 * prepare_node once per plan, so one node may hold several states; run_node picks by signature. */
static uint64_t cu_sig(const nn_backend_ctx *ctx, const cu_op *op, nn_tensor *const *in, int nin,
                       nn_tensor *const *out, int nout)
{
    uint64_t h = 1469598103934665603ULL;
#define MIX(v) do { h ^= (uint64_t)(v); h *= 1099511628211ULL; } while (0)
    MIX((uintptr_t)ctx); /* state holds this instance's workspace sizing */
    MIX(nin);
    MIX(nout);
    for (int io = 0; io < 2; io++) {
        int cnt = io ? nout : nin;
        nn_tensor *const *t = io ? out : in;
        for (int i = 0; i < cnt; i++) {
            if (!t[i]) {
                MIX(0xFFFF);
                continue;
            }
            MIX(t[i]->dtype);
            MIX(t[i]->ndim);
            for (int d = 0; d < t[i]->ndim; d++)
                MIX(t[i]->dims[d]);
            /* Constants: where they live and, when small, what they hold (a plan's folded constant may
             * differ from another plan's at the same shape). */
            if (!io && t[i]->device == NN_DEV_HOST && t[i]->data) {
                size_t nb = nn_tensor_nbytes(t[i]);
                MIX((uintptr_t)t[i]->data);
                if (nb <= 4096 || ((op->value_inputs >> i) & 1u)) {
                    const unsigned char *b = (const unsigned char *)t[i]->data;
                    for (size_t k = 0; k < nb && k < 4096; k++)
                        MIX(b[k]);
                }
            }
        }
    }
#undef MIX
    return h;
}

static void cu_node_free(nn_backend_ctx *ctx, cu_node *cn)
{
    if (!cn)
        return;
    if (cn->priv_free && cn->priv)
        cn->priv_free(ctx, cn->priv);
    for (int i = 0; i < CU_MAX_IN; i++) {
        if (cn->cdev[i])
            cudaFree(cn->cdev[i]);
        if (cn->has_host[i])
            free(cn->host[i].data);
    }
    free(cn);
}

static void cu_release_node(nn_backend_ctx *ctx, nn_node *n)
{
    cu_node *cn = (cu_node *)n->backend_data;
    if (!cn)
        return;
    /* Kernels of earlier runs may still read this state. */
    cu_gate_open(ctx);
    cudaStreamSynchronize(ctx->stream);
    while (cn) {
        cu_node *next = cn->next;
        cu_node_free(ctx, cn);
        cn = next;
    }
    n->backend_data = NULL;
}

static int cu_prepare_node(nn_backend_ctx *ctx, nn_node *n, nn_tensor *const *in, int nin,
                           nn_tensor *const *out, int nout, fp_err *e)
{
    const cu_op *op = cu_op_find(n);
    cu_gate_open(ctx); /* prepare synchronises the stream */
    if (!op)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "cuda: op %s is not implemented on the cuda backend", n->op_type);
    if (nin > CU_MAX_IN)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "cuda: %d inputs (at most %d)", nin, CU_MAX_IN);
    cudaSetDevice(ctx->device);
    uint64_t sig = cu_sig(ctx, op, in, nin, out, nout);
    /* Graphs captured so far may belong to another plan: run_begin re-captures after this. */
    ctx->prep_gen++;
    /* The runtime prepares a plan again whenever it switches back to it: state made for the same
     * signature is still right, keep it (no second cuDNN algorithm search). */
    for (cu_node *c = (cu_node *)n->backend_data; c; c = c->next)
        if (c->sig == sig)
            return 0;
    cu_node *cn = (cu_node *)calloc(1, sizeof(*cn));
    if (!cn)
        return nn_node_error(e, n, FP_ENOMEM, "cuda: prepare: out of memory");
    cn->op = op;
    cn->sig = sig;
    int rc = 0;
    for (int i = 0; i < nin; i++) {
        if (!cu_is_const(in, nin, i))
            continue;
        const nn_tensor *t = in[i];
        int64_t cnt = nn_tensor_numel(t);
        size_t nb = nn_tensor_nbytes(t);
        if (cnt < 0) {
            rc = nn_node_error(e, n, FP_EMODEL, "cuda: input %d has an invalid shape", i);
            goto fail;
        }
        if ((op->value_inputs >> i) & 1u) {
            cn->host[i] = *t;
            cn->host[i].owned = 0;
            cn->host[i].data = malloc(nb ? nb : 1);
            if (!cn->host[i].data) {
                rc = nn_node_error(e, n, FP_ENOMEM, "cuda: prepare: out of memory");
                goto fail;
            }
            memcpy(cn->host[i].data, t->data, nb);
            cn->has_host[i] = 1;
        }
        /* Every constant also lives on the device, in the dtype the kernel reads. */
        nn_dtype want = cu_eff_dt(in, nin, out, nout, i);
        if (!cu_convert_supported(t->dtype) || !cu_convert_supported(want)) {
            if ((op->value_inputs >> i) & 1u)
                continue; /* host-only value input of an odd dtype */
            rc = nn_node_error(e, n, FP_EUNSUPPORTED, "cuda: constant input %d has dtype %s", i, nn_dtype_name(t->dtype));
            goto fail;
        }
        void *raw = NULL;
        cudaError_t st;
        size_t want_nb = (size_t)cnt * nn_dtype_size(want);
        if ((st = cudaMalloc(&cn->cdev[i], want_nb ? want_nb : 1)) != cudaSuccess) {
            cn->cdev[i] = NULL;
            rc = cu_err_cuda(e, n, st, "cudaMalloc(constant)");
            goto fail;
        }
        cn->cdt[i] = want;
        /* Copies go on ctx->stream: a plain cudaMemcpy from pageable memory may still be in flight on
         * the legacy stream, which our non-blocking stream does not wait for. */
        if (want == t->dtype) {
            if (nb && ((st = cudaMemcpyAsync(cn->cdev[i], t->data, nb, cudaMemcpyHostToDevice, ctx->stream)) != cudaSuccess ||
                       (st = cudaStreamSynchronize(ctx->stream)) != cudaSuccess)) {
                rc = cu_err_cuda(e, n, st, "upload constant");
                goto fail;
            }
            continue;
        }
        if ((st = cudaMalloc(&raw, nb ? nb : 1)) != cudaSuccess) {
            rc = cu_err_cuda(e, n, st, "cudaMalloc(constant staging)");
            goto fail;
        }
        if (nb && (st = cudaMemcpyAsync(raw, t->data, nb, cudaMemcpyHostToDevice, ctx->stream)) != cudaSuccess) {
            cudaFree(raw);
            rc = cu_err_cuda(e, n, st, "upload constant");
            goto fail;
        }
        rc = cu_convert(ctx, n, cn->cdev[i], want, raw, t->dtype, cnt, e);
        if (rc == 0 && (st = cudaStreamSynchronize(ctx->stream)) != cudaSuccess)
            rc = cu_err_cuda(e, n, st, "convert constant");
        cudaFree(raw);
        if (rc < 0)
            goto fail;
    }
    if (op->prepare && (rc = op->prepare(ctx, n, cn, in, nin, out, nout, e)) < 0)
        goto fail;
    /* Op prepares upload through ctx->stream too; the host sources die when we return. */
    {
        cudaError_t st = cudaStreamSynchronize(ctx->stream);
        if (st != cudaSuccess) {
            rc = cu_err_cuda(e, n, st, "prepare");
            goto fail;
        }
    }
    cn->next = (cu_node *)n->backend_data;
    n->backend_data = cn;
    return 0;
fail:
    cu_node_free(ctx, cn);
    return rc;
}

static int cu_run_node_(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                        nn_tensor **out, int nout, fp_err *e);

/* A failed node inside a capture: the runtime will not call run_end, so end the capture here and drop
 * the partial graph, or the stream would stay in capture mode and fail everything after. */
static int cu_run_node(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                       nn_tensor **out, int nout, fp_err *e)
{
    int slot = -1;
    if (__atomic_load_n(&cu_prof_on, __ATOMIC_RELAXED) && !ctx->capturing && (slot = cu_prof_slot(ctx)) >= 0) {
        cu_gate_close(ctx);
        ctx->prof_node[slot] = n;
        cudaEventRecord(ctx->prof_ev[2 * slot], ctx->stream);
    }
    int rc = cu_run_node_(ctx, n, in, nin, out, nout, e);
    if (slot >= 0)
        cudaEventRecord(ctx->prof_ev[2 * slot + 1], ctx->stream);
    if (rc < 0 && ctx->capturing) {
        cudaGraph_t g = NULL;
        if (cudaStreamEndCapture(ctx->stream, &g) == cudaSuccess && g)
            cudaGraphDestroy(g);
        cudaGetLastError();
        ctx->capturing = 0;
    }
    return rc;
}

static int cu_run_node_(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                        nn_tensor **out, int nout, fp_err *e)
{
    cu_node *cn = (cu_node *)n->backend_data;
    if (!cn || !cn->op)
        return nn_node_error(e, n, FP_EINTERNAL, "cuda: run_node before prepare_node");
    uint64_t sig = cu_sig(ctx, cn->op, in, nin, out, nout);
    while (cn && cn->sig != sig)
        cn = cn->next;
    if (!cn)
        return nn_node_error(e, n, FP_EINTERNAL, "cuda: run_node with shapes prepare_node never saw");
    for (int i = 0; i < nin; i++) {
        if (in[i] && !cn->cdev[i] && !((cn->op->value_inputs >> i) & 1u)) {
            if (in[i]->device != NN_DEV_CUDA && nn_tensor_numel(in[i]) > 0)
                return nn_node_error(e, n, FP_EINTERNAL, "cuda: input %d is in host memory (graph inputs must be "
                                     "copied to the device or given as device pointers)", i);
        }
    }
    for (int i = 0; i < nout; i++)
        if (out[i] && out[i]->device != NN_DEV_CUDA && nn_tensor_numel(out[i]) > 0)
            return nn_node_error(e, n, FP_EINTERNAL, "cuda: output %d is not in device memory", i);
    nn_dtype odt = nout > 0 && out[0] ? out[0]->dtype : NN_DT_UNDEFINED;
    __atomic_fetch_add(odt == NN_DT_FLOAT ? &cu_stats.nodes_fp32 : odt == NN_DT_FLOAT16 ? &cu_stats.nodes_fp16
                       : odt == NN_DT_BFLOAT16 ? &cu_stats.nodes_bf16 : &cu_stats.nodes_other, 1, __ATOMIC_RELAXED);
    return cn->op->run(ctx, n, cn, in, nin, out, nout, e);
}

static int cu_run_begin(nn_backend_ctx *ctx, uint64_t plan_key, fp_err *e)
{
    cu_gate_open(ctx);
    if (!ctx->use_graph)
        return 0;
    for (int i = 0; i < ctx->ngraphs; i++) {
        if (ctx->graphs[i].key == plan_key) {
            if (ctx->graphs[i].gen != ctx->prep_gen) {
                /* Nodes were prepared since this capture (the runtime switched plans under the same
                 * key): the graph may point at another plan's buffers. Capture again below. */
                CU_CHECK(e, NULL, cudaStreamSynchronize(ctx->stream));
                cudaGraphExecDestroy(ctx->graphs[i].exec);
                ctx->graphs[i] = ctx->graphs[--ctx->ngraphs];
                ctx->graph_next = 0;
                break;
            }
            CU_CHECK(e, NULL, cudaGraphLaunch(ctx->graphs[i].exec, ctx->stream));
            __atomic_fetch_add(&cu_stats.graph_replays, 1, __ATOMIC_RELAXED);
            return 1;
        }
    }
    /* ThreadLocal: other threads of the process (decode, encode) may keep using CUDA meanwhile. */
    CU_CHECK(e, NULL, cudaStreamBeginCapture(ctx->stream, cudaStreamCaptureModeThreadLocal));
    ctx->capturing = 1;
    ctx->capture_key = plan_key;
    return 0;
}

static int cu_run_end(nn_backend_ctx *ctx, uint64_t plan_key, fp_err *e)
{
    if (!ctx->use_graph || !ctx->capturing)
        return 0;
    cudaGraph_t g = NULL;
    cudaGraphExec_t ex = NULL;
    cudaError_t st;
    ctx->capturing = 0;
    if ((st = cudaStreamEndCapture(ctx->stream, &g)) != cudaSuccess)
        return cu_err_cuda(e, NULL, st, "cudaStreamEndCapture (an op did something not capturable)");
    if (plan_key != ctx->capture_key) {
        cudaGraphDestroy(g);
        return fp_errorf(e, FP_EINTERNAL, "cuda backend: run_end key does not match run_begin");
    }
    st = cudaGraphInstantiate(&ex, g, 0);
    cudaGraphDestroy(g);
    if (st != cudaSuccess)
        return cu_err_cuda(e, NULL, st, "cudaGraphInstantiate");
    int slot = ctx->ngraphs;
    if (slot == CU_GRAPH_CACHE) {
        slot = ctx->graph_next;
        ctx->graph_next = (ctx->graph_next + 1) % CU_GRAPH_CACHE;
        cudaGraphExecDestroy(ctx->graphs[slot].exec);
    } else {
        ctx->ngraphs++;
    }
    ctx->graphs[slot].key = plan_key;
    ctx->graphs[slot].exec = ex;
    ctx->graphs[slot].gen = ctx->prep_gen;
    __atomic_fetch_add(&cu_stats.graph_captures, 1, __ATOMIC_RELAXED);
    /* Capturing recorded the work without doing it: run it once now. */
    CU_CHECK(e, NULL, cudaGraphLaunch(ex, ctx->stream));
    return 0;
}

static int cu_sync(nn_backend_ctx *ctx, fp_err *e)
{
    cu_gate_open(ctx);
    CU_CHECK(e, NULL, cudaStreamSynchronize(ctx->stream));
    if (ctx->prof_n)
        cu_prof_flush(ctx);
    return 0;
}

extern "C" const nn_backend nn_backend_cuda = {
    "cuda",
    NN_DEV_CUDA,
    cu_init,
    cu_free,
    cu_supports_op,
    cu_alloc,
    cu_free_mem,
    cu_copy,
    cu_prepare_node,
    cu_release_node,
    cu_run_node,
    cu_run_begin,
    cu_run_end,
    cu_sync,
};
