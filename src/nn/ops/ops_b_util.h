/*
 * ops_b_util — helpers shared by the group-b operator files (convolution, pooling, normalisation,
 * resampling): dtype checks, the sliding-window geometry (kernel, strides, dilations, pads, auto_pad,
 * ceil_mode) that Conv, DeformConv, AveragePool and MaxPool agree on, and a GEMM wrapper.
 *
 * Owns nothing at run time (no allocation). Does not own ConvTranspose's output-shape rules (they
 * invert this geometry and live in conv_transpose.c) nor the registry (ops_table_b.c).
 */
#ifndef NN_OPS_B_UTIL_H
#define NN_OPS_B_UTIL_H

#include "nn/nn_op.h"

#include <stdint.h>

/* Sliding-window ops handle 1, 2 or 3 spatial dims; shorter ones are padded to 3 with size-1 dims so
 * one loop nest serves all. */
#define OPSB_MAX_SP 3

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

/* C[m x n] = alpha * op(A) * op(B) + beta * C, row-major, through OpenBLAS. lda/ldb/ldc as cblas. */
void opsb_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

/* Number of positions of a window (start at `start` in input coordinates, k taps dilated by d) that fall
 * in [lo, hi). */
int64_t opsb_window_count(int64_t start, int64_t k, int64_t d, int64_t lo, int64_t hi);

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
