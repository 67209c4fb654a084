// Store: one node's durable state, opened from its data directory (design.md §4):
//   <data_dir>/db/          the RocksDB directory (log, hard state, state machine)
//   <data_dir>/snapshots/   snapshot files (kv/snapshot.h)
// It owns the Db, the LogStorage (the core's raft::Storage) and the StateMachine, and offers the
// two calls a raft::BatchIo needs plus the snapshot steps.
//
// Restart: open the same directory and start RaftCore with
//   Config::applied_index = store.state_machine().applied_index()
// over store.log(); it is the same member with everything it had made durable.
#pragma once

#include <filesystem>
#include <memory>
#include <vector>

#include "kv/codec.h"
#include "kv/db.h"
#include "kv/log_storage.h"
#include "kv/snapshot.h"
#include "kv/state_machine.h"
#include "kv/status.h"
#include "raft/raft_core.h"

namespace kv {

struct StoreOptions {
  DbOptions db;
  LogStorageOptions log;
  StateMachineOptions state_machine;
};

class Store {
 public:
  [[nodiscard]] static Result<std::unique_ptr<Store>> open(const std::filesystem::path& data_dir,
                                                           const StoreOptions& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  [[nodiscard]] LogStorage& log() { return *log_; }
  [[nodiscard]] const LogStorage& log() const { return *log_; }
  [[nodiscard]] StateMachine& state_machine() { return *state_machine_; }
  [[nodiscard]] const StateMachine& state_machine() const { return *state_machine_; }

  // BatchIo::persist: LogStorage::persist. Abort on error.
  [[nodiscard]] Status persist(const raft::Ready& ready) { return log_->persist(ready); }
  // BatchIo::apply: an installed snapshot (ready.snapshot) is already in place after persist();
  // this applies ready.committed_entries in one WriteBatch. One result per committed entry.
  [[nodiscard]] Result<std::vector<ApplyResult>> apply(const raft::Ready& ready);

  // Snapshots in three steps, so that only the first and last run on the raft thread:
  //   1. capture_snapshot()   raft thread, cheap: a consistent view at the applied index
  //   2. write_snapshot()     any thread: serialize it to a file (O(state size))
  //   3. commit_snapshot()    raft thread: make it current, compact the log to
  //                           index - keep_entries, remove the previous file
  [[nodiscard]] SnapshotCapture capture_snapshot() const;
  [[nodiscard]] Result<SnapshotFile> write_snapshot(const SnapshotCapture& capture) const;
  [[nodiscard]] Status commit_snapshot(const SnapshotFile& file, const raft::ConfState& conf,
                                       uint64_t keep_entries);
  // All three in a row on the calling thread. Returns the new snapshot's meta.
  [[nodiscard]] Result<raft::SnapshotMeta> create_snapshot(const raft::ConfState& conf,
                                                           uint64_t keep_entries);

 private:
  Store() = default;

  // Destroyed in reverse: log_ and state_machine_ before the Db they use.
  std::unique_ptr<Db> db_;
  std::unique_ptr<StateMachine> state_machine_;
  std::unique_ptr<LogStorage> log_;
};

}  // namespace kv
