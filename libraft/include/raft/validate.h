// Checks of a peer message against the protocol's own rules, before it may change any state.
//
// A peer message is remote input: whatever its sender (a buggy or forged peer, a corrupted
// frame that passed the transport's checks), it must never reach an assertion. Every rule here
// is one an honest RaftCore never breaks when it sends, so a message that fails is dropped and
// counted (CoreCounters::messages_rejected, by Violation), never answered and never an abort.
//
// Two kinds:
//   - stateless rules (validate_message): the message alone says it is impossible, e.g.
//     entries that are not contiguous from index + 1. Pure, so a host can run them at its
//     boundary before queueing the message for the core, and RaftCore::step runs them again
//     for hosts that do not.
//   - stateful rules, checked by RaftCore where the state lives: an AppendResp acknowledging
//     more than was sent to that peer, a snapshot chunk that does not belong to the transfer
//     under way, a ReadIndexResp for a request not outstanding or sent in another term.
#pragma once

#include <cstdint>

#include "raft/message.h"

namespace raft {

enum class Violation : uint8_t {
  kNone = 0,
  // Stateless (validate_message).
  kEntriesNotContiguous,      // Append: entries[k].index != index + 1 + k (or it overflows)
  kEntryTermPastMessageTerm,  // Append: an entry newer than the leader sending it
  kEntryTermsDecreasing,      // Append: terms go down, or the first is below log_term
  kLogTermPastTerm,           // Append/Vote/PreVote: the (prev/last) log term is in the future
  kEntriesOverLimit,          // Append: more bytes than append_bytes_max (n > 1), or one entry
                              //         over entry_bytes_max
  kUnexpectedEntries,         // entries on a message type that never carries any
  kSnapshotMetaInvalid,       // Snapshot: index 0, term 0 or past m.term, voters empty/unsorted
  kSnapshotChunkPastSize,     // Snapshot: offset + len > size_bytes
  kSnapshotLastChunkSize,     // Snapshot: last chunk with offset + len != size_bytes
  kSnapshotChunkOverLimit,    // Snapshot: chunk over snapshot_chunk_bytes_max
  // Stateful (RaftCore).
  kAppendRespPastSent,          // AppendResp index past the last index sent to that peer
  kHeartbeatRespRoundPastSent,  // HeartbeatResp context past the last ReadIndex round sent
  kSnapshotRespPastSize,        // SnapshotResp offset past the size of the snapshot sent
  kSnapshotTransferMismatch,    // chunk's meta or sender differs from the transfer under way
  kSnapshotBodyInvalid,         // the host found the received body fails its size/checksum
  kReadIndexRespUnknown,        // ReadIndexResp for a request we are not waiting for
  kReadIndexRespTermChanged,    // ReadIndexResp in another term than its request was sent in
};
inline constexpr int kViolationCount = 18;

// The Prometheus `reason` label: snake_case, stable.
const char* to_string(Violation violation);

// Sizes an honest sender stays within (the same Config on every member).
struct MessageLimits {
  uint64_t append_bytes_max = 1 << 20;          // Config::append_bytes_max
  uint64_t entry_bytes_max = 64 << 20;          // Config::entry_bytes_max
  uint64_t snapshot_chunk_bytes_max = 1 << 20;  // Config::snapshot_chunk_bytes_max
};

// The stateless rules. kNone when the message may be stepped.
[[nodiscard]] Violation validate_message(const Message& m, const MessageLimits& limits);

}  // namespace raft
