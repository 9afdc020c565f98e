/*
 * fp_log — see fp_log.h.
 */
#include "core/fp_log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int log_level = FP_LOG_WARN;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void fp_log_set_level(int level) { log_level = level; }
int fp_log_get_level(void) { return log_level; }

void fp_log_init_from_env(void)
{
    static const char *names[] = { "error", "warn", "info", "verbose", "debug" };
    const char *v = getenv("FP_LOG");
    if (!v)
        return;
    for (int i = 0; i < 5; i++)
        if (!strcmp(v, names[i]))
            log_level = i;
}

void fp_log(int level, const char *component, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    if (level > log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&log_lock);
    fprintf(stderr, "framepipe: %s%s%s\n", component ? component : "", component ? ": " : "", line);
    pthread_mutex_unlock(&log_lock);
}
