/* tests/kafka_offsets_test.c -- offset lookups against librdkafka's in-process
 * mock cluster: ends, committed, and by time (the mock answers -1 to every
 * ListOffsets by timestamp, so these tests exercise the binary search of
 * kafka_offsets.h (1)). */
#include <criterion/criterion.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <string.h>

#include "connectors/kafka_offsets.h"

#include "tests/kafka_mock_harness.h"

static rd_kafka_t *client(rd_kafka_type_t type, const char *group) {
    char e[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    cr_assert_eq(rd_kafka_conf_set(c, "bootstrap.servers", bootstraps, e, sizeof e), RD_KAFKA_CONF_OK);
    if (group)
        rd_kafka_conf_set(c, "group.id", group, e, sizeof e);
    rd_kafka_t *rk = rd_kafka_new(type, c, e, sizeof e);
    cr_assert(rk, "%s", e);
    return rk;
}

/* Partition p gets n messages of pad_bytes + a few bytes with timestamps
 * base + step * i. */
static void produce_padded(const char *topic, int32_t p, int n, int64_t base_ms, int64_t step_ms, int pad_bytes) {
    rd_kafka_t *pr = client(RD_KAFKA_PRODUCER, NULL);
    for (int i = 0; i < n; i++) {
        char v[4096 + 32];
        int len = snprintf(v, sizeof v, "{\"i\":%d,\"pad\":\"%*s\"}", i, pad_bytes, "");
        cr_assert_eq(rd_kafka_producev(pr, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(p),
                                       RD_KAFKA_V_VALUE(v, (size_t)len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                       RD_KAFKA_V_TIMESTAMP(base_ms + step_ms * i), RD_KAFKA_V_END),
                     0);
        rd_kafka_poll(pr, 0);
    }
    cr_assert_eq(rd_kafka_flush(pr, 10000), 0);
    rd_kafka_destroy(pr);
}

static void produce(const char *topic, int32_t p, int n, int64_t base_ms, int64_t step_ms) {
    produce_padded(topic, p, n, base_ms, step_ms, 0);
}

static weir_kafka_client test_client = {.job_name = "test", .what = "offsets test"};

static int64_t for_time(rd_kafka_t *rk, const char *topic, int32_t p, int64_t t_ms) {
    weir_kafka_prop props[] = {{"bootstrap.servers", bootstraps}};
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, p);
    weir_error err = {0};
    cr_assert_eq(weir_kafka_offsets_for_time(rk, &test_client, props, 1, l, t_ms, 10000, &err), 0, "%s", err.msg);
    cr_assert_eq(l->elems[0].err, 0);
    int64_t o = l->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(l);
    return o;
}

TestSuite(kafka_offsets, .init = mock_start, .fini = mock_stop);

Test(kafka_offsets, ends_are_earliest_and_high_watermark) {
    cr_assert_eq(rd_kafka_mock_topic_create(mock, "t", 2, 1), 0);
    produce("t", 0, 7, 1000, 10);
    rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, NULL);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(2);
    rd_kafka_topic_partition_list_add(l, "t", 0);
    rd_kafka_topic_partition_list_add(l, "t", 1);
    cr_assert_eq(weir_kafka_offsets_ends(rk, l, true, 5000, NULL), 0);
    cr_assert_eq(l->elems[0].offset, 7);
    cr_assert_eq(l->elems[1].offset, 0);
    cr_assert_eq(weir_kafka_offsets_ends(rk, l, false, 5000, NULL), 0);
    cr_assert_eq(l->elems[0].offset, 0);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
}

/* Table: partition 0 has 300 messages at 1000, 1010, ..., 3990. */
Test(kafka_offsets, time_lookup_finds_first_offset_at_or_after_time) {
    cr_assert_eq(rd_kafka_mock_topic_create(mock, "t", 1, 1), 0);
    produce("t", 0, 300, 1000, 10);
    rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, NULL);
    static const struct {
        int64_t t_ms, offset;
    } table[] = {
        {0, 0},       {999, 0},     {1000, 0},    {1001, 1},   {1010, 1},   {1011, 2},
        {2500, 150},  {2505, 151},  {3980, 298},  {3990, 299}, {3991, 300}, {100000, 300},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        int64_t o = for_time(rk, "t", 0, table[i].t_ms);
        cr_expect_eq(o, table[i].offset, "T=%lld: got %lld, want %lld", (long long)table[i].t_ms, (long long)o,
                     (long long)table[i].offset);
        cr_expect_leq(weir_kafka_offsets_last_rounds(), 12, "T=%lld took %d rounds", (long long)table[i].t_ms,
                      weir_kafka_offsets_last_rounds());
    }
    rd_kafka_destroy(rk);
}

/* Several partitions searched together: rounds are shared, not summed. */
Test(kafka_offsets, time_lookup_probes_all_partitions_together) {
    cr_assert_eq(rd_kafka_mock_topic_create(mock, "m", 4, 1), 0);
    produce("m", 0, 1000, 0, 1);       /* ts = offset */
    produce("m", 1, 1000, 500, 1);     /* ts = 500 + offset */
    produce("m", 2, 3, 10000, 1);      /* all after T */
    /* partition 3: empty */
    rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, NULL);
    weir_kafka_prop props[] = {{"bootstrap.servers", bootstraps}};
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(4);
    for (int p = 0; p < 4; p++)
        rd_kafka_topic_partition_list_add(l, "m", p);
    weir_error err = {0};
    cr_assert_eq(weir_kafka_offsets_for_time(rk, &test_client, props, 1, l, 777, 10000, &err), 0, "%s", err.msg);
    cr_expect_eq(l->elems[0].offset, 777);
    cr_expect_eq(l->elems[1].offset, 277);
    cr_expect_eq(l->elems[2].offset, 0);
    cr_expect_eq(l->elems[3].offset, 0);
    cr_expect_leq(weir_kafka_offsets_last_rounds(), 13, "rounds %d", weir_kafka_offsets_last_rounds());
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
}

/* Big messages: a fetch holds few of them, so the search takes rounds. */
Test(kafka_offsets, time_lookup_searches_a_partition_bigger_than_one_fetch) {
    cr_assert_eq(rd_kafka_mock_topic_create(mock, "big", 1, 1), 0);
    produce_padded("big", 0, 2000, 5000, 2, 2000); /* ~4 MB */
    rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, NULL);
    static const int64_t offsets[] = {0, 1, 2, 999, 1000, 1001, 1337, 1998, 1999};
    for (size_t i = 0; i < sizeof offsets / sizeof offsets[0]; i++) {
        int64_t o = for_time(rk, "big", 0, 5000 + 2 * offsets[i]);
        cr_expect_eq(o, offsets[i], "got %lld, want %lld", (long long)o, (long long)offsets[i]);
        o = for_time(rk, "big", 0, 5000 + 2 * offsets[i] - 1);
        cr_expect_eq(o, offsets[i], "T-1: got %lld, want %lld", (long long)o, (long long)offsets[i]);
        cr_expect_geq(weir_kafka_offsets_last_rounds(), offsets[i] == 1999 ? 1 : 2); /* a real search */
        cr_expect_leq(weir_kafka_offsets_last_rounds(), 13);
    }
    cr_expect_eq(for_time(rk, "big", 0, 5000 + 2 * 2000), 2000);
    cr_expect_eq(weir_kafka_offsets_last_rounds(), 1, "a time after all: one round (the last message)");
    rd_kafka_destroy(rk);
}

/* Equal timestamps: the FIRST offset with ts >= T. */
Test(kafka_offsets, time_lookup_with_equal_timestamps_gives_the_first) {
    cr_assert_eq(rd_kafka_mock_topic_create(mock, "eq", 1, 1), 0);
    produce("eq", 0, 10, 1000, 0); /* 0..9 at 1000 */
    produce("eq", 0, 10, 2000, 0); /* 10..19 at 2000 */
    rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, NULL);
    cr_expect_eq(for_time(rk, "eq", 0, 2000), 10);
    cr_expect_eq(for_time(rk, "eq", 0, 1500), 10);
    cr_expect_eq(for_time(rk, "eq", 0, 1000), 0);
    rd_kafka_destroy(rk);
}

Test(kafka_offsets, committed_is_invalid_until_the_group_commits) {
    cr_assert_eq(rd_kafka_mock_topic_create(mock, "c", 2, 1), 0);
    produce("c", 0, 5, 1000, 1);
    rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, "grp");
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(2);
    rd_kafka_topic_partition_list_add(l, "c", 0);
    rd_kafka_topic_partition_list_add(l, "c", 1);
    cr_assert_eq(weir_kafka_offsets_committed(rk, l, 5000, NULL), 0);
    cr_expect_eq(l->elems[0].offset, RD_KAFKA_OFFSET_INVALID);
    l->elems[0].offset = 3;
    l->elems[1].offset = RD_KAFKA_OFFSET_INVALID;
    rd_kafka_topic_partition_list_t *one = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(one, "c", 0)->offset = 3;
    cr_assert_eq(rd_kafka_commit(rk, one, 0), 0);
    cr_assert_eq(weir_kafka_offsets_committed(rk, l, 5000, NULL), 0);
    cr_expect_eq(l->elems[0].offset, 3);
    cr_expect_eq(l->elems[1].offset, RD_KAFKA_OFFSET_INVALID);
    rd_kafka_topic_partition_list_destroy(one);
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
}
