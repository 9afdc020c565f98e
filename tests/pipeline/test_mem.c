/*
 * Unit test for fp_mem: touching 64 MiB raises the peak RSS by about that much and the peak never
 * falls after the memory is freed; RAM figures are plausible.
 */
#include <stdlib.h>
#include <string.h>

#include "fp_test.h"
#include "pipeline/fp_mem.h"

int main(void)
{
    uint64_t before = fp_mem_peak_rss(), cur0 = fp_mem_current_rss(), after, cur1;
    size_t n = 64u << 20;
    volatile char *buf = malloc(n);
    CHECK(before > 0 && cur0 > 0);
    for (size_t i = 0; i < n; i += 4096)
        buf[i] = (char)i;
    after = fp_mem_peak_rss();
    cur1 = fp_mem_current_rss();
    CHECK_MSG(after >= before + (60u << 20), "peak %llu -> %llu", (unsigned long long)before,
              (unsigned long long)after);
    CHECK(cur1 >= cur0 + (60u << 20));
    free((void *)buf);
    /* the kernel batches RSS counters per CPU, so allow a few MiB of slack against the earlier read */
    CHECK(fp_mem_peak_rss() + (8u << 20) >= after);
    CHECK(fp_mem_total_ram() >= (256u << 20));
    CHECK(fp_mem_available_ram() > 0 && fp_mem_available_ram() <= fp_mem_total_ram());
    return fp_test_finish("test_mem");
}
