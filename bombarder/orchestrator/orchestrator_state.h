// The orchestrator's state and its operations (internal to orchestrator/): what the REST routes
// (rest_api.cc) and the agent sessions (agent_session.h) share. One io_context thread.
//
// Records (JSON, mirrored in memory and written through to the StateStore on every change):
//   experiment {id, name, steps, spec (as created), created_at}
//   agent      {id, public_key, labels, capabilities, enrolled_at, revoked, last_seen}
//   run        {id, experiment, state, created_at, agents: {id: {state, progress[], steps[],
//               abort_pending, reverted[], error}}}
// A run's agent part goes assigned -> running -> done | failed | aborted; the run is running
// while any part is assigned or running, then failed if any part failed, aborted if any part
// was aborted, else done.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bombarder/fleet/ed25519_key.h"
#include "bombarder/orchestrator/agent_session.h"
#include "bombarder/orchestrator/event_stream.h"
#include "bombarder/orchestrator/orchestrator.h"
#include "bombarder/orchestrator/state_store.h"

namespace bombarder {

inline constexpr size_t kProgressEventsMax = 100;  // kept per agent part of a run

// A REST failure: the status and the {"error", "message"} body.
struct ApiFailure {
  unsigned status;
  std::string code;
  std::string message;
};

struct Orchestrator::State final : SessionHost {
  State(boost::asio::io_context& io, OrchestratorOptions options);

  boost::asio::io_context& io;
  const OrchestratorOptions options;
  StateStore store;
  Ed25519Key key;
  std::map<std::string, nlohmann::json> experiments;
  std::map<std::string, nlohmann::json> agents;
  std::map<std::string, nlohmann::json> runs;
  std::map<std::string, std::shared_ptr<AgentSession>> sessions;  // proven, by agent id
  std::vector<std::shared_ptr<AgentSession>> pending;             // upgraded, not proven yet
  std::map<std::string, uint64_t> refusals;                       // by code
  EventStreams events;                                            // GET /events subscribers
  uint64_t audit_seq = 0;

  void audit(const std::string& who, const std::string& what, nlohmann::json detail);
  void save(const char* table, const std::string& id);
  void recover();  // at start: interrupted runs -> aborted

  // Throw ApiFailure.
  nlohmann::json create_experiment(const nlohmann::json& body);
  void delete_experiment(const std::string& id);
  nlohmann::json enrol_agent(const nlohmann::json& body);
  void revoke_agent(const std::string& id);
  nlohmann::json create_run(const std::string& experiment, const std::vector<std::string>& agents);
  nlohmann::json abort_experiment(const std::string& experiment, const std::string& reason);
  [[nodiscard]] nlohmann::json agent_view(const nlohmann::json& agent) const;
  [[nodiscard]] nlohmann::json status() const;

  void accept_upgrade(std::shared_ptr<common::UpgradedConnection> connection);
  void close_all();

  // SessionHost
  std::string enrolled_agent(std::string_view pem, std::string* refusal) override;
  void on_authenticated(const std::shared_ptr<AgentSession>& session) override;
  void on_message(const std::shared_ptr<AgentSession>& session, const Message& message) override;
  void on_refusal(const std::string& who, const std::string& code,
                  const std::string& message) override;
  std::string check_token(std::string_view token, const std::string& agent_id) override;
  void on_closed(const std::shared_ptr<AgentSession>& session) override;
  std::chrono::milliseconds heartbeat_interval() const override {
    return options.heartbeat_interval;
  }
  std::chrono::milliseconds handshake_timeout() const override { return options.handshake_timeout; }

 private:
  void send_abort(const std::string& run_id, const std::string& agent_id, const std::string& why);
  void on_progress(const std::string& agent_id, const nlohmann::json& body);
  void on_result(const std::string& agent_id, const nlohmann::json& body);
  void on_revert_done(const std::string& agent_id, const nlohmann::json& body);
  void on_agent_error(const std::string& agent_id, const nlohmann::json& body);
  nlohmann::json* run_part(const std::string& run_id, const std::string& agent_id);
  void settle_run(const std::string& run_id);
  [[nodiscard]] std::string issue_agent_token(const std::string& agent_id) const;
};

}  // namespace bombarder
