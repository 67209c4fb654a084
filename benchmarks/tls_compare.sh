#!/usr/bin/env bash
# Side-by-side write benchmark: the same write load against a plain-HTTP and a TLS 3-node
# stress_node cluster (issue 14 "Measure and publish the cost"), both on loopback, both
# fsyncing, measured in the same run on the same machine, alternating plain and TLS per
# concurrency so that drift in the machine's load hits both alike.
#
# Usage: benchmarks/tls_compare.sh [--duration 15] [--concurrency "10 50"] [--warmup 3]
#   Environment (same meaning as the flags): DURATION, CONCURRENCY, WARMUP (seconds); also
#   BUILD (default build/bin: stress_node and bombarder), PLAIN_PORT (default 28180) and
#   TLS_PORT (default 28190), each the first of 3 consecutive ports.
#
# What is measured, for each concurrency N and each cluster: `bombarder flood --duration D
#   --concurrency N` against the current leader (POST /api/kv, unique keys, 64-byte values; one
#   keep-alive connection per worker, as wrk drives load). Over TLS bombarder verifies the
#   nodes' certificates (--cacert), and the nodes speak mutual TLS to each other: the cost
#   measured is the client's TLS plus the replication traffic's. Reported: writes/s, p50 and p99
#   latency, failures, the nodes' CPU time per 1000 writes (user+system of the 3 processes, from
#   /proc: the figure least moved by other load on the machine); then TLS/plain ratios.
#
# Certificates are made with the openssl CLI exactly as docs/security.md shows. Every process
# it starts is stopped on exit and its temporary directory removed. Exit codes: 0 ok, 1 setup
# failure (one line on stderr), 3 a run had failed requests.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
duration=${DURATION:-15}
concurrency=${CONCURRENCY:-"10 50"}
warmup=${WARMUP:-3}
build=${BUILD:-$repo/build/bin}
plain_port=${PLAIN_PORT:-28180}
tls_port=${TLS_PORT:-28190}

die() {
  echo "tls_compare: $*" >&2
  exit 1
}

while (($#)); do
  case $1 in
    --duration) duration=${2:?--duration needs a value}; shift 2 ;;
    --concurrency) concurrency=${2:?--concurrency needs a value}; shift 2 ;;
    --warmup) warmup=${2:?--warmup needs a value}; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
for tool in openssl jq curl; do command -v $tool >/dev/null || die "$tool is missing (scripts/install-deps.sh)"; done
[[ -x $build/stress_node && -x $build/bombarder ]] || die "no stress_node/bombarder in $build (build them or set BUILD)"

# shellcheck source=benchmarks/lib.sh
source "$repo/benchmarks/lib.sh"
work=$(mktemp -d /tmp/tls_compare.XXXXXX)
bench_work=$work
trap bench_stop_all EXIT
trap 'exit 130' INT TERM

for i in 0 1 2; do
  for p in $((plain_port + i)) $((tls_port + i)); do
    ! bench_port_in_use "$p" || die "port $p on 127.0.0.1 is already in use"
  done
done

# Certificates, as docs/security.md makes them by hand.
(
  cd "$work"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=tls_compare CA" -keyout ca.key -out ca.crt \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
  for i in 0 1 2; do
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=node-$i" \
      -keyout node-$i.key -out node-$i.csr
    openssl x509 -req -in node-$i.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -out node-$i.crt -extfile <(printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" \
        "extendedKeyUsage=serverAuth,clientAuth" "basicConstraints=critical,CA:FALSE")
  done
) >"$work/openssl.log" 2>&1 || die "openssl failed: $(tail -n 2 "$work/openssl.log")"

# Peer authentication on in both clusters, as in production (docs/security.md).
(umask 077; openssl rand -hex 32 >"$work/cluster.secret")

# start_cluster NAME BASE_PORT [TLS]
start_cluster() {
  local name=$1 base=$2 tls=${3:-} i j peers
  for i in 0 1 2; do
    peers=
    for j in 0 1 2; do ((j == i)) || peers+="${peers:+,}$j@127.0.0.1:$((base + j))"; done
    local extra=()
    [[ -n $tls ]] && extra=(--tls-cert "$work/node-$i.crt" --tls-key "$work/node-$i.key" --tls-ca "$work/ca.crt")
    "$build/stress_node" --node-id "$i" --port $((base + i)) --peers "$peers" \
      --data-dir "$work/$name$i" --cluster-secret-file "$work/cluster.secret" --log-level warn \
      "${extra[@]}" >"$work/$name$i.out" 2>&1 &
    bench_pids+=($!)
  done
}
start_cluster plain "$plain_port"
plain_pids=("${bench_pids[@]}")
start_cluster tls "$tls_port" tls
tls_pids=("${bench_pids[@]:3}")
clk_tck=$(getconf CLK_TCK)

# cpu_ticks PID... -> user+system clock ticks the processes have used together.
cpu_ticks() {
  local pid total=0 t
  for pid in "$@"; do
    t=$(bench_cpu_ticks "$pid") || die "node pid $pid is gone (logs in $work)"
    total=$((total + t))
  done
  echo "$total"
}

# leader SCHEME BASE_PORT -> host:port of the node that says it leads, or nothing.
leader() {
  local p
  for p in $(($2)) $(($2 + 1)) $(($2 + 2)); do
    if curl -s --max-time 1 --cacert "$work/ca.crt" "$1://127.0.0.1:$p/status" |
      jq -e '.role == "leader"' >/dev/null 2>&1; then
      echo "127.0.0.1:$p"
      return
    fi
  done
}
wait_leader() {
  local l= deadline=$((SECONDS + 30))
  while [[ -z $l ]]; do
    ((SECONDS < deadline)) || die "no $1 leader within 30 s (logs in $work)"
    sleep 0.1
    l=$(leader "$1" "$2")
  done
  echo "$l"
}

# flood NAME SCHEME BASE_PORT CONCURRENCY SECONDS
#   -> one result line "name c rps p50 p99 failed cpu_ms_per_1000_writes"
# The CPU figure is the three nodes' user+system time over the run per 1000 acknowledged
# writes: unlike latency, it hardly moves with the machine's load.
flood() {
  local name=$1 scheme=$2 base=$3 c=$4 secs=$5 lead out cpu_before cpu_after
  local -n node_pids=${name}_pids
  lead=$(wait_leader "$scheme" "$base")
  cpu_before=$(cpu_ticks "${node_pids[@]}")
  local tls=()
  [[ $scheme == https ]] && tls=(--cacert "$work/ca.crt")
  out=$work/flood-$name-$c-$secs.json
  STRESS_TEST_DATA=$work/bombarder-$name "$build/bombarder" flood --nodes "$scheme://$lead" \
    "${tls[@]}" --duration "$secs" --concurrency "$c" --json >"$out" 2>"$out.err" ||
    true  # a run with failures still prints its summary; they are counted below
  cpu_after=$(cpu_ticks "${node_pids[@]}")
  jq -r --arg n "$name" --arg c "$c" --argjson ticks $((cpu_after - cpu_before)) --argjson hz "$clk_tck" \
    '"\($n) \($c) \(.throughput_rps|floor) \(.latency.p50_ms) \(.latency.p99_ms) \(.failed) \(($ticks * 1000 / $hz) * 1000 / ([.succeeded, 1] | max) | . * 10 | round / 10)"' "$out" ||
    die "no result from bombarder flood against $name (see $out.err: $(tail -n 1 "$out.err"))"
}

echo "load before the runs: $(uptime | sed 's/.*load average/load average/')"
echo "warm-up (${warmup} s each, not reported)"
flood plain http "$plain_port" 10 "$warmup" >/dev/null
flood tls https "$tls_port" 10 "$warmup" >/dev/null
echo "measuring: bombarder flood --duration $duration --concurrency N against each leader"
results=()
failed=0
for c in $concurrency; do
  for run in "plain http $plain_port" "tls https $tls_port"; do
    read -r name scheme base <<<"$run"
    line=$(flood "$name" "$scheme" "$base" "$c" "$duration")
    read -r _ _ rps p50 p99 fails cpu <<<"$line"
    printf '  %-5s c=%-3s %8s writes/s  p50 %7s ms  p99 %7s ms  failed %s  node CPU %s ms/1000 writes\n' \
      "$name" "$c" "$rps" "$p50" "$p99" "$fails" "$cpu"
    ((fails == 0)) || failed=1
    results+=("$line")
  done
  echo "  load: $(uptime | sed 's/.*load average/load average/')"
done

echo
printf '%-6s %5s %10s %9s %9s %7s %14s\n' system conc writes/s p50_ms p99_ms failed cpu_ms/1000w
for line in "${results[@]}"; do
  read -r name c rps p50 p99 fails cpu <<<"$line"
  printf '%-6s %5s %10s %9.2f %9.2f %7s %14s\n' "$name" "$c" "$rps" "$p50" "$p99" "$fails" "$cpu"
done
echo
echo "TLS / plain:"
for c in $concurrency; do
  p=$(printf '%s\n' "${results[@]}" | awk -v c="$c" '$1 == "plain" && $2 == c')
  t=$(printf '%s\n' "${results[@]}" | awk -v c="$c" '$1 == "tls" && $2 == c')
  awk -v p="$p" -v t="$t" -v c="$c" 'BEGIN {
    split(p, a, " "); split(t, b, " ");
    printf "  c=%-3s writes/s %.2fx  p50 %.2fx  p99 %.2fx  node CPU per write %.2fx\n", c, b[3] / a[3], b[4] / a[4], b[5] / a[5], b[7] / a[7] }'
done
((failed == 0)) || { echo "tls_compare: some requests failed" >&2; exit 3; }
