#!/usr/bin/env bash
# Configures (Release) and builds the whole project into build/ with every core.
# Extra arguments go to the configure step, e.g. scripts/build.sh -DRAFTKV_BUILD_BENCHMARKS=OFF.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Tests and benchmarks are named explicitly: a build/ configured by hand with them OFF keeps that
# in its cache, and test.sh would then find no tests.
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DRAFTKV_BUILD_TESTS=ON -DRAFTKV_BUILD_BENCHMARKS=ON \
  "$@"
cmake --build build -j "$(nproc)"
