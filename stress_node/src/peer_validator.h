// The node's boundary for peer input (issue 14, "Validate every peer message at the boundary").
//
// A decoded peer message is checked here before it is queued for the raft thread:
//   - the node's own rules: addressed to us, from another member, a snapshot's voters are all
//     members of this cluster;
//   - the protocol's stateless rules, raft::validate_message (raft/validate.h): they belong to
//     the protocol, so they live in libraft, and RaftCore::step applies them again.
// The stateful rules (an AppendResp acknowledging more than was sent, a snapshot chunk of
// another transfer, a ReadIndexResp not outstanding) are checked by RaftCore where that state
// lives, and counted in raft::CoreCounters::messages_rejected.
//
// Every drop is counted by reason and exported as raft_peer_frames_rejected_total{reason}
// (the core's stateful drops are added under the same family, see RaftApi::metrics), and logged
// at most once per log interval (with the number of drops not logged since), so a flood of
// bad frames cannot flood the log. The frame authentication (MAC) runs before decoding and is a
// separate check; it counts its failures in the same family.
//
// Threads: every method is thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "raft/message.h"
#include "raft/validate.h"

namespace stress_node {

inline constexpr std::string_view kPeerFramesRejectedName = "raft_peer_frames_rejected_total";
inline constexpr std::string_view kPeerFramesRejectedHelp =
    "Peer frames or messages dropped at the boundary, by reason.";

// Reasons of the node's own rules (the protocol's are raft::to_string(Violation)).
inline constexpr std::string_view kRejectDecode = "decode";  // the frame did not decode
inline constexpr std::string_view kRejectWrongRecipient = "wrong_recipient";
inline constexpr std::string_view kRejectUnknownSender = "unknown_sender";
inline constexpr std::string_view kRejectSnapshotVoterUnknown = "snapshot_voter_unknown";

// Logs at most one line per `interval`; the next line says how many were suppressed.
class RateLimitedLog {
 public:
  explicit RateLimitedLog(std::chrono::milliseconds interval) : interval_(interval) {}
  void warn(std::string_view line);

 private:
  const std::chrono::milliseconds interval_;
  std::mutex mutex_;
  std::chrono::steady_clock::time_point last_{};
  uint64_t suppressed_ = 0;
};

struct PeerValidatorOptions {
  raft::NodeId self = raft::kNoNode;
  std::set<raft::NodeId> members;  // every member, self included
  raft::MessageLimits limits{};    // as the members' raft::Config
  std::chrono::milliseconds log_interval{1000};
};

class PeerValidator {
 public:
  explicit PeerValidator(PeerValidatorOptions options);

  // Why `m` must be dropped, or "" when it may be stepped. Changes nothing.
  [[nodiscard]] std::string_view check(const raft::Message& m) const;

  // Keeps the messages that pass check(); counts and logs each dropped one. Returns how many
  // were dropped.
  size_t filter(std::vector<raft::Message>* messages);

  // Counts a dropped frame or message (also frames dropped before decoding) and logs it.
  void reject(std::string_view reason, std::string_view detail);

  // Drops so far, by reason; every reason of raft::Violation and of the node's own rules is
  // present (0 when none), so the metric family is complete from the start.
  [[nodiscard]] std::map<std::string, uint64_t> counts() const;

 private:
  const PeerValidatorOptions options_;
  mutable std::mutex mutex_;
  std::map<std::string, uint64_t, std::less<>> counts_;
  RateLimitedLog log_;
};

}  // namespace stress_node
