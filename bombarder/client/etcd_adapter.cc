#include "bombarder/client/etcd_adapter.h"

#include <openssl/evp.h>

#include "bombarder/client/http_wire.h"

namespace bombarder {

namespace http = boost::beast::http;

std::string base64_encode(std::string_view bytes) {
  // EVP_EncodeBlock writes a terminating NUL after the 4 * ceil(n / 3) characters.
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(std::max(n, 0)));
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(3 * (text.size() / 4), '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the bytes the padding stands for as zeros.
  size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') {
    ++padding;
  }
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

namespace {

std::string txn_body(const std::string& key64, const char* result, const std::string& put_value64,
                     bool range_on_failure) {
  std::string body = "{\"compare\":[{\"key\":\"" + key64 +
                     "\",\"target\":\"CREATE\",\"result\":\"" + result +
                     "\",\"create_revision\":\"0\"}],\"success\":[{\"request_put\":{" +
                     "\"key\":\"" + key64 + "\",\"value\":\"" + put_value64 + "\"}}]";
  if (range_on_failure) body += ",\"failure\":[{\"request_range\":{\"key\":\"" + key64 + "\"}}]";
  return body + "}";
}

StoreAnswer answer_of(AnswerClass answer, std::string problem) {
  StoreAnswer a;
  a.answer = answer;
  a.problem = std::move(problem);
  return a;
}

// The decoded key/value pairs of a range answer ("kvs" is left out when nothing matched).
// nullopt when the answer is not one.
std::optional<std::vector<ListedEntry>> kvs_of(const Json& range) {
  std::vector<ListedEntry> out;
  if (!range.is_object()) return std::nullopt;
  if (!range.contains("kvs")) return out;
  if (!range["kvs"].is_array()) return std::nullopt;
  for (const Json& kv : range["kvs"]) {
    if (!kv.is_object() || !kv.contains("key") || !kv["key"].is_string()) return std::nullopt;
    auto key = base64_decode(kv["key"].get<std::string>());
    // An empty value is left out, like every default.
    auto value = base64_decode(kv.value("value", std::string()));
    if (!key || !value) return std::nullopt;
    out.push_back({*key, *key, std::move(*value)});
  }
  return out;
}

StoreAnswer create_answer(const StoreRequest& r, const Json& body) {
  StoreAnswer a;
  if (body.value("succeeded", false)) {
    a.id = std::string(r.key);
    return a;
  }
  // The failure branch ranged the key: who holds it?
  const Json* range = nullptr;
  if (body.contains("responses") && body["responses"].is_array() && !body["responses"].empty() &&
      body["responses"][0].is_object() && body["responses"][0].contains("response_range")) {
    range = &body["responses"][0]["response_range"];
  }
  const auto kvs = range != nullptr ? kvs_of(*range) : std::nullopt;
  if (!kvs) return answer_of(AnswerClass::kBadResponse, "create's txn failed without its range");
  if (r.maybe_applied && !kvs->empty() && kvs->front().value == r.value) {
    a.id = std::string(r.key);  // an earlier attempt of this create was applied
    return a;
  }
  return answer_of(AnswerClass::kExists, "create: key " + std::string(r.key) + " exists");
}

StoreAnswer success_answer(const StoreRequest& r, const Json& body) {
  if (!body.is_object()) return answer_of(AnswerClass::kBadResponse, "answer is not JSON");
  switch (r.kind) {
    case OpKind::kCreate: return create_answer(r, body);
    case OpKind::kUpdate:
      if (body.value("succeeded", false)) return {};
      return answer_of(AnswerClass::kAbsent, "update: key " + std::string(r.id) + " absent");
    case OpKind::kDelete: {
      const Json& deleted = body.contains("deleted") ? body["deleted"] : Json("0");
      if (deleted.is_string() && deleted.get<std::string>() != "0") return {};
      if (r.maybe_applied) {
        return answer_of(AnswerClass::kOutcomeUnknown,
                         "delete found key " + std::string(r.id) +
                             " absent after an attempt that may have deleted it");
      }
      return answer_of(AnswerClass::kAbsent, "delete: key " + std::string(r.id) + " absent");
    }
    case OpKind::kRead:
    case OpKind::kList: break;
  }
  auto kvs = kvs_of(body);
  if (!kvs) return answer_of(AnswerClass::kBadResponse, "range answered without valid kvs");
  StoreAnswer a;
  if (r.kind == OpKind::kList) {
    a.listed = std::move(*kvs);
    return a;
  }
  if (kvs->empty())
    return answer_of(AnswerClass::kAbsent, "read: key " + std::string(r.id) + " absent");
  a.value = std::move(kvs->front().value);
  return a;
}

bool is_write(OpKind kind) { return kind != OpKind::kRead && kind != OpKind::kList; }

}  // namespace

void EtcdAdapter::format_request(const StoreRequest& r, std::string_view host,
                                 std::string& wire) const {
  const std::string key64 =
      base64_encode(r.kind == OpKind::kCreate || r.kind == OpKind::kList ? r.key : r.id);
  const std::string serializable = options_.serializable_reads ? ",\"serializable\":true" : "";
  switch (r.kind) {
    case OpKind::kCreate:
      append_http_request(wire, "POST", "/v3/kv/txn", host, {},
                          txn_body(key64, "EQUAL", base64_encode(r.value), true));
      break;
    case OpKind::kUpdate:
      append_http_request(wire, "POST", "/v3/kv/txn", host, {},
                          txn_body(key64, "GREATER", base64_encode(r.value), false));
      break;
    case OpKind::kRead:
      append_http_request(wire, "POST", "/v3/kv/range", host, {},
                          "{\"key\":\"" + key64 + "\"" + serializable + "}");
      break;
    case OpKind::kDelete:
      append_http_request(wire, "POST", "/v3/kv/deleterange", host, {},
                          "{\"key\":\"" + key64 + "\"}");
      break;
    case OpKind::kList:
      append_http_request(wire, "POST", "/v3/kv/range", host, {},
                          "{\"key\":\"" + key64 + "\",\"limit\":\"" + std::to_string(r.limit) +
                              "\"" + serializable + "}");
      break;
  }
}

StoreAnswer EtcdAdapter::classify(const StoreRequest& r, int status,
                                  const std::string& body) const {
  const Json parsed = Json::parse(body, nullptr, false);
  if (status >= 200 && status < 300) return success_answer(r, parsed);
  std::string problem = std::to_string(status) + " ";
  if (parsed.is_object() && parsed.contains("message") && parsed["message"].is_string()) {
    problem += parsed["message"].get<std::string>();
  } else {
    problem += body.substr(0, 80);
  }
  if (status == 429) return answer_of(AnswerClass::kUnavailable, std::move(problem));
  if (status >= 500 || status == 408) {
    return answer_of(is_write(r.kind) ? AnswerClass::kMaybeApplied : AnswerClass::kUnavailable,
                     std::move(problem));
  }
  return answer_of(AnswerClass::kClientError, std::move(problem));
}

StatusResponse EtcdAdapter::status_from(const common::Endpoint& node, const Json& status,
                                        const Json& members) {
  StatusResponse s;
  const std::string self = status.at("header").at("member_id").get<std::string>();
  const std::string leader = status.value("leader", std::string("0"));
  s.address = node.to_string();
  s.term = std::stoull(status.value("raftTerm", std::string("0")));
  s.commit_index = std::stoull(status.value("raftIndex", std::string("0")));
  s.applied_index = std::stoull(status.value("raftAppliedIndex", std::string("0")));
  s.last_index = s.commit_index;
  s.role = leader == self ? "leader" : "follower";
  // Node ids as the cluster record numbers members: "node-N" is N, else the member's position.
  const Json& list = members.at("members");
  for (size_t i = 0; i < list.size(); ++i) {
    const Json& m = list[i];
    const std::string id = m.at("ID").get<std::string>();
    const std::string name = m.value("name", std::string());
    const uint64_t node_id = name.rfind("node-", 0) == 0 ? std::stoull(name.substr(5)) : i;
    std::string url = m.contains("clientURLs") && !m["clientURLs"].empty()
                          ? m["clientURLs"][0].get<std::string>()
                          : std::string();
    if (const size_t scheme = url.find("://"); scheme != std::string::npos) {
      url = url.substr(scheme + 3);
    }
    s.members.push_back(url);
    if (id == leader) {
      s.leader = url;
      s.leader_id = node_id;
    }
    if (id == self) s.node_id = node_id;
  }
  return s;
}

std::vector<NodeStatusAnswer> EtcdAdapter::node_statuses(ApiClient& client,
                                                         const std::vector<common::Endpoint>& nodes,
                                                         std::chrono::milliseconds timeout) const {
  const auto statuses =
      client.call_all(nodes, http::verb::post, "/v3/maintenance/status", "{}", timeout);
  const auto members =
      client.call_all(nodes, http::verb::post, "/v3/cluster/member/list", "{}", timeout);
  std::vector<NodeStatusAnswer> out(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    const ApiResponse& bad = statuses[i].status != 200 ? statuses[i] : members[i];
    if (bad.status != 200) {
      out[i].error = bad.describe();
      continue;
    }
    try {
      out[i].status = status_from(nodes[i], statuses[i].json(), members[i].json());
    } catch (const std::exception& e) {
      out[i].error = std::string("not an etcd member's status answer: ") + e.what();
    }
  }
  return out;
}

}  // namespace bombarder
