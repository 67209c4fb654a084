#!/usr/bin/env bash
# The orchestrator at scale (issue 17): AGENTS simulated agents (`bombarder agent --simulate`,
# one process, each with its own key, registration, token and heartbeat) against one
# `bombarder orchestrator` on loopback. Measures
#   - connect time: first connection attempt -> every agent welcomed (the simulator's clock;
#     enrolment of the keys over REST is timed apart)
#   - heartbeat round trip p50/p99/max over every heartbeat of the run (connect storm included)
#   - the orchestrator's RSS (now and peak) and CPU while the fleet only heartbeats
#   - fan-out: POST /experiments/{id}/assign to all of them -> the last agent received its
#     assignment (simulator's wall clock), and -> the run recorded done (every agent's result)
# and prints a Markdown table (docs/benchmarks.md).
#
# Usage: benchmarks/orchestrator_scale.sh [BUILD_DIR]
#   env: AGENTS (1000), HEARTBEAT (5s, as the orchestrator's default), MEASURE (30: seconds of
#        heartbeats only, for CPU), PORT (23480), BENCH_KEEP=1 keeps the work directory.
# Every process it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source benchmarks/lib.sh
build=${1:-build}
agents=${AGENTS:-1000}
heartbeat=${HEARTBEAT:-5s}
measure=${MEASURE:-30}
port=${PORT:-23480}
bombarder="$build/bin/bombarder"
die() { echo "orchestrator_scale: $*" >&2; exit 1; }
[[ -x $bombarder ]] || die "$bombarder missing; build it first"
bench_port_in_use "$port" && die "port $port is in use (set PORT)"
bench_work=$(mktemp -d "${TMPDIR:-/tmp}/orchestrator-scale.XXXXXX")
trap bench_stop_all EXIT
token_file="$bench_work/operator_token"
head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$token_file"
auth="Authorization: Bearer $(cat "$token_file")"
api() { curl -sf --max-time 60 -H "$auth" "$@"; }

"$bombarder" orchestrator --port "$port" --data "$bench_work/orch" \
  --operator-token-file "$token_file" --heartbeat "$heartbeat" >"$bench_work/orch.out" 2>&1 &
orch=$!
bench_pids+=("$orch")
for _ in $(seq 1 100); do api "http://127.0.0.1:$port/status" >/dev/null 2>&1 && break; sleep 0.1; done
api "http://127.0.0.1:$port/status" >/dev/null || die "the orchestrator did not start"

stats="$bench_work/fleet.json"
enrol_start=$(bench_now_ms)
"$bombarder" agent --simulate "$agents" --orchestrator "ws://127.0.0.1:$port" \
  --key-dir "$bench_work/keys" --enroll-token-file "$token_file" --labels fleet=bench \
  --stats-file "$stats" >"$bench_work/fleet.out" 2>&1 &
bench_pids+=("$!")
stat() { jq -r "$1" "$stats" 2>/dev/null || true; }
deadline=$((SECONDS + 300))
until [[ $(stat .all_registered_ms) =~ ^[0-9]+$ ]]; do
  ((SECONDS < deadline)) || die "not all $agents agents registered in 300 s: $(cat "$stats")"
  sleep 0.2
done
enrol_and_connect_ms=$(($(bench_now_ms) - enrol_start))
connect_ms=$(stat .all_registered_ms)

# Steady state: only heartbeats.
ticks0=$(bench_cpu_ticks "$orch")
sleep "$measure"
ticks1=$(bench_cpu_ticks "$orch")
hz=$(getconf CLK_TCK)
cpu_pct=$(awk -v t=$((ticks1 - ticks0)) -v hz="$hz" -v s="$measure" 'BEGIN { printf "%.1f", 100 * t / hz / s }')
rss_mb=$(awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$orch/status")
sleep 1.5  # the simulator rewrites its figures every second
cp "$stats" "$bench_work/steady.json"  # heartbeats only: before the fan-out
steady() { jq -r "$1" "$bench_work/steady.json"; }

# Fan-out to every agent.
experiment=$(api -X POST "http://127.0.0.1:$port/experiments" \
  -d '{"name": "fan-out", "steps": [{"kind": "verify", "timeout": "5s"}]}' | jq -r .id)
ids=$(api "http://127.0.0.1:$port/agents" | jq -c '{agents: [.agents[] | select(.connected) | .id]}')
[[ $(jq '.agents | length' <<<"$ids") == "$agents" ]] || die "not all agents are connected"
fan_start=$(bench_now_ms)
run=$(api -X POST "http://127.0.0.1:$port/experiments/$experiment/assign" -d "$ids" | jq -r .id)
assign_answer_ms=$(($(bench_now_ms) - fan_start))
deadline=$((SECONDS + 300))
# The list of runs, not the run itself: 1,000 parts with their progress is a large answer.
run_state() { api "http://127.0.0.1:$port/runs" | jq -r --arg run "$run" '.runs[] | select(.id == $run) | .state'; }
until [[ $(run_state) != running ]]; do
  ((SECONDS < deadline)) || die "run $run still running after 300 s"
  sleep 0.05
done
fan_done_ms=$(($(bench_now_ms) - fan_start))
final_state=$(run_state)
sleep 1.5  # the simulator rewrites its figures every second
fan_delivered_ms=$(($(stat .last_assign_at_ms) - fan_start))
assigned=$(stat .assigns_received)
hwm_mb=$(awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$orch/status")

load=$(cut -d' ' -f1-3 /proc/loadavg)
cat <<EOF
| measure (${agents} simulated agents, heartbeat ${heartbeat}, $(nproc) cores) | value |
|---|---|
| enrol ${agents} keys over REST + connect all | ${enrol_and_connect_ms} ms |
| connect: first attempt -> all ${agents} welcomed | ${connect_ms} ms |
| heartbeat round trip p50 / p99 / max, all connected, heartbeats only ($(steady .heartbeat_rtt_steady_ms.count) beats) | $(steady .heartbeat_rtt_steady_ms.p50) / $(steady .heartbeat_rtt_steady_ms.p99) / $(steady .heartbeat_rtt_steady_ms.max) ms |
| heartbeat round trip p50 / p99 / max, all connected, the fan-out included ($(stat .heartbeat_rtt_steady_ms.count) beats) | $(stat .heartbeat_rtt_steady_ms.p50) / $(stat .heartbeat_rtt_steady_ms.p99) / $(stat .heartbeat_rtt_steady_ms.max) ms |
| heartbeat round trip p50 / p99 / max, every beat ($(stat .heartbeat_rtt_ms.count), the connect storm included) | $(stat .heartbeat_rtt_ms.p50) / $(stat .heartbeat_rtt_ms.p99) / $(stat .heartbeat_rtt_ms.max) ms |
| orchestrator CPU, heartbeats only (${measure} s) | ${cpu_pct}% of one core |
| load average of the machine at the end (1, 5, 15 min) | ${load} |
| orchestrator RSS with ${agents} connected / peak after the fan-out | ${rss_mb} MB / ${hwm_mb} MB |
| fan-out: REST answer of the assign to ${agents} agents | ${assign_answer_ms} ms |
| fan-out: assign sent -> last agent received it (${assigned} received) | ${fan_delivered_ms} ms |
| fan-out: assign sent -> run ${final_state} (every result recorded) | ${fan_done_ms} ms |
EOF
