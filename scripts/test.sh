#!/usr/bin/env bash
# One command for the whole test suite on a fresh Debian 12 machine (as root): installs the
# packages, builds (Release), runs every ctest test, then the sanitizer and fuzz smoke tests.
# Exits non-zero on any failure.
# Extra arguments go to ctest, e.g. scripts/test.sh -R unit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh
bash scripts/build.sh
# --timeout bounds each test (seconds); --no-tests=error fails a run that found nothing to run.
ctest --test-dir build --output-on-failure --no-tests=error --timeout 600 -j "$(nproc)" "$@"

# AddressSanitizer + UBSan (issue 14): the unit tests, 2,000 simulator seeds and a smoke run of
# every fuzz target, in build-asan/ (scripts/sanitize-test.sh). Skipped when arguments select
# tests, or with SANITIZE=0.
if [[ $# -eq 0 && "${SANITIZE:-1}" != 0 ]]; then
  bash scripts/sanitize-test.sh asan
fi
