// $STRESS_TEST_DATA/cluster.json (design.md §4): what `cluster start` launched, so that
// `cluster stop`, the chaos killer and the default node list of every command find it again.
//
// The file is rewritten atomically (temporary file + rename), so a reader never sees half of it.
// A node's `args` are its whole command line: restarting it with them makes it the same member
// with the same data directory (design.md §4).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "bombarder/client/store_system.h"
#include "common/endpoint.h"

namespace bombarder {

struct NodeRecord {
  uint64_t id = 0;
  common::Endpoint endpoint;
  pid_t pid = 0;
  std::filesystem::path data_dir;
  std::filesystem::path output_path;  // the node's stdout/stderr (console.log)
  std::vector<std::string> args;      // argv, argv[0] the stress_node binary
  // `cluster start --proxied`: the node's own --port, while `endpoint` is its client proxy
  // (cluster_proxies.h). 0: the node listens on `endpoint` itself.
  uint16_t listen_port = 0;
  // The cluster's store (ClusterRecord::system), copied to every node when the record is read.
  StoreSystem system = StoreSystem::kStressNode;

  [[nodiscard]] uint16_t node_port() const {
    return listen_port != 0 ? listen_port : endpoint.port;
  }
  // The binary it was started as (argv[0]), for is_node_process; empty if none was recorded.
  [[nodiscard]] std::string program() const { return args.empty() ? std::string() : args[0]; }
};

// The fault proxy process of `cluster start --proxied` (cluster_proxies.h).
struct ProxyRecord {
  pid_t pid = 0;
  common::Endpoint api;  // its Toxiproxy REST API
  std::filesystem::path config_path;
  std::filesystem::path output_path;
  std::vector<std::string> args;
};

// A Redis Sentinel of `cluster start --system redis --sentinel` (redis_sentinels.h). Not a data
// node, so not in `nodes`: the load, verify and the chaos monkey never pick it; `cluster stop`
// stops it, `cluster status` shows it.
struct SentinelRecord {
  uint64_t id = 0;
  common::Endpoint endpoint;
  pid_t pid = 0;
  std::filesystem::path config_path;  // its sentinel.conf, which Sentinel rewrites as it learns
  std::filesystem::path output_path;  // its stdout/stderr (console.log)
  std::vector<std::string> args;      // argv, argv[0] redis-sentinel
};

// The `bombarder supervise` process that keeps this cluster alive (supervisor.h), recorded so
// that `cluster stop` stops it before the nodes (else it would restart them) and so that a second
// supervisor is refused.
struct SupervisorRecord {
  pid_t pid = 0;
  std::filesystem::path output_path;  // its log ("" when it runs in a terminal)
};

// `cluster start --tls` (node_tls.h): every node serves HTTPS with a certificate from `ca_file`;
// bombarder presents the client certificate.
struct TlsRecord {
  std::filesystem::path ca_file;
  std::filesystem::path client_cert_file;
  std::filesystem::path client_key_file;
};

struct ClusterRecord {
  std::string started_at;  // ISO 8601 UTC
  // `cluster start --system`: "system" in cluster.json, left out for stress_node.
  StoreSystem system = StoreSystem::kStressNode;
  std::filesystem::path node_binary;
  std::vector<NodeRecord> nodes;
  std::optional<ProxyRecord> proxy;       // set by --proxied
  std::vector<SentinelRecord> sentinels;  // set by --sentinel (Redis only)
  std::optional<SupervisorRecord> supervisor;
  std::optional<TlsRecord> tls;  // set by --tls
  // Issue 14 (cluster_secrets.h): "" for a cluster started with --insecure-peers.
  std::filesystem::path cluster_secret_file;
  std::filesystem::path admin_token_file;

  [[nodiscard]] std::vector<common::Endpoint> endpoints() const;
  [[nodiscard]] std::vector<common::Endpoint> sentinel_endpoints() const;
  [[nodiscard]] const NodeRecord* find(const common::Endpoint& endpoint) const;
};

[[nodiscard]] std::filesystem::path cluster_record_path();  // data_root() / "cluster.json"

// nullopt when there is no record. Throws Error(kEnvironment) when it exists but
// cannot be read or parsed (the message names the file, so the user can remove it).
[[nodiscard]] std::optional<ClusterRecord> load_cluster_record();
// Throws Error(kEnvironment) when it cannot be written.
void save_cluster_record(const ClusterRecord& record);
void remove_cluster_record();

// The nodes a command addresses when --nodes is not given: the recorded cluster's members, or
// the reference default 127.0.0.1:8080-8082.
[[nodiscard]] std::vector<common::Endpoint> default_nodes();

}  // namespace bombarder
