/*
 * ops_b_util — shared sliding-window geometry, dtype checks and the GEMM wrapper of the group-b
 * operators. See ops_b_util.h. Owns no state.
 */
#include "nn/ops/ops_b_util.h"

#include <cblas.h>
#include <string.h>

/* Band limits of the im2col/column matrices (see ops_b_util.h); variables rather than constants only
 * so the op tests can shrink them and drive every conv through the banded path. */
int64_t opsb_col_max = (int64_t)1 << 16;
int64_t opsb_col_min_cols = 1024;

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

typedef struct sgemm_job {
    int ta, tb;
    int64_t m, n, k, lda, ldb, ldc, rows, cols, nbn;
    float alpha, beta;
    const float *a, *b;
    float *c;
} sgemm_job;

/* One block of C: rows [i0, i0+rows) x columns [j0, j0+cols), a single-threaded OpenBLAS call. */
static void sgemm_blocks(void *arg, int64_t begin, int64_t end)
{
    const sgemm_job *j = arg;
    for (int64_t t = begin; t < end; t++) {
        int64_t i0 = (t / j->nbn) * j->rows, j0 = (t % j->nbn) * j->cols;
        int64_t mr = j->m - i0 < j->rows ? j->m - i0 : j->rows;
        int64_t nc = j->n - j0 < j->cols ? j->n - j0 : j->cols;
        const float *a = j->ta ? j->a + i0 : j->a + i0 * j->lda;
        const float *b = j->tb ? j->b + j0 * j->ldb : j->b + j0;
        cblas_sgemm(CblasRowMajor, j->ta ? CblasTrans : CblasNoTrans, j->tb ? CblasTrans : CblasNoTrans,
                    (blasint)mr, (blasint)nc, (blasint)j->k, j->alpha, a, (blasint)j->lda, b, (blasint)j->ldb,
                    j->beta, j->c + i0 * j->ldc + j0, (blasint)j->ldc);
    }
}

/* OpenBLAS runs single-threaded (nn_cpu_ctx_bind_blas) and the parallelism is ours: C is cut into
 * blocks whose size depends only on the shape, never on the thread count, and the blocks are spread
 * over the context's threads. OpenBLAS's own threading partitions by its thread count, which changed
 * results in the last bits between 1 and 3 threads (nn.threads, BasicVSR++); this keeps them
 * byte-identical while --threads bounds every thread the runtime uses. */
#define SGEMM_BLOCK_COLS 256
#define SGEMM_BLOCK_ROWS 64
#define SGEMM_SPLIT_MIN_FLOPS ((int64_t)1 << 21)

void opsb_sgemm(nn_cpu_ctx *ctx, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
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
    sgemm_job j = { .ta = trans_a, .tb = trans_b, .m = m, .n = n, .k = k, .lda = lda, .ldb = ldb, .ldc = ldc,
                    .alpha = alpha, .beta = beta, .a = a, .b = b, .c = c, .rows = m, .cols = n };
    if (m * n * k >= SGEMM_SPLIT_MIN_FLOPS) {
        if (n > SGEMM_BLOCK_COLS)
            j.cols = SGEMM_BLOCK_COLS;
        if (m > SGEMM_BLOCK_ROWS && n <= SGEMM_BLOCK_COLS * 2)
            j.rows = SGEMM_BLOCK_ROWS;
    }
    j.nbn = (n + j.cols - 1) / j.cols;
    int64_t nblocks = ((m + j.rows - 1) / j.rows) * j.nbn;
    if (nblocks == 1)
        sgemm_blocks(&j, 0, 1);
    else
        nn_cpu_parallel_for(ctx, nblocks, sgemm_blocks, &j);
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
