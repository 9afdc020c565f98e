/*
 * ops_b_util — helpers shared by the group-b operator files (convolution, pooling, normalisation,
 * resampling): dtype checks, the sliding-window geometry (kernel, strides, dilations, pads, auto_pad,
 * ceil_mode) that Conv and the pools agree on, a GEMM wrapper, the band size of column matrices,
 * and two small loop helpers (valid column range, 4-wide axpy).
 *
 * Owns nothing at run time (no allocation). Does not own ConvTranspose's output-shape rules (they
 * invert this geometry and live in conv_transpose.c) nor the registry (ops_table_b.c).
 */
#ifndef NN_OPS_B_UTIL_H
#define NN_OPS_B_UTIL_H

#include "nn/nn_op.h"

#include <stdint.h>
#include <string.h>

/* Sliding-window ops handle 1, 2 or 3 spatial dims; shorter ones are padded to 3 with size-1 dims so
 * one loop nest serves all. */
#define OPSB_MAX_SP 3

/* im2col/column matrices are built in bands so they stay near L2 size: a band holds about
 * opsb_col_max floats (64 Ki floats = 256 KiB; measured 2x faster than whole-image im2col on a
 * 3->16 3x3 conv at 256x256), but never fewer than opsb_col_min_cols columns so the GEMM on it stays
 * efficient (and threads well in OpenBLAS). Bands depend only on the shape. The op tests build with
 * tiny values (they set these two variables) so the banded path is what they exercise. */
extern int64_t opsb_col_max;      /* (int64_t)1 << 16 */
extern int64_t opsb_col_min_cols; /* 1024 */

typedef struct opsb_window {
    int nsp;                      /* spatial dims of the op (1..3) */
    int64_t in[OPSB_MAX_SP];      /* input spatial sizes, leading unused dims = 1 */
    int64_t k[OPSB_MAX_SP];       /* kernel sizes */
    int64_t s[OPSB_MAX_SP];       /* strides */
    int64_t d[OPSB_MAX_SP];       /* dilations */
    int64_t pb[OPSB_MAX_SP];      /* padding at the beginning */
    int64_t pe[OPSB_MAX_SP];      /* padding at the end */
    int64_t out[OPSB_MAX_SP];     /* output spatial sizes */
} opsb_window;

/* Fill w from the node's kernel_shape (or kshape when the kernel comes from a weight tensor; NULL to
 * require the attribute), strides, dilations, pads and auto_pad, for the spatial dims of x (dims 2..).
 * ceil_mode applies the pooling ceil rule. Returns 0, or FP_EMODEL / FP_EUNSUPPORTED with a message
 * naming the node (bad attribute lengths, empty output, more than 3 spatial dims). */
int opsb_window_init(opsb_window *w, const nn_node *n, const nn_tensor *x, const int64_t *kshape,
                     int ceil_mode, fp_err *e);

/* Return 0 if every present input in[i] with bit i set in mask is float32, else FP_EUNSUPPORTED naming
 * the node and dtype (the runtime upcasts fp16 before the CPU backend sees it). */
int opsb_require_float(const nn_node *n, nn_tensor *const *in, int nin, unsigned mask, fp_err *e);

/* Return 0 if inputs below nreq are present, else FP_EMODEL naming the node. */
int opsb_require_inputs(const nn_node *n, nn_tensor *const *in, int nin, int nreq, fp_err *e);

/* C[m x n] = alpha * op(A) * op(B) + beta * C, row-major, through single-threaded OpenBLAS calls on
 * blocks of C spread over ctx's threads (blocks depend on the shape only: results are identical at any
 * thread count). lda/ldb/ldc as cblas. */
void opsb_sgemm(nn_cpu_ctx *ctx, int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

/* Number of positions of a window (start at `start` in input coordinates, k taps dilated by d) that fall
 * in [lo, hi). */
int64_t opsb_window_count(int64_t start, int64_t k, int64_t d, int64_t lo, int64_t hi);

/* y[i] += a·x[i] for i in [0, n): four lanes at a time with GCC/Clang vector types, because the
 * build's -O2 does not auto-vectorise loops of unknown length. Every element gets exactly the scalar
 * loop's arithmetic (one multiply, one add), so results do not depend on n's alignment or split. */
typedef float opsb_v4f __attribute__((vector_size(16)));

static inline void opsb_axpy(float *restrict y, const float *restrict x, float a, int64_t n)
{
    int64_t i = 0;
    opsb_v4f va = { a, a, a, a };
    for (; i + 4 <= n; i += 4) {
        opsb_v4f vx, vy;
        memcpy(&vx, x + i, sizeof(vx));
        memcpy(&vy, y + i, sizeof(vy));
        vy += va * vx;
        memcpy(y + i, &vy, sizeof(vy));
    }
    for (; i < n; i++)
        y[i] += a * x[i];
}

/* Band height in rows of row_len columns for a column matrix with col_rows rows, out of rows_total. */
static inline int64_t opsb_band_rows(int64_t rows_total, int64_t row_len, int64_t col_rows)
{
    int64_t cols = opsb_col_max / (col_rows > 0 ? col_rows : 1), band;
    if (cols < opsb_col_min_cols)
        cols = opsb_col_min_cols;
    band = cols / (row_len > 0 ? row_len : 1);
    return band < 1 ? 1 : band > rows_total ? rows_total : band;
}

/* Output columns [*lo, *hi) whose input column ix0 + ox·stride lies in [0, in_len), for ox in
 * [0, out_len). Lets row loops skip padding without a branch per element. */
static inline void opsb_row_range(int64_t ix0, int64_t stride, int64_t in_len, int64_t out_len, int64_t *lo,
                                  int64_t *hi)
{
    int64_t l = ix0 >= 0 ? 0 : (-ix0 + stride - 1) / stride;
    int64_t h = ix0 > in_len - 1 ? 0 : (in_len - 1 - ix0) / stride + 1;
    if (h > out_len)
        h = out_len;
    if (l > h)
        l = h;
    *lo = l;
    *hi = h;
}

#endif
