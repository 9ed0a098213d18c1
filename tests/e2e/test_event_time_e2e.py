"""tests/e2e/test_event_time_e2e.py -- event-time extraction end to end (SPEC §4).

Design: each record carries a unique `id` and one event-time representation;
a tumbling window of 1 ms keyed by `id` makes weir reveal the instant it read
(window_start == event time). Records are sorted by their expected instant so
none is late (delay 0); records without a valid event time must become
`event_time` dead letters at their byte offset. Expected instants are written
by hand (calendar.timegm / fixed offsets; zoneinfo for America/Chicago), the
model (weir_model.py) is checked against them, and weir against the model.
A second job checks floor alignment of windows before 1970.

Invariants:
  1. Every expected instant is hand-derived, never taken from the model alone.
  2. Ambiguous local times (DST fall-back) are the earlier instant; nonexistent
     ones (spring-forward) are dead letters with reason event_time.

Rules come from SPEC §4 (event time, RFC 3339, units, format + timezone, year range).
"""

import calendar
import datetime
import json
import zoneinfo

import e2e_util as U
import weir_model as M
from test_windows_model import run_and_compare

BAD = None  # expected: dead letter, reason event_time


def utc_ms(y, mo, d, h=0, mi=0, s=0, ms=0):
    return calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0)) * 1000 + ms


BASE = utc_ms(2023, 11, 14, 22, 13, 20)
assert BASE == 1700000000000
YEAR0 = -62167219200000            # 0000-01-01T00:00:00Z
YEAR9999_END = 253402300799999     # 9999-12-31T23:59:59.999Z
H = 3600000

# (raw JSON of ts, expected epoch ms or BAD)
DEFAULT_CASES = [
    ('"2023-11-14T22:13:20Z"', BASE),
    ('"2023-11-14t22:13:20z"', BASE),
    ('"2023-11-14 22:13:20Z"', BASE),
    ('"2023-11-14T22:13:20+00:00"', BASE),
    ('"2023-11-14T22:13:20-00:00"', BASE),
    ('"2023-11-14T22:13:20.1Z"', BASE + 100),
    ('"2023-11-14T22:13:20.123456789Z"', BASE + 123),
    ('"2023-11-14T22:13:20.9999Z"', BASE + 999),
    ('"2023-11-14T22:13:20.000Z"', BASE),
    ('"2023-11-14T22:13:20.5+01:00"', BASE - H + 500),
    ('"2023-11-14T22:13:20-05:30"', BASE + 5 * H + H // 2),
    ('"2023-11-14T22:13:20+23:59"', BASE - 24 * H + 60000),
    ('"2023-11-14T22:13:20.1234567890Z"', BAD),    # at most 9 fraction digits
    ('"2023-11-14T22:13:20+24:00"', BAD),
    ('"2023-11-15T03:43:20.25+05:30"', BASE + 250),
    ('"2016-12-31T23:59:60Z"', utc_ms(2016, 12, 31, 23, 59, 59, 999)),
    ('"2016-12-31T18:59:60-05:00"', utc_ms(2016, 12, 31, 23, 59, 59, 999)),
    ('"2024-02-29T12:00:00Z"', utc_ms(2024, 2, 29, 12)),
    ('"1969-12-31T23:59:59.999Z"', -1),
    ('"1970-01-01T00:00:00Z"', 0),
    ('"1900-01-01T00:00:00Z"', utc_ms(1900, 1, 1)),
    ('"0000-01-01T00:00:00Z"', YEAR0),
    ('"9999-12-31T23:59:59.999Z"', YEAR9999_END),
    ("1700000000123", BASE + 123),
    ("1700000000123.9", BASE + 123),           # doubles floor to the ms
    ("1700000000123.0", BASE + 123),
    ("1e3", 1000),
    ("-1.5", -2),
    ("-1", -1),
    ("0", 0),
    ("-0.0", 0),
    (str(YEAR9999_END), YEAR9999_END),
    (str(YEAR0), YEAR0),
    (str(YEAR9999_END + 1), BAD),
    (str(YEAR0 - 1), BAD),
    ("9223372036854775808", BAD),              # 2^63: a double, far beyond year 9999
    ('"2023-02-29T00:00:00Z"', BAD),            # not a leap year
    ('"2023-11-14T24:00:00Z"', BAD),
    ('"2023-11-14T22:60:00Z"', BAD),
    ('"2023-13-01T00:00:00Z"', BAD),
    ('"2023-11-14T22:13:20"', BAD),             # no offset
    ('"2023-11-14T22:13:20+0100"', BAD),
    ('"2023-11-14"', BAD),
    ('"1700000000000"', BAD),                  # a numeric string is not a time
    ('"10000-01-01T00:00:00Z"', BAD),
    ('""', BAD),
    ("true", BAD),
    ("null", BAD),
    ("[1700000000000]", BAD),
]

UNIT_CASES = {
    "s": [
        ("1700000000", BASE),
        ("1700000000.25", BASE + 250),
        ("1.5", 1500),
        ("-1", -1000),
        ("-0.0005", -1),                       # floor(-0.5 ms)
        ("0.0009", 0),
        ("253402300799", YEAR9999_END - 999),
        ("253402300800", BAD),
        ('"1970-01-01T00:00:01Z"', 1000),       # unit applies to numbers only
    ],
    "us": [
        ("1700000000123456", BASE + 123),
        ("-1", -1),
        ("1500.7", 1),
        ("999", 0),
        ("-1000", -1),
        ("-1001", -2),
    ],
    "ns": [
        ("1700000000123456789", BASE + 123),
        ("-1", -1),
        ("999999", 0),
        ("9223372036854775807", 9223372036854),
        ("-9223372036854775808", -9223372036855),
    ],
}

CHI = "America/Chicago"
CDT, CST = -5 * H, -6 * H   # offsets: local = utc + offset


def chi(y, mo, d, h, mi, s, ms, off):
    """Instant of a Chicago wall time with the given offset (hand-picked)."""
    return utc_ms(y, mo, d, h, mi, s, ms) - off


def chi_zoneinfo(y, mo, d, h, mi, s):
    dt = datetime.datetime(y, mo, d, h, mi, s, tzinfo=zoneinfo.ZoneInfo(CHI))
    return int(dt.timestamp()) * 1000


FORMAT_CASES = {
    ("%Y-%m-%d %H:%M:%S", CHI): [
        ('"2023-11-05 00:59:59"', chi(2023, 11, 5, 0, 59, 59, 0, CDT)),
        ('"2023-11-05 01:30:00"', chi(2023, 11, 5, 1, 30, 0, 0, CDT)),   # twice: the earlier
        ('"2023-11-05 01:59:59"', chi(2023, 11, 5, 1, 59, 59, 0, CDT)),
        ('"2023-11-05 02:00:00"', chi(2023, 11, 5, 2, 0, 0, 0, CST)),
        ('"2023-03-12 01:59:59"', chi(2023, 3, 12, 1, 59, 59, 0, CST)),
        ('"2023-03-12 02:30:00"', BAD),                                  # does not exist
        ('"2023-03-12 02:00:00"', BAD),
        ('"2023-03-12 03:00:00"', chi(2023, 3, 12, 3, 0, 0, 0, CDT)),
        ('"2023-07-01 12:00:60"', chi(2023, 7, 1, 12, 0, 59, 999, CDT)),
        ('"2023-01-15 12:00:00"', chi(2023, 1, 15, 12, 0, 0, 0, CST)),
        ('"1960-01-01 00:00:00"', chi_zoneinfo(1960, 1, 1, 0, 0, 0)),
        ('"2023/07/01 12:00:00"', BAD),                                  # does not match
        ('"2023-07-01T12:00:00Z"', BAD),
    ],
    ("%Y/%m/%d %H:%M", None): [
        ('"2023/11/14 22:13"', utc_ms(2023, 11, 14, 22, 13)),
        ('"1969/12/31 23:59"', -60000),
        ('"2023/11/14 22:13:20"', BAD),
        ('"2023-11-14 22:13"', BAD),
    ],
}

# event_time.field is a path: {"id": N, "m": <raw>} with field m.t
PATH_CASES = [
    ('{"t":1000}', 1000),
    ('{"t":"1970-01-01T00:00:01.5Z","u":2}', 1500),
    ('{"u":{"t":5}}', BAD),
    ('{}', BAD),
    ('5', BAD),
    ('null', BAD),
    ('[{"t":1}]', BAD),
]

ALIGN = [(-1001, -2000), (-1000, -1000), (-1, -1000), (0, 0), (999, 0), (-86400001, -86401000)]


def build(cases, template='{"id":%d,"ts":%s}'):
    """Input bytes: valid records sorted by instant, bad ones interleaved.
    Returns (data, {id: expected ms}, {offset of bad})."""
    good = sorted([(exp, i, raw) for i, (raw, exp) in enumerate(cases) if exp is not BAD])
    bad = [(i, raw) for i, (raw, exp) in enumerate(cases) if exp is BAD]
    order = []
    for n, g in enumerate(good):
        order.append(("good", g[1], g[2]))
        if n % 2 == 0 and bad:
            b = bad.pop(0)
            order.append(("bad", b[0], b[1]))
    order.extend(("bad", i, raw) for i, raw in bad)
    data = b""
    expect, bad_offsets = {}, set()
    for kind, i, raw in order:
        if kind == "bad":
            bad_offsets.add(len(data))
        else:
            expect[i] = cases[i][1]
        data += ((template + "\n") % (i, raw)).encode()
    return data, expect, bad_offsets


def template_of(event_time):
    return '{"id":%d,"m":%s}' if event_time["field"] == "m.t" else '{"id":%d,"ts":%s}'


def model_check(name, cases, event_time):
    data, expect, bad = build(cases, template_of(event_time))
    m = M.run_model(data, M.ModelJob(key=["id"], kind="tumbling", size_ms=1,
                                     aggregates=[("n", "count", None)], event_time=event_time))
    got = {rec["id"]: rec["window_start"] for rec in m.final.values()}
    wrong = {i: (expect.get(i), got.get(i), cases[i][0]) for i in set(got) | set(expect)
             if got.get(i) != expect.get(i)}
    assert not wrong, "%s: id: (expected, model, input) %r" % (name, wrong)
    assert {d["offset"] for d in m.dead} == bad, name
    assert all(d["reason"] == "event_time" for d in m.dead), name


def weir_check(tmp, name, cases, event_time):
    data, expect, bad = build(cases, template_of(event_time))
    model = run_and_compare(tmp, name, data, kind="tumbling", params=dict(size_ms=1),
                            lateness_ms=0, delay_ms=0, parallelism=2,
                            aggs=[("n", "count()")], key=("id",), event_time=event_time)
    assert {d["offset"] for d in model.dead} == bad


JOBS = [("et_default", DEFAULT_CASES, {"field": "ts"})]
JOBS += [("et_path", PATH_CASES, {"field": "m.t"})]
JOBS += [("et_unit_" + u, c, {"field": "ts", "unit": u}) for u, c in UNIT_CASES.items()]
JOBS += [("et_fmt_%d" % n, c, dict({"field": "ts", "format": f}, **({"timezone": tz} if tz else {})))
         for n, ((f, tz), c) in enumerate(FORMAT_CASES.items())]


def main():
    r = U.Runner("event_time_e2e")
    for name, cases, et in JOBS:
        r.check("model: %s %s" % (name, json.dumps(et)), model_check, name, cases, et)

    align_data = "".join('{"k":"x","ts":%d}\n' % t for t, _ in sorted(ALIGN)).encode()

    def align_model():
        m = M.run_model(align_data, M.ModelJob(key=["k"], kind="tumbling", size_ms=1000,
                                               aggregates=[("n", "count", None)]))
        want = {}
        for _, ws in ALIGN:
            want[ws] = want.get(ws, 0) + 1
        got = {rec["window_start"]: rec["n"] for rec in m.final.values()}
        assert got == want, got
    r.check("model: windows before 1970 align by floor division", align_model)

    if not U.weir_available():
        print("weir binary not found at %r (set WEIR)" % U.weir_bin())
        r.failed += 1
        r.finish()
    with U.TempDir() as tmp:
        for name, cases, et in JOBS:
            r.check("weir: %s %s" % (name, json.dumps(et)), weir_check, tmp, name, cases, et)
        r.check("weir: windows before 1970 align by floor division", run_and_compare, tmp,
                "et_align", align_data, kind="tumbling", params=dict(size_ms=1000),
                lateness_ms=0, delay_ms=0, parallelism=1, aggs=[("n", "count()")], key=("k",))
    r.finish()


if __name__ == "__main__":
    main()
