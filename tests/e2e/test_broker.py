"""tests/e2e/test_broker.py -- `weir broker`, the development Kafka broker (SPEC §1).

The broker is driven with kcat, a real Kafka client: the first stdout line is
`bootstrap.servers=127.0.0.1:PORT`; --topic t:3 makes t with 3 partitions and a
bare --topic gets --partitions (default 4); 100 keyed messages produced to t are
read back exactly; SIGTERM/SIGINT stop it with exit 0 within a few seconds; stderr
carries exactly one WARN line naming the limits; --control answers one line per
command ("ok" / "error: ..."); usage errors exit 2.
"""

import json
import os
import re
import select
import signal
import subprocess
import time

from cli_util import Skip, case, check, eq, expect_rc, have_tool, main, spawn, weir

STOP_TIMEOUT_S = 5.0
BOOT_RE = re.compile(r"^bootstrap\.servers=(127\.0\.0\.1:\d+(?:,127\.0\.0\.1:\d+)*)$")


def need_kcat():
    if not have_tool("kcat"):
        raise Skip("kcat is not installed")


def readline(stream, timeout=10.0):
    """One line from a pipe (bytes), or AssertionError after timeout seconds."""
    deadline = time.monotonic() + timeout
    buf = b""
    fd = stream.fileno()
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no line within %.0fs (got %r)" % (timeout, buf))
        r, _, _ = select.select([fd], [], [], left)
        if r:
            b = os.read(fd, 1)
            if not b:
                raise AssertionError("stream closed (got %r)" % buf)
            buf += b
    return buf.decode().rstrip("\n")


class Broker:
    """A running `weir broker ARGS`; use as a context manager."""

    def __init__(self, *args):
        self.p = spawn("broker", *args)
        self.first = readline(self.p.stdout)
        m = BOOT_RE.match(self.first)
        if not m:
            self.p.kill()
            raise AssertionError("first stdout line is not bootstrap.servers=HOST:PORT: %r" % self.first)
        self.boot = m.group(1)

    def send(self, line):
        self.p.stdin.write((line + "\n").encode())
        self.p.stdin.flush()
        return readline(self.p.stdout)

    def stop(self, sig=signal.SIGTERM):
        """Sends sig; returns (exit code, seconds, stderr)."""
        t0 = time.monotonic()
        self.p.send_signal(sig)
        try:
            rc = self.p.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            raise AssertionError("broker did not stop within %.0fs of %s" % (STOP_TIMEOUT_S, sig.name))
        secs = time.monotonic() - t0
        err = self.p.stderr.read().decode(errors="replace")
        for f in (self.p.stdin, self.p.stdout, self.p.stderr):
            f.close()
        return rc, secs, err

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def kcat(*args, input=None, timeout=30):
    p = subprocess.run(["kcat"] + list(args), input=input, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise AssertionError("kcat %s: exit %d\nstderr: %s" % (" ".join(args), p.returncode, p.stderr))
    return p.stdout


def topic_partitions(boot):
    md = json.loads(kcat("-b", boot, "-L", "-J"))
    return {t["topic"]: len(t["partitions"]) for t in md["topics"]}, md


@case
def topics_have_their_partition_counts_and_messages_round_trip():
    need_kcat()
    with Broker("--topic", "t:3", "--topic", "u") as b:
        eq(b.boot.count(","), 0, "one broker by default: one address")
        parts, md = topic_partitions(b.boot)
        eq(parts, {"t": 3, "u": 4}, "topics and partition counts from kcat -L -J")
        eq([br["id"] for br in md["brokers"]], [1], "broker ids")
        sent = ["k%03d\tv%03d" % (i, i) for i in range(100)]
        kcat("-b", b.boot, "-P", "-t", "t", "-K", "\t", input="\n".join(sent) + "\n")
        out = kcat("-b", b.boot, "-C", "-t", "t", "-e", "-q", "-f", "%k\t%s\t%p\n")
        got = [ln for ln in out.splitlines() if ln]
        eq(len(got), 100, "messages read back")
        eq(sorted("\t".join(ln.split("\t")[:2]) for ln in got), sent, "keys and values read back")
        by_key = {}
        for ln in got:
            k, _, p = ln.split("\t")
            by_key.setdefault(k, set()).add(int(p))
        check(all(len(ps) == 1 and ps <= {0, 1, 2} for ps in by_key.values()),
              "each key lands in one partition of 0..2: %r" % by_key)
        check(len({p for ps in by_key.values() for p in ps}) == 3,
              "100 keys spread over all 3 partitions: %r" % sorted({p for ps in by_key.values() for p in ps}))
        rc, secs, err = b.stop(signal.SIGTERM)
    eq(rc, 0, "exit code after SIGTERM")
    check(secs < STOP_TIMEOUT_S, "stopped in %.1fs" % secs)
    warns = [ln for ln in err.splitlines() if " WARN " in ln]
    eq(len(warns), 1, "WARN lines on stderr:\n" + err)
    for word in ("development broker", "5 MiB", "read_committed", "aborted", "fenced", "offsets_for_times"):
        check(word in warns[0], "the warning mentions %r: %s" % (word, warns[0]))


@case
def partitions_option_applies_to_bare_topics_in_any_order_and_auto_created_get_4():
    need_kcat()
    with Broker("--topic", "a", "--partitions", "7", "--topic", "b:2") as b:
        parts, _ = topic_partitions(b.boot)
        eq(parts, {"a": 7, "b": 2}, "--partitions 7 before or after --topic a")
        kcat("-b", b.boot, "-P", "-t", "fresh", input="x\n")
        parts, _ = topic_partitions(b.boot)
        eq(parts.get("fresh"), 4, "an auto-created topic's partitions")
        rc, _, _ = b.stop(signal.SIGINT)
    eq(rc, 0, "exit code after SIGINT")


@case
def several_brokers_are_listed_in_bootstrap_servers():
    need_kcat()
    with Broker("--brokers", "3", "--topic", "t:6") as b:
        eq(b.boot.count(","), 2, "three addresses in %s" % b.boot)
        parts, md = topic_partitions(b.boot)
        eq(sorted(br["id"] for br in md["brokers"]), [1, 2, 3], "broker ids")
        eq(parts, {"t": 6}, "topics")
        rc, _, _ = b.stop()
    eq(rc, 0, "exit code")


@case
def control_commands_answer_one_line_each():
    need_kcat()
    with Broker("--control", "--topic", "t:1") as b:
        eq(b.send("down 1"), "ok", "down 1")
        eq(b.send("up 1"), "ok", "up 1")
        eq(b.send("down 2"), "error: broker id '2': expected 1 to 1", "unknown broker")
        eq(b.send("topic v 5"), "ok", "topic v 5")
        eq(b.send("topic v 5"), "error: topic v exists already", "topic twice")
        eq(b.send("errors EndTxn 2 NOT_COORDINATOR"), "ok", "errors by name")
        eq(b.send("rtt 1 0"), "ok", "rtt")
        eq(b.send("fly 1"), "error: unknown command 'fly' (down, up, rtt, topic, errors)", "unknown command")
        eq(b.send(""), "error: empty command (down, up, rtt, topic, errors)", "empty line")
        parts, _ = topic_partitions(b.boot)
        eq(parts, {"t": 1, "v": 5}, "the topic command made v with 5 partitions")
        # EOF on stdin stops the commands, not the broker
        b.p.stdin.close()
        time.sleep(0.3)
        eq(b.p.poll(), None, "still running after EOF on stdin")
        parts, _ = topic_partitions(b.boot)
        eq(parts["v"], 5, "still serving after EOF")
        b.p.stdin = open(os.devnull, "wb")  # stop() closes it
        rc, _, _ = b.stop()
    eq(rc, 0, "exit code")


@case
def down_broker_refuses_a_client_until_up():
    need_kcat()
    with Broker("--control", "--topic", "t:2") as b:
        eq(b.send("down 1"), "ok", "down 1")
        p = subprocess.run(["kcat", "-b", b.boot, "-L", "-J", "-m", "2"], capture_output=True, text=True,
                           timeout=30)
        check(p.returncode != 0, "kcat -L against a down broker fails (exit %d): %s" % (p.returncode, p.stdout))
        eq(b.send("up 1"), "ok", "up 1")
        parts, _ = topic_partitions(b.boot)
        eq(parts, {"t": 2}, "metadata after up")
        rc, _, _ = b.stop()
    eq(rc, 0, "exit code")


@case
def help_exits_0_and_lists_the_control_commands():
    res = weir("broker", "--help")
    expect_rc(res, 0, "broker --help")
    for word in ("--listen", "--partitions", "--topic", "--brokers", "--control", "down BROKER_ID",
                 "up BROKER_ID", "errors API COUNT ERROR", "topic NAME PARTITIONS", "rtt BROKER_ID MS"):
        check(word in res.out, "help mentions %r" % word, res)
    res = weir("help", "broker")
    expect_rc(res, 0, "help broker")
    check("--control" in res.out, "weir help broker shows the options", res)


@case
def usage_errors_exit_2_without_starting():
    cases = [
        (["--bogus"], "unknown or incomplete option '--bogus'"),
        (["--partitions", "0"], "--partitions 0: expected a number from 1 to 10000"),
        (["--partitions", "x"], "--partitions x: expected a number from 1 to 10000"),
        (["--brokers", "0"], "--brokers 0: expected a number from 1 to 64"),
        (["--topic", "t:0"], "partitions '0'"),
        (["--topic", "bad/name"], "character '/' is not allowed"),
        (["--topic", "t", "--topic", "t:2"], "--topic t is given twice"),
        (["--listen", "0.0.0.0:0"], "loopback only"),
        (["--listen", "10.1.2.3:9092"], "loopback only"),
        (["--listen", "127.0.0.1:9092"], "a fixed port is not supported"),
        (["extra"], "unexpected argument 'extra'"),
    ]
    for args, msg in cases:
        res = weir("broker", *args, timeout=10)
        expect_rc(res, 2, " ".join(args))
        check(msg in res.err, "stderr names the problem (%r)" % msg, res)
        eq(res.out, "", "nothing on stdout for " + " ".join(args))


@case
def listen_on_loopback_port_zero_is_accepted():
    need_kcat()
    with Broker("--listen", "127.0.0.1:0", "--topic", "t:2") as b:
        parts, _ = topic_partitions(b.boot)
        eq(parts, {"t": 2}, "topics")
        rc, _, _ = b.stop()
    eq(rc, 0, "exit code")
    with Broker("--listen", "localhost:0") as b:
        check(b.boot.startswith("127.0.0.1:"), "listens on 127.0.0.1: %s" % b.boot)
        rc, _, _ = b.stop()
    eq(rc, 0, "exit code")


if __name__ == "__main__":
    main()
