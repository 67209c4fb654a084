#include "sim/scenario.h"

#include <algorithm>
#include <sstream>
#include <vector>

#include "sim/cluster.h"
#include "sim/str.h"

namespace sim {
namespace {

// Bounds of one seed. Over 3,000 seeds the slowest convergence took 172 ticks (5 nodes,
// election timeouts up to 2 * 16 ticks, restarted nodes catching up by snapshot and small
// Appends); a cluster that has not converged in 1,000 fault-free ticks is stuck.
constexpr Tick kLivenessTicksMax = 1000;
// Zero-delay replies are delivered within the tick, so a core that answers every answer forever
// would spin; real traffic stays orders of magnitude below this.
constexpr size_t kDeliveriesPerTickMax = 100000;
constexpr size_t kInFlightMax = 20000;
constexpr double kBurstProbability = 0.2;  // a client proposal is a burst of 2..8 commands

// Everything random about a seed's setup, drawn from its plan stream.
struct Plan {
  size_t node_count = 3;
  raft::Config config;
  NetworkFaults faults;
  double partition_change_probability = 0;  // per tick
  double crash_probability = 0;             // per tick: one live node crashes between events
  double crash_in_batch_probability = 0;    // per node, per batch that must sync
  Tick downtime_ticks_max = 0;
  size_t clients = 1;
  double propose_probability = 0;  // per client per tick
  double read_probability = 0;     // per tick
  double transfer_probability = 0;
  double campaign_probability = 0;
  uint64_t snapshot_threshold_entries = 0;
  uint64_t snapshot_keep_entries_max = 0;
  Tick safety_ticks = 0;
  double forced_snapshot_probability = 0;  // per tick: the operator forces a resync
  double unsynced_loss_probability = 0;    // per crash: the writes since the last sync are lost
  Tick persist_delay_ticks_max = 0;        // a synced batch takes up to this long
};

template <typename T, size_t N>
T pick(Rng& rng, const T (&choices)[N]) {
  return choices[rng.below(N)];
}

Plan make_plan(uint64_t seed) {
  Rng rng = Rng::stream(seed, Stream::kPlan);
  Plan p;
  p.node_count = rng.chance(0.5) ? 3 : 5;
  raft::Config& c = p.config;
  c.election_timeout_ticks = static_cast<int>(rng.range(8, 16));
  c.heartbeat_interval_ticks = static_cast<int>(rng.range(1, 3));
  c.pre_vote = rng.chance(0.85);
  c.check_quorum = rng.chance(0.85);
  // Small bounds on some seeds, so that batching, pipelining and flow control are exercised.
  c.append_bytes_max =
      pick(rng, {uint64_t{200}, uint64_t{1000}, uint64_t{8192}, uint64_t{1} << 20});
  c.inflight_appends_max = pick(rng, {size_t{1}, size_t{2}, size_t{4}, size_t{32}, size_t{256}});
  c.snapshot_chunk_bytes_max = rng.range(64, 256);  // a 272-byte snapshot spans 2..5 chunks
  c.uncommitted_bytes_max = rng.chance(0.2) ? rng.range(500, 4000) : uint64_t{64} << 20;
  c.apply_batch_bytes_max = rng.chance(0.3) ? rng.range(100, 1000) : uint64_t{4} << 20;
  c.pending_reads_max = rng.chance(0.2) ? rng.range(1, 8) : 4096;

  p.faults.drop_probability = rng.chance(0.2) ? 0 : rng.uniform(0, 0.15);
  p.faults.duplicate_probability = rng.chance(0.3) ? 0 : rng.uniform(0, 0.05);
  p.faults.delay_ticks_max = rng.range(0, static_cast<uint64_t>(c.election_timeout_ticks) / 4);
  p.partition_change_probability = rng.uniform(0.001, 0.01);
  p.crash_probability = rng.chance(0.2) ? 0 : rng.uniform(0.0005, 0.004);
  p.crash_in_batch_probability = rng.chance(0.3) ? 0 : rng.uniform(0.0001, 0.002);
  p.downtime_ticks_max = rng.range(20, 300);

  p.clients = rng.range(1, 4);
  p.propose_probability = rng.uniform(0.05, 0.5);
  p.read_probability = rng.uniform(0, 0.1);
  p.transfer_probability = rng.uniform(0, 0.003);
  p.campaign_probability = rng.uniform(0, 0.002);
  p.snapshot_threshold_entries = rng.range(20, 50);
  p.snapshot_keep_entries_max = rng.range(0, 10);
  p.safety_ticks = rng.range(1000, 3000);
  // Drawn last: the plans of earlier seeds keep every other value.
  p.forced_snapshot_probability = rng.chance(0.2) ? 0 : rng.uniform(0.001, 0.01);
  p.unsynced_loss_probability = rng.chance(0.2) ? 0 : rng.uniform(0.3, 1.0);
  p.persist_delay_ticks_max =
      rng.chance(0.3) ? 0 : rng.range(1, static_cast<uint64_t>(c.election_timeout_ticks) / 2);
  return p;
}

std::string describe(const Plan& p) {
  const raft::Config& c = p.config;
  std::ostringstream s;
  s << "nodes=" << p.node_count << " election_timeout_ticks=" << c.election_timeout_ticks
    << " heartbeat_interval_ticks=" << c.heartbeat_interval_ticks << " pre_vote=" << c.pre_vote
    << " check_quorum=" << c.check_quorum << " append_bytes_max=" << c.append_bytes_max
    << " inflight_appends_max=" << c.inflight_appends_max
    << " snapshot_chunk_bytes_max=" << c.snapshot_chunk_bytes_max
    << " uncommitted_bytes_max=" << c.uncommitted_bytes_max
    << " apply_batch_bytes_max=" << c.apply_batch_bytes_max
    << " pending_reads_max=" << c.pending_reads_max << " drop=" << p.faults.drop_probability
    << " duplicate=" << p.faults.duplicate_probability
    << " delay_ticks_max=" << p.faults.delay_ticks_max
    << " partition_change=" << p.partition_change_probability << " crash=" << p.crash_probability
    << " crash_in_batch=" << p.crash_in_batch_probability
    << " downtime_ticks_max=" << p.downtime_ticks_max << " clients=" << p.clients
    << " propose=" << p.propose_probability << " read=" << p.read_probability
    << " snapshot_threshold=" << p.snapshot_threshold_entries
    << " keep_max=" << p.snapshot_keep_entries_max << " safety_ticks=" << p.safety_ticks
    << " forced_snapshot=" << p.forced_snapshot_probability
    << " unsynced_loss=" << p.unsynced_loss_probability
    << " persist_delay_ticks_max=" << p.persist_delay_ticks_max;
  return s.str();
}

class Scenario {
 public:
  Scenario(uint64_t seed, const Plan& plan, const SeedOptions& options)
      : plan_(plan),
        cluster_(ClusterOptions{plan.node_count, plan.config, seed, true, kInFlightMax,
                                options.verbose, options.bug}),
        faults_rng_(Rng::stream(seed, Stream::kFaults)),
        clients_rng_(Rng::stream(seed, Stream::kClients)),
        forced_rng_(Rng::stream(seed, Stream::kForcedSnapshots)),
        restart_at_(plan.node_count, 0) {}

  SeedReport run(uint64_t seed);

 private:
  void run_safety_phase();
  bool run_liveness_phase();
  // One tick of the world: faults, restarts, node ticks, clients, deliveries, compaction.
  void step_world(bool faults_on, bool clients_on);
  void inject_faults();
  void change_partition();
  void force_snapshot();
  void schedule_restarts();
  void run_clients();
  void client_propose();
  [[nodiscard]] raft::NodeId random_live_node(Rng& rng) const;
  // The leader that every node follows in one term, or kNoNode.
  [[nodiscard]] raft::NodeId agreed_leader() const;
  [[nodiscard]] bool replicas_converged(uint64_t final_proposal_id) const;
  [[nodiscard]] std::string describe_nodes() const;

  const Plan plan_;
  Cluster cluster_;
  Rng faults_rng_;
  Rng clients_rng_;
  Rng forced_rng_;                // its own stream: the other faults of a seed stay as they were
  std::vector<Tick> restart_at_;  // 0: not scheduled
  uint64_t next_proposal_id_ = 1;
  uint64_t next_request_id_ = 1;
  Tick liveness_ticks_ = 0;
};

raft::NodeId Scenario::random_live_node(Rng& rng) const {
  std::vector<raft::NodeId> live;
  for (raft::NodeId id = 0; id < cluster_.size(); ++id) {
    if (cluster_.node(id).alive()) live.push_back(id);
  }
  return live.empty() ? raft::kNoNode : live[rng.below(live.size())];
}

void Scenario::step_world(bool faults_on, bool clients_on) {
  cluster_.advance_time();
  if (faults_on) inject_faults();
  schedule_restarts();
  cluster_.tick_all();
  if (clients_on && !cluster_.failed()) run_clients();
  if (!cluster_.failed() && cluster_.deliver_due(kDeliveriesPerTickMax) == kDeliveriesPerTickMax) {
    cluster_.checker()->fail("Bound",
                             str(kDeliveriesPerTickMax, " deliveries within tick ", cluster_.now(),
                                 ": a message storm (", describe_nodes(), ")"));
  }
  const uint64_t keep = faults_on ? faults_rng_.range(0, plan_.snapshot_keep_entries_max) : 0;
  for (raft::NodeId id = 0; id < cluster_.size(); ++id) {
    cluster_.node(id).maybe_snapshot(plan_.snapshot_threshold_entries, keep);
  }
}

void Scenario::inject_faults() {
  if (faults_rng_.chance(plan_.partition_change_probability)) change_partition();
  if (faults_rng_.chance(plan_.crash_probability)) {
    const raft::NodeId victim = random_live_node(faults_rng_);
    if (victim != raft::kNoNode) cluster_.crash(victim);
  }
  if (forced_rng_.chance(plan_.forced_snapshot_probability)) force_snapshot();
}

// The operator forces a resync of a random follower: the checker's StateMachineSafety checks
// see the follower restore the snapshot's state (on_state_restored) and re-apply its committed
// entries after it one by one (on_applied), as any replica must.
void Scenario::force_snapshot() {
  const raft::NodeId leader = cluster_.leader();
  if (leader == raft::kNoNode || cluster_.size() < 2) return;
  const raft::NodeId to = (leader + 1 + forced_rng_.below(cluster_.size() - 1)) % cluster_.size();
  cluster_.node(leader).force_snapshot(to, forced_rng_.range(0, plan_.snapshot_keep_entries_max));
}

void Scenario::change_partition() {
  Network& net = cluster_.network();
  const size_t n = cluster_.size();
  std::ostringstream what;
  switch (faults_rng_.below(4)) {
    case 0:
      net.heal_all();
      what << "heal";
      break;
    case 1: {  // symmetric split into two sides
      std::vector<bool> side(n);
      for (size_t i = 0; i < n; ++i) side[i] = faults_rng_.chance(0.5);
      net.heal_all();
      what << "split";
      for (raft::NodeId a = 0; a < n; ++a) {
        what << (a == 0 ? " " : ",") << a << (side[a] ? "L" : "R");
        for (raft::NodeId b = 0; b < n; ++b) {
          if (side[a] != side[b]) net.cut(a, b);
        }
      }
      break;
    }
    case 2: {  // asymmetric: a few one-way links go down (on top of what is already cut)
      const uint64_t links = faults_rng_.range(1, 3);
      what << "one-way";
      for (uint64_t k = 0; k < links; ++k) {
        const raft::NodeId from = faults_rng_.below(n);
        const raft::NodeId to = (from + 1 + faults_rng_.below(n - 1)) % n;
        net.cut(from, to);
        what << ' ' << from << "-x->" << to;
      }
      break;
    }
    default: {  // isolate the current leader (or anyone, if there is none)
      raft::NodeId victim = cluster_.leader();
      if (victim == raft::kNoNode) victim = faults_rng_.below(n);
      net.heal_all();
      for (raft::NodeId other = 0; other < n; ++other) {
        if (other != victim) net.cut_both(victim, other);
      }
      what << "isolate n" << victim;
      break;
    }
  }
  cluster_.trace_partition(what.str());
}

// Nodes that crashed (between events or inside a batch) come back after a random downtime.
void Scenario::schedule_restarts() {
  for (raft::NodeId id = 0; id < cluster_.size() && !cluster_.failed(); ++id) {
    if (cluster_.node(id).alive()) continue;
    if (restart_at_[id] == 0) {
      restart_at_[id] = cluster_.now() + faults_rng_.range(1, plan_.downtime_ticks_max);
    } else if (restart_at_[id] <= cluster_.now()) {
      restart_at_[id] = 0;
      cluster_.restart(id);
    }
  }
}

void Scenario::run_clients() {
  for (size_t c = 0; c < plan_.clients && !cluster_.failed(); ++c) {
    if (clients_rng_.chance(plan_.propose_probability)) client_propose();
  }
  if (clients_rng_.chance(plan_.read_probability)) {
    const raft::NodeId at = random_live_node(clients_rng_);
    if (at != raft::kNoNode) (void)cluster_.read_index(at, next_request_id_++);
  }
  if (clients_rng_.chance(plan_.transfer_probability)) {
    const raft::NodeId leader = cluster_.leader();
    const size_t n = cluster_.size();
    if (leader != raft::kNoNode) {
      (void)cluster_.transfer_leadership(leader, (leader + 1 + clients_rng_.below(n - 1)) % n);
    }
  }
  if (clients_rng_.chance(plan_.campaign_probability)) {
    const raft::NodeId at = random_live_node(clients_rng_);
    if (at != raft::kNoNode) cluster_.campaign(at);
  }
}

// A client reaches a random live node; if that one is not the leader it retries once at the
// leader it names, as a real client following a redirect would. Sometimes it sends a burst,
// which the node hands to its core before executing the batch (one Append for all).
void Scenario::client_propose() {
  const raft::NodeId first = random_live_node(clients_rng_);
  if (first == raft::kNoNode) return;
  const uint64_t count = clients_rng_.chance(kBurstProbability) ? clients_rng_.range(2, 8) : 1;
  std::vector<Command> commands;
  for (uint64_t k = 0; k < count; ++k) {
    commands.push_back(Command{next_proposal_id_++,
                               static_cast<uint8_t>(clients_rng_.below(StateMachine::kKeyCount))});
  }
  const size_t size_bytes = clients_rng_.range(kCommandHeaderBytes, 64);
  const std::vector<raft::ProposeResult> results =
      cluster_.propose_many(first, commands, size_bytes);
  if (results.front().status != raft::Status::kNotLeader || !cluster_.node(first).alive()) return;
  const raft::NodeId named = cluster_.node(first).core().leader();
  if (named == raft::kNoNode || named == first || named >= cluster_.size() ||
      !cluster_.node(named).alive()) {
    return;
  }
  (void)cluster_.propose_many(named, commands, size_bytes);
}

void Scenario::run_safety_phase() {
  cluster_.trace_phase("safety");
  cluster_.network().set_faults(plan_.faults);
  for (raft::NodeId id = 0; id < cluster_.size(); ++id) {
    cluster_.node(id).set_crash_in_batch_probability(plan_.crash_in_batch_probability);
    cluster_.node(id).set_unsynced_loss_probability(plan_.unsynced_loss_probability);
    cluster_.node(id).set_persist_delay_ticks_max(plan_.persist_delay_ticks_max);
  }
  for (Tick t = 0; t < plan_.safety_ticks && !cluster_.failed(); ++t) step_world(true, true);
}

raft::NodeId Scenario::agreed_leader() const {
  const raft::NodeId leader = cluster_.leader();
  if (leader == raft::kNoNode) return raft::kNoNode;
  const raft::Term term = cluster_.node(leader).core().term();
  for (raft::NodeId id = 0; id < cluster_.size(); ++id) {
    const SimNode& n = cluster_.node(id);
    if (!n.alive() || n.core().leader() != leader || n.core().term() != term) return raft::kNoNode;
  }
  return leader;
}

// Every replica has applied the whole log, the final proposal included, to the same state.
bool Scenario::replicas_converged(uint64_t final_proposal_id) const {
  if (!cluster_.checker()->was_applied(final_proposal_id)) return false;
  const SimNode& first = cluster_.node(0);
  for (raft::NodeId id = 0; id < cluster_.size(); ++id) {
    const SimNode& n = cluster_.node(id);
    if (!n.alive() || n.state_machine().applied_index() != n.core().last_index() ||
        n.state_machine().applied_index() != first.state_machine().applied_index()) {
      return false;
    }
  }
  return true;
}

bool Scenario::run_liveness_phase() {
  cluster_.trace_phase("liveness");
  cluster_.network().set_faults(NetworkFaults{});
  cluster_.network().heal_all();
  for (raft::NodeId id = 0; id < cluster_.size(); ++id) {
    cluster_.node(id).set_crash_in_batch_probability(0);
    cluster_.node(id).set_persist_delay_ticks_max(0);
    restart_at_[id] = 0;
    if (!cluster_.node(id).alive()) cluster_.restart(id);
  }
  const Tick start = cluster_.now();
  uint64_t final_id = 0;
  raft::Term final_term = 0;
  while (cluster_.now() - start < kLivenessTicksMax && !cluster_.failed()) {
    step_world(false, false);
    const raft::NodeId leader = agreed_leader();
    if (leader == raft::kNoNode) continue;
    // (Re)propose the final entry under the current leader; one proposed under an older leader
    // may have been lost with its term.
    if (final_id == 0 || final_term != cluster_.node(leader).core().term()) {
      const Command command{next_proposal_id_++, 0};
      raft::ProposeResult r = cluster_.propose(leader, command, kCommandHeaderBytes);
      if (r.status == raft::Status::kOk) {
        final_id = command.proposal_id;
        final_term = r.term;
      }
      continue;
    }
    if (!replicas_converged(final_id)) continue;
    const uint64_t digest = cluster_.node(0).state_machine().digest();
    for (raft::NodeId id = 1; id < cluster_.size(); ++id) {
      if (cluster_.node(id).state_machine().digest() != digest) {
        cluster_.checker()->fail(
            "StateMachineSafety",
            str("replicas applied the same index with different digests: ", describe_nodes()));
        return false;
      }
    }
    liveness_ticks_ = cluster_.now() - start;
    return true;
  }
  if (!cluster_.failed()) {
    cluster_.checker()->fail("Liveness", str("no convergence within ", kLivenessTicksMax,
                                             " fault-free ticks: ", describe_nodes()));
  }
  return false;
}

std::string Scenario::describe_nodes() const {
  std::ostringstream s;
  for (raft::NodeId id = 0; id < cluster_.size(); ++id) {
    const SimNode& n = cluster_.node(id);
    s << (id == 0 ? "" : "; ") << 'n' << id;
    if (!n.alive()) {
      s << " down";
      continue;
    }
    const raft::RaftCore& core = n.core();
    s << ' ' << raft::to_string(core.role()) << " term=" << core.term() << " leader=";
    if (core.leader() == raft::kNoNode) {
      s << '-';
    } else {
      s << core.leader();
    }
    s << " commit=" << core.commit_index() << " applied=" << n.state_machine().applied_index()
      << " last=" << core.last_index() << " snapshot=" << n.storage().snapshot_meta().index;
  }
  return s.str();
}

SeedReport Scenario::run(uint64_t seed) {
  run_safety_phase();
  if (!cluster_.failed()) run_liveness_phase();
  SeedReport report;
  report.seed = seed;
  Checker& checker = *cluster_.checker();
  report.ok = !checker.failed();
  report.property = checker.violation().property;
  report.description = checker.violation().description;
  report.ticks = cluster_.now();
  report.messages = cluster_.network().stats().delivered;
  report.elections = checker.leaders_elected();
  report.commits = checker.max_committed();
  const NodeStats stats = cluster_.node_stats();
  report.snapshots_installed = stats.snapshots_installed;
  report.snapshots_forced = stats.snapshots_forced;
  report.snapshots_reinstalled = stats.snapshots_reinstalled;
  report.crashes = stats.crashes;
  report.liveness_ticks = liveness_ticks_;
  report.trace_hash = cluster_.trace().hash();
  return report;
}

}  // namespace

std::string replay_command(uint64_t seed) { return str("raft_sim --seed ", seed, " --verbose"); }

SeedReport run_seed(uint64_t seed, const SeedOptions& options) {
  const Plan plan = make_plan(seed);
  if (options.verbose != nullptr)
    *options.verbose << "seed " << seed << ": " << describe(plan) << '\n';
  Scenario scenario(seed, plan, options);
  return scenario.run(seed);
}

}  // namespace sim
