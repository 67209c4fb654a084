# Shell helpers shared by the benchmark scripts (sourced, not run). Each script keeps its own
# die() and flags; these are the parts that were written once per script.
#
#   bench_pids+=(PID)          processes bench_stop_all stops (TERM, 10 s, then KILL) and reaps
#   bench_work                 a directory bench_stop_all removes (unless BENCH_KEEP=1)
#   bench_port_in_use PORT     true if something listens on 127.0.0.1:PORT
#   bench_cpu_ticks PID        user+system clock ticks the process has used (/proc, fields 14+15)
#   bench_summary_ms           reads numbers (ms), one per line: "min M  median M  p90 M  max M"

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
