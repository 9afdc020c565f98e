/*
 * matte — RVM-style model, interface check, fp16 boundary and recurrent state. See matte.h.
 *
 * The state lives in tensors the runtime allocated for the previous frame's r1o..r4o outputs (host
 * memory); they are handed back as r1i..r4i, so an fp16 model's state stays fp16 and is never
 * converted. Inputs and outputs are matched by name, not position: exporters order them differently.
 */
#include "tasks/matte.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/fp_log.h"
#include "nn/nn_tensor.h"

#ifdef FP_HAVE_CUDA
#include <cuda_runtime_api.h>
#endif

enum { IN_SRC, IN_R1, IN_R2, IN_R3, IN_R4, IN_RATIO, IN_COUNT };
enum { OUT_FGR, OUT_PHA, OUT_R1, OUT_R2, OUT_R3, OUT_R4, OUT_COUNT };

static const char *const in_names[IN_COUNT] = { "src", "r1i", "r2i", "r3i", "r4i", "downsample_ratio" };
static const char *const out_names[OUT_COUNT] = { "fgr", "pha", "r1o", "r2o", "r3o", "r4o" };

struct fp_matte {
    fp_matte_opts o;
    char *path;
    fp_model *model;
    const char *backend;
    int compute_fp16;
    fp_dtype dt;              /* src, states, fgr, pha */
    fp_dtype ratio_dt;
    int ratio_ndim;
    int64_t fixed_n, fixed_h, fixed_w; /* src's declared N, H and W; -1 when dynamic */
    int in_pos[IN_COUNT];     /* our slot -> model input index */
    int out_pos[OUT_COUNT];
    fp_tensor state[4];       /* r1..r4 of the last frame (owned by the runtime: fp_tensor_free) */
    uint32_t zero[4];         /* the [1,1,1,1] zero state of the first frame (fp16 or fp32 zero) */
    uint16_t *src16;          /* fp16 staging of src */
    /* device-resident runs (fp_matte_run_device): state sets [cur] (read) and [!cur] (written) */
    void *dstate[2][4];
    size_t dcap[2][4];
    int64_t ddims[2][4][4];
    int dcur, dvalid;
    void *dzero;              /* four zero elements: the [1,1,1,1] state of the first frame */
    size_t src16_n;
    int64_t frames;
};

void fp_matte_opts_default(fp_matte_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->backend = "auto";
    o->fp16 = -1;
}

double fp_matte_auto_ratio(int w, int h)
{
    int mx = w > h ? w : h;
    double r;
    if (mx <= 0)
        return 1.0;
    r = 512.0 / mx;
    if (r >= 1.0)
        return 1.0;
    r = floor(r * 16.0 + 1e-9) / 16.0;
    return r < 1.0 / 16 ? 1.0 / 16 : r;
}

double fp_matte_ratio_for(const fp_matte *m, int w, int h)
{
    return m->o.downsample_ratio > 0 ? m->o.downsample_ratio : fp_matte_auto_ratio(w, h);
}

const char *fp_matte_backend(const fp_matte *m) { return m->backend; }
int fp_matte_model_fp16(const fp_matte *m) { return m->dt == FP_DTYPE_FLOAT16; }
int fp_matte_compute_fp16(const fp_matte *m) { return m->compute_fp16; }
int64_t fp_matte_frames(const fp_matte *m) { return m->frames; }

static int is_float(fp_dtype t) { return t == FP_DTYPE_FLOAT32 || t == FP_DTYPE_FLOAT16; }

/* The interface check: names, ranks, dtypes. Every refusal is FP_EMODEL naming the model. */
static int check_interface(fp_matte *m, fp_err *e)
{
    const char *p = m->path;
    int nin = fp_model_num_inputs(m->model), nout = fp_model_num_outputs(m->model);
    fp_value_info vi;

    for (int k = 0; k < IN_COUNT; k++)
        m->in_pos[k] = -1;
    for (int k = 0; k < OUT_COUNT; k++)
        m->out_pos[k] = -1;
    for (int i = 0; i < nin; i++) {
        int k;
        fp_model_input_info(m->model, i, &vi);
        for (k = 0; k < IN_COUNT && strcmp(vi.name, in_names[k]); k++)
            ;
        if (k == IN_COUNT)
            return fp_errorf(e, FP_EMODEL,
                             "%s: interface: unexpected input '%s' (an RVM-style matting model has inputs src, r1i, "
                             "r2i, r3i, r4i, downsample_ratio)", p, vi.name);
        m->in_pos[k] = i;
    }
    for (int k = 0; k < IN_COUNT; k++)
        if (m->in_pos[k] < 0)
            return fp_errorf(e, FP_EMODEL,
                             "%s: interface: no input '%s' (an RVM-style matting model has inputs src, r1i, r2i, "
                             "r3i, r4i, downsample_ratio)", p, in_names[k]);
    for (int i = 0; i < nout; i++) {
        fp_model_output_info(m->model, i, &vi);
        for (int k = 0; k < OUT_COUNT; k++)
            if (!strcmp(vi.name, out_names[k]))
                m->out_pos[k] = i;
    }
    for (int k = 0; k < OUT_COUNT; k++)
        if (m->out_pos[k] < 0)
            return fp_errorf(e, FP_EMODEL,
                             "%s: interface: no output '%s' (an RVM-style matting model has outputs fgr, pha, r1o, "
                             "r2o, r3o, r4o)", p, out_names[k]);

    fp_model_input_info(m->model, m->in_pos[IN_SRC], &vi);
    if (!is_float(vi.dtype))
        return fp_errorf(e, FP_EMODEL, "%s: interface: input 'src' is %s; expected float32 or float16", p,
                         fp_dtype_name(vi.dtype));
    if (vi.ndim != -1 && (vi.ndim != 4 || (vi.dims[1] != 3 && vi.dims[1] != -1) || (vi.dims[0] > 1)))
        return fp_errorf(e, FP_EMODEL, "%s: interface: input 'src' must be [1,3,H,W] (rank %d declared)", p,
                         vi.ndim);
    m->dt = vi.dtype;
    m->fixed_n = vi.ndim == 4 ? vi.dims[0] : -1;
    m->fixed_h = vi.ndim == 4 ? vi.dims[2] : -1;
    m->fixed_w = vi.ndim == 4 ? vi.dims[3] : -1;
    for (int k = IN_R1; k <= IN_R4; k++) {
        fp_model_input_info(m->model, m->in_pos[k], &vi);
        if (vi.dtype != m->dt)
            return fp_errorf(e, FP_EMODEL, "%s: interface: input '%s' is %s but 'src' is %s", p, in_names[k],
                             fp_dtype_name(vi.dtype), fp_dtype_name(m->dt));
        if (vi.ndim != -1 && vi.ndim != 4)
            return fp_errorf(e, FP_EMODEL, "%s: interface: recurrent input '%s' has rank %d; expected 4", p,
                             in_names[k], vi.ndim);
    }
    fp_model_input_info(m->model, m->in_pos[IN_RATIO], &vi);
    if (!is_float(vi.dtype))
        return fp_errorf(e, FP_EMODEL, "%s: interface: input 'downsample_ratio' is %s; expected float32 or float16",
                         p, fp_dtype_name(vi.dtype));
    if (vi.ndim > 1 || (vi.ndim == 1 && vi.dims[0] != 1 && vi.dims[0] != -1))
        return fp_errorf(e, FP_EMODEL, "%s: interface: input 'downsample_ratio' must hold one value", p);
    m->ratio_dt = vi.dtype;
    m->ratio_ndim = vi.ndim < 0 ? 1 : vi.ndim;
    for (int k = 0; k < OUT_COUNT; k++) {
        fp_model_output_info(m->model, m->out_pos[k], &vi);
        if (vi.dtype != m->dt)
            return fp_errorf(e, FP_EMODEL, "%s: interface: output '%s' is %s but 'src' is %s", p, out_names[k],
                             fp_dtype_name(vi.dtype), fp_dtype_name(m->dt));
        if (vi.ndim != -1 && vi.ndim != 4)
            return fp_errorf(e, FP_EMODEL, "%s: interface: output '%s' has rank %d; expected 4", p, out_names[k],
                             vi.ndim);
    }
    return 0;
}

static int load(fp_matte *m, const char *backend, fp_err *e)
{
    fp_model_opts mo = { 0 };
    mo.backend = backend;
    mo.threads = m->o.threads;
    mo.device_id = m->o.device_id;
    mo.allow_cpu_fallback = 1;
    mo.fp16 = !strcmp(backend, "cuda") && m->o.fp16 != 0;
    m->compute_fp16 = mo.fp16;
    return fp_model_load(m->path, &mo, &m->model, e);
}

int fp_matte_open(fp_matte **pm, const fp_matte_opts *o, fp_err *e)
{
    fp_matte *m;
    fp_err le;
    const char *be = o->backend ? o->backend : "auto";
    int ret;

    *pm = NULL;
    if (!o->model || !*o->model)
        return fp_errorf(e, FP_EINVAL, "matte: --model is required");
    if (strcmp(be, "auto") && strcmp(be, "cpu") && strcmp(be, "cuda"))
        return fp_errorf(e, FP_EINVAL, "matte: --backend must be auto, cpu or cuda (not '%s')", be);
    if (o->downsample_ratio < 0 || o->downsample_ratio > 1 || isnan(o->downsample_ratio))
        return fp_errorf(e, FP_EINVAL, "matte: --downsample-ratio must be in (0, 1]");
    m = calloc(1, sizeof(*m));
    if (!m || !(m->path = strdup(o->model))) {
        free(m);
        return fp_errorf(e, FP_ENOMEM, "matte: out of memory");
    }
    m->o = *o;
    m->o.model = m->path;
    m->o.backend = NULL;
    fp_err_clear(&le);
#ifndef FP_HAVE_CUDA
    if (!strcmp(be, "auto"))
        be = "cpu"; /* no CUDA in this build: nothing to try */
#endif
    if (!strcmp(be, "cpu")) {
        ret = load(m, "cpu", &le);
    } else {
        ret = load(m, "cuda", &le);
        /* Fall back only when the GPU is the problem; a bad model fails the same on the CPU. */
        if (ret < 0 && !strcmp(be, "auto") && (ret == FP_EDEVICE || ret == FP_EINVAL || ret == FP_EUNSUPPORTED)) {
            fp_log(FP_LOG_INFO, "matte", "%s: CUDA backend not usable (%s); using the CPU", m->path, le.msg);
            fp_err_clear(&le);
            ret = load(m, "cpu", &le);
            be = "cpu";
        } else if (ret < 0 && (ret == FP_EDEVICE || ret == FP_EINVAL)) {
            ret = fp_errorf(e, FP_EDEVICE, "%s: load: --backend cuda: %s", m->path, le.msg);
            fp_matte_freep(&m);
            return ret;
        } else {
            be = "cuda";
        }
    }
    if (ret < 0) {
        /* Whatever made the model unusable (missing, malformed, unsupported op) is a model error for
         * this command: exit 6 with the loader's own line. */
        const char *msg = le.msg;
        ret = strstr(msg, m->path) == msg ? fp_errorf(e, FP_EMODEL, "%s", msg)
                                          : fp_errorf(e, FP_EMODEL, "%s: load: %s", m->path, msg);
        fp_matte_freep(&m);
        return ret;
    }
    m->backend = !strcmp(be, "cuda") ? "cuda" : "cpu";
    if (m->o.fp16 == 1 && !strcmp(m->backend, "cpu"))
        fp_log(FP_LOG_WARN, "matte", "%s: --precision fp16 has no effect on the CPU backend (it computes fp32)",
               m->path);
    if ((ret = check_interface(m, e)) < 0) {
        fp_matte_freep(&m);
        return ret;
    }
    *pm = m;
    return 0;
}

int fp_matte_check_size(const fp_matte *m, int w, int h, fp_err *e)
{
    if ((m->fixed_w > 0 && m->fixed_w != w) || (m->fixed_h > 0 && m->fixed_h != h))
        return fp_errorf(e, FP_EMODEL,
                         "%s: interface: the model takes %lldx%lld frames only (fixed input shape); the video is %dx%d",
                         m->path, (long long)m->fixed_w, (long long)m->fixed_h, w, h);
    return 0;
}

static int out_shape_ok(const fp_tensor *t, int64_t n, int c, int w, int h)
{
    return t->ndim == 4 && t->dims[0] == n && t->dims[1] == c && t->dims[2] == h && t->dims[3] == w;
}

void fp_matte_reset(fp_matte *m)
{
    for (int k = 0; k < 4; k++)
        fp_tensor_free(&m->state[k]);
    m->dvalid = 0; /* the device buffers are kept for the next sequence */
    m->frames = 0;
}

int fp_matte_device_ok(const fp_matte *m)
{
#ifdef FP_HAVE_CUDA
    return !strcmp(m->backend, "cuda");
#else
    (void)m;
    return 0;
#endif
}

static void device_free(fp_matte *m)
{
#ifdef FP_HAVE_CUDA
    for (int s = 0; s < 2; s++)
        for (int k = 0; k < 4; k++) {
            cudaFree(m->dstate[s][k]);
            m->dstate[s][k] = NULL;
            m->dcap[s][k] = 0;
        }
    cudaFree(m->dzero);
    m->dzero = NULL;
#else
    (void)m;
#endif
}

int fp_matte_run_device(fp_matte *m, const void *src, int w, int h, void *fgr, void *pha, fp_err *e)
{
    return fp_matte_run_device_batch(m, src, 1, w, h, fgr, pha, e);
}

int fp_matte_run_device_batch(fp_matte *m, const void *src, int nb, int w, int h, void *fgr, void *pha, fp_err *e)
{
#ifndef FP_HAVE_CUDA
    (void)src; (void)nb; (void)w; (void)h; (void)fgr; (void)pha;
    return fp_errorf(e, FP_EUNSUPPORTED, "%s: run: device tensors need a CUDA build", m->path);
#else
    fp_tensor in[IN_COUNT], out[OUT_COUNT];
    size_t esz = fp_dtype_size(m->dt);
    int cur = m->dcur, nxt = !m->dcur, ret;
    float ratio32;
    uint16_t ratio16;
    cudaError_t err;

    if (!fp_matte_device_ok(m))
        return fp_errorf(e, FP_EUNSUPPORTED, "%s: run: device tensors need the cuda backend (this model runs on %s)",
                         m->path, m->backend);
    if (w <= 0 || h <= 0 || nb < 1)
        return fp_errorf(e, FP_EINVAL, "%s: run: empty frame or batch", m->path);
    if (nb > fp_matte_max_batch(m))
        return fp_errorf(e, FP_EUNSUPPORTED, "%s: run: the model takes a batch of %d only (fixed input shape); "
                         "%d asked", m->path, fp_matte_max_batch(m), nb);
    if (m->dvalid && m->ddims[cur][0][0] != nb)
        return fp_errorf(e, FP_EINVAL, "%s: run: batch of %d rows but the device state holds %lld (fp_matte_reset "
                         "first)", m->path, nb, (long long)m->ddims[cur][0][0]);
    if (!m->dzero) {
        if ((err = cudaMalloc(&m->dzero, 16)) != cudaSuccess || (err = cudaMemset(m->dzero, 0, 16)) != cudaSuccess)
            return fp_errorf(e, FP_EDEVICE, "%s: run: %s", m->path, cudaGetErrorString(err));
    }
    memset(in, 0, sizeof(in));
    memset(out, 0, sizeof(out));
    in[m->in_pos[IN_SRC]] = (fp_tensor){ .dtype = m->dt, .ndim = 4, .dims = { nb, 3, h, w }, .data = (void *)src,
                                         .device = FP_DEVICE_CUDA };
    for (int k = 0; k < 4; k++) {
        fp_tensor *t = &in[m->in_pos[IN_R1 + k]];
        if (m->dvalid)
            *t = (fp_tensor){ .dtype = m->dt, .ndim = 4, .data = m->dstate[cur][k], .device = FP_DEVICE_CUDA };
        else
            *t = (fp_tensor){ .dtype = m->dt, .ndim = 4, .dims = { 1, 1, 1, 1 }, .data = (char *)m->dzero + 4 * k,
                              .device = FP_DEVICE_CUDA };
        if (m->dvalid)
            memcpy(t->dims, m->ddims[cur][k], sizeof(m->ddims[cur][k]));
    }
    /* downsample_ratio is a value input: the runtime reads it on the host */
    ratio32 = (float)fp_matte_ratio_for(m, w, h);
    ratio16 = nn_f32_to_f16(ratio32);
    in[m->in_pos[IN_RATIO]] = (fp_tensor){ .dtype = m->ratio_dt, .ndim = m->ratio_ndim, .dims = { 1 },
                                          .data = m->ratio_dt == FP_DTYPE_FLOAT16 ? (void *)&ratio16 : (void *)&ratio32 };
    if ((ret = fp_model_output_shapes(m->model, in, IN_COUNT, out, OUT_COUNT, e)) < 0)
        return ret;
    if (!out_shape_ok(&out[m->out_pos[OUT_FGR]], nb, 3, w, h) || !out_shape_ok(&out[m->out_pos[OUT_PHA]], nb, 1, w, h))
        return fp_errorf(e, FP_EMODEL, "%s: run: outputs fgr/pha are not [%d,3,%d,%d]/[%d,1,%d,%d]", m->path, nb, h, w,
                         nb, h, w);
    out[m->out_pos[OUT_FGR]].data = fgr;
    out[m->out_pos[OUT_PHA]].data = pha;
    for (int k = 0; k < 4; k++) {
        fp_tensor *t = &out[m->out_pos[OUT_R1 + k]];
        size_t nb = esz;
        if (t->ndim != 4)
            return fp_errorf(e, FP_EMODEL, "%s: run: output '%s' has rank %d; expected 4", m->path, out_names[OUT_R1 + k],
                             t->ndim);
        for (int d = 0; d < 4; d++)
            nb *= (size_t)t->dims[d];
        if (m->dcap[nxt][k] < nb) {
            cudaFree(m->dstate[nxt][k]);
            m->dstate[nxt][k] = NULL;
            m->dcap[nxt][k] = 0;
            if ((err = cudaMalloc(&m->dstate[nxt][k], nb)) != cudaSuccess)
                return fp_errorf(e, err == cudaErrorMemoryAllocation ? FP_ENOMEM : FP_EDEVICE,
                                 "%s: run: recurrent state: %s", m->path, cudaGetErrorString(err));
            m->dcap[nxt][k] = nb;
        }
        t->data = m->dstate[nxt][k];
    }
    for (int k = 0; k < OUT_COUNT; k++) {
        out[k].device = FP_DEVICE_CUDA;
        out[k].owned = 0;
    }
    if ((ret = fp_model_run(m->model, in, IN_COUNT, out, OUT_COUNT, e)) < 0)
        return ret;
    for (int k = 0; k < 4; k++)
        memcpy(m->ddims[nxt][k], out[m->out_pos[OUT_R1 + k]].dims, sizeof(m->ddims[nxt][k]));
    m->dcur = nxt;
    m->dvalid = 1;
    m->frames++;
    return 0;
#endif
}

void fp_matte_freep(fp_matte **pm)
{
    fp_matte *m = *pm;
    if (!m)
        return;
    fp_matte_reset(m);
    device_free(m);
    fp_model_freep(&m->model);
    free(m->src16);
    free(m->path);
    free(m);
    *pm = NULL;
}

static void to_f32(float *dst, const fp_tensor *t, size_t n)
{
    if (t->dtype == FP_DTYPE_FLOAT32) {
        memcpy(dst, t->data, n * sizeof(float));
    } else {
        const uint16_t *s = t->data;
        for (size_t i = 0; i < n; i++)
            dst[i] = nn_f16_to_f32(s[i]);
    }
}

int fp_matte_max_batch(const fp_matte *m) { return m->fixed_n == 1 ? 1 : m->fixed_n > 1 ? (int)m->fixed_n : 1 << 16; }

int fp_matte_state_rows(const fp_matte *m) { return m->state[0].data ? (int)m->state[0].dims[0] : 0; }

/* Hand the runtime's output tensor over (dst->data NULL) or convert it into the caller's host fp32
 * buffer. Device buffers were given to the runtime directly and are already written. */
static void deliver(fp_tensor *dst, fp_tensor *t, size_t n)
{
    if (!dst || dst->device != FP_DEVICE_HOST)
        return;
    if (!dst->data) {
        *dst = *t;
        memset(t, 0, sizeof(*t));
        return;
    }
    to_f32(dst->data, t, n);
}

/* A caller's output descriptor: NULL or data NULL (the runtime allocates), host fp32 with room, or a
 * device buffer of the model's dtype and exact shape (handed to the runtime). */
static int out_desc_ok(const fp_matte *m, const fp_tensor *d, int64_t n, int c, int w, int h)
{
    if (!d || !d->data)
        return 1;
    if (d->device == FP_DEVICE_HOST && d->dtype != FP_DTYPE_FLOAT32)
        return 0;
    if (d->device != FP_DEVICE_HOST && d->dtype != m->dt)
        return 0;
    return out_shape_ok(d, n, c, w, h);
}

int fp_matte_run_batch(fp_matte *m, const fp_tensor *src, fp_tensor *fgr, fp_tensor *pha, fp_err *e)
{
    fp_tensor in[IN_COUNT], out[OUT_COUNT];
    int64_t nb, h, w;
    size_t n, all;
    float ratio32;
    uint16_t ratio16;
    int ret, host = src->device == FP_DEVICE_HOST;

    if (src->ndim != 4 || src->dims[1] != 3 || src->dims[0] < 1 || src->dims[2] < 1 || src->dims[3] < 1 || !src->data)
        return fp_errorf(e, FP_EINVAL, "%s: run: src must be [N,3,H,W]", m->path);
    nb = src->dims[0];
    h = src->dims[2];
    w = src->dims[3];
    n = (size_t)w * h;
    all = (size_t)nb * n;
    if (host ? src->dtype != FP_DTYPE_FLOAT32 : src->dtype != m->dt)
        return fp_errorf(e, FP_EINVAL, "%s: run: src is %s in %s memory; expected float32 on the host or %s on the "
                         "device", m->path, fp_dtype_name(src->dtype), host ? "host" : "device", fp_dtype_name(m->dt));
    if (nb > fp_matte_max_batch(m))
        return fp_errorf(e, FP_EUNSUPPORTED, "%s: run: the model takes a batch of %d only (fixed input shape); "
                         "%lld asked", m->path, fp_matte_max_batch(m), (long long)nb);
    if (m->state[0].data && m->state[0].dims[0] != nb)
        return fp_errorf(e, FP_EINVAL, "%s: run: batch of %lld rows but the state holds %lld (fp_matte_keep_rows)",
                         m->path, (long long)nb, (long long)m->state[0].dims[0]);
    if (!out_desc_ok(m, fgr, nb, 3, (int)w, (int)h) || !out_desc_ok(m, pha, nb, 1, (int)w, (int)h))
        return fp_errorf(e, FP_EINVAL, "%s: run: fgr/pha buffers must be [%lld,3,%lld,%lld]/[%lld,1,%lld,%lld] float32 "
                         "(host) or the model's dtype (device)", m->path, (long long)nb, (long long)h, (long long)w,
                         (long long)nb, (long long)h, (long long)w);
    memset(in, 0, sizeof(in));
    memset(out, 0, sizeof(out));
    in[m->in_pos[IN_SRC]] = *src;
    in[m->in_pos[IN_SRC]].owned = 0;
    if (host && m->dt == FP_DTYPE_FLOAT16) {
        const float *rgb = src->data;
        if (m->src16_n < 3 * all) {
            uint16_t *p = realloc(m->src16, 3 * all * sizeof(*p));
            if (!p)
                return fp_errorf(e, FP_ENOMEM, "%s: run: out of memory", m->path);
            m->src16 = p;
            m->src16_n = 3 * all;
        }
        for (size_t i = 0; i < 3 * all; i++)
            m->src16[i] = nn_f32_to_f16(rgb[i]);
        in[m->in_pos[IN_SRC]].dtype = FP_DTYPE_FLOAT16;
        in[m->in_pos[IN_SRC]].data = m->src16;
    }
    for (int k = 0; k < 4; k++) {
        fp_tensor *s = &in[m->in_pos[IN_R1 + k]];
        if (m->state[k].data) {
            *s = m->state[k];
            s->owned = 0;
        } else {
            /* [1,1,1,1] zero: the network broadcasts it over any batch (RVM's expand_as) */
            *s = (fp_tensor){ .dtype = m->dt, .ndim = 4, .dims = { 1, 1, 1, 1 }, .data = &m->zero[k] };
        }
    }
    ratio32 = (float)fp_matte_ratio_for(m, (int)w, (int)h);
    ratio16 = nn_f32_to_f16(ratio32);
    in[m->in_pos[IN_RATIO]] = (fp_tensor){ .dtype = m->ratio_dt, .ndim = m->ratio_ndim, .dims = { 1 },
                                          .data = m->ratio_dt == FP_DTYPE_FLOAT16 ? (void *)&ratio16 : (void *)&ratio32 };
    /* device output buffers go to the runtime as they are; host ones are filled from its tensors */
    if (fgr && fgr->data && fgr->device != FP_DEVICE_HOST)
        out[m->out_pos[OUT_FGR]] = (fp_tensor){ .dtype = m->dt, .ndim = 4, .dims = { nb, 3, h, w }, .data = fgr->data,
                                                .device = fgr->device };
    if (pha && pha->data && pha->device != FP_DEVICE_HOST)
        out[m->out_pos[OUT_PHA]] = (fp_tensor){ .dtype = m->dt, .ndim = 4, .dims = { nb, 1, h, w }, .data = pha->data,
                                                .device = pha->device };

    if ((ret = fp_model_run(m->model, in, IN_COUNT, out, OUT_COUNT, e)) < 0)
        return ret;
    {
        fp_tensor *tf = &out[m->out_pos[OUT_FGR]], *tp = &out[m->out_pos[OUT_PHA]];
        if (!out_shape_ok(tf, nb, 3, (int)w, (int)h) || !out_shape_ok(tp, nb, 1, (int)w, (int)h)) {
            ret = fp_errorf(e, FP_EMODEL, "%s: run: outputs fgr/pha are not [%lld,3,%lld,%lld]/[%lld,1,%lld,%lld]",
                            m->path, (long long)nb, (long long)h, (long long)w, (long long)nb, (long long)h,
                            (long long)w);
            goto end;
        }
        for (int k = 0; k < 4; k++) {
            const fp_tensor *r = &out[m->out_pos[OUT_R1 + k]];
            if (r->ndim != 4 || r->dims[0] != nb) {
                ret = fp_errorf(e, FP_EMODEL, "%s: run: recurrent output '%s' does not have %lld rows", m->path,
                                out_names[OUT_R1 + k], (long long)nb);
                goto end;
            }
        }
        deliver(fgr, tf, 3 * all);
        deliver(pha, tp, all);
    }
    /* Success: the new state replaces the old one (the old tensors were only read by this run). */
    for (int k = 0; k < 4; k++) {
        fp_tensor_free(&m->state[k]);
        m->state[k] = out[m->out_pos[OUT_R1 + k]];
        memset(&out[m->out_pos[OUT_R1 + k]], 0, sizeof(fp_tensor));
    }
    m->frames++;
    ret = 0;
end:
    for (int k = 0; k < OUT_COUNT; k++)
        fp_tensor_free(&out[k]);
    return ret;
}

int fp_matte_keep_rows(fp_matte *m, const int *rows, int n, fp_err *e)
{
    int have = fp_matte_state_rows(m);
    if (!have)
        return 0; /* zero state: it broadcasts over any batch */
    for (int j = 0; j < n; j++)
        if (rows[j] < 0 || rows[j] >= have || (j && rows[j] <= rows[j - 1]))
            return fp_errorf(e, FP_EINVAL, "%s: keep_rows: rows must be increasing indices below %d", m->path, have);
    for (int k = 0; k < 4; k++)
        if (m->state[k].device != FP_DEVICE_HOST)
            return fp_errorf(e, FP_EUNSUPPORTED, "%s: keep_rows: the state is in device memory (not done)", m->path);
    if (!n) {
        fp_matte_reset(m);
        return 0;
    }
    for (int k = 0; k < 4; k++) {
        fp_tensor *t = &m->state[k];
        size_t row = fp_dtype_size(t->dtype);
        for (int d = 1; d < t->ndim; d++)
            row *= (size_t)t->dims[d];
        /* rows increase, so each move goes down (or stays): memmove in order is safe */
        for (int j = 0; j < n; j++)
            if (rows[j] != j)
                memmove((char *)t->data + j * row, (char *)t->data + (size_t)rows[j] * row, row);
        t->dims[0] = n;
    }
    return 0;
}

int fp_matte_run(fp_matte *m, const float *rgb, int w, int h, float *fgr, float *pha, fp_err *e)
{
    fp_tensor s = { .dtype = FP_DTYPE_FLOAT32, .ndim = 4, .dims = { 1, 3, h, w }, .data = (void *)rgb };
    fp_tensor f = { .dtype = FP_DTYPE_FLOAT32, .ndim = 4, .dims = { 1, 3, h, w }, .data = fgr };
    fp_tensor p = { .dtype = FP_DTYPE_FLOAT32, .ndim = 4, .dims = { 1, 1, h, w }, .data = pha };

    if (w <= 0 || h <= 0)
        return fp_errorf(e, FP_EINVAL, "%s: run: empty frame", m->path);
    return fp_matte_run_batch(m, &s, fgr ? &f : NULL, pha ? &p : NULL, e);
}
