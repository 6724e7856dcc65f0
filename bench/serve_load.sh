#!/usr/bin/env bash
# Whole-system benchmark of the online layer: the real `recd serve` (release build) answering
# GET /v1/recommendations, driven on loopback by crates/recd-serve/examples/reco_load.rs.
#
# Data: DATA_DIR if given (an imported and trained data dir, e.g. from `recd gen --data-dir`
# then `recd train`), else ml-100k imported and trained here (../shared/datasets/ml-100k).
# The server copy is configured with the answer cache OFF (CACHE_TTL_MS=0) so every request
# runs the whole pipeline, and the default 50 ms deadline (DEADLINE_MS); COMPUTE_THREADS sets
# the answer threads (default 0: one per core); DEGRADE_AFTER_MS (default 2, the server's) is
# how late a job may start before it ranks with the light ranker (25 = half the deadline: never);
# HTTP_THREADS sets [serve] http_threads (unset: the server's default, one per core).
# HOG="S L": in each rate run, a busy loop takes one core's worth of CPU from second S for L
# seconds: a repeatable stand-in for the slow phases of this shared VM, which come and go and
# cannot be asked for (e.g. HOG="3 4" with the default 10 s runs).
# TRAIN="S": in each rate run, a real training starts at second S through the server
# (POST /v1/admin/train: `recd train` as a child process at [train.job] nice), and a JSON line
# per rate says when it ran (started_ms, ended_ms, state) beside the run's own start and end.
# Compare with a run without TRAIN, in the same session, as a ratio: the batch layer beside the
# speed layer on the same 2 cores.
#
# Prints one JSON line per run on stdout:
# - rate R (RATES, default "500 1000 2000"): open loop, SECONDS (10) each, latency counted
#   from each request's due time; p50/p90/p99/p999/max in ms, errors, fallbacks (deadline),
#   degraded (ranked by the light ranker).
#   Goal: p99 <= 10 ms at 2,000 req/s, load generator on the same 2 cores.
# - saturate C (CONCURRENCY, default 32): closed loop, SECONDS; qps = saturation throughput.
# Then one JSON line per stage of the answer (recd_recommend_stage_seconds on /metrics:
# user_state, candidates, ranking, cold_start, post_processing) over every request of the
# script: count, mean, and the histogram bucket bounds holding p50 and p99; machine, commit
# and load go to stderr.
# Users: ids 1..USERS (943 for ml-100k) with UNKNOWN_SHARE (0.1) unknown ids (cold start);
# USER_PREFIX=u for a generated data set (its users are u0, u1, ...).
# A generated 1M users x 100k items set (the reference online benchmark):
#   recd gen --users 1000000 --items 100000 --events 20000000 --seed 7 --data-dir D
#   recd train --data-dir D
#   DATA_DIR=D USERS=1000000 USER_PREFIX=u bench/serve_load.sh
# Smoke run: RATES=200 SECONDS=2 CONCURRENCY=4 bench/serve_load.sh
set -euo pipefail
cd "$(dirname "$0")/.."

rates="${RATES:-500 1000 2000}"
seconds="${SECONDS_EACH:-${SECONDS_PER_RUN:-10}}"
concurrency="${CONCURRENCY:-32}"
users="${USERS:-943}"
unknown="${UNKNOWN_SHARE:-0.1}"
cache_ttl="${CACHE_TTL_MS:-0}"
deadline="${DEADLINE_MS:-50}"
compute_threads="${COMPUTE_THREADS:-0}"
degrade_after="${DEGRADE_AFTER_MS:-2}"
http_threads="${HTTP_THREADS:-}"
hog="${HOG:-}"
train="${TRAIN:-}"

cargo build -q --release -p recd
cargo build -q --release -p recd-serve --example reco_load
# RECD: another build of the server to measure (before/after comparisons in one run).
recd="${RECD:-target/release/recd}"
load=target/release/examples/reco_load
mkdir -p target/tmp
work="$(mktemp -d target/tmp/serve-bench.XXXXXX)"
pid=""
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

if [ -n "${DATA_DIR:-}" ]; then
    cp -r "$DATA_DIR" "$work/data"
    # Flush the copy now: its writeback (3 GB for the 1M x 100k set) would otherwise run
    # during the measurement.
    sync
else
    ml="../shared/datasets/ml-100k"
    "$recd" import --data-dir "$work/data" --events "$ml/u.data" --items "$ml/u.item" \
        --users "$ml/u.user" --format ml100k >&2
    "$recd" train --data-dir "$work/data" >/dev/null
fi
# [serve] only when HTTP_THREADS is set: builds before the key (RECD) refuse it.
{ [ -z "$http_threads" ] || printf '[serve]\nhttp_threads = %s\n' "$http_threads"
  printf '[serve.recommend]\ncache_ttl_ms = %s\ndeadline_ms = %s\ncompute_threads = %s\ndegrade_after_ms = %s\n' \
      "$cache_ttl" "$deadline" "$compute_threads" "$degrade_after"
  # Trainings only when asked for (and builds before [train.schedule] refuse the key).
  [ -z "$train" ] || printf '[train.schedule]\nevery = "off"\n'
} > "$work/recd.toml"

RUST_LOG=warn "$recd" serve --data-dir "$work/data" --listen 127.0.0.1:0 --config "$work/recd.toml" \
    > "$work/serve.out" &
pid=$!
for _ in $(seq 1 600); do
    grep -q "listening on" "$work/serve.out" 2>/dev/null && break
    sleep 0.1
done
url="$(sed -n 's#^listening on ##p' "$work/serve.out")"
for _ in $(seq 1 600); do
    curl -sf "$url/readyz" >/dev/null && break
    sleep 0.1
done

{
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
    echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (dirty)')${RECD:+, server $RECD}"
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)${hog:+; hog: $hog}"
    echo "model: $(cat "$work/data/models/CURRENT")"
} >&2

# Warm-up (page cache, connection pool, allocator).
"$load" "$url" saturate 4 2 "$users" "$unknown" >/dev/null
for r in $rates; do
    hog_pid=""
    if [ -n "$hog" ]; then
        read -r hog_at hog_for <<< "$hog"
        ( sleep "$hog_at"; timeout "$hog_for" sh -c 'while :; do :; done' || true ) &
        hog_pid=$!
    fi
    train_pid=""
    if [ -n "$train" ]; then
        ( sleep "$train"; curl -sf -X POST "$url/v1/admin/train" > "$work/job.json" ) &
        train_pid=$!
    fi
    run_start=$(date +%s%3N)
    "$load" "$url" rate "$r" "$seconds" "$users" "$unknown"
    run_end=$(date +%s%3N)
    [ -z "$hog_pid" ] || wait "$hog_pid"
    if [ -n "$train_pid" ]; then
        wait "$train_pid"
        id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$work/job.json")
        # Wait for the run to end so the next rate starts without it.
        for _ in $(seq 1 6000); do
            curl -sf "$url/v1/admin/jobs" > "$work/jobs.json"
            python3 -c 'import json,sys; j=[j for j in json.load(open(sys.argv[1]))["jobs"] if j["id"]==int(sys.argv[2])][0]; sys.exit(j["state"]=="running")' \
                "$work/jobs.json" "$id" && break
            sleep 0.1
        done
        python3 -c 'import json,sys
j=[j for j in json.load(open(sys.argv[1]))["jobs"] if j["id"]==int(sys.argv[2])][0]
print(json.dumps({"training_beside_rate":int(sys.argv[3]),"run_start_ms":int(sys.argv[4]),"run_end_ms":int(sys.argv[5]),
  "train_started_ms":j["started_ms"],"train_ended_ms":j.get("ended_ms"),"state":j["state"]}))' \
            "$work/jobs.json" "$id" "$r" "$run_start" "$run_end"
    fi
done
"$load" "$url" saturate "$concurrency" "$seconds" "$users" "$unknown"
curl -s "$url/metrics" | grep '^recd_recommend_stage_seconds' | awk '
    match($0, /stage="[a-z_]+"/) { stage = substr($0, RSTART + 7, RLENGTH - 8) }
    /_bucket/ { match($0, /le="[^"]+"/); le = substr($0, RSTART + 4, RLENGTH - 5)
                n[stage]++; les[stage, n[stage]] = le; cum[stage, n[stage]] = $NF }
    /_sum/ { sum[stage] = $NF }
    /_count/ { count[stage] = $NF }
    END {
        for (st in count) {
            if (count[st] == 0) continue
            p50 = ""; p99 = ""
            for (k = 1; k <= n[st]; k++) {
                if (p50 == "" && cum[st, k] >= 0.5 * count[st]) p50 = les[st, k]
                if (p99 == "" && cum[st, k] >= 0.99 * count[st]) p99 = les[st, k]
            }
            printf "{\"stage\":\"%s\",\"count\":%d,\"mean_ms\":%.3f,\"p50_le_ms\":%s,\"p99_le_ms\":%s}\n",
                st, count[st], 1000 * sum[st] / count[st], ms(p50), ms(p99)
        }
    }
    function ms(le) { return le == "+Inf" ? "null" : sprintf("%g", 1000 * le) }'

echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
