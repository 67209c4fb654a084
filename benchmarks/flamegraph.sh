#!/usr/bin/env bash
# A flame graph of the leader of a 3-node stress_node cluster under write load (issue 15:
# "publish the breakdown"), and the same profile as a table of shares per library.
#
# Usage: benchmarks/flamegraph.sh [--seconds 8] [--concurrency 50] [--fill N] [--port 28380]
#          [--out FILE]
#   --fill N: before profiling, write N entries (`bombarder flood --count N`), for the profile of
#   a full store (issue 15's "cost as the store grows").
#   Environment (same meaning as the flags): SECONDS_PROFILED, CONCURRENCY, FILL, PORT (the first of 3
#   consecutive ports), OUT (default docs/img/leader-flamegraph.svg); BUILD (where stress_node and
#   bombarder are, default build/bin); DATA_DIR_ROOT (where the nodes keep their data, default
#   /tmp: set /dev/shm for the CPU-only ceiling); KEEP=1 keeps the work directory (perf.data,
#   collapsed stacks, node logs).
#
# What it does: starts the cluster (the defaults of stress_node, a cluster secret), waits for a
# leader, drives `bombarder flood` at the leader with CONCURRENCY connections and 100-byte
# values, and after one second of warm-up records the leader's process with
# `perf record -F 499 --call-graph dwarf` for SECONDS_PROFILED seconds. `perf script` output is
# folded by stackvis (npm, installed from the committed lock file in benchmarks/flamegraph/) into
# collapsed stacks and rendered to an SVG (open it in a browser: hovering names a frame, its
# samples and share). Folding dwarf stacks takes a minute or two. Printed: writes/s of the
# flood, and the share of samples per shared object (`perf report --sort dso`), the first figure
# to look at.
#
# Needs perf (linux-perf) and npm (scripts/install-deps.sh installs both), and root or
# kernel.perf_event_paranoid <= 0 to profile another process. Every process it starts is
# stopped on exit. Exit 1 with one line on stderr when a step fails.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${SECONDS_PROFILED:-8}
concurrency=${CONCURRENCY:-50}
fill=${FILL:-0}
port=${PORT:-28380}
out=${OUT:-$repo/docs/img/leader-flamegraph.svg}
build=${BUILD:-$repo/build/bin}
data_root=${DATA_DIR_ROOT:-/tmp}
keep=${KEEP:-0}

die() {
  echo "flamegraph: $*" >&2
  exit 1
}

while (($#)); do
  case $1 in
    --seconds) seconds=${2:?--seconds needs a value}; shift 2 ;;
    --concurrency) concurrency=${2:?--concurrency needs a value}; shift 2 ;;
    --fill) fill=${2:?--fill needs a value}; shift 2 ;;
    --port) port=${2:?--port needs a value}; shift 2 ;;
    --out) out=${2:?--out needs a value}; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ $seconds =~ ^[0-9]+$ ]] && ((seconds > 0)) || die "--seconds must be a positive whole number"
[[ $fill =~ ^[0-9]+$ ]] || die "--fill must be a count of entries"
for tool in perf npm jq curl openssl; do
  command -v $tool >/dev/null || die "$tool is missing (scripts/install-deps.sh)"
done
[[ -x $build/stress_node && -x $build/bombarder ]] ||
  die "no stress_node/bombarder in $build (build them or set BUILD)"

renderer=$repo/benchmarks/flamegraph
if [[ ! -x $renderer/node_modules/.bin/flamegraph ]]; then
  (cd "$renderer" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error) ||
    die "npm ci in $renderer failed"
fi

# shellcheck source=benchmarks/lib.sh
source "$repo/benchmarks/lib.sh"
work=$(mktemp -d "$data_root/flamegraph.XXXXXX")
bench_work=$work
bench_pids=(0 0 0)
BENCH_KEEP=$keep
trap bench_stop_all EXIT
trap 'exit 130' INT TERM

ports=("$port" $((port + 1)) $((port + 2)))
for p in "${ports[@]}"; do ! bench_port_in_use "$p" || die "port $p on 127.0.0.1 is already in use"; done
(umask 077; openssl rand -hex 32 >"$work/cluster-secret")
bench_stress_node=$build/stress_node
bench_ports=("${ports[@]}")
bench_node_flags=(--log-level warn --cluster-secret-file "$work/cluster-secret")
for i in 0 1 2; do bench_start_node "$i"; done
lead=$(bench_wait_leader 60)
echo "cluster up on ports ${ports[*]}; leader node $lead (pid ${bench_pids[lead]});" \
  "data under $data_root; $(uptime | sed 's/.*load average/load average/')"

if ((fill > 0)); then
  started=$SECONDS
  STRESS_TEST_DATA=$work/bombarder "$build/bombarder" flood \
    --nodes "http://127.0.0.1:${ports[lead]}" --count "$fill" --concurrency "$concurrency" \
    --json >"$work/fill.json" 2>"$work/fill.err" || die "the fill failed: $(tail -n 1 "$work/fill.err")"
  echo "filled: $(jq -r '.succeeded' "$work/fill.json") entries in $((SECONDS - started)) s"
  lead=$(bench_wait_leader 60)
fi

STRESS_TEST_DATA=$work/bombarder "$build/bombarder" flood \
  --nodes "http://127.0.0.1:${ports[lead]}" --duration $((seconds + 2)) \
  --concurrency "$concurrency" --json >"$work/flood.json" 2>"$work/flood.err" &
flood_pid=$!
bench_pids+=("$flood_pid")
# Warm-up: the flood's connections are open and the leader is past its first batches.
sleep 1
perf record -q -F 499 --call-graph dwarf,16384 -p "${bench_pids[lead]}" -o "$work/perf.data" \
  -- sleep "$seconds" 2>"$work/perf.err" || die "perf record failed: $(tail -n 1 "$work/perf.err")"
wait "$flood_pid" || true
jq -r '"flood: \(.throughput_rps | floor) writes/s, p99 \(.latency.p99_ms) ms (\(.succeeded) written, \(.failed) failed)"' \
  "$work/flood.json" || die "no result from bombarder flood: $(tail -n 1 "$work/flood.err")"

# Without symbol offsets, so that one function is one frame; the frames' "stress_node`" prefix
# (stackvis names a frame by the thread's command) says nothing here.
perf script -i "$work/perf.data" -F comm,tid,time,event,ip,sym,dso 2>/dev/null >"$work/perf.script"
"$renderer/node_modules/.bin/stackcollapse-perf" <"$work/perf.script" 2>/dev/null |
  sed 's/stress_node`//g' >"$work/collapsed.txt"
[[ -s $work/collapsed.txt ]] || die "no stacks collapsed from the profile (see $work, KEEP=1)"
mkdir -p "$(dirname "$out")"
"$renderer/node_modules/.bin/flamegraph" <"$work/collapsed.txt" >"$out" 2>/dev/null
echo "flame graph: $out ($(awk '{ n += $NF } END { print n }' "$work/collapsed.txt") samples)"
echo "share of the leader's samples per shared object:"
perf report -i "$work/perf.data" --no-children --sort dso --stdio 2>/dev/null |
  awk '/^ +[0-9.]+%/ { printf "  %7s  %s\n", $1, $2 }' | head -n 12
