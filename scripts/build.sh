#!/usr/bin/env bash
# Configures (Release) and builds the whole project into build/ with every core.
# Extra arguments go to the configure step, e.g. scripts/build.sh -DRAFTKV_BUILD_BENCHMARKS=OFF.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# ccache (installed by install-deps.sh) makes rebuilds and builds in other checkouts of the same
# sources cheap; the base dir makes its cache keys independent of where the checkout lives.
if command -v ccache >/dev/null 2>&1; then
  export CMAKE_CXX_COMPILER_LAUNCHER=ccache
  export CCACHE_BASEDIR="$PWD"
fi

# Tests and benchmarks are named explicitly: a build/ configured by hand with them OFF keeps that
# in its cache, and test.sh would then find no tests.
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DRAFTKV_BUILD_TESTS=ON -DRAFTKV_BUILD_BENCHMARKS=ON \
  "$@"
cmake --build build -j "$(nproc)"
