#!/usr/bin/env bash
# Side-by-side write benchmark: a 3-node stress_node cluster against a 3-node etcd cluster, both on
# loopback, both fsyncing (etcd runs with its defaults; --unsafe-no-fsync is never passed), both
# measured in the same run on the same machine.
#
# Usage: benchmarks/etcd_compare.sh [--duration 15s] [--connections "10 50"] [--warmup 3s]
#   Environment (same meaning as the flags): DURATION, CONNECTIONS, WARMUP; also THREADS (wrk -t,
#   default 2), STRESS_NODE (binary, default build/bin/stress_node), SN_PORT (first stress_node
#   port, default 28080; the cluster uses 3 consecutive ports), ETCD_CLIENT_PORT (default 23791)
#   and ETCD_PEER_PORT (default 23801), each the first of 3 consecutive ports.
#
# What is measured, for each connection count N and each system:
#   wrk -t$THREADS -cN -d$DURATION --latency against the current LEADER (found, never assumed):
#   - stress_node: POST /api/kv {"key","value"} (benchmarks/wrk_post_unique.lua), 201 expected;
#   - etcd:        POST /v3/kv/put on the JSON gateway with base64 key/value, a unique key per
#                  request and the same 100-byte value (benchmarks/wrk_etcd_put_unique.lua).
#   Reported: writes/s (wrk's Requests/sec), p50 and p99 latency (wrk --latency), non-2xx
#   responses, socket errors, and the writes that landed (entries/keys added on the leader during
#   the run, which must be at least the 2xx count), then ours/etcd ratios per connection count.
#   Each system gets one unreported warm-up run of $WARMUP first.
#
# Then linearizable reads (issue 15), for each connection count in READ_CONNECTIONS (default
#   "50"; empty: no read runs), against the same leaders, of entries the write runs made:
#   - stress_node: GET /api/kv/<id> (ReadIndex), 10,000 ids listed from the leader
#     (benchmarks/wrk_read_from_file.lua), 200 expected;
#   - etcd:        POST /v3/kv/range of one key (linearizable by default), 10,000 keys of the
#                  write runs (the same script).
#   Reported: reads/s, p50, p99, non-2xx, and ours/etcd ratios.
#
# Installs etcd-server, etcd-client, wrk, jq and curl if missing. Runs its own etcd processes with
# data under a temporary directory and never touches the system etcd service. Every process it
# starts is stopped on exit and the temporary directory removed. Exit codes: 0 all checks passed,
# 1 setup failure (one line on stderr), 3 a run had errors, non-2xx answers or missing writes.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

duration=${DURATION:-15s}
connections=${CONNECTIONS:-"10 50"}
warmup=${WARMUP:-3s}
threads=${THREADS:-2}
read_connections=${READ_CONNECTIONS-50}
stress_node=${STRESS_NODE:-$repo/build/bin/stress_node}
sn_port=${SN_PORT:-28080}
etcd_client_port=${ETCD_CLIENT_PORT:-23791}
etcd_peer_port=${ETCD_PEER_PORT:-23801}

die() {
  echo "etcd_compare: $*" >&2
  exit 1
}

while (($#)); do
  case $1 in
    --duration) duration=${2:?--duration needs a value}; shift 2 ;;
    --connections) connections=${2:?--connections needs a value}; shift 2 ;;
    --warmup) warmup=${2:?--warmup needs a value}; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

# "15" means 15 s; wrk wants a unit.
[[ $duration =~ ^[0-9]+$ ]] && duration=${duration}s
[[ $warmup =~ ^[0-9]+$ ]] && warmup=${warmup}s
[[ $duration =~ ^[0-9]+s$ ]] || die "duration must be whole seconds, e.g. 15s (got '$duration')"
[[ $warmup =~ ^[0-9]+s$ ]] || die "warmup must be whole seconds, e.g. 3s (got '$warmup')"

# ---------------------------------------------------------------------------------------------
# Dependencies.
need_pkgs=()
command -v etcd >/dev/null || need_pkgs+=(etcd-server)
command -v etcdctl >/dev/null || need_pkgs+=(etcd-client)
command -v wrk >/dev/null || need_pkgs+=(wrk)
command -v jq >/dev/null || need_pkgs+=(jq)
command -v curl >/dev/null || need_pkgs+=(curl)
if ((${#need_pkgs[@]})); then
  echo "installing ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "${need_pkgs[@]}" >/dev/null ||
    { apt-get update -q >/dev/null && apt-get install -y -q "${need_pkgs[@]}" >/dev/null; } ||
    die "could not install ${need_pkgs[*]}"
fi
[[ -x $stress_node ]] || die "no stress_node binary at $stress_node (build it or set STRESS_NODE)"
for lua in wrk_post_unique.lua wrk_etcd_put_unique.lua wrk_read_from_file.lua; do
  [[ -f $repo/benchmarks/$lua ]] || die "missing benchmarks/$lua"
done

# ---------------------------------------------------------------------------------------------
# Process bookkeeping and cleanup.
work=$(mktemp -d /tmp/etcd_compare.XXXXXX)
pids=()

cleanup() {
  local pid deadline
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  deadline=$((SECONDS + 10))
  for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

for i in 0 1 2; do
  for p in $((sn_port + i)) $((etcd_client_port + i)) $((etcd_peer_port + i)); do
    ! port_in_use "$p" || die "port $p on 127.0.0.1 is already in use"
  done
done

# ---------------------------------------------------------------------------------------------
# stress_node cluster.
sn_ports=("$sn_port" $((sn_port + 1)) $((sn_port + 2)))
# Peer frames carry an HMAC-SHA256 (issue 14): measured as deployed.
(umask 077; openssl rand -hex 32 >"$work/cluster-secret")
for i in 0 1 2; do
  peers=()
  for j in 0 1 2; do ((j == i)) || peers+=("$j@127.0.0.1:${sn_ports[j]}"); done
  "$stress_node" --node-id "$i" --port "${sn_ports[i]}" --peers "$(IFS=,; echo "${peers[*]}")" \
    --data-dir "$work/sn$i" --log-level warn --cluster-secret-file "$work/cluster-secret" \
    >"$work/sn$i.out" 2>&1 &
  pids+=($!)
done

# Prints the leader's address once a node says it leads; empty if none does yet.
sn_leader() {
  local p
  for p in "${sn_ports[@]}"; do
    if curl -s --max-time 1 "http://127.0.0.1:$p/status" | jq -e '.role == "leader"' >/dev/null 2>&1
    then
      echo "127.0.0.1:$p"
      return
    fi
  done
}

deadline=$((SECONDS + 30))
sn_lead=
while [[ -z $sn_lead ]]; do
  ((SECONDS < deadline)) || die "no stress_node leader within 30 s (logs in $work/sn*/node.log)"
  sleep 0.1
  sn_lead=$(sn_leader)
done
echo "stress_node cluster up on ports ${sn_ports[*]}; leader $sn_lead"

# ---------------------------------------------------------------------------------------------
# etcd cluster (own processes, own data dirs, fsync on).
initial_cluster=
for i in 0 1 2; do initial_cluster+="${initial_cluster:+,}e$i=http://127.0.0.1:$((etcd_peer_port + i))"; done
etcd_endpoints=()
for i in 0 1 2; do
  cport=$((etcd_client_port + i))
  pport=$((etcd_peer_port + i))
  etcd_endpoints+=("127.0.0.1:$cport")
  etcd --name "e$i" --data-dir "$work/etcd$i" \
    --listen-client-urls "http://127.0.0.1:$cport" --advertise-client-urls "http://127.0.0.1:$cport" \
    --listen-peer-urls "http://127.0.0.1:$pport" --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    --initial-cluster "$initial_cluster" --initial-cluster-token "etcd-compare-$$" \
    --initial-cluster-state new --logger zap --log-level warn >"$work/etcd$i.out" 2>&1 &
  pids+=($!)
done

etcd_leader() {
  local ep status
  for ep in "${etcd_endpoints[@]}"; do
    status=$(curl -s --max-time 1 -X POST "http://$ep/v3/maintenance/status" -d '{}') || continue
    if jq -e '.leader != null and .leader == .header.member_id' <<<"$status" >/dev/null 2>&1; then
      echo "$ep"
      return
    fi
  done
}

deadline=$((SECONDS + 30))
until etcdctl --endpoints "$(IFS=,; echo "${etcd_endpoints[*]}")" --command-timeout 2s \
  endpoint health >/dev/null 2>&1; do
  ((SECONDS < deadline)) || die "etcd cluster not healthy within 30 s (output in $work/etcd*.out)"
  sleep 0.2
done
etcd_lead=
while [[ -z $etcd_lead ]]; do
  ((SECONDS < deadline)) || die "no etcd leader within 30 s"
  etcd_lead=$(etcd_leader)
  [[ -n $etcd_lead ]] || sleep 0.1
done
echo "etcd $(etcd --version | awk '/etcd Version/ {print $3}') cluster up on ports ${etcd_endpoints[*]##*:}; leader $etcd_lead"

# ---------------------------------------------------------------------------------------------
# Counting writes that landed.

# Entries on the stress_node leader, once the count has stopped moving (writes still in flight
# when wrk stops may commit a little later).
sn_count() {
  local prev=-1 cur deadline=$((SECONDS + 10))
  while ((SECONDS < deadline)); do
    cur=$(curl -s --max-time 2 "http://$1/status" | jq -r '.entry_count') || cur=-2
    [[ $cur == "$prev" ]] && break
    prev=$cur
    sleep 0.3
  done
  echo "$cur"
}

etcd_count() {
  local prev=-1 cur deadline=$((SECONDS + 10))
  while ((SECONDS < deadline)); do
    # Keys in ["k-", "k.") (base64 "ay0=" and "ay4="), counted without fetching them.
    cur=$(curl -s --max-time 5 -X POST "http://$1/v3/kv/range" \
      -d '{"key":"ay0=","range_end":"ay4=","count_only":true}' | jq -r '.count // 0') || cur=-2
    [[ $cur == "$prev" ]] && break
    prev=$cur
    sleep 0.3
  done
  echo "$cur"
}

# ---------------------------------------------------------------------------------------------
# wrk runs and parsing.

# wrk latency value ("812.00us", "1.23ms", "2.01s") in milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /m$/) n *= 60000;
    else if (v ~ /s$/) n *= 1000
    printf "%.2f", n }'
}

# run_wrk SYSTEM CONNECTIONS DURATION URL LUA ARGS... -> sets the globals r_* from wrk's output.
# ARGS go to the script (the etcd write script puts its first in its keys so that runs do not
# overwrite each other).
run_wrk() {
  local system=$1 conns=$2 dur=$3 url=$4 lua=$5 out=$work/wrk-$1-$2-$3.txt
  shift 5
  timeout $((${dur%s} + 30)) wrk -t"$threads" -c"$conns" -d"$dur" --latency \
    -s "$repo/benchmarks/$lua" "$url" -- "$@" >"$out" 2>&1 ||
    die "wrk failed against $system: $(tail -n 1 "$out")"
  r_rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  r_requests=$(awk '/requests in/ {print $1}' "$out")
  r_p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
  r_p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
  r_non2xx=$(awk -F': *' '/Non-2xx or 3xx responses/ {print $2}' "$out")
  r_non2xx=${r_non2xx:-0}
  r_sockerr=$(awk '/Socket errors/ {sub(/.*Socket errors: /, ""); print}' "$out")
  r_sockerr=${r_sockerr:-none}
  r_out=$out
  [[ -n $r_rps && -n $r_requests ]] || die "could not parse wrk output for $system ($out)"
}

results=()  # lines: system conns rps p50 p99 requests non2xx landed sockerr
failed=0

measure() {
  local system=$1 conns=$2 before after landed acked
  if [[ $system == stress_node ]]; then
    before=$(sn_count "$sn_lead")
    run_wrk "$system" "$conns" "$duration" "http://$sn_lead" wrk_post_unique.lua "c$conns"
    after=$(sn_count "$sn_lead")
  else
    before=$(etcd_count "$etcd_lead")
    run_wrk "$system" "$conns" "$duration" "http://$etcd_lead" wrk_etcd_put_unique.lua "c$conns"
    after=$(etcd_count "$etcd_lead")
  fi
  landed=$((after - before))
  acked=$((r_requests - r_non2xx))
  printf '  %-11s c=%-3s %9s writes/s  p50 %8s ms  p99 %8s ms  requests %s  non-2xx %s  landed %s  socket errors: %s\n' \
    "$system" "$conns" "$r_rps" "$r_p50" "$r_p99" "$r_requests" "$r_non2xx" "$landed" "$r_sockerr"
  if ((r_non2xx != 0)) || [[ $r_sockerr != none ]] || ((landed < acked)); then
    echo "  !! $system c=$conns: non-2xx $r_non2xx, socket errors '$r_sockerr', landed $landed < answered $acked?" \
      "(wrk output: see below)"
    sed 's/^/     | /' "$r_out"
    failed=1
  fi
  results+=("$system $conns $r_rps $r_p50 $r_p99 $r_requests $r_non2xx $landed")
}

# Leaders can change between runs; re-check before each measurement.
refresh_leaders() {
  local l
  l=$(sn_leader); [[ -z $l || $l == "$sn_lead" ]] || { echo "  (stress_node leader moved to $l)"; sn_lead=$l; }
  l=$(etcd_leader); [[ -z $l || $l == "$etcd_lead" ]] || { echo "  (etcd leader moved to $l)"; etcd_lead=$l; }
}

echo "load before the runs: $(uptime | sed 's/.*load average/load average/')"
echo "warm-up ($warmup each, not reported)"
run_wrk stress_node 10 "$warmup" "http://$sn_lead" wrk_post_unique.lua warmup
run_wrk etcd 10 "$warmup" "http://$etcd_lead" wrk_etcd_put_unique.lua warmup
# The Lua script's base64 is hand-written: check that a key it wrote ("k-warmup-1-<n>") reads
# back with the intended value.
[[ $(etcdctl --endpoints "$etcd_lead" get k-warmup-1- --prefix --limit 1 --print-value-only) == \
  "$(printf 'v%.0s' {1..100})" ]] ||
  die "no key k-warmup-1-* with the expected value after the warm-up: the wrk script's base64 is broken"

echo "measuring: wrk -t$threads -cN -d$duration --latency"
for c in $connections; do
  refresh_leaders
  measure stress_node "$c"
  refresh_leaders
  measure etcd "$c"
  echo "  load: $(uptime | sed 's/.*load average/load average/')"
done

# ---------------------------------------------------------------------------------------------
# Linearizable reads of what the write runs made.
read_results=()  # lines: system conns rps p50 p99 requests non2xx
if [[ -n $read_connections ]]; then
  refresh_leaders
  curl -s --max-time 10 "http://$sn_lead/api/kv?limit=10000" | jq -r '.[].id' >"$work/ids.txt"
  (($(wc -l <"$work/ids.txt") > 0)) || die "could not list stress_node entries for the read runs"
  # The keys the first write run's wrk thread 1 made ("k-c<N>-1-<counter>"), base64 as the
  # gateway wants them.
  first_c=${connections%% *}
  etcdctl --endpoints "$etcd_lead" get "k-c$first_c-1-" --prefix --keys-only --limit 10000 |
    awk 'NF' | while read -r key; do printf '%s' "$key" | base64 -w0; echo; done >"$work/keys.txt"
  (($(wc -l <"$work/keys.txt") > 0)) || die "could not list etcd keys for the read runs"
  echo "measuring reads: wrk -t$threads -cN -d$duration --latency, $(wc -l <"$work/ids.txt") ids," \
    "$(wc -l <"$work/keys.txt") keys"
  for c in $read_connections; do
    for system in stress_node etcd; do
      refresh_leaders
      if [[ $system == stress_node ]]; then
        run_wrk "$system-reads" "$c" "$duration" "http://$sn_lead" wrk_read_from_file.lua \
          "$work/ids.txt" stress_node
      else
        run_wrk "$system-reads" "$c" "$duration" "http://$etcd_lead" wrk_read_from_file.lua \
          "$work/keys.txt" etcd
      fi
      printf '  %-11s c=%-3s %9s reads/s   p50 %8s ms  p99 %8s ms  requests %s  non-2xx %s  socket errors: %s\n' \
        "$system" "$c" "$r_rps" "$r_p50" "$r_p99" "$r_requests" "$r_non2xx" "$r_sockerr"
      if ((r_non2xx != 0)) || [[ $r_sockerr != none ]]; then
        echo "  !! $system reads c=$c: non-2xx $r_non2xx, socket errors '$r_sockerr' (wrk output below)"
        sed 's/^/     | /' "$r_out"
        failed=1
      fi
      read_results+=("$system $c $r_rps $r_p50 $r_p99 $r_requests $r_non2xx")
    done
    echo "  load: $(uptime | sed 's/.*load average/load average/')"
  done
fi

# ---------------------------------------------------------------------------------------------
# Tables.
echo
printf '%-12s %5s %11s %10s %10s %10s %8s %10s\n' system conns writes/s p50_ms p99_ms requests non2xx landed
for line in "${results[@]}"; do
  # shellcheck disable=SC2086  # word splitting intended
  printf '%-12s %5s %11s %10s %10s %10s %8s %10s\n' $line
done
echo
printf '%5s %18s %14s %14s\n' conns "writes/s ours/etcd" "p50 ours/etcd" "p99 ours/etcd"
for c in $connections; do
  read -r _ _ o_rps o_p50 o_p99 _ < <(printf '%s\n' "${results[@]}" | awk -v c="$c" '$1 == "stress_node" && $2 == c')
  read -r _ _ e_rps e_p50 e_p99 _ < <(printf '%s\n' "${results[@]}" | awk -v c="$c" '$1 == "etcd" && $2 == c')
  awk -v c="$c" -v orps="$o_rps" -v erps="$e_rps" -v o50="$o_p50" -v e50="$e_p50" -v o99="$o_p99" -v e99="$e_p99" \
    'function r(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "n/a" }
     BEGIN { printf "%5s %18s %14s %14s\n", c, r(orps, erps), r(o50, e50), r(o99, e99) }'
done
if ((${#read_results[@]})); then
  echo
  printf '%-12s %5s %11s %10s %10s %10s %8s\n' system conns reads/s p50_ms p99_ms requests non2xx
  for line in "${read_results[@]}"; do
    # shellcheck disable=SC2086  # word splitting intended
    printf '%-12s %5s %11s %10s %10s %10s %8s\n' $line
  done
  echo
  printf '%5s %17s %14s %14s\n' conns "reads/s ours/etcd" "p50 ours/etcd" "p99 ours/etcd"
  for c in $read_connections; do
    read -r _ _ o_rps o_p50 o_p99 _ < <(printf '%s\n' "${read_results[@]}" | awk -v c="$c" '$1 == "stress_node" && $2 == c')
    read -r _ _ e_rps e_p50 e_p99 _ < <(printf '%s\n' "${read_results[@]}" | awk -v c="$c" '$1 == "etcd" && $2 == c')
    awk -v c="$c" -v orps="$o_rps" -v erps="$e_rps" -v o50="$o_p50" -v e50="$e_p50" -v o99="$o_p99" -v e99="$e_p99" \
      'function r(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "n/a" }
       BEGIN { printf "%5s %17s %14s %14s\n", c, r(orps, erps), r(o50, e50), r(o99, e99) }'
  done
fi
echo
echo "load after the runs: $(uptime | sed 's/.*load average/load average/')"
if ((failed)); then
  echo "etcd_compare: some runs had errors, non-2xx answers or missing writes (see above)" >&2
  exit 3
fi
echo "all runs: 0 non-2xx, 0 socket errors, every answered write landed"
