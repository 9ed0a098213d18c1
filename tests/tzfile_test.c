/* tests/tzfile_test.c -- IANA time zones from TZif files (engine/tzfile.c).
 *
 * Real zones from the system's tzdata (expected values computed with Python's
 * zoneinfo, which reads the same files): DST gaps and repeats in
 * America/Chicago, Europe/Berlin and Australia/Lord_Howe (30-minute DST),
 * dates past the end of the transition table (the footer rule: 2040, 2500),
 * LMT before 1883, negative epochs. Synthetic TZif files (built in memory)
 * pin the footer rule forms (Mm.w.d, Jn, n, negative and >24h times, DST
 * all year) and every malformed-file refusal. SPEC §4: a repeated local time is
 * the earlier instant, a skipped one an error. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/error.h"
#include "engine/time.h"
#include "engine/tzfile.h"

static bool have_tzdata(void) {
    const char *dir = getenv("TZDIR");
    char path[512];
    snprintf(path, sizeof path, "%s/America/Chicago", dir && *dir ? dir : "/usr/share/zoneinfo");
    return access(path, R_OK) == 0;
}

typedef struct {
    const char *zone, *local;
    int64_t local_ms;
    int exists;
    int64_t want_ms;
} local_case;

Test(tzfile, local_times_map_to_the_earlier_instant_and_gaps_are_errors) {
    if (!have_tzdata())
        cr_skip_test("no tzdata installed");
    static const local_case cases[] = {
        {"America/Chicago", "2001-01-15T12:00:00", 979560000000LL, 1, 979581600000LL}, /* winter CST */
        {"America/Chicago", "2001-07-01T12:00:00.250", 993988800250LL, 1, 994006800250LL}, /* summer CDT, ms kept */
        {"America/Chicago", "2001-04-01T01:59:59.999", 986090399999LL, 1, 986111999999LL}, /* last ms before the gap */
        {"America/Chicago", "2001-04-01T02:30:00", 986092200000LL, 0, 0}, /* spring-forward gap */
        {"America/Chicago", "2001-04-01T02:00:00", 986090400000LL, 0, 0}, /* gap starts at 02:00 */
        {"America/Chicago", "2001-04-01T03:00:00", 986094000000LL, 1, 986112000000LL}, /* first instant after the gap */
        {"America/Chicago", "2001-10-28T01:30:00", 1004232600000LL, 1, 1004250600000LL}, /* fall-back: earlier (CDT) */
        {"America/Chicago", "2001-10-28T00:59:59", 1004230799000LL, 1, 1004248799000LL}, /* before the repeated hour */
        {"America/Chicago", "2001-10-28T02:00:00", 1004234400000LL, 1, 1004256000000LL}, /* after the repeated hour */
        {"America/Chicago", "2040-03-11T02:30:00", 2215045800000LL, 0, 0}, /* gap in 2040 (footer rule) */
        {"America/Chicago", "2040-11-04T01:30:00", 2235605400000LL, 1, 2235623400000LL}, /* fall-back in 2040 (footer rule) */
        {"America/Chicago", "2040-07-04T12:00:00", 2225016000000LL, 1, 2225034000000LL}, /* summer 2040 */
        {"America/Chicago", "2500-03-14T02:30:00", 16731455400000LL, 0, 0}, /* gap in 2500 (footer rule) */
        {"America/Chicago", "2500-11-07T01:30:00", 16752015000000LL, 1, 16752033000000LL}, /* fall-back in 2500 */
        {"America/Chicago", "9999-12-31T17:59:59.999", 253402279199999LL, 1, 253402300799999LL}, /* last valid ms */
        {"America/Chicago", "1850-01-01T00:00:00", -3786825600000LL, 1, -3786804564000LL}, /* LMT -5:50:36 before 1883 */
        {"America/Chicago", "1969-12-31T18:00:00", -21600000LL, 1, 0LL}, /* epoch */
        {"America/Chicago", "1969-12-31T17:59:59.999", -21600001LL, 1, -1LL}, /* just before epoch: negative */
        {"Europe/Berlin", "2021-03-28T02:30:00", 1616898600000LL, 0, 0}, /* spring-forward gap */
        {"Europe/Berlin", "2021-03-28T03:00:00", 1616900400000LL, 1, 1616893200000LL}, /* after the gap */
        {"Europe/Berlin", "2021-10-31T02:30:00", 1635647400000LL, 1, 1635640200000LL}, /* fall-back: earlier (CEST) */
        {"Europe/Berlin", "2021-10-31T03:00:00", 1635649200000LL, 1, 1635645600000LL}, /* after the repeated hour */
        {"Europe/Berlin", "2050-03-27T02:30:00", 2531961000000LL, 0, 0}, /* gap in 2050 */
        {"Europe/Berlin", "2050-10-30T02:30:00", 2550709800000LL, 1, 2550702600000LL}, /* fall-back in 2050 */
        {"Europe/Berlin", "1947-05-11T03:30:00", -714601800000LL, 0, 0}, /* 1947: CEST->CEMT (double summer time) gap */
        {"Australia/Lord_Howe", "2021-10-03T02:15:00", 1633227300000LL, 0, 0}, /* 30-minute gap */
        {"Australia/Lord_Howe", "2021-10-03T02:30:00", 1633228200000LL, 1, 1633188600000LL}, /* after the 30-minute gap */
        {"Australia/Lord_Howe", "2021-04-04T01:45:00", 1617500700000LL, 1, 1617461100000LL}, /* 30-minute repeat: earlier (+11) */
        {"Australia/Lord_Howe", "2021-04-04T02:00:00", 1617501600000LL, 1, 1617463800000LL}, /* after the repeat (+10:30) */
        {"Australia/Lord_Howe", "2045-10-01T02:10:00", 2390436600000LL, 0, 0}, /* gap in 2045 */
        {"Australia/Lord_Howe", "2045-04-02T01:40:00", 2374710000000LL, 1, 2374670400000LL}, /* repeat in 2045 */
        {"Asia/Kathmandu", "2001-01-01T05:45:00", 978327900000LL, 1, 978307200000LL}, /* +05:45 */
        {"America/Santiago", "2022-09-11T00:30:00", 1662856200000LL, 0, 0}, /* gap at midnight (rule time 24) */
        {"America/Nuuk", "2030-03-30T23:30:00", 1901143800000LL, 0, 0}, /* gap with negative rule time -1 (Sat 23:00) */
        {"America/Nuuk", "2030-03-30T22:59:59", 1901141999000LL, 1, 1901149199000LL}, /* before the gap (Sat 22:59:59) */
        {"Europe/Dublin", "2030-10-27T01:30:00", 1919295000000LL, 1, 1919291400000LL}, /* negative DST: repeat */
        {"Europe/Dublin", "2030-03-31T01:30:00", 1901151000000LL, 0, 0}, /* negative DST: gap */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        weir_error err = {0};
        weir_tz *tz = weir_tz_load(cases[i].zone, &err);
        cr_assert_not_null(tz, "%s: %s", cases[i].zone, err.msg);
        int64_t ms = 42;
        int rc = weir_tz_local_to_utc(tz, cases[i].local_ms, &ms);
        if (cases[i].exists) {
            cr_expect_eq(rc, 0, "%s %s: rc %d", cases[i].zone, cases[i].local, rc);
            cr_expect_eq(ms, cases[i].want_ms, "%s %s: got %lld want %lld", cases[i].zone,
                         cases[i].local, (long long)ms, (long long)cases[i].want_ms);
        } else {
            cr_expect_eq(rc, WEIR_ETIME, "%s %s is in a gap, got rc %d ms %lld", cases[i].zone,
                         cases[i].local, rc, (long long)ms);
            cr_expect_eq(ms, 42);
        }
        weir_tz_free(tz);
    }
}

Test(tzfile, offsets_at_instants_follow_table_and_footer) {
    if (!have_tzdata())
        cr_skip_test("no tzdata installed");
    static const struct { const char *zone; int64_t utc_ms; int32_t want_s; } cases[] = {
        {"America/Chicago", 979581600000LL, -21600},      /* 2001-01-15T18:00Z CST */
        {"America/Chicago", 994006800000LL, -18000},      /* 2001-07-01T17:00Z CDT */
        {"America/Chicago", 986111999999LL, -21600},      /* 1 ms before spring-forward */
        {"America/Chicago", 986112000000LL, -18000},      /* at spring-forward */
        {"America/Chicago", 2225034000000LL, -18000},     /* 2040-07-04 CDT (footer) */
        {"America/Chicago", 16752033000000LL, -18000},    /* 2500-11-07T06:30Z, still CDT */
        {"America/Chicago", 16752036600000LL, -21600},    /* 2500-11-07T07:30Z, CST */
        {"America/Chicago", -3786804564000LL, -21036},    /* 1850: LMT -5:50:36 */
        {"America/Chicago", -1, -21600},                  /* 1969-12-31T23:59:59.999Z */
        {"Australia/Lord_Howe", 1617461100000LL, 39600},  /* +11:00 */
        {"Australia/Lord_Howe", 1617463800000LL, 37800},  /* +10:30 */
        {"Asia/Kathmandu", 978307200000LL, 20700},        /* +05:45 */
        {"UTC", 978307200000LL, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        weir_error err = {0};
        weir_tz *tz = weir_tz_load(cases[i].zone, &err);
        cr_assert_not_null(tz, "%s: %s", cases[i].zone, err.msg);
        cr_expect_eq(weir_tz_offset_at(tz, cases[i].utc_ms), cases[i].want_s, "%s at %lld: %d",
                     cases[i].zone, (long long)cases[i].utc_ms, weir_tz_offset_at(tz, cases[i].utc_ms));
        weir_tz_free(tz);
    }
}

Test(tzfile, utc_is_built_in_without_tzdata) {
    setenv("TZDIR", "/nonexistent-weir-tzdir", 1);
    const char *names[] = {"UTC", "Etc/UTC"};
    for (int k = 0; k < 2; k++) {
        weir_error err = {0};
        weir_tz *tz = weir_tz_load(names[k], &err);
        cr_assert_not_null(tz, "%s: %s", names[k], err.msg);
        cr_expect_str_eq(weir_tz_name(tz), names[k]);
        int64_t ms = 0;
        cr_expect_eq(weir_tz_local_to_utc(tz, -62167219200000LL, &ms), 0);
        cr_expect_eq(ms, -62167219200000LL);
        cr_expect_eq(weir_tz_local_to_utc(tz, 253402300799999LL, &ms), 0);
        cr_expect_eq(ms, 253402300799999LL);
        cr_expect_eq(weir_tz_offset_at(tz, 1700000000000LL), 0);
        weir_tz_free(tz);
    }
    weir_error err = {0};
    cr_expect_null(weir_tz_load("America/Chicago", &err));
    cr_expect_eq(err.code, WEIR_ENOTFOUND, "%s", err.msg);
}

Test(tzfile, names_outside_the_allowed_alphabet_are_refused) {
    static const char *bad[] = {
        "", "../etc/passwd", "America/../../etc/passwd", "/etc/localtime", "America/Chi cago",
        "America/Chicago\n", "America\\Chicago", "a..b", ".", "America/./Chicago", "$HOME",
        "America/Chicago;rm", "Zone*",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        weir_error err = {0};
        cr_expect_null(weir_tz_load(bad[i], &err), "'%s' loaded", bad[i]);
        cr_expect_eq(err.code, WEIR_EINVAL, "'%s': %s", bad[i], err.msg);
    }
}

Test(tzfile, unknown_zones_and_directories_are_not_found) {
    if (!have_tzdata())
        cr_skip_test("no tzdata installed");
    static const char *missing[] = {"Mars/Olympus_Mons", "America", "America/", "Nowhere"};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        weir_error err = {0};
        cr_expect_null(weir_tz_load(missing[i], &err), "'%s' loaded", missing[i]);
        cr_expect_eq(err.code, WEIR_ENOTFOUND, "'%s': %s", missing[i], err.msg);
        cr_expect_neq(strstr(err.msg, missing[i]), NULL, "message names the zone: %s", err.msg);
    }
}

/* ------------------------------------------------------- synthetic TZif files */

typedef struct {
    uint8_t b[4096];
    size_t n;
} tzbuf;

static void put8(tzbuf *t, uint8_t v) { t->b[t->n++] = v; }
static void put32(tzbuf *t, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8)
        put8(t, (uint8_t)(v >> s));
}
static void put64(tzbuf *t, int64_t v) {
    put32(t, (uint32_t)((uint64_t)v >> 32));
    put32(t, (uint32_t)v);
}
static void header(tzbuf *t, char version, uint32_t leap, uint32_t timecnt, uint32_t typecnt,
                   uint32_t charcnt) {
    memcpy(t->b + t->n, "TZif", 4);
    t->n += 4;
    put8(t, (uint8_t)version);
    for (int i = 0; i < 15; i++)
        put8(t, 0);
    put32(t, 0); /* isutcnt */
    put32(t, 0); /* isstdcnt */
    put32(t, leap);
    put32(t, timecnt);
    put32(t, typecnt);
    put32(t, charcnt);
}

/* A v2 file: a minimal v1 block, then n transitions to offs[idx[i]] and a footer. */
static void make_tzif(tzbuf *t, size_t n, const int64_t *times, const uint8_t *idx,
                      size_t ntypes, const int32_t *offs, const char *footer) {
    t->n = 0;
    header(t, '2', 0, 0, 1, 1);
    put32(t, 0); put8(t, 0); put8(t, 0); /* one type, offset 0 */
    put8(t, 0);                          /* "" */
    header(t, '2', 0, (uint32_t)n, (uint32_t)ntypes, 4);
    for (size_t i = 0; i < n; i++)
        put64(t, times[i]);
    for (size_t i = 0; i < n; i++)
        put8(t, idx[i]);
    for (size_t i = 0; i < ntypes; i++) {
        put32(t, (uint32_t)offs[i]);
        put8(t, 0);
        put8(t, 0);
    }
    memcpy(t->b + t->n, "XXX", 4);
    t->n += 4;
    if (footer) {
        put8(t, '\n');
        memcpy(t->b + t->n, footer, strlen(footer));
        t->n += strlen(footer);
        put8(t, '\n');
    }
}

static weir_tz *footer_zone(const char *footer) {
    static const int32_t off[1] = {0};
    tzbuf t;
    make_tzif(&t, 0, NULL, NULL, 1, off, footer);
    weir_error err = {0};
    weir_tz *tz = weir_tz_parse("Test/Footer", t.b, t.n, &err);
    cr_assert_not_null(tz, "%s: %s", footer, err.msg);
    return tz;
}

Test(tzfile, footer_rule_alone_gives_us_central_time) {
    weir_tz *tz = footer_zone("CST6CDT,M3.2.0,M11.1.0");
    int64_t ms = 0;
    /* The rule is the 2007 US one, applied to every year (no table). */
    cr_expect_eq(weir_tz_local_to_utc(tz, 2215045800000LL, &ms), WEIR_ETIME); /* 2040-03-11T02:30 */
    cr_expect_eq(weir_tz_local_to_utc(tz, 2235605400000LL, &ms), 0);         /* 2040-11-04T01:30 */
    cr_expect_eq(ms, 2235623400000LL);                                        /* CDT: earlier */
    cr_expect_eq(weir_tz_local_to_utc(tz, 984277800000LL, &ms), WEIR_ETIME);  /* 2001-03-11T02:30 */
    cr_expect_eq(weir_tz_offset_at(tz, 979581600000LL), -21600);
    cr_expect_eq(weir_tz_offset_at(tz, 994006800000LL), -18000);
    weir_tz_free(tz);
}

Test(tzfile, footer_rule_forms_julian_zero_based_and_all_year_dst) {
    /* J60 is March 1 even in a leap year (Feb 29 is never counted). */
    weir_tz *tz = footer_zone("AAA0BBB,J60/0,J300/0");
    cr_expect_eq(weir_tz_offset_at(tz, 1709251199999LL), 0);    /* 2024-02-29T23:59:59.999Z */
    cr_expect_eq(weir_tz_offset_at(tz, 1709251200000LL), 3600); /* 2024-03-01T00:00Z */
    weir_tz_free(tz);
    /* n is zero-based and counts Feb 29: day 59 of 2024 is Feb 29. */
    tz = footer_zone("AAA0BBB,59/0,300/0");
    cr_expect_eq(weir_tz_offset_at(tz, 1709164799999LL), 0);    /* 2024-02-28T23:59:59.999Z */
    cr_expect_eq(weir_tz_offset_at(tz, 1709164800000LL), 3600); /* 2024-02-29T00:00Z */
    weir_tz_free(tz);
    /* DST all year (RFC 8536 §3.3.1 example): always -04:00, no gap at New Year. */
    tz = footer_zone("EST5EDT,0/0,J365/25");
    const int64_t probes[] = {1893456000000LL, 1909267200000LL, 1924988399999LL, 1924992000000LL};
    for (size_t i = 0; i < 4; i++)
        cr_expect_eq(weir_tz_offset_at(tz, probes[i]), -14400, "at %lld", (long long)probes[i]);
    int64_t ms = 0;
    cr_expect_eq(weir_tz_local_to_utc(tz, 1924992000000LL, &ms), 0); /* 2031-01-01T00:00 local */
    cr_expect_eq(ms, 1924992000000LL + 4 * 3600000LL);
    weir_tz_free(tz);
    /* Fixed offset with a <quoted> name and minutes. */
    tz = footer_zone("<+0330>-3:30");
    cr_expect_eq(weir_tz_offset_at(tz, 0), 12600);
    cr_expect_eq(weir_tz_local_to_utc(tz, 12600000, &ms), 0);
    cr_expect_eq(ms, 0);
    weir_tz_free(tz);
}

Test(tzfile, transitions_then_footer_take_over_after_the_last_one) {
    /* Table: LMT -5:50:36 until 1883-11-18T18:00Z, then CST; table ends in 1883;
     * the footer rule supplies every DST change since. */
    const int64_t times[] = {-2717647200LL};
    const uint8_t idx[] = {1};
    const int32_t offs[] = {-21036, -21600};
    tzbuf t;
    make_tzif(&t, 1, times, idx, 2, offs, "CST6CDT,M3.2.0,M11.1.0");
    weir_error err = {0};
    weir_tz *tz = weir_tz_parse("Test/Chicago", t.b, t.n, &err);
    cr_assert_not_null(tz, "%s", err.msg);
    cr_expect_eq(weir_tz_offset_at(tz, -3786804564000LL), -21036); /* 1850 */
    cr_expect_eq(weir_tz_offset_at(tz, 994006800000LL), -18000);   /* 2001 summer */
    int64_t ms = 0;
    cr_expect_eq(weir_tz_local_to_utc(tz, 2215045800000LL, &ms), WEIR_ETIME); /* 2040 gap */
    cr_expect_eq(weir_tz_local_to_utc(tz, 2235605400000LL, &ms), 0);         /* 2040 repeat */
    cr_expect_eq(ms, 2235623400000LL);
    weir_tz_free(tz);
}

Test(tzfile, tzdir_is_honoured) {
    char dir[] = "/tmp/weir-tzdir-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char sub[64], path[96];
    snprintf(sub, sizeof sub, "%s/Test", dir);
    snprintf(path, sizeof path, "%s/Fixed_Plus-5", sub);
    mkdir(sub, 0700);
    static const int32_t off[1] = {0};
    tzbuf t;
    make_tzif(&t, 0, NULL, NULL, 1, off, "<+05>-5");
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fwrite(t.b, 1, t.n, f);
    fclose(f);
    setenv("TZDIR", dir, 1);
    weir_error err = {0};
    weir_tz *tz = weir_tz_load("Test/Fixed_Plus-5", &err);
    cr_assert_not_null(tz, "%s", err.msg);
    cr_expect_eq(weir_tz_offset_at(tz, 0), 18000);
    weir_tz_free(tz);
    unlink(path);
    rmdir(sub);
    rmdir(dir);
}

Test(tzfile, malformed_files_are_refused) {
    static const int32_t offs[] = {0, 3600};
    tzbuf t;
    weir_error err;
    /* not TZif */
    cr_expect_null(weir_tz_parse("x", (const uint8_t *)"TZjf2", 5, &err));
    cr_expect_eq(err.code, WEIR_EINVAL);
    /* every truncation of a valid file */
    const int64_t times[] = {0, 1000};
    const uint8_t idx[] = {1, 0};
    make_tzif(&t, 2, times, idx, 2, offs, "AAA0");
    weir_tz *ok = weir_tz_parse("x", t.b, t.n, &err);
    cr_assert_not_null(ok, "%s", err.msg);
    weir_tz_free(ok);
    for (size_t n = 0; n < t.n; n++)
        cr_expect_null(weir_tz_parse("x", t.b, n, &err), "truncated to %zu bytes", n);
    /* transitions not ascending */
    const int64_t down[] = {1000, 0};
    make_tzif(&t, 2, down, idx, 2, offs, "AAA0");
    cr_expect_null(weir_tz_parse("x", t.b, t.n, &err));
    /* type index out of range */
    const uint8_t bad_idx[] = {1, 2};
    make_tzif(&t, 2, times, bad_idx, 2, offs, "AAA0");
    cr_expect_null(weir_tz_parse("x", t.b, t.n, &err));
    /* bad footers */
    static const char *footers[] = {
        "CST6CDT,M13.2.0,M11.1.0", "CST6CDT,M3.6.0,M11.1.0", "CST6CDT,M3.2.7,M11.1.0",
        "CST6CDT,J0,J100", "CST6CDT,366,1", "CST6CDT,M3.2.0/168,M11.1.0", "C6", "CST",
        "CST6CDT,M3.2.0", "CST6CDT,M3.2.0,M11.1.0,", "CST99", "<>0", "<A*B>0",
    };
    for (size_t i = 0; i < sizeof footers / sizeof footers[0]; i++) {
        make_tzif(&t, 0, NULL, NULL, 1, offs, footers[i]);
        cr_expect_null(weir_tz_parse("x", t.b, t.n, &err), "footer '%s'", footers[i]);
        cr_expect_eq(err.code, WEIR_EINVAL);
    }
    /* a v2 file must end in "\n footer \n" */
    make_tzif(&t, 0, NULL, NULL, 1, offs, NULL);
    cr_expect_null(weir_tz_parse("x", t.b, t.n, &err));
    /* leap-second records are refused, with a reason */
    t.n = 0;
    header(&t, 0, 1, 0, 1, 1);
    put32(&t, 0); put8(&t, 0); put8(&t, 0); put8(&t, 0);
    put32(&t, 78796800); put32(&t, 1);
    cr_expect_null(weir_tz_parse("right/UTC", t.b, t.n, &err));
    cr_expect_neq(strstr(err.msg, "leap"), NULL, "%s", err.msg);
}

Test(tzfile, v1_only_files_use_32_bit_times_and_last_type_after_the_table) {
    tzbuf t;
    t.n = 0;
    header(&t, 0, 0, 1, 2, 4);
    put32(&t, 1000000000u);                    /* 2001-09-09T01:46:40Z */
    put8(&t, 1);
    put32(&t, 0); put8(&t, 0); put8(&t, 0);
    put32(&t, 7200); put8(&t, 1); put8(&t, 0);
    memcpy(t.b + t.n, "XXX", 4);
    t.n += 4;
    weir_error err = {0};
    weir_tz *tz = weir_tz_parse("v1", t.b, t.n, &err);
    cr_assert_not_null(tz, "%s", err.msg);
    cr_expect_eq(weir_tz_offset_at(tz, 999999999999LL), 0);
    cr_expect_eq(weir_tz_offset_at(tz, 1000000000000LL), 7200);
    cr_expect_eq(weir_tz_offset_at(tz, 253402300799999LL), 7200);
    int64_t ms = 0;
    cr_expect_eq(weir_tz_local_to_utc(tz, 1000000000000LL, &ms), WEIR_ETIME); /* in the 2 h gap */
    weir_tz_free(tz);
}

Test(tzfile, precomputed_and_computed_footer_transitions_agree) {
    if (!have_tzdata())
        cr_skip_test("no tzdata installed");
    /* The real zone has a table to 2037, extended from its footer to 2200, then
     * the rule; the synthetic one has only the rule. Hour by hour across both
     * boundaries they must agree. */
    weir_error err = {0};
    weir_tz *real = weir_tz_load("America/Chicago", &err);
    cr_assert_not_null(real, "%s", err.msg);
    weir_tz *rule = footer_zone("CST6CDT,M3.2.0,M11.1.0");
    const int64_t ranges[][2] = {
        {2145916800000LL, 2177452800000LL},   /* 2038 */
        {7258118400000LL, 7416144000000LL},   /* 2200-2204 */
    };
    for (int r = 0; r < 2; r++)
        for (int64_t t = ranges[r][0]; t < ranges[r][1]; t += 3600000) {
            cr_assert_eq(weir_tz_offset_at(real, t), weir_tz_offset_at(rule, t), "at %lld",
                         (long long)t);
            int64_t a = 1, b = 2;
            int ra = weir_tz_local_to_utc(real, t, &a), rb = weir_tz_local_to_utc(rule, t, &b);
            cr_assert_eq(ra, rb, "local %lld", (long long)t);
            if (ra == 0)
                cr_assert_eq(a, b, "local %lld", (long long)t);
        }
    weir_tz_free(real);
    weir_tz_free(rule);
}
