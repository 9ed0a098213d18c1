#!/usr/bin/env bash
# Flights benchmark: the hourly-window job of examples/flight-delays.yaml over the
# whole 3M-line file, at parallelism 1 and 2, next to DuckDB computing the same
# windows (../shared/bench/duckdb-windows), FAST=1 (no first/last) and full.
# Prints records/s, MB/s, peak RSS and the ratios. Never fails on time.
# Usage: bench/flights.sh [BUILD_DIR]   (default: build; use a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
weir=$build/weir
shared=$(cd .. && pwd)/shared
work=${TMPDIR:-/tmp}/weir-bench-flights
mkdir -p "$work"
input=$work/flights-3m.jsonl
[ -s "$input" ] || zstd -dcq "$shared/data/flights-2001h1.jsonl.zst" > "$input"
lines=$(wc -l < "$input"); bytes=$(stat -c %s "$input")
cat "$input" > /dev/null   # warm the page cache for every contender alike
echo "input: $input, $lines lines, $((bytes / 1000000)) MB"

peak_rss() { # run a command, print "seconds peak_rss_kb"
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
t = time.monotonic()
r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
dt = time.monotonic() - t
if r.returncode != 0:
    sys.stderr.write(r.stderr.decode()); sys.exit(r.returncode)
print(f"{dt:.3f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}")
PY
}

declare -A weir_s
for p in 1 2; do
  read -r secs rss < <(peak_rss "$weir" run examples/flight-delays.yaml --fresh --state-dir "$work/state-$p" \
      --set parallelism=$p --set sources.flights.file.path="$input" \
      --set sinks.out.file.path="$work/weir-p$p.jsonl" \
      --set dead_letter.file.path="$work/weir-p$p.dlq.jsonl")
  weir_s[$p]=$secs
  python3 -c "import sys; s,r,n,b=map(float,sys.argv[1:]); print(f'weir parallelism $p: {s:.2f} s, {n/s/1e6:.2f} M records/s, {b/s/1e6:.0f} MB/s, peak RSS {r/1024:.0f} MB')" \
    "$secs" "$rss" "$lines" "$bytes"
done
cmp -s <(sort "$work/weir-p1.jsonl") <(sort "$work/weir-p2.jsonl") && echo "parallelism 1 and 2: identical output" \
  || echo "parallelism 1 and 2: outputs differ (intermediate updates may; finals must not)"

if command -v node >/dev/null && command -v npm >/dev/null; then
  for mode in FAST FULL; do
    if [ $mode = FAST ]; then export FAST=1; else unset FAST; fi
    out=$("$shared/bench/duckdb-windows" "$input" "$work/duckdb-$mode.jsonl" origin ts 3600000 delay destination 2>&1 | tail -1)
    d=$(echo "$out" | sed -n 's/.*duckdb_seconds=\([0-9.]*\).*/\1/p')
    [ -n "$d" ] || { echo "duckdb $mode: failed: $out"; continue; }
    python3 -c "import sys; d,w1,w2,n=map(float,sys.argv[1:5]); print(f'duckdb {sys.argv[5]}: {d:.2f} s ({n/d/1e6:.2f} M records/s); weir p1 is {d/w1:.2f}x, p2 is {d/w2:.2f}x DuckDB')" \
      "$d" "${weir_s[1]}" "${weir_s[2]}" "$lines" "$mode"
  done
else
  echo "duckdb: skipped (needs node and npm)"
fi
