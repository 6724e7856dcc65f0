#!/usr/bin/env bash
# Recommendations through a load balancer in the scaled topology (docs/deploy.md), with 1, 2
# and 3 API processes on this machine: haproxy (Debian) in front of N `recd serve --events
# redis://... --feature-store redis://...`, models from a shared model-store directory, one
# durable redis-server as bus and feature store, one `recd stream`.
#
# On 2 cores more processes cannot add capacity: the run shows the overhead of the topology
# (and of the balancer hop) rather than scaling. So beside latency it reports the API
# processes' CPU time: requests per API CPU-second is what sizes a fleet, and
# `cores_for_100k_qps` projects the seed's 100k QPS to the API cores it would take at that
# cost (a process per core: that many processes).
#
# Data: `recd gen --users USERS --items ITEMS --events EVENTS --seed 3` trained once into the
# store; every API process gets a copy of that data dir (its catalog). Answer cache off
# (every request runs the pipeline). Users drawn uniformly from all USERS (10% unknown).
#
# Per process count it prints one JSON line on stdout: the rate run (RATE req/s open loop
# for SECONDS_EACH, latency from each request's due time), the saturation run (CONCURRENCY
# connections), and the API processes' CPU seconds over both. Machine, commit and load go to
# stderr. Smoke run: PROCS=1 SECONDS_EACH=2 EVENTS=20000 bench/scaled_serve.sh
set -euo pipefail
cd "$(dirname "$0")/.."

procs="${PROCS:-1 2 3}"
rate="${RATE:-1000}"
seconds="${SECONDS_EACH:-10}"
concurrency="${CONCURRENCY:-32}"
users="${USERS:-5000}"
items="${ITEMS:-2000}"
events="${EVENTS:-400000}"
redis_port="${REDIS_PORT:-6393}"
lb_port="${LB_PORT:-18093}"

cargo build -q --release -p recd
cargo build -q --release -p recd-serve --example reco_load
recd=target/release/recd
load=target/release/examples/reco_load
mkdir -p target/tmp
work="$(mktemp -d target/tmp/scaled-serve.XXXXXX)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

store="$work/models"
"$recd" gen --users "$users" --items "$items" --events "$events" --seed 3 \
    --data-dir "$work/data" >/dev/null 2>&1
RECD__MODELS__STORE="$store" "$recd" train --data-dir "$work/data" >/dev/null 2>&1
printf '[serve.recommend]\ncache_ttl_ms = 0\n' > "$work/recd.toml"
export RECD__MODELS__STORE="$store" RECD__BUS__PARTITIONS=16
# Generated users are u0, u1, ...: the load generator asks for them by that prefix.
export USER_PREFIX=u
redis="redis://127.0.0.1:$redis_port"
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly yes \
    --appendfsync always --maxmemory-policy noeviction --dir "$work" >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done
RUST_LOG=warn "$recd" stream --events "$redis" --feature-store "$redis" --data-dir "$work/data" \
    2>"$work/stream.err" &
pids+=($!)

{
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
    echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (dirty)')"
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "data: $users users x $items items x $events events; rate $rate req/s, ${seconds}s runs"
} >&2

cpu_ticks() { # pids...: user + system clock ticks of the processes
    local total=0 pid
    for pid in "$@"; do
        read -r -a f < "/proc/$pid/stat"
        total=$((total + f[13] + f[14]))
    done
    echo "$total"
}

for n in $procs; do
    api_pids=()
    servers=""
    for i in $(seq 1 "$n"); do
        [ -d "$work/api$i" ] || cp -r "$work/data" "$work/api$i"
        RUST_LOG=warn "$recd" serve --data-dir "$work/api$i" --listen 127.0.0.1:0 \
            --events "$redis" --feature-store "$redis" --config "$work/recd.toml" \
            >"$work/api$i.out" 2>"$work/api$i.err" &
        api_pids+=($!)
        pids+=($!)
        addr=""
        for _ in $(seq 600); do
            addr="$(sed -n 's#^listening on http://##p' "$work/api$i.out")"
            [ -n "$addr" ] && break
            sleep 0.1
        done
        [ -n "$addr" ] || { cat "$work/api$i.err" >&2; exit 1; }
        for _ in $(seq 600); do curl -sf "http://$addr/readyz" >/dev/null && break; sleep 0.1; done
        servers+="    server api$i $addr check inter 1s"$'\n'
    done
    cat > "$work/haproxy.cfg" <<CFG
global
    maxconn 4096
    nbthread 1
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    option http-keep-alive
frontend api
    bind 127.0.0.1:$lb_port
    default_backend recd
backend recd
    balance roundrobin
    option httpchk GET /readyz
$servers
CFG
    haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 &
    lb_pid=$!
    pids+=("$lb_pid")
    url="http://127.0.0.1:$lb_port"
    for _ in $(seq 100); do curl -sf "$url/readyz" >/dev/null && break; sleep 0.1; done
    "$load" "$url" saturate 4 2 "$users" 0.1 >/dev/null
    before=$(cpu_ticks "${api_pids[@]}")
    lb_before=$(cpu_ticks "$lb_pid")
    rate_line=$("$load" "$url" rate "$rate" "$seconds" "$users" 0.1)
    sat_line=$("$load" "$url" saturate "$concurrency" "$seconds" "$users" 0.1)
    after=$(cpu_ticks "${api_pids[@]}")
    lb_after=$(cpu_ticks "$lb_pid")
    python3 - "$n" "$rate_line" "$sat_line" "$((after - before))" "$((lb_after - lb_before))" \
        "$(getconf CLK_TCK)" "$seconds" <<'PY'
import json, sys
n, rate, sat, ticks, lb_ticks, hz, seconds = sys.argv[1:]
rate, sat = json.loads(rate), json.loads(sat)
cpu = int(ticks) / int(hz)
served = rate["ok"] + sat["ok"]
per_cpu = served / cpu if cpu else None
print(json.dumps({
    "processes": int(n),
    "rate": {k: rate[k] for k in ("param", "ok", "errors", "fallbacks", "degraded", "p50_ms", "p99_ms", "p999_ms", "max_ms")},
    "saturate": {k: sat[k] for k in ("param", "qps", "errors", "fallbacks", "degraded", "p50_ms", "p99_ms")},
    "api_cpu_seconds": round(cpu, 2),
    "haproxy_cpu_seconds": round(int(lb_ticks) / int(hz), 2),
    "requests_per_api_cpu_second": round(per_cpu) if per_cpu else None,
    "cores_for_100k_qps": round(100_000 / per_cpu, 1) if per_cpu else None,
}))
PY
    kill "$lb_pid"; wait "$lb_pid" 2>/dev/null || true
    for pid in "${api_pids[@]}"; do kill -TERM "$pid"; wait "$pid" || true; done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
