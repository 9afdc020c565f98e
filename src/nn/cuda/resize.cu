/*
 * resize — Resize (opset 10-19) and Upsample (7-9) over the last two dims of a tensor (all leading
 * dims must keep their size), nearest / linear / cubic, every coordinate_transformation_mode
 * (half_pixel, half_pixel_symmetric, pytorch_half_pixel, align_corners, asymmetric,
 * tf_half_pixel_for_nn, tf_crop_and_resize) and every nearest_mode.
 *
 * Owns: cu_ops_resize. One thread per output element computes its 1/2/4 taps per axis; neighbours
 * past the edge repeat the edge (what ONNX's reference does by edge-padding), cubic with
 * exclude_outside renormalises its weights. Scales come from the constant scales input when given,
 * else output/input sizes. Does not own antialiasing (opset 18 antialias=1), keep_aspect_ratio_policy
 * other than stretch, or the axes attribute: reported unsupported.
 */
#include "nn/cuda/nn_cuda.h"

#include <string.h>

enum { RZ_NEAREST, RZ_LINEAR, RZ_CUBIC };
enum { CT_HALF_PIXEL, CT_HALF_PIXEL_SYM, CT_PYTORCH, CT_ALIGN, CT_ASYM, CT_TF_NN, CT_TF_CROP };
enum { NM_ROUND_FLOOR, NM_ROUND_CEIL, NM_FLOOR, NM_CEIL, NM_SIMPLE };

typedef struct rz_geom {
    int64_t planes, H, W, OH, OW;
    double sy, sx;           /* scales */
    double roi[4];           /* tf_crop_and_resize: y start, x start, y end, x end */
    int mode, ct, nm, exclude;
    float a, extrap;
} rz_geom;

static int rz_parse(const nn_node *n, const cu_node *cn, nn_tensor *const *in, int nin, const nn_tensor *x,
                    const nn_tensor *y, rz_geom *g, const char **why)
{
    int up = !strcmp(n->op_type, "Upsample");
    memset(g, 0, sizeof(*g));
    if (x->ndim < 2 || y->ndim != x->ndim)
        return (*why = "rank", 0);
    for (int d = 0; d < x->ndim - 2; d++)
        if (x->dims[d] != y->dims[d])
            return (*why = "resizing a dim other than the last two", 0);
    g->planes = 1;
    for (int d = 0; d < x->ndim - 2; d++)
        g->planes *= x->dims[d];
    g->H = x->dims[x->ndim - 2];
    g->W = x->dims[x->ndim - 1];
    g->OH = y->dims[y->ndim - 2];
    g->OW = y->dims[y->ndim - 1];
    const char *m = nn_attr_str(n, "mode", "nearest");
    if (!strcmp(m, "nearest")) g->mode = RZ_NEAREST;
    else if (!strcmp(m, "linear") || !strcmp(m, "bilinear")) g->mode = RZ_LINEAR;
    else if (!strcmp(m, "cubic") && !up) g->mode = RZ_CUBIC;
    else return (*why = "mode", 0);
    if (nn_attr_int(n, "antialias", 0))
        return (*why = "antialias", 0);
    if (strcmp(nn_attr_str(n, "keep_aspect_ratio_policy", "stretch"), "stretch"))
        return (*why = "keep_aspect_ratio_policy", 0);
    if (nn_attr_get(n, "axes"))
        return (*why = "axes attribute", 0);
    g->a = nn_attr_float(n, "cubic_coeff_a", -0.75f);
    g->exclude = (int)nn_attr_int(n, "exclude_outside", 0);
    g->extrap = nn_attr_float(n, "extrapolation_value", 0.f);
    /* Opsets before 11 (Upsample, Resize-10) had one behaviour: asymmetric coordinates and "simple"
     * nearest rounding (floor when enlarging), as onnxruntime implements them. */
    if (up || n->opset < 11) {
        g->ct = CT_ASYM;
        g->nm = NM_SIMPLE;
    } else {
        const char *ct = nn_attr_str(n, "coordinate_transformation_mode", "half_pixel");
        if (!strcmp(ct, "half_pixel")) g->ct = CT_HALF_PIXEL;
        else if (!strcmp(ct, "half_pixel_symmetric")) g->ct = CT_HALF_PIXEL_SYM;
        else if (!strcmp(ct, "pytorch_half_pixel")) g->ct = CT_PYTORCH;
        else if (!strcmp(ct, "align_corners")) g->ct = CT_ALIGN;
        else if (!strcmp(ct, "asymmetric")) g->ct = CT_ASYM;
        else if (!strcmp(ct, "tf_half_pixel_for_nn")) g->ct = CT_TF_NN;
        else if (!strcmp(ct, "tf_crop_and_resize")) g->ct = CT_TF_CROP;
        else return (*why = "coordinate_transformation_mode", 0);
        const char *nm = nn_attr_str(n, "nearest_mode", "round_prefer_floor");
        if (!strcmp(nm, "round_prefer_floor")) g->nm = NM_ROUND_FLOOR;
        else if (!strcmp(nm, "round_prefer_ceil")) g->nm = NM_ROUND_CEIL;
        else if (!strcmp(nm, "floor")) g->nm = NM_FLOOR;
        else if (!strcmp(nm, "ceil")) g->nm = NM_CEIL;
        else return (*why = "nearest_mode", 0);
    }
    /* Scales: attribute (Upsample-7), input 1 (Upsample-9, Resize-10) or input 2 (Resize >= 11). */
    const nn_tensor *ts = NULL;
    int si = (up || n->opset < 11) ? 1 : 2;
    g->sy = (double)g->OH / (double)(g->H ? g->H : 1);
    g->sx = (double)g->OW / (double)(g->W ? g->W : 1);
    if (up && n->opset < 9) {
        int ns = 0;
        const float *s = nn_attr_floats(n, "scales", &ns);
        if (!s || ns != x->ndim)
            return (*why = "scales attribute", 0);
        g->sy = s[ns - 2];
        g->sx = s[ns - 1];
    } else if (nin > si && in[si]) {
        ts = cn ? cu_host(cn, si) : (cu_is_const(in, nin, si) ? in[si] : NULL);
        if (!ts)
            return (*why = "scales input not constant", 0);
        int64_t ns = nn_tensor_numel(ts);
        if (ns == x->ndim) {
            /* The float32 scale as the file stores it, widened (what the CPU reference uses). */
            g->sy = (double)(float)nn_tensor_get_f64(ts, ns - 2);
            g->sx = (double)(float)nn_tensor_get_f64(ts, ns - 1);
        } else if (ns != 0) {
            return (*why = "scales length", 0);
        }
    }
    if (g->sy <= 0.0 || g->sx <= 0.0)
        return (*why = "scale <= 0", 0);
    if (g->ct == CT_TF_CROP) {
        const nn_tensor *tr = nin > 1 && in[1] ? (cn ? cu_host(cn, 1) : (cu_is_const(in, nin, 1) ? in[1] : NULL)) : NULL;
        if (!tr || nn_tensor_numel(tr) != 2 * x->ndim)
            return (*why = "roi input (constant, 2*rank values) for tf_crop_and_resize", 0);
        int r = x->ndim;
        g->roi[0] = nn_tensor_get_f64(tr, r - 2);
        g->roi[1] = nn_tensor_get_f64(tr, r - 1);
        g->roi[2] = nn_tensor_get_f64(tr, 2 * r - 2);
        g->roi[3] = nn_tensor_get_f64(tr, 2 * r - 1);
    }
    return 1;
}

/* Output coordinate -> input coordinate along one axis, in double like the CPU reference, so nearest
 * rounding decisions at .5 and the tf_crop_and_resize bounds agree exactly. *outside: tf_crop_and_resize
 * off the image. */
__device__ __forceinline__ double rz_coord(int ct, double xo, int64_t in, int64_t out, double s, double r0,
                                           double r1, int *outside)
{
    switch (ct) {
    case CT_HALF_PIXEL: return (xo + 0.5) / s - 0.5;
    case CT_HALF_PIXEL_SYM: {
        double adj = (double)out / (s * (double)in);
        double center = (double)in / 2.0;
        return center * (1.0 - adj) + (xo + 0.5) / s - 0.5;
    }
    case CT_PYTORCH: return out > 1 ? (xo + 0.5) / s - 0.5 : 0.0;
    /* The ONNX reference divides by scale*length_original, not by the integer output length minus 1;
     * they differ only when that product is fractional. */
    case CT_ALIGN: return out == 1 ? 0.0 : xo * (double)(in - 1) / (s * (double)in - 1.0);
    case CT_TF_NN: return (xo + 0.5) / s;
    case CT_TF_CROP: {
        double v = out > 1 ? r0 * (double)(in - 1) + xo * (r1 - r0) * (double)(in - 1) / (double)(out - 1)
                           : 0.5 * (r0 + r1) * (double)(in - 1);
        if (v < 0.0 || v > (double)(in - 1))
            *outside = 1;
        return v;
    }
    default: return xo / s;
    }
}

__device__ __forceinline__ int64_t rz_clampi(int64_t i, int64_t n)
{
    return i < 0 ? 0 : (i >= n ? n - 1 : i);
}

/* Taps along one axis: up to 4 indices and weights. Returns the tap count. */
__device__ int rz_taps(const rz_geom &g, double xi, int64_t in, double s, int64_t *idx, float *w)
{
    if (g.mode == RZ_NEAREST) {
        double fl = floor(xi), r;
        switch (g.nm) {
        case NM_ROUND_FLOOR: r = xi - fl == 0.5 ? fl : round(xi); break;
        case NM_ROUND_CEIL: r = xi - fl == 0.5 ? fl + 1.0 : round(xi); break;
        case NM_FLOOR: r = fl; break;
        case NM_CEIL: r = ceil(xi); break;
        default: r = s < 1.0 ? ceil(xi) : trunc(xi); break;
        }
        idx[0] = rz_clampi((int64_t)r, in);
        w[0] = 1.f;
        return 1;
    }
    double f = floor(xi);
    float t = (float)(xi - f);
    int64_t i0 = (int64_t)f;
    if (g.mode == RZ_LINEAR) {
        idx[0] = rz_clampi(i0, in);
        idx[1] = rz_clampi(i0 + 1, in);
        w[0] = 1.f - t;
        w[1] = t;
        return 2;
    }
    float a = g.a, sum = 0.f;
    float d[4] = {t + 1.f, t, 1.f - t, 2.f - t};
    for (int k = 0; k < 4; k++) {
        float x = d[k];
        w[k] = x <= 1.f ? ((a + 2.f) * x - (a + 3.f)) * x * x + 1.f
                        : ((a * x - 5.f * a) * x + 8.f * a) * x - 4.f * a;
        int64_t j = i0 - 1 + k;
        if (g.exclude && (j < 0 || j >= in))
            w[k] = 0.f;
        sum += w[k];
        idx[k] = rz_clampi(j, in);
    }
    if (g.exclude && sum != 0.f)
        for (int k = 0; k < 4; k++)
            w[k] /= sum;
    return 4;
}

template <typename T>
__global__ void resize_kernel(T *y, const T *x, rz_geom g, int64_t total)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t ox = i % g.OW, r = i / g.OW;
        int64_t oy = r % g.OH, p = r / g.OH;
        int outside = 0;
        double yi = rz_coord(g.ct, (double)oy, g.H, g.OH, g.sy, g.roi[0], g.roi[2], &outside);
        double xi = rz_coord(g.ct, (double)ox, g.W, g.OW, g.sx, g.roi[1], g.roi[3], &outside);
        if (outside) {
            cu_st(y + i, g.extrap);
            continue;
        }
        int64_t iy[4], ix[4];
        float wy[4], wx[4];
        int ny = rz_taps(g, yi, g.H, g.sy, iy, wy), nx = rz_taps(g, xi, g.W, g.sx, ix, wx);
        const T *xp = x + p * g.H * g.W;
        float acc = 0.f;
        for (int a = 0; a < ny; a++) {
            float row = 0.f;
            for (int b = 0; b < nx; b++)
                row += wx[b] * cu_ld(xp + iy[a] * g.W + ix[b]);
            acc += wy[a] * row;
        }
        cu_st(y + i, acc);
    }
}

/* The same arithmetic, one output row per block row (blockIdx.y over planes x OH): the row's
 * coordinate and taps are computed once per thread and nothing divides per element (resize_kernel's
 * 64-bit div/mod per output element made full-resolution upsampling compute-bound, ~20 ns an element
 * on the H100). Results are bit-identical to resize_kernel. */
template <typename T>
__global__ void resize_rows_kernel(T *y, const T *x, rz_geom g, int64_t nrows)
{
    for (int64_t r = blockIdx.y; r < nrows; r += gridDim.y) {
        int64_t oy = r % g.OH, p = r / g.OH;
        int outy = 0;
        double yi = rz_coord(g.ct, (double)oy, g.H, g.OH, g.sy, g.roi[0], g.roi[2], &outy);
        int64_t iy[4];
        float wy[4];
        int ny = outy ? 0 : rz_taps(g, yi, g.H, g.sy, iy, wy);
        const T *xp = x + p * g.H * g.W;
        T *yr = y + r * g.OW;
        for (int64_t ox = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; ox < g.OW; ox += (int64_t)gridDim.x * blockDim.x) {
            int outside = outy;
            double xi = rz_coord(g.ct, (double)ox, g.W, g.OW, g.sx, g.roi[1], g.roi[3], &outside);
            if (outside) {
                cu_st(yr + ox, g.extrap);
                continue;
            }
            int64_t ix[4];
            float wx[4];
            int nx = rz_taps(g, xi, g.W, g.sx, ix, wx);
            float acc = 0.f;
            for (int a = 0; a < ny; a++) {
                float row = 0.f;
                for (int b = 0; b < nx; b++)
                    row += wx[b] * cu_ld(xp + iy[a] * g.W + ix[b]);
                acc += wy[a] * row;
            }
            cu_st(yr + ox, acc);
        }
    }
}

static int rz_supports(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                       nn_tensor *const *out, int nout, const char **why)
{
    rz_geom g;
    if (nin < 1 || !in[0] || nout != 1) {
        *why = "input count";
        return 0;
    }
    nn_dtype dt = cu_eff_dt(in, nin, out, nout, 0);
    if (!cu_is_float(dt) || out[0]->dtype != dt) {
        *why = "dtype (float types only)";
        return 0;
    }
    for (int i = 1; i < nin; i++)
        if (in[i] && !cu_is_const(in, nin, i)) {
            *why = "roi/scales/sizes not constant";
            return 0;
        }
    if (!rz_parse(n, NULL, in, nin, in[0], out[0], &g, why))
        return 0;
    if (g.H == 0 || g.W == 0) {
        *why = "empty input";
        return 0;
    }
    return 1;
}

static int rz_run(nn_backend_ctx *ctx, const nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                  nn_tensor **out, int nout, fp_err *e)
{
    rz_geom g;
    const char *why = NULL;
    if (!rz_parse(n, cn, in, nin, in[0], out[0], &g, &why))
        return nn_node_error(e, n, FP_EUNSUPPORTED, "cuda: %s: %s", n->op_type, why);
    int64_t total = nn_tensor_numel(out[0]);
    if (total == 0)
        return 0;
    void *y = out[0]->data;
    const void *x = cu_in(cn, in, 0);
    int64_t nrows = g.planes * g.OH;
    int rc;
    if (g.OW >= 32) {
        unsigned threads = g.OW >= 256 ? 256 : (unsigned)((g.OW + 31) / 32 * 32);
        int64_t bx = (g.OW + threads - 1) / threads;
        dim3 grid((unsigned)(bx > 64 ? 64 : bx), (unsigned)(nrows < 65535 ? nrows : 65535));
        rc = CU_FLOAT_SWITCH(out[0]->dtype, T,
            (resize_rows_kernel<T><<<grid, threads, 0, ctx->stream>>>((T *)y, (const T *)x, g, nrows)));
    } else {
        /* narrow outputs: a thread per element keeps the warps full */
        rc = CU_FLOAT_SWITCH(out[0]->dtype, T,
            (resize_kernel<T><<<cu_grid(total), 256, 0, ctx->stream>>>((T *)y, (const T *)x, g, total)));
    }
    if (rc < 0)
        return nn_node_error(e, n, rc, "cuda: dtype");
    CU_LAUNCH_CHECK(e, n);
    return 0;
}

const cu_op cu_ops_resize[] = {
    {"Resize", rz_supports, NULL, rz_run, 0xEu},
    {"Upsample", rz_supports, NULL, rz_run, 0x2u},
    {NULL, NULL, NULL, NULL, 0},
};
