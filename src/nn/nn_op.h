/*
 * nn_op — what an operator is to the runtime: its node (inputs, outputs, attributes) and its
 * definition (shape inference + CPU kernel), registered in one table (nn_ops_table.c).
 *
 * Owns: nn_node, nn_attr, nn_op_def, the attribute accessors, and the CPU execution context handed to
 * kernels. Does not own graph building (nn_graph), planning (nn_plan) or any backend other than the
 * CPU reference (backends implement nn_backend in nn_backend.h).
 *
 * Contract for an op file (src/nn/ops/<name>.c):
 *   - `infer` sets every output's dtype and shape from the inputs' dtypes and shapes. An input whose
 *     *value* decides a shape (Reshape's shape, Slice's starts, Resize's sizes...) is passed with data
 *     on the host when it is known at plan time (initializer, folded constant, or a small runtime input
 *     that is part of the plan key); if it is needed and in->data is NULL, return FP_EUNSUPPORTED with
 *     a message saying which input must be constant.
 *   - `cpu` computes outputs whose storage is already allocated with the inferred shapes. Inputs and
 *     outputs are host tensors. It must not allocate large buffers per call: scratch comes from
 *     nn_cpu_ctx_scratch().
 *   - Optional inputs that are absent have in[i] == NULL (and nin counts positions up to the last
 *     present one). Errors name the node: use nn_node_error().
 */
#ifndef NN_OP_H
#define NN_OP_H

#include "core/fp_error.h"
#include "nn/nn_tensor.h"

typedef enum nn_attr_type {
    NN_ATTR_UNDEFINED = 0,
    NN_ATTR_FLOAT = 1,
    NN_ATTR_INT = 2,
    NN_ATTR_STRING = 3,
    NN_ATTR_TENSOR = 4,
    NN_ATTR_GRAPH = 5,
    NN_ATTR_FLOATS = 6,
    NN_ATTR_INTS = 7,
    NN_ATTR_STRINGS = 8,
} nn_attr_type; /* values equal ONNX AttributeProto.AttributeType */

typedef struct nn_attr {
    char *name;
    nn_attr_type type;
    float f;
    int64_t i;
    char *s;            /* NUL-terminated copy of a STRING attribute */
    float *floats;
    int64_t *ints;
    char **strings;
    int n;              /* element count of floats/ints/strings */
    nn_tensor *t;       /* TENSOR attribute, host data, owned by the node */
} nn_attr;

struct nn_op_def;

typedef struct nn_node {
    char *name;                 /* node name from the model ("" if none; the runtime makes one up) */
    char *op_type;
    char *domain;               /* "" for the default ONNX domain */
    int opset;                  /* opset version of the node's domain in this model */
    int nin, nout;
    int *inputs;                /* value ids, -1 for an absent optional input */
    int *outputs;               /* value ids, -1 for an absent optional output */
    int nattr;
    nn_attr *attrs;
    const struct nn_op_def *def; /* resolved at load; NULL if the op is unknown */
    void *backend_data;         /* per-node state a backend may cache (owned by that backend) */
} nn_node;

typedef struct nn_cpu_ctx nn_cpu_ctx; /* CPU execution context: threads and scratch */

typedef struct nn_op_def {
    const char *op_type;        /* "Conv" */
    const char *domain;         /* "" or "com.microsoft" etc. */
    int min_opset;              /* first opset version whose semantics this kernel implements (1 if all) */
    /* Set output dtypes/shapes. in[i] may have data == NULL unless the op needs that input's value. */
    int (*infer)(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout, fp_err *e);
    /* Compute outputs (host). */
    int (*cpu)(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
               nn_cpu_ctx *ctx, fp_err *e);
    /* Bitmask of input positions whose *values* infer() needs (bit i = input i). */
    unsigned value_inputs;
} nn_op_def;

/* ---- registry (nn_ops_table.c) ---- */
const nn_op_def *nn_op_find(const char *domain, const char *op_type);
/* The def implementing op_type at this opset: highest min_opset <= opset; NULL if none. */
const nn_op_def *nn_op_find_opset(const char *domain, const char *op_type, int opset);
/* Register an extra def at run time (tests, out-of-tree ops); def must outlive the process's use of
 * it. Returns 0, or FP_ENOMEM when the extra table (64) is full. Not for built-in ops: those go in
 * ops_table_a.c / ops_table_b.c. */
int nn_op_register(const nn_op_def *def);
/* All registered defs, NULL-terminated. */
const nn_op_def *const *nn_op_all(void);

/* ---- attribute accessors: return the default when absent ---- */
const nn_attr *nn_attr_get(const nn_node *n, const char *name);
int64_t nn_attr_int(const nn_node *n, const char *name, int64_t def);
float nn_attr_float(const nn_node *n, const char *name, float def);
const char *nn_attr_str(const nn_node *n, const char *name, const char *def);
/* Returns the array (not copied) and its length in *count; NULL and *count = 0 when absent. */
const int64_t *nn_attr_ints(const nn_node *n, const char *name, int *count);
const float *nn_attr_floats(const nn_node *n, const char *name, int *count);

/* Record an error naming the node: "node 'Conv_12' (Conv): <message>". Returns code. */
int nn_node_error(fp_err *e, const nn_node *n, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- CPU execution context ---- */
/* Number of worker threads kernels may use (>= 1). */
int nn_cpu_ctx_threads(const nn_cpu_ctx *ctx);
/* Scratch memory valid until the kernel returns; 64-byte aligned; NULL on failure. */
void *nn_cpu_ctx_scratch(nn_cpu_ctx *ctx, size_t bytes);
/* Run fn(arg, i) for i in [0, n) across the context's threads; returns when all are done.
 * Work is split into contiguous ranges, so results do not depend on the thread count when each i
 * writes its own outputs. */
void nn_cpu_parallel_for(nn_cpu_ctx *ctx, int64_t n, void (*fn)(void *arg, int64_t begin, int64_t end),
                         void *arg);

/* ---- helpers shared by op files (nn_op_util.c) ---- */
/* Numpy-style multidirectional broadcast of a and b into out's shape. FP_EINVAL if incompatible. */
int nn_broadcast_shape(const nn_tensor *a, const nn_tensor *b, nn_tensor *out);
/* Normalise a possibly negative axis against rank; FP_EINVAL if out of range. */
int nn_norm_axis(int64_t axis, int rank, int *out_axis);

#endif
