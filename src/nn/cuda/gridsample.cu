/*
 * gridsample — GridSample (opset 16 names bilinear/nearest/bicubic, opset 20 linear/nearest/cubic),
 * 2-D: X [N,C,H,W], grid [N,oH,oW,2] of normalised (x, y). padding_mode zeros/border/reflection,
 * align_corners 0/1. fp32 arithmetic over float/half/bf16 storage.
 *
 * Owns: cu_ops_gridsample. Semantics are PyTorch's grid_sampler_2d, as the CPU reference
 * (ops/grid_sample.c) implements them: bilinear/nearest pad the coordinate (border clip, reflection),
 * bicubic pads each of its 16 taps, nearest rounds half to even, cubic coefficient -0.75. One thread
 * per output pixel computes the taps once and loops over channels (coalesced writes per channel).
 * Does not own 3-D (5-D input) sampling: reported unsupported.
 */
#include "nn/cuda/nn_cuda.h"

#include <string.h>

enum { GS_BILINEAR, GS_NEAREST, GS_BICUBIC };
enum { GS_ZEROS, GS_BORDER, GS_REFLECTION };

typedef struct gs_geom {
    int64_t n, c, h, w, oh, ow;
    int mode, pad, align;
} gs_geom;

static int gs_parse(const nn_node *n, const nn_tensor *x, const nn_tensor *grid, gs_geom *g, const char **why)
{
    const char *m = nn_attr_str(n, "mode", n->opset >= 20 ? "linear" : "bilinear");
    const char *pm = nn_attr_str(n, "padding_mode", "zeros");
    if (x->ndim != 4 || grid->ndim != 4 || grid->dims[0] != x->dims[0] || grid->dims[3] != 2)
        return (*why = "2-D only (X [N,C,H,W], grid [N,oH,oW,2])", 0);
    if (!strcmp(m, "bilinear") || !strcmp(m, "linear")) g->mode = GS_BILINEAR;
    else if (!strcmp(m, "nearest")) g->mode = GS_NEAREST;
    else if (!strcmp(m, "bicubic") || !strcmp(m, "cubic")) g->mode = GS_BICUBIC;
    else return (*why = "mode", 0);
    if (!strcmp(pm, "zeros")) g->pad = GS_ZEROS;
    else if (!strcmp(pm, "border")) g->pad = GS_BORDER;
    else if (!strcmp(pm, "reflection")) g->pad = GS_REFLECTION;
    else return (*why = "padding_mode", 0);
    g->align = nn_attr_int(n, "align_corners", 0) != 0;
    g->n = x->dims[0];
    g->c = x->dims[1];
    g->h = x->dims[2];
    g->w = x->dims[3];
    g->oh = grid->dims[1];
    g->ow = grid->dims[2];
    return 1;
}

__device__ __forceinline__ float gs_unnorm(float c, int64_t size, int align)
{
    return align ? (c + 1.0f) / 2.0f * (float)(size - 1) : ((c + 1.0f) * (float)size - 1.0f) / 2.0f;
}

__device__ __forceinline__ float gs_reflect(float c, int64_t lo2, int64_t hi2)
{
    if (lo2 == hi2)
        return 0.0f;
    float mn = (float)lo2 / 2.0f, span = (float)(hi2 - lo2) / 2.0f;
    c = fabsf(c - mn);
    float extra = fmodf(c, span);
    int flips = (int)floorf(c / span);
    return flips % 2 == 0 ? extra + mn : span - extra + mn;
}

__device__ __forceinline__ float gs_clip(float c, int64_t size)
{
    return fminf((float)(size - 1), fmaxf(c, 0.0f));
}

__device__ __forceinline__ float gs_pad_coord(float c, int64_t size, int pad, int align)
{
    if (pad == GS_BORDER) {
        c = gs_clip(c, size);
    } else if (pad == GS_REFLECTION) {
        c = align ? gs_reflect(c, 0, 2 * (size - 1)) : gs_reflect(c, -1, 2 * size - 1);
        c = gs_clip(c, size);
    }
    return c;
}

__device__ __forceinline__ int64_t gs_tap(const gs_geom &g, float y, float x)
{
    y = gs_pad_coord(y, g.h, g.pad, g.align);
    x = gs_pad_coord(x, g.w, g.pad, g.align);
    int64_t iy = (int64_t)y, ix = (int64_t)x;
    return iy >= 0 && iy < g.h && ix >= 0 && ix < g.w ? iy * g.w + ix : -1;
}

__device__ __forceinline__ void gs_cubic_w(float t, float *w)
{
    const float A = -0.75f;
    float x1 = t + 1.0f, x2 = 1.0f - t, x3 = 2.0f - t;
    w[0] = ((A * x1 - 5.0f * A) * x1 + 8.0f * A) * x1 - 4.0f * A;
    w[1] = ((A + 2.0f) * t - (A + 3.0f)) * t * t + 1.0f;
    w[2] = ((A + 2.0f) * x2 - (A + 3.0f)) * x2 * x2 + 1.0f;
    w[3] = ((A * x3 - 5.0f * A) * x3 + 8.0f * A) * x3 - 4.0f * A;
}

template <typename T>
__device__ __forceinline__ float gs_at(const T *img, int64_t i)
{
    return i >= 0 ? cu_ld(img + i) : 0.0f;
}

template <typename T>
__global__ void gs_kernel(T *y, const T *x, const T *grid, gs_geom g, int64_t total)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t ohw = g.oh * g.ow, o = i % ohw, b = i / ohw;
        float gx = gs_unnorm(cu_ld(grid + 2 * i), g.w, g.align), gy = gs_unnorm(cu_ld(grid + 2 * i + 1), g.h, g.align);
        int64_t idx[16];
        float wx[4], wy[4], w[4];
        if (g.mode == GS_BICUBIC) {
            float fx = floorf(gx), fy = floorf(gy);
            gs_cubic_w(gx - fx, wx);
            gs_cubic_w(gy - fy, wy);
            for (int a = 0; a < 4; a++)
                for (int c = 0; c < 4; c++)
                    idx[a * 4 + c] = gs_tap(g, fy - 1.0f + (float)a, fx - 1.0f + (float)c);
        } else {
            gx = gs_pad_coord(gx, g.w, g.pad, g.align);
            gy = gs_pad_coord(gy, g.h, g.pad, g.align);
            if (g.mode == GS_NEAREST) {
                int64_t iy = (int64_t)rintf(gy), ix = (int64_t)rintf(gx);
                idx[0] = iy >= 0 && iy < g.h && ix >= 0 && ix < g.w ? iy * g.w + ix : -1;
            } else {
                float fx = floorf(gx), fy = floorf(gy), tx = gx - fx, ty = gy - fy;
                int64_t x0 = (int64_t)fx, y0 = (int64_t)fy;
                for (int k = 0; k < 4; k++) {
                    int64_t yy = y0 + (k >> 1), xx = x0 + (k & 1);
                    idx[k] = yy >= 0 && yy < g.h && xx >= 0 && xx < g.w ? yy * g.w + xx : -1;
                }
                w[0] = (1 - ty) * (1 - tx);
                w[1] = (1 - ty) * tx;
                w[2] = ty * (1 - tx);
                w[3] = ty * tx;
            }
        }
        for (int64_t c = 0; c < g.c; c++) {
            const T *img = x + (b * g.c + c) * g.h * g.w;
            float v;
            if (g.mode == GS_BICUBIC) {
                v = 0.0f;
                for (int a = 0; a < 4; a++) {
                    float row = 0.0f;
                    for (int k = 0; k < 4; k++)
                        row += wx[k] * gs_at(img, idx[a * 4 + k]);
                    v += wy[a] * row;
                }
            } else if (g.mode == GS_NEAREST) {
                v = gs_at(img, idx[0]);
            } else {
                v = w[0] * gs_at(img, idx[0]) + w[1] * gs_at(img, idx[1]) + w[2] * gs_at(img, idx[2]) +
                    w[3] * gs_at(img, idx[3]);
            }
            cu_st(y + (b * g.c + c) * ohw + o, v);
        }
    }
}

static int gs_supports(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                       nn_tensor *const *out, int nout, const char **why)
{
    gs_geom g;
    if (nin != 2 || !in[0] || !in[1] || nout != 1) {
        *why = "input count";
        return 0;
    }
    nn_dtype dt = cu_eff_dt(in, nin, out, nout, 0);
    if (!cu_is_float(dt) || cu_eff_dt(in, nin, out, nout, 1) != dt || out[0]->dtype != dt) {
        *why = "dtype";
        return 0;
    }
    return gs_parse(n, in[0], in[1], &g, why);
}

static int gs_run(nn_backend_ctx *ctx, const nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                  nn_tensor **out, int nout, fp_err *e)
{
    gs_geom g;
    const char *why = NULL;
    if (!gs_parse(n, in[0], in[1], &g, &why))
        return nn_node_error(e, n, FP_EUNSUPPORTED, "cuda: GridSample: %s", why);
    int64_t total = g.n * g.oh * g.ow;
    if (total == 0 || g.c == 0)
        return 0;
    if (g.h == 0 || g.w == 0) {
        CU_CHECK(e, n, cudaMemsetAsync(out[0]->data, 0, nn_tensor_nbytes(out[0]), ctx->stream));
        return 0;
    }
    void *y = out[0]->data;
    const void *x = cu_in(cn, in, 0), *grid = cu_in(cn, in, 1);
    int rc = CU_FLOAT_SWITCH(out[0]->dtype, T,
        (gs_kernel<T><<<cu_grid(total), 256, 0, ctx->stream>>>((T *)y, (const T *)x, (const T *)grid, g, total)));
    if (rc < 0)
        return nn_node_error(e, n, rc, "cuda: dtype");
    CU_LAUNCH_CHECK(e, n);
    return 0;
}

const cu_op cu_ops_gridsample[] = {
    {"GridSample", gs_supports, NULL, gs_run, 0},
    {NULL, NULL, NULL, NULL, 0},
};
