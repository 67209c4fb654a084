// RaftLog: the log as the core sees it, stable entries (in Storage) followed by unstable ones
// (appended by the core, not yet persisted by the caller), plus commit and apply positions.
//
// Invariants (asserted): applied <= committed <= last_index(); unstable entries are contiguous
// and start right after the stable part or replace a suffix of it.
#pragma once

#include <optional>
#include <vector>

#include "raft/storage.h"
#include "raft/types.h"

namespace raft {

class RaftLog {
 public:
  explicit RaftLog(const Storage& storage);

  [[nodiscard]] Index first_index() const;
  [[nodiscard]] Index last_index() const;
  [[nodiscard]] Term last_term() const;
  // Term at `index`, or nullopt when compacted away or past the end. term(0) == 0.
  [[nodiscard]] std::optional<Term> term(Index index) const;
  [[nodiscard]] bool match_term(Index index, Term term) const;

  // §5.4.1: a candidate's log (last_term, last_index) is at least as up to date as ours.
  [[nodiscard]] bool is_up_to_date(Index last_index, Term last_term) const;

  // Follower side of AppendEntries (§5.3): if our entry at prev_index has prev_term, append
  // `entries` (truncating at the first conflict), advance commit to min(commit, last new index)
  // and return the last index now known to match the leader. nullopt if prev doesn't match.
  std::optional<Index> maybe_append(Index prev_index, Term prev_term, Index commit,
                                    const std::vector<Entry>& entries);
  // Appends after last_index() (leader) or truncates and appends (entries[0].index <= last+1).
  void append(std::vector<Entry>&& entries);

  // Fast back-off (§5.3, "the follower can include the term of the conflicting entry and the
  // first index it stores for that term"): the largest index <= `index` whose term <= `term`.
  [[nodiscard]] Index find_conflict_by_term(Index index, Term term) const;

  // Entries in [lo, hi) up to max_bytes (at least one). Aborts if lo is compacted.
  void slice(Index lo, Index hi, uint64_t max_bytes, std::vector<Entry>* out) const;

  [[nodiscard]] Index committed() const { return committed_; }
  [[nodiscard]] Index applied() const { return applied_; }
  void commit_to(Index index);  // never moves backwards; index must exist
  void applied_to(Index index);
  // Set on restart from the caller's state machine.
  void set_applied(Index index);

  // Unstable state handed out in Ready and acknowledged by advance().
  [[nodiscard]] const std::vector<Entry>& unstable_entries() const { return unstable_; }
  [[nodiscard]] const std::optional<SnapshotMeta>& unstable_snapshot() const {
    return unstable_snapshot_;
  }
  void stable_to(Index index, Term term);
  // The last index the caller has made durable: entries up to it are in Storage (and agree
  // with the log), entries after it are unstable.
  [[nodiscard]] Index stable_last_index() const;
  void stable_snapshot_to(Index index);
  [[nodiscard]] bool has_next_committed_entries() const;
  void next_committed_entries(uint64_t max_bytes, std::vector<Entry>* out) const;

  // Replace the whole log by a snapshot received from the leader (§7). meta.index > committed.
  void restore(const SnapshotMeta& meta);
  // A forced snapshot at or below the commit index whose entry the log holds
  // (RaftCore::send_snapshot): it is handed out as unstable_snapshot() to replace the state
  // machine, while the log, its bounds and the commit index stay as they are. No committed
  // entries are handed out until it is stable; then applied = meta.index, and (meta.index,
  // committed] follow again.
  void reinstall(const SnapshotMeta& meta);

  [[nodiscard]] const Storage& storage() const { return storage_; }

 private:
  // Index of unstable_[0] (valid even when unstable_ is empty: the next index to append).
  Index unstable_offset_;
  std::vector<Entry> unstable_;
  std::optional<SnapshotMeta> unstable_snapshot_;
  // unstable_snapshot_ came from reinstall(): it replaces the state machine, not the log.
  bool snapshot_keeps_log_ = false;
  const Storage& storage_;
  Index committed_ = 0;
  Index applied_ = 0;
};

}  // namespace raft
