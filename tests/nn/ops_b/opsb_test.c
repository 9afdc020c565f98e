/*
 * opsb_test — implementation of the shared test helpers (see opsb_test.h). Test-only code.
 */
#include "opsb_test.h"
#include "nn/nn_cpu.h"
#include "nn/ops/ops_b_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void tb_node_init(tb_node *t, const char *op_type, int opset)
{
    memset(t, 0, sizeof(*t));
    t->node.name = (char *)"test";
    t->node.op_type = (char *)op_type;
    t->node.domain = (char *)"";
    t->node.opset = opset;
    t->node.attrs = t->attrs;
    t->node.def = nn_op_find("", op_type);
}

static nn_attr *tb_attr_new(tb_node *t, const char *name, nn_attr_type ty)
{
    int i = t->node.nattr++;
    nn_attr *a = &t->attrs[i];
    if (i >= TB_MAX_ATTR) {
        fprintf(stderr, "tb_attr: too many attributes\n");
        abort();
    }
    snprintf(t->names[i], sizeof(t->names[i]), "%s", name);
    a->name = t->names[i];
    a->type = ty;
    a->ints = t->ints[i];
    a->floats = t->floats[i];
    a->s = t->strs[i];
    return a;
}

void tb_attr_int(tb_node *t, const char *name, int64_t v)
{
    tb_attr_new(t, name, NN_ATTR_INT)->i = v;
}

void tb_attr_float(tb_node *t, const char *name, float v)
{
    tb_attr_new(t, name, NN_ATTR_FLOAT)->f = v;
}

void tb_attr_str(tb_node *t, const char *name, const char *v)
{
    nn_attr *a = tb_attr_new(t, name, NN_ATTR_STRING);
    snprintf(a->s, 48, "%s", v);
}

void tb_attr_ints(tb_node *t, const char *name, int n, const int64_t *v)
{
    nn_attr *a = tb_attr_new(t, name, NN_ATTR_INTS);
    a->n = n;
    memcpy(a->ints, v, sizeof(int64_t) * n);
}

void tb_attr_floats(tb_node *t, const char *name, int n, const float *v)
{
    nn_attr *a = tb_attr_new(t, name, NN_ATTR_FLOATS);
    a->n = n;
    memcpy(a->floats, v, sizeof(float) * n);
}

nn_tensor tb_tensor(nn_dtype dt, int ndim, const int64_t *dims, void *data)
{
    nn_tensor t;
    memset(&t, 0, sizeof(t));
    t.dtype = dt;
    nn_tensor_set_shape(&t, ndim, dims);
    t.data = data;
    return t;
}

int tb_run(tb_node *t, nn_tensor **in, int nin, nn_tensor **out, int nout, nn_cpu_ctx *ctx, fp_err *e)
{
    const nn_op_def *def = t->node.def ? t->node.def : nn_op_find_opset("", t->node.op_type, t->node.opset);
    if (!def)
        def = nn_op_find("", t->node.op_type);
    int r;
    if (!def)
        return fp_errorf(e, FP_EUNSUPPORTED, "op %s is not registered", t->node.op_type);
    t->node.nin = nin;
    t->node.nout = nout;
    if ((r = def->infer(&t->node, in, nin, out, nout, e)) < 0)
        return r;
    for (int i = 0; i < nout; i++)
        if (out[i] && (r = nn_tensor_alloc(out[i])) < 0)
            return fp_errorf(e, r, "output %d: allocation failed", i);
    r = def->cpu(&t->node, in, nin, out, nout, ctx, e);
    nn_cpu_ctx_scratch_reset(ctx); /* as the CPU backend does after each kernel */
    return r;
}

nn_cpu_ctx *tb_ctx_new(int threads)
{
    nn_cpu_ctx *c = NULL;
    fp_err e = { 0 };
    /* Tiny im2col bands (4096 floats, no column minimum) so every conv test goes through the banded
     * path; set here because every test creates a context before running an op. */
    opsb_col_max = 4096;
    opsb_col_min_cols = 1;
    if (nn_cpu_ctx_create(&c, threads < 1 ? 1 : threads, &e) < 0)
        return NULL;
    nn_cpu_ctx_set_poison(c, 1);
    return c;
}

void tb_ctx_freep(nn_cpu_ctx **pc)
{
    nn_cpu_ctx_freep(pc);
}

float tb_randf(uint64_t *s, float lo, float hi)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return lo + (hi - lo) * (float)((x >> 40) / 16777216.0);
}
