// Fuzz target: the node's HTTP request path without sockets: Beast's request parser with the
// server's limits (common/http_server.h), make_request, the router, and the handlers of
// the KV API (kv_api.h: JSON bodies, ids, queries, Idempotency-Key) and of the raft API
// (raft_api.h: status, metrics, health, sync-status, peer RPC bodies) on a real single-member
// node (RaftNode over a kv::Store in a scratch directory).
//
// Input: the bytes a client sends on one connection: up to kRequestsMax pipelined requests.
// Each parsed request is dispatched and its answer awaited (the io_context runs on this thread,
// the raft thread commits writes) before the next one is parsed.
//
// Oracles: every answer has a valid status and no 500 (a handler that threw or dropped the
// request); every JSON answer parses; every error is {"error": string, "message": string}
// (design.md §4); a created entry is in the state machine when its 201 arrives; no request takes
// longer than kAnswerTimeout (the node bounds its own waits well below it).
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/asio.h"
// (asio.h first: see design.md §6.)
#include "fuzz_support.h"
#include "http_server.h"
#include "kv_api.h"
#include "raft_api.h"

namespace {

namespace http = boost::beast::http;
using json = nlohmann::json;

constexpr size_t kRequestsMax = 4;
constexpr auto kAnswerTimeout = std::chrono::seconds(15);

class NullSender : public stress_node::PeerSender {
 public:
  void send(std::vector<raft::Message>&&) override {}
};

// The node as stress_node's main() wires it, minus the listening socket and the peers.
struct Harness {
  fuzz::ScratchDir dir{"http_request_fuzz"};
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work =
      boost::asio::make_work_guard(io);
  stress_node::Registry metrics;
  stress_node::Router router;
  stress_node::HttpServerOptions server_options;
  NullSender sender;
  std::unique_ptr<stress_node::RaftNode> node;
  std::unique_ptr<common::HttpClientPool> pool;
  std::unique_ptr<stress_node::KvApi> kv_api;
  std::unique_ptr<stress_node::RaftApi> raft_api;

  Harness() {
    spdlog::set_level(spdlog::level::critical);  // handlers log every refusal
    kv::StoreOptions store_options;
    store_options.log.sync = false;  // the disk is not under test
    auto store = kv::Store::open(dir.path(), store_options);
    FUZZ_CHECK(store.is_ok(), store.status().to_string());
    stress_node::RaftNodeConfig config;
    config.id = 0;
    config.voters = {0};
    config.tick_ms = 10;
    config.commit_timeout = std::chrono::milliseconds(3000);
    config.read_timeout = std::chrono::milliseconds(3000);
    node = std::make_unique<stress_node::RaftNode>(config, std::move(store).value(), sender);
    pool = std::make_unique<common::HttpClientPool>(io);
    const std::map<raft::NodeId, common::Endpoint> members = {{0, {"127.0.0.1", 1}}};
    kv_api = std::make_unique<stress_node::KvApi>(
        io, *node, *pool, metrics, stress_node::KvApiOptions{.self_id = 0, .members = members});
    raft_api = std::make_unique<stress_node::RaftApi>(
        io, *node, nullptr, metrics, stress_node::RaftApiOptions{.self_id = 0, .members = members});
    kv_api->register_routes(router);
    raft_api->register_routes(router);
    node->start();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (node->status().core.soft.role != raft::Role::kLeader) {
      FUZZ_CHECK(std::chrono::steady_clock::now() < deadline, "a single member elects itself");
      io.run_one_for(std::chrono::milliseconds(10));
    }
  }

  ~Harness() {
    node->stop(std::chrono::milliseconds(0));
    io.poll();  // completions the stop posted
    pool->close();
    work.reset();
    io.poll();
  }
};

// Parses the next request from *in the way a connection does (header first, then the route's
// body limit, then the body). nullopt when the bytes hold no complete, valid request: the
// server would have answered 400/413/431 or waited for more.
std::optional<http::request<http::string_body>> parse_next(const Harness& harness,
                                                           std::string_view* in) {
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<uint32_t>(harness.server_options.header_limit_bytes));
  parser.body_limit(harness.router.body_limit_max(harness.server_options.body_limit_bytes));
  parser.eager(false);  // stop after the header, as async_read_header does
  boost::beast::error_code ec;
  bool header_checked = false;
  while (!parser.is_done()) {
    if (in->empty()) {
      parser.put_eof(ec);
      if (ec || !parser.is_done()) return std::nullopt;
      break;
    }
    const size_t used = parser.put(boost::asio::buffer(in->data(), in->size()), ec);
    in->remove_prefix(used);
    if (ec == http::error::need_more) {
      if (in->empty()) continue;
      return std::nullopt;
    }
    if (ec) return std::nullopt;
    if (parser.is_header_done() && !header_checked) {
      header_checked = true;
      const auto& header = parser.get();
      const std::string_view target(header.target().data(), header.target().size());
      const size_t limit =
          harness.router.body_limit(header.method(), target.substr(0, target.find('?')),
                                    harness.server_options.body_limit_bytes);
      if (parser.content_length() && *parser.content_length() > limit) return std::nullopt;
      parser.body_limit(limit);
      parser.eager(true);
    }
    if (used == 0 && !parser.is_done()) return std::nullopt;
  }
  return parser.release();
}

void check_answer(const Harness& harness, const stress_node::Request& request,
                  const stress_node::Response& response) {
  const std::string where =
      std::string(request.target) + " -> " + std::to_string(response.status) + " " + response.body;
  FUZZ_CHECK(response.status >= 100 && response.status < 600, where);
  FUZZ_CHECK(response.status != 500, "no handler fails on input: " + where);
  if (response.content_type != "application/json" || response.body.empty()) return;
  const json body = json::parse(response.body, nullptr, false);
  FUZZ_CHECK(!body.is_discarded(), "a JSON answer parses: " + where);
  if (response.status >= 400) {
    FUZZ_CHECK(body.is_object() && body.contains("error") && body["error"].is_string() &&
                   body.contains("message") && body["message"].is_string(),
               "an error is {\"error\", \"message\"}: " + where);
  }
  if (response.status == 201 && request.path == "/api/kv") {
    const auto stored = harness.node->state().get(body.value("id", std::string()));
    FUZZ_CHECK(stored && stored->key == body.value("key", std::string()) &&
                   stored->value == body.value("value", std::string()),
               "a 201 entry is applied when it is answered: " + where);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Harness harness;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (size_t i = 0; i < kRequestsMax && !in.empty(); ++i) {
    auto message = parse_next(harness, &in);
    if (!message) return 0;
    stress_node::Request request =
        stress_node::make_request(std::move(*message), std::chrono::steady_clock::now());
    const stress_node::Request copy = request;
    auto answer = std::make_shared<std::optional<stress_node::Response>>();
    harness.router.dispatch(std::move(request),
                            stress_node::Respond([answer](stress_node::Response response) {
                              *answer = std::move(response);
                            }));
    const auto deadline = std::chrono::steady_clock::now() + kAnswerTimeout;
    while (!answer->has_value()) {
      FUZZ_CHECK(std::chrono::steady_clock::now() < deadline, "no answer to " + copy.target);
      harness.io.run_one_for(std::chrono::milliseconds(10));
    }
    check_answer(harness, copy, **answer);
  }
  return 0;
}
