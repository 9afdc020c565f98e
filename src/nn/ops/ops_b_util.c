/*
 * ops_b_util — shared sliding-window geometry, dtype checks and the GEMM wrapper of the group-b
 * operators. See ops_b_util.h. Owns no state.
 */
#include "nn/ops/ops_b_util.h"

#include <cblas.h>
#include <string.h>

static int64_t div_ceil(int64_t a, int64_t b)
{
    return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

int opsb_window_init(opsb_window *w, const nn_node *n, const nn_tensor *x, const int64_t *kshape,
                     int ceil_mode, fp_err *e)
{
    int nsp = x->ndim - 2, cnt, off, i;
    const int64_t *ks, *st, *dl, *pd;
    const char *ap;

    if (nsp < 1 || nsp > OPSB_MAX_SP)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "input has %d spatial dims; 1 to 3 are supported",
                             nsp < 0 ? 0 : nsp);
    memset(w, 0, sizeof(*w));
    w->nsp = nsp;
    off = OPSB_MAX_SP - nsp;
    for (i = 0; i < OPSB_MAX_SP; i++) {
        w->in[i] = w->k[i] = w->s[i] = w->d[i] = w->out[i] = 1;
    }
    ks = nn_attr_ints(n, "kernel_shape", &cnt);
    if (ks) {
        if (cnt != nsp)
            return nn_node_error(e, n, FP_EMODEL, "kernel_shape has %d values for %d spatial dims", cnt, nsp);
    } else if (kshape) {
        ks = kshape;
    } else {
        return nn_node_error(e, n, FP_EMODEL, "attribute kernel_shape is required");
    }
    st = nn_attr_ints(n, "strides", &cnt);
    if (st && cnt != nsp)
        return nn_node_error(e, n, FP_EMODEL, "strides has %d values for %d spatial dims", cnt, nsp);
    dl = nn_attr_ints(n, "dilations", &cnt);
    if (dl && cnt != nsp)
        return nn_node_error(e, n, FP_EMODEL, "dilations has %d values for %d spatial dims", cnt, nsp);
    pd = nn_attr_ints(n, "pads", &cnt);
    if (pd && cnt != 2 * nsp)
        return nn_node_error(e, n, FP_EMODEL, "pads has %d values for %d spatial dims", cnt, nsp);
    ap = nn_attr_str(n, "auto_pad", "NOTSET");

    for (i = 0; i < nsp; i++) {
        int j = off + i;
        int64_t ek, total;
        w->in[j] = x->dims[2 + i];
        w->k[j] = ks[i];
        w->s[j] = st ? st[i] : 1;
        w->d[j] = dl ? dl[i] : 1;
        if (w->k[j] < 1 || w->s[j] < 1 || w->d[j] < 1)
            return nn_node_error(e, n, FP_EMODEL, "kernel %lld, stride %lld, dilation %lld: all must be >= 1",
                                 (long long)w->k[j], (long long)w->s[j], (long long)w->d[j]);
        ek = (w->k[j] - 1) * w->d[j] + 1;
        if (!strcmp(ap, "NOTSET")) {
            w->pb[j] = pd ? pd[i] : 0;
            w->pe[j] = pd ? pd[i + nsp] : 0;
            if (w->pb[j] < 0 || w->pe[j] < 0)
                return nn_node_error(e, n, FP_EMODEL, "negative pads are not valid");
            total = w->in[j] + w->pb[j] + w->pe[j] - ek;
            if (total < 0)
                return nn_node_error(e, n, FP_EMODEL,
                                     "kernel extent %lld exceeds padded input %lld on spatial dim %d",
                                     (long long)ek, (long long)(w->in[j] + w->pb[j] + w->pe[j]), i);
            if (ceil_mode) {
                w->out[j] = div_ceil(total, w->s[j]) + 1;
                /* PyTorch/ORT rule: the last window must start inside the input or the left padding. */
                if ((w->out[j] - 1) * w->s[j] >= w->in[j] + w->pb[j])
                    w->out[j]--;
            } else {
                w->out[j] = total / w->s[j] + 1;
            }
        } else if (!strcmp(ap, "VALID")) {
            total = w->in[j] - ek;
            if (total < 0)
                return nn_node_error(e, n, FP_EMODEL, "kernel extent %lld exceeds input %lld (auto_pad VALID)",
                                     (long long)ek, (long long)w->in[j]);
            w->out[j] = (ceil_mode ? div_ceil(total, w->s[j]) : total / w->s[j]) + 1;
        } else if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
            w->out[j] = div_ceil(w->in[j], w->s[j]);
            total = (w->out[j] - 1) * w->s[j] + ek - w->in[j];
            if (total < 0)
                total = 0;
            if (ap[5] == 'U') {
                w->pb[j] = total / 2;
                w->pe[j] = total - total / 2;
            } else {
                w->pb[j] = total - total / 2;
                w->pe[j] = total / 2;
            }
        } else {
            return nn_node_error(e, n, FP_EMODEL, "unknown auto_pad '%s'", ap);
        }
        if (w->out[j] < 1)
            return nn_node_error(e, n, FP_EMODEL, "output spatial dim %d would be empty", i);
    }
    return 0;
}

int opsb_require_float(const nn_node *n, nn_tensor *const *in, int nin, unsigned mask, fp_err *e)
{
    for (int i = 0; i < nin; i++) {
        if (!(mask & (1u << i)) || !in[i])
            continue;
        if (in[i]->dtype != NN_DT_FLOAT)
            return nn_node_error(e, n, FP_EUNSUPPORTED, "input %d has dtype %s; the CPU kernel takes float32",
                                 i, nn_dtype_name(in[i]->dtype));
    }
    return 0;
}

int opsb_require_inputs(const nn_node *n, nn_tensor *const *in, int nin, int nreq, fp_err *e)
{
    if (nin < nreq)
        return nn_node_error(e, n, FP_EMODEL, "needs %d inputs, has %d", nreq, nin);
    for (int i = 0; i < nreq; i++)
        if (!in[i])
            return nn_node_error(e, n, FP_EMODEL, "input %d is required", i);
    return 0;
}

void opsb_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0) {
        /* BLAS leaves C untouched for k == 0 only when beta == 1; do the beta scaling ourselves. */
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                (blasint)m, (blasint)n, (blasint)k, alpha, a, (blasint)lda, b, (blasint)ldb, beta, c,
                (blasint)ldc);
}

int64_t opsb_window_count(int64_t start, int64_t k, int64_t d, int64_t lo, int64_t hi)
{
    int64_t c = 0;
    for (int64_t t = 0; t < k; t++) {
        int64_t p = start + t * d;
        c += p >= lo && p < hi;
    }
    return c;
}
