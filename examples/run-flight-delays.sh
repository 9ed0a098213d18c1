#!/bin/sh
# Runs examples/flight-delays.yaml on 100,000 real flights and shows a few results.
# Usage (from the repository root, after building into ./build): examples/run-flight-delays.sh
set -eu
cd "$(dirname "$0")/.."
weir=${WEIR:-build/weir}
data=examples/data/flights-100k.jsonl
[ -s "$data" ] || zstd -dcq examples/data/flights-100k.jsonl.zst > "$data"
mkdir -p examples/out
"$weir" run examples/flight-delays.yaml --fresh --state-dir "${TMPDIR:-/tmp}/weir-example-state"
echo
echo "Hourly windows per origin airport: examples/out/flight-delays.jsonl ($(wc -l < examples/out/flight-delays.jsonl) windows)"
echo "A few of them (Chicago O'Hare, the first hours of 2001):"
grep '"origin":"ORD"' examples/out/flight-delays.jsonl | head -n 5
