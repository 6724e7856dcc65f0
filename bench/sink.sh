#!/usr/bin/env bash
# The lake role against the batch export, on the same bus in the same run: a durable
# redis-server (appendfsync always) as the Redis Streams bus, one stateless API process, the
# events of `recd gen` (USERS × ITEMS × EVENTS, seed 1) imported through it. Then:
# - `recd export --events` (the batch copy) and a first `recd sink --once` round (the whole
#   bus into an empty lake): wall time and events/s of each;
# - an incremental round after NEW more events (what each minute of a running sink costs);
# - a round after one user's deletion (its tombstone rewrites every lake file holding them).
# Prints one JSON line per step on stdout; machine, commit and load on stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

users="${USERS:-20000}"
items="${ITEMS:-5000}"
events="${EVENTS:-500000}"
new="${NEW:-10000}"
redis_port="${REDIS_PORT:-6393}"
partitions="${PARTITIONS:-16}"

cargo build -q --release -p recd
recd=target/release/recd
mkdir -p target/tmp
work="$(mktemp -d target/tmp/sink-bench.XXXXXX)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
echo "# $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD) on $(nproc) cores," \
    "load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$work" --save '' \
    --appendonly yes --appendfsync always --maxmemory-policy noeviction >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done
bus="redis://127.0.0.1:$redis_port"
export RECD__BUS__PARTITIONS="$partitions" RUST_LOG=warn

RUST_LOG=warn "$recd" serve --data-dir "$work/api" --listen 127.0.0.1:0 --events "$bus" \
    --feature-store "$bus" --no-train-schedule >"$work/serve.out" 2>"$work/serve.err" &
pids+=($!)
url=""
for _ in $(seq 200); do
    url="$(sed -n 's/^listening on //p' "$work/serve.out")"
    [ -n "$url" ] && break
    sleep 0.05
done
[ -n "$url" ] || { cat "$work/serve.err" >&2; exit 1; }

"$recd" gen --users "$users" --items "$items" --events "$events" --seed 1 --out "$work/files" >/dev/null
"$recd" import --server "$url" --items "$work/files/items.csv" --users "$work/files/users.csv" \
    --events "$work/files/events.csv" >/dev/null

timed() { # label, events, command...: runs it, prints {"step", "seconds", "events"}
    local label="$1" n="$2"
    shift 2
    local t0 t1
    t0=$(date +%s.%N)
    "$@" >/dev/null
    t1=$(date +%s.%N)
    python3 -c "import json,sys; s=float(sys.argv[3]) - float(sys.argv[2]); n=int(sys.argv[4]); print(json.dumps({'step': sys.argv[1], 'seconds': round(s, 3), 'events': n, 'events_per_sec': round(n / s) if n else None}))" \
        "$label" "$t0" "$t1" "$n"
}
sink() {
    RUST_LOG=info NO_COLOR=1 "$recd" sink --events "$bus" --feature-store "$bus" --out "$work/lake" \
        --once 2>"$work/sink.log"
}

timed export_batch "$events" "$recd" export --events "$bus" --out "$work/export"
timed sink_first_round "$events" sink
head -n $((new + 1)) "$work/files/events.csv" >"$work/new.csv"
"$recd" import --server "$url" --events "$work/new.csv" >/dev/null
timed sink_incremental_round "$new" sink
user=$(sed -n '2p' "$work/files/events.csv" | cut -d, -f1)
curl -fsS -X DELETE "$url/v1/users/$user"
timed sink_round_with_a_deletion 0 sink
grep -o 'deleted_users=[0-9]* rewritten_files=[0-9]*' "$work/sink.log" >&2
python3 -c "import json; s=json.load(open('$work/lake/_recd_sink.json')); print(json.dumps({'step': 'state', 'round': s['round'], 'n_events': s['n_events']}))"
