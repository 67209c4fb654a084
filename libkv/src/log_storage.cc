#include "kv/log_storage.h"

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <chrono>

#include "bytes.h"
#include "fatal.h"
#include "file.h"
#include "schema.h"

namespace kv {

namespace {

Result<std::optional<std::string>> read_meta(const Db& db, std::string_view key) {
  std::string bytes;
  rocksdb::Status s =
      db.rocks()->Get(rocksdb::ReadOptions(), db.family(Family::kRaftMeta), key, &bytes);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return Status::io_error("read raft_meta: " + s.ToString());
  return std::optional<std::string>(std::move(bytes));
}

}  // namespace

std::vector<detail::TermRun> LogStorage::to_records(const std::vector<TermRun>& runs) {
  std::vector<detail::TermRun> out;
  out.reserve(runs.size());
  for (const TermRun& run : runs) out.push_back(detail::TermRun{run.first, run.term});
  return out;
}

std::vector<LogStorage::TermRun> LogStorage::from_records(
    const std::vector<detail::TermRun>& records) {
  std::vector<TermRun> out;
  out.reserve(records.size());
  for (const detail::TermRun& run : records) out.push_back(TermRun{run.first, run.term});
  return out;
}

// ---------------------------------------------------------------------------------------------
// LogView

std::optional<raft::Term> LogStorage::LogView::term(raft::Index index) const {
  if (index == compacted_index) return compacted_term;
  if (index < compacted_index || index > last_index) return std::nullopt;
  auto it = std::upper_bound(runs.begin(), runs.end(), index,
                             [](raft::Index i, const TermRun& run) { return i < run.first; });
  KV_CHECK(it != runs.begin(), "term runs cover the whole log");
  return std::prev(it)->term;
}

void LogStorage::LogView::truncate_from(raft::Index index) {
  while (!runs.empty() && runs.back().first >= index) runs.pop_back();
}

void LogStorage::LogView::append(raft::Index index, raft::Term term) {
  if (runs.empty() || runs.back().term != term) runs.push_back(TermRun{index, term});
}

void LogStorage::LogView::compact_to(raft::Index index, raft::Term term) {
  compacted_index = index;
  compacted_term = term;
  if (index >= last_index) {
    last_index = index;
    runs.clear();
    return;
  }
  // Drop the runs that end at or before `index`; the first survivor starts at index + 1.
  size_t drop = 0;
  while (drop + 1 < runs.size() && runs[drop + 1].first <= index + 1) ++drop;
  runs.erase(runs.begin(), runs.begin() + static_cast<std::ptrdiff_t>(drop));
  if (!runs.empty()) runs.front().first = std::max(runs.front().first, index + 1);
}

// ---------------------------------------------------------------------------------------------
// Opening

LogStorage::LogStorage(Db& db, StateMachine& state_machine, std::filesystem::path snapshot_dir,
                       const LogStorageOptions& options)
    : db_(db),
      state_machine_(state_machine),
      snapshot_dir_(std::move(snapshot_dir)),
      options_(options) {}

LogStorage::~LogStorage() = default;

Result<std::unique_ptr<LogStorage>> LogStorage::open(Db& db, StateMachine& state_machine,
                                                     const std::filesystem::path& snapshot_dir,
                                                     const LogStorageOptions& options) {
  std::unique_ptr<LogStorage> log(new LogStorage(db, state_machine, snapshot_dir, options));
  if (Status s = log->load(); !s.is_ok()) return s;
  return log;
}

Status LogStorage::load() {
  Result<std::optional<std::string>> hs = read_meta(db_, detail::kHardStateKey);
  Result<std::optional<std::string>> bounds = read_meta(db_, detail::kLogBoundsKey);
  Result<std::optional<std::string>> snap = read_meta(db_, detail::kSnapshotKey);
  if (!hs.is_ok()) return hs.status();
  if (!bounds.is_ok()) return bounds.status();
  if (!snap.is_ok()) return snap.status();
  if (*hs && !detail::decode_hard_state(**hs, &hard_state_)) {
    return Status::corruption("raft_meta hard_state");
  }
  detail::LogBounds b;
  if (*bounds && !detail::decode_log_bounds(**bounds, &b)) {
    return Status::corruption("raft_meta log_bounds");
  }
  if (*snap && !detail::decode_snapshot_meta(**snap, &snapshot_)) {
    return Status::corruption("raft_meta snapshot");
  }
  view_.compacted_index = b.compacted_index;
  view_.compacted_term = b.compacted_term;
  if (Status s = load_log(); !s.is_ok()) return s;
  if (hard_state_.commit_index > view_.last_index) {
    return Status::corruption("persisted commit index past the end of the log");
  }
  if (state_machine_.applied_index() < snapshot_.index) {
    return Status::corruption("state machine older than the snapshot the log was compacted to");
  }
  if (Status s = detail::create_directories_durably(db_.file_system(), snapshot_dir_); !s.is_ok()) {
    return s;
  }
  remove_stale_snapshot_files();
  return open_snapshot_file();
}

// Restores last_index and the term runs: from the persisted runs and the log's two ends, or, for
// a data directory from before the runs were persisted, by a scan whose result is then written.
Status LogStorage::load_log() {
  Result<std::optional<std::string>> record = read_meta(db_, detail::kTermRunsKey);
  if (!record.is_ok()) return record.status();
  if (*record) return load_log_from_term_runs(**record);
  if (Status s = scan_log(); !s.is_ok()) return s;
  rocksdb::WriteBatch batch;
  (void)batch.Put(db_.family(Family::kRaftMeta), detail::kTermRunsKey,
                  detail::encode_term_runs(to_records(view_.runs)));
  return db_.write(&batch, /*sync=*/true);
}

// The runs must cover exactly the stored log: its first entry is the one after the compaction
// point, the first run starts there, and the first and last entries carry their runs' terms.
// (A hole inside the log is found when it is read: read_entries() checks every index.)
Status LogStorage::load_log_from_term_runs(std::string_view record) {
  std::vector<detail::TermRun> runs;
  if (!detail::decode_term_runs(record, &runs)) return Status::corruption("raft_meta term_runs");
  view_.runs = from_records(runs);
  std::unique_ptr<rocksdb::Iterator> it(
      db_.rocks()->NewIterator(rocksdb::ReadOptions(), db_.family(Family::kLog)));
  it->SeekToFirst();
  if (!it->status().ok()) return Status::io_error("read log: " + it->status().ToString());
  if (!it->Valid()) {
    view_.last_index = view_.compacted_index;
    return runs.empty() ? Status() : Status::corruption("term runs of an empty log");
  }
  raft::Entry first;
  raft::Entry last;
  uint64_t first_index = 0;
  uint64_t last_index = 0;
  const bool first_ok = detail::decode_be64(it->key().ToStringView(), &first_index) &&
                        detail::decode_log_entry(first_index, it->value().ToStringView(), &first);
  it->SeekToLast();
  const bool last_ok = it->Valid() && detail::decode_be64(it->key().ToStringView(), &last_index) &&
                       detail::decode_log_entry(last_index, it->value().ToStringView(), &last);
  if (!it->status().ok()) return Status::io_error("read log: " + it->status().ToString());
  if (!first_ok || !last_ok || first_index != view_.compacted_index + 1 || runs.empty() ||
      runs.front().first != first_index || runs.back().first > last_index) {
    return Status::corruption("log entries " + std::to_string(first_index) + ".." +
                              std::to_string(last_index) + " and their term runs disagree");
  }
  view_.last_index = last_index;
  if (view_.term(first_index) != first.term || view_.term(last_index) != last.term) {
    return Status::corruption("log entries " + std::to_string(first_index) + ".." +
                              std::to_string(last_index) + " and their term runs disagree");
  }
  return Status();
}

// Rebuilds last_index and the term runs from the stored log, checking it has no holes.
Status LogStorage::scan_log() {
  std::unique_ptr<rocksdb::Iterator> it(
      db_.rocks()->NewIterator(rocksdb::ReadOptions(), db_.family(Family::kLog)));
  raft::Index expected = view_.compacted_index + 1;
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++expected) {
    uint64_t index = 0;
    raft::Entry entry;
    if (!detail::decode_be64(it->key().ToStringView(), &index) || index != expected ||
        !detail::decode_log_entry(index, it->value().ToStringView(), &entry)) {
      return Status::corruption("log entry " + std::to_string(expected) + " missing or malformed");
    }
    view_.append(index, entry.term);
  }
  if (!it->status().ok()) return Status::io_error("read log: " + it->status().ToString());
  view_.last_index = expected - 1;
  return Status();
}

// Adds the runs of `view` to `batch` when they differ from the durable ones: the batch that
// changes the log's terms carries them.
void LogStorage::stage_term_runs(const LogView& view, rocksdb::WriteBatch* batch) const {
  if (view.runs == view_.runs) return;
  (void)batch->Put(db_.family(Family::kRaftMeta), detail::kTermRunsKey,
                   detail::encode_term_runs(to_records(view.runs)));
}

Status LogStorage::open_snapshot_file() {
  if (snapshot_.index == 0) return Status();
  Result<detail::File> file = detail::File::open_read(
      db_.file_system(), snapshot_file_path(snapshot_dir_, snapshot_.index));
  if (!file.is_ok()) return file.status();
  Result<uint64_t> size = file->size();
  if (!size.is_ok()) return size.status();
  if (*size != snapshot_.size_bytes) return Status::corruption("snapshot file size differs");
  snapshot_file_ = std::make_unique<detail::File>(std::move(file).value());
  return Status();
}

// Everything in the snapshot directory except the current snapshot is left over from a crash
// (a staging area, a half-written or superseded file). Only called on open: later, a snapshot
// may be being written by another thread.
void LogStorage::remove_stale_snapshot_files() const {
  const std::filesystem::path current = snapshot_file_path(snapshot_dir_, snapshot_.index);
  Result<std::vector<std::string>> names = detail::list_dir(db_.file_system(), snapshot_dir_);
  if (!names.is_ok()) return;  // best effort, like the removals
  for (const std::string& name : *names) {
    const std::filesystem::path path = snapshot_dir_ / name;
    if (path != current || snapshot_.index == 0) {
      detail::remove_file_if_exists(db_.file_system(), path);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// raft::Storage reads

std::optional<raft::Term> LogStorage::term(raft::Index index) const { return view_.term(index); }

void LogStorage::entries(raft::Index lo, raft::Index hi, uint64_t max_bytes,
                         std::vector<raft::Entry>* out) const {
  KV_CHECK(lo >= first_index() && hi <= last_index() + 1 && lo <= hi,
           "entries() range inside the stored log");
  const raft::Index cache_first = cache_.empty() ? last_index() + 1 : cache_.front().index;
  uint64_t bytes = 0;
  const size_t before = out->size();
  if (lo < cache_first) {
    stats_.entry_cache_misses.fetch_add(1, std::memory_order_relaxed);
    const raft::Index disk_hi = std::min(hi, cache_first);
    read_entries(lo, disk_hi, max_bytes, &bytes, out);
    if (out->size() - before < disk_hi - lo) return;  // stopped by max_bytes
  } else {
    stats_.entry_cache_hits.fetch_add(1, std::memory_order_relaxed);
  }
  for (raft::Index i = std::max(lo, cache_first); i < hi; ++i) {
    const raft::Entry& e = cache_[i - cache_first];
    bytes += raft::entry_size_bytes(e);
    if (bytes > max_bytes && out->size() > before) break;
    out->push_back(e);
  }
}

// Entries [lo, hi) from RocksDB, adding to *bytes and stopping past max_bytes (after at least
// one entry in total).
void LogStorage::read_entries(raft::Index lo, raft::Index hi, uint64_t max_bytes, uint64_t* bytes,
                              std::vector<raft::Entry>* out) const {
  const std::string upper = detail::log_key(hi);
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_.rocks()->NewIterator(ro, db_.family(Family::kLog)));
  const size_t before = out->size();
  raft::Index expected = lo;
  for (it->Seek(detail::log_key(lo)); it->Valid(); it->Next(), ++expected) {
    uint64_t index = 0;
    raft::Entry e;
    if (!detail::decode_be64(it->key().ToStringView(), &index) || index != expected ||
        !detail::decode_log_entry(index, it->value().ToStringView(), &e)) {
      KV_FATAL("log entry missing or malformed", std::to_string(expected));
    }
    *bytes += raft::entry_size_bytes(e);
    if (*bytes > max_bytes && out->size() > before) return;
    out->push_back(std::move(e));
  }
  KV_READ_OK(it->status(), "log");
  KV_CHECK(expected == hi, "the log holds every entry in [first_index, last_index]");
}

raft::Payload LogStorage::snapshot_chunk(raft::Index snapshot_index, uint64_t offset,
                                         uint64_t max_bytes) const {
  if (snapshot_index == 0 || snapshot_index != snapshot_.index || offset >= snapshot_.size_bytes) {
    return raft::Payload();
  }
  const uint64_t n = std::min(max_bytes, snapshot_.size_bytes - offset);
  std::string bytes;
  Status s = snapshot_file_->read_at(offset, n, &bytes);
  if (!s.is_ok() || bytes.size() != n) {
    KV_FATAL("snapshot file unreadable", s.is_ok() ? std::string("short read") : s.to_string());
  }
  return raft::Payload(std::move(bytes));
}

// ---------------------------------------------------------------------------------------------
// persist

Status LogStorage::persist(const raft::Ready& ready) {
  const auto start = std::chrono::steady_clock::now();
  rocksdb::WriteBatch batch;
  LogView view = view_;
  raft::HardState hs = ready.hard_state.value_or(hard_state_);
  for (const raft::SnapshotChunk& chunk : ready.snapshot_chunks) {
    if (Status s = stage_chunk(chunk); !s.is_ok()) return s;
  }
  detail::SmState restored;
  if (ready.snapshot) {
    if (Status s = stage_install(*ready.snapshot, &batch, &view, &restored); !s.is_ok()) return s;
    // The snapshot covers only committed entries (§7).
    hs.commit_index = std::max(hs.commit_index, ready.snapshot->index);
  }
  stage_entries(ready.entries, &batch, &view);
  stage_term_runs(view, &batch);
  if (ready.hard_state || ready.snapshot) {
    (void)batch.Put(db_.family(Family::kRaftMeta), detail::kHardStateKey,
                    detail::encode_hard_state(hs));
  }
  if (batch.Count() > 0) {
    // A commit-index-only hard state is written unsynced (raft_core.h, Ready): the next synced
    // write of this WAL, or a clean stop, makes it durable; a power loss may take it, and the
    // commit index is then learnt again from the leader.
    const bool sync = options_.sync && ready.must_sync();
    if (Status s = db_.write(&batch, sync); !s.is_ok()) return s;
    if (sync) stats_.sync_count.fetch_add(1, std::memory_order_relaxed);
  }

  // Durable: now the in-memory picture may follow.
  const raft::Index previous_snapshot = snapshot_.index;
  view_ = std::move(view);
  hard_state_ = hs;
  if (ready.snapshot) {
    snapshot_ = *ready.snapshot;
    staging_.reset();
    if (Status s = open_snapshot_file(); !s.is_ok()) return s;
    state_machine_.restored(restored);
    // (A forced reinstall at our own snapshot's index has just replaced that very file.)
    if (previous_snapshot != 0 && previous_snapshot != snapshot_.index)
      detail::remove_file_if_exists(db_.file_system(),
                                    snapshot_file_path(snapshot_dir_, previous_snapshot));
    stats_.snapshots_installed.fetch_add(1, std::memory_order_relaxed);
  }
  update_cache(ready);

  const auto latency_us =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::steady_clock::now() - start)
                                .count());
  stats_.persist_count.fetch_add(1, std::memory_order_relaxed);
  stats_.last_persist_latency_us.store(latency_us, std::memory_order_relaxed);
  stats_.persist_latency_us_total.fetch_add(latency_us, std::memory_order_relaxed);
  stats_.entries_persisted.fetch_add(ready.entries.size(), std::memory_order_relaxed);
  stats_.bytes_persisted.fetch_add(batch.GetDataSize(), std::memory_order_relaxed);
  return Status();
}

Status LogStorage::stage_chunk(const raft::SnapshotChunk& chunk) {
  if (staging_ && staging_->verified && chunk.last && chunk.meta == staging_->meta &&
      chunk.offset + chunk.data.size() == staging_->size_bytes) {
    return Status();  // staged ahead by stage_and_verify_last_chunk()
  }
  if (chunk.offset == 0) {
    staging_.reset();
    Result<detail::File> file =
        detail::File::create(db_.file_system(), snapshot_staging_path(snapshot_dir_));
    if (!file.is_ok()) return file.status();
    staging_.emplace(
        Staging{chunk.meta, 0, std::make_unique<detail::File>(std::move(file).value())});
  } else if (!staging_ || staging_->meta != chunk.meta || chunk.offset != staging_->size_bytes) {
    // The whole meta, size and checksum included: two transfers never mix (issue 13 bug 5).
    return Status::invalid_argument("snapshot chunk at offset " + std::to_string(chunk.offset) +
                                    " does not continue the staged snapshot");
  }
  if (staging_->size_bytes + chunk.data.size() > chunk.meta.size_bytes) {
    return Status::corruption("snapshot chunk runs past the snapshot's size");
  }
  if (Status s = staging_->file->append(chunk.data.view()); !s.is_ok()) return s;
  staging_->size_bytes += chunk.data.size();
  return Status();
}

Status LogStorage::stage_and_verify_last_chunk(const raft::SnapshotChunk& chunk) {
  if (!chunk.last) return Status::invalid_argument("not the last chunk of a snapshot");
  if (chunk.offset != 0 && (!staging_ || staging_->verified || staging_->meta != chunk.meta ||
                            staging_->size_bytes != chunk.offset)) {
    return Status::invalid_argument("snapshot chunk at offset " + std::to_string(chunk.offset) +
                                    " does not continue the staged snapshot");
  }
  Status s = stage_chunk(chunk);
  if (s.is_ok() && staging_->size_bytes != chunk.meta.size_bytes) {
    s = Status::corruption("snapshot body of " + std::to_string(staging_->size_bytes) +
                           " bytes, its meta says " + std::to_string(chunk.meta.size_bytes));
  }
  if (s.is_ok()) {
    // The same decoding the install does, into a batch that is thrown away.
    rocksdb::WriteBatch scratch;
    detail::SmState state;
    s = state_machine_.stage_restore(snapshot_staging_path(snapshot_dir_), chunk.meta, &scratch,
                                     &state);
  }
  if (!s.is_ok()) {
    staging_.reset();
    return s;
  }
  staging_->verified = true;
  return Status();
}

// Adds to `batch` the replacement of the state machine and of the log by the staged snapshot,
// after checking it. The body is renamed into place first: until the batch is durable the
// current snapshot stays the old one, and open() deletes the new file as a leftover.
Status LogStorage::stage_install(const raft::SnapshotMeta& meta, rocksdb::WriteBatch* batch,
                                 LogView* view, detail::SmState* restored) {
  if (!staging_ || staging_->meta.index != meta.index || staging_->meta.term != meta.term ||
      staging_->size_bytes != meta.size_bytes) {
    return Status::corruption("install of snapshot " + std::to_string(meta.index) +
                              " without its complete staged body");
  }
  // A snapshot is newer than our log's compaction point; a forced one (raft_core.h,
  // send_snapshot) may be at or below our commit index and older than our own snapshot, and
  // then the log holds its entry: it is at least our compaction point.
  KV_CHECK(meta.index > view->compacted_index ||
               (meta.index == view->compacted_index && meta.term == view->compacted_term),
           "an installed snapshot is not older than our log");
  if (Status s = staging_->file->sync(); !s.is_ok()) return s;
  const std::filesystem::path staged = snapshot_staging_path(snapshot_dir_);
  if (Status s = state_machine_.stage_restore(staged, meta, batch, restored); !s.is_ok()) {
    return s;
  }
  if (Status s = detail::rename_durably(db_.file_system(), staged,
                                        snapshot_file_path(snapshot_dir_, meta.index));
      !s.is_ok()) {
    return s;
  }
  // §7: keep the entries after the snapshot if our log agrees at its index; else drop it all.
  const bool log_agrees = meta.index <= view->last_index && view->term(meta.index) == meta.term;
  const raft::Index drop_through = log_agrees ? meta.index : view->last_index;
  if (drop_through > view->compacted_index) {
    (void)batch->DeleteRange(db_.family(Family::kLog), detail::log_key(view->compacted_index + 1),
                             detail::log_key(drop_through + 1));
  }
  if (!log_agrees) view->last_index = meta.index;
  view->compact_to(meta.index, meta.term);
  (void)batch->Put(db_.family(Family::kRaftMeta), detail::kLogBoundsKey,
                   detail::encode_log_bounds({view->compacted_index, view->compacted_term}));
  (void)batch->Put(db_.family(Family::kRaftMeta), detail::kSnapshotKey,
                   detail::encode_snapshot_meta(meta));
  return Status();
}

// Appends `entries`, replacing any conflicting suffix (§5.3). Entries already covered by the
// snapshot are committed and identical, so they are skipped. A gap is a caller bug.
void LogStorage::stage_entries(const std::vector<raft::Entry>& entries, rocksdb::WriteBatch* batch,
                               LogView* view) const {
  if (entries.empty()) return;
  KV_CHECK(entries.front().index <= view->last_index + 1, "append leaves no gap in the log");
  const raft::Index new_last = entries.back().index;
  if (new_last <= view->compacted_index) return;
  const raft::Index first_new = std::max(entries.front().index, view->compacted_index + 1);
  if (new_last < view->last_index) {
    (void)batch->DeleteRange(db_.family(Family::kLog), detail::log_key(new_last + 1),
                             detail::log_key(view->last_index + 1));
  }
  view->truncate_from(first_new);
  for (const raft::Entry& e : entries) {
    KV_CHECK(e.index == entries.front().index + static_cast<raft::Index>(&e - entries.data()),
             "appended entries are contiguous");
    if (e.index < first_new) continue;
    (void)batch->Put(db_.family(Family::kLog), detail::log_key(e.index),
                     detail::encode_log_entry(e));
    view->append(e.index, e.term);
  }
  view->last_index = new_last;
}

void LogStorage::update_cache(const raft::Ready& ready) {
  while (!cache_.empty() && cache_.back().index > last_index()) {
    cache_bytes_ -= raft::entry_size_bytes(cache_.back());
    cache_.pop_back();
  }
  compact_cache();
  if (!ready.entries.empty() && ready.entries.back().index > view_.compacted_index) {
    const raft::Index first_new = std::max(ready.entries.front().index, first_index());
    while (!cache_.empty() && cache_.back().index >= first_new) {
      cache_bytes_ -= raft::entry_size_bytes(cache_.back());
      cache_.pop_back();
    }
    if (!cache_.empty() && cache_.back().index + 1 != first_new) {
      cache_.clear();  // cannot happen with contiguous batches; stay correct anyway
      cache_bytes_ = 0;
    }
    for (const raft::Entry& e : ready.entries) {
      if (e.index < first_new) continue;
      cache_bytes_ += raft::entry_size_bytes(e);
      cache_.push_back(e);
    }
  }
  while (!cache_.empty() && cache_bytes_ > options_.entry_cache_bytes_max) {
    cache_bytes_ -= raft::entry_size_bytes(cache_.front());
    cache_.pop_front();
  }
}

void LogStorage::compact_cache() {
  while (!cache_.empty() && cache_.front().index <= view_.compacted_index) {
    cache_bytes_ -= raft::entry_size_bytes(cache_.front());
    cache_.pop_front();
  }
}

// ---------------------------------------------------------------------------------------------
// Local snapshots

Status LogStorage::commit_snapshot(const SnapshotFile& file, const raft::ConfState& conf,
                                   uint64_t keep_entries) {
  if (file.index == 0) return Status::invalid_argument("a snapshot at index 0 holds nothing");
  if (file.index <= snapshot_.index) {
    // A newer snapshot was installed or committed meanwhile.
    if (file.index != snapshot_.index) detail::remove_file_if_exists(db_.file_system(), file.path);
    return Status();
  }
  const std::optional<raft::Term> term = view_.term(file.index);
  KV_CHECK(term.has_value(), "a local snapshot's index is in the log (applied => committed)");
  Result<detail::File> reader = detail::File::open_read(db_.file_system(), file.path);
  if (!reader.is_ok()) return reader.status();

  const raft::SnapshotMeta meta{file.index, *term, conf, file.size_bytes, file.checksum};
  rocksdb::WriteBatch batch;
  (void)batch.Put(db_.family(Family::kRaftMeta), detail::kSnapshotKey,
                  detail::encode_snapshot_meta(meta));
  LogView view = view_;
  const raft::Index compact_to = file.index > keep_entries ? file.index - keep_entries : 0;
  if (compact_to > view.compacted_index) {
    const std::optional<raft::Term> compact_term = view.term(compact_to);
    KV_CHECK(compact_term.has_value(), "compaction point inside the log");
    (void)batch.DeleteRange(db_.family(Family::kLog), detail::log_key(view.compacted_index + 1),
                            detail::log_key(compact_to + 1));
    view.compact_to(compact_to, *compact_term);
    (void)batch.Put(db_.family(Family::kRaftMeta), detail::kLogBoundsKey,
                    detail::encode_log_bounds({view.compacted_index, view.compacted_term}));
    stage_term_runs(view, &batch);
  }
  // Synced even if persist() is not: the previous snapshot file is deleted next.
  if (Status s = db_.write(&batch, /*sync=*/true); !s.is_ok()) return s;

  const raft::Index previous = snapshot_.index;
  view_ = std::move(view);
  snapshot_ = meta;
  snapshot_file_ = std::make_unique<detail::File>(std::move(reader).value());
  compact_cache();
  if (previous != 0)
    detail::remove_file_if_exists(db_.file_system(), snapshot_file_path(snapshot_dir_, previous));
  stats_.snapshots_committed.fetch_add(1, std::memory_order_relaxed);
  return Status();
}

LogStats LogStorage::stats() const {
  constexpr auto r = std::memory_order_relaxed;
  return LogStats{stats_.persist_count.load(r),           stats_.sync_count.load(r),
                  stats_.last_persist_latency_us.load(r), stats_.persist_latency_us_total.load(r),
                  stats_.entries_persisted.load(r),       stats_.bytes_persisted.load(r),
                  stats_.snapshots_installed.load(r),     stats_.snapshots_committed.load(r),
                  stats_.entry_cache_hits.load(r),        stats_.entry_cache_misses.load(r)};
}

}  // namespace kv
