#!/usr/bin/env bash
# Installs the Debian 12 packages the project builds, tests and runs with. Idempotent: when all
# are present it prints nothing and exits 0; otherwise it runs `apt-get update` once and installs
# only the missing ones. Must run as root when something is missing.
set -euo pipefail

# The whole design card's toolchain (design.md §2, §6), so later issues rarely touch this list.
packages=(
  build-essential g++ cmake pkg-config git binutils  # compiler, build, nm/objdump (purity test)
  libgtest-dev libgmock-dev googletest               # unit, paper and simulation tests
  libbenchmark-dev                                   # benchmarks/
  libboost-dev                                       # Boost.Asio and Boost.Beast (header-only)
  nlohmann-json3-dev                                 # JSON for the HTTP API
  librocksdb-dev                                     # libkv: log, hard state, state machine
  libspdlog-dev libfmt-dev                           # logging
  libcli11-dev                                       # command lines with subcommands
  libxxhash-dev                                      # state hashes
  libjemalloc-dev                                    # stress_node's allocator (docs/benchmarks.md)
  libssl-dev                                         # OpenSSL: peer frame HMAC, admin token, secrets
  libtomlplusplus-dev                                # TOML fault schedules (bombarder inject)
  prometheus-cpp-dev                                 # /metrics: registry and text format (core)
  prometheus                                         # tests: promtool lint, a real scrape
  clang-format                                       # .clang-format
  clang-14 llvm-14                                   # sanitizer and fuzz builds; llvm-symbolizer
  libfuzzer-14-dev libclang-rt-14-dev                # libFuzzer, ASan/UBSan/TSan runtimes
  ccache                                             # cheap rebuilds (scripts/build.sh)
  nodejs npm                                         # tests/compat: toxiproxy-node-client
  redis-server redis-tools                           # proxy in front of a foreign TCP service; --system redis
  etcd-server etcd-client                            # bombarder --system etcd, cluster start --system etcd
  libhiredis-dev                                     # bombarder --system redis: hiredis, Redis's own well-kept C client (RESP)
  redis-sentinel                                     # cluster start --system redis --sentinel: Redis Sentinel's failover (issue 18)
  libssl-dev                                         # TLS (Boost.Asio SSL on OpenSSL)
  openssl curl                                       # tests: docs' by-hand certs and curl --cacert
  linux-perf                                         # benchmarks/flamegraph.sh: perf record
  python3 python3-yaml                               # tests/docs: deploy/ manifests parsed
  iproute2                                           # tests: ip netns/veth (orchestrator_netns_test)
)

missing=()
for pkg in "${packages[@]}"; do
  # NodeSource's nodejs bundles npm and conflicts with Debian's npm package: a working npm
  # command is enough.
  if [[ "$pkg" == npm ]] && command -v npm >/dev/null 2>&1; then
    continue
  fi
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  if [[ "$status" != "installed" ]]; then
    missing+=("$pkg")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing Debian packages (run as root to install): ${missing[*]}" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
