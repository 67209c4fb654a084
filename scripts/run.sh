#!/usr/bin/env bash
# One command on a fresh Debian 12 machine (as root): installs the packages, builds (Release),
# then runs a short demonstration. Until stress_node exists that is the deterministic cluster
# simulator running the real consensus core; later issues make it start a cluster.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh
bash scripts/build.sh

sim=build/tests/raft_sim
seeds=200
demo_seed=1

echo
echo "== $sim --seeds $seeds --start 0"
echo "   $seeds simulated 3- or 5-node clusters, each from its own seed: a network that drops,"
echo "   duplicates, delays and partitions, crashes that lose unsynced writes, restarts. The Raft"
echo "   safety properties are checked after every event; each run ends with a liveness phase."
"$sim" --seeds "$seeds" --start 0

echo
echo "== $sim --seed $demo_seed --verbose, milestones only"
echo "   (cluster config, phases, faults, leader changes, transfers; the full trace has"
echo "   every tick, message, proposal and snapshot)"
trace=$(mktemp)
trap 'rm -f "$trace"' EXIT
"$sim" --seed "$demo_seed" --verbose >"$trace"
{ grep -E '^seed |^t=[0-9]+ ([A-Z]+|transfer) |^t=[0-9]+ soft_state .* leader ' \
    "$trace" || true; } | head -n 40
tail -n 1 "$trace"
echo "   full trace: $(wc -l <"$trace") lines; replay it with: $sim --seed $demo_seed --verbose"
