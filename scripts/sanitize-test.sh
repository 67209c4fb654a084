#!/usr/bin/env bash
# Builds a sanitizer tree (scripts/build.sh --sanitize) and runs its tests with the sanitizers'
# options set: any finding fails its test.
#
#   scripts/sanitize-test.sh asan|tsan [CTEST_ARGS...]
#
# asan: build-asan/ (AddressSanitizer + UBSan + LeakSanitizer; also the fuzz smoke runs).
# tsan: build-tsan/ (ThreadSanitizer; suppressions in tests/tsan.supp, third-party code only).
# Without CTEST_ARGS: the unit tests, the in-process integration of libraft and libkv, the
# simulator (2,000 seeds and its own tests) and, in build-asan, the fuzz smoke runs, building only
# their targets. With CTEST_ARGS (e.g. `-L integration`): those tests, after building everything.
# The purity checks do not apply to an instrumented archive and compat is a third-party client:
# neither runs here.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

kind="${1:-}"
shift || true
case "$kind" in
  asan) sanitize=address,undefined; dir=build-asan ;;
  tsan) sanitize=thread; dir=build-tsan ;;
  *) echo "usage: scripts/sanitize-test.sh asan|tsan [CTEST_ARGS...]" >&2; exit 2 ;;
esac

targets=()
# Not in the default run: the integration tests that start processes (integration.<Suite>. and
# integration.bombarder.; integration.raft_kv. runs in-process and stays), purity/compat (see
# above), docs (needs the Release tree) and the *_NOT_BUILT placeholders of targets not built here.
selection=(-E '^(integration\.(bombarder\.)?[A-Z]|purity\.|compat\.|docs\.)|_NOT_BUILT$')
if [[ $# -eq 0 ]]; then
  targets=(raft_unit_tests kv_unit_tests common_unit_tests stress_node_unit_tests
           bombarder_unit_tests raft_kv_integration_tests raft_sim raft_sim_test)
  if [[ "$kind" == asan ]]; then
    targets+=(http_request_fuzz peer_frame_fuzz snapshot_install_fuzz history_reader_fuzz
              proxy_api_fuzz fault_schedule_fuzz)
  fi
  target_args=()
  for target in "${targets[@]}"; do target_args+=(--target "$target"); done
  bash scripts/build.sh --sanitize "$sanitize" "${target_args[@]}"
else
  bash scripts/build.sh --sanitize "$sanitize"
  selection=("$@")
fi

root="$PWD"
# The power-loss crash test runs until this many crash points or 30 s; instrumented it reaches
# ~85 in 30 s, so ask for fewer than its coverage floor of 100 (it then expects this many).
export KV_CRASH_POINTS="${KV_CRASH_POINTS:-60}"
# Every finding stops the process with a non-zero status (UBSan is also built with
# -fno-sanitize-recover); stacks are symbolized with llvm-symbolizer when it is installed.
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:detect_stack_use_after_return=1:strict_init_order=1:check_initialization_order=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# TSan reports every race it sees and exits 66 at the end; second_deadlock_stack for lock-order
# reports.
export TSAN_OPTIONS="second_deadlock_stack=1:suppressions=$root/tests/tsan.supp"
if command -v llvm-symbolizer-14 >/dev/null 2>&1; then
  export ASAN_SYMBOLIZER_PATH="$(command -v llvm-symbolizer-14)"
  export TSAN_OPTIONS="$TSAN_OPTIONS:external_symbolizer_path=$ASAN_SYMBOLIZER_PATH"
fi
# A finding in a process a test starts (stress_node, bombarder in the integration tests) would
# only show in that process's stderr, which a test may not look at: every report goes to a file
# here instead (report.<pid>), and any file fails the run after ctest, printed whole.
reports="$root/$dir/sanitizer-reports"
rm -rf "$reports"
mkdir -p "$reports"
# (One prefix for all three: a runtime also reads the other tools' option variables.)
export ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$reports/report"
export UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$reports/report"
export TSAN_OPTIONS="$TSAN_OPTIONS:log_path=$reports/report"
status=0
ctest --test-dir "$dir" --output-on-failure --no-tests=error --timeout 900 -j "$(nproc)" \
  "${selection[@]}" || status=$?
shopt -s nullglob
found=("$reports"/*)
if [[ ${#found[@]} -gt 0 ]]; then
  for report in "${found[@]}"; do
    echo "=== $report"
    cat "$report"
  done
  echo "sanitize-test.sh: ${#found[@]} sanitizer report(s) in $reports" >&2
  [[ $status -eq 0 ]] && status=1
fi
exit "$status"
