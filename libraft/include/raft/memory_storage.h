// An in-memory Storage for tests, the simulator and benchmarks. Besides the read interface it
// has the mutators that a Ready batch needs, with the same semantics a durable implementation
// (libkv's RocksDB storage) must have. Not thread-safe.
#pragma once

#include <deque>
#include <string>
#include <string_view>

#include "raft/storage.h"

namespace raft {

class MemoryStorage final : public Storage {
 public:
  MemoryStorage() = default;

  // --- Storage ---
  HardState hard_state() const override { return hard_state_; }
  Index first_index() const override { return compacted_index_ + 1; }
  Index last_index() const override { return compacted_index_ + log_.size(); }
  std::optional<Term> term(Index index) const override;
  void entries(Index lo, Index hi, uint64_t max_bytes, std::vector<Entry>* out) const override;
  SnapshotMeta snapshot_meta() const override { return snapshot_; }
  Payload snapshot_chunk(Index snapshot_index, uint64_t offset, uint64_t max_bytes) const override;

  // --- mutators used when executing a Ready batch ---
  void set_hard_state(const HardState& hs) { hard_state_ = hs; }

  // Appends `entries` (consecutive indexes). An entry whose index is already present replaces it
  // and everything after it (a follower truncating a conflicting suffix, §5.3). Entries at or
  // below the snapshot index are ignored. Aborts on a gap: that is a caller bug.
  void append(const std::vector<Entry>& entries);

  // Replaces the whole log with snapshot `meta` and its body (a follower installing a snapshot
  // from the leader). Entries after meta.index that match meta.term are kept (§7: "If existing
  // log entry has same index and term as snapshot's last included entry, retain log entries
  // following it").
  void install_snapshot(const SnapshotMeta& meta, std::string body);

  // Records a snapshot of the local state machine at `index` (<= last_index()) and drops the
  // log entries up to `index - keep_entries`, so slow followers can still catch up from the log.
  void create_snapshot(Index index, const ConfState& conf, std::string body,
                       uint64_t keep_entries = 0);

  // Drops entries up to and including `index` (must be <= the snapshot index).
  void compact(Index index);

  [[nodiscard]] const std::string& snapshot_body() const { return snapshot_body_; }

  // The checksum this storage puts in SnapshotMeta::checksum (FNV-1a 64 of the body), for hosts
  // that verify a staged snapshot before installing it. install_snapshot() checks it too.
  [[nodiscard]] static uint64_t checksum(std::string_view body);

 private:
  HardState hard_state_;
  // log_[k] is the entry at index compacted_index_ + 1 + k.
  std::deque<Entry> log_;
  Index compacted_index_ = 0;  // last entry dropped from the front (or covered by a snapshot)
  Term compacted_term_ = 0;
  SnapshotMeta snapshot_;
  std::string snapshot_body_;
};

}  // namespace raft
