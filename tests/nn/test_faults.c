/*
 * test_faults — SQLite-style allocation fault injection over the runtime: for N = 1, 2, ... the Nth
 * allocation fails, and loading + planning + running a model must then end in success or in one clean
 * error (a code and a message), never a crash, and must leave exactly as many live allocations as
 * before it started. Repeats until a pass completes with no injected failure.
 *
 * malloc/calloc/realloc/aligned_alloc/posix_memalign/free are interposed in this executable (glibc
 * lets a program replace them; the real ones are __libc_*). Not built with sanitizers, which replace
 * the allocator themselves; the ASan pass covers the same code for leaks on its own paths.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "framepipe.h"
#include "fp_test.h"
#include "test_ops.h"

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static long fail_at = -1, calls, live;

static int inject(void)
{
    return fail_at > 0 && ++calls == fail_at;
}

void *malloc(size_t n)
{
    if (inject())
        return NULL;
    void *p = __libc_malloc(n);
    if (p)
        live++;
    return p;
}

void *calloc(size_t a, size_t b)
{
    if (inject())
        return NULL;
    void *p = __libc_calloc(a, b);
    if (p)
        live++;
    return p;
}

void *realloc(void *p, size_t n)
{
    if (inject())
        return NULL;
    void *q = __libc_realloc(p, n);
    if (!p && q)
        live++;
    return q;
}

void *aligned_alloc(size_t a, size_t n)
{
    if (inject())
        return NULL;
    void *p = __libc_memalign(a, n);
    if (p)
        live++;
    return p;
}

int posix_memalign(void **out, size_t a, size_t n)
{
    if (inject())
        return ENOMEM;
    void *p = __libc_memalign(a, n);
    if (!p)
        return ENOMEM;
    live++;
    *out = p;
    return 0;
}

void free(void *p)
{
    if (p)
        live--;
    __libc_free(p);
}

static const char *dir = FP_NN_MODELS_DIR;

/* Load, plan and run once; returns the error code (0 on success). */
static int cycle(const char *name, const fp_tensor *in, int nin, int nout, fp_err *e)
{
    char p[1024];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    fp_model_opts o = { .backend = "cpu", .threads = 1 };
    fp_model *m = NULL;
    fp_tensor out[4] = { { 0 } };
    int ret = fp_model_load(p, &o, &m, e);
    if (ret == 0)
        ret = fp_model_run(m, in, nin, out, nout, e);
    for (int i = 0; i < nout; i++)
        fp_tensor_free(&out[i]);
    fp_model_freep(&m);
    return ret;
}

static void run_faults(const char *name, const fp_tensor *in, int nin, int nout)
{
    fp_err e = { 0 };
    fail_at = -1;
    CHECK_MSG(cycle(name, in, nin, nout, &e) == 0, "%s: %s", name, e.msg); /* warm-up: lazy state */
    int n, bad_leak = 0, bad_err = 0, failures = 0;
    for (n = 1; n < 200000; n++) {
        long before = live;
        fp_err_clear(&e);
        calls = 0;
        fail_at = n;
        int ret = cycle(name, in, nin, nout, &e);
        int injected = calls >= n;
        fail_at = -1;
        if (ret < 0) {
            failures++;
            if (!e.code || !e.msg[0]) {
                if (bad_err++ < 3)
                    printf("%s: allocation %d: error %d without a message\n", name, n, ret);
            }
        }
        if (live != before && bad_leak++ < 3)
            printf("%s: allocation %d failed (%s): %ld allocations leaked\n", name, n, e.msg, live - before);
        if (!injected)
            break; /* a whole cycle ran without reaching allocation n: all points covered */
    }
    printf("%s: %d allocation points, %d failed cleanly\n", name, n - 1, failures);
    CHECK_MSG(bad_leak == 0, "%s: %d leaking failure points", name, bad_leak);
    CHECK_MSG(bad_err == 0, "%s: %d failures without a message", name, bad_err);
    CHECK(n > 10 && failures > 0);
}

int main(void)
{
    test_ops_register();
    float x[6] = { 1, 2, 3, 4, 5, 6 };
    fp_tensor in = { .dtype = FP_DTYPE_FLOAT32, .ndim = 2, .dims = { 2, 3 }, .data = x };
    run_faults("add.onnx", &in, 1, 1);
    run_faults("external.onnx", &in, 1, 1);
    fp_tensor in3 = { .dtype = FP_DTYPE_FLOAT32, .ndim = 1, .dims = { 3 }, .data = x };
    run_faults("function.onnx", &in3, 1, 1);
    static float r[3 * 64];
    fp_tensor rin = { .dtype = FP_DTYPE_FLOAT32, .ndim = 4, .dims = { 1, 3, 8, 8 }, .data = r };
    fp_err e = { 0 };
    if (cycle("real_island.onnx", &rin, 1, 1, &e) == FP_EUNSUPPORTED)
        SKIP(e.msg);
    else
        run_faults("real_island.onnx", &rin, 1, 1);
    /* run-time output shapes: prefix plan, continuation plan, NMS sized at run time */
    static float feat[8 * 1024];
    for (int i = 0; i < 8 * 1024; i++)
        feat[i] = (float)((i * 7919) % 2003) / 500.0f - 2.0f;
    fp_tensor fin = { .dtype = FP_DTYPE_FLOAT32, .ndim = 3, .dims = { 1, 8, 1024 }, .data = feat };
    fp_err_clear(&e);
    if (cycle("nms_dyn.onnx", &fin, 1, 2, &e) == FP_EUNSUPPORTED)
        SKIP(e.msg);
    else
        run_faults("nms_dyn.onnx", &fin, 1, 2);
    return fp_test_finish("nn.faults");
}
