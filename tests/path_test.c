/* tests/path_test.c -- field paths: grammar, errors with offsets, lookup
 * (engine/path.h, SPEC §3: nested values are reachable by path, a missing
 * field is null). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "engine/json.h"
#include "engine/path.h"

static weir_arena arena;
static weir_value record;

static const char *RECORD =
    "{\"user\":{\"id\":\"u1\",\"tags\":[\"a\",\"b\"]},"
    "\"items\":[{\"price\":2.5},{\"price\":4}],"
    "\"n\":null,\"x\":7,\"_key\":\"k\",\"Y_2\":{\"deep\":{\"er\":[[1,2],[3]]}}}";

static void setup(void) {
    weir_arena_init(&arena, 0);
    cr_assert_eq(weir_json_decode_object(RECORD, strlen(RECORD), &arena, &record, NULL), 0);
}

static void teardown(void) { weir_arena_fini(&arena); }

/* Returns the looked-up value as compact JSON, or "MISSING". */
static const char *lookup_json(const char *path, char *buf, size_t size) {
    weir_error err = {0};
    weir_path *p = weir_path_compile(path, strlen(path), &err);
    cr_assert_not_null(p, "compile %s: %s", path, err.msg);
    const weir_value *v = weir_path_lookup(p, &record);
    if (!v) {
        snprintf(buf, size, "MISSING");
    } else {
        weir_buf b = WEIR_BUF_INIT;
        weir_json_encode(&b, v);
        snprintf(buf, size, "%s", b.data);
        weir_buf_fini(&b);
    }
    weir_path_free(p);
    return buf;
}

Test(path, compiles_names_members_and_indexes_into_segments) {
    static const struct { const char *text; size_t segments; const char *root; } rows[] = {
        {"a", 1, "a"},
        {"user.id", 2, "user"},
        {"items[0]", 2, "items"},
        {"items[0].price", 3, "items"},
        {"a[0].b[12].c", 5, "a"},
        {"_x1.Y_2", 2, "_x1"},
        {"m[1][2]", 3, "m"},
        {"a[4294967294]", 2, "a"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        weir_error err = {0};
        weir_path *p = weir_path_compile(rows[i].text, strlen(rows[i].text), &err);
        cr_assert_not_null(p, "%s: %s", rows[i].text, err.msg);
        cr_expect_eq(weir_path_segments(p), rows[i].segments, "%s", rows[i].text);
        size_t len;
        const char *root = weir_path_root(p, &len);
        cr_expect_eq(len, strlen(rows[i].root), "%s", rows[i].text);
        cr_expect_eq(memcmp(root, rows[i].root, len), 0, "%s", rows[i].text);
        cr_expect_str_eq(weir_path_text(p), rows[i].text);
        weir_path_free(p);
    }
}

Test(path, rejects_bad_paths_naming_the_byte_offset) {
    static const struct { const char *text; const char *offset; const char *why; } rows[] = {
        {"", "offset 0", "expected a field name"},
        {"1a", "offset 0", "expected a field name"},
        {".a", "offset 0", "expected a field name"},
        {"a.", "offset 2", "after '.'"},
        {"a..b", "offset 2", "after '.'"},
        {"a.1", "offset 2", "after '.'"},
        {"a[", "offset 2", "array index"},
        {"a[]", "offset 2", "array index"},
        {"a[x]", "offset 2", "array index"},
        {"a[-1]", "offset 2", "array index"},
        {"a[1", "offset 3", "']'"},
        {"a[1 ]", "offset 3", "']'"},
        {"a[4294967295]", "offset 2", "too large"},
        {"a b", "offset 1", "unexpected character"},
        {"a-b", "offset 1", "unexpected character"},
        {"é", "offset 0", "expected a field name"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        weir_error err = {0};
        weir_path *p = weir_path_compile(rows[i].text, strlen(rows[i].text), &err);
        cr_expect_null(p, "'%s' should not compile", rows[i].text);
        cr_expect_eq(err.code, WEIR_EINVAL, "%s", rows[i].text);
        cr_expect(strstr(err.msg, rows[i].offset) != NULL, "'%s': %s", rows[i].text, err.msg);
        cr_expect(strstr(err.msg, rows[i].why) != NULL, "'%s': %s", rows[i].text, err.msg);
        weir_path_free(p);
    }
}

Test(path, compile_prefix_stops_where_the_path_ends) {
    static const struct { const char *text; size_t consumed; } rows[] = {
        {"a.b + 1", 3},
        {"items[0].price*2", 14},
        {"x)", 1},
        {"a[1][2]b", 7},
        {"abc", 3},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        size_t consumed = 99, off = 99;
        weir_path *p = weir_path_compile_prefix(rows[i].text, strlen(rows[i].text), &consumed,
                                                &off, NULL);
        cr_assert_not_null(p, "%s", rows[i].text);
        cr_expect_eq(consumed, rows[i].consumed, "%s: %zu", rows[i].text, consumed);
        cr_expect_eq(strlen(weir_path_text(p)), rows[i].consumed);
        weir_path_free(p);
    }
    size_t consumed = 0, off = 0;
    cr_expect_null(weir_path_compile_prefix("a.[0]", 5, &consumed, &off, NULL));
    cr_expect_eq(off, 2);
    cr_expect_null(weir_path_compile_prefix("ab[7", 4, &consumed, &off, NULL));
    cr_expect_eq(off, 4);
}

Test(path, looks_up_nested_members_and_array_items, .init = setup, .fini = teardown) {
    static const struct { const char *path; const char *json; } rows[] = {
        {"x", "7"},
        {"_key", "\"k\""},
        {"user.id", "\"u1\""},
        {"user.tags", "[\"a\",\"b\"]"},
        {"user.tags[1]", "\"b\""},
        {"items[0].price", "2.5"},
        {"items[1].price", "4"},
        {"items[1]", "{\"price\":4}"},
        {"Y_2.deep.er[0][1]", "2"},
        {"Y_2.deep.er[1][0]", "3"},
        {"n", "null"}, /* present, JSON null: found */
    };
    char buf[256];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        cr_expect_str_eq(lookup_json(rows[i].path, buf, sizeof buf), rows[i].json, "%s",
                         rows[i].path);
}

Test(path, a_missing_segment_or_wrong_kind_gives_null_pointer, .init = setup,
     .fini = teardown) {
    static const char *const rows[] = {
        "nope",            /* no such field */
        "user.name",       /* no such member */
        "items[2]",        /* index past the end */
        "items[4294967294]",
        "user[0]",         /* index into an object */
        "items.price",     /* member of an array */
        "x.y",             /* member of an int */
        "x[0]",            /* index into an int */
        "n.a",             /* member of null */
        "user.id.more",    /* member of a string */
        "user.tags[0][0]", /* index into a string */
        "USER.id",         /* names are case-sensitive */
    };
    char buf[64];
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        cr_expect_str_eq(lookup_json(rows[i], buf, sizeof buf), "MISSING", "%s", rows[i]);
}

Test(path, lookup_on_a_record_that_is_not_an_object_gives_null_pointer) {
    weir_path *p = weir_path_compile("a", 1, NULL);
    cr_assert_not_null(p);
    weir_value i = weir_value_int(3);
    weir_value s = weir_value_string("a", 1);
    cr_expect_null(weir_path_lookup(p, &i));
    cr_expect_null(weir_path_lookup(p, &s));
    weir_path_free(p);
}

Test(path, free_of_null_is_a_no_op) {
    weir_path_free(NULL);
}
