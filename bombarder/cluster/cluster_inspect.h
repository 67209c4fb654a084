// `cluster status`, `cluster sync-status` and `cluster resync` (issue 4 "Cluster control"): what
// the nodes say about themselves (/status), what the leader says about its followers
// (/_raft/sync-status), and a forced snapshot resync of one follower (/_raft/force-resync).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bombarder/client/api_client.h"

namespace bombarder {

struct StatusFlags {
  std::vector<std::string> nodes;  // empty: default_nodes()
  bool json = false;
};

struct SyncStatusFlags {
  std::string leader;  // "" = discover from default_nodes()
  double wait_s = 5;   // for a leader while an election runs
  bool json = false;
};

struct ResyncFlags {
  std::string target;
  std::string leader;
  bool no_wait = false;
  double timeout_s = 30;  // until the follower is healthy again
  bool json = false;
};

// Whether the replicas agree: nodes at the same applied index, whose state hash describes that
// index, must hold the same hash (design.md §3).
struct HashAgreement {
  // Applied indexes at which two or more nodes could be compared.
  std::vector<uint64_t> compared_at;
  // "applied index 150: 127.0.0.1:8080 a1b2..., 127.0.0.1:8081 c3d4..." per disagreement.
  std::vector<std::string> disagreements;
  [[nodiscard]] bool agree() const { return disagreements.empty(); }
};
[[nodiscard]] HashAgreement compare_hashes(const ClusterView& view);

// One follower as the leader's /_raft/sync-status describes it.
struct FollowerSync {
  uint64_t id = 0;
  std::string address;
  std::string state;     // healthy, lagging, desynced, snapshotting
  std::string progress;  // probe, replicate, snapshot
  uint64_t match_index = 0;
  uint64_t lag = 0;
  std::optional<int64_t> last_contact_ms;
  bool reachable = true;
  uint64_t failures = 0;
  std::optional<uint64_t> snapshot_index;
  uint64_t snapshot_offset_bytes = 0;

  // Throws nlohmann::json::exception on a missing or ill-typed field.
  [[nodiscard]] static FollowerSync from_json(const Json& entry);
};

// The reference's line ("127.0.0.1:8081 (healthy)    - Last replicated: 150 | Lag: 0") and the
// progress details after it; `state_width` (the longest state name) and `index_width` (the
// widest match index) align a column of such lines.
[[nodiscard]] std::string format_follower_line(const FollowerSync& f, size_t state_width,
                                               size_t index_width);

// Prints the nodes' status; true when every node answers, a leader is known and the state
// hashes agree. Throws Error(kEnvironment) when no node answers.
[[nodiscard]] bool run_cluster_status(const StatusFlags& flags);
// Prints the leader's view of its followers; true when every follower is healthy. Throws
// Error(kEnvironment) without a leader.
[[nodiscard]] bool run_cluster_sync_status(const SyncStatusFlags& flags);
// Forces a snapshot resync of the target and (unless no_wait) waits until it is healthy again,
// printing the outcome. Throws Error(kInvalidInput) when the leader refuses the target itself
// (not a member, the leader), Error(kEnvironment) without a leader or the admin token,
// Error(kCheckFailed) when the leader cannot resync it or it is not healthy before the timeout.
void run_cluster_resync(const ResyncFlags& flags);

}  // namespace bombarder
