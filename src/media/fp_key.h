/*
 * fp_key — chroma key on float RGB: the alpha of each pixel from its chroma distance to a key colour.
 *
 * Owns: the key maths only (colour, tolerance, softness -> alpha in [0,1]) on an fp_planar RGB image
 * in [0,1]. Does not own colour conversion from/to video frames (fp_image.h) or the stage plumbing
 * (fp_transcode.h runs it as a processing stage).
 *
 * Distance: Euclidean between the pixel's and the key's (Cb, Cr) under BT.601 full-range weights,
 * as FFmpeg's chromakey filter measures it, so luma alone (light/shadow on grey) never keys; a darker
 * shade of the key colour has smaller chroma and sits further away. alpha = 0 when d <= tolerance,
 * rising linearly to 1 over `softness` (softness 0: a hard edge). Tolerance ~0.1-0.2 suits studio
 * green (pure green is 0.53 from grey).
 */
#ifndef FP_KEY_H
#define FP_KEY_H

#include <stdint.h>

#include "core/fp_error.h"
#include "gpu/fp_image.h"

typedef struct fp_key {
    float rgb[3];     /* key colour in [0,1] */
    float tolerance;  /* chroma distance keyed fully transparent, [0, 1] */
    float softness;   /* ramp width above tolerance, [0, 1] */
} fp_key;

/* Parses "RRGGBB" (optionally with a leading '#' or "0x"). Returns 0 or FP_EINVAL. */
int fp_key_parse_color(const char *s, float rgb[3]);

/* alpha (1 channel, fp32, host) from rgb (3 channels, fp32, host), same width/height/layout.
 * Returns 0, or FP_EINVAL for mismatched or unsupported (fp16, device) planes. */
int fp_key_apply(const fp_key *k, const fp_planar *rgb, const fp_planar *alpha, fp_err *e);

#ifdef FP_HAVE_CUDA
/* The device twin (fp_key_cuda.cu): same planes in CUDA memory, queued on `stream` (a cudaStream_t),
 * nothing allocated or synchronised. Same results as fp_key_apply to the bit (shared fp_key_core.h).
 * FP_EINVAL for planes it cannot read (host, fp16, mismatched), FP_EDEVICE when the launch fails. */
int fp_key_apply_cuda(const fp_key *k, const fp_planar *rgb, const fp_planar *alpha, void *stream, fp_err *e);
#endif

#endif
