/*
 * jobs_plan — the chunk planner: cut a video at clean keyframes into chunks of about chunk_seconds.
 *
 * Owns: reading the video stream's packet timestamps and key flags with libavformat (no decoding),
 * choosing cut points, and the frame-exact boundaries stored per chunk (pts ranges in the stream's
 * time base, frame counts, warm-up start). Does not own running chunks or joining them.
 *
 * A cut point is a keyframe K such that every packet before it in decode order presents before K
 * and every packet from K on presents at or after K (a closed GOP boundary). Only such a cut lets a
 * chunk be processed, or stream-copied, on its own and the pieces be joined back with exactly the
 * input's frames and timestamps. Keyframes of open GOPs are skipped as cut points.
 */
#ifndef FP_JOBS_PLAN_H
#define FP_JOBS_PLAN_H

#include <stdint.h>

#include "core/fp_error.h"
#include "jobs/jobs_queue.h"

typedef struct fp_plan {
    int stream_index;
    int tb_num, tb_den;   /* time base of the pts values */
    int64_t nframes;      /* video frames (packets) in the input */
    double duration_s;
    int nchunks;
    fp_chunk *chunks;     /* nchunks entries, in presentation order */
} fp_plan;

/* Plan path (a local file). warmup_frames (>= 0) moves each chunk's warmup_pts that many frames
 * earlier (clamped to the first frame). On success plan owns chunks (fp_plan_clear frees them).
 * Errors: FP_EINPUT (cannot open/read, no video stream, packets without timestamps). */
int fp_plan_make(const char *path, double chunk_seconds, int warmup_frames, fp_plan *plan, fp_err *e);
void fp_plan_clear(fp_plan *plan);

#endif
