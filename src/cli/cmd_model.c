/*
 * cmd_model — `framepipe model info FILE.onnx` and `framepipe model run FILE.onnx --input NAME=X.npy ...
 * --output-dir DIR`: for users debugging their exports. info describes the model (inputs, outputs, ops
 * with counts, opset, parameters, ops the runtime or the chosen backend lacks) and loads it even when
 * ops are missing; run feeds .npy inputs through the runtime and writes DIR/<output>.npy.
 *
 * Owns: argument parsing (one option table) and printing. Does not own loading or running
 * (src/nn, include/framepipe.h) or the .npy format (nn_npy.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/fp_error.h"
#include "core/fp_log.h"
#include "framepipe.h"
#include "nn/nn_backend.h"
#include "nn/nn_graph.h"
#include "nn/nn_npy.h"
#include "nn/nn_runtime.h"

typedef struct model_args {
    const char *file;
    const char *backend;
    const char *output_dir;
    int threads;
    int allow_cpu_fallback;
    char **inputs; /* NAME=FILE */
    int ninputs;
} model_args;

enum { OPT_STR, OPT_INT, OPT_FLAG, OPT_LIST };

typedef struct model_opt {
    const char *name;
    int type;
    size_t offset;
    const char *arg;
    const char *help;
    int run_only;
} model_opt;

#define OFF(f) offsetof(model_args, f)
static const model_opt model_opts[] = {
    { "--backend", OPT_STR, OFF(backend), "cpu|cuda", "execution backend (default cpu)", 0 },
    { "--threads", OPT_INT, OFF(threads), "N", "CPU worker threads (default: all cores)", 1 },
    { "--input", OPT_LIST, OFF(inputs), "NAME=FILE.npy", "value of input NAME (repeat for each input)", 1 },
    { "--output-dir", OPT_STR, OFF(output_dir), "DIR", "write each output as DIR/<output name>.npy", 1 },
    { "--allow-cpu-fallback", OPT_FLAG, OFF(allow_cpu_fallback), NULL,
      "run ops the backend lacks on the CPU instead of failing", 1 },
};
#define NOPTS (sizeof(model_opts) / sizeof(model_opts[0]))

static void usage(FILE *f)
{
    fprintf(f, "usage: framepipe model info FILE.onnx [--backend cpu|cuda]\n"
               "       framepipe model run FILE.onnx --input NAME=FILE.npy ... --output-dir DIR [options]\n\n"
               "options:\n");
    for (size_t i = 0; i < NOPTS; i++) {
        char lhs[64];
        snprintf(lhs, sizeof(lhs), "%s%s%s", model_opts[i].name, model_opts[i].arg ? " " : "",
                 model_opts[i].arg ? model_opts[i].arg : "");
        fprintf(f, "  %-28s %s%s\n", lhs, model_opts[i].help, model_opts[i].run_only ? " (run)" : "");
    }
    fprintf(f, "\n.npy files: little-endian, C order; float32/float16/float64/int8..int64/uint8..uint64/bool.\n"
               "exit codes: 0 ok, 2 usage, 3 unreadable input, 4 unsupported op/opset/dtype, 5 output not "
               "written, 6 invalid model or input mismatch\n");
}

static int parse(int argc, char **argv, int first, int is_run, model_args *a)
{
    for (int i = first; i < argc; i++) {
        const model_opt *o = NULL;
        for (size_t k = 0; k < NOPTS; k++)
            if (!strcmp(argv[i], model_opts[k].name))
                o = &model_opts[k];
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 1;
        }
        if (!o && argv[i][0] != '-' && !a->file) {
            a->file = argv[i];
            continue;
        }
        if (!o) {
            fprintf(stderr, "framepipe: model: unknown argument '%s'\n", argv[i]);
            return -1;
        }
        if (o->run_only && !is_run) {
            fprintf(stderr, "framepipe: model: %s applies to 'model run' only\n", o->name);
            return -1;
        }
        void *field = (char *)a + o->offset;
        if (o->type == OPT_FLAG) {
            *(int *)field = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "framepipe: model: %s needs a value (%s)\n", o->name, o->arg);
            return -1;
        }
        const char *v = argv[++i];
        if (o->type == OPT_STR) {
            *(const char **)field = v;
        } else if (o->type == OPT_INT) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < 0 || n > 1024) {
                fprintf(stderr, "framepipe: model: %s: '%s' is not a count in 0..1024\n", o->name, v);
                return -1;
            }
            *(int *)field = (int)n;
        } else {
            char **nl = realloc(a->inputs, (size_t)(a->ninputs + 1) * sizeof(char *));
            if (!nl)
                return -1;
            a->inputs = nl;
            a->inputs[a->ninputs++] = (char *)v;
        }
    }
    if (!a->file) {
        fprintf(stderr, "framepipe: model: no model file given\n");
        return -1;
    }
    if (a->backend && strcmp(a->backend, "cpu") && strcmp(a->backend, "cuda")) {
        fprintf(stderr, "framepipe: model: --backend must be cpu or cuda, not '%s'\n", a->backend);
        return -1;
    }
    return 0;
}

static void print_shape(const fp_value_info *vi)
{
    printf("%s", fp_dtype_name(vi->dtype));
    if (vi->ndim < 0) {
        printf("[?]");
        return;
    }
    printf("[");
    for (int i = 0; i < vi->ndim; i++) {
        if (vi->dims[i] >= 0)
            printf("%s%lld", i ? "," : "", (long long)vi->dims[i]);
        else
            printf("%s%s", i ? "," : "", vi->dim_names[i] ? vi->dim_names[i] : "?");
    }
    printf("]");
}

static void value_to_info(const nn_value *v, fp_value_info *vi)
{
    memset(vi, 0, sizeof(*vi));
    vi->name = v->name;
    vi->dtype = (fp_dtype)v->t.dtype;
    vi->ndim = v->shape_known ? v->t.ndim : -1;
    for (int i = 0; i < v->t.ndim; i++) {
        vi->dims[i] = v->t.dims[i];
        vi->dim_names[i] = v->dim_names[i];
    }
}

typedef struct opcount {
    const char *op;
    const char *domain;
    int n;
    int missing;      /* not registered */
} opcount;

static int cmp_op(const void *a, const void *b)
{
    const opcount *x = a, *y = b;
    return x->n != y->n ? y->n - x->n : strcmp(x->op, y->op);
}

static int model_info(model_args *a)
{
    fp_err e = { 0 };
    nn_graph *g = NULL;
    int ret = nn_graph_load(a->file, &g, &e);
    if (ret < 0) {
        fprintf(stderr, "framepipe: %s\n", e.msg);
        return fp_exit_code(ret);
    }
    const nn_backend *be = nn_backend_find(a->backend ? a->backend : "cpu");
    if (!be) {
        fprintf(stderr, "framepipe: model: backend '%s' is not built in\n", a->backend);
        nn_graph_freep(&g);
        return FP_EXIT_UNSUPPORTED;
    }
    printf("model: %s\n", a->file);
    printf("producer: %s\n", g->producer[0] ? g->producer : "(unknown)");
    printf("ir version: %lld, opset: %d\n", (long long)g->ir_version, g->opset);
    printf("inputs:\n");
    unsigned char *vin = calloc((size_t)g->ninputs + 1, 1);
    if (vin)
        nn_graph_value_inputs(g, vin);
    for (int i = 0; i < g->ninputs; i++) {
        fp_value_info vi;
        value_to_info(&g->values[g->inputs[i]], &vi);
        printf("  %-24s ", vi.name);
        print_shape(&vi);
        printf("%s\n", vin && vin[i] ? "  (its value decides shapes: one plan per distinct value)" : "");
    }
    free(vin);
    printf("outputs:\n");
    for (int i = 0; i < g->noutputs; i++) {
        fp_value_info vi;
        value_to_info(&g->values[g->outputs[i]], &vi);
        printf("  %-24s ", vi.name);
        print_shape(&vi);
        printf("\n");
    }
    int64_t pbytes = 0;
    for (int v = 0; v < g->nvalues; v++)
        if (g->values[v].is_const)
            pbytes += (int64_t)nn_tensor_nbytes(&g->values[v].t);
    printf("parameters: %lld (%.2f MiB)\n", (long long)g->nparams, pbytes / 1048576.0);
    if (g->nfunctions_inlined)
        printf("functions inlined: %d\n", g->nfunctions_inlined);
    opcount *ops = calloc((size_t)g->nnodes + 1, sizeof(opcount));
    int nops = 0;
    for (int i = 0; ops && i < g->nnodes; i++) {
        const nn_node *n = &g->nodes[i];
        int k;
        for (k = 0; k < nops; k++)
            if (!strcmp(ops[k].op, n->op_type) && !strcmp(ops[k].domain, n->domain))
                break;
        if (k == nops)
            ops[nops++] = (opcount){ n->op_type, n->domain, 0, 0 };
        ops[k].n++;
        if (!n->def)
            ops[k].missing = 1;
    }
    if (ops)
        qsort(ops, (size_t)nops, sizeof(opcount), cmp_op);
    printf("ops (%d nodes, %d kinds):\n", g->nnodes, nops);
    for (int k = 0; k < nops; k++)
        printf("  %-24s %5d%s\n", ops[k].op, ops[k].n,
               ops[k].missing ? "  (not supported)" : "");
    int unsupported = 0;
    printf("unsupported ops:");
    for (int k = 0; k < nops; k++)
        if (ops[k].missing) {
            printf(" %s%s%s", ops[k].domain[0] ? ops[k].domain : "", ops[k].domain[0] ? "." : "", ops[k].op);
            unsupported++;
        }
    printf("%s\n", unsupported ? "" : " none");
    free(ops);
    if (be != &nn_backend_cpu && !unsupported) {
        /* A backend judges nodes with their real shapes: load the model on it (which plans right away
         * when every input shape is concrete) and report what it says. */
        fp_model_opts mo = { .backend = be->name, .threads = 1 };
        fp_model *m = NULL;
        fp_err_clear(&e);
        int concrete = 1;
        for (int i = 0; i < g->ninputs; i++)
            for (int k = 0; k < g->values[g->inputs[i]].t.ndim; k++)
                concrete &= g->values[g->inputs[i]].t.dims[k] >= 0;
        if (fp_model_load(a->file, &mo, &m, &e) < 0)
            printf("backend %s: %s\n", be->name, e.msg);
        else if (concrete)
            printf("backend %s: every node supported at the declared input shapes\n", be->name);
        else
            printf("backend %s: loads; nodes are checked when the first input shapes are known\n", be->name);
        fp_model_freep(&m);
    }
    nn_graph_freep(&g);
    return FP_EXIT_OK;
}

/* Output names may hold '/', ':' and the like; keep file names plain. */
static void safe_name(const char *in, char *out, size_t len)
{
    size_t o = 0;
    for (; *in && o + 1 < len; in++)
        out[o++] = (strchr("/\\:*?\"<>| ", *in) || (unsigned char)*in < 32) ? '_' : *in;
    out[o] = 0;
    if (!o || !strcmp(out, ".") || !strcmp(out, ".."))
        snprintf(out, len, "output");
}

static int model_run(model_args *a)
{
    if (!a->output_dir) {
        fprintf(stderr, "framepipe: model run: --output-dir is required\n");
        return FP_EXIT_USAGE;
    }
    fp_err e = { 0 };
    fp_model *m = NULL;
    fp_model_opts opts = { .backend = a->backend ? a->backend : "cpu", .threads = a->threads,
                           .allow_cpu_fallback = a->allow_cpu_fallback };
    int ret = fp_model_load(a->file, &opts, &m, &e);
    if (ret < 0) {
        fprintf(stderr, "framepipe: %s\n", e.msg);
        return fp_exit_code(ret);
    }
    int nin = fp_model_num_inputs(m), nout = fp_model_num_outputs(m);
    nn_tensor *loaded = calloc((size_t)nin + 1, sizeof(nn_tensor));
    fp_tensor *in = calloc((size_t)nin + 1, sizeof(fp_tensor));
    fp_tensor *out = calloc((size_t)nout + 1, sizeof(fp_tensor));
    int code = FP_EXIT_OK;
    if (!loaded || !in || !out) {
        fprintf(stderr, "framepipe: model run: out of memory\n");
        code = FP_EXIT_FAILURE;
        goto done;
    }
    for (int k = 0; k < a->ninputs; k++) {
        char *eq = strchr(a->inputs[k], '=');
        if (!eq || eq == a->inputs[k] || !eq[1]) {
            fprintf(stderr, "framepipe: model run: --input '%s' is not NAME=FILE.npy\n", a->inputs[k]);
            code = FP_EXIT_USAGE;
            goto done;
        }
        int idx = -1;
        for (int i = 0; i < nin; i++) {
            fp_value_info vi;
            fp_model_input_info(m, i, &vi);
            if (strlen(vi.name) == (size_t)(eq - a->inputs[k]) && !strncmp(vi.name, a->inputs[k], (size_t)(eq - a->inputs[k])))
                idx = i;
        }
        if (idx < 0) {
            fprintf(stderr, "framepipe: model run: %s has no input named '%.*s'\n", a->file,
                    (int)(eq - a->inputs[k]), a->inputs[k]);
            code = FP_EXIT_USAGE;
            goto done;
        }
        if (loaded[idx].data) {
            fprintf(stderr, "framepipe: model run: input '%.*s' given twice\n", (int)(eq - a->inputs[k]), a->inputs[k]);
            code = FP_EXIT_USAGE;
            goto done;
        }
        fp_err_clear(&e);
        if ((ret = nn_npy_read(eq + 1, &loaded[idx], &e)) < 0) {
            fprintf(stderr, "framepipe: %s\n", e.msg);
            code = fp_exit_code(ret);
            goto done;
        }
        in[idx].dtype = (fp_dtype)loaded[idx].dtype;
        in[idx].ndim = loaded[idx].ndim;
        memcpy(in[idx].dims, loaded[idx].dims, sizeof(in[idx].dims));
        in[idx].data = loaded[idx].data;
    }
    for (int i = 0; i < nin; i++)
        if (!loaded[i].data) {
            fp_value_info vi;
            fp_model_input_info(m, i, &vi);
            fprintf(stderr, "framepipe: model run: no value for input '%s' (use --input %s=FILE.npy)\n", vi.name,
                    vi.name);
            code = FP_EXIT_USAGE;
            goto done;
        }
    struct stat st;
    if (stat(a->output_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "framepipe: %s: output directory does not exist\n", a->output_dir);
        code = FP_EXIT_OUTPUT;
        goto done;
    }
    fp_err_clear(&e);
    if ((ret = fp_model_run(m, in, nin, out, nout, &e)) < 0) {
        fprintf(stderr, "framepipe: %s\n", e.msg);
        code = fp_exit_code(ret);
        goto done;
    }
    for (int i = 0; i < nout; i++) {
        fp_value_info vi;
        fp_model_output_info(m, i, &vi);
        char fname[512], path[4096];
        safe_name(vi.name, fname, sizeof(fname));
        snprintf(path, sizeof(path), "%s/%s.npy", a->output_dir, fname);
        nn_tensor t = { .dtype = (nn_dtype)out[i].dtype, .ndim = out[i].ndim, .data = out[i].data };
        memcpy(t.dims, out[i].dims, sizeof(t.dims));
        fp_err_clear(&e);
        if ((ret = nn_npy_write(path, &t, &e)) < 0) {
            fprintf(stderr, "framepipe: %s\n", e.msg);
            code = fp_exit_code(ret);
            goto done;
        }
        char shape[160];
        printf("%s: %s%s -> %s\n", vi.name, nn_dtype_name(t.dtype), nn_shape_str(&t, shape, sizeof(shape)), path);
    }
    fp_model_stats ms;
    fp_model_get_stats(m, &ms);
    printf("plan: %d nodes run, %d folded at load, %d at plan time; activation memory %.2f MiB "
           "(%.2f MiB as one buffer per value)\n", ms.last_plan_steps, ms.load_folded, ms.last_plan_folded,
           ms.last_plan_arena_bytes / 1048576.0, ms.last_plan_naive_bytes / 1048576.0);
done:
    for (int i = 0; loaded && i < nin; i++)
        nn_tensor_free(&loaded[i]);
    for (int i = 0; out && i < nout; i++)
        fp_tensor_free(&out[i]);
    free(loaded);
    free(in);
    free(out);
    fp_model_freep(&m);
    return code;
}

int fp_cmd_model(int argc, char **argv)
{
    model_args a = { 0 };
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? FP_EXIT_USAGE : FP_EXIT_OK;
    }
    int is_run = !strcmp(argv[1], "run");
    if (!is_run && strcmp(argv[1], "info")) {
        fprintf(stderr, "framepipe: model: unknown subcommand '%s' (info or run)\n", argv[1]);
        usage(stderr);
        return FP_EXIT_USAGE;
    }
    int r = parse(argc, argv, 2, is_run, &a);
    int code;
    if (r != 0)
        code = r > 0 ? FP_EXIT_OK : FP_EXIT_USAGE;
    else
        code = is_run ? model_run(&a) : model_info(&a);
    free(a.inputs);
    return code;
}
