/* engine/error.h -- error codes and the caller-owned error record.
 *
 * A function that can fail returns an int (>= 0 on success, a negative WEIR_E*
 * code on failure) or a pointer (NULL on failure), and takes a last parameter
 * `weir_error *err` that may be NULL. The callee fills err->msg as "what: why",
 * keeping a library's own text (librdkafka errstr, RocksDB errptr) where there
 * is one. errno is never a return channel: it is read once, right after the
 * failing libc call, into err->sys_errno.
 *
 * A bad *record* is not an error return: it becomes a dead letter (SPEC §6).
 * A bad *job file* fills a diagnostics list (jobs/diag.h).
 * Thread: any. No allocation. */
#ifndef WEIR_ENGINE_ERROR_H
#define WEIR_ENGINE_ERROR_H

#include <stdarg.h>

enum {
    WEIR_OK = 0,
    WEIR_EINVAL = -1,     /* bad argument or input (caller's fault) */
    WEIR_ENOMEM = -2,     /* allocation failed */
    WEIR_EIO = -3,        /* read, write, fsync, open failed; sys_errno set */
    WEIR_EAGAIN = -4,     /* partial input: call again with more */
    WEIR_ETYPE = -5,      /* expression or aggregate type error (dead letter `type`) */
    WEIR_EJSON = -6,      /* malformed JSON (dead letter `json`) */
    WEIR_ETIME = -7,      /* invalid or missing event time (dead letter `event_time`) */
    WEIR_ENOTFOUND = -8,  /* a named thing does not exist */
    WEIR_ESTATE = -9,     /* wrong state for the call (already running, locked) */
    WEIR_EKAFKA = -10,    /* Kafka client error; msg holds librdkafka's text */
    WEIR_EINTR = -11,     /* stopped by a signal or a cancel request */
};

typedef struct weir_error {
    int code;        /* a WEIR_E* value, 0 when no error */
    int sys_errno;   /* errno of the failing libc call, else 0 */
    char msg[256];   /* "what: why", NUL-terminated */
} weir_error;

/* Fills err (if not NULL) with code and a printf-style message; returns code,
 * so a caller can write `return weir_error_set(err, WEIR_EINVAL, "...")`. */
int weir_error_set(weir_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like weir_error_set, and records errno (read by the caller right after the
 * failing call) as sys_errno, appending strerror(sys_errno) to the message. */
int weir_error_sys(weir_error *err, int code, int sys_errno, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Clears err to "no error" (err may be NULL). */
void weir_error_clear(weir_error *err);

/* A short constant name for a code ("EINVAL", ...), never NULL. */
const char *weir_error_name(int code);

#endif
