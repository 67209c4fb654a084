// Safety invariants of Raft (Figure 3 of the paper and §5.4), checked after every event of a
// simulation. Every check is incremental: registries remember what was ever persisted, committed
// and applied, so an event costs O(entries it touched), not O(log), and 100,000 seeds stay cheap.
//
// Properties (names as reported):
//   ElectionSafety       at most one leader per term over the whole run (§5.2).
//   LogMatching          inductive form: every entry ever persisted with a given (index, term)
//                        carries the same payload and follows the same previous term (§5.3).
//   LeaderCompleteness   a new leader of term T holds every entry known committed in a term < T
//                        (§5.4). Checked at the newest such index; LogMatching covers the prefix.
//   StateMachineSafety   every node applies the same entry at the same index, only committed
//                        ones, each proposal at most once and where propose() said; a snapshot
//                        at index i carries the state of the applied prefix up to i (§5.4.3).
//   TermMonotonic / CommitMonotonic
//                        per node incarnation, current_term and commit_index never decrease;
//                        persisted ones never decrease across restarts either.
//   VoteChanged          a persisted vote is never replaced within the same term (§5.2).
//   SingleVote           a node grants its vote to at most one candidate per term (§5.2), as seen
//                        in the vote grants it sends (across restarts too).
//   ReadIndexSafety      a read confirmed at index i for a request issued when the highest
//                        commit index known anywhere was c has i >= c (§6.4, linearizability).
// Harness-level properties are reported by the simulator: ReadyContract (a malformed batch),
// SnapshotStaging (chunks out of order, bad size or checksum), Bound (a storm or runaway index),
// Liveness (no convergence once faults stop), ProcessDied (a core assertion or memory error).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "raft/raft_core.h"
#include "raft/storage.h"

namespace sim {

struct Violation {
  std::string property;
  std::string description;
};

// What the checker needs to know about a live core after an event.
struct NodeView {
  raft::NodeId id = raft::kNoNode;
  raft::Role role = raft::Role::kFollower;
  raft::Term term = 0;
  raft::Index commit_index = 0;
};

class Checker {
 public:
  // Indexes beyond this are treated as a core bug (they would also exhaust memory).
  static constexpr raft::Index kIndexMax = raft::Index{1} << 24;

  explicit Checker(size_t node_count);

  [[nodiscard]] bool failed() const { return !violation_.property.empty(); }
  [[nodiscard]] const Violation& violation() const { return violation_; }
  // Records the first violation only: later ones are usually consequences of it.
  void fail(std::string property, std::string description);

  // --- persistence (called by the node host after it wrote to its disk) ---
  void on_entries_persisted(raft::NodeId node, const raft::Storage& storage,
                            const std::vector<raft::Entry>& entries);
  void on_hard_state_persisted(raft::NodeId node, const raft::HardState& before,
                               const raft::HardState& after, const raft::Storage& storage);
  void on_snapshot_installed(raft::NodeId node, const raft::SnapshotMeta& meta);

  // --- messages, as the host hands them to the network ---
  void on_message_sent(const raft::Message& message);

  // --- the state machine ---
  void on_applied(raft::NodeId node, const raft::Entry& entry, uint64_t digest_after);
  // The state machine was replaced by a snapshot at `index` (installed, or restored on restart).
  void on_state_restored(raft::NodeId node, raft::Index index, uint64_t digest);

  // --- clients ---
  void on_proposed(uint64_t proposal_id, raft::Index index, raft::Term term);
  void on_read_issued(uint64_t request_id);
  void on_read_state(raft::NodeId node, const raft::ReadState& read);

  // --- after every event that touched a live node; and when a node (re)starts ---
  // A new incarnation may not report a term or commit index below what its disk holds.
  void on_boot(raft::NodeId node, const raft::HardState& persisted);
  void after_event(const NodeView& view, const raft::Storage& storage);

  [[nodiscard]] raft::Index max_committed() const { return max_committed_; }
  [[nodiscard]] size_t leaders_elected() const { return leader_by_term_.size(); }
  [[nodiscard]] bool was_applied(uint64_t proposal_id) const {
    return applied_at_.count(proposal_id) != 0;
  }

 private:
  struct LogRecord {
    raft::Term term;
    raft::Term prev_term;
    raft::EntryType type;
    uint64_t payload_hash;
  };
  struct AppliedRecord {
    bool set = false;
    raft::Term term = 0;
    raft::EntryType type = raft::EntryType::kNormal;
    uint64_t payload_hash = 0;
    uint64_t digest_after = 0;
  };
  struct NodeRecord {
    raft::Role role = raft::Role::kFollower;
    raft::Term term = 0;
    raft::Index commit_index = 0;
  };

  bool index_in_bounds(raft::Index index, const char* what);
  void check_log_record(raft::NodeId node, const raft::Entry& entry, raft::Term prev_term);
  void on_commit_known(raft::NodeId node, raft::Term term, raft::Index commit,
                       const raft::Storage& storage);
  void check_election_safety(raft::NodeId node, raft::Term term);
  void check_leader_completeness(const NodeView& view, const raft::Storage& storage);
  void check_proposal(raft::NodeId node, const raft::Entry& entry);

  Violation violation_;
  std::vector<NodeRecord> nodes_;
  std::map<raft::Term, raft::NodeId> leader_by_term_;
  // (voter, term) -> the candidate it granted its vote to.
  std::map<std::pair<raft::NodeId, raft::Term>, raft::NodeId> vote_granted_;
  // log_[i]: one record per distinct term ever persisted at index i (usually one or two).
  std::vector<std::vector<LogRecord>> log_;
  // committed_term_[i] for i in [1, max_committed_]: the term of the entry committed at i.
  std::vector<raft::Term> committed_term_;
  raft::Index max_committed_ = 0;
  // Highest commit index some node knew while in term T; a leader of a later term must hold it.
  std::map<raft::Term, raft::Index> commit_known_in_term_;
  std::vector<AppliedRecord> applied_;
  struct Placement {
    raft::Index index;
    raft::Term term;
  };
  std::unordered_map<uint64_t, Placement> proposed_;      // proposal_id -> where propose() put it
  std::unordered_map<uint64_t, raft::Index> applied_at_;  // proposal_id -> index first applied
  std::unordered_map<uint64_t, raft::Index> read_floor_;  // request_id -> commit known at issue
};

}  // namespace sim
