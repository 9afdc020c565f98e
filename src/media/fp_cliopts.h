/*
 * fp_cliopts — the command-line options of `framepipe transcode` and `framepipe key`, as one table
 * (name, argument, help) from which parsing and --help are both generated.
 *
 * Owns: turning argv into an fp_transcode_opts (plus the encoder pass-through dictionary and the key
 * settings) and printing the option help. Does not run anything. Unknown single-dash options followed
 * by a value ("-crf 30", "-b:v 2M", "-row-mt 1") pass through to the encoder in FFmpeg spelling.
 */
#ifndef FP_CLIOPTS_H
#define FP_CLIOPTS_H

#include <stdio.h>

#include <libavutil/dict.h>

#include "core/fp_error.h"
#include "media/fp_key.h"
#include "media/fp_transcode.h"

enum fp_cli_cmd { FP_CLI_TRANSCODE = 1, FP_CLI_KEY = 2 };

typedef struct fp_cli_parsed {
    fp_transcode_opts o;
    AVDictionary *enc_opts;  /* owned: fp_cli_parsed_free */
    fp_key key;
    int have_color;
    int help;
} fp_cli_parsed;

/* Parses argv[1..] (argv[0] is the command name). On error returns FP_EINVAL with a usage message
 * in e; p must still be freed with fp_cli_parsed_free. */
int fp_cli_parse(int cmd, int argc, char **argv, fp_cli_parsed *p, fp_err *e);
void fp_cli_parsed_free(fp_cli_parsed *p);
void fp_cli_help(FILE *f, int cmd);

/* Runs a parsed transcode/key: installs SIGINT/SIGTERM handling, prints the summary table, and
 * returns the process exit code. */
int fp_cli_run_transcode(fp_cli_parsed *p);

#endif
