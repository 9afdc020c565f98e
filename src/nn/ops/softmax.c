/*
 * softmax — CPU kernels of Softmax, LogSoftmax and Hardmax.
 *
 * Owns the op defs and the two axis semantics, keyed on the node's opset: before opset 13 the input
 * is coerced to 2-D at `axis` (default 1) and each row of prod(dims[axis:]) values is normalised; from
 * 13 the op normalises along the single axis `axis` (default -1). Does not own registration.
 *
 * Numerics: the row maximum is subtracted before exp() and the sum accumulates in double, so large
 * logits neither overflow nor lose the small terms. float16/bfloat16/double compute in double.
 */
#include "nn/ops/opsa_util.h"

#include <math.h>
#include <string.h>

enum { SM_SOFTMAX, SM_LOGSOFTMAX, SM_HARDMAX };

typedef struct sm_job {
    int kind;
    nn_dtype t;
    const void *x;
    void *y;
    int64_t len, inner;
} sm_job;

static int sm_kind(const nn_node *n)
{
    return !strcmp(n->op_type, "LogSoftmax") ? SM_LOGSOFTMAX : !strcmp(n->op_type, "Hardmax") ? SM_HARDMAX
                                                                                              : SM_SOFTMAX;
}

/* outer x len x inner decomposition for this node's axis semantics */
static int sm_layout(const nn_node *n, const nn_tensor *x, int64_t *outer, int64_t *len, int64_t *inner)
{
    int axis;
    int legacy = n->opset < 13;
    if (nn_norm_axis(nn_attr_int(n, "axis", legacy ? 1 : -1), x->ndim, &axis) < 0) {
        if (!(x->ndim == 0))
            return FP_EINVAL;
        *outer = *len = *inner = 1;
        return 0;
    }
    *outer = opsa_dims_numel(x->dims, axis);
    if (legacy) {
        *len = opsa_dims_numel(x->dims + axis, x->ndim - axis);
        *inner = 1;
    } else {
        *len = x->dims[axis];
        *inner = opsa_dims_numel(x->dims + axis + 1, x->ndim - axis - 1);
    }
    return 0;
}

/* float32 along a non-last axis (NCHW channel softmax): process 64 inner positions at a time so
 * every pass reads whole cache lines instead of striding by `inner`. Rows here are outer indices. */
static void sm_range_inner(void *arg, int64_t begin, int64_t end)
{
    const sm_job *j = arg;
    int64_t len = j->len, in = j->inner;
    for (int64_t o = begin; o < end; o++) {
        const float *x = (const float *)j->x + o * len * in;
        float *y = (float *)j->y + o * len * in;
        for (int64_t i0 = 0; i0 < in; i0 += 64) {
            int64_t w = in - i0 < 64 ? in - i0 : 64;
            float m[64];
            double s[64];
            for (int64_t i = 0; i < w; i++) {
                m[i] = -INFINITY;
                s[i] = 0;
            }
            for (int64_t k = 0; k < len; k++)
                for (int64_t i = 0; i < w; i++)
                    m[i] = x[k * in + i0 + i] > m[i] ? x[k * in + i0 + i] : m[i];
            if (j->kind == SM_SOFTMAX) {
                for (int64_t k = 0; k < len; k++)
                    for (int64_t i = 0; i < w; i++) {
                        float v = expf(x[k * in + i0 + i] - m[i]);
                        y[k * in + i0 + i] = v;
                        s[i] += v;
                    }
                for (int64_t i = 0; i < w; i++)
                    m[i] = (float)(1.0 / s[i]); /* reuse m as the scale */
                for (int64_t k = 0; k < len; k++)
                    for (int64_t i = 0; i < w; i++)
                        y[k * in + i0 + i] *= m[i];
            } else {
                for (int64_t k = 0; k < len; k++)
                    for (int64_t i = 0; i < w; i++)
                        s[i] += exp((double)x[k * in + i0 + i] - m[i]);
                float ls[64];
                for (int64_t i = 0; i < w; i++)
                    ls[i] = (float)log(s[i]);
                for (int64_t k = 0; k < len; k++)
                    for (int64_t i = 0; i < w; i++)
                        y[k * in + i0 + i] = x[k * in + i0 + i] - m[i] - ls[i];
            }
        }
    }
}

static void sm_range(void *arg, int64_t begin, int64_t end)
{
    const sm_job *j = arg;
    int64_t len = j->len, in = j->inner;
    for (int64_t r = begin; r < end; r++) {
        int64_t o = r / in, i = r % in;
        int64_t base = o * len * in + i;
        if (j->t == NN_DT_FLOAT && in == 1 && j->kind != SM_HARDMAX) {
            const float *x = (const float *)j->x + base;
            float *y = (float *)j->y + base;
            float m = -INFINITY;
            double s = 0;
            for (int64_t k = 0; k < len; k++)
                m = x[k] > m ? x[k] : m;
            if (j->kind == SM_SOFTMAX) {
                for (int64_t k = 0; k < len; k++) {
                    y[k] = expf(x[k] - m);
                    s += y[k];
                }
                float inv = (float)(1.0 / s);
                for (int64_t k = 0; k < len; k++)
                    y[k] *= inv;
            } else {
                for (int64_t k = 0; k < len; k++)
                    s += exp((double)x[k] - m);
                float ls = (float)log(s);
                for (int64_t k = 0; k < len; k++)
                    y[k] = x[k] - m - ls;
            }
            continue;
        }
        double m = -INFINITY, s = 0;
        int64_t am = 0;
        for (int64_t k = 0; k < len; k++) {
            double v = opsa_load_f64(j->t, j->x, base + k * in);
            if (v > m) {
                m = v;
                am = k;
            }
        }
        if (j->kind == SM_HARDMAX) {
            for (int64_t k = 0; k < len; k++)
                opsa_store_f64(j->t, j->y, base + k * in, k == am ? 1.0 : 0.0);
            continue;
        }
        for (int64_t k = 0; k < len; k++)
            s += exp(opsa_load_f64(j->t, j->x, base + k * in) - m);
        for (int64_t k = 0; k < len; k++) {
            double v = opsa_load_f64(j->t, j->x, base + k * in) - m;
            opsa_store_f64(j->t, j->y, base + k * in, j->kind == SM_SOFTMAX ? exp(v) / s : v - log(s));
        }
    }
}

static int softmax_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                         fp_err *e)
{
    int64_t a, b, c;
    if (nin < 1 || !in[0])
        return nn_node_error(e, n, FP_EMODEL, "missing input");
    if (!opsa_dt_is_float(in[0]->dtype))
        return nn_node_error(e, n, FP_EUNSUPPORTED, "input dtype %s not supported",
                             nn_dtype_name(in[0]->dtype));
    if (sm_layout(n, in[0], &a, &b, &c) < 0)
        return nn_node_error(e, n, FP_EMODEL, "axis %lld out of range for rank %d",
                             (long long)nn_attr_int(n, "axis", 0), in[0]->ndim);
    out[0]->dtype = in[0]->dtype;
    return opsa_set_shape(n, e, out[0], in[0]->ndim, in[0]->dims);
}

static int softmax_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                       nn_cpu_ctx *ctx, fp_err *e)
{
    int64_t outer;
    sm_job j = { sm_kind(n), in[0]->dtype, in[0]->data, out[0]->data, 0, 0 };
    sm_layout(n, in[0], &outer, &j.len, &j.inner);
    if (j.len == 0)
        return 0;
    int64_t rows = outer * j.inner;
    if (j.t == NN_DT_FLOAT && j.inner > 1 && j.kind != SM_HARDMAX)
        opsa_parallel(ctx, outer, rows * j.len >= OPSA_PAR_MIN ? 1 : INT64_MAX, sm_range_inner, &j);
    else
        opsa_parallel(ctx, rows, rows * j.len >= OPSA_PAR_MIN ? 1 : INT64_MAX, sm_range, &j);
    return 0;
}

const nn_op_def nn_op_softmax = { "Softmax", "", 1, softmax_infer, softmax_cpu, 0 };
const nn_op_def nn_op_logsoftmax = { "LogSoftmax", "", 1, softmax_infer, softmax_cpu, 0 };
const nn_op_def nn_op_hardmax = { "Hardmax", "", 1, softmax_infer, softmax_cpu, 0 };
