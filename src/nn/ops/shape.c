/*
 * shape — CPU kernels of the operators that change only a tensor's shape or describe it, and of the
 * tensor generators: Reshape, Flatten, Squeeze, Unsqueeze, Identity, Dropout (inference), Shape, Size,
 * Constant, ConstantOfShape, Range, and the window generators HannWindow, HammingWindow and
 * BlackmanWindow.
 *
 * Owns those op defs. Kernels that keep the data (Reshape...Dropout) copy bytes, or nothing when the
 * runtime gave the output the input's buffer. Generators produce values from attributes or from
 * host-side input values (value_inputs bits). Does not own Cast (cast.c) or registration.
 */
#include "nn/ops/opsa_util.h"

#include <math.h>
#include <string.h>

static int copy_data(nn_tensor *const *in, nn_tensor **out)
{
    size_t bytes = nn_tensor_nbytes(in[0]);
    if (out[0]->data != in[0]->data && bytes)
        memcpy(out[0]->data, in[0]->data, bytes);
    return 0;
}

static int copy_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                    nn_cpu_ctx *ctx, fp_err *e)
{
    return copy_data(in, out);
}

static int need_input(const nn_node *n, nn_tensor *const *in, int nin, fp_err *e)
{
    if (nin < 1 || !in[0])
        return nn_node_error(e, n, FP_EMODEL, "missing input");
    if (!nn_dtype_size(in[0]->dtype))
        return nn_node_error(e, n, FP_EUNSUPPORTED, "dtype %s not supported", nn_dtype_name(in[0]->dtype));
    return 0;
}

/* ---- Reshape ---- */

static int reshape_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                         fp_err *e)
{
    int64_t shp[NN_MAX_DIMS];
    int cnt, ret, neg = -1;
    int allowzero = (int)nn_attr_int(n, "allowzero", 0);
    if ((ret = need_input(n, in, nin, e)) < 0)
        return ret;
    if (nin < 2 || !in[1])
        return nn_node_error(e, n, FP_EMODEL, "shape input is required");
    if ((cnt = opsa_read_ints(n, in[1], "shape input", shp, NN_MAX_DIMS, e)) < 0)
        return cnt;
    int64_t total = nn_tensor_numel(in[0]), known = 1;
    for (int d = 0; d < cnt; d++) {
        if (shp[d] == 0 && !allowzero) {
            if (d >= in[0]->ndim)
                return nn_node_error(e, n, FP_EMODEL, "shape value 0 at %d copies a dim the input lacks", d);
            shp[d] = in[0]->dims[d];
        }
        if (shp[d] == -1) {
            if (neg >= 0)
                return nn_node_error(e, n, FP_EMODEL, "more than one -1 in shape");
            neg = d;
            continue;
        }
        if (shp[d] < 0)
            return nn_node_error(e, n, FP_EMODEL, "shape value %lld is invalid", (long long)shp[d]);
        if (__builtin_mul_overflow(known, shp[d], &known))
            return nn_node_error(e, n, FP_EMODEL, "shape values overflow");
    }
    if (neg >= 0) {
        if (known == 0)
            return nn_node_error(e, n, FP_EMODEL, "-1 is ambiguous with a 0 dimension");
        if (total % known)
            return nn_node_error(e, n, FP_EMODEL, "cannot reshape %lld elements with -1", (long long)total);
        shp[neg] = total / known;
        known *= shp[neg];
    }
    if (known != total) {
        char s0[64];
        return nn_node_error(e, n, FP_EMODEL, "cannot reshape %s (%lld elements) to %lld elements",
                             nn_shape_str(in[0], s0, sizeof(s0)), (long long)total, (long long)known);
    }
    out[0]->dtype = in[0]->dtype;
    return opsa_set_shape(n, e, out[0], cnt, shp);
}

const nn_op_def nn_op_reshape = { "Reshape", "", 1, reshape_infer, copy_cpu, 1u << 1 };

/* ---- Flatten ---- */

static int flatten_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                         fp_err *e)
{
    int ret, r;
    int64_t axis = nn_attr_int(n, "axis", 1), dims[2];
    if ((ret = need_input(n, in, nin, e)) < 0)
        return ret;
    r = in[0]->ndim;
    if (axis < -r || axis > r)
        return nn_node_error(e, n, FP_EMODEL, "axis %lld out of range for rank %d", (long long)axis, r);
    if (axis < 0)
        axis += r;
    dims[0] = opsa_dims_numel(in[0]->dims, (int)axis);
    dims[1] = opsa_dims_numel(in[0]->dims + axis, r - (int)axis);
    out[0]->dtype = in[0]->dtype;
    return opsa_set_shape(n, e, out[0], 2, dims);
}

const nn_op_def nn_op_flatten = { "Flatten", "", 1, flatten_infer, copy_cpu, 0 };

/* ---- Squeeze / Unsqueeze ---- */

static int squeeze_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                         fp_err *e)
{
    int axes[NN_MAX_DIMS * 2], cnt, ret, nd = 0, drop[NN_MAX_DIMS] = { 0 };
    int64_t dims[NN_MAX_DIMS];
    if ((ret = need_input(n, in, nin, e)) < 0)
        return ret;
    if ((cnt = opsa_get_axes(n, in, nin, 1, 13, in[0]->ndim, axes, e)) < 0)
        return cnt;
    for (int i = 0; i < cnt; i++) {
        if (in[0]->dims[axes[i]] != 1)
            return nn_node_error(e, n, FP_EMODEL, "cannot squeeze axis %d of size %lld", axes[i],
                                 (long long)in[0]->dims[axes[i]]);
        drop[axes[i]] = 1;
    }
    for (int d = 0; d < in[0]->ndim; d++)
        if (!(cnt ? drop[d] : in[0]->dims[d] == 1))
            dims[nd++] = in[0]->dims[d];
    out[0]->dtype = in[0]->dtype;
    return opsa_set_shape(n, e, out[0], nd, dims);
}

static int unsqueeze_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                           fp_err *e)
{
    int axes[NN_MAX_DIMS * 2], cnt, ret, add[NN_MAX_DIMS * 2] = { 0 }, r;
    int64_t dims[NN_MAX_DIMS], raw[NN_MAX_DIMS * 2];
    if ((ret = need_input(n, in, nin, e)) < 0)
        return ret;
    /* axes refer to the output rank, which depends on how many there are: count first */
    if (n->opset < 13) {
        const int64_t *a = nn_attr_ints(n, "axes", &cnt);
        for (int i = 0; i < cnt && i < NN_MAX_DIMS * 2; i++)
            raw[i] = a[i];
    } else {
        if (nin < 2 || !in[1])
            return nn_node_error(e, n, FP_EMODEL, "axes input is required");
        if ((cnt = opsa_read_ints(n, in[1], "axes input", raw, NN_MAX_DIMS * 2, e)) < 0)
            return cnt;
    }
    r = in[0]->ndim + cnt;
    if (r > NN_MAX_DIMS)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "output rank %d above %d", r, NN_MAX_DIMS);
    for (int i = 0; i < cnt; i++) {
        if (nn_norm_axis(raw[i], r, &axes[i]) < 0)
            return nn_node_error(e, n, FP_EMODEL, "axis %lld out of range for output rank %d",
                                 (long long)raw[i], r);
        if (add[axes[i]]++)
            return nn_node_error(e, n, FP_EMODEL, "axis %lld repeated", (long long)raw[i]);
    }
    for (int d = 0, k = 0; d < r; d++)
        dims[d] = add[d] ? 1 : in[0]->dims[k++];
    out[0]->dtype = in[0]->dtype;
    return opsa_set_shape(n, e, out[0], r, dims);
}

const nn_op_def nn_op_squeeze = { "Squeeze", "", 1, squeeze_infer, copy_cpu, 1u << 1 };
const nn_op_def nn_op_unsqueeze = { "Unsqueeze", "", 1, unsqueeze_infer, copy_cpu, 1u << 1 };

/* ---- Identity, Dropout ---- */

static int identity_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                          fp_err *e)
{
    int ret;
    if ((ret = need_input(n, in, nin, e)) < 0)
        return ret;
    out[0]->dtype = in[0]->dtype;
    return opsa_set_shape(n, e, out[0], in[0]->ndim, in[0]->dims);
}

const nn_op_def nn_op_identity = { "Identity", "", 1, identity_infer, copy_cpu, 0 };

/* Dropout is an identity at inference. Training mode with a ratio above 0 is random, so it is
 * refused rather than run with a different generator than the model's author used. */
static int dropout_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                         fp_err *e)
{
    int ret;
    if ((ret = identity_infer(n, in, nin, out, nout, e)) < 0)
        return ret;
    if (nin > 2 && in[2]) {
        if (!in[2]->data)
            return nn_node_error(e, n, FP_EUNSUPPORTED, "training_mode must be a constant");
        if (nn_tensor_get_i64(in[2], 0)) {
            double ratio = 0.5;
            if (nin > 1 && in[1]) {
                if (!in[1]->data)
                    return nn_node_error(e, n, FP_EUNSUPPORTED, "ratio must be a constant in training mode");
                ratio = nn_tensor_get_f64(in[1], 0);
            }
            if (ratio != 0)
                return nn_node_error(e, n, FP_EUNSUPPORTED,
                                     "training-mode dropout (random) is not supported; export for inference");
        }
    }
    if (nout > 1 && out[1]) {
        out[1]->dtype = NN_DT_BOOL;
        if ((ret = opsa_set_shape(n, e, out[1], in[0]->ndim, in[0]->dims)) < 0)
            return ret;
    }
    return 0;
}

static int dropout_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                       nn_cpu_ctx *ctx, fp_err *e)
{
    copy_data(in, out);
    if (nout > 1 && out[1])
        memset(out[1]->data, 1, (size_t)nn_tensor_numel(out[1]));
    return 0;
}

const nn_op_def nn_op_dropout = { "Dropout", "", 1, dropout_infer, dropout_cpu, (1u << 1) | (1u << 2) };

/* ---- Shape, Size ---- */

static void shape_range(const nn_node *n, int r, int64_t *s, int64_t *t)
{
    *s = n->opset >= 15 ? nn_attr_int(n, "start", 0) : 0;
    *t = n->opset >= 15 ? nn_attr_int(n, "end", r) : r;
    if (*s < 0)
        *s += r;
    if (*t < 0)
        *t += r;
    *s = *s < 0 ? 0 : *s > r ? r : *s;
    *t = *t < 0 ? 0 : *t > r ? r : *t;
    if (*t < *s)
        *t = *s;
}

static int shape_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                       fp_err *e)
{
    int64_t s, t, len;
    if (nin < 1 || !in[0])
        return nn_node_error(e, n, FP_EMODEL, "missing input");
    shape_range(n, in[0]->ndim, &s, &t);
    len = t - s;
    out[0]->dtype = NN_DT_INT64;
    return opsa_set_shape(n, e, out[0], 1, &len);
}

static int shape_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                     nn_cpu_ctx *ctx, fp_err *e)
{
    int64_t s, t;
    shape_range(n, in[0]->ndim, &s, &t);
    for (int64_t d = s; d < t; d++)
        ((int64_t *)out[0]->data)[d - s] = in[0]->dims[d];
    return 0;
}

static int size_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                      fp_err *e)
{
    if (nin < 1 || !in[0])
        return nn_node_error(e, n, FP_EMODEL, "missing input");
    out[0]->dtype = NN_DT_INT64;
    return opsa_set_shape(n, e, out[0], 0, NULL);
}

static int size_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                    nn_cpu_ctx *ctx, fp_err *e)
{
    *(int64_t *)out[0]->data = nn_tensor_numel(in[0]);
    return 0;
}

const nn_op_def nn_op_shape = { "Shape", "", 1, shape_infer, shape_cpu, 0 };
const nn_op_def nn_op_size = { "Size", "", 1, size_infer, size_cpu, 0 };

/* ---- Constant ---- */

static int constant_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                          fp_err *e)
{
    const nn_attr *a;
    int cnt;
    int64_t len;
    if ((a = nn_attr_get(n, "value")) && a->t) {
        if (!nn_dtype_size(a->t->dtype))
            return nn_node_error(e, n, FP_EUNSUPPORTED, "value of dtype %s not supported",
                                 nn_dtype_name(a->t->dtype));
        if (!a->t->data && nn_tensor_numel(a->t) > 0)
            return nn_node_error(e, n, FP_EMODEL, "value tensor has no data");
        out[0]->dtype = a->t->dtype;
        return opsa_set_shape(n, e, out[0], a->t->ndim, a->t->dims);
    }
    if (nn_attr_get(n, "value_float")) {
        out[0]->dtype = NN_DT_FLOAT;
        return opsa_set_shape(n, e, out[0], 0, NULL);
    }
    if (nn_attr_get(n, "value_int")) {
        out[0]->dtype = NN_DT_INT64;
        return opsa_set_shape(n, e, out[0], 0, NULL);
    }
    if (nn_attr_get(n, "value_floats")) {
        nn_attr_floats(n, "value_floats", &cnt);
        len = cnt;
        out[0]->dtype = NN_DT_FLOAT;
        return opsa_set_shape(n, e, out[0], 1, &len);
    }
    if (nn_attr_get(n, "value_ints")) {
        nn_attr_ints(n, "value_ints", &cnt);
        len = cnt;
        out[0]->dtype = NN_DT_INT64;
        return opsa_set_shape(n, e, out[0], 1, &len);
    }
    if (nn_attr_get(n, "sparse_value") || nn_attr_get(n, "value_string") || nn_attr_get(n, "value_strings"))
        return nn_node_error(e, n, FP_EUNSUPPORTED, "sparse and string constants are not supported");
    return nn_node_error(e, n, FP_EMODEL, "no value attribute");
}

static int constant_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                        nn_cpu_ctx *ctx, fp_err *e)
{
    const nn_attr *a;
    int cnt;
    void *dst = out[0]->data;
    if ((a = nn_attr_get(n, "value")) && a->t) {
        size_t bytes = nn_tensor_nbytes(out[0]);
        if (bytes)
            memcpy(dst, a->t->data, bytes);
    } else if (nn_attr_get(n, "value_float")) {
        *(float *)dst = nn_attr_float(n, "value_float", 0);
    } else if (nn_attr_get(n, "value_int")) {
        *(int64_t *)dst = nn_attr_int(n, "value_int", 0);
    } else if (nn_attr_get(n, "value_floats")) {
        const float *f = nn_attr_floats(n, "value_floats", &cnt);
        if (cnt)
            memcpy(dst, f, sizeof(float) * (size_t)cnt);
    } else if (nn_attr_get(n, "value_ints")) {
        const int64_t *v = nn_attr_ints(n, "value_ints", &cnt);
        if (cnt)
            memcpy(dst, v, sizeof(int64_t) * (size_t)cnt);
    }
    return 0;
}

const nn_op_def nn_op_constant = { "Constant", "", 1, constant_infer, constant_cpu, 0 };

/* ---- ConstantOfShape ---- */

static int cos_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                     fp_err *e)
{
    int64_t shp[NN_MAX_DIMS];
    int cnt;
    const nn_attr *a = nn_attr_get(n, "value");
    if (nin < 1 || !in[0])
        return nn_node_error(e, n, FP_EMODEL, "shape input is required");
    if ((cnt = opsa_read_ints(n, in[0], "shape input", shp, NN_MAX_DIMS, e)) < 0)
        return cnt;
    for (int d = 0; d < cnt; d++)
        if (shp[d] < 0)
            return nn_node_error(e, n, FP_EMODEL, "negative dimension %lld", (long long)shp[d]);
    if (a && a->t) {
        if (nn_tensor_numel(a->t) != 1 || !a->t->data)
            return nn_node_error(e, n, FP_EMODEL, "value must hold exactly one element");
        if (!nn_dtype_size(a->t->dtype))
            return nn_node_error(e, n, FP_EUNSUPPORTED, "value dtype %s", nn_dtype_name(a->t->dtype));
        out[0]->dtype = a->t->dtype;
    } else {
        out[0]->dtype = NN_DT_FLOAT;
    }
    return opsa_set_shape(n, e, out[0], cnt, shp);
}

static int cos_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                   nn_cpu_ctx *ctx, fp_err *e)
{
    const nn_attr *a = nn_attr_get(n, "value");
    size_t es = nn_dtype_size(out[0]->dtype);
    int64_t cnt = nn_tensor_numel(out[0]);
    char v[16] = { 0 };
    if (a && a->t)
        memcpy(v, a->t->data, es);
    for (int64_t i = 0; i < cnt; i++)
        memcpy((char *)out[0]->data + i * (int64_t)es, v, es);
    return 0;
}

const nn_op_def nn_op_constantofshape = { "ConstantOfShape", "", 1, cos_infer, cos_cpu, 1u << 0 };

/* ---- Range ---- */

static int range_count(const nn_node *n, nn_tensor *const *in, int nin, int64_t *cnt, fp_err *e)
{
    if (nin < 3 || !in[0] || !in[1] || !in[2])
        return nn_node_error(e, n, FP_EMODEL, "needs start, limit and delta");
    for (int k = 0; k < 3; k++) {
        if (!in[k]->data)
            return nn_node_error(e, n, FP_EUNSUPPORTED, "%s must be a constant (known when the plan is built)",
                                 k == 0 ? "start" : k == 1 ? "limit" : "delta");
        if (in[k]->dtype != in[0]->dtype || nn_tensor_numel(in[k]) != 1)
            return nn_node_error(e, n, FP_EMODEL, "start, limit and delta must be scalars of one dtype");
    }
    nn_dtype t = in[0]->dtype;
    if (t != NN_DT_FLOAT && t != NN_DT_DOUBLE && t != NN_DT_INT16 && t != NN_DT_INT32 && t != NN_DT_INT64)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "dtype %s not supported", nn_dtype_name(t));
    if (opsa_dt_is_int(t)) {
        int64_t s = nn_tensor_get_i64(in[0], 0), l = nn_tensor_get_i64(in[1], 0), d = nn_tensor_get_i64(in[2], 0);
        if (d == 0)
            return nn_node_error(e, n, FP_EMODEL, "delta is 0");
        __int128 span = d > 0 ? (__int128)l - s : (__int128)s - l, step = d > 0 ? d : -(__int128)d;
        __int128 c = span > 0 ? 1 + (span - 1) / step : 0;
        if (c > ((__int128)1 << 40))
            return nn_node_error(e, n, FP_EMODEL, "range is too large");
        *cnt = (int64_t)c;
    } else {
        double s = nn_tensor_get_f64(in[0], 0), l = nn_tensor_get_f64(in[1], 0), d = nn_tensor_get_f64(in[2], 0);
        if (d == 0 || !isfinite(s) || !isfinite(l) || !isfinite(d))
            return nn_node_error(e, n, FP_EMODEL, "delta is 0 or a value is not finite");
        double c = ceil((l - s) / d);
        if (c > 1e12)
            return nn_node_error(e, n, FP_EMODEL, "range of %g elements is too large", c);
        *cnt = c > 0 ? (int64_t)c : 0;
    }
    return 0;
}

static int range_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                       fp_err *e)
{
    int64_t cnt;
    int ret = range_count(n, in, nin, &cnt, e);
    if (ret < 0)
        return ret;
    out[0]->dtype = in[0]->dtype;
    return opsa_set_shape(n, e, out[0], 1, &cnt);
}

static int range_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                     nn_cpu_ctx *ctx, fp_err *e)
{
    int64_t cnt;
    int ret = range_count(n, in, nin, &cnt, e);
    nn_dtype t = in[0]->dtype;
    if (ret < 0)
        return ret;
    if (opsa_dt_is_int(t)) {
        int64_t s = nn_tensor_get_i64(in[0], 0), d = nn_tensor_get_i64(in[2], 0);
        for (int64_t i = 0; i < cnt; i++)
            opsa_store_i64(t, out[0]->data, i, s + i * d);
    } else if (t == NN_DT_FLOAT) {
        /* start + i * delta in the tensor's own type, as the spec defines each element */
        float s = (float)nn_tensor_get_f64(in[0], 0), d = (float)nn_tensor_get_f64(in[2], 0);
        for (int64_t i = 0; i < cnt; i++)
            ((float *)out[0]->data)[i] = s + (float)i * d;
    } else {
        double s = nn_tensor_get_f64(in[0], 0), d = nn_tensor_get_f64(in[2], 0);
        for (int64_t i = 0; i < cnt; i++)
            ((double *)out[0]->data)[i] = s + (double)i * d;
    }
    return 0;
}

const nn_op_def nn_op_range = { "Range", "", 1, range_infer, range_cpu, 0x7 };

/* ---- HannWindow, HammingWindow, BlackmanWindow (opset 17) ---- */

static int window_size(const nn_node *n, nn_tensor *const *in, int nin, int64_t *size, fp_err *e)
{
    if (nin < 1 || !in[0])
        return nn_node_error(e, n, FP_EMODEL, "size input is required");
    if (!in[0]->data)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "size must be a constant (known when the plan is built)");
    if (!opsa_dt_is_int(in[0]->dtype) || nn_tensor_numel(in[0]) != 1)
        return nn_node_error(e, n, FP_EMODEL, "size must be one integer");
    *size = nn_tensor_get_i64(in[0], 0);
    if (*size < 0 || *size > ((int64_t)1 << 31))
        return nn_node_error(e, n, FP_EMODEL, "window size %lld out of range", (long long)*size);
    return 0;
}

static int window_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                        fp_err *e)
{
    int64_t size;
    int ret = window_size(n, in, nin, &size, e);
    nn_dtype t = (nn_dtype)nn_attr_int(n, "output_datatype", NN_DT_FLOAT);
    if (ret < 0)
        return ret;
    if (!opsa_dt_is_numeric(t))
        return nn_node_error(e, n, FP_EUNSUPPORTED, "output_datatype %d not supported", (int)t);
    out[0]->dtype = t;
    return opsa_set_shape(n, e, out[0], 1, &size);
}

static int window_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                      nn_cpu_ctx *ctx, fp_err *e)
{
    int64_t size;
    int ret = window_size(n, in, nin, &size, e);
    if (ret < 0)
        return ret;
    /* periodic windows divide by N (they tile for spectral analysis); symmetric ones by N-1 */
    double den = nn_attr_int(n, "periodic", 1) ? (double)size : (double)(size - 1);
    char c = n->op_type[1]; /* hAnn, hAmming, bLackman */
    for (int64_t i = 0; i < size; i++) {
        double w = den > 0 ? 2 * M_PI * (double)i / den : 0, v;
        if (c == 'l')
            v = 0.42 - 0.5 * cos(w) + 0.08 * cos(2 * w);
        else if (!strcmp(n->op_type, "HammingWindow"))
            v = 25.0 / 46 - (1 - 25.0 / 46) * cos(w);
        else
            v = 0.5 - 0.5 * cos(w);
        opsa_store_f64(out[0]->dtype, out[0]->data, i, v);
    }
    return 0;
}

const nn_op_def nn_op_hannwindow = { "HannWindow", "", 17, window_infer, window_cpu, 1u << 0 };
const nn_op_def nn_op_hammingwindow = { "HammingWindow", "", 17, window_infer, window_cpu, 1u << 0 };
const nn_op_def nn_op_blackmanwindow = { "BlackmanWindow", "", 17, window_infer, window_cpu, 1u << 0 };
