"""tests/e2e/test_kafka.py -- Kafka sources and sinks of `weir run` against kcat and the model (SPEC §2, §3, §4, §6).

Design: every case starts its own `weir broker` (librdkafka's mock cluster) and
uses kcat, an independent Kafka client, to produce input and to read weir's
output (`kcat -C -e -J`: key, timestamp, headers, partition, offset). The
window case produces generated keyed events -- out of order within the
watermark delay, a few malformed lines, and a few events a minute behind that
each have a key of their own -- into a 4-partition topic, every key in one
partition; weir reads it with `stop: latest` and writes 10 s tumbling windows to a Kafka topic and dead letters to another. The last record
per key and window must equal the independent model (weir_model.py) run over
each partition's messages in offset order. SPEC §4 (last paragraph): with
several partitions, which records are late depends on how the partitions
interleave; a record that is not late against its own partition's watermark is
never late (the watermark is a minimum over partitions), so only the events a
minute behind are uncertain -- each has a key of its own, so its window is
either absent and the record is a `late` dead letter, or present with that one
record. Other cases: the metadata fields `_key _topic _partition _offset
_timestamp` equal what kcat reports; `start` earliest / latest / committed /
TIME (RFC 3339 and epoch ms) and `stop: TIME`; a file -> Kafka job writes
message timestamps = event time; `topics: [a, b]` reads both.

Invariants:
  1. Python 3 standard library only; each case has its own broker and state dir.
  2. Seeded (WEIR_TEST_SEED reruns one); sizes scale down under ASan
     (WEIR_KAFKA_SCALE overrides).
  3. kcat's view is the truth: the model's input is what kcat reads back from
     the input topic, so Kafka offsets are exact.

Rules come from SPEC §1 (weir broker), §2 (kafka source/sink keys, start, stop,
topics), §3 (metadata fields), §4 (windows, watermarks over partitions), §5 (SIGTERM), §6
(dead letters: partition = Kafka partition, offset = Kafka offset).
"""

import json
import os
import random
import signal
import time

import e2e_util as U
from cli_util import case, check, eq, main
from kafka_util import (read_parts, Broker, WProc, compare_windows, consume, expect_exit, gen_partition, headers_of,
                        kafka_window_job, keys_for, last_per_window, model_job, model_per_partition, now_ms,
                        produce, results_from, run_weir, scale, wait_until, window_wid, workdir, write_job)

SEED = U.test_seed()
SCALE = scale()
print("seed %d (rerun with WEIR_TEST_SEED=%d), scale %g" % (SEED, SEED, SCALE), flush=True)


def scaled(n, lo=2000):
    return max(lo, int(n * SCALE))


def run_args(job_path, state, extra=()):
    return ["run", job_path, "--state-dir", state] + list(extra)


# ================================================================ windows: Kafka -> window -> Kafka


@case
def windows_from_a_4_partition_topic_match_the_model_with_keys_timestamps_headers_and_dead_letters():
    rng = random.Random(SEED)
    n_per = scaled(12000)
    with Broker(["events:4", "results:4", "dlq:2"]) as b:
        for p in range(4):
            produce(b.servers, "events", p, gen_partition(rng, p, n_per, keys_for(p), late_keys=6, bad=5))
        parts = read_parts(b, "events")
        eq(sorted(parts), [0, 1, 2, 3], "partitions with input")
        finals, dead, where = model_per_partition(parts, model_job())
        d = workdir("kwin")
        job = kafka_window_job("kwin", b.servers, dlq_topic="dlq")
        pr = run_weir(run_args(write_job(d, job), os.path.join(d, "state")), timeout=240)
        expect_exit(pr, 0, "Kafka -> window -> Kafka with stop: latest")

        msgs = consume(b.servers, "results")
        pairs = results_from(msgs)
        check(pairs, "no output messages\n" + pr.describe())
        bad = []
        for m, rec in pairs:
            if m["key"] != rec.get("user"):
                bad.append("key %r for user %r" % (m["key"], rec.get("user")))
            if m["ts"] != rec["window_end"] - 1:
                bad.append("timestamp %r, window_end - 1 = %r" % (m["ts"], rec["window_end"] - 1))
            if headers_of(m).get("weir.job") != ["kwin"]:
                bad.append("headers %r (want weir.job=kwin)" % (m.get("headers"),))
        check(not bad, "%d of %d output messages wrong, e.g.:\n  %s" % (len(bad), len(pairs), "\n  ".join(bad[:6])))
        # Lateness 0 and no crash: every window is emitted once.
        counts = {}
        for _, rec in pairs:
            counts[window_wid(rec)] = counts.get(window_wid(rec), 0) + 1
        twice = [w for w, c in counts.items() if c > 1]
        check(not twice, "%d windows emitted more than once (allowed_lateness 0), e.g. %r" % (len(twice), twice[:3]))

        got = last_per_window(pairs)
        late_model = {k: v for k, v in dead.items() if v["reason"] == "late"}
        check(len(late_model) == 24, "generator: %d late events per the model, want 24" % len(late_model))
        sure = {w: r for w, r in finals.items() if not str(r["user"]).startswith("late-")}
        compare_windows(got, sure, only=[w for w in finals if w in sure])

        dl = consume(b.servers, "dlq")
        dls = {}
        for m in dl:
            rec = json.loads(m["payload"])
            k = (rec.get("partition"), rec.get("offset"))
            check(k not in dls, "two dead letters for partition %r offset %r" % k)
            dls[k] = rec
        # Every json / event_time dead letter of the model, with SPEC §6 fields.
        problems = []
        for k, want in dead.items():
            if want["reason"] == "late":
                continue
            g = dls.get(k)
            if g is None:
                problems.append("missing dead letter %s at partition %d offset %d" % (want["reason"], k[0], k[1]))
                continue
            for f in ("reason", "value"):
                if g.get(f) != want[f]:
                    problems.append("%r: %s %r, want %r" % (k, f, g.get(f), want[f]))
            if g.get("source") != "in" or not isinstance(g.get("error"), str) or not g["error"]:
                problems.append("%r: source/error wrong: %r" % (k, g))
        # Late events: each either a `late` dead letter (window absent) or counted.
        n_late = 0
        for k, want in late_model.items():
            v = json.loads(parts[k[0]][k[1]])
            wid = ((("s", v["user"]),), v["ts"] // 10000 * 10000, v["ts"] // 10000 * 10000 + 10000)
            g = dls.get(k)
            if g is not None:
                n_late += 1
                if g.get("reason") != "late" or wid in got:
                    problems.append("%r: dead letter %r and window present %s" % (k, g, wid in got))
                if not isinstance(g.get("watermark"), int) or not isinstance(g.get("deadline"), int) \
                        or g["deadline"] != wid[2] or g["watermark"] < g["deadline"] or g["watermark"] > want["watermark"]:
                    problems.append("%r: late dead letter watermark/deadline %r/%r (deadline %d; own partition's "
                                    "watermark %d is an upper bound)" % (k, g.get("watermark"), g.get("deadline"),
                                                                         wid[2], want["watermark"]))
            elif wid not in got or got[wid]["n"] != 1 or got[wid]["total"] != v["amount"]:
                problems.append("%r: neither a dead letter nor its own window (n=1, total=%r): %r"
                                % (k, v["amount"], got.get(wid)))
        extra = [k for k in dls if k not in dead]
        if extra:
            problems.append("%d unexpected dead letters, e.g. %r" % (len(extra), dls[extra[0]]))
        check(not problems, "dead letters:\n  " + "\n  ".join(problems[:10]))
        extra_w = [w for w in got if w not in finals and not str(got[w]["user"]).startswith("late-")]
        check(not extra_w, "windows the model does not have: %r" % [got[w] for w in extra_w[:3]])
        print("     %d events in 4 partitions, %d windows, %d dead letters (%d of 24 far-behind events late), %.1fs"
              % (4 * n_per, len(got), len(dls), n_late, pr.seconds()))


@case
def an_empty_partition_holds_the_watermark_back_until_its_first_record():
    """SPEC §4: with `idle` unset, an empty, unfinished partition holds the
    watermark back -- so a record that arrives there later, older than what the
    other partition has shown, is not late."""
    t0 = 1_790_000_000_000
    with Broker(["hold:2", "hold-out:2"]) as b:
        produce(b.servers, "hold", 0, ['{"user":"a","ts":%d,"amount":%d}' % (t0 + 1000 * i, i) for i in range(120)])
        d = workdir("khold")
        dl = os.path.join(d, "dl.jsonl")
        job = kafka_window_job("khold", b.servers, in_topic="hold", out_topic="hold-out", stop="never", dlq=dl)
        pr = WProc(run_args(write_job(d, job), os.path.join(d, "state")))
        try:
            check(pr.wait_line("running with", timeout=30) is not None, "job did not start\n" + pr.describe())
            time.sleep(2.0)
            early = consume(b.servers, "hold-out")
            produce(b.servers, "hold", 1, ['{"user":"b","ts":%d,"amount":5}' % (t0 + 5000)])
            time.sleep(0.5)
            produce(b.servers, "hold", 0, ['{"user":"a","ts":%d,"amount":0}' % (t0 + 3_600_000)])
            produce(b.servers, "hold", 1, ['{"user":"b","ts":%d,"amount":0}' % (t0 + 3_600_000)])
            want_b = ((("s", "b"),), t0, t0 + 10000)
            got = wait_until(lambda: last_per_window(results_from(consume(b.servers, "hold-out")))
                             if len(consume(b.servers, "hold-out")) >= 13 else None, 30)
        finally:
            pr.signal(signal.SIGTERM)
            pr.finish(60)
        expect_exit(pr, 0, "SIGTERM")
        late = [r for r in U.read_jsonl(dl) if r.get("reason") == "late"]
        check(not early and not late,
              "partition 1 was empty and unfinished, yet %d windows fired before it had a record and %d records were "
              "late, e.g. %r" % (len(early), len(late), late[:1] or [m["payload"] for m in early[:1]]))
        check(got and want_b in got and got[want_b]["n"] == 1 and got[want_b]["total"] == 5,
              "window of b [t0, t0+10s) missing or wrong: %r" % ((got or {}).get(want_b),))
        eq(sorted(r["n"] for w, r in got.items() if r["user"] == "a"), [10] * 12, "counts of a's 12 windows")


# ================================================================ metadata fields


def map_job(name, servers, topic, out, start="earliest", stop="latest", extra_src=None, interval="200ms"):
    src = {"topic": topic} if isinstance(topic, str) else {"topics": list(topic)}
    src.update({"start": start, "stop": stop})
    if extra_src:
        src.update(extra_src)
    return {
        "job": name,
        "parallelism": 1,
        "checkpoint": {"interval": interval},
        "kafka": {"bootstrap.servers": servers},
        "sources": {"in": {"kafka": src, "event_time": {"kafka_timestamp": True}}},
        "operators": [{"name": "m", "from": "in", "map": {
            "k": "_key", "t": "_topic", "p": "_partition", "o": "_offset", "ts": "_timestamp", "v": "v"}}],
        "sinks": {"out": {"from": "m", "file": {"path": out}}},
    }


def as_rows(msgs):
    return sorted((m["topic"], m["partition"], m["offset"], m["key"], m["ts"], json.loads(m["payload"])["v"])
                  for m in msgs)


def file_rows(path):
    return sorted((r["t"], r["p"], r["o"], r["k"], r["ts"], r["v"]) for r in U.read_jsonl(path))


@case
def metadata_fields_equal_what_kcat_reports():
    with Broker(["meta:3"]) as b:
        for p in range(3):
            vals = ['{"v":%d}' % (p * 1000 + i) for i in range(300)]
            keys = [None if i % 7 == 3 else "key-%d-%d" % (p, i % 11) for i in range(300)]
            produce(b.servers, "meta", p, vals, keys)
        want = as_rows(consume(b.servers, "meta"))
        eq(len(want), 900, "messages kcat reads back")
        d = workdir("kmeta")
        out = os.path.join(d, "out.jsonl")
        pr = run_weir(run_args(write_job(d, map_job("kmeta", b.servers, "meta", out)), os.path.join(d, "state")))
        expect_exit(pr, 0, "metadata job")
        got = file_rows(out)
        check(got == want, "metadata fields differ from kcat's view: %d rows vs %d; first differences: %r"
              % (len(got), len(want), [(g, w) for g, w in zip(got, want) if g != w][:3] or (got[:2], want[:2])))


# ================================================================ start modes


@case
def start_latest_reads_only_messages_produced_after_the_start():
    with Broker(["lat:2"]) as b:
        for p in range(2):
            produce(b.servers, "lat", p, ['{"v":%d}' % (-1 - i - 100 * p) for i in range(200)])
        d = workdir("klatest")
        out = os.path.join(d, "out.jsonl")
        job = write_job(d, map_job("klatest", b.servers, "lat", out, start="latest", stop="never"))
        pr = WProc(run_args(job, os.path.join(d, "state")))
        try:
            check(pr.wait_line("running with", timeout=30) is not None, "job did not start\n" + pr.describe())
            # Probe until weir reads new messages (it may resolve `latest` after it logged).
            probes = []

            def seen_probe():
                probes.append(len(probes))
                produce(b.servers, "lat", 0, ['{"v":%d}' % (1000000 + probes[-1])])
                time.sleep(0.3)
                return os.path.exists(out) and any(r["v"] >= 1000000 for r in U.read_jsonl(out))
            check(wait_until(seen_probe, 30, 0.0), "no probe message arrived in the output\n" + pr.describe())
            want = []
            for p in range(2):
                vals = list(range(p * 10000, p * 10000 + 500))
                produce(b.servers, "lat", p, ['{"v":%d}' % v for v in vals])
                want += vals
            check(wait_until(lambda: len([r for r in U.read_jsonl(out) if r["v"] < 1000000]) >= len(want), 30),
                  "output did not get the %d new messages\n%s" % (len(want), pr.describe()))
        finally:
            pr.signal(signal.SIGTERM)
            pr.finish(60)
        expect_exit(pr, 0, "SIGTERM")
        rows = U.read_jsonl(out)
        old = [r for r in rows if r["v"] < 0]
        check(not old, "start: latest read %d messages produced before the start, e.g. %r" % (len(old), old[:2]))
        got = sorted(r["v"] for r in rows if 0 <= r["v"] < 1000000)
        eq(got, sorted(want), "messages produced after the start (each once)")
        seen = sorted(r["v"] - 1000000 for r in rows if r["v"] >= 1000000)
        eq(seen, list(range(seen[0], len(probes))), "probes read: a suffix of those produced")


@case
def start_committed_reads_only_what_the_first_run_did_not_commit():
    with Broker(["com:3"]) as b:
        for p in range(3):
            produce(b.servers, "com", p, ['{"v":%d}' % (p * 1000 + i) for i in range(400)])
        d = workdir("kcom")
        out = os.path.join(d, "out.jsonl")
        state = os.path.join(d, "state")
        job = write_job(d, map_job("kcom", b.servers, "com", out, start="committed"))
        pr = run_weir(run_args(job, state))
        expect_exit(pr, 0, "first run (no committed offsets: earliest)")
        eq(sorted(r["v"] for r in U.read_jsonl(out)), sorted(p * 1000 + i for p in range(3) for i in range(400)),
           "first run reads everything")
        for p in range(3):
            produce(b.servers, "com", p, ['{"v":%d}' % (p * 1000 + i) for i in range(400, 650)])
        # --fresh drops the local checkpoint; `committed` then means the group's offsets (SPEC §5).
        pr = run_weir(run_args(job, state, ["--fresh"]))
        expect_exit(pr, 0, "second run --fresh, start: committed")
        eq(sorted(r["v"] for r in U.read_jsonl(out)), sorted(p * 1000 + i for p in range(3) for i in range(400, 650)),
           "second run reads only the messages after the committed offsets")
        # Another state dir, same job name (same group): nothing new past the second run's commits.
        out2 = os.path.join(d, "out2.jsonl")
        job2 = write_job(d, map_job("kcom", b.servers, "com", out2, start="committed"))
        produce(b.servers, "com", 1, ['{"v":7777}'])
        pr = run_weir(run_args(job2, os.path.join(d, "state2")))
        expect_exit(pr, 0, "third run in another state dir")
        eq([r["v"] for r in U.read_jsonl(out2)], [7777], "third run reads the one new message")


@case
def start_time_reads_messages_from_that_timestamp_rfc3339_and_epoch_ms():
    with Broker(["tim:3"]) as b:
        for p in range(3):
            produce(b.servers, "tim", p, ['{"v":%d}' % (-1 - i - 1000 * p) for i in range(300)])
        time.sleep(0.05)
        t_ms = now_ms()
        time.sleep(0.05)
        want = []
        for p in range(3):
            vals = [p * 1000 + i for i in range(300)]
            produce(b.servers, "tim", p, ['{"v":%d}' % v for v in vals])
            want += vals
        for m in consume(b.servers, "tim"):
            v = json.loads(m["payload"])["v"]
            check((m["ts"] >= t_ms) == (v >= 0), "kcat timestamps straddle TIME: %r" % m)
        d = workdir("ktime")
        secs, ms = divmod(t_ms, 1000)
        rfc = U.rfc3339_prefix(t_ms) + ".%03dZ" % ms
        # the same instant with an offset: 1 hour ahead in +01:00
        rfc_off = U.rfc3339_prefix(t_ms + 3600000) + ".%03d+01:00" % ms
        for i, start in enumerate([rfc, t_ms, rfc_off]):
            out = os.path.join(d, "out%d.jsonl" % i)
            job = write_job(d, map_job("ktime%d" % i, b.servers, "tim", out, start=start))
            pr = run_weir(run_args(job, os.path.join(d, "state%d" % i)))
            expect_exit(pr, 0, "start: %r" % start)
            eq(sorted(r["v"] for r in U.read_jsonl(out)), sorted(want), "values read with start: %r" % (start,))


@case
def file_to_kafka_sink_stamps_event_time_and_start_stop_time_select_by_it():
    """A file -> Kafka job (no window) writes message timestamp = event time and
    key = the `key` expression; a Kafka job with start: TIME, stop: TIME reads
    exactly the records with TIME1 <= ts < TIME2."""
    t0 = 978307200000   # 2001-01-01T00:00:00Z
    rng = random.Random(SEED + 5)
    recs, t = [], t0
    for i in range(4000):
        t += rng.randint(0, 3000)
        recs.append({"id": i, "user": "u%d" % rng.randint(0, 9), "ts": t})
    with Broker(["stamped:3"]) as b:
        d = workdir("kstamp")
        inp = os.path.join(d, "in.jsonl")
        with open(inp, "w") as f:
            f.write("".join(json.dumps(r) + "\n" for r in recs))
        job = {"job": "kstamp", "kafka": {"bootstrap.servers": b.servers},
               "sources": {"in": {"file": {"path": inp}, "event_time": {"field": "ts"}}},
               "sinks": {"out": {"from": "in", "kafka": {"topic": "stamped", "key": "user"}}}}
        pr = run_weir(run_args(write_job(d, job), os.path.join(d, "state")))
        expect_exit(pr, 0, "file -> kafka job")
        msgs = consume(b.servers, "stamped")
        eq(len(msgs), len(recs), "messages written")
        bad = [m for m in msgs if json.loads(m["payload"])["ts"] != m["ts"]
               or m["key"] != json.loads(m["payload"])["user"]]
        check(not bad, "%d messages whose timestamp is not the event time or key not user, e.g. %r" % (len(bad), bad[:2]))
        lo, hi = t0 + 3_600_000, t0 + 2 * 3_600_000
        out = os.path.join(d, "out.jsonl")
        mj = map_job("kstamp2", b.servers, "stamped", out, start="2001-01-01T01:00:00Z", stop="2001-01-01T02:00:00Z")
        mj["operators"][0]["map"]["v"] = "id"
        pr = run_weir(run_args(write_job(d, mj), os.path.join(d, "state2")))
        expect_exit(pr, 0, "start/stop TIME job")
        eq(sorted(r["v"] for r in U.read_jsonl(out)), [r["id"] for r in recs if lo <= r["ts"] < hi],
           "ids read between 01:00 and 02:00")


@case
def topics_list_reads_every_partition_of_both_topics():
    with Broker(["ta:2", "tb:3"]) as b:
        for p in range(2):
            produce(b.servers, "ta", p, ['{"v":%d}' % (p * 1000 + i) for i in range(250)], ["a%d" % i for i in range(250)])
        for p in range(3):
            produce(b.servers, "tb", p, ['{"v":%d}' % (10000 + p * 1000 + i) for i in range(150)])
        want = as_rows(consume(b.servers, "ta") + consume(b.servers, "tb"))
        d = workdir("ktopics")
        out = os.path.join(d, "out.jsonl")
        job = write_job(d, map_job("ktopics", b.servers, ["ta", "tb"], out))
        pr = run_weir(run_args(job, os.path.join(d, "state")))
        expect_exit(pr, 0, "topics: [ta, tb]")
        got = file_rows(out)
        eq(len(got), len(want), "records read from both topics")
        # _partition is the Kafka partition within its topic (SPEC §3).
        check(got == want, "rows differ from kcat's, e.g. %r" % [(g, w) for g, w in zip(got, want) if g != w][:3])


if __name__ == "__main__":
    main()
