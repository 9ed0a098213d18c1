/* tests/fuzz/fuzz_expr_parse.c -- libFuzzer target for the expression compiler
 * and evaluator (engine/expr.h).
 *
 * Compiles the input twice, without and with a list of known fields (the first
 * byte picks which half of the list), checks that every diagnostic has an
 * offset inside the text, and evaluates whatever compiles against a fixed
 * record that has every kind of value. It must never crash, leak, or trip
 * ASan/UBSan; a type error is a normal outcome.
 * Build: CC=clang meson setup B -Dfuzz=true -Db_sanitize=address,undefined
 * -Db_lundef=false && ninja -C B tests/fuzz/fuzz_expr_parse. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/expr.h"
#include "engine/json.h"

static const char *RECORD =
    "{\"i\":7,\"z\":0,\"d\":2.5,\"big\":9223372036854775807,\"min\":-9223372036854775808,"
    "\"s\":\"h\\u00e9llo \\ud83d\\ude00\",\"e\":\"\",\"t\":true,\"f\":false,\"n\":null,"
    "\"a\":[1,2.5,\"x\",[null]],\"o\":{\"k\":\"v\",\"a\":[{\"b\":1}]},\"_key\":\"42\"}";

static const char *const FIELDS[] = {"i", "z", "d", "big", "min", "s", "e", "t", "f", "n",
                                     "a", "o", "_key"};

typedef struct check_ctx {
    size_t len;
    size_t n;
} check_ctx;

static void on_error(void *ctx, size_t offset, const char *msg) {
    check_ctx *c = ctx;
    if (offset > c->len || msg == NULL || msg[0] == '\0')
        abort(); /* every diagnostic points into the text and says something */
    c->n++;
}

static void run(const char *text, size_t len, const weir_expr_fields *known,
                const weir_value *rec, weir_arena *a) {
    check_ctx c = {len, 0};
    weir_expr *e = weir_expr_compile(text, len, known, on_error, &c);
    if ((e == NULL) != (c.n > 0))
        abort(); /* NULL exactly when something was reported */
    if (!e)
        return;
    weir_value v;
    weir_fault fault;
    int rc = weir_expr_eval(e, rec, a, &v, &fault);
    if (rc != 0 && rc != WEIR_ETYPE)
        abort();
    if (rc == 0) {
        weir_buf b = WEIR_BUF_INIT;
        weir_json_encode(&b, &v); /* strings must be valid UTF-8 */
        if (v.type == WEIR_STRING && !weir_utf8_valid(v.as.str, v.len))
            abort();
        weir_buf_fini(&b);
    } else if (memchr(fault.msg, '\0', sizeof fault.msg) == NULL) {
        abort();
    }
    weir_expr_free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    weir_arena a;
    weir_arena_init(&a, 0);
    weir_value rec;
    if (weir_json_decode_object(RECORD, strlen(RECORD), &a, &rec, NULL) != 0)
        abort();
    const char *text = (const char *)data;
    run(text, size, NULL, &rec, &a);
    size_t n_fields = sizeof FIELDS / sizeof FIELDS[0];
    weir_expr_fields known = {FIELDS, (size > 0 && (data[0] & 1)) ? n_fields / 2 : n_fields};
    run(text, size, &known, &rec, &a);
    weir_arena_fini(&a);
    return 0;
}
