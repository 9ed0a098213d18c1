"""tests/e2e/test_spill.py -- window state 10x larger than state.memory spills to
RocksDB and the job still gives the right result (SPEC §2 state.memory, §5; issue 4
"Spill"; DESIGN §4).

A generated file holds ~2M distinct keys (every key once, then 1M more records of
keys seen before, so evicted windows are read back by later records) in one tumbling
window, so every window stays open until the end of input and the state is about
10x the 64 MB budget. The job runs with `state: {memory: 64MB}` and checkpoints
(the live RocksDB store, which spilling uses, exists once checkpoints run). The
output is checked against a Python computation of the same counts and sums; the
peak RSS of the weir process (wait4) is printed. The issue's bound, budget + 150 MB,
is asserted (the same job without spilling peaks near 1 GB); under ASan the key
count drops to 200k and RSS is only printed (shadow memory). WEIR_SPILL_KEYS scales
the key count (default 2,000,000); WEIR_SPILL_COMPARE=1 also runs the job with a
budget large enough not to spill and prints its RSS and time.

Invariants:
  1. Only the Python 3 standard library; weir runs with WEIR_HOME in a temp dir.
  2. Only the weir process this script started is waited for (by pid).
"""

import json
import os
import subprocess
import time
from array import array

from cli_util import WEIR, case, check, eq, main, tmpdir, weir_env, write

def _is_asan(path):
    """An ASan build: far slower, and its shadow memory makes RSS meaningless."""
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


ASAN = _is_asan(os.environ.get("WEIR", ""))
N_KEYS = int(os.environ.get("WEIR_SPILL_KEYS") or ("200000" if ASAN else "2000000"))
N_REPEATS = N_KEYS // 2
BUDGET_MB = 64
# The bound, budget + 150 MB (WEIR_SPILL_LOOSE=1: budget + 650 MB).
RSS_SLACK_MB = 650 if os.environ.get("WEIR_SPILL_LOOSE") == "1" else 150


def job_yaml(d, memory):
    return write(os.path.join(d, "job.yaml"), f"""\
job: spill
parallelism: 2
state:
  memory: {memory}
checkpoint:
  interval: 200ms
sources:
  input:
    file: {{ path: {json.dumps(os.path.join(d, "in.jsonl"))} }}
    event_time: {{ field: ts }}
operators:
  - name: win
    from: input
    window:
      key: [k]
      tumbling: 24h
      aggregates:
        n: count()
        total: sum(v)
sinks:
  out:
    from: win
    file: {{ path: {json.dumps(os.path.join(d, "out.jsonl"))} }}
""")


def generate(d):
    """Writes the input; returns (counts, sums) per key index."""
    counts = array("q", bytes(8 * N_KEYS))
    sums = array("q", bytes(8 * N_KEYS))
    x = 12345
    with open(os.path.join(d, "in.jsonl"), "w") as f:
        lines = []
        for i in range(N_KEYS + N_REPEATS):
            if i < N_KEYS:
                k = (i * 7919) % N_KEYS  # every key once, scattered
            else:
                x = (x * 6364136223846793005 + 1442695040888963407) & (2**64 - 1)
                k = (x >> 33) % N_KEYS
            v = i % 13
            counts[k] += 1
            sums[k] += v
            lines.append('{"k":"u%d","ts":%d,"v":%d}\n' % (k, 1000 + i // 100, v))
            if len(lines) >= 100000:
                f.writelines(lines)
                lines = []
        f.writelines(lines)
    return counts, sums


def run_job(d, memory):
    """Runs the job to completion; returns (exit code, stderr, seconds, peak RSS MB)."""
    job = job_yaml(d, memory)
    t0 = time.monotonic()
    errf = open(os.path.join(d, "stderr-%s.txt" % memory), "w+")
    p = subprocess.Popen([WEIR, "run", "--fresh", job], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=errf, env=weir_env())
    deadline = t0 + 300
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid == p.pid:
            break
        if time.monotonic() > deadline:
            p.kill()
            os.wait4(p.pid, 0)
            raise AssertionError("weir did not finish within 300 s")
        time.sleep(0.05)
    secs = time.monotonic() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    errf.seek(0)
    err = errf.read()
    errf.close()
    return p.returncode, err, secs, ru.ru_maxrss / 1024.0


def check_output(d, counts, sums):
    seen = 0
    with open(os.path.join(d, "out.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            k = int(r["k"][1:])
            check(r["window_start"] == 0 and r["window_end"] == 86400000,
                  "unexpected window in %s" % line.strip())
            check(counts[k] != -1, "key %s emitted twice" % r["k"])
            eq((r["n"], r["total"]), (counts[k], sums[k]), "count and sum of %s" % r["k"])
            counts[k] = -1
            seen += 1
    eq(seen, N_KEYS, "number of result lines (one per key)")


@case
def state_ten_times_the_budget_gives_the_right_result_within_the_memory_bound():
    d = tmpdir("spill")
    t0 = time.monotonic()
    counts, sums = generate(d)
    n_records = N_KEYS + N_REPEATS
    print("generated %d records, %d keys in %.1f s" % (n_records, N_KEYS, time.monotonic() - t0),
          flush=True)
    if os.environ.get("WEIR_SPILL_COMPARE") == "1":
        rc, err, secs, rss = run_job(d, "4GB")
        eq(rc, 0, "exit code without spilling\n" + err[-2000:])
        print("no spill (4GB budget): %.1f s, %.0f records/s, peak RSS %.0f MB"
              % (secs, n_records / secs, rss), flush=True)
    rc, err, secs, rss = run_job(d, "%dMB" % BUDGET_MB)
    eq(rc, 0, "exit code\n" + err[-2000:])
    print("spill (%d MB budget): %.1f s, %.0f records/s, peak RSS %.0f MB"
          % (BUDGET_MB, secs, n_records / secs, rss), flush=True)
    check_output(d, counts, sums)
    check(ASAN or rss < BUDGET_MB + RSS_SLACK_MB,
          "peak RSS %.0f MB is over the budget %d MB + %d MB" % (rss, BUDGET_MB, RSS_SLACK_MB))


if __name__ == "__main__":
    main()
