/* runtime_standin — the CPU context layout of the group-a test stand-in (see runtime_standin.c). */
#ifndef RUNTIME_STANDIN_H
#define RUNTIME_STANDIN_H
#include <stddef.h>
struct nn_cpu_ctx {
    int threads;
    void *scratch;
    size_t scratch_size;
    int parallel_calls;
};
#endif
