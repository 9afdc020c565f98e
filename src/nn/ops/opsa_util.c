/*
 * opsa_util — helpers private to the group-a operator files: dtype-generic element access, the
 * broadcasting row iterator, axis lists and a guarded parallel_for. See opsa_util.h. Owns no kernel
 * and no runtime state.
 */
#include "nn/ops/opsa_util.h"

#include <math.h>
#include <string.h>

int opsa_dt_is_float(nn_dtype t)
{
    return t == NN_DT_FLOAT || t == NN_DT_DOUBLE || t == NN_DT_FLOAT16 || t == NN_DT_BFLOAT16;
}

int opsa_dt_is_int(nn_dtype t)
{
    switch (t) {
    case NN_DT_INT8: case NN_DT_INT16: case NN_DT_INT32: case NN_DT_INT64:
    case NN_DT_UINT8: case NN_DT_UINT16: case NN_DT_UINT32: case NN_DT_UINT64:
        return 1;
    default:
        return 0;
    }
}

int opsa_dt_is_numeric(nn_dtype t)
{
    return opsa_dt_is_float(t) || opsa_dt_is_int(t);
}

double opsa_load_f64(nn_dtype t, const void *p, int64_t i)
{
    switch (t) {
    case NN_DT_FLOAT: return ((const float *)p)[i];
    case NN_DT_DOUBLE: return ((const double *)p)[i];
    case NN_DT_FLOAT16: return nn_f16_to_f32(((const uint16_t *)p)[i]);
    case NN_DT_BFLOAT16: return nn_bf16_to_f32(((const uint16_t *)p)[i]);
    case NN_DT_UINT64: return (double)((const uint64_t *)p)[i];
    default: return (double)opsa_load_i64(t, p, i);
    }
}

int64_t opsa_load_i64(nn_dtype t, const void *p, int64_t i)
{
    switch (t) {
    case NN_DT_BOOL:
    case NN_DT_UINT8: return ((const uint8_t *)p)[i];
    case NN_DT_INT8: return ((const int8_t *)p)[i];
    case NN_DT_UINT16: return ((const uint16_t *)p)[i];
    case NN_DT_INT16: return ((const int16_t *)p)[i];
    case NN_DT_UINT32: return ((const uint32_t *)p)[i];
    case NN_DT_INT32: return ((const int32_t *)p)[i];
    case NN_DT_UINT64: return (int64_t)((const uint64_t *)p)[i];
    case NN_DT_INT64: return ((const int64_t *)p)[i];
    default: {
        double v = opsa_load_f64(t, p, i);
        if (isnan(v))
            return 0;
        if (v >= 9223372036854775807.0)
            return INT64_MAX;
        if (v <= -9223372036854775808.0)
            return INT64_MIN;
        return (int64_t)v;
    }
    }
}

/* Saturating double -> integer of the given range; NaN -> 0. Truncates toward zero. */
static int64_t sat_i64(double v, double lo, double hi)
{
    if (isnan(v))
        return 0;
    if (v <= lo)
        return (int64_t)lo;
    if (v >= hi)
        return v >= 9223372036854775807.0 ? INT64_MAX : (int64_t)hi;
    return (int64_t)v;
}

/* double -> float rounded to odd: the float keeps a sticky bit, so a second rounding to float16 or
 * bfloat16 (both much narrower than float) gives the correctly rounded result of the double. */
static float d2f_odd(double v)
{
    float f = (float)v;
    if (isfinite(v) && (double)f != v) {
        uint32_t u;
        if (fabs((double)f) > fabs(v))
            f = nextafterf(f, 0.0f);
        memcpy(&u, &f, 4);
        u |= 1;
        memcpy(&f, &u, 4);
    }
    return f;
}

void opsa_store_f64(nn_dtype t, void *p, int64_t i, double v)
{
    switch (t) {
    case NN_DT_FLOAT: ((float *)p)[i] = (float)v; break;
    case NN_DT_DOUBLE: ((double *)p)[i] = v; break;
    case NN_DT_FLOAT16: ((uint16_t *)p)[i] = nn_f32_to_f16(d2f_odd(v)); break;
    case NN_DT_BFLOAT16: ((uint16_t *)p)[i] = nn_f32_to_bf16(d2f_odd(v)); break;
    case NN_DT_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    case NN_DT_UINT8: ((uint8_t *)p)[i] = (uint8_t)sat_i64(v, 0, 255); break;
    case NN_DT_INT8: ((int8_t *)p)[i] = (int8_t)sat_i64(v, -128, 127); break;
    case NN_DT_UINT16: ((uint16_t *)p)[i] = (uint16_t)sat_i64(v, 0, 65535); break;
    case NN_DT_INT16: ((int16_t *)p)[i] = (int16_t)sat_i64(v, -32768, 32767); break;
    case NN_DT_UINT32: ((uint32_t *)p)[i] = (uint32_t)sat_i64(v, 0, 4294967295.0); break;
    case NN_DT_INT32: ((int32_t *)p)[i] = (int32_t)sat_i64(v, -2147483648.0, 2147483647.0); break;
    case NN_DT_INT64: ((int64_t *)p)[i] = sat_i64(v, -9223372036854775808.0, 9223372036854775807.0); break;
    case NN_DT_UINT64:
        if (isnan(v) || v <= 0)
            ((uint64_t *)p)[i] = 0;
        else if (v >= 18446744073709551615.0)
            ((uint64_t *)p)[i] = UINT64_MAX;
        else
            ((uint64_t *)p)[i] = (uint64_t)v;
        break;
    default: break;
    }
}

void opsa_store_i64(nn_dtype t, void *p, int64_t i, int64_t v)
{
    switch (t) {
    case NN_DT_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    case NN_DT_UINT8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case NN_DT_INT8: ((int8_t *)p)[i] = (int8_t)v; break;
    case NN_DT_UINT16: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case NN_DT_INT16: ((int16_t *)p)[i] = (int16_t)v; break;
    case NN_DT_UINT32: ((uint32_t *)p)[i] = (uint32_t)v; break;
    case NN_DT_INT32: ((int32_t *)p)[i] = (int32_t)v; break;
    case NN_DT_UINT64: ((uint64_t *)p)[i] = (uint64_t)v; break;
    case NN_DT_INT64: ((int64_t *)p)[i] = v; break;
    default: opsa_store_f64(t, p, i, (double)v); break;
    }
}

int64_t opsa_dims_numel(const int64_t *dims, int nd)
{
    int64_t n = 1;
    for (int i = 0; i < nd; i++)
        n *= dims[i];
    return n;
}

int opsa_bcast_init(opsa_bcast *b, nn_tensor *out, nn_tensor *const *in, int nin, opsa_row_fn row,
                    const void *param)
{
    int r = out->ndim;
    int64_t st[OPSA_MAX_IN][NN_MAX_DIMS];
    int64_t od[NN_MAX_DIMS];

    memset(b, 0, sizeof(*b));
    if (nin < 1 || nin > OPSA_MAX_IN)
        return FP_EINTERNAL;
    for (int d = 0; d < r; d++)
        od[d] = out->dims[d];
    for (int k = 0; k < nin; k++) {
        const nn_tensor *t = in[k];
        int off = r - t->ndim;
        int64_t s = 1;
        if (off < 0)
            return FP_EINTERNAL;
        for (int d = r - 1; d >= 0; d--) {
            int64_t dim = d >= off ? t->dims[d - off] : 1;
            if (dim == od[d]) {
                st[k][d] = dim == 1 ? 0 : s;
            } else if (dim == 1) {
                st[k][d] = 0;
            } else {
                return FP_EINTERNAL;
            }
            s *= dim;
        }
        b->in[k] = t->data;
        b->in_esize[k] = nn_dtype_size(t->dtype);
    }
    /* Merge dims outer to inner; size-1 dims vanish. */
    int nd = 0;
    for (int d = 0; d < r; d++) {
        if (od[d] == 1)
            continue;
        int merge = nd > 0;
        for (int k = 0; k < nin && merge; k++)
            if (b->stride[k][nd - 1] != st[k][d] * od[d])
                merge = 0;
        if (merge) {
            b->dims[nd - 1] *= od[d];
            for (int k = 0; k < nin; k++)
                b->stride[k][nd - 1] = st[k][d];
        } else {
            b->dims[nd] = od[d];
            for (int k = 0; k < nin; k++)
                b->stride[k][nd] = st[k][d];
            nd++;
        }
    }
    if (nd == 0) {
        b->dims[0] = 1;
        for (int k = 0; k < nin; k++)
            b->stride[k][0] = 0;
        nd = 1;
    }
    b->ndim = nd;
    b->nin = nin;
    b->out = out->data;
    b->out_esize = nn_dtype_size(out->dtype);
    b->numel = nn_tensor_numel(out);
    b->row = row;
    b->param = param;
    return 0;
}

static void bcast_range(void *arg, int64_t begin, int64_t end)
{
    const opsa_bcast *b = arg;
    int nd = b->ndim;
    int64_t coord[NN_MAX_DIMS];
    int64_t rem = begin;
    for (int d = nd - 1; d >= 0; d--) {
        coord[d] = rem % b->dims[d];
        rem /= b->dims[d];
    }
    int64_t pos = begin;
    while (pos < end) {
        const void *ip[OPSA_MAX_IN];
        int64_t is[OPSA_MAX_IN];
        for (int k = 0; k < b->nin; k++) {
            int64_t off = 0;
            for (int d = 0; d < nd; d++)
                off += coord[d] * b->stride[k][d];
            ip[k] = (const char *)b->in[k] + off * (int64_t)b->in_esize[k];
            is[k] = b->stride[k][nd - 1] ? 1 : 0;
        }
        int64_t len = b->dims[nd - 1] - coord[nd - 1];
        if (len > end - pos)
            len = end - pos;
        b->row((char *)b->out + pos * (int64_t)b->out_esize, ip, is, len, b->param);
        pos += len;
        coord[nd - 1] += len;
        for (int d = nd - 1; d > 0 && coord[d] >= b->dims[d]; d--) {
            coord[d] = 0;
            coord[d - 1]++;
        }
    }
}

void opsa_bcast_run(opsa_bcast *b, nn_cpu_ctx *ctx)
{
    if (b->numel <= 0)
        return;
    opsa_parallel(ctx, b->numel, OPSA_PAR_MIN, bcast_range, b);
}

void opsa_parallel(nn_cpu_ctx *ctx, int64_t n, int64_t min_par,
                   void (*fn)(void *arg, int64_t begin, int64_t end), void *arg)
{
    if (n <= 0)
        return;
    if (!ctx || n < min_par || nn_cpu_ctx_threads(ctx) <= 1)
        fn(arg, 0, n);
    else
        nn_cpu_parallel_for(ctx, n, fn, arg);
}

int opsa_broadcast_many(nn_tensor *const *in, int nin, nn_tensor *out)
{
    int r = 0;
    int64_t dims[NN_MAX_DIMS];
    for (int k = 0; k < nin; k++)
        if (in[k] && in[k]->ndim > r)
            r = in[k]->ndim;
    for (int d = 0; d < r; d++)
        dims[d] = 1;
    for (int k = 0; k < nin; k++) {
        const nn_tensor *t = in[k];
        if (!t)
            continue;
        int off = r - t->ndim;
        for (int d = 0; d < t->ndim; d++) {
            int64_t a = dims[off + d], v = t->dims[d];
            if (a == v || v == 1)
                continue;
            if (a == 1)
                dims[off + d] = v;
            else
                return FP_EINVAL;
        }
    }
    return nn_tensor_set_shape(out, r, dims);
}

int opsa_read_ints(const nn_node *n, const nn_tensor *t, const char *what, int64_t *v, int max,
                   fp_err *e)
{
    if (!t->data)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "%s must be a constant (known when the plan is built)",
                             what);
    if (t->dtype != NN_DT_INT64 && t->dtype != NN_DT_INT32)
        return nn_node_error(e, n, FP_EMODEL, "%s must be int32 or int64, got %s", what,
                             nn_dtype_name(t->dtype));
    if (t->ndim > 1)
        return nn_node_error(e, n, FP_EMODEL, "%s must be 1-D, got rank %d", what, t->ndim);
    int64_t cnt = nn_tensor_numel(t);
    if (cnt > max)
        return nn_node_error(e, n, FP_EMODEL, "%s has %lld values, at most %d are supported", what,
                             (long long)cnt, max);
    for (int64_t i = 0; i < cnt; i++)
        v[i] = nn_tensor_get_i64(t, i);
    return (int)cnt;
}

int opsa_get_axes(const nn_node *n, nn_tensor *const *in, int nin, int idx, int input_opset, int rank,
                  int *axes, fp_err *e)
{
    int64_t raw[NN_MAX_DIMS * 2];
    int cnt = 0;
    if (n->opset < input_opset) {
        const int64_t *a = nn_attr_ints(n, "axes", &cnt);
        if (cnt > NN_MAX_DIMS * 2)
            return nn_node_error(e, n, FP_EMODEL, "too many axes (%d)", cnt);
        for (int i = 0; i < cnt; i++)
            raw[i] = a[i];
    } else if (idx < nin && in[idx]) {
        cnt = opsa_read_ints(n, in[idx], "axes input", raw, NN_MAX_DIMS * 2, e);
        if (cnt < 0)
            return cnt;
    }
    for (int i = 0; i < cnt; i++) {
        if (nn_norm_axis(raw[i], rank, &axes[i]) < 0)
            return nn_node_error(e, n, FP_EMODEL, "axis %lld out of range for rank %d", (long long)raw[i],
                                 rank);
        for (int j = 0; j < i; j++)
            if (axes[j] == axes[i])
                return nn_node_error(e, n, FP_EMODEL, "axis %lld repeated", (long long)raw[i]);
    }
    return cnt;
}

int opsa_set_shape(const nn_node *n, fp_err *e, nn_tensor *t, int nd, const int64_t *dims)
{
    int64_t total = 1;
    if (nd < 0 || nd > NN_MAX_DIMS)
        return nn_node_error(e, n, FP_EMODEL, "output rank %d is above %d", nd, NN_MAX_DIMS);
    for (int d = 0; d < nd; d++)
        if (dims[d] < 0 || __builtin_mul_overflow(total, dims[d], &total))
            return nn_node_error(e, n, FP_EMODEL, "output dimension %d is negative or overflows", d);
    if (nn_tensor_set_shape(t, nd, dims) < 0)
        return nn_node_error(e, n, FP_EMODEL, "invalid output shape");
    return 0;
}
