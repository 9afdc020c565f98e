/*
 * matte_stage — the matte task as a fp_transcode processing stage: runs fp_matte on each float RGB
 * frame and writes what the output wants (RGBA with straight or premultiplied alpha, a composite over
 * a colour or an image, the matte as grey, or the foreground alone).
 *
 * Owns: the per-frame compose on host fp32 planes and the stage's scratch buffers and timing. Does not
 * own the model (matte.h; borrowed) nor decoding/encoding (fp_transcode.h).
 */
#ifndef FP_TASKS_MATTE_STAGE_H
#define FP_TASKS_MATTE_STAGE_H

#include <stdint.h>

#include "core/fp_error.h"
#include "gpu/fp_image.h"
#include "tasks/matte.h"

typedef enum fp_matte_mode {
    FP_MATTE_MODE_RGBA = 0,   /* foreground + alpha (the stage makes alpha) */
    FP_MATTE_MODE_COMPOSITE,  /* foreground over bg_rgb or bg_image, no alpha */
    FP_MATTE_MODE_ALPHA,      /* the matte as grey (R = G = B = alpha) */
    FP_MATTE_MODE_FOREGROUND, /* the model's foreground colours, no alpha */
} fp_matte_mode;

typedef struct fp_matte_stage {
    fp_matte *m;              /* borrowed */
    fp_matte_mode mode;
    int premultiplied;        /* RGBA: colour multiplied by alpha */
    float bg_rgb[3];          /* COMPOSITE without bg_image */
    const float *bg_image;    /* COMPOSITE: planar RGB fp32 [0,1] of bg_w x bg_h (borrowed), NULL: colour */
    int bg_w, bg_h;
    /* hook: when set, called instead of fp_matte_run(m, ...) with the same arguments (the chunk
     * batcher, matte_chunks.c, gathers the frames of several stages into one model call) */
    int (*run)(void *run_opaque, const float *rgb, int w, int h, float *fgr, float *pha, fp_err *e);
    void *run_opaque;
    /* filled by the stage */
    float *fgr, *pha;         /* scratch (fp_matte_stage_uninit frees) */
    size_t cap;
    double model_s;           /* seconds inside fp_matte_run */
    int64_t frames;
    /* device path (fp_matte_stage_process_cuda): device scratch in the model's dtype, freed by uninit */
    void *d_fgr, *d_pha, *d_src16;
    float *d_bg;              /* bg_image uploaded once */
    size_t d_cap;
} fp_matte_stage;

/* The fp_process_stage callback; opaque is a fp_matte_stage. rgb is changed in place, alpha written in
 * RGBA mode. Returns 0 or the model's error (FP_EMODEL, FP_EDEVICE, FP_ENOMEM), FP_EINVAL for planes
 * it cannot read (device, fp16, not NCHW) or a background image of another size. */
int fp_matte_stage_process(void *opaque, const fp_planar *rgb, const fp_planar *alpha, int64_t pts, fp_err *e);

/* The device twin (fp_process_stage.process_cuda, CUDA builds): rgb/alpha are device fp32 NCHW planes
 * (fp_devpath.h); the frame goes to the model without leaving the GPU (an fp16 model gets an fp16 copy
 * of src), the recurrent state stays on the device (fp_matte_run_device), and the compose kernel writes
 * rgb/alpha like fp_matte_stage_process. Work before the model is synchronised on `stream`; the compose
 * is queued on it. Errors as fp_matte_stage_process, FP_EDEVICE for CUDA failures. */
int fp_matte_stage_process_cuda(void *opaque, const fp_planar *rgb, const fp_planar *alpha, int64_t pts,
                                void *stream, fp_err *e);

/* What to put in fp_process_stage.process_cuda for this model: fp_matte_stage_process_cuda when it runs
 * on the cuda backend of a CUDA build, else NULL (the host path runs). */
typedef int (*fp_matte_stage_cuda_fn)(void *, const fp_planar *, const fp_planar *, int64_t, void *, fp_err *);
fp_matte_stage_cuda_fn fp_matte_stage_device_fn(const fp_matte *m);

/* Free the scratch buffers; the model is not touched. */
void fp_matte_stage_uninit(fp_matte_stage *s);

#endif
