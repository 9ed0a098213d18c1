/* engine/error.c -- error codes and the caller-owned error record (see error.h). */
#include "engine/error.h"

#include <stdio.h>
#include <string.h>

int weir_error_set(weir_error *err, int code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        err->sys_errno = 0;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

int weir_error_sys(weir_error *err, int code, int sys_errno, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        err->sys_errno = sys_errno;
        int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < sizeof err->msg && sys_errno != 0)
            snprintf(err->msg + n, sizeof err->msg - (size_t)n, ": %s", strerror(sys_errno));
    }
    return code;
}

void weir_error_clear(weir_error *err) {
    if (err) {
        err->code = 0;
        err->sys_errno = 0;
        err->msg[0] = '\0';
    }
}

const char *weir_error_name(int code) {
    switch (code) {
    case WEIR_OK: return "OK";
    case WEIR_EINVAL: return "EINVAL";
    case WEIR_ENOMEM: return "ENOMEM";
    case WEIR_EIO: return "EIO";
    case WEIR_EAGAIN: return "EAGAIN";
    case WEIR_ETYPE: return "ETYPE";
    case WEIR_EJSON: return "EJSON";
    case WEIR_ETIME: return "ETIME";
    case WEIR_ENOTFOUND: return "ENOTFOUND";
    case WEIR_ESTATE: return "ESTATE";
    case WEIR_EKAFKA: return "EKAFKA";
    case WEIR_EINTR: return "EINTR";
    default: return "EUNKNOWN";
    }
}
