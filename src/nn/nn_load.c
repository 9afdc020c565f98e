/*
 * nn_load — ONNX file -> nn_graph. Parses ModelProto with protobuf-c code generated at build time from
 * Debian's /usr/include/onnx/onnx.proto, decodes initializers (raw_data, typed fields, external data
 * files confined to the model's directory), expands model-local functions (FunctionProto) inline,
 * resolves every node's op def, sorts nodes topologically and drops nodes no output depends on.
 *
 * Owns: validation of everything read from the file; the message of every load error has the form
 * "MODEL: load: cause" (with "node 'N' (Op): " where a node is at fault). Does not own shape inference,
 * folding or memory planning (nn_plan.c), nor running (nn_runtime.c).
 *
 * Trust: the file is untrusted. Every length, count and dimension is checked before it sizes an
 * allocation or a read; the libFuzzer target tests/nn/fuzz_loader.c drives nn_graph_load_mem().
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nn/nn_graph.h"
#include "onnx.pb-c.h"

#define NN_MAX_MODEL_BYTES ((size_t)2 << 30)   /* protobuf's own 2 GiB message limit */
#define NN_MAX_INLINE_DEPTH 8

typedef struct load_ctx {
    const char *name;          /* model name for messages */
    const char *dir;           /* external data root, NULL = refused */
    nn_graph *g;
    fp_err *e;
    const Onnx__ModelProto *m;
    /* name -> value id hash (open addressing, power-of-two size) */
    int *hash;
    size_t hash_size;
    /* node array under construction */
    int nodes_cap;
    int inline_counter;
} load_ctx;

/* ---------------------------------------------------------------- value table */

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static int hash_grow(load_ctx *c)
{
    size_t ns = c->hash_size ? c->hash_size * 2 : 256;
    int *nh = malloc(ns * sizeof(int));
    if (!nh)
        return FP_ENOMEM;
    for (size_t i = 0; i < ns; i++)
        nh[i] = -1;
    for (int v = 0; v < c->g->nvalues; v++) {
        size_t k = str_hash(c->g->values[v].name) & (ns - 1);
        while (nh[k] >= 0)
            k = (k + 1) & (ns - 1);
        nh[k] = v;
    }
    free(c->hash);
    c->hash = nh;
    c->hash_size = ns;
    return 0;
}

static int value_find(load_ctx *c, const char *name)
{
    if (!c->hash_size)
        return -1;
    size_t k = str_hash(name) & (c->hash_size - 1);
    while (c->hash[k] >= 0) {
        if (!strcmp(c->g->values[c->hash[k]].name, name))
            return c->hash[k];
        k = (k + 1) & (c->hash_size - 1);
    }
    return -1;
}

/* Return the id of `name`, creating an empty value if new; <0 on allocation failure. */
static int value_get(load_ctx *c, const char *name)
{
    int id = value_find(c, name);
    if (id >= 0)
        return id;
    nn_graph *g = c->g;
    if (g->nvalues == g->values_cap) {
        int nc = g->values_cap ? g->values_cap * 2 : 64;
        nn_value *nv = realloc(g->values, (size_t)nc * sizeof(*nv));
        if (!nv)
            return FP_ENOMEM;
        g->values = nv;
        g->values_cap = nc;
    }
    if ((size_t)(g->nvalues + 1) * 2 > c->hash_size && hash_grow(c) < 0)
        return FP_ENOMEM;
    nn_value *v = &g->values[g->nvalues];
    memset(v, 0, sizeof(*v));
    v->name = strdup(name);
    if (!v->name)
        return FP_ENOMEM;
    v->producer = -1;
    id = g->nvalues++;
    size_t k = str_hash(name) & (c->hash_size - 1);
    while (c->hash[k] >= 0)
        k = (k + 1) & (c->hash_size - 1);
    c->hash[k] = id;
    return id;
}

static int oom(load_ctx *c)
{
    return fp_errorf(c->e, FP_ENOMEM, "%s: load: out of memory", c->name);
}

/* ---------------------------------------------------------------- tensors */

static int dtype_supported(int dt)
{
    switch (dt) {
    case NN_DT_FLOAT: case NN_DT_UINT8: case NN_DT_INT8: case NN_DT_UINT16: case NN_DT_INT16:
    case NN_DT_INT32: case NN_DT_INT64: case NN_DT_BOOL: case NN_DT_FLOAT16: case NN_DT_DOUBLE:
    case NN_DT_UINT32: case NN_DT_UINT64: case NN_DT_BFLOAT16:
        return 1;
    default:
        return 0;
    }
}

static const char *proto_dtype_name(int dt)
{
    switch (dt) {
    case 8: return "string";
    case 14: return "complex64";
    case 15: return "complex128";
    default: return dtype_supported(dt) ? nn_dtype_name((nn_dtype)dt) : "unknown";
    }
}

/* Is `loc` a relative path that stays inside dir, also after resolving symlinks? Sets *full (malloc). */
static int external_path(load_ctx *c, const char *what, const char *loc, char **full)
{
    *full = NULL;
    if (!c->dir)
        return fp_errorf(c->e, FP_EMODEL, "%s: load: %s: external data '%s' is not allowed here (model "
                         "not loaded from a file)", c->name, what, loc);
    if (!loc[0] || loc[0] == '/')
        return fp_errorf(c->e, FP_EMODEL, "%s: load: %s: external data location '%s' must be a relative "
                         "path inside the model's directory", c->name, what, loc);
    for (const char *p = loc; *p;) {
        const char *q = strchr(p, '/');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return fp_errorf(c->e, FP_EMODEL, "%s: load: %s: external data location '%s' leaves the "
                             "model's directory ('..')", c->name, what, loc);
        p += len;
        while (*p == '/')
            p++;
    }
    char rdir[PATH_MAX], joined[PATH_MAX], rfile[PATH_MAX];
    if (!realpath(c->dir, rdir))
        return fp_errorf(c->e, FP_EINPUT, "%s: load: model directory '%s': %s", c->name, c->dir,
                         strerror(errno));
    if ((size_t)snprintf(joined, sizeof(joined), "%s/%s", rdir, loc) >= sizeof(joined))
        return fp_errorf(c->e, FP_EMODEL, "%s: load: %s: external data path too long", c->name, what);
    if (!realpath(joined, rfile))
        return fp_errorf(c->e, FP_EINPUT, "%s: load: %s: external data file '%s': %s", c->name, what,
                         loc, strerror(errno));
    size_t dl = strlen(rdir);
    if (strncmp(rfile, rdir, dl) || (rfile[dl] != '/' && !(dl == 1 && rdir[0] == '/')))
        return fp_errorf(c->e, FP_EMODEL, "%s: load: %s: external data '%s' resolves outside the model's "
                         "directory (symlink)", c->name, what, loc);
    *full = strdup(rfile);
    return *full ? 0 : oom(c);
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

static int read_external(load_ctx *c, const char *what, const Onnx__TensorProto *tp, size_t nbytes, void *dst)
{
    const char *loc = NULL, *soff = NULL, *slen = NULL;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const Onnx__StringStringEntryProto *kv = tp->external_data[i];
        if (!kv->key || !kv->value)
            continue;
        if (!strcmp(kv->key, "location"))
            loc = kv->value;
        else if (!strcmp(kv->key, "offset"))
            soff = kv->value;
        else if (!strcmp(kv->key, "length"))
            slen = kv->value;
    }
    if (!loc)
        return fp_errorf(c->e, FP_EMODEL, "%s: load: %s: external data without a location", c->name, what);
    uint64_t off = 0, len = nbytes;
    if (soff && parse_u64(soff, &off) < 0)
        return fp_errorf(c->e, FP_EMODEL, "%s: load: %s: bad external data offset '%s'", c->name, what, soff);
    if (slen && parse_u64(slen, &len) < 0)
        return fp_errorf(c->e, FP_EMODEL, "%s: load: %s: bad external data length '%s'", c->name, what, slen);
    if (len != nbytes)
        return fp_errorf(c->e, FP_EMODEL, "%s: load: %s: external data length %llu does not match its "
                         "shape and type (%zu bytes)", c->name, what, (unsigned long long)len, nbytes);
    char *full;
    int ret = external_path(c, what, loc, &full);
    if (ret < 0)
        return ret;
    int fd = open(full, O_RDONLY | O_CLOEXEC);
    free(full);
    if (fd < 0)
        return fp_errorf(c->e, FP_EINPUT, "%s: load: %s: cannot open external data '%s': %s", c->name,
                         what, loc, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fp_errorf(c->e, FP_EMODEL, "%s: load: %s: external data '%s' is not a regular file", c->name,
                         what, loc);
    }
    if (off > (uint64_t)st.st_size || len > (uint64_t)st.st_size - off) {
        close(fd);
        return fp_errorf(c->e, FP_EMODEL, "%s: load: %s: external data '%s' holds %lld bytes, tensor needs "
                         "%llu at offset %llu", c->name, what, loc, (long long)st.st_size,
                         (unsigned long long)len, (unsigned long long)off);
    }
    size_t done = 0;
    while (done < nbytes) {
        ssize_t r = pread(fd, (char *)dst + done, nbytes - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            close(fd);
            return fp_errorf(c->e, FP_EINPUT, "%s: load: %s: reading external data '%s': %s", c->name,
                             what, loc, r < 0 ? strerror(errno) : "unexpected end of file");
        }
        done += (size_t)r;
    }
    close(fd);
    return 0;
}

/* Decode a TensorProto into t (owned host data). `what` names it in messages ("initializer 'w'"). */
static int tensor_from_proto(load_ctx *c, const char *what, const Onnx__TensorProto *tp, nn_tensor *t)
{
    memset(t, 0, sizeof(*t));
    int dt = tp->has_data_type ? tp->data_type : 0;
    if (!dtype_supported(dt))
        return fp_errorf(c->e, FP_EUNSUPPORTED, "%s: load: %s: data type %s (%d) is not supported", c->name,
                         what, proto_dtype_name(dt), dt);
    if (tp->n_dims > NN_MAX_DIMS)
        return fp_errorf(c->e, FP_EUNSUPPORTED, "%s: load: %s: rank %zu exceeds the runtime's maximum of %d",
                         c->name, what, tp->n_dims, NN_MAX_DIMS);
    if (tp->segment)
        return fp_errorf(c->e, FP_EUNSUPPORTED, "%s: load: %s: segmented tensors are not supported", c->name,
                         what);
    t->dtype = (nn_dtype)dt;
    t->ndim = (int)tp->n_dims;
    for (size_t i = 0; i < tp->n_dims; i++) {
        if (tp->dims[i] < 0)
            return fp_errorf(c->e, FP_EMODEL, "%s: load: %s: negative dimension %lld", c->name, what,
                             (long long)tp->dims[i]);
        t->dims[i] = tp->dims[i];
    }
    int64_t numel = nn_tensor_numel(t);
    size_t es = nn_dtype_size(t->dtype);
    if (numel < 0 || (uint64_t)numel > (uint64_t)(SIZE_MAX / 2) / es)
        return fp_errorf(c->e, FP_EMODEL, "%s: load: %s: dimensions overflow", c->name, what);
    size_t nbytes = (size_t)numel * es;
    int external = tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;

    /* Check the stored length against the shape before allocating, so hostile dims cannot size an
     * allocation that no data backs (external data is checked against the file's size first). */
    size_t have = 0;
    const char *field = NULL;
    if (external) {
        field = "external";
    } else if (tp->has_raw_data) {
        have = tp->raw_data.len;
        field = "raw_data";
        if (have != nbytes)
            return fp_errorf(c->e, FP_EMODEL, "%s: load: %s: raw_data holds %zu bytes, shape %s of %s needs "
                             "%zu", c->name, what, have, nn_shape_str(t, (char[96]){0}, 96),
                             nn_dtype_name(t->dtype), nbytes);
    } else {
        switch (t->dtype) {
        case NN_DT_FLOAT: have = tp->n_float_data; field = "float_data"; break;
        case NN_DT_DOUBLE: have = tp->n_double_data; field = "double_data"; break;
        case NN_DT_INT64: have = tp->n_int64_data; field = "int64_data"; break;
        case NN_DT_UINT32: case NN_DT_UINT64: have = tp->n_uint64_data; field = "uint64_data"; break;
        default: have = tp->n_int32_data; field = "int32_data"; break;
        }
        if (have != (size_t)numel)
            return fp_errorf(c->e, FP_EMODEL, "%s: load: %s: %s holds %zu elements, shape %s needs %lld",
                             c->name, what, field, have, nn_shape_str(t, (char[96]){0}, 96),
                             (long long)numel);
    }
    if (nn_tensor_alloc(t) < 0)
        return fp_errorf(c->e, FP_ENOMEM, "%s: load: %s: cannot allocate %zu bytes", c->name, what, nbytes);
    if (external) {
        int ret = read_external(c, what, tp, nbytes, t->data);
        if (ret < 0) {
            nn_tensor_free(t);
            return ret;
        }
        return 0;
    }
    if (tp->has_raw_data) {
        /* ONNX raw_data is little-endian, as is every host we build for. */
        if (nbytes)
            memcpy(t->data, tp->raw_data.data, nbytes);
        return 0;
    }
    for (int64_t i = 0; i < numel; i++) {
        switch (t->dtype) {
        case NN_DT_FLOAT: ((float *)t->data)[i] = tp->float_data[i]; break;
        case NN_DT_DOUBLE: ((double *)t->data)[i] = tp->double_data[i]; break;
        case NN_DT_INT64: ((int64_t *)t->data)[i] = tp->int64_data[i]; break;
        case NN_DT_UINT32: ((uint32_t *)t->data)[i] = (uint32_t)tp->uint64_data[i]; break;
        case NN_DT_UINT64: ((uint64_t *)t->data)[i] = tp->uint64_data[i]; break;
        case NN_DT_INT32: ((int32_t *)t->data)[i] = tp->int32_data[i]; break;
        case NN_DT_INT16: ((int16_t *)t->data)[i] = (int16_t)tp->int32_data[i]; break;
        case NN_DT_UINT16: case NN_DT_FLOAT16: case NN_DT_BFLOAT16:
            /* fp16/bf16 are stored as their bit patterns in int32_data */
            ((uint16_t *)t->data)[i] = (uint16_t)tp->int32_data[i];
            break;
        case NN_DT_INT8: ((int8_t *)t->data)[i] = (int8_t)tp->int32_data[i]; break;
        case NN_DT_UINT8: ((uint8_t *)t->data)[i] = (uint8_t)tp->int32_data[i]; break;
        case NN_DT_BOOL: ((uint8_t *)t->data)[i] = tp->int32_data[i] != 0; break;
        default: break;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- attributes */

void nn_attrs_free(nn_attr *a, int n)
{
    if (!a)
        return;
    for (int i = 0; i < n; i++) {
        free(a[i].name);
        free(a[i].s);
        free(a[i].floats);
        free(a[i].ints);
        if (a[i].strings) {
            for (int k = 0; k < a[i].n; k++)
                free(a[i].strings[k]);
            free(a[i].strings);
        }
        if (a[i].t) {
            nn_tensor_free(a[i].t);
            free(a[i].t);
        }
    }
    free(a);
}

static char *bytes_dup(const ProtobufCBinaryData *b)
{
    char *s = malloc(b->len + 1);
    if (!s)
        return NULL;
    if (b->len)
        memcpy(s, b->data, b->len);
    s[b->len] = 0;
    return s;
}

static int attr_type_of(const Onnx__AttributeProto *ap)
{
    if (ap->has_type && ap->type)
        return ap->type;
    /* IR < 3 files may omit the discriminator: infer it from the field present. */
    if (ap->n_floats) return NN_ATTR_FLOATS;
    if (ap->n_ints) return NN_ATTR_INTS;
    if (ap->n_strings) return NN_ATTR_STRINGS;
    if (ap->t) return NN_ATTR_TENSOR;
    if (ap->g) return NN_ATTR_GRAPH;
    if (ap->has_s) return NN_ATTR_STRING;
    if (ap->has_i) return NN_ATTR_INT;
    if (ap->has_f) return NN_ATTR_FLOAT;
    return NN_ATTR_UNDEFINED;
}

static int attr_from_proto(load_ctx *c, const nn_node *n, const Onnx__AttributeProto *ap, const char *name,
                           nn_attr *a)
{
    memset(a, 0, sizeof(*a));
    a->name = strdup(name);
    if (!a->name)
        return oom(c);
    int type = attr_type_of(ap);
    a->type = (nn_attr_type)type;
    switch (type) {
    case NN_ATTR_FLOAT: a->f = ap->f; break;
    case NN_ATTR_INT: a->i = ap->i; break;
    case NN_ATTR_STRING:
        if (!(a->s = bytes_dup(&ap->s)))
            return oom(c);
        break;
    case NN_ATTR_FLOATS:
        if (ap->n_floats > INT32_MAX)
            return fp_errorf(c->e, FP_EMODEL, "%s: load: attribute '%s' too long", c->name, name);
        a->n = (int)ap->n_floats;
        if (!(a->floats = malloc(ap->n_floats * sizeof(float) + 1)))
            return oom(c);
        if (a->n)
            memcpy(a->floats, ap->floats, ap->n_floats * sizeof(float));
        break;
    case NN_ATTR_INTS:
        if (ap->n_ints > INT32_MAX)
            return fp_errorf(c->e, FP_EMODEL, "%s: load: attribute '%s' too long", c->name, name);
        a->n = (int)ap->n_ints;
        if (!(a->ints = malloc(ap->n_ints * sizeof(int64_t) + 1)))
            return oom(c);
        if (a->n)
            memcpy(a->ints, ap->ints, ap->n_ints * sizeof(int64_t));
        break;
    case NN_ATTR_STRINGS:
        if (ap->n_strings > INT32_MAX)
            return fp_errorf(c->e, FP_EMODEL, "%s: load: attribute '%s' too long", c->name, name);
        if (!(a->strings = calloc(ap->n_strings + 1, sizeof(char *))))
            return oom(c);
        for (size_t k = 0; k < ap->n_strings; k++) {
            if (!(a->strings[k] = bytes_dup(&ap->strings[k])))
                return oom(c);
            a->n = (int)k + 1;
        }
        break;
    case NN_ATTR_TENSOR: {
        if (!ap->t)
            return fp_errorf(c->e, FP_EMODEL, "%s: load: node '%s' (%s): tensor attribute '%s' has no tensor",
                             c->name, n->name, n->op_type, name);
        if (!(a->t = calloc(1, sizeof(nn_tensor))))
            return oom(c);
        char what[256];
        snprintf(what, sizeof(what), "node '%s' (%s): attribute '%s'", n->name, n->op_type, name);
        int ret = tensor_from_proto(c, what, ap->t, a->t);
        if (ret < 0)
            return ret;
        break;
    }
    case NN_ATTR_GRAPH:
        return fp_errorf(c->e, FP_EUNSUPPORTED, "%s: load: node '%s' (%s): subgraph attribute '%s' (If/Loop/"
                         "Scan control flow) is not supported", c->name, n->name, n->op_type, name);
    default:
        return fp_errorf(c->e, FP_EUNSUPPORTED, "%s: load: node '%s' (%s): attribute '%s' has unsupported "
                         "type %d", c->name, n->name, n->op_type, name, type);
    }
    return 0;
}

/* ---------------------------------------------------------------- nodes and functions */

typedef struct scope {
    const struct scope *parent;
    const Onnx__FunctionProto *fn;   /* NULL at the top level */
    const Onnx__NodeProto *call;     /* the node that called fn */
    char **actual_in, **actual_out;  /* resolved names of the call's inputs/outputs */
    char prefix[64];                 /* makes the function's internal names unique per call */
    int depth;
    int fn_opset;                    /* default-domain opset inside fn */
} scope;

static const Onnx__FunctionProto *find_function(load_ctx *c, const char *domain, const char *op)
{
    for (size_t i = 0; i < c->m->n_functions; i++) {
        const Onnx__FunctionProto *f = c->m->functions[i];
        if (f->name && !strcmp(f->name, op) && !strcmp(f->domain ? f->domain : "", domain ? domain : ""))
            return f;
    }
    return NULL;
}

/* Map a name as written inside scope s to the graph-level name (malloc'd). */
static char *scope_name(const scope *s, const char *name)
{
    if (!s->fn || !name[0])
        return strdup(name);
    for (size_t i = 0; i < s->fn->n_input; i++)
        if (!strcmp(s->fn->input[i], name))
            return strdup(s->actual_in[i]);
    for (size_t i = 0; i < s->fn->n_output; i++)
        if (!strcmp(s->fn->output[i], name))
            return strdup(s->actual_out[i]);
    size_t len = strlen(s->prefix) + strlen(name) + 1;
    char *r = malloc(len);
    if (r)
        snprintf(r, len, "%s%s", s->prefix, name);
    return r;
}

static int model_opset_of(load_ctx *c, const char *domain)
{
    const char *d = domain && strcmp(domain, "ai.onnx") ? domain : "";
    for (size_t i = 0; i < c->m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = c->m->opset_import[i];
        const char *od = o->domain && strcmp(o->domain, "ai.onnx") ? o->domain : "";
        if (!strcmp(od, d))
            return o->has_version ? (int)o->version : 1;
    }
    return d[0] ? 1 : c->g->opset;
}

static int add_nodes(load_ctx *c, const scope *s, Onnx__NodeProto *const *np, size_t count);

/* ONNX Constant when no op group registers it: its value becomes a graph constant at load, which is
 * what folding would make of it anyway. When a def exists the node stays and is folded at plan time. */
static int constant_to_value(load_ctx *c, const scope *s, const Onnx__NodeProto *p)
{
    const char *nm = p->name && p->name[0] ? p->name : "Constant";
    if (p->n_output != 1 || !p->output[0][0] || p->n_attribute != 1)
        return fp_errorf(c->e, FP_EMODEL, "%s: load: node '%s' (Constant): needs one output and exactly one "
                         "value attribute", c->name, nm);
    const Onnx__AttributeProto *ap = p->attribute[0];
    if (ap->ref_attr_name && ap->ref_attr_name[0])
        return fp_errorf(c->e, FP_EUNSUPPORTED, "%s: load: node '%s' (Constant): attribute references inside "
                         "functions are not supported without a Constant kernel", c->name, nm);
    char *vname = scope_name(s, p->output[0]);
    int id = vname ? value_get(c, vname) : FP_ENOMEM;
    free(vname);
    if (id < 0)
        return oom(c);
    nn_value *v = &c->g->values[id];
    if (v->producer >= 0 || v->is_const || v->is_input)
        return fp_errorf(c->e, FP_EMODEL, "%s: load: node '%s' (Constant): output '%s' is already defined",
                         c->name, nm, v->name);
    const char *an = ap->name ? ap->name : "";
    nn_tensor *t = &v->t;
    memset(t, 0, sizeof(*t));
    char what[300];
    snprintf(what, sizeof(what), "node '%.100s' (Constant)", nm);
    int ret = 0;
    if (!strcmp(an, "value") && ap->t) {
        ret = tensor_from_proto(c, what, ap->t, t);
    } else if (!strcmp(an, "value_float") || !strcmp(an, "value_int")) {
        int isf = an[6] == 'f';
        *t = (nn_tensor){ .dtype = isf ? NN_DT_FLOAT : NN_DT_INT64, .ndim = 0 };
        if (nn_tensor_alloc(t) < 0)
            return oom(c);
        if (isf)
            *(float *)t->data = ap->f;
        else
            *(int64_t *)t->data = ap->i;
    } else if (!strcmp(an, "value_floats") || !strcmp(an, "value_ints")) {
        int isf = an[6] == 'f';
        size_t cnt = isf ? ap->n_floats : ap->n_ints;
        *t = (nn_tensor){ .dtype = isf ? NN_DT_FLOAT : NN_DT_INT64, .ndim = 1, .dims = { (int64_t)cnt } };
        if (nn_tensor_alloc(t) < 0)
            return oom(c);
        if (cnt)
            memcpy(t->data, isf ? (void *)ap->floats : (void *)ap->ints, cnt * (isf ? 4 : 8));
    } else {
        return fp_errorf(c->e, FP_EUNSUPPORTED, "%s: load: node '%s' (Constant): attribute '%s' is not "
                         "supported", c->name, nm, an);
    }
    if (ret < 0)
        return ret;
    v->is_const = 1;
    v->shape_known = 1;
    return 0;
}

static int add_node(load_ctx *c, const scope *s, const Onnx__NodeProto *p)
{
    nn_graph *g = c->g;
    const char *op = p->op_type ? p->op_type : "";
    const char *domain = p->domain ? p->domain : "";
    if (!op[0])
        return fp_errorf(c->e, FP_EMODEL, "%s: load: node '%s' has no op_type", c->name,
                         p->name ? p->name : "?");

    if (!strcmp(op, "Constant") && (!domain[0] || !strcmp(domain, "ai.onnx")) &&
        !nn_op_find_opset(domain, op, s->fn ? s->fn_opset : c->g->opset))
        return constant_to_value(c, s, p);

    const Onnx__FunctionProto *fn = find_function(c, domain, op);
    if (fn) {
        if (s->depth >= NN_MAX_INLINE_DEPTH)
            return fp_errorf(c->e, FP_EMODEL, "%s: load: function '%s' nests deeper than %d (recursive?)",
                             c->name, op, NN_MAX_INLINE_DEPTH);
        if (p->n_input > fn->n_input || p->n_output > fn->n_output)
            return fp_errorf(c->e, FP_EMODEL, "%s: load: node '%s' calls function '%s' with %zu inputs and "
                             "%zu outputs, it declares %zu and %zu", c->name, p->name ? p->name : "?", op,
                             p->n_input, p->n_output, fn->n_input, fn->n_output);
        scope sub = { .parent = s, .fn = fn, .call = p, .depth = s->depth + 1 };
        sub.fn_opset = c->g->opset;
        for (size_t i = 0; i < fn->n_opset_import; i++) {
            const Onnx__OperatorSetIdProto *o = fn->opset_import[i];
            if ((!o->domain || !o->domain[0] || !strcmp(o->domain, "ai.onnx")) && o->has_version)
                sub.fn_opset = (int)o->version;
        }
        snprintf(sub.prefix, sizeof(sub.prefix), "%s#%d/", op, c->inline_counter++);
        sub.actual_in = calloc(fn->n_input + 1, sizeof(char *));
        sub.actual_out = calloc(fn->n_output + 1, sizeof(char *));
        int ret = 0;
        if (!sub.actual_in || !sub.actual_out)
            ret = oom(c);
        /* Formal parameters the call leaves out map to "", i.e. absent optional values. */
        for (size_t i = 0; !ret && i < fn->n_input; i++)
            if (!(sub.actual_in[i] = scope_name(s, i < p->n_input ? p->input[i] : "")))
                ret = oom(c);
        for (size_t i = 0; !ret && i < fn->n_output; i++)
            if (!(sub.actual_out[i] = scope_name(s, i < p->n_output ? p->output[i] : "")))
                ret = oom(c);
        if (!ret)
            ret = add_nodes(c, &sub, fn->node, fn->n_node);
        for (size_t i = 0; sub.actual_in && i < fn->n_input; i++)
            free(sub.actual_in[i]);
        for (size_t i = 0; sub.actual_out && i < fn->n_output; i++)
            free(sub.actual_out[i]);
        free(sub.actual_in);
        free(sub.actual_out);
        if (!ret && s->depth == 0)
            g->nfunctions_inlined++;
        return ret;
    }

    if (g->nnodes == c->nodes_cap) {
        int nc = c->nodes_cap ? c->nodes_cap * 2 : 64;
        nn_node *nn = realloc(g->nodes, (size_t)nc * sizeof(*nn));
        if (!nn)
            return oom(c);
        g->nodes = nn;
        c->nodes_cap = nc;
    }
    nn_node *n = &g->nodes[g->nnodes];
    memset(n, 0, sizeof(*n));
    g->nnodes++; /* counted now so nn_graph_freep releases a half-built node */
    char defname[48];
    snprintf(defname, sizeof(defname), "%s_%d", op, g->nnodes - 1);
    n->name = s->fn ? scope_name(s, p->name && p->name[0] ? p->name : defname)
                    : strdup(p->name && p->name[0] ? p->name : defname);
    n->op_type = strdup(op);
    n->domain = strdup(domain);
    if (!n->name || !n->op_type || !n->domain)
        return oom(c);
    n->opset = s->fn && !domain[0] ? s->fn_opset : model_opset_of(c, domain);
    if (p->n_input > 4096 || p->n_output > 4096)
        return fp_errorf(c->e, FP_EMODEL, "%s: load: node '%s' (%s): too many inputs/outputs", c->name,
                         n->name, op);
    n->inputs = malloc((p->n_input + 1) * sizeof(int));
    n->outputs = malloc((p->n_output + 1) * sizeof(int));
    if (!n->inputs || !n->outputs)
        return oom(c);
    n->nin = (int)p->n_input;
    n->nout = (int)p->n_output;
    for (size_t i = 0; i < p->n_input; i++) {
        n->inputs[i] = -1;
        if (!p->input[i][0])
            continue;
        char *nm = scope_name(s, p->input[i]);
        int id = nm ? value_get(c, nm) : FP_ENOMEM;
        free(nm);
        if (id < 0)
            return oom(c);
        n->inputs[i] = id;
    }
    for (size_t i = 0; i < p->n_output; i++) {
        n->outputs[i] = -1;
        if (!p->output[i][0])
            continue;
        char *nm = scope_name(s, p->output[i]);
        int id = nm ? value_get(c, nm) : FP_ENOMEM;
        free(nm);
        if (id < 0)
            return oom(c);
        nn_value *v = &g->values[id];
        if (v->producer >= 0 || v->is_const || v->is_input)
            return fp_errorf(c->e, FP_EMODEL, "%s: load: node '%s' (%s): output '%s' is already defined "
                             "(by another node, an initializer or an input)", c->name, n->name, op, v->name);
        v->producer = g->nnodes - 1;
        n->outputs[i] = id;
    }
    /* Trailing absent optional inputs do not count (nin = positions up to the last present one). */
    while (n->nin > 0 && n->inputs[n->nin - 1] < 0)
        n->nin--;
    if (p->n_attribute > 4096)
        return fp_errorf(c->e, FP_EMODEL, "%s: load: node '%s' (%s): too many attributes", c->name, n->name, op);
    n->attrs = calloc(p->n_attribute + 1, sizeof(nn_attr));
    if (!n->attrs)
        return oom(c);
    for (size_t i = 0; i < p->n_attribute; i++) {
        const Onnx__AttributeProto *ap = p->attribute[i];
        const char *aname = ap->name ? ap->name : "";
        if (ap->ref_attr_name && ap->ref_attr_name[0]) {
            /* Inside a function: the value comes from the calling node's attribute of that name. */
            const Onnx__AttributeProto *src = NULL;
            for (const scope *sc = s; sc && sc->fn && !src; sc = NULL) {
                for (size_t k = 0; k < sc->call->n_attribute; k++)
                    if (sc->call->attribute[k]->name && !strcmp(sc->call->attribute[k]->name, ap->ref_attr_name))
                        src = sc->call->attribute[k];
            }
            if (!src)
                continue; /* not given by the caller: the op's default applies */
            ap = src;
        }
        int ret = attr_from_proto(c, n, ap, aname, &n->attrs[n->nattr]);
        n->nattr++;
        if (ret < 0)
            return ret;
    }
    n->def = nn_op_find_opset(domain, op, n->opset);
    return 0;
}

static int add_nodes(load_ctx *c, const scope *s, Onnx__NodeProto *const *np, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        int ret = add_node(c, s, np[i]);
        if (ret < 0)
            return ret;
    }
    return 0;
}

/* ---------------------------------------------------------------- value infos */

static int value_info(load_ctx *c, const Onnx__ValueInfoProto *vi, int id, const char *role)
{
    nn_value *v = &c->g->values[id];
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type) {
        const char *kind = !tp ? "untyped"
                         : tp->value_case == ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE ? "a sequence"
                         : tp->value_case == ONNX__TYPE_PROTO__VALUE_MAP_TYPE ? "a map"
                         : tp->value_case == ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE ? "an optional"
                         : "not a dense tensor";
        return fp_errorf(c->e, FP_EUNSUPPORTED, "%s: load: %s '%s' is %s; only tensors are supported",
                         c->name, role, v->name, kind);
    }
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    int dt = tt->has_elem_type ? tt->elem_type : 0;
    if (!dtype_supported(dt))
        return fp_errorf(c->e, FP_EUNSUPPORTED, "%s: load: %s '%s' has data type %s (%d), not supported",
                         c->name, role, v->name, proto_dtype_name(dt), dt);
    v->t.dtype = (nn_dtype)dt;
    if (tt->shape) {
        if (tt->shape->n_dim > NN_MAX_DIMS)
            return fp_errorf(c->e, FP_EUNSUPPORTED, "%s: load: %s '%s' has rank %zu, the maximum is %d",
                             c->name, role, v->name, tt->shape->n_dim, NN_MAX_DIMS);
        v->shape_known = 1;
        v->t.ndim = (int)tt->shape->n_dim;
        for (size_t i = 0; i < tt->shape->n_dim; i++) {
            const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
            v->t.dims[i] = -1;
            if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
                if (d->dim_value < 0)
                    return fp_errorf(c->e, FP_EMODEL, "%s: load: %s '%s': negative dimension %lld", c->name,
                                     role, v->name, (long long)d->dim_value);
                v->t.dims[i] = d->dim_value;
            } else if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM && d->dim_param &&
                       !v->dim_names[i]) {
                if (!(v->dim_names[i] = strdup(d->dim_param)))
                    return oom(c);
            }
        }
        /* the concrete dims alone must describe an addressable tensor */
        uint64_t bytes = nn_dtype_size(v->t.dtype);
        for (int i = 0; i < v->t.ndim; i++) {
            uint64_t d = v->t.dims[i] > 0 ? (uint64_t)v->t.dims[i] : 1;
            if (bytes > (uint64_t)INT64_MAX / d)
                return fp_errorf(c->e, FP_EMODEL, "%s: load: %s '%s': dimensions overflow", c->name, role,
                                 v->name);
            bytes *= d;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- order */

/* Kahn's algorithm over nodes; then keep only nodes some graph output depends on. */
static int sort_and_prune(load_ctx *c)
{
    nn_graph *g = c->g;
    int nn = g->nnodes, ret = 0;
    int *indeg = calloc((size_t)nn + 1, sizeof(int));
    int *order = malloc(((size_t)nn + 1) * sizeof(int));
    int *live = calloc((size_t)nn + 1, sizeof(int));
    int *stack = malloc(((size_t)nn + 1) * sizeof(int));
    /* consumers of each value, as a CSR list */
    int *cstart = calloc((size_t)g->nvalues + 1, sizeof(int));
    int total = 0;
    if (!indeg || !order || !live || !stack || !cstart) {
        ret = oom(c);
        goto done;
    }
    for (int i = 0; i < nn; i++)
        for (int k = 0; k < g->nodes[i].nin; k++)
            if (g->nodes[i].inputs[k] >= 0)
                total++;
    int *clist = malloc(((size_t)total + 1) * sizeof(int));
    int *cfill = calloc((size_t)g->nvalues + 1, sizeof(int));
    if (!clist || !cfill) {
        free(clist);
        free(cfill);
        ret = oom(c);
        goto done;
    }
    for (int i = 0; i < nn; i++) {
        const nn_node *n = &g->nodes[i];
        for (int k = 0; k < n->nin; k++) {
            int v = n->inputs[k];
            if (v < 0)
                continue;
            const nn_value *val = &g->values[v];
            if (val->producer < 0 && !val->is_const && !val->is_input) {
                ret = fp_errorf(c->e, FP_EMODEL, "%s: load: node '%s' (%s): input '%s' is not produced by any "
                                "node, initializer or graph input", c->name, n->name, n->op_type, val->name);
                free(clist);
                free(cfill);
                goto done;
            }
            if (val->producer >= 0)
                indeg[i]++;
            cstart[v + 1]++;
        }
    }
    for (int v = 0; v < g->nvalues; v++)
        cstart[v + 1] += cstart[v];
    for (int i = 0; i < nn; i++) {
        const nn_node *n = &g->nodes[i];
        for (int k = 0; k < n->nin; k++)
            if (n->inputs[k] >= 0)
                clist[cstart[n->inputs[k]] + cfill[n->inputs[k]]++] = i;
    }
    /* Seed in file order so the sorted order stays close to the exporter's (stable, readable). */
    int sp = 0, no = 0;
    for (int i = nn - 1; i >= 0; i--)
        if (!indeg[i])
            stack[sp++] = i;
    while (sp) {
        int i = stack[--sp];
        order[no++] = i;
        const nn_node *n = &g->nodes[i];
        /* push in reverse so that lower-index consumers pop first */
        int base = sp;
        for (int k = 0; k < n->nout; k++) {
            int v = n->outputs[k];
            if (v < 0)
                continue;
            for (int j = cstart[v]; j < cstart[v + 1]; j++) {
                int m = clist[j];
                if (--indeg[m] == 0)
                    stack[sp++] = m;
            }
        }
        for (int a = base, b = sp - 1; a < b; a++, b--) {
            int t = stack[a];
            stack[a] = stack[b];
            stack[b] = t;
        }
    }
    free(clist);
    free(cfill);
    if (no != nn) {
        for (int i = 0; i < nn; i++)
            if (indeg[i]) {
                ret = fp_errorf(c->e, FP_EMODEL, "%s: load: node '%s' (%s) is part of a cycle", c->name,
                                g->nodes[i].name, g->nodes[i].op_type);
                break;
            }
        goto done;
    }
    /* liveness: walk back from outputs in reverse topological order */
    {
        char *needed = calloc((size_t)g->nvalues + 1, 1);
        if (!needed) {
            ret = oom(c);
            goto done;
        }
        for (int i = 0; i < g->noutputs; i++)
            needed[g->outputs[i]] = 1;
        for (int oi = nn - 1; oi >= 0; oi--) {
            const nn_node *n = &g->nodes[order[oi]];
            int any = 0;
            for (int k = 0; k < n->nout; k++)
                if (n->outputs[k] >= 0 && needed[n->outputs[k]])
                    any = 1;
            if (!any)
                continue;
            live[order[oi]] = 1;
            for (int k = 0; k < n->nin; k++)
                if (n->inputs[k] >= 0)
                    needed[n->inputs[k]] = 1;
        }
        free(needed);
    }
    {
        nn_node *sorted = malloc(((size_t)nn + 1) * sizeof(nn_node));
        int *newid = malloc(((size_t)nn + 1) * sizeof(int));
        if (!sorted || !newid) {
            free(sorted);
            free(newid);
            ret = oom(c);
            goto done;
        }
        int ns = 0;
        for (int oi = 0; oi < nn; oi++) {
            int i = order[oi];
            if (live[i]) {
                newid[i] = ns;
                sorted[ns++] = g->nodes[i];
            } else {
                newid[i] = -1;
                nn_node *d = &g->nodes[i];
                free(d->name);
                free(d->op_type);
                free(d->domain);
                free(d->inputs);
                free(d->outputs);
                nn_attrs_free(d->attrs, d->nattr);
            }
        }
        for (int v = 0; v < g->nvalues; v++)
            if (g->values[v].producer >= 0)
                g->values[v].producer = newid[g->values[v].producer];
        free(g->nodes);
        free(newid);
        g->nodes = sorted;
        g->nnodes = ns;
    }
done:
    free(indeg);
    free(order);
    free(live);
    free(stack);
    free(cstart);
    return ret;
}

/* ---------------------------------------------------------------- top level */

static int build(load_ctx *c, const Onnx__ModelProto *m)
{
    nn_graph *g = c->g;
    c->m = m;
    g->ir_version = m->has_ir_version ? m->ir_version : 0;
    if (!m->graph)
        return fp_errorf(c->e, FP_EMODEL, "%s: load: the file has no graph (not an ONNX model?)", c->name);
    int opset = -1;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *o = m->opset_import[i];
        if (!o->domain || !o->domain[0] || !strcmp(o->domain, "ai.onnx"))
            opset = o->has_version ? (int)(o->version > INT32_MAX ? INT32_MAX : o->version < 0 ? -1 : o->version) : 1;
    }
    if (opset < 0) {
        /* IR version 1/2 files predate opset_import and mean opset 1. */
        opset = 1;
    }
    g->opset = opset;
    if (opset < NN_OPSET_MIN || opset > NN_OPSET_MAX)
        return fp_errorf(c->e, FP_EUNSUPPORTED, "%s: load: opset %d is outside the supported range %d..%d "
                         "(re-export the model with opset_version in that range)", c->name, opset,
                         NN_OPSET_MIN, NN_OPSET_MAX);
    {
        const char *pn = m->producer_name ? m->producer_name : "";
        const char *pv = m->producer_version ? m->producer_version : "";
        size_t len = strlen(pn) + strlen(pv) + 2;
        if (!(g->producer = malloc(len)))
            return oom(c);
        snprintf(g->producer, len, "%s%s%s", pn, pv[0] && pn[0] ? " " : "", pv);
    }
    const Onnx__GraphProto *gp = m->graph;
    if (gp->n_sparse_initializer)
        return fp_errorf(c->e, FP_EUNSUPPORTED, "%s: load: sparse initializers are not supported", c->name);

    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        const char *nm = tp->name ? tp->name : "";
        if (!nm[0])
            return fp_errorf(c->e, FP_EMODEL, "%s: load: initializer %zu has no name", c->name, i);
        int id = value_get(c, nm);
        if (id < 0)
            return oom(c);
        nn_value *v = &g->values[id];
        if (v->is_const)
            return fp_errorf(c->e, FP_EMODEL, "%s: load: initializer '%s' is defined twice", c->name, nm);
        char what[300];
        snprintf(what, sizeof(what), "initializer '%.200s'", nm);
        int ret = tensor_from_proto(c, what, tp, &v->t);
        if (ret < 0)
            return ret;
        if (tp->has_raw_data && tp->raw_data.data) {
            /* copied: give the parsed bytes back now (protobuf-c's default allocator is malloc) */
            free(tp->raw_data.data);
            gp->initializer[i]->raw_data.data = NULL;
            gp->initializer[i]->raw_data.len = 0;
        }
        v->is_const = 1;
        v->shape_known = 1;
        g->nparams += nn_tensor_numel(&v->t);
    }
    if (!(g->inputs = malloc((gp->n_input + 1) * sizeof(int))) ||
        !(g->outputs = malloc((gp->n_output + 1) * sizeof(int))))
        return oom(c);
    for (size_t i = 0; i < gp->n_input; i++) {
        const char *nm = gp->input[i]->name ? gp->input[i]->name : "";
        if (!nm[0])
            return fp_errorf(c->e, FP_EMODEL, "%s: load: graph input %zu has no name", c->name, i);
        int id = value_get(c, nm);
        if (id < 0)
            return oom(c);
        /* IR < 4 lists initializers among inputs too: those stay constants, not user inputs. */
        if (g->values[id].is_const)
            continue;
        if (g->values[id].is_input)
            return fp_errorf(c->e, FP_EMODEL, "%s: load: graph input '%s' is listed twice", c->name, nm);
        int ret = value_info(c, gp->input[i], id, "input");
        if (ret < 0)
            return ret;
        g->values[id].is_input = 1;
        g->inputs[g->ninputs++] = id;
    }
    scope top = { 0 };
    int ret = add_nodes(c, &top, gp->node, gp->n_node);
    if (ret < 0)
        return ret;
    for (size_t i = 0; i < gp->n_output; i++) {
        const char *nm = gp->output[i]->name ? gp->output[i]->name : "";
        int id = value_find(c, nm);
        if (id < 0 || (g->values[id].producer < 0 && !g->values[id].is_input && !g->values[id].is_const))
            return fp_errorf(c->e, FP_EMODEL, "%s: load: graph output '%s' is not produced by any node",
                             c->name, nm);
        /* The declared type of an output is informative (checked against inference by the planner). */
        nn_tensor keep = g->values[id].t;
        int keep_known = g->values[id].shape_known;
        if (!g->values[id].is_const && !g->values[id].is_input) {
            ret = value_info(c, gp->output[i], id, "output");
            if (ret < 0)
                return ret;
        } else {
            g->values[id].t = keep;
            g->values[id].shape_known = keep_known;
        }
        g->values[id].is_output = 1;
        g->outputs[g->noutputs++] = id;
    }
    if (!g->noutputs)
        return fp_errorf(c->e, FP_EMODEL, "%s: load: the graph has no outputs", c->name);
    return sort_and_prune(c);
}

/* Load from buf; when owned_buf is set it is freed as soon as it has been parsed, so a model's bytes
 * are not held three times (file, parsed message, tensors) at the peak. */
static int load_buf(void *owned_buf, const void *buf, size_t len, const char *name, const char *dir,
                    nn_graph **out, fp_err *e);

int nn_graph_load_mem(const void *buf, size_t len, const char *name, const char *dir, nn_graph **out, fp_err *e)
{
    return load_buf(NULL, buf, len, name, dir, out, e);
}

static int load_buf(void *owned_buf, const void *buf, size_t len, const char *name, const char *dir,
                    nn_graph **out, fp_err *e)
{
    *out = NULL;
    if (!name)
        name = "model";
    nn_graph *g = calloc(1, sizeof(*g));
    if (g) {
        g->path = strdup(name);
        g->dir = dir ? strdup(dir) : NULL;
    }
    if (!g || !g->path || (dir && !g->dir)) {
        int r = fp_errorf(e, FP_ENOMEM, "%s: load: out of memory", name);
        nn_graph_freep(&g);
        free(owned_buf);
        return r;
    }
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, len, buf);
    free(owned_buf);
    if (!m) {
        nn_graph_freep(&g);
        return fp_errorf(e, FP_EMODEL, "%s: load: not a valid ONNX protobuf (truncated or corrupt file)", name);
    }
    load_ctx c = { .name = g->path, .dir = g->dir, .g = g, .e = e };
    int ret = build(&c, m);
    onnx__model_proto__free_unpacked(m, NULL);
    free(c.hash);
    if (ret < 0) {
        nn_graph_freep(&g);
        return ret;
    }
    *out = g;
    return 0;
}

static int read_file(const char *path, void **buf, size_t *len, fp_err *e)
{
    *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fp_errorf(e, FP_EINPUT, "%s: load: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fp_errorf(e, FP_EINPUT, "%s: load: not a regular file", path);
    }
    if ((uint64_t)st.st_size > NN_MAX_MODEL_BYTES) {
        close(fd);
        return fp_errorf(e, FP_EMODEL, "%s: load: file is %lld bytes, larger than protobuf's 2 GiB limit "
                         "(store weights as external data)", path, (long long)st.st_size);
    }
    size_t n = (size_t)st.st_size;
    char *b = malloc(n ? n : 1);
    if (!b) {
        close(fd);
        return fp_errorf(e, FP_ENOMEM, "%s: load: out of memory reading %zu bytes", path, n);
    }
    size_t done = 0;
    while (done < n) {
        ssize_t r = read(fd, b + done, n - done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            free(b);
            close(fd);
            return fp_errorf(e, FP_EINPUT, "%s: load: read failed: %s", path, r < 0 ? strerror(errno) : "short read");
        }
        done += (size_t)r;
    }
    close(fd);
    *buf = b;
    *len = n;
    return 0;
}

int nn_graph_load(const char *path, nn_graph **out, fp_err *e)
{
    void *buf;
    size_t len;
    *out = NULL;
    int ret = read_file(path, &buf, &len, e);
    if (ret < 0)
        return ret;
    char *dir = strdup(path);
    if (!dir) {
        free(buf);
        return fp_errorf(e, FP_ENOMEM, "%s: load: out of memory", path);
    }
    char *slash = strrchr(dir, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == dir)
        dir[1] = 0;
    else
        *slash = 0;
    ret = load_buf(buf, buf, len, path, dir, out, e); /* frees buf */
    free(dir);
    return ret;
}

void nn_graph_freep(nn_graph **pg)
{
    nn_graph *g = pg ? *pg : NULL;
    if (!g)
        return;
    for (int i = 0; i < g->nnodes; i++) {
        nn_node *n = &g->nodes[i];
        free(n->name);
        free(n->op_type);
        free(n->domain);
        free(n->inputs);
        free(n->outputs);
        nn_attrs_free(n->attrs, n->nattr);
    }
    free(g->nodes);
    for (int i = 0; i < g->nvalues; i++) {
        nn_value *v = &g->values[i];
        free(v->name);
        for (int k = 0; k < NN_MAX_DIMS; k++)
            free(v->dim_names[k]);
        nn_tensor_free(&v->t);
    }
    free(g->values);
    free(g->inputs);
    free(g->outputs);
    free(g->path);
    free(g->dir);
    free(g->producer);
    free(g);
    *pg = NULL;
}

int nn_graph_check_ops(const nn_graph *g, fp_err *e)
{
    for (int i = 0; i < g->nnodes; i++) {
        const nn_node *n = &g->nodes[i];
        if (n->def)
            continue;
        const nn_op_def *any = nn_op_find(n->domain, n->op_type);
        if (any)
            return fp_errorf(e, FP_EUNSUPPORTED, "%s: load: node '%s' (%s): the runtime implements %s from "
                             "opset %d, the model uses opset %d", g->path, n->name, n->op_type, n->op_type,
                             any->min_opset, n->opset);
        return fp_errorf(e, FP_EUNSUPPORTED, "%s: load: node '%s' (%s%s%s): operator not supported", g->path,
                         n->name, n->domain[0] ? n->domain : "", n->domain[0] ? "." : "", n->op_type);
    }
    return 0;
}

int nn_tensor_load_pb(const char *path, nn_tensor *t, char **name, fp_err *e)
{
    void *buf;
    size_t len;
    memset(t, 0, sizeof(*t));
    if (name)
        *name = NULL;
    int ret = read_file(path, &buf, &len, e);
    if (ret < 0)
        return ret;
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, buf);
    free(buf);
    if (!tp)
        return fp_errorf(e, FP_EINPUT, "%s: load: not a valid TensorProto (truncated or corrupt)", path);
    load_ctx c = { .name = path, .dir = NULL, .e = e };
    ret = tensor_from_proto(&c, "tensor", tp, t);
    if (!ret && name && tp->name && !(*name = strdup(tp->name))) {
        nn_tensor_free(t);
        ret = fp_errorf(e, FP_ENOMEM, "%s: load: out of memory", path);
    }
    onnx__tensor_proto__free_unpacked(tp, NULL);
    return ret;
}
