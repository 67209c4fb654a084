// `cluster start` and `cluster stop` (issue 4 "Cluster control"): local stress_node processes,
// one per member, on consecutive ports, with data and logs under $STRESS_TEST_DATA/node-<id>
// (design.md §4), recorded in cluster.json so that stop, chaos and every command's default node
// list find them again.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "bombarder/base/process.h"
#include "bombarder/client/api_client.h"
#include "bombarder/cluster/cluster_record.h"

namespace bombarder {

inline constexpr size_t kClusterNodesMax = 9;

struct StartFlags {
  // etcd: etcd_members.h, redis: redis_members.h (their layouts, and the flags they refuse).
  StoreSystem system = StoreSystem::kStressNode;
  int port = 8080;       // node i listens on port + i
  int nodes = 3;         // [1, kClusterNodesMax]
  std::string node_bin;  // "" = stress_node beside bombarder (etcd: etcd on PATH)
  std::string host = "127.0.0.1";
  std::string log_level = "info";
  // Passed to every node when set; unset leaves the node's own default.
  std::optional<int> tick_ms;
  std::optional<int> election_ticks;
  std::optional<int> heartbeat_ticks;
  std::optional<uint64_t> snapshot_threshold;
  std::optional<double> snapshot_state_ratio;
  std::optional<int> commit_timeout_ms;
  double timeout_s = 15;  // wait for every node to serve and a leader to be elected
  bool fresh = false;     // remove the nodes' data directories first
  // A fault proxy in front of every client port and on every directed peer link
  // (cluster_proxies.h has the port layout and the proxies' names).
  bool proxied = false;
  // Redis: this many Redis Sentinels watching the primary (redis_sentinels.h); 0: none.
  int sentinels = 0;
  // HTTPS and mutual TLS between the nodes, with certificates generated in cluster_tls_dir().
  bool tls = false;
  bool json = false;
  // Issue 7: a background `bombarder supervise` once the cluster is ready, and the nodes'
  // --watchdog-ms / --debug-endpoints.
  bool supervise = false;
  std::optional<int> watchdog_ms;
  bool debug_endpoints = false;
  // Issue 14: start_cluster generates a cluster secret and admin token
  // (cluster_secrets.h) and sets these paths; with insecure_peers no secret, --insecure-peers.
  bool insecure_peers = false;
  std::string cluster_secret_file;
  std::string admin_token_file;
  // Issue 15: the nodes' --peer-transport (stream|http); nullopt: the node's default.
  std::optional<std::string> peer_transport;
};

// For `cluster start --system etcd|redis`: --node-bin when given, else `program` on PATH;
// throws Error(kEnvironment) ending in `install_hint` when there is none.
[[nodiscard]] std::filesystem::path find_store_program(const std::string& program,
                                                       const std::string& node_bin,
                                                       const std::string& install_hint);
// Refuses (Error(kInvalidInput)) the start flags that are stress_node's only, naming `system`
// (--proxied is each system's own business).
void refuse_stress_node_flags(const StartFlags& flags, const std::string& system);

// $STRESS_TEST_DATA/tls: ca.crt, node-<i>.crt/.key, client.crt/.key (node_tls.h).
[[nodiscard]] std::filesystem::path cluster_tls_dir();

struct StopFlags {
  double grace_s = 10;  // SIGTERM, then SIGKILL after this
  bool json = false;
};

// The command line of member `id` (argv[0] = `node_binary`): its id, port base_port + id, the
// other members as ID@HOST:PORT, its data directory `data_dir`, and the timing flags that are set.
// With `proxied`, its port and its peers' addresses are those of ProxiedLayout; with `tls`, its
// --tls-cert/--tls-key/--tls-ca in cluster_tls_dir().
[[nodiscard]] std::vector<std::string> node_command_line(const StartFlags& flags,
                                                         const std::string& node_binary,
                                                         uint64_t id, const std::string& data_dir);

// What start_cluster started.
struct StartedCluster {
  ClusterRecord record;      // as saved in cluster.json
  ClusterView view;          // every node serving and naming the same leader (view.leader set)
  std::vector<bool> reused;  // node i started on the data a previous cluster left
  double elapsed_s = 0;      // from the first node spawned to the cluster ready
};

// Validates the flags (Error(kInvalidInput)), refuses a running cluster or a taken port
// (Error(kEnvironment)), spawns and records the nodes and waits for a leader; a node that ends
// during startup, or a start that fails after spawning, stops the nodes it started first.
// Notes (a stale record replaced, a node starting on existing data) go to status_line. Leaves
// `supervise` to the caller (start_background_supervisor, supervisor.h).
[[nodiscard]] StartedCluster start_cluster(const StartFlags& flags);

// How stopping one recorded node went.
struct NodeStop {
  NodeRecord node;
  StopOutcome outcome = StopOutcome::kNotRunning;
  std::string detail;  // why it was left alone: its pid or port is someone else's now
};

// What stop_cluster did.
struct StopReport {
  ClusterRecord record;  // as it was before the stop
  std::vector<NodeStop> nodes;
  std::optional<StopOutcome> proxy;    // the fault proxy's, when one was recorded
  std::vector<StopOutcome> sentinels;  // by record.sentinels
  bool any_stopped = false;            // false: the record was stale
  bool all_gone = true;                // false: something runs after SIGKILL; the record is kept
};

// Stops the recorded supervisor, then the Redis sentinels, then every recorded node that is still
// the process we started (SIGTERM, SIGKILL after the grace period), then the fault proxy, and
// removes the record once none runs. Throws Error(kInvalidInput) for a negative grace,
// Error(kEnvironment) when there is no record; a process that survives SIGKILL is reported
// (all_gone), not thrown.
[[nodiscard]] StopReport stop_cluster(const StopFlags& flags);

}  // namespace bombarder
