#include "bombarder/orchestrator/orchestrator_state.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "bombarder/base/errors.h"
#include "bombarder/base/text.h"
#include "bombarder/fleet/experiment.h"
#include "bombarder/fleet/fleet_token.h"
#include "bombarder/orchestrator/raft_state_store.h"

namespace bombarder {

namespace {

using Json = nlohmann::json;

constexpr size_t kTableScanMax = 1'000'000;
constexpr std::chrono::seconds kStartFlushMax{30};

std::unique_ptr<StateStore> open_store(boost::asio::io_context& io,
                                       const OrchestratorOptions& options) {
  if (options.raft_store) return std::make_unique<RaftStateStore>(io, *options.raft_store);
  return std::make_unique<RocksStateStore>(options.data_dir);
}

// In --key-file (<data>/orchestrator_key.pem by default), never in the state store: with the raft
// store, anyone who can read the cluster could otherwise sign tokens and assignments. An
// orchestrator restarted on another machine with the same --store needs the same key file to be
// the same one to its agents, as it needs the same operator token file.
Ed25519Key load_or_make_key(const OrchestratorOptions& options) {
  const std::filesystem::path& path = options.key_file;
  if (std::filesystem::exists(path)) return Ed25519Key::load_private_file(path);
  Ed25519Key key = Ed25519Key::generate();
  key.save_private_file(path);
  return key;
}

std::string new_id(const char* prefix) { return std::string(prefix) + random_token_text(9); }

bool part_finished(const Json& part) {
  const std::string state = part.value("state", "");
  return state == "done" || state == "failed" || state == "aborted";
}

}  // namespace

Orchestrator::State::State(boost::asio::io_context& io_in, OrchestratorOptions options_in)
    : io(io_in),
      options(std::move(options_in)),
      store(open_store(io_in, options)),
      key(load_or_make_key(options)),
      sync_timer(io_in),
      rest_limiter(options.rest_per_token_per_s, 2 * options.rest_per_token_per_s,
                   kRateLimitKeysMax),
      // One bucket per enrolled agent at most: the key is a proven agent id.
      agent_limiter(options.agent_messages_per_s, 4 * options.agent_messages_per_s,
                    options.agents_max),
      replay(options.token_ids_max),
      started_s(std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count()),
      audit_timer(io_in) {
  for (auto& [id, value] : store->scan("experiment", kTableScanMax)) experiments[id] = value;
  for (auto& [id, value] : store->scan("agent", kTableScanMax)) agents[id] = value;
  for (auto& [id, value] : store->scan("run", kTableScanMax)) {
    if (!value.contains("agents")) value["agents"] = Json::object();
    runs[id] = value;
  }
  for (auto& [id, value] : store->scan("part", kTableScanMax)) {
    const size_t slash = id.find('/');
    auto run = runs.find(id.substr(0, slash));
    if (slash == std::string::npos || run == runs.end()) continue;  // a deleted run's
    run->second["agents"][id.substr(slash + 1)] = std::move(value);
  }
  // The last audit sequence number: scan from a recent point would need a reverse iterator;
  // the log is read once at start.
  const auto oldest = store->scan("audit", 1);
  for (auto& [seq, value] : store->scan("audit", kTableScanMax)) audit_seq = value.value("seq", 0);
  audit_first_seq = oldest.empty() ? audit_seq + 1 : oldest[0].second.value("seq", uint64_t{1});
  prune_audit();
  recover();
  store->flush_at_start(kStartFlushMax);
}

void Orchestrator::State::audit(const std::string& who, const std::string& what, Json detail) {
  const Json entry = {{"seq", ++audit_seq},
                      {"time", utc_timestamp_now()},
                      {"who", who},
                      {"what", what},
                      {"detail", std::move(detail)}};
  store->put("audit", printf_text("%020llu", static_cast<unsigned long long>(audit_seq)), entry);
  // The count bound, kept on every append: one entry in, the oldest out.
  while (audit_seq - audit_first_seq + 1 > options.audit_entries_max) {
    store->erase("audit", printf_text("%020llu", static_cast<unsigned long long>(audit_first_seq)));
    ++audit_first_seq;
  }
  schedule_sync();
}

void Orchestrator::State::prune_audit() {
  while (audit_seq - audit_first_seq + 1 > options.audit_entries_max) {
    store->erase("audit", printf_text("%020llu", static_cast<unsigned long long>(audit_first_seq)));
    ++audit_first_seq;
  }
  // Timestamps are UTC text of one width: ordered as text as in time.
  const std::string cutoff =
      utc_timestamp(std::chrono::system_clock::now() - options.audit_age_max);
  constexpr size_t kBatch = 1000;
  while (audit_first_seq <= audit_seq) {
    bool reached_recent = false;
    for (const auto& [key, entry] : store->scan("audit", kBatch)) {
      if (entry.value("time", std::string()) >= cutoff) {
        reached_recent = true;
        break;
      }
      store->erase("audit", key);
      audit_first_seq = entry.value("seq", audit_first_seq) + 1;
    }
    if (reached_recent) break;
  }
  schedule_sync();
}

void Orchestrator::State::start_audit_pruning() {
  audit_timer.expires_after(kAuditPruneEvery);
  audit_timer.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    prune_audit();
    start_audit_pruning();
  });
}

void Orchestrator::State::schedule_sync() {
  if (sync_armed || !store->dirty()) return;
  sync_armed = true;
  sync_timer.expires_after(kSyncDelay);
  sync_timer.async_wait([this](boost::system::error_code ec) {
    sync_armed = false;
    if (!ec) store->sync();
  });
}

void Orchestrator::State::save_run(const std::string& run_id) {
  // Member by member: copying the run would copy every part, once per agent's result.
  Json record = Json::object();
  for (const auto& [name, value] : runs.at(run_id).items()) {
    if (name != "agents") record[name] = value;
  }
  store->put("run", run_id, record);
  schedule_sync();
}

void Orchestrator::State::save_part(const std::string& run_id, const std::string& agent_id) {
  store->put("part", run_id + "/" + agent_id, runs.at(run_id)["agents"].at(agent_id));
  schedule_sync();
}

void Orchestrator::State::save(const char* table, const std::string& id) {
  const std::string name(table);
  const auto& map = name == "experiment" ? experiments : agents;
  auto it = map.find(id);
  if (it == map.end()) {
    store->erase(table, id);
  } else {
    store->put(table, id, it->second);
  }
  schedule_sync();
}

void Orchestrator::State::recover() {
  for (auto& [id, run] : runs) {
    if (run.value("state", "") != "running") continue;
    for (auto& [agent, part] : run["agents"].items()) {
      if (part_finished(part)) continue;
      part["state"] = "aborted";
      part["error"] = "orchestrator restarted during the run";
      part["abort_pending"] = true;
      save_part(id, agent);
    }
    settle_run(id);
    audit("orchestrator", "run_aborted", {{"run", id}, {"reason", "orchestrator restarted"}});
  }
}

Json Orchestrator::State::create_experiment(const Json& body) {
  if (experiments.size() >= options.experiments_max) {
    throw ApiFailure{409, "limit_reached",
                     "at most " + std::to_string(options.experiments_max) + " experiments"};
  }
  try {
    (void)parse_experiment(body);  // the agent parses it again when it is assigned
  } catch (const Error& e) {
    throw ApiFailure{400, "invalid_experiment", e.what()};
  }
  const std::string id = new_id("exp-");
  experiments[id] = {
      {"id", id}, {"name", body["name"]}, {"spec", body}, {"created_at", utc_timestamp_now()}};
  save("experiment", id);
  audit("operator", "experiment_created", {{"experiment", id}, {"name", body["name"]}});
  return experiments[id];
}

void Orchestrator::State::delete_experiment(const std::string& id) {
  if (!experiments.contains(id)) throw ApiFailure{404, "not_found", "no experiment " + id};
  for (const auto& [run_id, run] : runs) {
    if (run["experiment"] == id && run["state"] == "running") {
      throw ApiFailure{409, "running", "run " + run_id + " of it is running: abort it first"};
    }
  }
  experiments.erase(id);
  save("experiment", id);
  audit("operator", "experiment_deleted", {{"experiment", id}});
}

Json Orchestrator::State::enrol_agent(const Json& body) {
  if (!body.is_object() || !body.contains("public_key") || !body["public_key"].is_string()) {
    throw ApiFailure{400, "invalid_agent", "an agent is {\"public_key\": PEM, \"labels\": {}}"};
  }
  if (agents.size() >= options.agents_max) {
    throw ApiFailure{409, "limit_reached",
                     "at most " + std::to_string(options.agents_max) + " agents"};
  }
  std::string id;
  try {
    id = Ed25519Key::from_public_pem(body["public_key"].get<std::string>()).fingerprint();
  } catch (const Error& e) {
    throw ApiFailure{400, "invalid_agent", e.what()};
  }
  if (agents.contains(id)) throw ApiFailure{409, "exists", "agent " + id + " is enrolled"};
  const Json labels = body.value("labels", Json::object());
  if (!labels.is_object() || labels.size() > kLabelsMax) {
    throw ApiFailure{
        400, "invalid_agent",
        "labels must be an object of at most " + std::to_string(kLabelsMax) + " members"};
  }
  agents[id] = {{"id", id},
                {"public_key", body["public_key"]},
                {"labels", labels},
                {"capabilities", Json::object()},
                {"enrolled_at", utc_timestamp_now()},
                {"revoked", false},
                {"last_seen", nullptr}};
  save("agent", id);
  audit("operator", "agent_enrolled", {{"agent", id}});
  return agent_view(agents[id]);
}

void Orchestrator::State::revoke_agent(const std::string& id) {
  auto it = agents.find(id);
  if (it == agents.end()) throw ApiFailure{404, "not_found", "no agent " + id};
  it->second["revoked"] = true;
  save("agent", id);
  audit("operator", "agent_revoked", {{"agent", id}});
  if (auto session = sessions.find(id); session != sessions.end()) session->second->close();
}

Json Orchestrator::State::agent_view(const Json& agent) const {
  Json view = agent;
  view.erase("public_key");
  view["connected"] = sessions.contains(agent["id"].get<std::string>());
  return view;
}

Json Orchestrator::State::status() const {
  size_t running = 0;
  for (const auto& [id, run] : runs) running += run["state"] == "running" ? 1 : 0;
  return {{"experiments", experiments.size()},
          {"agents", agents.size()},
          {"agents_connected", sessions.size()},
          {"runs", runs.size()},
          {"runs_running", running},
          {"refusals", refusals},
          {"audit_entries", audit_seq},
          {"store", store->stats()}};
}

std::string Orchestrator::State::issue_agent_token(const std::string& agent_id) const {
  return issue_token(key, make_claims(agent_id, kAgentAudience, std::chrono::system_clock::now()));
}

std::string Orchestrator::State::check_token(std::string_view token, const std::string& agent_id,
                                             uint64_t connection, int64_t* exp) {
  const auto now = std::chrono::system_clock::now();
  const TokenCheck check =
      verify_token(token, key, kAgentAudience, now, [this](const std::string& sub) {
        auto it = agents.find(sub);
        return it == agents.end() || it->second.value("revoked", false);
      });
  if (check.verdict != TokenVerdict::kOk) return to_string(check.verdict);
  if (check.claims.sub != agent_id) return "wrong_subject";
  const int64_t now_s =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (check.claims.iat < started_s) return "replayed";
  replay.forget_expired(now_s);
  switch (replay.use(check.claims.jti, connection, check.claims.exp, now_s)) {
    case ReplayGuard::Use::kReplayed: return "replayed";
    case ReplayGuard::Use::kFull: return "token_ids_full";
    case ReplayGuard::Use::kFirst:
    case ReplayGuard::Use::kSameConnection: break;
  }
  *exp = check.claims.exp;
  return {};
}

bool Orchestrator::State::message_allowed(const std::string& agent_id) {
  return agent_limiter.allow(agent_id, std::chrono::steady_clock::now());
}

bool Orchestrator::State::rest_allowed(std::string_view bearer) {
  if (rest_limiter.allow(std::string(bearer), std::chrono::steady_clock::now())) return true;
  // Who, without writing a token (even a wrong one) into the audit log.
  on_refusal(bearer.empty() ? "unknown" : "bearer", "rate_limited", "over the REST rate");
  return false;
}

void Orchestrator::State::on_refusal(const std::string& who, const std::string& code,
                                     const std::string& message) {
  ++refusals[code];
  if (code == "rate_limited") {
    const auto now = std::chrono::steady_clock::now();
    auto& last = rate_limit_audited[who];
    if (last != std::chrono::steady_clock::time_point{} && now - last < std::chrono::seconds(1)) {
      return;
    }
    last = now;
    if (rate_limit_audited.size() > kRateLimitKeysMax) rate_limit_audited.clear();
  }
  spdlog::warn("orchestrator: refused {}: {}: {}", who, code, message);
  audit(who, "refused", {{"code", code}, {"message", message}});
}

}  // namespace bombarder
