"""tests/e2e/test_restore_rules.py -- what a restore must keep or refuse (SPEC §5, §9):
another parallelism (through a savepoint and from plain checkpoints), a savepoint
into an edited job, refusals of a changed job / window / input / max_parallelism,
corrupted checkpoints, the state-dir lock, --fresh, stdin jobs (never resume) and
a sink shorter than its checkpointed length. The crash tests and the design notes
(kill moments, comparisons) are in test_recovery.py; shared settings and inputs in
recovery_setup.py.
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

# ================================================================ 3. another parallelism via a savepoint


def session_flights_args(ws, inp, extra=()):
    return flights_job_args(example("flight-delays-session.yaml"), ws.d, inp, ws.state, extra)


def session_finals(path):
    return {wid: json.dumps(r) for wid, r in U.final_records(U.read_jsonl(path), ["origin"]).items()}


def rescale(p_from, p_to, rng):
    return retrying(lambda: rescale_once(p_from, p_to, rng))


def rescale_once(p_from, p_to, rng):
    inp = flights_setup()
    ref, T = reference("ref-sessions-p%d" % p_from,
                       lambda w: session_flights_args(w, inp, ["--set", "parallelism=%d" % p_from]))
    ws = Workspace("rescale-%d-%d" % (p_from, p_to))
    a_from = session_flights_args(ws, inp, ["--set", "parallelism=%d" % p_from])
    a_to = session_flights_args(ws, inp, ["--set", "parallelism=%d" % p_to])
    # 1. crash the first run after a checkpoint.
    pr = Proc(a_from + ["--fresh"])
    m = pr.wait_err(NONFINAL_CHK, count=1, timeout=60 + 20 * T)
    if not (m is not None and pr.kill9()):
        pr.finish()
        expect_exit(pr, 0, "a run to be killed after a checkpoint")
        raise TooFast("the job ended before its first checkpoint could be interrupted")
    pr.finish()
    done, _ = checkpoints(ws.state)
    check(done, "no complete checkpoint after `checkpoint N complete` was logged\n" + pr.describe())
    # 2. a plain restart with a --set that changes the computation is refused (plan
    #    fingerprint; parallelism and checkpoint settings are deployment, not
    #    computation, and may change -- README), and so is another max_parallelism.
    out_before = read_bytes(ws.out)
    for extra, want in ((["--set", "sources.flights.watermark.delay=6m"], ("--fresh", "savepoint")),
                        (["--set", "operators.busy_periods.window.allowed_lateness=20m"], ("--fresh", "savepoint")),
                        (["--set", "max_parallelism=64"], ("--fresh", "max_parallelism"))):
        pr = run_to_end(a_to + extra)
        expect_exit(pr, 2, "restart from a checkpoint with %s" % " ".join(extra))
        check(all(w in pr.stderr() for w in want),
              "the refusal should mention %s\n%s" % (" and ".join(want), pr.describe()))
        check(read_bytes(ws.out) == out_before, "the refused start (%s) changed the sink file" % extra[1])
    # 3. resume with the old parallelism, stop with SIGTERM into a savepoint.
    pr = Proc(a_from + ["--savepoint-on-exit"])
    r = pr.wait_err(r"resuming from checkpoint \d+", timeout=60 + 20 * T)
    check(r is not None, "did not resume\n" + pr.describe())
    time.sleep(rng.uniform(0.0, 0.02))
    pr.signal(signal.SIGTERM)
    pr.finish()
    expect_exit(pr, 0, "SIGTERM with --savepoint-on-exit")
    if "finished:" in pr.stderr():
        raise TooFast("the job finished before SIGTERM")
    sp = savepoint_path(pr)
    check(os.path.realpath(sp).startswith(os.path.realpath(os.path.join(ws.state, "savepoints")) + os.sep),
          "savepoint %s is not below STATE_DIR/savepoints/ (SPEC §5)" % sp)
    # 4. start from the savepoint with the new parallelism; crash it once more, then
    #    a plain restart (same --set) resumes from its checkpoints.
    pr = Proc(a_to + ["--from-savepoint", sp])
    m = pr.wait_err(r"resuming from savepoint", timeout=60 + 20 * T)
    check(m is not None, "no `resuming from savepoint` line\n" + pr.describe())
    check(pr.wait_err(r"running with parallelism %d\b" % p_to, timeout=60 + 20 * T),
          "not running with parallelism %d\n%s" % (p_to, pr.describe()))
    m = pr.wait_err(CHK_RE.pattern, count=1, timeout=60 + 20 * T)
    killed = pr.kill9()
    pr.finish()
    if killed:
        want = checkpoints(ws.state)[0][-1]
        pr = run_to_end(a_to)
        expect_exit(pr, 0, "restart (same --set) after the run from the savepoint was killed")
        check(resume_id(pr) == want, "resumed from %s, want %d (the newest checkpoint of the run from the "
              "savepoint)\n%s" % (resume_id(pr), want, pr.describe()))
    else:
        expect_exit(pr, 0, "run from the savepoint")
    print("     %d -> %d: savepoint %s; the run from it was %s"
          % (p_from, p_to, os.path.basename(sp), "killed and resumed" if killed else "not killed (ended first)"))
    got, want = session_finals(ws.out), session_finals(ref.out)
    if got != want:
        raise AssertionError("parallelism %d -> %d: %d windows, %d expected; first differences: %s"
                             % (p_from, p_to, len(got), len(want),
                                [(got.get(k), want.get(k)) for k in sorted(set(got) | set(want), key=repr)
                                 if got.get(k) != want.get(k)][:3]))
    msg = describe_diff(line_counter(ws.dl), line_counter(ref.dl), "dead letters")
    check(not msg, msg)
    dups = [l for l, n in line_counter(ws.out).items() if n > 1]
    check(not dups, "%d lines written twice after the rescale, e.g. %s" % (len(dups), dups[:1]))


@case
def restore_from_parallelism_4_into_2_through_a_savepoint_gives_the_same_results():
    rescale(4, 2, random.Random(SEED + 5))


@case
def restore_from_parallelism_1_into_4_through_a_savepoint_gives_the_same_results():
    rescale(1, 4, random.Random(SEED + 6))


@case
def plain_checkpoints_restore_under_another_parallelism_4_2_1_3():
    # README: a checkpoint restores under another parallelism (key groups move).
    # Each run is killed right after its first checkpoint, which the next run (with
    # the next parallelism) restores; a chain whose input ran out early is retried.
    inp = flights_setup()
    ref, T = reference("ref-sessions-p4",
                       lambda w: session_flights_args(w, inp, ["--set", "parallelism=4"]))
    chain = [4, 2, 1, 3]
    for attempt in range(4):
        ws = Workspace("rescale-plain")
        complete = True
        for n, p in enumerate(chain):
            args = session_flights_args(ws, inp, ["--set", "parallelism=%d" % p,
                                                  "--set", "checkpoint.interval=20ms"])
            want = (checkpoints(ws.state)[0] or [None])[-1] if n else None
            pr = Proc(args + (["--fresh"] if n == 0 else []))
            last = n == len(chain) - 1
            killed = False
            if not last:
                m = pr.wait_err(r"checkpoint \d+ complete(?!.*job finished)", timeout=60 + 20 * T)
                killed = m is not None and pr.kill9()
            pr.finish(60 + 30 * T)
            if not last and not killed:
                complete = False
                break
            if last:
                expect_exit(pr, 0, "last run (parallelism %d)" % p)
            check(resume_id(pr) == want, "parallelism %d: resumed from %s, want %s\n%s"
                  % (p, resume_id(pr), want, pr.describe()))
            check(re.search(r"running with parallelism %d\b" % p, pr.stderr()),
                  "not running with parallelism %d\n%s" % (p, pr.describe()))
        if complete:
            break
    check(complete, "the input ran out before the chain %s could be killed 3 times (4 attempts)" % chain)
    got, want = session_finals(ws.out), session_finals(ref.out)
    check(got == want, "after restores under parallelism %s: %d windows, %d expected; first differences: %s"
          % (chain, len(got), len(want), [(got.get(k), want.get(k)) for k in sorted(set(got) | set(want), key=repr)
                                          if got.get(k) != want.get(k)][:3]))
    msg = describe_diff(line_counter(ws.dl), line_counter(ref.dl), "dead letters")
    check(not msg, msg)
    dups = [l for l, n in line_counter(ws.out).items() if n > 1]
    check(not dups, "%d lines written twice, e.g. %s" % (len(dups), dups[:1]))
    print("     chain %s restored in attempt %d" % (chain, attempt + 1))


@case
def session_results_do_not_depend_on_parallelism():
    inp = flights_setup()
    a, _ = reference("ref-sessions-p4", lambda w: session_flights_args(w, inp, ["--set", "parallelism=4"]))
    b, _ = reference("ref-sessions-p1", lambda w: session_flights_args(w, inp, ["--set", "parallelism=1"]))
    check(session_finals(a.out) == session_finals(b.out), "parallelism 4 and 1 give different final records")
    check(line_counter(a.dl) == line_counter(b.dl), "parallelism 4 and 1 give different dead letters")


# ================================================================ 4. savepoint into an edited job


SP_T0 = 1_700_000_000_000
SP_N = scaled(400000, 30000)
SP_OLD_FILTER = "v % 2 == 0"
SP_NEW_FILTER = "v % 5 < 3"


def sp_job_text(inp, out, dl, filt, with_map=False, tumbling="1s", aggs=None, key="[k]"):
    aggs = aggs or ["n: count()", "total: sum(v)", "lo: min(v)", "hi: max(v)"]
    mp = ("  - name: shape\n    from: keep\n    map:\n      k: k\n      v: v\n      ts: ts\n"
          if with_map else "")
    return ("job: sp-edit\nparallelism: 2\ncheckpoint:\n  interval: 50ms\n"
            "sources:\n  in:\n    file: { path: %s }\n    event_time: { field: ts }\n"
            "operators:\n  - name: keep\n    from: in\n    filter: %s\n%s"
            "  - name: per_key_window\n    from: %s\n    window:\n      key: %s\n      tumbling: %s\n"
            "      aggregates:\n%s"
            "sinks:\n  out:\n    from: per_key_window\n    file: { path: %s }\n"
            "dead_letter:\n  file: { path: %s }\n"
            % (json.dumps(inp), json.dumps(filt), mp, "shape" if with_map else "keep", key, tumbling,
               "".join("        %s\n" % a for a in aggs), json.dumps(out), json.dumps(dl)))


def sp_slot(slot, passes):
    """Expected window records of 1 s slot `slot` (lines 100*slot .. +99; line i has
    ts T0+10i, k = k(i%3), v = i), for the lines where passes(i) is true."""
    recs = {}
    for i in range(100 * slot, min(SP_N, 100 * slot + 100)):
        if not passes(i):
            continue
        k = "k%d" % (i % 3)
        r = recs.get(k)
        if r is None:
            r = recs[k] = {"k": k, "window_start": SP_T0 + 1000 * slot, "window_end": SP_T0 + 1000 * slot + 1000,
                           "n": 0, "total": 0, "lo": i, "hi": i}
        r["n"] += 1
        r["total"] += i
        r["hi"] = i
    return recs


@case
def savepoint_restores_into_an_edited_job_and_refuses_a_changed_window():
    d = tmpdir("sp-edit")
    inp, out, dl = (os.path.join(d, n) for n in ("in.jsonl", "out.jsonl", "dl.jsonl"))
    with open(inp, "w") as f:
        f.write("".join('{"ts":%d,"k":"k%d","v":%d}\n' % (SP_T0 + 10 * i, i % 3, i) for i in range(SP_N)))
    job = os.path.join(d, "job.yaml")
    state = os.path.join(d, "state")
    with open(job, "w") as f:
        f.write(sp_job_text(inp, out, dl, SP_OLD_FILTER))
    rng = random.Random(SEED + 7)
    sp = None
    n_windows = 3 * ((SP_N + 99) // 100)
    delay = rng.uniform(0.03, 0.08)
    for attempt in range(8):
        # SIGTERM some time after the start; aim for the middle of the input.
        pr = Proc(["run", job, "--state-dir", state, "--fresh", "--savepoint-on-exit"])
        pr.wait_err(r"running with", timeout=60)
        time.sleep(delay)
        pr.signal(signal.SIGTERM)
        pr.finish()
        expect_exit(pr, 0, "SIGTERM with --savepoint-on-exit")
        n_first = len(read_lines(out))
        if n_first == 0:
            delay *= 2      # too early: nothing fired yet
        elif "finished:" in pr.stderr() or n_first >= n_windows - 3 * 5:
            delay /= 2      # too late: (almost) all input was read
        else:
            sp = savepoint_path(pr)
            break
    check(sp is not None, "could not stop the job mid-way in 8 attempts (last delay %.3fs)\n%s"
          % (delay, pr.describe()))
    first = U.read_jsonl(out)
    first_ids = {(r["k"], r["window_start"]) for r in first}
    before_sp = read_bytes(out)
    with open(job, "w") as f:
        f.write(sp_job_text(inp, out, dl, SP_NEW_FILTER, with_map=True))
    # Windows whose key, size or aggregates changed are refused, naming the window.
    for what, text in (
            ("size", sp_job_text(inp, out, dl, SP_NEW_FILTER, True, tumbling="2s")),
            ("aggregates", sp_job_text(inp, out, dl, SP_NEW_FILTER, True,
                                       aggs=["n: count()", "total: sum(v)", "lo: min(v)", "hi: avg(v)"])),
            ("key", sp_job_text(inp, out, dl, SP_NEW_FILTER, True, key="[k, v]"))):
        bad = os.path.join(d, "bad-%s.yaml" % what)
        with open(bad, "w") as f:
            f.write(text)
        pr = run_to_end(["run", bad, "--state-dir", state, "--from-savepoint", sp])
        expect_exit(pr, 2, "savepoint into a job whose window %s changed" % what)
        check("per_key_window" in pr.stderr(), "the error should name the window per_key_window\n"
              + pr.describe())
        check(read_bytes(out) == before_sp, "the refused start (%s) changed the sink file" % what)
    # The edited job (new filter, a map that keeps the fields) runs from the savepoint.
    pr = run_to_end(["run", job, "--state-dir", state, "--from-savepoint", sp])
    expect_exit(pr, 0, "edited job from the savepoint")
    check(re.search(r"resuming from savepoint", pr.stderr()), "no `resuming from savepoint`\n" + pr.describe())
    check(read_bytes(out).startswith(before_sp), "output written before the savepoint was changed")
    allrecs = U.read_jsonl(out)
    second = allrecs[len(first):]
    again = [r for r in second if (r["k"], r["window_start"]) in first_ids]
    check(not again, "%d windows complete before the savepoint were emitted again, e.g. %s"
          % (len(again), again[:2]))
    ids = collections.Counter((r["k"], r["window_start"]) for r in allrecs)
    twice = [i for i, n in ids.items() if n > 1]
    check(not twice, "%d windows emitted twice (lateness 0), e.g. %s" % (len(twice), twice[:3]))
    # Find the split line s (first line read after the savepoint) that explains the
    # output: lines < s through the old filter, lines >= s through the new one.
    got = {}
    for r in allrecs:
        got.setdefault((r["window_start"] - SP_T0) // 1000, {})[r["k"]] = r
    e1 = max((r["window_end"] for r in first), default=SP_T0)
    lo_slot = max(0, (e1 - SP_T0) // 1000 - 1)
    n_slots = (SP_N + 99) // 100

    def old(i):
        return i % 2 == 0

    def new(i):
        return i % 5 < 3

    bad_old = [s for s in range(0, lo_slot) if got.get(s, {}) != sp_slot(s, old)]
    check(not bad_old, "windows before the savepoint differ from the old filter's, slots %s: got %s want %s"
          % (bad_old[:3], got.get(bad_old[0]) if bad_old else None, sp_slot(bad_old[0], old) if bad_old else None))
    fits = []
    for s in range(100 * lo_slot, min(SP_N, 100 * lo_slot + 300) + 1):
        slot = s // 100
        ok = True
        for j in range(lo_slot, min(n_slots, lo_slot + 4)):
            want = sp_slot(j, lambda i: old(i) if i < s else new(i))
            if got.get(j, {}) != want:
                ok = False
                break
        if ok:
            fits.append(s)
    check(fits, "no split line explains the windows around the savepoint (slots %d..%d): got %s"
          % (lo_slot, lo_slot + 3, [got.get(j) for j in range(lo_slot, lo_slot + 3)]))
    bad_new = [j for j in range(lo_slot + 4, n_slots) if got.get(j, {}) != sp_slot(j, new)]
    check(not bad_new, "%d windows after the savepoint differ from the edited filter's, e.g. slot %d: got %s "
          "want %s" % (len(bad_new), bad_new[0] if bad_new else -1,
                       got.get(bad_new[0]) if bad_new else None, sp_slot(bad_new[0], new) if bad_new else None))
    extra = [j for j in got if j >= n_slots]
    check(not extra, "windows beyond the input: %s" % extra[:3])
    print("     savepoint after line %s of %d (attempt %d); %d windows before, %d after"
          % (fits[0] if len(fits) == 1 else "%d..%d" % (fits[0], fits[-1]), SP_N, attempt + 1,
             len(first), len(second)))


@case
def a_plain_restart_after_the_job_file_was_edited_is_refused():
    d = tmpdir("edit-plain")
    inp, out, dl = (os.path.join(d, n) for n in ("in.jsonl", "out.jsonl", "dl.jsonl"))
    with open(inp, "w") as f:
        f.write("".join('{"ts":%d,"k":"k%d","v":%d}\n' % (SP_T0 + 10 * i, i % 3, i) for i in range(SP_N)))
    job = os.path.join(d, "job.yaml")
    state = os.path.join(d, "state")
    with open(job, "w") as f:
        f.write(sp_job_text(inp, out, dl, SP_OLD_FILTER))

    def kill():
        pr = Proc(["run", job, "--state-dir", state, "--fresh"])
        m = pr.wait_err(NONFINAL_CHK, timeout=60)
        killed = m is not None and pr.kill9()
        pr.finish()
        if not killed:
            expect_exit(pr, 0, "a run to be killed after a checkpoint")
            raise TooFast("the job ended before it could be killed after a checkpoint")
    retrying(kill)
    check(checkpoints(state)[0], "no complete checkpoint")
    before = read_bytes(out)
    with open(job, "w") as f:
        f.write(sp_job_text(inp, out, dl, SP_NEW_FILTER, with_map=True))
    pr = run_to_end(["run", job, "--state-dir", state])
    expect_exit(pr, 2, "plain restart after the job file was edited")
    check("--fresh" in pr.stderr() and "savepoint" in pr.stderr(),
          "the refusal should suggest --fresh or a savepoint\n" + pr.describe())
    check(read_bytes(out) == before, "the refused start changed the sink file")


@case
def a_plain_restart_after_a_savepoint_on_exit_loses_and_repeats_nothing():
    # SPEC §5 does not say whether the savepoint taken on exit also counts as the
    # job's latest checkpoint; either way a plain restart must give exact output.
    inp = flights_setup()
    job = example("flight-delays.yaml")
    ref, T = flights_reference()
    ws = Workspace("sp-plain")
    args = flights_job_args(job, ws.d, inp, ws.state)

    def stop():
        pr = Proc(args + ["--fresh", "--savepoint-on-exit"])
        pr.wait_err(NONFINAL_CHK, timeout=60 + 20 * T)
        pr.signal(signal.SIGTERM)
        pr.finish()
        expect_exit(pr, 0, "SIGTERM with --savepoint-on-exit")
        if "finished:" in pr.stderr():
            raise TooFast("the job ended before SIGTERM")
        return pr
    pr = retrying(stop)
    sp = savepoint_path(pr)
    chk = checkpoints(ws.state)[0]
    pr2 = run_to_end(args)
    expect_exit(pr2, 0, "plain restart after a savepoint on exit")
    msg = describe_diff(line_counter(ws.out), line_counter(ref.out), "window output")
    msg += describe_diff(line_counter(ws.dl), line_counter(ref.dl), "dead letters")
    check(not msg, msg)
    print("     savepoint %s on exit; complete checkpoints then: %s; the plain restart resumed from %s"
          % (os.path.basename(sp), chk, resume_id(pr2)))


# ================================================================ 5. corrupted checkpoints


def corrupt(path, how):
    data = bytearray(read_bytes(path))
    check(len(data) > 40, "%s is only %d bytes" % (path, len(data)))
    if how == "truncated":
        data = data[:len(data) // 2]
    elif how == "empty":
        data = bytearray()
    elif how == "payload byte flipped":
        data[28 + (len(data) - 28) // 2] ^= 0x40
    elif how == "header byte flipped":
        data[9] ^= 0x01
    with open(path, "wb") as f:
        f.write(data)


def killed_with_checkpoints(ws, args, n, T):
    """Runs and SIGKILLs the job once >= n checkpoints are complete (none of them
    the final one); retried with --fresh and more frequent checkpoints (a
    deployment setting: the restart may use another interval) when the job ends
    first."""
    intervals = iter(["50ms", "20ms", "10ms", "5ms"])

    def once():
        pr = Proc(args + ["--set", "checkpoint.interval=" + next(intervals), "--fresh"])
        m = pr.wait_err(NONFINAL_CHK, count=n, timeout=60 + 20 * T)
        killed = m is not None and pr.kill9()
        pr.finish()
        if not killed:
            expect_exit(pr, 0, "a run to be killed after %d checkpoints" % n)
            raise TooFast("the job ended before it could be killed after %d checkpoints" % n)
    retrying(once)
    done, _ = checkpoints(ws.state)
    check(len(done) >= n, "%d complete checkpoints on disk (%s), want >= %d" % (len(done), done, n))
    return done


@case
def a_corrupted_newest_checkpoint_is_skipped_and_the_previous_one_used():
    inp = flights_setup()
    job = example("flight-delays.yaml")
    ref, T = flights_reference()
    problems = []
    for how in ("truncated", "payload byte flipped", "header byte flipped", "empty"):
        ws = Workspace("corrupt")
        args = flights_job_args(job, ws.d, inp, ws.state, ["--set", "checkpoint.retain=3"])
        done = killed_with_checkpoints(ws, args, 2, T)
        newest, prev = done[-1], done[-2]
        corrupt(os.path.join(chk_dir(ws.state, newest), "_metadata"), how)
        pr = run_to_end(args)
        try:
            expect_exit(pr, 0, "restart after the newest checkpoint's _metadata was %s" % how)
            err = pr.stderr()
            check(re.search(r"checkpoint %d\b[^\n]*(skip|corrupt|invalid|ignor)" % newest, err, re.I)
                  or re.search(r"(skip|corrupt|invalid|ignor)[^\n]*checkpoint %d\b" % newest, err, re.I),
                  "no log line says checkpoint %d was skipped\n%s" % (newest, pr.describe()))
            check(resume_id(pr) == prev, "resumed from %s, want the previous complete checkpoint %d\n%s"
                  % (resume_id(pr), prev, pr.describe()))
            msg = describe_diff(line_counter(ws.out), line_counter(ref.out), "window output")
            msg += describe_diff(line_counter(ws.dl), line_counter(ref.dl), "dead letters")
            check(not msg, msg)
        except AssertionError as e:
            problems.append("[%s] %s" % (how, e))
    check(not problems, "\n".join(problems))


@case
def every_checkpoint_corrupted_never_gives_wrong_output():
    # SPEC does not say whether weir then starts over or refuses; either is fine,
    # but it must not crash and, when it exits 0, the output must be right.
    inp = flights_setup()
    job = example("flight-delays.yaml")
    ref, T = flights_reference()
    ws = Workspace("corrupt-all")
    args = flights_job_args(job, ws.d, inp, ws.state, ["--set", "checkpoint.retain=3"])
    for cid in killed_with_checkpoints(ws, args, 2, T):
        corrupt(os.path.join(chk_dir(ws.state, cid), "_metadata"), "payload byte flipped")
    pr = run_to_end(args)
    check(pr.rc in (0, 1, 2), "exit %s\n%s" % (pr.rc, pr.describe()))
    if pr.rc == 0:
        check(resume_id(pr) is None, "resumed from a corrupted checkpoint\n" + pr.describe())
        msg = describe_diff(line_counter(ws.out), line_counter(ref.out), "window output")
        check(not msg, msg)
    print("     every checkpoint corrupted: exit %d" % pr.rc)


@case
def a_checkpoint_missing_its_state_files_is_never_half_used():
    # _metadata intact, RocksDB files of the newest checkpoint gone: weir must refuse
    # (exit 1/2, naming the checkpoint) or fall back to an older checkpoint -- never
    # run on half a state. SPEC does not say which; weir (today) refuses with exit 1.
    inp = flights_setup()
    job = example("flight-delays.yaml")
    ref, T = flights_reference()
    seen = []
    for what in ("worker dir", "sst file"):
        ws = Workspace("corrupt-state")
        args = flights_job_args(job, ws.d, inp, ws.state, ["--set", "checkpoint.retain=3"])
        done = killed_with_checkpoints(ws, args, 2, T)
        cdir = chk_dir(ws.state, done[-1])
        workers = sorted(n for n in os.listdir(cdir) if n != "_metadata")
        check(workers, "no worker state in %s" % cdir)
        victim = os.path.join(cdir, workers[-1])
        if what == "worker dir":
            shutil.rmtree(victim)
        else:
            ssts = sorted(n for n in os.listdir(victim) if n.endswith(".sst"))
            check(ssts, "no .sst file in %s: %s" % (victim, os.listdir(victim)))
            victim = os.path.join(victim, ssts[0])
            os.remove(victim)
        pr = run_to_end(args)
        check(pr.rc in (0, 1, 2), "exit %s with %s deleted\n%s" % (pr.rc, victim, pr.describe()))
        if pr.rc == 0:
            msg = describe_diff(line_counter(ws.out), line_counter(ref.out), "window output")
            check(not msg, "exit 0 with wrong output after %s was deleted:\n%s\n%s" % (victim, msg, pr.describe()))
        else:
            check(os.path.basename(cdir) in pr.stderr() or "checkpoint %d" % done[-1] in pr.stderr(),
                  "the error should name the broken checkpoint\n" + pr.describe())
        seen.append("%s of checkpoint %d deleted: exit %d%s" % (
            what, done[-1], pr.rc, ", resumed from %s" % resume_id(pr) if pr.rc == 0 else ""))
    print("     " + "; ".join(seen))


# ================================================================ 6. lock, --fresh, stdin


STDIN_JOB = """job: %s
parallelism: 2
checkpoint:
  interval: 50ms
sources:
  in:
    %s
    event_time: { field: ts }
    watermark: { delay: 2s }
operators:
  - name: w
    from: in
    window:
      key: [user]
      tumbling: 10s
      aggregates:
        n: count()
        total: sum(amount)
sinks:
  out:
    from: w
    file: { path: %s }
dead_letter:
  file: { path: %s }
"""


@case
def a_second_process_on_the_same_state_dir_exits_1_naming_the_pid():
    d = tmpdir("lock")
    state = os.path.join(d, "state")
    holder_job = os.path.join(d, "holder.yaml")
    with open(holder_job, "w") as f:
        f.write(STDIN_JOB % ("locked", "stdin: {}", json.dumps(os.path.join(d, "h-out.jsonl")),
                             json.dumps(os.path.join(d, "h-dl.jsonl"))))
    file_job = os.path.join(d, "file.yaml")
    inp = os.path.join(d, "in.jsonl")
    with open(inp, "wb") as f:
        f.write(gen_input(random.Random(SEED + 8), n=2000))
    out2 = os.path.join(d, "out2.jsonl")
    with open(file_job, "w") as f:
        f.write(STDIN_JOB % ("locked", "file: { path: %s }" % json.dumps(inp), json.dumps(out2),
                             json.dumps(os.path.join(d, "dl2.jsonl"))))
    with open(out2, "w") as f:
        f.write('{"precious": true}\n')
    holder = Proc(["run", holder_job, "--state-dir", state], stdin=True)
    try:
        check(holder.wait_err(r"running with", timeout=30), "holder did not start\n" + holder.describe())
        for extra in ([], ["--fresh"]):
            pr = run_to_end(["run", file_job, "--state-dir", state] + extra, timeout=30)
            expect_exit(pr, 1, "second `weir run %s` on a locked state dir" % " ".join(extra))
            check(str(holder.pid) in pr.stderr(), "the message should name the pid %d of the holder\n%s"
                  % (holder.pid, pr.describe()))
            check(read_bytes(out2) == b'{"precious": true}\n',
                  "the refused run %s touched its sink file" % " ".join(extra))
            check(holder.alive(), "the holder died\n" + holder.describe())
    finally:
        holder.signal(signal.SIGTERM)
        holder.finish(30)
    expect_exit(holder, 0, "the holder, stopped by SIGTERM")
    # A long file job holds the lock too (inconclusive only if it ends first).
    inp = flights_setup()
    ref, T = flights_reference()
    ws = Workspace("lock-file")
    args = flights_job_args(example("flight-delays.yaml"), ws.d, inp, ws.state)
    first = Proc(args + ["--fresh"])
    first.wait_err(r"running with", timeout=30)
    second = run_to_end(args, timeout=60)
    still = first.alive()
    first.finish(60 + 30 * T)
    expect_exit(first, 0, "the first process")
    if still:
        expect_exit(second, 1, "second `weir run` while a file job runs on the state dir")
        check(str(first.pid) in second.stderr(), "the message should name the pid %d\n%s"
              % (first.pid, second.describe()))
        msg = describe_diff(line_counter(ws.out), line_counter(ref.out), "output of the first process")
        check(not msg, msg)
    else:
        print("     (file-job lock check inconclusive: the first run ended before the second was refused)")


@case
def fresh_truncates_sinks_and_starts_over():
    inp = flights_setup()
    job = example("flight-delays.yaml")
    ref, T = flights_reference()
    want = line_counter(ref.out), line_counter(ref.dl)
    ws = Workspace("fresh")
    args = flights_job_args(job, ws.d, inp, ws.state)
    # No checkpoint yet: leftover sink content is truncated to empty (SPEC §5).
    for p in (ws.out, ws.dl):
        with open(p, "w") as f:
            f.write('{"leftover": 1}\n')
    pr = run_to_end(args)
    expect_exit(pr, 0, "first run")
    check((line_counter(ws.out), line_counter(ws.dl)) == want,
          "first run over leftover files: " + describe_diff(line_counter(ws.out), want[0], "output"))
    pr = run_to_end(args + ["--fresh"])
    expect_exit(pr, 0, "--fresh after the job finished")
    check(resume_id(pr) is None, "--fresh resumed\n" + pr.describe())
    check((line_counter(ws.out), line_counter(ws.dl)) == want,
          "--fresh after finishing: " + describe_diff(line_counter(ws.out), want[0], "output"))
    killed_with_checkpoints(ws, args, 1, T)
    pr = run_to_end(args + ["--fresh"])
    expect_exit(pr, 0, "--fresh after a kill")
    check(resume_id(pr) is None, "--fresh resumed\n" + pr.describe())
    check((line_counter(ws.out), line_counter(ws.dl)) == want,
          "--fresh after a kill: " + describe_diff(line_counter(ws.out), want[0], "output"))


@case
def a_stdin_job_never_resumes():
    d = tmpdir("stdin")
    out, dl = os.path.join(d, "out.jsonl"), os.path.join(d, "dl.jsonl")
    job = os.path.join(d, "job.yaml")
    with open(job, "w") as f:
        f.write(STDIN_JOB % ("stdin-job", "stdin: {}", json.dumps(out), json.dumps(dl)))
    a = gen_input(random.Random(SEED + 9), n=scaled(20000, 3000))
    b = gen_input(random.Random(SEED + 10), n=scaled(20000, 3000))
    check(a != b, "test bug")
    refs = {}
    for name, data in (("a", a), ("b", b)):
        rd = tmpdir("stdin-ref")
        rjob = os.path.join(rd, "job.yaml")
        with open(rjob, "w") as f:
            f.write(STDIN_JOB % ("stdin-job", "stdin: {}", json.dumps(os.path.join(rd, "out.jsonl")),
                                 json.dumps(os.path.join(rd, "dl.jsonl"))))
        pr = run_to_end(["run", rjob, "--state-dir", os.path.join(rd, "state")], stdin_bytes=data)
        expect_exit(pr, 0, "reference stdin run")
        refs[name] = (line_counter(os.path.join(rd, "out.jsonl")), line_counter(os.path.join(rd, "dl.jsonl")))
    state = os.path.join(d, "state")
    pr = run_to_end(["run", job, "--state-dir", state], stdin_bytes=a)
    expect_exit(pr, 0, "stdin run with input A")
    check((line_counter(out), line_counter(dl)) == refs["a"], "input A: "
          + describe_diff(line_counter(out), refs["a"][0], "output"))
    pr = run_to_end(["run", job, "--state-dir", state], stdin_bytes=b)
    expect_exit(pr, 0, "second stdin run with input B")
    check(resume_id(pr) is None, "a stdin job resumed\n" + pr.describe())
    check((line_counter(out), line_counter(dl)) == refs["b"], "second run (input B) must hold B's result "
          "only: " + describe_diff(line_counter(out), refs["b"][0], "output")
          + describe_diff(line_counter(dl), refs["b"][1], "dead letters"))
    # Killed mid-input once it has written output, then run with B: B's result only.
    # (weir takes no checkpoints of a stdin job, so none is awaited here.)
    os.remove(out)
    pr = Proc(["run", job, "--state-dir", state], stdin=True)
    pr.p.stdin.write(a[:len(a) // 2])
    pr.p.stdin.flush()
    t_end = time.monotonic() + 30
    while not read_bytes(out) and time.monotonic() < t_end and pr.alive():
        time.sleep(0.02)
    check(pr.kill9() and read_bytes(out),
          "the stdin job wrote no output while its pipe was open\n" + pr.describe())
    pr.finish()
    pr = run_to_end(["run", job, "--state-dir", state], stdin_bytes=b)
    expect_exit(pr, 0, "stdin run with input B after a killed run")
    check(resume_id(pr) is None, "a stdin job resumed\n" + pr.describe())
    check((line_counter(out), line_counter(dl)) == refs["b"], "after a kill, input B: "
          + describe_diff(line_counter(out), refs["b"][0], "output"))


@case
def a_sink_shorter_than_its_checkpointed_length_is_an_error():
    # SPEC §5: "one found shorter than its checkpointed length is an error" -- on a
    # resume, and also when the job had finished (else a re-run exits 0 over an
    # output file that silently lost its records).
    inp = flights_setup()
    job = example("flight-delays.yaml")
    ref, T = flights_reference()
    problems = []
    for when in ("resume", "finished"):
        ws = Workspace("short-" + when)
        args = flights_job_args(job, ws.d, inp, ws.state)
        if when == "resume":
            killed_with_checkpoints(ws, args, 1, T)
            check(os.path.getsize(ws.out) > 10, "no output at the first checkpoint")
        else:
            expect_exit(run_to_end(args), 0, "first run")
        os.truncate(ws.out, 10)
        pr = run_to_end(args)
        if pr.rc not in (1, 2) or ws.out not in pr.stderr():
            problems.append("[%s] sink cut to 10 bytes: want exit 1 or 2 naming %s\n%s"
                            % (when, ws.out, pr.describe()))
    check(not problems, "\n".join(problems))


# ================================================================ 7. input identity


@case
def a_changed_input_file_is_refused_on_resume():
    job = example("flight-delays.yaml")
    ref, T = flights_reference()
    src = flights_setup()
    problems = []

    def touch(p):
        st = os.stat(p)
        os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))

    def append(p):
        with open(p, "ab") as f:
            f.write(b'{"ts":"2001-01-29T00:00:00Z","origin":"SFO","destination":"LAX","delay":1,"distance":3}\n')

    def replace(p):
        shutil.copy2(p, p + ".new")   # same content, size and mtime; another inode
        os.replace(p + ".new", p)

    for name, change in (("touched", touch), ("appended to", append), ("replaced by a copy", replace)):
        ws = Workspace("identity")
        inp = os.path.join(ws.d, "in.jsonl")
        shutil.copyfile(src, inp)
        args = flights_job_args(job, ws.d, inp, ws.state)
        try:
            killed_with_checkpoints(ws, args, 1, T)
            change(inp)
            before = read_bytes(ws.out), read_bytes(ws.dl)
            pr = run_to_end(args)
            expect_exit(pr, 2, "resume after the input was %s" % name)
            check("--fresh" in pr.stderr(), "the message should suggest --fresh\n" + pr.describe())
            check((read_bytes(ws.out), read_bytes(ws.dl)) == before, "the refused start changed the sink files")
            if change is touch:
                pr = run_to_end(args + ["--fresh"])
                expect_exit(pr, 0, "--fresh after the refusal")
                msg = describe_diff(line_counter(ws.out), line_counter(ref.out), "output after --fresh")
                check(not msg, msg)
        except AssertionError as e:
            problems.append("[input %s] %s" % (name, e))
    check(not problems, "\n".join(problems))


@case
def a_finished_job_whose_input_changed_is_refused():
    # SPEC §5: the input identity is checked on resume; a finished job restarted
    # is a resume from its final checkpoint, so new input must not be ignored silently.
    job = example("flight-delays.yaml")
    src = flights_setup()
    ws = Workspace("identity-finished")
    inp = os.path.join(ws.d, "in.jsonl")
    shutil.copyfile(src, inp)
    args = flights_job_args(job, ws.d, inp, ws.state)
    expect_exit(run_to_end(args), 0, "first run")
    with open(inp, "ab") as f:
        f.write(b'{"ts":"2001-01-29T00:00:00Z","origin":"SFO","destination":"LAX","delay":1,"distance":3}\n')
    pr = run_to_end(args)
    expect_exit(pr, 2, "re-run of a finished job after its input grew")
    check("--fresh" in pr.stderr(), "the message should suggest --fresh\n" + pr.describe())


if __name__ == "__main__":
    main()

