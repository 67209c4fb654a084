// One simulated server: a RaftCore, its durable disk (MemoryStorage plus a snapshot staging
// area) and its volatile state machine. The node is the host side of raft::BatchIo, doing what
// stress_node will do with RocksDB; every batch goes through raft::execute_ready, so the
// ordering rule under test is the production one.
//
// Crash model. Durable: the storage and the staging area. Volatile: the core and the state
// machine (rebuilt from the storage's snapshot on restart). A crash happens either between
// events (crash()) or inside a batch, at one of three points: during persist (the batch's writes
// are lost atomically, as with an unsynced RocksDB WriteBatch; the leader's replication
// messages, sent before persist, are already on their way), after persist (the other messages
// are never sent) or after send (nothing is applied). After a crash inside a batch every later
// BatchIo call of that execute_ready is ignored and the core is discarded.
//
// Unsynced writes. A batch that need not sync (Ready::must_sync false: only the commit index
// changed) is written like the others but not synced: at a crash it is lost with probability
// unsynced_loss_probability, unless a later synced write (a synced batch, a snapshot) made it
// durable, as a later fsync of one RocksDB WAL does.
//
// Persist time. A batch that must sync takes a random time in [0, persist_delay_ticks_max]:
// the messages sent after persist (votes, acknowledgements) leave that much later, while the
// leader's replication messages, sent before persist, race ahead of the write.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "raft/batch.h"
#include "raft/memory_storage.h"
#include "raft/raft_core.h"
#include "sim/checker.h"
#include "sim/network.h"
#include "sim/rng.h"
#include "sim/state_machine.h"
#include "sim/trace.h"

namespace sim {

enum class CrashPoint : uint8_t { kNone, kDuringPersist, kAfterPersist, kAfterSend };
const char* to_string(CrashPoint point);

// Deliberately wrong host behaviour, only to prove that the checker catches what it claims to
// (a check that cannot fail is worthless). Never set outside tests.
enum class InjectedBug : uint8_t {
  kNone,
  kCorruptPersistedEntry,  // node 0 persists normal entries with one payload byte flipped
  kForgetVote,             // every node "persists" hard states without voted_for
  kVoteUnsynced,           // every node writes a new term or vote without syncing it
};

// Everything a node shares with its cluster. Pointers are owned by the cluster and outlive it.
struct NodeContext {
  Network* network = nullptr;
  Checker* checker = nullptr;  // null: no invariant checks (benchmarks)
  Trace* trace = nullptr;
  const Tick* now = nullptr;
  InjectedBug bug = InjectedBug::kNone;
};

struct NodeStats {
  uint64_t crashes = 0;
  uint64_t snapshots_created = 0;
  uint64_t snapshots_installed = 0;
  uint64_t snapshots_forced = 0;       // leader: operator-forced sends started
  uint64_t snapshots_reinstalled = 0;  // follower: forced installs at or below its commit index
  uint64_t batches = 0;
  uint64_t reads_ok = 0;
};

class SimNode final : public raft::BatchIo {
 public:
  // A core that keeps producing batches this long within one input is stuck in a loop.
  static constexpr int kBatchesPerInputMax = 100000;

  SimNode(raft::NodeId id, NodeContext context, Rng disk_rng);

  // Starts a new incarnation from what the disk holds. `config.id`, `applied_index` and
  // `seed` are filled in here.
  void boot(raft::Config config, uint64_t core_seed);
  // A crash between events: the core and the state machine are gone, the disk stays.
  void crash();
  [[nodiscard]] bool alive() const { return core_.has_value(); }
  [[nodiscard]] uint64_t incarnation() const { return incarnation_; }

  // Inputs. Each one executes every batch it causes, so that at the end of an event the disk
  // reflects the core (unless the node crashed on the way).
  void tick();
  void step(const raft::Message& message);
  // Proposals handed to the core before its batch is executed, as a host's event loop does with
  // the requests that arrived during one iteration: they travel in one Append.
  std::vector<raft::ProposeResult> propose_many(std::vector<raft::Payload> data);
  raft::Status read_index(uint64_t request_id);
  raft::Status transfer_leadership(raft::NodeId to);
  void campaign();

  // Host-driven compaction: snapshot the state machine once it is more than `threshold_entries`
  // past the last snapshot, keeping `keep_entries` entries for slow followers.
  void maybe_snapshot(uint64_t threshold_entries, uint64_t keep_entries);
  // The operator's force-resync on a leader (stress_node's RaftNode::force_resync): snapshot
  // the state machine now (keeping `keep_entries`), then stream it to `to` as a forced
  // snapshot. No-op on a node that is down or does not lead.
  void force_snapshot(raft::NodeId to, uint64_t keep_entries);
  // Probability that a batch which must sync crashes the node at a random crash point.
  void set_crash_in_batch_probability(double p) { crash_in_batch_probability_ = p; }
  // Crashes the node at `point` of the next batch that must sync (tests).
  void crash_at_next_sync(CrashPoint point) { forced_crash_point_ = point; }
  // Probability that a crash loses the writes made since the last sync.
  void set_unsynced_loss_probability(double p) { unsynced_loss_probability_ = p; }
  // Upper bound of the time a synced batch takes (see above).
  void set_persist_delay_ticks_max(Tick ticks) { persist_delay_ticks_max_ = ticks; }

  [[nodiscard]] raft::NodeId id() const { return id_; }
  [[nodiscard]] const raft::RaftCore& core() const { return *core_; }
  [[nodiscard]] const raft::MemoryStorage& storage() const { return storage_; }
  [[nodiscard]] const StateMachine& state_machine() const { return state_machine_; }
  [[nodiscard]] const NodeStats& stats() const { return stats_; }
  [[nodiscard]] NodeView view() const;

 private:
  void run_ready();
  void report(const char* property, std::string description);
  void pick_crash_point(const raft::Ready& ready);
  bool stage_chunk(const raft::SnapshotChunk& chunk);
  bool install_staged(const raft::SnapshotMeta& meta);
  void append_entries(const std::vector<raft::Entry>& entries);
  void write_entries(const std::vector<raft::Entry>& entries);
  void write_hard_state(const raft::HardState& hs);
  // The disk forgets what was written since the last sync (at a crash, maybe).
  void lose_unsynced_writes();
  void mark_synced() { synced_hard_state_ = storage_.hard_state(); }

  // raft::BatchIo
  void persist(const raft::Ready& ready) override;
  void send(std::vector<raft::Message>&& messages) override;
  void apply(const raft::Ready& ready) override;
  void reads(std::vector<raft::ReadState>&& reads) override;
  void soft_state_changed(const raft::SoftState& soft) override;

  const raft::NodeId id_;
  NodeContext context_;
  Rng disk_rng_;
  double crash_in_batch_probability_ = 0;
  double unsynced_loss_probability_ = 0;
  Tick persist_delay_ticks_max_ = 0;

  // Durable.
  raft::MemoryStorage storage_;
  std::string staging_;            // body of the snapshot being received
  raft::Index staging_index_ = 0;  // which snapshot staging_ belongs to
  // The hard state as of the last sync; storage_'s may be ahead by unsynced writes.
  raft::HardState synced_hard_state_;

  // Volatile.
  std::optional<raft::RaftCore> core_;
  StateMachine state_machine_;
  uint64_t incarnation_ = 0;
  CrashPoint crash_point_ = CrashPoint::kNone;  // armed for the batch being executed
  CrashPoint forced_crash_point_ = CrashPoint::kNone;
  bool dying_ = false;  // crashed inside the current execute_ready
  // Set by persist() for the batch being executed: how much later its post-persist messages
  // leave (nullopt: nothing persisted yet in this batch, messages leave now).
  std::optional<Tick> post_persist_delay_;

  NodeStats stats_;
};

}  // namespace sim
