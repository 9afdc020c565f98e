/*
 * nn_cpu_bench — times framepipe's CPU backend on whole models: ms per fp_model_run at given thread
 * counts, with the plan built before timing (the first run is a warm-up) and inputs/outputs in host
 * memory, outputs preallocated (the steady state of a pipeline).
 *
 * Usage: nn_cpu_bench [--threads LIST] [--iters N] [--warmup N] MODEL_DIR...
 *   MODEL_DIR holds model.onnx and step0_in_<input>.npy (bench/models/export.py and
 *   bench/nn/cpu_torch.py write both). --threads is comma-separated (default 1,2).
 * Output: one JSON line per model and thread count, prefixed "nn_cpu_bench: ": model, threads, input
 * shapes, iterations, median and min ms per run.
 *
 * Owns: the bench only (inputs read here, freed here). Does not own the runtime or the PyTorch side
 * (bench/nn/cpu_torch.py).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "framepipe.h"
#include "nn/nn_npy.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int bench_model(const char *dir, int threads, int iters, int warmup)
{
    char path[2048], shapes[512] = "";
    fp_err e = { 0 };
    fp_model_opts o = { .backend = "cpu", .threads = threads };
    fp_model *m = NULL;
    nn_tensor *ld = NULL;
    fp_tensor *in = NULL, *out = NULL;
    double *ms = NULL;
    int nin = 0, nout = 0, ret;
    snprintf(path, sizeof(path), "%s/model.onnx", dir);
    if ((ret = fp_model_load(path, &o, &m, &e)) < 0)
        goto done;
    nin = fp_model_num_inputs(m);
    nout = fp_model_num_outputs(m);
    ld = calloc((size_t)nin + 1, sizeof(*ld));
    in = calloc((size_t)nin + 1, sizeof(*in));
    out = calloc((size_t)nout + 1, sizeof(*out));
    ms = calloc((size_t)iters + 1, sizeof(*ms));
    if (!ld || !in || !out || !ms) {
        ret = fp_errorf(&e, FP_ENOMEM, "%s: out of memory", dir);
        goto done;
    }
    for (int i = 0; i < nin && ret >= 0; i++) {
        fp_value_info vi;
        fp_model_input_info(m, i, &vi);
        snprintf(path, sizeof(path), "%s/step0_in_%s.npy", dir, vi.name);
        if ((ret = nn_npy_read(path, &ld[i], &e)) < 0)
            break;
        in[i] = (fp_tensor){ .dtype = (fp_dtype)ld[i].dtype, .ndim = ld[i].ndim, .data = ld[i].data };
        memcpy(in[i].dims, ld[i].dims, sizeof(in[i].dims));
        size_t l = strlen(shapes);
        snprintf(shapes + l, sizeof(shapes) - l, "%s%s[", i ? " " : "", vi.name);
        for (int d = 0; d < ld[i].ndim; d++) {
            l = strlen(shapes);
            snprintf(shapes + l, sizeof(shapes) - l, d ? ",%lld" : "%lld", (long long)ld[i].dims[d]);
        }
        l = strlen(shapes);
        snprintf(shapes + l, sizeof(shapes) - l, "]");
    }
    /* The first run builds the plan and allocates the outputs (owned); later runs reuse both. */
    for (int w = 0; w < (warmup > 0 ? warmup : 1) && ret >= 0; w++)
        ret = fp_model_run(m, in, nin, out, nout, &e);
    for (int it = 0; it < iters && ret >= 0; it++) {
        double t0 = now_ms();
        ret = fp_model_run(m, in, nin, out, nout, &e);
        ms[it] = now_ms() - t0;
    }
    if (ret >= 0) {
        qsort(ms, (size_t)iters, sizeof(*ms), cmp_double);
        printf("nn_cpu_bench: {\"model\": \"%s\", \"threads\": %d, \"inputs\": \"%s\", \"iters\": %d, "
               "\"ms_median\": %.3f, \"ms_min\": %.3f}\n", dir, threads, shapes, iters, ms[iters / 2], ms[0]);
        fflush(stdout);
    }
done:
    if (ret < 0)
        fprintf(stderr, "nn_cpu_bench: %s\n", e.msg[0] ? e.msg : fp_strerror(ret));
    for (int i = 0; out && i < nout; i++)
        fp_tensor_free(&out[i]);
    for (int i = 0; ld && i < nin; i++)
        nn_tensor_free(&ld[i]);
    free(ld);
    free(in);
    free(out);
    free(ms);
    fp_model_freep(&m);
    return ret < 0;
}

int main(int argc, char **argv)
{
    const char *tlist = "1,2";
    int iters = 20, warmup = 2, rc = 0, first = 1;
    for (; first < argc && argv[first][0] == '-'; first += 2) {
        if (first + 1 >= argc)
            break;
        if (!strcmp(argv[first], "--threads"))
            tlist = argv[first + 1];
        else if (!strcmp(argv[first], "--iters"))
            iters = atoi(argv[first + 1]);
        else if (!strcmp(argv[first], "--warmup"))
            warmup = atoi(argv[first + 1]);
        else
            break;
    }
    if (first >= argc || iters < 1) {
        fprintf(stderr, "usage: nn_cpu_bench [--threads 1,2] [--iters N] [--warmup N] MODEL_DIR...\n");
        return 2;
    }
    for (int i = first; i < argc; i++) {
        char buf[256];
        snprintf(buf, sizeof(buf), "%s", tlist);
        for (char *s = strtok(buf, ","); s; s = strtok(NULL, ","))
            rc |= bench_model(argv[i], atoi(s), iters, warmup);
    }
    return rc;
}
