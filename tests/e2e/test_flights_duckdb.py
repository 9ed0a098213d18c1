"""tests/e2e/test_flights_duckdb.py -- weir's hourly windows over 100,000 real flights,
compared window by window with DuckDB (SPEC §3, §4).

Input: the first 100,000 lines of the flights data (examples/data/flights-100k.jsonl.zst
when the repo has it, else /work/shared/data/flights-2001h1.jsonl.zst, whose prefix it
is). weir runs a tumbling 1 h window keyed by origin with count, sum, avg, max, min,
first, last and count_distinct -- named like the columns of the DuckDB peer script
../shared/bench/duckdb-windows -- and every (origin, window_start) row must agree:
same set of windows, integers exact, doubles to 1e-9 relative. The peer needs node,
npm and the npm registry; without them that case is SKIPPED (never passed). A plain
Python computation of the same windows is a third opinion: on a mismatch the report
says which side it agrees with. weir must also give identical final records at
parallelism 1 and 4 (one partition: results never depend on parallelism, SPEC §4).
"""

import datetime
import json
import os
import shutil
import subprocess

from cli_util import (WEIR_SRC, Skip, case, check, close, eq, expect_rc, main, read_jsonl,
                      tmpdir, weir, write)

N_LINES = 100_000
HOUR_MS = 3_600_000
FIELDS = ["origin", "window_start", "window_end", "count", "sum", "avg", "max", "min",
          "first", "last", "distinct"]

_cache = {}


def data_file():
    if "input" in _cache:
        return _cache["input"]
    repo = os.path.join(WEIR_SRC, "examples", "data", "flights-100k.jsonl.zst")
    shared = os.path.join(WEIR_SRC, "..", "shared", "data", "flights-2001h1.jsonl.zst")
    if not os.path.exists(shared):
        shared = "/work/shared/data/flights-2001h1.jsonl.zst"
    src = repo if os.path.exists(repo) else shared
    if not os.path.exists(src):
        raise AssertionError("no flights data: neither %s nor %s" % (repo, shared))
    if not shutil.which("zstd"):
        raise AssertionError("zstd is needed to unpack %s" % src)
    d = tmpdir("flights")
    path = os.path.join(d, "flights-100k.jsonl")
    with open(path, "wb") as out:
        z = subprocess.Popen(["zstd", "-dc", src], stdout=subprocess.PIPE)
        n = 0
        for line in z.stdout:
            out.write(line)
            n += 1
            if n == N_LINES:
                break
        z.stdout.close()
        z.kill()
        z.wait()
    check(n == N_LINES, "%s has only %d lines" % (src, n))
    _cache["input"] = path
    return path


def job_text(inp, out, parallelism):
    return f"""\
job: flights-hourly-p{parallelism}
parallelism: {parallelism}
sources:
  flights:
    file: {{ path: {json.dumps(inp)} }}
    event_time: {{ field: ts }}
operators:
  - name: hourly
    from: flights
    window:
      key: [origin]
      tumbling: 1h
      aggregates:
        count: count()
        sum: sum(delay)
        avg: avg(delay)
        max: max(delay)
        min: min(delay)
        first: first(destination)
        last: last(destination)
        distinct: count_distinct(destination)
sinks:
  out:
    from: hourly
    file: {{ path: {json.dumps(out)} }}
"""


def run_weir(parallelism):
    key = "weir-p%d" % parallelism
    if key in _cache:
        return _cache[key]
    inp = data_file()
    d = tmpdir("p%d" % parallelism)
    out = os.path.join(d, "out.jsonl")
    job = write(os.path.join(d, "job.yaml"), job_text(inp, out, parallelism))
    r = weir("run", job, "--state-dir", os.path.join(d, "state"), timeout=120)
    expect_rc(r, 0, "weir run parallelism %d" % parallelism)
    recs = read_jsonl(out)
    check(recs, "weir wrote no windows at parallelism %d" % parallelism)
    _cache[key] = (recs, r.seconds)
    return _cache[key]


def by_window(recs, who):
    """{(origin, window_start): record}; a window must be emitted exactly once (no
    lateness, input in time order: it fires once and is never updated)."""
    out, dups = {}, []
    for r in recs:
        k = (r["origin"], r["window_start"])
        if k in out:
            dups.append(k)
        out[k] = r
    check(not dups, "%s: windows emitted more than once (allowed_lateness 0, in-order input): %s"
          % (who, dups[:5]))
    return out


def ts_ms(s):
    d = datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    return int(d.timestamp() * 1000)


def python_reference():
    if "py" in _cache:
        return _cache["py"]
    ref = {}
    with open(data_file()) as f:
        for line in f:
            r = json.loads(line)
            t = ts_ms(r["ts"])
            ws = t // HOUR_MS * HOUR_MS
            k = (r["origin"], ws)
            w = ref.get(k)
            if w is None:
                w = ref[k] = {"origin": r["origin"], "window_start": ws,
                              "window_end": ws + HOUR_MS, "count": 0, "sum": 0, "max": None,
                              "min": None, "first": None, "last": None, "_d": set(),
                              "_ft": None, "_lt": None}
            w["count"] += 1
            dl = r["delay"]
            w["sum"] += dl
            w["max"] = dl if w["max"] is None or dl > w["max"] else w["max"]
            w["min"] = dl if w["min"] is None or dl < w["min"] else w["min"]
            if w["_ft"] is None or t < w["_ft"]:
                w["_ft"], w["first"] = t, r["destination"]
            if w["_lt"] is None or t >= w["_lt"]:
                w["_lt"], w["last"] = t, r["destination"]
            w["_d"].add(r["destination"])
    for w in ref.values():
        w["avg"] = w["sum"] / w["count"]
        w["distinct"] = len(w.pop("_d"))
        del w["_ft"], w["_lt"]
    _cache["py"] = ref
    return ref


def to_ms(v):
    """DuckDB may print times as numbers, numeric strings or timestamps."""
    if isinstance(v, bool):
        raise AssertionError("bad time %r" % v)
    if isinstance(v, (int, float)):
        return int(v)
    if isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            return ts_ms(v.replace(" ", "T"))
    raise AssertionError("bad time %r" % (v,))


def normalise_duck(r):
    out = dict(r)
    out["window_start"] = to_ms(r["window_start"])
    out["window_end"] = to_ms(r["window_end"])
    for f in ("count", "sum", "max", "min", "distinct"):
        if isinstance(out.get(f), str):
            out[f] = int(out[f])
        elif isinstance(out.get(f), float) and out[f].is_integer():
            out[f] = int(out[f])
    if isinstance(out.get("avg"), (int, str)):
        out["avg"] = float(out["avg"])
    return out


def run_duckdb():
    if "duck" in _cache:
        return _cache["duck"]
    peer = os.path.join(WEIR_SRC, "..", "shared", "bench", "duckdb-windows")
    if not os.path.exists(peer):
        peer = "/work/shared/bench/duckdb-windows"
    if not os.path.exists(peer):
        raise Skip("DuckDB peer script not found")
    for tool in ("node", "npm"):
        if not shutil.which(tool):
            raise Skip("%s is not installed" % tool)
    d = tmpdir("duck")
    out = os.path.join(d, "duck.jsonl")
    try:
        p = subprocess.run(["sh", peer, data_file(), out, "origin", "ts", str(HOUR_MS),
                            "delay", "destination"], capture_output=True, text=True,
                           timeout=240)
    except subprocess.TimeoutExpired:
        raise Skip("DuckDB peer timed out (npm install?)")
    if p.returncode != 0 or not os.path.exists(out):
        raise Skip("DuckDB peer failed (exit %s): %s" % (p.returncode,
                                                         (p.stderr or p.stdout)[-500:]))
    recs = [normalise_duck(r) for r in read_jsonl(out)]
    _cache["duck"] = by_window(recs, "duckdb")
    return _cache["duck"]


def diff_windows(got, want, who_got, who_want, ref=None):
    problems = []
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    if missing:
        problems.append("%d windows in %s missing from %s, e.g. %s" % (
            len(missing), who_want, who_got, [want[k] for k in missing[:3]]))
    if extra:
        problems.append("%d windows in %s not in %s, e.g. %s" % (
            len(extra), who_got, who_want, [got[k] for k in extra[:3]]))
    bad = []
    for k in sorted(set(got) & set(want)):
        g, w = got[k], want[k]
        for f in FIELDS:
            if not close(g.get(f), w.get(f)):
                bad.append((k, f, g.get(f), w.get(f)))
    if bad:
        lines = []
        for k, f, gv, wv in bad[:10]:
            note = ""
            if ref is not None and k in ref:
                rv = ref[k][f]
                note = "  python says %r (%s)" % (rv, "agrees with " + (
                    who_got if close(gv, rv) else who_want if close(wv, rv) else "neither"))
            lines.append("%s %s: %s=%r %s=%r%s" % (k, f, who_got, gv, who_want, wv, note))
        problems.append("%d differing values:\n  %s" % (len(bad), "\n  ".join(lines)))
    return problems


@case
def weir_output_shape_and_types():
    recs, _ = run_weir(4)
    for r in recs[:2000]:
        eq(list(r.keys()), FIELDS, "fields of a window record, in order (SPEC §3)")
        check(isinstance(r["window_start"], int) and isinstance(r["window_end"], int),
              "window_start/window_end must be epoch-ms integers: %r" % r)
        eq(r["window_end"] - r["window_start"], HOUR_MS, "window size")
        eq(r["window_start"] % HOUR_MS, 0, "alignment to epoch 0")
        for f in ("count", "sum", "max", "min", "distinct"):
            check(type(r[f]) is int, "%s must be an integer here: %r" % (f, r))
        check(type(r["avg"]) is float, "avg must be a double (written with a '.' or "
              "exponent): %r" % r)
        check(isinstance(r["first"], str) and isinstance(r["last"], str),
              "first/last keep the string type: %r" % r)


@case
def weir_matches_python_reference():
    recs, secs = run_weir(4)
    got = by_window(recs, "weir")
    ref = python_reference()
    problems = diff_windows(got, ref, "weir", "python")
    check(not problems, "\n".join(problems))
    print("     weir p4: %d windows in %.2fs" % (len(got), secs))


@case
def weir_matches_duckdb_window_by_window():
    duck = run_duckdb()
    recs, _ = run_weir(4)
    got = by_window(recs, "weir")
    eq(len(duck), 14585, "sanity: DuckDB windows over the 100k prefix")
    problems = diff_windows(got, duck, "weir", "duckdb", ref=python_reference())
    check(not problems, "\n".join(problems))


@case
def parallelism_1_and_4_give_identical_final_records():
    r1, s1 = run_weir(1)
    r4, s4 = run_weir(4)
    w1 = by_window(r1, "weir p1")
    w4 = by_window(r4, "weir p4")
    eq(sorted(w1), sorted(w4), "set of windows at parallelism 1 vs 4")
    diff = [(k, w1[k], w4[k]) for k in w1
            if json.dumps(w1[k]) != json.dumps(w4[k])]
    check(not diff, "%d windows differ between parallelism 1 and 4 (exactly, one "
          "partition): %s" % (len(diff), diff[:3]))
    print("     weir p1 %.2fs, p4 %.2fs" % (s1, s4))


if __name__ == "__main__":
    main()
