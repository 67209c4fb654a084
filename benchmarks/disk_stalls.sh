#!/usr/bin/env bash
# Are the cluster's latency spikes its own, or the disk's? Runs a storm against a fresh 3-node
# cluster while build/benchmarks/fsync_probe, an independent process, fdatasyncs 4 KiB every
# 10 ms in the same data directory; then groups the storm's slow requests into spikes and says
# how many of them overlap a stall of the probe.
#
# A spike: at least MIN_BATCH (5) requests slower than SLOW_MS (150) whose starts follow each
# other by under 50 ms; its interval runs from the first one's start to the last one's end. A probe
# stall: one fdatasync slower than STALL_MS (100). When nearly every spike overlaps a stall of a
# process that shares nothing with the cluster but the disk, the spikes are the disk's.
#
# Usage: benchmarks/disk_stalls.sh [BUILD_DIR]   env: DURATION (s, 30), CONCURRENCY (50),
#        PORT (28300, the first of 3), SLOW_MS, STALL_MS, MIN_BATCH, KEEP=1 keeps the data dir,
#        CHAOS=1 adds --chaos --kill-interval 6 --downtime 2 (do restarts cause the spikes?).
# Every process it starts is stopped on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build}
duration=${DURATION:-30}
concurrency=${CONCURRENCY:-50}
port=${PORT:-28300}
slow_ms=${SLOW_MS:-150}
stall_ms=${STALL_MS:-100}
min_batch=${MIN_BATCH:-5}
bombarder="$build/bin/bombarder"
probe="$build/benchmarks/fsync_probe"
for binary in "$bombarder" "$probe"; do
  [[ -x "$binary" ]] || { echo "disk_stalls: $binary missing; run scripts/build.sh" >&2; exit 1; }
done
# The nodes' data lives under the repository (like data/), not in a tmpfs /tmp.
work=$(mktemp -d "$PWD/build/disk_stalls.XXXXXX")
export STRESS_TEST_DATA="$work"
probe_pid=
cleanup() {
  [[ -n $probe_pid ]] && kill "$probe_pid" 2>/dev/null && wait "$probe_pid" 2>/dev/null
  "$bombarder" cluster stop >/dev/null 2>&1 || true
  [[ ${KEEP:-0} == 1 ]] && echo "kept $work" || rm -rf "$work"
}
trap cleanup EXIT

"$bombarder" cluster start --port "$port" --nodes 3 >/dev/null
"$probe" --dir "$work" --seconds "$((duration + 2))" --stall-ms "$stall_ms" \
  >"$work/stalls.txt" 2>"$work/probe.txt" &
probe_pid=$!
chaos=()
[[ ${CHAOS:-0} == 1 ]] && chaos=(--chaos --kill-interval 6 --downtime 2)
"$bombarder" storm --duration "$duration" --concurrency "$concurrency" --csv "$work/requests.csv" \
  "${chaos[@]}" >"$work/storm.txt" 2>&1
grep -E '^\[chaos' "$work/storm.txt" | sed 's/^/  /' || true
wait "$probe_pid"
probe_pid=
grep -E '^  (throughput|latency)' "$work/storm.txt"
cat "$work/probe.txt"

# Times are printed from the first request's start (t=0), as the chaos lines' are (nearly).
# Spikes from the CSV (time_unix_s,node,operation,status,latency_ms,attempts,outcome), then the
# overlap with the probe's stalls ("start_unix_s ms" per line).
awk -F, -v slow="$slow_ms" 'NR > 1 && $5 > slow { printf "%.6f %.6f\n", $1, $1 + $5 / 1000 }' \
  "$work/requests.csv" | sort -n >"$work/slow.txt"
t0=$(awk -F, 'NR == 2 || (NR > 2 && $1 < t) { t = $1 } END { printf "%.6f", t }' "$work/requests.csv")
awk -v min="$min_batch" -v stalls="$work/stalls.txt" -v t0="$t0" '
  BEGIN { while ((getline line < stalls) > 0) { split(line, f, " "); s[++ns] = f[1]; e[ns] = f[1] + f[2] / 1000 } }
  function flush() {
    if (n >= min) {
      ++spikes; hit = 0
      for (i = 1; i <= ns; ++i) if (s[i] <= last_end && e[i] >= first) { hit = 1; break }
      matched += hit
      printf "  spike at t=%.2fs: %d requests, until +%.0f ms%s\n", first - t0, n, (last_end - first) * 1000,
             hit ? sprintf(", probe stall at t=%.2fs (%.0f ms)", s[i] - t0, (e[i] - s[i]) * 1000) : ", no probe stall"
    }
  }
  { if (NR == 1 || $1 - prev > 0.05) { flush(); n = 0; first = $1; last_end = 0 }
    prev = $1; ++n; if ($2 > last_end) last_end = $2 }
  END { flush(); printf "%d spikes of >= %d requests over the threshold; %d overlap a probe stall\n", spikes, min, matched }
' "$work/slow.txt"
