// The orchestrator's state and its operations (internal to orchestrator/): what the REST routes
// (rest_api.cc) and the agent sessions (agent_session.h) share. One io_context thread.
//
// Records (JSON, mirrored in memory and written through to the StateStore on every change):
//   experiment {id, name, steps, spec (as created), created_at}
//   agent      {id, public_key, labels, capabilities, enrolled_at, revoked, last_seen}
//   run        {id, experiment, state, created_at, agents: {id: {state, progress[], steps[],
//               abort_pending, reverted[], error}}}
// A run is stored as its record without "agents" (table "run") and one record per agent part
// (table "part", id "<run>/<agent>"): an agent's progress rewrites its own part, not the whole
// run, which with 1,000 agents would make a fan-out quadratic.
//
// Every REST answer waits until what it reports is durable (StateStore::when_durable, at most
// kDurableWait: past it 503 store_unavailable); writes caused by agents' messages are flushed by
// a timer within kSyncDelay: one fsync for a burst of messages instead of one each, which kept
// the thread from answering heartbeats while 1,000 agents connected (docs/benchmarks.md). With
// RocksDB a write is in its log (safe from a kill -9) at once; with the raft store
// (raft_state_store.h) when the cluster has committed it, milliseconds later.
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
#include "bombarder/orchestrator/rate_limiter.h"
#include "bombarder/orchestrator/state_store.h"

namespace bombarder {

inline constexpr size_t kProgressEventsMax = 100;  // kept per agent part of a run
inline constexpr std::chrono::milliseconds kSyncDelay{50};
inline constexpr std::chrono::milliseconds kDurableWait{5000};
inline constexpr size_t kRateLimitKeysMax = 4096;  // REST bearer tokens with a bucket
inline constexpr std::chrono::minutes kAuditPruneEvery{1};

// A REST failure: the status and the {"error", "message"} body.
struct ApiFailure {
  unsigned status;
  std::string code;
  std::string message;
};

// A poll agent's registration between its challenge and its proof (poll_session.h).
struct PollChallenge {
  std::string agent;
  std::string pem;
  nlohmann::json labels;
  nlohmann::json capabilities;
  std::chrono::steady_clock::time_point expires;
};

class PollSession;

struct Orchestrator::State final : SessionHost {
  State(boost::asio::io_context& io, OrchestratorOptions options);

  boost::asio::io_context& io;
  const OrchestratorOptions options;
  std::unique_ptr<StateStore> store;  // RocksDB under --data, or the raft cluster of --store
  Ed25519Key key;
  std::map<std::string, nlohmann::json> experiments;
  std::map<std::string, nlohmann::json> agents;
  std::map<std::string, nlohmann::json> runs;
  std::map<std::string, std::shared_ptr<AgentConnection>> sessions;   // proven, by agent id
  std::vector<std::shared_ptr<AgentSession>> pending;                 // upgraded, not proven yet
  std::map<std::string, uint64_t> refusals;                           // by code
  EventStreams events;                                                // GET /events subscribers
  std::map<std::string, PollChallenge> poll_challenges;               // by nonce
  std::map<std::string, std::shared_ptr<PollSession>> poll_sessions;  // by session id
  uint64_t audit_seq = 0;
  boost::asio::steady_timer sync_timer;
  bool sync_armed = false;
  uint64_t audit_first_seq = 1;  // the oldest entry kept (audit_seq + 1 when empty)
  RateLimiter rest_limiter;
  RateLimiter agent_limiter;
  ReplayGuard replay;
  // Seconds since the epoch when this process started: the replay guard lives in memory, so a
  // token issued before (whose uses it never saw) is refused; every connection gets a fresh
  // one in its welcome anyway.
  const int64_t started_s;
  // Rate-limited refusals are counted each, audited at most once a second per who: a flood
  // must not flood the audit log too.
  std::map<std::string, std::chrono::steady_clock::time_point> rate_limit_audited;
  boost::asio::steady_timer audit_timer;

  void audit(const std::string& who, const std::string& what, nlohmann::json detail);
  void save(const char* table, const std::string& id);  // experiment or agent
  void save_run(const std::string& run_id);             // without its parts
  void save_part(const std::string& run_id, const std::string& agent_id);
  void schedule_sync();  // the store synced within kSyncDelay
  void prune_audit();    // entries past the count or the age bound dropped, oldest first
  void start_audit_pruning();
  // REST: false (and counted, audited) when `bearer` is over its rate.
  [[nodiscard]] bool rest_allowed(std::string_view bearer);
  void recover();  // at start: interrupted runs -> aborted

  // Throw ApiFailure.
  nlohmann::json create_experiment(const nlohmann::json& body);
  void delete_experiment(const std::string& id);
  nlohmann::json enrol_agent(const nlohmann::json& body);
  void revoke_agent(const std::string& id);
  nlohmann::json create_run(const std::string& experiment, const std::vector<std::string>& agents);
  // The connected, not revoked agents whose labels hold every member of `selector` (label
  // values as strings), in id order; 409 no_agents when none.
  std::vector<std::string> select_agents(const nlohmann::json& selector) const;
  nlohmann::json abort_experiment(const std::string& experiment, const std::string& reason);
  [[nodiscard]] nlohmann::json agent_view(const nlohmann::json& agent) const;
  [[nodiscard]] nlohmann::json status() const;

  void accept_upgrade(std::shared_ptr<common::UpgradedConnection> connection);
  void close_all();

  // SessionHost
  std::string enrolled_agent(std::string_view pem, std::string* refusal) override;
  void on_authenticated(const std::shared_ptr<AgentConnection>& session) override;
  void on_message(const std::shared_ptr<AgentConnection>& session, const Message& message) override;
  void on_refusal(const std::string& who, const std::string& code,
                  const std::string& message) override;
  std::string check_token(std::string_view token, const std::string& agent_id, uint64_t connection,
                          int64_t* exp) override;
  bool message_allowed(const std::string& agent_id) override;
  void on_closed(const std::shared_ptr<AgentConnection>& session) override;
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

// POST /agent/poll/register, /proof, /send and GET /agent/poll/commands (poll_session.h).
void add_poll_routes(common::Router& router, Orchestrator::State& state);

}  // namespace bombarder
