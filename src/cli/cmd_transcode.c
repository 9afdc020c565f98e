/*
 * framepipe transcode — decode, optional crop/scale/fps, encode (pool), mux with stream copy. Owns only
 * the command's entry; options and the run are fp_cliopts.h / fp_transcode.h.
 */
#include <stdio.h>

#include "cli/cli_chunks.h"
#include "core/fp_error.h"
#include "media/fp_cliopts.h"
#ifdef FP_CLI_HAVE_JOBS
#include "jobs/jobs_chunked.h"
#endif

/* --chunks: a job on local workers (jobs module), or a clear refusal in a build without it. */
static int chunked(fp_cli_parsed *p, const fp_chunks_arg *ca)
{
#ifdef FP_CLI_HAVE_JOBS
    return fp_jobs_cli_chunked("transcode", p, ca->workers, ca->chunk_seconds);
#else
    (void)p;
    (void)ca;
    fprintf(stderr, "framepipe: transcode: --chunks: not built (this framepipe was built without the jobs module, "
                    "-DFP_JOBS=OFF)\n");
    return FP_EXIT_UNSUPPORTED;
#endif
}

int fp_cmd_transcode(int argc, char **argv)
{
    fp_cli_parsed p;
    fp_err e;
    int ret;
    fp_chunks_arg ca;
    char msg[160];
    fp_err_clear(&e);
    if (fp_chunks_take(&argc, argv, &ca, msg, sizeof(msg)) < 0) {
        fprintf(stderr, "framepipe: transcode: %s\n", msg);
        return FP_EXIT_USAGE;
    }
    if (fp_cli_parse(FP_CLI_TRANSCODE, argc, argv, &p, &e) < 0) {
        fprintf(stderr, "framepipe: transcode: %s\n", e.msg);
        fp_cli_parsed_free(&p);
        return FP_EXIT_USAGE;
    }
    if (p.help) {
        fp_cli_help(stdout, FP_CLI_TRANSCODE);
        fp_chunks_help(stdout);
        fp_cli_parsed_free(&p);
        return FP_EXIT_OK;
    }
    if (ca.on)
        ret = chunked(&p, &ca);
    else
        ret = fp_cli_run_transcode(&p);
    fp_cli_parsed_free(&p);
    return ret;
}
