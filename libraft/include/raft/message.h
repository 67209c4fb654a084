// Messages exchanged between cores. The core neither sends nor receives them: it emits them in a
// Ready batch and consumes them through RaftCore::step. Any transport and encoding will do, as
// long as every field below survives the trip.
#pragma once

#include <cstdint>
#include <vector>

#include "raft/types.h"

namespace raft {

enum class MessageType : uint8_t {
  kPreVote = 0,  // §9.6 of the Raft thesis: "would you vote for me at term+1?"
  kPreVoteResp = 1,
  kVote = 2,  // RequestVote (§5.2)
  kVoteResp = 3,
  kAppend = 4,  // AppendEntries carrying entries (§5.3)
  kAppendResp = 5,
  kHeartbeat = 6,  // AppendEntries without entries; also carries ReadIndex rounds (§6.4)
  kHeartbeatResp = 7,
  kSnapshot = 8,  // one chunk of InstallSnapshot (§7)
  kSnapshotResp = 9,
  kTimeoutNow = 10,  // leadership transfer: "start an election now" (thesis §3.10)
  kReadIndex = 11,   // follower asks the leader for a read index on behalf of a client (§6.4)
  kReadIndexResp = 12,
};
inline constexpr int kMessageTypeCount = 13;
const char* to_string(MessageType type);

// Field use by type (unused fields are zero/empty):
//   PreVote/Vote          term (candidate's, +1 for PreVote), index/log_term = candidate's last
//                         log entry, leader_transfer = sent in response to TimeoutNow.
//   PreVoteResp/VoteResp  term, reject.
//   Append                index/log_term = entry preceding `entries`, entries, commit.
//   AppendResp            success: index = last index now matching the leader.
//                         reject:  index = the rejected Append's index, reject_hint = follower's
//                                  guess of the last index that may match, log_term = the
//                                  follower's term at reject_hint (fast back-off, §5.3 end).
//   Heartbeat             commit (never past the follower's match), context = ReadIndex round.
//   HeartbeatResp         context echoed.
//   Snapshot              snapshot meta, snapshot_offset, snapshot_data, snapshot_last,
//                         snapshot_force = install even if already committed (see
//                         RaftCore::send_snapshot).
//   SnapshotResp          index = snapshot index, snapshot_offset = bytes the follower holds
//                         (the next offset it expects), reject = offset mismatch,
//                         snapshot_last = installed (follower now matches at index);
//                         reject and snapshot_last together = a forced snapshot refused (the
//                         follower compacted its log past it), the leader resumes appending.
//   ReadIndex             context = caller's request id.
//   ReadIndexResp         context echoed, index = read index, reject = leader could not serve.
struct Message {
  MessageType type = MessageType::kHeartbeat;
  NodeId from = kNoNode;
  NodeId to = kNoNode;
  Term term = 0;

  Term log_term = 0;
  Index index = 0;
  std::vector<Entry> entries;
  Index commit = 0;
  bool reject = false;
  Index reject_hint = 0;
  uint64_t context = 0;
  bool leader_transfer = false;

  SnapshotMeta snapshot;
  uint64_t snapshot_offset = 0;
  Payload snapshot_data;
  bool snapshot_last = false;
  bool snapshot_force = false;

  friend bool operator==(const Message&, const Message&) = default;
};

}  // namespace raft
