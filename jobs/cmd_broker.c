/* jobs/cmd_broker.c -- `weir broker`: a development Kafka broker in the
 * foreground (SPEC §1).
 *
 * Design: parse the options, start a weir_kafka_broker (connectors/
 * kafka_broker.h), print `bootstrap.servers=HOST:PORT` as the first line of
 * stdout, then wait in poll(2) on a signalfd for SIGINT/SIGTERM and, with
 * --control, on stdin for control commands (one per line, one answer line
 * each on stdout: "ok" or "error: ...").
 *
 * Invariants:
 *   (1) stdout's first line is `bootstrap.servers=...`, flushed before any
 *       control answer and before the broker is waited on;
 *   (2) SIGINT/SIGTERM are blocked before librdkafka starts its threads, so
 *       they arrive only through the signalfd: the cluster is destroyed on the
 *       main thread and weir exits 0;
 *   (3) stderr gets one WARN line at start saying what the broker is not;
 *   (4) EOF on stdin (with --control) stops reading commands, not the broker.
 * States: starting -> serving [weir_kafka_broker_new] -> stopped [signal ->
 *   weir_kafka_broker_free]. Exit 2 for usage errors, 1 when the broker fails
 *   to start. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "connectors/kafka_broker.h"
#include "engine/log.h"
#include "jobs/cli.h"

enum { LINE_MAX_BYTES = 4096 };

/* Bytes of stdin up to the next newline (--control). */
typedef struct control_input {
    char line[LINE_MAX_BYTES];
    size_t len;
    bool overflow; /* the current line is too long: answer an error at its end */
} control_input;

static void answer(weir_kafka_broker *b, const char *line, bool overflow) {
    weir_error err = {0};
    if (overflow)
        printf("error: command longer than %d bytes\n", LINE_MAX_BYTES - 1);
    else if (weir_kafka_broker_control(b, line, &err) < 0)
        printf("error: %s\n", err.msg);
    else
        printf("ok\n");
    fflush(stdout);
}

/* Reads what stdin has and answers every complete line. Returns false at EOF
 * or on a read error (4). */
static bool control_read(weir_kafka_broker *b, control_input *in) {
    char chunk[4096];
    ssize_t n = read(STDIN_FILENO, chunk, sizeof chunk);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return true;
    if (n <= 0) {
        if (in->len > 0 || in->overflow) { /* a last line without its newline */
            in->line[in->len] = '\0';
            answer(b, in->line, in->overflow);
            in->len = 0;
            in->overflow = false;
        }
        return false;
    }
    for (ssize_t i = 0; i < n; i++) {
        if (chunk[i] == '\n') {
            in->line[in->len] = '\0';
            answer(b, in->line, in->overflow);
            in->len = 0;
            in->overflow = false;
        } else if (in->len + 1 < sizeof in->line) {
            in->line[in->len++] = chunk[i];
        } else {
            in->overflow = true;
        }
    }
    return true;
}

static int serve(weir_kafka_broker *b, int sfd, bool control) {
    control_input in = {0};
    bool reading = control;
    for (;;) {
        struct pollfd fds[2] = {{.fd = sfd, .events = POLLIN}, {.fd = STDIN_FILENO, .events = POLLIN}};
        int r = poll(fds, reading ? 2 : 1, -1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            weir_log(WEIR_LOG_ERROR, NULL, "broker: poll: %s", strerror(errno));
            return WEIR_EXIT_FAILURE;
        }
        if (fds[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
                weir_log(WEIR_LOG_INFO, NULL, "broker: stopping on %s", si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
                return WEIR_EXIT_OK;
            }
        }
        if (reading && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)))
            reading = control_read(b, &in);
    }
}

int weir_cmd_broker(int argc, char **argv) {
    static const struct option options[] = {
        {"listen", required_argument, NULL, 'l'}, {"partitions", required_argument, NULL, 'p'},
        {"topic", required_argument, NULL, 't'},  {"brokers", required_argument, NULL, 'b'},
        {"control", no_argument, NULL, 'c'},      {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int default_partitions = WEIR_KAFKA_BROKER_AUTO_PARTITIONS, n_brokers = 1;
    bool control = false;
    char **topic_args = NULL; /* borrowed from argv */
    size_t n_topics = 0;
    weir_kafka_broker_topic *topics = NULL;
    weir_error err = {0};
    int rc = WEIR_EXIT_USAGE, opt;
    optind = 1;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        char *end;
        long v;
        switch (opt) {
        case 'l':
            if (weir_kafka_broker_check_listen(optarg, &err) < 0) {
                rc = weir_cli_usage_error("broker", "%s", err.msg);
                goto done;
            }
            break;
        case 'p':
        case 'b':
            errno = 0;
            v = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || v < 1 ||
                v > (opt == 'p' ? WEIR_KAFKA_BROKER_MAX_PARTITIONS : WEIR_KAFKA_BROKER_MAX_BROKERS)) {
                rc = weir_cli_usage_error("broker", "--%s %s: expected a number from 1 to %d",
                                          opt == 'p' ? "partitions" : "brokers", optarg,
                                          opt == 'p' ? WEIR_KAFKA_BROKER_MAX_PARTITIONS
                                                     : WEIR_KAFKA_BROKER_MAX_BROKERS);
                goto done;
            }
            *(opt == 'p' ? &default_partitions : &n_brokers) = (int)v;
            break;
        case 't': {
            char **next = realloc(topic_args, (n_topics + 1) * sizeof *next);
            if (!next) {
                rc = WEIR_EXIT_FAILURE;
                goto done;
            }
            topic_args = next;
            topic_args[n_topics++] = optarg;
            break;
        }
        case 'c':
            control = true;
            break;
        case 'h':
            weir_cli_usage("broker", stdout);
            rc = WEIR_EXIT_OK;
            goto done;
        default:
            rc = weir_cli_usage_error("broker", "unknown or incomplete option '%s'", argv[optind - 1]);
            goto done;
        }
    }
    if (optind != argc) {
        rc = weir_cli_usage_error("broker", "unexpected argument '%s'", argv[optind]);
        goto done;
    }
    /* --partitions applies to every --topic without :PARTITIONS, in any order (SPEC §1). */
    topics = calloc(n_topics ? n_topics : 1, sizeof *topics);
    if (!topics) {
        rc = WEIR_EXIT_FAILURE;
        goto done;
    }
    for (size_t i = 0; i < n_topics; i++) {
        if (weir_kafka_broker_parse_topic(topic_args[i], default_partitions, &topics[i], &err) < 0) {
            rc = weir_cli_usage_error("broker", "--topic: %s", err.msg);
            goto done;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(topics[i].name, topics[j].name) == 0) {
                rc = weir_cli_usage_error("broker", "--topic %s is given twice", topics[i].name);
                goto done;
            }
        }
    }

    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    sigprocmask(SIG_BLOCK, &stop, NULL); /* (2): before librdkafka's threads exist */
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &stop, SFD_CLOEXEC);
    if (sfd < 0) {
        weir_log(WEIR_LOG_ERROR, NULL, "broker: signalfd: %s", strerror(errno));
        rc = WEIR_EXIT_FAILURE;
        goto done;
    }
    weir_log(WEIR_LOG_WARN, NULL, "%s", WEIR_KAFKA_BROKER_LIMITS); /* (3) */
    weir_kafka_broker *b = weir_kafka_broker_new(n_brokers, topics, n_topics, &err);
    if (!b) {
        weir_log(WEIR_LOG_ERROR, NULL, "broker: %s", err.msg);
        close(sfd);
        rc = WEIR_EXIT_FAILURE;
        goto done;
    }
    printf("bootstrap.servers=%s\n", weir_kafka_broker_bootstrap(b)); /* (1) */
    fflush(stdout);
    rc = serve(b, sfd, control);
    weir_kafka_broker_free(b);
    close(sfd);
done:
    free(topics);
    free(topic_args);
    return rc;
}
