// `bombarder scenario` (issue 6 "Scenarios") on a real proxied cluster with short phases: one
// scenario per family, each ending with a verdict (phases, recovery, breakers, leader, history,
// replicas); and its bad input.
#include <gtest/gtest.h>

#include "bombarder_harness.h"

namespace integration {
namespace {

constexpr size_t kNodes = 3;

Json json_of(const RunResult& run) { return Json::parse(run.output, nullptr, false); }

// The JSON verdict after the progress lines ("[name] phase", on stderr, which the harness merges).
Json verdict_of(const RunResult& run) {
  const size_t at = run.output.find("\n{");
  return Json::parse(at == std::string::npos ? run.output : run.output.substr(at + 1), nullptr,
                     false);
}

class ScenarioCommandTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const uint16_t base = BombarderEnv::free_port_range(2 * kNodes + kNodes * (kNodes - 1) + 1);
    const RunResult start =
        env_.run({"cluster", "start", "--proxied", "--port", std::to_string(base), "--nodes",
                  std::to_string(kNodes), "--tick-ms", "20", "--election-ticks", "10",
                  "--heartbeat-ticks", "1", "--commit-timeout-ms", "1000"});
    ASSERT_EQ(exit_code(start), 0) << start.output;
  }

  // Runs a scenario with short phases (3 s, 4 s, 8 s); its JSON verdict.
  Json run_scenario(const std::string& name) {
    const RunResult run = env_.run({"scenario", "run", name, "--stabilization", "3", "--testing",
                                    "4", "--recovery", "8", "--concurrency", "8", "--json"},
                                   std::chrono::seconds(90));
    const Json verdict = verdict_of(run);
    EXPECT_TRUE(verdict.is_object()) << run.output;
    if (!verdict.is_object()) return Json::object();
    EXPECT_EQ(exit_code(run), verdict.value("passed", false) ? 0 : 1) << run.output;
    return verdict;
  }

  static void expect_sound(const Json& v) {
    ASSERT_EQ(v["phases"].size(), 3u) << v.dump(2);
    EXPECT_EQ(v["phases"][0]["phase"], "stabilization");
    EXPECT_EQ(v["phases"][1]["phase"], "testing");
    EXPECT_EQ(v["phases"][2]["phase"], "recovery");
    EXPECT_GT(v["phases"][0]["ok"].get<uint64_t>(), 0u) << v.dump(2);
    // The baseline is clean (a request or two may fail around a leader change).
    EXPECT_LT(v["phases"][0]["error_pct"].get<double>(), 1.0) << v.dump(2);
    EXPECT_EQ(v["linearizability"], "linearizable") << v.dump(2);
    EXPECT_TRUE(v["replicas_ok"].get<bool>()) << v.dump(2);
    EXPECT_EQ(v["breakers"].size(), kNodes);
    // Whether the load got back to the baseline within 8 s is a performance judgment: on a
    // loaded 2-core machine a slow second can deny it (CI saw it twice). The verdict must be
    // consistent with what it found (recovery itself: unit ScenarioStats.*).
    const bool recovered = !v["recovery_s"].is_null();
    bool says_not_recovered = false;
    for (const Json& p : v["problems"]) {
      says_not_recovered |= p.get<std::string>() == "the load did not get back to the baseline";
    }
    EXPECT_EQ(says_not_recovered, !recovered) << v.dump(2);
    EXPECT_EQ(v["passed"].get<bool>(), v["problems"].empty()) << v.dump(2);
    // Every problem other than a slow recovery is a failure of the system under test.
    EXPECT_EQ(v["problems"].size(), recovered ? 0u : 1u) << v.dump(2);
  }

  BombarderEnv env_;
};

TEST_F(ScenarioCommandTest, OneScenarioPerFamilyEndsWithAVerdict) {
  // packet loss: the node hit drops all its traffic; its breaker opens, the load goes elsewhere.
  const Json loss = run_scenario("single-server-packet-loss-100pct");
  expect_sound(loss);
  uint64_t opened = 0;
  for (const Json& b : loss["breakers"]) opened += b["opened"].get<uint64_t>();
  EXPECT_GT(opened, 0u) << loss.dump(2);

  // latency: +250 ms on one follower's connections shows in the testing phase's p99.
  const Json latency = run_scenario("single-server-latency-250ms");
  expect_sound(latency);
  EXPECT_GT(latency["phases"][1]["p99_ms"].get<double>(), 200.0) << latency.dump(2);

  // multi-failure: both followers lose everything: no quorum, so (almost) nothing succeeds
  // while it lasts (requests then fail at their 5 s deadline, in the recovery phase).
  const Json multi = run_scenario("multi-failure-2-servers-packet-loss");
  expect_sound(multi);
  EXPECT_LT(multi["phases"][1]["throughput_rps"].get<double>(),
            0.2 * multi["phases"][0]["throughput_rps"].get<double>())
      << multi.dump(2);

  // partition: the leader's links cut; the others elect a new leader.
  const Json partition = run_scenario("partition-isolate-leader");
  expect_sound(partition);
  EXPECT_GE(partition["leader_changes"].get<uint64_t>(), 1u) << partition.dump(2);
  EXPECT_NE(partition["leader_after"], partition["leader_before"]) << partition.dump(2);
}

TEST_F(ScenarioCommandTest, BadInputIsAOneLineError) {
  const RunResult unknown = env_.run({"scenario", "run", "no-such-scenario"});
  EXPECT_EQ(exit_code(unknown), 2) << unknown.output;
  EXPECT_NE(unknown.output.find("unknown scenario 'no-such-scenario'"), std::string::npos)
      << unknown.output;
  const RunResult short_phase =
      env_.run({"scenario", "run", "partition-flapping-link", "--testing", "1"});
  EXPECT_EQ(exit_code(short_phase), 2) << short_phase.output;
  const RunResult no_name = env_.run({"scenario", "run"});
  EXPECT_EQ(exit_code(no_name), 2) << no_name.output;
  const RunResult list = env_.run({"scenario", "list", "--json"});
  ASSERT_EQ(exit_code(list), 0) << list.output;
  EXPECT_EQ(json_of(list).size(), 17u) << list.output;
}

TEST(ScenarioCommandNoCluster, WithoutAProxiedClusterItSaysHowToStartOne) {
  BombarderEnv env;
  const RunResult run = env.run({"scenario", "run", "partition-isolate-leader", "--stabilization",
                                 "3", "--testing", "3", "--recovery", "3"});
  EXPECT_EQ(exit_code(run), 3) << run.output;
  EXPECT_NE(run.output.find("cluster start --proxied"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace integration
