/*
 * cast — CPU kernels of Cast and CastLike between every pair of float32, float64, float16, bfloat16,
 * int8/16/32/64, uint8/16/32/64 and bool.
 *
 * Owns the two op defs and the conversion rules: float to float16/bfloat16 rounds to nearest even
 * (float64 sources are rounded once, not twice); float to integer truncates toward zero like numpy's
 * astype, with NaN giving 0 and out-of-range values saturating (numpy leaves those undefined); integer
 * to narrower integer wraps; anything to bool is "!= 0". Strings are not supported (FP_EUNSUPPORTED).
 */
#include "nn/ops/opsa_util.h"

#include <string.h>

static int cast_type_ok(nn_dtype t)
{
    return opsa_dt_is_numeric(t) || t == NN_DT_BOOL;
}

static int cast_common(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, nn_dtype to,
                       fp_err *e)
{
    if (nin < 1 || !in[0])
        return nn_node_error(e, n, FP_EMODEL, "missing input");
    if (!cast_type_ok(in[0]->dtype) || !cast_type_ok(to))
        return nn_node_error(e, n, FP_EUNSUPPORTED, "cast from %s to %s not supported",
                             nn_dtype_name(in[0]->dtype), nn_dtype_name(to));
    out[0]->dtype = to;
    return opsa_set_shape(n, e, out[0], in[0]->ndim, in[0]->dims);
}

static int cast_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                      fp_err *e)
{
    if (!nn_attr_get(n, "to"))
        return nn_node_error(e, n, FP_EMODEL, "attribute 'to' is required");
    return cast_common(n, in, nin, out, (nn_dtype)nn_attr_int(n, "to", 0), e);
}

static int castlike_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                          fp_err *e)
{
    if (nin < 2 || !in[1])
        return nn_node_error(e, n, FP_EMODEL, "target_type input is required");
    return cast_common(n, in, nin, out, in[1]->dtype, e);
}

typedef struct cast_job {
    nn_dtype from, to;
    const void *x;
    void *y;
} cast_job;

static void cast_range(void *arg, int64_t b, int64_t end)
{
    const cast_job *j = arg;
    nn_dtype f = j->from, t = j->to;
    if (f == NN_DT_FLOAT && t == NN_DT_FLOAT16) {
        for (int64_t i = b; i < end; i++)
            ((uint16_t *)j->y)[i] = nn_f32_to_f16(((const float *)j->x)[i]);
    } else if (f == NN_DT_FLOAT16 && t == NN_DT_FLOAT) {
        for (int64_t i = b; i < end; i++)
            ((float *)j->y)[i] = nn_f16_to_f32(((const uint16_t *)j->x)[i]);
    } else if (f == NN_DT_FLOAT && t == NN_DT_BFLOAT16) {
        for (int64_t i = b; i < end; i++)
            ((uint16_t *)j->y)[i] = nn_f32_to_bf16(((const float *)j->x)[i]);
    } else if (t == NN_DT_BOOL) {
        for (int64_t i = b; i < end; i++)
            ((uint8_t *)j->y)[i] = opsa_dt_is_float(f) ? opsa_load_f64(f, j->x, i) != 0
                                                       : opsa_load_i64(f, j->x, i) != 0;
    } else if (opsa_dt_is_float(f) || opsa_dt_is_float(t)) {
        for (int64_t i = b; i < end; i++)
            opsa_store_f64(t, j->y, i, opsa_load_f64(f, j->x, i));
    } else {
        for (int64_t i = b; i < end; i++)
            opsa_store_i64(t, j->y, i, opsa_load_i64(f, j->x, i));
    }
}

static int cast_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                    nn_cpu_ctx *ctx, fp_err *e)
{
    cast_job j = { in[0]->dtype, out[0]->dtype, in[0]->data, out[0]->data };
    int64_t cnt = nn_tensor_numel(in[0]);
    if (j.from == j.to) {
        if (cnt && j.x != j.y)
            memcpy(j.y, j.x, nn_tensor_nbytes(in[0]));
        return 0;
    }
    opsa_parallel(ctx, cnt, OPSA_PAR_MIN, cast_range, &j);
    return 0;
}

const nn_op_def nn_op_cast = { "Cast", "", 1, cast_infer, cast_cpu, 0 };
const nn_op_def nn_op_castlike = { "CastLike", "", 1, castlike_infer, cast_cpu, 0 };
