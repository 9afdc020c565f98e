/*
 * framepipe key — chroma key to real alpha video: the transcode path with the fp_key stage, which
 * writes alpha from each pixel's chroma distance to --color. Owns only the command's entry and the
 * stage adapter; default output is VP9 with alpha in WebM (chosen from the .webm extension).
 */
#include <stdio.h>

#include "core/fp_error.h"
#include "media/fp_cliopts.h"
#include "media/fp_key.h"

static int key_stage(void *opaque, const fp_planar *rgb, const fp_planar *alpha, int64_t pts, fp_err *e)
{
    return fp_key_apply(opaque, rgb, alpha, e);
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
    fp_err_clear(&e);
    if (fp_cli_parse(FP_CLI_KEY, argc, argv, &p, &e) < 0) {
        fprintf(stderr, "framepipe: key: %s\n", e.msg);
        fp_cli_parsed_free(&p);
        return FP_EXIT_USAGE;
    }
    if (p.help) {
        fp_cli_help(stdout, FP_CLI_KEY);
        fp_cli_parsed_free(&p);
        return FP_EXIT_OK;
    }
    stage.opaque = &p.key;
#ifdef FP_HAVE_CUDA
    stage.process_cuda = key_stage_cuda;
#endif
    p.o.stage = &stage;
    ret = fp_cli_run_transcode(&p);
    fp_cli_parsed_free(&p);
    return ret;
}
