#!/usr/bin/env bash
# Opens the GraphiQL page of a demo server in headless Chromium (Debian's
# `chromium`, driven by npm's playwright-core), with every request to anything
# but 127.0.0.1 blocked: pastes the demo coordinator's token, runs
# `{ viewer { organization { name } } }` and checks that the answer is shown.
# Installs chromium (apt-get) and playwright-core (npm, into target/) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}

if ! command -v chromium >/dev/null; then
  echo "== installing chromium"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null
fi
tools=$(realpath -m "$target/browser-test")
if [ ! -d "$tools/node_modules/playwright-core" ]; then
  echo "== installing playwright-core"
  mkdir -p "$tools"
  (cd "$tools" && npm install --silent --no-audit --no-fund playwright-core@1.49.1 >/dev/null)
fi

work=$(mktemp -d)
echo "== building embhub"
# Copied at once: a target folder shared with other worktrees may be rebuilt under us.
cargo build --quiet --bin embhub && cp "$target/debug/embhub" "$work/embhub"
bin="$work/embhub"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cleanup() { [ -n "${server:-}" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

clients=$("$bin" seed --demo --json --data-dir "$work/data")
id=$(python3 -c 'import json,sys; c=[c for c in json.load(sys.stdin) if "COORDINATOR" in c["roles"]][0]; print(c["client_id"])' <<<"$clients")
secret=$(python3 -c 'import json,sys; c=[c for c in json.load(sys.stdin) if "COORDINATOR" in c["roles"]][0]; print(c["client_secret"])' <<<"$clients")
"$bin" serve --bind "127.0.0.1:$port" --data-dir "$work/data" >"$work/server.log" 2>&1 &
server=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
token=$(curl -fs "http://127.0.0.1:$port/oauth/token" -d grant_type=client_credentials \
  --data-urlencode "client_id=$id" --data-urlencode "client_secret=$secret" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

echo "== browser"
NODE_PATH="$tools/node_modules" EMBHUB_URL="http://127.0.0.1:$port/graphql" EMBHUB_TOKEN="$token" \
  node scripts/graphiql-browser-test.mjs
