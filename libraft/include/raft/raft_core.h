// RaftCore: the whole consensus algorithm as a pure, single-threaded state machine.
//
// Inputs:  tick()                  one unit of logical time (the caller decides how long)
//          step(message)           a message from a peer
//          propose(bytes)          a client command (leader only)
//          read_index(request_id)  a linearizable read (§6.4; leader or follower)
//          transfer_leadership(to) hand leadership over (thesis §3.10), e.g. before shutdown
// Output:  one Ready batch at a time (has_ready/ready), executed by the caller and acknowledged
//          with advance(). See raft/batch.h for the one function that executes a batch in the
//          required order.
//
// No I/O, threads, clocks, globals or unseeded randomness: the same core runs in stress_node and
// in the deterministic simulator. Not thread-safe; the caller serializes all calls.
#pragma once

#include <array>
#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "raft/log.h"
#include "raft/message.h"
#include "raft/progress.h"
#include "raft/rand.h"
#include "raft/storage.h"
#include "raft/types.h"
#include "raft/validate.h"

namespace raft {

struct Config {
  NodeId id = kNoNode;
  // Voters for a fresh cluster; ignored when storage holds a snapshot (its conf wins). Must
  // contain `id` for the node to be able to campaign.
  std::vector<NodeId> voters;
  // The state machine's last applied index on restart (0 for a fresh one). Must lie within
  // [storage snapshot index, persisted commit_index].
  Index applied_index = 0;

  int election_timeout_ticks = 10;  // randomized per term in [t, 2t) (§5.2)
  int heartbeat_interval_ticks = 1;
  bool pre_vote = true;      // thesis §9.6: a rejoining node must not depose a healthy leader
  bool check_quorum = true;  // thesis §6.2: a leader cut off from a majority steps down

  uint64_t append_bytes_max = 1 << 20;          // entries per Append message, by size
  size_t inflight_appends_max = 256;            // pipelined Appends per follower (Replicate)
  uint64_t snapshot_chunk_bytes_max = 1 << 20;  // InstallSnapshot chunk size (§7)
  uint64_t uncommitted_bytes_max = 64 << 20;    // leader refuses proposals past this backlog
  uint64_t apply_batch_bytes_max = 4 << 20;     // committed entries handed out per Ready
  size_t pending_reads_max = 4096;              // queued ReadIndex requests on the leader; also the
                                                // follower's ReadIndex requests awaiting an answer
  uint64_t entry_bytes_max = 64 << 20;          // largest entry payload accepted from a peer

  uint64_t seed = 0;  // randomizes election timeouts; give each node its own
};

// Operating outcomes the caller must handle (bad state, not a bug). [[nodiscard]]: a dropped
// proposal that nobody checks is how writes get lost.
// (clang-format 14 mangles attributes on enums.)
// clang-format off
enum class [[nodiscard]] Status : uint8_t {
  kOk = 0,
  kNotLeader,           // only the leader accepts this; see leader() for where to go
  kNoLeader,            // no known leader to forward to (election in progress)
  kTransferInProgress,  // leadership is being handed over; retry at the new leader
  kBusy,                // a bound was hit (uncommitted bytes, pending reads); retry later
  kInvalidArgument,     // e.g. transfer to a non-voter
};
// clang-format on
const char* to_string(Status status);

struct [[nodiscard]] ProposeResult {
  Status status = Status::kOk;
  // On kOk: where the entry was placed. It is committed iff the entry applied at `index` has this
  // `term`; an entry with another term at that index means the proposal was lost (safe to retry).
  Index index = 0;
  Term term = 0;
};

// Outcome of a read_index request. ok: once the state machine has applied `index`, reading it
// is linearizable. !ok: leadership changed before the read was confirmed; retry.
struct ReadState {
  uint64_t request_id = 0;
  Index index = 0;
  bool ok = false;
};

struct SoftState {
  Role role = Role::kFollower;
  NodeId leader = kNoNode;
  Term term = 0;
  friend bool operator==(const SoftState&, const SoftState&) = default;
};

// Everything the core wants done, as one batch. The ordering contract (raft/batch.h, thesis
// §10.2.1):
//   1. A leader's replication messages (Append, Heartbeat, Snapshot: sendable_before_persist())
//      may be sent before or while the batch is persisted: they promise nothing about the
//      leader's own disk, and the leader counts itself towards a commit quorum only for entries
//      it has made durable (advance()).
//   2. Persist, atomically: snapshot_chunks (staging), snapshot (install), entries, hard_state.
//      Sync iff must_sync(): entries, snapshots and a new term or vote must be durable before
//      anything that promises them is sent (§5.1); a hard state whose only change is the commit
//      index may be written unsynced (a commit index lost in a crash is learnt again).
//   3. Then send the other messages: votes and acknowledgements promise what step 2 made
//      durable.
//   4. Then apply committed_entries in order: committed (durable on a majority) and durable
//      here, since every entry the core handed out before is persisted by now.
//   5. Hand out read_states once the state machine has applied their index.
//   6. advance(ready).
struct Ready {
  std::optional<SoftState> soft_state;  // set when role, leader or term changed
  std::optional<HardState> hard_state;  // set when it changed
  // The hard state's term or vote changed (not only its commit index): it must be synced.
  bool hard_state_must_sync = false;
  std::vector<Entry> entries;  // append; may overwrite from entries[0].index onward
  std::vector<SnapshotChunk> snapshot_chunks;
  std::optional<SnapshotMeta> snapshot;  // install the staged snapshot with this meta
  std::vector<Entry> committed_entries;
  std::vector<Message> messages;
  std::vector<ReadState> read_states;

  // What must be durable (synced) before the messages of step 3 are sent.
  [[nodiscard]] bool must_sync() const {
    return hard_state_must_sync || !entries.empty() || !snapshot_chunks.empty() ||
           snapshot.has_value();
  }
  // Anything to write at all (a commit-index-only hard state is written, unsynced).
  [[nodiscard]] bool must_persist() const { return must_sync() || hard_state.has_value(); }
};

// Messages only a leader sends and that promise nothing about its own durable state: the
// entries they carry are the leader's proposals, and nobody counts them committed until a
// quorum has made them durable. They may leave before the batch that holds them is persisted.
[[nodiscard]] bool sendable_before_persist(const Message& m);

// Per-follower replication progress, for /_raft/sync-status.
struct FollowerStatus {
  NodeId id = kNoNode;
  Index match_index = 0;
  Index next_index = 0;
  ProgressState state = ProgressState::kProbe;
  bool recent_active = false;
  size_t inflight_appends = 0;
  Index snapshot_index = 0;      // snapshot being sent, 0 if none
  uint64_t snapshot_offset = 0;  // bytes of it acknowledged
};

struct CoreStatus {
  NodeId id = kNoNode;
  SoftState soft;
  HardState hard;
  Index applied_index = 0;
  Index first_index = 0;
  Index last_index = 0;
  NodeId transferee = kNoNode;
  std::vector<FollowerStatus> followers;  // leader only, ascending id
};

// Counters for metrics; monotonic over the core's lifetime.
struct CoreCounters {
  uint64_t elections_started = 0;
  uint64_t leader_changes = 0;
  uint64_t proposals_accepted = 0;
  uint64_t proposals_dropped = 0;
  uint64_t messages_ignored = 0;  // stale term, wrong recipient, unknown sender
  uint64_t snapshots_sent = 0;
  uint64_t snapshots_installed = 0;
  uint64_t snapshots_reinstalled = 0;  // forced, at or below our commit index (send_snapshot)
  uint64_t snapshots_refused = 0;      // forced, but our log is compacted past it
  uint64_t snapshot_bytes_sent = 0;
  uint64_t snapshot_bytes_received = 0;
  // Peer messages dropped because they break a protocol rule (raft/validate.h), by Violation.
  // Never an abort: a peer is remote input.
  std::array<uint64_t, kViolationCount> messages_rejected{};
};

class RaftCore {
 public:
  // `storage` must outlive the core and reflect every batch executed so far.
  RaftCore(const Config& config, const Storage& storage);

  void tick();
  void step(const Message& message);
  ProposeResult propose(Payload data);
  Status read_index(uint64_t request_id);
  Status transfer_leadership(NodeId to);
  // Starts an election now (for tests and operators); no-op on a leader or a non-voter.
  void campaign();
  // Leader only: stream the storage's current snapshot to `to` even if the log could serve it
  // (operator-forced resync of a follower whose state is suspect). kInvalidArgument if `to` is
  // not a peer or storage holds no snapshot.
  //
  // The transfer is forced (Message::snapshot_force): the follower installs it whatever its
  // commit index. The rule on the follower, for a forced snapshot at (index, term):
  //   - index > commit: as any snapshot (§7), keeping the log after it if the log agrees.
  //   - index <= commit and the log holds (index, term), i.e. it was not compacted past index:
  //     the state machine is replaced by the snapshot (Ready::snapshot), the applied index
  //     becomes `index`, commit and the log after `index` stay, and the committed entries in
  //     (index, commit] are handed out again in the following batches (re-applied on top of
  //     the snapshot). The entries up to `index` may be compacted away.
  //   - index <= commit, log compacted past index: refused (SnapshotResp reject + last); the
  //     leader resumes appending. Nothing changes on the follower.
  // Until the follower answers the forced snapshot, the leader does not take an Append answer
  // as a reason to leave the snapshot state.
  Status send_snapshot(NodeId to);

  // Host-side snapshot verification (issue 13 bug 5). The core cannot read snapshot bodies, so
  // the host checks a received body (size, checksum, that it parses) before the last chunk
  // installs it:
  //   would_stage_snapshot_chunk(m): true iff step(m) would stage m's chunk (the same decision
  //     handle_snapshot_chunk takes, without changing anything);
  //   reject_snapshot_body(m): instead of step(m) when the body is bad: forgets the transfer,
  //     counts kSnapshotBodyInvalid and asks the sender to start over from offset 0.
  [[nodiscard]] bool would_stage_snapshot_chunk(const Message& m) const;
  void reject_snapshot_body(const Message& m);

  [[nodiscard]] bool has_ready() const;
  // The next batch. Call advance() with it before calling ready() again.
  [[nodiscard]] Ready ready();
  void advance(const Ready& ready);

  [[nodiscard]] NodeId id() const { return id_; }
  [[nodiscard]] Role role() const { return role_; }
  [[nodiscard]] NodeId leader() const { return leader_; }
  [[nodiscard]] Term term() const { return current_term_; }
  [[nodiscard]] Index commit_index() const { return log_.committed(); }
  [[nodiscard]] Index applied_index() const { return log_.applied(); }
  [[nodiscard]] Index last_index() const { return log_.last_index(); }
  [[nodiscard]] const ConfState& conf() const { return tracker_.conf(); }
  [[nodiscard]] CoreStatus status() const;
  [[nodiscard]] const CoreCounters& counters() const { return counters_; }

 private:
  // Role transitions (§5.2).
  void become_follower(Term term, NodeId leader);
  void become_pre_candidate();
  void become_candidate();
  void become_leader();
  void reset(Term term);
  void start_campaign(bool pre_vote, bool leader_transfer);

  // Dispatch on role: validation and term checks first, then the role's handler.
  bool check_term(const Message& m);
  void reject(Violation violation) {
    ++counters_.messages_rejected[static_cast<size_t>(violation)];
  }
  void handle_read_index_response(const Message& m);
  void handle_vote_request(const Message& m);
  void step_leader(const Message& m);
  void step_candidate(const Message& m);
  void step_follower(const Message& m);

  void tick_election();
  void tick_heartbeat();

  // Follower side of replication and snapshots.
  void handle_append(const Message& m);
  void handle_heartbeat(const Message& m);
  void handle_snapshot_chunk(const Message& m);

  // Leader side of replication and snapshots.
  void handle_append_response(const Message& m);
  void handle_heartbeat_response(const Message& m);
  void handle_snapshot_response(const Message& m);
  void handle_read_index_request(const Message& m);
  bool send_append(NodeId to, bool send_if_empty);
  void send_snapshot_chunk(NodeId to, Progress& pr);
  void start_snapshot(NodeId to, Progress& pr, bool forced = false);
  void broadcast_append(bool send_if_empty);
  void broadcast_heartbeat(uint64_t read_round);
  void send_heartbeat(NodeId to, uint64_t read_round);
  bool maybe_commit();
  void append_entries(std::vector<Entry>&& entries);

  // ReadIndex (§6.4).
  void release_reads();
  void queue_read(uint64_t request_id, NodeId from);
  void answer_read(uint64_t request_id, NodeId from, Index index, bool ok);
  void drop_pending_reads();
  [[nodiscard]] bool committed_in_current_term() const;

  void flush_broadcasts();
  void tick_snapshot_transfers();
  void poll_vote(NodeId from, bool granted);
  void send(Message m);
  [[nodiscard]] int quorum() const { return tracker_.quorum(); }
  [[nodiscard]] bool promotable() const { return tracker_.is_voter(id_); }
  [[nodiscard]] bool in_lease() const;
  void abort_transfer();
  void reset_randomized_election_timeout();
  [[nodiscard]] HardState hard_state() const;

  const NodeId id_;
  const Config config_;
  RaftLog log_;
  ProgressTracker tracker_;
  SplitMix64 rng_;

  Term current_term_ = 0;
  NodeId voted_for_ = kNoNode;
  Role role_ = Role::kFollower;
  NodeId leader_ = kNoNode;

  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int randomized_election_timeout_ = 0;
  std::map<NodeId, bool> votes_;

  NodeId transferee_ = kNoNode;
  int transfer_elapsed_ = 0;
  uint64_t uncommitted_bytes_ = 0;

  // ReadIndex state on the leader. A read waits for a heartbeat round started after it arrived;
  // when a quorum has echoed a round >= its round, leadership at its index is confirmed.
  struct PendingRead {
    uint64_t request_id;
    NodeId from;
    Index index;
    uint64_t round;
  };
  std::deque<PendingRead> pending_reads_;                         // ordered by round
  std::vector<std::pair<uint64_t, NodeId>> reads_before_commit_;  // before a current-term commit
  uint64_t read_round_ = 0;                                       // last round broadcast
  bool read_round_wanted_ = false;  // a read is waiting for round read_round_ + 1

  // Appends are batched: proposals and commit advances between two Ready batches are sent as
  // one Append per follower when the batch is cut (flush_broadcasts), not one per proposal.
  bool append_broadcast_wanted_ = false;
  bool commit_broadcast_wanted_ = false;

  // Follower side of an incoming snapshot transfer, identified by its whole meta (index, term,
  // voters, size, checksum) and its sender: chunks of two transfers never mix (issue 13 bug 5).
  // Volatile: a restart begins it anew.
  SnapshotMeta receiving_snapshot_;
  NodeId receiving_from_ = kNoNode;
  uint64_t receiving_offset_ = 0;

  // Follower side of ReadIndex: requests sent to a leader and not yet answered, with the term
  // each was sent in, oldest first (at most pending_reads_max; the oldest is forgotten first).
  // An answer for a request not listed, or granted in another term, is dropped (issue 14).
  std::deque<std::pair<uint64_t, Term>> reads_outstanding_;

  const MessageLimits limits_;

  // Batch under construction.
  std::vector<Message> messages_;
  std::vector<ReadState> read_states_;
  std::vector<SnapshotChunk> snapshot_chunks_;
  SoftState prev_soft_;
  HardState prev_hard_;

  CoreCounters counters_;
};

}  // namespace raft
