/*
 * topk — TopK (opset 1-11+: k from the attribute or the constant/shape-implied input) along any axis:
 * one thread block per row sorts (value, index) pairs in shared memory with a bitonic network and
 * writes the first k. Ties go to the lower index, NaN counts as the largest value (numpy/ONNX Runtime,
 * as the CPU reference does); results are always sorted (allowed when sorted=0).
 *
 * Owns: cu_ops_topk. Rows up to 16384 elements (128 KiB of shared memory per block); longer rows are
 * reported unsupported. Does not own NonMaxSuppression: its output shape depends on the data, which
 * the plan-time shape contract cannot express; it stays on the CPU.
 */
#include "nn/cuda/nn_cuda.h"

#include <string.h>

#define TOPK_MAX_ROW 16384

typedef struct topk_geom {
    int64_t outer, L, inner, k;
    int largest;
} topk_geom;

/* Does (va, ia) come before (vb, ib)? Padding (index >= L) always comes last. */
__device__ __forceinline__ bool tk_before(float va, int ia, float vb, int ib, int L, int largest)
{
    if (ia >= L)
        return false;
    if (ib >= L)
        return true;
    bool an = va != va, bn = vb != vb;
    if (an || bn) {
        if (an && bn)
            return ia < ib;
        return largest ? an : bn; /* NaN is the largest value */
    }
    if (va != vb)
        return largest ? va > vb : va < vb;
    return ia < ib;
}

template <typename T>
__global__ void topk_kernel(T *yv, int64_t *yi, const T *x, topk_geom g, int P)
{
    extern __shared__ unsigned char tk_smem[];
    float *sv = (float *)tk_smem;
    int *si = (int *)(sv + P);
    int L = (int)g.L;
    for (int64_t row = blockIdx.x; row < g.outer * g.inner; row += gridDim.x) {
        int64_t o = row / g.inner, in = row % g.inner;
        const T *xr = x + o * g.L * g.inner + in;
        for (int i = threadIdx.x; i < P; i += blockDim.x) {
            sv[i] = i < L ? cu_ld(xr + (int64_t)i * g.inner) : 0.f;
            si[i] = i;
        }
        __syncthreads();
        for (int k = 2; k <= P; k <<= 1) {
            for (int j = k >> 1; j > 0; j >>= 1) {
                for (int i = threadIdx.x; i < P; i += blockDim.x) {
                    int ixj = i ^ j;
                    if (ixj > i) {
                        bool up = (i & k) == 0;
                        float va = sv[i], vb = sv[ixj];
                        int ia = si[i], ib = si[ixj];
                        bool sw = up ? tk_before(vb, ib, va, ia, L, g.largest) : tk_before(va, ia, vb, ib, L, g.largest);
                        if (sw) {
                            sv[i] = vb;
                            sv[ixj] = va;
                            si[i] = ib;
                            si[ixj] = ia;
                        }
                    }
                }
                __syncthreads();
            }
        }
        for (int i = threadIdx.x; i < g.k; i += blockDim.x) {
            int64_t off = o * g.k * g.inner + (int64_t)i * g.inner + in;
            cu_st(yv + off, sv[i]);
            yi[off] = si[i];
        }
        __syncthreads();
    }
}

static int topk_geom_get(const nn_node *n, const nn_tensor *x, const nn_tensor *yv, topk_geom *g, const char **why)
{
    int axis;
    if (nn_norm_axis(nn_attr_int(n, "axis", -1), x->ndim, &axis) < 0)
        return (*why = "axis", 0);
    g->outer = g->inner = 1;
    for (int d = 0; d < axis; d++)
        g->outer *= x->dims[d];
    for (int d = axis + 1; d < x->ndim; d++)
        g->inner *= x->dims[d];
    g->L = x->dims[axis];
    g->k = yv->ndim == x->ndim ? yv->dims[axis] : -1;
    g->largest = (int)nn_attr_int(n, "largest", 1);
    if (g->k < 0 || g->k > g->L)
        return (*why = "k", 0);
    if (g->L > TOPK_MAX_ROW)
        return (*why = "row longer than 16384 elements", 0);
    return 1;
}

static int topk_supports(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                         nn_tensor *const *out, int nout, const char **why)
{
    topk_geom g;
    if (nin < 1 || !in[0] || nout != 2 || !out[0] || !out[1]) {
        *why = "needs both outputs";
        return 0;
    }
    nn_dtype dt = cu_eff_dt(in, nin, out, nout, 0);
    if (!cu_is_float(dt) || out[0]->dtype != dt || out[1]->dtype != NN_DT_INT64) {
        *why = "dtype (float types only)";
        return 0;
    }
    return topk_geom_get(n, in[0], out[0], &g, why);
}

static int topk_prepare(nn_backend_ctx *ctx, nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                        nn_tensor *const *out, int nout, fp_err *e)
{
    /* Rows above 6144 elements need more than the default 48 KiB of dynamic shared memory. */
    int bytes = TOPK_MAX_ROW * 8;
    CU_CHECK(e, n, cudaFuncSetAttribute(topk_kernel<float>, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
    CU_CHECK(e, n, cudaFuncSetAttribute(topk_kernel<__half>, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
    CU_CHECK(e, n, cudaFuncSetAttribute(topk_kernel<__nv_bfloat16>, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
    return 0;
}

static int topk_run(nn_backend_ctx *ctx, const nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                    nn_tensor **out, int nout, fp_err *e)
{
    topk_geom g;
    const char *why = NULL;
    if (!topk_geom_get(n, in[0], out[0], &g, &why))
        return nn_node_error(e, n, FP_EUNSUPPORTED, "cuda: TopK: %s", why);
    int64_t rows = g.outer * g.inner;
    if (rows == 0 || g.k == 0)
        return 0;
    int P = 1;
    while (P < g.L)
        P <<= 1;
    unsigned threads = P >= 1024 ? 1024 : (P < 32 ? 32 : (unsigned)P);
    unsigned blocks = (unsigned)(rows < 65535LL * 16 ? rows : 65535LL * 16);
    size_t smem = (size_t)P * 8;
    void *yv = out[0]->data;
    int64_t *yi = (int64_t *)out[1]->data;
    const void *x = cu_in(cn, in, 0);
    int rc = CU_FLOAT_SWITCH(out[0]->dtype, T,
        (topk_kernel<T><<<blocks, threads, smem, ctx->stream>>>((T *)yv, yi, (const T *)x, g, P)));
    if (rc < 0)
        return nn_node_error(e, n, rc, "cuda: dtype");
    CU_LAUNCH_CHECK(e, n);
    return 0;
}

const cu_op cu_ops_topk[] = {
    {"TopK", topk_supports, topk_prepare, topk_run, 0},
    {NULL, NULL, NULL, NULL, 0},
};
