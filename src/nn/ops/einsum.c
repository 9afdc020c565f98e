/*
 * einsum — CPU kernel of Einsum: any number of operands, explicit ("ij,jk->ik") and implicit
 * ("ij,jk") outputs, repeated labels within an operand (diagonals), and "..." broadcast dims.
 *
 * Owns the op def and the equation parser. The kernel is the plain definition: for every output
 * element, sum over all contracted labels of the product of the operands, accumulating in double
 * (float types) or int64 (integers). It is the reference, not a fast path: an einsum that is really a
 * large matrix product costs O(product of all label sizes) here; exporters rarely emit those (PyTorch
 * lowers matmul-like einsums to MatMul). Does not own registration.
 */
#include "nn/ops/opsa_util.h"

#include <string.h>

#define EIN_LABELS 52          /* a-z, A-Z */
#define EIN_MAXL (EIN_LABELS + NN_MAX_DIMS)
#define EIN_MAXIN 8

typedef struct ein_plan {
    int nin;
    int rank[EIN_MAXIN];
    int lab[EIN_MAXIN][NN_MAX_DIMS]; /* label id per axis of each operand */
    int nout;
    int out[NN_MAX_DIMS];            /* output label ids */
    int nsum;
    int sum[EIN_MAXL];               /* contracted label ids */
    int64_t size[EIN_MAXL];
} ein_plan;

static int ein_label(char c)
{
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= 'A' && c <= 'Z')
        return 26 + c - 'A';
    return -1;
}

/* Parse one term (operand or output) into label ids; ellipsis dims get ids EIN_LABELS + k, right
 * aligned to `eldims`. Returns the number of axes or -1. *has_ell set when "..." appears. */
static int ein_term(const char *s, const char *end, int ell_rank, int eldims, int *ids, int *has_ell)
{
    int n = 0;
    *has_ell = 0;
    while (s < end) {
        if (*s == ' ') {
            s++;
            continue;
        }
        if (*s == '.') {
            if (end - s < 3 || s[1] != '.' || s[2] != '.' || *has_ell)
                return -1;
            *has_ell = 1;
            for (int k = 0; k < ell_rank; k++) {
                if (n >= NN_MAX_DIMS)
                    return -1;
                ids[n++] = EIN_LABELS + eldims - ell_rank + k;
            }
            s += 3;
            continue;
        }
        int id = ein_label(*s++);
        if (id < 0 || n >= NN_MAX_DIMS)
            return -1;
        ids[n++] = id;
    }
    return n;
}

static int ein_count_letters(const char *s, const char *end)
{
    int n = 0;
    for (; s < end; s++)
        n += ein_label(*s) >= 0;
    return n;
}

static int ein_parse(const nn_node *n, nn_tensor *const *in, int nin, ein_plan *p, fp_err *e)
{
    const char *eq = nn_attr_str(n, "equation", NULL);
    if (!eq)
        return nn_node_error(e, n, FP_EMODEL, "attribute 'equation' is required");
    if (nin < 1 || nin > EIN_MAXIN)
        return nn_node_error(e, n, FP_EUNSUPPORTED, "%d operands (1..%d supported)", nin, EIN_MAXIN);
    memset(p, 0, sizeof(*p));
    p->nin = nin;
    const char *arrow = strstr(eq, "->"), *lhs_end = arrow ? arrow : eq + strlen(eq);
    /* ellipsis rank: the most dims any operand's "..." stands for */
    int eldims = 0, used[EIN_MAXL] = { 0 }, count[EIN_MAXL] = { 0 };
    const char *s = eq;
    for (int k = 0; k < nin; k++) {
        const char *t = memchr(s, ',', (size_t)(lhs_end - s));
        const char *te = k == nin - 1 ? lhs_end : t;
        if (!te || (k == nin - 1 && t))
            return nn_node_error(e, n, FP_EMODEL, "equation '%s' does not have %d operands", eq, nin);
        if (!in[k])
            return nn_node_error(e, n, FP_EMODEL, "operand %d is missing", k);
        int letters = ein_count_letters(s, te), er = in[k]->ndim - letters;
        int has_ell = memchr(s, '.', (size_t)(te - s)) != NULL;
        if (er < 0 || (!has_ell && er != 0))
            return nn_node_error(e, n, FP_EMODEL, "operand %d has rank %d, equation term needs %d", k, in[k]->ndim,
                                 letters);
        if (er > eldims)
            eldims = er;
        s = te + 1;
    }
    s = eq;
    for (int k = 0; k < nin; k++) {
        const char *te = k == nin - 1 ? lhs_end : memchr(s, ',', (size_t)(lhs_end - s));
        int letters = ein_count_letters(s, te), he;
        int r = ein_term(s, te, in[k]->ndim - letters, eldims, p->lab[k], &he);
        if (r != in[k]->ndim)
            return nn_node_error(e, n, FP_EMODEL, "cannot parse operand %d of '%s'", k, eq);
        p->rank[k] = r;
        for (int a = 0; a < r; a++) {
            int id = p->lab[k][a];
            int64_t dim = in[k]->dims[a];
            if (!used[id] || p->size[id] == 1)
                p->size[id] = dim;
            else if (dim != p->size[id] && !(id >= EIN_LABELS && dim == 1))
                return nn_node_error(e, n, FP_EMODEL, "label of operand %d axis %d has size %lld, elsewhere %lld", k,
                                     a, (long long)dim, (long long)p->size[id]);
            used[id] = 1;
            count[id]++;
        }
        s = te + 1;
    }
    if (arrow) {
        int he;
        p->nout = ein_term(arrow + 2, arrow + 2 + strlen(arrow + 2), eldims, eldims, p->out, &he);
        if (p->nout < 0)
            return nn_node_error(e, n, FP_EMODEL, "cannot parse the output of '%s'", eq);
        for (int a = 0; a < p->nout; a++) {
            if (!used[p->out[a]])
                return nn_node_error(e, n, FP_EMODEL, "output label not in any operand in '%s'", eq);
            for (int b = 0; b < a; b++)
                if (p->out[b] == p->out[a])
                    return nn_node_error(e, n, FP_EMODEL, "output label repeated in '%s'", eq);
        }
    } else {
        /* implicit: ellipsis dims, then labels seen exactly once, alphabetically */
        for (int k = 0; k < eldims; k++)
            p->out[p->nout++] = EIN_LABELS + k;
        for (int q = 0; q < EIN_LABELS; q++) {
            int id = (q + 26) % EIN_LABELS; /* ASCII order: A-Z before a-z, as numpy */
            if (count[id] == 1) {
                if (p->nout >= NN_MAX_DIMS)
                    return nn_node_error(e, n, FP_EUNSUPPORTED, "output rank above %d", NN_MAX_DIMS);
                p->out[p->nout++] = id;
            }
        }
    }
    for (int id = 0; id < EIN_MAXL; id++) {
        int in_out = 0;
        for (int a = 0; a < p->nout; a++)
            in_out |= p->out[a] == id;
        if (used[id] && !in_out)
            p->sum[p->nsum++] = id;
    }
    return 0;
}

static int einsum_infer(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                        fp_err *e)
{
    ein_plan p;
    int64_t dims[NN_MAX_DIMS];
    int ret = ein_parse(n, in, nin, &p, e);
    if (ret < 0)
        return ret;
    for (int k = 1; k < nin; k++)
        if (in[k]->dtype != in[0]->dtype)
            return nn_node_error(e, n, FP_EMODEL, "operand dtypes differ");
    if (!opsa_dt_is_numeric(in[0]->dtype))
        return nn_node_error(e, n, FP_EUNSUPPORTED, "dtype %s", nn_dtype_name(in[0]->dtype));
    for (int a = 0; a < p.nout; a++)
        dims[a] = p.size[p.out[a]];
    out[0]->dtype = in[0]->dtype;
    return opsa_set_shape(n, e, out[0], p.nout, dims);
}

static int einsum_cpu(const nn_node *n, nn_tensor *const *in, int nin, nn_tensor **out, int nout,
                      nn_cpu_ctx *ctx, fp_err *e)
{
    ein_plan p;
    int ret = ein_parse(n, in, nin, &p, e);
    if (ret < 0)
        return ret;
    /* stride of each label in each operand (0 where absent or broadcast; summed for diagonals) */
    int64_t st[EIN_MAXIN][EIN_MAXL];
    memset(st, 0, sizeof(st));
    for (int k = 0; k < nin; k++) {
        int64_t s = 1;
        for (int a = p.rank[k] - 1; a >= 0; a--) {
            if (in[k]->dims[a] != 1 || p.size[p.lab[k][a]] == 1)
                st[k][p.lab[k][a]] += s;
            s *= in[k]->dims[a];
        }
    }
    nn_dtype t = in[0]->dtype;
    int isf = opsa_dt_is_float(t);
    int64_t total = nn_tensor_numel(out[0]), nsum = 1;
    for (int j = 0; j < p.nsum; j++)
        nsum *= p.size[p.sum[j]];
    int64_t oc[NN_MAX_DIMS] = { 0 };
    for (int64_t o = 0; o < total; o++) {
        int64_t base[EIN_MAXIN] = { 0 };
        for (int k = 0; k < nin; k++)
            for (int a = 0; a < p.nout; a++)
                base[k] += oc[a] * st[k][p.out[a]];
        double accf = 0;
        int64_t acci = 0;
        int64_t sc[EIN_MAXL] = { 0 };
        for (int64_t r = 0; r < nsum; r++) {
            double pf = 1;
            int64_t pi = 1;
            for (int k = 0; k < nin; k++) {
                int64_t off = base[k];
                for (int j = 0; j < p.nsum; j++)
                    off += sc[j] * st[k][p.sum[j]];
                if (isf)
                    pf *= opsa_load_f64(t, in[k]->data, off);
                else
                    pi = (int64_t)((uint64_t)pi * (uint64_t)opsa_load_i64(t, in[k]->data, off));
            }
            accf += pf;
            acci = (int64_t)((uint64_t)acci + (uint64_t)pi);
            for (int j = p.nsum - 1; j >= 0; j--) {
                if (++sc[j] < p.size[p.sum[j]])
                    break;
                sc[j] = 0;
            }
        }
        if (isf)
            opsa_store_f64(t, out[0]->data, o, accf);
        else
            opsa_store_i64(t, out[0]->data, o, acci);
        for (int a = p.nout - 1; a >= 0; a--) {
            if (++oc[a] < out[0]->dims[a])
                break;
            oc[a] = 0;
        }
    }
    return 0;
}

const nn_op_def nn_op_einsum = { "Einsum", "", 1, einsum_infer, einsum_cpu, 0 };
