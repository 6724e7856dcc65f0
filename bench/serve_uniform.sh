#!/usr/bin/env bash
# Full-quality answers at a fixed rate for users drawn uniformly over the whole population: the
# real `recd serve` (release build, default configuration, training schedule off) driven by oha
# on the same machine, over a trained data dir (the reference is 1M users x 100k items x 20M
# events: `recd gen --users 1000000 --items 100000 --events 20000000 --seed 7 --data-dir D`
# then `recd train --data-dir D`).
#
# - URL_COUNT (100000) URLs GET /v1/recommendations?user_id=u<k>&num_results=20, k uniform over
#   0..USERS (1000000): every user id is equally likely, whatever its length.
# - The server starts on a copy of DATA_DIR (it appends impressions); the load starts once
#   /readyz says the updater has caught up with the log, after a WARMUP (5 s) run at the rate.
# - Per round (ROUNDS, default 1): `oha -z SECONDS_EACH(20)s -q RATE(2000) --latency-correction
#   --urls-from-file F`, and from /metrics and /proc before and after it: answers by outcome
#   (ranked = full quality, ranked_light = light ranker because the server was behind,
#   deadline = fallback, cached, no_model), the share of full-quality answers (ranked or cached)
#   among all, the server's CPU microseconds per answer (user + system time of the server
#   process over the run / answers), and the mean of each stage of the answer
#   (recd_recommend_stage_seconds).
# Prints one JSON line per round on stdout; machine, commit and load to stderr.
# Goal (issue: full-quality answers at 2,000 req/s for uniform users): p99 <= 10 ms with >= 99%
# of answers full quality, server CPU <= 250 us per answer.
# EXTRA: TOML appended to the server's config (e.g. a different `[serve.recommend]`).
# RECD: the binary to measure (default target/release/recd, built here). OHA: the oha binary.
# Smoke run: DATA_DIR=D USERS=5000 URL_COUNT=2000 SECONDS_EACH=3 WARMUP=1 bench/serve_uniform.sh
set -euo pipefail
cd "$(dirname "$0")/.."

data_dir="${DATA_DIR:?DATA_DIR: a trained data dir}"
users="${USERS:-1000000}"
rate="${RATE:-2000}"
seconds="${SECONDS_EACH:-20}"
warmup="${WARMUP:-5}"
rounds="${ROUNDS:-1}"
url_count="${URL_COUNT:-100000}"
oha="${OHA:-oha}"
target="${CARGO_TARGET_DIR:-target}"
if [ -z "${RECD:-}" ]; then
    cargo build -q --release -p recd
    recd="$target/release/recd"
else
    recd="$RECD"
fi
mkdir -p "$target/tmp"
work="$(mktemp -d "$target/tmp/serve-uniform.XXXXXX")"
pid=""
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

cp -r "$data_dir" "$work/data"
# Flush the copy now: its writeback would otherwise run during the measurement.
sync
printf '[train.schedule]\nevery = "off"\n%b\n' "${EXTRA:-}" > "$work/recd.toml"
RUST_LOG=warn "$recd" serve --data-dir "$work/data" --listen 127.0.0.1:0 --config "$work/recd.toml" \
    > "$work/serve.out" 2> "$work/serve.err" &
pid=$!
url=""
for _ in $(seq 1 600); do
    url="$(sed -n 's#^listening on ##p' "$work/serve.out")"
    [ -n "$url" ] && break
    sleep 0.1
done
[ -n "$url" ] || { cat "$work/serve.err" >&2; exit 1; }
t0=$(date +%s%3N)
until curl -sf "$url/readyz" >/dev/null; do
    kill -0 "$pid" 2>/dev/null || { cat "$work/serve.err" >&2; exit 1; }
    sleep 0.2
done
echo "caught up $(( $(date +%s%3N) - t0 )) ms after listening: $(curl -s "$url/healthz")" >&2
awk -v n="$url_count" -v users="$users" -v url="$url" 'BEGIN {
    srand(7)
    for (i = 0; i < n; i++)
        printf "%s/v1/recommendations?user_id=u%d&num_results=20\n", url, int(rand() * users)
}' > "$work/urls.txt"

{
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
    echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (dirty)')"
    echo "model: $(cat "$work/data/models/CURRENT"); oha: $("$oha" --version)"
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} >&2

# Warm-up at the rate: page cache, connections, allocator, per-thread scratch.
"$oha" -z "${warmup}s" -q "$rate" --no-tui --urls-from-file "$work/urls.txt" >/dev/null

cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
for round in $(seq 1 "$rounds"); do
    curl -s "$url/metrics" > "$work/before.prom"
    c0=$(cpu_ticks)
    "$oha" -z "${seconds}s" -q "$rate" --latency-correction --no-tui --output-format json \
        --urls-from-file "$work/urls.txt" > "$work/oha.json"
    c1=$(cpu_ticks)
    curl -s "$url/metrics" > "$work/after.prom"
    python3 - "$round" "$work/oha.json" "$work/before.prom" "$work/after.prom" \
        "$(( c1 - c0 ))" "$(getconf CLK_TCK)" "$rate" <<'EOF'
import json, re, sys
round_, oha_file, before, after, ticks, hz, rate = sys.argv[1:]

def series(path):
    out = {}
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        name, value = line.rsplit(" ", 1)
        out[name] = float(value)
    return out

b, a = series(before), series(after)
delta = {k: a[k] - b.get(k, 0.0) for k in a}
outcomes = {}
for k, v in delta.items():
    m = re.match(r'recd_recommendations_total\{outcome="([^"]+)"\}', k)
    if m and v:
        outcomes[m.group(1)] = int(v)
stages = {}
for k, v in delta.items():
    m = re.match(r'recd_recommend_stage_seconds_(sum|count)\{stage="([^"]+)"\}', k)
    if m:
        stages.setdefault(m.group(2), {})[m.group(1)] = v
stage_us = {s: round(d["sum"] / d["count"] * 1e6, 1) for s, d in stages.items() if d.get("count")}
answers = sum(outcomes.values())
# A cached answer was ranked in full when it was computed (degraded answers are not cached).
full = outcomes.get("ranked", 0) + outcomes.get("cached", 0)
cpu_us = int(ticks) / int(hz) * 1e6
o = json.load(open(oha_file))
p = o["latencyPercentiles"]
codes = o.get("statusCodeDistribution", {})
print(json.dumps({
    "round": int(round_),
    "rate": int(rate),
    "rps": round(o["summary"]["requestsPerSec"], 1),
    "p50_ms": round(p["p50"] * 1000, 2),
    "p99_ms": round(p["p99"] * 1000, 2),
    "p999_ms": round(p["p99.9"] * 1000, 2),
    "success_rate": o["summary"]["successRate"],
    "status": codes,
    "outcomes": outcomes,
    "full_quality_share": round(full / answers, 4) if answers else None,
    "server_cpu_us_per_answer": round(cpu_us / answers, 1) if answers else None,
    "server_cpu_us_per_full_quality_answer": round(cpu_us / full, 1) if full else None,
    "stage_mean_us": stage_us,
}))
EOF
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
