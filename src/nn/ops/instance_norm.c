/*
 * instance_norm — ONNX InstanceNormalization (opsets 6–22) on the CPU, float32: each (batch, channel)
 * plane is normalised by its own mean and population variance, then scaled and shifted per channel.
 * Statistics accumulate in double (two passes) so the reference stays accurate on large planes.
 * Planes run in parallel, one writer each.
 */
#include "nn/nn_op.h"
#include "nn/ops/ops_b_util.h"

#include <math.h>

static int in_check(const nn_node *n, nn_tensor *const *in, int nin, fp_err *e)
{
    int r;
    if ((r = opsb_require_inputs(n, in, nin, 3, e)) < 0 || (r = opsb_require_float(n, in, nin, 7u, e)) < 0)
        return r;
    if (in[0]->ndim < 3)
        return nn_node_error(e, n, FP_EMODEL, "X must have rank >= 3");
    if (nn_tensor_numel(in[1]) != in[0]->dims[1] || nn_tensor_numel(in[2]) != in[0]->dims[1])
        return nn_node_error(e, n, FP_EMODEL, "scale and B need %lld values", (long long)in[0]->dims[1]);
    return 0;
}

static int in_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout, fp_err *e)
{
    int r = in_check(n, in, nin, e);
    if (r < 0)
        return r;
    out[0]->dtype = NN_DT_FLOAT;
    return nn_tensor_set_shape(out[0], in[0]->ndim, in[0]->dims);
}

typedef struct in_args {
    const float *x, *scale, *bias;
    float *y;
    int64_t c, plane;
    float eps;
} in_args;

static void in_planes(void *arg, int64_t p0, int64_t p1)
{
    const in_args *a = arg;
    for (int64_t p = p0; p < p1; p++) {
        const float *xp = a->x + p * a->plane;
        float *yp = a->y + p * a->plane;
        int64_t c = p % a->c;
        double s = 0, ss = 0;
        float mean, k;
        for (int64_t i = 0; i < a->plane; i++)
            s += xp[i];
        s /= (double)a->plane;
        for (int64_t i = 0; i < a->plane; i++)
            ss += (xp[i] - s) * (xp[i] - s);
        ss /= (double)a->plane;
        mean = (float)s;
        k = (float)(a->scale[c] / sqrt(ss + a->eps));
        for (int64_t i = 0; i < a->plane; i++)
            yp[i] = (xp[i] - mean) * k + a->bias[c];
    }
}

static int in_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                  nn_cpu_ctx *ctx, fp_err *e)
{
    in_args a;
    int r = in_check(n, in, nin, e);
    if (r < 0)
        return r;
    a.x = in[0]->data;
    a.scale = in[1]->data;
    a.bias = in[2]->data;
    a.y = out[0]->data;
    a.c = in[0]->dims[1];
    a.plane = 1;
    for (int i = 2; i < in[0]->ndim; i++)
        a.plane *= in[0]->dims[i];
    a.eps = nn_attr_float(n, "epsilon", 1e-5f);
    nn_cpu_parallel_for(ctx, in[0]->dims[0] * a.c, in_planes, &a);
    return 0;
}

const nn_op_def nn_op_instance_norm = {
    .op_type = "InstanceNormalization",
    .domain = "",
    .min_opset = 6,
    .infer = in_infer,
    .cpu = in_cpu,
};
