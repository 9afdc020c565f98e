/*
 * nn_fuse — the runtime's graph fusion pass, run once at load (after load-time folding), for every
 * backend: BatchNormalization folded into the Conv before it (new constant weights and bias), and a
 * Conv followed by an activation made one node, com.microsoft's FusedConv (the op ONNX Runtime uses
 * for the same rewrite: Conv's inputs and attributes plus `activation` and `activation_params`).
 * The CPU backend runs FusedConv as Conv then the activation in place, so the CPU twin, conformance
 * and the CPU-vs-CUDA checks keep covering the fused form; the CUDA backend applies the activation in
 * the same pass as the bias (src/nn/cuda/conv.cu).
 *
 * Owns: the rewrite rules, the FusedConv op definition and the activation table (shared with the CUDA
 * kernels through nn_act_apply). Does not own Conv itself (ops/conv.c) or planning (nn_runtime.c).
 */
#ifndef NN_FUSE_H
#define NN_FUSE_H

#include <math.h>

#include "nn/nn_graph.h"

#ifdef __CUDACC__
#define NN_HD __host__ __device__ __forceinline__
#else
#define NN_HD static inline
#endif

typedef enum nn_act {
    NN_ACT_NONE = 0,
    NN_ACT_RELU,
    NN_ACT_CLIP,        /* a = min, b = max */
    NN_ACT_HARDSWISH,
    NN_ACT_HARDSIGMOID, /* a = alpha, b = beta */
    NN_ACT_SIGMOID,
    NN_ACT_TANH,
    NN_ACT_LEAKYRELU,   /* a = alpha */
} nn_act;

/* The activation in fp32, written as the unfused CPU kernels compute it. */
NN_HD float nn_act_apply(int act, float x, float a, float b)
{
    switch (act) {
    case NN_ACT_RELU: return x > 0.f ? x : 0.f;
    case NN_ACT_CLIP: return x < a ? a : x > b ? b : x;
    case NN_ACT_HARDSWISH: {
        float t = x / 6.f + 0.5f;
        t = t < 0.f ? 0.f : t > 1.f ? 1.f : t;
        return x * t;
    }
    case NN_ACT_HARDSIGMOID: {
        float t = a * x + b;
        return t < 0.f ? 0.f : t > 1.f ? 1.f : t;
    }
    case NN_ACT_SIGMOID: return 1.f / (1.f + expf(-x));
    case NN_ACT_TANH: return tanhf(x);
    case NN_ACT_LEAKYRELU: return x >= 0.f ? x : a * x;
    default: return x;
    }
}

#ifdef __cplusplus
extern "C" {
#endif
/* Parse a FusedConv node's activation: returns 0 and sets act/a/b, or FP_EUNSUPPORTED (node named). */
int nn_fused_act(const nn_node *n, int *act, float *a, float *b, fp_err *e);

/* The fusion pass (see the top of this file). *nfused counts the nodes removed. Returns 0, or
 * FP_ENOMEM; a pattern that does not qualify is left alone. */
int nn_graph_fuse(nn_graph *g, int *nfused, fp_err *e);

extern const nn_op_def nn_op_fused_conv;
#ifdef __cplusplus
}
#endif

#endif
