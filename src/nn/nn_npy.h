/*
 * nn_npy — NumPy .npy files (format v1/v2/v3 headers, little-endian, C order) <-> nn_tensor, for
 * `framepipe model run` and tests.
 *
 * Owns: header parsing and writing. Refuses Fortran order, big-endian and object arrays with one line
 * naming the file. Does not own any dtype conversion: the file's dtype is the tensor's dtype.
 */
#ifndef NN_NPY_H
#define NN_NPY_H

#include "core/fp_error.h"
#include "nn/nn_tensor.h"

/* Read path into t (owned host data, free with nn_tensor_free). On failure t is left empty.
 * Errors: FP_EINPUT (missing, unreadable, malformed, truncated), FP_EUNSUPPORTED (Fortran order,
 * big-endian, dtype without an nn_dtype, rank > NN_MAX_DIMS). */
int nn_npy_read(const char *path, nn_tensor *t, fp_err *e);
/* Write t (host data) as a v1 .npy (v2 if the header needs it). FP_EOUTPUT on I/O failure,
 * FP_EUNSUPPORTED for bfloat16 (numpy has no such dtype). */
int nn_npy_write(const char *path, const nn_tensor *t, fp_err *e);

#endif
