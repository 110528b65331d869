# Sourced by the scripts in scripts/: starts `embhub serve --demo` on a temporary
# data folder and a free port, and gets an access token for a demo client.
#
#   start_demo_server BIN [extra serve flags...]
#     sets EMBHUB_URL (http://127.0.0.1:PORT), EMBHUB_TOKEN, DEMO_DATA_DIR, DEMO_PID
#     (DEMO_CLIENT picks the demo client: coordinator by default)
#   stop_demo_server

start_demo_server() {
  local bin=$1
  shift
  DEMO_DATA_DIR=$(mktemp -d)
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  EMBHUB_URL="http://127.0.0.1:$port"
  env -u DATABASE_URL RUST_LOG="${RUST_LOG:-warn}" "$bin" --data-dir "$DEMO_DATA_DIR" \
    serve --demo --bind "127.0.0.1:$port" "$@" \
    >"$DEMO_DATA_DIR/stdout.log" 2>"$DEMO_DATA_DIR/stderr.log" &
  DEMO_PID=$!
  for _ in $(seq 1 100); do
    if curl -sf "$EMBHUB_URL/readyz" >/dev/null 2>&1; then break; fi
    if ! kill -0 "$DEMO_PID" 2>/dev/null; then
      echo "embhub exited early:" >&2
      cat "$DEMO_DATA_DIR/stderr.log" >&2
      return 1
    fi
    sleep 0.2
  done
  local line id secret
  line=$(grep -E "^\s+${DEMO_CLIENT:-coordinator}\s" "$DEMO_DATA_DIR/stdout.log" | head -n1)
  id=$(sed -E 's/.*client_id=([^ ]+).*/\1/' <<<"$line")
  secret=$(sed -E 's/.*client_secret=([^ ]+).*/\1/' <<<"$line")
  if [[ -z "$id" || -z "$secret" ]]; then
    echo "no demo credentials in the server's output" >&2
    return 1
  fi
  EMBHUB_TOKEN=$(curl -sf "$EMBHUB_URL/oauth/token" \
    -d grant_type=client_credentials --data-urlencode "client_id=$id" \
    --data-urlencode "client_secret=$secret" |
    python3 -c 'import sys, json; print(json.load(sys.stdin)["access_token"])')
  export EMBHUB_URL EMBHUB_TOKEN DEMO_DATA_DIR DEMO_PID
}

stop_demo_server() {
  if [[ -n "${DEMO_PID:-}" ]] && kill -0 "$DEMO_PID" 2>/dev/null; then
    kill -TERM "$DEMO_PID"
    wait "$DEMO_PID" 2>/dev/null || true
  fi
  if [[ -n "${DEMO_DATA_DIR:-}" ]]; then
    rm -rf "$DEMO_DATA_DIR"
  fi
}
