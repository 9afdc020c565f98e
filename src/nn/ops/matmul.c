/*
 * matmul — ONNX MatMul (opsets 1–13+) with numpy semantics: 1-D operands are promoted ([K] → [1,K] on
 * the left, [K,1] on the right) and the promoted dim removed from the result; leading (batch) dims
 * broadcast. float32 on the CPU: one OpenBLAS sgemm per output batch matrix, in order, so the result
 * does not depend on the runtime's thread count. Does not own Gemm (gemm.c).
 */
#include "nn/nn_op.h"
#include "nn/ops/ops_b_util.h"

typedef struct mm_shape {
    int64_t m, k, n;
    int nb;                          /* batch dims of the output */
    int64_t bdims[NN_MAX_DIMS];      /* output batch dims */
    int64_t astr[NN_MAX_DIMS], bstr[NN_MAX_DIMS]; /* matrix-count strides of A, B per batch dim (0 = bcast) */
    int ndim;                        /* output rank */
    int64_t odims[NN_MAX_DIMS];
} mm_shape;

static int mm_check(const nn_node *n, nn_tensor *const *in, int nin, mm_shape *s, fp_err *e)
{
    const nn_tensor *a, *b;
    int r, anb, bnb, o = 0;
    int64_t ka, sa = 1, sb = 1;

    if ((r = opsb_require_inputs(n, in, nin, 2, e)) < 0 || (r = opsb_require_float(n, in, nin, 3u, e)) < 0)
        return r;
    a = in[0];
    b = in[1];
    if (a->ndim < 1 || b->ndim < 1)
        return nn_node_error(e, n, FP_EMODEL, "MatMul operands must have rank >= 1");
    s->m = a->ndim >= 2 ? a->dims[a->ndim - 2] : 1;
    ka = a->dims[a->ndim - 1];
    s->k = b->ndim >= 2 ? b->dims[b->ndim - 2] : b->dims[0];
    s->n = b->ndim >= 2 ? b->dims[b->ndim - 1] : 1;
    if (ka != s->k)
        return nn_node_error(e, n, FP_EMODEL, "inner dimensions differ (%lld vs %lld)", (long long)ka,
                             (long long)s->k);
    anb = a->ndim > 2 ? a->ndim - 2 : 0;
    bnb = b->ndim > 2 ? b->ndim - 2 : 0;
    s->nb = anb > bnb ? anb : bnb;
    for (int i = s->nb - 1; i >= 0; i--) {
        int ai = i - (s->nb - anb), bi = i - (s->nb - bnb);
        int64_t ad = ai >= 0 ? a->dims[ai] : 1, bd = bi >= 0 ? b->dims[bi] : 1;
        if (ad != bd && ad != 1 && bd != 1)
            return nn_node_error(e, n, FP_EMODEL, "batch dims %lld and %lld do not broadcast", (long long)ad,
                                 (long long)bd);
        s->bdims[i] = ad > bd ? ad : bd;
        if (ad == 0 || bd == 0)
            s->bdims[i] = 0;
        s->astr[i] = ad == 1 ? 0 : sa;
        s->bstr[i] = bd == 1 ? 0 : sb;
        sa *= ad;
        sb *= bd;
    }
    for (int i = 0; i < s->nb; i++)
        s->odims[o++] = s->bdims[i];
    if (a->ndim >= 2)
        s->odims[o++] = s->m;
    if (b->ndim >= 2)
        s->odims[o++] = s->n;
    s->ndim = o;
    return 0;
}

static int mm_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout, fp_err *e)
{
    mm_shape s;
    int r = mm_check(n, in, nin, &s, e);
    if (r < 0)
        return r;
    out[0]->dtype = NN_DT_FLOAT;
    return nn_tensor_set_shape(out[0], s.ndim, s.odims);
}

static int mm_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                  nn_cpu_ctx *ctx, fp_err *e)
{
    mm_shape s;
    int64_t nbat = 1;
    const float *a, *b;
    float *y;
    int r = mm_check(n, in, nin, &s, e);
    if (r < 0)
        return r;
    a = in[0]->data;
    b = in[1]->data;
    y = out[0]->data;
    for (int i = 0; i < s.nb; i++)
        nbat *= s.bdims[i];
    for (int64_t t = 0; t < nbat; t++) {
        int64_t ia = 0, ib = 0, rem = t;
        for (int i = s.nb - 1; i >= 0; i--) {
            int64_t idx = rem % s.bdims[i];
            rem /= s.bdims[i];
            ia += idx * s.astr[i];
            ib += idx * s.bstr[i];
        }
        opsb_sgemm(ctx, 0, 0, s.m, s.n, s.k, 1.0f, a + ia * s.m * s.k, s.k, b + ib * s.k * s.n, s.n, 0.0f,
                   y + t * s.m * s.n, s.n);
    }
    return 0;
}

const nn_op_def nn_op_matmul = {
    .op_type = "MatMul",
    .domain = "",
    .min_opset = 1,
    .infer = mm_infer,
    .cpu = mm_cpu,
};
