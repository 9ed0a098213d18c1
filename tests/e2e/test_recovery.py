"""tests/e2e/test_recovery.py -- crash recovery, checkpoints and savepoints of `weir run` (SPEC §1, §4, §5).

Design: every case drives the real binary (helpers: recovery_util.py). The crash
cases start a job again and again and SIGKILL it at seeded random moments -- right
after a `checkpoint N complete` line appears on its stderr (read line by line while
it runs), a little later (aimed at the next checkpoint), during startup/restore, or
at a random time within the length of an uninterrupted run -- until it exits 0;
kills that left a `chk-N/` without `_metadata` (a checkpoint being written) are
counted and at least one is required. After some kills a partial line is appended
to the sink and dead-letter files (a torn write the restore must cut off). After
every kill the newest complete checkpoint on disk is computed and the next start
must log `resuming from checkpoint N` for exactly that N. The output and dead
letters are compared with one uninterrupted run of the same job and, for the
generated jobs, with the independent model in weir_model.py. Other cases: another
parallelism (through a savepoint, and from plain checkpoints -- README: parallelism
is deployment, not computation), a savepoint into an edited job, refusals of a
changed job / window / input / max_parallelism, corrupted checkpoints, the
state-dir lock, --fresh, stdin jobs (never resume; weir takes no checkpoints of
them) and a sink shorter than its checkpointed length.

Invariants:
  1. Only the Python 3 standard library; weir runs with WEIR_HOME in a temp dir
     (cli_util) and every process has a timeout.
  2. Only processes this script started are signalled, by their own pid.
  3. Seeded: the seed is printed; WEIR_TEST_SEED=N reruns one. WEIR_RECOVERY_SCALE
     scales the input sizes (default 1.0; 0.35 when the binary is built with ASan);
     WEIR_RECOVERY_KILLS (default 25) is the number of kills per crash test. Kill
     moments are drawn relative to the measured length of an uninterrupted run, so
     a slower build gets the same spread; a case that needs to stop a job mid-way
     retries when the job ended first.
  4. The recovered output must equal the uninterrupted run's as a multiset of lines
     (so nothing is lost or written twice). SPEC §4 would let the number of
     intermediate updates (and of retractions of sessions that fired before a
     merge) vary with batching, but at one parallelism weir repeats them exactly,
     also across restores (checked over many seeds). Under changing parallelism
     a window may first fire later, so that case requires only the same final
     record per (key, window), the same dead letters and no line written twice
     (every line of a correct output is distinct: each carries its count), and
     notes how far the multisets differ.

Rules come from SPEC §1 (run flags, exit codes), §4 (results do not depend on
timing for one partition), §5 (checkpoints, resume, --fresh, input identity,
plan fingerprint, exactly-once file sinks, savepoints, stdin never resumes),
§6 (dead letters).
"""

import collections
import json
import os
import random
import re
import shutil
import signal
import time

import e2e_util as U
import weir_model as M
from cli_util import WEIR, case, check, main, tmpdir
from recovery_util import (CHK_RE, NONFINAL_CHK, Proc, TooFast, Workspace, checkpoints, chk_dir,
                           crash_rounds, describe_diff, example, expect_exit, flights_input,
                           flights_job_args, line_counter, read_bytes, read_lines, reference, resume_id,
                           retrying, run_to_end, savepoint_path)
from test_windows_model import compare_dead_letters, compare_finals, gen_input, model_aggs
from recovery_setup import ASAN, FLIGHT_LINES, KILLS, SCALE, SEED, _cache, flights_reference, flights_setup, scaled  # noqa: F401

@case
def flights_killed_at_25_moments_writes_exactly_the_uninterrupted_output():
    inp = flights_setup()
    job = example("flight-delays.yaml")
    ref, T = flights_reference()
    want_out, want_dl = line_counter(ref.out), line_counter(ref.dl)
    check(sum(want_dl.values()) >= 5, "the input should produce dead letters; reference has %d"
          % sum(want_dl.values()))
    ws = Workspace("flights-crash")
    args = flights_job_args(job, ws.d, inp, ws.state)
    rng = random.Random(SEED + 1)

    def compare():
        got_out = line_counter(ws.out)
        msg = describe_diff(got_out, want_out, "window output (lateness 0: every window once)")
        msg += describe_diff(line_counter(ws.dl), want_dl, "dead letters")
        check(not msg, msg)
        done, pending = checkpoints(ws.state)
        check(len(done) <= 3, "%d complete checkpoints kept, retain is 3: %s" % (len(done), done))

    t0 = time.monotonic()
    stats = crash_rounds(args, ws, rng, T, compare, KILLS)
    print("     flights: %d lines, uninterrupted %.2fs; %s; pending chk dirs left: %d; %.1fs"
          % (FLIGHT_LINES, T, stats.summary(), len(checkpoints(ws.state)[1]), time.monotonic() - t0))
    check(len(stats.kills) >= KILLS, "only %d kills" % len(stats.kills))
    # A finished bounded job run again exits 0 and writes nothing (SPEC §5).
    before = (read_bytes(ws.out), read_bytes(ws.dl))
    pr = run_to_end(args)
    expect_exit(pr, 0, "running the finished job again")
    check((read_bytes(ws.out), read_bytes(ws.dl)) == before,
          "running the finished job again changed its output files\n" + pr.describe())


# ================================================================ 2. generated job: late data, sessions, sliding


GEN_AGGS = [("n", "count()"), ("total", "sum(amount)"), ("hi", "max(amount)"),
            ("lo", "min(amount)"), ("mean", "avg(amount)"), ("f", "first(amount)"),
            ("l", "last(amount)"), ("d", "count_distinct(amount)")]
GEN_LINES = scaled(60000, 5000)


def gen_data():
    """Out-of-order and late events (test_windows_model.gen_input) plus malformed
    lines, a missing and an invalid event time, invalid UTF-8 (dead letters json,
    event_time) and add_session_extensions' records."""
    if "gen" not in _cache:
        rng = random.Random(SEED + 2)
        lines = gen_input(rng, n=GEN_LINES).split(b"\n")[:-1]
        bad = [b'{"user":"u1","ts":', b'"just a string"', b'{"user":"u2","amount":3}',
               b'{"user":"u3","ts":"yesterday","amount":1}', b'{"user":"\xc3\x28","ts":5,"amount":1}']
        for j in range(max(10, GEN_LINES // 3600)):
            lines.insert(rng.randrange(100, len(lines)), bad[j % len(bad)])
        lines = add_session_extensions(lines, rng)
        _cache["gen"] = b"\n".join(lines) + b"\n"
    return _cache["gen"]


def add_session_extensions(lines, rng, n=6, gap=5000, lateness=3_600_000, delay=2000):
    """Adds n patterns that extend a fired session within its lateness (SPEC §4): a
    key of its own gets one event at the stream's current time t (session
    [t, t+gap)); when the watermark is just below t+gap+lateness -- thousands of
    lines after it passed t+gap, so the session has fired even though weir fires
    a window only at its next batch -- an event at t+gap-1000 extends the session
    to [t, t+2*gap-1000): weir must first retract [t, t+gap). Also adds records
    two hours late (dead letters `late` under the session job's lateness) and
    records whose amount is a string (dead letters `type`)."""
    times, hi = [], None
    for raw in lines:
        try:
            t = M.event_time_ms(M.decode_json_line(raw), {"field": "ts"})
        except M.JsonError:
            t = None
        if t is not None:
            hi = t if hi is None else max(hi, t)
        times.append(hi)
    inserts = []
    for k in range(n):
        i = rng.randrange(50, len(lines))
        t = times[i]
        if t is None:
            continue
        # the last line before which the watermark is still below t+gap+lateness-500
        j = next((j for j in range(i + 1, len(lines)) if times[j] - delay >= t + gap + lateness - 500), None)
        if j is None or times[j - 1] - delay < t + gap + 200:
            continue
        key = "ext-%d" % k
        inserts.append((i, json.dumps({"user": key, "ts": t, "amount": 3}).encode()))
        inserts.append((j - 1, json.dumps({"user": key, "ts": t + gap - 1000, "amount": 4}).encode()))
    for k in range(max(6, len(lines) // 4000)):
        i = rng.randrange(50, len(lines))
        if times[i] is not None:
            inserts.append((i, json.dumps({"user": "u%d" % k, "ts": times[i] - 7_200_000,
                                           "amount": k}).encode()))
    for k in range(max(3, len(lines) // 10000)):
        # sum/avg of a string (dead letter `type`) at the newest time seen: never
        # late too (the model and SPEC do not order the two reasons).
        i = rng.randrange(50, len(lines))
        if times[i] is not None:
            inserts.append((i, json.dumps({"user": "u%d" % k, "ts": times[i], "amount": "seven"}).encode()))
    for i, line in sorted(inserts, key=lambda x: -x[0]):
        lines.insert(i, line)
    return lines


GEN_JOBS = {
    # lateness 1h: a fired session can still be extended or merged many batches later
    "session": dict(kind="session", gap_ms=5000, lateness_ms=3_600_000, delay_ms=2000, parallelism=2),
    "sliding": dict(kind="sliding", size_ms=10000, slide_ms=4000, lateness_ms=2000, delay_ms=2000,
                    parallelism=3),
}


def gen_job_files(kind):
    """(job path, input path) of the generated job `kind`, written once; the sink
    and dead-letter paths are given with --set per workspace."""
    key = "genjob-" + kind
    if key not in _cache:
        d = tmpdir("gen-" + kind)
        inp = os.path.join(d, "in.jsonl")
        with open(inp, "wb") as f:
            f.write(gen_data())
        p = dict(GEN_JOBS[kind])
        job = U.window_job("gen-" + kind, inp, "unused.jsonl", "unused-dl.jsonl", key=["user"],
                           aggregates=GEN_AGGS, window_name="w", **p)
        job["checkpoint"] = {"interval": "50ms"}
        path = os.path.join(d, "job.yaml")
        with open(path, "w") as f:
            f.write(U.to_yaml(job))
        _cache[key] = (path, inp)
    return _cache[key]


def gen_args(kind, ws, extra=()):
    path, _ = gen_job_files(kind)
    return ["run", path, "--state-dir", ws.state, "--set", "sinks.out.file.path=" + ws.out,
            "--set", "dead_letter.file.path=" + ws.dl] + list(extra)


def gen_model(kind):
    key = "model-" + kind
    if key not in _cache:
        p = dict(GEN_JOBS[kind])
        p.pop("parallelism")
        mj = M.ModelJob(key=["user"], aggregates=model_aggs(GEN_AGGS), **p)
        _cache[key] = M.run_model(gen_data(), mj)
    return _cache[key]


def finals_text(path):
    return {wid: json.dumps(r) for wid, r in U.final_records(U.read_jsonl(path), ["user"]).items()}


_WIN_PREFIX = re.compile(rb'^(\{.*?"window_end":-?\d+),("retracted":true)?')


def finals_fast(lines):
    """{line prefix up to window_end: last line} without windows whose last line is
    a retraction -- by bytes, relying on SPEC §3 member order (key fields first)."""
    last = {}
    for l in lines:
        m = _WIN_PREFIX.match(l)
        check(m is not None, "not a window record: %r" % l[:300])
        last[m.group(1)] = (l, m.group(2) is not None)
    return {k: l for k, (l, retracted) in last.items() if not retracted}


def compare_gen(kind, ws, ref, notes=None):
    """Final records and dead letters equal the reference run's; no line written
    twice; the multiset of output lines equals the reference's too -- unless notes
    (a list) is given: then a difference is only noted there (invariant 4)."""
    got_list = read_lines(ws.out)
    got_lines = collections.Counter(got_list)
    dups = [(l, n) for l, n in got_lines.items() if n > 1]
    check(not dups, "%d output lines written more than once, e.g. x%d %s"
          % (len(dups), dups[0][1] if dups else 0, dups[0][0][:300] if dups else b""))
    key = "finals-" + ref.out
    if key not in _cache:
        ref_list = read_lines(ref.out)
        _cache[key] = (finals_fast(ref_list), collections.Counter(ref_list))
    ref_fast, ref_lines = _cache[key]
    if finals_fast(got_list) != ref_fast:
        # Slow path: the same windows under SPEC §3 key equality (1 == 1.0)?
        got_f, ref_f = finals_text(ws.out), finals_text(ref.out)
        if got_f != ref_f:
            miss = [ref_f[k] for k in ref_f if k not in got_f][:3]
            extra = [got_f[k] for k in got_f if k not in ref_f][:3]
            diff = [(got_f[k], ref_f[k]) for k in ref_f if k in got_f and got_f[k] != ref_f[k]][:3]
            raise AssertionError("final records differ from the uninterrupted run: %d vs %d windows\n"
                                 "  missing: %s\n  extra: %s\n  different (got, want): %s"
                                 % (len(got_f), len(ref_f), miss, extra, diff))
    msg = describe_diff(line_counter(ws.dl), line_counter(ref.dl), "dead letters")
    check(not msg, msg)
    # Invariant 4: SPEC §4 allows the intermediate updates to differ; at one
    # parallelism weir's runs repeat them exactly (also across restores, over many
    # seeded runs), so the multiset of lines is held to the uninterrupted run's.
    # Under another parallelism a window may first fire later (one update instead
    # of two; a session merged before it fired needs no retraction): only noted.
    msg = describe_diff(got_lines, ref_lines, "multiset of all output lines")
    if notes is not None:
        if msg:
            notes.append(msg.split("\n")[0])
        return
    check(not msg, msg + "\n  (final records and dead letters match: only intermediate updates or "
          "retractions differ -- SPEC §4 lets their number vary with batching; if weir now batches "
          "firings, relax this check, see invariant 4)")


def compare_model(kind, ws):
    model = gen_model(kind)
    compare_finals(U.final_records(U.read_jsonl(ws.out), ["user"]), model, ["user"],
                   [a for a, _ in GEN_AGGS])
    compare_dead_letters(U.read_jsonl(ws.dl), model)


def gen_crash(kind, seed_off, parallelisms=None):
    """Crash rounds of a generated job; with parallelisms, each start picks one and
    the multiset of lines is not compared (invariant 4)."""
    ref, T = reference("ref-gen-" + kind, lambda w: gen_args(kind, w))
    model = gen_model(kind)
    n_late = len(model.late_offsets())
    check(n_late >= 5, "the generated input should have late records; the model has %d" % n_late)
    ws = Workspace("gen-crash-" + kind)
    rng = random.Random(SEED + seed_off)
    t0 = time.monotonic()
    notes = [] if parallelisms else None
    stats = crash_rounds(gen_args(kind, ws), ws, rng, T, lambda: compare_gen(kind, ws, ref, notes), KILLS,
                         parallelisms=parallelisms)
    n_retracted = sum(1 for l in read_lines(ref.out) if b'"retracted":true' in l)
    print("     %s: %d lines (%d late per the model; %d retractions), uninterrupted %.2fs; %s%s; %.1fs"
          % (kind, GEN_LINES, n_late, n_retracted, T, stats.summary(),
             "; parallelism per start from %s" % parallelisms if parallelisms else "", time.monotonic() - t0))
    if notes:
        print("     note (SPEC §4 allows it): in %d of %d rounds the intermediate lines differed, e.g. %s"
              % (len(notes), stats.rounds, notes[0]))
    check(len(stats.kills) >= KILLS, "only %d kills" % len(stats.kills))
    compare_model(kind, ws)


@case
def reference_runs_of_the_generated_jobs_match_the_model():
    for kind in GEN_JOBS:
        ref, _ = reference("ref-gen-" + kind, lambda w: gen_args(kind, w))
        compare_model(kind, ref)


@case
def session_job_with_late_data_killed_at_25_moments_gives_the_uninterrupted_results():
    gen_crash("session", 3)


@case
def sliding_job_with_late_data_killed_at_25_moments_gives_the_uninterrupted_results():
    gen_crash("sliding", 4)


@case
def session_job_killed_at_25_moments_under_changing_parallelism_gives_the_same_final_results():
    # Each start picks another parallelism (README: checkpoints restore under it).
    gen_crash("session", 12, parallelisms=[1, 2, 3, 4])



if __name__ == "__main__":
    main()
