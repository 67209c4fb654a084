#!/usr/bin/env bash
# Runs the "Certificates by hand" example of docs/security.md (between the tls-example markers)
# exactly as written, in a temporary directory with stress_node on the PATH and PORT set to a
# free port, then checks what its curl commands printed: the write was acknowledged (201 with an
# id), the read by key finds it, and the peer route refused the client without a certificate.
# Every node the example starts is stopped on exit; the directory is removed unless it failed.
# Usage: tests/docs/tls_example_test.sh BIN_DIR   (the directory holding stress_node)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bin_dir=${1:?usage: tls_example_test.sh BIN_DIR}
doc=$repo/docs/security.md
work=$(mktemp -d /tmp/tls_example.XXXXXX)
example=$work/example.sh
status=1

cleanup() {
  local pids
  pids=$(jobs -p)
  [[ -z $pids ]] || kill -TERM $pids 2>/dev/null || true
  for pid in $pids; do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  if ((status == 0)); then rm -rf "$work"; else echo "tls_example: kept $work" >&2; tail -n 5 "$work"/node-*.out >&2 || true; fi
}
trap cleanup EXIT

sed -n '/<!-- tls-example:begin -->/,/<!-- tls-example:end -->/p' "$doc" |
  sed '/^<!--/d; /^```/d' >"$example"
[[ -s $example ]] || { echo "tls_example: no example between the markers in $doc" >&2; exit 1; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Below the kernel's ephemeral range: a port there that is free now can still be taken by the
# source port of any outgoing connection before the node listens (this test failed so, with
# "Address already in use", while other tests ran beside it).
read -r ephemeral_low _ </proc/sys/net/ipv4/ip_local_port_range
PORT=
for _ in $(seq 50); do
  p=$((20000 + RANDOM % (ephemeral_low - 20003)))
  if port_free "$p" && port_free $((p + 1)) && port_free $((p + 2)); then PORT=$p; break; fi
done
[[ -n $PORT ]] || { echo "tls_example: no 3 free ports found" >&2; exit 1; }
echo "tls_example: PORT=$PORT, work dir $work"

cd "$work"
export PATH=$bin_dir:$PATH PORT
# Sourced in this shell, not in a $(...) subshell, so that the nodes it starts are this shell's
# jobs and cleanup stops them (a command substitution's background jobs were left running).
set +e
source "$example" >"$work/example.out" 2>&1
rc=$?
set -e
output=$(cat "$work/example.out")
echo "$output"
((rc == 0)) || { echo "tls_example: the example failed" >&2; exit 1; }

fail() { echo "tls_example: $*" >&2; exit 1; }
grep -q '"key":"greeting","value":"hello","seq":' <<<"$output" || fail "the POST was not acknowledged with the entry"
grep -q '"id":"' <<<"$output" || fail "no entry id in the answers"
[[ $(grep -o '"value":"hello"' <<<"$output" | wc -l) -ge 2 ]] || fail "the read by key did not find the entry"
grep -q '"error":"client_certificate_required"' <<<"$output" || fail "the peer route took a client without a certificate"
status=0
echo "tls_example: PASS"
