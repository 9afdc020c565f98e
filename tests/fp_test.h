/*
 * fp_test — the tiny assertion harness every C unit test uses. Each test executable runs its cases,
 * prints one line per failure (file:line and the expression) and a closing "N passed, N failed" line,
 * and exits non-zero if anything failed. ctest runs the executables.
 */
#ifndef FP_TEST_H
#define FP_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fp_test_passed, fp_test_failed, fp_test_skipped;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (cond) {                                                                  \
            fp_test_passed++;                                                        \
        } else {                                                                     \
            fp_test_failed++;                                                        \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);          \
        }                                                                            \
    } while (0)

#define CHECK_MSG(cond, ...)                                                         \
    do {                                                                             \
        if (cond) {                                                                  \
            fp_test_passed++;                                                        \
        } else {                                                                     \
            fp_test_failed++;                                                        \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);          \
            fprintf(stderr, __VA_ARGS__);                                            \
            fputc('\n', stderr);                                                     \
        }                                                                            \
    } while (0)

#define CHECK_EQ_INT(a, b) CHECK_MSG((long long)(a) == (long long)(b), "%lld != %lld", (long long)(a), (long long)(b))
#define CHECK_NEAR(a, b, tol) CHECK_MSG(fabs((double)(a) - (double)(b)) <= (tol) && !isnan((double)(a)), \
                                        "%g vs %g (tol %g)", (double)(a), (double)(b), (double)(tol))
#define SKIP(why) do { fp_test_skipped++; fprintf(stderr, "SKIP %s:%d: %s\n", __FILE__, __LINE__, why); } while (0)

/* Print the closing line and return the process exit code. */
static inline int fp_test_finish(const char *name)
{
    printf("%s: %d passed, %d failed", name, fp_test_passed, fp_test_failed);
    if (fp_test_skipped)
        printf(", %d skipped", fp_test_skipped);
    printf("\n");
    return fp_test_failed ? 1 : 0;
}

#endif
