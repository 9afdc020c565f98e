/*
 * reduce — every op that reduces rows of a tensor, all in fp32 whatever the storage: ReduceSum,
 * ReduceMean, ReduceMax, ReduceMin, ReduceProd, ReduceL1, ReduceL2, ReduceSumSquare, ReduceLogSumExp,
 * GlobalAveragePool, GlobalMaxPool, Softmax, LogSoftmax, LayerNormalization, InstanceNormalization.
 *
 * Owns: cu_ops_reduce and the "rows" kernel behind them: the input is seen as rows (the kept
 * dims) of R elements (the reduced dims, any strides); one thread block reduces one row with warp
 * shuffles, and the normalising ops then rewrite the row in place of the output. Short rows
 * (R <= 64: channel means and softmaxes at full resolution) go to cols_kernel, one thread per row. Variance is two-pass
 * (mean first), not E[x^2]-E[x]^2, so fp16 activations with large means stay accurate.
 *
 * Also ArgMax/ArgMin (one thread per row). Does not own TopK (topk.cu) or integer reductions (reported
 * unsupported).
 */
#include "nn/cuda/nn_cuda.h"

#include <string.h>

enum {
    RD_SUM, RD_MEAN, RD_MAX, RD_MIN, RD_PROD, RD_L1, RD_L2, RD_SUMSQ, RD_LSE,
    RD_SOFTMAX, RD_LOGSOFTMAX, RD_LAYERNORM, RD_INSTNORM,
};

typedef struct rows_geom {
    int nk, nr;
    int64_t kd[NN_MAX_DIMS], ks[NN_MAX_DIMS]; /* kept dims (row index) and their input strides */
    int64_t rd[NN_MAX_DIMS], rs[NN_MAX_DIMS]; /* reduced dims (within a row) and strides */
    int64_t nrows, R;
    int r_contig;                             /* reduced part is one contiguous run: offset = r */
} rows_geom;

__device__ __forceinline__ int64_t rows_base(const rows_geom &g, int64_t o)
{
    int64_t off = 0;
    for (int k = g.nk - 1; k >= 0; k--) {
        off += (o % g.kd[k]) * g.ks[k];
        o /= g.kd[k];
    }
    return off;
}

__device__ __forceinline__ int64_t rows_off(const rows_geom &g, int64_t r)
{
    if (g.r_contig)
        return r;
    if (g.nr == 1) /* one strided run (a channel axis): no division */
        return r * g.rs[0];
    int64_t off = 0;
    for (int k = g.nr - 1; k >= 0; k--) {
        off += (r % g.rd[k]) * g.rs[k];
        r /= g.rd[k];
    }
    return off;
}

/* Split x's dims by mask (bit d set = reduced) into the geometry, merging contiguous neighbours. */
static void rows_set(rows_geom *g, const nn_tensor *x, unsigned mask)
{
    int64_t st[NN_MAX_DIMS];
    memset(g, 0, sizeof(*g));
    cu_strides(x, st);
    g->nrows = 1;
    g->R = 1;
    for (int d = 0; d < x->ndim; d++) {
        int red = (mask >> d) & 1u;
        int64_t *dims = red ? g->rd : g->kd, *strd = red ? g->rs : g->ks;
        int *cnt = red ? &g->nr : &g->nk;
        if (red)
            g->R *= x->dims[d];
        else
            g->nrows *= x->dims[d];
        if (x->dims[d] == 1)
            continue;
        if (*cnt > 0 && strd[*cnt - 1] == st[d] * x->dims[d]) {
            dims[*cnt - 1] *= x->dims[d];
            strd[*cnt - 1] = st[d];
            continue;
        }
        dims[*cnt] = x->dims[d];
        strd[*cnt] = st[d];
        (*cnt)++;
    }
    g->r_contig = g->nr == 0 || (g->nr == 1 && g->rs[0] == 1);
}

__device__ __forceinline__ float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
__device__ __forceinline__ float warp_min(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v = fminf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
__device__ __forceinline__ float warp_prod(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v *= __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* Block-wide combine (kind: 0 sum, 1 max, 2 min, 3 prod); every thread gets the result. */
__device__ float block_reduce(float v, int kind, float *sh)
{
    int lane = threadIdx.x & 31, wid = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = kind == 0 ? warp_sum(v) : kind == 1 ? warp_max(v) : kind == 2 ? warp_min(v) : warp_prod(v);
    __syncthreads(); /* sh may still be read by the previous call */
    if (lane == 0)
        sh[wid] = v;
    __syncthreads();
    float id = kind == 0 ? 0.f : kind == 1 ? -INFINITY : kind == 2 ? INFINITY : 1.f;
    v = lane < nw ? sh[lane] : id;
    if (wid == 0) {
        v = kind == 0 ? warp_sum(v) : kind == 1 ? warp_max(v) : kind == 2 ? warp_min(v) : warp_prod(v);
        if (lane == 0)
            sh[0] = v;
    }
    __syncthreads();
    return sh[0];
}

template <typename T>
__global__ void rows_kernel(T *y, const T *x, rows_geom g, int mode, const T *scale, const T *bias, int64_t C,
                            float eps)
{
    __shared__ float sh[32];
    for (int64_t row = blockIdx.x; row < g.nrows; row += gridDim.x) {
        const int64_t base = rows_base(g, row);
        const T *xr = x + base;
        float acc;
        switch (mode) {
        case RD_MAX: case RD_SOFTMAX: case RD_LOGSOFTMAX: case RD_LSE: acc = -INFINITY; break;
        case RD_MIN: acc = INFINITY; break;
        case RD_PROD: acc = 1.f; break;
        default: acc = 0.f; break;
        }
        int nan = 0;
        for (int64_t r = threadIdx.x; r < g.R; r += blockDim.x) {
            float v = cu_ld(xr + rows_off(g, r));
            switch (mode) {
            case RD_MAX: case RD_SOFTMAX: case RD_LOGSOFTMAX: case RD_LSE: nan |= v != v; acc = fmaxf(acc, v); break;
            case RD_MIN: nan |= v != v; acc = fminf(acc, v); break;
            case RD_PROD: acc *= v; break;
            case RD_L1: acc += fabsf(v); break;
            case RD_L2: case RD_SUMSQ: acc += v * v; break;
            default: acc += v; break;
            }
        }
        int kind = (mode == RD_MAX || mode == RD_SOFTMAX || mode == RD_LOGSOFTMAX || mode == RD_LSE) ? 1
                 : mode == RD_MIN ? 2 : mode == RD_PROD ? 3 : 0;
        float red = block_reduce(acc, kind, sh);
        /* fmaxf drops NaN; the reference propagates it. */
        if (kind == 1 || kind == 2) {
            float anynan = block_reduce(nan ? 1.f : 0.f, 1, sh);
            if (anynan > 0.f)
                red = __int_as_float(0x7fc00000);
        }
        switch (mode) {
        case RD_SUM: case RD_MAX: case RD_MIN: case RD_PROD: case RD_L1: case RD_SUMSQ:
            if (threadIdx.x == 0) cu_st(y + row, red);
            continue;
        case RD_MEAN:
            if (threadIdx.x == 0) cu_st(y + row, red / (float)g.R);
            continue;
        case RD_L2:
            if (threadIdx.x == 0) cu_st(y + row, sqrtf(red));
            continue;
        default: break;
        }
        T *yr = y + base;
        if (mode == RD_LSE || mode == RD_SOFTMAX || mode == RD_LOGSOFTMAX) {
            float m = red, s = 0.f;
            if (m == -INFINITY)
                m = 0.f;
            for (int64_t r = threadIdx.x; r < g.R; r += blockDim.x)
                s += expf(cu_ld(xr + rows_off(g, r)) - m);
            s = block_reduce(s, 0, sh);
            if (mode == RD_LSE) {
                if (threadIdx.x == 0) cu_st(y + row, m + logf(s));
                continue;
            }
            float ls = logf(s), inv = 1.f / s;
            for (int64_t r = threadIdx.x; r < g.R; r += blockDim.x) {
                int64_t o = rows_off(g, r);
                float v = cu_ld(xr + o) - m;
                cu_st(yr + o, mode == RD_SOFTMAX ? expf(v) * inv : v - ls);
            }
            continue;
        }
        /* Layer/instance norm: red is the sum; second pass for the variance. */
        float mean = red / (float)g.R, ss = 0.f;
        for (int64_t r = threadIdx.x; r < g.R; r += blockDim.x) {
            float d = cu_ld(xr + rows_off(g, r)) - mean;
            ss += d * d;
        }
        ss = block_reduce(ss, 0, sh);
        float inv = rsqrtf(ss / (float)g.R + eps);
        for (int64_t r = threadIdx.x; r < g.R; r += blockDim.x) {
            int64_t o = rows_off(g, r);
            float v = (cu_ld(xr + o) - mean) * inv;
            if (mode == RD_LAYERNORM) {
                v = v * cu_ld(scale + r) + (bias ? cu_ld(bias + r) : 0.f);
            } else {
                int64_t c = row % C;
                v = v * cu_ld(scale + c) + cu_ld(bias + c);
            }
            cu_st(yr + o, v);
        }
    }
}

/* Short rows (a channel mean or softmax over C <= RD_COLS_MAX at full resolution): one thread per
 * row, the reduced elements read in a loop. Neighbouring threads have neighbouring rows, so with the
 * reduced axis outside the spatial ones every load is coalesced, where rows_kernel would spend a
 * whole block, two barriers and mostly-empty memory transactions on three elements. Same fp32
 * arithmetic, sums in index order. Not for the normalisations (they keep rows_kernel). */
#define RD_COLS_MAX 64

template <typename T>
__global__ void cols_kernel(T *y, const T *x, rows_geom g, int mode)
{
    for (int64_t row = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; row < g.nrows;
         row += (int64_t)gridDim.x * blockDim.x) {
        const int64_t base = rows_base(g, row);
        const T *xr = x + base;
        int maxlike = mode == RD_MAX || mode == RD_SOFTMAX || mode == RD_LOGSOFTMAX || mode == RD_LSE;
        float acc = maxlike ? -INFINITY : mode == RD_MIN ? INFINITY : mode == RD_PROD ? 1.f : 0.f;
        int nan = 0;
        for (int64_t r = 0; r < g.R; r++) {
            float v = cu_ld(xr + rows_off(g, r));
            if (maxlike) {
                nan |= v != v;
                acc = fmaxf(acc, v);
            } else if (mode == RD_MIN) {
                nan |= v != v;
                acc = fminf(acc, v);
            } else if (mode == RD_PROD) {
                acc *= v;
            } else if (mode == RD_L1) {
                acc += fabsf(v);
            } else if (mode == RD_L2 || mode == RD_SUMSQ) {
                acc += v * v;
            } else {
                acc += v;
            }
        }
        if (nan)
            acc = __int_as_float(0x7fc00000);
        switch (mode) {
        case RD_MEAN: cu_st(y + row, acc / (float)g.R); continue;
        case RD_L2: cu_st(y + row, sqrtf(acc)); continue;
        case RD_LSE: case RD_SOFTMAX: case RD_LOGSOFTMAX: break;
        default: cu_st(y + row, acc); continue;
        }
        float m = acc == -INFINITY ? 0.f : acc, sum = 0.f;
        for (int64_t r = 0; r < g.R; r++)
            sum += expf(cu_ld(xr + rows_off(g, r)) - m);
        if (mode == RD_LSE) {
            cu_st(y + row, m + logf(sum));
            continue;
        }
        float ls = logf(sum), inv = 1.f / sum;
        T *yr = y + base;
        for (int64_t r = 0; r < g.R; r++) {
            int64_t o = rows_off(g, r);
            float v = cu_ld(xr + o) - m;
            cu_st(yr + o, mode == RD_SOFTMAX ? expf(v) * inv : v - ls);
        }
    }
}

/* ---------------------------------------------------------------- op glue */

typedef struct rd_desc {
    const char *name;
    int mode;
} rd_desc;

static const rd_desc rd_ops[] = {
    {"ReduceSum", RD_SUM}, {"ReduceMean", RD_MEAN}, {"ReduceMax", RD_MAX}, {"ReduceMin", RD_MIN},
    {"ReduceProd", RD_PROD}, {"ReduceL1", RD_L1}, {"ReduceL2", RD_L2}, {"ReduceSumSquare", RD_SUMSQ},
    {"ReduceLogSumExp", RD_LSE}, {"GlobalAveragePool", RD_MEAN}, {"GlobalMaxPool", RD_MAX},
    {"Softmax", RD_SOFTMAX}, {"LogSoftmax", RD_LOGSOFTMAX}, {"LayerNormalization", RD_LAYERNORM},
    {"InstanceNormalization", RD_INSTNORM}, {NULL, 0},
};

static int rd_mode(const char *name)
{
    for (const rd_desc *d = rd_ops; d->name; d++)
        if (!strcmp(d->name, name))
            return d->mode;
    return -1;
}

/* Which dims of x are reduced. Returns 1, or 0 with *why. */
static int rd_mask(const nn_node *n, const cu_node *cn, nn_tensor *const *in, int nin, const nn_tensor *x,
                   unsigned *mask, const char **why)
{
    int mode = rd_mode(n->op_type), r = x->ndim, ax;
    *mask = 0;
    if (!strcmp(n->op_type, "GlobalAveragePool") || !strcmp(n->op_type, "GlobalMaxPool") || mode == RD_INSTNORM) {
        if (r < 3)
            return (*why = "rank < 3", 0);
        for (int d = 2; d < r; d++)
            *mask |= 1u << d;
        return 1;
    }
    if (mode == RD_SOFTMAX || mode == RD_LOGSOFTMAX) {
        int64_t a = nn_attr_int(n, "axis", n->opset < 13 ? 1 : -1);
        if (r == 0)
            return (*why = "scalar", 0);
        if (nn_norm_axis(a, r, &ax) < 0)
            return (*why = "axis", 0);
        if (n->opset < 13) {
            for (int d = ax; d < r; d++)
                *mask |= 1u << d;
        } else {
            *mask = 1u << ax;
        }
        return 1;
    }
    if (mode == RD_LAYERNORM) {
        if (nn_norm_axis(nn_attr_int(n, "axis", -1), r, &ax) < 0)
            return (*why = "axis", 0);
        for (int d = ax; d < r; d++)
            *mask |= 1u << d;
        return 1;
    }
    /* Reduce*: axes from the attribute, or from input 1 (ReduceSum >= 13, the others >= 18). */
    int from_input = !strcmp(n->op_type, "ReduceSum") ? n->opset >= 13 : n->opset >= 18;
    int64_t axes[NN_MAX_DIMS];
    int na = 0;
    if (from_input) {
        if (nin > 1 && in[1]) {
            const nn_tensor *t = cu_host(cn, 1);
            if (!t && cu_is_const(in, nin, 1))
                t = in[1];
            if (!t)
                return (*why = "axes input not constant", 0);
            na = (int)nn_tensor_numel(t);
            if (na > NN_MAX_DIMS)
                return (*why = "axes", 0);
            for (int i = 0; i < na; i++)
                axes[i] = nn_tensor_get_i64(t, i);
        }
    } else {
        const int64_t *a = nn_attr_ints(n, "axes", &na);
        if (na > NN_MAX_DIMS)
            return (*why = "axes", 0);
        for (int i = 0; i < na; i++)
            axes[i] = a[i];
    }
    if (na == 0) {
        if (nn_attr_int(n, "noop_with_empty_axes", 0))
            return 1; /* mask 0: every row is one element, the op copies (or squares...) */
        *mask = r >= 32 ? ~0u : (1u << r) - 1u;
        return 1;
    }
    for (int i = 0; i < na; i++) {
        if (nn_norm_axis(axes[i], r, &ax) < 0)
            return (*why = "axis out of range", 0);
        *mask |= 1u << ax;
    }
    return 1;
}

static int rd_supports(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                       nn_tensor *const *out, int nout, const char **why)
{
    unsigned mask;
    int mode = rd_mode(n->op_type);
    if (nin < 1 || !in[0] || nout < 1) {
        *why = "input count";
        return 0;
    }
    nn_dtype dt = cu_eff_dt(in, nin, out, nout, 0);
    if (!cu_is_float(dt) || out[0]->dtype != dt) {
        *why = "dtype (float types only)";
        return 0;
    }
    if (mode == RD_LAYERNORM) {
        if (nout > 1 && (out[1] || (nout > 2 && out[2]))) {
            *why = "Mean/InvStdDev outputs";
            return 0;
        }
        if (nin < 2 || !in[1] || cu_eff_dt(in, nin, out, nout, 1) != dt ||
            (nin > 2 && in[2] && cu_eff_dt(in, nin, out, nout, 2) != dt)) {
            *why = "scale/bias";
            return 0;
        }
        if (nn_attr_int(n, "stash_type", 1) != 1) {
            *why = "stash_type";
            return 0;
        }
    }
    if (mode == RD_INSTNORM && (nin != 3 || !in[1] || !in[2] || cu_eff_dt(in, nin, out, nout, 1) != dt ||
                                cu_eff_dt(in, nin, out, nout, 2) != dt)) {
        *why = "scale/bias";
        return 0;
    }
    /* Reduce's axes input is read at prepare (a value input only for the reduce ops). */
    if (mode <= RD_LSE && strncmp(n->op_type, "Global", 6) && nin > 1 && in[1] && !cu_is_const(in, nin, 1)) {
        *why = "axes input not constant";
        return 0;
    }
    if (!rd_mask(n, NULL, in, nin, in[0], &mask, why))
        return 0;
    if (mode == RD_LAYERNORM) {
        rows_geom g;
        rows_set(&g, in[0], mask);
        if (nn_tensor_numel(in[1]) != g.R || (nin > 2 && in[2] && nn_tensor_numel(in[2]) != g.R)) {
            *why = "scale/bias broadcast (must cover the normalised dims)";
            return 0;
        }
    }
    return 1;
}

static int rd_run(nn_backend_ctx *ctx, const nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                  nn_tensor **out, int nout, fp_err *e)
{
    unsigned mask;
    const char *why = NULL;
    rows_geom g;
    int mode = rd_mode(n->op_type);
    if (!rd_mask(n, cn, in, nin, in[0], &mask, &why))
        return nn_node_error(e, n, FP_EUNSUPPORTED, "cuda: %s: %s", n->op_type, why);
    rows_set(&g, in[0], mask);
    if (g.nrows == 0 || nn_tensor_numel(out[0]) == 0)
        return 0;
    if (g.R == 0)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "cuda: %s over an empty axis", n->op_type);
    float eps = nn_attr_float(n, "epsilon", 1e-5f);
    const void *scale = NULL, *bias = NULL;
    int64_t C = 1;
    if (mode == RD_LAYERNORM || mode == RD_INSTNORM) {
        scale = cu_in(cn, in, 1);
        bias = nin > 2 && in[2] ? cu_in(cn, in, 2) : NULL;
        C = in[0]->dims[1];
    }
    void *y = out[0]->data;
    const void *x = cu_in(cn, in, 0);
    if (g.R <= RD_COLS_MAX && mode != RD_LAYERNORM && mode != RD_INSTNORM) {
        int rc = CU_FLOAT_SWITCH(out[0]->dtype, T,
            (cols_kernel<T><<<cu_grid(g.nrows), 256, 0, ctx->stream>>>((T *)y, (const T *)x, g, mode)));
        if (rc < 0)
            return nn_node_error(e, n, rc, "cuda: dtype");
        CU_LAUNCH_CHECK(e, n);
        return 0;
    }
    /* Small rows waste a 256-thread block; 128 is a fair middle for the shapes we see. */
    unsigned threads = g.R >= 2048 ? 512 : g.R >= 256 ? 256 : g.R >= 64 ? 128 : 32;
    unsigned blocks = (unsigned)(g.nrows < 65535LL * 16 ? g.nrows : 65535LL * 16);
    int rc = CU_FLOAT_SWITCH(out[0]->dtype, T,
        (rows_kernel<T><<<blocks, threads, 0, ctx->stream>>>((T *)y, (const T *)x, g, mode, (const T *)scale,
                                                              (const T *)bias, C, eps)));
    if (rc < 0)
        return nn_node_error(e, n, rc, "cuda: dtype");
    CU_LAUNCH_CHECK(e, n);
    return 0;
}

/* ---------------------------------------------------------------- ArgMax / ArgMin */

/* One thread per row: the rows these ops see (class scores, heatmap columns) are short. Ties keep the
 * first index, or the last with select_last_index. */
template <typename T>
__global__ void arg_kernel(int64_t *y, const T *x, rows_geom g, int is_max, int last)
{
    for (int64_t row = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; row < g.nrows;
         row += (int64_t)gridDim.x * blockDim.x) {
        const T *xr = x + rows_base(g, row);
        float best = cu_ld(xr);
        int64_t bi = 0;
        for (int64_t r = 1; r < g.R; r++) {
            float v = cu_ld(xr + rows_off(g, r));
            bool better = is_max ? (last ? v >= best : v > best) : (last ? v <= best : v < best);
            if (better) {
                best = v;
                bi = r;
            }
        }
        y[row] = bi;
    }
}

static int arg_supports(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                        nn_tensor *const *out, int nout, const char **why)
{
    int ax;
    if (nin != 1 || !in[0] || nout != 1 || out[0]->dtype != NN_DT_INT64) {
        *why = "input count / output dtype";
        return 0;
    }
    if (!cu_is_float(cu_eff_dt(in, nin, out, nout, 0))) {
        *why = "dtype (float types only)";
        return 0;
    }
    if (nn_norm_axis(nn_attr_int(n, "axis", 0), in[0]->ndim, &ax) < 0 || in[0]->dims[ax] == 0) {
        *why = "axis";
        return 0;
    }
    return 1;
}

static int arg_run(nn_backend_ctx *ctx, const nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                   nn_tensor **out, int nout, fp_err *e)
{
    int ax;
    rows_geom g;
    nn_norm_axis(nn_attr_int(n, "axis", 0), in[0]->ndim, &ax);
    rows_set(&g, in[0], 1u << ax);
    if (g.nrows == 0)
        return 0;
    int is_max = !strcmp(n->op_type, "ArgMax"), last = (int)nn_attr_int(n, "select_last_index", 0);
    int64_t *y = (int64_t *)out[0]->data;
    const void *x = cu_in(cn, in, 0);
    int rc = CU_FLOAT_SWITCH(cu_dt(cn, in, 0), T,
        (arg_kernel<T><<<cu_grid(g.nrows), 256, 0, ctx->stream>>>(y, (const T *)x, g, is_max, last)));
    if (rc < 0)
        return nn_node_error(e, n, rc, "cuda: dtype");
    CU_LAUNCH_CHECK(e, n);
    return 0;
}

const cu_op cu_ops_reduce[] = {
#define RD(name, vin) {name, rd_supports, NULL, rd_run, vin}
    RD("ReduceSum", 0x2u), RD("ReduceMean", 0x2u), RD("ReduceMax", 0x2u), RD("ReduceMin", 0x2u),
    RD("ReduceProd", 0x2u), RD("ReduceL1", 0x2u), RD("ReduceL2", 0x2u), RD("ReduceSumSquare", 0x2u),
    RD("ReduceLogSumExp", 0x2u), RD("GlobalAveragePool", 0), RD("GlobalMaxPool", 0), RD("Softmax", 0),
    RD("LogSoftmax", 0), RD("LayerNormalization", 0), RD("InstanceNormalization", 0),
#undef RD
    {"ArgMax", arg_supports, NULL, arg_run, 0},
    {"ArgMin", arg_supports, NULL, arg_run, 0},
    {NULL, NULL, NULL, NULL, 0},
};
