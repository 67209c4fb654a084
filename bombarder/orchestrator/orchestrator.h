// `bombarder orchestrator` (issue 17): experiments, agents and runs behind a REST API, and the
// agents' WebSocket endpoint (GET /agent/ws) on the same port, on common's HTTP server.
//
// REST (JSON in and out; errors {"error": code, "message": text}, the project's shape; every
// route needs `Authorization: Bearer <operator token>`: 401 without it, 403 with another):
//   POST   /experiments                       create (fleet/experiment.h checks it)   201
//   GET    /experiments, /experiments/{id}    list, one
//   DELETE /experiments/{id}                  204 (409 while one of its runs is running)
//   POST   /experiments/{id}/abort            aborts its running runs (signed abort to agents)
//   POST   /experiments/{id}/assign/{agent}   a run of it on that agent (the reference's route)
//   POST   /experiments/{id}/assign           {"agents": [...]}: one run on several agents
//   GET    /runs, /runs/{id}                  state, per-agent progress and step results
//   POST   /agents                            {"public_key": PEM, "labels": {}}: enrol a key
//   GET    /agents, /agents/{id}              connected, last seen, labels, capabilities
//   POST   /agents/{id}/revoke                its tokens stop working, its connection closes
//   GET    /audit?after=SEQ&limit=N           every change and command, oldest first (bounded:
//                                             OrchestratorOptions::audit_entries_max/_age_max)
//   GET    /status                            counts, and refusals by reason
//   GET    /events[?run=ID]                   server-sent events of runs (event_stream.h)
// and, authenticated by agent tokens instead: /agent/poll/* for `agent --poll` (poll_session.h).
// A change the store cannot record is answered 503 store_unavailable (state_store.h).
//
// Only enrolled keys may connect: an agent proves possession of its private key by signing the
// challenge (fleet/protocol.h), then uses short-lived tokens signed by the orchestrator's key
// (<data>/orchestrator_key.pem, made at first start).
//
// Durable state (state_store.h) under --data, or in a raft KV cluster (raft_state_store.h). At
// start, runs still marked running are marked aborted ("orchestrator restarted"); when one of their
// agents connects again it is sent a signed abort, and answers revert_done once its faults are
// reverted.
//
// Threads: everything runs on the one io_context given, run by one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "bombarder/orchestrator/raft_state_store.h"
#include "common/http_server.h"

namespace bombarder {

struct OrchestratorOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8480;
  std::filesystem::path data_dir;                  // the RocksDB state
  std::filesystem::path key_file;                  // the signing key (PEM; made if missing)
  std::optional<RaftStoreOptions> raft_store;      // set: the state in a raft cluster, not data_dir
  std::shared_ptr<boost::asio::ssl::context> tls;  // null: plain HTTP and ws://
  std::string operator_token;                      // required, at least 16 bytes
  size_t experiments_max = 1000;                   // more: 409 limit_reached
  size_t agents_max = 10000;                       // enrolled keys
  size_t connections_max = 2000;                   // agent WebSockets: more are refused 429
  size_t body_bytes_max = 64 << 10;                // REST request bodies: 413
  size_t runs_max = 10000;
  std::chrono::milliseconds heartbeat_interval{5000};  // told to agents in the welcome
  std::chrono::milliseconds handshake_timeout{10000};  // upgrade to welcome
  // Rate limits (rate_limiter.h), 0 = off. REST: requests per second per bearer token (the
  // operator's, or any other presented), burst twice that, over it 429 rate_limited. Agents:
  // WebSocket messages per second per agent, burst four times that (a 64-step experiment's
  // progress comes at once), over it an error frame rate_limited and the message dropped.
  double rest_per_token_per_s = 200;
  double agent_messages_per_s = 50;
  size_t token_ids_max = 1'000'000;  // replay detection: agent token ids remembered
  // The audit log keeps at most this many entries, none older than audit_age_max: the oldest
  // are dropped (on every append past the count; every minute past the age).
  size_t audit_entries_max = 100'000;
  std::chrono::seconds audit_age_max{30 * 24 * 3600};
};

class Orchestrator {
 public:
  // Opens the state, loads or makes the signing key, marks interrupted runs aborted. Throws
  // Error(kEnvironment) when the data directory or its database cannot be used.
  Orchestrator(boost::asio::io_context& io, OrchestratorOptions options);
  ~Orchestrator();
  Orchestrator(const Orchestrator&) = delete;
  Orchestrator& operator=(const Orchestrator&) = delete;

  [[nodiscard]] boost::system::error_code listen();
  void start();
  [[nodiscard]] uint16_t port() const;
  // Closes every agent connection and stops the HTTP server; `done` runs on the io_context.
  void stop(std::function<void()> done);

  struct State;  // everything the routes and sessions share (orchestrator_state.h)

 private:
  std::unique_ptr<State> state_;
  std::unique_ptr<common::Router> router_;
  std::unique_ptr<common::HttpServer> server_;
};

}  // namespace bombarder
