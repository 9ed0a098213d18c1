#!/usr/bin/env bash
# Kafka benchmark: 1M real flights (the first 1M lines of
# ../shared/data/flights-2001h1.jsonl.zst) preloaded into a 64-partition topic of
# the development broker (`weir broker`, librdkafka's mock cluster), then, one
# after the other:
#   1. kcat -C -e reads the whole topic (the ceiling for any consumer here);
#   2. weir runs Kafka -> hourly window per origin (the aggregates of
#      examples/flight-delays.yaml) -> Kafka, stop: latest, at-least-once;
#   3. the same job exactly-once (one transaction per checkpoint), checkpoints every 1 s;
#   4. kcat again, and weir reading only (a filter that keeps nothing): the source alone.
# Prints records/s, the ratio to kcat, peak RSS and the output size. Never fails on time.
# The mock broker keeps ~5 MiB per partition: 1M flights over 64 partitions is ~1.4 MB each.
# Usage: bench/kafka.sh [BUILD_DIR] [LINES]   (default: build 1000000; use a release build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
n=${2:-1000000}
weir=$build/weir
shared=$(cd .. && pwd)/shared
work=${TMPDIR:-/tmp}/weir-bench-kafka
mkdir -p "$work"
command -v kcat >/dev/null || { echo "kcat is needed (Debian package kcat)"; exit 1; }
input=$work/flights-$n.jsonl
[ -s "$input" ] || { zstd -dcq "$shared/data/flights-2001h1.jsonl.zst" || true; } | head -n "$n" > "$input"
lines=$(wc -l < "$input"); bytes=$(stat -c %s "$input")
echo "input: $lines flights, $((bytes / 1000000)) MB"

broker_pid=
trap '[ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null; true' EXIT
"$weir" broker --topic flights:64 --topic out-alo:8 --topic out-eos:8 > "$work/broker.out" 2> "$work/broker.err" &
broker_pid=$!
for _ in $(seq 100); do grep -q bootstrap.servers "$work/broker.out" 2>/dev/null && break; sleep 0.1; done
boot=$(sed -n 's/^bootstrap.servers=//p' "$work/broker.out" | head -n 1)
[ -n "$boot" ] || { echo "weir broker did not start:"; cat "$work/broker.err"; exit 1; }
echo "broker: $boot (topic flights: 64 partitions)"

# Line i goes to partition i mod 64 (kcat's -p -1 is sticky and would fill a few
# partitions past the broker's retention); each partition stays in time order.
rm -rf "$work/parts"; mkdir -p "$work/parts"
awk -v d="$work/parts" '{ print > (d "/" ((NR - 1) % 64)) }' "$input"
t0=$(date +%s.%N)
for p in $(seq 0 63); do
  kcat -P -b "$boot" -t flights -p "$p" -X linger.ms=20 -l "$work/parts/$p"
done
t1=$(date +%s.%N)
python3 -c "import sys; s=float(sys.argv[2])-float(sys.argv[1]); print(f'preload with kcat -P: {s:.2f} s')" "$t0" "$t1"

measure() { # LOG OUT CMD...: runs CMD (stdout to OUT, stderr to LOG); prints "seconds peak_rss_kb"
  python3 - "$@" <<'PY'
import resource, subprocess, sys, time
log, out, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
t = time.monotonic()
with open(log, "w") as f, open(out, "wb") as o:
    r = subprocess.run(cmd, stdout=o, stderr=f)
dt = time.monotonic() - t
if r.returncode != 0:
    sys.stderr.write(open(log).read()[-3000:]); sys.exit(r.returncode)
print(f"{dt:.3f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}")
PY
}

# 1. kcat: the ceiling (every value, one per line, into a file). The dev broker's
#    speed varies from run to run, so kcat runs before and after weir and the
#    faster run is the ceiling.
run_kcat() {
  read -r s r < <(measure "$work/kcat.log" "$work/kcat.out" kcat -C -b "$boot" -t flights -e -q \
      -o beginning -X fetch.wait.max.ms=10 -f '%s\n')
  kcat_n=$(wc -l < "$work/kcat.out")
  [ "$kcat_n" -eq "$lines" ] || echo "warning: kcat read $kcat_n of $lines records (broker retention?)"
  python3 -c "import sys; s,r,n=map(float,sys.argv[1:4]); print(f'kcat -C ({sys.argv[4]}): {n:.0f} records in {s:.2f} s, {n/s/1e6:.2f} M records/s, peak RSS {r/1024:.0f} MB')" \
    "$s" "$r" "$kcat_n" "$1"
  if [ -z "${kcat_s:-}" ] || python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)" "$s" "$kcat_s"; then
    kcat_s=$s
  fi
}
kcat_s=
run_kcat before

# 2. weir reading only: the same source, a filter that keeps nothing (the
#    source's own speed, without the window's state).
cat > "$work/job-read.yaml" <<EOF
job: bench-kafka-read
parallelism: 2
checkpoint: { interval: 1s }
kafka: { bootstrap.servers: "$boot" }
sources:
  flights:
    kafka: { topic: flights, start: earliest, stop: latest }
    event_time: { field: ts }
operators:
  - name: none
    filter: "delay > 1000000"
sinks:
  out: { from: none, file: { path: "$work/read-none.jsonl" } }
EOF
rm -rf "$work/state-read"
read -r read_s read_rss < <(measure "$work/weir-read.log" /dev/null "$weir" run "$work/job-read.yaml" --fresh --state-dir "$work/state-read")

for delivery in at-least-once exactly-once; do
  tag=${delivery%%-*}; [ "$tag" = at ] && tag=alo || tag=eos
  cat > "$work/job-$tag.yaml" <<EOF
job: bench-kafka-$tag
parallelism: 2
checkpoint: { interval: 1s }
kafka: { bootstrap.servers: "$boot" }
sources:
  flights:
    kafka: { topic: flights, start: earliest, stop: latest }
    event_time: { field: ts }
    watermark: { delay: 5m }
operators:
  - name: hourly
    from: flights
    window:
      key: [origin]
      tumbling: 1h
      aggregates:
        count: count()
        sum: sum(delay)
        avg: avg(delay)
        max: max(delay)
        min: min(delay)
        first: first(destination)
        last: last(destination)
        distinct: count_distinct(destination)
sinks:
  out:
    from: hourly
    kafka: { topic: out-$tag, delivery: $delivery }
dead_letter:
  file: { path: "$work/dlq-$tag.jsonl" }
EOF
  rm -rf "$work/state-$tag"
  read -r secs rss < <(measure "$work/weir-$tag.log" /dev/null "$weir" run "$work/job-$tag.yaml" --fresh --state-dir "$work/state-$tag")
  recs=$(sed -n 's/.*finished: \([0-9]*\) records in.*/\1/p' "$work/weir-$tag.log" | tail -n 1)
  out=$(kcat -C -b "$boot" -t "out-$tag" -e -q -X fetch.wait.max.ms=10 -f '\n' | wc -l)
  chk=$(grep -c "checkpoint [0-9]* complete" "$work/weir-$tag.log" || true)
  python3 -c "
import sys
s, r, n, ks, kn, out, chk = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3] or 0), float(sys.argv[4]), float(sys.argv[5]), sys.argv[6], sys.argv[7]
rate, krate = n / s, kn / ks
print(f'weir {sys.argv[8]}: {n:.0f} records in {s:.2f} s, {rate/1e6:.2f} M records/s = {rate/krate:.2f}x kcat; '
      f'peak RSS {r/1024:.0f} MB; {out} output messages, {chk} checkpoints')
" "$secs" "$rss" "${recs:-0}" "$kcat_s" "$kcat_n" "$out" "$chk" "$delivery"
done
run_kcat after
python3 -c "
import sys
s, n, ks = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
print(f'weir source only (filter keeps nothing): {n/s/1e6:.2f} M records/s = {(n/s)/(n/ks):.2f}x the faster kcat run')
" "$read_s" "$lines" "$kcat_s"
echo "(the window keeps ~100k hourly windows open: the watermark is the minimum over 64"
echo " partitions, and librdkafka reads them at different speeds)"
echo "logs: $work/*.log"
