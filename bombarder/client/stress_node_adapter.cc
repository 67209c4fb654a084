#include "bombarder/client/stress_node_adapter.h"

#include "bombarder/client/http_wire.h"

namespace bombarder {

namespace {

// The canonical UUID after "id":" in a create's answer, or "" (the node always puts it first,
// but a full parse is the fallback).
std::string entry_id_of(const std::string& body) {
  constexpr std::string_view kField = "\"id\":\"";
  const size_t at = body.find(kField);
  if (at != std::string::npos && body.size() >= at + kField.size() + 36 &&
      body[at + kField.size() + 36] == '"') {
    return body.substr(at + kField.size(), 36);
  }
  const Json parsed = Json::parse(body, nullptr, false);
  if (parsed.is_object() && parsed.contains("id") && parsed["id"].is_string()) {
    return parsed["id"].get<std::string>();
  }
  return {};
}

// "error: message" of a node's JSON error body, else the body's start.
std::string error_code_of(const std::string& body) {
  const Json parsed = Json::parse(body, nullptr, false);
  if (parsed.is_object() && parsed.contains("error") && parsed["error"].is_string()) {
    std::string text = parsed["error"].get<std::string>();
    if (parsed.contains("message") && parsed["message"].is_string()) {
      text += ": " + parsed["message"].get<std::string>();
    }
    return text;
  }
  return body.substr(0, 80);
}

// A 503 names the leader ("host:port") when the node knows it.
std::string leader_hint_of(const std::string& body) {
  const Json parsed = Json::parse(body, nullptr, false);
  if (!parsed.is_object() || !parsed.contains("leader") || !parsed["leader"].is_string()) {
    return {};
  }
  return parsed["leader"].get<std::string>();
}

StoreAnswer bad_response(std::string problem) {
  StoreAnswer a;
  a.answer = AnswerClass::kBadResponse;
  a.problem = std::move(problem);
  return a;
}

// A key lookup's answer: a JSON array of entries, each with id, key and value.
StoreAnswer list_answer(const std::string& body) {
  const Json entries = Json::parse(body, nullptr, false);
  if (!entries.is_array()) return bad_response("list answered without a JSON array");
  StoreAnswer a;
  a.listed.reserve(entries.size());
  for (const Json& entry : entries) {
    if (!entry.is_object() || !entry.contains("id") || !entry["id"].is_string() ||
        !entry.contains("key") || !entry["key"].is_string() || !entry.contains("value") ||
        !entry["value"].is_string()) {
      return bad_response("list answered an entry without id, key and value");
    }
    a.listed.push_back({entry["id"].get<std::string>(), entry["key"].get<std::string>(),
                        entry["value"].get<std::string>()});
  }
  return a;
}

StoreAnswer success_answer(const StoreRequest& request, const std::string& body) {
  StoreAnswer a;
  switch (request.kind) {
    case OpKind::kCreate:
      a.id = entry_id_of(body);
      if (a.id.empty()) return bad_response("create answered without an id");
      break;
    case OpKind::kRead: {
      const Json entry = Json::parse(body, nullptr, false);
      if (!entry.is_object() || !entry.contains("value") || !entry["value"].is_string()) {
        return bad_response("read answered without a value");
      }
      a.value = entry["value"].get<std::string>();
      break;
    }
    case OpKind::kUpdate:
    case OpKind::kDelete: break;
    case OpKind::kList: return list_answer(body);
  }
  return a;
}

}  // namespace

void StressNodeAdapter::format_request(const StoreRequest& r, std::string_view host,
                                       std::string& wire) const {
  std::string extra_header;
  if (!r.idempotency_key.empty()) {
    extra_header.append("Idempotency-Key: ").append(r.idempotency_key).append("\r\n");
  }
  const std::string by_id = "/api/kv/" + std::string(r.id);
  switch (r.kind) {
    case OpKind::kCreate:
      append_http_request(
          wire, "POST", "/api/kv", host, extra_header,
          "{\"key\":\"" + std::string(r.key) + "\",\"value\":\"" + std::string(r.value) + "\"}");
      break;
    case OpKind::kRead: append_http_request(wire, "GET", by_id, host, extra_header, {}); break;
    case OpKind::kUpdate:
      append_http_request(wire, "PUT", by_id, host, extra_header,
                          "{\"value\":\"" + std::string(r.value) + "\"}");
      break;
    case OpKind::kDelete: append_http_request(wire, "DELETE", by_id, host, extra_header, {}); break;
    case OpKind::kList:
      append_http_request(wire, "GET",
                          "/api/kv?key=" + std::string(r.key) + "&limit=" + std::to_string(r.limit),
                          host, extra_header, {});
      break;
  }
}

StoreAnswer StressNodeAdapter::classify(const StoreRequest& request, int status,
                                        const std::string& body) const {
  if (status >= 200 && status < 300) return success_answer(request, body);
  StoreAnswer a;
  a.problem = std::to_string(status) + " " + error_code_of(body);
  if (status == 503) {
    a.answer = AnswerClass::kUnavailable;
    a.leader_hint = leader_hint_of(body);
  } else if (status == 504) {
    a.answer = AnswerClass::kMaybeApplied;
  } else if (status == 404 && request.kind != OpKind::kCreate) {
    a.answer = AnswerClass::kAbsent;
  } else if (status >= 400 && status < 500) {
    a.answer = AnswerClass::kClientError;
  } else {
    a.answer = AnswerClass::kServerError;
  }
  return a;
}

std::vector<NodeStatusAnswer> StressNodeAdapter::node_statuses(
    ApiClient& client, const std::vector<common::Endpoint>& nodes,
    std::chrono::milliseconds timeout) const {
  const std::vector<ApiResponse> answers = client.get_all(nodes, "/status", timeout);
  std::vector<NodeStatusAnswer> out(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (answers[i].status != 200) {
      out[i].error = answers[i].describe();
      continue;
    }
    try {
      out[i].status = StatusResponse::from_json(answers[i].json());
    } catch (const std::exception& e) {
      out[i].error = std::string("not a stress_node /status answer: ") + e.what();
    }
  }
  return out;
}

}  // namespace bombarder
