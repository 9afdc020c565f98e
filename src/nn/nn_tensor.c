/*
 * nn_tensor — dtype table, shape helpers, host storage and half-precision conversion for nn_tensor.
 *
 * Owns: everything nn_tensor.h declares. Does not own device memory (backends) or the memory plan
 * (nn_plan.c), which hands tensors non-owned views into its arena.
 */
#include "nn/nn_tensor.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fp_error.h"

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
    case NN_DT_UINT8: return "uint8";
    case NN_DT_INT8: return "int8";
    case NN_DT_UINT16: return "uint16";
    case NN_DT_INT16: return "int16";
    case NN_DT_INT32: return "int32";
    case NN_DT_INT64: return "int64";
    case NN_DT_STRING: return "string";
    case NN_DT_BOOL: return "bool";
    case NN_DT_FLOAT16: return "float16";
    case NN_DT_DOUBLE: return "float64";
    case NN_DT_UINT32: return "uint32";
    case NN_DT_UINT64: return "uint64";
    case NN_DT_BFLOAT16: return "bfloat16";
    default: return "undefined";
    }
}

int64_t nn_tensor_numel(const nn_tensor *t)
{
    int64_t n = 1;
    if (t->ndim < 0 || t->ndim > NN_MAX_DIMS)
        return -1;
    for (int i = 0; i < t->ndim; i++) {
        int64_t d = t->dims[i];
        if (d < 0)
            return -1;
        if (d && n > INT64_MAX / d)
            return -1;
        n *= d;
    }
    return n;
}

size_t nn_tensor_nbytes(const nn_tensor *t)
{
    int64_t n = nn_tensor_numel(t);
    size_t es = nn_dtype_size(t->dtype);
    if (n < 0 || (es && (uint64_t)n > SIZE_MAX / es))
        return 0;
    return (size_t)n * es;
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
    for (int i = ndim; i < NN_MAX_DIMS; i++)
        t->dims[i] = 0;
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
    if (!len)
        return buf;
    buf[0] = 0;
    o += snprintf(buf + o, o < len ? len - o : 0, "[");
    for (int i = 0; i < t->ndim && i < NN_MAX_DIMS; i++)
        o += snprintf(buf + o, o < len ? len - o : 0, "%s%lld", i ? "," : "", (long long)t->dims[i]);
    if (o < len)
        snprintf(buf + o, len - o, "]");
    return buf;
}

int nn_tensor_alloc(nn_tensor *t)
{
    int64_t n = nn_tensor_numel(t);
    size_t es = nn_dtype_size(t->dtype);
    if (n < 0 || !es)
        return FP_EINVAL;
    if ((uint64_t)n > (SIZE_MAX - 64) / es)
        return FP_ENOMEM;
    size_t bytes = (size_t)n * es;
    /* Round up so that aligned_alloc's size rule holds and zero-sized tensors still get a pointer. */
    size_t alloc = (bytes + 63) & ~(size_t)63;
    if (!alloc)
        alloc = 64;
    void *p = aligned_alloc(64, alloc);
    if (!p)
        return FP_ENOMEM;
    memset(p, 0, alloc);
    t->data = p;
    t->owned = 1;
    t->device = NN_DEV_HOST;
    return 0;
}

void nn_tensor_free(nn_tensor *t)
{
    if (!t)
        return;
    if (t->owned)
        free(t->data);
    if (t->owned || t->data)
        t->data = NULL;
    t->owned = 0;
}

float nn_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400));
            man &= 0x3ff;
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | (man << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t nn_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) /* inf or nan (keep nan quiet and non-zero) */
        return (uint16_t)(sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 | ((absx >> 13) & 0x3ff) : 0));
    if (absx >= 0x477ff000u) /* rounds to >= 65520: overflow to inf */
        return (uint16_t)(sign | 0x7c00);
    if (absx < 0x38800000u) { /* result is subnormal or zero: shift with round-to-nearest-even */
        if (absx < 0x33000000u)
            return (uint16_t)sign;
        uint32_t e = absx >> 23;
        uint32_t m = (absx & 0x7fffff) | 0x800000;
        int shift = 126 - (int)e; /* value = m * 2^(e-150), fp16 subnormal unit is 2^-24 */
        uint32_t half = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1)))
            half++;
        return (uint16_t)(sign | half);
    }
    uint32_t r = absx - 0x38000000u; /* rebias exponent 127 -> 15 */
    uint32_t half = r >> 13;
    uint32_t rem = r & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1)))
        half++;
    return (uint16_t)(sign | half);
}

float nn_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t nn_f32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x40);
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

double nn_tensor_get_f64(const nn_tensor *t, int64_t i)
{
    const void *d = t->data;
    switch (t->dtype) {
    case NN_DT_FLOAT: return ((const float *)d)[i];
    case NN_DT_DOUBLE: return ((const double *)d)[i];
    case NN_DT_FLOAT16: return nn_f16_to_f32(((const uint16_t *)d)[i]);
    case NN_DT_BFLOAT16: return nn_bf16_to_f32(((const uint16_t *)d)[i]);
    case NN_DT_UINT8: return ((const uint8_t *)d)[i];
    case NN_DT_INT8: return ((const int8_t *)d)[i];
    case NN_DT_UINT16: return ((const uint16_t *)d)[i];
    case NN_DT_INT16: return ((const int16_t *)d)[i];
    case NN_DT_INT32: return ((const int32_t *)d)[i];
    case NN_DT_INT64: return (double)((const int64_t *)d)[i];
    case NN_DT_BOOL: return ((const uint8_t *)d)[i] ? 1.0 : 0.0;
    case NN_DT_UINT32: return ((const uint32_t *)d)[i];
    case NN_DT_UINT64: return (double)((const uint64_t *)d)[i];
    default: return 0.0;
    }
}

int64_t nn_tensor_get_i64(const nn_tensor *t, int64_t i)
{
    const void *d = t->data;
    switch (t->dtype) {
    case NN_DT_INT64: return ((const int64_t *)d)[i];
    case NN_DT_INT32: return ((const int32_t *)d)[i];
    case NN_DT_UINT8: return ((const uint8_t *)d)[i];
    case NN_DT_INT8: return ((const int8_t *)d)[i];
    case NN_DT_UINT16: return ((const uint16_t *)d)[i];
    case NN_DT_INT16: return ((const int16_t *)d)[i];
    case NN_DT_BOOL: return ((const uint8_t *)d)[i] ? 1 : 0;
    case NN_DT_UINT32: return ((const uint32_t *)d)[i];
    case NN_DT_UINT64: return (int64_t)((const uint64_t *)d)[i];
    default: {
        double v = nn_tensor_get_f64(t, i);
        /* Saturate instead of invoking UB on out-of-range float -> int conversion. */
        if (isnan(v))
            return 0;
        if (v >= 9.2233720368547758e18)
            return INT64_MAX;
        if (v <= -9.2233720368547758e18)
            return INT64_MIN;
        return (int64_t)v;
    }
    }
}
