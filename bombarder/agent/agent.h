// `bombarder agent` (issue 17): connects out to an orchestrator over a WebSocket, registers by
// proving possession of its Ed25519 key, heartbeats, reconnects with backoff and jitter, and
// runs the experiments assigned to it against the cluster of its data root ($STRESS_TEST_DATA)
// through the fault kit (experiment_runner.h), streaming progress and returning results.
//
// Refuses (and reports with an error message) any command not signed by the orchestrator's key
// or addressed to another agent, and a second assignment while one runs. The orchestrator's key
// is the one of the first welcome this process received (or --orchestrator-key): a later
// welcome with another key is refused and the connection dropped.
//
// --poll: for networks that cannot hold a socket, the same messages go over request/response:
// a long poll (bounded by the heartbeat interval) fetches commands, a POST carries what the
// agent sends; "hearing from the orchestrator" is any answer to either.
//
// Dead man's switch: while a run is active, not hearing from the orchestrator for
// `dead_man_timeout` (no message at all: heartbeat answers come every heartbeat interval) aborts
// it, which reverts its faults; the result is sent once the orchestrator is reachable again.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/endpoint.h"

namespace bombarder {

struct OrchestratorUrl {
  bool tls = false;
  std::string host;
  uint16_t port = 8480;
  std::string path = "/agent/ws";
};
// ws://HOST:PORT[/PATH] or wss://... (also http:// and https://, the same as ws:// and wss://:
// the polling agent speaks plain HTTP(S)); ws:// only to a loopback host (127.0.0.0/8, ::1,
// localhost): an agent's token and commands never cross a network in clear. Throws
// Error(kInvalidInput).
[[nodiscard]] OrchestratorUrl parse_orchestrator_url(std::string_view url);

struct AgentOptions {
  std::string orchestrator_url;
  std::filesystem::path key_file;
  std::filesystem::path orchestrator_key_file;  // optional pin: its public key, PEM
  nlohmann::json labels = nlohmann::json::object();
  std::string cacert;  // wss: the CA that signed the orchestrator's certificate
  std::chrono::milliseconds dead_man_timeout{30000};
  std::chrono::milliseconds backoff_min{500};
  std::chrono::milliseconds backoff_max{30000};
  common::Endpoint proxy_api{"127.0.0.1", 8474};  // network faults
  std::string plugin = "process";
  // --poll: HTTP(S) requests instead of a WebSocket (orchestrator/poll_session.h has the
  // routes): the same registration, tokens, signed commands and dead-man timeout.
  bool poll = false;
};

class Agent {
 public:
  // Loads the key and checks the options; throws Error(kInvalidInput/kEnvironment).
  explicit Agent(AgentOptions options);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  [[nodiscard]] std::string id() const;  // the key's fingerprint, as the orchestrator names it
  // Runs until `stop` is set (seen within 100 ms); an active run is aborted (its faults
  // reverted) before it returns.
  void run(const std::atomic<bool>& stop);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace bombarder
