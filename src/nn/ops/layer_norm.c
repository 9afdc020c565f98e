/*
 * layer_norm — ONNX LayerNormalization (opset 17) on the CPU, float32: X is viewed as [outer, inner]
 * split at `axis`; each row is normalised by its mean and population variance (double accumulation,
 * which is at least the precision stash_type = 1 asks for), then multiplied by Scale and shifted by B,
 * both broadcast (numpy rules, right-aligned) to X's trailing shape. Optional outputs Mean and
 * InvStdDev have X's shape with the normalised dims set to 1. Rows run in parallel, one writer each.
 */
#include "nn/nn_op.h"
#include "nn/ops/ops_b_util.h"

#include <math.h>

typedef struct ln_args {
    const float *x, *scale, *bias;
    float *y, *mean, *inv;
    int64_t inner;
    int nin_dims;                        /* normalised dims */
    int64_t dims[NN_MAX_DIMS];           /* X's trailing (normalised) dims */
    int64_t sstr[NN_MAX_DIMS], bstr[NN_MAX_DIMS]; /* broadcast strides of scale/bias over them (0 = repeat) */
    int scale_dense, bias_dense;         /* tensor covers the trailing shape exactly */
    float eps;
} ln_args;

/* Strides mapping a trailing-shape index onto a right-aligned broadcastable tensor; -1 if it does not
 * broadcast. */
static int ln_bcast(const nn_tensor *t, const int64_t *dims, int nd, int64_t *str, int *dense)
{
    int64_t s = 1;
    if (t->ndim > nd)
        return -1;
    *dense = 1;
    for (int i = nd - 1; i >= 0; i--) {
        int ti = t->ndim - (nd - i);
        int64_t td = ti >= 0 ? t->dims[ti] : 1;
        if (td == dims[i]) {
            str[i] = s;
            s *= td;
        } else if (td == 1) {
            str[i] = 0;
            *dense = 0;
        } else {
            return -1;
        }
    }
    return 0;
}

static int ln_setup(const nn_node *n, nn_tensor *const *in, int nin, ln_args *a, int *axis, fp_err *e)
{
    int r, ax;
    if ((r = opsb_require_inputs(n, in, nin, 2, e)) < 0 || (r = opsb_require_float(n, in, nin, 7u, e)) < 0)
        return r;
    if (nn_norm_axis(nn_attr_int(n, "axis", -1), in[0]->ndim, &ax) < 0)
        return nn_node_error(e, n, FP_EMODEL, "axis %lld out of range for rank %d",
                             (long long)nn_attr_int(n, "axis", -1), in[0]->ndim);
    a->nin_dims = in[0]->ndim - ax;
    a->inner = 1;
    for (int i = 0; i < a->nin_dims; i++) {
        a->dims[i] = in[0]->dims[ax + i];
        a->inner *= a->dims[i];
    }
    if (ln_bcast(in[1], a->dims, a->nin_dims, a->sstr, &a->scale_dense) < 0)
        return nn_node_error(e, n, FP_EMODEL, "Scale does not broadcast to the normalised shape");
    a->bias_dense = 1;
    if (nin > 2 && in[2] && ln_bcast(in[2], a->dims, a->nin_dims, a->bstr, &a->bias_dense) < 0)
        return nn_node_error(e, n, FP_EMODEL, "B does not broadcast to the normalised shape");
    *axis = ax;
    return 0;
}

static int ln_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout, fp_err *e)
{
    ln_args a;
    int ax, r = ln_setup(n, in, nin, &a, &ax, e);
    int64_t sd[NN_MAX_DIMS];
    if (r < 0)
        return r;
    out[0]->dtype = NN_DT_FLOAT;
    if ((r = nn_tensor_set_shape(out[0], in[0]->ndim, in[0]->dims)) < 0)
        return r;
    for (int i = 0; i < in[0]->ndim; i++)
        sd[i] = i < ax ? in[0]->dims[i] : 1;
    for (int o = 1; o < nout && o < 3; o++)
        if (out[o]) {
            out[o]->dtype = NN_DT_FLOAT;
            if ((r = nn_tensor_set_shape(out[o], in[0]->ndim, sd)) < 0)
                return r;
        }
    return 0;
}

static int64_t ln_index(const ln_args *a, const int64_t *str, int64_t i)
{
    int64_t off = 0;
    for (int d = a->nin_dims - 1; d >= 0; d--) {
        off += (i % a->dims[d]) * str[d];
        i /= a->dims[d];
    }
    return off;
}

static void ln_rows(void *arg, int64_t r0, int64_t r1)
{
    const ln_args *a = arg;
    for (int64_t r = r0; r < r1; r++) {
        const float *xp = a->x + r * a->inner;
        float *yp = a->y + r * a->inner;
        double s = 0, ss = 0;
        float mean, inv;
        for (int64_t i = 0; i < a->inner; i++)
            s += xp[i];
        s /= (double)a->inner;
        for (int64_t i = 0; i < a->inner; i++)
            ss += (xp[i] - s) * (xp[i] - s);
        ss /= (double)a->inner;
        mean = (float)s;
        inv = (float)(1.0 / sqrt(ss + a->eps));
        if (a->mean)
            a->mean[r] = mean;
        if (a->inv)
            a->inv[r] = inv;
        for (int64_t i = 0; i < a->inner; i++) {
            float sc = a->scale[a->scale_dense ? i : ln_index(a, a->sstr, i)];
            float b = a->bias ? a->bias[a->bias_dense ? i : ln_index(a, a->bstr, i)] : 0.0f;
            yp[i] = (xp[i] - mean) * inv * sc + b;
        }
    }
}

static int ln_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                  nn_cpu_ctx *ctx, fp_err *e)
{
    ln_args a;
    int ax, r = ln_setup(n, in, nin, &a, &ax, e);
    int64_t outer = 1;
    if (r < 0)
        return r;
    for (int i = 0; i < ax; i++)
        outer *= in[0]->dims[i];
    a.x = in[0]->data;
    a.scale = in[1]->data;
    a.bias = nin > 2 && in[2] ? in[2]->data : NULL;
    a.y = out[0]->data;
    a.mean = nout > 1 && out[1] ? out[1]->data : NULL;
    a.inv = nout > 2 && out[2] ? out[2]->data : NULL;
    a.eps = nn_attr_float(n, "epsilon", 1e-5f);
    nn_cpu_parallel_for(ctx, outer, ln_rows, &a);
    return 0;
}

const nn_op_def nn_op_layer_norm = {
    .op_type = "LayerNormalization",
    .domain = "",
    .min_opset = 17,
    .infer = ln_infer,
    .cpu = ln_cpu,
};
