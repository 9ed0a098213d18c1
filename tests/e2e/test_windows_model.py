"""tests/e2e/test_windows_model.py -- weir's window results against the reference model.

Design: seeded random inputs (a few thousand lines, ~20 keys of mixed types
including 1 vs 1.0 and 2^53+1 vs 2^53 as a double, out-of-order event times
with jitter beyond the watermark delay, a few very late records, duplicated
timestamps, null/missing/int/double amounts, some RFC 3339 event times) are run
through the real binary for tumbling, sliding (size a multiple of the slide,
not a multiple, and slide > size) and session windows, with allowed lateness 0
and > 0, parallelism 1 and 4. The final record per (key, window) and the set of
late records must equal tests/e2e/weir_model.py's; every output line must be a
JSON object with members in SPEC §3 order. Hand-built inputs pin down
aggregate types and session retraction, checked against hand-computed values
AND the model (so the model itself is tested).

Invariants:
  1. Comparison is exact for ints/strings/bools, 1e-9 relative for doubles, and
     the JSON type (int vs double) must match.
  2. Only final records and late records are compared; intermediate updates
     may differ in number (SPEC §4).
  3. The seed is printed on failure; WEIR_TEST_SEED reruns one.

Rules come from SPEC §3 (aggregates, output shape), §4 (windows, lateness,
sessions, retraction), §6 (late dead letters).
"""

import json
import random

import e2e_util as U
import weir_model as M

AGGS = [("n", "count()"), ("total", "sum(amount)"), ("hi", "max(amount)"),
        ("lo", "min(amount)"), ("mean", "avg(amount)"), ("f", "first(amount)"),
        ("l", "last(amount)"), ("d", "count_distinct(amount)")]

T0 = 1_700_000_003_217
MISSING = object()


def model_aggs(aggs):
    return [(name,) + M.parse_agg(text) for name, text in aggs]


def ms_to_rfc3339(ms, rng):
    """An RFC 3339 rendering of ms, sometimes with a +02:00 offset."""
    if rng.random() < 0.5:
        return U.rfc3339_prefix(ms) + ".%03dZ" % (ms % 1000)
    local = ms + 2 * 3600 * 1000
    return U.rfc3339_prefix(local) + ".%03d+02:00" % (local % 1000)


def gen_input(rng, n=3000, pad=0):
    keys = ["u%d" % i for i in range(12)] + [1, 1.0, 2, 2.5, None, MISSING, True,
                                             "\u00fc-\u00f1", 9007199254740993,
                                             9007199254740992.0]
    base = T0
    prev_t = T0
    lines = []
    for i in range(n):
        base += rng.randint(0, 800)
        r = rng.random()
        if r < 0.01:
            t = base - rng.randint(30000, 200000)      # very late
        elif r < 0.16:
            t = base - rng.randint(0, 8000)            # jitter beyond the 2s delay
        elif r < 0.21:
            t = prev_t                                 # duplicate timestamp
        else:
            t = base
        prev_t = t
        rec = {}
        k = rng.choice(keys)
        if k is not MISSING:
            rec["user"] = k
        rec["ts"] = ms_to_rfc3339(t, rng) if rng.random() < 0.1 else t
        a = rng.random()
        if a < 0.05:
            rec["amount"] = None
        elif a < 0.10:
            pass                                        # missing amount
        elif a < 0.15:
            rec["amount"] = 1
        elif a < 0.20:
            rec["amount"] = 1.0
        elif a < 0.55:
            rec["amount"] = rng.randint(0, 1000)
        elif a < 0.80:
            rec["amount"] = rng.randint(0, 8000) / 8.0  # exact in any summation order
        elif a < 0.98:
            rec["amount"] = round(rng.uniform(0, 1000), 2)
        else:
            rec["amount"] = 2 ** 62 if k == "u0" else rng.randint(0, 5)
        if rng.random() < 0.05:
            rec["extra"] = {"nested": [1, {"x": "y"}], "s": "a\"b"}
        g = rng.random()
        if g < 0.45:
            rec["grp"] = "x"
        elif g < 0.9:
            rec["grp"] = 7 if g < 0.7 else 7.0
        elif g < 0.95:
            rec["grp"] = None
        if pad:
            rec["pad"] = "p" * rng.randint(0, 2 * pad)
        if rng.random() < 0.3:
            items = list(rec.items())
            rng.shuffle(items)
            rec = dict(items)
        lines.append(json.dumps(rec, ensure_ascii=rng.random() < 0.5))
    return ("\n".join(lines) + "\n").encode("utf-8")


# ---------------------------------------------------------------- comparison


def check_output_shape(records, key_fields, agg_names):
    for r in records:
        keys = list(r.keys())
        head = list(key_fields) + ["window_start", "window_end"]
        if r.get("retracted") is True:
            want = head + ["retracted"]
        else:
            want = head + list(agg_names)
        if keys != want:
            raise AssertionError("member order %r, want %r in %s" % (keys, want, json.dumps(r)))
        for f in ("window_start", "window_end"):
            if U.json_type(r[f]) != "int":
                raise AssertionError("%s not an integer in %s" % (f, json.dumps(r)))


def compare_finals(got, model, key_fields, agg_names, limit=8):
    problems = []
    mk, gk = set(model.final), set(got)
    for wid in sorted(mk - gk, key=repr)[:limit]:
        problems.append("missing window %s" % json.dumps(model.final[wid]))
    for wid in sorted(gk - mk, key=repr)[:limit]:
        problems.append("unexpected window %s" % json.dumps(got[wid]))
    n_bad = 0
    for wid in sorted(mk & gk, key=repr):
        exp, g = model.final[wid], got[wid]
        bad = []
        for k in key_fields:
            seen = {U.json_type(kv[key_fields.index(k)]) for kv in model.key_reprs[wid]}
            if U.json_type(g.get(k)) not in seen:
                bad.append("key %s has type %s, seen %s" % (k, U.json_type(g.get(k)), sorted(seen)))
        for a in agg_names:
            ok, why = U.values_equal(exp[a], g.get(a))
            if not ok:
                bad.append("%s: %s" % (a, why))
        if bad:
            n_bad += 1
            if n_bad <= limit:
                problems.append("window %s: %s\n       expected %s" % (
                    json.dumps(g), "; ".join(bad), json.dumps(exp)))
    if n_bad > limit:
        problems.append("... %d windows differ in all" % n_bad)
    if problems:
        raise AssertionError("%d model windows, %d weir windows:\n     %s" % (
            len(mk), len(gk), "\n     ".join(problems)))


def compare_dead_letters(dl, model, source="in", limit=8):
    problems = []
    got = {}
    for d in dl:
        if d.get("offset") in got:
            problems.append("two dead letters for offset %r" % d.get("offset"))
        got[d.get("offset")] = d
    exp = model.dead_by_offset()
    for off in sorted(set(exp) - set(got))[:limit]:
        problems.append("missing dead letter %s" % json.dumps(exp[off]))
    for off in sorted(set(got) - set(exp), key=repr)[:limit]:
        problems.append("unexpected dead letter %s" % json.dumps(got[off]))
    for off in sorted(set(exp) & set(got)):
        e, g = exp[off], got[off]
        bad = []
        for f in ("reason", "value", "value_base64", "watermark", "deadline"):
            if f in e and e[f] != g.get(f):
                bad.append("%s %r expected, got %r" % (f, e[f], g.get(f)))
        if "value_base64" not in e and "value_base64" in g:
            bad.append("value_base64 present for valid UTF-8")
        if g.get("source") != source:
            bad.append("source %r" % g.get("source"))
        if g.get("partition") != 0:
            bad.append("partition %r" % g.get("partition"))
        if e["operator"] is not None and g.get("operator") != e["operator"]:
            bad.append("operator %r expected, got %r" % (e["operator"], g.get("operator")))
        if e["operator"] is None and g.get("operator") not in (None, source):
            bad.append("operator %r for a source-level error" % g.get("operator"))
        if not isinstance(g.get("error"), str) or not g.get("error"):
            bad.append("error text missing")
        if e["reason"] == "late" and isinstance(g.get("error"), str):
            for f in ("watermark", "deadline"):
                p = U.rfc3339_prefix(e[f])
                if p not in g["error"]:
                    bad.append("error %r does not state %s as %s..." % (g["error"], f, p))
        if bad:
            problems.append("offset %d: %s" % (off, "; ".join(bad)))
    if problems:
        raise AssertionError("%d expected dead letters, %d written:\n     %s" % (
            len(exp), len(got), "\n     ".join(problems[:3 * limit])))


def run_and_compare(tmp, name, data, *, kind, params, lateness_ms, delay_ms,
                    parallelism, aggs=AGGS, key=("user",), event_time=None):
    in_path, out_path, dlq = tmp.join(name + ".in.jsonl"), tmp.join(name + ".out.jsonl"), tmp.join(name + ".dlq.jsonl")
    job = U.window_job(name, in_path, out_path, dlq, key=key, kind=kind,
                       lateness_ms=lateness_ms, delay_ms=delay_ms, aggregates=aggs,
                       parallelism=parallelism, event_time=event_time, **params)
    mjob = M.ModelJob(key=key, kind=kind, lateness_ms=lateness_ms, delay_ms=delay_ms,
                      aggregates=model_aggs(aggs), event_time=event_time, **params)
    model = M.run_model(data, mjob)
    run = U.run_job(tmp, job, data)
    U.check_ok(run, name)
    records = U.read_jsonl(out_path)
    agg_names = [a for a, _ in aggs]
    check_output_shape(records, list(key), agg_names)
    got = U.final_records(records, list(key))
    compare_finals(got, model, list(key), agg_names)
    compare_dead_letters(U.read_jsonl(dlq), model)
    return model


# ---------------------------------------------------------------- hand-built cases


def lines(*objs):
    return ("\n".join(o if isinstance(o, str) else json.dumps(o) for o in objs) + "\n").encode()


AGG_CASE = lines(
    {"user": "a", "ts": 1000, "amount": 9223372036854775807},
    {"user": "a", "ts": 1001, "amount": 1},
    {"user": "a", "ts": 1002, "amount": -1},
    {"user": "b", "ts": 1000, "amount": 1.0},
    {"user": "b", "ts": 1000, "amount": 1},        # max/min: 1.0 arrived first and stays
    {"user": "b", "ts": 999, "amount": None},
    {"user": "c", "ts": 1000, "amount": 9007199254740993},
    {"user": "c", "ts": 1000, "amount": 9007199254740992.0},  # distinct from 2^53+1
    {"user": "d", "ts": 1000, "amount": None},
    {"user": "d", "ts": 1001},
    {"user": "e", "ts": 1000, "amount": 1e308},
    {"user": "e", "ts": 1001, "amount": 1e308},    # sum overflows to inf -> null
    {"user": "g", "ts": 1000, "amount": 9223372036854775807},
    {"user": "g", "ts": 1001, "amount": 9223372036854775807},  # int sum overflow -> double
    {"user": "h", "ts": 1005, "amount": 5},
    {"user": "h", "ts": 1003, "amount": 3},         # first by event time, not arrival
    {"user": "h", "ts": 1003, "amount": 4},         # tie on event time: arrival order
    {"user": "h", "ts": 1009, "amount": 9.5},
    {"user": "h", "ts": 1009, "amount": 9},
    '{"user": "m", "ts": 1000, "amount": -0.0}',
    '{"user": "m", "ts": 1000, "amount": 0.0}',    # equal to -0.0: min/max keep the first
    '{"user": 1, "ts": 1000, "amount": 1}',
    '{"user": 1.0, "ts": 1001, "amount": 2}',       # same key as user 1
    '{"ts": 1002, "amount": 3}',
    '{"user": null, "ts": 1003, "amount": 4}',     # same key as missing user
)
AGG_CASE_AGGS = [("n", "count()"), ("total", "sum(amount)"), ("hi", "max(amount)"),
                 ("lo", "min(amount)"), ("mean", "avg(amount)"), ("f", "first(amount)"),
                 ("l", "last(amount)"), ("d", "count_distinct(amount)")]
AGG_CASE_EXPECT = {
    "a": dict(n=3, total=9223372036854775807, hi=9223372036854775807, lo=-1,
              mean=float(9223372036854775807) / 3, f=9223372036854775807, l=-1, d=3),
    "b": dict(n=3, total=2.0, hi=1.0, lo=1.0, mean=1.0, f=1.0, l=1, d=1),
    "c": dict(n=2, total=18014398509481985.0, hi=9007199254740993, lo=9007199254740992.0,
              mean=9007199254740992.5, f=9007199254740993, l=9007199254740992.0, d=2),
    "d": dict(n=2, total=None, hi=None, lo=None, mean=None, f=None, l=None, d=0),
    "g": dict(n=2, total=18446744073709551614.0, hi=9223372036854775807,
              lo=9223372036854775807, mean=9223372036854775807.0,
              f=9223372036854775807, l=9223372036854775807, d=1),
    "h": dict(n=5, total=30.5, hi=9.5, lo=3, mean=6.1, f=3, l=9, d=5),
    "m": dict(n=2, hi=-0.0, lo=-0.0, f=-0.0, l=0.0, d=1),
    1: dict(n=2, total=3, d=2),
    None: dict(n=2, total=7, d=2),
}
# min/max/first/last of strings (no sum/avg, which would be type errors)
STR_CASE = lines(
    {"user": "s", "ts": 1000, "v": "b"},
    {"user": "s", "ts": 1001, "v": "\u00e9"},      # bytewise: 0xC3 > 'z'
    {"user": "s", "ts": 1002, "v": "z"},
    {"user": "s", "ts": 1003, "v": "B"},
    {"user": "s", "ts": 1004, "v": True},          # bool < number < string
    {"user": "s", "ts": 1005, "v": 7},
)
STR_AGGS = [("hi", "max(v)"), ("lo", "min(v)"), ("f", "first(v)"), ("l", "last(v)"),
            ("d", "count_distinct(v)")]
STR_EXPECT = dict(hi="\u00e9", lo=True, f="b", l=7, d=6)

# sessions: gap 10s, lateness 5s, delay 0 (hand-computed in comments)
SESSION_CASE = lines(
    {"user": "c", "ts": 0},        # c [0,10000)
    {"user": "c", "ts": 10000},    # exactly gap after: touches -> c [0,20000)
    {"user": "a", "ts": 0},        # wm 10000: a [0,10000), open until 15000
    {"user": "b", "ts": 12000},    # b [12000,22000)
    {"user": "a", "ts": 14000},    # wm 12000: a [14000,24000), separate
    {"user": "a", "ts": 9000},     # wm 14000: joins both: a [0,24000); [0,10000) retracted if fired
    {"user": "b", "ts": 40000},    # b [40000,50000)
    {"user": "a", "ts": 3000},     # wm 40000, a forgotten (29000): own [3000,13000) late, deadline 18000
    {"user": "a", "ts": 36000},    # not late: new a [36000,46000)
    {"user": "a", "ts": 30000},    # own [30000,40000)+5s > 40000: joins -> a [30000,46000)
    {"user": "a", "ts": 24000},    # own [24000,34000)+5s <= 40000 but touches an open session: joins
    {"user": "b", "ts": 22000},    # b [12000,22000) forgotten (27000): late, deadline 37000
    {"user": "c", "ts": 45000},    # c [0,20000) forgotten: new c [45000,55000)
)
SESSION_EXPECT = {("c", 0, 20000): 2, ("a", 0, 24000): 3, ("b", 12000, 22000): 1,
                  ("b", 40000, 50000): 1, ("a", 24000, 46000): 3, ("c", 45000, 55000): 1}
SESSION_LATE = {("late", 40000, 18000), ("late", 40000, 37000)}


def model_checks(r):
    """The model against hand-computed results (runs without weir)."""
    def agg_case():
        m = M.run_model(AGG_CASE, M.ModelJob(key=["user"], kind="tumbling", size_ms=10000,
                                             aggregates=model_aggs(AGG_CASE_AGGS)))
        byk = {}
        for (nk, ws, we), rec in m.final.items():
            assert (ws, we) == (0, 10000), (ws, we)
            byk[rec["user"]] = rec
        assert byk["e"]["total"] is None and byk["e"]["hi"] == 1e308, byk["e"]
        for k, exp in AGG_CASE_EXPECT.items():
            for a, v in exp.items():
                ok, why = U.values_equal(v, byk[k][a])
                assert ok, "%r %s: %s" % (k, a, why)
        assert not m.dead
    r.check("model: aggregate types and values (hand-computed)", agg_case)

    def str_case():
        m = M.run_model(STR_CASE, M.ModelJob(key=["user"], kind="tumbling", size_ms=10000,
                                             aggregates=model_aggs(STR_AGGS)))
        (rec,) = m.final.values()
        for a, v in STR_EXPECT.items():
            ok, why = U.values_equal(v, rec[a])
            assert ok, "%s: %s" % (a, why)
    r.check("model: min/max order null<bool<number<string, bytewise strings", str_case)

    def session_case():
        m = M.run_model(SESSION_CASE, M.ModelJob(key=["user"], kind="session", gap_ms=10000,
                                                 lateness_ms=5000,
                                                 aggregates=[("n", "count", None)]))
        got = {(rec["user"], rec["window_start"], rec["window_end"]): rec["n"] for rec in m.final.values()}
        assert got == SESSION_EXPECT, got
        late = {(d["reason"], d["watermark"], d["deadline"]) for d in m.dead}
        assert late == SESSION_LATE, late
    r.check("model: session merging, forgetting and lateness (hand-computed)", session_case)

    def sliding_case():
        job = M.ModelJob(key=["k"], kind="sliding", size_ms=10, slide_ms=3)
        assert M.windows_of(0, job) == [(-9, 1), (-6, 4), (-3, 7), (0, 10)]
        assert M.windows_of(-1, job) == [(-9, 1), (-6, 4), (-3, 7)]
        job = M.ModelJob(key=["k"], kind="sliding", size_ms=2, slide_ms=5)
        assert M.windows_of(7, job) == [] and M.windows_of(6, job) == [(5, 7)]
        job = M.ModelJob(key=["k"], kind="tumbling", size_ms=1000)
        assert M.windows_of(-1, job) == [(-1000, 0)]
        # lateness of a sliding event: counts in its open windows only
        data = lines({"k": 1, "ts": 100}, {"k": 1, "ts": 21}, {"k": 1, "ts": 5})
        m = M.run_model(data, M.ModelJob(key=["k"], kind="sliding", size_ms=100, slide_ms=20,
                                         aggregates=[("n", "count", None)]))
        # wm 100 before ts 21: of its windows [-60,40) .. [20,120) only [20,120) is open
        got = {(ws, we): rec["n"] for (_, ws, we), rec in m.final.items()}
        assert got == {(20, 120): 2, (40, 140): 1, (60, 160): 1, (80, 180): 1,
                       (100, 200): 1}, got
        assert [(d["reason"], d["watermark"], d["deadline"]) for d in m.dead] == [("late", 100, 100)]
    r.check("model: sliding and tumbling window assignment", sliding_case)


def weir_hand_cases(r, tmp):
    def agg_case():
        model = run_and_compare(tmp, "aggcase", AGG_CASE, kind="tumbling",
                                params=dict(size_ms=10000), lateness_ms=0, delay_ms=0,
                                parallelism=2, aggs=AGG_CASE_AGGS)
        assert len(model.final) == 10
    r.check("weir: aggregate types and values (hand-built)", agg_case)
    r.check("weir: min/max/first/last/count_distinct of mixed types",
            run_and_compare, tmp, "strcase", STR_CASE, kind="tumbling",
            params=dict(size_ms=10000), lateness_ms=0, delay_ms=0, parallelism=1, aggs=STR_AGGS)

    def session_case():
        # 100000 records of another key at the current maximum event time after
        # a@14000 let weir fire a [0,10000) before a@9000 merges it (batching permitting)
        parts = SESSION_CASE.split(b"\n")
        filler = b'{"user":"z","ts":14000}\n' * 100000
        data = b"\n".join(parts[:5]) + b"\n" + filler + b"\n".join(parts[5:])
        run_and_compare(tmp, "sesscase", data, kind="session",
                        params=dict(gap_ms=10000), lateness_ms=5000, delay_ms=0,
                        parallelism=2, aggs=[("n", "count()")])
        recs = U.read_jsonl(tmp.join("sesscase.out.jsonl"))
        # [0,10000) of a may have fired before the merge; if so it must be retracted after it
        idx = [i for i, x in enumerate(recs) if x.get("user") == "a" and x["window_start"] == 0
               and x["window_end"] == 10000]
        if idx and recs[idx[-1]].get("retracted") is not True:
            raise AssertionError("a [0,10000) emitted but never retracted: %r" % [recs[i] for i in idx])
    r.check("weir: session merge, retraction and forgetting (hand-built)", session_case)


CONFIGS = [
    # name, kind, params, lateness, parallelism[, lines, pad, key fields]
    ("tumb_l0_p1", "tumbling", dict(size_ms=10000), 0, 1),
    ("tumb_l3_p4", "tumbling", dict(size_ms=10000), 3000, 4),
    ("tumb_l3_p1", "tumbling", dict(size_ms=10000), 3000, 1),
    ("slmul_l0_p4", "sliding", dict(size_ms=10000, slide_ms=2000), 0, 4),
    ("slmul_l3_p1", "sliding", dict(size_ms=10000, slide_ms=2000), 3000, 1),
    ("slodd_l0_p1", "sliding", dict(size_ms=10000, slide_ms=3000), 0, 1),
    ("slodd_l3_p4", "sliding", dict(size_ms=10000, slide_ms=3000), 3000, 4),
    ("slgap_l0_p4", "sliding", dict(size_ms=2000, slide_ms=5000), 0, 4),
    ("slgap_l3_p1", "sliding", dict(size_ms=2000, slide_ms=5000), 3000, 1),
    ("sess_l0_p1", "session", dict(gap_ms=5000), 0, 1),
    ("sess_l0_p4", "session", dict(gap_ms=5000), 0, 4),
    ("sess_l3_p4", "session", dict(gap_ms=5000), 3000, 4),
    ("sess_l3_p1", "session", dict(gap_ms=5000), 3000, 1),
    ("two_keys_sess", "session", dict(gap_ms=5000), 3000, 3, 3000, 0, ("grp", "user")),
    ("two_keys_slide", "sliding", dict(size_ms=10000, slide_ms=4000), 0, 2, 3000, 0, ("grp", "user")),
    # larger inputs, so that weir fires (and retracts) windows while reading, not only at the end
    ("big_sess_l3_p4", "session", dict(gap_ms=5000), 3000, 4, 30000, 400),
    ("big_tumb_l3_p1", "tumbling", dict(size_ms=10000), 3000, 1, 30000, 400),
    ("big_slodd_l3_p4", "sliding", dict(size_ms=10000, slide_ms=3000), 3000, 4, 20000, 400),
]


def main():
    seed = U.test_seed()
    print("seed %d" % seed)
    r = U.Runner("windows_model", seed)
    model_checks(r)

    # the generator really produces what the tests rely on
    def gen_sanity():
        data = gen_input(random.Random(seed))
        m = M.run_model(data, M.ModelJob(key=["user"], kind="tumbling", size_ms=10000,
                                         delay_ms=2000, aggregates=model_aggs(AGGS)))
        assert len(m.late_offsets()) > 10, len(m.late_offsets())
        assert all(d["reason"] == "late" for d in m.dead)
        assert len(m.final) > 500, len(m.final)
    r.check("model: generated input has late records and many windows", gen_sanity)

    if not U.weir_available():
        print("weir binary not found at %r (set WEIR)" % U.weir_bin())
        r.failed += 1
        r.finish()
    with U.TempDir() as tmp:
        weir_hand_cases(r, tmp)
        for i, (name, kind, params, late, par, *more) in enumerate(CONFIGS):
            data = gen_input(random.Random(seed * 100 + i), *more[:2])
            key = more[2] if len(more) > 2 else ("user",)
            r.check("weir: %s (%s %s lateness %dms parallelism %d key %s)" % (
                        name, kind, params, late, par, ",".join(key)),
                    run_and_compare, tmp, name, data, kind=kind, params=params,
                    lateness_ms=late, delay_ms=2000, parallelism=par, key=key)
    r.finish()


if __name__ == "__main__":
    main()
