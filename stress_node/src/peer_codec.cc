#include "peer_codec.h"

#include <algorithm>

// Inlined so that the node needs no link line of its own for one hash function.
#define XXH_INLINE_ALL
#include <xxhash.h>

namespace stress_node {
namespace {

constexpr std::string_view kMagic = "RKPB";
constexpr size_t kChecksumBytes = 8;
constexpr size_t kVarintBytesMax = 10;
// Smallest encodings, used to refuse counts the remaining bytes cannot possibly hold before
// reserving memory for them.
constexpr size_t kMessageBytesMin = 2 + 8 + 1 + 5 + 2;  // type, flags, 8 scalars, entries, meta,
                                                        // offset, data length
constexpr size_t kEntryBytesMin = 4;
constexpr uint8_t kFlagReject = 1 << 0;
constexpr uint8_t kFlagLeaderTransfer = 1 << 1;
constexpr uint8_t kFlagSnapshotLast = 1 << 2;
constexpr uint8_t kFlagSnapshotForce = 1 << 3;  // raft::Message::snapshot_force
constexpr uint8_t kFlagsKnown =
    kFlagReject | kFlagLeaderTransfer | kFlagSnapshotLast | kFlagSnapshotForce;

uint64_t checksum(std::string_view bytes) { return XXH64(bytes.data(), bytes.size(), 0); }

class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}

  void u8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void varint(uint64_t v) {
    while (v >= 0x80) {
      u8(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    u8(static_cast<uint8_t>(v));
  }
  void bytes(std::string_view b) {
    varint(b.size());
    out_->append(b);
  }
  void u64le(uint64_t v) {
    for (int i = 0; i < 8; ++i) u8(static_cast<uint8_t>(v >> (8 * i)));
  }

 private:
  std::string* out_;
};

void encode_entries(Writer& w, const std::vector<raft::Entry>& entries) {
  w.varint(entries.size());
  for (const raft::Entry& e : entries) {
    w.varint(e.term);
    w.varint(e.index);
    w.u8(static_cast<uint8_t>(e.type));
    w.bytes(e.data.view());
  }
}

void encode_meta(Writer& w, const raft::SnapshotMeta& meta) {
  w.varint(meta.index);
  w.varint(meta.term);
  w.varint(meta.conf.voters.size());
  for (raft::NodeId voter : meta.conf.voters) w.varint(voter);
  w.varint(meta.size_bytes);
  w.varint(meta.checksum);
}

void encode_message(Writer& w, const raft::Message& m) {
  w.u8(static_cast<uint8_t>(m.type));
  w.u8(static_cast<uint8_t>(
      (m.reject ? kFlagReject : 0) | (m.leader_transfer ? kFlagLeaderTransfer : 0) |
      (m.snapshot_last ? kFlagSnapshotLast : 0) | (m.snapshot_force ? kFlagSnapshotForce : 0)));
  for (uint64_t v :
       {m.from, m.to, m.term, m.log_term, m.index, m.commit, m.reject_hint, m.context}) {
    w.varint(v);
  }
  encode_entries(w, m.entries);
  encode_meta(w, m.snapshot);
  w.varint(m.snapshot_offset);
  w.bytes(m.snapshot_data.view());
}

// Bounds-checked reading of [begin, end) of the body; the first failure records its reason
// and position, and every later read fails too, so callers may check once per message.
class Reader {
 public:
  Reader(std::string_view in, size_t pos) : in_(in), pos_(pos) {}

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  size_t remaining() const { return in_.size() - pos_; }
  size_t pos() const { return pos_; }

  bool fail(std::string_view what) {
    if (ok()) error_ = std::string(what) + " at byte " + std::to_string(pos_);
    return false;
  }

  uint8_t u8() {
    if (!ok()) return 0;
    if (remaining() < 1) {
      fail("truncated");
      return 0;
    }
    return static_cast<uint8_t>(in_[pos_++]);
  }

  // Unsigned LEB128, shortest form only (so every value has one encoding), at most 64 bits.
  uint64_t varint() {
    uint64_t value = 0;
    for (size_t i = 0; i < kVarintBytesMax && ok(); ++i) {
      if (remaining() < 1) {
        fail("truncated varint");
        return 0;
      }
      const auto byte = static_cast<uint8_t>(in_[pos_++]);
      if (i == kVarintBytesMax - 1 && byte > 1) {
        fail("varint overflows 64 bits");
        return 0;
      }
      value |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
      if ((byte & 0x80) == 0) {
        if (byte == 0 && i > 0) {
          fail("non-minimal varint");
          return 0;
        }
        return value;
      }
    }
    return 0;
  }

  // A count of items that each take at least `item_bytes_min`, at most `max`.
  size_t count(size_t max, size_t item_bytes_min, std::string_view what) {
    const uint64_t n = varint();
    if (!ok()) return 0;
    if (n > max) {
      fail(std::string(what) + " count over bound");
      return 0;
    }
    if (n > remaining() / item_bytes_min) {
      fail(std::string(what) + " count past end");
      return 0;
    }
    return static_cast<size_t>(n);
  }

  raft::Payload payload() {
    const uint64_t n = varint();
    if (!ok()) return {};
    if (n > kPeerPayloadBytesMax) {
      fail("payload over bound");
      return raft::Payload();
    }
    if (n > remaining()) {
      fail("payload past end");
      return raft::Payload();
    }
    raft::Payload p(in_.substr(pos_, static_cast<size_t>(n)));
    pos_ += static_cast<size_t>(n);
    return p;
  }

 private:
  std::string_view in_;
  size_t pos_;
  std::string error_;
};

bool decode_entries(Reader& r, size_t* entries_budget, std::vector<raft::Entry>* entries) {
  const size_t n = r.count(*entries_budget, kEntryBytesMin, "entry");
  if (!r.ok()) return false;
  *entries_budget -= n;
  entries->reserve(n);
  for (size_t i = 0; i < n; ++i) {
    raft::Entry e;
    e.term = r.varint();
    e.index = r.varint();
    const uint8_t type = r.u8();
    if (r.ok() && type > static_cast<uint8_t>(raft::EntryType::kNoop)) {
      return r.fail("unknown entry type " + std::to_string(type));
    }
    e.type = static_cast<raft::EntryType>(type);
    e.data = r.payload();
    if (!r.ok()) return false;
    entries->push_back(std::move(e));
  }
  return true;
}

bool decode_meta(Reader& r, raft::SnapshotMeta* meta) {
  meta->index = r.varint();
  meta->term = r.varint();
  const size_t n = r.count(kPeerVotersMax, 1, "voter");
  meta->conf.voters.reserve(n);
  for (size_t i = 0; i < n && r.ok(); ++i) {
    const raft::NodeId voter = r.varint();
    // ConfState's invariant (sorted, no duplicates) is the core's to rely on, so it is checked
    // here, at the trust boundary.
    if (r.ok() && i > 0 && voter <= meta->conf.voters.back()) {
      return r.fail("voters not strictly ascending");
    }
    meta->conf.voters.push_back(voter);
  }
  meta->size_bytes = r.varint();
  meta->checksum = r.varint();
  return r.ok();
}

bool decode_message(Reader& r, size_t* entries_budget, raft::Message* m) {
  const uint8_t type = r.u8();
  const uint8_t flags = r.u8();
  if (!r.ok()) return false;
  if (type >= raft::kMessageTypeCount)
    return r.fail("unknown message type " + std::to_string(type));
  if ((flags & ~kFlagsKnown) != 0) return r.fail("unknown flags");
  m->type = static_cast<raft::MessageType>(type);
  m->reject = (flags & kFlagReject) != 0;
  m->leader_transfer = (flags & kFlagLeaderTransfer) != 0;
  m->snapshot_last = (flags & kFlagSnapshotLast) != 0;
  m->snapshot_force = (flags & kFlagSnapshotForce) != 0;
  for (uint64_t* field : {&m->from, &m->to, &m->term, &m->log_term, &m->index, &m->commit,
                          &m->reject_hint, &m->context}) {
    *field = r.varint();
  }
  if (!r.ok() || !decode_entries(r, entries_budget, &m->entries)) return false;
  if (!decode_meta(r, &m->snapshot)) return false;
  m->snapshot_offset = r.varint();
  m->snapshot_data = r.payload();
  return r.ok();
}

bool fail(std::string* error, std::string message) {
  if (error != nullptr) *error = std::move(message);
  return false;
}

// Header and checksum, before anything is parsed: a corrupted body is rejected as such.
bool check_frame(std::string_view body, std::string* error) {
  if (body.size() < kMagic.size() + 2 + kChecksumBytes) return fail(error, "batch too short");
  if (body.substr(0, kMagic.size()) != kMagic) return fail(error, "bad magic");
  const auto version = static_cast<uint8_t>(body[kMagic.size()]);
  if (version != kPeerCodecVersion) {
    return fail(error, "unsupported version " + std::to_string(version));
  }
  const std::string_view covered = body.substr(0, body.size() - kChecksumBytes);
  uint64_t stored = 0;
  for (size_t i = 0; i < kChecksumBytes; ++i) {
    stored |= static_cast<uint64_t>(static_cast<uint8_t>(body[covered.size() + i])) << (8 * i);
  }
  if (stored != checksum(covered)) return fail(error, "checksum mismatch");
  return true;
}

}  // namespace

uint64_t encoded_size_bound(const raft::Message& m) {
  uint64_t bytes = 2 + 8 * kVarintBytesMax + kVarintBytesMax;
  for (const raft::Entry& e : m.entries) bytes += 3 * kVarintBytesMax + 1 + e.data.size();
  bytes += (5 + m.snapshot.conf.voters.size()) * kVarintBytesMax;
  bytes += 2 * kVarintBytesMax + m.snapshot_data.size();
  return bytes;
}

std::string encode_batch(const std::vector<raft::Message>& messages) {
  uint64_t size = kMagic.size() + 1 + kVarintBytesMax + kChecksumBytes;
  for (const raft::Message& m : messages) size += encoded_size_bound(m);
  std::string out;
  out.reserve(size);
  out.append(kMagic);
  Writer w(&out);
  w.u8(kPeerCodecVersion);
  w.varint(messages.size());
  for (const raft::Message& m : messages) encode_message(w, m);
  w.u64le(checksum(out));
  return out;
}

std::optional<std::vector<raft::Message>> decode_batch(std::string_view body, std::string* error) {
  if (!check_frame(body, error)) return std::nullopt;
  Reader r(body.substr(0, body.size() - kChecksumBytes), kMagic.size() + 1);
  const size_t n = r.count(kPeerBatchMessagesMax, kMessageBytesMin, "message");
  std::vector<raft::Message> messages;
  messages.reserve(n);
  size_t entries_budget = kPeerBatchEntriesMax;
  for (size_t i = 0; i < n && r.ok(); ++i) {
    raft::Message m;
    if (!decode_message(r, &entries_budget, &m)) break;
    messages.push_back(std::move(m));
  }
  if (r.ok() && r.remaining() != 0) r.fail("trailing bytes");
  if (!r.ok()) {
    fail(error, r.error());
    return std::nullopt;
  }
  return messages;
}

}  // namespace stress_node
