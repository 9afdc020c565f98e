/*
 * lrn — ONNX LRN (opsets 1–13), local response normalisation across channels, float32 on the CPU:
 * y = x / (bias + alpha/size · Σ x²)^beta over channels [c − ⌊(size−1)/2⌋, c + ⌈(size−1)/2⌉].
 * Planes (batch × channel) run in parallel, one writer each.
 */
#include "nn/nn_op.h"
#include "nn/ops/ops_b_util.h"

#include <math.h>

typedef struct lrn_args {
    const float *x;
    float *y;
    int64_t c, plane, size;
    float alpha, beta, bias;
} lrn_args;

static int lrn_check(const nn_node *n, nn_tensor *const *in, int nin, fp_err *e)
{
    int r;
    if ((r = opsb_require_inputs(n, in, nin, 1, e)) < 0 || (r = opsb_require_float(n, in, nin, 1u, e)) < 0)
        return r;
    if (in[0]->ndim < 3)
        return nn_node_error(e, n, FP_EMODEL, "X must have rank >= 3");
    if (nn_attr_int(n, "size", 0) < 1)
        return nn_node_error(e, n, FP_EMODEL, "attribute size must be >= 1");
    return 0;
}

static int lrn_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout, fp_err *e)
{
    int r = lrn_check(n, in, nin, e);
    if (r < 0)
        return r;
    out[0]->dtype = NN_DT_FLOAT;
    return nn_tensor_set_shape(out[0], in[0]->ndim, in[0]->dims);
}

static void lrn_planes(void *arg, int64_t p0, int64_t p1)
{
    const lrn_args *a = arg;
    int64_t lo_off = (a->size - 1) / 2, hi_off = a->size - 1 - lo_off;
    for (int64_t p = p0; p < p1; p++) {
        int64_t c = p % a->c, base = p - c;
        int64_t lo = c - lo_off < 0 ? 0 : c - lo_off, hi = c + hi_off >= a->c ? a->c - 1 : c + hi_off;
        const float *xp = a->x + p * a->plane;
        float *yp = a->y + p * a->plane;
        for (int64_t i = 0; i < a->plane; i++) {
            float s = 0.0f;
            for (int64_t k = lo; k <= hi; k++) {
                float v = a->x[(base + k) * a->plane + i];
                s += v * v;
            }
            yp[i] = xp[i] / powf(a->bias + a->alpha / (float)a->size * s, a->beta);
        }
    }
}

static int lrn_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                   nn_cpu_ctx *ctx, fp_err *e)
{
    lrn_args a;
    int r = lrn_check(n, in, nin, e);
    if (r < 0)
        return r;
    a.x = in[0]->data;
    a.y = out[0]->data;
    a.c = in[0]->dims[1];
    a.plane = 1;
    for (int i = 2; i < in[0]->ndim; i++)
        a.plane *= in[0]->dims[i];
    a.size = nn_attr_int(n, "size", 1);
    a.alpha = nn_attr_float(n, "alpha", 1e-4f);
    a.beta = nn_attr_float(n, "beta", 0.75f);
    a.bias = nn_attr_float(n, "bias", 1.0f);
    nn_cpu_parallel_for(ctx, in[0]->dims[0] * a.c, lrn_planes, &a);
    return 0;
}

const nn_op_def nn_op_lrn = {
    .op_type = "LRN", .domain = "", .min_opset = 1, .infer = lrn_infer, .cpu = lrn_cpu,
};
