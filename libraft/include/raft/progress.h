// What the leader knows about each voter's log, and the quorum arithmetic over the voter set.
// The voter set lives here and nowhere else, so membership changes touch one place.
#pragma once

#include <cstddef>
#include <map>
#include <vector>

#include "raft/types.h"

namespace raft {

enum class ProgressState : uint8_t {
  kProbe,      // one Append in flight until the follower answers; used to find the match point
  kReplicate,  // optimistic pipelining: next_index advances as Appends are sent
  kSnapshot,   // the follower needs a snapshot; Appends are paused until it is installed
};
const char* to_string(ProgressState state);

// A bounded ring of the last index carried by each Append in flight. Full means "stop sending
// until an answer frees a slot" (the pipelining bound).
class Inflights {
 public:
  explicit Inflights(size_t capacity) : capacity_(capacity) {}
  [[nodiscard]] bool full() const { return items_.size() >= capacity_; }
  [[nodiscard]] size_t count() const { return items_.size(); }
  void add(Index last_index);
  void free_le(Index index);  // frees every Append whose last index <= index
  void reset() { items_.clear(); }

 private:
  size_t capacity_;
  std::vector<Index> items_;  // ascending; small (<= capacity), erased from the front
};

struct Progress {
  explicit Progress(size_t inflight_max) : inflights(inflight_max) {}

  Index match_index = 0;
  Index next_index = 1;
  ProgressState state = ProgressState::kProbe;
  bool probe_sent = false;     // kProbe: an Append is outstanding
  bool recent_active = false;  // heard from since the last CheckQuorum round
  Inflights inflights;
  Index match_at_last_heartbeat = 0;  // to detect a stalled pipeline (lost Appends)
  int stalled_heartbeats = 0;         // heartbeat answers without match progress, in a row

  // kSnapshot: the snapshot being streamed and how much of it the follower holds.
  Index snapshot_index = 0;
  uint64_t snapshot_offset = 0;
  int snapshot_idle_ticks = 0;  // ticks since the last chunk answer; resend when too many
  // An operator forced this transfer (RaftCore::send_snapshot): the follower installs it even
  // if it holds the entries, so only its answer to the snapshot ends the transfer.
  bool snapshot_forced = false;

  uint64_t read_round_acked = 0;  // highest ReadIndex round the follower echoed

  // The highest log index this leader sent the follower in its term (an Append's last entry or
  // prev index, a snapshot's index): an AppendResp can acknowledge no more (issue 14).
  Index sent_index = 0;

  void become_probe();
  void become_replicate();
  void become_snapshot(Index snapshot_index);
  // Records a successful answer; returns false if it told us nothing new.
  bool maybe_update(Index index);
  // Handles a rejection of the Append at `rejected` with the follower's hint; returns false if
  // the rejection is stale (refers to an Append we no longer care about).
  bool maybe_decrease_to(Index rejected, Index hint);
  [[nodiscard]] bool is_paused() const;
};

class ProgressTracker {
 public:
  ProgressTracker(NodeId self, size_t inflight_max) : self_(self), inflight_max_(inflight_max) {}

  // Installs the voter set (sorted, unique). Keeps progress of voters that stay.
  void set_conf(const ConfState& conf);
  [[nodiscard]] const ConfState& conf() const { return conf_; }
  [[nodiscard]] bool is_voter(NodeId id) const;
  [[nodiscard]] int quorum() const { return static_cast<int>(conf_.voters.size() / 2 + 1); }

  // Every voter except self, ascending.
  [[nodiscard]] std::map<NodeId, Progress>& peers() { return peers_; }
  [[nodiscard]] const std::map<NodeId, Progress>& peers() const { return peers_; }
  [[nodiscard]] Progress* find(NodeId id);

  // Resets every peer for a new leader term: next = last_index + 1, match = 0.
  void reset_all(Index last_index);

  // The largest index replicated on a quorum, counting self at self_match.
  [[nodiscard]] Index quorum_match(Index self_match) const;
  // The largest ReadIndex round echoed by a quorum, counting self at self_round.
  [[nodiscard]] uint64_t quorum_read_round(uint64_t self_round) const;
  // CheckQuorum (thesis §6.2): was a quorum heard from since the last call? Clears the marks.
  [[nodiscard]] bool quorum_active_and_reset();
  // Votes: returns +1 won, -1 lost, 0 pending.
  [[nodiscard]] int tally(const std::map<NodeId, bool>& votes) const;

 private:
  NodeId self_;
  size_t inflight_max_;
  ConfState conf_;
  std::map<NodeId, Progress> peers_;
};

}  // namespace raft
