#!/usr/bin/env bash
# Is bombarder's load generator the bottleneck? (issue 4: it must reach at least half of what
# wrk reaches against the same trivial local HTTP server.)
#
# Starts benchmarks' trivial_http_server (answers every POST with 201 and a fixed entry, does no
# work) on a loopback port, then, side by side in one run, for each connection count:
#   wrk -t2 -cN -dD --latency -s benchmarks/wrk_post_unique.lua      (unique-key POSTs)
#   bombarder flood --nodes PORT --concurrency N --duration D         (the same POSTs, with
#                                                                      Idempotency-Key headers,
#                                                                      JSON parsing of answers)
#   bombarder flood ... --metrics-port 0                              (the same, with its
#                                                                      Prometheus endpoint
#                                                                      scraped every 250 ms)
# and prints requests/s, p50 and p99 of each and the ratios to wrk.
#
# Usage: benchmarks/loadgen_vs_wrk.sh [BUILD_DIR]   env: DURATION (s, default 10),
#        CONNECTIONS (default "10 50"), SERVER_THREADS (default 1)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build}
duration=${DURATION:-10}
connections=${CONNECTIONS:-10 50}
server_threads=${SERVER_THREADS:-1}
server="$build/benchmarks/trivial_http_server"
bombarder="$build/bin/bombarder"
for binary in "$server" "$bombarder"; do
  [[ -x "$binary" ]] || { echo "loadgen_vs_wrk: $binary missing; run scripts/build.sh" >&2; exit 1; }
done
command -v wrk >/dev/null || apt-get install -y wrk >/dev/null
port=$((20000 + RANDOM % 10000))
work=$(mktemp -d)
"$server" "$port" "$server_threads" &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$port/status" && break
  sleep 0.05
done

# wrk's latency lines are "50%  484.00us"; print milliseconds.
to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; printf "%.2f", v}'; }

printf "%-6s %-10s %12s %9s %9s\n" conns tool "req/s" "p50 ms" "p99 ms"
for c in $connections; do
  wrk -t2 -c"$c" -d"${duration}s" --latency -s benchmarks/wrk_post_unique.lua \
    "http://127.0.0.1:$port" >"$work/wrk.txt"
  wrk_rps=$(awk '/^Requests\/sec/ {print $2}' "$work/wrk.txt")
  wrk_p50=$(awk '$1 == "50%" {print $2}' "$work/wrk.txt" | to_ms)
  wrk_p99=$(awk '$1 == "99%" {print $2}' "$work/wrk.txt" | to_ms)
  printf "%-6s %-10s %12.0f %9s %9s\n" "$c" wrk "$wrk_rps" "$wrk_p50" "$wrk_p99"
  for variant in plain metrics; do
    extra=()
    [[ $variant == metrics ]] && extra=(--metrics-port 0)
    STRESS_TEST_DATA="$work/data" "$bombarder" flood --nodes "$port" --concurrency "$c" \
      --duration "$duration" --json "${extra[@]}" >"$work/bombarder.json" 2>"$work/stderr.txt" &
    flood_pid=$!
    if [[ $variant == metrics ]]; then
      # Scrape as a busy Prometheus would, far more often than the usual 5-15 s.
      while kill -0 "$flood_pid" 2>/dev/null; do
        url=$(sed -nE 's/^metrics: (http:[^ ]+)$/\1/p' "$work/stderr.txt")
        [[ -n $url ]] && curl -s -o /dev/null "$url"
        sleep 0.25
      done
    fi
    wait "$flood_pid"
    # The summary is pretty-printed JSON with sorted keys: the first p50_ms/p99_ms are the
    # overall latency's (the "latency" object precedes "operations").
    # Only the value after the colon: the key itself may hold digits ("p50_ms").
    json_number() { grep -m1 "\"$1\":" "$work/bombarder.json" | sed -E 's/^[^:]*: *([0-9.eE+-]+).*/\1/'; }
    b_rps=$(json_number throughput_rps)
    b_p50=$(printf "%.2f" "$(json_number p50_ms)")
    b_p99=$(printf "%.2f" "$(json_number p99_ms)")
    name=bombarder
    [[ $variant == metrics ]] && name=+metrics
    printf "%-6s %-10s %12.0f %9s %9s   %.0f%% of wrk\n" "$c" "$name" "$b_rps" "$b_p50" "$b_p99" \
      "$(awk -v b="$b_rps" -v w="$wrk_rps" 'BEGIN {print 100 * b / w}')"
  done
done
