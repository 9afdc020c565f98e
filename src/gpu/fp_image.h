/*
 * fp_image — the frame and tensor descriptions shared by the media pipeline, the colour/resize kernels
 * (src/gpu) and the tasks. A frame is described like an AVFrame (planes + linesizes) so a decoded
 * AVFrame, software or CUDA (NV12/P010 in device memory), can be wrapped without copying.
 *
 * Owns: the descriptions and the pre/post-processing API (implemented in fp_color_cpu.c and, with
 * CUDA, fp_color_cuda.cu — the CUDA functions take device pointers and a cudaStream_t and are the
 * GPU twins of the CPU ones, compared in tests). Does not own allocation of frames (media) or tensors
 * (nn). Every function returns 0 or a negative FP_E* code (FP_EINVAL for bad geometry/formats).
 */
#ifndef FP_IMAGE_H
#define FP_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/fp_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum fp_pixfmt {
    FP_PIX_NONE = 0,
    FP_PIX_YUV420P,     /* 8-bit planar 4:2:0 */
    FP_PIX_YUV420P10,   /* 10-bit in 16-bit little-endian words, low bits (FFmpeg yuv420p10le) */
    FP_PIX_YUV422P,
    FP_PIX_YUV422P10,
    FP_PIX_YUV444P,
    FP_PIX_YUV444P10,
    FP_PIX_NV12,        /* 8-bit Y plane + interleaved UV */
    FP_PIX_P010,        /* 10-bit in the high bits of 16-bit words, Y + interleaved UV */
    FP_PIX_YUVA420P,    /* yuv420p + full-resolution alpha plane */
    FP_PIX_YUVA444P10,  /* ProRes 4444 with alpha (yuva444p10le) */
    FP_PIX_GBRP,        /* planar G,B,R 8-bit */
    FP_PIX_GBRAP,       /* planar G,B,R,A 8-bit */
    FP_PIX_GBRP10,
    FP_PIX_GBRAP10,
    FP_PIX_RGB24,       /* packed */
    FP_PIX_RGBA,        /* packed */
    FP_PIX_YUV444P16,   /* 16-bit 4:4:4 (yuv444p16le), what NVDEC gives for 10/12-bit 4:4:4 (data in the
                         * high bits): read as 16-bit codes, exact for limited range at any depth */
    FP_PIX_COUNT
} fp_pixfmt;

typedef enum fp_matrix {
    FP_MATRIX_BT601 = 0,
    FP_MATRIX_BT709 = 1,
    FP_MATRIX_BT2020 = 2,   /* non-constant luminance */
} fp_matrix;

typedef struct fp_colorspace {
    fp_matrix matrix;
    int full_range;          /* 0 = limited (16-235 / 64-940), 1 = full */
} fp_colorspace;

typedef struct fp_image {
    fp_pixfmt fmt;
    int width, height;
    uint8_t *data[4];        /* host or device pointers, per `on_device` */
    int linesize[4];         /* bytes per row of each plane */
    int on_device;           /* 1: CUDA device memory */
} fp_image;

typedef struct fp_rect {
    int x, y, w, h;          /* w == 0 or h == 0 means the whole frame */
} fp_rect;

typedef enum fp_resize_mode {
    FP_RESIZE_BILINEAR = 0,  /* half-pixel centres (align_corners = 0), like swscale's bilinear */
    FP_RESIZE_AREA = 1,      /* box filter over the covered source area (downscale) */
    FP_RESIZE_NEAREST = 2,
} fp_resize_mode;

typedef enum fp_layout { FP_LAYOUT_NCHW = 0, FP_LAYOUT_NHWC = 1 } fp_layout;
/* Sample type of a model-side image (not framepipe.h's fp_dtype, which describes model tensors). */
typedef enum fp_sample_type { FP_DTYPE_F32 = 0, FP_DTYPE_F16 = 1 } fp_sample_type;

/* A model-side float image: batch index `n` of an N×C×H×W (or N×H×W×C) tensor. */
typedef struct fp_planar {
    void *data;              /* start of the whole tensor (host or device) */
    fp_layout layout;
    fp_sample_type dtype;
    int channels;            /* 1 (alpha/gray), 3 (RGB) or 4 (RGBA) */
    int width, height;
    int n;                   /* batch index this call reads/writes */
    int on_device;
} fp_planar;

typedef struct fp_preprocess {
    fp_colorspace cs;        /* source matrix and range */
    fp_rect crop;            /* in source pixels, applied before resize */
    fp_resize_mode resize;
    float mean[3], std[3];   /* out = (rgb01 - mean) / std; identity: mean 0, std 1 */
} fp_preprocess;

/*
 * Semantics shared by the CPU reference and the CUDA twins (docs/color.md has the details):
 * - Chroma siting of subsampled sources: MPEG-2 ("left"): a chroma sample is co-sited with the even
 *   luma column and lies vertically halfway between two luma rows (4:2:0). Chroma is interpolated
 *   bilinearly at every luma position of the whole frame, then converted; RGB is clamped to [0,1]
 *   per source pixel before any resize.
 * - Crop: any pixel offset and size inside the frame, also odd ones for subsampled formats (chroma
 *   is interpolated at the luma position, so there is no alignment rule). Resize samples only
 *   inside the crop (edges replicate), so crop+resize equals resizing the cropped frame.
 * - Resize from the crop to dst->width x dst->height: BILINEAR = 2x2 taps at half-pixel centres
 *   (no anti-aliasing; use AREA to downscale), AREA = exact box average with fractional edge
 *   weights, NEAREST = the source pixel whose centre is nearest ((o + 0.5) * scale, floored).
 * - dst->channels 3 (RGB) or 4 (RGB + alpha; alpha 1.0 for formats without alpha, never
 *   normalised). RGB sources (GBRP*, RGB24, RGBA) ignore `cs`.
 * - std[c] must be non-zero: a zeroed fp_preprocess is refused; start from fp_preprocess_init().
 * - Postprocess (RGB -> YUV) writes 4:2:0 chroma with the same MPEG-2 siting: horizontal taps
 *   1/4, 1/2, 1/4 around the even column, vertical average of the two rows (edges replicate).
 *   Values are clamped to [0,1] (NaN -> 0) before conversion, results rounded to nearest.
 *   dst must have the size of rgb; every fp_pixfmt is accepted as source and as destination,
 *   except yuv444p16le, a source only (refused as a destination with FP_EINVAL).
 * Changes from the first draft of this header (color helper): fp_preprocess_init(), 4-channel
 * preprocess output, fp_color_cpu_set_threads(), the batched CUDA entry point, C++ linkage guards,
 * postprocess compositing (fp_compose, fp_postprocess_compose_*).
 */

/* Identity defaults: BT.709 limited range, whole frame, bilinear, mean 0, std 1. */
void fp_preprocess_init(fp_preprocess *p);

const char *fp_pixfmt_name(fp_pixfmt f);
int fp_pixfmt_has_alpha(fp_pixfmt f);
int fp_pixfmt_bit_depth(fp_pixfmt f);

/* Source frame -> float RGB in [0,1] (then normalised) written into batch slot dst->n of dst
 * (3 or 4 channels). CPU reference: host memory only. A small table (12 bytes per output column)
 * is allocated and freed inside the call (FP_ENOMEM if that fails); dst is the caller's. Argument
 * errors (FP_EINVAL) are found before anything is written. */
int fp_preprocess_cpu(const fp_image *src, const fp_preprocess *p, const fp_planar *dst, fp_err *e);

/* Float RGB(A) in [0,1] -> frame in dst->fmt (alpha from `alpha` (1 channel) when not NULL, else
 * from the 4th channel of rgb; formats without alpha drop it; formats with alpha and no alpha
 * given get opaque). Negative linesizes (bottom-up frames) are fine on both sides. Values
 * are clamped; rounding is to nearest. CPU reference. dst planes are the caller's. */
int fp_postprocess_cpu(const fp_planar *rgb, const fp_planar *alpha, fp_image *dst,
                       const fp_colorspace *cs, fp_err *e);

/* Compositing done by the postprocess before conversion (the matte task's output stage). All inputs
 * are clamped to [0,1] first (NaN -> 0); with alpha a, foreground f and background b:
 *   COLOR / IMAGE:  rgb = f * a + b * (1 - a), then alpha = 1 (the result is opaque; a format with
 *                   alpha gets an opaque plane);
 *   PREMULTIPLY:    rgb = f * a, alpha = a (premultiplied output for formats that carry alpha).
 * Alpha is what fp_postprocess_cpu would write: the separate alpha tensor, else rgb channel 3,
 * else 1. */
typedef enum fp_compose_mode {
    FP_COMPOSE_NONE = 0,        /* straight: same as fp_postprocess_cpu */
    FP_COMPOSE_COLOR = 1,       /* over the flat colour `color` */
    FP_COMPOSE_IMAGE = 2,       /* over `background`: an RGB tensor (3 channels; a 4th is ignored)
                                 * of the frame's size, slot background->n, same memory as rgb */
    FP_COMPOSE_PREMULTIPLY = 3,
} fp_compose_mode;

typedef struct fp_compose {
    fp_compose_mode mode;
    float color[3];             /* COLOR: R, G, B in [0,1] (clamped; must be finite) */
    const fp_planar *background;/* IMAGE; borrowed for the call */
} fp_compose;

/* fp_postprocess_cpu with compositing (`comp` NULL: none). Same ownership and errors; a bad
 * compose (unknown mode, non-finite colour, missing or mis-sized background) is FP_EINVAL. */
int fp_postprocess_compose_cpu(const fp_planar *rgb, const fp_planar *alpha, const fp_compose *comp,
                               fp_image *dst, const fp_colorspace *cs, fp_err *e);

/* Threads the CPU functions use (default 1; clamped to 1..64). The output does not depend on it.
 * Set it once at start-up: it is a process-wide setting, not synchronised. */
void fp_color_cpu_set_threads(int n);

/* Frames per launch of fp_preprocess_cuda_batch (larger batches take several launches). */
#define FP_COLOR_MAX_BATCH 16

#ifdef FP_HAVE_CUDA
/* GPU twins: same semantics, device pointers, queued on `stream` (a cudaStream_t). Frames may be
 * pitched (linesize > row bytes, as NVDEC gives them). Errors: FP_EINVAL for bad arguments (checked
 * before launch), FP_EDEVICE when the launch fails. Kernel faults surface at the next sync. */
int fp_preprocess_cuda(const fp_image *src, const fp_preprocess *p, const fp_planar *dst, void *stream,
                       fp_err *e);
/* `count` frames of one format and size (src[0..count-1]) into batch slots dst->n .. dst->n+count-1
 * in as few launches as possible (FP_COLOR_MAX_BATCH frames per launch). */
int fp_preprocess_cuda_batch(const fp_image *src, int count, const fp_preprocess *p,
                             const fp_planar *dst, void *stream, fp_err *e);
int fp_postprocess_cuda(const fp_planar *rgb, const fp_planar *alpha, fp_image *dst,
                        const fp_colorspace *cs, void *stream, fp_err *e);
int fp_postprocess_compose_cuda(const fp_planar *rgb, const fp_planar *alpha, const fp_compose *comp,
                                fp_image *dst, const fp_colorspace *cs, void *stream, fp_err *e);
#endif

#ifdef __cplusplus
}
#endif

#endif
