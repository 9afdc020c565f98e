/*
 * framepipe probe — streams, codecs, pixel formats, frame rate (variable or not), duration and the
 * decode path with its reason. Owns only the command's entry; the facts come from fp_probe.h.
 */
#include <stdio.h>
#include <string.h>

#include "core/fp_error.h"
#include "media/fp_probe.h"

int fp_cmd_probe(int argc, char **argv)
{
    const char *path = NULL;
    fp_decode_mode mode = FP_DECODE_AUTO;
    fp_probe_info info;
    fp_err e;
    int json = 0, ret;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = 1;
        else if (!strcmp(argv[i], "--decode") && i + 1 < argc) {
            if (fp_decode_mode_parse(argv[++i], &mode) < 0) {
                fprintf(stderr, "framepipe: probe: --decode '%s': expected auto, gpu or cpu\n", argv[i]);
                return FP_EXIT_USAGE;
            }
        } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: framepipe probe FILE [--json] [--decode auto|gpu|cpu]\n"
                   "Streams, codecs, pixel formats, frame rate (and whether it varies), duration, and the\n"
                   "decode path framepipe would use, with the reason.\n"
                   "exit codes: 0 ok, 2 usage, 3 bad input, 4 unsupported, 7 GPU error (--decode gpu)\n");
            return FP_EXIT_OK;
        } else if (argv[i][0] == '-' || path) {
            fprintf(stderr, "framepipe: probe: unexpected argument '%s' (see --help)\n", argv[i]);
            return FP_EXIT_USAGE;
        } else
            path = argv[i];
    }
    if (!path) {
        fprintf(stderr, "framepipe: probe: missing FILE (see --help)\n");
        return FP_EXIT_USAGE;
    }
    fp_err_clear(&e);
    ret = fp_probe_file(path, mode, &info, &e);
    if (ret < 0) {
        fprintf(stderr, "framepipe: %s\n", e.msg);
        fp_probe_info_free(&info);
        return fp_exit_code(ret);
    }
    fp_probe_print(stdout, &info, json);
    fp_probe_info_free(&info);
    return FP_EXIT_OK;
}
