#include "raft/progress.h"

#include <algorithm>
#include <functional>

#include "raft/assert.h"

namespace raft {

void Inflights::add(Index last_index) {
  RAFT_ASSERT(!full(), "adding to a full inflight window");
  RAFT_ASSERT(items_.empty() || items_.back() <= last_index, "inflight appends out of order");
  items_.push_back(last_index);
}

void Inflights::free_le(Index index) {
  auto first_kept = std::upper_bound(items_.begin(), items_.end(), index);
  items_.erase(items_.begin(), first_kept);
}

void Progress::become_probe() {
  state = ProgressState::kProbe;
  next_index = match_index + 1;
  probe_sent = false;
  inflights.reset();
  snapshot_index = 0;
  snapshot_offset = 0;
  snapshot_forced = false;
}

void Progress::become_replicate() {
  state = ProgressState::kReplicate;
  next_index = match_index + 1;
  probe_sent = false;
  inflights.reset();
}

void Progress::become_snapshot(Index index) {
  state = ProgressState::kSnapshot;
  snapshot_index = index;
  snapshot_offset = 0;
  snapshot_idle_ticks = 0;
  snapshot_forced = false;
  probe_sent = false;
  inflights.reset();
}

bool Progress::maybe_update(Index index) {
  bool updated = false;
  if (match_index < index) {
    match_index = index;
    updated = true;
    probe_sent = false;
  }
  next_index = std::max(next_index, index + 1);
  return updated;
}

bool Progress::maybe_decrease_to(Index rejected, Index hint) {
  if (state == ProgressState::kReplicate) {
    // Pipelined Appends after a lost one are all rejected; only the first rejection past the
    // match point is news.
    if (rejected <= match_index) return false;
    next_index = match_index + 1;
    return true;
  }
  // Probe: only the answer to the Append we are waiting for counts.
  if (next_index == 0 || next_index - 1 != rejected) return false;
  next_index = std::max(std::min(rejected, hint + 1), match_index + 1);
  probe_sent = false;
  return true;
}

bool Progress::is_paused() const {
  switch (state) {
    case ProgressState::kProbe: return probe_sent;
    case ProgressState::kReplicate: return inflights.full();
    case ProgressState::kSnapshot: return true;
  }
  return true;
}

void ProgressTracker::set_conf(const ConfState& conf) {
  ConfState sorted = conf;
  std::sort(sorted.voters.begin(), sorted.voters.end());
  sorted.voters.erase(std::unique(sorted.voters.begin(), sorted.voters.end()), sorted.voters.end());
  std::map<NodeId, Progress> peers;
  for (NodeId v : sorted.voters) {
    if (v == self_) continue;
    auto it = peers_.find(v);
    peers.emplace(v, it != peers_.end() ? it->second : Progress(inflight_max_));
  }
  conf_ = std::move(sorted);
  peers_ = std::move(peers);
}

bool ProgressTracker::is_voter(NodeId id) const {
  return std::binary_search(conf_.voters.begin(), conf_.voters.end(), id);
}

Progress* ProgressTracker::find(NodeId id) {
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : &it->second;
}

void ProgressTracker::reset_all(Index last_index) {
  for (auto& [id, pr] : peers_) {
    pr = Progress(inflight_max_);
    pr.next_index = last_index + 1;
  }
}

namespace {
// The value that at least `quorum` of `values` reach: the quorum-th largest.
uint64_t quorum_value(std::vector<uint64_t>& values, int quorum) {
  RAFT_ASSERT(static_cast<int>(values.size()) >= quorum && quorum > 0, "no quorum to count");
  std::nth_element(values.begin(), values.begin() + (quorum - 1), values.end(),
                   std::greater<uint64_t>());
  return values[quorum - 1];
}
}  // namespace

Index ProgressTracker::quorum_match(Index self_match) const {
  std::vector<uint64_t> values;
  values.reserve(conf_.voters.size());
  if (is_voter(self_)) values.push_back(self_match);
  for (const auto& [id, pr] : peers_) values.push_back(pr.match_index);
  return quorum_value(values, quorum());
}

uint64_t ProgressTracker::quorum_read_round(uint64_t self_round) const {
  std::vector<uint64_t> values;
  values.reserve(conf_.voters.size());
  if (is_voter(self_)) values.push_back(self_round);
  for (const auto& [id, pr] : peers_) values.push_back(pr.read_round_acked);
  return quorum_value(values, quorum());
}

bool ProgressTracker::quorum_active_and_reset() {
  int active = is_voter(self_) ? 1 : 0;
  for (auto& [id, pr] : peers_) {
    if (pr.recent_active) ++active;
    pr.recent_active = false;
  }
  return active >= quorum();
}

int ProgressTracker::tally(const std::map<NodeId, bool>& votes) const {
  int granted = 0;
  int rejected = 0;
  for (NodeId v : conf_.voters) {
    auto it = votes.find(v);
    if (it == votes.end()) continue;
    (it->second ? granted : rejected)++;
  }
  if (granted >= quorum()) return 1;
  if (static_cast<int>(conf_.voters.size()) - rejected < quorum()) return -1;
  return 0;
}

}  // namespace raft
