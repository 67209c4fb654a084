// Committed proposals per second through a 3-node in-memory cluster, driven by the simulator's
// delivery loop (tests/sim) with no faults and zero network delay, 128-byte payloads. Measures
// the consensus core plus in-memory storage and the simulated host, not a disk or a network.
//
//   build/benchmarks/raft_bench
//
// items_per_second = entries committed (applied on the leader) per second.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "sim/cluster.h"

namespace {

constexpr size_t kNodes = 3;
constexpr size_t kPayloadBytes = 128;
constexpr size_t kDeliveriesMax = size_t{1} << 30;  // drain everything: zero delay, no faults
// Compact well before memory matters but rarely enough not to show up in the figures.
constexpr uint64_t kSnapshotThresholdEntries = 50000;

sim::ClusterOptions bench_options() {
  sim::ClusterOptions options;
  options.node_count = kNodes;
  options.seed = 1;
  options.check_invariants = false;  // measure the core, not the checker
  options.in_flight_max = size_t{1} << 20;
  return options;
}

raft::NodeId elect_node_zero(sim::Cluster& cluster) {
  cluster.campaign(0);
  cluster.deliver_due(kDeliveriesMax);
  for (int t = 0; t < 1000 && cluster.leader() == raft::kNoNode; ++t) {
    cluster.run_tick(kDeliveriesMax);
  }
  return cluster.leader();
}

// Proposes `in_flight` entries at the leader, `group` at a time (each group handed to the core
// together, as an event loop does with the requests of one iteration, so it leaves in one
// Append and several groups are pipelined), then runs the delivery loop until the leader has
// applied them all. in_flight == 1 is one proposal in flight at a time.
void commit_batches(benchmark::State& state, size_t in_flight, size_t group) {
  sim::Cluster cluster(bench_options());
  const raft::NodeId leader = elect_node_zero(cluster);
  if (leader == raft::kNoNode) {
    state.SkipWithError("no leader elected");
    return;
  }
  sim::SimNode& node = cluster.node(leader);
  uint64_t proposal_id = 1;
  uint64_t committed = 0;
  std::vector<sim::Command> commands(group);
  for (auto _ : state) {
    const raft::Index applied_before = node.state_machine().applied_index();
    raft::Index last = 0;
    for (size_t sent = 0; sent < in_flight; sent += group) {
      for (size_t k = 0; k < group; ++k) {
        commands[k] = sim::Command{proposal_id++, static_cast<uint8_t>(k % 32)};
      }
      const std::vector<raft::ProposeResult> results =
          cluster.propose_many(leader, commands, kPayloadBytes);
      if (results.back().status != raft::Status::kOk) {
        state.SkipWithError(raft::to_string(results.back().status));
        return;
      }
      last = results.back().index;
    }
    cluster.deliver_due(kDeliveriesMax);
    if (node.state_machine().applied_index() < last) {
      state.SkipWithError("proposals did not commit");
      return;
    }
    committed += node.state_machine().applied_index() - applied_before;
    for (raft::NodeId id = 0; id < kNodes; ++id) {
      cluster.node(id).maybe_snapshot(kSnapshotThresholdEntries, 0);
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(committed));
  state.counters["messages"] = benchmark::Counter(
      static_cast<double>(cluster.network().stats().delivered), benchmark::Counter::kIsRate);
}

void BM_CommitOneInFlight(benchmark::State& state) { commit_batches(state, 1, 1); }
BENCHMARK(BM_CommitOneInFlight);

// Args: proposals in flight, proposals per event-loop iteration.
void BM_CommitManyInFlight(benchmark::State& state) {
  commit_batches(state, static_cast<size_t>(state.range(0)), static_cast<size_t>(state.range(1)));
}
BENCHMARK(BM_CommitManyInFlight)
    ->ArgNames({"in_flight", "group"})
    ->Args({64, 64})
    ->Args({256, 64})
    ->Args({1024, 64})
    ->Args({1024, 1024});

}  // namespace

BENCHMARK_MAIN();
