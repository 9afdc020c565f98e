/*
 * framepipe.h — the public C API of framepipe's ONNX runtime.
 *
 * Owns: the user-facing types (fp_tensor, fp_value_info, fp_model_opts) and functions to load an ONNX
 * model, describe its inputs/outputs and run it. Errors follow core/fp_error.h: functions return 0 or a
 * negative FP_E* code and fill the caller's fp_err with one line naming the model, the stage and, where
 * one is at fault, the node and its op ("rvm.onnx: run: node 'Conv_12' (Conv): ...").
 *
 * Threads: one fp_model runs one fp_model_run() at a time (it owns one set of activation buffers);
 * load several models, or serialise, for concurrent runs. Different models are independent.
 */
#ifndef FRAMEPIPE_H
#define FRAMEPIPE_H

#include <stddef.h>
#include <stdint.h>

#include "core/fp_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Values equal ONNX TensorProto.DataType. */
typedef enum fp_dtype {
    FP_DTYPE_UNDEFINED = 0,
    FP_DTYPE_FLOAT32 = 1,
    FP_DTYPE_UINT8 = 2,
    FP_DTYPE_INT8 = 3,
    FP_DTYPE_UINT16 = 4,
    FP_DTYPE_INT16 = 5,
    FP_DTYPE_INT32 = 6,
    FP_DTYPE_INT64 = 7,
    FP_DTYPE_BOOL = 9,
    FP_DTYPE_FLOAT16 = 10,
    FP_DTYPE_FLOAT64 = 11,
    FP_DTYPE_UINT32 = 12,
    FP_DTYPE_UINT64 = 13,
    FP_DTYPE_BFLOAT16 = 16,
} fp_dtype;

typedef enum fp_device {
    FP_DEVICE_HOST = 0,
    FP_DEVICE_CUDA = 1,   /* data is a CUDA device pointer of the model's device */
} fp_device;

#define FP_MAX_DIMS 8

/* A tensor the caller owns. `owned` is set only on outputs the runtime allocated (data == NULL on
 * entry to fp_model_run): release those with fp_tensor_free(). */
typedef struct fp_tensor {
    fp_dtype dtype;
    int ndim;
    int64_t dims[FP_MAX_DIMS];
    void *data;
    fp_device device;
    int owned;
} fp_tensor;

/* Description of a model input or output. Strings point into the model: valid until fp_model_freep.
 * Unknown dims are -1, with their symbolic name in dim_names[i] when the file gives one. */
typedef struct fp_value_info {
    const char *name;
    fp_dtype dtype;
    int ndim;              /* -1 if the file declares no shape */
    int64_t dims[FP_MAX_DIMS];
    const char *dim_names[FP_MAX_DIMS];
} fp_value_info;

typedef struct fp_model_opts {
    const char *backend;       /* "cpu" (default) or "cuda" */
    int threads;               /* CPU worker threads, 0 = all cores */
    int allow_cpu_fallback;    /* run ops the backend lacks on the CPU (one warning) instead of failing */
    int device_id;             /* CUDA device ordinal */
    int fp16;                  /* CUDA: compute float tensors in fp16 (fp32 accumulation) */
    void *cuda_stream;         /* CUDA: cudaStream_t to run on, NULL = the backend's own */
    int use_cuda_graph;        /* CUDA: capture fixed-shape runs as a CUDA graph */
    int max_plans;             /* plans cached per model (one per input-shape key), 0 = 8 */
    int bf16;                  /* CUDA: bfloat16 storage instead of float16 (wins over fp16) */
    int no_fuse;               /* keep the graph as loaded: no Conv+BatchNorm / Conv+activation fusion */
} fp_model_opts;

typedef struct fp_model fp_model;

typedef struct fp_model_stats {
    int nodes;                     /* nodes left to plan (after dead-node removal and load-time folding) */
    int load_folded;               /* nodes evaluated once at load: all their inputs were initializers */
    int last_plan_steps;           /* nodes the last plan runs (the rest were folded at plan time) */
    int last_plan_folded;          /* nodes evaluated at plan time (constants, shape subgraphs) */
    size_t last_plan_arena_bytes;  /* peak activation memory of the last plan (one arena) */
    size_t last_plan_naive_bytes;  /* what one buffer per value would have taken, for comparison */
    int plans_cached;
    int64_t parameters;            /* elements in initializers */
    int opset;
    /* Storage of the last plan's float32 activations: FP_DTYPE_FLOAT16/BFLOAT16 when the fp16/bf16
     * option took effect on a device backend, else FP_DTYPE_FLOAT32 (0 before any plan). */
    fp_dtype last_plan_storage;
    int last_plan_casts;           /* boundary Cast steps the last plan added (float32 inputs/outputs) */
    int fused;                     /* nodes removed at load by fusion (BatchNorm folded, activations fused) */
    /* Work of one run of the last plan, for predicted-limit columns: multiply-adds x2 of Conv,
     * ConvTranspose, DeformConv, FusedConv, MatMul and Gemm (other ops are not counted), and the bytes
     * of every step's inputs and outputs (constants included: an upper bound of memory traffic with
     * no reuse between steps). */
    double last_plan_flops;
    double last_plan_bytes;
} fp_model_stats;

/* Load and check a model: parse, resolve every op, ask the backend about each node. *model is owned by
 * the caller (fp_model_freep); NULL on failure. opts may be NULL (CPU, all cores).
 * Errors: FP_EINPUT (file unreadable), FP_EMODEL (malformed), FP_EUNSUPPORTED (op/opset/dtype the
 * runtime or backend lacks; the message names the op), FP_EINVAL (unknown backend), FP_ENOMEM. */
int fp_model_load(const char *path, const fp_model_opts *opts, fp_model **model, fp_err *err);
/* Free the model and set *model to NULL; NULL-safe. */
void fp_model_freep(fp_model **model);

int fp_model_num_inputs(const fp_model *m);
int fp_model_num_outputs(const fp_model *m);
/* Fill *info for input/output i; FP_EINVAL if i is out of range. */
int fp_model_input_info(const fp_model *m, int i, fp_value_info *info);
int fp_model_output_info(const fp_model *m, int i, fp_value_info *info);

/* Run the model. inputs[i] matches fp_model_input_info(i) (nin must equal the input count); their data
 * is read, never kept. For each output: if data is NULL the runtime allocates host memory, sets dtype,
 * shape and owned (free with fp_tensor_free); otherwise dtype and shape must equal the output's and
 * data must be in `device` memory with room for it. On failure, outputs the runtime allocated in this
 * call are freed again. Errors: FP_EMODEL (wrong input dtype/shape: names the input and the expected
 * type), FP_EUNSUPPORTED (the inputs need something the runtime lacks), FP_ENOMEM, FP_EDEVICE. */
int fp_model_run(fp_model *m, const fp_tensor *inputs, int nin, fp_tensor *outputs, int nout, fp_err *err);

/* Plan for these inputs (as fp_model_run would) and report the outputs' dtypes and shapes without
 * running, so a caller can allocate them (e.g. on the device). Leaves outputs[i].data untouched. */
int fp_model_output_shapes(fp_model *m, const fp_tensor *inputs, int nin, fp_tensor *outputs, int nout,
                           fp_err *err);

void fp_model_get_stats(const fp_model *m, fp_model_stats *st);

/* Free data the runtime allocated (owned set) and reset the tensor; NULL-safe, no-op otherwise. */
void fp_tensor_free(fp_tensor *t);
size_t fp_dtype_size(fp_dtype t);
const char *fp_dtype_name(fp_dtype t);

#ifdef __cplusplus
}
#endif
#endif
