/*
 * nn_fuse — load-time graph fusion (see nn_fuse.h): BatchNormalization into Conv, Conv + activation
 * into FusedConv, and FusedConv's definition (shape inference and CPU kernel).
 *
 * A rule only fires when the result is the same function: the intermediate value has one reader and
 * is not a graph output, the weights and BatchNorm parameters are constants, and activation bounds
 * (Clip's min/max) are constants. Folding BatchNorm changes rounding (weights are rescaled once in
 * double precision instead of normalising every output), so fused and unfused runs agree to float32
 * rounding, not bit for bit; tests/nn/test_fuse.c bounds the difference.
 *
 * Owns: the rewrite and the FusedConv def. Ownership: new constants are graph-owned values (freed
 * with the graph); removed nodes' fields are freed here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_cpu.h"
#include "nn/nn_fuse.h"

/* ---------------------------------------------------------------- FusedConv */

static const struct {
    const char *name;
    int act;
} act_names[] = {
    { "Relu", NN_ACT_RELU },       { "Clip", NN_ACT_CLIP },       { "HardSwish", NN_ACT_HARDSWISH },
    { "HardSigmoid", NN_ACT_HARDSIGMOID }, { "Sigmoid", NN_ACT_SIGMOID }, { "Tanh", NN_ACT_TANH },
    { "LeakyRelu", NN_ACT_LEAKYRELU },
};

int nn_fused_act(const nn_node *n, int *act, float *a, float *b, fp_err *e)
{
    const char *s = nn_attr_str(n, "activation", NULL);
    int np = 0;
    const float *p = nn_attr_floats(n, "activation_params", &np);
    *act = NN_ACT_NONE;
    *a = *b = 0.f;
    if (!s)
        return 0;
    for (size_t i = 0; i < sizeof(act_names) / sizeof(act_names[0]); i++)
        if (!strcmp(s, act_names[i].name))
            *act = act_names[i].act;
    if (*act == NN_ACT_NONE)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "FusedConv activation '%s' is not supported", s);
    int need = *act == NN_ACT_CLIP || *act == NN_ACT_HARDSIGMOID ? 2 : *act == NN_ACT_LEAKYRELU ? 1 : 0;
    if (np < need)
        return nn_node_error(e, n, FP_EMODEL, "FusedConv activation '%s' needs %d activation_params, has %d", s,
                             need, np);
    if (need >= 1)
        *a = p[0];
    if (need >= 2)
        *b = p[1];
    return 0;
}

static const nn_op_def *conv_def(const nn_node *n)
{
    return nn_op_find_opset("", "Conv", n->opset > 0 ? n->opset : 11);
}

static int fused_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout, fp_err *e)
{
    int act;
    float a, b;
    const nn_op_def *c = conv_def(n);
    if (!c)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "no Conv kernel for FusedConv");
    int r = nn_fused_act(n, &act, &a, &b, e);
    return r < 0 ? r : c->infer(n, in, nin, out, nout, e);
}

typedef struct act_args {
    float *y;
    int act;
    float a, b;
} act_args;

static void act_range(void *arg, int64_t i0, int64_t i1)
{
    const act_args *p = arg;
    for (int64_t i = i0; i < i1; i++)
        p->y[i] = nn_act_apply(p->act, p->y[i], p->a, p->b);
}

static int fused_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout, nn_cpu_ctx *ctx,
                     fp_err *e)
{
    act_args p;
    const nn_op_def *c = conv_def(n);
    if (!c)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "no Conv kernel for FusedConv");
    int r = nn_fused_act(n, &p.act, &p.a, &p.b, e);
    if (r >= 0)
        r = c->cpu(n, in, nin, out, nout, ctx, e);
    if (r < 0)
        return r;
    /* while the output is still in cache would be better; Conv's bands are not exposed to us */
    p.y = out[0]->data;
    nn_cpu_parallel_for(ctx, nn_tensor_numel(out[0]), act_range, &p);
    return 0;
}

const nn_op_def nn_op_fused_conv = {
    .op_type = "FusedConv",
    .domain = "com.microsoft",
    .min_opset = 1,
    .infer = fused_infer,
    .cpu = fused_cpu,
};

/* ---------------------------------------------------------------- the pass */

static int readers(const nn_graph *g, int v)
{
    int c = 0;
    for (int i = 0; i < g->nnodes; i++)
        for (int k = 0; k < g->nodes[i].nin; k++)
            c += g->nodes[i].inputs[k] == v;
    for (int i = 0; i < g->noutputs; i++)
        c += g->outputs[i] == v ? 1000 : 0; /* a graph output is never fused away */
    return c;
}

static int is_conv(const nn_node *n)
{
    return n->def && !strcmp(n->op_type, "Conv") && (!n->domain || !n->domain[0]) && n->nout == 1;
}

static int const_float(const nn_graph *g, int v)
{
    if (v < 0 || !g->values[v].is_const)
        return 0;
    nn_dtype d = g->values[v].t.dtype;
    return d == NN_DT_FLOAT || d == NN_DT_FLOAT16 || d == NN_DT_DOUBLE;
}

/* Append a graph-owned constant value; returns its id or FP_ENOMEM. t's data is taken over. */
static int add_const(nn_graph *g, const char *base, const char *suffix, nn_tensor *t)
{
    if (g->nvalues == g->values_cap) {
        int nc = g->values_cap ? g->values_cap * 2 : 64;
        nn_value *nv = realloc(g->values, (size_t)nc * sizeof(*nv));
        if (!nv)
            return FP_ENOMEM;
        g->values = nv;
        g->values_cap = nc;
    }
    nn_value *v = &g->values[g->nvalues];
    memset(v, 0, sizeof(*v));
    size_t len = strlen(base) + strlen(suffix) + 1;
    if (!(v->name = malloc(len)))
        return FP_ENOMEM;
    snprintf(v->name, len, "%s%s", base, suffix);
    v->t = *t;
    v->shape_known = 1;
    v->is_const = 1;
    v->producer = -1;
    memset(t, 0, sizeof(*t));
    return g->nvalues++;
}

static void set_f(nn_tensor *t, int64_t i, double x)
{
    if (t->dtype == NN_DT_FLOAT16)
        ((uint16_t *)t->data)[i] = nn_f32_to_f16((float)x);
    else if (t->dtype == NN_DT_DOUBLE)
        ((double *)t->data)[i] = x;
    else
        ((float *)t->data)[i] = (float)x;
}

/* BatchNormalization bn reading Conv c's only output: c gets W*s and (B-mean)*s+beta, with
 * s = scale/sqrt(var+eps) per output channel, and writes bn's output. Returns 1 if done, 0 if the
 * pattern does not qualify, <0 on allocation failure. */
static int fold_bn(nn_graph *g, nn_node *c, nn_node *bn)
{
    if (bn->nin < 5 || nn_attr_int(bn, "training_mode", 0) != 0 || bn->outputs[0] < 0)
        return 0;
    for (int k = 1; k < bn->nout; k++)
        if (bn->outputs[k] >= 0)
            return 0;
    int w = c->inputs[1], bias = c->nin > 2 ? c->inputs[2] : -1;
    if (!const_float(g, w) || (bias >= 0 && !const_float(g, bias)))
        return 0;
    for (int k = 1; k < 5; k++)
        if (!const_float(g, bn->inputs[k]))
            return 0;
    const nn_tensor *W = &g->values[w].t;
    if (W->ndim < 3 || W->dtype == NN_DT_DOUBLE)
        return 0;
    int64_t M = W->dims[0], per = nn_tensor_numel(W) / (M ? M : 1);
    for (int k = 1; k < 5; k++)
        if (nn_tensor_numel(&g->values[bn->inputs[k]].t) != M)
            return 0;
    if (bias >= 0 && nn_tensor_numel(&g->values[bias].t) != M)
        return 0;
    double eps = nn_attr_float(bn, "epsilon", 1e-5f);
    const nn_tensor *sc = &g->values[bn->inputs[1]].t, *be = &g->values[bn->inputs[2]].t,
                    *mu = &g->values[bn->inputs[3]].t, *var = &g->values[bn->inputs[4]].t;
    nn_tensor nw = *W, nb = { .dtype = W->dtype, .ndim = 1, .dims = { M } };
    nw.data = NULL;
    nw.owned = 0;
    if (nn_tensor_alloc(&nw) < 0)
        return FP_ENOMEM;
    if (nn_tensor_alloc(&nb) < 0) {
        nn_tensor_free(&nw);
        return FP_ENOMEM;
    }
    for (int64_t m = 0; m < M; m++) {
        double s = nn_tensor_get_f64(sc, m) / sqrt(nn_tensor_get_f64(var, m) + eps);
        for (int64_t j = 0; j < per; j++)
            set_f(&nw, m * per + j, nn_tensor_get_f64(W, m * per + j) * s);
        double b0 = bias >= 0 ? nn_tensor_get_f64(&g->values[bias].t, m) : 0.0;
        set_f(&nb, m, (b0 - nn_tensor_get_f64(mu, m)) * s + nn_tensor_get_f64(be, m));
    }
    int wid = add_const(g, g->values[w].name, "_bnfold", &nw);
    if (wid < 0) {
        nn_tensor_free(&nw);
        nn_tensor_free(&nb);
        return FP_ENOMEM;
    }
    int bid = add_const(g, c->name, "_bnfold_bias", &nb);
    if (bid < 0) {
        nn_tensor_free(&nb);
        return FP_ENOMEM;
    }
    if (c->nin < 3) {
        int *in = realloc(c->inputs, 3 * sizeof(int));
        if (!in)
            return FP_ENOMEM;
        c->inputs = in;
        c->nin = 3;
    }
    c->inputs[1] = wid;
    c->inputs[2] = bid;
    return 1;
}

/* Activation node a (reading Conv c's only output) as (act, params); 0 if it does not qualify. */
static int act_of(const nn_graph *g, const nn_node *a, int *act, float p[2], int *np)
{
    *np = 0;
    if (!a->def || (a->domain && a->domain[0]) || a->nout != 1 || a->outputs[0] < 0)
        return 0;
    const char *t = a->op_type;
    if (!strcmp(t, "Relu"))
        *act = NN_ACT_RELU;
    else if (!strcmp(t, "HardSwish"))
        *act = NN_ACT_HARDSWISH;
    else if (!strcmp(t, "Sigmoid"))
        *act = NN_ACT_SIGMOID;
    else if (!strcmp(t, "Tanh"))
        *act = NN_ACT_TANH;
    else if (!strcmp(t, "LeakyRelu")) {
        *act = NN_ACT_LEAKYRELU;
        p[0] = nn_attr_float(a, "alpha", 0.01f);
        *np = 1;
    } else if (!strcmp(t, "HardSigmoid")) {
        *act = NN_ACT_HARDSIGMOID;
        p[0] = nn_attr_float(a, "alpha", 0.2f);
        p[1] = nn_attr_float(a, "beta", 0.5f);
        *np = 2;
    } else if (!strcmp(t, "Clip")) {
        *act = NN_ACT_CLIP;
        p[0] = -INFINITY;
        p[1] = INFINITY;
        if (a->opset < 11) {
            p[0] = nn_attr_float(a, "min", -INFINITY);
            p[1] = nn_attr_float(a, "max", INFINITY);
        } else {
            for (int k = 1; k < a->nin && k < 3; k++) {
                int v = a->inputs[k];
                if (v < 0)
                    continue;
                if (!const_float(g, v) || nn_tensor_numel(&g->values[v].t) != 1)
                    return 0;
                p[k - 1] = (float)nn_tensor_get_f64(&g->values[v].t, 0);
            }
        }
        *np = 2;
    } else {
        return 0;
    }
    return 1;
}

static const char *act_name(int act)
{
    for (size_t i = 0; i < sizeof(act_names) / sizeof(act_names[0]); i++)
        if (act_names[i].act == act)
            return act_names[i].name;
    return "?";
}

/* Conv c becomes FusedConv with activation a (whose output it now writes). */
static int fuse_act(nn_node *c, const nn_node *a, int act, const float *p, int np)
{
    nn_attr *at = realloc(c->attrs, (size_t)(c->nattr + 2) * sizeof(*at));
    if (!at)
        return FP_ENOMEM;
    c->attrs = at;
    nn_attr *s = &at[c->nattr], *f = &at[c->nattr + 1];
    memset(s, 0, 2 * sizeof(*s));
    s->name = strdup("activation");
    s->type = NN_ATTR_STRING;
    s->s = strdup(act_name(act));
    f->name = strdup("activation_params");
    f->type = NN_ATTR_FLOATS;
    f->floats = malloc(2 * sizeof(float));
    f->n = np;
    c->nattr += 2; /* freed with the node from here on, even if half made */
    if (!s->name || !s->s || !f->name || !f->floats)
        return FP_ENOMEM;
    memcpy(f->floats, p, 2 * sizeof(float));
    char *op = strdup("FusedConv"), *dom = strdup("com.microsoft");
    if (!op || !dom) {
        free(op);
        free(dom);
        return FP_ENOMEM;
    }
    free(c->op_type);
    free(c->domain);
    c->op_type = op;
    c->domain = dom;
    c->def = &nn_op_fused_conv;
    c->outputs[0] = a->outputs[0];
    return 0;
}

int nn_graph_fuse(nn_graph *g, int *nfused, fp_err *e)
{
    unsigned char *gone = calloc((size_t)g->nnodes + 1, 1);
    int *newid = malloc(((size_t)g->nnodes + 1) * sizeof(int));
    int ret = 0;
    *nfused = 0;
    if (!gone || !newid) {
        free(gone);
        free(newid);
        return fp_errorf(e, FP_ENOMEM, "%s: load: out of memory", g->path);
    }
    /* The consumer of a value with one reader: nodes are in topological order, so it comes later. */
    for (int i = 0; i < g->nnodes && ret >= 0; i++) {
        nn_node *c = &g->nodes[i];
        if (gone[i] || !is_conv(c) || c->nin < 2 || c->outputs[0] < 0)
            continue;
        for (int pass = 0; pass < 2 && ret >= 0; pass++) {
            int y = c->outputs[0];
            if (readers(g, y) != 1)
                break;
            int j = i + 1;
            while (j < g->nnodes && (gone[j] || !g->nodes[j].nin || g->nodes[j].inputs[0] != y))
                j++;
            if (j == g->nnodes)
                break;
            nn_node *d = &g->nodes[j];
            int r = 0;
            if (pass == 0 && d->def && !strcmp(d->op_type, "BatchNormalization") && (!d->domain || !d->domain[0])) {
                if ((r = fold_bn(g, c, d)) == 1)
                    c->outputs[0] = d->outputs[0];
            } else {
                int act, np;
                float p[2] = { 0, 0 };
                if (act_of(g, d, &act, p, &np) && (r = fuse_act(c, d, act, p, np)) == 0)
                    r = 1;
                pass = 1; /* nothing fuses after an activation */
            }
            if (r < 0) {
                ret = fp_errorf(e, FP_ENOMEM, "%s: load: out of memory", g->path);
                break;
            }
            if (r == 0)
                break;
            g->values[y].producer = -1;
            g->values[c->outputs[0]].producer = i;
            gone[j] = 1;
            (*nfused)++;
        }
    }
    int kept = 0;
    for (int i = 0; i < g->nnodes; i++) {
        nn_node *n = &g->nodes[i];
        if (!gone[i]) {
            newid[i] = kept;
            g->nodes[kept++] = *n;
            continue;
        }
        newid[i] = -1;
        free(n->name);
        free(n->op_type);
        free(n->domain);
        free(n->inputs);
        free(n->outputs);
        nn_attrs_free(n->attrs, n->nattr);
    }
    g->nnodes = kept;
    for (int v = 0; v < g->nvalues; v++)
        if (g->values[v].producer >= 0)
            g->values[v].producer = newid[g->values[v].producer];
    /* weights and BatchNorm parameters nothing reads any more give their memory back */
    unsigned char *used = *nfused ? calloc((size_t)g->nvalues + 1, 1) : NULL;
    if (used) {
        for (int i = 0; i < g->nnodes; i++)
            for (int k = 0; k < g->nodes[i].nin; k++)
                if (g->nodes[i].inputs[k] >= 0)
                    used[g->nodes[i].inputs[k]] = 1;
        for (int i = 0; i < g->noutputs; i++)
            used[g->outputs[i]] = 1;
        for (int v = 0; v < g->nvalues; v++)
            if (g->values[v].is_const && !used[v] && g->values[v].t.owned) {
                nn_tensor_free(&g->values[v].t);
                g->values[v].is_const = 0;
            }
        free(used);
    }
    free(gone);
    free(newid);
    return ret;
}
