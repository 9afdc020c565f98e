/*
 * movement — CPU kernels of ONNX's data-movement operators: Concat, Split, Slice, Gather,
 * GatherElements, Transpose, Expand, Tile, Pad.
 *
 * Owns those op defs. Every kernel here is dtype-generic: elements are moved by their byte size, so
 * float16, bool and int64 tensors work the same as float32. Values that decide shapes (Slice's
 * starts/ends/axes/steps, Split's split, Expand's shape, Tile's repeats, Pad's pads/axes) are read in
 * infer from host data the runtime supplies (value_inputs bits); when absent, infer fails with
 * FP_EUNSUPPORTED naming the input. Out-of-range Gather indices fail the run with FP_EINPUT.
 */
#include "nn/ops/opsa_util.h"

#include <string.h>

static inline void copy_el(char *dst, const char *src, size_t es)
{
    switch (es) {
    case 1: *(uint8_t *)dst = *(const uint8_t *)src; break;
    case 2: memcpy(dst, src, 2); break;
    case 4: memcpy(dst, src, 4); break;
    case 8: memcpy(dst, src, 8); break;
    default: memcpy(dst, src, es); break;
    }
}

static void contiguous_strides(const nn_tensor *t, int64_t *st)
{
    int64_t s = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        st[d] = s;
        s *= t->dims[d];
    }
}

static int check_dtype(const nn_node *n, const nn_tensor *t, fp_err *e)
{
    if (!nn_dtype_size(t->dtype))
        return nn_node_error(e, n, FP_EUNSUPPORTED, "dtype %s not supported", nn_dtype_name(t->dtype));
    return 0;
}

/* ---- Concat ---- */

static int concat_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                        fp_err *e)
{
    int axis, ret;
    int64_t dims[NN_MAX_DIMS];
    if (nin < 1 || !in[0])
        return nn_node_error(e, n, FP_EMODEL, "needs at least one input");
    if ((ret = check_dtype(n, in[0], e)) < 0)
        return ret;
    if (!nn_attr_get(n, "axis"))
        return nn_node_error(e, n, FP_EMODEL, "attribute 'axis' is required");
    if (nn_norm_axis(nn_attr_int(n, "axis", 0), in[0]->ndim, &axis) < 0)
        return nn_node_error(e, n, FP_EMODEL, "axis %lld out of range for rank %d",
                             (long long)nn_attr_int(n, "axis", 0), in[0]->ndim);
    memcpy(dims, in[0]->dims, sizeof(dims));
    dims[axis] = 0;
    for (int k = 0; k < nin; k++) {
        const nn_tensor *t = in[k];
        if (!t)
            return nn_node_error(e, n, FP_EMODEL, "input %d is missing", k);
        if (t->dtype != in[0]->dtype || t->ndim != in[0]->ndim)
            return nn_node_error(e, n, FP_EMODEL, "input %d has dtype %s rank %d, input 0 has %s rank %d", k,
                                 nn_dtype_name(t->dtype), t->ndim, nn_dtype_name(in[0]->dtype), in[0]->ndim);
        for (int d = 0; d < t->ndim; d++)
            if (d != axis && t->dims[d] != in[0]->dims[d]) {
                char s0[64], s1[64];
                return nn_node_error(e, n, FP_EMODEL, "input %d shape %s does not match input 0 shape %s", k,
                                     nn_shape_str(t, s1, sizeof(s1)), nn_shape_str(in[0], s0, sizeof(s0)));
            }
        dims[axis] += t->dims[axis];
    }
    out[0]->dtype = in[0]->dtype;
    return opsa_set_shape(n, e, out[0], in[0]->ndim, dims);
}

static int concat_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                      nn_cpu_ctx *ctx, fp_err *e)
{
    int axis;
    nn_norm_axis(nn_attr_int(n, "axis", 0), out[0]->ndim, &axis);
    size_t es = nn_dtype_size(out[0]->dtype);
    int64_t outer = opsa_dims_numel(out[0]->dims, axis);
    int64_t inner = opsa_dims_numel(out[0]->dims + axis + 1, out[0]->ndim - axis - 1) * (int64_t)es;
    int64_t orow = out[0]->dims[axis] * inner;
    char *dst = out[0]->data;
    int64_t off = 0;
    for (int k = 0; k < nin; k++) {
        int64_t chunk = in[k]->dims[axis] * inner;
        const char *src = in[k]->data;
        for (int64_t o = 0; o < outer && chunk; o++)
            memcpy(dst + o * orow + off, src + o * chunk, (size_t)chunk);
        off += chunk;
    }
    return 0;
}

const nn_op_def nn_op_concat = { "Concat", "", 1, concat_infer, concat_cpu, 0 };

/* ---- Split ---- */

/* Sizes of each output along the axis. Returns 0 or a negative code. */
static int split_sizes(const nn_node *n, nn_tensor *const *in, int nin, int nout, int axis, int64_t *sz,
                       fp_err *e)
{
    int64_t dim = in[0]->dims[axis];
    int cnt = 0;
    int64_t tmp[256];
    if (nout > 256)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "more than 256 outputs");
    if (n->opset < 13) {
        const int64_t *s = nn_attr_ints(n, "split", &cnt);
        for (int i = 0; i < cnt && i < 256; i++)
            tmp[i] = s[i];
    } else if (nin > 1 && in[1]) {
        cnt = opsa_read_ints(n, in[1], "split input", tmp, 256, e);
        if (cnt < 0)
            return cnt;
    }
    if (cnt) {
        int64_t total = 0;
        if (cnt != nout)
            return nn_node_error(e, n, FP_EMODEL, "split has %d values for %d outputs", cnt, nout);
        for (int i = 0; i < cnt; i++) {
            if (tmp[i] < 0)
                return nn_node_error(e, n, FP_EMODEL, "negative split size");
            sz[i] = tmp[i];
            total += tmp[i];
        }
        if (total != dim)
            return nn_node_error(e, n, FP_EMODEL, "split sizes sum to %lld, axis has %lld", (long long)total,
                                 (long long)dim);
        return 0;
    }
    if (n->opset >= 18 && nn_attr_get(n, "num_outputs")) {
        int64_t k = nn_attr_int(n, "num_outputs", nout);
        if (k != nout || k <= 0)
            return nn_node_error(e, n, FP_EMODEL, "num_outputs %lld but the node has %d outputs", (long long)k,
                                 nout);
        int64_t chunk = (dim + k - 1) / k; /* last chunk smaller when uneven */
        for (int i = 0; i < nout; i++) {
            int64_t left = dim - chunk * i;
            sz[i] = left < 0 ? 0 : left < chunk ? left : chunk;
        }
        return 0;
    }
    if (nout <= 0 || dim % nout)
        return nn_node_error(e, n, FP_EMODEL, "axis of %lld cannot be split into %d equal parts",
                             (long long)dim, nout);
    for (int i = 0; i < nout; i++)
        sz[i] = dim / nout;
    return 0;
}

static int split_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                       fp_err *e)
{
    int axis, ret;
    int64_t sz[256];
    if (nin < 1 || !in[0])
        return nn_node_error(e, n, FP_EMODEL, "missing input");
    if ((ret = check_dtype(n, in[0], e)) < 0)
        return ret;
    if (nn_norm_axis(nn_attr_int(n, "axis", 0), in[0]->ndim, &axis) < 0)
        return nn_node_error(e, n, FP_EMODEL, "axis out of range for rank %d", in[0]->ndim);
    if ((ret = split_sizes(n, in, nin, nout, axis, sz, e)) < 0)
        return ret;
    for (int k = 0; k < nout; k++) {
        int64_t dims[NN_MAX_DIMS];
        if (!out[k])
            continue;
        memcpy(dims, in[0]->dims, sizeof(dims));
        dims[axis] = sz[k];
        out[k]->dtype = in[0]->dtype;
        if ((ret = opsa_set_shape(n, e, out[k], in[0]->ndim, dims)) < 0)
            return ret;
    }
    return 0;
}

static int split_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                     nn_cpu_ctx *ctx, fp_err *e)
{
    int axis, ret;
    int64_t sz[256];
    nn_norm_axis(nn_attr_int(n, "axis", 0), in[0]->ndim, &axis);
    if ((ret = split_sizes(n, in, nin, nout, axis, sz, e)) < 0)
        return ret;
    size_t es = nn_dtype_size(in[0]->dtype);
    int64_t outer = opsa_dims_numel(in[0]->dims, axis);
    int64_t inner = opsa_dims_numel(in[0]->dims + axis + 1, in[0]->ndim - axis - 1) * (int64_t)es;
    int64_t irow = in[0]->dims[axis] * inner, off = 0;
    const char *src = in[0]->data;
    for (int k = 0; k < nout; k++) {
        int64_t chunk = sz[k] * inner;
        if (out[k] && chunk)
            for (int64_t o = 0; o < outer; o++)
                memcpy((char *)out[k]->data + o * chunk, src + o * irow + off, (size_t)chunk);
        off += chunk;
    }
    return 0;
}

const nn_op_def nn_op_split = { "Split", "", 1, split_infer, split_cpu, 1u << 1 };

/* ---- Slice ---- */

typedef struct slice_plan {
    int64_t start[NN_MAX_DIMS], step[NN_MAX_DIMS], count[NN_MAX_DIMS];
} slice_plan;

static int slice_resolve(const nn_node *n, nn_tensor *const *in, int nin, slice_plan *p, fp_err *e)
{
    const nn_tensor *x = in[0];
    int r = x->ndim, cnt, ret;
    int64_t st[NN_MAX_DIMS], en[NN_MAX_DIMS], ax[NN_MAX_DIMS], sp[NN_MAX_DIMS];
    int seen[NN_MAX_DIMS] = { 0 };
    if (n->opset < 10) {
        const int64_t *a;
        int c2 = 0, c3 = 0;
        a = nn_attr_ints(n, "starts", &cnt);
        for (int i = 0; i < cnt && i < NN_MAX_DIMS; i++)
            st[i] = a[i];
        a = nn_attr_ints(n, "ends", &c2);
        for (int i = 0; i < c2 && i < NN_MAX_DIMS; i++)
            en[i] = a[i];
        if (c2 != cnt || cnt > r)
            return nn_node_error(e, n, FP_EMODEL, "starts and ends differ in length");
        a = nn_attr_ints(n, "axes", &c3);
        for (int i = 0; i < cnt; i++) {
            ax[i] = c3 ? a[i] : i;
            sp[i] = 1;
        }
    } else {
        if (nin < 3 || !in[1] || !in[2])
            return nn_node_error(e, n, FP_EMODEL, "starts and ends are required");
        if ((cnt = opsa_read_ints(n, in[1], "starts input", st, NN_MAX_DIMS, e)) < 0)
            return cnt;
        if ((ret = opsa_read_ints(n, in[2], "ends input", en, NN_MAX_DIMS, e)) < 0)
            return ret;
        if (ret != cnt)
            return nn_node_error(e, n, FP_EMODEL, "starts has %d values, ends %d", cnt, ret);
        if (nin > 3 && in[3]) {
            if ((ret = opsa_read_ints(n, in[3], "axes input", ax, NN_MAX_DIMS, e)) < 0)
                return ret;
            if (ret != cnt)
                return nn_node_error(e, n, FP_EMODEL, "axes has %d values, starts %d", ret, cnt);
        } else {
            for (int i = 0; i < cnt; i++)
                ax[i] = i;
        }
        if (nin > 4 && in[4]) {
            if ((ret = opsa_read_ints(n, in[4], "steps input", sp, NN_MAX_DIMS, e)) < 0)
                return ret;
            if (ret != cnt)
                return nn_node_error(e, n, FP_EMODEL, "steps has %d values, starts %d", ret, cnt);
        } else {
            for (int i = 0; i < cnt; i++)
                sp[i] = 1;
        }
    }
    for (int d = 0; d < r; d++) {
        p->start[d] = 0;
        p->step[d] = 1;
        p->count[d] = x->dims[d];
    }
    for (int i = 0; i < cnt; i++) {
        int a;
        if (nn_norm_axis(ax[i], r, &a) < 0)
            return nn_node_error(e, n, FP_EMODEL, "axis %lld out of range for rank %d", (long long)ax[i], r);
        if (seen[a]++)
            return nn_node_error(e, n, FP_EMODEL, "axis %lld repeated", (long long)ax[i]);
        int64_t dim = x->dims[a], s = st[i], t = en[i], step = sp[i];
        if (step == 0)
            return nn_node_error(e, n, FP_EMODEL, "step is 0 on axis %d", a);
        if (s < 0)
            s = s < -dim ? 0 : s + dim;
        if (t < 0)
            t = t < -dim ? -1 : t + dim;
        if (step > 0) {
            s = s > dim ? dim : s;
            t = t < 0 ? 0 : t > dim ? dim : t;
        } else {
            s = s > dim - 1 ? dim - 1 : s;
            t = t > dim - 1 ? dim - 1 : t;
        }
        if (step == INT64_MIN)
            step = -INT64_MAX;
        /* written so that extreme steps (INT64_MAX) cannot overflow */
        int64_t c = step > 0 ? (t > s ? 1 + (t - s - 1) / step : 0) : (s > t ? 1 + (s - t - 1) / (-step) : 0);
        p->start[a] = s;
        p->step[a] = step;
        p->count[a] = c;
    }
    return 0;
}

static int slice_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                       fp_err *e)
{
    slice_plan p;
    int ret;
    if (nin < 1 || !in[0])
        return nn_node_error(e, n, FP_EMODEL, "missing input");
    if ((ret = check_dtype(n, in[0], e)) < 0 || (ret = slice_resolve(n, in, nin, &p, e)) < 0)
        return ret;
    out[0]->dtype = in[0]->dtype;
    return opsa_set_shape(n, e, out[0], in[0]->ndim, p.count);
}

/* Strided gather: out[c] = x[sum((start_d + c_d * step_d) * stride_d)], rows along the last dim. */
static void strided_copy(const nn_tensor *x, nn_tensor *y, const int64_t *start, const int64_t *step)
{
    int r = y->ndim;
    size_t es = nn_dtype_size(x->dtype);
    int64_t xs[NN_MAX_DIMS], c[NN_MAX_DIMS] = { 0 };
    int64_t total = nn_tensor_numel(y);
    if (total == 0)
        return;
    if (r == 0) {
        memcpy(y->data, x->data, es);
        return;
    }
    contiguous_strides(x, xs);
    int64_t len = y->dims[r - 1], rows = total / len;
    const char *src = x->data;
    char *dst = y->data;
    for (int64_t row = 0; row < rows; row++) {
        int64_t off = 0;
        for (int d = 0; d < r - 1; d++)
            off += (start[d] + c[d] * step[d]) * xs[d];
        off += start[r - 1];
        if (step[r - 1] == 1) {
            memcpy(dst, src + off * (int64_t)es, (size_t)(len * (int64_t)es));
        } else {
            for (int64_t i = 0; i < len; i++)
                copy_el(dst + i * (int64_t)es, src + (off + i * step[r - 1]) * (int64_t)es, es);
        }
        dst += len * (int64_t)es;
        for (int d = r - 2; d >= 0; d--) {
            if (++c[d] < y->dims[d])
                break;
            c[d] = 0;
        }
    }
}

static int slice_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                     nn_cpu_ctx *ctx, fp_err *e)
{
    slice_plan p;
    int ret = slice_resolve(n, in, nin, &p, e);
    if (ret < 0)
        return ret;
    strided_copy(in[0], out[0], p.start, p.step);
    return 0;
}

const nn_op_def nn_op_slice = { "Slice", "", 1, slice_infer, slice_cpu, 0x1e };

/* ---- Gather ---- */

static int gather_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                        fp_err *e)
{
    int axis, ret, nd = 0;
    int64_t dims[NN_MAX_DIMS];
    if (nin < 2 || !in[0] || !in[1])
        return nn_node_error(e, n, FP_EMODEL, "needs data and indices");
    if ((ret = check_dtype(n, in[0], e)) < 0)
        return ret;
    if (in[1]->dtype != NN_DT_INT64 && in[1]->dtype != NN_DT_INT32)
        return nn_node_error(e, n, FP_EMODEL, "indices must be int32 or int64, got %s",
                             nn_dtype_name(in[1]->dtype));
    if (nn_norm_axis(nn_attr_int(n, "axis", 0), in[0]->ndim, &axis) < 0)
        return nn_node_error(e, n, FP_EMODEL, "axis out of range for rank %d", in[0]->ndim);
    if (in[0]->ndim - 1 + in[1]->ndim > NN_MAX_DIMS)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "output rank above %d", NN_MAX_DIMS);
    for (int d = 0; d < axis; d++)
        dims[nd++] = in[0]->dims[d];
    for (int d = 0; d < in[1]->ndim; d++)
        dims[nd++] = in[1]->dims[d];
    for (int d = axis + 1; d < in[0]->ndim; d++)
        dims[nd++] = in[0]->dims[d];
    out[0]->dtype = in[0]->dtype;
    return opsa_set_shape(n, e, out[0], nd, dims);
}

static int gather_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                      nn_cpu_ctx *ctx, fp_err *e)
{
    int axis;
    const nn_tensor *x = in[0], *ind = in[1];
    nn_norm_axis(nn_attr_int(n, "axis", 0), x->ndim, &axis);
    size_t es = nn_dtype_size(x->dtype);
    int64_t outer = opsa_dims_numel(x->dims, axis), dim = x->dims[axis];
    int64_t inner = opsa_dims_numel(x->dims + axis + 1, x->ndim - axis - 1) * (int64_t)es;
    int64_t ni = nn_tensor_numel(ind);
    char *dst = out[0]->data;
    const char *src = x->data;
    for (int64_t k = 0; k < ni; k++) {
        int64_t v = opsa_load_i64(ind->dtype, ind->data, k);
        if (v < -dim || v >= dim)
            return nn_node_error(e, n, FP_EINPUT, "index %lld out of range [-%lld, %lld)", (long long)v,
                                 (long long)dim, (long long)dim);
    }
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < ni; k++) {
            int64_t v = opsa_load_i64(ind->dtype, ind->data, k);
            if (v < 0)
                v += dim;
            memcpy(dst, src + (o * dim + v) * inner, (size_t)inner);
            dst += inner;
        }
    return 0;
}

const nn_op_def nn_op_gather = { "Gather", "", 1, gather_infer, gather_cpu, 0 };

/* ---- GatherElements ---- */

static int gatherel_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                          fp_err *e)
{
    int axis, ret;
    if (nin < 2 || !in[0] || !in[1])
        return nn_node_error(e, n, FP_EMODEL, "needs data and indices");
    if ((ret = check_dtype(n, in[0], e)) < 0)
        return ret;
    if (in[1]->dtype != NN_DT_INT64 && in[1]->dtype != NN_DT_INT32)
        return nn_node_error(e, n, FP_EMODEL, "indices must be int32 or int64");
    if (in[1]->ndim != in[0]->ndim || in[0]->ndim < 1)
        return nn_node_error(e, n, FP_EMODEL, "indices rank %d differs from data rank %d", in[1]->ndim,
                             in[0]->ndim);
    if (nn_norm_axis(nn_attr_int(n, "axis", 0), in[0]->ndim, &axis) < 0)
        return nn_node_error(e, n, FP_EMODEL, "axis out of range for rank %d", in[0]->ndim);
    out[0]->dtype = in[0]->dtype;
    return opsa_set_shape(n, e, out[0], in[1]->ndim, in[1]->dims);
}

static int gatherel_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                        nn_cpu_ctx *ctx, fp_err *e)
{
    int axis;
    const nn_tensor *x = in[0], *ind = in[1];
    nn_norm_axis(nn_attr_int(n, "axis", 0), x->ndim, &axis);
    size_t es = nn_dtype_size(x->dtype);
    int64_t xs[NN_MAX_DIMS], c[NN_MAX_DIMS] = { 0 };
    int64_t total = nn_tensor_numel(ind), dim = x->dims[axis];
    contiguous_strides(x, xs);
    for (int64_t k = 0; k < total; k++) {
        int64_t v = opsa_load_i64(ind->dtype, ind->data, k), off = 0;
        if (v < -dim || v >= dim)
            return nn_node_error(e, n, FP_EINPUT, "index %lld out of range [-%lld, %lld)", (long long)v,
                                 (long long)dim, (long long)dim);
        if (v < 0)
            v += dim;
        for (int d = 0; d < x->ndim; d++)
            off += (d == axis ? v : c[d]) * xs[d];
        copy_el((char *)out[0]->data + k * (int64_t)es, (const char *)x->data + off * (int64_t)es, es);
        for (int d = ind->ndim - 1; d >= 0; d--) {
            if (++c[d] < ind->dims[d])
                break;
            c[d] = 0;
        }
    }
    return 0;
}

const nn_op_def nn_op_gatherelements = { "GatherElements", "", 1, gatherel_infer, gatherel_cpu, 0 };

/* ---- Transpose ---- */

static int transpose_perm(const nn_node *n, int r, int *perm, fp_err *e)
{
    int cnt, seen[NN_MAX_DIMS] = { 0 };
    const int64_t *p = nn_attr_ints(n, "perm", &cnt);
    if (!p) {
        for (int d = 0; d < r; d++)
            perm[d] = r - 1 - d;
        return 0;
    }
    if (cnt != r)
        return nn_node_error(e, n, FP_EMODEL, "perm has %d values for rank %d", cnt, r);
    for (int d = 0; d < r; d++) {
        if (nn_norm_axis(p[d], r, &perm[d]) < 0 || seen[perm[d]]++)
            return nn_node_error(e, n, FP_EMODEL, "perm is not a permutation of 0..%d", r - 1);
    }
    return 0;
}

static int transpose_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                           fp_err *e)
{
    int perm[NN_MAX_DIMS], ret;
    int64_t dims[NN_MAX_DIMS];
    if (nin < 1 || !in[0])
        return nn_node_error(e, n, FP_EMODEL, "missing input");
    if ((ret = check_dtype(n, in[0], e)) < 0 || (ret = transpose_perm(n, in[0]->ndim, perm, e)) < 0)
        return ret;
    for (int d = 0; d < in[0]->ndim; d++)
        dims[d] = in[0]->dims[perm[d]];
    out[0]->dtype = in[0]->dtype;
    return opsa_set_shape(n, e, out[0], in[0]->ndim, dims);
}

typedef struct tr_job {
    const nn_tensor *x;
    nn_tensor *y;
    int64_t st[NN_MAX_DIMS]; /* input stride for each output dim */
} tr_job;

static void tr_range(void *arg, int64_t begin, int64_t end)
{
    const tr_job *j = arg;
    int r = j->y->ndim;
    size_t es = nn_dtype_size(j->x->dtype);
    int64_t len = j->y->dims[r - 1], ls = j->st[r - 1];
    int64_t c[NN_MAX_DIMS];
    /* begin/end count rows of the output's last dim */
    int64_t rem = begin;
    for (int d = r - 2; d >= 0; d--) {
        c[d] = rem % j->y->dims[d];
        rem /= j->y->dims[d];
    }
    const char *src = j->x->data;
    for (int64_t row = begin; row < end; row++) {
        int64_t off = 0;
        for (int d = 0; d < r - 1; d++)
            off += c[d] * j->st[d];
        char *dst = (char *)j->y->data + row * len * (int64_t)es;
        if (ls == 1) {
            memcpy(dst, src + off * (int64_t)es, (size_t)(len * (int64_t)es));
        } else if (es == 4) {
            const uint32_t *s = (const uint32_t *)src + off;
            for (int64_t i = 0; i < len; i++)
                ((uint32_t *)dst)[i] = s[i * ls];
        } else {
            for (int64_t i = 0; i < len; i++)
                copy_el(dst + i * (int64_t)es, src + (off + i * ls) * (int64_t)es, es);
        }
        for (int d = r - 2; d >= 0; d--) {
            if (++c[d] < j->y->dims[d])
                break;
            c[d] = 0;
        }
    }
}

static int transpose_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                         nn_cpu_ctx *ctx, fp_err *e)
{
    int perm[NN_MAX_DIMS], ret;
    int64_t xs[NN_MAX_DIMS];
    tr_job j = { in[0], out[0], { 0 } };
    int r = in[0]->ndim;
    if ((ret = transpose_perm(n, r, perm, e)) < 0)
        return ret;
    int64_t total = nn_tensor_numel(out[0]);
    if (total == 0)
        return 0;
    if (r == 0) {
        memcpy(out[0]->data, in[0]->data, nn_dtype_size(in[0]->dtype));
        return 0;
    }
    contiguous_strides(in[0], xs);
    for (int d = 0; d < r; d++)
        j.st[d] = xs[perm[d]];
    int64_t rows = total / out[0]->dims[r - 1];
    opsa_parallel(ctx, rows, total >= OPSA_PAR_MIN ? 1 : INT64_MAX, tr_range, &j);
    return 0;
}

const nn_op_def nn_op_transpose = { "Transpose", "", 1, transpose_infer, transpose_cpu, 0 };

/* ---- Expand ---- */

static int expand_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                        fp_err *e)
{
    int64_t shp[NN_MAX_DIMS];
    nn_tensor tmp = { 0 };
    nn_tensor *pair[2];
    int cnt, ret;
    if (nin < 2 || !in[0] || !in[1])
        return nn_node_error(e, n, FP_EMODEL, "needs input and shape");
    if ((ret = check_dtype(n, in[0], e)) < 0)
        return ret;
    if ((cnt = opsa_read_ints(n, in[1], "shape input", shp, NN_MAX_DIMS, e)) < 0)
        return cnt;
    if ((ret = nn_tensor_set_shape(&tmp, cnt, shp)) < 0)
        return nn_node_error(e, n, FP_EMODEL, "shape input has a negative dimension");
    pair[0] = in[0];
    pair[1] = &tmp;
    out[0]->dtype = in[0]->dtype;
    if (opsa_broadcast_many(pair, 2, out[0]) < 0) {
        char s0[64], s1[64];
        return nn_node_error(e, n, FP_EMODEL, "input %s cannot expand to %s", nn_shape_str(in[0], s0, 64),
                             nn_shape_str(&tmp, s1, 64));
    }
    return 0;
}

static void bcopy_row(void *o, const void *const *in, const int64_t *st, int64_t n, const void *pp)
{
    size_t es = *(const size_t *)pp;
    if (st[0]) {
        memcpy(o, in[0], (size_t)n * es);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        copy_el((char *)o + i * (int64_t)es, in[0], es);
}

static int expand_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                      nn_cpu_ctx *ctx, fp_err *e)
{
    size_t es = nn_dtype_size(in[0]->dtype);
    opsa_bcast it;
    if (opsa_bcast_init(&it, out[0], in, 1, bcopy_row, &es) < 0)
        return nn_node_error(e, n, FP_EINTERNAL, "input does not broadcast to the output");
    opsa_bcast_run(&it, ctx);
    return 0;
}

const nn_op_def nn_op_expand = { "Expand", "", 1, expand_infer, expand_cpu, 1u << 1 };

/* ---- Tile ---- */

static int tile_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                      fp_err *e)
{
    int64_t rep[NN_MAX_DIMS], dims[NN_MAX_DIMS];
    int cnt, ret;
    if (nin < 2 || !in[0] || !in[1])
        return nn_node_error(e, n, FP_EMODEL, "needs input and repeats");
    if ((ret = check_dtype(n, in[0], e)) < 0)
        return ret;
    if ((cnt = opsa_read_ints(n, in[1], "repeats input", rep, NN_MAX_DIMS, e)) < 0)
        return cnt;
    if (cnt != in[0]->ndim)
        return nn_node_error(e, n, FP_EMODEL, "repeats has %d values for rank %d", cnt, in[0]->ndim);
    for (int d = 0; d < cnt; d++) {
        if (rep[d] < 0)
            return nn_node_error(e, n, FP_EMODEL, "negative repeat");
        if (__builtin_mul_overflow(in[0]->dims[d], rep[d], &dims[d]))
            return nn_node_error(e, n, FP_EMODEL, "repeats overflow the output size");
    }
    out[0]->dtype = in[0]->dtype;
    return opsa_set_shape(n, e, out[0], cnt, dims);
}

static int tile_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                    nn_cpu_ctx *ctx, fp_err *e)
{
    const nn_tensor *x = in[0];
    nn_tensor *y = out[0];
    int r = x->ndim;
    size_t es = nn_dtype_size(x->dtype);
    int64_t xs[NN_MAX_DIMS], c[NN_MAX_DIMS] = { 0 };
    int64_t total = nn_tensor_numel(y);
    if (total == 0)
        return 0;
    if (r == 0) {
        memcpy(y->data, x->data, es);
        return 0;
    }
    contiguous_strides(x, xs);
    int64_t len = y->dims[r - 1], xlen = x->dims[r - 1], rows = total / len;
    char *dst = y->data;
    for (int64_t row = 0; row < rows; row++) {
        int64_t off = 0;
        for (int d = 0; d < r - 1; d++)
            off += (c[d] % x->dims[d]) * xs[d];
        const char *src = (const char *)x->data + off * (int64_t)es;
        for (int64_t k = 0; k < len; k += xlen)
            memcpy(dst + k * (int64_t)es, src, (size_t)(xlen * (int64_t)es));
        dst += len * (int64_t)es;
        for (int d = r - 2; d >= 0; d--) {
            if (++c[d] < y->dims[d])
                break;
            c[d] = 0;
        }
    }
    return 0;
}

const nn_op_def nn_op_tile = { "Tile", "", 1, tile_infer, tile_cpu, 1u << 1 };

/* ---- Pad ---- */

enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP };

static int pad_resolve(const nn_node *n, nn_tensor *const *in, int nin, int64_t *pb, int64_t *pe,
                       int *mode, fp_err *e)
{
    int r = in[0]->ndim, cnt;
    int64_t raw[2 * NN_MAX_DIMS];
    int axes[NN_MAX_DIMS], nax = r;
    const char *m = nn_attr_str(n, "mode", "constant");
    if (!strcmp(m, "constant"))
        *mode = PAD_CONSTANT;
    else if (!strcmp(m, "reflect"))
        *mode = PAD_REFLECT;
    else if (!strcmp(m, "edge"))
        *mode = PAD_EDGE;
    else if (!strcmp(m, "wrap"))
        *mode = PAD_WRAP;
    else
        return nn_node_error(e, n, FP_EUNSUPPORTED, "mode '%s' not supported", m);
    if (n->opset < 11) {
        const int64_t *p = nn_attr_ints(n, "pads", &cnt);
        if (cnt > 2 * NN_MAX_DIMS)
            return nn_node_error(e, n, FP_EMODEL, "too many pads");
        for (int i = 0; i < cnt; i++)
            raw[i] = p[i];
    } else {
        if (nin < 2 || !in[1])
            return nn_node_error(e, n, FP_EMODEL, "pads input is required");
        if ((cnt = opsa_read_ints(n, in[1], "pads input", raw, 2 * NN_MAX_DIMS, e)) < 0)
            return cnt;
    }
    for (int d = 0; d < r; d++)
        axes[d] = d;
    if (n->opset >= 18 && nin > 3 && in[3]) {
        nax = opsa_get_axes(n, in, nin, 3, 18, r, axes, e);
        if (nax < 0)
            return nax;
    }
    if (cnt != 2 * nax)
        return nn_node_error(e, n, FP_EMODEL, "pads has %d values, expected %d", cnt, 2 * nax);
    for (int d = 0; d < r; d++)
        pb[d] = pe[d] = 0;
    for (int i = 0; i < nax; i++) {
        pb[axes[i]] = raw[i];
        pe[axes[i]] = raw[i + nax];
    }
    for (int d = 0; d < r; d++) {
        int64_t dim = in[0]->dims[d], sum;
        if (__builtin_add_overflow(pb[d], pe[d], &sum) || __builtin_add_overflow(sum, dim, &sum))
            return nn_node_error(e, n, FP_EMODEL, "pads on axis %d overflow", d);
        if (sum < 0)
            return nn_node_error(e, n, FP_EMODEL, "pads remove more than axis %d holds", d);
        if (*mode != PAD_CONSTANT && (pb[d] > 0 || pe[d] > 0) && dim == 0)
            return nn_node_error(e, n, FP_EMODEL, "cannot %s-pad an empty axis", m);
    }
    return 0;
}

static int pad_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                     fp_err *e)
{
    int64_t pb[NN_MAX_DIMS], pe[NN_MAX_DIMS], dims[NN_MAX_DIMS];
    int mode, ret;
    if (nin < 1 || !in[0])
        return nn_node_error(e, n, FP_EMODEL, "missing input");
    if ((ret = check_dtype(n, in[0], e)) < 0 || (ret = pad_resolve(n, in, nin, pb, pe, &mode, e)) < 0)
        return ret;
    if (nin > 2 && in[2] && in[2]->dtype != in[0]->dtype)
        return nn_node_error(e, n, FP_EMODEL, "constant_value dtype %s differs from input %s",
                             nn_dtype_name(in[2]->dtype), nn_dtype_name(in[0]->dtype));
    for (int d = 0; d < in[0]->ndim; d++)
        dims[d] = in[0]->dims[d] + pb[d] + pe[d];
    out[0]->dtype = in[0]->dtype;
    return opsa_set_shape(n, e, out[0], in[0]->ndim, dims);
}

/* Source index along one axis for output index i, or -1 for the constant. */
static int64_t pad_src(int64_t i, int64_t before, int64_t dim, int mode)
{
    int64_t s = i - before;
    if (s >= 0 && s < dim)
        return s;
    switch (mode) {
    case PAD_EDGE:
        return s < 0 ? 0 : dim - 1;
    case PAD_REFLECT: {
        if (dim == 1)
            return 0;
        int64_t period = 2 * (dim - 1);
        s %= period;
        if (s < 0)
            s += period;
        return s < dim ? s : period - s;
    }
    case PAD_WRAP:
        s %= dim;
        return s < 0 ? s + dim : s;
    default:
        return -1;
    }
}

static int pad_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                   nn_cpu_ctx *ctx, fp_err *e)
{
    int64_t pb[NN_MAX_DIMS], pe[NN_MAX_DIMS], xs[NN_MAX_DIMS], c[NN_MAX_DIMS] = { 0 };
    int mode, ret;
    const nn_tensor *x = in[0];
    nn_tensor *y = out[0];
    int r = x->ndim;
    size_t es = nn_dtype_size(x->dtype);
    char cval[16] = { 0 };
    if ((ret = pad_resolve(n, in, nin, pb, pe, &mode, e)) < 0)
        return ret;
    if (nin > 2 && in[2] && in[2]->data && nn_tensor_numel(in[2]) >= 1)
        memcpy(cval, in[2]->data, es);
    else if (n->opset < 11)
        opsa_store_f64(x->dtype, cval, 0, nn_attr_float(n, "value", 0));
    int64_t total = nn_tensor_numel(y);
    if (total == 0)
        return 0;
    if (r == 0) {
        memcpy(y->data, x->data, es);
        return 0;
    }
    contiguous_strides(x, xs);
    int64_t len = y->dims[r - 1], rows = total / len;
    char *dst = y->data;
    for (int64_t row = 0; row < rows; row++) {
        int64_t off = 0;
        int constant = 0;
        for (int d = 0; d < r - 1 && !constant; d++) {
            int64_t s = pad_src(c[d], pb[d], x->dims[d], mode);
            if (s < 0)
                constant = 1;
            off += s * xs[d];
        }
        for (int64_t i = 0; i < len; i++) {
            int64_t s = constant ? -1 : pad_src(i, pb[r - 1], x->dims[r - 1], mode);
            copy_el(dst + i * (int64_t)es, s < 0 ? cval : (const char *)x->data + (off + s) * (int64_t)es, es);
        }
        dst += len * (int64_t)es;
        for (int d = r - 2; d >= 0; d--) {
            if (++c[d] < y->dims[d])
                break;
            c[d] = 0;
        }
    }
    return 0;
}

const nn_op_def nn_op_pad = { "Pad", "", 1, pad_infer, pad_cpu, (1u << 1) | (1u << 3) };
