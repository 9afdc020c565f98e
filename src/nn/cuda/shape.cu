/*
 * shape — the CUDA side of the layout and indexing ops: Identity, Dropout (inference), Reshape,
 * Flatten, Squeeze, Unsqueeze (views: nothing to do when the runtime aliases output and input, one
 * device copy otherwise), Transpose, Concat, Split, Slice, Expand, DepthToSpace, SpaceToDepth (all
 * through cu_strided_copy), Tile, Gather and Pad (own kernels), Shape and Size (values uploaded at
 * prepare time).
 *
 * Owns: cu_ops_shape. Works on any dtype of 1, 2, 4 or 8 bytes: these ops move bytes and never do
 * arithmetic. Does not own shape inference (the CPU op defs compute output shapes; this file trusts
 * the output tensors' shapes and reads the few values shapes cannot tell — Slice starts/steps, Pad
 * pads — from constants copied at prepare time).
 */
#include "nn/cuda/nn_cuda.h"

#include <string.h>

static int esize_ok(nn_dtype dt)
{
    size_t s = nn_dtype_size(dt);
    return s == 1 || s == 2 || s == 4 || s == 8;
}

/* Generic check: one data input (0) and all outputs share a movable dtype. */
static int move_supports(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                         nn_tensor *const *out, int nout, const char **why)
{
    if (nin < 1 || !in[0] || nout < 1) {
        *why = "input count";
        return 0;
    }
    nn_dtype dt = cu_eff_dt(in, nin, out, nout, 0);
    if (!esize_ok(dt)) {
        *why = "dtype";
        return 0;
    }
    for (int i = 0; i < nout; i++)
        if (out[i] && out[i]->dtype != dt && !(i == 1 && !strcmp(n->op_type, "Dropout"))) {
            *why = "output dtype differs from input";
            return 0;
        }
    return 1;
}

/* ---------------------------------------------------------------- views */

static int view_supports(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                         nn_tensor *const *out, int nout, const char **why)
{
    if (!move_supports(ctx, n, in, nin, out, nout, why))
        return 0;
    if (nn_tensor_numel(out[0]) != nn_tensor_numel(in[0])) {
        *why = "element count changes";
        return 0;
    }
    return 1;
}

static int view_run(nn_backend_ctx *ctx, const nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                    nn_tensor **out, int nout, fp_err *e)
{
    const void *src = cu_in(cn, in, 0);
    if (out[0]->data != src && nn_tensor_nbytes(out[0]))
        CU_CHECK(e, n, cudaMemcpyAsync(out[0]->data, src, nn_tensor_nbytes(out[0]), cudaMemcpyDeviceToDevice, ctx->stream));
    /* Dropout's optional mask output: all true in inference. */
    if (nout > 1 && out[1] && nn_tensor_nbytes(out[1]))
        CU_CHECK(e, n, cudaMemsetAsync(out[1]->data, 1, nn_tensor_nbytes(out[1]), ctx->stream));
    return 0;
}

/* ---------------------------------------------------------------- Transpose */

static int transpose_run(nn_backend_ctx *ctx, const nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                         nn_tensor **out, int nout, fp_err *e)
{
    const nn_tensor *x = in[0];
    int np = 0, perm[NN_MAX_DIMS];
    const int64_t *p = nn_attr_ints(n, "perm", &np);
    int64_t ist[NN_MAX_DIMS], ost[NN_MAX_DIMS], sst[NN_MAX_DIMS];
    for (int k = 0; k < x->ndim; k++)
        perm[k] = p && np == x->ndim ? (int)p[k] : x->ndim - 1 - k;
    cu_strides(x, ist);
    cu_strides(out[0], ost);
    for (int k = 0; k < x->ndim; k++)
        sst[k] = ist[perm[k]];
    return cu_strided_copy(ctx, n, out[0]->data, cu_in(cn, in, 0), (int)nn_dtype_size(out[0]->dtype),
                           out[0]->ndim, out[0]->dims, ost, 0, sst, 0, e);
}

static int transpose_supports(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                              nn_tensor *const *out, int nout, const char **why)
{
    if (!move_supports(ctx, n, in, nin, out, nout, why))
        return 0;
    int np = 0;
    const int64_t *p = nn_attr_ints(n, "perm", &np);
    if (p && np != in[0]->ndim) {
        *why = "perm length";
        return 0;
    }
    for (int k = 0; p && k < np; k++)
        if (p[k] < 0 || p[k] >= np) {
            *why = "perm value";
            return 0;
        }
    return 1;
}

/* ---------------------------------------------------------------- Concat / Split */

static int concat_supports(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                           nn_tensor *const *out, int nout, const char **why)
{
    int axis;
    if (nin < 1 || nout != 1 || nn_norm_axis(nn_attr_int(n, "axis", 0), out[0]->ndim, &axis) < 0) {
        *why = "axis";
        return 0;
    }
    for (int i = 0; i < nin; i++)
        if (!in[i] || cu_eff_dt(in, nin, out, nout, i) != out[0]->dtype || in[i]->ndim != out[0]->ndim) {
            *why = "input dtype/rank";
            return 0;
        }
    return esize_ok(out[0]->dtype) ? 1 : (*why = "dtype", 0);
}

static int concat_run(nn_backend_ctx *ctx, const nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                      nn_tensor **out, int nout, fp_err *e)
{
    int axis, rc;
    nn_norm_axis(nn_attr_int(n, "axis", 0), out[0]->ndim, &axis);
    int64_t ost[NN_MAX_DIMS], ist[NN_MAX_DIMS], off = 0;
    int es = (int)nn_dtype_size(out[0]->dtype);
    cu_strides(out[0], ost);
    for (int i = 0; i < nin; i++) {
        cu_strides(in[i], ist);
        if ((rc = cu_strided_copy(ctx, n, out[0]->data, cu_in(cn, in, i), es, in[i]->ndim, in[i]->dims, ost,
                                  off * ost[axis], ist, 0, e)) < 0)
            return rc;
        off += in[i]->dims[axis];
    }
    return 0;
}

static int split_supports(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                          nn_tensor *const *out, int nout, const char **why)
{
    int axis;
    if (!move_supports(ctx, n, in, nin, out, nout, why))
        return 0;
    if (nn_norm_axis(nn_attr_int(n, "axis", 0), in[0]->ndim, &axis) < 0) {
        *why = "axis";
        return 0;
    }
    return 1;
}

static int split_run(nn_backend_ctx *ctx, const nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                     nn_tensor **out, int nout, fp_err *e)
{
    int axis, rc;
    nn_norm_axis(nn_attr_int(n, "axis", 0), in[0]->ndim, &axis);
    int64_t ost[NN_MAX_DIMS], ist[NN_MAX_DIMS], off = 0;
    int es = (int)nn_dtype_size(in[0]->dtype);
    cu_strides(in[0], ist);
    /* Output shapes (from inference) already say each piece's length, whatever form `split` took. */
    for (int i = 0; i < nout; i++) {
        if (!out[i])
            continue;
        cu_strides(out[i], ost);
        if ((rc = cu_strided_copy(ctx, n, out[i]->data, cu_in(cn, in, 0), es, out[i]->ndim, out[i]->dims, ost, 0,
                                  ist, off * ist[axis], e)) < 0)
            return rc;
        off += out[i]->dims[axis];
    }
    return 0;
}

/* ---------------------------------------------------------------- Slice */

/* Read starts/axes/steps (opset >= 10 inputs, else attributes). Returns 0 or FP_EMODEL. */
static int slice_params(const nn_node *n, const cu_node *cn, int nin, const nn_tensor *x, int64_t *start,
                        int64_t *step, const char **why)
{
    /* ends are not needed: the output shape already says how many elements each axis keeps */
    int64_t starts[NN_MAX_DIMS], axes[NN_MAX_DIMS], steps[NN_MAX_DIMS];
    int cnt = 0;
    for (int k = 0; k < x->ndim; k++) {
        start[k] = 0;
        step[k] = 1;
    }
    if (n->opset < 10) {
        int ns = 0, na = 0, ne = 0;
        const int64_t *s = nn_attr_ints(n, "starts", &ns), *a = nn_attr_ints(n, "axes", &na);
        nn_attr_ints(n, "ends", &ne);
        if (!s || ns > NN_MAX_DIMS || (a && na != ns) || ne != ns)
            return (*why = "starts/ends/axes attributes", FP_EMODEL);
        cnt = ns;
        for (int i = 0; i < cnt; i++) {
            starts[i] = s[i];
            axes[i] = a ? a[i] : i;
            steps[i] = 1;
        }
    } else {
        const nn_tensor *ts = cu_host(cn, 1), *te = cu_host(cn, 2), *ta = nin > 3 ? cu_host(cn, 3) : NULL,
                        *tp = nin > 4 ? cu_host(cn, 4) : NULL;
        if (!ts || !te)
            return (*why = "starts/ends not constant", FP_EMODEL);
        cnt = (int)nn_tensor_numel(ts);
        if (cnt > NN_MAX_DIMS || nn_tensor_numel(te) != cnt || (ta && nn_tensor_numel(ta) != cnt) ||
            (tp && nn_tensor_numel(tp) != cnt))
            return (*why = "starts/ends/axes/steps lengths differ", FP_EMODEL);
        for (int i = 0; i < cnt; i++) {
            starts[i] = nn_tensor_get_i64(ts, i);
            axes[i] = ta ? nn_tensor_get_i64(ta, i) : i;
            steps[i] = tp ? nn_tensor_get_i64(tp, i) : 1;
        }
    }
    for (int i = 0; i < cnt; i++) {
        int ax;
        if (nn_norm_axis(axes[i], x->ndim, &ax) < 0)
            return (*why = "axis out of range", FP_EMODEL);
        if (steps[i] == 0)
            return (*why = "step 0", FP_EMODEL);
        int64_t d = x->dims[ax], s = starts[i];
        if (s < 0)
            s += d;
        /* ONNX clamping: [0, d] for positive steps, [0, d-1] for negative ones. */
        if (steps[i] > 0)
            s = s < 0 ? 0 : (s > d ? d : s);
        else
            s = s < 0 ? 0 : (s > d - 1 ? d - 1 : s);
        start[ax] = s;
        step[ax] = steps[i];
    }
    return 0;
}

static int slice_supports(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                          nn_tensor *const *out, int nout, const char **why)
{
    if (!move_supports(ctx, n, in, nin, out, nout, why))
        return 0;
    if (in[0]->ndim != out[0]->ndim) {
        *why = "rank";
        return 0;
    }
    return 1;
}

static int slice_prepare(nn_backend_ctx *ctx, nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                         nn_tensor *const *out, int nout, fp_err *e)
{
    int64_t st[NN_MAX_DIMS], sp[NN_MAX_DIMS];
    const char *why = NULL;
    if (slice_params(n, cn, nin, in[0], st, sp, &why) < 0)
        return nn_node_error(e, n, FP_EMODEL, "cuda: Slice: %s", why);
    return 0;
}

static int slice_run(nn_backend_ctx *ctx, const nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                     nn_tensor **out, int nout, fp_err *e)
{
    int64_t st[NN_MAX_DIMS], sp[NN_MAX_DIMS], ist[NN_MAX_DIMS], ost[NN_MAX_DIMS], sst[NN_MAX_DIMS], off = 0;
    const char *why = NULL;
    if (slice_params(n, cn, nin, in[0], st, sp, &why) < 0)
        return nn_node_error(e, n, FP_EMODEL, "cuda: Slice: %s", why);
    cu_strides(in[0], ist);
    cu_strides(out[0], ost);
    for (int k = 0; k < in[0]->ndim; k++) {
        sst[k] = ist[k] * sp[k];
        off += st[k] * ist[k];
    }
    return cu_strided_copy(ctx, n, out[0]->data, cu_in(cn, in, 0), (int)nn_dtype_size(out[0]->dtype), out[0]->ndim,
                           out[0]->dims, ost, 0, sst, off, e);
}

/* ---------------------------------------------------------------- Expand */

static int expand_supports(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                           nn_tensor *const *out, int nout, const char **why)
{
    if (!move_supports(ctx, n, in, nin, out, nout, why))
        return 0;
    if (in[0]->ndim > out[0]->ndim) {
        *why = "rank";
        return 0;
    }
    return 1;
}

static int expand_run(nn_backend_ctx *ctx, const nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                      nn_tensor **out, int nout, fp_err *e)
{
    const nn_tensor *x = in[0], *y = out[0];
    int64_t ist[NN_MAX_DIMS], ost[NN_MAX_DIMS], sst[NN_MAX_DIMS];
    cu_strides(x, ist);
    cu_strides(y, ost);
    for (int k = y->ndim - 1, j = x->ndim - 1; k >= 0; k--, j--)
        sst[k] = (j < 0 || x->dims[j] == 1) ? 0 : ist[j];
    return cu_strided_copy(ctx, n, y->data, cu_in(cn, in, 0), (int)nn_dtype_size(y->dtype), y->ndim, y->dims, ost, 0,
                           sst, 0, e);
}

/* ---------------------------------------------------------------- DepthToSpace / SpaceToDepth */

static int d2s_supports(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                        nn_tensor *const *out, int nout, const char **why)
{
    if (!move_supports(ctx, n, in, nin, out, nout, why))
        return 0;
    if (in[0]->ndim != 4 || nn_attr_int(n, "blocksize", 0) < 1) {
        *why = "needs 4-D input and blocksize >= 1";
        return 0;
    }
    return 1;
}

static int d2s_run(nn_backend_ctx *ctx, const nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                   nn_tensor **out, int nout, fp_err *e)
{
    const nn_tensor *x = in[0];
    int64_t b = nn_attr_int(n, "blocksize", 1);
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    int es = (int)nn_dtype_size(x->dtype);
    if (!strcmp(n->op_type, "DepthToSpace")) {
        int64_t Co = C / (b * b);
        int crd = !strcmp(nn_attr_str(n, "mode", "DCR"), "CRD");
        /* Output viewed as [N, Co, H, b, W, b], contiguous. */
        int64_t dims[6] = {N, Co, H, b, W, b};
        int64_t dst[6] = {Co * H * b * W * b, H * b * W * b, b * W * b, W * b, b, 1};
        int64_t src[6] = {C * H * W, crd ? b * b * H * W : H * W, W, crd ? b * H * W : b * Co * H * W, 1,
                          crd ? H * W : Co * H * W};
        return cu_strided_copy(ctx, n, out[0]->data, cu_in(cn, in, 0), es, 6, dims, dst, 0, src, 0, e);
    }
    /* SpaceToDepth: output [N, b, b, C, H/b, W/b] contiguous (channel = (i*b + j)*C + c). */
    int64_t Ho = H / b, Wo = W / b;
    int64_t dims[6] = {N, b, b, C, Ho, Wo};
    int64_t dst[6] = {b * b * C * Ho * Wo, b * C * Ho * Wo, C * Ho * Wo, Ho * Wo, Wo, 1};
    int64_t src[6] = {C * H * W, W, 1, H * W, b * W, b};
    return cu_strided_copy(ctx, n, out[0]->data, cu_in(cn, in, 0), es, 6, dims, dst, 0, src, 0, e);
}

/* ---------------------------------------------------------------- Tile */

typedef struct sh_geom {
    int ndim;
    int64_t odims[NN_MAX_DIMS];
    int64_t idims[NN_MAX_DIMS];
    int64_t ist[NN_MAX_DIMS];
    int64_t lo[NN_MAX_DIMS];   /* Pad: leading pad per dim */
} sh_geom;

template <typename T>
__global__ void tile_kernel(T *y, const T *x, sh_geom g, int64_t total)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t r = i, so = 0;
        for (int k = g.ndim - 1; k >= 0; k--) {
            int64_t c = r % g.odims[k];
            r /= g.odims[k];
            so += (c % g.idims[k]) * g.ist[k];
        }
        y[i] = x[so];
    }
}

/* mode 0 constant, 1 reflect, 2 edge, 3 wrap. */
template <typename T>
__global__ void pad_kernel(T *y, const T *x, sh_geom g, int mode, T cval, int64_t total)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t r = i, so = 0;
        int outside = 0;
        for (int k = g.ndim - 1; k >= 0; k--) {
            int64_t c = r % g.odims[k] - g.lo[k], d = g.idims[k];
            r /= g.odims[k];
            if (c < 0 || c >= d) {
                if (mode == 0) {
                    outside = 1;
                } else if (mode == 2) {
                    c = c < 0 ? 0 : d - 1;
                } else if (mode == 3) {
                    c = ((c % d) + d) % d;
                } else if (d == 1) {
                    c = 0;
                } else {
                    int64_t period = 2 * (d - 1);
                    c = ((c % period) + period) % period;
                    if (c >= d)
                        c = period - c;
                }
            }
            so += c * g.ist[k];
        }
        y[i] = outside ? cval : x[so];
    }
}

static int tile_run(nn_backend_ctx *ctx, const nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                    nn_tensor **out, int nout, fp_err *e)
{
    sh_geom g;
    memset(&g, 0, sizeof(g));
    const nn_tensor *x = in[0], *y = out[0];
    int64_t total = nn_tensor_numel(y);
    if (total == 0)
        return 0;
    g.ndim = y->ndim;
    for (int k = 0; k < y->ndim; k++) {
        g.odims[k] = y->dims[k];
        g.idims[k] = x->dims[k];
    }
    cu_strides(x, g.ist);
    const void *src = cu_in(cn, in, 0);
    unsigned grid = cu_grid(total);
    switch (nn_dtype_size(y->dtype)) {
    case 1: tile_kernel<uint8_t><<<grid, 256, 0, ctx->stream>>>((uint8_t *)y->data, (const uint8_t *)src, g, total); break;
    case 2: tile_kernel<uint16_t><<<grid, 256, 0, ctx->stream>>>((uint16_t *)y->data, (const uint16_t *)src, g, total); break;
    case 4: tile_kernel<uint32_t><<<grid, 256, 0, ctx->stream>>>((uint32_t *)y->data, (const uint32_t *)src, g, total); break;
    default: tile_kernel<uint64_t><<<grid, 256, 0, ctx->stream>>>((uint64_t *)y->data, (const uint64_t *)src, g, total); break;
    }
    CU_LAUNCH_CHECK(e, n);
    return 0;
}

static int tile_supports(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                         nn_tensor *const *out, int nout, const char **why)
{
    if (!move_supports(ctx, n, in, nin, out, nout, why))
        return 0;
    if (in[0]->ndim != out[0]->ndim || nn_tensor_numel(in[0]) == 0) {
        *why = "rank / empty input";
        return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------- Pad */

static int pad_params(const nn_node *n, const cu_node *cn, int nin, const nn_tensor *x, int64_t *lo, const char **why)
{
    int64_t pads[2 * NN_MAX_DIMS];
    int np = 0;
    int r = x->ndim;
    if (n->opset < 11) {
        const int64_t *p = nn_attr_ints(n, "pads", &np);
        if (!p || np != 2 * r)
            return (*why = "pads attribute", FP_EMODEL);
        for (int i = 0; i < np; i++)
            pads[i] = p[i];
    } else {
        const nn_tensor *tp = cu_host(cn, 1), *ta = nin > 3 ? cu_host(cn, 3) : NULL;
        if (!tp)
            return (*why = "pads not constant", FP_EMODEL);
        np = (int)nn_tensor_numel(tp);
        int na = ta ? (int)nn_tensor_numel(ta) : r;
        if (np != 2 * na || na > NN_MAX_DIMS)
            return (*why = "pads length", FP_EMODEL);
        for (int k = 0; k < 2 * r; k++)
            pads[k] = 0;
        for (int i = 0; i < na; i++) {
            int ax = i;
            if (ta && nn_norm_axis(nn_tensor_get_i64(ta, i), r, &ax) < 0)
                return (*why = "axes", FP_EMODEL);
            pads[ax] = nn_tensor_get_i64(tp, i);
            pads[ax + r] = nn_tensor_get_i64(tp, i + na);
        }
    }
    for (int k = 0; k < r; k++)
        lo[k] = pads[k];
    return 0;
}

static int pad_mode(const nn_node *n)
{
    const char *m = nn_attr_str(n, "mode", "constant");
    if (!strcmp(m, "constant")) return 0;
    if (!strcmp(m, "reflect")) return 1;
    if (!strcmp(m, "edge")) return 2;
    if (!strcmp(m, "wrap")) return 3;
    return -1;
}

static int pad_supports(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                        nn_tensor *const *out, int nout, const char **why)
{
    if (!move_supports(ctx, n, in, nin, out, nout, why))
        return 0;
    if (pad_mode(n) < 0) {
        *why = "mode";
        return 0;
    }
    if (in[0]->ndim != out[0]->ndim || (pad_mode(n) != 0 && nn_tensor_numel(in[0]) == 0)) {
        *why = "rank / empty input";
        return 0;
    }
    /* A negative pad crops; the kernel maps output coordinates back, which handles that too. */
    return 1;
}

static int pad_prepare(nn_backend_ctx *ctx, nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                       nn_tensor *const *out, int nout, fp_err *e)
{
    int64_t lo[NN_MAX_DIMS];
    const char *why = NULL;
    if (pad_params(n, cn, nin, in[0], lo, &why) < 0)
        return nn_node_error(e, n, FP_EMODEL, "cuda: Pad: %s", why);
    return 0;
}

static int pad_run(nn_backend_ctx *ctx, const nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                   nn_tensor **out, int nout, fp_err *e)
{
    sh_geom g;
    const char *why = NULL;
    memset(&g, 0, sizeof(g));
    const nn_tensor *x = in[0], *y = out[0];
    int64_t total = nn_tensor_numel(y);
    if (total == 0)
        return 0;
    if (pad_params(n, cn, nin, x, g.lo, &why) < 0)
        return nn_node_error(e, n, FP_EMODEL, "cuda: Pad: %s", why);
    g.ndim = y->ndim;
    for (int k = 0; k < y->ndim; k++) {
        g.odims[k] = y->dims[k];
        g.idims[k] = x->dims[k];
    }
    cu_strides(x, g.ist);
    double cv = n->opset < 11 ? nn_attr_float(n, "value", 0.f) : 0.0;
    const nn_tensor *tc = nin > 2 ? cu_host(cn, 2) : NULL;
    if (tc && nn_tensor_numel(tc) > 0)
        cv = nn_tensor_get_f64(tc, 0);
    int mode = pad_mode(n);
    const void *src = cu_in(cn, in, 0);
    unsigned grid = cu_grid(total);
    switch (y->dtype) {
    case NN_DT_FLOAT: { float v = (float)cv; uint32_t b; memcpy(&b, &v, 4);
        pad_kernel<uint32_t><<<grid, 256, 0, ctx->stream>>>((uint32_t *)y->data, (const uint32_t *)src, g, mode, b, total); break; }
    case NN_DT_FLOAT16:
        pad_kernel<uint16_t><<<grid, 256, 0, ctx->stream>>>((uint16_t *)y->data, (const uint16_t *)src, g, mode, nn_f32_to_f16((float)cv), total); break;
    case NN_DT_BFLOAT16:
        pad_kernel<uint16_t><<<grid, 256, 0, ctx->stream>>>((uint16_t *)y->data, (const uint16_t *)src, g, mode, nn_f32_to_bf16((float)cv), total); break;
    case NN_DT_INT64:
        pad_kernel<int64_t><<<grid, 256, 0, ctx->stream>>>((int64_t *)y->data, (const int64_t *)src, g, mode, (int64_t)cv, total); break;
    case NN_DT_INT32:
        pad_kernel<int32_t><<<grid, 256, 0, ctx->stream>>>((int32_t *)y->data, (const int32_t *)src, g, mode, (int32_t)cv, total); break;
    case NN_DT_UINT8: case NN_DT_BOOL: case NN_DT_INT8:
        pad_kernel<uint8_t><<<grid, 256, 0, ctx->stream>>>((uint8_t *)y->data, (const uint8_t *)src, g, mode,
                                                           y->dtype == NN_DT_INT8 ? (uint8_t)(int8_t)cv : (uint8_t)cv, total); break;
    default: return nn_node_error(e, n, FP_EUNSUPPORTED, "cuda: Pad dtype %s", nn_dtype_name(y->dtype));
    }
    CU_LAUNCH_CHECK(e, n);
    return 0;
}

/* ---------------------------------------------------------------- Gather */

template <typename T, typename I>
__global__ void gather_kernel(T *y, const T *x, const I *idx, int64_t nidx, int64_t axis_dim, int64_t inner,
                              int64_t total)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t in_i = i % inner, r = i / inner;
        int64_t j = r % nidx, outer = r / nidx;
        int64_t k = (int64_t)idx[j];
        if (k < 0)
            k += axis_dim;
        /* Out-of-range indices are a model error the CPU reports; here they must not read out of
         * bounds, so they clamp (the CPU reference is what defines the error). */
        k = k < 0 ? 0 : (k >= axis_dim ? axis_dim - 1 : k);
        y[i] = x[(outer * axis_dim + k) * inner + in_i];
    }
}

static int gather_supports(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                           nn_tensor *const *out, int nout, const char **why)
{
    int axis;
    if (nin != 2 || !in[0] || !in[1] || nout != 1) {
        *why = "input count";
        return 0;
    }
    nn_dtype it = cu_eff_dt(in, nin, out, nout, 1);
    if (it != NN_DT_INT64 && it != NN_DT_INT32) {
        *why = "indices dtype";
        return 0;
    }
    if (nn_norm_axis(nn_attr_int(n, "axis", 0), in[0]->ndim, &axis) < 0 || in[0]->dims[axis] == 0) {
        *why = "axis";
        return 0;
    }
    nn_dtype dt = cu_eff_dt(in, nin, out, nout, 0);
    return (esize_ok(dt) && out[0]->dtype == dt) ? 1 : (*why = "dtype", 0);
}

static int gather_run(nn_backend_ctx *ctx, const nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                      nn_tensor **out, int nout, fp_err *e)
{
    int axis;
    nn_norm_axis(nn_attr_int(n, "axis", 0), in[0]->ndim, &axis);
    const nn_tensor *x = in[0];
    int64_t inner = 1, total = nn_tensor_numel(out[0]), nidx = nn_tensor_numel(in[1]);
    for (int k = axis + 1; k < x->ndim; k++)
        inner *= x->dims[k];
    if (total == 0)
        return 0;
    const void *src = cu_in(cn, in, 0), *idx = cu_in(cn, in, 1);
    int i64 = cu_dt(cn, in, 1) == NN_DT_INT64;
    unsigned grid = cu_grid(total);
    int64_t ad = x->dims[axis];
#define GATHER(T)                                                                                              \
    do {                                                                                                       \
        if (i64)                                                                                               \
            gather_kernel<T, int64_t><<<grid, 256, 0, ctx->stream>>>((T *)out[0]->data, (const T *)src,        \
                                                                     (const int64_t *)idx, nidx, ad, inner, total); \
        else                                                                                                   \
            gather_kernel<T, int32_t><<<grid, 256, 0, ctx->stream>>>((T *)out[0]->data, (const T *)src,        \
                                                                     (const int32_t *)idx, nidx, ad, inner, total); \
    } while (0)
    switch (nn_dtype_size(out[0]->dtype)) {
    case 1: GATHER(uint8_t); break;
    case 2: GATHER(uint16_t); break;
    case 4: GATHER(uint32_t); break;
    default: GATHER(uint64_t); break;
    }
#undef GATHER
    CU_LAUNCH_CHECK(e, n);
    return 0;
}

/* ---------------------------------------------------------------- Shape / Size */

/* The values are known at plan time (the input's shape): uploaded once in prepare, copied at run (a
 * device-to-device copy, so a run stays capturable). */
static void vals_free(nn_backend_ctx *ctx, void *p)
{
    cudaFree(p);
}

static int shapeof_supports(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                            nn_tensor *const *out, int nout, const char **why)
{
    if (nin != 1 || !in[0] || nout != 1 || out[0]->dtype != NN_DT_INT64) {
        *why = "input count / output dtype";
        return 0;
    }
    return 1;
}

static int shapeof_prepare(nn_backend_ctx *ctx, nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                           nn_tensor *const *out, int nout, fp_err *e)
{
    int64_t v[NN_MAX_DIMS];
    int cnt = 0, r = in[0]->ndim;
    if (!strcmp(n->op_type, "Size")) {
        v[cnt++] = nn_tensor_numel(in[0]);
    } else {
        int64_t s = nn_attr_int(n, "start", 0), en = nn_attr_int(n, "end", r);
        if (s < 0) s += r;
        if (en < 0) en += r;
        s = s < 0 ? 0 : (s > r ? r : s);
        en = en < 0 ? 0 : (en > r ? r : en);
        for (int64_t d = s; d < en; d++)
            v[cnt++] = in[0]->dims[d];
    }
    if (cnt != nn_tensor_numel(out[0]))
        return nn_node_error(e, n, FP_EINTERNAL, "cuda: %s: %d values for an output of %lld", n->op_type, cnt,
                             (long long)nn_tensor_numel(out[0]));
    void *d = NULL;
    CU_CHECK(e, n, cudaMalloc(&d, sizeof(v)));
    cn->priv = d;
    cn->priv_free = vals_free;
    if (cnt) {
        CU_CHECK(e, n, cudaMemcpyAsync(d, v, cnt * sizeof(int64_t), cudaMemcpyHostToDevice, ctx->stream));
        CU_CHECK(e, n, cudaStreamSynchronize(ctx->stream)); /* v lives on this stack frame */
    }
    return 0;
}

static int shapeof_run(nn_backend_ctx *ctx, const nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                       nn_tensor **out, int nout, fp_err *e)
{
    size_t nb = nn_tensor_nbytes(out[0]);
    if (nb)
        CU_CHECK(e, n, cudaMemcpyAsync(out[0]->data, cn->priv, nb, cudaMemcpyDeviceToDevice, ctx->stream));
    return 0;
}

const cu_op cu_ops_shape[] = {
    {"Identity", view_supports, NULL, view_run, 0},
    {"Dropout", view_supports, NULL, view_run, 0},
    {"Reshape", view_supports, NULL, view_run, 0},
    {"Flatten", view_supports, NULL, view_run, 0},
    {"Squeeze", view_supports, NULL, view_run, 0},
    {"Unsqueeze", view_supports, NULL, view_run, 0},
    {"Transpose", transpose_supports, NULL, transpose_run, 0},
    {"Concat", concat_supports, NULL, concat_run, 0},
    {"Split", split_supports, NULL, split_run, 0},
    {"Slice", slice_supports, slice_prepare, slice_run, 0x1Eu},
    {"Expand", expand_supports, NULL, expand_run, 0},
    {"DepthToSpace", d2s_supports, NULL, d2s_run, 0},
    {"SpaceToDepth", d2s_supports, NULL, d2s_run, 0},
    {"Tile", tile_supports, NULL, tile_run, 0},
    {"Pad", pad_supports, pad_prepare, pad_run, 0xEu},
    {"Gather", gather_supports, NULL, gather_run, 0},
    {"Shape", shapeof_supports, shapeof_prepare, shapeof_run, 0},
    {"Size", shapeof_supports, shapeof_prepare, shapeof_run, 0},
    {NULL, NULL, NULL, NULL, 0},
};
