/*
 * fuzz_loader — libFuzzer target for the ONNX loader: any byte string given to nn_graph_load_mem()
 * must end in a graph or in an error message, never a crash, a leak, or an out-of-bounds access
 * (built with -fsanitize=fuzzer,address when FP_FUZZ=ON; scripts/fuzz.sh runs it, seeded with the
 * conformance models). Graphs that load are also checked for unresolved ops, and every TensorProto
 * path is reached through initializers and tensor attributes.
 */
#include <stddef.h>
#include <stdint.h>

#include "nn/nn_graph.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    nn_graph *g = NULL;
    fp_err e = { 0 };
    if (nn_graph_load_mem(data, size, "fuzz.onnx", NULL, &g, &e) == 0) {
        nn_graph_check_ops(g, &e);
        nn_graph_freep(&g);
    }
    return 0;
}
