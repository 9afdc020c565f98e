/*
 * gemm — MatMul and Gemm through cuBLAS (cublasGemmEx / cublasGemmStridedBatchedEx).
 *
 * Owns: cu_ops_gemm. Row-major ONNX matrices are handed to column-major cuBLAS as their transposes
 * (C^T = B^T A^T), so nothing is copied. float/half/bf16 storage, fp32 accumulation
 * (CUBLAS_COMPUTE_32F: tensor cores for half/bf16, plain FMA for float — no TF32, which would break
 * the fp32 1e-5 contract). MatMul batch broadcasting: any ONNX pattern (see mm_geom).
 *
 * Does not own the cuBLAS handle or its workspace (nn_backend_cuda.cu), or fusing a following bias
 * add (Gemm's C does that).
 */
#include "nn/cuda/nn_cuda.h"

#include <string.h>

static cudaDataType_t blas_dt(nn_dtype dt)
{
    switch (dt) {
    case NN_DT_FLOAT16: return CUDA_R_16F;
    case NN_DT_BFLOAT16: return CUDA_R_16BF;
    default: return CUDA_R_32F;
    }
}

/* The output's batch dims split in two: an inner group that both sides walk with one stride each
 * (contiguous, or 0 where broadcast) — one strided-batched GEMM — and the outer dims before it, looped
 * on the host (one GEMM call per outer index: mixed patterns such as [2,1]x[3] are rare and small). */
typedef struct mm_geom {
    int64_t M, N, K, batch, sa, sb;                                   /* inner group, element strides */
    int nod;
    int64_t nouter, od[NN_MAX_DIMS], oas[NN_MAX_DIMS], obs[NN_MAX_DIMS]; /* outer dims, element strides */
} mm_geom;

static int mm_geom_get(const nn_tensor *a, const nn_tensor *b, const nn_tensor *y, mm_geom *g, const char **why)
{
    memset(g, 0, sizeof(*g));
    g->nouter = 1;
    if (a->ndim < 1 || b->ndim < 1)
        return (*why = "scalar operand", 0);
    g->K = a->dims[a->ndim - 1];
    g->M = a->ndim >= 2 ? a->dims[a->ndim - 2] : 1;
    if ((b->ndim >= 2 ? b->dims[b->ndim - 2] : b->dims[0]) != g->K)
        return (*why = "inner dimensions differ", 0);
    g->N = b->ndim >= 2 ? b->dims[b->ndim - 1] : 1;
    int64_t mn = g->M * g->N, yn = nn_tensor_numel(y);
    if (mn == 0 || g->K == 0)
        return 1;
    int ra = a->ndim >= 2 ? a->ndim - 2 : 0, rb = b->ndim >= 2 ? b->ndim - 2 : 0, nb = ra > rb ? ra : rb;
    int64_t od[NN_MAX_DIMS], as[NN_MAX_DIMS], bs[NN_MAX_DIMS], acca = g->M * g->K, accb = g->K * g->N, tot = 1;
    int nd = 0;
    /* Right-aligned broadcast of the batch dims; dims of output size 1 are dropped. */
    for (int i = nb - 1; i >= 0; i--) {
        int ia = i - (nb - ra), ib = i - (nb - rb);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1, o = da > db ? da : db;
        if ((da != o && da != 1) || (db != o && db != 1))
            return (*why = "batch dims do not broadcast", 0);
        if (o != 1) {
            od[nd] = o;
            as[nd] = da == 1 ? 0 : acca;
            bs[nd] = db == 1 ? 0 : accb;
            nd++;
        }
        acca *= da;
        accb *= db;
        tot *= o;
    }
    if (tot * mn != yn)
        return (*why = "output size", 0);
    /* od/as/bs are innermost first. Grow the inner group while both sides stay one stride. */
    g->batch = 1;
    int j = 0;
    if (nd > 0) {
        g->batch = od[0];
        g->sa = as[0];
        g->sb = bs[0];
        for (j = 1; j < nd; j++) {
            if (as[j] != as[j - 1] * od[j - 1] || bs[j] != bs[j - 1] * od[j - 1])
                break;
            g->batch *= od[j];
        }
    }
    /* Outer dims, outermost first. */
    for (int k = nd - 1; k >= j; k--) {
        g->od[g->nod] = od[k];
        g->oas[g->nod] = as[k];
        g->obs[g->nod] = bs[k];
        g->nod++;
        g->nouter *= od[k];
    }
    return 1;
}

static int mm_supports(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                       nn_tensor *const *out, int nout, const char **why)
{
    mm_geom g;
    if (nin != 2 || !in[0] || !in[1] || nout != 1) {
        *why = "input count";
        return 0;
    }
    nn_dtype dt = cu_eff_dt(in, nin, out, nout, 0);
    if (!cu_is_float(dt) || cu_eff_dt(in, nin, out, nout, 1) != dt || out[0]->dtype != dt) {
        *why = "dtype (float types only; integer MatMul is not on cuda)";
        return 0;
    }
    return mm_geom_get(in[0], in[1], out[0], &g, why);
}

static int mm_run(nn_backend_ctx *ctx, const nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                  nn_tensor **out, int nout, fp_err *e)
{
    mm_geom g;
    const char *why = NULL;
    nn_tensor *y = out[0];
    if (!mm_geom_get(in[0], in[1], y, &g, &why))
        return nn_node_error(e, n, FP_EUNSUPPORTED, "cuda: MatMul: %s", why);
    if (nn_tensor_numel(y) == 0)
        return 0;
    if (g.K == 0) {
        CU_CHECK(e, n, cudaMemsetAsync(y->data, 0, nn_tensor_nbytes(y), ctx->stream));
        return 0;
    }
    cudaDataType_t t = blas_dt(y->dtype);
    const float one = 1.f, zero = 0.f;
    const void *A = cu_in(cn, in, 0), *B = cu_in(cn, in, 1);
    size_t es = nn_dtype_size(y->dtype);
    for (int64_t o = 0; o < g.nouter; o++) {
        int64_t offa = 0, offb = 0, r = o;
        for (int k = g.nod - 1; k >= 0; k--) {
            offa += (r % g.od[k]) * g.oas[k];
            offb += (r % g.od[k]) * g.obs[k];
            r /= g.od[k];
        }
        const void *Ao = (const char *)A + offa * es, *Bo = (const char *)B + offb * es;
        void *Yo = (char *)y->data + (size_t)(o * g.batch * g.M * g.N) * es;
        int64_t M = g.M, batch = g.batch;
        /* Shared B: the batch folds into M, one bigger GEMM instead of many small ones. */
        if (g.sb == 0 && g.sa != 0) {
            M *= batch;
            batch = 1;
        }
        if (batch == 1)
            CUBLAS_CHECK(e, n, cublasGemmEx(ctx->cublas, CUBLAS_OP_N, CUBLAS_OP_N, (int)g.N, (int)M, (int)g.K, &one, Bo,
                                            t, (int)g.N, Ao, t, (int)g.K, &zero, Yo, t, (int)g.N, CUBLAS_COMPUTE_32F,
                                            CUBLAS_GEMM_DEFAULT));
        else
            CUBLAS_CHECK(e, n, cublasGemmStridedBatchedEx(ctx->cublas, CUBLAS_OP_N, CUBLAS_OP_N, (int)g.N, (int)g.M,
                                                          (int)g.K, &one, Bo, t, (int)g.N, g.sb, Ao, t, (int)g.K, g.sa,
                                                          &zero, Yo, t, (int)g.N, g.M * g.N, (int)batch,
                                                          CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    }
    return 0;
}

/* ---------------------------------------------------------------- Gemm */

static int gemm_supports(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                         nn_tensor *const *out, int nout, const char **why)
{
    if (nin < 2 || !in[0] || !in[1] || nout != 1) {
        *why = "input count";
        return 0;
    }
    nn_dtype dt = cu_eff_dt(in, nin, out, nout, 0);
    if (!cu_is_float(dt) || cu_eff_dt(in, nin, out, nout, 1) != dt || out[0]->dtype != dt ||
        (nin > 2 && in[2] && cu_eff_dt(in, nin, out, nout, 2) != dt)) {
        *why = "dtype";
        return 0;
    }
    if (in[0]->ndim != 2 || in[1]->ndim != 2 || out[0]->ndim != 2 || (nin > 2 && in[2] && in[2]->ndim > 2)) {
        *why = "rank";
        return 0;
    }
    return 1;
}

static int gemm_run(nn_backend_ctx *ctx, const nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                    nn_tensor **out, int nout, fp_err *e)
{
    nn_tensor *y = out[0];
    int ta = (int)nn_attr_int(n, "transA", 0), tb = (int)nn_attr_int(n, "transB", 0);
    float alpha = nn_attr_float(n, "alpha", 1.f), beta = nn_attr_float(n, "beta", 1.f);
    int64_t M = y->dims[0], N = y->dims[1], K = ta ? in[0]->dims[0] : in[0]->dims[1];
    int has_c = nin > 2 && in[2] && beta != 0.f;
    int es = (int)nn_dtype_size(y->dtype);
    if (M == 0 || N == 0)
        return 0;
    if (has_c) {
        /* Y = broadcast(C), then the GEMM accumulates onto it with beta. */
        const nn_tensor *c = in[2];
        int64_t cst[NN_MAX_DIMS], yst[2] = {N, 1}, sst[2];
        cu_strides(c, cst);
        for (int k = 1, j = c->ndim - 1; k >= 0; k--, j--)
            sst[k] = (j < 0 || c->dims[j] == 1) ? 0 : cst[j];
        int rc = cu_strided_copy(ctx, n, y->data, cu_in(cn, in, 2), es, 2, y->dims, yst, 0, sst, 0, e);
        if (rc < 0)
            return rc;
    }
    if (K == 0) {
        if (!has_c)
            CU_CHECK(e, n, cudaMemsetAsync(y->data, 0, nn_tensor_nbytes(y), ctx->stream));
        /* Y = beta*C would need one more kernel for a case no real model has. */
        if (has_c && beta != 1.f)
            return nn_node_error(e, n, FP_EUNSUPPORTED, "cuda: Gemm with K = 0 and beta != 1");
        return 0;
    }
    cudaDataType_t t = blas_dt(y->dtype);
    float b = has_c ? beta : 0.f;
    CUBLAS_CHECK(e, n, cublasGemmEx(ctx->cublas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, (int)N,
                                    (int)M, (int)K, &alpha, cu_in(cn, in, 1), t, tb ? (int)K : (int)N, cu_in(cn, in, 0), t,
                                    ta ? (int)M : (int)K, &b, y->data, t, (int)N, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    return 0;
}

const cu_op cu_ops_gemm[] = {
    {"MatMul", mm_supports, NULL, mm_run, 0},
    {"Gemm", gemm_supports, NULL, gemm_run, 0},
    {NULL, NULL, NULL, NULL, 0},
};
