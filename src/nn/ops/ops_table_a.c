/*
 * ops_table_a — registration table of operator group 'a' (see nn_op.h). Group a: elementwise,
 * activations, reductions, Softmax, shape/index/logic ops, TopK, NonMaxSuppression. Group b: Conv,
 * ConvTranspose, DeformConv, normalisations, Gemm/MatMul, pooling, Resize/Upsample, GridSample,
 * DepthToSpace/SpaceToDepth. Adding an op adds its def here and nowhere else in the runtime.
 */
#include "nn/nn_op.h"

#include <stddef.h>

const nn_op_def *const nn_ops_group_a[] = {
    NULL
};
