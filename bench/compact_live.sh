#!/usr/bin/env bash
# Compaction beside a live server: what deleting old segments costs the writer it runs beside.
#
# Data: `recd gen` USERS x ITEMS x EVENTS (default 100k x 20k x 2M) into a data dir whose log
# has SEGMENT_BYTES (16 MiB) segments, trained once. The server (release build, training
# schedule off, retention schedule off) then takes durable ingest from recd-loadgen (batches of
# BATCH=100 events, CONCURRENCY=32 connections, REQUESTS=8000 requests) twice:
# - base: ingest alone;
# - compact: the same ingest, with `POST /v1/admin/log/compact` (every closed segment:
#   `older_than_secs` 0, `discard_unexported`) sent COMPACT_LEAD (1) second after it starts.
# One JSON line per phase on stdout (durable events/s; for the compact phase the compaction's
# wall time, segments and bytes deleted), then the ratio base/compact, and a check that a
# reader in another process (`recd events tail`) and the writer's end agree afterwards.
# Smoke run: USERS=2000 ITEMS=500 EVENTS=50000 SEGMENT_BYTES=262144 REQUESTS=200 bench/compact_live.sh
set -euo pipefail
cd "$(dirname "$0")/.."

users="${USERS:-100000}"
items="${ITEMS:-20000}"
events="${EVENTS:-2000000}"
segment_bytes="${SEGMENT_BYTES:-16777216}"
batch="${BATCH:-100}"
concurrency="${CONCURRENCY:-32}"
requests="${REQUESTS:-8000}"
lead="${COMPACT_LEAD:-1}"

cargo build -q --release -p recd -p recd-loadgen
target="${CARGO_TARGET_DIR:-target}"
recd="$target/release/recd"
loadgen="$target/release/recd-loadgen"
mkdir -p "$target/tmp"
work="$(mktemp -d "$target/tmp/compact-live.XXXXXX")"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

data="$work/data"
export RECD__STORE__SEGMENT_BYTES="$segment_bytes"
RUST_LOG=warn "$recd" gen --users "$users" --items "$items" --events "$events" --seed 7 \
    --data-dir "$data" >/dev/null
RUST_LOG=warn "$recd" train --data-dir "$data" --all >/dev/null
printf '[train.schedule]\nevery = "off"\n[store.retention]\ncheck_every_secs = 0\n' > "$work/recd.toml"
RUST_LOG=warn "$recd" serve --data-dir "$data" --listen 127.0.0.1:0 --config "$work/recd.toml" \
    > "$work/serve.out" 2> "$work/serve.err" &
pids+=($!)
url=""
for _ in $(seq 1 600); do
    url="$(sed -n 's#^listening on ##p' "$work/serve.out")"
    [ -n "$url" ] && break
    sleep 0.1
done
[ -n "$url" ] || { cat "$work/serve.err" >&2; exit 1; }
for _ in $(seq 1 600); do
    curl -sf "$url/readyz" >/dev/null && break
    sleep 0.1
done
{
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
    echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (dirty)')"
    echo "data: $users users x $items items x $events events; $(ls "$data/log" | grep -c '\.log$') segments of $segment_bytes bytes, $(du -sb "$data/log" | cut -f1) bytes"
} >&2
"$loadgen" --url "$url" --tag warm ingest --batch "$batch" --concurrency "$concurrency" \
    --requests 200 --users "$users" >/dev/null

ingest() {
    "$loadgen" --url "$url" --tag "$1" ingest --batch "$batch" --concurrency "$concurrency" \
        --requests "$requests" --users "$users" | tail -1
}

base=$(ingest base)
ingest compact > "$work/ingest-compact.json" &
load=$!
sleep "$lead"
t0=$(date +%s%3N)
curl -sf -X POST "$url/v1/admin/log/compact" -H 'content-type: application/json' \
    -d '{"older_than_secs": 0, "discard_unexported": true}' > "$work/compact.json"
compact_ms=$(( $(date +%s%3N) - t0 ))
kill -0 "$load" 2>/dev/null && overlap=true || overlap=false
wait "$load"
end=$(curl -sf "$url/metrics" | sed -n 's/^recd_log_start_offset{log="events"} //p')
tail_ok=$(RUST_LOG=warn "$recd" events tail --data-dir "$data" -n 3 | wc -l)
python3 - "$base" "$(cat "$work/ingest-compact.json")" "$work/compact.json" "$compact_ms" "$overlap" "$end" "$tail_ok" <<'PY'
import json, sys
base, during, report, ms, overlap, start, tail = sys.argv[1:]
base, during, report = json.loads(base), json.loads(during), json.load(open(report))
print(json.dumps({"phase": "base", "ingest_events_per_sec": base["events_per_sec"]}))
print(json.dumps({
    "phase": "compact",
    "ingest_events_per_sec": during["events_per_sec"],
    "compact_ms": int(ms),
    "compact_during_ingest": json.loads(overlap),
    "segments_deleted": len(report["deleted"]),
    "bytes_deleted": report["bytes_deleted"],
    "log_start": report["start"],
}))
print(json.dumps({
    "ingest_ratio_base_vs_compact": round(base["events_per_sec"] / during["events_per_sec"], 2),
    "metrics_start_matches": str(report["start"]) == start.strip(),
    "tail_lines_after": int(tail),
}))
PY
