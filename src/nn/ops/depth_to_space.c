/*
 * depth_to_space — ONNX DepthToSpace (opsets 1–13: DCR and CRD modes) and SpaceToDepth, 4-D NCHW.
 * Pure data movement, so any element type works (copied by element size). Rows of the output run in
 * parallel, one writer each. Owns both ops because they are each other's inverse and share the index
 * arithmetic.
 *
 * DCR: out[n, c, h·b+i, w·b+j] = in[n, (i·b+j)·C' + c, h, w]; CRD: in[n, c·b² + i·b + j, h, w].
 * SpaceToDepth: out[n, (i·b+j)·C + c, h, w] = in[n, c, h·b+i, w·b+j].
 */
#include "nn/nn_op.h"
#include "nn/ops/ops_b_util.h"

#include <string.h>

typedef struct d2s_args {
    const unsigned char *x;
    unsigned char *y;
    size_t es;
    int64_t n, c, h, w, b; /* input dims, block */
    int crd, to_space;
} d2s_args;

static int d2s_parse(const nn_node *n, nn_tensor *const *in, int nin, d2s_args *a, int to_space, fp_err *e)
{
    int r;
    const char *mode = nn_attr_str(n, "mode", "DCR");
    if ((r = opsb_require_inputs(n, in, nin, 1, e)) < 0)
        return r;
    if (in[0]->ndim != 4)
        return nn_node_error(e, n, FP_EMODEL, "X must be 4-D, has rank %d", in[0]->ndim);
    a->es = nn_dtype_size(in[0]->dtype);
    if (!a->es)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "dtype %s", nn_dtype_name(in[0]->dtype));
    a->n = in[0]->dims[0];
    a->c = in[0]->dims[1];
    a->h = in[0]->dims[2];
    a->w = in[0]->dims[3];
    a->b = nn_attr_int(n, "blocksize", 0);
    a->to_space = to_space;
    a->crd = 0;
    if (a->b < 1)
        return nn_node_error(e, n, FP_EMODEL, "blocksize must be >= 1");
    if (to_space) {
        if (!strcmp(mode, "CRD"))
            a->crd = 1;
        else if (strcmp(mode, "DCR"))
            return nn_node_error(e, n, FP_EMODEL, "mode '%s' is not DCR or CRD", mode);
        if (a->c % (a->b * a->b))
            return nn_node_error(e, n, FP_EMODEL, "channels %lld not divisible by blocksize² %lld",
                                 (long long)a->c, (long long)(a->b * a->b));
    } else if (a->h % a->b || a->w % a->b) {
        return nn_node_error(e, n, FP_EMODEL, "H %lld and W %lld must be multiples of blocksize %lld",
                             (long long)a->h, (long long)a->w, (long long)a->b);
    }
    return 0;
}

static void d2s_out_dims(const d2s_args *a, int64_t *d)
{
    d[0] = a->n;
    if (a->to_space) {
        d[1] = a->c / (a->b * a->b);
        d[2] = a->h * a->b;
        d[3] = a->w * a->b;
    } else {
        d[1] = a->c * a->b * a->b;
        d[2] = a->h / a->b;
        d[3] = a->w / a->b;
    }
}

/* Output row r = (n, c, y) of the output tensor. */
static void d2s_rows(void *arg, int64_t r0, int64_t r1)
{
    const d2s_args *a = arg;
    int64_t od[4], b = a->b;
    d2s_out_dims(a, od);
    for (int64_t r = r0; r < r1; r++) {
        int64_t y = r % od[2], c = (r / od[2]) % od[1], nb = r / (od[2] * od[1]);
        unsigned char *dst = a->y + r * od[3] * a->es;
        for (int64_t x = 0; x < od[3]; x++) {
            int64_t ic, iy, ix;
            if (a->to_space) {
                int64_t i = y % b, j = x % b;
                ic = a->crd ? c * b * b + i * b + j : (i * b + j) * od[1] + c;
                iy = y / b;
                ix = x / b;
            } else {
                int64_t blk = c / a->c, ci = c % a->c;
                ic = ci;
                iy = y * b + blk / b;
                ix = x * b + blk % b;
            }
            memcpy(dst + x * a->es, a->x + (((nb * a->c + ic) * a->h + iy) * a->w + ix) * a->es, a->es);
        }
    }
}

static int d2s_infer_kind(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int to_space,
                          fp_err *e)
{
    d2s_args a;
    int64_t d[4];
    int r = d2s_parse(n, in, nin, &a, to_space, e);
    if (r < 0)
        return r;
    d2s_out_dims(&a, d);
    out[0]->dtype = in[0]->dtype;
    return nn_tensor_set_shape(out[0], 4, d);
}

static int d2s_cpu_kind(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, nn_cpu_ctx *ctx,
                        int to_space, fp_err *e)
{
    d2s_args a;
    int64_t d[4];
    int r = d2s_parse(n, in, nin, &a, to_space, e);
    if (r < 0)
        return r;
    a.x = in[0]->data;
    a.y = out[0]->data;
    d2s_out_dims(&a, d);
    nn_cpu_parallel_for(ctx, d[0] * d[1] * d[2], d2s_rows, &a);
    return 0;
}

static int d2s_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout, fp_err *e)
{
    return d2s_infer_kind(n, in, nin, out, 1, e);
}

static int d2s_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                   nn_cpu_ctx *ctx, fp_err *e)
{
    return d2s_cpu_kind(n, in, nin, out, ctx, 1, e);
}

static int s2d_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout, fp_err *e)
{
    return d2s_infer_kind(n, in, nin, out, 0, e);
}

static int s2d_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                   nn_cpu_ctx *ctx, fp_err *e)
{
    return d2s_cpu_kind(n, in, nin, out, ctx, 0, e);
}

const nn_op_def nn_op_depth_to_space = {
    .op_type = "DepthToSpace", .domain = "", .min_opset = 1, .infer = d2s_infer, .cpu = d2s_cpu,
};

const nn_op_def nn_op_space_to_depth = {
    .op_type = "SpaceToDepth", .domain = "", .min_opset = 1, .infer = s2d_infer, .cpu = s2d_cpu,
};
