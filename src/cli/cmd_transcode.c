/*
 * framepipe transcode — decode, optional crop/scale/fps, encode (pool), mux with stream copy. Owns only
 * the command's entry; options and the run are fp_cliopts.h / fp_transcode.h.
 */
#include <stdio.h>

#include "core/fp_error.h"
#include "media/fp_cliopts.h"

int fp_cmd_transcode(int argc, char **argv)
{
    fp_cli_parsed p;
    fp_err e;
    int ret;
    fp_err_clear(&e);
    if (fp_cli_parse(FP_CLI_TRANSCODE, argc, argv, &p, &e) < 0) {
        fprintf(stderr, "framepipe: transcode: %s\n", e.msg);
        fp_cli_parsed_free(&p);
        return FP_EXIT_USAGE;
    }
    if (p.help) {
        fp_cli_help(stdout, FP_CLI_TRANSCODE);
        fp_cli_parsed_free(&p);
        return FP_EXIT_OK;
    }
    ret = fp_cli_run_transcode(&p);
    fp_cli_parsed_free(&p);
    return ret;
}
