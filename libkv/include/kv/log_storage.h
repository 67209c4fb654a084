// LogStorage: the durable raft::Storage over the log and raft_meta column families of a Db,
// plus the snapshot files of the node (the current one, the one being received).
//
// Executing a Ready batch (raft/batch.h) with libkv is two calls; this is all of BatchIo's
// persist() and apply():
//
//   void persist(const raft::Ready& rd) override {
//     if (kv::Status s = log.persist(rd); !s.is_ok()) abort_with(s);  // promises depend on it
//   }
//   void apply(const raft::Ready& rd) override {
//     auto results = state_machine.apply_batch(rd.committed_entries);  // rd.snapshot: already
//     if (!results.is_ok()) abort_with(results.status());              // installed by persist
//     ... answer the clients waiting on results->at(k).index ...
//   }
//
// (kv::Store wraps both, see kv/store.h.)
//
// persist() writes, in ONE WriteBatch synced once (group commit: every entry and the hard state
// of a batch share one fsync): a received snapshot (replacing the state machine content and
// the log), the new entries (deleting any conflicting suffix they replace, §5.3) and the hard
// state. A crash leaves either all of a batch or none of it.
//
// Snapshot transfer (receiving side): Ready::snapshot_chunks go to <snapshot_dir>/staging.bin
// (offset 0 starts it over, later offsets must continue it exactly). Ready::snapshot installs
// it: the body is checked against SnapshotMeta::size_bytes and ::checksum and fully decoded
// before anything is written; on success it becomes the current snapshot file. On a failure the
// old state is untouched. A crash at any point leaves the old state or the new one: the body is
// renamed into place before the WriteBatch that points at it, and open() removes leftovers.
//
// Opening reads the term runs (where each term starts) persisted beside the log, and the log's
// first and last entries: its cost does not grow with the log. (A data directory written before
// the term runs existed is scanned once, and the runs are written then.)
//
// Reads: term(), first_index() and last_index() come from memory (the core calls them a lot);
// entries() is served from a bounded cache of the most recent entries, else from RocksDB. A
// read error aborts (raft::Storage contract).
//
// Threads: one thread (the one driving RaftCore) for everything except stats().
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "kv/db.h"
#include "kv/snapshot.h"
#include "kv/state_machine.h"
#include "kv/status.h"
#include "raft/raft_core.h"
#include "raft/storage.h"

namespace rocksdb {
class WriteBatch;
}  // namespace rocksdb

namespace kv {

namespace detail {
class File;
struct TermRun;
}  // namespace detail

struct LogStorageOptions {
  // fsync at the end of each persist(). Turning it off breaks every durability promise; it
  // exists for tests and benchmarks that want to measure without the disk.
  bool sync = true;
  // Recent entries kept in memory for entries(): followers in Replicate state read from here.
  uint64_t entry_cache_bytes_max = 16 << 20;
};

// For /status and /metrics; monotonic counters unless noted.
struct LogStats {
  uint64_t persist_count = 0;
  uint64_t sync_count = 0;
  uint64_t last_persist_latency_us = 0;  // gauge: the most recent persist(), sync included
  uint64_t persist_latency_us_total = 0;
  uint64_t entries_persisted = 0;
  uint64_t bytes_persisted = 0;  // WriteBatch bytes
  uint64_t snapshots_installed = 0;
  uint64_t snapshots_committed = 0;
  uint64_t entry_cache_hits = 0;  // entries() calls served from memory entirely
  uint64_t entry_cache_misses = 0;
};

class LogStorage final : public raft::Storage {
 public:
  // Restores everything from `db` and `snapshot_dir` (created if missing; leftovers of a crash
  // removed). `state_machine` receives installed snapshots; both must outlive this object.
  [[nodiscard]] static Result<std::unique_ptr<LogStorage>> open(
      Db& db, StateMachine& state_machine, const std::filesystem::path& snapshot_dir,
      const LogStorageOptions& options);
  ~LogStorage() override;
  LogStorage(const LogStorage&) = delete;
  LogStorage& operator=(const LogStorage&) = delete;

  // --- raft::Storage ---
  [[nodiscard]] raft::HardState hard_state() const override { return hard_state_; }
  [[nodiscard]] raft::Index first_index() const override { return view_.compacted_index + 1; }
  [[nodiscard]] raft::Index last_index() const override { return view_.last_index; }
  [[nodiscard]] std::optional<raft::Term> term(raft::Index index) const override;
  void entries(raft::Index lo, raft::Index hi, uint64_t max_bytes,
               std::vector<raft::Entry>* out) const override;
  [[nodiscard]] raft::SnapshotMeta snapshot_meta() const override { return snapshot_; }
  [[nodiscard]] raft::Payload snapshot_chunk(raft::Index snapshot_index, uint64_t offset,
                                             uint64_t max_bytes) const override;

  // Writes everything `ready` asks to persist (see above), synced when ready.must_sync(). Call
  // it for every Ready with must_persist(). An error means nothing of this batch may be assumed
  // durable and the caller must stop: continuing would send promises nobody keeps.
  [[nodiscard]] Status persist(const raft::Ready& ready);

  // Checks a received snapshot body before the core installs it (issue 13 bug 5: a bad body
  // must be rejected, not abort the node in persist()). `chunk` is the transfer's last chunk:
  // offset 0 (a one-chunk snapshot) or exactly where the staged body of the same meta ends.
  // It is staged, then the whole body is checked as an install would check it (size,
  // checksum, that it decodes, its index), without writing anything else. Ok: the chunk stays
  // staged and persist() skips it when the core hands it over. Error: the staging area is
  // discarded; the caller rejects the chunk (RaftCore::reject_snapshot_body).
  [[nodiscard]] Status stage_and_verify_last_chunk(const raft::SnapshotChunk& chunk);

  // Makes `file` (a snapshot of our own state machine, from write_snapshot_file()) the current
  // snapshot under voter set `conf`, then drops the log up to file.index - keep_entries (kept
  // entries let slow followers catch up without a snapshot) and the previous snapshot file.
  // A file older than the current snapshot (one was installed meanwhile) is discarded.
  [[nodiscard]] Status commit_snapshot(const SnapshotFile& file, const raft::ConfState& conf,
                                       uint64_t keep_entries);

  [[nodiscard]] LogStats stats() const;
  [[nodiscard]] const std::filesystem::path& snapshot_dir() const { return snapshot_dir_; }

 private:
  struct TermRun {
    raft::Index first = 0;  // the run covers [first, next run's first) with this term
    raft::Term term = 0;
    friend bool operator==(const TermRun&, const TermRun&) = default;
  };
  // The in-memory picture of the log: updated on a copy while a batch is built and committed
  // only once the batch is durable.
  struct LogView {
    raft::Index compacted_index = 0;
    raft::Term compacted_term = 0;
    raft::Index last_index = 0;
    std::vector<TermRun> runs;  // ascending; covers [compacted_index + 1, last_index]

    [[nodiscard]] std::optional<raft::Term> term(raft::Index index) const;
    void truncate_from(raft::Index index);
    void append(raft::Index index, raft::Term term);
    void compact_to(raft::Index index, raft::Term term);
  };
  struct Staging {
    raft::SnapshotMeta meta;
    uint64_t size_bytes = 0;
    std::unique_ptr<detail::File> file;
    bool verified = false;  // complete and checked by stage_and_verify_last_chunk()
  };

  LogStorage(Db& db, StateMachine& state_machine, std::filesystem::path snapshot_dir,
             const LogStorageOptions& options);
  static std::vector<detail::TermRun> to_records(const std::vector<TermRun>& runs);
  static std::vector<TermRun> from_records(const std::vector<detail::TermRun>& records);
  [[nodiscard]] Status load();
  [[nodiscard]] Status load_log();
  [[nodiscard]] Status load_log_from_term_runs(std::string_view record);
  [[nodiscard]] Status scan_log();
  void stage_term_runs(const LogView& view, rocksdb::WriteBatch* batch) const;
  [[nodiscard]] Status open_snapshot_file();
  void remove_stale_snapshot_files() const;

  [[nodiscard]] Status stage_chunk(const raft::SnapshotChunk& chunk);
  [[nodiscard]] Status stage_install(const raft::SnapshotMeta& meta, rocksdb::WriteBatch* batch,
                                     LogView* view, detail::SmState* restored);
  void stage_entries(const std::vector<raft::Entry>& entries, rocksdb::WriteBatch* batch,
                     LogView* view) const;
  void update_cache(const raft::Ready& ready);
  void compact_cache();
  void read_entries(raft::Index lo, raft::Index hi, uint64_t max_bytes, uint64_t* bytes,
                    std::vector<raft::Entry>* out) const;

  Db& db_;
  StateMachine& state_machine_;
  const std::filesystem::path snapshot_dir_;
  const LogStorageOptions options_;

  raft::HardState hard_state_;
  LogView view_;
  raft::SnapshotMeta snapshot_;
  std::unique_ptr<detail::File> snapshot_file_;  // open for reads when snapshot_.index > 0
  std::optional<Staging> staging_;

  // Recent entries [cache_.front().index, last_index()], contiguous, at most
  // entry_cache_bytes_max bytes (entry_size_bytes).
  std::deque<raft::Entry> cache_;
  uint64_t cache_bytes_ = 0;

  struct AtomicStats {
    std::atomic<uint64_t> persist_count{0};
    std::atomic<uint64_t> sync_count{0};
    std::atomic<uint64_t> last_persist_latency_us{0};
    std::atomic<uint64_t> persist_latency_us_total{0};
    std::atomic<uint64_t> entries_persisted{0};
    std::atomic<uint64_t> bytes_persisted{0};
    std::atomic<uint64_t> snapshots_installed{0};
    std::atomic<uint64_t> snapshots_committed{0};
    mutable std::atomic<uint64_t> entry_cache_hits{0};
    mutable std::atomic<uint64_t> entry_cache_misses{0};
  };
  AtomicStats stats_;
};

}  // namespace kv
