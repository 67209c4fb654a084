#include "raft/memory_storage.h"

#include <algorithm>

#include "raft/assert.h"

namespace raft {

std::optional<Term> MemoryStorage::term(Index index) const {
  if (index == compacted_index_) return compacted_term_;
  if (index < compacted_index_ || index > last_index()) return std::nullopt;
  return log_[index - compacted_index_ - 1].term;
}

void MemoryStorage::entries(Index lo, Index hi, uint64_t max_bytes, std::vector<Entry>* out) const {
  RAFT_ASSERT(lo >= first_index() && hi <= last_index() + 1 && lo <= hi,
              "entries() range outside the stored log");
  uint64_t bytes = 0;
  for (Index i = lo; i < hi; ++i) {
    const Entry& e = log_[i - compacted_index_ - 1];
    bytes += entry_size_bytes(e);
    if (bytes > max_bytes && i > lo) break;
    out->push_back(e);
  }
}

Payload MemoryStorage::snapshot_chunk(Index snapshot_index, uint64_t offset,
                                      uint64_t max_bytes) const {
  if (snapshot_index != snapshot_.index || offset >= snapshot_body_.size()) return Payload();
  return Payload(std::string_view(snapshot_body_).substr(offset, max_bytes));
}

void MemoryStorage::append(const std::vector<Entry>& entries) {
  if (entries.empty()) return;
  Index first_new = entries.front().index;
  RAFT_ASSERT(first_new <= last_index() + 1, "append would leave a gap in the log");
  size_t skip = 0;
  if (first_new <= compacted_index_) {
    // Already covered by a snapshot (and therefore committed): nothing to replace.
    skip = compacted_index_ + 1 - first_new;
    if (skip >= entries.size()) return;
    first_new = compacted_index_ + 1;
  }
  // Truncate the conflicting suffix, if any (§5.3).
  log_.resize(first_new - compacted_index_ - 1);
  for (size_t k = skip; k < entries.size(); ++k) {
    RAFT_ASSERT(entries[k].index == first_new + (k - skip), "appended entries not contiguous");
    log_.push_back(entries[k]);
  }
}

void MemoryStorage::install_snapshot(const SnapshotMeta& meta, std::string body) {
  RAFT_ASSERT(body.size() == meta.size_bytes, "snapshot body size differs from its meta");
  RAFT_ASSERT(checksum(body) == meta.checksum, "snapshot body fails its checksum");
  const bool log_agrees = meta.index <= last_index() && term(meta.index) == meta.term;
  snapshot_ = meta;
  snapshot_body_ = std::move(body);
  // §7: keep the entries after the snapshot if the log already agrees at its index.
  if (log_agrees) {
    compact(meta.index);
  } else {
    log_.clear();
    compacted_index_ = meta.index;
    compacted_term_ = meta.term;
  }
  hard_state_.commit_index = std::max(hard_state_.commit_index, meta.index);
}

void MemoryStorage::create_snapshot(Index index, const ConfState& conf, std::string body,
                                    uint64_t keep_entries) {
  RAFT_ASSERT(index <= last_index() && index >= snapshot_.index,
              "snapshot index outside the log or older than the current snapshot");
  std::optional<Term> t = term(index);
  RAFT_ASSERT(t.has_value(), "snapshot index already compacted");
  snapshot_.index = index;
  snapshot_.term = *t;
  snapshot_.conf = conf;
  snapshot_.size_bytes = body.size();
  snapshot_.checksum = checksum(body);
  snapshot_body_ = std::move(body);
  if (index > keep_entries) compact(index - keep_entries);
}

uint64_t MemoryStorage::checksum(std::string_view body) {
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a: enough to catch a torn or misordered staging
  for (unsigned char c : body) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

void MemoryStorage::compact(Index index) {
  RAFT_ASSERT(index <= std::max(snapshot_.index, compacted_index_),
              "compacting past the snapshot would lose entries");
  if (index <= compacted_index_) return;
  std::optional<Term> t = term(index);
  RAFT_ASSERT(t.has_value(), "compact index past the end of the log");
  log_.erase(log_.begin(), log_.begin() + static_cast<std::ptrdiff_t>(index - compacted_index_));
  compacted_index_ = index;
  compacted_term_ = *t;
}

}  // namespace raft
