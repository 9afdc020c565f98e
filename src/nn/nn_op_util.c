/*
 * nn_op_util — the non-kernel half of nn_op.h: attribute accessors, node-naming errors, broadcast and
 * axis helpers shared by op files, and the operator registry that joins the per-group tables.
 *
 * Owns: lookups only; the op defs themselves live in src/nn/ops/ (ops_table_a.c, ops_table_b.c).
 * Does not own the CPU execution context (nn_cpu_ctx.c).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_op.h"

extern const nn_op_def *const nn_ops_group_a[];
extern const nn_op_def *const nn_ops_group_b[];

const nn_attr *nn_attr_get(const nn_node *n, const char *name)
{
    for (int i = 0; i < n->nattr; i++)
        if (!strcmp(n->attrs[i].name, name))
            return &n->attrs[i];
    return NULL;
}

int64_t nn_attr_int(const nn_node *n, const char *name, int64_t def)
{
    const nn_attr *a = nn_attr_get(n, name);
    return a && a->type == NN_ATTR_INT ? a->i : def;
}

float nn_attr_float(const nn_node *n, const char *name, float def)
{
    const nn_attr *a = nn_attr_get(n, name);
    if (!a)
        return def;
    if (a->type == NN_ATTR_FLOAT)
        return a->f;
    /* Some exporters write integral float attributes as INT (e.g. alpha=1); accept them. */
    if (a->type == NN_ATTR_INT)
        return (float)a->i;
    return def;
}

const char *nn_attr_str(const nn_node *n, const char *name, const char *def)
{
    const nn_attr *a = nn_attr_get(n, name);
    return a && a->type == NN_ATTR_STRING && a->s ? a->s : def;
}

const int64_t *nn_attr_ints(const nn_node *n, const char *name, int *count)
{
    const nn_attr *a = nn_attr_get(n, name);
    if (!a || a->type != NN_ATTR_INTS) {
        *count = 0;
        return NULL;
    }
    *count = a->n;
    return a->ints;
}

const float *nn_attr_floats(const nn_node *n, const char *name, int *count)
{
    const nn_attr *a = nn_attr_get(n, name);
    if (!a || a->type != NN_ATTR_FLOATS) {
        *count = 0;
        return NULL;
    }
    *count = a->n;
    return a->floats;
}

int nn_node_error(fp_err *e, const nn_node *n, int code, const char *fmt, ...)
{
    char msg[FP_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return fp_errorf(e, code, "node '%s' (%s): %s", n && n->name ? n->name : "?",
                     n && n->op_type ? n->op_type : "?", msg);
}

int nn_broadcast_shape(const nn_tensor *a, const nn_tensor *b, nn_tensor *out)
{
    int nd = a->ndim > b->ndim ? a->ndim : b->ndim;
    int64_t dims[NN_MAX_DIMS];
    if (nd > NN_MAX_DIMS)
        return FP_EINVAL;
    for (int i = 0; i < nd; i++) {
        int ia = i - (nd - a->ndim), ib = i - (nd - b->ndim);
        int64_t da = ia >= 0 ? a->dims[ia] : 1;
        int64_t db = ib >= 0 ? b->dims[ib] : 1;
        if (da == db || db == 1)
            dims[i] = da;
        else if (da == 1)
            dims[i] = db;
        else
            return FP_EINVAL;
    }
    return nn_tensor_set_shape(out, nd, dims);
}

int nn_norm_axis(int64_t axis, int rank, int *out_axis)
{
    if (axis < -(int64_t)rank || axis >= rank)
        return FP_EINVAL;
    *out_axis = (int)(axis < 0 ? axis + rank : axis);
    return 0;
}

/* ---- registry ---- */

/* The group tables are fixed at link time; nn_op_register() appends defs at run time (tests, plugins).
 * all_defs is allocated once with room for the extras, and an extra is published by writing its slot
 * (the terminating NULL after it is already there), so a pointer returned by nn_op_all() stays valid
 * and NULL-terminated for the life of the process. */
#define NN_MAX_EXTRA_OPS 64
static const nn_op_def **all_defs;
static size_t nbuiltin, nextra;
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;

static void build_all_locked(void)
{
    size_t na = 0, nb = 0;
    while (nn_ops_group_a[na])
        na++;
    while (nn_ops_group_b[nb])
        nb++;
    const nn_op_def **v = calloc(na + nb + NN_MAX_EXTRA_OPS + 1, sizeof(*v));
    if (!v)
        return;
    memcpy(v, nn_ops_group_a, na * sizeof(*v));
    memcpy(v + na, nn_ops_group_b, nb * sizeof(*v));
    nbuiltin = na + nb;
    all_defs = v;
}

const nn_op_def *const *nn_op_all(void)
{
    static const nn_op_def *const empty[] = { NULL };
    pthread_mutex_lock(&reg_lock);
    if (!all_defs)
        build_all_locked();
    const nn_op_def *const *r = all_defs ? all_defs : empty;
    pthread_mutex_unlock(&reg_lock);
    return r;
}

int nn_op_register(const nn_op_def *def)
{
    int ret = FP_ENOMEM;
    pthread_mutex_lock(&reg_lock);
    if (!all_defs)
        build_all_locked();
    if (all_defs && nextra < NN_MAX_EXTRA_OPS) {
        __atomic_store_n(&all_defs[nbuiltin + nextra], def, __ATOMIC_RELEASE);
        nextra++;
        ret = 0;
    }
    pthread_mutex_unlock(&reg_lock);
    return ret;
}

static int domain_is_onnx(const char *d)
{
    return !d || !d[0] || !strcmp(d, "ai.onnx");
}

/* A group may register one def per semantic version of an op (Resize-11, Resize-13...): pick the one
 * with the highest min_opset not above the model's opset. */
const nn_op_def *nn_op_find_opset(const char *domain, const char *op_type, int opset)
{
    const nn_op_def *best = NULL;
    for (const nn_op_def *const *p = nn_op_all(); *p; p++) {
        const nn_op_def *d = *p;
        int same_domain = domain_is_onnx(domain) ? domain_is_onnx(d->domain)
                                                 : d->domain && !strcmp(d->domain, domain);
        if (!same_domain || strcmp(d->op_type, op_type))
            continue;
        if (d->min_opset > opset)
            continue;
        if (!best || d->min_opset > best->min_opset)
            best = d;
    }
    return best;
}

const nn_op_def *nn_op_find(const char *domain, const char *op_type)
{
    return nn_op_find_opset(domain, op_type, 1 << 30);
}
