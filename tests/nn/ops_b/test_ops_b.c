/*
 * test_ops_b — unit tests of the group-b kernels against naive references written here (double
 * accumulation, no tricks), on awkward shapes: sizes 1, 3, 7, 129, groups and depthwise, non-square
 * kernels, strides larger than the kernel, dilations, asymmetric pads, 1-D and 3-D. Every kernel run
 * happens at 1 and 4 threads and the two outputs must be bit-identical. Values come from a fixed
 * seed (printed). Also: DeformConv (offset groups, mask, bias) against a reference of
 * torchvision's sampling, invariants (zero offsets = Conv, DepthToSpace∘SpaceToDepth = identity,
 * identity grids, identity resizes) and error paths (message names the node, code is right).
 * The ONNX conformance data is run by test_ops_b_conformance.
 */
#include "fp_test.h"
#include "opsb_test.h"

#include <stdint.h>

static uint64_t seed = 0x9e3779b97f4a7c15ull;

/* OpenBLAS threads its GEMMs itself; the 1-vs-N comparison changes its thread count too, so the claim
 * "same output at any thread count" covers BLAS as well. */
void openblas_set_num_threads(int num_threads);

static float *rand_buf(int64_t n, float lo, float hi)
{
    float *p = malloc(sizeof(float) * (size_t)(n ? n : 1));
    for (int64_t i = 0; i < n; i++)
        p[i] = tb_randf(&seed, lo, hi);
    return p;
}

/* Run at 1 and 4 threads; out[] receives the 1-thread result (caller frees), the 4-thread result must
 * match it bit for bit. Returns the op's code. */
static int run2(tb_node *t, nn_tensor **in, int nin, nn_tensor **out, int nout, fp_err *e)
{
    nn_tensor other[4];
    nn_tensor *op[4];
    nn_cpu_ctx *c1 = tb_ctx_new(1), *c4 = tb_ctx_new(4);
    int r;
    memset(other, 0, sizeof(other));
    fp_err_clear(e);
    openblas_set_num_threads(1);
    r = tb_run(t, in, nin, out, nout, c1, e);
    if (r == 0) {
        for (int i = 0; i < nout; i++)
            op[i] = out[i] ? &other[i] : NULL;
        openblas_set_num_threads(4);
        r = tb_run(t, in, nin, op, nout, c4, e);
        for (int i = 0; i < nout && r == 0; i++)
            if (out[i])
                CHECK_MSG(!memcmp(out[i]->data, other[i].data, nn_tensor_nbytes(out[i])),
                          "%s output %d differs between 1 and 4 threads", t->node.op_type, i);
    }
    for (int i = 0; i < 4; i++)
        nn_tensor_free(&other[i]);
    tb_ctx_freep(&c1);
    tb_ctx_freep(&c4);
    return r;
}

/* max |a-b| / (1 + |b|) over n values; NaN counts as infinite. */
static double max_err(const float *a, const double *b, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]) / (1.0 + fabs(b[i]));
        if (isnan(d) || isnan(a[i]))
            return INFINITY;
        if (d > m)
            m = d;
    }
    return m;
}

/* ---------------------------------------------------------------- Conv ---- */

typedef struct conv_cfg {
    int nsp;
    int64_t n, c, m, group;
    int64_t in[3], k[3], s[3], d[3], pb[3], pe[3];
    int bias;
    const char *auto_pad;
} conv_cfg;

static int64_t conv_out(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe)
{
    return (in + pb + pe - ((k - 1) * d + 1)) / s + 1;
}

static void conv_ref(const conv_cfg *c, const float *x, const float *w, const float *b, const int64_t *o,
                     double *y)
{
    int64_t cg = c->c / c->group, mg = c->m / c->group;
    int64_t in[3] = { 1, 1, 1 }, k[3] = { 1, 1, 1 }, s[3] = { 1, 1, 1 }, d[3] = { 1, 1, 1 }, p[3] = { 0, 0, 0 },
            oo[3] = { 1, 1, 1 };
    for (int i = 0; i < c->nsp; i++) {
        int j = 3 - c->nsp + i;
        in[j] = c->in[i];
        k[j] = c->k[i];
        s[j] = c->s[i];
        d[j] = c->d[i];
        p[j] = c->pb[i];
        oo[j] = o[i];
    }
    for (int64_t bn = 0; bn < c->n; bn++)
        for (int64_t m = 0; m < c->m; m++) {
            int64_t g = m / mg;
            for (int64_t oz = 0; oz < oo[0]; oz++)
                for (int64_t oy = 0; oy < oo[1]; oy++)
                    for (int64_t ox = 0; ox < oo[2]; ox++) {
                        double acc = b ? b[m] : 0.0;
                        for (int64_t ci = 0; ci < cg; ci++)
                            for (int64_t kz = 0; kz < k[0]; kz++)
                                for (int64_t ky = 0; ky < k[1]; ky++)
                                    for (int64_t kx = 0; kx < k[2]; kx++) {
                                        int64_t iz = oz * s[0] - p[0] + kz * d[0], iy = oy * s[1] - p[1] + ky * d[1],
                                                ix = ox * s[2] - p[2] + kx * d[2];
                                        if (iz < 0 || iz >= in[0] || iy < 0 || iy >= in[1] || ix < 0 || ix >= in[2])
                                            continue;
                                        acc += (double)x[(((bn * c->c + g * cg + ci) * in[0] + iz) * in[1] + iy) * in[2] + ix] *
                                               w[(((m * cg + ci) * k[0] + kz) * k[1] + ky) * k[2] + kx];
                                    }
                        y[(((bn * c->m + m) * oo[0] + oz) * oo[1] + oy) * oo[2] + ox] = acc;
                    }
        }
}

static void test_conv_one(const conv_cfg *c)
{
    tb_node t;
    int64_t xd[5], wd[5], o[3], nx = c->n * c->c, nw = c->m * (c->c / c->group), ny = c->n * c->m;
    int64_t pads[6], ks[3], st[3], dl[3];
    float *x, *w, *b;
    double *ref;
    nn_tensor tx, tw, tbias, ty, *in[3], *out[1];
    fp_err e;
    int r;

    xd[0] = c->n;
    xd[1] = c->c;
    wd[0] = c->m;
    wd[1] = c->c / c->group;
    for (int i = 0; i < c->nsp; i++) {
        xd[2 + i] = c->in[i];
        wd[2 + i] = c->k[i];
        nx *= c->in[i];
        nw *= c->k[i];
        pads[i] = c->pb[i];
        pads[i + c->nsp] = c->pe[i];
        ks[i] = c->k[i];
        st[i] = c->s[i];
        dl[i] = c->d[i];
        o[i] = conv_out(c->in[i], c->k[i], c->s[i], c->d[i], c->pb[i], c->pe[i]);
        ny *= o[i];
    }
    x = rand_buf(nx, -1, 1);
    w = rand_buf(nw, -1, 1);
    b = rand_buf(c->m, -1, 1);
    ref = malloc(sizeof(double) * ny);
    conv_ref(c, x, w, c->bias ? b : NULL, o, ref);

    tb_node_init(&t, "Conv", 17);
    tb_attr_int(&t, "group", c->group);
    tb_attr_ints(&t, "kernel_shape", c->nsp, ks);
    tb_attr_ints(&t, "strides", c->nsp, st);
    tb_attr_ints(&t, "dilations", c->nsp, dl);
    if (c->auto_pad)
        tb_attr_str(&t, "auto_pad", c->auto_pad);
    else
        tb_attr_ints(&t, "pads", 2 * c->nsp, pads);
    tx = tb_tensor(NN_DT_FLOAT, 2 + c->nsp, xd, x);
    tw = tb_tensor(NN_DT_FLOAT, 2 + c->nsp, wd, w);
    tbias = tb_tensor(NN_DT_FLOAT, 1, &c->m, b);
    memset(&ty, 0, sizeof(ty));
    in[0] = &tx;
    in[1] = &tw;
    in[2] = c->bias ? &tbias : NULL;
    out[0] = &ty;
    r = run2(&t, in, 3, out, 1, &e);
    CHECK_MSG(r == 0, "conv: %s", e.msg);
    if (r == 0) {
        int shape_ok = ty.ndim == 2 + c->nsp && ty.dims[1] == c->m;
        for (int i = 0; i < c->nsp; i++)
            shape_ok &= ty.dims[2 + i] == o[i];
        CHECK_MSG(shape_ok, "conv output shape (nsp %d, in %lld)", c->nsp, (long long)c->in[c->nsp - 1]);
        if (shape_ok) {
            double err = max_err(ty.data, ref, ny);
            CHECK_MSG(err < 1e-5, "conv nsp %d c %lld m %lld g %lld k %lldx%lld s %lld d %lld: err %g", c->nsp,
                      (long long)c->c, (long long)c->m, (long long)c->group, (long long)c->k[0],
                      (long long)c->k[c->nsp - 1], (long long)c->s[0], (long long)c->d[0], err);
        }
    }
    nn_tensor_free(&ty);
    free(x);
    free(w);
    free(b);
    free(ref);
}

static void test_conv(void)
{
    static const conv_cfg cfgs[] = {
        /* nsp n c m g  in          k          s          d          pb         pe      bias */
        { 2, 1, 1, 1, 1, { 1, 1 }, { 1, 1 }, { 1, 1 }, { 1, 1 }, { 0, 0 }, { 0, 0 }, 0, NULL },
        { 2, 2, 3, 5, 1, { 7, 7 }, { 3, 3 }, { 1, 1 }, { 1, 1 }, { 1, 1 }, { 1, 1 }, 1, NULL },
        { 2, 1, 3, 4, 1, { 7, 9 }, { 1, 1 }, { 1, 1 }, { 1, 1 }, { 0, 0 }, { 0, 0 }, 1, NULL }, /* 1x1 GEMM */
        { 2, 1, 4, 6, 2, { 9, 7 }, { 3, 2 }, { 2, 1 }, { 1, 2 }, { 1, 0 }, { 2, 1 }, 1, NULL }, /* groups */
        { 2, 2, 6, 6, 6, { 7, 129 }, { 3, 3 }, { 1, 2 }, { 1, 1 }, { 1, 1 }, { 1, 1 }, 1, NULL }, /* depthwise */
        { 2, 1, 4, 8, 4, { 7, 7 }, { 3, 3 }, { 1, 1 }, { 2, 2 }, { 2, 2 }, { 2, 2 }, 0, NULL }, /* dw mult 2 */
        { 2, 2, 5, 5, 5, { 7, 129 }, { 3, 3 }, { 1, 1 }, { 1, 1 }, { 1, 1 }, { 1, 1 }, 1, NULL }, /* dw 3x3 */
        { 2, 1, 3, 3, 3, { 9, 37 }, { 5, 5 }, { 1, 1 }, { 1, 1 }, { 2, 1 }, { 2, 3 }, 1, NULL }, /* dw 5x5 */
        { 2, 1, 3, 3, 3, { 9, 38 }, { 5, 3 }, { 2, 2 }, { 1, 1 }, { 2, 1 }, { 1, 1 }, 1, NULL }, /* dw s2 */
        { 2, 1, 2, 2, 2, { 3, 3 }, { 3, 3 }, { 1, 1 }, { 1, 1 }, { 1, 1 }, { 1, 1 }, 0, NULL }, /* dw tiny */
        { 2, 1, 3, 2, 1, { 129, 3 }, { 2, 2 }, { 5, 4 }, { 1, 1 }, { 0, 0 }, { 0, 0 }, 1, NULL }, /* s > k */
        { 2, 1, 2, 3, 1, { 7, 7 }, { 1, 5 }, { 3, 1 }, { 1, 1 }, { 0, 2 }, { 0, 2 }, 1, NULL }, /* 1x5 */
        { 2, 1, 3, 3, 1, { 3, 3 }, { 3, 3 }, { 1, 1 }, { 1, 1 }, { 0, 0 }, { 0, 0 }, 1, NULL }, /* out 1x1 */
        { 2, 1, 16, 32, 1, { 33, 40 }, { 3, 3 }, { 1, 1 }, { 1, 1 }, { 1, 1 }, { 1, 1 }, 1, NULL }, /* BLAS-threaded */
        { 2, 1, 2, 3, 1, { 7, 8 }, { 3, 3 }, { 2, 2 }, { 1, 1 }, { 0, 0 }, { 0, 0 }, 1, "SAME_UPPER" },
        { 1, 2, 3, 4, 1, { 129 }, { 5 }, { 3 }, { 2 }, { 2 }, { 1 }, 1, NULL },                  /* 1-D */
        { 3, 1, 2, 3, 1, { 3, 7, 5 }, { 2, 3, 1 }, { 1, 2, 1 }, { 1, 1, 1 }, { 1, 0, 0 }, { 0, 1, 0 }, 1, NULL },
    };
    for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
        conv_cfg c = cfgs[i];
        if (c.auto_pad) {
            /* Reference pads for SAME_UPPER: total = (ceil(in/s)-1)*s + k - in, the odd one at the end. */
            for (int j = 0; j < c.nsp; j++) {
                int64_t out = (c.in[j] + c.s[j] - 1) / c.s[j], ek = (c.k[j] - 1) * c.d[j] + 1;
                int64_t tot = (out - 1) * c.s[j] + ek - c.in[j];
                if (tot < 0)
                    tot = 0;
                c.pb[j] = tot / 2;
                c.pe[j] = tot - tot / 2;
            }
        }
        test_conv_one(&c);
    }
}

/* ------------------------------------------------------- ConvTranspose ---- */

static void test_conv_transpose(void)
{
    /* 2-D, groups 2, strides 3x2, dilations 2x1, pads, output_padding; checked against scatter. */
    const int64_t n = 2, c = 4, m = 6, g = 2, h = 40, w = 7, kh = 3, kw = 2, sh = 3, sw = 2, dh = 2, dw = 1;
    const int64_t pt = 1, pl = 0, pbm = 2, pr = 1, oph = 1, opw = 0;
    int64_t oh = sh * (h - 1) + oph + (kh - 1) * dh + 1 - pt - pbm, ow = sw * (w - 1) + opw + (kw - 1) * dw + 1 - pl - pr;
    int64_t cg = c / g, mg = m / g, ny = n * m * oh * ow;
    float *x = rand_buf(n * c * h * w, -1, 1), *wt = rand_buf(c * mg * kh * kw, -1, 1), *b = rand_buf(m, -1, 1);
    double *ref = calloc(ny, sizeof(double));
    tb_node t;
    nn_tensor tx, tw, tbias, ty, *in[3], *out[1];
    fp_err e;
    int r;

    for (int64_t bn = 0; bn < n; bn++)
        for (int64_t mo = 0; mo < m; mo++)
            for (int64_t i = 0; i < oh * ow; i++)
                ref[(bn * m + mo) * oh * ow + i] = b[mo];
    for (int64_t bn = 0; bn < n; bn++)
        for (int64_t ci = 0; ci < c; ci++) {
            int64_t gi = ci / cg;
            for (int64_t iy = 0; iy < h; iy++)
                for (int64_t ix = 0; ix < w; ix++)
                    for (int64_t mi = 0; mi < mg; mi++)
                        for (int64_t ky = 0; ky < kh; ky++)
                            for (int64_t kx = 0; kx < kw; kx++) {
                                int64_t oy = iy * sh - pt + ky * dh, ox = ix * sw - pl + kx * dw;
                                if (oy < 0 || oy >= oh || ox < 0 || ox >= ow)
                                    continue;
                                ref[((bn * m + gi * mg + mi) * oh + oy) * ow + ox] +=
                                    (double)x[((bn * c + ci) * h + iy) * w + ix] * wt[((ci * mg + mi) * kh + ky) * kw + kx];
                            }
        }
    tb_node_init(&t, "ConvTranspose", 17);
    tb_attr_int(&t, "group", g);
    tb_attr_ints(&t, "strides", 2, (int64_t[]){ sh, sw });
    tb_attr_ints(&t, "dilations", 2, (int64_t[]){ dh, dw });
    tb_attr_ints(&t, "pads", 4, (int64_t[]){ pt, pl, pbm, pr });
    tb_attr_ints(&t, "output_padding", 2, (int64_t[]){ oph, opw });
    tx = tb_tensor(NN_DT_FLOAT, 4, (int64_t[]){ n, c, h, w }, x);
    tw = tb_tensor(NN_DT_FLOAT, 4, (int64_t[]){ c, mg, kh, kw }, wt);
    tbias = tb_tensor(NN_DT_FLOAT, 1, (int64_t[]){ m }, b);
    memset(&ty, 0, sizeof(ty));
    in[0] = &tx;
    in[1] = &tw;
    in[2] = &tbias;
    out[0] = &ty;
    r = run2(&t, in, 3, out, 1, &e);
    CHECK_MSG(r == 0, "convtranspose: %s", e.msg);
    if (r == 0) {
        CHECK(ty.dims[0] == n && ty.dims[1] == m && ty.dims[2] == oh && ty.dims[3] == ow);
        CHECK_MSG(max_err(ty.data, ref, ny) < 1e-5, "convtranspose err %g", max_err(ty.data, ref, ny));
    }
    nn_tensor_free(&ty);

    /* output_shape larger than the natural size: the extra rows carry only the bias. */
    tb_node_init(&t, "ConvTranspose", 17);
    tb_attr_int(&t, "group", g);
    tb_attr_ints(&t, "strides", 2, (int64_t[]){ sh, sw });
    tb_attr_ints(&t, "output_shape", 2, (int64_t[]){ 125, 16 });
    r = run2(&t, in, 3, out, 1, &e);
    CHECK_MSG(r == 0, "convtranspose output_shape: %s", e.msg);
    if (r == 0)
        CHECK(ty.dims[2] == 125 && ty.dims[3] == 16);
    nn_tensor_free(&ty);
    free(x);
    free(wt);
    free(b);
    free(ref);
}

/* ---------------------------------------------------------- DeformConv ---- */

/* torchvision's bilinear sampling, written independently in double. */
static double dcn_ref_sample(const float *img, int64_t h, int64_t w, double y, double x)
{
    double v = 0;
    int64_t y0, x0;
    if (y <= -1 || y >= h || x <= -1 || x >= w)
        return 0;
    y0 = (int64_t)floor(y);
    x0 = (int64_t)floor(x);
    for (int dy = 0; dy < 2; dy++)
        for (int dx = 0; dx < 2; dx++) {
            int64_t yy = y0 + dy, xx = x0 + dx;
            double wy = dy ? y - y0 : 1 - (y - y0), wx = dx ? x - x0 : 1 - (x - x0);
            if (yy >= 0 && yy < h && xx >= 0 && xx < w)
                v += wy * wx * img[yy * w + xx];
        }
    return v;
}

typedef struct dcn_cfg {
    int64_t n, c, m, h, w, kh, kw, s, d, p, group, ogroup;
    int mask, bias;
} dcn_cfg;

static void test_deform_one(const dcn_cfg *c, int zero_offsets)
{
    int64_t oh = (c->h + 2 * c->p - ((c->kh - 1) * c->d + 1)) / c->s + 1;
    int64_t ow = (c->w + 2 * c->p - ((c->kw - 1) * c->d + 1)) / c->s + 1;
    int64_t K = c->kh * c->kw, cg = c->c / c->group, mg = c->m / c->group, cpo = c->c / c->ogroup;
    int64_t noff = c->n * c->ogroup * K * 2 * oh * ow, nmask = c->n * c->ogroup * K * oh * ow;
    int64_t ny = c->n * c->m * oh * ow;
    float *x = rand_buf(c->n * c->c * c->h * c->w, -1, 1), *wt = rand_buf(c->m * cg * K, -1, 1);
    float *off = rand_buf(noff, -3.5f, 3.5f), *mask = rand_buf(nmask, 0, 1), *b = rand_buf(c->m, -1, 1);
    double *ref = malloc(sizeof(double) * ny);
    tb_node t;
    nn_tensor tx, tw, to, tbias, tm, ty, *in[5], *out[1];
    fp_err e;
    int r;

    if (zero_offsets)
        memset(off, 0, sizeof(float) * noff);
    for (int64_t bn = 0; bn < c->n; bn++)
        for (int64_t m = 0; m < c->m; m++)
            for (int64_t oy = 0; oy < oh; oy++)
                for (int64_t ox = 0; ox < ow; ox++) {
                    int64_t g = m / mg;
                    double acc = c->bias ? b[m] : 0;
                    for (int64_t ci = 0; ci < cg; ci++) {
                        int64_t ch = g * cg + ci, og = ch / cpo;
                        for (int64_t k = 0; k < K; k++) {
                            int64_t ky = k / c->kw, kx = k % c->kw, p = oy * ow + ox;
                            const float *ob = off + ((bn * c->ogroup + og) * K + k) * 2 * oh * ow;
                            double y = oy * c->s - c->p + ky * c->d + ob[p];
                            double xx = ox * c->s - c->p + kx * c->d + ob[oh * ow + p];
                            double v = dcn_ref_sample(x + (bn * c->c + ch) * c->h * c->w, c->h, c->w, y, xx);
                            if (c->mask)
                                v *= mask[((bn * c->ogroup + og) * K + k) * oh * ow + p];
                            acc += v * wt[(m * cg + ci) * K + k];
                        }
                    }
                    ref[((bn * c->m + m) * oh + oy) * ow + ox] = acc;
                }
    tb_node_init(&t, "DeformConv", 19);
    tb_attr_int(&t, "group", c->group);
    tb_attr_int(&t, "offset_group", c->ogroup);
    tb_attr_ints(&t, "strides", 2, (int64_t[]){ c->s, c->s });
    tb_attr_ints(&t, "dilations", 2, (int64_t[]){ c->d, c->d });
    tb_attr_ints(&t, "pads", 4, (int64_t[]){ c->p, c->p, c->p, c->p });
    tx = tb_tensor(NN_DT_FLOAT, 4, (int64_t[]){ c->n, c->c, c->h, c->w }, x);
    tw = tb_tensor(NN_DT_FLOAT, 4, (int64_t[]){ c->m, cg, c->kh, c->kw }, wt);
    to = tb_tensor(NN_DT_FLOAT, 4, (int64_t[]){ c->n, c->ogroup * K * 2, oh, ow }, off);
    tbias = tb_tensor(NN_DT_FLOAT, 1, (int64_t[]){ c->m }, b);
    tm = tb_tensor(NN_DT_FLOAT, 4, (int64_t[]){ c->n, c->ogroup * K, oh, ow }, mask);
    memset(&ty, 0, sizeof(ty));
    in[0] = &tx;
    in[1] = &tw;
    in[2] = &to;
    in[3] = c->bias ? &tbias : NULL;
    in[4] = c->mask ? &tm : NULL;
    out[0] = &ty;
    r = run2(&t, in, 5, out, 1, &e);
    CHECK_MSG(r == 0, "deformconv: %s", e.msg);
    if (r == 0) {
        double err = max_err(ty.data, ref, ny);
        CHECK_MSG(err < 1e-5, "deformconv c %lld og %lld g %lld mask %d: err %g", (long long)c->c,
                  (long long)c->ogroup, (long long)c->group, c->mask, err);
    }
    if (r == 0 && zero_offsets && !c->mask) {
        /* Invariant: zero offsets and no mask is a plain Conv. */
        tb_node cv;
        nn_tensor cy, *cout[1] = { &cy };
        memset(&cy, 0, sizeof(cy));
        tb_node_init(&cv, "Conv", 17);
        tb_attr_int(&cv, "group", c->group);
        tb_attr_ints(&cv, "strides", 2, (int64_t[]){ c->s, c->s });
        tb_attr_ints(&cv, "dilations", 2, (int64_t[]){ c->d, c->d });
        tb_attr_ints(&cv, "pads", 4, (int64_t[]){ c->p, c->p, c->p, c->p });
        in[2] = in[3];
        r = run2(&cv, in, 3, cout, 1, &e);
        CHECK_MSG(r == 0, "conv for deform invariant: %s", e.msg);
        if (r == 0) {
            double m = 0;
            for (int64_t i = 0; i < ny; i++)
                m = fmax(m, fabs(((float *)cy.data)[i] - ((float *)ty.data)[i]));
            CHECK_MSG(m < 1e-5, "deformconv with zero offsets differs from Conv by %g", m);
        }
        nn_tensor_free(&cy);
    }
    nn_tensor_free(&ty);
    free(x);
    free(wt);
    free(off);
    free(mask);
    free(b);
    free(ref);
}

static void test_deform_conv(void)
{
    static const dcn_cfg cfgs[] = {
        /* n c  m  h  w  kh kw s d p g og mask bias */
        { 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 0, 0 },
        { 2, 4, 3, 7, 9, 3, 3, 1, 1, 1, 1, 2, 1, 1 },
        { 1, 32, 16, 7, 5, 3, 3, 1, 1, 1, 1, 16, 1, 1 },   /* BasicVSR++-like: 16 offset groups */
        { 1, 6, 4, 9, 7, 3, 2, 2, 2, 2, 2, 3, 1, 0 },      /* groups, stride, dilation, non-square */
        { 1, 3, 2, 3, 129, 1, 3, 3, 1, 0, 1, 1, 0, 1 },    /* stride > kernel, no mask */
    };
    for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++)
        test_deform_one(&cfgs[i], 0);
    for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++) {
        dcn_cfg c = cfgs[i];
        c.mask = 0;
        test_deform_one(&c, 1);
    }
    /* NaN offsets sample nothing (0, no undefined float->int cast): the output is the bias. */
    {
        float x[2 * 5 * 5], wt[3 * 2 * 9], off[18 * 25], b[3] = { 0.5f, -1.0f, 2.0f };
        nn_tensor tx = tb_tensor(NN_DT_FLOAT, 4, (int64_t[]){ 1, 2, 5, 5 }, x);
        nn_tensor tw = tb_tensor(NN_DT_FLOAT, 4, (int64_t[]){ 3, 2, 3, 3 }, wt);
        nn_tensor to = tb_tensor(NN_DT_FLOAT, 4, (int64_t[]){ 1, 18, 5, 5 }, off);
        nn_tensor tb = tb_tensor(NN_DT_FLOAT, 1, (int64_t[]){ 3 }, b), ty;
        nn_tensor *in[4] = { &tx, &tw, &to, &tb }, *out[1] = { &ty };
        tb_node t;
        fp_err e;
        int r, ok = 1;
        for (int i = 0; i < 50; i++)
            x[i] = 1.0f;
        for (int i = 0; i < 54; i++)
            wt[i] = 1.0f;
        for (int i = 0; i < 18 * 25; i++)
            off[i] = NAN;
        tb_node_init(&t, "DeformConv", 19);
        tb_attr_ints(&t, "pads", 4, (int64_t[]){ 1, 1, 1, 1 });
        memset(&ty, 0, sizeof(ty));
        r = run2(&t, in, 4, out, 1, &e);
        for (int i = 0; r == 0 && i < 75; i++)
            ok &= ((float *)ty.data)[i] == b[i / 25];
        CHECK_MSG(r == 0 && ok, "deformconv with NaN offsets: %s", e.msg);
        nn_tensor_free(&ty);
    }
}

/* -------------------------------------------------------- MatMul, Gemm ---- */

static void test_matmul_one(int an, const int64_t *ad, int bn, const int64_t *bd, int yn, const int64_t *yd)
{
    int64_t na = 1, nb = 1, ny = 1, m, k, n;
    float *a, *b;
    double *ref;
    tb_node t;
    nn_tensor ta, tb, ty, *in[2], *out[1];
    fp_err e;
    int r, ok;

    for (int i = 0; i < an; i++)
        na *= ad[i];
    for (int i = 0; i < bn; i++)
        nb *= bd[i];
    for (int i = 0; i < yn; i++)
        ny *= yd[i];
    a = rand_buf(na, -1, 1);
    b = rand_buf(nb, -1, 1);
    ref = malloc(sizeof(double) * (ny ? ny : 1));
    m = an >= 2 ? ad[an - 2] : 1;
    k = ad[an - 1];
    n = bn >= 2 ? bd[bn - 1] : 1;
    /* Reference with explicit broadcast over up to 2 batch dims (enough for the cases below). */
    {
        int64_t ob[2] = { 1, 1 }, abd[2] = { 1, 1 }, bbd[2] = { 1, 1 };
        int anb = an > 2 ? an - 2 : 0, bnb = bn > 2 ? bn - 2 : 0;
        for (int i = 0; i < anb; i++)
            abd[2 - anb + i] = ad[i];
        for (int i = 0; i < bnb; i++)
            bbd[2 - bnb + i] = bd[i];
        for (int i = 0; i < 2; i++)
            ob[i] = abd[i] > bbd[i] ? abd[i] : bbd[i];
        for (int64_t i0 = 0; i0 < ob[0]; i0++)
            for (int64_t i1 = 0; i1 < ob[1]; i1++) {
                int64_t ai = (abd[0] == 1 ? 0 : i0) * abd[1] + (abd[1] == 1 ? 0 : i1);
                int64_t bi = (bbd[0] == 1 ? 0 : i0) * bbd[1] + (bbd[1] == 1 ? 0 : i1);
                int64_t yi = i0 * ob[1] + i1;
                for (int64_t r0 = 0; r0 < m; r0++)
                    for (int64_t c0 = 0; c0 < n; c0++) {
                        double acc = 0;
                        for (int64_t q = 0; q < k; q++)
                            acc += (double)a[ai * m * k + r0 * k + q] * b[bi * k * n + q * n + c0];
                        ref[yi * m * n + r0 * n + c0] = acc;
                    }
            }
    }
    tb_node_init(&t, "MatMul", 13);
    ta = tb_tensor(NN_DT_FLOAT, an, ad, a);
    tb = tb_tensor(NN_DT_FLOAT, bn, bd, b);
    memset(&ty, 0, sizeof(ty));
    in[0] = &ta;
    in[1] = &tb;
    out[0] = &ty;
    r = run2(&t, in, 2, out, 1, &e);
    CHECK_MSG(r == 0, "matmul: %s", e.msg);
    if (r == 0) {
        ok = ty.ndim == yn;
        for (int i = 0; ok && i < yn; i++)
            ok = ty.dims[i] == yd[i];
        CHECK_MSG(ok, "matmul output rank %d, expected %d", ty.ndim, yn);
        if (ok)
            CHECK_MSG(max_err(ty.data, ref, ny) < 1e-5, "matmul err %g", max_err(ty.data, ref, ny));
    }
    nn_tensor_free(&ty);
    free(a);
    free(b);
    free(ref);
}

static void test_matmul(void)
{
    test_matmul_one(2, (int64_t[]){ 1, 1 }, 2, (int64_t[]){ 1, 1 }, 2, (int64_t[]){ 1, 1 });
    test_matmul_one(3, (int64_t[]){ 2, 129, 257 }, 2, (int64_t[]){ 257, 131 }, 3, (int64_t[]){ 2, 129, 131 });
    test_matmul_one(2, (int64_t[]){ 129, 7 }, 2, (int64_t[]){ 7, 3 }, 2, (int64_t[]){ 129, 3 });
    test_matmul_one(1, (int64_t[]){ 7 }, 2, (int64_t[]){ 7, 3 }, 1, (int64_t[]){ 3 });
    test_matmul_one(2, (int64_t[]){ 3, 7 }, 1, (int64_t[]){ 7 }, 1, (int64_t[]){ 3 });
    test_matmul_one(1, (int64_t[]){ 129 }, 1, (int64_t[]){ 129 }, 0, NULL);
    test_matmul_one(4, (int64_t[]){ 2, 1, 3, 5 }, 3, (int64_t[]){ 4, 5, 7 }, 4, (int64_t[]){ 2, 4, 3, 7 });
    test_matmul_one(3, (int64_t[]){ 3, 1, 129 }, 2, (int64_t[]){ 129, 1 }, 3, (int64_t[]){ 3, 1, 1 });
    test_matmul_one(1, (int64_t[]){ 5 }, 4, (int64_t[]){ 2, 3, 5, 4 }, 3, (int64_t[]){ 2, 3, 4 });
}

static void test_gemm(void)
{
    const int64_t M = 7, N = 3, K = 129;
    int64_t cshapes[4][2] = { { 0, 0 }, { 1, N }, { M, 1 }, { M, N } };
    for (int ta = 0; ta < 2; ta++)
        for (int tbb = 0; tbb < 2; tbb++)
            for (int cs = 0; cs < 4; cs++) {
                float *a = rand_buf(M * K, -1, 1), *b = rand_buf(K * N, -1, 1), *c = rand_buf(M * N, -1, 1);
                double ref[7 * 3];
                const float alpha = 0.5f, beta = -1.5f;
                tb_node t;
                nn_tensor tA, tB, tC, ty, *in[3], *out[1];
                fp_err e;
                int r, cnd = cs == 0 ? 0 : 2;
                for (int64_t i = 0; i < M; i++)
                    for (int64_t j = 0; j < N; j++) {
                        double acc = 0, cv;
                        for (int64_t q = 0; q < K; q++)
                            acc += (double)(ta ? a[q * M + i] : a[i * K + q]) * (tbb ? b[j * K + q] : b[q * N + j]);
                        cv = cs == 0 ? c[0] : c[(cshapes[cs][0] == 1 ? 0 : i) * cshapes[cs][1] + (cshapes[cs][1] == 1 ? 0 : j)];
                        ref[i * N + j] = alpha * acc + beta * cv;
                    }
                tb_node_init(&t, "Gemm", 13);
                tb_attr_int(&t, "transA", ta);
                tb_attr_int(&t, "transB", tbb);
                tb_attr_float(&t, "alpha", alpha);
                tb_attr_float(&t, "beta", beta);
                tA = tb_tensor(NN_DT_FLOAT, 2, ta ? (int64_t[]){ K, M } : (int64_t[]){ M, K }, a);
                tB = tb_tensor(NN_DT_FLOAT, 2, tbb ? (int64_t[]){ N, K } : (int64_t[]){ K, N }, b);
                tC = tb_tensor(NN_DT_FLOAT, cnd, cshapes[cs], c); /* cs 0: a scalar C */
                memset(&ty, 0, sizeof(ty));
                in[0] = &tA;
                in[1] = &tB;
                in[2] = &tC;
                out[0] = &ty;
                r = run2(&t, in, 3, out, 1, &e);
                CHECK_MSG(r == 0, "gemm: %s", e.msg);
                if (r == 0)
                    CHECK_MSG(max_err(ty.data, ref, M * N) < 1e-5, "gemm ta %d tb %d c %d err %g", ta, tbb, cs,
                              max_err(ty.data, ref, M * N));
                nn_tensor_free(&ty);
                free(a);
                free(b);
                free(c);
            }
}

/* ------------------------------------------------------------- Pooling ---- */

static void test_pool(void)
{
    /* 2-D, 7x129, kernel 3x2, stride 2x5 (> kernel), dilation 2x1, pads, ceil_mode; checked by brute force. */
    const int64_t n = 2, c = 3, h = 7, w = 129, kh = 3, kw = 2, sh = 2, sw = 5, dh = 2, dw = 1;
    const int64_t pt = 1, pl = 1, pbm = 3, pr = 0;
    float *x = rand_buf(n * c * h * w, -1, 1);
    for (int inc = 0; inc < 2; inc++)
        for (int maxp = 0; maxp < 2; maxp++)
            for (int ceil_mode = 0; ceil_mode < 2; ceil_mode++) {
                int64_t eh = (kh - 1) * dh + 1, ew = (kw - 1) * dw + 1;
                int64_t oh = (h + pt + pbm - eh + (ceil_mode ? sh - 1 : 0)) / sh + 1;
                int64_t ow = (w + pl + pr - ew + (ceil_mode ? sw - 1 : 0)) / sw + 1;
                int64_t ny;
                double *ref;
                int64_t *refi;
                tb_node t;
                nn_tensor tx, ty, ti, *in[1], *out[2];
                fp_err e;
                int r;
                if (ceil_mode && (oh - 1) * sh >= h + pt)
                    oh--;
                if (ceil_mode && (ow - 1) * sw >= w + pl)
                    ow--;
                ny = n * c * oh * ow;
                ref = malloc(sizeof(double) * ny);
                refi = malloc(sizeof(int64_t) * ny);
                for (int64_t p = 0; p < n * c; p++)
                    for (int64_t oy = 0; oy < oh; oy++)
                        for (int64_t ox = 0; ox < ow; ox++) {
                            double s = 0, mx = -INFINITY;
                            int64_t cnt = 0, cntp = 0, bi = -1;
                            for (int64_t ky = 0; ky < kh; ky++)
                                for (int64_t kx = 0; kx < kw; kx++) {
                                    int64_t iy = oy * sh - pt + ky * dh, ix = ox * sw - pl + kx * dw;
                                    if (iy < h + pbm && ix < w + pr)
                                        cntp++;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                                        continue;
                                    s += x[(p * h + iy) * w + ix];
                                    cnt++;
                                    if (x[(p * h + iy) * w + ix] > mx) {
                                        mx = x[(p * h + iy) * w + ix];
                                        bi = p * h * w + iy * w + ix;
                                    }
                                }
                            ref[(p * oh + oy) * ow + ox] = maxp ? mx : s / (inc ? cntp : cnt);
                            refi[(p * oh + oy) * ow + ox] = bi;
                        }
                tb_node_init(&t, maxp ? "MaxPool" : "AveragePool", 19);
                tb_attr_ints(&t, "kernel_shape", 2, (int64_t[]){ kh, kw });
                tb_attr_ints(&t, "strides", 2, (int64_t[]){ sh, sw });
                tb_attr_ints(&t, "dilations", 2, (int64_t[]){ dh, dw });
                tb_attr_ints(&t, "pads", 4, (int64_t[]){ pt, pl, pbm, pr });
                tb_attr_int(&t, "ceil_mode", ceil_mode);
                if (!maxp)
                    tb_attr_int(&t, "count_include_pad", inc);
                tx = tb_tensor(NN_DT_FLOAT, 4, (int64_t[]){ n, c, h, w }, x);
                memset(&ty, 0, sizeof(ty));
                memset(&ti, 0, sizeof(ti));
                in[0] = &tx;
                out[0] = &ty;
                out[1] = &ti;
                r = run2(&t, in, 1, out, maxp ? 2 : 1, &e);
                CHECK_MSG(r == 0, "pool: %s", e.msg);
                if (r == 0 && ty.dims[2] == oh && ty.dims[3] == ow) {
                    CHECK_MSG(max_err(ty.data, ref, ny) < 1e-6, "%s ceil %d inc %d err %g", t.node.op_type, ceil_mode,
                              inc, max_err(ty.data, ref, ny));
                    if (maxp)
                        CHECK(!memcmp(ti.data, refi, sizeof(int64_t) * ny));
                } else if (r == 0) {
                    CHECK_MSG(0, "pool shape %lldx%lld, expected %lldx%lld", (long long)ty.dims[2],
                              (long long)ty.dims[3], (long long)oh, (long long)ow);
                }
                nn_tensor_free(&ty);
                nn_tensor_free(&ti);
                free(ref);
                free(refi);
            }
    free(x);
}

static void test_pool_int8(void)
{
    /* All-negative int8 input: the max must come from the data, never from a zero initialiser. */
    int8_t x[2 * 3 * 5];
    nn_tensor tx = tb_tensor(NN_DT_INT8, 4, (int64_t[]){ 1, 2, 3, 5 }, x), ty, ti;
    nn_tensor *in[1] = { &tx }, *out[2] = { &ty, &ti };
    tb_node t;
    fp_err e;
    int r;
    for (int i = 0; i < 30; i++)
        x[i] = (int8_t)(-100 + (i * 37) % 90);
    tb_node_init(&t, "MaxPool", 12);
    tb_attr_ints(&t, "kernel_shape", 2, (int64_t[]){ 2, 3 });
    tb_attr_ints(&t, "pads", 4, (int64_t[]){ 1, 1, 1, 1 });
    tb_attr_ints(&t, "strides", 2, (int64_t[]){ 2, 2 });
    memset(&ty, 0, sizeof(ty));
    memset(&ti, 0, sizeof(ti));
    r = run2(&t, in, 1, out, 2, &e);
    CHECK_MSG(r == 0 && ty.dtype == NN_DT_INT8, "int8 maxpool: %s", e.msg);
    if (r == 0) {
        int ok = 1;
        const int8_t *y = ty.data;
        const int64_t *ix = ti.data;
        for (int64_t i = 0; i < nn_tensor_numel(&ty); i++)
            ok &= y[i] < 0 && x[ix[i]] == y[i];
        CHECK(ok);
    }
    nn_tensor_free(&ty);
    nn_tensor_free(&ti);
}

/* -------------------------------------------------------------- Resize ---- */

static int resize_run(tb_node *t, nn_tensor *x, const float *scales, int ns, const int64_t *sizes, int nz,
                      nn_tensor *y, fp_err *e)
{
    nn_tensor ts, tz, *in[4], *out[1] = { y };
    ts = tb_tensor(NN_DT_FLOAT, 1, (int64_t[]){ ns }, (void *)scales);
    tz = tb_tensor(NN_DT_INT64, 1, (int64_t[]){ nz }, (void *)sizes);
    in[0] = x;
    in[1] = NULL;
    in[2] = scales ? &ts : NULL;
    in[3] = sizes ? &tz : NULL;
    memset(y, 0, sizeof(*y));
    return run2(t, in, 4, out, 1, e);
}

static void test_resize(void)
{
    const int64_t n = 1, c = 2, h = 7, w = 129;
    float *x = rand_buf(n * c * h * w, -1, 1);
    nn_tensor tx = tb_tensor(NN_DT_FLOAT, 4, (int64_t[]){ n, c, h, w }, x), ty;
    tb_node t;
    fp_err e;
    int r;
    static const char *modes[] = { "nearest", "linear", "cubic" };

    /* Identity sizes reproduce the input exactly, for every mode. */
    for (int m = 0; m < 3; m++) {
        tb_node_init(&t, "Resize", 19);
        tb_attr_str(&t, "mode", modes[m]);
        r = resize_run(&t, &tx, NULL, 0, (int64_t[]){ n, c, h, w }, 4, &ty, &e);
        CHECK_MSG(r == 0, "resize identity: %s", e.msg);
        if (r == 0)
            CHECK_MSG(!memcmp(ty.data, x, sizeof(float) * n * c * h * w), "resize %s identity", modes[m]);
        nn_tensor_free(&ty);
    }

    /* Linear align_corners to 3x13 against the bilinear formula. */
    {
        const int64_t oh = 3, ow = 13;
        double ref[2 * 3 * 13];
        tb_node_init(&t, "Resize", 13);
        tb_attr_str(&t, "mode", "linear");
        tb_attr_str(&t, "coordinate_transformation_mode", "align_corners");
        for (int64_t p = 0; p < c; p++)
            for (int64_t i = 0; i < oh; i++)
                for (int64_t j = 0; j < ow; j++) {
                    double sy = i * (h - 1.0) / (oh - 1), sx = j * (w - 1.0) / (ow - 1);
                    int64_t y0 = (int64_t)floor(sy), x0 = (int64_t)floor(sx);
                    int64_t y1 = y0 + 1 < h ? y0 + 1 : y0, x1 = x0 + 1 < w ? x0 + 1 : x0;
                    double fy = sy - y0, fx = sx - x0;
                    const float *pl = x + p * h * w;
                    ref[(p * oh + i) * ow + j] = (1 - fy) * ((1 - fx) * pl[y0 * w + x0] + fx * pl[y0 * w + x1]) +
                                                 fy * ((1 - fx) * pl[y1 * w + x0] + fx * pl[y1 * w + x1]);
                }
        r = resize_run(&t, &tx, NULL, 0, (int64_t[]){ n, c, oh, ow }, 4, &ty, &e);
        CHECK_MSG(r == 0, "resize linear: %s", e.msg);
        if (r == 0)
            CHECK_MSG(max_err(ty.data, ref, c * oh * ow) < 1e-5, "resize align_corners err %g",
                      max_err(ty.data, ref, c * oh * ow));
        nn_tensor_free(&ty);
    }

    /* Nearest ×2 upsample, asymmetric + floor: every 2x2 block repeats one input pixel. */
    {
        int ok = 1;
        tb_node_init(&t, "Resize", 13);
        tb_attr_str(&t, "coordinate_transformation_mode", "asymmetric");
        tb_attr_str(&t, "nearest_mode", "floor");
        r = resize_run(&t, &tx, (float[]){ 1, 1, 2, 2 }, 4, NULL, 0, &ty, &e);
        CHECK_MSG(r == 0, "resize nearest: %s", e.msg);
        if (r == 0) {
            const float *yv = ty.data;
            for (int64_t p = 0; p < c; p++)
                for (int64_t i = 0; i < 2 * h; i++)
                    for (int64_t j = 0; j < 2 * w; j++)
                        ok &= yv[(p * 2 * h + i) * 2 * w + j] == x[(p * h + i / 2) * w + j / 2];
            CHECK(ok);
        }
        nn_tensor_free(&ty);
    }

    /* Antialiased downsampling of a constant image stays constant (weights normalised); of a ramp, the
     * output stays inside the input's range. */
    {
        float *cst = malloc(sizeof(float) * h * w);
        nn_tensor tc = tb_tensor(NN_DT_FLOAT, 4, (int64_t[]){ 1, 1, h, w }, cst);
        for (int64_t i = 0; i < h * w; i++)
            cst[i] = 0.375f;
        for (int m = 1; m < 3; m++) {
            tb_node_init(&t, "Resize", 18);
            tb_attr_str(&t, "mode", modes[m]);
            tb_attr_int(&t, "antialias", 1);
            tb_attr_ints(&t, "axes", 2, (int64_t[]){ 2, 3 });
            r = resize_run(&t, &tc, (float[]){ 0.5f, 0.25f }, 2, NULL, 0, &ty, &e);
            CHECK_MSG(r == 0, "resize antialias: %s", e.msg);
            if (r == 0) {
                double mx = 0;
                CHECK(ty.dims[2] == 3 && ty.dims[3] == 32);
                for (int64_t i = 0; i < nn_tensor_numel(&ty); i++)
                    mx = fmax(mx, fabs(((float *)ty.data)[i] - 0.375));
                CHECK_MSG(mx < 1e-6, "antialias %s of a constant deviates by %g", modes[m], mx);
            }
            nn_tensor_free(&ty);
        }
        free(cst);
    }

    /* Antialiased 1-D downsampling against the ONNX reference's formula (op_resize.py
     * _linear/_cubic_coeffs_antialias): taps x_int + i for i in [start, 2 - start), weights
     * f((i - ratio)·scale) normalised, x_int/ratio with ratio in (0, 1], edge-clamped indices. */
    {
        const int64_t L = 29;
        float *d = rand_buf(L, -1, 1);
        const float scales[2] = { 0.5f, 0.375f };
        nn_tensor td = tb_tensor(NN_DT_FLOAT, 1, (int64_t[]){ L }, d);
        for (int m = 1; m < 3; m++)
            for (int si = 0; si < 2; si++) {
                double sc = scales[si], ref[32];
                int64_t O = (int64_t)floor(L * sc);
                for (int64_t xo = 0; xo < O; xo++) {
                    double xr = (xo + 0.5) / sc - 0.5, xi = floor(xr), ratio = xr - xi, wsum = 0, acc = 0;
                    int start = (int)floor((m == 1 ? -1.0 : -2.0) / sc) + 1;
                    if (ratio == 0) {
                        ratio = 1;
                        xi -= 1;
                    }
                    for (int i = start; i < 2 - start; i++) {
                        double a = (i - ratio) * sc, f, aa = fabs(a);
                        int64_t idx = (int64_t)xi + i;
                        if (m == 1)
                            f = fmax(0.0, 1 - aa);
                        else
                            f = aa <= 1 ? (1.25 * aa - 2.25) * aa * aa + 1
                                        : aa < 2 ? ((-0.75 * aa + 3.75) * aa - 6) * aa + 3 : 0;
                        idx = idx < 0 ? 0 : idx >= L ? L - 1 : idx;
                        wsum += f;
                        acc += f * d[idx];
                    }
                    ref[xo] = acc / wsum;
                }
                tb_node_init(&t, "Resize", 18);
                tb_attr_str(&t, "mode", modes[m]);
                tb_attr_int(&t, "antialias", 1);
                r = resize_run(&t, &td, &scales[si], 1, NULL, 0, &ty, &e);
                CHECK_MSG(r == 0 && ty.dims[0] == O, "antialias 1-D: %s", e.msg);
                if (r == 0)
                    CHECK_MSG(max_err(ty.data, ref, O) < 1e-6, "antialias %s scale %g err %g", modes[m], sc,
                              max_err(ty.data, ref, O));
                nn_tensor_free(&ty);
            }
        free(d);
    }

    /* keep_aspect_ratio_policy not_larger: both axes scaled by the smaller ratio. */
    {
        tb_node_init(&t, "Resize", 18);
        tb_attr_str(&t, "keep_aspect_ratio_policy", "not_larger");
        tb_attr_ints(&t, "axes", 2, (int64_t[]){ 2, 3 });
        r = resize_run(&t, &tx, NULL, 0, (int64_t[]){ 14, 129 }, 2, &ty, &e);
        CHECK_MSG(r == 0 && ty.dims[2] == 7 && ty.dims[3] == 129, "not_larger: %s", e.msg);
        nn_tensor_free(&ty);
    }

    /* The aspect-kept size rounds half up (ONNX reference): 3 × 1.5 = 4.5 → 5. */
    {
        float sm[6] = { 0, 1, 2, 3, 4, 5 };
        nn_tensor ts = tb_tensor(NN_DT_FLOAT, 4, (int64_t[]){ 1, 1, 2, 3 }, sm);
        tb_node_init(&t, "Resize", 18);
        tb_attr_str(&t, "keep_aspect_ratio_policy", "not_larger");
        tb_attr_ints(&t, "axes", 2, (int64_t[]){ 2, 3 });
        r = resize_run(&t, &ts, NULL, 0, (int64_t[]){ 3, 100 }, 2, &ty, &e);
        CHECK_MSG(r == 0 && ty.dims[2] == 3 && ty.dims[3] == 5, "half-up aspect size: %s", e.msg);
        nn_tensor_free(&ty);
    }

    /* tf_crop_and_resize: roi outside the image yields extrapolation_value. */
    {
        float roi[8] = { 0, 0, 0.5f, 0.5f, 1, 1, 1.5f, 1.5f };
        nn_tensor troi = tb_tensor(NN_DT_FLOAT, 1, (int64_t[]){ 8 }, roi);
        nn_tensor tz = tb_tensor(NN_DT_INT64, 1, (int64_t[]){ 4 }, (int64_t[]){ n, c, 5, 5 });
        nn_tensor *in[4] = { &tx, &troi, NULL, &tz }, *out[1] = { &ty };
        tb_node_init(&t, "Resize", 13);
        tb_attr_str(&t, "mode", "linear");
        tb_attr_str(&t, "coordinate_transformation_mode", "tf_crop_and_resize");
        tb_attr_float(&t, "extrapolation_value", 10.0f);
        memset(&ty, 0, sizeof(ty));
        r = run2(&t, in, 4, out, 1, &e);
        CHECK_MSG(r == 0, "crop_and_resize: %s", e.msg);
        if (r == 0) {
            const float *yv = ty.data;
            CHECK(yv[4 * 5 + 4] == 10.0f);  /* bottom-right corner maps outside */
            CHECK(yv[0] != 10.0f);          /* top-left maps to the image centre */
        }
        nn_tensor_free(&ty);
    }

    /* A scales input without a value (not constant) is unsupported, not guessed. */
    {
        nn_tensor ts = tb_tensor(NN_DT_FLOAT, 1, (int64_t[]){ 4 }, NULL), *in[3] = { &tx, NULL, &ts };
        nn_tensor *out[1] = { &ty };
        tb_node_init(&t, "Resize", 13);
        memset(&ty, 0, sizeof(ty));
        fp_err_clear(&e);
        r = nn_op_find("", "Resize")->infer(&t.node, in, 3, out, 1, &e);
        CHECK_EQ_INT(r, FP_EUNSUPPORTED);
        CHECK(strstr(e.msg, "node 'test' (Resize)") && strstr(e.msg, "scales"));
    }
    free(x);
}

/* ---------------------------------------------------------- GridSample ---- */

static void test_grid_sample(void)
{
    const int64_t n = 2, c = 3, h = 7, w = 9;
    float *x = rand_buf(n * c * h * w, -1, 1), *grid = malloc(sizeof(float) * n * h * w * 2);
    nn_tensor tx = tb_tensor(NN_DT_FLOAT, 4, (int64_t[]){ n, c, h, w }, x), tg, ty;
    nn_tensor *in[2], *out[1] = { &ty };
    static const char *modes[] = { "bilinear", "nearest", "bicubic" };
    static const char *pads[] = { "zeros", "border", "reflection" };
    tb_node t;
    fp_err e;
    int r;

    /* Identity grid (pixel centres): every mode and padding reproduces the input. */
    for (int ac = 0; ac < 2; ac++) {
        for (int64_t b = 0; b < n; b++)
            for (int64_t i = 0; i < h; i++)
                for (int64_t j = 0; j < w; j++) {
                    float *g = grid + ((b * h + i) * w + j) * 2;
                    g[0] = ac ? (float)(2.0 * j / (w - 1) - 1) : (float)((2.0 * j + 1) / w - 1);
                    g[1] = ac ? (float)(2.0 * i / (h - 1) - 1) : (float)((2.0 * i + 1) / h - 1);
                }
        tg = tb_tensor(NN_DT_FLOAT, 4, (int64_t[]){ n, h, w, 2 }, grid);
        in[0] = &tx;
        in[1] = &tg;
        for (int m = 0; m < 3; m++)
            for (int p = 0; p < 3; p++) {
                double mx = 0;
                tb_node_init(&t, "GridSample", 16);
                tb_attr_str(&t, "mode", modes[m]);
                tb_attr_str(&t, "padding_mode", pads[p]);
                tb_attr_int(&t, "align_corners", ac);
                memset(&ty, 0, sizeof(ty));
                r = run2(&t, in, 2, out, 1, &e);
                CHECK_MSG(r == 0, "gridsample: %s", e.msg);
                if (r == 0)
                    for (int64_t i = 0; i < n * c * h * w; i++)
                        mx = fmax(mx, fabs(((float *)ty.data)[i] - x[i]));
                /* bicubic through zero padding mixes in zeros next to the border only via exact 0 weights */
                CHECK_MSG(r == 0 && mx < 1e-5, "gridsample %s/%s align %d identity off by %g", modes[m], pads[p],
                          ac, mx);
                nn_tensor_free(&ty);
            }
    }
    /* Far outside: zeros gives 0, border gives the nearest edge pixel (bilinear). */
    for (int64_t i = 0; i < n * h * w; i++) {
        grid[2 * i] = 5.0f;
        grid[2 * i + 1] = -5.0f;
    }
    for (int p = 0; p < 2; p++) {
        tb_node_init(&t, "GridSample", 20);
        tb_attr_str(&t, "mode", "linear");
        tb_attr_str(&t, "padding_mode", pads[p]);
        memset(&ty, 0, sizeof(ty));
        r = run2(&t, in, 2, out, 1, &e);
        CHECK_MSG(r == 0, "gridsample far: %s", e.msg);
        if (r == 0)
            CHECK(((float *)ty.data)[0] == (p == 0 ? 0.0f : x[w - 1]));
        nn_tensor_free(&ty);
    }
    /* NaN and huge grid values must not reach an undefined float->int cast. Pixels with huge
     * coordinates: zeros padding reads nothing (exactly 0), border clamps into the image. Pixels with
     * NaN coordinates may give NaN (NaN in, NaN out) but nothing else odd. */
    for (int64_t i = 0; i < n * h * w; i++) {
        int huge = (i % (h * w)) % 2;
        grid[2 * i] = huge ? 1e30f : NAN;
        grid[2 * i + 1] = huge ? -1e30f : NAN;
    }
    for (int m = 0; m < 3; m++)
        for (int p = 0; p < 2; p++) {
            int ok = 1;
            tb_node_init(&t, "GridSample", 16);
            tb_attr_str(&t, "mode", modes[m]);
            tb_attr_str(&t, "padding_mode", pads[p]);
            memset(&ty, 0, sizeof(ty));
            r = run2(&t, in, 2, out, 1, &e);
            for (int64_t i = 0; r == 0 && i < n * c * h * w; i++) {
                float v = ((float *)ty.data)[i];
                if ((i % (h * w)) % 2)
                    ok &= p == 0 ? v == 0.0f : fabsf(v) <= 1.0f;
                else
                    ok &= isnan(v) || fabsf(v) <= 1.0f;
            }
            CHECK_MSG(r == 0 && ok, "gridsample %s/%s with NaN/huge grid", modes[m], pads[p]);
            nn_tensor_free(&ty);
        }

    /* Random grid reaching outside the image: bilinear with zeros and border padding against a direct
     * double-precision reading of the definition (unnormalise, clamp for border, 4-neighbour blend). */
    for (int64_t i = 0; i < n * h * w * 2; i++)
        grid[i] = tb_randf(&seed, -1.3f, 1.3f);
    for (int p = 0; p < 2; p++)
        for (int ac = 0; ac < 2; ac++) {
            double *ref = malloc(sizeof(double) * n * c * h * w);
            for (int64_t b = 0; b < n; b++)
                for (int64_t o = 0; o < h * w; o++) {
                    const float *g = grid + (b * h * w + o) * 2;
                    double gx = ac ? (g[0] + 1.0) / 2 * (w - 1) : ((g[0] + 1.0) * w - 1) / 2;
                    double gy = ac ? (g[1] + 1.0) / 2 * (h - 1) : ((g[1] + 1.0) * h - 1) / 2;
                    if (p == 1) {
                        gx = fmin(fmax(gx, 0), w - 1);
                        gy = fmin(fmax(gy, 0), h - 1);
                    }
                    for (int64_t ci = 0; ci < c; ci++) {
                        const float *img = x + (b * c + ci) * h * w;
                        double v = 0;
                        int64_t x0 = (int64_t)floor(gx), y0 = (int64_t)floor(gy);
                        for (int k = 0; k < 4; k++) {
                            int64_t yy = y0 + k / 2, xx = x0 + k % 2;
                            double wy = k / 2 ? gy - y0 : 1 - (gy - y0), wx = k % 2 ? gx - x0 : 1 - (gx - x0);
                            if (yy >= 0 && yy < h && xx >= 0 && xx < w)
                                v += wy * wx * img[yy * w + xx];
                        }
                        ref[(b * c + ci) * h * w + o] = v;
                    }
                }
            tb_node_init(&t, "GridSample", 16);
            tb_attr_str(&t, "padding_mode", pads[p]);
            tb_attr_int(&t, "align_corners", ac);
            memset(&ty, 0, sizeof(ty));
            r = run2(&t, in, 2, out, 1, &e);
            CHECK_MSG(r == 0, "gridsample random: %s", e.msg);
            if (r == 0)
                CHECK_MSG(max_err(ty.data, ref, n * c * h * w) < 1e-5, "gridsample %s align %d err %g", pads[p], ac,
                          max_err(ty.data, ref, n * c * h * w));
            nn_tensor_free(&ty);
            free(ref);
        }
    free(x);
    free(grid);
}

/* ----------------------------------------------- Depth/Space, norms, LRN ---- */

static void test_depth_space(void)
{
    const int64_t n = 2, c = 3, h = 6, w = 9, b = 3;
    float *x = rand_buf(n * c * h * w, -1, 1);
    nn_tensor tx = tb_tensor(NN_DT_FLOAT, 4, (int64_t[]){ n, c, h, w }, x), td, tr;
    nn_tensor *in[1], *out[1];
    tb_node t;
    fp_err e;
    int r;
    static const char *modes[] = { "DCR", "CRD" };

    for (int m = 0; m < 2; m++) {
        memset(&td, 0, sizeof(td));
        memset(&tr, 0, sizeof(tr));
        tb_node_init(&t, "SpaceToDepth", 13);
        tb_attr_int(&t, "blocksize", b);
        in[0] = &tx;
        out[0] = &td;
        r = run2(&t, in, 1, out, 1, &e);
        CHECK_MSG(r == 0 && td.dims[1] == c * b * b && td.dims[2] == h / b, "s2d: %s", e.msg);
        if (m == 1 && r == 0) {
            /* CRD: channel c*b*b + i*b + j holds pixel (h*b+i, w*b+j) of channel c; build that input. */
            float *perm = malloc(nn_tensor_nbytes(&td));
            const float *s = td.data;
            for (int64_t bn = 0; bn < n; bn++)
                for (int64_t ci = 0; ci < c; ci++)
                    for (int64_t k = 0; k < b * b; k++)
                        memcpy(perm + ((bn * c * b * b) + ci * b * b + k) * (h / b) * (w / b),
                               s + ((bn * c * b * b) + k * c + ci) * (h / b) * (w / b), sizeof(float) * (h / b) * (w / b));
            memcpy(td.data, perm, nn_tensor_nbytes(&td));
            free(perm);
        }
        tb_node_init(&t, "DepthToSpace", 13);
        tb_attr_int(&t, "blocksize", b);
        tb_attr_str(&t, "mode", modes[m]);
        in[0] = &td;
        out[0] = &tr;
        if (r == 0) {
            r = run2(&t, in, 1, out, 1, &e);
            CHECK_MSG(r == 0, "d2s: %s", e.msg);
            if (r == 0)
                CHECK_MSG(!memcmp(tr.data, x, sizeof(float) * n * c * h * w), "%s(SpaceToDepth(x)) != x", modes[m]);
        }
        nn_tensor_free(&td);
        nn_tensor_free(&tr);
    }
    free(x);
}

static void test_norms(void)
{
    const int64_t n = 2, c = 6, h = 3, w = 129;
    float *x = rand_buf(n * c * h * w, -3, 5), *sc = rand_buf(c, 0.5f, 2), *bi = rand_buf(c, -1, 1);
    nn_tensor tx = tb_tensor(NN_DT_FLOAT, 4, (int64_t[]){ n, c, h, w }, x), ty, tm, tv;
    nn_tensor tsc = tb_tensor(NN_DT_FLOAT, 1, (int64_t[]){ c }, sc), tbi = tb_tensor(NN_DT_FLOAT, 1, (int64_t[]){ c }, bi);
    nn_tensor *in[3], *out[3];
    double *ref = malloc(sizeof(double) * n * c * h * w);
    tb_node t;
    fp_err e;
    int r;

    /* GroupNormalization, 3 groups, per-channel scale (opset 21 layout), against the definition. */
    for (int64_t b = 0; b < n; b++)
        for (int64_t g = 0; g < 3; g++) {
            int64_t len = 2 * h * w;
            const float *xp = x + (b * c + g * 2) * h * w;
            double s = 0, ss = 0;
            for (int64_t i = 0; i < len; i++)
                s += xp[i];
            s /= len;
            for (int64_t i = 0; i < len; i++)
                ss += (xp[i] - s) * (xp[i] - s);
            ss /= len;
            for (int64_t i = 0; i < len; i++) {
                int64_t ch = g * 2 + i / (h * w);
                ref[(b * c + g * 2) * h * w + i] = (xp[i] - s) / sqrt(ss + 1e-5) * sc[ch] + bi[ch];
            }
        }
    tb_node_init(&t, "GroupNormalization", 21);
    tb_attr_int(&t, "num_groups", 3);
    in[0] = &tx;
    in[1] = &tsc;
    in[2] = &tbi;
    memset(&ty, 0, sizeof(ty));
    out[0] = &ty;
    r = run2(&t, in, 3, out, 1, &e);
    CHECK_MSG(r == 0 && max_err(ty.data, ref, n * c * h * w) < 1e-5, "groupnorm: %s", e.msg);
    nn_tensor_free(&ty);

    /* LayerNormalization over the last two dims with a Scale broadcast from [129] and Mean/InvStdDev. */
    {
        float *ls = rand_buf(w, 0.5f, 2);
        nn_tensor tls = tb_tensor(NN_DT_FLOAT, 1, (int64_t[]){ w }, ls);
        double *mref = malloc(sizeof(double) * n * c);
        for (int64_t r0 = 0; r0 < n * c; r0++) {
            const float *xp = x + r0 * h * w;
            double s = 0, ss = 0;
            for (int64_t i = 0; i < h * w; i++)
                s += xp[i];
            s /= h * w;
            for (int64_t i = 0; i < h * w; i++)
                ss += (xp[i] - s) * (xp[i] - s);
            ss /= h * w;
            mref[r0] = s;
            for (int64_t i = 0; i < h * w; i++)
                ref[r0 * h * w + i] = (xp[i] - s) / sqrt(ss + 1e-5) * ls[i % w];
        }
        tb_node_init(&t, "LayerNormalization", 17);
        tb_attr_int(&t, "axis", -2);
        in[1] = &tls;
        memset(&ty, 0, sizeof(ty));
        memset(&tm, 0, sizeof(tm));
        memset(&tv, 0, sizeof(tv));
        out[1] = &tm;
        out[2] = &tv;
        r = run2(&t, in, 2, out, 3, &e);
        CHECK_MSG(r == 0, "layernorm: %s", e.msg);
        if (r == 0) {
            CHECK(tm.ndim == 4 && tm.dims[1] == c && tm.dims[2] == 1 && tm.dims[3] == 1);
            CHECK_MSG(max_err(ty.data, ref, n * c * h * w) < 1e-5, "layernorm err %g",
                      max_err(ty.data, ref, n * c * h * w));
            CHECK(max_err(tm.data, mref, n * c) < 1e-6);
        }
        nn_tensor_free(&ty);
        nn_tensor_free(&tm);
        nn_tensor_free(&tv);
        free(ls);
        free(mref);
    }

    /* InstanceNormalization on 1x1 planes: zero variance, so y = B exactly. */
    {
        nn_tensor t1 = tb_tensor(NN_DT_FLOAT, 4, (int64_t[]){ 1, c, 1, 1 }, x);
        int ok = 1;
        tb_node_init(&t, "InstanceNormalization", 6);
        in[0] = &t1;
        in[1] = &tsc;
        in[2] = &tbi;
        memset(&ty, 0, sizeof(ty));
        out[0] = &ty;
        r = run2(&t, in, 3, out, 1, &e);
        CHECK_MSG(r == 0, "instancenorm: %s", e.msg);
        for (int64_t i = 0; r == 0 && i < c; i++)
            ok &= ((float *)ty.data)[i] == bi[i];
        CHECK(ok);
        nn_tensor_free(&ty);
    }
    free(x);
    free(sc);
    free(bi);
    free(ref);
}

/* ---------------------------------------------------------- Bad input ---- */

static void test_errors(void)
{
    float buf[64] = { 0 };
    nn_tensor tx = tb_tensor(NN_DT_FLOAT, 4, (int64_t[]){ 1, 3, 4, 4 }, buf);
    nn_tensor tw = tb_tensor(NN_DT_FLOAT, 4, (int64_t[]){ 2, 2, 3, 3 }, buf), ty;
    nn_tensor ti = tb_tensor(NN_DT_INT32, 4, (int64_t[]){ 1, 3, 4, 4 }, buf);
    nn_tensor *in[2] = { &tx, &tw }, *out[1] = { &ty };
    tb_node t;
    fp_err e;
    int r;

    memset(&ty, 0, sizeof(ty));
    tb_node_init(&t, "Conv", 17);
    fp_err_clear(&e);
    r = nn_op_find("", "Conv")->infer(&t.node, in, 2, out, 1, &e);
    CHECK_EQ_INT(r, FP_EMODEL);
    CHECK_MSG(strstr(e.msg, "node 'test' (Conv)") && strstr(e.msg, "group"), "message: %s", e.msg);

    in[0] = &ti;
    tw.dims[1] = 3;
    fp_err_clear(&e);
    r = nn_op_find("", "Conv")->infer(&t.node, in, 2, out, 1, &e);
    CHECK_EQ_INT(r, FP_EUNSUPPORTED);
    CHECK_MSG(strstr(e.msg, "int32") != NULL, "message: %s", e.msg);

    in[0] = &tx;
    tb_node_init(&t, "MaxPool", 12);
    fp_err_clear(&e);
    r = nn_op_find("", "MaxPool")->infer(&t.node, in, 1, out, 1, &e);
    CHECK_EQ_INT(r, FP_EMODEL);
    CHECK(strstr(e.msg, "kernel_shape") != NULL);

    tb_node_init(&t, "Resize", 13);
    tb_attr_str(&t, "mode", "lanczos");
    fp_err_clear(&e);
    r = nn_op_find("", "Resize")->infer(&t.node, in, 1, out, 1, &e);
    CHECK_EQ_INT(r, FP_EUNSUPPORTED);
    CHECK(strstr(e.msg, "lanczos") != NULL);

    /* Kernel larger than the padded input: an empty output is refused, not computed. */
    tb_node_init(&t, "AveragePool", 11);
    tb_attr_ints(&t, "kernel_shape", 2, (int64_t[]){ 5, 5 });
    fp_err_clear(&e);
    r = nn_op_find("", "AveragePool")->infer(&t.node, in, 1, out, 1, &e);
    CHECK_EQ_INT(r, FP_EMODEL);
}

int main(void)
{
    printf("test_ops_b: seed 0x%016llx\n", (unsigned long long)seed);
    test_conv();
    test_conv_transpose();
    test_deform_conv();
    test_matmul();
    test_gemm();
    test_pool();
    test_pool_int8();
    test_resize();
    test_grid_sample();
    test_depth_space();
    test_norms();
    test_errors();
    return fp_test_finish("ops_b");
}
