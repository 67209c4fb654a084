// The replicated data model and its binary codec.
//
// Everything nondeterministic about a write (the entry id, created_at_us, source_node) is chosen
// by the node that receives it and travels inside the Command, so that applying a committed
// entry is a pure function of the state and the entry (design.md §3). seq is the Raft index at
// which the create was applied.
//
// Wire format (all commands, entries and stored results): one format-version byte
// (kCodecVersion), then fields in a fixed order; integers are little-endian fixed width; strings
// are a u32 length followed by the bytes. Decoding is strict: a wrong version, an unknown tag, a
// length past the input or past its bound, a non-canonical id or trailing bytes is a kCorruption
// Status, never a crash or an out-of-bounds read. Encoders check the same bounds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "kv/status.h"
#include "raft/types.h"

namespace kv {

// Version 2 (issue 13): commands carry the proposer's clock stamp and idempotency policy, and
// the idempotency record carries its expiry and the request's fingerprint. Version 1 data is
// refused (a clear error on open), never misread.
inline constexpr uint8_t kCodecVersion = 2;

// Bounds, checked by encoders and decoders alike. The HTTP layer bounds request bodies at 1 MiB
// (design.md §4), so a value never needs more.
inline constexpr size_t kIdBytes = 36;  // canonical UUID text
inline constexpr size_t kKeyBytesMax = 4096;
inline constexpr size_t kValueBytesMax = 1 << 20;
inline constexpr size_t kIdempotencyKeyBytesMax = 256;

// Idempotency policy defaults (design.md §3): a retry within the TTL is answered from the table.
// Ten minutes is well past any client's retry horizon (bombarder gives up after seconds).
inline constexpr uint64_t kIdempotencyTtlMsDefault = 10 * 60 * 1000;
inline constexpr uint64_t kIdempotencyTtlMsMax = uint64_t{7} * 24 * 3600 * 1000;  // a week
inline constexpr uint64_t kIdempotencyTableBytesMaxDefault = uint64_t{256} << 20;
// Above the largest record (a 1 MiB value and its key), so the record just made always fits.
inline constexpr uint64_t kIdempotencyTableBytesMin = uint64_t{4} << 20;

// One stored record; the reference README's KVEntry.
struct KvEntry {
  std::string id;   // canonical lowercase UUID text, e.g. "0f8fad5b-d9cb-469f-a165-70867728950e"
  std::string key;  // indexed (StateMachine::find_by_key); may repeat across entries
  std::string value;
  uint64_t seq = 0;  // Raft index of the create
  uint64_t source_node = 0;
  int64_t created_at_us = 0;  // UTC microseconds since the Unix epoch, chosen by source_node

  friend bool operator==(const KvEntry&, const KvEntry&) = default;
};

struct CreateCommand {
  std::string id;
  std::string key;
  std::string value;
  int64_t created_at_us = 0;
  uint64_t source_node = 0;
  friend bool operator==(const CreateCommand&, const CreateCommand&) = default;
};

struct UpdateCommand {
  std::string id;
  std::string value;
  std::optional<std::string> new_key;  // set: the entry moves to this key
  friend bool operator==(const UpdateCommand&, const UpdateCommand&) = default;
};

struct DeleteCommand {
  std::string id;
  friend bool operator==(const DeleteCommand&, const DeleteCommand&) = default;
};

// The payload of a raft::Entry of type kNormal.
struct Command {
  std::variant<CreateCommand, UpdateCommand, DeleteCommand> op;
  // Empty: none. Otherwise a command whose key is in the idempotency table (recorded by an
  // earlier command and not yet expired or evicted) changes nothing: it answers with the stored
  // original result when its request_fingerprint() matches the recorded one, else with
  // kIdempotencyKeyReused (design.md §3).
  std::string idempotency_key;
  // Decided by the node that proposes the command (the leader), so that applying it stays a
  // pure function of the state and the entry on every replica:
  // - its wall clock, UTC milliseconds since the Unix epoch. The state machine's clock is the
  //   largest stamp applied so far; idempotency records expire by that clock. 0: no stamp (the
  //   clock does not move).
  uint64_t stamp_unix_ms = 0;
  // - keyed commands only (not encoded without a key): how long the record lives, [1, a week],
  //   and the table's byte bound to enforce when recording it (oldest-expiring records go
  //   first), at least kIdempotencyTableBytesMin.
  uint64_t idempotency_ttl_ms = kIdempotencyTtlMsDefault;
  uint64_t idempotency_table_bytes_max = kIdempotencyTableBytesMaxDefault;
  friend bool operator==(const Command&, const Command&) = default;
};

enum class ApplyStatus : uint8_t {
  kCreated = 1,
  kUpdated = 2,
  kDeleted = 3,
  kNotFound = 4,        // update or delete of an id that does not exist
  kAlreadyExists = 5,   // create with an id that exists (ids are UUIDs: a client or node bug)
  kInvalidCommand = 6,  // the payload failed to decode; nothing changed
  kNoop = 7,            // a kNoop raft entry (a new leader's first entry)
  // The idempotency key is recorded for a different request (another operation, id or body);
  // nothing changed. Never stored in the table. HTTP answers 422.
  kIdempotencyKeyReused = 8,
};
const char* to_string(ApplyStatus status);

struct ApplyResult {
  raft::Index index = 0;  // the log index of the entry this result answers
  ApplyStatus status = ApplyStatus::kNoop;
  // kCreated/kUpdated: the entry as stored afterwards; kDeleted: the entry removed;
  // kAlreadyExists: the existing entry; otherwise empty.
  std::optional<KvEntry> entry;
  // True when an earlier command with the same idempotency key and request decided this result
  // (at original_index); the state did not change. For kIdempotencyKeyReused, original_index is
  // the index of the command that recorded the key.
  bool replayed = false;
  raft::Index original_index = 0;

  friend bool operator==(const ApplyResult&, const ApplyResult&) = default;
};

// True for 8-4-4-4-12 lowercase hex digits separated by '-'.
[[nodiscard]] bool is_canonical_uuid(std::string_view text);

// Encoders check the bounds above and the id format.
[[nodiscard]] Result<std::string> encode_entry(const KvEntry& entry);
[[nodiscard]] Result<KvEntry> decode_entry(std::string_view bytes);
[[nodiscard]] Result<std::string> encode_command(const Command& command);
[[nodiscard]] Result<Command> decode_command(std::string_view bytes);

// The result as first decided (index, status, entry).
[[nodiscard]] Result<std::string> encode_apply_result(const ApplyResult& result);
[[nodiscard]] Result<ApplyResult> decode_apply_result(std::string_view bytes);

// What identifies a client request behind an idempotency key: XXH3-128 over the operation and
// the fields the client chose: create (key, value), update (id, value, new key), delete (id).
// Not what the receiving node chose (a create's id and created_at, source_node, the stamp): a
// retry through another node gets new ones and is still the same request.
struct RequestFingerprint {
  uint64_t low = 0;
  uint64_t high = 0;
  friend bool operator==(const RequestFingerprint&, const RequestFingerprint&) = default;
};
[[nodiscard]] RequestFingerprint request_fingerprint(const Command& command);

// The idempotency table's record for one key.
//
// A created or updated entry's value is the request's own value, and a retry that the table
// answers carries the same request (its fingerprint matches): so such a record stores the entry
// without its value (value_from_request) and the answer takes it from the retry. Records of
// 100-byte values are about half as large, of 1 MiB values a few hundred times smaller: the
// table's byte bound holds that many more keys, and snapshots carry that much less.
// Encoding: kCodecVersion records (the whole entry, written before this existed) still decode;
// new ones are kIdempotencyRecordVersion, a flags byte after the version.
inline constexpr uint8_t kIdempotencyRecordVersion = 3;
struct IdempotencyRecord {
  uint64_t expires_at_ms = 0;  // forgotten once the state machine's clock reaches it
  RequestFingerprint fingerprint;
  ApplyResult result;  // as first decided (result.entry->value empty if value_from_request)
  bool value_from_request = false;
  friend bool operator==(const IdempotencyRecord&, const IdempotencyRecord&) = default;
};
[[nodiscard]] Result<std::string> encode_idempotency_record(const IdempotencyRecord& record);
[[nodiscard]] Result<IdempotencyRecord> decode_idempotency_record(std::string_view bytes);

}  // namespace kv
