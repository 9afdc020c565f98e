/*
 * index — CPU kernels of the indexing and masking operators beyond Gather: GatherND, ScatterElements,
 * ScatterND, OneHot, Trilu, CumSum, NonZero, Compress, and the elementwise BitShift.
 *
 * Owns those op defs. Data-moving kernels are dtype-generic (bytes by element size); reductions in
 * ScatterElements/ScatterND (add, mul, max, min) and CumSum compute in double for float types and in
 * int64 for integer types. NonZero's and Compress's output sizes depend on input values, so their
 * infer needs those values (value_inputs). Indices outside their axis fail the run with FP_EINPUT naming the index;
 * nothing is read or written out of bounds. Does not own registration.
 */
#include "nn/ops/opsa_util.h"

#include <stdlib.h>
#include <string.h>

static int64_t numel_from(const nn_tensor *t, int from)
{
    return opsa_dims_numel(t->dims + from, t->ndim - from);
}

static void unravel_idx(int64_t i, const nn_tensor *t, int64_t *c)
{
    for (int d = t->ndim - 1; d >= 0; d--) {
        c[d] = i % t->dims[d];
        i /= t->dims[d];
    }
}

static int check_indices(const nn_node *n, const nn_tensor *t, fp_err *e)
{
    if (t->dtype != NN_DT_INT64 && t->dtype != NN_DT_INT32)
        return nn_node_error(e, n, FP_EMODEL, "indices must be int32 or int64, got %s", nn_dtype_name(t->dtype));
    return 0;
}

static int bad_index(const nn_node *n, int64_t v, int64_t dim, fp_err *e)
{
    return nn_node_error(e, n, FP_EINPUT, "index %lld out of range [-%lld, %lld)", (long long)v, (long long)dim,
                         (long long)dim);
}

/* ---- GatherND ---- */

static int gathernd_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                          fp_err *e)
{
    int ret, nd = 0;
    int64_t dims[NN_MAX_DIMS];
    if (nin < 2 || !in[0] || !in[1])
        return nn_node_error(e, n, FP_EMODEL, "needs data and indices");
    if ((ret = check_indices(n, in[1], e)) < 0)
        return ret;
    const nn_tensor *x = in[0], *ind = in[1];
    int b = (int)nn_attr_int(n, "batch_dims", 0);
    if (ind->ndim < 1 || b < 0 || b >= ind->ndim || b >= x->ndim)
        return nn_node_error(e, n, FP_EMODEL, "batch_dims %d invalid for ranks %d and %d", b, x->ndim, ind->ndim);
    int64_t k = ind->dims[ind->ndim - 1];
    if (k < 1 || b + k > x->ndim)
        return nn_node_error(e, n, FP_EMODEL, "index tuples of %lld exceed data rank %d", (long long)k, x->ndim);
    for (int d = 0; d < b; d++)
        if (x->dims[d] != ind->dims[d])
            return nn_node_error(e, n, FP_EMODEL, "batch dimension %d differs", d);
    for (int d = 0; d < ind->ndim - 1; d++)
        dims[nd++] = ind->dims[d];
    for (int d = b + (int)k; d < x->ndim; d++) {
        if (nd >= NN_MAX_DIMS)
            return nn_node_error(e, n, FP_EUNSUPPORTED, "output rank above %d", NN_MAX_DIMS);
        dims[nd++] = x->dims[d];
    }
    out[0]->dtype = x->dtype;
    return opsa_set_shape(n, e, out[0], nd, dims);
}

static int gathernd_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                        nn_cpu_ctx *ctx, fp_err *e)
{
    const nn_tensor *x = in[0], *ind = in[1];
    int b = (int)nn_attr_int(n, "batch_dims", 0);
    int k = (int)ind->dims[ind->ndim - 1];
    size_t es = nn_dtype_size(x->dtype);
    int64_t slice = numel_from(x, b + k) * (int64_t)es;
    int64_t nb = opsa_dims_numel(x->dims, b);
    int64_t per_batch = opsa_dims_numel(ind->dims + b, ind->ndim - 1 - b); /* tuples per batch */
    int64_t xbatch = numel_from(x, b) * (int64_t)es;
    char *dst = out[0]->data;
    for (int64_t bi = 0; bi < nb; bi++)
        for (int64_t t = 0; t < per_batch; t++) {
            int64_t off = 0, tup = (bi * per_batch + t) * k;
            for (int j = 0; j < k; j++) {
                int64_t dim = x->dims[b + j], v = opsa_load_i64(ind->dtype, ind->data, tup + j);
                if (v < -dim || v >= dim)
                    return bad_index(n, v, dim, e);
                off = off * dim + (v < 0 ? v + dim : v);
            }
            memcpy(dst, (const char *)x->data + bi * xbatch + off * slice, (size_t)slice);
            dst += slice;
        }
    return 0;
}

const nn_op_def nn_op_gathernd = { "GatherND", "", 1, gathernd_infer, gathernd_cpu, 0 };

/* ---- scatter reductions ---- */

enum { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN };

static int scatter_reduction(const nn_node *n, int *r, fp_err *e)
{
    const char *s = nn_attr_str(n, "reduction", "none");
    *r = !strcmp(s, "none") ? RED_NONE : !strcmp(s, "add") ? RED_ADD : !strcmp(s, "mul") ? RED_MUL
       : !strcmp(s, "max") ? RED_MAX : !strcmp(s, "min") ? RED_MIN : -1;
    if (*r < 0)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "reduction '%s' not supported", s);
    return 0;
}

/* dst[di] = reduce(dst[di], src[si]) */
static void scatter_el(nn_dtype t, int red, void *dst, int64_t di, const void *src, int64_t si)
{
    size_t es = nn_dtype_size(t);
    if (red == RED_NONE) {
        memcpy((char *)dst + di * (int64_t)es, (const char *)src + si * (int64_t)es, es);
    } else if (opsa_dt_is_float(t)) {
        double a = opsa_load_f64(t, dst, di), b = opsa_load_f64(t, src, si);
        opsa_store_f64(t, dst, di, red == RED_ADD ? a + b : red == RED_MUL ? a * b : red == RED_MAX ? (a > b ? a : b)
                                                                                                  : (a < b ? a : b));
    } else {
        int64_t a = opsa_load_i64(t, dst, di), b = opsa_load_i64(t, src, si);
        int64_t r = red == RED_ADD ? (int64_t)((uint64_t)a + (uint64_t)b)
                  : red == RED_MUL ? (int64_t)((uint64_t)a * (uint64_t)b)
                  : red == RED_MAX ? (a > b ? a : b) : (a < b ? a : b);
        opsa_store_i64(t, dst, di, r);
    }
}

static int scatter_types(const nn_node *n, nn_tensor *const *in, int red, fp_err *e)
{
    int ret;
    if ((ret = check_indices(n, in[1], e)) < 0)
        return ret;
    if (in[2]->dtype != in[0]->dtype)
        return nn_node_error(e, n, FP_EMODEL, "updates dtype %s differs from data %s", nn_dtype_name(in[2]->dtype),
                             nn_dtype_name(in[0]->dtype));
    if (!nn_dtype_size(in[0]->dtype) || (red != RED_NONE && !opsa_dt_is_numeric(in[0]->dtype)))
        return nn_node_error(e, n, FP_EUNSUPPORTED, "dtype %s not supported", nn_dtype_name(in[0]->dtype));
    return 0;
}

/* ---- ScatterElements ---- */

static int scatterel_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                           fp_err *e)
{
    int ret, red, axis;
    if (nin < 3 || !in[0] || !in[1] || !in[2])
        return nn_node_error(e, n, FP_EMODEL, "needs data, indices and updates");
    if ((ret = scatter_reduction(n, &red, e)) < 0 || (ret = scatter_types(n, in, red, e)) < 0)
        return ret;
    if (!nn_shape_equal(in[1], in[2]) || in[1]->ndim != in[0]->ndim)
        return nn_node_error(e, n, FP_EMODEL, "indices and updates must have one shape and the data's rank");
    if (nn_norm_axis(nn_attr_int(n, "axis", 0), in[0]->ndim, &axis) < 0)
        return nn_node_error(e, n, FP_EMODEL, "axis out of range for rank %d", in[0]->ndim);
    for (int d = 0; d < in[0]->ndim; d++)
        if (d != axis && in[1]->dims[d] > in[0]->dims[d])
            return nn_node_error(e, n, FP_EMODEL, "indices dim %d larger than the data's", d);
    out[0]->dtype = in[0]->dtype;
    return opsa_set_shape(n, e, out[0], in[0]->ndim, in[0]->dims);
}

static int scatterel_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                         nn_cpu_ctx *ctx, fp_err *e)
{
    int red, axis;
    const nn_tensor *x = in[0], *ind = in[1], *upd = in[2];
    scatter_reduction(n, &red, e);
    nn_norm_axis(nn_attr_int(n, "axis", 0), x->ndim, &axis);
    if (out[0]->data != x->data && nn_tensor_nbytes(x))
        memcpy(out[0]->data, x->data, nn_tensor_nbytes(x));
    int64_t total = nn_tensor_numel(ind), c[NN_MAX_DIMS] = { 0 }, xs[NN_MAX_DIMS], s = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
        xs[d] = s;
        s *= x->dims[d];
    }
    for (int64_t k = 0; k < total; k++) {
        int64_t dim = x->dims[axis], v = opsa_load_i64(ind->dtype, ind->data, k), off = 0;
        if (v < -dim || v >= dim)
            return bad_index(n, v, dim, e);
        if (v < 0)
            v += dim;
        for (int d = 0; d < x->ndim; d++)
            off += (d == axis ? v : c[d]) * xs[d];
        scatter_el(x->dtype, red, out[0]->data, off, upd->data, k);
        for (int d = ind->ndim - 1; d >= 0; d--) {
            if (++c[d] < ind->dims[d])
                break;
            c[d] = 0;
        }
    }
    return 0;
}

const nn_op_def nn_op_scatterelements = { "ScatterElements", "", 1, scatterel_infer, scatterel_cpu, 0 };

/* ---- ScatterND ---- */

static int scatternd_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                           fp_err *e)
{
    int ret, red;
    if (nin < 3 || !in[0] || !in[1] || !in[2])
        return nn_node_error(e, n, FP_EMODEL, "needs data, indices and updates");
    if ((ret = scatter_reduction(n, &red, e)) < 0 || (ret = scatter_types(n, in, red, e)) < 0)
        return ret;
    const nn_tensor *x = in[0], *ind = in[1], *upd = in[2];
    int64_t k = ind->ndim ? ind->dims[ind->ndim - 1] : 0;
    if (ind->ndim < 1 || k < 1 || k > x->ndim)
        return nn_node_error(e, n, FP_EMODEL, "index tuples of %lld for data rank %d", (long long)k, x->ndim);
    /* updates shape = indices.shape[:-1] + data.shape[k:] */
    int ok = upd->ndim == ind->ndim - 1 + x->ndim - (int)k;
    for (int d = 0; ok && d < ind->ndim - 1; d++)
        ok = upd->dims[d] == ind->dims[d];
    for (int d = (int)k; ok && d < x->ndim; d++)
        ok = upd->dims[ind->ndim - 1 + d - k] == x->dims[d];
    if (!ok)
        return nn_node_error(e, n, FP_EMODEL, "updates shape does not match indices and data");
    out[0]->dtype = x->dtype;
    return opsa_set_shape(n, e, out[0], x->ndim, x->dims);
}

static int scatternd_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                         nn_cpu_ctx *ctx, fp_err *e)
{
    int red;
    const nn_tensor *x = in[0], *ind = in[1], *upd = in[2];
    scatter_reduction(n, &red, e);
    if (out[0]->data != x->data && nn_tensor_nbytes(x))
        memcpy(out[0]->data, x->data, nn_tensor_nbytes(x));
    int k = (int)ind->dims[ind->ndim - 1];
    int64_t slice = numel_from(x, k), tuples = opsa_dims_numel(ind->dims, ind->ndim - 1);
    for (int64_t t = 0; t < tuples; t++) {
        int64_t off = 0;
        for (int j = 0; j < k; j++) {
            int64_t dim = x->dims[j], v = opsa_load_i64(ind->dtype, ind->data, t * k + j);
            if (v < -dim || v >= dim)
                return bad_index(n, v, dim, e);
            off = off * dim + (v < 0 ? v + dim : v);
        }
        for (int64_t i = 0; i < slice; i++)
            scatter_el(x->dtype, red, out[0]->data, off * slice + i, upd->data, t * slice + i);
    }
    return 0;
}

const nn_op_def nn_op_scatternd = { "ScatterND", "", 1, scatternd_infer, scatternd_cpu, 0 };

/* ---- OneHot ---- */

static int onehot_depth(const nn_node *n, nn_tensor *const *in, int64_t *depth, fp_err *e)
{
    if (!in[1]->data)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "depth must be a constant (known when the plan is built)");
    if (nn_tensor_numel(in[1]) != 1 || !opsa_dt_is_numeric(in[1]->dtype))
        return nn_node_error(e, n, FP_EMODEL, "depth must be one number");
    *depth = opsa_dt_is_float(in[1]->dtype) ? (int64_t)opsa_load_f64(in[1]->dtype, in[1]->data, 0)
                                            : opsa_load_i64(in[1]->dtype, in[1]->data, 0);
    if (*depth < 1)
        return nn_node_error(e, n, FP_EMODEL, "depth %lld is not positive", (long long)*depth);
    return 0;
}

static int onehot_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                        fp_err *e)
{
    int ret, axis;
    int64_t depth, dims[NN_MAX_DIMS];
    if (nin < 3 || !in[0] || !in[1] || !in[2])
        return nn_node_error(e, n, FP_EMODEL, "needs indices, depth and values");
    if (!opsa_dt_is_numeric(in[0]->dtype))
        return nn_node_error(e, n, FP_EMODEL, "indices must be numeric");
    if (nn_tensor_numel(in[2]) != 2 || !nn_dtype_size(in[2]->dtype))
        return nn_node_error(e, n, FP_EMODEL, "values must hold [off, on]");
    if ((ret = onehot_depth(n, in, &depth, e)) < 0)
        return ret;
    int r = in[0]->ndim + 1;
    if (r > NN_MAX_DIMS || nn_norm_axis(nn_attr_int(n, "axis", -1), r, &axis) < 0)
        return nn_node_error(e, n, FP_EMODEL, "axis out of range for output rank %d", r);
    for (int d = 0, k = 0; d < r; d++)
        dims[d] = d == axis ? depth : in[0]->dims[k++];
    out[0]->dtype = in[2]->dtype;
    return opsa_set_shape(n, e, out[0], r, dims);
}

static int onehot_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                      nn_cpu_ctx *ctx, fp_err *e)
{
    int axis;
    int64_t depth;
    int ret = onehot_depth(n, in, &depth, e);
    if (ret < 0)
        return ret;
    nn_norm_axis(nn_attr_int(n, "axis", -1), in[0]->ndim + 1, &axis);
    size_t es = nn_dtype_size(out[0]->dtype);
    const char *off = in[2]->data, *on = (const char *)in[2]->data + es;
    int64_t outer = opsa_dims_numel(in[0]->dims, axis), inner = numel_from(in[0], axis);
    char *y = out[0]->data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t d = 0; d < depth; d++)
            for (int64_t i = 0; i < inner; i++) {
                int64_t idx = o * inner + i;
                int64_t v = opsa_dt_is_float(in[0]->dtype) ? (int64_t)opsa_load_f64(in[0]->dtype, in[0]->data, idx)
                                                          : opsa_load_i64(in[0]->dtype, in[0]->data, idx);
                if (v < 0)
                    v += depth;
                memcpy(y + ((o * depth + d) * inner + i) * (int64_t)es, v == d ? on : off, es);
            }
    return 0;
}

const nn_op_def nn_op_onehot = { "OneHot", "", 1, onehot_infer, onehot_cpu, 1u << 1 };

/* ---- Trilu ---- */

static int trilu_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                       fp_err *e)
{
    if (nin < 1 || !in[0])
        return nn_node_error(e, n, FP_EMODEL, "missing input");
    if (in[0]->ndim < 2)
        return nn_node_error(e, n, FP_EMODEL, "input rank %d is below 2", in[0]->ndim);
    if (!nn_dtype_size(in[0]->dtype))
        return nn_node_error(e, n, FP_EUNSUPPORTED, "dtype %s", nn_dtype_name(in[0]->dtype));
    if (nin > 1 && in[1] && nn_tensor_numel(in[1]) != 1)
        return nn_node_error(e, n, FP_EMODEL, "k must hold one value");
    out[0]->dtype = in[0]->dtype;
    return opsa_set_shape(n, e, out[0], in[0]->ndim, in[0]->dims);
}

static int trilu_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                     nn_cpu_ctx *ctx, fp_err *e)
{
    const nn_tensor *x = in[0];
    int upper = (int)nn_attr_int(n, "upper", 1);
    int64_t k = nin > 1 && in[1] ? nn_tensor_get_i64(in[1], 0) : 0;
    int64_t rows = x->dims[x->ndim - 2], cols = x->dims[x->ndim - 1];
    int64_t mats = opsa_dims_numel(x->dims, x->ndim - 2);
    size_t es = nn_dtype_size(x->dtype);
    const char *src = x->data;
    char *dst = out[0]->data;
    for (int64_t m = 0; m < mats; m++)
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++) {
                int64_t off = ((m * rows + i) * cols + j) * (int64_t)es;
                int keep = upper ? j - i >= k : j - i <= k;
                if (keep)
                    memcpy(dst + off, src + off, es);
                else
                    memset(dst + off, 0, es);
            }
    return 0;
}

const nn_op_def nn_op_trilu = { "Trilu", "", 1, trilu_infer, trilu_cpu, 0 };

/* ---- CumSum ---- */

static int cumsum_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                        fp_err *e)
{
    if (nin < 2 || !in[0] || !in[1])
        return nn_node_error(e, n, FP_EMODEL, "needs x and axis");
    if (!opsa_dt_is_numeric(in[0]->dtype))
        return nn_node_error(e, n, FP_EUNSUPPORTED, "dtype %s", nn_dtype_name(in[0]->dtype));
    if (nn_tensor_numel(in[1]) != 1 || (in[1]->dtype != NN_DT_INT32 && in[1]->dtype != NN_DT_INT64))
        return nn_node_error(e, n, FP_EMODEL, "axis must be one int32/int64 value");
    if (in[1]->data) {
        int axis;
        if (nn_norm_axis(nn_tensor_get_i64(in[1], 0), in[0]->ndim, &axis) < 0)
            return nn_node_error(e, n, FP_EMODEL, "axis out of range for rank %d", in[0]->ndim);
    }
    out[0]->dtype = in[0]->dtype;
    return opsa_set_shape(n, e, out[0], in[0]->ndim, in[0]->dims);
}

static int cumsum_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                      nn_cpu_ctx *ctx, fp_err *e)
{
    const nn_tensor *x = in[0];
    int axis;
    if (nn_norm_axis(nn_tensor_get_i64(in[1], 0), x->ndim, &axis) < 0)
        return nn_node_error(e, n, FP_EINPUT, "axis out of range for rank %d", x->ndim);
    int excl = (int)nn_attr_int(n, "exclusive", 0), rev = (int)nn_attr_int(n, "reverse", 0);
    int64_t outer = opsa_dims_numel(x->dims, axis), len = x->dims[axis], inner = numel_from(x, axis + 1);
    int isf = opsa_dt_is_float(x->dtype);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            double sf = 0;
            int64_t si = 0;
            for (int64_t a = 0; a < len; a++) {
                int64_t kk = rev ? len - 1 - a : a, idx = (o * len + kk) * inner + i;
                if (isf) {
                    double v = opsa_load_f64(x->dtype, x->data, idx);
                    if (!excl)
                        sf += v;
                    opsa_store_f64(x->dtype, out[0]->data, idx, sf);
                    if (excl)
                        sf += v;
                } else {
                    int64_t v = opsa_load_i64(x->dtype, x->data, idx);
                    if (!excl)
                        si = (int64_t)((uint64_t)si + (uint64_t)v);
                    opsa_store_i64(x->dtype, out[0]->data, idx, si);
                    if (excl)
                        si = (int64_t)((uint64_t)si + (uint64_t)v);
                }
            }
        }
    return 0;
}

const nn_op_def nn_op_cumsum = { "CumSum", "", 1, cumsum_infer, cumsum_cpu, 0 };

/* ---- BitShift (unsigned integers) ---- */

typedef struct shift_param {
    nn_dtype t;
    int left;
} shift_param;

static void shift_row(void *o, const void *const *in, const int64_t *st, int64_t n, const void *pp)
{
    const shift_param *p = pp;
    int bits = (int)nn_dtype_size(p->t) * 8;
    for (int64_t i = 0; i < n; i++) {
        uint64_t x = (uint64_t)opsa_load_i64(p->t, in[0], i * st[0]);
        uint64_t y = (uint64_t)opsa_load_i64(p->t, in[1], i * st[1]);
        uint64_t r = y >= (uint64_t)bits ? 0 : p->left ? x << y : x >> y;
        opsa_store_i64(p->t, o, i, (int64_t)r);
    }
}

static int bitshift_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                          fp_err *e)
{
    const char *dir = nn_attr_str(n, "direction", "");
    if (nin < 2 || !in[0] || !in[1])
        return nn_node_error(e, n, FP_EMODEL, "needs two inputs");
    if (strcmp(dir, "LEFT") && strcmp(dir, "RIGHT"))
        return nn_node_error(e, n, FP_EMODEL, "direction must be LEFT or RIGHT");
    nn_dtype t = in[0]->dtype;
    if (t != in[1]->dtype)
        return nn_node_error(e, n, FP_EMODEL, "input dtypes differ");
    if (t != NN_DT_UINT8 && t != NN_DT_UINT16 && t != NN_DT_UINT32 && t != NN_DT_UINT64)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "dtype %s (unsigned integers only)", nn_dtype_name(t));
    out[0]->dtype = t;
    if (nn_broadcast_shape(in[0], in[1], out[0]) < 0)
        return nn_node_error(e, n, FP_EMODEL, "shapes do not broadcast");
    return 0;
}

static int bitshift_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                        nn_cpu_ctx *ctx, fp_err *e)
{
    shift_param p = { in[0]->dtype, !strcmp(nn_attr_str(n, "direction", ""), "LEFT") };
    opsa_bcast it;
    if (opsa_bcast_init(&it, out[0], in, 2, shift_row, &p) < 0)
        return nn_node_error(e, n, FP_EINTERNAL, "shape mismatch");
    opsa_bcast_run(&it, ctx);
    return 0;
}

const nn_op_def nn_op_bitshift = { "BitShift", "", 1, bitshift_infer, bitshift_cpu, 0 };

/* ---- NonZero, Compress: output sizes that depend on input values ----
 * Like NonMaxSuppression, their infer needs the values (value_inputs), so they work on constants,
 * folded subgraphs and small value inputs; on activations the planner refuses them by name. */

static int truthy(const nn_tensor *t, int64_t i)
{
    return opsa_dt_is_float(t->dtype) ? opsa_load_f64(t->dtype, t->data, i) != 0
                                      : opsa_load_i64(t->dtype, t->data, i) != 0;
}

static int nonzero_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                         fp_err *e)
{
    int64_t dims[2], cnt = 0;
    if (nin < 1 || !in[0])
        return nn_node_error(e, n, FP_EMODEL, "missing input");
    if (!opsa_dt_is_numeric(in[0]->dtype) && in[0]->dtype != NN_DT_BOOL)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "dtype %s", nn_dtype_name(in[0]->dtype));
    if (!in[0]->data)
        return nn_node_error(e, n, FP_EUNSUPPORTED,
                             "output size depends on the input's values, which are not known when the plan is built");
    for (int64_t i = 0; i < nn_tensor_numel(in[0]); i++)
        cnt += truthy(in[0], i);
    dims[0] = in[0]->ndim;
    dims[1] = cnt;
    out[0]->dtype = NN_DT_INT64;
    return opsa_set_shape(n, e, out[0], 2, dims);
}

static int nonzero_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                       nn_cpu_ctx *ctx, fp_err *e)
{
    const nn_tensor *x = in[0];
    int64_t total = nn_tensor_numel(x), cnt = out[0]->dims[1], k = 0, c[NN_MAX_DIMS];
    int64_t *y = out[0]->data;
    for (int64_t i = 0; i < total; i++) {
        if (!truthy(x, i))
            continue;
        if (k >= cnt)
            return nn_node_error(e, n, FP_EINTERNAL, "more non-zeros than the inferred %lld", (long long)cnt);
        unravel_idx(i, x, c);
        for (int d = 0; d < x->ndim; d++)
            y[d * cnt + k] = c[d];
        k++;
    }
    return k == cnt ? 0 : nn_node_error(e, n, FP_EINTERNAL, "fewer non-zeros than inferred");
}

const nn_op_def nn_op_nonzero = { "NonZero", "", 1, nonzero_infer, nonzero_cpu, 1u << 0 };

static int compress_count(const nn_node *n, nn_tensor *const *in, int nin, int *axis, int64_t *cnt, fp_err *e)
{
    if (nin < 2 || !in[0] || !in[1])
        return nn_node_error(e, n, FP_EMODEL, "needs input and condition");
    if (!nn_dtype_size(in[0]->dtype))
        return nn_node_error(e, n, FP_EUNSUPPORTED, "dtype %s", nn_dtype_name(in[0]->dtype));
    if (in[1]->dtype != NN_DT_BOOL || in[1]->ndim != 1)
        return nn_node_error(e, n, FP_EMODEL, "condition must be a 1-D bool tensor");
    if (!in[1]->data)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "condition must be a constant (known when the plan is built)");
    *axis = -1;
    if (nn_attr_get(n, "axis") && nn_norm_axis(nn_attr_int(n, "axis", 0), in[0]->ndim, axis) < 0)
        return nn_node_error(e, n, FP_EMODEL, "axis out of range for rank %d", in[0]->ndim);
    int64_t len = *axis < 0 ? nn_tensor_numel(in[0]) : in[0]->dims[*axis];
    int64_t m = in[1]->dims[0] < len ? in[1]->dims[0] : len;
    *cnt = 0;
    for (int64_t i = 0; i < m; i++)
        *cnt += ((const uint8_t *)in[1]->data)[i] != 0;
    return 0;
}

static int compress_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                          fp_err *e)
{
    int axis, ret;
    int64_t cnt, dims[NN_MAX_DIMS];
    if ((ret = compress_count(n, in, nin, &axis, &cnt, e)) < 0)
        return ret;
    out[0]->dtype = in[0]->dtype;
    if (axis < 0)
        return opsa_set_shape(n, e, out[0], 1, &cnt);
    memcpy(dims, in[0]->dims, sizeof(dims));
    dims[axis] = cnt;
    return opsa_set_shape(n, e, out[0], in[0]->ndim, dims);
}

static int compress_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                        nn_cpu_ctx *ctx, fp_err *e)
{
    int axis, ret;
    int64_t cnt;
    if ((ret = compress_count(n, in, nin, &axis, &cnt, e)) < 0)
        return ret;
    const nn_tensor *x = in[0];
    const uint8_t *cond = in[1]->data;
    size_t es = nn_dtype_size(x->dtype);
    int64_t outer = axis < 0 ? 1 : opsa_dims_numel(x->dims, axis);
    int64_t len = axis < 0 ? nn_tensor_numel(x) : x->dims[axis];
    int64_t inner = (axis < 0 ? 1 : numel_from(x, axis + 1)) * (int64_t)es;
    int64_t m = in[1]->dims[0] < len ? in[1]->dims[0] : len;
    char *dst = out[0]->data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < m; i++)
            if (cond[i]) {
                memcpy(dst, (const char *)x->data + (o * len + i) * inner, (size_t)inner);
                dst += inner;
            }
    return 0;
}

const nn_op_def nn_op_compress = { "Compress", "", 1, compress_infer, compress_cpu, 1u << 1 };

/* ---- Unique: distinct elements (or slices along axis), sorted or in first-occurrence order ---- */

typedef struct uq_ctx {
    const nn_tensor *x;
    int64_t outer, len, inner; /* items are x[o, i, :] over o for each i (axis) or single elements */
} uq_ctx;

/* Lexicographic numeric compare of items a and b. */
static int uq_cmp(const uq_ctx *c, int64_t a, int64_t b)
{
    const nn_tensor *x = c->x;
    int isf = opsa_dt_is_float(x->dtype);
    for (int64_t o = 0; o < c->outer; o++)
        for (int64_t k = 0; k < c->inner; k++) {
            int64_t ia = (o * c->len + a) * c->inner + k, ib = (o * c->len + b) * c->inner + k;
            if (isf) {
                double va = opsa_load_f64(x->dtype, x->data, ia), vb = opsa_load_f64(x->dtype, x->data, ib);
                if (va != vb)
                    return va < vb ? -1 : 1;
            } else {
                int64_t va = opsa_load_i64(x->dtype, x->data, ia), vb = opsa_load_i64(x->dtype, x->data, ib);
                if (va != vb)
                    return va < vb ? -1 : 1;
            }
        }
    return 0;
}

/* Stable merge sort of item ids (qsort is neither stable nor takes a context in C11). */
static void uq_sort(const uq_ctx *c, int64_t *v, int64_t *tmp, int64_t n)
{
    if (n < 2)
        return;
    int64_t h = n / 2, i = 0, j = h, k = 0;
    uq_sort(c, v, tmp, h);
    uq_sort(c, v + h, tmp, n - h);
    while (i < h && j < n)
        tmp[k++] = uq_cmp(c, v[j], v[i]) < 0 ? v[j++] : v[i++];
    while (i < h)
        tmp[k++] = v[i++];
    while (j < n)
        tmp[k++] = v[j++];
    memcpy(v, tmp, (size_t)n * sizeof(*v));
}

typedef struct uq_result {
    int64_t nuniq;
    int64_t *first;   /* [nuniq] first occurrence of each output item */
    int64_t *inverse; /* [len] output position of each input item */
    int64_t *count;   /* [nuniq] */
} uq_result;

static void uq_free(uq_result *r)
{
    free(r->first);
    free(r->inverse);
    free(r->count);
    memset(r, 0, sizeof(*r));
}

static int uq_layout(const nn_node *n, const nn_tensor *x, uq_ctx *c, fp_err *e)
{
    c->x = x;
    if (!nn_attr_get(n, "axis")) {
        c->outer = 1;
        c->len = nn_tensor_numel(x);
        c->inner = 1;
        return 0;
    }
    int axis;
    if (nn_norm_axis(nn_attr_int(n, "axis", 0), x->ndim, &axis) < 0)
        return nn_node_error(e, n, FP_EMODEL, "axis out of range for rank %d", x->ndim);
    c->outer = opsa_dims_numel(x->dims, axis);
    c->len = x->dims[axis];
    c->inner = numel_from(x, axis + 1);
    return axis;
}

static int uq_run(const nn_node *n, const nn_tensor *x, uq_result *r, uq_ctx *c, fp_err *e)
{
    int ret;
    memset(r, 0, sizeof(*r));
    if (!opsa_dt_is_numeric(x->dtype) && x->dtype != NN_DT_BOOL)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "dtype %s", nn_dtype_name(x->dtype));
    if (!x->data)
        return nn_node_error(e, n, FP_EUNSUPPORTED,
                             "output size depends on the input's values, which are not known when the plan is built");
    if ((ret = uq_layout(n, x, c, e)) < 0)
        return ret;
    int64_t m = c->len ? c->len : 1;
    int64_t *ord = malloc((size_t)m * sizeof(int64_t)), *tmp = malloc((size_t)m * sizeof(int64_t));
    int64_t *grp = malloc((size_t)m * sizeof(int64_t)); /* group id per sorted position */
    r->first = malloc((size_t)m * sizeof(int64_t));
    r->inverse = malloc((size_t)m * sizeof(int64_t));
    r->count = malloc((size_t)m * sizeof(int64_t));
    if (!ord || !tmp || !grp || !r->first || !r->inverse || !r->count) {
        free(ord);
        free(tmp);
        free(grp);
        uq_free(r);
        return nn_node_error(e, n, FP_ENOMEM, "out of memory");
    }
    for (int64_t i = 0; i < c->len; i++)
        ord[i] = i;
    uq_sort(c, ord, tmp, c->len);
    /* runs of equal items in sorted order; the stable sort puts each run's first occurrence first */
    int64_t g = -1;
    for (int64_t i = 0; i < c->len; i++) {
        if (i == 0 || uq_cmp(c, ord[i - 1], ord[i]) != 0) {
            g++;
            r->first[g] = ord[i];
            r->count[g] = 0;
        }
        grp[i] = g;
        r->count[g]++;
    }
    r->nuniq = g + 1;
    if (!nn_attr_int(n, "sorted", 1)) {
        /* renumber groups by first occurrence: sort group ids by their first index */
        int64_t *perm = tmp, *rank = ord; /* reuse: ord no longer needed after grp/inverse below */
        for (int64_t i = 0; i < c->len; i++)
            r->inverse[ord[i]] = grp[i];
        /* groups in order of first occurrence: first[] holds distinct input positions, so a slot
         * table over positions orders them in O(len) */
        int64_t *slot = malloc((size_t)m * sizeof(int64_t)), np = 0;
        int64_t *nf = grp, *nc = malloc((size_t)(r->nuniq ? r->nuniq : 1) * sizeof(int64_t));
        if (slot)
            for (int64_t i = 0; i < c->len; i++)
                slot[i] = -1;
        for (int64_t k = 0; slot && k < r->nuniq; k++)
            slot[r->first[k]] = k;
        for (int64_t i = 0; slot && i < c->len; i++)
            if (slot[i] >= 0)
                perm[np++] = slot[i];
        int have_slot = slot != NULL;
        free(slot);
        if (!nc || !have_slot) {
            free(nc);
            free(ord);
            free(tmp);
            free(grp);
            uq_free(r);
            return nn_node_error(e, n, FP_ENOMEM, "out of memory");
        }
        for (int64_t k = 0; k < r->nuniq; k++) {
            rank[perm[k]] = k;
            nf[k] = r->first[perm[k]];
            nc[k] = r->count[perm[k]];
        }
        for (int64_t i = 0; i < c->len; i++)
            r->inverse[i] = rank[r->inverse[i]];
        memcpy(r->first, nf, (size_t)r->nuniq * sizeof(int64_t));
        memcpy(r->count, nc, (size_t)r->nuniq * sizeof(int64_t));
        free(nc);
    } else {
        for (int64_t i = 0; i < c->len; i++)
            r->inverse[ord[i]] = grp[i];
    }
    free(ord);
    free(tmp);
    free(grp);
    return 0;
}

static int unique_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                        fp_err *e)
{
    uq_result r;
    uq_ctx c;
    int ret;
    if (nin < 1 || !in[0])
        return nn_node_error(e, n, FP_EMODEL, "missing input");
    if ((ret = uq_run(n, in[0], &r, &c, e)) < 0)
        return ret;
    int axis = uq_layout(n, in[0], &c, e);
    int64_t dims[NN_MAX_DIMS];
    out[0]->dtype = in[0]->dtype;
    if (axis < 0 || !nn_attr_get(n, "axis")) {
        ret = opsa_set_shape(n, e, out[0], 1, &r.nuniq);
    } else {
        memcpy(dims, in[0]->dims, sizeof(dims));
        dims[axis] = r.nuniq;
        ret = opsa_set_shape(n, e, out[0], in[0]->ndim, dims);
    }
    for (int k = 1; k < nout && ret >= 0; k++)
        if (out[k]) {
            out[k]->dtype = NN_DT_INT64;
            ret = opsa_set_shape(n, e, out[k], 1, k == 2 ? &c.len : &r.nuniq);
        }
    uq_free(&r);
    return ret;
}

static int unique_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                      nn_cpu_ctx *ctx, fp_err *e)
{
    uq_result r;
    uq_ctx c;
    int ret = uq_run(n, in[0], &r, &c, e);
    if (ret < 0)
        return ret;
    int axis = nn_attr_get(n, "axis") ? uq_layout(n, in[0], &c, e) : 0;
    if (out[0]->ndim < 1 || out[0]->dims[axis] != r.nuniq) {
        uq_free(&r);
        return nn_node_error(e, n, FP_EINTERNAL, "output sized for a different number of unique items");
    }
    size_t es = nn_dtype_size(in[0]->dtype);
    int64_t row = c.inner * (int64_t)es;
    for (int64_t o = 0; o < c.outer; o++)
        for (int64_t k = 0; k < r.nuniq; k++)
            memcpy((char *)out[0]->data + (o * r.nuniq + k) * row,
                   (const char *)in[0]->data + (o * c.len + r.first[k]) * row, (size_t)row);
    if (nout > 1 && out[1] && r.nuniq)
        memcpy(out[1]->data, r.first, (size_t)r.nuniq * sizeof(int64_t));
    if (nout > 2 && out[2] && c.len)
        memcpy(out[2]->data, r.inverse, (size_t)c.len * sizeof(int64_t));
    if (nout > 3 && out[3] && r.nuniq)
        memcpy(out[3]->data, r.count, (size_t)r.nuniq * sizeof(int64_t));
    uq_free(&r);
    return 0;
}

const nn_op_def nn_op_unique = { "Unique", "", 1, unique_infer, unique_cpu, 1u << 0 };
