#!/usr/bin/env bash
# ctest compat.toxiproxy_node_client: starts the built `bombarder proxy` on a free loopback port,
# installs toxiproxy-node-client from the committed lock file when node_modules is missing, runs
# compat.js against the API and stops the proxy whatever happened.
# Usage: run.sh BOMBARDER_BIN
set -euo pipefail
bombarder=${1:?usage: run.sh BOMBARDER_BIN}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [[ ! -d "$here/node_modules/toxiproxy-node-client" ]]; then
  (cd "$here" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error)
fi

log=$(mktemp)
"$bombarder" proxy --host 127.0.0.1 --port 0 --seed 6 >"$log" 2>&1 &
proxy_pid=$!
cleanup() {
  kill "$proxy_pid" 2>/dev/null || true
  wait "$proxy_pid" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT

# The proxy prints its bound API address once it listens; poll for it with a 10 s deadline.
api=""
deadline=$((SECONDS + 10))
while [[ -z "$api" ]]; do
  api=$(grep -o 'API on http://[0-9.]*:[0-9]*' "$log" | head -n1 | sed 's/^API on //' || true)
  if [[ -n "$api" ]]; then break; fi
  if ! kill -0 "$proxy_pid" 2>/dev/null || ((SECONDS >= deadline)); then
    echo "bombarder proxy did not report its API address:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.05
done
echo "bombarder proxy API at $api"

# compat.js bounds each socket wait; `timeout` bounds the whole run as a backstop.
timeout 120 node "$here/compat.js" "$api"
