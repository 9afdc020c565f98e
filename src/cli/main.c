/*
 * framepipe — the command. Owns only dispatch: the table of subcommands, global flags that apply to
 * every command (-v/-q), and the exit-code contract. Each subcommand lives in src/cli/cmd_<name>.c as
 * `int fp_cmd_<name>(int argc, char **argv)` returning a process exit code (enum fp_exit). Commands
 * are declared weak so a module that is not built yet simply leaves its command out of the table.
 */
#include <stdio.h>
#include <string.h>

#include "core/fp_error.h"
#include "core/fp_log.h"

#define FP_COMMANDS(X)                                                                        \
    X(probe, "show streams, codecs, frame rate and the decode path of a video")               \
    X(doctor, "describe GPUs, NVDEC/NVENC support and the settings framepipe would choose")   \
    X(transcode, "decode, crop/scale/resample, encode (no model)")                            \
    X(key, "chroma key to alpha video (no model)")                                            \
    X(matte, "background removal with a matting model, to alpha video")                      \
    X(model, "inspect (info) or run (run) an ONNX model")                                     \
    X(submit, "submit a job to the queue")                                                    \
    X(worker, "claim and run chunks from the queue")                                          \
    X(status, "show jobs and chunks")                                                         \
    X(cancel, "cancel a job")                                                                 \
    X(redrive, "requeue a job's dead tasks")                                                  \
    X(serve, "HTTP API, status page and metrics")

#define DECLARE_CMD(name, help) int fp_cmd_##name(int argc, char **argv) __attribute__((weak));
FP_COMMANDS(DECLARE_CMD)

typedef struct command {
    const char *name;
    const char *help;
    int (*fn)(int argc, char **argv);
} command;

#define ROW_CMD(name, help) { #name, help, fp_cmd_##name },
static const command commands[] = { FP_COMMANDS(ROW_CMD) };

static const char exit_codes_help[] =
    "exit codes:\n"
    "  0    success\n"
    "  1    internal error\n"
    "  2    bad command line\n"
    "  3    bad or unreadable input (missing, not a video, truncated, corrupt)\n"
    "  4    unsupported: codec, format or combination refused (e.g. alpha into MP4)\n"
    "  5    output could not be written (permissions, missing directory, disk full)\n"
    "  6    model invalid or incompatible\n"
    "  7    GPU error\n"
    "  8    a stage stalled (watchdog)\n"
    "  9    job queue or storage error\n"
    "  130  interrupted (Ctrl-C / SIGTERM); no partial output is left\n";

static void usage(FILE *f)
{
    fprintf(f, "usage: framepipe [-v|-q] <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (commands[i].fn)
            fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n'framepipe <command> --help' describes a command's options.\n\n%s", exit_codes_help);
}

int main(int argc, char **argv)
{
    int i = 1;
    fp_log_init_from_env();
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "-v"))
            fp_log_set_level(fp_log_get_level() + 1);
        else if (!strcmp(argv[i], "-q"))
            fp_log_set_level(FP_LOG_ERROR);
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return FP_EXIT_OK;
        } else if (!strcmp(argv[i], "--version")) {
            printf("framepipe " FP_VERSION "\n");
            return FP_EXIT_OK;
        } else {
            fprintf(stderr, "framepipe: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return FP_EXIT_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return FP_EXIT_USAGE;
    }
    for (size_t c = 0; c < sizeof(commands) / sizeof(commands[0]); c++)
        if (commands[c].fn && !strcmp(commands[c].name, argv[i]))
            return commands[c].fn(argc - i, argv + i);
    fprintf(stderr, "framepipe: unknown command '%s' (see 'framepipe --help')\n", argv[i]);
    return FP_EXIT_USAGE;
}
