/*
 * fp_clock — the monotonic clock every pipeline measurement uses.
 *
 * Owns: reading CLOCK_MONOTONIC as nanoseconds/seconds and turning a relative timeout into an
 * absolute deadline for pthread_cond_timedwait (condition variables here are created with
 * CLOCK_MONOTONIC, so a wall-clock jump never stretches or cuts a wait). Does not own any timer state.
 */
#ifndef FP_CLOCK_H
#define FP_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t fp_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline double fp_clock_s(void) { return (double)fp_clock_ns() * 1e-9; }

/* Absolute CLOCK_MONOTONIC deadline `seconds` from now. */
static inline struct timespec fp_clock_deadline(double seconds)
{
    int64_t ns = fp_clock_ns() + (int64_t)(seconds * 1e9);
    struct timespec ts = { .tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000 };
    return ts;
}

#endif
