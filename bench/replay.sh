#!/usr/bin/env bash
# Session replay (`recd eval replay`) on ml-100k and on generated data, beside the nearline
# peer on the same events: implicit ALS trained before the cut, `recalculate_user` on every
# event (bench/peers/replay_implicit.py). Prints recd's table, then the peer's JSON line.
#
#   bash bench/replay.sh [WORKDIR]     (the peer needs implicit 0.7.3: PEERS_PYTHON, default
#                                       /opt/peers/bin/python from ../shared/bench/peers/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=../shared
WORK=${1:-runs/replay}
PY=${PEERS_PYTHON:-/opt/peers/bin/python}
cargo build --release -q -p recd
RECD=target/release/recd
mkdir -p "$WORK"

replay() { # name data-dir [flags of recd eval replay]
  local name=$1 D=$2
  shift 2
  echo "== $name"
  RUST_LOG=warn $RECD eval replay --data-dir "$D" --dump "$WORK/$name" "$@"
  "$PY" bench/peers/replay_implicit.py "$WORK/$name/replay.csv"
}

ML=$SHARED/datasets/ml-100k
if [ -f $ML/u.data ]; then
  rm -rf "$WORK/ml100k-data"
  $RECD import --data-dir "$WORK/ml100k-data" --events $ML/u.data --items $ML/u.item --users $ML/u.user --format ml100k >/dev/null 2>&1
  replay ml100k "$WORK/ml100k-data"
fi
rm -rf "$WORK/gen-data"
$RECD gen --users 5000 --items 2000 --events 400000 --seed 3 --data-dir "$WORK/gen-data" >/dev/null 2>&1
replay gen "$WORK/gen-data" --max-users 500
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); commit $(git rev-parse --short HEAD)"
