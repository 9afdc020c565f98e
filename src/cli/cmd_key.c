/*
 * framepipe key — chroma key to real alpha video: the transcode path with the fp_key stage, which
 * writes alpha from each pixel's chroma distance to --color. Owns only the command's entry and the
 * stage adapter; default output is VP9 with alpha in WebM (chosen from the .webm extension).
 */
#include <stdio.h>

#include "cli/cli_chunks.h"
#include "core/fp_error.h"
#include "media/fp_cliopts.h"
#ifdef FP_CLI_HAVE_JOBS
#include "jobs/jobs_chunked.h"
#endif
#include "media/fp_key.h"

static int key_stage(void *opaque, const fp_planar *rgb, const fp_planar *alpha, int64_t pts, fp_err *e)
{
    return fp_key_apply(opaque, rgb, alpha, e);
}

/* --chunks: a job on local workers (jobs module), or a clear refusal in a build without it. */
static int chunked(fp_cli_parsed *p, const fp_chunks_arg *ca)
{
#ifdef FP_CLI_HAVE_JOBS
    return fp_jobs_cli_chunked("key", p, ca->workers, ca->chunk_seconds);
#else
    (void)p;
    (void)ca;
    fprintf(stderr, "framepipe: key: --chunks: not built (this framepipe was built without the jobs module, "
                    "-DFP_JOBS=OFF)\n");
    return FP_EXIT_UNSUPPORTED;
#endif
}

#ifdef FP_HAVE_CUDA
/* The device twin: used when frames come from NVDEC (fp_devpath.h). */
static int key_stage_cuda(void *opaque, const fp_planar *rgb, const fp_planar *alpha, int64_t pts, void *stream,
                          fp_err *e)
{
    (void)pts;
    return fp_key_apply_cuda(opaque, rgb, alpha, stream, e);
}
#endif

int fp_cmd_key(int argc, char **argv)
{
    fp_cli_parsed p;
    fp_process_stage stage = { "key", 1, key_stage, NULL };
    fp_err e;
    int ret;
    fp_chunks_arg ca;
    char msg[160];
    fp_err_clear(&e);
    if (fp_chunks_take(&argc, argv, &ca, msg, sizeof(msg)) < 0) {
        fprintf(stderr, "framepipe: key: %s\n", msg);
        return FP_EXIT_USAGE;
    }
    if (fp_cli_parse(FP_CLI_KEY, argc, argv, &p, &e) < 0) {
        fprintf(stderr, "framepipe: key: %s\n", e.msg);
        fp_cli_parsed_free(&p);
        return FP_EXIT_USAGE;
    }
    if (p.help) {
        fp_cli_help(stdout, FP_CLI_KEY);
        fp_chunks_help(stdout);
        fp_cli_parsed_free(&p);
        return FP_EXIT_OK;
    }
    stage.opaque = &p.key;
#ifdef FP_HAVE_CUDA
    stage.process_cuda = key_stage_cuda;
#endif
    p.o.stage = &stage;
    if (ca.on)
        ret = chunked(&p, &ca);
    else
        ret = fp_cli_run_transcode(&p);
    fp_cli_parsed_free(&p);
    return ret;
}
