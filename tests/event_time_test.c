/* tests/event_time_test.c -- event times from record fields (engine/event_time.c)
 * and the strptime-style reader behind event_time.format
 * (engine/strptime_local.c).
 *
 * SPEC §4: numbers are epochs in a unit, floored to the ms (also before 1970);
 * strings are RFC 3339 unless a format is given; a numeric string is not a
 * time; a repeated local time is the earlier instant and a skipped one an
 * error; years 0000..9999 only. Expected values computed with Python's
 * datetime/zoneinfo. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/error.h"
#include "engine/event_time.h"
#include "engine/strptime_local.h"
#include "engine/time.h"

static bool have_tzdata(void) {
    const char *dir = getenv("TZDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/America/Chicago", dir && *dir ? dir : "/usr/share/zoneinfo");
    return access(path, R_OK) == 0;
}

static weir_event_time *make(weir_time_unit unit, const char *format, const char *tz) {
    weir_error err = {0};
    weir_event_time *et = weir_event_time_new(unit, format, tz, &err);
    cr_assert_not_null(et, "new(%d, %s, %s): %s", unit, format ? format : "-", tz ? tz : "-",
                       err.msg);
    weir_event_time_set_field_name(et, "ts");
    return et;
}

static weir_value str(const char *s) {
    return weir_value_string(s, (uint32_t)strlen(s));
}

/* ------------------------------------------------------------------ numbers */

Test(event_time, integer_epochs_scale_by_unit_and_floor_to_the_ms) {
    static const struct { weir_time_unit unit; int64_t in; int ok; int64_t want; } cases[] = {
        {WEIR_UNIT_MS, 1700000000000LL, 1, 1700000000000LL},
        {WEIR_UNIT_MS, -1, 1, -1},
        {WEIR_UNIT_MS, WEIR_TIME_VALID_MIN_MS, 1, WEIR_TIME_VALID_MIN_MS},
        {WEIR_UNIT_MS, WEIR_TIME_VALID_MAX_MS, 1, WEIR_TIME_VALID_MAX_MS},
        {WEIR_UNIT_MS, WEIR_TIME_VALID_MIN_MS - 1, 0, 0},
        {WEIR_UNIT_MS, WEIR_TIME_VALID_MAX_MS + 1, 0, 0},
        {WEIR_UNIT_MS, INT64_MIN, 0, 0},
        {WEIR_UNIT_S, 1700000000, 1, 1700000000000LL},
        {WEIR_UNIT_S, -1, 1, -1000},
        {WEIR_UNIT_S, 253402300799LL, 1, 253402300799000LL},
        {WEIR_UNIT_S, 253402300800LL, 0, 0},          /* year 10000 */
        {WEIR_UNIT_S, -62167219200LL, 1, WEIR_TIME_VALID_MIN_MS},
        {WEIR_UNIT_S, -62167219201LL, 0, 0},
        {WEIR_UNIT_S, INT64_MAX, 0, 0},               /* overflows when scaled */
        {WEIR_UNIT_S, INT64_MIN, 0, 0},
        {WEIR_UNIT_US, 1700000000123456LL, 1, 1700000000123LL},
        {WEIR_UNIT_US, -1, 1, -1},                    /* floor, not truncation */
        {WEIR_UNIT_US, -1000, 1, -1},
        {WEIR_UNIT_US, -1001, 1, -2},
        {WEIR_UNIT_US, 999, 1, 0},
        {WEIR_UNIT_NS, 1700000000123456789LL, 1, 1700000000123LL},
        {WEIR_UNIT_NS, -1, 1, -1},
        {WEIR_UNIT_NS, INT64_MIN, 1, -9223372036855LL},  /* 1677-09-21 */
        {WEIR_UNIT_NS, INT64_MAX, 1, 9223372036854LL},   /* 2262-04-11 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        weir_event_time *et = make(cases[i].unit, NULL, NULL);
        weir_value v = weir_value_int(cases[i].in);
        int64_t ms = 42;
        weir_fault fault = {{0}};
        int rc = weir_event_time_extract(et, &v, &ms, &fault);
        if (cases[i].ok) {
            cr_expect_eq(rc, 0, "%lld unit %d: %s", (long long)cases[i].in, cases[i].unit, fault.msg);
            cr_expect_eq(ms, cases[i].want, "%lld unit %d: got %lld", (long long)cases[i].in,
                         cases[i].unit, (long long)ms);
        } else {
            cr_expect_eq(rc, WEIR_ETIME, "%lld unit %d should fail, got %lld",
                         (long long)cases[i].in, cases[i].unit, (long long)ms);
            cr_expect_neq(strstr(fault.msg, "outside years 0000-9999"), NULL, "%s", fault.msg);
        }
        weir_event_time_free(et);
    }
}

Test(event_time, double_epochs_floor_to_the_ms_after_scaling) {
    static const struct { weir_time_unit unit; double in; int ok; int64_t want; } cases[] = {
        {WEIR_UNIT_MS, 1700000000123.9, 1, 1700000000123LL},
        {WEIR_UNIT_MS, 0.999, 1, 0},
        {WEIR_UNIT_MS, -0.5, 1, -1},
        {WEIR_UNIT_MS, -1.0, 1, -1},
        {WEIR_UNIT_MS, -0.0, 1, 0},
        {WEIR_UNIT_MS, 253402300799999.5, 1, WEIR_TIME_VALID_MAX_MS},
        {WEIR_UNIT_MS, 253402300800000.0, 0, 0},
        {WEIR_UNIT_MS, -62167219200000.5, 0, 0},
        {WEIR_UNIT_MS, 1e300, 0, 0},
        /* unit s: the exact floor of the binary value (as Fraction in Python) */
        {WEIR_UNIT_S, 1700000000.123, 1, 1700000000122LL},  /* the double is ...12299990 */
        {WEIR_UNIT_S, 1700000000.1239, 1, 1700000000123LL},
        {WEIR_UNIT_S, 1700000000.25, 1, 1700000000250LL},
        {WEIR_UNIT_S, 1.5, 1, 1500},
        {WEIR_UNIT_S, 0.0009, 1, 0},
        {WEIR_UNIT_S, -0.0005, 1, -1},
        {WEIR_UNIT_S, -1.5, 1, -1500},
        {WEIR_UNIT_S, -0.001, 1, -2},                       /* the double is below -0.001 */
        {WEIR_UNIT_S, -1e-20, 1, -1},
        {WEIR_UNIT_S, 1e-20, 1, 0},
        {WEIR_UNIT_S, 253402300799.999, 1, WEIR_TIME_VALID_MAX_MS - 1},
        {WEIR_UNIT_S, -62167219200.0, 1, WEIR_TIME_VALID_MIN_MS},
        {WEIR_UNIT_S, -62167219200.0005, 0, 0},
        {WEIR_UNIT_S, 253402300800.0, 0, 0},
        {WEIR_UNIT_S, -1e300, 0, 0},
        {WEIR_UNIT_US, 1.5, 1, 0},
        {WEIR_UNIT_US, -0.5, 1, -1},
        {WEIR_UNIT_US, 1700000000123456.0, 1, 1700000000123LL},
        {WEIR_UNIT_NS, 1.7e18, 1, 1700000000000LL},
        {WEIR_UNIT_NS, 2.5e20, 1, 250000000000000LL},      /* beyond int64 ns, year 9892 */
        {WEIR_UNIT_NS, -1.0, 1, -1},
        {WEIR_UNIT_NS, 1e30, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        weir_event_time *et = make(cases[i].unit, NULL, NULL);
        weir_value v = weir_value_double(cases[i].in);
        int64_t ms = 42;
        weir_fault fault = {{0}};
        int rc = weir_event_time_extract(et, &v, &ms, &fault);
        if (cases[i].ok) {
            cr_expect_eq(rc, 0, "%.17g unit %d: %s", cases[i].in, cases[i].unit, fault.msg);
            cr_expect_eq(ms, cases[i].want, "%.17g unit %d: got %lld", cases[i].in, cases[i].unit,
                         (long long)ms);
        } else {
            cr_expect_eq(rc, WEIR_ETIME, "%.17g unit %d should fail, got %lld", cases[i].in,
                         cases[i].unit, (long long)ms);
        }
        weir_event_time_free(et);
    }
}

Test(event_time, non_finite_doubles_are_refused) {
    weir_event_time *et = make(WEIR_UNIT_MS, NULL, NULL);
    const double bad[] = {NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 3; i++) {
        weir_value v = weir_value_double(bad[i]);
        int64_t ms = 42;
        weir_fault fault = {{0}};
        cr_expect_eq(weir_event_time_extract(et, &v, &ms, &fault), WEIR_ETIME);
        cr_expect_eq(ms, 42);
        cr_expect_neq(strstr(fault.msg, "not a finite number"), NULL, "%s", fault.msg);
    }
    weir_event_time_free(et);
}

/* -------------------------------------------------------- other value kinds */

Test(event_time, missing_null_bool_array_and_object_are_errors_that_say_why) {
    weir_event_time *et = make(WEIR_UNIT_MS, NULL, NULL);
    weir_value items[1] = {weir_value_int(1)};
    weir_value arr = {.type = WEIR_ARRAY, .len = 1, .as.items = items};
    weir_value obj = {.type = WEIR_OBJECT, .len = 0, .as.members = NULL};
    weir_value nul = weir_value_null(), b = weir_value_bool(true);
    static const char *want[] = {
        "event time field 'ts' is missing",
        "event time field 'ts' is null",
        "event time field 'ts' is a bool, not a time (expected a number or a string)",
        "event time field 'ts' is an array, not a time (expected a number or a string)",
        "event time field 'ts' is an object, not a time (expected a number or a string)",
    };
    const weir_value *fields[] = {NULL, &nul, &b, &arr, &obj};
    for (int i = 0; i < 5; i++) {
        int64_t ms = 42;
        weir_fault fault = {{0}};
        cr_expect_eq(weir_event_time_extract(et, fields[i], &ms, &fault), WEIR_ETIME);
        cr_expect_str_eq(fault.msg, want[i]);
        cr_expect_eq(ms, 42);
    }
    weir_event_time_free(et);
}

/* ------------------------------------------------------------------ strings */

Test(event_time, rfc3339_strings_and_numeric_strings) {
    weir_event_time *et = make(WEIR_UNIT_S, NULL, have_tzdata() ? "America/Chicago" : NULL);
    int64_t ms = 0;
    weir_fault fault = {{0}};
    weir_value v = str("2001-01-01T00:01:00Z");
    cr_expect_eq(weir_event_time_extract(et, &v, &ms, &fault), 0, "%s", fault.msg);
    cr_expect_eq(ms, 978307260000LL); /* the unit and the zone do not apply to RFC 3339 */
    v = str("1969-12-31T23:59:59.5Z");
    cr_expect_eq(weir_event_time_extract(et, &v, &ms, &fault), 0);
    cr_expect_eq(ms, -500);

    static const char *numeric[] = {"1700000000000", "1700000000", "-1", "1.5e12", "+5"};
    for (size_t i = 0; i < sizeof numeric / sizeof numeric[0]; i++) {
        v = str(numeric[i]);
        ms = 42;
        cr_expect_eq(weir_event_time_extract(et, &v, &ms, &fault), WEIR_ETIME, "%s", numeric[i]);
        cr_expect_eq(ms, 42);
        cr_expect_neq(strstr(fault.msg, "is a numeric string, not a time"), NULL, "%s", fault.msg);
    }
    v = str("2001-02-29T00:00:00Z");
    cr_expect_eq(weir_event_time_extract(et, &v, &ms, &fault), WEIR_ETIME);
    cr_expect_str_eq(fault.msg, "event time field 'ts': not an RFC 3339 time: "
                                "'2001-02-29T00:00:00Z' (day out of range for the month)");
    v = str("");
    cr_expect_eq(weir_event_time_extract(et, &v, &ms, &fault), WEIR_ETIME);
    /* Long and binary-looking input is cut, and control bytes do not reach the message. */
    v = str("2001-01-01T00:00:00Z\n........................................................");
    cr_expect_eq(weir_event_time_extract(et, &v, &ms, &fault), WEIR_ETIME);
    cr_expect_null(strchr(fault.msg, '\n'), "%s", fault.msg);
    cr_expect_neq(strstr(fault.msg, "...'"), NULL, "%s", fault.msg);
    weir_event_time_free(et);
}

typedef struct {
    const char *format, *zone, *in;
    int ok;
    int64_t want_ms;
    const char *msg; /* substring of the fault message when !ok */
} format_case;

static void run_format_cases(const format_case *cases, size_t n) {
    for (size_t i = 0; i < n; i++) {
        weir_event_time *et = make(WEIR_UNIT_MS, cases[i].format, cases[i].zone);
        weir_value v = str(cases[i].in);
        int64_t ms = 42;
        weir_fault fault = {{0}};
        int rc = weir_event_time_extract(et, &v, &ms, &fault);
        if (cases[i].ok) {
            cr_expect_eq(rc, 0, "'%s' ~ '%s' in %s: %s", cases[i].in, cases[i].format,
                         cases[i].zone ? cases[i].zone : "UTC", fault.msg);
            cr_expect_eq(ms, cases[i].want_ms, "'%s' in %s: got %lld want %lld", cases[i].in,
                         cases[i].zone ? cases[i].zone : "UTC", (long long)ms,
                         (long long)cases[i].want_ms);
        } else {
            cr_expect_eq(rc, WEIR_ETIME, "'%s' ~ '%s' should fail, got %lld", cases[i].in,
                         cases[i].format, (long long)ms);
            cr_expect_eq(ms, 42);
            cr_expect_neq(strstr(fault.msg, cases[i].msg), NULL, "'%s': message '%s' lacks '%s'",
                          cases[i].in, fault.msg, cases[i].msg);
        }
        weir_event_time_free(et);
    }
}

Test(event_time, formatted_local_times_in_dst_zones) {
    if (!have_tzdata())
        cr_skip_test("no tzdata installed");
    static const format_case cases[] = {
        {"%Y/%m/%d %H:%M", "America/Chicago", "2001/01/15 12:00", 1, 979581600000LL, NULL},
        {"%Y/%m/%d %H:%M", "America/Chicago", "2001/04/01 02:30", 0, 0,
         "event time field 'ts': local time 2001-04-01T02:30 does not exist in America/Chicago (DST gap)"},
        {"%Y/%m/%d %H:%M:%S.%f", "America/Chicago", "2001/04/01 02:00:00.5", 0, 0,
         "local time 2001-04-01T02:00:00.500 does not exist"},
        {"%Y/%m/%d %H:%M", "America/Chicago", "2001/10/28 01:30", 1, 1004250600000LL, NULL},
        {"%Y/%m/%d %H:%M", "America/Chicago", "2040/03/11 02:30", 0, 0, "(DST gap)"},
        {"%Y/%m/%d %H:%M", "America/Chicago", "2040/11/04 01:30", 1, 2235623400000LL, NULL},
        {"%Y-%m-%d %H:%M", "Europe/Berlin", "2021-03-28 02:30", 0, 0, "does not exist in Europe/Berlin"},
        {"%Y-%m-%d %H:%M", "Europe/Berlin", "2021-10-31 02:30", 1, 1635640200000LL, NULL},
        {"%Y-%m-%d %H:%M", "Europe/Berlin", "2050-10-30 02:30", 1, 2550702600000LL, NULL},
        {"%F %R", "Australia/Lord_Howe", "2021-10-03 02:15", 0, 0, "does not exist"},
        {"%F %R", "Australia/Lord_Howe", "2021-04-04 01:45", 1, 1617461100000LL, NULL},
        {"%F %R", "Australia/Lord_Howe", "2021-04-04 02:00", 1, 1617463800000LL, NULL},
        {"%F %R", "Asia/Kathmandu", "2001-01-01 05:45", 1, 978307200000LL, NULL},
        /* %z wins over the zone */
        {"%d/%b/%Y:%H:%M:%S %z", "America/Chicago", "10/Oct/2000:13:55:36 -0700", 1, 971211336000LL, NULL},
        {"%d/%b/%Y:%H:%M:%S %z", "America/Chicago", "01/Apr/2001:02:30:00 +0000", 1, 986092200000LL, NULL},
        /* the valid range is judged in UTC, after the zone */
        {"%F %T", "America/Chicago", "0000-01-01 00:00:00", 1, WEIR_TIME_VALID_MIN_MS + 21036000LL, NULL},
        {"%F %T", "Europe/Berlin", "0000-01-01 00:00:00", 0, 0, "outside years 0000-9999"},
        {"%F %T", "America/Chicago", "9999-12-31 23:59:59", 0, 0, "outside years 0000-9999"},
        {"%F %T", "America/Chicago", "9999-12-31 17:59:59", 1, WEIR_TIME_VALID_MAX_MS - 999, NULL},
    };
    run_format_cases(cases, sizeof cases / sizeof cases[0]);
}

Test(event_time, formatted_times_in_utc) {
    static const format_case cases[] = {
        {"%Y%m%d%H%M%S", NULL, "20010101000000", 1, 978307200000LL, NULL}, /* numeric, but formatted */
        {"%Y-%m-%dT%H:%M:%S.%f", NULL, "2001-01-01T00:00:00.9999999", 1, 978307200999LL, NULL},
        {"%Y-%m-%dT%H:%M:%S.%f", "UTC", "1969-12-31T23:59:59.5", 1, -500, NULL},
        {"%F %T", NULL, "2016-12-31 23:59:60", 1, 1483228799999LL, NULL},
        {"%F %T", NULL, "2001-02-30 00:00:00", 0, 0,
         "'2001-02-30 00:00:00' does not match format '%F %T' (day out of range for the month)"},
        {"%F %T", NULL, "2001-01-01T00:00:00", 0, 0, "expected a space"},
        {"%F %T", NULL, "1700000000000", 0, 0, "does not match format"},
    };
    run_format_cases(cases, sizeof cases / sizeof cases[0]);
}

Test(event_time, bad_formats_units_and_zones_fail_at_build_time) {
    weir_error err = {0};
    cr_expect_null(weir_event_time_new(WEIR_UNIT_MS, "%H:%M", NULL, &err));
    cr_expect_eq(err.code, WEIR_EINVAL);
    cr_expect_null(weir_event_time_new(WEIR_UNIT_MS, NULL, "Mars/Base", &err));
    cr_expect(err.code == WEIR_ENOTFOUND || err.code == WEIR_EINVAL, "%d", err.code);
    cr_expect_null(weir_event_time_new(WEIR_UNIT_MS, NULL, "../../etc/passwd", &err));
    cr_expect_eq(err.code, WEIR_EINVAL);
    cr_expect_null(weir_event_time_new((weir_time_unit)7, NULL, NULL, &err));
    cr_expect_eq(err.code, WEIR_EINVAL);
}

/* ------------------------------------------------------------ strptime_local */

typedef struct {
    const char *format, *in;
    int ok;
    int64_t want_local_ms;
} sl_case;

Test(strptime_local, conversions_read_to_local_milliseconds) {
    static const sl_case cases[] = {
        {"%Y/%m/%d %H:%M", "2001/01/01 00:01", 1, 978307260000LL},
        {"%Y/%m/%d %H:%M", "2001/1/1 0:01", 1, 978307260000LL},       /* widths are maxima */
        {"%Y/%m/%d %H:%M", "2001/01/01   00:01", 1, 978307260000LL},  /* blank: 1 or more */
        {"%Y%m%d%H%M%S", "20010101000000", 1, 978307200000LL},
        {"%b %e %H:%M:%S %Y", "Feb  3 00:00:00 2001", 1, 981158400000LL},
        {"%b %e %H:%M:%S %Y", "FEB 3 00:00:00 2001", 1, 981158400000LL},
        {"%B %d, %Y", "February 03, 2001", 1, 981158400000LL},
        {"%B %d, %Y", "feb 03, 2001", 1, 981158400000LL},
        {"%h-%d-%Y", "Sep-01-2001", 1, 999302400000LL},
        {"%a, %d %b %Y %H:%M:%S %z", "Wed, 04 Jul 2001 15:04:05 +0000", 1, 994259045000LL},
        {"%A %d %B %Y", "wednesday 04 july 2001", 1, 994204800000LL},
        {"%I:%M %p %m/%d/%Y", "12:30 AM 01/01/2001", 1, 978309000000LL},
        {"%I:%M %p %m/%d/%Y", "12:30 PM 01/01/2001", 1, 978352200000LL},
        {"%I:%M %p %m/%d/%Y", "01:00 pm 01/01/2001", 1, 978354000000LL},
        {"%F %T", "2001-07-04 15:04:05", 1, 994259045000LL},
        {"%D %R", "07/04/01 15:04", 1, 994259040000LL},
        {"%y-%m-%d", "69-07-20", 1, -14256000000LL},
        {"%y-%m-%d", "68-01-01", 1, 3092601600000LL},
        {"%Y-%j", "2001-365", 1, 1009756800000LL},
        {"%Y-%j", "2004-366", 1, 1104451200000LL},
        {"%Y-%j", "2004-060", 1, 1078012800000LL},                    /* Feb 29 */
        {"%Y%%%m", "2001%02", 1, 980985600000LL},
        {"%Y", "2001", 1, 978307200000LL},                            /* defaults */
        {"%Y-%m-%dT%H:%M:%S.%f", "2001-01-01T00:00:00.5", 1, 978307200500LL},
        {"%Y-%m-%dT%H:%M:%S.%f", "2001-01-01T00:00:00.123456789", 1, 978307200123LL},
        {"%F %T", "2016-12-31 23:59:60", 1, 1483228799999LL},
        {"%F %T", "0000-02-29 00:00:00", 1, WEIR_TIME_VALID_MIN_MS + 59LL * 86400000},
        {"%F%n%T", "2001-07-04\t15:04:05", 1, 994259045000LL},
        /* refusals */
        {"%Y/%m/%d", "2001/02/30", 0, 0},
        {"%Y/%m/%d", "2001/02/29", 0, 0},
        {"%Y/%m/%d", "1900/02/29", 0, 0},
        {"%Y/%m/%d", "2001/13/01", 0, 0},
        {"%Y/%m/%d", "2001/00/01", 0, 0},
        {"%Y/%m/%d", "2001/01/00", 0, 0},
        {"%Y/%m/%d %H:%M", "2001/01/01 24:00", 0, 0},
        {"%Y/%m/%d %H:%M", "2001/01/01 00:60", 0, 0},
        {"%Y/%m/%d %H:%M:%S", "2001/01/01 00:00:61", 0, 0},
        {"%Y/%m/%d %H:%M", "2001/01/01 00:01x", 0, 0},
        {"%Y/%m/%d %H:%M", "2001/01/01", 0, 0},
        {"%Y/%m/%d %H:%M", "2001/01/0100:01", 0, 0},
        {"%Y/%m/%d %H:%M", " 2001/01/01 00:01", 0, 0},
        {"%Y/%m/%d", "20010/01/01", 0, 0},
        {"%Y-%j", "2001-366", 0, 0},
        {"%Y-%j", "2001-000", 0, 0},
        {"%I:%M %p %Y", "13:00 PM 2001", 0, 0},
        {"%I:%M %p %Y", "00:00 AM 2001", 0, 0},
        {"%I:%M %p %Y", "10:00 XM 2001", 0, 0},
        {"%b %Y", "Foo 2001", 0, 0},
        {"%Y-%m-%dT%H:%M:%S.%f", "2001-01-01T00:00:00.", 0, 0},
        {"%Y-%m-%dT%H:%M:%S.%f", "2001-01-01T00:00:00.1234567890", 0, 0},
        {"%Y", "", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        weir_error err = {0};
        weir_strptime_local *f = weir_strptime_local_new(cases[i].format, &err);
        cr_assert_not_null(f, "%s: %s", cases[i].format, err.msg);
        weir_local_time lt;
        memset(&lt, 0, sizeof lt);
        const char *why = NULL;
        int rc = weir_strptime_local_parse(f, cases[i].in, strlen(cases[i].in), &lt, &why);
        if (cases[i].ok) {
            cr_expect_eq(rc, 0, "'%s' ~ '%s': %s", cases[i].in, cases[i].format, why ? why : "");
            cr_expect_eq(lt.local_ms, cases[i].want_local_ms, "'%s' ~ '%s': got %lld",
                         cases[i].in, cases[i].format, (long long)lt.local_ms);
        } else {
            cr_expect_eq(rc, WEIR_ETIME, "'%s' ~ '%s' should fail, got %lld", cases[i].in,
                         cases[i].format, (long long)lt.local_ms);
            cr_expect_not_null(why);
        }
        weir_strptime_local_free(f);
    }
}

Test(strptime_local, offsets_are_read_when_the_format_has_z) {
    static const struct { const char *in; int ok; int32_t off_s; } cases[] = {
        {"2001-01-01 00:00 +0545", 1, 20700},   {"2001-01-01 00:00 +05:45", 1, 20700},
        {"2001-01-01 00:00 -07", 1, -25200},    {"2001-01-01 00:00 Z", 1, 0},
        {"2001-01-01 00:00 z", 1, 0},           {"2001-01-01 00:00 -00:00", 1, 0},
        {"2001-01-01 00:00 +2400", 0, 0},       {"2001-01-01 00:00 +0560", 0, 0},
        {"2001-01-01 00:00 +5", 0, 0},          {"2001-01-01 00:00 +05:", 0, 0},
        {"2001-01-01 00:00 +055", 0, 0},        {"2001-01-01 00:00 UTC", 0, 0},
        {"2001-01-01 00:00 +05:45:00", 0, 0},
    };
    weir_error err = {0};
    weir_strptime_local *f = weir_strptime_local_new("%F %R %z", &err);
    cr_assert_not_null(f, "%s", err.msg);
    cr_expect(weir_strptime_local_has_offset(f));
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        weir_local_time lt;
        memset(&lt, 0, sizeof lt);
        int rc = weir_strptime_local_parse(f, cases[i].in, strlen(cases[i].in), &lt, NULL);
        if (cases[i].ok) {
            cr_expect_eq(rc, 0, "%s", cases[i].in);
            cr_expect(lt.has_offset);
            cr_expect_eq(lt.offset_s, cases[i].off_s, "%s: %d", cases[i].in, lt.offset_s);
            cr_expect_eq(lt.local_ms, 978307200000LL);
        } else {
            cr_expect_eq(rc, WEIR_ETIME, "'%s' should fail", cases[i].in);
        }
    }
    weir_strptime_local_free(f);
}

Test(strptime_local, formats_that_cannot_work_are_refused_when_compiled) {
    static const char *bad[] = {
        "", "%H:%M", "%m/%d", "%Y %I:%M", "%Y %H %p", "%Y %I %H %p", "%Y %Q", "%Y %Z", "%Y %",
        "%Y-%j-%m", "%Y-%j %d", "%s",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        weir_error err = {0};
        cr_expect_null(weir_strptime_local_new(bad[i], &err), "'%s' compiled", bad[i]);
        cr_expect_eq(err.code, WEIR_EINVAL, "'%s'", bad[i]);
        cr_expect_neq(err.msg[0], '\0');
    }
}
