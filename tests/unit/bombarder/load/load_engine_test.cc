// The load engine against an in-process fake of the KV API whose faults the test scripts:
// retries, idempotency keys, the outcome-unknown rule, leader hints and the consistency checks
// (a lost write shows as not_found, a stale read as wrong_value).
#include "bombarder/load/load_engine.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "fake_kv.h"

namespace bombarder {
namespace {

using test::FakeServer;
using test::spec_for;
using Json = nlohmann::json;
namespace http = boost::beast::http;
using namespace std::chrono_literals;

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

// Redis Sentinel's case (LoadSpec::leader_now): the old primary and a replica both refuse
// without naming the leader; the next requests go where leader_now says, not to the next node.
TEST(LoadEngine, LeaderTargetingGoesWhereLeaderNowSaysWhenANodeRefusesWithoutAHint) {
  FakeServer old_leader;
  FakeServer replica;
  FakeServer leader;
  old_leader.kv.always_503 = true;
  replica.kv.always_503 = true;
  LoadSpec spec = spec_for(
      {old_leader.server.endpoint(), replica.server.endpoint(), leader.server.endpoint()}, 100);
  spec.leader = 0;
  spec.concurrency = 1;
  spec.threads = 1;
  spec.leader_now = [] { return std::optional<size_t>(2); };
  const LoadResult r = run_load(spec);
  EXPECT_EQ(r.succeeded, 100u);
  EXPECT_EQ(leader.kv.entries.size(), 100u);
  EXPECT_EQ(old_leader.server.requests(), 1u);
  EXPECT_EQ(replica.server.requests(), 0u) << "the next node was tried instead of leader_now's";
}

// Without an answer from leader_now the engine walks the nodes as before.
TEST(LoadEngine, LeaderTargetingWalksTheNodesWhenLeaderNowKnowsNothing) {
  FakeServer old_leader;
  FakeServer leader;
  old_leader.kv.always_503 = true;
  LoadSpec spec = spec_for({old_leader.server.endpoint(), leader.server.endpoint()}, 20);
  spec.concurrency = 1;
  spec.threads = 1;
  spec.leader_now = [] { return std::optional<size_t>(); };
  const LoadResult r = run_load(spec);
  EXPECT_EQ(r.succeeded, 20u);
  EXPECT_EQ(leader.kv.entries.size(), 20u);
}

TEST(LoadEngine, ConnectionRefusedIsRetriedOnAnotherNode) {
  FakeServer alive;
  const common::Endpoint dead{"127.0.0.1", common::test::unused_port()};
  LoadSpec spec = spec_for({dead, alive.server.endpoint()}, 100);
  spec.targeting = Targeting::kRandomNode;
  const LoadResult r = run_load(spec);
  EXPECT_EQ(r.succeeded, 100u);
  EXPECT_EQ(alive.kv.entries.size(), 100u);
  EXPECT_GT(r.responses.at(0), 0u) << "some first attempts went to the dead node";
}

TEST(LoadEngine, CircuitBreakerStopsAttemptsToADeadNode) {
  FakeServer alive;
  const common::Endpoint dead{"127.0.0.1", common::test::unused_port()};
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
  const common::Endpoint dead{"127.0.0.1", common::test::unused_port()};
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
