/* Unit tests for fp_error: first error wins, prefixing, exit-code mapping, AVERROR translation. */
#include "core/fp_error.h"
#include "fp_test.h"

#include <errno.h>

int main(void)
{
    fp_err e;
    fp_err_clear(&e);
    CHECK_EQ_INT(e.code, 0);
    CHECK_EQ_INT(fp_errorf(&e, FP_EINPUT, "%s: decode: %s", "a.mp4", "truncated"), FP_EINPUT);
    CHECK(!strcmp(e.msg, "a.mp4: decode: truncated"));
    fp_errorf(&e, FP_EIO, "later error");
    CHECK_EQ_INT(e.code, FP_EINPUT);
    CHECK(!strcmp(e.msg, "a.mp4: decode: truncated"));
    fp_err_prefix(&e, "job %d: ", 7);
    CHECK(!strcmp(e.msg, "job 7: a.mp4: decode: truncated"));
    CHECK_EQ_INT(fp_errorf(NULL, FP_ENOMEM, "x"), FP_ENOMEM);

    CHECK_EQ_INT(fp_exit_code(FP_OK), 0);
    CHECK_EQ_INT(fp_exit_code(FP_EINPUT), FP_EXIT_INPUT);
    CHECK_EQ_INT(fp_exit_code(FP_EUNSUPPORTED), FP_EXIT_UNSUPPORTED);
    CHECK_EQ_INT(fp_exit_code(FP_EINTR), 130);
    CHECK_EQ_INT(fp_exit_code(-999), FP_EXIT_FAILURE);
    CHECK(strcmp(fp_strerror(FP_EDEVICE), "unknown error") != 0);

    CHECK_EQ_INT(fp_err_from_averror(-ENOSPC), FP_EIO);
    CHECK_EQ_INT(fp_err_from_averror(-ENOENT), FP_EINPUT);
    CHECK_EQ_INT(fp_err_from_averror(-(int)('I' | 'N' << 8 | 'D' << 16 | 'A' << 24)), FP_EINPUT);
    CHECK_EQ_INT(fp_err_from_averror(0), FP_OK);
    return fp_test_finish("test_error");
}
