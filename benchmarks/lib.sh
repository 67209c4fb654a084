# Shell helpers shared by the benchmark scripts (sourced, not run). Each script keeps its own
# die() and flags; these are the parts that were written once per script.
#
#   bench_pids+=(PID)          processes bench_stop_all stops (TERM, 10 s, then KILL) and reaps
#   bench_work                 a directory bench_stop_all removes (unless BENCH_KEEP=1)
#   bench_port_in_use PORT     true if something listens on 127.0.0.1:PORT
#   bench_cpu_ticks PID        user+system clock ticks the process has used (/proc, fields 14+15)
#   bench_write_bytes PID      bytes the process has caused to be sent to storage (/proc/PID/io
#                              write_bytes: page-cache writeback and direct writes, not reads)
#   bench_summary_ms           reads numbers (ms), one per line: "min M  median M  p90 M  max M"
#   bench_now_ms               wall-clock milliseconds
#
# A local 3-node stress_node cluster (failover.sh, store_growth.sh). Set bench_stress_node (the
# binary), bench_ports (three ports on 127.0.0.1) and bench_node_flags (every member's flags but
# identity, peers and data dir), then:
#   bench_start_node I         starts member I (data in $bench_work/nI, output appended to nI.out)
#                              and records its pid in bench_pids[I]
#   bench_status I             member I's GET /status body (nothing if it does not answer in 2 s)
#   bench_leader_index         the index (0..2) of the member that says it leads, or nothing
#   bench_wait_leader SECONDS  prints the leader's index; after SECONDS without one, a line on
#                              stderr and status 1

bench_pids=()
bench_work=

bench_stop_all() {
  local pid deadline
  for pid in "${bench_pids[@]}"; do
    if ((pid)); then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  deadline=$((SECONDS + 10))
  for pid in "${bench_pids[@]}"; do
    ((pid)) || continue
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ -n $bench_work ]]; then
    if [[ ${BENCH_KEEP:-0} == 1 ]]; then echo "kept $bench_work"; else rm -rf "$bench_work"; fi
  fi
}

bench_port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

bench_cpu_ticks() {
  local stat
  stat=$(cat "/proc/$1/stat") || return 1
  stat=${stat##*) }  # past "pid (comm) ": field 3 first
  local -a f
  read -r -a f <<<"$stat"
  echo $((f[11] + f[12]))
}

bench_write_bytes() {
  awk '$1 == "write_bytes:" { print $2; found = 1 } END { exit !found }' "/proc/$1/io"
}

bench_summary_ms() {
  sort -n | awk '
    { v[NR] = $1 }
    END {
      n = NR
      median = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
      p90 = v[int(0.9 * n + 0.999999)]
      printf "  min %d  median %g  p90 %d  max %d\n", v[1], median, p90, v[n]
    }'
}

bench_now_ms() { echo $(($(date +%s%N) / 1000000)); }

bench_stress_node=
bench_ports=()
bench_node_flags=()

bench_start_node() {
  local i=$1 j peers=()
  for j in 0 1 2; do ((j == i)) || peers+=("$j@127.0.0.1:${bench_ports[j]}"); done
  "$bench_stress_node" --node-id "$i" --port "${bench_ports[i]}" \
    --peers "$(IFS=,; echo "${peers[*]}")" --data-dir "$bench_work/n$i" "${bench_node_flags[@]}" \
    >>"$bench_work/n$i.out" 2>&1 &
  bench_pids[i]=$!
}

bench_status() { curl -s --max-time 2 "http://127.0.0.1:${bench_ports[$1]}/status"; }

bench_leader_index() {
  local i
  for i in 0 1 2; do
    if bench_status "$i" | jq -e '.role == "leader"' >/dev/null 2>&1; then
      echo "$i"
      return
    fi
  done
}

bench_wait_leader() {
  local deadline=$((SECONDS + $1)) l
  while ((SECONDS < deadline)); do
    l=$(bench_leader_index)
    [[ -n $l ]] && { echo "$l"; return; }
    sleep 0.05
  done
  echo "no leader within $1 s (node logs in $bench_work/n*/node.log; KEEP=1 keeps them)" >&2
  return 1
}
