// An in-process fake of stress_node's KV API for the load engine's tests (load_engine_test.cc,
// load_metrics_test.cc): entries by id, answers replayed by Idempotency-Key, and knobs for the
// faults the tests script.
#pragma once

#include <chrono>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "../../common/test_http_server.h"
#include "bombarder/load/load_engine.h"

namespace bombarder::test {

using common::test::json_response;
using common::test::Request;
using common::test::Response;
using common::test::TestHttpServer;
using Json = nlohmann::json;
namespace http = boost::beast::http;

// The KV API in miniature: entries by id, answers replayed by Idempotency-Key, and knobs for
// the faults. Runs on the TestHttpServer's one thread; the test reads it after the run.
class FakeKv {
 public:
  // The next N writes are applied but answered 504 (the client cannot know they were applied).
  int apply_then_504 = 0;
  // Every request is answered 503 with this leader hint (empty: no hint) when set.
  bool always_503 = false;
  std::string leader_hint;
  // Every write is answered 504 without being applied.
  bool always_504 = false;
  // Reads answer this value instead of the stored one when set (a stale replica).
  std::optional<std::string> stale_value;
  // Updates and deletes answer 404 as if the entry had vanished.
  bool lose_entries = false;

  std::map<std::string, std::string> entries;  // id -> value
  std::map<std::string, std::string> keys;     // id -> key (kept after a delete)
  size_t writes_applied = 0;
  size_t keyed_replays = 0;

  std::optional<Response> handle(const Request& request) {
    if (always_503) {
      Json body = {{"error", "no_leader"}, {"message", "no leader"}};
      if (!leader_hint.empty()) body["leader"] = leader_hint;
      return json_response(http::status::service_unavailable, body);
    }
    const std::string key(request["Idempotency-Key"]);
    if (!key.empty()) {
      if (auto it = replies_.find(key); it != replies_.end()) {
        ++keyed_replays;
        return it->second;
      }
    }
    const bool write = request.method() != http::verb::get;
    if (write && always_504)
      return json_response(http::status::gateway_timeout, {{"error", "commit_timeout"}});
    std::optional<Response> answer = apply(request);
    if (!answer) return answer;
    if (write && !key.empty()) replies_[key] = *answer;
    if (write && apply_then_504 > 0) {
      --apply_then_504;
      return json_response(http::status::gateway_timeout, {{"error", "commit_timeout"}});
    }
    return answer;
  }

 private:
  std::optional<Response> apply(const Request& request) {
    const std::string target(request.target());
    if (request.method() == http::verb::post && target == "/api/kv") {
      const Json body = Json::parse(request.body());
      char id[40];
      std::snprintf(id, sizeof id, "00000000-0000-4000-8000-%012zx", ++next_id_);
      entries[id] = body.at("value");
      keys[id] = body.at("key");
      ++writes_applied;
      return json_response(http::status::created,
                           {{"id", id}, {"key", body.at("key")}, {"value", body.at("value")}});
    }
    if (target.starts_with("/api/kv?key=") && request.method() == http::verb::get) {
      // A key lookup: /api/kv?key=K&limit=N, the entries of key K in id order.
      const std::string key = target.substr(12, target.find('&') - 12);
      Json listed = Json::array();
      for (const auto& [id, value] : entries) {
        if (keys[id] == key) listed.push_back({{"id", id}, {"key", key}, {"value", value}});
      }
      return json_response(http::status::ok, listed);
    }
    if (!target.starts_with("/api/kv/"))
      return json_response(http::status::not_found, {{"error", "x"}});
    const std::string id = target.substr(8);
    auto it = entries.find(id);
    if (it == entries.end() || (lose_entries && request.method() != http::verb::get)) {
      return json_response(http::status::not_found, {{"error", "not_found"}});
    }
    switch (request.method()) {
      case http::verb::get:
        return json_response(http::status::ok,
                             {{"id", id}, {"value", stale_value.value_or(it->second)}});
      case http::verb::put:
        it->second = Json::parse(request.body()).at("value");
        ++writes_applied;
        return json_response(http::status::ok, {{"id", id}, {"value", it->second}});
      case http::verb::delete_:
        entries.erase(it);
        ++writes_applied;
        return json_response(http::status::no_content, nullptr);
      default: return json_response(http::status::method_not_allowed, {{"error", "x"}});
    }
  }

  std::map<std::string, Response> replies_;
  size_t next_id_ = 0;
};

struct FakeServer {
  FakeKv kv;
  TestHttpServer server{[this](const Request& r) { return kv.handle(r); }};
};

inline LoadSpec spec_for(std::vector<common::Endpoint> nodes, uint64_t count) {
  LoadSpec spec;
  spec.nodes = std::move(nodes);
  spec.count = count;
  spec.concurrency = 8;
  spec.idempotency_prefix = "test-";
  spec.attempt_timeout = std::chrono::seconds(2);
  spec.deadline = std::chrono::seconds(5);
  return spec;
}

}  // namespace bombarder::test
