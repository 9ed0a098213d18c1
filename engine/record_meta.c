/* engine/record_meta.c -- Kafka metadata fields as hidden members (see
 * record_meta.h for the rules). */
#include "engine/record_meta.h"

#include <string.h>

#include "engine/json.h"

static const char *const META_NAMES[5] = {"_key", "_topic", "_partition", "_offset", "_timestamp"};

static weir_value key_value(const weir_line *line, weir_arena *a) {
    if (!line->key)
        return weir_value_null();
    if (weir_utf8_valid(line->key, line->key_len))
        return weir_value_string(line->key, line->key_len);
    /* (2): U+FFFD (3 bytes) per maximal invalid sequence (1+ bytes). */
    char *out = weir_arena_alloc(a, (size_t)line->key_len * 3 + 1);
    size_t n = 0;
    const char *s = line->key;
    size_t left = line->key_len;
    while (left) {
        uint32_t cp;
        int k = weir_utf8_next(s, left, &cp);
        if (k > 0) {
            memcpy(out + n, s, (size_t)k);
            n += (size_t)k;
        } else {
            k = -k;
            n += weir_utf8_put(out + n, 0xFFFD);
        }
        s += k;
        left -= (size_t)k;
    }
    return weir_value_string(out, (uint32_t)n);
}

void weir_record_meta_add(weir_value *obj, const weir_line *line, const char *topic, int32_t kafka_partition,
                          weir_arena *a) {
    bool present[5] = {false};
    for (uint32_t i = 0; i < obj->len; i++) {
        const weir_member *m = &obj->as.members[i];
        if (m->name_len < 4 || m->name[0] != '_')
            continue;
        for (int k = 0; k < 5; k++)
            if (m->name_len == strlen(META_NAMES[k]) && memcmp(m->name, META_NAMES[k], m->name_len) == 0)
                present[k] = true; /* (1) */
    }
    weir_value values[5] = {
        key_value(line, a),
        topic ? weir_value_string(topic, (uint32_t)strlen(topic)) : weir_value_null(),
        weir_value_int(kafka_partition),
        weir_value_int(line->offset),
        line->has_timestamp && line->timestamp_ms >= 0 ? weir_value_int(line->timestamp_ms) : weir_value_null(),
    };
    weir_member *m = weir_arena_alloc(a, (obj->len + 5) * sizeof *m);
    if (obj->len)
        memcpy(m, obj->as.members, obj->len * sizeof *m);
    uint32_t n = obj->len;
    uint8_t hidden = 0;
    for (int k = 0; k < 5; k++) {
        if (present[k])
            continue;
        m[n].name = META_NAMES[k];
        m[n].name_len = (uint32_t)strlen(META_NAMES[k]);
        m[n].value = values[k];
        n++;
        hidden++;
    }
    obj->as.members = m;
    obj->len = n;
    obj->n_hidden = (uint8_t)(obj->n_hidden + hidden);
}
