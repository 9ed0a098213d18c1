"""tests/e2e/test_kafka_exactly_once.py -- exactly-once Kafka output, without and with crashes (SPEC §5, DESIGN §5).

Design: a Kafka -> tumbling window -> Kafka job with `delivery: exactly-once`
(one transaction per checkpoint, a marker "checkpoint N" in JOB.checkpoints
committed with it; on restart weir restores the newest local checkpoint whose
marker it finds) over generated keyed events in a 4-partition topic, read back
with kcat.

Without crashes: every window result appears exactly once (allowed_lateness 0,
no retractions: the model predicts one update per window), equals the model,
and every message carries headers weir.job and weir.checkpoint (the id of the
checkpoint whose transaction holds it: non-decreasing along each partition, at
most the final checkpoint's id, which is the newest marker).

With crashes: `weir-faults` ($WEIR_FAULTS) is started with
WEIR_FAULT=NAME:K for the fault points eos.before_marker, eos.before_commit,
eos.after_commit, sink.after_flush and checkpoint.after_metadata at various K,
and plain `weir` is SIGKILLed at seeded random moments -- at least 20 kills --
restarting (no --fresh) until the job exits 0. Then:
  (a) the last record per key and window equals the model;
  (b) every restart restored the checkpoint named by the newest marker in
      JOB.checkpoints (read independently with kcat before the start): weir
      logs "newest committed checkpoint of weir.JOB: N" and "resuming from
      checkpoint N"; and the marker topic after each fault is what the protocol
      order implies: after eos.before_marker:K the K-th commit of that run left
      no marker (the newest is the (K-1)-th checkpoint the run logged complete,
      or the one it resumed from), after eos.before_commit:K / eos.after_commit:K
      the marker of the K-th checkpoint is there, after checkpoint.after_metadata
      and sink.after_flush the newest marker is the last checkpoint logged
      complete (or the one before it for a plain kill);
  (c) counting only transactions known to be committed, every window appears
      exactly once: the output offsets written by each incarnation are known
      (end offsets taken before every start), and of incarnation i only the
      messages whose weir.checkpoint header is <= the checkpoint the next
      incarnation restored count (the last incarnation's all count). A
      duplicate or a gap there means the restore decision and the output
      disagree. Also every message of an incarnation that restored checkpoint
      R carries a weir.checkpoint > R.

What the dev broker cannot show: librdkafka's mock cluster shows aborted and
open transactional messages to read_committed consumers and writes no
commit/abort control records, so neither kcat nor weir can tell an aborted
transaction from a committed one there. After eos.before_commit the marker of
the unfinished transaction is visible on the mock, so weir (correctly, for what
it can see) restores that checkpoint; on a real broker the marker would be
aborted and it would restore the one before. The test therefore holds weir to
the marker it can see and checks (c) relative to weir's own restore decisions;
that a real broker's abort leads to the right decision (ignore local
checkpoints newer than the newest committed marker, a missing local state for
a committed marker is an error, --fresh forgets older markers) is covered by
the unit test tests/kafka_restore_test.c against an in-process fake
transaction log that hides aborted records.

Invariants:
  1. Python 3 standard library only; only processes started here are
     signalled, by pid; every wait has a timeout.
  2. Seeded (WEIR_TEST_SEED reruns one); WEIR_KAFKA_KILLS (default 20) kills;
     sizes scale down under ASan.
  3. Every key lives in one partition and no event is late against its own
     partition's watermark, so the final results are fixed by the input (SPEC §4).

Rules come from SPEC §2 (exactly-once), §5 (delivery, resume), DESIGN §5
(markers, restore decision), connectors/kafka_output.h (headers, fault points).
"""

import json
import os
import random
import re
import signal
import time

import e2e_util as U
from cli_util import case, check, eq, main
from recovery_util import RESUME_RE
from kafka_util import (read_parts, WEIR_FAULTS, Broker, WProc, compare_windows, consume, expect_exit, gen_partition,
                        headers_of, kafka_window_job, keys_for, last_per_window, model_job, model_per_partition,
                        produce, results_from, run_weir, scale, window_wid, workdir, write_job)

SEED = U.test_seed()
SCALE = scale()
KILLS = int(os.environ.get("WEIR_KAFKA_KILLS") or "20")
print("seed %d (rerun with WEIR_TEST_SEED=%d), scale %g, %d kills" % (SEED, SEED, SCALE, KILLS), flush=True)

COMPLETE_RE = re.compile(r"checkpoint (\d+) complete")
MARKER_RE = re.compile(r"newest committed checkpoint of (\S+): (\d+)")
FAULT_RE = re.compile(r"fault point (\S+): killing the process \(hit (\d+)\)")
FAULTS = ["eos.before_marker", "eos.before_commit", "eos.after_commit", "sink.after_flush",
          "checkpoint.after_metadata"]


def scaled(n, lo=1500):
    return max(lo, int(n * SCALE))


def setup_input(b, rng, n_per):
    for p in range(4):
        produce(b.servers, "events", p, gen_partition(rng, p, n_per, keys_for(p), bad=2))
    finals, dead, _ = model_per_partition(read_parts(b, "events", check_offsets=False), model_job())
    check(not any(d["reason"] == "late" for d in dead.values()), "generator made late events")
    return finals


def checkpoint_header(m):
    h = headers_of(m).get("weir.checkpoint")
    check(h is not None and len(h) == 1 and re.fullmatch(r"\d+", h[0] or ""),
          "message without one numeric weir.checkpoint header: %r" % (m,))
    return int(h[0])


def newest_marker(b, job):
    """The last marker of weir.JOB in JOB.checkpoints as kcat sees it (0: none)."""
    try:
        msgs = consume(b.servers, job + ".checkpoints", timeout=30)
    except AssertionError:
        return 0    # the topic does not exist yet
    last = 0
    for m in sorted(msgs, key=lambda m: (m["partition"], m["offset"])):
        if m["key"] != "weir." + job:
            continue
        v = json.loads(m["payload"])
        last = int(v["checkpoint_id"])
    return last


def count_per_partition(msgs):
    out = {}
    for m in msgs:
        out[m["partition"]] = max(out.get(m["partition"], 0), m["offset"] + 1)
    return out


# ================================================================ no crashes


@case
def exactly_once_without_crashes_writes_every_window_once_with_checkpoint_headers():
    rng = random.Random(SEED)
    with Broker(["events:4", "results:4"]) as b:
        finals = setup_input(b, rng, scaled(40000, 20000))
        d = workdir("keos0")
        job = kafka_window_job("keos0", b.servers, delivery="exactly-once", interval="25ms",
                               dlq=os.path.join(d, "dl.jsonl"))
        pr = run_weir(["run", write_job(d, job), "--state-dir", os.path.join(d, "state")], timeout=240)
        expect_exit(pr, 0, "exactly-once job")
        msgs = consume(b.servers, "results")
        pairs = results_from(msgs)
        counts = {}
        for _, rec in pairs:
            counts[window_wid(rec)] = counts.get(window_wid(rec), 0) + 1
        wrong = {w: c for w, c in counts.items() if c != 1}
        check(not wrong, "%d windows not written exactly once, e.g. %r" % (len(wrong), list(wrong.items())[:3]))
        compare_windows(last_per_window(pairs), finals)
        eq(len(counts), len(finals), "windows written")
        ids = [int(m.group(1)) for m in COMPLETE_RE.finditer(pr.stderr())]
        check(ids, "no `checkpoint N complete` lines\n" + pr.describe())
        final_id = max(ids)
        last = {}
        for m, rec in pairs:
            h = headers_of(m)
            eq(h.get("weir.job"), ["keos0"], "weir.job header")
            c = checkpoint_header(m)
            check(1 <= c <= final_id, "weir.checkpoint %d outside 1..%d" % (c, final_id))
            check(c >= last.get(m["partition"], 0), "weir.checkpoint decreases along partition %d at offset %d"
                  % (m["partition"], m["offset"]))
            last[m["partition"]] = c
        eq(newest_marker(b, "keos0"), final_id, "newest marker in keos0.checkpoints = the final checkpoint")
        spread = sorted({checkpoint_header(m) for m, _ in pairs})
        if len(spread) < 2:
            print("     note: all output went into the transaction of checkpoint %r (a slow build?)" % spread)
        print("     %d windows, %d checkpoints, headers name checkpoints %s, %.1fs"
              % (len(finals), len(ids), spread, pr.seconds()))


# ================================================================ crashes


class Incarnation:
    def __init__(self, pr, start_counts, visible_before, fault):
        self.pr = pr
        self.start_counts = start_counts
        self.visible_before = visible_before
        self.fault = fault
        err = pr.stderr()
        m = MARKER_RE.search(err)
        self.marker = int(m.group(2)) if m else None
        m = RESUME_RE.search(err)
        self.resumed = None if not m else int(m.group(1) or m.group(2))
        self.completes = [int(x.group(1)) for x in COMPLETE_RE.finditer(err)]
        m = FAULT_RE.search(err)
        self.fault_hit = (m.group(1), int(m.group(2))) if m else None


def expected_marker_after(inc, prev_restored):
    """The marker ids JOB.checkpoints may end with after incarnation inc was
    killed (see the docstring, (b)); None: no rule."""
    seq = [prev_restored] + inc.completes
    if inc.fault_hit:
        name, k = inc.fault_hit
        if name == "eos.before_marker":
            return {seq[k - 1]} if k - 1 < len(seq) else None
        if name in ("eos.before_commit", "eos.after_commit"):
            return {seq[k]} if k < len(seq) else None
        return {seq[-1]}
    return set(seq[-2:])


def crash_round(b, job, path, state, topic, rng, T, kills_left, log):
    """Starts the job until it exits 0, killing it kills_left times; returns
    (incarnations, kills made)."""
    incs = []
    hist = []
    try:
        return _crash_round(b, job, path, state, topic, rng, T, kills_left, log, incs, hist)
    except AssertionError as e:
        raise AssertionError("%s\nstarts of this round:\n  %s" % (e, "\n  ".join(hist) or "(none finished)"))


def _crash_round(b, job, path, state, topic, rng, T, kills_left, log, incs, hist):
    kills = 0
    restored = 0
    fresh = True
    while True:
        check(len(incs) < 150, "no progress after %d starts" % len(incs))
        try:
            counts = count_per_partition(consume(b.servers, topic))
        except AssertionError:
            counts = {}
        visible = newest_marker(b, job)
        fault = None
        binary, env = None, None
        mode = None
        if kills < kills_left:
            r = rng.random()
            if r < 0.6:
                fault = "%s:%d" % (rng.choice(FAULTS), rng.choice([1, 1, 1, 2, 2, 3, 4]))
                binary, env = WEIR_FAULTS, {"WEIR_FAULT": fault}
                mode = "fault"
            else:
                mode = "kill"
        pr = WProc(["run", path, "--state-dir", state, "--set", "sinks.out.kafka.topic=" + topic]
                   + (["--fresh"] if fresh else []), binary=binary, env=env)
        if mode == "kill":
            r = rng.random()
            if r < 0.4:
                pr.wait_line(COMPLETE_RE.pattern, count=rng.choice([1, 2, 3]), timeout=30 + 10 * T)
                time.sleep(rng.uniform(0, 0.02))
            else:
                time.sleep(rng.uniform(0, 0.9 * T))
            pr.kill9()
        rc = pr.finish(60 + 20 * T)
        inc = Incarnation(pr, counts, visible, fault)
        incs.append(inc)
        hist.append("start %d: %s, exit %s after %.2fs; newest marker before %d, weir's %s, resumed %s, complete %s"
                    % (len(incs), fault or mode or "no kill", rc, pr.seconds(), visible, inc.marker, inc.resumed,
                       inc.completes))
        # (b) the restore decision follows the newest marker kcat saw.
        if not fresh and inc.marker is not None:
            check(inc.marker == visible, "start %d restored per marker %d, but the newest marker in %s.checkpoints was %d\n%s"
                  % (len(incs), inc.marker, job, visible, pr.describe()))
            # A kill may land between weir's "committed in Kafka: N" line and its
            # "resuming from checkpoint N" line: only a start that got as far as
            # running must have logged the resume.
            if inc.marker > 0 and "running with" in pr.stderr():
                check(inc.resumed == inc.marker, "start %d: newest marker %d, but weir logged resuming from %r\n%s"
                      % (len(incs), inc.marker, inc.resumed, pr.describe()))
        if inc.marker is not None or inc.resumed is not None:
            restored_now = inc.resumed if inc.resumed is not None else 0
        else:
            restored_now = None    # killed before it decided anything
        fresh = False
        if rc == -signal.SIGKILL:
            kills += 1
            check(mode is not None, "weir died of SIGKILL without a fault armed or a kill sent\n" + pr.describe())
            if fault:
                check(inc.fault_hit is not None and "%s:%d" % inc.fault_hit == fault,
                      "armed %s but stderr names %r\n%s" % (fault, inc.fault_hit, pr.describe()))
            base = restored if restored_now is None else restored_now
            want = expected_marker_after(inc, base)
            now = newest_marker(b, job)
            if want is not None and (inc.marker is not None or inc.completes):
                check(now in want, "after %s (start %d, resumed from %s, checkpoints logged complete %s) the newest "
                      "marker is %d, want one of %s\n%s" % (fault or "kill -9", len(incs), base, inc.completes,
                                                            now, sorted(want), pr.describe()))
            if restored_now is not None:
                restored = restored_now
            log.append(fault or "kill")
            continue
        expect_exit(pr, 0, "start %d (%s)" % (len(incs), fault or "no fault"))
        return incs, kills


def committed_view(b, topic, incs):
    """(c): messages of each incarnation counted when their checkpoint header is
    <= the checkpoint the next deciding incarnation restored."""
    msgs = consume(b.servers, topic)
    bounds = [inc.start_counts for inc in incs] + [count_per_partition(msgs)]
    cut = []
    for i, inc in enumerate(incs):
        nxt = next((j for j in range(i + 1, len(incs)) if incs[j].marker is not None or incs[j].resumed is not None), None)
        if i == len(incs) - 1:
            cut.append(float("inf"))
        elif nxt is None:
            cut.append(float("inf"))
        else:
            cut.append(incs[nxt].resumed or 0)
    view = []
    problems = []
    for m in msgs:
        p, o = m["partition"], m["offset"]
        i = next(i for i in range(len(incs)) if bounds[i].get(p, 0) <= o < bounds[i + 1].get(p, 0))
        c = checkpoint_header(m)
        r = incs[i].resumed or 0
        if c <= r:
            problems.append("start %d restored checkpoint %d but wrote a message of checkpoint %d (partition %d offset %d)"
                            % (i + 1, r, c, p, o))
        if c <= cut[i]:
            view.append(m)
    check(not problems, "\n".join(problems[:5]))
    return view


@case
def exactly_once_job_killed_at_20_moments_and_fault_points_keeps_results_once():
    rng = random.Random(SEED + 1)
    with Broker(["events:4", "ref:4"]) as b:
        finals = setup_input(b, rng, scaled(40000))
        d = workdir("keos")
        job = kafka_window_job("keos", b.servers, delivery="exactly-once", interval="25ms",
                               dlq=os.path.join(d, "dl.jsonl"))
        ref_job = dict(job, job="keosref", sinks={"out": {"from": "w", "kafka": {"topic": "ref", "delivery": "exactly-once"}}})
        ref = run_weir(["run", write_job(d, ref_job), "--state-dir", os.path.join(d, "ref-state")], timeout=240)
        expect_exit(ref, 0, "uninterrupted exactly-once run")
        T = max(ref.seconds(), 0.5)
        compare_windows(last_per_window(results_from(consume(b.servers, "ref"))), finals)

        kills, rounds, log, t0 = 0, 0, [], time.monotonic()
        while kills < KILLS:
            rounds += 1
            # A fault point whose K-th hit never comes (the job ended first) makes a
            # round without a kill: allow plenty of rounds.
            check(rounds <= 60, "%d rounds, only %d kills" % (rounds, kills))
            topic = "eos-out-%d" % rounds
            # A job name and state dir per round: a --fresh start killed before it
            # cleared anything must not let the next start find the last round's state.
            name = "keos-%d" % rounds
            path = write_job(d, dict(job, job=name))
            state = os.path.join(d, "state-%d" % rounds)
            incs, k = crash_round(b, name, path, state, topic, rng, T, KILLS - kills, log)
            kills += k
            try:
                pairs = results_from(consume(b.servers, topic))
                compare_windows(last_per_window(pairs), finals)                       # (a)
                view = results_from(committed_view(b, topic, incs))                   # (c)
                counts = {}
                for _, rec in view:
                    counts[window_wid(rec)] = counts.get(window_wid(rec), 0) + 1
                dup = {w: c for w, c in counts.items() if c > 1}
                miss = [w for w in finals if w not in counts]
                check(not dup and not miss, "in committed transactions: %d windows more than once (e.g. %r), %d missing "
                      "(e.g. %r)" % (len(dup), list(dup.items())[:2], len(miss), [finals[w] for w in miss[:2]]))
                compare_windows(last_per_window(view), finals)
            except AssertionError as e:
                raise AssertionError("round %d (%d starts; kills so far: %s):\n%s"
                                     % (rounds, len(incs), log, e))
            print("     round %d: %d starts, %d kills; %d messages, %d in committed transactions, %d windows"
                  % (rounds, len(incs), k, len(pairs), len(view), len(finals)), flush=True)
        faults = {}
        for f in log:
            faults[f.split(":")[0]] = faults.get(f.split(":")[0], 0) + 1
        print("     %d kills (%s) over %d rounds, uninterrupted %.2fs, %.1fs"
              % (kills, ", ".join("%s %d" % kv for kv in sorted(faults.items())), rounds, T, time.monotonic() - t0))
        check(sum(v for f, v in faults.items() if f.startswith("eos.")) >= 3, "fewer than 3 kills at eos.* points: %r" % faults)


if __name__ == "__main__":
    main()
