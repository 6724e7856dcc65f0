#!/usr/bin/env bash
# Fuzzes a live `recd serve` against its own OpenAPI document with schemathesis: every
# documented operation gets schema-valid and schema-breaking requests, and the run fails on
# any 5xx or any response the document does not allow (status, content type, body schema),
# and on a 404 or 405 where the operation's path and method are documented.
#
# Usage: .ci/schemathesis.sh PATH/TO/recd
#   Builds nothing. Runs `schemathesis` from PATH, or the one named by $SCHEMATHESIS
#   (pinned: pip install schemathesis==4.32.5). The server runs on a throwaway data dir
#   (generated and trained here, ~20 s) on a loopback port, with API keys on: the fuzzer
#   sends an admin key (which has every scope), and `ignored_auth` checks that each operation
#   the document says needs a key refuses requests without one or with a wrong one. Every
#   operation is fuzzed, the writing ones included; `POST /v1/admin/train`, the one route that starts work, is pointed
#   at a harmless configuration: a training run is stopped at its first memory check.
set -euo pipefail

recd=$(realpath "${1:?usage: .ci/schemathesis.sh PATH/TO/recd}")
st=${SCHEMATHESIS:-schemathesis}
work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    wait "$server_pid" || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "schemathesis: $("$st" --version)"
export RUST_LOG=warn
"$recd" gen --users 200 --items 100 --events 5000 --seed 1 --data-dir "$work/data" >/dev/null
"$recd" train --data-dir "$work/data" >/dev/null
key=$("$recd" keys create --data-dir "$work/data" --scope admin --name fuzzer 2>/dev/null)
# A generous deadline: the fuzzer's requests share two cores with it; the deadline fallback
# is the same response shape either way.
cat >"$work/recd.toml" <<'EOF'
[serve.recommend]
deadline_ms = 1000

[train.schedule]
every = "off"

[train.job]
memory_mb = 1
EOF
"$recd" serve --data-dir "$work/data" --config "$work/recd.toml" --listen 127.0.0.1:0 \
  >"$work/serve.out" 2>"$work/serve.err" &
server_pid=$!

# The first stdout line is "listening on http://ADDR".
addr=
for _ in $(seq 1 300); do
  line=$(head -n 1 "$work/serve.out" 2>/dev/null || true)
  case "$line" in
    "listening on http://"*) addr=${line#listening on http://}; break ;;
  esac
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.err" >&2; exit 1; }
  sleep 0.1
done
[ -n "$addr" ] || { echo "recd serve did not start" >&2; cat "$work/serve.err" >&2; exit 1; }
echo "recd serve on $addr"

# Wait for readiness (features rebuilt from the log).
for _ in $(seq 1 300); do
  if python3 - "$addr" <<'EOF' 2>/dev/null; then break; fi
import sys, urllib.request
urllib.request.urlopen(f"http://{sys.argv[1]}/readyz", timeout=2)
EOF
  sleep 0.1
done

# Run in the temp dir so schemathesis' report and example files stay out of the checkout.
status=0
(
  cd "$work"
  "$st" run "http://$addr/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection,unsupported_method,ignored_auth \
    --header "Authorization: Bearer $key" \
    --max-examples 50 \
    --workers 1 \
    --max-time 150 \
    --seed 1 \
    --request-timeout 10 \
    --generation-database none \
    --no-color
) || status=$?

if [ -s "$work/serve.err" ]; then
  echo "--- recd serve stderr (last 40 lines)"
  tail -n 40 "$work/serve.err"
fi
exit "$status"
