/* engine/dead_letter.c -- the dead-letter record's JSON form (see dead_letter.h).
 *
 * Field order is fixed: reason, error, source, operator, partition, offset,
 * value, value_base64 (only when value had invalid UTF-8), watermark, deadline
 * (only for late records) (SPEC §6). */
#include "engine/dead_letter.h"

#include <string.h>

#include "engine/json.h"

static const char *const reason_names[WEIR_DL_N_REASONS] = {"json", "event_time", "type", "late", "sink"};

const char *weir_dead_letter_reason_name(int reason) {
    if (reason < 0 || reason >= WEIR_DL_N_REASONS)
        return "unknown";
    return reason_names[reason];
}

static void put_base64(weir_buf *out, const unsigned char *s, size_t n) {
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    weir_buf_reserve(out, (n + 2) / 3 * 4 + 2);
    weir_buf_putc(out, '"');
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        char q[4] = {tbl[v >> 18], tbl[(v >> 12) & 63], tbl[(v >> 6) & 63], tbl[v & 63]};
        weir_buf_append(out, q, 4);
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)s[i] << 16;
        char q[4] = {tbl[v >> 18], tbl[(v >> 12) & 63], '=', '='};
        weir_buf_append(out, q, 4);
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8;
        char q[4] = {tbl[v >> 18], tbl[(v >> 12) & 63], tbl[(v >> 6) & 63], '='};
        weir_buf_append(out, q, 4);
    }
    weir_buf_putc(out, '"');
}

static void put_name_or_null(weir_buf *out, const char *s) {
    if (s)
        weir_json_encode_string(out, s, strlen(s));
    else
        weir_buf_puts(out, "null");
}

void weir_dead_letter_encode(weir_buf *out, const weir_dead_letter *dl) {
    weir_buf_puts(out, "{\"reason\":\"");
    weir_buf_puts(out, weir_dead_letter_reason_name(dl->reason));
    weir_buf_puts(out, "\",\"error\":");
    put_name_or_null(out, dl->error ? dl->error : "");
    weir_buf_puts(out, ",\"source\":");
    put_name_or_null(out, dl->source);
    weir_buf_puts(out, ",\"operator\":");
    put_name_or_null(out, dl->operator_name);
    weir_buf_printf(out, ",\"partition\":%lld,\"offset\":%lld,\"value\":", (long long)dl->partition,
                    (long long)dl->offset);
    int replaced = weir_json_encode_string(out, dl->value ? dl->value : "", dl->value ? dl->value_len : 0);
    if (replaced) {
        weir_buf_puts(out, ",\"value_base64\":");
        put_base64(out, (const unsigned char *)dl->value, dl->value_len);
    }
    if (dl->has_watermark)
        weir_buf_printf(out, ",\"watermark\":%lld,\"deadline\":%lld", (long long)dl->watermark_ms,
                        (long long)dl->deadline_ms);
    weir_buf_puts(out, "}\n");
}
