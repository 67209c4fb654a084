// A blocking client of the stress_node HTTP API for the control commands (cluster status,
// verify, watch, chaos): one background I/O thread driving a common::HttpClientPool, calls that
// wait for their answer. The load generators do not use it; they drive the pool asynchronously
// (load_engine.h).
//
// Leader discovery (design.md §4: "the leader is discovered, never assumed to be node 0"): ask
// every given node for /status; the leader is the node that says it leads in the highest term,
// or else the address the reachable nodes name as leader.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/asio.h"
#include "common/endpoint.h"
#include "common/http_client.h"

namespace bombarder {

using Json = nlohmann::json;
using namespace std::chrono_literals;

// One HTTP answer of a node or the proxy API as ApiClient got it. (Named apart from
// proxy::ApiResult, the proxy server's own answer, and stress_node's NodeStatus.)
struct ApiResponse {
  int status = 0;     // 0: no HTTP answer; see `error`
  std::string error;  // transport error text when status == 0
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  [[nodiscard]] bool ok() const { return status >= 200 && status < 300; }
  // The parsed body, or a discarded value when it is not JSON.
  [[nodiscard]] Json json() const;
  // "503 no_leader: ..." or "no answer: Connection refused": for one-line messages.
  [[nodiscard]] std::string describe() const;
};

class ApiClient {
 public:
  // kNodes: stress_node traffic, over TLS when node_tls.h says so. kPlain: always HTTP (the
  // fault proxy's REST API).
  enum class Transport : uint8_t { kNodes, kPlain };
  // Throws Error when node TLS is configured with unusable files (node_tls.h).
  explicit ApiClient(Transport transport = Transport::kNodes);
  ~ApiClient();
  ApiClient(const ApiClient&) = delete;
  ApiClient& operator=(const ApiClient&) = delete;

  // Thread-safe; blocks until the answer or `timeout`.
  // `headers` are added to the request (e.g. admin_auth_headers() for admin routes).
  [[nodiscard]] ApiResponse call(const common::Endpoint& node, boost::beast::http::verb method,
                                 const std::string& target, const std::string& body = {},
                                 std::chrono::milliseconds timeout = 2s,
                                 std::vector<std::pair<std::string, std::string>> headers = {});
  [[nodiscard]] ApiResponse get(const common::Endpoint& node, const std::string& target,
                                std::chrono::milliseconds timeout = 2s) {
    return call(node, boost::beast::http::verb::get, target, {}, timeout);
  }
  // GET that must answer 200 with a JSON object; nullopt otherwise (`*why` says what happened).
  [[nodiscard]] std::optional<Json> get_json(const common::Endpoint& node,
                                             const std::string& target,
                                             std::chrono::milliseconds timeout = 2s,
                                             std::string* why = nullptr);
  // The same request on several nodes at once; results in the order of `nodes`.
  [[nodiscard]] std::vector<ApiResponse> call_all(const std::vector<common::Endpoint>& nodes,
                                                  boost::beast::http::verb method,
                                                  const std::string& target,
                                                  const std::string& body,
                                                  std::chrono::milliseconds timeout = 2s);
  // The same GET on several nodes at once; results in the order of `nodes`.
  [[nodiscard]] std::vector<ApiResponse> get_all(const std::vector<common::Endpoint>& nodes,
                                                 const std::string& target,
                                                 std::chrono::milliseconds timeout = 2s);

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  common::HttpClientPool pool_;
  std::thread thread_;
};

// One node's GET /status as the tools read it (not stress_node's NodeStatus, the node's own
// state that /status is written from).
struct StatusResponse {
  uint64_t node_id = 0;
  std::string address;
  std::string role;
  uint64_t term = 0;
  std::optional<uint64_t> leader_id;
  std::string leader;  // "host:port" or "" when unknown
  uint64_t commit_index = 0;
  uint64_t applied_index = 0;
  uint64_t last_index = 0;
  uint64_t entry_count = 0;
  // Both absent for a moment after the node starts, while its first hash is computed (null in
  // /status).
  std::string state_hash;
  std::optional<uint64_t> state_hash_index;  // the applied index the hash describes
  uint64_t snapshot_index = 0;
  uint64_t uptime_s = 0;
  std::vector<std::string> members;  // every member's "host:port"

  // Throws nlohmann::json::exception when a field is missing or ill-typed.
  [[nodiscard]] static StatusResponse from_json(const Json& body);
};

// What a round of /status over the given nodes found.
struct ClusterView {
  struct Node {
    common::Endpoint endpoint;
    std::optional<StatusResponse> status;  // nullopt: unreachable or not a stress_node
    std::string error;                     // why status is missing
  };
  std::vector<Node> nodes;
  std::optional<size_t> leader;  // index into `nodes` of the node leading in the highest term
  std::string leader_address;    // the leader's "host:port", also when it is not in `nodes`

  [[nodiscard]] size_t reachable() const;
};

[[nodiscard]] ClusterView survey(ApiClient& client, const std::vector<common::Endpoint>& nodes,
                                 std::chrono::milliseconds timeout = 2s);

// Polls survey() until a leader is known or `timeout` passes.
[[nodiscard]] ClusterView wait_for_leader(ApiClient& client,
                                          const std::vector<common::Endpoint>& nodes,
                                          std::chrono::milliseconds timeout);

}  // namespace bombarder
