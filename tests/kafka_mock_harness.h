/* tests/kafka_mock_harness.h -- the in-process mock cluster shared by the
 * Kafka unit tests: started with connectors/kafka_broker.h (what `weir
 * broker` runs), one broker, no topics. Include in one test file; use
 * mock_start/mock_stop as a suite's .init/.fini; `mock` gives the rest of
 * <rdkafka_mock.h> (topics with chosen partition counts, request errors). */
#ifndef WEIR_TESTS_KAFKA_MOCK_HARNESS_H
#define WEIR_TESTS_KAFKA_MOCK_HARNESS_H

#include <criterion/criterion.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>

#include "connectors/kafka_broker.h"

static weir_kafka_broker *mock_broker;
static rd_kafka_mock_cluster_t *mock;
static char bootstraps[256];

static void mock_start(void) {
    weir_error err = {0};
    mock_broker = weir_kafka_broker_new(1, NULL, 0, &err);
    cr_assert(mock_broker, "%s", err.msg);
    mock = weir_kafka_broker_cluster(mock_broker);
    snprintf(bootstraps, sizeof bootstraps, "%s", weir_kafka_broker_bootstrap(mock_broker));
}

static void mock_stop(void) {
    weir_kafka_broker_free(mock_broker);
    mock_broker = NULL;
    mock = NULL;
}

#endif
