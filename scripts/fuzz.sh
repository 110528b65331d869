#!/usr/bin/env bash
# Fuzzes embhub's GraphQL API with schemathesis (PyPI) in GraphQL mode: builds
# embhub, starts `embhub serve --demo` on a temporary data folder and a free port
# (rate limits raised so the fuzzer is not throttled), gets a coordinator token,
# and lets schemathesis generate operations for every query and mutation field.
#
# Fails on any 5xx, any error whose code is INTERNAL or missing, any body that is
# not a GraphQL response (the no_server_fault check in scripts/fuzz/embhub_hooks.py)
# and any internal error or panic in the server's log.
#
#   scripts/fuzz.sh [MAX_EXAMPLES_PER_FIELD]     (default 60)
#
# Needs: cargo, python3 (schemathesis is installed into target/fuzz-venv).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
examples=${1:-60}

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
cargo build --quiet --bin embhub
bin="$CARGO_TARGET_DIR/debug/embhub"

venv="$CARGO_TARGET_DIR/fuzz-venv"
if [[ ! -x "$venv/bin/schemathesis" ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'schemathesis>=4,<5'
fi

# shellcheck source=scripts/lib/demo-server.sh
source "$root/scripts/lib/demo-server.sh"
report="$CARGO_TARGET_DIR/fuzz-report"
mkdir -p "$report"
status=0
# The coordinator reaches the event mutations, the partner the answers,
# delegations and applications, the admin the directory.
for client in ${FUZZ_CLIENTS:-coordinator partner admin}; do
  echo "== fuzzing as the demo $client"
  DEMO_CLIENT=$client RUST_LOG=warn start_demo_server "$bin" \
    --rate-limit-per-minute 1000000 --rate-limit-burst 1000000
  PYTHONPATH="$root/scripts/fuzz" SCHEMATHESIS_HOOKS=embhub_hooks \
    "$venv/bin/schemathesis" run "$EMBHUB_URL/graphql" \
    --header "Authorization: Bearer $EMBHUB_TOKEN" \
    --checks no_server_fault \
    --max-examples "$examples" \
    --seed "${FUZZ_SEED:-5}" \
    --workers 2 \
    --no-color \
    --report junit --report-dir "$report" || status=$?
  internal=$(grep -cE 'internal error|panicked' "$DEMO_DATA_DIR/stderr.log" || true)
  echo "server log: $internal internal errors or panics"
  if [[ "$internal" != "0" ]]; then
    grep -E 'internal error|panicked' "$DEMO_DATA_DIR/stderr.log" | head -20
    status=1
  fi
  stop_demo_server
done
exit "$status"
