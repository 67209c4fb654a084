#include "sim/cluster.h"

#include <numeric>
#include <string>

#include "raft/assert.h"
#include "sim/str.h"

namespace sim {

Cluster::Cluster(const ClusterOptions& options)
    : options_(options),
      trace_(options.verbose),
      checker_(options.check_invariants ? std::make_unique<Checker>(options.node_count) : nullptr),
      network_(options.node_count, Rng::stream(options.seed, Stream::kNetwork),
               options.in_flight_max),
      core_seeds_(Rng::stream(options.seed, Stream::kCoreSeeds)) {
  RAFT_ASSERT(options.node_count > 0, "a cluster needs nodes");
  // Ids 0..n-1: 0 is a valid node id (raft::kNoNode is the largest value), so exercise it.
  options_.config.voters.resize(options.node_count);
  std::iota(options_.config.voters.begin(), options_.config.voters.end(), raft::NodeId{0});
  const NodeContext context{&network_, checker_.get(), &trace_, &now_, options.bug};
  for (raft::NodeId id = 0; id < options.node_count; ++id) {
    nodes_.push_back(
        std::make_unique<SimNode>(id, context, Rng::stream(options.seed, Stream::kDisk, id)));
  }
  for (raft::NodeId id = 0; id < options.node_count; ++id) restart(id);
}

void Cluster::after_event(raft::NodeId id) {
  if (!checker_ || !nodes_[id]->alive()) return;
  checker_->after_event(nodes_[id]->view(), nodes_[id]->storage());
}

void Cluster::tick(raft::NodeId id) {
  trace_.event(now_, EventKind::kTick, id);
  nodes_[id]->tick();
  after_event(id);
}

void Cluster::tick_all() {
  for (raft::NodeId id = 0; id < nodes_.size() && !failed(); ++id) {
    if (nodes_[id]->alive()) tick(id);
  }
}

void Cluster::run_tick(size_t deliveries_max) {
  advance_time();
  tick_all();
  if (!failed()) deliver_due(deliveries_max);
}

size_t Cluster::deliver_due(size_t deliveries_max) {
  size_t delivered = 0;
  while (delivered < deliveries_max && !failed()) {
    std::optional<raft::Message> message = network_.next_due(now_);
    if (!message) break;
    ++delivered;
    deliver(std::move(*message));
  }
  return delivered;
}

void Cluster::deliver(raft::Message&& m) {
  const bool deliverable = m.to < nodes_.size() && nodes_[m.to]->alive();
  trace_.event(now_, deliverable ? EventKind::kDeliver : EventKind::kDrop, m.to,
               static_cast<uint64_t>(m.type), hash_combine(m.term, m.index),
               [&] { return describe(m); });
  if (!deliverable) return;
  nodes_[m.to]->step(m);
  after_event(m.to);
}

raft::ProposeResult Cluster::propose(raft::NodeId id, const Command& command, size_t size_bytes) {
  return propose_many(id, {command}, size_bytes).front();
}

std::vector<raft::ProposeResult> Cluster::propose_many(raft::NodeId id,
                                                       const std::vector<Command>& commands,
                                                       size_t size_bytes) {
  std::vector<raft::Payload> payloads;
  payloads.reserve(commands.size());
  for (const Command& c : commands) payloads.emplace_back(encode_command(c, size_bytes));
  std::vector<raft::ProposeResult> results = nodes_[id]->propose_many(std::move(payloads));
  for (size_t k = 0; k < commands.size(); ++k) {
    const raft::ProposeResult& r = results[k];
    trace_.event(now_, EventKind::kPropose, id, commands[k].proposal_id, r.index, [&] {
      if (r.status != raft::Status::kOk) {
        return str("id=", commands[k].proposal_id, " -> ", raft::to_string(r.status));
      }
      return str("id=", commands[k].proposal_id, " -> ok at ", r.index, "/", r.term);
    });
    // A proposal cannot commit inside propose(): that takes a quorum's answers.
    if (checker_ && r.status == raft::Status::kOk) {
      checker_->on_proposed(commands[k].proposal_id, r.index, r.term);
    }
  }
  after_event(id);
  return results;
}

raft::Status Cluster::read_index(raft::NodeId id, uint64_t request_id) {
  // Registered before the call: the floor is what was committed when the client asked.
  if (checker_) checker_->on_read_issued(request_id);
  raft::Status status = nodes_[id]->read_index(request_id);
  trace_.event(now_, EventKind::kReadIndex, id, request_id, static_cast<uint64_t>(status),
               [&] { return str("req=", request_id, " -> ", raft::to_string(status)); });
  after_event(id);
  return status;
}

raft::Status Cluster::transfer_leadership(raft::NodeId at, raft::NodeId to) {
  raft::Status status = nodes_[at]->transfer_leadership(to);
  trace_.event(now_, EventKind::kTransfer, at, to, static_cast<uint64_t>(status),
               [&] { return str("to=", to, " -> ", raft::to_string(status)); });
  after_event(at);
  return status;
}

void Cluster::campaign(raft::NodeId id) {
  trace_.event(now_, EventKind::kCampaign, id);
  nodes_[id]->campaign();
  after_event(id);
}

void Cluster::crash(raft::NodeId id) { nodes_[id]->crash(); }

void Cluster::restart(raft::NodeId id) {
  nodes_[id]->boot(options_.config, core_seeds_.next());
  after_event(id);
}

void Cluster::trace_partition(const std::string& what) {
  trace_.event(now_, EventKind::kPartition, raft::kNoNode, hash_bytes(what), 0,
               [&] { return what; });
}

void Cluster::trace_phase(const char* what) {
  trace_.event(now_, EventKind::kPhase, raft::kNoNode, hash_bytes(what), 0,
               [&] { return std::string(what); });
}

raft::NodeId Cluster::leader() const {
  raft::NodeId best = raft::kNoNode;
  raft::Term best_term = 0;
  for (const auto& n : nodes_) {
    if (!n->alive() || n->core().role() != raft::Role::kLeader) continue;
    if (best == raft::kNoNode || n->core().term() > best_term) {
      best = n->id();
      best_term = n->core().term();
    }
  }
  return best;
}

NodeStats Cluster::node_stats() const {
  NodeStats sum;
  for (const auto& n : nodes_) {
    const NodeStats& s = n->stats();
    sum.crashes += s.crashes;
    sum.snapshots_created += s.snapshots_created;
    sum.snapshots_installed += s.snapshots_installed;
    sum.snapshots_forced += s.snapshots_forced;
    sum.snapshots_reinstalled += s.snapshots_reinstalled;
    sum.batches += s.batches;
    sum.reads_ok += s.reads_ok;
  }
  return sum;
}

}  // namespace sim
