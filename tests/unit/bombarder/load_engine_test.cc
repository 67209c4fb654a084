// The load engine against an in-process fake of the KV API whose faults the test scripts:
// retries, idempotency keys, the outcome-unknown rule, leader hints and the consistency checks
// (a lost write shows as not_found, a stale read as wrong_value).
#include "load_engine.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "../node/test_http_server.h"

namespace bombarder {
namespace {

using node::test::json_response;
using node::test::Request;
using node::test::Response;
using node::test::TestHttpServer;
using Json = nlohmann::json;
namespace http = boost::beast::http;
using namespace std::chrono_literals;

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

LoadSpec spec_for(std::vector<common::Endpoint> nodes, uint64_t count) {
  LoadSpec spec;
  spec.nodes = std::move(nodes);
  spec.count = count;
  spec.concurrency = 8;
  spec.idempotency_prefix = "test-";
  spec.attempt_timeout = 2s;
  spec.deadline = 5s;
  return spec;
}

TEST(LoadEngine, FloodCountsEveryRequestOnceAndRecordsEachAcknowledgedCreate) {
  FakeServer fake;
  const LoadResult r = run_load(spec_for({fake.server.endpoint()}, 300));
  EXPECT_EQ(r.requests, 300u);
  EXPECT_EQ(r.succeeded, 300u);
  EXPECT_EQ(r.failed, 0u);
  EXPECT_EQ(r.retries, 0u);
  EXPECT_EQ(r.latency.count(), 300u);
  EXPECT_EQ(r.ops[static_cast<size_t>(OpKind::kCreate)].succeeded, 300u);
  ASSERT_EQ(r.acked.size(), 300u);
  EXPECT_EQ(fake.kv.entries.size(), 300u);
  for (const auto& [id, write] : r.acked) {
    ASSERT_TRUE(fake.kv.entries.contains(id)) << id;
    EXPECT_EQ(fake.kv.entries.at(id), write.value);
    EXPECT_FALSE(write.deleted);
  }
  EXPECT_EQ(r.responses.at(201), 300u);
}

TEST(LoadEngine, AWriteAnswered504IsRetriedWithItsKeyAndAppliedOnce) {
  FakeServer fake;
  fake.kv.apply_then_504 = 5;
  const LoadResult r = run_load(spec_for({fake.server.endpoint()}, 50));
  EXPECT_EQ(r.succeeded, 50u);
  EXPECT_EQ(r.retries, 5u);
  EXPECT_EQ(fake.kv.keyed_replays, 5u);
  EXPECT_EQ(fake.kv.entries.size(), 50u) << "a retried write was applied twice";
  EXPECT_EQ(r.responses.at(504), 5u);
}

TEST(LoadEngine, AWriteThatOnlyGets504IsOutcomeUnknownNeverSuccess) {
  FakeServer fake;
  fake.kv.always_504 = true;
  LoadSpec spec = spec_for({fake.server.endpoint()}, 4);
  spec.deadline = 300ms;
  const LoadResult r = run_load(spec);
  EXPECT_EQ(r.succeeded, 0u);
  EXPECT_EQ(r.failed, 4u);
  EXPECT_EQ(r.failures[static_cast<size_t>(FailureKind::kOutcomeUnknown)], 4u);
  EXPECT_EQ(r.creates_unknown, 4u);
  EXPECT_TRUE(r.acked.empty());
  EXPECT_GT(r.retries, 0u);
}

TEST(LoadEngine, Persistent503EndsAsUnavailableAtTheDeadline) {
  FakeServer fake;
  fake.kv.always_503 = true;
  LoadSpec spec = spec_for({fake.server.endpoint()}, 3);
  spec.deadline = 300ms;
  const auto started = std::chrono::steady_clock::now();
  const LoadResult r = run_load(spec);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_EQ(r.failures[static_cast<size_t>(FailureKind::kUnavailable)], 3u);
  EXPECT_EQ(r.failures[static_cast<size_t>(FailureKind::kOutcomeUnknown)], 0u);
  EXPECT_NE(r.failure_examples[static_cast<size_t>(FailureKind::kUnavailable)].find("503"),
            std::string::npos);
}

TEST(LoadEngine, LeaderTargetingFollowsThe503LeaderHint) {
  FakeServer leader;
  FakeServer follower;
  follower.kv.always_503 = true;
  follower.kv.leader_hint = leader.server.endpoint().to_string();
  LoadSpec spec = spec_for({follower.server.endpoint(), leader.server.endpoint()}, 100);
  spec.leader = 0;  // start at the wrong node
  spec.concurrency = 1;
  spec.threads = 1;
  const LoadResult r = run_load(spec);
  EXPECT_EQ(r.succeeded, 100u);
  EXPECT_EQ(leader.kv.entries.size(), 100u);
  EXPECT_EQ(follower.server.requests(), 1u) << "the hint should have been followed at once";
}

TEST(LoadEngine, ConnectionRefusedIsRetriedOnAnotherNode) {
  FakeServer alive;
  const common::Endpoint dead{"127.0.0.1", node::test::unused_port()};
  LoadSpec spec = spec_for({dead, alive.server.endpoint()}, 100);
  spec.targeting = Targeting::kRandomNode;
  const LoadResult r = run_load(spec);
  EXPECT_EQ(r.succeeded, 100u);
  EXPECT_EQ(alive.kv.entries.size(), 100u);
  EXPECT_GT(r.responses.at(0), 0u) << "some first attempts went to the dead node";
}

TEST(LoadEngine, CircuitBreakerStopsAttemptsToADeadNode) {
  FakeServer alive;
  const common::Endpoint dead{"127.0.0.1", node::test::unused_port()};
  LoadSpec spec = spec_for({dead, alive.server.endpoint()}, 400);
  spec.targeting = Targeting::kRandomNode;
  spec.breaker = BreakerOptions{2, 60s};  // no half-open probe within the run
  const LoadResult r = run_load(spec);
  EXPECT_EQ(r.succeeded, 400u);
  // Without breakers about half of the 400 first attempts would go to the dead node; with them,
  // only those sent before the breaker opened: at most one per worker plus the opening two.
  EXPECT_LE(r.responses.at(0), spec.concurrency + 2);
  ASSERT_EQ(r.breakers.size(), 2u);
  EXPECT_EQ(r.breakers[0].node, dead.to_string());
  EXPECT_EQ(r.breakers[0].state, BreakerState::kOpen);
  EXPECT_EQ(r.breakers[0].counters.opened, 1u);
  EXPECT_GT(r.breakers[0].counters.rejected, 0u);
  EXPECT_EQ(r.breakers[1].state, BreakerState::kClosed);
  EXPECT_EQ(r.breakers[1].counters.opened, 0u);
}

TEST(LoadEngine, EveryBreakerOpenEndsAsUnavailableAtTheDeadline) {
  const common::Endpoint dead{"127.0.0.1", node::test::unused_port()};
  LoadSpec spec = spec_for({dead}, 4);
  spec.concurrency = 2;
  spec.deadline = 400ms;
  spec.breaker = BreakerOptions{1, 100ms};
  const LoadResult r = run_load(spec);
  EXPECT_EQ(r.failed, 4u);
  ASSERT_EQ(r.breakers.size(), 1u);
  EXPECT_GE(r.breakers[0].counters.opened, 1u);
  EXPECT_GE(r.breakers[0].counters.half_opened, 1u) << "probes after each cooldown";
  EXPECT_EQ(r.breakers[0].counters.closed, 0u);
}

TEST(OpMix, WithListsTakesItsShareProportionallyFromTheOthers) {
  const OpMix mix = OpMix::mixed().with_lists(10);  // 40/30/20/10 -> 36/27/18/9 and 10 lists
  EXPECT_EQ(mix.weight, (std::array<uint32_t, kOpKindCount>{3600, 2700, 1800, 900, 1000}));
  EXPECT_EQ(OpMix::mixed().with_lists(0).weight[static_cast<size_t>(OpKind::kList)], 0u);
  const OpMix all = OpMix::storm(30).with_lists(100);
  for (size_t k = 0; k + 1 < kOpKindCount; ++k) EXPECT_EQ(all.weight[k], 0u);
}

TEST(LoadEngine, StormMatchesTheServersFinalStateExactly) {
  FakeServer fake;
  LoadSpec spec = spec_for({fake.server.endpoint()}, 2000);
  spec.mix = OpMix::storm(30).with_lists(10);
  spec.targeting = Targeting::kRandomNode;
  spec.concurrency = 16;
  const LoadResult r = run_load(spec);
  EXPECT_EQ(r.succeeded, 2000u);
  for (size_t k = 0; k < kOpKindCount; ++k) {
    EXPECT_GT(r.ops[k].succeeded, 0u) << to_string(static_cast<OpKind>(k));
  }
  size_t live = 0;
  for (const auto& [id, write] : r.acked) {
    if (write.deleted) {
      EXPECT_FALSE(fake.kv.entries.contains(id)) << id;
    } else {
      ++live;
      ASSERT_TRUE(fake.kv.entries.contains(id)) << id;
      EXPECT_EQ(fake.kv.entries.at(id), write.value) << id;
    }
  }
  EXPECT_EQ(live, fake.kv.entries.size());
}

TEST(LoadEngine, AStaleReadIsAWrongValueFailure) {
  FakeServer fake;
  fake.kv.stale_value = "stale";
  LoadSpec spec = spec_for({fake.server.endpoint()}, 400);
  spec.mix = OpMix::storm(50);
  const LoadResult r = run_load(spec);
  const uint64_t reads = r.ops[static_cast<size_t>(OpKind::kRead)].failed;
  EXPECT_GT(reads, 0u);
  EXPECT_EQ(r.failures[static_cast<size_t>(FailureKind::kWrongValue)], reads);
}

TEST(LoadEngine, AVanishedEntryIsANotFoundFailure) {
  FakeServer fake;
  fake.kv.lose_entries = true;
  LoadSpec spec = spec_for({fake.server.endpoint()}, 400);
  spec.mix = OpMix::mixed();
  const LoadResult r = run_load(spec);
  EXPECT_GT(r.failures[static_cast<size_t>(FailureKind::kNotFound)], 0u);
  EXPECT_EQ(r.failures[static_cast<size_t>(FailureKind::kNotFound)],
            r.ops[static_cast<size_t>(OpKind::kUpdate)].failed +
                r.ops[static_cast<size_t>(OpKind::kDelete)].failed);
}

TEST(LoadEngine, DurationModeStopsAndCsvHasOneRowPerRequest) {
  FakeServer fake;
  LoadSpec spec = spec_for({fake.server.endpoint()}, 0);
  spec.duration = 300ms;
  spec.csv_path = ::testing::TempDir() + "load_engine_test.csv";
  const auto started = std::chrono::steady_clock::now();
  const LoadResult r = run_load(spec);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_GT(r.requests, 0u);
  std::ifstream csv(spec.csv_path);
  std::string header;
  std::getline(csv, header);
  EXPECT_EQ(header, "time_unix_s,node,operation,status,latency_ms,attempts,outcome");
  size_t rows = 0;
  for (std::string line; std::getline(csv, line);) {
    ++rows;
    EXPECT_NE(line.find(",create,201,"), std::string::npos) << line;
  }
  EXPECT_EQ(rows, r.requests);
  std::remove(spec.csv_path.c_str());
}

TEST(LoadEngine, StopRequestEndsARunEarlyAndSaysSo) {
  FakeServer fake;
  LoadSpec spec = spec_for({fake.server.endpoint()}, 0);
  spec.duration = 60s;
  spec.stop_requested = [] { return true; };
  const LoadResult r = run_load(spec);
  EXPECT_TRUE(r.interrupted);
  EXPECT_LT(r.elapsed, 10s);
}

}  // namespace
}  // namespace bombarder
