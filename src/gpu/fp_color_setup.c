/*
 * fp_color_setup — the pixel-format table, colour matrices and the validation that turns the public
 * pre/postprocess arguments (fp_image.h) into the resolved blocks the kernels run on
 * (fp_color_core.h). Shared by the CPU reference and the CUDA twins.
 *
 * Owns: which formats exist and how their planes are laid out; the YUV<->RGB coefficients
 * (BT.601/709/2020 non-constant luminance, limited/full range); every argument check. Does not
 * own any pixel loop. Nothing here allocates.
 */
#include "gpu/fp_color_priv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct fp_fmt_info {
    const char *name;    /* FFmpeg's name, so logs and ffprobe agree */
    int kind, bytes, shift, depth, ssx, ssy, nv, alpha, step;
} fp_fmt_info;

static const fp_fmt_info fmt_table[FP_PIX_COUNT] = {
    /*                     name            kind            B  sh  d  sx sy nv a  step */
    [FP_PIX_NONE]       = {"none",          0,             0, 0,  0, 0, 0, 0, 0, 0},
    [FP_PIX_YUV420P]    = {"yuv420p",       FP_KIND_YUV,   1, 0,  8, 1, 1, 0, 0, 0},
    [FP_PIX_YUV420P10]  = {"yuv420p10le",   FP_KIND_YUV,   2, 0, 10, 1, 1, 0, 0, 0},
    [FP_PIX_YUV422P]    = {"yuv422p",       FP_KIND_YUV,   1, 0,  8, 1, 0, 0, 0, 0},
    [FP_PIX_YUV422P10]  = {"yuv422p10le",   FP_KIND_YUV,   2, 0, 10, 1, 0, 0, 0, 0},
    [FP_PIX_YUV444P]    = {"yuv444p",       FP_KIND_YUV,   1, 0,  8, 0, 0, 0, 0, 0},
    [FP_PIX_YUV444P10]  = {"yuv444p10le",   FP_KIND_YUV,   2, 0, 10, 0, 0, 0, 0, 0},
    [FP_PIX_NV12]       = {"nv12",          FP_KIND_YUV,   1, 0,  8, 1, 1, 1, 0, 0},
    [FP_PIX_P010]       = {"p010le",        FP_KIND_YUV,   2, 6, 10, 1, 1, 1, 0, 0},
    [FP_PIX_YUVA420P]   = {"yuva420p",      FP_KIND_YUV,   1, 0,  8, 1, 1, 0, 1, 0},
    [FP_PIX_YUVA444P10] = {"yuva444p10le",  FP_KIND_YUV,   2, 0, 10, 0, 0, 0, 1, 0},
    [FP_PIX_GBRP]       = {"gbrp",          FP_KIND_GBR,   1, 0,  8, 0, 0, 0, 0, 0},
    [FP_PIX_GBRAP]      = {"gbrap",         FP_KIND_GBR,   1, 0,  8, 0, 0, 0, 1, 0},
    [FP_PIX_GBRP10]     = {"gbrp10le",      FP_KIND_GBR,   2, 0, 10, 0, 0, 0, 0, 0},
    [FP_PIX_GBRAP10]    = {"gbrap10le",     FP_KIND_GBR,   2, 0, 10, 0, 0, 0, 1, 0},
    [FP_PIX_RGB24]      = {"rgb24",         FP_KIND_PACKED,1, 0,  8, 0, 0, 0, 0, 3},
    [FP_PIX_RGBA]       = {"rgba",          FP_KIND_PACKED,1, 0,  8, 0, 0, 0, 1, 4},
    [FP_PIX_YUV444P16]  = {"yuv444p16le",   FP_KIND_YUV,   2, 0, 16, 0, 0, 0, 0, 0},
};

static const fp_fmt_info *fmt_get(fp_pixfmt f)
{
    if ((int)f <= FP_PIX_NONE || f >= FP_PIX_COUNT)
        return NULL;
    return &fmt_table[f];
}

const char *fp_pixfmt_name(fp_pixfmt f)
{
    const fp_fmt_info *i = fmt_get(f);
    return i ? i->name : "none";
}

int fp_pixfmt_has_alpha(fp_pixfmt f)
{
    const fp_fmt_info *i = fmt_get(f);
    return i ? i->alpha : 0;
}

int fp_pixfmt_bit_depth(fp_pixfmt f)
{
    const fp_fmt_info *i = fmt_get(f);
    return i ? i->depth : 0;
}

void fp_preprocess_init(fp_preprocess *p)
{
    memset(p, 0, sizeof(*p));
    p->cs.matrix = FP_MATRIX_BT709;
    p->cs.full_range = 0;
    p->resize = FP_RESIZE_BILINEAR;
    for (int c = 0; c < 3; c++)
        p->std[c] = 1.0f;
}

/* Kr, Kb of each matrix (ITU-R BT.601, BT.709, BT.2020 non-constant luminance). */
static int matrix_coeffs(fp_matrix m, double *kr, double *kb)
{
    switch (m) {
    case FP_MATRIX_BT601: *kr = 0.299;  *kb = 0.114;  return 0;
    case FP_MATRIX_BT709: *kr = 0.2126; *kb = 0.0722; return 0;
    case FP_MATRIX_BT2020: *kr = 0.2627; *kb = 0.0593; return 0;
    }
    return -1;
}

/* Code-value ranges: Y' in [0,1] maps to yo + Y' * yr, Cb/Cr in [-1/2,1/2] to co + C * cr. */
static void range_coeffs(int depth, int full, double *yo, double *yr, double *co, double *cr)
{
    double s = (double)(1 << (depth - 8)), maxv = (double)((1 << depth) - 1);
    *co = 128.0 * s;
    if (full) {
        *yo = 0.0;
        *yr = maxv;
        *cr = maxv;
    } else {
        *yo = 16.0 * s;
        *yr = 219.0 * s;
        *cr = 224.0 * s;
    }
}

static int frame_check(const char *stage, const fp_image *img, int on_device, fp_frame_desc *d,
                       fp_err *e)
{
    const fp_fmt_info *fi;
    if (!img)
        return fp_errorf(e, FP_EINVAL, "%s: no frame given", stage);
    fi = fmt_get(img->fmt);
    if (!fi)
        return fp_errorf(e, FP_EINVAL, "%s: unknown pixel format %d", stage, (int)img->fmt);
    if (img->width <= 0 || img->height <= 0)
        return fp_errorf(e, FP_EINVAL, "%s: %s frame has size %dx%d", stage, fi->name, img->width,
                         img->height);
    if (!!img->on_device != !!on_device)
        return fp_errorf(e, FP_EINVAL, "%s: %s frame is in %s memory, this function needs %s memory",
                         stage, fi->name, img->on_device ? "device" : "host",
                         on_device ? "device" : "host");
    memset(d, 0, sizeof(*d));
    d->w = img->width;
    d->h = img->height;
    d->kind = fi->kind;
    d->bytes = fi->bytes;
    d->shift = fi->shift;
    d->maxv = (1 << fi->depth) - 1;
    d->ssx = fi->ssx;
    d->ssy = fi->ssy;
    d->nv = fi->nv;
    d->alpha = fi->alpha;
    d->step = fi->step;

    int nplanes, rowbytes[4] = {0};
    int cw = (img->width + (1 << fi->ssx) - 1) >> fi->ssx;
    if (fi->kind == FP_KIND_PACKED) {
        nplanes = 1;
        rowbytes[0] = img->width * fi->step;
    } else {
        rowbytes[0] = img->width * fi->bytes;
        if (fi->nv) {
            nplanes = 2;
            rowbytes[1] = 2 * cw * fi->bytes;
        } else {
            nplanes = 3;
            rowbytes[1] = rowbytes[2] = (fi->kind == FP_KIND_YUV ? cw : img->width) * fi->bytes;
        }
        if (fi->alpha) {
            rowbytes[3] = img->width * fi->bytes;
            nplanes = 4;
        }
    }
    for (int i = 0; i < nplanes; i++) {
        if (!rowbytes[i])
            continue;
        if (!img->data[i])
            return fp_errorf(e, FP_EINVAL, "%s: %s frame has no plane %d", stage, fi->name, i);
        if (abs(img->linesize[i]) < rowbytes[i])
            return fp_errorf(e, FP_EINVAL, "%s: %s %dx%d plane %d linesize %d < %d bytes per row",
                             stage, fi->name, img->width, img->height, i, img->linesize[i],
                             rowbytes[i]);
        if (fi->bytes == 2 && (((uintptr_t)img->data[i] | (uintptr_t)img->linesize[i]) & 1))
            return fp_errorf(e, FP_EINVAL, "%s: %s plane %d is not 2-byte aligned", stage, fi->name, i);
        d->data[i] = img->data[i];
        d->linesize[i] = img->linesize[i];
    }
    return 0;
}

static int tensor_check(const char *stage, const char *what, const fp_planar *t, int on_device,
                        int cmin, int cmax, fp_tensor_desc *d, fp_err *e)
{
    if (!t || !t->data)
        return fp_errorf(e, FP_EINVAL, "%s: no %s tensor data", stage, what);
    if (t->channels < cmin || t->channels > cmax)
        return fp_errorf(e, FP_EINVAL, "%s: %s tensor has %d channels (%d..%d supported)", stage, what,
                         t->channels, cmin, cmax);
    if (t->width <= 0 || t->height <= 0 || t->n < 0)
        return fp_errorf(e, FP_EINVAL, "%s: %s tensor has size %dx%d, batch index %d", stage, what,
                         t->width, t->height, t->n);
    if (t->layout != FP_LAYOUT_NCHW && t->layout != FP_LAYOUT_NHWC)
        return fp_errorf(e, FP_EINVAL, "%s: %s tensor has unknown layout %d", stage, what, (int)t->layout);
    if (t->dtype != FP_DTYPE_F32 && t->dtype != FP_DTYPE_F16)
        return fp_errorf(e, FP_EINVAL, "%s: %s tensor has unknown dtype %d", stage, what, (int)t->dtype);
    if (!!t->on_device != !!on_device)
        return fp_errorf(e, FP_EINVAL, "%s: %s tensor is in %s memory, this function needs %s memory",
                         stage, what, t->on_device ? "device" : "host", on_device ? "device" : "host");
    size_t esz = t->dtype == FP_DTYPE_F16 ? 2 : 4;
    size_t slot = (size_t)t->channels * t->width * t->height * esz;
    d->data = (uint8_t *)t->data + slot * (size_t)t->n;
    d->layout = t->layout;
    d->dtype = t->dtype;
    d->c = t->channels;
    d->w = t->width;
    d->h = t->height;
    return 0;
}

int fp_pre_setup(const fp_image *src, const fp_preprocess *p, const fp_planar *dst, int on_device,
                 fp_pre_args *a, fp_err *e)
{
    static const char *stage = "preprocess";
    int ret;
    memset(a, 0, sizeof(*a));
    if (!p)
        return fp_errorf(e, FP_EINVAL, "%s: no parameters given", stage);
    if ((ret = frame_check(stage, src, on_device, &a->s, e)) < 0)
        return ret;
    if ((ret = tensor_check(stage, "output", dst, on_device, 3, 4, &a->d, e)) < 0)
        return ret;

    fp_rect r = p->crop;
    if (r.w == 0 || r.h == 0) {
        r.x = r.y = 0;
        r.w = src->width;
        r.h = src->height;
    }
    if (r.x < 0 || r.y < 0 || r.w < 0 || r.h < 0 || r.x > src->width - r.w || r.y > src->height - r.h)
        return fp_errorf(e, FP_EINVAL, "%s: crop %dx%d+%d+%d is outside the %dx%d frame", stage, r.w, r.h,
                         r.x, r.y, src->width, src->height);
    a->cx = r.x;
    a->cy = r.y;
    a->cw = r.w;
    a->ch = r.h;
    if (p->resize != FP_RESIZE_BILINEAR && p->resize != FP_RESIZE_AREA && p->resize != FP_RESIZE_NEAREST)
        return fp_errorf(e, FP_EINVAL, "%s: unknown resize mode %d", stage, (int)p->resize);
    a->mode = p->resize;
    for (int c = 0; c < 3; c++) {
        if (!(p->std[c] != 0.0f) || !isfinite(p->std[c]) || !isfinite(p->mean[c]))
            return fp_errorf(e, FP_EINVAL, "%s: channel %d mean %g std %g (std must be finite and non-zero;"
                             " fp_preprocess_init() gives the identity)", stage, c, p->mean[c], p->std[c]);
        a->mean[c] = p->mean[c];
        a->std[c] = p->std[c];
    }
    a->inv_max = 1.0f / (float)a->s.maxv;

    if (a->s.kind == FP_KIND_YUV) {
        double kr, kb, kg, yo, yr, co, cr;
        if (matrix_coeffs(p->cs.matrix, &kr, &kb) < 0)
            return fp_errorf(e, FP_EINVAL, "%s: unknown colour matrix %d", stage, (int)p->cs.matrix);
        kg = 1.0 - kr - kb;
        range_coeffs(fp_pixfmt_bit_depth(src->fmt), p->cs.full_range, &yo, &yr, &co, &cr);
        double m[3][3] = {
            {1.0 / yr, 0.0, 2.0 * (1.0 - kr) / cr},
            {1.0 / yr, -2.0 * kb * (1.0 - kb) / kg / cr, -2.0 * kr * (1.0 - kr) / kg / cr},
            {1.0 / yr, 2.0 * (1.0 - kb) / cr, 0.0},
        };
        for (int c = 0; c < 3; c++) {
            for (int k = 0; k < 3; k++)
                a->m[c][k] = (float)m[c][k];
            a->off[c] = (float)(-yo * m[c][0] - co * (m[c][1] + m[c][2]));
        }
    }
    return 0;
}

int fp_post_setup(const fp_planar *rgb, const fp_planar *alpha, const fp_compose *comp, const fp_image *dst,
                  const fp_colorspace *cs, int on_device, fp_post_args *a, fp_err *e)
{
    static const char *stage = "postprocess";
    int ret;
    memset(a, 0, sizeof(*a));
    if ((ret = tensor_check(stage, "rgb", rgb, on_device, 3, 4, &a->rgb, e)) < 0)
        return ret;
    if (alpha && (ret = tensor_check(stage, "alpha", alpha, on_device, 1, 1, &a->alpha, e)) < 0)
        return ret;
    if ((ret = frame_check(stage, dst, on_device, &a->d, e)) < 0)
        return ret;
    if (dst->fmt == FP_PIX_YUV444P16) /* float codes near 65535 are only good to ~0.005 */
        return fp_errorf(e, FP_EINVAL, "%s: %s is an input-only format (16-bit codes cannot be rounded exactly "
                         "in float)", stage, fp_pixfmt_name(dst->fmt));
    if (rgb->width != dst->width || rgb->height != dst->height)
        return fp_errorf(e, FP_EINVAL, "%s: rgb tensor is %dx%d but the %s frame is %dx%d", stage,
                         rgb->width, rgb->height, fp_pixfmt_name(dst->fmt), dst->width, dst->height);
    if (alpha && (alpha->width != dst->width || alpha->height != dst->height))
        return fp_errorf(e, FP_EINVAL, "%s: alpha tensor is %dx%d but the frame is %dx%d", stage,
                         alpha->width, alpha->height, dst->width, dst->height);
    if (comp) {
        switch (comp->mode) {
        case FP_COMPOSE_NONE:
        case FP_COMPOSE_PREMULTIPLY:
            break;
        case FP_COMPOSE_COLOR:
            for (int c = 0; c < 3; c++) {
                if (!isfinite(comp->color[c]))
                    return fp_errorf(e, FP_EINVAL, "%s: compose colour channel %d is %g (must be finite)", stage,
                                     c, comp->color[c]);
                a->bgc[c] = fp_clamp01(comp->color[c]);
            }
            break;
        case FP_COMPOSE_IMAGE:
            if ((ret = tensor_check(stage, "background", comp->background, on_device, 3, 4, &a->bg, e)) < 0)
                return ret;
            if (comp->background->width != dst->width || comp->background->height != dst->height)
                return fp_errorf(e, FP_EINVAL, "%s: background tensor is %dx%d but the frame is %dx%d", stage,
                                 comp->background->width, comp->background->height, dst->width, dst->height);
            break;
        default:
            return fp_errorf(e, FP_EINVAL, "%s: unknown compose mode %d", stage, (int)comp->mode);
        }
        a->compose = comp->mode;
    }
    if (a->d.kind == FP_KIND_YUV) {
        double kr, kb, kg, yo, yr, co, cr;
        if (!cs)
            return fp_errorf(e, FP_EINVAL, "%s: a %s frame needs a colour space", stage,
                             fp_pixfmt_name(dst->fmt));
        if (matrix_coeffs(cs->matrix, &kr, &kb) < 0)
            return fp_errorf(e, FP_EINVAL, "%s: unknown colour matrix %d", stage, (int)cs->matrix);
        kg = 1.0 - kr - kb;
        range_coeffs(fp_pixfmt_bit_depth(dst->fmt), cs->full_range, &yo, &yr, &co, &cr);
        double m[3][3] = {
            {yr * kr, yr * kg, yr * kb},
            {cr * -kr / (2.0 * (1.0 - kb)), cr * -kg / (2.0 * (1.0 - kb)), cr * 0.5},
            {cr * 0.5, cr * -kg / (2.0 * (1.0 - kr)), cr * -kb / (2.0 * (1.0 - kr))},
        };
        for (int c = 0; c < 3; c++)
            for (int k = 0; k < 3; k++)
                a->m[c][k] = (float)m[c][k];
        a->off[0] = (float)yo;
        a->off[1] = a->off[2] = (float)co;
    }
    return 0;
}
