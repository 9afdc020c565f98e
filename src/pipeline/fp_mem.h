/*
 * fp_mem — process memory figures for the end-of-run table and the benches.
 *
 * Owns: reading peak and current resident set size from Linux (/proc/self/status VmHWM/VmRSS, with
 * getrusage(ru_maxrss) as the fallback for the peak). Does not own any allocation or GPU memory.
 */
#ifndef FP_MEM_H
#define FP_MEM_H

#include <stdint.h>

/* Peak resident set size in bytes since process start; 0 if unknown. */
uint64_t fp_mem_peak_rss(void);

/* Current resident set size in bytes; 0 if unknown. */
uint64_t fp_mem_current_rss(void);

/* Physical memory of the machine in bytes (sysconf); 0 if unknown. */
uint64_t fp_mem_total_ram(void);

/* Memory available for new work in bytes (/proc/meminfo MemAvailable); 0 if unknown. */
uint64_t fp_mem_available_ram(void);

#endif
