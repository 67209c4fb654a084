#!/usr/bin/env bash
# A/B write benchmark of two stress_node builds (issue 15: "measure first, and again after each
# step"): the same write load against a 3-node cluster of build A and one of build B, both on
# loopback, both fsyncing, in the same run, alternating A and B per concurrency so that drift in
# the machine's load hits both alike. With --shm both clusters keep their data on /dev/shm
# (fsync nearly free): the CPU-only ceiling.
#
# Usage: benchmarks/write_path_compare.sh --a BIN_A --b BIN_B [--duration 15] [--warmup 3]
#          [--concurrency "10 50"] [--shm] [--a-flags "..."] [--b-flags "..."] [--idle 0]
#   Environment (same meaning as the flags): A, B, DURATION, WARMUP, CONCURRENCY, SHM=1, A_FLAGS,
#   B_FLAGS, IDLE; also BOMBARDER (default build/bin/bombarder), A_PORT (default 28280) and B_PORT
#   (default 28290), each the first of 3 consecutive ports; NODE_FLAGS, extra flags for every node
#   of both clusters (e.g. NODE_FLAGS="--idempotency-table-bytes 4194304" with a longer WARMUP
#   measures writes with the idempotency table at its byte bound, a busy cluster's steady state).
#   --a-flags/--b-flags: extra flags for every node of that cluster, so that one build can be
#   compared with itself under two settings, e.g. --a BIN --b BIN --a-flags "--peer-transport
#   http" --b-flags "--peer-transport stream" (issue 15).
#   --idle SECONDS: before any load, the CPU of every idle node over that many seconds (user+
#   system from /proc, % of one core), both clusters side by side.
#
# What is measured, for each concurrency N and each build: `bombarder flood --duration D
#   --concurrency N` against the current leader (POST /api/kv, unique keys, 64-byte values, one
#   keep-alive connection per worker). Reported per run: writes/s, p50/p99 latency, failures;
#   CPU time per acknowledged write (user+system from /proc) of the leader and of the two
#   followers together; fsyncs per write and entries per fsync on the leader and on a follower
#   (raft_fsyncs_total, raft_log_entries_persisted_total from /metrics); the mean synced persist
#   time (raft_log_persist_duration_seconds sum/count); bytes sent to storage per write by the
#   leader and by one follower (/proc/PID/io write_bytes: WAL, SST flushes and compactions,
#   snapshots; unlike CPU time it hardly depends on the machine's other load). Then B/A ratios,
#   each B run against the A run just before it (a concurrency may be listed more than once).
#
# Every process it starts is stopped on exit and its temporary directory removed. Exit codes:
# 0 ok, 1 setup failure (one line on stderr), 3 a run had failed requests.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin_a=${A:-}
bin_b=${B:-}
duration=${DURATION:-15}
warmup=${WARMUP:-3}
concurrency=${CONCURRENCY:-"10 50"}
shm=${SHM:-0}
a_flags=${A_FLAGS:-}
b_flags=${B_FLAGS:-}
idle=${IDLE:-0}
bombarder=${BOMBARDER:-$repo/build/bin/bombarder}
a_port=${A_PORT:-28280}
b_port=${B_PORT:-28290}

die() {
  echo "write_path_compare: $*" >&2
  exit 1
}

while (($#)); do
  case $1 in
    --a) bin_a=${2:?--a needs a binary}; shift 2 ;;
    --b) bin_b=${2:?--b needs a binary}; shift 2 ;;
    --duration) duration=${2:?--duration needs a value}; shift 2 ;;
    --warmup) warmup=${2:?--warmup needs a value}; shift 2 ;;
    --concurrency) concurrency=${2:?--concurrency needs a value}; shift 2 ;;
    --shm) shm=1; shift ;;
    --a-flags) a_flags=${2?--a-flags needs a value}; shift 2 ;;
    --b-flags) b_flags=${2?--b-flags needs a value}; shift 2 ;;
    --idle) idle=${2:?--idle needs a value}; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ -n $bin_a && -n $bin_b ]] || die "--a and --b name the two stress_node binaries (see --help)"
[[ -x $bin_a ]] || die "no executable at $bin_a"
[[ -x $bin_b ]] || die "no executable at $bin_b"
[[ -x $bombarder ]] || die "no bombarder at $bombarder (build it or set BOMBARDER)"
for tool in jq curl awk openssl; do command -v $tool >/dev/null || die "$tool is missing (scripts/install-deps.sh)"; done

parent=/tmp
((shm)) && parent=/dev/shm
# shellcheck source=benchmarks/lib.sh
source "$repo/benchmarks/lib.sh"
work=$(mktemp -d "$parent/write_path_compare.XXXXXX")
bench_work=$work
trap bench_stop_all EXIT
trap 'exit 130' INT TERM

for i in 0 1 2; do
  for p in $((a_port + i)) $((b_port + i)); do
    ! bench_port_in_use "$p" || die "port $p on 127.0.0.1 is already in use"
  done
done

# Peer authentication on, as in production (docs/security.md).
openssl rand -hex 32 >"$work/cluster.secret" || die "openssl rand failed"
chmod 600 "$work/cluster.secret"

# start_cluster NAME BINARY BASE_PORT EXTRA_FLAGS
start_cluster() {
  local name=$1 bin=$2 base=$3 i j peers
  local -a extra
  read -r -a extra <<<"${NODE_FLAGS:-} $4"
  for i in 0 1 2; do
    peers=
    for j in 0 1 2; do ((j == i)) || peers+="${peers:+,}$j@127.0.0.1:$((base + j))"; done
    "$bin" --node-id "$i" --port $((base + i)) --peers "$peers" --data-dir "$work/$name$i" \
      --cluster-secret-file "$work/cluster.secret" --log-level warn "${extra[@]}" \
      >"$work/$name$i.out" 2>&1 &
    bench_pids+=($!)
  done
}
start_cluster a "$bin_a" "$a_port" "$a_flags"
start_cluster b "$bin_b" "$b_port" "$b_flags"
declare -A pid_of
for i in 0 1 2; do
  pid_of[a$i]=${bench_pids[i]}
  pid_of[b$i]=${bench_pids[3 + i]}
done
clk_tck=$(getconf CLK_TCK)

cpu_ticks() { bench_cpu_ticks "$1" || die "node pid $1 is gone (logs in $work)"; }
write_bytes() { bench_write_bytes "$1" || die "no /proc/$1/io (logs in $work)"; }

# leader_index BASE_PORT -> 0, 1 or 2: the node that says it leads, or nothing.
leader_index() {
  local i
  for i in 0 1 2; do
    if curl -s --max-time 1 "http://127.0.0.1:$(($1 + i))/status" |
      jq -e '.role == "leader"' >/dev/null 2>&1; then
      echo "$i"
      return
    fi
  done
}
wait_leader() {
  local l= deadline=$((SECONDS + 30))
  while [[ -z $l ]]; do
    ((SECONDS < deadline)) || die "no leader on port $1.. within 30 s (logs in $work)"
    sleep 0.1
    l=$(leader_index "$1")
  done
  echo "$l"
}

# metrics PORT -> "fsyncs entries persist_sum persist_count" from the node's /metrics.
metrics() {
  curl -s --max-time 2 "http://127.0.0.1:$1/metrics" | awk '
    $1 == "raft_fsyncs_total" { f = $2 }
    $1 == "raft_log_entries_persisted_total" { e = $2 }
    $1 == "raft_log_persist_duration_seconds_sum" { s = $2 }
    $1 == "raft_log_persist_duration_seconds_count" { c = $2 }
    END { printf "%d %d %.6f %d\n", f, e, s, c }'
}

# flood NAME BASE_PORT CONCURRENCY SECONDS -> one result line:
#   name c rps p50 p99 failed leader_us_per_write followers_us_per_write
#   leader_fsyncs_per_write leader_entries_per_fsync follower_fsyncs_per_write
#   follower_entries_per_fsync leader_mean_persist_ms leader_disk_bytes_per_write
#   follower_disk_bytes_per_write
flood() {
  local name=$1 base=$2 c=$3 secs=$4 lead follower out
  lead=$(wait_leader "$base")
  follower=$(((lead + 1) % 3))
  local -a cpu0 cpu1
  local i
  for i in 0 1 2; do cpu0[i]=$(cpu_ticks "${pid_of[$name$i]}"); done
  local ml0 mf0 ml1 mf1 lw0 fw0 lw1 fw1
  lw0=$(write_bytes "${pid_of[$name$lead]}")
  fw0=$(write_bytes "${pid_of[$name$follower]}")
  ml0=$(metrics $((base + lead)))
  mf0=$(metrics $((base + follower)))
  out=$work/flood-$name-$c-$secs.json
  STRESS_TEST_DATA=$work/bombarder-$name "$bombarder" flood --nodes "http://127.0.0.1:$((base + lead))" \
    --duration "$secs" --concurrency "$c" --json >"$out" 2>"$out.err" ||
    true  # a run with failures still prints its summary; they are counted below
  for i in 0 1 2; do cpu1[i]=$(cpu_ticks "${pid_of[$name$i]}"); done
  ml1=$(metrics $((base + lead)))
  mf1=$(metrics $((base + follower)))
  lw1=$(write_bytes "${pid_of[$name$lead]}")
  fw1=$(write_bytes "${pid_of[$name$follower]}")
  local leader_ticks=$((cpu1[lead] - cpu0[lead]))
  local follower_ticks=$((cpu1[0] + cpu1[1] + cpu1[2] - cpu0[0] - cpu0[1] - cpu0[2] - leader_ticks))
  jq -r --arg n "$name" --arg c "$c" --argjson lt "$leader_ticks" --argjson ft "$follower_ticks" \
    --argjson hz "$clk_tck" --argjson lw $((lw1 - lw0)) --argjson fw $((fw1 - fw0)) --arg ml0 "$ml0" --arg ml1 "$ml1" --arg mf0 "$mf0" --arg mf1 "$mf1" '
    def nums($s): $s | split(" ") | map(tonumber);
    def r1: . * 10 | round / 10;
    def r2: . * 100 | round / 100;
    ([.succeeded, 1] | max) as $w |
    (nums($ml1)) as $l1 | (nums($ml0)) as $l0 | (nums($mf1)) as $f1 | (nums($mf0)) as $f0 |
    ([$l1[0] - $l0[0], 1] | max) as $lf | ([$f1[0] - $f0[0], 1] | max) as $ff |
    ([$l1[3] - $l0[3], 1] | max) as $lc |
    "\($n) \($c) \(.throughput_rps | floor) \(.latency.p50_ms) \(.latency.p99_ms) \(.failed) " +
    "\($lt * 1e6 / $hz / $w | r1) \($ft * 1e6 / $hz / $w | r1) " +
    "\($lf / $w | r2) \(($l1[1] - $l0[1]) / $lf | r1) \($ff / $w | r2) \(($f1[1] - $f0[1]) / $ff | r1) " +
    "\(($l1[2] - $l0[2]) * 1000 / $lc | r2) \($lw / $w | round) \($fw / $w | round)"' "$out" ||
    die "no result from bombarder flood against $name (see $out.err: $(tail -n 1 "$out.err"))"
}

# idle_cpu SECONDS: every node's CPU over SECONDS with no load, as % of one core, by role.
idle_cpu() {
  local secs=$1 name i lead
  local -A t0
  for name in a b; do
    for i in 0 1 2; do t0[$name$i]=$(cpu_ticks "${pid_of[$name$i]}"); done
  done
  sleep "$secs"
  for name in a b; do
    lead=$(leader_index "$([[ $name == a ]] && echo "$a_port" || echo "$b_port")")
    local line="idle $name over ${secs} s (% of a core):"
    for i in 0 1 2; do
      local ticks=$(($(cpu_ticks "${pid_of[$name$i]}") - t0[$name$i]))
      line+=" $([[ $i == "$lead" ]] && echo leader || echo follower) $(awk -v t="$ticks" -v hz="$clk_tck" -v s="$secs" 'BEGIN { printf "%.2f", 100 * t / hz / s }')"
    done
    echo "$line"
  done
}

echo "A: $bin_a ${a_flags}"
echo "B: $bin_b ${b_flags}"
echo "data on $parent; load before the runs: $(uptime | sed 's/.*load average/load average/')"
if ((idle > 0)); then
  wait_leader "$a_port" >/dev/null
  wait_leader "$b_port" >/dev/null
  idle_cpu "$idle"
  echo "  after idle: $(uptime | sed 's/.*load average/load average/')"
fi
echo "warm-up (${warmup} s each, not reported)"
flood a "$a_port" 10 "$warmup" >/dev/null
flood b "$b_port" 10 "$warmup" >/dev/null
results=()
failed=0
for c in $concurrency; do
  for run in "a $a_port" "b $b_port"; do
    read -r name base <<<"$run"
    line=$(flood "$name" "$base" "$c" "$duration")
    results+=("$line")
    read -r _ _ _ _ _ fails _ <<<"$line"
    ((fails == 0)) || failed=1
  done
  echo "  after c=$c: $(uptime | sed 's/.*load average/load average/')"
done

echo
printf '%-3s %4s %9s %8s %8s %6s %10s %12s %9s %9s %9s %9s %10s %8s %8s\n' build conc writes/s \
  p50_ms p99_ms failed leader_us followers_us L_fsync/w L_ent/fs F_fsync/w F_ent/fs L_fsync_ms \
  L_disk/w F_disk/w
for line in "${results[@]}"; do
  read -r name c rps p50 p99 fails lus fus lfw lef ffw fef lms ldw fdw <<<"$line"
  printf '%-3s %4s %9s %8.2f %8.2f %6s %10s %12s %9s %9s %9s %9s %10s %8s %8s\n' "$name" "$c" \
    "$rps" "$p50" "$p99" "$fails" "$lus" "$fus" "$lfw" "$lef" "$ffw" "$fef" "$lms" "$ldw" "$fdw"
done
echo "(leader_us, followers_us: CPU microseconds per acknowledged write; L_/F_: leader, one"
echo " follower; fsync/w: fsyncs per write; ent/fs: log entries per fsync; L_fsync_ms: the"
echo " leader's mean synced persist; disk/w: bytes sent to storage per write)"
echo
echo "B / A:"
for ((k = 0; k + 1 < ${#results[@]}; k += 2)); do
  awk -v a="${results[k]}" -v b="${results[k + 1]}" 'function q(x, y) { return y > 0 ? x / y : 0 } BEGIN {
    split(a, x, " "); split(b, y, " ");
    printf "  c=%-3s writes/s %.2fx  p50 %.2fx  p99 %.2fx  CPU per write: leader %.2fx, followers %.2fx  disk per write: leader %.2fx, follower %.2fx\n",
      x[2], q(y[3], x[3]), q(y[4], x[4]), q(y[5], x[5]), q(y[7], x[7]), q(y[8], x[8]), q(y[14], x[14]), q(y[15], x[15]) }'
done
((failed == 0)) || { echo "write_path_compare: some requests failed" >&2; exit 3; }
