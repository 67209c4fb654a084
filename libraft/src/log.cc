#include "raft/log.h"

#include <algorithm>

#include "raft/assert.h"

namespace raft {

RaftLog::RaftLog(const Storage& storage)
    : unstable_offset_(storage.last_index() + 1), storage_(storage) {
  const Index snapshot_index = storage.snapshot_meta().index;
  committed_ = std::max(storage.hard_state().commit_index, snapshot_index);
  applied_ = snapshot_index;
  RAFT_ASSERT(committed_ <= storage.last_index(), "persisted commit index past the log's end");
}

Index RaftLog::first_index() const {
  if (unstable_snapshot_ && !snapshot_keeps_log_) return unstable_snapshot_->index + 1;
  return storage_.first_index();
}

Index RaftLog::last_index() const {
  if (!unstable_.empty()) return unstable_offset_ + unstable_.size() - 1;
  if (unstable_snapshot_ && !snapshot_keeps_log_) return unstable_snapshot_->index;
  return storage_.last_index();
}

Term RaftLog::last_term() const {
  std::optional<Term> t = term(last_index());
  RAFT_ASSERT(t.has_value(), "the last entry's term must always be known");
  return *t;
}

std::optional<Term> RaftLog::term(Index index) const {
  if (index + 1 < first_index() || index > last_index()) return std::nullopt;
  if (index >= unstable_offset_) return unstable_[index - unstable_offset_].term;
  if (unstable_snapshot_ && !snapshot_keeps_log_) {
    // Only the snapshot's own index is below the unstable offset and still known.
    if (index == unstable_snapshot_->index) return unstable_snapshot_->term;
    return std::nullopt;
  }
  return storage_.term(index);
}

bool RaftLog::match_term(Index index, Term t) const {
  std::optional<Term> ours = term(index);
  return ours.has_value() && *ours == t;
}

bool RaftLog::is_up_to_date(Index last, Term t) const {
  const Term our_last_term = last_term();
  return t > our_last_term || (t == our_last_term && last >= last_index());
}

std::optional<Index> RaftLog::maybe_append(Index prev_index, Term prev_term, Index commit,
                                           const std::vector<Entry>& entries) {
  if (!match_term(prev_index, prev_term)) return std::nullopt;
  const Index last_new = prev_index + entries.size();
  // The first entry that is new or differs from ours (§5.3 step 3); 0 when all are present.
  size_t conflict = entries.size();
  for (size_t k = 0; k < entries.size(); ++k) {
    if (!match_term(entries[k].index, entries[k].term)) {
      conflict = k;
      break;
    }
  }
  if (conflict < entries.size()) {
    RAFT_ASSERT(entries[conflict].index > committed_, "leader asked to overwrite committed entry");
    append(
        std::vector<Entry>(entries.begin() + static_cast<std::ptrdiff_t>(conflict), entries.end()));
  }
  commit_to(std::min(commit, last_new));
  return last_new;
}

void RaftLog::append(std::vector<Entry>&& entries) {
  if (entries.empty()) return;
  const Index after = entries.front().index;
  RAFT_ASSERT(after > committed_, "appending would truncate committed entries");
  RAFT_ASSERT(after <= last_index() + 1, "appending would leave a gap in the log");
  if (after == unstable_offset_ + unstable_.size()) {
    // The common case: extend.
  } else if (after <= unstable_offset_) {
    // Replaces the whole unstable part and a suffix of the stable one; the host overwrites it.
    unstable_offset_ = after;
    unstable_.clear();
  } else {
    RAFT_ASSERT(after < unstable_offset_ + unstable_.size(), "unstable append would leave a gap");
    unstable_.resize(after - unstable_offset_);
  }
  if (unstable_.empty()) {
    unstable_ = std::move(entries);
  } else {
    unstable_.insert(unstable_.end(), std::make_move_iterator(entries.begin()),
                     std::make_move_iterator(entries.end()));
  }
}

Index RaftLog::find_conflict_by_term(Index index, Term t) const {
  index = std::min(index, last_index());
  for (; index > 0; --index) {
    std::optional<Term> ours = term(index);
    if (!ours.has_value() || *ours <= t) return index;
  }
  return 0;
}

void RaftLog::slice(Index lo, Index hi, uint64_t max_bytes, std::vector<Entry>* out) const {
  RAFT_ASSERT(lo >= first_index() && hi <= last_index() + 1, "slice outside the log");
  if (lo >= hi) return;
  const size_t start_count = out->size();
  if (lo < unstable_offset_) {
    const Index stable_hi = std::min(hi, unstable_offset_);
    storage_.entries(lo, stable_hi, max_bytes, out);
    if (out->size() - start_count < stable_hi - lo) return;  // the byte budget ran out
    lo = stable_hi;
  }
  uint64_t bytes = 0;
  for (size_t k = start_count; k < out->size(); ++k) bytes += entry_size_bytes((*out)[k]);
  for (Index i = std::max(lo, unstable_offset_); i < hi; ++i) {
    const Entry& e = unstable_[i - unstable_offset_];
    bytes += entry_size_bytes(e);
    if (bytes > max_bytes && out->size() > start_count) break;
    out->push_back(e);
  }
}

void RaftLog::commit_to(Index index) {
  if (index <= committed_) return;
  RAFT_ASSERT(index <= last_index(), "commit index past the end of the log");
  committed_ = index;
}

void RaftLog::applied_to(Index index) {
  if (index == 0) return;
  RAFT_ASSERT(index <= committed_ && index >= applied_, "applied index out of [applied, commit]");
  applied_ = index;
}

void RaftLog::set_applied(Index index) {
  RAFT_ASSERT(index <= committed_ && index + 1 >= first_index(),
              "restart applied index must lie in [first index - 1, commit index]");
  applied_ = index;
}

void RaftLog::stable_to(Index index, Term t) {
  if (index < unstable_offset_ || index >= unstable_offset_ + unstable_.size()) return;
  // If the entry was replaced since the batch was cut, the persisted one is obsolete.
  if (unstable_[index - unstable_offset_].term != t) return;
  unstable_.erase(unstable_.begin(),
                  unstable_.begin() + static_cast<std::ptrdiff_t>(index - unstable_offset_ + 1));
  unstable_offset_ = index + 1;
}

Index RaftLog::stable_last_index() const {
  if (unstable_.empty() && !unstable_snapshot_) return last_index();
  // Unstable entries may replace a suffix of the stored ones: only the part before them agrees.
  return std::min(unstable_offset_ - 1, storage_.last_index());
}

void RaftLog::stable_snapshot_to(Index index) {
  if (!unstable_snapshot_ || unstable_snapshot_->index != index) return;
  unstable_snapshot_.reset();
  snapshot_keeps_log_ = false;
  // Storage may have kept entries after the snapshot (§7, the log agreed at its index); they
  // are ours again, so the unstable part now starts after them.
  if (unstable_.empty()) unstable_offset_ = storage_.last_index() + 1;
}

bool RaftLog::has_next_committed_entries() const {
  if (unstable_snapshot_ && snapshot_keeps_log_) return false;  // after the reinstall
  Index lo = applied_ + 1;
  if (unstable_snapshot_) lo = std::max(lo, unstable_snapshot_->index + 1);
  return lo <= committed_;
}

void RaftLog::next_committed_entries(uint64_t max_bytes, std::vector<Entry>* out) const {
  if (unstable_snapshot_ && snapshot_keeps_log_) return;  // after the reinstall
  Index lo = applied_ + 1;
  if (unstable_snapshot_) lo = std::max(lo, unstable_snapshot_->index + 1);
  if (lo <= committed_) slice(lo, committed_ + 1, max_bytes, out);
}

void RaftLog::restore(const SnapshotMeta& meta) {
  RAFT_ASSERT(meta.index > committed_, "restoring a snapshot older than the commit index");
  committed_ = meta.index;
  unstable_offset_ = meta.index + 1;
  unstable_.clear();
  unstable_snapshot_ = meta;
  snapshot_keeps_log_ = false;
}

void RaftLog::reinstall(const SnapshotMeta& meta) {
  RAFT_ASSERT(meta.index <= committed_ && match_term(meta.index, meta.term),
              "a reinstalled snapshot is a committed entry of our log");
  // A restore() of this very entry is still unstable (the only entry match_term knows then):
  // it replaces the state machine already, and the log view must stay the restored one.
  if (unstable_snapshot_ && !snapshot_keeps_log_) return;
  unstable_snapshot_ = meta;
  snapshot_keeps_log_ = true;
}

}  // namespace raft
