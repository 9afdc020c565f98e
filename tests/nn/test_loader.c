/*
 * test_loader — the ONNX loader on good models (raw, typed and external initializers, function
 * inlining, dead-node removal, symbolic dims) and on every kind of bad input the brief lists: each must
 * fail with the documented code and one message naming the model file and the cause, never crash.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "framepipe.h"
#include "fp_test.h"
#include "nn/nn_graph.h"
#include "test_ops.h"

static const char *dir = FP_NN_MODELS_DIR;

static char *mpath(const char *name)
{
    static char buf[4][1024];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof(buf[k]), "%s/%s", dir, name);
    return buf[k];
}

static void test_good(void)
{
    fp_err e = { 0 };
    nn_graph *g = NULL;
    CHECK_EQ_INT(nn_graph_load(mpath("add.onnx"), &g, &e), 0);
    if (!g)
        return;
    CHECK_EQ_INT(g->opset, 13);
    CHECK_EQ_INT(g->nnodes, 3);       /* the dead TAdd is gone */
    CHECK_EQ_INT(g->ninputs, 1);
    CHECK_EQ_INT(g->noutputs, 1);
    CHECK_EQ_INT(g->nparams, 6);
    const nn_value *x = &g->values[g->inputs[0]];
    CHECK(!strcmp(x->name, "x") && x->t.ndim == 2 && x->t.dims[0] == -1 && x->t.dims[1] == 3);
    CHECK(x->dim_names[0] && !strcmp(x->dim_names[0], "batch"));
    /* topological order: every input is produced earlier */
    for (int i = 0; i < g->nnodes; i++)
        for (int k = 0; k < g->nodes[i].nin; k++) {
            int v = g->nodes[i].inputs[k];
            CHECK(v < 0 || g->values[v].producer < i);
        }
    /* before the test ops exist the nodes are unresolved, and check_ops names one */
    fp_err_clear(&e);
    int ret = nn_graph_check_ops(g, &e);
    CHECK(ret == FP_EUNSUPPORTED || ret == 0);
    nn_graph_freep(&g);
    CHECK(g == NULL);
    nn_graph_freep(&g);

    test_ops_register();
    fp_err_clear(&e);
    CHECK_EQ_INT(nn_graph_load(mpath("add.onnx"), &g, &e), 0);
    CHECK_EQ_INT(nn_graph_check_ops(g, &e), 0);
    nn_graph_freep(&g);

    /* typed (float_data) and external initializers decode to the same values */
    static const char *wmodels[] = { "add_typed.onnx", "external.onnx" };
    for (int m = 0; m < 2; m++) {
        fp_err_clear(&e);
        CHECK_MSG(nn_graph_load(mpath(wmodels[m]), &g, &e) == 0, "%s", e.msg);
        if (!g)
            continue;
        const nn_value *w = NULL;
        for (int i = 0; i < g->nvalues; i++)
            if (!strcmp(g->values[i].name, "w"))
                w = &g->values[i];
        CHECK(w && w->is_const && w->t.dtype == NN_DT_FLOAT && w->t.ndim == 2);
        float scale = m ? 10.0f : 1.0f;
        int ok = 1;
        for (int i = 0; w && i < 6; i++)
            ok &= ((float *)w->t.data)[i] == i * scale;
        CHECK_MSG(ok, "%s values", wmodels[m]);
        nn_graph_freep(&g);
    }

    fp_err_clear(&e);
    CHECK_MSG(nn_graph_load(mpath("function.onnx"), &g, &e) == 0, "%s", e.msg);
    if (g) {
        CHECK_EQ_INT(g->nfunctions_inlined, 1);
        CHECK_EQ_INT(g->nnodes, 2);
        int all = 1;
        for (int i = 0; i < g->nnodes; i++)
            all &= g->nodes[i].def != NULL && !strcmp(g->nodes[i].op_type, "TAdd");
        CHECK(all);
        nn_graph_freep(&g);
    }
}

static void expect_fail(const char *file, int code, const char *needle)
{
    fp_err e = { 0 };
    nn_graph *g = NULL;
    const char *p = mpath(file);
    int ret = nn_graph_load(p, &g, &e);
    if (ret == 0) {
        ret = nn_graph_check_ops(g, &e);
        nn_graph_freep(&g);
    }
    CHECK_MSG(ret == code, "%s: got %d (%s), want %d", file, ret, e.msg, code);
    CHECK_MSG(strstr(e.msg, p) != NULL, "%s: message does not name the model: %s", file, e.msg);
    CHECK_MSG(strstr(e.msg, needle) != NULL, "%s: message lacks '%s': %s", file, needle, e.msg);
    CHECK_MSG(strchr(e.msg, '\n') == NULL, "%s: message is not one line", file);
    CHECK(g == NULL);
    /* the public API reports the same failure with the same code */
    fp_model *m = NULL;
    fp_err e2 = { 0 };
    CHECK_MSG(fp_model_load(p, NULL, &m, &e2) == code, "%s: fp_model_load: %s", file, e2.msg);
    CHECK(m == NULL);
    CHECK_EQ_INT(fp_exit_code(code), fp_exit_code(e2.code));
}

static void test_bad(void)
{
    expect_fail("bad/truncated.onnx", FP_EMODEL, "truncated or corrupt");
    expect_fail("bad/corrupt.onnx", FP_EMODEL, "load:");
    expect_fail("bad/empty.onnx", FP_EMODEL, "no graph");
    expect_fail("bad/no_such_file.onnx", FP_EINPUT, "cannot open");
    expect_fail("bad/raw_length.onnx", FP_EMODEL, "initializer 'w': raw_data holds 20 bytes");
    expect_fail("bad/typed_count.onnx", FP_EMODEL, "float_data holds 2 elements");
    expect_fail("bad/negative_dim.onnx", FP_EMODEL, "negative dimension -2");
    expect_fail("bad/overflow_dim.onnx", FP_EMODEL, "dimensions overflow");
    expect_fail("bad/negative_input_dim.onnx", FP_EMODEL, "negative dimension -5");
    expect_fail("bad/huge_input_overflow.onnx", FP_EMODEL, "input 'x': dimensions overflow");
    expect_fail("bad/unknown_op.onnx", FP_EUNSUPPORTED, "node 'NoSuchOp_0' (NoSuchOp): operator not supported");
    expect_fail("bad/unknown_domain.onnx", FP_EUNSUPPORTED, "(com.example.Relu): operator not supported");
    expect_fail("bad/opset10.onnx", FP_EUNSUPPORTED, "opset 10 is outside the supported range 11..19");
    expect_fail("bad/opset20.onnx", FP_EUNSUPPORTED, "opset 20 is outside");
    expect_fail("bad/cycle.onnx", FP_EMODEL, "cycle");
    expect_fail("bad/dangling.onnx", FP_EMODEL, "input 'nowhere' is not produced");
    expect_fail("bad/two_producers.onnx", FP_EMODEL, "output 'y' is already defined");
    expect_fail("bad/external_absolute.onnx", FP_EMODEL, "must be a relative path");
    expect_fail("bad/external_dotdot.onnx", FP_EMODEL, "leaves the model's directory");
    expect_fail("bad/external_dotdot2.onnx", FP_EMODEL, "leaves the model's directory");
    expect_fail("bad/external_missing.onnx", FP_EINPUT, "external data file 'missing.bin'");
    expect_fail("bad/external_short.onnx", FP_EMODEL, "tensor needs 24 at offset 20");
    expect_fail("bad/external_length.onnx", FP_EMODEL, "length 20 does not match");

    /* a symlink that resolves outside the model's directory */
    char tdir[] = "/tmp/fp_nn_symlink_XXXXXX";
    char odir[] = "/tmp/fp_nn_outside_XXXXXX";
    if (mkdtemp(tdir) && mkdtemp(odir)) {
        char src[1024], dst[1024], outside[1024], link[1024];
        snprintf(outside, sizeof(outside), "%s/secret.bin", odir);
        FILE *f = fopen(outside, "wb");
        char zeros[64] = { 0 };
        if (f) {
            fwrite(zeros, 1, sizeof(zeros), f);
            fclose(f);
        }
        snprintf(link, sizeof(link), "%s/escape.bin", tdir);
        CHECK(symlink(outside, link) == 0);
        snprintf(src, sizeof(src), "%s/bad/external_symlink.onnx", dir);
        snprintf(dst, sizeof(dst), "%s/model.onnx", tdir);
        FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
        char buf[4096];
        size_t n;
        while (in && out && (n = fread(buf, 1, sizeof(buf), in)) > 0)
            fwrite(buf, 1, n, out);
        if (in)
            fclose(in);
        if (out)
            fclose(out);
        fp_err e = { 0 };
        nn_graph *g = NULL;
        int ret = nn_graph_load(dst, &g, &e);
        CHECK_MSG(ret == FP_EMODEL && strstr(e.msg, "resolves outside the model's directory"), "symlink: %d %s",
                  ret, e.msg);
        nn_graph_freep(&g);
        unlink(dst);
        unlink(link);
        unlink(outside);
        rmdir(tdir);
        rmdir(odir);
    }

    /* concrete input shapes are planned at load: an impossible arena fails the load cleanly */
    {
        char p[1024];
        snprintf(p, sizeof(p), "%s/bad/huge_input_alloc.onnx", dir);
        fp_model *m = NULL;
        fp_err e2 = { 0 };
        int r = fp_model_load(p, NULL, &m, &e2);
        CHECK_MSG(r == FP_ENOMEM && strstr(e2.msg, "huge_input_alloc.onnx: plan: activation arena of"), "%d %s", r,
                  e2.msg);
        CHECK(m == NULL);
    }

    /* from memory: external data is refused, garbage is refused */
    fp_err e = { 0 };
    nn_graph *g = NULL;
    CHECK_EQ_INT(nn_graph_load_mem("\x0a\xff\xff\xff\xff\x0f", 6, "mem", NULL, &g, &e), FP_EMODEL);
    CHECK(g == NULL);
}

int main(void)
{
    test_good();
    test_bad();
    return fp_test_finish("nn.loader");
}
