/*
 * ops_table_a — registration table of operator group 'a' (see nn_op.h). Group a: elementwise,
 * activations, reductions, Softmax, shape/index/logic ops, TopK, NonMaxSuppression. Group b: Conv,
 * ConvTranspose, DeformConv, normalisations, Gemm/MatMul, pooling, Resize/Upsample, GridSample,
 * DepthToSpace/SpaceToDepth. Adding an op adds its def here and nowhere else in the runtime.
 *
 * Group a's kernels live in family files (elementwise.c, reduce.c, softmax.c, movement.c, shape.c,
 * cast.c, topk.c, index.c, einsum.c, quant.c) rather than one file per op: the ops of a family share
 * their type dispatch and iteration, and each family file is still "one place" for its ops.
 */
#include "nn/nn_op.h"

#include <stddef.h>

extern const nn_op_def nn_op_relu;
extern const nn_op_def nn_op_leakyrelu;
extern const nn_op_def nn_op_sigmoid;
extern const nn_op_def nn_op_hardsigmoid;
extern const nn_op_def nn_op_hardswish;
extern const nn_op_def nn_op_tanh;
extern const nn_op_def nn_op_exp;
extern const nn_op_def nn_op_log;
extern const nn_op_def nn_op_sqrt;
extern const nn_op_def nn_op_erf;
extern const nn_op_def nn_op_neg;
extern const nn_op_def nn_op_abs;
extern const nn_op_def nn_op_sign;
extern const nn_op_def nn_op_floor;
extern const nn_op_def nn_op_ceil;
extern const nn_op_def nn_op_round;
extern const nn_op_def nn_op_reciprocal;
extern const nn_op_def nn_op_elu;
extern const nn_op_def nn_op_selu;
extern const nn_op_def nn_op_celu;
extern const nn_op_def nn_op_thresholdedrelu;
extern const nn_op_def nn_op_softplus;
extern const nn_op_def nn_op_softsign;
extern const nn_op_def nn_op_shrink;
extern const nn_op_def nn_op_sin;
extern const nn_op_def nn_op_cos;
extern const nn_op_def nn_op_tan;
extern const nn_op_def nn_op_asin;
extern const nn_op_def nn_op_acos;
extern const nn_op_def nn_op_atan;
extern const nn_op_def nn_op_sinh;
extern const nn_op_def nn_op_cosh;
extern const nn_op_def nn_op_asinh;
extern const nn_op_def nn_op_acosh;
extern const nn_op_def nn_op_atanh;
extern const nn_op_def nn_op_add;
extern const nn_op_def nn_op_sub;
extern const nn_op_def nn_op_mul;
extern const nn_op_def nn_op_div;
extern const nn_op_def nn_op_pow;
extern const nn_op_def nn_op_mod;
extern const nn_op_def nn_op_prelu;
extern const nn_op_def nn_op_equal;
extern const nn_op_def nn_op_less;
extern const nn_op_def nn_op_lessorequal;
extern const nn_op_def nn_op_greater;
extern const nn_op_def nn_op_greaterorequal;
extern const nn_op_def nn_op_and;
extern const nn_op_def nn_op_or;
extern const nn_op_def nn_op_xor;
extern const nn_op_def nn_op_max;
extern const nn_op_def nn_op_min;
extern const nn_op_def nn_op_sum;
extern const nn_op_def nn_op_mean;
extern const nn_op_def nn_op_clip;
extern const nn_op_def nn_op_where;
extern const nn_op_def nn_op_not;
extern const nn_op_def nn_op_isnan;
extern const nn_op_def nn_op_isinf;
extern const nn_op_def nn_op_reducesum;
extern const nn_op_def nn_op_reducemean;
extern const nn_op_def nn_op_reducemax;
extern const nn_op_def nn_op_reducemin;
extern const nn_op_def nn_op_reduceprod;
extern const nn_op_def nn_op_reducel1;
extern const nn_op_def nn_op_reducel2;
extern const nn_op_def nn_op_reducesumsquare;
extern const nn_op_def nn_op_reducelogsum;
extern const nn_op_def nn_op_reducelogsumexp;
extern const nn_op_def nn_op_argmax;
extern const nn_op_def nn_op_argmin;
extern const nn_op_def nn_op_softmax;
extern const nn_op_def nn_op_logsoftmax;
extern const nn_op_def nn_op_hardmax;
extern const nn_op_def nn_op_concat;
extern const nn_op_def nn_op_split;
extern const nn_op_def nn_op_slice;
extern const nn_op_def nn_op_gather;
extern const nn_op_def nn_op_gatherelements;
extern const nn_op_def nn_op_transpose;
extern const nn_op_def nn_op_expand;
extern const nn_op_def nn_op_tile;
extern const nn_op_def nn_op_pad;
extern const nn_op_def nn_op_reshape;
extern const nn_op_def nn_op_flatten;
extern const nn_op_def nn_op_squeeze;
extern const nn_op_def nn_op_unsqueeze;
extern const nn_op_def nn_op_identity;
extern const nn_op_def nn_op_dropout;
extern const nn_op_def nn_op_shape;
extern const nn_op_def nn_op_size;
extern const nn_op_def nn_op_constant;
extern const nn_op_def nn_op_constantofshape;
extern const nn_op_def nn_op_range;
extern const nn_op_def nn_op_cast;
extern const nn_op_def nn_op_castlike;
extern const nn_op_def nn_op_topk;
extern const nn_op_def nn_op_nonmaxsuppression;
extern const nn_op_def nn_op_gathernd;
extern const nn_op_def nn_op_scatterelements;
extern const nn_op_def nn_op_scatternd;
extern const nn_op_def nn_op_onehot;
extern const nn_op_def nn_op_trilu;
extern const nn_op_def nn_op_cumsum;
extern const nn_op_def nn_op_bitshift;
extern const nn_op_def nn_op_einsum;
extern const nn_op_def nn_op_quantizelinear;
extern const nn_op_def nn_op_dequantizelinear;
extern const nn_op_def nn_op_dynamicquantizelinear;
extern const nn_op_def nn_op_hannwindow;
extern const nn_op_def nn_op_hammingwindow;
extern const nn_op_def nn_op_blackmanwindow;
extern const nn_op_def nn_op_nonzero;
extern const nn_op_def nn_op_compress;
extern const nn_op_def nn_op_unique;

#define NN_OPS_GROUP_A_COUNT 115

const nn_op_def *const nn_ops_group_a[] = {
    &nn_op_relu,
    &nn_op_leakyrelu,
    &nn_op_sigmoid,
    &nn_op_hardsigmoid,
    &nn_op_hardswish,
    &nn_op_tanh,
    &nn_op_exp,
    &nn_op_log,
    &nn_op_sqrt,
    &nn_op_erf,
    &nn_op_neg,
    &nn_op_abs,
    &nn_op_sign,
    &nn_op_floor,
    &nn_op_ceil,
    &nn_op_round,
    &nn_op_reciprocal,
    &nn_op_elu,
    &nn_op_selu,
    &nn_op_celu,
    &nn_op_thresholdedrelu,
    &nn_op_softplus,
    &nn_op_softsign,
    &nn_op_shrink,
    &nn_op_sin,
    &nn_op_cos,
    &nn_op_tan,
    &nn_op_asin,
    &nn_op_acos,
    &nn_op_atan,
    &nn_op_sinh,
    &nn_op_cosh,
    &nn_op_asinh,
    &nn_op_acosh,
    &nn_op_atanh,
    &nn_op_add,
    &nn_op_sub,
    &nn_op_mul,
    &nn_op_div,
    &nn_op_pow,
    &nn_op_mod,
    &nn_op_prelu,
    &nn_op_equal,
    &nn_op_less,
    &nn_op_lessorequal,
    &nn_op_greater,
    &nn_op_greaterorequal,
    &nn_op_and,
    &nn_op_or,
    &nn_op_xor,
    &nn_op_max,
    &nn_op_min,
    &nn_op_sum,
    &nn_op_mean,
    &nn_op_clip,
    &nn_op_where,
    &nn_op_not,
    &nn_op_isnan,
    &nn_op_isinf,
    &nn_op_reducesum,
    &nn_op_reducemean,
    &nn_op_reducemax,
    &nn_op_reducemin,
    &nn_op_reduceprod,
    &nn_op_reducel1,
    &nn_op_reducel2,
    &nn_op_reducesumsquare,
    &nn_op_reducelogsum,
    &nn_op_reducelogsumexp,
    &nn_op_argmax,
    &nn_op_argmin,
    &nn_op_softmax,
    &nn_op_logsoftmax,
    &nn_op_hardmax,
    &nn_op_concat,
    &nn_op_split,
    &nn_op_slice,
    &nn_op_gather,
    &nn_op_gatherelements,
    &nn_op_transpose,
    &nn_op_expand,
    &nn_op_tile,
    &nn_op_pad,
    &nn_op_reshape,
    &nn_op_flatten,
    &nn_op_squeeze,
    &nn_op_unsqueeze,
    &nn_op_identity,
    &nn_op_dropout,
    &nn_op_shape,
    &nn_op_size,
    &nn_op_constant,
    &nn_op_constantofshape,
    &nn_op_range,
    &nn_op_cast,
    &nn_op_castlike,
    &nn_op_topk,
    &nn_op_nonmaxsuppression,
    &nn_op_gathernd,
    &nn_op_scatterelements,
    &nn_op_scatternd,
    &nn_op_onehot,
    &nn_op_trilu,
    &nn_op_cumsum,
    &nn_op_bitshift,
    &nn_op_einsum,
    &nn_op_quantizelinear,
    &nn_op_dequantizelinear,
    &nn_op_dynamicquantizelinear,
    &nn_op_hannwindow,
    &nn_op_hammingwindow,
    &nn_op_blackmanwindow,
    &nn_op_nonzero,
    &nn_op_compress,
    &nn_op_unique,
    NULL
};

_Static_assert(sizeof(nn_ops_group_a) / sizeof(nn_ops_group_a[0]) == NN_OPS_GROUP_A_COUNT + 1,
               "group a table and count disagree");
