/*
 * fp_transcode — the processing path as one small C API: open an input, configure every stage and
 * refuse bad combinations before anything is decoded, then run decode -> convert/process -> encode
 * pool -> mux, and publish the output under its final name only when complete.
 *
 * Owns: the run of one file (or one frame range of it, for the jobs module's chunks), stream copy of
 * audio/subtitle/data streams, chapters and metadata, the output's temporary name and its publication,
 * and the optional processing stage on float RGB (crop/scale via fp_image.h, key, later a model).
 * Does not own decoding details (fp_input.h), encoder knowledge (fp_encoder.h) or the pool
 * (fp_encpool.h).
 *
 * Usage:
 *     fp_transcode_opts o;  fp_transcode_opts_default(&o);  o.input = ...; o.output = ...;
 *     fp_transcode *t;  if (fp_transcode_open(&t, &o, &err) == 0) ret = fp_transcode_run(t, &err);
 *     fp_transcode_freep(&t);   // removes the temporary file unless run() published it
 */
#ifndef FP_TRANSCODE_H
#define FP_TRANSCODE_H

#include <stdint.h>
#include <stdio.h>

#include <libavutil/dict.h>
#include <libavutil/rational.h>

#include "core/fp_error.h"
#include "gpu/fp_image.h"
#include "media/fp_audio.h"
#include "media/fp_input.h"

/*
 * A processing stage on float RGB frames (the key, later a model). Called on the processing thread,
 * in frame order. rgb is fp32 NCHW host memory in [0,1] and may be changed in place; when the stage
 * produces alpha it writes `alpha` (1 channel, same size). Returns 0 or a negative FP_E* code.
 */
typedef struct fp_process_stage {
    const char *name;
    int makes_alpha;
    int (*process)(void *opaque, const fp_planar *rgb, const fp_planar *alpha, int64_t pts, fp_err *e);
    void *opaque;
    /* Optional device twin (CUDA builds, NVDEC decode): the same planes in device memory, work queued on
     * `stream` (a cudaStream_t; the caller synchronises). With it the frame never leaves the GPU until
     * the encoder-format download (fp_devpath.h); without it the host path runs. */
    int (*process_cuda)(void *opaque, const fp_planar *rgb, const fp_planar *alpha, int64_t pts, void *stream,
                        fp_err *e);
    /* 1: the stage computes on the GPU anyway (a CUDA model): CPU-decoded frames are uploaded once and take
     * the device path too. 0: CPU-decoded frames take the host path (the key: the CPU path stays as is). */
    int prefer_device;
} fp_process_stage;

typedef struct fp_transcode_opts {
    const char *input;
    const char *output;
    const char *vcodec;          /* FFmpeg encoder name; NULL: from the output's extension */
    const AVDictionary *enc_opts;/* pass-through encoder options (borrowed) */
    const char *pix_fmt;         /* explicit encoder pixel format; NULL: chosen, with refusals */
    fp_rect crop;                /* w == 0: no crop */
    int scale_w, scale_h;        /* 0: no scale */
    AVRational fps;              /* {0,0}: keep the source timestamps (VFR stays VFR) */
    const fp_process_stage *stage; /* NULL: none */
    int encoders;                /* pool size; 0: from the core count for poolable encoders */
    int seg_frames;              /* segment length; 0: the -g option or 2 s of frames */
    int encode_buffer_mib;       /* memory for frames queued in the pool; 0: FP_ENCPOOL_BUFFER_MIB, capped to
                                    a quarter of the machine's memory. encoders x segment fit in it. */
    int copy_audio, copy_subs, copy_data; /* 1 by default */
    fp_audio_opts audio;         /* -c:a / -b:a: audio the container cannot hold is transcoded (fp_audio.h) */
    fp_input_opts in;            /* decode mode, max errors, watchdog, frame range */
    int progress_json;           /* one JSON line per 0.5 s on stderr */
    int (*interrupted)(void);    /* polled once per frame; non-zero stops with FP_EINTR */
    /* The same with an argument, for callers whose stop flag is per task (the jobs worker runs several
     * chunks at once; decode may run on a stage thread, so a thread-local flag would not be seen). */
    int (*interrupted_arg_fn)(void *arg);
    void *interrupted_arg;
    int64_t emit_from_pts;       /* warm-up: frames before this pts (video stream time base) are decoded and
                                    run through the stage but not encoded; AV_NOPTS_VALUE (default): all */
    const AVDictionary *video_metadata; /* extra tags for the output video stream (borrowed), e.g. the
                                           matte task's alpha type; set after the source's tags */
    const AVDictionary *format_metadata; /* extra file-level tags (borrowed), set after the source's */
    int queue_decoded, queue_converted; /* frames the decode->process and process->encode queues hold;
                                           0: 4 each (fp_autoconf's depths for callers that ask it) */
    const AVDictionary *mux_opts; /* muxer options (borrowed), e.g. movflags=use_metadata_tags (the MOV
                                     muxer writes arbitrary file-level tags only so, as mdta keys) */
} fp_transcode_opts;

void fp_transcode_opts_default(fp_transcode_opts *o);

typedef struct fp_transcode_stats {
    int64_t frames_in, frames_out, packets_copied;
    int corrupt;
    int gpu_decode;
    int device_path;             /* 1: frames stayed on the GPU until one pinned download (fp_devpath.h) */
    int pinned_frames;           /* pinned host frames the device path allocated (its peak in use) */
    int encoders;
    char encoder[32];
    char pix_fmt[32];
    double seconds, decode_s, process_s, encode_wait_s;
} fp_transcode_stats;

typedef struct fp_transcode fp_transcode;

/* Opens the input and the output (under a temporary name beside the final one), opens one encoder
 * instance to validate every option, and refuses bad combinations. Nothing is decoded. On error *pt is
 * NULL, no file is left behind, and e holds "FILE: stage: cause". */
int fp_transcode_open(fp_transcode **pt, const fp_transcode_opts *o, fp_err *e);

/* Runs to the end of the input or range and publishes the output (rename). On error or interruption
 * the temporary file is removed and nothing exists under the final name. */
int fp_transcode_run(fp_transcode *t, fp_err *e);

/* Statistics of the run so far (valid after open). */
const fp_transcode_stats *fp_transcode_get_stats(const fp_transcode *t);

/* The decode path's one-line reason, and the input (borrowed). */
fp_input *fp_transcode_input(fp_transcode *t);

void fp_transcode_freep(fp_transcode **pt);

/* The per-stage table (decode, process, encode: busy, waits, frames, fps) and the bottleneck line,
 * after fp_transcode_run(). Nothing is printed before the run. */
void fp_transcode_print_metrics(const fp_transcode *t, FILE *f);

/* Removes the temporary output of the run in progress, if any. Async-signal-safe (unlink only): for
 * a second Ctrl-C, or a watchdog, that must end the process without unwinding. */
void fp_transcode_remove_partial(void);

/* Whether this build can run the float processing path (crop/scale/key/model stages): it needs the
 * colour kernels of src/gpu (fp_preprocess_cpu / fp_postprocess_cpu). */
int fp_transcode_have_float_path(void);

#endif
