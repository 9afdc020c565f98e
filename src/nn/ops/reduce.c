/*
 * reduce — CPU kernels of ONNX's reductions over axes: ReduceSum, ReduceMean, ReduceMax, ReduceMin,
 * ReduceProd, ReduceL1, ReduceL2, ReduceSumSquare, ReduceLogSum, ReduceLogSumExp, and the index
 * reductions ArgMax/ArgMin.
 *
 * Owns the op defs, axis/keepdims/noop_with_empty_axes handling (axes is an attribute before opset
 * 18, ReduceSum before 13; an input from then) and the kernels. Does not own registration.
 *
 * Float inputs accumulate in double (float16/bfloat16/float32 sums of millions of values stay
 * accurate); integer inputs accumulate in int64 with wrap-around. A reduction over zero elements gives
 * the identity (0 for sums, 1 for Prod, -inf/+inf for Max/Min, NaN for Mean) like numpy.
 */
#include "nn/ops/opsa_util.h"

#include <math.h>
#include <string.h>

enum { R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_SUMSQ, R_LOGSUM, R_LOGSUMEXP };

static const struct {
    const char *name;
    int kind;
    int axes_input_opset; /* first opset where axes is an input */
    int int_ok;
} red_table[] = {
    { "ReduceSum", R_SUM, 13, 1 },          { "ReduceMean", R_MEAN, 18, 1 },
    { "ReduceMax", R_MAX, 18, 1 },          { "ReduceMin", R_MIN, 18, 1 },
    { "ReduceProd", R_PROD, 18, 1 },        { "ReduceL1", R_L1, 18, 1 },
    { "ReduceL2", R_L2, 18, 1 },            { "ReduceSumSquare", R_SUMSQ, 18, 1 },
    { "ReduceLogSum", R_LOGSUM, 18, 0 },    { "ReduceLogSumExp", R_LOGSUMEXP, 18, 0 },
};

static int red_find(const nn_node *n)
{
    for (int i = 0; i < OPSA_ARRAY_LEN(red_table); i++)
        if (!strcmp(red_table[i].name, n->op_type))
            return i;
    return -1;
}

/* Which axes of x are reduced; returns 0 or a negative code. *noop set when the op is an identity. */
static int red_axes(const nn_node *n, nn_tensor *const *in, int nin, int idx, int *red, int *noop,
                    fp_err *e)
{
    int axes[NN_MAX_DIMS * 2];
    int rank = in[0]->ndim;
    int cnt = opsa_get_axes(n, in, nin, 1, red_table[idx].axes_input_opset, rank, axes, e);
    if (cnt < 0)
        return cnt;
    *noop = 0;
    for (int d = 0; d < rank; d++)
        red[d] = cnt == 0;
    if (cnt == 0 && nn_attr_int(n, "noop_with_empty_axes", 0))
        *noop = 1;
    for (int i = 0; i < cnt; i++)
        red[axes[i]] = 1;
    return 0;
}

static int reduce_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                        fp_err *e)
{
    int idx = red_find(n), red[NN_MAX_DIMS], noop, ret;
    int keep = (int)nn_attr_int(n, "keepdims", 1);
    int64_t dims[NN_MAX_DIMS];
    int nd = 0;
    if (idx < 0 || nin < 1 || !in[0])
        return nn_node_error(e, n, FP_EMODEL, "missing input");
    nn_dtype t = in[0]->dtype;
    if (!opsa_dt_is_float(t) && !(red_table[idx].int_ok && opsa_dt_is_int(t)))
        return nn_node_error(e, n, FP_EUNSUPPORTED, "input dtype %s not supported", nn_dtype_name(t));
    if ((ret = red_axes(n, in, nin, idx, red, &noop, e)) < 0)
        return ret;
    out[0]->dtype = t;
    if (noop)
        return opsa_set_shape(n, e, out[0], in[0]->ndim, in[0]->dims);
    for (int d = 0; d < in[0]->ndim; d++) {
        if (!red[d])
            dims[nd++] = in[0]->dims[d];
        else if (keep)
            dims[nd++] = 1;
    }
    return opsa_set_shape(n, e, out[0], nd, dims);
}

typedef struct red_job {
    int kind;
    nn_dtype t;
    const void *x;
    void *y;
    /* merged layout: kept dims (for output index) and reduced dims (for the inner odometer) */
    int nk, nr;
    int64_t kdim[NN_MAX_DIMS], kstride[NN_MAX_DIMS];
    int64_t rdim[NN_MAX_DIMS], rstride[NN_MAX_DIMS];
    int64_t rcount;
} red_job;

/* Fold one strided line of len elements into the accumulators. */
static void red_line_f(const red_job *j, int64_t off, int64_t len, int64_t st, double *acc, double shift)
{
    if (j->t == NN_DT_FLOAT) {
        const float *x = (const float *)j->x + off;
        double a = *acc;
        switch (j->kind) {
        case R_SUM: case R_MEAN: case R_LOGSUM:
            for (int64_t i = 0; i < len; i++) a += x[i * st];
            break;
        case R_MAX: for (int64_t i = 0; i < len; i++) a = (x[i * st] > a || isnan(x[i * st])) ? x[i * st] : a; break;
        case R_MIN: for (int64_t i = 0; i < len; i++) a = (x[i * st] < a || isnan(x[i * st])) ? x[i * st] : a; break;
        case R_PROD: for (int64_t i = 0; i < len; i++) a *= x[i * st]; break;
        case R_L1: for (int64_t i = 0; i < len; i++) a += fabs((double)x[i * st]); break;
        case R_L2: case R_SUMSQ: for (int64_t i = 0; i < len; i++) a += (double)x[i * st] * x[i * st]; break;
        case R_LOGSUMEXP: for (int64_t i = 0; i < len; i++) a += exp((double)x[i * st] - shift); break;
        }
        *acc = a;
        return;
    }
    for (int64_t i = 0; i < len; i++) {
        double v = opsa_load_f64(j->t, j->x, off + i * st);
        switch (j->kind) {
        case R_SUM: case R_MEAN: case R_LOGSUM: *acc += v; break;
        case R_MAX: *acc = (v > *acc || isnan(v)) ? v : *acc; break;
        case R_MIN: *acc = (v < *acc || isnan(v)) ? v : *acc; break;
        case R_PROD: *acc *= v; break;
        case R_L1: *acc += fabs(v); break;
        case R_L2: case R_SUMSQ: *acc += v * v; break;
        case R_LOGSUMEXP: *acc += exp(v - shift); break;
        }
    }
}

static void red_line_i(const red_job *j, int64_t off, int64_t len, int64_t st, int64_t *acc)
{
    for (int64_t i = 0; i < len; i++) {
        int64_t v = opsa_load_i64(j->t, j->x, off + i * st);
        switch (j->kind) {
        case R_SUM: case R_MEAN: *acc = (int64_t)((uint64_t)*acc + (uint64_t)v); break;
        case R_MAX: *acc = v > *acc ? v : *acc; break;
        case R_MIN: *acc = v < *acc ? v : *acc; break;
        case R_PROD: *acc = (int64_t)((uint64_t)*acc * (uint64_t)v); break;
        case R_L1: *acc += v < 0 ? -v : v; break;
        case R_L2: case R_SUMSQ: *acc = (int64_t)((uint64_t)*acc + (uint64_t)v * (uint64_t)v); break;
        }
    }
}

/* Visit every reduced line of the output element whose input base offset is base. */
#define RED_FOREACH_LINE(j, base, BODY)                                                            \
    do {                                                                                           \
        int64_t rc_[NN_MAX_DIMS] = { 0 };                                                          \
        int nr_ = (j)->nr;                                                                         \
        int64_t len = nr_ ? (j)->rdim[nr_ - 1] : 1, st = nr_ ? (j)->rstride[nr_ - 1] : 1;          \
        int64_t lines_ = 1;                                                                        \
        for (int d_ = 0; d_ < nr_ - 1; d_++)                                                       \
            lines_ *= (j)->rdim[d_];                                                               \
        if (len == 0)                                                                              \
            lines_ = 0;                                                                            \
        for (int64_t l_ = 0; l_ < lines_; l_++) {                                                  \
            int64_t off = (base);                                                                  \
            for (int d_ = 0; d_ < nr_ - 1; d_++)                                                   \
                off += rc_[d_] * (j)->rstride[d_];                                                 \
            BODY;                                                                                  \
            for (int d_ = nr_ - 2; d_ >= 0; d_--) {                                                \
                if (++rc_[d_] < (j)->rdim[d_])                                                     \
                    break;                                                                         \
                rc_[d_] = 0;                                                                       \
            }                                                                                      \
        }                                                                                          \
    } while (0)

static void red_range(void *arg, int64_t begin, int64_t end)
{
    const red_job *j = arg;
    for (int64_t o = begin; o < end; o++) {
        int64_t base = 0, rem = o;
        for (int d = j->nk - 1; d >= 0; d--) {
            base += (rem % j->kdim[d]) * j->kstride[d];
            rem /= j->kdim[d];
        }
        if (opsa_dt_is_int(j->t)) {
            int64_t acc = j->kind == R_PROD ? 1 : j->kind == R_MAX ? INT64_MIN : j->kind == R_MIN ? INT64_MAX : 0;
            RED_FOREACH_LINE(j, base, red_line_i(j, off, len, st, &acc));
            if (j->kind == R_MEAN)
                acc = j->rcount ? acc / j->rcount : 0;
            else if (j->kind == R_L2)
                acc = (int64_t)sqrt((double)acc);
            opsa_store_i64(j->t, j->y, o, acc);
            continue;
        }
        double acc = j->kind == R_PROD ? 1 : j->kind == R_MAX ? -INFINITY : j->kind == R_MIN ? INFINITY : 0;
        double shift = 0;
        if (j->kind == R_LOGSUMEXP) {
            /* shift by the max so exp() cannot overflow */
            red_job mj = *j;
            double m = -INFINITY;
            mj.kind = R_MAX;
            RED_FOREACH_LINE(&mj, base, red_line_f(&mj, off, len, st, &m, 0));
            shift = isfinite(m) ? m : 0;
        }
        RED_FOREACH_LINE(j, base, red_line_f(j, off, len, st, &acc, shift));
        switch (j->kind) {
        case R_MEAN: acc = acc / (double)j->rcount; break;
        case R_L2: acc = sqrt(acc); break;
        case R_LOGSUM: acc = log(acc); break;
        case R_LOGSUMEXP: acc = log(acc) + shift; break;
        }
        opsa_store_f64(j->t, j->y, o, acc);
    }
}

static int reduce_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                      nn_cpu_ctx *ctx, fp_err *e)
{
    int idx = red_find(n), red[NN_MAX_DIMS], noop, ret;
    const nn_tensor *x = in[0];
    red_job j;
    if ((ret = red_axes(n, in, nin, idx, red, &noop, e)) < 0)
        return ret;
    if (noop) {
        memcpy(out[0]->data, x->data, nn_tensor_nbytes(x));
        return 0;
    }
    memset(&j, 0, sizeof(j));
    j.kind = red_table[idx].kind;
    j.t = x->dtype;
    j.x = x->data;
    j.y = out[0]->data;
    j.rcount = 1;
    /* merge adjacent dims of the same class; strides are contiguous element strides of x */
    int64_t stride = 1;
    int64_t sdim[NN_MAX_DIMS], sstr[NN_MAX_DIMS];
    int scls[NN_MAX_DIMS], ns = 0;
    for (int d = x->ndim - 1; d >= 0; d--) {
        if (red[d])
            j.rcount *= x->dims[d];
        if (x->dims[d] != 1) {
            if (ns > 0 && scls[ns - 1] == red[d] && sstr[ns - 1] * sdim[ns - 1] == stride) {
                sdim[ns - 1] *= x->dims[d];
            } else {
                sdim[ns] = x->dims[d];
                sstr[ns] = stride;
                scls[ns] = red[d];
                ns++;
            }
        }
        stride *= x->dims[d];
    }
    for (int s = ns - 1; s >= 0; s--) { /* back to outer-to-inner order */
        if (scls[s]) {
            j.rdim[j.nr] = sdim[s];
            j.rstride[j.nr++] = sstr[s];
        } else {
            j.kdim[j.nk] = sdim[s];
            j.kstride[j.nk++] = sstr[s];
        }
    }
    int64_t nout_el = nn_tensor_numel(out[0]);
    opsa_parallel(ctx, nout_el, nout_el * j.rcount >= OPSA_PAR_MIN ? 1 : INT64_MAX, red_range, &j);
    return 0;
}

#define REDUCE_DEF(SYM, NAME) \
    const nn_op_def nn_op_##SYM = { NAME, "", 1, reduce_infer, reduce_cpu, 1u << 1 };

REDUCE_DEF(reducesum, "ReduceSum")
REDUCE_DEF(reducemean, "ReduceMean")
REDUCE_DEF(reducemax, "ReduceMax")
REDUCE_DEF(reducemin, "ReduceMin")
REDUCE_DEF(reduceprod, "ReduceProd")
REDUCE_DEF(reducel1, "ReduceL1")
REDUCE_DEF(reducel2, "ReduceL2")
REDUCE_DEF(reducesumsquare, "ReduceSumSquare")
REDUCE_DEF(reducelogsum, "ReduceLogSum")
REDUCE_DEF(reducelogsumexp, "ReduceLogSumExp")

/* ---- ArgMax / ArgMin ---- */

static int arg_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                     fp_err *e)
{
    int axis, keep = (int)nn_attr_int(n, "keepdims", 1);
    int64_t dims[NN_MAX_DIMS];
    int nd = 0;
    if (nin < 1 || !in[0])
        return nn_node_error(e, n, FP_EMODEL, "missing input");
    if (!opsa_dt_is_numeric(in[0]->dtype))
        return nn_node_error(e, n, FP_EUNSUPPORTED, "input dtype %s not supported",
                             nn_dtype_name(in[0]->dtype));
    if (nn_norm_axis(nn_attr_int(n, "axis", 0), in[0]->ndim, &axis) < 0)
        return nn_node_error(e, n, FP_EMODEL, "axis out of range for rank %d", in[0]->ndim);
    if (in[0]->dims[axis] == 0)
        return nn_node_error(e, n, FP_EMODEL, "cannot take the arg of an empty axis");
    for (int d = 0; d < in[0]->ndim; d++) {
        if (d != axis)
            dims[nd++] = in[0]->dims[d];
        else if (keep)
            dims[nd++] = 1;
    }
    out[0]->dtype = NN_DT_INT64;
    return opsa_set_shape(n, e, out[0], nd, dims);
}

static int arg_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                   nn_cpu_ctx *ctx, fp_err *e)
{
    const nn_tensor *x = in[0];
    int axis, is_max = !strcmp(n->op_type, "ArgMax"), last = (int)nn_attr_int(n, "select_last_index", 0);
    nn_norm_axis(nn_attr_int(n, "axis", 0), x->ndim, &axis);
    int64_t outer = opsa_dims_numel(x->dims, axis), len = x->dims[axis];
    int64_t inner = opsa_dims_numel(x->dims + axis + 1, x->ndim - axis - 1);
    int64_t *y = out[0]->data;
    int isint = opsa_dt_is_int(x->dtype);
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = o * len * inner + i, best = 0;
            double bv = opsa_load_f64(x->dtype, x->data, base);
            int64_t bi = opsa_load_i64(x->dtype, x->data, base);
            for (int64_t k = 1; k < len; k++) {
                int better;
                if (isint) {
                    int64_t v = opsa_load_i64(x->dtype, x->data, base + k * inner);
                    better = is_max ? (last ? v >= bi : v > bi) : (last ? v <= bi : v < bi);
                    if (better)
                        bi = v;
                } else {
                    double v = opsa_load_f64(x->dtype, x->data, base + k * inner);
                    better = is_max ? (last ? v >= bv : v > bv) : (last ? v <= bv : v < bv);
                    if (better)
                        bv = v;
                }
                if (better)
                    best = k;
            }
            y[o * inner + i] = best;
        }
    }
    return 0;
}

const nn_op_def nn_op_argmax = { "ArgMax", "", 1, arg_infer, arg_cpu, 0 };
const nn_op_def nn_op_argmin = { "ArgMin", "", 1, arg_infer, arg_cpu, 0 };
