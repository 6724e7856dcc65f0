#!/usr/bin/env bash
# What counting rate limits fleet-wide costs an API process: one stateless `recd serve` over
# a durable redis-server (appendfsync always, the scaled topology's), driven by oha at a fixed
# rate with latency correction on `GET /v1/trending` (a read-scope route: the guard's cost is
# most of the answer's) twice in the same run:
# - `off`: no rate limit configured;
# - `fleet`: a per-caller read limit and a per-address limit, both far above the rate, so
#   every request is counted (two counters) and none refused, and the counts go to Redis
#   every 100 ms.
# Prints one JSON line per mode: rate, p50/p99, non-2xx, server CPU µs per request and the
# Redis scripts run per second (the batches). Machine, commit and load on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

rate="${RATE:-2000}"
seconds="${SECONDS_EACH:-15}"
redis_port="${REDIS_PORT:-6394}"
oha="${OHA:-oha}"

cargo build -q --release -p recd
recd=target/release/recd
mkdir -p target/tmp
work="$(mktemp -d target/tmp/fleet-limits.XXXXXX)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
echo "# $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD) on $(nproc) cores," \
    "load $(cut -d' ' -f1-3 /proc/loadavg); oha: $("$oha" --version)" >&2

redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work" --save '' \
    --appendonly yes --appendfsync always --maxmemory-policy noeviction >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done
bus="redis://127.0.0.1:$redis_port"
export RECD__BUS__PARTITIONS=4 RUST_LOG=warn

run() { # mode, then env assignments for the server
    local mode="$1"
    shift
    env "$@" "$recd" serve --data-dir "$work/api-$mode" --listen 127.0.0.1:0 --events "$bus" \
        --feature-store "$bus" --no-train-schedule >"$work/serve.out" 2>"$work/serve.err" &
    local pid=$!
    pids+=("$pid")
    local url=""
    for _ in $(seq 200); do
        url="$(sed -n 's/^listening on //p' "$work/serve.out")"
        [ -n "$url" ] && break
        sleep 0.05
    done
    [ -n "$url" ] || { cat "$work/serve.err" >&2; exit 1; }
    # Warm up, and let the fleet's counts be heard.
    "$oha" -z 3s -q "$rate" --no-tui "$url/v1/trending" >/dev/null
    local e0 e1 c0 c1
    e0=$(redis-cli -p "$redis_port" info commandstats | sed -n 's/^cmdstat_eval:calls=\([0-9]*\).*/\1/p')
    c0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    "$oha" -z "${seconds}s" -q "$rate" --latency-correction --no-tui --output-format json \
        "$url/v1/trending" >"$work/oha.json"
    c1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    e1=$(redis-cli -p "$redis_port" info commandstats | sed -n 's/^cmdstat_eval:calls=\([0-9]*\).*/\1/p')
    curl -s "$url/metrics" | grep -E '^recd_rate_limit_fleet_counts_current|^recd_rate_limited_total' >&2 || true
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    python3 - "$mode" "$work/oha.json" "$(( c1 - c0 ))" "$(getconf CLK_TCK)" \
        "$(( ${e1:-0} - ${e0:-0} ))" "$seconds" "$rate" <<'EOF'
import json, sys
mode, oha_file, ticks, hz, evals, seconds, rate = sys.argv[1:]
o = json.load(open(oha_file))
p = o["latencyPercentiles"]
codes = o.get("statusCodeDistribution", {})
n = sum(int(v) for v in codes.values())
print(json.dumps({
    "mode": mode,
    "rate": int(rate),
    "rps": round(o["summary"]["requestsPerSec"], 1),
    "p50_ms": round(p["p50"] * 1000, 3),
    "p99_ms": round(p["p99"] * 1000, 3),
    "non_2xx": sum(int(v) for k, v in codes.items() if not k.startswith("2")),
    "cpu_us_per_request": round(int(ticks) / int(hz) * 1e6 / n, 1) if n else None,
    "redis_scripts_per_sec": round(int(evals) / float(seconds), 1),
}))
EOF
}

run off
run fleet RECD__SERVE__RATE_LIMIT__READ_PER_SEC=1000000 \
    RECD__SERVE__RATE_LIMIT__PER_ADDRESS_PER_SEC=1000000
