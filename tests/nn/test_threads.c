/*
 * test_threads — determinism across thread counts on real exported graphs (tests/models: PyTorch
 * exports of the workloads' small-width models): every output at 1 thread must equal, byte for byte,
 * the output at 3 threads (uneven split) (libvips' rule). Models the runtime cannot run yet are skipped by
 * name, never passed.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "framepipe.h"
#include "fp_test.h"
#include "nn/nn_npy.h"

static int run(const char *dir, int threads, fp_tensor **outs, int *nout, fp_err *e)
{
    char path[2048];
    snprintf(path, sizeof(path), "%s/model.onnx", dir);
    fp_model_opts o = { .backend = "cpu", .threads = threads };
    fp_model *m = NULL;
    int ret = fp_model_load(path, &o, &m, e);
    if (ret < 0)
        return ret;
    int nin = fp_model_num_inputs(m);
    *nout = fp_model_num_outputs(m);
    nn_tensor *ld = calloc((size_t)nin + 1, sizeof(nn_tensor));
    fp_tensor *in = calloc((size_t)nin + 1, sizeof(fp_tensor));
    *outs = calloc((size_t)*nout + 1, sizeof(fp_tensor));
    for (int i = 0; i < nin && ret >= 0; i++) {
        fp_value_info vi;
        fp_model_input_info(m, i, &vi);
        snprintf(path, sizeof(path), "%s/step0_in_%s.npy", dir, vi.name);
        ret = nn_npy_read(path, &ld[i], e);
        in[i] = (fp_tensor){ .dtype = (fp_dtype)ld[i].dtype, .ndim = ld[i].ndim, .data = ld[i].data };
        memcpy(in[i].dims, ld[i].dims, sizeof(in[i].dims));
    }
    if (ret >= 0)
        ret = fp_model_run(m, in, nin, *outs, *nout, e);
    for (int i = 0; i < nin; i++)
        nn_tensor_free(&ld[i]);
    free(ld);
    free(in);
    fp_model_freep(&m);
    return ret;
}

int main(int argc, char **argv)
{
    const char *root = argc > 1 ? argv[1] : ".";
    DIR *d = opendir(root);
    if (!d) {
        fprintf(stderr, "test_threads: %s: cannot open\n", root);
        return 1;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        char dir[1024], mp[1100];
        struct stat st;
        snprintf(dir, sizeof(dir), "%s/%s", root, de->d_name);
        snprintf(mp, sizeof(mp), "%s/model.onnx", dir);
        if (de->d_name[0] == '.' || stat(mp, &st) < 0)
            continue;
        fp_tensor *ref = NULL;
        int nref = 0;
        fp_err e = { 0 };
        int ret = run(dir, 1, &ref, &nref, &e);
        if (ret == FP_EUNSUPPORTED) {
            SKIP(e.msg);
        } else {
            CHECK_MSG(ret == 0, "%s: %s", de->d_name, e.msg);
        }
        for (int t = 3; ret == 0 && t <= 3; t++) {
            fp_tensor *o = NULL;
            int no = 0;
            fp_err_clear(&e);
            int r = run(dir, t, &o, &no, &e);
            CHECK_MSG(r == 0, "%s at %d threads: %s", de->d_name, t, e.msg);
            for (int k = 0; r == 0 && k < no; k++) {
                size_t nb = fp_dtype_size(o[k].dtype);
                for (int j = 0; j < o[k].ndim; j++)
                    nb *= (size_t)o[k].dims[j];
                CHECK_MSG(o[k].dtype == ref[k].dtype && !memcmp(o[k].data, ref[k].data, nb),
                          "%s output %d differs between 1 and %d threads", de->d_name, k, t);
            }
            for (int k = 0; k < no; k++)
                fp_tensor_free(&o[k]);
            free(o);
        }
        if (ret == 0)
            printf("%-20s %d outputs identical at 1 and 3 threads\n", de->d_name, nref);
        for (int k = 0; k < nref; k++)
            fp_tensor_free(&ref[k]);
        free(ref);
    }
    closedir(d);
    return fp_test_finish("nn.threads");
}
