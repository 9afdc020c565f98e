/*
 * conv_transpose — ONNX ConvTranspose (opsets 1–22): 1-D, 2-D and 3-D transposed convolution with
 * groups, strides, dilations, pads, output_padding, output_shape and auto_pad; optional bias.
 *
 * Strategy: per (batch, group) one sgemm Wᵀ·X gives the column matrix [M/g·K, in] in scratch (in
 * bands of input rows, opsb_band_rows()), then a col2im scatter-add into the output,
 * parallel over output channels (each channel plane has one writer and a fixed accumulation order,
 * so the result is thread-count independent). Negative effective pads (an output_shape larger than
 * the natural one) are allowed: the extra positions get only the bias. Owns its output-shape rules; the forward geometry lives in ops_b_util.c.
 */
#include "nn/nn_op.h"
#include "nn/ops/ops_b_util.h"

#include <string.h>

typedef struct convt_geom {
    int nsp;
    int64_t in[OPSB_MAX_SP], k[OPSB_MAX_SP], s[OPSB_MAX_SP], d[OPSB_MAX_SP], pb[OPSB_MAX_SP],
        out[OPSB_MAX_SP];
    int64_t group;
} convt_geom;

static int convt_geometry(const nn_node *n, nn_tensor *const *in, int nin, convt_geom *gm, fp_err *e)
{
    const nn_tensor *x, *wt;
    const int64_t *ks, *st, *dl, *pd, *op, *os;
    int nks, nst, ndl, npd, nop, nos, nsp, off, r;
    const char *ap;

    if ((r = opsb_require_inputs(n, in, nin, 2, e)) < 0 || (r = opsb_require_float(n, in, nin, 7u, e)) < 0)
        return r;
    x = in[0];
    wt = in[1];
    nsp = x->ndim - 2;
    if (nsp < 1 || nsp > OPSB_MAX_SP || wt->ndim != x->ndim)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "X rank %d, W rank %d: 1 to 3 spatial dims supported",
                             x->ndim, wt->ndim);
    memset(gm, 0, sizeof(*gm));
    gm->nsp = nsp;
    off = OPSB_MAX_SP - nsp;
    for (int i = 0; i < OPSB_MAX_SP; i++)
        gm->in[i] = gm->k[i] = gm->s[i] = gm->d[i] = gm->out[i] = 1;
    gm->group = nn_attr_int(n, "group", 1);
    if (gm->group < 1 || x->dims[1] != wt->dims[0] || x->dims[1] % gm->group)
        return nn_node_error(e, n, FP_EMODEL, "group %lld does not fit X channels %lld and W [%lld,...]",
                             (long long)gm->group, (long long)x->dims[1], (long long)wt->dims[0]);
    if (nin > 2 && in[2] && nn_tensor_numel(in[2]) != wt->dims[1] * gm->group)
        return nn_node_error(e, n, FP_EMODEL, "bias has %lld values for %lld output channels",
                             (long long)nn_tensor_numel(in[2]), (long long)(wt->dims[1] * gm->group));
    ks = nn_attr_ints(n, "kernel_shape", &nks);
    st = nn_attr_ints(n, "strides", &nst);
    dl = nn_attr_ints(n, "dilations", &ndl);
    pd = nn_attr_ints(n, "pads", &npd);
    op = nn_attr_ints(n, "output_padding", &nop);
    os = nn_attr_ints(n, "output_shape", &nos);
    if ((ks && nks != nsp) || (st && nst != nsp) || (dl && ndl != nsp) || (pd && npd != 2 * nsp) ||
        (op && nop != nsp) || (os && nos != nsp && nos != nsp + 2))
        return nn_node_error(e, n, FP_EMODEL, "an attribute's length does not match %d spatial dims", nsp);
    if (os && nos == nsp + 2)
        os += 2; /* some exporters give the full output shape */
    ap = nn_attr_str(n, "auto_pad", "NOTSET");
    if (strcmp(ap, "NOTSET") && strcmp(ap, "VALID") && strcmp(ap, "SAME_UPPER") && strcmp(ap, "SAME_LOWER"))
        return nn_node_error(e, n, FP_EMODEL, "unknown auto_pad '%s'", ap);

    for (int i = 0; i < nsp; i++) {
        int j = off + i;
        int64_t ek, opad, total;
        gm->in[j] = x->dims[2 + i];
        gm->k[j] = wt->dims[2 + i];
        if (ks && ks[i] != gm->k[j])
            return nn_node_error(e, n, FP_EMODEL, "kernel_shape disagrees with W's shape");
        gm->s[j] = st ? st[i] : 1;
        gm->d[j] = dl ? dl[i] : 1;
        opad = op ? op[i] : 0;
        if (gm->s[j] < 1 || gm->d[j] < 1 || opad < 0)
            return nn_node_error(e, n, FP_EMODEL, "strides and dilations must be >= 1, output_padding >= 0");
        ek = (gm->k[j] - 1) * gm->d[j] + 1;
        if (os || !strncmp(ap, "SAME", 4)) {
            int64_t target = os ? os[i] : gm->in[j] * gm->s[j];
            total = gm->s[j] * (gm->in[j] - 1) + opad + ek - target;
            /* ONNX spec: SAME_UPPER puts the odd padding at the end, everything else at the start. */
            if (!strcmp(ap, "SAME_UPPER"))
                gm->pb[j] = total >= 0 ? total / 2 : -((-total + 1) / 2);
            else
                gm->pb[j] = total - (total >= 0 ? total / 2 : -((-total + 1) / 2));
            gm->out[j] = target;
        } else {
            int64_t pb = 0, pe = 0;
            if (pd && strcmp(ap, "VALID")) {
                pb = pd[i];
                pe = pd[i + nsp];
            }
            gm->pb[j] = pb;
            gm->out[j] = gm->s[j] * (gm->in[j] - 1) + opad + ek - pb - pe;
        }
        if (gm->out[j] < 1)
            return nn_node_error(e, n, FP_EMODEL, "output spatial dim %d would be empty", i);
    }
    return 0;
}

static int convt_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout, fp_err *e)
{
    convt_geom gm;
    int64_t dims[NN_MAX_DIMS];
    int r = convt_geometry(n, in, nin, &gm, e);
    if (r < 0)
        return r;
    dims[0] = in[0]->dims[0];
    dims[1] = in[1]->dims[1] * gm.group;
    for (int i = 0; i < gm.nsp; i++)
        dims[2 + i] = gm.out[OPSB_MAX_SP - gm.nsp + i];
    out[0]->dtype = NN_DT_FLOAT;
    return nn_tensor_set_shape(out[0], in[0]->ndim, dims);
}

typedef struct col2im_args {
    const convt_geom *gm;
    const float *col;   /* [mg*K, (row1-row0)*in[2]]: columns of input rows [row0, row1) */
    float *y;           /* first output plane of this (batch, group) */
    const float *bias;  /* bias of this group, or NULL */
    int64_t ksize, os, row0, row1;
} col2im_args;

/* Scatter-add the band's columns into output channels [m0, m1); the first band also writes the
 * bias. Input rows are (iz, iy) pairs of in[2] columns. */
static void col2im_chans(void *arg, int64_t m0, int64_t m1)
{
    const col2im_args *a = arg;
    const convt_geom *g = a->gm;
    int64_t ncols = (a->row1 - a->row0) * g->in[2];

    for (int64_t m = m0; m < m1; m++) {
        float *ym = a->y + m * a->os;
        if (a->row0 == 0) {
            float b = a->bias ? a->bias[m] : 0.0f;
            for (int64_t i = 0; i < a->os; i++)
                ym[i] = b;
        }
        for (int64_t kk = 0; kk < a->ksize; kk++) {
            int64_t kz = kk / (g->k[1] * g->k[2]), ky = (kk / g->k[2]) % g->k[1], kx = kk % g->k[2];
            const float *src = a->col + (m * a->ksize + kk) * ncols;
            for (int64_t irow = a->row0; irow < a->row1; irow++, src += g->in[2]) {
                int64_t iz = irow / g->in[1], iy = irow % g->in[1];
                int64_t oz = iz * g->s[0] - g->pb[0] + kz * g->d[0];
                int64_t oy = iy * g->s[1] - g->pb[1] + ky * g->d[1];
                float *yrow;
                if (oz < 0 || oz >= g->out[0] || oy < 0 || oy >= g->out[1])
                    continue;
                yrow = ym + (oz * g->out[1] + oy) * g->out[2];
                for (int64_t ix = 0; ix < g->in[2]; ix++) {
                    int64_t ox = ix * g->s[2] - g->pb[2] + kx * g->d[2];
                    if (ox >= 0 && ox < g->out[2])
                        yrow[ox] += src[ix];
                }
            }
        }
    }
}

static int convt_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                     nn_cpu_ctx *ctx, fp_err *e)
{
    convt_geom gm;
    int64_t batch, cin, cg, mg, ksize, is, os, irows, band;
    const float *x, *wt, *bias;
    float *y, *col;
    col2im_args a;
    int r;

    if ((r = convt_geometry(n, in, nin, &gm, e)) < 0)
        return r;
    x = in[0]->data;
    wt = in[1]->data;
    bias = nin > 2 && in[2] ? in[2]->data : NULL;
    y = out[0]->data;
    batch = in[0]->dims[0];
    cin = in[0]->dims[1];
    cg = cin / gm.group;
    mg = in[1]->dims[1];
    ksize = gm.k[0] * gm.k[1] * gm.k[2];
    is = gm.in[0] * gm.in[1] * gm.in[2];
    os = gm.out[0] * gm.out[1] * gm.out[2];
    /* Bands of input rows keep the column matrix cache-sized (opsb_band_rows). */
    irows = gm.in[0] * gm.in[1];
    band = opsb_band_rows(irows, gm.in[2], mg * ksize);
    col = nn_cpu_ctx_scratch(ctx, sizeof(float) * (size_t)(mg * ksize * band * gm.in[2]));
    if (!col)
        return nn_node_error(e, n, FP_ENOMEM, "no scratch for a %lld x %lld column matrix",
                             (long long)(mg * ksize), (long long)(band * gm.in[2]));
    a.gm = &gm;
    a.col = col;
    a.ksize = ksize;
    a.os = os;
    for (int64_t b = 0; b < batch; b++)
        for (int64_t gi = 0; gi < gm.group; gi++) {
            const float *xg = x + (b * cin + gi * cg) * is;
            const float *wg = wt + gi * cg * mg * ksize;
            a.y = y + (b * mg * gm.group + gi * mg) * os;
            a.bias = bias ? bias + gi * mg : NULL;
            for (int64_t r0 = 0; r0 < irows; r0 += band) {
                int64_t r1 = r0 + band < irows ? r0 + band : irows, nc = (r1 - r0) * gm.in[2];
                opsb_sgemm(ctx, 1, 0, mg * ksize, nc, cg, 1.0f, wg, mg * ksize, xg + r0 * gm.in[2], is, 0.0f, col, nc);
                a.row0 = r0;
                a.row1 = r1;
                nn_cpu_parallel_for(ctx, mg, col2im_chans, &a);
            }
        }
    return 0;
}

const nn_op_def nn_op_conv_transpose = {
    .op_type = "ConvTranspose",
    .domain = "",
    .min_opset = 1,
    .infer = convt_infer,
    .cpu = convt_cpu,
};
