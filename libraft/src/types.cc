#include "raft/types.h"

#include <cstdio>
#include <cstdlib>

#include "raft/assert.h"
#include "raft/message.h"
#include "raft/progress.h"
#include "raft/raft_core.h"

namespace raft {

// The only output the core ever produces on its own: the last words of a process whose
// invariants broke. Everything else goes through Ready.
void assertion_failed(const char* expr, const char* file, int line, const char* why) {
  std::fprintf(stderr, "raft invariant violated: %s (%s) at %s:%d\n", why, expr, file, line);
  std::fflush(stderr);
  std::abort();
}

const char* to_string(Role role) {
  switch (role) {
    case Role::kFollower: return "follower";
    case Role::kPreCandidate: return "pre-candidate";
    case Role::kCandidate: return "candidate";
    case Role::kLeader: return "leader";
  }
  return "unknown";
}

const char* to_string(MessageType type) {
  switch (type) {
    case MessageType::kPreVote: return "PreVote";
    case MessageType::kPreVoteResp: return "PreVoteResp";
    case MessageType::kVote: return "Vote";
    case MessageType::kVoteResp: return "VoteResp";
    case MessageType::kAppend: return "Append";
    case MessageType::kAppendResp: return "AppendResp";
    case MessageType::kHeartbeat: return "Heartbeat";
    case MessageType::kHeartbeatResp: return "HeartbeatResp";
    case MessageType::kSnapshot: return "Snapshot";
    case MessageType::kSnapshotResp: return "SnapshotResp";
    case MessageType::kTimeoutNow: return "TimeoutNow";
    case MessageType::kReadIndex: return "ReadIndex";
    case MessageType::kReadIndexResp: return "ReadIndexResp";
  }
  return "unknown";
}

const char* to_string(ProgressState state) {
  switch (state) {
    case ProgressState::kProbe: return "probe";
    case ProgressState::kReplicate: return "replicate";
    case ProgressState::kSnapshot: return "snapshot";
  }
  return "unknown";
}

const char* to_string(Status status) {
  switch (status) {
    case Status::kOk: return "ok";
    case Status::kNotLeader: return "not leader";
    case Status::kNoLeader: return "no leader";
    case Status::kTransferInProgress: return "leadership transfer in progress";
    case Status::kBusy: return "busy";
    case Status::kInvalidArgument: return "invalid argument";
  }
  return "unknown";
}

}  // namespace raft
