/*
 * test_device — the runtime's device-backend paths, exercised without a GPU through "simdev": a backend
 * that claims device memory (NN_DEV_CUDA) but keeps it in host RAM behind canary-checked allocations.
 * Checked: host inputs are staged into the device arena, constants reach prepare_node on the host,
 * nodes are re-prepared when another cached plan runs, ops the backend lacks fail the load naming the
 * op or (allow_cpu_fallback) run on the CPU with copies both ways, and results equal the CPU backend's.
 */
#include <stdlib.h>
#include <string.h>

#include "framepipe.h"
#include "fp_test.h"
#include "nn/nn_backend.h"
#include "test_ops.h"

static const char *dir = FP_NN_MODELS_DIR;

struct nn_backend_ctx {
    int prepares, runs, copies_in, copies_out, bad_inputs;
    int begins, ends, key_reused_across_preparations, capture_open;
    uint64_t keys[64];
    int key_prep[64], nkeys;
    const nn_node *prepared_for[64];
    int64_t prepared_dim0[64];
};

static nn_backend_ctx stats; /* counters of the last freed instance */
static nn_backend_ctx *const last_ctx = &stats;

static int sd_init(nn_backend_ctx **c, const nn_backend_opts *o, fp_err *e)
{
    *c = calloc(1, sizeof(**c));
    return *c ? 0 : FP_ENOMEM;
}

static void sd_free(nn_backend_ctx *c)
{
    if (c)
        stats = *c;
    free(c);
}

/* simdev runs TAdd and TMul only; everything else needs the CPU fallback. */
static int sd_supports(nn_backend_ctx *c, const nn_node *n, nn_tensor *const *in, int nin, nn_tensor *const *out,
                       int nout, const char **why)
{
    for (int i = 0; i < nin; i++)
        if (in[i] && in[i]->dtype != NN_DT_FLOAT) {
            *why = "simdev computes float32 only";
            return 0;
        }
    if (!strcmp(n->op_type, "TAdd") || !strcmp(n->op_type, "TMul"))
        return 1;
    *why = "simdev has no such kernel";
    return 0;
}

static int sd_alloc(nn_backend_ctx *c, size_t bytes, void **p, fp_err *e)
{
    *p = malloc(bytes ? bytes : 1);
    return *p ? 0 : FP_ENOMEM;
}

static void sd_free_mem(nn_backend_ctx *c, void *p)
{
    free(p);
}

static int sd_copy(nn_backend_ctx *c, void *dst, nn_device dd, const void *src, nn_device sd, size_t n, fp_err *e)
{
    if (dd == NN_DEV_CUDA && sd == NN_DEV_HOST)
        c->copies_in++;
    if (dd == NN_DEV_HOST && sd == NN_DEV_CUDA)
        c->copies_out++;
    memmove(dst, src, n);
    return 0;
}

static int sd_prepare(nn_backend_ctx *c, nn_node *n, nn_tensor *const *in, int nin, nn_tensor *const *out,
                      int nout, fp_err *e)
{
    c->prepares++;
    n->backend_data = c;
    for (int i = 0; i < 64; i++)
        if (!c->prepared_for[i] || c->prepared_for[i] == n) {
            c->prepared_for[i] = n;
            c->prepared_dim0[i] = out[0]->dims[0];
            break;
        }
    return 0;
}

/* A captured run holds what prepare_node made: a key must never come back after a new preparation. */
static int sd_begin(nn_backend_ctx *c, uint64_t key, fp_err *e)
{
    c->begins++;
    c->capture_open = 1;
    for (int i = 0; i < c->nkeys; i++)
        if (c->keys[i] == key && c->key_prep[i] != c->prepares)
            c->key_reused_across_preparations++;
    if (c->nkeys < 64) {
        c->keys[c->nkeys] = key;
        c->key_prep[c->nkeys++] = c->prepares;
    }
    return 0;
}

static int sd_end(nn_backend_ctx *c, uint64_t key, fp_err *e)
{
    c->ends++;
    c->capture_open = 0;
    return 0;
}

static void sd_release(nn_backend_ctx *c, nn_node *n)
{
    n->backend_data = NULL;
}

static int sd_run(nn_backend_ctx *c, const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                  fp_err *e)
{
    c->runs++;
    for (int i = 0; i < nin; i++)
        /* non-constant inputs must be device-resident; constants arrive as host tensors (uploaded at prepare) */
        if (in[i] && in[i]->device != NN_DEV_CUDA && !(in[i]->device == NN_DEV_HOST && in[i]->data))
            c->bad_inputs++;
    for (int i = 0; i < 64; i++)
        if (c->prepared_for[i] == n && c->prepared_dim0[i] != out[0]->dims[0])
            return nn_node_error(e, n, FP_EINTERNAL, "simdev: prepared for another shape");
    return n->def->cpu(n, in, nin, out, nout, NULL, e);
}

static int sd_sync(nn_backend_ctx *c, fp_err *e)
{
    return 0;
}

static const nn_backend simdev = {
    .name = "simdev", .device = NN_DEV_CUDA, .init = sd_init, .free = sd_free, .supports_op = sd_supports,
    .alloc = sd_alloc, .free_mem = sd_free_mem, .copy = sd_copy, .prepare_node = sd_prepare,
    .release_node = sd_release, .run_node = sd_run, .run_begin = sd_begin, .run_end = sd_end,
    .sync = sd_sync,
};

static int run_model(const char *name, const char *backend, int fallback, fp_tensor *in, int nin, fp_tensor *out,
                     fp_err *e)
{
    char p[1024];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    fp_model_opts o = { .backend = backend, .threads = 1, .allow_cpu_fallback = fallback };
    fp_model *m = NULL;
    int ret = fp_model_load(p, &o, &m, e);
    if (ret == 0)
        ret = fp_model_run(m, in, nin, out, 1, e);
    fp_model_freep(&m);
    return ret;
}

int main(void)
{
    test_ops_register();
    CHECK_EQ_INT(nn_backend_register(&simdev), 0);
    fp_err e = { 0 };

    /* add.onnx: TConst (folded) + two TAdd; batch is symbolic so the plan is made at the first run */
    float x[6] = { 1, 2, 3, 4, 5, 6 };
    fp_tensor in = { .dtype = FP_DTYPE_FLOAT32, .ndim = 2, .dims = { 2, 3 }, .data = x };
    fp_tensor ref = { 0 }, out = { 0 };
    CHECK_EQ_INT(run_model("add.onnx", "cpu", 0, &in, 1, &ref, &e), 0);
    CHECK_MSG(run_model("add.onnx", "simdev", 0, &in, 1, &out, &e) == 0, "%s", e.msg);
    CHECK(out.data && ref.data && !memcmp(out.data, ref.data, 24));
    CHECK(last_ctx->copies_in == 1 && last_ctx->copies_out == 1); /* staged input, output back */
    CHECK_EQ_INT(last_ctx->prepares, 2);
    CHECK_EQ_INT(last_ctx->runs, 2);
    CHECK_EQ_INT(last_ctx->bad_inputs, 0);
    fp_tensor_free(&out);
    fp_tensor_free(&ref);

    /* two shapes alternating: the nodes are prepared again each time the other plan runs */
    {
        char p[1024];
        snprintf(p, sizeof(p), "%s/add.onnx", dir);
        fp_model_opts o = { .backend = "simdev" };
        fp_model *m = NULL;
        CHECK_EQ_INT(fp_model_load(p, &o, &m, &e), 0);
        float x1[3] = { 1, 1, 1 };
        fp_tensor a = in, b = { .dtype = FP_DTYPE_FLOAT32, .ndim = 2, .dims = { 1, 3 }, .data = x1 };
        int ok = 1;
        for (int r = 0; r < 4 && m; r++) {
            fp_tensor o1 = { 0 };
            fp_err_clear(&e);
            int ret = fp_model_run(m, r % 2 ? &b : &a, 1, &o1, 1, &e);
            ok &= ret == 0;
            if (ret)
                printf("run %d: %s\n", r, e.msg);
            fp_tensor_free(&o1);
        }
        CHECK(ok);
        fp_model_freep(&m);
        CHECK_EQ_INT(last_ctx->prepares, 8);
        CHECK_EQ_INT(last_ctx->begins, 4);
        CHECK_EQ_INT(last_ctx->ends, 4);
        CHECK_EQ_INT(last_ctx->key_reused_across_preparations, 0);
        CHECK_EQ_INT(last_ctx->capture_open, 0);
    }

    /* shape.onnx has TReshape, which simdev lacks: refused by name without fallback ... */
    float x6[6] = { 1, 2, 3, 4, 5, 6 }, z[6] = { 0 };
    fp_tensor in2[2] = { { .dtype = FP_DTYPE_FLOAT32, .ndim = 1, .dims = { 6 }, .data = x6 },
                         { .dtype = FP_DTYPE_FLOAT32, .ndim = 2, .dims = { 2, 3 }, .data = z } };
    fp_err_clear(&e);
    int ret = run_model("shape.onnx", "simdev", 0, in2, 2, &out, &e);
    CHECK_MSG(ret == FP_EUNSUPPORTED && strstr(e.msg, "(TReshape): not supported by the simdev backend: ") &&
                                         strstr(e.msg, "(allow CPU fallback to run it on the CPU)"), "%d %s", ret, e.msg);
    CHECK(strstr(e.msg, "shape.onnx") != NULL);
    /* its shapes are concrete, so the load planned it (and refused); a device model does not keep that
     * plan's arena: after a good load nothing is cached until the first run */
    {
        char p[1024];
        snprintf(p, sizeof(p), "%s/shape.onnx", dir);
        fp_model_opts o = { .backend = "simdev", .allow_cpu_fallback = 1 };
        fp_model *m = NULL;
        fp_err_clear(&e);
        CHECK_MSG(fp_model_load(p, &o, &m, &e) == 0, "%s", e.msg);
        fp_model_stats st;
        if (m) {
            fp_model_get_stats(m, &st);
            CHECK_EQ_INT(st.plans_cached, 0);
        }
        fp_model_freep(&m);
    }
    /* ... and with fallback it runs on the CPU between device copies, equal to the CPU backend */
    fp_err_clear(&e);
    CHECK_EQ_INT(run_model("shape.onnx", "cpu", 0, in2, 2, &ref, &e), 0);
    fp_err_clear(&e);
    ret = run_model("shape.onnx", "simdev", 1, in2, 2, &out, &e);
    CHECK_MSG(ret == 0, "%s", e.msg);
    CHECK(out.data && ref.data && out.ndim == 2 && !memcmp(out.data, ref.data, 24));
    CHECK_EQ_INT(last_ctx->runs, 1);          /* TAdd on simdev */
    CHECK_EQ_INT(last_ctx->begins, 0);        /* host round trips: the run is not captured */
    CHECK(last_ctx->copies_out >= 2);         /* TAdd's output to the host for TReshape, and the result */
    CHECK_EQ_INT(last_ctx->bad_inputs, 0);
    fp_tensor_free(&out);
    fp_tensor_free(&ref);

    /* fp16 graph with the fallback: the CPU step upcasts in host buffers */
    fp_err_clear(&e);
    uint16_t h[4] = { 0x3c00, 0x4000, 0x4200, 0x4400 };
    fp_tensor hin = { .dtype = FP_DTYPE_FLOAT16, .ndim = 1, .dims = { 4 }, .data = h };
    CHECK_EQ_INT(run_model("half.onnx", "cpu", 0, &hin, 1, &ref, &e), 0);
    CHECK_MSG(run_model("half.onnx", "simdev", 1, &hin, 1, &out, &e) == 0, "%s", e.msg);
    CHECK(out.data && ref.data && out.dtype == FP_DTYPE_FLOAT16 && !memcmp(out.data, ref.data, 8));
    fp_tensor_free(&out);
    fp_tensor_free(&ref);
    /* A value input too large to key plans on: the CPU backend plans its dependants at run time, a
     * device backend (values in device memory) still refuses it by name. */
    {
        static float x16[16], big[5000];
        big[0] = 0.5f;
        fp_tensor bin[2] = { { .dtype = FP_DTYPE_FLOAT32, .ndim = 4, .dims = { 1, 1, 4, 4 }, .data = x16 },
                             { .dtype = FP_DTYPE_FLOAT32, .ndim = 1, .dims = { 5000 }, .data = big } };
        fp_tensor bo = { 0 };
        fp_err_clear(&e);
        int r = run_model("ratio_sym.onnx", "simdev", 0, bin, 2, &bo, &e);
        CHECK_MSG(r == FP_EUNSUPPORTED && strstr(e.msg, "input 'ratio' decides output shapes"), "%d %s", r, e.msg);
        fp_tensor_free(&bo);
    }
    return fp_test_finish("nn.device");
}
