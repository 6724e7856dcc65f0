#!/usr/bin/env bash
# The S3 model store on one machine, against a local moto_server: how long a version takes to
# download into a server's copy, and how long a promotion takes to reach a second process.
#
# Data: `recd gen` USERS x ITEMS x EVENTS (default 300 x 200 x 20000, the end-to-end tests'
# size) into two data dirs, a trainer's and a server's. The trainer publishes v1 (CURRENT) and
# v2 (CANDIDATE) to s3://recd-bench/models; the server (no local models) starts, copies v1 and
# serves it. Then ROUNDS (10) times: `recd models activate` of the other version from the
# trainer's side (one conditional write of the registry, as a promotion), and the time until the server answers a recommendation with the other version (polled
# every 10 ms with curl; the time includes the `recd models activate` process itself). With POLL_MS (models.poll_ms, default 1000) and MODEL_POLL_MS
# ([serve.recommend] model_poll_ms, default 1000) the expected mean is about half of each
# interval plus the download (none after the first two swaps: the copy keeps both versions)
# and the load. Each round starts after a random pause of up to PAUSE_MAX_MS (2000).
#
# Prints the model's size, the server's download_ms log lines, each swap's ms and their mean,
# min and max. BIN: the recd binary (default: a release build). MOTO: moto_server (default:
# $RECD_MOTO, else moto_server on PATH).
set -euo pipefail
cd "$(dirname "$0")/.."

users="${USERS:-300}"
items="${ITEMS:-200}"
events="${EVENTS:-20000}"
rounds="${ROUNDS:-10}"
poll_ms="${POLL_MS:-1000}"
model_poll_ms="${MODEL_POLL_MS:-1000}"
pause_max_ms="${PAUSE_MAX_MS:-2000}"
moto="${MOTO:-${RECD_MOTO:-moto_server}}"
if [ -z "${BIN:-}" ]; then
  cargo build -q --release -p recd --bin recd
  BIN="${CARGO_TARGET_DIR:-target}/release/recd"
fi

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$moto" -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
pids+=($!)
until curl -s -o /dev/null "http://127.0.0.1:$port/"; do sleep 0.1; done
curl -sf -X PUT "http://127.0.0.1:$port/recd-bench" >/dev/null

export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ALLOW_HTTP=true
export RECD__MODELS__STORE=s3://recd-bench/models RECD__MODELS__POLL_MS="$poll_ms"
export RECD__SERVE__RECOMMEND__MODEL_POLL_MS="$model_poll_ms" RECD__TRAIN__SCHEDULE__EVERY=off

for d in trainer server; do
  "$BIN" gen --users "$users" --items "$items" --events "$events" --seed 1 --data-dir "$work/$d" >/dev/null
done
RUST_LOG=warn "$BIN" train --data-dir "$work/trainer" | grep published
RUST_LOG=warn RECD__TRAIN__ROLLOUT=candidate "$BIN" train --force --data-dir "$work/trainer" | grep published
v1=$(cat "$work/trainer/models-train/CURRENT")
echo "model size: $(du -sb "$work/trainer/models-train/$v1" | cut -f1) bytes in $(ls "$work/trainer/models-train/$v1" | wc -l) files"

RUST_LOG=info "$BIN" serve --data-dir "$work/server" --listen 127.0.0.1:0 >"$work/serve.out" 2>"$work/serve.log" &
pids+=($!)
until grep -q listening "$work/serve.out" 2>/dev/null; do sleep 0.1; done
addr=$(sed -n 's|listening on http://||p' "$work/serve.out")
# grep, not a JSON parser: a Python start costs more than the poll interval measured here.
served() { curl -s "http://$addr/v1/recommendations?user_id=u1&num_results=5" | grep -o '"model_version":"[^"]*"' | cut -d'"' -f4; }
until [ "$(served)" = "$v1" ]; do sleep 0.1; done

v2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["candidate"])' "$work/trainer/models-train/STATE.json")
swaps=()
for i in $(seq 1 "$rounds"); do
  if [ $((i % 2)) = 1 ]; then to=$v2; else to=$v1; fi
  # A random pause, so activations land at random phases of the two polls rather than right
  # after the watcher's tick (which would measure the worst case every time).
  sleep "$(awk -v seed="$RANDOM" -v max="$pause_max_ms" 'BEGIN { srand(seed); printf "%.3f", rand() * max / 1000 }')"
  start=$(date +%s%N)
  "$BIN" models activate "$to" --data-dir "$work/trainer" >/dev/null
  until [ "$(served)" = "$to" ]; do sleep 0.01; done
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  swaps+=("$ms")
  echo "swap $i (activate $to): $ms ms"
done
grep -o 'download_ms=[0-9]*' "$work/serve.log" | sed 's/^/server copy: /'
printf '%s\n' "${swaps[@]}" | awk -v p="$poll_ms" -v m="$model_poll_ms" '
  { s += $1; if (min == "" || $1 < min) min = $1; if ($1 > max) max = $1 }
  END { printf "activate -> swap on the server (models.poll_ms %d, model_poll_ms %d): mean %.0f ms, min %d, max %d over %d swaps\n", p, m, s / NR, min, max, NR }'
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); commit $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (dirty)')" >&2
