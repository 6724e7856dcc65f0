#!/usr/bin/env bash
# Memory under a flood of new user ids: the real `recd serve` (release build, embedded feature
# store) gets USERS (1,000,000) new users, one event each, through POST /v1/events in batches
# of 1000 from our load generator, once per feature-store budget in BUDGETS_MB ("0 64": the
# default, a quarter of memory, which holds them all, then 64 MiB). For each budget it prints
# one JSON line: resident memory (process_resident_memory_bytes from /metrics) before the flood
# and once the updater has applied it, the store's estimate of what it holds and its budget,
# and the users evicted.
#
# The data dir is a small generated catalog with a trained model (1682 items, the ids the
# load generator uses), so every new user gets a folded-in vector, as they would in production.
# Smoke run: USERS=20000.
set -euo pipefail
cd "$(dirname "$0")/.."

users="${USERS:-1000000}"
budgets="${BUDGETS_MB:-0 64}"

cargo build -q --release -p recd -p recd-loadgen
target="${CARGO_TARGET_DIR:-target}"
recd="$target/release/recd"
loadgen="$target/release/recd-loadgen"
mkdir -p target/tmp
work="$(mktemp -d target/tmp/membudget-bench.XXXXXX)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "# $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD) on $(nproc) cores," \
    "load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
"$recd" gen --users 2000 --items 1682 --events 100000 --seed 1 --data-dir "$work/base" >/dev/null
"$recd" train --data-dir "$work/base" >/dev/null

# The value of the one sample of metric $2 (a name with its labels) in the page at URL $1.
metric() {
    curl -sf "$1/metrics" | awk -v name="$2" 'index($0, name " ") == 1 { print $NF; exit }'
}

for budget in $budgets; do
    cp -r "$work/base" "$work/data-$budget"
    RUST_LOG=warn RECD__FEATURES__MEMORY_BUDGET_MB="$budget" "$recd" serve \
        --data-dir "$work/data-$budget" --listen 127.0.0.1:0 --no-train-schedule \
        >"$work/serve-$budget.out" 2>"$work/serve-$budget.err" &
    serve_pid=$!
    pids+=("$serve_pid")
    url=""
    for _ in $(seq 600); do
        url="$(sed -n 's/^listening on //p' "$work/serve-$budget.out")"
        [ -n "$url" ] && curl -sf "$url/readyz" >/dev/null && break
        sleep 0.1
    done
    [ -n "$url" ] || { cat "$work/serve-$budget.err" >&2; exit 1; }
    rss_before="$(metric "$url" process_resident_memory_bytes)"
    "$loadgen" --url "$url" --tag "flood" ingest --batch 1000 --concurrency 1 \
        --requests "$((users / 1000))" --users "$users" >"$work/ingest-$budget.json"
    # Wait until the updater has applied the whole log.
    for _ in $(seq 3000); do
        curl -sf "$url/healthz" | python3 -c 'import json, sys
h = json.load(sys.stdin)
sys.exit(0 if (h["features_applied_offset"] or 0) >= h["log_end_offset"] else 1)' && break
        sleep 0.1
    done
    sleep 1
    printf '{"budget_mb":%s,"users":%s,"rss_before":%s,"rss_after":%s,"estimate_bytes":%s,"budget_bytes":%s,"evicted":%s,"ingest":%s}\n' \
        "$budget" "$users" "$rss_before" "$(metric "$url" process_resident_memory_bytes)" \
        "$(metric "$url" recd_feature_store_memory_bytes)" \
        "$(metric "$url" recd_feature_store_memory_budget_bytes)" \
        "$(metric "$url" 'recd_feature_evictions_total{state="user",reason="budget"}')" \
        "$(cat "$work/ingest-$budget.json")"
    kill -TERM "$serve_pid"
    wait "$serve_pid" || { echo "recd serve exited with $?" >&2; cat "$work/serve-$budget.err" >&2; exit 1; }
done
echo "# done, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
