// The scenario module's pure parts (scenario.h): the catalog, which proxies each scenario
// changes, per-phase statistics and the recovery time.
#include "bombarder/faults/network_scenario.h"

#include <gtest/gtest.h>

#include <set>

#include "bombarder/base/errors.h"

namespace bombarder {
namespace {

TEST(ScenarioCatalog, HasTheReferencesFourteenAndThePartitions) {
  std::map<std::string, size_t> families;
  std::set<std::string> names;
  for (const ScenarioSpec& s : scenario_catalog()) {
    ++families[s.family];
    EXPECT_TRUE(names.insert(s.name).second) << s.name;
    EXPECT_FALSE(s.description.empty()) << s.name;
  }
  EXPECT_EQ(families["packet-loss"], 6u);
  EXPECT_EQ(families["latency"], 6u);
  EXPECT_EQ(families["multi-failure"], 2u);
  EXPECT_EQ(families["partition"], 3u);
  ASSERT_NE(find_scenario("multi-failure-2-servers-packet-loss"), nullptr);
  EXPECT_EQ(find_scenario("no-such-scenario"), nullptr);
}

TEST(ScenarioFaults, SingleServerPacketLossHitsEveryConnectionOfOneFollower) {
  const ScenarioSpec& s = *find_scenario("single-server-packet-loss-25pct");
  // Leader 1: the first follower is node 0.
  const std::vector<FaultAction> actions = fault_actions(s, {0, 1, 2}, 1);
  std::set<std::pair<std::string, std::string>> hit;  // (proxy, stream)
  for (const FaultAction& a : actions) {
    EXPECT_FALSE(a.disable);
    EXPECT_EQ(a.toxic["type"], "packet_loss");
    EXPECT_DOUBLE_EQ(a.toxic["attributes"]["probability"].get<double>(), 0.25);
    hit.emplace(a.proxy, a.toxic["stream"]);
  }
  std::set<std::pair<std::string, std::string>> expected;
  for (const char* proxy :
       {"node0-client", "link-1-to-0", "link-0-to-1", "link-2-to-0", "link-0-to-2"}) {
    expected.emplace(proxy, "upstream");
    expected.emplace(proxy, "downstream");
  }
  EXPECT_EQ(hit, expected);
}

TEST(ScenarioFaults, LatencyIsAddedOncePerRoundTrip) {
  const std::vector<FaultAction> actions =
      fault_actions(*find_scenario("single-server-latency-250ms"), {0, 1, 2}, 0);
  ASSERT_EQ(actions.size(), 5u);  // node 1's client proxy and four links, answers only
  for (const FaultAction& a : actions) {
    EXPECT_EQ(a.toxic["stream"], "downstream");
    EXPECT_EQ(a.toxic["attributes"]["latency"], 250);
  }
}

TEST(ScenarioFaults, MultiFailureHitsBothFollowersNotTheLeader) {
  const std::vector<FaultAction> actions =
      fault_actions(*find_scenario("multi-failure-2-servers-latency"), {0, 1, 2}, 2);
  std::set<std::string> proxies;
  for (const FaultAction& a : actions) proxies.insert(a.proxy);
  EXPECT_TRUE(proxies.contains("node0-client"));
  EXPECT_TRUE(proxies.contains("node1-client"));
  EXPECT_FALSE(proxies.contains("node2-client"));
  // The links between the two followers are hit once, not once per follower.
  std::set<std::pair<std::string, std::string>> unique;
  for (const FaultAction& a : actions) {
    EXPECT_TRUE(unique.emplace(a.proxy, a.toxic["stream"]).second) << a.proxy;
  }
  EXPECT_EQ(proxies.size(), 8u);  // 2 client proxies and every link touching node 0 or 1
  EXPECT_THROW((void)fault_actions(*find_scenario("multi-failure-2-servers-latency"), {0, 1}, 0),
               Error);
}

TEST(ScenarioFaults, PartitionsCutTheLeadersLinksOnly) {
  std::set<std::string> isolate;
  for (const FaultAction& a :
       fault_actions(*find_scenario("partition-isolate-leader"), {0, 1, 2}, 1)) {
    EXPECT_EQ(a.toxic["type"], "timeout");
    EXPECT_EQ(a.toxic["attributes"]["timeout"], 0);
    isolate.insert(a.proxy);
  }
  EXPECT_EQ(isolate,
            (std::set<std::string>{"link-1-to-0", "link-0-to-1", "link-1-to-2", "link-2-to-1"}));
  std::set<std::string> asymmetric;
  for (const FaultAction& a :
       fault_actions(*find_scenario("partition-asymmetric-link"), {0, 1, 2}, 1)) {
    asymmetric.insert(a.proxy);
  }
  EXPECT_EQ(asymmetric, (std::set<std::string>{"link-1-to-0"}));
  const std::vector<FaultAction> flapping =
      fault_actions(*find_scenario("partition-flapping-link"), {0, 1, 2}, 2);
  ASSERT_EQ(flapping.size(), 2u);
  for (const FaultAction& a : flapping) EXPECT_TRUE(a.disable);
  EXPECT_EQ(flapping[0].proxy, "link-2-to-0");
  EXPECT_EQ(flapping[1].proxy, "link-0-to-2");
}

// One operation every `step_ms` from `from_s` to `to_s`, each taking `latency_ms`, with the
// given outcome.
void add_ops(History& h, double from_s, double to_s, int step_ms, int latency_ms,
             Outcome outcome = Outcome::kOk) {
  for (int64_t t = static_cast<int64_t>(from_s * 1e9); t < static_cast<int64_t>(to_s * 1e9);
       t += step_ms * 1'000'000LL) {
    HistoryOp op;
    op.kind = OpKind::kRead;
    op.id = "a";
    op.invoke_ns = t;
    op.complete_ns = t + latency_ms * 1'000'000LL;
    op.outcome = outcome;
    h.ops.push_back(op);
  }
}

TEST(ScenarioStats, PhasesCountWhatCompletedInThem) {
  History h;
  add_ops(h, 0, 10, 10, 2);                      // 1000 ok, 2 ms
  add_ops(h, 10, 19.9, 20, 50, Outcome::kFail);  // 495 failed, all done by 19.93 s
  add_ops(h, 20, 30, 10, 2);
  const auto phases = phase_stats(
      h, {{"stabilization", 0}, {"testing", 10'000'000'000}, {"recovery", 20'000'000'000}},
      30'000'000'000);
  ASSERT_EQ(phases.size(), 3u);
  EXPECT_EQ(phases[0].requests, 1000u);
  EXPECT_DOUBLE_EQ(phases[0].error_pct, 0);
  EXPECT_NEAR(phases[0].throughput_rps, 100, 0.01);
  EXPECT_NEAR(phases[0].p99_ms, 2, 0.01);
  EXPECT_EQ(phases[1].failed, 495u);
  EXPECT_DOUBLE_EQ(phases[1].error_pct, 100);
  EXPECT_EQ(phases[2].ok, 1000u);
  // A request invoked at the end of the baseline that fails in the testing phase counts there.
  History spanning;
  add_ops(spanning, 9.9, 9.95, 50, 3000, Outcome::kUnknown);
  const auto split =
      phase_stats(spanning, {{"stabilization", 0}, {"testing", 10'000'000'000}}, 20'000'000'000);
  EXPECT_EQ(split[0].requests, 0u);
  EXPECT_EQ(split[1].unknown, 1u);
}

TEST(ScenarioStats, RecoveryIsTheStartOfTheLastGoodStretch) {
  History h;
  add_ops(h, 0, 10, 10, 2);
  add_ops(h, 10, 13, 10, 2, Outcome::kFail);  // recovery starts at 10 s, errors until 13 s
  add_ops(h, 13, 20, 10, 2);
  const PhaseStats baseline = phase_stats(h, {{"stabilization", 0}}, 10'000'000'000)[0];
  const auto recovered = recovery_time_s(h, baseline, 10'000'000'000, 20'000'000'000);
  ASSERT_TRUE(recovered.has_value());
  EXPECT_DOUBLE_EQ(*recovered, 3.0);
  // Slow answers (p99 100 ms against a 2 ms baseline) are not the baseline either.
  History slow;
  add_ops(slow, 0, 10, 10, 2);
  add_ops(slow, 10, 20, 10, 100);
  EXPECT_FALSE(recovery_time_s(slow, baseline, 10'000'000'000, 20'000'000'000).has_value());
  // Back to normal only for the last 2 s: fewer than 3 good windows.
  History late;
  add_ops(late, 10, 18, 10, 2, Outcome::kFail);
  add_ops(late, 18, 20, 10, 2);
  EXPECT_FALSE(recovery_time_s(late, baseline, 10'000'000'000, 20'000'000'000).has_value());
  // Three good seconds, then a bad one: recovered at the first of the three.
  History blip;
  add_ops(blip, 10, 11, 10, 2, Outcome::kFail);
  add_ops(blip, 11, 14, 10, 2);
  add_ops(blip, 14, 15, 10, 2, Outcome::kFail);
  add_ops(blip, 15, 20, 10, 2);
  const auto blipped = recovery_time_s(blip, baseline, 10'000'000'000, 20'000'000'000);
  ASSERT_TRUE(blipped.has_value());
  EXPECT_DOUBLE_EQ(*blipped, 1.0);
}

}  // namespace
}  // namespace bombarder
