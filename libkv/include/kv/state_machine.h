// StateMachine: the replicated KV state (entries, secondary index on key, idempotency table,
// applied index) in the state-machine column families of a Db (see kv/db.h).
//
// Applying is deterministic (design.md §3): the result and the bytes stored depend only on the
// state and the entries, so two replicas at the same applied index hold identical state and
// state_hash(). Each apply_batch() writes the effects of all its entries, the index updates,
// the idempotency records and the new applied index in ONE WriteBatch: after a crash the state
// is as of some whole batch, and Config::applied_index = applied_index() resumes exactly after
// it (never applying an entry twice or half).
//
// The write is not synced: the entries it applies are already durable in the log (persist runs
// first), and RocksDB recovers its WAL as a prefix, so a lost apply batch is simply re-applied
// from the log on restart.
//
// Threads: apply(), apply_batch() and capture_snapshot() from one thread at a time (the apply
// thread; in stress_node the thread that also calls LogStorage::persist). The read methods are
// safe from any thread, concurrently with applies; each reads one consistent point in time.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kv/codec.h"
#include "kv/db.h"
#include "kv/snapshot.h"
#include "kv/status.h"
#include "raft/types.h"

namespace rocksdb {
class WriteBatch;
}  // namespace rocksdb

namespace kv {

namespace detail {
struct SmState;
}  // namespace detail

struct StateMachineOptions {
  // A command at index j carrying an idempotency key is deduplicated against keys recorded at
  // indexes in (j - window, j); the record made at index i is dropped when index i + window is
  // applied. This is part of what "apply" means, so every replica must use the same value: it is
  // stored on first open, and opening with (or installing a snapshot made with) a different
  // value fails. At 20k writes/s the default remembers keys for about 5 s of writes.
  uint64_t idempotency_window_entries = 100'000;
};

// Reads return at most this many entries per call (paging via list(after_id, ...)).
inline constexpr size_t kReadLimitMax = 10'000;

struct StateHash {
  raft::Index applied_index = 0;
  uint64_t entry_count = 0;
  // XXH64 (seed 0) over, for each entry in ascending id order: u32 little-endian length n, then
  // the n bytes of encode_entry(entry). Exactly the entries section of a snapshot body.
  uint64_t hash = 0;
  friend bool operator==(const StateHash&, const StateHash&) = default;
};

class StateMachine {
 public:
  [[nodiscard]] static Result<std::unique_ptr<StateMachine>> open(
      Db& db, const StateMachineOptions& options);
  ~StateMachine();
  StateMachine(const StateMachine&) = delete;
  StateMachine& operator=(const StateMachine&) = delete;

  // --- apply thread ---

  // Applies committed entries in log order; entries[0].index must be applied_index() + 1 and the
  // indexes consecutive (a caller bug otherwise: aborts). One result per entry, in order. One
  // WriteBatch for all of them; prefer it over apply() per entry. An error (the disk) leaves
  // the state as before; the caller must stop (continuing would skip entries).
  [[nodiscard]] Result<std::vector<ApplyResult>> apply_batch(std::span<const raft::Entry> entries);
  [[nodiscard]] Result<ApplyResult> apply(const raft::Entry& entry);

  // A consistent view at applied_index(); serialize it with write_snapshot_file().
  [[nodiscard]] SnapshotCapture capture_snapshot() const;

  // --- any thread ---

  [[nodiscard]] std::optional<KvEntry> get(std::string_view id) const;
  // Entries with id > after_id ("" = from the start) in ascending id order, at most
  // min(limit, kReadLimitMax).
  [[nodiscard]] std::vector<KvEntry> list(std::string_view after_id, size_t limit) const;
  // Entries whose key is exactly `key`, in ascending id order, at most min(limit, kReadLimitMax).
  [[nodiscard]] std::vector<KvEntry> find_by_key(std::string_view key, size_t limit) const;
  [[nodiscard]] uint64_t count() const { return entry_count_.load(std::memory_order_acquire); }
  [[nodiscard]] raft::Index applied_index() const {
    return applied_index_.load(std::memory_order_acquire);
  }
  [[nodiscard]] uint64_t idempotency_key_count() const {
    return idem_count_.load(std::memory_order_acquire);
  }
  [[nodiscard]] uint64_t idempotency_window_entries() const { return idem_window_entries_; }
  // Reads every entry: O(count). Callers that serve it often should cache it per applied index.
  [[nodiscard]] StateHash state_hash() const;

 private:
  friend class LogStorage;  // installs received snapshots (kv/log_storage.h)

  StateMachine(Db& db, uint64_t idem_window_entries);
  void publish(const detail::SmState& state);

  // Snapshot install, in two steps around LogStorage's WriteBatch: add to `batch` the deletion
  // of all state-machine data and the load of the body at `path`, checking it against `meta`
  // (size, checksum, index) and our idempotency window; then, once the batch is durable,
  // restored() refreshes the in-memory counters.
  [[nodiscard]] Status stage_restore(const std::filesystem::path& path,
                                     const raft::SnapshotMeta& meta, rocksdb::WriteBatch* batch,
                                     detail::SmState* restored_state) const;
  void restored(const detail::SmState& state);

  Db& db_;
  const uint64_t idem_window_entries_;
  // Published after each durable write; readers see whole batches.
  std::atomic<raft::Index> applied_index_{0};
  std::atomic<uint64_t> entry_count_{0};
  std::atomic<uint64_t> idem_count_{0};
};

}  // namespace kv
