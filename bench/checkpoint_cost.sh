#!/usr/bin/env bash
# Throughput cost of checkpointing: the flights job over the 3M flights repeated
# REPEAT times with event times shifted by half a year each time (so windows keep
# moving forward), once with checkpoints every 1 s and once with only the final
# checkpoint. Prints records/s for both, the ratio, and the checkpoint log lines'
# durations and bytes. Never fails on time.
# Usage: bench/checkpoint_cost.sh [BUILD_DIR] [REPEAT]   (default: build 8)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
repeat=${2:-8}
weir=$build/weir
shared=$(cd .. && pwd)/shared
work=${TMPDIR:-/tmp}/weir-bench-checkpoint
mkdir -p "$work"
input=$work/flights-x$repeat.jsonl
if [ ! -s "$input" ]; then
  zstd -dcq "$shared/data/flights-2001h1.jsonl.zst" > "$work/base.jsonl"
  python3 - "$work/base.jsonl" "$input" "$repeat" <<'PY'
import sys
base, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = open(base, encoding="utf-8").read().splitlines()
with open(out, "w", encoding="utf-8") as f:
    for r in range(n):
        year = 2001 + r  # each copy a year later: "ts":"2001-..." -> "ts":"200X-..."
        pre = '{"ts":"%04d' % year
        f.write("\n".join(pre + l[11:] for l in lines))
        f.write("\n")
PY
fi
lines=$(wc -l < "$input")
echo "input: $lines lines ($(( $(stat -c %s "$input") / 1000000 )) MB)"
for interval in 0 1s; do
  rm -rf "$work/state-$interval"
  start=$(date +%s.%N)
  "$weir" run examples/flight-delays.yaml --fresh --state-dir "$work/state-$interval" \
    --set checkpoint.interval=$interval --set parallelism=2 \
    --set sources.flights.file.path="$input" --set sinks.out.file.path="$work/out-$interval.jsonl" \
    --set dead_letter.file.path="$work/dlq-$interval.jsonl" 2> "$work/log-$interval.txt"
  end=$(date +%s.%N)
  python3 - "$start" "$end" "$lines" "$interval" "$work/log-$interval.txt" <<'PY'
import re, statistics, sys
start, end, n, interval, log = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
secs = end - start
ms, written, sst = [], [], []
for line in open(log):
    m = re.search(r"checkpoint \d+ complete in (\d+) ms: (\d+) entries, (\d+) bytes written, (\d+) bytes of new SST", line)
    if m:
        ms.append(int(m.group(1))); written.append(int(m.group(3))); sst.append(int(m.group(4)))
print(f"checkpoint.interval={interval}: {secs:.2f} s, {n/secs/1e6:.2f} M records/s, {len(ms)} checkpoints", end="")
if ms:
    q = statistics.quantiles(ms, n=100) if len(ms) > 1 else ms * 99
    print(f"; duration p50 {statistics.median(ms):.0f} ms p99 {q[98]:.0f} ms; written p50 {statistics.median(written)/1e3:.0f} kB; new SST p50 {statistics.median(sst)/1e3:.0f} kB mean {statistics.mean(sst)/1e3:.0f} kB max {max(sst)/1e3:.0f} kB")
else:
    print()
PY
done
cmp -s <(sort "$work/out-0.jsonl") <(sort "$work/out-1s.jsonl") && echo "outputs identical" || echo "outputs differ"
