// The one test harness for libraft's unit and paper tests: an in-memory node (MemoryStorage,
// RaftCore and a BatchIo that executes batches the way a host must) and a cluster of such nodes
// joined by a deterministic, FIFO, in-process network with fault hooks.
//
// Everything here is single-threaded and deterministic: no clocks, no randomness beyond each
// core's fixed Config::seed.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "raft/batch.h"
#include "raft/memory_storage.h"
#include "raft/message.h"
#include "raft/raft_core.h"
#include "raft/types.h"

namespace raft {
// Readable gtest output for the core's value types.
void PrintTo(const Entry& e, std::ostream* os);
void PrintTo(const Message& m, std::ostream* os);
}  // namespace raft

namespace raft::test {

inline constexpr int kElectionTicks = 10;

// A config for tests: election timeout 10 ticks, heartbeat every tick, and the plain §5
// algorithm (no PreVote, no CheckQuorum) unless a test turns those on. The seed is fixed per
// node id so that runs are reproducible and nodes time out at different ticks.
Config test_config(NodeId id, std::vector<NodeId> voters);
uint64_t test_seed(NodeId id);

// Voters 1..n.
std::vector<NodeId> voter_ids(size_t n);

// prefix + decimal n. (g++ 12 warns falsely, -Wrestrict, on "literal" + std::to_string(n).)
std::string numbered(std::string_view prefix, uint64_t n);
// Consecutive entries starting at `first` with the given terms; data is "e<index>".
std::vector<Entry> make_entries(Index first, const std::vector<Term>& terms);
Message make_msg(MessageType type, NodeId from, NodeId to, Term term);
// An Append from `from` at `term` carrying `entries` after (prev_index, prev_term).
Message make_append(NodeId from, NodeId to, Term term, Index prev_index, Term prev_term,
                    std::vector<Entry> entries, Index commit);
// A Vote or PreVote request for a candidate whose last entry is (last_index, last_term).
Message make_vote(MessageType type, NodeId from, NodeId to, Term term, Index last_index,
                  Term last_term);
// The successful AppendResp a follower would send for `append` (etcd's acceptAndReply).
Message accept_append(const Message& append);
std::vector<Message> of_type(const std::vector<Message>& messages, MessageType type);
std::vector<Message> of_type_to(const std::vector<Message>& messages, MessageType type, NodeId to);
// Every entry in storage, first_index()..last_index().
std::vector<Entry> stored_log(const MemoryStorage& storage);
// The terms of stored_log(storage), for compact comparisons.
std::vector<Term> stored_terms(const MemoryStorage& storage);

// The test state machine is the list of payloads of applied normal entries; a snapshot body is
// that list, length-prefixed.
std::string encode_state(const std::vector<std::string>& state);
std::vector<std::string> decode_state(const std::string& body);

// One node: storage that survives restarts, a core, and a state machine. As a BatchIo it does
// what a host does: stages snapshot chunks, installs snapshots, appends entries, sets the hard
// state (persist), queues messages (send), applies committed entries (apply) and collects
// reads. send() also checks the ordering rule: every message it is handed may only promise what
// storage already holds (a granted vote is persisted, a successful AppendResp's entries are
// stored, the term is persisted).
class TestNode final : public BatchIo {
 public:
  explicit TestNode(Config config);

  // Replaces storage with one holding `log` and `hard_state` (a node that ran before) and starts
  // a fresh core and state machine over it.
  void load(const std::vector<Entry>& log, const HardState& hard_state);
  // Crash and restart: storage survives; the state machine survives iff keep_state_machine,
  // otherwise it restarts from the storage's snapshot. Config::applied_index tells the new core
  // where the state machine is.
  void restart(bool keep_state_machine = true);

  [[nodiscard]] RaftCore& core() { return *core_; }
  [[nodiscard]] const RaftCore& core() const { return *core_; }
  [[nodiscard]] MemoryStorage& storage() { return *storage_; }
  [[nodiscard]] const Config& config() const { return config_; }
  [[nodiscard]] NodeId id() const { return config_.id; }

  // Executes batches until the core has nothing more to do. Returns the number executed.
  int run();
  // core().step(m), then run().
  void step(const Message& m);
  // core().tick() `ticks` times, running after each.
  void tick(int ticks = 1);
  // Messages handed to send() since the last call.
  std::vector<Message> take_sent();

  // The host's snapshot of its state machine at its applied index (what stress_node does before
  // compacting). Returns that index.
  Index take_snapshot(uint64_t keep_entries = 0);

  [[nodiscard]] const std::vector<std::string>& state() const { return state_; }
  [[nodiscard]] Index applied() const { return applied_; }
  // Entries applied from the log (not through a snapshot), by index.
  [[nodiscard]] const std::map<Index, Entry>& applied_entries() const { return applied_entries_; }
  // Read states handed to reads(), in order.
  std::vector<ReadState> read_states;
  // The BatchIo calls in order: "persist", "send", "apply", "reads", "soft".
  std::vector<std::string> io_calls;

  // BatchIo
  void persist(const Ready& ready) override;
  void send(std::vector<Message>&& messages) override;
  void apply(const Ready& ready) override;
  void reads(std::vector<ReadState>&& reads) override;
  void soft_state_changed(const SoftState& soft) override;

 private:
  void start_core();
  void check_send_ordering(const Message& m) const;

  Config config_;
  std::unique_ptr<MemoryStorage> storage_;
  std::unique_ptr<RaftCore> core_;
  std::string staging_;  // snapshot body being received
  std::vector<Message> outbox_;
  std::vector<std::string> state_;
  Index applied_ = 0;
  std::map<Index, Entry> applied_entries_;
};

// A fresh node `id` of voters 1..`voters` with test_config().
TestNode node_of(NodeId id, size_t voters);

// Campaigns and hands `node` the votes of every other voter (PreVote and Vote rounds as
// needed) without a network. Returns whether it became leader. Sent messages stay queued.
bool win_election(TestNode& node);
// Makes `node` a follower of `leader` at `term` by stepping a heartbeat from it.
void make_follower(TestNode& node, NodeId leader, Term term);
// Acknowledges every Append `leader` has sent so far (all followers accept), repeatedly, until
// it sends no more Appends. Commits the new leader's noop. Returns the messages it sent that
// were not Appends.
std::vector<Message> ack_all_appends(TestNode& leader);

// N nodes with ids 1..N and a network between them. Delivery is FIFO and synchronous: the
// receiver steps the message and executes its batch at once. Deterministic by construction.
class Cluster {
 public:
  using Tweak = std::function<void(Config&)>;
  // A filter sees every message before delivery; return false to drop it. It may rewrite it.
  using Filter = std::function<bool(Message&)>;

  explicit Cluster(size_t size, const Tweak& tweak = nullptr);

  [[nodiscard]] TestNode& node(NodeId id);
  [[nodiscard]] const std::vector<NodeId>& ids() const { return ids_; }

  // Network faults.
  void isolate(NodeId id);         // drop everything to and from id
  void cut(NodeId a, NodeId b);    // drop everything between a and b, both ways
  void heal();                     // undo isolate() and cut()
  void set_filter(Filter filter);  // nullptr removes it

  // Node faults. A stopped node receives nothing and does not tick; start() restarts it from
  // its storage.
  void stop(NodeId id);
  void start(NodeId id, bool keep_state_machine = true);
  [[nodiscard]] bool is_up(NodeId id) const { return up_.at(id); }

  // Runs every node's batches and delivers messages until the network is quiet. Fails the test
  // if it does not settle within a bound.
  void stabilize();
  // Ticks one node (or all running ones) `ticks` times, stabilizing after each tick.
  void tick(NodeId id, int ticks = 1);
  void tick_all(int ticks = 1);
  // Ticks every running node until pred() holds; returns false if it did not within max_ticks.
  bool tick_until(const std::function<bool()>& pred, int max_ticks);

  // Puts a message on the network (e.g. one a filter held back) and stabilizes.
  void inject(Message m);

  // campaign() on id, then stabilize.
  void campaign(NodeId id);
  // The running leader with the highest term, or kNoNode.
  [[nodiscard]] NodeId leader();
  // Propose on id, then stabilize.
  ProposeResult propose(NodeId id, const std::string& data);

  // Every message delivered (after filtering), in order. clear_trace() empties it.
  std::vector<Message> trace;
  void clear_trace() { trace.clear(); }
  [[nodiscard]] size_t count(MessageType type, NodeId from = kNoNode, NodeId to = kNoNode) const;
  [[nodiscard]] size_t count_rejects(MessageType type, NodeId from = kNoNode,
                                     NodeId to = kNoNode) const;

 private:
  bool deliverable(Message& m);
  void collect(TestNode& n);

  std::vector<NodeId> ids_;
  std::map<NodeId, std::unique_ptr<TestNode>> nodes_;
  std::map<NodeId, bool> up_;
  std::map<NodeId, bool> isolated_;
  std::vector<std::pair<NodeId, NodeId>> cuts_;
  Filter filter_;
  std::vector<Message> queue_;  // FIFO, consumed from queue_head_
  size_t queue_head_ = 0;
};

}  // namespace raft::test
