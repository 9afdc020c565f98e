/*
 * nn_runtime — internal hooks of the runtime for tests and the CLI (the public API is framepipe.h).
 * Owns nothing beyond these declarations.
 */
#ifndef NN_RUNTIME_H
#define NN_RUNTIME_H

#include "framepipe.h"
#include "nn/nn_graph.h"

/* flags[i] = 1 when graph input i decides shapes through its values (RVM's downsample_ratio): found by
 * walking back from every op's value_inputs through all ops but Shape/Size. flags has ninputs entries.
 * Returns 0 or FP_ENOMEM. */
int nn_graph_value_inputs(const nn_graph *g, unsigned char *flags);

/* fp_model_load from a buffer (fuzzing, embedded models). name is used in messages; external data is
 * refused. Same ownership and errors as fp_model_load. */
int nn_model_load_mem(const void *buf, size_t len, const char *name, const fp_model_opts *opts, fp_model **m,
                      fp_err *e);

#endif
