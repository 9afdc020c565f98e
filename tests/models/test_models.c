/*
 * test_models — the small-width reference models (tests/models/<name>/, exported from PyTorch with
 * float64 reference outputs, see README.md there) run through the public API on a backend, and every
 * output is compared with PyTorch: max |out - ref| / max |ref| <= 1e-4 (fp32 CPU backend).
 * A model whose ops the backend lacks is reported as skipped (never passed); with --require-all a
 * skip fails the test, which is how CI runs it once every op exists.
 * Usage: test_models MODELS_DIR [--backend cpu|cuda] [--threads N] [--require-all] [--tol T] [name...]
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framepipe.h"
#include "nn/nn_npy.h"
#include "fp_test.h"

static int file_exists(const char *p)
{
    FILE *f = fopen(p, "rb");
    if (f)
        fclose(f);
    return f != NULL;
}

static int load_npy(const char *path, fp_tensor *t, fp_err *e)
{
    nn_tensor nt = { 0 };
    int ret = nn_npy_read(path, &nt, e);
    if (ret < 0)
        return ret;
    memset(t, 0, sizeof(*t));
    t->dtype = (fp_dtype)nt.dtype;
    t->ndim = nt.ndim;
    memcpy(t->dims, nt.dims, sizeof(t->dims));
    t->data = nt.data;           /* the test frees it with free() via nn_tensor_free semantics */
    t->owned = 1;
    return 0;
}

static int64_t numel(const fp_tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= t->dims[i];
    return n;
}

/* Returns 1 if the step ran and compared (pass or fail recorded), 0 if the step does not exist,
 * -1 if skipped as unsupported. */
static int run_step(fp_model *m, const char *dir, const char *name, int step, double tol)
{
    char path[4096];
    int nin = fp_model_num_inputs(m), nout = fp_model_num_outputs(m);
    fp_tensor in[16] = { 0 }, out[16] = { 0 }, ref[16] = { 0 };
    fp_err e;
    fp_err_clear(&e);
    int ret = 1;
    for (int i = 0; i < nin; i++) {
        fp_value_info vi;
        fp_model_input_info(m, i, &vi);
        snprintf(path, sizeof(path), "%s/step%d_in_%s.npy", dir, step, vi.name);
        if (!file_exists(path)) {
            ret = 0;
            goto done;
        }
        int r = load_npy(path, &in[i], &e);
        CHECK_MSG(r == 0, "%s: %s", path, e.msg);
        if (r < 0)
            goto done;
    }
    int r = fp_model_run(m, in, nin, out, nout, &e);
    if (r == FP_EUNSUPPORTED) {
        printf("SKIP %s step %d: %s\n", name, step, e.msg);
        ret = -1;
        goto done;
    }
    CHECK_MSG(r == 0, "%s step %d: run: %s", name, step, e.msg);
    if (r < 0)
        goto done;
    for (int o = 0; o < nout; o++) {
        fp_value_info vi;
        fp_model_output_info(m, o, &vi);
        snprintf(path, sizeof(path), "%s/step%d_out_%s.npy", dir, step, vi.name);
        if (load_npy(path, &ref[o], &e) < 0) {
            CHECK_MSG(0, "%s: %s", path, e.msg);
            continue;
        }
        int same_shape = out[o].ndim == ref[o].ndim && numel(&out[o]) == numel(&ref[o]);
        for (int d = 0; same_shape && d < out[o].ndim; d++)
            same_shape = out[o].dims[d] == ref[o].dims[d];
        CHECK_MSG(same_shape, "%s step %d output %s: shape differs from PyTorch's", name, step, vi.name);
        if (!same_shape || out[o].dtype != FP_DTYPE_FLOAT32 || ref[o].dtype != FP_DTYPE_FLOAT32)
            continue;
        const float *a = out[o].data, *b = ref[o].data;
        double maxdiff = 0, maxref = 0;
        int64_t nan = 0, n = numel(&ref[o]);
        for (int64_t k = 0; k < n; k++) {
            if (isnan(a[k]) || isinf(a[k]))
                nan++;
            double d = fabs((double)a[k] - b[k]);
            if (d > maxdiff)
                maxdiff = d;
            if (fabs(b[k]) > maxref)
                maxref = fabs(b[k]);
        }
        double rel = maxdiff / (maxref > 0 ? maxref : 1);
        printf("%-18s step %d %-10s max|diff| %.3g  rel %.3g  nan/inf %lld\n", name, step, vi.name, maxdiff, rel,
               (long long)nan);
        CHECK_MSG(nan == 0 && rel <= tol, "%s step %d output %s: rel error %.3g > %.1g (or NaN)", name, step,
                  vi.name, rel, tol);
    }
done:
    for (int i = 0; i < 16; i++) {
        fp_tensor_free(&in[i]);
        fp_tensor_free(&out[i]);
        fp_tensor_free(&ref[i]);
    }
    return ret;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "tests/models";
    fp_model_opts opts = { .backend = "cpu" };
    int require_all = 0, nnames = 0;
    double tol = 1e-4;
    const char *names[32];
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--backend") && i + 1 < argc)
            opts.backend = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            opts.threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tol") && i + 1 < argc)
            tol = atof(argv[++i]);
        else if (!strcmp(argv[i], "--require-all"))
            require_all = 1;
        else if (nnames < 32)
            names[nnames++] = argv[i];
    }
    if (!nnames) {
        DIR *d = opendir(dir);
        struct dirent *de;
        static char store[32][256];
        while (d && (de = readdir(d)) && nnames < 32) {
            char p[4096];
            snprintf(p, sizeof(p), "%s/%s/model.onnx", dir, de->d_name);
            if (de->d_name[0] != '.' && file_exists(p)) {
                snprintf(store[nnames], sizeof(store[0]), "%s", de->d_name);
                names[nnames] = store[nnames];
                nnames++;
            }
        }
        if (d)
            closedir(d);
    }
    CHECK_MSG(nnames > 0, "no models found under %s", dir);
    for (int i = 0; i < nnames; i++) {
        char mdir[4096], path[4096];
        snprintf(mdir, sizeof(mdir), "%s/%s", dir, names[i]);
        snprintf(path, sizeof(path), "%s/model.onnx", mdir);
        fp_model *m = NULL;
        fp_err e;
        fp_err_clear(&e);
        int r = fp_model_load(path, &opts, &m, &e);
        if (r == FP_EUNSUPPORTED) {
            printf("SKIP %s: %s\n", names[i], e.msg);
            if (require_all)
                CHECK_MSG(0, "%s: unsupported: %s", names[i], e.msg);
            else
                fp_test_skipped++;
            continue;
        }
        CHECK_MSG(r == 0, "%s: load: %s", names[i], e.msg);
        for (int step = 0; r == 0; step++) {
            int s = run_step(m, mdir, names[i], step, tol);
            if (s == 0)
                break;
            if (s < 0) {
                if (require_all)
                    CHECK_MSG(0, "%s: unsupported at run", names[i]);
                else
                    fp_test_skipped++;
                break;
            }
        }
        fp_model_freep(&m);
    }
    return fp_test_finish("test_models");
}
