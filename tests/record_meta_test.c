/* tests/record_meta_test.c -- the Kafka metadata fields of a record
 * (engine/record_meta.h).
 *
 * weir_record_meta_add appends `_key`, `_topic`, `_partition`, `_offset` and
 * `_timestamp` as hidden members: paths (weir_value_get) find them, the JSON
 * encoder does not write them.
 *
 * Invariants checked:
 *   (1) a record's own member named like a metadata field wins and is not
 *       duplicated; n_hidden counts only the members added;
 *   (2) `_key` is null without a key, a string otherwise, with invalid UTF-8
 *       replaced by U+FFFD per maximal invalid sequence; `_timestamp` is null
 *       without a timestamp or with -1;
 *   (3) the record's original member array is not modified (a copy is made).
 * Rules from SPEC §3 (metadata fields) and §6 (U+FFFD replacement). */
#include <criterion/criterion.h>
#include <string.h>

#include "engine/arena.h"
#include "engine/buf.h"
#include "engine/json.h"
#include "engine/record_meta.h"
#include "engine/value.h"

static weir_arena arena;

static void setup(void) { weir_arena_init(&arena, 4096); }
static void teardown(void) { weir_arena_fini(&arena); }

static weir_value decode(const char *json) {
    weir_value v = {0};
    weir_json_error jerr;
    cr_assert_eq(weir_json_decode_object(json, strlen(json), &arena, &v, &jerr), 0, "%s", jerr.msg);
    /* The top-level object of these tests has no hidden members; set it here so
     * these tests check record_meta alone (the decoder's own duty is checked by
     * decoded_objects_start_with_no_hidden_members below). */
    v.n_hidden = 0;
    return v;
}

/* Fills the stack below the caller with non-zero bytes, so a value the decoder
 * leaves partly uninitialised shows it. */
__attribute__((noinline)) static void poison_stack(void) {
    volatile unsigned char big[32768];
    memset((unsigned char *)big, 0x03, sizeof big);
}

static const weir_value *get(const weir_value *obj, const char *name) {
    return weir_value_get(obj, name, strlen(name));
}

static void assert_string(const weir_value *v, const char *expect, size_t expect_len, const char *what) {
    cr_assert_not_null(v, "%s missing", what);
    cr_assert_eq(v->type, WEIR_STRING, "%s has type %s", what, weir_type_name(v->type));
    cr_assert_eq(v->len, expect_len, "%s has %u bytes, expected %zu", what, v->len, expect_len);
    cr_assert_eq(memcmp(v->as.str, expect, expect_len), 0, "%s is %.*s", what, (int)v->len, v->as.str);
}

static void assert_int(const weir_value *v, int64_t expect, const char *what) {
    cr_assert_not_null(v, "%s missing", what);
    cr_assert_eq(v->type, WEIR_INT, "%s has type %s", what, weir_type_name(v->type));
    cr_assert_eq(v->as.i, expect, "%s is %lld, expected %lld", what, (long long)v->as.i, (long long)expect);
}

static void assert_null(const weir_value *v, const char *what) {
    cr_assert_not_null(v, "%s missing (a null member is expected)", what);
    cr_assert_eq(v->type, WEIR_NULL, "%s has type %s", what, weir_type_name(v->type));
}

static weir_line kafka_line(const char *key, int64_t offset, bool has_ts, int64_t ts) {
    weir_line l = {0};
    l.data = "{}";
    l.len = 2;
    l.partition = 3;
    l.offset = offset;
    l.key = key;
    l.key_len = key ? (uint32_t)strlen(key) : 0;
    l.has_timestamp = has_ts;
    l.timestamp_ms = ts;
    return l;
}

TestSuite(record_meta, .init = setup, .fini = teardown);

Test(record_meta, adds_all_five_fields_with_their_values) {
    weir_value v = decode("{\"a\":1,\"b\":\"x\"}");
    weir_line l = kafka_line("user-7", 4242, true, 1700000000123);
    weir_record_meta_add(&v, &l, "clicks", 5, &arena);
    cr_assert_eq(v.type, WEIR_OBJECT);
    cr_assert_eq(v.len, 7);
    cr_assert_eq(v.n_hidden, 5);
    assert_int(get(&v, "a"), 1, "a");
    assert_string(get(&v, "b"), "x", 1, "b");
    assert_string(get(&v, "_key"), "user-7", 6, "_key");
    assert_string(get(&v, "_topic"), "clicks", 6, "_topic");
    assert_int(get(&v, "_partition"), 5, "_partition"); /* the Kafka partition, not line->partition (3) */
    assert_int(get(&v, "_offset"), 4242, "_offset");
    assert_int(get(&v, "_timestamp"), 1700000000123, "_timestamp");
}

Test(record_meta, hidden_members_are_not_written_by_the_json_encoder) {
    weir_value v = decode("{\"a\":1,\"b\":[true,null]}");
    weir_line l = kafka_line("k", 1, true, 2);
    weir_record_meta_add(&v, &l, "t", 0, &arena);
    weir_buf out = {0};
    weir_json_encode(&out, &v);
    cr_assert_eq(out.len, strlen("{\"a\":1,\"b\":[true,null]}"));
    cr_assert_eq(memcmp(out.data, "{\"a\":1,\"b\":[true,null]}", out.len), 0, "encoded %.*s", (int)out.len,
                 out.data);
    weir_buf_fini(&out);
}

Test(record_meta, an_empty_object_stays_empty_when_encoded) {
    weir_value v = decode("{}");
    weir_line l = kafka_line(NULL, 0, false, 0);
    weir_record_meta_add(&v, &l, "t", 0, &arena);
    cr_assert_eq(v.len, 5);
    cr_assert_eq(v.n_hidden, 5);
    weir_buf out = {0};
    weir_json_encode(&out, &v);
    cr_assert_eq(out.len, 2);
    cr_assert_eq(memcmp(out.data, "{}", 2), 0, "encoded %.*s", (int)out.len, out.data);
    weir_buf_fini(&out);
}

Test(record_meta, a_message_without_key_has_a_null_key) {
    weir_value v = decode("{\"a\":1}");
    weir_line l = kafka_line(NULL, 9, true, 10);
    weir_record_meta_add(&v, &l, "t", 0, &arena);
    assert_null(get(&v, "_key"), "_key");
    assert_int(get(&v, "_offset"), 9, "_offset");
}

Test(record_meta, an_empty_key_is_an_empty_string_not_null) {
    weir_value v = decode("{}");
    weir_line l = kafka_line("", 0, false, 0);
    weir_record_meta_add(&v, &l, "t", 0, &arena);
    assert_string(get(&v, "_key"), "", 0, "_key");
}

Test(record_meta, timestamp_is_null_without_one_or_when_it_is_minus_one) {
    static const struct {
        bool has;
        int64_t ts;
        bool null;
    } cases[] = {
        {false, 0, true},
        {false, 1234, true},
        {true, -1, true},
        {true, 0, false},
        {true, 1234, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        weir_value v = decode("{}");
        weir_line l = kafka_line("k", 0, cases[i].has, cases[i].ts);
        weir_record_meta_add(&v, &l, "t", 0, &arena);
        if (cases[i].null)
            assert_null(get(&v, "_timestamp"), "_timestamp");
        else
            assert_int(get(&v, "_timestamp"), cases[i].ts, "_timestamp");
    }
}

Test(record_meta, a_null_topic_gives_a_null_topic_field) {
    weir_value v = decode("{}");
    weir_line l = kafka_line("k", 0, false, 0);
    weir_record_meta_add(&v, &l, NULL, 2, &arena);
    assert_null(get(&v, "_topic"), "_topic");
    assert_int(get(&v, "_partition"), 2, "_partition");
}

Test(record_meta, invalid_utf8_in_the_key_becomes_one_replacement_per_maximal_invalid_sequence) {
#define FFFD "\xEF\xBF\xBD"
    static const struct {
        const char *key;
        size_t key_len;
        const char *expect;
    } cases[] = {
        {"a\xFF" "b", 3, "a" FFFD "b"},
        {"\xE2\x82", 2, FFFD},                          /* truncated 3-byte sequence: one */
        {"\xE2\x82" "x", 3, FFFD "x"},
        {"\xC0\xAF", 2, FFFD FFFD},                     /* C0 never starts a sequence: two */
        {"\xED\xA0\x80", 3, FFFD FFFD FFFD},            /* a surrogate: three */
        {"\xF0\x80\x80", 3, FFFD FFFD FFFD},            /* overlong start: three */
        {"\xF0\x9F\x98", 3, FFFD},                      /* truncated 4-byte sequence: one */
        {"\xF0\x9F\x98\x80" "\x80", 5, "\xF0\x9F\x98\x80" FFFD},
        {"\xC3\xA9\xFF\xFE", 4, "\xC3\xA9" FFFD FFFD},
    };
#undef FFFD
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        weir_value v = decode("{}");
        weir_line l = kafka_line(NULL, 0, false, 0);
        l.key = cases[i].key;
        l.key_len = (uint32_t)cases[i].key_len;
        weir_record_meta_add(&v, &l, "t", 0, &arena);
        const weir_value *k = get(&v, "_key");
        cr_assert_not_null(k);
        cr_assert_eq(k->type, WEIR_STRING, "case %zu", i);
        cr_assert_eq(k->len, strlen(cases[i].expect), "case %zu: %u bytes, expected %zu", i, k->len,
                     strlen(cases[i].expect));
        cr_assert_eq(memcmp(k->as.str, cases[i].expect, k->len), 0, "case %zu", i);
        cr_assert(weir_utf8_valid(k->as.str, k->len), "case %zu: result is valid UTF-8", i);
    }
}

Test(record_meta, the_key_is_cut_at_key_len_not_at_a_nul) {
    weir_value v = decode("{}");
    weir_line l = kafka_line(NULL, 0, false, 0);
    l.key = "abcdef";
    l.key_len = 3;
    weir_record_meta_add(&v, &l, "t", 0, &arena);
    assert_string(get(&v, "_key"), "abc", 3, "_key");
}

Test(record_meta, the_records_own_member_wins_and_is_not_duplicated) {
    weir_value v = decode("{\"_key\":\"mine\",\"a\":1,\"_offset\":-5}");
    weir_line l = kafka_line("theirs", 77, true, 88);
    weir_record_meta_add(&v, &l, "t", 1, &arena);
    cr_assert_eq(v.len, 6, "3 own members + 3 added, got %u", v.len);
    cr_assert_eq(v.n_hidden, 3, "only what was added is hidden, got %u", v.n_hidden);
    assert_string(get(&v, "_key"), "mine", 4, "_key");
    assert_int(get(&v, "_offset"), -5, "_offset");
    assert_string(get(&v, "_topic"), "t", 1, "_topic");
    assert_int(get(&v, "_partition"), 1, "_partition");
    assert_int(get(&v, "_timestamp"), 88, "_timestamp");
    /* Names stay unique (value.h (2)). */
    for (uint32_t i = 0; i < v.len; i++)
        for (uint32_t j = i + 1; j < v.len; j++)
            cr_assert(v.as.members[i].name_len != v.as.members[j].name_len ||
                          memcmp(v.as.members[i].name, v.as.members[j].name, v.as.members[i].name_len) != 0,
                      "member %.*s appears twice", (int)v.as.members[i].name_len, v.as.members[i].name);
    /* The record's own fields are still written, the added ones not. */
    weir_buf out = {0};
    weir_json_encode(&out, &v);
    const char *expect = "{\"_key\":\"mine\",\"a\":1,\"_offset\":-5}";
    cr_assert_eq(out.len, strlen(expect), "encoded %.*s", (int)out.len, out.data);
    cr_assert_eq(memcmp(out.data, expect, out.len), 0, "encoded %.*s", (int)out.len, out.data);
    weir_buf_fini(&out);
}

Test(record_meta, a_record_with_every_metadata_name_gets_nothing_added) {
    weir_value v = decode("{\"_key\":1,\"_topic\":2,\"_partition\":3,\"_offset\":4,\"_timestamp\":5}");
    weir_line l = kafka_line("k", 100, true, 200);
    weir_record_meta_add(&v, &l, "t", 9, &arena);
    cr_assert_eq(v.len, 5);
    cr_assert_eq(v.n_hidden, 0, "n_hidden %u len %u", v.n_hidden, v.len);
    assert_int(get(&v, "_key"), 1, "_key");
    assert_int(get(&v, "_timestamp"), 5, "_timestamp");
}

Test(record_meta, similar_names_do_not_count_as_metadata_names) {
    /* "_keys", "_Key", "key" and "_off" are ordinary fields: all five are added. */
    weir_value v = decode("{\"_keys\":1,\"_Key\":2,\"key\":3,\"_off\":4}");
    weir_line l = kafka_line("k", 100, true, 200);
    weir_record_meta_add(&v, &l, "t", 9, &arena);
    cr_assert_eq(v.len, 9);
    cr_assert_eq(v.n_hidden, 5);
    assert_string(get(&v, "_key"), "k", 1, "_key");
    assert_int(get(&v, "_offset"), 100, "_offset");
    assert_int(get(&v, "_keys"), 1, "_keys");
}

Test(record_meta, the_original_member_array_is_left_unchanged) {
    weir_value v = decode("{\"a\":1}");
    weir_value before = v;
    weir_line l = kafka_line("k", 1, true, 1);
    weir_record_meta_add(&v, &l, "t", 0, &arena);
    cr_assert_eq(before.len, 1);
    cr_assert_eq(before.n_hidden, 0);
    cr_assert_null(get(&before, "_key"), "the old object does not see the new member");
    cr_assert_neq((void *)v.as.members, (void *)before.as.members);
}

Test(record_meta, metadata_on_an_object_that_already_has_hidden_members_adds_to_them) {
    weir_value v = decode("{\"a\":1}");
    weir_line l = kafka_line("k", 1, true, 1);
    weir_record_meta_add(&v, &l, "t", 0, &arena);
    /* Adding again (e.g. a second pass) finds every name present: nothing new. */
    weir_record_meta_add(&v, &l, "u", 7, &arena);
    cr_assert_eq(v.len, 6);
    cr_assert_eq(v.n_hidden, 5);
    assert_string(get(&v, "_topic"), "t", 1, "_topic");
}

/* The decoder must produce objects with n_hidden == 0 at every level, else
 * weir_json_encode drops their last members (and weir_record_meta_add adds to a
 * garbage count). */
Test(record_meta, decoded_objects_start_with_no_hidden_members) {
    const char *in = "{\"a\":{\"x\":1,\"y\":2},\"b\":3}";
    for (int round = 0; round < 2; round++) {
        poison_stack();
        weir_value v;
        memset(&v, 0x03, sizeof v);
        cr_assert_eq(weir_json_decode_object(in, strlen(in), &arena, &v, NULL), 0);
        cr_assert_eq(v.n_hidden, 0, "top-level n_hidden %u", v.n_hidden);
        const weir_value *a = get(&v, "a");
        cr_assert_not_null(a);
        cr_assert_eq(a->n_hidden, 0, "nested n_hidden %u", a->n_hidden);
        weir_buf out = {0};
        weir_json_encode(&out, &v);
        cr_assert_eq(out.len, strlen(in), "encoded %.*s", (int)out.len, out.data);
        cr_assert_eq(memcmp(out.data, in, out.len), 0, "encoded %.*s", (int)out.len, out.data);
        weir_buf_fini(&out);
    }
}

Test(record_meta, large_offsets_and_partitions_keep_their_values) {
    weir_value v = decode("{}");
    weir_line l = kafka_line("k", INT64_MAX, true, 253402300799999);
    weir_record_meta_add(&v, &l, "t", INT32_MAX, &arena);
    assert_int(get(&v, "_offset"), INT64_MAX, "_offset");
    assert_int(get(&v, "_partition"), INT32_MAX, "_partition");
    assert_int(get(&v, "_timestamp"), 253402300799999, "_timestamp");
}
