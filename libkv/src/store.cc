#include "kv/store.h"

#include "fatal.h"
#include "file.h"

namespace kv {

Result<std::unique_ptr<Store>> Store::open(const std::filesystem::path& data_dir,
                                           const StoreOptions& options) {
  std::unique_ptr<Store> store(new Store());
  Result<std::unique_ptr<Db>> db = Db::open(data_dir / "db", options.db);
  if (!db.is_ok()) return db.status();
  store->db_ = std::move(db).value();
  // Db::open made db/ durable inside data_dir, but data_dir itself may be the caller's, created
  // just before (stress_node does, for its log file): without this, a power loss could take
  // the whole directory, synced log included. One fsync per open.
  std::filesystem::path dir = data_dir.lexically_normal();
  if (!dir.has_filename()) dir = dir.parent_path();  // "a/b/" names b
  const std::filesystem::path parent =
      dir.has_parent_path() ? dir.parent_path() : std::filesystem::path(".");
  if (Status s = detail::sync_dir(store->db_->file_system(), parent); !s.is_ok()) return s;
  Result<std::unique_ptr<StateMachine>> sm = StateMachine::open(*store->db_, options.state_machine);
  if (!sm.is_ok()) return sm.status();
  store->state_machine_ = std::move(sm).value();
  Result<std::unique_ptr<LogStorage>> log =
      LogStorage::open(*store->db_, *store->state_machine_, data_dir / "snapshots", options.log);
  if (!log.is_ok()) return log.status();
  store->log_ = std::move(log).value();
  return store;
}

Store::~Store() = default;

Result<std::vector<ApplyResult>> Store::apply(const raft::Ready& ready) {
  if (ready.snapshot) {
    KV_CHECK(state_machine_->applied_index() == ready.snapshot->index,
             "persist() installed the snapshot before apply()");
  }
  return state_machine_->apply_batch(ready.committed_entries);
}

SnapshotCapture Store::capture_snapshot() const { return state_machine_->capture_snapshot(); }

Result<SnapshotFile> Store::write_snapshot(const SnapshotCapture& capture) const {
  return write_snapshot_file(capture, log_->snapshot_dir());
}

Status Store::commit_snapshot(const SnapshotFile& file, const raft::ConfState& conf,
                              uint64_t keep_entries) {
  return log_->commit_snapshot(file, conf, keep_entries);
}

Result<raft::SnapshotMeta> Store::create_snapshot(const raft::ConfState& conf,
                                                  uint64_t keep_entries) {
  if (state_machine_->applied_index() == 0) {
    return Status::invalid_argument("nothing applied yet: no state to snapshot");
  }
  Result<SnapshotFile> file = write_snapshot(capture_snapshot());
  if (!file.is_ok()) return file.status();
  if (Status s = commit_snapshot(*file, conf, keep_entries); !s.is_ok()) return s;
  return log_->snapshot_meta();
}

}  // namespace kv
