"""tests/e2e/recovery_util.py -- driving weir through crashes: processes, checkpoints on disk, the crash loop.

Design: helpers for tests/e2e/test_recovery.py (and any e2e test that kills weir).
Proc starts `weir ARGS` with stdout and stderr read line by line by two threads,
so a test can wait for a log line (`checkpoint N complete`) while the process
runs, then SIGKILL it. checkpoints() reads the state dir the way SPEC §5 lays it
out (checkpoints/chk-N/, complete once chk-N/_metadata exists). crash_until_done
starts a job again and again, SIGKILLs it at seeded random moments and checks
that every start resumes from exactly the newest complete checkpoint on disk;
crash_rounds repeats that (each round from --fresh) until enough kills were made.
reference() runs an uninterrupted job once per key and keeps its outputs.

Invariants:
  1. Only the Python 3 standard library; weir runs with cli_util's environment
     (WEIR_HOME in a temp dir), and every wait has a timeout.
  2. Only processes started here are signalled, each by its own pid.
  3. Output files are compared as bytes (multisets of lines), never re-encoded.

Rules come from SPEC §5 (state dir layout, resume from the latest complete
checkpoint, exactly-once file sinks truncated on restore).
"""

import collections
import os
import re
import shutil
import signal
import subprocess
import threading
import time

from cli_util import WEIR, WEIR_SRC, check, require_binary, tmpdir, weir_env


CHK_RE = re.compile(r"checkpoint (\d+) complete")


RESUME_RE = re.compile(r"resuming from checkpoint (\d+)|already finished \(checkpoint (\d+)\)")


# ================================================================ processes


class Proc:
    """A running `weir ARGS` (or another binary, e.g. weir-faults, with extra
    environment); stdout and stderr are read line by line by threads, so a test
    can wait for a log line while the process runs."""

    def __init__(self, args, stdin=False, binary=None, env=None):
        require_binary()
        self.binary = binary or WEIR
        self.args = [str(a) for a in args]
        self.t0 = time.monotonic()
        self.p = subprocess.Popen([self.binary] + self.args,
                                  stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=weir_env(env))
        self.pid = self.p.pid
        self.err, self.out = [], []
        self.cv = threading.Condition()
        self.open_streams = 2
        self.threads = [threading.Thread(target=self._read, args=(self.p.stderr, self.err), daemon=True),
                        threading.Thread(target=self._read, args=(self.p.stdout, self.out), daemon=True)]
        for t in self.threads:
            t.start()
        self.rc = None

    def _read(self, stream, sink):
        for raw in stream:
            with self.cv:
                sink.append(raw.decode("utf-8", "replace"))
                self.cv.notify_all()
        with self.cv:
            self.open_streams -= 1
            self.cv.notify_all()

    def wait_err(self, regex, count=1, timeout=60.0):
        """Waits until `count` stderr lines match regex; returns the last match, or
        None when stderr closed (the process ended) or timeout passed first."""
        return self.wait_line(regex, count, timeout)

    def wait_line(self, regex, count=1, timeout=60.0, stream="err"):
        """wait_err on stderr ("err") or stdout ("out")."""
        rx = re.compile(regex)
        lines = self.err if stream == "err" else self.out
        t_end = time.monotonic() + timeout
        with self.cv:
            while True:
                ms = [m for m in (rx.search(l) for l in lines) if m]
                if len(ms) >= count:
                    return ms[count - 1]
                left = t_end - time.monotonic()
                if self.open_streams == 0 or left <= 0:
                    return None
                self.cv.wait(min(left, 0.5))

    def alive(self):
        return self.p.poll() is None

    def kill9(self):
        """SIGKILL to this process only; True when it was still running."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGKILL)
            return True
        return False

    def signal(self, sig):
        if self.p.poll() is None:
            self.p.send_signal(sig)

    def finish(self, timeout=120.0):
        try:
            self.rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            for t in self.threads:
                t.join(5)
            raise AssertionError("process did not exit within %.0fs: %s\nstderr tail:\n%s"
                                 % (timeout, self.describe_args(), self.stderr()[-3000:]))
        for t in self.threads:
            t.join(10)
        if self.p.stdin:
            try:
                self.p.stdin.close()
            except OSError:
                pass
        return self.rc

    def seconds(self):
        return time.monotonic() - self.t0

    def stderr(self):
        with self.cv:
            return "".join(self.err)

    def stdout(self):
        with self.cv:
            return "".join(self.out)

    def describe_args(self):
        return "%s %s" % (os.path.basename(self.binary), " ".join(self.args))

    def describe(self):
        return "%s\nexit %s after %.2fs\nstdout: %s\nstderr tail:\n%s" % (
            self.describe_args(), self.rc, self.seconds(), self.stdout()[-1000:] or "(empty)",
            self.stderr()[-3000:] or "(empty)")


def run_to_end(args, timeout=180.0, stdin_bytes=None):
    """Runs weir to completion (stdin_bytes fed on stdin when given); returns the Proc."""
    pr = Proc(args, stdin=stdin_bytes is not None)
    if stdin_bytes is not None:
        try:
            pr.p.stdin.write(stdin_bytes)
            pr.p.stdin.close()
        except (BrokenPipeError, OSError):
            pass
    pr.finish(timeout)
    return pr


def expect_exit(pr, rc, what):
    if pr.rc != rc:
        raise AssertionError("%s: expected exit %d\n%s" % (what, rc, pr.describe()))


# ================================================================ files and checkpoints


def read_bytes(path):
    if not os.path.exists(path):
        return b""
    with open(path, "rb") as f:
        return f.read()


def line_counter(path):
    data = read_bytes(path)
    check(data == b"" or data.endswith(b"\n"), "%s: last line has no terminator: %r" % (path, data[-200:]))
    return collections.Counter(data.split(b"\n")[:-1]) if data else collections.Counter()


def read_lines(path):
    data = read_bytes(path)
    return data.split(b"\n")[:-1] if data else []


def describe_diff(got, want, what, limit=4):
    """got/want: Counters of lines. Returns a message naming missing, extra and
    duplicated lines (empty when equal)."""
    if got == want:
        return ""
    missing = want - got
    extra = got - want
    dups = [(l, n) for l, n in got.items() if n > 1]
    parts = ["%s differs: %d lines written, %d expected; %d missing, %d extra, %d lines written more than once"
             % (what, sum(got.values()), sum(want.values()), sum(missing.values()), sum(extra.values()), len(dups))]
    for l in list(missing)[:limit]:
        parts.append("  missing: %s" % l[:300].decode("utf-8", "replace"))
    for l in list(extra)[:limit]:
        parts.append("  extra (x%d): %s" % (extra[l], l[:300].decode("utf-8", "replace")))
    for l, n in dups[:limit]:
        parts.append("  written %d times: %s" % (n, l[:300].decode("utf-8", "replace")))
    return "\n".join(parts)


def checkpoints(state):
    """(complete ids, pending ids) under STATE/checkpoints (SPEC §5 layout: chk-N/,
    complete once chk-N/_metadata exists)."""
    d = os.path.join(state, "checkpoints")
    done, pending = [], []
    if os.path.isdir(d):
        for name in os.listdir(d):
            m = re.fullmatch(r"chk-0*(\d+)", name)
            if not m:
                continue
            if os.path.exists(os.path.join(d, name, "_metadata")):
                done.append(int(m.group(1)))
            else:
                pending.append(int(m.group(1)))
    return sorted(done), sorted(pending)


def chk_dir(state, cid):
    d = os.path.join(state, "checkpoints")
    for name in os.listdir(d):
        m = re.fullmatch(r"chk-0*(\d+)", name)
        if m and int(m.group(1)) == cid:
            return os.path.join(d, name)
    raise AssertionError("no chk dir for checkpoint %d in %s" % (cid, d))


def resume_id(pr):
    """The checkpoint id a start resumed from (or found finished), or None."""
    m = RESUME_RE.search(pr.stderr())
    if not m:
        return None
    return int(m.group(1) or m.group(2))


def savepoint_path(pr):
    m = re.search(r"^savepoint: (.+)$", pr.stdout(), re.M)
    check(m is not None, "no `savepoint: PATH` line on stdout\n" + pr.describe())
    path = m.group(1).strip()
    check(os.path.isfile(os.path.join(path, "_metadata")),
          "printed savepoint %s has no _metadata\n%s" % (path, pr.describe()))
    return path


# ================================================================ inputs and reference runs


_cache = {}


def flights_base_lines():
    """The 100k flights lines (examples/data/flights-100k.jsonl.zst, unpacked)."""
    if "flights" not in _cache:
        src = os.path.join(WEIR_SRC, "examples", "data", "flights-100k.jsonl.zst")
        check(os.path.exists(src), "missing %s" % src)
        check(shutil.which("zstd") is not None, "zstd is needed to unpack %s" % src)
        data = subprocess.run(["zstd", "-dc", src], stdout=subprocess.PIPE, check=True).stdout
        _cache["flights"] = data.split(b"\n")[:-1]
    return _cache["flights"]


def flights_input(path, n_lines, rng):
    """n_lines of flights: the 100k lines repeated with event times shifted by a
    week per repetition (the file spans 2001-01-01..07), plus a few malformed
    lines and a few records 3 hours late (dead letters: json, event_time, late)."""
    base = flights_base_lines()
    prefix = b'{"ts":"2001-01-'
    out = []
    rep = 0
    while len(out) < n_lines:
        check(rep < 4, "flights input limited to 4 weeks (400k lines)")
        for line in base:
            if len(out) >= n_lines:
                break
            check(line.startswith(prefix), "unexpected flights line %r" % line[:60])
            day = int(line[15:17]) + 7 * rep
            line = line[:15] + b"%02d" % day + line[17:]
            out.append(line)
        rep += 1
    bad = [b'{"ts":"2001-01-03T10:00:00Z","origin":"SFO"', b'[1,2,3]', b'{"origin":"JFK","delay":3}',
           b'{"ts":"not a time","origin":"BOS","delay":1}', b'{"ts":"2001-01-02T01:00:00Z","origin":"\xff\xfe"}']
    n_bad = max(5, n_lines // 6000)
    for j in range(n_bad):
        i = rng.randrange(1000, len(out))
        if j % 2:
            out.insert(i, bad[(j // 2) % len(bad)])
        else:   # a copy of an earlier line, 3 hours earlier than the line it follows: late
            line = out[i - 1]
            day, hour = int(line[15:17]), int(line[18:20])
            if day > 1 and line.startswith(prefix):
                hour -= 3
                if hour < 0:
                    day, hour = day - 1, hour + 24
                out.insert(i, line[:15] + b"%02dT%02d" % (day, hour) + line[20:])
    with open(path, "wb") as f:
        f.write(b"\n".join(out) + b"\n")
    return path


def flights_job_args(job, d, inp, state, extra=()):
    return ["run", job, "--state-dir", state,
            "--set", "sources.flights.file.path=" + inp,
            "--set", "sinks.out.file.path=" + os.path.join(d, "out.jsonl"),
            "--set", "dead_letter.file.path=" + os.path.join(d, "dl.jsonl"),
            "--set", "checkpoint.interval=50ms"] + list(extra)


def example(name):
    return os.path.join(WEIR_SRC, "examples", name)


class Workspace:
    """A job's directory: out.jsonl, dl.jsonl, state/ below d."""

    def __init__(self, prefix):
        self.d = tmpdir(prefix)
        self.out = os.path.join(self.d, "out.jsonl")
        self.dl = os.path.join(self.d, "dl.jsonl")
        self.state = os.path.join(self.d, "state")


class TooFast(Exception):
    """The job ended before the test could interrupt it where it wanted to."""


def retrying(fn, attempts=4):
    """Runs fn() until it does not raise TooFast (a fast machine can finish a
    bounded job before a signal lands); fails after `attempts` tries."""
    for i in range(attempts):
        try:
            return fn()
        except TooFast as e:
            last = e
    raise AssertionError("%d attempts: %s -- the input is too small for this machine "
                         "(raise WEIR_RECOVERY_SCALE)" % (attempts, last))


NONFINAL_CHK = r"checkpoint \d+ complete(?!.*job finished)"


def reference(key, make_args, timeout=300.0):
    """Runs the uninterrupted reference once per key; returns (ws, seconds)."""
    if key not in _cache:
        ws = Workspace("ref")
        pr = run_to_end(make_args(ws) + ["--fresh"], timeout)
        expect_exit(pr, 0, "uninterrupted reference run")
        check(os.path.getsize(ws.out) > 0, "reference run wrote no output\n" + pr.describe())
        _cache[key] = (ws, pr.seconds())
    return _cache[key]


# ================================================================ the crash loop


TORN = b'{"torn write":'


class CrashStats:
    def __init__(self):
        self.kills = []          # (mode, seconds after start, pending chk dirs right after)
        self.starts = 0
        self.rounds = 0
        self.torn = 0

    def summary(self):
        modes = collections.Counter(k[0] for k in self.kills)
        during = sum(1 for k in self.kills if k[2])
        return ("%d kills in %d starts over %d rounds (%s; %d while a checkpoint was being written; "
                "%d torn writes appended)"
                % (len(self.kills), self.starts, self.rounds,
                   ", ".join("%s %d" % kv for kv in sorted(modes.items())), during, self.torn))


def crash_until_done(args, state, rng, kills_wanted, T, stats, fresh_first=True, max_starts=400,
                     parallelisms=None, torn_paths=()):
    """Starts `weir ARGS` (the first time with --fresh) and SIGKILLs it at seeded
    random moments until kills_wanted kills were made, then lets it run to its end.
    Checks every start: exit 0 or killed by us, and it resumes from exactly the
    newest complete checkpoint on disk. parallelisms: each start picks one of them
    (--set parallelism=P; a checkpoint restores under another parallelism).
    torn_paths: files (sink, dead letters) that get a partial line appended after
    some kills."""
    first = True
    killed_here = 0
    torn = set()    # paths that got a torn write since the last clean exit
    while True:
        check(stats.starts < max_starts * (stats.rounds + 1),
              "no progress: %d starts without finishing" % stats.starts)
        fresh = first and fresh_first
        want_resume = None if fresh else (checkpoints(state)[0] or [None])[-1]
        pending_before = set(checkpoints(state)[1])
        extra = ["--set", "parallelism=%d" % rng.choice(parallelisms)] if parallelisms else []
        pr = Proc(args + extra + (["--fresh"] if fresh else []))
        first = False
        stats.starts += 1
        mode = None
        if killed_here < kills_wanted:
            r = rng.random()
            if r < 0.30:     # right after a checkpoint completed
                mode = "after-checkpoint"
                pr.wait_err(CHK_RE.pattern, count=rng.choice([1, 1, 2]), timeout=30 + 20 * T)
                time.sleep(rng.uniform(0, 0.004))
            elif r < 0.45:   # aimed at the next checkpoint (interval 50ms)
                mode = "next-checkpoint"
                pr.wait_err(CHK_RE.pattern, count=1, timeout=30 + 20 * T)
                time.sleep(rng.uniform(0.03, 0.12))
            elif r < 0.55:   # during startup or restore
                mode = "startup"
                time.sleep(rng.uniform(0, 0.03))
            else:
                mode = "random"
                time.sleep(rng.uniform(0, 0.8 * T))
        at = pr.seconds()
        sent = mode is not None and pr.kill9()
        rc = pr.finish(timeout=60 + 30 * T)
        got_resume = resume_id(pr)
        started = "running with" in pr.stderr() or got_resume is not None
        if want_resume is None:
            check(got_resume is None, "start %d resumed from checkpoint %s, but no complete checkpoint "
                  "was on disk%s\n%s" % (stats.starts, got_resume, " (--fresh)" if fresh else "", pr.describe()))
        elif started:
            check(got_resume == want_resume,
                  "start %d: newest complete checkpoint on disk was %d, but weir %s\n%s"
                  % (stats.starts, want_resume,
                     "did not log a resume" if got_resume is None else "resumed from %d" % got_resume,
                     pr.describe()))
        if sent and rc == -signal.SIGKILL:
            killed_here += 1
            stats.kills.append((mode, at, sorted(set(checkpoints(state)[1]) - pending_before)))
            if rng.random() < 0.25 and "job finished" not in pr.stderr():
                # A torn write: a partial line past the checkpointed length, which the
                # restore must cut off (SPEC §5: truncated to the checkpointed length).
                for path in torn_paths:
                    if os.path.exists(path):
                        torn.add(path)
                        with open(path, "ab") as f:
                            f.write(TORN)
                stats.torn += 1
            continue
        if torn and "already finished" in pr.stderr():
            # The kill came after the final checkpoint (its log line was lost): a
            # finished job writes nothing and (today) does not truncate, so the
            # test's own garbage is removed here. Real output ends with a newline
            # and TORN has none, so only this test's trailing partial lines go,
            # however many starts (and resumed runs) happened in between.
            for path in torn:
                data = read_bytes(path)
                end = len(data)
                while data[:end].endswith(TORN):
                    end -= len(TORN)
                if end < len(data):
                    os.truncate(path, end)
        torn = set()
        if rc == 0:
            return pr
        raise AssertionError("start %d: weir exited %s (expected 0, or SIGKILL from this test)\n%s"
                             % (stats.starts, rc, pr.describe()))


def crash_rounds(args, ws, rng, T, compare, kills, parallelisms=None):
    """Rounds of crash_until_done (each starting with --fresh) until `kills` kills
    were made, at least one of them while a checkpoint was being written (up to 15
    more kills are made for that); compare() checks the output after each round."""
    stats = CrashStats()
    while len(stats.kills) < kills or (not any(k[2] for k in stats.kills) and len(stats.kills) < kills + 15):
        if len(stats.kills) >= kills:
            kills += 1
        before = len(stats.kills)
        crash_until_done(args, ws.state, rng, kills - before, T, stats, parallelisms=parallelisms,
                         torn_paths=(ws.out, ws.dl))
        stats.rounds += 1
        try:
            compare()
        except AssertionError as e:
            raise AssertionError("after round %d (%s):\n%s" % (stats.rounds, stats.summary(), e))
        check(stats.rounds < 4 * kills, "%d rounds without reaching %d kills" % (stats.rounds, kills))
    check(any(k[2] for k in stats.kills), "none of %d kills landed while a checkpoint was being written "
          "(a chk-N dir without _metadata)" % len(stats.kills))
    return stats
