/*
 * nn_graph — a loaded ONNX model as the runtime sees it: a value table (every tensor name once), nodes
 * in topological order with resolved op defs, the user inputs and the outputs.
 *
 * Owns: the in-memory graph and its loader from an ONNX file (nn_load.c: protobuf-c parsing, tensor
 * decoding, external data, function inlining, topological sort, dead-node removal). Does not own
 * planning, constant folding or execution (nn_plan.c, nn_runtime.c).
 */
#ifndef NN_GRAPH_H
#define NN_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "core/fp_error.h"
#include "nn/nn_op.h"

#define NN_OPSET_MIN 11
#define NN_OPSET_MAX 19

typedef struct nn_value {
    char *name;
    /* Declared dtype/shape (inputs, outputs) with unknown dims as -1, or an initializer's full tensor
     * (host data owned by the graph). Intermediate values have dtype UNDEFINED until planned. */
    nn_tensor t;
    char *dim_names[NN_MAX_DIMS]; /* symbolic dim names of a declared shape (NULL where concrete) */
    int shape_known;              /* t.ndim is declared (dims may still be -1) */
    int is_const;                 /* initializer (or Constant folded at load): t.data valid */
    int is_input, is_output;
    int producer;                 /* node index, -1 if none */
} nn_value;

typedef struct nn_graph {
    char *path;                   /* model file, as given (for messages) */
    char *dir;                    /* its directory (external data root) */
    int64_t ir_version;
    int opset;                    /* default-domain opset */
    char *producer;               /* producer_name + version, "" if absent */
    int nvalues, values_cap;
    nn_value *values;
    int nnodes;
    nn_node *nodes;               /* topological order, dead nodes removed */
    int ninputs, noutputs;
    int *inputs;                  /* value ids of user inputs (initializers excluded) */
    int *outputs;                 /* value ids of graph outputs */
    int64_t nparams;              /* elements held in initializers */
    int nfunctions_inlined;       /* model-local FunctionProto calls expanded at load */
} nn_graph;

/* Load an ONNX model file. *g is owned by the caller (nn_graph_freep); NULL on failure, nothing
 * leaked. Errors: FP_EINPUT (unreadable), FP_EMODEL (malformed), FP_EUNSUPPORTED (opset outside
 * 11..19, subgraphs, non-tensor inputs). Unknown ops are NOT an error here: their node->def is NULL,
 * so `model info` can list them; nn_graph_check_ops() reports them. */
int nn_graph_load(const char *path, nn_graph **g, fp_err *e);
/* Same from memory; `name` is used in messages and `dir` roots external data (NULL: external data
 * refused). The buffer is not kept. */
int nn_graph_load_mem(const void *buf, size_t len, const char *name, const char *dir, nn_graph **g, fp_err *e);
void nn_graph_freep(nn_graph **g);

/* FP_EUNSUPPORTED naming the first node whose op is not registered (or registered only for a later
 * opset), 0 if all resolve. */
int nn_graph_check_ops(const nn_graph *g, fp_err *e);

/* Decode a serialized TensorProto file (the conformance suite's input_*.pb / output_*.pb).
 * t gets owned host data (free with nn_tensor_free); *name (may be NULL) gets a malloc'd copy of the
 * tensor's name or NULL. */
int nn_tensor_load_pb(const char *path, nn_tensor *t, char **name, fp_err *e);

/* Free an attribute array built by the loader (names, strings, tensors). */
void nn_attrs_free(nn_attr *a, int n);

#endif
