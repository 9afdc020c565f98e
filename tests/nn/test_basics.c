/*
 * test_basics — unit tests of nn's building blocks: dtype/shape helpers, fp16/bf16 conversion
 * (exhaustive over all 65536 halves), broadcast and axis helpers, the CPU thread pool (every index
 * exactly once at any thread count), scratch alignment, the arena planner (no live overlap, never
 * worse than one buffer per value), and the .npy reader/writer against files numpy wrote.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fp_test.h"
#include "nn/nn_cpu.h"
#include "nn/nn_npy.h"
#include "nn/nn_op.h"
#include "nn/nn_plan.h"

static const char *models_dir = FP_NN_MODELS_DIR;

static void test_half(void)
{
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = nn_f16_to_f32((uint16_t)h);
        uint16_t back = nn_f32_to_f16(f);
        if (isnan(f)) {
            if ((back & 0x7c00) != 0x7c00 || !(back & 0x3ff))
                bad++;
        } else if (back != h) {
            bad++;
        }
    }
    CHECK_EQ_INT(bad, 0);
    CHECK(nn_f16_to_f32(0x3c00) == 1.0f);
    CHECK(nn_f16_to_f32(0x0001) == 5.9604644775390625e-08f); /* smallest subnormal */
    CHECK_EQ_INT(nn_f32_to_f16(65504.0f), 0x7bff);
    CHECK_EQ_INT(nn_f32_to_f16(65520.0f), 0x7c00);            /* rounds to inf */
    CHECK_EQ_INT(nn_f32_to_f16(1.0f + 1.0f / 2048), 0x3c00);  /* tie to even (down) */
    CHECK_EQ_INT(nn_f32_to_f16(1.0f + 3.0f / 2048), 0x3c02);  /* tie to even (up) */
    CHECK_EQ_INT(nn_f32_to_f16(2.9802322387695312e-08f), 0x0000); /* half of min subnormal: to even 0 */
    CHECK_EQ_INT(nn_f32_to_f16(4.4703483581542969e-08f), 0x0001);
    CHECK(nn_bf16_to_f32(nn_f32_to_bf16(1.5f)) == 1.5f);
    CHECK_EQ_INT(nn_f32_to_bf16(1.0f + 1.0f / 256), 0x3f80);    /* tie to even */
    CHECK(isnan(nn_bf16_to_f32(nn_f32_to_bf16(NAN))));
}

static void test_shapes(void)
{
    nn_tensor a = { .dtype = NN_DT_FLOAT, .ndim = 3, .dims = { 2, 1, 4 } };
    nn_tensor b = { .dtype = NN_DT_FLOAT, .ndim = 2, .dims = { 3, 1 } };
    nn_tensor o = { 0 };
    CHECK_EQ_INT(nn_broadcast_shape(&a, &b, &o), 0);
    CHECK(o.ndim == 3 && o.dims[0] == 2 && o.dims[1] == 3 && o.dims[2] == 4);
    nn_tensor c = { .dtype = NN_DT_FLOAT, .ndim = 1, .dims = { 3 } };
    CHECK_EQ_INT(nn_broadcast_shape(&a, &c, &o), FP_EINVAL);
    int ax;
    CHECK(nn_norm_axis(-1, 4, &ax) == 0 && ax == 3);
    CHECK_EQ_INT(nn_norm_axis(4, 4, &ax), FP_EINVAL);
    CHECK_EQ_INT(nn_norm_axis(-5, 4, &ax), FP_EINVAL);
    nn_tensor big = { .dtype = NN_DT_FLOAT, .ndim = 3, .dims = { 1LL << 40, 1LL << 40, 1LL << 40 } };
    CHECK_EQ_INT(nn_tensor_numel(&big), -1);
    CHECK_EQ_INT(nn_tensor_nbytes(&big), 0);
    CHECK_EQ_INT(nn_tensor_alloc(&big), FP_EINVAL);
    int64_t neg[2] = { 2, -1 };
    CHECK_EQ_INT(nn_tensor_set_shape(&a, 2, neg), FP_EINVAL);
    nn_tensor s = { .dtype = NN_DT_INT64, .ndim = 0 };
    CHECK_EQ_INT(nn_tensor_numel(&s), 1);
    char buf[64];
    CHECK(!strcmp(nn_shape_str(&b, buf, sizeof(buf)), "[3,1]"));
    CHECK(!strcmp(nn_shape_str(&s, buf, sizeof(buf)), "[]"));
    CHECK_EQ_INT(nn_tensor_alloc(&s), 0);
    CHECK(s.data && ((uintptr_t)s.data & 63) == 0);
    nn_tensor_free(&s);
    CHECK(s.data == NULL);
    nn_tensor_free(&s); /* twice: no-op */
    nn_tensor_free(NULL);
}

typedef struct pf {
    int *hits;
} pf;

static void pf_range(void *arg, int64_t b, int64_t e)
{
    pf *p = arg;
    for (int64_t i = b; i < e; i++)
        __atomic_fetch_add(&p->hits[i], 1, __ATOMIC_RELAXED);
}

static void test_pool(void)
{
    static const int threads[] = { 1, 2, 3, 8 };
    static const int64_t sizes[] = { 1, 3, 7, 129, 1000 };
    for (size_t t = 0; t < 4; t++) {
        nn_cpu_ctx *c = NULL;
        fp_err e = { 0 };
        CHECK_EQ_INT(nn_cpu_ctx_create(&c, threads[t], &e), 0);
        CHECK_EQ_INT(nn_cpu_ctx_threads(c), threads[t]);
        for (size_t s = 0; s < 5; s++) {
            for (int rep = 0; rep < 20; rep++) {
                int *hits = calloc((size_t)sizes[s], sizeof(int));
                pf p = { hits };
                nn_cpu_parallel_for(c, sizes[s], pf_range, &p);
                int ok = 1;
                for (int64_t i = 0; i < sizes[s]; i++)
                    ok &= hits[i] == 1;
                CHECK_MSG(ok, "threads %d n %lld", threads[t], (long long)sizes[s]);
                free(hits);
            }
        }
        void *a = nn_cpu_ctx_scratch(c, 100), *b = nn_cpu_ctx_scratch(c, 1000);
        CHECK(a && b && a != b && ((uintptr_t)a & 63) == 0 && ((uintptr_t)b & 63) == 0);
        nn_cpu_ctx_scratch_reset(c);
        CHECK(nn_cpu_ctx_scratch(c, 50) == a); /* reused */
        nn_cpu_ctx_freep(&c);
        CHECK(c == NULL);
        nn_cpu_ctx_freep(&c);
    }
}

static void test_planner(void)
{
    srand(1234);
    printf("planner seed 1234\n");
    for (int trial = 0; trial < 50; trial++) {
        int n = 1 + rand() % 60;
        nn_buf_req r[60];
        size_t naive = 0;
        for (int i = 0; i < n; i++) {
            r[i].size = (size_t)(rand() % 5000);
            r[i].first = rand() % 40;
            r[i].last = r[i].first + rand() % 10;
            naive += (r[i].size + 63) & ~(size_t)63;
            if (!r[i].size)
                naive += 64;
        }
        long long total = nn_plan_arena(r, n);
        int overlap = 0;
        for (int i = 0; i < n; i++) {
            CHECK(r[i].offset % 64 == 0);
            CHECK(r[i].offset + r[i].size <= (size_t)total);
            for (int j = i + 1; j < n; j++) {
                int live = r[i].first <= r[j].last && r[j].first <= r[i].last;
                int mem = r[i].offset < r[j].offset + (r[j].size ? r[j].size : 1) &&
                          r[j].offset < r[i].offset + (r[i].size ? r[i].size : 1);
                if (live && mem)
                    overlap++;
            }
        }
        CHECK_EQ_INT(overlap, 0);
        CHECK((size_t)total <= naive);
    }
    /* a chain where each buffer lives for two steps needs two slots, not n */
    nn_buf_req chain[10];
    for (int i = 0; i < 10; i++)
        chain[i] = (nn_buf_req){ .size = 4096, .first = i, .last = i + 1 };
    CHECK_EQ_INT(nn_plan_arena(chain, 10), 2 * 4096);
    CHECK_EQ_INT(nn_plan_arena(chain, 0), 0);
}

static void test_npy(void)
{
    char path[1024];
    fp_err e = { 0 };
    nn_tensor t;
    snprintf(path, sizeof(path), "%s/f32.npy", models_dir);
    CHECK_EQ_INT(nn_npy_read(path, &t, &e), 0);
    CHECK(t.dtype == NN_DT_FLOAT && t.ndim == 3 && t.dims[0] == 2 && t.dims[1] == 3 && t.dims[2] == 4);
    CHECK(((float *)t.data)[23] == 23.0f);
    char tmp[] = "/tmp/fp_npy_XXXXXX";
    int fd = mkstemp(tmp);
    close(fd);
    CHECK_EQ_INT(nn_npy_write(tmp, &t, &e), 0);
    nn_tensor u;
    CHECK_EQ_INT(nn_npy_read(tmp, &u, &e), 0);
    CHECK(nn_shape_equal(&t, &u) && u.dtype == t.dtype && !memcmp(t.data, u.data, nn_tensor_nbytes(&t)));
    /* our header must equal numpy's byte for byte (same dict, same padding) */
    FILE *a = fopen(path, "rb"), *b = fopen(tmp, "rb");
    unsigned char ha[128], hb[128];
    CHECK(a && b && fread(ha, 1, 128, a) == 128 && fread(hb, 1, 128, b) == 128 && !memcmp(ha, hb, 128));
    if (a)
        fclose(a);
    if (b)
        fclose(b);
    nn_tensor_free(&u);
    nn_tensor_free(&t);
    snprintf(path, sizeof(path), "%s/i64_scalar.npy", models_dir);
    CHECK_EQ_INT(nn_npy_read(path, &t, &e), 0);
    CHECK(t.dtype == NN_DT_INT64 && t.ndim == 0 && ((int64_t *)t.data)[0] == 7);
    CHECK_EQ_INT(nn_npy_write(tmp, &t, &e), 0);
    CHECK_EQ_INT(nn_npy_read(tmp, &u, &e), 0);
    CHECK(u.ndim == 0 && ((int64_t *)u.data)[0] == 7);
    nn_tensor_free(&u);
    nn_tensor_free(&t);
    snprintf(path, sizeof(path), "%s/f16.npy", models_dir);
    CHECK_EQ_INT(nn_npy_read(path, &t, &e), 0);
    CHECK(t.dtype == NN_DT_FLOAT16 && t.ndim == 1 && nn_f16_to_f32(((uint16_t *)t.data)[2]) == 65504.0f);
    nn_tensor_free(&t);
    unlink(tmp);

    static const struct {
        const char *file;
        int code;
        const char *msg;
    } bad[] = {
        { "bad/fortran.npy", FP_EUNSUPPORTED, "Fortran-order" },
        { "bad/bigendian.npy", FP_EUNSUPPORTED, "big-endian" },
        { "bad/truncated.npy", FP_EINPUT, "truncated" },
        { "bad/corrupt.onnx", FP_EINPUT, "bad magic" },
        { "no_such.npy", FP_EINPUT, "cannot open" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fp_err_clear(&e);
        snprintf(path, sizeof(path), "%s/%s", models_dir, bad[i].file);
        int ret = nn_npy_read(path, &t, &e);
        CHECK_MSG(ret == bad[i].code && strstr(e.msg, bad[i].msg) && strstr(e.msg, bad[i].file), "%s: %d %s",
                  bad[i].file, ret, e.msg);
        CHECK(t.data == NULL);
    }
    nn_tensor bf = { .dtype = NN_DT_BFLOAT16, .ndim = 1, .dims = { 1 } };
    fp_err_clear(&e);
    CHECK_EQ_INT(nn_npy_write("/tmp/never.npy", &bf, &e), FP_EUNSUPPORTED);
}

int main(void)
{
    test_half();
    test_shapes();
    test_pool();
    test_planner();
    test_npy();
    return fp_test_finish("nn.basics");
}
