// Runs and the agent sessions' side of the orchestrator: assignment, abort, the messages agents
// send, and the connections themselves.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "bombarder/base/errors.h"
#include "bombarder/base/text.h"
#include "bombarder/fleet/fleet_token.h"
#include "bombarder/orchestrator/orchestrator_state.h"
#include "bombarder/orchestrator/poll_session.h"

namespace bombarder {

namespace {

using Json = nlohmann::json;

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool part_finished(const Json& part) {
  const std::string state = part.value("state", "");
  return state == "done" || state == "failed" || state == "aborted";
}

}  // namespace

Json* Orchestrator::State::run_part(const std::string& run_id, const std::string& agent_id) {
  auto run = runs.find(run_id);
  if (run == runs.end() || !run->second["agents"].contains(agent_id)) return nullptr;
  return &run->second["agents"][agent_id];
}

void Orchestrator::State::settle_run(const std::string& run_id) {
  Json& run = runs[run_id];
  bool running = false, failed = false, aborted = false;
  for (const auto& [agent, part] : run["agents"].items()) {
    running = running || !part_finished(part);
    failed = failed || part["state"] == "failed";
    aborted = aborted || part["state"] == "aborted";
  }
  run["state"] = running ? "running" : failed ? "failed" : aborted ? "aborted" : "done";
  save_run(run_id);
}

Json Orchestrator::State::create_run(const std::string& experiment,
                                     const std::vector<std::string>& agent_ids) {
  auto exp = experiments.find(experiment);
  if (exp == experiments.end()) throw ApiFailure{404, "not_found", "no experiment " + experiment};
  if (agent_ids.empty()) throw ApiFailure{400, "no_agents", "assign to at least one agent"};
  if (runs.size() >= options.runs_max) {
    throw ApiFailure{409, "limit_reached", "at most " + std::to_string(options.runs_max) + " runs"};
  }
  for (const std::string& id : agent_ids) {
    auto agent = agents.find(id);
    if (agent == agents.end()) throw ApiFailure{404, "not_found", "no agent " + id};
    if (agent->second.value("revoked", false)) {
      throw ApiFailure{409, "revoked", "agent " + id + " is revoked"};
    }
    if (!sessions.contains(id))
      throw ApiFailure{409, "agent_offline", "agent " + id + " is not connected"};
  }
  const std::string run_id = "run-" + random_token_text(9);
  Json parts = Json::object();
  for (const std::string& id : agent_ids) {
    parts[id] = {{"state", "assigned"},
                 {"progress", Json::array()},
                 {"steps", Json::array()},
                 {"abort_pending", false}};
  }
  runs[run_id] = {{"id", run_id},
                  {"experiment", experiment},
                  {"state", "running"},
                  {"created_at", utc_timestamp_now()},
                  {"agents", parts}};
  save_run(run_id);
  for (const std::string& id : agent_ids) save_part(run_id, id);
  events.publish(run_id, "run_created",
                 {{"run", run_id}, {"experiment", experiment}, {"agents", agent_ids}});
  for (const std::string& id : agent_ids) {
    const Json command =
        sign_command(make_message(MessageType::kAssign, {{"run", run_id},
                                                         {"agent", id},
                                                         {"experiment", exp->second["spec"]},
                                                         {"issued_at", now_seconds()}}),
                     key);
    sessions[id]->send(command);
    audit("operator", "assign_sent", {{"run", run_id}, {"experiment", experiment}, {"agent", id}});
  }
  return runs[run_id];
}

std::vector<std::string> Orchestrator::State::select_agents(const Json& selector) const {
  std::vector<std::string> ids;
  for (const auto& [id, agent] : agents) {
    if (agent.value("revoked", false) || !sessions.contains(id)) continue;
    const Json& labels = agent["labels"];
    bool match = true;
    for (const auto& [k, v] : selector.items()) {
      match = match && labels.contains(k) && labels[k] == v;
    }
    if (match) ids.push_back(id);
  }
  if (ids.empty()) {
    throw ApiFailure{409, "no_agents", "no connected agent has the labels " + selector.dump()};
  }
  return ids;
}

void Orchestrator::State::send_abort(const std::string& run_id, const std::string& agent_id,
                                     const std::string& why) {
  auto session = sessions.find(agent_id);
  if (session == sessions.end()) return;  // told when it connects again (abort_pending)
  session->second->send(sign_command(
      make_message(
          MessageType::kAbort,
          {{"run", run_id}, {"agent", agent_id}, {"reason", why}, {"issued_at", now_seconds()}}),
      key));
  audit("orchestrator", "abort_sent", {{"run", run_id}, {"agent", agent_id}, {"reason", why}});
}

Json Orchestrator::State::abort_experiment(const std::string& experiment,
                                           const std::string& reason) {
  if (!experiments.contains(experiment)) {
    throw ApiFailure{404, "not_found", "no experiment " + experiment};
  }
  Json aborted = Json::array();
  for (auto& [run_id, run] : runs) {
    if (run["experiment"] != experiment || run["state"] != "running") continue;
    for (auto& [agent, part] : run["agents"].items()) {
      if (part_finished(part)) continue;
      part["state"] = "aborted";
      part["error"] = reason;
      part["abort_pending"] = true;
      save_part(run_id, agent);
      send_abort(run_id, agent, reason);
    }
    settle_run(run_id);
    events.publish(run_id, "run_aborted", {{"run", run_id}, {"reason", reason}});
    aborted.push_back(run_id);
  }
  audit("operator", "experiment_aborted", {{"experiment", experiment}, {"runs", aborted}});
  return {{"aborted_runs", aborted}};
}

std::string Orchestrator::State::enrolled_agent(std::string_view pem, std::string* refusal) {
  std::string id;
  try {
    id = Ed25519Key::from_public_pem(pem).fingerprint();
  } catch (const Error&) {
    *refusal = "bad_key";
    return {};
  }
  auto it = agents.find(id);
  if (it == agents.end()) {
    *refusal = "unknown_key";
    return {};
  }
  if (it->second.value("revoked", false)) {
    *refusal = "revoked";
    return {};
  }
  return id;
}

void Orchestrator::State::on_authenticated(const std::shared_ptr<AgentConnection>& session) {
  const std::string& id = session->agent_id();
  std::erase(pending, session);
  if (auto old = sessions.find(id); old != sessions.end() && old->second != session) {
    auto previous = old->second;
    sessions.erase(old);
    previous->close();  // the agent reconnected: the newer connection wins
  }
  sessions[id] = session;
  Json& agent = agents[id];
  agent["labels"] = session->labels();
  agent["capabilities"] = session->capabilities();
  agent["last_seen"] = utc_timestamp_now();
  save("agent", id);
  audit(id, "agent_connected", {{"labels", session->labels()}});
  session->send(
      make_message(MessageType::kWelcome, {{"agent_id", id},
                                           {"token", issue_agent_token(id)},
                                           {"orchestrator_key", key.public_pem()},
                                           {"heartbeat_ms", options.heartbeat_interval.count()}}));
  // Runs it was part of when the orchestrator stopped or the run was aborted while it was away.
  for (auto& [run_id, run] : runs) {
    if (run["agents"].contains(id) && run["agents"][id].value("abort_pending", false)) {
      send_abort(run_id, id, run["agents"][id].value("error", std::string("aborted")));
    }
  }
}

void Orchestrator::State::on_message(const std::shared_ptr<AgentConnection>& session,
                                     const Message& message) {
  const std::string& id = session->agent_id();
  agents[id]["last_seen"] = utc_timestamp_now();
  switch (message.type) {
    case MessageType::kHeartbeat:
      // A fresh token with every answer: tokens stay short-lived without a refresh protocol.
      session->send(make_message(MessageType::kHeartbeatAck,
                                 {{"seq", message.body["seq"]}, {"token", issue_agent_token(id)}}));
      return;
    case MessageType::kProgress: return on_progress(id, message.body);
    case MessageType::kResult: return on_result(id, message.body);
    case MessageType::kRevertDone: return on_revert_done(id, message.body);
    case MessageType::kError: return on_agent_error(id, message.body);
    default: return;
  }
}

void Orchestrator::State::on_progress(const std::string& agent_id, const Json& body) {
  Json* part = run_part(body["run"].get<std::string>(), agent_id);
  if (part == nullptr) {
    return on_refusal(agent_id, "unknown_run", "progress for a run it is not part of");
  }
  if ((*part)["state"] == "assigned") (*part)["state"] = "running";
  Json event = body;
  event.erase("token");
  event.erase("type");
  event["received_at"] = utc_timestamp_now();
  event["agent"] = agent_id;
  events.publish(body["run"].get<std::string>(), "progress", event);
  Json& progress = (*part)["progress"];
  progress.push_back(std::move(event));
  if (progress.size() > kProgressEventsMax) progress.erase(progress.begin());
  save_part(body["run"].get<std::string>(), agent_id);
}

void Orchestrator::State::on_result(const std::string& agent_id, const Json& body) {
  const std::string run_id = body["run"].get<std::string>();
  Json* part = run_part(run_id, agent_id);
  if (part == nullptr)
    return on_refusal(agent_id, "unknown_run", "result for a run it is not part of");
  const std::string state = body["state"].get<std::string>();
  if (state != "done" && state != "failed" && state != "aborted") {
    return on_refusal(agent_id, "malformed", "result state must be done, failed or aborted");
  }
  (*part)["steps"] = body["steps"];
  // An aborted part stays aborted whatever the agent concluded before it heard of the abort.
  if ((*part)["state"] != "aborted") (*part)["state"] = state;
  if (body.contains("error")) (*part)["error"] = body["error"];
  save_part(run_id, agent_id);
  settle_run(run_id);
  audit(agent_id, "result", {{"run", run_id}, {"state", state}});
  events.publish(run_id, "result",
                 {{"run", run_id},
                  {"agent", agent_id},
                  {"state", state},
                  {"run_state", runs[run_id]["state"]},
                  {"steps", body["steps"]}});
}

void Orchestrator::State::on_revert_done(const std::string& agent_id, const Json& body) {
  const std::string run_id = body["run"].get<std::string>();
  Json* part = run_part(run_id, agent_id);
  if (part == nullptr) return on_refusal(agent_id, "unknown_run", "revert_done for another run");
  (*part)["abort_pending"] = false;
  (*part)["reverted"] = body["reverted"];
  if (!part_finished(*part)) (*part)["state"] = "aborted";
  save_part(run_id, agent_id);
  settle_run(run_id);
  audit(agent_id, "revert_done", {{"run", run_id}, {"reverted", body["reverted"]}});
  events.publish(run_id, "revert_done",
                 {{"run", run_id}, {"agent", agent_id}, {"reverted", body["reverted"]}});
}

void Orchestrator::State::on_agent_error(const std::string& agent_id, const Json& body) {
  audit(agent_id, "agent_refused",
        {{"code", body["code"]}, {"message", body["message"]}, {"run", body.value("run", Json())}});
  if (!body.contains("run") || !body["run"].is_string()) return;
  const std::string run_id = body["run"].get<std::string>();
  Json* part = run_part(run_id, agent_id);
  if (part == nullptr || part_finished(*part)) return;
  (*part)["state"] = "failed";
  (*part)["error"] = body["code"].get<std::string>() + ": " + body["message"].get<std::string>();
  save_part(run_id, agent_id);
  settle_run(run_id);
}

void Orchestrator::State::accept_upgrade(std::shared_ptr<common::UpgradedConnection> connection) {
  if (sessions.size() + pending.size() >= options.connections_max) {
    ++refusals["too_many_connections"];
    // Answered in plain HTTP: the upgrade was not accepted.
    auto response = std::make_shared<boost::beast::http::response<boost::beast::http::string_body>>(
        boost::beast::http::status::too_many_requests, 11);
    response->set(boost::beast::http::field::content_type, "application/json");
    response->set(boost::beast::http::field::retry_after, "5");
    response->body() =
        R"({"error":"too_many_connections","message":"agent connections are at their limit"})";
    response->prepare_payload();
    std::visit(
        [response, connection](auto& stream) {
          boost::beast::http::async_write(
              stream, *response, [response, connection](boost::beast::error_code, size_t) {});
        },
        connection->stream);
    return;
  }
  auto session = std::make_shared<AgentSession>(std::move(connection), *this);
  pending.push_back(session);
  session->start();
}

void Orchestrator::State::on_closed(const std::shared_ptr<AgentConnection>& session) {
  std::erase(pending, session);
  std::erase_if(poll_sessions, [&](const auto& p) { return p.second == session; });
  auto it = sessions.find(session->agent_id());
  if (it != sessions.end() && it->second == session) {
    sessions.erase(it);
    audit(session->agent_id(), "agent_disconnected", Json::object());
  }
}

void Orchestrator::State::close_all() {
  events.close_all();
  std::vector<std::shared_ptr<AgentConnection>> all(pending.begin(), pending.end());
  for (auto& [id, session] : sessions) all.push_back(session);
  for (auto& session : all) session->close();
}

}  // namespace bombarder
