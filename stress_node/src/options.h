// stress_node's command line (design.md §4): who this member is, who the others are, where its
// data lives, and the few tunables.
//
//   stress_node --node-id 0 --port 8080 --peers 8081,8082
//
// A peer is PORT (host 127.0.0.1), HOST:PORT, or ID@PORT / ID@HOST:PORT to give its node id.
// Without ids the members are this node and its peers sorted by (host, port) and each id is a
// position in that list, so every member derives the same ids from its own flags; --node-id,
// when given, must then equal this node's position. With ids, every peer carries one and
// --node-id is required.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/endpoint.h"
#include "raft/types.h"

namespace stress_node {

inline constexpr const char* kStressNodeVersion = "0.1.0";

struct Options {
  raft::NodeId node_id = 0;
  common::Endpoint self;                             // --host and --port: bind and advertise
  std::map<raft::NodeId, common::Endpoint> members;  // every member, self included
  std::filesystem::path data_dir;
  std::string log_level = "info";  // a spdlog level name
  int tick_ms = 25;
  int election_ticks = 6;
  int heartbeat_ticks = 2;
  uint64_t snapshot_threshold_entries = 100000;
  double snapshot_state_ratio = 1.0;  // raft_node.h snapshot_interval_entries
  uint64_t body_limit_bytes = 1 << 20;
  std::chrono::milliseconds commit_timeout{5000};
  // Abort when an event loop makes no progress for this long (watchdog.h); 0: no watchdog.
  std::chrono::milliseconds watchdog_limit{0};
  bool debug_endpoints = false;  // the /_debug/ failpoints (debug_api.h); tests only
  // TLS for the client API and the peers (common/tls.h); all empty: plain HTTP. Cert and key
  // come together; the CA (optional) turns on mutual TLS for the peer RPCs.
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_ca_file;
  [[nodiscard]] bool tls() const { return !tls_cert_file.empty(); }

  // Idempotency (issue 13; kv/state_machine.h): how long a retry with the same Idempotency-Key
  // is answered from the table, and the table's byte bound. Stamped into the commands this
  // node proposes as leader.
  std::chrono::milliseconds idempotency_ttl{600'000};
  uint64_t idempotency_table_bytes = uint64_t{256} << 20;

  // Issue 14 (peer_auth.h): the cluster secret that keys every peer frame's MAC, unless
  // insecure_peers; the admin token file ("" = admin routes answer 403 admin_disabled). Only
  // the paths: main() reads and checks the files (exit 1 on a bad file).
  std::filesystem::path cluster_secret_file;
  bool insecure_peers = false;
  std::filesystem::path admin_token_file;

  // Issue 15: --peer-transport stream (true, the default) or http (peer_transport.h).
  bool peer_stream = true;

  // The other members.
  [[nodiscard]] std::map<raft::NodeId, common::Endpoint> peers() const;
  [[nodiscard]] std::vector<raft::NodeId> voters() const;
};

// What parsing decided: run with `options`, or exit with `exit_code` after printing `output`
// (help or version text to stdout with code 0, a one-line error to stderr with code 2).
struct ParseOutcome {
  std::optional<Options> options;
  int exit_code = 0;
  std::string output;
};

// Environment lookup (STRESS_TEST_DATA, SPDLOG_LEVEL), injectable for tests.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;
[[nodiscard]] std::optional<std::string> process_env(const std::string& name);

// `args` excludes the program name.
[[nodiscard]] ParseOutcome parse_options(const std::vector<std::string>& args,
                                         const EnvLookup& env = process_env);

struct PeerSpec {
  std::optional<raft::NodeId> id;
  common::Endpoint endpoint;
};
// One --peers element. On failure nullopt and a reason in *error.
[[nodiscard]] std::optional<PeerSpec> parse_peer(std::string_view text, std::string* error);

// The member map from this node's endpoint, its --node-id (if given) and its peers, per the
// rules at the top of this file. On failure nullopt and a one-line reason in *error.
[[nodiscard]] std::optional<std::map<raft::NodeId, common::Endpoint>> resolve_members(
    std::optional<raft::NodeId> node_id, const common::Endpoint& self,
    const std::vector<PeerSpec>& peers, raft::NodeId* self_id, std::string* error);

// True for trace, debug, info, warn, warning, err, error, critical, off.
[[nodiscard]] bool is_log_level(std::string_view level);

}  // namespace stress_node
