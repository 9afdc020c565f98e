/*
 * nn_runtime — internal hooks of the runtime for tests and the CLI (the public API is framepipe.h).
 * Owns nothing beyond these declarations.
 */
#ifndef NN_RUNTIME_H
#define NN_RUNTIME_H

#include "framepipe.h"

/* fp_model_load from a buffer (fuzzing, embedded models). name is used in messages; external data is
 * refused. Same ownership and errors as fp_model_load. */
int nn_model_load_mem(const void *buf, size_t len, const char *name, const fp_model_opts *opts, fp_model **m,
                      fp_err *e);

#endif
