/*
 * elementwise — the CPU kernels of ONNX's elementwise operators: unary math and activations (Relu,
 * Sigmoid, Erf, HardSwish, Round...), binary arithmetic and comparisons with numpy broadcasting (Add,
 * Div, Pow, Mod, Equal, Less, And...), variadic Max/Min/Sum/Mean, PRelu, Clip, Where, Not, IsNaN/IsInf.
 *
 * Owns the op defs and their row kernels. Does not own broadcasting itself (opsa_util's row iterator)
 * or registration (ops_table_a.c).
 *
 * Types: float32, float64, int32 and int64 have typed kernels; float16/bfloat16 compute in float32
 * per element and round back (nearest even); the narrow and unsigned integer types compute in int64
 * and wrap back. Integer Add/Sub/Mul wrap like numpy (computed unsigned so there is no undefined
 * behaviour); integer Div truncates toward zero (C, ONNX Runtime); integer division or Mod by zero
 * gives 0 rather than trapping. uint64 values above INT64_MAX compare and divide wrongly (documented in
 * docs/ops-a.md).
 */
#include "nn/ops/opsa_util.h"

#include <float.h>
#include <stdint.h>
#include <string.h>
#include <tgmath.h>

typedef struct un_param {
    float p[4];
    void (*f32)(void *, const void *const *, const int64_t *, int64_t, const void *);
    float (*sf)(float x, const float *p);
    int64_t (*si)(int64_t x);
    nn_dtype dt;
} un_param;

/* ------------------------------------------------------------------------------------------------ */
/* Unary ops                                                                                         */
/* ------------------------------------------------------------------------------------------------ */

#define P0 ((T)p[0])
#define P1 ((T)p[1])

#define UN_ROWS(NAME, EXPR)                                                                        \
    static void NAME##_f32(void *o_, const void *const *in, const int64_t *st, int64_t n,          \
                           const void *pp)                                                         \
    {                                                                                              \
        typedef float T;                                                                           \
        T *o = o_;                                                                                 \
        const T *a = in[0];                                                                        \
        float p[4]; /* a local copy: the output cannot alias it, so the loop keeps it in registers */ \
        memcpy(p, ((const un_param *)pp)->p, sizeof(p));                                           \
        (void)p;                                                                                   \
        for (int64_t i = 0; i < n; i++) {                                                          \
            T x = a[i];                                                                            \
            o[i] = (T)(EXPR);                                                                      \
        }                                                                                          \
    }                                                                                              \
    static void NAME##_f64(void *o_, const void *const *in, const int64_t *st, int64_t n,          \
                           const void *pp)                                                         \
    {                                                                                              \
        typedef double T;                                                                          \
        T *o = o_;                                                                                 \
        const T *a = in[0];                                                                        \
        float p[4]; /* a local copy: the output cannot alias it, so the loop keeps it in registers */ \
        memcpy(p, ((const un_param *)pp)->p, sizeof(p));                                           \
        (void)p;                                                                                   \
        for (int64_t i = 0; i < n; i++) {                                                          \
            T x = a[i];                                                                            \
            o[i] = (T)(EXPR);                                                                      \
        }                                                                                          \
    }                                                                                              \
    static float NAME##_sf(float x, const float *p)                                                \
    {                                                                                              \
        typedef float T;                                                                           \
        (void)p;                                                                                   \
        return (T)(EXPR);                                                                          \
    }

/* One exp of -|x| serves both signs and never overflows. */
static inline float sigmoid_f(float x)
{
    float e = expf(-fabsf(x)), r = 1.0f / (1.0f + e);
    return x >= 0 ? r : e * r;
}
static inline double sigmoid_d(double x)
{
    double e = exp(-fabs(x)), r = 1.0 / (1.0 + e);
    return x >= 0 ? r : e * r;
}
#define SIGMOID(x) _Generic((x), float: sigmoid_f, default: sigmoid_d)(x)

/* tanh without tanhf/expm1f (several times slower than expf; GRU gates make tanh hot). Below 0.25
 * 1 - 2/(e+1) would cancel, so the Taylor series to x^11 is used (truncation < 1e-10 relative);
 * above, one expf; above 9 the result is +-1 in float. */
static inline float tanh_f(float x)
{
    float a = fabsf(x), r;
    if (a > 9.0f) {
        r = 1.0f;
    } else if (a < 0.25f) {
        float z = a * a;
        float q = 62.0f / 2835 + z * (-1382.0f / 155925);
        r = a + a * z * (-1.0f / 3 + z * (2.0f / 15 + z * (-17.0f / 315 + z * q)));
    } else {
        r = 1.0f - 2.0f / (expf(2.0f * a) + 1.0f);
    }
    return copysignf(r, x);
}
#define TANH(x) _Generic((x), float: tanh_f, default: tanh)(x)

/* min/max as comparisons: the libm calls are not inlined without -ffinite-math-only */
#define CLAMP01(v) ((v) < 0 ? (T)0 : (v) > 1 ? (T)1 : (v))

/* softplus without overflow for large x */
#define SOFTPLUS(x) ((x) > 0 ? (x) + log1p(exp(-(x))) : log1p(exp(x)))

UN_ROWS(relu, x > 0 ? x : (T)0)
UN_ROWS(leakyrelu, x >= 0 ? x : x * P0)
UN_ROWS(sigmoid, SIGMOID(x))
UN_ROWS(hardsigmoid, CLAMP01(P0 * x + P1))
UN_ROWS(hardswish, x * CLAMP01(x / (T)6 + (T)0.5))
UN_ROWS(tanh_, TANH(x))
UN_ROWS(exp_, exp(x))
UN_ROWS(log_, log(x))
UN_ROWS(sqrt_, sqrt(x))
UN_ROWS(erf_, erf(x))
UN_ROWS(neg, -x)
UN_ROWS(abs_, fabs(x))
UN_ROWS(sign, x > 0 ? (T)1 : x < 0 ? (T)-1 : x == 0 ? (T)0 : x)
UN_ROWS(floor_, floor(x))
UN_ROWS(ceil_, ceil(x))
UN_ROWS(round_, rint(x)) /* default rounding mode: half to even, as ONNX specifies */
UN_ROWS(reciprocal, (T)1 / x)
UN_ROWS(elu, x >= 0 ? x : P0 * (exp(x) - (T)1))
UN_ROWS(selu, x > 0 ? P1 * x : P1 * (P0 * exp(x) - P0))
UN_ROWS(celu, fmax((T)0, x) + fmin((T)0, P0 * (exp(x / P0) - (T)1)))
UN_ROWS(thresholdedrelu, x > P0 ? x : (T)0)
UN_ROWS(softplus, SOFTPLUS(x))
UN_ROWS(softsign, x / ((T)1 + fabs(x)))
UN_ROWS(shrink, x < -P0 ? x + P1 : x > P0 ? x - P1 : (T)0)
UN_ROWS(sin_, sin(x))
UN_ROWS(cos_, cos(x))
UN_ROWS(tan_, tan(x))
UN_ROWS(asin_, asin(x))
UN_ROWS(acos_, acos(x))
UN_ROWS(atan_, atan(x))
UN_ROWS(sinh_, sinh(x))
UN_ROWS(cosh_, cosh(x))
UN_ROWS(asinh_, asinh(x))
UN_ROWS(acosh_, acosh(x))
UN_ROWS(atanh_, atanh(x))

static int64_t relu_si(int64_t x) { return x > 0 ? x : 0; }
static int64_t neg_si(int64_t x) { return (int64_t)(0 - (uint64_t)x); }
static int64_t abs_si(int64_t x) { return x < 0 ? neg_si(x) : x; }
static int64_t sign_si(int64_t x) { return x > 0 ? 1 : x < 0 ? -1 : 0; }

/* float16/bfloat16 rows run the float32 row on chunks widened into stack buffers, so the math is the
 * same vectorisable loop and each result is rounded back once (nearest even). */
#define HALF_CHUNK 256

static void half_widen(nn_dtype t, const uint16_t *src, int64_t n, float *dst)
{
    if (t == NN_DT_FLOAT16)
        for (int64_t i = 0; i < n; i++)
            dst[i] = nn_f16_to_f32(src[i]);
    else
        for (int64_t i = 0; i < n; i++)
            dst[i] = nn_bf16_to_f32(src[i]);
}

static void half_narrow(nn_dtype t, const float *src, int64_t n, uint16_t *dst)
{
    if (t == NN_DT_FLOAT16)
        for (int64_t i = 0; i < n; i++)
            dst[i] = nn_f32_to_f16(src[i]);
    else
        for (int64_t i = 0; i < n; i++)
            dst[i] = nn_f32_to_bf16(src[i]);
}

static void un_half_row(void *o, const void *const *in, const int64_t *st, int64_t n, const void *pp)
{
    const un_param *p = pp;
    float fa[HALF_CHUNK], fo[HALF_CHUNK];
    int64_t one = 1;
    for (int64_t i0 = 0; i0 < n; i0 += HALF_CHUNK) {
        int64_t m = n - i0 < HALF_CHUNK ? n - i0 : HALF_CHUNK;
        const void *fin[1] = { fa };
        half_widen(p->dt, (const uint16_t *)in[0] + i0, m, fa);
        p->f32(fo, fin, &one, m, p);
        half_narrow(p->dt, fo, m, (uint16_t *)o + i0);
    }
}

/* integer types: compute in int64 */
static void un_int_row(void *o, const void *const *in, const int64_t *st, int64_t n, const void *pp)
{
    const un_param *p = pp;
    for (int64_t i = 0; i < n; i++)
        opsa_store_i64(p->dt, o, i, p->si(opsa_load_i64(p->dt, in[0], i)));
}

typedef struct un_desc {
    const char *name;
    opsa_row_fn f32, f64;
    float (*sf)(float, const float *);
    int64_t (*si)(int64_t); /* NULL: integer inputs are not allowed */
    const char *attr[2];
    float def[2];
} un_desc;

#define UN(NAME, SYM, SI, A0, D0, A1, D1) { NAME, SYM##_f32, SYM##_f64, SYM##_sf, SI, { A0, A1 }, { D0, D1 } }

static const un_desc un_table[] = {
    UN("Relu", relu, relu_si, NULL, 0, NULL, 0),
    UN("LeakyRelu", leakyrelu, NULL, "alpha", 0.01f, NULL, 0),
    UN("Sigmoid", sigmoid, NULL, NULL, 0, NULL, 0),
    UN("HardSigmoid", hardsigmoid, NULL, "alpha", 0.2f, "beta", 0.5f),
    UN("HardSwish", hardswish, NULL, NULL, 0, NULL, 0),
    UN("Tanh", tanh_, NULL, NULL, 0, NULL, 0),
    UN("Exp", exp_, NULL, NULL, 0, NULL, 0),
    UN("Log", log_, NULL, NULL, 0, NULL, 0),
    UN("Sqrt", sqrt_, NULL, NULL, 0, NULL, 0),
    UN("Erf", erf_, NULL, NULL, 0, NULL, 0),
    UN("Neg", neg, neg_si, NULL, 0, NULL, 0),
    UN("Abs", abs_, abs_si, NULL, 0, NULL, 0),
    UN("Sign", sign, sign_si, NULL, 0, NULL, 0),
    UN("Floor", floor_, NULL, NULL, 0, NULL, 0),
    UN("Ceil", ceil_, NULL, NULL, 0, NULL, 0),
    UN("Round", round_, NULL, NULL, 0, NULL, 0),
    UN("Reciprocal", reciprocal, NULL, NULL, 0, NULL, 0),
    UN("Elu", elu, NULL, "alpha", 1.0f, NULL, 0),
    UN("Selu", selu, NULL, "alpha", 1.67326319217681884765625f, "gamma", 1.05070102214813232421875f),
    UN("Celu", celu, NULL, "alpha", 1.0f, NULL, 0),
    UN("ThresholdedRelu", thresholdedrelu, NULL, "alpha", 1.0f, NULL, 0),
    UN("Softplus", softplus, NULL, NULL, 0, NULL, 0),
    UN("Softsign", softsign, NULL, NULL, 0, NULL, 0),
    UN("Shrink", shrink, NULL, "lambd", 0.5f, "bias", 0.0f),
    UN("Sin", sin_, NULL, NULL, 0, NULL, 0),
    UN("Cos", cos_, NULL, NULL, 0, NULL, 0),
    UN("Tan", tan_, NULL, NULL, 0, NULL, 0),
    UN("Asin", asin_, NULL, NULL, 0, NULL, 0),
    UN("Acos", acos_, NULL, NULL, 0, NULL, 0),
    UN("Atan", atan_, NULL, NULL, 0, NULL, 0),
    UN("Sinh", sinh_, NULL, NULL, 0, NULL, 0),
    UN("Cosh", cosh_, NULL, NULL, 0, NULL, 0),
    UN("Asinh", asinh_, NULL, NULL, 0, NULL, 0),
    UN("Acosh", acosh_, NULL, NULL, 0, NULL, 0),
    UN("Atanh", atanh_, NULL, NULL, 0, NULL, 0),
};

static const un_desc *un_find(const nn_node *n)
{
    for (int i = 0; i < OPSA_ARRAY_LEN(un_table); i++)
        if (!strcmp(un_table[i].name, n->op_type))
            return &un_table[i];
    return NULL;
}

static int unary_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                       fp_err *e)
{
    const un_desc *d = un_find(n);
    if (!d)
        return nn_node_error(e, n, FP_EINTERNAL, "not a unary op");
    if (nin < 1 || !in[0])
        return nn_node_error(e, n, FP_EMODEL, "missing input");
    nn_dtype t = in[0]->dtype;
    if (!opsa_dt_is_float(t) && !(d->si && opsa_dt_is_int(t)))
        return nn_node_error(e, n, FP_EUNSUPPORTED, "input dtype %s not supported", nn_dtype_name(t));
    out[0]->dtype = t;
    return opsa_set_shape(n, e, out[0], in[0]->ndim, in[0]->dims);
}

static int unary_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                     nn_cpu_ctx *ctx, fp_err *e)
{
    const un_desc *d = un_find(n);
    un_param p = { .f32 = d->f32, .sf = d->sf, .si = d->si, .dt = in[0]->dtype };
    opsa_row_fn row;
    opsa_bcast b;
    for (int k = 0; k < 2; k++)
        if (d->attr[k])
            p.p[k] = nn_attr_float(n, d->attr[k], d->def[k]);
    switch (p.dt) {
    case NN_DT_FLOAT: row = d->f32; break;
    case NN_DT_DOUBLE: row = d->f64; break;
    case NN_DT_FLOAT16: case NN_DT_BFLOAT16: row = un_half_row; break;
    default:
        if (!d->si)
            return nn_node_error(e, n, FP_EUNSUPPORTED, "dtype %s", nn_dtype_name(p.dt));
        row = un_int_row;
        break;
    }
    if (opsa_bcast_init(&b, out[0], in, 1, row, &p) < 0)
        return nn_node_error(e, n, FP_EINTERNAL, "shape mismatch");
    opsa_bcast_run(&b, ctx);
    return 0;
}

#define UNARY_DEF(SYM, NAME) \
    const nn_op_def nn_op_##SYM = { NAME, "", 1, unary_infer, unary_cpu, 0 };

UNARY_DEF(relu, "Relu")
UNARY_DEF(leakyrelu, "LeakyRelu")
UNARY_DEF(sigmoid, "Sigmoid")
UNARY_DEF(hardsigmoid, "HardSigmoid")
UNARY_DEF(hardswish, "HardSwish")
UNARY_DEF(tanh, "Tanh")
UNARY_DEF(exp, "Exp")
UNARY_DEF(log, "Log")
UNARY_DEF(sqrt, "Sqrt")
UNARY_DEF(erf, "Erf")
UNARY_DEF(neg, "Neg")
UNARY_DEF(abs, "Abs")
UNARY_DEF(sign, "Sign")
UNARY_DEF(floor, "Floor")
UNARY_DEF(ceil, "Ceil")
UNARY_DEF(round, "Round")
UNARY_DEF(reciprocal, "Reciprocal")
UNARY_DEF(elu, "Elu")
UNARY_DEF(selu, "Selu")
UNARY_DEF(celu, "Celu")
UNARY_DEF(thresholdedrelu, "ThresholdedRelu")
UNARY_DEF(softplus, "Softplus")
UNARY_DEF(softsign, "Softsign")
UNARY_DEF(shrink, "Shrink")
UNARY_DEF(sin, "Sin")
UNARY_DEF(cos, "Cos")
UNARY_DEF(tan, "Tan")
UNARY_DEF(asin, "Asin")
UNARY_DEF(acos, "Acos")
UNARY_DEF(atan, "Atan")
UNARY_DEF(sinh, "Sinh")
UNARY_DEF(cosh, "Cosh")
UNARY_DEF(asinh, "Asinh")
UNARY_DEF(acosh, "Acosh")
UNARY_DEF(atanh, "Atanh")

/* ------------------------------------------------------------------------------------------------ */
/* Binary ops                                                                                        */
/* ------------------------------------------------------------------------------------------------ */

#define BIN_ROW(NAME, TI, TO, EXPR)                                                                \
    static void NAME(void *o_, const void *const *in, const int64_t *st, int64_t n, const void *p) \
    {                                                                                              \
        TO *o = o_;                                                                                \
        const TI *a = in[0], *b = in[1];                                                           \
        if (st[0] && st[1]) {                                                                      \
            for (int64_t i = 0; i < n; i++) {                                                      \
                TI x = a[i], y = b[i];                                                             \
                o[i] = (TO)(EXPR);                                                                 \
            }                                                                                      \
        } else if (st[0]) {                                                                        \
            TI y = b[0];                                                                           \
            for (int64_t i = 0; i < n; i++) {                                                      \
                TI x = a[i];                                                                       \
                o[i] = (TO)(EXPR);                                                                 \
            }                                                                                      \
        } else if (st[1]) {                                                                        \
            TI x = a[0];                                                                           \
            for (int64_t i = 0; i < n; i++) {                                                      \
                TI y = b[i];                                                                       \
                o[i] = (TO)(EXPR);                                                                 \
            }                                                                                      \
        } else {                                                                                   \
            TI x = a[0], y = b[0];                                                                 \
            TO v = (TO)(EXPR);                                                                     \
            for (int64_t i = 0; i < n; i++)                                                        \
                o[i] = v;                                                                          \
        }                                                                                          \
    }

/* wrap-around integer arithmetic without signed-overflow UB */
#define WADD(T, x, y) ((T)((uint64_t)(x) + (uint64_t)(y)))
#define WSUB(T, x, y) ((T)((uint64_t)(x) - (uint64_t)(y)))
#define WMUL(T, x, y) ((T)((uint64_t)(x) * (uint64_t)(y)))

static inline int64_t idiv64(int64_t x, int64_t y)
{
    if (y == 0)
        return 0;
    if (y == -1)
        return (int64_t)(0 - (uint64_t)x);
    return x / y;
}
static inline int64_t imod64(int64_t x, int64_t y) /* Python semantics: sign of the divisor */
{
    if (y == 0 || y == -1)
        return 0;
    int64_t r = x % y;
    if (r != 0 && ((r < 0) != (y < 0)))
        r += y;
    return r;
}
static inline int64_t ifmod64(int64_t x, int64_t y) /* C semantics: sign of the dividend */
{
    if (y == 0 || y == -1)
        return 0;
    return x % y;
}
static inline float fmodpy_f(float x, float y)
{
    float r = fmodf(x, y);
    if (r != 0 && ((r < 0) != (y < 0)))
        r += y;
    return r;
}
static inline double fmodpy_d(double x, double y)
{
    double r = fmod(x, y);
    if (r != 0 && ((r < 0) != (y < 0)))
        r += y;
    return r;
}

#define MAXE(x, y) ((x) != (x) || (x) > (y) ? (x) : (y)) /* NaN propagates, like numpy */
#define MINE(x, y) ((x) != (x) || (x) < (y) ? (x) : (y))

/* One macro per op family expands to the typed rows plus the scalar fallbacks. */
#define BIN_ARITH(NAME, FEXPR, IEXPR32, IEXPR64)                                                    \
    BIN_ROW(NAME##_f32, float, float, FEXPR)                                                       \
    BIN_ROW(NAME##_f64, double, double, FEXPR)                                                     \
    BIN_ROW(NAME##_i32, int32_t, int32_t, IEXPR32)                                                 \
    BIN_ROW(NAME##_i64, int64_t, int64_t, IEXPR64)                                                 \
    static float NAME##_sf(float x, float y) { return (float)(FEXPR); }                            \
    static int64_t NAME##_si(int64_t x, int64_t y) { return (int64_t)(IEXPR64); }

BIN_ARITH(add, x + y, WADD(int32_t, x, y), WADD(int64_t, x, y))
BIN_ARITH(sub, x - y, WSUB(int32_t, x, y), WSUB(int64_t, x, y))
BIN_ARITH(mul, x * y, WMUL(int32_t, x, y), WMUL(int64_t, x, y))
BIN_ARITH(div, x / y, (int32_t)idiv64(x, y), idiv64(x, y))
BIN_ARITH(max, MAXE(x, y), MAXE(x, y), MAXE(x, y))
BIN_ARITH(min, MINE(x, y), MINE(x, y), MINE(x, y))
BIN_ARITH(prelu, x < 0 ? y * x : x, x < 0 ? WMUL(int32_t, x, y) : x, x < 0 ? WMUL(int64_t, x, y) : x)
BIN_ARITH(fmod, fmod(x, y), (int32_t)ifmod64(x, y), ifmod64(x, y))
BIN_ARITH(pymod, _Generic((x), float: fmodpy_f, default: fmodpy_d)(x, y), (int32_t)imod64(x, y),
          imod64(x, y))

#define BIN_CMP(NAME, EXPR)                                                                        \
    BIN_ROW(NAME##_f32, float, uint8_t, EXPR)                                                      \
    BIN_ROW(NAME##_f64, double, uint8_t, EXPR)                                                     \
    BIN_ROW(NAME##_i32, int32_t, uint8_t, EXPR)                                                    \
    BIN_ROW(NAME##_i64, int64_t, uint8_t, EXPR)                                                    \
    static float NAME##_sf(float x, float y) { return (float)(EXPR); }                             \
    static int64_t NAME##_si(int64_t x, int64_t y) { return (int64_t)(EXPR); }

BIN_CMP(eq, x == y)
BIN_CMP(lt, x < y)
BIN_CMP(le, x <= y)
BIN_CMP(gt, x > y)
BIN_CMP(ge, x >= y)

BIN_ROW(and_b, uint8_t, uint8_t, (x != 0) & (y != 0))
BIN_ROW(or_b, uint8_t, uint8_t, (x != 0) | (y != 0))
BIN_ROW(xor_b, uint8_t, uint8_t, (x != 0) ^ (y != 0))

enum { BK_ARITH, BK_CMP, BK_LOGIC, BK_POW };

typedef struct bin_desc {
    const char *name;
    int kind;
    opsa_row_fn f32, f64, i32, i64;
    float (*sf)(float, float);
    int64_t (*si)(int64_t, int64_t);
    int no_int;   /* integer inputs not allowed */
    int bool_ok;  /* bool inputs allowed (Equal) */
} bin_desc;

#define BD(NAME, KIND, SYM, NOINT, BOOLOK) \
    { NAME, KIND, SYM##_f32, SYM##_f64, SYM##_i32, SYM##_i64, SYM##_sf, SYM##_si, NOINT, BOOLOK }

static const bin_desc bin_table[] = {
    BD("Add", BK_ARITH, add, 0, 0),
    BD("Sub", BK_ARITH, sub, 0, 0),
    BD("Mul", BK_ARITH, mul, 0, 0),
    BD("Div", BK_ARITH, div, 0, 0),
    BD("Max", BK_ARITH, max, 0, 0),
    BD("Min", BK_ARITH, min, 0, 0),
    BD("Sum", BK_ARITH, add, 1, 0),
    BD("Mean", BK_ARITH, add, 1, 0),
    BD("PRelu", BK_ARITH, prelu, 0, 0),
    BD("Mod", BK_ARITH, pymod, 0, 0), /* fmod=0; fmod=1 swaps in mod_fmod below */
    BD("Equal", BK_CMP, eq, 0, 1),
    BD("Less", BK_CMP, lt, 0, 0),
    BD("LessOrEqual", BK_CMP, le, 0, 0),
    BD("Greater", BK_CMP, gt, 0, 0),
    BD("GreaterOrEqual", BK_CMP, ge, 0, 0),
    { "And", BK_LOGIC, NULL, NULL, NULL, NULL, NULL, NULL, 1, 1 },
    { "Or", BK_LOGIC, NULL, NULL, NULL, NULL, NULL, NULL, 1, 1 },
    { "Xor", BK_LOGIC, NULL, NULL, NULL, NULL, NULL, NULL, 1, 1 },
    { "Pow", BK_POW, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0 },
};
static const bin_desc mod_fmod = BD("Mod", BK_ARITH, fmod, 0, 0);

static const bin_desc *bin_find(const nn_node *n)
{
    if (!strcmp(n->op_type, "Mod") && nn_attr_int(n, "fmod", 0))
        return &mod_fmod;
    for (int i = 0; i < OPSA_ARRAY_LEN(bin_table); i++)
        if (!strcmp(bin_table[i].name, n->op_type))
            return &bin_table[i];
    return NULL;
}

typedef struct bin_param {
    const bin_desc *d;
    nn_dtype ta, tb, to;
} bin_param;

/* Types without a typed row: float16/bfloat16 via float32, narrow/unsigned ints via int64. */
static void bin_generic_row(void *o, const void *const *in, const int64_t *st, int64_t n, const void *pp)
{
    const bin_param *p = pp;
    if (opsa_dt_is_float(p->ta)) {
        for (int64_t i = 0; i < n; i++) {
            float x = (float)opsa_load_f64(p->ta, in[0], i * st[0]);
            float y = (float)opsa_load_f64(p->tb, in[1], i * st[1]);
            opsa_store_f64(p->to, o, i, p->d->sf(x, y));
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            int64_t x = opsa_load_i64(p->ta, in[0], i * st[0]);
            int64_t y = opsa_load_i64(p->tb, in[1], i * st[1]);
            opsa_store_i64(p->to, o, i, p->d->si(x, y));
        }
    }
}

/* Pow: base and exponent types may differ (T, T1); the result has the base's type. */
static void pow_row(void *o, const void *const *in, const int64_t *st, int64_t n, const void *pp)
{
    const bin_param *p = pp;
    if (p->ta == NN_DT_FLOAT && p->tb == NN_DT_FLOAT) {
        const float *a = in[0], *b = in[1];
        float *out = o;
        for (int64_t i = 0; i < n; i++)
            out[i] = powf(a[i * st[0]], b[i * st[1]]);
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        double x = opsa_load_f64(p->ta, in[0], i * st[0]);
        double y = opsa_load_f64(p->tb, in[1], i * st[1]);
        opsa_store_f64(p->to, o, i, pow(x, y));
    }
}

static int bin_check_types(const nn_node *n, const bin_desc *d, nn_dtype ta, nn_dtype tb, fp_err *e)
{
    if (d->kind == BK_POW) {
        if (!opsa_dt_is_numeric(ta) || !opsa_dt_is_numeric(tb))
            return nn_node_error(e, n, FP_EUNSUPPORTED, "dtypes %s, %s not supported", nn_dtype_name(ta),
                                 nn_dtype_name(tb));
        return 0;
    }
    if (ta != tb)
        return nn_node_error(e, n, FP_EMODEL, "input dtypes differ (%s, %s)", nn_dtype_name(ta),
                             nn_dtype_name(tb));
    if (d->kind == BK_LOGIC) {
        if (ta != NN_DT_BOOL)
            return nn_node_error(e, n, FP_EMODEL, "inputs must be bool, got %s", nn_dtype_name(ta));
        return 0;
    }
    if (opsa_dt_is_float(ta) || (opsa_dt_is_int(ta) && !d->no_int) || (ta == NN_DT_BOOL && d->bool_ok))
        return 0;
    return nn_node_error(e, n, FP_EUNSUPPORTED, "input dtype %s not supported", nn_dtype_name(ta));
}

static nn_dtype bin_out_type(const bin_desc *d, nn_dtype ta)
{
    return d->kind == BK_CMP || d->kind == BK_LOGIC ? NN_DT_BOOL : ta;
}

/* PRelu before opset 7 applied a 1-D slope of X's channel count along axis 1 (not numpy-style);
 * view it as [C,1,...,1] so the numpy broadcast gives that. Returns the tensor to use. */
static nn_tensor *prelu_legacy_slope(const nn_node *n, nn_tensor *const *in, nn_tensor *view)
{
    const nn_tensor *x = in[0], *s = in[1];
    if (strcmp(n->op_type, "PRelu") || n->opset >= 7 || s->ndim != 1 || x->ndim < 3 || s->dims[0] == 1 ||
        s->dims[0] != x->dims[1])
        return in[1];
    *view = *s;
    view->owned = 0;
    view->ndim = x->ndim - 1;
    for (int d = 1; d < view->ndim; d++)
        view->dims[d] = 1;
    return view;
}

static int binary_infer(const nn_node *n, nn_tensor *const *in_, int nin, nn_tensor **out, int nout,
                        fp_err *e)
{
    nn_tensor view, *in[2];
    const bin_desc *d = bin_find(n);
    int ret;
    if (!d)
        return nn_node_error(e, n, FP_EINTERNAL, "not a binary op");
    if (nin < 2 || !in_[0] || !in_[1])
        return nn_node_error(e, n, FP_EMODEL, "needs two inputs");
    in[0] = in_[0];
    in[1] = prelu_legacy_slope(n, in_, &view);
    if ((ret = bin_check_types(n, d, in[0]->dtype, in[1]->dtype, e)) < 0)
        return ret;
    out[0]->dtype = bin_out_type(d, in[0]->dtype);
    if (nn_broadcast_shape(in[0], in[1], out[0]) < 0) {
        char s0[64], s1[64];
        return nn_node_error(e, n, FP_EMODEL, "shapes %s and %s do not broadcast",
                             nn_shape_str(in[0], s0, sizeof(s0)), nn_shape_str(in[1], s1, sizeof(s1)));
    }
    if (!strcmp(d->name, "PRelu") && !nn_shape_equal(out[0], in[0])) {
        char s0[64], s1[64];
        return nn_node_error(e, n, FP_EMODEL, "slope %s does not broadcast to X %s",
                             nn_shape_str(in[1], s1, sizeof(s1)), nn_shape_str(in[0], s0, sizeof(s0)));
    }
    return 0;
}

/* float16/bfloat16 operands (same type, as Pow is handled apart): chunks widened to float32 run the
 * float32 row; comparisons write their bool output directly. */
static void bin_half_row(void *o, const void *const *in, const int64_t *st, int64_t n, const void *pp)
{
    const bin_param *p = pp;
    float fa[HALF_CHUNK], fb[HALF_CHUNK], fo[HALF_CHUNK];
    for (int64_t i0 = 0; i0 < n; i0 += HALF_CHUNK) {
        int64_t m = n - i0 < HALF_CHUNK ? n - i0 : HALF_CHUNK;
        const void *fin[2] = { fa, fb };
        half_widen(p->ta, (const uint16_t *)in[0] + (st[0] ? i0 : 0), st[0] ? m : 1, fa);
        half_widen(p->tb, (const uint16_t *)in[1] + (st[1] ? i0 : 0), st[1] ? m : 1, fb);
        if (p->d->kind == BK_CMP) {
            p->d->f32((uint8_t *)o + i0, fin, st, m, NULL);
        } else {
            p->d->f32(fo, fin, st, m, NULL);
            half_narrow(p->to, fo, m, (uint16_t *)o + i0);
        }
    }
}

static opsa_row_fn bin_pick_row(const bin_desc *d, nn_dtype t)
{
    if (d->kind == BK_POW)
        return pow_row;
    if (d->kind == BK_LOGIC)
        return !strcmp(d->name, "And") ? and_b : !strcmp(d->name, "Or") ? or_b : xor_b;
    switch (t) {
    case NN_DT_FLOAT: return d->f32;
    case NN_DT_DOUBLE: return d->f64;
    case NN_DT_INT32: return d->i32;
    case NN_DT_INT64: return d->i64;
    case NN_DT_FLOAT16: case NN_DT_BFLOAT16: return bin_half_row;
    default: return bin_generic_row;
    }
}

/* out = a (op) b with broadcasting; out may alias a when a has out's shape. */
static int bin_apply(const nn_node *n, const bin_desc *d, nn_tensor *a, nn_tensor *b, nn_tensor *out,
                     nn_cpu_ctx *ctx, fp_err *e)
{
    bin_param p = { d, a->dtype, b->dtype, out->dtype };
    nn_tensor *ins[2] = { a, b };
    opsa_bcast it;
    if (opsa_bcast_init(&it, out, ins, 2, bin_pick_row(d, a->dtype), &p) < 0)
        return nn_node_error(e, n, FP_EINTERNAL, "inputs do not broadcast to the output shape");
    opsa_bcast_run(&it, ctx);
    return 0;
}

static int binary_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                      nn_cpu_ctx *ctx, fp_err *e)
{
    nn_tensor view;
    return bin_apply(n, bin_find(n), in[0], prelu_legacy_slope(n, in, &view), out[0], ctx, e);
}

#define BINARY_DEF(SYM, NAME) \
    const nn_op_def nn_op_##SYM = { NAME, "", 1, binary_infer, binary_cpu, 0 };

BINARY_DEF(add, "Add")
BINARY_DEF(sub, "Sub")
BINARY_DEF(mul, "Mul")
BINARY_DEF(div, "Div")
BINARY_DEF(pow, "Pow")
BINARY_DEF(mod, "Mod")
BINARY_DEF(prelu, "PRelu")
BINARY_DEF(equal, "Equal")
BINARY_DEF(less, "Less")
BINARY_DEF(lessorequal, "LessOrEqual")
BINARY_DEF(greater, "Greater")
BINARY_DEF(greaterorequal, "GreaterOrEqual")
BINARY_DEF(and, "And")
BINARY_DEF(or, "Or")
BINARY_DEF(xor, "Xor")

/* ---- variadic Max, Min, Sum, Mean ---- */

static int variadic_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                          fp_err *e)
{
    const bin_desc *d = bin_find(n);
    int ret;
    if (nin < 1)
        return nn_node_error(e, n, FP_EMODEL, "needs at least one input");
    for (int k = 0; k < nin; k++) {
        if (!in[k])
            return nn_node_error(e, n, FP_EMODEL, "input %d is missing", k);
        if ((ret = bin_check_types(n, d, in[0]->dtype, in[k]->dtype, e)) < 0)
            return ret;
    }
    out[0]->dtype = in[0]->dtype;
    if (opsa_broadcast_many(in, nin, out[0]) < 0)
        return nn_node_error(e, n, FP_EMODEL, "input shapes do not broadcast");
    return 0;
}

static void copy_row(void *o, const void *const *in, const int64_t *st, int64_t n, const void *pp)
{
    size_t es = *(const size_t *)pp;
    if (st[0]) {
        memcpy(o, in[0], (size_t)n * es);
        return;
    }
    for (int64_t i = 0; i < n; i++)
        memcpy((char *)o + i * es, in[0], es);
}

static int variadic_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                        nn_cpu_ctx *ctx, fp_err *e)
{
    const bin_desc *d = bin_find(n);
    nn_tensor *o = out[0];
    int ret;
    if (nin == 1) {
        size_t es = nn_dtype_size(o->dtype);
        opsa_bcast it;
        if (opsa_bcast_init(&it, o, in, 1, copy_row, &es) < 0)
            return nn_node_error(e, n, FP_EINTERNAL, "shape mismatch");
        opsa_bcast_run(&it, ctx);
    } else {
        if ((ret = bin_apply(n, d, in[0], in[1], o, ctx, e)) < 0)
            return ret;
        for (int k = 2; k < nin; k++)
            if ((ret = bin_apply(n, d, o, in[k], o, ctx, e)) < 0)
                return ret;
    }
    if (!strcmp(n->op_type, "Mean")) {
        int64_t cnt = nn_tensor_numel(o);
        for (int64_t i = 0; i < cnt; i++)
            opsa_store_f64(o->dtype, o->data, i, opsa_load_f64(o->dtype, o->data, i) / nin);
    }
    return 0;
}

#define VARIADIC_DEF(SYM, NAME) \
    const nn_op_def nn_op_##SYM = { NAME, "", 1, variadic_infer, variadic_cpu, 0 };

VARIADIC_DEF(max, "Max")
VARIADIC_DEF(min, "Min")
VARIADIC_DEF(sum, "Sum")
VARIADIC_DEF(mean, "Mean")

/* ---- Clip: min and max as optional inputs (opset 11+), as attributes before ---- */

typedef struct clip_param {
    nn_dtype t;
    double lo, hi;
    int64_t ilo, ihi;
} clip_param;

static void clip_row(void *o, const void *const *in, const int64_t *st, int64_t n, const void *pp)
{
    const clip_param *p = pp;
    if (p->t == NN_DT_FLOAT) {
        const float *a = in[0];
        float *out = o, lo = (float)p->lo, hi = (float)p->hi;
        for (int64_t i = 0; i < n; i++) {
            float x = a[i];
            x = x < lo ? lo : x;
            out[i] = x > hi ? hi : x;
        }
    } else if (opsa_dt_is_int(p->t)) {
        for (int64_t i = 0; i < n; i++) {
            int64_t x = opsa_load_i64(p->t, in[0], i);
            x = x < p->ilo ? p->ilo : x;
            opsa_store_i64(p->t, o, i, x > p->ihi ? p->ihi : x);
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            double x = opsa_load_f64(p->t, in[0], i);
            x = x < p->lo ? p->lo : x;
            opsa_store_f64(p->t, o, i, x > p->hi ? p->hi : x);
        }
    }
}

static int clip_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                      fp_err *e)
{
    if (nin < 1 || !in[0])
        return nn_node_error(e, n, FP_EMODEL, "missing input");
    if (!opsa_dt_is_numeric(in[0]->dtype))
        return nn_node_error(e, n, FP_EUNSUPPORTED, "dtype %s", nn_dtype_name(in[0]->dtype));
    for (int k = 1; k < nin && k < 3; k++) {
        if (!in[k])
            continue;
        if (in[k]->dtype != in[0]->dtype)
            return nn_node_error(e, n, FP_EMODEL, "%s has dtype %s, input has %s", k == 1 ? "min" : "max",
                                 nn_dtype_name(in[k]->dtype), nn_dtype_name(in[0]->dtype));
        if (nn_tensor_numel(in[k]) != 1)
            return nn_node_error(e, n, FP_EMODEL, "%s must be a scalar", k == 1 ? "min" : "max");
    }
    out[0]->dtype = in[0]->dtype;
    return opsa_set_shape(n, e, out[0], in[0]->ndim, in[0]->dims);
}

static int clip_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                    nn_cpu_ctx *ctx, fp_err *e)
{
    clip_param p = { in[0]->dtype, -INFINITY, INFINITY, INT64_MIN, INT64_MAX };
    opsa_bcast it;
    if (n->opset < 11) {
        p.lo = nn_attr_float(n, "min", -FLT_MAX);
        p.hi = nn_attr_float(n, "max", FLT_MAX);
    }
    if (nin > 1 && in[1]) {
        p.lo = opsa_load_f64(in[1]->dtype, in[1]->data, 0);
        p.ilo = opsa_load_i64(in[1]->dtype, in[1]->data, 0);
    }
    if (nin > 2 && in[2]) {
        p.hi = opsa_load_f64(in[2]->dtype, in[2]->data, 0);
        p.ihi = opsa_load_i64(in[2]->dtype, in[2]->data, 0);
    }
    if (opsa_bcast_init(&it, out[0], in, 1, clip_row, &p) < 0)
        return nn_node_error(e, n, FP_EINTERNAL, "shape mismatch");
    opsa_bcast_run(&it, ctx);
    return 0;
}

const nn_op_def nn_op_clip = { "Clip", "", 1, clip_infer, clip_cpu, 0 };

/* ---- Where(cond, X, Y): dtype-generic by element size ---- */

static void where_row(void *o, const void *const *in, const int64_t *st, int64_t n, const void *pp)
{
    size_t es = *(const size_t *)pp;
    const uint8_t *c = in[0];
    const char *x = in[1], *y = in[2];
    for (int64_t i = 0; i < n; i++) {
        const char *src = c[i * st[0]] ? x + i * st[1] * es : y + i * st[2] * es;
        switch (es) {
        case 1: ((uint8_t *)o)[i] = *(const uint8_t *)src; break;
        case 2: ((uint16_t *)o)[i] = *(const uint16_t *)src; break;
        case 4: ((uint32_t *)o)[i] = *(const uint32_t *)src; break;
        case 8: ((uint64_t *)o)[i] = *(const uint64_t *)src; break;
        default: memcpy((char *)o + i * es, src, es); break;
        }
    }
}

static int where_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                       fp_err *e)
{
    if (nin < 3 || !in[0] || !in[1] || !in[2])
        return nn_node_error(e, n, FP_EMODEL, "needs condition, X and Y");
    if (in[0]->dtype != NN_DT_BOOL)
        return nn_node_error(e, n, FP_EMODEL, "condition must be bool, got %s", nn_dtype_name(in[0]->dtype));
    if (in[1]->dtype != in[2]->dtype)
        return nn_node_error(e, n, FP_EMODEL, "X and Y dtypes differ (%s, %s)", nn_dtype_name(in[1]->dtype),
                             nn_dtype_name(in[2]->dtype));
    if (!nn_dtype_size(in[1]->dtype))
        return nn_node_error(e, n, FP_EUNSUPPORTED, "dtype %s", nn_dtype_name(in[1]->dtype));
    out[0]->dtype = in[1]->dtype;
    if (opsa_broadcast_many(in, 3, out[0]) < 0)
        return nn_node_error(e, n, FP_EMODEL, "input shapes do not broadcast");
    return 0;
}

static int where_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                     nn_cpu_ctx *ctx, fp_err *e)
{
    size_t es = nn_dtype_size(out[0]->dtype);
    opsa_bcast it;
    if (opsa_bcast_init(&it, out[0], in, 3, where_row, &es) < 0)
        return nn_node_error(e, n, FP_EINTERNAL, "shape mismatch");
    opsa_bcast_run(&it, ctx);
    return 0;
}

const nn_op_def nn_op_where = { "Where", "", 1, where_infer, where_cpu, 0 };

/* ---- Not, IsNaN, IsInf: bool outputs ---- */

static void not_row(void *o, const void *const *in, const int64_t *st, int64_t n, const void *pp)
{
    const uint8_t *a = in[0];
    uint8_t *out = o;
    for (int64_t i = 0; i < n; i++)
        out[i] = !a[i];
}

typedef struct isx_param {
    nn_dtype t;
    int nan, pos, neg;
} isx_param;

static void isx_row(void *o, const void *const *in, const int64_t *st, int64_t n, const void *pp)
{
    const isx_param *p = pp;
    uint8_t *out = o;
    for (int64_t i = 0; i < n; i++) {
        double x = opsa_load_f64(p->t, in[0], i);
        out[i] = p->nan ? isnan(x) : (isinf(x) && ((x > 0 && p->pos) || (x < 0 && p->neg)));
    }
}

static int boolout_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                         fp_err *e)
{
    int is_not = !strcmp(n->op_type, "Not");
    if (nin < 1 || !in[0])
        return nn_node_error(e, n, FP_EMODEL, "missing input");
    if (is_not ? in[0]->dtype != NN_DT_BOOL : !opsa_dt_is_float(in[0]->dtype))
        return nn_node_error(e, n, FP_EUNSUPPORTED, "input dtype %s not supported", nn_dtype_name(in[0]->dtype));
    out[0]->dtype = NN_DT_BOOL;
    return opsa_set_shape(n, e, out[0], in[0]->ndim, in[0]->dims);
}

static int boolout_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                       nn_cpu_ctx *ctx, fp_err *e)
{
    isx_param p = { in[0]->dtype, !strcmp(n->op_type, "IsNaN"), (int)nn_attr_int(n, "detect_positive", 1),
                    (int)nn_attr_int(n, "detect_negative", 1) };
    opsa_bcast it;
    if (opsa_bcast_init(&it, out[0], in, 1, !strcmp(n->op_type, "Not") ? not_row : isx_row, &p) < 0)
        return nn_node_error(e, n, FP_EINTERNAL, "shape mismatch");
    opsa_bcast_run(&it, ctx);
    return 0;
}

const nn_op_def nn_op_not = { "Not", "", 1, boolout_infer, boolout_cpu, 0 };
const nn_op_def nn_op_isnan = { "IsNaN", "", 1, boolout_infer, boolout_cpu, 0 };
const nn_op_def nn_op_isinf = { "IsInf", "", 1, boolout_infer, boolout_cpu, 0 };
