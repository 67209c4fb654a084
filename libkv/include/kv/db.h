// Db: the one RocksDB instance a node keeps, shared by the Raft log (LogStorage) and the state
// machine (StateMachine), so that a snapshot install can replace both in one WriteBatch.
//
// Column families (key -> value):
//   entries        id (36 bytes)                      -> encode_entry(KvEntry)
//   by_key         u32be len(key) ++ key ++ id         -> ""   (secondary index on key)
//   idem           idempotency key                     -> encode_idempotency_record
//   idem_by_expiry u64be expires_at_ms ++ idem key     -> u64le bytes the record counts
//   sm_meta        "state"                             -> applied index, counts, clock
//   log            u64be raft index                    -> encoded raft::Entry
//   raft_meta      "hard_state" / "log_bounds" / "snapshot" / "term_runs" -> encoded values
// The length prefix in by_key makes "all ids of key K" an exact prefix scan whatever bytes K
// holds (a '\0' separator would let "a\0..." collide with "a").
//
// Thread-safety: RocksDB's. Db itself holds no mutable state after open.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <vector>

#include "kv/status.h"

namespace rocksdb {
class DB;
class Env;
class FileSystem;
class ColumnFamilyHandle;
class WriteBatch;
}  // namespace rocksdb

namespace kv {

enum class Family : uint8_t {
  kEntries = 0,
  kByKey,
  kIdem,
  kIdemByExpiry,
  kStateMeta,
  kLog,
  kRaftMeta,
};
inline constexpr size_t kFamilyCount = 7;
const char* family_name(Family family);

struct DbOptions {
  // RocksDB memtable size per column family.
  uint64_t write_buffer_bytes = 16 << 20;
  // Past this much WAL, RocksDB flushes the column families that pin the oldest WAL file. It
  // bounds what a restart replays (replay runs at roughly 50-100 MB/s).
  uint64_t wal_bytes_max = 32 << 20;
  // RocksDB block cache shared by all families (reads of entries and of old log entries).
  uint64_t block_cache_bytes = 64 << 20;
  // The file system under everything the node writes: RocksDB's files and libkv's own snapshot
  // files and directories. Null means the real one (rocksdb::FileSystem::Default()). Tests put a
  // fault-injecting wrapper here to simulate a power loss (tests/unit/kv/power_loss_fs.h).
  std::shared_ptr<rocksdb::FileSystem> file_system;
};

class Db {
 public:
  // Opens (creating if missing) the RocksDB directory `dir` with all column families. A
  // directory written by a release before issue 13 (an idem_by_index family) is refused with
  // kInvalidArgument naming the way out: its idempotency data cannot be converted.
  [[nodiscard]] static Result<std::unique_ptr<Db>> open(const std::filesystem::path& dir,
                                                        const DbOptions& options);
  ~Db();
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  [[nodiscard]] rocksdb::DB* rocks() const { return db_; }
  [[nodiscard]] rocksdb::ColumnFamilyHandle* family(Family f) const {
    return families_[static_cast<size_t>(f)];
  }
  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }
  // DbOptions::file_system, or the default one; snapshot files go through it too.
  [[nodiscard]] rocksdb::FileSystem& file_system() const { return *file_system_; }

  // Writes the batch atomically; sync: fsync the WAL before returning.
  [[nodiscard]] Status write(rocksdb::WriteBatch* batch, bool sync);

 private:
  Db() = default;

  std::filesystem::path dir_;
  std::shared_ptr<rocksdb::FileSystem> file_system_;
  // Wraps a custom file_system_ for RocksDB (which takes an Env); null with the default one.
  // Declared before db_'s users so that it outlives the DB (closed in ~Db).
  std::unique_ptr<rocksdb::Env> env_;
  rocksdb::DB* db_ = nullptr;
  std::array<rocksdb::ColumnFamilyHandle*, kFamilyCount> families_{};
  rocksdb::ColumnFamilyHandle* default_family_ = nullptr;
};

}  // namespace kv
