/*
 * nn_npy — .npy reader/writer (see nn_npy.h). The header is a Python dict literal; we parse only the
 * three keys numpy writes ('descr', 'fortran_order', 'shape') and refuse anything else we do not
 * understand rather than guessing.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_npy.h"

static const struct {
    const char *descr;
    nn_dtype dt;
} npy_types[] = {
    { "f4", NN_DT_FLOAT }, { "f2", NN_DT_FLOAT16 }, { "f8", NN_DT_DOUBLE }, { "i8", NN_DT_INT64 },
    { "i4", NN_DT_INT32 }, { "i2", NN_DT_INT16 },   { "i1", NN_DT_INT8 },   { "u1", NN_DT_UINT8 },
    { "u2", NN_DT_UINT16 }, { "u4", NN_DT_UINT32 }, { "u8", NN_DT_UINT64 }, { "b1", NN_DT_BOOL },
};

static const char *find_key(const char *h, const char *key)
{
    const char *p = strstr(h, key);
    if (!p)
        return NULL;
    p += strlen(key);
    while (*p == ' ')
        p++;
    if (*p != ':')
        return NULL;
    p++;
    while (*p == ' ')
        p++;
    return p;
}

int nn_npy_read(const char *path, nn_tensor *t, fp_err *e)
{
    memset(t, 0, sizeof(*t));
    FILE *f = fopen(path, "rb");
    if (!f)
        return fp_errorf(e, FP_EINPUT, "%s: npy: cannot open: %s", path, strerror(errno));
    unsigned char pre[12];
    int ret = 0;
    char *h = NULL;
    if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6)) {
        ret = fp_errorf(e, FP_EINPUT, "%s: npy: not a .npy file (bad magic)", path);
        goto done;
    }
    int major = pre[6];
    size_t hlen;
    if (major == 1) {
        hlen = pre[8] | (size_t)pre[9] << 8;
    } else if (major == 2 || major == 3) {
        if (fread(pre + 10, 1, 2, f) != 2) {
            ret = fp_errorf(e, FP_EINPUT, "%s: npy: truncated header", path);
            goto done;
        }
        hlen = pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
    } else {
        ret = fp_errorf(e, FP_EUNSUPPORTED, "%s: npy: format version %d is not supported", path, major);
        goto done;
    }
    if (hlen > (1 << 20)) {
        ret = fp_errorf(e, FP_EINPUT, "%s: npy: header length %zu is implausible", path, hlen);
        goto done;
    }
    h = malloc(hlen + 1);
    if (!h || fread(h, 1, hlen, f) != hlen) {
        ret = fp_errorf(e, h ? FP_EINPUT : FP_ENOMEM, "%s: npy: %s", path, h ? "truncated header" : "out of memory");
        goto done;
    }
    h[hlen] = 0;
    const char *d = find_key(h, "'descr'");
    const char *fo = find_key(h, "'fortran_order'");
    const char *sh = find_key(h, "'shape'");
    if (!d || !fo || !sh || (*d != '\'' && *d != '"')) {
        ret = fp_errorf(e, FP_EINPUT, "%s: npy: malformed header", path);
        goto done;
    }
    char q = *d++;
    const char *dend = strchr(d, q);
    if (!dend || dend - d < 3 || dend - d > 3) {
        ret = fp_errorf(e, FP_EUNSUPPORTED, "%s: npy: dtype '%.*s' is not supported", path,
                        dend ? (int)(dend - d) : 8, d);
        goto done;
    }
    if (d[0] == '>') {
        ret = fp_errorf(e, FP_EUNSUPPORTED, "%s: npy: big-endian data is not supported (use "
                        "arr.astype(arr.dtype.newbyteorder('<')))", path);
        goto done;
    }
    if (d[0] != '<' && d[0] != '|' && d[0] != '=') {
        ret = fp_errorf(e, FP_EINPUT, "%s: npy: malformed dtype '%.3s'", path, d);
        goto done;
    }
    t->dtype = NN_DT_UNDEFINED;
    for (size_t i = 0; i < sizeof(npy_types) / sizeof(npy_types[0]); i++)
        if (!strncmp(d + 1, npy_types[i].descr, 2))
            t->dtype = npy_types[i].dt;
    if (!t->dtype) {
        ret = fp_errorf(e, FP_EUNSUPPORTED, "%s: npy: dtype '%.3s' is not supported", path, d);
        goto done;
    }
    if (!strncmp(fo, "True", 4)) {
        ret = fp_errorf(e, FP_EUNSUPPORTED, "%s: npy: Fortran-order arrays are not supported (use "
                        "np.ascontiguousarray)", path);
        goto done;
    }
    if (strncmp(fo, "False", 5)) {
        ret = fp_errorf(e, FP_EINPUT, "%s: npy: malformed fortran_order", path);
        goto done;
    }
    if (*sh != '(') {
        ret = fp_errorf(e, FP_EINPUT, "%s: npy: malformed shape", path);
        goto done;
    }
    sh++;
    t->ndim = 0;
    for (;;) {
        while (*sh == ' ' || *sh == ',')
            sh++;
        if (*sh == ')')
            break;
        if (!isdigit((unsigned char)*sh)) {
            ret = fp_errorf(e, FP_EINPUT, "%s: npy: malformed shape", path);
            goto done;
        }
        if (t->ndim == NN_MAX_DIMS) {
            ret = fp_errorf(e, FP_EUNSUPPORTED, "%s: npy: rank above %d is not supported", path, NN_MAX_DIMS);
            goto done;
        }
        errno = 0;
        char *end;
        long long v = strtoll(sh, &end, 10);
        if (errno || v < 0) {
            ret = fp_errorf(e, FP_EINPUT, "%s: npy: bad dimension", path);
            goto done;
        }
        t->dims[t->ndim++] = v;
        sh = end;
        while (*sh == 'L' || *sh == ' ')
            sh++;
        if (*sh != ',' && *sh != ')') {
            ret = fp_errorf(e, FP_EINPUT, "%s: npy: malformed shape", path);
            goto done;
        }
    }
    if (nn_tensor_numel(t) < 0 || (!nn_tensor_nbytes(t) && nn_tensor_numel(t) > 0)) {
        ret = fp_errorf(e, FP_EINPUT, "%s: npy: shape overflows", path);
        goto done;
    }
    size_t nb = nn_tensor_nbytes(t);
    /* Compare with the file's size before allocating, so a lying header cannot size an allocation. */
    long pos = ftell(f);
    if (fseek(f, 0, SEEK_END) < 0) {
        ret = fp_errorf(e, FP_EINPUT, "%s: npy: cannot seek", path);
        goto done;
    }
    long endpos = ftell(f);
    if (pos < 0 || endpos < pos || (unsigned long)(endpos - pos) < nb) {
        ret = fp_errorf(e, FP_EINPUT, "%s: npy: truncated: header says %zu data bytes, file has %ld", path, nb,
                        endpos - pos);
        goto done;
    }
    fseek(f, pos, SEEK_SET);
    if (nn_tensor_alloc(t) < 0) {
        ret = fp_errorf(e, FP_ENOMEM, "%s: npy: out of memory (%zu bytes)", path, nb);
        goto done;
    }
    if (nb && fread(t->data, 1, nb, f) != nb) {
        ret = fp_errorf(e, FP_EINPUT, "%s: npy: read failed", path);
        goto done;
    }
done:
    free(h);
    fclose(f);
    if (ret < 0) {
        nn_tensor_free(t);
        memset(t, 0, sizeof(*t));
    }
    return ret;
}

int nn_npy_write(const char *path, const nn_tensor *t, fp_err *e)
{
    const char *descr = NULL;
    for (size_t i = 0; i < sizeof(npy_types) / sizeof(npy_types[0]); i++)
        if (npy_types[i].dt == t->dtype)
            descr = npy_types[i].descr;
    if (!descr)
        return fp_errorf(e, FP_EUNSUPPORTED, "%s: npy: %s cannot be stored in .npy", path, nn_dtype_name(t->dtype));
    char dict[512];
    size_t o = snprintf(dict, sizeof(dict), "{'descr': '%c%s', 'fortran_order': False, 'shape': (",
                        nn_dtype_size(t->dtype) == 1 ? '|' : '<', descr);
    for (int i = 0; i < t->ndim; i++)
        o += snprintf(dict + o, sizeof(dict) - o, "%lld,%s", (long long)t->dims[i],
                      i + 1 < t->ndim ? " " : "");
    if (t->ndim > 1)
        o--; /* numpy writes (2, 3) but (5,) */
    o += snprintf(dict + o, sizeof(dict) - o, "), }");
    /* total header (magic 10 bytes + dict + padding + '\n') is a multiple of 64 */
    size_t total = 10 + o + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = o + pad + 1;
    FILE *f = fopen(path, "wb");
    if (!f)
        return fp_errorf(e, FP_EOUTPUT, "%s: npy: cannot create: %s", path, strerror(errno));
    unsigned char pre[10] = { 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                              (unsigned char)(hlen >> 8) };
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(dict, 1, o, f) == o;
    for (size_t i = 0; ok && i < pad; i++)
        ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF;
    size_t nb = nn_tensor_nbytes(t);
    if (ok && nb)
        ok = fwrite(t->data, 1, nb, f) == nb;
    if (fclose(f) != 0)
        ok = 0;
    if (!ok)
        return fp_errorf(e, FP_EOUTPUT, "%s: npy: write failed: %s", path, strerror(errno));
    return 0;
}
