// stress_node: wiring. Parses the command line, opens the store, starts the raft thread, the
// peer transport and the HTTP server on one io_context, and stops gracefully on SIGTERM/SIGINT
// (design.md §4). Exit codes: 0 clean stop, 1 startup failure, 2 bad flags.
#include "common/asio.h"
// (asio.h first: see design.md §6.)
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "common/http_client.h"
#include "common/tls.h"
#include "debug_api.h"
#include "http_server.h"
#include "kv/store.h"
#include "kv_api.h"
#include "metrics.h"
#include "options.h"
#include "peer_auth.h"
#include "peer_transport.h"
#include "raft_api.h"
#include "raft_node.h"
#include "watchdog.h"

namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using stress_node::Options;

// Leadership hand-over on SIGTERM, then requests in flight get this long to be answered.
constexpr auto kTransferTimeout = std::chrono::milliseconds(2000);
constexpr auto kDrainTimeout = std::chrono::milliseconds(2000);
// Writes forwarded from a follower wait for the leader's commit; this many may be in flight.
constexpr size_t kForwardConnectionsMax = 64;

// The console sink of the node's logger, once logging is set up.
std::shared_ptr<spdlog::sinks::sink> console_sink;

// One line on stderr (and the same into node.log, once it is open).
int startup_failure(const std::string& message) {
  std::fprintf(stderr, "stress_node: %s\n", message.c_str());
  if (console_sink) {
    console_sink->set_level(spdlog::level::off);  // already said on stderr
    spdlog::critical("{}", message);
  }
  return 1;
}

bool setup_logging(const Options& options, std::string* error) {
  try {
    auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(
        (options.data_dir / "node.log").string(), false);
    auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    console_sink = console;
    auto logger = std::make_shared<spdlog::logger>(
        "node", spdlog::sinks_init_list{std::move(file), std::move(console)});
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ [node " + std::to_string(options.node_id) +
                        "] %v");
    logger->set_level(spdlog::level::from_str(options.log_level));
    // Info lines are rare (elections, leader changes, snapshots): flushing each one keeps the
    // log complete when the process is killed.
    logger->flush_on(spdlog::level::info);
    spdlog::set_default_logger(std::move(logger));
    return true;
  } catch (const spdlog::spdlog_ex& e) {
    *error = e.what();
    return false;
  }
}

bool write_pid_file(const fs::path& path, std::string* error) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << ::getpid() << "\n";
    if (!out.flush()) {
      *error = "cannot write " + tmp.string();
      return false;
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) *error = "cannot write " + path.string() + ": " + ec.message();
  return !ec;
}

std::string member_summary(const Options& options) {
  std::string out;
  for (const auto& [id, endpoint] : options.members) {
    out += (out.empty() ? "" : ", ") + std::to_string(id) + "=" + endpoint.to_string();
  }
  return out;
}

stress_node::RaftNodeConfig raft_config(const Options& options, stress_node::Registry& metrics) {
  stress_node::RaftNodeConfig config;
  config.id = options.node_id;
  config.voters = options.voters();
  config.tick_ms = options.tick_ms;
  config.election_timeout_ticks = options.election_ticks;
  config.heartbeat_interval_ticks = options.heartbeat_ticks;
  config.snapshot_threshold_entries = options.snapshot_threshold_entries;
  config.snapshot_state_ratio = options.snapshot_state_ratio;
  config.commit_timeout = options.commit_timeout;
  config.persist_latency = &metrics.histogram(
      "raft_log_persist_duration_seconds",
      "Time to make one batch of log entries and hard state durable (one synced RocksDB "
      "WriteBatch: fsync included).");
  return config;
}

// The TLS contexts of --tls-cert/--tls-key/--tls-ca (both null: plain HTTP). The server's
// verifies client certificates against the CA; the client's (peers, forwarded writes) checks
// servers against it and presents the node's own certificate.
struct TlsContexts {
  std::shared_ptr<asio::ssl::context> server;
  std::shared_ptr<asio::ssl::context> client;
};

std::optional<TlsContexts> load_tls(const Options& options, std::string* error) {
  TlsContexts contexts;
  if (!options.tls()) return contexts;
  const common::TlsFiles files{options.tls_cert_file, options.tls_key_file, options.tls_ca_file};
  contexts.server = common::make_server_tls_context(files, error);
  if (!contexts.server) return std::nullopt;
  contexts.client = common::make_client_tls_context(files, error);
  if (!contexts.client) return std::nullopt;
  return contexts;
}

// Issue 14: the peer key and admin token, read and checked before anything starts.
struct Security {
  std::shared_ptr<const stress_node::PeerKey> peer_key;        // null: --insecure-peers
  std::shared_ptr<const stress_node::AdminToken> admin_token;  // null: admin routes disabled
};

std::optional<Security> load_security(const Options& options, std::string* error) {
  Security security;
  if (!options.insecure_peers) {
    auto key = stress_node::PeerKey::from_file(options.cluster_secret_file, error);
    if (!key) return std::nullopt;
    security.peer_key = std::make_shared<const stress_node::PeerKey>(std::move(*key));
  }
  if (!options.admin_token_file.empty()) {
    auto token = stress_node::AdminToken::from_file(options.admin_token_file, error);
    if (!token) return std::nullopt;
    security.admin_token = std::make_shared<const stress_node::AdminToken>(std::move(*token));
  }
  return security;
}

stress_node::PeerTransportOptions transport_options(const Options& flags, const Security& security,
                                                    const TlsContexts& tls) {
  stress_node::PeerTransportOptions options;
  options.stream = flags.peer_stream;
  options.tls = tls.client;
  options.key = security.peer_key;
  return options;
}

// Everything that runs, in construction order; destroyed in reverse (the raft node before the
// transport it sends through, everything before the io_context).
struct Process {
  Process(const Options& options, std::unique_ptr<kv::Store> store, const TlsContexts& tls,
          const Security& security)
      : server(io, router,
               stress_node::HttpServerOptions{.host = options.self.host,
                                              .port = options.self.port,
                                              .body_limit_bytes = options.body_limit_bytes,
                                              .tls = tls.server},
               [this](const std::string& route, unsigned status, std::chrono::nanoseconds took) {
                 http_metrics.record(route, status, took);
               }),
        transport(io, options.node_id, options.peers(), transport_options(options, security, tls)),
        node(raft_config(options, metrics), std::move(store), transport),
        pool(io, kForwardConnectionsMax, 10000, 64 << 20, tls.client),
        kv_api(io, node, pool, metrics,
               {.self_id = options.node_id,
                .members = options.members,
                .forward_timeout = options.commit_timeout + std::chrono::milliseconds(1000),
                .idempotency_ttl = options.idempotency_ttl,
                .idempotency_table_bytes_max = options.idempotency_table_bytes}),
        raft_api(io, node, &transport, metrics,
                 {.self_id = options.node_id,
                  .members = options.members,
                  .contact_timeout =
                      std::chrono::milliseconds(2 * options.tick_ms * options.election_ticks),
                  .lag_desynced_min = options.snapshot_threshold_entries,
                  .peer_key = security.peer_key,
                  .admin_token = security.admin_token}),
        debug_api(io, node),
        signals(io, SIGINT, SIGTERM) {
    kv_api.register_routes(router);
    raft_api.register_routes(router);
    if (options.debug_endpoints) debug_api.register_routes(router, security.admin_token);
    if (options.watchdog_limit.count() > 0) {
      watchdog = std::make_unique<stress_node::Watchdog>(
          options.watchdog_limit,
          std::vector<stress_node::WatchedLoop>{{"io",
                                                 [this](std::function<void()> task) {
                                                   asio::post(io, std::move(task));
                                                   return true;
                                                 }},
                                                {"raft", [this](std::function<void()> task) {
                                                   return node.run_on_raft_thread(std::move(task));
                                                 }}});
    }
  }

  void start() {
    node.start();
    server.start();
    if (watchdog) watchdog->start();
    signals.async_wait([this](boost::system::error_code ec, int signal) {
      if (!ec) shut_down(signal);
    });
  }

  // Stop accepting; hand leadership over and stop the raft thread (off the io thread: the
  // hand-over needs the transport and the peer endpoints, which run here); then let requests
  // in flight finish, bounded, and stop the loop.
  void shut_down(int signal) {
    spdlog::info("signal {}: stopping (leadership hand-over, then draining requests)", signal);
    // The loops stop one after the other from here on; the stop itself is bounded by its own
    // timeouts (and a second signal), so the watchdog has nothing left to guard.
    if (watchdog) watchdog->stop();
    server.stop_accepting();
    signals.async_wait([](boost::system::error_code ec, int again) {
      if (ec) return;
      spdlog::warn("signal {} again: exiting without draining", again);
      spdlog::shutdown();
      std::_Exit(1);
    });
    stopper = std::thread([this] {
      node.stop(kTransferTimeout);
      asio::post(io, [this] {
        server.stop(kDrainTimeout, [this] {
          transport.stop();
          raft_api.stop_streams();
          pool.close();
          io.stop();
        });
      });
    });
  }

  asio::io_context io{1};
  stress_node::Registry metrics;
  stress_node::HttpMetrics http_metrics{metrics};
  stress_node::Router router;
  stress_node::HttpServer server;
  stress_node::PeerTransport transport;
  stress_node::RaftNode node;
  common::HttpClientPool pool;
  stress_node::KvApi kv_api;
  stress_node::RaftApi raft_api;
  stress_node::DebugApi debug_api;
  asio::signal_set signals;
  std::unique_ptr<stress_node::Watchdog>
      watchdog;  // set by --watchdog-ms; stopped before the loops
  std::thread stopper;
};

int run(const Options& options, const TlsContexts& tls) {
  std::error_code fs_error;
  fs::create_directories(options.data_dir, fs_error);
  if (fs_error) {
    return startup_failure("cannot create data directory " + options.data_dir.string() + ": " +
                           fs_error.message());
  }
  std::string error;
  if (!setup_logging(options, &error)) return startup_failure("cannot open the log: " + error);
  const std::optional<Security> security = load_security(options, &error);
  if (!security) return startup_failure(error);
  // The store holds RocksDB's lock: once it is open no other process uses this directory, so
  // only then is node.pid ours to write (and to remove).
  auto store = kv::Store::open(options.data_dir, {});
  if (!store.is_ok()) {
    return startup_failure("cannot open the store in " + options.data_dir.string() + ": " +
                           store.status().to_string());
  }
  const fs::path pid_path = options.data_dir / "node.pid";
  if (!write_pid_file(pid_path, &error)) return startup_failure(error);
  Process process(options, std::move(store).value(), tls, *security);
  if (auto ec = process.server.listen()) {
    fs::remove(pid_path, fs_error);
    return startup_failure("cannot listen on " + options.self.to_string() + ": " + ec.message());
  }
  spdlog::info("node {} v{} serving {} on {}; members {}; data {}", options.node_id,
               stress_node::kStressNodeVersion, options.tls() ? "https" : "http",
               options.self.to_string(), member_summary(options), options.data_dir.string());
  if (options.tls() && options.tls_ca_file.empty()) {
    spdlog::warn(
        "TLS without --tls-ca: peers are verified against the system CAs and the peer "
        "RPCs accept connections without a client certificate");
  }
  if (options.watchdog_limit.count() > 0) {
    spdlog::info("watchdog: aborting if a loop stalls for {} ms", options.watchdog_limit.count());
  }
  if (options.debug_endpoints) spdlog::warn("debug endpoints enabled (/_debug/hang)");
  if (options.insecure_peers) {
    spdlog::warn(
        "--insecure-peers: peer frames are neither signed nor checked; anyone who reaches port {} "
        "can forge Raft messages and make this cluster lose acknowledged writes",
        options.self.port);
  } else {
    spdlog::info("peer frames authenticated with HMAC-SHA256 (secret {})",
                 options.cluster_secret_file.string());
  }
  if (!security->admin_token) {
    spdlog::info("admin routes (force-resync, /_debug) disabled: no --admin-token-file");
  }
  process.start();
  process.io.run();
  if (process.stopper.joinable()) process.stopper.join();
  spdlog::info("stopped");
  fs::remove(pid_path, fs_error);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  const stress_node::ParseOutcome parsed = stress_node::parse_options(args);
  if (!parsed.options) {
    std::FILE* out = parsed.exit_code == 0 ? stdout : stderr;
    std::fputs(parsed.output.c_str(), out);
    if (!parsed.output.empty() && parsed.output.back() != '\n') std::fputc('\n', out);
    return parsed.exit_code;
  }
  // Unreadable or invalid TLS files are bad flags (exit 2), found before anything starts.
  std::string error;
  const std::optional<TlsContexts> tls = load_tls(*parsed.options, &error);
  if (!tls) {
    std::fprintf(stderr, "stress_node: TLS: %s\n", error.c_str());
    return 2;
  }
  return run(*parsed.options, *tls);
}
