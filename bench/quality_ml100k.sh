#!/usr/bin/env bash
# Offline quality on MovieLens 100K, recd beside the peers, on one split and one scorer
# (../shared/bench/PROTOCOL.md). recd's settings are its defaults, chosen on the validation
# split; the test split is scored once. Peers use the settings of ../shared/bench/peers/README.md.
#
#   bash bench/quality_ml100k.sh [WORKDIR]     (needs the peers venv: bash ../shared/bench/peers/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=../shared
WORK=${1:-runs/quality}
PY=${PEERS_PYTHON:-/opt/peers/bin/python}
cargo build --release -q -p recd
RECD=target/release/recd
mkdir -p "$WORK"

python3 $SHARED/bench/split.py --input $SHARED/datasets/ml-100k/u.data --format ml100k --out "$WORK/valid" --valid >/dev/null
python3 $SHARED/bench/split.py --input $SHARED/datasets/ml-100k/u.data --format ml100k --out "$WORK/test" >/dev/null

run_recd() { # split
  local S="$WORK/$1" D="$WORK/$1/recd-data"
  rm -rf "$D"
  $RECD import --data-dir "$D" --events "$S/train.csv" --format csv >/dev/null 2>&1
  $RECD import --data-dir "$D" --items $SHARED/datasets/ml-100k/u.item --users $SHARED/datasets/ml-100k/u.user --format ml100k >/dev/null 2>&1
  local t0=$(date +%s.%N)
  RUST_LOG=warn $RECD train --data-dir "$D" | grep '^ranker:' >&2
  local t1=$(date +%s.%N)
  # Ranking accuracy: the engine with exploration and diversification off (they trade
  # accuracy for discovery by design); then the served defaults, for what users get.
  RECD__SERVE__RECOMMEND__EXPLORATION_SHARE=0 RECD__SERVE__RECOMMEND__DIVERSITY=none \
    $RECD recommend --data-dir "$D" --users "$S/test.csv" --n 10 --out "$S/recs-recd.csv" >/dev/null 2>&1
  echo "recd ($1) train_s=$(echo "$t1 - $t0" | bc) $(python3 $SHARED/bench/evaluate.py "$S/train.csv" "$S/test.csv" "$S/recs-recd.csv")"
  $RECD recommend --data-dir "$D" --users "$S/test.csv" --n 10 --out "$S/recs-recd-served.csv" >/dev/null 2>&1
  echo "recd ($1, served defaults: exploration and category cap on) $(python3 $SHARED/bench/evaluate.py "$S/train.csv" "$S/test.csv" "$S/recs-recd-served.csv")"
}
run_recd valid
run_recd test

S="$WORK/test"
peer() { # name args...
  local name=$1; shift
  if ! "$PY" $SHARED/bench/peers/$name.py --train "$S/train.csv" --users "$S/test.csv" --out "$S/recs-$name.csv" "$@" >/dev/null 2>"$S/$name.err"; then
    echo "$name: failed ($(tail -1 "$S/$name.err"))"; return
  fi
  echo "$name $* $(python3 $SHARED/bench/evaluate.py "$S/train.csv" "$S/test.csv" "$S/recs-$name.csv")"
}
peer popularity
peer itemknn --k 200
peer implicit_als --factors 64 --regularization 10 --alpha 1 --iterations 15
peer implicit_bpr --factors 128 --learning-rate 0.01 --iterations 100
peer ease --lambda 500
peer lightfm_warp --components 128 --learning-rate 0.02 --epochs 60
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); commit $(git rev-parse --short HEAD)"
