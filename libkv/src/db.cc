#include "kv/db.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/file_system.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <string>

#include "fatal.h"
#include "file.h"

namespace kv {

const char* family_name(Family family) {
  switch (family) {
    case Family::kEntries: return "entries";
    case Family::kByKey: return "by_key";
    case Family::kIdem: return "idem";
    case Family::kIdemByExpiry: return "idem_by_expiry";
    case Family::kStateMeta: return "sm_meta";
    case Family::kLog: return "log";
    case Family::kRaftMeta: return "raft_meta";
  }
  return "unknown";
}

Result<std::unique_ptr<Db>> Db::open(const std::filesystem::path& dir, const DbOptions& options) {
  std::unique_ptr<Db> db(new Db());
  db->dir_ = dir;
  db->file_system_ =
      options.file_system != nullptr ? options.file_system : rocksdb::FileSystem::Default();
  // RocksDB creates its directory without syncing the parent: a power loss could take the whole
  // new directory, synced WAL included. Create it (and the data directory) durably first.
  if (Status s = detail::create_directories_durably(*db->file_system_, dir); !s.is_ok()) return s;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  // Most apply-time reads are misses (does this id or idempotency key exist?): a Bloom filter
  // answers them without reading data blocks.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions family_options;
  family_options.write_buffer_size = options.write_buffer_bytes;
  family_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // The same for the memtable, where every recent id lives: without it a miss walks the whole
  // skiplist (issue 15's leader profile: skiplist searches were 5% of the leader's CPU).
  family_options.memtable_prefix_bloom_size_ratio = 0.02;
  family_options.memtable_whole_key_filtering = true;

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, family_options);
  for (size_t f = 0; f < kFamilyCount; ++f) {
    descriptors.emplace_back(family_name(static_cast<Family>(f)), family_options);
  }

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_total_wal_size = options.wal_bytes_max;
  // RocksDB's own diagnostic log (db/LOG*): bounded, like everything else on disk.
  db_options.keep_log_file_num = 4;
  db_options.max_log_file_size = 16 << 20;
  // The default, stated because correctness depends on it: after a crash the WAL is replayed up
  // to the first damaged record, so an unsynced state-machine write can only be lost together
  // with everything written after it (see StateMachine).
  db_options.wal_recovery_mode = rocksdb::WALRecoveryMode::kPointInTimeRecovery;
  // A node killed under load reopens with up to wal_bytes_max of WAL to replay. By default
  // RocksDB then also flushes everything it replayed to new SST files (with their fsyncs) before
  // Open returns; that flush was most of a restart after kill -9 (issue 15). Keeping the
  // replayed data in the memtables (and the WAL files until their normal flush) is as durable.
  db_options.avoid_flush_during_recovery = true;

  if (options.file_system != nullptr) {
    db->env_ = rocksdb::NewCompositeEnv(db->file_system_);
    db_options.env = db->env_.get();
  }

  // Column families of an existing directory; a fresh one has none (ListColumnFamilies fails).
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(db_options, dir.string(), &existing).ok() &&
      std::find(existing.begin(), existing.end(), "idem_by_index") != existing.end()) {
    return Status::invalid_argument(
        dir.string() +
        " holds data of an older format (idempotency window by entry count, before issue "
        "13); this release cannot read it: remove the data directory and let the node rejoin "
        "from a snapshot");
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::Status s = rocksdb::DB::Open(db_options, dir.string(), descriptors, &handles, &db->db_);
  if (!s.ok()) return Status::io_error("open RocksDB at " + dir.string() + ": " + s.ToString());
  KV_CHECK(handles.size() == kFamilyCount + 1, "RocksDB returned a handle per family");
  db->default_family_ = handles[0];
  for (size_t f = 0; f < kFamilyCount; ++f) db->families_[f] = handles[f + 1];
  return db;
}

Db::~Db() {
  if (db_ == nullptr) return;
  for (rocksdb::ColumnFamilyHandle* h : families_) {
    if (h != nullptr) (void)db_->DestroyColumnFamilyHandle(h);
  }
  if (default_family_ != nullptr) (void)db_->DestroyColumnFamilyHandle(default_family_);
  (void)db_->Close();
  delete db_;
}

Status Db::write(rocksdb::WriteBatch* batch, bool sync) {
  rocksdb::WriteOptions options;
  options.sync = sync;
  rocksdb::Status s = db_->Write(options, batch);
  if (!s.ok()) return Status::io_error("RocksDB write: " + s.ToString());
  return Status();
}

}  // namespace kv
