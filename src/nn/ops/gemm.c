/*
 * gemm — ONNX Gemm (opsets 7–13+): Y = alpha·op(A)·op(B) + beta·C with transA/transB and C broadcast
 * unidirectionally to [M, N] (scalar, [N], [M,1], [1,N] or [M,N]); C optional from opset 11. float32
 * on the CPU through one OpenBLAS sgemm. Does not own MatMul (matmul.c).
 */
#include "nn/nn_op.h"
#include "nn/ops/ops_b_util.h"

typedef struct gemm_dims {
    int64_t m, n, k;
    int ta, tb;
} gemm_dims;

static int gemm_check(const nn_node *n, nn_tensor *const *in, int nin, gemm_dims *d, fp_err *e)
{
    int r;
    int64_t kb;
    if ((r = opsb_require_inputs(n, in, nin, 2, e)) < 0 || (r = opsb_require_float(n, in, nin, 7u, e)) < 0)
        return r;
    if (in[0]->ndim != 2 || in[1]->ndim != 2)
        return nn_node_error(e, n, FP_EMODEL, "A and B must be 2-D (ranks %d, %d)", in[0]->ndim, in[1]->ndim);
    d->ta = nn_attr_int(n, "transA", 0) != 0;
    d->tb = nn_attr_int(n, "transB", 0) != 0;
    d->m = in[0]->dims[d->ta ? 1 : 0];
    d->k = in[0]->dims[d->ta ? 0 : 1];
    kb = in[1]->dims[d->tb ? 1 : 0];
    d->n = in[1]->dims[d->tb ? 0 : 1];
    if (kb != d->k)
        return nn_node_error(e, n, FP_EMODEL, "inner dimensions differ (%lld vs %lld)", (long long)d->k,
                             (long long)kb);
    if (nin > 2 && in[2]) {
        const nn_tensor *c = in[2];
        int64_t cm = c->ndim >= 2 ? c->dims[c->ndim - 2] : 1, cn = c->ndim >= 1 ? c->dims[c->ndim - 1] : 1;
        if (c->ndim > 2 || (cm != 1 && cm != d->m) || (cn != 1 && cn != d->n))
            return nn_node_error(e, n, FP_EMODEL, "C does not broadcast to [%lld,%lld]", (long long)d->m,
                                 (long long)d->n);
    }
    return 0;
}

static int gemm_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout, fp_err *e)
{
    gemm_dims d;
    int r = gemm_check(n, in, nin, &d, e);
    if (r < 0)
        return r;
    out[0]->dtype = NN_DT_FLOAT;
    return nn_tensor_set_shape(out[0], 2, (int64_t[]){ d.m, d.n });
}

static int gemm_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                    nn_cpu_ctx *ctx, fp_err *e)
{
    gemm_dims d;
    float alpha = nn_attr_float(n, "alpha", 1.0f), beta = nn_attr_float(n, "beta", 1.0f), gb = 0.0f;
    float *y = out[0]->data;
    int r = gemm_check(n, in, nin, &d, e);
    if (r < 0)
        return r;
    if (nin > 2 && in[2] && beta != 0.0f) {
        const nn_tensor *c = in[2];
        const float *cv = c->data;
        int64_t cm = c->ndim >= 2 ? c->dims[c->ndim - 2] : 1, cn = c->ndim >= 1 ? c->dims[c->ndim - 1] : 1;
        for (int64_t i = 0; i < d.m; i++)
            for (int64_t j = 0; j < d.n; j++)
                y[i * d.n + j] = beta * cv[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
        gb = 1.0f;
    }
    opsb_sgemm(ctx, d.ta, d.tb, d.m, d.n, d.k, alpha, in[0]->data, in[0]->dims[1], in[1]->data, in[1]->dims[1], gb,
               y, d.n);
    return 0;
}

const nn_op_def nn_op_gemm = {
    .op_type = "Gemm",
    .domain = "",
    .min_opset = 7,
    .infer = gemm_infer,
    .cpu = gemm_cpu,
};
