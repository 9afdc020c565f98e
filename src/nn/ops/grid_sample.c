/*
 * grid_sample — ONNX GridSample (opset 16 names bilinear/nearest/bicubic, opset 20 names
 * linear/nearest/cubic), 2-D (X [N,C,H,W], grid [N,oH,oW,2] holding normalised (x, y)), float32 on the
 * CPU. padding_mode zeros / border / reflection; align_corners 0/1.
 *
 * Semantics are PyTorch's grid_sampler_2d (which the ONNX spec and reference follow): unnormalise,
 * then for bilinear/nearest apply border clipping or reflection to the coordinate; bicubic applies the
 * padding rule to each of its 16 taps instead; nearest rounds half to even; the cubic coefficient is
 * −0.75. Where a pixel samples (taps and weights) depends only on the grid, so it is computed once
 * per output pixel and applied to all channels; output rows run in parallel, one writer per element.
 * 3-D (5-D input) grids are reported unsupported.
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

/* float -> index without undefined behaviour: NaN and coordinates far outside any image map to a
 * value every bounds check rejects. */
static int64_t gs_index(float v)
{
    return v > -1e9f && v < 1e9f ? (int64_t)v : INT64_MIN / 4;
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

/* Bicubic tap index: padding applied to the tap's own coordinate (PyTorch get_value_bounded); -1 when
 * the tap reads zero padding. */
static int64_t gs_tap_index(const gs_args *a, float y, float x)
{
    int64_t iy, ix;
    y = gs_pad_coord(y, a->h, a->pad, a->align);
    x = gs_pad_coord(x, a->w, a->pad, a->align);
    iy = gs_index(y);
    ix = gs_index(x);
    return iy >= 0 && iy < a->h && ix >= 0 && ix < a->w ? iy * a->w + ix : -1;
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

/* Where one output pixel reads: up to 16 taps (index or -1 for zero padding) and their weights. The
 * taps depend only on the grid, so they are computed once per pixel and applied to every channel. */
typedef struct gs_taps {
    int64_t idx[16];
    float wx[4], wy[4], w[4];
} gs_taps;

static void gs_pixel_taps(const gs_args *a, float gxn, float gyn, gs_taps *t)
{
    float gx = gs_unnormalize(gxn, a->w, a->align), gy = gs_unnormalize(gyn, a->h, a->align);
    if (a->mode == GS_BICUBIC) {
        float fx = floorf(gx), fy = floorf(gy);
        gs_cubic_w(gx - fx, t->wx);
        gs_cubic_w(gy - fy, t->wy);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                t->idx[i * 4 + j] = gs_tap_index(a, fy - 1.0f + (float)i, fx - 1.0f + (float)j);
        return;
    }
    gx = gs_pad_coord(gx, a->w, a->pad, a->align);
    gy = gs_pad_coord(gy, a->h, a->pad, a->align);
    if (a->mode == GS_NEAREST) {
        int64_t iy = gs_index(nearbyintf(gy)), ix = gs_index(nearbyintf(gx));
        t->idx[0] = iy >= 0 && iy < a->h && ix >= 0 && ix < a->w ? iy * a->w + ix : -1;
    } else {
        float fx = floorf(gx), fy = floorf(gy), tx = gx - fx, ty = gy - fy;
        int64_t x0 = gs_index(fx), y0 = gs_index(fy);
        for (int k = 0; k < 4; k++) {
            int64_t yy = y0 + (k >> 1), xx = x0 + (k & 1);
            t->idx[k] = yy >= 0 && yy < a->h && xx >= 0 && xx < a->w ? yy * a->w + xx : -1;
        }
        t->w[0] = (1 - ty) * (1 - tx);
        t->w[1] = (1 - ty) * tx;
        t->w[2] = ty * (1 - tx);
        t->w[3] = ty * tx;
    }
}

static float gs_at_idx(const float *img, int64_t i)
{
    return i >= 0 ? img[i] : 0.0f;
}

/* Task r = one output row (batch b, row oy) for all channels; each output element has one writer. */
static void gs_rows(void *arg, int64_t r0, int64_t r1)
{
    const gs_args *a = arg;
    int64_t hw = a->h * a->w, ohw = a->oh * a->ow;
    for (int64_t r = r0; r < r1; r++) {
        int64_t b = r / a->oh, oy = r % a->oh;
        const float *g = a->grid + (b * ohw + oy * a->ow) * 2;
        for (int64_t ox = 0; ox < a->ow; ox++) {
            gs_taps t;
            int64_t o = oy * a->ow + ox;
            gs_pixel_taps(a, g[2 * ox], g[2 * ox + 1], &t);
            for (int64_t c = 0; c < a->c; c++) {
                const float *img = a->x + (b * a->c + c) * hw;
                float v = 0.0f;
                if (a->mode == GS_BICUBIC) {
                    for (int i = 0; i < 4; i++) {
                        float row = 0.0f;
                        for (int j = 0; j < 4; j++)
                            row += t.wx[j] * gs_at_idx(img, t.idx[i * 4 + j]);
                        v += t.wy[i] * row;
                    }
                } else if (a->mode == GS_NEAREST) {
                    v = gs_at_idx(img, t.idx[0]);
                } else {
                    v = t.w[0] * gs_at_idx(img, t.idx[0]) + t.w[1] * gs_at_idx(img, t.idx[1]) +
                        t.w[2] * gs_at_idx(img, t.idx[2]) + t.w[3] * gs_at_idx(img, t.idx[3]);
                }
                a->y[(b * a->c + c) * ohw + o] = v;
            }
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
    nn_cpu_parallel_for(ctx, in[0]->dims[0] * a.oh, gs_rows, &a);
    return 0;
}

const nn_op_def nn_op_grid_sample = {
    .op_type = "GridSample",
    .domain = "",
    .min_opset = 16,
    .infer = gs_infer,
    .cpu = gs_cpu,
};
