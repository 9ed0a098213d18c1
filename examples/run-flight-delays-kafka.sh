#!/bin/sh
# The Kafka path of the README, end to end: a development broker, kcat
# producing 100,000 real flights, the Kafka -> hourly window -> Kafka job
# (examples/flight-delays-kafka.yaml, exactly-once), and kcat reading results.
# Usage (from the repository root, after building into ./build; needs kcat):
#   examples/run-flight-delays-kafka.sh
set -eu
cd "$(dirname "$0")/.."
weir=${WEIR:-build/weir}
data=examples/data/flights-100k.jsonl
[ -s "$data" ] || zstd -dcq examples/data/flights-100k.jsonl.zst > "$data"
tmp=$(mktemp -d)
trap 'kill $broker_pid 2>/dev/null || true; rm -rf "$tmp"' EXIT

# 1. The broker (in a terminal of its own you would just run: weir broker ...).
"$weir" broker --topic flights:4 --topic flight-delays:4 > "$tmp/broker.out" 2> "$tmp/broker.err" &
broker_pid=$!
while ! grep -q bootstrap.servers "$tmp/broker.out" 2>/dev/null; do sleep 0.1; done
boot=$(sed -n 's/^bootstrap.servers=//p' "$tmp/broker.out" | head -n 1)
echo "broker: $boot"

# 2. kcat produces the flights (one message per line, keyed by origin airport).
sed 's/.*"origin":"\([A-Z]*\)".*/\1\t&/' "$data" | kcat -P -b "$boot" -t flights -K '\t' -z lz4
echo "produced $(wc -l < "$data") flights into topic flights"

# 3. The job: reads flights to the end offsets seen at its start, then stops.
"$weir" run examples/flight-delays-kafka.yaml --fresh --state-dir "$tmp/state" \
  --set kafka.bootstrap.servers="$boot"

# 4. kcat reads the results (read_committed: only committed transactions).
kcat -C -b "$boot" -t flight-delays -e -q -X isolation.level=read_committed \
  -f '%k\t%s\n' > "$tmp/results.tsv"
echo
echo "Hourly windows in topic flight-delays: $(wc -l < "$tmp/results.tsv") messages; a few for ORD:"
grep '^ORD' "$tmp/results.tsv" | head -n 5
