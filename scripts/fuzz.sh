#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (build-asan/: clang++-14, ASan + UBSan) and fuzzes
# each for SECONDS (default 60), one after the other, starting from its seed corpus.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# New interesting inputs go to build-asan/fuzz-corpus/<target>/ (kept between runs; to keep some
# for good, minimize them into tests/fuzz/corpus/<target>/ with libFuzzer's -merge=1). Crashes,
# leaks and timeouts go to build-asan/fuzz-artifacts/; replay one with
# `build-asan/tests/fuzz/<target> <artifact>`. Prints each target's executions, executions per
# second and coverage; exits 1 if any target found something.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${1:-60}"
shift || true
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [[ "$seconds" -eq 0 ]]; then
  echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]   (SECONDS: a positive integer)" >&2
  exit 2
fi
# name:max_len, as in tests/fuzz/CMakeLists.txt.
all=(http_request_fuzz:4096 peer_frame_fuzz:4096 snapshot_install_fuzz:4096
     history_reader_fuzz:4096 proxy_api_fuzz:2048 fault_schedule_fuzz:2048)
selected=()
for entry in "${all[@]}"; do
  name="${entry%%:*}"
  if [[ $# -eq 0 ]] || [[ " $* " == *" $name "* ]]; then selected+=("$entry"); fi
done
if [[ ${#selected[@]} -eq 0 ]]; then
  echo "fuzz.sh: no such target: $*" >&2
  exit 2
fi

target_args=()
for entry in "${selected[@]}"; do target_args+=(--target "${entry%%:*}"); done
bash scripts/build.sh --sanitize address,undefined "${target_args[@]}"

export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
artifacts="$PWD/build-asan/fuzz-artifacts"
logs="$PWD/build-asan/fuzz-logs"
mkdir -p "$artifacts" "$logs"
failed=()
summary=()
for entry in "${selected[@]}"; do
  name="${entry%%:*}"
  max_len="${entry##*:}"
  corpus="build-asan/fuzz-corpus/$name"
  mkdir -p "$corpus"
  echo "== $name: ${seconds}s"
  status=0
  "build-asan/tests/fuzz/$name" "$corpus" "tests/fuzz/corpus/$name" \
    -max_total_time="$seconds" -max_len="$max_len" -timeout=30 -rss_limit_mb=4096 \
    -artifact_prefix="$artifacts/$name-" -print_final_stats=1 >"$logs/$name.log" 2>&1 || status=$?
  # The last status line: "#N DONE cov: C ft: F corp: K/S exec/s: E rss: R".
  last=$(grep -E '^#[0-9]+' "$logs/$name.log" | tail -1 || true)
  summary+=("$(printf '%-24s %s' "$name" "${last:-no status line}")")
  if [[ $status -ne 0 ]]; then
    failed+=("$name")
    echo "   FOUND SOMETHING (exit $status): see $logs/$name.log and $artifacts/"
    grep -E 'ERROR|SUMMARY|fuzz: |Test unit written' "$logs/$name.log" | head -20 || true
  fi
done

echo
echo "== summary (${seconds}s per target; logs in $logs)"
printf '%s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz.sh: findings in: ${failed[*]} (artifacts in $artifacts)" >&2
  exit 1
fi
