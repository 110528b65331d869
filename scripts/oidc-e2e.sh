#!/usr/bin/env bash
# End-to-end sign-in against a real OpenID provider: npm's `oidc-provider`
# (installed into the target folder) runs on 127.0.0.1, a person signs in with the
# authorization-code flow and PKCE, and embhub, trusting that issuer through
# EMBHUB_OIDC_ISSUERS_FILE (discovery, JWKS, audience, org and groups claims),
# takes the provider's JWT access token: `viewer` names the person, a write is
# audited under their name. Needs node and npm.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
tools=$(realpath -m "$target/oidc-e2e")
if [ ! -d "$tools/node_modules/oidc-provider" ]; then
  echo "== installing oidc-provider"
  mkdir -p "$tools"
  (cd "$tools" && npm install --silent --no-audit --no-fund oidc-provider@9.13.3 >/dev/null)
fi
work=$(mktemp -d)
echo "== building embhub"
cargo build --quiet --bin embhub && cp "$target/debug/embhub" "$work/embhub"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
idp_port=$(free_port); api_port=$(free_port)
issuer="http://127.0.0.1:$idp_port"
cleanup() { for p in ${idp:-} ${api:-}; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

cat >"$work/issuers.json" <<JSON
{ "issuers": [ {
  "issuer": "$issuer", "discovery": true, "audience": "embhub-api", "algorithms": ["RS256"],
  "organization": { "claim": "org", "match": "acronym" },
  "roles": { "claim": "groups", "map": { "embhub-coordinators": ["COORDINATOR"] } }
} ] }
JSON
"$work/embhub" seed --demo --data-dir "$work/data" >/dev/null
EMBHUB_OIDC_ISSUERS_FILE="$work/issuers.json" "$work/embhub" serve --bind "127.0.0.1:$api_port" \
  --data-dir "$work/data" >"$work/embhub.log" 2>&1 &
api=$!
NODE_PATH="$tools/node_modules" ISSUER="$issuer" MODE=serve TOKEN_FILE="$work/token" \
  node scripts/oidc-e2e.mjs >"$work/idp.log" 2>&1 &
idp=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$api_port/healthz" >/dev/null && break; sleep 0.2; done
for _ in $(seq 1 100); do [ -s "$work/token" ] && break; sleep 0.2; done
[ -s "$work/token" ] || { echo "the provider issued no token:"; cat "$work/idp.log"; exit 1; }
token=$(cat "$work/token")
echo "== signed in at $issuer; token of ${#token} characters"

gql() { curl -fs "http://127.0.0.1:$api_port/graphql" -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' -d "$1"; }
viewer=$(gql '{"query":"{ viewer { clientId roles organization { name } person { issuer subject name email } } }"}')
echo "viewer: $viewer"
python3 - "$viewer" "$issuer" <<'PY'
import json, sys
v = json.loads(sys.argv[1])["data"]["viewer"]
assert v["clientId"] is None, v
assert v["roles"] == ["COORDINATOR"], v
assert v["organization"]["name"] == "National Election Commission", v
assert v["person"] == {"issuer": sys.argv[2], "subject": "kim", "name": "Kim Staff", "email": "kim@nec.example"}, v
PY
created=$(gql '{"query":"mutation { createCalendarFeed(input: { label: \"e2e\" }) { feed { id } } }"}')
echo "write: $created"
echo "$created" | python3 -c 'import json,sys; assert json.load(sys.stdin)["data"]["createCalendarFeed"]["feed"]["id"]'
python3 - "$work/data/embhub.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
row = db.execute("SELECT a.actor_client_id, p.subject, p.name FROM audit_entries a "
                 "JOIN people p ON p.id = a.actor_person_id WHERE a.entity_type = 'CalendarFeed'").fetchone()
assert row is not None and row[0] is None and row[1] == "kim", row
print(f"audit: calendar_feed.create by {row[2]} (sub {row[1]}), no API client")
PY
last=${token: -1}; [ "$last" = A ] && other=B || other=A
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$api_port/graphql" \
  -H "Authorization: Bearer ${token%?}$other" -H 'Content-Type: application/json' -d '{"query":"{ viewer { roles } }"}')
[ "$status" = 401 ] || { echo "a tampered token got $status"; exit 1; }
echo "== ok: the provider's token signed the person in, a write succeeded, a tampered token got 401"
