// Key and value layouts of the column families (internal to libkv; see kv/db.h for the map).
// Every stored value starts with a format-version byte so a later release can read old data.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "kv/codec.h"
#include "raft/types.h"

namespace kv::detail {

inline constexpr uint8_t kSchemaVersion = 1;

// --- state machine ---

// by_key: u32be len(key) ++ key ++ id.
std::string by_key_key(std::string_view key, std::string_view id);
std::string by_key_prefix(std::string_view key);

// An exclusive upper bound for every key of every state-machine family: all keys are at most
// kByKeyKeyBytesMax long, so a longer run of 0xff bytes sorts after each of them.
inline constexpr size_t kByKeyKeyBytesMax = 4 + kKeyBytesMax + kIdBytes;
std::string keyspace_end();

inline constexpr std::string_view kStateKey = "state";

// sm_meta["state"], rewritten in every apply batch.
struct SmState {
  raft::Index applied_index = 0;
  uint64_t entry_count = 0;
  uint64_t idem_count = 0;
  uint64_t idem_window_entries = 0;  // 0: not yet recorded (fresh database)
  friend bool operator==(const SmState&, const SmState&) = default;
};
std::string encode_sm_state(const SmState& state);
[[nodiscard]] bool decode_sm_state(std::string_view bytes, SmState* state);

// --- raft log ---

std::string log_key(raft::Index index);
// version, u64 term, u8 type, then the payload bytes to the end.
std::string encode_log_entry(const raft::Entry& entry);
[[nodiscard]] bool decode_log_entry(raft::Index index, std::string_view bytes, raft::Entry* entry);

inline constexpr std::string_view kHardStateKey = "hard_state";
inline constexpr std::string_view kLogBoundsKey = "log_bounds";
inline constexpr std::string_view kSnapshotKey = "snapshot";

std::string encode_hard_state(const raft::HardState& hs);
[[nodiscard]] bool decode_hard_state(std::string_view bytes, raft::HardState* hs);

// The last entry dropped from the front of the log (or covered by an installed snapshot).
struct LogBounds {
  raft::Index compacted_index = 0;
  raft::Term compacted_term = 0;
};
std::string encode_log_bounds(const LogBounds& bounds);
[[nodiscard]] bool decode_log_bounds(std::string_view bytes, LogBounds* bounds);

// Voters are bounded so that a corrupt count cannot make us allocate without limit.
inline constexpr uint32_t kVotersMax = 1024;
std::string encode_snapshot_meta(const raft::SnapshotMeta& meta);
[[nodiscard]] bool decode_snapshot_meta(std::string_view bytes, raft::SnapshotMeta* meta);

}  // namespace kv::detail

namespace kv::detail {

// Largest encode_entry() output and encode_apply_result() output: bounds for snapshot records.
inline constexpr size_t kEncodedEntryBytesMax =
    1 + 3 * 4 + kIdBytes + kKeyBytesMax + kValueBytesMax + 3 * 8;
inline constexpr size_t kEncodedResultBytesMax = kEncodedEntryBytesMax + 8 + 2;

}  // namespace kv::detail
