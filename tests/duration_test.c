/* tests/duration_test.c -- DURATION and size strings (engine/duration.c).
 *
 * Tables of input and expected output: SPEC §1 DURATION ("250ms", "10s", "5m",
 * "2h", "1d"), SPEC §2 state.memory (KB/MB/GB, 1024-based), and everything
 * that must be refused (negative, empty, unknown unit, overflow, spaces). */
#include <criterion/criterion.h>
#include <string.h>

#include "engine/error.h"
#include "engine/time.h"

typedef struct {
    const char *in;
    int64_t want;
} ok_case;

Test(duration, spec_examples_and_units_parse_to_milliseconds) {
    static const ok_case cases[] = {
        {"250ms", 250},
        {"10s", 10000},
        {"5m", 300000},
        {"2h", 7200000},
        {"1d", 86400000},
        {"0s", 0},
        {"0", 0},
        {"0ms", 0},
        {"007s", 7000},
        {"1000000d", 86400000000000LL},
        {"9223372036854775807ms", INT64_MAX},
        {"106751991167d", 106751991167LL * 86400000LL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = -1;
        int rc = weir_duration_parse(cases[i].in, strlen(cases[i].in), &ms);
        cr_expect_eq(rc, 0, "%s: rc %d", cases[i].in, rc);
        cr_expect_eq(ms, cases[i].want, "%s: got %lld", cases[i].in, (long long)ms);
    }
}

Test(duration, malformed_negative_and_overflowing_durations_are_refused) {
    static const char *bad[] = {
        "", "s", "ms", "-1s", "+1s", "1", "10", "1.5s", "1 s", " 1s", "1s ", "1S", "1M", "1H",
        "1D", "1w", "1y", "1sec", "1mss", "1h30m", "10us", "10ns",
        "9223372036854775808ms",  /* beyond int64 */
        "106751991168d",          /* overflows after scaling */
        "9223372036854775807s",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms = 12345;
        int rc = weir_duration_parse(bad[i], strlen(bad[i]), &ms);
        cr_expect_eq(rc, WEIR_EINVAL, "'%s' should be refused, rc %d", bad[i], rc);
        cr_expect_eq(ms, 12345, "'%s' must not write the result", bad[i]);
    }
}

Test(duration, length_bounds_the_input_not_the_nul) {
    int64_t ms = 0;
    cr_expect_eq(weir_duration_parse("10sXYZ", 3, &ms), 0);
    cr_expect_eq(ms, 10000);
    cr_expect_eq(weir_duration_parse("250ms", 4, &ms), 0); /* "250m" */
    cr_expect_eq(ms, 250 * 60000);
}

Test(size, memory_sizes_are_1024_based_and_case_insensitive) {
    static const ok_case cases[] = {
        {"256MB", 256LL << 20},
        {"1KB", 1024},
        {"1GB", 1LL << 30},
        {"2TB", 2LL << 40},
        {"100B", 100},
        {"0", 0},
        {"0B", 0},
        {"256mb", 256LL << 20},
        {"256MiB", 256LL << 20},
        {"1gib", 1LL << 30},
        {"8388607TB", 8388607LL << 40},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t b = -1;
        int rc = weir_size_parse(cases[i].in, strlen(cases[i].in), &b);
        cr_expect_eq(rc, 0, "%s: rc %d", cases[i].in, rc);
        cr_expect_eq(b, cases[i].want, "%s: got %lld", cases[i].in, (long long)b);
    }
}

Test(size, malformed_and_overflowing_sizes_are_refused) {
    static const char *bad[] = {
        "", "MB", "256", "-1MB", "1.5GB", "256 MB", "1PB", "1K", "1M", "1G", "1bytes",
        "8388608TB", /* 2^63 */
        "99999999999999999999B",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t b = 777;
        cr_expect_eq(weir_size_parse(bad[i], strlen(bad[i]), &b), WEIR_EINVAL, "'%s'", bad[i]);
        cr_expect_eq(b, 777);
    }
}
