#!/usr/bin/env bash
# /status latency on a large store (issue 13 bug 3). Fills a single-member node's data dir with
# ENTRIES entries through libkv (build/benchmarks/kv_fill), starts stress_node on it, then
# ROUNDS times: one write (so that the applied index moves, as under load), then one timed
# GET /status. Prints the /status latencies (ms: min, median, p90, max) and the
# state_hash_index each answer carried.
#
# Usage: benchmarks/status_latency.sh [BUILD_DIR]   env: ENTRIES (1000000), ROUNDS (20),
#        PORT (28400), DIR (a fresh directory under data/; KEEP=1 keeps it and reuses a filled
#        one). Every process it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build}
entries=${ENTRIES:-1000000}
rounds=${ROUNDS:-20}
port=${PORT:-28400}
dir=${DIR:-data/status-latency-$entries}
node="$build/bin/stress_node"
fill="$build/benchmarks/kv_fill"
for binary in "$node" "$fill"; do
  [[ -x "$binary" ]] || { echo "status_latency: $binary missing; build it first" >&2; exit 1; }
done
pid=""
cleanup() {
  [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  [[ "${KEEP:-0}" == 1 ]] || rm -rf "$dir"
}
trap cleanup EXIT
if [[ ! -d "$dir/db" ]]; then
  mkdir -p "$dir"
  "$fill" --data-dir "$dir" --entries "$entries"
fi
# No snapshot during the measurement: its serialization would compete for the cores.
"$node" --node-id 0 --port "$port" --data-dir "$dir" --snapshot-threshold 100000000 \
  --log-level warn >"$dir/node.out" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  if curl -sf "http://127.0.0.1:$port/status" 2>/dev/null | grep -q '"role":"leader"'; then break; fi
  sleep 0.1
done
times=()
health=()
for i in $(seq 1 "$rounds"); do
  curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' \
    -d "{\"key\":\"probe-$i\",\"value\":\"v\"}" "http://127.0.0.1:$port/api/kv"
  out=$(curl -s -o "$dir/status.json" -w '%{time_total}' "http://127.0.0.1:$port/status")
  ms=$(awk -v t="$out" 'BEGIN { printf "%.1f", t * 1000 }')
  times+=("$ms")
  # The control: an endpoint of the same io thread without the hash (machine noise).
  h=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$port/_raft/health")
  health+=("$(awk -v t="$h" 'BEGIN { printf "%.1f", t * 1000 }')")
  index=$(grep -o '"state_hash_index":[0-9]*' "$dir/status.json" | cut -d: -f2)
  applied=$(grep -o '"applied_index":[0-9]*' "$dir/status.json" | cut -d: -f2)
  echo "round $i: /status ${ms} ms (applied $applied, state_hash_index $index)"
done
summary() {
  sort -n | awk -v what="$1" -v entries="$entries" '
    { v[NR] = $1 }
    END { printf "status_latency: %d entries, %d rounds, %s: min %.1f ms, median %.1f ms, p90 %.1f ms, max %.1f ms\n",
          entries, NR, what, v[1], v[int((NR + 1) / 2)], v[int(NR * 0.9 + 0.5)], v[NR] }'
}
printf '%s\n' "${times[@]}" | summary "GET /status"
printf '%s\n' "${health[@]}" | summary "GET /_raft/health (control)"
