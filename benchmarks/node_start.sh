#!/usr/bin/env bash
# Start time of a node holding a large store: from the exec of stress_node to its first
# GET /status 200 (polled every 10 ms), for one build or two side by side on the same data.
#
# Usage: benchmarks/node_start.sh --entries N [--runs 5] [--a BIN] [--b BIN] [--data-dir DIR]
#   --entries N   fills DIR once with N created entries through libkv (build/benchmarks/kv_fill,
#                 a single-member cluster's committed and applied log), unless DIR already has
#                 them (reused between runs of this script with --data-dir)
#   --a / --b     stress_node binaries (default --a build/bin/stress_node, no --b); with both,
#                 the runs alternate a, b, a, b, ... on the same directory
#   --runs        starts per binary
# Prints each start's milliseconds and a min/median/p90/max line per binary, and the load
# average. Every node it starts is stopped; a directory it made is removed (BENCH_KEEP=1 keeps).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/benchmarks/lib.sh"
die() { echo "node_start: $*" >&2; exit 2; }

entries= runs=5 bin_a="$root/build/bin/stress_node" bin_b= data= port=${PORT:-18590}
while (($#)); do
  case $1 in
    --entries) entries=${2:?}; shift 2 ;;
    --runs) runs=${2:?}; shift 2 ;;
    --a) bin_a=${2:?}; shift 2 ;;
    --b) bin_b=${2:?}; shift 2 ;;
    --data-dir) data=${2:?}; shift 2 ;;
    *) die "unknown argument $1 (see the header of this script)" ;;
  esac
done
[[ $entries =~ ^[0-9]+$ ]] || die "--entries N is required"
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive number"
for b in "$bin_a" $bin_b; do [[ -x $b ]] || die "$b is not an executable"; done
fill="$root/build/benchmarks/kv_fill"
[[ -x $fill ]] || die "$fill missing: scripts/build.sh --target kv_fill"
bench_port_in_use "$port" && die "port $port is in use (PORT=... to choose another)"

if [[ -z $data ]]; then
  bench_work=$(mktemp -d /tmp/node_start.XXXXXX)
  data=$bench_work/node-0
fi
trap bench_stop_all EXIT
if [[ ! -d $data/db ]]; then
  echo "filling $data with $entries entries"
  "$fill" --data-dir "$data" --entries "$entries"
fi

# One start: prints the milliseconds to the first /status 200, stops the node.
start_once() {
  local bin=$1 t0 pid
  t0=$(bench_now_ms)
  "$bin" --node-id 0 --port "$port" --data-dir "$data" --snapshot-threshold 100000000 \
    --insecure-peers >>"$data.out" 2>&1 &
  pid=$!
  bench_pids=("$pid")
  until curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$port/status"; do
    kill -0 "$pid" 2>/dev/null || die "$bin exited; see $data.out"
    sleep 0.01
  done
  echo $(($(bench_now_ms) - t0))
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
  bench_pids=()
}

declare -a times_a=() times_b=()
for ((r = 0; r < runs; r++)); do
  times_a+=("$(start_once "$bin_a")")
  [[ -z $bin_b ]] || times_b+=("$(start_once "$bin_b")")
done
echo "a: $bin_a"
echo "  ${times_a[*]}"
printf '%s\n' "${times_a[@]}" | bench_summary_ms
if [[ -n $bin_b ]]; then
  echo "b: $bin_b"
  echo "  ${times_b[*]}"
  printf '%s\n' "${times_b[@]}" | bench_summary_ms
fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
