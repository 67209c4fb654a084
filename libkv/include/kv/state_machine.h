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
#include <deque>
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

// The idempotency table (design.md §3, issue 13). The state machine keeps a clock: the largest
// Command::stamp_unix_ms applied so far (the proposing leader's wall clock, carried in the log,
// so every replica has the same clock at the same index whatever its own time; it never goes
// back). Every stamped command, keyed or not, first advances the clock to its stamp and forgets
// every record whose expiry the clock has reached (a record made at clock c with TTL t lives
// while the clock is < c + t). Then a command with an idempotency key K:
//   - if K is recorded with the same request_fingerprint(): changes nothing and answers the
//     recorded result (replayed); with another fingerprint: changes nothing and answers
//     kIdempotencyKeyReused;
//   - else executes, then records K with expiry clock + its TTL. If the table would then exceed
//     the command's byte bound, the records that expire first (ties by key) are dropped until it
//     fits; the new record always stays.
// TTL and byte bound travel in each keyed command, chosen by its proposer, so replicas never
// need to agree on a setting: the same log gives the same table.

// Idempotency table gauges and eviction counters (the counters count evictions applied by this
// process since it opened the store, for metrics; they are not replicated state).
struct IdempotencyStats {
  uint64_t keys = 0;
  uint64_t bytes = 0;  // sum of the accounted record sizes, the quantity the byte bound bounds
  uint64_t clock_ms = 0;
  uint64_t evicted_ttl_total = 0;
  uint64_t evicted_bytes_total = 0;
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

struct StateMachineOptions {
  // How many records of the idempotency table's expiry index one read fetches ahead (at least
  // 1). Once the table is at its byte bound every keyed write evicts one record from the front;
  // reading them one RocksDB iterator per write cost the leader ~15% of its CPU (issue 15).
  // The records read ahead are kept in memory; the evictions, and so the state, are the same
  // for every value (tests compare 1 with others).
  size_t idem_front_read_ahead = 1024;
};

namespace detail {
// One record of the idem_by_expiry family as the eviction reads it.
struct IdemFrontRecord {
  std::string index_key;  // idem_expiry_key(expires_at_ms, idem_key)
  std::string idem_key;
  uint64_t expires_at_ms = 0;
  uint64_t bytes = 0;  // the record's accounted size
};
}  // namespace detail

class StateMachine {
 public:
  // Fails with kInvalidArgument on a state written in an older format (kv/db.h).
  [[nodiscard]] static Result<std::unique_ptr<StateMachine>> open(
      Db& db, const StateMachineOptions& options = {});
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
  // Entries whose key is exactly `key` and whose id is > after_id ("" = from the first), in
  // ascending id order, at most min(limit, kReadLimitMax). Seeks to the page: paging through
  // any number of entries under one key costs O(page) per call.
  [[nodiscard]] std::vector<KvEntry> find_by_key(std::string_view key, size_t limit,
                                                 std::string_view after_id = {}) const;
  [[nodiscard]] uint64_t count() const { return entry_count_.load(std::memory_order_acquire); }
  [[nodiscard]] raft::Index applied_index() const {
    return applied_index_.load(std::memory_order_acquire);
  }
  [[nodiscard]] uint64_t idempotency_key_count() const {
    return idem_count_.load(std::memory_order_acquire);
  }
  [[nodiscard]] IdempotencyStats idempotency_stats() const;
  // Reads every entry: O(count). Callers that serve it often should cache it per applied index.
  [[nodiscard]] StateHash state_hash() const;

 private:
  friend class LogStorage;  // installs received snapshots (kv/log_storage.h)

  StateMachine(Db& db, const StateMachineOptions& options);
  void publish(const detail::SmState& state);

  // Snapshot install, in two steps around LogStorage's WriteBatch: add to `batch` the deletion
  // of all state-machine data and the load of the body at `path`, checking it against `meta`
  // (size, checksum, index); then, once the batch is durable,
  // restored() refreshes the in-memory counters.
  [[nodiscard]] Status stage_restore(const std::filesystem::path& path,
                                     const raft::SnapshotMeta& meta, rocksdb::WriteBatch* batch,
                                     detail::SmState* restored_state) const;
  void restored(const detail::SmState& state);

  Db& db_;
  const StateMachineOptions options_;
  // Apply thread only. The first records of idem_by_expiry in key order (soonest expiry first)
  // as the DB holds them after the last applied batch: every record up to the last one held
  // here, or nothing known when empty. Cleared by a snapshot install and by a failed batch.
  std::deque<detail::IdemFrontRecord> idem_front_;
  // Published after each durable write; readers see whole batches.
  std::atomic<raft::Index> applied_index_{0};
  std::atomic<uint64_t> entry_count_{0};
  std::atomic<uint64_t> idem_count_{0};
  std::atomic<uint64_t> idem_bytes_{0};
  std::atomic<uint64_t> clock_ms_{0};
  std::atomic<uint64_t> idem_evicted_ttl_{0};
  std::atomic<uint64_t> idem_evicted_bytes_{0};
};

}  // namespace kv
