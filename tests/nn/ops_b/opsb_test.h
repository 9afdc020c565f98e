/*
 * opsb_test — helpers the group-b op tests share: build a one-node graph by hand (node + attributes),
 * wrap tensors, and run an op's infer + cpu with outputs allocated in between. Also the CPU context
 * used by the tests (tb_ctx_new): the runtime's real nn_cpu_ctx with poisoned scratch (0xff bytes, so a
 * kernel reading scratch before writing it fails) and tiny im2col bands (the banded conv path).
 *
 * Ownership: tb_run allocates output storage (nn_tensor_alloc); the caller frees it with
 * nn_tensor_free, also after an error. tb_node holds its attributes inline; nothing to free.
 */
#ifndef OPSB_TEST_H
#define OPSB_TEST_H

#include "nn/nn_op.h"

#define TB_MAX_ATTR 24
#define TB_MAX_VALS 16

typedef struct tb_node {
    nn_node node;
    nn_attr attrs[TB_MAX_ATTR];
    char names[TB_MAX_ATTR][48];
    char strs[TB_MAX_ATTR][48];
    int64_t ints[TB_MAX_ATTR][TB_MAX_VALS];
    float floats[TB_MAX_ATTR][TB_MAX_VALS];
} tb_node;

/* CPU context with the given worker count; NULL on allocation failure. Freed with tb_ctx_freep. */
nn_cpu_ctx *tb_ctx_new(int threads);
void tb_ctx_freep(nn_cpu_ctx **ctx);

void tb_node_init(tb_node *t, const char *op_type, int opset);
void tb_attr_int(tb_node *t, const char *name, int64_t v);
void tb_attr_float(tb_node *t, const char *name, float v);
void tb_attr_str(tb_node *t, const char *name, const char *v);
void tb_attr_ints(tb_node *t, const char *name, int n, const int64_t *v);
void tb_attr_floats(tb_node *t, const char *name, int n, const float *v);

/* A host tensor over caller-owned data (not owned). */
nn_tensor tb_tensor(nn_dtype dt, int ndim, const int64_t *dims, void *data);

/* Look the op up, infer, allocate outputs, run. out[i] may be NULL for absent optional outputs.
 * Returns 0 or the op's negative code (e filled). */
int tb_run(tb_node *t, nn_tensor **in, int nin, nn_tensor **out, int nout, nn_cpu_ctx *ctx, fp_err *e);

/* Deterministic pseudo-random floats in [lo, hi) from *state (xorshift). */
float tb_randf(uint64_t *state, float lo, float hi);

#endif
