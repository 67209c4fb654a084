// Snapshot files: the state machine at one applied index, as the bytes a leader streams to a
// follower (§7) and a restarted node serves from.
//
// Body format, version kSnapshotFormatVersion (integers little-endian):
//   u8  format version
//   u64 applied_index          the Raft index the body reflects
//   u64 clock_ms               the state machine's clock (largest stamp applied)
//   u64 entry_count
//   u64 idem_count
//   entry_count x { u32 n, n bytes of encode_entry(KvEntry) }        strictly ascending id
//   idem_count  x { u32 n, n bytes of idempotency key,
//                   u32 m, m bytes of encode_idempotency_record(...) } strictly ascending key,
//                                                                   each expiring after clock_ms
// and nothing after. The secondary indexes (by_key, idem_by_expiry) and the table's byte total
// are rebuilt on load. Version 1 (an entry-count idempotency window, before issue 13) is
// refused: all members must run the same release. The
// checksum in raft::SnapshotMeta::checksum is XXH64 (seed 0) of the whole body; size_bytes is
// its length.
//
// Files live in the node's snapshot directory: snap-<index, 20 digits>.bin for the current
// snapshot, staging.bin for one being received, snap-<index>.bin.<serial>.tmp while being
// written (unique per writer). Anything else found
// there on open is left over from a crash and removed.
#pragma once

#include <cstdint>
#include <filesystem>

#include "kv/status.h"
#include "raft/types.h"

namespace rocksdb {
class Snapshot;
}  // namespace rocksdb

namespace kv {

class Db;

inline constexpr uint8_t kSnapshotFormatVersion = 2;

[[nodiscard]] std::filesystem::path snapshot_file_path(const std::filesystem::path& snapshot_dir,
                                                       raft::Index index);
[[nodiscard]] std::filesystem::path snapshot_staging_path(
    const std::filesystem::path& snapshot_dir);

// A complete, durable snapshot body on disk.
struct SnapshotFile {
  raft::Index index = 0;
  std::filesystem::path path;
  uint64_t size_bytes = 0;
  uint64_t checksum = 0;  // XXH64, seed 0, of the whole file
};

class SnapshotCapture;

// Writes the captured state to snapshot_file_path(snapshot_dir, capture.index()): into a .tmp
// file of its own, fdatasync, rename, fsync of the directory. Any thread, also concurrently
// with another writer of the same index. Errors are the file system's.
[[nodiscard]] Result<SnapshotFile> write_snapshot_file(const SnapshotCapture& capture,
                                                       const std::filesystem::path& snapshot_dir);

// A consistent point-in-time view of the state machine, cheap to take (a RocksDB snapshot
// handle, no copying) on the apply thread; serialize it with write_snapshot_file() on any
// thread while applies continue. It pins the versions it sees until destroyed, so don't keep it
// longer than the serialization. Must not outlive the Db. Move-only.
class SnapshotCapture {
 public:
  SnapshotCapture(SnapshotCapture&& other) noexcept;
  SnapshotCapture& operator=(SnapshotCapture&& other) = delete;
  SnapshotCapture(const SnapshotCapture&) = delete;
  ~SnapshotCapture();

  // The applied index the view reflects.
  [[nodiscard]] raft::Index index() const { return index_; }

 private:
  friend class StateMachine;
  friend Result<SnapshotFile> write_snapshot_file(const SnapshotCapture&,
                                                  const std::filesystem::path&);
  SnapshotCapture(const Db& db, const rocksdb::Snapshot* snapshot, raft::Index index)
      : db_(&db), snapshot_(snapshot), index_(index) {}

  const Db* db_;
  const rocksdb::Snapshot* snapshot_;
  raft::Index index_;
};

}  // namespace kv
