/*
 * fp_probe — facts about a media file for `framepipe probe`: container, streams, codecs, pixel
 * formats, frame rate and whether it varies (from the timestamps of the first packets), duration, and
 * which decode path framepipe would use with the reason.
 *
 * Owns: the fp_probe_info description and its text/JSON printing. Does not decode frames; the decode
 * path decision is fp_input.h's (the same function the transcoder uses, so probe never disagrees).
 */
#ifndef FP_PROBE_H
#define FP_PROBE_H

#include <stdio.h>

#include "core/fp_error.h"
#include "media/fp_input.h"

#define FP_PROBE_VFR_PACKETS 300 /* video packets scanned for the frame-rate check */

typedef struct fp_probe_stream {
    int index;
    char type[16];          /* video, audio, subtitle, data, attachment */
    char codec[32];
    char pix_fmt[32];       /* video */
    int width, height, bit_depth, alpha;
    double fps;             /* average (measured from timestamps when they vary) */
    int vfr;                /* 1: frame durations vary in the scanned packets */
    int sample_rate, channels;
    char language[16];
    double duration;        /* seconds; < 0 unknown */
} fp_probe_stream;

typedef struct fp_probe_info {
    char path[1024];
    char format[64];
    double duration;        /* seconds; < 0 unknown */
    long long bit_rate;
    int nb_chapters;
    int nb_streams;
    fp_probe_stream *streams; /* owned; fp_probe_info_free */
    int video_index;        /* index into streams of the decoded video stream, -1 none */
    int gpu_decode;
    char decode_why[256];
} fp_probe_info;

/* Fills info (which the caller frees with fp_probe_info_free, also after an error). Errors: FP_EINPUT
 * (missing, unreadable, not media), with "FILE: probe: cause". A file without video is not an error
 * for probe (video_index = -1). */
int fp_probe_file(const char *path, fp_decode_mode mode, fp_probe_info *info, fp_err *e);
void fp_probe_info_free(fp_probe_info *info);

/* Human-readable or JSON (one object) description. */
void fp_probe_print(FILE *f, const fp_probe_info *info, int json);

#endif
