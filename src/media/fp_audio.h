/*
 * fp_audio — one audio stream that the output container cannot hold as it is: decode, resample,
 * re-encode (AAC/PCM/FLAC... into WebM becomes Opus; into MP4/MOV, AAC), with timestamps kept.
 *
 * Owns: the copy-or-transcode decision for an audio stream (the -c:a / -b:a options in FFmpeg's
 * spelling), the output stream it creates when transcoding, and the decoder, resampler, sample FIFO
 * and encoder behind it. Timing: the first decoded sample keeps its source time; later output frames
 * are timed by sample count, so the audio runs exactly as long as the source's (to the sample, plus at
 * most the encoder's last partial frame). Does not own the muxer or its lock: encoded packets go to
 * the caller's write function, already in the output stream's time base. Stream copy stays the
 * caller's (when fp_audio_open answers "copy").
 */
#ifndef FP_AUDIO_H
#define FP_AUDIO_H

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "core/fp_error.h"

typedef struct fp_audio_opts {
    const char *codec;   /* -c:a: NULL (auto: copy when the container holds the stream, else transcode to
                            the container's audio codec), "copy" (copy or refuse), or an encoder name */
    int64_t bitrate;     /* -b:a in bit/s; 0: the encoder's default (Opus 96k, AAC 128k per stereo pair) */
} fp_audio_opts;

typedef struct fp_audio fp_audio;

/* Writes one encoded packet (stream_index and timestamps already set for the output); returns 0 or a
 * negative FP_E* code. Takes nothing: the packet is unreferenced after the call. */
typedef int (*fp_audio_write_fn)(void *opaque, AVPacket *pkt);

/* Parse "-b:a" values in FFmpeg's spelling ("128k", "1.5M", "96000"). Returns 0 or FP_EINVAL. */
int fp_audio_parse_bitrate(const char *s, int64_t *bps);

/*
 * Decides for input audio stream `is` of a file being written to `out` (before its header is written).
 * Returns 0: copy it (the caller creates the stream; *pa is NULL); 1: transcode, *pa owns a new
 * transcoder and `out` has a new stream for it (fp_audio_stream_index); or a negative code:
 * FP_EUNSUPPORTED ("-c:a copy" into a container that cannot hold it, or no encoder in this FFmpeg
 * build: the message names the missing ones), FP_EINVAL (unknown -c:a encoder, bad -b:a), FP_ENOMEM.
 * Messages read "OUT: configure: ...". Free with fp_audio_freep.
 */
int fp_audio_open(fp_audio **pa, const AVStream *is, AVFormatContext *out, const fp_audio_opts *ao,
                  const char *in_path, const char *out_path, fp_err *e);

int fp_audio_stream_index(const fp_audio *a);

/* Feeds one demuxed packet of the input stream (its own time base); NULL flushes everything (once,
 * before the trailer). Encoded packets go to write(opaque, pkt). Corrupt audio packets are skipped
 * (counted in fp_audio_skipped); other errors return a negative FP_E* code. */
int fp_audio_send(fp_audio *a, const AVPacket *pkt, fp_audio_write_fn write, void *opaque, fp_err *e);

/* Samples written (at the output rate), packets skipped as undecodable. */
int64_t fp_audio_samples(const fp_audio *a);
int64_t fp_audio_skipped(const fp_audio *a);

/* NULL-safe; sets *pa to NULL. */
void fp_audio_freep(fp_audio **pa);

#endif
