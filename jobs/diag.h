/* jobs/diag.h -- every error of a job file, as FILE:LINE:COL: message (SPEC §2).
 *
 * A diagnostics list collects errors (and warnings) in the order found; the CLI
 * sorts them by position and prints them all. Strings are copied in.
 * Thread: one owner. */
#ifndef WEIR_JOBS_DIAG_H
#define WEIR_JOBS_DIAG_H

#include <stddef.h>
#include <stdio.h>

typedef struct weir_diag_item {
    int line, column;    /* 1-based; 0 when the file itself is the problem */
    int is_warning;
    char *message;       /* owned */
    char *origin;        /* owned or NULL: printed instead of FILE:LINE:COL, e.g.
                            "--set a.b" for a problem with a command-line override */
} weir_diag_item;

typedef struct weir_diag {
    char *file;          /* owned: the file name printed before each item */
    weir_diag_item *items; /* owned */
    size_t n_items, cap;
    size_t n_errors;
} weir_diag;

void weir_diag_init(weir_diag *d, const char *file);
void weir_diag_fini(weir_diag *d);

/* Adds an error at line:column (printf-style message, no trailing newline). */
void weir_diag_error(weir_diag *d, int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void weir_diag_warning(weir_diag *d, int line, int column, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Adds an error about something that is not in the file: printed as
 * "ORIGIN: message" (origin copied, e.g. "--set checkpoint.interval"). */
void weir_diag_error_origin(weir_diag *d, const char *origin, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void weir_diag_warning_origin(weir_diag *d, const char *origin, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prints every item, sorted by position, as "FILE:LINE:COL: message" (warnings
 * as "FILE:LINE:COL: warning: message") to f. Items with an origin come first,
 * as "ORIGIN: message"; items at line 0 (the file itself) as "FILE: message".
 * Items at one position keep the order they were added in. */
void weir_diag_print(const weir_diag *d, FILE *f);

/* One item as the line weir_diag_print writes (no newline). Returns owned
 * string (free()), NULL when out of memory. */
char *weir_diag_format(const weir_diag *d, const weir_diag_item *item);

#endif
