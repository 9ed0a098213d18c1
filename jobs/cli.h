/* jobs/cli.h -- the `weir` command line (SPEC §1).
 *
 * weir_cli_main dispatches to one command; each command parses its own
 * options (getopt_long) and answers --help. Exit codes: 0 success, 1 runtime
 * failure, 2 usage or job-file error (SPEC §1).
 * Thread: the main thread. */
#ifndef WEIR_JOBS_CLI_H
#define WEIR_JOBS_CLI_H

#include <stdio.h>

enum { WEIR_EXIT_OK = 0, WEIR_EXIT_FAILURE = 1, WEIR_EXIT_USAGE = 2 };

/* Runs the command line; returns the process exit code. */
int weir_cli_main(int argc, char **argv);

/* Prints the usage of command (NULL: the overview) to f. Returns 0, or -1 for
 * an unknown command. */
int weir_cli_usage(const char *command, FILE *f);

/* Prints "weir COMMAND: message", a blank line and the command's usage to
 * stderr; returns WEIR_EXIT_USAGE for the caller to return. */
int weir_cli_usage_error(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Adds one --set KEY=VALUE (arg is split in place at the first '=') to the
 * growable array *ov of *n items (owned by the caller: free()). Returns 0, or
 * -1 after printing why (the caller exits 2). */
struct weir_job_override;
int weir_cli_add_override(const char *command, struct weir_job_override **ov, size_t *n, char *arg);

/* Commands. argv[0] is the command name. */
int weir_cmd_run(int argc, char **argv);
int weir_cmd_validate(int argc, char **argv);
int weir_cmd_broker(int argc, char **argv);

#endif
