/*
 * nn_runtime — the public runtime (include/framepipe.h): a loaded model plus a small cache of plans,
 * one per input key (input dtypes, shapes, devices, and the values of "value inputs").
 *
 * A plan is built the first time a key is seen: nodes are walked in topological order, each op's
 * infer() sets output shapes; a node whose inputs are all known on the host is evaluated right there
 * with its CPU kernel (constant folding: Constant, weight transforms, and shape subgraphs such as
 * Shape -> Gather -> Concat -> Resize sizes); the rest become the plan's steps. Runtime buffers are
 * placed in one arena by lifetime (nn_plan.c). "Value inputs" are graph inputs whose *values* decide a
 * shape (RVM's downsample_ratio feeds Resize scales): they are found once at load by walking back from
 * every op's value_inputs, and their bytes join the plan key.
 *
 * fp16 on the CPU: kernels compute in fp32. When an op's infer() refuses fp16/bf16 inputs with
 * FP_EUNSUPPORTED, the planner retries with those inputs seen as fp32; if that works the step is marked
 * `upcast`: at run time its fp16 inputs are widened into fp32 arena buffers, the kernel runs, and its
 * float outputs are narrowed back, so every value keeps the dtype the model declares (Cast islands
 * behave exactly as in ONNX).
 *
 * Owns: plans, the arena, folded constants, input/output binding. Does not own parsing (nn_load.c),
 * kernels (ops/), or backend internals (backends/).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fp_log.h"
#include "framepipe.h"
#include "nn/nn_backend.h"
#include "nn/nn_cpu.h"
#include "nn/nn_fuse.h"
#include "nn/nn_graph.h"
#include "nn/nn_plan.h"
#include "nn/nn_runtime.h"

/* Where a value lives in a plan: constant host data; the caller's input bound at run time; a buffer in
 * the backend's arena; or (device backends) a caller's host input staged into an arena buffer. */
enum { VS_NONE = 0, VS_CONST = 1, VS_INPUT = 2, VS_ARENA = 3, VS_STAGED = 4 };

#define NN_FOLD_MAX_BYTES ((size_t)256 << 20)
#define NN_MAX_SPLITS 16 /* run-time-shaped nodes one after another in a run */
#define NN_VALUE_INPUT_MAX 4096 /* elements of an input whose values join the plan key */

typedef struct nn_step {
    int node;              /* graph node index (unused when xnode is set) */
    nn_node *xnode;        /* a node the runtime made (boundary Cast of half storage), owned by the plan */
    int out_cast;          /* output Cast of graph output out_cast-1 (skipped when the caller's buffer is half) */
    int upcast;            /* CPU: fp16/bf16 tensors converted around an fp32 kernel */
    int on_cpu;            /* device backend lacks the op: run on the CPU reference (allow_cpu_fallback) */
    nn_tensor **in, **out; /* the plan's tensors for this node's inputs/outputs */
    int *shadow_in, *shadow_out; /* index into plan->shadows or -1 */
    nn_tensor *hin, *hout; /* on_cpu: host views (staging buffers for device-resident values) */
} nn_step;

typedef struct nn_plan_s {
    unsigned char *key;
    size_t key_len;
    nn_tensor *vals;       /* per graph value */
    unsigned char *vstate;
    unsigned char *vowned; /* vals[v].data is a folded constant owned by the plan */
    int nsteps;
    nn_step *steps;
    int nfolded;
    nn_tensor *shadows;    /* fp32 twins of fp16 tensors for upcast steps */
    int nshadows;
    nn_buf_req *bufs;
    int nbufs;
    int *buf_of_value;     /* -1 when not in the arena */
    int *buf_of_shadow;
    size_t arena_bytes, naive_bytes;
    void *arena;
    int host_shadows;      /* shadows are malloc'd host buffers (device backend), not arena views */
    int ncpu_steps;        /* fallback steps: a run with host round trips cannot be captured */
    uint64_t id;           /* unique per model, never reused (run capture key of backends without prepare) */
    uint64_t last_used;
    int split;             /* first node whose shapes need values computed at run time; -1 if none */
    int nvals;             /* values in vals: the graph's, then half twins of boundary values */
    nn_dtype half;         /* storage of float32 activations: FLOAT16/BFLOAT16, or UNDEFINED (as declared) */
    unsigned char *half_in;/* per graph input: the caller gave half data for a float32 input */
    int *out_twin;         /* per graph output: value index of its half twin (caller half buffers), -1 */
    nn_node *xnodes;       /* boundary Cast nodes (steps point at them) */
    nn_attr *xattrs;
    int *xio;
    char **xnames;
    int nxnodes;
    double flops, bytes;   /* work of one run (fp_model_stats) */
} nn_plan_s;

struct fp_model {
    nn_graph *g;
    const nn_backend *be;
    nn_backend_ctx *bctx;
    nn_cpu_ctx *fold_ctx;  /* CPU kernels run at plan time (folding) */
    unsigned char *value_input; /* per graph input index: its values are part of the plan key */
    nn_plan_s **plans;
    int nplans, max_plans;
    uint64_t clock;
    nn_plan_s *last;
    nn_plan_s *prepared;   /* plan whose nodes the backend last prepared (node state is per node) */
    int allow_cpu_fallback;
    nn_backend_ctx *cpu_bctx; /* CPU backend for fallback steps (device backends only), lazily made */
    int cpu_threads;
    int nfolded_load;      /* nodes evaluated once at load (inputs all initializers) */
    uint64_t key_counter;  /* source of plan ids and capture keys */
    uint64_t prepared_key; /* capture key of the current preparation: a captured run (CUDA graph)
                              holds pointers to what prepare_node allocated, so each preparation gets
                              a new key and graphs of earlier ones are never replayed */
    nn_dtype half;         /* fp16/bf16 storage asked for on a device backend, else UNDEFINED */
    int half_warned;       /* "this plan runs float32" said once */
    int half_refused;      /* set by plan_half when the backend refused a node in half storage */
    int nfused;            /* nodes removed by fusion at load */
};

/* splitmix64's finaliser: spreads a pointer's bits over the whole capture key */
static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static nn_node *step_node(const fp_model *m, const nn_step *st)
{
    return st->xnode ? st->xnode : &m->g->nodes[st->node];
}

/* ---------------------------------------------------------------- helpers */

static int is_half(nn_dtype d)
{
    return d == NN_DT_FLOAT16 || d == NN_DT_BFLOAT16;
}

static void convert_to_f32(const nn_tensor *src, nn_tensor *dst)
{
    int64_t n = nn_tensor_numel(src);
    const uint16_t *s = src->data;
    float *d = dst->data;
    if (src->dtype == NN_DT_FLOAT16)
        for (int64_t i = 0; i < n; i++)
            d[i] = nn_f16_to_f32(s[i]);
    else
        for (int64_t i = 0; i < n; i++)
            d[i] = nn_bf16_to_f32(s[i]);
}

static void convert_from_f32(const nn_tensor *src, nn_tensor *dst)
{
    int64_t n = nn_tensor_numel(src);
    const float *s = src->data;
    uint16_t *d = dst->data;
    if (dst->dtype == NN_DT_FLOAT16)
        for (int64_t i = 0; i < n; i++)
            d[i] = nn_f32_to_f16(s[i]);
    else
        for (int64_t i = 0; i < n; i++)
            d[i] = nn_f32_to_bf16(s[i]);
}

static int op_is_random(const nn_node *n)
{
    return !strncmp(n->op_type, "Random", 6) || !strcmp(n->op_type, "Multinomial") ||
           !strcmp(n->op_type, "Bernoulli");
}

/* Ops whose output depends on an input's shape only, not its values. */
static int op_reads_shape_only(const nn_node *n)
{
    return !strcmp(n->op_type, "Shape") || !strcmp(n->op_type, "Size");
}

/* Which graph inputs feed, through value-dependent ops, an input an op needs the value of. */
int nn_graph_value_inputs(const nn_graph *g, unsigned char *flags)
{
    unsigned char *need = calloc((size_t)g->nvalues + 1, 1);
    if (!need)
        return FP_ENOMEM;
    for (int i = g->nnodes - 1; i >= 0; i--) {
        const nn_node *n = &g->nodes[i];
        int out_needed = 0;
        for (int k = 0; k < n->nout; k++)
            if (n->outputs[k] >= 0 && need[n->outputs[k]])
                out_needed = 1;
        for (int k = 0; k < n->nin; k++) {
            if (n->inputs[k] < 0)
                continue;
            int want = out_needed && !op_reads_shape_only(n);
            if (n->def && k < 32 && (n->def->value_inputs >> k) & 1)
                want = 1;
            if (want)
                need[n->inputs[k]] = 1;
        }
    }
    for (int i = 0; i < g->ninputs; i++)
        flags[i] = need[g->inputs[i]];
    free(need);
    return 0;
}

static int find_value_inputs(fp_model *m, fp_err *e)
{
    m->value_input = calloc((size_t)m->g->ninputs + 1, 1);
    if (!m->value_input || nn_graph_value_inputs(m->g, m->value_input) < 0)
        return fp_errorf(e, FP_ENOMEM, "%s: load: out of memory", m->g->path);
    return 0;
}

/* ---------------------------------------------------------------- load */

static const char *dim_str(const nn_value *v, char *buf, size_t len)
{
    size_t o = snprintf(buf, len, "[");
    for (int i = 0; i < v->t.ndim && o < len; i++) {
        if (v->t.dims[i] >= 0)
            o += snprintf(buf + o, len - o, "%s%lld", i ? "," : "", (long long)v->t.dims[i]);
        else
            o += snprintf(buf + o, len - o, "%s%s", i ? "," : "", v->dim_names[i] ? v->dim_names[i] : "?");
    }
    if (o < len)
        snprintf(buf + o, len - o, "]");
    return buf;
}

static int get_plan(fp_model *m, const fp_tensor *in, int nin, struct nn_plan_s **out, fp_err *e);
static int plan_nodes(fp_model *m, struct nn_plan_s *p, int start, struct nn_plan_s **out, fp_err *e);

/* Shared by fp_model_load and nn_model_load_mem: takes ownership of g (freed on failure). */
static int model_from_graph(nn_graph *g, const fp_model_opts *opts, fp_model **out, fp_err *e);
static int fold_static(fp_model *m, fp_err *e);
static void plan_free(fp_model *m, struct nn_plan_s *p);

int fp_model_load(const char *path, const fp_model_opts *opts, fp_model **out, fp_err *e)
{
    nn_graph *g = NULL;
    *out = NULL;
    int ret = nn_graph_load(path, &g, e);
    if (ret < 0)
        return ret;
    return model_from_graph(g, opts, out, e);
}

int nn_model_load_mem(const void *buf, size_t len, const char *name, const fp_model_opts *opts, fp_model **out,
                      fp_err *e)
{
    nn_graph *g = NULL;
    *out = NULL;
    int ret = nn_graph_load_mem(buf, len, name, NULL, &g, e);
    if (ret < 0)
        return ret;
    return model_from_graph(g, opts, out, e);
}

static int model_from_graph(nn_graph *g, const fp_model_opts *opts, fp_model **out, fp_err *e)
{
    static const fp_model_opts defaults = { 0 };
    const char *path = g->path;
    *out = NULL;
    if (!opts)
        opts = &defaults;
    const char *bname = opts->backend ? opts->backend : "cpu";
    const nn_backend *be = nn_backend_find(bname);
    if (!be) {
        int r = fp_errorf(e, FP_EINVAL, "%s: load: backend '%s' is not built in (have: cpu%s)", path, bname,
                          nn_backend_find("cuda") ? ", cuda" : "");
        nn_graph_freep(&g);
        return r;
    }
    fp_model *m = calloc(1, sizeof(*m));
    if (!m) {
        int r = fp_errorf(e, FP_ENOMEM, "%s: load: out of memory", path);
        nn_graph_freep(&g);
        return r;
    }
    m->be = be;
    m->g = g;
    m->max_plans = opts->max_plans > 0 ? opts->max_plans : 8;
    int ret = nn_graph_check_ops(m->g, e);
    if (ret >= 0)
        ret = nn_cpu_ctx_create(&m->fold_ctx, 1, e);
    if (ret >= 0)
        ret = fold_static(m, e);
    if (ret >= 0 && !opts->no_fuse)
        ret = nn_graph_fuse(m->g, &m->nfused, e);
    if (ret >= 0)
        ret = find_value_inputs(m, e);
    if (ret >= 0) {
        nn_backend_opts bo = { .threads = opts->threads, .device_id = opts->device_id,
                               .precision = opts->bf16 ? NN_PREC_BF16 : opts->fp16 ? NN_PREC_FP16 : NN_PREC_FP32,
                               .cuda_stream = opts->cuda_stream, .use_cuda_graph = opts->use_cuda_graph };
        ret = be->init(&m->bctx, &bo, e);
        if (ret < 0)
            fp_err_prefix(e, "%s: load: ", path);
    }
    if (ret >= 0 && !(m->plans = calloc((size_t)m->max_plans, sizeof(*m->plans))))
        ret = fp_errorf(e, FP_ENOMEM, "%s: load: out of memory", path);
    if (ret < 0) {
        fp_model_freep(&m);
        return ret;
    }
    m->allow_cpu_fallback = opts->allow_cpu_fallback;
    m->cpu_threads = opts->threads;
    /* Half storage is a device-backend matter: the CPU kernels compute float32 whatever is asked. */
    if (be->device != NN_DEV_HOST && (opts->bf16 || opts->fp16))
        m->half = opts->bf16 ? NN_DT_BFLOAT16 : NN_DT_FLOAT16;
    /* When every input's shape is declared and concrete (and no input's value shapes the graph), plan
     * now: the backend is asked about every node with real shapes, so an unsupported op fails the load
     * (naming it) rather than the first run. Otherwise that check happens when the first plan is made. */
    int concrete = 1;
    for (int i = 0; i < m->g->ninputs && concrete; i++) {
        const nn_value *v = &m->g->values[m->g->inputs[i]];
        if (!v->shape_known || m->value_input[i])
            concrete = 0;
        for (int k = 0; concrete && k < v->t.ndim; k++)
            if (v->t.dims[k] < 0)
                concrete = 0;
    }
    if (concrete) {
        fp_tensor *in = calloc((size_t)m->g->ninputs + 1, sizeof(fp_tensor));
        if (!in) {
            ret = fp_errorf(e, FP_ENOMEM, "%s: load: out of memory", path);
            fp_model_freep(&m); /* frees path too: message first */
            return ret;
        }
        for (int i = 0; i < m->g->ninputs; i++) {
            const nn_value *v = &m->g->values[m->g->inputs[i]];
            in[i].dtype = (fp_dtype)v->t.dtype;
            in[i].ndim = v->t.ndim;
            memcpy(in[i].dims, v->t.dims, sizeof(in[i].dims));
            in[i].device = FP_DEVICE_HOST;
        }
        nn_plan_s *p;
        ret = get_plan(m, in, m->g->ninputs, &p, e);
        free(in);
        if (ret < 0) {
            /* plan errors read "MODEL: plan: ..."; this is still the load */
            fp_model_freep(&m);
            return ret;
        }
        if (m->be->device != NN_DEV_HOST) {
            /* Device callers usually pass device inputs (another key): do not hold an arena of device
             * memory for a plan only built to check the backend supports every node. */
            plan_free(m, p);
            m->nplans = 0;
            m->last = NULL;
        }
    }
    *out = m;
    return 0;
}

static void plan_free(fp_model *m, nn_plan_s *p)
{
    if (!p)
        return;
    if (p->vals)
        for (int v = 0; v < m->g->nvalues; v++)
            if (p->vowned && p->vowned[v])
                nn_tensor_free(&p->vals[v]);
    for (int s = 0; s < p->nsteps; s++) {
        nn_step *st = &p->steps[s];
        const nn_node *n = step_node(m, st);
        if (st->hin)
            for (int k = 0; k < n->nin; k++)
                nn_tensor_free(&st->hin[k]);
        if (st->hout)
            for (int k = 0; k < n->nout; k++)
                nn_tensor_free(&st->hout[k]);
        free(st->hin);
        free(st->hout);
        free(st->in);
        free(st->out);
        free(st->shadow_in);
        free(st->shadow_out);
    }
    if (p->host_shadows && p->shadows)
        for (int i = 0; i < p->nshadows; i++)
            nn_tensor_free(&p->shadows[i]);
    if (m->prepared == p)
        m->prepared = NULL;
    for (int i = 0; i < p->nxnodes; i++) {
        if (p->xnodes[i].backend_data && m->be->release_node)
            m->be->release_node(m->bctx, &p->xnodes[i]);
        free(p->xnames[i]);
    }
    free(p->xnodes);
    free(p->xattrs);
    free(p->xio);
    free(p->xnames);
    free(p->half_in);
    free(p->out_twin);
    if (p->arena)
        m->be->free_mem(m->bctx, p->arena);
    free(p->steps);
    free(p->vals);
    free(p->vstate);
    free(p->vowned);
    free(p->shadows);
    free(p->bufs);
    free(p->buf_of_value);
    free(p->buf_of_shadow);
    free(p->key);
    free(p);
}

void fp_model_freep(fp_model **pm)
{
    fp_model *m = pm ? *pm : NULL;
    if (!m)
        return;
    for (int i = 0; i < m->nplans; i++)
        plan_free(m, m->plans[i]);
    free(m->plans);
    if (m->g && m->be && m->be->release_node)
        for (int i = 0; i < m->g->nnodes; i++)
            if (m->g->nodes[i].backend_data)
                m->be->release_node(m->bctx, &m->g->nodes[i]);
    if (m->be && m->bctx)
        m->be->free(m->bctx);
    if (m->cpu_bctx)
        nn_backend_cpu.free(m->cpu_bctx);
    nn_cpu_ctx_freep(&m->fold_ctx);
    nn_graph_freep(&m->g);
    free(m->value_input);
    free(m);
    *pm = NULL;
}

/* ---------------------------------------------------------------- info */

int fp_model_num_inputs(const fp_model *m)
{
    return m->g->ninputs;
}

int fp_model_num_outputs(const fp_model *m)
{
    return m->g->noutputs;
}

static void fill_info(const nn_value *v, fp_value_info *info)
{
    memset(info, 0, sizeof(*info));
    info->name = v->name;
    info->dtype = (fp_dtype)v->t.dtype;
    info->ndim = v->shape_known ? v->t.ndim : -1;
    for (int i = 0; i < v->t.ndim && i < FP_MAX_DIMS; i++) {
        info->dims[i] = v->t.dims[i];
        info->dim_names[i] = v->dim_names[i];
    }
}

int fp_model_input_info(const fp_model *m, int i, fp_value_info *info)
{
    if (i < 0 || i >= m->g->ninputs)
        return FP_EINVAL;
    fill_info(&m->g->values[m->g->inputs[i]], info);
    return 0;
}

int fp_model_output_info(const fp_model *m, int i, fp_value_info *info)
{
    if (i < 0 || i >= m->g->noutputs)
        return FP_EINVAL;
    fill_info(&m->g->values[m->g->outputs[i]], info);
    return 0;
}

void fp_model_get_stats(const fp_model *m, fp_model_stats *st)
{
    memset(st, 0, sizeof(*st));
    st->nodes = m->g->nnodes;
    st->plans_cached = m->nplans;
    st->parameters = m->g->nparams;
    st->opset = m->g->opset;
    st->load_folded = m->nfolded_load;
    if (m->last) {
        st->last_plan_steps = m->last->nsteps;
        st->last_plan_folded = m->last->nfolded;
        st->last_plan_arena_bytes = m->last->arena_bytes;
        st->last_plan_naive_bytes = m->last->naive_bytes;
        st->last_plan_storage = (fp_dtype)(m->last->half ? m->last->half : NN_DT_FLOAT);
        st->last_plan_casts = m->last->nxnodes;
        st->last_plan_flops = m->last->flops;
        st->last_plan_bytes = m->last->bytes;
    }
    st->fused = m->nfused;
}

size_t fp_dtype_size(fp_dtype t)
{
    return nn_dtype_size((nn_dtype)t);
}

const char *fp_dtype_name(fp_dtype t)
{
    return nn_dtype_name((nn_dtype)t);
}

void fp_tensor_free(fp_tensor *t)
{
    if (!t)
        return;
    if (t->owned)
        free(t->data);
    if (t->owned)
        t->data = NULL;
    t->owned = 0;
}

/* ---------------------------------------------------------------- inputs and keys */

static int check_inputs(fp_model *m, const fp_tensor *in, int nin, fp_err *e)
{
    nn_graph *g = m->g;
    if (nin != g->ninputs)
        return fp_errorf(e, FP_EINVAL, "%s: run: %d inputs given, the model has %d", g->path, nin, g->ninputs);
    for (int i = 0; i < nin; i++) {
        const nn_value *v = &g->values[g->inputs[i]];
        const fp_tensor *t = &in[i];
        char want[256], got[160];
        nn_tensor tt = { .dtype = (nn_dtype)t->dtype, .ndim = t->ndim };
        if (t->ndim < 0 || t->ndim > FP_MAX_DIMS)
            return fp_errorf(e, FP_EMODEL, "%s: run: input '%s': rank %d is out of range", g->path, v->name,
                             t->ndim);
        for (int k = 0; k < t->ndim; k++) {
            if (t->dims[k] < 0)
                return fp_errorf(e, FP_EMODEL, "%s: run: input '%s': negative dimension %lld", g->path,
                                 v->name, (long long)t->dims[k]);
            tt.dims[k] = t->dims[k];
        }
        /* half storage: a half input for a float32 one is taken as it is (zero copy from an fp16
         * preprocess kernel) */
        int bad = (nn_dtype)t->dtype != v->t.dtype &&
                  !(m->half && v->t.dtype == NN_DT_FLOAT && (nn_dtype)t->dtype == m->half);
        if (v->shape_known) {
            if (t->ndim != v->t.ndim)
                bad = 1;
            for (int k = 0; !bad && k < t->ndim; k++)
                if (v->t.dims[k] >= 0 && v->t.dims[k] != t->dims[k])
                    bad = 1;
        }
        if (nn_tensor_numel(&tt) < 0 || (!t->data && nn_tensor_numel(&tt) > 0))
            return fp_errorf(e, FP_EMODEL, "%s: run: input '%s': %s", g->path, v->name,
                             t->data ? "shape overflows" : "no data");
        if (bad) {
            const char *ws = v->shape_known ? dim_str(v, want, sizeof(want)) : "";
            return fp_errorf(e, FP_EMODEL, "%s: run: input '%s': expected %s%s, got %s%s", g->path, v->name,
                             nn_dtype_name(v->t.dtype), ws, nn_dtype_name((nn_dtype)t->dtype),
                             nn_shape_str(&tt, got, sizeof(got)));
        }
        if (t->device != FP_DEVICE_HOST && (nn_device)t->device != m->be->device)
            return fp_errorf(e, FP_EINVAL, "%s: run: input '%s' is in device memory the %s backend cannot read",
                             g->path, v->name, m->be->name);
    }
    return 0;
}

/* Value-input bytes beyond NN_VALUE_INPUT_MAX elements are left out: build_plan refuses such inputs,
 * so no cached plan can match a key that omits them. */
static size_t key_value_bytes(const fp_model *m, const fp_tensor *in, int i)
{
    if (!m->value_input[i])
        return 0;
    nn_tensor t = { .dtype = (nn_dtype)in[i].dtype, .ndim = in[i].ndim };
    memcpy(t.dims, in[i].dims, sizeof(t.dims));
    if (nn_tensor_numel(&t) > NN_VALUE_INPUT_MAX)
        return 0;
    return nn_tensor_nbytes(&t);
}

static int make_key(fp_model *m, const fp_tensor *in, int nin, unsigned char **key, size_t *len)
{
    size_t n = 0;
    for (int i = 0; i < nin; i++)
        n += sizeof(int) * 3 + sizeof(int64_t) * (size_t)in[i].ndim + key_value_bytes(m, in, i);
    unsigned char *k = malloc(n + 1), *p = k;
    if (!k)
        return FP_ENOMEM;
    for (int i = 0; i < nin; i++) {
        int hdr[3] = { (int)in[i].dtype, in[i].ndim, (int)in[i].device };
        memcpy(p, hdr, sizeof(hdr));
        p += sizeof(hdr);
        memcpy(p, in[i].dims, sizeof(int64_t) * (size_t)in[i].ndim);
        p += sizeof(int64_t) * (size_t)in[i].ndim;
        size_t b = key_value_bytes(m, in, i);
        /* value inputs are read on the host (build_plan refuses device ones before using the key) */
        if (b && in[i].device == FP_DEVICE_HOST)
            memcpy(p, in[i].data, b);
        else if (b)
            memset(p, 0, b);
        p += b;
    }
    *key = k;
    *len = n;
    return 0;
}

/* ---------------------------------------------------------------- planning */

/* Run n's CPU kernel now on host tensors whose outputs are allocated (constant folding), widening
 * fp16/bf16 around fp32-only kernels when upcast is set. */
static int fold_compute(fp_model *m, const nn_node *n, nn_tensor **in, int nin, nn_tensor **out, int upcast,
                        fp_err *e)
{
    int nout = n->nout, ret = 0;
    nn_tensor **tin = calloc((size_t)nin + 1, sizeof(*tin)), **tout = calloc((size_t)nout + 1, sizeof(*tout));
    nn_tensor *sh = calloc((size_t)(nin + nout) + 1, sizeof(*sh));
    if (!tin || !tout || !sh) {
        ret = nn_node_error(e, n, FP_ENOMEM, "out of memory while folding");
        goto done;
    }
    for (int k = 0; k < nin + nout && ret >= 0; k++) {
        nn_tensor *t = k < nin ? in[k] : out[k - nin];
        nn_tensor **slot = k < nin ? &tin[k] : &tout[k - nin];
        *slot = t;
        if (!upcast || !t || !is_half(t->dtype))
            continue;
        sh[k] = *t;
        sh[k].dtype = NN_DT_FLOAT;
        sh[k].data = NULL;
        sh[k].owned = 0;
        if (nn_tensor_alloc(&sh[k]) < 0) {
            ret = nn_node_error(e, n, FP_ENOMEM, "out of memory while folding");
            break;
        }
        if (k < nin)
            convert_to_f32(t, &sh[k]);
        *slot = &sh[k];
    }
    if (ret >= 0) {
        ret = n->def->cpu(n, tin, nin, tout, nout, m->fold_ctx, e);
        nn_cpu_ctx_scratch_reset(m->fold_ctx);
        if (ret < 0 && e && !e->code)
            nn_node_error(e, n, ret, "CPU kernel failed while folding (%s)", fp_strerror(ret));
        for (int k = 0; k < nout && ret >= 0; k++)
            if (tout[k] && tout[k] != out[k])
                convert_from_f32(tout[k], out[k]);
    }
done:
    if (sh)
        for (int k = 0; k < nin + nout; k++)
            nn_tensor_free(&sh[k]);
    free(sh);
    free(tin);
    free(tout);
    return ret;
}

/* Fold into the plan: outputs become plan-owned host constants. */
static int fold_node(fp_model *m, nn_plan_s *p, const nn_node *n, nn_tensor **in, int nin, nn_tensor **out,
                     int upcast, fp_err *e)
{
    for (int k = 0; k < n->nout; k++) {
        if (!out[k])
            continue;
        int ret = nn_tensor_alloc(out[k]);
        if (ret < 0)
            return nn_node_error(e, n, ret, "cannot allocate a folded constant of %zu bytes",
                                 nn_tensor_nbytes(out[k]));
        p->vowned[n->outputs[k]] = 1;
        p->vstate[n->outputs[k]] = VS_CONST;
    }
    return fold_compute(m, n, in, nin, out, upcast, e);
}

/* Infer node n's outputs; on FP_EUNSUPPORTED with half inputs, retry as fp32 (sets *upcast). */
static int infer_node(const nn_node *n, nn_tensor **in, int nin, nn_tensor **out, int *upcast, fp_err *e)
{
    fp_err first = { 0 };
    *upcast = 0;
    for (int k = 0; k < n->nout; k++)
        if (out[k]) {
            out[k]->dtype = NN_DT_UNDEFINED;
            out[k]->ndim = 0;
        }
    int ret = n->def->infer(n, (nn_tensor *const *)in, nin, out, n->nout, &first);
    if (ret == FP_EUNSUPPORTED) {
        int has_half = 0;
        nn_tensor sh[64];
        nn_tensor *sin[64];
        for (int k = 0; k < nin && k < 64; k++) {
            sin[k] = in[k];
            if (in[k] && is_half(in[k]->dtype)) {
                sh[k] = *in[k];
                sh[k].dtype = NN_DT_FLOAT;
                /* values of half inputs are never needed by shape logic; hide them */
                sh[k].data = NULL;
                sin[k] = &sh[k];
                has_half = 1;
            }
        }
        if (has_half && nin <= 64) {
            fp_err second = { 0 };
            int r2 = n->def->infer(n, sin, nin, out, n->nout, &second);
            if (r2 >= 0) {
                nn_dtype half = NN_DT_FLOAT16;
                for (int k = 0; k < nin; k++)
                    if (in[k] && is_half(in[k]->dtype))
                        half = in[k]->dtype;
                for (int k = 0; k < n->nout; k++)
                    if (out[k] && out[k]->dtype == NN_DT_FLOAT)
                        out[k]->dtype = half;
                *upcast = 1;
                return 0;
            }
        }
    }
    if (ret < 0) {
        if (first.code)
            fp_errorf(e, first.code, "%s", first.msg);
        else
            nn_node_error(e, n, ret, "shape inference failed (%s)", fp_strerror(ret));
        return ret;
    }
    for (int k = 0; k < n->nout; k++) {
        if (!out[k])
            continue;
        if (!nn_dtype_size(out[k]->dtype))
            return nn_node_error(e, n, FP_EINTERNAL, "infer() left output %d without a dtype", k);
        if (nn_tensor_numel(out[k]) < 0 || !nn_tensor_nbytes(out[k]) != !nn_tensor_numel(out[k]))
            return nn_node_error(e, n, FP_EMODEL, "output %d's shape overflows", k);
    }
    return 0;
}

/* Load-time folding: nodes computable from initializers alone (weight casts and transposes, Constant
 * chains, shape arithmetic on constants) are run once here and become graph constants shared by every
 * plan, instead of being recomputed and held once per cached plan. Initializers no remaining node reads
 * are freed. */
static int fold_static(fp_model *m, fp_err *e)
{
    nn_graph *g = m->g;
    int ret = 0, kept = 0;
    unsigned char *gone = calloc((size_t)g->nnodes + 1, 1);
    int *newid = malloc(((size_t)g->nnodes + 1) * sizeof(int));
    nn_tensor **tin = NULL, **tout = NULL;
    if (!gone || !newid) {
        ret = fp_errorf(e, FP_ENOMEM, "%s: load: out of memory", g->path);
        goto done;
    }
    for (int i = 0; i < g->nnodes && ret >= 0; i++) {
        nn_node *n = &g->nodes[i];
        if (!n->def || !n->def->cpu || op_is_random(n))
            continue;
        int all_const = 1;
        for (int k = 0; k < n->nin; k++)
            if (n->inputs[k] >= 0 && !g->values[n->inputs[k]].is_const)
                all_const = 0;
        if (!all_const)
            continue;
        free(tin);
        free(tout);
        tin = calloc((size_t)n->nin + 1, sizeof(*tin));
        tout = calloc((size_t)n->nout + 1, sizeof(*tout));
        if (!tin || !tout) {
            ret = fp_errorf(e, FP_ENOMEM, "%s: load: out of memory", g->path);
            break;
        }
        for (int k = 0; k < n->nin; k++)
            tin[k] = n->inputs[k] >= 0 ? &g->values[n->inputs[k]].t : NULL;
        nn_tensor *res = calloc((size_t)n->nout + 1, sizeof(nn_tensor));
        if (!res) {
            ret = fp_errorf(e, FP_ENOMEM, "%s: load: out of memory", g->path);
            break;
        }
        for (int k = 0; k < n->nout; k++)
            tout[k] = n->outputs[k] >= 0 ? &res[k] : NULL;
        int upcast = 0;
        ret = infer_node(n, tin, n->nin, tout, &upcast, e);
        size_t bytes = 0;
        for (int k = 0; ret >= 0 && k < n->nout; k++)
            if (tout[k])
                bytes += nn_tensor_nbytes(tout[k]);
        if (ret >= 0 && bytes > NN_FOLD_MAX_BYTES) {
            free(res);
            continue; /* computed per run instead */
        }
        for (int k = 0; ret >= 0 && k < n->nout; k++)
            if (tout[k] && nn_tensor_alloc(tout[k]) < 0)
                ret = nn_node_error(e, n, FP_ENOMEM, "cannot allocate a folded constant of %zu bytes",
                                    nn_tensor_nbytes(tout[k]));
        if (ret >= 0)
            ret = fold_compute(m, n, tin, n->nin, tout, upcast, e);
        if (ret < 0) {
            for (int k = 0; k < n->nout; k++)
                nn_tensor_free(&res[k]);
            free(res);
            fp_err_prefix(e, "%s: load: ", g->path);
            break;
        }
        for (int k = 0; k < n->nout; k++) {
            if (n->outputs[k] < 0)
                continue;
            nn_value *v = &g->values[n->outputs[k]];
            nn_tensor_free(&v->t);
            v->t = res[k];
            v->is_const = 1;
            v->shape_known = 1;
            v->producer = -1;
        }
        free(res);
        gone[i] = 1;
    }
    if (ret < 0)
        goto done;
    for (int i = 0; i < g->nnodes; i++) {
        nn_node *n = &g->nodes[i];
        if (!gone[i]) {
            newid[i] = kept;
            g->nodes[kept++] = *n;
            continue;
        }
        newid[i] = -1;
        m->nfolded_load++;
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
    /* constants nothing reads any more (inputs of folded nodes) give their memory back */
    {
        unsigned char *used = calloc((size_t)g->nvalues + 1, 1);
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
                    g->values[v].is_const = 0; /* no longer a value anything can read */
                }
            free(used);
        }
    }
done:
    free(gone);
    free(newid);
    free(tin);
    free(tout);
    return ret;
}

static int build_plan(fp_model *m, const fp_tensor *in, int nin, int no_half, nn_plan_s **out, fp_err *e)
{
    nn_graph *g = m->g;
    int ret = 0;
    nn_plan_s *p = calloc(1, sizeof(*p));
    *out = NULL;
    if (!p)
        return fp_errorf(e, FP_ENOMEM, "%s: plan: out of memory", g->path);
    int nv = g->nvalues;
    /* room for a half twin per graph input and output after the graph's values (plan_half) */
    size_t cap = (size_t)nv + (size_t)g->ninputs + (size_t)g->noutputs + 1;
    p->nvals = nv;
    p->half = no_half ? NN_DT_UNDEFINED : m->half;
    p->vals = calloc(cap, sizeof(nn_tensor));
    p->vstate = calloc(cap, 1);
    p->vowned = calloc(cap, 1);
    p->steps = calloc((size_t)g->nnodes + 1, sizeof(nn_step));
    p->buf_of_value = malloc(cap * sizeof(int));
    p->half_in = calloc((size_t)g->ninputs + 1, 1);
    if (!p->vals || !p->vstate || !p->vowned || !p->steps || !p->buf_of_value || !p->half_in) {
        plan_free(m, p);
        return fp_errorf(e, FP_ENOMEM, "%s: plan: out of memory", g->path);
    }
    for (size_t v = 0; v < cap; v++)
        p->buf_of_value[v] = -1;
    for (int v = 0; v < nv; v++) {
        p->buf_of_value[v] = -1;
        if (g->values[v].is_const) {
            p->vals[v] = g->values[v].t;
            p->vals[v].owned = 0; /* the graph keeps ownership */
            p->vstate[v] = VS_CONST;
        }
    }
    for (int i = 0; i < nin; i++) {
        int v = g->inputs[i];
        nn_tensor *t = &p->vals[v];
        t->dtype = (nn_dtype)in[i].dtype;
        if (t->dtype != g->values[v].t.dtype && t->dtype == m->half) {
            /* planned as the float32 the model declares (shape inference checks dtypes against the
             * float32 weights); plan_half gives it back its half dtype */
            t->dtype = NN_DT_FLOAT;
            p->half_in[i] = 1;
            if (!p->half) {
                plan_free(m, p);
                return fp_errorf(e, FP_EUNSUPPORTED, "%s: plan: input '%s' is given as %s but this plan "
                                 "stores float32 (a node refused half storage): give it as float32", g->path,
                                 g->values[v].name, nn_dtype_name(m->half));
            }
        }
        t->ndim = in[i].ndim;
        memcpy(t->dims, in[i].dims, sizeof(t->dims));
        t->device = NN_DEV_HOST;
        int value_in = m->value_input[i];
        /* Too large to key plans on: on a host backend it is an ordinary input, and the nodes whose
         * shapes depend on it are planned at run time (plan_nodes' split). */
        if (value_in && nn_tensor_numel(t) > NN_VALUE_INPUT_MAX && m->be->device == NN_DEV_HOST)
            value_in = 0;
        if (value_in && nn_tensor_numel(t) > NN_VALUE_INPUT_MAX) {
            ret = fp_errorf(e, FP_EUNSUPPORTED, "%s: plan: input '%s' decides output shapes through its values "
                            "but has %lld elements (at most %d: each distinct value makes a new plan)", g->path,
                            g->values[v].name, (long long)nn_tensor_numel(t), NN_VALUE_INPUT_MAX);
            plan_free(m, p);
            return ret;
        }
        if (value_in && p->half_in[i]) {
            plan_free(m, p);
            return fp_errorf(e, FP_EUNSUPPORTED, "%s: plan: input '%s' decides output shapes through its "
                             "values: give it as float32", g->path, g->values[v].name);
        }
        if (value_in) {
            /* Its value shapes the plan: copy it so the plan's constants do not alias caller memory. */
            if (in[i].device != FP_DEVICE_HOST) {
                plan_free(m, p);
                return fp_errorf(e, FP_EUNSUPPORTED, "%s: plan: input '%s' decides output shapes and must be "
                                 "given in host memory", g->path, g->values[v].name);
            }
            if (nn_tensor_alloc(t) < 0) {
                plan_free(m, p);
                return fp_errorf(e, FP_ENOMEM, "%s: plan: out of memory", g->path);
            }
            memcpy(t->data, in[i].data, nn_tensor_nbytes(t));
            p->vowned[v] = 1;
            p->vstate[v] = VS_CONST;
        } else {
            /* A device backend reads host inputs from an arena buffer they are copied into per run. */
            p->vstate[v] = m->be->device != NN_DEV_HOST && in[i].device == FP_DEVICE_HOST ? VS_STAGED : VS_INPUT;
        }
    }

    return plan_nodes(m, p, 0, out, e);
}

/* True when infer() of n needs the value of an input that is computed at run time. */
static int needs_runtime_value(const nn_plan_s *p, const nn_node *n)
{
    for (int k = 0; k < n->nin && k < 32; k++)
        if ((n->def->value_inputs >> k & 1u) && n->inputs[k] >= 0 && p->vstate[n->inputs[k]] != VS_CONST)
            return 1;
    return 0;
}

/* FLOPs (2 per multiply-add) of the matrix-shaped ops, and every step's input and output bytes. */
static void plan_work(const fp_model *m, nn_plan_s *p)
{
    p->flops = p->bytes = 0;
    for (int s = 0; s < p->nsteps; s++) {
        const nn_step *st = &p->steps[s];
        const nn_node *n = step_node(m, st);
        for (int k = 0; k < n->nin; k++)
            if (st->in[k])
                p->bytes += (double)nn_tensor_nbytes(st->in[k]);
        for (int k = 0; k < n->nout; k++)
            if (st->out[k])
                p->bytes += (double)nn_tensor_nbytes(st->out[k]);
        const char *t = n->op_type;
        const nn_tensor *x = n->nin > 0 ? st->in[0] : NULL, *w = n->nin > 1 ? st->in[1] : NULL,
                        *y = n->nout > 0 ? st->out[0] : NULL;
        if (!x || !w || !y)
            continue;
        double taps = 1;
        for (int d = 2; d < w->ndim; d++)
            taps *= (double)w->dims[d];
        if (!strcmp(t, "Conv") || !strcmp(t, "FusedConv") || !strcmp(t, "DeformConv")) {
            if (w->ndim >= 2)
                p->flops += 2.0 * (double)nn_tensor_numel(y) * (double)w->dims[1] * taps;
        } else if (!strcmp(t, "ConvTranspose")) {
            if (w->ndim >= 2)
                p->flops += 2.0 * (double)nn_tensor_numel(x) * (double)w->dims[1] * taps;
        } else if (!strcmp(t, "MatMul")) {
            if (x->ndim >= 1)
                p->flops += 2.0 * (double)nn_tensor_numel(y) * (double)x->dims[x->ndim - 1];
        } else if (!strcmp(t, "Gemm")) {
            if (x->ndim == 2)
                p->flops += 2.0 * (double)nn_tensor_numel(y) * (double)x->dims[nn_attr_int(n, "transA", 0) ? 0 : 1];
        }
    }
}

/* A boundary Cast node made by the runtime (plan-owned, freed by plan_free). */
static nn_node *make_cast(fp_model *m, nn_plan_s *p, int from, int to, const char *why)
{
    int i = p->nxnodes;
    nn_node *n = &p->xnodes[i];
    nn_attr *a = &p->xattrs[i];
    char buf[256];
    snprintf(buf, sizeof(buf), "%s '%s'", why, m->g->values[from < m->g->nvalues ? from : to].name);
    if (!(p->xnames[i] = strdup(buf)))
        return NULL;
    p->nxnodes++;
    a->name = (char *)"to";
    a->type = NN_ATTR_INT;
    a->i = p->vals[to].dtype;
    p->xio[2 * i] = from;
    p->xio[2 * i + 1] = to;
    n->name = p->xnames[i];
    n->op_type = (char *)"Cast";
    n->domain = (char *)"";
    n->opset = m->g->opset;
    n->nin = n->nout = 1;
    n->inputs = &p->xio[2 * i];
    n->outputs = &p->xio[2 * i + 1];
    n->nattr = 1;
    n->attrs = a;
    n->def = nn_op_find("", "Cast");
    return n;
}

/* A new value of p: value v's shape in dtype dt, in the arena. */
static int add_twin(nn_plan_s *p, int v, nn_dtype dt)
{
    int t = p->nvals++;
    p->vals[t] = p->vals[v];
    p->vals[t].dtype = dt;
    p->vals[t].data = NULL;
    p->vals[t].owned = 0;
    p->vstate[t] = VS_ARENA;
    return t;
}

/* Every step input/output that is &p->vals[from] reads/writes &p->vals[to] instead. */
static void redirect(nn_plan_s *p, nn_step *steps, int nsteps, const fp_model *m, int from, int to, int outs)
{
    for (int s = 0; s < nsteps; s++) {
        const nn_node *n = step_node(m, &steps[s]);
        for (int k = 0; k < n->nin; k++)
            if (steps[s].in[k] == &p->vals[from])
                steps[s].in[k] = &p->vals[to];
        for (int k = 0; outs && k < n->nout; k++)
            if (steps[s].out[k] == &p->vals[from])
                steps[s].out[k] = &p->vals[to];
    }
}

/* Fill *st as a Cast step from value `from` to value `to`; on failure *st is left empty. */
static int cast_step(fp_model *m, nn_plan_s *p, nn_step *st, int from, int to, const char *why)
{
    memset(st, 0, sizeof(*st));
    st->in = calloc(2, sizeof(nn_tensor *));
    st->out = calloc(2, sizeof(nn_tensor *));
    st->shadow_in = malloc(2 * sizeof(int));
    st->shadow_out = malloc(2 * sizeof(int));
    if (!st->in || !st->out || !st->shadow_in || !st->shadow_out || !(st->xnode = make_cast(m, p, from, to, why))) {
        free(st->in);
        free(st->out);
        free(st->shadow_in);
        free(st->shadow_out);
        memset(st, 0, sizeof(*st));
        return FP_ENOMEM;
    }
    st->in[0] = &p->vals[from];
    st->out[0] = &p->vals[to];
    st->shadow_in[0] = st->shadow_out[0] = -1;
    return 0;
}

/* Half storage on a device backend (docs/nn.md, "Precision"): every float32 value the plan keeps in
 * the arena becomes p->half. A float32 graph input that steps read gets a half twin filled by a Cast
 * step first; a float32 graph output gets a half twin its producer writes and a Cast step last (the
 * twin is also what a caller's half output buffer is copied from). Half inputs given by the caller
 * (half_in) are read as they are. Constants stay float32 host tensors: the backend converts them to the
 * node's storage dtype in prepare_node. Every step is asked again with its new dtypes; a refusal sets
 * m->half_refused and returns FP_EUNSUPPORTED naming the node (get_plan then plans float32). */
static int plan_half(fp_model *m, nn_plan_s *p, fp_err *e)
{
    nn_graph *g = m->g;
    int nv = g->nvalues, ni = g->ninputs, no = g->noutputs, ret = 0;
    nn_dtype h = p->half;
    p->xnodes = calloc((size_t)(ni + no) + 1, sizeof(nn_node));
    p->xattrs = calloc((size_t)(ni + no) + 1, sizeof(nn_attr));
    p->xio = calloc(2 * (size_t)(ni + no) + 2, sizeof(int));
    p->xnames = calloc((size_t)(ni + no) + 1, sizeof(char *));
    p->out_twin = malloc(((size_t)no + 1) * sizeof(int));
    nn_step *steps = calloc((size_t)(p->nsteps + ni + no) + 1, sizeof(nn_step));
    unsigned char *is_out = calloc((size_t)nv + 1, 1);
    if (!p->xnodes || !p->xattrs || !p->xio || !p->xnames || !p->out_twin || !steps || !is_out) {
        free(steps);
        free(is_out);
        return fp_errorf(e, FP_ENOMEM, "out of memory");
    }
    for (int i = 0; i < no; i++) {
        p->out_twin[i] = -1;
        is_out[g->outputs[i]] = 1;
    }
    for (int v = 0; v < nv; v++)
        if (p->vstate[v] == VS_ARENA && p->vals[v].dtype == NN_DT_FLOAT && !is_out[v])
            p->vals[v].dtype = h;
    int ns = 0;
    for (int i = 0; i < ni && ret >= 0; i++) {
        int v = g->inputs[i];
        if (p->half_in[i]) {
            p->vals[v].dtype = h;
            continue;
        }
        if ((p->vstate[v] != VS_INPUT && p->vstate[v] != VS_STAGED) || p->vals[v].dtype != NN_DT_FLOAT)
            continue;
        int read = 0;
        for (int s = 0; s < p->nsteps && !read; s++)
            for (int k = 0; k < step_node(m, &p->steps[s])->nin; k++)
                read |= p->steps[s].in[k] == &p->vals[v];
        if (!read)
            continue;
        int t = add_twin(p, v, h);
        redirect(p, p->steps, p->nsteps, m, v, t, 0);
        if ((ret = cast_step(m, p, &steps[ns], v, t, "input cast")) >= 0)
            ns++;
    }
    memcpy(steps + ns, p->steps, (size_t)p->nsteps * sizeof(nn_step));
    int body = ns;
    ns += p->nsteps;
    for (int i = 0; i < no && ret >= 0; i++) {
        int v = g->outputs[i], dup = -1;
        for (int j = 0; j < i; j++)
            if (g->outputs[j] == v)
                dup = j;
        if (dup >= 0) {
            p->out_twin[i] = p->out_twin[dup];
            continue;
        }
        if (p->vstate[v] != VS_ARENA || p->vals[v].dtype != NN_DT_FLOAT)
            continue;
        int t = add_twin(p, v, h);
        redirect(p, steps + body, p->nsteps, m, v, t, 1);
        p->out_twin[i] = t;
        if ((ret = cast_step(m, p, &steps[ns], t, v, "output cast")) >= 0)
            steps[ns++].out_cast = i + 1;
    }
    free(is_out);
    free(p->steps);
    p->steps = steps;
    p->nsteps = ns;
    if (ret < 0)
        return fp_errorf(e, FP_ENOMEM, "out of memory");
    for (int s = 0; s < p->nsteps; s++) {
        nn_step *st = &p->steps[s];
        const nn_node *n = step_node(m, st);
        const char *why = NULL;
        if (!m->be->supports_op(m->bctx, n, st->in, n->nin, st->out, n->nout, &why)) {
            m->half_refused = 1;
            return nn_node_error(e, n, FP_EUNSUPPORTED, "the %s backend does not run it in %s storage%s%s",
                                 m->be->name, nn_dtype_name(h), why ? ": " : "", why ? why : "");
        }
    }
    return 0;
}

/* Plan nodes [start, nnodes) of p (whose vals/vstate are initialised), place the arena, allocate it.
 * On a host backend a node whose shapes need values computed at run time (NonMaxSuppression, NonZero
 * on activations...) ends the plan there: p->split records it, values later nodes read stay live to
 * the end, and fp_model_run plans the rest after running this part (plan_continue). Frees p on error. */
static int plan_nodes(fp_model *m, nn_plan_s *p, int start, nn_plan_s **out, fp_err *e)
{
    nn_graph *g = m->g;
    int nv = g->nvalues, ret = 0;
    p->split = -1;
    nn_tensor *tin[256], *tout[256];
    for (int i = start; i < g->nnodes && ret >= 0; i++) {
        nn_node *n = &g->nodes[i];
        if (n->nin > 256 || n->nout > 256) {
            ret = nn_node_error(e, n, FP_EUNSUPPORTED, "more than 256 inputs or outputs");
            break;
        }
        int all_const = 1;
        for (int k = 0; k < n->nin; k++) {
            int v = n->inputs[k];
            tin[k] = v >= 0 ? &p->vals[v] : NULL;
            if (v >= 0 && p->vstate[v] != VS_CONST)
                all_const = 0;
        }
        for (int k = 0; k < n->nout; k++)
            tout[k] = n->outputs[k] >= 0 ? &p->vals[n->outputs[k]] : NULL;
        /* Inputs that are not constant must not expose data to infer(): their values are unknown. */
        int upcast = 0;
        ret = infer_node(n, tin, n->nin, tout, &upcast, e);
        if (ret == FP_EUNSUPPORTED && m->be->device == NN_DEV_HOST && n->def && needs_runtime_value(p, n)) {
            fp_err_clear(e);
            for (int k = 0; k < n->nout; k++)
                if (tout[k])
                    memset(tout[k], 0, sizeof(*tout[k]));
            ret = 0;
            p->split = i;
            break;
        }
        if (ret < 0)
            break;
        size_t outbytes = 0;
        for (int k = 0; k < n->nout; k++)
            if (tout[k])
                outbytes += nn_tensor_nbytes(tout[k]);
        /* Shape and Size read only the (always known) input shape: they fold whatever the input. */
        if ((all_const || op_reads_shape_only(n)) && !op_is_random(n) && outbytes <= NN_FOLD_MAX_BYTES) {
            ret = fold_node(m, p, n, tin, n->nin, tout, upcast, e);
            p->nfolded++;
            continue;
        }
        const char *why = NULL;
        int on_cpu = 0;
        if (!m->be->supports_op(m->bctx, n, tin, n->nin, tout, n->nout, &why)) {
            if (!m->allow_cpu_fallback || m->be == &nn_backend_cpu || !n->def->cpu) {
                ret = nn_node_error(e, n, FP_EUNSUPPORTED, "not supported by the %s backend%s%s%s", m->be->name,
                                    why ? ": " : "", why ? why : "",
                                    m->be != &nn_backend_cpu && !m->allow_cpu_fallback
                                        ? " (allow CPU fallback to run it on the CPU)" : "");
                break;
            }
            fp_log(FP_LOG_WARN, "nn", "%s: node '%s' (%s) runs on the CPU: the %s backend does not support it%s%s",
                   g->path, n->name, n->op_type, m->be->name, why ? ": " : "", why ? why : "");
            on_cpu = 1;
        }
        nn_step *s = &p->steps[p->nsteps++];
        s->node = i;
        s->upcast = upcast;
        s->on_cpu = on_cpu;
        p->ncpu_steps += on_cpu;
        s->in = calloc((size_t)n->nin + 1, sizeof(nn_tensor *));
        s->out = calloc((size_t)n->nout + 1, sizeof(nn_tensor *));
        s->shadow_in = malloc(((size_t)n->nin + 1) * sizeof(int));
        s->shadow_out = malloc(((size_t)n->nout + 1) * sizeof(int));
        if (!s->in || !s->out || !s->shadow_in || !s->shadow_out) {
            ret = fp_errorf(e, FP_ENOMEM, "%s: plan: out of memory", g->path);
            break;
        }
        /* fp16 upcast only concerns CPU kernels; a device backend handles fp16 itself. */
        int cpu_kernel = on_cpu || m->be == &nn_backend_cpu;
        if (!cpu_kernel)
            s->upcast = upcast = 0;
        for (int k = 0; k < n->nin; k++) {
            s->in[k] = tin[k];
            s->shadow_in[k] = upcast && tin[k] && is_half(tin[k]->dtype) ? p->nshadows++ : -1;
        }
        for (int k = 0; k < n->nout; k++) {
            s->out[k] = tout[k];
            if (tout[k])
                p->vstate[n->outputs[k]] = VS_ARENA;
            s->shadow_out[k] = upcast && tout[k] && is_half(tout[k]->dtype) ? p->nshadows++ : -1;
        }
    }
    /* Half storage needs the whole run on the device in one piece: fallback steps run CPU kernels
     * (float32), and a split plan's continuation is host-only. */
    if (ret >= 0 && p->half && !p->ncpu_steps && p->split < 0)
        ret = plan_half(m, p, e);
    else
        p->half = NN_DT_UNDEFINED;
    if (ret < 0) {
        fp_err_prefix(e, "%s: plan: ", g->path);
        plan_free(m, p);
        return ret;
    }

    /* Lifetimes -> arena placement. Buffers: runtime values, then shadows. */
    nv = p->nvals;
    int *first = malloc(((size_t)nv + 1) * sizeof(int)), *last = malloc(((size_t)nv + 1) * sizeof(int));
    p->shadows = calloc((size_t)p->nshadows + 1, sizeof(nn_tensor));
    p->buf_of_shadow = malloc(((size_t)p->nshadows + 1) * sizeof(int));
    p->bufs = calloc((size_t)nv + (size_t)p->nshadows + 1, sizeof(nn_buf_req));
    if (!first || !last || !p->shadows || !p->buf_of_shadow || !p->bufs) {
        free(first);
        free(last);
        plan_free(m, p);
        return fp_errorf(e, FP_ENOMEM, "%s: plan: out of memory", g->path);
    }
    for (int v = 0; v < nv; v++)
        first[v] = last[v] = -1;
    /* from the steps' tensors, not the nodes' value ids: plan_half points steps at half twins */
    for (int s = 0; s < p->nsteps; s++) {
        const nn_step *st = &p->steps[s];
        const nn_node *n = step_node(m, st);
        for (int k = 0; k < n->nin; k++)
            if (st->in[k])
                last[st->in[k] - p->vals] = s;
        for (int k = 0; k < n->nout; k++)
            if (st->out[k]) {
                int v = (int)(st->out[k] - p->vals);
                first[v] = s;
                if (last[v] < s)
                    last[v] = s;
            }
    }
    for (int i = 0; i < g->noutputs; i++) {
        last[g->outputs[i]] = p->nsteps; /* kept until copied out */
        if (p->out_twin && p->out_twin[i] >= 0)
            last[p->out_twin[i]] = p->nsteps;
    }
    for (int j = p->split; j >= 0 && j < g->nnodes; j++) /* read after the split: live to the end */
        for (int k = 0; k < g->nodes[j].nin; k++)
            if (g->nodes[j].inputs[k] >= 0 && last[g->nodes[j].inputs[k]] >= 0)
                last[g->nodes[j].inputs[k]] = p->nsteps;
    for (int v = 0; v < nv; v++) {
        if (p->vstate[v] != VS_ARENA && p->vstate[v] != VS_STAGED)
            continue;
        if (p->vstate[v] == VS_STAGED && last[v] < 0)
            continue; /* an input nothing reads */
        nn_buf_req *r = &p->bufs[p->nbufs];
        r->size = nn_tensor_nbytes(&p->vals[v]);
        r->first = p->vstate[v] == VS_STAGED ? 0 : first[v];
        r->last = last[v];
        p->naive_bytes += (r->size + 63) & ~(size_t)63;
        p->buf_of_value[v] = p->nbufs++;
    }
    p->host_shadows = m->be->device != NN_DEV_HOST;
    for (int s = 0; s < p->nsteps; s++) {
        nn_step *st = &p->steps[s];
        const nn_node *n = step_node(m, st);
        for (int io = 0; io < 2; io++) {
            int cnt = io ? n->nout : n->nin;
            for (int k = 0; k < cnt; k++) {
                int sh = io ? st->shadow_out[k] : st->shadow_in[k];
                if (sh < 0)
                    continue;
                nn_tensor *src = io ? st->out[k] : st->in[k];
                p->shadows[sh] = *src;
                p->shadows[sh].dtype = NN_DT_FLOAT;
                p->shadows[sh].data = NULL;
                p->shadows[sh].owned = 0;
                if (p->host_shadows)
                    continue;
                nn_buf_req *r = &p->bufs[p->nbufs];
                r->size = nn_tensor_nbytes(&p->shadows[sh]);
                r->first = r->last = s;
                p->naive_bytes += (r->size + 63) & ~(size_t)63;
                p->buf_of_shadow[sh] = p->nbufs++;
            }
        }
    }
    free(first);
    free(last);
    long long total = nn_plan_arena(p->bufs, p->nbufs);
    if (total < 0) {
        plan_free(m, p);
        return fp_errorf(e, FP_ENOMEM, "%s: plan: out of memory", g->path);
    }
    p->arena_bytes = (size_t)total;
    plan_work(m, p);
    if (total > 0) {
        ret = m->be->alloc(m->bctx, (size_t)total, &p->arena, e);
        if (ret < 0) {
            fp_err_prefix(e, "%s: plan: activation arena of %lld bytes: ", g->path, total);
            plan_free(m, p);
            return ret;
        }
    }
    for (int v = 0; v < nv; v++)
        if (p->buf_of_value[v] >= 0) {
            p->vals[v].data = (char *)p->arena + p->bufs[p->buf_of_value[v]].offset;
            p->vals[v].device = m->be->device;
        }
    for (int sh = 0; sh < p->nshadows && !p->host_shadows; sh++) {
        p->shadows[sh].data = (char *)p->arena + p->bufs[p->buf_of_shadow[sh]].offset;
        p->shadows[sh].device = m->be->device;
    }
    /* Device backends: fallback steps get host views; shadows and staging are plain host buffers. */
    for (int s = 0; s < p->nsteps && ret >= 0; s++) {
        nn_step *st = &p->steps[s];
        const nn_node *n = step_node(m, st);
        if (!st->on_cpu)
            continue;
        st->hin = calloc((size_t)n->nin + 1, sizeof(nn_tensor));
        st->hout = calloc((size_t)n->nout + 1, sizeof(nn_tensor));
        if (!st->hin || !st->hout) {
            ret = fp_errorf(e, FP_ENOMEM, "%s: plan: out of memory", g->path);
            break;
        }
        for (int k = 0; k < n->nin && ret >= 0; k++) {
            if (!st->in[k])
                continue;
            st->hin[k] = *st->in[k];
            st->hin[k].owned = 0;
            if (st->in[k]->device == NN_DEV_HOST && p->vstate[n->inputs[k]] == VS_CONST)
                continue; /* host constant: read in place */
            st->hin[k].data = NULL;
            if (nn_tensor_alloc(&st->hin[k]) < 0)
                ret = fp_errorf(e, FP_ENOMEM, "%s: plan: out of memory", g->path);
        }
        for (int k = 0; k < n->nout && ret >= 0; k++) {
            if (!st->out[k])
                continue;
            st->hout[k] = *st->out[k];
            st->hout[k].data = NULL;
            st->hout[k].owned = 0;
            if (nn_tensor_alloc(&st->hout[k]) < 0)
                ret = fp_errorf(e, FP_ENOMEM, "%s: plan: out of memory", g->path);
        }
    }
    for (int sh = 0; sh < p->nshadows && p->host_shadows && ret >= 0; sh++) {
        p->shadows[sh].data = NULL;
        if (nn_tensor_alloc(&p->shadows[sh]) < 0)
            ret = fp_errorf(e, FP_ENOMEM, "%s: plan: out of memory", g->path);
    }
    if (ret < 0) {
        plan_free(m, p);
        return ret;
    }
    *out = p;
    return 0;
}

/* The rest of the graph after prev ran up to prev->split: every value prev knows is borrowed (it stays
 * valid until prev is freed or runs again), the split node's value inputs become constants (host
 * memory: only host backends split), and planning resumes at the split node, which then has the
 * values its infer() needs and usually folds. *out is owned by the caller (plan_free), not cached. */
static int plan_continue(fp_model *m, nn_plan_s *prev, nn_plan_s **out, fp_err *e)
{
    nn_graph *g = m->g;
    int nv = g->nvalues;
    nn_plan_s *p = calloc(1, sizeof(*p));
    *out = NULL;
    if (!p)
        return fp_errorf(e, FP_ENOMEM, "%s: plan: out of memory", g->path);
    p->vals = calloc((size_t)nv + 1, sizeof(nn_tensor));
    p->vstate = calloc((size_t)nv + 1, 1);
    p->vowned = calloc((size_t)nv + 1, 1);
    p->steps = calloc((size_t)g->nnodes + 1, sizeof(nn_step));
    p->buf_of_value = malloc(((size_t)nv + 1) * sizeof(int));
    if (!p->vals || !p->vstate || !p->vowned || !p->steps || !p->buf_of_value) {
        plan_free(m, p);
        return fp_errorf(e, FP_ENOMEM, "%s: plan: out of memory", g->path);
    }
    p->id = ++m->key_counter;
    p->nvals = nv;
    for (int v = 0; v < nv; v++) {
        p->buf_of_value[v] = -1;
        if (!prev->vstate[v])
            continue;
        p->vals[v] = prev->vals[v];
        p->vals[v].owned = 0;
        p->vstate[v] = prev->vstate[v] == VS_CONST ? VS_CONST : VS_INPUT;
    }
    const nn_node *n = &g->nodes[prev->split];
    for (int k = 0; k < n->nin && k < 32; k++)
        if ((n->def->value_inputs >> k & 1u) && n->inputs[k] >= 0 && p->vstate[n->inputs[k]])
            p->vstate[n->inputs[k]] = VS_CONST;
    return plan_nodes(m, p, prev->split, out, e);
}

static int get_plan(fp_model *m, const fp_tensor *in, int nin, nn_plan_s **out, fp_err *e)
{
    unsigned char *key;
    size_t len;
    if (make_key(m, in, nin, &key, &len) < 0)
        return fp_errorf(e, FP_ENOMEM, "%s: plan: out of memory", m->g->path);
    for (int i = 0; i < m->nplans; i++) {
        nn_plan_s *p = m->plans[i];
        if (p->key_len == len && !memcmp(p->key, key, len)) {
            free(key);
            p->last_used = ++m->clock;
            *out = m->last = p;
            return 0;
        }
    }
    nn_plan_s *p;
    int ret = build_plan(m, in, nin, 0, &p, e);
    if (ret == FP_EUNSUPPORTED && m->half_refused) {
        /* a node the backend cannot run in half storage: this shape runs float32, said once */
        m->half_refused = 0;
        if (!m->half_warned++)
            fp_log(FP_LOG_WARN, "nn", "%s (this input shape runs in float32)",
                   e ? e->msg : "half storage refused by the backend");
        fp_err_clear(e);
        ret = build_plan(m, in, nin, 1, &p, e);
    }
    if (ret < 0) {
        free(key);
        return ret;
    }
    p->key = key;
    p->key_len = len;
    p->id = ++m->key_counter;
    p->last_used = ++m->clock;
    if (m->nplans == m->max_plans) {
        int lru = 0;
        for (int i = 1; i < m->nplans; i++)
            if (m->plans[i]->last_used < m->plans[lru]->last_used)
                lru = i;
        if (m->last == m->plans[lru])
            m->last = NULL;
        plan_free(m, m->plans[lru]);
        m->plans[lru] = m->plans[--m->nplans];
    }
    m->plans[m->nplans++] = p;
    fp_log(FP_LOG_VERBOSE, "nn", "%s: plan %d: %d steps, %d folded, arena %zu bytes (naive %zu)", m->g->path,
           m->nplans, p->nsteps, p->nfolded, p->arena_bytes, p->naive_bytes);
    *out = m->last = p;
    return 0;
}

/* ---------------------------------------------------------------- run */

int fp_model_output_shapes(fp_model *m, const fp_tensor *in, int nin, fp_tensor *outs, int nout, fp_err *e)
{
    int ret = check_inputs(m, in, nin, e);
    if (ret < 0)
        return ret;
    nn_plan_s *p;
    if ((ret = get_plan(m, in, nin, &p, e)) < 0)
        return ret;
    if (p->split >= 0)
        return fp_errorf(e, FP_EUNSUPPORTED, "%s: plan: output shapes depend on values computed at run time "
                         "(node '%s' (%s)): run the model and read the outputs' shapes", m->g->path,
                         m->g->nodes[p->split].name, m->g->nodes[p->split].op_type);
    for (int i = 0; i < nout && i < m->g->noutputs; i++) {
        const nn_tensor *t = &p->vals[m->g->outputs[i]];
        outs[i].dtype = (fp_dtype)t->dtype;
        outs[i].ndim = t->ndim;
        memcpy(outs[i].dims, t->dims, sizeof(outs[i].dims));
    }
    return 0;
}

/* Backend node state lives in node->backend_data (one per node), so switching to another cached plan
 * prepares its nodes again with that plan's shapes. */
static int prepare_plan(fp_model *m, nn_plan_s *p, fp_err *e)
{
    if (!m->be->prepare_node || m->prepared == p)
        return 0;
    m->prepared = NULL;
    for (int s = 0; s < p->nsteps; s++) {
        nn_step *st = &p->steps[s];
        nn_node *n = step_node(m, st);
        if (st->on_cpu)
            continue;
        int ret = m->be->prepare_node(m->bctx, n, st->in, n->nin, st->out, n->nout, e);
        if (ret < 0) {
            fp_err_prefix(e, "%s: plan: ", m->g->path);
            return ret;
        }
    }
    m->prepared = p;
    m->prepared_key = ++m->key_counter;
    return 0;
}

/* Run a CPU kernel (CPU backend, or a fallback step), converting fp16 around fp32-only kernels. */
static int run_cpu_kernel(fp_model *m, nn_plan_s *p, nn_step *st, nn_tensor *const *in, nn_tensor *const *out,
                          fp_err *e)
{
    const nn_node *n = step_node(m, st);
    const nn_backend *be = st->on_cpu ? &nn_backend_cpu : m->be;
    nn_backend_ctx *bctx = st->on_cpu ? m->cpu_bctx : m->bctx;
    nn_tensor *kin[256], *kout[256];
    for (int k = 0; k < n->nin; k++) {
        kin[k] = in[k];
        if (st->upcast && st->shadow_in[k] >= 0) {
            kin[k] = &p->shadows[st->shadow_in[k]];
            convert_to_f32(in[k], kin[k]);
        }
    }
    for (int k = 0; k < n->nout; k++)
        kout[k] = st->upcast && st->shadow_out[k] >= 0 ? &p->shadows[st->shadow_out[k]] : out[k];
    int ret = be->run_node(bctx, n, kin, n->nin, kout, n->nout, e);
    if (ret < 0)
        return ret;
    for (int k = 0; k < n->nout; k++)
        if (kout[k] != out[k])
            convert_from_f32(kout[k], out[k]);
    return 0;
}

static int run_step(fp_model *m, nn_plan_s *p, nn_step *st, fp_err *e)
{
    const nn_node *n = step_node(m, st);
    if (!st->on_cpu) {
        if (!st->upcast)
            return m->be->run_node(m->bctx, n, st->in, n->nin, st->out, n->nout, e);
        return run_cpu_kernel(m, p, st, st->in, st->out, e);
    }
    /* Fallback: bring device inputs to the host, run the CPU kernel, send outputs back. */
    int ret = 0;
    if (!m->cpu_bctx) {
        nn_backend_opts o = { .threads = m->cpu_threads };
        if ((ret = nn_backend_cpu.init(&m->cpu_bctx, &o, e)) < 0)
            return ret;
    }
    nn_tensor *hin[256], *hout[256];
    for (int k = 0; k < n->nin && ret >= 0; k++) {
        hin[k] = st->in[k] ? &st->hin[k] : NULL;
        if (st->in[k] && st->hin[k].data != st->in[k]->data && nn_tensor_nbytes(st->in[k]))
            ret = m->be->copy(m->bctx, st->hin[k].data, NN_DEV_HOST, st->in[k]->data, st->in[k]->device,
                              nn_tensor_nbytes(st->in[k]), e);
    }
    if (ret >= 0)
        ret = m->be->sync(m->bctx, e);
    for (int k = 0; k < n->nout; k++)
        hout[k] = st->out[k] ? &st->hout[k] : NULL;
    if (ret >= 0)
        ret = run_cpu_kernel(m, p, st, hin, hout, e);
    for (int k = 0; k < n->nout && ret >= 0; k++)
        if (st->out[k] && nn_tensor_nbytes(st->out[k]))
            ret = m->be->copy(m->bctx, st->out[k]->data, st->out[k]->device, st->hout[k].data, NN_DEV_HOST,
                              nn_tensor_nbytes(st->out[k]), e);
    return ret;
}

int fp_model_run(fp_model *m, const fp_tensor *in, int nin, fp_tensor *outs, int nout, fp_err *e)
{
    nn_graph *g = m->g;
    int ret = check_inputs(m, in, nin, e);
    if (ret < 0)
        return ret;
    if (nout != g->noutputs)
        return fp_errorf(e, FP_EINVAL, "%s: run: %d outputs given, the model has %d", g->path, nout,
                         g->noutputs);
    nn_plan_s *p;
    if ((ret = get_plan(m, in, nin, &p, e)) < 0)
        return ret;
    if ((ret = prepare_plan(m, p, e)) < 0)
        return ret;
    for (int i = 0; i < nin; i++) {
        int v = g->inputs[i];
        if (p->vstate[v] == VS_INPUT) {
            p->vals[v].data = in[i].data;
            p->vals[v].device = (nn_device)in[i].device;
        } else if (p->vstate[v] == VS_STAGED && p->buf_of_value[v] >= 0 && nn_tensor_nbytes(&p->vals[v])) {
            ret = m->be->copy(m->bctx, p->vals[v].data, p->vals[v].device, in[i].data, NN_DEV_HOST,
                              nn_tensor_nbytes(&p->vals[v]), e);
            if (ret < 0) {
                fp_err_prefix(e, "%s: run: input '%s': ", g->path, g->values[v].name);
                return ret;
            }
        }
    }
    for (int i = 0; i < nout && p->split < 0; i++) {
        const nn_tensor *t = &p->vals[g->outputs[i]];
        if (outs[i].data) {
            nn_tensor have = { .dtype = (nn_dtype)outs[i].dtype, .ndim = outs[i].ndim };
            memcpy(have.dims, outs[i].dims, sizeof(have.dims));
            if (p->out_twin && p->out_twin[i] >= 0 && have.dtype == p->vals[p->out_twin[i]].dtype)
                t = &p->vals[p->out_twin[i]]; /* half buffer: copied from the half twin */
            if (have.dtype != t->dtype || !nn_shape_equal(&have, t)) {
                char a[160], b[160];
                return fp_errorf(e, FP_EINVAL, "%s: run: output '%s' is %s%s, the buffer given is %s%s",
                                 g->path, g->values[g->outputs[i]].name, nn_dtype_name(t->dtype),
                                 nn_shape_str(t, a, sizeof(a)), nn_dtype_name(have.dtype),
                                 nn_shape_str(&have, b, sizeof(b)));
            }
        }
    }
    /* Half buffers given for float32 outputs are filled from the half twin: their output Casts would
     * write a float32 copy nobody reads. Which ones are skipped is part of the capture key. */
    unsigned char skip_cast[64] = { 0 };
    uint64_t skip_bits = 0;
    for (int i = 0; i < nout && i < 64 && p->out_twin; i++)
        if (p->out_twin[i] >= 0 && outs[i].data && (nn_dtype)outs[i].dtype == p->vals[p->out_twin[i]].dtype) {
            skip_cast[i] = 1;
            skip_bits |= 1ull << i;
        }
    /* Whole-run capture (CUDA graphs) only for runs that stay on the device. */
    int capture = m->be->run_begin && m->be->run_end && !p->ncpu_steps;
    uint64_t key = m->be->prepare_node ? m->prepared_key : p->id;
    if (skip_bits)
        key = mix64(key ^ skip_bits ^ 0x5bd1e995u);
    /* A captured run reads the caller's device inputs in place: their addresses are baked into it, so
     * they join the key (a new address captures again; the backend keeps a few graphs per instance). */
    for (int i = 0; i < nin; i++)
        if (p->vstate[g->inputs[i]] == VS_INPUT && in[i].device != FP_DEVICE_HOST)
            key = mix64(key ^ (uint64_t)(uintptr_t)in[i].data);
    if (capture)
        ret = m->be->run_begin(m->bctx, key, e);
    int replayed = ret == 1;
    for (int s = 0; !replayed && ret >= 0 && s < p->nsteps; s++) {
        int oc = p->steps[s].out_cast;
        if (oc > 0 && oc <= 64 && skip_cast[oc - 1])
            continue;
        ret = run_step(m, p, &p->steps[s], e);
    }
    if (capture && !replayed) {
        if (ret >= 0) {
            ret = m->be->run_end(m->bctx, key, e);
        } else {
            /* end the capture the failed run left open; whatever it recorded is never replayed because
             * the next run prepares again under a new key */
            fp_err ignore = { 0 };
            m->be->run_end(m->bctx, key, &ignore);
            m->prepared = NULL;
        }
    }
    /* Nodes whose shapes needed run-time values: plan and run the rest, as often as it splits again.
     * Continuations are per run (their key would be the values themselves) and freed below. */
    nn_plan_s *cont[NN_MAX_SPLITS], *last = p;
    int ncont = 0;
    while (ret >= 0 && last->split >= 0) {
        if (ncont == NN_MAX_SPLITS) {
            ret = fp_errorf(e, FP_EUNSUPPORTED, "more than %d nodes whose shapes depend on run-time values "
                            "in sequence", NN_MAX_SPLITS);
            break;
        }
        if ((ret = plan_continue(m, last, &cont[ncont], e)) < 0)
            break;
        last = cont[ncont++];
        for (int s = 0; ret >= 0 && s < last->nsteps; s++)
            ret = run_step(m, last, &last->steps[s], e);
    }
    for (int i = 0; i < nout && ret >= 0 && last != p; i++) {
        const nn_tensor *t = &last->vals[g->outputs[i]];
        if (outs[i].data) {
            nn_tensor have = { .dtype = (nn_dtype)outs[i].dtype, .ndim = outs[i].ndim };
            memcpy(have.dims, outs[i].dims, sizeof(have.dims));
            if (have.dtype != t->dtype || !nn_shape_equal(&have, t)) {
                char a[160], b[160];
                ret = fp_errorf(e, FP_EINVAL, "output '%s' is %s%s (sized at run time), the buffer given is %s%s",
                                g->values[g->outputs[i]].name, nn_dtype_name(t->dtype),
                                nn_shape_str(t, a, sizeof(a)), nn_dtype_name(have.dtype),
                                nn_shape_str(&have, b, sizeof(b)));
            }
        }
    }
    if (ret < 0) {
        for (int c = 0; c < ncont; c++)
            plan_free(m, cont[c]);
        fp_err_prefix(e, "%s: run: ", g->path);
        return ret;
    }
    for (int i = 0; i < nout && ret >= 0; i++) {
        const nn_tensor *t = &last->vals[g->outputs[i]];
        if (outs[i].data && last->out_twin && last->out_twin[i] >= 0 &&
            (nn_dtype)outs[i].dtype == last->vals[last->out_twin[i]].dtype)
            t = &last->vals[last->out_twin[i]];
        size_t nb = nn_tensor_nbytes(t);
        if (!outs[i].data) {
            outs[i].dtype = (fp_dtype)t->dtype;
            outs[i].ndim = t->ndim;
            memcpy(outs[i].dims, t->dims, sizeof(outs[i].dims));
            outs[i].device = FP_DEVICE_HOST;
            outs[i].data = malloc(nb ? nb : 1);
            if (!outs[i].data) {
                ret = fp_errorf(e, FP_ENOMEM, "%s: run: out of memory for output '%s'", g->path,
                                g->values[g->outputs[i]].name);
                break;
            }
            outs[i].owned = 2; /* marks "allocated by this call" until success */
        }
        if (nb)
            ret = m->be->copy(m->bctx, outs[i].data, (nn_device)outs[i].device, t->data, t->device, nb, e);
    }
    if (ret >= 0 && m->be->sync)
        ret = m->be->sync(m->bctx, e);
    for (int c = 0; c < ncont; c++)
        plan_free(m, cont[c]);
    for (int i = 0; i < nout; i++) {
        if (outs[i].owned == 2) {
            if (ret < 0) {
                free(outs[i].data);
                outs[i].data = NULL;
                outs[i].owned = 0;
            } else {
                outs[i].owned = 1;
            }
        }
    }
    return ret;
}
