/* tests/fuzz/fuzz_json_decode.c -- libFuzzer target for the JSON codec.
 *
 * Decodes the input as any JSON value (the object-only entry point is the
 * same code plus one check, exercised on every other input). When it
 * decodes: every string must be valid UTF-8 and every object's names unique
 * (value.h (1), (2)); encoding then decoding again must give a value that is
 * weir_value_equal to the first, with identical canonical bytes and an
 * identical second encoding (encode is a fixed point after one round).
 * The input is copied into an exact-size heap block, so ASan catches any read
 * past buf + len.
 * Build: CC=clang meson setup B -Dfuzz=true -Db_sanitize=address,undefined
 *        -Db_lundef=false && ninja -C B tests/fuzz/fuzz_json_decode */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/json.h"
#include "engine/value.h"

static void check_invariants(const weir_value *v) {
    switch (v->type) {
    case WEIR_STRING:
        if (!weir_utf8_valid(v->as.str, v->len))
            abort();
        break;
    case WEIR_ARRAY:
        for (uint32_t i = 0; i < v->len; i++)
            check_invariants(&v->as.items[i]);
        break;
    case WEIR_OBJECT:
        for (uint32_t i = 0; i < v->len; i++) {
            const weir_member *m = &v->as.members[i];
            if (!weir_utf8_valid(m->name, m->name_len))
                abort();
            if (weir_value_get(v, m->name, m->name_len) != &m->value)
                abort(); /* an earlier member has the same name */
            check_invariants(&m->value);
        }
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = malloc(size ? size : 1);
    if (size)
        memcpy(buf, data, size);
    weir_arena a;
    weir_arena_init(&a, 4096);
    weir_value v;
    weir_json_error err;
    int object_only = size > 0 && (data[0] & 1);
    int rc = object_only ? weir_json_decode_object(buf, size, &a, &v, &err)
                         : weir_json_decode_value(buf, size, &a, &v, &err);
    if (rc == 0) {
        if (object_only && v.type != WEIR_OBJECT)
            abort();
        check_invariants(&v);
        weir_buf enc1 = WEIR_BUF_INIT, enc2 = WEIR_BUF_INIT, c1 = WEIR_BUF_INIT, c2 = WEIR_BUF_INIT;
        weir_json_encode(&enc1, &v);
        weir_value w;
        if (weir_json_decode_value(enc1.data, enc1.len, &a, &w, &err) != 0) {
            fprintf(stderr, "re-decode failed: %s at %zu: %s\n", err.msg, err.offset, enc1.data);
            abort();
        }
        if (!weir_value_equal(&v, &w) || weir_value_order(&v, &w) != 0)
            abort();
        weir_value_canonical(&c1, &v);
        weir_value_canonical(&c2, &w);
        if (c1.len != c2.len || memcmp(c1.data, c2.data, c1.len) != 0)
            abort();
        weir_json_encode(&enc2, &w);
        if (enc1.len != enc2.len || memcmp(enc1.data, enc2.data, enc1.len) != 0)
            abort();
        weir_value h = weir_value_copy_heap(&v);
        if (!weir_value_equal(&h, &v))
            abort();
        weir_value_free_heap(&h);
        weir_buf_fini(&enc1);
        weir_buf_fini(&enc2);
        weir_buf_fini(&c1);
        weir_buf_fini(&c2);
    } else if (err.offset > size) {
        abort();
    }
    weir_arena_fini(&a);
    free(buf);
    return 0;
}
