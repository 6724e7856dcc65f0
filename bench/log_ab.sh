#!/usr/bin/env bash
# The event log's append throughput, this tree against an earlier commit, interleaved in one
# run (old, new, old, new, ...) so both see the same disk: what a change to the log's format
# or its writer costs, as a ratio.
#
# Usage: bench/log_ab.sh OLD_COMMIT [REPS]
#   Builds OLD_COMMIT's `log_append` bench in a worktree under target/tmp, then runs the
#   shapes 1 thread x batch 1000, 16 x 1 and 64 x 10, REPS (3) times each, and prints one JSON
#   line per run prefixed with `old` or `new`. Compare medians per shape.
set -euo pipefail
cd "$(dirname "$0")/.."
old="${1:?usage: bench/log_ab.sh OLD_COMMIT [REPS]}"
reps="${2:-3}"
mkdir -p target/tmp
tree="target/tmp/log-ab-$(git rev-parse --short "$old")"
[ -d "$tree" ] || git worktree add -f "$tree" "$old" >/dev/null
(cd "$tree" && CARGO_TARGET_DIR="$PWD/../log-ab-target" cargo bench -q -p recd-store --bench log_append --no-run)
cargo bench -q -p recd-store --bench log_append --no-run
echo "# $(date -u +%FT%TZ) new $(git rev-parse --short HEAD) vs old $old, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for _ in $(seq "$reps"); do
    for shape in "1 1000 200000" "16 1 20000" "64 10 200000"; do
        set -- $shape
        (cd "$tree" && CARGO_TARGET_DIR="$PWD/../log-ab-target" cargo bench -q -p recd-store --bench log_append -- \
            --threads "$1" --batch "$2" --records "$3" | sed 's/^/old /')
        cargo bench -q -p recd-store --bench log_append -- \
            --threads "$1" --batch "$2" --records "$3" | sed 's/^/new /'
    done
done
