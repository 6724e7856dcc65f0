#!/usr/bin/env bash
# Acknowledged (fdatasync'd) append throughput of recd's embedded event log, per shape.
#
# Runs crates/recd-store/benches/log_append.rs for 1 thread x batch 1000, then 4/16/64
# threads x batch 1/10/100, and prints one JSON line per shape on stdout (machine, commit and
# load go to stderr). The goal: >= 100k acknowledged events/s with group commit on a
# 2-core machine. Records per shape default to 200k (20k for batch 1, which is bound by one
# sync per few events); override with RECORDS / RECORDS_BATCH1. Extra arguments are passed
# to every run, e.g. `bench/log_append.sh --window-us 0` to compare group-commit windows.
#
# The log goes to a temp dir under target/tmp (same disk as the build, never a tmpfs, where
# fsync would cost nothing). Other disk activity on the machine moves the numbers a lot:
# record the load that is printed with them.
set -euo pipefail
cd "$(dirname "$0")/.."

records="${RECORDS:-200000}"
records_batch1="${RECORDS_BATCH1:-20000}"

cargo bench -q -p recd-store --bench log_append --no-run

run() {
    cargo bench -q -p recd-store --bench log_append -- \
        --threads "$1" --batch "$2" --records "$3" "${@:4}"
}

echo "# $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD) on $(nproc) cores," \
    "load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
run 1 1000 "$records" "$@"
for threads in 4 16 64; do
    for batch in 1 10 100; do
        if [ "$batch" = 1 ]; then n="$records_batch1"; else n="$records"; fi
        run "$threads" "$batch" "$n" "$@"
    done
done
echo "# done, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
