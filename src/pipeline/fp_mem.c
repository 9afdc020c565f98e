/*
 * fp_mem — RSS and RAM figures from Linux. See fp_mem.h.
 */
#include "pipeline/fp_mem.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* Value in kB of "key:" in a /proc file, as bytes; 0 if absent. */
static uint64_t proc_kb(const char *file, const char *key)
{
    char line[256];
    size_t klen = strlen(key);
    uint64_t v = 0;
    FILE *f = fopen(file, "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, key, klen) && line[klen] == ':') {
            unsigned long long kb;
            if (sscanf(line + klen + 1, "%llu", &kb) == 1)
                v = (uint64_t)kb * 1024;
            break;
        }
    fclose(f);
    return v;
}

uint64_t fp_mem_peak_rss(void)
{
    struct rusage ru;
    uint64_t v = proc_kb("/proc/self/status", "VmHWM");
    if (v)
        return v;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        return (uint64_t)ru.ru_maxrss * 1024; /* kilobytes on Linux */
    return 0;
}

uint64_t fp_mem_current_rss(void) { return proc_kb("/proc/self/status", "VmRSS"); }

uint64_t fp_mem_total_ram(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : 0;
}

uint64_t fp_mem_available_ram(void) { return proc_kb("/proc/meminfo", "MemAvailable"); }
