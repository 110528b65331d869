#!/usr/bin/env bash
# Proves that docker-compose.yml and the Dockerfile work: build, start, serve, survive
# a restart and a recreation, then clean up.
#
#   scripts/docker-smoke.sh
#
# Steps: start dockerd if it is not running (and stop it again at the end); build
# local stand-ins for debian:bookworm-slim, the Rust image and postgres:15 where they
# are missing (scripts/docker/standins.sh; machines without Docker Hub); check that
# compose refuses to start without POSTGRES_PASSWORD or EMBHUB_KEY_ENCRYPTION_KEY;
# `up --build -d`; wait for both
# health checks; check the container runs as uid 10001 on a read-only root file
# system; create an ADMIN client with `exec`; get a token from the published port;
# write and read through GraphQL; restart embhub and check that the same token still
# works (the signing key is kept in the database, sealed) and the data is still there; the
# same after recreating the container; then `down -v`.
#
# It uses its own compose project (embhub-smoke), its own random database password
# and a free port on 127.0.0.1, so it never touches a `docker compose` deployment of
# the same checkout or its .env. Every wait is bounded. On exit, success or not, it
# removes the project's containers, network and volumes, and stops dockerd if it
# started it. Images and the build cache stay, so the next run is quick.
#
# Not part of .ci/run: a cold build takes about 30 minutes on two cores. Run it after
# changing the Dockerfile, docker-compose.yml, .dockerignore, the workspace layout
# (members, targets) or anything the server needs at start.
#
# Settings (environment): SMOKE_PROJECT (embhub-smoke), SMOKE_BUILD_TIMEOUT (5400 s),
# SMOKE_HEALTH_TIMEOUT (180 s), SMOKE_KEEP_LOGS=1 keeps the log folder.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"

project="${SMOKE_PROJECT:-embhub-smoke}"
build_timeout="${SMOKE_BUILD_TIMEOUT:-5400}"
health_timeout="${SMOKE_HEALTH_TIMEOUT:-180}"
work="$(mktemp -d /tmp/embhub-smoke.XXXXXX)"
passed=0
started_dockerd=""
compose=()

step() { printf '== %s\n' "$*"; }
ok() { passed=$((passed + 1)); printf '   ok: %s\n' "$*"; }
fail() {
  printf '   FAILED: %s\n' "$*" >&2
  exit 1
}

cleanup() {
  local status=$?
  set +e
  if [ ${#compose[@]} -gt 0 ]; then
    if [ "$status" != 0 ]; then
      echo "-- last log lines of each service (full logs in $work)" >&2
      "${compose[@]}" logs --no-color > "$work/compose.log" 2>&1
      "${compose[@]}" logs --no-color --tail=25 >&2 2>&1
      SMOKE_KEEP_LOGS=1
    fi
    step "down -v"
    if timeout 120 "${compose[@]}" down -v --remove-orphans > "$work/down.log" 2>&1; then
      echo "   removed the project's containers, network and volumes"
    else
      echo "   down failed:" >&2
      tail -n 5 "$work/down.log" >&2
    fi
  fi
  if [ -n "$started_dockerd" ]; then
    kill "$started_dockerd" 2>/dev/null
    for _ in $(seq 1 30); do kill -0 "$started_dockerd" 2>/dev/null || break; sleep 1; done
    echo "   stopped the dockerd this script started (pid $started_dockerd)"
  fi
  if [ "${SMOKE_KEEP_LOGS:-0}" = 1 ]; then
    echo "   logs kept in $work"
    rm -f "$work/env" "$work/no-password.env" "$work/no-kek.env"
  else
    rm -rf "$work"
  fi
  if [ "$status" = 0 ]; then
    echo "docker smoke: $passed passed, 0 failed"
  else
    echo "docker smoke: $passed passed, 1 failed" >&2
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for tool in docker curl python3 timeout; do
  command -v "$tool" >/dev/null || fail "$tool is not installed"
done

# ---------------------------------------------------------------------------------
step "Docker engine"
if ! timeout 20 docker info >/dev/null 2>&1; then
  command -v dockerd >/dev/null || fail "no Docker engine answers and dockerd is not installed (apt-get install docker.io)"
  [ "$(id -u)" = 0 ] || fail "no Docker engine answers; start one (this script can only as root)"
  echo "   no engine answers: starting dockerd (log: $work/dockerd.log)"
  dockerd > "$work/dockerd.log" 2>&1 &
  started_dockerd=$!
  for _ in $(seq 1 60); do timeout 5 docker info >/dev/null 2>&1 && break; sleep 1; done
  timeout 20 docker info >/dev/null 2>&1 || { tail -n 20 "$work/dockerd.log" >&2; fail "dockerd did not come up in 60 s"; }
fi
echo "   engine $(docker version --format '{{.Server.Version}}'), client $(docker version --format '{{.Client.Version}}')"
if docker compose version >/dev/null 2>&1; then
  compose_cmd=(docker compose)
elif command -v docker-compose >/dev/null; then
  compose_cmd=(docker-compose)
else
  fail "neither 'docker compose' nor 'docker-compose' is installed"
fi
echo "   compose: ${compose_cmd[*]} ($("${compose_cmd[@]}" version --short 2>/dev/null || echo '?'))"
ok "Docker engine and compose are usable"

# ---------------------------------------------------------------------------------
step "Base images (stand-ins where Docker Hub's are missing)"
scripts/docker/standins.sh
ok "base images present"

# ---------------------------------------------------------------------------------
step "Configuration"
# A free port on 127.0.0.1: nothing answers on it.
port=""
for _ in $(seq 1 50); do
  candidate=$((20000 + RANDOM % 20000))
  if ! (exec 3<>"/dev/tcp/127.0.0.1/$candidate") 2>/dev/null; then port=$candidate; break; fi
done
[ -n "$port" ] || fail "no free port found on 127.0.0.1"
# Characters that would break a password inside a URL: embhub takes it as PGPASSWORD.
password="smoke@/:?#%&-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
umask 077
kek="$(head -c 32 /dev/urandom | base64)"
head -c 32 /dev/urandom | base64 > "$work/data-key"
printf 'POSTGRES_PASSWORD=%s\nEMBHUB_KEY_ENCRYPTION_KEY=%s\nEMBHUB_PUBLISH=127.0.0.1:%s\nEMBHUB_DATA_KEY_PATH=%s\n' "$password" "$kek" "$port" "$work/data-key" > "$work/env"
printf 'EMBHUB_KEY_ENCRYPTION_KEY=%s\n' "$kek" > "$work/no-password.env"
printf 'POSTGRES_PASSWORD=%s\n' "$password" > "$work/no-kek.env"
# Our env file, not the checkout's .env; nothing from the caller's environment.
unset POSTGRES_PASSWORD EMBHUB_KEY_ENCRYPTION_KEY EMBHUB_PUBLISH
compose=("${compose_cmd[@]}" --project-name "$project" --env-file "$work/env" -f "$root/docker-compose.yml")

# Compose refuses to start while a required setting is missing, and says which.
for required in POSTGRES_PASSWORD EMBHUB_KEY_ENCRYPTION_KEY; do
  case $required in POSTGRES_PASSWORD) env_file="$work/no-password.env" ;; *) env_file="$work/no-kek.env" ;; esac
  if out="$("${compose_cmd[@]}" --project-name "$project" --env-file "$env_file" -f "$root/docker-compose.yml" config 2>&1)"; then
    fail "compose accepted a configuration without $required"
  fi
  grep -q "$required is not set" <<<"$out" || fail "compose failed without $required, but not clearly: $out"
  ok "without $required compose refuses: $(grep -o "$required is not set[^'\"}]*" <<<"$out" | tail -n1)"
done
"${compose[@]}" config > /dev/null || fail "compose rejects its configuration"
echo "   project $project, embhub on 127.0.0.1:$port"

# A run that died earlier may have left the project behind.
timeout 120 "${compose[@]}" down -v --remove-orphans > /dev/null 2>&1 || true

# ---------------------------------------------------------------------------------
step "up --build -d (a cold build takes about 30 minutes; log: $work/build.log)"
start=$(date +%s)
if ! timeout "$build_timeout" "${compose[@]}" up --build -d > "$work/build.log" 2>&1; then
  SMOKE_KEEP_LOGS=1
  tail -n 30 "$work/build.log" >&2
  fail "up --build failed or took over ${build_timeout} s"
fi
ok "built and started in $(( $(date +%s) - start )) s"

container() { "${compose[@]}" ps -q "$1"; }

# Waits until the service's health check passes; fails early if it exits.
wait_healthy() {
  local service=$1 id state health deadline=$((SECONDS + health_timeout))
  while :; do
    id="$(container "$service")"
    if [ -n "$id" ]; then
      state="$(docker inspect -f '{{.State.Status}}' "$id")"
      health="$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$id")"
      [ "$health" = healthy ] && return 0
      case "$state" in exited|dead) fail "$service exited while starting" ;; esac
    fi
    [ $SECONDS -lt $deadline ] || fail "$service not healthy after ${health_timeout} s (state ${state:-none}, health ${health:-none})"
    sleep 2
  done
}

step "Health checks"
start=$SECONDS
wait_healthy postgres
wait_healthy embhub
ok "postgres and embhub healthy ($((SECONDS - start)) s after up)"
embhub_id="$(container embhub)"
echo "   $(docker exec "$(container postgres)" postgres --version)"

# ---------------------------------------------------------------------------------
step "Runtime container"
image="$(docker inspect -f '{{.Image}}' "$embhub_id")"
size=$(docker image inspect -f '{{.Size}}' "$image")
echo "   image ${image:7:12}: $((size / 1000000)) MB (base debian:bookworm-slim: $(( $(docker image inspect -f '{{.Size}}' debian:bookworm-slim) / 1000000 )) MB)"
uid="$("${compose[@]}" exec -T embhub id -u)"
[ "$uid" = 10001 ] || fail "embhub runs as uid $uid, not 10001"
ok "runs as uid 10001 (not root)"
[ "$(docker inspect -f '{{.HostConfig.ReadonlyRootfs}}' "$embhub_id")" = true ] || fail "root file system is writable"
if "${compose[@]}" exec -T embhub bash -c ': > /usr/local/bin/probe' 2>/dev/null; then
  fail "could write to /usr/local/bin"
fi
"${compose[@]}" exec -T embhub bash -c ': > /tmp/probe && ! test -e /data/keys/token-signing-key.pem' \
  || fail "/tmp is not writable, or a signing key was generated in /data instead of kept in the database"
ok "read-only root file system; /tmp writable; no signing key file (it is kept in the database)"

# ---------------------------------------------------------------------------------
step "ADMIN client, token, GraphQL"
base="http://127.0.0.1:$port"
json_get() { python3 -c 'import json,sys; d=json.load(sys.stdin)
for k in sys.argv[1].split("."): d=d[int(k)] if isinstance(d,list) else d[k]
print(d)' "$1"; }

created="$("${compose[@]}" exec -T embhub embhub client create --org OPS --org-name "Operator" \
  --role ADMIN --name ops --json)" || fail "client create failed"
client_id="$(json_get client_id <<<"$created")" || fail "no client_id in: $created"
client_secret="$(json_get client_secret <<<"$created")"
ok "created ADMIN client $client_id with docker compose exec"

token="$(curl -sS --max-time 10 -u "$client_id:$client_secret" -d grant_type=client_credentials \
  "$base/oauth/token" | json_get access_token)" || fail "no access token from $base/oauth/token"
ok "token from 127.0.0.1:$port/oauth/token"

# POSTs a GraphQL document; prints the response body, fails on HTTP or GraphQL errors.
graphql() {
  local body response
  body="$(python3 -c 'import json,sys; print(json.dumps({"query": sys.argv[1]}))' "$1")"
  response="$(curl -sS --max-time 10 -w '\n%{http_code}' "$base/graphql" \
    -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -H 'Accept: application/graphql-response+json' -d "$body")" || return 1
  local code="${response##*$'\n'}"
  response="${response%$'\n'*}"
  if [ "$code" != 200 ] || grep -q '"errors"' <<<"$response"; then
    echo "HTTP $code: $response" >&2
    return 1
  fi
  printf '%s\n' "$response"
}

graphql '{ viewer { roles organization { acronym } } }' > "$work/viewer.json" || fail "viewer query"
[ "$(json_get data.viewer.organization.acronym < "$work/viewer.json")" = OPS ] || fail "viewer is not OPS: $(cat "$work/viewer.json")"
ok "query viewer: $(cat "$work/viewer.json")"

org_name="Smoke Test Commission $port"
graphql "mutation { createOrganization(input: { kind: ELECTION_MANAGEMENT_BODY, name: \"$org_name\", acronym: \"STC\", countryCode: \"KR\" }) { organization { id name } } }" \
  > "$work/created.json" || fail "createOrganization"
org_id="$(json_get data.createOrganization.organization.id < "$work/created.json")"
ok "mutation createOrganization: $org_id"

jwks_before="$(curl -sS --max-time 10 "$base/.well-known/jwks.json")"
kid_before="$(json_get keys.0.kid <<<"$jwks_before")"

# The same token and the organization, after a restart or recreation.
check_survived() {
  local what=$1 found
  found="$(graphql "{ node(id: \"$org_id\") { ... on Organization { name } } organizations(first: 100) { totalCount } }")" \
    || fail "the token from before the $what is refused (was the signing key lost?)"
  [ "$(json_get data.node.name <<<"$found")" = "$org_name" ] || fail "organization gone after the $what: $found"
  local kid; kid="$(curl -sS --max-time 10 "$base/.well-known/jwks.json" | json_get keys.0.kid)"
  [ "$kid" = "$kid_before" ] || fail "signing key changed across the $what ($kid_before -> $kid)"
  ok "after the $what: same token accepted, same key id $kid, organization still there ($(json_get data.organizations.totalCount <<<"$found") organizations)"
}

# ---------------------------------------------------------------------------------
step "Restart embhub"
start=$SECONDS
timeout 120 "${compose[@]}" restart embhub > /dev/null 2>&1 || fail "restart failed"
echo "   stopped and started in $((SECONDS - start)) s"
sleep 1
wait_healthy embhub
check_survived restart

step "Recreate the embhub container (new container, same volume)"
timeout 120 "${compose[@]}" up -d --no-build --force-recreate --no-deps embhub > /dev/null 2>&1 \
  || fail "recreation failed"
[ "$(container embhub)" != "$embhub_id" ] || fail "the container was not recreated"
wait_healthy embhub
check_survived recreation
