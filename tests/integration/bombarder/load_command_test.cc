// flood, burst, mixed, storm (with chaos) and verify, as the built bombarder runs them against a
// cluster it started itself (issue 4 "Proof"). Each test has its own $STRESS_TEST_DATA.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "bombarder_harness.h"

namespace integration {
namespace {

// The JSON document a --json command printed (the whole output), or a discarded value.
Json json_of(const RunResult& run) { return Json::parse(run.output, nullptr, false); }

// Lines of output, for one-line error checks.
size_t line_count(const std::string& text) {
  size_t n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) n += line.empty() ? 0 : 1;
  return n;
}

class LoadCommandTest : public ::testing::Test {
 protected:
  void start_cluster() {
    base_port_ = BombarderEnv::free_port_range(3);
    const RunResult start =
        env_.run({"cluster", "start", "--port", std::to_string(base_port_), "--nodes", "3",
                  "--tick-ms", "20", "--election-ticks", "10", "--heartbeat-ticks", "1"});
    ASSERT_EQ(exit_code(start), 0) << start.output;
  }
  std::string nodes_flag() const {
    return std::to_string(base_port_) + "," + std::to_string(base_port_ + 1) + "," +
           std::to_string(base_port_ + 2);
  }
  // PIDs of the recorded nodes, in node order.
  std::vector<pid_t> recorded_pids() const {
    std::ifstream in(env_.root() / "cluster.json");
    const Json record = Json::parse(in, nullptr, false);
    std::vector<pid_t> pids;
    if (record.is_object()) {
      for (const Json& node : record["nodes"]) pids.push_back(node.value("pid", 0));
    }
    return pids;
  }

  BombarderEnv env_;
  uint16_t base_port_ = 0;
};

TEST_F(LoadCommandTest, FloodThenVerifyFindsEveryAcknowledgedWriteOnEveryNode) {
  start_cluster();
  const RunResult flood = env_.run({"flood", "--count", "300", "--concurrency", "10", "--json"});
  ASSERT_EQ(exit_code(flood), 0) << flood.output;
  const Json summary = json_of(flood);
  ASSERT_TRUE(summary.is_object()) << flood.output;
  EXPECT_EQ(summary["requests"], 300);
  EXPECT_EQ(summary["succeeded"], 300);
  EXPECT_EQ(summary["acked_ids"], 300);
  EXPECT_EQ(summary["operations"]["create"]["latency"]["count"], 300);
  EXPECT_GT(summary["throughput_rps"].get<double>(), 0.0);

  const RunResult verify = env_.run({"verify", "--deep", "--json"});
  ASSERT_EQ(exit_code(verify), 0) << verify.output;
  const Json report = json_of(verify);
  ASSERT_TRUE(report.is_object()) << verify.output;
  EXPECT_TRUE(report["hashes_match"].get<bool>());
  EXPECT_EQ(report["deep"]["differences"], 0);
  ASSERT_EQ(report["acked"]["nodes"].size(), 3u) << verify.output;
  for (const auto& [address, check] : report["acked"]["nodes"].items()) {
    EXPECT_EQ(check["checked"], 300) << address;
    EXPECT_TRUE(check["ok"].get<bool>()) << address;
  }
}

TEST_F(LoadCommandTest, StormWithChaosKeepsFullSuccessAndLosesNoAcknowledgedWrite) {
  start_cluster();
  const RunResult storm = env_.run({"storm", "--chaos", "--kill-interval", "2", "--downtime", "0.5",
                                    "--duration", "7", "--concurrency", "16", "--json"},
                                   std::chrono::seconds(90));
  ASSERT_EQ(exit_code(storm), 0) << storm.output;
  const Json summary = json_of(storm);
  ASSERT_TRUE(summary.is_object()) << storm.output;
  EXPECT_EQ(summary["failed"], 0) << storm.output;
  EXPECT_EQ(summary["success_pct"], 100.0);
  size_t kills = 0, restarts = 0;
  for (const Json& event : summary["chaos"]) {
    const std::string action = event["action"];
    kills += (action == "sigkill" || action == "sigterm") ? 1 : 0;
    restarts += action == "restart" ? 1 : 0;
  }
  EXPECT_GE(kills, 2u) << storm.output;
  EXPECT_EQ(restarts, kills) << storm.output;
  for (size_t op = 0; op < 4; ++op) {
    const char* name = std::array{"create", "read", "update", "delete"}[op];
    EXPECT_GT(summary["operations"][name]["succeeded"].get<uint64_t>(), 0u) << name;
  }

  // The restarted nodes are recorded with their new PIDs, all alive.
  for (pid_t pid : recorded_pids()) EXPECT_EQ(::kill(pid, 0), 0) << pid;

  const RunResult verify = env_.run({"verify", "--json"}, std::chrono::seconds(90));
  ASSERT_EQ(exit_code(verify), 0) << verify.output;
  const Json report = json_of(verify);
  EXPECT_GT(report["acked"]["acknowledged_ids"].get<uint64_t>(), 0u);
  for (const auto& [address, check] : report["acked"]["nodes"].items()) {
    EXPECT_TRUE(check["ok"].get<bool>()) << address << " " << check.dump();
  }
}

TEST_F(LoadCommandTest, VerifyFailsWhenAnAcknowledgedWriteIsGone) {
  start_cluster();
  const RunResult flood = env_.run({"flood", "--count", "20", "--json"});
  ASSERT_EQ(exit_code(flood), 0) << flood.output;
  // Delete one acknowledged entry behind the run's back: verify must call it missing.
  const std::string run_id = json_of(flood)["run_id"];
  std::ifstream acked(env_.root() / "runs" / run_id / "acked.jsonl");
  std::string first;
  ASSERT_TRUE(std::getline(acked, first));
  const std::string id = Json::parse(first)["id"];
  ASSERT_EQ(http_request(base_port_, "DELETE", "/api/kv/" + id).status, 204);

  const RunResult verify = env_.run({"verify", "--json"});
  EXPECT_EQ(exit_code(verify), 1) << verify.output;
  const Json report = json_of(verify);
  ASSERT_TRUE(report.is_object()) << verify.output;
  EXPECT_TRUE(report["hashes_match"].get<bool>()) << "the delete replicated everywhere";
  for (const auto& [address, check] : report["acked"]["nodes"].items()) {
    EXPECT_EQ(check["missing"], 1) << address;
    EXPECT_FALSE(check["ok"].get<bool>());
  }
  const RunResult human = env_.run({"verify"});
  EXPECT_NE(human.output.find("acknowledged, absent"), std::string::npos) << human.output;
  EXPECT_NE(human.output.find("verify: FAIL"), std::string::npos) << human.output;
}

TEST_F(LoadCommandTest, BurstMixedAndCsv) {
  start_cluster();
  const RunResult burst =
      env_.run({"burst", "--size", "20", "--bursts", "3", "--pause", "50", "--json"});
  ASSERT_EQ(exit_code(burst), 0) << burst.output;
  EXPECT_EQ(json_of(burst)["succeeded"], 60);

  const std::string csv = (env_.root() / "mixed.csv").string();
  const RunResult mixed = env_.run({"mixed", "--count", "200", "--csv", csv});
  ASSERT_EQ(exit_code(mixed), 0) << mixed.output;
  EXPECT_NE(mixed.output.find("result      PASS"), std::string::npos) << mixed.output;
  std::ifstream in(csv);
  size_t rows = 0;
  for (std::string line; std::getline(in, line);) ++rows;
  EXPECT_EQ(rows, 201u) << "a header and one row per request";

  const RunResult verify = env_.run({"verify", "--deep"});
  EXPECT_EQ(exit_code(verify), 0) << verify.output;
}

TEST_F(LoadCommandTest, SuccessBelowMinSuccessExitsOne) {
  start_cluster();
  // Two of three nodes down: no quorum, every write fails at its deadline.
  const std::vector<pid_t> pids = recorded_pids();
  ASSERT_EQ(pids.size(), 3u);
  ::kill(pids[1], SIGKILL);
  ::kill(pids[2], SIGKILL);
  const RunResult storm = env_.run({"storm", "--nodes", std::to_string(base_port_), "--count", "5",
                                    "--read-pct", "0", "--deadline", "1", "--json"});
  EXPECT_EQ(exit_code(storm), 1) << storm.output;
  const Json summary = json_of(storm);
  ASSERT_TRUE(summary.is_object()) << storm.output;
  EXPECT_EQ(summary["succeeded"], 0);
  EXPECT_FALSE(summary["passed"].get<bool>());
  const RunResult lenient =
      env_.run({"storm", "--nodes", std::to_string(base_port_), "--count", "2", "--read-pct", "0",
                "--deadline", "1", "--min-success", "0", "--json"});
  EXPECT_EQ(exit_code(lenient), 0) << lenient.output;
}

TEST(LoadCommandBadInput, EachGetsOneLineAndANonZeroExit) {
  BombarderEnv env;
  const uint16_t nobody = BombarderEnv::free_port_range(1);
  const std::string dead = "127.0.0.1:" + std::to_string(nobody);
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"flood", "--count", "abc"}, 2, "--count"},
      {{"flood", "--bogus"}, 2, "bogus"},
      {{"flood", "--nodes", "http://x:notaport"}, 2, "notaport"},
      {{"flood", "--nodes", "https://127.0.0.1:8080"}, 2, "https"},
      {{"flood", "--count", "5", "--duration", "1"}, 2, "excludes"},
      {{"storm", "--read-pct", "150"}, 2, "--read-pct"},
      {{"storm", "--kill-signal", "nope"}, 2, "--kill-signal"},
      {{"storm", "--nodes", dead, "--chaos"}, 3, "cluster start"},
      {{"flood", "--nodes", dead}, 3, "no node answers"},
      {{"storm", "--nodes", dead}, 3, "no node answers"},
      {{"verify", "--nodes", dead}, 3, "no node answers"},
      {{"flood", "--nodes", dead, "--timeout", "-1"}, 2, "--timeout"},
  };
  for (const Case& c : cases) {
    const RunResult run = env.run(c.args);
    std::string joined;
    for (const auto& a : c.args) joined += a + " ";
    EXPECT_EQ(exit_code(run), c.code) << joined << "\n" << run.output;
    EXPECT_EQ(line_count(run.output), 1u) << joined << "\n" << run.output;
    EXPECT_NE(run.output.find("bombarder: error: "), std::string::npos) << joined << run.output;
    EXPECT_NE(run.output.find(c.says), std::string::npos) << joined << "\n" << run.output;
  }
}

}  // namespace
}  // namespace integration
