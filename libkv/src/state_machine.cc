#include "kv/state_machine.h"

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/utilities/write_batch_with_index.h>

#include "bytes.h"
#include "fatal.h"
#include "hash.h"
#include "schema.h"
#include "snapshot_io.h"

namespace kv {

using detail::SmState;

namespace {

// The writes of one apply batch, readable before they are committed: an entry created and then
// updated in the same batch must see its own create.
class ApplyBatch {
 public:
  explicit ApplyBatch(const Db& db)
      : db_(db), batch_(rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true) {}

  [[nodiscard]] std::optional<std::string> get(Family family, std::string_view key) {
    rocksdb::PinnableSlice value;
    rocksdb::Status s = batch_.GetFromBatchAndDB(db_.rocks(), rocksdb::ReadOptions(),
                                                 db_.family(family), key, &value);
    if (!KV_READ_FOUND(s, family_name(family))) return std::nullopt;
    return value.ToString();
  }
  [[nodiscard]] std::optional<KvEntry> get_entry(std::string_view id) {
    std::optional<std::string> bytes = get(Family::kEntries, id);
    if (!bytes) return std::nullopt;
    Result<KvEntry> e = decode_entry(*bytes);
    if (!e.is_ok()) KV_FATAL("corrupt entry in the entries family", std::string(id));
    return std::move(e).value();
  }
  void put(Family family, std::string_view key, std::string_view value) {
    KV_READ_OK(batch_.Put(db_.family(family), key, value), "WriteBatchWithIndex::Put");
  }
  void remove(Family family, std::string_view key) {
    KV_READ_OK(batch_.Delete(db_.family(family), key), "WriteBatchWithIndex::Delete");
  }
  void put_entry(const KvEntry& e) {
    Result<std::string> bytes = encode_entry(e);
    KV_CHECK(bytes.is_ok(), "entries built from validated commands encode");
    put(Family::kEntries, e.id, *bytes);
  }
  [[nodiscard]] rocksdb::WriteBatch* write_batch() { return batch_.GetWriteBatch(); }

 private:
  const Db& db_;
  rocksdb::WriteBatchWithIndex batch_;
};

ApplyResult execute_create(const CreateCommand& c, raft::Index index, SmState& st,
                           ApplyBatch& batch) {
  if (std::optional<KvEntry> existing = batch.get_entry(c.id)) {
    return ApplyResult{index, ApplyStatus::kAlreadyExists, std::move(existing), false, index};
  }
  KvEntry e{c.id, c.key, c.value, /*seq=*/index, c.source_node, c.created_at_us};
  batch.put_entry(e);
  batch.put(Family::kByKey, detail::by_key_key(e.key, e.id), "");
  ++st.entry_count;
  return ApplyResult{index, ApplyStatus::kCreated, std::move(e), false, index};
}

ApplyResult execute_update(const UpdateCommand& c, raft::Index index, ApplyBatch& batch) {
  std::optional<KvEntry> e = batch.get_entry(c.id);
  if (!e) return ApplyResult{index, ApplyStatus::kNotFound, std::nullopt, false, index};
  if (c.new_key && *c.new_key != e->key) {
    batch.remove(Family::kByKey, detail::by_key_key(e->key, e->id));
    batch.put(Family::kByKey, detail::by_key_key(*c.new_key, e->id), "");
    e->key = *c.new_key;
  }
  e->value = c.value;
  batch.put_entry(*e);
  return ApplyResult{index, ApplyStatus::kUpdated, std::move(e), false, index};
}

ApplyResult execute_delete(const DeleteCommand& c, raft::Index index, SmState& st,
                           ApplyBatch& batch) {
  std::optional<KvEntry> e = batch.get_entry(c.id);
  if (!e) return ApplyResult{index, ApplyStatus::kNotFound, std::nullopt, false, index};
  batch.remove(Family::kEntries, e->id);
  batch.remove(Family::kByKey, detail::by_key_key(e->key, e->id));
  KV_CHECK(st.entry_count > 0, "deleting from a non-empty state");
  --st.entry_count;
  return ApplyResult{index, ApplyStatus::kDeleted, std::move(e), false, index};
}

ApplyResult execute(const Command& c, raft::Index index, SmState& st, ApplyBatch& batch) {
  if (const auto* create = std::get_if<CreateCommand>(&c.op)) {
    return execute_create(*create, index, st, batch);
  }
  if (const auto* update = std::get_if<UpdateCommand>(&c.op)) {
    return execute_update(*update, index, batch);
  }
  return execute_delete(std::get<DeleteCommand>(c.op), index, st, batch);
}

// Forgets the idempotency key recorded at index - window, if any. Every index passes here
// exactly once (no-ops included), so the table holds the keys of the last window-1 indexes.
void evict_idempotency(raft::Index index, SmState& st, ApplyBatch& batch) {
  if (index <= st.idem_window_entries) return;
  const std::string old_index_key = detail::encode_be64(index - st.idem_window_entries);
  std::optional<std::string> key = batch.get(Family::kIdemByIndex, old_index_key);
  if (!key) return;
  batch.remove(Family::kIdemByIndex, old_index_key);
  batch.remove(Family::kIdem, *key);
  KV_CHECK(st.idem_count > 0, "evicting from a non-empty idempotency table");
  --st.idem_count;
}

ApplyResult apply_one(const raft::Entry& entry, SmState& st, ApplyBatch& batch) {
  evict_idempotency(entry.index, st, batch);
  if (entry.type == raft::EntryType::kNoop) {
    return ApplyResult{entry.index, ApplyStatus::kNoop, std::nullopt, false, entry.index};
  }
  Result<Command> command = decode_command(entry.data.view());
  if (!command.is_ok()) {
    return ApplyResult{entry.index, ApplyStatus::kInvalidCommand, std::nullopt, false, entry.index};
  }
  const std::string& idem_key = command->idempotency_key;
  if (!idem_key.empty()) {
    if (std::optional<std::string> stored = batch.get(Family::kIdem, idem_key)) {
      Result<ApplyResult> original = decode_apply_result(*stored);
      if (!original.is_ok()) KV_FATAL("corrupt record in the idem family", idem_key);
      ApplyResult replay = std::move(original).value();
      replay.original_index = replay.index;
      replay.index = entry.index;
      replay.replayed = true;
      return replay;
    }
  }
  ApplyResult result = execute(*command, entry.index, st, batch);
  if (!idem_key.empty()) {
    Result<std::string> record = encode_apply_result(result);
    KV_CHECK(record.is_ok(), "results of validated commands encode");
    batch.put(Family::kIdem, idem_key, *record);
    batch.put(Family::kIdemByIndex, detail::encode_be64(entry.index), idem_key);
    ++st.idem_count;
  }
  return result;
}

KvEntry decode_stored_entry(std::string_view bytes) {
  Result<KvEntry> e = decode_entry(bytes);
  if (!e.is_ok()) KV_FATAL("corrupt entry in the entries family", e.status().message());
  return std::move(e).value();
}

// Releases a RocksDB snapshot when a read finishes.
class ScopedSnapshot {
 public:
  explicit ScopedSnapshot(rocksdb::DB* db) : db_(db), snapshot_(db->GetSnapshot()) {}
  ~ScopedSnapshot() { db_->ReleaseSnapshot(snapshot_); }
  ScopedSnapshot(const ScopedSnapshot&) = delete;
  ScopedSnapshot& operator=(const ScopedSnapshot&) = delete;
  [[nodiscard]] rocksdb::ReadOptions read_options() const {
    rocksdb::ReadOptions ro;
    ro.snapshot = snapshot_;
    return ro;
  }

 private:
  rocksdb::DB* db_;
  const rocksdb::Snapshot* snapshot_;
};

}  // namespace

Result<std::unique_ptr<StateMachine>> StateMachine::open(Db& db,
                                                         const StateMachineOptions& options) {
  if (options.idempotency_window_entries == 0) {
    return Status::invalid_argument("idempotency window must be at least 1 entry");
  }
  SmState state = detail::read_sm_state(db, rocksdb::ReadOptions());
  if (state.idem_window_entries != 0 &&
      state.idem_window_entries != options.idempotency_window_entries) {
    return Status::invalid_argument(
        "idempotency window differs from the one this state was built with (" +
        std::to_string(state.idem_window_entries) + "); all replicas must use the same");
  }
  if (state.idem_window_entries == 0) {
    // Fresh database: record the window so that a later open with another value is caught.
    state.idem_window_entries = options.idempotency_window_entries;
    rocksdb::WriteBatch batch;
    (void)batch.Put(db.family(Family::kStateMeta), detail::kStateKey,
                    detail::encode_sm_state(state));
    if (Status s = db.write(&batch, /*sync=*/true); !s.is_ok()) return s;
  }
  std::unique_ptr<StateMachine> sm(new StateMachine(db, state.idem_window_entries));
  sm->publish(state);
  return sm;
}

StateMachine::StateMachine(Db& db, uint64_t idem_window_entries)
    : db_(db), idem_window_entries_(idem_window_entries) {}

StateMachine::~StateMachine() = default;

void StateMachine::publish(const SmState& state) {
  entry_count_.store(state.entry_count, std::memory_order_release);
  idem_count_.store(state.idem_count, std::memory_order_release);
  applied_index_.store(state.applied_index, std::memory_order_release);
}

Result<std::vector<ApplyResult>> StateMachine::apply_batch(std::span<const raft::Entry> entries) {
  std::vector<ApplyResult> results;
  if (entries.empty()) return results;
  // Only this thread writes, so the published counters are the current state.
  SmState st{applied_index(), count(), idempotency_key_count(), idem_window_entries_};
  ApplyBatch batch(db_);
  results.reserve(entries.size());
  for (const raft::Entry& entry : entries) {
    KV_CHECK(entry.index == st.applied_index + 1, "entries applied in log order, without gaps");
    results.push_back(apply_one(entry, st, batch));
    st.applied_index = entry.index;
  }
  batch.put(Family::kStateMeta, detail::kStateKey, detail::encode_sm_state(st));
  if (Status s = db_.write(batch.write_batch(), /*sync=*/false); !s.is_ok()) return s;
  publish(st);
  return results;
}

Result<ApplyResult> StateMachine::apply(const raft::Entry& entry) {
  Result<std::vector<ApplyResult>> results = apply_batch(std::span<const raft::Entry>(&entry, 1));
  if (!results.is_ok()) return results.status();
  return std::move(results->front());
}

SnapshotCapture StateMachine::capture_snapshot() const {
  const rocksdb::Snapshot* snapshot = db_.rocks()->GetSnapshot();
  // The index as the view itself records it, whatever was published meanwhile.
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  return SnapshotCapture(db_, snapshot, detail::read_sm_state(db_, ro).applied_index);
}

std::optional<KvEntry> StateMachine::get(std::string_view id) const {
  if (!is_canonical_uuid(id)) return std::nullopt;
  std::string bytes;
  const bool found = KV_READ_FOUND(
      db_.rocks()->Get(rocksdb::ReadOptions(), db_.family(Family::kEntries), id, &bytes),
      "entries");
  if (!found) return std::nullopt;
  return decode_stored_entry(bytes);
}

std::vector<KvEntry> StateMachine::list(std::string_view after_id, size_t limit) const {
  limit = std::min(limit, kReadLimitMax);
  std::vector<KvEntry> out;
  if (limit == 0) return out;
  std::unique_ptr<rocksdb::Iterator> it(
      db_.rocks()->NewIterator(rocksdb::ReadOptions(), db_.family(Family::kEntries)));
  if (after_id.empty()) {
    it->SeekToFirst();
  } else {
    it->Seek(after_id);
    if (it->Valid() && it->key().ToStringView() == after_id) it->Next();
  }
  for (; it->Valid() && out.size() < limit; it->Next()) {
    out.push_back(decode_stored_entry(it->value().ToStringView()));
  }
  KV_READ_OK(it->status(), "entries");
  return out;
}

std::vector<KvEntry> StateMachine::find_by_key(std::string_view key, size_t limit) const {
  limit = std::min(limit, kReadLimitMax);
  std::vector<KvEntry> out;
  if (limit == 0 || key.size() > kKeyBytesMax) return out;
  // The index and the entries must be read at the same point, or a concurrent delete could
  // leave an index key whose entry is gone.
  ScopedSnapshot snapshot(db_.rocks());
  const rocksdb::ReadOptions ro = snapshot.read_options();
  const std::string prefix = detail::by_key_prefix(key);
  std::unique_ptr<rocksdb::Iterator> it(db_.rocks()->NewIterator(ro, db_.family(Family::kByKey)));
  for (it->Seek(prefix); it->Valid() && out.size() < limit; it->Next()) {
    const std::string_view index_key = it->key().ToStringView();
    if (!index_key.starts_with(prefix)) break;
    KV_CHECK(index_key.size() == prefix.size() + kIdBytes, "by_key keys end in one id");
    const std::string_view id = index_key.substr(prefix.size());
    std::string bytes;
    const bool found =
        KV_READ_FOUND(db_.rocks()->Get(ro, db_.family(Family::kEntries), id, &bytes), "entries");
    KV_CHECK(found, "every by_key key names an existing entry");
    out.push_back(decode_stored_entry(bytes));
  }
  KV_READ_OK(it->status(), "by_key");
  return out;
}

StateHash StateMachine::state_hash() const {
  ScopedSnapshot snapshot(db_.rocks());
  rocksdb::ReadOptions ro = snapshot.read_options();
  ro.fill_cache = false;
  const SmState st = detail::read_sm_state(db_, ro);
  detail::Xxh64 hash;
  std::string prefix;
  uint64_t n = 0;
  std::unique_ptr<rocksdb::Iterator> it(db_.rocks()->NewIterator(ro, db_.family(Family::kEntries)));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    prefix.clear();
    detail::ByteWriter(&prefix).put_u32(static_cast<uint32_t>(it->value().size()));
    hash.update(prefix);
    hash.update(it->value().ToStringView());
    ++n;
  }
  KV_READ_OK(it->status(), "entries");
  KV_CHECK(n == st.entry_count, "entry count in sm_meta matches the entries family");
  return StateHash{st.applied_index, n, hash.digest()};
}

Status StateMachine::stage_restore(const std::filesystem::path& path,
                                   const raft::SnapshotMeta& meta, rocksdb::WriteBatch* batch,
                                   SmState* restored_state) const {
  // Clear first: within one batch, later writes win over the range deletions.
  const std::string end = detail::keyspace_end();
  for (Family f : {Family::kEntries, Family::kByKey, Family::kIdem, Family::kIdemByIndex,
                   Family::kStateMeta}) {
    (void)batch->DeleteRange(db_.family(f), "", end);
  }
  Result<detail::LoadedSnapshot> loaded = detail::load_snapshot_body(db_, path, batch);
  if (!loaded.is_ok()) return loaded.status();
  if (loaded->size_bytes != meta.size_bytes || loaded->checksum != meta.checksum) {
    return Status::corruption("snapshot " + std::to_string(meta.index) +
                              " fails its size or checksum");
  }
  if (loaded->state.applied_index != meta.index) {
    return Status::corruption("snapshot body is at another index than its meta");
  }
  if (loaded->state.idem_window_entries != idem_window_entries_) {
    return Status::invalid_argument("snapshot made with another idempotency window");
  }
  *restored_state = loaded->state;
  return Status();
}

void StateMachine::restored(const SmState& state) { publish(state); }

}  // namespace kv
