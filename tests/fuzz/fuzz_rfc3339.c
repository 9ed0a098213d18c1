/* tests/fuzz/fuzz_rfc3339.c -- libFuzzer target for the time parsers.
 *
 * Feeds every input to weir_rfc3339_parse, weir_time_arg_parse, the duration
 * and size parsers, the strptime-style reader under a few fixed formats, and
 * (as TZif bytes) weir_tz_parse. Checks, beyond "no crash, no UB":
 *   (1) an accepted RFC 3339 time lies in years 0000..9999 and survives
 *       format -> parse unchanged;
 *   (2) an accepted strptime local time has in-range fields;
 *   (3) a zone that parses answers offset and local->UTC queries with
 *       offsets that round-trip (utc + offset_at(utc) == local);
 *   (4) the first 8 bytes read as a double and as an int64 give, in every
 *       unit, an error or an event time in years 0000..9999.
 * Build: meson setup BUILD -Dfuzz=true -Db_sanitize=address,undefined
 * -Db_lundef=false with CC=clang; run: BUILD/tests/fuzz/fuzz_rfc3339 -max_total_time=30. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/error.h"
#include "engine/event_time.h"
#include "engine/strptime_local.h"
#include "engine/time.h"
#include "engine/tzfile.h"

#define CHECK(c)         \
    do {                 \
        if (!(c))        \
            abort();     \
    } while (0)

static const char *const formats[] = {
    "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S.%f", "%d/%b/%Y:%H:%M:%S %z",
    "%a, %d %b %Y %H:%M:%S %z", "%I:%M %p %D", "%Y-%j %T", "%Y%m%d%H%M%S", "%b %e %Y %%",
};
static weir_strptime_local *compiled[sizeof formats / sizeof formats[0]];
static weir_event_time *extractors[4];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *s = (const char *)data;
    int64_t ms;
    if (weir_rfc3339_parse(s, size, &ms) == 0) { /* (1) */
        CHECK(ms >= WEIR_TIME_VALID_MIN_MS && ms <= WEIR_TIME_VALID_MAX_MS);
        char buf[32];
        size_t n = weir_rfc3339_format(ms, buf, sizeof buf);
        int64_t back = 0;
        CHECK(weir_rfc3339_parse(buf, n, &back) == 0 && back == ms);
    }
    if (weir_time_arg_parse(s, size, &ms) == 0)
        CHECK(ms >= WEIR_TIME_VALID_MIN_MS && ms <= WEIR_TIME_VALID_MAX_MS);
    if (weir_duration_parse(s, size, &ms) == 0)
        CHECK(ms >= 0);
    if (weir_size_parse(s, size, &ms) == 0)
        CHECK(ms >= 0);

    for (size_t k = 0; k < sizeof formats / sizeof formats[0]; k++) {
        if (!compiled[k])
            compiled[k] = weir_strptime_local_new(formats[k], NULL);
        CHECK(compiled[k]);
        weir_local_time lt;
        const char *why = NULL;
        if (weir_strptime_local_parse(compiled[k], s, size, &lt, &why) == 0) { /* (2) */
            CHECK(lt.year >= 0 && lt.year <= 9999 && lt.month >= 1 && lt.month <= 12);
            CHECK(lt.day >= 1 && lt.day <= 31 && lt.hour <= 23 && lt.minute <= 59);
            CHECK(lt.second <= 59 && lt.millisecond <= 999);
        } else {
            CHECK(why != NULL);
        }
    }

    if (size >= 8) { /* (4) */
        double d;
        int64_t i;
        memcpy(&d, data, 8);
        memcpy(&i, data, 8);
        weir_value vals[2] = {weir_value_double(d), weir_value_int(i)};
        for (int u = 0; u < 4; u++) {
            if (!extractors[u])
                extractors[u] = weir_event_time_new((weir_time_unit)u, NULL, NULL, NULL);
            for (int k = 0; k < 2; k++) {
                weir_fault fault;
                if (weir_event_time_extract(extractors[u], &vals[k], &ms, &fault) == 0)
                    CHECK(ms >= WEIR_TIME_VALID_MIN_MS && ms <= WEIR_TIME_VALID_MAX_MS);
            }
        }
    }

    weir_tz *tz = weir_tz_parse("fuzz", data, size, NULL);
    if (tz) { /* (3) */
        static const int64_t probes[] = {WEIR_TIME_VALID_MIN_MS, -1, 0, 986092200000LL,
                                         2235605400000LL, WEIR_TIME_VALID_MAX_MS};
        for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
            int32_t off = weir_tz_offset_at(tz, probes[i]);
            CHECK(off >= -26 * 3600 && off <= 26 * 3600);
            int64_t utc;
            if (weir_tz_local_to_utc(tz, probes[i], &utc) == 0)
                CHECK(utc + (int64_t)weir_tz_offset_at(tz, utc) * 1000 == probes[i]);
        }
        weir_tz_free(tz);
    }
    return 0;
}
