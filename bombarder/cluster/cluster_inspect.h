// What `cluster status`, `cluster sync-status` and `cluster resync` (issue 4 "Cluster control")
// find out: what the nodes say about themselves (/status), what the leader says about its
// followers (/_raft/sync-status), and a forced snapshot resync of one follower
// (/_raft/force-resync). The commands print it and choose the exit code
// (commands/cluster_inspect_command.cc).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bombarder/client/api_client.h"
#include "bombarder/cluster/cluster_record.h"
#include "bombarder/cluster/redis_sentinels.h"

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

// What `cluster status` judges: reachability, the leader, the state hashes.
struct ClusterHealth {
  HashAgreement hashes;
  size_t unreachable = 0;
  std::vector<std::string> problems;  // "1 of 3 nodes unreachable", "no leader", ...
  [[nodiscard]] bool healthy() const { return problems.empty(); }
};
[[nodiscard]] ClusterHealth assess_health(const ClusterView& view);

// The nodes' answers to /status and their verdict, and the recorded cluster's fault proxy.
struct ClusterStatus {
  ClusterView view;
  ClusterHealth health;
  std::optional<ProxyRecord> proxy;  // only when `nodes` was empty (the recorded cluster)
  // The recorded Redis cluster's sentinels (redis_sentinels.h): one not running or not
  // answering, or naming another primary than the nodes' leader, is a problem in `health`.
  std::vector<SentinelView> sentinels;
};
// Asks `nodes` (node URLs; empty: default_nodes()). Throws Error(kInvalidInput) for a bad URL,
// Error(kEnvironment) when no node answers.
[[nodiscard]] ClusterStatus inspect_cluster(const std::vector<std::string>& nodes);

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

// The leader's answer to GET /_raft/sync-status.
struct SyncStatus {
  common::Endpoint leader;
  Json body;
  std::vector<FollowerSync> followers;
  // "127.0.0.1:8081 (lagging)" for each follower that is not healthy.
  [[nodiscard]] std::vector<std::string> unhealthy() const;
};
// Finds the leader from `hint` (nullopt: default_nodes()), waiting up to `leader_wait` while an
// election runs, and asks it, following a bounded number of leader changes. Throws
// Error(kEnvironment) without a leader or for an answer that is not a sync status.
[[nodiscard]] SyncStatus fetch_sync_status(ApiClient& client, std::optional<common::Endpoint> hint,
                                           std::chrono::milliseconds leader_wait);

// ---- cluster resync: started by start_resync, watched by await_resync ----------------------

// A node's GET /_raft/resync_stats (1 s bound: a stopped target must not hold a resync up);
// nullopt when it does not answer.
[[nodiscard]] std::optional<Json> resync_stats(ApiClient& client, const common::Endpoint& node);
// A counter of resync_stats ("snapshots_sent", ...); 0 when absent.
[[nodiscard]] uint64_t resync_counter(const std::optional<Json>& stats, const char* name);

struct ResyncStart {
  common::Endpoint leader;
  Json answer;               // the leader's answer to the force-resync request
  uint64_t sent_before = 0;  // the leader's snapshots_sent just before the request
};
// POST /_raft/force-resync?target= to the leader (found from `hint`). Throws
// Error(kInvalidInput) when the leader refuses the target itself (400: not a member, the
// leader), Error(kEnvironment) without a leader or a valid admin token, Error(kCheckFailed)
// when it refuses for another reason.
[[nodiscard]] ResyncStart start_resync(ApiClient& client, std::optional<common::Endpoint> hint,
                                       const common::Endpoint& target);

struct ResyncWait {
  bool healthy = false;
  std::optional<FollowerSync> follower;  // as last seen
  std::string why;                       // when not healthy
};
// What a finished resync left behind: the counters after, and whether the target installed or
// refused the snapshot (unknown when its counters could not be read before or after).
struct ResyncOutcome {
  ResyncWait wait;
  double elapsed_s = 0;
  uint64_t snapshot_index = 0;
  std::optional<Json> leader_stats;
  std::optional<Json> target_stats;
  std::optional<bool> installed;
  std::optional<bool> refused;
};
// Waits (up to `timeout`) until the target holds the leader's resync snapshot and is healthy,
// and reads what it did; `target_before` are its resync_stats from before start_resync,
// `started` when the resync began.
[[nodiscard]] ResyncOutcome await_resync(ApiClient& client, const ResyncStart& start,
                                         const common::Endpoint& target,
                                         const std::optional<Json>& target_before,
                                         std::chrono::steady_clock::time_point started,
                                         std::chrono::milliseconds timeout);

}  // namespace bombarder
