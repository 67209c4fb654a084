// The core's read-only view of stable storage. The caller writes to storage (it executes the
// Ready batch); the core only reads. Everything here describes what is durable.
//
// Errors: an implementation that cannot read its own disk cannot make progress safely; it must
// abort the process (as etcd's raft does) rather than return a made-up answer.
#pragma once

#include <optional>
#include <vector>

#include "raft/types.h"

namespace raft {

class Storage {
 public:
  virtual ~Storage() = default;

  // The persisted hard state; zero-valued on a fresh node.
  [[nodiscard]] virtual HardState hard_state() const = 0;

  // Entries live in [first_index(), last_index()]; the log is empty when last_index() ==
  // first_index() - 1. Entries before first_index() were compacted away. The snapshot index is
  // at least first_index() - 1: a snapshot may cover entries that are kept for slow followers.
  [[nodiscard]] virtual Index first_index() const = 0;
  [[nodiscard]] virtual Index last_index() const = 0;

  // Term of the entry at `index`, for index in [first_index() - 1, last_index()] (the last
  // compacted entry's term is remembered); nullopt outside that range. term(0) == 0.
  [[nodiscard]] virtual std::optional<Term> term(Index index) const = 0;

  // Appends to `out` the entries in [lo, hi), lo >= first_index(), hi <= last_index() + 1,
  // stopping once their entry_size_bytes sum would pass max_bytes, but always at least one.
  virtual void entries(Index lo, Index hi, uint64_t max_bytes, std::vector<Entry>* out) const = 0;

  // The most recent snapshot; index 0 when there is none. Its conf is the voter set as of it.
  [[nodiscard]] virtual SnapshotMeta snapshot_meta() const = 0;

  // Up to max_bytes of the body of snapshot `snapshot_index` starting at `offset`. Returns an
  // empty payload when that snapshot is no longer the current one (the sender then restarts
  // with the new one) or when offset == size.
  [[nodiscard]] virtual Payload snapshot_chunk(Index snapshot_index, uint64_t offset,
                                               uint64_t max_bytes) const = 0;
};

}  // namespace raft
