/*
 * Unit tests of the group-a operator kernels (src/nn/ops: elementwise, reduce, softmax, movement,
 * shape, cast, topk, index, einsum, quant). Each case builds a node and hand-made tensors, calls the
 * op's infer and cpu directly, and checks shapes and values against numbers worked out by hand or by
 * a naive loop. Awkward shapes on purpose: rank 0, size-0 dims, broadcasting of 1s, negative axes,
 * ties, hostile shape values. Randomised cases (fixed seed) compare against naive index-by-index
 * references, and the parallel kernels run with 1 and 4 threads and must give identical bytes.
 */
#include "fp_test.h"
#include "nn/nn_op.h"

#include <stdarg.h>
#include <stdint.h>

#include "nn/nn_cpu.h"

/* Contexts with 1 and 4 workers, created once and kept for the process (reachable at exit). */
static nn_cpu_ctx *ctx_get(int threads)
{
    static nn_cpu_ctx *c1, *c4;
    nn_cpu_ctx **c = threads == 1 ? &c1 : &c4;
    if (!*c && nn_cpu_ctx_create(c, threads, NULL) < 0) {
        fprintf(stderr, "cannot create a CPU context\n");
        exit(1);
    }
    return *c;
}

extern const nn_op_def *const nn_ops_group_a[];

static const nn_op_def *find_def(const char *op)
{
    for (int i = 0; nn_ops_group_a[i]; i++)
        if (!strcmp(nn_ops_group_a[i]->op_type, op))
            return nn_ops_group_a[i];
    return NULL;
}

/* ---- node builder ---- */
typedef struct tn {
    nn_node n;
    nn_attr a[8];
    int64_t ints[8][16];
    float fl[8][16];
} tn;

static void tn_init(tn *t, const char *op, int opset)
{
    memset(t, 0, sizeof(*t));
    t->n.name = (char *)"t";
    t->n.op_type = (char *)op;
    t->n.domain = (char *)"";
    t->n.opset = opset;
    t->n.attrs = t->a;
    t->n.def = find_def(op);
}

static nn_attr *tn_attr(tn *t, const char *name, nn_attr_type type)
{
    nn_attr *a = &t->a[t->n.nattr++];
    a->name = (char *)name;
    a->type = type;
    return a;
}

static void tn_int(tn *t, const char *name, int64_t v) { tn_attr(t, name, NN_ATTR_INT)->i = v; }
static void tn_float(tn *t, const char *name, float v) { tn_attr(t, name, NN_ATTR_FLOAT)->f = v; }
static void tn_str(tn *t, const char *name, const char *v) { tn_attr(t, name, NN_ATTR_STRING)->s = (char *)v; }
static void tn_ints(tn *t, const char *name, int cnt, ...)
{
    int k = t->n.nattr;
    nn_attr *a = tn_attr(t, name, NN_ATTR_INTS);
    va_list ap;
    va_start(ap, cnt);
    for (int i = 0; i < cnt; i++)
        t->ints[k][i] = va_arg(ap, int64_t);
    va_end(ap);
    a->ints = t->ints[k];
    a->n = cnt;
}

/* ---- tensors ---- */
static nn_tensor *tens(nn_dtype dt, int nd, const int64_t *dims, const void *data)
{
    nn_tensor *t = calloc(1, sizeof(*t));
    t->dtype = dt;
    nn_tensor_set_shape(t, nd, dims);
    nn_tensor_alloc(t);
    if (data && nn_tensor_nbytes(t))
        memcpy(t->data, data, nn_tensor_nbytes(t));
    return t;
}

static nn_tensor *tf(int nd, const int64_t *dims, const float *v) { return tens(NN_DT_FLOAT, nd, dims, v); }
static nn_tensor *ti64(int nd, const int64_t *dims, const int64_t *v) { return tens(NN_DT_INT64, nd, dims, v); }
static nn_tensor *ivec(int cnt, ...)
{
    int64_t v[16], d = cnt;
    va_list ap;
    va_start(ap, cnt);
    for (int i = 0; i < cnt; i++)
        v[i] = va_arg(ap, int64_t);
    va_end(ap);
    return ti64(1, &d, v);
}

static void tfree(nn_tensor **t)
{
    if (*t) {
        nn_tensor_free(*t);
        free(*t);
        *t = NULL;
    }
}

static fp_err err;

/* infer, allocate outputs, run on ctx; returns the first failing code */
static int run_ctx(tn *t, nn_tensor **in, int nin, nn_tensor **out, int nout, nn_cpu_ctx *ctx)
{
    int ret;
    fp_err_clear(&err);
    if (!t->n.def)
        return FP_EINTERNAL;
    for (int k = 0; k < nout; k++)
        if (!out[k])
            out[k] = calloc(1, sizeof(nn_tensor));
    if ((ret = t->n.def->infer(&t->n, in, nin, out, nout, &err)) < 0)
        return ret;
    for (int k = 0; k < nout; k++)
        if ((ret = nn_tensor_alloc(out[k])) < 0)
            return ret;
    return t->n.def->cpu(&t->n, in, nin, out, nout, ctx, &err);
}

static int run(tn *t, nn_tensor **in, int nin, nn_tensor **out, int nout)
{
    return run_ctx(t, in, nin, out, nout, ctx_get(1));
}

/* Runs at 1 and 4 threads; output bytes must be identical. Returns out from the 1-thread run. */
static int run_det(tn *t, nn_tensor **in, int nin, nn_tensor **out)
{
    nn_tensor *o4 = NULL;
    int ret = run_ctx(t, in, nin, out, 1, ctx_get(1));
    if (ret < 0)
        return ret;
    ret = run_ctx(t, in, nin, &o4, 1, ctx_get(4));
    CHECK(ret == 0 && nn_shape_equal(out[0], o4) &&
          !memcmp(out[0]->data, o4->data, nn_tensor_nbytes(o4)));
    tfree(&o4);
    return ret;
}

static float fat(const nn_tensor *t, int64_t i) { return ((const float *)t->data)[i]; }
static int64_t iat(const nn_tensor *t, int64_t i) { return ((const int64_t *)t->data)[i]; }

static int shape_is(const nn_tensor *t, int nd, ...)
{
    va_list ap;
    int ok = t->ndim == nd;
    va_start(ap, nd);
    for (int i = 0; i < nd; i++) {
        int64_t d = va_arg(ap, int64_t);
        if (ok && t->dims[i] != d)
            ok = 0;
    }
    va_end(ap);
    return ok;
}

static uint32_t rng = 12345;
static float frand(void)
{
    rng = rng * 1664525u + 1013904223u;
    return (float)(rng >> 8) / 16777216.0f * 2.0f - 1.0f;
}

/* ------------------------------------------------------------------------------------------------ */

static void test_add_broadcast(void)
{
    tn t;
    int64_t da[3] = { 2, 3, 4 }, db[2] = { 3, 1 };
    float a[24], b[3] = { 10, 20, 30 };
    for (int i = 0; i < 24; i++)
        a[i] = (float)i;
    nn_tensor *in[2] = { tf(3, da, a), tf(2, db, b) }, *out = NULL;
    tn_init(&t, "Add", 14);
    CHECK_EQ_INT(run_det(&t, in, 2, &out), 0);
    CHECK(shape_is(out, 3, 2LL, 3LL, 4LL));
    int ok = 1;
    for (int i = 0; i < 24; i++)
        ok &= fat(out, i) == a[i] + b[(i / 4) % 3];
    CHECK(ok);
    tfree(&out);
    /* reversed operand order broadcasts the same way */
    nn_tensor *rin[2] = { in[1], in[0] };
    tn_init(&t, "Sub", 14);
    CHECK_EQ_INT(run(&t, rin, 2, &out, 1), 0);
    CHECK(shape_is(out, 3, 2LL, 3LL, 4LL));
    CHECK_NEAR(fat(out, 5), 20 - 5, 0);
    tfree(&out);
    tfree(&in[0]);
    tfree(&in[1]);
}

static void test_per_channel_and_scalar(void)
{
    /* [N,C,H,W] * [1,C,1,1] against a naive loop, large enough to go parallel */
    int64_t dx[4] = { 2, 5, 67, 129 }, dc[4] = { 1, 5, 1, 1 };
    int64_t n = 2 * 5 * 67 * 129;
    float *x = malloc(sizeof(float) * n), c[5];
    for (int64_t i = 0; i < n; i++)
        x[i] = frand();
    for (int i = 0; i < 5; i++)
        c[i] = frand();
    nn_tensor *in[2] = { tf(4, dx, x), tf(4, dc, c) }, *out = NULL;
    tn t;
    tn_init(&t, "Mul", 14);
    CHECK_EQ_INT(run_det(&t, in, 2, &out), 0);
    int ok = 1;
    for (int64_t i = 0; i < n; i++)
        ok &= fat(out, i) == x[i] * c[(i / (67 * 129)) % 5];
    CHECK(ok);
    tfree(&out);
    tfree(&in[1]);
    /* rank-0 scalar on the left */
    float s = 2.0f;
    in[1] = in[0];
    in[0] = tf(0, NULL, &s);
    tn_init(&t, "Div", 14);
    CHECK_EQ_INT(run_det(&t, in, 2, &out), 0);
    CHECK(shape_is(out, 4, 2LL, 5LL, 67LL, 129LL));
    CHECK_NEAR(fat(out, 777), 2.0f / x[777], 0);
    tfree(&out);
    /* scalar with scalar: rank 0 out */
    nn_tensor *ss[2] = { in[0], in[0] };
    tn_init(&t, "Add", 14);
    CHECK_EQ_INT(run(&t, ss, 2, &out, 1), 0);
    CHECK(out->ndim == 0 && fat(out, 0) == 4.0f);
    tfree(&out);
    tfree(&in[0]);
    tfree(&in[1]);
    free(x);
}

static void test_int_arith(void)
{
    int64_t d = 6;
    int64_t a[6] = { 7, -7, 7, -7, 5, INT64_MIN }, b[6] = { 2, 2, -2, -2, 0, -1 };
    nn_tensor *in[2] = { ti64(1, &d, a), ti64(1, &d, b) }, *out = NULL;
    tn t;
    tn_init(&t, "Div", 14);
    CHECK_EQ_INT(run(&t, in, 2, &out, 1), 0);
    CHECK(iat(out, 0) == 3 && iat(out, 1) == -3 && iat(out, 2) == -3 && iat(out, 3) == 3);
    CHECK(iat(out, 4) == 0);            /* division by zero gives 0, no trap */
    CHECK(iat(out, 5) == INT64_MIN);    /* wraps, no trap */
    tfree(&out);
    tn_init(&t, "Mod", 13); /* fmod=0: sign of the divisor (Python) */
    CHECK_EQ_INT(run(&t, in, 2, &out, 1), 0);
    CHECK(iat(out, 0) == 1 && iat(out, 1) == 1 && iat(out, 2) == -1 && iat(out, 3) == -1);
    tfree(&out);
    tn_init(&t, "Mod", 13);
    tn_int(&t, "fmod", 1); /* C fmod: sign of the dividend */
    CHECK_EQ_INT(run(&t, in, 2, &out, 1), 0);
    CHECK(iat(out, 0) == 1 && iat(out, 1) == -1 && iat(out, 2) == 1 && iat(out, 3) == -1);
    tfree(&out);
    tn_init(&t, "Mul", 14);
    CHECK_EQ_INT(run(&t, in, 2, &out, 1), 0);
    CHECK(iat(out, 0) == 14 && iat(out, 5) == INT64_MIN);
    tfree(&out);
    /* uint8 wraps like numpy */
    uint8_t u[2] = { 250, 3 }, v[2] = { 10, 5 };
    int64_t d2 = 2;
    nn_tensor *uin[2] = { tens(NN_DT_UINT8, 1, &d2, u), tens(NN_DT_UINT8, 1, &d2, v) };
    tn_init(&t, "Add", 14);
    CHECK_EQ_INT(run(&t, uin, 2, &out, 1), 0);
    CHECK(((uint8_t *)out->data)[0] == 4 && ((uint8_t *)out->data)[1] == 8);
    tfree(&out);
    tn_init(&t, "Sub", 14);
    CHECK_EQ_INT(run(&t, uin, 2, &out, 1), 0);
    CHECK(((uint8_t *)out->data)[0] == 240 && ((uint8_t *)out->data)[1] == 254);
    tfree(&out);
    tfree(&uin[0]);
    tfree(&uin[1]);
    tfree(&in[0]);
    tfree(&in[1]);
}

static void test_compare_where_logic(void)
{
    int64_t d3[1] = { 3 }, d23[2] = { 2, 3 };
    float a[3] = { 1, 2, 3 }, b[6] = { 2, 2, 2, 0, 5, 3 };
    nn_tensor *in[2] = { tf(1, d3, a), tf(2, d23, b) }, *out = NULL, *w = NULL;
    tn t;
    tn_init(&t, "Less", 13);
    CHECK_EQ_INT(run(&t, in, 2, &out, 1), 0);
    CHECK(out->dtype == NN_DT_BOOL && shape_is(out, 2, 2LL, 3LL));
    uint8_t *o = out->data;
    CHECK(o[0] == 1 && o[1] == 0 && o[2] == 0 && o[3] == 0 && o[4] == 1 && o[5] == 0);
    /* Where(cond [2,3], X [3], Y scalar) */
    float y = -1;
    nn_tensor *win[3] = { out, in[0], tf(0, NULL, &y) };
    tn_init(&t, "Where", 16);
    CHECK_EQ_INT(run_det(&t, win, 3, &w), 0);
    CHECK(shape_is(w, 2, 2LL, 3LL));
    CHECK(fat(w, 0) == 1 && fat(w, 1) == -1 && fat(w, 4) == 2 && fat(w, 5) == -1);
    tfree(&w);
    /* Not, And */
    nn_tensor *nin[1] = { out };
    tn_init(&t, "Not", 1);
    CHECK_EQ_INT(run(&t, nin, 1, &w, 1), 0);
    CHECK(((uint8_t *)w->data)[0] == 0 && ((uint8_t *)w->data)[1] == 1);
    nn_tensor *ain[2] = { out, w };
    nn_tensor *x = NULL;
    tn_init(&t, "And", 7);
    CHECK_EQ_INT(run(&t, ain, 2, &x, 1), 0);
    int any = 0;
    for (int i = 0; i < 6; i++)
        any |= ((uint8_t *)x->data)[i];
    CHECK(any == 0);
    tfree(&x);
    tn_init(&t, "Or", 7);
    CHECK_EQ_INT(run(&t, ain, 2, &x, 1), 0);
    int all = 1;
    for (int i = 0; i < 6; i++)
        all &= ((uint8_t *)x->data)[i];
    CHECK(all == 1);
    tfree(&x);
    /* mismatched dtypes are a model error, float And is refused */
    nn_tensor *bad[2] = { in[0], out };
    tn_init(&t, "Equal", 13);
    CHECK_EQ_INT(run(&t, bad, 2, &x, 1), FP_EMODEL);
    tfree(&x);
    tn_init(&t, "And", 7);
    CHECK_EQ_INT(run(&t, in, 2, &x, 1), FP_EMODEL);
    CHECK(strstr(err.msg, "node 't' (And)") != NULL);
    tfree(&x);
    tfree(&w);
    tfree(&win[2]);
    tfree(&out);
    tfree(&in[0]);
    tfree(&in[1]);
}

static void test_unary(void)
{
    int64_t d = 7;
    float x[7] = { -3, -0.5f, 0, 0.5f, 2.5f, 3.5f, 100 };
    nn_tensor *in[1] = { tf(1, &d, x) }, *out = NULL;
    tn t;
    tn_init(&t, "Round", 11);
    CHECK_EQ_INT(run(&t, in, 1, &out, 1), 0);
    CHECK(fat(out, 1) == 0 && fat(out, 3) == 0 && fat(out, 4) == 2 && fat(out, 5) == 4); /* half to even */
    tfree(&out);
    tn_init(&t, "Sigmoid", 13);
    CHECK_EQ_INT(run(&t, in, 1, &out, 1), 0);
    CHECK_NEAR(fat(out, 2), 0.5, 1e-7);
    CHECK_NEAR(fat(out, 6), 1.0, 1e-7);
    CHECK_NEAR(fat(out, 0), 1.0 / (1.0 + exp(3.0)), 1e-7);
    tfree(&out);
    tn_init(&t, "HardSwish", 14);
    CHECK_EQ_INT(run(&t, in, 1, &out, 1), 0);
    CHECK(fat(out, 0) == 0 && fat(out, 6) == 100);
    CHECK_NEAR(fat(out, 3), 0.5 * (0.5 / 6 + 0.5), 1e-7);
    tfree(&out);
    tn_init(&t, "LeakyRelu", 16);
    tn_float(&t, "alpha", 0.1f);
    CHECK_EQ_INT(run(&t, in, 1, &out, 1), 0);
    CHECK_NEAR(fat(out, 0), -0.3, 1e-6);
    tfree(&out);
    /* float activations against double libm over a wide range, tiny values included */
    {
        enum { NV = 2001 };
        static float v[NV];
        int64_t dv = NV;
        for (int i = 0; i < NV; i++)
            v[i] = i < 100 ? ldexpf(1.0f, -i) * (i & 1 ? -1 : 1) : -12.0f + 24.0f * (float)i / NV;
        nn_tensor *vi[1] = { tf(1, &dv, v) };
        static const char *ops[3] = { "Tanh", "Sigmoid", "HardSwish" };
        for (int o = 0; o < 3; o++) {
            tn_init(&t, ops[o], 14);
            CHECK_EQ_INT(run(&t, vi, 1, &out, 1), 0);
            double worst = 0;
            for (int i = 0; i < NV; i++) {
                double x = v[i];
                double r = o == 0 ? tanh(x) : o == 1 ? 1 / (1 + exp(-x)) : x * fmin(1, fmax(0, x / 6 + 0.5));
                /* HardSwish cancels near x = -3 in float: absolute error there */
                double err2 = fabs(fat(out, i) - r) / (o == 2 ? fmax(fabs(r), 0.1) : fabs(r) + 1e-30);
                if (r == 0)
                    err2 = fabs(fat(out, i));
                worst = err2 > worst || isnan(err2) ? err2 : worst;
            }
            CHECK_MSG(worst < 1e-6, "%s: worst relative error %g", ops[o], worst);
            tfree(&out);
        }
        tfree(&vi[0]);
    }
    tn_init(&t, "Erf", 13);
    CHECK_EQ_INT(run(&t, in, 1, &out, 1), 0);
    CHECK_NEAR(fat(out, 3), 0.5204998778, 1e-6);
    tfree(&out);
    /* Clip with only max given (min absent) */
    float mx = 1.0f;
    nn_tensor *cmax = tf(0, NULL, &mx);
    nn_tensor *cin[3] = { in[0], NULL, cmax };
    tn_init(&t, "Clip", 13);
    CHECK_EQ_INT(run(&t, cin, 3, &out, 1), 0);
    CHECK(fat(out, 0) == -3 && fat(out, 6) == 1 && fat(out, 3) == 0.5f);
    tfree(&out);
    tfree(&cmax);
    /* integer Abs/Neg; Sqrt of int64 is refused as unsupported */
    int64_t iv[3] = { -5, 0, INT64_MIN }, d3 = 3;
    nn_tensor *ii[1] = { ti64(1, &d3, iv) };
    tn_init(&t, "Abs", 13);
    CHECK_EQ_INT(run(&t, ii, 1, &out, 1), 0);
    CHECK(iat(out, 0) == 5 && iat(out, 1) == 0);
    tfree(&out);
    tn_init(&t, "Sqrt", 13);
    CHECK_EQ_INT(run(&t, ii, 1, &out, 1), FP_EUNSUPPORTED);
    tfree(&out);
    tfree(&ii[0]);
    /* float16 Relu and Neg through the half path */
    uint16_t h[3] = { nn_f32_to_f16(-1.5f), nn_f32_to_f16(0.25f), nn_f32_to_f16(3.0f) };
    nn_tensor *hi[1] = { tens(NN_DT_FLOAT16, 1, &d3, h) };
    tn_init(&t, "Relu", 14);
    CHECK_EQ_INT(run(&t, hi, 1, &out, 1), 0);
    CHECK(out->dtype == NN_DT_FLOAT16);
    CHECK(nn_f16_to_f32(((uint16_t *)out->data)[0]) == 0 && nn_f16_to_f32(((uint16_t *)out->data)[2]) == 3.0f);
    tfree(&out);
    tfree(&hi[0]);
    /* size-0 input: empty output, no crash */
    int64_t z = 0;
    nn_tensor *zi[1] = { tf(1, &z, NULL) };
    tn_init(&t, "Exp", 13);
    CHECK_EQ_INT(run(&t, zi, 1, &out, 1), 0);
    CHECK(shape_is(out, 1, 0LL));
    tfree(&out);
    tfree(&zi[0]);
    tfree(&in[0]);
}

static void test_pow_variadic(void)
{
    int64_t d = 3;
    float b[3] = { 2, -2, 4 };
    int64_t ex[3] = { 3, 2, 0 };
    nn_tensor *in[2] = { tf(1, &d, b), ti64(1, &d, ex) }, *out = NULL;
    tn t;
    tn_init(&t, "Pow", 15);
    CHECK_EQ_INT(run(&t, in, 2, &out, 1), 0);
    CHECK(out->dtype == NN_DT_FLOAT && fat(out, 0) == 8 && fat(out, 1) == 4 && fat(out, 2) == 1);
    tfree(&out);
    /* Max over three inputs with broadcasting, Mean */
    float c[1] = { 3 }, e2[6] = { 0, 9, 0, 0, 0, 5 };
    int64_t d1 = 1, d23[2] = { 2, 3 };
    nn_tensor *v[3] = { in[0], tf(1, &d1, c), tf(2, d23, e2) };
    tn_init(&t, "Max", 13);
    CHECK_EQ_INT(run(&t, v, 3, &out, 1), 0);
    CHECK(shape_is(out, 2, 2LL, 3LL));
    CHECK(fat(out, 0) == 3 && fat(out, 1) == 9 && fat(out, 2) == 4 && fat(out, 5) == 5);
    tfree(&out);
    tn_init(&t, "Mean", 13);
    CHECK_EQ_INT(run(&t, v, 3, &out, 1), 0);
    CHECK_NEAR(fat(out, 1), (-2 + 3 + 9) / 3.0, 1e-6);
    tfree(&out);
    tn_init(&t, "Min", 13);
    CHECK_EQ_INT(run(&t, v, 1, &out, 1), 0);
    CHECK(shape_is(out, 1, 3LL) && fat(out, 1) == -2);
    tfree(&out);
    tfree(&v[1]);
    tfree(&v[2]);
    tfree(&in[0]);
    tfree(&in[1]);
}

static void test_softmax_semantics(void)
{
    /* [2,3,2]: opset 11 axis=1 normalises over 6 values per batch; opset 13 axis=1 over 3 */
    int64_t d[3] = { 2, 3, 2 };
    float x[12];
    for (int i = 0; i < 12; i++)
        x[i] = (float)i * 0.5f;
    nn_tensor *in[1] = { tf(3, d, x) }, *out = NULL;
    tn t;
    tn_init(&t, "Softmax", 11);
    tn_int(&t, "axis", 1);
    CHECK_EQ_INT(run(&t, in, 1, &out, 1), 0);
    double s = 0;
    for (int i = 0; i < 6; i++)
        s += fat(out, i);
    CHECK_NEAR(s, 1.0, 1e-6);
    CHECK_NEAR(fat(out, 5), exp(2.5) / (exp(0) + exp(0.5) + exp(1) + exp(1.5) + exp(2) + exp(2.5)), 1e-6);
    tfree(&out);
    tn_init(&t, "Softmax", 13);
    tn_int(&t, "axis", 1);
    CHECK_EQ_INT(run(&t, in, 1, &out, 1), 0);
    CHECK_NEAR(fat(out, 0) + fat(out, 2) + fat(out, 4), 1.0, 1e-6);
    CHECK_NEAR(fat(out, 4), exp(2.0) / (exp(0) + exp(1) + exp(2)), 1e-6);
    tfree(&out);
    /* default axis differs: 1 before 13, -1 from 13 */
    tn_init(&t, "LogSoftmax", 13);
    CHECK_EQ_INT(run(&t, in, 1, &out, 1), 0);
    CHECK_NEAR(fat(out, 0), -log(1 + exp(0.5)), 1e-6);
    tfree(&out);
    /* stability: huge logits */
    float big[3] = { 10000, 10001, 10002 };
    int64_t d3 = 3;
    nn_tensor *bi[1] = { tf(1, &d3, big) };
    tn_init(&t, "Softmax", 13);
    CHECK_EQ_INT(run(&t, bi, 1, &out, 1), 0);
    CHECK_NEAR(fat(out, 2), exp(2.0) / (1 + exp(1.0) + exp(2.0)), 1e-6);
    tfree(&out);
    tn_init(&t, "Softmax", 13);
    tn_int(&t, "axis", 3);
    CHECK_EQ_INT(run(&t, bi, 1, &out, 1), FP_EMODEL);
    tfree(&out);
    tfree(&bi[0]);
    tfree(&in[0]);
}

/* float32 fast paths (contiguous rows, 64-wide inner blocks) against the double path */
static void test_softmax_paths(void)
{
    static const int axes[2] = { 1, 2 };
    static const char *ops[2] = { "Softmax", "LogSoftmax" };
    int64_t d[3] = { 3, 5, 130 };
    int64_t n = 3 * 5 * 130;
    float *x = malloc(sizeof(float) * n);
    double *xd = malloc(sizeof(double) * n);
    for (int64_t i = 0; i < n; i++)
        xd[i] = x[i] = frand() * 20;
    nn_tensor *inf[1] = { tf(3, d, x) }, *ind[1] = { tens(NN_DT_DOUBLE, 3, d, xd) };
    for (int o = 0; o < 2; o++)
        for (int a = 0; a < 2; a++) {
            nn_tensor *of = NULL, *od = NULL;
            tn t;
            tn_init(&t, ops[o], 13);
            tn_int(&t, "axis", axes[a]);
            CHECK_EQ_INT(run_det(&t, inf, 1, &of), 0);
            CHECK_EQ_INT(run(&t, ind, 1, &od, 1), 0);
            double worst = 0;
            for (int64_t i = 0; i < n; i++) {
                double r = ((double *)od->data)[i], diff = fabs(fat(of, i) - r) / (fabs(r) + 1e-6);
                worst = diff > worst || isnan(diff) ? diff : worst;
            }
            CHECK_MSG(worst < 1e-5, "%s axis %d: relative error %g", ops[o], axes[a], worst);
            tfree(&of);
            tfree(&od);
        }
    tfree(&inf[0]);
    tfree(&ind[0]);
    free(x);
    free(xd);
}

static void test_reduce(void)
{
    int64_t d[3] = { 2, 3, 4 };
    float x[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)i;
    nn_tensor *in[2] = { tf(3, d, x), NULL }, *out = NULL;
    tn t;
    /* axes attribute (opset 13), negative axis, keepdims */
    tn_init(&t, "ReduceMean", 13);
    tn_ints(&t, "axes", 1, (int64_t)-2);
    CHECK_EQ_INT(run_det(&t, in, 1, &out), 0);
    CHECK(shape_is(out, 3, 2LL, 1LL, 4LL));
    CHECK_NEAR(fat(out, 0), (0 + 4 + 8) / 3.0, 1e-6);
    CHECK_NEAR(fat(out, 7), (15 + 19 + 23) / 3.0, 1e-6);
    tfree(&out);
    /* axes as input (opset 18), keepdims 0, two axes */
    in[1] = ivec(2, (int64_t)0, (int64_t)2);
    tn_init(&t, "ReduceSum", 18);
    tn_int(&t, "keepdims", 0);
    CHECK_EQ_INT(run_det(&t, in, 2, &out), 0);
    CHECK(shape_is(out, 1, 3LL));
    CHECK_NEAR(fat(out, 1), (4 + 5 + 6 + 7) + (16 + 17 + 18 + 19), 0);
    tfree(&out);
    tn_init(&t, "ReduceMax", 18);
    CHECK_EQ_INT(run(&t, in, 2, &out, 1), 0);
    CHECK(shape_is(out, 3, 1LL, 3LL, 1LL) && fat(out, 2) == 23);
    tfree(&out);
    /* axes attribute ignored semantics: ReduceSum from 13 takes axes as input */
    tfree(&in[1]);
    int64_t zero = 0;
    in[1] = ti64(1, &zero, NULL);
    tn_init(&t, "ReduceSum", 13);
    tn_int(&t, "noop_with_empty_axes", 1);
    CHECK_EQ_INT(run(&t, in, 2, &out, 1), 0);
    CHECK(shape_is(out, 3, 2LL, 3LL, 4LL) && fat(out, 23) == 23);
    tfree(&out);
    tn_init(&t, "ReduceSum", 13); /* empty axes without noop: all */
    CHECK_EQ_INT(run(&t, in, 2, &out, 1), 0);
    CHECK(shape_is(out, 3, 1LL, 1LL, 1LL) && fat(out, 0) == 276);
    tfree(&out);
    tn_init(&t, "ReduceL2", 13);
    tn_int(&t, "keepdims", 0);
    CHECK_EQ_INT(run(&t, in, 1, &out, 1), 0);
    CHECK(out->ndim == 0);
    CHECK_NEAR(fat(out, 0), sqrt(4324.0), 1e-3);
    tfree(&out);
    tn_init(&t, "ReduceLogSumExp", 13);
    tn_ints(&t, "axes", 1, (int64_t)2);
    CHECK_EQ_INT(run(&t, in, 1, &out, 1), 0);
    CHECK_NEAR(fat(out, 0), log(exp(0.0) + exp(1.0) + exp(2.0) + exp(3.0)), 1e-5);
    tfree(&out);
    tn_init(&t, "ReduceMean", 13);
    tn_ints(&t, "axes", 1, (int64_t)3);
    CHECK_EQ_INT(run(&t, in, 1, &out, 1), FP_EMODEL);
    tfree(&out);
    /* reduce over a size-0 axis: sum 0, max -inf */
    int64_t dz[2] = { 2, 0 };
    nn_tensor *zi[1] = { tf(2, dz, NULL) };
    tn_init(&t, "ReduceSum", 11);
    tn_ints(&t, "axes", 1, (int64_t)1);
    CHECK_EQ_INT(run(&t, zi, 1, &out, 1), 0);
    CHECK(shape_is(out, 2, 2LL, 1LL) && fat(out, 0) == 0 && fat(out, 1) == 0);
    tfree(&out);
    tfree(&zi[0]);
    /* ArgMax with ties, select_last_index */
    float tie[6] = { 1, 5, 5, 2, 2, 0 };
    int64_t d23[2] = { 2, 3 };
    nn_tensor *ai[1] = { tf(2, d23, tie) };
    tn_init(&t, "ArgMax", 13);
    tn_int(&t, "axis", -1);
    CHECK_EQ_INT(run(&t, ai, 1, &out, 1), 0);
    CHECK(shape_is(out, 2, 2LL, 1LL) && iat(out, 0) == 1 && iat(out, 1) == 0);
    tfree(&out);
    tn_init(&t, "ArgMax", 13);
    tn_int(&t, "axis", 1);
    tn_int(&t, "select_last_index", 1);
    tn_int(&t, "keepdims", 0);
    CHECK_EQ_INT(run(&t, ai, 1, &out, 1), 0);
    CHECK(shape_is(out, 1, 2LL) && iat(out, 0) == 2 && iat(out, 1) == 1);
    tfree(&out);
    tfree(&ai[0]);
    /* large reduction goes parallel and matches 1 thread */
    int64_t dl[2] = { 300, 257 };
    float *xl = malloc(sizeof(float) * 300 * 257);
    for (int i = 0; i < 300 * 257; i++)
        xl[i] = frand();
    nn_tensor *li[1] = { tf(2, dl, xl) };
    tn_init(&t, "ReduceSum", 11);
    tn_ints(&t, "axes", 1, (int64_t)0);
    CHECK_EQ_INT(run_det(&t, li, 1, &out), 0);
    double ref = 0;
    for (int r = 0; r < 300; r++)
        ref += xl[r * 257 + 100];
    CHECK_NEAR(fat(out, 100), ref, 1e-4);
    tfree(&out);
    tfree(&li[0]);
    free(xl);
    tfree(&in[0]);
    tfree(&in[1]);
}

static void test_slice(void)
{
    int64_t d[2] = { 3, 5 };
    float x[15];
    for (int i = 0; i < 15; i++)
        x[i] = (float)i;
    nn_tensor *in[5] = { tf(2, d, x), ivec(2, (int64_t)-1, (int64_t)100), ivec(2, INT64_MIN, (int64_t)-100),
                         ivec(2, (int64_t)0, (int64_t)1), ivec(2, (int64_t)-1, (int64_t)-2) };
    nn_tensor *out = NULL;
    tn t;
    /* negative steps with clamped out-of-range starts/ends: rows 2,1,0; cols 4,2,0 */
    tn_init(&t, "Slice", 13);
    CHECK_EQ_INT(run(&t, in, 5, &out, 1), 0);
    CHECK(shape_is(out, 2, 3LL, 3LL));
    CHECK(fat(out, 0) == 14 && fat(out, 1) == 12 && fat(out, 2) == 10 && fat(out, 3) == 9 && fat(out, 8) == 0);
    tfree(&out);
    /* default axes and steps; empty result */
    nn_tensor *in2[3] = { in[0], ivec(1, (int64_t)2), ivec(1, (int64_t)1) };
    tn_init(&t, "Slice", 13);
    CHECK_EQ_INT(run(&t, in2, 3, &out, 1), 0);
    CHECK(shape_is(out, 2, 0LL, 5LL));
    tfree(&out);
    /* starts not constant: unsupported, says which input */
    void *saved = in2[1]->data;
    in2[1]->data = NULL;
    tn_init(&t, "Slice", 13);
    CHECK_EQ_INT(run(&t, in2, 3, &out, 1), FP_EUNSUPPORTED);
    CHECK(strstr(err.msg, "starts") != NULL);
    in2[1]->data = saved;
    tfree(&out);
    tfree(&in2[1]);
    tfree(&in2[2]);
    for (int k = 0; k < 5; k++)
        tfree(&in[k]);
}

static void test_reshape_family(void)
{
    int64_t d[3] = { 2, 3, 4 };
    float x[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)i;
    nn_tensor *in[2] = { tf(3, d, x), ivec(3, (int64_t)0, (int64_t)-1, (int64_t)2) }, *out = NULL;
    tn t;
    tn_init(&t, "Reshape", 14);
    CHECK_EQ_INT(run(&t, in, 2, &out, 1), 0);
    CHECK(shape_is(out, 3, 2LL, 6LL, 2LL) && fat(out, 23) == 23);
    tfree(&out);
    tfree(&in[1]);
    /* allowzero=1: 0 is a real zero dim; needs an empty input */
    int64_t dz[2] = { 0, 4 };
    nn_tensor *zin[2] = { tf(2, dz, NULL), ivec(3, (int64_t)4, (int64_t)0, (int64_t)1) };
    tn_init(&t, "Reshape", 14);
    tn_int(&t, "allowzero", 1);
    CHECK_EQ_INT(run(&t, zin, 2, &out, 1), 0);
    CHECK(shape_is(out, 3, 4LL, 0LL, 1LL));
    tfree(&out);
    tfree(&zin[0]);
    tfree(&zin[1]);
    in[1] = ivec(2, (int64_t)5, (int64_t)-1);
    tn_init(&t, "Reshape", 14);
    CHECK_EQ_INT(run(&t, in, 2, &out, 1), FP_EMODEL);
    tfree(&out);
    tfree(&in[1]);
    /* Flatten negative axis, axis 0 */
    tn_init(&t, "Flatten", 13);
    tn_int(&t, "axis", -1);
    CHECK_EQ_INT(run(&t, in, 1, &out, 1), 0);
    CHECK(shape_is(out, 2, 6LL, 4LL));
    tfree(&out);
    tn_init(&t, "Flatten", 13);
    tn_int(&t, "axis", 0);
    CHECK_EQ_INT(run(&t, in, 1, &out, 1), 0);
    CHECK(shape_is(out, 2, 1LL, 24LL));
    tfree(&out);
    /* Unsqueeze negative axes via input (13) and attribute (11), Squeeze back */
    in[1] = ivec(2, (int64_t)-1, (int64_t)0);
    tn_init(&t, "Unsqueeze", 13);
    CHECK_EQ_INT(run(&t, in, 2, &out, 1), 0);
    CHECK(shape_is(out, 5, 1LL, 2LL, 3LL, 4LL, 1LL));
    nn_tensor *sq[2] = { out, NULL }, *out2 = NULL;
    tn_init(&t, "Squeeze", 11);
    tn_ints(&t, "axes", 1, (int64_t)-1);
    CHECK_EQ_INT(run(&t, sq, 1, &out2, 1), 0);
    CHECK(shape_is(out2, 4, 1LL, 2LL, 3LL, 4LL));
    tfree(&out2);
    tn_init(&t, "Squeeze", 13); /* no axes: all 1s */
    CHECK_EQ_INT(run(&t, sq, 1, &out2, 1), 0);
    CHECK(shape_is(out2, 3, 2LL, 3LL, 4LL) && fat(out2, 5) == 5);
    tfree(&out2);
    tn_init(&t, "Squeeze", 11);
    tn_ints(&t, "axes", 1, (int64_t)1);
    CHECK_EQ_INT(run(&t, sq, 1, &out2, 1), FP_EMODEL);
    tfree(&out2);
    tfree(&out);
    tfree(&in[1]);
    /* Shape with start/end (15), Size */
    tn_init(&t, "Shape", 15);
    tn_int(&t, "start", -2);
    CHECK_EQ_INT(run(&t, in, 1, &out, 1), 0);
    CHECK(shape_is(out, 1, 2LL) && iat(out, 0) == 3 && iat(out, 1) == 4);
    tfree(&out);
    tn_init(&t, "Size", 13);
    CHECK_EQ_INT(run(&t, in, 1, &out, 1), 0);
    CHECK(out->ndim == 0 && iat(out, 0) == 24);
    tfree(&out);
    tfree(&in[0]);
}

static void test_movement(void)
{
    int64_t d[2] = { 2, 3 };
    float x[6] = { 1, 2, 3, 4, 5, 6 };
    nn_tensor *in[3] = { tf(2, d, x), NULL, NULL }, *out = NULL;
    tn t;
    /* Transpose default perm */
    tn_init(&t, "Transpose", 13);
    CHECK_EQ_INT(run(&t, in, 1, &out, 1), 0);
    CHECK(shape_is(out, 2, 3LL, 2LL) && fat(out, 1) == 4 && fat(out, 2) == 2);
    tfree(&out);
    /* Concat with a zero-size input, negative axis */
    int64_t dz[2] = { 2, 0 };
    nn_tensor *cin[3] = { in[0], tf(2, dz, NULL), in[0] };
    tn_init(&t, "Concat", 13);
    tn_int(&t, "axis", -1);
    CHECK_EQ_INT(run(&t, cin, 3, &out, 1), 0);
    CHECK(shape_is(out, 2, 2LL, 6LL) && fat(out, 3) == 1 && fat(out, 6) == 4 && fat(out, 11) == 6);
    tfree(&out);
    tfree(&cin[1]);
    /* Split: split input (13), zero-size part */
    nn_tensor *sin[2] = { in[0], ivec(3, (int64_t)2, (int64_t)0, (int64_t)1) }, *so[3] = { NULL, NULL, NULL };
    tn_init(&t, "Split", 13);
    tn_int(&t, "axis", 1);
    CHECK_EQ_INT(run(&t, sin, 2, so, 3), 0);
    CHECK(shape_is(so[0], 2, 2LL, 2LL) && shape_is(so[1], 2, 2LL, 0LL) && shape_is(so[2], 2, 2LL, 1LL));
    CHECK(fat(so[0], 2) == 4 && fat(so[2], 1) == 6);
    for (int k = 0; k < 3; k++)
        tfree(&so[k]);
    tfree(&sin[1]);
    /* Split num_outputs (18): 3 over 2 outputs -> 2, 1 */
    tn_init(&t, "Split", 18);
    tn_int(&t, "axis", 1);
    tn_int(&t, "num_outputs", 2);
    CHECK_EQ_INT(run(&t, sin, 1, so, 2), 0);
    CHECK(shape_is(so[0], 2, 2LL, 2LL) && shape_is(so[1], 2, 2LL, 1LL));
    for (int k = 0; k < 2; k++)
        tfree(&so[k]);
    /* Gather negative index, 2-D indices */
    int64_t gi[4] = { -1, 0, 1, 1 }, dgi[2] = { 2, 2 };
    nn_tensor *gin[2] = { in[0], ti64(2, dgi, gi) };
    tn_init(&t, "Gather", 13);
    tn_int(&t, "axis", 1);
    CHECK_EQ_INT(run(&t, gin, 2, &out, 1), 0);
    CHECK(shape_is(out, 3, 2LL, 2LL, 2LL) && fat(out, 0) == 3 && fat(out, 1) == 1 && fat(out, 4) == 6);
    tfree(&out);
    ((int64_t *)gin[1]->data)[0] = 3;
    tn_init(&t, "Gather", 13);
    tn_int(&t, "axis", 1);
    CHECK_EQ_INT(run(&t, gin, 2, &out, 1), FP_EINPUT);
    tfree(&out);
    tfree(&gin[1]);
    /* GatherElements */
    int64_t ge[4] = { 2, 0, -1, 1 };
    nn_tensor *gein[2] = { in[0], ti64(2, dgi, ge) };
    tn_init(&t, "GatherElements", 13);
    tn_int(&t, "axis", 1);
    CHECK_EQ_INT(run(&t, gein, 2, &out, 1), 0);
    CHECK(fat(out, 0) == 3 && fat(out, 1) == 1 && fat(out, 2) == 6 && fat(out, 3) == 5);
    tfree(&out);
    tfree(&gein[1]);
    /* Expand [2,3] to [2,1,3] -> [2,2,3]; Tile */
    nn_tensor *ein[2] = { in[0], ivec(3, (int64_t)2, (int64_t)1, (int64_t)3) };
    tn_init(&t, "Expand", 13);
    CHECK_EQ_INT(run(&t, ein, 2, &out, 1), 0);
    CHECK(shape_is(out, 3, 2LL, 2LL, 3LL) && fat(out, 3) == 4 && fat(out, 6) == 1);
    tfree(&out);
    tfree(&ein[1]);
    nn_tensor *tin[2] = { in[0], ivec(2, (int64_t)2, (int64_t)2) };
    tn_init(&t, "Tile", 13);
    CHECK_EQ_INT(run(&t, tin, 2, &out, 1), 0);
    CHECK(shape_is(out, 2, 4LL, 6LL) && fat(out, 3) == 1 && fat(out, 9) == 4 && fat(out, 12) == 1);
    tfree(&out);
    tfree(&tin[1]);
    /* Pad reflect / edge / constant with negative pad (crop) */
    nn_tensor *pin[3] = { in[0], ivec(4, (int64_t)0, (int64_t)2, (int64_t)0, (int64_t)1), NULL };
    tn_init(&t, "Pad", 13);
    tn_str(&t, "mode", "reflect");
    CHECK_EQ_INT(run(&t, pin, 2, &out, 1), 0);
    CHECK(shape_is(out, 2, 2LL, 6LL));
    CHECK(fat(out, 0) == 3 && fat(out, 1) == 2 && fat(out, 2) == 1 && fat(out, 5) == 2);
    tfree(&out);
    tn_init(&t, "Pad", 13);
    tn_str(&t, "mode", "edge");
    CHECK_EQ_INT(run(&t, pin, 2, &out, 1), 0);
    CHECK(fat(out, 0) == 1 && fat(out, 1) == 1 && fat(out, 5) == 3);
    tfree(&out);
    tfree(&pin[1]);
    float cv = 9;
    pin[1] = ivec(4, (int64_t)1, (int64_t)-1, (int64_t)0, (int64_t)0);
    pin[2] = tf(0, NULL, &cv);
    tn_init(&t, "Pad", 13);
    CHECK_EQ_INT(run(&t, pin, 3, &out, 1), 0);
    CHECK(shape_is(out, 2, 3LL, 2LL) && fat(out, 0) == 9 && fat(out, 2) == 2 && fat(out, 5) == 6);
    tfree(&out);
    tfree(&pin[1]);
    tfree(&pin[2]);
    /* Pad axes input (18) */
    nn_tensor *pa[4] = { in[0], ivec(2, (int64_t)1, (int64_t)0), NULL, ivec(1, (int64_t)-1) };
    tn_init(&t, "Pad", 18);
    CHECK_EQ_INT(run(&t, pa, 4, &out, 1), 0);
    CHECK(shape_is(out, 2, 2LL, 4LL) && fat(out, 0) == 0 && fat(out, 1) == 1);
    tfree(&out);
    tfree(&pa[1]);
    tfree(&pa[3]);
    tfree(&in[0]);
}

static void test_cast(void)
{
    int64_t d = 6;
    float x[6] = { 1.5f, -1.5f, 2.7f, -2.7f, 1e10f, NAN };
    nn_tensor *in[2] = { tf(1, &d, x), NULL }, *out = NULL;
    tn t;
    tn_init(&t, "Cast", 13);
    tn_int(&t, "to", NN_DT_INT32);
    CHECK_EQ_INT(run(&t, in, 1, &out, 1), 0);
    int32_t *o = out->data;
    CHECK(o[0] == 1 && o[1] == -1 && o[2] == 2 && o[3] == -2 && o[4] == INT32_MAX && o[5] == 0);
    tfree(&out);
    tn_init(&t, "Cast", 13);
    tn_int(&t, "to", NN_DT_BOOL);
    CHECK_EQ_INT(run(&t, in, 1, &out, 1), 0);
    CHECK(((uint8_t *)out->data)[0] == 1 && ((uint8_t *)out->data)[5] == 1);
    tfree(&out);
    tfree(&in[0]);
    /* float -> float16: 1 + 2^-11 is a tie, rounds to even (1.0); 1 + 3*2^-11 rounds up */
    float h[3] = { 1.0f + 1.0f / 2048, 1.0f + 3.0f / 2048, 70000.0f };
    int64_t d3 = 3;
    in[0] = tf(1, &d3, h);
    tn_init(&t, "Cast", 13);
    tn_int(&t, "to", NN_DT_FLOAT16);
    CHECK_EQ_INT(run(&t, in, 1, &out, 1), 0);
    uint16_t *ho = out->data;
    CHECK(ho[0] == 0x3c00 && ho[1] == 0x3c02 && ho[2] == 0x7c00);
    tfree(&out);
    tfree(&in[0]);
    /* double -> float16 rounds once: 1 + 2^-11 + 2^-40 is just above the tie, so it rounds up,
     * where rounding through float first (to 1 + 2^-11, a tie) would round down */
    double dv = 1.0 + 1.0 / 2048 + ldexp(1.0, -40);
    in[0] = tens(NN_DT_DOUBLE, 0, NULL, &dv);
    tn_init(&t, "Cast", 13);
    tn_int(&t, "to", NN_DT_FLOAT16);
    CHECK_EQ_INT(run(&t, in, 1, &out, 1), 0);
    CHECK(((uint16_t *)out->data)[0] == 0x3c01);
    tfree(&out);
    /* CastLike takes the target dtype from input 1 */
    int64_t one = 1;
    in[1] = ti64(1, &one, &one);
    tn_init(&t, "CastLike", 15);
    CHECK_EQ_INT(run(&t, in, 2, &out, 1), 0);
    CHECK(out->dtype == NN_DT_INT64 && iat(out, 0) == 1);
    tfree(&out);
    tn_init(&t, "Cast", 13);
    tn_int(&t, "to", NN_DT_STRING);
    CHECK_EQ_INT(run(&t, in, 1, &out, 1), FP_EUNSUPPORTED);
    tfree(&out);
    tfree(&in[0]);
    tfree(&in[1]);
}

static void test_generators(void)
{
    tn t;
    nn_tensor *out = NULL;
    nn_tensor *in[3];
    /* Range float and int, negative delta, empty */
    float s = 1, l = 2, dl = 0.25f;
    in[0] = tf(0, NULL, &s);
    in[1] = tf(0, NULL, &l);
    in[2] = tf(0, NULL, &dl);
    tn_init(&t, "Range", 11);
    CHECK_EQ_INT(run(&t, in, 3, &out, 1), 0);
    CHECK(shape_is(out, 1, 4LL) && fat(out, 3) == 1.75f);
    tfree(&out);
    for (int k = 0; k < 3; k++)
        tfree(&in[k]);
    int64_t a = 10, b = 4, c = -3;
    in[0] = ti64(0, NULL, &a);
    in[1] = ti64(0, NULL, &b);
    in[2] = ti64(0, NULL, &c);
    tn_init(&t, "Range", 11);
    CHECK_EQ_INT(run(&t, in, 3, &out, 1), 0);
    CHECK(shape_is(out, 1, 2LL) && iat(out, 0) == 10 && iat(out, 1) == 7);
    tfree(&out);
    ((int64_t *)in[2]->data)[0] = 3;
    tn_init(&t, "Range", 11);
    CHECK_EQ_INT(run(&t, in, 3, &out, 1), 0);
    CHECK(shape_is(out, 1, 0LL));
    tfree(&out);
    for (int k = 0; k < 3; k++)
        tfree(&in[k]);
    /* ConstantOfShape: default float 0, int64 value, zero-size shape */
    in[0] = ivec(2, (int64_t)2, (int64_t)3);
    tn_init(&t, "ConstantOfShape", 9);
    CHECK_EQ_INT(run(&t, in, 1, &out, 1), 0);
    CHECK(out->dtype == NN_DT_FLOAT && shape_is(out, 2, 2LL, 3LL) && fat(out, 5) == 0);
    tfree(&out);
    int64_t seven = 7;
    nn_tensor *val = ti64(1, &(int64_t){ 1 }, &seven);
    tn_init(&t, "ConstantOfShape", 9);
    tn_attr(&t, "value", NN_ATTR_TENSOR)->t = val;
    CHECK_EQ_INT(run(&t, in, 1, &out, 1), 0);
    CHECK(out->dtype == NN_DT_INT64 && iat(out, 4) == 7);
    tfree(&out);
    /* Constant from a tensor and from value_ints */
    tn_init(&t, "Constant", 13);
    tn_attr(&t, "value", NN_ATTR_TENSOR)->t = val;
    CHECK_EQ_INT(run(&t, NULL, 0, &out, 1), 0);
    CHECK(shape_is(out, 1, 1LL) && iat(out, 0) == 7);
    tfree(&out);
    tn_init(&t, "Constant", 13);
    tn_ints(&t, "value_ints", 3, (int64_t)4, (int64_t)5, (int64_t)6);
    CHECK_EQ_INT(run(&t, NULL, 0, &out, 1), 0);
    CHECK(out->dtype == NN_DT_INT64 && shape_is(out, 1, 3LL) && iat(out, 2) == 6);
    tfree(&out);
    tn_init(&t, "Constant", 13);
    tn_float(&t, "value_float", 2.5f);
    CHECK_EQ_INT(run(&t, NULL, 0, &out, 1), 0);
    CHECK(out->ndim == 0 && fat(out, 0) == 2.5f);
    tfree(&out);
    tfree(&val);
    tfree(&in[0]);
    /* Dropout at inference: identity plus an all-true mask; training mode refused */
    float x[2] = { 1, 2 };
    int64_t d2 = 2;
    nn_tensor *dr[3] = { tf(1, &d2, x), NULL, NULL }, *dout[2] = { NULL, NULL };
    tn_init(&t, "Dropout", 13);
    CHECK_EQ_INT(run(&t, dr, 1, dout, 2), 0);
    CHECK(fat(dout[0], 1) == 2 && dout[1]->dtype == NN_DT_BOOL && ((uint8_t *)dout[1]->data)[1] == 1);
    tfree(&dout[0]);
    tfree(&dout[1]);
    uint8_t tr = 1;
    float ratio = 0.5f;
    dr[1] = tf(0, NULL, &ratio);
    dr[2] = tens(NN_DT_BOOL, 0, NULL, &tr);
    tn_init(&t, "Dropout", 13);
    CHECK_EQ_INT(run(&t, dr, 3, dout, 1), FP_EUNSUPPORTED);
    tfree(&dout[0]);
    for (int k = 0; k < 3; k++)
        tfree(&dr[k]);
}

static void test_topk_nms(void)
{
    int64_t d[2] = { 2, 4 };
    float x[8] = { 3, 1, 3, 2, 0, 0, 5, 0 };
    nn_tensor *in[2] = { tf(2, d, x), ivec(1, (int64_t)2) }, *out[2] = { NULL, NULL };
    tn t;
    tn_init(&t, "TopK", 11);
    CHECK_EQ_INT(run(&t, in, 2, out, 2), 0);
    CHECK(shape_is(out[0], 2, 2LL, 2LL) && shape_is(out[1], 2, 2LL, 2LL));
    /* ties: lower index first */
    CHECK(iat(out[1], 0) == 0 && iat(out[1], 1) == 2 && iat(out[1], 2) == 2 && iat(out[1], 3) == 0);
    CHECK(fat(out[0], 0) == 3 && fat(out[0], 2) == 5 && fat(out[0], 3) == 0);
    tfree(&out[0]);
    tfree(&out[1]);
    tn_init(&t, "TopK", 11);
    tn_int(&t, "largest", 0);
    tn_int(&t, "axis", 0);
    CHECK_EQ_INT(run(&t, in, 2, out, 2), 0);
    CHECK(shape_is(out[0], 2, 2LL, 4LL) && iat(out[1], 0) == 1 && iat(out[1], 4) == 0);
    tfree(&out[0]);
    tfree(&out[1]);
    tfree(&in[1]);
    in[1] = ivec(1, (int64_t)5);
    tn_init(&t, "TopK", 11);
    CHECK_EQ_INT(run(&t, in, 2, out, 2), FP_EMODEL);
    tfree(&out[0]);
    tfree(&out[1]);
    tfree(&in[1]);
    tfree(&in[0]);

    /* NMS: two overlapping boxes and one apart, one class */
    float boxes[12] = { 0, 0, 1, 1, 0, 0.1f, 1, 1.1f, 0, 5, 1, 6 };
    float scores[3] = { 0.9f, 0.8f, 0.7f };
    int64_t db[3] = { 1, 3, 4 }, ds[3] = { 1, 1, 3 };
    int64_t mo = 3;
    float iou = 0.5f, st = 0.0f;
    nn_tensor *nin[5] = { tf(3, db, boxes), tf(3, ds, scores), ti64(0, NULL, &mo), tf(0, NULL, &iou),
                          tf(0, NULL, &st) };
    nn_tensor *no = NULL;
    tn_init(&t, "NonMaxSuppression", 11);
    CHECK_EQ_INT(run(&t, nin, 5, &no, 1), 0);
    CHECK(shape_is(no, 2, 2LL, 3LL) && iat(no, 2) == 0 && iat(no, 5) == 2);
    tfree(&no);
    /* max 1 per class */
    ((int64_t *)nin[2]->data)[0] = 1;
    tn_init(&t, "NonMaxSuppression", 11);
    CHECK_EQ_INT(run(&t, nin, 5, &no, 1), 0);
    CHECK(shape_is(no, 2, 1LL, 3LL));
    tfree(&no);
    /* unknown box values: the output size cannot be inferred */
    void *bd = nin[0]->data;
    nin[0]->data = NULL;
    tn_init(&t, "NonMaxSuppression", 11);
    CHECK_EQ_INT(run(&t, nin, 5, &no, 1), FP_EUNSUPPORTED);
    nin[0]->data = bd;
    tfree(&no);
    for (int k = 0; k < 5; k++)
        tfree(&nin[k]);
}

static void test_index_ops(void)
{
    tn t;
    nn_tensor *out = NULL;
    int64_t d[2] = { 3, 3 };
    float x[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
    nn_tensor *m = tf(2, d, x);
    /* Trilu lower with k = -1: strictly below the diagonal */
    nn_tensor *tin[2] = { m, ivec(1, (int64_t)-1) };
    tn_init(&t, "Trilu", 14);
    tn_int(&t, "upper", 0);
    CHECK_EQ_INT(run(&t, tin, 2, &out, 1), 0);
    CHECK(fat(out, 0) == 0 && fat(out, 3) == 4 && fat(out, 4) == 0 && fat(out, 7) == 8 && fat(out, 8) == 0);
    tfree(&out);
    tfree(&tin[1]);
    /* CumSum exclusive + reverse along axis 1 */
    int64_t ax = 1;
    nn_tensor *cin[2] = { m, ti64(0, NULL, &ax) };
    tn_init(&t, "CumSum", 14);
    tn_int(&t, "exclusive", 1);
    tn_int(&t, "reverse", 1);
    CHECK_EQ_INT(run(&t, cin, 2, &out, 1), 0);
    CHECK(fat(out, 0) == 5 && fat(out, 1) == 3 && fat(out, 2) == 0 && fat(out, 3) == 11);
    tfree(&out);
    tfree(&cin[1]);
    /* GatherND with batch_dims 1: per row pick one column */
    int64_t gi[3] = { 2, 0, -1 }, dgi[2] = { 3, 1 };
    nn_tensor *gin[2] = { m, ti64(2, dgi, gi) };
    tn_init(&t, "GatherND", 13);
    tn_int(&t, "batch_dims", 1);
    CHECK_EQ_INT(run(&t, gin, 2, &out, 1), 0);
    CHECK(shape_is(out, 1, 3LL) && fat(out, 0) == 3 && fat(out, 1) == 4 && fat(out, 2) == 9);
    tfree(&out);
    tfree(&gin[1]);
    /* ScatterND with add and a repeated index accumulates; out-of-range index fails cleanly */
    int64_t si[2] = { 1, 1 }, dsi[2] = { 2, 1 }, du[2] = { 2, 3 };
    float up[6] = { 1, 1, 1, 10, 10, 10 };
    nn_tensor *sin[3] = { m, ti64(2, dsi, si), tf(2, du, up) };
    tn_init(&t, "ScatterND", 16);
    tn_str(&t, "reduction", "add");
    CHECK_EQ_INT(run(&t, sin, 3, &out, 1), 0);
    CHECK(fat(out, 0) == 1 && fat(out, 3) == 15 && fat(out, 5) == 17);
    tfree(&out);
    ((int64_t *)sin[1]->data)[1] = 3;
    tn_init(&t, "ScatterND", 16);
    CHECK_EQ_INT(run(&t, sin, 3, &out, 1), FP_EINPUT);
    tfree(&out);
    for (int k = 1; k < 3; k++)
        tfree(&sin[k]);
    /* OneHot with a negative index and axis 0 */
    int64_t oi[2] = { -1, 1 }, d2 = 2, depth = 3;
    float vals[2] = { 0, 5 };
    nn_tensor *oin[3] = { ti64(1, &d2, oi), ti64(0, NULL, &depth), tf(1, &d2, vals) };
    tn_init(&t, "OneHot", 11);
    tn_int(&t, "axis", 0);
    CHECK_EQ_INT(run(&t, oin, 3, &out, 1), 0);
    CHECK(shape_is(out, 2, 3LL, 2LL) && fat(out, 3) == 5 && fat(out, 4) == 5 && fat(out, 0) == 0);
    tfree(&out);
    for (int k = 0; k < 3; k++)
        tfree(&oin[k]);
    tfree(&m);
}

static void test_einsum(void)
{
    tn t;
    nn_tensor *out = NULL;
    int64_t d[2] = { 3, 3 };
    float x[9] = { 1, 2, 3, 4, 5, 6, 7, 8, 9 };
    nn_tensor *m[1] = { tf(2, d, x) };
    tn_init(&t, "Einsum", 12);
    tn_str(&t, "equation", "ii->i");
    CHECK_EQ_INT(run(&t, m, 1, &out, 1), 0);
    CHECK(shape_is(out, 1, 3LL) && fat(out, 0) == 1 && fat(out, 1) == 5 && fat(out, 2) == 9);
    tfree(&out);
    tn_init(&t, "Einsum", 12);
    tn_str(&t, "equation", "ii"); /* implicit: trace, rank 0 */
    CHECK_EQ_INT(run(&t, m, 1, &out, 1), 0);
    CHECK(out->ndim == 0 && fat(out, 0) == 15);
    tfree(&out);
    tn_init(&t, "Einsum", 12);
    tn_str(&t, "equation", "ba"); /* implicit output is alphabetical: a transpose */
    CHECK_EQ_INT(run(&t, m, 1, &out, 1), 0);
    CHECK(fat(out, 1) == 4 && fat(out, 3) == 2);
    tfree(&out);
    /* batched matmul with a broadcast ellipsis: [2,1,2,3] x [3,2] */
    int64_t da[4] = { 2, 1, 2, 3 }, db[2] = { 3, 2 };
    float a[12], b[6] = { 1, 0, 0, 1, 1, 1 };
    for (int i = 0; i < 12; i++)
        a[i] = (float)i;
    nn_tensor *mm[2] = { tf(4, da, a), tf(2, db, b) };
    tn_init(&t, "Einsum", 12);
    tn_str(&t, "equation", "...ij,jk->...ik");
    CHECK_EQ_INT(run(&t, mm, 2, &out, 1), 0);
    CHECK(shape_is(out, 4, 2LL, 1LL, 2LL, 2LL));
    /* row [9,10,11] . columns [1,0,1], [0,1,1] */
    CHECK(fat(out, 6) == 20 && fat(out, 7) == 21);
    tfree(&out);
    tn_init(&t, "Einsum", 12);
    tn_str(&t, "equation", "ij,jk->iq");
    nn_tensor *mq[2] = { m[0], m[0] };
    CHECK_EQ_INT(run(&t, mq, 2, &out, 1), FP_EMODEL);
    CHECK(strstr(err.msg, "output label") != NULL);
    tfree(&out);
    tfree(&mm[0]);
    tfree(&mm[1]);
    tfree(&m[0]);
}

/* Hostile shape values fail infer with a message naming the node, never overflow or crash. */
static void test_bad_shapes(void)
{
    tn t;
    nn_tensor *out = NULL;
    int64_t d[2] = { 4, 4 };
    nn_tensor *x = tf(2, d, NULL);
    nn_tensor *tin[2] = { x, ivec(2, INT64_MAX / 2, (int64_t)3) };
    tn_init(&t, "Tile", 13);
    CHECK_EQ_INT(run(&t, tin, 2, &out, 1), FP_EMODEL);
    CHECK(strstr(err.msg, "(Tile)") != NULL);
    tfree(&out);
    tfree(&tin[1]);
    nn_tensor *pin[2] = { x, ivec(4, INT64_MAX, (int64_t)0, INT64_MAX, (int64_t)0) };
    tn_init(&t, "Pad", 13);
    CHECK_EQ_INT(run(&t, pin, 2, &out, 1), FP_EMODEL);
    tfree(&out);
    tfree(&pin[1]);
    nn_tensor *rin[2] = { x, ivec(2, INT64_MAX, (int64_t)-1) };
    tn_init(&t, "Reshape", 14);
    CHECK_EQ_INT(run(&t, rin, 2, &out, 1), FP_EMODEL);
    tfree(&out);
    tfree(&rin[1]);
    nn_tensor *cin[1] = { ivec(3, INT64_MAX, INT64_MAX, (int64_t)2) };
    tn_init(&t, "ConstantOfShape", 9);
    CHECK_EQ_INT(run(&t, cin, 1, &out, 1), FP_EMODEL);
    CHECK(strstr(err.msg, "overflow") != NULL);
    tfree(&out);
    tfree(&cin[0]);
    nn_tensor *uin[2] = { x, ivec(7, (int64_t)0, (int64_t)1, (int64_t)2, (int64_t)3, (int64_t)4, (int64_t)5,
                                  (int64_t)6) };
    tn_init(&t, "Unsqueeze", 13);
    CHECK(run(&t, uin, 2, &out, 1) < 0);
    tfree(&out);
    tfree(&uin[1]);
    nn_tensor *sin[5] = { x, ivec(1, (int64_t)0), ivec(1, INT64_MAX), ivec(1, (int64_t)0), ivec(1, INT64_MAX) };
    tn_init(&t, "Slice", 13);
    CHECK_EQ_INT(run(&t, sin, 5, &out, 1), 0);
    CHECK(shape_is(out, 2, 1LL, 4LL));
    tfree(&out);
    for (int k = 1; k < 5; k++)
        tfree(&sin[k]);
    tfree(&x);
}

/* ---- randomised differential tests against naive index-by-index references ---- */

static uint32_t rnd(uint32_t n)
{
    rng = rng * 1664525u + 1013904223u;
    return (rng >> 8) % n;
}

/* flat index into t of output coordinate c (right-aligned numpy broadcast) */
static int64_t bidx(const nn_tensor *t, const int64_t *c, int r)
{
    int64_t off = 0;
    for (int d = 0; d < t->ndim; d++) {
        int64_t cd = c[r - t->ndim + d];
        off = off * t->dims[d] + (t->dims[d] == 1 ? 0 : cd);
    }
    return off;
}

static void unravel(int64_t i, const nn_tensor *t, int64_t *c)
{
    for (int d = t->ndim - 1; d >= 0; d--) {
        c[d] = t->dims[d] ? i % t->dims[d] : 0;
        i = t->dims[d] ? i / t->dims[d] : 0;
    }
}

static nn_tensor *rand_tensor(int nd, const int64_t *dims)
{
    nn_tensor *t = tf(nd, dims, NULL);
    for (int64_t i = 0; i < nn_tensor_numel(t); i++)
        ((float *)t->data)[i] = (float)(int)rnd(9) - 4; /* small integers: exact sums */
    return t;
}

static void test_random_broadcast(void)
{
    static const char *ops[4] = { "Add", "Mul", "Max", "Less" };
    int bad = 0, cases = 0;
    printf("random broadcast seed %u\n", rng);
    for (int it = 0; it < 300; it++) {
        int r = (int)rnd(6);
        int64_t full[NN_MAX_DIMS], da[NN_MAX_DIMS], db[NN_MAX_DIMS];
        for (int d = 0; d < r; d++)
            full[d] = rnd(10) == 0 ? 0 : 1 + rnd(5);
        int ra = r - (int)rnd(r + 1), rb = r - (int)rnd(r + 1);
        for (int d = 0; d < ra; d++)
            da[d] = rnd(3) == 0 ? 1 : full[r - ra + d];
        for (int d = 0; d < rb; d++)
            db[d] = rnd(3) == 0 ? 1 : full[r - rb + d];
        nn_tensor *in[2] = { rand_tensor(ra, da), rand_tensor(rb, db) }, *out = NULL;
        const char *op = ops[it % 4];
        tn t;
        tn_init(&t, op, 13);
        int ret = run(&t, in, 2, &out, 1);
        cases++;
        if (ret < 0) {
            bad++;
        } else {
            int64_t c[NN_MAX_DIMS];
            for (int64_t i = 0; i < nn_tensor_numel(out); i++) {
                unravel(i, out, c);
                float x = fat(in[0], bidx(in[0], c, out->ndim)), y = fat(in[1], bidx(in[1], c, out->ndim));
                double want = it % 4 == 0 ? x + y : it % 4 == 1 ? x * y : it % 4 == 2 ? (x > y ? x : y) : x < y;
                double got = it % 4 == 3 ? ((uint8_t *)out->data)[i] : fat(out, i);
                if (got != want) {
                    bad++;
                    break;
                }
            }
        }
        tfree(&out);
        tfree(&in[0]);
        tfree(&in[1]);
    }
    CHECK_MSG(bad == 0, "%d of %d random broadcast cases wrong", bad, cases);
}

static void test_random_reduce(void)
{
    static const char *ops[3] = { "ReduceSum", "ReduceMax", "ReduceMean" };
    int bad = 0, cases = 0;
    for (int it = 0; it < 200; it++) {
        int r = 1 + (int)rnd(5), keep = (int)rnd(2);
        int64_t dims[NN_MAX_DIMS];
        for (int d = 0; d < r; d++)
            dims[d] = 1 + rnd(4);
        unsigned mask = rnd(1u << r);
        nn_tensor *x = rand_tensor(r, dims), *out = NULL;
        tn t;
        tn_init(&t, ops[it % 3], 11); /* axes attribute form for all three */
        int k = t.n.nattr;
        nn_attr *a = tn_attr(&t, "axes", NN_ATTR_INTS);
        for (int d = 0; d < r; d++)
            if (mask >> d & 1)
                t.ints[k][a->n++] = rnd(2) ? d : d - r; /* negative axes too */
        a->ints = t.ints[k];
        tn_int(&t, "keepdims", keep);
        nn_tensor *in[1] = { x };
        cases++;
        if (run(&t, in, 1, &out, 1) < 0) {
            bad++;
            goto next;
        }
        /* naive: walk the input, fold into the output cell its kept coordinates select */
        int64_t on = nn_tensor_numel(out), want_on = 1;
        for (int d = 0; d < r; d++)
            if (!(mask == 0 || (mask >> d & 1)))
                want_on *= dims[d];
        if (on != want_on) {
            char sb[64];
            fprintf(stderr, "reduce case %d: %s mask %x of %s gave %lld elements, want %lld\n", it, ops[it % 3], mask,
                    nn_shape_str(x, sb, sizeof(sb)), (long long)on, (long long)want_on);
            bad++;
            goto next;
        }
        double *acc = calloc((size_t)on, sizeof(double)), *cnt = calloc((size_t)on, sizeof(double));
        for (int64_t o = 0; o < on; o++)
            acc[o] = it % 3 == 1 ? -INFINITY : 0;
        int64_t c[NN_MAX_DIMS];
        for (int64_t i = 0; i < nn_tensor_numel(x); i++) {
            unravel(i, x, c);
            int64_t o = 0;
            for (int d = 0; d < r; d++) {
                int red = mask == 0 || (mask >> d & 1);
                if (!red)
                    o = o * dims[d] + c[d];
            }
            float v = fat(x, i);
            acc[o] = it % 3 == 1 ? (v > acc[o] ? v : acc[o]) : acc[o] + v;
            cnt[o]++;
        }
        for (int64_t o = 0; o < on; o++) {
            double want = it % 3 == 2 ? acc[o] / cnt[o] : acc[o];
            if (fabs(fat(out, o) - want) > 1e-5) {
                bad++;
                break;
            }
        }
        /* the output rank follows keepdims */
        int nred = 0;
        for (int d = 0; d < r; d++)
            nred += mask == 0 || (mask >> d & 1);
        if (out->ndim != (keep ? r : r - nred))
            bad++;
        free(acc);
        free(cnt);
    next:
        tfree(&out);
        tfree(&x);
    }
    CHECK_MSG(bad == 0, "%d of %d random reduction cases wrong", bad, cases);
}

static void test_random_slice_transpose(void)
{
    int bad = 0, cases = 0;
    for (int it = 0; it < 200; it++) {
        int r = 1 + (int)rnd(4);
        int64_t dims[NN_MAX_DIMS];
        for (int d = 0; d < r; d++)
            dims[d] = 1 + rnd(6);
        nn_tensor *x = rand_tensor(r, dims), *out = NULL;
        for (int64_t i = 0; i < nn_tensor_numel(x); i++)
            ((float *)x->data)[i] = (float)i;
        tn t;
        cases++;
        if (it % 2) {
            /* Transpose with a random permutation */
            int perm[NN_MAX_DIMS];
            for (int d = 0; d < r; d++)
                perm[d] = d;
            for (int d = r - 1; d > 0; d--) {
                int j = (int)rnd(d + 1), tmp = perm[d];
                perm[d] = perm[j];
                perm[j] = tmp;
            }
            tn_init(&t, "Transpose", 13);
            int k = t.n.nattr;
            nn_attr *a = tn_attr(&t, "perm", NN_ATTR_INTS);
            for (int d = 0; d < r; d++)
                t.ints[k][d] = perm[d];
            a->ints = t.ints[k];
            a->n = r;
            nn_tensor *in[1] = { x };
            if (run_det(&t, in, 1, &out) < 0) {
                bad++;
            } else {
                int64_t c[NN_MAX_DIMS], xc[NN_MAX_DIMS];
                for (int64_t i = 0; i < nn_tensor_numel(out); i++) {
                    unravel(i, out, c);
                    for (int d = 0; d < r; d++)
                        xc[perm[d]] = c[d];
                    int64_t off = 0;
                    for (int d = 0; d < r; d++)
                        off = off * dims[d] + xc[d];
                    if (fat(out, i) != (float)off) {
                        bad++;
                        break;
                    }
                }
            }
        } else {
            /* Slice on every axis with random (possibly out-of-range) starts/ends and +-steps */
            int64_t st[NN_MAX_DIMS], en[NN_MAX_DIMS], sp[NN_MAX_DIMS], ax[NN_MAX_DIMS];
            for (int d = 0; d < r; d++) {
                ax[d] = d;
                st[d] = (int64_t)rnd(2 * dims[d] + 5) - dims[d] - 2;
                en[d] = (int64_t)rnd(2 * dims[d] + 5) - dims[d] - 2;
                sp[d] = rnd(2) ? 1 + rnd(3) : -1 - (int64_t)rnd(3);
            }
            int64_t rr = r;
            nn_tensor *in[5] = { x, ti64(1, &rr, st), ti64(1, &rr, en), ti64(1, &rr, ax), ti64(1, &rr, sp) };
            tn_init(&t, "Slice", 13);
            if (run(&t, in, 5, &out, 1) < 0) {
                bad++;
            } else {
                /* reference from the spec's wording: list the selected indices per axis. Note a
                 * negative step with a start below -dim starts at 0 (the spec clamps the adjusted
                 * start to [0, dim-1]) where Python's slicing would select nothing. */
                int64_t sel[NN_MAX_DIMS][16], ns[NN_MAX_DIMS];
                for (int d = 0; d < r; d++) {
                    int64_t n = dims[d], s = st[d], e = en[d], step = sp[d];
                    s = s < 0 ? s + n : s;
                    e = e < 0 ? e + n : e;
                    if (step > 0) {
                        s = s < 0 ? 0 : s > n ? n : s;
                        e = e < 0 ? 0 : e > n ? n : e;
                    } else {
                        s = s < 0 ? 0 : s > n - 1 ? n - 1 : s;
                        e = e < -1 ? -1 : e > n - 1 ? n - 1 : e;
                    }
                    ns[d] = 0;
                    for (int64_t v = s; step > 0 ? v < e : v > e; v += step)
                        sel[d][ns[d]++] = v;
                }
                int ok = out->ndim == r;
                for (int d = 0; ok && d < r; d++)
                    ok = out->dims[d] == ns[d];
                int64_t c[NN_MAX_DIMS];
                for (int64_t i = 0; ok && i < nn_tensor_numel(out); i++) {
                    unravel(i, out, c);
                    int64_t off = 0;
                    for (int d = 0; d < r; d++)
                        off = off * dims[d] + sel[d][c[d]];
                    ok = fat(out, i) == (float)off;
                }
                if (!ok) {
                    char sb[64], so[64];
                    fprintf(stderr, "slice case %d: x %s -> %s:", it, nn_shape_str(x, sb, 64), nn_shape_str(out, so, 64));
                    for (int d = 0; d < r; d++)
                        fprintf(stderr, " [%lld:%lld:%lld]->%lld", (long long)st[d], (long long)en[d], (long long)sp[d],
                                (long long)ns[d]);
                    fprintf(stderr, "\n");
                }
                bad += !ok;
            }
            for (int k = 1; k < 5; k++)
                tfree(&in[k]);
        }
        tfree(&out);
        tfree(&x);
    }
    CHECK_MSG(bad == 0, "%d of %d random slice/transpose cases wrong", bad, cases);
}

/* float16/bfloat16 elementwise results must equal narrow(float32 op(widen(x))) bit for bit, on
 * broadcast shapes longer than the 256-element conversion chunks. */
static void test_half_paths(void)
{
    static const char *bin_ops[6] = { "Add", "Mul", "Div", "Max", "Less", "PRelu" };
    static const char *un_ops[5] = { "Sigmoid", "Tanh", "Relu", "Exp", "HardSwish" };
    int64_t da[2] = { 3, 700 }, db[2] = { 3, 1 };
    int bad = 0;
    for (int h = 0; h < 2; h++) {
        nn_dtype ht = h ? NN_DT_BFLOAT16 : NN_DT_FLOAT16;
        uint16_t ha[2100], hb[3];
        float fa[2100], fb[3];
        for (int i = 0; i < 2100; i++) {
            float v = frand() * 4;
            ha[i] = h ? nn_f32_to_bf16(v) : nn_f32_to_f16(v);
            fa[i] = h ? nn_bf16_to_f32(ha[i]) : nn_f16_to_f32(ha[i]);
        }
        for (int i = 0; i < 3; i++) {
            float v = frand() + 1.5f;
            hb[i] = h ? nn_f32_to_bf16(v) : nn_f32_to_f16(v);
            fb[i] = h ? nn_bf16_to_f32(hb[i]) : nn_f16_to_f32(hb[i]);
        }
        nn_tensor *hin[2] = { tens(ht, 2, da, ha), tens(ht, 2, db, hb) };
        nn_tensor *fin[2] = { tf(2, da, fa), tf(2, db, fb) };
        for (int o = 0; o < 11; o++) {
            int unary = o >= 6;
            const char *op = unary ? un_ops[o - 6] : bin_ops[o];
            nn_tensor *ho = NULL, *fo = NULL;
            tn t;
            tn_init(&t, op, 14);
            int r1 = run(&t, hin, unary ? 1 : 2, &ho, 1);
            int r2 = run(&t, fin, unary ? 1 : 2, &fo, 1);
            if (r1 < 0 || r2 < 0 || ho->dtype != (strcmp(op, "Less") ? ht : NN_DT_BOOL)) {
                bad++;
            } else {
                for (int64_t i = 0; i < nn_tensor_numel(fo); i++) {
                    int ok;
                    if (ho->dtype == NN_DT_BOOL) {
                        ok = ((uint8_t *)ho->data)[i] == ((uint8_t *)fo->data)[i];
                    } else {
                        uint16_t want = h ? nn_f32_to_bf16(fat(fo, i)) : nn_f32_to_f16(fat(fo, i));
                        ok = ((uint16_t *)ho->data)[i] == want;
                    }
                    if (!ok) {
                        fprintf(stderr, "%s %s element %lld differs\n", h ? "bfloat16" : "float16", op, (long long)i);
                        bad++;
                        break;
                    }
                }
            }
            tfree(&ho);
            tfree(&fo);
        }
        for (int k = 0; k < 2; k++) {
            tfree(&hin[k]);
            tfree(&fin[k]);
        }
    }
    CHECK_MSG(bad == 0, "%d half-precision mismatches", bad);
}

static void test_quant_window_nonzero(void)
{
    tn t;
    nn_tensor *out = NULL;
    /* per-axis QuantizeLinear, ties to even, saturation; DequantizeLinear back */
    int64_t d[2] = { 2, 3 }, d2 = 2;
    float x[6] = { 0.5f, 1.5f, 2.5f, -100, 100, 3 };
    float sc[2] = { 1, 0.5f };
    uint8_t zp[2] = { 0, 10 };
    nn_tensor *in[3] = { tf(2, d, x), tf(1, &d2, sc), tens(NN_DT_UINT8, 1, &d2, zp) };
    tn_init(&t, "QuantizeLinear", 13);
    tn_int(&t, "axis", 0);
    CHECK_EQ_INT(run(&t, in, 3, &out, 1), 0);
    uint8_t *q = out->data;
    CHECK(out->dtype == NN_DT_UINT8 && q[0] == 0 && q[1] == 2 && q[2] == 2 && q[3] == 0 && q[4] == 210 && q[5] == 16);
    nn_tensor *dq = NULL, *din[3] = { out, in[1], in[2] };
    tn_init(&t, "DequantizeLinear", 13);
    tn_int(&t, "axis", 0);
    CHECK_EQ_INT(run(&t, din, 3, &dq, 1), 0);
    CHECK(fat(dq, 1) == 2 && fat(dq, 4) == 100 && fat(dq, 5) == 3);
    tfree(&dq);
    tfree(&out);
    for (int k = 0; k < 3; k++)
        tfree(&in[k]);
    /* HannWindow symmetric of 5: 0, .5, 1, .5, 0 */
    int64_t five = 5;
    nn_tensor *win[1] = { ti64(0, NULL, &five) };
    tn_init(&t, "HannWindow", 17);
    tn_int(&t, "periodic", 0);
    CHECK_EQ_INT(run(&t, win, 1, &out, 1), 0);
    CHECK(shape_is(out, 1, 5LL));
    CHECK_NEAR(fat(out, 0), 0, 1e-7);
    CHECK_NEAR(fat(out, 1), 0.5, 1e-7);
    CHECK_NEAR(fat(out, 2), 1, 1e-7);
    tfree(&out);
    tfree(&win[0]);
    /* NonZero: coordinates column by column; refused without values */
    float nz[6] = { 0, 3, 0, 0, 0, -1 };
    nn_tensor *nin[1] = { tf(2, d, nz) };
    tn_init(&t, "NonZero", 13);
    CHECK_EQ_INT(run(&t, nin, 1, &out, 1), 0);
    CHECK(shape_is(out, 2, 2LL, 2LL) && iat(out, 0) == 0 && iat(out, 1) == 1 && iat(out, 2) == 1 && iat(out, 3) == 2);
    tfree(&out);
    void *saved = nin[0]->data;
    nin[0]->data = NULL;
    tn_init(&t, "NonZero", 13);
    CHECK_EQ_INT(run(&t, nin, 1, &out, 1), FP_EUNSUPPORTED);
    nin[0]->data = saved;
    tfree(&out);
    /* Compress along axis 1 with a short condition, and flattened */
    uint8_t cond[2] = { 0, 1 };
    nn_tensor *cin[2] = { nin[0], tens(NN_DT_BOOL, 1, &d2, cond) };
    tn_init(&t, "Compress", 11);
    tn_int(&t, "axis", 1);
    CHECK_EQ_INT(run(&t, cin, 2, &out, 1), 0);
    CHECK(shape_is(out, 2, 2LL, 1LL) && fat(out, 0) == 3 && fat(out, 1) == 0);
    tfree(&out);
    tn_init(&t, "Compress", 11);
    CHECK_EQ_INT(run(&t, cin, 2, &out, 1), 0);
    CHECK(shape_is(out, 1, 1LL) && fat(out, 0) == 3);
    tfree(&out);
    tfree(&cin[1]);
    tfree(&nin[0]);
}

static void test_unique(void)
{
    tn t;
    float x[7] = { 3, 1, 3, 2, 1, 3, 0 };
    int64_t d = 7, z = 0;
    nn_tensor *in[1] = { tf(1, &d, x) }, *out[4] = { NULL, NULL, NULL, NULL };
    tn_init(&t, "Unique", 11);
    tn_int(&t, "sorted", 0);
    CHECK_EQ_INT(run(&t, in, 1, out, 4), 0);
    /* first-occurrence order: 3, 1, 2, 0 */
    CHECK(shape_is(out[0], 1, 4LL) && fat(out[0], 0) == 3 && fat(out[0], 1) == 1 && fat(out[0], 3) == 0);
    CHECK(iat(out[1], 0) == 0 && iat(out[1], 1) == 1 && iat(out[1], 2) == 3 && iat(out[1], 3) == 6);
    CHECK(iat(out[2], 2) == 0 && iat(out[2], 4) == 1 && iat(out[2], 6) == 3);
    CHECK(iat(out[3], 0) == 3 && iat(out[3], 1) == 2 && iat(out[3], 2) == 1);
    for (int k = 0; k < 4; k++)
        tfree(&out[k]);
    tn_init(&t, "Unique", 11);
    CHECK_EQ_INT(run(&t, in, 1, out, 4), 0);
    CHECK(fat(out[0], 0) == 0 && fat(out[0], 3) == 3 && iat(out[1], 0) == 6 && iat(out[2], 0) == 3);
    for (int k = 0; k < 4; k++)
        tfree(&out[k]);
    tfree(&in[0]);
    in[0] = tf(1, &z, NULL);
    tn_init(&t, "Unique", 11);
    CHECK_EQ_INT(run(&t, in, 1, out, 4), 0);
    CHECK(shape_is(out[0], 1, 0LL) && shape_is(out[2], 1, 0LL));
    for (int k = 0; k < 4; k++)
        tfree(&out[k]);
    tfree(&in[0]);
}

static void test_registry(void)
{
    int cnt = 0, dup = 0;
    for (int i = 0; nn_ops_group_a[i]; i++) {
        cnt++;
        CHECK(nn_ops_group_a[i]->infer && nn_ops_group_a[i]->cpu);
        for (int j = 0; j < i; j++)
            dup |= !strcmp(nn_ops_group_a[i]->op_type, nn_ops_group_a[j]->op_type);
    }
    CHECK(dup == 0);
    CHECK(cnt >= 60);
}

int main(void)
{
    test_registry();
    test_add_broadcast();
    test_per_channel_and_scalar();
    test_int_arith();
    test_compare_where_logic();
    test_unary();
    test_pow_variadic();
    test_softmax_semantics();
    test_softmax_paths();
    test_reduce();
    test_slice();
    test_reshape_family();
    test_movement();
    test_cast();
    test_generators();
    test_topk_nms();
    test_index_ops();
    test_einsum();
    test_bad_shapes();
    test_random_broadcast();
    test_random_reduce();
    test_random_slice_transpose();
    test_half_paths();
    test_quant_window_nonzero();
    test_unique();
    return fp_test_finish("nn.ops_a");
}
