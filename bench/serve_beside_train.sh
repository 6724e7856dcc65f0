#!/usr/bin/env bash
# The batch layer beside the speed layer on one machine: recommendation latency at a fixed rate
# and ingest throughput of the real `recd serve` (release build), once alone and once while
# `nice -n 19 recd train` runs beside it on the same data dir (a second process that reads the
# log read-only), then alone again (how far the shared machine drifted meanwhile).
#
# Data: `recd gen` USERS x ITEMS x EVENTS (default 100k x 20k x 2M) over DAYS (60) ending today,
# so it is live data and training reads its 30-day window; trained once before the server
# starts. The server runs with the answer cache off (every request runs the whole pipeline, as
# in serve_load.sh) and its training schedule off.
#
# Per phase (base, train, base2) it prints one JSON line on stdout:
# - reco: `oha -z SECONDS_EACH -q RATE --latency-correction --urls-from-file F` (RATE 1000, SECONDS_EACH
#   20), F holding URL_COUNT (20000) GET /v1/recommendations URLs whose users are drawn
#   uniformly from the whole population; p50/p99/p999 in ms, success rate, requests/s.
# - ingest: recd-loadgen ingest (batches of BATCH=100 events, CONCURRENCY=32 connections,
#   REQUESTS=1000 requests): durable events/s.
# In the train phase `nice -n 19 recd train` starts TRAIN_LEAD (5) seconds before the load, and
# the line says whether it was still running when the load ended (train_overlap) and how long
# it took. Then one line with the ratios train/base for p99 and base/train for ingest.
# Machine, commit and load go to stderr. OHA: the oha binary (default: oha on PATH).
# Smoke run: USERS=2000 ITEMS=500 EVENTS=50000 SECONDS_EACH=3 REQUESTS=100 bench/serve_beside_train.sh
set -euo pipefail
cd "$(dirname "$0")/.."

users="${USERS:-100000}"
items="${ITEMS:-20000}"
events="${EVENTS:-2000000}"
days="${DAYS:-60}"
rate="${RATE:-1000}"
seconds="${SECONDS_EACH:-20}"
url_count="${URL_COUNT:-20000}"
batch="${BATCH:-100}"
concurrency="${CONCURRENCY:-32}"
requests="${REQUESTS:-1000}"
train_lead="${TRAIN_LEAD:-5}"
oha="${OHA:-oha}"

cargo build -q --release -p recd -p recd-loadgen
target="${CARGO_TARGET_DIR:-target}"
recd="$target/release/recd"
loadgen="$target/release/recd-loadgen"
mkdir -p "$target/tmp"
work="$(mktemp -d "$target/tmp/beside-train.XXXXXX")"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

data="$work/data"
RUST_LOG=warn "$recd" gen --users "$users" --items "$items" --events "$events" --days "$days" \
    --end "$(date -u +%F)" --seed 7 --data-dir "$data" >/dev/null
t0=$(date +%s%3N)
RUST_LOG=warn "$recd" train --data-dir "$data" >/dev/null
echo "initial training alone: $(( $(date +%s%3N) - t0 )) ms" >&2
printf '[serve.recommend]\ncache_ttl_ms = 0\n[train.schedule]\nevery = "off"\n' > "$work/recd.toml"

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
awk -v n="$url_count" -v users="$users" -v url="$url" 'BEGIN {
    srand(7)
    for (i = 0; i < n; i++)
        printf "%s/v1/recommendations?user_id=u%d&num_results=20&context=homepage\n", url, int(rand() * users)
}' > "$work/urls.txt"

{
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
    echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (dirty)')"
    echo "data: $users users x $items items x $events events over $days days; model $(cat "$data/models/CURRENT")"
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >&2

# Warm-up: page cache, connections, allocator, and the log's first group commits.
"$oha" -z 3s -q "$rate" --no-tui --urls-from-file "$work/urls.txt" >/dev/null
"$loadgen" --url "$url" --tag warm ingest --batch "$batch" --concurrency "$concurrency" \
    --requests 200 --users "$users" >/dev/null

phase() {
    local name="$1"
    local train_pid="" train_start=0 overlap=null train_ms=null
    if [ "$name" = train ]; then
        train_start=$(date +%s%3N)
        RUST_LOG=warn nice -n 19 "$recd" train --data-dir "$data" > "$work/train.out" 2>&1 &
        train_pid=$!
        pids+=("$train_pid")
        sleep "$train_lead"
    fi
    "$oha" -z "${seconds}s" -q "$rate" --latency-correction --no-tui --output-format json \
        --urls-from-file "$work/urls.txt" > "$work/oha-$name.json"
    "$loadgen" --url "$url" --tag "$name" ingest --batch "$batch" --concurrency "$concurrency" \
        --requests "$requests" --users "$users" > "$work/ingest-$name.json"
    if [ -n "$train_pid" ]; then
        if kill -0 "$train_pid" 2>/dev/null; then overlap=true; else overlap=false; fi
        wait "$train_pid" || { echo "recd train failed:" >&2; tail -5 "$work/train.out" >&2; exit 1; }
        train_ms=$(( $(date +%s%3N) - train_start ))
    fi
    python3 - "$name" "$work/oha-$name.json" "$work/ingest-$name.json" "$overlap" "$train_ms" <<'EOF'
import json, sys
name, oha_file, ingest_file, overlap, train_ms = sys.argv[1:]
o = json.load(open(oha_file))
p = o["latencyPercentiles"]
ingest = json.loads(open(ingest_file).read().strip().splitlines()[-1])
print(json.dumps({
    "phase": name,
    "reco_p50_ms": round(p["p50"] * 1000, 2),
    "reco_p99_ms": round(p["p99"] * 1000, 2),
    "reco_p999_ms": round(p["p99.9"] * 1000, 2),
    "reco_success_rate": o["summary"]["successRate"],
    "reco_rps": round(o["summary"]["requestsPerSec"], 1),
    "ingest_events_per_sec": ingest["events_per_sec"],
    "train_overlap": json.loads(overlap),
    "train_ms": json.loads(train_ms),
}))
EOF
}

phase base | tee "$work/base.jsonl"
phase train | tee "$work/train.jsonl"
phase base2 | tee "$work/base2.jsonl"
python3 - "$work/base.jsonl" "$work/train.jsonl" "$work/base2.jsonl" <<'EOF'
import json, sys
base, train, base2 = (json.load(open(f)) for f in sys.argv[1:])
print(json.dumps({
    "p99_ratio_train_vs_base": round(train["reco_p99_ms"] / base["reco_p99_ms"], 2),
    "p99_ratio_base2_vs_base": round(base2["reco_p99_ms"] / base["reco_p99_ms"], 2),
    "ingest_slowdown_base_vs_train": round(base["ingest_events_per_sec"] / train["ingest_events_per_sec"], 2),
    "ingest_ratio_base_vs_base2": round(base["ingest_events_per_sec"] / base2["ingest_events_per_sec"], 2),
}))
EOF
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
