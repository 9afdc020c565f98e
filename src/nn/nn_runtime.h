/*
 * nn_runtime — internal hooks of the runtime for tests and the CLI (the public API is framepipe.h).
 * Owns nothing beyond these declarations.
 */
#ifndef NN_RUNTIME_H
#define NN_RUNTIME_H

#include "framepipe.h"

#endif
