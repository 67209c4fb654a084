#include "peer_validator.h"

#include <spdlog/spdlog.h>

#include <string>

namespace stress_node {

void RateLimitedLog::warn(std::string_view line) {
  uint64_t suppressed = 0;
  {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (last_ != std::chrono::steady_clock::time_point{} && now - last_ < interval_) {
      ++suppressed_;
      return;
    }
    last_ = now;
    suppressed = suppressed_;
    suppressed_ = 0;
  }
  if (suppressed > 0) {
    spdlog::warn("{} ({} more not logged)", line, suppressed);
  } else {
    spdlog::warn("{}", line);
  }
}

PeerValidator::PeerValidator(PeerValidatorOptions options)
    : options_(std::move(options)), log_(options_.log_interval) {
  for (int v = 1; v < raft::kViolationCount; ++v) {
    counts_.emplace(raft::to_string(static_cast<raft::Violation>(v)), 0);
  }
  for (std::string_view reason :
       {kRejectDecode, kRejectWrongRecipient, kRejectUnknownSender, kRejectSnapshotVoterUnknown}) {
    counts_.emplace(std::string(reason), 0);
  }
}

std::string_view PeerValidator::check(const raft::Message& m) const {
  if (m.to != options_.self) return kRejectWrongRecipient;
  if (m.from == options_.self || !options_.members.contains(m.from)) return kRejectUnknownSender;
  if (const raft::Violation v = raft::validate_message(m, options_.limits);
      v != raft::Violation::kNone) {
    return raft::to_string(v);
  }
  if (m.type == raft::MessageType::kSnapshot) {
    // Membership is static here: a snapshot naming another voter set would make this node
    // count votes and acknowledgements of nodes that do not exist.
    for (raft::NodeId voter : m.snapshot.conf.voters) {
      if (!options_.members.contains(voter)) return kRejectSnapshotVoterUnknown;
    }
  }
  return {};
}

size_t PeerValidator::filter(std::vector<raft::Message>* messages) {
  size_t dropped = 0;
  std::vector<raft::Message> kept;
  kept.reserve(messages->size());
  for (raft::Message& m : *messages) {
    const std::string_view reason = check(m);
    if (reason.empty()) {
      kept.push_back(std::move(m));
      continue;
    }
    ++dropped;
    reject(reason, std::string(raft::to_string(m.type)) + " from node " + std::to_string(m.from) +
                       " to node " + std::to_string(m.to) + " at term " + std::to_string(m.term));
  }
  *messages = std::move(kept);
  return dropped;
}

void PeerValidator::reject(std::string_view reason, std::string_view detail) {
  {
    std::lock_guard lock(mutex_);
    auto it = counts_.find(reason);
    if (it == counts_.end()) it = counts_.emplace(std::string(reason), 0).first;
    ++it->second;
  }
  log_.warn("peer input dropped (" + std::string(reason) + "): " + std::string(detail));
}

std::map<std::string, uint64_t> PeerValidator::counts() const {
  std::lock_guard lock(mutex_);
  return {counts_.begin(), counts_.end()};
}

}  // namespace stress_node
