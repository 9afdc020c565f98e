/*
 * test_half — the runtime's half-storage rewrite (fp_model_opts.fp16 / .bf16 on a device backend),
 * checked without a GPU through "halfdev": a backend that claims device memory (NN_DEV_CUDA), keeps it
 * in host RAM and runs the CPU kernels, widening float16/bfloat16 tensors to float32 around them (as the
 * CUDA kernels do in registers) and storing outputs in the dtype the runtime gave them.
 *
 * Checked: which dtypes the backend is handed (every non-constant float tensor of a step in half, the
 * constants float32 on the host), the boundary Cast steps (one per float32 input and output, none for
 * a half input the caller gives), half output buffers filled from the half twin, the fallback to a
 * float32 plan when the backend refuses a node in half storage, no rewrite on the CPU backend or without
 * the option, and results within half precision of the CPU backend's float32 results.
 *
 * Owns: these checks and halfdev. Does not own the runtime (src/nn/nn_runtime.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "framepipe.h"
#include "fp_test.h"
#include "nn/nn_backend.h"
#include "nn/nn_cpu.h"

static const char *dir = FP_NN_MODELS_DIR;

struct nn_backend_ctx {
    nn_cpu_ctx *cpu;
    int runs, casts, half_runs, f32_runs, const_not_f32, host_activations;
    uint64_t last_key;
};

static nn_backend_ctx seen;          /* counters of the last freed instance */
static nn_backend_ctx *live;         /* the instance made last */
static const char *refuse_in_half;   /* op halfdev refuses when given half tensors */

static int hd_init(nn_backend_ctx **c, const nn_backend_opts *o, fp_err *e)
{
    *c = calloc(1, sizeof(**c));
    if (!*c)
        return FP_ENOMEM;
    live = *c;
    return nn_cpu_ctx_create(&(*c)->cpu, 1, e);
}

static void hd_free(nn_backend_ctx *c)
{
    if (!c)
        return;
    nn_cpu_ctx_freep(&c->cpu);
    seen = *c;
    free(c);
}

static int is_half(nn_dtype d)
{
    return d == NN_DT_FLOAT16 || d == NN_DT_BFLOAT16;
}

static int hd_supports(nn_backend_ctx *c, const nn_node *n, nn_tensor *const *in, int nin, nn_tensor *const *out,
                       int nout, const char **why)
{
    int half = 0;
    for (int i = 0; i < nin; i++)
        half |= in[i] && is_half(in[i]->dtype);
    for (int i = 0; i < nout; i++)
        half |= out[i] && is_half(out[i]->dtype);
    if (half && refuse_in_half && !strcmp(n->op_type, refuse_in_half)) {
        *why = "halfdev refuses this op in half storage";
        return 0;
    }
    return n->def && n->def->cpu != NULL;
}

static int hd_alloc(nn_backend_ctx *c, size_t bytes, void **p, fp_err *e)
{
    *p = malloc(bytes ? bytes : 1);
    return *p ? 0 : FP_ENOMEM;
}

static void hd_free_mem(nn_backend_ctx *c, void *p)
{
    free(p);
}

static int hd_copy(nn_backend_ctx *c, void *dst, nn_device dd, const void *src, nn_device sd, size_t n, fp_err *e)
{
    memmove(dst, src, n);
    return 0;
}

static void widen(const nn_tensor *h, float *f)
{
    int64_t n = nn_tensor_numel(h);
    const uint16_t *s = h->data;
    for (int64_t i = 0; i < n; i++)
        f[i] = h->dtype == NN_DT_FLOAT16 ? nn_f16_to_f32(s[i]) : nn_bf16_to_f32(s[i]);
}

static void narrow(const float *f, nn_tensor *h)
{
    int64_t n = nn_tensor_numel(h);
    uint16_t *d = h->data;
    for (int64_t i = 0; i < n; i++)
        d[i] = h->dtype == NN_DT_FLOAT16 ? nn_f32_to_f16(f[i]) : nn_f32_to_bf16(f[i]);
}

static int hd_run(nn_backend_ctx *c, const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                  fp_err *e)
{
    nn_tensor w[16], *win[16], *wout[16];
    int ret = 0, half = 0;
    c->runs++;
    if (nin > 8 || nout > 8)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "halfdev: too many inputs");
    for (int i = 0; i < nin; i++) {
        if (!in[i])
            continue;
        if (in[i]->device == NN_DEV_HOST && in[i]->data && in[i]->dtype != NN_DT_FLOAT &&
            (in[i]->dtype == NN_DT_FLOAT16 || in[i]->dtype == NN_DT_BFLOAT16))
            c->const_not_f32++;
        half |= is_half(in[i]->dtype);
    }
    if (!strcmp(n->op_type, "Cast")) {
        c->casts++;
        return n->def->cpu(n, in, nin, out, nout, c->cpu, e);
    }
    for (int i = 0; i < nout; i++)
        half |= out[i] && is_half(out[i]->dtype);
    if (half)
        c->half_runs++;
    else
        c->f32_runs++;
    memset(w, 0, sizeof(w));
    for (int i = 0; i < nin + nout && ret >= 0; i++) {
        nn_tensor *t = i < nin ? in[i] : out[i - nin];
        nn_tensor **slot = i < nin ? &win[i] : &wout[i - nin];
        *slot = t;
        if (!t || !is_half(t->dtype))
            continue;
        w[i] = *t;
        w[i].dtype = NN_DT_FLOAT;
        w[i].data = NULL;
        w[i].owned = 0;
        if (nn_tensor_alloc(&w[i]) < 0) {
            ret = FP_ENOMEM;
            break;
        }
        if (i < nin)
            widen(t, w[i].data);
        *slot = &w[i];
    }
    if (ret >= 0)
        ret = n->def->cpu(n, win, nin, wout, nout, c->cpu, e);
    nn_cpu_ctx_scratch_reset(c->cpu);
    for (int i = 0; i < nout && ret >= 0; i++)
        if (wout[i] != out[i])
            narrow(wout[i]->data, out[i]);
    for (int i = 0; i < nin + nout; i++)
        nn_tensor_free(&w[i]);
    return ret;
}

/* Capture hooks: only the key matters here (a new one means "capture again"). */
static int hd_begin(nn_backend_ctx *c, uint64_t key, fp_err *e)
{
    c->last_key = key;
    return 0;
}

static int hd_end(nn_backend_ctx *c, uint64_t key, fp_err *e)
{
    return 0;
}

static int hd_sync(nn_backend_ctx *c, fp_err *e)
{
    return 0;
}

static const nn_backend halfdev = {
    .name = "halfdev", .device = NN_DEV_CUDA, .init = hd_init, .free = hd_free, .supports_op = hd_supports,
    .alloc = hd_alloc, .free_mem = hd_free_mem, .copy = hd_copy, .run_node = hd_run, .sync = hd_sync,
    .run_begin = hd_begin, .run_end = hd_end,
};

#define N_IN (1 * 3 * 8 * 8)
#define N_OUT (1 * 4 * 16 * 16)

static float x32[N_IN], ref[N_OUT];

static void set_in(fp_tensor *t, fp_dtype dt, void *data)
{
    memset(t, 0, sizeof(*t));
    t->dtype = dt;
    t->ndim = 4;
    t->dims[0] = 1, t->dims[1] = 3, t->dims[2] = 8, t->dims[3] = 8;
    t->data = data;
    t->device = FP_DEVICE_HOST;
}

static double max_err(const fp_tensor *o)
{
    double m = 0;
    for (int i = 0; i < N_OUT; i++) {
        const uint16_t *h = o->data;
        double v = o->dtype == FP_DTYPE_FLOAT32 ? ((const float *)o->data)[i]
                 : o->dtype == FP_DTYPE_FLOAT16 ? nn_f16_to_f32(h[i]) : nn_bf16_to_f32(h[i]);
        m = fmax(m, isfinite(v) ? fabs(v - ref[i]) : INFINITY);
    }
    return m;
}

/* Load real_fp32.onnx on backend with opts, run x (dtype dt), return the model's stats. */
static int run_real(const char *backend, int fp16, int bf16, fp_dtype in_dt, const void *in_data, fp_tensor *out,
                    fp_model_stats *st, fp_err *e)
{
    char p[1024];
    snprintf(p, sizeof(p), "%s/real_fp32.onnx", dir);
    fp_model_opts o = { .backend = backend, .threads = 1, .fp16 = fp16, .bf16 = bf16 };
    fp_model *m = NULL;
    fp_tensor in;
    set_in(&in, in_dt, (void *)in_data);
    int ret = fp_model_load(p, &o, &m, e);
    if (ret == 0)
        ret = fp_model_run(m, &in, 1, out, 1, e);
    if (ret == 0)
        fp_model_get_stats(m, st);
    fp_model_freep(&m);
    return ret;
}

int main(void)
{
    fp_err e = { 0 };
    fp_model_stats st;
    CHECK(nn_backend_register(&halfdev) == 0);
    for (int i = 0; i < N_IN; i++)
        x32[i] = (float)sin(i * 0.37) * 2.0f;

    /* Reference: the CPU backend in float32; the fp16 option changes nothing there. */
    fp_tensor o = { 0 };
    CHECK(run_real("cpu", 1, 0, FP_DTYPE_FLOAT32, x32, &o, &st, &e) == 0);
    CHECK(o.dtype == FP_DTYPE_FLOAT32);
    CHECK_EQ_INT(st.last_plan_storage, FP_DTYPE_FLOAT32);
    CHECK_EQ_INT(st.last_plan_casts, 0);
    /* work counts: FusedConv [1,3,8,8] * W[4,3,3,3] -> [1,4,8,8] is 2*256*27 FLOPs; bytes of every
     * step's tensors: FusedConv 768+432+16+1024, Resize 1024+16+4096, Add 4096+16+4096, Softmax 2*4096 */
    CHECK(st.last_plan_flops == 13824.0);
    CHECK(st.last_plan_bytes == 23776.0);
    if (o.data)
        memcpy(ref, o.data, sizeof(ref));
    fp_tensor_free(&o);

    /* halfdev without the option: float32 storage, no casts, same numbers. */
    memset(&o, 0, sizeof(o));
    CHECK(run_real("halfdev", 0, 0, FP_DTYPE_FLOAT32, x32, &o, &st, &e) == 0);
    CHECK_EQ_INT(st.last_plan_storage, FP_DTYPE_FLOAT32);
    CHECK_EQ_INT(st.last_plan_casts, 0);
    CHECK_EQ_INT(seen.half_runs, 0);
    CHECK(o.data && max_err(&o) < 1e-6);
    fp_tensor_free(&o);

    /* fp16: every step but the boundary casts computes on half tensors; input and output cast added;
     * the caller still gets float32 out; constants reach the backend as float32 host tensors. */
    memset(&o, 0, sizeof(o));
    CHECK(run_real("halfdev", 1, 0, FP_DTYPE_FLOAT32, x32, &o, &st, &e) == 0);
    CHECK_EQ_INT(st.last_plan_storage, FP_DTYPE_FLOAT16);
    CHECK_EQ_INT(st.last_plan_casts, 2);
    /* Conv+Relu are one FusedConv (nn_fuse.c): 4 model steps, plus the 2 casts */
    CHECK_EQ_INT(st.fused, 1);
    CHECK_EQ_INT(st.last_plan_steps, 4 + 2);
    /* half storage halves the activation bytes; the casts add theirs; weights stay float32 */
    CHECK(st.last_plan_flops == 13824.0);
    CHECK(st.last_plan_bytes == (768 + 384) + (384 + 432 + 16 + 512) + (512 + 16 + 2048) + (2048 + 16 + 2048) +
                                (2048 + 2048) + (2048 + 4096));
    CHECK_EQ_INT(seen.casts, 2);
    CHECK_EQ_INT(seen.half_runs, 4);
    CHECK_EQ_INT(seen.f32_runs, 0);
    CHECK_EQ_INT(seen.const_not_f32, 0);
    CHECK(o.dtype == FP_DTYPE_FLOAT32);
    double err16 = o.data ? max_err(&o) : INFINITY;
    printf("fp16 storage: max |fp16 - fp32| = %.3g\n", err16);
    /* softmax of conv outputs up to ~10: fp16 rounding of the logits shows (~5e-3) but stays small */
    CHECK(err16 < 1e-2 && err16 > 0);
    fp_tensor_free(&o);

    /* bf16 wins over fp16 and is coarser. */
    memset(&o, 0, sizeof(o));
    CHECK(run_real("halfdev", 1, 1, FP_DTYPE_FLOAT32, x32, &o, &st, &e) == 0);
    CHECK_EQ_INT(st.last_plan_storage, FP_DTYPE_BFLOAT16);
    CHECK_EQ_INT(st.last_plan_casts, 2);
    double errbf = o.data ? max_err(&o) : INFINITY;
    printf("bf16 storage: max |bf16 - fp32| = %.3g\n", errbf);
    CHECK(errbf < 6e-2 && errbf > err16);
    fp_tensor_free(&o);

    /* A half input for the float32 input is taken as is (no input cast); a half output buffer is
     * filled from the half twin and the plan's output cast is skipped (it runs for float32 callers). */
    {
        static uint16_t x16[N_IN], y16[N_OUT];
        for (int i = 0; i < N_IN; i++)
            x16[i] = nn_f32_to_f16(x32[i]);
        memset(&o, 0, sizeof(o));
        o.dtype = FP_DTYPE_FLOAT16;
        o.ndim = 4;
        o.dims[0] = 1, o.dims[1] = 4, o.dims[2] = 16, o.dims[3] = 16;
        o.data = y16;
        o.device = FP_DEVICE_HOST;
        CHECK(run_real("halfdev", 1, 0, FP_DTYPE_FLOAT16, x16, &o, &st, &e) == 0);
        CHECK_EQ_INT(st.last_plan_storage, FP_DTYPE_FLOAT16);
        CHECK_EQ_INT(st.last_plan_casts, 1);
        CHECK_EQ_INT(seen.casts, 0); /* the output cast is skipped: the caller's buffer is half */
        double err = max_err(&o);
        printf("fp16 in, fp16 out: max err %.3g\n", err);
        CHECK(err < 1e-2);
        /* a bf16 input is refused for an fp16 model, naming the input */
        fp_err e2 = { 0 };
        memset(&o, 0, sizeof(o));
        CHECK(run_real("halfdev", 1, 0, FP_DTYPE_BFLOAT16, x16, &o, &st, &e2) == FP_EMODEL);
        CHECK(strstr(e2.msg, "input 'x'") != NULL);
        /* the CPU backend does not take half for float32 */
        fp_err_clear(&e2);
        CHECK(run_real("cpu", 1, 0, FP_DTYPE_FLOAT16, x16, &o, &st, &e2) == FP_EMODEL);
    }

    /* A node the backend refuses in half storage: the plan runs float32 (one warning), still right. */
    refuse_in_half = "Softmax";
    memset(&o, 0, sizeof(o));
    CHECK(run_real("halfdev", 1, 0, FP_DTYPE_FLOAT32, x32, &o, &st, &e) == 0);
    CHECK_EQ_INT(st.last_plan_storage, FP_DTYPE_FLOAT32);
    CHECK_EQ_INT(st.last_plan_casts, 0);
    CHECK_EQ_INT(seen.half_runs, 0);
    CHECK(o.data && max_err(&o) < 1e-6);
    fp_tensor_free(&o);
    refuse_in_half = NULL;

    /* Device inputs are read in place by a captured run: their address is part of the capture key
     * (same address, same key: replay; another address: another key). */
    {
        char p[1024];
        snprintf(p, sizeof(p), "%s/real_fp32.onnx", dir);
        fp_model_opts mo = { .backend = "halfdev", .fp16 = 1 };
        fp_model *m = NULL;
        static float xa[N_IN], xb[N_IN];
        memcpy(xa, x32, sizeof(xa));
        memcpy(xb, x32, sizeof(xb));
        fp_tensor in;
        uint64_t keys[4] = { 0 };
        CHECK(fp_model_load(p, &mo, &m, &e) == 0);
        for (int r = 0; r < 4 && m; r++) {
            set_in(&in, FP_DTYPE_FLOAT32, r & 1 ? xb : xa);
            in.device = FP_DEVICE_CUDA;
            memset(&o, 0, sizeof(o));
            CHECK(fp_model_run(m, &in, 1, &o, 1, &e) == 0);
            CHECK(o.data && max_err(&o) < 1e-2);
            fp_tensor_free(&o);
            keys[r] = live->last_key;
        }
        CHECK(keys[0] == keys[2]);
        CHECK(keys[1] == keys[3]);
        CHECK(keys[0] != keys[1]);
        /* a half output buffer skips the output Cast: another captured run */
        static uint16_t y16[N_OUT];
        set_in(&in, FP_DTYPE_FLOAT32, xa);
        in.device = FP_DEVICE_CUDA;
        memset(&o, 0, sizeof(o));
        o.dtype = FP_DTYPE_FLOAT16;
        o.ndim = 4;
        o.dims[0] = 1, o.dims[1] = 4, o.dims[2] = 16, o.dims[3] = 16;
        o.data = y16;
        CHECK(m && fp_model_run(m, &in, 1, &o, 1, &e) == 0);
        CHECK(live->last_key != keys[0] && live->last_key != keys[1]);
        CHECK(max_err(&o) < 1e-2);
        fp_model_freep(&m);
    }

    if (e.code)
        printf("last error: %s\n", e.msg);
    return fp_test_finish("test_nn_half");
}
