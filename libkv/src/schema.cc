#include "schema.h"

#include "bytes.h"

namespace kv::detail {

std::string by_key_prefix(std::string_view key) {
  std::string out;
  out.reserve(4 + key.size() + kIdBytes);
  const auto n = static_cast<uint32_t>(key.size());
  for (int shift = 24; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>((n >> shift) & 0xff));
  out.append(key);
  return out;
}

std::string by_key_key(std::string_view key, std::string_view id) {
  std::string out = by_key_prefix(key);
  out.append(id);
  return out;
}

std::string keyspace_end() { return std::string(kByKeyKeyBytesMax + 1, '\xff'); }

std::string idem_expiry_key(uint64_t expires_at_ms, std::string_view idempotency_key) {
  std::string out = encode_be64(expires_at_ms);
  out.append(idempotency_key);
  return out;
}

bool split_idem_expiry_key(std::string_view index_key, uint64_t* expires_at_ms,
                           std::string_view* idempotency_key) {
  if (index_key.size() <= 8 || !decode_be64(index_key.substr(0, 8), expires_at_ms)) return false;
  *idempotency_key = index_key.substr(8);
  return true;
}

std::string encode_sm_state(const SmState& state) {
  std::string out;
  ByteWriter w(&out);
  w.put_u8(kSmStateVersion);
  w.put_u64(state.applied_index);
  w.put_u64(state.entry_count);
  w.put_u64(state.idem_count);
  w.put_u64(state.idem_bytes);
  w.put_u64(state.clock_ms);
  w.put_u64(state.next_expiry_ms);
  return out;
}

SmStateDecode decode_sm_state(std::string_view bytes, SmState* state) {
  ByteReader r(bytes);
  uint8_t version = 0;
  if (!r.get_u8(&version)) return SmStateDecode::kMalformed;
  if (version < kSmStateVersion) return SmStateDecode::kOldVersion;
  const bool ok = version == kSmStateVersion && r.get_u64(&state->applied_index) &&
                  r.get_u64(&state->entry_count) && r.get_u64(&state->idem_count) &&
                  r.get_u64(&state->idem_bytes) && r.get_u64(&state->clock_ms) &&
                  r.get_u64(&state->next_expiry_ms) && r.at_end();
  return ok ? SmStateDecode::kOk : SmStateDecode::kMalformed;
}

std::string log_key(raft::Index index) { return encode_be64(index); }

std::string encode_log_entry(const raft::Entry& entry) {
  std::string out;
  out.reserve(10 + entry.data.size());
  ByteWriter w(&out);
  w.put_u8(kSchemaVersion);
  w.put_u64(entry.term);
  w.put_u8(static_cast<uint8_t>(entry.type));
  out.append(entry.data.view());
  return out;
}

bool decode_log_entry(raft::Index index, std::string_view bytes, raft::Entry* entry) {
  ByteReader r(bytes);
  uint8_t version = 0;
  uint8_t type = 0;
  if (!r.get_u8(&version) || version != kSchemaVersion || !r.get_u64(&entry->term) ||
      !r.get_u8(&type) || type > static_cast<uint8_t>(raft::EntryType::kNoop)) {
    return false;
  }
  entry->index = index;
  entry->type = static_cast<raft::EntryType>(type);
  entry->data = raft::Payload(r.take_rest());
  return true;
}

std::string encode_hard_state(const raft::HardState& hs) {
  std::string out;
  ByteWriter w(&out);
  w.put_u8(kSchemaVersion);
  w.put_u64(hs.current_term);
  w.put_u64(hs.voted_for);
  w.put_u64(hs.commit_index);
  return out;
}

bool decode_hard_state(std::string_view bytes, raft::HardState* hs) {
  ByteReader r(bytes);
  uint8_t version = 0;
  return r.get_u8(&version) && version == kSchemaVersion && r.get_u64(&hs->current_term) &&
         r.get_u64(&hs->voted_for) && r.get_u64(&hs->commit_index) && r.at_end();
}

std::string encode_log_bounds(const LogBounds& bounds) {
  std::string out;
  ByteWriter w(&out);
  w.put_u8(kSchemaVersion);
  w.put_u64(bounds.compacted_index);
  w.put_u64(bounds.compacted_term);
  return out;
}

bool decode_log_bounds(std::string_view bytes, LogBounds* bounds) {
  ByteReader r(bytes);
  uint8_t version = 0;
  return r.get_u8(&version) && version == kSchemaVersion && r.get_u64(&bounds->compacted_index) &&
         r.get_u64(&bounds->compacted_term) && r.at_end();
}

std::string encode_term_runs(const std::vector<TermRun>& runs) {
  std::string out;
  ByteWriter w(&out);
  w.put_u8(kSchemaVersion);
  w.put_u32(static_cast<uint32_t>(runs.size()));
  for (const TermRun& run : runs) {
    w.put_u64(run.first);
    w.put_u64(run.term);
  }
  return out;
}

bool decode_term_runs(std::string_view bytes, std::vector<TermRun>* runs) {
  ByteReader r(bytes);
  uint8_t version = 0;
  uint32_t count = 0;
  if (!r.get_u8(&version) || version != kSchemaVersion || !r.get_u32(&count) ||
      count != r.remaining() / 16 || r.remaining() % 16 != 0) {
    return false;
  }
  runs->assign(count, TermRun{});
  for (size_t k = 0; k < runs->size(); ++k) {
    TermRun& run = (*runs)[k];
    if (!r.get_u64(&run.first) || !r.get_u64(&run.term)) return false;
    if (k > 0 && (run.first <= (*runs)[k - 1].first || run.term <= (*runs)[k - 1].term)) {
      return false;
    }
  }
  return r.at_end();
}

std::string encode_snapshot_meta(const raft::SnapshotMeta& meta) {
  std::string out;
  ByteWriter w(&out);
  w.put_u8(kSchemaVersion);
  w.put_u64(meta.index);
  w.put_u64(meta.term);
  w.put_u64(meta.size_bytes);
  w.put_u64(meta.checksum);
  w.put_u32(static_cast<uint32_t>(meta.conf.voters.size()));
  for (raft::NodeId id : meta.conf.voters) w.put_u64(id);
  return out;
}

bool decode_snapshot_meta(std::string_view bytes, raft::SnapshotMeta* meta) {
  ByteReader r(bytes);
  uint8_t version = 0;
  uint32_t voters = 0;
  if (!r.get_u8(&version) || version != kSchemaVersion || !r.get_u64(&meta->index) ||
      !r.get_u64(&meta->term) || !r.get_u64(&meta->size_bytes) || !r.get_u64(&meta->checksum) ||
      !r.get_u32(&voters) || voters > kVotersMax) {
    return false;
  }
  meta->conf.voters.resize(voters);
  for (raft::NodeId& id : meta->conf.voters) {
    if (!r.get_u64(&id)) return false;
  }
  return r.at_end();
}

}  // namespace kv::detail
