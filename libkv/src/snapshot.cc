#include "kv/snapshot.h"

#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>

#include "bytes.h"
#include "fatal.h"
#include "file.h"
#include "hash.h"
#include "kv/db.h"
#include "schema.h"
#include "snapshot_io.h"

namespace kv {

using detail::ByteReader;
using detail::ByteWriter;

namespace {

constexpr size_t kHeaderBytes = 1 + 4 * 8;  // version, applied index, clock, two counts
// Buffered I/O unit: large enough to amortize system calls, small enough to stay cache-friendly.
constexpr size_t kIoChunkBytes = 1 << 20;

// Appends to a file through a buffer, hashing and counting what it writes.
class BodyWriter {
 public:
  explicit BodyWriter(detail::File* file) : file_(file) {}

  void put_u32(uint32_t v) { ByteWriter(&buffer_).put_u32(v); }
  void put_u64(uint64_t v) { ByteWriter(&buffer_).put_u64(v); }
  void put_u8(uint8_t v) { ByteWriter(&buffer_).put_u8(v); }
  void put_bytes(std::string_view bytes) { ByteWriter(&buffer_).put_bytes(bytes); }

  [[nodiscard]] Status maybe_flush() {
    return buffer_.size() >= kIoChunkBytes ? flush() : Status();
  }
  [[nodiscard]] Status flush() {
    hash_.update(buffer_);
    size_bytes_ += buffer_.size();
    Status s = file_->append(buffer_);
    buffer_.clear();
    return s;
  }
  [[nodiscard]] uint64_t size_bytes() const { return size_bytes_; }
  [[nodiscard]] uint64_t checksum() const { return hash_.digest(); }

 private:
  detail::File* file_;
  std::string buffer_;
  detail::Xxh64 hash_;
  uint64_t size_bytes_ = 0;
};

// Reads a file front to back through a buffer, hashing and counting what it hands out.
class BodyReader {
 public:
  explicit BodyReader(const detail::File* file) : file_(file) {}

  // Exactly n bytes, or a corruption Status at end of file.
  [[nodiscard]] Status read_exact(size_t n, std::string* out) {
    out->clear();
    while (out->size() < n) {
      if (pos_ == buffer_.size()) {
        if (Status s = refill(); !s.is_ok()) return s;
        if (buffer_.empty()) return Status::corruption("snapshot body ends early");
      }
      const size_t take = std::min(n - out->size(), buffer_.size() - pos_);
      out->append(buffer_, pos_, take);
      pos_ += take;
    }
    return Status();
  }
  [[nodiscard]] Result<uint32_t> read_u32() {
    std::string bytes;
    if (Status s = read_exact(4, &bytes); !s.is_ok()) return s;
    uint32_t v = 0;
    ByteReader r(bytes);
    (void)r.get_u32(&v);
    return v;
  }
  [[nodiscard]] Result<bool> at_end() {
    if (pos_ < buffer_.size()) return false;
    if (Status s = refill(); !s.is_ok()) return s;
    return buffer_.empty();
  }
  [[nodiscard]] uint64_t size_bytes() const { return offset_; }
  [[nodiscard]] uint64_t checksum() const { return hash_.digest(); }

 private:
  [[nodiscard]] Status refill() {
    if (Status s = file_->read_at(offset_, kIoChunkBytes, &buffer_); !s.is_ok()) return s;
    pos_ = 0;
    offset_ += buffer_.size();
    hash_.update(buffer_);
    return Status();
  }

  const detail::File* file_;
  std::string buffer_;
  size_t pos_ = 0;
  uint64_t offset_ = 0;
  detail::Xxh64 hash_;
};

// A length-prefixed record of at most max_bytes.
Status read_record(BodyReader& r, size_t max_bytes, std::string* out) {
  Result<uint32_t> n = r.read_u32();
  if (!n.is_ok()) return n.status();
  if (*n > max_bytes) return Status::corruption("snapshot record longer than its bound");
  return r.read_exact(*n, out);
}

// Streams every key/value of `family` (as seen by `snapshot`) through `emit`; returns the count.
template <typename Emit>
Result<uint64_t> for_each_record(const Db& db, const rocksdb::Snapshot* snapshot, Family family,
                                 Emit&& emit) {
  rocksdb::ReadOptions ro;
  ro.snapshot = snapshot;
  ro.fill_cache = false;  // a full scan would evict the working set
  std::unique_ptr<rocksdb::Iterator> it(db.rocks()->NewIterator(ro, db.family(family)));
  uint64_t count = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (Status s = emit(it->key().ToStringView(), it->value().ToStringView()); !s.is_ok()) {
      return s;
    }
    ++count;
  }
  KV_READ_OK(it->status(), family_name(family));
  return count;
}

}  // namespace

std::filesystem::path snapshot_file_path(const std::filesystem::path& snapshot_dir,
                                         raft::Index index) {
  char name[64];
  std::snprintf(name, sizeof(name), "snap-%020llu.bin", static_cast<unsigned long long>(index));
  return snapshot_dir / name;
}

std::filesystem::path snapshot_staging_path(const std::filesystem::path& snapshot_dir) {
  return snapshot_dir / "staging.bin";
}

SnapshotCapture::SnapshotCapture(SnapshotCapture&& other) noexcept
    : db_(other.db_), snapshot_(std::exchange(other.snapshot_, nullptr)), index_(other.index_) {}

SnapshotCapture::~SnapshotCapture() {
  if (snapshot_ != nullptr) db_->rocks()->ReleaseSnapshot(snapshot_);
}

Result<SnapshotFile> write_snapshot_file(const SnapshotCapture& capture,
                                         const std::filesystem::path& snapshot_dir) {
  const Db& db = *capture.db_;
  rocksdb::ReadOptions at_capture;
  at_capture.snapshot = capture.snapshot_;
  const detail::SmState state = detail::read_sm_state(db, at_capture);
  KV_CHECK(state.applied_index == capture.index(), "capture index matches its view");

  SnapshotFile out;
  out.index = capture.index();
  out.path = snapshot_file_path(snapshot_dir, capture.index());
  // A name no other writer uses: two writers of the same index (a background snapshot and a
  // forced one) must not truncate each other's file; the rename of either gives the same bytes.
  static std::atomic<uint64_t> tmp_serial{0};
  std::filesystem::path tmp = out.path;
  // (Appended piecewise: g++ 12 warns falsely, -Wrestrict, on "." + std::to_string(n).)
  tmp += ".";
  tmp += std::to_string(tmp_serial.fetch_add(1) + 1);
  tmp += ".tmp";
  Result<detail::File> file = detail::File::create(db.file_system(), tmp);
  if (!file.is_ok()) return file.status();
  BodyWriter w(&*file);
  w.put_u8(kSnapshotFormatVersion);
  w.put_u64(state.applied_index);
  w.put_u64(state.clock_ms);
  w.put_u64(state.entry_count);
  w.put_u64(state.idem_count);

  Result<uint64_t> entries = for_each_record(db, capture.snapshot_, Family::kEntries,
                                             [&](std::string_view, std::string_view value) {
                                               w.put_bytes(value);
                                               return w.maybe_flush();
                                             });
  if (!entries.is_ok()) return entries.status();
  KV_CHECK(*entries == state.entry_count, "entry count in sm_meta matches the entries family");
  Result<uint64_t> idem = for_each_record(db, capture.snapshot_, Family::kIdem,
                                          [&](std::string_view key, std::string_view value) {
                                            w.put_bytes(key);
                                            w.put_bytes(value);
                                            return w.maybe_flush();
                                          });
  if (!idem.is_ok()) return idem.status();
  KV_CHECK(*idem == state.idem_count, "idempotency count in sm_meta matches the idem family");

  if (Status s = w.flush(); !s.is_ok()) return s;
  if (Status s = file->sync(); !s.is_ok()) return s;
  if (Status s = detail::rename_durably(db.file_system(), tmp, out.path); !s.is_ok()) return s;
  out.size_bytes = w.size_bytes();
  out.checksum = w.checksum();
  return out;
}

namespace detail {

SmState read_sm_state(const Db& db, const rocksdb::ReadOptions& ro) {
  std::string bytes;
  SmState state;
  const bool found = KV_READ_FOUND(
      db.rocks()->Get(ro, db.family(Family::kStateMeta), kStateKey, &bytes), "sm_meta");
  if (found && decode_sm_state(bytes, &state) != SmStateDecode::kOk) {
    KV_FATAL("corrupt or old-format sm_meta (StateMachine::open refuses old formats)", "state");
  }
  return state;
}

namespace {

Status load_entries(BodyReader& r, const Db& db, uint64_t count, rocksdb::WriteBatch* batch) {
  std::string bytes;
  std::string previous_id;
  for (uint64_t i = 0; i < count; ++i) {
    if (Status s = read_record(r, kEncodedEntryBytesMax, &bytes); !s.is_ok()) return s;
    Result<KvEntry> e = decode_entry(bytes);
    if (!e.is_ok()) return Status::corruption("snapshot entry: " + e.status().message());
    if (i > 0 && e->id <= previous_id) return Status::corruption("snapshot entries out of order");
    (void)batch->Put(db.family(Family::kEntries), e->id, bytes);
    (void)batch->Put(db.family(Family::kByKey), by_key_key(e->key, e->id), "");
    previous_id = e->id;
  }
  return Status();
}

// Also rebuilds the expiry index and the derived table totals in *st (bytes, next expiry).
Status load_idempotency(BodyReader& r, const Db& db, SmState* st, rocksdb::WriteBatch* batch) {
  std::string key;
  std::string bytes;
  std::string previous_key;
  st->idem_bytes = 0;
  st->next_expiry_ms = 0;
  for (uint64_t i = 0; i < st->idem_count; ++i) {
    if (Status s = read_record(r, kIdempotencyKeyBytesMax, &key); !s.is_ok()) return s;
    if (Status s = read_record(r, kEncodedIdemRecordBytesMax, &bytes); !s.is_ok()) return s;
    if (key.empty() || (i > 0 && key <= previous_key)) {
      return Status::corruption("snapshot idempotency keys empty or out of order");
    }
    Result<IdempotencyRecord> record = decode_idempotency_record(bytes);
    if (!record.is_ok()) return Status::corruption("snapshot idempotency record");
    // The writer's table never holds a record its clock has reached (they are evicted first).
    if (record->expires_at_ms <= st->clock_ms) {
      return Status::corruption("snapshot idempotency record expired before its clock");
    }
    const uint64_t record_bytes = idem_record_bytes(key, bytes);
    std::string accounted;
    ByteWriter(&accounted).put_u64(record_bytes);
    (void)batch->Put(db.family(Family::kIdem), key, bytes);
    (void)batch->Put(db.family(Family::kIdemByExpiry), idem_expiry_key(record->expires_at_ms, key),
                     accounted);
    st->idem_bytes += record_bytes;
    if (st->next_expiry_ms == 0 || record->expires_at_ms < st->next_expiry_ms) {
      st->next_expiry_ms = record->expires_at_ms;
    }
    previous_key = key;
  }
  return Status();
}

}  // namespace

Result<LoadedSnapshot> load_snapshot_body(const Db& db, const std::filesystem::path& path,
                                          rocksdb::WriteBatch* batch) {
  Result<File> file = File::open_read(db.file_system(), path);
  if (!file.is_ok()) return file.status();
  BodyReader r(&*file);
  std::string header;
  if (Status s = r.read_exact(kHeaderBytes, &header); !s.is_ok()) return s;
  ByteReader h(header);
  uint8_t version = 0;
  LoadedSnapshot out;
  SmState& st = out.state;
  if (!h.get_u8(&version)) return Status::corruption("snapshot header");
  if (version != kSnapshotFormatVersion) {
    return Status::corruption("snapshot body format " + std::to_string(version) + ", expected " +
                              std::to_string(kSnapshotFormatVersion) +
                              " (all members must run the same release)");
  }
  if (!h.get_u64(&st.applied_index) || !h.get_u64(&st.clock_ms) || !h.get_u64(&st.entry_count) ||
      !h.get_u64(&st.idem_count)) {
    return Status::corruption("snapshot header");
  }
  if (Status s = load_entries(r, db, st.entry_count, batch); !s.is_ok()) return s;
  if (Status s = load_idempotency(r, db, &st, batch); !s.is_ok()) return s;
  Result<bool> end = r.at_end();
  if (!end.is_ok()) return end.status();
  if (!*end) return Status::corruption("snapshot body has trailing bytes");
  (void)batch->Put(db.family(Family::kStateMeta), kStateKey, encode_sm_state(st));
  out.size_bytes = r.size_bytes();
  out.checksum = r.checksum();
  return out;
}

}  // namespace detail
}  // namespace kv
