#include "kv/state_machine.h"

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/utilities/write_batch_with_index.h>

#include <algorithm>
#include <deque>

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
  // `front` is StateMachine::idem_front_, kept in step with this batch's writes to the expiry
  // index (read_front(), note_new_record(), and the callers' pops).
  ApplyBatch(const Db& db, std::deque<detail::IdemFrontRecord>& front, size_t read_ahead)
      : db_(db),
        batch_(rocksdb::BytewiseComparator(), 0, /*overwrite_key=*/true),
        front_(front),
        read_ahead_(std::max<size_t>(read_ahead, 1)) {}

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

  // The front of the expiry index: the records from its first one, in key order.
  [[nodiscard]] std::deque<detail::IdemFrontRecord>& front() { return front_; }
  // Reads up to read_ahead records of the expiry index (the DB plus this batch) with keys after
  // `after` into the empty front; false if there are none. `after` is a key every remaining
  // record follows: the last one evicted, or the earliest live expiry as a prefix.
  [[nodiscard]] bool read_front(std::string_view after);
  // A record just put into the expiry index: held in the front if it sorts before the front's
  // last record (after it, a later read_front() finds it).
  void note_new_record(detail::IdemFrontRecord record) {
    if (front_.empty() || record.index_key >= front_.back().index_key) return;
    auto at = std::lower_bound(
        front_.begin(), front_.end(), record.index_key,
        [](const detail::IdemFrontRecord& r, const std::string& key) { return r.index_key < key; });
    front_.insert(at, std::move(record));
  }

 private:
  const Db& db_;
  rocksdb::WriteBatchWithIndex batch_;
  std::deque<detail::IdemFrontRecord>& front_;
  const size_t read_ahead_;
};

bool ApplyBatch::read_front(std::string_view after) {
  KV_CHECK(front_.empty(), "the front is read ahead only once used up");
  const Family family = Family::kIdemByExpiry;
  std::unique_ptr<rocksdb::Iterator> it(batch_.NewIteratorWithBase(
      db_.family(family), db_.rocks()->NewIterator(rocksdb::ReadOptions(), db_.family(family))));
  for (it->Seek(after); it->Valid() && front_.size() < read_ahead_; it->Next()) {
    if (it->key().ToStringView() == after) continue;
    detail::IdemFrontRecord r;
    std::string_view idem_key;
    detail::ByteReader value(it->value().ToStringView());
    if (!detail::split_idem_expiry_key(it->key().ToStringView(), &r.expires_at_ms, &idem_key) ||
        !value.get_u64(&r.bytes)) {
      KV_FATAL("corrupt key in the idem_by_expiry family", it->key().ToString(true));
    }
    r.index_key = it->key().ToString();
    r.idem_key = std::string(idem_key);
    front_.push_back(std::move(r));
  }
  KV_READ_OK(it->status(), family_name(family));
  return !front_.empty();
}

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

// Evictions of one apply batch, added to the process's counters once the batch is durable.
struct Evictions {
  uint64_t ttl = 0;
  uint64_t bytes = 0;
};

// Drops idempotency records from the front of the expiry index (soonest expiry first, ties by
// key) while `more(expires_at_ms, table_bytes_now)` holds, and sets st.next_expiry_ms to the first
// record kept. Returns how many it dropped. The records come from the batch's front, read ahead
// in bulk (StateMachineOptions::idem_front_read_ahead).
template <typename More>
uint64_t evict_front(SmState& st, ApplyBatch& batch, More&& more) {
  KV_CHECK(st.idem_count > 0 && st.next_expiry_ms > 0, "evicting from a non-empty table");
  std::deque<detail::IdemFrontRecord>& front = batch.front();
  // Where a read-ahead seeks: the earliest live expiry, later the last key evicted. Seeking
  // there rather than to the first key steps over none of the tombstones that evictions leave
  // at the front until compaction (quadratic at a steady write rate otherwise).
  std::string resume = detail::encode_be64(st.next_expiry_ms);
  uint64_t evicted = 0;
  uint64_t next_expiry_ms = 0;
  while (!front.empty() || batch.read_front(resume)) {
    detail::IdemFrontRecord& r = front.front();
    if (r.bytes > st.idem_bytes) {
      KV_FATAL("corrupt size in the idem_by_expiry family", r.index_key);
    }
    if (!more(r.expires_at_ms, st.idem_bytes)) {
      next_expiry_ms = r.expires_at_ms;
      break;
    }
    batch.remove(Family::kIdemByExpiry, r.index_key);
    batch.remove(Family::kIdem, r.idem_key);
    st.idem_bytes -= r.bytes;
    ++evicted;
    resume = std::move(r.index_key);
    front.pop_front();
  }
  KV_CHECK(st.idem_count >= evicted, "evicting from a table that holds the records");
  st.idem_count -= evicted;
  st.next_expiry_ms = next_expiry_ms;
  KV_CHECK((st.idem_count == 0) == (st.next_expiry_ms == 0), "next expiry tracks the table");
  return evicted;
}

// Advances the clock to the command's stamp and forgets the records it has reached. The scan
// runs only when the clock reaches the earliest expiry, which sm_meta keeps.
void advance_clock(uint64_t stamp_ms, SmState& st, ApplyBatch& batch, Evictions& evictions) {
  st.clock_ms = std::max(st.clock_ms, stamp_ms);
  if (st.next_expiry_ms == 0 || st.clock_ms < st.next_expiry_ms) return;
  const uint64_t clock_ms = st.clock_ms;
  evictions.ttl += evict_front(st, batch, [clock_ms](uint64_t expires_at_ms, uint64_t) {
    return expires_at_ms <= clock_ms;
  });
}

// The value a create or an update writes; null for a delete.
const std::string* request_value(const Command& command) {
  if (const auto* create = std::get_if<CreateCommand>(&command.op)) return &create->value;
  if (const auto* update = std::get_if<UpdateCommand>(&command.op)) return &update->value;
  return nullptr;
}

// Records `result` for the command's key, first dropping the soonest-expiring records until the
// new one fits the command's byte bound.
void record_idempotency(const Command& command, const ApplyResult& result, SmState& st,
                        ApplyBatch& batch, Evictions& evictions) {
  // Saturating: a stamp near the end of time must not wrap into an already-expired record.
  const uint64_t ttl_ms = command.idempotency_ttl_ms;
  const uint64_t expires_at_ms =
      st.clock_ms > UINT64_MAX - ttl_ms ? UINT64_MAX : st.clock_ms + ttl_ms;
  IdempotencyRecord record{expires_at_ms, request_fingerprint(command), result, false};
  if (const std::string* value = request_value(command);
      value != nullptr && record.result.entry.has_value() &&
      (result.status == ApplyStatus::kCreated || result.status == ApplyStatus::kUpdated)) {
    KV_CHECK(record.result.entry->value == *value, "a written entry holds the request's value");
    record.result.entry->value.clear();  // a retry carries it (kv/codec.h, IdempotencyRecord)
    record.value_from_request = true;
  }
  Result<std::string> bytes = encode_idempotency_record(record);
  KV_CHECK(bytes.is_ok(), "results of validated commands encode");
  const uint64_t record_bytes = detail::idem_record_bytes(command.idempotency_key, *bytes);
  const uint64_t bound = command.idempotency_table_bytes_max;
  if (st.idem_count > 0 && st.idem_bytes + record_bytes > bound) {  // evict_front needs one
    evictions.bytes += evict_front(st, batch, [record_bytes, bound](uint64_t, uint64_t bytes_now) {
      return bytes_now > 0 && bytes_now + record_bytes > bound;
    });
  }
  std::string accounted;
  detail::ByteWriter(&accounted).put_u64(record_bytes);
  std::string index_key = detail::idem_expiry_key(record.expires_at_ms, command.idempotency_key);
  batch.put(Family::kIdem, command.idempotency_key, *bytes);
  batch.put(Family::kIdemByExpiry, index_key, accounted);
  batch.note_new_record(detail::IdemFrontRecord{std::move(index_key), command.idempotency_key,
                                                record.expires_at_ms, record_bytes});
  ++st.idem_count;
  st.idem_bytes += record_bytes;
  if (st.next_expiry_ms == 0 || record.expires_at_ms < st.next_expiry_ms) {
    st.next_expiry_ms = record.expires_at_ms;
  }
}

// The answer from the table for a keyed command, if its key is recorded.
std::optional<ApplyResult> idempotent_answer(const Command& command, raft::Index index,
                                             const SmState& st, ApplyBatch& batch) {
  std::optional<std::string> stored = batch.get(Family::kIdem, command.idempotency_key);
  if (!stored) return std::nullopt;
  Result<IdempotencyRecord> record = decode_idempotency_record(*stored);
  if (!record.is_ok()) KV_FATAL("corrupt record in the idem family", command.idempotency_key);
  KV_CHECK(record->expires_at_ms > st.clock_ms, "expired records are evicted before lookups");
  if (record->fingerprint != request_fingerprint(command)) {
    return ApplyResult{index, ApplyStatus::kIdempotencyKeyReused, std::nullopt, false,
                       record->result.index};
  }
  ApplyResult replay = std::move(record->result);
  if (record->value_from_request) {
    const std::string* value = request_value(command);
    KV_CHECK(value != nullptr, "a matching fingerprint is the same kind of request");
    replay.entry->value = *value;
  }
  replay.original_index = replay.index;
  replay.index = index;
  replay.replayed = true;
  return replay;
}

ApplyResult apply_one(const raft::Entry& entry, SmState& st, ApplyBatch& batch,
                      Evictions& evictions) {
  if (entry.type == raft::EntryType::kNoop) {
    return ApplyResult{entry.index, ApplyStatus::kNoop, std::nullopt, false, entry.index};
  }
  Result<Command> command = decode_command(entry.data.view());
  if (!command.is_ok()) {
    return ApplyResult{entry.index, ApplyStatus::kInvalidCommand, std::nullopt, false, entry.index};
  }
  advance_clock(command->stamp_unix_ms, st, batch, evictions);
  const bool keyed = !command->idempotency_key.empty();
  if (keyed) {
    if (std::optional<ApplyResult> answer = idempotent_answer(*command, entry.index, st, batch)) {
      return std::move(*answer);
    }
  }
  ApplyResult result = execute(*command, entry.index, st, batch);
  if (keyed) record_idempotency(*command, result, st, batch, evictions);
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
  std::string bytes;
  const bool found =
      KV_READ_FOUND(db.rocks()->Get(rocksdb::ReadOptions(), db.family(Family::kStateMeta),
                                    detail::kStateKey, &bytes),
                    "sm_meta");
  detail::SmState probe;
  if (found && detail::decode_sm_state(bytes, &probe) == detail::SmStateDecode::kOldVersion) {
    return Status::invalid_argument(
        "the state machine in " + db.dir().string() +
        " was written in an older format (before issue 13); remove the data directory");
  }
  const SmState state = detail::read_sm_state(db, rocksdb::ReadOptions());
  std::unique_ptr<StateMachine> sm(new StateMachine(db, options));
  sm->publish(state);
  return sm;
}

StateMachine::StateMachine(Db& db, const StateMachineOptions& options)
    : db_(db), options_(options) {}

StateMachine::~StateMachine() = default;

void StateMachine::publish(const SmState& state) {
  entry_count_.store(state.entry_count, std::memory_order_release);
  idem_count_.store(state.idem_count, std::memory_order_release);
  idem_bytes_.store(state.idem_bytes, std::memory_order_release);
  clock_ms_.store(state.clock_ms, std::memory_order_release);
  applied_index_.store(state.applied_index, std::memory_order_release);
}

Result<std::vector<ApplyResult>> StateMachine::apply_batch(std::span<const raft::Entry> entries) {
  std::vector<ApplyResult> results;
  if (entries.empty()) return results;
  // Only this thread writes, so the stored meta is the current state (next_expiry_ms is not
  // published, so read it back; one point read per batch).
  SmState st = detail::read_sm_state(db_, rocksdb::ReadOptions());
  KV_CHECK(st.applied_index == applied_index(), "the published state is the stored one");
  ApplyBatch batch(db_, idem_front_, options_.idem_front_read_ahead);
  Evictions evictions;
  results.reserve(entries.size());
  for (const raft::Entry& entry : entries) {
    KV_CHECK(entry.index == st.applied_index + 1, "entries applied in log order, without gaps");
    results.push_back(apply_one(entry, st, batch, evictions));
    st.applied_index = entry.index;
  }
  batch.put(Family::kStateMeta, detail::kStateKey, detail::encode_sm_state(st));
  if (Status s = db_.write(batch.write_batch(), /*sync=*/false); !s.is_ok()) {
    idem_front_.clear();  // it follows the batch that was not written
    return s;
  }
  idem_evicted_ttl_.fetch_add(evictions.ttl, std::memory_order_relaxed);
  idem_evicted_bytes_.fetch_add(evictions.bytes, std::memory_order_relaxed);
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

IdempotencyStats StateMachine::idempotency_stats() const {
  return IdempotencyStats{
      idem_count_.load(std::memory_order_acquire), idem_bytes_.load(std::memory_order_acquire),
      clock_ms_.load(std::memory_order_acquire), idem_evicted_ttl_.load(std::memory_order_relaxed),
      idem_evicted_bytes_.load(std::memory_order_relaxed)};
}

std::vector<KvEntry> StateMachine::find_by_key(std::string_view key, size_t limit,
                                               std::string_view after_id) const {
  limit = std::min(limit, kReadLimitMax);
  std::vector<KvEntry> out;
  if (limit == 0 || key.size() > kKeyBytesMax) return out;
  // The index and the entries must be read at the same point, or a concurrent delete could
  // leave an index key whose entry is gone.
  ScopedSnapshot snapshot(db_.rocks());
  const rocksdb::ReadOptions ro = snapshot.read_options();
  const std::string prefix = detail::by_key_prefix(key);
  std::unique_ptr<rocksdb::Iterator> it(db_.rocks()->NewIterator(ro, db_.family(Family::kByKey)));
  // Ids in the index sort bytewise after the prefix: seek straight past after_id.
  const std::string start = after_id.empty() ? prefix : detail::by_key_key(key, after_id);
  it->Seek(start);
  if (!after_id.empty() && it->Valid() && it->key().ToStringView() == start) it->Next();
  for (; it->Valid() && out.size() < limit; it->Next()) {
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
  for (Family f : {Family::kEntries, Family::kByKey, Family::kIdem, Family::kIdemByExpiry,
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
  *restored_state = loaded->state;
  return Status();
}

void StateMachine::restored(const SmState& state) {
  idem_front_.clear();  // the snapshot replaced the table
  publish(state);
}

}  // namespace kv
