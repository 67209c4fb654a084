// A simulated cluster: nodes, the network between them, one logical clock and the invariant
// checker. Every public mutator is one event: it touches one node (or the network) and is
// followed by the checks for that node. Used by the per-seed scenarios (scenario.h), the
// simulator's own tests and the benchmarks, which drive it with faults off and zero delay.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <ostream>
#include <vector>

#include "raft/raft_core.h"
#include "sim/checker.h"
#include "sim/network.h"
#include "sim/rng.h"
#include "sim/sim_node.h"
#include "sim/state_machine.h"
#include "sim/trace.h"

namespace sim {

struct ClusterOptions {
  size_t node_count = 3;
  // Shared by all nodes; id, applied_index and seed are set per node and incarnation.
  raft::Config config;
  uint64_t seed = 0;
  bool check_invariants = true;
  size_t in_flight_max = 100000;  // messages queued in the network
  std::ostream* verbose = nullptr;
  InjectedBug bug = InjectedBug::kNone;
};

class Cluster {
 public:
  explicit Cluster(const ClusterOptions& options);
  // Nodes keep pointers to the network, checker, trace and clock.
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  [[nodiscard]] Tick now() const { return now_; }
  void advance_time() { ++now_; }

  // --- events ---
  void tick(raft::NodeId id);
  // One tick on every live node, in id order.
  void tick_all();
  // Delivers messages due now (including those sent by the deliveries themselves with zero
  // delay), at most `deliveries_max`; the rest stay queued. Returns how many were taken from
  // the network.
  size_t deliver_due(size_t deliveries_max);
  // One tick of a fault-free world: time advances, every live node ticks, then due messages
  // are delivered (at most `deliveries_max`). The loop the tests and benchmarks drive.
  void run_tick(size_t deliveries_max);
  // Proposes `command` padded to `size_bytes` at node `id`. On kOk the checker learns where it
  // was placed, so it can verify where it is applied.
  raft::ProposeResult propose(raft::NodeId id, const Command& command, size_t size_bytes);
  // Proposes all `commands` before node `id` executes its batch (one event).
  std::vector<raft::ProposeResult> propose_many(raft::NodeId id,
                                                const std::vector<Command>& commands,
                                                size_t size_bytes);
  raft::Status read_index(raft::NodeId id, uint64_t request_id);
  raft::Status transfer_leadership(raft::NodeId at, raft::NodeId to);
  void campaign(raft::NodeId id);
  void crash(raft::NodeId id);
  void restart(raft::NodeId id);
  // A partition change (network-wide event); `what` is for the trace.
  void trace_partition(const std::string& what);
  void trace_phase(const char* what);

  // --- observation ---
  [[nodiscard]] size_t size() const { return nodes_.size(); }
  [[nodiscard]] SimNode& node(raft::NodeId id) { return *nodes_[id]; }
  [[nodiscard]] const SimNode& node(raft::NodeId id) const { return *nodes_[id]; }
  // The live node that is leader in the highest term, or kNoNode.
  [[nodiscard]] raft::NodeId leader() const;
  [[nodiscard]] Network& network() { return network_; }
  // Null when invariants are not checked.
  [[nodiscard]] Checker* checker() { return checker_.get(); }
  [[nodiscard]] const Checker* checker() const { return checker_.get(); }
  [[nodiscard]] bool failed() const { return checker_ && checker_->failed(); }
  [[nodiscard]] const Trace& trace() const { return trace_; }
  // Summed over nodes.
  [[nodiscard]] NodeStats node_stats() const;

 private:
  void after_event(raft::NodeId id);
  void deliver(raft::Message&& message);

  ClusterOptions options_;
  Tick now_ = 0;
  Trace trace_;
  std::unique_ptr<Checker> checker_;
  Network network_;
  Rng core_seeds_;
  std::vector<std::unique_ptr<SimNode>> nodes_;
};

}  // namespace sim
