#include "sim/checker.h"

#include <algorithm>
#include <sstream>
#include <utility>

#include "sim/hash.h"
#include "sim/state_machine.h"
#include "sim/str.h"

namespace sim {
namespace {

uint64_t payload_hash(const raft::Entry& e) { return hash_bytes(e.data.view()); }

std::string describe(const std::vector<raft::Entry>& entries) {
  std::ostringstream s;
  s << entries.size() << " entries:";
  for (size_t k = 0; k < entries.size() && k < 8; ++k) {
    s << ' ' << entries[k].index << '/' << entries[k].term;
  }
  if (entries.size() > 8) s << " ...";
  return s.str();
}

}  // namespace

Checker::Checker(size_t node_count)
    : nodes_(node_count), log_(1), committed_term_(1), applied_(1) {}

void Checker::fail(std::string property, std::string description) {
  if (failed()) return;
  violation_.property = std::move(property);
  violation_.description = std::move(description);
}

bool Checker::index_in_bounds(raft::Index index, const char* what) {
  if (index <= kIndexMax) return true;
  fail("Bound", str(what, " at index ", index, " beyond the simulator's bound ", kIndexMax));
  return false;
}

// --- persistence -------------------------------------------------------------------------

void Checker::on_entries_persisted(raft::NodeId node, const raft::Storage& storage,
                                   const std::vector<raft::Entry>& entries) {
  for (const raft::Entry& e : entries) {
    if (failed()) return;
    // Entries under the snapshot are skipped by append(): nothing was written for them.
    if (e.index < storage.first_index()) continue;
    if (!index_in_bounds(e.index, "entry")) return;
    std::optional<raft::Term> stored = storage.term(e.index);
    std::optional<raft::Term> prev = storage.term(e.index - 1);
    if (stored != e.term || !prev) {
      fail("LogMatching", str("n", node, " persisted entry ", e.index, "/", e.term,
                              " but its log (", storage.first_index(), "..", storage.last_index(),
                              ") does not hold it after appending ", describe(entries)));
      return;
    }
    check_log_record(node, e, *prev);
  }
}

void Checker::check_log_record(raft::NodeId node, const raft::Entry& e, raft::Term prev_term) {
  if (log_.size() <= e.index) log_.resize(e.index + 1);
  const LogRecord mine{e.term, prev_term, e.type, payload_hash(e)};
  for (const LogRecord& r : log_[e.index]) {
    if (r.term != e.term) continue;
    if (r.prev_term != mine.prev_term || r.type != mine.type ||
        r.payload_hash != mine.payload_hash) {
      fail("LogMatching",
           str("n", node, " persisted entry ", e.index, "/", e.term, " (prev term ", prev_term,
               ", payload ", mine.payload_hash, ") but an entry with the same index and term had ",
               "prev term ", r.prev_term, ", payload ", r.payload_hash));
    }
    return;
  }
  log_[e.index].push_back(mine);
}

void Checker::on_hard_state_persisted(raft::NodeId node, const raft::HardState& before,
                                      const raft::HardState& after, const raft::Storage& storage) {
  if (after.current_term < before.current_term) {
    fail("TermMonotonic", str("n", node, " persisted current_term ", after.current_term, " over ",
                              before.current_term));
  } else if (after.commit_index < before.commit_index) {
    fail("CommitMonotonic", str("n", node, " persisted commit_index ", after.commit_index, " over ",
                                before.commit_index));
  } else if (after.current_term == before.current_term && before.voted_for != raft::kNoNode &&
             after.voted_for != before.voted_for) {
    fail("VoteChanged", str("n", node, " voted for ", before.voted_for, " then ", after.voted_for,
                            " in term ", after.current_term));
  }
  if (failed()) return;
  on_commit_known(node, after.current_term, after.commit_index, storage);
}

// A node persisted commit index `commit` while in `term`: every entry up to it is committed.
void Checker::on_commit_known(raft::NodeId node, raft::Term term, raft::Index commit,
                              const raft::Storage& storage) {
  if (commit == 0) return;
  if (!index_in_bounds(commit, "commit index")) return;
  raft::Index& known = commit_known_in_term_[term];
  known = std::max(known, commit);
  if (commit <= max_committed_) {
    std::optional<raft::Term> t = storage.term(commit);
    if (t && *t != committed_term_[commit]) {
      fail("StateMachineSafety",
           str("n", node, " claims commit of ", commit, "/", *t, " but ", commit, "/",
               committed_term_[commit], " was committed before"));
    }
    return;
  }
  committed_term_.resize(commit + 1);
  for (raft::Index i = max_committed_ + 1; i <= commit; ++i) {
    std::optional<raft::Term> t = storage.term(i);
    if (!t) {
      fail("CommitMonotonic",
           str("n", node, " persisted commit_index ", commit, " without holding entry ", i));
      return;
    }
    committed_term_[i] = *t;
  }
  max_committed_ = commit;
}

void Checker::on_snapshot_installed(raft::NodeId node, const raft::SnapshotMeta& meta) {
  if (meta.index > max_committed_ || committed_term_[meta.index] != meta.term) {
    fail("StateMachineSafety",
         str("n", node, " installed snapshot ", meta.index, "/", meta.term,
             " which is not a committed entry (highest known commit ", max_committed_, ")"));
  }
}

// --- messages ------------------------------------------------------------------------------

void Checker::on_message_sent(const raft::Message& m) {
  if (m.type != raft::MessageType::kVoteResp || m.reject) return;
  auto [it, first] = vote_granted_.emplace(std::make_pair(m.from, m.term), m.to);
  if (!first && it->second != m.to) {
    fail("SingleVote", str("n", m.from, " granted its vote in term ", m.term, " to n", it->second,
                           " and to n", m.to));
  }
}

// --- the state machine -----------------------------------------------------------------

void Checker::on_applied(raft::NodeId node, const raft::Entry& e, uint64_t digest_after) {
  if (e.index > max_committed_ || committed_term_[e.index] != e.term) {
    fail("StateMachineSafety",
         str("n", node, " applied ", e.index, "/", e.term,
             " which is not known committed (highest known commit ", max_committed_, ")"));
    return;
  }
  if (applied_.size() <= e.index) applied_.resize(e.index + 1);
  AppliedRecord& r = applied_[e.index];
  const uint64_t hash = payload_hash(e);
  if (!r.set) {
    r = AppliedRecord{true, e.term, e.type, hash, digest_after};
  } else if (r.term != e.term || r.type != e.type || r.payload_hash != hash ||
             r.digest_after != digest_after) {
    fail("StateMachineSafety",
         str("n", node, " applied ", e.index, "/", e.term, " (payload ", hash, ", digest ",
             digest_after, ") but another node applied ", e.index, "/", r.term, " (payload ",
             r.payload_hash, ", digest ", r.digest_after, ")"));
    return;
  }
  if (e.type == raft::EntryType::kNormal) check_proposal(node, e);
}

void Checker::check_proposal(raft::NodeId node, const raft::Entry& e) {
  std::optional<Command> command = decode_command(e.data.view());
  if (!command) {
    fail("StateMachineSafety", str("n", node, " applied a malformed payload at ", e.index));
    return;
  }
  auto [it, first] = applied_at_.emplace(command->proposal_id, e.index);
  if (!first && it->second != e.index) {
    fail("StateMachineSafety", str("proposal ", command->proposal_id, " applied at ", it->second,
                                   " and again at ", e.index, " (n", node, ")"));
    return;
  }
  auto placed = proposed_.find(command->proposal_id);
  if (placed == proposed_.end()) {
    fail("StateMachineSafety",
         str("n", node, " applied proposal ", command->proposal_id, " that no client proposed"));
  } else if (placed->second.index != e.index || placed->second.term != e.term) {
    fail("StateMachineSafety",
         str("proposal ", command->proposal_id, " was placed at ", placed->second.index, "/",
             placed->second.term, " but applied at ", e.index, "/", e.term));
  }
}

void Checker::on_state_restored(raft::NodeId node, raft::Index index, uint64_t digest) {
  if (index == 0) return;
  if (index >= applied_.size() || !applied_[index].set) {
    fail("StateMachineSafety",
         str("n", node, " restored a snapshot at ", index, " but no node ever applied ", index));
  } else if (applied_[index].digest_after != digest) {
    fail("StateMachineSafety", str("n", node, " restored a snapshot at ", index, " with digest ",
                                   digest, " but the applied prefix up to ", index, " has digest ",
                                   applied_[index].digest_after));
  }
}

// --- clients -------------------------------------------------------------------------------

void Checker::on_proposed(uint64_t proposal_id, raft::Index index, raft::Term term) {
  proposed_[proposal_id] = Placement{index, term};
}

void Checker::on_read_issued(uint64_t request_id) { read_floor_[request_id] = max_committed_; }

void Checker::on_read_state(raft::NodeId node, const raft::ReadState& read) {
  if (!read.ok) return;
  auto it = read_floor_.find(read.request_id);
  if (it == read_floor_.end()) {
    fail("ReadIndexSafety",
         str("n", node, " confirmed read ", read.request_id, " that no client issued"));
  } else if (read.index < it->second) {
    fail("ReadIndexSafety",
         str("n", node, " confirmed read ", read.request_id, " at index ", read.index,
             " but index ", it->second, " was already committed when the read was issued"));
  } else if (read.index > max_committed_) {
    fail("ReadIndexSafety", str("n", node, " confirmed read ", read.request_id, " at index ",
                                read.index, " beyond every known commit (", max_committed_, ")"));
  }
}

// --- per event -----------------------------------------------------------------------------

void Checker::on_boot(raft::NodeId node, const raft::HardState& persisted) {
  nodes_[node] = NodeRecord{raft::Role::kFollower, persisted.current_term, persisted.commit_index};
}

void Checker::after_event(const NodeView& view, const raft::Storage& storage) {
  if (failed()) return;
  NodeRecord& prev = nodes_[view.id];
  if (view.term < prev.term) {
    fail("TermMonotonic",
         str("n", view.id, " current_term went from ", prev.term, " to ", view.term));
    return;
  }
  if (view.commit_index < prev.commit_index) {
    fail("CommitMonotonic", str("n", view.id, " commit_index went from ", prev.commit_index, " to ",
                                view.commit_index));
    return;
  }
  const bool new_leader = view.role == raft::Role::kLeader &&
                          (prev.role != raft::Role::kLeader || prev.term != view.term);
  prev = NodeRecord{view.role, view.term, view.commit_index};
  if (new_leader) {
    check_election_safety(view.id, view.term);
    check_leader_completeness(view, storage);
  }
}

void Checker::check_election_safety(raft::NodeId node, raft::Term term) {
  auto [it, first] = leader_by_term_.emplace(term, node);
  if (!first && it->second != node) {
    fail("ElectionSafety", str("n", node, " became leader of term ", term, " but n", it->second,
                               " already led that term"));
  }
}

void Checker::check_leader_completeness(const NodeView& view, const raft::Storage& storage) {
  raft::Index required = 0;
  for (auto it = commit_known_in_term_.begin();
       it != commit_known_in_term_.end() && it->first < view.term; ++it) {
    required = std::max(required, it->second);
  }
  if (required == 0) return;
  // Compacted entries are covered by the snapshot, which must itself be at or past `required`.
  const raft::Index checked_at = std::max(required, storage.first_index() - 1);
  std::optional<raft::Term> t = storage.term(checked_at);
  if (!t || checked_at > max_committed_ || *t != committed_term_[checked_at]) {
    fail("LeaderCompleteness",
         str("n", view.id, " became leader of term ", view.term, " but its log (",
             storage.first_index(), "..", storage.last_index(), ") lacks committed entry ",
             checked_at, "/", checked_at <= max_committed_ ? committed_term_[checked_at] : 0));
  }
}

}  // namespace sim
