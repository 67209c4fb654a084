#include "bombarder/client/api_client.h"

#include <algorithm>
#include <future>
#include <map>

#include "bombarder/client/node_tls.h"
#include "bombarder/client/store_adapter.h"

namespace bombarder {

namespace http = boost::beast::http;

Json ApiResponse::json() const { return Json::parse(body, nullptr, false); }

std::string ApiResponse::describe() const {
  if (status == 0) return "no answer: " + error;
  std::string text = std::to_string(status);
  const Json parsed = json();
  if (parsed.is_object() && parsed.contains("error")) {
    text += " " + parsed["error"].dump();
    if (parsed.contains("message") && parsed["message"].is_string()) {
      text += ": " + parsed["message"].get<std::string>();
    }
  } else if (!body.empty()) {
    text += " " + body.substr(0, 120);
  }
  return text;
}

ApiClient::ApiClient(Transport transport)
    : work_(io_.get_executor()),
      pool_(io_, 4, 10000, 64 << 20, transport == Transport::kNodes ? node_tls_context() : nullptr),
      thread_([this] { io_.run(); }) {}

ApiClient::~ApiClient() {
  pool_.close();
  work_.reset();
  thread_.join();
}

namespace {

void start_call(common::HttpClientPool& pool, const common::Endpoint& node, http::verb method,
                const std::string& target, const std::string& body,
                std::chrono::milliseconds timeout, std::promise<ApiResponse>& promise,
                std::vector<std::pair<std::string, std::string>> headers = {}) {
  common::HttpRequest request;
  request.method = method;
  request.target = target;
  request.body = body;
  request.headers = std::move(headers);
  pool.request(node, std::move(request), timeout,
               [&promise](boost::system::error_code ec, common::HttpResponse response) {
                 ApiResponse result;
                 if (ec) {
                   result.error = ec.message();
                 } else {
                   result.status = response.status;
                   result.body = std::move(response.body);
                   result.headers = std::move(response.headers);
                 }
                 promise.set_value(std::move(result));
               });
}

}  // namespace

ApiResponse ApiClient::call(const common::Endpoint& node, http::verb method,
                            const std::string& target, const std::string& body,
                            std::chrono::milliseconds timeout,
                            std::vector<std::pair<std::string, std::string>> headers) {
  std::promise<ApiResponse> promise;
  auto future = promise.get_future();
  start_call(pool_, node, method, target, body, timeout, promise, std::move(headers));
  return future.get();
}

std::vector<ApiResponse> ApiClient::call_all(const std::vector<common::Endpoint>& nodes,
                                             http::verb method, const std::string& target,
                                             const std::string& body,
                                             std::chrono::milliseconds timeout) {
  std::vector<std::promise<ApiResponse>> promises(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    start_call(pool_, nodes[i], method, target, body, timeout, promises[i]);
  }
  std::vector<ApiResponse> results;
  results.reserve(nodes.size());
  for (auto& promise : promises) results.push_back(promise.get_future().get());
  return results;
}

std::vector<ApiResponse> ApiClient::get_all(const std::vector<common::Endpoint>& nodes,
                                            const std::string& target,
                                            std::chrono::milliseconds timeout) {
  return call_all(nodes, http::verb::get, target, {}, timeout);
}

std::optional<Json> ApiClient::get_json(const common::Endpoint& node, const std::string& target,
                                        std::chrono::milliseconds timeout, std::string* why) {
  const ApiResponse result = get(node, target, timeout);
  if (result.status != 200) {
    if (why != nullptr) *why = result.describe();
    return std::nullopt;
  }
  Json body = result.json();
  if (!body.is_object()) {
    if (why != nullptr) *why = "answer is not a JSON object";
    return std::nullopt;
  }
  return body;
}

StatusResponse StatusResponse::from_json(const Json& body) {
  StatusResponse s;
  s.node_id = body.at("node_id").get<uint64_t>();
  s.address = body.value("address", "");
  s.role = body.at("role").get<std::string>();
  s.term = body.at("term").get<uint64_t>();
  if (body.contains("leader_id") && !body["leader_id"].is_null()) {
    s.leader_id = body["leader_id"].get<uint64_t>();
  }
  if (body.contains("leader") && body["leader"].is_string()) {
    s.leader = body["leader"].get<std::string>();
  }
  s.commit_index = body.at("commit_index").get<uint64_t>();
  s.applied_index = body.at("applied_index").get<uint64_t>();
  s.last_index = body.value("last_index", uint64_t{0});
  s.entry_count = body.at("entry_count").get<uint64_t>();
  if (const Json& hash = body.at("state_hash"); !hash.is_null()) {
    s.state_hash = hash.get<std::string>();
    s.state_hash_index = body.value("state_hash_index", uint64_t{0});
  }
  s.snapshot_index = body.value("snapshot_index", uint64_t{0});
  s.uptime_s = body.value("uptime_s", uint64_t{0});
  if (body.contains("members") && body["members"].is_array()) {
    for (const Json& member : body["members"]) s.members.push_back(member.at("address"));
  }
  return s;
}

size_t ClusterView::reachable() const {
  size_t n = 0;
  for (const Node& node : nodes) n += node.status ? 1 : 0;
  return n;
}

ClusterView survey(ApiClient& client, const std::vector<common::Endpoint>& nodes,
                   std::chrono::milliseconds timeout) {
  return survey(stress_node_adapter(), client, nodes, timeout);
}

ClusterView wait_for_leader(ApiClient& client, const std::vector<common::Endpoint>& nodes,
                            std::chrono::milliseconds timeout) {
  return wait_for_leader(stress_node_adapter(), client, nodes, timeout);
}

}  // namespace bombarder
