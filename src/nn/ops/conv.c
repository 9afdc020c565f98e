/*
 * conv — ONNX Conv (opsets 1–22 share these semantics): 1-D, 2-D and 3-D convolution with groups,
 * dilations, strides, explicit pads and auto_pad, optional bias. float32 on the CPU.
 *
 * Strategy: per (batch, group) an im2col matrix [C/g·K, out] built in scratch (rows in parallel),
 * then one OpenBLAS sgemm, in bands of output rows sized by opsb_band_rows(); a 1×1, stride-1,
 * unpadded conv skips im2col (the input is the matrix), and depthwise convs (one input and one
 * output channel per group) run a direct loop over channel planes in parallel. Every output element is written by exactly one thread with a fixed summation order,
 * so results do not depend on the thread count. Does not own ConvTranspose or DeformConv.
 */
#include "nn/nn_op.h"
#include "nn/ops/ops_b_util.h"

#include <string.h>

typedef struct conv_args {
    const opsb_window *w;
    const float *x;      /* input of the current (batch, group): cg channel planes */
    float *col;          /* [cg*K, (row1-row0)*out[2]] */
    int64_t row0, row1;  /* output rows (oz, oy) covered by col */
    int64_t ksize;       /* K: kernel taps per channel */
    int64_t os;          /* OS: output spatial size */
    /* depthwise */
    const float *wt, *bias;
    float *y;
    int64_t chans;       /* channels per batch item (depthwise) */
} conv_args;

/* im2col of output rows [row0, row1) (a row = one (oz, oy), out[2] columns) into col, whose rows are
 * (channel, tap) and hold (row1 - row0)·out[2] columns. */
static void im2col_rows(void *arg, int64_t r0, int64_t r1)
{
    const conv_args *a = arg;
    const opsb_window *w = a->w;
    int64_t in_plane = w->in[0] * w->in[1] * w->in[2], ncols = (a->row1 - a->row0) * w->out[2];

    for (int64_t r = r0; r < r1; r++) {
        int64_t c = r / a->ksize, kk = r % a->ksize;
        int64_t kz = kk / (w->k[1] * w->k[2]), ky = (kk / w->k[2]) % w->k[1], kx = kk % w->k[2];
        const float *xc = a->x + c * in_plane;
        float *dst = a->col + r * ncols;
        int64_t ix0 = kx * w->d[2] - w->pb[2], lo, hi;

        opsb_row_range(ix0, w->s[2], w->in[2], w->out[2], &lo, &hi);
        for (int64_t orow = a->row0; orow < a->row1; orow++, dst += w->out[2]) {
            int64_t oz = orow / w->out[1], oy = orow % w->out[1];
            int64_t iz = oz * w->s[0] - w->pb[0] + kz * w->d[0];
            int64_t iy = oy * w->s[1] - w->pb[1] + ky * w->d[1];
            const float *src;
            if (iz < 0 || iz >= w->in[0] || iy < 0 || iy >= w->in[1]) {
                memset(dst, 0, sizeof(float) * w->out[2]);
                continue;
            }
            src = xc + (iz * w->in[1] + iy) * w->in[2];
            for (int64_t ox = 0; ox < lo; ox++)
                dst[ox] = 0.0f;
            if (w->s[2] == 1)
                memcpy(dst + lo, src + ix0 + lo, sizeof(float) * (size_t)(hi - lo));
            else
                for (int64_t ox = lo; ox < hi; ox++)
                    dst[ox] = src[ix0 + ox * w->s[2]];
            for (int64_t ox = hi; ox < w->out[2]; ox++)
                dst[ox] = 0.0f;
        }
    }
}

/* Kernels with more taps than this take the scalar depthwise path (weights are pre-broadcast into
 * a stack array of this many vectors). */
#define DW_MAX_TAPS 64

/* Sum over the kernel taps of output (oz, oy, ox) for one channel, skipping taps outside the input;
 * taps in kz, ky, kx order. */
static float depthwise_point(const opsb_window *w, const float *xc, const float *wc, int64_t oz, int64_t oy,
                             int64_t ox)
{
    float acc = 0.0f;
    for (int64_t kz = 0; kz < w->k[0]; kz++) {
        int64_t iz = oz * w->s[0] - w->pb[0] + kz * w->d[0];
        if (iz < 0 || iz >= w->in[0])
            continue;
        for (int64_t ky = 0; ky < w->k[1]; ky++) {
            int64_t iy = oy * w->s[1] - w->pb[1] + ky * w->d[1];
            const float *row = xc + (iz * w->in[1] + iy) * w->in[2], *wr = wc + (kz * w->k[1] + ky) * w->k[2];
            if (iy < 0 || iy >= w->in[1])
                continue;
            for (int64_t kx = 0; kx < w->k[2]; kx++) {
                int64_t ix = ox * w->s[2] - w->pb[2] + kx * w->d[2];
                if (ix >= 0 && ix < w->in[2])
                    acc += wr[kx] * row[ix];
            }
        }
    }
    return acc;
}

/* One output column from the row list of depthwise_planes: same taps, same order as depthwise_point. */
static float depthwise_col(const opsb_window *w, const float *const *rows, const float *const *wsc, int nrows,
                           int64_t ox)
{
    float acc = 0.0f;
    int64_t x0 = ox * w->s[2];
    for (int r = 0; r < nrows; r++)
        for (int64_t kx = 0; kx < w->k[2]; kx++) {
            int64_t ix = x0 + kx * w->d[2]; /* in the pad-shifted row: valid when in [pb, pb + in) */
            if (ix >= w->pb[2] && ix < w->pb[2] + w->in[2])
                acc += wsc[r][kx] * rows[r][ix];
        }
    return acc;
}

/* The interior loop below for the common kx = 3, dilation 1 case, unrolled; same additions in the
 * same order. Returns the first column it did not do. */
static int64_t depthwise_row_k3(float *yr, const float *const *rows, const opsb_v4f *const *wrow, int nrows,
                                float b, int64_t ox, int64_t ihi)
{
    opsb_v4f vb = { b, b, b, b };
    for (; ox + 4 <= ihi; ox += 4) {
        opsb_v4f acc = { 0.0f, 0.0f, 0.0f, 0.0f };
        for (int r = 0; r < nrows; r++) {
            const float *src = rows[r] + ox;
            opsb_v4f v0, v1, v2;
            memcpy(&v0, src, sizeof(v0));
            memcpy(&v1, src + 1, sizeof(v1));
            memcpy(&v2, src + 2, sizeof(v2));
            acc += wrow[r][0] * v0;
            acc += wrow[r][1] * v1;
            acc += wrow[r][2] * v2;
        }
        acc += vb;
        memcpy(yr + ox, &acc, sizeof(acc));
    }
    return ox;
}

/* Depthwise: plane p = n*C + c; weight [C, 1, K], one output plane per input plane. Each output sums
 * its taps in kz, ky, kx order into a register. Columns whose taps are all inside the row (the
 * interior) take four outputs at a time with vector types when the stride is 1; the same additions
 * in the same order as depthwise_point, so the split does not change any result. */
static void depthwise_planes(void *arg, int64_t p0, int64_t p1)
{
    const conv_args *a = arg;
    const opsb_window *w = a->w;
    int64_t in_plane = w->in[0] * w->in[1] * w->in[2];
    int64_t ilo = 0, ihi = w->out[2];
    int vec;

    /* Interior columns: every kx tap lands inside [0, in[2]). */
    for (int64_t kx = 0; kx < w->k[2]; kx++) {
        int64_t lo, hi;
        opsb_row_range(kx * w->d[2] - w->pb[2], w->s[2], w->in[2], w->out[2], &lo, &hi);
        ilo = lo > ilo ? lo : ilo;
        ihi = hi < ihi ? hi : ihi;
    }
    if (ihi < ilo || a->ksize > DW_MAX_TAPS)
        ilo = ihi = 0;
    vec = w->s[2] == 1;

    for (int64_t p = p0; p < p1; p++) {
        int64_t c = p % a->chans;
        const float *xc = a->x + p * in_plane, *wc = a->wt + c * a->ksize;
        float *yc = a->y + p * a->os;
        float b = a->bias ? a->bias[c] : 0.0f;
        opsb_v4f wv[DW_MAX_TAPS];
        if (vec && ihi > ilo && a->ksize <= DW_MAX_TAPS)
            for (int64_t k = 0; k < a->ksize; k++)
                wv[k] = (opsb_v4f){ wc[k], wc[k], wc[k], wc[k] };
        for (int64_t oz = 0; oz < w->out[0]; oz++)
            for (int64_t oy = 0; oy < w->out[1]; oy++) {
                float *yr = yc + (oz * w->out[1] + oy) * w->out[2];
                const float *rows[DW_MAX_TAPS], *wsc[DW_MAX_TAPS];
                const opsb_v4f *wrow[DW_MAX_TAPS];
                int nrows = 0;
                int64_t ox = 0;
                if (a->ksize > DW_MAX_TAPS) {
                    for (; ox < w->out[2]; ox++)
                        yr[ox] = depthwise_point(w, xc, wc, oz, oy, ox) + b;
                    continue;
                }
                /* The (kz, ky) rows inside the input, in order, for this output row; rows[r] is
                 * shifted by the left pad so column ox reads rows[r][ox·s + kx·d]. */
                for (int64_t kz = 0; kz < w->k[0]; kz++) {
                    int64_t iz = oz * w->s[0] - w->pb[0] + kz * w->d[0];
                    if (iz < 0 || iz >= w->in[0])
                        continue;
                    for (int64_t ky = 0; ky < w->k[1]; ky++) {
                        int64_t iy = oy * w->s[1] - w->pb[1] + ky * w->d[1];
                        if (iy < 0 || iy >= w->in[1])
                            continue;
                        rows[nrows] = xc + (iz * w->in[1] + iy) * w->in[2] - w->pb[2];
                        wsc[nrows] = wc + (kz * w->k[1] + ky) * w->k[2];
                        wrow[nrows++] = wv + (kz * w->k[1] + ky) * w->k[2];
                    }
                }
                for (; ox < ilo; ox++)
                    yr[ox] = depthwise_col(w, rows, wsc, nrows, ox) + b;
                if (!vec) {
                    /* Strided interior: every tap is inside the row, no checks. */
                    for (; ox < ihi; ox++) {
                        float acc = 0.0f;
                        for (int r = 0; r < nrows; r++) {
                            const float *src = rows[r] + ox * w->s[2];
                            for (int64_t kx = 0; kx < w->k[2]; kx++)
                                acc += wsc[r][kx] * src[kx * w->d[2]];
                        }
                        yr[ox] = acc + b;
                    }
                }
                if (vec && w->k[2] == 3 && w->d[2] == 1)
                    ox = depthwise_row_k3(yr, rows, wrow, nrows, b, ox, ihi);
                for (; vec && ox + 4 <= ihi; ox += 4) {
                    opsb_v4f acc = { 0.0f, 0.0f, 0.0f, 0.0f }, vb = { b, b, b, b };
                    for (int r = 0; r < nrows; r++) {
                        const float *src = rows[r] + ox;
                        for (int64_t kx = 0; kx < w->k[2]; kx++) {
                            opsb_v4f vx;
                            memcpy(&vx, src + kx * w->d[2], sizeof(vx));
                            acc += wrow[r][kx] * vx;
                        }
                    }
                    acc += vb;
                    memcpy(yr + ox, &acc, sizeof(acc));
                }
                for (; ox < w->out[2]; ox++)
                    yr[ox] = depthwise_col(w, rows, wsc, nrows, ox) + b;
            }
    }
}

static int conv_geometry(const nn_node *n, nn_tensor *const *in, int nin, opsb_window *w, int64_t *group,
                         fp_err *e)
{
    const nn_tensor *x, *wt;
    int64_t kshape[OPSB_MAX_SP], g;
    int r;

    if ((r = opsb_require_inputs(n, in, nin, 2, e)) < 0 ||
        (r = opsb_require_float(n, in, nin, 7u, e)) < 0)
        return r;
    x = in[0];
    wt = in[1];
    if (x->ndim < 3 || wt->ndim != x->ndim)
        return nn_node_error(e, n, FP_EMODEL, "X has rank %d and W rank %d; both must be equal and >= 3",
                             x->ndim, wt->ndim);
    for (int i = 2; i < wt->ndim && i - 2 < OPSB_MAX_SP; i++)
        kshape[i - 2] = wt->dims[i];
    if ((r = opsb_window_init(w, n, x, kshape, 0, e)) < 0)
        return r;
    for (int i = 0; i < w->nsp; i++)
        if (w->k[OPSB_MAX_SP - w->nsp + i] != wt->dims[2 + i])
            return nn_node_error(e, n, FP_EMODEL, "kernel_shape disagrees with W's shape");
    g = nn_attr_int(n, "group", 1);
    if (g < 1 || x->dims[1] % g || wt->dims[0] % g || wt->dims[1] * g != x->dims[1])
        return nn_node_error(e, n, FP_EMODEL, "group %lld does not fit X channels %lld and W [%lld,%lld,...]",
                             (long long)g, (long long)x->dims[1], (long long)wt->dims[0],
                             (long long)wt->dims[1]);
    if (nin > 2 && in[2] && nn_tensor_numel(in[2]) != wt->dims[0])
        return nn_node_error(e, n, FP_EMODEL, "bias has %lld values for %lld output channels",
                             (long long)nn_tensor_numel(in[2]), (long long)wt->dims[0]);
    *group = g;
    return 0;
}

static int conv_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout, fp_err *e)
{
    opsb_window w;
    int64_t g, dims[NN_MAX_DIMS];
    int r = conv_geometry(n, in, nin, &w, &g, e);
    if (r < 0)
        return r;
    dims[0] = in[0]->dims[0];
    dims[1] = in[1]->dims[0];
    for (int i = 0; i < w.nsp; i++)
        dims[2 + i] = w.out[OPSB_MAX_SP - w.nsp + i];
    out[0]->dtype = NN_DT_FLOAT;
    return nn_tensor_set_shape(out[0], in[0]->ndim, dims);
}

static int conv_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                    nn_cpu_ctx *ctx, fp_err *e)
{
    opsb_window w;
    int64_t g, batch, cin, cout, cg, mg, ksize, os, in_plane, orows, band;
    const float *x, *wt, *bias;
    float *y, *col = NULL;
    conv_args a;
    int one_by_one, r;

    if ((r = conv_geometry(n, in, nin, &w, &g, e)) < 0)
        return r;
    x = in[0]->data;
    wt = in[1]->data;
    bias = nin > 2 && in[2] ? in[2]->data : NULL;
    y = out[0]->data;
    batch = in[0]->dims[0];
    cin = in[0]->dims[1];
    cout = in[1]->dims[0];
    cg = cin / g;
    mg = cout / g;
    ksize = w.k[0] * w.k[1] * w.k[2];
    os = w.out[0] * w.out[1] * w.out[2];
    in_plane = w.in[0] * w.in[1] * w.in[2];

    memset(&a, 0, sizeof(a));
    a.w = &w;
    a.ksize = ksize;
    a.os = os;

    if (cg == 1 && mg == 1) {
        a.x = x;
        a.wt = wt;
        a.bias = bias;
        a.y = y;
        a.chans = cin;
        nn_cpu_parallel_for(ctx, batch * cin, depthwise_planes, &a);
        return 0;
    }

    one_by_one = ksize == 1;
    for (int i = 0; i < OPSB_MAX_SP; i++)
        one_by_one &= w.s[i] == 1 && w.pb[i] == 0 && w.pe[i] == 0;
    /* The im2col matrix is built for a band of output rows at a time (cache-sized, bounded scratch
     * on large frames); the band depends only on the shape. */
    orows = w.out[0] * w.out[1];
    band = opsb_band_rows(orows, w.out[2], cg * ksize);
    if (!one_by_one) {
        col = nn_cpu_ctx_scratch(ctx, sizeof(float) * (size_t)(cg * ksize * band * w.out[2]));
        if (!col)
            return nn_node_error(e, n, FP_ENOMEM, "no scratch for a %lld x %lld im2col matrix",
                                 (long long)(cg * ksize), (long long)(band * w.out[2]));
    }
    a.col = col;
    for (int64_t b = 0; b < batch; b++) {
        for (int64_t gi = 0; gi < g; gi++) {
            const float *xg = x + (b * cin + gi * cg) * in_plane;
            const float *wg = wt + gi * mg * cg * ksize;
            float *yg = y + (b * cout + gi * mg) * os;
            if (one_by_one) {
                opsb_sgemm(ctx, 0, 0, mg, os, cg, 1.0f, wg, cg, xg, os, 0.0f, yg, os);
            } else {
                a.x = xg;
                for (int64_t r0 = 0; r0 < orows; r0 += band) {
                    int64_t r1 = r0 + band < orows ? r0 + band : orows, nc = (r1 - r0) * w.out[2];
                    a.row0 = r0;
                    a.row1 = r1;
                    nn_cpu_parallel_for(ctx, cg * ksize, im2col_rows, &a);
                    opsb_sgemm(ctx, 0, 0, mg, nc, cg * ksize, 1.0f, wg, cg * ksize, col, nc, 0.0f,
                               yg + r0 * w.out[2], os);
                }
            }
            if (bias)
                for (int64_t m = 0; m < mg; m++) {
                    float bv = bias[gi * mg + m];
                    float *row = yg + m * os;
                    for (int64_t i = 0; i < os; i++)
                        row[i] += bv;
                }
        }
    }
    return 0;
}

const nn_op_def nn_op_conv = {
    .op_type = "Conv",
    .domain = "",
    .min_opset = 1,
    .infer = conv_infer,
    .cpu = conv_cpu,
};
