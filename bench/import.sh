#!/usr/bin/env bash
# Times `recd import` (release build) into a fresh data dir and reports wall time, peak RSS and
# events per second from /usr/bin/time -v.
#
#   bench/import.sh                 # MovieLens 100K: u.data + u.item + u.user (seconds)
#   CASE=10m bench/import.sh        # 10M generic-CSV events made by `recd gen --out` (minutes, GBs)
#   CASE=10m NO_CHECK=1 bench/import.sh   # the same without the validation pre-pass
#
# The 10M file is generated once into $WORK (default: a temp dir, deleted unless KEEP=1).
set -euo pipefail
cd "$(dirname "$0")/.."

CASE=${CASE:-ml100k}
NO_CHECK=${NO_CHECK:-0}
KEEP=${KEEP:-0}
WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/recd-import-bench.XXXXXX")}
ML=../shared/datasets/ml-100k

cargo build --release -p recd --quiet
BIN=target/release/recd
extra=()
[ "$NO_CHECK" = 1 ] && extra+=(--no-check)

case "$CASE" in
  ml100k)
    args=(--events "$ML/u.data" --items "$ML/u.item" --users "$ML/u.user" --format ml100k)
    ;;
  10m)
    gen="$WORK/gen"
    if [ ! -f "$gen/events.csv" ]; then
      "$BIN" gen --users 100000 --items 10000 --events 10000000 --seed 1 --out "$gen" >/dev/null
    fi
    args=(--events "$gen/events.csv" --items "$gen/items.csv" --users "$gen/users.csv" --format csv)
    du -b "$gen"/*.csv | awk '{printf "input %s %.1f MiB\n", $2, $1 / 1048576}'
    ;;
  *)
    echo "unknown CASE=$CASE (ml100k or 10m)" >&2
    exit 2
    ;;
esac

data="$WORK/data-$CASE"
rm -rf "$data"
echo "machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB RAM; commit $(git rev-parse --short HEAD)"
echo "command: recd import --data-dir DIR ${args[*]} ${extra[*]}"
/usr/bin/time -v "$BIN" import --data-dir "$data" "${args[@]}" "${extra[@]}" \
  >"$WORK/summary.txt" 2>"$WORK/time.txt" || {
  cat "$WORK/time.txt" >&2
  exit 1
}
cat "$WORK/summary.txt"
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$WORK/time.txt")
rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time.txt")
cpu=$(awk -F': ' '/Percent of CPU/ {print $2}' "$WORK/time.txt")
secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$WORK/time.txt")
events=$(awk '{print $2}' "$WORK/summary.txt")
echo "wall $wall, peak RSS $((rss_kb / 1024)) MiB, CPU $cpu, $(awk -v e="$events" -v s="$secs" 'BEGIN {printf "%.0f", e / s}') events/s (whole run)"
du -sb "$data" | awk '{printf "data dir %.1f MiB\n", $1 / 1048576}'

if [ "$KEEP" = 1 ]; then
  echo "kept $WORK"
else
  rm -rf "$WORK"
fi
