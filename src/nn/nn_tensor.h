/*
 * nn_tensor — the runtime's tensor: dtype, shape and a data pointer (host or CUDA device).
 *
 * Owns: dtype enumeration (ONNX TensorProto numbering), shape helpers, element sizes, fp16/bf16
 * conversion, and host allocation of tensor storage. Does not own memory planning (nn_plan) or device
 * allocation (backends). A tensor does not own its data unless `owned` is set; nn_tensor_free()
 * frees owned host data only.
 */
#ifndef NN_TENSOR_H
#define NN_TENSOR_H

#include <stddef.h>
#include <stdint.h>

/* Values equal ONNX TensorProto.DataType, so loader code can cast directly. */
typedef enum nn_dtype {
    NN_DT_UNDEFINED = 0,
    NN_DT_FLOAT = 1,
    NN_DT_UINT8 = 2,
    NN_DT_INT8 = 3,
    NN_DT_UINT16 = 4,
    NN_DT_INT16 = 5,
    NN_DT_INT32 = 6,
    NN_DT_INT64 = 7,
    NN_DT_STRING = 8,
    NN_DT_BOOL = 9,
    NN_DT_FLOAT16 = 10,
    NN_DT_DOUBLE = 11,
    NN_DT_UINT32 = 12,
    NN_DT_UINT64 = 13,
    NN_DT_BFLOAT16 = 16,
} nn_dtype;

#define NN_MAX_DIMS 8

typedef enum nn_device {
    NN_DEV_HOST = 0,
    NN_DEV_CUDA = 1,
} nn_device;

typedef struct nn_tensor {
    nn_dtype dtype;
    int ndim;                      /* 0 = scalar */
    int64_t dims[NN_MAX_DIMS];
    void *data;                    /* NULL while only the shape is known (shape inference) */
    nn_device device;
    int owned;                     /* data was allocated by nn_tensor_alloc() and is freed with it */
} nn_tensor;

/* Bytes per element; 0 for UNDEFINED/STRING. */
size_t nn_dtype_size(nn_dtype t);
/* "float32", "int64", ...; never NULL. */
const char *nn_dtype_name(nn_dtype t);

/* Number of elements (1 for a scalar). Returns -1 on overflow of int64 or a negative dim. */
int64_t nn_tensor_numel(const nn_tensor *t);
size_t nn_tensor_nbytes(const nn_tensor *t);
/* Set shape. Returns 0, or FP_EINVAL if ndim is out of range or a dim is negative. */
int nn_tensor_set_shape(nn_tensor *t, int ndim, const int64_t *dims);
int nn_shape_equal(const nn_tensor *a, const nn_tensor *b);
/* Formats "[1,3,224,224]" into buf; returns buf. */
const char *nn_shape_str(const nn_tensor *t, char *buf, size_t len);

/* Allocate zeroed host storage for t's current dtype/shape (64-byte aligned); sets owned.
 * Returns 0 or FP_ENOMEM / FP_EINVAL. On failure t->data is unchanged. */
int nn_tensor_alloc(nn_tensor *t);
/* Free owned host storage and reset data to NULL. Safe on NULL and on non-owned tensors. */
void nn_tensor_free(nn_tensor *t);

/* Half-precision conversions (round-to-nearest-even). */
float nn_f16_to_f32(uint16_t h);
uint16_t nn_f32_to_f16(float f);
float nn_bf16_to_f32(uint16_t h);
uint16_t nn_f32_to_bf16(float f);

/* Read element i of any numeric tensor on the host as double / int64 (for shape values and tests). */
double nn_tensor_get_f64(const nn_tensor *t, int64_t i);
int64_t nn_tensor_get_i64(const nn_tensor *t, int64_t i);

#endif
