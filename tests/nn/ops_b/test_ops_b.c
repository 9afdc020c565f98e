/*
 * test_ops_b — unit tests of the group-b kernels on awkward shapes against naive references written
 * here (placeholder; filled in below).
 */
#include "fp_test.h"
#include "opsb_test.h"

int main(void)
{
    CHECK(nn_op_find("", "Conv") != NULL);
    return fp_test_finish("ops_b");
}
