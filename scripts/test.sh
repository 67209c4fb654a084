#!/usr/bin/env bash
# One command for the whole test suite on a fresh Debian 12 machine (as root): installs the
# packages, builds (Release), runs every ctest test. Exits non-zero on any failure.
# Extra arguments go to ctest, e.g. scripts/test.sh -R unit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh
bash scripts/build.sh
# --timeout bounds each test (seconds); --no-tests=error fails a run that found nothing to run.
ctest --test-dir build --output-on-failure --no-tests=error --timeout 600 -j "$(nproc)" "$@"
