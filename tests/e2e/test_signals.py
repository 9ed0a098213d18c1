"""tests/e2e/test_signals.py -- stdin sources, stdout sinks, SIGINT/SIGTERM (SPEC §1, §4, §5).

A job reads stdin through a pipe that this test holds open. After the fed lines are
consumed (the pipe is empty, checked with FIONREAD, plus a grace period), SIGINT or
SIGTERM must stop the job: exit 0 within a few seconds, every window the watermark
has passed emitted and flushed to the file sink, and no window the watermark has not
reached (SPEC §5: stop reading, final checkpoint, flush; SPEC §4: a window fires only
when the watermark reaches its end -- a stop fires nothing early). At EOF every open
window fires (watermark +infinity) and weir exits 0. A map/filter job from stdin to
stdout prints exactly the right records and nothing else on stdout.
"""

import fcntl
import json
import os
import select
import signal
import struct
import subprocess
import termios
import threading
import time

from cli_util import (case, check, eq, final_windows, main, parse_jsonl, read_jsonl,
                      read_text, spawn, tmpdir, weir, write)

STOP_TIMEOUT_S = 8.0


def window_job(d, name="sig-job", interval="10s"):
    return write(os.path.join(d, "job.yaml"), f"""\
job: {name}
parallelism: 2
checkpoint:
  interval: {interval}
sources:
  input:
    stdin: {{}}
    event_time: {{ field: ts }}
operators:
  - name: win
    from: input
    window:
      key: [k]
      tumbling: 10s
      aggregates:
        n: count()
        total: sum(v)
sinks:
  out:
    from: win
    file: {{ path: {json.dumps(os.path.join(d, "out.jsonl"))} }}
""")


# Watermark after these: 25000 (delay 0). Windows [0,10s) and [10s,20s) have closed;
# [20s,30s) is open for both keys.
FEED = [
    {"ts": 1000, "k": "a", "v": 1},
    {"ts": 5000, "k": "a", "v": 2},
    {"ts": 9000, "k": "b", "v": 4},
    {"ts": 12000, "k": "a", "v": 8},
    {"ts": 15000, "k": "b", "v": 16},
    {"ts": 19999, "k": "b", "v": 32},
    {"ts": 20000, "k": "a", "v": 64},
    {"ts": 25000, "k": "b", "v": 128},
]

CLOSED = [
    {"k": "a", "window_start": 0, "window_end": 10000, "n": 2, "total": 3},
    {"k": "b", "window_start": 0, "window_end": 10000, "n": 1, "total": 4},
    {"k": "a", "window_start": 10000, "window_end": 20000, "n": 1, "total": 8},
    {"k": "b", "window_start": 10000, "window_end": 20000, "n": 2, "total": 48},
]
OPEN = [
    {"k": "a", "window_start": 20000, "window_end": 30000, "n": 1, "total": 64},
    {"k": "b", "window_start": 20000, "window_end": 30000, "n": 1, "total": 128},
]


def lines(recs):
    return "".join(json.dumps(r) + "\n" for r in recs).encode()


def start(d, job, stdout_pipe=False):
    """Starts `weir run job` with stdin a pipe this test holds open, stderr (and
    stdout unless stdout_pipe) going to files in d. stdin is only ever closed on
    purpose: closing it is EOF, which fires every window."""
    err_path = os.path.join(d, "stderr.txt")
    out_path = os.path.join(d, "stdout.txt")
    errf = open(err_path, "wb")
    outf = subprocess.PIPE if stdout_pipe else open(out_path, "wb")
    try:
        p = spawn("run", job, "--state-dir", os.path.join(d, "state"), stdout=outf, stderr=errf)
    finally:
        errf.close()
        if not stdout_pipe:
            outf.close()
    p.err_path, p.out_path = err_path, None if stdout_pipe else out_path
    return p


def stderr_of(p):
    return read_text(p.err_path)[-3000:]


def feed(p, data):
    """Writes data to weir's stdin; a weir that already exited fails the case."""
    try:
        p.stdin.write(data)
        p.stdin.flush()
    except (BrokenPipeError, ValueError):
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            pass
        raise AssertionError("weir exited (rc %s) before reading its input; stderr:\n%s"
                             % (p.returncode, stderr_of(p)))


def pipe_pending_bytes(fd):
    buf = fcntl.ioctl(fd, termios.FIONREAD, struct.pack("i", 0))
    return struct.unpack("i", buf)[0]


def wait_consumed(p, grace_s=1.5, limit_s=15.0):
    """Waits until weir has read everything written to its stdin pipe."""
    fd = p.stdin.fileno()
    t_end = time.monotonic() + limit_s
    while pipe_pending_bytes(fd) > 0:
        if p.poll() is not None:
            raise AssertionError("weir exited early with %s; stderr:\n%s" % (
                p.returncode, stderr_of(p)))
        if time.monotonic() > t_end:
            raise AssertionError("weir did not read its stdin within %ss" % limit_s)
        time.sleep(0.05)
    time.sleep(grace_s)
    check(p.poll() is None, "weir exited before the signal (rc %s): %s" % (
        p.returncode, stderr_of(p) if p.poll() is not None else ""))


def finish(p, timeout):
    """Waits for exit WITHOUT closing stdin (communicate() would close it, and EOF
    racing the signal would fire every window). Returns (rc, stdout, stderr,
    seconds); kills on timeout."""
    t0 = time.monotonic()
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        raise AssertionError("weir did not exit within %ss of the stop; stderr:\n%s" % (
            timeout, stderr_of(p)))
    secs = time.monotonic() - t0
    if p.out_path:
        out = read_text(p.out_path)
    else:
        out = p.stdout.read().decode(errors="replace")
    return p.returncode, out, read_text(p.err_path), secs


def cleanup(p):
    if p.poll() is None:
        p.kill()
        p.wait()
    for f in (p.stdin, p.stdout):
        try:
            if f is not None:
                f.close()
        except OSError:
            pass


def sorted_windows(path):
    fin = final_windows(read_jsonl(path))
    return sorted(fin.values(), key=lambda w: (w["window_start"], w["k"]))


def stop_with(sig):
    d = tmpdir("sig")
    job = window_job(d)
    p = start(d, job)
    try:
        feed(p, lines(FEED))
        wait_consumed(p)
        p.send_signal(sig)
        rc, out, err, secs = finish(p, STOP_TIMEOUT_S)
    finally:
        cleanup(p)
    check(rc == 0, "exit %s after %s, want 0; stderr:\n%s" % (rc, signal.Signals(sig).name,
                                                               err[-3000:]))
    got = sorted_windows(os.path.join(d, "out.jsonl"))
    early = [w for w in got if w["window_end"] > 25000]
    check(not early, "windows the watermark (25000) has not reached were emitted on %s "
          "(fire nothing early): %s" % (signal.Signals(sig).name, early))
    eq(got, sorted(CLOSED, key=lambda w: (w["window_start"], w["k"])),
       "windows flushed to the file sink before the %s exit" % signal.Signals(sig).name)


@case
def sigint_exits_0_flushes_closed_windows_and_fires_nothing_early():
    stop_with(signal.SIGINT)


@case
def sigterm_exits_0_flushes_closed_windows_and_fires_nothing_early():
    stop_with(signal.SIGTERM)


@case
def sigint_with_a_watermark_delay_fires_only_windows_the_watermark_passed():
    # delay 6s: the watermark after FEED is 25000 - 6000 = 19000, so [10s,20s) is
    # still open and must not be emitted on SIGINT.
    d = tmpdir("sigdelay")
    job = window_job(d)
    text = read_text(job).replace("    event_time: { field: ts }\n",
                                  "    event_time: { field: ts }\n    watermark: { delay: 6s }\n")
    check("delay: 6s" in text, "test bug")
    write(job, text)
    p = start(d, job)
    try:
        feed(p, lines(FEED))
        wait_consumed(p)
        p.send_signal(signal.SIGINT)
        rc, out, err, secs = finish(p, STOP_TIMEOUT_S)
    finally:
        cleanup(p)
    check(rc == 0, "exit %s, want 0; stderr:\n%s" % (rc, err[-3000:]))
    eq(sorted_windows(os.path.join(d, "out.jsonl")),
       sorted([w for w in CLOSED if w["window_end"] <= 19000],
              key=lambda w: (w["window_start"], w["k"])),
       "windows emitted with watermark 19000")


def endless(i):
    """Record i of an endless in-order stream: one a second, keys cycle over 3."""
    return {"ts": i * 1000, "k": "k%d" % (i % 3), "v": i}


@case
def sigint_while_input_keeps_flowing_stops_promptly_with_exact_windows():
    d = tmpdir("flow")
    job = window_job(d)
    p = start(d, job)
    state = {"written": 0, "stop": False}

    def writer():
        i = 0
        try:
            while not state["stop"]:
                chunk = "".join(json.dumps(endless(j)) + "\n" for j in range(i, i + 500))
                p.stdin.write(chunk.encode())
                p.stdin.flush()
                i += 500
                state["written"] = i
        except (BrokenPipeError, ValueError, OSError):
            pass

    th = threading.Thread(target=writer, daemon=True)
    th.start()
    try:
        time.sleep(2.0)
        check(p.poll() is None, "weir exited while input was flowing (rc %s)" % p.returncode)
        check(state["written"] > 0, "weir read nothing in 2 s")
        p.send_signal(signal.SIGINT)
        rc, out, err, secs = finish(p, STOP_TIMEOUT_S)
    finally:
        state["stop"] = True
        if p.poll() is None:
            p.kill()
            p.wait()
        th.join(5)
        cleanup(p)
    check(rc == 0, "exit %s after SIGINT with input flowing, want 0; stderr:\n%s"
          % (rc, err[-3000:]))
    recs = read_jsonl(os.path.join(d, "out.jsonl"))
    check(recs, "no window was flushed although %d records were written" % state["written"])
    seen, bad = set(), []
    for r in recs:
        ident = (r["k"], r["window_start"])
        if ident in seen:
            bad.append(("emitted twice", r))
        seen.add(ident)
        ws = r["window_start"]
        want_v = [i for i in range(ws // 1000, ws // 1000 + 10) if i % 3 == int(r["k"][1:])]
        want = {"k": r["k"], "window_start": ws, "window_end": ws + 10000,
                "n": len(want_v), "total": sum(want_v)}
        if r != want:
            bad.append((r, want))
    check(not bad, "wrong windows after SIGINT (got, want): %s" % bad[:5])
    # A window that fired means the watermark passed its end, so every earlier
    # window (each key has records in every window) fired too: no gaps.
    max_end = max(r["window_end"] for r in recs)
    want_ids = {("k%d" % k, ws) for ws in range(0, max_end, 10000) for k in range(3)}
    missing = sorted(want_ids - seen, key=lambda x: (x[1], x[0]))
    check(not missing, "%d windows before the last flushed one are missing, e.g. %s"
          % (len(missing), missing[:5]))
    print("     %d records written, %d windows flushed, stopped in %.2fs"
          % (state["written"], len(recs), secs))


@case
def sigint_before_any_input_exits_0_with_empty_output():
    d = tmpdir("sig0")
    job = window_job(d)
    p = start(d, job)
    try:
        time.sleep(1.5)
        check(p.poll() is None, "weir exited before any input (rc %s)" % p.returncode)
        p.send_signal(signal.SIGINT)
        rc, out, err, secs = finish(p, STOP_TIMEOUT_S)
    finally:
        cleanup(p)
    check(rc == 0, "exit %s, want 0; stderr:\n%s" % (rc, err[-3000:]))
    out_path = os.path.join(d, "out.jsonl")
    check(not os.path.exists(out_path) or read_text(out_path) == "",
          "no window may fire: %r" % (read_text(out_path) if os.path.exists(out_path) else ""))


@case
def stdin_eof_fires_every_open_window_and_exits_0():
    d = tmpdir("eof")
    job = window_job(d)
    r = weir("run", job, "--state-dir", os.path.join(d, "state"),
             input=lines(FEED).decode(), timeout=30)
    check(r.rc == 0, "exit %s, want 0" % r.rc, r)
    eq(sorted_windows(os.path.join(d, "out.jsonl")),
       sorted(CLOSED + OPEN, key=lambda w: (w["window_start"], w["k"])),
       "every window fires at EOF")


@case
def stdin_eof_after_a_pause_fires_every_open_window():
    # EOF arriving while weir is idle (blocked reading) must still end the job.
    d = tmpdir("eof2")
    job = window_job(d)
    p = start(d, job)
    try:
        feed(p, lines(FEED))
        wait_consumed(p, grace_s=0.5)
        p.stdin.close()
        rc, out, err, secs = finish(p, 10)
    finally:
        cleanup(p)
    check(rc == 0, "exit %s, want 0; stderr:\n%s" % (rc, err[-3000:]))
    eq(sorted_windows(os.path.join(d, "out.jsonl")),
       sorted(CLOSED + OPEN, key=lambda w: (w["window_start"], w["k"])),
       "every window fires at EOF")


def map_job(d, interval="10s"):
    return write(os.path.join(d, "map.yaml"), f"""\
job: pipe-job
parallelism: 2
checkpoint:
  interval: {interval}
sources:
  input:
    stdin: {{}}
    event_time: {{ field: ts }}
operators:
  - name: keep
    from: input
    filter: "qty > 1 && sku != 'x'"
  - name: shape
    map:
      sku: upper(sku)
      value: "price * qty"
      ts: ts
sinks:
  screen:
    from: shape
    stdout: {{}}
""")


MAP_IN = [
    {"ts": 1, "sku": "ab", "price": 3, "qty": 2},
    {"ts": 2, "sku": "x", "price": 5, "qty": 9},
    {"ts": 3, "sku": "cd", "price": 1.5, "qty": 4},
    {"ts": 4, "sku": "ef", "price": 7, "qty": 1},
    {"ts": 5, "sku": "gh", "price": 10, "qty": 3, "extra": {"a": [1]}},
]
MAP_OUT = [
    {"sku": "AB", "value": 6, "ts": 1},
    {"sku": "CD", "value": 6.0, "ts": 3},
    {"sku": "GH", "value": 30, "ts": 5},
]


def canon(recs):
    # Keep int/double distinct: 6 and 6.0 are different outputs (SPEC §3).
    return sorted(json.dumps(r, sort_keys=True) for r in recs)


@case
def stdin_to_stdout_map_filter_prints_exactly_the_right_records():
    d = tmpdir("pipe")
    job = map_job(d)
    r = weir("run", job, "--state-dir", os.path.join(d, "state"),
             input=lines(MAP_IN).decode(), timeout=30)
    check(r.rc == 0, "exit %s, want 0" % r.rc, r)
    got = parse_jsonl(r.out, "stdout")  # every stdout line must be a record
    eq(canon(got), canon(MAP_OUT), "records on stdout")
    for rec in got:
        eq(list(rec.keys()), ["sku", "value", "ts"], "map output has exactly its fields, in order")


@case
def stdout_sink_emits_before_eof():
    # A stdin→stdout pipeline must not sit on its output until EOF: with checkpoints
    # every second, sinks flush at least that often (SPEC §2 file sink: flushed at
    # every checkpoint).
    d = tmpdir("live")
    job = map_job(d, interval="1s")
    p = start(d, job, stdout_pipe=True)
    got = b""
    try:
        feed(p, lines(MAP_IN))
        t_end = time.monotonic() + 6
        while got.count(b"\n") < len(MAP_OUT) and time.monotonic() < t_end:
            ready, _, _ = select.select([p.stdout], [], [], 0.2)
            if ready:
                chunk = os.read(p.stdout.fileno(), 65536)
                if not chunk:
                    break
                got += chunk
        p.send_signal(signal.SIGINT)
        rc, out, err, secs = finish(p, STOP_TIMEOUT_S)
    finally:
        cleanup(p)
    check(got.count(b"\n") >= len(MAP_OUT),
          "only %r reached stdout within 6 s while stdin stayed open" % got)
    eq(canon(parse_jsonl(got.decode())), canon(MAP_OUT), "records on stdout before EOF")
    check(rc == 0, "exit %s after SIGINT; stderr:\n%s" % (rc, err[-3000:]))


@case
def stdin_to_stdout_window_job_prints_windows_at_eof():
    d = tmpdir("pipewin")
    job = window_job(d)
    text = read_text(job).replace(
        "    file: { path: %s }" % json.dumps(os.path.join(d, "out.jsonl")), "    stdout: {}")
    check("stdout: {}" in text, "test bug: sink not replaced")
    write(job, text)
    r = weir("run", job, "--state-dir", os.path.join(d, "state"),
             input=lines(FEED).decode(), timeout=30)
    check(r.rc == 0, "exit %s, want 0" % r.rc, r)
    fin = final_windows(parse_jsonl(r.out, "stdout"))
    eq(sorted(fin.values(), key=lambda w: (w["window_start"], w["k"])),
       sorted(CLOSED + OPEN, key=lambda w: (w["window_start"], w["k"])), "windows on stdout")


if __name__ == "__main__":
    main()
