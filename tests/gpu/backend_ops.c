/*
 * backend_ops — every op the CUDA backend supports, run on the CUDA backend and on the CPU reference
 * with the same random inputs, over a hand-listed set of awkward shapes (ggml's test-backend-ops is the
 * model). GPU machine only (label gpu).
 *
 * For each case and each precision (fp32, fp16, bf16: float tensors stored in that dtype on the GPU;
 * inputs are rounded to it first so both sides see the same values) it prints one line: the normalised
 * error ||a-b||/||b||, max abs and max rel error, NaN/Inf count, guard-byte status (outputs sit between
 * two 256-byte guards filled with 0xA5 that must come back untouched) and a CUDA-graph check (the node
 * captured and replayed on a graph-enabled instance must give bit-identical output). Limits: fp32 1e-5,
 * fp16 1e-3, bf16 8e-3; integer and bool outputs must match exactly. A case the CUDA backend does not
 * support, or whose op has no CPU kernel yet, is SKIPPED (never passed). Exit status non-zero on any
 * failure. Closing line: "backend_ops: N passed, N failed, N skipped".
 *
 * Usage: backend_ops [--seed N] [--op NAME] [--prec fp32|fp16|bf16] [--cpu-only]
 *   --cpu-only checks the case table alone (CPU infer + kernel run, finite outputs) without a GPU: it
 *   runs in CI (ctest nn.backend_ops_cases) so a broken case is found before the GPU run. Without a
 *   CUDA device (and without --cpu-only) the program exits 77 (skipped).
 *
 * Owns: the case table and the comparison. Does not own the kernels (src/nn/cuda, src/nn/ops) or shape
 * inference (the CPU op defs' infer(), used for both sides).
 */
#include <cuda_runtime.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fp_test.h"
#include "nn/nn_backend.h"
#include "nn/nn_fuse.h"
#include "nn/nn_op.h"
#include "nn/nn_tensor.h"

#define GUARD 256
#define MAX_IO 8

enum { GEN_U, GEN_POS, GEN_INT, GEN_BOOL, GEN_VALS, GEN_NONE, GEN_VAR };

/* One input of a case: dtype as the model declares it, shape, how values are made, constant or not. */
typedef struct tin {
    nn_dtype dt;
    int gen;
    int konst;              /* given to both backends as a constant (host data at prepare time) */
    int ndim;
    int64_t dims[NN_MAX_DIMS];
    const double *vals;     /* GEN_VALS: explicit values (numel of them) */
    double lo, hi;          /* GEN_U/GEN_POS/GEN_INT range */
} tin;

#define NARGS(...) ((int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)))
/* Random float input in [-1, 1]; constant variant; positive [0.5, 2]; scalar. */
#define F(...) ((tin){NN_DT_FLOAT, GEN_U, 0, NARGS(__VA_ARGS__), {__VA_ARGS__}, NULL, -1, 1})
#define FC(...) ((tin){NN_DT_FLOAT, GEN_U, 1, NARGS(__VA_ARGS__), {__VA_ARGS__}, NULL, -1, 1})
#define FP(...) ((tin){NN_DT_FLOAT, GEN_POS, 0, NARGS(__VA_ARGS__), {__VA_ARGS__}, NULL, 0.5, 2})
#define FPC(...) ((tin){NN_DT_FLOAT, GEN_POS, 1, NARGS(__VA_ARGS__), {__VA_ARGS__}, NULL, 0.5, 2})
/* Random float input in [lo, hi]. */
#define FR(lo_, hi_, ...) ((tin){NN_DT_FLOAT, GEN_U, 0, NARGS(__VA_ARGS__), {__VA_ARGS__}, NULL, lo_, hi_})
#define FSCALAR ((tin){NN_DT_FLOAT, GEN_U, 0, 0, {0}, NULL, -1, 1})
#define B(...) ((tin){NN_DT_BOOL, GEN_BOOL, 0, NARGS(__VA_ARGS__), {__VA_ARGS__}, NULL, 0, 1})
#define I64(lo_, hi_, ...) ((tin){NN_DT_INT64, GEN_INT, 0, NARGS(__VA_ARGS__), {__VA_ARGS__}, NULL, lo_, hi_})
#define I64C(lo_, hi_, ...) ((tin){NN_DT_INT64, GEN_INT, 1, NARGS(__VA_ARGS__), {__VA_ARGS__}, NULL, lo_, hi_})
/* Constant 1-D value tensors (shapes, axes, scales...). */
#define VI(...) ((tin){NN_DT_INT64, GEN_VALS, 1, 1, {(int64_t)(sizeof((double[]){__VA_ARGS__}) / sizeof(double))}, \
                       (const double[]){__VA_ARGS__}, 0, 0})
#define VF(...) ((tin){NN_DT_FLOAT, GEN_VALS, 1, 1, {(int64_t)(sizeof((double[]){__VA_ARGS__}) / sizeof(double))}, \
                       (const double[]){__VA_ARGS__}, 0, 0})
#define VF0 ((tin){NN_DT_FLOAT, GEN_VALS, 1, 1, {0}, NULL, 0, 0})         /* empty float tensor */
#define VFS(v) ((tin){NN_DT_FLOAT, GEN_VALS, 1, 0, {0}, (const double[]){v}, 0, 0}) /* float scalar */
#define NONE ((tin){NN_DT_UNDEFINED, GEN_NONE, 0, 0, {0}, NULL, 0, 0})

typedef struct prec_desc {
    const char *name;
    nn_precision prec;
    nn_dtype storage;
    double tol;
} prec_desc;

static const prec_desc precs[] = {
    {"fp32", NN_PREC_FP32, NN_DT_FLOAT, 1e-5},
    {"fp16", NN_PREC_FP16, NN_DT_FLOAT16, 1e-3},
    {"bf16", NN_PREC_BF16, NN_DT_BFLOAT16, 8e-3},
};

static struct {
    uint64_t seed, rng;
    const char *only_op;
    const char *only_prec;
    int cpu_only;
    nn_backend_ctx *cpu;
    nn_backend_ctx *gpu[3], *gpu_graph[3];
    uint64_t graph_key;
    int ncase;
} T;

static uint64_t rng_next(void)
{
    /* xorshift64*: reproducible from the printed seed on any machine. */
    uint64_t x = T.rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    T.rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static double rng_uniform(double lo, double hi)
{
    return lo + (hi - lo) * ((double)(rng_next() >> 11) / 9007199254740992.0);
}

/* ---------------------------------------------------------------- attributes: "name=type:value;..." */

/* Parse the attribute mini-language into n->attrs (owned by the node, freed by node_clear). Types:
 * i (int), f (float), s (string), is (ints, comma-separated), fs (floats). */
static int parse_attrs(nn_node *n, const char *spec)
{
    n->nattr = 0;
    n->attrs = NULL;
    if (!spec || !*spec)
        return 0;
    char *dup = strdup(spec), *save = NULL;
    int cap = 1;
    for (const char *p = spec; *p; p++)
        cap += *p == ';';
    n->attrs = calloc((size_t)cap, sizeof(nn_attr));
    for (char *tok = strtok_r(dup, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(tok, '='), *colon = eq ? strchr(eq, ':') : NULL;
        if (!eq || !colon) {
            fprintf(stderr, "backend_ops: bad attribute spec '%s'\n", tok);
            free(dup);
            return -1;
        }
        *eq = 0;
        *colon = 0;
        const char *type = eq + 1, *val = colon + 1;
        nn_attr *a = &n->attrs[n->nattr++];
        a->name = strdup(tok);
        if (!strcmp(type, "i")) {
            a->type = NN_ATTR_INT;
            a->i = strtoll(val, NULL, 10);
        } else if (!strcmp(type, "f")) {
            a->type = NN_ATTR_FLOAT;
            a->f = strtof(val, NULL);
        } else if (!strcmp(type, "s")) {
            a->type = NN_ATTR_STRING;
            a->s = strdup(val);
        } else {
            int cnt = 1;
            for (const char *q = val; *q; q++)
                cnt += *q == ',';
            char *end;
            const char *q = val;
            if (!strcmp(type, "is")) {
                a->type = NN_ATTR_INTS;
                a->ints = calloc((size_t)cnt, sizeof(int64_t));
                for (int k = 0; k < cnt; k++, q = end + (*end == ',')) 
                    a->ints[k] = strtoll(q, &end, 10);
            } else {
                a->type = NN_ATTR_FLOATS;
                a->floats = calloc((size_t)cnt, sizeof(float));
                for (int k = 0; k < cnt; k++, q = end + (*end == ','))
                    a->floats[k] = strtof(q, &end);
            }
            a->n = cnt;
        }
    }
    free(dup);
    return 0;
}

static void node_clear(nn_node *n)
{
    for (int i = 0; i < n->nattr; i++) {
        free(n->attrs[i].name);
        free(n->attrs[i].s);
        free(n->attrs[i].ints);
        free(n->attrs[i].floats);
    }
    free(n->attrs);
    free(n->inputs);
    free(n->outputs);
    free(n->name);
    memset(n, 0, sizeof(*n));
}

/* ---------------------------------------------------------------- helpers */

static void shape_str(const nn_tensor *t, char *buf, size_t len)
{
    if (!t) {
        snprintf(buf, len, "-");
        return;
    }
    nn_shape_str(t, buf, len);
}

static int is_floaty(nn_dtype dt)
{
    return dt == NN_DT_FLOAT || dt == NN_DT_FLOAT16 || dt == NN_DT_BFLOAT16;
}

/* Round a value through the storage dtype (so the CPU sees what the GPU stores). */
static float round_to(nn_dtype storage, float v)
{
    if (storage == NN_DT_FLOAT16)
        return nn_f16_to_f32(nn_f32_to_f16(v));
    if (storage == NN_DT_BFLOAT16)
        return nn_bf16_to_f32(nn_f32_to_bf16(v));
    return v;
}

/* Host buffer holding t's float values converted to dtype `to` (float32/16/bf16). */
static void *convert_host(const nn_tensor *t, nn_dtype to)
{
    int64_t n = nn_tensor_numel(t);
    size_t es = nn_dtype_size(to);
    uint8_t *buf = malloc((size_t)(n ? n : 1) * es);
    const float *src = t->data;
    for (int64_t i = 0; i < n; i++) {
        if (to == NN_DT_FLOAT)
            ((float *)buf)[i] = src[i];
        else if (to == NN_DT_FLOAT16)
            ((uint16_t *)buf)[i] = nn_f32_to_f16(src[i]);
        else
            ((uint16_t *)buf)[i] = nn_f32_to_bf16(src[i]);
    }
    return buf;
}

static double host_get(const void *p, nn_dtype dt, int64_t i)
{
    switch (dt) {
    case NN_DT_FLOAT: return ((const float *)p)[i];
    case NN_DT_FLOAT16: return nn_f16_to_f32(((const uint16_t *)p)[i]);
    case NN_DT_BFLOAT16: return nn_bf16_to_f32(((const uint16_t *)p)[i]);
    case NN_DT_DOUBLE: return ((const double *)p)[i];
    case NN_DT_INT32: return ((const int32_t *)p)[i];
    case NN_DT_INT64: return (double)((const int64_t *)p)[i];
    case NN_DT_INT8: return ((const int8_t *)p)[i];
    case NN_DT_UINT8: case NN_DT_BOOL: return ((const uint8_t *)p)[i];
    default: return NAN;
    }
}

#define CUDA_OK(call, what)                                                                         \
    do {                                                                                            \
        cudaError_t st_ = (call);                                                                   \
        if (st_ != cudaSuccess) {                                                                   \
            snprintf(err, sizeof(err), "%s: %s", what, cudaGetErrorString(st_));                    \
            goto done;                                                                              \
        }                                                                                           \
    } while (0)

/* Runs of a prepared node on a CUDA instance into freshly guarded outputs. The output area is poisoned
 * before every pass (NaN bytes 0xFF, then 0x00, alternating), so an element a kernel leaves unwritten
 * shows as NaN in the first pass and as a difference between passes. Plain: two runs. graph: capture
 * on run_begin/run_end, then three replays. Every pass must be bit-identical to the first: a kernel
 * that reads its own output, accumulates with atomics in varying order, or replays a value baked in at
 * capture fails here. Fills host copies of the first pass (with guards) in hout[]. Returns 0, or -1
 * with err set. */
#define GPU_PASSES_PLAIN 2
#define GPU_PASSES_GRAPH 4
static int gpu_run(const nn_backend *be, nn_backend_ctx *ctx, nn_node *n, nn_tensor **gin, int nin, nn_tensor *gout,
                   int nout, uint8_t **hout, int graph, char *err, size_t errlen)
{
    fp_err e = {0};
    nn_tensor *outp[MAX_IO];
    uint8_t *dev[MAX_IO] = {0}, *tmp = NULL;
    int rc = -1, npass = graph ? GPU_PASSES_GRAPH : GPU_PASSES_PLAIN;
    for (int k = 0; k < nout; k++) {
        size_t nb = nn_tensor_nbytes(&gout[k]);
        if (cudaMalloc((void **)&dev[k], nb + 2 * GUARD) != cudaSuccess ||
            cudaMemset(dev[k], 0xA5, nb + 2 * GUARD) != cudaSuccess) {
            snprintf(err, errlen, "cudaMalloc/memset of output %d failed", k);
            goto out;
        }
        gout[k].data = dev[k] + GUARD;
        gout[k].device = NN_DEV_CUDA;
        outp[k] = &gout[k];
    }
    /* Legacy-stream memsets and uploads are not ordered with the backend's non-blocking stream. */
    if (cudaDeviceSynchronize() != cudaSuccess) {
        snprintf(err, errlen, "device error before the run");
        goto out;
    }
    if (be->prepare_node(ctx, n, gin, nin, outp, nout, &e) < 0) {
        snprintf(err, errlen, "prepare_node: %s", e.msg);
        goto out;
    }
    for (int pass = 0; pass < npass; pass++) {
        for (int k = 0; k < nout; k++)
            if (cudaMemset(dev[k] + GUARD, pass & 1 ? 0x00 : 0xFF, nn_tensor_nbytes(&gout[k])) != cudaSuccess) {
                snprintf(err, errlen, "cudaMemset failed");
                goto out;
            }
        if (cudaDeviceSynchronize() != cudaSuccess) {
            snprintf(err, errlen, "device error before pass %d", pass);
            goto out;
        }
        int replayed = 0;
        if (graph) {
            int r = be->run_begin(ctx, T.graph_key, &e);
            if (r < 0) {
                snprintf(err, errlen, "run_begin: %s", e.msg);
                goto out;
            }
            replayed = r == 1;
            if (pass > 0 && !replayed) {
                snprintf(err, errlen, "run_begin did not replay the captured graph (pass %d)", pass);
                goto out;
            }
        }
        if (!replayed && be->run_node(ctx, n, gin, nin, outp, nout, &e) < 0) {
            if (graph)
                be->run_end(ctx, T.graph_key, NULL);
            snprintf(err, errlen, "run_node: %s", e.msg);
            goto out;
        }
        if (graph && !replayed && be->run_end(ctx, T.graph_key, &e) < 0) {
            snprintf(err, errlen, "run_end: %s", e.msg);
            goto out;
        }
        if (be->sync(ctx, &e) < 0) {
            snprintf(err, errlen, "sync: %s", e.msg);
            goto out;
        }
        for (int k = 0; k < nout; k++) {
            size_t nb = nn_tensor_nbytes(&gout[k]);
            uint8_t *dst = pass == 0 ? (hout[k] = malloc(nb + 2 * GUARD)) : (tmp = malloc(nb + 2 * GUARD));
            if (!dst) {
                snprintf(err, errlen, "out of memory");
                goto out;
            }
            cudaError_t st = cudaMemcpy(dst, dev[k], nb + 2 * GUARD, cudaMemcpyDeviceToHost);
            if (st != cudaSuccess) {
                snprintf(err, errlen, "copy back: %s", cudaGetErrorString(st));
                goto out;
            }
            if (pass > 0) {
                int same = !memcmp(tmp + GUARD, hout[k] + GUARD, nb);
                free(tmp);
                tmp = NULL;
                if (!same) {
                    snprintf(err, errlen, "output %d of %s %d differs from the first run (nondeterministic, reads "
                             "its output, or stale capture)", k, graph ? "replay" : "run", graph ? pass : pass + 1);
                    goto out;
                }
            }
        }
    }
    rc = 0;
out:
    free(tmp);
    be->release_node(ctx, n);
    for (int k = 0; k < nout; k++) {
        cudaFree(dev[k]);
        gout[k].data = NULL;
    }
    return rc;
}

/* ---------------------------------------------------------------- one case */

static void run_case(const char *op, int opset, const char *attrs, int nin, const tin *ins, int nout)
{
    const nn_backend *cuda = &nn_backend_cuda, *cpu = &nn_backend_cpu;
    if (T.only_op && strcmp(T.only_op, op))
        return;
    T.ncase++;
    for (int pi = 0; pi < 3; pi++) {
        const prec_desc *pd = &precs[pi];
        if ((T.only_prec && strcmp(T.only_prec, pd->name)) || (T.cpu_only && pi > 0))
            continue;
        nn_node n;
        nn_tensor hin[MAX_IO], gin_t[MAX_IO], hout[MAX_IO], gout[MAX_IO];
        nn_tensor *hinp[MAX_IO], *ginp[MAX_IO], *houtp[MAX_IO];
        uint8_t *res[MAX_IO] = {0}, *res_g[MAX_IO] = {0};
        void *gbuf[MAX_IO] = {0};
        char err[1200] = "", desc[512], sh[96];
        fp_err e = {0};
        int status = 0; /* 0 pass, 1 fail, 2 skip */
        const char *skip_why = NULL;
        memset(&n, 0, sizeof(n));
        memset(hin, 0, sizeof(hin));
        memset(gin_t, 0, sizeof(gin_t));
        memset(hout, 0, sizeof(hout));
        memset(gout, 0, sizeof(gout));
        T.rng = T.seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t)(T.ncase * 3 + pi + 1));

        size_t dl = (size_t)snprintf(desc, sizeof(desc), "%s-%d %s", op, opset, pd->name);
        for (int i = 0; i < nin && dl < sizeof(desc); i++) {
            if (ins[i].gen == GEN_NONE) {
                dl += (size_t)snprintf(desc + dl, sizeof(desc) - dl, " -");
                continue;
            }
            nn_tensor tmp = {.dtype = ins[i].dt, .ndim = ins[i].ndim};
            memcpy(tmp.dims, ins[i].dims, sizeof(tmp.dims));
            shape_str(&tmp, sh, sizeof(sh));
            dl += (size_t)snprintf(desc + dl, sizeof(desc) - dl, " %s%s%s", ins[i].konst ? "c" : "", sh,
                                   ins[i].dt == NN_DT_FLOAT ? "" : nn_dtype_name(ins[i].dt));
        }
        if (attrs && *attrs && dl < sizeof(desc))
            snprintf(desc + dl, sizeof(desc) - dl, " {%s}", attrs);

        n.name = strdup(op);
        n.op_type = (char *)op;
        /* FusedConv is the runtime's fusion product (com.microsoft, defined in nn_fuse.c) */
        n.domain = (char *)(strcmp(op, "FusedConv") ? "" : "com.microsoft");
        n.opset = opset;
        n.nin = nin;
        n.nout = nout;
        n.inputs = calloc((size_t)nin + 1, sizeof(int));
        n.outputs = calloc((size_t)nout + 1, sizeof(int));
        for (int i = 0; i < nin; i++)
            n.inputs[i] = ins[i].gen == GEN_NONE ? -1 : i;
        for (int k = 0; k < nout; k++)
            n.outputs[k] = nin + k;
        if (parse_attrs(&n, attrs) < 0) {
            status = 1;
            snprintf(err, sizeof(err), "bad attribute spec");
            goto done;
        }
        n.def = strcmp(op, "FusedConv") ? nn_op_find("", op) : &nn_op_fused_conv;
        if (!n.def || !n.def->cpu || !n.def->infer) {
            status = 2;
            skip_why = "no CPU reference kernel registered";
            goto done;
        }

        /* Inputs on the host (CPU side) with values rounded to the storage precision. */
        for (int i = 0; i < nin; i++) {
            const tin *ti = &ins[i];
            hinp[i] = ginp[i] = NULL;
            if (ti->gen == GEN_NONE)
                continue;
            hin[i].dtype = ti->dt;
            if (nn_tensor_set_shape(&hin[i], ti->ndim, ti->dims) < 0 || nn_tensor_alloc(&hin[i]) < 0) {
                status = 1;
                snprintf(err, sizeof(err), "input %d: bad shape or out of memory", i);
                goto done;
            }
            int64_t cnt = nn_tensor_numel(&hin[i]);
            for (int64_t j = 0; j < cnt; j++) {
                double v;
                switch (ti->gen) {
                case GEN_VALS: v = ti->vals[j]; break;
                case GEN_INT: v = floor(rng_uniform(ti->lo, ti->hi + 1)); if (v > ti->hi) v = ti->hi; break;
                case GEN_BOOL: v = (double)(rng_next() >> 63); break;
                default: v = rng_uniform(ti->lo, ti->hi); break;
                }
                switch (ti->dt) {
                case NN_DT_FLOAT: ((float *)hin[i].data)[j] = ti->gen == GEN_VALS ? (float)v : round_to(pd->storage, (float)v); break;
                case NN_DT_INT64: ((int64_t *)hin[i].data)[j] = (int64_t)v; break;
                case NN_DT_INT32: ((int32_t *)hin[i].data)[j] = (int32_t)v; break;
                case NN_DT_BOOL: case NN_DT_UINT8: ((uint8_t *)hin[i].data)[j] = (uint8_t)v; break;
                default: break;
                }
            }
            hinp[i] = &hin[i];
        }
        /* Shapes from the CPU op's inference (the same shapes the CUDA side gets). */
        for (int k = 0; k < nout; k++)
            houtp[k] = &hout[k];
        if (n.def->infer(&n, hinp, nin, houtp, nout, &e) < 0) {
            status = 1;
            snprintf(err, sizeof(err), "CPU infer: %s", e.msg);
            goto done;
        }
        for (int k = 0; k < nout; k++)
            if (nn_tensor_alloc(&hout[k]) < 0) {
                status = 1;
                snprintf(err, sizeof(err), "out of memory");
                goto done;
            }

        if (T.cpu_only) {
            /* The case table alone: the CPU must accept the case and produce finite values. */
            if (cpu->run_node(T.cpu, &n, hinp, nin, houtp, nout, &e) < 0) {
                status = 1;
                snprintf(err, sizeof(err), "CPU kernel: %s", e.msg);
                goto done;
            }
            int64_t bad = 0;
            for (int k = 0; k < nout; k++)
                for (int64_t j = 0; j < nn_tensor_numel(&hout[k]); j++)
                    bad += !isfinite(host_get(hout[k].data, hout[k].dtype, j));
            if (bad) {
                status = 1;
                snprintf(err, sizeof(err), "CPU output has %lld non-finite values", (long long)bad);
                goto done;
            }
            printf("CASE %s: CPU ok\n", desc);
            fp_test_passed++;
            goto done;
        }
        /* GPU side: constants stay host tensors (as the runtime passes them); the rest are uploaded in
         * the storage dtype. */
        for (int i = 0; i < nin; i++) {
            if (!hinp[i])
                continue;
            gin_t[i] = hin[i];
            gin_t[i].owned = 0;
            if (ins[i].konst) {
                ginp[i] = &gin_t[i];
                continue;
            }
            nn_dtype sdt = hin[i].dtype == NN_DT_FLOAT ? pd->storage : hin[i].dtype;
            void *hb = hin[i].dtype == NN_DT_FLOAT ? convert_host(&hin[i], sdt) : NULL;
            gin_t[i].dtype = sdt;
            size_t nb = nn_tensor_nbytes(&gin_t[i]);
            CUDA_OK(cudaMalloc(&gbuf[i], nb ? nb : 1), "cudaMalloc(input)");
            CUDA_OK(cudaMemcpy(gbuf[i], hb ? hb : hin[i].data, nb, cudaMemcpyHostToDevice), "upload input");
            free(hb);
            gin_t[i].data = gbuf[i];
            gin_t[i].device = NN_DEV_CUDA;
            ginp[i] = &gin_t[i];
        }
        for (int k = 0; k < nout; k++) {
            gout[k] = hout[k];
            gout[k].owned = 0;
            gout[k].data = NULL;
            if (gout[k].dtype == NN_DT_FLOAT)
                gout[k].dtype = pd->storage;
            houtp[k] = &gout[k];
        }
        {
            const char *why = NULL;
            if (!cuda->supports_op(T.gpu[pi], &n, ginp, nin, houtp, nout, &why)) {
                status = 2;
                skip_why = why ? why : "not supported";
                goto done;
            }
        }
        /* CPU reference (fp32) on the rounded inputs. */
        for (int k = 0; k < nout; k++)
            houtp[k] = &hout[k];
        if (cpu->run_node(T.cpu, &n, hinp, nin, houtp, nout, &e) < 0) {
            /* The CPU refusing is not a CUDA result: skip, and say so. */
            status = 2;
            snprintf(err, sizeof(err), "CPU kernel: %s", e.msg);
            skip_why = err;
            goto done;
        }
        if (gpu_run(cuda, T.gpu[pi], &n, ginp, nin, gout, nout, res, 0, err, sizeof(err)) < 0) {
            status = 1;
            goto done;
        }
        {
            /* The same node captured as a CUDA graph on a graph-enabled instance, replayed once. */
            char gerr[1200] = "";
            T.graph_key++;
            int grc = gpu_run(cuda, T.gpu_graph[pi], &n, ginp, nin, gout, nout, res_g, 1, gerr, sizeof(gerr));
            for (int k = 0; k < nout; k++) {
                double sq = 0, sqref = 0, maxabs = 0, maxrel = 0;
                int64_t cnt = nn_tensor_numel(&hout[k]), nan = 0, mism = 0;
                size_t nb = nn_tensor_nbytes(&gout[k]);
                int guard_ok = 1, graph_ok = grc == 0;
                for (int g = 0; g < GUARD; g++)
                    if (res[k][g] != 0xA5 || res[k][GUARD + nb + g] != 0xA5)
                        guard_ok = 0;
                if (graph_ok && memcmp(res[k] + GUARD, res_g[k] + GUARD, nb) != 0)
                    graph_ok = 0;
                for (int64_t j = 0; j < cnt; j++) {
                    double a = host_get(res[k] + GUARD, gout[k].dtype, j);
                    double b = host_get(hout[k].data, hout[k].dtype, j);
                    if (!isfinite(a) != !isfinite(b) || (isnan(a) != isnan(b))) {
                        nan++;
                        continue;
                    }
                    if (!isfinite(b)) {
                        if (a != b && !(isnan(a) && isnan(b)))
                            nan++;
                        continue;
                    }
                    double d = fabs(a - b);
                    sq += d * d;
                    sqref += b * b;
                    if (d > maxabs)
                        maxabs = d;
                    if (fabs(b) > 1e-6 && d / fabs(b) > maxrel)
                        maxrel = d / fabs(b);
                    if (a != b)
                        mism++;
                }
                double nerr = sqref > 0 ? sqrt(sq / sqref) : sqrt(sq);
                int exact = !is_floaty(hout[k].dtype);
                int ok = guard_ok && nan == 0 && (exact ? mism == 0 : nerr <= pd->tol);
                char osh[96];
                shape_str(&hout[k], osh, sizeof(osh));
                if (!ok || !graph_ok)
                    status = 1;
                printf("%s %s -> out%d%s%s err=%.3g maxabs=%.3g maxrel=%.3g nan=%" PRId64 "%s guard=%s graph=%s%s%s\n",
                       ok && graph_ok ? "PASS" : "FAIL", desc, k, osh,
                       exact ? nn_dtype_name(hout[k].dtype) : "", nerr, maxabs, maxrel, nan,
                       exact ? (mism ? " MISMATCH" : " exact") : "", guard_ok ? "ok" : "CLOBBERED",
                       graph_ok ? "ok" : "FAIL", grc < 0 ? ": " : "", grc < 0 ? gerr : "");
            }
            if (status == 0)
                fp_test_passed++;
            else
                fp_test_failed++;
            status = -1; /* reported */
        }
done:
        if (status == 1) {
            fp_test_failed++;
            printf("FAIL %s: %s\n", desc, err);
        } else if (status == 2) {
            fp_test_skipped++;
            printf("SKIP %s: %s\n", desc, skip_why);
        }
        fflush(stdout);
        for (int i = 0; i < MAX_IO; i++) {
            nn_tensor_free(&hin[i]);
            nn_tensor_free(&hout[i]);
            if (gbuf[i])
                cudaFree(gbuf[i]);
            free(res[i]);
            free(res_g[i]);
        }
        n.op_type = NULL;
        n.domain = NULL;
        node_clear(&n);
    }
}

#define CASE(op, opset, attrs, nout, ...)                                                        \
    do {                                                                                         \
        const tin ins_[] = {__VA_ARGS__};                                                        \
        run_case(op, opset, attrs, (int)(sizeof(ins_) / sizeof(ins_[0])), ins_, nout);           \
    } while (0)

/* ---------------------------------------------------------------- the cases */

static void cases_elementwise(void)
{
    static const char *bin[] = {"Add", "Sub", "Mul", "Max", "Min", "PRelu", NULL};
    for (const char **o = bin; *o; o++) {
        CASE(*o, 14, "", 1, F(7), F(7));
        CASE(*o, 14, "", 1, F(2, 3, 7, 9), F(2, 3, 7, 9));
        CASE(*o, 14, "", 1, F(8, 3, 7, 129), F(3, 1, 1));
        if (strcmp(*o, "PRelu")) /* PRelu's slope broadcasts one way only */
            CASE(*o, 14, "", 1, F(1, 129), F(7, 1));
        CASE(*o, 14, "", 1, F(3, 5), FSCALAR);
        CASE(*o, 14, "", 1, F(8, 16, 3, 3), FC(16, 1, 1));
    }
    CASE("Div", 14, "", 1, F(2, 3, 7, 9), FP(2, 3, 7, 9));
    CASE("Div", 14, "", 1, F(8, 3, 7, 129), FPC(3, 1, 1));
    CASE("Pow", 15, "", 1, FP(3, 7, 9), F(3, 7, 9));
    CASE("Pow", 15, "", 1, FP(3, 7, 9), VFS(2.0));
    CASE("Add", 14, "", 1, I64(-100, 100, 7, 3), I64(-100, 100, 7, 3));
    CASE("Mul", 14, "", 1, I64(-100, 100, 7, 3), I64(-100, 100, 3));
    CASE("Div", 14, "", 1, I64(-100, 100, 7, 3), I64(1, 9, 3));
    CASE("Mod", 13, "", 1, I64(-100, 100, 7, 3), I64(1, 9, 3));
    CASE("Mod", 13, "fmod=i:1", 1, I64(-100, 100, 7, 3), I64(-9, -1, 3));
    CASE("Mod", 13, "fmod=i:1", 1, F(7, 9), FP(7, 9));
    CASE("Mod", 13, "", 1, F(7, 9), FP(9));
    CASE("Sum", 13, "", 1, F(2, 7, 9), F(7, 9), F(2, 1, 9));
    CASE("Mean", 13, "", 1, F(2, 7, 9), F(7, 9), F(2, 1, 9));
    CASE("Max", 13, "", 1, F(2, 7, 9), F(7, 9), F(2, 1, 9));
    static const char *cmp[] = {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", NULL};
    for (const char **o = cmp; *o; o++) {
        CASE(*o, 16, "", 1, F(3, 7, 129), F(3, 7, 129));
        CASE(*o, 16, "", 1, F(8, 3, 7, 9), F(3, 1, 9));
        CASE(*o, 16, "", 1, I64(-3, 3, 7, 9), I64(-3, 3, 9));
    }
    CASE("And", 7, "", 1, B(3, 7, 9), B(7, 9));
    CASE("Or", 7, "", 1, B(3, 7, 9), B(3, 7, 9));
    CASE("Xor", 7, "", 1, B(3, 7, 9), B(1, 9));
    CASE("Where", 16, "", 1, B(3, 7, 9), F(3, 7, 9), F(7, 9));
    CASE("Where", 16, "", 1, B(1, 9), F(8, 3, 1, 9), FSCALAR);
    CASE("Where", 16, "", 1, B(7, 3), I64(-5, 5, 7, 3), I64(-5, 5, 3));

    static const char *un[] = {"Relu", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "LeakyRelu", "Elu",
                               "Selu", "Softplus", "Softsign", "Exp", "Neg", "Abs", "Erf", "Floor", "Ceil",
                               "Round", "Sign", "Sin", "Cos", NULL};
    for (const char **o = un; *o; o++) {
        CASE(*o, 14, "", 1, F(1));
        CASE(*o, 14, "", 1, F(3, 7, 129));
        CASE(*o, 14, "", 1, F(8, 5, 7, 9));
    }
    CASE("HardSigmoid", 6, "alpha=f:0.3;beta=f:0.4", 1, F(3, 7, 129));
    CASE("LeakyRelu", 16, "alpha=f:0.1", 1, F(3, 7, 129));
    CASE("Elu", 6, "alpha=f:0.5", 1, F(3, 7, 129));
    CASE("Relu", 14, "", 1, I64(-9, 9, 7, 3));
    CASE("Abs", 13, "", 1, I64(-9, 9, 7, 3));
    static const char *pos[] = {"Log", "Sqrt", "Reciprocal", NULL};
    for (const char **o = pos; *o; o++) {
        CASE(*o, 13, "", 1, FP(1));
        CASE(*o, 13, "", 1, FP(3, 7, 129));
    }
    CASE("Clip", 13, "", 1, F(3, 7, 129), VFS(-0.5), VFS(0.25));
    CASE("Clip", 13, "", 1, F(8, 3, 7, 9), NONE, VFS(0.25));
    CASE("Clip", 6, "min=f:-0.2;max=f:0.6", 1, F(3, 7, 129));
    CASE("Not", 1, "", 1, B(3, 7, 9));
    CASE("Cast", 13, "to=i:7", 1, F(3, 7, 9));
    CASE("Cast", 13, "to=i:1", 1, I64(-1000, 1000, 3, 7, 9));
    CASE("Cast", 13, "to=i:10", 1, F(3, 7, 9));
    CASE("Cast", 13, "to=i:9", 1, F(3, 7, 9));
    CASE("Cast", 13, "to=i:6", 1, I64(-1000, 1000, 129));
}

static void cases_shape(void)
{
    CASE("Identity", 16, "", 1, F(3, 7, 129));
    CASE("Reshape", 14, "", 1, F(2, 3, 7, 9), VI(6, -1));
    CASE("Flatten", 13, "axis=i:2", 1, F(2, 3, 7, 9));
    CASE("Squeeze", 13, "", 1, F(3, 1, 7, 1), VI(1, 3));
    CASE("Unsqueeze", 13, "", 1, F(3, 7), VI(0, 3));
    CASE("Transpose", 13, "perm=is:0,2,3,1", 1, F(2, 3, 7, 9));
    CASE("Transpose", 13, "perm=is:2,0,1", 1, F(3, 7, 129));
    CASE("Transpose", 13, "", 1, F(8, 3, 7, 5));
    CASE("Transpose", 13, "perm=is:1,0", 1, I64(-9, 9, 7, 129));
    CASE("Concat", 13, "axis=i:1", 1, F(2, 3, 7, 9), F(2, 5, 7, 9), F(2, 1, 7, 9));
    CASE("Concat", 13, "axis=i:-1", 1, F(8, 3, 7), F(8, 3, 129));
    CASE("Concat", 13, "axis=i:0", 1, I64(0, 9, 3), I64(0, 9, 1), VI(5, 6));
    CASE("Split", 13, "axis=i:1", 2, F(2, 7, 3, 9), VI(2, 5));
    CASE("Split", 13, "axis=i:-1", 3, F(8, 3, 129), VI(1, 100, 28));
    CASE("Split", 13, "axis=i:0", 3, F(9, 7));
    /* rows of >= 512 bytes (the refiner's full-resolution Concat/Split): the 2-D memcpy path */
    CASE("Concat", 13, "axis=i:1", 1, F(2, 3, 33, 129), F(2, 1, 33, 129));
    CASE("Split", 13, "axis=i:1", 2, F(2, 7, 33, 65), VI(3, 4));
    CASE("Slice", 13, "", 1, F(2, 3, 7, 129), VI(1, 0), VI(7, 100), VI(2, 3), VI(2, 3));
    CASE("Slice", 13, "", 1, F(3, 7, 9), VI(-1), VI(-100), VI(2), VI(-2));
    CASE("Slice", 13, "", 1, F(8, 16, 7, 9), VI(0, 4), VI(8, 12), VI(0, 1));
    CASE("Slice", 13, "", 1, I64(0, 99, 7), VI(2), VI(-1));
    CASE("Expand", 13, "", 1, F(3, 1), VI(2, 3, 7));
    CASE("Expand", 13, "", 1, F(1, 129), VI(8, 1, 1));
    CASE("DepthToSpace", 13, "blocksize=i:2;mode=s:DCR", 1, F(1, 8, 3, 7));
    CASE("DepthToSpace", 13, "blocksize=i:2;mode=s:CRD", 1, F(2, 12, 7, 5));
    CASE("DepthToSpace", 13, "blocksize=i:3;mode=s:DCR", 1, F(1, 9, 1, 129));
    CASE("SpaceToDepth", 13, "blocksize=i:2", 1, F(2, 3, 6, 14));
    CASE("Tile", 13, "", 1, F(3, 7, 5), VI(2, 1, 3));
    CASE("Pad", 13, "mode=s:constant", 1, F(1, 3, 7, 9), VI(0, 0, 1, 2, 0, 0, 3, 1), VFS(0.5));
    CASE("Pad", 13, "mode=s:reflect", 1, F(1, 3, 7, 9), VI(0, 0, 2, 2, 0, 0, 2, 2));
    CASE("Pad", 13, "mode=s:edge", 1, F(8, 3, 7, 9), VI(0, 0, 3, 1, 0, 0, 0, 4));
    CASE("Gather", 13, "axis=i:0", 1, F(7, 9), I64C(-7, 6, 5));
    CASE("Gather", 13, "axis=i:1", 1, F(3, 129, 5), I64(-129, 128, 2, 7));
    CASE("Gather", 13, "axis=i:0", 1, I64(0, 99, 7), I64C(0, 6, 1));
    CASE("Shape", 15, "", 1, F(2, 3, 7, 9));
    CASE("Shape", 15, "start=i:1;end=i:-1", 1, F(2, 3, 7, 9));
    CASE("Size", 13, "", 1, F(8, 3, 129));
    CASE("TopK", 11, "axis=i:-1", 2, F(3, 129), VI(5));
    CASE("TopK", 11, "axis=i:1;largest=i:0", 2, F(2, 7, 9), VI(7));
    CASE("TopK", 11, "axis=i:0", 2, I64(0, 3, 1), VI(1)); /* int64: skipped (float only) */
    CASE("TopK", 11, "axis=i:-1", 2, F(1, 8400), VI(100));
    CASE("TopK", 11, "axis=i:-1", 2, FR(-2, 2, 2, 1000), VI(1000));
}

static void cases_conv(void)
{
    CASE("Conv", 11, "pads=is:1,1,1,1", 1, F(1, 3, 7, 9), FC(8, 3, 3, 3), FC(8));
    CASE("Conv", 11, "pads=is:1,1,1,1;strides=is:2,2", 1, F(8, 3, 7, 129), FC(16, 3, 3, 3), FC(16));
    CASE("Conv", 11, "pads=is:2,2,2,2;dilations=is:2,2", 1, F(1, 5, 7, 9), FC(7, 5, 3, 3));
    CASE("Conv", 11, "pads=is:1,1,1,1;group=i:16", 1, F(1, 16, 7, 129), FC(16, 1, 3, 3), FC(16));
    CASE("Conv", 11, "pads=is:2,2,2,2;group=i:24;strides=is:2,2", 1, F(8, 24, 7, 9), FC(24, 1, 5, 5), FC(24));
    CASE("Conv", 11, "", 1, F(8, 24, 7, 9), FC(40, 24, 1, 1), FC(40));
    CASE("Conv", 11, "group=i:2", 1, F(2, 6, 7, 9), FC(4, 3, 1, 1));
    CASE("Conv", 11, "pads=is:1,1,1,1", 1, F(1, 3, 7, 9), F(8, 3, 3, 3), F(8));
    CASE("Conv", 11, "pads=is:2,2;strides=is:1", 1, F(2, 4, 129), FC(6, 4, 5), FC(6));
    CASE("Conv", 11, "auto_pad=s:SAME_UPPER", 1, F(1, 3, 7, 9), FC(8, 3, 3, 3));
    /* Asymmetric pads (TF-exported SAME convolutions): the input is padded explicitly. */
    CASE("Conv", 11, "pads=is:0,0,1,1", 1, F(1, 3, 7, 9), FC(8, 3, 3, 3));
    CASE("Conv", 11, "pads=is:2,0,1,3;strides=is:2,2", 1, F(2, 5, 9, 7), FC(4, 5, 3, 3), FC(4));
    CASE("Conv", 11, "pads=is:0,2", 1, F(1, 4, 129), FC(3, 4, 3));
    CASE("Conv", 11, "pads=is:1,0,0,1;group=i:3", 1, F(8, 3, 7, 9), FC(3, 1, 3, 3), FC(3));
    CASE("ConvTranspose", 11, "strides=is:2,2;pads=is:1,1,1,1;output_padding=is:1,1", 1, F(1, 8, 7, 9),
         FC(8, 4, 3, 3), FC(4));
    CASE("ConvTranspose", 11, "strides=is:2,2", 1, F(8, 6, 3, 5), FC(6, 4, 2, 2), FC(4));
    CASE("ConvTranspose", 11, "strides=is:2,2;group=i:2;pads=is:1,1,1,1", 1, F(1, 8, 7, 9), FC(8, 3, 4, 4));
    /* A keypoint head's deconvolution (4x4, stride 2): big enough that cuDNN's fastest candidate can be
     * the atomics-based BWD_DATA_ALGO_0, which the backend must not pick (the repeated runs catch it). */
    CASE("ConvTranspose", 11, "strides=is:2,2;pads=is:1,1,1,1", 1, F(1, 64, 16, 12), FC(64, 64, 4, 4), FC(64));
    /* BasicVSR++'s alignment: 16 offset groups, 3x3, mask; offsets reach past the borders. */
    CASE("DeformConv", 19, "pads=is:1,1,1,1;offset_group=i:16", 1, F(1, 32, 7, 9), FC(16, 32, 3, 3),
         FR(-3, 3, 1, 16 * 18, 7, 9), FC(16), F(1, 16 * 9, 7, 9));
    CASE("DeformConv", 19, "pads=is:1,1,1,1;offset_group=i:2;group=i:2", 1, F(2, 4, 5, 7), FC(6, 2, 3, 3),
         FR(-2, 2, 2, 36, 5, 7));
    CASE("DeformConv", 19, "strides=is:2,2;dilations=is:2,2;pads=is:2,2,2,2", 1, F(8, 3, 9, 9), F(5, 3, 3, 3),
         FR(-1.5, 1.5, 8, 18, 5, 5), NONE, F(8, 9, 5, 5));
    /* FusedConv: Conv with the activation in its bias epilogue, each activation, with and without bias */
    CASE("FusedConv", 11, "pads=is:1,1,1,1;activation=s:Relu", 1, F(1, 3, 7, 9), FC(8, 3, 3, 3), FC(8));
    CASE("FusedConv", 11, "pads=is:1,1,1,1;group=i:16;activation=s:HardSwish", 1, F(8, 16, 7, 129), FC(16, 1, 3, 3),
         FC(16));
    CASE("FusedConv", 11, "activation=s:Clip;activation_params=fs:0,6", 1, F(2, 24, 7, 9), FC(40, 24, 1, 1), FC(40));
    CASE("FusedConv", 11, "strides=is:2,2;pads=is:1,1,1,1;activation=s:LeakyRelu;activation_params=fs:0.1", 1,
         F(1, 5, 9, 7), FC(6, 5, 3, 3));
    CASE("FusedConv", 11, "activation=s:HardSigmoid;activation_params=fs:0.2,0.5", 1, F(1, 6, 7, 9), FC(6, 6, 1, 1),
         FC(6));
    CASE("FusedConv", 11, "pads=is:1,1,1,1;activation=s:Sigmoid", 1, F(1, 3, 7, 9), FC(4, 3, 3, 3), FC(4));
    CASE("FusedConv", 11, "pads=is:1,1,1,1;activation=s:Tanh", 1, F(1, 3, 7, 9), FC(4, 3, 3, 3));
    /* output planes of a multiple of 16 bytes: the vectorised epilogue */
    CASE("FusedConv", 11, "pads=is:1,1,1,1;activation=s:HardSwish", 1, F(2, 3, 8, 16), FC(8, 3, 3, 3), FC(8));
    CASE("Conv", 11, "pads=is:1,1,1,1", 1, F(2, 3, 8, 16), FC(8, 3, 3, 3), FC(8));
    CASE("BatchNormalization", 15, "epsilon=f:1e-5", 1, F(8, 16, 7, 9), FC(16), FC(16), FC(16), FPC(16));
    CASE("BatchNormalization", 15, "", 1, F(1, 3, 129), FC(3), FC(3), FC(3), FPC(3));
}

static void cases_gemm(void)
{
    CASE("MatMul", 13, "", 1, F(7, 129), F(129, 3));
    CASE("MatMul", 13, "", 1, F(3, 7, 129), FC(129, 9));
    CASE("MatMul", 13, "", 1, F(8, 3, 7, 9), F(8, 3, 9, 5));
    CASE("MatMul", 13, "", 1, F(7), F(7, 3));
    CASE("MatMul", 13, "", 1, F(3, 7, 9), F(9));
    CASE("MatMul", 13, "", 1, F(1, 7, 9), F(8, 9, 5));
    /* Mixed batch broadcasting: an outer host loop around strided-batched GEMMs. */
    CASE("MatMul", 13, "", 1, F(2, 1, 4, 5), F(3, 5, 6));
    CASE("MatMul", 13, "", 1, F(3, 1, 2, 4, 5), F(2, 1, 5, 6));
    CASE("MatMul", 13, "", 1, F(1, 3, 4, 5), F(2, 1, 5, 7));
    CASE("MatMul", 13, "", 1, F(2, 3, 7), F(3, 1, 7, 4));
    CASE("Gemm", 13, "", 1, F(7, 129), FC(129, 3), FC(3));
    CASE("Gemm", 13, "transB=i:1;alpha=f:0.5;beta=f:2", 1, F(8, 129), FC(33, 129), FC(8, 33));
    CASE("Gemm", 13, "transA=i:1", 1, F(9, 7), F(9, 5), F(1, 5));
    CASE("Gemm", 13, "transA=i:1;transB=i:1", 1, F(3, 1), F(1, 3));
}

static void cases_pool(void)
{
    CASE("MaxPool", 12, "kernel_shape=is:3,3;strides=is:2,2;pads=is:1,1,1,1", 1, F(1, 3, 7, 129));
    CASE("MaxPool", 12, "kernel_shape=is:2,2;strides=is:2,2;ceil_mode=i:1", 1, F(8, 3, 7, 9));
    CASE("MaxPool", 12, "kernel_shape=is:3,3;dilations=is:2,2", 1, F(1, 5, 9, 9));
    CASE("MaxPool", 12, "kernel_shape=is:3;strides=is:1;pads=is:1,1", 1, F(2, 4, 129));
    CASE("AveragePool", 11, "kernel_shape=is:3,3;strides=is:2,2;pads=is:1,1,1,1", 1, F(1, 3, 7, 129));
    CASE("AveragePool", 11, "kernel_shape=is:3,3;strides=is:2,2;pads=is:1,1,1,1;count_include_pad=i:1", 1,
         F(8, 3, 7, 9));
    CASE("AveragePool", 11, "kernel_shape=is:2,2;strides=is:2,2;ceil_mode=i:1", 1, F(1, 3, 7, 9));
    CASE("AveragePool", 11, "kernel_shape=is:3,3;pads=is:0,0,2,2", 1, F(1, 2, 5, 5));
    CASE("GlobalAveragePool", 1, "", 1, F(8, 16, 7, 9));
    CASE("GlobalAveragePool", 1, "", 1, F(1, 3, 129, 129));
    CASE("GlobalMaxPool", 1, "", 1, F(2, 7, 3, 5));
}

static void cases_gridsample(void)
{
    static const char *modes[] = {"bilinear", "nearest", "bicubic"};
    static const char *pads[] = {"zeros", "border", "reflection"};
    char attrs[128];
    for (int m = 0; m < 3; m++)
        for (int p = 0; p < 3; p++)
            for (int a = 0; a < 2; a++) {
                snprintf(attrs, sizeof(attrs), "mode=s:%s;padding_mode=s:%s;align_corners=i:%d", modes[m], pads[p], a);
                CASE("GridSample", 16, attrs, 1, F(2, 3, 7, 9), FR(-1.3, 1.3, 2, 5, 11, 2));
            }
    CASE("GridSample", 16, "", 1, F(1, 16, 33, 129), FR(-1, 1, 1, 7, 129, 2));
    CASE("GridSample", 20, "mode=s:linear", 1, F(8, 3, 7, 9), FR(-1.1, 1.1, 8, 7, 9, 2));
}

static void cases_reduce(void)
{
    CASE("ReduceMean", 13, "axes=is:2,3;keepdims=i:1", 1, F(8, 16, 7, 9));
    CASE("ReduceMean", 13, "axes=is:1;keepdims=i:0", 1, F(3, 129, 7));
    CASE("ReduceSum", 13, "keepdims=i:1", 1, F(3, 7, 129), VI(-1));
    CASE("ReduceSum", 13, "keepdims=i:0", 1, F(3, 7, 9), VI(0, 2));
    CASE("ReduceMax", 13, "axes=is:1;keepdims=i:0", 1, F(8, 7, 9));
    CASE("ReduceMin", 13, "axes=is:0,2", 1, F(3, 7, 9));
    CASE("ReduceL2", 13, "axes=is:-1", 1, F(7, 129));
    CASE("ReduceL1", 13, "", 1, F(3, 7));
    CASE("ReduceSumSquare", 13, "axes=is:1", 1, F(3, 7, 9));
    CASE("ReduceLogSumExp", 13, "axes=is:1", 1, F(3, 129));
    CASE("ReduceProd", 13, "axes=is:1", 1, FP(3, 7));
    CASE("ReduceMean", 18, "keepdims=i:1", 1, F(2, 3, 7, 9), VI(1, 3));
    /* the matting refiner's channel mean at (small) full resolution: one thread per output pixel */
    CASE("ReduceMean", 13, "axes=is:1;keepdims=i:1", 1, F(2, 3, 33, 129));
    CASE("Softmax", 13, "axis=i:1", 1, F(1, 5, 33, 129));
    CASE("ReduceLogSumExp", 13, "axes=is:1", 1, F(2, 4, 9, 129));
    CASE("ArgMax", 13, "axis=i:1;keepdims=i:1", 1, F(8, 129, 3));
    CASE("ArgMax", 13, "axis=i:-1;keepdims=i:0", 1, F(7, 129));
    CASE("ArgMin", 13, "axis=i:0;select_last_index=i:1", 1, F(9, 3, 7));
    CASE("Softmax", 13, "axis=i:-1", 1, F(8, 129));
    CASE("Softmax", 13, "axis=i:1", 1, F(2, 7, 3, 9));
    CASE("Softmax", 11, "axis=i:1", 1, F(2, 3, 7, 9));
    CASE("Softmax", 13, "", 1, F(1, 1));
    CASE("LogSoftmax", 13, "axis=i:-1", 1, F(3, 7, 129));
    CASE("LayerNormalization", 17, "axis=i:-1;epsilon=f:1e-5", 1, F(2, 7, 129), FC(129), FC(129));
    CASE("LayerNormalization", 17, "axis=i:1", 1, F(8, 3, 7), FC(3, 7));
    CASE("InstanceNormalization", 6, "epsilon=f:1e-5", 1, F(2, 16, 7, 9), FC(16), FC(16));
    CASE("InstanceNormalization", 6, "", 1, F(1, 3, 129, 7), FC(3), FC(3));
}

static void cases_resize(void)
{
    CASE("Resize", 13, "mode=s:nearest", 1, F(1, 3, 7, 9), NONE, VF(1, 1, 2, 2));
    CASE("Resize", 13, "mode=s:nearest;coordinate_transformation_mode=s:asymmetric;nearest_mode=s:floor", 1,
         F(8, 3, 7, 9), NONE, VF(1, 1, 2, 3));
    CASE("Resize", 13, "mode=s:nearest;nearest_mode=s:round_prefer_ceil", 1, F(1, 2, 7, 9), NONE, VF0,
         VI(1, 2, 13, 17));
    CASE("Resize", 13, "mode=s:nearest;coordinate_transformation_mode=s:align_corners;nearest_mode=s:ceil", 1,
         F(1, 2, 7, 9), NONE, VF0, VI(1, 2, 3, 5));
    CASE("Resize", 13, "mode=s:linear", 1, F(1, 3, 7, 9), NONE, VF(1, 1, 2, 2));
    CASE("Resize", 13, "mode=s:linear", 1, F(2, 3, 7, 129), NONE, VF0, VI(2, 3, 13, 64));
    CASE("Resize", 13, "mode=s:linear;coordinate_transformation_mode=s:align_corners", 1, F(1, 3, 7, 9), NONE,
         VF0, VI(1, 3, 15, 4));
    CASE("Resize", 13, "mode=s:linear;coordinate_transformation_mode=s:pytorch_half_pixel", 1, F(1, 3, 16, 9),
         NONE, VF(1, 1, 0.25, 0.5));
    CASE("Resize", 13, "mode=s:linear;coordinate_transformation_mode=s:asymmetric", 1, F(8, 3, 7, 9), NONE,
         VF(1, 1, 1.5, 0.75));
    CASE("Resize", 19, "mode=s:linear;coordinate_transformation_mode=s:half_pixel_symmetric", 1, F(1, 3, 7, 9),
         NONE, VF(1, 1, 1.7, 0.6));
    CASE("Resize", 13, "mode=s:cubic", 1, F(1, 3, 7, 9), NONE, VF(1, 1, 2, 2));
    CASE("Resize", 13, "mode=s:cubic;exclude_outside=i:1;cubic_coeff_a=f:-0.5", 1, F(1, 3, 7, 9), NONE, VF0,
         VI(1, 3, 5, 20));
    CASE("Resize", 13, "mode=s:linear;coordinate_transformation_mode=s:tf_crop_and_resize;extrapolation_value=f:0.25",
         1, F(1, 2, 7, 9), VF(0, 0, -0.1, 0.2, 1, 1, 0.9, 1.2), NONE, VI(1, 2, 5, 6));
    CASE("Resize", 10, "mode=s:nearest", 1, F(1, 3, 7, 9), VF(1, 1, 2, 2));
    CASE("Upsample", 9, "mode=s:nearest", 1, F(1, 3, 7, 9), VF(1, 1, 2, 2));
    CASE("Upsample", 9, "mode=s:linear", 1, F(8, 3, 7, 9), VF(1, 1, 2, 3));
    /* Outputs 32+ wide take the row kernel (one block row per output row): every mode through it. */
    CASE("Resize", 13, "mode=s:nearest", 1, F(2, 3, 7, 33), NONE, VF(1, 1, 2, 2));
    CASE("Resize", 13, "mode=s:nearest;nearest_mode=s:round_prefer_ceil", 1, F(1, 2, 7, 20), NONE, VF0,
         VI(1, 2, 13, 47));
    CASE("Resize", 13, "mode=s:linear", 1, F(8, 4, 9, 17), NONE, VF(1, 1, 4, 4));
    CASE("Resize", 13, "mode=s:linear;coordinate_transformation_mode=s:align_corners", 1, F(1, 3, 7, 129), NONE,
         VF0, VI(1, 3, 15, 40));
    CASE("Resize", 13, "mode=s:cubic", 1, F(1, 3, 7, 20), NONE, VF(1, 1, 2, 2));
    CASE("Resize", 13, "mode=s:cubic;exclude_outside=i:1;cubic_coeff_a=f:-0.5", 1, F(1, 3, 5, 9), NONE, VF0,
         VI(1, 3, 11, 37));
    CASE("Resize", 13, "mode=s:linear;coordinate_transformation_mode=s:tf_crop_and_resize;extrapolation_value=f:0.25",
         1, F(1, 2, 7, 9), VF(0, 0, -0.1, 0.2, 1, 1, 0.9, 1.2), NONE, VI(1, 2, 5, 36));
    CASE("Upsample", 9, "mode=s:nearest", 1, F(1, 3, 7, 129), VF(1, 1, 2, 2));
}

int main(int argc, char **argv)
{
    fp_err e = {0};
    T.seed = 20261122;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            T.seed = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--op") && i + 1 < argc)
            T.only_op = argv[++i];
        else if (!strcmp(argv[i], "--prec") && i + 1 < argc)
            T.only_prec = argv[++i];
        else if (!strcmp(argv[i], "--cpu-only"))
            T.cpu_only = 1;
        else {
            fprintf(stderr, "usage: backend_ops [--seed N] [--op NAME] [--prec fp32|fp16|bf16] [--cpu-only]\n");
            return 2;
        }
    }
    printf("backend_ops: seed %" PRIu64 " (rerun with --seed %" PRIu64 ")\n", T.seed, T.seed);
    nn_backend_opts co = {.threads = 1};
    if (nn_backend_cpu.init(&T.cpu, &co, &e) < 0) {
        fprintf(stderr, "backend_ops: cpu backend: %s\n", e.msg);
        return 1;
    }
    int ndev = 0;
    if (!T.cpu_only && (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0)) {
        printf("backend_ops: no CUDA device: skipped (use --cpu-only to check the case table)\n");
        nn_backend_cpu.free(T.cpu);
        return 77;
    }
    for (int p = 0; p < 3 && !T.cpu_only; p++) {
        nn_backend_opts go = {.precision = precs[p].prec};
        if (nn_backend_cuda.init(&T.gpu[p], &go, &e) < 0) {
            fprintf(stderr, "backend_ops: cuda backend: %s\n", e.msg);
            return 1;
        }
        go.use_cuda_graph = 1;
        if (nn_backend_cuda.init(&T.gpu_graph[p], &go, &e) < 0) {
            fprintf(stderr, "backend_ops: cuda backend (graphs): %s\n", e.msg);
            return 1;
        }
    }
    cases_elementwise();
    cases_shape();
    cases_conv();
    cases_gemm();
    cases_pool();
    cases_reduce();
    cases_resize();
    cases_gridsample();
    nn_backend_cpu.free(T.cpu);
    if (!T.cpu_only) {
        for (int p = 0; p < 3; p++) {
            nn_backend_cuda.free(T.gpu[p]);
            nn_backend_cuda.free(T.gpu_graph[p]);
        }
        cudaError_t st = cudaDeviceSynchronize();
        if (st != cudaSuccess) {
            printf("FAIL device error at exit: %s\n", cudaGetErrorString(st));
            fp_test_failed++;
        }
    }
    return fp_test_finish("backend_ops");
}
