/*
 * ops_table_b — registration table of operator group 'b' (see nn_op.h). Group a: elementwise,
 * activations, reductions, Softmax, shape/index/logic ops, TopK, NonMaxSuppression. Group b: Conv,
 * ConvTranspose, DeformConv, normalisations, Gemm/MatMul, pooling, Resize/Upsample, GridSample,
 * DepthToSpace/SpaceToDepth, LRN. Adding an op adds its def here and nowhere else in the runtime.
 */
#include "nn/nn_op.h"

#include <stddef.h>

extern const nn_op_def nn_op_conv, nn_op_conv_transpose, nn_op_deform_conv;
extern const nn_op_def nn_op_batch_norm, nn_op_instance_norm, nn_op_layer_norm, nn_op_group_norm, nn_op_lrn;
extern const nn_op_def nn_op_gemm, nn_op_matmul;
extern const nn_op_def nn_op_max_pool, nn_op_average_pool, nn_op_global_max_pool, nn_op_global_average_pool;
extern const nn_op_def nn_op_resize, nn_op_upsample, nn_op_grid_sample;
extern const nn_op_def nn_op_depth_to_space, nn_op_space_to_depth;

#define NN_OPS_B_COUNT 20

const nn_op_def *const nn_ops_group_b[] = {
    &nn_op_conv, &nn_op_conv_transpose, &nn_op_deform_conv,
    &nn_op_batch_norm, &nn_op_instance_norm, &nn_op_layer_norm, &nn_op_group_norm, &nn_op_lrn,
    &nn_op_gemm, &nn_op_matmul,
    &nn_op_max_pool, &nn_op_average_pool, &nn_op_global_max_pool, &nn_op_global_average_pool,
    &nn_op_resize, &nn_op_upsample, &nn_op_grid_sample,
    &nn_op_depth_to_space, &nn_op_space_to_depth,
    NULL
};

_Static_assert(sizeof(nn_ops_group_b) / sizeof(nn_ops_group_b[0]) == NN_OPS_B_COUNT,
               "update NN_OPS_B_COUNT when adding an op to group b");
