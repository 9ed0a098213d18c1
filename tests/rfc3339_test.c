/* tests/rfc3339_test.c -- RFC 3339 times as SPEC §4 reads them (engine/rfc3339.c).
 *
 * Tables: valid times with their epoch ms (expected values computed with
 * Python's datetime), times that must be refused, the CLI TIME argument
 * (RFC 3339 or epoch ms, SPEC §1), formatting, and a format/parse round trip
 * over the whole valid range. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "engine/error.h"
#include "engine/record.h"
#include "engine/time.h"

typedef struct {
    const char *in;
    int64_t want_ms;
} ok_case;

Test(rfc3339, valid_times_parse_to_epoch_milliseconds) {
    static const ok_case cases[] = {
        {"1970-01-01T00:00:00Z", 0},
        {"2001-01-01T00:01:00Z", 978307260000LL},            /* flights data */
        {"2001-01-01t00:01:00z", 978307260000LL},            /* lower-case t, z */
        {"2001-01-01 00:01:00Z", 978307260000LL},            /* space separator */
        {"2001-01-01T00:01:00+00:00", 978307260000LL},
        {"2001-01-01T00:01:00-00:00", 978307260000LL},
        {"2026-11-01T00:00:00.250+01:00", 1793487600250LL},  /* SPEC §1 example */
        {"2001-01-01T05:45:00+05:45", 978307200000LL},       /* Nepal */
        {"2001-01-01T00:00:00-23:59", 978393540000LL},
        {"2000-02-29T12:00:00Z", 951825600000LL},            /* leap year (div by 400) */
        {"2024-02-29T23:59:59.999Z", 1709251199999LL},
        {"1900-01-01T00:00:00Z", -2208988800000LL},
        /* fractions: 1..9 digits, floored (never rounded) to the ms */
        {"1970-01-01T00:00:00.5Z", 500},
        {"1970-01-01T00:00:00.25Z", 250},
        {"1970-01-01T00:00:00.123Z", 123},
        {"1970-01-01T00:00:00.1239Z", 123},
        {"1970-01-01T00:00:00.123456789Z", 123},
        {"1970-01-01T00:00:00.9999999Z", 999},
        {"1970-01-01T00:00:00.000000001Z", 0},
        /* before 1970: flooring goes towards -infinity */
        {"1969-12-31T23:59:59.5Z", -500},
        {"1969-12-31T23:59:59.9999999Z", -1},
        {"1969-12-31T23:59:59Z", -1000},
        /* leap second: :60 reads as :59.999, whatever the fraction */
        {"2016-12-31T23:59:60Z", 1483228799999LL},
        {"2016-12-31T23:59:60.5Z", 1483228799999LL},
        {"2016-12-31T23:59:60.000Z", 1483228799999LL},
        /* bounds: years 0000..9999 in UTC */
        {"0000-01-01T00:00:00Z", WEIR_TIME_VALID_MIN_MS},
        {"0000-01-01T00:30:00+00:30", WEIR_TIME_VALID_MIN_MS},
        {"0000-02-29T00:00:00Z", WEIR_TIME_VALID_MIN_MS + 59LL * 86400000},  /* year 0 is leap */
        {"9999-12-31T23:59:59.999Z", WEIR_TIME_VALID_MAX_MS},
        {"9999-12-31T23:59:59.999999999Z", WEIR_TIME_VALID_MAX_MS},
        {"9999-12-31T23:59:60Z", WEIR_TIME_VALID_MAX_MS},
        {"9999-12-31T23:59:59.999-00:00", WEIR_TIME_VALID_MAX_MS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = 42;
        const char *why = "unset";
        int rc = weir_rfc3339_parse_why(cases[i].in, strlen(cases[i].in), &ms, &why);
        cr_expect_eq(rc, 0, "%s: rc %d (%s)", cases[i].in, rc, why ? why : "");
        cr_expect_null(why, "%s", cases[i].in);
        cr_expect_eq(ms, cases[i].want_ms, "%s: got %lld want %lld", cases[i].in, (long long)ms,
                     (long long)cases[i].want_ms);
    }
}

Test(rfc3339, malformed_and_out_of_range_times_are_refused) {
    static const char *bad[] = {
        "", "1700000000000", "978307260000.5", "2001-01-01", "2001-01-01T00:00:00",
        "2001-01-01T00:00Z", "2001-1-01T00:00:00Z", "01-01-01T00:00:00Z", "+2001-01-01T00:00:00Z",
        "2001-01-01X00:00:00Z", "2001-01-01_00:00:00Z", "2001/01/01T00:00:00Z",
        "2001-01-01T00.00.00Z", " 2001-01-01T00:00:00Z", "2001-01-01T00:00:00Z ",
        "2001-01-01T00:00:00ZZ", "2001-01-01T00:00:00UTC", "2001-01-01T00:00:00+0000",
        "2001-01-01T00:00:00+00", "2001-01-01T00:00:00+00:0", "2001-01-01T00:00:00+00:00:00",
        "2001-01-01T00:00:00+24:00", "2001-01-01T00:00:00+05:60", "2001-01-01T00:00:00.Z",
        "2001-01-01T00:00:00,5Z", "2001-01-01T00:00:00.1234567890Z", "2001-01-01T00:00:00.5",
        "2001-00-01T00:00:00Z", "2001-13-01T00:00:00Z", "2001-01-00T00:00:00Z",
        "2001-01-32T00:00:00Z", "2001-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
        "2001-04-31T00:00:00Z", "2001-02-30T00:00:00Z", "2001-01-01T24:00:00Z",
        "2001-01-01T23:60:00Z", "2001-01-01T23:59:61Z", "2001-01-01T-1:00:00Z",
        "0000-01-01T00:00:00+00:01", "0000-01-01T00:00:00.999+00:01",
        "9999-12-31T23:59:59-00:01", "9999-12-31T23:30:00-01:00",
        "２００１-01-01T00:00:00Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = 42;
        const char *why = NULL;
        int rc = weir_rfc3339_parse_why(bad[i], strlen(bad[i]), &ms, &why);
        cr_expect_eq(rc, WEIR_ETIME, "'%s' should be refused, rc %d ms %lld", bad[i], rc,
                     (long long)ms);
        cr_expect_not_null(why, "'%s' has no reason", bad[i]);
        cr_expect_eq(ms, 42, "'%s' must not write the result", bad[i]);
        cr_expect_eq(weir_rfc3339_parse(bad[i], strlen(bad[i]), &ms), WEIR_ETIME, "%s", bad[i]);
    }
}

Test(rfc3339, reasons_name_what_is_wrong) {
    static const struct { const char *in, *why; } cases[] = {
        {"2001-02-29T00:00:00Z", "day out of range for the month"},
        {"2001-13-01T00:00:00Z", "month out of range"},
        {"2001-01-01T24:00:00Z", "hour out of range"},
        {"2001-01-01T00:00:00.1234567890Z", "more than 9 fraction digits"},
        {"2001-01-01T00:00:00", "no time zone offset (Z or +hh:mm)"},
        {"0000-01-01T00:00:00+00:01", "outside years 0000-9999 in UTC"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms;
        const char *why = NULL;
        weir_rfc3339_parse_why(cases[i].in, strlen(cases[i].in), &ms, &why);
        cr_expect_str_eq(why ? why : "(null)", cases[i].why, "%s", cases[i].in);
    }
}

Test(rfc3339, length_bounds_the_input_not_the_nul) {
    int64_t ms = 0;
    const char *s = "2001-01-01T00:01:00Z trailing";
    cr_expect_eq(weir_rfc3339_parse(s, 20, &ms), 0);
    cr_expect_eq(ms, 978307260000LL);
    cr_expect_eq(weir_rfc3339_parse(s, 19, &ms), WEIR_ETIME);
}

Test(time_arg, rfc3339_or_epoch_milliseconds) {
    static const ok_case cases[] = {
        {"2026-11-01T00:00:00Z", 1793491200000LL},
        {"2026-11-01T00:00:00.250+01:00", 1793487600250LL},
        {"1700000000000", 1700000000000LL},
        {"0", 0},
        {"-1", -1},
        {"-62167219200000", WEIR_TIME_VALID_MIN_MS},
        {"253402300799999", WEIR_TIME_VALID_MAX_MS},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = 42;
        cr_expect_eq(weir_time_arg_parse(cases[i].in, strlen(cases[i].in), &ms), 0, "%s",
                     cases[i].in);
        cr_expect_eq(ms, cases[i].want_ms, "%s: got %lld", cases[i].in, (long long)ms);
    }
    static const char *bad[] = {"", "-", "1e3", "1.5", "+5", "12a", "253402300800000",
                                "-62167219200001", "99999999999999999999", "now", "2026-11-01"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = 42;
        cr_expect_eq(weir_time_arg_parse(bad[i], strlen(bad[i]), &ms), WEIR_EINVAL, "'%s'", bad[i]);
        cr_expect_eq(ms, 42);
    }
}

Test(rfc3339_format, writes_utc_with_milliseconds_and_sentinels) {
    static const struct { int64_t ms; const char *want; } cases[] = {
        {0, "1970-01-01T00:00:00.000Z"},
        {-1, "1969-12-31T23:59:59.999Z"},
        {-500, "1969-12-31T23:59:59.500Z"},
        {978307260000LL, "2001-01-01T00:01:00.000Z"},
        {951825600000LL, "2000-02-29T12:00:00.000Z"},
        {WEIR_TIME_VALID_MIN_MS, "0000-01-01T00:00:00.000Z"},
        {WEIR_TIME_VALID_MAX_MS, "9999-12-31T23:59:59.999Z"},
        {WEIR_TIME_VALID_MIN_MS - 1, "-0001-12-31T23:59:59.999Z"},
        {WEIR_TIME_VALID_MAX_MS + 1, "+10000-01-01T00:00:00.000Z"},
        {WEIR_TIME_MIN, "-infinity"},
        {WEIR_TIME_MAX, "+infinity"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[32];
        size_t n = weir_rfc3339_format(cases[i].ms, buf, sizeof buf);
        cr_expect_str_eq(buf, cases[i].want, "%lld", (long long)cases[i].ms);
        cr_expect_eq(n, strlen(cases[i].want));
    }
    /* The extremes other than the sentinels fit in 32 bytes. */
    char buf[32];
    cr_expect_leq(weir_rfc3339_format(INT64_MIN + 1, buf, sizeof buf), 30);
    cr_expect_leq(weir_rfc3339_format(INT64_MAX - 1, buf, sizeof buf), 30);
    /* Truncates like snprintf and reports the full length. */
    char small[8];
    cr_expect_eq(weir_rfc3339_format(0, small, sizeof small), 24);
    cr_expect_str_eq(small, "1970-01");
}

Test(rfc3339_format, format_then_parse_round_trips_over_the_valid_range) {
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    const int64_t span = WEIR_TIME_VALID_MAX_MS - WEIR_TIME_VALID_MIN_MS + 1;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t ms = WEIR_TIME_VALID_MIN_MS + (int64_t)(x % (uint64_t)span);
        char buf[32];
        size_t n = weir_rfc3339_format(ms, buf, sizeof buf);
        int64_t back = 0;
        cr_assert_eq(weir_rfc3339_parse(buf, n, &back), 0, "%s", buf);
        cr_assert_eq(back, ms, "%s: %lld != %lld", buf, (long long)back, (long long)ms);
    }
}

Test(days_from_civil, known_days_including_year_zero_and_before) {
    static const struct { int64_t y; unsigned m, d; int64_t want; } cases[] = {
        {1970, 1, 1, 0},        {2000, 3, 1, 11017},       {9999, 12, 31, 2932896},
        {1, 1, 1, -719162},     {0, 1, 1, -719528},        {-1, 12, 31, -719529},
        {1969, 12, 31, -1},     {2000, 2, 29, 11016},      {-400, 3, 1, -719528 - 146097 + 60},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(weir_days_from_civil(cases[i].y, cases[i].m, cases[i].d), cases[i].want,
                     "%lld-%u-%u", (long long)cases[i].y, cases[i].m, cases[i].d);
}
