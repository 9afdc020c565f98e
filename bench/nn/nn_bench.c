/*
 * nn_bench — runs an ONNX model through framepipe's CUDA backend and prints, per configuration
 * (precision fp32/fp16, batch, CUDA graph on/off), frames per second, ms per run, peak GPU memory and
 * which storage precision the backend really ran; plus, once per process, the machine's measured copy
 * bandwidth and cuBLAS GEMM rates (fp16 and fp32), the denominators of the "predicted limit" column.
 *
 * Usage: nn_bench [options] MODEL_DIR...
 *   MODEL_DIR holds model.onnx and step0_in_<input>.npy (bench/models/export.py writes both).
 *   --batch LIST     batches to run, comma-separated (default 1,8): inputs whose first dim is 1 are
 *                    repeated along dim 0; a model with a fixed batch of 1 reports the batch skipped
 *   --prec LIST      fp32,fp16 (default both)
 *   --graph LIST     0,1 (default both)
 *   --iters N        timed runs per configuration (default 50), --warmup N (default 5)
 *   --flops F        FLOPs per frame (e.g. from bench/models/pytorch_bench.py) for the predicted limit;
 *                    default: the plan's own count (Conv/MatMul/Gemm multiply-adds, fp_model_stats)
 *   --bytes B        bytes per frame for the predicted limit; default: the plan's count of every
 *                    step's input and output bytes (no reuse between steps: an upper bound)
 *   --limits-only    measure the machine and exit
 *   --profile N      after each graph-off row, N more runs with per-node CUDA-event timing: the top
 *                    nodes and the time per op type (one "nn_bench_profile:" JSON line per row)
 *   --no-feedback    keep the step0 recurrent inputs; by default, after the first run every input
 *                    named like an output but ending in i instead of o (RVM's r1i..r4i <- r1o..r4o)
 *                    reads that output's buffer, so the timed runs carry real-sized states as a
 *                    video does (and as bench/models/pytorch_bench.py times PyTorch)
 *   --io32           fp16 rows take float32 inputs/outputs (boundary Casts on the device) instead of
 *                    float16 ones (the zero-copy path from the fp16 preprocess kernel, the default)
 * Output: one JSON line per row (machine, then one per configuration), prefixed "nn_bench: ".
 *
 * Inputs and outputs live in device memory (the zero-copy path the media pipeline uses); tiny inputs
 * (<= 8 elements, e.g. RVM's downsample_ratio) stay on the host because their values shape the plan.
 * Peak memory is device-wide (cudaMemGetInfo before load vs lowest free seen), so it includes cuDNN
 * and cuBLAS workspaces, constants and the activation arena.
 *
 * Owns: the bench only. Does not own the runtime or the PyTorch reference (bench/models).
 */
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "framepipe.h"
#include "nn/cuda/nn_cuda_stats.h"
#include "nn/nn_npy.h"
#include "nn/nn_tensor.h"

#define MAXV 32

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int parse_list(const char *s, int *v, int max)
{
    int n = 0;
    while (s && *s && n < max) {
        if (!strncmp(s, "fp32", 4)) { v[n++] = 0; s += 4; }
        else if (!strncmp(s, "fp16", 4)) { v[n++] = 1; s += 4; }
        else { char *end; v[n++] = (int)strtol(s, &end, 10); if (end == s) return -1; s = end; }
        if (*s == ',') s++;
    }
    return n;
}

static size_t used_now(void)
{
    size_t fr = 0, tot = 0;
    cudaMemGetInfo(&fr, &tot);
    return tot - fr;
}

/* ---------------------------------------------------------------- machine limits */

static double gemm_rate(cublasHandle_t h, cudaDataType_t t, int n)
{
    void *a = NULL, *b = NULL, *c = NULL;
    size_t es = t == CUDA_R_16F ? 2 : 4;
    double rate = -1;
    cudaEvent_t e0, e1;
    float one = 1.f, zero = 0.f, ms = 0.f;
    if (cudaMalloc(&a, (size_t)n * n * es) || cudaMalloc(&b, (size_t)n * n * es) || cudaMalloc(&c, (size_t)n * n * es))
        goto out;
    cudaMemset(a, 0, (size_t)n * n * es);
    cudaMemset(b, 0, (size_t)n * n * es);
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
    /* fp32: CUBLAS_COMPUTE_32F is plain FMA (no TF32), the same math the backend's fp32 mode uses. */
    for (int it = 0; it < 3; it++)
        cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, a, t, n, b, t, n, &zero, c, t, n,
                     CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
    cudaEventRecord(e0, 0);
    const int iters = 10;
    for (int it = 0; it < iters; it++)
        if (cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, a, t, n, b, t, n, &zero, c, t, n,
                         CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) != CUBLAS_STATUS_SUCCESS)
            goto out_ev;
    cudaEventRecord(e1, 0);
    if (cudaEventSynchronize(e1) == cudaSuccess && cudaEventElapsedTime(&ms, e0, e1) == cudaSuccess && ms > 0)
        rate = 2.0 * n * (double)n * n * iters / (ms * 1e-3);
out_ev:
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
out:
    cudaFree(a);
    cudaFree(b);
    cudaFree(c);
    return rate;
}

static double copy_bw(void)
{
    size_t bytes = (size_t)1 << 30;
    void *a = NULL, *b = NULL;
    double bw = -1;
    float ms = 0.f;
    cudaEvent_t e0, e1;
    if (cudaMalloc(&a, bytes) || cudaMalloc(&b, bytes))
        goto out;
    cudaMemset(a, 1, bytes);
    cudaEventCreate(&e0);
    cudaEventCreate(&e1);
    cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice);
    cudaEventRecord(e0, 0);
    for (int i = 0; i < 10; i++)
        cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, 0);
    cudaEventRecord(e1, 0);
    /* A device copy reads and writes every byte: count both directions, as a kernel's traffic is. */
    if (cudaEventSynchronize(e1) == cudaSuccess && cudaEventElapsedTime(&ms, e0, e1) == cudaSuccess && ms > 0)
        bw = 2.0 * bytes * 10 / (ms * 1e-3);
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
out:
    cudaFree(a);
    cudaFree(b);
    return bw;
}

/* Recurrent state: input "<x>i" reads output "<x>o"'s device buffer from now on (the runtime copies
 * outputs at the end of a run, after every node has read its inputs). Returns how many were tied. */
static int feed_back(fp_model *m, fp_tensor *in, int nin, const fp_tensor *out, int nout)
{
    int n = 0;
    for (int i = 0; i < nin; i++) {
        fp_value_info vi;
        fp_model_input_info(m, i, &vi);
        size_t len = strlen(vi.name);
        if (len < 2 || vi.name[len - 1] != 'i')
            continue;
        for (int k = 0; k < nout; k++) {
            fp_value_info vo;
            fp_model_output_info(m, k, &vo);
            if (strlen(vo.name) != len || strncmp(vo.name, vi.name, len - 1) || vo.name[len - 1] != 'o' ||
                out[k].device != FP_DEVICE_CUDA)
                continue;
            /* an input declared with fixed dims the state does not have (a [1,1,1,1] export) keeps its
             * step0 value: the runtime would refuse the state */
            int fits = vi.ndim < 0 || vi.ndim == out[k].ndim;
            for (int d = 0; fits && vi.ndim > 0 && d < vi.ndim; d++)
                fits = vi.dims[d] < 0 || vi.dims[d] == out[k].dims[d];
            if (!fits)
                continue;
            in[i] = out[k];
            in[i].owned = 0;
            n++;
        }
    }
    return n;
}

/* ---------------------------------------------------------------- per-node profile */

static int cmp_ms(const void *a, const void *b)
{
    double x = ((const nn_cuda_prof_entry *)a)->ms, y = ((const nn_cuda_prof_entry *)b)->ms;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* `runs` more runs of m with every node timed by CUDA events; prints the top nodes and the time per
 * op type per run, and their sum against the measured wall time per run (the gap is launch overhead
 * and host work, which a CUDA graph removes). */
static void profile_row(fp_model *m, const fp_tensor *in, int nin, fp_tensor *out, int nout, int runs,
                        const char *dir, int fp16, int batch, double ms_per_run)
{
    enum { MAXE = 8192 };
    nn_cuda_prof_entry *t = calloc(MAXE, sizeof(*t)), *ops = calloc(MAXE, sizeof(*ops));
    fp_err e = {0};
    if (!t || !ops) {
        free(t);
        free(ops);
        return;
    }
    nn_cuda_profile_reset();
    nn_cuda_profile_enable(1);
    int ok = 1;
    for (int r = 0; r < runs && ok; r++)
        ok = fp_model_run(m, in, nin, out, nout, &e) == 0;
    nn_cuda_profile_enable(0);
    int n = nn_cuda_profile_get(t, MAXE), nops = 0;
    if (n > MAXE)
        n = MAXE;
    double total = 0;
    for (int i = 0; i < n; i++) {
        total += t[i].ms;
        int k = 0;
        while (k < nops && strcmp(ops[k].op_type, t[i].op_type))
            k++;
        if (k == nops) {
            snprintf(ops[nops].op_type, sizeof(ops[nops].op_type), "%s", t[i].op_type);
            nops++;
        }
        ops[k].ms += t[i].ms;
        ops[k].runs += t[i].runs;
    }
    qsort(t, (size_t)n, sizeof(*t), cmp_ms);
    qsort(ops, (size_t)nops, sizeof(*ops), cmp_ms);
    printf("nn_bench_profile: {\"model\":\"%s\",\"precision\":\"%s\",\"batch\":%d,\"runs\":%d,%s"
           "\"gpu_ms_per_run\":%.3f,\"wall_ms_per_run_graph_off\":%.3f,\"nodes\":%d,\"by_op\":[",
           dir, fp16 ? "fp16" : "fp32", batch, runs, ok ? "" : "\"error\":\"run failed\",", total / runs,
           ms_per_run, n);
    for (int k = 0; k < nops; k++)
        printf("%s{\"op\":\"%s\",\"ms\":%.3f,\"share\":%.3f,\"nodes\":%llu}", k ? "," : "", ops[k].op_type,
               ops[k].ms / runs, total > 0 ? ops[k].ms / total : 0, (unsigned long long)(ops[k].runs / runs));
    printf("],\"top\":[");
    for (int i = 0; i < n && i < 25; i++)
        printf("%s{\"node\":\"%s\",\"op\":\"%s\",\"ms\":%.4f}", i ? "," : "", t[i].name, t[i].op_type,
               t[i].ms / runs);
    printf("]}\n");
    fflush(stdout);
    free(t);
    free(ops);
}

/* ---------------------------------------------------------------- one model */

typedef struct bench_cfg {
    int batches[8], nbatch, precs[2], nprec, graphs[2], ngraph, iters, warmup, profile, io32, no_feedback;
    double flops, bytes, fp16_rate, fp32_rate, bw;
} bench_cfg;

static int bench_model(const char *dir, const bench_cfg *c)
{
    char path[4096];
    fp_err e = {0};
    nn_tensor file_in[MAXV];
    int nin = 0, rc = 0;
    memset(file_in, 0, sizeof(file_in));
    snprintf(path, sizeof(path), "%s/model.onnx", dir);

    /* Input names from a CPU load (keeps the GPU untouched before the measured loads). */
    fp_model *probe = NULL;
    fp_model_opts po = {.backend = "cpu", .threads = 1};
    if (fp_model_load(path, &po, &probe, &e) < 0) {
        printf("nn_bench: {\"model\":\"%s\",\"error\":\"%s\"}\n", dir, e.msg);
        return 1;
    }
    nin = fp_model_num_inputs(probe);
    if (nin > MAXV)
        nin = MAXV;
    for (int i = 0; i < nin; i++) {
        fp_value_info vi;
        fp_model_input_info(probe, i, &vi);
        snprintf(path, sizeof(path), "%s/step0_in_%s.npy", dir, vi.name);
        if (nn_npy_read(path, &file_in[i], &e) < 0) {
            printf("nn_bench: {\"model\":\"%s\",\"error\":\"%s\"}\n", dir, e.msg);
            fp_model_freep(&probe);
            rc = 1;
            goto done;
        }
    }
    fp_model_freep(&probe);
    snprintf(path, sizeof(path), "%s/model.onnx", dir);

    for (int pi = 0; pi < c->nprec; pi++)
        for (int bi = 0; bi < c->nbatch; bi++)
            for (int gi = 0; gi < c->ngraph; gi++) {
                int fp16 = c->precs[pi], batch = c->batches[bi], graph = c->graphs[gi];
                fp_model *m = NULL;
                fp_tensor in[MAXV], out[MAXV];
                void *dev[2 * MAXV] = {0};
                int nout = 0, nfed = 0;
                nn_cuda_stats s0, s1;
                memset(in, 0, sizeof(in));
                memset(out, 0, sizeof(out));
                cudaDeviceSynchronize();
                size_t base = used_now(), peak = base;
                /* one cached plan: the step0 plan (states [1,1,1,1]) is dropped when the fed-back
                 * states make a new one, so peak memory counts one arena, as a video run holds */
                fp_model_opts mo = {.backend = "cuda", .fp16 = fp16, .use_cuda_graph = graph, .max_plans = 1};
                char err[1100] = "";
                if (fp_model_load(path, &mo, &m, &e) < 0) {
                    snprintf(err, sizeof(err), "%s", e.msg);
                    goto row;
                }
                for (int i = 0; i < nin; i++) {
                    nn_tensor *t = &file_in[i];
                    int64_t n1 = nn_tensor_numel(t);
                    in[i].dtype = (fp_dtype)t->dtype;
                    in[i].ndim = t->ndim;
                    memcpy(in[i].dims, t->dims, sizeof(in[i].dims));
                    int rep = 1;
                    if (batch > 1) {
                        if (t->ndim < 1 || t->dims[0] != 1 || n1 <= 8) {
                            rep = 1; /* not batched (or a scalar knob) */
                        } else {
                            rep = batch;
                            in[i].dims[0] = batch;
                        }
                    }
                    size_t nb = nn_tensor_nbytes(t);
                    if (n1 <= 8) {
                        in[i].data = t->data;
                        in[i].device = FP_DEVICE_HOST;
                        continue;
                    }
                    const void *src = t->data;
                    uint16_t *h16 = NULL;
                    if (fp16 && !c->io32 && t->dtype == NN_DT_FLOAT) {
                        /* what the fp16 preprocess kernel hands the model: float16 in device memory */
                        h16 = malloc((size_t)n1 * 2);
                        if (!h16) {
                            snprintf(err, sizeof(err), "out of memory");
                            goto row;
                        }
                        for (int64_t j = 0; j < n1; j++)
                            h16[j] = nn_f32_to_f16(((const float *)t->data)[j]);
                        src = h16;
                        nb = (size_t)n1 * 2;
                        in[i].dtype = FP_DTYPE_FLOAT16;
                    }
                    if (cudaMalloc(&dev[i], nb * rep) != cudaSuccess) {
                        free(h16);
                        snprintf(err, sizeof(err), "cudaMalloc(input) failed");
                        goto row;
                    }
                    for (int r = 0; r < rep; r++)
                        cudaMemcpy((char *)dev[i] + nb * r, src, nb, cudaMemcpyHostToDevice);
                    free(h16);
                    in[i].data = dev[i];
                    in[i].device = FP_DEVICE_CUDA;
                }
                nout = fp_model_num_outputs(m);
                if (nout > MAXV)
                    nout = MAXV;
                if (fp_model_output_shapes(m, in, nin, out, nout, &e) < 0) {
                    snprintf(err, sizeof(err), "%s", e.msg);
                    goto row;
                }
                for (int k = 0; k < nout; k++) {
                    if (fp16 && !c->io32 && out[k].dtype == FP_DTYPE_FLOAT32)
                        out[k].dtype = FP_DTYPE_FLOAT16; /* read in place by an fp16 postprocess */
                    size_t nb = fp_dtype_size(out[k].dtype);
                    for (int d = 0; d < out[k].ndim; d++)
                        nb *= (size_t)out[k].dims[d];
                    if (cudaMalloc(&dev[MAXV + k], nb ? nb : 1) != cudaSuccess) {
                        snprintf(err, sizeof(err), "cudaMalloc(output) failed");
                        goto row;
                    }
                    out[k].data = dev[MAXV + k];
                    out[k].device = FP_DEVICE_CUDA;
                }
                cudaDeviceSynchronize();
                for (int it = 0; it < c->warmup || (it < 2 && !c->no_feedback); it++) {
                    if (fp_model_run(m, in, nin, out, nout, &e) < 0) {
                        snprintf(err, sizeof(err), "%s", e.msg);
                        goto row;
                    }
                    size_t u = used_now();
                    peak = u > peak ? u : peak;
                    if (it == 0 && !c->no_feedback)
                        nfed = feed_back(m, in, nin, out, nout);
                }
                nn_cuda_stats_get(&s0);
                double t0 = now_s();
                for (int it = 0; it < c->iters; it++)
                    if (fp_model_run(m, in, nin, out, nout, &e) < 0) {
                        snprintf(err, sizeof(err), "%s", e.msg);
                        goto row;
                    }
                double dt = now_s() - t0;
                nn_cuda_stats_get(&s1);
                fp_model_stats ms;
                fp_model_get_stats(m, &ms);
                {
                    size_t u = used_now();
                    peak = u > peak ? u : peak;
                }
                {
                    double fps = batch * c->iters / dt;
                    double pred_ms = -1, pred_c = -1, pred_b = -1;
                    double rate = fp16 ? c->fp16_rate : c->fp32_rate;
                    /* per run: the caller's per-frame counts times the batch, else the plan's own
                     * (matrix-op FLOPs and every step's tensor bytes, fp_model_stats) */
                    double fl = c->flops > 0 ? c->flops * batch : ms.last_plan_flops;
                    double by = c->bytes > 0 ? c->bytes * batch : ms.last_plan_bytes;
                    if (fl > 0 && rate > 0)
                        pred_c = fl / rate * 1e3;
                    if (by > 0 && c->bw > 0)
                        pred_b = by / c->bw * 1e3;
                    pred_ms = pred_c > pred_b ? pred_c : pred_b;
                    printf("nn_bench: {\"model\":\"%s\",\"precision\":\"%s\",\"batch\":%d,\"cuda_graph\":%d,"
                           "\"fps\":%.2f,\"ms_per_run\":%.3f,\"peak_gpu_mib\":%.1f,"
                           "\"nodes_fp32\":%llu,\"nodes_fp16\":%llu,\"graph_replays\":%llu,"
                           "\"predicted_ms\":%.3f,\"predicted_compute_ms\":%.3f,\"predicted_memory_ms\":%.3f,"
                           "\"fraction_of_limit\":%.3f,\"io\":\"%s\",\"storage\":\"%s\",\"boundary_casts\":%d,"
                           "\"fused_nodes\":%d,\"steps\":%d,\"states_fed_back\":%d,\"gflop_per_run\":%.3f,"
                           "\"mbytes_per_run\":%.1f}\n",
                           dir, fp16 ? "fp16" : "fp32", batch, graph, fps, dt * 1e3 / c->iters,
                           (peak - base) / 1048576.0, (unsigned long long)(s1.nodes_fp32 - s0.nodes_fp32),
                           (unsigned long long)(s1.nodes_fp16 - s0.nodes_fp16),
                           (unsigned long long)(s1.graph_replays - s0.graph_replays), pred_ms, pred_c, pred_b,
                           pred_ms > 0 ? pred_ms / (dt * 1e3 / c->iters) : -1.0,
                           fp16 && !c->io32 ? "fp16" : "fp32", fp_dtype_name(ms.last_plan_storage),
                           ms.last_plan_casts, ms.fused, ms.last_plan_steps, nfed, fl / 1e9, by / 1e6);
                }
                if (c->profile > 0 && !graph)
                    profile_row(m, in, nin, out, nout, c->profile, dir, fp16, batch, dt * 1e3 / c->iters);
            row:
                if (err[0]) {
                    for (char *p = err; *p; p++)
                        if (*p == '"' || *p == '\\')
                            *p = '\'';
                    printf("nn_bench: {\"model\":\"%s\",\"precision\":\"%s\",\"batch\":%d,\"cuda_graph\":%d,"
                           "\"error\":\"%s\"}\n", dir, fp16 ? "fp16" : "fp32", batch, graph, err);
                    rc = 1;
                }
                fflush(stdout);
                fp_model_freep(&m);
                for (int k = 0; k < 2 * MAXV; k++)
                    cudaFree(dev[k]);
                fp_err_clear(&e);
            }
done:
    for (int i = 0; i < MAXV; i++)
        nn_tensor_free(&file_in[i]);
    return rc;
}

int main(int argc, char **argv)
{
    bench_cfg c;
    memset(&c, 0, sizeof(c));
    c.nbatch = parse_list("1,8", c.batches, 8);
    c.nprec = parse_list("fp32,fp16", c.precs, 2);
    c.ngraph = parse_list("0,1", c.graphs, 2);
    c.iters = 50;
    c.warmup = 5;
    int limits_only = 0, first = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--batch") && v) { c.nbatch = parse_list(v, c.batches, 8); i++; }
        else if (!strcmp(a, "--prec") && v) { c.nprec = parse_list(v, c.precs, 2); i++; }
        else if (!strcmp(a, "--graph") && v) { c.ngraph = parse_list(v, c.graphs, 2); i++; }
        else if (!strcmp(a, "--iters") && v) { c.iters = atoi(v); i++; }
        else if (!strcmp(a, "--warmup") && v) { c.warmup = atoi(v); i++; }
        else if (!strcmp(a, "--flops") && v) { c.flops = atof(v); i++; }
        else if (!strcmp(a, "--bytes") && v) { c.bytes = atof(v); i++; }
        else if (!strcmp(a, "--profile") && v) { c.profile = atoi(v); i++; }
        else if (!strcmp(a, "--io32")) c.io32 = 1;
        else if (!strcmp(a, "--no-feedback")) c.no_feedback = 1;
        else if (!strcmp(a, "--limits-only")) limits_only = 1;
        else if (a[0] == '-') {
            fprintf(stderr, "nn_bench: unknown option %s (see the header of bench/nn/nn_bench.c)\n", a);
            return 2;
        } else {
            if (!first)
                first = i;
        }
    }
    if (c.nbatch <= 0 || c.nprec <= 0 || c.ngraph <= 0 || c.iters <= 0) {
        fprintf(stderr, "nn_bench: bad --batch/--prec/--graph/--iters\n");
        return 2;
    }
    cublasHandle_t h;
    struct cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess || cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) {
        fprintf(stderr, "nn_bench: no usable CUDA device\n");
        return 7;
    }
    c.bw = copy_bw();
    c.fp16_rate = gemm_rate(h, CUDA_R_16F, 8192);
    c.fp32_rate = gemm_rate(h, CUDA_R_32F, 4096);
    cublasDestroy(h);
    printf("nn_bench: {\"machine\":\"%s\",\"copy_bw_gbs\":%.1f,\"gemm_fp16_tflops\":%.1f,\"gemm_fp32_tflops\":%.1f}\n",
           prop.name, c.bw / 1e9, c.fp16_rate / 1e12, c.fp32_rate / 1e12);
    fflush(stdout);
    if (limits_only)
        return 0;
    if (!first) {
        fprintf(stderr, "usage: nn_bench [options] MODEL_DIR...\n");
        return 2;
    }
    int rc = 0;
    for (int i = first; i < argc; i++) {
        if (argv[i][0] == '-') {
            if (strcmp(argv[i], "--limits-only") && strcmp(argv[i], "--io32") && strcmp(argv[i], "--no-feedback"))
                i++;
            continue;
        }
        rc |= bench_model(argv[i], &c);
    }
    return rc;
}
