#!/usr/bin/env bash
# Before/after comparison of server builds under the same host conditions. The host's speed
# drifts by ±20% over minutes (a shared VM), more than most changes are worth, so instead of
# one long run per build this starts one server per build, all loaded at once (each on its
# own copy of DATA_DIR), and interleaves short load runs between them: round r runs every
# build once, so a slow minute hits all builds alike and the comparison is per round; even
# rounds run the builds in reverse order. Use an even ROUNDS.
#
#   RECDS="/path/recd-before /path/recd-after" DATA_DIR=D USERS=1000000 USER_PREFIX=u \
#       ROUNDS=6 bench/serve_ab.sh
#
# To compare models instead (two trainings of the same events), give DATA_DIRS="D1 D2", one
# data dir per build, in RECDS' order (RECDS may name one binary twice).
#
# To compare settings of one binary, give EXTRAS: TOML appended to each build's config, in
# RECDS' order, separated by "|" (printf escapes allowed), e.g. RECDS="B B"
# EXTRAS='[serve.impressions]\nenabled = true|[serve.impressions]\nenabled = false'.
#
# MODES (default "saturate 32|rate 2000"): the reco_load runs of a round, SECONDS_EACH (5)
# each. Prints one line per run: round, build (and data dir), reco_load's JSON. The copies go to WORK
# (default target/tmp/serve-ab) and are deleted afterwards unless KEEP=1. Answer cache off,
# default deadline; DEGRADE_AFTER_MS and HTTP_THREADS as in serve_load.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${RECDS:?RECDS: the server binaries to compare}"
read -ra dirs <<< "${DATA_DIRS:-}"
[ "${#dirs[@]}" -gt 0 ] || : "${DATA_DIR:?DATA_DIR (or DATA_DIRS): a trained data dir}"
rounds="${ROUNDS:-6}"
seconds="${SECONDS_EACH:-5}"
users="${USERS:-943}"
unknown="${UNKNOWN_SHARE:-0.1}"
modes="${MODES:-saturate 32|rate 2000}"
work="${WORK:-target/tmp/serve-ab}"

cargo build -q --release -p recd-serve --example reco_load
load=target/release/examples/reco_load
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ "${KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

read -ra bins <<< "$RECDS"
IFS='|' read -ra extras <<< "${EXTRAS:-}"
urls=()
for k in "${!bins[@]}"; do
    d="$work/$k"
    mkdir -p "$d"
    [ -d "$d/data" ] || cp -r "${dirs[$k]:-$DATA_DIR}" "$d/data"
    # [serve] only when HTTP_THREADS is set: builds before the key refuse it.
    { [ -z "${HTTP_THREADS:-}" ] || printf '[serve]\nhttp_threads = %s\n' "$HTTP_THREADS"
      printf '[serve.recommend]\ncache_ttl_ms = 0\ndegrade_after_ms = %s\n' "${DEGRADE_AFTER_MS:-2}"
      # shellcheck disable=SC2059 # the extra is a printf format on purpose (its \n)
      [ -z "${extras[$k]:-}" ] || printf "${extras[$k]}\n"
    } > "$d/recd.toml"
    RUST_LOG=warn "${bins[$k]}" serve --data-dir "$d/data" --listen 127.0.0.1:0 \
        --config "$d/recd.toml" > "$d/serve.out" &
    pids+=($!)
done
sync
for k in "${!bins[@]}"; do
    d="$work/$k"
    for _ in $(seq 1 900); do grep -q "listening on" "$d/serve.out" 2>/dev/null && break; sleep 0.1; done
    url="$(sed -n 's#^listening on ##p' "$d/serve.out")"
    for _ in $(seq 1 900); do curl -sf "$url/readyz" >/dev/null && break; sleep 0.1; done
    urls+=("$url")
    "$load" "$url" saturate 4 3 "$users" "$unknown" >/dev/null  # warm-up
done
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%FT%TZ)" >&2
IFS='|' read -ra runs <<< "$modes"
# Even rounds run the builds in reverse order: the build that ran first in a round had the
# higher saturation in 17 of 22 rounds, whichever build it was (BENCHMARKS.md, 2026-11-24).
for r in $(seq 1 "$rounds"); do
    order=("${!bins[@]}")
    if [ $((r % 2)) = 0 ]; then
        order=()
        for ((k = ${#bins[@]} - 1; k >= 0; k--)); do order+=("$k"); done
    fi
    for k in "${order[@]}"; do
        for m in "${runs[@]}"; do
            # shellcheck disable=SC2086 # $m is "mode param"
            echo "$r ${bins[$k]}${dirs[$k]:+ ${dirs[$k]}}${extras[$k]:+ extra$k} $("$load" "${urls[$k]}" $m "$seconds" "$users" "$unknown")"
        done
    done
done
