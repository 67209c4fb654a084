#include "raft/validate.h"

#include <limits>

namespace raft {

const char* to_string(Violation violation) {
  switch (violation) {
    case Violation::kNone: return "none";
    case Violation::kEntriesNotContiguous: return "entries_not_contiguous";
    case Violation::kEntryTermPastMessageTerm: return "entry_term_past_message_term";
    case Violation::kEntryTermsDecreasing: return "entry_terms_decreasing";
    case Violation::kLogTermPastTerm: return "log_term_past_term";
    case Violation::kEntriesOverLimit: return "entries_over_limit";
    case Violation::kUnexpectedEntries: return "unexpected_entries";
    case Violation::kSnapshotMetaInvalid: return "snapshot_meta_invalid";
    case Violation::kSnapshotChunkPastSize: return "snapshot_chunk_past_size";
    case Violation::kSnapshotLastChunkSize: return "snapshot_last_chunk_size";
    case Violation::kSnapshotChunkOverLimit: return "snapshot_chunk_over_limit";
    case Violation::kAppendRespPastSent: return "append_resp_past_sent";
    case Violation::kHeartbeatRespRoundPastSent: return "heartbeat_resp_round_past_sent";
    case Violation::kSnapshotRespPastSize: return "snapshot_resp_past_size";
    case Violation::kSnapshotTransferMismatch: return "snapshot_transfer_mismatch";
    case Violation::kSnapshotBodyInvalid: return "snapshot_body_invalid";
    case Violation::kReadIndexRespUnknown: return "read_index_resp_unknown";
    case Violation::kReadIndexRespTermChanged: return "read_index_resp_term_changed";
  }
  return "unknown";
}

namespace {

// §5.3: an Append carries the leader's entries after (index, log_term); the leader's log is
// contiguous, its terms never decrease along the log, and none is newer than the leader's term.
// The sender cuts them by append_bytes_max but always sends at least one (RaftLog::slice).
Violation validate_append(const Message& m, const MessageLimits& limits) {
  if (m.log_term > m.term) return Violation::kLogTermPastTerm;
  if (m.entries.size() > std::numeric_limits<Index>::max() - m.index) {
    return Violation::kEntriesNotContiguous;
  }
  uint64_t bytes = 0;
  Term previous = m.log_term;
  for (size_t k = 0; k < m.entries.size(); ++k) {
    const Entry& e = m.entries[k];
    if (e.index != m.index + 1 + k) return Violation::kEntriesNotContiguous;
    if (e.term > m.term) return Violation::kEntryTermPastMessageTerm;
    if (e.term < previous) return Violation::kEntryTermsDecreasing;
    previous = e.term;
    if (e.data.size() > limits.entry_bytes_max) return Violation::kEntriesOverLimit;
    bytes += entry_size_bytes(e);
  }
  if (m.entries.size() > 1 && bytes > limits.append_bytes_max) return Violation::kEntriesOverLimit;
  return Violation::kNone;
}

// §7: a chunk lies within the body the meta describes, the last one ends exactly at its size,
// the last one is marked as such, and the meta names a real state (index and term > 0, a voter set
// sorted without duplicates).
Violation validate_snapshot(const Message& m, const MessageLimits& limits) {
  const SnapshotMeta& meta = m.snapshot;
  if (meta.index == 0 || meta.term == 0 || meta.term > m.term || meta.conf.voters.empty()) {
    return Violation::kSnapshotMetaInvalid;
  }
  for (size_t k = 1; k < meta.conf.voters.size(); ++k) {
    if (meta.conf.voters[k - 1] >= meta.conf.voters[k]) return Violation::kSnapshotMetaInvalid;
  }
  const uint64_t len = m.snapshot_data.size();
  if (len > limits.snapshot_chunk_bytes_max) return Violation::kSnapshotChunkOverLimit;
  if (m.snapshot_offset > meta.size_bytes || len > meta.size_bytes - m.snapshot_offset) {
    return Violation::kSnapshotChunkPastSize;
  }
  // The sender marks a chunk last exactly when it reaches the end (send_snapshot_chunk).
  if (m.snapshot_last != (m.snapshot_offset + len == meta.size_bytes)) {
    return Violation::kSnapshotLastChunkSize;
  }
  return Violation::kNone;
}

}  // namespace

Violation validate_message(const Message& m, const MessageLimits& limits) {
  if (m.type != MessageType::kAppend && !m.entries.empty()) return Violation::kUnexpectedEntries;
  switch (m.type) {
    case MessageType::kAppend: return validate_append(m, limits);
    case MessageType::kSnapshot: return validate_snapshot(m, limits);
    case MessageType::kPreVote:
    case MessageType::kVote:
      // The candidate's last entry cannot be newer than the term it campaigns in.
      return m.log_term > m.term ? Violation::kLogTermPastTerm : Violation::kNone;
    default: return Violation::kNone;
  }
}

}  // namespace raft
