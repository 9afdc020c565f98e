/*
 * task_transcode — the media module's processing path as chunk work: each chunk runs
 * fp_transcode over its frame-exact range [start_pts, end_pts) of the input into a chunk file of the
 * output's container, without audio/subtitles (the join takes those from the source once); the
 * aggregate joins the chunks' video packets without re-encoding (task_remux.c's join).
 *
 * Owns: reading the job's params; task_media.c's fp_task_run_range maps the chunk onto fp_transcode. Params (job JSON "params"):
 *   "vcodec"   : FFmpeg encoder name (default: the media module's default for the container)
 *   "pix_fmt"  : encoder pixel format
 *   "enc_opts" : encoder options, FFmpeg names, string values ({"crf":"30","preset":"fast"})
 *   "decode"   : auto|gpu|cpu
 *   "no_audio", "no_subs" (booleans): the join leaves the source's audio / subtitles out
 * Does not own encoding (src/media) or joining (task_remux.c).
 *
 * With a lossless or intra-only deterministic encoder (ffv1) the joined output's frames are
 * identical to a single-process run; with a lossy inter-frame encoder each chunk starts a new GOP at
 * the cut, so frames differ in the encoder's noise but count and timestamps are identical.
 */
#include "jobs/jobs_task.h"

static int transcode_chunk(const fp_task_ctx *ctx, const char *out, fp_err *e)
{
    /* No stage, no warm-up: the range itself. The workers are the parallelism (one encoder each). */
    return fp_task_run_range(ctx, out, NULL, ctx->chunk->start_pts, NULL, e);
}

const fp_task_desc fp_task_transcode = {
    "transcode", "decode and re-encode each chunk (media module), join without re-encoding", 0, NULL,
    transcode_chunk, fp_task_join_chunks,
};
