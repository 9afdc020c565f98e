/*
 * pool — MaxPool and AveragePool over 1 to 3 spatial dims (NCHW-style layouts), one thread per
 * output element, fp32 arithmetic over float/half/bf16 storage.
 *
 * Owns: cu_ops_pool: strides, dilations, asymmetric pads, auto_pad, ceil_mode (through the output
 * shape inference gave us), count_include_pad. Does not own MaxPool's Indices output (unsupported
 * here, reported by supports_op) or the global pools (reduce.cu, which reduces whole planes with a
 * block per plane).
 */
#include "nn/cuda/nn_cuda.h"

#include <string.h>

typedef struct pool_geom {
    int nsp;
    int64_t in[3], out[3];
    int k[3], s[3], d[3], lo[3], hi[3];
    int is_max, include_pad;
} pool_geom;

static int pool_geom_get(const nn_node *n, const nn_tensor *x, const nn_tensor *y, pool_geom *g, const char **why)
{
    int nk = 0, ns = 0, nd = 0, np = 0;
    const int64_t *ks = nn_attr_ints(n, "kernel_shape", &nk), *st = nn_attr_ints(n, "strides", &ns);
    const int64_t *dl = nn_attr_ints(n, "dilations", &nd), *pd = nn_attr_ints(n, "pads", &np);
    const char *ap = nn_attr_str(n, "auto_pad", "NOTSET");
    memset(g, 0, sizeof(*g));
    g->nsp = x->ndim - 2;
    if (g->nsp < 1 || g->nsp > 3 || y->ndim != x->ndim)
        return (*why = "rank (1 to 3 spatial dims)", 0);
    if (!ks || nk != g->nsp || (st && ns != g->nsp) || (dl && nd != g->nsp) || (pd && np != 2 * g->nsp))
        return (*why = "attribute lengths", 0);
    g->is_max = !strcmp(n->op_type, "MaxPool");
    g->include_pad = (int)nn_attr_int(n, "count_include_pad", 0);
    for (int i = 0; i < g->nsp; i++) {
        g->in[i] = x->dims[2 + i];
        g->out[i] = y->dims[2 + i];
        g->k[i] = (int)ks[i];
        g->s[i] = st ? (int)st[i] : 1;
        g->d[i] = dl ? (int)dl[i] : 1;
        if (g->k[i] < 1 || g->s[i] < 1 || g->d[i] < 1)
            return (*why = "kernel/stride/dilation", 0);
        if (!strcmp(ap, "NOTSET")) {
            g->lo[i] = pd ? (int)pd[i] : 0;
            g->hi[i] = pd ? (int)pd[g->nsp + i] : 0;
        } else if (!strcmp(ap, "VALID")) {
            g->lo[i] = g->hi[i] = 0;
        } else if (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER")) {
            int64_t tot = (g->out[i] - 1) * g->s[i] + (int64_t)(g->k[i] - 1) * g->d[i] + 1 - g->in[i];
            if (tot < 0)
                tot = 0;
            g->lo[i] = (int)(!strcmp(ap, "SAME_UPPER") ? tot / 2 : tot - tot / 2);
            g->hi[i] = (int)(tot - g->lo[i]);
        } else {
            return (*why = "auto_pad", 0);
        }
    }
    for (int i = g->nsp; i < 3; i++) {
        g->in[i] = g->out[i] = 1;
        g->k[i] = g->s[i] = g->d[i] = 1;
    }
    return 1;
}

template <typename T>
__global__ void pool_kernel(T *y, const T *x, pool_geom g, int64_t total)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t o2 = i % g.out[2], r = i / g.out[2];
        int64_t o1 = r % g.out[1];
        r /= g.out[1];
        int64_t o0 = r % g.out[0], nc = r / g.out[0];
        const T *xp = x + nc * g.in[0] * g.in[1] * g.in[2];
        int64_t b0 = o0 * g.s[0] - g.lo[0], b1 = o1 * g.s[1] - g.lo[1], b2 = o2 * g.s[2] - g.lo[2];
        float acc = g.is_max ? -INFINITY : 0.f;
        int64_t cnt = 0, padcnt = 1;
        if (g.include_pad) {
            /* Window positions inside the padded extent (ceil_mode windows may stick out further). */
            int64_t c0 = 0, c1 = 0, c2 = 0;
            for (int a = 0; a < g.k[0]; a++) { int64_t h = b0 + (int64_t)a * g.d[0]; c0 += h >= -g.lo[0] && h < g.in[0] + g.hi[0]; }
            for (int a = 0; a < g.k[1]; a++) { int64_t h = b1 + (int64_t)a * g.d[1]; c1 += h >= -g.lo[1] && h < g.in[1] + g.hi[1]; }
            for (int a = 0; a < g.k[2]; a++) { int64_t h = b2 + (int64_t)a * g.d[2]; c2 += h >= -g.lo[2] && h < g.in[2] + g.hi[2]; }
            padcnt = c0 * c1 * c2;
        }
        for (int a = 0; a < g.k[0]; a++) {
            int64_t p0 = b0 + (int64_t)a * g.d[0];
            if (p0 < 0 || p0 >= g.in[0])
                continue;
            for (int b = 0; b < g.k[1]; b++) {
                int64_t p1 = b1 + (int64_t)b * g.d[1];
                if (p1 < 0 || p1 >= g.in[1])
                    continue;
                for (int c = 0; c < g.k[2]; c++) {
                    int64_t p2 = b2 + (int64_t)c * g.d[2];
                    if (p2 < 0 || p2 >= g.in[2])
                        continue;
                    float v = cu_ld(xp + (p0 * g.in[1] + p1) * g.in[2] + p2);
                    if (g.is_max)
                        acc = (v > acc || v != v) ? v : acc;
                    else
                        acc += v;
                    cnt++;
                }
            }
        }
        if (!g.is_max) {
            int64_t div = g.include_pad ? padcnt : cnt;
            acc = div > 0 ? acc / (float)div : 0.f;
        }
        cu_st(y + i, acc);
    }
}

static int pool_supports(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                         nn_tensor *const *out, int nout, const char **why)
{
    pool_geom g;
    if (nin != 1 || !in[0] || nout < 1) {
        *why = "input count";
        return 0;
    }
    if (nout > 1 && out[1]) {
        *why = "MaxPool Indices output";
        return 0;
    }
    nn_dtype dt = cu_eff_dt(in, nin, out, nout, 0);
    if (!cu_is_float(dt) || out[0]->dtype != dt) {
        *why = "dtype";
        return 0;
    }
    return pool_geom_get(n, in[0], out[0], &g, why);
}

static int pool_run(nn_backend_ctx *ctx, const nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                    nn_tensor **out, int nout, fp_err *e)
{
    pool_geom g;
    const char *why = NULL;
    if (!pool_geom_get(n, in[0], out[0], &g, &why))
        return nn_node_error(e, n, FP_EUNSUPPORTED, "cuda: %s: %s", n->op_type, why);
    int64_t total = nn_tensor_numel(out[0]);
    if (total == 0)
        return 0;
    void *y = out[0]->data;
    const void *x = cu_in(cn, in, 0);
    int rc = CU_FLOAT_SWITCH(out[0]->dtype, T,
        (pool_kernel<T><<<cu_grid(total), 256, 0, ctx->stream>>>((T *)y, (const T *)x, g, total)));
    if (rc < 0)
        return nn_node_error(e, n, rc, "cuda: dtype");
    CU_LAUNCH_CHECK(e, n);
    return 0;
}

const cu_op cu_ops_pool[] = {
    {"MaxPool", pool_supports, NULL, pool_run, 0},
    {"AveragePool", pool_supports, NULL, pool_run, 0},
    {NULL, NULL, NULL, NULL, 0},
};
