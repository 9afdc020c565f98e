/*
 * batch_norm — ONNX BatchNormalization (opsets 9–15) on the CPU, float32.
 *
 * Inference (training_mode = 0, the case every exported model uses): y = scale·(x − mean)/√(var + ε)
 * + B per channel of axis 1. training_mode = 1 (opset 14+) normalises with the batch's own statistics
 * (population variance) and writes running_mean/running_var = momentum·old + (1 − momentum)·batch,
 * as the ONNX reference does. Opset < 14 training outputs (saved mean/var) are reported unsupported.
 * Per-channel work runs in parallel; each output element has one writer.
 */
#include "nn/nn_op.h"
#include "nn/ops/ops_b_util.h"

#include <math.h>

static int bn_check(const nn_node *n, nn_tensor *const *in, int nin, int nout, fp_err *e)
{
    int r;
    int64_t c;
    if ((r = opsb_require_inputs(n, in, nin, 5, e)) < 0 || (r = opsb_require_float(n, in, nin, 31u, e)) < 0)
        return r;
    if (in[0]->ndim < 2)
        return nn_node_error(e, n, FP_EMODEL, "X must have rank >= 2");
    c = in[0]->dims[1];
    for (int i = 1; i < 5; i++)
        if (nn_tensor_numel(in[i]) != c)
            return nn_node_error(e, n, FP_EMODEL, "input %d has %lld values for %lld channels", i,
                                 (long long)nn_tensor_numel(in[i]), (long long)c);
    if (n->opset < 14 && nout > 1)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "training outputs of opset %d BatchNormalization", n->opset);
    if (nn_attr_int(n, "training_mode", 0) && nout > 3)
        return nn_node_error(e, n, FP_EMODEL, "training mode has at most 3 outputs");
    return 0;
}

static int bn_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout, fp_err *e)
{
    int r = bn_check(n, in, nin, nout, e);
    if (r < 0)
        return r;
    out[0]->dtype = NN_DT_FLOAT;
    if ((r = nn_tensor_set_shape(out[0], in[0]->ndim, in[0]->dims)) < 0)
        return r;
    for (int i = 1; i < nout && i < 3; i++)
        if (out[i]) {
            out[i]->dtype = NN_DT_FLOAT;
            if ((r = nn_tensor_set_shape(out[i], 1, &in[0]->dims[1])) < 0)
                return r;
        }
    return 0;
}

typedef struct bn_args {
    const float *x, *scale, *bias, *mean, *var;
    float *y, *run_mean, *run_var;
    int64_t n, c, plane;
    float eps, momentum;
    int training;
} bn_args;

static void bn_chans(void *arg, int64_t c0, int64_t c1)
{
    const bn_args *a = arg;
    for (int64_t c = c0; c < c1; c++) {
        float mean = a->mean[c], var = a->var[c];
        if (a->training) {
            double s = 0, ss = 0, cnt = (double)(a->n * a->plane);
            for (int64_t b = 0; b < a->n; b++) {
                const float *xp = a->x + (b * a->c + c) * a->plane;
                for (int64_t i = 0; i < a->plane; i++)
                    s += xp[i];
            }
            s /= cnt;
            for (int64_t b = 0; b < a->n; b++) {
                const float *xp = a->x + (b * a->c + c) * a->plane;
                for (int64_t i = 0; i < a->plane; i++)
                    ss += (xp[i] - s) * (xp[i] - s);
            }
            ss /= cnt;
            if (a->run_mean)
                a->run_mean[c] = (float)(a->mean[c] * a->momentum + s * (1.0 - a->momentum));
            if (a->run_var)
                a->run_var[c] = (float)(a->var[c] * a->momentum + ss * (1.0 - a->momentum));
            mean = (float)s;
            var = (float)ss;
        }
        {
            float k = a->scale[c] / sqrtf(var + a->eps), sh = a->bias[c];
            for (int64_t b = 0; b < a->n; b++) {
                const float *xp = a->x + (b * a->c + c) * a->plane;
                float *yp = a->y + (b * a->c + c) * a->plane;
                for (int64_t i = 0; i < a->plane; i++)
                    yp[i] = (xp[i] - mean) * k + sh;
            }
        }
    }
}

static int bn_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                  nn_cpu_ctx *ctx, fp_err *e)
{
    bn_args a;
    int r = bn_check(n, in, nin, nout, e);
    if (r < 0)
        return r;
    a.x = in[0]->data;
    a.scale = in[1]->data;
    a.bias = in[2]->data;
    a.mean = in[3]->data;
    a.var = in[4]->data;
    a.y = out[0]->data;
    a.run_mean = nout > 1 && out[1] ? out[1]->data : NULL;
    a.run_var = nout > 2 && out[2] ? out[2]->data : NULL;
    a.n = in[0]->dims[0];
    a.c = in[0]->dims[1];
    a.plane = 1;
    for (int i = 2; i < in[0]->ndim; i++)
        a.plane *= in[0]->dims[i];
    a.eps = nn_attr_float(n, "epsilon", 1e-5f);
    a.momentum = nn_attr_float(n, "momentum", 0.9f);
    a.training = n->opset >= 14 && nn_attr_int(n, "training_mode", 0) != 0;
    nn_cpu_parallel_for(ctx, a.c, bn_chans, &a);
    return 0;
}

const nn_op_def nn_op_batch_norm = {
    .op_type = "BatchNormalization",
    .domain = "",
    .min_opset = 9,
    .infer = bn_infer,
    .cpu = bn_cpu,
};
