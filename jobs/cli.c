/* jobs/cli.c -- `weir` command dispatch and usage texts (SPEC §1). */
#include "jobs/cli.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "engine/log.h"
#include "jobs/job.h"

typedef struct command {
    const char *name;
    const char *usage;     /* synopsis lines */
    const char *summary;   /* one line */
    const char *details;   /* options */
    int (*main)(int argc, char **argv);
} command;

static const command commands[] = {
    {"run", "weir run JOB.yaml [--fresh | --from-savepoint PATH] [--savepoint-on-exit] [--state-dir DIR] [--set KEY=VALUE]...",
     "Run a job in the foreground until its input ends or SIGINT/SIGTERM.",
     "  --state-dir DIR        state directory (default $WEIR_HOME/jobs/NAME; $WEIR_HOME\n"
     "                         defaults to ~/.local/share/weir)\n"
     "  --set KEY=VALUE        override one key of the job file, e.g.\n"
     "                         --set sources.in.file.path=x.jsonl, --set operators.big.filter=\"amount > 5\"\n"
     "  --fresh                discard the job's state; truncate its file sinks and dead letters\n"
     "  --from-savepoint PATH  start from a savepoint\n"
     "  --savepoint-on-exit    take a savepoint when stopped by SIGINT/SIGTERM\n"
     "  -h, --help             show this help\n"
     "Exit status: 0 done or stopped cleanly, 1 runtime failure, 2 job-file or usage error.\n",
     weir_cmd_run},
    {"validate", "weir validate JOB.yaml [--set KEY=VALUE]...",
     "Check a job file and print its plan; errors as FILE:LINE:COL: message.",
     "  --set KEY=VALUE   override one key of the job file before checking\n"
     "  -h, --help        show this help\n"
     "Exit status: 0 valid, 2 any error (every error is printed).\n",
     weir_cmd_validate},
    {"replay", "weir replay JOB.yaml --from TIME --to TIME [--lookback DURATION] [--lookahead DURATION]\n"
               "            [--sink NAME=TARGET]... [--state-dir DIR] [--no-progress]",
     "Re-run a job over a past time range of its Kafka sources (backfill).", "  -h, --help   show this help\n", NULL},
    {"worker", "weir worker [--listen HOST:PORT] [--home DIR] [--token-file FILE]",
     "Run many jobs as a long-lived daemon with an HTTP API.", "  -h, --help   show this help\n", NULL},
    {"submit", "weir submit JOB.yaml [--from-savepoint PATH] [--worker URL]", "Submit a job to a worker.",
     "  -h, --help   show this help\n", NULL},
    {"jobs", "weir jobs [--worker URL] [--json]", "List a worker's jobs.", "  -h, --help   show this help\n", NULL},
    {"status", "weir status NAME [--worker URL] [--json]", "Show one job of a worker.",
     "  -h, --help   show this help\n", NULL},
    {"savepoint", "weir savepoint NAME [--worker URL]", "Take a savepoint of a worker's job.",
     "  -h, --help   show this help\n", NULL},
    {"cancel", "weir cancel NAME [--savepoint] [--worker URL]", "Cancel a worker's job.",
     "  -h, --help   show this help\n", NULL},
    {"broker", "weir broker [--listen 127.0.0.1:PORT] [--partitions N] [--topic NAME[:PARTITIONS]]...",
     "Start a development Kafka broker (librdkafka's mock cluster) in the foreground.",
     "  --listen HOST:PORT     127.0.0.1:0 or localhost:0 (the default): loopback only; the port is\n"
     "                         picked by the kernel (librdkafka's mock cannot bind a fixed port)\n"
     "  --partitions N         partitions of each --topic given without :PARTITIONS (default 4;\n"
     "                         topics auto-created by clients always get 4)\n"
     "  --topic NAME[:PARTITIONS]  create a topic at start; repeatable\n"
     "  --brokers N            number of brokers, ids 1..N (default 1)\n"
     "  --control              read commands from stdin, one per line; each gets one line on\n"
     "                         stdout, \"ok\" or \"error: ...\"; EOF stops reading, not the broker:\n"
     "                           down BROKER_ID             close its connections, refuse new ones\n"
     "                           up BROKER_ID               accept connections again\n"
     "                           rtt BROKER_ID MS           delay its responses by MS milliseconds\n"
     "                           topic NAME PARTITIONS      create a topic\n"
     "                           errors API COUNT ERROR...  fail the next COUNT requests of API with ERROR\n"
     "                                                      (a name such as NOT_COORDINATOR, or a number);\n"
     "                                                      one ERROR repeats, or give COUNT of them.\n"
     "                                                      API: Produce Fetch ListOffsets Metadata\n"
     "                                                      OffsetCommit OffsetFetch FindCoordinator\n"
     "                                                      JoinGroup Heartbeat LeaveGroup SyncGroup\n"
     "                                                      ApiVersions InitProducerId OffsetForLeaderEpoch\n"
     "                                                      AddPartitionsToTxn AddOffsetsToTxn EndTxn\n"
     "                                                      TxnOffsetCommit, or an ApiKey number\n"
     "  -h, --help             show this help\n"
     "Prints bootstrap.servers=HOST:PORT as the first line of stdout, then serves until SIGINT/SIGTERM.\n"
     "For development and tests only: in memory, keeps only the last ~5 MiB per partition,\n"
     "read_committed readers also see aborted transactions, transactional producers are not\n"
     "fenced, offsets_for_times does not work.\n"
     "Exit status: 0 stopped by a signal, 1 the broker failed to start, 2 usage error.\n",
     weir_cmd_broker},
    {"version", "weir version", "Print weir's version.", "", NULL},
    {"help", "weir help [COMMAND]", "Show help for weir or one command.", "", NULL},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const command *find(const char *name) {
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

int weir_cli_usage(const char *name, FILE *f) {
    if (!name) {
        fprintf(f, "weir %s -- a stream processing engine: keyed event-time windows over files,\n"
                   "stdin and Kafka, with checkpoints in RocksDB.\n\nUsage: weir COMMAND [ARGS]\n\nCommands:\n",
                WEIR_VERSION);
        for (size_t i = 0; i < N_COMMANDS; i++)
            fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
        fprintf(f, "\nRun 'weir help COMMAND' or 'weir COMMAND --help' for a command's options.\n"
                   "Logs go to stderr; set WEIR_LOG=debug|info|warn|error to change the level.\n");
        return 0;
    }
    const command *c = find(name);
    if (!c)
        return -1;
    fprintf(f, "Usage: %s\n\n%s\n\n%s", c->usage, c->summary, c->details);
    return 0;
}

int weir_cli_usage_error(const char *command, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "weir %s: ", command);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n\n");
    weir_cli_usage(command, stderr);
    return WEIR_EXIT_USAGE;
}

int weir_cli_add_override(const char *command, weir_job_override **ov, size_t *n, char *arg) {
    char *eq = strchr(arg, '=');
    if (!eq || eq == arg) {
        fprintf(stderr, "weir %s: --set %s: expected KEY=VALUE\n", command, arg);
        return -1;
    }
    *eq = '\0';
    weir_job_override *next = realloc(*ov, (*n + 1) * sizeof *next);
    if (!next)
        return -1;
    next[*n].key = arg;
    next[*n].value = eq + 1;
    *ov = next;
    (*n)++;
    return 0;
}

static bool wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            break;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return true;
    }
    return false;
}

int weir_cli_main(int argc, char **argv) {
    const char *level = getenv("WEIR_LOG");
    if (level && weir_log_set_level_name(level) < 0)
        fprintf(stderr, "weir: ignoring WEIR_LOG=%s (expected debug, info, warn or error)\n", level);
    if (argc < 2) {
        weir_cli_usage(NULL, stderr);
        return WEIR_EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
        weir_cli_usage(NULL, stdout);
        return WEIR_EXIT_OK;
    }
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        if (argc > 2 && !wants_help(argc - 1, argv + 1)) {
            fprintf(stderr, "weir version: takes no arguments\n");
            return WEIR_EXIT_USAGE;
        }
        if (argc > 2) {
            weir_cli_usage("version", stdout);
            return WEIR_EXIT_OK;
        }
        printf("weir %s\n", WEIR_VERSION);
        return WEIR_EXIT_OK;
    }
    if (strcmp(name, "help") == 0) {
        if (argc > 3) {
            fprintf(stderr, "weir help: at most one COMMAND\n");
            return WEIR_EXIT_USAGE;
        }
        if (argc == 3 && strcmp(argv[2], "--help") != 0 && strcmp(argv[2], "-h") != 0) {
            if (weir_cli_usage(argv[2], stdout) < 0) {
                fprintf(stderr, "weir help: unknown command '%s'\n", argv[2]);
                return WEIR_EXIT_USAGE;
            }
            return WEIR_EXIT_OK;
        }
        weir_cli_usage(NULL, stdout);
        return WEIR_EXIT_OK;
    }
    const command *c = find(name);
    if (!c) {
        fprintf(stderr, "weir: unknown command '%s'\n\n", name);
        weir_cli_usage(NULL, stderr);
        return WEIR_EXIT_USAGE;
    }
    if (wants_help(argc - 1, argv + 1)) {
        weir_cli_usage(name, stdout);
        return WEIR_EXIT_OK;
    }
    if (!c->main) {
        fprintf(stderr, "weir %s: not implemented in this version yet\n", name);
        return WEIR_EXIT_FAILURE;
    }
    return c->main(argc - 1, argv + 1);
}
