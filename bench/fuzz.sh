#!/usr/bin/env bash
# Runs every cargo-fuzz target in fuzz/ for SECONDS each (default 100: six targets, about ten
# minutes) and prints, per target, the executions and whether it crashed.
#
#   bash bench/fuzz.sh            # all targets, 100 s each
#   SECONDS_EACH=30 bash bench/fuzz.sh parquet_import log_frame
#
# cargo-fuzz needs nightly flags; on the stable toolchain RUSTC_BOOTSTRAP=1 allows them
# (../shared/DEPENDENCIES.md). Install it once with `cargo install cargo-fuzz`. The build
# (release, AddressSanitizer, 16 codegen units to keep it to minutes) goes to
# $CARGO_TARGET_DIR/fuzz when that is set, else fuzz/target. A crash leaves its input in
# fuzz/artifacts/<target>/ and the run goes on with the next target; corpora grow in
# fuzz/corpus/<target>/. Neither is committed (fuzz/.gitignore): turn a crash into a
# regression test beside the parser instead. Runs under nice: the machine is shared.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${SECONDS_EACH:-100}"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(event_body query_string csv_import jsonl_import parquet_import log_frame)
fi
if [ -n "${CARGO_TARGET_DIR:-}" ]; then
    target_dir="$CARGO_TARGET_DIR/fuzz"
else
    target_dir="$PWD/target"
fi
export RUSTC_BOOTSTRAP=1
build=(--target-dir "$target_dir" --codegen-units 16)

echo "# $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD) on $(nproc) cores," \
    "load $(cut -d' ' -f1-3 /proc/loadavg), ${seconds} s per target" >&2
nice -n 10 cargo fuzz build "${build[@]}" >&2

logs="$(mktemp -d)"
status=0
for target in "${targets[@]}"; do
    log="$logs/$target.log"
    mkdir -p "corpus/$target"
    if nice -n 10 cargo fuzz run "${build[@]}" "$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
        result="0 crashes"
    else
        result="CRASHED: $(ls -t "artifacts/$target" 2>/dev/null | head -1)"
        status=1
    fi
    execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
    cov="$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo '?')"
    printf '%-16s %10s executions  coverage %6s  %s\n' "$target" "$execs" "$cov" "$result"
done
echo "# logs in $logs" >&2
exit "$status"
