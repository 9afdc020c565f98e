/*
 * fp_error — error context and code tables. See fp_error.h.
 */
#include "core/fp_error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void fp_err_clear(fp_err *e)
{
    if (!e)
        return;
    e->code = 0;
    e->msg[0] = '\0';
}

int fp_verrorf(fp_err *e, int code, const char *fmt, va_list ap)
{
    if (e && e->code == 0) {
        e->code = code;
        vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    }
    return code;
}

int fp_errorf(fp_err *e, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fp_verrorf(e, code, fmt, ap);
    va_end(ap);
    return code;
}

void fp_err_prefix(fp_err *e, const char *fmt, ...)
{
    char pre[512];
    va_list ap;
    if (!e || e->code == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof(pre), fmt, ap);
    va_end(ap);
    size_t lp = strlen(pre), lm = strlen(e->msg);
    if (lp + lm >= sizeof(e->msg))   /* keep the prefix; the tail of the cause is cut */
        lm = sizeof(e->msg) - 1 - lp;
    memmove(e->msg + lp, e->msg, lm);
    memcpy(e->msg, pre, lp);
    e->msg[lp + lm] = '\0';
}

static const struct {
    int code;
    const char *name;
    int exit_code;
} err_table[] = {
    { FP_OK,           "success",             FP_EXIT_OK },
    { FP_EINVAL,       "invalid argument",    FP_EXIT_USAGE },
    { FP_ENOMEM,       "out of memory",       FP_EXIT_FAILURE },
    { FP_EIO,          "I/O error",           FP_EXIT_OUTPUT },
    { FP_EINPUT,       "input error",         FP_EXIT_INPUT },
    { FP_EUNSUPPORTED, "unsupported",         FP_EXIT_UNSUPPORTED },
    { FP_EOUTPUT,      "output error",        FP_EXIT_OUTPUT },
    { FP_EMODEL,       "model error",         FP_EXIT_MODEL },
    { FP_EDEVICE,      "GPU error",           FP_EXIT_DEVICE },
    { FP_EINTR,        "interrupted",         FP_EXIT_INTERRUPTED },
    { FP_ETIMEOUT,     "stalled (watchdog)",  FP_EXIT_TIMEOUT },
    { FP_EDB,          "queue error",         FP_EXIT_QUEUE },
    { FP_ELOST,        "lease lost",          FP_EXIT_QUEUE },
    { FP_EINTERNAL,    "internal error",      FP_EXIT_FAILURE },
    { FP_EOF,          "end of stream",       FP_EXIT_OK },
    { FP_EAGAIN,       "try again",           FP_EXIT_FAILURE },
};
_Static_assert(sizeof(err_table) / sizeof(err_table[0]) == FP_ERRCODE_COUNT,
               "every fp_errcode needs a row in err_table");

const char *fp_strerror(int code)
{
    for (size_t i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
        if (err_table[i].code == code)
            return err_table[i].name;
    return "unknown error";
}

int fp_exit_code(int code)
{
    for (size_t i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
        if (err_table[i].code == code)
            return err_table[i].exit_code;
    return FP_EXIT_FAILURE;
}

/* FFmpeg's AVERROR(e) is -e for errno values; its own tags are negative FourCCs. Kept free of
 * libavutil headers so fp_core has no FFmpeg dependency: the tag values are computed here. */
#define FP_TAG(a, b, c, d) (-(int)((unsigned)(a) | ((unsigned)(b) << 8) | ((unsigned)(c) << 16) | ((unsigned)(d) << 24)))
int fp_err_from_averror(int averr)
{
    if (averr >= 0)
        return FP_OK;
    if (averr == FP_TAG('E', 'O', 'F', ' '))
        return FP_EOF;
    if (averr == FP_TAG('I', 'N', 'D', 'A'))
        return FP_EINPUT; /* AVERROR_INVALIDDATA */
    if (averr == FP_TAG(0xF8, 'D', 'E', 'C') || averr == FP_TAG(0xF8, 'D', 'E', 'M'))
        return FP_EUNSUPPORTED; /* decoder/demuxer not found */
    if (averr == FP_TAG(0xF8, 'E', 'N', 'C') || averr == FP_TAG(0xF8, 'M', 'U', 'X'))
        return FP_EUNSUPPORTED;
    switch (-averr) {
    case ENOMEM: return FP_ENOMEM;
    case EINVAL: return FP_EINVAL;
    case ENOENT: case EACCES: return FP_EINPUT;
    case ENOSPC: case EFBIG: case EDQUOT: case EIO: case EROFS: return FP_EIO;
    case EAGAIN: return FP_EAGAIN;
    case EINTR: return FP_EINTR;
    case ETIMEDOUT: return FP_ETIMEOUT;
    default: return FP_EINPUT;
    }
}
