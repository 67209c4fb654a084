#include "kv/codec.h"

#include <xxhash.h>

#include "bytes.h"

namespace kv {

using detail::ByteReader;
using detail::ByteWriter;

namespace {

// Command type tags on the wire. Never reuse a retired value: old log entries keep theirs.
enum : uint8_t { kTagCreate = 1, kTagUpdate = 2, kTagDelete = 3 };
// Flags of a kIdempotencyRecordVersion record.
enum : uint8_t { kIdemFlagValueFromRequest = 1 };

Status check_entry_fields(std::string_view id, std::string_view key, std::string_view value) {
  if (!is_canonical_uuid(id)) return Status::invalid_argument("id is not a canonical UUID");
  if (key.size() > kKeyBytesMax) return Status::invalid_argument("key longer than 4096 bytes");
  if (value.size() > kValueBytesMax) return Status::invalid_argument("value longer than 1 MiB");
  return Status();
}

void put_entry_fields(ByteWriter& w, const KvEntry& e) {
  w.put_bytes(e.id);
  w.put_bytes(e.key);
  w.put_bytes(e.value);
  w.put_u64(e.seq);
  w.put_u64(e.source_node);
  w.put_i64(e.created_at_us);
}

bool get_id(ByteReader& r, std::string* id) {
  return r.get_string(kIdBytes, id) && is_canonical_uuid(*id);
}

bool get_entry_fields(ByteReader& r, KvEntry* e) {
  return get_id(r, &e->id) && r.get_string(kKeyBytesMax, &e->key) &&
         r.get_string(kValueBytesMax, &e->value) && r.get_u64(&e->seq) &&
         r.get_u64(&e->source_node) && r.get_i64(&e->created_at_us);
}

bool valid_idempotency_policy(uint64_t ttl_ms, uint64_t table_bytes_max) {
  return ttl_ms >= 1 && ttl_ms <= kIdempotencyTtlMsMax &&
         table_bytes_max >= kIdempotencyTableBytesMin;
}

Status check_command(const Command& c) {
  if (c.idempotency_key.size() > kIdempotencyKeyBytesMax) {
    return Status::invalid_argument("idempotency key longer than 256 bytes");
  }
  if (!c.idempotency_key.empty() &&
      !valid_idempotency_policy(c.idempotency_ttl_ms, c.idempotency_table_bytes_max)) {
    return Status::invalid_argument(
        "idempotency TTL outside [1 ms, 7 days] or table bound below 4 MiB");
  }
  if (const auto* create = std::get_if<CreateCommand>(&c.op)) {
    return check_entry_fields(create->id, create->key, create->value);
  }
  if (const auto* update = std::get_if<UpdateCommand>(&c.op)) {
    return check_entry_fields(update->id, update->new_key.value_or(""), update->value);
  }
  return check_entry_fields(std::get<DeleteCommand>(c.op).id, "", "");
}

bool get_command_body(ByteReader& r, uint8_t tag, Command* c) {
  switch (tag) {
    case kTagCreate: {
      CreateCommand op;
      if (!get_id(r, &op.id) || !r.get_string(kKeyBytesMax, &op.key) ||
          !r.get_string(kValueBytesMax, &op.value) || !r.get_i64(&op.created_at_us) ||
          !r.get_u64(&op.source_node)) {
        return false;
      }
      c->op = std::move(op);
      return true;
    }
    case kTagUpdate: {
      UpdateCommand op;
      uint8_t has_new_key = 0;
      if (!get_id(r, &op.id) || !r.get_string(kValueBytesMax, &op.value) ||
          !r.get_u8(&has_new_key) || has_new_key > 1) {
        return false;
      }
      if (has_new_key == 1) {
        op.new_key.emplace();
        if (!r.get_string(kKeyBytesMax, &*op.new_key)) return false;
      }
      c->op = std::move(op);
      return true;
    }
    case kTagDelete: {
      DeleteCommand op;
      if (!get_id(r, &op.id)) return false;
      c->op = std::move(op);
      return true;
    }
    default: return false;
  }
}

}  // namespace

const char* to_string(ApplyStatus status) {
  switch (status) {
    case ApplyStatus::kCreated: return "created";
    case ApplyStatus::kUpdated: return "updated";
    case ApplyStatus::kDeleted: return "deleted";
    case ApplyStatus::kNotFound: return "not_found";
    case ApplyStatus::kAlreadyExists: return "already_exists";
    case ApplyStatus::kInvalidCommand: return "invalid_command";
    case ApplyStatus::kNoop: return "noop";
    case ApplyStatus::kIdempotencyKeyReused: return "idempotency_key_reused";
  }
  return "unknown";
}

bool is_canonical_uuid(std::string_view text) {
  if (text.size() != kIdBytes) return false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash_position) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

Result<std::string> encode_entry(const KvEntry& entry) {
  if (Status s = check_entry_fields(entry.id, entry.key, entry.value); !s.is_ok()) return s;
  std::string out;
  out.reserve(1 + 12 + entry.id.size() + entry.key.size() + entry.value.size() + 24);
  ByteWriter w(&out);
  w.put_u8(kCodecVersion);
  put_entry_fields(w, entry);
  return out;
}

Result<KvEntry> decode_entry(std::string_view bytes) {
  ByteReader r(bytes);
  uint8_t version = 0;
  KvEntry e;
  if (!r.get_u8(&version) || version != kCodecVersion || !get_entry_fields(r, &e) || !r.at_end()) {
    return Status::corruption("malformed entry");
  }
  return e;
}

Result<std::string> encode_command(const Command& command) {
  if (Status s = check_command(command); !s.is_ok()) return s;
  std::string out;
  ByteWriter w(&out);
  w.put_u8(kCodecVersion);
  w.put_bytes(command.idempotency_key);
  w.put_u64(command.stamp_unix_ms);
  if (!command.idempotency_key.empty()) {
    w.put_u64(command.idempotency_ttl_ms);
    w.put_u64(command.idempotency_table_bytes_max);
  }
  if (const auto* create = std::get_if<CreateCommand>(&command.op)) {
    w.put_u8(kTagCreate);
    w.put_bytes(create->id);
    w.put_bytes(create->key);
    w.put_bytes(create->value);
    w.put_i64(create->created_at_us);
    w.put_u64(create->source_node);
  } else if (const auto* update = std::get_if<UpdateCommand>(&command.op)) {
    w.put_u8(kTagUpdate);
    w.put_bytes(update->id);
    w.put_bytes(update->value);
    w.put_u8(update->new_key ? 1 : 0);
    if (update->new_key) w.put_bytes(*update->new_key);
  } else {
    w.put_u8(kTagDelete);
    w.put_bytes(std::get<DeleteCommand>(command.op).id);
  }
  return out;
}

Result<Command> decode_command(std::string_view bytes) {
  ByteReader r(bytes);
  uint8_t version = 0;
  uint8_t tag = 0;
  Command c;
  if (!r.get_u8(&version) || version != kCodecVersion ||
      !r.get_string(kIdempotencyKeyBytesMax, &c.idempotency_key) || !r.get_u64(&c.stamp_unix_ms)) {
    return Status::corruption("malformed command");
  }
  if (!c.idempotency_key.empty() &&
      (!r.get_u64(&c.idempotency_ttl_ms) || !r.get_u64(&c.idempotency_table_bytes_max) ||
       !valid_idempotency_policy(c.idempotency_ttl_ms, c.idempotency_table_bytes_max))) {
    return Status::corruption("malformed command");
  }
  if (!r.get_u8(&tag) || !get_command_body(r, tag, &c) || !r.at_end()) {
    return Status::corruption("malformed command");
  }
  return c;
}

namespace {

Status put_apply_result_fields(ByteWriter& w, const ApplyResult& result) {
  w.put_u64(result.index);
  w.put_u8(static_cast<uint8_t>(result.status));
  w.put_u8(result.entry ? 1 : 0);
  if (result.entry) {
    const KvEntry& e = *result.entry;
    if (Status s = check_entry_fields(e.id, e.key, e.value); !s.is_ok()) return s;
    put_entry_fields(w, e);
  }
  return Status();
}

// Stored results are first decisions: never kIdempotencyKeyReused.
bool get_apply_result_fields(ByteReader& r, ApplyResult* result) {
  uint8_t status = 0;
  uint8_t has_entry = 0;
  if (!r.get_u64(&result->index) || !r.get_u8(&status) ||
      status < static_cast<uint8_t>(ApplyStatus::kCreated) ||
      status > static_cast<uint8_t>(ApplyStatus::kNoop) || !r.get_u8(&has_entry) || has_entry > 1) {
    return false;
  }
  result->status = static_cast<ApplyStatus>(status);
  result->original_index = result->index;
  if (has_entry == 1) {
    result->entry.emplace();
    if (!get_entry_fields(r, &*result->entry)) return false;
  }
  return true;
}

}  // namespace

Result<std::string> encode_apply_result(const ApplyResult& result) {
  std::string out;
  ByteWriter w(&out);
  w.put_u8(kCodecVersion);
  if (Status s = put_apply_result_fields(w, result); !s.is_ok()) return s;
  return out;
}

Result<ApplyResult> decode_apply_result(std::string_view bytes) {
  ByteReader r(bytes);
  uint8_t version = 0;
  ApplyResult result;
  if (!r.get_u8(&version) || version != kCodecVersion || !get_apply_result_fields(r, &result) ||
      !r.at_end()) {
    return Status::corruption("malformed apply result");
  }
  return result;
}

RequestFingerprint request_fingerprint(const Command& command) {
  // The same length-prefixed layout as the command codec, so that field boundaries are part
  // of what is hashed ("ab"+"c" differs from "a"+"bc").
  std::string bytes;
  ByteWriter w(&bytes);
  if (const auto* create = std::get_if<CreateCommand>(&command.op)) {
    w.put_u8(kTagCreate);
    w.put_bytes(create->key);
    w.put_bytes(create->value);
  } else if (const auto* update = std::get_if<UpdateCommand>(&command.op)) {
    w.put_u8(kTagUpdate);
    w.put_bytes(update->id);
    w.put_bytes(update->value);
    w.put_u8(update->new_key ? 1 : 0);
    if (update->new_key) w.put_bytes(*update->new_key);
  } else {
    w.put_u8(kTagDelete);
    w.put_bytes(std::get<DeleteCommand>(command.op).id);
  }
  const XXH128_hash_t h = XXH3_128bits(bytes.data(), bytes.size());
  return RequestFingerprint{h.low64, h.high64};
}

Result<std::string> encode_idempotency_record(const IdempotencyRecord& record) {
  if (record.value_from_request &&
      (!record.result.entry.has_value() || !record.result.entry->value.empty())) {
    return Status::invalid_argument("a record whose value comes from the request stores none");
  }
  std::string out;
  ByteWriter w(&out);
  w.put_u8(kIdempotencyRecordVersion);
  w.put_u8(record.value_from_request ? kIdemFlagValueFromRequest : 0);
  w.put_u64(record.expires_at_ms);
  w.put_u64(record.fingerprint.low);
  w.put_u64(record.fingerprint.high);
  if (Status s = put_apply_result_fields(w, record.result); !s.is_ok()) return s;
  return out;
}

Result<IdempotencyRecord> decode_idempotency_record(std::string_view bytes) {
  ByteReader r(bytes);
  uint8_t version = 0;
  uint8_t flags = 0;
  IdempotencyRecord record;
  const bool header_ok =
      r.get_u8(&version) &&
      (version == kCodecVersion || (version == kIdempotencyRecordVersion && r.get_u8(&flags) &&
                                    (flags & ~kIdemFlagValueFromRequest) == 0));
  if (!header_ok || !r.get_u64(&record.expires_at_ms) || !r.get_u64(&record.fingerprint.low) ||
      !r.get_u64(&record.fingerprint.high) || !get_apply_result_fields(r, &record.result) ||
      !r.at_end()) {
    return Status::corruption("malformed idempotency record");
  }
  record.value_from_request = (flags & kIdemFlagValueFromRequest) != 0;
  if (record.value_from_request &&
      (!record.result.entry.has_value() || !record.result.entry->value.empty())) {
    return Status::corruption("idempotency record without an entry to take the value into");
  }
  return record;
}

}  // namespace kv
