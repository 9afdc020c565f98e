/*
 * conformance — runs ONNX's own backend test suites (Debian libonnx-testdata: node, pytorch-operator,
 * pytorch-converted, simple) on framepipe's runtime and compares every output with the stored one at
 * the suite's tolerance (rtol 1e-3, atol 1e-7, NaN equals NaN, as onnx's backend test does).
 *
 * A test is SKIPPED (never passed) when the runtime says it cannot run it: an op is not registered, an
 * op's infer() refuses the dtype (FP_EUNSUPPORTED), the opset is outside 11..19, or the model uses a
 * type the runtime does not have (sequences, strings). Every skip has its reason; skipped op names are
 * listed at the end. Anything else that goes wrong is a FAILURE, except tests listed in the expected-
 * failures file (name + reason); an expected failure that passes is reported and fails the run, so the
 * list cannot go stale.
 *
 * usage: conformance [--xfail FILE] [--filter SUBSTR] [--threads N] [--backend cpu|cuda]
 *                    [--allow-cpu-fallback] [-v] SUITE_DIR...
 * With --backend cuda the same suites check the CUDA backend against ONNX's reference outputs (ops the
 * backend lacks are skipped with their names, or run on the CPU with --allow-cpu-fallback).
 * Exit: 0 when nothing failed, 1 otherwise.
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "framepipe.h"
#include "nn/nn_graph.h"

#define RTOL 1e-3
#define ATOL 1e-7

typedef struct counter {
    char *name;
    int count;
} counter;

typedef struct runner {
    int passed, failed, skipped, xfailed, xpassed;
    counter *skip_ops;
    int nskip_ops;
    counter *skip_reasons;
    int nskip_reasons;
    char **xfail_names;
    int nxfail;
    const char *filter;
    int threads;
    int verbose;
    const char *backend;
    int fallback;
} runner;

static void count(counter **list, int *n, const char *name)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp((*list)[i].name, name)) {
            (*list)[i].count++;
            return;
        }
    counter *nl = realloc(*list, (size_t)(*n + 1) * sizeof(counter));
    if (!nl)
        return;
    *list = nl;
    nl[*n].name = strdup(name);
    nl[*n].count = 1;
    (*n)++;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_counter(const void *a, const void *b)
{
    return strcmp(((const counter *)a)->name, ((const counter *)b)->name);
}

static int is_xfail(runner *r, const char *name)
{
    for (int i = 0; i < r->nxfail; i++)
        if (!strcmp(r->xfail_names[i], name))
            return 1;
    return 0;
}

static int load_xfail(runner *r, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "conformance: %s: cannot open expected-failures file\n", path);
        return -1;
    }
    char line[1024];
    while (fgets(line, sizeof(line), f)) {
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || !*p)
            continue;
        char *end = p;
        while (*end && *end != ' ' && *end != '\t' && *end != '\n')
            end++;
        char *rest = end;
        while (*rest == ' ' || *rest == '\t')
            rest++;
        if (*rest == '\n' || !*rest) {
            fprintf(stderr, "conformance: %s: '%.*s' has no reason; every expected failure needs one\n", path,
                    (int)(end - p), p);
            fclose(f);
            return -1;
        }
        r->xfail_names = realloc(r->xfail_names, (size_t)(r->nxfail + 1) * sizeof(char *));
        r->xfail_names[r->nxfail++] = strndup(p, (size_t)(end - p));
    }
    fclose(f);
    return 0;
}

/* "...node 'n' (Op): ..." -> "Op"; NULL if the message names no node. */
static int op_of_message(const char *msg, char *op, size_t len)
{
    const char *p = strstr(msg, "node '");
    if (!p)
        return 0;
    p = strstr(p, "' (");
    if (!p)
        return 0;
    p += 3;
    const char *q = strchr(p, ')');
    if (!q || (size_t)(q - p) >= len)
        return 0;
    memcpy(op, p, (size_t)(q - p));
    op[q - p] = 0;
    return 1;
}

static void skip(runner *r, const char *test, const char *reason, const char *op)
{
    r->skipped++;
    if (op)
        count(&r->skip_ops, &r->nskip_ops, op);
    else
        count(&r->skip_reasons, &r->nskip_reasons, reason);
    if (r->verbose)
        printf("SKIP %s: %s\n", test, reason);
}

static void fail(runner *r, const char *test, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(runner *r, const char *test, const char *fmt, ...)
{
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (is_xfail(r, test)) {
        r->xfailed++;
        if (r->verbose)
            printf("XFAIL %s: %s\n", test, msg);
        return;
    }
    r->failed++;
    printf("FAIL %s: %s\n", test, msg);
}

static double elem(const fp_tensor *t, int64_t i)
{
    nn_tensor n = { .dtype = (nn_dtype)t->dtype, .data = t->data };
    return nn_tensor_get_f64(&n, i);
}

static int is_float(fp_dtype d)
{
    return d == FP_DTYPE_FLOAT32 || d == FP_DTYPE_FLOAT16 || d == FP_DTYPE_FLOAT64 || d == FP_DTYPE_BFLOAT16;
}

/* Returns 1 if equal within tolerance; else 0 with a description in why. */
static int compare(const fp_tensor *got, const nn_tensor *want, char *why, size_t len)
{
    if ((nn_dtype)got->dtype != want->dtype) {
        snprintf(why, len, "dtype %s, expected %s", fp_dtype_name(got->dtype), nn_dtype_name(want->dtype));
        return 0;
    }
    nn_tensor g = { .dtype = (nn_dtype)got->dtype, .ndim = got->ndim };
    memcpy(g.dims, got->dims, sizeof(g.dims));
    if (!nn_shape_equal(&g, want)) {
        char a[128], b[128];
        snprintf(why, len, "shape %s, expected %s", nn_shape_str(&g, a, sizeof(a)), nn_shape_str(want, b, sizeof(b)));
        return 0;
    }
    int64_t n = nn_tensor_numel(want);
    int64_t bad = 0, first = -1;
    double worst = 0;
    for (int64_t i = 0; i < n; i++) {
        if (is_float(got->dtype)) {
            double a = elem(got, i), b = nn_tensor_get_f64(want, i);
            if (isnan(a) && isnan(b))
                continue;
            if (a == b)
                continue;
            double err = fabs(a - b);
            if (isnan(a) || isnan(b) || !(err <= ATOL + RTOL * fabs(b))) {
                if (first < 0)
                    first = i;
                bad++;
                if (!(err <= worst))
                    worst = err;
            }
        } else {
            nn_tensor gt = g;
            gt.data = got->data;
            if (nn_tensor_get_i64(&gt, i) != nn_tensor_get_i64(want, i)) {
                if (first < 0)
                    first = i;
                bad++;
            }
        }
    }
    if (bad) {
        snprintf(why, len, "%lld of %lld elements differ (first at %lld: got %.9g, expected %.9g; max abs err %g)",
                 (long long)bad, (long long)n, (long long)first, elem(got, first), nn_tensor_get_f64(want, first),
                 worst);
        return 0;
    }
    return 1;
}

static int read_dataset(const char *dir, const char *prefix, nn_tensor **ts, char ***names, int *n, fp_err *e)
{
    *ts = NULL;
    *names = NULL;
    *n = 0;
    for (int i = 0;; i++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s_%d.pb", dir, prefix, i);
        struct stat st;
        if (stat(path, &st) < 0)
            break;
        *ts = realloc(*ts, (size_t)(i + 1) * sizeof(nn_tensor));
        *names = realloc(*names, (size_t)(i + 1) * sizeof(char *));
        (*names)[i] = NULL;
        int ret = nn_tensor_load_pb(path, &(*ts)[i], &(*names)[i], e);
        *n = i + 1;
        if (ret < 0)
            return ret;
    }
    return 0;
}

static void free_dataset(nn_tensor *ts, char **names, int n)
{
    for (int i = 0; i < n; i++) {
        nn_tensor_free(&ts[i]);
        free(names[i]);
    }
    free(ts);
    free(names);
}

static int file_exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

static void run_test(runner *r, const char *suite, const char *dir, const char *tname)
{
    char test[512], model_path[4096];
    snprintf(test, sizeof(test), "%s/%s", suite, tname);
    snprintf(model_path, sizeof(model_path), "%s/model.onnx", dir);
    if (!file_exists(model_path))
        return;
    int failed_before = r->failed + r->xfailed;

    /* Inspect the graph first, to name unregistered ops as the skip reason. */
    fp_err e = { 0 };
    nn_graph *g = NULL;
    int ret = nn_graph_load(model_path, &g, &e);
    if (ret == FP_EUNSUPPORTED) {
        const char *why = e.msg;
        if (!strncmp(why, model_path, strlen(model_path)))
            why += strlen(model_path) + 2;
        char reason[256];
        /* Fold per-test detail out of the reason so the summary groups alike skips. */
        if (strstr(why, "opset"))
            snprintf(reason, sizeof(reason), "opset outside %d..%d", NN_OPSET_MIN, NN_OPSET_MAX);
        else if (strstr(why, "only tensors are supported"))
            snprintf(reason, sizeof(reason), "non-tensor input/output (sequence/optional/map)");
        else if (strstr(why, "data type"))
            snprintf(reason, sizeof(reason), "data type not supported (%s)", strstr(why, "data type") + 10);
        else if (strstr(why, "subgraph"))
            snprintf(reason, sizeof(reason), "control flow subgraphs (If/Loop/Scan)");
        else
            snprintf(reason, sizeof(reason), "%s", why);
        skip(r, test, reason, NULL);
        return;
    }
    if (ret < 0) {
        fail(r, test, "%s", e.msg);
        return;
    }
    int missing = 0;
    for (int i = 0; i < g->nnodes; i++)
        if (!g->nodes[i].def) {
            char op[160];
            snprintf(op, sizeof(op), "%s%s%s", g->nodes[i].domain, g->nodes[i].domain[0] ? "." : "",
                     g->nodes[i].op_type);
            /* count each missing op once per test */
            int seen = 0;
            for (int k = 0; k < i; k++)
                if (!g->nodes[k].def && !strcmp(g->nodes[k].op_type, g->nodes[i].op_type))
                    seen = 1;
            if (!seen)
                count(&r->skip_ops, &r->nskip_ops, op);
            missing = 1;
        }
    nn_graph_freep(&g);
    if (missing) {
        r->skipped++;
        if (r->verbose)
            printf("SKIP %s: operator(s) not registered\n", test);
        return;
    }

    fp_model_opts opts = { .backend = r->backend, .threads = r->threads, .allow_cpu_fallback = r->fallback };
    fp_model *m = NULL;
    fp_err_clear(&e);
    ret = fp_model_load(model_path, &opts, &m, &e);
    if (ret < 0) {
        char op[128];
        if (ret == FP_EUNSUPPORTED)
            skip(r, test, e.msg, op_of_message(e.msg, op, sizeof(op)) ? op : NULL);
        else
            fail(r, test, "%s", e.msg);
        return;
    }
    DIR *d = opendir(dir);
    struct dirent *de;
    char **sets = NULL;
    int nsets = 0;
    while (d && (de = readdir(d)))
        if (!strncmp(de->d_name, "test_data_set_", 14)) {
            sets = realloc(sets, (size_t)(nsets + 1) * sizeof(char *));
            sets[nsets++] = strdup(de->d_name);
        }
    if (d)
        closedir(d);
    qsort(sets, (size_t)nsets, sizeof(char *), cmp_name);
    int skipped = 0;
    for (int s = 0; s < nsets && !skipped; s++) {
        char sdir[4096];
        snprintf(sdir, sizeof(sdir), "%s/%s", dir, sets[s]);
        nn_tensor *ins = NULL, *outs = NULL;
        char **inames = NULL, **onames = NULL;
        int nin = 0, nout = 0;
        fp_err_clear(&e);
        ret = read_dataset(sdir, "input", &ins, &inames, &nin, &e);
        if (ret >= 0)
            ret = read_dataset(sdir, "output", &outs, &onames, &nout, &e);
        if (ret < 0) {
            if (ret == FP_EUNSUPPORTED)
                skip(r, test, "test data of an unsupported type", NULL), skipped = 1;
            else
                fail(r, test, "%s: %s", sets[s], e.msg);
            free_dataset(ins, inames, nin);
            free_dataset(outs, onames, nout);
            break;
        }
        int mn = fp_model_num_inputs(m), mo = fp_model_num_outputs(m);
        fp_tensor *fin = calloc((size_t)mn + 1, sizeof(fp_tensor));
        fp_tensor *fout = calloc((size_t)mo + 1, sizeof(fp_tensor));
        int bad = 0;
        if (nin != mn) {
            fail(r, test, "%s: %d input files for %d model inputs", sets[s], nin, mn);
            bad = 1;
        }
        for (int i = 0; !bad && i < mn; i++) {
            fp_value_info vi;
            fp_model_input_info(m, i, &vi);
            int src = i;
            for (int k = 0; k < nin; k++)
                if (inames[k] && !strcmp(inames[k], vi.name))
                    src = k;
            /* The suite stores bfloat16 data as uint16 bit patterns (numpy has no bfloat16); onnx's
             * own runner reinterprets them the same way. */
            if (ins[src].dtype == NN_DT_UINT16 && vi.dtype == FP_DTYPE_BFLOAT16)
                ins[src].dtype = NN_DT_BFLOAT16;
            fin[i].dtype = (fp_dtype)ins[src].dtype;
            fin[i].ndim = ins[src].ndim;
            memcpy(fin[i].dims, ins[src].dims, sizeof(fin[i].dims));
            fin[i].data = ins[src].data;
        }
        if (!bad && nout > mo) {
            fail(r, test, "%s: %d expected outputs, model has %d", sets[s], nout, mo);
            bad = 1;
        }
        if (!bad) {
            fp_err_clear(&e);
            ret = fp_model_run(m, fin, mn, fout, mo, &e);
            if (ret == FP_EUNSUPPORTED) {
                char op[128];
                skip(r, test, e.msg, op_of_message(e.msg, op, sizeof(op)) ? op : NULL);
                skipped = 1;
            } else if (ret < 0) {
                fail(r, test, "%s: %s", sets[s], e.msg);
            } else {
                for (int i = 0; i < nout; i++) {
                    char why[512];
                    if (outs[i].dtype == NN_DT_UINT16 && fout[i].dtype == FP_DTYPE_BFLOAT16)
                        outs[i].dtype = NN_DT_BFLOAT16; /* same bfloat16-as-uint16 convention */
                    if (!compare(&fout[i], &outs[i], why, sizeof(why))) {
                        fp_value_info vi;
                        fp_model_output_info(m, i, &vi);
                        fail(r, test, "%s: output '%s': %s", sets[s], vi.name, why);
                        break;
                    }
                }
            }
            for (int i = 0; i < mo; i++)
                fp_tensor_free(&fout[i]);
        }
        free(fin);
        free(fout);
        free_dataset(ins, inames, nin);
        free_dataset(outs, onames, nout);
    }
    for (int s = 0; s < nsets; s++)
        free(sets[s]);
    free(sets);
    fp_model_freep(&m);
    if (skipped)
        return;
    if (r->failed + r->xfailed == failed_before) {
        if (is_xfail(r, test)) {
            r->xpassed++;
            printf("XPASS %s: listed as an expected failure but passes: remove it from the list\n", test);
        } else {
            r->passed++;
            if (r->verbose)
                printf("PASS %s\n", test);
        }
    }
}

static void run_suite(runner *r, const char *root)
{
    const char *suite = strrchr(root, '/');
    suite = suite && suite[1] ? suite + 1 : root;
    DIR *d = opendir(root);
    if (!d) {
        printf("FAIL %s: cannot open suite directory\n", root);
        r->failed++;
        return;
    }
    char **names = NULL;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.') {
            names = realloc(names, (size_t)(n + 1) * sizeof(char *));
            names[n++] = strdup(de->d_name);
        }
    closedir(d);
    qsort(names, (size_t)n, sizeof(char *), cmp_name);
    for (int i = 0; i < n; i++) {
        if (!r->filter || strstr(names[i], r->filter)) {
            char dir[4096];
            snprintf(dir, sizeof(dir), "%s/%s", root, names[i]);
            run_test(r, suite, dir, names[i]);
        }
        free(names[i]);
    }
    free(names);
}

int main(int argc, char **argv)
{
    runner r = { .threads = 1, .backend = "cpu" };
    int nsuites = 0;
    const char *suites[64];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--xfail") && i + 1 < argc) {
            if (load_xfail(&r, argv[++i]) < 0)
                return 2;
        } else if (!strcmp(argv[i], "--filter") && i + 1 < argc) {
            r.filter = argv[++i];
        } else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            r.threads = atoi(argv[++i]);
        } else if (!strcmp(argv[i], "--backend") && i + 1 < argc) {
            r.backend = argv[++i];
        } else if (!strcmp(argv[i], "--allow-cpu-fallback")) {
            r.fallback = 1;
        } else if (!strcmp(argv[i], "-v")) {
            r.verbose = 1;
        } else if (argv[i][0] != '-' && nsuites < 64) {
            suites[nsuites++] = argv[i];
        } else {
            fprintf(stderr, "usage: conformance [--xfail FILE] [--filter SUBSTR] [--threads N] [--backend NAME] "
                            "[--allow-cpu-fallback] [-v] SUITE_DIR...\n");
            return 2;
        }
    }
    for (int i = 0; i < nsuites; i++)
        run_suite(&r, suites[i]);
    printf("conformance: %d passed, %d failed, %d skipped", r.passed, r.failed, r.skipped);
    if (r.xfailed || r.xpassed)
        printf(", %d expected failures, %d expected failures now passing", r.xfailed, r.xpassed);
    printf("\n");
    if (r.nskip_ops) {
        qsort(r.skip_ops, (size_t)r.nskip_ops, sizeof(counter), cmp_counter);
        printf("skipped ops (%d):", r.nskip_ops);
        for (int i = 0; i < r.nskip_ops; i++)
            printf(" %s(%d)", r.skip_ops[i].name, r.skip_ops[i].count);
        printf("\n");
    }
    if (r.nskip_reasons) {
        qsort(r.skip_reasons, (size_t)r.nskip_reasons, sizeof(counter), cmp_counter);
        printf("other skip reasons:\n");
        for (int i = 0; i < r.nskip_reasons; i++)
            printf("  %4d  %s\n", r.skip_reasons[i].count, r.skip_reasons[i].name);
    }
    for (int i = 0; i < r.nskip_ops; i++)
        free(r.skip_ops[i].name);
    for (int i = 0; i < r.nskip_reasons; i++)
        free(r.skip_reasons[i].name);
    free(r.skip_ops);
    free(r.skip_reasons);
    for (int i = 0; i < r.nxfail; i++)
        free(r.xfail_names[i]);
    free(r.xfail_names);
    return r.failed || r.xpassed ? 1 : 0;
}
