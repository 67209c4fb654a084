#include "bombarder/orchestrator/orchestrator_state.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "bombarder/base/errors.h"
#include "bombarder/base/text.h"
#include "bombarder/fleet/experiment.h"
#include "bombarder/fleet/fleet_token.h"

namespace bombarder {

namespace {

using Json = nlohmann::json;

constexpr size_t kTableScanMax = 1'000'000;

Ed25519Key load_or_make_key(const std::filesystem::path& dir) {
  const std::filesystem::path path = dir / "orchestrator_key.pem";
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
      store(options.data_dir),
      key(load_or_make_key(options.data_dir)) {
  for (auto& [id, value] : store.scan("experiment", kTableScanMax)) experiments[id] = value;
  for (auto& [id, value] : store.scan("agent", kTableScanMax)) agents[id] = value;
  for (auto& [id, value] : store.scan("run", kTableScanMax)) runs[id] = value;
  // The last audit sequence number: scan from a recent point would need a reverse iterator;
  // the log is read once at start.
  for (auto& [seq, value] : store.scan("audit", kTableScanMax)) audit_seq = value.value("seq", 0);
  recover();
}

void Orchestrator::State::audit(const std::string& who, const std::string& what, Json detail) {
  const Json entry = {{"seq", ++audit_seq},
                      {"time", utc_timestamp_now()},
                      {"who", who},
                      {"what", what},
                      {"detail", std::move(detail)}};
  store.put("audit", printf_text("%020llu", static_cast<unsigned long long>(audit_seq)), entry);
}

void Orchestrator::State::save(const char* table, const std::string& id) {
  const std::string name(table);
  const auto& map = name == "experiment" ? experiments : name == "agent" ? agents : runs;
  auto it = map.find(id);
  if (it == map.end()) {
    store.erase(table, id);
  } else {
    store.put(table, id, it->second);
  }
}

void Orchestrator::State::recover() {
  for (auto& [id, run] : runs) {
    if (run.value("state", "") != "running") continue;
    for (auto& [agent, part] : run["agents"].items()) {
      if (part_finished(part)) continue;
      part["state"] = "aborted";
      part["error"] = "orchestrator restarted during the run";
      part["abort_pending"] = true;
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
          {"audit_entries", audit_seq}};
}

std::string Orchestrator::State::issue_agent_token(const std::string& agent_id) const {
  return issue_token(key, make_claims(agent_id, kAgentAudience, std::chrono::system_clock::now()));
}

std::string Orchestrator::State::check_token(std::string_view token, const std::string& agent_id) {
  const TokenCheck check = verify_token(
      token, key, kAgentAudience, std::chrono::system_clock::now(), [this](const std::string& sub) {
        auto it = agents.find(sub);
        return it == agents.end() || it->second.value("revoked", false);
      });
  if (check.verdict != TokenVerdict::kOk) return to_string(check.verdict);
  if (check.claims.sub != agent_id) return "wrong_subject";
  return {};
}

void Orchestrator::State::on_refusal(const std::string& who, const std::string& code,
                                     const std::string& message) {
  ++refusals[code];
  spdlog::warn("orchestrator: refused {}: {}: {}", who, code, message);
  audit(who, "refused", {{"code", code}, {"message", message}});
}

}  // namespace bombarder
