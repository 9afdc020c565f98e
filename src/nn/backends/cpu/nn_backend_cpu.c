/*
 * nn_backend_cpu — the CPU reference backend: host memory, and run_node calling the op's CPU kernel
 * with the backend's nn_cpu_ctx (thread pool + scratch).
 *
 * Owns: the backend instance (its nn_cpu_ctx), nn_backend_find() and the table of registered extra
 * backends (nn_backend_register, not thread-safe: register before loading models). Does not own fp16 handling: the
 * runtime (nn_runtime.c) converts fp16 tensors around kernels that only accept fp32, so tensors reaching
 * run_node always carry the dtypes the kernel's infer() accepted.
 */
#include <stdlib.h>
#include <string.h>

#include "nn/nn_backend.h"
#include "nn/nn_cpu.h"

struct nn_backend_ctx {
    nn_cpu_ctx *cpu;
};

static int cpu_init(nn_backend_ctx **out, const nn_backend_opts *opts, fp_err *e)
{
    *out = NULL;
    nn_backend_ctx *c = calloc(1, sizeof(*c));
    if (!c)
        return fp_errorf(e, FP_ENOMEM, "nn: cpu backend: out of memory");
    int ret = nn_cpu_ctx_create(&c->cpu, opts ? opts->threads : 0, e);
    if (ret < 0) {
        free(c);
        return ret;
    }
    *out = c;
    return 0;
}

static void cpu_free(nn_backend_ctx *c)
{
    if (!c)
        return;
    nn_cpu_ctx_freep(&c->cpu);
    free(c);
}

/* The CPU backend runs every registered kernel; dtype limits are reported by each op's infer(). */
static int cpu_supports_op(nn_backend_ctx *c, const nn_node *n, nn_tensor *const *in, int nin,
                           nn_tensor *const *out, int nout, const char **why)
{
    if (!n->def || !n->def->cpu) {
        if (why)
            *why = n->def ? "no CPU kernel" : "operator not registered";
        return 0;
    }
    return 1;
}

static int cpu_alloc(nn_backend_ctx *c, size_t bytes, void **ptr, fp_err *e)
{
    size_t sz = (bytes + 63) & ~(size_t)63;
    *ptr = aligned_alloc(64, sz ? sz : 64);
    if (!*ptr)
        return fp_errorf(e, FP_ENOMEM, "nn: cpu backend: cannot allocate %zu bytes", bytes);
    return 0;
}

static void cpu_free_mem(nn_backend_ctx *c, void *p)
{
    free(p);
}

static int cpu_copy(nn_backend_ctx *c, void *dst, nn_device dd, const void *src, nn_device sd, size_t bytes,
                    fp_err *e)
{
    if (dd != NN_DEV_HOST || sd != NN_DEV_HOST)
        return fp_errorf(e, FP_EINVAL, "nn: cpu backend: cannot copy device memory");
    if (bytes)
        memmove(dst, src, bytes);
    return 0;
}

static int cpu_run_node(nn_backend_ctx *c, const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out,
                        int nout, fp_err *e)
{
    if (!n->def || !n->def->cpu)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "no CPU kernel");
    nn_cpu_ctx_bind_blas(c->cpu);
    int ret = n->def->cpu(n, in, nin, out, nout, c->cpu, e);
    nn_cpu_ctx_scratch_reset(c->cpu);
    if (ret < 0 && e && !e->code)
        nn_node_error(e, n, ret, "CPU kernel failed (%s)", fp_strerror(ret));
    return ret;
}

static int cpu_sync(nn_backend_ctx *c, fp_err *e)
{
    return 0;
}

const nn_backend nn_backend_cpu = {
    .name = "cpu",
    .device = NN_DEV_HOST,
    .init = cpu_init,
    .free = cpu_free,
    .supports_op = cpu_supports_op,
    .alloc = cpu_alloc,
    .free_mem = cpu_free_mem,
    .copy = cpu_copy,
    .run_node = cpu_run_node,
    .sync = cpu_sync,
};

#if defined(FP_HAVE_CUDA) && !defined(FP_HAVE_NN_CUDA)
/* CUDA is built but the backend's sources are absent: a weak reference keeps the link working and
 * nn_backend_find("cuda") answers NULL. With src/nn/cuda present the reference is strong. */
extern const nn_backend nn_backend_cuda __attribute__((weak));
#endif

static const nn_backend *extra_backends[8];
static int nextra_backends;

int nn_backend_register(const nn_backend *be)
{
    if (nextra_backends >= 8)
        return FP_ENOMEM;
    extra_backends[nextra_backends++] = be;
    return 0;
}

const nn_backend *nn_backend_find(const char *name)
{
    for (int i = 0; name && i < nextra_backends; i++)
        if (!strcmp(extra_backends[i]->name, name))
            return extra_backends[i];
    if (!name || !strcmp(name, "cpu"))
        return &nn_backend_cpu;
#ifdef FP_HAVE_CUDA
    if (!strcmp(name, "cuda")) {
#ifdef FP_HAVE_NN_CUDA
        return &nn_backend_cuda;
#else
        return &nn_backend_cuda; /* weak: NULL when the backend is not linked */
#endif
    }
#endif
    return NULL;
}
