/* engine/log.h -- leveled logging to stderr: `TIME LEVEL JOB: message`.
 *
 * As with Redis's serverLog, the level is checked before the arguments are
 * evaluated, so a disabled debug line costs one comparison. Nothing is logged
 * per record at INFO or above: a bad record is a dead letter and a metric
 * (STYLE: logging). librdkafka and RocksDB logs are routed here too.
 * Thread: any; one line is written with one write(2), so lines never interleave. */
#ifndef WEIR_ENGINE_LOG_H
#define WEIR_ENGINE_LOG_H

enum { WEIR_LOG_DEBUG = 0, WEIR_LOG_INFO = 1, WEIR_LOG_WARN = 2, WEIR_LOG_ERROR = 3 };

extern int weir_log_level; /* lines below this level are dropped; default INFO */

/* Sets the level from a name ("debug", "info", "warn", "error"); returns 0, or
 * WEIR_EINVAL for an unknown name. $WEIR_LOG is read by the CLI. */
int weir_log_set_level_name(const char *name);

/* Writes one line. job may be NULL (the line then has no job name). */
void weir_log_write(int level, const char *job, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define weir_log(level, job, ...)                                    \
    do {                                                             \
        if ((level) >= weir_log_level)                               \
            weir_log_write((level), (job), __VA_ARGS__);             \
    } while (0)

#endif
