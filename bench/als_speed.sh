#!/usr/bin/env bash
# ALS training speed, recd against implicit 0.7.3, on the same synth.py events.csv with the
# same settings, in one invocation:
#
#   bash bench/als_speed.sh /work/runs/synth-small            # dir with events.csv, or the file
#   FACTORS=64 ITERATIONS=15 REGULARIZATION=0.05 ALPHA=1 THREADS=2 bash bench/als_speed.sh DIR
#
# Prints recd's JSON line (`recd bench als`), implicit's (shared/bench/peers/als_speed.py) and a
# summary line with the ratios (recd / implicit: < 1 means recd is faster or smaller), the
# commit and the machine. Needs the peers' venv (bash ../shared/bench/peers/setup.sh; override
# its python with PEERS_PYTHON) with pyarrow installed. The machine may be shared: compare
# fit_cpu_s as well as wall time, and re-run when the load average is high.
set -euo pipefail
cd "$(dirname "$0")/.."

data="${1:?usage: bench/als_speed.sh DATA_DIR_OR_EVENTS_CSV}"
events="$data"
[ -d "$data" ] && events="$data/events.csv"
[ -f "$events" ] || { echo "als_speed.sh: no such file: $events" >&2; exit 1; }
peers_python="${PEERS_PYTHON:-/opt/peers/bin/python}"
shared="${SHARED:-../shared}"
factors="${FACTORS:-64}"
iterations="${ITERATIONS:-15}"
regularization="${REGULARIZATION:-0.05}"
alpha="${ALPHA:-1}"
threads="${THREADS:-2}"
if [ "$alpha" != "1" ]; then
  # als_speed.py has no --alpha: implicit runs with its default, 1.
  echo "als_speed.sh: ALPHA must be 1 (the peer script does not take alpha)" >&2
  exit 1
fi

cargo build --release --quiet -p recd
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"

recd_json="$(target/release/recd bench als --events "$events" --factors "$factors" \
  --iterations "$iterations" --regularization "$regularization" --alpha "$alpha" \
  --threads "$threads")"
echo "recd     $recd_json"

implicit_json="$("$peers_python" "$shared/bench/peers/als_speed.py" "$events" \
  --factors "$factors" --iterations "$iterations" --regularization "$regularization" \
  --threads "$threads")"
echo "implicit $implicit_json"

RECD="$recd_json" IMPLICIT="$implicit_json" EVENTS="$events" LOAD="$load_before" \
COMMIT="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates bench || echo -dirty)" \
python3 - <<'PY'
import json, os, platform
r, i = json.loads(os.environ["RECD"]), json.loads(os.environ["IMPLICIT"])
same = r["nnz"] == i["nnz"] and r["confidence_sum"] == i["confidence_sum"]
cpu = "unknown"
try:
    cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
except (OSError, StopIteration):
    pass
print("summary " + json.dumps({
    "events": os.environ["EVENTS"],
    "same_matrix": same,
    "fit_s": {"recd": r["fit_s"], "implicit": i["fit_s"]},
    "fit_ratio": round(r["fit_s"] / i["fit_s"], 3),
    "fit_cpu_ratio": round(r["fit_cpu_s"] / i["fit_cpu_s"], 3) if r["fit_cpu_s"] is not None else None,
    "per_iter_ratio": round(r["per_iter_s"] / i["per_iter_s"], 3),
    "load_ratio": round(r["load_s"] / i["load_s"], 3),
    "peak_rss_mb": {"recd": r["peak_rss_mb"], "implicit": i["peak_rss_mb"]},
    "commit": os.environ["COMMIT"], "cpu": cpu, "cores": os.cpu_count(),
    "loadavg_before": os.environ["LOAD"],
}))
if not same:
    raise SystemExit("als_speed.sh: the two tools built different matrices (nnz or confidence_sum differ)")
PY
