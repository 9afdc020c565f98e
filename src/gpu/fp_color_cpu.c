/*
 * fp_color_cpu — the CPU twin of pre- and postprocessing. Two implementations of one arithmetic:
 * - the row path (default): whole rows are converted once into float scratch rows, then resized
 *   separably with per-column and per-row tap tables computed once per call; inner loops are
 *   per-format, branch-free and vectorisable (this file is built with -O3, no contraction);
 * - the per-pixel reference: loops over output pixels calling the shared code of fp_color_core.h,
 *   exactly what the CUDA kernels run.
 * The row path performs the same float operations in the same order as the per-pixel code, so the
 * two are bit-identical (tests/color/test_color_invariants compares them over every format, mode,
 * layout and awkward size); the per-pixel one stays as the referee and the CUDA twin's mirror.
 *
 * Owns: the CPU loops, their scratch memory and threading. Rows are split into fixed bands, one
 * per thread; every output value is computed by exactly one thread from inputs nobody writes, so
 * the result is the same for any thread count (tested). Does not own validation
 * (fp_color_setup.c) or the per-pixel arithmetic (fp_color_core.h).
 */
#include "gpu/fp_color_priv.h"

#include <pthread.h>
#include <stdlib.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define FP_HAVE_F16C_PATH 1
#endif

static int cpu_threads = 1;
static int cpu_reference = 0;

void fp_color_cpu_set_threads(int n)
{
    cpu_threads = n < 1 ? 1 : n > 64 ? 64 : n;
}

void fp_color_cpu_use_reference(int on)
{
    cpu_reference = !!on;
}

/* ---- fp16 rows ---- */

#ifdef FP_HAVE_F16C_PATH
/* VCVTPS2PH with round-to-nearest-even: the same bits as fp_f32_to_f16_host for every finite and
 * infinite value (subnormals included; FTZ does not apply); only NaN payloads could differ, and the
 * row path never stores NaN from preprocess (postprocess reads fp16, it does not write it). */
__attribute__((target("f16c,avx"))) static void f32_to_f16_row_f16c(uint16_t *restrict o,
                                                                     const float *restrict in, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(o + i), _mm256_cvtps_ph(_mm256_loadu_ps(in + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++)
        o[i] = fp_f32_to_f16_host(in[i]);
}

__attribute__((target("f16c,avx"))) static void f16_to_f32_row_f16c(float *restrict o,
                                                                     const uint16_t *restrict in, int n)
{
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(o + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(in + i))));
    for (; i < n; i++)
        o[i] = fp_f16_to_f32_host(in[i]);
}

static int have_f16c(void)
{
    static int v = -1;
    if (v < 0)
        v = __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx");
    return v;
}
#endif

static void f32_to_f16_row(uint16_t *restrict o, const float *restrict in, int n)
{
#ifdef FP_HAVE_F16C_PATH
    if (have_f16c()) {
        f32_to_f16_row_f16c(o, in, n);
        return;
    }
#endif
    for (int i = 0; i < n; i++)
        o[i] = fp_f32_to_f16_host(in[i]);
}

static void f16_to_f32_row(float *restrict o, const uint16_t *restrict in, int n)
{
#ifdef FP_HAVE_F16C_PATH
    if (have_f16c()) {
        f16_to_f32_row_f16c(o, in, n);
        return;
    }
#endif
    for (int i = 0; i < n; i++)
        o[i] = fp_f16_to_f32_host(in[i]);
}

/* fp_clamp01 in the form the vectoriser takes (two selects): the same value for every input,
 * NaN -> 0 included (NaN > 0 is false, then 0 < 1). */
static inline float clamp01_row(float v)
{
    v = v > 0.0f ? v : 0.0f;
    return v < 1.0f ? v : 1.0f;
}

/* ---- sample rows ---- */

/* n samples of plane `plane`, row y, starting at column x, every `stride`-th sample (2 for one
 * component of NV12/P010 chroma), as floats of the code value. */
static void load_samples(const fp_frame_desc *f, int plane, int x, int y, int stride, int n, float *restrict o)
{
    const uint8_t *row = f->data[plane] + (ptrdiff_t)y * f->linesize[plane];
    if (f->bytes == 1) {
        const uint8_t *restrict p = row + x;
        if (stride == 1)
            for (int i = 0; i < n; i++)
                o[i] = (float)p[i];
        else
            for (int i = 0; i < n; i++)
                o[i] = (float)p[2 * i];
    } else {
        const uint16_t *restrict p = (const uint16_t *)row + x;
        int s = f->shift;
        if (stride == 1)
            for (int i = 0; i < n; i++)
                o[i] = (float)(p[i] >> s);
        else
            for (int i = 0; i < n; i++)
                o[i] = (float)(p[2 * i] >> s);
    }
}

static void load_chroma(const fp_frame_desc *f, int comp, int x, int y, int n, float *o)
{
    if (f->nv)
        load_samples(f, 1, 2 * x + comp, y, 2, n, o);
    else
        load_samples(f, 1 + comp, x, y, 1, n, o);
}

static void scale_row(float *restrict o, int n, float s)
{
    for (int i = 0; i < n; i++)
        o[i] = o[i] * s;
}

/* rgb = clamp(m * (Y, U, V) + off) of fp_pre_fetch, same operation order, for a row. A function of
 * its own so the vectoriser sees restrict arguments rather than scratch-struct loads. */
static void yuv_rgb_row(float *restrict R, float *restrict G, float *restrict B, const float *restrict Y,
                        const float *restrict U, const float *restrict V, int n, const fp_pre_args *a)
{
    float m00 = a->m[0][0], m01 = a->m[0][1], m02 = a->m[0][2], o0 = a->off[0];
    float m10 = a->m[1][0], m11 = a->m[1][1], m12 = a->m[1][2], o1 = a->off[1];
    float m20 = a->m[2][0], m21 = a->m[2][1], m22 = a->m[2][2], o2 = a->off[2];
    for (int i = 0; i < n; i++) {
        float yy = Y[i], uu = U[i], vv = V[i];
        R[i] = clamp01_row(m00 * yy + m01 * uu + m02 * vv + o0);
        G[i] = clamp01_row(m10 * yy + m11 * uu + m12 * vv + o1);
        B[i] = clamp01_row(m20 * yy + m21 * uu + m22 * vv + o2);
    }
}

/* Per-thread scratch of the preprocess row path. */
typedef struct pre_row {
    int tag;                 /* crop-relative source row held, -1: none */
    unsigned used;           /* LRU stamp */
    float *conv[4];          /* converted crop row: R, G, B, A (cw each) */
    float *h[4];             /* horizontally resized: dw each */
} pre_row;

typedef struct pre_scratch {
    pre_row rows[2];
    unsigned clock;
    float *acc[4], *wsum;    /* dw each */
    float *yv, *u, *v;       /* cw each */
    float *c[4];             /* chroma rows U0, V0, U1, V1: (cw >> ssx) + 2 each */
    float *tmp;              /* dw * 4 */
} pre_scratch;

typedef struct pre_ctx {
    const fp_pre_args *a;
    const fp_tap *xt, *yt;
    const int *xwoff;        /* area: weights of column ox are xw[xwoff[ox] .. xwoff[ox + 1]) */
    const float *xw, *xrsum;
    int nc;                  /* channels computed: 3, or 4 when alpha is stored */
    int xid;                 /* bilinear/nearest at the crop's width: every column tap is (x, 0),
                              * p[x] + (p[x'] - p[x]) * 0 == p[x], so h[] is conv[] itself */
} pre_ctx;

/*
 * Converts crop row sy into conv[]: the same operations as fp_pre_fetch, per row. Chroma: for an
 * even column the horizontal weight is 0 and a + (b - a) * 0 == a exactly (finite a >= 0), so even
 * columns take the chroma sample itself; odd columns the midpoint; then the vertical blend.
 */
static void convert_row(const pre_ctx *c, pre_scratch *s, int sy, float *const out[4])
{
    const fp_pre_args *a = c->a;
    const fp_frame_desc *f = &a->s;
    int y = a->cy + sy, x0 = a->cx, n = a->cw;
    float *restrict R = out[0], *restrict G = out[1], *restrict B = out[2];
    if (f->kind == FP_KIND_YUV) {
        float *restrict Y = s->yv, *restrict U = s->u, *restrict V = s->v;
        load_samples(f, 0, x0, y, 1, n, Y);
        if (f->ssx || f->ssy) {
            int fcw = (f->w + 1) >> 1, fch = (f->h + (1 << f->ssy) - 1) >> f->ssy;
            int y0c = y, y1c = y;
            float wy = 0.0f;
            if (f->ssy) {
                int k = y >> 1;
                if (y & 1) {
                    y0c = k;
                    y1c = fp_imin(k + 1, fch - 1);
                    wy = 0.25f;
                } else {
                    y0c = fp_imax(k - 1, 0);
                    y1c = k;
                    wy = 0.75f;
                }
            }
            int k0 = x0 >> 1, kl = (x0 + n - 1) >> 1, kn = kl - k0 + 1;
            int kload = fp_imin(kl + 1, fcw - 1) - k0 + 1; /* one more column for the odd midpoint */
            float *restrict U0 = s->c[0], *restrict V0 = s->c[1], *restrict U1 = s->c[2], *restrict V1 = s->c[3];
            load_chroma(f, 0, k0, y0c, kload, U0);
            load_chroma(f, 1, k0, y0c, kload, V0);
            if (kload == kn) { /* last chroma column replicates */
                U0[kn] = U0[kn - 1];
                V0[kn] = V0[kn - 1];
            }
            if (f->ssy) {
                load_chroma(f, 0, k0, y1c, kload, U1);
                load_chroma(f, 1, k0, y1c, kload, V1);
                if (kload == kn) {
                    U1[kn] = U1[kn - 1];
                    V1[kn] = V1[kn - 1];
                }
            }
            /* luma column x = 2k (even) and 2k + 1 (odd); i = x - x0 */
            float *restrict E = s->tmp, *restrict O = s->tmp + 2 * kn + 2;
            for (int comp = 0; comp < 2; comp++) {
                const float *restrict c0 = comp ? V0 : U0, *restrict c1 = comp ? V1 : U1;
                float *restrict dst = comp ? V : U;
                if (f->ssy) {
                    for (int k = 0; k < kn; k++) {
                        float t = c0[k] + (c0[k + 1] - c0[k]) * 0.5f;
                        float b = c1[k] + (c1[k + 1] - c1[k]) * 0.5f;
                        E[k] = c0[k] + (c1[k] - c0[k]) * wy;
                        O[k] = t + (b - t) * wy;
                    }
                } else { /* 4:2:2: vertical weight 0, top + (top - top) * 0 == top */
                    for (int k = 0; k < kn; k++) {
                        E[k] = c0[k];
                        O[k] = c0[k] + (c0[k + 1] - c0[k]) * 0.5f;
                    }
                }
                int i = 0, k = 0;
                if (x0 & 1)
                    dst[i++] = O[k++];
                for (; i + 1 < n; i += 2, k++) {
                    dst[i] = E[k];
                    dst[i + 1] = O[k];
                }
                if (i < n)
                    dst[i] = E[k];
            }
        } else {
            load_chroma(f, 0, x0, y, n, U);
            load_chroma(f, 1, x0, y, n, V);
        }
        yuv_rgb_row(R, G, B, Y, U, V, n, a);
        if (c->nc == 4 && f->alpha) {
            load_samples(f, 3, x0, y, 1, n, out[3]);
            scale_row(out[3], n, a->inv_max);
        }
    } else if (f->kind == FP_KIND_GBR) {
        load_samples(f, 2, x0, y, 1, n, R);
        load_samples(f, 0, x0, y, 1, n, G);
        load_samples(f, 1, x0, y, 1, n, B);
        scale_row(R, n, a->inv_max);
        scale_row(G, n, a->inv_max);
        scale_row(B, n, a->inv_max);
        if (c->nc == 4 && f->alpha) {
            load_samples(f, 3, x0, y, 1, n, out[3]);
            scale_row(out[3], n, a->inv_max);
        }
    } else {
        const uint8_t *restrict p = f->data[0] + (ptrdiff_t)y * f->linesize[0] + (ptrdiff_t)x0 * f->step;
        int st = f->step;
        float inv = a->inv_max;
        for (int i = 0; i < n; i++) {
            R[i] = (float)p[i * st] * inv;
            G[i] = (float)p[i * st + 1] * inv;
            B[i] = (float)p[i * st + 2] * inv;
        }
        if (c->nc == 4 && f->alpha)
            for (int i = 0; i < n; i++)
                out[3][i] = (float)p[i * st + 3] * inv;
    }
    if (c->nc == 4 && !f->alpha)
        for (int i = 0; i < n; i++)
            out[3][i] = 1.0f;
}

/* Horizontal pass of one converted row: the first half of the per-pixel formulas. */
static void hpass(const pre_ctx *c, const pre_scratch *s, float *const in[4], float *const out[4])
{
    const fp_pre_args *a = c->a;
    int dw = a->d.w;
    (void)s;
    for (int ch = 0; ch < c->nc; ch++) {
        const float *restrict p = in[ch];
        float *restrict o = out[ch];
        if (a->mode == FP_RESIZE_BILINEAR) {
            for (int x = 0; x < dw; x++) {
                fp_tap t = c->xt[x];
                o[x] = p[t.i0] + (p[t.i1] - p[t.i0]) * t.w;
            }
        } else if (a->mode == FP_RESIZE_NEAREST) {
            for (int x = 0; x < dw; x++)
                o[x] = p[c->xt[x].i0];
        } else {
            for (int x = 0; x < dw; x++) {
                const float *restrict w = c->xw + c->xwoff[x];
                int i0 = c->xt[x].i0, k = c->xt[x].i1 - i0 + 1;
                float r = 0.0f;
                for (int j = 0; j < k; j++)
                    r += p[i0 + j] * w[j];
                o[x] = r;
            }
        }
    }
}

/* Crop row sy, converted and horizontally resized, from the two-row LRU cache. */
static pre_row *get_row(const pre_ctx *c, pre_scratch *s, int sy)
{
    pre_row *r = &s->rows[0];
    if (s->rows[0].tag == sy) {
        r = &s->rows[0];
    } else if (s->rows[1].tag == sy) {
        r = &s->rows[1];
    } else {
        r = s->rows[0].used <= s->rows[1].used ? &s->rows[0] : &s->rows[1];
        convert_row(c, s, sy, r->conv);
        if (!c->xid)
            hpass(c, s, r->conv, r->h);
        r->tag = sy;
    }
    r->used = ++s->clock;
    return r;
}

static const float *row_h(const pre_ctx *c, const pre_row *r, int ch)
{
    return c->xid ? r->conv[ch] : r->h[ch];
}

/* Normalises and stores output row oy from src[ch] (dw floats per channel). */
static void store_row(const pre_ctx *c, pre_scratch *s, int oy, const float *const src[4])
{
    const fp_pre_args *a = c->a;
    const fp_tensor_desc *d = &a->d;
    int dw = d->w;
    float *restrict t = s->tmp;
    for (int ch = 0; ch < d->c; ch++) {
        const float *restrict v = src[ch];
        float *restrict o = t;
        if (d->layout == FP_LAYOUT_NCHW && d->dtype == FP_DTYPE_F32) /* straight into the tensor */
            o = (float *)d->data + ((size_t)ch * d->h + oy) * dw;
        if (ch < 3) {
            float mean = a->mean[ch], sd = a->std[ch];
            for (int x = 0; x < dw; x++)
                o[x] = (v[x] - mean) / sd;
        } else {
            if (o != t)
                memcpy(o, v, (size_t)dw * sizeof(float));
            else
                o = (float *)v;
        }
        if (d->layout == FP_LAYOUT_NCHW) {
            size_t base = ((size_t)ch * d->h + oy) * dw;
            if (d->dtype == FP_DTYPE_F16)
                f32_to_f16_row((uint16_t *)d->data + base, o, dw);
        } else {
            size_t base = (size_t)oy * dw * d->c + ch;
            if (d->dtype == FP_DTYPE_F32) {
                float *restrict q = (float *)d->data + base;
                for (int x = 0; x < dw; x++)
                    q[(size_t)x * d->c] = o[x];
            } else {
                uint16_t *restrict q = (uint16_t *)d->data + base;
                uint16_t *h16 = (uint16_t *)(s->tmp + dw);
                f32_to_f16_row(h16, o, dw);
                for (int x = 0; x < dw; x++)
                    q[(size_t)x * d->c] = h16[x];
            }
        }
    }
}

static void pre_rows(const pre_ctx *c, pre_scratch *s, int oy0, int oy1)
{
    const fp_pre_args *a = c->a;
    int dw = a->d.w, nc = c->nc;
    for (int oy = oy0; oy < oy1; oy++) {
        fp_tap ty = c->yt[oy];
        const float *src[4] = {s->acc[0], s->acc[1], s->acc[2], s->acc[3]};
        if (a->mode == FP_RESIZE_NEAREST) {
            pre_row *r = get_row(c, s, ty.i0);
            for (int ch = 0; ch < nc; ch++)
                src[ch] = row_h(c, r, ch);
        } else if (a->mode == FP_RESIZE_BILINEAR) {
            pre_row *r0 = get_row(c, s, ty.i0);
            if (ty.w == 0.0f) { /* top + (bot - top) * 0 == top */
                for (int ch = 0; ch < nc; ch++)
                    src[ch] = row_h(c, r0, ch);
            } else {
                pre_row *r1 = get_row(c, s, ty.i1);
                float wy = ty.w;
                for (int ch = 0; ch < nc; ch++) {
                    const float *restrict t = row_h(c, r0, ch), *restrict b = row_h(c, r1, ch);
                    float *restrict o = s->acc[ch];
                    for (int x = 0; x < dw; x++)
                        o[x] = t[x] + (b[x] - t[x]) * wy;
                }
            }
        } else if (ty.i0 == ty.i1) { /* area, one source row */
            pre_row *r = get_row(c, s, ty.i0);
            float wy = fp_area_weight(ty.i0, oy, a->ch, a->d.h);
            for (int x = 0; x < dw; x++) {
                fp_tap tx = c->xt[x];
                if (tx.i0 == tx.i1) { /* box inside one pixel: the pixel itself */
                    for (int ch = 0; ch < nc; ch++)
                        s->acc[ch][x] = r->conv[ch][tx.i0];
                } else {
                    float ws = 0.0f + c->xrsum[x] * wy;
                    for (int ch = 0; ch < nc; ch++)
                        s->acc[ch][x] = (0.0f + r->h[ch][x] * wy) / ws;
                }
            }
        } else { /* area, several rows: the per-pixel sums, row by row in the same order */
            for (int ch = 0; ch < nc; ch++)
                memset(s->acc[ch], 0, (size_t)dw * sizeof(float));
            memset(s->wsum, 0, (size_t)dw * sizeof(float));
            for (int sy = ty.i0; sy <= ty.i1; sy++) {
                pre_row *r = get_row(c, s, sy);
                float wy = fp_area_weight(sy, oy, a->ch, a->d.h);
                for (int ch = 0; ch < nc; ch++) {
                    const float *restrict h = r->h[ch];
                    float *restrict o = s->acc[ch];
                    for (int x = 0; x < dw; x++)
                        o[x] += h[x] * wy;
                }
                const float *restrict rs = c->xrsum;
                float *restrict ws = s->wsum;
                for (int x = 0; x < dw; x++)
                    ws[x] += rs[x] * wy;
            }
            for (int ch = 0; ch < nc; ch++) {
                float *restrict o = s->acc[ch];
                const float *restrict ws = s->wsum;
                for (int x = 0; x < dw; x++)
                    o[x] = o[x] / ws[x];
            }
        }
        store_row(c, s, oy, src);
    }
}

/* Floats of scratch one band needs (see pre_scratch). */
static size_t pre_scratch_floats(const fp_pre_args *a)
{
    size_t cw = (size_t)a->cw, dw = (size_t)a->d.w, kc = cw / 2 + 4;
    return 2 * 4 * (cw + dw) + 5 * dw + 3 * cw + 4 * kc + 4 * dw + 4 * kc + 64;
}

static void pre_scratch_init(pre_scratch *s, const fp_pre_args *a, float *mem)
{
    size_t cw = (size_t)a->cw, dw = (size_t)a->d.w, kc = cw / 2 + 4;
    memset(s, 0, sizeof(*s));
    for (int r = 0; r < 2; r++) {
        s->rows[r].tag = -1;
        for (int c = 0; c < 4; c++) {
            s->rows[r].conv[c] = mem;
            mem += cw;
            s->rows[r].h[c] = mem;
            mem += dw;
        }
    }
    for (int c = 0; c < 4; c++) {
        s->acc[c] = mem;
        mem += dw;
    }
    s->wsum = mem;
    mem += dw;
    s->yv = mem;
    mem += cw;
    s->u = mem;
    mem += cw;
    s->v = mem;
    mem += cw;
    for (int c = 0; c < 4; c++) {
        s->c[c] = mem;
        mem += kc;
    }
    s->tmp = mem; /* max(4 * kc + 4, 2 * dw) floats */
}

/* ---- postprocess rows ---- */

typedef struct post_scratch {
    float *px[2][4];         /* two loaded rows (clamped R, G, B, A), w each */
    float *t;                /* w floats */
    float *cacc[3];          /* chroma accumulators, (w + 1) / 2 each */
    float *bg;               /* one background channel row, w */
} post_scratch;

static void load_tensor_row(const fp_tensor_desc *t, int y, int c, float *restrict o, float *tmp)
{
    int w = t->w;
    if (t->layout == FP_LAYOUT_NCHW) {
        size_t base = ((size_t)c * t->h + y) * w;
        if (t->dtype == FP_DTYPE_F32)
            memcpy(o, (const float *)t->data + base, (size_t)w * sizeof(float));
        else
            f16_to_f32_row(o, (const uint16_t *)t->data + base, w);
    } else {
        size_t base = (size_t)y * w * t->c + c;
        if (t->dtype == FP_DTYPE_F32) {
            const float *restrict p = (const float *)t->data + base;
            for (int x = 0; x < w; x++)
                o[x] = p[(size_t)x * t->c];
        } else {
            const uint16_t *restrict p = (const uint16_t *)t->data + base;
            uint16_t *restrict h = (uint16_t *)tmp;
            for (int x = 0; x < w; x++)
                h[x] = p[(size_t)x * t->c];
            f16_to_f32_row(o, h, w);
        }
    }
    for (int x = 0; x < w; x++)
        o[x] = clamp01_row(o[x]);
}

/* fp_post_load for a whole row. */
static void post_load_row(const fp_post_args *a, post_scratch *s, int y, float *const px[4])
{
    int w = a->d.w;
    for (int c = 0; c < 3; c++)
        load_tensor_row(&a->rgb, y, c, px[c], s->t);
    if (a->alpha.data)
        load_tensor_row(&a->alpha, y, 0, px[3], s->t);
    else if (a->rgb.c == 4)
        load_tensor_row(&a->rgb, y, 3, px[3], s->t);
    else
        for (int x = 0; x < w; x++)
            px[3][x] = 1.0f;
    if (a->compose == FP_COMPOSE_COLOR || a->compose == FP_COMPOSE_IMAGE) {
        float *restrict al = px[3];
        for (int c = 0; c < 3; c++) {
            float *restrict p = px[c], *restrict b = s->bg;
            if (a->compose == FP_COMPOSE_IMAGE) {
                load_tensor_row(&a->bg, y, c, b, s->t);
            } else {
                for (int x = 0; x < w; x++)
                    b[x] = a->bgc[c];
            }
            for (int x = 0; x < w; x++)
                p[x] = p[x] * al[x] + b[x] * (1.0f - al[x]);
        }
        for (int x = 0; x < w; x++)
            al[x] = 1.0f;
    } else if (a->compose == FP_COMPOSE_PREMULTIPLY) {
        for (int c = 0; c < 3; c++) {
            float *restrict p = px[c];
            const float *restrict al = px[3];
            for (int x = 0; x < w; x++)
                p[x] = p[x] * al[x];
        }
    }
}

/* Writes code values v[0..n) to plane `plane` row y, columns x0 + i * step. */
static void store_codes(const fp_frame_desc *f, int plane, int x0, int step, int y, int n, const int *restrict v)
{
    uint8_t *row = f->data[plane] + (ptrdiff_t)y * f->linesize[plane];
    if (f->bytes == 1) {
        uint8_t *restrict p = row + x0;
        for (int i = 0; i < n; i++)
            p[i * step] = (uint8_t)v[i];
    } else {
        uint16_t *restrict p = (uint16_t *)row + x0;
        int sh = f->shift;
        for (int i = 0; i < n; i++)
            p[i * step] = (uint16_t)(v[i] << sh);
    }
}

/* Rounds m . (r, g, b) + off (or, with m NULL, r * scale) of n values into codes. */
/* fp_round_code as selects (vectorisable): NaN and t < 1 -> 0, t >= maxv -> maxv, else trunc(t),
 * the same code for every input. */
static inline int round_code_row(float v, float maxf)
{
    float t = v + 0.5f;
    t = t >= 1.0f ? t : 0.0f;
    t = t < maxf ? t : maxf;
    return (int)t;
}

static void codes_mat(int *restrict o, const float *restrict r, const float *restrict g, const float *restrict b,
                      int n, float m0, float m1, float m2, float off, int maxv)
{
    float maxf = (float)maxv;
    for (int i = 0; i < n; i++)
        o[i] = round_code_row(m0 * r[i] + m1 * g[i] + m2 * b[i] + off, maxf);
}

static void codes_scale(int *restrict o, const float *restrict v, int n, float s, int maxv)
{
    float maxf = (float)maxv;
    for (int i = 0; i < n; i++)
        o[i] = round_code_row(v[i] * s, maxf);
}

/* Block rows [by0, by1): the luma rows of each block row, then its chroma (fp_post_block per row). */
static void post_rows(const fp_post_args *a, post_scratch *s, int *codes, int by0, int by1)
{
    const fp_frame_desc *f = &a->d;
    int w = f->w;
    float maxf = (float)f->maxv;
    for (int by = by0; by < by1; by++) {
        int y0 = by << f->ssy, y1 = fp_imin(y0 + (1 << f->ssy), f->h);
        for (int y = y0; y < y1; y++) {
            float *const *px = s->px[y - y0];
            post_load_row(a, s, y, px);
            if (f->kind == FP_KIND_YUV) {
                codes_mat(codes, px[0], px[1], px[2], w, a->m[0][0], a->m[0][1], a->m[0][2], a->off[0], f->maxv);
                store_codes(f, 0, 0, 1, y, w, codes);
                if (!f->ssx && !f->ssy) {
                    int step = f->nv ? 2 : 1;
                    for (int k = 1; k <= 2; k++) {
                        codes_mat(codes, px[0], px[1], px[2], w, a->m[k][0], a->m[k][1], a->m[k][2], a->off[k],
                                  f->maxv);
                        if (f->nv)
                            store_codes(f, 1, k - 1, step, y, w, codes);
                        else
                            store_codes(f, k, 0, 1, y, w, codes);
                    }
                }
                if (f->alpha) {
                    codes_scale(codes, px[3], w, maxf, f->maxv);
                    store_codes(f, 3, 0, 1, y, w, codes);
                }
            } else if (f->kind == FP_KIND_GBR) {
                static const int src_of_plane[3] = {1, 2, 0};
                for (int p = 0; p < 3; p++) {
                    codes_scale(codes, px[src_of_plane[p]], w, maxf, f->maxv);
                    store_codes(f, p, 0, 1, y, w, codes);
                }
                if (f->alpha) {
                    codes_scale(codes, px[3], w, maxf, f->maxv);
                    store_codes(f, 3, 0, 1, y, w, codes);
                }
            } else {
                uint8_t *restrict p = f->data[0] + (ptrdiff_t)y * f->linesize[0];
                int st = f->step, nc = f->alpha ? 4 : 3;
                for (int c = 0; c < nc; c++) {
                    codes_scale(codes, px[c], w, 255.0f, 255);
                    for (int x = 0; x < w; x++)
                        p[x * st + c] = (uint8_t)codes[x];
                }
            }
        }
        if (f->kind == FP_KIND_YUV && (f->ssx || f->ssy)) {
            int bw = (w + 1) >> 1, ny = f->ssy ? 2 : 1;
            float wy = f->ssy ? 0.5f : 1.0f;
            for (int c = 0; c < 3; c++)
                for (int k = 0; k < bw; k++)
                    s->cacc[c][k] = 0.0f;
            for (int j = 0; j < ny; j++) {
                /* the block's second row, or the first again at the bottom edge */
                int y = fp_imin(y0 + j, f->h - 1);
                float *const *px = s->px[y - y0];
                for (int c = 0; c < 3; c++) {
                    const float *restrict p = px[c];
                    float *restrict acc = s->cacc[c];
                    for (int k = 0; k < bw; k++) {
                        int xm = fp_imax(2 * k - 1, 0), xc = 2 * k, xp = fp_imin(2 * k + 1, w - 1);
                        float row = 0.0f;
                        row += p[xm] * 0.25f;
                        row += p[xc] * 0.5f;
                        row += p[xp] * 0.25f;
                        acc[k] += row * wy;
                    }
                }
            }
            for (int k = 1; k <= 2; k++) {
                codes_mat(codes, s->cacc[0], s->cacc[1], s->cacc[2], bw, a->m[k][0], a->m[k][1], a->m[k][2],
                          a->off[k], f->maxv);
                if (f->nv)
                    store_codes(f, 1, k - 1, 2, by, bw, codes);
                else
                    store_codes(f, k, 0, 1, by, bw, codes);
            }
        }
    }
}

/* ---- bands and threads ---- */

typedef struct band {
    const fp_pre_args *pre;
    const pre_ctx *pc;       /* row path */
    const fp_tap *xtaps;     /* reference path: taps of every output column */
    const fp_post_args *post;
    float *mem;              /* row path: this band's scratch */
    int y0, y1, w;
} band;

static void *band_run(void *arg)
{
    const band *b = arg;
    if (b->pc) {
        pre_scratch s;
        pre_scratch_init(&s, b->pre, b->mem);
        pre_rows(b->pc, &s, b->y0, b->y1);
        return NULL;
    }
    if (b->post && b->mem) {
        const fp_post_args *a = b->post;
        int w = a->d.w;
        post_scratch s;
        float *m = b->mem;
        for (int r = 0; r < 2; r++)
            for (int c = 0; c < 4; c++, m += w)
                s.px[r][c] = m;
        s.t = m;
        m += w;
        for (int c = 0; c < 3; c++, m += w)
            s.cacc[c] = m;
        s.bg = m;
        m += w;
        post_rows(a, &s, (int *)m, b->y0, b->y1);
        return NULL;
    }
    for (int y = b->y0; y < b->y1; y++) {
        if (b->pre) {
            const fp_pre_args *a = b->pre;
            fp_tap ty = fp_axis_tap(a->mode, y, a->ch, a->d.h);
            for (int x = 0; x < b->w; x++)
                fp_pre_pixel_taps(a, &a->s, &a->d, x, y, b->xtaps[x], ty);
        } else {
            for (int x = 0; x < b->w; x++)
                fp_post_block(b->post, x, y);
        }
    }
    return NULL;
}

static int band_count(int h)
{
    int n = cpu_threads;
    return n > h ? h : n;
}

/* Runs rows [0, h) in n bands; `proto` gives everything but the rows and the scratch, each band
 * gets `per` floats of `mem`. A thread that cannot be created leaves its band to the calling
 * thread, so the work is always done and done identically. */
static void run_bands(const band *proto, float *mem, size_t per, int n, int h)
{
    band bands[64];
    pthread_t tid[64];
    int started[64] = {0};
    for (int i = 0; i < n; i++) {
        bands[i] = *proto;
        bands[i].y0 = (int)((long long)h * i / n);
        bands[i].y1 = (int)((long long)h * (i + 1) / n);
        bands[i].mem = mem ? mem + per * (size_t)i : NULL;
        if (i > 0)
            started[i] = pthread_create(&tid[i], NULL, band_run, &bands[i]) == 0;
    }
    band_run(&bands[0]);
    for (int i = 1; i < n; i++) {
        if (started[i])
            pthread_join(tid[i], NULL);
        else
            band_run(&bands[i]);
    }
}

int fp_preprocess_cpu(const fp_image *src, const fp_preprocess *p, const fp_planar *dst, fp_err *e)
{
    fp_pre_args a;
    int ret = fp_pre_setup(src, p, dst, 0, &a, e);
    if (ret < 0)
        return ret;
    int dw = a.d.w, dh = a.d.h, n = band_count(dh);
    if (cpu_reference) {
        fp_tap *xtaps = malloc((size_t)dw * sizeof(*xtaps));
        if (!xtaps)
            return fp_errorf(e, FP_ENOMEM, "preprocess: out of memory (%d column taps)", dw);
        for (int x = 0; x < dw; x++)
            xtaps[x] = fp_axis_tap(a.mode, x, a.cw, dw);
        band proto = {&a, NULL, xtaps, NULL, NULL, 0, 0, dw};
        run_bands(&proto, NULL, 0, n, dh);
        free(xtaps);
        return 0;
    }
    /* Tap tables once per call (exact rational taps, as fp_axis_tap computes them per pixel), area
     * weights per column, and every band's scratch: one allocation, freed here. */
    size_t nxw = a.mode == FP_RESIZE_AREA ? (size_t)a.cw + 2 * (size_t)dw : 0;
    size_t per = pre_scratch_floats(&a);
    size_t taps = ((size_t)dw + dh) * sizeof(fp_tap);
    size_t bytes = taps + ((size_t)dw + 1) * sizeof(int) + (nxw + dw) * sizeof(float) + per * n * sizeof(float) + 64;
    char *mem = malloc(bytes);
    if (!mem)
        return fp_errorf(e, FP_ENOMEM, "preprocess: out of memory (%zu bytes of row scratch)", bytes);
    fp_tap *xt = (fp_tap *)mem, *yt = xt + dw;
    float *fm = (float *)(mem + taps);
    float *xrsum = fm, *xw = xrsum + dw;
    int *xwoff = (int *)(xw + nxw);
    float *scratch = (float *)(xwoff + dw + 1);
    for (int x = 0; x < dw; x++)
        xt[x] = fp_axis_tap(a.mode, x, a.cw, dw);
    for (int y = 0; y < dh; y++)
        yt[y] = fp_axis_tap(a.mode, y, a.ch, dh);
    if (a.mode == FP_RESIZE_AREA) {
        int k = 0;
        for (int x = 0; x < dw; x++) {
            float rs = 0.0f;
            xwoff[x] = k;
            for (int i = xt[x].i0; i <= xt[x].i1; i++) {
                xw[k] = fp_area_weight(i, x, a.cw, dw);
                rs += xw[k++];
            }
            xrsum[x] = rs;
        }
        xwoff[dw] = k;
    }
    pre_ctx pc = {&a, xt, yt, xwoff, xw, xrsum, a.d.c, a.mode != FP_RESIZE_AREA && dw == a.cw};
    band proto = {&a, &pc, NULL, NULL, NULL, 0, 0, dw};
    run_bands(&proto, scratch, per, n, dh);
    free(mem);
    return 0;
}

int fp_postprocess_cpu(const fp_planar *rgb, const fp_planar *alpha, fp_image *dst,
                       const fp_colorspace *cs, fp_err *e)
{
    return fp_postprocess_compose_cpu(rgb, alpha, NULL, dst, cs, e);
}

int fp_postprocess_compose_cpu(const fp_planar *rgb, const fp_planar *alpha, const fp_compose *comp,
                               fp_image *dst, const fp_colorspace *cs, fp_err *e)
{
    fp_post_args a;
    int ret = fp_post_setup(rgb, alpha, comp, dst, cs, 0, &a, e);
    if (ret < 0)
        return ret;
    int bw = (a.d.w + (1 << a.d.ssx) - 1) >> a.d.ssx, bh = (a.d.h + (1 << a.d.ssy) - 1) >> a.d.ssy;
    int n = band_count(bh);
    if (cpu_reference) {
        band proto = {NULL, NULL, NULL, &a, NULL, 0, 0, bw};
        run_bands(&proto, NULL, 0, n, bh);
        return 0;
    }
    /* per band: 2 rows x 4 channels, a tmp row, 3 chroma rows, an int code row, a background row */
    size_t per = (size_t)a.d.w * 14 + 16;
    float *mem = malloc(per * n * sizeof(float));
    if (!mem)
        return fp_errorf(e, FP_ENOMEM, "postprocess: out of memory (%zu bytes of row scratch)",
                         per * n * sizeof(float));
    band proto = {NULL, NULL, NULL, &a, NULL, 0, 0, bw};
    run_bands(&proto, mem, per, n, bh);
    free(mem);
    return 0;
}
