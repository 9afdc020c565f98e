/*
 * group_norm — ONNX GroupNormalization (opset 18; opset 21's per-channel scale also accepted) on the
 * CPU, float32. Channels are split into num_groups groups; each (batch, group) block is normalised by
 * its mean and population variance (double accumulation), then scaled and shifted. Opset 18 gives
 * scale/bias per group, opset 21 per channel: the kernel follows the tensor's length (equal meanings
 * when num_groups == C). Blocks run in parallel, one writer each.
 */
#include "nn/nn_op.h"
#include "nn/ops/ops_b_util.h"

#include <math.h>

static int gn_check(const nn_node *n, nn_tensor *const *in, int nin, fp_err *e)
{
    int r;
    int64_t c, g, ns, nb;
    if ((r = opsb_require_inputs(n, in, nin, 3, e)) < 0 || (r = opsb_require_float(n, in, nin, 7u, e)) < 0)
        return r;
    if (in[0]->ndim < 2)
        return nn_node_error(e, n, FP_EMODEL, "X must have rank >= 2");
    c = in[0]->dims[1];
    g = nn_attr_int(n, "num_groups", 0);
    if (g < 1 || c % g)
        return nn_node_error(e, n, FP_EMODEL, "num_groups %lld does not divide %lld channels", (long long)g,
                             (long long)c);
    ns = nn_tensor_numel(in[1]);
    nb = nn_tensor_numel(in[2]);
    if (ns != nb || (ns != g && ns != c))
        return nn_node_error(e, n, FP_EMODEL, "scale/bias have %lld/%lld values; need %lld (groups) or %lld",
                             (long long)ns, (long long)nb, (long long)g, (long long)c);
    return 0;
}

static int gn_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout, fp_err *e)
{
    int r = gn_check(n, in, nin, e);
    if (r < 0)
        return r;
    out[0]->dtype = NN_DT_FLOAT;
    return nn_tensor_set_shape(out[0], in[0]->ndim, in[0]->dims);
}

typedef struct gn_args {
    const float *x, *scale, *bias;
    float *y;
    int64_t groups, cpg, plane;
    int per_channel;
    float eps;
} gn_args;

static void gn_blocks(void *arg, int64_t b0, int64_t b1)
{
    const gn_args *a = arg;
    int64_t len = a->cpg * a->plane;
    for (int64_t b = b0; b < b1; b++) {
        const float *xp = a->x + b * len;
        float *yp = a->y + b * len;
        int64_t g = b % a->groups;
        double s = 0, ss = 0;
        float mean, inv;
        for (int64_t i = 0; i < len; i++)
            s += xp[i];
        s /= (double)len;
        for (int64_t i = 0; i < len; i++)
            ss += (xp[i] - s) * (xp[i] - s);
        ss /= (double)len;
        mean = (float)s;
        inv = (float)(1.0 / sqrt(ss + a->eps));
        for (int64_t ci = 0; ci < a->cpg; ci++) {
            int64_t pi = a->per_channel ? g * a->cpg + ci : g;
            float k = a->scale[pi] * inv, sh = a->bias[pi];
            for (int64_t i = 0; i < a->plane; i++)
                yp[ci * a->plane + i] = (xp[ci * a->plane + i] - mean) * k + sh;
        }
    }
}

static int gn_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                  nn_cpu_ctx *ctx, fp_err *e)
{
    gn_args a;
    int r = gn_check(n, in, nin, e);
    if (r < 0)
        return r;
    a.x = in[0]->data;
    a.scale = in[1]->data;
    a.bias = in[2]->data;
    a.y = out[0]->data;
    a.groups = nn_attr_int(n, "num_groups", 1);
    a.cpg = in[0]->dims[1] / a.groups;
    a.per_channel = nn_tensor_numel(in[1]) != a.groups;
    a.plane = 1;
    for (int i = 2; i < in[0]->ndim; i++)
        a.plane *= in[0]->dims[i];
    a.eps = nn_attr_float(n, "epsilon", 1e-5f);
    nn_cpu_parallel_for(ctx, in[0]->dims[0] * a.groups, gn_blocks, &a);
    return 0;
}

const nn_op_def nn_op_group_norm = {
    .op_type = "GroupNormalization",
    .domain = "",
    .min_opset = 18,
    .infer = gn_infer,
    .cpu = gn_cpu,
};
