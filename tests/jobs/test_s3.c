/*
 * test_s3 — the s3:// store against an S3 server that verifies SigV4 (fixture s3_fixture.sh):
 * small PUT/GET/DELETE, a multipart upload (part size forced small), a missing key, a wrong secret
 * (must be refused: proves signatures are checked, so a passing run proves ours are right), and
 * refused keys. Skipped (exit 77) when the fixture could not start a server.
 */
#include "fp_test.h"
#include "jobs/jobs_store.h"
#include "jobs_testutil.h"

static const char *endpoint(void)
{
    static char ep[256];
    const char *f = getenv("FP_TEST_S3_FILE");
    FILE *fp = f ? fopen(f, "r") : NULL;
    if (!fp)
        return NULL;
    if (!fgets(ep, sizeof(ep), fp))
        ep[0] = 0;
    fclose(fp);
    ep[strcspn(ep, "\n")] = 0;
    return ep[0] ? ep : NULL;
}

static void make_file(const char *path, size_t n, unsigned seed)
{
    FILE *f = fopen(path, "wb");
    for (size_t i = 0; i < n; i++)
        fputc(rand_r(&seed) & 0xff, f);
    fclose(f);
}

static int same(const char *a, const char *b)
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "cmp -s '%s' '%s'", a, b);
    return system(cmd) == 0;
}

int main(void)
{
    const char *ep = endpoint();
    if (!ep) {
        printf("test_s3: no S3 server (fixture could not install or start one): skipped\n");
        return FP_TEST_SKIP_CODE;
    }
    setenv("FP_S3_ENDPOINT", ep, 1);
    setenv("AWS_ACCESS_KEY_ID", "S3RVER", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "S3RVER", 1);
    setenv("AWS_REGION", "us-east-1", 1);
    setenv("FP_S3_PART_SIZE", "65536", 1);
    char small[512], big[512], got[512];
    snprintf(small, sizeof(small), "%s/small.bin", tu_tmpdir());
    snprintf(big, sizeof(big), "%s/big.bin", tu_tmpdir());
    snprintf(got, sizeof(got), "%s/got.bin", tu_tmpdir());
    make_file(small, 1000, 1);
    make_file(big, 200000, 2); /* 4 parts of 64 KiB */

    fp_store *s = NULL;
    fp_err e = { 0 };
    CHECK_EQ_INT(fp_store_open(&s, "s3://fp-test/run1", &e), 0);
    if (!s) {
        printf("open: %s\n", e.msg);
        return fp_test_finish("test_s3");
    }
    CHECK_MSG(fp_store_put_file(s, "jobs/1/chunk-00000-a1.pkt", small, &e) == 0, "%s", e.msg);
    CHECK_MSG(fp_store_get_file(s, "jobs/1/chunk-00000-a1.pkt", got, &e) == 0, "%s", e.msg);
    CHECK(same(small, got));
    CHECK_MSG(fp_store_put_file(s, "jobs/1/big.bin", big, &e) == 0, "multipart: %s", e.msg);
    CHECK_MSG(fp_store_get_file(s, "jobs/1/big.bin", got, &e) == 0, "%s", e.msg);
    CHECK_MSG(same(big, got), "multipart object differs");
    CHECK_EQ_INT(fp_store_delete(s, "jobs/1/big.bin", &e), 0);
    fp_err ge = { 0 };
    CHECK_EQ_INT(fp_store_get_file(s, "jobs/1/big.bin", got, &ge), FP_EINPUT);
    CHECK_MSG(strstr(ge.msg, "HTTP 404") != NULL, "%s", ge.msg);
    CHECK_EQ_INT(fp_store_delete(s, "jobs/1/big.bin", &e), 0); /* deleting a missing key is fine */
    fp_err ke = { 0 };
    CHECK_EQ_INT(fp_store_put_file(s, "../../etc/passwd", small, &ke), FP_EINVAL);
    fp_store_freep(&s);

    /* publish to an s3:// final output */
    CHECK_MSG(fp_store_publish("s3://fp-test/final/out.bin", small, &e) == 0, "%s", e.msg);
    CHECK_EQ_INT(fp_store_open(&s, "s3://fp-test/final", &e), 0);
    CHECK(s && fp_store_get_file(s, "out.bin", got, &e) == 0 && same(small, got));
    fp_store_freep(&s);

    /* a wrong secret must be refused by the server: the test is only meaningful if it is */
    setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret", 1);
    fp_err we = { 0 };
    CHECK_EQ_INT(fp_store_open(&s, "s3://fp-test/run1", &we), 0);
    int ret = fp_store_put_file(s, "jobs/1/forged.bin", small, &we);
    CHECK_MSG(ret == FP_EOUTPUT && strstr(we.msg, "SignatureDoesNotMatch"), "wrong secret: %d %s", ret, we.msg);
    fp_err we2 = { 0 };
    ret = fp_store_put_file(s, "jobs/1/forged-big.bin", big, &we2);
    CHECK_MSG(ret == FP_EOUTPUT, "wrong secret (multipart): %d %s", ret, we2.msg);
    fp_store_freep(&s);
    setenv("AWS_SECRET_ACCESS_KEY", "S3RVER", 1);
    CHECK_EQ_INT(fp_store_open(&s, "s3://fp-test/run1", &e), 0);
    fp_err fe = { 0 };
    CHECK_EQ_INT(fp_store_get_file(s, "jobs/1/forged.bin", got, &fe), FP_EINPUT);
    fp_store_freep(&s);

    /* a server that is not there: retried, then a clear I/O error */
    setenv("FP_S3_ENDPOINT", "http://127.0.0.1:9", 1);
    CHECK_EQ_INT(fp_store_open(&s, "s3://fp-test/run1", &e), 0);
    fp_err ce = { 0 };
    CHECK_EQ_INT(fp_store_put_file(s, "jobs/1/x.bin", small, &ce), FP_EIO);
    CHECK_MSG(strstr(ce.msg, "after 4 tries") != NULL, "%s", ce.msg);
    fp_store_freep(&s);
    unsetenv("AWS_ACCESS_KEY_ID");
    fp_err ne = { 0 };
    CHECK_EQ_INT(fp_store_open(&s, "s3://fp-test/x", &ne), FP_EINVAL);
    tu_rmtmp();
    return fp_test_finish("test_s3");
}
