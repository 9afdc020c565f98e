/*
 * test_nn_models — the reference models of tests/models run through the runtime on the CUDA backend
 * (GPU machine only, label gpu, auto-registered as gpu.test_nn_models).
 *
 * For every model dir and every step k (step<k>_in_<input>.npy -> step<k>_out_<output>.npy, computed by
 * PyTorch in float64 from the same float32 weights):
 *   fp32, graph off : max|a-b| / max|b| <= 1e-4 per output (the bar the CPU backend meets);
 *   fp32, graph on  : two runs, both bit-identical to the graph-off output (capture, then replay);
 *   fp32 unfused    : the same model loaded with no_fuse (no BatchNorm folding, no FusedConv):
 *                     max|a-b|/max|b| <= 1e-4 against the fused run (the fusion pass on CUDA);
 *   fp16            : PSNR of every output against the fp32 output >= 45 dB — but only when the
 *                     backend really stored float tensors in fp16 (nn_cuda_stats); otherwise SKIPPED
 *                     with the reason (the runtime did not give the backend fp16 tensors).
 * Inputs are given in host memory (the runtime stages them into the arena). Prints one line per check
 * and "test_nn_models: N passed, N failed, N skipped"; exit 77 without a CUDA device.
 *
 * Owns: these checks only. Does not own the models (bench/models/export.py) or the runtime.
 */
#include <cuda_runtime.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fp_test.h"
#include "framepipe.h"
#include "nn/cuda/nn_cuda_stats.h"
#include "nn/nn_npy.h"
#include "nn/nn_tensor.h"

#define MAXV 32

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static double as_f64(const void *p, fp_dtype dt, int64_t i)
{
    switch (dt) {
    case FP_DTYPE_FLOAT32: return ((const float *)p)[i];
    case FP_DTYPE_FLOAT16: return nn_f16_to_f32(((const uint16_t *)p)[i]);
    case FP_DTYPE_FLOAT64: return ((const double *)p)[i];
    case FP_DTYPE_INT64: return (double)((const int64_t *)p)[i];
    case FP_DTYPE_INT32: return ((const int32_t *)p)[i];
    case FP_DTYPE_BOOL: case FP_DTYPE_UINT8: return ((const uint8_t *)p)[i];
    default: return NAN;
    }
}

static int64_t numel(const fp_tensor *t)
{
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++)
        n *= t->dims[d];
    return n;
}

/* Run model m on inputs; outputs allocated by the runtime (host). Returns 0 or prints the error. */
static int run(fp_model *m, fp_tensor *in, int nin, fp_tensor *out, int nout, const char *what)
{
    fp_err e = {0};
    memset(out, 0, sizeof(fp_tensor) * (size_t)nout);
    if (fp_model_run(m, in, nin, out, nout, &e) < 0) {
        printf("FAIL %s: %s\n", what, e.msg);
        return -1;
    }
    return 0;
}

static void free_outs(fp_tensor *out, int nout)
{
    for (int k = 0; k < nout; k++)
        fp_tensor_free(&out[k]);
}

static void check_model(const char *dir, const char *name)
{
    char path[4096], what[512];
    fp_err e = {0};
    fp_model *m32 = NULL, *mg = NULL, *m16 = NULL, *mnf = NULL;
    snprintf(path, sizeof(path), "%s/model.onnx", dir);
    fp_model_opts o32 = {.backend = "cuda"}, og = {.backend = "cuda", .use_cuda_graph = 1},
                  o16 = {.backend = "cuda", .fp16 = 1}, onf = {.backend = "cuda", .no_fuse = 1};
    if (fp_model_load(path, &o32, &m32, &e) < 0 || fp_model_load(path, &og, &mg, &e) < 0 ||
        fp_model_load(path, &o16, &m16, &e) < 0 || fp_model_load(path, &onf, &mnf, &e) < 0) {
        printf("FAIL %s: load: %s\n", name, e.msg);
        fp_test_failed++;
        goto out;
    }
    int nin = fp_model_num_inputs(m32), nout = fp_model_num_outputs(m32);
    if (nin > MAXV || nout > MAXV) {
        printf("FAIL %s: more than %d inputs/outputs\n", name, MAXV);
        fp_test_failed++;
        goto out;
    }
    for (int step = 0;; step++) {
        nn_tensor tin[MAXV], tref[MAXV];
        fp_tensor in[MAXV], o32v[MAXV], ogv[MAXV], o16v[MAXV];
        int ok_inputs = 1;
        memset(tin, 0, sizeof(tin));
        memset(tref, 0, sizeof(tref));
        memset(o32v, 0, sizeof(o32v));
        memset(ogv, 0, sizeof(ogv));
        memset(o16v, 0, sizeof(o16v));
        for (int i = 0; i < nin; i++) {
            fp_value_info vi;
            fp_model_input_info(m32, i, &vi);
            snprintf(path, sizeof(path), "%s/step%d_in_%s.npy", dir, step, vi.name);
            if (!file_exists(path)) {
                ok_inputs = 0;
                break;
            }
            if (nn_npy_read(path, &tin[i], &e) < 0) {
                printf("FAIL %s: %s\n", name, e.msg);
                fp_test_failed++;
                ok_inputs = 0;
                break;
            }
            in[i].dtype = (fp_dtype)tin[i].dtype;
            in[i].ndim = tin[i].ndim;
            memcpy(in[i].dims, tin[i].dims, sizeof(in[i].dims));
            in[i].data = tin[i].data;
            in[i].device = FP_DEVICE_HOST;
            in[i].owned = 0;
        }
        if (!ok_inputs) {
            for (int i = 0; i < nin; i++)
                nn_tensor_free(&tin[i]);
            if (step == 0) {
                printf("SKIP %s: no step0 inputs\n", name);
                fp_test_skipped++;
            }
            break;
        }
        /* fp32 against the float64 reference. */
        snprintf(what, sizeof(what), "%s step%d fp32", name, step);
        if (run(m32, in, nin, o32v, nout, what) < 0) {
            fp_test_failed++;
        } else {
            for (int k = 0; k < nout; k++) {
                fp_value_info vo;
                fp_model_output_info(m32, k, &vo);
                snprintf(path, sizeof(path), "%s/step%d_out_%s.npy", dir, step, vo.name);
                if (nn_npy_read(path, &tref[k], &e) < 0) {
                    printf("SKIP %s output %s: no reference (%s)\n", what, vo.name, e.msg);
                    fp_test_skipped++;
                    fp_err_clear(&e);
                    continue;
                }
                int64_t n = numel(&o32v[k]);
                double maxd = 0, maxb = 0;
                int64_t nan = 0;
                if (n != nn_tensor_numel(&tref[k])) {
                    printf("FAIL %s output %s: %lld elements, reference has %lld\n", what, vo.name, (long long)n,
                           (long long)nn_tensor_numel(&tref[k]));
                    fp_test_failed++;
                    continue;
                }
                for (int64_t j = 0; j < n; j++) {
                    double a = as_f64(o32v[k].data, o32v[k].dtype, j), b = nn_tensor_get_f64(&tref[k], j);
                    if (!isfinite(a)) {
                        nan++;
                        continue;
                    }
                    maxd = fmax(maxd, fabs(a - b));
                    maxb = fmax(maxb, fabs(b));
                }
                double rel = maxb > 0 ? maxd / maxb : maxd;
                int ok = nan == 0 && rel <= 1e-4;
                printf("%s %s output %s: max|a-b|/max|b| = %.3g (limit 1e-4), non-finite %lld\n", ok ? "PASS" : "FAIL",
                       what, vo.name, rel, (long long)nan);
                if (ok)
                    fp_test_passed++;
                else
                    fp_test_failed++;
            }
            /* CUDA graph: capture run and replay run must both equal the plain run bit for bit. */
            for (int rep = 0; rep < 2; rep++) {
                snprintf(what, sizeof(what), "%s step%d fp32 graph %s", name, step, rep ? "replay" : "capture");
                if (run(mg, in, nin, ogv, nout, what) < 0) {
                    fp_test_failed++;
                    break;
                }
                int same = 1;
                for (int k = 0; k < nout; k++) {
                    size_t nb = (size_t)numel(&o32v[k]) * fp_dtype_size(o32v[k].dtype);
                    if (ogv[k].dtype != o32v[k].dtype || numel(&ogv[k]) != numel(&o32v[k]) ||
                        memcmp(ogv[k].data, o32v[k].data, nb))
                        same = 0;
                }
                printf("%s %s: %s\n", same ? "PASS" : "FAIL", what, same ? "bit-identical" : "differs from the plain run");
                if (same)
                    fp_test_passed++;
                else
                    fp_test_failed++;
                free_outs(ogv, nout);
            }
            /* The fusion pass on CUDA: fused (default) against unfused, same inputs. */
            {
                fp_tensor onfv[MAXV];
                fp_model_stats fs;
                fp_model_get_stats(m32, &fs);
                snprintf(what, sizeof(what), "%s step%d fp32 unfused", name, step);
                if (run(mnf, in, nin, onfv, nout, what) < 0) {
                    fp_test_failed++;
                } else {
                    for (int k = 0; k < nout; k++) {
                        int64_t n = numel(&o32v[k]);
                        double maxd = 0, maxb = 0;
                        for (int64_t j = 0; j < n; j++) {
                            double a = as_f64(o32v[k].data, o32v[k].dtype, j), b = as_f64(onfv[k].data, onfv[k].dtype, j);
                            maxd = fmax(maxd, isfinite(a) ? fabs(a - b) : INFINITY);
                            maxb = fmax(maxb, fabs(b));
                        }
                        double rel = maxb > 0 ? maxd / maxb : maxd;
                        int ok = rel <= 1e-4;
                        printf("%s %s output %d: fused (%d nodes removed) vs unfused max|a-b|/max|b| = %.3g (limit 1e-4)\n",
                               ok ? "PASS" : "FAIL", what, k, fs.fused, rel);
                        if (ok)
                            fp_test_passed++;
                        else
                            fp_test_failed++;
                    }
                    free_outs(onfv, nout);
                }
            }
            /* fp16 against fp32, only if fp16 storage really happened. */
            nn_cuda_stats s0, s1;
            nn_cuda_stats_get(&s0);
            snprintf(what, sizeof(what), "%s step%d fp16", name, step);
            if (run(m16, in, nin, o16v, nout, what) < 0) {
                fp_test_failed++;
            } else {
                nn_cuda_stats_get(&s1);
                if (s1.nodes_fp16 == s0.nodes_fp16) {
                    printf("SKIP %s: the backend ran no node in fp16 (%llu fp32 nodes): the runtime does not yet "
                           "give it float16 tensors (docs/cuda.md)\n", what,
                           (unsigned long long)(s1.nodes_fp32 - s0.nodes_fp32));
                    fp_test_skipped++;
                } else {
                    for (int k = 0; k < nout; k++) {
                        int64_t n = numel(&o32v[k]);
                        double se = 0, peak = 0;
                        for (int64_t j = 0; j < n; j++) {
                            double a = as_f64(o16v[k].data, o16v[k].dtype, j), b = as_f64(o32v[k].data, o32v[k].dtype, j);
                            se += (a - b) * (a - b);
                            peak = fmax(peak, fabs(b));
                        }
                        double mse = n ? se / n : 0, psnr = mse > 0 ? 10 * log10(peak * peak / mse) : INFINITY;
                        int ok = isnan(psnr) ? 0 : psnr >= 45.0;
                        printf("%s %s output %d: PSNR vs fp32 %.1f dB (limit 45)\n", ok ? "PASS" : "FAIL", what, k, psnr);
                        if (ok)
                            fp_test_passed++;
                        else
                            fp_test_failed++;
                    }
                }
                free_outs(o16v, nout);
            }
            free_outs(o32v, nout);
        }
        for (int i = 0; i < MAXV; i++) {
            nn_tensor_free(&tin[i]);
            nn_tensor_free(&tref[i]);
        }
        fflush(stdout);
    }
out:
    fp_model_freep(&m32);
    fp_model_freep(&mg);
    fp_model_freep(&m16);
    fp_model_freep(&mnf);
}

int main(int argc, char **argv)
{
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
        printf("test_nn_models: no CUDA device: skipped\n");
        return 77;
    }
    /* tests/models next to this file's folder, or the dirs given on the command line. */
    char root[4096];
    snprintf(root, sizeof(root), "%s", __FILE__);
    char *slash = strrchr(root, '/');
    if (slash)
        *slash = 0;
    strncat(root, "/../models", sizeof(root) - strlen(root) - 1);
    if (argc > 1) {
        for (int i = 1; i < argc; i++) {
            const char *b = strrchr(argv[i], '/');
            check_model(argv[i], b && b[1] ? b + 1 : argv[i]);
        }
        return fp_test_finish("test_nn_models");
    }
    DIR *d = opendir(root);
    if (!d) {
        printf("FAIL cannot open %s\n", root);
        return 1;
    }
    char *names[64];
    int nn = 0;
    struct dirent *de;
    while ((de = readdir(d)) && nn < 64) {
        char p[4200];
        snprintf(p, sizeof(p), "%s/%s/model.onnx", root, de->d_name);
        if (de->d_name[0] != '.' && file_exists(p))
            names[nn++] = strdup(de->d_name);
    }
    closedir(d);
    for (int i = 0; i < nn; i++) {
        char p[4200];
        snprintf(p, sizeof(p), "%s/%s", root, names[i]);
        check_model(p, names[i]);
        free(names[i]);
    }
    return fp_test_finish("test_nn_models");
}
