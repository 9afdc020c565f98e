/*
 * fp_encoder — the video encoders framepipe knows, what each can hold (alpha, >8-bit, containers),
 * the pixel-format decision with its refusals, and opening one configured encoder instance.
 *
 * Owns: the encoder table (one row per encoder: FFmpeg name, whether a segment pool helps it, the
 * containers that keep its alpha, its CPU fallback), the check "would this combination lose data?"
 * made before any frame is decoded, and pass-through of encoder options in FFmpeg spelling. Does not
 * own the pool of instances (fp_encpool.h) or muxing (fp_transcode.c).
 */
#ifndef FP_ENCODER_H
#define FP_ENCODER_H

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "core/fp_error.h"

typedef struct fp_encoder_desc {
    const char *name;            /* FFmpeg encoder name, the -c:v spelling */
    int poolable;                /* CPU encoder: independent instances on GOP segments scale */
    const char *alpha_muxers;    /* comma list of muxer names that keep this encoder's alpha; NULL: none */
    const char *fallback;        /* hardware encoder: CPU encoder used when the hardware is absent */
    const char *profile_alpha;   /* "profile" AVOption value when encoding alpha/4:4:4 (ProRes) */
    const char *profile_default; /* "profile" otherwise */
} fp_encoder_desc;

/* Row for an encoder name, or NULL when framepipe has no row for it (any FFmpeg encoder still
 * works, without pool or alpha knowledge). */
const fp_encoder_desc *fp_encoder_desc_find(const char *name);

/* The encoder used when -c:v is not given, from the muxer name (webm, mov, matroska, mp4...). */
const char *fp_encoder_default(const char *muxer, int alpha);

/* One encoder instance's settings. Nothing here is owned: opts is copied at open. */
typedef struct fp_encoder_cfg {
    const AVCodec *codec;
    int width, height;
    enum AVPixelFormat pix_fmt;
    AVRational time_base, framerate, sar;
    enum AVColorSpace colorspace;
    enum AVColorRange color_range;
    enum AVColorPrimaries color_primaries;
    enum AVColorTransferCharacteristic color_trc;
    const AVDictionary *opts;    /* pass-through encoder options (FFmpeg names, without '-') */
    int global_header;           /* the muxer wants extradata (AVFMT_GLOBALHEADER) */
    int threads;                 /* 0: FFmpeg's default */
    int gop;                     /* keyframe interval; 0: the encoder's default */
} fp_encoder_cfg;

/* Opens one instance. On success *out owns a new AVCodecContext (avcodec_free_context). An option
 * the encoder does not know fails with FP_EINVAL naming it; nothing is leaked on error. */
int fp_encoder_open(AVCodecContext **out, const fp_encoder_cfg *c, fp_err *e);

/* Drains and frees an instance; NULL-safe. fed: whether it was sent any frame. Why: libsvtav1
 * (1.4 with FFmpeg 5.1) hangs in svt_av1_enc_deinit when freed without having seen the end of stream,
 * and hangs on an end of stream that follows no frame; an unfed SVT-AV1 instance is given one grey
 * frame, flushed and drained (the packets are discarded). */
void fp_encoder_closep(AVCodecContext **ctx, int fed);

/*
 * Picks the encoder's pixel format for a source format and refuses what would lose data:
 * alpha into an encoder or container that cannot hold it, more than 8 bits into an 8-bit-only
 * encoder. forced (AV_PIX_FMT_NONE if not given) is an explicit --pix-fmt, which is accepted as the
 * user's decision to convert. out_path names the output for the message. Returns 0 or
 * FP_EUNSUPPORTED with a message listing options that would work.
 */
int fp_encoder_choose_format(const AVCodec *codec, const AVOutputFormat *ofmt, enum AVPixelFormat src,
                             enum AVPixelFormat forced, const char *out_path, enum AVPixelFormat *out,
                             fp_err *e);

/* Turns "-crf 30 -b:v 1M -preset fast" style argv pairs into an AVDictionary for the encoder: the
 * leading '-' is dropped and ":v" suffixes are removed (b:v -> b). Returns 0 or FP_EINVAL. */
int fp_encoder_opt_add(AVDictionary **d, const char *name, const char *value, fp_err *e);

#endif
