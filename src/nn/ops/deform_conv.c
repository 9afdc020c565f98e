/*
 * deform_conv — ONNX DeformConv (opset 19): 2-D deformable convolution with groups, offset groups,
 * optional mask (modulated, "DCNv2") and optional bias, matching torchvision.ops.deform_conv2d
 * (BasicVSR++ exports 16 offset groups with 3×3 kernels).
 *
 * Sampling follows torchvision's bilinear_interpolate: a sample point at or beyond one pixel outside
 * the image (h <= -1, h >= H, w <= -1, w >= W) is 0; otherwise each of the four corners contributes
 * only if it lies inside the image (zero padding). Offsets are laid out [N, og·kH·kW·2, oH, oW] with
 * (dy, dx) pairs per kernel tap; the mask [N, og·kH·kW, oH, oW] multiplies each sample.
 *
 * Strategy: per (batch, group) a deformable im2col [C/g·K, oH·oW] in scratch (rows in parallel, each
 * row written by one thread), then one sgemm with the group's weights; in bands of output pixels
 * (opsb_band_rows). Owns nothing else; 1-D/3-D deformable convolution is reported unsupported.
 */
#include "nn/nn_op.h"
#include "nn/ops/ops_b_util.h"

#include <math.h>
#include <string.h>

typedef struct dcn_geom {
    int64_t n, c, h, w, oc, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow, group, ogroup;
} dcn_geom;

static int dcn_geometry(const nn_node *n, nn_tensor *const *in, int nin, dcn_geom *g, fp_err *e)
{
    const nn_tensor *x, *wt, *off;
    const int64_t *ks, *st, *dl, *pd;
    int nks, nst, ndl, npd, r;

    if ((r = opsb_require_inputs(n, in, nin, 3, e)) < 0 || (r = opsb_require_float(n, in, nin, 31u, e)) < 0)
        return r;
    x = in[0];
    wt = in[1];
    off = in[2];
    if (x->ndim != 4 || wt->ndim != 4 || off->ndim != 4)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "only 2-D DeformConv is supported (X rank %d)", x->ndim);
    memset(g, 0, sizeof(*g));
    g->n = x->dims[0];
    g->c = x->dims[1];
    g->h = x->dims[2];
    g->w = x->dims[3];
    g->oc = wt->dims[0];
    g->kh = wt->dims[2];
    g->kw = wt->dims[3];
    ks = nn_attr_ints(n, "kernel_shape", &nks);
    st = nn_attr_ints(n, "strides", &nst);
    dl = nn_attr_ints(n, "dilations", &ndl);
    pd = nn_attr_ints(n, "pads", &npd);
    if ((ks && nks != 2) || (st && nst != 2) || (dl && ndl != 2) || (pd && npd != 4))
        return nn_node_error(e, n, FP_EMODEL, "an attribute's length does not match 2 spatial dims");
    if (ks && (ks[0] != g->kh || ks[1] != g->kw))
        return nn_node_error(e, n, FP_EMODEL, "kernel_shape disagrees with W's shape");
    g->sh = st ? st[0] : 1;
    g->sw = st ? st[1] : 1;
    g->dh = dl ? dl[0] : 1;
    g->dw = dl ? dl[1] : 1;
    g->ph = pd ? pd[0] : 0;
    g->pw = pd ? pd[1] : 0;
    if (g->sh < 1 || g->sw < 1 || g->dh < 1 || g->dw < 1 || g->kh < 1 || g->kw < 1)
        return nn_node_error(e, n, FP_EMODEL, "kernel, strides and dilations must be >= 1");
    g->oh = (g->h + g->ph + (pd ? pd[2] : 0) - ((g->kh - 1) * g->dh + 1)) / g->sh + 1;
    g->ow = (g->w + g->pw + (pd ? pd[3] : 0) - ((g->kw - 1) * g->dw + 1)) / g->sw + 1;
    if (g->oh < 1 || g->ow < 1)
        return nn_node_error(e, n, FP_EMODEL, "output would be empty");
    g->group = nn_attr_int(n, "group", 1);
    g->ogroup = nn_attr_int(n, "offset_group", 1);
    if (g->group < 1 || g->c % g->group || g->oc % g->group || wt->dims[1] * g->group != g->c)
        return nn_node_error(e, n, FP_EMODEL, "group %lld does not fit X channels %lld and W [%lld,%lld,...]",
                             (long long)g->group, (long long)g->c, (long long)g->oc, (long long)wt->dims[1]);
    if (g->ogroup < 1 || g->c % g->ogroup)
        return nn_node_error(e, n, FP_EMODEL, "offset_group %lld does not divide %lld channels",
                             (long long)g->ogroup, (long long)g->c);
    if (off->dims[0] != g->n || off->dims[1] != g->ogroup * g->kh * g->kw * 2 || off->dims[2] != g->oh ||
        off->dims[3] != g->ow)
        return nn_node_error(e, n, FP_EMODEL, "offset shape must be [%lld,%lld,%lld,%lld]", (long long)g->n,
                             (long long)(g->ogroup * g->kh * g->kw * 2), (long long)g->oh, (long long)g->ow);
    if (nin > 3 && in[3] && nn_tensor_numel(in[3]) != g->oc)
        return nn_node_error(e, n, FP_EMODEL, "bias has %lld values for %lld output channels",
                             (long long)nn_tensor_numel(in[3]), (long long)g->oc);
    if (nin > 4 && in[4]) {
        const nn_tensor *m = in[4];
        if (m->ndim != 4 || m->dims[0] != g->n || m->dims[1] != g->ogroup * g->kh * g->kw ||
            m->dims[2] != g->oh || m->dims[3] != g->ow)
            return nn_node_error(e, n, FP_EMODEL, "mask shape must be [%lld,%lld,%lld,%lld]", (long long)g->n,
                                 (long long)(g->ogroup * g->kh * g->kw), (long long)g->oh, (long long)g->ow);
    }
    return 0;
}

static int dcn_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout, fp_err *e)
{
    dcn_geom g;
    int r = dcn_geometry(n, in, nin, &g, e);
    if (r < 0)
        return r;
    out[0]->dtype = NN_DT_FLOAT;
    return nn_tensor_set_shape(out[0], 4, (int64_t[]){ g.n, g.oc, g.oh, g.ow });
}

typedef struct dcn_args {
    const dcn_geom *g;
    const float *x;      /* batch item's input, all channels */
    const float *off;    /* batch item's offsets */
    const float *mask;   /* batch item's mask or NULL */
    float *col;          /* [cg*K, pix1 - pix0] */
    int64_t c0;          /* first channel of the group */
    int64_t pix0, pix1;  /* output pixels covered by col */
} dcn_args;

/* torchvision's bilinear_interpolate, reorganised: the four corner indices and weights of a sample
 * point depend only on (offset group, tap, pixel), so they are computed once and reused for every
 * channel of the offset group. A corner outside the image gets weight 0 (and a safe index), which is
 * torchvision's "v = 0" for that corner; the sum keeps its order w1·v1 + w2·v2 + w3·v3 + w4·v4. */
static void dcn_coeffs(int64_t h, int64_t w, float y, float x, int64_t *idx, float *wt)
{
    int64_t y0, x0, y1, x1;
    float ly, lx, hy, hx;
    int ok0y, ok1y, ok0x, ok1x;

    /* Written so NaN offsets count as outside (0) instead of reaching an undefined float->int cast. */
    if (!(y > -1.0f && y < (float)h && x > -1.0f && x < (float)w)) {
        for (int i = 0; i < 4; i++) {
            idx[i] = 0;
            wt[i] = 0.0f;
        }
        return;
    }
    y0 = (int64_t)floorf(y);
    x0 = (int64_t)floorf(x);
    y1 = y0 + 1;
    x1 = x0 + 1;
    ly = y - (float)y0;
    lx = x - (float)x0;
    hy = 1.0f - ly;
    hx = 1.0f - lx;
    ok0y = y0 >= 0;
    ok1y = y1 <= h - 1;
    ok0x = x0 >= 0;
    ok1x = x1 <= w - 1;
    idx[0] = ok0y && ok0x ? y0 * w + x0 : 0;
    idx[1] = ok0y && ok1x ? y0 * w + x1 : 0;
    idx[2] = ok1y && ok0x ? y1 * w + x0 : 0;
    idx[3] = ok1y && ok1x ? y1 * w + x1 : 0;
    wt[0] = ok0y && ok0x ? hy * hx : 0.0f;
    wt[1] = ok0y && ok1x ? hy * lx : 0.0f;
    wt[2] = ok1y && ok0x ? ly * hx : 0.0f;
    wt[3] = ok1y && ok1x ? ly * lx : 0.0f;
}

/* Task t = (offset group within the conv group's channel range, kernel tap): fills the im2col rows
 * (c, tap) of every channel c of that offset group inside [c0, c0 + cg). Rows of different tasks are
 * disjoint, so each row has one writer. */
static void dcn_im2col_tasks(void *arg, int64_t t0, int64_t t1)
{
    const dcn_args *a = arg;
    const dcn_geom *g = a->g;
    int64_t ksize = g->kh * g->kw, cg = g->c / g->group, cpo = g->c / g->ogroup, osz = g->oh * g->ow;
    int64_t og_first = a->c0 / cpo;

    for (int64_t t = t0; t < t1; t++) {
        int64_t og = og_first + t / ksize, kk = t % ksize, ki = kk / g->kw, kj = kk % g->kw;
        int64_t cb = og * cpo > a->c0 ? og * cpo : a->c0;
        int64_t ce = (og + 1) * cpo < a->c0 + cg ? (og + 1) * cpo : a->c0 + cg;
        const float *offy = a->off + ((og * ksize + kk) * 2) * osz;
        const float *offx = offy + osz;
        const float *msk = a->mask ? a->mask + (og * ksize + kk) * osz : NULL;
        int64_t ncols = a->pix1 - a->pix0;
        for (int64_t p = a->pix0; p < a->pix1; p++) {
            int64_t oy = p / g->ow, ox = p % g->ow, idx[4];
            float y = (float)(oy * g->sh - g->ph + ki * g->dh) + offy[p];
            float x = (float)(ox * g->sw - g->pw + kj * g->dw) + offx[p];
            float wt[4];
            dcn_coeffs(g->h, g->w, y, x, idx, wt);
            for (int64_t c = cb; c < ce; c++) {
                const float *img = a->x + c * g->h * g->w;
                float v = wt[0] * img[idx[0]] + wt[1] * img[idx[1]] + wt[2] * img[idx[2]] + wt[3] * img[idx[3]];
                a->col[((c - a->c0) * ksize + kk) * ncols + p - a->pix0] = msk ? v * msk[p] : v;
            }
        }
    }
}

static int dcn_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                   nn_cpu_ctx *ctx, fp_err *e)
{
    dcn_geom g;
    int64_t cg, mg, ksize, osz, band, cpo;
    const float *bias, *mask;
    float *col, *y;
    dcn_args a;
    int r;

    if ((r = dcn_geometry(n, in, nin, &g, e)) < 0)
        return r;
    cg = g.c / g.group;
    mg = g.oc / g.group;
    ksize = g.kh * g.kw;
    osz = g.oh * g.ow;
    bias = nin > 3 && in[3] ? in[3]->data : NULL;
    mask = nin > 4 && in[4] ? in[4]->data : NULL;
    y = out[0]->data;
    /* Bands of output pixels keep the column matrix cache-sized (opsb_band_rows). */
    band = opsb_band_rows(osz, 1, cg * ksize);
    col = nn_cpu_ctx_scratch(ctx, sizeof(float) * (size_t)(cg * ksize * band));
    if (!col)
        return nn_node_error(e, n, FP_ENOMEM, "no scratch for a %lld x %lld im2col matrix",
                             (long long)(cg * ksize), (long long)band);
    a.g = &g;
    a.col = col;
    cpo = g.c / g.ogroup;
    for (int64_t b = 0; b < g.n; b++) {
        a.x = (const float *)in[0]->data + b * g.c * g.h * g.w;
        a.off = (const float *)in[2]->data + b * g.ogroup * ksize * 2 * osz;
        a.mask = mask ? mask + b * g.ogroup * ksize * osz : NULL;
        for (int64_t gi = 0; gi < g.group; gi++) {
            float *yg = y + (b * g.oc + gi * mg) * osz;
            int64_t ntasks = ((gi * cg + cg - 1) / cpo - gi * cg / cpo + 1) * ksize;
            a.c0 = gi * cg;
            for (int64_t p0 = 0; p0 < osz; p0 += band) {
                int64_t p1 = p0 + band < osz ? p0 + band : osz;
                a.pix0 = p0;
                a.pix1 = p1;
                nn_cpu_parallel_for(ctx, ntasks, dcn_im2col_tasks, &a);
                opsb_sgemm(ctx, 0, 0, mg, p1 - p0, cg * ksize, 1.0f, (const float *)in[1]->data + gi * mg * cg * ksize,
                           cg * ksize, col, p1 - p0, 0.0f, yg + p0, osz);
            }
            if (bias)
                for (int64_t m = 0; m < mg; m++)
                    for (int64_t i = 0; i < osz; i++)
                        yg[m * osz + i] += bias[gi * mg + m];
        }
    }
    return 0;
}

const nn_op_def nn_op_deform_conv = {
    .op_type = "DeformConv",
    .domain = "",
    .min_opset = 19,
    .infer = dcn_infer,
    .cpu = dcn_cpu,
};
