/*
 * elementwise — the CUDA kernels of the pointwise ops: binary arithmetic and comparisons with numpy
 * broadcasting (Add, Sub, Mul, Div, Pow, Mod, Max, Min, Sum, Mean, PRelu, Equal, Less, Greater,
 * LessOrEqual, GreaterOrEqual, And, Or, Xor), Where, unary maths and activations (Relu, Sigmoid,
 * Tanh, HardSigmoid, HardSwish, LeakyRelu, Elu, Selu, Softplus, Softsign, Exp, Log, Sqrt, Neg, Abs,
 * Erf, Reciprocal, Floor, Ceil, Round, Sign, Sin, Cos, Not), Clip and Cast.
 *
 * Owns: those ops' supports/run entries (cu_ops_elementwise). Float storage (float/half/bf16) is
 * computed in fp32 registers; int32/int64 arithmetic is exact in int64. Does not own fusion across
 * nodes (the runtime's graph passes decide what is fused; Conv's bias+activation lives in conv.cu).
 */
#include "nn/cuda/nn_cuda.h"

#include <string.h>

enum {
    EW_ADD, EW_SUB, EW_MUL, EW_DIV, EW_POW, EW_MAX, EW_MIN, EW_MOD, EW_FMOD, EW_PRELU,
    EW_EQ, EW_LT, EW_GT, EW_LE, EW_GE, EW_AND, EW_OR, EW_XOR,
};
#define EW_IS_CMP(op) ((op) >= EW_EQ)

enum {
    UN_RELU, UN_SIGMOID, UN_TANH, UN_HSIGMOID, UN_HSWISH, UN_LRELU, UN_ELU, UN_SELU, UN_SOFTPLUS,
    UN_SOFTSIGN, UN_EXP, UN_LOG, UN_SQRT, UN_NEG, UN_ABS, UN_ERF, UN_RECIP, UN_FLOOR, UN_CEIL,
    UN_ROUND, UN_SIGN, UN_SIN, UN_COS, UN_CLIP, UN_SCALE, UN_NOT,
};

/* Broadcast geometry of up to three operands against the output. kind: 0 = same shape as output
 * (index i), 1 = one element, 2 = general strided. */
typedef struct ew_geom {
    int ndim;
    int small;                   /* every index fits 32 bits: cheaper division in ew_off */
    int64_t dims[NN_MAX_DIMS];
    int64_t st[3][NN_MAX_DIMS];
    int kind[3];
} ew_geom;

__device__ __forceinline__ int64_t ew_off(const ew_geom &g, int w, int64_t i)
{
    if (g.kind[w] == 0)
        return i;
    if (g.kind[w] == 1)
        return 0;
    if (g.small) {
        /* 64-bit division is emulated in many instructions; broadcast indexing is on the hot path of
         * every per-channel Mul/Add. */
        uint32_t r = (uint32_t)i, o = 0;
        for (int k = g.ndim - 1; k >= 0; k--) {
            uint32_t d = (uint32_t)g.dims[k];
            o += (r % d) * (uint32_t)g.st[w][k];
            r /= d;
        }
        return o;
    }
    int64_t o = 0;
    for (int k = g.ndim - 1; k >= 0; k--) {
        int64_t c = i % g.dims[k];
        i /= g.dims[k];
        o += c * g.st[w][k];
    }
    return o;
}

static void ew_geom_set(ew_geom *g, const nn_tensor *out, const nn_tensor *const *ops, int nops)
{
    memset(g, 0, sizeof(*g));
    g->ndim = out->ndim;
    for (int k = 0; k < out->ndim; k++)
        g->dims[k] = out->dims[k];
    int64_t on = nn_tensor_numel(out);
    g->small = on < (1LL << 31); /* broadcast offsets never exceed the output's index range */
    for (int w = 0; w < nops; w++) {
        const nn_tensor *t = ops[w];
        int64_t n = nn_tensor_numel(t);
        if (n == on && nn_shape_equal(t, out)) {
            g->kind[w] = 0;
            continue;
        }
        if (n == 1) {
            g->kind[w] = 1;
            continue;
        }
        g->kind[w] = 2;
        int64_t acc = 1;
        /* Right-align t's dims with the output's; a dim of 1 broadcasts (stride 0). */
        for (int k = out->ndim - 1, j = t->ndim - 1; k >= 0; k--, j--) {
            if (j < 0 || t->dims[j] == 1) {
                g->st[w][k] = 0;
            } else {
                g->st[w][k] = acc;
            }
            if (j >= 0)
                acc *= t->dims[j];
        }
    }
}

__device__ __forceinline__ float ew_binf(int op, float a, float b)
{
    switch (op) {
    case EW_ADD: return a + b;
    case EW_SUB: return a - b;
    case EW_MUL: return a * b;
    case EW_DIV: return a / b;
    case EW_POW: return powf(a, b);
    case EW_MAX: return (a != a || b != b) ? __int_as_float(0x7fc00000) : fmaxf(a, b);
    case EW_MIN: return (a != a || b != b) ? __int_as_float(0x7fc00000) : fminf(a, b);
    case EW_FMOD: return fmodf(a, b);
    case EW_MOD: { float r = fmodf(a, b); if (r != 0.f && ((r < 0.f) != (b < 0.f))) r += b; return r; }
    case EW_PRELU: return a < 0.f ? a * b : a;
    case EW_EQ: return a == b;
    case EW_LT: return a < b;
    case EW_GT: return a > b;
    case EW_LE: return a <= b;
    case EW_GE: return a >= b;
    default: return 0.f;
    }
}

__device__ __forceinline__ int64_t ew_bini(int op, int64_t a, int64_t b)
{
    switch (op) {
    case EW_ADD: return a + b;
    case EW_SUB: return a - b;
    case EW_MUL: return a * b;
    case EW_DIV: return b ? a / b : 0;
    case EW_POW: { int64_t r = 1; for (int64_t k = 0; k < b; k++) r *= a; return r; }
    case EW_MAX: return a > b ? a : b;
    case EW_MIN: return a < b ? a : b;
    case EW_FMOD: return b ? a % b : 0;
    case EW_MOD: { if (!b) return 0; int64_t r = a % b; if (r != 0 && ((r < 0) != (b < 0))) r += b; return r; }
    case EW_PRELU: return a < 0 ? a * b : a;
    case EW_EQ: return a == b;
    case EW_LT: return a < b;
    case EW_GT: return a > b;
    case EW_LE: return a <= b;
    case EW_GE: return a >= b;
    case EW_AND: return (a != 0) && (b != 0);
    case EW_OR: return (a != 0) || (b != 0);
    case EW_XOR: return (a != 0) != (b != 0);
    default: return 0;
    }
}

template <typename T>
__global__ void ew_binary_f(void *y, const T *a, const T *b, ew_geom g, int op, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        float v = ew_binf(op, cu_ld(a + ew_off(g, 0, i)), cu_ld(b + ew_off(g, 1, i)));
        if (EW_IS_CMP(op))
            ((uint8_t *)y)[i] = v != 0.f;
        else
            cu_st((T *)y + i, v);
    }
}

/* The common case at full resolution: float operands of the output's shape (or a single element),
 * 16-byte aligned. Each thread moves 16 bytes per operand per step (8 halves, 4 floats) instead of
 * 2-4, which is what the memory system wants; same fp32 arithmetic per element. The tail (n % K)
 * goes to ew_binary_f. sa/sb: operand is one element. */
template <typename T>
__global__ void ew_binary_vec(T *y, const T *a, const T *b, int sa, int sb, int op, int64_t nvec)
{
    constexpr int K = 16 / sizeof(T);
    const float ca = sa ? cu_ld(a) : 0.f, cb = sb ? cu_ld(b) : 0.f;
    for (int64_t v = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; v < nvec; v += (int64_t)gridDim.x * blockDim.x) {
        uint4 va, vb, vy;
        if (!sa)
            va = ((const uint4 *)a)[v];
        if (!sb)
            vb = ((const uint4 *)b)[v];
        const T *pa = (const T *)&va, *pb = (const T *)&vb;
        T *py = (T *)&vy;
#pragma unroll
        for (int k = 0; k < K; k++)
            cu_st(py + k, ew_binf(op, sa ? ca : cu_ld(pa + k), sb ? cb : cu_ld(pb + k)));
        ((uint4 *)y)[v] = vy;
    }
}

template <typename T>
__global__ void ew_binary_i(void *y, const T *a, const T *b, ew_geom g, int op, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t v = ew_bini(op, (int64_t)a[ew_off(g, 0, i)], (int64_t)b[ew_off(g, 1, i)]);
        if (EW_IS_CMP(op))
            ((uint8_t *)y)[i] = v != 0;
        else
            ((T *)y)[i] = (T)v;
    }
}

template <typename T>
__global__ void ew_where(T *y, const uint8_t *c, const T *a, const T *b, ew_geom g, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        y[i] = c[ew_off(g, 0, i)] ? a[ew_off(g, 1, i)] : b[ew_off(g, 2, i)];
}

__device__ __forceinline__ float ew_unf(int op, float x, float p0, float p1)
{
    switch (op) {
    case UN_RELU: return x > 0.f ? x : (x != x ? x : 0.f);
    case UN_SIGMOID: return 1.f / (1.f + expf(-x));
    case UN_TANH: return tanhf(x);
    case UN_HSIGMOID: return fmaxf(0.f, fminf(1.f, p0 * x + p1));
    case UN_HSWISH: return x * fmaxf(0.f, fminf(1.f, x * (1.f / 6.f) + 0.5f));
    case UN_LRELU: return x < 0.f ? p0 * x : x;
    case UN_ELU: return x < 0.f ? p0 * (expf(x) - 1.f) : x;
    case UN_SELU: return x <= 0.f ? p1 * (p0 * expf(x) - p0) : p1 * x;
    case UN_SOFTPLUS: return x > 0.f ? x + log1pf(expf(-x)) : log1pf(expf(x));
    case UN_SOFTSIGN: return x / (1.f + fabsf(x));
    case UN_EXP: return expf(x);
    case UN_LOG: return logf(x);
    case UN_SQRT: return sqrtf(x);
    case UN_NEG: return -x;
    case UN_ABS: return fabsf(x);
    case UN_ERF: return erff(x);
    case UN_RECIP: return 1.f / x;
    case UN_FLOOR: return floorf(x);
    case UN_CEIL: return ceilf(x);
    case UN_ROUND: return rintf(x);
    case UN_SIGN: return x > 0.f ? 1.f : (x < 0.f ? -1.f : 0.f);
    case UN_SIN: return sinf(x);
    case UN_COS: return cosf(x);
    case UN_CLIP: return x != x ? x : fminf(fmaxf(x, p0), p1);
    case UN_SCALE: return x * p0;
    default: return x;
    }
}

template <typename T>
__global__ void ew_unary_f(T *y, const T *x, int op, float p0, float p1, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        cu_st(y + i, ew_unf(op, cu_ld(x + i), p0, p1));
}

/* ew_unary_f, 16 bytes per thread per step (see ew_binary_vec). */
template <typename T>
__global__ void ew_unary_vec(T *y, const T *x, int op, float p0, float p1, int64_t nvec)
{
    constexpr int K = 16 / sizeof(T);
    for (int64_t v = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; v < nvec; v += (int64_t)gridDim.x * blockDim.x) {
        uint4 vx = ((const uint4 *)x)[v], vy;
        const T *px = (const T *)&vx;
        T *py = (T *)&vy;
#pragma unroll
        for (int k = 0; k < K; k++)
            cu_st(py + k, ew_unf(op, cu_ld(px + k), p0, p1));
        ((uint4 *)y)[v] = vy;
    }
}

static int ew_aligned16(const void *p)
{
    return ((uintptr_t)p & 15u) == 0;
}

template <typename T>
__global__ void ew_unary_i(T *y, const T *x, int op, int64_t lo, int64_t hi, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        int64_t v = x[i];
        switch (op) {
        case UN_RELU: v = v > 0 ? v : 0; break;
        case UN_NEG: v = -v; break;
        case UN_ABS: v = v < 0 ? -v : v; break;
        case UN_SIGN: v = v > 0 ? 1 : (v < 0 ? -1 : 0); break;
        case UN_CLIP: v = v < lo ? lo : (v > hi ? hi : v); break;
        case UN_NOT: v = !v; break;
        default: break;
        }
        y[i] = (T)v;
    }
}

/* ---------------------------------------------------------------- op table glue */

typedef struct ew_desc {
    const char *name;
    int code;
} ew_desc;

static const ew_desc ew_binaries[] = {
    {"Add", EW_ADD}, {"Sub", EW_SUB}, {"Mul", EW_MUL}, {"Div", EW_DIV}, {"Pow", EW_POW},
    {"Max", EW_MAX}, {"Min", EW_MIN}, {"Sum", EW_ADD}, {"Mean", EW_ADD}, {"Mod", EW_MOD},
    {"PRelu", EW_PRELU}, {"Equal", EW_EQ}, {"Less", EW_LT}, {"Greater", EW_GT},
    {"LessOrEqual", EW_LE}, {"GreaterOrEqual", EW_GE}, {"And", EW_AND}, {"Or", EW_OR}, {"Xor", EW_XOR},
    {NULL, 0},
};

static const ew_desc ew_unaries[] = {
    {"Relu", UN_RELU}, {"Sigmoid", UN_SIGMOID}, {"Tanh", UN_TANH}, {"HardSigmoid", UN_HSIGMOID},
    {"HardSwish", UN_HSWISH}, {"LeakyRelu", UN_LRELU}, {"Elu", UN_ELU}, {"Selu", UN_SELU},
    {"Softplus", UN_SOFTPLUS}, {"Softsign", UN_SOFTSIGN}, {"Exp", UN_EXP}, {"Log", UN_LOG},
    {"Sqrt", UN_SQRT}, {"Neg", UN_NEG}, {"Abs", UN_ABS}, {"Erf", UN_ERF}, {"Reciprocal", UN_RECIP},
    {"Floor", UN_FLOOR}, {"Ceil", UN_CEIL}, {"Round", UN_ROUND}, {"Sign", UN_SIGN}, {"Sin", UN_SIN},
    {"Cos", UN_COS}, {"Clip", UN_CLIP}, {"Not", UN_NOT},
    {NULL, 0},
};

static int ew_code(const ew_desc *t, const char *name)
{
    for (; t->name; t++)
        if (strcmp(t->name, name) == 0)
            return t->code;
    return -1;
}

static int ew_int_dt(nn_dtype dt)
{
    return dt == NN_DT_INT32 || dt == NN_DT_INT64;
}

static int binary_supports(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                           nn_tensor *const *out, int nout, const char **why)
{
    int op = ew_code(ew_binaries, n->op_type);
    int variadic = !strcmp(n->op_type, "Sum") || !strcmp(n->op_type, "Mean") || !strcmp(n->op_type, "Max") ||
                   !strcmp(n->op_type, "Min");
    if (nout != 1 || nin < (variadic ? 1 : 2) || (!variadic && nin != 2)) {
        *why = "input count";
        return 0;
    }
    nn_dtype dt = cu_eff_dt(in, nin, out, nout, 0);
    for (int i = 0; i < nin; i++) {
        if (!in[i] || cu_eff_dt(in, nin, out, nout, i) != dt) {
            *why = "mixed input dtypes";
            return 0;
        }
        if (in[i]->ndim > out[0]->ndim) {
            *why = "input rank above output rank";
            return 0;
        }
    }
    if (op == EW_AND || op == EW_OR || op == EW_XOR) {
        if (dt != NN_DT_BOOL) {
            *why = "logical op on non-bool";
            return 0;
        }
    } else if (!cu_is_float(dt) && !ew_int_dt(dt)) {
        *why = "dtype (float, float16, bfloat16, int32, int64 only)";
        return 0;
    }
    if (!strcmp(n->op_type, "Mean") && !cu_is_float(dt)) {
        *why = "integer Mean";
        return 0;
    }
    nn_dtype want = EW_IS_CMP(op) ? NN_DT_BOOL : dt;
    if (out[0]->dtype != want) {
        *why = "output dtype";
        return 0;
    }
    return 1;
}

static int binary_launch(nn_backend_ctx *ctx, const nn_node *n, int op, void *y, const nn_tensor *yt,
                         const void *a, const nn_tensor *at, const void *b, const nn_tensor *bt, nn_dtype dt,
                         fp_err *e)
{
    ew_geom g;
    const nn_tensor *ops[2] = {at, bt};
    int64_t cnt = nn_tensor_numel(yt);
    if (cnt == 0)
        return 0;
    ew_geom_set(&g, yt, ops, 2);
    cudaStream_t s = ctx->stream;
    if (cu_is_float(dt) && !EW_IS_CMP(op) && g.kind[0] <= 1 && g.kind[1] <= 1 && ew_aligned16(y) &&
        (g.kind[0] == 1 || ew_aligned16(a)) && (g.kind[1] == 1 || ew_aligned16(b))) {
        int K = 16 / (int)nn_dtype_size(dt), sa = g.kind[0] == 1, sb = g.kind[1] == 1;
        int64_t nvec = cnt / K, done = nvec * K;
        if (nvec > 0) {
            unsigned vg = cu_grid(nvec);
            int rc = CU_FLOAT_SWITCH(dt, T,
                (ew_binary_vec<T><<<vg, 256, 0, s>>>((T *)y, (const T *)a, (const T *)b, sa, sb, op, nvec)));
            if (rc < 0)
                return nn_node_error(e, n, rc, "cuda: dtype %s", nn_dtype_name(dt));
            CU_LAUNCH_CHECK(e, n);
        }
        if (done == cnt)
            return 0;
        /* the tail: same-shape operands move with the output, single elements stay */
        size_t es = nn_dtype_size(dt);
        y = (char *)y + done * es;
        if (!sa)
            a = (const char *)a + done * es;
        if (!sb)
            b = (const char *)b + done * es;
        cnt -= done;
    }
    unsigned grid = cu_grid(cnt);
    switch (dt) {
    case NN_DT_FLOAT: ew_binary_f<float><<<grid, 256, 0, s>>>(y, (const float *)a, (const float *)b, g, op, cnt); break;
    case NN_DT_FLOAT16: ew_binary_f<__half><<<grid, 256, 0, s>>>(y, (const __half *)a, (const __half *)b, g, op, cnt); break;
    case NN_DT_BFLOAT16: ew_binary_f<__nv_bfloat16><<<grid, 256, 0, s>>>(y, (const __nv_bfloat16 *)a, (const __nv_bfloat16 *)b, g, op, cnt); break;
    case NN_DT_INT32: ew_binary_i<int32_t><<<grid, 256, 0, s>>>(y, (const int32_t *)a, (const int32_t *)b, g, op, cnt); break;
    case NN_DT_INT64: ew_binary_i<int64_t><<<grid, 256, 0, s>>>(y, (const int64_t *)a, (const int64_t *)b, g, op, cnt); break;
    case NN_DT_BOOL: ew_binary_i<uint8_t><<<grid, 256, 0, s>>>(y, (const uint8_t *)a, (const uint8_t *)b, g, op, cnt); break;
    default: return nn_node_error(e, n, FP_EUNSUPPORTED, "cuda: dtype %s", nn_dtype_name(dt));
    }
    CU_LAUNCH_CHECK(e, n);
    return 0;
}

static int unary_launch(nn_backend_ctx *ctx, const nn_node *n, int op, void *y, const void *x, nn_dtype dt,
                        int64_t cnt, float p0, float p1, fp_err *e)
{
    if (cnt == 0)
        return 0;
    cudaStream_t s = ctx->stream;
    if (cu_is_float(dt) && ew_aligned16(y) && ew_aligned16(x)) {
        int K = 16 / (int)nn_dtype_size(dt);
        int64_t nvec = cnt / K, done = nvec * K;
        if (nvec > 0) {
            unsigned vg = cu_grid(nvec);
            int rc = CU_FLOAT_SWITCH(dt, T,
                (ew_unary_vec<T><<<vg, 256, 0, s>>>((T *)y, (const T *)x, op, p0, p1, nvec)));
            if (rc < 0)
                return nn_node_error(e, n, rc, "cuda: dtype %s", nn_dtype_name(dt));
            CU_LAUNCH_CHECK(e, n);
        }
        if (done == cnt)
            return 0;
        size_t es = nn_dtype_size(dt);
        y = (char *)y + done * es;
        x = (const char *)x + done * es;
        cnt -= done;
    }
    unsigned grid = cu_grid(cnt);
    switch (dt) {
    case NN_DT_FLOAT: ew_unary_f<float><<<grid, 256, 0, s>>>((float *)y, (const float *)x, op, p0, p1, cnt); break;
    case NN_DT_FLOAT16: ew_unary_f<__half><<<grid, 256, 0, s>>>((__half *)y, (const __half *)x, op, p0, p1, cnt); break;
    case NN_DT_BFLOAT16: ew_unary_f<__nv_bfloat16><<<grid, 256, 0, s>>>((__nv_bfloat16 *)y, (const __nv_bfloat16 *)x, op, p0, p1, cnt); break;
    case NN_DT_INT32: ew_unary_i<int32_t><<<grid, 256, 0, s>>>((int32_t *)y, (const int32_t *)x, op, (int64_t)p0, (int64_t)p1, cnt); break;
    case NN_DT_INT64: ew_unary_i<int64_t><<<grid, 256, 0, s>>>((int64_t *)y, (const int64_t *)x, op, (int64_t)p0, (int64_t)p1, cnt); break;
    case NN_DT_BOOL: ew_unary_i<uint8_t><<<grid, 256, 0, s>>>((uint8_t *)y, (const uint8_t *)x, op, 0, 0, cnt); break;
    default: return nn_node_error(e, n, FP_EUNSUPPORTED, "cuda: dtype %s", nn_dtype_name(dt));
    }
    CU_LAUNCH_CHECK(e, n);
    return 0;
}

static int binary_run(nn_backend_ctx *ctx, const nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                      nn_tensor **out, int nout, fp_err *e)
{
    int op = ew_code(ew_binaries, n->op_type);
    if (op == EW_MOD && nn_attr_int(n, "fmod", 0))
        op = EW_FMOD; /* C semantics (sign of the dividend) instead of Python's */
    nn_dtype dt = cu_dt(cn, in, 0);
    nn_tensor *y = out[0];
    int rc;
    if (nin == 1) { /* variadic op with one input: a copy */
        if (y->data != cu_in(cn, in, 0))
            CU_CHECK(e, n, cudaMemcpyAsync(y->data, cu_in(cn, in, 0), nn_tensor_nbytes(y), cudaMemcpyDeviceToDevice, ctx->stream));
        return 0;
    }
    if ((rc = binary_launch(ctx, n, op, y->data, y, cu_in(cn, in, 0), in[0], cu_in(cn, in, 1), in[1], dt, e)) < 0)
        return rc;
    /* Variadic tail: accumulate into y, which already has the output shape. */
    for (int i = 2; i < nin; i++)
        if ((rc = binary_launch(ctx, n, op, y->data, y, y->data, y, cu_in(cn, in, i), in[i], dt, e)) < 0)
            return rc;
    if (!strcmp(n->op_type, "Mean"))
        return unary_launch(ctx, n, UN_SCALE, y->data, y->data, dt, nn_tensor_numel(y), 1.f / (float)nin, 0.f, e);
    return 0;
}

static int where_supports(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                          nn_tensor *const *out, int nout, const char **why)
{
    if (nin != 3 || nout != 1 || !in[0] || !in[1] || !in[2]) {
        *why = "input count";
        return 0;
    }
    if (cu_eff_dt(in, nin, out, nout, 0) != NN_DT_BOOL) {
        *why = "condition is not bool";
        return 0;
    }
    nn_dtype dt = cu_eff_dt(in, nin, out, nout, 1);
    size_t es = nn_dtype_size(dt);
    if (cu_eff_dt(in, nin, out, nout, 2) != dt || out[0]->dtype != dt || !(es == 1 || es == 2 || es == 4 || es == 8)) {
        *why = "dtype";
        return 0;
    }
    for (int i = 0; i < 3; i++)
        if (in[i]->ndim > out[0]->ndim) {
            *why = "input rank above output rank";
            return 0;
        }
    return 1;
}

static int where_run(nn_backend_ctx *ctx, const nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                     nn_tensor **out, int nout, fp_err *e)
{
    ew_geom g;
    const nn_tensor *ops[3] = {in[0], in[1], in[2]};
    int64_t cnt = nn_tensor_numel(out[0]);
    if (cnt == 0)
        return 0;
    ew_geom_set(&g, out[0], ops, 3);
    const uint8_t *c = (const uint8_t *)cu_in(cn, in, 0);
    const void *a = cu_in(cn, in, 1), *b = cu_in(cn, in, 2);
    void *y = out[0]->data;
    unsigned grid = cu_grid(cnt);
    switch (nn_dtype_size(out[0]->dtype)) {
    case 1: ew_where<uint8_t><<<grid, 256, 0, ctx->stream>>>((uint8_t *)y, c, (const uint8_t *)a, (const uint8_t *)b, g, cnt); break;
    case 2: ew_where<uint16_t><<<grid, 256, 0, ctx->stream>>>((uint16_t *)y, c, (const uint16_t *)a, (const uint16_t *)b, g, cnt); break;
    case 4: ew_where<uint32_t><<<grid, 256, 0, ctx->stream>>>((uint32_t *)y, c, (const uint32_t *)a, (const uint32_t *)b, g, cnt); break;
    default: ew_where<uint64_t><<<grid, 256, 0, ctx->stream>>>((uint64_t *)y, c, (const uint64_t *)a, (const uint64_t *)b, g, cnt); break;
    }
    CU_LAUNCH_CHECK(e, n);
    return 0;
}

static int unary_supports(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                          nn_tensor *const *out, int nout, const char **why)
{
    int op = ew_code(ew_unaries, n->op_type);
    if (nin < 1 || !in[0] || nout != 1) {
        *why = "input count";
        return 0;
    }
    nn_dtype dt = cu_eff_dt(in, nin, out, nout, 0);
    if (out[0]->dtype != dt || nn_tensor_numel(out[0]) != nn_tensor_numel(in[0])) {
        *why = "output dtype/shape";
        return 0;
    }
    if (op == UN_NOT)
        return dt == NN_DT_BOOL ? 1 : (*why = "Not on non-bool", 0);
    if (cu_is_float(dt))
        return 1;
    if (ew_int_dt(dt) && (op == UN_RELU || op == UN_NEG || op == UN_ABS || op == UN_SIGN || op == UN_CLIP))
        return 1;
    *why = "dtype";
    return 0;
}

/* Clip's bounds: inputs 1 and 2 (opset >= 11, constants) or attributes min/max (opset < 11). */
static void clip_bounds(const nn_node *n, const cu_node *cn, int nin, double *lo, double *hi)
{
    *lo = -INFINITY;
    *hi = INFINITY;
    if (n->opset < 11) {
        *lo = nn_attr_float(n, "min", -INFINITY);
        *hi = nn_attr_float(n, "max", INFINITY);
        return;
    }
    const nn_tensor *t;
    if (nin > 1 && (t = cu_host(cn, 1)) && nn_tensor_numel(t) > 0)
        *lo = nn_tensor_get_f64(t, 0);
    if (nin > 2 && (t = cu_host(cn, 2)) && nn_tensor_numel(t) > 0)
        *hi = nn_tensor_get_f64(t, 0);
}

static int unary_run(nn_backend_ctx *ctx, const nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                     nn_tensor **out, int nout, fp_err *e)
{
    int op = ew_code(ew_unaries, n->op_type);
    nn_dtype dt = cu_dt(cn, in, 0);
    float p0 = 0.f, p1 = 0.f;
    switch (op) {
    case UN_HSIGMOID: p0 = nn_attr_float(n, "alpha", 0.2f); p1 = nn_attr_float(n, "beta", 0.5f); break;
    case UN_LRELU: p0 = nn_attr_float(n, "alpha", 0.01f); break;
    case UN_ELU: p0 = nn_attr_float(n, "alpha", 1.0f); break;
    case UN_SELU: p0 = nn_attr_float(n, "alpha", 1.67326319217681884765625f);
                  p1 = nn_attr_float(n, "gamma", 1.05070102214813232421875f); break;
    case UN_CLIP: {
        double lo, hi;
        clip_bounds(n, cn, nin, &lo, &hi);
        if (!cu_is_float(dt)) {
            /* Integer clip: pass bounds as int64 through the float slots is lossy; clamp them. */
            lo = lo < -9.2e18 ? -9.2e18 : lo;
            hi = hi > 9.2e18 ? 9.2e18 : hi;
        }
        p0 = (float)lo;
        p1 = (float)hi;
        break;
    }
    default: break;
    }
    return unary_launch(ctx, n, op, out[0]->data, cu_in(cn, in, 0), dt, nn_tensor_numel(out[0]), p0, p1, e);
}

static int cast_supports(nn_backend_ctx *ctx, const nn_node *n, nn_tensor *const *in, int nin,
                         nn_tensor *const *out, int nout, const char **why)
{
    if (nin != 1 || nout != 1 || !in[0]) {
        *why = "input count";
        return 0;
    }
    if (!cu_convert_supported(in[0]->dtype) || !cu_convert_supported(out[0]->dtype)) {
        *why = "dtype (string/uint16/uint32/uint64 casts are not on cuda)";
        return 0;
    }
    return 1;
}

static int cast_run(nn_backend_ctx *ctx, const nn_node *n, cu_node *cn, nn_tensor *const *in, int nin,
                    nn_tensor **out, int nout, fp_err *e)
{
    return cu_convert(ctx, n, out[0]->data, out[0]->dtype, cu_in(cn, in, 0), cu_dt(cn, in, 0),
                      nn_tensor_numel(out[0]), e);
}

/* A constant float input of Cast is uploaded in the node's float storage dtype (the output's when
 * that is float), which is the value Cast would produce anyway; integer constants keep their dtype. */
const cu_op cu_ops_elementwise[] = {
#define BIN(name) {name, binary_supports, NULL, binary_run, 0}
    BIN("Add"), BIN("Sub"), BIN("Mul"), BIN("Div"), BIN("Pow"), BIN("Max"), BIN("Min"), BIN("Sum"),
    BIN("Mean"), BIN("Mod"), BIN("PRelu"), BIN("Equal"), BIN("Less"), BIN("Greater"), BIN("LessOrEqual"),
    BIN("GreaterOrEqual"), BIN("And"), BIN("Or"), BIN("Xor"),
#undef BIN
#define UN(name) {name, unary_supports, NULL, unary_run, 0}
    UN("Relu"), UN("Sigmoid"), UN("Tanh"), UN("HardSigmoid"), UN("HardSwish"), UN("LeakyRelu"), UN("Elu"),
    UN("Selu"), UN("Softplus"), UN("Softsign"), UN("Exp"), UN("Log"), UN("Sqrt"), UN("Neg"), UN("Abs"),
    UN("Erf"), UN("Reciprocal"), UN("Floor"), UN("Ceil"), UN("Round"), UN("Sign"), UN("Sin"), UN("Cos"),
    UN("Not"),
#undef UN
    {"Clip", unary_supports, NULL, unary_run, 0x6u},
    {"Where", where_supports, NULL, where_run, 0},
    {"Cast", cast_supports, NULL, cast_run, 0},
    {NULL, NULL, NULL, NULL, 0},
};
