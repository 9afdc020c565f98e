/*
 * conv — Conv and ConvTranspose through cuDNN 9's convolution API, DeformConv (deformable im2col +
 * cuBLAS), and BatchNormalization (inference) as a per-channel affine kernel.
 *
 * Owns: cu_ops_conv, the cuDNN descriptors and algorithm of every convolution node (chosen once per
 * shape in prepare_node with cudnnFind*, cached in the node), and the bias kernel that follows the
 * convolution. Float storage float/half/bf16 with fp32 accumulation (cuDNN's PSEUDO_HALF and
 * PSEUDO_BFLOAT16 configurations, tensor cores on); fp32 storage keeps FMA math so results stay
 * within 1e-5 of the CPU reference (no TF32). Layout is NCHW as ONNX gives it; cuDNN's NCHW
 * tensor-core kernels transpose internally.
 *
 * FusedConv (com.microsoft; made by the runtime's fusion pass, src/nn/nn_fuse.c) is Conv with its
 * activation applied in the same pass over the output as the bias (one read and one write of the
 * output instead of two of each).
 *
 * Does not own: the graph rewrites themselves (BatchNorm folding and activation fusion are the
 * runtime's, nn_fuse.c); asymmetric padding on ConvTranspose (reported unsupported).
 */
#include "nn/cuda/nn_cuda.h"
#include "nn/nn_fuse.h"

#include <cublas_v2.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct conv_priv {
    cudnnTensorDescriptor_t x, y;
    cudnnFilterDescriptor_t w;
    cudnnConvolutionDescriptor_t conv;
    int fwd_algo;          /* cudnnConvolutionFwdAlgo_t or cudnnConvolutionBwdDataAlgo_t */
    size_t ws_bytes;
    int64_t C_out, inner;  /* bias broadcast: channels and spatial size of the output */
    int act;               /* FusedConv: nn_act applied after the bias, with act_a/act_b */
    float act_a, act_b;
    /* Asymmetric pads (Conv only): cuDNN pads both sides alike, so the input is first copied into a
     * zeroed buffer at the start of the workspace with the difference added explicitly; cuDNN's own
     * workspace follows at xp_off. */
    int xpad;
    int64_t xp_dims[NN_MAX_DIMS], xp_off_elems; /* padded input dims; where the input starts in it */
    size_t xp_bytes, xp_off;
} conv_priv;

static void conv_priv_free(nn_backend_ctx *ctx, void *p)
{
    conv_priv *c = (conv_priv *)p;
    if (!c)
        return;
    if (c->x) cudnnDestroyTensorDescriptor(c->x);
    if (c->y) cudnnDestroyTensorDescriptor(c->y);
    if (c->w) cudnnDestroyFilterDescriptor(c->w);
    if (c->conv) cudnnDestroyConvolutionDescriptor(c->conv);
    free(c);
}

static cudnnDataType_t cudnn_dt(nn_dtype dt)
{
    switch (dt) {
    case NN_DT_FLOAT16: return CUDNN_DATA_HALF;
    case NN_DT_BFLOAT16: return CUDNN_DATA_BFLOAT16;
    default: return CUDNN_DATA_FLOAT;
    }
}

/* Spatial geometry of a Conv/ConvTranspose node with nsp spatial dims. */
typedef struct conv_geom {
    int nsp;
    int k[3], stride[3], dil[3], pad[3];
    int xlo[3], xhi[3];     /* explicit extra padding before/after (asymmetric pads, Conv only) */
    int group;
} conv_geom;

/* Fill g from the attributes and the tensors. Returns 1, or 0 with *why. transposed: x is the
 * convolution's output side. */
static int conv_geom_get(const nn_node *n, const nn_tensor *x, const nn_tensor *w, const nn_tensor *y,
                         int transposed, conv_geom *g, const char **why)
{
    int nk = 0, ns = 0, nd = 0, np = 0;
    const int64_t *ks = nn_attr_ints(n, "kernel_shape", &nk), *st = nn_attr_ints(n, "strides", &ns);
    const int64_t *dl = nn_attr_ints(n, "dilations", &nd), *pd = nn_attr_ints(n, "pads", &np);
    const char *ap = nn_attr_str(n, "auto_pad", "NOTSET");
    memset(g, 0, sizeof(*g));
    g->nsp = x->ndim - 2;
    if (g->nsp < 1 || g->nsp > 3 || w->ndim != x->ndim || y->ndim != x->ndim)
        return (*why = "rank (1-D to 3-D convolutions only)", 0);
    g->group = (int)nn_attr_int(n, "group", 1);
    if (g->group < 1)
        return (*why = "group", 0);
    if ((ks && nk != g->nsp) || (st && ns != g->nsp) || (dl && nd != g->nsp) || (pd && np != 2 * g->nsp))
        return (*why = "attribute lengths", 0);
    for (int i = 0; i < g->nsp; i++) {
        g->k[i] = (int)w->dims[2 + i];
        if (ks && ks[i] != w->dims[2 + i])
            return (*why = "kernel_shape differs from weights", 0);
        g->stride[i] = st ? (int)st[i] : 1;
        g->dil[i] = dl ? (int)dl[i] : 1;
        if (g->stride[i] < 1 || g->dil[i] < 1)
            return (*why = "stride/dilation", 0);
        int lo, hi;
        if (!strcmp(ap, "NOTSET")) {
            lo = pd ? (int)pd[i] : 0;
            hi = pd ? (int)pd[g->nsp + i] : 0;
        } else if (!strcmp(ap, "VALID")) {
            lo = hi = 0;
        } else if (!transposed && (!strcmp(ap, "SAME_UPPER") || !strcmp(ap, "SAME_LOWER"))) {
            int64_t in = x->dims[2 + i], out = y->dims[2 + i];
            int64_t tot = (out - 1) * g->stride[i] + (int64_t)(g->k[i] - 1) * g->dil[i] + 1 - in;
            if (tot < 0)
                tot = 0;
            lo = (int)(!strcmp(ap, "SAME_UPPER") ? tot / 2 : tot - tot / 2);
            hi = (int)(tot - lo);
        } else {
            return (*why = "auto_pad on ConvTranspose", 0);
        }
        if (lo < 0 || hi < 0)
            return (*why = "negative padding", 0);
        if (lo != hi && transposed)
            return (*why = "asymmetric padding on ConvTranspose", 0);
        g->pad[i] = lo < hi ? lo : hi;
        g->xlo[i] = lo - g->pad[i];
        g->xhi[i] = hi - g->pad[i];
    }
    return 1;
}

static int conv_supports(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                         nn_tensor *const *out, int nout, const char **why)
{
    conv_geom g;
    if (nin < 2 || !in[0] || !in[1] || nout != 1) {
        *why = "input count";
        return 0;
    }
    nn_dtype dt = cu_eff_dt(in, nin, out, nout, 0);
    if (!cu_is_float(dt) || cu_eff_dt(in, nin, out, nout, 1) != dt || out[0]->dtype != dt ||
        (nin > 2 && in[2] && cu_eff_dt(in, nin, out, nout, 2) != dt)) {
        *why = "dtype";
        return 0;
    }
    int transposed = !strcmp(n->op_type, "ConvTranspose");
    if (!conv_geom_get(n, in[0], in[1], out[0], transposed, &g, why))
        return 0;
    if (transposed) {
        int no = 0;
        nn_attr_ints(n, "output_shape", &no);
        int64_t cin = in[0]->dims[1];
        if (in[1]->dims[0] != cin || cin % g.group)
            return (*why = "weights/channels", 0);
        /* cuDNN derives the input side from the output side; the output tensor must be consistent
         * with it (output_padding < stride keeps that true). */
        for (int i = 0; i < g.nsp; i++) {
            int64_t o = out[0]->dims[2 + i];
            int64_t back = (o + 2 * g.pad[i] - (int64_t)g.dil[i] * (g.k[i] - 1) - 1) / g.stride[i] + 1;
            if (back != in[0]->dims[2 + i])
                return (*why = "output_padding/output_shape not expressible in cuDNN", 0);
        }
    } else if (in[0]->dims[1] != in[1]->dims[1] * g.group || in[1]->dims[0] % g.group) {
        return (*why = "weights/channels", 0);
    }
    return 1;
}

static int set_nd_tensor(const nn_node *n, cudnnTensorDescriptor_t d, cudnnDataType_t dt, const nn_tensor *t, fp_err *e)
{
    int dims[5], st[5], nd = t->ndim < 4 ? 4 : t->ndim;
    /* A 1-D convolution runs as 2-D with height 1. */
    for (int i = 0; i < nd; i++)
        dims[i] = 1;
    if (t->ndim == 3) {
        dims[0] = (int)t->dims[0];
        dims[1] = (int)t->dims[1];
        dims[3] = (int)t->dims[2];
    } else {
        for (int i = 0; i < t->ndim; i++)
            dims[i] = (int)t->dims[i];
    }
    st[nd - 1] = 1;
    for (int i = nd - 2; i >= 0; i--)
        st[i] = st[i + 1] * dims[i + 1];
    CUDNN_CHECK(e, n, cudnnSetTensorNdDescriptor(d, dt, nd, dims, st));
    return 0;
}

/* Process-wide cache of cuDNN's algorithm choice per convolution problem (key: a hash of direction,
 * dtype, shapes, padding, strides, dilations, groups and device). Open addressing, fixed size: when
 * full, new problems are searched every time (correct, just slower). */
#define CONV_CACHE_SIZE 4096
typedef struct conv_cache_entry {
    uint64_t key;   /* 0 = empty */
    int algo, math;
    size_t ws;
} conv_cache_entry;
static conv_cache_entry conv_cache[CONV_CACHE_SIZE];
static pthread_mutex_t conv_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static int conv_algo_cache_get(uint64_t key, int *algo, int *math, size_t *ws)
{
    int hit = 0;
    key |= 1; /* never 0 */
    pthread_mutex_lock(&conv_cache_lock);
    for (unsigned i = 0; i < CONV_CACHE_SIZE; i++) {
        conv_cache_entry *c = &conv_cache[(key + i) % CONV_CACHE_SIZE];
        if (c->key == 0)
            break;
        if (c->key == key) {
            *algo = c->algo;
            *math = c->math;
            *ws = c->ws;
            hit = 1;
            break;
        }
    }
    pthread_mutex_unlock(&conv_cache_lock);
    return hit;
}

static void conv_algo_cache_put(uint64_t key, int algo, int math, size_t ws)
{
    key |= 1;
    pthread_mutex_lock(&conv_cache_lock);
    for (unsigned i = 0; i < CONV_CACHE_SIZE; i++) {
        conv_cache_entry *c = &conv_cache[(key + i) % CONV_CACHE_SIZE];
        if (c->key == 0 || c->key == key) {
            c->key = key;
            c->algo = algo;
            c->math = math;
            c->ws = ws;
            break;
        }
    }
    pthread_mutex_unlock(&conv_cache_lock);
}

static int conv_prepare(nn_backend_ctx *ctx, nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                        nn_tensor *const *out, int nout, fp_err *e)
{
    conv_geom g;
    const char *why = NULL;
    int transposed = !strcmp(n->op_type, "ConvTranspose");
    if (!conv_geom_get(n, in[0], in[1], out[0], transposed, &g, &why))
        return nn_node_error(e, n, FP_EUNSUPPORTED, "cuda: %s: %s", n->op_type, why);
    conv_priv *c = (conv_priv *)calloc(1, sizeof(*c));
    if (!c)
        return nn_node_error(e, n, FP_ENOMEM, "cuda: out of memory");
    cn->priv = c;
    cn->priv_free = conv_priv_free;
    if (!strcmp(n->op_type, "FusedConv")) {
        int rc = nn_fused_act(n, &c->act, &c->act_a, &c->act_b, e);
        if (rc < 0)
            return rc;
    }
    nn_dtype dt = out[0]->dtype;
    cudnnDataType_t cdt = cudnn_dt(dt);
    CUDNN_CHECK(e, n, cudnnCreateTensorDescriptor(&c->x));
    CUDNN_CHECK(e, n, cudnnCreateTensorDescriptor(&c->y));
    CUDNN_CHECK(e, n, cudnnCreateFilterDescriptor(&c->w));
    CUDNN_CHECK(e, n, cudnnCreateConvolutionDescriptor(&c->conv));
    int rc;
    nn_tensor xp = *in[0];
    for (int i = 0; i < g.nsp; i++) {
        if (g.xlo[i] || g.xhi[i])
            c->xpad = 1;
        xp.dims[2 + i] += g.xlo[i] + g.xhi[i];
    }
    if (c->xpad) {
        int64_t st[NN_MAX_DIMS];
        cu_strides(&xp, st);
        memcpy(c->xp_dims, xp.dims, sizeof(c->xp_dims));
        c->xp_off_elems = 0;
        for (int i = 0; i < g.nsp; i++)
            c->xp_off_elems += g.xlo[i] * st[2 + i];
        c->xp_bytes = nn_tensor_nbytes(&xp);
        c->xp_off = (c->xp_bytes + 255) & ~(size_t)255;
    }
    if ((rc = set_nd_tensor(n, c->x, cdt, &xp, e)) < 0 || (rc = set_nd_tensor(n, c->y, cdt, out[0], e)) < 0)
        return rc;
    int nsp = g.nsp == 1 ? 2 : g.nsp;
    int wd[5], pad[3], str[3], dil[3];
    const nn_tensor *w = in[1];
    wd[0] = (int)w->dims[0];
    wd[1] = (int)w->dims[1];
    if (g.nsp == 1) {
        wd[2] = 1;
        wd[3] = (int)w->dims[2];
        pad[0] = 0; str[0] = 1; dil[0] = 1;
        pad[1] = g.pad[0]; str[1] = g.stride[0]; dil[1] = g.dil[0];
    } else {
        for (int i = 0; i < g.nsp; i++) {
            wd[2 + i] = (int)w->dims[2 + i];
            pad[i] = g.pad[i];
            str[i] = g.stride[i];
            dil[i] = g.dil[i];
        }
    }
    CUDNN_CHECK(e, n, cudnnSetFilterNdDescriptor(c->w, cdt, CUDNN_TENSOR_NCHW, nsp + 2, wd));
    CUDNN_CHECK(e, n, cudnnSetConvolutionNdDescriptor(c->conv, nsp, pad, str, dil, CUDNN_CROSS_CORRELATION,
                                                      CUDNN_DATA_FLOAT));
    CUDNN_CHECK(e, n, cudnnSetConvolutionGroupCount(c->conv, g.group));
    /* fp32 storage: FMA only, no TF32 (the 1e-5 contract). Half/bf16: tensor cores. */
    CUDNN_CHECK(e, n, cudnnSetConvolutionMathType(c->conv, dt == NN_DT_FLOAT ? CUDNN_FMA_MATH : CUDNN_TENSOR_OP_MATH));
    c->C_out = out[0]->dims[1];
    c->inner = 1;
    for (int i = 2; i < out[0]->ndim; i++)
        c->inner *= out[0]->dims[i];

    /* Ask for every algorithm: the filters below may reject the fastest few. */
    const int want = transposed ? (int)CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT : (int)CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
    int got = 0, chosen = -1;
    size_t ws = 0;
    /* The search times every candidate: do it once per process for a given problem (a second model
     * instance, a bench reloading the model, a plan rebuilt after eviction reuse the answer). */
    uint64_t key = 1469598103934665603ULL;
    {
        int64_t parts[] = {transposed, (int64_t)dt, g.group, g.nsp, ctx->device};
#define KMIX(v) do { key ^= (uint64_t)(v); key *= 1099511628211ULL; } while (0)
        for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
            KMIX(parts[i]);
        for (int i = 0; i < in[0]->ndim; i++) KMIX(in[0]->dims[i]);
        for (int i = 0; i < in[1]->ndim; i++) KMIX(in[1]->dims[i]);
        for (int i = 0; i < out[0]->ndim; i++) KMIX(out[0]->dims[i]);
        for (int i = 0; i < g.nsp; i++) { KMIX(g.pad[i]); KMIX(g.stride[i]); KMIX(g.dil[i]); KMIX(g.xlo[i]); KMIX(g.xhi[i]); }
#undef KMIX
    }
    {
        int algo, math;
        size_t cws;
        if (conv_algo_cache_get(key, &algo, &math, &cws)) {
            CUDNN_CHECK(e, n, cudnnSetConvolutionMathType(c->conv, (cudnnMathType_t)math));
            c->fwd_algo = algo;
            c->ws_bytes = cws;
            return cu_ws_reserve(ctx, n, c->xp_off + cws, e);
        }
    }
    int chosen_math = 0;
    if (!transposed) {
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        CUDNN_CHECK(e, n, cudnnFindConvolutionForwardAlgorithm(ctx->cudnn, c->x, c->w, c->conv, c->y, want, &got, perf));
        for (int i = 0; i < got && chosen < 0; i++) {
            if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].determinism != CUDNN_DETERMINISTIC)
                continue;
            if (dt == NN_DT_FLOAT && perf[i].mathType != CUDNN_FMA_MATH && perf[i].mathType != CUDNN_DEFAULT_MATH)
                continue;
            /* FFT and non-fused Winograd trade accuracy for speed beyond what fp32 promises. */
            if (dt == NN_DT_FLOAT && (perf[i].algo == CUDNN_CONVOLUTION_FWD_ALGO_FFT ||
                                      perf[i].algo == CUDNN_CONVOLUTION_FWD_ALGO_FFT_TILING ||
                                      perf[i].algo == CUDNN_CONVOLUTION_FWD_ALGO_WINOGRAD_NONFUSED))
                continue;
            chosen = perf[i].algo;
            ws = perf[i].memory;
            /* CUDNN_DEFAULT_MATH permits TF32 on Ampere and later: fp32 stays FMA whatever was reported. */
            chosen_math = dt == NN_DT_FLOAT ? CUDNN_FMA_MATH : perf[i].mathType;
            CUDNN_CHECK(e, n, cudnnSetConvolutionMathType(c->conv, (cudnnMathType_t)chosen_math));
        }
    } else {
        cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        CUDNN_CHECK(e, n, cudnnFindConvolutionBackwardDataAlgorithm(ctx->cudnn, c->w, c->x, c->conv, c->y, want, &got, perf));
        for (int i = 0; i < got && chosen < 0; i++) {
            /* BWD_DATA_ALGO_0 accumulates with atomics: often the fastest for strided ConvTranspose, but
             * its sums change order from run to run, so a replayed graph (or a second plain run) is not
             * bit-identical. Only deterministic algorithms: same input, same bits. */
            if (perf[i].status != CUDNN_STATUS_SUCCESS || perf[i].determinism != CUDNN_DETERMINISTIC)
                continue;
            if (dt == NN_DT_FLOAT && perf[i].mathType != CUDNN_FMA_MATH && perf[i].mathType != CUDNN_DEFAULT_MATH)
                continue;
            if (dt == NN_DT_FLOAT && (perf[i].algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT ||
                                      perf[i].algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_FFT_TILING ||
                                      perf[i].algo == CUDNN_CONVOLUTION_BWD_DATA_ALGO_WINOGRAD_NONFUSED))
                continue;
            chosen = perf[i].algo;
            ws = perf[i].memory;
            /* CUDNN_DEFAULT_MATH permits TF32 on Ampere and later: fp32 stays FMA whatever was reported. */
            chosen_math = dt == NN_DT_FLOAT ? CUDNN_FMA_MATH : perf[i].mathType;
            CUDNN_CHECK(e, n, cudnnSetConvolutionMathType(c->conv, (cudnnMathType_t)chosen_math));
        }
    }
    if (chosen < 0)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "cuda: %s: cuDNN has no deterministic algorithm for this shape/dtype (%d tried)",
                             n->op_type, got);
    c->fwd_algo = chosen;
    c->ws_bytes = ws;
    conv_algo_cache_put(key, chosen, chosen_math, ws);
    return cu_ws_reserve(ctx, n, c->xp_off + ws, e);
}

template <typename T>
__global__ void bias_kernel(T *y, const T *b, int64_t C, int64_t inner, int64_t total)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x)
        cu_st(y + i, cu_ld(y + i) + cu_ld(b + (i / inner) % C));
}

/* FusedConv's epilogue: optional bias, then the activation, in one pass over the output. One block
 * row (blockIdx.y) per (batch, channel) plane when there are few enough planes: the channel is then
 * known per block and no thread divides (64-bit division is emulated in dozens of instructions, on
 * every element of every Conv output otherwise). */
template <typename T>
__global__ void bias_act_plane_kernel(T *y, const T *b, int64_t C, int64_t inner, int act, float pa, float pb)
{
    int64_t plane = blockIdx.y;
    float bv = b ? cu_ld(b + plane % C) : 0.f;
    T *p = y + plane * inner;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < inner; i += (int64_t)gridDim.x * blockDim.x)
        cu_st(p + i, nn_act_apply(act, cu_ld(p + i) + bv, pa, pb));
}

/* bias_act_plane_kernel, 16 bytes per thread per step (planes of a multiple of 16 bytes, aligned). */
template <typename T>
__global__ void bias_act_plane_vec(T *y, const T *b, int64_t C, int64_t inner, int act, float pa, float pb)
{
    constexpr int K = 16 / sizeof(T);
    int64_t plane = blockIdx.y, nvec = inner / K;
    float bv = b ? cu_ld(b + plane % C) : 0.f;
    uint4 *p = (uint4 *)(y + plane * inner);
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < nvec; i += (int64_t)gridDim.x * blockDim.x) {
        uint4 v = p[i];
        T *t = (T *)&v;
#pragma unroll
        for (int k = 0; k < K; k++)
            cu_st(t + k, nn_act_apply(act, cu_ld(t + k) + bv, pa, pb));
        p[i] = v;
    }
}

template <typename T>
__global__ void bias_act_kernel(T *y, const T *b, int64_t C, int64_t inner, int64_t total, int act, float pa,
                                float pb)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        float v = cu_ld(y + i);
        if (b)
            v += cu_ld(b + (i / inner) % C);
        cu_st(y + i, nn_act_apply(act, v, pa, pb));
    }
}

/* Bias and/or activation over a conv output y [N, C, inner...]. */
template <typename T>
static void bias_act_launch(cudaStream_t s, T *y, const T *b, int64_t C, int64_t inner, int64_t total, int act,
                            float pa, float pb)
{
    int64_t planes = inner ? total / inner : 0;
    if (planes > 0 && planes <= 65535) {
        int64_t bx = (inner + 255) / 256;
        if (bx > 4096 / (planes < 4096 ? planes : 4096) + 1)
            bx = 4096 / (planes < 4096 ? planes : 4096) + 1; /* enough blocks to fill the GPU; loop the rest */
        dim3 grid((unsigned)(bx < 1 ? 1 : bx), (unsigned)planes);
        if ((inner * (int64_t)sizeof(T)) % 16 == 0 && ((uintptr_t)y & 15u) == 0)
            bias_act_plane_vec<T><<<grid, 256, 0, s>>>(y, b, C, inner, act, pa, pb);
        else
            bias_act_plane_kernel<T><<<grid, 256, 0, s>>>(y, b, C, inner, act, pa, pb);
    } else {
        bias_act_kernel<T><<<cu_grid(total), 256, 0, s>>>(y, b, C, inner, total, act, pa, pb);
    }
}

static int conv_run(nn_backend_ctx *ctx, const nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                    nn_tensor **out, int nout, fp_err *e)
{
    conv_priv *c = (conv_priv *)cn->priv;
    const float one = 1.f, zero = 0.f;
    if (nn_tensor_numel(out[0]) == 0)
        return 0;
    const void *x = cu_in(cn, in, 0);
    void *ws = (char *)ctx->ws + c->xp_off;
    if (c->xpad) {
        /* Zero the padded buffer, then place the input inside it (the asymmetric remainder of the pads). */
        int64_t dst_st[NN_MAX_DIMS], src_st[NN_MAX_DIMS];
        nn_tensor xp = *in[0];
        memcpy(xp.dims, c->xp_dims, sizeof(xp.dims));
        cu_strides(&xp, dst_st);
        cu_strides(in[0], src_st);
        CU_CHECK(e, n, cudaMemsetAsync(ctx->ws, 0, c->xp_bytes, ctx->stream));
        int rc = cu_strided_copy(ctx, n, ctx->ws, x, (int)nn_dtype_size(in[0]->dtype), in[0]->ndim, in[0]->dims,
                                 dst_st, c->xp_off_elems, src_st, 0, e);
        if (rc < 0)
            return rc;
        x = ctx->ws;
    }
    if (!strcmp(n->op_type, "ConvTranspose"))
        CUDNN_CHECK(e, n, cudnnConvolutionBackwardData(ctx->cudnn, &one, c->w, cu_in(cn, in, 1), c->x, x,
                                                       c->conv, (cudnnConvolutionBwdDataAlgo_t)c->fwd_algo, ws,
                                                       c->ws_bytes, &zero, c->y, out[0]->data));
    else
        CUDNN_CHECK(e, n, cudnnConvolutionForward(ctx->cudnn, &one, c->x, x, c->w, cu_in(cn, in, 1), c->conv,
                                                  (cudnnConvolutionFwdAlgo_t)c->fwd_algo, ws, c->ws_bytes, &zero, c->y,
                                                  out[0]->data));
    if (c->act != NN_ACT_NONE) {
        int64_t total = nn_tensor_numel(out[0]);
        const void *b = nin > 2 && in[2] ? cu_in(cn, in, 2) : NULL;
        void *y = out[0]->data;
        int64_t C = c->C_out, inner = c->inner;
        int act = c->act;
        float pa = c->act_a, pb = c->act_b;
        int rc = CU_FLOAT_SWITCH(out[0]->dtype, T,
            (bias_act_launch<T>(ctx->stream, (T *)y, (const T *)b, C, inner, total, act, pa, pb)));
        if (rc < 0)
            return nn_node_error(e, n, rc, "cuda: bias dtype");
        CU_LAUNCH_CHECK(e, n);
    } else if (nin > 2 && in[2]) {
        int64_t total = nn_tensor_numel(out[0]);
        const void *b = cu_in(cn, in, 2);
        void *y = out[0]->data;
        int64_t C = c->C_out, inner = c->inner;
        int rc = CU_FLOAT_SWITCH(out[0]->dtype, T,
            (bias_act_launch<T>(ctx->stream, (T *)y, (const T *)b, C, inner, total, NN_ACT_NONE, 0.f, 0.f)));
        if (rc < 0)
            return nn_node_error(e, n, rc, "cuda: bias dtype");
        CU_LAUNCH_CHECK(e, n);
    }
    return 0;
}

/* ---------------------------------------------------------------- BatchNormalization */

typedef struct bn_priv {
    float *ab;     /* device: scale[C] then shift[C], fp32 */
    int64_t C;
} bn_priv;

static void bn_priv_free(nn_backend_ctx *ctx, void *p)
{
    bn_priv *b = (bn_priv *)p;
    if (!b)
        return;
    cudaFree(b->ab);
    free(b);
}

static int bn_supports(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                       nn_tensor *const *out, int nout, const char **why)
{
    if (nin != 5 || nout < 1 || !in[0] || in[0]->ndim < 2) {
        *why = "input count/rank";
        return 0;
    }
    if (nout > 1 && out[1]) {
        *why = "training outputs";
        return 0;
    }
    if (nn_attr_int(n, "training_mode", 0)) {
        *why = "training_mode";
        return 0;
    }
    nn_dtype dt = cu_eff_dt(in, nin, out, nout, 0);
    if (!cu_is_float(dt) || out[0]->dtype != dt) {
        *why = "dtype";
        return 0;
    }
    for (int i = 1; i < 5; i++)
        if (!in[i] || nn_tensor_numel(in[i]) != in[0]->dims[1]) {
            *why = "parameter length";
            return 0;
        }
    return 1;
}

/* Scale and shift in fp32 from the host copies: (x - mean) * s / sqrt(var + eps) + b. */
static int bn_prepare(nn_backend_ctx *ctx, nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                      nn_tensor *const *out, int nout, fp_err *e)
{
    int64_t C = in[0]->dims[1];
    float eps = nn_attr_float(n, "epsilon", 1e-5f);
    const nn_tensor *s = cu_host(cn, 1), *b = cu_host(cn, 2), *m = cu_host(cn, 3), *v = cu_host(cn, 4);
    if (!s || !b || !m || !v)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "cuda: BatchNormalization parameters must be constant");
    float *h = (float *)malloc(sizeof(float) * 2 * C);
    if (!h)
        return nn_node_error(e, n, FP_ENOMEM, "cuda: out of memory");
    for (int64_t c = 0; c < C; c++) {
        double sc = nn_tensor_get_f64(s, c) / sqrt(nn_tensor_get_f64(v, c) + (double)eps);
        h[c] = (float)sc;
        h[C + c] = (float)(nn_tensor_get_f64(b, c) - nn_tensor_get_f64(m, c) * sc);
    }
    bn_priv *p = (bn_priv *)calloc(1, sizeof(*p));
    if (!p) {
        free(h);
        return nn_node_error(e, n, FP_ENOMEM, "cuda: out of memory");
    }
    cn->priv = p;
    cn->priv_free = bn_priv_free;
    p->C = C;
    cudaError_t st = cudaMalloc(&p->ab, sizeof(float) * 2 * C);
    if (st == cudaSuccess)
        st = cudaMemcpyAsync(p->ab, h, sizeof(float) * 2 * C, cudaMemcpyHostToDevice, ctx->stream);
    if (st == cudaSuccess)
        st = cudaStreamSynchronize(ctx->stream);
    free(h);
    if (st != cudaSuccess)
        return cu_err_cuda(e, n, st, "BatchNormalization parameters");
    return 0;
}

template <typename T>
__global__ void bn_kernel(T *y, const T *x, const float *ab, int64_t C, int64_t inner, int64_t total)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t c = (i / inner) % C;
        cu_st(y + i, cu_ld(x + i) * ab[c] + ab[C + c]);
    }
}

static int bn_run(nn_backend_ctx *ctx, const nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                  nn_tensor **out, int nout, fp_err *e)
{
    bn_priv *p = (bn_priv *)cn->priv;
    int64_t total = nn_tensor_numel(out[0]), inner = 1, C = p->C;
    if (total == 0)
        return 0;
    for (int i = 2; i < in[0]->ndim; i++)
        inner *= in[0]->dims[i];
    void *y = out[0]->data;
    const void *x = cu_in(cn, in, 0);
    const float *ab = p->ab;
    int rc = CU_FLOAT_SWITCH(out[0]->dtype, T,
        (bn_kernel<T><<<cu_grid(total), 256, 0, ctx->stream>>>((T *)y, (const T *)x, ab, C, inner, total)));
    if (rc < 0)
        return nn_node_error(e, n, rc, "cuda: dtype");
    CU_LAUNCH_CHECK(e, n);
    return 0;
}

/* ---------------------------------------------------------------- DeformConv */

/* DeformConv (opset 19, torchvision deform_conv2d semantics as ops/deform_conv.c): a deformable
 * im2col [N][C*kH*kW][oH*oW] in the shared workspace (one thread per (batch, channel, tap, pixel),
 * bilinear sampling with torchvision's zero padding, times the mask), then per group one cuBLAS
 * strided-batched GEMM over the batch with the group's weights, then the bias. */
typedef struct dcn_geom {
    int64_t n, c, h, w, oc, kh, kw, sh, sw, dh, dw, ph, pw, oh, ow, group, ogroup;
    int has_mask;
} dcn_geom;

static int dcn_parse(const nn_node *n, nn_tensor *const *in, int nin, const nn_tensor *y, dcn_geom *g, const char **why)
{
    int nks = 0, nst = 0, ndl = 0, npd = 0;
    const int64_t *ks = nn_attr_ints(n, "kernel_shape", &nks), *st = nn_attr_ints(n, "strides", &nst);
    const int64_t *dl = nn_attr_ints(n, "dilations", &ndl), *pd = nn_attr_ints(n, "pads", &npd);
    if (nin < 3 || !in[0] || !in[1] || !in[2])
        return (*why = "input count", 0);
    const nn_tensor *x = in[0], *w = in[1], *off = in[2];
    if (x->ndim != 4 || w->ndim != 4 || off->ndim != 4 || y->ndim != 4)
        return (*why = "2-D only", 0);
    if ((ks && nks != 2) || (st && nst != 2) || (dl && ndl != 2) || (pd && npd != 4))
        return (*why = "attribute lengths", 0);
    memset(g, 0, sizeof(*g));
    g->n = x->dims[0];
    g->c = x->dims[1];
    g->h = x->dims[2];
    g->w = x->dims[3];
    g->oc = w->dims[0];
    g->kh = w->dims[2];
    g->kw = w->dims[3];
    g->sh = st ? st[0] : 1;
    g->sw = st ? st[1] : 1;
    g->dh = dl ? dl[0] : 1;
    g->dw = dl ? dl[1] : 1;
    g->ph = pd ? pd[0] : 0;
    g->pw = pd ? pd[1] : 0;
    g->oh = y->dims[2];
    g->ow = y->dims[3];
    g->group = nn_attr_int(n, "group", 1);
    g->ogroup = nn_attr_int(n, "offset_group", 1);
    if (g->group < 1 || g->ogroup < 1 || g->c % g->group || g->oc % g->group || g->c % g->ogroup ||
        w->dims[1] * g->group != g->c)
        return (*why = "group/offset_group", 0);
    if (off->dims[1] != g->ogroup * g->kh * g->kw * 2 || off->dims[2] != g->oh || off->dims[3] != g->ow)
        return (*why = "offset shape", 0);
    g->has_mask = nin > 4 && in[4];
    if (g->has_mask && (in[4]->ndim != 4 || in[4]->dims[1] != g->ogroup * g->kh * g->kw))
        return (*why = "mask shape", 0);
    return 1;
}

template <typename T>
__global__ void dcn_im2col(T *col, const T *x, const T *off, const T *mask, dcn_geom g, int64_t total)
{
    int64_t osz = g.oh * g.ow, K = g.kh * g.kw, cpo = g.c / g.ogroup;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t p = i % osz, r = i / osz;
        int64_t kk = r % K;
        r /= K;
        int64_t c = r % g.c, b = r / g.c;
        int64_t og = c / cpo, ki = kk / g.kw, kj = kk % g.kw, oy = p / g.ow, ox = p % g.ow;
        const T *offb = off + ((b * g.ogroup + og) * K + kk) * 2 * osz;
        float yy = (float)(oy * g.sh - g.ph + ki * g.dh) + cu_ld(offb + p);
        float xx = (float)(ox * g.sw - g.pw + kj * g.dw) + cu_ld(offb + osz + p);
        float v = 0.f;
        if (!(yy <= -1.0f || yy >= (float)g.h || xx <= -1.0f || xx >= (float)g.w)) {
            const T *img = x + (b * g.c + c) * g.h * g.w;
            int64_t y0 = (int64_t)floorf(yy), x0 = (int64_t)floorf(xx), y1 = y0 + 1, x1 = x0 + 1;
            float ly = yy - (float)y0, lx = xx - (float)x0, hy = 1.f - ly, hx = 1.f - lx;
            float v1 = (y0 >= 0 && x0 >= 0) ? cu_ld(img + y0 * g.w + x0) : 0.f;
            float v2 = (y0 >= 0 && x1 <= g.w - 1) ? cu_ld(img + y0 * g.w + x1) : 0.f;
            float v3 = (y1 <= g.h - 1 && x0 >= 0) ? cu_ld(img + y1 * g.w + x0) : 0.f;
            float v4 = (y1 <= g.h - 1 && x1 <= g.w - 1) ? cu_ld(img + y1 * g.w + x1) : 0.f;
            v = hy * hx * v1 + hy * lx * v2 + ly * hx * v3 + ly * lx * v4;
        }
        if (mask)
            v *= cu_ld(mask + ((b * g.ogroup + og) * K + kk) * osz + p);
        cu_st(col + ((b * g.c + c) * K + kk) * osz + p, v);
    }
}

static int dcn_supports(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                        nn_tensor *const *out, int nout, const char **why)
{
    dcn_geom g;
    if (nout != 1 || nin < 3) {
        *why = "input count";
        return 0;
    }
    nn_dtype dt = cu_eff_dt(in, nin, out, nout, 0);
    if (!cu_is_float(dt) || out[0]->dtype != dt) {
        *why = "dtype";
        return 0;
    }
    for (int i = 1; i < nin; i++)
        if (in[i] && cu_eff_dt(in, nin, out, nout, i) != dt) {
            *why = "mixed dtypes";
            return 0;
        }
    return dcn_parse(n, in, nin, out[0], &g, why);
}

static int dcn_prepare(nn_backend_ctx *ctx, nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                       nn_tensor *const *out, int nout, fp_err *e)
{
    dcn_geom g;
    const char *why = NULL;
    if (!dcn_parse(n, in, nin, out[0], &g, &why))
        return nn_node_error(e, n, FP_EUNSUPPORTED, "cuda: DeformConv: %s", why);
    size_t col = (size_t)g.n * g.c * g.kh * g.kw * g.oh * g.ow * nn_dtype_size(out[0]->dtype);
    return cu_ws_reserve(ctx, n, col, e);
}

static cudaDataType_t blas_dt_conv(nn_dtype dt)
{
    return dt == NN_DT_FLOAT16 ? CUDA_R_16F : dt == NN_DT_BFLOAT16 ? CUDA_R_16BF : CUDA_R_32F;
}

static int dcn_run(nn_backend_ctx *ctx, const nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                   nn_tensor **out, int nout, fp_err *e)
{
    dcn_geom g;
    const char *why = NULL;
    if (!dcn_parse(n, in, nin, out[0], &g, &why))
        return nn_node_error(e, n, FP_EUNSUPPORTED, "cuda: DeformConv: %s", why);
    nn_dtype dt = out[0]->dtype;
    size_t es = nn_dtype_size(dt);
    int64_t K = g.kh * g.kw, osz = g.oh * g.ow, total = g.n * g.c * K * osz;
    if (nn_tensor_numel(out[0]) == 0)
        return 0;
    if ((size_t)total * es > ctx->ws_size)
        return nn_node_error(e, n, FP_EINTERNAL, "cuda: DeformConv workspace not reserved (prepare_node skipped?)");
    void *col = ctx->ws;
    const void *x = cu_in(cn, in, 0), *off = cu_in(cn, in, 2), *mask = g.has_mask ? cu_in(cn, in, 4) : NULL;
    int rc = CU_FLOAT_SWITCH(dt, T,
        (dcn_im2col<T><<<cu_grid(total), 256, 0, ctx->stream>>>((T *)col, (const T *)x, (const T *)off,
                                                                 (const T *)mask, g, total)));
    if (rc < 0)
        return nn_node_error(e, n, rc, "cuda: dtype");
    CU_LAUNCH_CHECK(e, n);
    int64_t cg = g.c / g.group, mg = g.oc / g.group, kdim = cg * K;
    const float one = 1.f, zero = 0.f;
    cudaDataType_t t = blas_dt_conv(dt);
    const char *w = (const char *)cu_in(cn, in, 1);
    for (int64_t gi = 0; gi < g.group; gi++) {
        /* Row-major Y_g[mg x osz] = W_g[mg x kdim] * col_g[kdim x osz], as column-major
         * Y_g^T = col_g^T * W_g^T; the batch strides over col and Y, W is shared (stride 0). */
        const char *a = (const char *)col + (size_t)gi * kdim * osz * es;
        const char *b = w + (size_t)gi * mg * kdim * es;
        char *c = (char *)out[0]->data + (size_t)gi * mg * osz * es;
        CUBLAS_CHECK(e, n, cublasGemmStridedBatchedEx(ctx->cublas, CUBLAS_OP_N, CUBLAS_OP_N, (int)osz, (int)mg, (int)kdim,
                                                      &one, a, t, (int)osz, g.c * K * osz, b, t, (int)kdim, 0, &zero, c, t,
                                                      (int)osz, g.oc * osz, (int)g.n, CUBLAS_COMPUTE_32F,
                                                      CUBLAS_GEMM_DEFAULT));
    }
    if (nin > 3 && in[3]) {
        int64_t ytot = nn_tensor_numel(out[0]), C = g.oc;
        const void *bias = cu_in(cn, in, 3);
        void *y = out[0]->data;
        rc = CU_FLOAT_SWITCH(dt, T,
            (bias_kernel<T><<<cu_grid(ytot), 256, 0, ctx->stream>>>((T *)y, (const T *)bias, C, osz, ytot)));
        if (rc < 0)
            return nn_node_error(e, n, rc, "cuda: dtype");
        CU_LAUNCH_CHECK(e, n);
    }
    return 0;
}

const cu_op cu_ops_conv[] = {
    {"Conv", conv_supports, conv_prepare, conv_run, 0},
    {"FusedConv", conv_supports, conv_prepare, conv_run, 0},
    {"ConvTranspose", conv_supports, conv_prepare, conv_run, 0},
    {"BatchNormalization", bn_supports, bn_prepare, bn_run, 0x1Eu},
    {"DeformConv", dcn_supports, dcn_prepare, dcn_run, 0},
    {NULL, NULL, NULL, NULL, 0},
};
