"""tests/e2e/test_validate.py -- `weir validate`: the plan, and every job-file error as
FILE:LINE:COL: message (SPEC §1, §2, §3, §4).

A valid job prints its plan (sources, operators, sinks, window kinds, key fields) and
exits 0. An invalid one prints every error on stderr -- all of them in one run -- and
exits 2. Positions: an error must point at the offending YAML node. Which node is not
fixed by the SPEC, so each expected error names the nodes it may point at (for
`key: value` usually either the key or the value; for an expression anywhere inside
it) and the test accepts any column inside them; the line must be exact. An error on a
line where the file has no error fails the test (a false positive or a cascade).
Messages must name the key or the offending name (SPEC §2: "naming the key and what
was expected").
"""

import os
import re

from cli_util import (case, check, diagnostics, eq, expect_rc, main, tmpdir, weir, write)


def span(text, needle, nth=0):
    """(line, first col, last col) of the nth occurrence of needle, 1-based."""
    i = -1
    for _ in range(nth + 1):
        i = text.index(needle, i + 1)
    line = text.count("\n", 0, i) + 1
    col = i - (text.rfind("\n", 0, i) + 1) + 1
    return (line, col, col + len(needle) - 1)


def check_errors(path, res, text, expected):
    """expected: list of (label, [needle or (needle, nth)], [keywords])."""
    expect_rc(res, 2, "validate " + os.path.basename(path))
    errors, _warnings, _other = diagnostics(res.err, path)
    check(errors, "no `%s:LINE:COL: message` lines on stderr" % path, res)
    allowed = set()
    problems = []
    for label, needles, kws in expected:
        spans = []
        for n in needles:
            spans.append(span(text, *n) if isinstance(n, tuple) else span(text, n))
        allowed.update(s[0] for s in spans)
        hits = [e for e in errors
                if any(e[0] == ln and lo <= e[1] <= hi for ln, lo, hi in spans)]
        if not hits:
            near = [e for e in errors if any(e[0] == s[0] for s in spans)]
            problems.append("%s: no error pointing at %s%s" % (
                label, ", ".join("%d:%d-%d" % s for s in spans),
                " (same line, other column: %s)" % near if near else ""))
            continue
        if kws and not any(all(k.lower() in e[2].lower() for k in kws) for e in hits):
            problems.append("%s: message should mention %s; got %s" % (
                label, kws, [e[2] for e in hits]))
    stray = [e for e in errors if e[0] not in allowed]
    if stray:
        problems.append("errors on lines that have no error: %s" % stray)
    check(not problems, "\n".join(problems), res)
    return errors


def validate(text, name="job.yaml", cwd=None, rel=False):
    d = cwd or tmpdir("val")
    path = write(os.path.join(d, name), text)
    write(os.path.join(d, "in.jsonl"), '{"ts": 0, "amount": 1, "user_id": "a"}\n')
    if rel:
        return name, weir("validate", name, cwd=d)
    return path, weir("validate", path, cwd=d)


BASE = """\
job: base-job
parallelism: 2
checkpoint:
  interval: 10s
sources:
  clicks:
    file: { path: in.jsonl }
    event_time: { field: ts }
operators:
  - name: big
    from: clicks
    filter: "amount > 10"
  - name: shaped
    map:
      user: user_id
      amount: amount
      ts: ts
  - name: per_user
    window:
      key: [user]
      tumbling: 1m
      aggregates:
        n: count()
        total: sum(amount)
sinks:
  out:
    from: per_user
    file: { path: out.jsonl }
"""

KAFKA_BASE = """\
job: kafka-job
checkpoint:
  interval: 10s
kafka:
  bootstrap.servers: 127.0.0.1:9
sources:
  events:
    kafka:
      topic: events
    event_time: { field: ts }
operators:
  - name: per_key
    window:
      key: [k]
      tumbling: 1m
      aggregates:
        n: count()
sinks:
  out:
    from: per_key
    kafka:
      topic: results
      delivery: at-least-once
"""


def sub(text, old, new, count=1):
    check(old in text, "test bug: %r not in base" % old)
    return text.replace(old, new, count)


# ---------------------------------------------------------------- valid jobs

PLAN_JOB = """\
job: plan-job
parallelism: 2
sources:
  clicks_src:
    file: { path: in.jsonl }
    event_time: { field: ts }
  views_src:
    stdin: {}
    event_time: { field: ts }
operators:
  - name: big_ones
    from: clicks_src
    filter: "amount > 10"
  - name: shaped_rec
    from: [big_ones, views_src]
    map:
      user_key: user
      region_key: region
      amount: amount
      ts: ts
  - name: tumble_win
    from: shaped_rec
    window:
      key: [user_key]
      tumbling: 1m
      aggregates:
        n: count()
  - name: slide_win
    from: shaped_rec
    window:
      key: [region_key, user_key]
      sliding: { size: 10m, slide: 1m }
      aggregates:
        n: count()
  - name: session_win
    from: shaped_rec
    window:
      key: [region_key]
      session: { gap: 30s }
      aggregates:
        total: sum(amount)
sinks:
  file_sink:
    from: [tumble_win, slide_win]
    file: { path: out.jsonl }
  print_sink:
    from: session_win
    stdout: {}
"""


@case
def valid_job_prints_the_plan_and_exits_0():
    path, r = validate(PLAN_JOB)
    expect_rc(r, 0)
    out = r.out
    lines = out.splitlines()

    def first_line(word):
        for i, ln in enumerate(lines):
            if re.search(r"\b%s\b" % word, ln):
                return i
        raise AssertionError("plan does not mention %r:\n%s" % (word, out))

    srcs = ["clicks_src", "views_src"]
    ops = ["big_ones", "shaped_rec", "tumble_win", "slide_win", "session_win"]
    sinks = ["file_sink", "print_sink"]
    pos = {w: first_line(w) for w in srcs + ops + sinks}
    for w in ["tumbling", "sliding", "session", "user_key", "region_key"]:
        check(re.search(r"\b%s\b" % w, out, re.I), "plan does not mention %r:\n%s" % (w, out))
    bad = [(a, b) for a in srcs for b in ops + sinks if pos[a] > pos[b]]
    bad += [(a, b) for a in ops for b in sinks if pos[a] > pos[b]]
    check(not bad, "plan must list sources, then operators, then sinks; out of order: %s\n%s"
          % (bad, out))


@case
def valid_kafka_job_validates_without_a_broker():
    _, r = validate(KAFKA_BASE)
    expect_rc(r, 0)
    _, r = validate(sub(KAFKA_BASE, "at-least-once", "exactly-once"))
    expect_rc(r, 0, "exactly-once with interval 10s and default transaction timeout")
    t = sub(KAFKA_BASE, "      delivery: at-least-once",
            "      delivery: exactly-once\n      transaction.timeout.ms: 60000")
    _, r = validate(t)
    expect_rc(r, 0, "exactly-once, interval 10s < transaction.timeout.ms 60000")


@case
def base_jobs_are_valid():
    _, r = validate(BASE)
    expect_rc(r, 0, "BASE")
    _, r = validate(BASE.replace("job: base-job", "job: " + "a" + "b" * 62))
    expect_rc(r, 0, "a 63-character job name is valid")
    _, r = validate(BASE.replace("job: base-job", "job: 0_a-b"))
    expect_rc(r, 0, "job name 0_a-b is valid")


@case
def sliding_window_with_slide_above_size_warns_but_validates():
    t = sub(BASE, "tumbling: 1m", "sliding: { size: 1m, slide: 2m }")
    _, r = validate(t)
    expect_rc(r, 0)
    check("warning" in r.err.lower(), "validate must warn that some events fall in no window "
          "(SPEC §4)", r)


# ---------------------------------------------------------------- several errors at once

MULTI_1 = """\
job: multi-errors
paralelism: 2
max_parallelism: lots
checkpoint:
  interval: 10 parsecs
sources:
  clicks:
    file: { path: in.jsonl }
    event_time: { field: ts }
operators:
  - name: shaped
    from: clicks
    map:
      user: user_id
      amount: "price * qty"
      ts: ts
  - name: pricey
    filter: "price > 3"
  - name: weird
    from: shaped
    filter: "frobnicate(amount) > 1"
  - name: lost
    from: nowhere
    filter: "true"
sinks:
  out:
    from: [pricey, weird, lost]
    file: { path: out.jsonl }
  starved:
    from: []
    file: { path: starved.jsonl }
"""


@case
def several_value_errors_are_all_reported_with_positions():
    path, r = validate(MULTI_1)
    check_errors(path, r, MULTI_1, [
        ("unknown key", ["paralelism"], ["paralelism"]),
        ("wrong type", ["max_parallelism: lots"], ["max_parallelism"]),
        ("bad duration", ["interval: 10 parsecs"], ["interval"]),
        ("unknown field after a map", ['filter: "price > 3"'], ["price"]),
        ("unknown function", ['filter: "frobnicate(amount) > 1"'], ["frobnicate"]),
        ("from naming nothing", ["from: nowhere"], ["nowhere"]),
        ("sink fed by nothing", ["starved:", "from: []"], []),
    ])


MULTI_2 = """\
job: Bad Name!
checkpoint:
  interval: 0
kafka:
  bootstrap.servers: 127.0.0.1:9
sources:
  events:
    kafka:
      topic: events
      enable.auto.commit: true
    event_time: { field: ts }
operators:
  - name: a
    from: b
    filter: "x > 1"
  - name: b
    from: a
    filter: "x > 2"
  - name: dup
    from: events
    filter: "x > 3"
  - name: dup
    from: events
    filter: "x > 4"
  - name: per_key
    from: events
    window:
      key: [x]
      tumbling: 1m
      aggregates:
        n: count()
  - name: after_window
    from: per_key
    filter: "n > 1"
sinks:
  out:
    from: [a, b, after_window]
    kafka:
      topic: results
      delivery: exactly-once
"""


@case
def several_graph_and_kafka_errors_are_all_reported_with_positions():
    path, r = validate(MULTI_2)
    check_errors(path, r, MULTI_2, [
        ("bad job name", ["job: Bad Name!"], ["job"]),
        ("owned kafka property", ["enable.auto.commit: true"], ["enable.auto.commit"]),
        ("cycle", ["name: a", "from: b", "name: b", "from: a"], ["cycle"]),
        ("duplicate name", [("name: dup", 0), ("name: dup", 1)], ["dup"]),
        ("window feeding a filter", ["name: after_window", "from: per_key", "name: per_key"],
         []),
        ("exactly-once without checkpoints", ["delivery: exactly-once", "interval: 0"],
         ["exactly-once"]),
    ])


@case
def file_name_in_errors_is_the_path_as_given():
    d = tmpdir("rel")
    name, r = validate(sub(BASE, "tumbling: 1m", "tumbling: 1x"), cwd=d, rel=True)
    expect_rc(r, 2)
    ln, lo, hi = span(sub(BASE, "tumbling: 1m", "tumbling: 1x"), "tumbling: 1x")
    check(re.search(r"^job\.yaml:%d:\d+: " % ln, r.err, re.M),
          "expected `job.yaml:%d:COL: ...` (the path as given)" % ln, r)


# ---------------------------------------------------------------- one error per file

def one(label, text, needles, kws):
    path, r = validate(text)
    check_errors(path, r, text, [(label, needles, kws)])


WIN_AFTER = """\
  - name: post
    from: per_user
    KIND
sinks:
  out:
    from: post
"""


@case
def unknown_keys_are_errors_naming_the_key():
    one("unknown top-level key", sub(BASE, "parallelism: 2", "paralelism: 2"),
        ["paralelism"], ["paralelism"])
    one("unknown key in a source",
        sub(BASE, "    event_time: { field: ts }\n",
            "    event_time: { field: ts }\n    colour: blue\n"),
        ["colour"], ["colour"])
    one("unknown key in a window",
        sub(BASE, "      tumbling: 1m\n", "      tumbling: 1m\n      hopping: 2m\n"),
        ["hopping"], ["hopping"])
    one("unknown key in checkpoint", sub(BASE, "  interval: 10s", "  intervall: 10s"),
        ["intervall"], ["intervall"])
    one("unknown key in an event_time map",
        sub(BASE, "{ field: ts }", "{ field: ts, zone: UTC }"), ["zone"], ["zone"])


@case
def wrong_types_are_errors_naming_the_key():
    one("string for an integer", sub(BASE, "parallelism: 2", "parallelism: two"),
        ["parallelism: two"], ["parallelism"])
    one("list for an integer", sub(BASE, "parallelism: 2", "parallelism: [2]"),
        ["parallelism: [2]"], ["parallelism"])
    one("scalar for the aggregates map",
        sub(BASE, "      aggregates:\n        n: count()\n        total: sum(amount)\n",
            "      aggregates: count()\n"),
        ["aggregates: count()"], ["aggregates"])
    one("map for a filter expression", sub(BASE, 'filter: "amount > 10"', "filter: {a: 1}"),
        ["filter: {a: 1}"], ["filter"])


@case
def bad_durations_are_errors():
    one("unknown unit", sub(BASE, "tumbling: 1m", "tumbling: 1x"),
        ["tumbling: 1x"], ["tumbling"])
    one("words", sub(BASE, "interval: 10s", "interval: 10 parsecs"),
        ["interval: 10 parsecs"], ["interval"])
    one("negative", sub(BASE, "interval: 10s", "interval: -5s"),
        ["interval: -5s"], ["interval"])
    one("zero-size window", sub(BASE, "tumbling: 1m", "tumbling: 0s"),
        ["tumbling: 0s"], ["tumbling"])
    one("session gap", sub(BASE, "tumbling: 1m", "session: { gap: soon }"),
        ["session: { gap: soon }"], ["gap"])


@case
def unknown_fields_after_a_map_are_errors():
    one("filter after the map",
        sub(BASE, "  - name: per_user\n",
            "  - name: odd\n    filter: \"owner == 'x'\"\n  - name: per_user\n"),
        ["filter: \"owner == 'x'\""], ["owner"])
    one("aggregate argument", sub(BASE, "sum(amount)", "sum(price)"),
        ["total: sum(price)"], ["price"])
    one("window key", sub(BASE, "key: [user]", "key: [country]"),
        ["key: [country]"], ["country"])


@case
def unknown_functions_are_errors():
    one("scalar function", sub(BASE, '"amount > 10"', '"lenght(user_id) > 10"'),
        ['filter: "lenght(user_id) > 10"'], ["lenght"])
    one("aggregate function", sub(BASE, "sum(amount)", "summ(amount)"),
        ["total: summ(amount)"], ["summ"])
    one("wrong arity", sub(BASE, '"amount > 10"', '"substr(user_id) > 10"'),
        ['filter: "substr(user_id) > 10"'], ["substr"])


@case
def from_naming_nothing_is_an_error():
    one("operator from", sub(BASE, "  - name: per_user\n",
                             "  - name: per_user\n    from: nowhere\n"),
        ["from: nowhere"], ["nowhere"])
    one("sink from", sub(BASE, "    from: per_user\n", "    from: nowhere\n"),
        ["from: nowhere"], ["nowhere"])
    one("sink from an unknown name in a union", sub(BASE, "    from: per_user\n",
                                                    "    from: [per_user, ghost]\n"),
        ["from: [per_user, ghost]"], ["ghost"])


@case
def cycles_are_errors():
    t = sub(BASE, "    from: clicks\n", "    from: shaped\n")
    t = sub(t, "  - name: shaped\n", "  - name: shaped\n    from: big\n")
    t = sub(t, "  - name: per_user\n", "  - name: per_user\n    from: shaped\n")
    one("two-operator cycle", t, ["name: big", "from: shaped", "name: shaped", "from: big"],
        ["cycle"])


@case
def sink_fed_by_nothing_is_an_error():
    one("empty from", sub(BASE, "    from: per_user\n", "    from: []\n"),
        ["out:", "from: []"], [])


@case
def duplicate_names_are_errors():
    one("two operators named big",
        sub(BASE, "  - name: shaped\n",
            "  - name: big\n    filter: \"amount > 11\"\n  - name: shaped\n"),
        [("name: big", 0), ("name: big", 1)], ["big"])
    one("an operator named like a source", sub(BASE, "name: big", "name: clicks"),
        ["clicks:", "name: clicks", "from: clicks"], ["clicks"])
    one("a source given twice (duplicate YAML key)",
        sub(BASE, "operators:\n",
            "  clicks:\n    file: { path: in.jsonl }\n    event_time: { field: ts }\noperators:\n"),
        [("clicks:", 0), ("clicks:", 1)], ["clicks"])


@case
def bad_job_names_are_errors():
    for bad in ["Base-Job", "-leading-dash", "_x", "has space", "a" * 64, '""', "caf\u00e9"]:
        text = sub(BASE, "job: base-job", "job: " + bad)
        one("job name %r" % bad, text, ["job: " + bad], ["job"])
    one("missing job key", sub(BASE, "job: base-job\n", ""), ["parallelism: 2"], ["job"])


@case
def bad_parallelism_settings_are_errors():
    one("parallelism above max_parallelism",
        sub(BASE, "parallelism: 2\n", "parallelism: 8\nmax_parallelism: 4\n"),
        ["parallelism: 8", "max_parallelism: 4"], ["parallelism"])
    one("max_parallelism above 32768",
        sub(BASE, "parallelism: 2\n", "parallelism: 2\nmax_parallelism: 32769\n"),
        ["max_parallelism: 32769"], ["max_parallelism"])
    one("parallelism 0", sub(BASE, "parallelism: 2", "parallelism: 0"),
        ["parallelism: 0"], ["parallelism"])


@case
def window_feeding_a_map_or_filter_is_an_error():
    for kind in ["map:\n      n: n", 'filter: "n > 1"']:
        t = BASE.replace("sinks:\n  out:\n    from: per_user\n",
                         WIN_AFTER.replace("KIND", kind))
        check(t != BASE, "test bug")
        one("window feeding " + kind.split(":")[0], t,
            ["name: post", "from: per_user", "name: per_user"], [])


@case
def aggregate_named_like_a_key_or_window_field_is_an_error():
    one("aggregate named window_start", sub(BASE, "        n: count()", "        window_start: count()"),
        ["window_start: count()"], ["window_start"])
    one("aggregate named like the key", sub(BASE, "        n: count()", "        user: count()"),
        ["user: count()"], ["user"])
    one("aggregate named retracted", sub(BASE, "        n: count()", "        retracted: count()"),
        ["retracted: count()"], ["retracted"])


@case
def owned_kafka_properties_are_errors():
    for prop, val in [("enable.auto.commit", "true"), ("enable.auto.offset.store", "false"),
                      ("transactional.id", "mine"), ("enable.idempotence", "true")]:
        one("%s on a source" % prop,
            sub(KAFKA_BASE, "      topic: events\n",
                "      topic: events\n      %s: %s\n" % (prop, val)),
            ["%s: %s" % (prop, val)], [prop])
    one("owned property in the job-level kafka map",
        sub(KAFKA_BASE, "  bootstrap.servers: 127.0.0.1:9\n",
            "  bootstrap.servers: 127.0.0.1:9\n  enable.auto.commit: false\n"),
        ["enable.auto.commit: false"], ["enable.auto.commit"])
    one("transactional.id on a sink",
        sub(KAFKA_BASE, "      topic: results\n",
            "      topic: results\n      transactional.id: x\n"),
        ["transactional.id: x"], ["transactional.id"])


@case
def exactly_once_needs_checkpoints_below_the_transaction_timeout():
    t = sub(sub(KAFKA_BASE, "at-least-once", "exactly-once"), "interval: 10s", "interval: 0")
    one("exactly-once with checkpoint.interval 0", t,
        ["delivery: exactly-once", "interval: 0"], ["exactly-once"])
    t = sub(KAFKA_BASE, "interval: 10s", "interval: 2m")
    t = sub(t, "      delivery: at-least-once",
            "      delivery: exactly-once\n      transaction.timeout.ms: 60000")
    one("exactly-once with interval 2m >= transaction.timeout.ms 60000", t,
        ["delivery: exactly-once", "interval: 2m", "transaction.timeout.ms: 60000"],
        ["transaction.timeout.ms"])
    t = sub(KAFKA_BASE, "interval: 10s", "interval: 1m")
    t = sub(t, "      delivery: at-least-once",
            "      delivery: exactly-once\n      transaction.timeout.ms: 60000")
    one("exactly-once with interval equal to transaction.timeout.ms", t,
        ["delivery: exactly-once", "interval: 1m", "transaction.timeout.ms: 60000"],
        ["transaction.timeout.ms"])


@case
def yaml_syntax_error_is_reported_with_a_position():
    t = sub(BASE, "      key: [user]\n", "      key: [user\n")
    path, r = validate(t)
    expect_rc(r, 2)
    errors, _, _ = diagnostics(r.err, path)
    check(errors, "a YAML syntax error must be FILE:LINE:COL: message", r)
    ln = span(t, "key: [user")[0]
    check(any(ln <= e[0] <= ln + 3 for e in errors),
          "the syntax error should point at or just after line %d" % ln, r)


@case
def missing_job_file_is_an_error():
    d = tmpdir("missing")
    p = os.path.join(d, "nope.yaml")
    r = weir("validate", p)
    expect_rc(r, 2)
    check(p in r.err, "stderr must name the file", r)


if __name__ == "__main__":
    main()
