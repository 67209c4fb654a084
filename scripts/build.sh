#!/usr/bin/env bash
# Configures (Release) and builds the project.
#
#   scripts/build.sh [--sanitize LIST] [--target T]... [CMAKE_ARGS...]
#
# Without --sanitize: build/, everything, with every core. Extra arguments go to the configure
# step, e.g. scripts/build.sh -DRAFTKV_BUILD_BENCHMARKS=OFF.
# --sanitize address,undefined: build-asan/ with clang++-14, AddressSanitizer + UBSan, and the
#   libFuzzer targets of tests/fuzz (RAFTKV_FUZZ; the same instrumented libraries serve the unit
#   tests, the simulator and the fuzzers, so one tree is built instead of two).
# --sanitize thread: build-tsan/ with clang++-14, ThreadSanitizer.
# (Any other -fsanitize= list goes to build-san/.) --target limits the build to those targets
# (repeatable); sanitizer builds are CPU heavy, so build what you run. Run the tests of a
# sanitizer tree with scripts/sanitize-test.sh, which sets the sanitizers' options.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

sanitize=""
targets=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --sanitize) sanitize="$2"; shift 2 ;;
    --sanitize=*) sanitize="${1#--sanitize=}"; shift ;;
    --target) targets+=("$2"); shift 2 ;;
    --target=*) targets+=("${1#--target=}"); shift ;;
    *) break ;;
  esac
done

# ccache (installed by install-deps.sh) makes rebuilds and builds in other checkouts of the same
# sources cheap; the base dir makes its cache keys independent of where the checkout lives.
if command -v ccache >/dev/null 2>&1; then
  export CMAKE_CXX_COMPILER_LAUNCHER=ccache
  export CCACHE_BASEDIR="$PWD"
  # The sanitizer trees compile with -g1; ccache would then put the working directory in its
  # keys and a fresh clone elsewhere (CI) would miss every object. The debug info keeps the
  # directory of the first build, which only matters to a debugger.
  export CCACHE_NOHASHDIR=1
fi

dir=build
extra=()
if [[ -n "$sanitize" ]]; then
  case "$sanitize" in
    address,undefined | undefined,address) dir=build-asan; extra+=(-DRAFTKV_FUZZ=ON) ;;
    thread) dir=build-tsan ;;
    *) dir=build-san ;;
  esac
  # clang: libFuzzer, and the sanitizers' runtimes in Debian's libclang-rt-14-dev. Benchmarks
  # measure nothing under a sanitizer.
  extra+=(-DCMAKE_CXX_COMPILER=clang++-14 "-DRAFTKV_SANITIZE=$sanitize"
          -DRAFTKV_BUILD_BENCHMARKS=OFF)
else
  extra+=(-DRAFTKV_BUILD_BENCHMARKS=ON)
fi

# Tests are named explicitly: a build/ configured by hand with them OFF keeps that in its cache,
# and test.sh would then find no tests.
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DRAFTKV_BUILD_TESTS=ON "${extra[@]}" "$@"
build_args=()
for target in "${targets[@]}"; do build_args+=(--target "$target"); done
cmake --build "$dir" -j "$(nproc)" "${build_args[@]}"
