#!/usr/bin/env bash
# Nearest-neighbour index: recd's IVF against hnswlib (C++ HNSW) on the same vectors, in one
# invocation. The vectors are a trained model's: item factors queried by user factors
# (VECTORS=als, the default) or item content vectors queried by item content vectors
# (VECTORS=content).
#
#   bash bench/ann.sh DATA_DIR                 # a data dir with a trained model (models/CURRENT)
#   VECTORS=content QUERIES=1000 bash bench/ann.sh DATA_DIR
#
# Prints JSON lines: `recd bench ann` (recd-ivf for each n_probe of a sweep, the calibrated one
# marked, then recd-exact), then shared/bench/peers/ann_hnswlib.py on the .npy files recd
# exported (M=16, ef_construction=200, ef swept). Both answer one query at a time on one
# thread; recall@10 is against an exact scan. Needs the peers' venv with hnswlib (override its
# python with PEERS_PYTHON).
set -euo pipefail
cd "$(dirname "$0")/.."

data="${1:?usage: bench/ann.sh DATA_DIR}"
vectors="${VECTORS:-als}"
queries="${QUERIES:-1000}"
peers_python="${PEERS_PYTHON:-/opt/peers/bin/python}"
shared="${SHARED:-../shared}"
space=ip
cargo build -q --release -p recd
version="$(cat "$data/models/CURRENT")"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
{
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
    echo "commit: $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (dirty)')"
    echo "model: $version; load: $(cut -d' ' -f1-3 /proc/loadavg)"
} >&2
target/release/recd bench ann --model "$data/models/$version" --vectors "$vectors" \
    --out "$out" --queries "$queries"
"$peers_python" "$shared/bench/peers/ann_hnswlib.py" --items "$out/items.npy" \
    --queries "$out/queries.npy" --space "$space" --n-queries "$queries"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
