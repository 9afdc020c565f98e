/*
 * opsb_standin — the few runtime functions the group-b kernels call (attribute accessors,
 * nn_node_error, tensor helpers, a pthread CPU context with scratch and parallel_for), for building the
 * op tests without the runtime (tests/nn/ops_b/CMakeLists.txt links it into the test library only);
 * never part of framepipe itself. The scratch it hands out is poisoned with NaN bytes so a kernel
 * that reads scratch before writing it fails the tests.
 *
 * Owns its nn_cpu_ctx (tb_ctx_new / tb_ctx_free). Semantics follow the contracts in nn_op.h and
 * nn_tensor.h; parallel_for splits [0, n) into one contiguous range per thread, like the real one.
 */
#include "nn/nn_op.h"
#include "opsb_test.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct nn_cpu_ctx {
    int threads;
    void *scratch;
    size_t scratch_size;
};

nn_cpu_ctx *tb_ctx_new(int threads)
{
    nn_cpu_ctx *c = calloc(1, sizeof(*c));
    if (c)
        c->threads = threads < 1 ? 1 : threads;
    return c;
}

void tb_ctx_freep(nn_cpu_ctx **pc)
{
    if (!pc || !*pc)
        return;
    free((*pc)->scratch);
    free(*pc);
    *pc = NULL;
}

int nn_cpu_ctx_threads(const nn_cpu_ctx *ctx)
{
    return ctx->threads;
}

void *nn_cpu_ctx_scratch(nn_cpu_ctx *ctx, size_t bytes)
{
    if (bytes > ctx->scratch_size) {
        void *p = NULL;
        if (posix_memalign(&p, 64, bytes ? bytes : 64))
            return NULL;
        free(ctx->scratch);
        ctx->scratch = p;
        ctx->scratch_size = bytes;
    }
    /* Poison so a kernel that reads scratch before writing it shows up as NaN in the tests. */
    memset(ctx->scratch, 0xff, bytes);
    return ctx->scratch;
}

typedef struct pf_job {
    void (*fn)(void *, int64_t, int64_t);
    void *arg;
    int64_t b, e;
} pf_job;

static void *pf_run(void *p)
{
    pf_job *j = p;
    j->fn(j->arg, j->b, j->e);
    return NULL;
}

void nn_cpu_parallel_for(nn_cpu_ctx *ctx, int64_t n, void (*fn)(void *arg, int64_t begin, int64_t end),
                         void *arg)
{
    int t = ctx->threads;
    pthread_t th[64];
    pf_job jobs[64];
    if (n <= 0)
        return;
    if (t > 64)
        t = 64;
    if (t > n)
        t = (int)n;
    if (t <= 1) {
        fn(arg, 0, n);
        return;
    }
    for (int i = 0; i < t; i++) {
        jobs[i].fn = fn;
        jobs[i].arg = arg;
        jobs[i].b = n * i / t;
        jobs[i].e = n * (i + 1) / t;
        if (i > 0 && pthread_create(&th[i], NULL, pf_run, &jobs[i]))
            abort();
    }
    pf_run(&jobs[0]);
    for (int i = 1; i < t; i++)
        pthread_join(th[i], NULL);
}

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
    return a && a->type == NN_ATTR_FLOAT ? a->f : def;
}

const char *nn_attr_str(const nn_node *n, const char *name, const char *def)
{
    const nn_attr *a = nn_attr_get(n, name);
    return a && a->type == NN_ATTR_STRING ? a->s : def;
}

const int64_t *nn_attr_ints(const nn_node *n, const char *name, int *count)
{
    const nn_attr *a = nn_attr_get(n, name);
    *count = a && a->type == NN_ATTR_INTS ? a->n : 0;
    return a && a->type == NN_ATTR_INTS ? a->ints : NULL;
}

const float *nn_attr_floats(const nn_node *n, const char *name, int *count)
{
    const nn_attr *a = nn_attr_get(n, name);
    *count = a && a->type == NN_ATTR_FLOATS ? a->n : 0;
    return a && a->type == NN_ATTR_FLOATS ? a->floats : NULL;
}

int nn_node_error(fp_err *e, const nn_node *n, int code, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return fp_errorf(e, code, "node '%s' (%s): %s", n->name ? n->name : "", n->op_type, msg);
}

int nn_norm_axis(int64_t axis, int rank, int *out_axis)
{
    if (axis < -rank || axis >= rank)
        return FP_EINVAL;
    *out_axis = (int)(axis < 0 ? axis + rank : axis);
    return 0;
}

size_t nn_dtype_size(nn_dtype t)
{
    switch (t) {
    case NN_DT_FLOAT: case NN_DT_INT32: case NN_DT_UINT32: return 4;
    case NN_DT_UINT8: case NN_DT_INT8: case NN_DT_BOOL: return 1;
    case NN_DT_UINT16: case NN_DT_INT16: case NN_DT_FLOAT16: case NN_DT_BFLOAT16: return 2;
    case NN_DT_INT64: case NN_DT_DOUBLE: case NN_DT_UINT64: return 8;
    default: return 0;
    }
}

const char *nn_dtype_name(nn_dtype t)
{
    switch (t) {
    case NN_DT_FLOAT: return "float32";
    case NN_DT_INT64: return "int64";
    case NN_DT_INT32: return "int32";
    case NN_DT_UINT8: return "uint8";
    case NN_DT_INT8: return "int8";
    case NN_DT_FLOAT16: return "float16";
    case NN_DT_DOUBLE: return "float64";
    case NN_DT_BOOL: return "bool";
    default: return "other";
    }
}

int64_t nn_tensor_numel(const nn_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) {
        if (t->dims[i] < 0)
            return -1;
        n *= t->dims[i];
    }
    return n;
}

size_t nn_tensor_nbytes(const nn_tensor *t)
{
    return (size_t)nn_tensor_numel(t) * nn_dtype_size(t->dtype);
}

int nn_tensor_set_shape(nn_tensor *t, int ndim, const int64_t *dims)
{
    if (ndim < 0 || ndim > NN_MAX_DIMS)
        return FP_EINVAL;
    for (int i = 0; i < ndim; i++)
        if (dims[i] < 0)
            return FP_EINVAL;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->dims[i] = dims[i];
    return 0;
}

int nn_tensor_alloc(nn_tensor *t)
{
    size_t nb = nn_tensor_nbytes(t);
    void *p = NULL;
    if (posix_memalign(&p, 64, nb ? nb : 64))
        return FP_ENOMEM;
    memset(p, 0, nb);
    t->data = p;
    t->owned = 1;
    return 0;
}

void nn_tensor_free(nn_tensor *t)
{
    if (!t)
        return;
    if (t->owned)
        free(t->data);
    t->data = NULL;
    t->owned = 0;
}

double nn_tensor_get_f64(const nn_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case NN_DT_FLOAT: return ((const float *)t->data)[i];
    case NN_DT_DOUBLE: return ((const double *)t->data)[i];
    case NN_DT_INT64: return (double)((const int64_t *)t->data)[i];
    case NN_DT_INT32: return ((const int32_t *)t->data)[i];
    default: return 0;
    }
}

int64_t nn_tensor_get_i64(const nn_tensor *t, int64_t i)
{
    switch (t->dtype) {
    case NN_DT_INT64: return ((const int64_t *)t->data)[i];
    case NN_DT_INT32: return ((const int32_t *)t->data)[i];
    case NN_DT_FLOAT: return (int64_t)((const float *)t->data)[i];
    case NN_DT_DOUBLE: return (int64_t)((const double *)t->data)[i];
    default: return 0;
    }
}

const char *nn_shape_str(const nn_tensor *t, char *buf, size_t len)
{
    size_t o = 0;
    o += snprintf(buf + o, len - o, "[");
    for (int i = 0; i < t->ndim && o < len; i++)
        o += snprintf(buf + o, len - o, i ? ",%lld" : "%lld", (long long)t->dims[i]);
    if (o < len)
        snprintf(buf + o, len - o, "]");
    return buf;
}

const nn_op_def *nn_op_find(const char *domain, const char *op_type)
{
    extern const nn_op_def *const nn_ops_group_b[];
    for (int i = 0; nn_ops_group_b[i]; i++)
        if (!strcmp(nn_ops_group_b[i]->op_type, op_type) && !strcmp(nn_ops_group_b[i]->domain, domain))
            return nn_ops_group_b[i];
    return NULL;
}

int nn_shape_equal(const nn_tensor *a, const nn_tensor *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i])
            return 0;
    return 1;
}

uint16_t nn_f32_to_f16(float f)
{
    /* Test-only: truncating conversion is enough to keep fp16 fixtures loadable (they are skipped). */
    union { float f; uint32_t u; } v = { f };
    uint32_t s = (v.u >> 16) & 0x8000, e = (v.u >> 23) & 0xff, m = v.u & 0x7fffff;
    if (e < 113)
        return (uint16_t)s;
    if (e > 142)
        return (uint16_t)(s | 0x7c00);
    return (uint16_t)(s | ((e - 112) << 10) | (m >> 13));
}
