/*
 * test_dynamic — output shapes known only after a kernel runs: NonMaxSuppression on activations
 * (Conv/Relu/Sigmoid heads -> NMS -> Gather of the kept boxes) and a detector postprocess
 * (TopK -> Gather -> NMS), fixtures from models/make_dynamic.py with expected outputs from an
 * independent numpy NMS. The input (8192 elements) is too large to key plans on, so the runtime plans
 * the graph up to NMS, runs it, then plans and runs the rest with the values it computed.
 * Checked: exact indices (boxes within 1e-5) for two inputs giving different counts (same model, one after the other:
 * per-run continuation plans), 1 and 3 threads byte-identical, a caller buffer of the wrong size
 * refused after the run, fp_model_output_shapes refusing by name, and device backends left alone.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fp_test.h"
#include "framepipe.h"
#include "nn/nn_npy.h"

static int load_npy(const char *name, nn_tensor *t)
{
    char path[1024];
    fp_err e = { 0 };
    snprintf(path, sizeof(path), "%s/%s", FP_NN_MODELS_DIR, name);
    int r = nn_npy_read(path, t, &e);
    CHECK_MSG(r == 0, "%s", e.msg);
    return r;
}

static fp_tensor view(const nn_tensor *t)
{
    fp_tensor f = { .dtype = (fp_dtype)t->dtype, .ndim = t->ndim, .data = t->data };
    memcpy(f.dims, t->dims, sizeof(f.dims));
    return f;
}

static int same(const fp_tensor *o, const nn_tensor *ref)
{
    if ((int)o->dtype != (int)ref->dtype || o->ndim != ref->ndim)
        return 0;
    for (int d = 0; d < o->ndim; d++)
        if (o->dims[d] != ref->dims[d])
            return 0;
    if (ref->dtype != NN_DT_FLOAT)
        return !memcmp(o->data, ref->data, nn_tensor_nbytes(ref));
    /* boxes: the Conv's sums are ordered differently from numpy's einsum, so allow rounding */
    const float *a = o->data, *b = ref->data;
    for (int64_t i = 0; i < nn_tensor_numel(ref); i++)
        if (fabsf(a[i] - b[i]) > 1e-5f * (1.0f + fabsf(b[i])))
            return 0;
    return 1;
}

static void run_model(const char *name, int nout, const char *const *onames)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s.onnx", FP_NN_MODELS_DIR, name);
    fp_tensor first[2][4] = { 0 };
    for (int th = 0; th < 2; th++) {
        int threads = th ? 3 : 1;
        fp_model_opts o = { .backend = "cpu", .threads = threads };
        fp_model *m = NULL;
        fp_err e = { 0 };
        CHECK_MSG(fp_model_load(path, &o, &m, &e) == 0, "%s", e.msg);
        if (!m)
            return;
        for (int k = 0; k < 2; k++) {
            nn_tensor in = { 0 }, ref[4] = { 0 };
            char f[256];
            snprintf(f, sizeof(f), "%s_in%d.npy", name, k);
            if (load_npy(f, &in) < 0)
                continue;
            for (int i = 0; i < nout; i++) {
                snprintf(f, sizeof(f), "%s_out%d_%s.npy", name, k, onames[i]);
                load_npy(f, &ref[i]);
            }
            fp_tensor x = view(&in), out[4] = { 0 };
            fp_err_clear(&e);
            int r = fp_model_run(m, &x, 1, out, nout, &e);
            CHECK_MSG(r == 0, "%s input %d at %d threads: %s", name, k, threads, e.msg);
            for (int i = 0; r == 0 && i < nout; i++) {
                CHECK_MSG(same(&out[i], &ref[i]), "%s input %d output %s at %d threads: [%lld,...] vs numpy [%lld,...]",
                          name, k, onames[i], threads, (long long)out[i].dims[0], (long long)ref[i].dims[0]);
                if (th == 0 && k == 1) {
                    first[k][i] = out[i]; /* keep for the thread comparison */
                    out[i] = (fp_tensor){ 0 };
                } else if (th == 1 && k == 1) {
                    size_t nb = nn_tensor_nbytes(&ref[i]);
                    CHECK_MSG(first[1][i].data && !memcmp(first[1][i].data, out[i].data, nb),
                              "%s output %s differs between 1 and 3 threads", name, onames[i]);
                }
            }
            for (int i = 0; i < nout; i++) {
                fp_tensor_free(&out[i]);
                nn_tensor_free(&ref[i]);
            }
            nn_tensor_free(&in);
        }
        fp_model_stats st;
        fp_model_get_stats(m, &st);
        CHECK_EQ_INT(st.plans_cached, 1); /* the part before NMS is cached; the rest is per run */
        fp_model_freep(&m);
    }
    for (int i = 0; i < nout; i++)
        fp_tensor_free(&first[1][i]);
}

int main(void)
{
    static const char *const nms_out[] = { "selected", "sel_boxes" }, *const topk_out[] = { "selected" };
    run_model("nms_dyn", 2, nms_out);
    run_model("topk_nms", 1, topk_out);

    /* Refusals: shapes cannot be known before running; a caller buffer of the wrong size. */
    char path[1024];
    snprintf(path, sizeof(path), "%s/nms_dyn.onnx", FP_NN_MODELS_DIR);
    fp_model_opts o = { .backend = "cpu", .threads = 1 };
    fp_model *m = NULL;
    fp_err e = { 0 };
    nn_tensor in = { 0 };
    if (fp_model_load(path, &o, &m, &e) == 0 && load_npy("nms_dyn_in0.npy", &in) == 0) {
        fp_tensor x = view(&in), shp[2] = { 0 };
        int r = fp_model_output_shapes(m, &x, 1, shp, 2, &e);
        CHECK_MSG(r == FP_EUNSUPPORTED && strstr(e.msg, "node 'nms' (NonMaxSuppression)"), "%d %s", r, e.msg);
        int64_t buf[3 * 5];
        fp_tensor outs[2] = { { .dtype = FP_DTYPE_INT64, .ndim = 2, .dims = { 5, 3 }, .data = buf }, { 0 } };
        fp_err_clear(&e);
        r = fp_model_run(m, &x, 1, outs, 2, &e);
        CHECK_MSG(r == FP_EINVAL && strstr(e.msg, "output 'selected' is int64[224,3] (sized at run time)"), "%d %s",
                  r, e.msg);
        CHECK(outs[1].data == NULL); /* nothing allocated for the caller on failure */
        fp_err_clear(&e);
        fp_tensor ok[2] = { 0 };
        CHECK_MSG(fp_model_run(m, &x, 1, ok, 2, &e) == 0 && ok[0].dims[0] == 224, "%s", e.msg); /* still usable */
        fp_tensor_free(&ok[0]);
        fp_tensor_free(&ok[1]);
    }
    nn_tensor_free(&in);
    fp_model_freep(&m);
    return fp_test_finish("nn.dynamic");
}
