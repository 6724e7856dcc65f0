#!/usr/bin/env bash
# Does the ranker learn better from impressions? An online A/B with simulated users.
#
# 1. `recd gen` a world (USERS x ITEMS x EVENTS, seed SEED, no device effect), trained once, and
#    served with impressions on: `recd simulate` (all USERS, STEPS lists each) makes a history
#    of answers shown, clicks and purchases that cite them.
# 2. Two models trained on that data (all history, forced past the gate): A with the
#    generated negatives only (`[train.ranker] negatives_from_impressions = false`, made
#    CURRENT), B with the negatives from impressions where they exist (staged as CANDIDATE).
# 3. Served again with an experiment, 50/50: `control` answered by A, `impressions` by B
#    (a variant naming the candidate); the same simulated users (STEPS2 lists each) decide.
# Prints the report's per-variant CTR and the CTR comparison (delta method, per user).
# Smoke run: USERS=300 EVENTS=20000 STEPS=2 STEPS2=2 bench/impression_negatives.sh
set -euo pipefail
cd "$(dirname "$0")/.."

users="${USERS:-2000}"
items="${ITEMS:-200}"
events="${EVENTS:-60000}"
seed="${SEED:-1}"
steps="${STEPS:-4}"
steps2="${STEPS2:-4}"

cargo build -q --release -p recd
target="${CARGO_TARGET_DIR:-target}"
recd="$target/release/recd"
mkdir -p "$target/tmp"
work="$(mktemp -d "$target/tmp/impression-negatives.XXXXXX")"
pid=""
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

world=(--users "$users" --items "$items" --events "$events" --seed "$seed" --device-effect 0)
data="$work/data"
RUST_LOG=warn "$recd" gen "${world[@]}" --data-dir "$data" >/dev/null
RUST_LOG=warn "$recd" train --data-dir "$data" >/dev/null

serve() { # config file
    RUST_LOG=warn "$recd" serve --data-dir "$data" --listen 127.0.0.1:0 --config "$1" \
        > "$work/serve.out" 2> "$work/serve.err" &
    pid=$!
    url=""
    for _ in $(seq 1 600); do
        url="$(sed -n 's#^listening on ##p' "$work/serve.out")"
        [ -n "$url" ] && break
        sleep 0.1
    done
    [ -n "$url" ] || { cat "$work/serve.err" >&2; exit 1; }
}
stop() {
    kill "$pid"
    wait "$pid" || true
    pid=""
}

printf '[train.schedule]\nevery = "off"\n[serve.rollout]\nenabled = false\n' > "$work/collect.toml"
serve "$work/collect.toml"
"$recd" simulate --server "$url" "${world[@]}" --sim-users "$users" --steps "$steps" \
    > "$work/collect.json"
stop
echo "history: $(cat "$work/collect.json")"

printf '[train.ranker]\nnegatives_from_impressions = false\n' > "$work/a.toml"
RUST_LOG=warn "$recd" train --data-dir "$data" --all --force --config "$work/a.toml" >/dev/null
a="$(cat "$data/models/CURRENT")"
printf '[train]\nrollout = "candidate"\n' > "$work/b.toml"
RUST_LOG=info "$recd" train --data-dir "$data" --all --force --config "$work/b.toml" \
    2> "$work/b.err" >/dev/null
grep -o 'users=[0-9]* *ranker negatives from impressions[^"]*' "$work/b.err" || \
    grep 'ranker negatives from impressions' "$work/b.err" | tail -1
b="$(sed -n 's/.*"candidate": *"\([^"]*\)".*/\1/p' "$data/models/STATE.json")"
echo "A (generated negatives) = $a, B (impression negatives) = $b"

cat > "$work/ab.toml" <<TOML
[train.schedule]
every = "off"
[serve.rollout]
enabled = false
[serve.guardrails]
stop = false
[experiments.negatives]
salt = "negatives-$seed"
status = "running"
[[experiments.negatives.variants]]
name = "control"
share = 50
[[experiments.negatives.variants]]
name = "impressions"
share = 50
model = "$b"
TOML
serve "$work/ab.toml"
"$recd" simulate --server "$url" "${world[@]}" --sim-users "$users" --steps "$steps2" \
    > "$work/ab.json"
sleep 2
curl -sf "$url/v1/admin/experiments/negatives/report" > "$work/report.json"
stop
python3 - "$work/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for v in r["variants"]:
    print(f'{v["name"]:12} users {v["users"]:5} shown {v["impressions"]:7} clicks {v["clicks"]:6} CTR {v["ctr"]:.4f} conversion {v["conversion_rate"]:.4f}')
for c in r["comparisons"]:
    if c["metric"] in ("ctr", "conversion_rate") and c.get("diff") is not None:
        print(f'{c["metric"]:16} diff {c["diff"]:+.4f} [{c["ci_low"]:+.4f}, {c["ci_high"]:+.4f}] p {c["p_value"]:.4f}')
PY
