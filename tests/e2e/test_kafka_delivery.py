"""tests/e2e/test_kafka_delivery.py -- at-least-once Kafka delivery under kill -9, broker outages and late topics (SPEC §2, §5).

Design: a Kafka -> tumbling window -> Kafka job (`stop: latest`, delivery
at-least-once) over generated keyed events in a 4-partition topic is SIGKILLed
at seeded random moments -- right after a `checkpoint N complete` line, a
little later, during startup, or at a random time within the first half of an
uninterrupted run (weir reads this input in well under a second, so
checkpoints are taken every 25 ms and most kills aim at them) -- and started
again (without --fresh) until it exits 0; each start must resume from the
newest complete checkpoint on disk. Each round (from --fresh, in a state dir
of its own) writes to an output topic of its own, so a later round cannot hide
a loss behind an earlier round's output. The uninterrupted run itself must
match the model and have no unexpected dead letters.
After each round the last record per key and window read back with kcat must
equal the independent model (weir_model.py) for every window (duplicates are
allowed: at-least-once), and the dead-letter file must hold every malformed
line once. A second case takes the broker down (`weir broker --control`:
`down 1`, a few seconds, `up 1`) while an unbounded job runs and more input is
produced: once the broker is back every window must arrive (nothing lost). A
third starts a job on a topic that does not exist yet: it must keep running,
say so on stderr, and work once the topic gets data.

Invariants:
  1. Python 3 standard library only; only processes started here are
     signalled, by pid; every wait has a timeout.
  2. Seeded: the seed is printed and WEIR_TEST_SEED reruns one;
     WEIR_KAFKA_KILLS (default 20) kills; sizes scale down under ASan.
  3. Every key lives in one partition and no event is late against its own
     partition's watermark, so every window's final result is fixed by the
     input whatever the interleaving of partitions (SPEC §4).

Rules come from SPEC §2 (kafka keys), §4 (windows over partitions), §5
(at-least-once: after kill -9 and restart no output record is lost; resume
from the latest completed checkpoint), §6 (dead letters).
"""

import os
import random
import re
import signal
import threading
import time

import e2e_util as U
from cli_util import case, check, eq, main
from kafka_util import (read_parts, Broker, WProc, compare_windows, consume, expect_exit, gen_partition, kafka_window_job,
                        keys_for, last_per_window, model_job, model_per_partition, produce, results_from,
                        run_weir, scale, wait_until, workdir, write_job)
from recovery_util import CHK_RE, RESUME_RE, checkpoints

SEED = U.test_seed()
SCALE = scale()
KILLS = int(os.environ.get("WEIR_KAFKA_KILLS") or "20")
print("seed %d (rerun with WEIR_TEST_SEED=%d), scale %g, %d kills" % (SEED, SEED, SCALE, KILLS), flush=True)


def scaled(n, lo=1500):
    return max(lo, int(n * SCALE))


def check_dead_file(path, dead, what):
    """Every json/event_time dead letter of the model exactly once, with the
    Kafka partition and offset (SPEC §6)."""
    got = {}
    for r in U.read_jsonl(path):
        k = (r.get("partition"), r.get("offset"))
        check(k not in got, "%s: two dead letters for partition %r offset %r" % (what, k[0], k[1]))
        got[k] = r
    want = {k: d for k, d in dead.items() if d["reason"] != "late"}
    miss = [k for k in want if k not in got]
    extra = [k for k in got if k not in want]
    wrong = [(got[k], want[k]) for k in want if k in got
             and (got[k].get("reason") != want[k]["reason"] or got[k].get("value") != want[k]["value"])]
    check(not (miss or extra or wrong), "%s: dead letters: %d missing (e.g. %r), %d unexpected (e.g. %r), %d wrong (e.g. %r)"
          % (what, len(miss), miss[:2], len(extra), [got[k] for k in extra[:2]], len(wrong), wrong[:2]))


def resume_id(pr):
    m = RESUME_RE.search(pr.stderr())
    return None if not m else int(m.group(1) or m.group(2))


# ================================================================ at-least-once under kill -9


@case
def at_least_once_job_killed_at_20_moments_loses_no_window():
    rng = random.Random(SEED)
    n_per = scaled(40000)
    with Broker(["events:4", "ref:4"]) as b:
        for p in range(4):
            produce(b.servers, "events", p, gen_partition(rng, p, n_per, keys_for(p), bad=3))
        parts = read_parts(b, "events")
        finals, dead, _ = model_per_partition(parts, model_job())
        check(not any(d["reason"] == "late" for d in dead.values()), "generator made late events")
        d = workdir("kalo")
        job = kafka_window_job("kalo", b.servers, delivery="at-least-once", interval="25ms",
                               dlq=os.path.join(d, "dl.jsonl"))
        path = write_job(d, job)

        # An uninterrupted run (own state dir and output topic) gives the time scale.
        ref = run_weir(["run", path, "--state-dir", os.path.join(d, "ref-state"),
                        "--set", "sinks.out.kafka.topic=ref", "--set", "dead_letter.file.path=" + os.path.join(d, "ref-dl.jsonl")],
                       timeout=240)
        expect_exit(ref, 0, "uninterrupted run")
        T = max(ref.seconds(), 0.5)
        try:
            compare_windows(last_per_window(results_from(consume(b.servers, "ref"))), finals)
            check_dead_file(os.path.join(d, "ref-dl.jsonl"), dead, "uninterrupted run")
        except AssertionError as e:
            raise AssertionError("uninterrupted run: %s\n%s" % (e, ref.describe()))

        kills, starts, rounds, modes = 0, 0, 0, {}
        t_start = time.monotonic()
        while kills < KILLS:
            rounds += 1
            check(rounds <= 20, "%d rounds, only %d kills: the job ends before the kills land" % (rounds, kills))
            topic = "out-%d" % rounds
            # A state dir per round: a --fresh start killed before it cleared the
            # state would otherwise let the next start find the previous round finished.
            state = os.path.join(d, "state-%d" % rounds)
            args = ["run", path, "--state-dir", state, "--set", "sinks.out.kafka.topic=" + topic]
            fresh = True
            history = []
            while True:
                check(starts < 200, "no progress after %d starts" % starts)
                want_resume = None if fresh else (checkpoints(state)[0] or [None])[-1]
                pr = WProc(args + (["--fresh"] if fresh else []))
                fresh = False
                starts += 1
                mode = None
                if kills < KILLS:
                    # weir reads this input in well under a second: kills aim at
                    # checkpoints (every 25 ms) rather than at wall-clock moments.
                    r = rng.random()
                    if r < 0.35:
                        mode = "after-checkpoint"
                        pr.wait_line(CHK_RE, count=rng.choice([1, 1, 2]), timeout=30 + 10 * T)
                        time.sleep(rng.uniform(0, 0.003))
                    elif r < 0.55:
                        mode = "next-checkpoint"
                        pr.wait_line(CHK_RE, count=1, timeout=30 + 10 * T)
                        time.sleep(rng.uniform(0.01, 0.04))
                    elif r < 0.65:
                        mode = "startup"
                        time.sleep(rng.uniform(0, 0.05))
                    else:
                        mode = "random"
                        time.sleep(rng.uniform(0, 0.5 * T))
                sent = mode is not None and pr.kill9()
                try:
                    rc = pr.finish(60 + 20 * T)
                except AssertionError as e:
                    raise AssertionError("%s\nearlier starts of round %d:\n  %s" % (e, rounds, "\n  ".join(history)))
                got_resume = resume_id(pr)
                history.append("start %d: %s%s after %.3fs, exit %s, resumed %s, checkpoints %s%s" % (
                    starts, mode or "no kill", " --fresh" if want_resume is None and len(history) == 0 else "",
                    pr.seconds(), rc, got_resume, [int(x) for x in re.findall(CHK_RE, pr.stderr())],
                    " (job finished)" if "job finished" in pr.stderr() else ""))
                if want_resume is not None and ("running with" in pr.stderr() or got_resume is not None):
                    check(got_resume == want_resume, "start %d: newest complete checkpoint on disk %d, weir resumed from %r\n%s"
                          % (starts, want_resume, got_resume, pr.describe()))
                if sent and rc == -signal.SIGKILL:
                    kills += 1
                    modes[mode] = modes.get(mode, 0) + 1
                    continue
                expect_exit(pr, 0, "start %d (round %d)" % (starts, rounds))
                break
            try:
                pairs = results_from(consume(b.servers, topic))
                compare_windows(last_per_window(pairs), finals)
                extra = set(last_per_window(pairs)) - set(finals)
                check(not extra, "windows the model does not have: %r" % sorted(extra, key=repr)[:3])
                check_dead_file(os.path.join(d, "dl.jsonl"), dead, "round %d" % rounds)
            except AssertionError as e:
                raise AssertionError("after round %d (%d kills in %d starts: %r):\n%s\nstarts of the round:\n  %s\n"
                                     "last start of the round:\n%s"
                                     % (rounds, kills, starts, modes, e, "\n  ".join(history), pr.describe()))
            print("     round %d: %d output messages for %d windows (%d duplicates)"
                  % (rounds, len(pairs), len(finals), len(pairs) - len(finals)), flush=True)
        print("     %d events, uninterrupted %.2fs; %d kills (%s) in %d starts over %d rounds; %.1fs"
              % (4 * n_per, T, kills, ", ".join("%s %d" % kv for kv in sorted(modes.items())), starts, rounds,
                 time.monotonic() - t_start))


# ================================================================ broker outage


def halves(rng, n_per):
    """Per partition: (first half, second half) of generated events ending in a
    flush event an hour ahead (so an unbounded job fires every real window)."""
    out = {}
    for p in range(4):
        ev = gen_partition(rng, p, n_per, keys_for(p), bad=2, flush=True)
        out[p] = (ev[:len(ev) // 2], ev[len(ev) // 2:])
    return out


def real_windows(finals):
    return {w: r for w, r in finals.items() if not str(r["user"]).startswith("flush-")}


def wait_for_windows(b, topic, want, pr, timeout):
    """Polls the output topic until every wanted window is there; returns the last records."""
    state = {}

    def done():
        if not pr.alive():
            raise AssertionError("job ended while waiting for its output\n" + pr.describe())
        state["got"] = last_per_window(results_from(consume(b.servers, topic)))
        return all(w in state["got"] for w in want)
    ok = wait_until(done, timeout, 0.5)
    got = state.get("got", {})
    if not ok:
        raise AssertionError("after %.0fs %d of %d windows arrived, e.g. missing %r\n%s"
                             % (timeout, sum(1 for w in want if w in got), len(want),
                                [want[w] for w in want if w not in got][:2], pr.describe()))
    return got


@case
def broker_down_for_seconds_while_the_job_runs_loses_nothing():
    rng = random.Random(SEED + 1)
    n_per = scaled(6000)
    with Broker(["events:4", "results:4"], control=True) as b:
        hv = halves(rng, n_per)
        for p in range(4):
            produce(b.servers, "events", p, hv[p][0])
        d = workdir("kdown")
        dl = os.path.join(d, "dl.jsonl")
        job = kafka_window_job("kdown", b.servers, stop="never", delivery="at-least-once", dlq=dl)
        pr = WProc(["run", write_job(d, job), "--state-dir", os.path.join(d, "state")])
        try:
            check(pr.wait_line(CHK_RE, count=2, timeout=60) is not None, "no checkpoints\n" + pr.describe())
            check(wait_until(lambda: consume(b.servers, "results"), 30), "no output before the outage\n" + pr.describe())
            eq(b.control("down 1"), "ok", "answer to `down 1`")
            t_down = time.monotonic()
            errs = []

            def second_halves():
                try:
                    for p in range(4):
                        produce(b.servers, "events", p, hv[p][1], extra=["-E", "-X", "message.timeout.ms=120000"])
                except AssertionError as e:
                    errs.append(e)
            th = threading.Thread(target=second_halves, daemon=True)
            th.start()
            time.sleep(4)
            check(pr.alive(), "weir exited while the broker was down\n" + pr.describe())
            eq(b.control("up 1"), "ok", "answer to `up 1`")
            th.join(120)
            check(not errs and not th.is_alive(), "producing the second halves failed: %r" % errs)
            parts = read_parts(b, "events")
            finals, dead, _ = model_per_partition(parts, model_job())
            want = real_windows(finals)
            got = wait_for_windows(b, "results", want, pr, 120)
            t_back = time.monotonic() - t_down
        finally:
            t_term = time.monotonic()
            pr.signal(signal.SIGTERM)
            pr.finish(60)
            t_term = time.monotonic() - t_term
        expect_exit(pr, 0, "SIGTERM after the outage")
        compare_windows(got, want)
        check_dead_file(dl, dead, "after the outage")
        warned = [l.strip() for l in pr.err if "WARN" in l or "warn" in l]
        print("     %d windows after a 4 s outage, all there %.1fs after `down 1`; exit %.1fs after SIGTERM; "
              "%d warning lines, e.g. %s" % (len(want), t_back, t_term, len(warned), warned[:1]))


@case
def topic_missing_at_start_is_waited_for_and_read_once_it_has_data():
    rng = random.Random(SEED + 2)
    n_per = scaled(3000, 1000)
    with Broker(["results:4"]) as b:
        d = workdir("klater")
        dl = os.path.join(d, "dl.jsonl")
        job = kafka_window_job("klater", b.servers, in_topic="later", stop="never", dlq=dl)
        pr = WProc(["run", write_job(d, job), "--state-dir", os.path.join(d, "state")])
        try:
            time.sleep(3)
            check(pr.alive(), "weir exited although the topic may still appear\n" + pr.describe())
            check("later" in pr.stderr(), "nothing on stderr names the missing topic `later`\n" + pr.describe())
            for p in range(4):
                produce(b.servers, "later", p, gen_partition(rng, p, n_per, keys_for(p), bad=1, flush=True))
            parts = read_parts(b, "later")
            eq(sorted(parts), [0, 1, 2, 3], "partitions of the auto-created topic")
            finals, dead, _ = model_per_partition(parts, model_job())
            want = real_windows(finals)
            got = wait_for_windows(b, "results", want, pr, 120)
        finally:
            pr.signal(signal.SIGTERM)
            pr.finish(60)
        expect_exit(pr, 0, "SIGTERM")
        compare_windows(got, want)
        check_dead_file(dl, dead, "topic that appeared later")


if __name__ == "__main__":
    main()
