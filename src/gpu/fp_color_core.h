/*
 * fp_color_core — the per-pixel arithmetic of pre- and postprocessing, compiled twice: as plain C
 * for the CPU reference (fp_color_cpu.c) and as __host__ __device__ code for the CUDA twins
 * (fp_color_cuda.cu). One source for both is what lets the twin test demand near-bit-exact
 * agreement: both files are built without floating-point contraction (-ffp-contract=off,
 * nvcc -fmad=false), so the same float operations run in the same order on both sides.
 *
 * Owns: the resolved argument blocks (fp_pre_args, fp_post_args: everything a kernel needs, by
 * value, no pointers to host structs), sample fetch/store, chroma interpolation and decimation,
 * resize taps, fp16 rounding on the host. Does not own validation or argument set-up
 * (fp_color_setup.c) nor loops/launches (the two twins). Private to src/gpu.
 */
#ifndef FP_COLOR_CORE_H
#define FP_COLOR_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <math.h>

#ifdef __CUDACC__
#include <cuda_fp16.h>
#define FP_HD static inline __host__ __device__
#else
#define FP_HD static inline
#endif

enum { FP_KIND_YUV = 0, FP_KIND_GBR = 1, FP_KIND_PACKED = 2 };

/* A frame reduced to what the arithmetic needs. For GBR planes are G,B,R(,A) like FFmpeg. */
typedef struct fp_frame_desc {
    uint8_t *data[4];
    ptrdiff_t linesize[4];
    int w, h;
    int kind;           /* FP_KIND_* */
    int bytes;          /* bytes per sample: 1 or 2 */
    int shift;          /* sample = word >> shift (P010: 6) */
    int maxv;           /* largest code value: 255 or 1023 */
    int ssx, ssy;       /* log2 chroma subsampling */
    int nv;             /* U,V interleaved in plane 1 */
    int alpha;          /* has an alpha plane (planar: plane 3; packed: component 3) */
    int step;           /* packed: bytes per pixel (3 or 4) */
} fp_frame_desc;

/* A batch slot of a float tensor. */
typedef struct fp_tensor_desc {
    void *data;         /* already offset to the batch slot */
    int layout;         /* FP_LAYOUT_* */
    int dtype;          /* FP_DTYPE_* */
    int c, w, h;
} fp_tensor_desc;

typedef struct fp_pre_args {
    fp_frame_desc s;
    float m[3][3];      /* YUV: rgb = m * (Y, U, V) + off, raw code values in */
    float off[3];
    float inv_max;      /* 1 / maxv: RGB and alpha sources */
    int cx, cy, cw, ch; /* crop, in source pixels */
    int mode;           /* FP_RESIZE_* */
    float mean[3], std[3];
    fp_tensor_desc d;
} fp_pre_args;

typedef struct fp_post_args {
    fp_tensor_desc rgb;
    fp_tensor_desc alpha;  /* data NULL: alpha from rgb channel 3 if rgb.c == 4, else opaque */
    fp_frame_desc d;
    float m[3][3];      /* YUV: (Y, U, V) = m * rgb + off, in code values */
    float off[3];
    int compose;        /* FP_COMPOSE_* */
    float bgc[3];       /* COLOR: clamped background colour */
    fp_tensor_desc bg;  /* IMAGE: background slot */
} fp_post_args;

/* ---- fp16 on the host (round to nearest even; the device uses __float2half_rn) ---- */
static inline uint16_t fp_f32_to_f16_host(float f)
{
    /* F. Giesen's float_to_half_fast3_rtne: exact RNE including subnormals, NaN stays NaN. */
    union { uint32_t u; float f; } v, denorm;
    uint32_t sign, o;
    v.f = f;
    sign = v.u & 0x80000000u;
    v.u ^= sign;
    denorm.u = ((127 - 15) + (23 - 10) + 1) << 23;
    if (v.u >= (127 + 16) << 23) {
        o = v.u > 255u << 23 ? 0x7e00 : 0x7c00;
    } else if (v.u < 113u << 23) {
        v.f += denorm.f;
        o = v.u - denorm.u;
    } else {
        uint32_t mant_odd = (v.u >> 13) & 1;
        v.u += ((uint32_t)(15 - 127) << 23) + 0xfff;
        v.u += mant_odd;
        o = v.u >> 13;
    }
    return (uint16_t)(o | (sign >> 16));
}

static inline float fp_f16_to_f32_host(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, u;
    float f;
    if (exp == 0x1f) {
        u = sign | 0x7f800000u | (mant << 13);
    } else if (exp == 0) {
        f = (float)mant * (1.0f / 16777216.0f); /* subnormal: mant * 2^-24, exact */
        memcpy(&u, &f, 4);
        u |= sign;
    } else {
        u = sign | ((exp + 112) << 23) | (mant << 13);
    }
    memcpy(&f, &u, 4);
    return f;
}

/* ---- small helpers ---- */
FP_HD int fp_imin(int a, int b) { return a < b ? a : b; }
FP_HD int fp_imax(int a, int b) { return a > b ? a : b; }
/* NaN -> 0, -0 -> +0. Comparisons rather than fminf/fmaxf: the host compiler calls libm for
 * those (IEEE NaN rules), which dominated the CPU time. */
FP_HD float fp_clamp01(float v) { return v > 0.0f ? (v < 1.0f ? v : 1.0f) : 0.0f; }

FP_HD size_t fp_tensor_index(const fp_tensor_desc *t, int x, int y, int c)
{
    if (t->layout == 0) /* NCHW */
        return ((size_t)c * t->h + y) * t->w + x;
    return ((size_t)y * t->w + x) * t->c + c;
}

FP_HD float fp_tensor_load(const fp_tensor_desc *t, int x, int y, int c)
{
    size_t i = fp_tensor_index(t, x, y, c);
    if (t->dtype == 0)
        return ((const float *)t->data)[i];
#ifdef __CUDA_ARCH__
    return __half2float(((const __half *)t->data)[i]);
#else
    return fp_f16_to_f32_host(((const uint16_t *)t->data)[i]);
#endif
}

FP_HD void fp_tensor_store(const fp_tensor_desc *t, int x, int y, int c, float v)
{
    size_t i = fp_tensor_index(t, x, y, c);
    if (t->dtype == 0) {
        ((float *)t->data)[i] = v;
        return;
    }
#ifdef __CUDA_ARCH__
    ((__half *)t->data)[i] = __float2half_rn(v);
#else
    ((uint16_t *)t->data)[i] = fp_f32_to_f16_host(v);
#endif
}

FP_HD int fp_sample(const fp_frame_desc *f, int plane, int x, int y)
{
    const uint8_t *row = f->data[plane] + (ptrdiff_t)y * f->linesize[plane];
    if (f->bytes == 1)
        return row[x];
    return ((const uint16_t *)row)[x] >> f->shift;
}

FP_HD void fp_sample_put(const fp_frame_desc *f, int plane, int x, int y, int v)
{
    uint8_t *row = f->data[plane] + (ptrdiff_t)y * f->linesize[plane];
    if (f->bytes == 1)
        row[x] = (uint8_t)v;
    else
        ((uint16_t *)row)[x] = (uint16_t)(v << f->shift);
}

/* Raw chroma sample (component 0 = U, 1 = V) at chroma coordinates. */
FP_HD float fp_chroma_at(const fp_frame_desc *f, int comp, int cx, int cy)
{
    if (f->nv)
        return (float)fp_sample(f, 1, 2 * cx + comp, cy);
    return (float)fp_sample(f, 1 + comp, cx, cy);
}

/*
 * Chroma at luma position (x, y), MPEG-2 siting: horizontally chroma i sits on luma 2i, so odd
 * columns average their two neighbours; vertically (4:2:0) chroma j sits at luma 2j + 0.5, so
 * luma row y reads chroma coordinate y/2 - 1/4 (weights 3/4, 1/4). Edges replicate.
 */
FP_HD void fp_chroma_interp(const fp_frame_desc *f, int x, int y, float *u, float *v)
{
    int cw = (f->w + (1 << f->ssx) - 1) >> f->ssx;
    int ch = (f->h + (1 << f->ssy) - 1) >> f->ssy;
    int x0, x1, y0, y1;
    float wx, wy;
    if (f->ssx) {
        x0 = x >> 1;
        x1 = fp_imin(x0 + 1, cw - 1);
        wx = (x & 1) ? 0.5f : 0.0f;
    } else {
        x0 = x1 = x;
        wx = 0.0f;
    }
    if (f->ssy) {
        int k = y >> 1;
        if (y & 1) {
            y0 = k;
            y1 = fp_imin(k + 1, ch - 1);
            wy = 0.25f;
        } else {
            y0 = fp_imax(k - 1, 0);
            y1 = k;
            wy = 0.75f;
        }
    } else {
        y0 = y1 = y;
        wy = 0.0f;
    }
    for (int comp = 0; comp < 2; comp++) {
        float a = fp_chroma_at(f, comp, x0, y0), b = fp_chroma_at(f, comp, x1, y0);
        float c = fp_chroma_at(f, comp, x0, y1), d = fp_chroma_at(f, comp, x1, y1);
        float top = a + (b - a) * wx, bot = c + (d - c) * wx;
        float r = top + (bot - top) * wy;
        if (comp == 0)
            *u = r;
        else
            *v = r;
    }
}

/* RGB(A) in [0,1] of source pixel (x, y) (frame coordinates) of frame f (a->s, or a batch
 * frame of the same format and size). */
FP_HD void fp_pre_fetch(const fp_pre_args *a, const fp_frame_desc *f, int x, int y, float px[4])
{
    px[3] = 1.0f;
    if (f->kind == FP_KIND_YUV) {
        float Y = (float)fp_sample(f, 0, x, y), U, V;
        if (f->ssx || f->ssy) {
            fp_chroma_interp(f, x, y, &U, &V);
        } else {
            U = fp_chroma_at(f, 0, x, y);
            V = fp_chroma_at(f, 1, x, y);
        }
        for (int c = 0; c < 3; c++)
            px[c] = fp_clamp01(a->m[c][0] * Y + a->m[c][1] * U + a->m[c][2] * V + a->off[c]);
        if (f->alpha)
            px[3] = (float)fp_sample(f, 3, x, y) * a->inv_max;
    } else if (f->kind == FP_KIND_GBR) {
        px[0] = (float)fp_sample(f, 2, x, y) * a->inv_max;
        px[1] = (float)fp_sample(f, 0, x, y) * a->inv_max;
        px[2] = (float)fp_sample(f, 1, x, y) * a->inv_max;
        if (f->alpha)
            px[3] = (float)fp_sample(f, 3, x, y) * a->inv_max;
    } else {
        const uint8_t *p = f->data[0] + (ptrdiff_t)y * f->linesize[0] + (ptrdiff_t)x * f->step;
        for (int c = 0; c < 3; c++)
            px[c] = (float)p[c] * a->inv_max;
        if (f->alpha)
            px[3] = (float)p[3] * a->inv_max;
    }
}

/* a / b for 0 <= a, 0 < b: 32-bit division whenever it fits (every realistic frame); 64-bit
 * division is emulated on the GPU and costs ~5x more. Exact either way. */
FP_HD long long fp_udiv(long long a, long long b)
{
    if (a < 2147483648LL && b < 2147483648LL)
        return (long long)((unsigned)a / (unsigned)b);
    return a / b;
}

/*
 * Resize taps along one axis, crop-relative, for output o of n_out from a crop of n_in pixels. The
 * source coordinate (o + 1/2) * n_in / n_out - 1/2 is kept as an exact rational (integer numerator
 * over 2 * n_out) so the integer part is exact and only the fraction is rounded to float: float
 * coordinates would lose ~1e-4 pixel at 2000 px.
 */
FP_HD void fp_bilinear_tap(int o, int n_in, int n_out, int *i0, int *i1, float *w)
{
    long long num = (2LL * o + 1) * n_in - n_out, den = 2LL * n_out;
    if (num <= 0) {
        *i0 = *i1 = 0;
        *w = 0.0f;
        return;
    }
    long long i = fp_udiv(num, den);
    if (i >= n_in - 1) {
        *i0 = *i1 = n_in - 1;
        *w = 0.0f;
        return;
    }
    *i0 = (int)i;
    *i1 = (int)i + 1;
    *w = (float)(num - i * den) / (float)den;
}

FP_HD int fp_nearest_tap(int o, int n_in, int n_out)
{
    long long i = fp_udiv((2LL * o + 1) * n_in, 2LL * n_out);
    return (int)(i < n_in - 1 ? i : n_in - 1);
}

/* Area: output o covers [o * n_in, (o + 1) * n_in) in units of 1/n_out source pixel; source pixel i
 * covers [i * n_out, (i + 1) * n_out). First and last source pixel of the box: */
FP_HD void fp_area_span(int o, int n_in, int n_out, int *i0, int *i1)
{
    *i0 = (int)fp_udiv((long long)o * n_in, n_out);
    *i1 = (int)fp_udiv((long long)(o + 1) * n_in - 1, n_out);
}

/* Overlap of source pixel i with the box of output o, as an integer count of 1/n_out units. */
FP_HD float fp_area_weight(int i, int o, int n_in, int n_out)
{
    long long lo = (long long)i * n_out, hi = lo + n_out, b0 = (long long)o * n_in, b1 = b0 + n_in;
    long long ov = (hi < b1 ? hi : b1) - (lo > b0 ? lo : b0);
    return (float)ov;
}

/* One output index's source taps along one axis, crop-relative: bilinear uses i0, i1, w; nearest
 * uses i0; area uses the span i0..i1 (its weights are integer arithmetic, computed per pixel). */
typedef struct fp_tap {
    int i0, i1;
    float w;
} fp_tap;

FP_HD fp_tap fp_axis_tap(int mode, int o, int n_in, int n_out)
{
    fp_tap t = {0, 0, 0.0f};
    if (mode == 2)
        t.i0 = t.i1 = fp_nearest_tap(o, n_in, n_out);
    else if (mode == 0)
        fp_bilinear_tap(o, n_in, n_out, &t.i0, &t.i1, &t.w);
    else
        fp_area_span(o, n_in, n_out, &t.i0, &t.i1);
    return t;
}

/* Computes output pixel (ox, oy) of the preprocess from frame f into tensor slot d, given its taps
 * (fp_axis_tap of ox and oy; the CPU tabulates them once per call, the GPU computes them). */
FP_HD void fp_pre_pixel_taps(const fp_pre_args *a, const fp_frame_desc *f, const fp_tensor_desc *d, int ox,
                             int oy, fp_tap tx, fp_tap ty)
{
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    int nc = d->c;
    if (a->mode == 2) { /* nearest */
        fp_pre_fetch(a, f, a->cx + tx.i0, a->cy + ty.i0, acc);
    } else if (a->mode == 0) { /* bilinear */
        int x0 = tx.i0, x1 = tx.i1, y0 = ty.i0, y1 = ty.i1;
        float wx = tx.w, wy = ty.w, p00[4], p01[4], p10[4], p11[4];
        /* a tap of weight 0 contributes exactly nothing (inputs are finite), so skipping its
         * fetch changes no bit and saves most of the work at identity and integer scales */
        fp_pre_fetch(a, f, a->cx + x0, a->cy + y0, p00);
        if (wx != 0.0f)
            fp_pre_fetch(a, f, a->cx + x1, a->cy + y0, p01);
        else
            memcpy(p01, p00, sizeof(p00));
        if (wy != 0.0f) {
            fp_pre_fetch(a, f, a->cx + x0, a->cy + y1, p10);
            if (wx != 0.0f)
                fp_pre_fetch(a, f, a->cx + x1, a->cy + y1, p11);
            else
                memcpy(p11, p10, sizeof(p10));
        } else {
            memcpy(p10, p00, sizeof(p00));
            memcpy(p11, p01, sizeof(p01));
        }
        for (int c = 0; c < 4; c++) {
            float top = p00[c] + (p01[c] - p00[c]) * wx;
            float bot = p10[c] + (p11[c] - p10[c]) * wx;
            acc[c] = top + (bot - top) * wy;
        }
    } else { /* area: weights are exact integers (< 2^24 for frames below 4096 px) */
        int ix0 = tx.i0, ix1 = tx.i1, iy0 = ty.i0, iy1 = ty.i1;
        if (ix0 == ix1 && iy0 == iy1) { /* box inside one pixel (identity, upscale): exact */
            fp_pre_fetch(a, f, a->cx + ix0, a->cy + iy0, acc);
        } else {
            float wsum = 0.0f;
            for (int y = iy0; y <= iy1; y++) {
                float wy = fp_area_weight(y, oy, a->ch, d->h), row[4] = {0.0f, 0.0f, 0.0f, 0.0f};
                float rsum = 0.0f;
                for (int x = ix0; x <= ix1; x++) {
                    float wx = fp_area_weight(x, ox, a->cw, d->w), p[4];
                    fp_pre_fetch(a, f, a->cx + x, a->cy + y, p);
                    for (int c = 0; c < 4; c++)
                        row[c] += p[c] * wx;
                    rsum += wx;
                }
                for (int c = 0; c < 4; c++)
                    acc[c] += row[c] * wy;
                wsum += rsum * wy;
            }
            for (int c = 0; c < 4; c++)
                acc[c] = acc[c] / wsum;
        }
    }
    for (int c = 0; c < 3; c++)
        fp_tensor_store(d, ox, oy, c, (acc[c] - a->mean[c]) / a->std[c]);
    if (nc == 4)
        fp_tensor_store(d, ox, oy, 3, acc[3]);
}

/* Output pixel (ox, oy), taps computed here (a->s and a->d for a single frame; the batched kernel
 * passes its frame and slot). */
FP_HD void fp_pre_pixel(const fp_pre_args *a, const fp_frame_desc *f, const fp_tensor_desc *d, int ox, int oy)
{
    fp_pre_pixel_taps(a, f, d, ox, oy, fp_axis_tap(a->mode, ox, a->cw, d->w), fp_axis_tap(a->mode, oy, a->ch, d->h));
}

/* ---- postprocess ---- */

FP_HD void fp_post_load(const fp_post_args *a, int x, int y, float px[4])
{
    for (int c = 0; c < 3; c++)
        px[c] = fp_clamp01(fp_tensor_load(&a->rgb, x, y, c));
    if (a->alpha.data)
        px[3] = fp_clamp01(fp_tensor_load(&a->alpha, x, y, 0));
    else if (a->rgb.c == 4)
        px[3] = fp_clamp01(fp_tensor_load(&a->rgb, x, y, 3));
    else
        px[3] = 1.0f;
    if (a->compose == 1 || a->compose == 2) { /* over a background: f * a + b * (1 - a), opaque */
        for (int c = 0; c < 3; c++) {
            float b = a->compose == 1 ? a->bgc[c] : fp_clamp01(fp_tensor_load(&a->bg, x, y, c));
            px[c] = px[c] * px[3] + b * (1.0f - px[3]);
        }
        px[3] = 1.0f;
    } else if (a->compose == 3) { /* premultiplied */
        for (int c = 0; c < 3; c++)
            px[c] = px[c] * px[3];
    }
}

/* Round to nearest (ties up) and clamp to [0, maxv]; NaN -> 0. Truncation equals floor once
 * t >= 1, which avoids libm's floorf on the host. */
FP_HD int fp_round_code(float v, int maxv)
{
    float t = v + 0.5f;
    if (!(t >= 1.0f))
        return 0;
    if (t >= (float)maxv)
        return maxv;
    return (int)t;
}

FP_HD float fp_post_comp(const fp_post_args *a, int k, const float *px)
{
    return a->m[k][0] * px[0] + a->m[k][1] * px[1] + a->m[k][2] * px[2] + a->off[k];
}

FP_HD void fp_post_put_chroma(const fp_post_args *a, int cx, int cy, int u, int v)
{
    const fp_frame_desc *f = &a->d;
    if (f->nv) {
        fp_sample_put(f, 1, 2 * cx, cy, u);
        fp_sample_put(f, 1, 2 * cx + 1, cy, v);
    } else {
        fp_sample_put(f, 1, cx, cy, u);
        fp_sample_put(f, 2, cx, cy, v);
    }
}

/*
 * Writes the block of luma pixels that shares chroma sample (bx, by) (one pixel for 4:4:4 and RGB
 * formats). Subsampled chroma is filtered in RGB (linear, so equal to filtering U,V) with MPEG-2
 * siting: taps 1/4,1/2,1/4 on columns 2bx-1..2bx+1, and 1/2,1/2 on rows 2by, 2by+1 for 4:2:0.
 */
FP_HD void fp_post_block(const fp_post_args *a, int bx, int by)
{
    const fp_frame_desc *f = &a->d;
    int x0 = bx << f->ssx, y0 = by << f->ssy;
    int x1 = fp_imin(x0 + (1 << f->ssx), f->w), y1 = fp_imin(y0 + (1 << f->ssy), f->h);
    for (int y = y0; y < y1; y++) {
        for (int x = x0; x < x1; x++) {
            float px[4];
            fp_post_load(a, x, y, px);
            if (f->kind == FP_KIND_YUV) {
                fp_sample_put(f, 0, x, y, fp_round_code(fp_post_comp(a, 0, px), f->maxv));
                if (!f->ssx && !f->ssy)
                    fp_post_put_chroma(a, x, y, fp_round_code(fp_post_comp(a, 1, px), f->maxv),
                                       fp_round_code(fp_post_comp(a, 2, px), f->maxv));
                if (f->alpha)
                    fp_sample_put(f, 3, x, y, fp_round_code(px[3] * (float)f->maxv, f->maxv));
            } else if (f->kind == FP_KIND_GBR) {
                fp_sample_put(f, 0, x, y, fp_round_code(px[1] * (float)f->maxv, f->maxv));
                fp_sample_put(f, 1, x, y, fp_round_code(px[2] * (float)f->maxv, f->maxv));
                fp_sample_put(f, 2, x, y, fp_round_code(px[0] * (float)f->maxv, f->maxv));
                if (f->alpha)
                    fp_sample_put(f, 3, x, y, fp_round_code(px[3] * (float)f->maxv, f->maxv));
            } else {
                uint8_t *p = f->data[0] + (ptrdiff_t)y * f->linesize[0] + (ptrdiff_t)x * f->step;
                for (int c = 0; c < 3; c++)
                    p[c] = (uint8_t)fp_round_code(px[c] * 255.0f, 255);
                if (f->alpha)
                    p[3] = (uint8_t)fp_round_code(px[3] * 255.0f, 255);
            }
        }
    }
    if (f->kind == FP_KIND_YUV && (f->ssx || f->ssy)) {
        float acc[3] = {0.0f, 0.0f, 0.0f};
        int ny = f->ssy ? 2 : 1;
        for (int j = 0; j < ny; j++) {
            int y = fp_imin(y0 + j, f->h - 1);
            float wy = f->ssy ? 0.5f : 1.0f;
            float row[3] = {0.0f, 0.0f, 0.0f};
            if (f->ssx) {
                for (int i = 0; i < 3; i++) {
                    float w = i == 1 ? 0.5f : 0.25f;
                    int x = fp_imin(fp_imax(x0 - 1 + i, 0), f->w - 1);
                    float px[4];
                    fp_post_load(a, x, y, px);
                    for (int c = 0; c < 3; c++)
                        row[c] += px[c] * w;
                }
            } else {
                float px[4];
                fp_post_load(a, x0, y, px);
                for (int c = 0; c < 3; c++)
                    row[c] = px[c];
            }
            for (int c = 0; c < 3; c++)
                acc[c] += row[c] * wy;
        }
        fp_post_put_chroma(a, bx, by, fp_round_code(fp_post_comp(a, 1, acc), f->maxv),
                           fp_round_code(fp_post_comp(a, 2, acc), f->maxv));
    }
}

#endif
