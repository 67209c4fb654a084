#!/usr/bin/env bash
# Failover time of a 3-node stress_node cluster on loopback, over repeated leader kills.
#
# Usage: benchmarks/failover.sh [--kills 20] [--tick-ms 25] [--election-ticks 6]
#          [--heartbeat-ticks 2] [--port 28180]
#   Environment (same meaning as the flags): KILLS, TICK_MS, ELECTION_TICKS, HEARTBEAT_TICKS, PORT (the first of 3
#   consecutive ports); STRESS_NODE (binary, default build/bin/stress_node); SLOW_MS (default
#   1000: kills slower than this print the survivors' log lines since the kill); KEEP=1 keeps the
#   temporary directory (data dirs and node logs) instead of removing it; NODE_FLAGS: extra flags
#   for every node (e.g. "--peer-transport http", issue 15).
#
# What is measured, per kill: the leader is found through GET /status (role == "leader"), killed
# with SIGKILL, and from that instant the script POSTs one logical write to /api/kv, alternating
# between the two survivors (curl --max-time 1, the same Idempotency-Key on every retry, 10 ms
# pause between attempts), until one answers 201. The failover time is the wall-clock time from
# just before kill -9 to the receipt of that 201 (date +%s%N; it includes curl's own start-up, a
# few ms). The killed node is then restarted with the same flags and data dir, and the next kill
# waits until its applied_index has reached the leader's commit_index. At the end: each kill's
# time, then min / median / p90 (nearest rank) / max. The aim is a worst case under 1 s.
#
# Second figure, per kill: restart to serving. From just before the killed node's process is
# started again, the script GETs /api/kv/<id of the write above> from that node (a linearizable
# read: ReadIndex through the leader, served once the node has applied the read index; curl
# --max-time 1, 10 ms pause between attempts) until it answers 200 with that entry. Includes the
# process start, RocksDB open and the first contact with the leader.
#
# Every process it starts is stopped on exit. Exit codes: 0 done and every kill under SLOW_MS,
# 1 setup failure or a step that did not finish in time (one line on stderr), 3 some kill slower.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

kills=${KILLS:-20}
tick_ms=${TICK_MS:-25}
election_ticks=${ELECTION_TICKS:-6}
heartbeat_ticks=${HEARTBEAT_TICKS:-2}
port=${PORT:-28180}
stress_node=${STRESS_NODE:-$repo/build/bin/stress_node}
slow_ms=${SLOW_MS:-1000}
keep=${KEEP:-0}

die() {
  echo "failover: $*" >&2
  exit 1
}

while (($#)); do
  case $1 in
    --kills) kills=${2:?--kills needs a value}; shift 2 ;;
    --tick-ms) tick_ms=${2:?--tick-ms needs a value}; shift 2 ;;
    --election-ticks) election_ticks=${2:?--election-ticks needs a value}; shift 2 ;;
    --heartbeat-ticks) heartbeat_ticks=${2:?--heartbeat-ticks needs a value}; shift 2 ;;
    --port) port=${2:?--port needs a value}; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

command -v curl >/dev/null || die "curl is needed (apt-get install -y curl)"
command -v jq >/dev/null || die "jq is needed (apt-get install -y jq)"
[[ -x $stress_node ]] || die "no stress_node binary at $stress_node (build it or set STRESS_NODE)"

ports=("$port" $((port + 1)) $((port + 2)))
# shellcheck source=benchmarks/lib.sh
source "$repo/benchmarks/lib.sh"
work=$(mktemp -d /tmp/failover.XXXXXX)
bench_work=$work
bench_pids=(0 0 0)  # by node index; 0 while a node is down
BENCH_KEEP=$keep
trap bench_stop_all EXIT
trap 'exit 130' INT TERM

for p in "${ports[@]}"; do ! bench_port_in_use "$p" || die "port $p on 127.0.0.1 is already in use"; done

# The cluster secret every member shares (issue 14; docs/security.md).
(umask 077; openssl rand -hex 32 >"$work/cluster-secret")
bench_stress_node=$stress_node
bench_ports=("${ports[@]}")
read -r -a extra_node_flags <<<"${NODE_FLAGS:-}"
bench_node_flags=(--tick-ms "$tick_ms" --election-ticks "$election_ticks"
                  --heartbeat-ticks "$heartbeat_ticks" --log-level info
                  --cluster-secret-file "$work/cluster-secret" "${extra_node_flags[@]}")

# wait_caught_up I SECONDS: node I is up and its applied_index >= the leader's commit_index.
wait_caught_up() {
  local i=$1 deadline=$((SECONDS + $2)) l commit applied
  while ((SECONDS < deadline)); do
    kill -0 "${bench_pids[i]}" 2>/dev/null || die "node $i exited after restart: $(tail -n 3 "$work/n$i.out")"
    l=$(bench_leader_index)
    if [[ -n $l ]]; then
      commit=$(bench_status "$l" | jq -r '.commit_index' 2>/dev/null) || commit=
      applied=$(bench_status "$i" | jq -r '.applied_index' 2>/dev/null) || applied=
      if [[ $commit =~ ^[0-9]+$ && $applied =~ ^[0-9]+$ ]] && ((applied >= commit)); then return; fi
    fi
    sleep 0.05
  done
  die "node $i did not catch up within $2 s (logs in $work/n$i/node.log; KEEP=1 keeps them)"
}

for i in 0 1 2; do bench_start_node "$i"; done
lead=$(bench_wait_leader 30)
for i in 0 1 2; do wait_caught_up "$i" 30; done
echo "cluster up on ports ${ports[*]} (--tick-ms $tick_ms --election-ticks $election_ticks --heartbeat-ticks $heartbeat_ticks:" \
  "election timeout $((tick_ms * election_ticks))-$((2 * tick_ms * election_ticks)) ms); leader is node $lead"
echo "load: $(uptime | sed 's/.*load average/load average/')"

value=$(printf 'v%.0s' {1..100})
times=()
serving=()
slow=0
for ((k = 1; k <= kills; k++)); do
  lead=$(bench_wait_leader 30)
  old_term=$(bench_status "$lead" | jq -r '.term')
  survivors=()
  for i in 0 1 2; do ((i == lead)) || survivors+=("$i"); done
  declare -A log_lines=()
  for i in "${survivors[@]}"; do log_lines[$i]=$(wc -l <"$work/n$i/node.log"); done

  idem="failover-$$-$k"
  body="{\"key\":\"failover-$k\",\"value\":\"$value\"}"
  t0=$(bench_now_ms)
  kill -KILL "${bench_pids[lead]}"
  # Reaped at once (a few ms at most, inside the measured time): bash would otherwise report
  # "Killed" on stderr whenever it next noticed.
  wait "${bench_pids[lead]}" 2>/dev/null || true
  attempts=0
  codes=()
  while :; do
    target=${survivors[attempts % 2]}
    attempts=$((attempts + 1))
    code=$(curl -s -o "$work/write.json" -w '%{http_code}' --max-time 1 -X POST \
      -H 'Content-Type: application/json' -H "Idempotency-Key: $idem" -d "$body" \
      "http://127.0.0.1:${ports[target]}/api/kv") || true
    [[ $code == 201 ]] && break
    codes+=("$code")
    (($(bench_now_ms) - t0 < 30000)) || die "kill $k: no 201 within 30 s (answers: ${codes[*]})"
    sleep 0.01
  done
  t1=$(bench_now_ms)
  ms=$((t1 - t0))
  times+=("$ms")

  new_lead=$(bench_leader_index)
  new_term=$(if [[ -n $new_lead ]]; then bench_status "$new_lead" | jq -r '.term'; fi)
  # Answers before the 201, counted by status code (000: no answer within 1 s or refused).
  summary=
  if ((${#codes[@]})); then
    summary=$(printf '%s\n' "${codes[@]}" | sort | uniq -c | awk '{printf "%s%s x%s", sep, $2, $1; sep=", "}')
  fi
  printf 'kill %2d: node %s (term %s) killed; first 201 after %5d ms from node %s; %d attempts%s; new leader node %s term %s\n' \
    "$k" "$lead" "$old_term" "$ms" "$target" "$attempts" "${summary:+ (before it: $summary)}" \
    "${new_lead:-?}" "${new_term:-?}"
  if ((ms > slow_ms)); then
    slow=1
    for i in "${survivors[@]}"; do
      echo "  node $i log since the kill at $(date -d "@$((t0 / 1000)).$(printf '%03d' $((t0 % 1000)))" '+%FT%T.%3N'):"
      tail -n +"$((log_lines[$i] + 1))" "$work/n$i/node.log" | head -n 20 | sed 's/^/    | /'
    done
  fi
  unset log_lines

  written_id=$(jq -r '.id' "$work/write.json")
  t2=$(bench_now_ms)
  bench_start_node "$lead"
  while :; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 \
      "http://127.0.0.1:${ports[lead]}/api/kv/$written_id") || true
    [[ $code == 200 ]] && break
    (($(bench_now_ms) - t2 < 30000)) || die "kill $k: restarted node $lead served no read within 30 s"
    kill -0 "${bench_pids[lead]}" 2>/dev/null || die "node $lead exited after restart: $(tail -n 3 "$work/n$lead.out")"
    sleep 0.01
  done
  serving_ms=$(($(bench_now_ms) - t2))
  serving+=("$serving_ms")
  printf '         node %s restarted: serving linearizable reads after %5d ms\n' "$lead" "$serving_ms"
  wait_caught_up "$lead" 60
done

echo
echo "failover times over $kills kills (ms, kill -9 to first 201), --tick-ms $tick_ms --election-ticks $election_ticks --heartbeat-ticks $heartbeat_ticks:"
echo "  ${times[*]}"
printf '%s\n' "${times[@]}" | bench_summary_ms
echo "restart to serving linearizable reads (ms, process start to first 200 of GET /api/kv/<id>):"
echo "  ${serving[*]}"
printf '%s\n' "${serving[@]}" | bench_summary_ms
echo "load: $(uptime | sed 's/.*load average/load average/')"
if ((slow)); then
  echo "failover: some kills took over $slow_ms ms (see above)" >&2
  exit 3
fi
