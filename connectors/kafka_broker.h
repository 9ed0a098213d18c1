/* connectors/kafka_broker.h -- a development Kafka broker: librdkafka's mock
 * cluster with pre-created topics and a line-based control protocol.
 *
 * `weir broker` (jobs/cmd_broker.c) and the tests host the same thing: a mock
 * cluster (<librdkafka/rdkafka_mock.h>) that speaks the Kafka protocol on TCP
 * on 127.0.0.1, keeps everything in memory and dies with the process. A
 * weir_kafka_broker owns the rd_kafka_t handle the mock needs for its book
 * keeping (a producer that never produces) and the cluster itself. Control
 * commands (weir_kafka_broker_control) inject the faults the mock supports, so
 * e2e tests can take a broker down or fail the next EndTxn.
 *
 * Invariants:
 *   (1) the cluster listens on 127.0.0.1 only, on ports the kernel picks:
 *       librdkafka 2.0.2 binds each mock broker to 127.0.0.1:0 itself and
 *       offers no way to choose the port or pass a socket
 *       (weir_kafka_broker_check_listen refuses anything else) (SPEC §1);
 *   (2) every topic given to weir_kafka_broker_new exists, with exactly its
 *       partition count, before _new returns; topics that clients auto-create
 *       get WEIR_KAFKA_BROKER_AUTO_PARTITIONS (the mock's default) (SPEC §1);
 *   (3) the cluster is destroyed before its rd_kafka_t (librdkafka asserts
 *       otherwise), both in weir_kafka_broker_free;
 *   (4) a control command either applies completely or not at all, and a
 *       refused one says why in err.
 *
 * Limits as a user sees them (the mock's, librdkafka 2.0.2; see
 * WEIR_KAFKA_BROKER_LIMITS): in memory only; each partition keeps its last
 * ~5 MiB or 100000 batches, older ones are dropped; read_committed readers
 * also see aborted transactions; transactional producers are not fenced;
 * ListOffsets by timestamp (offsets_for_times) does not work.
 *
 * Thread: any one thread at a time per broker; the mock serves clients on its
 * own thread. */
#ifndef WEIR_CONNECTORS_KAFKA_BROKER_H
#define WEIR_CONNECTORS_KAFKA_BROKER_H

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stddef.h>

#include "engine/error.h"

enum {
    WEIR_KAFKA_BROKER_AUTO_PARTITIONS = 4,    /* (2) the mock's default for auto-created topics */
    WEIR_KAFKA_BROKER_MAX_PARTITIONS = 10000, /* per topic; the mock allocates them up front */
    WEIR_KAFKA_BROKER_MAX_BROKERS = 64,
    WEIR_KAFKA_BROKER_MAX_TOPIC_NAME = 249,   /* Kafka's limit */
};

/* One line for users: what the broker is not (logged at WARN by `weir broker`). */
#define WEIR_KAFKA_BROKER_LIMITS                                                                           \
    "development broker (librdkafka mock cluster), not for production: in memory only, keeps only the "    \
    "last ~5 MiB per partition, read_committed readers also see aborted transactions, transactional "      \
    "producers are not fenced, offsets_for_times does not work (weir searches by timestamp instead)"

/* A topic to create: name borrowed, 1 <= partitions <= WEIR_KAFKA_BROKER_MAX_PARTITIONS. */
typedef struct weir_kafka_broker_topic {
    const char *name;
    int partitions;
} weir_kafka_broker_topic;

typedef struct weir_kafka_broker weir_kafka_broker; /* opaque */

/* Parses a `--topic` argument "NAME" or "NAME:PARTITIONS" into out. arg is
 * borrowed and modified in place (the ':' becomes NUL); out->name points into
 * it. A name without ":PARTITIONS" gets default_partitions. Returns 0, or
 * WEIR_EINVAL with err naming the problem (bad name: Kafka allows 1-249 of
 * [A-Za-z0-9._-], not "." or ".."; partitions not a number in range). */
int weir_kafka_broker_parse_topic(char *arg, int default_partitions, weir_kafka_broker_topic *out,
                                  weir_error *err);

/* Checks a `--listen HOST:PORT` argument against (1): HOST must be 127.0.0.1
 * or localhost and PORT 0 (or empty: "127.0.0.1:"). arg borrowed. Returns 0,
 * or WEIR_EINVAL with err saying what is refused and why. */
int weir_kafka_broker_check_listen(const char *arg, weir_error *err);

/* Starts a mock cluster of n_brokers (1..WEIR_KAFKA_BROKER_MAX_BROKERS; ids 1..n)
 * and creates topics[0..n_topics) (borrowed) (2). Returns an owned broker
 * (weir_kafka_broker_free), or NULL with err: WEIR_EINVAL for a bad argument
 * or a topic named twice, WEIR_EKAFKA when librdkafka fails. librdkafka's log
 * lines go through weir_log; at WEIR_LOG_DEBUG the mock's debug log is on. */
weir_kafka_broker *weir_kafka_broker_new(int n_brokers, const weir_kafka_broker_topic *topics, size_t n_topics,
                                         weir_error *err);

/* Stops the cluster (clients see their connections close) and frees b (3).
 * NULL is a no-op. */
void weir_kafka_broker_free(weir_kafka_broker *b);

/* The bootstrap.servers list, "127.0.0.1:PORT[,127.0.0.1:PORT...]". Returns
 * borrowed (valid until weir_kafka_broker_free). */
const char *weir_kafka_broker_bootstrap(const weir_kafka_broker *b);

/* The mock cluster, for tests that need more of <rdkafka_mock.h>. Returns
 * borrowed (valid until weir_kafka_broker_free). */
rd_kafka_mock_cluster_t *weir_kafka_broker_cluster(weir_kafka_broker *b);

/* Creates one topic. name borrowed. Returns 0, WEIR_EINVAL (bad name or
 * count; the topic exists already), or WEIR_EKAFKA. */
int weir_kafka_broker_create_topic(weir_kafka_broker *b, const char *name, int partitions, weir_error *err);

/* Applies one control command (line borrowed; words separated by blanks; a
 * trailing newline is ignored) (4):
 *   down BROKER_ID              the broker closes its connections and refuses new ones
 *   up BROKER_ID                it accepts connections again
 *   rtt BROKER_ID MS            delays its responses by MS milliseconds (0: none)
 *   topic NAME PARTITIONS       creates a topic
 *   errors API COUNT ERROR...   the next COUNT requests of API (on any broker) fail with
 *                               the given errors in order; one ERROR is repeated COUNT times
 * API is a name (Produce, Fetch, ListOffsets, Metadata, OffsetCommit, OffsetFetch,
 * FindCoordinator, JoinGroup, Heartbeat, LeaveGroup, SyncGroup, ApiVersions,
 * InitProducerId, OffsetForLeaderEpoch, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn,
 * TxnOffsetCommit; any case) or an ApiKey number; ERROR a name as rd_kafka_err2name
 * prints it (NOT_COORDINATOR; an RD_KAFKA_RESP_ERR_ prefix is allowed) or a number
 * >= 0 (broker errors only). Returns 0, WEIR_EINVAL (unknown command, bad
 * argument, unknown broker id) or WEIR_EKAFKA, with err. */
int weir_kafka_broker_control(weir_kafka_broker *b, const char *line, weir_error *err);

#endif
