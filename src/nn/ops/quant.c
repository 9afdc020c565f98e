/*
 * quant — CPU kernels of linear quantisation: QuantizeLinear, DequantizeLinear (per-tensor and
 * per-axis scales, optional zero point) and DynamicQuantizeLinear (uint8 with a computed scale).
 *
 * Owns those op defs. Quantisation rounds half to even (rint) and saturates to the zero point's type,
 * as the spec says; float8 types are not supported (FP_EUNSUPPORTED). Does not own registration.
 */
#include "nn/ops/opsa_util.h"

#include <math.h>
#include <string.h>

static int q_is_quant(nn_dtype t)
{
    return t == NN_DT_UINT8 || t == NN_DT_INT8 || t == NN_DT_INT32 || t == NN_DT_UINT16 || t == NN_DT_INT16;
}

/* Scale/zero-point layout: per-tensor (1 value) or per-axis (dims[axis] values). Returns the axis
 * (-1 for per-tensor) or a negative code. */
static int q_layout(const nn_node *n, const nn_tensor *x, const nn_tensor *scale, const nn_tensor *zp, int *axis,
                    fp_err *e)
{
    *axis = -1;
    if (nn_tensor_numel(scale) == 1 && scale->ndim <= 1)
        return 0;
    if (scale->ndim != 1 || n->opset < 13)
        return nn_node_error(e, n, FP_EMODEL, "scale must be a scalar or a 1-D per-axis tensor");
    if (nn_norm_axis(nn_attr_int(n, "axis", 1), x->ndim, axis) < 0)
        return nn_node_error(e, n, FP_EMODEL, "axis out of range for rank %d", x->ndim);
    if (scale->dims[0] != x->dims[*axis])
        return nn_node_error(e, n, FP_EMODEL, "scale has %lld values, axis %d has %lld", (long long)scale->dims[0],
                             *axis, (long long)x->dims[*axis]);
    if (zp && nn_tensor_numel(zp) != scale->dims[0])
        return nn_node_error(e, n, FP_EMODEL, "zero point and scale differ in length");
    return 0;
}

static int quantize_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                          fp_err *e)
{
    int axis, ret;
    if (nin < 2 || !in[0] || !in[1])
        return nn_node_error(e, n, FP_EMODEL, "needs x and y_scale");
    const nn_tensor *zp = nin > 2 ? in[2] : NULL;
    if (!opsa_dt_is_float(in[0]->dtype) || !opsa_dt_is_float(in[1]->dtype))
        return nn_node_error(e, n, FP_EUNSUPPORTED, "x and scale must be float types");
    if (zp && zp->dtype != NN_DT_UINT8 && zp->dtype != NN_DT_INT8 && zp->dtype != NN_DT_UINT16 &&
        zp->dtype != NN_DT_INT16)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "zero point dtype %s not supported", nn_dtype_name(zp->dtype));
    if ((ret = q_layout(n, in[0], in[1], zp, &axis, e)) < 0)
        return ret;
    out[0]->dtype = zp ? zp->dtype : NN_DT_UINT8;
    return opsa_set_shape(n, e, out[0], in[0]->ndim, in[0]->dims);
}

static double q_limit(nn_dtype t, int hi)
{
    switch (t) {
    case NN_DT_UINT8: return hi ? 255 : 0;
    case NN_DT_INT8: return hi ? 127 : -128;
    case NN_DT_UINT16: return hi ? 65535 : 0;
    case NN_DT_INT16: return hi ? 32767 : -32768;
    default: return hi ? 2147483647.0 : -2147483648.0;
    }
}

static int quantize_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                        nn_cpu_ctx *ctx, fp_err *e)
{
    int axis, ret;
    const nn_tensor *x = in[0], *sc = in[1], *zp = nin > 2 ? in[2] : NULL;
    if ((ret = q_layout(n, x, sc, zp, &axis, e)) < 0)
        return ret;
    nn_dtype ot = out[0]->dtype;
    double lo = q_limit(ot, 0), hi = q_limit(ot, 1);
    int64_t total = nn_tensor_numel(x);
    int64_t inner = axis < 0 ? 1 : opsa_dims_numel(x->dims + axis + 1, x->ndim - axis - 1);
    int64_t len = axis < 0 ? 1 : x->dims[axis];
    for (int64_t i = 0; i < total; i++) {
        int64_t c = axis < 0 ? 0 : (i / inner) % len;
        double s = opsa_load_f64(sc->dtype, sc->data, c);
        double z = zp ? (double)opsa_load_i64(zp->dtype, zp->data, c) : 0;
        /* divide in float32 for float32 tensors: a double quotient can round to the other side of
         * a .5 tie than the float32 one the spec's reference computes */
        double q = x->dtype == NN_DT_FLOAT && sc->dtype == NN_DT_FLOAT
                       ? (double)(((const float *)x->data)[i] / (float)s)
                       : opsa_load_f64(x->dtype, x->data, i) / s;
        double v = rint(q) + z;
        v = isnan(v) ? 0 : v < lo ? lo : v > hi ? hi : v;
        opsa_store_i64(ot, out[0]->data, i, (int64_t)v);
    }
    return 0;
}

const nn_op_def nn_op_quantizelinear = { "QuantizeLinear", "", 1, quantize_infer, quantize_cpu, 0 };

static int dequantize_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                            fp_err *e)
{
    int axis, ret;
    if (nin < 2 || !in[0] || !in[1])
        return nn_node_error(e, n, FP_EMODEL, "needs x and x_scale");
    const nn_tensor *zp = nin > 2 ? in[2] : NULL;
    if (!q_is_quant(in[0]->dtype) || !opsa_dt_is_float(in[1]->dtype))
        return nn_node_error(e, n, FP_EUNSUPPORTED, "dequantize from %s with a %s scale not supported",
                             nn_dtype_name(in[0]->dtype), nn_dtype_name(in[1]->dtype));
    if (zp && zp->dtype != in[0]->dtype)
        return nn_node_error(e, n, FP_EMODEL, "zero point dtype differs from x");
    if ((ret = q_layout(n, in[0], in[1], zp, &axis, e)) < 0)
        return ret;
    out[0]->dtype = in[1]->dtype;
    return opsa_set_shape(n, e, out[0], in[0]->ndim, in[0]->dims);
}

static int dequantize_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                          nn_cpu_ctx *ctx, fp_err *e)
{
    int axis, ret;
    const nn_tensor *x = in[0], *sc = in[1], *zp = nin > 2 ? in[2] : NULL;
    if ((ret = q_layout(n, x, sc, zp, &axis, e)) < 0)
        return ret;
    int64_t total = nn_tensor_numel(x);
    int64_t inner = axis < 0 ? 1 : opsa_dims_numel(x->dims + axis + 1, x->ndim - axis - 1);
    int64_t len = axis < 0 ? 1 : x->dims[axis];
    for (int64_t i = 0; i < total; i++) {
        int64_t c = axis < 0 ? 0 : (i / inner) % len;
        int64_t z = zp ? opsa_load_i64(zp->dtype, zp->data, c) : 0;
        double v = (double)(opsa_load_i64(x->dtype, x->data, i) - z) * opsa_load_f64(sc->dtype, sc->data, c);
        opsa_store_f64(out[0]->dtype, out[0]->data, i, v);
    }
    return 0;
}

const nn_op_def nn_op_dequantizelinear = { "DequantizeLinear", "", 1, dequantize_infer, dequantize_cpu, 0 };

/* ---- DynamicQuantizeLinear: uint8 with scale and zero point computed from the data ---- */

static int dynq_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout, fp_err *e)
{
    int ret;
    if (nin < 1 || !in[0])
        return nn_node_error(e, n, FP_EMODEL, "missing input");
    if (in[0]->dtype != NN_DT_FLOAT)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "input must be float32");
    out[0]->dtype = NN_DT_UINT8;
    if ((ret = opsa_set_shape(n, e, out[0], in[0]->ndim, in[0]->dims)) < 0)
        return ret;
    if (nout > 1 && out[1]) {
        out[1]->dtype = NN_DT_FLOAT;
        nn_tensor_set_shape(out[1], 0, NULL);
    }
    if (nout > 2 && out[2]) {
        out[2]->dtype = NN_DT_UINT8;
        nn_tensor_set_shape(out[2], 0, NULL);
    }
    return 0;
}

static int dynq_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout, nn_cpu_ctx *ctx,
                    fp_err *e)
{
    const float *x = in[0]->data;
    int64_t total = nn_tensor_numel(in[0]);
    float mn = 0, mx = 0; /* the range always includes 0 so that 0 is exact */
    for (int64_t i = 0; i < total; i++) {
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
    }
    float scale = (mx - mn) / 255.0f;
    float zpf = scale != 0 ? rintf(0 - mn / scale) : 0;
    zpf = zpf < 0 ? 0 : zpf > 255 ? 255 : zpf;
    uint8_t *y = out[0]->data;
    for (int64_t i = 0; i < total; i++) {
        float v = scale != 0 ? rintf(x[i] / scale) + zpf : zpf;
        y[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
    if (nout > 1 && out[1])
        *(float *)out[1]->data = scale;
    if (nout > 2 && out[2])
        *(uint8_t *)out[2]->data = (uint8_t)zpf;
    return 0;
}

const nn_op_def nn_op_dynamicquantizelinear = { "DynamicQuantizeLinear", "", 1, dynq_infer, dynq_cpu, 0 };
