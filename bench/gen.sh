#!/usr/bin/env bash
# Times `recd gen` at the reference size (1M users × 100k items × 50M events, CSV out) and reports
# wall time and peak RSS from /usr/bin/time -v. With RUNS=2 it generates twice and compares the
# sha256 of every file: the rerun-determinism figure. The output is deleted afterwards unless
# KEEP=1 (it is several GB at full size).
#
#   bench/gen.sh                                    # full size, once
#   USERS=100000 ITEMS=10000 EVENTS=5000000 RUNS=2 bench/gen.sh   # a 1/10 run, twice
set -euo pipefail
cd "$(dirname "$0")/.."

USERS=${USERS:-1000000}
ITEMS=${ITEMS:-100000}
EVENTS=${EVENTS:-50000000}
SEED=${SEED:-1}
RUNS=${RUNS:-1}
KEEP=${KEEP:-0}
WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/recd-gen-bench.XXXXXX")}

cargo build --release -p recd --quiet
BIN=target/release/recd

echo "machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB RAM; commit $(git rev-parse --short HEAD)"
echo "command: recd gen --users $USERS --items $ITEMS --events $EVENTS --seed $SEED --out DIR"
for run in $(seq 1 "$RUNS"); do
  out="$WORK/run$run"
  /usr/bin/time -v "$BIN" gen --users "$USERS" --items "$ITEMS" --events "$EVENTS" --seed "$SEED" \
    --out "$out" >"$WORK/summary$run.txt" 2>"$WORK/time$run.txt" || {
    cat "$WORK/time$run.txt" >&2
    exit 1
  }
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$WORK/time$run.txt")
  rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time$run.txt")
  cpu=$(awk -F': ' '/Percent of CPU/ {print $2}' "$WORK/time$run.txt")
  echo "run $run: wall $wall, peak RSS $((rss_kb / 1024)) MiB, CPU $cpu"
  head -1 "$WORK/summary$run.txt"
  tail -n +2 "$WORK/summary$run.txt"
  du -b "$out"/*.csv | awk '{printf "  %s %.1f MiB\n", $2, $1 / 1048576}'
  (cd "$out" && sha256sum items.csv users.csv events.csv) >"$WORK/sha$run.txt"
  sed 's/^/  sha256 /' "$WORK/sha$run.txt"
done
if [ "$RUNS" -gt 1 ]; then
  if cmp -s "$WORK/sha1.txt" "$WORK/sha$RUNS.txt"; then
    echo "determinism: all $RUNS runs wrote identical files"
  else
    echo "determinism: FAILED, checksums differ" >&2
    exit 1
  fi
fi
if [ "$KEEP" = 1 ]; then
  echo "kept: $WORK"
else
  rm -rf "$WORK"
fi
