/*
 * fp_input — one input file: demuxer, the video decoder (NVDEC through FFmpeg's CUDA hwaccel, or
 * software libavcodec), the decode-path decision, corrupt-packet accounting and the stall watchdog.
 *
 * Owns: the AVFormatContext and the video AVCodecContext of one input, the CUDA device FFmpeg decodes
 * on (and so the CUcontext framepipe must share), the frame range [start_pts, end_pts) cut, and the
 * hand-off of every non-video packet to a caller's callback (stream copy). Does not own colour
 * conversion (src/gpu/fp_image.h), encoding or muxing (fp_encoder.h, fp_transcode.h).
 *
 * Threads: an fp_input is used by one thread at a time; its watchdog runs on its own thread.
 */
#ifndef FP_INPUT_H
#define FP_INPUT_H

#include <stdint.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "core/fp_error.h"

typedef enum fp_decode_mode {
    FP_DECODE_AUTO = 0, /* NVDEC when built with CUDA, a GPU answers and it supports the stream */
    FP_DECODE_GPU = 1,  /* NVDEC or fail (FP_EDEVICE / FP_EUNSUPPORTED) */
    FP_DECODE_CPU = 2,  /* software decode */
} fp_decode_mode;

/* Parse "auto|gpu|cpu"; returns 0 or FP_EINVAL. */
int fp_decode_mode_parse(const char *s, fp_decode_mode *out);

/* Called (on the watchdog thread) when a demux/decode call has been busy longer than the watchdog.
 * msg is "FILE: decode: stalled ..." naming the stream and position. The call it watches cannot be
 * cancelled, so the handler must end the process (after removing temporary output); when it returns
 * the default handler logs msg and _exit()s with the timeout exit code. */
typedef void (*fp_stall_fn)(void *opaque, const char *msg);

/* Receives every packet of a stream other than the decoded video stream, in file order. The callee
 * takes nothing: it must av_packet_ref/move what it keeps. Returns 0 or a negative FP_E* code, which
 * stops reading. */
typedef int (*fp_packet_fn)(void *opaque, AVPacket *pkt);

typedef struct fp_input_opts {
    fp_decode_mode decode;
    int max_errors;       /* corrupt packets/frames tolerated before failing: 0 = fail at the first
                             (the default), -1 = unlimited */
    double watchdog_s;    /* a demux/decode call busy longer than this is a stall; 0 = off */
    int64_t start_pts;    /* first frame kept, video stream time base; AV_NOPTS_VALUE = from start */
    int64_t end_pts;      /* frames at or after this are not returned; AV_NOPTS_VALUE = to the end */
    double start_s, end_s;  /* the same range in seconds, used when start_pts/end_pts are unset;
                               negative = unset (converted with the stream's time base, rounding up) */
    int want_alpha_decoder; /* VP9 with alpha_mode=1: decode with libvpx-vp9 so alpha survives */
    fp_stall_fn on_stall;
    void *stall_opaque;
    int frames_held;      /* decoded frames the caller may hold at once (its queues and stages). NVDEC's
                             surface pool is fixed at open: it gets this many extra surfaces, else a deep
                             queue starves the decoder (it fails as a corrupt packet / out of memory).
                             0: FFmpeg's default (a couple of spare surfaces) */
    fp_packet_fn on_packet; /* NULL: other streams are read and dropped */
    void *packet_opaque;
} fp_input_opts;

/* Defaults: auto decode, max_errors 0, watchdog 30 s, whole file, alpha-preserving VP9 decoding. */
void fp_input_opts_default(fp_input_opts *o);

typedef struct fp_input fp_input;

/* Opens path, picks the best video stream, chooses the decode path and opens the decoder, and seeks
 * to the keyframe at or before start_pts. On success *pin owns everything (free with
 * fp_input_freep); on error *pin is NULL, nothing is leaked and e says "FILE: stage: cause". */
int fp_input_open(fp_input **pin, const char *path, const fp_input_opts *o, fp_err *e);

/* Next decoded frame of the range into frame (which must be empty; the caller unrefs it). Frames
 * decoded by NVDEC are AV_PIX_FMT_CUDA and stay in device memory. Returns 0, FP_EOF after the last
 * frame, or a negative error (e.g. FP_EINPUT after more than max_errors corrupt packets). */
int fp_input_read_frame(fp_input *in, AVFrame *frame, fp_err *e);

void fp_input_freep(fp_input **pin);

AVFormatContext *fp_input_format(const fp_input *in);
AVStream *fp_input_video_stream(const fp_input *in);
AVCodecContext *fp_input_decoder(const fp_input *in);
const char *fp_input_path(const fp_input *in);
/* 1 when NVDEC decodes this stream; why is the one-line reason for the choice either way. */
int fp_input_uses_gpu(const fp_input *in);
const char *fp_input_decode_why(const fp_input *in);
/* Software pixel format of the decoded frames (the sw format under AV_PIX_FMT_CUDA). */
enum AVPixelFormat fp_input_sw_format(const fp_input *in);
/* The frame range in effect (video stream time base; AV_NOPTS_VALUE = open end). */
void fp_input_range(const fp_input *in, int64_t *start_pts, int64_t *end_pts);
/* Corrupt packets/frames seen so far. */
int fp_input_errors(const fp_input *in);
/* The CUcontext FFmpeg decodes with (AVCUDADeviceContext.cuda_ctx), for the runtime to share; NULL
 * on the CPU path. Borrowed: valid until fp_input_freep. */
void *fp_input_cuda_context(const fp_input *in);

/*
 * The decode-path decision on its own (used by probe too). Writes a one-line reason into why.
 * Returns 1 for NVDEC, 0 for CPU, or a negative code when mode is FP_DECODE_GPU and NVDEC cannot
 * be used (FP_EDEVICE: no GPU/driver; FP_EUNSUPPORTED: this GPU cannot decode this stream).
 * On success with NVDEC, *hw_device (if hw_device is not NULL) receives a new reference to the CUDA
 * device (the caller unrefs it).
 */
int fp_decode_path_choose(const AVCodecParameters *par, fp_decode_mode mode, AVBufferRef **hw_device,
                          char *why, size_t why_size);

/* Routes FFmpeg's av_log through fp_log (shown at -v). Idempotent; called by every entry point. */
void fp_media_log_init(void);

#endif
