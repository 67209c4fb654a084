#!/usr/bin/env bash
# Cost as the store grows (issue 15): the same 3-node cluster measured empty and after it holds
# ENTRIES entries, plus what a large store costs on restart, resync and snapshot.
#
# Usage: benchmarks/store_growth.sh [--entries 1000000] [--duration 10] [--concurrency 50]
#          [--port 28680]
#   Environment (same meaning as the flags): ENTRIES, DURATION (seconds), CONCURRENCY, PORT (the
#   first of 3 consecutive ports); BUILD (default build/bin: stress_node and bombarder);
#   BENCH_KEEP=1 keeps the temporary directory; NODE_FLAGS: more stress_node flags for every
#   member, e.g. NODE_FLAGS="--snapshot-state-ratio 0" for fixed snapshot intervals.
#
# Steps, all against one cluster (fsync on, peer authentication on, default snapshot threshold
# of 100,000 entries, data under /tmp):
#   1. empty: `bombarder flood --duration D --concurrency C` against the leader: writes/s, p99;
#   2. fill: `bombarder flood --count N` at 50 connections until the store holds ENTRIES;
#   3. full: the same flood as step 1: writes/s, p99, and the ratios full/empty;
#   4. snapshots: the leader's /_raft/resync_stats (snapshots created so far, their mean and max
#      creation time, the current snapshot's size);
#   5. restart: a follower holding the store is killed (-9) and started again; the time from its
#      process start to its first linearizable read (GET /api/kv/<id>, 200);
#   6. resync from empty: that follower is killed, its data directory removed, started again, and
#      the operator's force-resync (POST /_raft/force-resync?target=HOST:PORT on the leader, admin
#      token) sends it a snapshot; the time from its start until its applied index reaches the
#      leader's commit index (snapshot creation, transfer, install, catch-up), and the snapshot's
#      MiB per second of that time. (Raft cannot tell a wiped voter from a lagging one: the
#      leader still believes its old match index and ignores its rejections as stale, as etcd's
#      does; a member that lost its disk is brought back by the operator, as here.)
#
# Every process it starts is stopped on exit and its temporary directory removed. Exit codes:
# 0 done, 1 setup failure or a step that did not finish in time (one line on stderr).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
entries=${ENTRIES:-1000000}
duration=${DURATION:-10}
concurrency=${CONCURRENCY:-50}
port=${PORT:-28680}
build=${BUILD:-$repo/build/bin}

die() {
  echo "store_growth: $*" >&2
  exit 1
}

while (($#)); do
  case $1 in
    --entries) entries=${2:?--entries needs a value}; shift 2 ;;
    --duration) duration=${2:?--duration needs a value}; shift 2 ;;
    --concurrency) concurrency=${2:?--concurrency needs a value}; shift 2 ;;
    --port) port=${2:?--port needs a value}; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ $entries =~ ^[0-9]+$ ]] || die "--entries must be a count (got '$entries')"
for tool in jq curl awk openssl; do command -v $tool >/dev/null || die "$tool is missing (scripts/install-deps.sh)"; done
[[ -x $build/stress_node && -x $build/bombarder ]] || die "no stress_node/bombarder in $build (build them or set BUILD)"

# shellcheck source=benchmarks/lib.sh
source "$repo/benchmarks/lib.sh"
work=$(mktemp -d /tmp/store_growth.XXXXXX)
bench_work=$work
bench_pids=(0 0 0)  # by node index
trap bench_stop_all EXIT
trap 'exit 130' INT TERM

ports=("$port" $((port + 1)) $((port + 2)))
for p in "${ports[@]}"; do ! bench_port_in_use "$p" || die "port $p on 127.0.0.1 is already in use"; done
(umask 077; openssl rand -hex 32 >"$work/cluster-secret"; openssl rand -hex 32 >"$work/admin-token")
bench_stress_node=$build/stress_node
bench_ports=("${ports[@]}")
bench_node_flags=(--log-level warn --cluster-secret-file "$work/cluster-secret"
                  --admin-token-file "$work/admin-token")
# shellcheck disable=SC2206 # NODE_FLAGS is a list of words on purpose
bench_node_flags+=(${NODE_FLAGS:-})

# flood SECONDS|--count N -> "writes/s p99_ms succeeded failed"
flood() {
  local lead out
  lead=$(bench_wait_leader 60)
  out=$work/flood-$RANDOM.json
  STRESS_TEST_DATA=$work/bombarder "$build/bombarder" flood --nodes "http://127.0.0.1:${ports[lead]}" \
    "$@" --concurrency "$concurrency" --json >"$out" 2>"$out.err" || true
  jq -r '"\(.throughput_rps | floor) \(.latency.p99_ms) \(.succeeded) \(.failed)"' "$out" ||
    die "no result from bombarder flood (see $out.err: $(tail -n 1 "$out.err"))"
}

# The leader's idempotency table after a flood: a keyed write costs more once the table is at its
# byte bound (each one evicts the record closest to expiry), so "full vs empty" compares two table
# states as well as two store sizes; say which (docs/benchmarks.md, "Cost as the store grows").
idempotency_state() {
  local lead metrics
  lead=$(bench_wait_leader 60)
  metrics=$(curl -s --max-time 5 "http://127.0.0.1:${ports[lead]}/metrics")
  awk '$1 == "kv_idempotency_keys" { k = $2 } $1 == "kv_idempotency_bytes" { b = $2 }
       $1 ~ /^kv_idempotency_evictions_total/ { e += $2 }
       END { printf "idempotency table %d records, %.1f MiB, %d evictions so far\n", k, b / 1048576, e }' \
    <<<"$metrics"
}

for i in 0 1 2; do bench_start_node "$i"; done
lead=$(bench_wait_leader 60)
echo "cluster up on ports ${ports[*]}; leader node $lead; load: $(uptime | sed 's/.*load average/load average/')"

read -r rps0 p99_0 ok0 failed0 <<<"$(flood --duration "$duration")"
echo "empty:  $rps0 writes/s, p99 $p99_0 ms ($ok0 written, $failed0 failed); $(idempotency_state)"

lead=$(bench_wait_leader 60)
have=$(bench_status "$lead" | jq -r '.entry_count')
if ((have < entries)); then
  started=$SECONDS
  read -r fill_rps _ fill_ok fill_failed <<<"$(flood --count $((entries - have)))"
  echo "fill:   $fill_ok entries in $((SECONDS - started)) s ($fill_rps writes/s, $fill_failed failed)"
fi

read -r rps1 p99_1 ok1 failed1 <<<"$(flood --duration "$duration")"
lead=$(bench_wait_leader 60)
count=$(bench_status "$lead" | jq -r '.entry_count')
echo "full:   $rps1 writes/s, p99 $p99_1 ms ($ok1 written, $failed1 failed) at $count entries;" \
  "$(idempotency_state)"
awk -v a="$rps0" -v b="$rps1" -v pa="$p99_0" -v pb="$p99_1" \
  'BEGIN { printf "full/empty: writes/s %.2fx, p99 %.2fx\n", b / a, pb / pa }'

stats=$(curl -s --max-time 5 "http://127.0.0.1:${ports[lead]}/_raft/resync_stats")
snapshot_bytes=$(jq -r '.current_snapshot.size_bytes' <<<"$stats")
echo "snapshots on the leader: $(jq -r '.durations_ms.created | "\(.count) created, mean \(.mean | floor) ms, max \(.max) ms, last \(.last) ms"' <<<"$stats");" \
  "current one at index $(jq -r '.current_snapshot.index' <<<"$stats"), $((snapshot_bytes / 1048576)) MiB"

# A follower holding the store.
victim=$(((lead + 1) % 3))
id=$(curl -s --max-time 5 "http://127.0.0.1:${ports[lead]}/api/kv?limit=1" | jq -r '.[0].id')
kill -KILL "${bench_pids[victim]}"
wait "${bench_pids[victim]}" 2>/dev/null || true
t0=$(bench_now_ms)
bench_start_node "$victim"
until [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:${ports[victim]}/api/kv/$id") == 200 ]]; do
  (($(bench_now_ms) - t0 < 120000)) || die "restarted node $victim served no read within 120 s"
  kill -0 "${bench_pids[victim]}" 2>/dev/null || die "node $victim exited after restart: $(tail -n 3 "$work/n$victim.out")"
  sleep 0.01
done
echo "restart of a follower holding $count entries: serving linearizable reads after $(($(bench_now_ms) - t0)) ms"

kill -KILL "${bench_pids[victim]}"
wait "${bench_pids[victim]}" 2>/dev/null || true
rm -rf "$work/n$victim"
lead=$(bench_wait_leader 60)
target=$(bench_status "$lead" | jq -r '.commit_index')
t0=$(bench_now_ms)
bench_start_node "$victim"
# The leader answers once the transfer has started, i.e. after it has written a fresh snapshot
# of the whole state: at 10M entries that took longer than the 5 s this request first had, and
# every retry asked for another snapshot. One request may take up to 30 minutes.
until [[ $(curl -s -o "$work/resync.json" -w '%{http_code}' --max-time 1800 -X POST \
  -H "Authorization: Bearer $(cat "$work/admin-token")" \
  "http://127.0.0.1:${ports[lead]}/_raft/force-resync?target=127.0.0.1:${ports[victim]}") == 2* ]]; do
  (($(bench_now_ms) - t0 < 60000)) ||
    die "force-resync of node $victim refused: $(cat "$work/resync.json" 2>/dev/null || echo 'no answer')"
  sleep 0.1
done
while :; do
  applied=$(bench_status "$victim" | jq -r '.applied_index' 2>/dev/null) || applied=
  [[ $applied =~ ^[0-9]+$ ]] && ((applied >= target)) && break
  (($(bench_now_ms) - t0 < 600000)) || die "node $victim did not catch up from empty within 600 s"
  kill -0 "${bench_pids[victim]}" 2>/dev/null || die "node $victim exited: $(tail -n 3 "$work/n$victim.out")"
  sleep 0.05
done
ms=$(($(bench_now_ms) - t0))
received=$(curl -s --max-time 5 "http://127.0.0.1:${ports[victim]}/_raft/resync_stats" | jq -r '.snapshot_bytes_received')
awk -v ms="$ms" -v b="$received" -v n="$count" 'BEGIN {
  printf "resync of an empty follower to %d entries: %d ms, %.1f MiB of snapshot received, %.1f MiB/s\n",
    n, ms, b / 1048576, (b / 1048576) / (ms / 1000) }'
echo "load: $(uptime | sed 's/.*load average/load average/')"
