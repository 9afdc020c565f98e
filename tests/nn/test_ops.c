/*
 * test_ops — the runtime unit tests' own ops (see test_ops.h):
 *   TAdd(a, b)        float32 only (refuses fp16: exercises the CPU upcast), numpy broadcast, parallel
 *   TMul(a, b)        float32, same shape or scalar b
 *   TConst()          attribute 'value' (tensor)
 *   TShape(x)         int64 shape of x (needs only the shape)
 *   TReshape(x, s)    s is a value input (int64)
 *   TResize(x, s)     nearest, NCHW, H and W scaled by s[0] (value input, float): RVM's downsample_ratio
 *   TCast(x)          attribute 'to': float32 <-> float16
 */
#include <math.h>
#include <string.h>

#include "nn/nn_op.h"
#include "test_ops.h"

#define TD "test.framepipe"

static int only_f32(const nn_node *n, nn_tensor *const *in, int nin, fp_err *e)
{
    for (int i = 0; i < nin; i++)
        if (in[i] && in[i]->dtype != NN_DT_FLOAT)
            return nn_node_error(e, n, FP_EUNSUPPORTED, "input %d is %s, only float32 is implemented", i,
                                 nn_dtype_name(in[i]->dtype));
    return 0;
}

static int add_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout, fp_err *e)
{
    int ret = only_f32(n, in, nin, e);
    if (ret < 0)
        return ret;
    if (nn_broadcast_shape(in[0], in[1], out[0]) < 0)
        return nn_node_error(e, n, FP_EMODEL, "shapes do not broadcast");
    out[0]->dtype = NN_DT_FLOAT;
    return 0;
}

typedef struct add_job {
    const nn_tensor *a, *b, *o;
} add_job;

static int64_t bidx(const nn_tensor *t, const nn_tensor *o, int64_t i)
{
    int64_t idx = 0, stride = 1;
    for (int d = o->ndim - 1; d >= 0; d--) {
        int64_t c = i % o->dims[d];
        i /= o->dims[d];
        int td = d - (o->ndim - t->ndim);
        if (td >= 0) {
            if (t->dims[td] != 1)
                idx += c * stride;
            stride *= t->dims[td];
        }
    }
    return idx;
}

static void add_range(void *arg, int64_t b, int64_t e)
{
    add_job *j = arg;
    for (int64_t i = b; i < e; i++)
        ((float *)j->o->data)[i] = ((const float *)j->a->data)[bidx(j->a, j->o, i)] +
                                   ((const float *)j->b->data)[bidx(j->b, j->o, i)];
}

static int add_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout, nn_cpu_ctx *ctx,
                   fp_err *e)
{
    add_job j = { in[0], in[1], out[0] };
    nn_cpu_parallel_for(ctx, nn_tensor_numel(out[0]), add_range, &j);
    return 0;
}

static int mul_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout, fp_err *e)
{
    int ret = only_f32(n, in, nin, e);
    if (ret < 0)
        return ret;
    if (nn_tensor_numel(in[1]) != 1 && !nn_shape_equal(in[0], in[1]))
        return nn_node_error(e, n, FP_EMODEL, "b must be a scalar or have a's shape");
    *out[0] = (nn_tensor){ .dtype = NN_DT_FLOAT, .ndim = in[0]->ndim };
    memcpy(out[0]->dims, in[0]->dims, sizeof(out[0]->dims));
    return 0;
}

static int mul_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout, nn_cpu_ctx *ctx,
                   fp_err *e)
{
    int64_t cnt = nn_tensor_numel(out[0]), nb = nn_tensor_numel(in[1]);
    for (int64_t i = 0; i < cnt; i++)
        ((float *)out[0]->data)[i] = ((float *)in[0]->data)[i] * ((float *)in[1]->data)[nb == 1 ? 0 : i];
    return 0;
}

static int const_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout, fp_err *e)
{
    const nn_attr *a = nn_attr_get(n, "value");
    if (!a || a->type != NN_ATTR_TENSOR)
        return nn_node_error(e, n, FP_EMODEL, "needs a tensor attribute 'value'");
    *out[0] = (nn_tensor){ .dtype = a->t->dtype, .ndim = a->t->ndim };
    memcpy(out[0]->dims, a->t->dims, sizeof(out[0]->dims));
    return 0;
}

static int const_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout, nn_cpu_ctx *ctx,
                     fp_err *e)
{
    memcpy(out[0]->data, nn_attr_get(n, "value")->t->data, nn_tensor_nbytes(out[0]));
    return 0;
}

static int shape_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout, fp_err *e)
{
    *out[0] = (nn_tensor){ .dtype = NN_DT_INT64, .ndim = 1, .dims = { in[0]->ndim } };
    return 0;
}

static int shape_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout, nn_cpu_ctx *ctx,
                     fp_err *e)
{
    for (int i = 0; i < in[0]->ndim; i++)
        ((int64_t *)out[0]->data)[i] = in[0]->dims[i];
    return 0;
}

static int reshape_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout, fp_err *e)
{
    if (!in[1]->data)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "shape input must be constant");
    int64_t cnt = nn_tensor_numel(in[1]);
    if (cnt > NN_MAX_DIMS)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "rank too large");
    nn_tensor t = { .dtype = in[0]->dtype, .ndim = (int)cnt };
    for (int i = 0; i < cnt; i++)
        t.dims[i] = nn_tensor_get_i64(in[1], i);
    if (nn_tensor_numel(&t) != nn_tensor_numel(in[0]))
        return nn_node_error(e, n, FP_EMODEL, "element count changes");
    *out[0] = t;
    return 0;
}

static int reshape_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                       nn_cpu_ctx *ctx, fp_err *e)
{
    memcpy(out[0]->data, in[0]->data, nn_tensor_nbytes(out[0]));
    return 0;
}

static int resize_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout, fp_err *e)
{
    if (in[0]->ndim != 4)
        return nn_node_error(e, n, FP_EMODEL, "x must be NCHW");
    if (!in[1]->data)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "scale input must be known when planning");
    double s = nn_tensor_get_f64(in[1], 0);
    if (!(s > 0))
        return nn_node_error(e, n, FP_EMODEL, "scale must be positive");
    *out[0] = *in[0];
    out[0]->data = NULL;
    out[0]->owned = 0;
    out[0]->dims[2] = (int64_t)floor(in[0]->dims[2] * s);
    out[0]->dims[3] = (int64_t)floor(in[0]->dims[3] * s);
    return 0;
}

static int resize_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                      nn_cpu_ctx *ctx, fp_err *e)
{
    const float *x = in[0]->data;
    float *y = out[0]->data;
    int64_t H = in[0]->dims[2], W = in[0]->dims[3], OH = out[0]->dims[2], OW = out[0]->dims[3];
    int64_t planes = in[0]->dims[0] * in[0]->dims[1];
    for (int64_t p = 0; p < planes; p++)
        for (int64_t i = 0; i < OH; i++)
            for (int64_t j = 0; j < OW; j++) {
                int64_t si = i * H / OH, sj = j * W / OW;
                y[(p * OH + i) * OW + j] = x[(p * H + si) * W + sj];
            }
    return 0;
}

static int cast_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout, fp_err *e)
{
    int64_t to = nn_attr_int(n, "to", 0);
    if ((to != NN_DT_FLOAT && to != NN_DT_FLOAT16) ||
        (in[0]->dtype != NN_DT_FLOAT && in[0]->dtype != NN_DT_FLOAT16))
        return nn_node_error(e, n, FP_EUNSUPPORTED, "only float32 <-> float16");
    *out[0] = *in[0];
    out[0]->data = NULL;
    out[0]->owned = 0;
    out[0]->dtype = (nn_dtype)to;
    return 0;
}

static int cast_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout, nn_cpu_ctx *ctx,
                    fp_err *e)
{
    int64_t cnt = nn_tensor_numel(in[0]);
    for (int64_t i = 0; i < cnt; i++) {
        float v = in[0]->dtype == NN_DT_FLOAT ? ((float *)in[0]->data)[i]
                                              : nn_f16_to_f32(((uint16_t *)in[0]->data)[i]);
        if (out[0]->dtype == NN_DT_FLOAT)
            ((float *)out[0]->data)[i] = v;
        else
            ((uint16_t *)out[0]->data)[i] = nn_f32_to_f16(v);
    }
    return 0;
}

static const nn_op_def defs[] = {
    { "TAdd", TD, 1, add_infer, add_cpu, 0 },
    { "TMul", TD, 1, mul_infer, mul_cpu, 0 },
    { "TConst", TD, 1, const_infer, const_cpu, 0 },
    { "TShape", TD, 1, shape_infer, shape_cpu, 0 },
    { "TReshape", TD, 1, reshape_infer, reshape_cpu, 1u << 1 },
    { "TResize", TD, 1, resize_infer, resize_cpu, 1u << 1 },
    { "TCast", TD, 1, cast_infer, cast_cpu, 0 },
};

void test_ops_register(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    for (size_t i = 0; i < sizeof(defs) / sizeof(defs[0]); i++)
        nn_op_register(&defs[i]);
}
