/*
 * test_fuse — the runtime's load-time fusion pass (src/nn/nn_fuse.c) on the CPU backend: fuse.onnx
 * (models/make_fuse.py) run fused (the default) and unfused (fp_model_opts.no_fuse) on the same input.
 *
 * Checked: how many nodes the pass removed (BatchNorm folded twice, seven activations fused; the Conv
 * with two readers and the Conv that is a graph output left alone), that both outputs agree with the
 * unfused run to float32 rounding (BatchNorm folding rescales weights once, so not bit for bit), that
 * the fused model is deterministic, and FusedConv's own refusal of an unknown activation.
 *
 * Owns: these checks. Does not own the pass or the model generator.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "framepipe.h"
#include "fp_test.h"
#include "nn/nn_fuse.h"

static const char *dir = FP_NN_MODELS_DIR;

#define NX (2 * 3 * 9 * 11)

static int run(int no_fuse, const float *x, fp_tensor *out, fp_model_stats *st)
{
    char p[1024];
    fp_err e = { 0 };
    snprintf(p, sizeof(p), "%s/fuse.onnx", dir);
    fp_model_opts o = { .backend = "cpu", .threads = 2, .no_fuse = no_fuse };
    fp_model *m = NULL;
    fp_tensor in = { .dtype = FP_DTYPE_FLOAT32, .ndim = 4, .dims = { 2, 3, 9, 11 }, .data = (void *)x };
    int ret = fp_model_load(p, &o, &m, &e);
    memset(out, 0, 2 * sizeof(*out));
    if (ret == 0)
        ret = fp_model_run(m, &in, 1, out, 2, &e);
    if (ret == 0)
        fp_model_get_stats(m, st);
    if (ret < 0)
        printf("error: %s\n", e.msg);
    fp_model_freep(&m);
    return ret;
}

static double rel_err(const fp_tensor *a, const fp_tensor *b)
{
    int64_t n = 1;
    for (int d = 0; d < a->ndim; d++)
        n *= a->dims[d];
    double md = 0, mb = 0;
    for (int64_t i = 0; i < n; i++) {
        double x = ((const float *)a->data)[i], y = ((const float *)b->data)[i];
        md = fmax(md, isfinite(x) ? fabs(x - y) : INFINITY);
        mb = fmax(mb, fabs(y));
    }
    return mb > 0 ? md / mb : md;
}

int main(void)
{
    static float x[NX];
    fp_tensor f[2], u[2], f2[2];
    fp_model_stats sf, su;
    for (int i = 0; i < NX; i++)
        x[i] = (float)cos(i * 0.61) * 3.0f;

    CHECK(run(0, x, f, &sf) == 0);
    CHECK(run(1, x, u, &su) == 0);
    CHECK(run(0, x, f2, &sf) == 0);
    CHECK_EQ_INT(su.fused, 0);
    CHECK_EQ_INT(sf.fused, 9);
    CHECK_EQ_INT(su.nodes - sf.nodes, 9);
    for (int k = 0; k < 2; k++) {
        if (!f[k].data || !u[k].data || !f2[k].data) {
            CHECK(0);
            continue;
        }
        CHECK(f[k].ndim == u[k].ndim && !memcmp(f[k].dims, u[k].dims, sizeof(f[k].dims)));
        double r = rel_err(&f[k], &u[k]);
        printf("output %d: fused vs unfused max|a-b|/max|b| = %.3g\n", k, r);
        CHECK(r <= 1e-5);
        CHECK(r > 0 || k == 1); /* BN folding must really have changed the computation of output 0 */
        size_t nb = fp_dtype_size(f[k].dtype);
        for (int d = 0; d < f[k].ndim; d++)
            nb *= (size_t)f[k].dims[d];
        CHECK(!memcmp(f[k].data, f2[k].data, nb));
    }
    for (int k = 0; k < 2; k++) {
        fp_tensor_free(&f[k]);
        fp_tensor_free(&u[k]);
        fp_tensor_free(&f2[k]);
    }

    /* FusedConv's activation parser: known names, parameters, and a clear refusal. */
    {
        nn_attr at[2];
        float params[2] = { 0.25f, 0.75f };
        memset(at, 0, sizeof(at));
        at[0].name = "activation";
        at[0].type = NN_ATTR_STRING;
        at[0].s = "HardSigmoid";
        at[1].name = "activation_params";
        at[1].type = NN_ATTR_FLOATS;
        at[1].floats = params;
        at[1].n = 2;
        nn_node n = { .name = "fc", .op_type = "FusedConv", .domain = "com.microsoft", .nattr = 2, .attrs = at };
        int act;
        float a, b;
        fp_err e = { 0 };
        CHECK(nn_fused_act(&n, &act, &a, &b, &e) == 0);
        CHECK(act == NN_ACT_HARDSIGMOID && a == 0.25f && b == 0.75f);
        CHECK(fabsf(nn_act_apply(act, 1.0f, a, b) - 1.0f) < 1e-7f);
        CHECK(fabsf(nn_act_apply(act, -1.0f, a, b) - 0.5f) < 1e-7f);
        at[1].n = 1;
        CHECK(nn_fused_act(&n, &act, &a, &b, &e) == FP_EMODEL);
        fp_err_clear(&e);
        at[0].s = "Softplus";
        CHECK(nn_fused_act(&n, &act, &a, &b, &e) == FP_EUNSUPPORTED);
        CHECK(strstr(e.msg, "Softplus") != NULL);
        CHECK(nn_act_apply(NN_ACT_HARDSWISH, 3.0f, 0, 0) == 3.0f);
        CHECK(nn_act_apply(NN_ACT_CLIP, 7.0f, 0, 6) == 6.0f);
        CHECK(nn_act_apply(NN_ACT_LEAKYRELU, -2.0f, 0.1f, 0) == -0.2f);
    }
    return fp_test_finish("test_nn_fuse");
}
