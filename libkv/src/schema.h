// Key and value layouts of the column families (internal to libkv; see kv/db.h for the map).
// Every stored value starts with a format-version byte so a later release can read old data.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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

// idem_by_expiry: u64be expires_at_ms ++ idempotency key -> u64le accounted bytes of the record,
// so eviction in expiry order (ties by key) needs no read of the record itself.
std::string idem_expiry_key(uint64_t expires_at_ms, std::string_view idempotency_key);
// Splits an idem_by_expiry key; false when malformed.
[[nodiscard]] bool split_idem_expiry_key(std::string_view index_key, uint64_t* expires_at_ms,
                                         std::string_view* idempotency_key);
// What one record counts against the table's byte bound: its key (stored twice: the record and
// the expiry index), the encoded record and the index's fixed-width parts.
inline uint64_t idem_record_bytes(std::string_view idempotency_key, std::string_view record) {
  return 2 * idempotency_key.size() + record.size() + 8 + 8;
}

inline constexpr std::string_view kStateKey = "state";

// Version of the sm_meta record. 1: the idempotency table had an entry-count window; from 2 it
// expires by the stamped clock. Version 1 data is refused on open (StateMachine::open).
inline constexpr uint8_t kSmStateVersion = 2;

// sm_meta["state"], rewritten in every apply batch.
struct SmState {
  raft::Index applied_index = 0;
  uint64_t entry_count = 0;
  uint64_t idem_count = 0;
  uint64_t idem_bytes = 0;  // sum of idem_record_bytes() over the table
  // The state machine's clock: the largest Command::stamp_unix_ms applied (0: none yet).
  uint64_t clock_ms = 0;
  // The smallest expires_at_ms in the table, 0 when it is empty: apply only scans the expiry
  // index when the clock reaches it. Derived (rebuilt on snapshot load), kept to skip the scan.
  uint64_t next_expiry_ms = 0;
  friend bool operator==(const SmState&, const SmState&) = default;
};
std::string encode_sm_state(const SmState& state);
enum class SmStateDecode : uint8_t { kOk, kOldVersion, kMalformed };
[[nodiscard]] SmStateDecode decode_sm_state(std::string_view bytes, SmState* state);

// --- raft log ---

std::string log_key(raft::Index index);
// version, u64 term, u8 type, then the payload bytes to the end.
std::string encode_log_entry(const raft::Entry& entry);
[[nodiscard]] bool decode_log_entry(raft::Index index, std::string_view bytes, raft::Entry* entry);

inline constexpr std::string_view kHardStateKey = "hard_state";
inline constexpr std::string_view kLogBoundsKey = "log_bounds";
inline constexpr std::string_view kSnapshotKey = "snapshot";
// The log's term runs (where each term starts), rewritten in the same WriteBatch as every change
// of the log that changes them: a new term's first entry, a truncation, a compaction, an
// installed snapshot. Opening reads them instead of scanning the whole log.
inline constexpr std::string_view kTermRunsKey = "term_runs";

std::string encode_hard_state(const raft::HardState& hs);
[[nodiscard]] bool decode_hard_state(std::string_view bytes, raft::HardState* hs);

// The last entry dropped from the front of the log (or covered by an installed snapshot).
struct LogBounds {
  raft::Index compacted_index = 0;
  raft::Term compacted_term = 0;
};
std::string encode_log_bounds(const LogBounds& bounds);
[[nodiscard]] bool decode_log_bounds(std::string_view bytes, LogBounds* bounds);

// A run covers [first, the next run's first) with `term`; runs ascend in both.
struct TermRun {
  raft::Index first = 0;
  raft::Term term = 0;
  friend bool operator==(const TermRun&, const TermRun&) = default;
};
std::string encode_term_runs(const std::vector<TermRun>& runs);
// Checks the count against the size and that firsts and terms strictly ascend.
[[nodiscard]] bool decode_term_runs(std::string_view bytes, std::vector<TermRun>* runs);

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
inline constexpr size_t kEncodedIdemRecordBytesMax = kEncodedResultBytesMax + 3 * 8;

}  // namespace kv::detail
