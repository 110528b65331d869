#!/usr/bin/env bash
# Audits embhub against the GraphQL-over-HTTP specification with the graphql-http
# package's server audit (npm). Builds embhub, starts `embhub serve --demo` on a
# temporary data folder and a free port, gets a token for the demo coordinator,
# runs the audit, stops the server. Exits non-zero if any MUST fails.
#
# Needs: cargo, node >= 18 and npm (the audit's packages are installed from
# scripts/graphql-http-audit/package-lock.json into that folder).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
audit_dir="$root/scripts/graphql-http-audit"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}"
cargo build --quiet --bin embhub
bin="$CARGO_TARGET_DIR/debug/embhub"

(cd "$audit_dir" && npm ci --silent --no-audit --no-fund)

# shellcheck source=scripts/lib/demo-server.sh
source "$root/scripts/lib/demo-server.sh"
start_demo_server "$bin"
trap stop_demo_server EXIT

cd "$audit_dir"
EMBHUB_URL="$EMBHUB_URL/graphql" EMBHUB_TOKEN="$EMBHUB_TOKEN" node audit.mjs
