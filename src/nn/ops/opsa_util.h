/*
 * opsa_util — helpers private to the group-a operator files (elementwise, reductions, shape and
 * data-movement ops): dtype-generic element load/store, the broadcasting row iterator every
 * elementwise kernel runs on, axis lists read from attributes or inputs, and a threshold-guarded
 * parallel_for. Does not own the runtime's shared helpers (nn_broadcast_shape, nn_norm_axis live in
 * nn_op_util.c) or any kernel.
 */
#ifndef NN_OPS_OPSA_UTIL_H
#define NN_OPS_OPSA_UTIL_H

#include "nn/nn_op.h"

#include <stdint.h>

/* Below this many elements a kernel runs on the calling thread: waking workers costs more. */
#define OPSA_PAR_MIN 32768

/* ---- dtype classes ---- */
int opsa_dt_is_float(nn_dtype t);   /* float, double, float16, bfloat16 */
int opsa_dt_is_int(nn_dtype t);     /* signed and unsigned integers (not bool) */
int opsa_dt_is_numeric(nn_dtype t); /* float or int */

/* Element i of a host buffer of dtype t, converted. Integers load exactly into int64 (uint64 above
 * INT64_MAX wraps); floats load into double exactly. */
double opsa_load_f64(nn_dtype t, const void *p, int64_t i);
int64_t opsa_load_i64(nn_dtype t, const void *p, int64_t i);
/* Store v into element i. Float to integer truncates toward zero (numpy astype); out-of-range values
 * saturate instead of being undefined behaviour. Integer narrowing wraps (two's complement). */
void opsa_store_f64(nn_dtype t, void *p, int64_t i, double v);
void opsa_store_i64(nn_dtype t, void *p, int64_t i, int64_t v);

/* ---- broadcasting row iterator ----
 * Up to 3 inputs are broadcast against an output shape; adjacent dims that broadcast the same way are
 * merged, so a per-channel [1,C,1,1] against [N,C,H,W] runs rows of H*W with the channel value fixed.
 * A row kernel gets pointers to the first element of a run of n output elements and, per input, an
 * element stride of 1 (varies along the row) or 0 (fixed along the row). */
#define OPSA_MAX_IN 3

typedef void (*opsa_row_fn)(void *out, const void *const *in, const int64_t *stride, int64_t n,
                            const void *param);

typedef struct opsa_bcast {
    int ndim;                              /* merged rank, >= 1 */
    int64_t dims[NN_MAX_DIMS];
    int nin;
    int64_t stride[OPSA_MAX_IN][NN_MAX_DIMS]; /* element strides; 0 on broadcast dims */
    size_t in_esize[OPSA_MAX_IN], out_esize;
    const void *in[OPSA_MAX_IN];
    void *out;
    int64_t numel;
    opsa_row_fn row;
    const void *param;
} opsa_bcast;

/* Set up iteration of out (shape decides) over in[0..nin-1]; each input must be broadcastable to
 * out (checked by the op's infer; FP_EINTERNAL here if not). */
int opsa_bcast_init(opsa_bcast *b, nn_tensor *out, nn_tensor *const *in, int nin, opsa_row_fn row,
                    const void *param);
/* Run the whole iteration, in parallel when large. */
void opsa_bcast_run(opsa_bcast *b, nn_cpu_ctx *ctx);

/* Run fn over [0, n): directly when small or single-threaded, else nn_cpu_parallel_for. */
void opsa_parallel(nn_cpu_ctx *ctx, int64_t n, int64_t min_par,
                   void (*fn)(void *arg, int64_t begin, int64_t end), void *arg);

/* Broadcast shape of several tensors (NULL entries skipped) into out's shape. FP_EINVAL if not
 * broadcastable. */
int opsa_broadcast_many(nn_tensor *const *in, int nin, nn_tensor *out);

/* Read a 1-D int32/int64 host tensor into v (at most max values). Returns the count, or a negative
 * FP_E* code recorded against the node (input missing its value, wrong dtype, too long). */
int opsa_read_ints(const nn_node *n, const nn_tensor *t, const char *what, int64_t *v, int max,
                   fp_err *e);

/* Axis list of an op that takes it as an attribute before `input_opset` and as input `idx` from it.
 * Returns the count (0 = absent), or a negative code. Axes are normalised against rank and checked for
 * range and duplicates. */
int opsa_get_axes(const nn_node *n, nn_tensor *const *in, int nin, int idx, int input_opset, int rank,
                  int *axes, fp_err *e);

/* nn_tensor_set_shape for an op's output that records why it failed against the node (rank above
 * NN_MAX_DIMS, negative or overflowing dimension). Returns 0 or FP_EMODEL. */
int opsa_set_shape(const nn_node *n, fp_err *e, nn_tensor *t, int nd, const int64_t *dims);

/* Element count of a shape given as dims. */
int64_t opsa_dims_numel(const int64_t *dims, int nd);

/* Local def lookup by op type for family files whose defs carry extra data. */
#define OPSA_ARRAY_LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

#endif
