#!/usr/bin/env bash
# Measures the change feed (see bench/feed/src/main.rs): delay from a committed
# change to a subscriber's message on one instance and across two, then idle
# sockets held while changes flow, with the server's memory. PostgreSQL on
# 127.0.0.1:5432 (trust), a database `embhub_feed` recreated each run.
#
#   bench/feed.sh                          # 2000 sockets, 200 changes/s for 30 s
#   FEED_SOCKETS=500 FEED_SECONDS=10 bench/feed.sh --no-build
set -euo pipefail
cd "$(dirname "$0")/.."
WORK=bench/.work/feed
PG=postgres://postgres@127.0.0.1:5432
DB="$PG/embhub_feed?sslmode=disable"
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

[ "${1:-}" = "--no-build" ] || cargo build --release -q -p embhub -p embhub-bench-feed
rm -rf "$WORK" && mkdir -p "$WORK"
psql "$PG/postgres" -qc 'DROP DATABASE IF EXISTS embhub_feed WITH (FORCE)' -c 'CREATE DATABASE embhub_feed'
export DATABASE_URL="$DB" EMBHUB_DATA_DIR="$WORK/data"
target/release/embhub migrate up >/dev/null
target/release/embhub seed --demo >/dev/null
client() { target/release/embhub client create --org "$1" --role "$2" --name feed --json; }
token() { # client-json
  local id secret
  id=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["client_id"])' "$1")
  secret=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["client_secret"])' "$1")
  curl -sf "http://127.0.0.1:18190/oauth/token" -d grant_type=client_credentials \
    -d client_id="$id" -d client_secret="$secret" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
start() { # name port
  (
    export EMBHUB_BIND="127.0.0.1:$2" EMBHUB_TOKEN_TTL_SECS=3600 \
      EMBHUB_RATE_LIMIT_PER_MINUTE=1000000 EMBHUB_RATE_LIMIT_BURST=1000000 \
      EMBHUB_WS_MAX_CONNECTIONS_PER_CLIENT=100000 RUST_LOG=warn
    exec target/release/embhub serve
  ) >"$WORK/$1.log" 2>&1 &
  PIDS+=("$!")
  for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$2/readyz" >/dev/null && return; sleep 0.25; done
  echo "$1 did not start: $(tail -5 "$WORK/$1.log")" >&2
  exit 1
}
# One data folder, so both instances sign with the same key; A first creates it.
start a 18190
A_PID=${PIDS[0]}
start b 18191
COORDINATOR=$(token "$(client NEC COORDINATOR)")
PARTNER=$(token "$(client "CEC UZ" PARTNER)")
ulimit -n 65536 2>/dev/null || true
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB; $(date -u +%F)"
FEED_A=http://127.0.0.1:18190 FEED_B=http://127.0.0.1:18191 FEED_PID_A=$A_PID \
  FEED_COORDINATOR_TOKEN=$COORDINATOR FEED_PARTNER_TOKEN=$PARTNER \
  target/release/bench-feed
