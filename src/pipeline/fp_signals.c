/*
 * fp_signals — SIGINT/SIGTERM handling. See fp_signals.h.
 *
 * The handler does only async-signal-safe things: an atomic store, unlink(2) through the output
 * registry, write(2) and _exit(2). SA_RESTART is not set, so a blocking read in the main thread
 * returns EINTR and gets to poll the flag.
 */
#include "pipeline/fp_signals.h"

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/fp_error.h"
#include "pipeline/fp_output.h"

static atomic_int interrupted;
static atomic_int installed;

static void on_signal(int signo)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong(&interrupted, &expected, signo)) {
        static const char msg[] = "\nframepipe: interrupted again: removing temporary files and exiting now\n";
        fp_output_unlink_all_signal_safe();
        if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
            /* nothing to do: we are leaving */
        }
        _exit(FP_EXIT_INTERRUPTED);
    }
}

int fp_signals_install(void)
{
    struct sigaction sa;
    if (atomic_exchange(&installed, 1))
        return 0;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) || sigaction(SIGTERM, &sa, NULL)) {
        atomic_store(&installed, 0);
        return FP_EINTERNAL;
    }
    return 0;
}

int fp_interrupted(void) { return atomic_load(&interrupted); }
void fp_signals_reset(void) { atomic_store(&interrupted, 0); }

const char *fp_signal_name(int signo)
{
    static _Thread_local char buf[32];
    switch (signo) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    default:
        snprintf(buf, sizeof(buf), "signal %d", signo);
        return buf;
    }
}
