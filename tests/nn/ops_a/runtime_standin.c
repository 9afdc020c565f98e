/*
 * runtime_standin — a minimal stand-in for the runtime functions group-a kernels call (tensor helpers,
 * attribute accessors, node errors, the CPU context), used ONLY to build the group-a unit tests when
 * the real runtime library (fp_nn, the nncore area) is not in the tree. Never linked into framepipe.
 * The CPU context runs parallel_for as several sequential contiguous ranges, so the kernels' range
 * splitting is exercised even without threads.
 */
#include "nn/nn_op.h"
#include "runtime_standin.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t nn_dtype_size(nn_dtype t)
{
    switch (t) {
    case NN_DT_FLOAT: case NN_DT_INT32: case NN_DT_UINT32: return 4;
    case NN_DT_UINT8: case NN_DT_INT8: case NN_DT_BOOL: return 1;
    case NN_DT_UINT16: case NN_DT_INT16: case NN_DT_FLOAT16: case NN_DT_BFLOAT16: return 2;
    case NN_DT_INT64: case NN_DT_DOUBLE: case NN_DT_UINT64: return 8;
    default: return 0;
    }
}

const char *nn_dtype_name(nn_dtype t)
{
    switch (t) {
    case NN_DT_FLOAT: return "float32";
    case NN_DT_INT64: return "int64";
    case NN_DT_INT32: return "int32";
    case NN_DT_FLOAT16: return "float16";
    case NN_DT_BOOL: return "bool";
    case NN_DT_STRING: return "string";
    default: return "other";
    }
}

int64_t nn_tensor_numel(const nn_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->dims[i];
    return n;
}

size_t nn_tensor_nbytes(const nn_tensor *t)
{
    return (size_t)nn_tensor_numel(t) * nn_dtype_size(t->dtype);
}

int nn_tensor_set_shape(nn_tensor *t, int ndim, const int64_t *dims)
{
    if (ndim < 0 || ndim > NN_MAX_DIMS)
        return FP_EINVAL;
    for (int i = 0; i < ndim; i++)
        if (dims[i] < 0)
            return FP_EINVAL;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->dims[i] = dims[i];
    return 0;
}

int nn_shape_equal(const nn_tensor *a, const nn_tensor *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i])
            return 0;
    return 1;
}

const char *nn_shape_str(const nn_tensor *t, char *buf, size_t len)
{
    size_t o = 0;
    o += snprintf(buf + o, len - o, "[");
    for (int i = 0; i < t->ndim && o < len; i++)
        o += snprintf(buf + o, len - o, i ? ",%lld" : "%lld", (long long)t->dims[i]);
    if (o < len)
        snprintf(buf + o, len - o, "]");
    return buf;
}

int nn_tensor_alloc(nn_tensor *t)
{
    size_t b = nn_tensor_nbytes(t);
    void *p = calloc(1, b ? b : 1);
    if (!p)
        return FP_ENOMEM;
    t->data = p;
    t->owned = 1;
    return 0;
}

void nn_tensor_free(nn_tensor *t)
{
    if (t && t->owned) {
        free(t->data);
        t->data = NULL;
        t->owned = 0;
    }
}

float nn_f16_to_f32(uint16_t h)
{
    uint32_t s = (uint32_t)(h >> 15) << 31, ex = (h >> 10) & 31, m = h & 1023, u;
    float f;
    if (ex == 0) {
        f = ldexpf((float)m, -24);
        return s ? -f : f;
    }
    if (ex == 31)
        u = s | 0x7f800000u | (m << 13);
    else
        u = s | ((ex + 112) << 23) | (m << 13);
    memcpy(&f, &u, 4);
    return f;
}

uint16_t nn_f32_to_f16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    uint16_t s = (uint16_t)((u >> 16) & 0x8000);
    float a = fabsf(f);
    if (isnan(f))
        return s | 0x7e00;
    if (a >= 65520.0f)
        return s | 0x7c00;
    if (a < 6.103515625e-05f) /* subnormal: round to nearest even multiple of 2^-24 */
        return s | (uint16_t)nearbyintf(a * 16777216.0f);
    uint32_t au = u & 0x7fffffffu;
    uint32_t m = au & 0x7fffff, ex = (au >> 23) - 112;
    uint32_t r = (ex << 10) | (m >> 13), rem = m & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (r & 1)))
        r++;
    return s | (uint16_t)r;
}

float nn_bf16_to_f32(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t nn_f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    if (isnan(f))
        return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

double nn_tensor_get_f64(const nn_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case NN_DT_FLOAT: return ((const float *)t->data)[i];
    case NN_DT_DOUBLE: return ((const double *)t->data)[i];
    case NN_DT_INT64: return (double)((const int64_t *)t->data)[i];
    case NN_DT_INT32: return ((const int32_t *)t->data)[i];
    case NN_DT_BOOL: case NN_DT_UINT8: return ((const uint8_t *)t->data)[i];
    case NN_DT_FLOAT16: return nn_f16_to_f32(((const uint16_t *)t->data)[i]);
    default: return 0;
    }
}

int64_t nn_tensor_get_i64(const nn_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case NN_DT_INT64: return ((const int64_t *)t->data)[i];
    case NN_DT_INT32: return ((const int32_t *)t->data)[i];
    case NN_DT_BOOL: case NN_DT_UINT8: return ((const uint8_t *)t->data)[i];
    default: return (int64_t)nn_tensor_get_f64(t, i);
    }
}

const nn_attr *nn_attr_get(const nn_node *n, const char *name)
{
    for (int i = 0; i < n->nattr; i++)
        if (!strcmp(n->attrs[i].name, name))
            return &n->attrs[i];
    return NULL;
}

int64_t nn_attr_int(const nn_node *n, const char *name, int64_t def)
{
    const nn_attr *a = nn_attr_get(n, name);
    return a && a->type == NN_ATTR_INT ? a->i : def;
}

float nn_attr_float(const nn_node *n, const char *name, float def)
{
    const nn_attr *a = nn_attr_get(n, name);
    return a && a->type == NN_ATTR_FLOAT ? a->f : def;
}

const char *nn_attr_str(const nn_node *n, const char *name, const char *def)
{
    const nn_attr *a = nn_attr_get(n, name);
    return a && a->type == NN_ATTR_STRING ? a->s : def;
}

const int64_t *nn_attr_ints(const nn_node *n, const char *name, int *count)
{
    const nn_attr *a = nn_attr_get(n, name);
    if (!a || a->type != NN_ATTR_INTS) {
        *count = 0;
        return NULL;
    }
    *count = a->n;
    return a->ints;
}

const float *nn_attr_floats(const nn_node *n, const char *name, int *count)
{
    const nn_attr *a = nn_attr_get(n, name);
    if (!a || a->type != NN_ATTR_FLOATS) {
        *count = 0;
        return NULL;
    }
    *count = a->n;
    return a->floats;
}

int nn_node_error(fp_err *e, const nn_node *n, int code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return fp_errorf(e, code, "node '%s' (%s): %s", n->name ? n->name : "", n->op_type, msg);
}

int nn_cpu_ctx_threads(const nn_cpu_ctx *ctx)
{
    return ctx->threads;
}

void *nn_cpu_ctx_scratch(nn_cpu_ctx *ctx, size_t bytes)
{
    if (bytes > ctx->scratch_size) {
        free(ctx->scratch);
        ctx->scratch = malloc(bytes);
        ctx->scratch_size = ctx->scratch ? bytes : 0;
    }
    return ctx->scratch;
}

void nn_cpu_parallel_for(nn_cpu_ctx *ctx, int64_t n, void (*fn)(void *, int64_t, int64_t), void *arg)
{
    int t = ctx->threads;
    ctx->parallel_calls++;
    for (int k = 0; k < t; k++) {
        int64_t b = n * k / t, e = n * (k + 1) / t;
        if (b < e)
            fn(arg, b, e);
    }
}

int nn_broadcast_shape(const nn_tensor *a, const nn_tensor *b, nn_tensor *out)
{
    int r = a->ndim > b->ndim ? a->ndim : b->ndim;
    int64_t d[NN_MAX_DIMS];
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->ndim), ib = i - (r - b->ndim);
        int64_t x = ia >= 0 ? a->dims[ia] : 1, y = ib >= 0 ? b->dims[ib] : 1;
        if (x != y && x != 1 && y != 1)
            return FP_EINVAL;
        d[i] = x == 1 ? y : x;
    }
    return nn_tensor_set_shape(out, r, d);
}

int nn_norm_axis(int64_t axis, int rank, int *out_axis)
{
    if (axis < -rank || axis >= rank)
        return FP_EINVAL;
    *out_axis = (int)(axis < 0 ? axis + rank : axis);
    return 0;
}
