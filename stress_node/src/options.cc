#include "options.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <cstdlib>

#include "common/duration.h"
#include "kv/codec.h"

namespace stress_node {

namespace {

constexpr const char* kDefaultPeerHost = "127.0.0.1";  // design.md §4: PORT means 127.0.0.1
constexpr uint64_t kBodyLimitBytesMin = 4 << 10;
constexpr uint64_t kBodyLimitBytesMax = 64 << 20;
constexpr int kWatchdogMsMin = 100;

ParseOutcome usage_error(const std::string& message) {
  ParseOutcome outcome;
  outcome.exit_code = 2;
  outcome.output = "stress_node: error: " + message + " (see --help)";
  return outcome;
}

std::string member_list(const std::vector<common::Endpoint>& endpoints) {
  std::string out;
  for (size_t i = 0; i < endpoints.size(); ++i) {
    out += (i == 0 ? "" : ", ") + std::to_string(i) + "=" + endpoints[i].to_string();
  }
  return out;
}

// The raw flag values before the membership rules are applied.
struct RawFlags {
  uint64_t node_id = 0;
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  std::vector<std::string> peers;
  std::string data_dir;
  std::string log_level;
  int tick_ms = 25;
  int election_ticks = 6;
  int heartbeat_ticks = 0;  // 0: not given, Options' default capped at half the election ticks
  uint64_t snapshot_threshold = 100000;
  double snapshot_state_ratio = 1.0;
  uint64_t body_limit_bytes = 1 << 20;
  int commit_timeout_ms = 5000;
  int watchdog_ms = 0;
  bool debug_endpoints = false;
  std::string idempotency_ttl = "10m";
  uint64_t idempotency_table_bytes = kv::kIdempotencyTableBytesMaxDefault;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_ca;
  std::string cluster_secret_file;
  bool insecure_peers = false;
  std::string admin_token_file;
  std::string peer_transport = "stream";
};

// Idempotency flags (issue 13), in one block.
void define_idempotency_flags(CLI::App& app, RawFlags& f) {
  app.add_option("--idempotency-ttl", f.idempotency_ttl,
                 "How long a retried write with the same Idempotency-Key is answered with the "
                 "first answer instead of being applied again: 500ms, 2s, 10m, or seconds; "
                 "[1ms, 7 days]. Counted by the leaders' clocks stamped into the log")
      ->capture_default_str();
  app.add_option("--idempotency-table-bytes", f.idempotency_table_bytes,
                 "Bound on the idempotency table's size; past it the records closest to expiry "
                 "are forgotten first (a retry of those is applied again). Suffixes KiB, MiB, "
                 "GiB accepted; at least 4MiB")
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::Range(kv::kIdempotencyTableBytesMin, uint64_t{1} << 40))
      ->default_str("256MiB");
}

std::optional<std::string> apply_idempotency_flags(const RawFlags& f, Options& options) {
  const auto ttl = common::parse_duration(f.idempotency_ttl,
                                          std::chrono::milliseconds(kv::kIdempotencyTtlMsMax));
  if (!ttl || ttl->count() < 1) {
    return "--idempotency-ttl: '" + f.idempotency_ttl +
           "' is not a duration in [1ms, 7 days] (500ms, 2s, 10m or seconds)";
  }
  options.idempotency_ttl = *ttl;
  options.idempotency_table_bytes = f.idempotency_table_bytes;
  return std::nullopt;
}

// TLS, and issue 14's peer authentication and admin token (peer_auth.h).
void define_security_flags(CLI::App& app, RawFlags& f) {
  app.add_option("--tls-cert", f.tls_cert,
                 "PEM certificate (chain) of this node: serve the client API and the peer RPCs "
                 "over TLS (HTTPS) and present it to peers. Its SANs must name the --host "
                 "(IP SAN for an address). Needs --tls-key; without it: plain HTTP");
  app.add_option("--tls-key", f.tls_key, "PEM private key (unencrypted) of --tls-cert");
  app.add_option("--tls-ca", f.tls_ca,
                 "PEM CA that signs every member's certificate: peers' certificates are "
                 "verified against it, and the peer RPCs (/_raft/append, /vote, /snapshot) "
                 "refuse connections without a client certificate it signed (mutual TLS; 403 "
                 "client_certificate_required). Clients of the API need no certificate. "
                 "Without it peers are verified against the system's trusted CAs");
  app.add_option("--cluster-secret-file", f.cluster_secret_file,
                 "The cluster secret every member shares: every peer frame carries an "
                 "HMAC-SHA256 keyed by it. The file holds 64 or more hex digits (32+ bytes; "
                 "whitespace around them ignored) and must be mode 0600 or stricter. Make one "
                 "with: openssl rand -hex 32 > FILE; chmod 600 FILE. Required unless "
                 "--insecure-peers");
  app.add_flag("--insecure-peers", f.insecure_peers,
               "Accept and send peer frames without a MAC (anyone who reaches the port can then "
               "forge Raft messages); warns on every start, /status shows peer_auth=insecure");
  app.add_option("--peer-transport", f.peer_transport,
                 "How Raft messages travel to the other members: `stream` (one persistent "
                 "connection per peer, upgraded from HTTP, carrying MACed frames; votes and "
                 "snapshots still as HTTP requests) or `http` (one POST per batch)")
      ->capture_default_str();
  app.add_option("--admin-token-file", f.admin_token_file,
                 "File holding the bearer token of the admin routes (POST /_raft/force-resync, "
                 "/_debug/*): 32 or more printable characters, mode 0600 or stricter (openssl "
                 "rand -hex 32). Without it those routes answer 403 admin_disabled");
}

// Raft timing and snapshot policy.
void define_raft_flags(CLI::App& app, RawFlags& f) {
  app.add_option("--tick-ms", f.tick_ms, "Raft tick length in milliseconds")
      ->check(CLI::Range(1, 10'000))
      ->capture_default_str();
  app.add_option("--election-ticks", f.election_ticks,
                 "Election timeout in ticks, randomized in [t, 2t)")
      ->check(CLI::Range(3, 10'000))
      ->capture_default_str();
  app.add_option("--heartbeat-ticks", f.heartbeat_ticks,
                 "The leader's heartbeat interval in ticks; at most --election-ticks / 2, so that "
                 "a follower hears at least two before its timeout. The defaults (25 ms ticks, "
                 "an election timeout of 6-12 ticks, a heartbeat every 2) detect a dead leader "
                 "in 150-300 ms with a heartbeat every 50 ms [default: 2, or half of "
                 "--election-ticks when that is less]")
      ->check(CLI::Range(1, 10'000));
  app.add_option("--snapshot-threshold", f.snapshot_threshold,
                 "Take a snapshot and compact the log after this many applied entries (etcd's "
                 "--snapshot-count default too: a snapshot writes the whole state, so a small "
                 "threshold multiplies the write volume)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40))
      ->capture_default_str();
  app.add_option("--snapshot-state-ratio", f.snapshot_state_ratio,
                 "Take a snapshot only once this many times the state's live records (entries "
                 "and idempotency records) have been applied since the last one, and at least "
                 "--snapshot-threshold: a snapshot writes the whole state, so its cost per write "
                 "then does not grow with the store; the log between snapshots takes up to this "
                 "many times the state's records on disk. 0: --snapshot-threshold alone")
      ->check(CLI::Range(0.0, 1000.0))
      ->capture_default_str();
}

void define_flags(CLI::App& app, RawFlags& f) {
  app.add_option("--node-id", f.node_id,
                 "This member's id. Optional when peers carry no ids: it is then this node's "
                 "position among all members sorted by (host, port), and must match if given");
  app.add_option("--port", f.port, "HTTP port for clients and peers")
      ->check(CLI::Range(1, 65535))
      ->capture_default_str();
  app.add_option("--host", f.host, "Address to bind and to advertise to peers")
      ->capture_default_str();
  app.add_option("--peers", f.peers,
                 "The other members, comma-separated: PORT (host 127.0.0.1), HOST:PORT, "
                 "ID@PORT or ID@HOST:PORT")
      ->delimiter(',');
  app.add_option("--data-dir", f.data_dir,
                 "Data directory (RocksDB, node.log, node.pid) "
                 "[default: $STRESS_TEST_DATA/node-<id>, STRESS_TEST_DATA defaulting to data]");
  app.add_option("--log-level", f.log_level,
                 "trace, debug, info, warn, error, critical or off "
                 "[default: $SPDLOG_LEVEL, else info]");
  define_raft_flags(app, f);
  app.add_option("--body-limit", f.body_limit_bytes,
                 "Largest client request body in bytes; suffixes KiB, MiB (KB = 1024) accepted. "
                 "Larger bodies get 413")
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::Range(kBodyLimitBytesMin, kBodyLimitBytesMax))
      ->default_str("1MiB");
  app.add_option("--commit-timeout-ms", f.commit_timeout_ms,
                 "How long a write waits for commit before answering 504 (outcome unknown)")
      ->check(CLI::Range(100, 600'000))
      ->capture_default_str();
  app.add_option("--watchdog-ms", f.watchdog_ms,
                 "Abort the process (SIGABRT, one critical log line) when its HTTP/peer event "
                 "loop or its raft thread has made no progress for this many milliseconds, so "
                 "that a supervisor restarts a hung node; 0 disables the watchdog. Keep it well "
                 "above the slowest fsync")
      ->check(CLI::Range(0, 600'000))
      ->capture_default_str();
  app.add_flag("--debug-endpoints", f.debug_endpoints,
               "Serve the test-only failpoint POST /_debug/hang?loop=io|raft&ms=N, which blocks "
               "that loop for N ms (for watchdog tests); without the flag the route is 404");
  define_idempotency_flags(app, f);
  define_security_flags(app, f);
  app.set_version_flag("--version", kStressNodeVersion);
  app.footer(
      "Environment: STRESS_TEST_DATA (data root, default 'data'), SPDLOG_LEVEL (log level).\n"
      "SIGTERM/SIGINT: hand leadership over, finish requests in flight, exit 0.\n"
      "Exit codes: 0 clean stop, 1 startup failure (data dir, port in use), 2 bad flags "
      "(also unreadable or invalid TLS files).");
}

std::optional<std::string> resolve_log_level(const RawFlags& f, const EnvLookup& env,
                                             std::string* error) {
  if (!f.log_level.empty()) {
    if (is_log_level(f.log_level)) return f.log_level;
    *error = "--log-level: unknown level '" + f.log_level + "'";
    return std::nullopt;
  }
  const std::optional<std::string> from_env = env("SPDLOG_LEVEL");
  if (!from_env || from_env->empty()) return "info";
  if (is_log_level(*from_env)) return *from_env;
  *error = "SPDLOG_LEVEL: unknown level '" + *from_env + "'";
  return std::nullopt;
}

// The timing flags' rules; the error text if one is broken.
std::optional<std::string> apply_raft_flags(const RawFlags& f, Options& options) {
  options.tick_ms = f.tick_ms;
  options.election_ticks = f.election_ticks;
  if (f.heartbeat_ticks * 2 > f.election_ticks) {
    return "--heartbeat-ticks " + std::to_string(f.heartbeat_ticks) +
           " is more than half of --election-ticks " + std::to_string(f.election_ticks) +
           ": followers would time out between two heartbeats";
  }
  // Not given: the default, but never over half of a short --election-ticks.
  options.heartbeat_ticks = f.heartbeat_ticks != 0
                                ? f.heartbeat_ticks
                                : std::min(Options{}.heartbeat_ticks, f.election_ticks / 2);
  options.snapshot_threshold_entries = f.snapshot_threshold;
  options.snapshot_state_ratio = f.snapshot_state_ratio;
  return std::nullopt;
}

// TLS, peer authentication and admin token; the error text if a combination is refused.
std::optional<std::string> apply_security_flags(const RawFlags& f, Options& options) {
  if (f.tls_cert.empty() != f.tls_key.empty()) {
    return "--tls-cert and --tls-key are given together";
  }
  if (!f.tls_ca.empty() && f.tls_cert.empty()) {
    return "--tls-ca needs --tls-cert and --tls-key (TLS is off without them)";
  }
  options.tls_cert_file = f.tls_cert;
  options.tls_key_file = f.tls_key;
  options.tls_ca_file = f.tls_ca;
  if (f.cluster_secret_file.empty() && !f.insecure_peers) {
    return "--cluster-secret-file is required (make one with: openssl rand -hex 32 > FILE; chmod "
           "600 FILE), or pass --insecure-peers to run without peer authentication";
  }
  if (!f.cluster_secret_file.empty() && f.insecure_peers) {
    return "--cluster-secret-file and --insecure-peers exclude each other";
  }
  options.cluster_secret_file = f.cluster_secret_file;
  options.insecure_peers = f.insecure_peers;
  options.admin_token_file = f.admin_token_file;
  return std::nullopt;
}

ParseOutcome build(const RawFlags& f, bool node_id_given, const EnvLookup& env) {
  std::string error;
  std::vector<PeerSpec> peers;
  for (const std::string& text : f.peers) {
    if (text.empty()) continue;  // "--peers 8081," or "--peers ''" for a single node
    auto peer = parse_peer(text, &error);
    if (!peer) return usage_error("--peers: " + error);
    peers.push_back(std::move(*peer));
  }
  auto self = common::Endpoint::parse(std::to_string(f.port), f.host, &error);
  if (!self) return usage_error("--host: " + error);

  Options options;
  auto members =
      resolve_members(node_id_given ? std::optional<raft::NodeId>(f.node_id) : std::nullopt, *self,
                      peers, &options.node_id, &error);
  if (!members) return usage_error(error);
  auto level = resolve_log_level(f, env, &error);
  if (!level) return usage_error(error);

  options.self = *self;
  options.members = std::move(*members);
  options.log_level = std::move(*level);
  if (!f.data_dir.empty()) {
    options.data_dir = f.data_dir;
  } else {
    const auto root = env("STRESS_TEST_DATA");
    options.data_dir = std::filesystem::path(root && !root->empty() ? *root : "data") /
                       ("node-" + std::to_string(options.node_id));
  }
  if (auto bad = apply_raft_flags(f, options)) return usage_error(*bad);
  options.body_limit_bytes = f.body_limit_bytes;
  options.commit_timeout = std::chrono::milliseconds(f.commit_timeout_ms);
  if (f.watchdog_ms > 0 && f.watchdog_ms < kWatchdogMsMin) {
    return usage_error("--watchdog-ms: " + std::to_string(f.watchdog_ms) +
                       " is below the minimum " + std::to_string(kWatchdogMsMin) +
                       " (a loop routinely pauses for a tick and an fsync); 0 disables it");
  }
  options.watchdog_limit = std::chrono::milliseconds(f.watchdog_ms);
  options.debug_endpoints = f.debug_endpoints;
  if (auto bad = apply_idempotency_flags(f, options)) return usage_error(*bad);
  if (auto bad = apply_security_flags(f, options)) return usage_error(*bad);
  if (f.peer_transport != "stream" && f.peer_transport != "http") {
    return usage_error("--peer-transport: expected stream or http, got '" + f.peer_transport + "'");
  }
  options.peer_stream = f.peer_transport != "http";
  ParseOutcome outcome;
  outcome.options = std::move(options);
  return outcome;
}

}  // namespace

std::map<raft::NodeId, common::Endpoint> Options::peers() const {
  auto out = members;
  out.erase(node_id);
  return out;
}

std::vector<raft::NodeId> Options::voters() const {
  std::vector<raft::NodeId> ids;
  for (const auto& [id, endpoint] : members) ids.push_back(id);
  return ids;
}

std::optional<std::string> process_env(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

bool is_log_level(std::string_view level) {
  static constexpr std::string_view kLevels[] = {"trace", "debug", "info",     "warn", "warning",
                                                 "err",   "error", "critical", "off"};
  return std::find(std::begin(kLevels), std::end(kLevels), level) != std::end(kLevels);
}

std::optional<PeerSpec> parse_peer(std::string_view text, std::string* error) {
  PeerSpec spec;
  const size_t at = text.find('@');
  if (at != std::string_view::npos) {
    const std::string_view id_text = text.substr(0, at);
    raft::NodeId id = 0;
    const char* end = id_text.data() + id_text.size();
    const auto [ptr, ec] = std::from_chars(id_text.data(), end, id);
    if (id_text.empty() || ec != std::errc() || ptr != end || id == raft::kNoNode) {
      *error = "'" + std::string(text) + "': the id before '@' must be a number";
      return std::nullopt;
    }
    spec.id = id;
    text.remove_prefix(at + 1);
  }
  std::string why;
  auto endpoint = common::Endpoint::parse(text, kDefaultPeerHost, &why);
  if (!endpoint) {
    *error = "'" + std::string(text) + "': " + why;
    return std::nullopt;
  }
  spec.endpoint = std::move(*endpoint);
  return spec;
}

std::optional<std::map<raft::NodeId, common::Endpoint>> resolve_members(
    std::optional<raft::NodeId> node_id, const common::Endpoint& self,
    const std::vector<PeerSpec>& peers, raft::NodeId* self_id, std::string* error) {
  std::vector<common::Endpoint> endpoints = {self};
  for (const PeerSpec& peer : peers) {
    if (std::find(endpoints.begin(), endpoints.end(), peer.endpoint) != endpoints.end()) {
      *error = peer.endpoint == self
                   ? "--peers: " + peer.endpoint.to_string() + " is this node itself"
                   : "--peers: " + peer.endpoint.to_string() + " is listed twice";
      return std::nullopt;
    }
    endpoints.push_back(peer.endpoint);
  }
  const auto with_id =
      std::count_if(peers.begin(), peers.end(), [](const PeerSpec& p) { return p.id.has_value(); });
  std::map<raft::NodeId, common::Endpoint> members;
  if (with_id == 0) {
    std::sort(endpoints.begin(), endpoints.end());
    const auto position = static_cast<raft::NodeId>(
        std::find(endpoints.begin(), endpoints.end(), self) - endpoints.begin());
    if (node_id && *node_id != position) {
      *error = "--node-id " + std::to_string(*node_id) + " does not match this node's position " +
               std::to_string(position) + " among the members sorted by (host, port) [" +
               member_list(endpoints) + "]; give ids explicitly with ID@HOST:PORT peers";
      return std::nullopt;
    }
    for (size_t i = 0; i < endpoints.size(); ++i) members[i] = endpoints[i];
    *self_id = position;
    return members;
  }
  if (static_cast<size_t>(with_id) != peers.size()) {
    *error = "--peers: give an id (ID@HOST:PORT) for every peer or for none";
    return std::nullopt;
  }
  if (!node_id) {
    *error = "--node-id is required when peers carry ids";
    return std::nullopt;
  }
  members[*node_id] = self;
  for (const PeerSpec& peer : peers) {
    if (!members.emplace(*peer.id, peer.endpoint).second) {
      *error = "--peers: node id " + std::to_string(*peer.id) + " is used twice";
      return std::nullopt;
    }
  }
  *self_id = *node_id;
  return members;
}

ParseOutcome parse_options(const std::vector<std::string>& args, const EnvLookup& env) {
  CLI::App app{"stress_node: one member of a Raft-replicated key-value store", "stress_node"};
  RawFlags flags;
  define_flags(app, flags);
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 parses from the back
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    return ParseOutcome{std::nullopt, 0, app.help()};
  } catch (const CLI::CallForAllHelp&) {
    return ParseOutcome{std::nullopt, 0, app.help()};
  } catch (const CLI::CallForVersion& e) {
    return ParseOutcome{std::nullopt, 0, std::string(e.what()) + "\n"};
  } catch (const CLI::ParseError& e) {
    return usage_error(e.what());
  }
  return build(flags, app.count("--node-id") > 0, env);
}

}  // namespace stress_node
