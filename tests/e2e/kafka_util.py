"""tests/e2e/kafka_util.py -- a dev broker, kcat and Kafka job files for the Kafka end-to-end tests.

Design: the Kafka tests (test_kafka.py, test_kafka_delivery.py,
test_kafka_exactly_once.py) run `weir broker` (librdkafka's mock cluster, SPEC
§1) as the only broker and use kcat -- an independent Kafka client -- to put
input into topics and to read weir's output back (key, timestamp, headers via
`kcat -C -e -J`). Broker starts `weir broker --topic NAME:P ... [--control]`,
reads `bootstrap.servers=HOST:PORT` from its first stdout line and, with
--control, sends `down ID` / `up ID` / `errors ...` lines and reads one
`ok` / `error: ...` answer per line. WProc runs weir (or weir-faults, with
$WEIR_FAULT) with stderr and stdout read line by line by threads, so a test can
wait for a log line and then SIGKILL it. The event generator writes keyed,
out-of-order events per partition; model_per_partition runs the independent
model (weir_model.py) over each partition's values in offset order, which is
what SPEC §4 promises for keys that live in one partition.

Invariants:
  1. Python 3 standard library only; every process has a timeout; only
     processes started here are signalled, each by its own pid.
  2. Records are produced per partition (`kcat -P -p N`), so each key's events
     keep their order and Kafka offset i is line i of what was produced there
     (the tests read the topic back with kcat and use what is really there).
  3. The mock broker shows aborted transactional messages to read_committed
     consumers and keeps only ~5 MiB per partition: inputs stay well below it.

Rules come from SPEC §1 (weir broker), §2 (kafka sources/sinks, start/stop),
§3 (metadata fields), §5 (delivery), §6 (dead letters).
"""

import collections
import json
import os
import re
import signal
import subprocess
import threading
import time

import e2e_util as U
import weir_model as M
from cli_util import WEIR, Skip, check, eq, require_binary, tmpdir, weir_env
from recovery_util import Proc

WEIR_FAULTS = os.environ.get("WEIR_FAULTS") or os.path.join(os.path.dirname(WEIR), "weir-faults")
KCAT = os.environ.get("KCAT") or "kcat"
FETCH = ["-X", "fetch.wait.max.ms=10"]


def sanitized(path=WEIR):
    """True when the binary is built with AddressSanitizer (several times slower)."""
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


ASAN = sanitized()


def scale():
    return float(os.environ.get("WEIR_KAFKA_SCALE") or ("0.3" if ASAN else "1.0"))


def now_ms():
    return int(time.time() * 1000)


def require_kcat():
    if subprocess.run(["sh", "-c", "command -v %s" % KCAT], stdout=subprocess.DEVNULL).returncode != 0:
        raise Skip("kcat is not installed")


# ================================================================ processes


# A running weir (or weir-faults): recovery_util.Proc, which reads stdout and
# stderr line by line so a test can wait for a log line (wait_line).
WProc = Proc


def run_weir(args, timeout=180.0, binary=None, env=None):
    pr = WProc(args, binary=binary, env=env)
    pr.finish(timeout)
    return pr


def expect_exit(pr, rc, what):
    if pr.rc != rc:
        raise AssertionError("%s: expected exit %d\n%s" % (what, rc, pr.describe()))


# ================================================================ the broker


class Broker:
    """`weir broker --topic NAME:P ... [--control]`; use as a context manager."""

    def __init__(self, topics=(), control=False, partitions=None):
        require_kcat()
        require_binary()
        args = ["broker"]
        if partitions:
            args += ["--partitions", str(partitions)]
        for t in topics:
            args += ["--topic", t]
        if control:
            args.append("--control")
        cmd = os.environ.get("WEIR_E2E_BROKER")    # development aid only
        binary = cmd or WEIR
        if cmd:
            args = args[1:]
        self.control_on = control
        self.p = subprocess.Popen([binary] + args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=weir_env())
        self.errlines = []
        threading.Thread(target=self._drain_err, daemon=True).start()
        line = self._readline(20.0)
        if line is None or not line.startswith("bootstrap.servers="):
            self.stop()
            err = "".join(self.errlines)
            if "unknown command" in err.lower() or "usage" in err.lower():
                raise Skip("weir has no `broker` command yet: %s" % err.strip()[:300])
            raise AssertionError("weir broker did not print bootstrap.servers=HOST:PORT first; got %r\n"
                                 "stderr: %s" % (line, err[-2000:]))
        self.servers = line.strip().split("=", 1)[1]
        check(re.fullmatch(r"127\.0\.0\.1:\d+|localhost:\d+|\[::1\]:\d+", self.servers) is not None,
              "weir broker should listen on loopback, printed %r" % self.servers)

    def _drain_err(self):
        for raw in self.p.stderr:
            self.errlines.append(raw.decode("utf-8", "replace"))

    def _readline(self, timeout):
        box = []
        t = threading.Thread(target=lambda: box.append(self.p.stdout.readline()), daemon=True)
        t.start()
        t.join(timeout)
        if not box:
            return None
        return box[0].decode("utf-8", "replace") if box[0] else None

    def control(self, command, timeout=10.0):
        """Sends one control line; returns the answer line (stripped)."""
        check(self.control_on, "broker started without --control")
        self.p.stdin.write((command + "\n").encode())
        self.p.stdin.flush()
        ans = self._readline(timeout)
        check(ans is not None, "weir broker did not answer %r" % command)
        return ans.strip()

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# ================================================================ kcat


def kcat(args, input_bytes=None, timeout=60.0):
    p = subprocess.run([KCAT] + list(args), input=input_bytes, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p


def produce(servers, topic, partition, values, keys=None, extra=()):
    """Produces values (bytes or str, no newline inside) to one partition in
    order; keys: parallel list (str; None = no key) or None."""
    vals = [v.encode() if isinstance(v, str) else v for v in values]
    for v in vals:
        check(b"\n" not in v and v != b"", "a value for kcat -P must be one non-empty line: %r" % v[:80])
    args = ["-P", "-b", servers, "-t", topic, "-X", "enable.idempotence=true", "-X", "linger.ms=5"]
    if partition is not None:
        args += ["-p", str(partition)]
    args += list(extra)
    if keys is None:
        data = b"".join(v + b"\n" for v in vals)
        p = kcat(args, data)
        check(p.returncode == 0, "kcat produce to %s failed: %s" % (topic, p.stderr.decode()[-1000:]))
        return
    # Keyed and unkeyed runs: kcat -K takes the key before the delimiter (\x01).
    i = 0
    while i < len(vals):
        keyed = keys[i] is not None
        j = i
        while j < len(vals) and (keys[j] is not None) == keyed:
            j += 1
        if keyed:
            data = b"".join(k.encode() + b"\x01" + v + b"\n" for k, v in zip(keys[i:j], vals[i:j]))
            p = kcat(args + ["-K", "\\x01"], data)
        else:
            p = kcat(args, b"".join(v + b"\n" for v in vals[i:j]))
        check(p.returncode == 0, "kcat produce to %s failed: %s" % (topic, p.stderr.decode()[-1000:]))
        i = j


def consume(servers, topic, timeout=60.0, extra=()):
    """Every message of topic (all partitions) up to the end offsets, as kcat -J
    dicts (topic, partition, offset, ts, headers, key, payload)."""
    p = kcat(["-C", "-b", servers, "-t", topic, "-e", "-J", "-q"] + FETCH + list(extra), timeout=timeout)
    check(p.returncode == 0, "kcat -C %s failed (exit %d): %s" % (topic, p.returncode, p.stderr.decode()[-1000:]))
    out = []
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        if line.strip():
            out.append(json.loads(line))
    return out


def read_parts(b, topic, check_offsets=True):
    """{partition: [value bytes]} of a topic as kcat reads it, in offset order;
    with check_offsets, the offsets must be 0, 1, 2, ... (nothing skipped)."""
    parts = {}
    for m in consume(b.servers, topic):
        parts.setdefault(m["partition"], []).append(m)
    out = {}
    for p, ms in parts.items():
        ms.sort(key=lambda m: m["offset"])
        if check_offsets:
            eq([m["offset"] for m in ms], list(range(len(ms))), "offsets of %s[%d] as kcat reads them" % (topic, p))
        out[p] = [m["payload"].encode() for m in ms]
    return out


def headers_of(msg):
    """kcat -J headers ["n1","v1","n2","v2"] -> {name: [values]}."""
    h = msg.get("headers") or []
    out = collections.defaultdict(list)
    for i in range(0, len(h) - 1, 2):
        out[h[i]].append(h[i + 1])
    return out


# ================================================================ job files


def kafka_window_job(name, servers, *, in_topic="events", out_topic="results", start="earliest",
                     stop="latest", delivery=None, interval="200ms", parallelism=2, size="10s",
                     delay="2s", lateness="0s", dlq=None, dlq_topic=None, source_extra=None):
    """A job dict: Kafka source (event_time ts) -> tumbling window over user ->
    Kafka sink; dead letters to a file (dlq) or a topic (dlq_topic)."""
    src = {"topic": in_topic} if isinstance(in_topic, str) else {"topics": list(in_topic)}
    src["start"] = start
    src["stop"] = stop
    if source_extra:
        src.update(source_extra)
    sink = {"topic": out_topic}
    if delivery:
        sink["delivery"] = delivery
    job = {
        "job": name,
        "parallelism": parallelism,
        "checkpoint": {"interval": interval},
        "kafka": {"bootstrap.servers": servers},
        "sources": {"in": {"kafka": src, "event_time": {"field": "ts"}, "watermark": {"delay": delay}}},
        "operators": [{"name": "w", "from": "in", "window": {
            "key": ["user"], "tumbling": size, "allowed_lateness": lateness,
            "aggregates": {n: f for n, f in AGGS}}}],
        "sinks": {"out": {"from": "w", "kafka": sink}},
    }
    if dlq_topic:
        job["dead_letter"] = {"kafka": {"topic": dlq_topic}}
    elif dlq:
        job["dead_letter"] = {"file": {"path": dlq}}
    return job


def write_job(d, job):
    path = os.path.join(d, job["job"] + ".yaml")
    with open(path, "w") as f:
        f.write(U.to_yaml(job))
    return path


# ================================================================ generated events

AGGS = [("n", "count()"), ("total", "sum(amount)"), ("hi", "max(amount)"), ("lo", "min(amount)"),
        ("f", "first(amount)"), ("l", "last(amount)"), ("d", "count_distinct(amount)")]
T0 = 1_790_000_000_000
BAD = [b'{"user":"k0","ts":', b'"just a string"', b'[1,2]', b'{"user":"k1","amount":3}',
       b'{"user":"k2","ts":"yesterday","amount":1}']


def gen_partition(rng, part, n, keys, *, delay_ms=2000, late_keys=0, bad=0, flush=False, t0=T0,
                  step_ms=60):
    """n keyed JSON events for one partition (list of bytes). Event times rise by
    0..2*step_ms per event and jitter back by less than the watermark delay (so
    per the model none of them is late); late_keys events each get a key of its
    own ("late-P-I") and an event time a minute behind (late per the partition's
    own watermark, SPEC §4: whether weir judges them late depends on how
    partitions interleave); bad malformed lines; flush: a last event an hour
    ahead (an unbounded job then fires every earlier window)."""
    base = t0
    out = []
    for i in range(n):
        base += rng.randint(0, 2 * step_ms)
        r = rng.random()
        t = base - rng.randint(0, delay_ms - 1) if r < 0.2 else base
        rec = {"user": rng.choice(keys), "ts": t}
        a = rng.random()
        if a < 0.05:
            pass
        elif a < 0.55:
            rec["amount"] = rng.randint(-50, 1000)
        else:
            rec["amount"] = rng.randint(0, 4000) / 8.0
        out.append(json.dumps(rec, separators=(",", ":")).encode())
    for j in range(late_keys):
        i = rng.randrange(n // 4, n)
        t = json.loads(out[i - 1])["ts"] - 60000 - rng.randint(0, 30000)
        out.insert(i, json.dumps({"user": "late-%d-%d" % (part, j), "ts": t, "amount": 7 + j}).encode())
    for j in range(bad):
        out.insert(rng.randrange(1, len(out)), BAD[(j + part) % len(BAD)])
    if flush:
        out.append(json.dumps({"user": "flush-%d" % part, "ts": base + 3_600_000, "amount": 0}).encode())
    return out


def keys_for(part, n_keys=6):
    return ["k%d-%d" % (part, i) for i in range(n_keys)]


def model_job(delay_ms=2000, size_ms=10000, lateness_ms=0, window_op="w"):
    return M.ModelJob(key=["user"], kind="tumbling", size_ms=size_ms, lateness_ms=lateness_ms,
                      delay_ms=delay_ms, window_op=window_op,
                      aggregates=[(n,) + M.parse_agg(f) for n, f in AGGS])


def model_per_partition(parts, mj):
    """parts: {partition: [value bytes in offset order]}. Runs the model over
    each partition alone; returns ({window id: final record},
    {(partition, offset): dead letter}, {window id: partition}). Model byte
    offsets are mapped back to Kafka offsets."""
    finals, dead, where = {}, {}, {}
    for p, vals in parts.items():
        data = b"".join(v + b"\n" for v in vals)
        starts = {}
        pos = 0
        for i, v in enumerate(vals):
            starts[pos] = i
            pos += len(v) + 1
        res = M.run_model(data, mj)
        for wid, rec in res.final.items():
            check(wid not in finals, "key %r lives in two partitions" % (wid[0],))
            finals[wid] = rec
            where[wid] = p
        for d in res.dead:
            d = dict(d)
            d["offset"] = starts[d["offset"]]
            dead[(p, d["offset"])] = d
    return finals, dead, where


def window_wid(rec):
    return ((M.norm_value(rec.get("user")),), rec.get("window_start"), rec.get("window_end"))


def results_from(msgs):
    """kcat messages of a window sink -> list of (msg, decoded record) in
    (partition, offset) order; checks each value is one JSON object."""
    out = []
    for m in sorted(msgs, key=lambda m: (m["partition"], m["offset"])):
        try:
            rec = json.loads(m["payload"], object_pairs_hook=collections.OrderedDict)
        except (TypeError, ValueError):
            raise AssertionError("output message is not JSON: %r" % (m,))
        check(isinstance(rec, dict), "output message is not an object: %r" % m["payload"][:200])
        out.append((m, rec))
    return out


def last_per_window(pairs):
    last = {}
    for m, rec in pairs:
        last[window_wid(rec)] = rec
    return {k: v for k, v in last.items() if v.get("retracted") is not True}


def compare_windows(got, want, only=None, limit=6):
    """got/want: {wid: record}. only: the wids to compare (default all of want);
    windows in got outside `only` and outside want are reported too."""
    names = [n for n, _ in AGGS]
    keys = set(want) if only is None else set(only)
    problems = []
    for wid in sorted(keys - set(got), key=repr)[:limit]:
        problems.append("missing window %s" % json.dumps(want.get(wid)))
    n_bad = 0
    for wid in sorted(keys & set(got), key=repr):
        bad = []
        for a in names:
            ok, why = U.values_equal(want[wid][a], got[wid].get(a))
            if not ok:
                bad.append("%s: %s" % (a, why))
        if list(got[wid].keys()) != ["user", "window_start", "window_end"] + names:
            bad.append("members %r" % list(got[wid].keys()))
        if bad:
            n_bad += 1
            if n_bad <= limit:
                problems.append("window %s: %s (want %s)" % (json.dumps(got[wid]), "; ".join(bad),
                                                             json.dumps(want[wid])))
    missing = len(keys - set(got))
    if problems:
        raise AssertionError("%d windows expected, %d missing, %d differ:\n  %s"
                             % (len(keys), missing, n_bad, "\n  ".join(problems)))


def wait_until(fn, timeout, interval=0.2):
    """Calls fn() until it returns a true value; returns it, or None at timeout."""
    t_end = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() >= t_end:
            return None
        time.sleep(interval)


def workdir(prefix):
    return tmpdir(prefix)
