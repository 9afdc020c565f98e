/*
 * resize — ONNX Resize (opsets 10–19) and the deprecated Upsample (opsets 7–9), float32 on the CPU.
 *
 * Covers modes nearest / linear / cubic; coordinate_transformation_mode half_pixel,
 * half_pixel_symmetric (19), pytorch_half_pixel, align_corners, asymmetric, tf_half_pixel_for_nn
 * (11) and tf_crop_and_resize (with roi and extrapolation_value); nearest_mode round_prefer_floor,
 * round_prefer_ceil, floor, ceil; cubic_coeff_a; exclude_outside; antialias (18); axes and
 * keep_aspect_ratio_policy (18); scales or sizes. Upsample and Resize-10 use ONNX Runtime's
 * "simple" nearest rule (floor when upsampling, ceil when downsampling) and asymmetric coordinates.
 *
 * The filter is separable, so the kernel resamples one axis at a time. Taps follow the ONNX reference
 * (onnx/reference/ops/op_resize.py): neighbours of x are x_int + i with x_int = ceil(x) − 1 and
 * ratio = x − x_int in (0, 1], indices clamped to the edge, weights linear/cubic in (i − ratio)·s
 * where s is the scale when antialiasing a downsample and 1 otherwise (antialias weights normalised).
 * Coordinates are computed in double. An output row of one pass has one writer; passes run in a fixed
 * order, so results do not depend on the thread count. Owns nothing beyond the call (scratch only).
 */
#include "nn/nn_op.h"
#include "nn/ops/ops_b_util.h"

#include <math.h>
#include <string.h>

enum rs_mode { RS_NEAREST, RS_LINEAR, RS_CUBIC };
enum rs_ctm { CTM_HALF_PIXEL, CTM_HALF_PIXEL_SYM, CTM_PYTORCH_HALF_PIXEL, CTM_ALIGN_CORNERS, CTM_ASYMMETRIC,
              CTM_TF_HALF_PIXEL_FOR_NN, CTM_TF_CROP_AND_RESIZE };
enum rs_nearest { NR_ROUND_PREFER_FLOOR, NR_ROUND_PREFER_CEIL, NR_FLOOR, NR_CEIL, NR_SIMPLE };

typedef struct rs_params {
    int ndim;
    int64_t in[NN_MAX_DIMS], out[NN_MAX_DIMS];
    double scale[NN_MAX_DIMS];
    double roi_s[NN_MAX_DIMS], roi_e[NN_MAX_DIMS];
    enum rs_mode mode;
    enum rs_ctm ctm;
    enum rs_nearest nearest;
    double cubic_a;
    int exclude_outside, antialias;
    float extrap;
} rs_params;

typedef struct { const char *name; int value; } rs_name;

static const rs_name rs_modes[] = { { "nearest", RS_NEAREST }, { "linear", RS_LINEAR }, { "bilinear", RS_LINEAR },
                                    { "cubic", RS_CUBIC }, { NULL, 0 } };
static const rs_name rs_ctms[] = {
    { "half_pixel", CTM_HALF_PIXEL }, { "half_pixel_symmetric", CTM_HALF_PIXEL_SYM },
    { "pytorch_half_pixel", CTM_PYTORCH_HALF_PIXEL }, { "align_corners", CTM_ALIGN_CORNERS },
    { "asymmetric", CTM_ASYMMETRIC }, { "tf_half_pixel_for_nn", CTM_TF_HALF_PIXEL_FOR_NN },
    { "tf_crop_and_resize", CTM_TF_CROP_AND_RESIZE }, { NULL, 0 } };
static const rs_name rs_nearests[] = { { "round_prefer_floor", NR_ROUND_PREFER_FLOOR },
                                       { "round_prefer_ceil", NR_ROUND_PREFER_CEIL }, { "floor", NR_FLOOR },
                                       { "ceil", NR_CEIL }, { NULL, 0 } };

static int rs_lookup(const nn_node *n, const rs_name *t, const char *attr, const char *def, int *v, fp_err *e)
{
    const char *s = nn_attr_str(n, attr, def);
    for (; t->name; t++)
        if (!strcmp(t->name, s)) {
            *v = t->value;
            return 0;
        }
    return nn_node_error(e, n, FP_EUNSUPPORTED, "%s '%s' is not supported", attr, s);
}

static int rs_present(nn_tensor *const *in, int nin, int i)
{
    return nin > i && in[i] && nn_tensor_numel(in[i]) > 0;
}

static int rs_parse(const nn_node *n, nn_tensor *const *in, int nin, rs_params *p, fp_err *e)
{
    int upsample = !strcmp(n->op_type, "Upsample"), legacy = upsample || n->opset < 11, r, v;
    int naxes = 0, nax_attr = 0;
    int axes[NN_MAX_DIMS];
    const int64_t *ax_attr = NULL;
    const nn_tensor *x;

    if ((r = opsb_require_inputs(n, in, nin, 1, e)) < 0 || (r = opsb_require_float(n, in, nin, 1u, e)) < 0)
        return r;
    x = in[0];
    memset(p, 0, sizeof(*p));
    p->ndim = x->ndim;
    if (x->ndim < 1)
        return nn_node_error(e, n, FP_EMODEL, "X must have rank >= 1");
    for (int i = 0; i < x->ndim; i++) {
        p->in[i] = p->out[i] = x->dims[i];
        p->scale[i] = 1.0;
        p->roi_s[i] = 0.0;
        p->roi_e[i] = 1.0;
    }
    if ((r = rs_lookup(n, rs_modes, "mode", "nearest", &v, e)) < 0)
        return r;
    p->mode = v;
    if (legacy) {
        if (p->mode == RS_CUBIC)
            return nn_node_error(e, n, FP_EUNSUPPORTED, "cubic mode needs Resize opset 11+");
        p->ctm = CTM_ASYMMETRIC;
        p->nearest = NR_SIMPLE;
    } else {
        if (!strcmp(nn_attr_str(n, "mode", "nearest"), "bilinear"))
            return nn_node_error(e, n, FP_EMODEL, "mode 'bilinear' is not valid for Resize-%d", n->opset);
        if ((r = rs_lookup(n, rs_ctms, "coordinate_transformation_mode", "half_pixel", &v, e)) < 0)
            return r;
        p->ctm = v;
        if (p->ctm == CTM_TF_HALF_PIXEL_FOR_NN && n->opset >= 13)
            return nn_node_error(e, n, FP_EMODEL, "tf_half_pixel_for_nn was removed in opset 13");
        if (p->ctm == CTM_HALF_PIXEL_SYM && n->opset < 19)
            return nn_node_error(e, n, FP_EMODEL, "half_pixel_symmetric needs opset 19");
        if ((r = rs_lookup(n, rs_nearests, "nearest_mode", "round_prefer_floor", &v, e)) < 0)
            return r;
        p->nearest = v;
    }
    p->cubic_a = nn_attr_float(n, "cubic_coeff_a", -0.75f);
    p->exclude_outside = nn_attr_int(n, "exclude_outside", 0) != 0;
    p->extrap = nn_attr_float(n, "extrapolation_value", 0.0f);
    p->antialias = nn_attr_int(n, "antialias", 0) != 0 && p->mode != RS_NEAREST;

    ax_attr = nn_attr_ints(n, "axes", &nax_attr);
    if (ax_attr) {
        for (int i = 0; i < nax_attr; i++) {
            int a;
            if (nn_norm_axis(ax_attr[i], x->ndim, &a) < 0)
                return nn_node_error(e, n, FP_EMODEL, "axes[%d] = %lld out of range", i, (long long)ax_attr[i]);
            for (int j = 0; j < i; j++)
                if (axes[j] == a)
                    return nn_node_error(e, n, FP_EMODEL, "axes repeats axis %d", a);
            axes[i] = a;
        }
        naxes = nax_attr;
    } else {
        naxes = x->ndim;
        for (int i = 0; i < naxes; i++)
            axes[i] = i;
    }

    if (upsample && n->opset < 9) {
        int cnt;
        const float *sc = nn_attr_floats(n, "scales", &cnt);
        if (!sc || cnt != x->ndim)
            return nn_node_error(e, n, FP_EMODEL, "attribute scales needs %d values", x->ndim);
        for (int i = 0; i < x->ndim; i++)
            p->scale[i] = sc[i];
    } else {
        int si = legacy ? 1 : 2, zi = legacy ? -1 : 3;
        int has_s = rs_present(in, nin, si), has_z = zi > 0 && rs_present(in, nin, zi);
        /* roi only matters to tf_crop_and_resize; other modes ignore it (so a non-constant or half
         * roi never blocks them). */
        if (!legacy && p->ctm == CTM_TF_CROP_AND_RESIZE && rs_present(in, nin, 1)) {
            if (!in[1]->data)
                return nn_node_error(e, n, FP_EUNSUPPORTED, "input roi must be a constant");
            if (nn_tensor_numel(in[1]) != 2 * naxes)
                return nn_node_error(e, n, FP_EMODEL, "roi has %lld values; need %d",
                                     (long long)nn_tensor_numel(in[1]), 2 * naxes);
            for (int i = 0; i < naxes; i++) {
                p->roi_s[axes[i]] = nn_tensor_get_f64(in[1], i);
                p->roi_e[axes[i]] = nn_tensor_get_f64(in[1], naxes + i);
            }
        }
        if (has_s == has_z)
            return nn_node_error(e, n, FP_EMODEL, "exactly one of scales and sizes must be given");
        if (has_s) {
            if (!in[si]->data)
                return nn_node_error(e, n, FP_EUNSUPPORTED, "input scales must be a constant");
            if (nn_tensor_numel(in[si]) != naxes)
                return nn_node_error(e, n, FP_EMODEL, "scales has %lld values; need %d",
                                     (long long)nn_tensor_numel(in[si]), naxes);
            for (int i = 0; i < naxes; i++)
                p->scale[axes[i]] = (float)nn_tensor_get_f64(in[si], i);
        } else {
            const char *pol = nn_attr_str(n, "keep_aspect_ratio_policy", "stretch");
            int stretch = !strcmp(pol, "stretch"), larger = !strcmp(pol, "not_larger");
            double ks = larger ? INFINITY : 0.0;
            if (!in[zi]->data)
                return nn_node_error(e, n, FP_EUNSUPPORTED, "input sizes must be a constant");
            if (nn_tensor_numel(in[zi]) != naxes)
                return nn_node_error(e, n, FP_EMODEL, "sizes has %lld values; need %d",
                                     (long long)nn_tensor_numel(in[zi]), naxes);
            if (!stretch && !larger && strcmp(pol, "not_smaller"))
                return nn_node_error(e, n, FP_EMODEL, "keep_aspect_ratio_policy '%s' is not valid", pol);
            for (int i = 0; i < naxes; i++) {
                int64_t sz = nn_tensor_get_i64(in[zi], i);
                double s;
                if (sz < 1)
                    return nn_node_error(e, n, FP_EMODEL, "sizes[%d] = %lld", i, (long long)sz);
                s = (double)sz / (double)x->dims[axes[i]];
                if (stretch) {
                    p->out[axes[i]] = sz;
                    p->scale[axes[i]] = s;
                } else if (larger ? s < ks : s > ks) {
                    ks = s;
                }
            }
            if (!stretch && !(ks > 0 && ks < 0x1p40))
                return nn_node_error(e, n, FP_EMODEL, "keep_aspect_ratio_policy gives scale %g", ks);
            if (!stretch)
                for (int i = 0; i < naxes; i++) {
                    p->scale[axes[i]] = ks;
                    p->out[axes[i]] = (int64_t)floor(ks * (double)x->dims[axes[i]] + 0.5); /* ONNX: half up */
                }
            return 0;
        }
    }
    for (int i = 0; i < x->ndim; i++) {
        double len = (double)x->dims[i];
        if (!(p->scale[i] > 0))
            return nn_node_error(e, n, FP_EMODEL, "scale %g on axis %d must be > 0", p->scale[i], i);
        if (p->ctm == CTM_TF_CROP_AND_RESIZE)
            len *= p->roi_e[i] - p->roi_s[i];
        if (!(len * p->scale[i] < 0x1p40))
            return nn_node_error(e, n, FP_EMODEL, "axis %d would resize to %g elements", i, len * p->scale[i]);
        p->out[i] = (int64_t)floor(len * p->scale[i]);
        if (p->out[i] < 1 && x->dims[i] > 0)
            return nn_node_error(e, n, FP_EMODEL, "axis %d would resize to 0", i);
    }
    return 0;
}

static int rs_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout, fp_err *e)
{
    rs_params p;
    int r = rs_parse(n, in, nin, &p, e);
    if (r < 0)
        return r;
    out[0]->dtype = NN_DT_FLOAT;
    return nn_tensor_set_shape(out[0], p.ndim, p.out);
}

static double rs_cubic(double x, double a)
{
    x = fabs(x);
    if (x <= 1.0)
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
    if (x < 2.0)
        return ((a * x - 5.0 * a) * x + 8.0 * a) * x - 4.0 * a;
    return 0.0;
}

/* Source coordinate of output index x along an axis, per coordinate_transformation_mode. */
static double rs_coord(const rs_params *p, int ax, int64_t x)
{
    double s = p->scale[ax], lo = (double)p->in[ax], lr = (double)p->out[ax];
    switch (p->ctm) {
    case CTM_HALF_PIXEL:
        return (x + 0.5) / s - 0.5;
    case CTM_HALF_PIXEL_SYM: {
        double adj = lr / (s * lo), center = lo / 2.0, offset = center * (1.0 - adj);
        return offset + (x + 0.5) / s - 0.5;
    }
    case CTM_PYTORCH_HALF_PIXEL:
        return lr > 1 ? (x + 0.5) / s - 0.5 : 0.0;
    case CTM_ALIGN_CORNERS:
        /* The ONNX reference (and its conformance data) divides by scale·length_original, not by
         * the integer output length; the two differ only when that product is fractional. */
        return lr == 1 ? 0.0 : x * (lo - 1.0) / (s * lo - 1.0);
    case CTM_ASYMMETRIC:
        return x / s;
    case CTM_TF_HALF_PIXEL_FOR_NN:
        return (x + 0.5) / s;
    case CTM_TF_CROP_AND_RESIZE:
        return lr > 1 ? p->roi_s[ax] * (lo - 1.0) + x * (p->roi_e[ax] - p->roi_s[ax]) * (lo - 1.0) / (lr - 1.0)
                      : 0.5 * (p->roi_s[ax] + p->roi_e[ax]) * (lo - 1.0);
    }
    return 0.0;
}

/* Taps of one axis: for output x, ntap (index, weight) pairs at [x*ntap]; ext[x] = 1 if the output is
 * the extrapolation value. */
typedef struct rs_axis {
    int ax, ntap;
    int64_t *idx;
    float *w;
    unsigned char *ext;
} rs_axis;

static int rs_axis_ntap(const rs_params *p, int ax)
{
    double ss = p->antialias && p->scale[ax] < 1.0 ? p->scale[ax] : 1.0;
    if (p->mode == RS_NEAREST)
        return 1;
    return 2 - 2 * (int)(floor((p->mode == RS_LINEAR ? -1.0 : -2.0) / ss) + 1.0);
}

static void rs_axis_build(const rs_params *p, rs_axis *a)
{
    int ax = a->ax, nt = a->ntap;
    int64_t len = p->in[ax];
    double ss = p->antialias && p->scale[ax] < 1.0 ? p->scale[ax] : 1.0;
    int start = 1 - nt / 2;

    for (int64_t x = 0; x < p->out[ax]; x++) {
        double c = rs_coord(p, ax, x);
        int64_t *ix = a->idx + x * nt;
        float *w = a->w + x * nt;
        a->ext[x] = 0;
        /* NaN (from a NaN roi) extrapolates; the clamp keeps the float->int casts below defined. */
        if (p->ctm == CTM_TF_CROP_AND_RESIZE && !(c >= 0.0 && c <= (double)(len - 1))) {
            a->ext[x] = 1;
            for (int t = 0; t < nt; t++) {
                ix[t] = 0;
                w[t] = 0.0f;
            }
            continue;
        }
        if (!(c > -1e12 && c < 1e12))
            c = c > 0 ? 1e12 : -1e12;
        if (p->mode == RS_NEAREST) {
            int64_t i;
            double fl = floor(c);
            switch (p->nearest) {
            case NR_ROUND_PREFER_FLOOR:
                i = c - fl == 0.5 ? (int64_t)fl : (int64_t)round(c);
                break;
            case NR_ROUND_PREFER_CEIL:
                i = c - fl == 0.5 ? (int64_t)fl + 1 : (int64_t)round(c);
                break;
            case NR_FLOOR:
                i = (int64_t)fl;
                break;
            case NR_CEIL:
                i = (int64_t)ceil(c);
                break;
            default: /* NR_SIMPLE */
                i = p->scale[ax] < 1.0 ? (int64_t)ceil(c) : (int64_t)c;
                break;
            }
            ix[0] = i < 0 ? 0 : i >= len ? len - 1 : i;
            w[0] = 1.0f;
            continue;
        }
        {
            double xi = ceil(c) - 1.0, ratio = c - xi, wsum = 0.0, wd[nt];
            for (int t = 0; t < nt; t++) {
                double arg = ((double)(start + t) - ratio) * ss;
                int64_t i = (int64_t)xi + start + t;
                wd[t] = p->mode == RS_LINEAR ? fmax(0.0, 1.0 - fabs(arg)) : rs_cubic(arg, p->cubic_a);
                if (p->exclude_outside && (i < 0 || i >= len))
                    wd[t] = 0.0;
                wsum += wd[t];
                ix[t] = i < 0 ? 0 : i >= len ? len - 1 : i;
            }
            for (int t = 0; t < nt; t++)
                w[t] = (float)((p->antialias || p->exclude_outside) && wsum != 0.0 ? wd[t] / wsum : wd[t]);
        }
    }
}

static int rs_axis_identity(const rs_params *p, const rs_axis *a)
{
    if (p->out[a->ax] != p->in[a->ax])
        return 0;
    for (int64_t x = 0; x < p->out[a->ax]; x++) {
        if (a->ext[x])
            return 0;
        for (int t = 0; t < a->ntap; t++) {
            float want = a->idx[x * a->ntap + t] == x ? 1.0f : 0.0f;
            /* a tap at x may appear twice after clamping; require exactly one 1 and zeros elsewhere */
            if (a->w[x * a->ntap + t] != 0.0f && (a->w[x * a->ntap + t] != want))
                return 0;
        }
        {
            float s = 0.0f;
            for (int t = 0; t < a->ntap; t++)
                s += a->idx[x * a->ntap + t] == x ? a->w[x * a->ntap + t] : 0.0f;
            if (s != 1.0f)
                return 0;
        }
    }
    return 1;
}

typedef struct rs_pass {
    const rs_axis *a;
    const float *src;
    float *dst;
    int64_t len_in, len_out, inner;
    float extrap;
} rs_pass;

/* Row r = outer * len_out + x: dst[o, x, :] from src[o, taps, :]. */
static void rs_pass_rows(void *arg, int64_t r0, int64_t r1)
{
    const rs_pass *p = arg;
    const rs_axis *a = p->a;
    for (int64_t r = r0; r < r1; r++) {
        int64_t o = r / p->len_out, x = r % p->len_out;
        float *d = p->dst + r * p->inner;
        const float *s = p->src + o * p->len_in * p->inner;
        if (a->ext[x]) {
            for (int64_t j = 0; j < p->inner; j++)
                d[j] = p->extrap;
            continue;
        }
        if (a->ntap == 1) {
            memcpy(d, s + a->idx[x] * p->inner, sizeof(float) * p->inner);
            continue;
        }
        for (int64_t j = 0; j < p->inner; j++)
            d[j] = 0.0f;
        for (int t = 0; t < a->ntap; t++) {
            float w = a->w[x * a->ntap + t];
            const float *sr = s + a->idx[x * a->ntap + t] * p->inner;
            if (w == 0.0f)
                continue;
            opsb_axpy(d, sr, w, p->inner);
        }
    }
}

/* Pass along the innermost axis (inner == 1): unit o is one whole source row, so the taps are
 * applied per element without per-row call overhead. Same arithmetic and order as rs_pass_rows. */
static void rs_pass_last(void *arg, int64_t o0, int64_t o1)
{
    const rs_pass *p = arg;
    const rs_axis *a = p->a;
    int nt = a->ntap;
    for (int64_t o = o0; o < o1; o++) {
        const float *s = p->src + o * p->len_in;
        float *d = p->dst + o * p->len_out;
        for (int64_t x = 0; x < p->len_out; x++) {
            const int64_t *ix = a->idx + x * nt;
            const float *w = a->w + x * nt;
            float acc = 0.0f;
            if (a->ext[x]) {
                d[x] = p->extrap;
                continue;
            }
            if (nt == 1) {
                d[x] = s[ix[0]];
                continue;
            }
            for (int t = 0; t < nt; t++)
                if (w[t] != 0.0f)
                    acc += w[t] * s[ix[t]];
            d[x] = acc;
        }
    }
}

static int rs_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                  nn_cpu_ctx *ctx, fp_err *e)
{
    rs_params p;
    rs_axis axes[NN_MAX_DIMS];
    int nax = 0, r;
    size_t tap_bytes = 0, buf_elems = 0;
    int64_t cur[NN_MAX_DIMS], total_out;
    unsigned char *mem;
    float *bufs[2];
    const float *src;

    if ((r = rs_parse(n, in, nin, &p, e)) < 0)
        return r;
    total_out = nn_tensor_numel(out[0]);
    if (total_out == 0)
        return 0;
    for (int i = 0; i < p.ndim; i++) {
        axes[i].ax = i;
        axes[i].ntap = rs_axis_ntap(&p, i);
        tap_bytes += (size_t)p.out[i] * ((size_t)axes[i].ntap * (sizeof(int64_t) + sizeof(float)) + 1) + 64;
    }
    /* Intermediate sizes: at most the larger of input and output extents per axis. */
    buf_elems = 1;
    for (int i = 0; i < p.ndim; i++)
        buf_elems *= (size_t)(p.in[i] > p.out[i] ? p.in[i] : p.out[i]);
    mem = nn_cpu_ctx_scratch(ctx, tap_bytes + 2 * buf_elems * sizeof(float) + 128);
    if (!mem)
        return nn_node_error(e, n, FP_ENOMEM, "no scratch for resize buffers");
    bufs[0] = (float *)mem;
    bufs[1] = bufs[0] + buf_elems;
    mem = (unsigned char *)(bufs[1] + buf_elems);
    for (int i = 0; i < p.ndim; i++) {
        rs_axis *a = &axes[i];
        mem = (unsigned char *)(((uintptr_t)mem + 7) & ~(uintptr_t)7);
        a->idx = (int64_t *)mem;
        mem += sizeof(int64_t) * p.out[i] * a->ntap;
        a->w = (float *)mem;
        mem += sizeof(float) * p.out[i] * a->ntap;
        a->ext = mem;
        mem += p.out[i];
        rs_axis_build(&p, a);
        if (!rs_axis_identity(&p, a))
            axes[nax++] = *a;
    }
    memcpy(cur, p.in, sizeof(cur));
    src = in[0]->data;
    if (nax == 0) {
        memcpy(out[0]->data, src, sizeof(float) * (size_t)total_out);
        return 0;
    }
    /* Last axis first: shrinking inner rows early keeps the later passes cheap on downsampling. */
    for (int k = nax - 1, pass = 0; k >= 0; k--, pass++) {
        const rs_axis *a = &axes[k];
        rs_pass ps;
        int64_t outer = 1, inner = 1;
        for (int i = 0; i < a->ax; i++)
            outer *= cur[i];
        for (int i = a->ax + 1; i < p.ndim; i++)
            inner *= cur[i];
        ps.a = a;
        ps.src = src;
        ps.dst = k == 0 ? (float *)out[0]->data : bufs[pass & 1];
        ps.len_in = cur[a->ax];
        ps.len_out = p.out[a->ax];
        ps.inner = inner;
        ps.extrap = p.extrap;
        if (inner == 1)
            nn_cpu_parallel_for(ctx, outer, rs_pass_last, &ps);
        else
            nn_cpu_parallel_for(ctx, outer * ps.len_out, rs_pass_rows, &ps);
        cur[a->ax] = p.out[a->ax];
        src = ps.dst;
    }
    return 0;
}

const nn_op_def nn_op_resize = {
    .op_type = "Resize",
    .domain = "",
    .min_opset = 10,
    .infer = rs_infer,
    .cpu = rs_cpu,
    .value_inputs = (1u << 1) | (1u << 2) | (1u << 3),
};

const nn_op_def nn_op_upsample = {
    .op_type = "Upsample",
    .domain = "",
    .min_opset = 7,
    .infer = rs_infer,
    .cpu = rs_cpu,
    .value_inputs = 1u << 1,
};
