/*
 * grid_sample — ONNX GridSample (opset 16 names bilinear/nearest/bicubic, opset 20 names
 * linear/nearest/cubic), 2-D (X [N,C,H,W], grid [N,oH,oW,2] holding normalised (x, y)), float32 on the
 * CPU. padding_mode zeros / border / reflection; align_corners 0/1.
 *
 * Semantics are PyTorch's grid_sampler_2d (which the ONNX spec and reference follow): unnormalise,
 * then for bilinear/nearest apply border clipping or reflection to the coordinate; bicubic applies the
 * padding rule to each of its 16 taps instead; nearest rounds half to even; the cubic coefficient is
 * −0.75. Output planes (batch × channel) run in parallel, one writer each. 3-D (5-D input) grids are
 * reported unsupported.
 */
#include "nn/nn_op.h"
#include "nn/ops/ops_b_util.h"

#include <math.h>
#include <string.h>

enum gs_mode { GS_BILINEAR, GS_NEAREST, GS_BICUBIC };
enum gs_pad { GS_ZEROS, GS_BORDER, GS_REFLECTION };

typedef struct gs_args {
    const float *x, *grid;
    float *y;
    int64_t c, h, w, oh, ow;
    enum gs_mode mode;
    enum gs_pad pad;
    int align;
} gs_args;

static int gs_parse(const nn_node *n, nn_tensor *const *in, int nin, gs_args *a, fp_err *e)
{
    const char *m = nn_attr_str(n, "mode", n->opset >= 20 ? "linear" : "bilinear");
    const char *pm = nn_attr_str(n, "padding_mode", "zeros");
    int r;
    if ((r = opsb_require_inputs(n, in, nin, 2, e)) < 0 || (r = opsb_require_float(n, in, nin, 3u, e)) < 0)
        return r;
    if (in[0]->ndim != 4)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "only 2-D GridSample (4-D X) is supported, X rank %d",
                             in[0]->ndim);
    if (in[1]->ndim != 4 || in[1]->dims[0] != in[0]->dims[0] || in[1]->dims[3] != 2)
        return nn_node_error(e, n, FP_EMODEL, "grid must be [N,oH,oW,2] with X's batch");
    if (!strcmp(m, "bilinear") || !strcmp(m, "linear"))
        a->mode = GS_BILINEAR;
    else if (!strcmp(m, "nearest"))
        a->mode = GS_NEAREST;
    else if (!strcmp(m, "bicubic") || !strcmp(m, "cubic"))
        a->mode = GS_BICUBIC;
    else
        return nn_node_error(e, n, FP_EUNSUPPORTED, "mode '%s' is not supported", m);
    if (!strcmp(pm, "zeros"))
        a->pad = GS_ZEROS;
    else if (!strcmp(pm, "border"))
        a->pad = GS_BORDER;
    else if (!strcmp(pm, "reflection"))
        a->pad = GS_REFLECTION;
    else
        return nn_node_error(e, n, FP_EUNSUPPORTED, "padding_mode '%s' is not supported", pm);
    a->align = nn_attr_int(n, "align_corners", 0) != 0;
    a->c = in[0]->dims[1];
    a->h = in[0]->dims[2];
    a->w = in[0]->dims[3];
    a->oh = in[1]->dims[1];
    a->ow = in[1]->dims[2];
    return 0;
}

static int gs_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout, fp_err *e)
{
    gs_args a;
    int r = gs_parse(n, in, nin, &a, e);
    if (r < 0)
        return r;
    out[0]->dtype = NN_DT_FLOAT;
    return nn_tensor_set_shape(out[0], 4, (int64_t[]){ in[0]->dims[0], a.c, a.oh, a.ow });
}

static float gs_unnormalize(float c, int64_t size, int align)
{
    return align ? (c + 1.0f) / 2.0f * (float)(size - 1) : ((c + 1.0f) * (float)size - 1.0f) / 2.0f;
}

/* PyTorch reflect_coordinates: reflect c into [lo2/2, hi2/2] (twice the bounds to stay integral). */
static float gs_reflect(float c, int64_t lo2, int64_t hi2)
{
    float mn, span, extra;
    int flips;
    if (lo2 == hi2)
        return 0.0f;
    mn = (float)lo2 / 2.0f;
    span = (float)(hi2 - lo2) / 2.0f;
    c = fabsf(c - mn);
    extra = fmodf(c, span);
    flips = (int)floorf(c / span);
    return flips % 2 == 0 ? extra + mn : span - extra + mn;
}

static float gs_clip(float c, int64_t size)
{
    return fminf((float)(size - 1), fmaxf(c, 0.0f));
}

static float gs_pad_coord(float c, int64_t size, enum gs_pad pad, int align)
{
    if (pad == GS_BORDER) {
        c = gs_clip(c, size);
    } else if (pad == GS_REFLECTION) {
        c = align ? gs_reflect(c, 0, 2 * (size - 1)) : gs_reflect(c, -1, 2 * size - 1);
        c = gs_clip(c, size);
    }
    return c;
}

static float gs_at(const float *img, int64_t h, int64_t w, int64_t y, int64_t x)
{
    return y >= 0 && y < h && x >= 0 && x < w ? img[y * w + x] : 0.0f;
}

/* Bicubic tap: padding applied to the tap's own coordinate (PyTorch get_value_bounded). */
static float gs_tap(const float *img, const gs_args *a, float y, float x)
{
    int64_t iy, ix;
    y = gs_pad_coord(y, a->h, a->pad, a->align);
    x = gs_pad_coord(x, a->w, a->pad, a->align);
    iy = (int64_t)y;
    ix = (int64_t)x;
    return gs_at(img, a->h, a->w, iy, ix);
}

static void gs_cubic_w(float t, float *w)
{
    const float A = -0.75f;
    float x1 = t + 1.0f, x2 = 1.0f - t, x3 = 2.0f - t;
    w[0] = ((A * x1 - 5.0f * A) * x1 + 8.0f * A) * x1 - 4.0f * A;
    w[1] = ((A + 2.0f) * t - (A + 3.0f)) * t * t + 1.0f;
    w[2] = ((A + 2.0f) * x2 - (A + 3.0f)) * x2 * x2 + 1.0f;
    w[3] = ((A * x3 - 5.0f * A) * x3 + 8.0f * A) * x3 - 4.0f * A;
}

static void gs_planes(void *arg, int64_t p0, int64_t p1)
{
    const gs_args *a = arg;
    for (int64_t p = p0; p < p1; p++) {
        int64_t b = p / a->c;
        const float *img = a->x + p * a->h * a->w;
        const float *g = a->grid + b * a->oh * a->ow * 2;
        float *y = a->y + p * a->oh * a->ow;
        for (int64_t o = 0; o < a->oh * a->ow; o++) {
            float gx = gs_unnormalize(g[2 * o], a->w, a->align);
            float gy = gs_unnormalize(g[2 * o + 1], a->h, a->align);
            float v = 0.0f;
            if (a->mode == GS_BICUBIC) {
                float fx = floorf(gx), fy = floorf(gy), wx[4], wy[4];
                gs_cubic_w(gx - fx, wx);
                gs_cubic_w(gy - fy, wy);
                for (int i = 0; i < 4; i++) {
                    float row = 0.0f;
                    for (int j = 0; j < 4; j++)
                        row += wx[j] * gs_tap(img, a, fy - 1.0f + (float)i, fx - 1.0f + (float)j);
                    v += wy[i] * row;
                }
            } else {
                gx = gs_pad_coord(gx, a->w, a->pad, a->align);
                gy = gs_pad_coord(gy, a->h, a->pad, a->align);
                if (a->mode == GS_NEAREST) {
                    v = gs_at(img, a->h, a->w, (int64_t)nearbyintf(gy), (int64_t)nearbyintf(gx));
                } else {
                    float fx = floorf(gx), fy = floorf(gy), tx = gx - fx, ty = gy - fy;
                    int64_t x0 = (int64_t)fx, y0 = (int64_t)fy;
                    v = (1 - ty) * (1 - tx) * gs_at(img, a->h, a->w, y0, x0) +
                        (1 - ty) * tx * gs_at(img, a->h, a->w, y0, x0 + 1) +
                        ty * (1 - tx) * gs_at(img, a->h, a->w, y0 + 1, x0) +
                        ty * tx * gs_at(img, a->h, a->w, y0 + 1, x0 + 1);
                }
            }
            y[o] = v;
        }
    }
}

static int gs_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                  nn_cpu_ctx *ctx, fp_err *e)
{
    gs_args a;
    int r = gs_parse(n, in, nin, &a, e);
    if (r < 0)
        return r;
    a.x = in[0]->data;
    a.grid = in[1]->data;
    a.y = out[0]->data;
    nn_cpu_parallel_for(ctx, in[0]->dims[0] * a.c, gs_planes, &a);
    return 0;
}

const nn_op_def nn_op_grid_sample = {
    .op_type = "GridSample",
    .domain = "",
    .min_opset = 16,
    .infer = gs_infer,
    .cpu = gs_cpu,
};
