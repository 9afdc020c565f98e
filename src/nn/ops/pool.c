/*
 * pool — ONNX pooling on the CPU, float32: MaxPool (opsets 8–12+: kernel_shape, strides, pads,
 * auto_pad, ceil_mode, dilations, storage_order, optional Indices output), AveragePool (opsets 7–19:
 * count_include_pad, ceil_mode, dilations from 19), GlobalAveragePool and GlobalMaxPool; 1-D to 3-D.
 *
 * MaxPool also takes int8/uint8 (opset 12+). Window geometry is shared with Conv (ops_b_util.c). With ceil_mode a window may hang past the padded
 * input; like PyTorch and ONNX Runtime, positions outside the padded input never count, and with
 * count_include_pad the divisor counts the window's positions inside the padded input. Planes
 * (batch × channel) run in parallel, one writer each. Does not own LpPool or MaxUnpool.
 */
#include "nn/nn_op.h"
#include "nn/ops/ops_b_util.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

enum pool_kind { POOL_MAX, POOL_AVG, POOL_GMAX, POOL_GAVG };

static int pool_window(const nn_node *n, nn_tensor *const *in, int nin, enum pool_kind kind, opsb_window *w,
                       fp_err *e)
{
    int r;
    if ((r = opsb_require_inputs(n, in, nin, 1, e)) < 0)
        return r;
    /* MaxPool takes int8/uint8 from opset 12 (max is exact in any type); everything else is float. */
    if (!(kind == POOL_MAX && n->opset >= 12 && (in[0]->dtype == NN_DT_UINT8 || in[0]->dtype == NN_DT_INT8)) &&
        (r = opsb_require_float(n, in, nin, 1u, e)) < 0)
        return r;
    if (in[0]->ndim < 3)
        return nn_node_error(e, n, FP_EMODEL, "X must have rank >= 3 (N, C, spatial...)");
    if (kind == POOL_GMAX || kind == POOL_GAVG) {
        int nsp = in[0]->ndim - 2;
        int64_t plane = 1;
        for (int i = 2; i < in[0]->ndim; i++)
            plane *= in[0]->dims[i];
        memset(w, 0, sizeof(*w));
        /* One window covering the whole plane, flattened into the last dim. */
        w->nsp = nsp;
        for (int i = 0; i < OPSB_MAX_SP; i++)
            w->in[i] = w->k[i] = w->s[i] = w->d[i] = w->out[i] = 1;
        w->in[OPSB_MAX_SP - 1] = w->k[OPSB_MAX_SP - 1] = plane;
        return 0;
    }
    if (kind == POOL_AVG && n->opset < 19) {
        /* Dilations arrived in AveragePool-19; tolerate an explicit all-ones list from older exports. */
        int cnt;
        const int64_t *dl = nn_attr_ints(n, "dilations", &cnt);
        for (int i = 0; dl && i < cnt; i++)
            if (dl[i] != 1)
                return nn_node_error(e, n, FP_EMODEL, "AveragePool dilations need opset 19");
    }
    if (kind == POOL_MAX && nn_attr_int(n, "storage_order", 0) && in[0]->ndim != 4)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "storage_order 1 is supported for 2-D pooling only");
    return opsb_window_init(w, n, in[0], NULL, (int)nn_attr_int(n, "ceil_mode", 0), e);
}

static int pool_infer_kind(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                           enum pool_kind kind, fp_err *e)
{
    opsb_window w;
    int64_t dims[NN_MAX_DIMS];
    int r = pool_window(n, in, nin, kind, &w, e);
    if (r < 0)
        return r;
    dims[0] = in[0]->dims[0];
    dims[1] = in[0]->dims[1];
    for (int i = 2; i < in[0]->ndim; i++)
        dims[i] = kind == POOL_GMAX || kind == POOL_GAVG ? 1 : w.out[OPSB_MAX_SP - w.nsp + i - 2];
    out[0]->dtype = in[0]->dtype;
    if ((r = nn_tensor_set_shape(out[0], in[0]->ndim, dims)) < 0)
        return r;
    if (kind == POOL_MAX && nout > 1 && out[1]) {
        out[1]->dtype = NN_DT_INT64;
        if ((r = nn_tensor_set_shape(out[1], in[0]->ndim, dims)) < 0)
            return r;
    }
    return 0;
}

typedef struct pool_args {
    const opsb_window *w;
    enum pool_kind kind;
    const float *x;
    float *y;
    const void *xi;      /* int8/uint8 MaxPool input and output */
    void *yi;
    int64_t *idx;
    int include_pad, col_major;
} pool_args;

static void pool_planes(void *arg, int64_t p0, int64_t p1)
{
    const pool_args *a = arg;
    const opsb_window *w = a->w;
    int64_t in_plane = w->in[0] * w->in[1] * w->in[2], out_plane = w->out[0] * w->out[1] * w->out[2];
    int is_max = a->kind == POOL_MAX || a->kind == POOL_GMAX;

    for (int64_t p = p0; p < p1; p++) {
        const float *xp = a->x + p * in_plane;
        float *yp = a->y + p * out_plane;
        int64_t *ip = a->idx ? a->idx + p * out_plane : NULL;
        for (int64_t oz = 0; oz < w->out[0]; oz++)
            for (int64_t oy = 0; oy < w->out[1]; oy++)
                for (int64_t ox = 0; ox < w->out[2]; ox++) {
                    int64_t z0 = oz * w->s[0] - w->pb[0], y0 = oy * w->s[1] - w->pb[1], x0 = ox * w->s[2] - w->pb[2];
                    int64_t o = (oz * w->out[1] + oy) * w->out[2] + ox, best = -1, cnt = 0;
                    float m = -INFINITY;
                    double sum = 0;
                    for (int64_t kz = 0; kz < w->k[0]; kz++) {
                        int64_t iz = z0 + kz * w->d[0];
                        if (iz < 0 || iz >= w->in[0])
                            continue;
                        for (int64_t ky = 0; ky < w->k[1]; ky++) {
                            int64_t iy = y0 + ky * w->d[1];
                            const float *row;
                            if (iy < 0 || iy >= w->in[1])
                                continue;
                            row = xp + (iz * w->in[1] + iy) * w->in[2];
                            for (int64_t kx = 0; kx < w->k[2]; kx++) {
                                int64_t ix = x0 + kx * w->d[2];
                                if (ix < 0 || ix >= w->in[2])
                                    continue;
                                if (is_max) {
                                    if (row[ix] > m || best < 0) {
                                        m = row[ix];
                                        best = a->col_major ? iz + w->in[0] * (iy + w->in[1] * ix)
                                                            : (iz * w->in[1] + iy) * w->in[2] + ix;
                                    }
                                } else {
                                    sum += row[ix];
                                    cnt++;
                                }
                            }
                        }
                    }
                    if (is_max) {
                        yp[o] = m;
                        if (ip)
                            ip[o] = p * in_plane + best;
                    } else {
                        if (a->include_pad)
                            cnt = opsb_window_count(z0, w->k[0], w->d[0], -w->pb[0], w->in[0] + w->pe[0]) *
                                  opsb_window_count(y0, w->k[1], w->d[1], -w->pb[1], w->in[1] + w->pe[1]) *
                                  opsb_window_count(x0, w->k[2], w->d[2], -w->pb[2], w->in[2] + w->pe[2]);
                        yp[o] = cnt ? (float)(sum / (double)cnt) : 0.0f;
                    }
                }
    }
}

/* 8-bit MaxPool: same window walk as the float kernel, first maximum wins, same Indices rule. */
#define POOL_MAX_INT(name, T)                                                                               \
    static void name(void *arg, int64_t p0, int64_t p1)                                                     \
    {                                                                                                       \
        const pool_args *a = arg;                                                                           \
        const opsb_window *w = a->w;                                                                        \
        int64_t in_plane = w->in[0] * w->in[1] * w->in[2], out_plane = w->out[0] * w->out[1] * w->out[2];   \
        for (int64_t p = p0; p < p1; p++) {                                                                 \
            const T *xp = (const T *)a->xi + p * in_plane;                                                  \
            T *yp = (T *)a->yi + p * out_plane;                                                             \
            int64_t *ip = a->idx ? a->idx + p * out_plane : NULL;                                           \
            for (int64_t o = 0; o < out_plane; o++) {                                                       \
                int64_t ox = o % w->out[2], oy = (o / w->out[2]) % w->out[1], oz = o / (w->out[2] * w->out[1]); \
                int64_t best = -1;                                                                          \
                T m = 0;                                                                                    \
                for (int64_t kz = 0; kz < w->k[0]; kz++)                                                    \
                    for (int64_t ky = 0; ky < w->k[1]; ky++)                                                \
                        for (int64_t kx = 0; kx < w->k[2]; kx++) {                                          \
                            int64_t iz = oz * w->s[0] - w->pb[0] + kz * w->d[0];                            \
                            int64_t iy = oy * w->s[1] - w->pb[1] + ky * w->d[1];                            \
                            int64_t ix = ox * w->s[2] - w->pb[2] + kx * w->d[2], li;                        \
                            if (iz < 0 || iz >= w->in[0] || iy < 0 || iy >= w->in[1] || ix < 0 || ix >= w->in[2]) \
                                continue;                                                                   \
                            li = (iz * w->in[1] + iy) * w->in[2] + ix;                                      \
                            if (best < 0 || xp[li] > m) {                                                   \
                                m = xp[li];                                                                 \
                                best = a->col_major ? iz + w->in[0] * (iy + w->in[1] * ix) : li;            \
                            }                                                                               \
                        }                                                                                   \
                yp[o] = m;                                                                                  \
                if (ip)                                                                                     \
                    ip[o] = p * in_plane + best;                                                            \
            }                                                                                               \
        }                                                                                                   \
    }
POOL_MAX_INT(pool_planes_u8, uint8_t)
POOL_MAX_INT(pool_planes_i8, int8_t)

static int pool_cpu_kind(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                         nn_cpu_ctx *ctx, enum pool_kind kind, fp_err *e)
{
    opsb_window w;
    pool_args a;
    int r = pool_window(n, in, nin, kind, &w, e);
    if (r < 0)
        return r;
    memset(&a, 0, sizeof(a));
    a.w = &w;
    a.kind = kind;
    a.x = in[0]->data;
    a.y = out[0]->data;
    a.idx = kind == POOL_MAX && nout > 1 && out[1] ? out[1]->data : NULL;
    a.include_pad = kind == POOL_AVG && nn_attr_int(n, "count_include_pad", 0);
    a.col_major = kind == POOL_MAX && nn_attr_int(n, "storage_order", 0);
    a.xi = in[0]->data;
    a.yi = out[0]->data;
    nn_cpu_parallel_for(ctx, in[0]->dims[0] * in[0]->dims[1],
                        in[0]->dtype == NN_DT_UINT8 ? pool_planes_u8
                        : in[0]->dtype == NN_DT_INT8 ? pool_planes_i8
                                                     : pool_planes,
                        &a);
    return 0;
}

#define POOL_DEF(sym, name, kind, minop)                                                                   \
    static int sym##_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,    \
                           fp_err *e)                                                                      \
    {                                                                                                      \
        return pool_infer_kind(n, in, nin, out, nout, kind, e);                                            \
    }                                                                                                      \
    static int sym##_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,      \
                         nn_cpu_ctx *ctx, fp_err *e)                                                       \
    {                                                                                                      \
        return pool_cpu_kind(n, in, nin, out, nout, ctx, kind, e);                                         \
    }                                                                                                      \
    const nn_op_def nn_op_##sym = { .op_type = name, .domain = "", .min_opset = minop,                     \
                                    .infer = sym##_infer, .cpu = sym##_cpu }

POOL_DEF(max_pool, "MaxPool", POOL_MAX, 8);
POOL_DEF(average_pool, "AveragePool", POOL_AVG, 7);
POOL_DEF(global_max_pool, "GlobalMaxPool", POOL_GMAX, 1);
POOL_DEF(global_average_pool, "GlobalAveragePool", POOL_GAVG, 1);
