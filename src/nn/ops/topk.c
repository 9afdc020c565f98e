/*
 * topk — CPU kernels of TopK and NonMaxSuppression, the two selection operators.
 *
 * Owns those op defs. TopK orders ties by the lower index first, as ONNX specifies, for both largest
 * and smallest, and always returns sorted results (allowed when sorted=0). NonMaxSuppression is greedy
 * per (batch, class): candidates above score_threshold in descending score order (ties: lower box
 * index first), a candidate is dropped when its IoU with an already selected box exceeds
 * iou_threshold, at most max_output_boxes_per_class are kept; boxes are corners [y1,x1,y2,x2] in any
 * order (center_point_box=0) or [xc,yc,w,h] (1).
 *
 * NonMaxSuppression's output length depends on the values of boxes and scores, so its infer needs all
 * inputs' data (value_inputs covers them); a runtime that lacks them must call infer again at run
 * time with the values (docs/ops-a.md).
 */
#include "nn/ops/opsa_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- TopK ---- */

typedef struct tk_pair {
    double v;
    int64_t i;
} tk_pair;

/* NaN sorts as the largest value, like numpy and ONNX Runtime */
static int tk_cmp_desc(const void *a_, const void *b_)
{
    const tk_pair *a = a_, *b = b_;
    int an = isnan(a->v), bn = isnan(b->v);
    if (an != bn)
        return an ? -1 : 1;
    if (!an && a->v != b->v)
        return a->v > b->v ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

static int tk_cmp_asc(const void *a_, const void *b_)
{
    const tk_pair *a = a_, *b = b_;
    int an = isnan(a->v), bn = isnan(b->v);
    if (an != bn)
        return an ? 1 : -1;
    if (!an && a->v != b->v)
        return a->v < b->v ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

static int topk_k(const nn_node *n, nn_tensor *const *in, int nin, int64_t *k, fp_err *e)
{
    if (n->opset < 10) {
        *k = nn_attr_int(n, "k", -1);
    } else {
        if (nin < 2 || !in[1])
            return nn_node_error(e, n, FP_EMODEL, "K input is required");
        if (!in[1]->data)
            return nn_node_error(e, n, FP_EUNSUPPORTED, "K must be a constant (known when the plan is built)");
        if (nn_tensor_numel(in[1]) != 1)
            return nn_node_error(e, n, FP_EMODEL, "K must hold one value");
        *k = nn_tensor_get_i64(in[1], 0);
    }
    if (*k < 0)
        return nn_node_error(e, n, FP_EMODEL, "K is negative (%lld)", (long long)*k);
    return 0;
}

static int topk_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                      fp_err *e)
{
    int axis, ret;
    int64_t k, dims[NN_MAX_DIMS];
    if (nin < 1 || !in[0])
        return nn_node_error(e, n, FP_EMODEL, "missing input");
    if (!opsa_dt_is_numeric(in[0]->dtype))
        return nn_node_error(e, n, FP_EUNSUPPORTED, "dtype %s", nn_dtype_name(in[0]->dtype));
    if (nn_norm_axis(nn_attr_int(n, "axis", -1), in[0]->ndim, &axis) < 0)
        return nn_node_error(e, n, FP_EMODEL, "axis out of range for rank %d", in[0]->ndim);
    if ((ret = topk_k(n, in, nin, &k, e)) < 0)
        return ret;
    if (k > in[0]->dims[axis])
        return nn_node_error(e, n, FP_EMODEL, "K=%lld exceeds axis size %lld", (long long)k,
                             (long long)in[0]->dims[axis]);
    memcpy(dims, in[0]->dims, sizeof(dims));
    dims[axis] = k;
    out[0]->dtype = in[0]->dtype;
    if ((ret = opsa_set_shape(n, e, out[0], in[0]->ndim, dims)) < 0)
        return ret;
    if (nout > 1 && out[1]) {
        out[1]->dtype = NN_DT_INT64;
        return opsa_set_shape(n, e, out[1], in[0]->ndim, dims);
    }
    return 0;
}

static int topk_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                    nn_cpu_ctx *ctx, fp_err *e)
{
    int axis, ret;
    int64_t k;
    const nn_tensor *x = in[0];
    nn_norm_axis(nn_attr_int(n, "axis", -1), x->ndim, &axis);
    if ((ret = topk_k(n, in, nin, &k, e)) < 0)
        return ret;
    int largest = (int)nn_attr_int(n, "largest", 1);
    int64_t outer = opsa_dims_numel(x->dims, axis), len = x->dims[axis];
    int64_t inner = opsa_dims_numel(x->dims + axis + 1, x->ndim - axis - 1);
    if (k == 0 || outer * inner == 0)
        return 0;
    tk_pair *buf = nn_cpu_ctx_scratch(ctx, sizeof(tk_pair) * (size_t)len);
    if (!buf)
        return nn_node_error(e, n, FP_ENOMEM, "no scratch for %lld values", (long long)len);
    int isint = opsa_dt_is_int(x->dtype);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = o * len * inner + i, obase = o * k * inner + i;
            for (int64_t a = 0; a < len; a++) {
                buf[a].v = opsa_load_f64(x->dtype, x->data, base + a * inner);
                buf[a].i = a;
            }
            qsort(buf, (size_t)len, sizeof(*buf), largest ? tk_cmp_desc : tk_cmp_asc);
            for (int64_t a = 0; a < k; a++) {
                int64_t src = base + buf[a].i * inner, dst = obase + a * inner;
                if (isint)
                    opsa_store_i64(x->dtype, out[0]->data, dst, opsa_load_i64(x->dtype, x->data, src));
                else
                    opsa_store_f64(x->dtype, out[0]->data, dst, buf[a].v);
                if (nout > 1 && out[1])
                    ((int64_t *)out[1]->data)[dst] = buf[a].i;
            }
        }
    return 0;
}

const nn_op_def nn_op_topk = { "TopK", "", 1, topk_infer, topk_cpu, 1u << 1 };

/* ---- NonMaxSuppression ---- */

typedef struct nms_cand {
    float score;
    int64_t box;
} nms_cand;

static int nms_cmp(const void *a_, const void *b_)
{
    const nms_cand *a = a_, *b = b_;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return a->box < b->box ? -1 : a->box > b->box;
}

static void nms_corners(const float *b, int center, float *y1, float *x1, float *y2, float *x2)
{
    if (center) {
        *x1 = b[0] - b[2] / 2;
        *x2 = b[0] + b[2] / 2;
        *y1 = b[1] - b[3] / 2;
        *y2 = b[1] + b[3] / 2;
    } else {
        *y1 = fminf(b[0], b[2]);
        *y2 = fmaxf(b[0], b[2]);
        *x1 = fminf(b[1], b[3]);
        *x2 = fmaxf(b[1], b[3]);
    }
}

static int nms_suppress(const float *a, const float *b, int center, float thr)
{
    float ay1, ax1, ay2, ax2, by1, bx1, by2, bx2;
    nms_corners(a, center, &ay1, &ax1, &ay2, &ax2);
    nms_corners(b, center, &by1, &bx1, &by2, &bx2);
    float aa = (ay2 - ay1) * (ax2 - ax1), ab = (by2 - by1) * (bx2 - bx1);
    if (aa <= 0 || ab <= 0)
        return 0;
    float ih = fminf(ay2, by2) - fmaxf(ay1, by1), iw = fminf(ax2, bx2) - fmaxf(ax1, bx1);
    if (ih <= 0 || iw <= 0)
        return 0;
    float inter = ih * iw, uni = aa + ab - inter;
    if (uni <= 0)
        return 0;
    return inter / uni > thr;
}

typedef struct nms_args {
    int64_t B, C, N, max_out;
    float iou, score_thr;
    int has_score_thr, center;
    const float *boxes, *scores;
} nms_args;

static int nms_args_get(const nn_node *n, nn_tensor *const *in, int nin, nms_args *a, fp_err *e)
{
    memset(a, 0, sizeof(*a));
    if (nin < 2 || !in[0] || !in[1])
        return nn_node_error(e, n, FP_EMODEL, "needs boxes and scores");
    if (in[0]->dtype != NN_DT_FLOAT || in[1]->dtype != NN_DT_FLOAT)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "boxes and scores must be float32");
    if (in[0]->ndim != 3 || in[0]->dims[2] != 4 || in[1]->ndim != 3 || in[1]->dims[0] != in[0]->dims[0] ||
        in[1]->dims[2] != in[0]->dims[1])
        return nn_node_error(e, n, FP_EMODEL, "boxes must be [B,N,4] and scores [B,C,N]");
    for (int k = 0; k < 5 && k < nin; k++)
        if (in[k] && !in[k]->data)
            return nn_node_error(e, n, FP_EUNSUPPORTED,
                                 "output size depends on input values: input %d must be known when shapes are inferred",
                                 k);
    a->B = in[0]->dims[0];
    a->N = in[0]->dims[1];
    a->C = in[1]->dims[1];
    a->boxes = in[0]->data;
    a->scores = in[1]->data;
    a->center = (int)nn_attr_int(n, "center_point_box", 0);
    if (nin > 2 && in[2] && nn_tensor_numel(in[2]) > 0)
        a->max_out = nn_tensor_get_i64(in[2], 0);
    if (nin > 3 && in[3] && nn_tensor_numel(in[3]) > 0)
        a->iou = (float)nn_tensor_get_f64(in[3], 0);
    if (nin > 4 && in[4] && nn_tensor_numel(in[4]) > 0) {
        a->score_thr = (float)nn_tensor_get_f64(in[4], 0);
        a->has_score_thr = 1;
    }
    if (a->max_out < 0)
        a->max_out = 0;
    return 0;
}

/* Run the selection; writes triples to sel when not NULL. work holds N candidates and N selected
 * indices. Returns the number selected. */
static int64_t nms_run(const nms_args *a, nms_cand *cand, int64_t *kept, int64_t *sel)
{
    int64_t total = 0;
    for (int64_t b = 0; b < a->B; b++)
        for (int64_t c = 0; c < a->C; c++) {
            const float *sc = a->scores + (b * a->C + c) * a->N;
            const float *bx = a->boxes + b * a->N * 4;
            int64_t nc = 0, nk = 0;
            for (int64_t i = 0; i < a->N; i++)
                if (!a->has_score_thr || sc[i] > a->score_thr) {
                    cand[nc].score = sc[i];
                    cand[nc++].box = i;
                }
            qsort(cand, (size_t)nc, sizeof(*cand), nms_cmp);
            for (int64_t i = 0; i < nc && nk < a->max_out; i++) {
                int drop = 0;
                for (int64_t s = 0; s < nk && !drop; s++)
                    drop = nms_suppress(bx + cand[i].box * 4, bx + kept[s] * 4, a->center, a->iou);
                if (drop)
                    continue;
                kept[nk++] = cand[i].box;
                if (sel) {
                    sel[total * 3] = b;
                    sel[total * 3 + 1] = c;
                    sel[total * 3 + 2] = cand[i].box;
                }
                total++;
            }
        }
    return total;
}

static int nms_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                     fp_err *e)
{
    nms_args a;
    int ret = nms_args_get(n, in, nin, &a, e);
    int64_t dims[2] = { 0, 3 };
    if (ret < 0)
        return ret;
    size_t cnt = a.N ? (size_t)a.N : 1;
    nms_cand *cand = malloc(cnt * sizeof(*cand));
    int64_t *kept = malloc(cnt * sizeof(*kept));
    if (!cand || !kept) {
        free(cand);
        free(kept);
        return nn_node_error(e, n, FP_ENOMEM, "out of memory");
    }
    dims[0] = nms_run(&a, cand, kept, NULL);
    free(cand);
    free(kept);
    out[0]->dtype = NN_DT_INT64;
    return opsa_set_shape(n, e, out[0], 2, dims);
}

static int nms_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                   nn_cpu_ctx *ctx, fp_err *e)
{
    nms_args a;
    int ret = nms_args_get(n, in, nin, &a, e);
    if (ret < 0)
        return ret;
    size_t cnt = a.N ? (size_t)a.N : 1;
    char *work = nn_cpu_ctx_scratch(ctx, cnt * (sizeof(nms_cand) + sizeof(int64_t)));
    if (!work)
        return nn_node_error(e, n, FP_ENOMEM, "no scratch for %lld boxes", (long long)a.N);
    /* the output was sized by infer from the same values; count again before writing */
    int64_t *kept = (int64_t *)work;
    nms_cand *cand = (nms_cand *)(work + cnt * sizeof(int64_t));
    int64_t total = nms_run(&a, cand, kept, NULL);
    if (total != out[0]->dims[0] || out[0]->ndim != 2)
        return nn_node_error(e, n, FP_EINTERNAL, "output sized for %lld boxes, %lld selected",
                             (long long)out[0]->dims[0], (long long)total);
    nms_run(&a, cand, kept, out[0]->data);
    return 0;
}

const nn_op_def nn_op_nonmaxsuppression = { "NonMaxSuppression", "", 1, nms_infer, nms_cpu, 0x1f };
