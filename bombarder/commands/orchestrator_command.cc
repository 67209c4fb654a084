// `bombarder orchestrator`: the experiment orchestrator (orchestrator/orchestrator.h) until
// SIGINT/SIGTERM. See docs/orchestrator.md.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "bombarder/client/node_tls.h"
#include "bombarder/commands/commands.h"
#include "bombarder/commands/duration_flag.h"
#include "bombarder/commands/exit_codes.h"
#include "bombarder/fleet/fleet_token.h"
#include "bombarder/orchestrator/orchestrator.h"
#include "common/tls.h"

namespace bombarder {

namespace {

struct OrchestratorFlags {
  std::string host = "127.0.0.1";
  uint16_t port = 8480;
  std::string data;
  std::string store;
  std::string tls_cert, tls_key;
  std::string operator_token_file;
  std::string key_file;
  double heartbeat_s = 5;
  double rest_rate = 200;
  double agent_rate = 50;
  size_t audit_max = 100'000;
  double audit_age_s = 30 * 24 * 3600;
};

constexpr size_t kOperatorTokenBytesMin = 16;
constexpr size_t kOperatorTokenBytesMax = 512;

// The operator token: from the file given, or made at first start in <data>/operator_token.
std::string operator_token(const OrchestratorFlags& f) {
  std::string path = f.operator_token_file;
  if (path.empty()) {
    path = (std::filesystem::path(f.data) / "operator_token").string();
    if (!std::filesystem::exists(path)) {
      const std::string token = random_token_text(32);
      const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
      if (fd < 0 || ::write(fd, token.data(), token.size()) != ssize_t(token.size()) ||
          ::close(fd) != 0) {
        environment_failure("cannot write " + path);
      }
    }
  }
  std::ifstream in(path);
  if (!in) invalid_input("cannot read the operator token file " + path);
  std::stringstream text;
  text << in.rdbuf();
  std::string token = text.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  if (token.size() < kOperatorTokenBytesMin || token.size() > kOperatorTokenBytesMax ||
      token.find_first_of(" \t\r\n") != std::string::npos) {
    invalid_input("the operator token in " + path + " must be one word of 16 to 512 bytes");
  }
  std::printf("bombarder orchestrator: operator token in %s\n", path.c_str());
  return token;
}

// The durable state: --data DIR (RocksDB) or --store raft://... (the project's own cluster).
void choose_store(const OrchestratorFlags& f, OrchestratorOptions& options) {
  if (!f.data.empty() && !f.store.empty()) {
    invalid_input(
        "--data and --store are exclusive: the state is in one place (RocksDB under "
        "--data, or the cluster of --store)");
  }
  if (f.data.empty() && f.store.empty()) {
    invalid_input("--data DIR or --store raft://HOST:PORT,... is required (the durable state)");
  }
  if (!f.store.empty()) {
    if (f.operator_token_file.empty()) {
      invalid_input("--store needs --operator-token-file (there is no --data to make one in)");
    }
    // The private key stays on the orchestrator's machine: whoever reads the cluster's
    // /api/kv must not be able to sign tokens and assignments.
    if (f.key_file.empty()) {
      invalid_input("--store needs --key-file (the signing key is never kept in the cluster)");
    }
    options.raft_store = parse_store_url(f.store);
    options.raft_store->tls = node_tls_context();
    options.key_file = f.key_file;
    return;
  }
  std::error_code ec;
  std::filesystem::create_directories(f.data, ec);
  if (ec) environment_failure("cannot create --data " + f.data + ": " + ec.message());
  options.data_dir = f.data;
  options.key_file = f.key_file.empty() ? std::filesystem::path(f.data) / "orchestrator_key.pem"
                                        : std::filesystem::path(f.key_file);
}

int run_orchestrator(const OrchestratorFlags& f) {
  if (f.tls_cert.empty() != f.tls_key.empty()) {
    invalid_input("--tls-cert and --tls-key go together");
  }
  if (!(f.heartbeat_s >= 0.05 && f.heartbeat_s <= 300)) {
    invalid_input("--heartbeat must be between 50ms and 5m");
  }
  OrchestratorOptions options;
  choose_store(f, options);
  options.host = f.host;
  options.port = f.port;
  options.operator_token = operator_token(f);
  options.heartbeat_interval = std::chrono::milliseconds(int64_t(f.heartbeat_s * 1000));
  if (!(f.rest_rate >= 0 && f.rest_rate <= 1e6) || !(f.agent_rate >= 0 && f.agent_rate <= 1e6)) {
    invalid_input("--rate-limit-rest and --rate-limit-agent are per second, 0 (off) to 1000000");
  }
  if (f.audit_max < 1 || !(f.audit_age_s >= 1)) {
    invalid_input("--audit-max is at least 1 entry, --audit-max-age at least 1s");
  }
  options.rest_per_token_per_s = f.rest_rate;
  options.agent_messages_per_s = f.agent_rate;
  options.audit_entries_max = f.audit_max;
  options.audit_age_max = std::chrono::seconds(int64_t(f.audit_age_s));
  if (!f.tls_cert.empty()) {
    std::string error;
    options.tls = common::make_server_tls_context({f.tls_cert, f.tls_key, ""}, &error);
    if (!options.tls) invalid_input("--tls-cert/--tls-key: " + error);
  }
  boost::asio::io_context io;
  Orchestrator orchestrator(io, std::move(options));
  if (const auto listen_ec = orchestrator.listen()) {
    environment_failure("cannot listen on " + f.host + ":" + std::to_string(f.port) + ": " +
                        listen_ec.message());
  }
  orchestrator.start();
  const char* scheme = f.tls_cert.empty() ? "http" : "https";
  std::printf("bombarder orchestrator: REST on %s://%s:%u, agents on %s://%s:%u/agent/ws\n", scheme,
              f.host.c_str(), unsigned(orchestrator.port()), f.tls_cert.empty() ? "ws" : "wss",
              f.host.c_str(), unsigned(orchestrator.port()));
  std::fflush(stdout);
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& signal_ec, int signal) {
    if (signal_ec) return;
    std::printf("bombarder orchestrator: signal %d, shutting down\n", signal);
    std::fflush(stdout);
    orchestrator.stop([&io] { io.stop(); });
  });
  io.run();
  return kExitOk;
}

}  // namespace

void add_orchestrator_command(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<OrchestratorFlags>();
  auto* cmd = app.add_subcommand(
      "orchestrator",
      "Serve the experiment orchestrator: REST for experiments, agents, runs and the audit log, "
      "and the agents' WebSocket endpoint /agent/ws, with durable state under --data or in a "
      "raft cluster (--store). Runs "
      "until SIGINT/SIGTERM. See docs/orchestrator.md.");
  cmd->add_option("--host", f->host, "Listen address")->capture_default_str();
  cmd->add_option("--port", f->port, "Listen port (0 = any)")->capture_default_str();
  cmd->add_option("--data", f->data, "Directory of the durable state (RocksDB, keys)");
  cmd->add_option("--store", f->store,
                  "raft://HOST:PORT,HOST:PORT[/PREFIX]: keep the durable state in this "
                  "stress_node cluster instead of --data, under keys PREFIX/... [default prefix: "
                  "bombarder-orchestrator]; needs --key-file and --operator-token-file. Its TLS: "
                  "--cacert/--cert/--key");
  cmd->add_option("--key-file", f->key_file,
                  "The orchestrator's Ed25519 signing key (PEM, made with mode 0600 if missing; "
                  "agents pin its public key) [default: <data>/orchestrator_key.pem]");
  cmd->add_option("--tls-cert", f->tls_cert, "PEM certificate: serve HTTPS and wss://");
  cmd->add_option("--tls-key", f->tls_key, "PEM private key of --tls-cert");
  cmd->add_option("--operator-token-file", f->operator_token_file,
                  "File holding the operator's bearer token [default: <data>/operator_token, "
                  "made at first start]");
  add_seconds_option(cmd, "--heartbeat", f->heartbeat_s,
                     "Heartbeat interval the agents are told; an agent silent for three is "
                     "disconnected")
      ->capture_default_str();
  cmd->add_option("--rate-limit-rest", f->rest_rate,
                  "REST requests per second per bearer token (burst twice that); over it 429 "
                  "rate_limited. 0 = no limit")
      ->capture_default_str();
  cmd->add_option("--rate-limit-agent", f->agent_rate,
                  "WebSocket messages per second per agent (burst four times that); over it the "
                  "message is dropped with an error frame rate_limited. 0 = no limit")
      ->capture_default_str();
  cmd->add_option("--audit-max", f->audit_max,
                  "Audit log entries kept; the oldest are dropped past it")
      ->capture_default_str();
  add_seconds_option(cmd, "--audit-max-age", f->audit_age_s,
                     "Audit entries older than this are dropped (checked every minute) [default: "
                     "30 days]");
  cmd->callback([f, &exit_code] { exit_code = run_orchestrator(*f); });
}

}  // namespace bombarder
